#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# qemu: failures during a real live migration onto umem (make check-qemu).
# Each test boots a real guest under QEMU on the source host, migrates it
# as the demo does (selftests/qemu/demo.sh) to a destination QEMU whose
# RAM is a umemfs file, breaks something while the RAM is still on its
# way, and asks the guest's own workload for its verdict.  TAP on stdout.
#
#   qemu.umemd_killed   kill -9 umemd mid-migration; a new one re-adopts
#                       the region: the guest verifies
#   qemu.net_down       the veth down 3 s mid-migration: umemd reconnects,
#                       the guest verifies
#   qemu.source_dies    the source (QEMU and umemctl source) killed for
#                       good: umemd gives up, the detach deadline passes;
#                       the destination QEMU must exit or stop and report,
#                       never run on with zero-filled memory

T=$(dirname "$0")
. "$T/netns.sh"
GUEST_MIB=@GUEST_MIB@
WORK_MIB=@WORK_MIB@
. "$T/lib.sh"
n=0
failed=0

# The background stream slowed (umemctl source --rate, MiB/s) so that
# the RAM is still arriving when the fault is injected.
RATE=8

# QEMU_T= (make check-qemu QEMU_T=ERE): only the tests whose name matches.
ONLY='@QEMU_T@'

run() {
	n=$((n + 1))
	if [ -n "$ONLY" ] && ! echo "$1" | grep -q -E "$ONLY"; then
		echo "ok $n qemu.$1 # SKIP not selected by QEMU_T"
		return
	fi
	echo "#  RUN qemu.$1"
	mig_twice $n qemu.$1 $2
}

# start_migration DETACH_MS [UMEMD ARGS]: up to the guest running on the
# destination, its RAM arriving slowly.
start_migration() {
	umem_mount $1 || { ERR="mount -t umem failed"; return 1; }
	shift
	mig_prepare $MNT/vm || { ERR=$MIG_ERR; return 1; }
	SOURCE_ARGS="--rate $RATE"
	mig_switch "$@" || { ERR=$MIG_ERR; return 1; }
	echo "# the guest runs on the destination $(elapsed $T_START $T_RESUME) s after 'migrate'"
}

# finish_ok: umemd completes; the guest verifies every page.
finish_ok() {
	wait $UMEMD_PID
	urc=$?
	[ $urc = 0 ] || { ERR="umemd exit status $urc"; return 1; }
	grep 'umemd: complete' $RUN/umemd.log | sed 's/^/# /'
	l2_stop dst 180
	vrc=$?
	echo "# guest: $VERDICT"
	[ $vrc = 0 ] || { ERR="the guest's verdict: $VERDICT"; return 1; }
}

umemd_pid() {
	pidof umemd
}

t_umemd_killed() {
	start_migration 30000 || return 1
	sleep 2
	p=$(umemd_pid)
	[ -n "$p" ] || { ERR="umemd already gone before the kill"; return 1; }
	kill -9 $p
	wait $UMEMD_PID
	echo "# killed umemd ($p) $(elapsed $T_RESUME) s after the switchover"
	sleep 1
	echo "# the guest's heartbeat without a daemon: $(heartbeat dst)"
	sleep 1
	umemd_start --takeover
	finish_ok || return 1
	grep -q 'adopted a region with' $RUN/umemd.log ||
		{ ERR="the new umemd did not re-adopt"; return 1; }
	grep 'adopted a region with' $RUN/umemd.log | sed 's/^/# /'
}

t_net_down() {
	start_migration 30000 || return 1
	sleep 2
	link_down
	echo "# link down at heartbeat $(heartbeat dst)"
	sleep 3
	link_up
	echo "# link up at heartbeat $(heartbeat dst)"
	finish_ok || return 1
	grep -q 'reconnected' $RUN/umemd.log || { ERR="umemd never reconnected"; return 1; }
	grep 'reconnected' $RUN/umemd.log | sed 's/^/# /'
}

t_source_dies() {
	start_migration 3000 --give-up 2000 || return 1
	sleep 2
	kill -9 "$(cat /tmp/l2/source.pid)"
	l2_kill src
	echo "# source killed at heartbeat $(heartbeat dst)"
	wait $UMEMD_PID
	urc=$?
	echo "# umemd exit status $urc: $(grep -v ETA $RUN/umemd.log | tail -n 1)"
	[ $urc = 3 ] || { ERR="umemd exit status $urc, expected 3 (source lost)"; return 1; }
	# The detach deadline (3 s) passes; the next fault on a missing
	# page fails.  Give QEMU 60 s to exit or to stop.
	end=$(($(date +%s) + 60))
	st=""
	while [ $(date +%s) -lt $end ]; do
		alive dst || break
		st=$(qmp dst query-status 2>/dev/null | grep -o '"status": "[a-z-]*"' | cut -d'"' -f4)
		case "$st" in
		running|"") ;;
		*) break ;;
		esac
		sleep 0.5
	done
	if alive dst; then
		what="QEMU stopped the guest: status '$st'"
	else
		l2_status dst
		what="QEMU exited, status $?"
	fi
	echo "# destination: $what"
	echo "# destination QEMU's stderr (without the register dump):"
	grep -v -E '^([A-Z0-9]+ *=|Code=)' $RUN/dst.log | head -n 8 | sed 's/^/#   /'
	echo "# the guest's console, last lines:"
	tr -d '\r' < $RUN/dst.ser.out | tail -n 8 | sed 's/^/#   /'
	if alive dst && [ "$st" = running ]; then
		ERR="the destination guest still runs after the deadline"
		return 1
	fi
	if grep -q 'verdict: ok' $RUN/dst.ser.out; then
		ERR="the guest verified memory that never arrived"
		return 1
	fi
	if grep -q 'BAD page' $RUN/dst.ser.out; then
		ERR="the guest read wrong (zero-filled?) memory"
		return 1
	fi
}

echo "TAP version 13"
echo "1..3"
# Whatever happens, no QEMU outlives the script: the runner unloads kvm.
trap 'mig_cleanup; net_down' EXIT
if ! net_up > /tmp/net.log 2>&1; then
	sed 's/^/# /' /tmp/net.log
	echo "not ok 1 qemu.setup # cannot set up the network namespaces"
	exit 1
fi
run umemd_killed t_umemd_killed
run net_down t_net_down
run source_dies t_source_dies
[ $L2_RETRIES = 0 ] || echo "# qemu: NOTE: $L2_RETRIES L2 boot(s) hung and were retried (see above)"
[ $FLAKES = 0 ] || echo "# qemu: NOTE: $FLAKES test(s) failed once and passed on the second attempt (FLAKE above)"
[ $failed = 0 ]
