#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A newer QEMU for the real-guest tests, in the cache: the VMM that runs
# the L2 guests inside the test VM.  Debian's packages, downloaded with
# apt-get download and extracted with dpkg-deb -x, never installed: the
# host's own QEMU (7.2, Debian 12's) stays the outer emulator.
#
#   qemu-fetch.sh 10    bookworm-backports' qemu-system-x86 (10.0);
#                       print its root, $UMEM_CACHE/qemu/VERSION
#
# The root holds usr/bin/qemu-system-x86_64 and the firmware at the paths
# compiled into it (usr/share/qemu, usr/share/seabios: the backport needs
# a newer SeaBIOS than Debian 12's).  run-vm.sh --qemu-root ROOT carries
# them into the test VM at those paths.  Its libraries are Debian 12's
# (the backport is built against them): the host's, which qemu-system-x86
# brings in (make deps).
set -euo pipefail
. "$(dirname "$0")/cache.sh"

cache=${UMEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/umem}

die() {
	echo "qemu-fetch: $*" >&2
	exit 1
}

[ $# = 1 ] || { echo "usage: $0 10" >&2; exit 2; }
case "$1" in
10) suite=bookworm-backports ;;
*) die "unknown QEMU '$1' (10)" ;;
esac

# The candidate version of PACKAGE in $suite.
suite_version() {
	apt-cache madison "$1" | awk -v s="$suite" '$0 ~ s"/" { print $3; exit }'
}

ver=$(suite_version qemu-system-x86)
[ -n "$ver" ] || die "no qemu-system-x86 in $suite (is it in apt's sources? make deps adds it)"
root=$cache/qemu/${ver#*:}
if [ -x "$root/usr/bin/qemu-system-x86_64" ]; then
	echo "$root"
	exit 0
fi

cache_lock "$root"
[ -x "$root/usr/bin/qemu-system-x86_64" ] && { echo "$root"; exit 0; }

tmp=$(mktemp -d "$cache/qemu/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pkgs=()
for p in qemu-system-x86 qemu-system-common qemu-system-data seabios; do
	v=$(suite_version "$p")
	pkgs+=("$p${v:+=$v}")
done
apt_download "$tmp" "${pkgs[@]}"
mkdir "$tmp/root"
for d in "$tmp"/*.deb; do
	dpkg-deb -x "$d" "$tmp/root"
done
missing=$(ldd "$tmp/root/usr/bin/qemu-system-x86_64" | awk '/not found/ { print $1 }')
[ -z "$missing" ] ||
	die "QEMU $1 needs libraries this host lacks: $missing (apt-get install qemu-system-x86 brings them)"
"$tmp/root/usr/bin/qemu-system-x86_64" --version > /dev/null ||
	die "the extracted qemu-system-x86_64 does not run"
rm -rf "$root"
mv "$tmp/root" "$root"
echo "$root"
