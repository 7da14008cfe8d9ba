#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# deb-changelog.sh VERSION: the debian/changelog of a `make deb` build,
# one entry for VERSION (from the VERSION file), dated by the last commit
# so that the same tree gives the same packages.
set -eu
[ $# = 1 ] || { echo "usage: $0 VERSION" >&2; exit 2; }
version=$1
case "$version" in
[0-9]*) ;;
*) echo "$0: bad version '$version'" >&2; exit 2 ;;
esac
date=$(git log -1 --format=%cD 2>/dev/null || date -R)
rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
maint=$(sed -n 's/^Maintainer: //p' "$(dirname "$0")/../debian/control")
cat <<CHANGELOG
umem ($version) unstable; urgency=medium

  * Release $version, built from $rev.

 -- $maint  $date
CHANGELOG
