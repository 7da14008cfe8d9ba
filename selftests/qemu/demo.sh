#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The main job, run inside the test VM: a live migration of a real Linux
# guest under Debian's stock QEMU, postcopy, with the destination's guest
# RAM on umem.
#
#  1. The source QEMU (source host, a network namespace) boots the guest;
#     its RAM is memory-backend-file share=on on tmpfs (/dev/shm).
#  2. The guest's workload fills @WORK_MIB@ MiB with a pattern, prints a
#     heartbeat a second, and keeps verifying and rewriting every page.
#  3. QEMU migrates the device state only (x-ignore-shared on both sides)
#     to a destination QEMU (destination host) whose RAM is a umemfs file.
#     With pause-before-switchover, the source is stopped when umemctl
#     source (serving the source's RAM file) and umemd (attached to the
#     destination QEMU's region) start; then migrate-continue.
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
GUEST_MIB=@GUEST_MIB@
WORK_MIB=@WORK_MIB@
RAM=@RAM@
. "$T/lib.sh"
DETACH_MS=${DETACH_MS:-30000}

echo "TAP version 13"
echo "1..1"

fail() {
	echo "# demo: FAILED: $*"
	mig_diag
	mig_cleanup
	net_down
	echo "not ok 1 demo.real_guest # $*"
	exit 1
}

net_up > /tmp/net.log 2>&1 || fail "cannot set up the network namespaces"
echo "# demo: source host $SRC_IP, destination host $DST_IP (veth)"
echo "# demo: guest: $GUEST_MIB MiB RAM, workload on $WORK_MIB MiB; destination RAM on $RAM"
if [ "$RAM" = umem ]; then
	umem_mount $DETACH_MS || fail "mount -t umem failed (is umemfs in this umem.ko?)"
	dst_ram=$MNT/vm
else
	dst_ram=$SRC_RAM
fi
mig_prepare $dst_ram || fail "$MIG_ERR"
sleep 2
hb0=$(heartbeat src)
echo "# demo: guest heartbeat $hb0 on the source; migrating"
mig_switch || fail "$MIG_ERR"
info=$(qmp src query-migrate)
qemu_down=$(echo "$info" | grep -o '"downtime": [0-9]*' | cut -d' ' -f2)
qemu_total=$(echo "$info" | grep -o '"total-time": [0-9]*' | cut -d' ' -f2)
wire=$(echo "$info" | grep -o '"transferred": [0-9]*' | head -n 1 | cut -d' ' -f2)
echo "# demo: the guest runs on the destination $(elapsed $T_START $T_RESUME) s after 'migrate'"

stats=""
if [ "$RAM" = umem ]; then
	wait $UMEMD_PID
	urc=$?
	t_done=$(now)
	stats=$("$T/umemctl" stat "$(cat $RUN/dst.pid)" 2>&1)
	[ $urc = 0 ] || fail "umemd exit status $urc"
	grep -v 'ETA' $RUN/umemd.log | sed 's/^/# /'
else
	t_done=$T_RESUME
fi
sleep 3
hb1=$(heartbeat dst)
l2_stop dst 180
vrc=$?
l2_wait_exit dst 30 || echo "# demo: the destination QEMU did not exit after the poweroff"
qmp src quit > /dev/null 2>&1
l2_wait_exit src 10

down_ms=$(awk -v a=$T_STOP -v b=$T_RESUME 'BEGIN { printf "%.0f", (b - a) * 1000 }')
echo "# demo: ---- report ----"
echo "# demo: downtime (source STOP to destination RESUME): $down_ms ms (QEMU's own figure: $qemu_down ms)"
echo "# demo: QEMU's stream: $wire bytes (device state and the RAM that is not shared: ROMs, BIOS), $qemu_total ms"
echo "# demo: time to complete ('migrate' to all RAM on the destination): $(elapsed $T_START $t_done) s"
if [ "$RAM" = umem ]; then
	echo "# demo: pages: $(grep -o '[0-9]* urgent, [0-9]* background, [0-9]* zero' $RUN/umemd.log | tail -n 1)" \
		"($(grep -o '[0-9]* requested' $RUN/umemd.log | tail -n 1) by faults)"
	echo "$stats" | grep -E 'faults|blocked' | sed 's/^ */# demo: umem stats: /'
else
	echo "# demo: RAM shared on tmpfs (DEMO_RAM=shm): no umem, nothing streamed"
fi
echo "# demo: guest heartbeats: $hb0 before, $hb1 after the migration"
echo "# demo: guest: $VERDICT"
[ $L2_RETRIES = 0 ] || echo "# demo: NOTE: $L2_RETRIES L2 boot(s) hung and were retried (see above)"
mig_cleanup
net_down
if [ $vrc != 0 ]; then
	echo "not ok 1 demo.real_guest # the guest's verdict: $VERDICT"
	exit 1
fi
bad=$(echo "$VERDICT" | sed -n 's/.* \([0-9]*\) bad pages.*/\1/p')
echo "# demo: real guest verified: $WORK_MIB MiB, $bad bad pages"
echo "ok 1 demo.real_guest"
