#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-vm.sh --show-tap: the guest's TAP, on stdin, as it arrives.  On a
# terminal, umemd's progress lines ("umemd:  12.5% N/M pages, ...")
# become one bar redrawn in place; piped, every line is printed as it is.
set -u

tty=0 inplace=0
[ -t 1 ] && tty=1
while IFS= read -r line; do
	line=${line%$'\r'}
	if [ $tty = 1 ] && [[ $line =~ ^umemd:\ +([0-9]+)\.[0-9]%\ (.*)$ ]]; then
		pct=${BASH_REMATCH[1]}
		fill=$(( pct * 40 / 100 ))
		printf -v bar '%*s' $fill ''
		printf -v bar '%s%*s' "${bar// /#}" $(( 40 - fill )) ''
		printf '\r[%s] %s\033[K' "${bar// /.}" "${line#umemd: }"
		inplace=1
	else
		[ $inplace = 1 ] && { echo; inplace=0; }
		printf '%s\n' "$line"
	fi
done
[ $inplace = 1 ] && echo
exit 0
