// SPDX-License-Identifier: GPL-2.0
/*
 * queue: the request queue's bounds.  Pending requests are bits, with
 * the most recent in a fixed ring: no memory per request, bounded work
 * under the region lock, however many pages are requested; read oldest
 * first, so none starves; POLLIN only for a request still to read;
 * POLLHUP once no one can fault again.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define NPAGES 32

/*
 * Queue a request for page @pgoff without a waiter: on a region made with
 * UMEM_INIT_KERNEL_EFAULT, a read(2) into it fails at once (EFAULT) and
 * leaves the request queued.  Returns read()'s errno.
 */
static int queue_by_efault(int zero, const struct umem_fix *f, uint64_t pgoff)
{
	if (read(zero, f->map + pgoff * f->psz, 1) != -1)
		return 0;
	return errno;
}

/*
 * POLLIN is exact (issue 15, item 10): a request whose page became
 * present before anyone read it is not reported, and read() would not
 * block.
 */
TEST(read__poll_exact)
{
	struct pollfd p = { .events = POLLIN };
	struct umem_request req;
	struct umem_fix f;
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, zero);
	umem_fix_setup_flags(_metadata, &f, NPAGES, 10000, true,
			     UMEM_INIT_KERNEL_EFAULT);
	p.fd = f.srv;
	ASSERT_EQ(0, fcntl(f.srv, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(0, poll(&p, 1, 0));
	ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, 3));
	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN, p.revents);
	/* Supplied before it was read: nothing is left to read. */
	ASSERT_EQ(0, umem_supply(&f, 3));
	EXPECT_EQ(0, poll(&p, 1, 0)) TH_LOG("revents %#x", p.revents);
	EXPECT_EQ(-1, read(f.srv, &req, sizeof(req)));
	EXPECT_EQ(EAGAIN, errno);
	/* Two queued, one supplied: POLLIN stays until the other is read. */
	ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, 4));
	ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, 5));
	ASSERT_EQ(0, umem_supply(&f, 4));
	ASSERT_EQ(1, poll(&p, 1, 0));
	ASSERT_EQ(sizeof(req), read(f.srv, &req, sizeof(req)));
	EXPECT_EQ(5, req.pgoff);
	EXPECT_EQ(UMEM_REQ_KERNEL | UMEM_REQ_WRITE, req.flags);
	EXPECT_EQ(gettid(), req.tid);
	EXPECT_EQ(0, poll(&p, 1, 0));
	umem_fix_teardown(&f);
	close(zero);
}

struct hup_reader {
	int fd;
	ssize_t ret;
	int err;
};

static void *hup_read(void *arg)
{
	struct hup_reader *r = arg;
	struct umem_request req;

	r->ret = read(r->fd, &req, sizeof(req));
	r->err = errno;
	return NULL;
}

/*
 * Closing the control file while a server is live (issue 15, item 8):
 * once no mapping is left either, no one can fault on the region again,
 * and the server hears of it: POLLHUP, and read() returns 0, waking a
 * blocked reader.  Not before: a mapping may still fault.
 */
TEST(hup__control_closed_unmapped)
{
	struct pollfd p = { .events = POLLIN };
	struct hup_reader r = { .ret = -2 };
	struct umem_request req;
	struct umem_fix f;
	struct timespec ts;
	pthread_t t;
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, zero);
	umem_fix_setup_flags(_metadata, &f, NPAGES, 10000, true,
			     UMEM_INIT_KERNEL_EFAULT);
	p.fd = r.fd = f.srv;
	ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, 2));
	close(f.ctl);
	f.ctl = -1;
	/* The mapping can still fault: served as ever. */
	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN, p.revents);
	ASSERT_EQ(sizeof(req), read(f.srv, &req, sizeof(req)));
	EXPECT_EQ(2, req.pgoff);
	ASSERT_EQ(0, umem_supply(&f, 2));
	EXPECT_EQ(0, poll(&p, 1, 0));
	EXPECT_EQ(0, ((volatile char *)f.map)[2 * f.psz]);
	/* A queued request does not stop the hang-up from being reported. */
	ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, 7));

	ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, 8));
	ASSERT_EQ(sizeof(req), read(f.srv, &req, sizeof(req)));
	ASSERT_EQ(sizeof(req), read(f.srv, &req, sizeof(req)));
	/* Nothing queued: a reader blocks, until the last mapping goes. */
	ASSERT_EQ(0, pthread_create(&t, NULL, hup_read, &r));
	usleep(200000);
	EXPECT_EQ(-2, r.ret);
	ASSERT_EQ(0, munmap(f.map, f.pages * f.psz));
	f.map = NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	ASSERT_EQ(0, pthread_timedjoin_np(t, NULL, &ts))
		TH_LOG("the blocked reader was not woken");
	EXPECT_EQ(0, r.ret) TH_LOG("read: %zd (%s)", r.ret, strerror(r.err));
	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLHUP | POLLIN, p.revents);
	EXPECT_EQ(0, read(f.srv, &req, sizeof(req)));
	/* The server may still do its work; it changes nothing. */
	EXPECT_EQ(sizeof(struct umem_range), umem_mark(&f, 0, 1));
	umem_fix_teardown(&f);
	close(zero);
}

