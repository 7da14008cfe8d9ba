#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Real L2 guests under Debian's QEMU in the test VM (nested KVM).  Sourced
# after netns.sh by the demo and the qemu tests; busybox only, plus the
# qmp helper.  The runner carries QEMU in with --qemu.
#
#   l2_start NAME NS MEMPATH [QEMU ARGS]   start a QEMU in the background,
#                      on host NS (on_src or on_dst), guest RAM in MEMPATH
#   l2_boot NAME NS MEMPATH    l2_start, then wait for the workload to be
#                      ready; a hung boot is reported (the test's
#                      TAP_RETRY may run it again)
#   l2_wait_exit NAME SECS     wait for a QEMU to exit
#   l2_kill NAME               kill a QEMU (-9) and reap it
#   l2_stop NAME               ask the workload for its verdict ("stop" on
#                      the serial line); VERDICT is its verdict line
#   mig_wait NAME STATUS SECS  wait for query-migrate to report STATUS
#   ev_time NAME EVENT [PATH=VALUE]  QEMU's timestamp of NAME's first
#                      EVENT (whose member PATH is VALUE)
#   l2_tlb NAME                the guest's random-read speed, reads/s
#                      ("tlb" on the serial line: workload.c)
#   pmd_mapped NAME ERE        "PMD_KB RSS_KB": how much of QEMU's
#                      mappings whose path matches ERE is mapped, and by
#                      PMDs (a umem mapping's path is /umem: the file is
#                      the region's, not the umemfs file QEMU opened)
#
# Each guest NAME leaves in $RUN: NAME.log (QEMU's stderr), NAME.ser.out
# (the guest's console), NAME.events (QMP events), NAME.pid.

QEMU=/usr/bin/qemu-system-x86_64
QMP=$T/qmp
RUN=${RUN:-/tmp/l2}
GUEST_MIB=${GUEST_MIB:-256}
WORK_MIB=${WORK_MIB:-128}
WORK_MAX=${WORK_MAX:-600}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}
MIG_PORT=5555
mkdir -p "$RUN"

now() {
	$QMP --now
}

# elapsed T0 [T1]: seconds from T0 to T1 (or now), "%.3f"
elapsed() {
	awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.3f", b - a }'
}

# wait_line FILE ERE SECS
wait_line() {
	local end

	end=$(($(date +%s) + $3))
	while [ $(date +%s) -lt $end ]; do
		grep -q -E "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	grep -q -E "$2" "$1" 2>/dev/null
}

alive() {
	kill -0 "$(cat $RUN/$1.pid 2>/dev/null)" 2>/dev/null
}

l2_start() {
	local name=$1 ns=$2 mempath=$3

	shift 3
	rm -f $RUN/$name.*
	mkfifo $RUN/$name.ser.in
	: > $RUN/$name.ser.out
	# nsenter may fork: the shell records QEMU's own pid.  align=2M:
	# QEMU maps a RAM file only page-aligned by default, and a 2 MiB
	# page needs the mapping's range aligned to the file's.
	$ns sh -c 'echo $$ > "$0"; exec "$@"' $RUN/$name.pid $QEMU -name $name \
		-machine pc,accel=kvm,memory-backend=mem -m ${GUEST_MIB}M -smp 1 \
		-object memory-backend-file,id=mem,size=${GUEST_MIB}M,mem-path=$mempath,share=on,align=2M \
		-nodefaults -no-user-config -display none \
		-kernel $T/l2-kernel -initrd $T/l2-initramfs.cpio.gz \
		-append "console=ttyS0 panic=-1 quiet workload.mib=$WORK_MIB workload.max=$WORK_MAX" \
		-chardev pipe,id=ser,path=$RUN/$name.ser -serial chardev:ser \
		-qmp unix:$RUN/$name.qmp,server=on,wait=off \
		-qmp unix:$RUN/$name.ev,server=on,wait=off -no-reboot \
		"$@" > $RUN/$name.log 2>&1 &
	# The job is QEMU itself (sh execs it): wait gives its exit status.
	eval "L2_JOB_$name=$!"
	sleep 0.2
	$QMP --events $RUN/$name.ev > $RUN/$name.events 2>/dev/null &
}

