# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The guest's initramfs, for run-vm.sh (sourced).
#
# build_initramfs: $out/initramfs.cpio.gz from run-vm.sh's options:
# busybox, ./init and the splat scan, the modules, the selected tests and
# the extra files, the run's settings (/runner.conf) and the tests'
# environment (/env, --env), and with --qemu the host's QEMU (or
# --qemu-root's).  Sets mods and tnames, the modules' and the tests'
# names in the guest, and with --qemu qver.

# carry ROOT PATH [FROM]: PATH (or FROM) into ROOT, at PATH.
carry() {
	mkdir -p "$1$(dirname "$2")" && cp -L "${3:-$2}" "$1$2"
}

# initramfs_qemu ROOT: --qemu, the VMM for L2 guests, where it lives on
# the host (or, with --qemu-root, where it would live), so that its
# compiled-in firmware path (/usr/share/qemu, /usr/share/seabios,
# /usr/lib/ipxe/qemu) and the libraries' paths hold in the guest too.
# Sets qver, its version.
initramfs_qemu() {
	local root=$1 qbin=/usr/bin/qemu-system-x86_64 libs l d src
	[ -n "$qroot" ] || qbin=$(command -v qemu-system-x86_64)
	[ -x "$qroot$qbin" ] || die "$qroot$qbin missing (scripts/qemu-fetch.sh)"
	carry "$root" "$qbin" "$qroot$qbin" || die "cannot copy $qroot$qbin"
	libs=$(ldd "$qroot$qbin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
					$1 ~ /^\// { print $1 }')
	[ -n "$libs" ] || die "ldd $qroot$qbin found no libraries"
	qver=$("$qroot$qbin" --version | awk 'NR == 1 { print $4 }')
	for l in $libs; do
		carry "$root" "$l" || die "cannot copy $l (a library of $qroot$qbin)"
	done
	for d in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
		src=$d
		[ -d "$qroot$d" ] && src=$qroot$d
		[ -d "$src" ] || die "$d missing (apt-get install qemu-system-x86)"
		{ mkdir -p "$root$(dirname "$d")" && cp -a "$src" "$root$d"; } ||
			die "cannot copy $src"
	done
}

# initramfs_env: --env's NAME=VALUE as shell, for init to source.
initramfs_env() {
	local e k v
	for e in "${envs[@]}"; do
		k=${e%%=*} v=${e#*=}
		case "$k" in
		"$e" | '' | [0-9]* | *[!A-Za-z0-9_]*) die "--env $e: not NAME=VALUE" ;;
		esac
		printf "export %s='%s'\n" "$k" "$(printf '%s' "$v" | sed "s/'/'\\\\''/g")"
	done
}

build_initramfs() {
	local root=$out/initramfs m b t f mode=tests
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,modules,tests}
	cp "$busybox" "$root/bin/busybox"
	cp "$here/init" "$root/init"
	cp "$here/splat-patterns" "$here/splat-filter.awk" "$root/"
	chmod 755 "$root/init"
	mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
	mods="" tnames=""
	for m in "${modules[@]}"; do
		[ -r "$m" ] || die "module $m missing"
		# Debian's 6.12 modules are xz-compressed; busybox insmod
		# takes only plain ELF.
		case "$m" in
		*.ko.xz) b=$(basename "$m" .xz); xz -dc "$m" > "$root/modules/$b" ||
				die "cannot decompress $m" ;;
		*.ko.zst) b=$(basename "$m" .zst); zstd -qdc "$m" > "$root/modules/$b" ||
				die "cannot decompress $m" ;;
		*) b=$(basename "$m"); cp "$m" "$root/modules/" ;;
		esac
		mods="$mods $b"
	done
	for t in "${selected[@]}"; do
		cp "$t" "$root/tests/"
		tnames="$tnames $(basename "$t")"
	done
	for f in "${files[@]}"; do
		cp "$f" "$root/tests/" || die "file $f missing"
	done
	if [ "$with_qemu" = 1 ]; then
		initramfs_qemu "$root"
	fi
	[ "$shell" = 1 ] && mode=shell
	cat > "$root/runner.conf" <<CONF
MODE=$mode
MODULES="$mods"
TESTS="$tnames"
TEST_TIMEOUT=$test_timeout
CONF
	# Exported by init before the first test.
	initramfs_env > "$root/env"
	(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) |
		gzip -1 > "$out/initramfs.cpio.gz" || die "cannot build the initramfs"
}