/* SUnreclaim of /proc/meminfo, in KiB: where kmalloc'ed requests go. */
static long sunreclaim_kib(void)
{
	char line[128];
	long v = -1;
	FILE *m = fopen("/proc/meminfo", "r");

	if (!m)
		return -1;
	while (fgets(line, sizeof(line), m))
		if (sscanf(line, "SUnreclaim: %ld kB", &v) == 1)
			break;
	fclose(m);
	return v;
}

/* Times UMEM_IOC_STATS (which takes the region lock) until told to stop. */
struct prober {
	int fd;
	volatile bool stop;
	double worst;
	unsigned long calls;
};

static void *probe(void *arg)
{
	struct prober *pr = arg;
	struct umem_stats st;
	double t;

	while (!pr->stop) {
		t = umem_now_s();
		if (ioctl(pr->fd, UMEM_IOC_STATS, &st))
			break;
		t = umem_now_s() - t;
		if (t > pr->worst)
			pr->worst = t;
		pr->calls++;
	}
	return NULL;
}

static int new_server(struct __test_metadata *_metadata, struct umem_fix *f)
{
	struct umem_serve sv = { .flags = UMEM_SERVE_CLOEXEC |
					  UMEM_SERVE_NONBLOCK };

	if (f->srv >= 0)
		close(f->srv);
	if (f->shm >= 0)
		close(f->shm);
	f->srv = f->shm = -1;
	if (ioctl(f->ctl, UMEM_IOC_SERVE, &sv))
		return -1;
	f->srv = sv.server_fd;
	f->shm = sv.shmem_fd;
	return 0;
}

/*
 * Read every request until EAGAIN, in batches, each page at most once;
 * returns how many, and the worst time one read() took.
 */
static uint64_t drain(struct __test_metadata *_metadata,
		      const struct umem_fix *f, struct umem_request *buf,
		      size_t max, uint8_t *seen, double *worst)
{
	uint64_t n = 0;
	ssize_t r;
	double t;
	size_t i;

	for (;;) {
		t = umem_now_s();
		r = read(f->srv, buf + n, (max - n < 4096 ? max - n : 4096) *
			 sizeof(*buf));
		t = umem_now_s() - t;
		if (t > *worst)
			*worst = t;
		if (r < 0) {
			EXPECT_EQ(EAGAIN, errno);
			return n;
		}
		for (i = n; i < n + r / sizeof(*buf); i++) {
			if (buf[i].pgoff >= f->pages ||
			    seen[buf[i].pgoff]++) {
				TH_LOG("page %llu read twice, or outside",
				       (unsigned long long)buf[i].pgoff);
				EXPECT_TRUE(false);
			}
		}
		n += r / sizeof(*buf);
		if (n == max)
			return n;
	}
}

#define STARVE_PAGES	4096
#define STARVE_BACKLOG	768	/* requests waiting: more than the ring */
#define STARVE_READS	2048

/*
 * Requests pushed out of the ring are not starved by a steady stream of
 * new ones (issue 20, item 5): 768 requests wait, then each read is
 * followed by a new fault, so 768 always wait.  Read oldest first, each
 * request is read before 768 newer ones came.  (Before, the ring kept
 * the oldest 512 and was always read first: the 256 that did not fit
 * were never read.)
 */
