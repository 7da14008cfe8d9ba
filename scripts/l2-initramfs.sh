#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The initramfs of the L2 guests that make demo, make check-qemu and make
# bench run under QEMU in the test VM: the host's busybox (static), INIT
# as /init and WORKLOAD as /workload (selftests/qemu/), built in a
# directory l2root beside OUT.
#
#   l2-initramfs.sh OUT WORKLOAD INIT
set -eu

[ $# = 3 ] || { echo "usage: $0 OUT WORKLOAD INIT" >&2; exit 2; }
out=$1 workload=$2 init=$3
root=$(dirname "$out")/l2root

rm -rf "$root" && mkdir -p "$root/bin" "$root/dev"
cp "$(command -v busybox)" "$root/bin/busybox"
cp "$init" "$root/init"
cp "$workload" "$root/workload"
chmod 755 "$root/init"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$out"
