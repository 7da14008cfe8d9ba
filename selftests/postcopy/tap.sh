#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The one harness of the shell tests (postcopy.sh, qemu.sh, the real-guest
# bench), sourced.  TAP on stdout.
#
#   tap_start AREA   the TAP header; tests are named AREA.NAME
#   run NAME FUNC    one test: FUNC returns 0 for a pass, 4 to skip (the
#                    kernel lacks what it tests), anything else for a
#                    failure; it says why in ERR.  ONLY=ERE (make ...
#                    ONLY=ERE) runs only the tests whose NAME matches; the
#                    others are reported skipped.
#   tap_end          the plan and the tally; false if a test failed
#
# Around each attempt run calls the hooks the script defines: test_setup
# before, test_diag after a failure (to print its logs), test_cleanup
# after.  TAP_RETRY=1: a failed test runs once more, loudly: a RETRY line,
# then a pass is reported as a FLAKE and counted in the tally, never
# hidden; a second failure fails.

tap_start() {
	TAP_AREA=$1
	TAP_N=0 TAP_FAILED=0 TAP_SKIPPED=0 TAP_FLAKES=0
	ERR=
	echo "TAP version 13"
}

tap_hook() {
	command -v "$1" > /dev/null 2>&1 || return 0
	"$@"
}

# tap_attempt NAME FUNC: one attempt, timed, between the hooks
tap_attempt() {
	local _tap_t0 _tap_rc

	ERR=
	_tap_t0=$(date +%s)
	tap_hook test_setup "$1"
	"$2"
	_tap_rc=$?
	if [ $_tap_rc = 0 ] || [ $_tap_rc = 4 ]; then
		echo "# $TAP_AREA.$1: $(($(date +%s) - _tap_t0)) s"
	else
		echo "# $TAP_AREA.$1: FAILED${ERR:+: $ERR}"
		tap_hook test_diag "$1"
	fi
	tap_hook test_cleanup "$1"
	return $_tap_rc
}

# (The test's name is spelled out, not kept in a local: the test's own
# functions run in its scope.)
run() {
	TAP_N=$((TAP_N + 1))
	echo "#  RUN $TAP_AREA.$1"
	if [ -n "${ONLY:-}" ] && ! echo "$1" | grep -q -E "$ONLY"; then
		echo "ok $TAP_N # SKIP not selected by ONLY=$ONLY"
		TAP_SKIPPED=$((TAP_SKIPPED + 1))
		return 0
	fi
	tap_attempt "$1" "$2"
	case $? in
	0) echo "ok $TAP_N $TAP_AREA.$1"; return 0 ;;
	4)
		echo "ok $TAP_N # SKIP ${ERR:-skipped}"
		TAP_SKIPPED=$((TAP_SKIPPED + 1))
		return 0
		;;
	esac
	if [ "${TAP_RETRY:-0}" = 1 ]; then
		echo "# $TAP_AREA.$1: RETRY: the first attempt failed${ERR:+ ($ERR)}; running it once more"
		if tap_attempt "$1" "$2"; then
			echo "ok $TAP_N $TAP_AREA.$1 (FLAKE: passed on the second attempt, the first failed: see RETRY)"
			TAP_FLAKES=$((TAP_FLAKES + 1))
			return 0
		fi
	fi
	echo "not ok $TAP_N $TAP_AREA.$1"
	TAP_FAILED=$((TAP_FAILED + 1))
	return 1
}

tap_end() {
	echo "1..$TAP_N"
	[ $TAP_FLAKES = 0 ] ||
		echo "# $TAP_AREA: NOTE: $TAP_FLAKES test(s) failed once and passed on the second attempt (FLAKE above)"
	echo "# $TAP_AREA: $((TAP_N - TAP_FAILED - TAP_SKIPPED)) passed, $TAP_FAILED failed, $TAP_SKIPPED skipped"
	[ $TAP_FAILED = 0 ]
}
