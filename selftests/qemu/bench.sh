#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench, the qemu case: the same real guest and workload migrated
# in one boot of the test VM three ways, BENCH_RUNS times each (3),
# alternating: onto umem as make demo does (umemctl incoming and umemctl
# migrate), by QEMU's own postcopy (postcopy-ram and postcopy-blocktime,
# migrate-start-postcopy at once, the destination's RAM on a tmpfs file of
# its own), and by QEMU's postcopy with postcopy-preempt (urgent pages on
# a channel of their own).  For each: total time, downtime, vCPU blocked
# time, the guest's own stall time (workload.c), bytes on the wire (the
# veth's counters, both ways) and the guest's verdict; the tables give
# each method's medians.  The figures ride in TAP comments: "# # json ..."
# for results.json (as tools/bench/guest.sh prints them), the rest for
# results.txt.
#
# Huge pages (Documentation/performance.rst, "Huge pages"): umem once
# more onto a umemfs mounted huge=advise (umem_huge), and a guest that is
# never migrated, its RAM on a tmpfs file mounted huge=always (thp: the
# ceiling).  After each umem migration and on the ceiling the guest reads
# its memory at random (workload.c's "tlb"): the speed of a TLB-bound
# guest on each.  umem_huge also follows how much of what QEMU maps of
# the guest's RAM is PMD-mapped, from 'migrate' on.

T=$(dirname "$0")
. "$T/tap.sh"
. "$T/netns.sh"
# The settings (make bench passes them: run-vm.sh --env).
: "${GUEST_MIB:?}" "${WORK_MIB:?}" "${BENCH_RUNS:?}" "${BENCH_TLS:?}" "${BENCH_NICE:?}"
# Like with like: QEMU's cases run in clear, so umem's transport does too
# (what TLS costs is the "tls" table of the main bench VM).
MIG_SEC=--insecure
# Its daemons run above the vCPU (nice -10), as umemctl.rst tells a
# deployment to run them (a blocked vCPU waits on them).
. "$T/lib.sh"
# umem's runs trace their demand faults (tools/bench/fault-path.awk).
. "$T/trace.sh"
DST_SHM=/dev/shm/l2-ram-dst
METHODS="umem umem_huge thp postcopy postcopy_preempt"
THP_MNT=/mnt/thp
# BENCH_NICE=1: umem once more with its daemons at the vCPU's priority
# (nice 0, as QEMU's migration threads run), to show what it does.
[ "$BENCH_NICE" = 1 ] && METHODS="umem umem_nice0 postcopy postcopy_preempt"
# BENCH_TLS=1: the same three with the streams in TLS, X.509 with mutual
# authentication: umem's RAM transport (QEMU's device state stays clear,
# 0.2 MiB), and QEMU's whole stream (tls-creds-x509).
[ "$BENCH_TLS" = 1 ] && METHODS="$METHODS umem_tls postcopy_tls postcopy_preempt_tls"
NMETHODS=$(echo $METHODS | wc -w)

echo "TAP version 13"
echo "1..$((BENCH_RUNS * NMETHODS))"
net_up > $RUN/net.log 2>&1 || { echo "not ok 1 bench.qemu # no network"; exit 1; }

# row NAME TOTAL_S DOWN_MS BLOCKED_S STALL_S WIRE VERIFIED
row() {
	printf "%-21s %9s %12s %10s %14s %14s %15s\n" "$@"
}

# median: the median of the numbers on stdin, one a line
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# record METHOD TOTAL_S DOWN_MS BLOCKED_S STALL_S WIRE VERIFIED: one run's
# figures, to $RUN/bench.METHOD
record() {
	echo "$2 $3 $4 $5 $6 $7" >> $RUN/bench.$1
	echo "#   $1: total ${2} s, downtime ${3} ms, blocked ${4} s, guest stall ${5} s, wire $6 bytes, $7 pages verified"
}

# col METHOD N: the median of column N of METHOD's runs
col() {
	cut -d' ' -f$2 $RUN/bench.$1 | median
}

# fault_p50 METHOD: the median of its demand faults' whole wait, in µs
fault_p50() {
	awk -f "$T/fault-path.awk" $RUN/fault.$1.trace | awk '$1 == "fault_total" { print $3 }'
}

# ratio A B: A / B, "%.3f", or null
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.3f", a / b; else print "null" }'
}

