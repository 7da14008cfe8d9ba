// SPDX-License-Identifier: GPL-2.0
/*
 * runner: a test that never ends.  `make check-runner` boots with it and a
 * short per-binary timeout, and passes only if the runner reports the kill.
 */
#include <unistd.h>

#include "kselftest_harness.h"

TEST(runner__hangs)
{
	for (;;)
		pause();
}

TEST_HARNESS_MAIN
