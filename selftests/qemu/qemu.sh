#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# qemu: failures during a real live migration onto umem (make check-qemu).
# Each test boots a real guest under QEMU on the source host, migrates it
# with the two commands users run (umemctl incoming, umemctl migrate) to a
# destination QEMU whose RAM is a umemfs file, breaks something, and asks
# the guest's own workload for its verdict.  TAP on stdout.
#
# Before the switchover: the migration fails cleanly, the guest runs on
# at the source and verifies there.
#   qemu.dst_unreachable  'migrate' to a port where no QEMU listens
#   qemu.caps_refused     QEMU refuses x-ignore-shared (postcopy-ram was
#                         left on): nothing starts
#   qemu.dst_killed       the destination QEMU killed while armed
# After it, while the RAM is still on its way:
#   qemu.umemd_killed   kill -9 umemd; umemctl incoming starts a new one,
#                       which re-adopts the region: the guest verifies
#   qemu.net_down       the veth down 3 s: umemd reconnects, the guest
#                       verifies
#   qemu.huge           the destination's umemfs mounted huge=advise:
#                       once the RAM is whole, 95% or more of what QEMU
#                       maps of it is mapped by 2 MiB pages; the guest
#                       verifies
#   qemu.source_dies    the source (QEMU, the tool, its RAM server) killed
#                       for good: umemd gives up, the detach deadline
#                       passes; the destination QEMU must exit, stop, or
#                       (QEMU 10) report MEMORY_FAILURE on QMP while the
#                       guest makes no progress; never run on with
#                       zero-filled memory

T=$(dirname "$0")
. "$T/tap.sh"
. "$T/netns.sh"
# The settings (make check-qemu passes them: run-vm.sh --env).
: "${GUEST_MIB:?}" "${WORK_MIB:?}"
. "$T/lib.sh"

# The background stream slowed (umemctl source --rate, MiB/s) so that
# the RAM is still arriving when the fault is injected.
RATE=8

# The harness (tap.sh) runs a failed test once more, saying so: a nested
# guest under TCG stalls or fails its boot now and then (seen: the
# destination guest stopped after umemd's re-adopt completed the RAM, no
# verdict in 180 s; a source guest reset during its boot).
TAP_RETRY=1
test_diag() { mig_diag; }
test_cleanup() { mig_cleanup; }

# start_migration DETACH_MS [INCOMING ARGS]: up to the guest running on
# the destination, its RAM arriving slowly.
start_migration() {
	umem_mount $1 || return 1
	shift
	mig_prepare $MNT/vm || return 1
	MIGRATE_ARGS="--server-arg=--rate=$RATE" INCOMING_ARGS="$*"
	mig_switch || return 1
	echo "# the guest runs on the destination $(elapsed $T_START $T_RESUME) s after 'migrate'"
}

# finish_ok: the region completes; the guest verifies every page.
finish_ok() {
	wait $INCOMING_PID
	rc=$?
	INCOMING_PID=""
	[ $rc = 0 ] || { ERR="umemctl incoming exit status $rc: $(tail -n 1 $RUN/incoming.log)"; return 1; }
	grep -A 5 'umemctl incoming: complete' $RUN/incoming.log | sed 's/^/# /'
	l2_stop dst 180
	vrc=$?
	echo "# guest: $VERDICT"
	[ $vrc = 0 ] || { ERR="the guest's verdict: $VERDICT"; return 1; }
}

# source_survives TOOL WHAT: the tool TOOL (migrate or incoming) failed
# with status 1 or 2 and said WHAT (an ERE); the guest still runs on the
# source, and verifies there.
source_survives() {
	grep "umemctl $1:" $RUN/$1.log | tail -n 2 | sed 's/^/# /'
	grep -q -E "$2" $RUN/$1.log || { ERR="umemctl $1 did not say '$2'"; return 1; }
	st=$(qmp src --get status query-status)
	[ "$st" = running ] || { ERR="the source guest is '$st', not running"; return 1; }
	l2_stop src 180
	vrc=$?
	echo "# source guest: $VERDICT"
	[ $vrc = 0 ] || { ERR="the source guest's verdict: $VERDICT"; return 1; }
}