l2_boot() {
	local t0

	t0=$(now)
	l2_start "$@"
	if wait_line $RUN/$1.ser.out '^workload: ready' $BOOT_TIMEOUT; then
		echo "# qemu: $1: L2 guest booted, workload ready after $(elapsed $t0) s: $(grep '^workload: ready' $RUN/$1.ser.out | tr -d '\r')"
		return 0
	fi
	if ! alive $1; then
		echo "# qemu: $1: QEMU exited during the boot:"
		sed 's/^/#   /' $RUN/$1.log
		return 1
	fi
	echo "# qemu: $1: L2 BOOT HUNG: no 'workload: ready' within $BOOT_TIMEOUT s; console tail:"
	tail -n 5 $RUN/$1.ser.out | tr -d '\r' | sed 's/^/#   /'
	l2_kill $1
	return 1
}

l2_wait_exit() {
	local end

	end=$(($(date +%s) + $2))
	while alive $1; do
		[ $(date +%s) -ge $end ] && return 1
		sleep 0.2
	done
	return 0
}

# l2_status NAME: QEMU's exit status (128 + N: killed by signal N)
l2_status() {
	eval "wait \$L2_JOB_$1"
}

l2_kill() {
	kill -9 "$(cat $RUN/$1.pid 2>/dev/null)" 2>/dev/null
	l2_wait_exit $1 10
}

# l2_gone NAME: why QEMU ended, from its SHUTDOWN event, for a message.
# "guest-reset" under -no-reboot is the guest resetting itself: a triple
# fault, or a reboot (a panic reboots, panic=-1).
l2_gone() {
	local r

	r=$($QMP --find $RUN/$1.events SHUTDOWN --get data.reason 2>/dev/null)
	case "$r" in
	"") echo "QEMU gone, no SHUTDOWN event" ;;
	guest-reset) echo "QEMU gone: SHUTDOWN guest-reset, the guest reset itself (triple fault or reboot)" ;;
	*) echo "QEMU gone: SHUTDOWN $r" ;;
	esac
}

l2_stop() {
	# Bounded: opening the FIFO blocks for good once its QEMU is gone.
	if ! alive $1 || ! timeout 10 sh -c 'echo stop > "$0"' $RUN/$1.ser.in; then
		VERDICT="no verdict: the guest's serial input was not taken ($(l2_gone $1))"
		return 1
	fi
	# The whole line: it may be read while the guest still writes it.
	if ! wait_line $RUN/$1.ser.out '^workload: verdict.*\)' ${2:-120}; then
		VERDICT="no verdict within ${2:-120} s"
		return 1
	fi
	VERDICT=$(grep '^workload: verdict' $RUN/$1.ser.out | tr -d '\r')
	case "$VERDICT" in
	*"verdict: ok:"*) return 0 ;;
	esac
	return 1
}

l2_tlb() {
	local n end

	n=$(grep -c '^workload: tlb:' $RUN/$1.ser.out)
	alive $1 && timeout 10 sh -c 'echo tlb > "$0"' $RUN/$1.ser.in || return 1
	end=$(($(date +%s) + 60))
	while [ "$(grep -c '^workload: tlb:.*reads/s' $RUN/$1.ser.out)" -le "$n" ]; do
		[ $(date +%s) -lt $end ] || return 1
		sleep 0.2
	done
	grep '^workload: tlb:' $RUN/$1.ser.out | tail -n 1 |
		sed -n 's/.*: \([0-9]*\) reads\/s.*/\1/p'
}

pmd_mapped() {
	awk -v re="$2" '
		/^[0-9a-f]+-[0-9a-f]+ / { in_ram = ($6 ~ re) }
		in_ram && /^Rss:/ { rss += $2 }
		in_ram && /^(Shmem|File)PmdMapped:/ { pmd += $2 }
		END { print pmd + 0, rss + 0 }' "/proc/$(cat $RUN/$1.pid)/smaps"
}

qmp() {
	local who=$1

	shift
	$QMP $RUN/$who.qmp "$@"
}

mig_status() {
	qmp $1 --get status query-migrate
}

