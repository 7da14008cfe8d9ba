#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# postcopy: end-to-end migrations with umemctl source, umemd and umemctl
# vmm, between two network namespaces of the test VM.  TAP on stdout.
# Each test gets a fresh source and VMM; their logs are printed on
# failure.  ONLY=ERE runs only the tests whose name matches (tap.sh,
# the harness).  Every migration runs over TLS with the
# credentials of mkcreds.sh (creds.tar) unless a test says otherwise:
# SRC_SEC and DST_SEC are the source's and umemd's security options.

T=$(dirname "$0")
. "$T/tap.sh"
. "$T/netns.sh"
. "$T/trace.sh"
PORT=4444
SRC=$SRC_IP:$PORT
UMEMCTL=$T/umemctl
UMEMD=$T/umemd
# $RUN: the run's files; $log: the current test's logs.
RUN=${RUN:-/tmp/postcopy}
log=$RUN/log
mkdir -p $log
CREDS=$RUN/tls
mkdir -p $CREDS && tar xf "$T/creds.tar" -C $CREDS

diag() {
	sed 's/^/#   /' "$@"
}

# The harness's hooks: each test starts with no logs and with TLS; on a
# failure its logs are printed; the source is stopped after it.
test_setup() {
	rm -f $log/*
	SRC_SEC="--tls-creds $CREDS/good"
	DST_SEC="--tls-creds $CREDS/good"
}

test_diag() {
	local f

	for f in $log/*; do
		[ -s "$f" ] && { echo "# --- $f"; diag "$f"; }
	done
}

test_cleanup() {
	stop_source
}

# start_source ARGS...: a source on the source host, in the background.
start_source() {
	# nsenter may fork: the shell records the source's own pid.
	on_src sh -c 'echo $$ > "$0"; exec "$@"' $RUN/source.pid \
		$UMEMCTL source --listen $SRC $SRC_SEC "$@" > $log/source 2>&1 &
	SRC_WAIT=$!
	sleep 0.3
}

stop_source() {
	if [ -n "$SRC_WAIT" ]; then
		kill -9 "$(cat $RUN/source.pid)" 2>/dev/null
		wait $SRC_WAIT 2>/dev/null
		SRC_WAIT=""
	fi
}

# vmm ARGS...: the VMM on the destination host; sets rc.
vmm() {
	on_dst $UMEMCTL vmm --umemd $UMEMD --umemd-arg --progress=none $DST_SEC "$@" \
		> $log/vmm 2>&1
	rc=$?
	return $rc
}

# vmm2 ARGS...: a second destination's VMM, beside the first; sets rc2.
vmm2() {
	on_dst $UMEMCTL vmm --umemd $UMEMD --umemd-arg --progress=none $DST_SEC "$@" \
		> $log/vmm2 2>&1
	rc2=$?
}

expect() {
	if ! grep -q -- "$1" $log/*; then
		echo "# expected '$1' in the logs"
		return 1
	fi
}

# expect_in LOG TEXT: TEXT in $log/LOG
expect_in() {
	if ! grep -q -- "$2" $log/$1; then
		echo "# expected '$2' in the $1 log"
		return 1
	fi
}

# not_in LOG TEXT: TEXT nowhere in $log/LOG
not_in() {
	if grep -q -- "$2" $log/$1; then
		echo "# did not expect '$2' in the $1 log"
		return 1
	fi
}

expect_rc() {
	if [ "$rc" != "$1" ]; then
		echo "# exit status $rc, expected $1"
		return 1
	fi
}

t_happy() {
	start_source --image pattern:16M:7
	vmm --image pattern:16M:7 --source $SRC --vcpus 4 --ops 4000
	expect_rc 0 && expect "every page OK" && expect "umemd: complete"
}

# umemd --trace and umem's tracepoints give every step of a demand fault,
# and fault-path.awk joins them: every step has pages.
t_fault_path() {
	start_source --image pattern:16M:17
	trace_start
	vmm --image pattern:16M:17 --source $SRC --vcpus 2 --ops 2000 \
		--umemd-arg --trace
	trace_stop $log/trace
	awk -f "$T/fault-path.awk" $log/trace > $log/path
	diag $log/path
	expect_rc 0 && expect "every page OK" &&
		grep -q 'tracing_mark_write: umemd req' $log/trace &&
		awk '$1 ~ /_to_|total/ && $2 + 0 < 1 { bad = 1 }
		     $1 ~ /_to_|total/ { seen++ }
		     END { exit bad || seen != 7 }' $log/path
}

# A UMEM_INIT_HUGE region: umemd collapses each 2 MiB extent it completes
# (all 8 by the end) in the VMM's mm (process_madvise), every page
# verifies, and after completion at least 95% of guest RAM is PMD-mapped
# in the VMM, on 6.1 too, where MADV_COLLAPSE retracts only the page
# table of the mm it runs in: the extents the vCPUs touched before they
# were whole count (Documentation/umem.rst, "Huge pages").  PREEMPT_RT has
# no THP: nothing to check.
t_huge() {
	if ! [ -d /sys/kernel/mm/transparent_hugepage ]; then
		echo "# no transparent huge pages (PREEMPT_RT): nothing to check"
		return 0
	fi
	start_source --image pattern:16M:7
	vmm --image pattern:16M:7 --source $SRC --vcpus 4 --ops 4000 --huge
	expect_rc 0 && expect "every page OK" &&
		expect "umemd: 8 of 8 extents collapsed into huge pages (0 on umemd's own mapping)" ||
		return 1
	kb=$(sed -n 's/.*huge: \([0-9]*\) of .*/\1/p' $log/vmm)
	echo "# PMD-mapped after completion: ${kb:-?} of 16384 kB"
	[ "${kb:-0}" -ge $((16384 * 95 / 100)) ]
}