# tool_status PID SECS: the exit status of a background tool, or 255
tool_status() {
	local end

	end=$(($(date +%s) + $2))
	while kill -0 $1 2>/dev/null && [ $(date +%s) -lt $end ]; do
		sleep 0.2
	done
	kill -0 $1 2>/dev/null && return 255
	wait $1
}

t_dst_unreachable() {
	umem_mount 30000 || return 1
	mig_prepare $MNT/vm || return 1
	rm -f $RUN/incoming.log $RUN/migrate.log
	incoming_start
	# The RAM transport arms, then QEMU's own connection is refused.
	on_src "$T/umemctl" migrate --qmp $RUN/src.qmp --to tcp:$DST_IP:$((MIG_PORT + 1)) \
		--listen $SRC_IP:$UMEM_PORT --tls-creds $CREDS/good --progress line \
		> $RUN/migrate.log 2>&1 &
	MIGRATE_PID=$!
	tool_status $MIGRATE_PID 180
	rc=$?
	MIGRATE_PID=""
	[ $rc = 1 ] || { ERR="umemctl migrate exit status $rc, expected 1"; return 1; }
	source_survives migrate 'the guest runs here|guest is .running. here'
}

t_caps_refused() {
	umem_mount 30000 || return 1
	mig_prepare $MNT/vm || return 1
	rm -f $RUN/migrate.log
	# An operator's leftover: postcopy-ram excludes x-ignore-shared.
	caps src postcopy-ram || { ERR="cannot set postcopy-ram"; return 1; }
	migrate_start --arm-timeout 10
	tool_status $MIGRATE_PID 60
	rc=$?
	MIGRATE_PID=""
	[ $rc = 2 ] || { ERR="umemctl migrate exit status $rc, expected 2"; return 1; }
	grep -q 'RAM server' $RUN/migrate.log && { ERR="the RAM server started"; return 1; }
	source_survives migrate 'refused the capabilities.*not compatible'
}

t_dst_killed() {
	umem_mount 30000 || return 1
	mig_prepare $MNT/vm || return 1
	rm -f $RUN/incoming.log $RUN/migrate.log
	incoming_start
	wait_line $RUN/incoming.log 'umemd: connected|connects to the source' 60 ||
		{ ERR="umemctl incoming did not start umemd"; return 1; }
	l2_kill dst
	echo "# destination QEMU killed before the switchover"
	tool_status $INCOMING_PID 30
	rc=$?
	INCOMING_PID=""
	echo "# umemctl incoming: exit status $rc: $(grep 'umemctl incoming:' $RUN/incoming.log | tail -n 1)"
	[ $rc = 1 ] || [ $rc = 4 ] || { ERR="umemctl incoming exit status $rc, expected 1 or 4"; return 1; }
	migrate_start --arm-timeout 5
	tool_status $MIGRATE_PID 60
	rc=$?
	MIGRATE_PID=""
	[ $rc = 1 ] || { ERR="umemctl migrate exit status $rc, expected 1"; return 1; }
	source_survives migrate 'no destination connected|the guest runs here|guest is .running. here'
}

t_umemd_killed() {
	start_migration 30000 || return 1
	sleep 2
	p=$(pidof umemd)
	[ -n "$p" ] || { ERR="umemd already gone before the kill"; return 1; }
	kill -9 $p
	echo "# killed umemd ($p) $(elapsed $T_RESUME) s after the switchover; heartbeat $(heartbeat dst)"
	finish_ok || return 1
	grep -q 'restarting it' $RUN/incoming.log ||
		{ ERR="umemctl incoming did not restart umemd"; return 1; }
	grep -q 'adopted a region with' $RUN/incoming.log ||
		{ ERR="the new umemd did not re-adopt"; return 1; }
	grep -E 'restarting it|adopted a region with' $RUN/incoming.log | sed 's/^/# /'
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
	grep -q 'reconnected' $RUN/incoming.log || { ERR="umemd never reconnected"; return 1; }
	grep 'reconnected' $RUN/incoming.log | sed 's/^/# /'
}

