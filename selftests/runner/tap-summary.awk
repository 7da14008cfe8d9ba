# SPDX-License-Identifier: GPL-2.0
#
# The guest's TAP (ttyS1, framed by init's "# umem-runner:" lines) into
# one "PASS|FAIL|SKIP name" line per result, then "#counts PASS FAIL SKIP".
#
#   tr -d '\r' < results.tap |
#	awk -v qrc=QEMU_EXIT -v timeout=VM_TIMEOUT -v stall=STALL -f tap-summary.awk
#
# A test binary fails when it reports "not ok", or exits non-zero (4 is
# kselftest's "skipped") without one, or is killed by its timeout.  The
# guest fails when init never said "done": qrc tells why (124: the
# whole-VM timeout, 125: the stall watchdog).  Names of skipped tests are
# taken from the harness's preceding "RUN" line, as its skip lines carry
# only a reason.
function rec(verdict, what) {
	print verdict " " what
	if (verdict == "PASS") pass++
	else if (verdict == "SKIP") skip++
	else fail++
}
/^# umem-runner: begin / { bin = $4; inbin = 1; binfail = 0; last = ""; next }
/^# umem-runner: end / {
	inbin = 0
	rc = $6
	if (rc == 137)
		rec("FAIL", bin " (SIGKILL: per-test timeout)")
	else if (rc != 0 && rc != 4 && !binfail)
		rec("FAIL", bin " (exit status " rc ")")
	next
}
/^# umem-runner: done/ { done = 1; next }
/^#  *RUN / { last = $3; next }
/^not ok / {
	sub(/^not ok [0-9]+ /, "")
	rec("FAIL", $0 == "" ? last : $0)
	if (inbin) binfail = 1
	next
}
/^ok [0-9]+ # SKIP/ {
	r = $0; sub(/^ok [0-9]+ # SKIP */, "", r)
	rec("SKIP", last " (" r ")")
	next
}
/^ok / { sub(/^ok [0-9]+ /, ""); rec("PASS", $0); next }
END {
	if (inbin)
		rec("FAIL", bin " (guest stopped while it ran)")
	if (!done) {
		if (qrc == 125)
			rec("FAIL", "runner.guest (stalled: no TAP output for " stall "s)")
		else if (qrc == 124)
			rec("FAIL", "runner.guest (timed out after " timeout "s)")
		else
			rec("FAIL", "runner.guest (did not finish, qemu exit " qrc ")")
	}
	printf "#counts %d %d %d\n", pass, fail, skip
}
