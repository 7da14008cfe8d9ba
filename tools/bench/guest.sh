#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# umem-bench's cases, run inside the test VM by tools/bench/bench.sh.
# Installed twice: as bench-latency (a one-vCPU boot) and as bench-main
# (the other cases, and the postcopy migration against its stream floor).
# TAP on stdout; the measurements ride in TAP comments ("# # json ...").
# Its settings come from bench.sh (run-vm.sh --env): QUICK=1 shrinks the
# cases for a quick run, MIB is the simulated migration's image size.

T=$(dirname "$0")
: "${QUICK:?}" "${MIB:?}"
RUN=${RUN:-/tmp/bench}
mkdir -p "$RUN"
n=0
fail=0

step() {
	name=$1
	shift
	n=$((n + 1))
	"$@" > $RUN/step.out 2>&1
	rc=$?
	sed 's/^/# /' $RUN/step.out
	if [ $rc = 0 ]; then
		echo "ok $n bench.$name"
	else
		echo "not ok $n bench.$name # exit status $rc"
		fail=1
	fi
}

# quick: small sizes, to check that the pipeline works; not for numbers.
opts() {
	if [ "$QUICK" = 1 ]; then
		case $1 in
		latency) echo "--pages 2048" ;;
		scaling) echo "--pages 2048 --threads 16" ;;
		same-page) echo "--pages 32 --threads 8" ;;
		mark-present) echo "--pages 4096" ;;
		esac
	fi
}

# One migration of the image into a running VMM; prints the vmm report.
# The source host is a namespace of the same 2-vCPU guest: it runs at a
# higher priority, as if it had CPUs of its own (on a real migration it
# does), so that the VMM's busy vCPUs do not starve it.  umemd outranks
# the vCPUs too (--nice), as a deployment should set it up.  SEC: the
# security options of both (default --insecure).
migrate() {
	on_src "$T/umemctl" source --image "pattern:${MIB}M:42" \
		--listen "$SRC_IP:4444" ${SEC:---insecure} --once > $RUN/source.log 2>&1 &
	src=$!
	renice -n -10 -p $src > /dev/null
	sleep 0.3
	on_dst "$T/umemctl" vmm --image "pattern:${MIB}M:42" \
		--source "$SRC_IP:4444" ${SEC:---insecure} --umemd "$T/umemd" \
		--umemd-arg --progress=none --umemd-arg --nice=-10 "$@"
	rc=$?
	wait $src
	sed 's/^/source: /' $RUN/source.log
	return $rc
}

# The demo migration (4 vCPUs at work) and its stream floor: the same
# bytes over the same veth into the same daemon, with no fault at all.
postcopy() {
	. "$T/netns.sh"
	net_up || return 1
	migrate --vcpus 4 --ops 50000 > $RUN/demo.out 2>&1 || {
		cat $RUN/demo.out; net_down; return 1; }
	migrate --vcpus 1 --ops 0 > $RUN/floor.out 2>&1 || {
		cat $RUN/floor.out; net_down; return 1; }
	net_down
	total=$(sed -n 's/^ *total time *\([0-9.]*\) s/\1/p' $RUN/demo.out)
	done_s=$(sed -n 's/^ *migration complete *\([0-9.]*\) s.*/\1/p' $RUN/demo.out)
	floor=$(sed -n 's/^ *total time *\([0-9.]*\) s/\1/p' $RUN/floor.out)
	floor_done=$(sed -n 's/^ *migration complete *\([0-9.]*\) s.*/\1/p' $RUN/floor.out)
	echo "5. End to end: $MIB MiB image over veth (two netns)"
	echo "  demo (4 vCPUs x 50000 ops)   total $total s, migration complete $done_s s"
	echo "  stream floor (no faults)     total $floor s, migration complete $floor_done s"
	echo "  ratio total/floor            $(awk "BEGIN { printf \"%.2f\", $total / $floor }")"
	sed 's/^/  demo: /' $RUN/demo.out
	sed 's/^/  floor: /' $RUN/floor.out
	echo "# json \"postcopy\": {\"image_mib\": $MIB, \"total_s\": $total, \"stream_floor_s\": $floor, \"complete_s\": $done_s, \"stream_floor_complete_s\": $floor_done}"
}

# The stream floor (one vCPU, no fault) of the same image in clear, over
# kernel TLS and over user-space TLS (--tls-no-ktls), in one boot: what
# the encryption costs, and what handing it to the kernel saves.
tls() {
	. "$T/netns.sh"
	mkdir -p $RUN/tls && tar xf "$T/creds.tar" -C $RUN/tls || return 1
	net_up || return 1
	for m in plain ktls usertls; do
		case $m in
		plain) SEC=--insecure ;;
		ktls) SEC="--tls-creds $RUN/tls/good" ;;
		usertls) SEC="--tls-creds $RUN/tls/good --tls-no-ktls" ;;
		esac
		migrate --vcpus 1 --ops 0 > $RUN/tls-$m.out 2>&1 || {
			cat $RUN/tls-$m.out; net_down; return 1; }
		eval "${m}=\$(sed -n 's/.*umemd: complete: .* (\([0-9.]*\) MiB\/s).*/\1/p' $RUN/tls-$m.out)"
	done
	net_down
	if grep -q "kernel TLS unavailable" $RUN/tls-ktls.out; then
		cat $RUN/tls-ktls.out
		echo "no kernel TLS in this VM: the ktls figure would be user-space TLS"
		return 1
	fi
	echo "6. TLS: $MIB MiB stream floor (1 vCPU, no faults) over veth, umemd's MiB/s"
	echo "  plain TCP (--insecure)       $plain MiB/s"
	echo "  kernel TLS (kTLS)            $ktls MiB/s ($(awk "BEGIN { printf \"%.2f\", $ktls / $plain }")x plain)"
	echo "  user-space TLS               $usertls MiB/s ($(awk "BEGIN { printf \"%.2f\", $usertls / $plain }")x plain)"
	echo "# json \"tls\": {\"image_mib\": $MIB, \"plain_mib_s\": $plain, \"ktls_mib_s\": $ktls, \"usertls_mib_s\": $usertls}"
}

echo "TAP version 13"
case $(basename "$0") in
bench-latency)
	echo "1..1"
	step latency "$T/umem-bench" latency $(opts latency)
	;;
*)
	echo "1..6"
	for c in scaling same-page mark-present footprint; do
		step $c "$T/umem-bench" $c $(opts $c)
	done
	step postcopy postcopy
	step tls tls
	;;
esac
exit $fail
