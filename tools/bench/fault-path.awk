# SPDX-License-Identifier: GPL-2.0
#
# Where a demand fault's time goes, from one trace: umem's tracepoints
# (umem_request_queued, umem_request_read, umem_present, umem_wake) and
# umemd --trace's marks ("umemd req N", "umemd got N"), all on one clock
# (trace_clock mono).  For each page a fault waited for, six instants:
#   queued   the fault queued its request
#   read     umemd read() the request
#   sent     umemd asked the source for the page
#   arrived  the page's last byte was in the region
#   present  umemd's write() marked it present
#   running  the faulting thread ran again (umem_wake, present=1)
# and the steps between them: p50, p99 and mean in microseconds, over
# the pages that have both ends of the step.  A page the background
# stream brought while its fault waited has no "sent".  fault_to_placed
# is queued to present for the pages a thread waited for: the span that
# QEMU's postcopy-vcpu-blocktime counts (it ends when the page is
# placed, not when the vCPU runs again).
#
# Several traces may follow each other, each after a line "# run":
# pages are told apart by run.
#
#   awk -f fault-path.awk trace

function us(a, b) { return (b - a) * 1e6 }

# sift(ARR, I, N): move ARR[I] down its max-heap of ARR[1..N]
function sift(arr, i, n,    c, t) {
	while ((c = 2 * i) <= n) {
		if (c < n && arr[c + 1] > arr[c])
			c++
		if (arr[i] >= arr[c])
			return
		t = arr[i]; arr[i] = arr[c]; arr[c] = t
		i = c
	}
}

# hsort(ARR, N): sort ARR[1..N] in place (heapsort: no recursion, and
# no worst case on runs of equal values)
function hsort(arr, n,    i, t) {
	for (i = int(n / 2); i >= 1; i--)
		sift(arr, i, n)
	for (i = n; i > 1; i--) {
		t = arr[1]; arr[1] = arr[i]; arr[i] = t
		sift(arr, 1, i - 1)
	}
}

# pct(ARR, N, P): the P-th percentile of ARR[1..N], sorted
function pct(arr, n, p,    k) {
	k = int(p / 100 * n + 0.999999)
	if (k < 1)
		k = 1
	return arr[k]
}

function kv(name,    i) {
	for (i = 1; i <= NF; i++)
		if (index($i, name "=") == 1)
			return substr($i, length(name) + 2)
	return ""
}

/^# run/ {
	run++
	next
}

{
	ts = ""
	for (i = 1; i < NF; i++)
		if ($i ~ /^[0-9]+\.[0-9]+:$/) {
			ts = substr($i, 1, length($i) - 1) + 0
			ev = $(i + 1)
			break
		}
	if (ts == "")
		next
}

ev == "umem_request_queued:" {
	pg = run ":" kv("pgoff")
	if (!(pg in queued)) {
		queued[pg] = ts
		pages[++npages] = pg
	}
	next
}
ev == "umem_request_read:" {
	pg = run ":" kv("pgoff")
	if ((pg in queued) && !(pg in readt))
		readt[pg] = ts
	next
}
ev == "tracing_mark_write:" && $(i + 2) == "umemd" {
	pg = run ":" $(i + 4)
	if (!(pg in queued))
		next
	if ($(i + 3) == "req" && !(pg in sent))
		sent[pg] = ts
	else if ($(i + 3) == "got" && !(pg in arrived)) {
		arrived[pg] = ts
		pending[pg] = $(i + 4) + 0
	}
	next
}
ev == "umem_present:" {
	lo = kv("pgoff") + 0
	hi = lo + kv("count")
	for (pg in pending)
		if (pending[pg] >= lo && pending[pg] < hi) {
			present[pg] = ts
			delete pending[pg]
		}
	next
}
ev == "umem_wake:" {
	pg = run ":" kv("pgoff")
	if ((pg in present) && kv("present") == "1" && !(pg in running))
		running[pg] = ts
}

# step NAME FROM TO: one line of the table
function step(name, from, to,    n, pg, k, v, sum) {
	n = 0
	sum = 0
	for (k = 1; k <= npages; k++) {
		pg = pages[k]
		if (!(pg in from) || !(pg in to) || to[pg] < from[pg])
			continue
		v[++n] = us(from[pg], to[pg])
		sum += v[n]
	}
	if (!n) {
		printf "  %-22s %6d %10s %10s %10s\n", name, 0, "-", "-", "-"
		return
	}
	hsort(v, n)
	printf "  %-22s %6d %10.0f %10.0f %10.0f %8.3f\n", name, n,
		pct(v, n, 50), pct(v, n, 99), sum / n, sum / 1e6
	json = json sprintf("%s\"%s\": {\"n\": %d, \"p50_us\": %.0f, \"p99_us\": %.0f, \"sum_s\": %.3f}",
		json == "" ? "" : ", ", name, n, pct(v, n, 50), pct(v, n, 99),
		sum / 1e6)
}

END {
	# A waiter's fault until its page was placed: what QEMU's
	# postcopy-vcpu-blocktime counts, which ends at UFFDIO_COPY.
	for (pg in running)
		if (pg in present)
			placed[pg] = present[pg]
	printf "  %-22s %6s %10s %10s %10s %8s\n", "step", "pages", "p50_us",
		"p99_us", "mean_us", "sum_s"
	step("queued_to_read", queued, readt)
	step("read_to_sent", readt, sent)
	step("sent_to_arrived", sent, arrived)
	step("arrived_to_present", arrived, present)
	step("present_to_running", present, running)
	step("fault_total", queued, running)
	step("fault_to_placed", queued, placed)
	print "# json \"fault_path\": {" json "}"
}
