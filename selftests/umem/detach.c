// SPDX-License-Identifier: GPL-2.0
/*
 * detach: the server goes away.  Waiters stay parked; a new server adopts
 * the region and gets every outstanding request again; or the deadline
 * passes and missing pages get SIGBUS.  Nothing is ever zero-filled.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define NPAGES 16

static int serve(struct __test_metadata *_metadata, struct umem_fix *f)
{
	struct umem_serve sv = { .flags = UMEM_SERVE_CLOEXEC };
	int ret = ioctl(f->ctl, UMEM_IOC_SERVE, &sv);

	if (!ret) {
		f->srv = sv.server_fd;
		if (f->shm >= 0)
			close(f->shm);
		f->shm = sv.shmem_fd;
	}
	return ret;
}

static void detach(struct umem_fix *f)
{
	close(f->srv);
	f->srv = -1;
}

static uint32_t state(struct __test_metadata *_metadata, struct umem_fix *f)
{
	struct umem_stats st;

	EXPECT_EQ(0, ioctl(f->ctl, UMEM_IOC_STATS, &st));
	return st.state;
}

static bool still_running(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

TEST(detach__readopt_redelivers)
{
	struct umem_request req[4];
	struct umem_fix f;
	struct umem_stats st;
	pid_t a, b, c;
	int i;

	umem_fix_setup(_metadata, &f, NPAGES, 60000, true);
	a = umem_fork_reader(&f, 5);
	b = umem_fork_reader(&f, 6);
	ASSERT_EQ(sizeof(req[0]), umem_read_req(&f, &req[0]));
	ASSERT_EQ(sizeof(req[1]), umem_read_req(&f, &req[1]));
	detach(&f);
	EXPECT_EQ(UMEM_STATE_DETACHED, state(_metadata, &f));
	/* A fault while detached is queued for the next server. */
	c = umem_fork_reader(&f, 7);
	usleep(300000);
	EXPECT_TRUE(still_running(a));
	EXPECT_TRUE(still_running(c));

	ASSERT_EQ(0, serve(_metadata, &f));
	EXPECT_EQ(UMEM_STATE_SERVED, state(_metadata, &f));
	ASSERT_EQ(0, fcntl(f.srv, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(3 * sizeof(req[0]), read(f.srv, req, sizeof(req)));
	for (i = 0; i < 3; i++) {
		if (req[i].pgoff == 7) {
			EXPECT_EQ(0, req[i].flags);
			EXPECT_EQ(c, req[i].tid);
		} else {
			EXPECT_EQ(UMEM_REQ_REDELIVERED, req[i].flags);
			EXPECT_EQ(0, req[i].tid);
			EXPECT_TRUE(req[i].pgoff == 5 || req[i].pgoff == 6);
		}
		ASSERT_EQ(0, umem_supply(&f, req[i].pgoff));
	}
	EXPECT_EQ(0, umem_wait_child(a));
	EXPECT_EQ(0, umem_wait_child(b));
	EXPECT_EQ(0, umem_wait_child(c));
	ASSERT_EQ(0, ioctl(f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(1, st.detaches);
	EXPECT_EQ(2, st.requests_redelivered);
	umem_fix_teardown(&f);
}

/*
 * Re-adopt when more pages are present than requested: the requests a
 * dead server read are still delivered again, a range that supplies one
 * of them drops it, and a read that cannot copy one puts it back.
 */
TEST(detach__readopt_after_supply)
{
	struct umem_request req[4];
	uint64_t buf[512];
	struct umem_stats st;
	struct umem_fix f;
	pid_t a, b, c;
	unsigned int i;

	umem_fix_setup(_metadata, &f, NPAGES, 60000, true);
	ASSERT_GE(sizeof(buf), f.psz);
	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, umem_supply(&f, i));
	a = umem_fork_reader(&f, 11);
	b = umem_fork_reader(&f, 13);
	c = umem_fork_reader(&f, 15);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(sizeof(req[0]), umem_read_req(&f, &req[i]));
	detach(&f);

	ASSERT_EQ(0, serve(_metadata, &f));
	/* Page 13's bytes, then a range over it and the unrequested 14. */
	for (i = 0; i < f.psz / 8; i++)
		buf[i] = umem_pattern(13, i);
	ASSERT_EQ(f.psz, pwrite(f.shm, buf, f.psz, 13 * f.psz));
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&f, 13, 2));
	EXPECT_EQ(0, umem_wait_child(b));

	ASSERT_EQ(0, fcntl(f.srv, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(f.srv, umem_bad_addr(), sizeof(req)));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(2 * sizeof(req[0]), read(f.srv, req, sizeof(req)));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(UMEM_REQ_REDELIVERED, req[i].flags);
		EXPECT_EQ(0, req[i].tid);
		EXPECT_TRUE(req[i].pgoff == 11 || req[i].pgoff == 15);
		ASSERT_EQ(0, umem_supply(&f, req[i].pgoff));
	}
	EXPECT_EQ(-1, read(f.srv, req, sizeof(req)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, umem_wait_child(a));
	EXPECT_EQ(0, umem_wait_child(c));
	ASSERT_EQ(0, ioctl(f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(2, st.requests_redelivered);
	EXPECT_EQ(0, st.pages_outstanding);

	/* Nothing outstanding: the next server gets nothing again. */
	detach(&f);
	ASSERT_EQ(0, serve(_metadata, &f));
	ASSERT_EQ(0, fcntl(f.srv, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(f.srv, req, sizeof(req)));
	EXPECT_EQ(EAGAIN, errno);
	umem_fix_teardown(&f);
}

static uint64_t poisoned_word(struct __test_metadata *_metadata,
			      struct umem_fix *f)
{
	uint64_t w = ~0ULL;
	struct umem_bitmap bm = { .count = NPAGES, .addr = (uintptr_t)&w,
				  .which = UMEM_BITMAP_POISONED };

	EXPECT_EQ(0, ioctl(f->srv, UMEM_IOC_BITMAP, &bm));
	return w;
}

/*
 * The first poison comes after a re-adopt: before it the poisoned bitmap
 * reads all clear; it wakes the redelivered request's waiter with SIGBUS
 * and drops that request.
 */
TEST(detach__readopt_then_poison)
{
	struct umem_range r = { .pgoff = 5, .count = 1 };
	struct umem_request req[2];
	struct umem_stats st;
	struct umem_fix f;
	pid_t a, b;

	umem_fix_setup(_metadata, &f, NPAGES, 60000, true);
	a = umem_fork_reader(&f, 5);
	b = umem_fork_reader(&f, 6);
	ASSERT_EQ(sizeof(req[0]), umem_read_req(&f, &req[0]));
	ASSERT_EQ(sizeof(req[1]), umem_read_req(&f, &req[1]));
	detach(&f);
	ASSERT_EQ(0, serve(_metadata, &f));

	EXPECT_EQ(0, poisoned_word(_metadata, &f));
	ASSERT_EQ(0, ioctl(f.srv, UMEM_IOC_POISON, &r));
	EXPECT_EQ(1ULL << 5, poisoned_word(_metadata, &f));
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(a));

	/* Only page 6 is delivered again. */
	ASSERT_EQ(0, fcntl(f.srv, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(sizeof(req[0]), read(f.srv, req, sizeof(req)));
	EXPECT_EQ(6, req[0].pgoff);
	EXPECT_EQ(UMEM_REQ_REDELIVERED, req[0].flags);
	ASSERT_EQ(0, umem_supply(&f, 6));
	EXPECT_EQ(0, umem_wait_child(b));

	/* A second poison uses the same bitmap. */
	r = (struct umem_range){ .pgoff = 8, .count = 2 };
	ASSERT_EQ(0, ioctl(f.srv, UMEM_IOC_POISON, &r));
	EXPECT_EQ((1ULL << 5) | (3ULL << 8), poisoned_word(_metadata, &f));
	ASSERT_EQ(0, ioctl(f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(3, st.pages_poisoned);
	EXPECT_EQ(4, st.pages_present);
	EXPECT_EQ(1, st.requests_redelivered);
	umem_fix_teardown(&f);
}

/* Past the deadline, waiters and later faults get SIGBUS, never zeros. */
TEST(detach__deadline_sigbus)
{
	struct umem_request req;
	struct umem_fix f;
	uint64_t word = 1;
	struct iovec local = { .iov_base = &word, .iov_len = 8 };
	struct iovec remote;
	pid_t a;

	umem_fix_setup(_metadata, &f, NPAGES, 300, true);
	ASSERT_EQ(0, umem_supply(&f, 1));
	a = umem_fork_reader(&f, 5);
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	detach(&f);
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(a));
	EXPECT_EQ(UMEM_STATE_FAILED, state(_metadata, &f));
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(umem_fork_reader(&f, 9)));
	/* The kernel's access fails too, rather than reading zeros. */
	remote.iov_base = f.map + 9 * f.psz;
	remote.iov_len = 8;
	EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(1, word);
	/* Supplied pages stay readable; a failed region takes no server. */
	EXPECT_TRUE(umem_page_ok(&f, 1));
	EXPECT_EQ(-1, serve(_metadata, &f));
	EXPECT_EQ(EIO, errno);
	umem_fix_teardown(&f);
}

/*
 * A missing page of a failed region faults as hardware poison, as a
 * poisoned page does: SIGBUS with BUS_MCEERR_AR (KVM then stops the
 * vCPU instead of re-faulting for ever); a supplied page stays readable.
 */
TEST(detach__failed_hwpoison)
{
	struct umem_fix f;

	umem_fix_setup(_metadata, &f, NPAGES, 0, true);
	ASSERT_EQ(0, umem_supply(&f, 1));
	detach(&f);
	ASSERT_EQ(UMEM_STATE_FAILED, state(_metadata, &f));
	EXPECT_HWPOISON(f.map + 2 * f.psz, false);
	EXPECT_HWPOISON(f.map + 3 * f.psz, true);
	EXPECT_EQ(0, umem_access(f.map + f.psz, false).sig);
	EXPECT_TRUE(umem_page_ok(&f, 1));
	umem_fix_teardown(&f);
}

TEST(detach__zero_timeout)
{
	struct umem_fix f;

	umem_fix_setup(_metadata, &f, NPAGES, 0, true);
	detach(&f);
	EXPECT_EQ(UMEM_STATE_FAILED, state(_metadata, &f));
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(umem_fork_reader(&f, 2)));
	umem_fix_teardown(&f);
}

/* Re-adopting before the deadline cancels it. */
TEST(detach__readopt_in_time)
{
	struct umem_fix f;
	pid_t a;

	umem_fix_setup(_metadata, &f, NPAGES, 500, true);
	detach(&f);
	ASSERT_EQ(0, serve(_metadata, &f));
	usleep(800000);
	EXPECT_EQ(UMEM_STATE_SERVED, state(_metadata, &f));
	a = umem_fork_reader(&f, 3);
	usleep(100000);
	ASSERT_EQ(0, umem_supply(&f, 3));
	EXPECT_EQ(0, umem_wait_child(a));
	umem_fix_teardown(&f);
}

/* Before the first server there is no deadline: faults wait for one. */
TEST(detach__unserved_waits)
{
	struct umem_request req;
	struct umem_fix f;
	pid_t a;

	umem_fix_setup(_metadata, &f, NPAGES, 0, false);
	EXPECT_EQ(UMEM_STATE_UNSERVED, state(_metadata, &f));
	a = umem_fork_reader(&f, 4);
	usleep(300000);
	EXPECT_TRUE(still_running(a));
	ASSERT_EQ(0, serve(_metadata, &f));
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	EXPECT_EQ(4, req.pgoff);
	EXPECT_EQ(0, req.flags);
	ASSERT_EQ(0, umem_supply(&f, 4));
	EXPECT_EQ(0, umem_wait_child(a));
	umem_fix_teardown(&f);
}

/* Closing the control fd while a server and mappings live changes nothing. */
TEST(detach__control_fd_closed)
{
	struct umem_request req;
	struct umem_fix f;
	pid_t a;

	umem_fix_setup(_metadata, &f, NPAGES, 1000, true);
	close(f.ctl);
	f.ctl = open("/dev/null", O_RDONLY);
	a = umem_fork_reader(&f, 6);
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	ASSERT_EQ(0, umem_supply(&f, 6));
	EXPECT_EQ(0, umem_wait_child(a));
	umem_fix_teardown(&f);
}

/* A reader that holds no fd of the region: only its mapping. */
static pid_t fork_mapped_reader(struct umem_fix *f, uint64_t pgoff)
{
	pid_t pid = fork();

	if (pid == 0) {
		close(f->ctl);
		if (f->srv >= 0)
			close(f->srv);
		if (f->shm >= 0)
			close(f->shm);
		_exit(*(volatile uint64_t *)(f->map + pgoff * f->psz) ==
		      umem_pattern(pgoff, 0) ? 0 : 1);
	}
	return pid;
}

/*
 * An unserved region whose control file closes can never be served: its
 * waiters get SIGBUS at once instead of waiting for ever, and later
 * faults on missing pages too; present pages stay readable.
 */
TEST(detach__ctl_closed_unserved)
{
	struct umem_fix f;
	uint64_t t0;
	pid_t a, b;

	umem_fix_setup(_metadata, &f, NPAGES, 60000, false);
	a = fork_mapped_reader(&f, 2);
	usleep(300000);
	EXPECT_TRUE(still_running(a));
	t0 = umem_now_ms();
	close(f.ctl);
	f.ctl = -1;
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(a));
	EXPECT_GT(10000, umem_now_ms() - t0);
	b = fork_mapped_reader(&f, 3);
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(b));
	umem_fix_teardown(&f);
}

/*
 * Served, then the control file closes: the server keeps the region
 * going; when the server goes too, no one can adopt it, so it fails at
 * once rather than after the (long) deadline.
 */
TEST(detach__ctl_closed_then_server)
{
	struct umem_request req;
	struct umem_stats st;
	struct umem_fix f;
	uint64_t t0;
	pid_t a, b;

	umem_fix_setup(_metadata, &f, NPAGES, 60000, true);
	close(f.ctl);
	f.ctl = -1;
	ASSERT_EQ(0, ioctl(f.srv, UMEM_IOC_STATS, &st));
	EXPECT_EQ(UMEM_STATE_SERVED, st.state);
	/* Still served: a fault is answered. */
	a = fork_mapped_reader(&f, 4);
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	EXPECT_EQ(4, req.pgoff);
	ASSERT_EQ(0, umem_supply(&f, 4));
	EXPECT_EQ(0, umem_wait_child(a));

	b = fork_mapped_reader(&f, 5);
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	t0 = umem_now_ms();
	detach(&f);
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(b));
	EXPECT_GT(10000, umem_now_ms() - t0);
	/* The supplied page is still there. */
	EXPECT_TRUE(umem_page_ok(&f, 4));
	umem_fix_teardown(&f);
}

/*
 * /proc/self/mem reads through GUP with no lock to drop: such a fault
 * cannot sleep without holding the mmap lock, so it never sleeps: the
 * page is requested and the read fails at once; once the page is there,
 * the same read succeeds.
 */
struct mem_reader {
	struct umem_fix *f;
	uint64_t pgoff;
	ssize_t ret;
	int err;
	uint64_t word;
	uint64_t ms;
	pthread_t th;
};

static void *mem_read_thread(void *arg)
{
	struct mem_reader *r = arg;
	int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	uint64_t t0 = umem_now_ms();

	r->ret = pread(fd, &r->word, 8,
		       (off_t)(uintptr_t)(r->f->map + r->pgoff * r->f->psz));
	r->err = errno;
	r->ms = umem_now_ms() - t0;
	close(fd);
	return NULL;
}

/* Served or not, the read fails at once, and the page is requested. */
TEST(detach__nonretry_fails_at_once)
{
	struct mem_reader r;
	struct umem_request req;
	struct umem_fix f;

	umem_fix_setup(_metadata, &f, NPAGES, 60000, false);
	r = (struct mem_reader){ .f = &f, .pgoff = 2 };
	mem_read_thread(&r);
	EXPECT_EQ(-1, r.ret);
	EXPECT_EQ(EIO, r.err);
	ASSERT_EQ(0, serve(_metadata, &f));
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	EXPECT_EQ(2, req.pgoff);
	EXPECT_TRUE(req.flags & UMEM_REQ_KERNEL);
	/* Served now: the read still does not wait for the page... */
	r = (struct mem_reader){ .f = &f, .pgoff = 3 };
	mem_read_thread(&r);
	EXPECT_EQ(-1, r.ret);
	EXPECT_EQ(EIO, r.err);
	EXPECT_GT(2000, r.ms);
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	EXPECT_EQ(3, req.pgoff);
	EXPECT_TRUE(req.flags & UMEM_REQ_KERNEL);
	/* ...and succeeds once the page has arrived. */
	ASSERT_EQ(0, umem_supply(&f, 3));
	r = (struct mem_reader){ .f = &f, .pgoff = 3 };
	mem_read_thread(&r);
	EXPECT_EQ(8, r.ret);
	EXPECT_EQ(umem_pattern(3, 0), r.word);
	umem_fix_teardown(&f);
}

struct late_supplier {
	struct umem_fix *f;
	uint64_t pgoff;
	unsigned int delay_ms;
};

static void *late_supply_thread(void *arg)
{
	struct late_supplier *l = arg;

	usleep(l->delay_ms * 1000);
	umem_supply(l->f, l->pgoff);
	return NULL;
}

/*
 * A /proc/pid/mem reader of a missing page must not stall the rest of the
 * process: before, it slept holding the mmap lock until the page came, an
 * mmap() queued behind it for the write lock, and a fault on a *present*
 * page in a third thread queued behind that.  The page comes only after
 * 4 s here; the mmap and the present fault must not wait for it.
 */
TEST(detach__nonretry_no_stall)
{
	struct late_supplier late;
	struct mem_reader r;
	struct umem_fix f;
	pthread_t lt;
	uint64_t t0, mmap_ms, fault_ms;
	void *p;

	umem_fix_setup(_metadata, &f, NPAGES, 60000, true);
	ASSERT_EQ(0, umem_supply(&f, 1));
	late = (struct late_supplier){ .f = &f, .pgoff = 4, .delay_ms = 4000 };
	ASSERT_EQ(0, pthread_create(&lt, NULL, late_supply_thread, &late));
	r = (struct mem_reader){ .f = &f, .pgoff = 4 };
	ASSERT_EQ(0, pthread_create(&r.th, NULL, mem_read_thread, &r));
	usleep(200000);
	t0 = umem_now_ms();
	p = mmap(NULL, f.psz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mmap_ms = umem_now_ms() - t0;
	EXPECT_NE(MAP_FAILED, p);
	munmap(p, f.psz);
	/* A present page, not mapped in this process yet. */
	EXPECT_EQ(0, madvise(f.map + f.psz, f.psz, MADV_DONTNEED));
	t0 = umem_now_ms();
	EXPECT_TRUE(umem_page_ok(&f, 1));
	fault_ms = umem_now_ms() - t0;
	pthread_join(r.th, NULL);
	pthread_join(lt, NULL);
	EXPECT_GT(2000, mmap_ms) TH_LOG("mmap waited %llu ms for the reader",
					(unsigned long long)mmap_ms);
	EXPECT_GT(2000, fault_ms) TH_LOG("a present fault waited %llu ms",
					 (unsigned long long)fault_ms);
	EXPECT_EQ(-1, r.ret);
	EXPECT_EQ(EIO, r.err);
	umem_fix_teardown(&f);
}

TEST_HARNESS_MAIN
