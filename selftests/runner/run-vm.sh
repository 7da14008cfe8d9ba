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
#
# Its parts, each in a file of its own here:
#   initramfs.sh     the guest's initramfs; its /init is ./init
#   guest.sh         boots the guest under the stall watchdog, and once
#                    more when it stalls or its kernel crashes in its boot
#   stall-dump.py    where a stalled guest's vCPUs are
#   kick.py          a key press for a guest whose heartbeat stopped
#   monitor.py       qemu's human monitor, for the two above
#   tap-progress.sh  --show-tap: the TAP as it arrives, umemd's progress
#                    as a bar
#   tap-summary.awk  the TAP into results
#   console-scan.sh  the console against splat-patterns
# shellcheck source-path=SCRIPTDIR
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/initramfs.sh"
. "$here/guest.sh"

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

die() {
	echo "run-vm: $*" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}

kernel="" modules=() tests=() files=() envs=() filter="" show_tap=0 smp=2 mem=2G cpu=max append=""
test_timeout=300 vm_timeout=1200 stall="" out=build/vm name=tests verbose=0 shell=0
with_qemu=0 qroot=""
parse_args() {
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
	[ -n "$kernel" ] || usage
}

# check_host: what the host must have; sets busybox.
check_host() {
	[ -r "$kernel" ] || die "kernel image $kernel not readable"
	busybox=$(command -v busybox || echo /bin/busybox)
	case "$(ldd "$busybox" 2>&1)" in
	*"not a dynamic"*) ;;
	*) die "$busybox is not static (apt-get install busybox-static)" ;;
	esac
	command -v qemu-system-x86_64 > /dev/null ||
		die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
}

# select_tests: the test binaries --filter lets through, into selected.
select_tests() {
	local t
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
}

# summarise: the TAP into PASS/FAIL/SKIP lines; sets passed, failed and
# skipped.
summarise() {
	local report
	touch "$results"
	report=$(tr -d '\r' < "$results" | awk -v qrc="$qrc" -v timeout="$vm_timeout" \
		-v stall="$stall" -f "$here/tap-summary.awk")
	echo "$report" | grep -v '^#counts'
	read -r _ passed failed skipped < <(echo "$report" | grep '^#counts')
}

# scan_console: the host scans the whole console as well: it sees panics
# and anything printed after the guest's own scan.
scan_console() {
	if "$here/console-scan.sh" "$console" "$out"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
}

verdict() {
	if [ "$failed" != 0 ] && [ "$verbose" = 0 ]; then
		echo "---- last lines of $console ----"
		tail -n 30 "$console"
		echo "----"
	fi
	if [ "$kicks" != 0 ]; then
		echo "KICK runner.guest-wedged: kicks $kicks: the guest's heartbeat stopped, and a key press went in (the KICK lines above)"
	fi
	if [ -n "$retried" ]; then
		echo "FLAKE runner.guest-$retry_why: the first boot $retry_why in $retried (logs: $out/$retry_why); the results above are the second boot's"
	fi
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
}

main() {
	parse_args "$@"
	check_host
	select_tests
	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	build_initramfs
	guest_setup
	boot_guest
	summarise
	scan_console
	verdict
}

main "$@"
