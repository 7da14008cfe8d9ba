#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what a fresh Debian 12 machine lacks to build and test umem.
# Idempotent: when everything is there it does nothing and says nothing.
# Not root: prints the exact apt-get line and fails.
#   --deb  also what `make deb` and its CI step need (Debian's packaging
#          tools, lintian, dkms)
set -eu

pkgs=(
	# the kernel the test VM boots, its headers, and its sources (the
	# kselftest harness, checkpatch.pl, the debug kernel)
	linux-image-amd64 linux-headers-amd64 linux-source-6.1
	# the test VM and its initramfs
	qemu-system-x86 busybox-static kmod cpio gzip xz-utils
	# userspace: tools, selftests, the daemon
	build-essential liburing-dev
	# the wire protocol's page checksum (XXH3, header-only use)
	libxxhash-dev
	# building the debug kernel, and the style gates
	bc bison flex libelf-dev libssl-dev perl sparse
	# make bench: the scaling plot
	gnuplot-nox
	# the man pages (rst2man) and their check (man -l)
	python3-docutils man-db
)
if [ "${1:-}" = --deb ]; then
	pkgs+=(dpkg-dev debhelper dh-dkms dkms fakeroot lintian)
elif [ $# != 0 ]; then
	echo "usage: $0 [--deb]" >&2
	exit 2
fi

missing=()
for p in "${pkgs[@]}"; do
	case "$p" in \#*) continue ;; esac
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done
[ ${#missing[@]} = 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: as root, run:" >&2
	echo "  apt-get update && $line" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
$line
