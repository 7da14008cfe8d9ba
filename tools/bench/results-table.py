#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# results-table.py RESULTS_JSON [OTHER_JSON...] RST: rewrite the results
# table of Documentation/performance.rst (the lines between
# ".. results-table-start" and ".. results-table-end") from a results.json
# of make bench (tools/bench/bench.sh), and the real-guest rows of each
# OTHER_JSON (another QEMU: make bench QEMU=10 BENCH_MAIN=0).  make
# perf-table runs it.  Figures absent from the JSON (BENCH_QEMU=0, an
# older run) are left out of the table.  An OTHER_JSON may carry a
# "label" that names its rows beside its QEMU version.
import json
import sys
import textwrap

START, END = ".. results-table-start", ".. results-table-end"
# The real guest's figures: key, label, scale, the goal against QEMU.
QEMU_FIGURES = [("total_s", "total, s", 1, 0.8),
                ("downtime_ms", "downtime, ms", 1, 0.8),
                ("blocked_s", "vCPU blocked, s", 1, 0.5),
                ("guest_stall_s", "guest stall, s", 1, 0.5),
                ("wire_bytes", "on the wire, MiB", 2 ** -20, None)]


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def label(o):
    """An OTHER_JSON's "label", if it has one: two runs of one QEMU."""
    return f", {o['label']}" if o.get("label") else ""


def table(d, others=()):
    rows = []

    def row(what, umem, ref_name="", ref=None, goal="", ok=None, ratio=True):
        r = umem / ref if ratio and umem is not None and ref else None
        met = "" if ok is None or umem is None else "yes" if ok(umem, r) else "no"
        rows.append((what, fmt(umem), f"{ref_name} {fmt(ref)}" if ref_name else "",
                     "" if r is None else f"{r:.0f}x" if r >= 100 else f"{r:.2f}x",
                     goal, met))

    def ratio_goal(op, t):
        return (f"{op} {t}x", lambda u, r: r is not None and (r <= t if op == "<=" else r >= t))

    lat = d.get("latency", {})
    p = lambda k, q="p50_us": lat.get(k, {}).get(q)
    if "umem" in lat:
        row("fault round trip p50, µs", p("umem"), "uffd_minor", p("uffd_minor"), *ratio_goal("<=", 0.8))
        row("fault round trip p99, µs", p("umem", "p99_us"), "uffd_minor",
            p("uffd_minor", "p99_us"), *ratio_goal("<=", 1.0))
        row("fault round trip p50, µs", p("umem"), "floor", p("floor"), *ratio_goal("<=", 2))
        row("fault round trip p50, µs", p("umem"), "uffd_missing", p("uffd_missing"))
        row("the same, pwrite() fills, µs", p("umem_pwrite_fill"), "uffd_minor",
            p("uffd_minor_pwrite_fill"))
        parts = lat.get("parts", {})
        if parts:
            row("mark one page present, µs", parts["umem_write"]["p50_us"], "CONTINUE",
                parts["uffd_continue"]["p50_us"])
    for key, note in (("scaling", ""), ("scaling_prefilled", ", pages in cache")):
        sc = d.get(key, [])
        for s in sc:
            if s["threads"] >= 16:
                row(f"faults/s, {s['threads']} threads{note}", s["umem_faults_per_s"],
                    "uffd_minor", s["uffd_minor_faults_per_s"], *ratio_goal(">=", 1.5))
        if key == "scaling" and sc:
            peak = max(sc, key=lambda s: s["umem_faults_per_s"])
            low = min(s["umem_faults_per_s"] for s in sc if s["threads"] >= peak["threads"])
            row("faults/s, most threads past the peak", low,
                f"peak ({peak['threads']} threads)", peak["umem_faults_per_s"],
                *ratio_goal(">=", 0.8))
    sp = d.get("same_page")
    if sp:
        row(f"requests per page, {sp['threads']} threads on one", sp["umem"]["requests_per_page"],
            "uffd_minor", sp["uffd_minor"]["requests_per_page"])
        row("wake fan-out p50, µs", sp["umem"]["wake_fanout"]["p50_us"], "uffd_minor",
            sp["uffd_minor"]["wake_fanout"]["p50_us"])
    mp = d.get("mark_present")
    if mp:
        row("marking present, pages/s", mp["umem_pages_per_s"], "CONTINUE",
            mp["uffd_continue_pages_per_s"], ">= 1 M/s", lambda u, r: u >= 1e6)
        row(f"the same, {mp['waiters']} waiters", mp["umem_waiters_pages_per_s"], "CONTINUE",
            mp["uffd_continue_waiters_pages_per_s"], ">= 1 M/s", lambda u, r: u >= 1e6)
        row("marked, then every page read", mp["umem_mark_and_read_pages_per_s"], "CONTINUE",
            mp["uffd_continue_and_read_pages_per_s"])
    fp = d.get("footprint")
    if fp:
        row("footprint, bits per page", fp["bits_per_page"], goal="<= 2", ok=lambda u, r: u <= 2)
        row("footprint per region, bytes", fp["bytes_per_region"])
    pc = d.get("postcopy")
    if pc:
        row(f"simulated postcopy ({pc['image_mib']} MiB), s", pc["total_s"], "stream floor",
            pc["stream_floor_s"], *ratio_goal("<=", 1.2))
    tls = d.get("tls")
    if tls:
        row("stream over kTLS, MiB/s", tls["ktls_mib_s"], "clear", tls["plain_mib_s"],
            *ratio_goal(">=", 0.9))
        row("stream over user-space TLS, MiB/s", tls["usertls_mib_s"], "clear", tls["plain_mib_s"])
    cs = d.get("checksum")
    if cs:
        row("page checksum (XXH3), GB/s", cs["v2_xxh3_gbps"], "wire v1", cs["v1_multiply_xor_gbps"])
    # umem<sfx> against the better of QEMU's two modes with the same
    # suffix (postcopy<sfx>, postcopy_preempt<sfx>: _tls...); a umem run
    # without them (umem_nice0) against umem; QEMU's runs left over alone.
    def real_guest(r, where):
        q = r.get("qemu", {})
        used = set()
        for m in [m for m in q if m.startswith("umem")]:
            refs = [x for x in ("postcopy" + m[4:], "postcopy_preempt" + m[4:]) if x in q]
            used.update(refs)
            vs_qemu = bool(refs)
            if not refs and m != "umem" and "umem" in q:
                refs = ["umem"]
            for key, label, scale, goal in QEMU_FIGURES:
                ref = min(refs, key=lambda x: q[x][key]) if refs else None
                row(f"{where}, {m}: {label}", q[m][key] * scale, ref or "",
                    q[ref][key] * scale if ref else None,
                    *(ratio_goal("<=", goal) if goal and vs_qemu else ("", None)))
        for m in [m for m in q if m not in used and not m.startswith("umem")]:
            for key, label, scale, goal in QEMU_FIGURES:
                row(f"{where}, {m}: {label}", None, m, q[m][key] * scale)
        for step, f in r.get("fault_path", {}).items():
            row(f"{where}, demand fault, {step}: p50, µs", f["p50_us"], "p99", f["p99_us"],
                ratio=False)
        # QEMU's blocktime ends when the page is placed, umem's blocked_ns
        # when the vCPU runs again: fault_to_placed, summed over the
        # traced umem runs, per run, is umem counted QEMU's way.
        placed = r.get("fault_path", {}).get("fault_to_placed")
        runs = q.get("umem", {}).get("runs", 0)
        refs = [x for x in ("postcopy", "postcopy_preempt") if x in q]
        if placed and runs and refs:
            ref = min(refs, key=lambda x: q[x]["blocked_s"])
            row(f"{where}, umem: vCPU blocked as QEMU counts it, s", placed["sum_s"] / runs,
                ref, q[ref]["blocked_s"], *ratio_goal("<=", 0.5))

        # Huge pages: the TLB-bound guest after the migration, against
        # the same guest on a THP tmpfs it never left (the ceiling).
        h = r.get("huge")
        if h:
            rd = h["reads_per_s"]
            row(f"{where}, huge: random reads/s, umem_huge", rd["umem_huge"], "thp", rd["thp"],
                *ratio_goal(">=", 0.95))
            row(f"{where}, huge: random reads/s, umem (4 KiB)", rd["umem"], "thp", rd["thp"])
            row(f"{where}, huge: PMD-mapped after completion", h["pmd_mapped_fraction"],
                goal=">= 0.95", ok=lambda u, r: u >= 0.95)
            row(f"{where}, huge: demand fault p50, on / off", h["fault_p50_on_over_off"],
                goal="<= 1.1", ok=lambda u, r: u <= 1.1)
            for k in ("50", "95"):
                row(f"{where}, huge: {k}% PMD-mapped after, s", h[f"time_to_{k}pct_s"])

    qv = d.get("qemu_version")
    real_guest(d, f"real guest, QEMU {qv}" if others and qv else "real guest")
    for o in others:
        real_guest(o, f"real guest, QEMU {o.get('qemu_version', '?')}{label(o)}")
    return rows


