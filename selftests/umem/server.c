// SPDX-License-Identifier: GPL-2.0
/*
 * server: UMEM_IOC_SERVE, reading requests (read, poll, epoll, io_uring,
 * O_NONBLOCK), writing ranges, poison, complete and the bitmaps.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <liburing.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define NPAGES 32

FIXTURE(server) {
	struct umem_fix f;
};

FIXTURE_SETUP(server)
{
	umem_fix_setup(_metadata, &self->f, NPAGES, 10000, true);
}

FIXTURE_TEARDOWN(server)
{
	umem_fix_teardown(&self->f);
}

static struct umem_stats stats(struct __test_metadata *_metadata,
			       const struct umem_fix *f)
{
	struct umem_stats st;

	EXPECT_EQ(0, ioctl(f->srv, UMEM_IOC_STATS, &st));
	return st;
}

TEST_F(server, serve__before_init)
{
	struct umem_serve sv = { 0 };
	int fd = umem_open_api(_metadata, NULL);

	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_SERVE, &sv));
	EXPECT_EQ(ENXIO, errno);
	close(fd);
}

TEST_F(server, serve__busy)
{
	struct umem_serve sv = { 0 };

	EXPECT_EQ(-1, ioctl(self->f.ctl, UMEM_IOC_SERVE, &sv));
	EXPECT_EQ(EBUSY, errno);
}

TEST_F(server, serve__bad_args)
{
	struct umem_serve sv = { .flags = 1U << 31 };

	close(self->f.srv);
	self->f.srv = -1;
	EXPECT_EQ(-1, ioctl(self->f.ctl, UMEM_IOC_SERVE, &sv));
	EXPECT_EQ(EINVAL, errno);
	sv.flags = 0;
	sv.__pad = 1;
	EXPECT_EQ(-1, ioctl(self->f.ctl, UMEM_IOC_SERVE, &sv));
	EXPECT_EQ(EINVAL, errno);
	sv.__pad = 0;
	EXPECT_RESERVED_CHECKED(self->f.ctl, UMEM_IOC_SERVE, &sv);
	EXPECT_EQ(-1, ioctl(self->f.ctl, UMEM_IOC_SERVE, umem_bad_addr()));
	EXPECT_EQ(EFAULT, errno);
	/* None of that left a server behind. */
	ASSERT_EQ(0, ioctl(self->f.ctl, UMEM_IOC_SERVE, &sv));
	self->f.srv = sv.server_fd;
	close(sv.shmem_fd);
}

