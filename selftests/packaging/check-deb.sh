#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-deb.sh [options] DEB_DIR: the packages of `make deb` on this
# machine.  Installs umem-dkms and umem-tools with apt-get (DKMS builds
# the module for every kernel with headers), checks what they installed,
# boots the test VM on the DKMS-built umem.ko with the packaged umemctl
# and umemd (not the tree's) and runs the api selftest and one postcopy
# migration, then purges both packages.  Root only: it changes the
# machine, and leaves it as it found it.  The last line is
# "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

usage() {
	echo "usage: $0 --kver KVER --kernel IMAGE [--smp N] [--mem SIZE]" \
	     "[--vm-module KO]... DEB_DIR" >&2
	exit 2
}

kver="" kernel="" smp=2 mem=2G vm_modules=()
while [ $# -gt 1 ]; do
	case "$1" in
	--kver) kver=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--smp) smp=$2; shift ;;
	--mem) mem=$2; shift ;;
	--vm-module) vm_modules+=("$2"); shift ;;
	*) usage ;;
	esac
	shift
done
[ $# = 1 ] && [ -n "$kver" ] && [ -n "$kernel" ] || usage
debs=$(cd "$1" && pwd)
version=$(cat "$top/VERSION")
out=$top/build/vm/check-deb
mkdir -p "$out"

n=0 passed=0 failed=0
# check NAME COMMAND...: one host-side check, as TAP.
check() {
	local name=$1
	shift
	n=$((n + 1))
	if "$@" > "$out/check.log" 2>&1; then
		echo "ok $n deb.$name"
		passed=$((passed + 1))
	else
		echo "not ok $n deb.$name"
		sed 's/^/#   /' "$out/check.log"
		failed=$((failed + 1))
	fi
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
}

if [ "$(id -u)" != 0 ]; then
	echo "check-deb: installs packages: run as root" >&2
	failed=1
	finish
fi

dkms_deb=$debs/umem-dkms_${version}_all.deb
tools_deb=$(ls "$debs"/umem-tools_"${version}"_*.deb 2>/dev/null | head -n 1)
for f in "$dkms_deb" "$tools_deb"; do
	[ -r "$f" ] || { echo "check-deb: ${f:-umem-tools deb} missing: make deb" >&2; failed=1; finish; }
done

export DEBIAN_FRONTEND=noninteractive
# apt-get, retried while another apt or dpkg holds the lock.
apt() {
	local i
	for i in $(seq 1 40); do
		apt-get "$@" && return 0
		fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock > /dev/null 2>&1 ||
			return 1
		sleep 15
	done
	return 1
}

purge() {
	apt -y purge umem-dkms umem-tools > "$out/purge.log" 2>&1
}
# A package left by an earlier run that died would hide what this one does.
if dpkg-query -W umem-dkms umem-tools > /dev/null 2>&1; then
	purge
fi

# Another umem version installed by hand (dkms install from /usr/src):
# ours replaces its module file and removing ours deletes it, so put it
# back at the end.
others=$(dkms status umem 2>/dev/null | sed -n "s|^umem/\([^,]*\), \([^,]*\), [^:]*: installed.*|\1 \2|p" |
	grep -v "^$version ")
restore_others() {
	local v k
	echo "$others" | while read -r v k; do
		[ -n "$v" ] && dkms install "umem/$v" -k "$k" > /dev/null 2>&1
	done
}

echo "TAP version 13"
check install apt -y install --no-install-recommends "$dkms_deb" "$tools_deb"
cat "$out/check.log" > "$out/install.log"

dkms_ok() {
	dkms status -k "$kver" "umem/$version"
	dkms status -k "$kver" "umem/$version" | grep -q ": installed"
}
check dkms-status dkms_ok

# The module DKMS installed for the VM's kernel, and nothing from the tree.
ko=$(modinfo -k "$kver" -n umem 2>/dev/null)
ko_ok() {
	echo "$ko"
	case "$ko" in
	/lib/modules/"$kver"/updates/dkms/umem.ko* | /lib/modules/"$kver"/extra/umem.ko*) ;;
	*) return 1 ;;
	esac
	[ "$(modinfo -F version "$ko")" = "$version" ]
}
check module-version ko_ok
vmko=$out/umem.ko
case "$ko" in
*.ko.xz) xz -dc "$ko" > "$vmko" ;;
*.ko.zst) zstd -qdc "$ko" > "$vmko" ;;
*.ko) cp "$ko" "$vmko" ;;
*) rm -f "$vmko" ;;
esac

