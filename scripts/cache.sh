# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the scripts that fill the cache (kernels.sh, kernel-fetch.sh,
# build-root.sh, qemu-fetch.sh).
#
# cache_lock ENTRY: hold ENTRY.lock, beside the cache entry ENTRY (a
# directory or a file), until the script exits.  A second caller (make in
# another tree) waits, saying so, then finds the entry made.
cache_lock() {
	mkdir -p "$(dirname "$1")"
	exec 9> "$1.lock"
	if ! flock -n 9; then
		echo "$(basename "$0" .sh): waiting for another fetch of $1" >&2
		flock 9
	fi
}

# apt_download DIR PACKAGE...: the .deb files of PACKAGE (a name, the
# candidate, or NAME=VERSION) into DIR, never installed.  On failure it
# prints apt's log and returns 1.
apt_download() {
	local dir=$1 opts=(-q)
	shift
	# As root, apt drops to _apt for downloads, which cannot write DIR.
	[ "$(id -u)" = 0 ] && opts+=(-o APT::Sandbox::User=root)
	(cd "$dir" && apt-get "${opts[@]}" download "$@" > download.log 2>&1) || {
		cat "$dir/download.log" >&2
		echo "$(basename "$0" .sh): apt-get download $* failed (as root:" \
		     "make deps, which runs apt-get update)" >&2
		return 1
	}
}

# keep_source_tarball DIR SERIES FILE: the linux-source-SERIES.tar.xz
# alone, out of DIR's linux-source-SERIES_*.deb, into FILE; DIR goes.  Its
# mtime stays the package's, so a debug kernel built from the same
# tarball elsewhere keeps its cache key.
keep_source_tarball() {
	dpkg-deb --fsys-tarfile "$1"/linux-source-"$2"_*.deb |
		tar -x -C "$1" "./usr/src/linux-source-$2.tar.xz"
	mv "$1/usr/src/linux-source-$2.tar.xz" "$3"
	rm -rf "$1"
}