TEST_F(server, serve__flags)
{
	struct umem_serve sv = { .flags = UMEM_SERVE_NONBLOCK };
	struct umem_request req;

	close(self->f.srv);
	ASSERT_EQ(0, ioctl(self->f.ctl, UMEM_IOC_SERVE, &sv));
	self->f.srv = sv.server_fd;
	EXPECT_FALSE(fcntl(sv.server_fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_FALSE(fcntl(sv.shmem_fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_TRUE(fcntl(sv.server_fd, F_GETFL) & O_NONBLOCK);
	/*
	 * NONBLOCK is the server fd's only: on the shmem fd it would make
	 * io_uring try its writes IOCB_NOWAIT, which shmem refuses.
	 */
	EXPECT_FALSE(fcntl(sv.shmem_fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(-1, read(sv.server_fd, &req, sizeof(req)));
	EXPECT_EQ(EAGAIN, errno);
	close(sv.shmem_fd);
	/* The fixture's server had CLOEXEC on both fds. */
	EXPECT_TRUE(fcntl(self->f.shm, F_GETFD) & FD_CLOEXEC);
}

TEST_F(server, read__short_buffer)
{
	char buf[sizeof(struct umem_request) - 1];

	EXPECT_EQ(-1, read(self->f.srv, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(server, read__nonblock_empty)
{
	struct umem_request req;

	ASSERT_EQ(0, fcntl(self->f.srv, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(self->f.srv, &req, sizeof(req)));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(server, read__bad_buffer)
{
	struct umem_request req;
	pid_t pid = umem_fork_reader(&self->f, 4);

	usleep(200000);
	EXPECT_EQ(-1, read(self->f.srv, umem_bad_addr(), sizeof(req)));
	EXPECT_EQ(EFAULT, errno);
	/* The request was not lost. */
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(4, req.pgoff);
	ASSERT_EQ(0, umem_supply(&self->f, 4));
	EXPECT_EQ(0, umem_wait_child(pid));
}

TEST_F(server, read__poll)
{
	struct pollfd p = { .fd = self->f.srv, .events = POLLIN };
	struct umem_request req;
	pid_t pid;

	EXPECT_EQ(0, poll(&p, 1, 0));
	pid = umem_fork_reader(&self->f, 6);
	ASSERT_EQ(1, poll(&p, 1, 10000));
	EXPECT_TRUE(p.revents & POLLIN);
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(0, poll(&p, 1, 0));
	ASSERT_EQ(0, umem_supply(&self->f, 6));
	EXPECT_EQ(0, umem_wait_child(pid));
}

TEST_F(server, read__epoll)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct umem_request req;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	pid_t pid;

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->f.srv, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	pid = umem_fork_reader(&self->f, 7);
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 10000));
	EXPECT_TRUE(out.events & EPOLLIN);
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	ASSERT_EQ(0, umem_supply(&self->f, 7));
	EXPECT_EQ(0, umem_wait_child(pid));
	close(ep);
}

/* One read() returns every queued request that fits, whole records only. */
TEST_F(server, read__batch)
{
	struct umem_request req[4];
	char buf[3 * sizeof(struct umem_request) + 5];
	pid_t pid[4];
	int i;

	for (i = 0; i < 4; i++)
		pid[i] = umem_fork_reader(&self->f, 10 + i);
	for (i = 0; i < 200 && stats(_metadata, &self->f).pages_requested < 4; i++)
		usleep(20000);
	ASSERT_EQ(4, stats(_metadata, &self->f).pages_requested);
	EXPECT_EQ(3 * sizeof(struct umem_request), read(self->f.srv, buf, sizeof(buf)));
	EXPECT_EQ(sizeof(req[0]), read(self->f.srv, req, sizeof(req)));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, umem_supply(&self->f, 10 + i));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, umem_wait_child(pid[i]));
}

TEST_F(server, read__io_uring)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct umem_request req = { 0 };
	pid_t pid;

	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, self->f.srv, &req, sizeof(req), 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	pid = umem_fork_reader(&self->f, 8);
	ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
	EXPECT_EQ(sizeof(req), cqe->res);
	EXPECT_EQ(8, req.pgoff);
	EXPECT_EQ(pid, req.tid);
	io_uring_cqe_seen(&ring, cqe);
	ASSERT_EQ(0, umem_supply(&self->f, 8));
	EXPECT_EQ(0, umem_wait_child(pid));
	io_uring_queue_exit(&ring);
}

TEST_F(server, write__bad_size)
{
	struct umem_range r[2] = { { 0, 1 }, { 1, 1 } };

	EXPECT_EQ(-1, write(self->f.srv, r, sizeof(r) - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->f.srv, r, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->f.srv, umem_bad_addr(), sizeof(r)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, stats(_metadata, &self->f).pages_present);
}

TEST_F(server, write__too_big)
{
	size_t n = UMEM_WRITE_MAX / sizeof(struct umem_range) + 1;
	struct umem_range *r = calloc(n, sizeof(*r));
	size_t i;

	ASSERT_NE(NULL, r);
	for (i = 0; i < n; i++)
		r[i] = (struct umem_range){ .pgoff = 0, .count = 1 };
	EXPECT_EQ(-1, write(self->f.srv, r, n * sizeof(*r)));
	EXPECT_EQ(E2BIG, errno);
	/* The largest allowed write works. */
	EXPECT_EQ(UMEM_WRITE_MAX, write(self->f.srv, r, UMEM_WRITE_MAX));
	free(r);
}

/* One bad range fails the whole write; nothing is marked. */
TEST_F(server, write__atomic)
{
	struct umem_range bad[][2] = {
		{ { 0, 4 }, { NPAGES, 1 } },
		{ { 0, 4 }, { 5, 0 } },
		{ { 0, 4 }, { NPAGES - 1, 2 } },
		{ { 0, 4 }, { 1, UINT64_MAX } },
		{ { 0, 4 }, { UINT64_MAX, 2 } },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-1, write(self->f.srv, bad[i], sizeof(bad[i])))
			TH_LOG("case %zu accepted", i);
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(0, stats(_metadata, &self->f).pages_present);
}

TEST_F(server, write__idempotent)
{
	struct umem_range r[2] = { { 2, 3 }, { 3, 4 } };

	EXPECT_EQ(sizeof(r), write(self->f.srv, r, sizeof(r)));
	EXPECT_EQ(sizeof(r), write(self->f.srv, r, sizeof(r)));
	EXPECT_EQ(5, stats(_metadata, &self->f).pages_present);
}

TEST_F(server, poison__sigbus)
{
	struct umem_range r = { .pgoff = 3, .count = 2 };
	struct umem_request req;
	pid_t waiting = umem_fork_reader(&self->f, 4);

	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	ASSERT_EQ(0, ioctl(self->f.srv, UMEM_IOC_POISON, &r));
	/* The waiter wakes with SIGBUS; a later fault gets it at once. */
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(waiting));
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(umem_fork_reader(&self->f, 3)));
	EXPECT_EQ(2, stats(_metadata, &self->f).pages_poisoned);
	/* Marking a poisoned page present does not heal it. */
	EXPECT_EQ(sizeof(struct umem_range), umem_mark(&self->f, 3, 1));
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(umem_fork_reader(&self->f, 3)));
}

/*
 * A poisoned page faults as hardware poison, supplied or not, mapped
 * before or not: SIGBUS with BUS_MCEERR_AR, as for UFFDIO_POISON, which
 * is what makes KVM stop the vCPU rather than retry for ever.  Kernel
 * code gets EFAULT.
 */
TEST_F(server, poison__hwpoison)
{
	struct umem_range r = { .pgoff = 5, .count = 2 };
	char *p5 = self->f.map + 5 * self->f.psz;
	char *p6 = self->f.map + 6 * self->f.psz;
	uint64_t word;
	int pipefd[2];

	/* Page 5 supplied and mapped; page 6 never supplied. */
	ASSERT_EQ(0, umem_supply(&self->f, 5));
	EXPECT_EQ(umem_pattern(5, 0), umem_access(p5, false).word);
	ASSERT_EQ(0, ioctl(self->f.srv, UMEM_IOC_POISON, &r));
	EXPECT_HWPOISON(p5, false);
	EXPECT_HWPOISON(p5, true);
	EXPECT_HWPOISON(p6, false);
	EXPECT_HWPOISON(p6, true);
	/* A kernel access fails with EFAULT, and sends no signal. */
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, write(pipefd[1], p6, 8));
	EXPECT_EQ(EFAULT, errno);
	word = 1;
	ASSERT_EQ(8, write(pipefd[1], &word, 8));
	EXPECT_EQ(-1, read(pipefd[0], p5, 8));
	EXPECT_EQ(EFAULT, errno);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_F(server, poison__bad_range)
{
	struct umem_range r = { .pgoff = NPAGES, .count = 1 };

	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_POISON, &r));
	EXPECT_EQ(EINVAL, errno);
	r = (struct umem_range){ .pgoff = 0, .count = 0 };
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_POISON, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_POISON, umem_bad_addr()));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, stats(_metadata, &self->f).pages_poisoned);
}