# QEMU advises MADV_HUGEPAGE on guest RAM, which huge=advise honours.
# Faults stay 4 KiB; umemd collapses each extent it completes, also those
# the guest touched before (Documentation/umem.rst, "Huge pages"), every
# one in QEMU's mm, none on umemd's own mapping: also those in a part of
# guest RAM the guest never touched yet, where QEMU has no page table
# (guest RAM that crosses a 1 GiB line has none above it).  What
# QEMU maps afterwards is what the guest touches after the completion:
# its workload and, at random, all of its WORK_MIB ("tlb").
t_huge() {
	local kb

	if ! [ -d /sys/kernel/mm/transparent_hugepage ]; then
		ERR="no transparent huge pages in this kernel (PREEMPT_RT)"
		return 4
	fi
	start_migration 30000,huge=advise || return 1
	wait $INCOMING_PID
	rc=$?
	INCOMING_PID=""
	[ $rc = 0 ] || { ERR="umemctl incoming exit status $rc: $(tail -n 1 $RUN/incoming.log)"; return 1; }
	grep "umemd: .* extents collapsed\|umemd's own mapping, from" $RUN/incoming.log |
		sed 's/^/# /'
	grep -q 'umemd: \([0-9]*\) of \1 extents collapsed into huge pages (0 on' $RUN/incoming.log ||
		{ ERR="umemd did not collapse every extent in QEMU's mm"; return 1; }
	l2_tlb dst > /dev/null || { ERR="the guest did not run its random reads"; return 1; }
	kb=$(pmd_mapped dst '^/umem')
	echo "# QEMU's mapping of the guest's RAM: ${kb% *} of ${kb#* } kB mapped are PMD-mapped"
	[ "${kb#* }" -ge $((WORK_MIB * 512)) ] ||
		{ ERR="QEMU maps only ${kb#* } kB of the guest's RAM"; return 1; }
	[ $((${kb% *} * 100)) -ge $((${kb#* } * 95)) ] ||
		{ ERR="only ${kb% *} of ${kb#* } kB are PMD-mapped, below 95%"; return 1; }
	l2_stop dst 180 || { ERR="the guest's verdict: $VERDICT"; return 1; }
	echo "# guest: $VERDICT"
}

t_source_dies() {
	start_migration 3000 --server-arg=--give-up=2000 || return 1
	sleep 2
	kill -9 $MIGRATE_PID "$(server_pid)"
	l2_kill src
	echo "# source killed at heartbeat $(heartbeat dst)"
	wait $INCOMING_PID
	rc=$?
	INCOMING_PID=""
	echo "# umemctl incoming: exit status $rc: $(grep 'umemctl incoming:' $RUN/incoming.log | tail -n 1)"
	[ $rc = 3 ] || { ERR="umemctl incoming exit status $rc, expected 3 (source lost)"; return 1; }
	# The detach deadline (3 s) passes; the next fault on a missing
	# page fails.  Give QEMU 60 s to exit or to stop (QEMU 7.2), or to
	# report the memory failure (QEMU 10).
	end=$(($(date +%s) + 60))
	st=""
	while [ $(date +%s) -lt $end ]; do
		alive dst || break
		st=$(qmp dst --get status query-status 2>/dev/null)
		case "$st" in
		running|"") ;;
		*) break ;;
		esac
		sleep 0.5
	done
	if alive dst && [ "$st" = running ] &&
	   $QMP --find $RUN/dst.events MEMORY_FAILURE > /dev/null; then
		# QEMU 10 injects a machine check for each fault on a lost
		# page and runs the vCPU again: the guest stays on that
		# access (QEMU's stderr repeats its address), and QMP's
		# MEMORY_FAILURE tells the management layer to end it.  Its
		# heartbeat (a line a second while it runs) must stand still.
		hb=$(heartbeat dst)
		sleep 10
		if [ "$(heartbeat dst)" != "$hb" ]; then
			ERR="the guest ran on after QEMU's MEMORY_FAILURE"
			return 1
		fi
		what="QEMU injected machine checks and reported MEMORY_FAILURE on QMP; no heartbeat for 10 s"
		st=memory-failure
	elif alive dst; then
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

tap_start qemu
# Whatever happens, no QEMU outlives the script: the runner unloads kvm.
trap 'mig_cleanup; net_down' EXIT
if ! net_up > $RUN/net.log 2>&1; then
	sed 's/^/# /' $RUN/net.log
	echo "not ok 1 qemu.setup # cannot set up the network namespaces"
	exit 1
fi
run dst_unreachable t_dst_unreachable
run caps_refused t_caps_refused
run dst_killed t_dst_killed
run umemd_killed t_umemd_killed
run net_down t_net_down
run huge t_huge
run source_dies t_source_dies
tap_end
