// SPDX-License-Identifier: GPL-2.0
/*
 * lifecycle: processes with faults blocked on a region live and die.  A
 * thousand waiters outlive their server and are served by the next one;
 * a core dump of a process with a blocked thread does not hang.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define WAITERS		1000
#define CORE_PATTERN	"/proc/sys/kernel/core_pattern"

struct waiter {
	const struct umem_fix *f;
	uint64_t pgoff;
	uint64_t *woke_ms;	/* shared with the parent */
	pthread_t th;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	volatile uint64_t *p = (uint64_t *)(w->f->map + w->pgoff * w->f->psz);
	uint64_t i;

	if (*p != umem_pattern(w->pgoff, 0))
		return (void *)1;
	/* The whole page, not only its first word: nothing zero-filled. */
	for (i = 1; i < w->f->psz / 8; i++)
		if (p[i] != umem_pattern(w->pgoff, i))
			return (void *)1;
	w->woke_ms[w->pgoff] = umem_now_ms();
	return NULL;
}

/*
 * A child with WAITERS threads, each blocked on its own page.  It exits
 * 0 when every thread got the right page, 1 otherwise.
 */
static pid_t fork_waiters(const struct umem_fix *f, uint64_t *woke_ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		static struct waiter w[WAITERS];
		pthread_attr_t attr;
		void *ret;
		int i, bad = 0;

		close(f->srv);
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 << 10);
		for (i = 0; i < WAITERS; i++) {
			w[i] = (struct waiter){ .f = f, .pgoff = i,
						.woke_ms = woke_ms };
			if (pthread_create(&w[i].th, &attr, waiter_main, &w[i]))
				_exit(2);
		}
		for (i = 0; i < WAITERS; i++) {
			pthread_join(w[i].th, &ret);
			bad |= ret != NULL;
		}
		_exit(bad);
	}
	return pid;
}

FIXTURE(lifecycle) {
};

FIXTURE_SETUP(lifecycle)
{
}

FIXTURE_TEARDOWN(lifecycle)
{
}

/*
 * A region of WAITERS pages with deadline @timeout_ms, its server, and a
 * child whose WAITERS threads block on them; returns once the server has
 * read every request.  *woke (shared with the child) gets each thread's
 * wake time.
 */
