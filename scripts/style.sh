#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make style: checkpatch --strict from each kernel source tree given, then
# a W=1 C=2 (sparse) build of the module against each kernel build tree
# given, each in a copy of its own under OUT (a 7.x kernel's in its build
# root: scripts/in-root.sh).  Any checkpatch line, or a
# warning or error in a build, fails.  --fetch brings a kernel release
# into the cache first (scripts/kernels.sh fetch).
#
#   style.sh --out OUT [--fetch RELEASE]... [--checkpatch TREE]...
#            [--kdir KDIR]... -- SRC...
#
# SRC are the module's sources (copied for the builds); checkpatch reads
# the .c and .h files among them, with two exceptions: umem/compat.h
# alone may read LINUX_VERSION_CODE (one macro, UMEM_KERNEL_SINCE), and
# umem/trace.h has the TRACE_EVENT layout of include/trace/events (TP_*(
# at a line's end, arguments indented by a tab).
set -u
cd "$(dirname "$0")/.." || exit 1

out="" fetch=() cps=() kdirs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	case "$1" in
	--out) out=$2; shift ;;
	--fetch) fetch+=("$2"); shift ;;
	--checkpatch) cps+=("$2"); shift ;;
	--kdir) kdirs+=("$2"); shift ;;
	*) echo "usage: $0 --out OUT [--fetch RELEASE]... [--checkpatch TREE]..." \
		"[--kdir KDIR]... -- SRC..." >&2
	   exit 2 ;;
	esac
	shift
done
shift
[ -n "$out" ] || { echo "style: --out missing" >&2; exit 2; }
for k in "${fetch[@]}"; do
	scripts/kernels.sh fetch "$k" > /dev/null || exit 1
done
srcs=("$@")
mkdir -p "$out"
out=$(cd "$out" && pwd)

checked=()
for f in "${srcs[@]}"; do
	case "$f" in
	umem/compat.h | umem/trace.h) ;;
	*.c | *.h) checked+=("$f") ;;
	esac
done
opts=(--strict --no-tree --quiet --show-types)
for cp in "${cps[@]}"; do
	echo "checkpatch --strict ($cp): ${checked[*]} umem/compat.h umem/trace.h"
	log=$out/checkpatch.log
	{ "$cp/scripts/checkpatch.pl" "${opts[@]}" -f "${checked[@]}"
	  "$cp/scripts/checkpatch.pl" "${opts[@]}" --ignore LINUX_VERSION_CODE \
		-f umem/compat.h
	  "$cp/scripts/checkpatch.pl" "${opts[@]}" \
		--ignore OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT -f umem/trace.h
	} > "$log" 2>&1
	if [ -s "$log" ]; then
		cat "$log"
		echo "style: checkpatch is not clean" >&2
		exit 1
	fi
done

n=0
for kd in "${kdirs[@]}"; do
	n=$((n + 1))
	echo "W=1 C=2 (sparse) build against $kd"
	d=$out/module-$n log=$out/build-$n.log
	rm -rf "$d" && mkdir -p "$d" && cp --parents "${srcs[@]}" "$d/" || exit 1
	# A 7.x kernel builds in the Debian root its cache entry names.
	br=$(cat "$kd/../../../.build-root" 2>/dev/null)
	${br:+scripts/in-root.sh "$br"} make -s -C "$kd" M="$d" W=1 C=2 modules \
		> "$log" 2>&1 || { cat "$log"; exit 1; }
	if grep -E 'warning:|error:' "$log"; then
		echo "style: W=1 or sparse is not clean against $kd" >&2
		exit 1
	fi
done
echo "style: clean"