# Every CPU busy at nice 0 through the migration: umemd's collapse worker
# runs at nice 19 (a blocked fault waits for its page, a collapse only
# speeds the guest up later), so it gets only what CPU is left, and umemd
# collapses what it did not reach once the region is complete: all 8
# extents still end huge, in the VMM's mm, and umemd's summary says how
# many the worker did, and at what nice value (Documentation/umemctl.rst,
# "umemd").
t_huge_busy_cpus() {
	local i hogs=""

	if ! [ -d /sys/kernel/mm/transparent_hugepage ]; then
		echo "# no transparent huge pages (PREEMPT_RT): nothing to check"
		return 0
	fi
	for i in $(seq $(nproc)); do
		sh -c 'while :; do :; done' &
		hogs="$hogs $!"
	done
	start_source --image pattern:16M:23
	vmm --image pattern:16M:23 --source $SRC --vcpus 4 --ops 4000 --huge
	kill $hogs 2>/dev/null
	wait $hogs 2>/dev/null
	expect_rc 0 && expect "every page OK" &&
		expect "umemd: 8 of 8 extents collapsed into huge pages (0 on umemd's own mapping)" &&
		expect "umemd: [0-8] of them by the collapse worker at nice 19, the rest after the completion"
}

# umemd completes the region and lets the source go before it collapses
# what is left: a umemd that dies then (here a wrapper exits 1 after the
# real umemd's 0, and kills the source first) is restarted by the VMM,
# and the new one adopts a region with every page present: it must not
# need the source, which is gone, and must exit 0.
t_huge_adopt_complete() {
	if ! [ -d /sys/kernel/mm/transparent_hugepage ]; then
		echo "# no transparent huge pages (PREEMPT_RT): nothing to check"
		return 0
	fi
	cat > $RUN/umemd-dies-late <<-EOF || return 1
	#!/bin/sh
	[ -e $RUN/umemd-died ] && exec $UMEMD "\$@"
	$UMEMD "\$@" || exit
	touch $RUN/umemd-died
	kill -9 \$(cat $RUN/source.pid)
	exit 1
	EOF
	chmod 755 $RUN/umemd-dies-late
	rm -f $RUN/umemd-died
	start_source --image pattern:16M:29
	vmm --image pattern:16M:29 --source $SRC --vcpus 4 --ops 4000 --huge \
		--umemd $RUN/umemd-dies-late
	expect_rc 0 && expect "every page OK" &&
		expect "umemd: every page is present already: no source needed" &&
		[ "$(grep -c "8 of 8 extents collapsed into huge pages (0 on" $log/vmm)" = 2 ]
}

# umemd cannot see the VMM (its /proc is an empty tmpfs, in a mount
# namespace of its own: unlike a pid namespace, that needs no kernel
# option, and the debug kernel has none): it collapses each extent on
# its own mapping instead, as umemd did before it collapsed in the VMM's
# mm, says so once, and counts them.
# On 6.5 and later the collapse retracts the VMM's page tables too: at
# least 95% PMD-mapped there; 6.1 retracts only umemd's, and the VMM maps
# the extents its vCPUs touched before they were whole by PTEs: the
# figure is only reported.
t_huge_own_mapping() {
	if ! [ -d /sys/kernel/mm/transparent_hugepage ]; then
		echo "# no transparent huge pages (PREEMPT_RT): nothing to check"
		return 0
	fi
	cat > $RUN/umemd-noproc <<-EOF || return 1
	#!/bin/sh
	exec unshare -m sh -c 'mount -t tmpfs none /proc && exec "\$0" "\$@"' $UMEMD "\$@"
	EOF
	chmod 755 $RUN/umemd-noproc
	start_source --image pattern:16M:13
	vmm --image pattern:16M:13 --source $SRC --vcpus 4 --ops 4000 --huge \
		--umemd $RUN/umemd-noproc
	expect_rc 0 && expect "every page OK" &&
		expect "umemd: 8 of 8 extents collapsed into huge pages (8 on umemd's own mapping)" &&
		[ "$(grep -c "collapsing extents on umemd's own mapping" $log/vmm)" = 1 ] ||
		return 1
	kb=$(sed -n 's/.*huge: \([0-9]*\) of .*/\1/p' $log/vmm)
	echo "# PMD-mapped after completion: ${kb:-?} of 16384 kB"
	case $(uname -r) in
	6.[0-4].*|[0-5].*) return 0 ;;
	esac
	[ "${kb:-0}" -ge $((16384 * 95 / 100)) ]
}

# The background stream finishes the 2 MiB extent a request lands in,
# its tail and then its head, then those of the requests before it
# (source.c): an extent the guest works in is whole, so umemd collapses
# it, soon after the fault rather than when the stream comes round.
# stream-order.c is the destination: it takes 64 pages of the stream,
# requests pages in extents of the 8 (3583: the last page of extent 6),
# and counts the background pages until those extents are whole: 511 a
# request, and a few the source had on their way before.
t_stream_extent_first() {
	SRC_SEC=--insecure
	stream_order 640 2860 &&
		stream_order 1152 2860 1100 &&
		stream_order 1664 2860 1100 3583
}

# stream_order MAX PAGE...: the extents of PAGE... whole after MAX pages
stream_order() {
	local max=$1 n

	shift
	start_source --image pattern:16M:5 --rate 8
	on_dst $T/stream-order $SRC $((16 << 20)) 64 "$@" > $log/order 2>&1
	rc=$?
	stop_source
	sed 's/^/# /' $log/order
	n=$(sed -n 's/.* whole \([0-9]*\) background .*/\1/p' $log/order)
	expect_rc 0 && [ "${n:-4096}" -le $max ]
}

# The source's RAM file on hugetlbfs, as a QEMU's RAM on huge pages is
# (mkimage writes it through a mapping: hugetlbfs has no write()): the
# source maps it as it maps any file, every page arrives in 4 KiB fills.
# 2 MiB pages: a 32 MiB image on 16 of them.  1 GiB pages: a 1 GiB image
# on one (a hugetlbfs file's size is whole pages), migrated into a VMM of
# 1 GiB.  Skips when the kernel gives no such page, or leaves no room for
# the VMM: a 1 GiB page needs 1 GiB of contiguous free memory, which the
# 2 GiB test VM lacks (make check-vm MEM=4G T=^postcopy$ runs it).
t_hugetlb_source() {
	local size_kb=$1 n=$2 pagesize=$3 mib=$4
	local hp=/sys/kernel/mm/hugepages/hugepages-${size_kb}kB/nr_hugepages
	local dir=$RUN/hugetlb ok=1 avail

	[ -w $hp ] || { ERR="no $pagesize hugetlbfs pages in this kernel or CPU"; return 4; }
	echo $n > $hp
	avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
	if [ "$(cat $hp)" -lt $n ] || [ $avail -lt $((mib + 256)) ]; then
		ERR="the kernel gave $(cat $hp) of $n $pagesize huge pages, $avail MiB left for a $mib MiB VMM"
		echo 0 > $hp
		return 4
	fi
	if mkdir -p $dir && mount -t hugetlbfs -o pagesize=$pagesize none $dir &&
	    $UMEMCTL mkimage $dir/ram pattern:${mib}M:37 > $log/mkimage 2>&1; then
		echo "# $(grep '^HugePages_[TF]\|^Hugetlb' /proc/meminfo | tr -s ' \n' ' ')"
		[ "$(cat ${hp%nr_hugepages}free_hugepages)" = 0 ] ||
			{ ERR="the image is not on the $n $pagesize huge pages"; ok=0; }
		start_source --image $dir/ram
		vmm --image pattern:${mib}M:37 --source $SRC --vcpus 4 --ops 4000
	else
		ERR="cannot write the image on hugetlbfs"
		ok=0
	fi
	stop_source
	umount $dir 2>/dev/null
	echo 0 > $hp
	[ $ok = 1 ] && expect_rc 0 && expect "every page OK"
}

t_hugetlb_2m() { t_hugetlb_source 2048 16 2M 32; }
t_hugetlb_1g() { t_hugetlb_source 1048576 1 1G 1024; }

# The VMM in a memory cgroup just above its guest RAM, umemd in one half
# of it (its sockets' buffers are charged there and may grow when it falls
# behind; the guest RAM would not fit): the guest RAM is charged to the
# VMM's, nobody is OOM-killed, every page arrives.  Skips without the
# memory controller.
t_memcg() {
	cg=/sys/fs/cgroup
	if ! [ -e $cg/cgroup.controllers ] && ! mount -t cgroup2 none $cg ||
	    ! grep -qw memory $cg/cgroup.controllers; then
		echo "# no cgroup2 memory controller: nothing to check"
		return 0
	fi
	echo +memory > $cg/cgroup.subtree_control || return 1
	mkdir -p $cg/pc-vmm $cg/pc-umemd || return 1
	echo $((48 << 20)) > $cg/pc-vmm/memory.max
	echo $((16 << 20)) > $cg/pc-umemd/memory.max
	printf '#!/bin/sh\necho 0 > %s/cgroup.procs && exec %s "$@"\n' \
		$cg/pc-umemd $UMEMD > $RUN/umemd-cg && chmod 755 $RUN/umemd-cg
	start_source --image pattern:32M:29
	(echo 0 > $cg/pc-vmm/cgroup.procs &&
		vmm --image pattern:32M:29 --source $SRC --vcpus 4 --ops 4000 \
			--umemd $RUN/umemd-cg)
	rc=$?
	for c in pc-vmm pc-umemd; do
		echo "# $c: memory.current $(($(cat $cg/$c/memory.current) >> 10)) KiB," \
			"peak $(($(cat $cg/$c/memory.peak) >> 10)) KiB," \
			"max $(($(cat $cg/$c/memory.max) >> 10)) KiB," \
			"$(grep -E '^(max|oom_kill) ' $cg/$c/memory.events | tr '\n' ' ')"
	done
	vmm_peak=$(cat $cg/pc-vmm/memory.peak)
	kills=$(grep -h oom_kill $cg/pc-vmm/memory.events $cg/pc-umemd/memory.events |
		awk '{ n += $2 } END { print n }')
	rmdir $cg/pc-vmm $cg/pc-umemd
	expect_rc 0 && expect "every page OK" && [ "$kills" = 0 ] &&
		[ "$vmm_peak" -ge $((32 << 20)) ]
}

# memcg_setup: the memory controller for pc-vmm and pc-umemd, and a
# umemd that runs in pc-umemd ($RUN/umemd-cg-stat) and, once it is done, with
# the VMM still holding the region, writes both cgroups' shmem counters
# to $log/memcg ("CGROUP KEY BYTES").  Returns 4 (skip) without it.
memcg_setup() {
	cg=/sys/fs/cgroup
	if ! [ -e $cg/cgroup.controllers ] && ! mount -t cgroup2 none $cg ||
	    ! grep -qw memory $cg/cgroup.controllers; then
		ERR="no cgroup2 memory controller"
		return 4
	fi
	echo +memory > $cg/cgroup.subtree_control || return 1
	mkdir -p $cg/pc-vmm $cg/pc-umemd || return 1
	printf '#!/bin/sh\necho 0 > %s/cgroup.procs || exit 1\n%s "$@"\nrc=$?\nfor c in pc-vmm pc-umemd; do\n\tgrep -E "^(shmem|shmem_thp|file_thp) " %s/$c/memory.stat | sed "s/^/$c /"\ndone > %s\nexit $rc\n' \
		$cg/pc-umemd $UMEMD $cg $log/memcg > $RUN/umemd-cg-stat &&
		chmod 755 $RUN/umemd-cg-stat
}

# memcg_stat CGROUP KEY: that counter of $log/memcg, in KiB
memcg_stat() {
	awk -v c=$1 -v k=$2 '$1 == c && $2 == k { print int($3 / 1024) }' $log/memcg
}

# A huge region with the VMM in one memory cgroup and umemd in another:
# umemd collapses each complete extent in the VMM's mm, so the huge pages
# are charged to the VMM's cgroup, as every page of the region is, and
# not to umemd's (before, MADV_COLLAPSE on umemd's own mapping charged
# all 16 MiB of huge pages to umemd and uncharged them from the VMM).
t_memcg_huge() {
	local s

	if ! [ -d /sys/kernel/mm/transparent_hugepage ]; then
		echo "# no transparent huge pages (PREEMPT_RT): nothing to check"
		return 0
	fi
	memcg_setup || return
	echo $((64 << 20)) > $cg/pc-vmm/memory.max
	echo $((64 << 20)) > $cg/pc-umemd/memory.max
	start_source --image pattern:16M:31
	(echo 0 > $cg/pc-vmm/cgroup.procs &&
		vmm --image pattern:16M:31 --source $SRC --vcpus 4 --ops 4000 \
			--huge --umemd $RUN/umemd-cg-stat)
	rc=$?
	for c in pc-vmm pc-umemd; do
		s=
		for k in shmem shmem_thp file_thp; do
			s="$s $k $(memcg_stat $c $k) KiB"
		done
		echo "# $c at completion:$s; peak $(($(cat $cg/$c/memory.peak) >> 10)) KiB"
	done
	rmdir $cg/pc-vmm $cg/pc-umemd
	expect_rc 0 && expect "every page OK" &&
		expect "umemd: 8 of 8 extents collapsed into huge pages (0 on" &&
		[ "$(memcg_stat pc-vmm shmem_thp)" -ge 16384 ] &&
		[ "$(memcg_stat pc-vmm shmem)" -ge 16384 ] &&
		[ "$(memcg_stat pc-umemd shmem_thp)" = 0 ] &&
		[ "$(memcg_stat pc-umemd shmem)" -lt 2048 ]
}

t_unix_handoff() {
	start_source --image pattern:8M:3
	vmm --image pattern:8M:3 --source $SRC --vcpus 2 --ops 2000 \
		--unix $RUN/handoff.sock
	expect_rc 0 && expect "every page OK"
}

t_net_down() {
	start_source --image pattern:16M:5 --rate 4
	# No prefetch: the throttled background stream sets the pace, so the
	# migration is still running when the wire is cut.
	vmm --image pattern:16M:5 --source $SRC --vcpus 3 --ops 3000 \
		--umemd-arg --net-timeout=700 --umemd-arg --window=0 &
	pid=$!
	sleep 1
	link_down
	sleep 2
	link_up
	wait $pid
	rc=$?
	expect_rc 0 && expect "reconnected" && expect "every page OK"
}

t_umemd_killed() {
	start_source --image pattern:16M:11 --rate 2
	vmm --image pattern:16M:11 --source $SRC --vcpus 2 --ops 1500 \
		--umemd-arg --window=0 &
	pid=$!
	sleep 1
	# Report a live region's stats on the way.
	victim=$(pidof umemd)
	[ -n "$victim" ] || { echo "# umemd already done: too fast"; return 1; }
	$UMEMCTL stat $victim > $log/stat 2>&1
	kill -9 $victim
	wait $pid
	rc=$?
	expect_rc 0 && expect "killed by signal 9" && expect "adopted a region" &&
		expect "every page OK" && expect "region of pid"
}

t_source_dies() {
	start_source --image pattern:16M:13 --rate 2
	vmm --image pattern:16M:13 --source $SRC --vcpus 4 --ops 100000 \
		--detach-timeout 1000 --umemd-arg --give-up=1500 &
	pid=$!
	sleep 1
	stop_source
	wait $pid
	rc=$?
	expect_rc 3 && expect "giving up" && expect "guest memory lost"
}

t_corrupt() {
	start_source --image pattern:16M:17 --corrupt 100 --corrupt 200:0
	vmm --image pattern:16M:17 --source $SRC --vcpus 2 --ops 2000
	# Page 200 can never arrive intact: poisoned, so the VMM exits 3.
	# Page 100's one bad copy counts unless a good copy (demanded on the
	# urgent channel) overtook it, which makes it a dropped duplicate.
	expect_rc 3 && expect "page 200 failed its checksum 4 times: poisoned" &&
		expect "1 poisoned (SIGBUS, never wrong data)" &&
		expect " [45] bad checksums"
}

t_duplicates() {
	start_source --image pattern:16M:19 --duplicates --rate 8
	vmm --image pattern:16M:19 --source $SRC --vcpus 4 --ops 6000
	expect_rc 0 && expect "every page OK" || return 1
	dups=$(sed -n 's/.* \([0-9]*\) duplicates dropped.*/\1/p' $log/vmm)
	echo "# $dups duplicates dropped"
	[ "${dups:-0}" -gt 0 ]
}

t_snapshot() {
	$UMEMCTL mkimage $RUN/snap.img pattern:16M:23 || return 1
	vmm --image $RUN/snap.img --snapshot $RUN/snap.img --vcpus 4 --ops 4000
	rm -f $RUN/snap.img
	expect_rc 0 && expect "every page OK"
}

t_source_unreachable() {
	vmm --image pattern:4M --source $SRC_IP:4999 --vcpus 1 --ops 100 \
		--umemd-arg --connect-timeout=1000
	expect_rc 1 && expect "cannot connect to source $SRC_IP:4999"
}

t_size_mismatch() {
	start_source --image pattern:16M
	vmm --image pattern:8M --source $SRC --vcpus 1 --ops 100
	expect_rc 1 && expect "the source's image is 16777216 bytes but the region is 8388608 bytes"
}

t_not_umem_fd() {
	$UMEMD --fd 0 --source $SRC --insecure < /dev/null > $log/umemd 2>&1
	rc=$?
	expect_rc 2 && expect "fd 0 is not a umem control fd"
}

t_help() {
	for c in "" info source vmm stat mkimage; do
		$UMEMCTL $c --help > $log/help 2>&1 || return 1
		grep -q "^usage: umemctl" $log/help || return 1
	done
	$UMEMD --help > $log/help 2>&1 && grep -q "^usage: umemd" $log/help
}

# umemd fails before it serves the region, every time: a region never
# served has no detach deadline, so the VMM itself must give up, and say
# so, rather than leave its vCPUs waiting for ever.
t_umemd_never_serves() {
	on_dst timeout 120 $UMEMCTL vmm --umemd /bin/false --max-restarts 2 \
		--image pattern:4M --source $SRC --vcpus 2 --ops 100 > $log/vmm 2>&1
	rc=$?
	expect_rc 1 && expect "umemd failed 3 times; giving up" &&
		expect "no umemd ever served guest RAM (see above); stopping the guest"
}

t_no_module() {
	rmmod umem || return 1
	vmm --image pattern:4M --source $SRC --vcpus 1 --ops 10
	insmod /modules/umem.ko || return 1
	expect_rc 2 && expect "/dev/umem (is the umem module loaded?)"
}

# ---- TLS (Documentation/umemctl.rst, "Security") ----

# The right credentials: the migration completes over kernel TLS, each
# side names the other's certificate.
t_tls_ktls() {
	if ! [ -d /sys/module/tls ]; then
		echo "# no kernel TLS in this kernel: the fallback is tls__user_space"
		return 0
	fi
	start_source --image pattern:16M:31 --verbose
	vmm --image pattern:16M:31 --source $SRC --vcpus 4 --ops 4000 \
		--umemd-arg --verbose
	expect_rc 0 && expect "every page OK" &&
		expect_in source "TLS: CN=umem-destination,O=umem tests, TLSv1.3 .*, kernel TLS" &&
		expect_in vmm "TLS: CN=umem-source,O=umem tests, TLSv1.3 .*, kernel TLS" &&
		not_in source "kernel TLS unavailable" && not_in vmm "kernel TLS unavailable"
}

# The same with the records in user space on both sides (the fallback).
t_tls_user() {
	start_source --image pattern:16M:37 --verbose --tls-no-ktls
	vmm --image pattern:16M:37 --source $SRC --vcpus 4 --ops 4000 \
		--umemd-arg --verbose --tls-no-ktls
	expect_rc 0 && expect "every page OK" &&
		expect_in source "TLS: CN=umem-destination.*, user-space TLS" &&
		expect_in vmm "TLS: CN=umem-source.*, user-space TLS"
}

# refused SRC-REASON DST-REASON: umemd exits 2 (the vmm 1), both sides say
# why, and not one wire record went either way: no channel came up.
refused() {
	start_source --image pattern:4M:41 --verbose
	vmm --image pattern:4M:41 --source $SRC --vcpus 1 --ops 100
	expect_rc 1 && expect_in source "$1" && expect_in vmm "$2" &&
		not_in source "channel up" && not_in vmm "umemd: complete"
}

t_tls_no_cert() {
	DST_SEC="--tls-creds $CREDS/nocert"
	refused "TLS refused: .*peer did not return a certificate" \
		"TLS with $SRC refused: .*certificate required"
}

t_tls_other_ca() {
	DST_SEC="--tls-creds $CREDS/otherca"
	refused "TLS refused: the peer's certificate: unable to get local issuer certificate" \
		"TLS with $SRC refused: .*unknown ca"
}

t_tls_expired() {
	DST_SEC="--tls-creds $CREDS/expired"
	refused "TLS refused: the peer's certificate: certificate has expired" \
		"TLS with $SRC refused: .*certificate expired"
}

# umemd without TLS to a TLS source, and the reverse.
t_tls_plain_client() {
	DST_SEC=--insecure
	refused "TLS refused: the peer does not speak TLS" \
		"closed the connection at the hello: does the source want TLS"
}

t_tls_plain_source() {
	SRC_SEC=--insecure
	refused "a TLS client, but this source runs without TLS: refused" \
		"TLS with $SRC refused: the peer does not speak TLS"
}

# Without credentials both refuse to start; with --insecure they work and
# each warns once.
t_tls_insecure() {
	SRC_SEC=""
	start_source --image pattern:8M:43
	wait $SRC_WAIT
	rc=$?
	SRC_WAIT=""
	expect_rc 2 && expect_in source "refusing to serve guest memory without TLS" ||
		return 1
	DST_SEC=""
	vmm --image pattern:8M:43 --source $SRC --vcpus 1 --ops 100
	expect_rc 1 && expect_in vmm "refusing to fetch guest memory without TLS" ||
		return 1
	SRC_SEC=--insecure
	DST_SEC=--insecure
	start_source --image pattern:8M:43
	vmm --image pattern:8M:43 --source $SRC --vcpus 2 --ops 2000
	expect_rc 0 && expect "every page OK" &&
		[ "$(grep -c 'WARNING: --insecure' $log/source)" = 1 ] &&
		expect_in vmm "umemd: WARNING: --insecure"
}

# PSK (QEMU's keys.psk), no PKI: a migration over kernel TLS.
t_tls_psk() {
	SRC_SEC="--tls-creds $CREDS/psk"
	DST_SEC="--tls-creds $CREDS/psk"
	start_source --image pattern:16M:61 --verbose
	vmm --image pattern:16M:61 --source $SRC --vcpus 4 --ops 4000 \
		--umemd-arg --verbose
	expect_rc 0 && expect "every page OK" &&
		expect_in source "TLS: PSK username qemu, TLSv1.3 TLS_AES_128_GCM_SHA256" &&
		expect_in vmm "TLS: PSK, TLSv1.3 TLS_AES_128_GCM_SHA256"
}

t_tls_psk_wrong_key() {
	SRC_SEC="--tls-creds $CREDS/psk"
	DST_SEC="--tls-creds $CREDS/pskwrong"
	refused "TLS refused: the peer's key for its PSK username is not the one in keys.psk" \
		"TLS with $SRC refused: .*is the key of 'qemu' in keys.psk the source's?"
}

# --tls-authz: a certificate of the right CA with another subject is
# refused (both sides say so), the allowed one migrates; and umemd's own
# list refuses a source it does not name.
t_tls_authz() {
	start_source --image pattern:8M:59 --verbose \
		--tls-authz "CN=umem-destination,O=umem tests"
	DST_SEC="--tls-creds $CREDS/intruder"
	vmm --image pattern:8M:59 --source $SRC --vcpus 1 --ops 100
	expect_rc 1 &&
		expect_in source "TLS refused: the peer 'CN=umem-intruder,O=umem tests' is not in --tls-authz" &&
		expect_in vmm "does not allow this destination's name, 'CN=umem-intruder,O=umem tests'" &&
		not_in source "channel up" || return 1
	DST_SEC="--tls-creds $CREDS/good"
	vmm --image pattern:8M:59 --source $SRC --vcpus 1 --ops 100 \
		--umemd-arg --tls-authz=CN=umem-other-source
	expect_rc 1 &&
		expect_in vmm "the source 'CN=umem-source,O=umem tests' is not in --tls-authz" &&
		not_in source "channel up" || return 1
	vmm --image pattern:8M:59 --source $SRC --vcpus 2 --ops 1000 \
		--umemd-arg "--tls-authz=CN=umem-source,O=umem tests"
	expect_rc 0 && expect_in vmm "every page OK"
}

# A bit flipped in a TLS record on the wire (relay.c between the hosts, in
# the background channel's downstream): the record fails its AEAD tag in
# umemd's TLS (the kernel's, or the user-space pump's), the connection
# fails and comes back, and no bad page reaches the guest; its page
# checksum never even sees one.
t_tls_corrupt_record() {
	start_source --image pattern:16M:67 --rate 8 --verbose
	on_src sh -c 'echo $$ > "$0"; exec "$@"' $RUN/relay.pid \
		$T/relay $SRC_IP:4445 $SRC 2 1000000 > $log/relay 2>&1 &
	relay=$!
	sleep 0.3
	vmm --image pattern:16M:67 --source $SRC_IP:4445 --vcpus 2 --ops 2000 \
		--umemd-arg --verbose
	kill "$(cat $RUN/relay.pid)" 2>/dev/null
	wait $relay 2>/dev/null
	# Kernel TLS fails the record with EBADMSG; the user-space pump (a
	# kernel without the tls module: the debug kernel) drops the session.
	why="Bad message"
	grep -q "kernel TLS unavailable" $log/vmm && why="connection closed"
	expect_rc 0 && expect_in vmm "every page OK" &&
		expect_in relay "relay: flipped a bit at byte 1000000" &&
		expect_in vmm "umemd: background channel: $why; reconnecting" &&
		expect_in vmm "reconnected" && expect_in vmm " 0 bad checksums" &&
		[ "$(grep -c 'background channel up' $log/source)" -ge 2 ]
}

# ---- one destination per migration ----

# A second destination during a live migration: refused, both sides say
# so, and the first goes on without as much as a reconnect (a long
# --net-timeout: a loaded host must not starve it into one).
t_second_destination() {
	start_source --image pattern:16M:47 --rate 4 --verbose
	vmm --image pattern:16M:47 --source $SRC --vcpus 2 --ops 2000 \
		--umemd-arg --window=0 --umemd-arg --net-timeout=10000 &
	pid=$!
	sleep 1.5
	vmm2 --image pattern:16M:47 --source $SRC --vcpus 1 --ops 100
	wait $pid
	rc=$?
	expect_rc 0 && expect_in vmm "every page OK" && expect_in vmm " 0 reconnects" &&
		[ "$rc2" = 1 ] &&
		expect_in vmm2 "serves another destination's migration: refused" &&
		expect_in source "refused: the migration belongs to another destination" &&
		not_in vmm2 "umemd: complete"
}

# --takeover: the second destination gets the migration, the first stops.
t_takeover() {
	start_source --image pattern:16M:53 --rate 4 --verbose
	vmm --image pattern:16M:53 --source $SRC --vcpus 2 --ops 2000 \
		--umemd-arg --window=0 &
	pid=$!
	sleep 1.5
	vmm2 --image pattern:16M:53 --source $SRC --vcpus 2 --ops 2000 \
		--umemd-arg --takeover
	wait $pid
	rc=$?
	[ "$rc2" = 0 ] && expect_in vmm2 "every page OK" &&
		expect_rc 1 && expect_in vmm "another destination took the migration over" &&
		expect_in source "takes the migration over from the destination it had"
}

tap_start postcopy
if ! net_up > $log/net 2>&1; then
	diag $log/net
	echo "Bail out! cannot set up the network namespaces"
	exit 1
fi
run migrate__happy t_happy
run trace__fault_path t_fault_path
run migrate__unix_handoff t_unix_handoff
run migrate__memcg t_memcg
run migrate__memcg_huge t_memcg_huge
run migrate__huge t_huge
run migrate__huge_own_mapping t_huge_own_mapping
run migrate__huge_busy_cpus t_huge_busy_cpus
run migrate__huge_adopt_complete t_huge_adopt_complete
run stream__extent_first t_stream_extent_first
run migrate__hugetlb_source t_hugetlb_2m
run migrate__hugetlb_1g_source t_hugetlb_1g
run migrate__net_down t_net_down
run migrate__umemd_killed t_umemd_killed
run migrate__source_dies t_source_dies
run wire__corrupt_page t_corrupt
run wire__duplicates t_duplicates
run snapshot__restore t_snapshot
run input__source_unreachable t_source_unreachable
run input__size_mismatch t_size_mismatch
run input__not_umem_fd t_not_umem_fd
run input__help t_help
run input__umemd_never_serves t_umemd_never_serves
run input__no_module t_no_module
run tls__ktls t_tls_ktls
run tls__user_space t_tls_user
run tls__no_client_cert t_tls_no_cert
run tls__other_ca t_tls_other_ca
run tls__expired_cert t_tls_expired
run tls__plain_client t_tls_plain_client
run tls__plain_source t_tls_plain_source
run tls__insecure t_tls_insecure
run tls__psk t_tls_psk
run tls__psk_wrong_key t_tls_psk_wrong_key
run tls__authz t_tls_authz
run tls__corrupt_record t_tls_corrupt_record
run session__busy t_second_destination
run session__takeover t_takeover
net_down
tap_end