/*
 * A fault that found a page not yet poisoned, racing with the poison:
 * once UMEM_IOC_POISON returns, the page must not read, whoever mapped
 * it.  (Found writing the fuzzer's poison check: a fault could set its
 * PTE after the poison's unmap; about 1% of the pages here stayed
 * readable.)
 */
#define RACE_PAGES 4096

struct poison_race {
	char *map;
	long cur;
	int stop;
};

static __thread sigjmp_buf race_env;

static void race_sigbus(int sig)
{
	siglongjmp(race_env, 1);
}

/* Read the page at @p; false if it got SIGBUS. */
static bool race_read(volatile char *p)
{
	if (sigsetjmp(race_env, 1))
		return false;
	(void)*p;
	return true;
}

static void *race_faulter(void *arg)
{
	struct poison_race *r = arg;
	long p;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		p = __atomic_load_n(&r->cur, __ATOMIC_RELAXED);
		madvise(r->map + p * 4096, 4096, MADV_DONTNEED);
		if (race_read(r->map + p * 4096))
			continue;
		/*
		 * Poisoned already: the race for this page is over.  Wait for
		 * the next one rather than flood the kernel log, where each
		 * poison fault leaves an "MCE: Killing" line that the serial
		 * console prints slowly.
		 */
		while (__atomic_load_n(&r->cur, __ATOMIC_RELAXED) == p &&
		       !__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
			sched_yield();
	}
	return NULL;
}

