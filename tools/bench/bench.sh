#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot the test VM twice and run umem-bench in it.
#  1. -smp 1: round-trip latency (umem, both userfaultfd modes, the floor);
#  2. -smp SMP: scaling, same pages, marking present, footprint, and the
#     postcopy migration against its stream floor, and that floor in
#     clear, over kernel TLS and over user-space TLS;
#  3. with --qemu-test: a real guest under QEMU migrated onto umem and by
#     QEMU's own postcopy (selftests/qemu/bench.sh), in a bigger VM.
#     --qemu-only: that one alone (another QEMU's figures, for instance).
# Every comparison is made inside one boot.  Writes OUT/results.json,
# OUT/results.txt (the tables), OUT/scaling.dat and OUT/scaling.png,
# OUT/latency.dat and OUT/latency.png.
# See Documentation/performance.rst.
set -uo pipefail

usage() {
	echo "usage: $0 --kernel IMAGE --module KO [--module KO] --creds TAR --out DIR" \
	     "[--smp N] [--mib N] [--quick] [--verbose]" \
	     "[--qemu-test SCRIPT --qemu-mem SIZE --qemu-arg RUN-VM-ARG... [--qemu-only]]" >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kernel="" modules=() out="" smp=2 mib=256 quick=0 verbose=()
qemu_test="" qemu_mem=3G qemu_args=() creds="" main=1
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift ;;
	--module) modules+=(--module "$2"); shift ;;
	--out) out=$2; shift ;;
	--smp) smp=$2; shift ;;
	--mib) mib=$2; shift ;;
	--quick) quick=1 ;;
	--verbose) verbose=(--verbose) ;;
	--qemu-test) qemu_test=$2; shift ;;
	--qemu-mem) qemu_mem=$2; shift ;;
	--qemu-arg) qemu_args+=("$2"); shift ;;
	--qemu-only) main=0 ;;
	--creds) creds=$2; shift ;;
	*) usage ;;
	esac
	shift
