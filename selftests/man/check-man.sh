#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-man.sh PAGE...: each man page renders with `man -l` and groff's
# warnings on, without a single warning, and has its NAME, SYNOPSIS and
# SEE ALSO sections.  TAP, then "N passed, N failed".
set -uo pipefail

command -v man > /dev/null || { echo "check-man: man missing (apt-get install man-db)" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: $0 PAGE..." >&2; exit 2; }

n=0 passed=0 failed=0
echo "1..$#"
for page in "$@"; do
	n=$((n + 1))
	name=$(basename "$page")
	if [ ! -r "$page" ]; then
		echo "not ok $n man.$name # missing"
		failed=$((failed + 1))
		continue
	fi
	# --warnings=w: every groff warning category; stderr must stay empty.
	out=$(mktemp) err=$(mktemp)
	LC_ALL=C.UTF-8 MANWIDTH=80 \
		man --warnings=w -E UTF-8 -l "$page" > "$out" 2> "$err"
	rc=$?
	bad=""
	[ "$rc" = 0 ] || bad="man exited $rc"
	[ -s "$err" ] && bad="${bad:+$bad; }warnings"
	for sect in NAME SYNOPSIS "SEE ALSO"; do
		grep -q "^$sect\$" "$out" || bad="${bad:+$bad; }no $sect section"
	done
	if [ -z "$bad" ]; then
		echo "ok $n man.$name"
		passed=$((passed + 1))
	else
		echo "not ok $n man.$name # $bad"
		sed 's/^/#   /' "$err"
		failed=$((failed + 1))
	fi
	rm -f "$out" "$err"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
