// SPDX-License-Identifier: GPL-2.0
/*
 * fault: faults on missing pages queue one request, sleep, and resume with
 * the supplied contents; from user mode, from the kernel on the process's
 * behalf, and while the mapping changes under a sleeping fault.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <liburing.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define NPAGES 64

FIXTURE(fault) {
	struct umem_fix f;
};

FIXTURE_SETUP(fault)
{
	umem_fix_setup(_metadata, &self->f, NPAGES, 10000, true);
}

FIXTURE_TEARDOWN(fault)
{
	umem_fix_teardown(&self->f);
}

static bool no_request_pending(const struct umem_fix *f)
{
	struct pollfd p = { .fd = f->srv, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

TEST_F(fault, fault__one_request)
{
	struct umem_request req;
	pid_t pid = umem_fork_reader(&self->f, 5);

	ASSERT_LT(0, pid);
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(5, req.pgoff);
	EXPECT_EQ(0, req.flags);
	EXPECT_EQ(pid, req.tid);
	ASSERT_EQ(0, umem_supply(&self->f, 5));
	EXPECT_EQ(0, umem_wait_child(pid));
	EXPECT_TRUE(no_request_pending(&self->f));
	/* The page is now plain shared memory for everyone. */
	EXPECT_TRUE(umem_page_ok(&self->f, 5));
}

TEST_F(fault, fault__write_flag)
{
	struct umem_request req;
	pid_t pid = fork();

	if (pid == 0) {
		*(volatile uint64_t *)(self->f.map + 3 * self->f.psz + 8) = 42;
		_exit(0);
	}
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(3, req.pgoff);
	EXPECT_EQ(UMEM_REQ_WRITE, req.flags);
	ASSERT_EQ(0, umem_supply(&self->f, 3));
	EXPECT_EQ(0, umem_wait_child(pid));
	/* The child's write landed on the supplied page. */
	EXPECT_EQ(42, *(uint64_t *)(self->f.map + 3 * self->f.psz + 8));
	EXPECT_EQ(umem_pattern(3, 0), *(uint64_t *)(self->f.map + 3 * self->f.psz));
}

struct toucher {
	const struct umem_fix *f;
	uint64_t pgoff;
	bool ok;
};

static void *touch_thread(void *arg)
{
	struct toucher *t = arg;

	t->ok = umem_page_ok(t->f, t->pgoff);
	return NULL;
}

#define NTHREADS 8

/* Many threads on one page: one request, and every thread wakes. */
TEST_F(fault, fault__same_page_threads)
{
	struct toucher t[NTHREADS];
	pthread_t th[NTHREADS];
	struct umem_request req;
	struct umem_stats st;
	int i;

	for (i = 0; i < NTHREADS; i++) {
		t[i] = (struct toucher){ .f = &self->f, .pgoff = 7 };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, touch_thread, &t[i]));
	}
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(7, req.pgoff);
	/* Let every thread reach the fault. */
	usleep(300000);
	EXPECT_TRUE(no_request_pending(&self->f));
	ASSERT_EQ(0, umem_supply(&self->f, 7));
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		EXPECT_TRUE(t[i].ok) TH_LOG("thread %d read wrong data", i);
	}
	ASSERT_EQ(0, ioctl(self->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(1, st.pages_requested);
	EXPECT_LE(1, st.faults_blocked);
}

/* Threads on different pages: one request each, each served alone. */
TEST_F(fault, fault__different_pages)
{
	struct toucher t[NTHREADS];
	pthread_t th[NTHREADS];
	struct umem_request req;
	uint64_t seen = 0;
	int i;

	for (i = 0; i < NTHREADS; i++) {
		t[i] = (struct toucher){ .f = &self->f, .pgoff = 16 + i };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, touch_thread, &t[i]));
	}
	for (i = 0; i < NTHREADS; i++) {
		ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
		ASSERT_LE(16, req.pgoff);
		ASSERT_GT(16 + NTHREADS, req.pgoff);
		EXPECT_FALSE(seen & (1ULL << req.pgoff)) TH_LOG("page %llu twice",
							       (unsigned long long)req.pgoff);
		seen |= 1ULL << req.pgoff;
		ASSERT_EQ(0, umem_supply(&self->f, req.pgoff));
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		EXPECT_TRUE(t[i].ok);
	}
}

