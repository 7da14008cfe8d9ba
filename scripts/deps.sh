#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what a fresh Debian 12 machine lacks to build and test umem.
# Idempotent: when everything is there it does nothing and says nothing.
# Not root: prints the exact commands and fails.
#   --deb  also what `make deb` and its CI step need (Debian's packaging
#          tools, lintian)
#   --headers RELEASE
#          also linux-headers-RELEASE, system-wide: make check-deb's DKMS
#          builds for the host's headers (the headers only, no image)
#
# No test kernel is installed here: scripts/kernels.sh downloads and
# extracts each into a cache when a target first needs it.
set -eu

pkgs=(
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
	# building the debug kernel, and the style gates; pahole (dwarves):
	# 6.12's kbuild makes each module's BTF with it
	bc bison flex libelf-dev libssl-dev perl sparse dwarves
	# make bench: the scaling plot
	gnuplot-nox
	# the man pages (rst2man) and their check (man -l)
	python3-docutils man-db
	# the DKMS test (.ci/run, make check-dkms)
	dkms
)
while [ $# != 0 ]; do
	case "$1" in
	--deb) pkgs+=(dpkg-dev debhelper dh-dkms fakeroot lintian) ;;
	--headers)
		[ $# -ge 2 ] && [ -n "$2" ] || { echo "deps: --headers RELEASE" >&2; exit 2; }
		pkgs+=("linux-headers-$2")
		shift ;;
	*) echo "usage: $0 [--deb] [--headers RELEASE]" >&2
	   exit 2 ;;
	esac
	shift
done

# Debian 12 ships 6.12 in the bookworm-backports suite (and, for the
# security support of 6.1's successor, in bookworm-security as linux-6.12):
# scripts/kernels.sh fetches it from either.  Backports' own
# linux-image-amd64 is pinned low by its Release file (NotAutomatic), so
# it never replaces 6.1 as the default kernel.
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
have_backports || need_bpo=1
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