TEST(queue__overflow_not_starved)
{
	uint64_t next, i, age, max_age = 0, missing = 0;
	struct umem_request req;
	struct umem_fix f;
	uint8_t *seen;
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, zero);
	umem_fix_setup_flags(_metadata, &f, STARVE_PAGES, 10000, true,
			     UMEM_INIT_KERNEL_EFAULT);
	ASSERT_EQ(0, fcntl(f.srv, F_SETFL, O_NONBLOCK));
	seen = calloc(f.pages, 1);
	ASSERT_NE(NULL, seen);
	for (next = 0; next < STARVE_BACKLOG; next++)
		ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, next));
	for (i = 0; i < STARVE_READS; i++) {
		ASSERT_EQ(sizeof(req), read(f.srv, &req, sizeof(req)))
			TH_LOG("read %llu: %s", (unsigned long long)i,
			       strerror(errno));
		ASSERT_GT(next, req.pgoff);
		ASSERT_EQ(0, seen[req.pgoff]++)
			TH_LOG("page %llu read twice",
			       (unsigned long long)req.pgoff);
		/* How many requests were made after it: its age. */
		age = next - req.pgoff;
		if (age > max_age)
			max_age = age;
		ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, next++));
	}
	for (i = 0; i < STARVE_BACKLOG; i++)
		missing += !seen[i];
	TH_LOG("%d reads: oldest request read after %llu newer ones; %llu of the first %d never read",
	       STARVE_READS, (unsigned long long)max_age,
	       (unsigned long long)missing, STARVE_BACKLOG);
	EXPECT_EQ(0, missing);
	EXPECT_GE(STARVE_BACKLOG, max_age);
	free(seen);
	umem_fix_teardown(&f);
	close(zero);
}

/*
 * An overflowed request that a page-order scan has gone by is still read
 * soon (issue 20, item 5): page 5 is requested among a steady stream of
 * requests at rising pages, and pushed out of the ring behind the scan.
 * Overflowed requests are read a batch at a time, so page 5 waits for
 * the batch being read and its own, not for the stream to end.
 */
TEST(queue__overflow_behind_scan)
{
	uint64_t next, i, queued_at = 0, read_at = 0;
	struct umem_request req;
	struct umem_fix f;
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, zero);
	umem_fix_setup_flags(_metadata, &f, 2 * STARVE_PAGES, 10000, true,
			     UMEM_INIT_KERNEL_EFAULT);
	ASSERT_EQ(0, fcntl(f.srv, F_SETFL, O_NONBLOCK));
	for (next = 1000; next < 1000 + STARVE_BACKLOG; next++)
		ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, next));
	next = 2000;
	for (i = 0; i < 3 * STARVE_BACKLOG; i++) {
		ASSERT_EQ(sizeof(req), read(f.srv, &req, sizeof(req)));
		if (req.pgoff == 5) {
			read_at = i;
			break;
		}
		if (i == 1) {
			/*
			 * Below every page of the stream: pushed out of
			 * the ring, it is behind the scan.
			 */
			ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, 5));
			queued_at = i;
		} else {
			ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, next++));
		}
	}
	TH_LOG("page 5 read %llu reads after it was requested",
	       read_at ? (unsigned long long)(read_at - queued_at) : 0ULL);
	ASSERT_NE(0, read_at) TH_LOG("page 5 not read in %d reads",
				      3 * STARVE_BACKLOG);
	EXPECT_GE(2 * STARVE_BACKLOG, read_at - queued_at);
	umem_fix_teardown(&f);
	close(zero);
}

#define REDELIVER_N	100

/*
 * Redelivered requests are not starved by new ones (issue 20, item 5):
 * their vCPUs waited through a daemon restart already.  A new server
 * gets 100 to deliver again while a new request comes before each read:
 * the 100 come first.  (Before, they came after the ring, which the
 * steady load never emptied: none was read.)
 */
TEST(queue__redelivered_not_starved)
{
	uint64_t next, i, redelivered = 0, fresh = 0;
	struct umem_request req;
	struct umem_fix f;
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, zero);
	umem_fix_setup_flags(_metadata, &f, STARVE_PAGES, 10000, true,
			     UMEM_INIT_KERNEL_EFAULT);
	ASSERT_EQ(0, fcntl(f.srv, F_SETFL, O_NONBLOCK));
	for (next = 0; next < REDELIVER_N; next++)
		ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, next));
	for (i = 0; i < REDELIVER_N; i++)
		ASSERT_EQ(sizeof(req), read(f.srv, &req, sizeof(req)));
	/* The daemon restarts: the 100 it read are delivered again. */
	ASSERT_EQ(0, new_server(_metadata, &f));
	for (i = 0; i < 3 * REDELIVER_N; i++) {
		ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, next++));
		ASSERT_EQ(sizeof(req), read(f.srv, &req, sizeof(req)));
		if (req.flags & UMEM_REQ_REDELIVERED) {
			EXPECT_GT(REDELIVER_N, req.pgoff);
			/* Oldest first: before any new one. */
			EXPECT_EQ(0, fresh);
			redelivered++;
		} else {
			fresh++;
		}
	}
	TH_LOG("%d reads under load: %llu redelivered, %llu new",
	       3 * REDELIVER_N, (unsigned long long)redelivered,
	       (unsigned long long)fresh);
	EXPECT_EQ(REDELIVER_N, redelivered);
	umem_fix_teardown(&f);
	close(zero);
}

