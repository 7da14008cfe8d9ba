// SPDX-License-Identifier: GPL-2.0
/*
 * runner: a test that must fail.  `make check-runner` boots with it and
 * passes only if the runner reports the failure.
 */
#include "kselftest_harness.h"

TEST(runner__must_fail)
{
	EXPECT_EQ(1, 2) TH_LOG("this failure is deliberate");
}

TEST(runner__passes)
{
	EXPECT_EQ(1, 1);
}

TEST_HARNESS_MAIN
