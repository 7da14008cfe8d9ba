#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test kernels, in a cache: Debian's kernel packages downloaded with
# apt-get download and extracted with dpkg-deb -x, never installed.  The
# host's /boot, /lib/modules and /usr/src stay as they are: no initramfs,
# no DKMS autoinstall, no boot menu entry.
#
#   kernels.sh release NAME   the release a kernel name stands for today
#                             (the candidate of its headers meta-package)
#   kernels.sh fetch RELEASE  download and extract that release, once;
#                             print its root, $UMEM_CACHE/kernels/RELEASE
#   kernels.sh source SERIES  the linux-source-SERIES tarball, extracted
#                             from its package once; print its path,
#                             $UMEM_CACHE/sources/linux-source-SERIES.tar.xz
#
# Names, as the Makefile's targets use them:
#   6.1      Debian 12's own kernel: make check, make demo
#   6.12     the 6.12 LTS (bookworm-security, bookworm-backports)
#   rt       6.1 with PREEMPT_RT
#   6.12-rt  6.12 with PREEMPT_RT
# A new kernel is one more line in meta() below, and its target in
# mk/vm.mk (Documentation/testing.rst, "Kernels").
#
# A release's root is what its packages hold, as dpkg would unpack them:
#   boot/vmlinuz-RELEASE, boot/System.map-RELEASE, boot/config-RELEASE
#   lib/modules/RELEASE/           the kernel's own modules
#   usr/src/linux-headers-RELEASE  the build tree (KDIR), with its -common
#                                  tree and the linux-kbuild tree it uses
# with Debian's absolute paths made to point inside the root, so kbuild
# works from there: symlinks become relative, and the headers' Makefile
# includes its -common Makefile by the root's path.
#
# $UMEM_CACHE defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/umem.  Works as
# any user once apt knows the packages (make deps runs apt-get update).
set -euo pipefail
. "$(dirname "$0")/cache.sh"

cache=${UMEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/umem}
lists=/var/lib/apt/lists

usage() {
	echo "usage: $0 release NAME | fetch RELEASE | source SERIES" >&2
	exit 2
}

# meta NAME: the headers meta-package that names a kernel's release.
meta() {
	case "$1" in
	6.1) echo linux-headers-amd64 ;;
	6.12) echo linux-headers-6.12-amd64 ;;
	rt) echo linux-headers-rt-amd64 ;;
	6.12-rt) echo linux-headers-6.12-rt-amd64 ;;
	*) echo "kernels: unknown kernel '$1' (6.1, 6.12, rt, 6.12-rt)" >&2
	   return 1 ;;
	esac
}

# depends PACKAGE: the names in the candidate's Depends, one a line.
depends() {
	apt-cache show --no-all-versions "$1" 2>/dev/null |
		sed -n 's/^Depends: //p' | tr ',' '\n' |
		sed 's/^ *//; s/[ |].*//'
}

# release NAME, remembered in $cache/kernels/.release-NAME until apt's
# lists change (their ctime: apt gives them the server's mtime): apt-cache
# takes most of a second, and make asks on every run.
release() {
	local memo=$cache/kernels/.release-$1 m r
	m=$(meta "$1")
	if [ -s "$memo" ] &&
	   [ -z "$(find "$lists" -maxdepth 1 -cnewer "$memo" -name '*Packages*' 2>/dev/null)" ]; then
		cat "$memo"
		return
	fi
	r=$(depends "$m" | sed -n 's/^linux-headers-//p' | head -n 1)
	if [ -z "$r" ]; then
		echo "kernels: apt knows no $m: run 'make deps' (as root)" >&2
		return 1
	fi
	mkdir -p "$cache/kernels"
	echo "$r" > "$memo.$$" && mv "$memo.$$" "$memo"
	echo "$r"
}

# fixup ROOT FINAL: make an extracted root work from FINAL, where it will
# live.
fixup() {
	local root=$1 final=$2 l t
	# Absolute symlinks (lib/modules/R/build -> /usr/src/...) become
	# relative ones inside the root.
	find "$root" -type l -lname '/*' -print0 |
		while IFS= read -r -d '' l; do
			t=$(readlink "$l")
			ln -sfnr "$root$t" "$l"
		done
	# The headers' Makefile: "include /usr/src/linux-headers-...-common/Makefile".
	for l in "$root"/usr/src/linux-headers-*/Makefile; do
		sed -i "s|^include /usr/src/|include $final/usr/src/|" "$l"
	done
}

fetch() {
	local r=$1 dir tmp pkgs p
	case "$r" in
	'' | */* | .*) echo "kernels: bad release '$r'" >&2; return 1 ;;
	esac
	dir=$cache/kernels/$r
	[ -f "$dir/.done" ] || cache_lock "$dir"
	if [ -f "$dir/.done" ]; then
		echo "$dir"
		return
	fi
	local start=$SECONDS
	# The image, the headers, and what the headers depend on of their
	# own: the -common tree and linux-kbuild (not the compiler).
	pkgs=("linux-image-$r" "linux-headers-$r")
	for p in $(depends "linux-headers-$r"); do
		case "$p" in
		linux-headers-* | linux-kbuild-*) pkgs+=("$p") ;;
		esac
	done
	[ ${#pkgs[@]} -gt 2 ] || {
		echo "kernels: apt knows no linux-headers-$r: run 'make deps'" \
		     "(as root), or name another release" >&2
		return 1
	}
	echo "kernels: fetching ${pkgs[*]} into $dir" >&2
	tmp=$cache/kernels/.tmp-$r
	rm -rf "$tmp" "$dir" && mkdir -p "$tmp/debs" "$tmp/root"
	apt_download "$tmp/debs" "${pkgs[@]}"
	for p in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$p" "$tmp/root"
	done
	fixup "$tmp/root" "$dir"
	[ -e "$tmp/root/boot/vmlinuz-$r" ] &&
		[ -e "$tmp/root/usr/src/linux-headers-$r/Makefile" ] || {
		echo "kernels: $r: no boot/vmlinuz-$r or headers in ${pkgs[*]}" >&2
		return 1
	}
	touch "$tmp/root/.done"
	mv "$tmp/root" "$dir"
	rm -rf "$tmp"
	echo "kernels: $r ready in $((SECONDS - start)) s" >&2
	echo "$dir"
}

source_tarball() {
	local s=$1 f tmp p
	case "$s" in
	'' | */* | .*) echo "kernels: bad series '$s'" >&2; return 1 ;;
	esac
	f=$cache/sources/linux-source-$s.tar.xz
	[ -f "$f" ] || cache_lock "$f"
	if [ -f "$f" ]; then
		echo "$f"
		return
	fi
	echo "kernels: fetching linux-source-$s into $f" >&2
	tmp=$cache/sources/.tmp-$s
	rm -rf "$tmp" && mkdir -p "$tmp"
	apt_download "$tmp" "linux-source-$s"
	keep_source_tarball "$tmp" "$s" "$f"
	echo "$f"
}

[ $# = 2 ] || usage
case "$1" in
release) release "$2" ;;
fetch) fetch "$2" ;;
source) source_tarball "$2" ;;
*) usage ;;
esac