/* Present without contents: a shmem hole, read as zeros, no transfer. */
TEST_F(fault, fault__zero_page)
{
	uint64_t i, *w = (uint64_t *)(self->f.map + 9 * self->f.psz);

	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&self->f, 9, 1));
	for (i = 0; i < self->f.psz / 8; i++)
		ASSERT_EQ(0, w[i]);
	EXPECT_TRUE(no_request_pending(&self->f));
}

/* A page supplied before anyone touches it never causes a request. */
TEST_F(fault, fault__present_first)
{
	ASSERT_EQ(0, umem_supply(&self->f, 2));
	EXPECT_TRUE(umem_page_ok(&self->f, 2));
	EXPECT_TRUE(no_request_pending(&self->f));
}

/* read(2) from a pipe into a missing page: the kernel's fault waits too. */
TEST_F(fault, fault__kernel_pipe_read)
{
	char *dst = self->f.map + 11 * self->f.psz;
	struct umem_request req;
	int p[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(64, write(p[1], "0123456789abcdef0123456789abcdef"
			    "0123456789abcdef0123456789abcdef", 64));
	pid = fork();
	if (pid == 0)
		_exit(read(p[0], dst, 64) == 64 && !memcmp(dst, "0123", 4) ? 0 : 1);
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(11, req.pgoff);
	EXPECT_EQ(UMEM_REQ_KERNEL | UMEM_REQ_WRITE, req.flags);
	ASSERT_EQ(0, umem_supply(&self->f, 11));
	EXPECT_EQ(0, umem_wait_child(pid));
	close(p[0]);
	close(p[1]);
}

struct vm_reader {
	const struct umem_fix *f;
	uint64_t pgoff;
	ssize_t ret;
	uint64_t word;
};

static void *vm_read_thread(void *arg)
{
	struct vm_reader *r = arg;
	struct iovec local = { .iov_base = &r->word, .iov_len = 8 };
	struct iovec remote = {
		.iov_base = r->f->map + r->pgoff * r->f->psz,
		.iov_len = 8,
	};

	r->ret = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return NULL;
}

/* process_vm_readv (remote GUP) waits for the page, then succeeds. */
TEST_F(fault, fault__process_vm_readv)
{
	struct vm_reader r = { .f = &self->f, .pgoff = 12 };
	struct umem_request req;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, vm_read_thread, &r));
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(12, req.pgoff);
	EXPECT_TRUE(req.flags & UMEM_REQ_KERNEL);
	ASSERT_EQ(0, umem_supply(&self->f, 12));
	pthread_join(th, NULL);
	EXPECT_EQ(8, r.ret);
	EXPECT_EQ(umem_pattern(12, 0), r.word);
}

/* SIGKILL ends a process whose fault sleeps, promptly. */
TEST_F(fault, fault__sigkill_blocked)
{
	struct umem_request req;
	pid_t pid = umem_fork_reader(&self->f, 13);

	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	usleep(100000);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, umem_wait_child(pid));
}

/* A non-fatal signal runs its handler; the fault then sleeps again. */
static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