#define BIG_PAGES	(128 * 1024)	/* 512 MiB of 4 KiB pages */

FIXTURE(big) {};
FIXTURE_SETUP(big) {}
FIXTURE_TEARDOWN(big) {}

/*
 * One page in each page table's span (2 MiB of 4 KiB pages) is an
 * anchor: supplied and touched first, so that the page tables exist.
 * Otherwise every failing fault has core mm allocate a page table ahead
 * of ->fault and free it after, and on a debug kernel its split lock
 * (kmalloc'ed with lockdep) sits freed in KASAN's quarantine: 39 MiB of
 * SUnreclaim for 131,072 faults that is no allocation of ours.
 */
#define BIG_ANCHOR	512
static bool big_anchor(uint64_t pgoff)
{
	return !(pgoff % BIG_ANCHOR);
}

/*
 * A request for every page of a large region but its anchors (issue 15,
 * item 2): the queue takes no memory per request, and each request is
 * read once per server: the older ones as UMEM_REQ_OVERFLOW first, then
 * the 512 most recent whole, then again as UMEM_REQ_REDELIVERED by a new
 * server.  The worst time a
 * thread timing UMEM_IOC_STATS (which takes the region lock) saw, and
 * the worst read(), are logged, not checked: on a shared TCG host, a
 * vCPU preempted for a few hundred ms is common.  (Before, the read that
 * dropped the 65,536 requests supplied unread held the lock for tens of
 * ms.)  stats__huge_region checks a lock hold in a way noise cannot fail.
 */
