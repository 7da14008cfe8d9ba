#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench, the qemu case: the same real guest and workload migrated
# twice in one boot of the test VM, once onto umem as make demo does
# (x-ignore-shared, umemctl source -> umemd), once by QEMU's own postcopy
# (postcopy-ram and postcopy-blocktime, migrate-start-postcopy at once,
# the destination's RAM on a tmpfs file of its own).  For each: total
# time, downtime, vCPU blocked time, bytes on the wire (the veth's
# counters, both ways) and the guest's verdict.  The figures ride in TAP
# comments: "# # json ..." for results.json (as tools/bench/guest.sh
# prints them), the rest for results.txt.

T=$(dirname "$0")
. "$T/netns.sh"
GUEST_MIB=@GUEST_MIB@
WORK_MIB=@WORK_MIB@
. "$T/lib.sh"
DST_SHM=/dev/shm/l2-ram-dst
failed=0

echo "TAP version 13"
echo "1..2"
net_up > /tmp/net.log 2>&1 || { echo "not ok 1 bench.qemu # no network"; exit 1; }

# row NAME TOTAL_S DOWN_MS BLOCKED_S WIRE VERIFIED
row() {
	printf "%-16s %9s %12s %10s %14s %15s\n" "$@"
}

# json NAME TOTAL_S DOWN_MS BLOCKED_S WIRE VERIFIED
json() {
	printf '"%s": {"total_s": %s, "downtime_ms": %s, "blocked_s": %s, "wire_bytes": %s, "verified_pages": %s}' \
		"$@"
}

finish_guest() {
	l2_stop dst 180
	vrc=$?
	echo "#   guest: $VERDICT"
	l2_wait_exit dst 30
	qmp src quit > /dev/null 2>&1
	l2_wait_exit src 10
	return $vrc
}

bench_umem() {
	umem_mount 30000 || { echo "#   umem: mount -t umem failed"; return 1; }
	mig_prepare $MNT/vm || { echo "#   umem: $MIG_ERR"; return 1; }
	sleep 2
	w0=$(wire_bytes)
	mig_switch || { echo "#   umem: $MIG_ERR"; return 1; }
	wait $UMEMD_PID || { echo "#   umem: umemd failed"; return 1; }
	t_done=$(now)
	w1=$(wire_bytes)
	st=$("$T/umemctl" stat "$(cat $RUN/dst.pid)" 2>&1)
	grep 'umemd: complete' $RUN/umemd.log | sed 's/^/#   /'
	finish_guest || return 1
	U_TOTAL=$(elapsed $T_START $t_done)
	U_DOWN=$(awk -v a=$T_STOP -v b=$T_RESUME 'BEGIN { printf "%.0f", (b - a) * 1000 }')
	U_BLOCKED=$(echo "$st" | sed -n 's/.* \([0-9.]*\) s blocked in total.*/\1/p')
	U_WIRE=$((w1 - w0))
	U_VER=$(verified_pages)
}

bench_postcopy() {
	l2_boot src on_src $SRC_RAM || return 1
	l2_start dst on_dst $DST_SHM -incoming defer
	caps dst postcopy-ram postcopy-blocktime || return 1
	qmp dst "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:$DST_IP:$MIG_PORT\"}}" > /dev/null || return 1
	caps src postcopy-ram postcopy-blocktime || return 1
	sleep 2
	w0=$(wire_bytes)
	t0=$(now)
	qmp src "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:$DST_IP:$MIG_PORT\"}}" \
		migrate-start-postcopy > /dev/null || return 1
	mig_wait src completed 600 || return 1
	t_done=$(now)
	w1=$(wire_bytes)
	mig_wait dst completed 60
	dinfo=$(qmp dst query-migrate)
	echo "#   destination: $(echo "$dinfo" | grep -o '"postcopy-[a-z-]*blocktime": [^]]*]*' | tr '\n' ' ')"
	finish_guest || return 1
	P_TOTAL=$(elapsed $t0 $t_done)
	P_DOWN=$(awk -v a=$(ev_time src STOP) -v b=$(ev_time dst RESUME) 'BEGIN { printf "%.0f", (b - a) * 1000 }')
	# The sum over vCPUs of the time each was blocked (one vCPU here).
	P_BLOCKED=$(echo "$dinfo" | sed -n 's/.*"postcopy-vcpu-blocktime": \[\([0-9, ]*\)\].*/\1/p' |
		tr ',' '\n' | awk '{ s += $1 } END { printf "%.3f", s / 1000 }')
	P_WIRE=$((w1 - w0))
	P_VER=$(verified_pages)
}

# Each case runs once more if it fails (mig_twice): its figures are those
# of the attempt that passed.
echo "# qemu: the same guest ($GUEST_MIB MiB RAM, workload on $WORK_MIB MiB) migrated by umem and by QEMU's postcopy"
mig_twice 1 bench.qemu.umem bench_umem
mig_twice 2 bench.qemu.postcopy bench_postcopy
rm -f $DST_SHM
net_down
echo "#"
echo "# Real guest migration (QEMU 7.2, nested KVM, $WORK_MIB MiB verified workload)"
row method total_s downtime_ms blocked_s wire_bytes verified_pages | sed 's/^/# /'
[ -n "$U_TOTAL" ] && row umem "$U_TOTAL" "$U_DOWN" "$U_BLOCKED" "$U_WIRE" "$U_VER" | sed 's/^/# /'
[ -n "$P_TOTAL" ] && row qemu-postcopy "$P_TOTAL" "$P_DOWN" "$P_BLOCKED" "$P_WIRE" "$P_VER" | sed 's/^/# /'
if [ -n "$U_TOTAL" ] && [ -n "$P_TOTAL" ]; then
	echo "# # json \"qemu\": {$(json umem $U_TOTAL $U_DOWN ${U_BLOCKED:-null} $U_WIRE $U_VER), $(json postcopy $P_TOTAL $P_DOWN ${P_BLOCKED:-null} $P_WIRE $P_VER)}"
fi
[ $failed = 0 ]