# The huge-page figures: the TLB-bound guest's speed on umem with and
# without huge pages against the ceiling, how much is PMD-mapped and how
# soon, and what huge pages cost a demand fault.
huge_table() {
	local thp huge small t50 t95 frac f_on f_off

	[ -s $RUN/tlb.thp ] && [ -s $RUN/tlb.umem_huge ] && [ -s $RUN/tlb.umem ] || return 0
	thp=$(median < $RUN/tlb.thp)
	huge=$(median < $RUN/tlb.umem_huge)
	small=$(median < $RUN/tlb.umem)
	frac=$(cut -d' ' -f3 $RUN/huge.umem_huge | median)
	t50=$(cut -d' ' -f1 $RUN/huge.umem_huge | grep -v -- - | median)
	t95=$(cut -d' ' -f2 $RUN/huge.umem_huge | grep -v -- - | median)
	f_on=$(fault_p50 umem_huge)
	f_off=$(fault_p50 umem)
	echo "#"
	echo "# Huge pages: the guest's random reads over its $WORK_MIB MiB after the migration (reads/s, medians of $BENCH_RUNS runs)"
	printf "# %-34s %12s %10s\n" "guest RAM" "reads/s" "vs thp"
	printf "# %-34s %12s %10s\n" "thp: never migrated, THP tmpfs" $thp 1.000
	printf "# %-34s %12s %10s\n" "umem_huge: umem, huge=advise" $huge $(ratio $huge $thp)
	printf "# %-34s %12s %10s\n" "umem: umem, 4 KiB pages" $small $(ratio $small $thp)
	echo "# umem_huge: ${frac:-?}% of what QEMU maps PMD-mapped after completion; 50% after ${t50:-never} s, 95% after ${t95:-never} s (from 'migrate')"
	echo "# demand fault's whole wait p50: ${f_on:-?} µs with huge pages, ${f_off:-?} µs without ($(ratio "$f_on" "$f_off")x)"
	echo "# # json \"huge\": {\"speed_vs_thp\": $(ratio $huge $thp), \"speed_4k_vs_thp\": $(ratio $small $thp), \"pmd_mapped_fraction\": $(ratio "$frac" 100), \"fault_p50_on_over_off\": $(ratio "$f_on" "$f_off"), \"time_to_50pct_s\": ${t50:-null}, \"time_to_95pct_s\": ${t95:-null}, \"reads_per_s\": {\"thp\": $thp, \"umem_huge\": $huge, \"umem\": $small}}"
}

# tlb METHOD: the guest's random-read speed (reads/s), the median of
# three, to $RUN/tlb.METHOD
tlb() {
	local i r all=""

	for i in 1 2 3; do
		r=$(l2_tlb dst) || { ERR="the guest did not run its random reads"; return 1; }
		all="$all $r"
	done
	r=$(echo $all | tr ' ' '\n' | median)
	echo $r >> $RUN/tlb.$1
	echo "#   $1: random reads $r/s (median of 3), QEMU's mapping: $(pmd_mapped dst "$2" | awk '{ printf "%d of %d kB PMD-mapped", $1, $2 }')"
}

# pmd_pct: the percentage of what the destination QEMU maps of the guest's
# RAM that is PMD-mapped, 0 while it maps nothing
pmd_pct() {
	pmd_mapped dst '^/umem' | awk '{ printf "%.1f", $2 ? 100 * $1 / $2 : 0 }'
}

