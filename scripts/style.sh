#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make style: checkpatch --strict from each kernel source tree given, then
# a W=1 C=2 (sparse) build of the module against each kernel build tree
# given, each in a copy of its own under OUT (a 7.x kernel's in its build
# root: scripts/in-root.sh).  Any checkpatch line, or a
# warning or error in a build, fails.  A 7.x kernel disables sparse
# unless it parses __typeof_unqual__ (scripts/checker-valid.sh, which
# Debian's headers lack): trixie's sparse 0.6.4 does not, sid's 0.6.5
# does.  So a 7.x tree gets a second, sparse-only build in the sid root,
# with the kernel's compiler, KBUILD_CHECKSRC=2 overriding the missing
# check.  --fetch brings a kernel release
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
	d=$out/module-$n log=$out/build-$n.log
	rm -rf "$d" && mkdir -p "$d" && cp --parents "${srcs[@]}" "$d/" || exit 1
	# A 7.x kernel builds in the Debian root its cache entry names.
	br=$(cat "$kd/../../../.build-root" 2>/dev/null)
	if [ -n "$br" ]; then
		echo "W=1 build (in the $br root) against $kd"
	else
		echo "W=1 C=2 (sparse) build against $kd"
	fi
	${br:+scripts/in-root.sh "$br"} make -s -C "$kd" M="$d" W=1 C=2 modules \
		> "$log" 2>&1 || { cat "$log"; exit 1; }
	if grep -E 'warning:|error:' "$log"; then
		echo "style: W=1 or sparse is not clean against $kd" >&2
		exit 1
	fi
	[ -n "$br" ] || continue
	echo "C=2 (sparse 0.6.5, in the sid root) build against $kd"
	scripts/build-root.sh sid --gcc-of "$kd" sparse || exit 1
	rm -rf "$d" && mkdir -p "$d" && cp --parents "${srcs[@]}" "$d/" || exit 1
	# The pahole of sid's root is not the kernel's: kbuild says so.
	scripts/in-root.sh sid make -s -C "$kd" M="$d" C=2 KBUILD_CHECKSRC=2 \
		modules 2>&1 | grep -v -e 'checker-valid.sh' -e 'sparse is not available' \
		-e 'pahole version differs' -e 'The kernel was built with' \
		-e 'You are using' > "$log"
	if [ "${PIPESTATUS[0]}" != 0 ] || grep -E 'warning:|error:' "$log"; then
		cat "$log"
		echo "style: sparse is not clean against $kd" >&2
		exit 1
	fi
done
echo "style: clean"