TEST_F(fault, fault__signal_handler_runs)
{
	struct umem_request req;
	int p[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	if (pid == 0) {
		volatile uint64_t *w = (uint64_t *)(self->f.map + 14 * self->f.psz);

		signal(SIGUSR1, on_usr1);
		if (write(p[1], "r", 1) != 1)
			_exit(2);
		_exit(*w == umem_pattern(14, 0) && got_usr1 ? 0 : 1);
	}
	ASSERT_EQ(1, read(p[0], &c, 1));
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	usleep(100000);
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	usleep(100000);
	/* Still waiting for its page: the retried fault asks nothing new. */
	EXPECT_TRUE(no_request_pending(&self->f));
	ASSERT_EQ(0, umem_supply(&self->f, 14));
	EXPECT_EQ(0, umem_wait_child(pid));
	close(p[0]);
	close(p[1]);
}

/*
 * A storm of signals at a fault the kernel made (read(2) into the page)
 * neither ends the read early nor makes it spin: it costs no CPU.
 */
TEST_F(fault, fault__signal_storm_kernel)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	struct umem_request req;
	struct rusage ru;
	long cpu_ms;
	int p[2], i, status;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(8, write(p[1], "abcdefgh", 8));
	pid = fork();
	if (pid == 0) {
		char *dst = self->f.map + 15 * self->f.psz;

		sigaction(SIGUSR1, &sa, NULL);
		_exit(read(p[0], dst, 8) == 8 && !memcmp(dst, "abcdefgh", 8) ? 0 : 1);
	}
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(15, req.pgoff);
	for (i = 0; i < 40; i++) {
		kill(pid, SIGUSR1);
		usleep(25000);
	}
	ASSERT_EQ(0, umem_supply(&self->f, 15));
	ASSERT_EQ(pid, wait4(pid, &status, 0, &ru));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
		 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	ksft_print_msg("40 signals in 1 s at a blocked read(2): %ld ms of CPU\n",
		       cpu_ms);
	EXPECT_GT(300, cpu_ms) TH_LOG("the blocked child burned %ld ms of CPU", cpu_ms);
	close(p[0]);
	close(p[1]);
}

struct piper {
	int fd;
	char *dst;
	ssize_t ret;
	int err;
};

static void *pipe_read_thread(void *arg)
{
	struct piper *p = arg;

	p->ret = read(p->fd, p->dst, 8);
	p->err = errno;
	return NULL;
}

/*
 * The mapping changes while a fault sleeps (the mmap lock is not held):
 * munmap or mremap go through at once; the woken fault retries, finds no
 * mapping and fails cleanly (EFAULT for the kernel's access).
 */
static void changed_under_fault(struct __test_metadata *_metadata,
				struct umem_fix *f, uint64_t pgoff, bool move)
{
	struct piper pr = { 0 };
	struct umem_request req;
	char *m, *moved = NULL;
	int p[2];
	pthread_t th;

