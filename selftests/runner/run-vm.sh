#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel under qemu (TCG), load modules, run test binaries, and turn
# what comes back into a verdict.  See Documentation/testing.rst.
#
# The verdict is FAIL when any of these happens:
#  - a test reports "not ok", or a test binary exits non-zero or is killed
#    by its timeout;
#  - insmod or rmmod fails, or kmemleak reports a leak;
#  - the kernel log (scanned in the guest, and the console on the host)
#    shows a splat: see splat-patterns;
#  - the guest does not finish (hang, panic, timeout), or no test ran.
#
# The last line printed is "N passed, N failed, N skipped".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/initramfs.sh"

usage() {
	cat <<USAGE
usage: $0 --kernel IMAGE [options]
  --kernel IMAGE       kernel to boot (bzImage / vmlinuz)
  --module KO          module to insmod before the tests (repeatable, in order;
                       .ko.xz and .ko.zst are decompressed)
  --test BIN           test binary to run in the guest (repeatable)
  --file PATH          extra file for /tests, not run itself (repeatable)
  --filter ERE         run only the test binaries whose name matches ERE
  --env NAME=VALUE     put NAME in the tests' environment (repeatable)
  --smp N              vCPUs (default 2)
  --mem SIZE           guest memory (default 2G)
  --cpu MODEL          qemu CPU model (default max: exposes SVM for nested KVM)
  --append ARGS        extra kernel command line
  --test-timeout S     per test binary timeout (default 300)
  --timeout S          whole-VM timeout (default 1200)
  --stall S            a guest silent (no console, no TAP) this long has
                       wedged: kill it and boot once more, saying so
                       (default: the per-binary timeout + 120)
  --out DIR            logs and initramfs go here (default build/vm)
  --name NAME          name of this run in messages (default tests)
  --verbose            copy the guest console to stdout
  --show-tap           stream the guest's TAP while it runs (umemd's progress
                       as a bar in place on a terminal), then the verdict
  --shell              boot to an interactive shell instead of running tests
  --qemu               carry the host's qemu-system-x86_64 into the guest
                       (/usr/bin), with its shared libraries, the dynamic
                       loader and the firmware: for tests that run real
                       L2 guests under nested KVM
  --qemu-root DIR      with --qemu: carry DIR's QEMU instead (its
                       usr/bin/qemu-system-x86_64 and usr/share firmware,
                       scripts/qemu-fetch.sh), with the host's libraries
USAGE
	exit 2
}

kernel="" modules=() tests=() files=() envs=() filter="" show_tap=0 smp=2 mem=2G cpu=max append=""
test_timeout=300 vm_timeout=1200 stall="" out=build/vm name=tests verbose=0 shell=0
with_qemu=0 qroot=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift ;;
	--module) modules+=("$2"); shift ;;
	--test) tests+=("$2"); shift ;;
	--file) files+=("$2"); shift ;;
	--filter) filter=$2; shift ;;
	--env) envs+=("$2"); shift ;;
	--smp) smp=$2; shift ;;
	--mem) mem=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--append) append=$2; shift ;;
	--test-timeout) test_timeout=$2; shift ;;
	--timeout) vm_timeout=$2; shift ;;
	--stall) stall=$2; shift ;;
	--out) out=$2; shift ;;
	--name) name=$2; shift ;;
	--verbose) verbose=1 ;;
	--show-tap) show_tap=1 ;;
	--shell) shell=1 ;;
	--qemu) with_qemu=1 ;;
	--qemu-root) qroot=$2; [ -n "$2" ] || usage; shift ;;
	*) usage ;;
	esac
	shift
done

die() {
	echo "run-vm: $*" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}

[ -n "$kernel" ] || usage
[ -r "$kernel" ] || die "kernel image $kernel not readable"
busybox=$(command -v busybox || echo /bin/busybox)
case "$(ldd "$busybox" 2>&1)" in
*"not a dynamic"*) ;;
*)
	die "$busybox is not static (apt-get install busybox-static)" ;;
esac
command -v qemu-system-x86_64 > /dev/null ||
	die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"

