# SPDX-License-Identifier: GPL-2.0
#
# Sourced: trace the demand fault path of a migration, for
# tools/bench/fault-path.awk: umem's tracepoints and umemd --trace's marks
# on one clock (mono, the clock of CLOCK_MONOTONIC).

TR=/sys/kernel/tracing
FAULT_EVENTS="umem_request_queued umem_request_read umem_present umem_wake"

trace_start() {
	echo 0 > $TR/tracing_on
	echo > $TR/trace
	echo mono > $TR/trace_clock
	echo 16384 > $TR/buffer_size_kb
	for e in $FAULT_EVENTS; do
		echo 1 > $TR/events/umem/$e/enable
	done
	echo 1 > $TR/tracing_on
}

# trace_stop FILE: append the trace to FILE, after a line "# run"
trace_stop() {
	echo 0 > $TR/tracing_on
	for e in $FAULT_EVENTS; do
		echo 0 > $TR/events/umem/$e/enable
	done
	echo "# run" >> "$1"
	cat $TR/trace >> "$1"
}
