#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-bpftrace.sh --kernel IMAGE --module KO: the bpftrace one-liner of
# Documentation/umem.rst ("Tracing"), run in the test VM on a small
# migration.  Debian's bpftrace is dynamic (LLVM, clang: about 200 MB):
# it travels into the initramfs with its libraries and runs through the
# dynamic loader.  Passes if bpftrace prints a fault-wait histogram for
# the VMM.  The last line is "N passed, N failed, N skipped".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kernel="" module=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift ;;
	--module) module=$2; shift ;;
	*) echo "usage: $0 --kernel IMAGE --module KO" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$kernel" ] && [ -n "$module" ] || { echo "usage: $0 --kernel IMAGE --module KO" >&2; exit 2; }
bpftrace=$(command -v bpftrace) || {
	echo "check-bpftrace: bpftrace missing (apt-get install bpftrace)" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}

out=$top/build/bpftrace
rm -rf "$out" && mkdir -p "$out/files"
cp "$bpftrace" /lib64/ld-linux-x86-64.so.2 "$out/files/"
ldd "$bpftrace" | awk '/=>/ { print $3 }' | xargs -I{} cp -L {} "$out/files/"

cat > "$out/bpftrace-wait" <<'GUEST'
#!/bin/sh
T=/tests
mount -t tracefs tracefs /sys/kernel/tracing 2> /dev/null
echo "TAP version 13"
echo "1..1"
$T/umemctl mkimage /tmp/s.img pattern:2M:5
$T/ld-linux-x86-64.so.2 --library-path $T $T/bpftrace -e \
	'tracepoint:umem:umem_wake { @wait_us[comm, pid] = hist(args->wait_ns / 1000); }' \
	> /tmp/bpf.out 2>&1 &
bpf=$!
# LLVM compiles the program first: wait for the probe.
for i in $(seq 60); do
	grep -q "Attaching 1 probe" /tmp/bpf.out && break
	sleep 1
done
$T/umemctl vmm --image /tmp/s.img --snapshot /tmp/s.img --vcpus 2 --ops 400 \
	--umemd $T/umemd --umemd-arg --progress=none > /tmp/vmm.out 2>&1
rc=$?
kill -INT $bpf
wait $bpf
sed 's/^/# /' /tmp/bpf.out
if [ $rc = 0 ] && grep -q '^@wait_us\[umemctl, [0-9]*\]:' /tmp/bpf.out &&
   grep -q '^\[[0-9KM]*, [0-9KM]*) *[1-9][0-9]* |@' /tmp/bpf.out; then
	echo "ok 1 bpftrace.wait_histogram"
else
	echo "not ok 1 bpftrace.wait_histogram # vmm exit $rc"
	sed 's/^/# vmm: /' /tmp/vmm.out
fi
GUEST
chmod 755 "$out/bpftrace-wait"

files=()
for f in "$out"/files/*; do
	files+=(--file "$f")
done
exec "$top/selftests/runner/run-vm.sh" --name bpftrace --mem 3G --test-timeout 400 \
	--kernel "$kernel" --module "$module" "${files[@]}" \
	--file "$top/tools/umemctl/umemctl" --file "$top/tools/umemctl/umemd" \
	--out "$out/vm" --show-tap --test "$out/bpftrace-wait"
