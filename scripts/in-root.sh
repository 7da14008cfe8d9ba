#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command in a build root (scripts/build-root.sh), in the current
# directory: how the Makefile runs kbuild for the kernels whose tools the
# host cannot run (7.x: trixie's or sid's glibc and gcc).
#
#   scripts/in-root.sh [--bind DIR]... SUITE COMMAND [ARG...]
#
# The command runs in a mount namespace of its own (unshare), chrooted
# into the root, with the current directory and the kernel cache
# bind-mounted at the same paths as on the host, so that every path
# (M=, KDIR, the objects' dependency files) means the same inside and
# out, and what it builds lands in the host's tree.  --bind adds a
# directory (the debug kernel's tree, for make check-debug-7.3).  The mounts vanish
# with the namespace; the root gains only the empty directories they
# are mounted on.  Needs root.
set -eu

cache=${UMEM_CACHE:-$HOME/.cache/umem}

if [ "${1:-}" = --inside ]; then
	shift
	root=$1
	shift
	dir=$1
	shift
	mount --rbind /dev "$root/dev"
	mount -t proc proc "$root/proc"
	mount -t tmpfs tmpfs "$root/tmp"
	# After /tmp's tmpfs: a tree or a cache under /tmp stays visible.
	# shellcheck disable=SC2086 # UMEM_ROOT_BINDS: a list of paths
	for d in "$dir" "$cache/kernels" ${UMEM_ROOT_BINDS:-}; do
		mkdir -p "$root$d"
		mount --rbind "$d" "$root$d"
	done
	# shellcheck disable=SC2016 # expanded by the inner shell
	exec chroot "$root" /bin/sh -c 'cd "$1" && shift && exec "$@"' \
		sh "$dir" "$@"
fi

binds=
while [ "${1:-}" = --bind ]; do
	[ -d "${2:-}" ] || { echo "in-root: --bind: no directory '${2:-}'" >&2; exit 1; }
	binds="$binds $(readlink -f "$2")"
	shift 2
done
root=$cache/${1:-}
shift || true
if [ ! -e "$root/.complete" ]; then
	echo "in-root: no build root at $root: run 'make deps' as root" >&2
	exit 1
fi
# Not the host's PATH: the root's tools, and a locale it has.
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
	UMEM_CACHE="$cache" UMEM_ROOT_BINDS="$binds" \
	${MAKEFLAGS+MAKEFLAGS="$MAKEFLAGS"} ${MAKELEVEL+MAKELEVEL="$MAKELEVEL"} \
	unshare --mount --propagation private \
	"$(readlink -f "$0")" --inside "$root" "$PWD" "$@"
