// SPDX-License-Identifier: GPL-2.0
/*
 * server: UMEM_IOC_SERVE, reading requests (read, poll, epoll, io_uring,
 * O_NONBLOCK), writing ranges, poison, complete and the bitmaps.
 */
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
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
