#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make stress's verdict from the VM's TAP: stress__mixed's own lines, then
# every test's "stress: N faults, N corrupted pages" added up.  Fails when
# a page was corrupted or fewer than MIN_FAULTS faults were served.
#
# usage: stress-summary.sh RESULTS_TAP MIN_FAULTS
[ $# = 2 ] || { echo "usage: $0 RESULTS_TAP MIN_FAULTS" >&2; exit 2; }
tr -d '\r' < "$1" | grep '^# selftests/umem/stress.c:.*:stress__mixed:' | cut -d: -f4-
tr -d '\r' < "$1" | awk -v min="$2" '
/^# stress: [0-9]+ faults, [0-9]+ corrupted pages$/ { f += $3; c += $5 }
END {
	printf "stress: %d faults, %d corrupted pages\n", f, c
	exit (c != 0 || f < min)
}'