# Select the tests.
selected=()
for t in "${tests[@]}"; do
	[ -x "$t" ] || die "test binary $t missing"
	if [ -z "$filter" ] || basename "$t" | grep -qE -- "$filter"; then
		selected+=("$t")
	fi
done
if [ "$shell" = 0 ] && [ ${#selected[@]} = 0 ]; then
	die "no test binary selected (filter '$filter')"
fi

# Build the initramfs (initramfs.sh).
mkdir -p "$out"
out=$(cd "$out" && pwd)
build_initramfs

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
qemu+=(-serial chardev:con -chardev "file,id=tap,path=$results"
       -serial chardev:tap)
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

# stall_dump FILE: where a wedged guest's vCPUs are (stall-dump.py), its
# registers into FILE.
stall_dump() {
	python3 "$here/stall-dump.py" "$monsock" "$1" "$sysmap" ||
		echo "run-vm: $name: no register dump (the monitor did not answer)"
}

# A guest whose TAP stays silent for longer than any one test binary may
# run (its timeout, plus the unload and leak scan) has wedged: the kernel
# spins where no test timeout can fire.  Only the TAP counts: a wedged
# kernel may go on printing (RCU stall and soft-lockup reports every
# minute, seen).  Seen in nested KVM under TCG, both vCPUs looping on the
# int3 of a static key being patched (kvm-hold.c).  The watchdog kills
# such a guest at once instead of waiting out --timeout.
[ -n "$stall" ] || stall=$(( test_timeout + 120 ))

# run_guest: boot the guest, wait for it; sets qrc (125: it stalled).
run_guest() {
	local qpid tpid now last_change=0 size old_size=-1
	: > "$results"
	: > "$console"
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
		sleep 5
		size=$(stat -c %s "$results")
		now=$(date +%s)
		if [ "$size" != "$old_size" ]; then
			old_size=$size
			last_change=$now
		elif [ $(( now - last_change )) -ge $stall ]; then
			stall_dump "$out/registers.txt"
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

echo "run-vm: $name: booting $(basename "$kernel") (smp $smp, mem $mem, cpu $cpu$([ "$with_qemu" = 1 ] && echo ", with qemu $qver")) with$mods;$tnames"
start=$(date +%s)
run_guest
retried=""
if [ "$qrc" = 125 ]; then
	# Retry once, and say so: the first attempt's logs are kept, and the
	# summary names the flake.  A second stall fails the run.
	retried=$(tr -d '\r' < "$results" | awk '/^#  *RUN /{t=$3} /^# umem-runner: begin /{b=$4} END{print (t ? t : b)}')
	mkdir -p "$out/stalled"
	mv "$console" "$results" "$out/stalled/"
	[ -f "$out/registers.txt" ] && mv "$out/registers.txt" "$out/stalled/"
	echo "run-vm: $name: RETRY: the guest stalled (no TAP output for ${stall}s) in ${retried:-its boot}; logs in $out/stalled; booting it once more"
	start=$(date +%s)
	run_guest
fi
rm -f "$monsock"
echo "run-vm: $name: guest ran $(( $(date +%s) - start ))s (qemu exit $qrc); console: $console"

# Turn the TAP stream into results (tap-summary.awk).
touch "$results"
report=$(tr -d '\r' < "$results" | awk -v qrc="$qrc" -v timeout="$vm_timeout" \
	-v stall="$stall" -f "$here/tap-summary.awk")

echo "$report" | grep -v '^#counts'
read -r _ passed failed skipped < <(echo "$report" | grep '^#counts')

# The host scans the whole console as well (console-scan.sh): it sees
# panics and anything printed after the guest's own scan.
if "$here/console-scan.sh" "$console" "$out"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

if [ "$failed" != 0 ] && [ "$verbose" = 0 ]; then
	echo "---- last lines of $console ----"
	tail -n 30 "$console"
	echo "----"
fi
if [ -n "$retried" ]; then
	echo "FLAKE runner.guest-stalled: the first boot stalled in $retried (logs: $out/stalled); the results above are the second boot's"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
