#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernel release to build and test against by default:
#  1. the running kernel, when its image and headers are installed (a real
#     Debian host);
#  2. otherwise Debian 12's own kernel: the release linux-headers-amd64
#     depends on (6.1), when its image and headers are installed.  Other
#     kernels installed beside it (6.12 from bookworm-backports, -rt) are
#     chosen explicitly, with KVER= or their own targets (make check-6.12);
#  3. otherwise the newest installed kernel that has both.
# Prints nothing when there is none.
usable() {
	[ -e "/lib/modules/$1/build/Makefile" ] && [ -e "/boot/vmlinuz-$1" ]
}

r=$(uname -r)
if usable "$r"; then
	echo "$r"
	exit 0
fi
dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
	sed -n 's/^linux-headers-\([^ ,]*\).*/\1/p')
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
