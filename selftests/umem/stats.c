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

/*
 * Every key Documentation/umem.rst lists for fdinfo, in its order, and
 * no other umem- key: the control fd and the server fd show the same.
 */
TEST_F(stats, stats__fdinfo_keys)
{
	static const char * const keys[] = {
		"umem-api", "umem-state", "umem-size", "umem-page-size",
		"umem-pages-present", "umem-pages-requested",
		"umem-pages-outstanding", "umem-pages-poisoned", "umem-faults",
		"umem-faults-blocked", "umem-requests-redelivered",
		"umem-detaches", "umem-blocked-ns", "umem-wait-hist-log2us",
	};
	char path[64], line[512], want[64];
	int fds[2] = { self->f.ctl, self->f.srv };
	size_t k, first;
	unsigned int i;
	FILE *f;

	snprintf(want, sizeof(want), "umem-page-size:\t%u\n", self->f.psz);
	EXPECT_TRUE(fdinfo_has(self->f.ctl, want));
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fds[i]);
		f = fopen(path, "r");
		ASSERT_NE(NULL, f);
		/* The server fd has no handshake of its own: no umem-api. */
		first = k = i ? 1 : 0;
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "umem-", 5))
				continue;
			ASSERT_GT(ARRAY_SIZE(keys), k)
				TH_LOG("fd %d: undocumented %s", fds[i], line);
			EXPECT_EQ(0, strncmp(line, keys[k], strlen(keys[k])))
				TH_LOG("fd %d: %s where %s was expected",
				       fds[i], line, keys[k]);
			EXPECT_EQ(':', line[strlen(keys[k])]);
			k++;
		}
		fclose(f);
		EXPECT_EQ(ARRAY_SIZE(keys), k)
			TH_LOG("fd %d: %zu keys of %zu", fds[i], k - first,
			       ARRAY_SIZE(keys) - first);
	}
}

TEST_HARNESS_MAIN
