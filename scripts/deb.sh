#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb: the Debian packages umem-dkms and umem-tools, in OUT.
# dpkg-buildpackage runs in a copy of the tracked (and untracked, not
# ignored) files, OUT/umem-VERSION, with a debian/changelog written from
# VERSION (deb-changelog.sh): the tree stays clean and the version has one
# source.  lintian then fails on any error.
#
#   deb.sh OUT VERSION
set -eu
cd "$(dirname "$0")/.."

[ $# = 2 ] || { echo "usage: $0 OUT VERSION" >&2; exit 2; }
out=$1 version=$2
src=$out/umem-$version

rm -rf "$out" && mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard |
	cpio --null -pdm --quiet "$src"
scripts/deb-changelog.sh "$version" > "$src/debian/changelog"
(cd "$src" && dpkg-buildpackage -us -uc -b)
root=()
[ "$(id -u)" = 0 ] && root=(--allow-root)
lintian "${root[@]}" --fail-on error --display-info "$out/umem_${version}_"*.changes
ls "$out"/*.deb
