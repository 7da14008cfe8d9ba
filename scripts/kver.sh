#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernel release to build and test against.
#
# Without an argument, the default:
#  1. the running kernel, when its image and headers are installed (a real
#     Debian host);
#  2. otherwise Debian 12's own kernel: the release linux-headers-amd64
#     depends on (6.1), when its image and headers are installed.  Other
#     kernels installed beside it (6.12 from bookworm-backports, -rt) are
#     chosen explicitly, with KVER= or their own targets (make check-6.12);
#  3. otherwise the newest installed kernel that has both.
# Prints nothing when there is none.
#
# With one, a kernel by the name make deps and the check targets use:
# 6.1, 6.12, rt (6.1 PREEMPT_RT) or 6.12-rt: the release its Debian
# headers meta-package depends on.  Fails, saying why, when that kernel's
# image or headers are not installed.
usable() {
	[ -e "/lib/modules/$1/build/Makefile" ] && [ -e "/boot/vmlinuz-$1" ]
}

# meta_release PACKAGE: the release a linux-headers-* meta-package
# depends on, or nothing.
meta_release() {
	dpkg-query -W -f='${Depends}' "$1" 2>/dev/null |
		sed -n 's/^linux-headers-\([^ ,]*\).*/\1/p'
}

if [ $# -gt 0 ]; then
	case "$1" in
	6.1) meta=linux-headers-amd64 ;;
	6.12) meta=linux-headers-6.12-amd64 ;;
	rt) meta=linux-headers-rt-amd64 ;;
	6.12-rt) meta=linux-headers-6.12-rt-amd64 ;;
	*) echo "kver: unknown kernel '$1' (6.1, 6.12, rt, 6.12-rt)" >&2
	   exit 1 ;;
	esac
	r=$(meta_release "$meta")
	if [ -z "$r" ] || ! usable "$r"; then
		echo "kver: kernel '$1' is not installed ($meta and its image):" \
		     "run 'make deps' as root" >&2
		exit 1
	fi
	echo "$r"
	exit 0
fi

r=$(uname -r)
if usable "$r"; then
	echo "$r"
	exit 0
fi
dep=$(meta_release linux-headers-amd64)
if [ -n "$dep" ] && usable "$dep"; then
	echo "$dep"
	exit 0
fi
for v in $(ls -1 /lib/modules 2>/dev/null | sort -rV); do
	if usable "$v"; then
		echo "$v"
		exit 0
	fi
done
