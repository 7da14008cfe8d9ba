#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Make (once) a Debian build root that kernels the host cannot build for
# build their modules in: 7.x's kbuild tools need a newer glibc and gcc
# than Debian 12 has.  debootstrap fetches it from Debian's archive;
# nothing prebuilt is downloaded.
#
#   scripts/build-root.sh SUITE [--gcc-of KDIR] [PACKAGE...]
#       makes $UMEM_CACHE/SUITE, and adds the PACKAGEs it lacks; --gcc-of
#       adds the gcc that KDIR's kernel was built with (kbuild calls it
#       by that name: x86_64-linux-gnu-gcc-N comes with gcc-N)
#
# SUITE is trixie (Debian 13: gcc-14, for trixie-backports' kernels) or
# sid (for sid's kernel, built with sid's gcc).  scripts/kernel-fetch.sh
# adds the compiler a kernel was built with, when it is not the suite's
# default.  The root is made beside its place and renamed into it when
# complete, under a lock, so an interrupted or concurrent run never leaves
# half a root.  The trixie root's apt also knows trixie-backports and
# sid: scripts/kernel-fetch.sh downloads every kernel there (apt-get
# download only: nothing but the tools below is installed).  Needs root.
set -eu

suite=${1:-}
shift || true
pkgs=()
if [ "${1:-}" = --gcc-of ]; then
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$2/.config")
	cc=${cc#x86_64-linux-gnu-}
	pkgs+=(${cc:+"$cc"})
	shift 2
fi
pkgs+=("$@")
case "$suite" in
trixie|sid) ;;
*) echo "build-root: unknown suite '$suite' (trixie, sid)" >&2; exit 1 ;;
esac
cache=${UMEM_CACHE:-$HOME/.cache/umem}
. "$(dirname "$0")/cache.sh"
root=$cache/$suite
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What kbuild needs to build an external module (pahole: the BTF of
# modules, CONFIG_DEBUG_INFO_BTF_MODULES), and sparse for C=2.
packages=gcc,make,libc6-dev,libelf-dev,libssl-dev,dwarves,sparse,xz-utils,zstd

# ensure PACKAGE...: install those the root lacks (a kernel's own gcc,
# the debug kernel's flex, bison and bc, dkms, sparse).
ensure() {
	local p missing=()
	for p in "$@"; do
		chroot "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return
	chroot "$root" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
	chroot "$root" apt-get clean
}

# make_root: debootstrap the root beside its place, rename it in.
make_root() {
	local start tmp
	if [ "$(id -u)" != 0 ]; then
		echo "build-root: $root missing: run 'make deps' as root" >&2
		exit 1
	fi
	command -v debootstrap >/dev/null || apt-get install -y debootstrap >&2
	cache_lock "$root"
	[ -e "$root/.complete" ] && return

	start=$(date +%s)
	tmp=$root.tmp
	rm -rf "$tmp" "$root"
	debootstrap --variant=minbase --include=$packages "$suite" "$tmp" "$mirror" >&2
	if [ "$suite" = trixie ]; then
		cat > "$tmp/etc/apt/sources.list" <<SRC
deb $mirror trixie main
deb $mirror trixie-updates main
deb $mirror trixie-backports main
deb $mirror sid main
SRC
		# Tools come from trixie; sid serves kernel downloads only.
		cat > "$tmp/etc/apt/preferences.d/umem" <<PREF
Package: *
Pin: release n=sid
Pin-Priority: 50
PREF
	fi
	# The archive's mirrors may carry sid's last Release file after it
	# expired (sid's lives a week): take it.
	echo 'Acquire::Check-Valid-Until "false";' > "$tmp/etc/apt/apt.conf.d/90umem"
	chroot "$tmp" apt-get update -q >&2
	chroot "$tmp" apt-get clean
	touch "$tmp/.complete"
	mv "$tmp" "$root"
	echo "build-root: $root made in $(( $(date +%s) - start )) s" >&2
}

[ -e "$root/.complete" ] || make_root
ensure "${pkgs[@]}"
