# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The guest, for run-vm.sh (sourced).
#
#   guest_setup  the qemu command line (qemu) and the logs (console,
#                results); with --shell, qemu takes over here (exec)
#   boot_guest   boots the guest and waits for it under the stall
#                watchdog; one that stalls, or whose kernel crashes before
#                the init runs, is booted once more, saying so (RETRY).
#                Sets qrc (qemu's exit status; 124: the whole-VM timeout,
#                125: stalled), retried (where the first boot stalled or
#                crashed, when it did) and retry_why (stalled, crashed)
#
# Two watchdogs look at the guest.  The stall watchdog kills a guest
# whose TAP has been silent for --stall seconds.  The heartbeat watchdog
# presses a key (kick.py) when the guest's heartbeat (init, on ttyS2)
# stops for BEAT_GAP seconds, below the 20 s that the soft-lockup
# detector waits: a wedge of TCG's nested SVM ends at the interrupt, where
# it would otherwise last 8-10 minutes and end in a soft-lockup report.
# Each kick is told (KICK), with how long the heartbeat then took to come
# back, and counted in kicks.
BEAT_GAP=10

guest_setup() {
	local cmdline
	console=$out/console.log
	results=$out/results.tap
	rm -f "$console" "$results"

	# nokaslr: a stalled guest's vCPU addresses read against System.map;
	# sysrq_always_enabled: the stall watchdog's sysrq l and w reach it.
	cmdline="console=ttyS0,115200 panic=-1 oops=panic mitigations=off nokaslr"
	cmdline="$cmdline sysrq_always_enabled"
	cmdline="$cmdline printk.devkmsg=on $append"

	qemu=(qemu-system-x86_64 -machine pc -accel tcg -cpu "$cpu" -smp "$smp"
	      -m "$mem" -nodefaults -display none -no-reboot
	      -kernel "$kernel" -initrd "$out/initramfs.cpio.gz"
	      -append "$cmdline")

	if [ "$shell" = 1 ]; then
		qemu+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$console"
		       -serial chardev:con -mon chardev=con
		       -chardev "file,id=tap,path=$results" -serial chardev:tap)
		echo "run-vm: interactive shell; Ctrl-A X quits qemu"
		exec "${qemu[@]}"
	fi

	if [ "$verbose" = 1 ]; then
		qemu+=(-chardev "stdio,id=con,signal=off,logfile=$console")
	else
		qemu+=(-chardev "file,id=con,path=$console")
	fi
	heartbeat=$out/heartbeat
	qemu+=(-serial chardev:con -chardev "file,id=tap,path=$results"
	       -serial chardev:tap -chardev "file,id=beat,path=$heartbeat"
	       -serial chardev:beat)
	# The human monitor, for the stall watchdog's register dump.  A unix
	# socket's path has at most 107 bytes: a deep OUT gets one in /tmp.
	monsock=$out/monitor.sock
	[ ${#monsock} -le 100 ] || monsock=$(mktemp -u /tmp/umem-monitor.XXXXXX)
	rm -f "$monsock"
	qemu+=(-monitor "unix:$monsock,server=on,wait=off")

	# The kernel's symbols: System.map beside a built tree's bzImage, or
	# Debian's boot/System.map-<release> beside boot/vmlinuz-<release> (in
	# the kernel cache, scripts/kernels.sh).
	sysmap=$(dirname "$kernel")/../../../System.map
	[ -f "$sysmap" ] || sysmap=$(dirname "$kernel")/System.map-$(basename "$kernel" | sed 's/^vmlinuz-//')
	[ -f "$sysmap" ] || sysmap=""

	# A guest whose TAP stays silent for longer than any one test binary
	# may run (its timeout, plus the unload and leak scan) has wedged: the
	# kernel spins where no test timeout can fire.  Only the TAP counts: a
	# wedged kernel may go on printing (RCU stall and soft-lockup reports
	# every minute, seen).  Seen in nested KVM under TCG, both vCPUs
	# looping on the int3 of a static key being patched (kvm-hold.c).  The
	# watchdog kills such a guest at once instead of waiting out --timeout.
	[ -n "$stall" ] || stall=$(( test_timeout + 120 ))
}

# heartbeat_watch NOW: kick the guest when its heartbeat has stopped for
# BEAT_GAP seconds, again every BEAT_GAP seconds it stays stopped; tell
# when it comes back.  Before the first beat (the boot) it only waits.
heartbeat_watch() {
	local now=$1 beats
	beats=$(stat -c %s "$heartbeat")
	if [ "$beats" != "$old_beats" ]; then
		if [ -n "$kicked_at" ]; then
			echo "run-vm: $name: KICK: the heartbeat came back $(( now - kicked_at ))s after the key press"
			kicked_at=""
		fi
		old_beats=$beats
		last_beat=$now
	elif [ "$beats" != 0 ] && [ $(( now - last_beat )) -ge "$BEAT_GAP" ]; then
		kicks=$((kicks + 1))
		echo "run-vm: $name: KICK: no heartbeat for $(( now - last_beat ))s; a key press (kick $kicks)"
		python3 -B "$here/kick.py" "$monsock" ||
			echo "run-vm: $name: KICK: the monitor did not answer"
		kicked_at=${kicked_at:-$now}
		last_beat=$now
	fi
}

# run_guest: boot the guest, wait for it; sets qrc (125: it stalled).
run_guest() {
	local qpid tpid now last_change=0 size old_size=-1
	local old_beats=0 last_beat=0 kicked_at=""
	: > "$results"
	: > "$console"
	: > "$heartbeat"
	timeout -k 10 "$vm_timeout" "${qemu[@]}" < /dev/null &
	qpid=$!
	# A runner killed meanwhile takes its guest along.
	trap 'kill $qpid 2> /dev/null' EXIT
	tpid=
	if [ "$show_tap" = 1 ]; then
		# tail reads what is left once qemu has exited, then stops.
		tail -n +1 -f --pid=$qpid "$results" | "$here/tap-progress.sh" &
		tpid=$!
	fi
	last_change=$(date +%s)
	qrc=
	while kill -0 $qpid 2> /dev/null; do
		sleep 2
		size=$(stat -c %s "$results")
		now=$(date +%s)
		heartbeat_watch "$now"
		if [ "$size" != "$old_size" ]; then
			old_size=$size
			last_change=$now
		elif [ $(( now - last_change )) -ge "$stall" ]; then
			# Where its vCPUs are, then kill it.
			python3 -B "$here/stall-dump.py" "$monsock" "$out/registers.txt" "$sysmap" ||
				echo "run-vm: $name: no register dump (the monitor did not answer)"
			kill $qpid 2> /dev/null
			wait $qpid 2> /dev/null
			qrc=125
			break
		fi
	done
	if [ -z "$qrc" ]; then
		wait $qpid
		qrc=$?
	fi
	[ -n "$tpid" ] && wait $tpid
	trap - EXIT
}

# boot_crashed: the kernel panicked before the init wrote its first line
# (TAP version 13, before any insmod): nothing of umem's had run.  TCG
# hits an int3 of the kernel's own text patching now and then this early
# (Documentation/testing.rst, "Incidents").
boot_crashed() {
	[ "$shell" = 0 ] && ! [ -s "$results" ] &&
		grep -qE 'Kernel panic|Oops:' "$console"
}

boot_guest() {
	local start
	echo "run-vm: $name: booting $(basename "$kernel") (smp $smp, mem $mem, cpu $cpu$([ "$with_qemu" = 1 ] && echo ", with qemu $qver")) with$mods;$tnames"
	start=$(date +%s)
	kicks=0
	run_guest
	retried="" retry_why=""
	# Retry once, and say so: the first attempt's logs are kept, and the
	# summary names the flake.  A second stall or crash fails the run.
	if [ "$qrc" = 125 ]; then
		retried=$(tr -d '\r' < "$results" | awk '/^#  *RUN /{t=$3} /^# umem-runner: begin /{b=$4} END{print (t ? t : b)}')
		retried=${retried:-its boot} retry_why=stalled
		echo "run-vm: $name: RETRY: the guest stalled (no TAP output for ${stall}s) in $retried; logs in $out/stalled; booting it once more"
	elif boot_crashed; then
		retried="its boot" retry_why=crashed
		echo "run-vm: $name: RETRY: the kernel crashed in its boot, before the init ran (umem.ko not loaded): $(grep -m1 -oE '(Kernel panic|Oops:).*' "$console"); logs in $out/crashed; booting it once more"
	fi
	if [ -n "$retry_why" ]; then
		mkdir -p "$out/$retry_why"
		mv "$console" "$results" "$out/$retry_why/"
		[ -f "$out/registers.txt" ] && mv "$out/registers.txt" "$out/$retry_why/"
		start=$(date +%s)
		run_guest
	fi
	rm -f "$monsock"
	echo "run-vm: $name: guest ran $(( $(date +%s) - start ))s (qemu exit $qrc); console: $console"
}