TEST(poison__racing_fault)
{
	struct umem_range all = { .pgoff = 0, .count = RACE_PAGES }, r;
	struct poison_race race = { 0 };
	struct umem_fix f;
	uint64_t deadline = umem_now_ms() + 10000;
	pthread_t th;
	long p, readable = 0;

	umem_fix_setup(_metadata, &f, RACE_PAGES, 10000, true);
	ASSERT_EQ(4096, f.psz);
	ASSERT_EQ(sizeof(all), write(f.srv, &all, sizeof(all)));
	ASSERT_NE(SIG_ERR, signal(SIGBUS, race_sigbus));
	race.map = f.map;
	ASSERT_EQ(0, pthread_create(&th, NULL, race_faulter, &race));
	/* 4096 pages, or 10 s (the debug kernel is slow). */
	for (p = 0; p < RACE_PAGES && umem_now_ms() < deadline; p++) {
		__atomic_store_n(&race.cur, p, __ATOMIC_RELAXED);
		usleep(p % 7 * 10);
		r = (struct umem_range){ .pgoff = p, .count = 1 };
		ASSERT_EQ(0, ioctl(f.srv, UMEM_IOC_POISON, &r));
		if (race_read(f.map + p * 4096))
			readable++;
	}
	__atomic_store_n(&race.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	TH_LOG("%ld of %ld pages readable after UMEM_IOC_POISON", readable, p);
	EXPECT_EQ(0, readable);
	EXPECT_LE(256, p);
	umem_fix_teardown(&f);
}

TEST_F(server, complete__missing_pages)
{
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&self->f, 0, NPAGES - 1));
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_COMPLETE));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(UMEM_STATE_SERVED, stats(_metadata, &self->f).state);
}

/* Complete: the region no longer needs a server. */
TEST_F(server, complete__ok)
{
	struct umem_stats st;

	ASSERT_EQ(0, umem_supply(&self->f, 0));
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&self->f, 1, NPAGES - 1));
	ASSERT_EQ(0, ioctl(self->f.srv, UMEM_IOC_COMPLETE));
	close(self->f.srv);
	self->f.srv = -1;
	ASSERT_EQ(0, ioctl(self->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(UMEM_STATE_COMPLETE, st.state);
	EXPECT_EQ(0, st.detaches);
	EXPECT_TRUE(umem_page_ok(&self->f, 0));
	EXPECT_EQ(0, self->f.map[(NPAGES - 1) * self->f.psz]);
}

/*
 * The shmem fd cannot reach outside the region: the file is sealed to the
 * region's size (no growing by write, fallocate or truncate, no shrinking
 * that would drop supplied pages), and no seal can be added or removed.
 * Holes can still be punched, as a re-adopting daemon does.
 */
TEST_F(server, shmem__sealed_to_region)
{
	off_t end = (off_t)NPAGES * self->f.psz;
	struct stat st;
	char c[2] = { 1, 1 };

	EXPECT_EQ(F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_SHRINK,
		  fcntl(self->f.shm, F_GET_SEALS));
	EXPECT_EQ(-1, fcntl(self->f.shm, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_EQ(EPERM, errno);

	EXPECT_EQ(-1, pwrite(self->f.shm, c, 1, end));
	EXPECT_EQ(EPERM, errno);
	/* A write across the end stops there. */
	EXPECT_EQ(1, pwrite(self->f.shm, c, 2, end - 1));
	EXPECT_EQ(-1, ftruncate(self->f.shm, end + self->f.psz));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ftruncate(self->f.shm, end - self->f.psz));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, fallocate(self->f.shm, 0, end, self->f.psz));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, fstat(self->f.shm, &st));
	EXPECT_EQ(end, st.st_size);

	/* Inside the region, everything a daemon does still works. */
	EXPECT_EQ(1, pwrite(self->f.shm, c, 1, end - 1));
	EXPECT_EQ(0, fallocate(self->f.shm, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, 0, end));
	ASSERT_EQ(0, umem_supply(&self->f, 2));
	EXPECT_TRUE(umem_page_ok(&self->f, 2));
	ASSERT_EQ(0, fstat(self->f.shm, &st));
	EXPECT_EQ(end, st.st_size);
}

/*
 * A page the server wrote only in part reads as the bytes written and
 * zeros elsewhere; a page marked present but never written reads as
 * zeros: never stale memory.  Checked through the guest's mapping and a
 * fresh mapping of the shmem fd.
 */
