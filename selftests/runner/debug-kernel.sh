#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the trimmed debug kernel for `make check-debug`.
#
#   debug-kernel.sh [--source TARBALL] [--root SUITE]        build if
#                                             needed; print the build tree
#   debug-kernel.sh [--source TARBALL] [--root SUITE] --dir  only print
#                                             where it lives
#
# The kernel is allnoconfig plus selftests/runner/debug.config, built from
# a kernel source tarball: --source, else $LINUX_SOURCE_TARBALL, else
# linux-source-6.1's from the cache (scripts/kernels.sh source 6.1; make
# check-debug-6.12 passes 6.12's, make check-debug-7.3 trixie-backports'
# 7.3; the fragment's symbols all hold there too).  --root builds it in
# that build root (scripts/in-root.sh): 7.3 needs trixie's gcc.  The
# result is cached outside the
# work tree, in $UMEM_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/umem),
# keyed by a hash of the fragment, the build recipe and the source tarball, so a
# second run is free and a changed fragment builds a new kernel.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fragment=$here/debug.config
tarball=${LINUX_SOURCE_TARBALL:-}
in_root=()
while [ $# -gt 0 ]; do
	case "$1" in
	--source | --root)
		[ $# -ge 2 ] || { echo "debug-kernel: $1 needs an argument" >&2; exit 1; }
		if [ "$1" = --source ]; then
			tarball=$2
		else
			root=$2
			in_root=("$here/../../scripts/in-root.sh" "$root")
		fi
		shift 2 ;;
	--dir) break ;;
	*) echo "debug-kernel: unknown argument '$1'" >&2; exit 1 ;;
	esac
done
cache=${UMEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/umem}
export UMEM_CACHE=$cache
[ -n "$tarball" ] || tarball=$("$here/../../scripts/kernels.sh" source 6.1)
jobs=${JOBS:-$(nproc)}

[ -r "$tarball" ] || { echo "debug-kernel: $tarball missing (scripts/kernels.sh source SERIES)" >&2; exit 1; }

# Bump when the way the kernel is built changes (not just the fragment).
recipe=1
key=$( { echo "$recipe"; cat "$fragment"; stat -c '%s %Y' "$tarball"; } | sha256sum | cut -c1-16)
dir=$cache/debug-kernel-$key

if [ "${1:-}" = --dir ]; then
	echo "$dir/src"
	exit 0
fi

# One build at a time: a second caller (another make in another tree)
# waits for the first and reuses its result rather than deleting the tree
# under it.
mkdir -p "$cache"
exec 9> "$cache/.lock-$key"
if ! flock -n 9; then
	echo "debug-kernel: waiting for another build of $dir" >&2
	flock 9
fi

if [ -f "$dir/.done" ]; then
	echo "debug-kernel: reusing cached build $dir" >&2
	echo "$dir/src"
	exit 0
fi

start=$(date +%s)
rm -rf "$dir"
mkdir -p "$dir/src"
echo "debug-kernel: extracting $tarball" >&2
tar -xf "$tarball" -C "$dir/src" --strip-components=1

cd "$dir/src"
# A kernel's own build needs more than a module's.
[ ${#in_root[@]} = 0 ] ||
	"$here/../../scripts/build-root.sh" "$root" flex bison bc cpio
echo "debug-kernel: allnoconfig + $(basename "$fragment")" >&2
# A copy in the tree: a build root sees the tree, not this script's.
cp "$fragment" .umem-debug.config
"${in_root[@]}" make -s allnoconfig KCONFIG_ALLCONFIG=.umem-debug.config >&2

# Every symbol in the fragment must have kept its value; a silently dropped
# option (unmet dependency) would leave a debug kernel that checks less than
# it claims.  A symbol this kernel no longer has is named and passed over
# (7.x folded PROC_SYSCTL into SYSCTL).
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) ;;
	*) continue ;;
	esac
	sym=${line%%=*}
	want=${line#*=}
	got=$(grep -E "^$sym=" .config | cut -d= -f2- || true)
	if [ -z "$got" ] &&
	   ! grep -rqsx --include='Kconfig*' "config ${sym#CONFIG_}" .; then
		echo "debug-kernel: $sym: not in this kernel" >&2
		continue
	fi
	if [ "$want" != "$got" ]; then
		echo "debug-kernel: $sym wanted '$want', got '${got:-unset}'" >&2
		bad=1
	fi
done < "$fragment"
[ "$bad" = 0 ] || exit 1

echo "debug-kernel: building bzImage and modules with -j$jobs" >&2
"${in_root[@]}" make -s -j"$jobs" bzImage modules >&2
touch "$dir/.done"
echo "debug-kernel: built in $(( $(date +%s) - start ))s: $dir" >&2
echo "$dir/src"
