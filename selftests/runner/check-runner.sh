#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prove that the VM runner can fail.  Five boots, each of which must be
# reported as a failed run, for the right reason:
#  1. a deliberately failing selftest (and its passing sibling);
#  2. a selftest that never ends, with a short per-binary timeout;
#  3. a module that WARNs when loaded, with a passing selftest;
#  4. a guest that falls silent (the hanging selftest, with a per-binary
#     timeout longer than the stall watchdog's): its vCPUs' instruction
#     pointers dumped by kernel symbol, killed, booted once more with a
#     RETRY line, and failed when it stalls again;
#  5. a kernel that panics before the init runs (no init to run): booted
#     once more with a RETRY line, and failed when it crashes again.
# And one that must pass: a guest whose heartbeat stops for a while
# (HEARTBEAT_TEST) is kicked once, and says so.
#
# usage: check-runner.sh "RUN_VM" UMEM_KO FAIL_TEST HANG_TEST SPLAT_KO PASS_TEST HEARTBEAT_TEST
set -u
run_vm=$1 umem_ko=$2 fail_test=$3 hang_test=$4 splat_ko=$5 pass_test=$6 beat_test=$7
out=build/vm/check-runner
passed=0 failed=0

# expect NAME RC LOG PATTERN...: the run in LOG (exit status RC) must have
# failed, and every PATTERN must appear in its output.  With WANT=pass
# in the environment, it must have passed.
expect() {
	local name=$1 rc=$2 log=$3 ok=1
	shift 3
	if [ "${WANT:-fail}" = fail ] && [ "$rc" = 0 ]; then
		echo "check-runner: $name: the runner reported success" >&2
		ok=0
	elif [ "${WANT:-fail}" = pass ] && [ "$rc" != 0 ]; then
		echo "check-runner: $name: the runner reported failure" >&2
		ok=0
	fi
	for p in "$@"; do
		if ! grep -qE -- "$p" "$log"; then
			echo "check-runner: $name: no line matching '$p'" >&2
			ok=0
		fi
	done
	if [ $ok = 1 ]; then
		echo "PASS check-runner.$name"
		passed=$((passed + 1))
	else
		echo "FAIL check-runner.$name (output: $log)"
		failed=$((failed + 1))
	fi
}

mkdir -p $out
$run_vm --name failing-test --out $out/failing-test --module "$umem_ko" \
	--test "$fail_test" > $out/failing-test.log 2>&1
expect failing-test $? $out/failing-test.log \
	'^FAIL global.runner__must_fail' '^PASS global.runner__passes' '^[0-9]+ passed, [1-9][0-9]* failed'

$run_vm --name hanging-test --out $out/hanging-test --module "$umem_ko" \
	--test-timeout 5 --test "$hang_test" > $out/hanging-test.log 2>&1
expect hanging-test $? $out/hanging-test.log \
	'^FAIL hang_test \(SIGKILL: per-test timeout\)' '^PASS runner.rmmod.umem' \
	'^[0-9]+ passed, [1-9][0-9]* failed'

$run_vm --name warn-module --out $out/warn-module --module "$umem_ko" \
	--module "$splat_ko" --test "$pass_test" > $out/warn-module.log 2>&1
expect warn-module $? $out/warn-module.log \
	'^FAIL runner.kernel-log.*WARNING' '^FAIL host.console-splat' \
	'^PASS runner.insmod.umem_splat' '^[0-9]+ passed, [1-9][0-9]* failed'

$run_vm --name stalled-guest --out $out/stalled-guest --module "$umem_ko" \
	--test-timeout 600 --stall 20 --test "$hang_test" > $out/stalled-guest.log 2>&1
rc=$?
# The stalled boot's console: sysrq's backtraces of both CPUs, and the
# hanging test among the blocked tasks or the backtraces.
grep -h 'NMI backtrace for cpu\|sysrq: Show' $out/stalled-guest/stalled/console.log \
	>> $out/stalled-guest.log 2> /dev/null
expect stalled-guest $rc $out/stalled-guest.log \
	'^run-vm: stalled-guest: RETRY: the guest stalled' \
	'^run-vm: stalled guest, sample 2: cpu0 [0-9a-zx_.+]+, cpu1 ' \
	'^run-vm: stalled guest: sysrq l and w sent' \
	'^FAIL runner.guest \(stalled: no TAP output for 20s\)' \
	'^FLAKE runner.guest-stalled' '^[0-9]+ passed, [1-9][0-9]* failed' \
	'NMI backtrace for cpu 1' 'sysrq: Show Blocked State'

# A kernel that cannot find its init panics before the init writes a
# line: booted once more, said so, and failed when it crashes again.
$run_vm --name crashed-boot --out $out/crashed-boot --module "$umem_ko" \
	--append "rdinit=/nonexistent" --test "$pass_test" > $out/crashed-boot.log 2>&1
expect crashed-boot $? $out/crashed-boot.log \
	'^run-vm: crashed-boot: RETRY: the kernel crashed in its boot, before the init ran .*: Kernel panic' \
	'^FLAKE runner.guest-crashed: the first boot crashed in its boot' \
	'^[0-9]+ passed, [1-9][0-9]* failed'

$run_vm --name kicked-guest --out $out/kicked-guest --module "$umem_ko" \
	--test "$beat_test" > $out/kicked-guest.log 2>&1
WANT=pass expect kicked-guest $? $out/kicked-guest.log \
	'^run-vm: kicked-guest: KICK: no heartbeat for 1[0-9]s; a key press \(kick 1\)' \
	'^run-vm: kicked-guest: KICK: the heartbeat came back [0-9]+s after the key press' \
	'^PASS runner__heartbeat_stops' '^KICK runner.guest-wedged: kicks 1:' \
	'^[0-9]+ passed, 0 failed'

echo "$passed passed, $failed failed"
[ $failed = 0 ]
