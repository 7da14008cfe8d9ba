// SPDX-License-Identifier: GPL-2.0
/*
 * stats: UMEM_IOC_STATS and fdinfo report what happened.
 */
#include <stdio.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define NPAGES 8

FIXTURE(stats) {
	struct umem_fix f;
};

FIXTURE_SETUP(stats)
{
	umem_fix_setup(_metadata, &self->f, NPAGES, 10000, true);
}

FIXTURE_TEARDOWN(stats)
{
	umem_fix_teardown(&self->f);
}

TEST_F(stats, stats__before_init)
{
	struct umem_stats st;
	int fd = umem_open_api(_metadata, NULL);

	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_STATS, &st));
	EXPECT_EQ(ENXIO, errno);
	close(fd);
}

TEST_F(stats, stats__counts)
{
	struct umem_request req;
	struct umem_stats st;
	uint64_t sum = 0;
	pid_t pid;
	int i;

	ASSERT_EQ(0, ioctl(self->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(NPAGES * self->f.psz, st.size);
	EXPECT_EQ(self->f.psz, st.page_size);
	EXPECT_EQ(UMEM_STATE_SERVED, st.state);
	EXPECT_EQ(0, st.faults);

	pid = umem_fork_reader(&self->f, 2);
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	usleep(50000);
	ASSERT_EQ(0, ioctl(self->f.srv, UMEM_IOC_STATS, &st));
	EXPECT_EQ(1, st.pages_requested);
	EXPECT_EQ(1, st.pages_outstanding);
	ASSERT_EQ(0, umem_supply(&self->f, 2));
	ASSERT_EQ(0, umem_wait_child(pid));
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&self->f, 5, 2));

	ASSERT_EQ(0, ioctl(self->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(3, st.pages_present);
	EXPECT_EQ(1, st.pages_requested);
	EXPECT_EQ(0, st.pages_outstanding);
	EXPECT_LE(2, st.faults);	/* the first fault, and its retry */
	EXPECT_EQ(1, st.faults_blocked);
	EXPECT_LT(0, st.blocked_ns);
	for (i = 0; i < UMEM_HIST_BUCKETS; i++)
		sum += st.wait_hist[i];
	EXPECT_EQ(st.faults_blocked, sum);
	EXPECT_EQ(0, st.detaches);
	for (i = 0; i < 7; i++)
		EXPECT_EQ(0, st.reserved[i]);
}

static bool fdinfo_has(int fd, const char *line)
{
	char path[64], buf[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, line) != NULL;
}

TEST_F(stats, stats__fdinfo)
{
	int fd = umem_open_api(_metadata, NULL);

	EXPECT_TRUE(fdinfo_has(fd, "umem-state:\tnew\n"));
	close(fd);
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&self->f, 0, 3));
	EXPECT_TRUE(fdinfo_has(self->f.ctl, "umem-api:\t1\n"));
	EXPECT_TRUE(fdinfo_has(self->f.ctl, "umem-state:\tserved\n"));
	EXPECT_TRUE(fdinfo_has(self->f.ctl, "umem-pages-present:\t3\n"));
	EXPECT_TRUE(fdinfo_has(self->f.srv, "umem-pages-present:\t3\n"));
	EXPECT_TRUE(fdinfo_has(self->f.srv, "umem-size:\t"));
	EXPECT_TRUE(fdinfo_has(self->f.srv, "umem-wait-hist-log2us:"));
}

TEST_HARNESS_MAIN