mig_wait() {
	local end s

	end=$(($(date +%s) + $3))
	while [ $(date +%s) -le $end ]; do
		s=$(mig_status $1)
		[ "$s" = "$2" ] && return 0
		case "$s" in
		failed|cancelled) echo "# qemu: $1: migration $s"; return 1 ;;
		esac
		sleep 0.05
	done
	echo "# qemu: $1: migration status '$s' after $3 s, expected $2"
	return 1
}

# ev_time NAME EVENT [PATH=VALUE]: "SECONDS.MICROSECONDS" of NAME's first
# EVENT (whose member PATH is VALUE: data.status=completed), or nothing
ev_time() {
	$QMP --find $RUN/$1.events "$2" ${3:+"$3"} 2>/dev/null
}

# caps NAME CAP...: set migration capabilities on
caps() {
	local who=$1 c list=""

	shift
	for c in "$@"; do
		list="$list${list:+,}{\"capability\":\"$c\",\"state\":true}"
	done
	qmp $who "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":[$list]}}" > /dev/null
}

# stall NAME: the guest's own stall counter (seconds of gaps over 1 ms in
# its loop: workload.c), from its last heartbeat or its verdict
stall() {
	grep -E '^hb |verdict' $RUN/$1.ser.out | tail -n 1 | tr -d '\r' |
		sed -n 's/.*stall=\([0-9.]*\).*/\1/p'
}

# heartbeat NAME: the guest's last heartbeat counter
heartbeat() {
	grep '^hb ' $RUN/$1.ser.out | tail -n 1 | cut -d' ' -f2
}

l2_diag() {
	local f

	for f in $RUN/$1.log $RUN/$1.ser.out $RUN/$1.events; do
		[ -s $f ] || continue
		echo "# --- $f (last 15 lines)"
		tail -n 15 $f | tr -d '\r' | sed 's/^/#   /'
	done
}

# ---- a migration onto umem (the demo and the qemu tests) ----
#
# The two commands users run: `umemctl incoming` on the destination host,
# `umemctl migrate` on the source host (Documentation/umemctl.rst).
#
#   mig_prepare DST_RAM   boot the source guest (RAM on $SRC_RAM), start the
#                         destination QEMU (RAM on DST_RAM, -incoming defer)
#   incoming_start [ARGS] `umemctl incoming` on the destination, in the
#                         background: INCOMING_PID, $RUN/incoming.log
#   migrate_start [ARGS]  `umemctl migrate` on the source, in the
#                         background: MIGRATE_PID, $RUN/migrate.log
#   mig_switch            both, then wait until the destination runs the
#                         guest.  Sets T_START, T_STOP (source STOP),
#                         T_RESUME (destination RESUME).  INCOMING_ARGS and
#                         MIGRATE_ARGS add arguments.  With DST_RAM on the
#                         source's tmpfs file (make demo DEMO_RAM=shm), a
#                         plain x-ignore-shared migration by QMP: no umem
#   server_pid            the source's RAM server (umemctl source)
#   mig_cleanup           kill everything, unmount

SRC_RAM=/dev/shm/l2-ram
MNT=/mnt/umem
UMEM_PORT=4444

# umem_mount DETACH_MS[,OPTION...]: umemfs on $MNT; on failure ERR says so
umem_mount() {
	mkdir -p $MNT
	mount -t umem -o detach_timeout_ms=$1 umem $MNT ||
		{ ERR="mount -t umem failed"; return 1; }
}

mig_prepare() {
	DST_RAM=$1
	rm -f $RUN/incoming.log $RUN/migrate.log
	l2_boot src on_src $SRC_RAM || { ERR="the source guest did not boot"; return 1; }
	l2_start dst on_dst $DST_RAM -incoming defer
}

# The RAM transport over TLS, with the credentials of
# selftests/postcopy/mkcreds.sh (QEMU's layout; the source is 10.99.0.1);
# the bench sets MIG_SEC=--insecure to race QEMU's stream, which is clear.
CREDS=$RUN/tls
[ -d $CREDS/good ] || { mkdir -p $CREDS && tar xf "$T/creds.tar" -C $CREDS; }
MIG_SEC=${MIG_SEC:---tls-creds $CREDS/good}