static pid_t start_waiters(struct __test_metadata *_metadata,
			   struct umem_fix *f, uint32_t timeout_ms,
			   uint64_t **woke)
{
	struct umem_request req[256];
	uint64_t seen = 0;
	ssize_t n;
	pid_t pid;

	umem_fix_setup(_metadata, f, WAITERS, timeout_ms, true);
	*woke = mmap(NULL, WAITERS * sizeof(**woke), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (*woke == MAP_FAILED)
		return -1;
	pid = fork_waiters(f, *woke);
	while (seen < WAITERS) {
		n = read(f->srv, req, sizeof(req));
		if (n <= 0) {
			kill(pid, SIGKILL);
			return -1;
		}
		seen += n / sizeof(req[0]);
	}
	return pid;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * 1,000 threads block on distinct pages; their server is killed (its fd
 * closed with the requests read and unanswered); a new server adopts the
 * region within the deadline, gets every request again and supplies the
 * pages.  Every thread gets its page, none zero-filled.
 */
TEST_F_TIMEOUT(lifecycle, waiters__thousand_readopted, 300)
{
	struct umem_request req[256];
	struct umem_serve sv = { .flags = UMEM_SERVE_CLOEXEC };
	struct umem_fix f;
	uint64_t *woke, seen, t0, i;
	ssize_t n;
	pid_t pid;

	/* The first server reads every request and dies without answering. */
	pid = start_waiters(_metadata, &f, 30000, &woke);
	ASSERT_LT(0, pid);
	close(f.srv);
	f.srv = -1;
	usleep(200000);
	ASSERT_EQ(0, waitpid(pid, NULL, WNOHANG)) TH_LOG("waiters gave up");

	/* The next one is handed all of them again. */
	ASSERT_EQ(0, ioctl(f.ctl, UMEM_IOC_SERVE, &sv));
	f.srv = sv.server_fd;
	close(f.shm);
	f.shm = sv.shmem_fd;
	for (seen = 0; seen < WAITERS; seen += n / sizeof(req[0])) {
		n = read(f.srv, req, sizeof(req));
		ASSERT_LT(0, n);
		for (i = 0; i < n / sizeof(req[0]); i++)
			EXPECT_EQ(UMEM_REQ_REDELIVERED, req[i].flags);
	}
	t0 = umem_now_ms();
	for (i = 0; i < WAITERS; i++)
		ASSERT_EQ(0, umem_supply(&f, i));
	EXPECT_EQ(0, umem_wait_child(pid));
	for (i = 0; i < WAITERS; i++)
		woke[i] = woke[i] > t0 ? woke[i] - t0 : 0;
	qsort(woke, WAITERS, sizeof(*woke), cmp_u64);
	ksft_print_msg("%d waiters re-adopted: woke p50 %llu ms, p99 %llu ms, max %llu ms after the supply started\n",
		       WAITERS, (unsigned long long)woke[WAITERS / 2],
		       (unsigned long long)woke[WAITERS * 99 / 100],
		       (unsigned long long)woke[WAITERS - 1]);
	munmap(woke, WAITERS * sizeof(*woke));
	umem_fix_teardown(&f);
}

/* Without a new server, the deadline ends them: SIGBUS, not a hang. */
TEST_F_TIMEOUT(lifecycle, waiters__thousand_deadline, 300)
{
	struct umem_fix f;
	uint64_t *woke, t0;
	pid_t pid;

	pid = start_waiters(_metadata, &f, 1000, &woke);
	ASSERT_LT(0, pid);
	t0 = umem_now_ms();
	close(f.srv);
	f.srv = -1;
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(pid));
	/* Not before the 1 s deadline, and not long after. */
	EXPECT_LE(900, umem_now_ms() - t0);
	EXPECT_GT(20000, umem_now_ms() - t0);
	munmap(woke, WAITERS * sizeof(*woke));
	umem_fix_teardown(&f);
}

static void *block_on(void *arg)
{
	return (void *)(uintptr_t)*(volatile uint64_t *)arg;
}

/*
 * A process dumps core while one of its threads is blocked on a missing
 * page: the blocked thread is killed, the dump skips the missing pages
 * (it never waits for them) and keeps the present ones, and the process
 * dies promptly.
 */
TEST_F_TIMEOUT(lifecycle, core_dump__blocked_thread, 120)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	char old[256] = "";
	struct umem_request req;
	struct umem_fix f;
	int status, fd;
	uint64_t t0;
	ssize_t n;
	pid_t pid;

	if (getuid() != 0)
		SKIP(return, "needs root to set core_pattern");
	fd = open(CORE_PATTERN, O_RDWR);
	ASSERT_LE(0, fd);
	n = read(fd, old, sizeof(old) - 1);
	ASSERT_LT(0, n);
	old[n] = 0;
	ASSERT_LT(0, pwrite(fd, "/tmp/umem-core.%p\n", 18, 0));

	umem_fix_setup(_metadata, &f, 16, 30000, true);
	ASSERT_EQ(0, umem_supply(&f, 1));
	pid = fork();
	if (pid == 0) {
		pthread_t th;

		close(f.srv);
		setrlimit(RLIMIT_CORE, &rl);
		pthread_create(&th, NULL, block_on, f.map + 5 * f.psz);
		usleep(300000);
		abort();
	}
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	EXPECT_EQ(5, req.pgoff);
	t0 = umem_now_ms();
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_GT(20000, umem_now_ms() - t0);
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGABRT, WTERMSIG(status));
	EXPECT_TRUE(WCOREDUMP(status));
	/* The region is untouched: page 5 is still wanted, page 1 there. */
	EXPECT_TRUE(umem_page_ok(&f, 1));
	EXPECT_EQ(0, umem_supply(&f, 5));
	EXPECT_TRUE(umem_page_ok(&f, 5));

	if (pwrite(fd, old, strlen(old), 0) < 0)
		TH_LOG("cannot restore core_pattern");
	close(fd);
	snprintf(old, sizeof(old), "/tmp/umem-core.%d", pid);
	unlink(old);
	umem_fix_teardown(&f);
}

TEST_HARNESS_MAIN
