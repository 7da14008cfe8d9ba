# SPDX-License-Identifier: GPL-2.0
#
# Filter a kernel log before it is matched against splat-patterns: drop
# the kmemleak reports of leaks that exist before the runner's baseline.
# The init scans and clears kmemleak right after boot, before loading any
# module, and then logs the marker below; a leak reported before the
# marker belongs to the boot (the 6.1 debug kernel reports ACPI's early
# caches), not to anything under test.  Everything else passes through.
/umem-runner: kmemleak baseline cleared/ { baseline = 1 }
!baseline && /new suspected memory leaks/ { next }
# The OOM killer prints a stack trace with its report.  A test that
# provokes it on purpose (selftests/umem/memcg.c) logs the markers below
# around it; inside them, the "Call Trace:" line of an OOM report is
# dropped, and nothing else.
/umem-test: expect oom-kill/ { oom_ok = 1 }
/umem-test: oom-kill done/ { oom_ok = 0; in_oom = 0 }
oom_ok && /invoked oom-killer:/ { in_oom = 1 }
in_oom && /Call Trace:/ { next }
in_oom && /(oom-kill:|Out of memory and no killable)/ { in_oom = 0 }
{ print }