TEST_F(server, write__partial_page_zeroed)
{
	size_t psz = self->f.psz, i;
	char head[100], mid[50];
	const char *p;
	char *m;

	memset(head, 0xa5, sizeof(head));
	memset(mid, 0x5a, sizeof(mid));
	ASSERT_EQ(sizeof(head), pwrite(self->f.shm, head, sizeof(head), 7 * psz));
	ASSERT_EQ(sizeof(mid), pwrite(self->f.shm, mid, sizeof(mid),
				      8 * psz + psz / 2));
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&self->f, 7, 3));

	m = mmap(NULL, NPAGES * psz, PROT_READ, MAP_SHARED, self->f.shm, 0);
	ASSERT_NE(MAP_FAILED, m);
	for (p = self->f.map; p; p = p == self->f.map ? m : NULL) {
		for (i = 0; i < psz; i++) {
			ASSERT_EQ(i < sizeof(head) ? (char)0xa5 : 0,
				  p[7 * psz + i]) TH_LOG("page 7 byte %zu", i);
			ASSERT_EQ(i >= psz / 2 && i < psz / 2 + sizeof(mid) ?
				  (char)0x5a : 0, p[8 * psz + i])
				TH_LOG("page 8 byte %zu", i);
			ASSERT_EQ(0, p[9 * psz + i]) TH_LOG("page 9 byte %zu", i);
		}
	}
	munmap(m, NPAGES * psz);
}