# The daemons' nice value: above the vCPU, which waits on them when it
# blocks (the bench runs them at 0 too, to show what that costs).
MIG_NICE=${MIG_NICE:--10}

incoming_start() {
	on_dst "$T/umemctl" incoming --qmp $RUN/dst.qmp --listen tcp:$DST_IP:$MIG_PORT \
		--source $SRC_IP:$UMEM_PORT $MIG_SEC --nice $MIG_NICE \
		--progress line "$@" >> $RUN/incoming.log 2>&1 &
	INCOMING_PID=$!
}

migrate_start() {
	on_src "$T/umemctl" migrate --qmp $RUN/src.qmp --to tcp:$DST_IP:$MIG_PORT \
		--listen $SRC_IP:$UMEM_PORT $MIG_SEC --nice $MIG_NICE \
		--progress line "$@" >> $RUN/migrate.log 2>&1 &
	MIGRATE_PID=$!
}

server_pid() {
	sed -n 's/.*RAM server (pid \([0-9]*\)).*/\1/p' $RUN/migrate.log | head -n 1
}

# The QEMU-only control case: the destination on the source's own file.
mig_switch_shm() {
	caps dst x-ignore-shared || { ERR="the destination QEMU does not answer"; return 1; }
	qmp dst "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:$DST_IP:$MIG_PORT\"}}" > /dev/null ||
		{ ERR="migrate-incoming refused"; return 1; }
	caps src x-ignore-shared events || { ERR="cannot set the source's capabilities"; return 1; }
	T_START=$(now)
	qmp src "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:$DST_IP:$MIG_PORT\"}}" > /dev/null ||
		{ ERR="migrate refused"; return 1; }
	mig_wait src completed 120 || { ERR="the migration did not complete"; return 1; }
}

mig_switch() {
	local end

	if [ "$DST_RAM" = "$SRC_RAM" ]; then
		mig_switch_shm || return 1
	else
		incoming_start $INCOMING_ARGS
		T_START=$(now)
		migrate_start $MIGRATE_ARGS
		wait_line $RUN/migrate.log 'switchover complete|umemctl migrate: .*(fail|refused|no destination|gone|exited)' 180
		grep -q 'switchover complete' $RUN/migrate.log ||
			{ ERR="the migration did not switch over: $(grep 'umemctl migrate:' $RUN/migrate.log | tail -n 1)"; return 1; }
	fi
	end=$(($(date +%s) + 30))
	while [ -z "$(ev_time dst RESUME)" ] && [ $(date +%s) -lt $end ]; do
		sleep 0.1
	done
	T_STOP=$(ev_time src STOP)
	T_RESUME=$(ev_time dst RESUME)
	[ -n "$T_RESUME" ] || { ERR="the destination guest never resumed"; return 1; }
}

mig_cleanup() {
	local sp p

	l2_kill dst
	l2_kill src
	sp=$(server_pid 2>/dev/null)
	for p in $MIGRATE_PID $INCOMING_PID $sp $(pidof umemd); do
		kill -9 $p 2>/dev/null
	done
	# Not a bare wait: the network namespaces' holders are jobs too.
	for p in $MIGRATE_PID $INCOMING_PID; do
		wait $p 2>/dev/null
	done
	MIGRATE_PID="" INCOMING_PID=""
	umount $MNT 2>/dev/null
	rm -f $SRC_RAM
}

mig_diag() {
	local g f

	for g in src dst; do l2_diag $g; done
	for f in $RUN/incoming.log $RUN/migrate.log; do
		[ -s $f ] && { echo "# --- $f"; grep -v -E 'filling|serving' $f | tail -n 15 | sed 's/^/#   /'; }
	done
}

# wire_bytes: bytes through the destination's end of the veth, both ways
# (from /proc/net/dev as the destination host sees it)
wire_bytes() {
	on_dst cat /proc/net/dev | awk '$1 == "umdst:" { print $2 + $10 }'
}

# verified_pages: the pages the guest's last word verified
verified_pages() {
	echo "$VERDICT" | sed -n 's/.* \([0-9]*\) pages verified.*/\1/p'
}
