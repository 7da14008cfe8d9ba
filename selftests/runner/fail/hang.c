// SPDX-License-Identifier: GPL-2.0
/*
 * runner: a test that never ends.  `make check-runner` boots with it and a
 * short per-binary timeout, and passes only if the runner reports the kill;
 * and with a long one, to see the stall watchdog at work.  The harness's
 * own timeout (30 s by default) would end it first, while the watchdog
 * dumps the guest's state: it gets an hour.
 */
#include <unistd.h>

#include "kselftest_harness.h"

FIXTURE(runner) {};
FIXTURE_SETUP(runner) {}
FIXTURE_TEARDOWN(runner) {}

TEST_F_TIMEOUT(runner, runner__hangs, 3600)
{
	for (;;)
		pause();
}

TEST_HARNESS_MAIN
