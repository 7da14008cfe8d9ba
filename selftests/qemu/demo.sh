#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The main job, run inside the test VM: a live migration of a real Linux
# guest under Debian's stock QEMU, postcopy, with the destination's guest
# RAM on umem.
#
#  1. The source QEMU (source host, a network namespace) boots the guest;
#     its RAM is memory-backend-file share=on on tmpfs (/dev/shm).
#  2. The guest's workload fills WORK_MIB MiB with a pattern, prints a
#     heartbeat a second, and keeps verifying and rewriting every page.
#  3. The two commands users run migrate it: `umemctl incoming` on the
#     destination host (its QEMU has its RAM on a umemfs file), `umemctl
#     migrate` on the source host.  They arm the RAM transport while the
#     guest still runs; QEMU carries the device state only (x-ignore-shared)
#     and at the switchover the RAM server opens its gate.
#  4. The guest runs on the destination at once; its faults on pages that
#     have not arrived wait for umemd.
#  5. When umemd is complete, the guest is told to stop: it verifies every
#     page once more, prints its verdict and powers off.
#
# RAM=shm (make demo DEMO_RAM=shm) puts the destination's RAM on the same
# tmpfs file instead: a plain x-ignore-shared migration, no umem, to tell
# QEMU problems from umem ones.  TAP on stdout.

T=$(dirname "$0")
. "$T/netns.sh"
# The settings (make demo passes them: run-vm.sh --env).
: "${GUEST_MIB:?}" "${WORK_MIB:?}" "${RAM:?}"
. "$T/lib.sh"
DETACH_MS=${DETACH_MS:-30000}

echo "TAP version 13"
echo "1..1"

fail() {
	kill $TAIL_PID 2>/dev/null
	echo "# demo: FAILED: $*"
	mig_diag
	mig_cleanup
	net_down
	echo "not ok 1 demo.real_guest # $*"
	exit 1
}

net_up > $RUN/net.log 2>&1 || fail "cannot set up the network namespaces"
echo "# demo: source host $SRC_IP, destination host $DST_IP (veth)"
echo "# demo: guest: $GUEST_MIB MiB RAM, workload on $WORK_MIB MiB; destination RAM on $RAM"
if [ "$RAM" = umem ]; then
	umem_mount $DETACH_MS || fail "mount -t umem failed (is umemfs in this umem.ko?)"
	dst_ram=$MNT/vm
else
	dst_ram=$SRC_RAM
fi
mig_prepare $dst_ram || fail "$ERR"
sleep 2
hb0=$(heartbeat src)
s0=$(stall src)
echo "# demo: guest heartbeat $hb0 on the source; migrating"
# The two tools' progress and reports, as they happen.
: > $RUN/incoming.log
: > $RUN/migrate.log
tail -q -f $RUN/incoming.log $RUN/migrate.log 2>/dev/null | awk '{ print "# " $0; fflush() }' &
TAIL_PID=$!
mig_switch || fail "$ERR"
echo "# demo: the guest runs on the destination $(elapsed $T_START $T_RESUME) s after 'migrate'"

if [ "$RAM" = umem ]; then
	wait $INCOMING_PID
	urc=$?
	INCOMING_PID=""
	t_done=$(now)
	[ $urc = 0 ] || fail "umemctl incoming exit status $urc"
	wait $MIGRATE_PID
	MIGRATE_PID=""
else
	t_done=$T_RESUME
fi
kill $TAIL_PID 2>/dev/null
sleep 3
hb1=$(heartbeat dst)
l2_stop dst 180
vrc=$?
l2_wait_exit dst 30 || echo "# demo: the destination QEMU did not exit after the poweroff"
qmp src quit > /dev/null 2>&1
l2_wait_exit src 10

down_ms=$(awk -v a=$T_STOP -v b=$T_RESUME 'BEGIN { printf "%.0f", (b - a) * 1000 }')
echo "# demo: ---- report ----"
echo "# demo: downtime (source STOP to destination RESUME): $down_ms ms"
# Where it went: QEMU's events on both sides, from the source's STOP.
for ev in "src STOP" "src MIGRATION data.status=pre-switchover" \
	"src MIGRATION data.status=device" "src MIGRATION data.status=completed" \
	"dst MIGRATION data.status=completed" "dst RESUME"; do
	set -- $ev
	t=$(ev_time "$@")
	[ -n "$t" ] && echo "# demo:   +$(awk -v a=$T_STOP -v b=$t 'BEGIN { printf "%4.0f", (b - a) * 1000 }') ms  $1 $2 ${3#data.status=}"
done
echo "# demo: time to complete ('migrate' to all RAM on the destination): $(elapsed $T_START $t_done) s"
if [ "$RAM" = umem ]; then
	for f in migrate incoming; do
		sed -n "/umemctl $f: complete/,\$p" $RUN/$f.log | sed "s/^/# demo: $f: /"
	done
else
	echo "# demo: RAM shared on tmpfs (DEMO_RAM=shm): no umem, nothing streamed"
fi
echo "# demo: guest heartbeats: $hb0 before, $hb1 after the migration"
echo "# demo: the guest's own stall time (pages that took over 5 ms) from 'migrate' to its verdict: $(awk -v a=$s0 -v b=$(stall dst) 'BEGIN { printf "%.3f", b - a }') s"
echo "# demo: guest: $VERDICT"
mig_cleanup
net_down
if [ $vrc != 0 ]; then
	echo "not ok 1 demo.real_guest # the guest's verdict: $VERDICT"
	exit 1
fi
bad=$(echo "$VERDICT" | sed -n 's/.* \([0-9]*\) bad pages.*/\1/p')
echo "# demo: real guest verified: $WORK_MIB MiB, $bad bad pages"
echo "ok 1 demo.real_guest"