/* The present, poisoned and requested bitmaps, as a new server sees them. */
TEST(bitmap__snapshot)
{
	struct umem_range r[2] = { { 1, 2 }, { 64, 70 } };
	struct umem_range bad = { .pgoff = 150, .count = 1 };
	struct umem_bitmap bm = { .count = 200 };
	struct umem_request req;
	struct umem_fix f;
	uint64_t w[4];

	umem_fix_setup(_metadata, &f, 200, 10000, true);
	ASSERT_EQ(sizeof(r), write(f.srv, r, sizeof(r)));
	ASSERT_EQ(0, ioctl(f.srv, UMEM_IOC_POISON, &bad));

	memset(w, 0xff, sizeof(w));
	bm.addr = (uintptr_t)w;
	bm.which = UMEM_BITMAP_PRESENT;
	ASSERT_EQ(0, ioctl(f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(0x6ULL, w[0]);
	EXPECT_EQ(~0ULL, w[1]);
	/* Pages 128..133 and the poisoned 150; bits past 200 are zero. */
	EXPECT_EQ(0x3fULL | (1ULL << 22), w[2]);
	EXPECT_EQ(0, w[3]);

	bm.which = UMEM_BITMAP_POISONED;
	ASSERT_EQ(0, ioctl(f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(0, w[0]);
	EXPECT_EQ(1ULL << 22, w[2]);

	/* A sub-range starting at page 64, one word long. */
	memset(w, 0xff, sizeof(w));
	bm = (struct umem_bitmap){ .pgoff = 64, .count = 3,
				   .addr = (uintptr_t)w,
				   .which = UMEM_BITMAP_PRESENT };
	ASSERT_EQ(0, ioctl(f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(0x7ULL, w[0]);
	EXPECT_EQ(~0ULL, w[1]);

	/* A fault on page 5 sets its requested bit. */
	pid_t child = umem_fork_reader(&f, 5);

	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	ASSERT_EQ(5, req.pgoff);
	bm = (struct umem_bitmap){ .count = 64, .addr = (uintptr_t)w,
				   .which = UMEM_BITMAP_REQUESTED };
	ASSERT_EQ(0, ioctl(f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(1ULL << 5, w[0]);
	ASSERT_EQ(0, umem_supply(&f, 5));
	EXPECT_EQ(0, umem_wait_child(child));
	umem_fix_teardown(&f);
}

/*
 * A served region that is not mapped, for tests of many pages: its
 * bitmaps are all the kernel allocates for it.
 */
struct bare {
	struct umemlib_region r;
	struct umemlib_server s;
};

static void bare_setup(struct __test_metadata *_metadata, struct bare *b,
		       uint64_t bytes)
{
	ASSERT_EQ(0, umemlib_create(&b->r, bytes, 10000))
		TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(0, umemlib_serve(&b->r, UMEM_SERVE_CLOEXEC, &b->s))
		TH_LOG("%s", umemlib_strerror());
}

static void bare_teardown(struct bare *b)
{
	umemlib_server_close(&b->s);
	umemlib_close(&b->r);
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Most CPU time a huge write or poison may take, even under TCG. */
#define HUGE_CPU_MAX	2.0

/* One bitmap word of a region, through UMEM_IOC_BITMAP. */
static uint64_t bitmap_word(struct __test_metadata *_metadata, int srv,
			    uint32_t which, uint64_t pgoff, uint64_t pages)
{
	uint64_t w = 0;
	struct umem_bitmap bm = {
		.pgoff = pgoff,
		.count = pages - pgoff < 64 ? pages - pgoff : 64,
		.addr = (uintptr_t)&w,
		.which = which,
	};

	EXPECT_EQ(0, ioctl(srv, UMEM_IOC_BITMAP, &bm));
	return w;
}

/*
 * The largest write of the largest region: 4096 ranges, each the whole
 * region.  Marking works a word at a time, in bounded steps, and stops
 * once every page is present: quick, and no soft lockup.
 */
TEST(write__huge_ranges)
{
	size_t i, n = UMEM_WRITE_MAX / sizeof(struct umem_range);
	struct umem_range *r = calloc(n, sizeof(*r));
	double cpu, wall;
	struct umem_stats st;
	struct bare b;

	ASSERT_NE(NULL, r);
	bare_setup(_metadata, &b, umem_max_region_bytes());
	for (i = 0; i < n; i++)
		r[i] = (struct umem_range){ .pgoff = 0, .count = b.r.pages };
	cpu = cpu_seconds();
	wall = umem_now_s();
	ASSERT_EQ(UMEM_WRITE_MAX, write(b.s.fd, r, UMEM_WRITE_MAX));
	cpu = cpu_seconds() - cpu;
	wall = umem_now_s() - wall;
	TH_LOG("%zu ranges of %llu pages: %.3f s CPU, %.3f s wall", n,
	       (unsigned long long)b.r.pages, cpu, wall);
	EXPECT_GT(HUGE_CPU_MAX, cpu);
	ASSERT_EQ(0, umemlib_stats(b.s.fd, &st));
	EXPECT_EQ(b.r.pages, st.pages_present);
	EXPECT_EQ(~0ULL, bitmap_word(_metadata, b.s.fd, UMEM_BITMAP_PRESENT,
				     b.r.pages - 64, b.r.pages));

	/* The same again, and all but the first page: nothing left to do. */
	for (i = 0; i < n; i++)
		r[i] = (struct umem_range){ .pgoff = 1, .count = b.r.pages - 1 };
	cpu = cpu_seconds();
	ASSERT_EQ(UMEM_WRITE_MAX, write(b.s.fd, r, UMEM_WRITE_MAX));
	cpu = cpu_seconds() - cpu;
	EXPECT_GT(HUGE_CPU_MAX, cpu);
	ASSERT_EQ(0, umemlib_stats(b.s.fd, &st));
	EXPECT_EQ(b.r.pages, st.pages_present);
	EXPECT_EQ(0, ioctl(b.s.fd, UMEM_IOC_COMPLETE));
	bare_teardown(&b);
	free(r);
}

/* Poisoning (most of) the largest region is as quick, and exact. */
TEST(poison__huge_range)
{
	struct umem_range all, most;
	uint64_t pages, last;
	struct umem_stats st;
	struct bare b;
	double cpu;

	bare_setup(_metadata, &b, umem_max_region_bytes());
	pages = b.r.pages;
	last = (pages - 1) / 64 * 64;
	all = (struct umem_range){ .pgoff = 0, .count = pages };
	most = (struct umem_range){ .pgoff = 1, .count = pages - 2 };
	cpu = cpu_seconds();
	ASSERT_EQ(0, ioctl(b.s.fd, UMEM_IOC_POISON, &most));
	cpu = cpu_seconds() - cpu;
	TH_LOG("poison of %llu pages: %.3f s CPU",
	       (unsigned long long)most.count, cpu);
	EXPECT_GT(HUGE_CPU_MAX, cpu);
	ASSERT_EQ(0, umemlib_stats(b.s.fd, &st));
	EXPECT_EQ(pages - 2, st.pages_poisoned);
	EXPECT_EQ(pages - 2, st.pages_present);
	EXPECT_EQ(~1ULL, bitmap_word(_metadata, b.s.fd, UMEM_BITMAP_POISONED,
				     0, pages));
	EXPECT_EQ(~1ULL, bitmap_word(_metadata, b.s.fd, UMEM_BITMAP_PRESENT,
				     0, pages));
	/* The last page, and only it, is clear. */
	EXPECT_EQ(0, bitmap_word(_metadata, b.s.fd, UMEM_BITMAP_POISONED,
				 last, pages) >> ((pages - 1) % 64));

	/* Mark everything, then poison everything: two pages change. */
	ASSERT_EQ(sizeof(all), write(b.s.fd, &all, sizeof(all)));
	cpu = cpu_seconds();
	ASSERT_EQ(0, ioctl(b.s.fd, UMEM_IOC_POISON, &all));
	EXPECT_GT(HUGE_CPU_MAX, cpu_seconds() - cpu);
	ASSERT_EQ(0, umemlib_stats(b.s.fd, &st));
	EXPECT_EQ(pages, st.pages_poisoned);
	EXPECT_EQ(pages, st.pages_present);
	EXPECT_EQ(0, ioctl(b.s.fd, UMEM_IOC_COMPLETE));
	bare_teardown(&b);
}

/* A small deterministic generator: the same ranges on every run. */
static uint64_t rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Compare one bitmap of the region with its model, one byte per page. */
static void check_model(struct __test_metadata *_metadata, struct bare *b,
			uint32_t which, const uint8_t *model, uint64_t *words)
{
	uint64_t p, w, bad = 0;

	ASSERT_EQ(0, umemlib_bitmap(&b->s, which, words))
		TH_LOG("%s", umemlib_strerror());
	for (w = 0; w < (b->r.pages + 63) / 64; w++) {
		uint64_t want = 0;

		for (p = w * 64; p < w * 64 + 64 && p < b->r.pages; p++)
			want |= (uint64_t)model[p] << (p % 64);
		if (words[w] != want && !bad++)
			TH_LOG("bitmap %u word %llu: %#llx, want %#llx", which,
			       (unsigned long long)w,
			       (unsigned long long)words[w],
			       (unsigned long long)want);
	}
	EXPECT_EQ(0, bad);
}

/* Mark [pgoff, pgoff + count) in a model, one byte per page; count new. */
static uint64_t model_set(uint8_t *model, uint64_t pgoff, uint64_t count)
{
	uint64_t p, n = 0;

	for (p = pgoff; p < pgoff + count; p++) {
		n += !model[p];
		model[p] = 1;
	}
	return n;
}

/*
 * Overlapping ranges, inside words and across them, and ranges longer
 * than one step of the kernel's work (64K pages), with poisons between
 * the writes: the counts and the bitmaps stay exact.
 */
TEST(write__overlapping_exact)
{
	const uint64_t pages = 1000003;	/* not a multiple of 64 */
	uint8_t *present = calloc(pages, 1), *poisoned = calloc(pages, 1);
	uint64_t *words = calloc((pages + 63) / 64, 8);
	uint64_t state = 0x2545f4914f6cdd1dULL, want = 0, want_poisoned = 0;
	struct umem_range r[300], pr;
	struct umem_stats st;
	uint64_t i, kind, round;
	struct bare b;
	uint32_t psz;
	size_t n;

	ASSERT_NE(NULL, present);
	ASSERT_NE(NULL, poisoned);
	ASSERT_NE(NULL, words);
	ASSERT_EQ(0, umemlib_page_size(&psz));
	bare_setup(_metadata, &b, pages * psz);

	for (round = 0; round < 8; round++) {
		n = 1 + rnd(&state) % 300;
		for (i = 0; i < n; i++) {
			kind = rnd(&state) % 100;
			r[i].pgoff = rnd(&state) % pages;
			if (kind == 0)		/* more than a step */
				r[i].count = 60000 + rnd(&state) % 80000;
			else if (kind < 30)	/* a few words */
				r[i].count = 1 + rnd(&state) % 300;
			else if (kind < 60 && i) /* overlaps the previous one */
				r[i] = (struct umem_range){
					.pgoff = r[i - 1].pgoff + r[i - 1].count / 2,
					.count = r[i - 1].count };
			else			/* inside a word, or two */
				r[i].count = 1 + rnd(&state) % 63;
			if (r[i].pgoff >= pages)
				r[i].pgoff = pages - 1;
			if (r[i].count > pages - r[i].pgoff)
				r[i].count = pages - r[i].pgoff;
			want += model_set(present, r[i].pgoff, r[i].count);
		}
		ASSERT_EQ(n * sizeof(r[0]), write(b.s.fd, r, n * sizeof(r[0])));
		if (round % 2) {
			/* A poison: present and poisoned, exactly. */
			pr.pgoff = rnd(&state) % pages;
			pr.count = 1 + rnd(&state) % 70000;
			if (pr.count > pages - pr.pgoff)
				pr.count = pages - pr.pgoff;
			ASSERT_EQ(0, ioctl(b.s.fd, UMEM_IOC_POISON, &pr));
			want += model_set(present, pr.pgoff, pr.count);
			want_poisoned += model_set(poisoned, pr.pgoff, pr.count);
		}
		ASSERT_EQ(0, umemlib_stats(b.s.fd, &st));
		EXPECT_EQ(want, st.pages_present)
			TH_LOG("round %llu", (unsigned long long)round);
		EXPECT_EQ(want_poisoned, st.pages_poisoned);
		check_model(_metadata, &b, UMEM_BITMAP_PRESENT, present, words);
		check_model(_metadata, &b, UMEM_BITMAP_POISONED, poisoned,
			    words);
	}
	TH_LOG("%llu of %llu pages present, %llu poisoned",
	       (unsigned long long)want, (unsigned long long)pages,
	       (unsigned long long)want_poisoned);
	/* Not every page was hit: the counts were never saturated. */
	EXPECT_LT(want, pages);
	bare_teardown(&b);
	free(words);
	free(poisoned);
	free(present);
}

/*
 * Guest RAM is larger than 2 GiB: the shmem fd takes pwrite() at any
 * offset of the region, as a memfd does (it is O_LARGEFILE).
 */
TEST(shmem_fd__above_2g)
{
	struct umem_fix f;
	uint64_t pgoff, buf[512];

	umem_fix_setup(_metadata, &f, (3ULL << 30) / 4096, 10000, true);
	ASSERT_EQ(4096, f.psz);
	for (pgoff = (5ULL << 29) / 4096; pgoff < f.pages; pgoff += 1 << 17) {
		memset(buf, (int)pgoff, sizeof(buf));
		EXPECT_EQ(sizeof(buf), pwrite(f.shm, buf, sizeof(buf),
					      pgoff * 4096))
			TH_LOG("pwrite at page %llu: %s",
			       (unsigned long long)pgoff, strerror(errno));
	}
	ASSERT_EQ(0, umem_supply(&f, f.pages - 1));
	EXPECT_TRUE(umem_page_ok(&f, f.pages - 1));
	umem_fix_teardown(&f);
}

/*
 * copy_file_range() into the shmem fd from a file of another filesystem
 * (a memfd, any tmpfs file) fails with EXDEV: the shmem file lives on
 * umem's own tmpfs instance.  sendfile() and splice() do not care.
 */
TEST_F(server, shmem__copy_file_range_exdev)
{
	int mfd = memfd_create("umem-src", MFD_CLOEXEC);
	loff_t in = 0, out = 0;
	char buf[64] = "copied";

	ASSERT_LE(0, mfd);
	ASSERT_EQ(sizeof(buf), pwrite(mfd, buf, sizeof(buf), 0));
	EXPECT_EQ(-1, copy_file_range(mfd, &in, self->f.shm, &out,
				      sizeof(buf), 0));
	EXPECT_EQ(EXDEV, errno);
	in = 0;
	EXPECT_EQ(0, lseek(self->f.shm, 0, SEEK_SET));
	EXPECT_EQ(sizeof(buf), sendfile(self->f.shm, mfd, &in, sizeof(buf)));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(sizeof(buf), pread(self->f.shm, buf, sizeof(buf), 0));
	EXPECT_STREQ("copied", buf);
	close(mfd);
}

TEST_F(server, bitmap__bad_args)
{
	uint64_t w = 0;
	struct umem_bitmap bm = { .count = 1, .addr = (uintptr_t)&w };

	EXPECT_EQ(0, ioctl(self->f.srv, UMEM_IOC_BITMAP, &bm));
	bm.pgoff = 1;		/* not a multiple of 64 */
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(EINVAL, errno);
	bm.pgoff = 64;		/* past the end */
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(EINVAL, errno);
	bm.pgoff = 0;
	bm.count = 0;
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(EINVAL, errno);
	bm.count = NPAGES + 1;
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(EINVAL, errno);
	bm.count = NPAGES;
	bm.which = 3;
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(EINVAL, errno);
	bm.which = UMEM_BITMAP_PRESENT;
	bm.__pad = 1;
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(EINVAL, errno);
	bm.__pad = 0;
	EXPECT_RESERVED_CHECKED(self->f.srv, UMEM_IOC_BITMAP, &bm);
	bm.addr = (uintptr_t)umem_bad_addr();
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_BITMAP, umem_bad_addr()));
	EXPECT_EQ(EFAULT, errno);
	/* It is a server ioctl: the control fd does not know it. */
	bm.addr = (uintptr_t)&w;
	EXPECT_EQ(-1, ioctl(self->f.ctl, UMEM_IOC_BITMAP, &bm));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(server, ioctl__unknown)
{
	EXPECT_EQ(-1, ioctl(self->f.srv, UMEM_IOC_INIT, NULL));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->f.srv, _IO(UMEM_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_HARNESS_MAIN
