#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module built against the debug kernel, for make check-debug and
# make fuzz: the kernel built or reused from TARBALL
# (selftests/runner/debug-kernel.sh), the module's sources SRC copied into
# DIR, a tree of its own so it never mixes objects with the main build,
# and built there.
#
#   debug-module.sh TARBALL DIR SRC...
set -eu
cd "$(dirname "$0")/.."

[ $# -ge 3 ] || { echo "usage: $0 TARBALL DIR SRC..." >&2; exit 2; }
debug_kernel=(selftests/runner/debug-kernel.sh --source "$1")
dir=$2
shift 2

"${debug_kernel[@]}" > /dev/null
rm -rf "$dir" && mkdir -p "$dir" && cp --parents "$@" "$dir/"
make -C "$("${debug_kernel[@]}" --dir)" M="$(pwd)/$dir" modules