done
[ -n "$kernel" ] && [ -n "$out" ] && [ ${#modules[@]} -gt 0 ] && [ -n "$creds" ] || usage
[ $main = 1 ] || [ -n "$qemu_test" ] || usage
command -v gnuplot > /dev/null || { echo "bench: gnuplot missing (make deps)" >&2; exit 1; }

mkdir -p "$out"
for part in bench-latency bench-main; do
	install -m 755 "$here/guest.sh" "$out/$part"
done

run_vm=("$top/selftests/runner/run-vm.sh" --kernel "$kernel" "${modules[@]}"
	--test-timeout 2400 --timeout 3600 --show-tap "${verbose[@]}"
	--file "$here/umem-bench" --env QUICK=$quick --env MIB=$mib)

rc=0
if [ $main = 1 ]; then
	# The page checksum's throughput, on the host (old against new).
	"$here/csum-bench" > "$out/csum.txt" || rc=1
	"${run_vm[@]}" --name bench-latency --smp 1 --out "$out/vm-latency" \
		--test "$out/bench-latency" > "$out/latency.log" 2>&1 || rc=1
	"${run_vm[@]}" --name bench-main --smp "$smp" --out "$out/vm-main" \
		--file "$top/tools/umemctl/umemctl" --file "$top/tools/umemctl/umemd" \
		--file "$top/selftests/postcopy/netns.sh" --file "$creds" \
		--test "$out/bench-main" > "$out/main.log" 2>&1 || rc=1
else
	: > "$out/csum.txt"
fi
if [ -n "$qemu_test" ]; then
	"${run_vm[@]}" --name bench-qemu --mem "$qemu_mem" --out "$out/vm-qemu" \
		"${qemu_args[@]}" --test "$qemu_test" > "$out/qemu.log" 2>&1 || rc=1
fi

tap() {
	[ $main = 0 ] || tr -d '\r' < "$out/vm-latency/results.tap"
	[ $main = 0 ] || tr -d '\r' < "$out/vm-main/results.tap"
	[ -z "$qemu_test" ] || tr -d '\r' < "$out/vm-qemu/results.tap"
}

# The tables: the cases' own output, without the TAP framing.
tap | sed -n -e '/^# # json /d' -e '/^# # dat /d' -e 's/^# \{0,1\}//p' |
	grep -v -e '^umem-runner' -e '^ *$' > "$out/results.txt"
grep -v '^# json ' "$out/csum.txt" >> "$out/results.txt"
cat "$out/results.txt"

if [ $rc != 0 ]; then
	echo "bench: a VM run failed; its log:" >&2
	logs=()
	[ $main = 0 ] || logs+=("$out/latency.log" "$out/main.log")
	[ -z "$qemu_test" ] || logs+=("$out/qemu.log")
	grep -h -E '^(FAIL|run-vm)' "${logs[@]}" >&2
	tail -n 40 "${logs[@]}" >&2
	exit 1
fi

# results.json: the fragments the cases printed, in one object.
{
	printf '{"kernel": "%s", "date": "%s", "quick": %s,\n' \
		"$(sed -n 's/^.*Linux version \([^ ]*\).*/\1/p' "$out"/vm-*/console.log | head -n 1)" \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$([ $quick = 1 ] && echo true || echo false)"
	printf ' "vm": {"latency_smp": 1, "main_smp": %s, "accel": "tcg", "host_cpus": %s},\n' \
		"$smp" "$(nproc)"
	{ sed -n 's/^# json //p' "$out/csum.txt"; tap | sed -n 's/^# # json //p'; } |
		sed -e 's/^/ /' -e '$!s/$/,/'
	echo "}"
} > "$out/results.json"
if [ $main = 0 ]; then
	echo "bench: wrote $out/results.json, $out/results.txt"
	exit 0
fi

tap | sed -n 's/^# # dat scaling //p' > "$out/scaling.dat"
gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced
set output "$out/scaling.png"
set title "Faults/s against faulting threads (one server thread, TCG guest, smp $smp)"
set xlabel "faulting threads"
set ylabel "faults per second"
set logscale x 2
set key bottom right font ",9"
set grid
plot "$out/scaling.dat" using 1:2 with linespoints lw 2 lc 1 title "umem", \
     "" using 1:3 with linespoints lw 2 lc 2 title "userfaultfd MINOR (shmem, fill + CONTINUE)", \
     "" using 1:4 with linespoints lw 2 lc 3 title "userfaultfd MISSING (anon, COPY)", \
     "" using 1:5 with linespoints lw 1 dt 2 lc 1 title "umem, pages already filled", \
     "" using 1:6 with linespoints lw 1 dt 2 lc 2 title "userfaultfd MINOR, pages already filled"
GP
[ -s "$out/scaling.png" ] || { echo "bench: gnuplot drew nothing" >&2; exit 1; }

# The latency case's fault-wait distribution (random order): the CDF,
# and below it the tail (the fraction waiting longer) on a log scale.
tap | sed -n 's/^# # dat latency //p' > "$out/latency.dat"
grep -q '^[0-9]' "$out/latency.dat" || { echo "bench: no latency samples" >&2; exit 1; }
# "p50 X µs, p99 Y µs" of a series, from results.json's latency object.
pct() {
	sed -n 's/^ *"latency": //p' "$out/results.json" |
		sed -n "s/.*\"$1\": {\"p50_us\": \([0-9.]*\), \"p99_us\": \([0-9.]*\).*/p50 \1, p99 \2 µs/p"
}
gnuplot <<GP
set terminal pngcairo size 900,820 noenhanced
set output "$out/latency.png"
set multiplot layout 2,1 title "Fault wait: one faulting thread, one server thread, random order, $(sed -n 's/^ *"latency": {"pages": \([0-9]*\).*/\1/p' "$out/results.json") pages x 3 rounds (TCG guest, smp 1)"
set logscale x 10
set format x "%.0f"
set grid xtics mxtics ytics
set rmargin 7
set key bottom right font ",9"
set xlabel "fault wait (µs, log scale)"
set ylabel "fraction of faults waiting at most x"
set yrange [0:1.02]
set ytics 0.1
set title "CDF"
plot "$out/latency.dat" using 1:2 with lines lw 2 lc 1 title "umem ($(pct umem))", \
     "" using 1:3 with lines lw 2 lc 2 title "userfaultfd MINOR, shmem, fill + CONTINUE ($(pct uffd_minor))", \
     "" using 1:4 with lines lw 2 lc 3 title "userfaultfd MISSING, anon, COPY ($(pct uffd_missing))", \
     "" using 1:5 with lines lw 1 dt 2 lc rgb "gray40" title "floor: eventfd round trip + minor fault ($(pct floor))"
set title "Tail, log scale (the lowest level of a curve is one fault)"
set ylabel "fraction of faults waiting longer than x"
set logscale y 10
set yrange [*:1.2]
set ytics auto
set format y "%g"
set key top right font ",9"
plot "$out/latency.dat" using 1:(1 - \$2) with lines lw 2 lc 1 title "umem", \
     "" using 1:(1 - \$3) with lines lw 2 lc 2 title "userfaultfd MINOR", \
     "" using 1:(1 - \$4) with lines lw 2 lc 3 title "userfaultfd MISSING", \
     "" using 1:(1 - \$5) with lines lw 1 dt 2 lc rgb "gray40" title "floor"
unset multiplot
GP
[ -s "$out/latency.png" ] || { echo "bench: gnuplot drew nothing" >&2; exit 1; }
echo "bench: wrote $out/results.json, $out/results.txt, $out/scaling.png, $out/latency.png"
