#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The DKMS test: add this tree to a private DKMS tree (nothing under
# /usr/src or /var/lib/dkms/umem is touched) and build the module, with
# Debian's dkms and dkms.conf as they are, for each kernel named (names as
# scripts/kernels.sh and scripts/kernel-fetch.sh take them; default 6.1,
# 6.12 and 7.3), against its headers in the kernel cache
# (--kernelsourcedir; nothing installed on the host).  A kernel Debian 12
# cannot build for (7.x) is built by its build root's own dkms, from
# trixie (scripts/in-root.sh).
# Each build is a test: dkms must succeed and leave a umem.ko whose
# vermagic is that kernel's.  Ends "N passed, N failed".
#
# usage: check-dkms.sh OUTDIR FILE... [-- KERNEL...]
set -u
cd "$(dirname "$0")/.."

out=$1
shift
files=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	files+=("$1")
	shift
done
[ $# -gt 0 ] && shift
kernels=("$@")
[ ${#kernels[@]} = 0 ] && kernels=(6.1 6.12 7.3)

command -v dkms > /dev/null || {
	echo "check-dkms: no dkms: run 'make deps' as root" >&2
	exit 1
}
# The version: a VERSION file's, when dkms.conf is a template for it
# (PACKAGE_VERSION="#MODULE_VERSION#"), else dkms.conf's own.
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
case "$ver" in
\#*) ver=$(cat VERSION 2>/dev/null) ;;
esac
[ -n "$ver" ] || { echo "check-dkms: no version in dkms.conf or VERSION" >&2; exit 1; }

rm -rf "$out" && mkdir -p "$out/src/umem-$ver" "$out/tree" || exit 1
out=$(cd "$out" && pwd)
cp --parents "${files[@]}" "$out/src/umem-$ver/" || exit 1
sed "s/#MODULE_VERSION#/$ver/" dkms.conf > "$out/src/umem-$ver/dkms.conf" || exit 1
dk=(--sourcetree "$out/src" --dkmstree "$out/tree")

passed=0 failed=0
# result OK NAME [WHY]
result() {
	if [ "$1" = 0 ]; then
		echo "ok dkms.$2"
		passed=$((passed + 1))
	else
		echo "not ok dkms.$2 # $3"
		failed=$((failed + 1))
	fi
}

if dkms add -m umem -v "$ver" "${dk[@]}" > "$out/add.log" 2>&1; then
	result 0 add
else
	cat "$out/add.log"
	result 1 add "dkms add failed"
fi
for k in "${kernels[@]}"; do
	in_root=()
	case "$k" in
	7.* | sid)
		r=$(scripts/kernel-fetch.sh "$k") || { result 1 "build.$k" "kernel-fetch.sh $k failed"; continue; }
		root=${UMEM_CACHE:-$HOME/.cache/umem}/kernels/$r
		b=$(cat "$root/.build-root")
		scripts/build-root.sh "$b" dkms ||
			{ result 1 "build.$k" "no dkms in the $b root"; continue; }
		in_root=(scripts/in-root.sh "$b") ;;
	*)
		r=$(scripts/kernels.sh release "$k") && root=$(scripts/kernels.sh fetch "$r") ||
			{ result 1 "build.$k" "no such kernel in apt's lists"; continue; } ;;
	esac
	start=$(date +%s)
	if ! "${in_root[@]}" dkms build -m umem -v "$ver" -k "$r" "${dk[@]}" \
			--kernelsourcedir "$root/usr/src/linux-headers-$r" \
			> "$out/build-$r.log" 2>&1; then
		cat "$out/build-$r.log"
		result 1 "build.$k" "dkms build for $r failed"
		continue
	fi
	ko=$(find "$out/tree/umem/$ver/$r" -name 'umem.ko*' | head -n 1)
	vm=$([ -n "$ko" ] && modinfo -F vermagic "$ko")
	case "$vm" in
	"$r "*) result 0 "build.$k" ;;
	*) result 1 "build.$k" "module '${ko:-none}' has vermagic '$vm'" ;;
	esac
	echo "check-dkms: $r built in $(( $(date +%s) - start )) s"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