def render(d, others=()):
    vm = d.get("vm", {})
    runs = {v.get("runs") for v in d.get("qemu", {}).values()} - {None}
    out = [f"From ``results.json``: Debian's ``{d.get('kernel', '?')}`` in a "
           f"{vm.get('accel', 'tcg').upper()} guest on a {vm.get('host_cpus', '?')}-CPU "
           f"host; latency at {vm.get('latency_smp', 1)} vCPU, the rest at "
           f"{vm.get('main_smp', '?')} vCPUs"]
    if runs:
        qv = d.get("qemu_version")
        out[0] += (f"; the real guest (QEMU{' ' + qv if qv else ''}, nested KVM) "
                   f"the median of {max(runs)} runs of each method")
    for o in others:
        out[0] += (f"; with QEMU {o.get('qemu_version', '?')}{label(o)} (Debian's "
                   f"``{o.get('kernel', '?')}``, another boot), the rows that name it")
    out[0] += "." + (" BENCH_QUICK: small sizes, the figures mean nothing." if d.get("quick") else "")
    head = ("measure", "umem", "against", "ratio", "goal", "met")
    rows = [head] + table(d, others)
    w = [max(len(r[i]) for r in rows) for i in range(len(head))]
    rule = "  ".join("=" * n for n in w)
    line = lambda r: "  ".join(c.ljust(n) for c, n in zip(r, w)).rstrip()
    return textwrap.wrap(out[0], 75) + ["", rule, line(head), rule] + [line(r) for r in rows[1:]] + [rule]


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: results-table.py RESULTS_JSON [OTHER_JSON...] RST")
    *jsons, rst = sys.argv[1:]
    d, *others = [json.load(open(j)) for j in jsons]
    with open(rst) as f:
        lines = f.read().split("\n")
    try:
        a, b = lines.index(START), lines.index(END)
    except ValueError:
        sys.exit(f"{rst}: no '{START}' ... '{END}' block")
    lines[a + 1:b] = [""] + render(d, others) + [""]
    with open(rst, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
