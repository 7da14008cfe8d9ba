#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bring a Debian kernel that the host cannot install (its kbuild needs
# trixie's glibc and gcc) into the kernel cache, and print its release.
#
#   scripts/kernel-fetch.sh NAME          fetch; print the release
#   scripts/kernel-fetch.sh --source NAME  linux-source-SERIES of NAME's
#                                          suite (make check-debug-7.3):
#                                          print the tarball's path,
#                                          $UMEM_CACHE/sources/
#
# NAME is a kernel by the name of its make target:
#   7.3      trixie-backports' linux-image-amd64      make check-7.3
#   7.3-rt   trixie-backports' linux-image-rt-amd64   make check-7.3-rt
#   sid      sid's linux-image-amd64 (7.2 today)      make check-sid
# The packages are downloaded (apt-get download, in the trixie root of
# scripts/build-root.sh, from NAME's suite) and extracted with dpkg -x
# into $UMEM_CACHE/kernels/RELEASE/: the image (boot/vmlinuz-RELEASE),
# its modules (lib/modules/RELEASE/), its headers and kbuild
# (usr/src/linux-headers-RELEASE/, usr/lib/linux-kbuild-*).  Nothing is
# installed on the host.  The file .build-root there names the build root
# its modules build in (scripts/in-root.sh): trixie's, or for sid's
# kernel sid's, which gets the gcc the kernel was built with.  A kernel
# already in the cache is not fetched again, unless the suite moved on to
# a new release.
set -eu

cache=${UMEM_CACHE:-$HOME/.cache/umem}
root=$cache/trixie
here=$(dirname "$0")
. "$here/cache.sh"

source=
if [ "${1:-}" = --source ]; then
	source=1
	shift
fi
case "${1:-}" in
7.3) suite=trixie-backports; flavour=amd64; build=trixie ;;
7.3-rt) suite=trixie-backports; flavour=rt-amd64; build=trixie ;;
sid) suite=sid; flavour=amd64; build=sid ;;
*) echo "kernel-fetch: unknown kernel '${1:-}' (7.3, 7.3-rt, sid)" >&2
   exit 1 ;;
esac

"$here/build-root.sh" trixie
"$here/build-root.sh" "$build"
in_root() {
	chroot "$root" "$@"
}

# The Depends of PACKAGE in $suite, one per line, without versions.
depends() {
	in_root apt-cache show "$1/$suite" 2>/dev/null |
		sed -n 's/^Depends: //p' | head -n 1 | tr ',' '\n' |
		sed 's/^ *//; s/ .*//; s/|.*//'
}

# The lists are refreshed at most once a day.
stamp=$root/var/lib/apt/lists/.umem-updated
if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
	in_root apt-get update -q >&2 && touch "$stamp"
fi

# The source tarball, kept as scripts/kernels.sh source keeps bookworm's.
if [ -n "$source" ]; then
	series=$(depends "linux-source" | sed -n 's/^linux-source-//p' | head -n 1)
	[ -n "$series" ] || { echo "kernel-fetch: no linux-source in $suite" >&2; exit 1; }
	f=$cache/sources/linux-source-$series.tar.xz
	[ -f "$f" ] || cache_lock "$f"
	if [ ! -f "$f" ]; then
		dl=$root/tmp/umem-source-$series
		rm -rf "$dl" && mkdir -p "$dl"
		in_root sh -c "cd /tmp/umem-source-$series &&
			apt-get download -q linux-source-$series/$suite" >&2
		keep_source_tarball "$dl" "$series" "$f"
	fi
	echo "$f"
	exit 0
fi

release=$(depends "linux-headers-$flavour" |
	sed -n 's/^linux-headers-\(.*\)$/\1/p' | head -n 1)
if [ -z "$release" ]; then
	echo "kernel-fetch: no linux-headers-$flavour in $suite" >&2
	exit 1
fi
dest=$cache/kernels/$release

# The compiler the kernel was built with, in its build root.
ensure_cc() {
	"$here/build-root.sh" "$build" --gcc-of "$dest/usr/src/linux-headers-$release"
}

if [ -e "$dest/.done" ]; then
	ensure_cc
	echo "$release"
	exit 0
fi

# linux-image-RELEASE is a shell around linux-binary-RELEASE (vmlinuz),
# linux-modules-RELEASE and linux-base-RELEASE; linux-headers-RELEASE
# points into its -common package and its linux-kbuild.  Take what they
# depend on of this ABI (7.3.4+deb13), transitively, from the same suite.
abi=${release%-"$flavour"}
pkgs="linux-image-$release linux-headers-$release"
# shellcheck disable=SC2086 # $pkgs and $more: lists of words
while :; do
	more=$(for p in $pkgs; do depends "$p"; done |
		grep -F -e "-$abi" | grep '^linux-' | sort -u)
	all=$(printf '%s\n' $pkgs $more | sort -u | tr '\n' ' ')
	[ "$all" = "$(printf '%s\n' $pkgs | sort -u | tr '\n' ' ')" ] && break
	pkgs=$all
done

cache_lock "$dest"
if [ ! -e "$dest/.done" ]; then
	start=$(date +%s)
	dl=$root/tmp/umem-kernel-$release
	rm -rf "$dl" "$dest.tmp"
	mkdir -p "$dl" "$dest.tmp"
	# apt-get download as root warns that _apt cannot write here.
	in_root sh -c "cd /tmp/umem-kernel-$release && apt-get download -q \
		$(for p in $pkgs; do printf '%s/%s ' "$p" "$suite"; done)" >&2
	for deb in "$dl"/*.deb; do
		dpkg-deb -x "$deb" "$dest.tmp"
	done
	rm -rf "$dl"
	# From 7.x Debian's image lives in usr/lib/modules/RELEASE/vmlinuz
	# (merged /usr, no /boot): give the cache one layout for every
	# kernel, lib/modules/RELEASE/ and boot/vmlinuz-RELEASE.
	if [ ! -e "$dest.tmp/lib" ] && [ -d "$dest.tmp/usr/lib/modules" ]; then
		ln -s usr/lib "$dest.tmp/lib"
	fi
	if [ ! -e "$dest.tmp/boot/vmlinuz-$release" ]; then
		mkdir -p "$dest.tmp/boot"
		ln -s "../lib/modules/$release/vmlinuz" \
			"$dest.tmp/boot/vmlinuz-$release"
	fi
	# The headers' Makefile includes its -common part by an absolute
	# /usr/src path: make it this cache's.
	sed -i "s|/usr/src/|$dest/usr/src/|g" \
		"$dest.tmp/usr/src/linux-headers-$release/Makefile"
	echo "$build" > "$dest.tmp/.build-root"
	test -e "$dest.tmp/boot/vmlinuz-$release"
	test -e "$dest.tmp/usr/src/linux-headers-$release/Makefile"
	touch "$dest.tmp/.done"
	rm -rf "$dest"
	mv "$dest.tmp" "$dest"
	echo "kernel-fetch: $release in $(( $(date +%s) - start )) s" >&2
fi

ensure_cc
echo "$release"