TEST_F_TIMEOUT(big, queue__every_page, 300)
{
	struct prober pr = { 0 };
	struct umem_request *buf;
	uint64_t i, n, half, queued, whole = 0, over = 0;
	uint8_t *seen;
	double worst_read = 0, t0;
	/* The prober's numbers are reset while it runs: for the log only. */
	long slab0, slab1;
	struct umem_stats st;
	struct umem_fix f;
	pthread_t t;
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, zero);
	umem_fix_setup_flags(_metadata, &f, BIG_PAGES, 10000, true,
			     UMEM_INIT_KERNEL_EFAULT);
	half = f.pages / 2;
	/* Requests: all but the anchors; of each half, as many. */
	queued = f.pages - f.pages / BIG_ANCHOR;
	buf = calloc(f.pages, sizeof(*buf));
	seen = calloc(f.pages, 1);
	ASSERT_TRUE(buf && seen);
	pr.fd = f.ctl;
	for (i = 0; i < f.pages; i += BIG_ANCHOR) {
		ASSERT_EQ(0, umem_supply(&f, i));
		ASSERT_TRUE(umem_page_ok(&f, i));
	}

	slab0 = sunreclaim_kib();
	t0 = umem_now_s();
	for (i = 0; i < f.pages; i++)
		if (!big_anchor(i))
			ASSERT_EQ(EFAULT, queue_by_efault(zero, &f, i));
	slab1 = sunreclaim_kib();
	TH_LOG("%llu requests queued in %.2f s; SUnreclaim %+ld KiB",
	       (unsigned long long)queued, umem_now_s() - t0, slab1 - slab0);
	/* A kmalloc'ed entry per request would be 4 MiB or more. */
	EXPECT_GT(1024, slab1 - slab0);
	ASSERT_EQ(0, ioctl(f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(queued, st.pages_requested);
	EXPECT_EQ(queued, st.pages_outstanding);

	/* The noise floor: the prober alone for 2 s. */
	ASSERT_EQ(0, pthread_create(&t, NULL, probe, &pr));
	usleep(2000000);
	TH_LOG("idle: worst UMEM_IOC_STATS %.1f ms over %lu calls",
	       pr.worst * 1e3, pr.calls);
	pr.worst = 0;
	pr.calls = 0;

	/* The first half arrives before it is read. */
	ASSERT_EQ(0, new_server(_metadata, &f));
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&f, 0, half));
	n = drain(_metadata, &f, buf, f.pages, seen, &worst_read);
	EXPECT_EQ(queued / 2, n);
	for (i = 0; i < n; i++) {
		/* Oldest first: the overflowed ones before the ring's. */
		if (!whole && buf[i].flags == UMEM_REQ_OVERFLOW &&
		    !buf[i].tid) {
			over++;
		} else if (buf[i].flags ==
			   (UMEM_REQ_KERNEL | UMEM_REQ_WRITE) &&
			   buf[i].tid == (uint32_t)gettid()) {
			whole++;	/* the 512 most recent, kept whole */
		} else {
			TH_LOG("request %llu: page %llu flags %#x tid %u",
			       (unsigned long long)i,
			       (unsigned long long)buf[i].pgoff, buf[i].flags,
			       buf[i].tid);
			EXPECT_TRUE(false);
			break;
		}
	}
	TH_LOG("read %llu: %llu whole, %llu overflowed", (unsigned long long)n,
	       (unsigned long long)whole, (unsigned long long)over);
	/* The most recent 512 were all in the second half. */
	EXPECT_EQ(512, whole);
	ASSERT_EQ(0, ioctl(f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(queued / 2, st.pages_outstanding);

	/* A new server gets them all again, and only them. */
	memset(seen, 0, f.pages);
	t0 = umem_now_s();
	ASSERT_EQ(0, new_server(_metadata, &f));
	TH_LOG("re-adopt took %.1f ms", (umem_now_s() - t0) * 1e3);
	n = drain(_metadata, &f, buf, f.pages, seen, &worst_read);
	EXPECT_EQ(queued / 2, n);
	for (i = 0; i < n; i++)
		if (buf[i].flags != UMEM_REQ_REDELIVERED || buf[i].tid ||
		    buf[i].pgoff < half || big_anchor(buf[i].pgoff)) {
			TH_LOG("redelivered %llu: page %llu flags %#x tid %u",
			       (unsigned long long)i,
			       (unsigned long long)buf[i].pgoff, buf[i].flags,
			       buf[i].tid);
			EXPECT_TRUE(false);
			break;
		}

	/* Once more, and all arrive before any is read: nothing to read. */
	ASSERT_EQ(0, new_server(_metadata, &f));
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&f, 0, f.pages));
	memset(seen, 0, f.pages);
	EXPECT_EQ(0, drain(_metadata, &f, buf, f.pages, seen, &worst_read));
	ASSERT_EQ(0, ioctl(f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(0, st.pages_outstanding);

	pr.stop = true;
	pthread_join(t, NULL);
	TH_LOG("worst UMEM_IOC_STATS %.1f ms over %lu calls, worst read() %.1f ms",
	       pr.worst * 1e3, pr.calls, worst_read * 1e3);
	free(buf);
	free(seen);
	umem_fix_teardown(&f);
	close(zero);
}

/*
 * UMEM_IOC_STATS on the largest region takes constant time: it reads
 * counters, not a whole-region bitmap under the region lock (issue 15,
 * item 2).  The fastest of 20 calls is checked, so a preempted call does
 * not matter; a whole-bitmap pass over 16M pages takes milliseconds.
 */
TEST(stats__huge_region)
{
	struct umem_request req;
	struct umem_stats st;
	struct umemlib_region r;
	struct umemlib_server s;
	double best = 1, t;
	char *map;
	int i, zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, zero);
	ASSERT_EQ(0, umemlib_create_flags(&r, umem_max_region_bytes(), 10000,
					  UMEM_INIT_KERNEL_EFAULT))
		TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(0, umemlib_serve(&r, UMEM_SERVE_CLOEXEC, &s))
		TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(0, umemlib_map(&r, (r.pages - 1) * r.page_size, r.page_size,
				 PROT_READ | PROT_WRITE, (void **)&map));
	EXPECT_EQ(-1, read(zero, map, 1));
	ASSERT_EQ(sizeof(req), read(s.fd, &req, sizeof(req)));
	for (i = 0; i < 20; i++) {
		t = umem_now_s();
		ASSERT_EQ(0, ioctl(r.ctl, UMEM_IOC_STATS, &st));
		t = umem_now_s() - t;
		if (t < best)
			best = t;
	}
	EXPECT_EQ(1, st.pages_outstanding);
	TH_LOG("%llu pages: fastest UMEM_IOC_STATS %.3f ms",
	       (unsigned long long)r.pages, best * 1e3);
	EXPECT_GT(0.2e-3, best);
	munmap(map, r.page_size);
	umemlib_server_close(&s);
	umemlib_close(&r);
	close(zero);
}

TEST_HARNESS_MAIN
