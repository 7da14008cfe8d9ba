#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module built against the debug kernel, for make check-debug and
# make fuzz: the kernel built or reused from TARBALL
# (selftests/runner/debug-kernel.sh), the module's sources SRC copied into
# DIR, a tree of its own so it never mixes objects with the main build,
# and built there.  With --root, both are built in that build root
# (scripts/in-root.sh): make check-debug-7.3's kernel needs trixie's gcc.
#
#   debug-module.sh [--root SUITE] TARBALL DIR SRC...
set -eu
cd "$(dirname "$0")/.."

suite=""
if [ "${1:-}" = --root ]; then
	suite=$2
	shift 2
fi
[ $# -ge 3 ] || { echo "usage: $0 [--root SUITE] TARBALL DIR SRC..." >&2; exit 2; }
debug_kernel=(selftests/runner/debug-kernel.sh --source "$1" ${suite:+--root "$suite"})
dir=$2
shift 2

"${debug_kernel[@]}" > /dev/null
kdir=$("${debug_kernel[@]}" --dir)
rm -rf "$dir" && mkdir -p "$dir" && cp --parents "$@" "$dir/"
${suite:+scripts/in-root.sh --bind "$kdir" "$suite"} \
	make -C "$kdir" M="$(pwd)/$dir" modules
