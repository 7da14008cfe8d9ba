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
{ print }