# huge_follow: while umemctl incoming runs and up to 60 s after, until
# 95% of what QEMU maps is PMD-mapped: the seconds from 'migrate' to 50%
# and to 95%, "T50 T95" (- for never) into HUGE_T
huge_follow() {
	local t50=- t95=- pct t end=""

	while :; do
		pct=$(pmd_pct)
		t=$(elapsed $T_START)
		[ $t50 = - ] && awk -v p=$pct 'BEGIN { exit !(p >= 50) }' && t50=$t
		[ $t95 = - ] && awk -v p=$pct 'BEGIN { exit !(p >= 95) }' && t95=$t
		[ $t95 = - ] || break
		if ! kill -0 $INCOMING_PID 2>/dev/null; then
			[ -n "$end" ] || end=$(($(date +%s) + 60))
			[ $(date +%s) -lt $end ] || break
		fi
		sleep 0.5
	done
	HUGE_T="$t50 $t95"
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

# bench_umem [MOUNT OPTION]: umem, onto a umemfs mounted with it (huge=)
bench_umem() {
	local tr=$RUN/fault.$M.trace

	umem_mount 30000${1:+,$1} || return 1
	mig_prepare $MNT/vm || return 1
	sleep 2
	s0=$(stall src)
	w0=$(wire_bytes)
	trace_start
	INCOMING_ARGS="--server-arg --trace"
	mig_switch || { trace_stop $tr; return 1; }
	[ -z "$1" ] || huge_follow
	wait $INCOMING_PID ||
		{ trace_stop $tr; ERR="umemctl incoming failed"; return 1; }
	INCOMING_PID=""
	t_done=$(now)
	trace_stop $tr
	w1=$(wire_bytes)
	s1=$(stall dst)
	st=$("$T/umemctl" stat "$(cat $RUN/dst.pid)" 2>&1)
	sed -n '/umemctl incoming: complete/,$p' $RUN/incoming.log | sed 's/^/#   /'
	sed -n '/umemctl migrate: complete/,$p' $RUN/migrate.log | sed 's/^/#   /'
	tlb $M '^/umem' || return 1
	if [ -n "$1" ]; then
		echo "$HUGE_T $(pmd_pct)" >> $RUN/huge.$M
		echo "#   $M: 50% of QEMU's mapping PMD-mapped ${HUGE_T% *} s after 'migrate', 95% ${HUGE_T#* } s"
	fi
	finish_guest || return 1
	record $M $(elapsed $T_START $t_done) \
		$(awk -v a=$T_STOP -v b=$T_RESUME 'BEGIN { printf "%.0f", (b - a) * 1000 }') \
		"$(echo "$st" | sed -n 's/.* \([0-9.]*\) s blocked in total.*/\1/p')" \
		$(awk -v a=$s0 -v b=$s1 'BEGIN { printf "%.3f", b - a }') \
		$((w1 - w0)) $(verified_pages)
}

# tls NAME ENDPOINT: QEMU's migration stream in TLS (mkcreds.sh's qemu/)
tls() {
	qmp $1 "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"tls-creds-x509\",\"id\":\"tls0\",\"dir\":\"$CREDS/qemu\",\"endpoint\":\"$2\",\"verify-peer\":true}}" > /dev/null &&
		qmp $1 '{"execute":"migrate-set-parameters","arguments":{"tls-creds":"tls0"}}' > /dev/null
}

# bench_postcopy [CAP...]: QEMU's postcopy, with CAPs on both sides too;
# in TLS when QEMU_TLS=1
bench_postcopy() {
	l2_boot src on_src $SRC_RAM || return 1
	l2_start dst on_dst $DST_SHM -incoming defer
	if [ "$QEMU_TLS" = 1 ]; then
		tls dst server || { echo "#   the destination QEMU refused TLS"; return 1; }
		tls src client || { echo "#   the source QEMU refused TLS"; return 1; }
	fi
	caps dst postcopy-ram postcopy-blocktime "$@" || return 1
	qmp dst "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:$DST_IP:$MIG_PORT\"}}" > /dev/null || return 1
	caps src postcopy-ram postcopy-blocktime "$@" || return 1
	sleep 2
	s0=$(stall src)
	w0=$(wire_bytes)
	t0=$(now)
	qmp src "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:$DST_IP:$MIG_PORT\"}}" \
		migrate-start-postcopy > /dev/null || return 1
	mig_wait src completed 600 || return 1
	t_done=$(now)
	w1=$(wire_bytes)
	s1=$(stall dst)
	mig_wait dst completed 60
	bt=$(qmp dst --get postcopy-blocktime query-migrate)
	vbt=$(qmp dst --get postcopy-vcpu-blocktime query-migrate)
	echo "#   destination: postcopy-blocktime $bt, postcopy-vcpu-blocktime $vbt"
	finish_guest || return 1
	# The sum over vCPUs of the time each was blocked (one vCPU here).
	record $M $(elapsed $t0 $t_done) \
		$(awk -v a=$(ev_time src STOP) -v b=$(ev_time dst RESUME) 'BEGIN { printf "%.0f", (b - a) * 1000 }') \
		"$(echo "$vbt" | tr -d '[]' | tr ',' '\n' |
			awk '{ s += $1 } END { printf "%.3f", s / 1000 }')" \
		$(awk -v a=$s0 -v b=$s1 'BEGIN { printf "%.3f", b - a }') \
		$((w1 - w0)) $(verified_pages)
}

