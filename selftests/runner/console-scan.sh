#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-vm.sh's scan of the whole guest console: it sees panics and anything
# printed after the guest's own scan of its log (init).
#
#   console-scan.sh CONSOLE OUT
#
# The console, filtered (splat-filter.awk) into OUT/console.filtered, is
# matched against splat-patterns (the matches: OUT/splats.log).  Prints
# "PASS host.console-splat", or "FAIL host.console-splat: LINE" and the
# console around the first splat, and then fails.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
console=$1 out=$2
filtered=$out/console.filtered

awk -f "$here/splat-filter.awk" "$console" > "$filtered"
if ! grep -n -E -f "$here/splat-patterns" "$filtered" > "$out/splats.log"; then
	echo "PASS host.console-splat"
	exit 0
fi

echo "FAIL host.console-splat: $(head -n 1 "$out/splats.log" | cut -d: -f2-)"
echo "---- console around the first splat ----"
first=$(head -n 1 "$out/splats.log" | cut -d: -f1)
# The whole report, to its "end trace" line: the frame that started it is
# at the bottom of the call trace.  A long one (a recursion) shows its
# head and its last 75 lines.
end=$(awk -v f="$first" 'NR > f && /---\[ end trace/ { print NR; exit }' "$filtered")
[ -n "$end" ] || end=$((first + 40))
from=$(( first > 5 ? first - 5 : 1 ))
if [ $((end - first)) -le 130 ]; then
	sed -n "$from,$(( end + 2 ))p" "$filtered"
else
	sed -n "$from,$(( first + 25 ))p" "$filtered"
	echo "[... $((end - first - 100)) lines: $filtered ...]"
	sed -n "$(( end - 74 )),$(( end + 2 ))p" "$filtered"
fi
echo "----"
exit 1
