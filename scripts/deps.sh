#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what a fresh Debian 12 machine lacks to build and test umem.
# Idempotent: when everything is there it does nothing and says nothing.
# Not root: prints the exact commands and fails.
#   --deb  also what `make deb` and its CI step need (Debian's packaging
#          tools, lintian)
#
# KERNELS= chooses the test kernels (default: all of them), by the names
# the Makefile's targets use:
#   6.1      Debian 12's own kernel: make check
#   6.12     the 6.12 LTS from bookworm-backports: make check-6.12
#   rt       6.1 with PREEMPT_RT: make check-rt
#   6.12-rt  6.12 with PREEMPT_RT: make check-6.12-rt
# Each brings its image and headers only; 6.12 also its source tarball
# (the kselftest harness and checkpatch.pl are extracted from 6.1's, the
# 6.12 one is there to read and for the 6.12 debug kernel).
set -eu

KERNELS=${KERNELS:-6.1 6.12 rt 6.12-rt}

pkgs=(
	# the kselftest harness, checkpatch.pl, the debug kernel
	linux-source-6.1
	# the test VM and its initramfs
	qemu-system-x86 busybox-static kmod cpio gzip xz-utils
	# userspace: tools, selftests, the daemon
	build-essential liburing-dev
	# the wire protocol's page checksum (XXH3, header-only use)
	libxxhash-dev
	# QMP, the migration tool's conversation with QEMU (static archive)
	libjson-c-dev
	# TLS on the migration channels: OpenSSL's static archives (libssl-dev,
	# below), and certtool for the tests' credentials
	gnutls-bin
	# building the debug kernel, and the style gates
	bc bison flex libelf-dev libssl-dev perl sparse
	# make bench: the scaling plot
	gnuplot-nox
	# the man pages (rst2man) and their check (man -l)
	python3-docutils man-db
	# the DKMS test (.ci/run, make check-dkms)
	dkms
)
if [ "${1:-}" = --deb ]; then
	pkgs+=(dpkg-dev debhelper dh-dkms fakeroot lintian)
elif [ $# != 0 ]; then
	echo "usage: $0 [--deb]" >&2
	exit 2
fi
backports=0
for k in $KERNELS; do
	case "$k" in
	6.1) pkgs+=(linux-image-amd64 linux-headers-amd64) ;;
	rt) pkgs+=(linux-image-rt-amd64 linux-headers-rt-amd64) ;;
	6.12) pkgs+=(linux-image-6.12-amd64 linux-headers-6.12-amd64
		     linux-source-6.12); backports=1 ;;
	6.12-rt) pkgs+=(linux-image-6.12-rt-amd64 linux-headers-6.12-rt-amd64)
		 backports=1 ;;
	*) echo "deps: unknown kernel '$k' in KERNELS (6.1 6.12 rt 6.12-rt)" >&2
	   exit 1 ;;
	esac
done

# Debian 12 ships 6.12 in the bookworm-backports suite (and, for the
# security support of 6.1's successor, in bookworm-security as linux-6.12).
# Backports' own linux-image-amd64 is pinned low by its Release file
# (NotAutomatic), so it never replaces 6.1 as the default kernel.
BPO_FILE=/etc/apt/sources.list.d/bookworm-backports.sources
have_backports() {
	grep -rqs 'bookworm-backports' /etc/apt/sources.list \
		/etc/apt/sources.list.d/
}

missing=()
for p in "${pkgs[@]}"; do
	case "$p" in \#*) continue ;; esac
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done
need_bpo=0
[ $backports = 1 ] && ! have_backports && need_bpo=1
[ ${#missing[@]} = 0 ] && [ $need_bpo = 0 ] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	[ ${#missing[@]} != 0 ] &&
		echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: as root, run:" >&2
	if [ $need_bpo = 1 ]; then
		echo "  printf '%s\\n' 'Types: deb'" \
		     "'URIs: http://deb.debian.org/debian'" \
		     "'Suites: bookworm-backports' 'Components: main'" \
		     "'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'" \
		     "> $BPO_FILE" >&2
	fi
	echo "  apt-get update && $line" >&2
	exit 1
fi
if [ $need_bpo = 1 ]; then
	echo "deps: adding bookworm-backports to apt's sources ($BPO_FILE)"
	cat > "$BPO_FILE" <<-EOF
	Types: deb
	URIs: http://deb.debian.org/debian
	Suites: bookworm-backports
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
[ ${#missing[@]} = 0 ] && exit 0
echo "deps: installing ${missing[*]}"
$line