# bench_thp: the ceiling, a guest never migrated, its RAM on huge pages
# from the start
bench_thp() {
	mkdir -p $THP_MNT
	mount -t tmpfs -o huge=always,size=$((GUEST_MIB + 64))m thp $THP_MNT ||
		{ ERR="cannot mount a tmpfs with huge=always"; return 1; }
	l2_boot dst on_dst $THP_MNT/vm || { ERR="the guest did not boot"; return 1; }
	sleep 2
	tlb $M "^$THP_MNT/vm\$" || return 1
	l2_stop dst 180
	vrc=$?
	echo "#   guest: $VERDICT"
	l2_wait_exit dst 30
	return $vrc
}

bench_one() {
	case $M in
	umem) bench_umem ;;
	umem_huge) bench_umem huge=advise ;;
	thp) bench_thp ;;
	umem_nice0) MIG_NICE=0 bench_umem ;;
	postcopy) bench_postcopy ;;
	postcopy_preempt) bench_postcopy postcopy-preempt ;;
	umem_tls) MIG_SEC="--tls-creds $CREDS/good" bench_umem ;;
	postcopy_tls) QEMU_TLS=1 bench_postcopy ;;
	postcopy_preempt_tls) QEMU_TLS=1 bench_postcopy postcopy-preempt ;;
	esac
	_rc=$?
	MIG_SEC=--insecure MIG_NICE=-10 QEMU_TLS=0
	return $_rc
}

# Each run goes once more if it fails (tap.sh's TAP_RETRY): its figures
# are those of the attempt that passed.  The methods alternate, so that a
# slow stretch of the host does not fall on one of them only.
TAP_RETRY=1
test_diag() { mig_diag; }
test_cleanup() { mig_cleanup; umount $THP_MNT 2>/dev/null; }
tap_start bench
echo "# qemu: the same guest ($GUEST_MIB MiB RAM, workload on $WORK_MIB MiB) migrated by umem and by QEMU's postcopy, plain and preempt, $BENCH_RUNS runs each"
rm -f $RUN/bench.* $RUN/tlb.* $RUN/huge.* $RUN/fault.*.trace
for r in $(seq $BENCH_RUNS); do
	for M in $METHODS; do
		run qemu.$M.$r bench_one
	done
done
rm -f $DST_SHM
net_down
echo "#"
qver=$($QEMU --version | sed -n 's/.*version \([0-9.]*\).*/\1/p')
echo "# Real guest migration (QEMU $qver, nested KVM, $WORK_MIB MiB verified workload), medians of $BENCH_RUNS runs"
echo "# # json \"qemu_version\": \"$qver\""
row method total_s downtime_ms blocked_s guest_stall_s wire_bytes verified_pages | sed 's/^/# /'
json=""
for M in $METHODS; do
	[ -s $RUN/bench.$M ] || continue
	row $M "$(col $M 1)" "$(col $M 2)" "$(col $M 3)" "$(col $M 4)" "$(col $M 5)" "$(col $M 6)" | sed 's/^/# /'
	json="$json${json:+, }\"$M\": {\"total_s\": $(col $M 1), \"downtime_ms\": $(col $M 2), \"blocked_s\": $(col $M 3), \"guest_stall_s\": $(col $M 4), \"wire_bytes\": $(col $M 5), \"verified_pages\": $(col $M 6), \"runs\": $(wc -l < $RUN/bench.$M)}"
done
# umem against the better of QEMU's two modes, per figure (lower is better)
for x in "" _tls; do
	[ -s $RUN/bench.umem$x ] && [ -s $RUN/bench.postcopy$x ] &&
		[ -s $RUN/bench.postcopy_preempt$x ] || continue
	for c in 1:total 2:downtime 3:blocked 4:guest_stall; do
		i=${c%%:*}
		echo "# umem$x / best QEMU postcopy$x, ${c#*:}: $(awk -v u=$(col umem$x $i) -v a=$(col postcopy$x $i) -v b=$(col postcopy_preempt$x $i) \
			'BEGIN { m = a < b ? a : b; if (m > 0) printf "%.2fx", u / m; else print "n/a" }')"
	done
done
[ -n "$json" ] && echo "# # json \"qemu\": {$json}"
huge_table
if [ -s $RUN/fault.umem.trace ]; then
	echo "#"
	echo "# Where umem's demand faults wait (the umem runs; microseconds)"
	awk -f "$T/fault-path.awk" $RUN/fault.umem.trace | sed 's/^/# /'
fi
tap_end
