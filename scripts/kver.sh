#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernel release to build and test against: the running kernel
# when its image and headers are installed (a real Debian host), otherwise
# the newest installed Debian kernel that has both (a build machine whose
# own kernel is something else).  Prints nothing when there is none.
r=$(uname -r)
if [ -e "/lib/modules/$r/build/Makefile" ] && [ -e "/boot/vmlinuz-$r" ]; then
	echo "$r"
	exit 0
fi
for v in $(ls -1 /lib/modules 2>/dev/null | sort -rV); do
	if [ -e "/lib/modules/$v/build/Makefile" ] && [ -e "/boot/vmlinuz-$v" ]; then
		echo "$v"
		exit 0
	fi
done