	m = mmap(NULL, f->psz, PROT_READ | PROT_WRITE, MAP_SHARED, f->ctl,
		 pgoff * f->psz);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(8, write(p[1], "abcdefgh", 8));
	pr.fd = p[0];
	pr.dst = m;
	ASSERT_EQ(0, pthread_create(&th, NULL, pipe_read_thread, &pr));
	ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
	ASSERT_EQ(pgoff, req.pgoff);
	usleep(100000);
	if (move) {
		moved = mmap(NULL, f->psz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
		ASSERT_NE(MAP_FAILED, moved);
		ASSERT_EQ(moved, mremap(m, f->psz, f->psz,
					MREMAP_MAYMOVE | MREMAP_FIXED, moved));
	} else {
		ASSERT_EQ(0, munmap(m, f->psz));
	}
	ASSERT_EQ(0, umem_supply(f, pgoff));
	pthread_join(th, NULL);
	EXPECT_EQ(-1, pr.ret);
	EXPECT_EQ(EFAULT, pr.err);
	if (move) {
		/* The moved mapping still shows the region's page. */
		EXPECT_EQ(umem_pattern(pgoff, 0), *(uint64_t *)moved);
		munmap(moved, f->psz);
	}
	close(p[0]);
	close(p[1]);
}

TEST_F(fault, fault__munmap_while_blocked)
{
	changed_under_fault(_metadata, &self->f, 20, false);
}

TEST_F(fault, fault__mremap_while_blocked)
{
	changed_under_fault(_metadata, &self->f, 21, true);
}

/* UMEM_INIT_KERNEL_EFAULT: kernel code fails at once, user mode waits. */
FIXTURE(kefault) {
	struct umem_fix f;
};

FIXTURE_SETUP(kefault)
{
	umem_fix_setup_flags(_metadata, &self->f, 16, 10000, true,
			     UMEM_INIT_KERNEL_EFAULT);
}

FIXTURE_TEARDOWN(kefault)
{
	umem_fix_teardown(&self->f);
}

/* read(2) into a missing page: EFAULT now, the page requested, no data lost. */
TEST_F(kefault, kefault__pipe_read)
{
	char *dst = self->f.map + 3 * self->f.psz;
	struct umem_request req;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(8, write(p[1], "01234567", 8));
	EXPECT_EQ(-1, read(p[0], dst, 8));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(3, req.pgoff);
	EXPECT_EQ(UMEM_REQ_KERNEL | UMEM_REQ_WRITE, req.flags);
	/* Once the page is there, the same read succeeds. */
	ASSERT_EQ(0, umem_supply(&self->f, 3));
	EXPECT_EQ(8, read(p[0], dst, 8));
	EXPECT_EQ(0, memcmp(dst, "01234567", 8));
	/* Writing from a missing page into a pipe: a kernel read, same rule. */
	EXPECT_EQ(-1, write(p[1], self->f.map + 4 * self->f.psz, 8));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(4, req.pgoff);
	EXPECT_EQ(UMEM_REQ_KERNEL, req.flags);
	close(p[0]);
	close(p[1]);
}

/* GUP (process_vm_readv) gets EFAULT at once instead of waiting. */
TEST_F(kefault, kefault__process_vm_readv)
{
	uint64_t word = 0;
	struct iovec local = { .iov_base = &word, .iov_len = 8 };
	struct iovec remote = {
		.iov_base = self->f.map + 6 * self->f.psz, .iov_len = 8,
	};
	struct umem_request req;

	EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(6, req.pgoff);
	EXPECT_TRUE(req.flags & UMEM_REQ_KERNEL);
	ASSERT_EQ(0, umem_supply(&self->f, 6));
	EXPECT_EQ(8, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(umem_pattern(6, 0), word);
}

/*
 * io_uring's workers run the process's own system calls, with their
 * locks: on every kernel they get EFAULT at once, as read(2) does
 * (IOSQE_ASYNC sends the read to an io-wq worker).
 */
TEST_F(kefault, kefault__io_uring_worker)
{
	char *dst = self->f.map + 7 * self->f.psz;
	struct umem_request req;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int p[2], i, res[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(8, write(p[1], "01234567", 8));
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, p[0], dst, 8, 0);
		sqe->flags |= IOSQE_ASYNC;
		ASSERT_EQ(1, io_uring_submit_and_wait(&ring, 1));
		ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
		res[i] = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		if (i)
			break;
		ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
		EXPECT_EQ(7, req.pgoff);
		EXPECT_TRUE(req.flags & UMEM_REQ_KERNEL);
		ASSERT_EQ(0, umem_supply(&self->f, 7));
	}
	EXPECT_EQ(-EFAULT, res[0]);
	/* Once the page is there, the same read succeeds. */
	EXPECT_EQ(8, res[1]);
	EXPECT_EQ(0, memcmp(dst, "01234567", 8));
	io_uring_queue_exit(&ring);
	close(p[0]);
	close(p[1]);
}

/* A user-mode access still waits for the page, and gets it. */
TEST_F(kefault, kefault__user_mode_waits)
{
	struct umem_request req;
	pid_t pid = umem_fork_reader(&self->f, 9);

	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(9, req.pgoff);
	EXPECT_FALSE(req.flags & UMEM_REQ_KERNEL);
	ASSERT_EQ(0, umem_supply(&self->f, 9));
	EXPECT_EQ(0, umem_wait_child(pid));
}

TEST_HARNESS_MAIN