tools_ok() {
	[ "$(/usr/bin/umemctl --version)" = "umemctl $version" ] &&
	[ "$(/usr/bin/umemd --version)" = "umemd $version" ]
}
check tools-version tools_ok

files_ok() {
	local f
	for f in /usr/share/man/man8/umemctl.8.gz /usr/share/man/man8/umemd.8.gz \
		 /usr/share/man/man4/umem.4.gz /usr/include/libumem.h \
		 /usr/include/linux/umem.h /etc/modprobe.d/umem-dkms.conf; do
		[ -e "$f" ] || { echo "$f missing"; return 1; }
	done
	ls /usr/lib/*/libumem.a /usr/lib/*/pkgconfig/libumem.pc || return 1
	grep -q "^Version: $version\$" /usr/lib/*/pkgconfig/libumem.pc &&
	grep -qx "options umem dev_mode=0660" /etc/modprobe.d/umem-dkms.conf &&
	grep -rqs 'KERNEL=="umem", GROUP="umem", MODE="0660"' \
		/lib/udev/rules.d/*umem* /usr/lib/udev/rules.d/*umem* &&
	getent group umem
}
check files files_ok

# The VM: the DKMS-built module, the packaged tools, one migration.
vm_args=()
for m in "${vm_modules[@]}"; do
	vm_args+=(--module "$m")
done
vm() {
	[ -r "$vmko" ] || { echo "no DKMS-built umem.ko for $kver"; return 1; }
	"$top/selftests/runner/run-vm.sh" --name check-deb --kernel "$kernel" \
		--smp "$smp" --mem "$mem" --module "$vmko" "${vm_args[@]}" \
		--file /usr/bin/umemctl --file /usr/bin/umemd \
		--file "$top/selftests/postcopy/tap.sh" \
		--file "$top/selftests/postcopy/netns.sh" \
		--file "$top/selftests/postcopy/trace.sh" \
		--file "$top/tools/bench/fault-path.awk" \
		--file "$top/build/tls/creds.tar" \
		--env 'ONLY=^migrate__happy$' --out "$out/vm" --show-tap \
		--test "$top/build/selftests/api" --test "$top/build/postcopy/postcopy"
}
n=$((n + 1))
vm 2>&1 | tee "$out/vm.log" | sed 's/^/# /'
line=$(tr -d '\r' < "$out/vm.log" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
vm_pass=$(echo "$line" | cut -d' ' -f1) vm_fail=$(echo "$line" | cut -d' ' -f3)
if [ -n "$line" ] && [ "$vm_fail" = 0 ] && [ "$vm_pass" -gt 1 ]; then
	echo "ok $n deb.vm-smoke # $line"
	passed=$((passed + 1))
else
	echo "not ok $n deb.vm-smoke # ${line:-no verdict}"
	failed=$((failed + 1))
fi

clean_ok() {
	purge || { cat "$out/purge.log"; return 1; }
	! dpkg-query -W -f='${db:Status-Status}\n' umem-dkms umem-tools 2>/dev/null |
		grep -qv '^not-installed$' &&
	# Only this version: a umem installed by hand is not ours to judge.
	[ ! -e "/usr/src/umem-$version" ] &&
	! dkms status "umem/$version" | grep -q . &&
	! getent group umem
}
check purge clean_ok
restore_others
echo "1..$n"
finish
