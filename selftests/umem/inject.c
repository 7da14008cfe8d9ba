// SPDX-License-Identifier: GPL-2.0
/*
 * inject: fault injection (failslab, fail_page_alloc) on every entry point
 * of the module, on a kernel built with CONFIG_FAULT_INJECTION (the debug
 * kernel).  Elsewhere every test skips.
 *
 * The kernel cannot aim an injection at the module's text on x86_64 6.1
 * (FAULT_INJECTION_STACKTRACE_FILTER, failslab's require-start/end, does
 * not build there), so it is aimed in time instead: fail-nth fails only
 * the Nth failable allocation (slab or page) of the calling thread from
 * the moment N is written, in whatever code makes it, ours or the core
 * kernel's on our behalf.  Each entry point is swept for N = 1, 2, ...
 * until a call makes fewer than N allocations: every allocation it can
 * make has failed once.  After each call, without injection: the call
 * either succeeded or failed with a documented error, the state it left
 * is consistent (the same call works again), a fresh region works end to
 * end, and no fd, region or module reference is left behind.  The
 * runner's kmemleak scans after rmmod catch leaked memory.
 *
 * Then failslab and fail_page_alloc fail at random, for a few seconds, in
 * one process only (task-filter and make-it-fail), while it runs a whole
 * serve and fault workload: every error must be clean, every page right.
 */
#define INJECT_TESTS
#include "inject/common.h"

/* No call of ours makes anywhere near this many allocations. */
#define MAX_NTH		300
#define SITES_LOG	"/tmp/umem-inject.sites"

/* The knobs the tests set, saved at setup and put back at teardown. */
static const char *const knobs[] = {
	"failslab/probability", "failslab/interval", "failslab/times",
	"failslab/space", "failslab/verbose", "failslab/task-filter",
	"failslab/ignore-gfp-wait", "failslab/cache-filter",
	"fail_page_alloc/probability", "fail_page_alloc/interval",
	"fail_page_alloc/times", "fail_page_alloc/space",
	"fail_page_alloc/verbose", "fail_page_alloc/task-filter",
	"fail_page_alloc/ignore-gfp-wait", "fail_page_alloc/ignore-gfp-highmem",
	"fail_page_alloc/min-order",
};
#define NKNOBS	ARRAY_SIZE(knobs)

/*
 * For the sweeps: nothing fires on its own (probability 0), and every
 * allocation counts for fail-nth: also those that may sleep (the default
 * skips them: ignore-gfp-wait), highmem (user and page-cache pages) and
 * order 0 pages.  verbose=1 logs each injection in one line, without the
 * stack dump of verbose=2 (whose "Call Trace:" is a splat to the runner).
 */
static const char *const sweep_values[NKNOBS] = {
	"0", "1", "-1", "0", "1", "N", "N", "N",
	"0", "1", "-1", "0", "1", "N", "N", "N", "0",
};

static int knob_set(const char *knob, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), DEBUGFS "%s", knob);
	return write_str(path, val);
}

FIXTURE(inject) {
	int nth;		/* this thread's fail-nth */
	long refcnt;		/* module references with nothing open */
	int nfds;		/* fds open with nothing of ours open */
	char saved[NKNOBS][32];
	bool configured;
};

FIXTURE_SETUP(inject)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	char path[128];
	unsigned int i;

	self->nth = -1;
	if (access(FAIL_NTH, W_OK) || access(DEBUGFS "failslab", F_OK) ||
	    access(DEBUGFS "fail_page_alloc", F_OK))
		return;	/* the test skips */
	for (i = 0; i < NKNOBS; i++) {
		snprintf(path, sizeof(path), DEBUGFS "%s", knobs[i]);
		ASSERT_EQ(0, read_str(path, self->saved[i], sizeof(self->saved[i])))
			TH_LOG("%s", path);
	}
	self->configured = true;
	for (i = 0; i < NKNOBS; i++)
		ASSERT_EQ(0, knob_set(knobs[i], sweep_values[i])) TH_LOG("knob %u", i);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	self->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth);
	self->refcnt = module_refcnt();
	ASSERT_LE(0, self->refcnt);
	self->nfds = count_fds();
}

FIXTURE_TEARDOWN(inject)
{
	unsigned int i;

	if (self->nth >= 0)
		close(self->nth);
	if (self->configured)
		for (i = 0; i < NKNOBS; i++)
			knob_set(knobs[i], self->saved[i]);
}

#define REQUIRE_INJECTION() do {					\
	if (self->nth < 0)						\
		SKIP(return, "no fail-nth: kernel without CONFIG_FAULT_INJECTION"); \
} while (0)

/* ---- the sweep -------------------------------------------------------- */

static bool clean_error(const struct entry *e, int err)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(e->errs) && e->errs[i]; i++)
		if (e->errs[i] == err)
			return true;
	return false;
}

static void sweep(struct __test_metadata *_metadata,
		  FIXTURE_DATA(inject) *self, const struct entry *e)
{
	unsigned int n, sites = 0, failed = 0;
	bool fired;
	struct inj x;
	FILE *log;
	int err;

	for (n = 1; _metadata->passed; n++) {
		ASSERT_GE(MAX_NTH, n) TH_LOG("%s: still injecting", e->name);
		inj_init(&x);
		if (e->setup)
			e->setup(_metadata, &x);
		if (e->run) {
			err = e->run(_metadata, &x, n, &fired);
		} else {
			nth_arm(self->nth, n);
			err = e->call(&x);
			fired = nth_disarm(self->nth);
		}
		if (!fired) {
			EXPECT_EQ(0, err) TH_LOG("%s fails without injection: %s",
						 e->name, strerror(err));
		} else if (err) {
			EXPECT_TRUE(clean_error(e, err))
				TH_LOG("%s, allocation %u failed: %s", e->name, n,
				       strerror(err));
		}
		if (e->check)
			e->check(_metadata, &x, err);
		inj_teardown(&x);
		EXPECT_EQ(self->refcnt, module_refcnt())
			TH_LOG("%s, allocation %u: a region or module reference leaked",
			       e->name, n);
		EXPECT_EQ(self->nfds, count_fds())
			TH_LOG("%s, allocation %u: an fd leaked", e->name, n);
		check_usable(_metadata);
		if (!fired)
			break;
		sites++;
		if (err)
			failed++;
	}
	printf("# inject: %s: %u sites (%u failed the call cleanly, %u absorbed)\n",
	       e->name, sites, failed, sites - failed);
	log = fopen(SITES_LOG, "a");
	if (log) {
		fprintf(log, "%s\t%u\n", e->name, sites);
		fclose(log);
	}
}

#define SWEEP_TEST(name, entry)						\
	TEST_F_TIMEOUT(inject, name, 120)				\
	{								\
		REQUIRE_INJECTION();					\
		sweep(_metadata, self, &(entry));			\
	}

SWEEP_TEST(inject__open, e_open)
SWEEP_TEST(inject__ioctl_api, e_api)
SWEEP_TEST(inject__ioctl_init, e_init)
SWEEP_TEST(inject__ioctl_serve, e_serve)
SWEEP_TEST(inject__ioctl_serve_readopt, e_readopt)
SWEEP_TEST(inject__ioctl_poison, e_poison)
SWEEP_TEST(inject__ioctl_complete, e_complete)
SWEEP_TEST(inject__ioctl_stats_ctl, e_stats_ctl)
SWEEP_TEST(inject__ioctl_stats_srv, e_stats_srv)
SWEEP_TEST(inject__ioctl_bitmap, e_bitmap)
SWEEP_TEST(inject__ioctl_unknown_ctl, e_unknown_ctl)
SWEEP_TEST(inject__ioctl_unknown_srv, e_unknown_srv)
SWEEP_TEST(inject__mmap, e_mmap)
SWEEP_TEST(inject__read, e_read)
SWEEP_TEST(inject__poll, e_poll)
SWEEP_TEST(inject__write, e_write)
SWEEP_TEST(inject__write_many, e_write_many)
SWEEP_TEST(inject__pwrite_shmem, e_pwrite_shmem)
SWEEP_TEST(inject__fdinfo, e_fdinfo)
SWEEP_TEST(inject__umemfs_mount, e_mount_umemfs)
SWEEP_TEST(inject__umemfs_create, e_create_umemfs)
SWEEP_TEST(inject__umemfs_ftruncate, e_truncate_umemfs)

/* No injection reaches the fault path: no fault was ever retried. */
TEST_F_TIMEOUT(inject, inject__fault_missing, 120)
{
	REQUIRE_INJECTION();
	sweep(_metadata, self, &e_fault_missing);
	EXPECT_EQ(0, fault_retries)
		TH_LOG("%u faults failed and were retried: the fault path allocates",
		       fault_retries);
}

SWEEP_TEST(inject__fault_present, e_fault_present)
SWEEP_TEST(inject__fault_kernel, e_fault_kernel)
SWEEP_TEST(inject__munmap_split, e_munmap_split)
SWEEP_TEST(inject__mremap, e_mremap)
SWEEP_TEST(inject__release_ctl, e_close_ctl)
SWEEP_TEST(inject__release_srv, e_close_srv)
SWEEP_TEST(inject__release_shm, e_close_shm)
SWEEP_TEST(inject__release_munmap, e_munmap)


/* ---- random failures in one process ------------------------------------ */

#define PROB_PCT	"5"
#define WINDOW_MS	3000
#define MAX_TRIES	2000

/* What the process under injection shares between its two threads. */
struct chaos {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int round;		/* bumped by the faulting thread per region */
	int served;		/* the faulting thread is done with round @round */
	int acked;		/* the server thread is done with round @acked */
	bool quit;
	struct umem_fix f;
	/* results */
	unsigned long rounds, pages, errors;
	const char *bad_call;	/* the first call that failed uncleanly */
	int bad_errno;
};

static struct chaos chaos = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

/* An injected failure is clean if it is ENOMEM; count it, or record it. */
static bool chaos_clean(const char *call, int err)
{
	if (err == ENOMEM) {
		__atomic_add_fetch(&chaos.errors, 1, __ATOMIC_RELAXED);
		return true;
	}
	if (!chaos.bad_call) {
		chaos.bad_call = call;
		chaos.bad_errno = err;
	}
	return false;
}

/* Retry @expr (true on success) while it fails cleanly; false if not. */
#define CHAOS(call, expr) ({						\
	bool __ok = false;						\
	int __i;							\
									\
	for (__i = 0; __i < MAX_TRIES; __i++) {				\
		if (expr) {						\
			__ok = true;					\
			break;						\
		}							\
		if (!chaos_clean(call, errno))				\
			break;						\
	}								\
	if (!__ok && !chaos.bad_call)					\
		chaos.bad_call = call " (never succeeds)";		\
	__ok;								\
})

static bool make_it_fail(bool on)
{
	return !write_str("/proc/thread-self/make-it-fail", on ? "1" : "0");
}

static bool chaos_supply(const struct umem_fix *f, uint64_t pgoff)
{
	struct umem_range r = { .pgoff = pgoff, .count = 1 };
	uint64_t buf[512], i;

	for (i = 0; i < f->psz / 8; i++)
		buf[i] = umem_pattern(pgoff, i);
	return CHAOS("pwrite shmem", pwrite(f->shm, buf, f->psz,
					     pgoff * f->psz) == (ssize_t)f->psz) &&
	       CHAOS("write", write(f->srv, &r, sizeof(r)) == sizeof(r));
}

/* The server thread: serve each round's region until it is over. */
static void *chaos_server(void *arg)
{
	struct umem_request req[8] = { 0 };	/* mapped: see chaos_round() */
	struct pollfd p;
	int round = 0, i;
	ssize_t n;

	if (!make_it_fail(true))
		abort();
	for (;;) {
		pthread_mutex_lock(&chaos.lock);
		while (chaos.round == round && !chaos.quit)
			pthread_cond_wait(&chaos.cond, &chaos.lock);
		if (chaos.quit) {
			pthread_mutex_unlock(&chaos.lock);
			return NULL;
		}
		round = chaos.round;
		pthread_mutex_unlock(&chaos.lock);
		p.fd = chaos.f.srv;
		p.events = POLLIN;
		while (!__atomic_load_n(&chaos.served, __ATOMIC_ACQUIRE)) {
			if (!CHAOS("poll", poll(&p, 1, 5) >= 0))
				break;
			n = read(chaos.f.srv, req, sizeof(req));
			if (n < 0 && errno != EAGAIN && !chaos_clean("read", errno))
				break;
			for (i = 0; i < n / (ssize_t)sizeof(req[0]); i++)
				if (!chaos_supply(&chaos.f, req[i].pgoff))
					break;
		}
		/* Only now may the faulting thread close the fds. */
		pthread_mutex_lock(&chaos.lock);
		chaos.acked = round;
		pthread_cond_broadcast(&chaos.cond);
		pthread_mutex_unlock(&chaos.lock);
	}
}

/* One region: create, serve, map, fault every page, poison, complete. */
static bool chaos_round(void)
{
	struct umem_api a = { .api = UMEM_API_VERSION };
	struct umem_init in = { .size = NPAGES * 4096ULL,
				.detach_timeout_ms = TIMEOUT_MS };
	struct umem_serve sv = { .flags = UMEM_SERVE_CLOEXEC | UMEM_SERVE_NONBLOCK };
	struct umem_range r = { .pgoff = 7, .count = 1 };
	struct umem_fix *f = &chaos.f;
	/*
	 * Every buffer a call writes into is written here first, so that its
	 * page is mapped before the call: a kernel-mode fault whose page
	 * allocation is failed by the injection is not retried, and the
	 * copy-out fails with EFAULT (seen on the 6.12 debug kernel, "ioctl
	 * STATS: Bad address").
	 */
	uint64_t words[1] = { 0 }, p;
	struct umem_bitmap bm = { .count = NPAGES, .addr = (uintptr_t)words,
				  .which = UMEM_BITMAP_PRESENT };
	struct umem_stats st = { 0 };
	bool ok = false, started = false;

	memset(f, 0, sizeof(*f));
	f->ctl = f->srv = f->shm = -1;
	f->psz = 4096;
	f->pages = NPAGES;
	if (!CHAOS("open", (f->ctl = open("/dev/umem", O_RDWR | O_CLOEXEC)) >= 0) ||
	    !CHAOS("ioctl API", !ioctl(f->ctl, UMEM_IOC_API, &a)) ||
	    !CHAOS("ioctl INIT", !ioctl(f->ctl, UMEM_IOC_INIT, &in)) ||
	    !CHAOS("ioctl SERVE", !ioctl(f->ctl, UMEM_IOC_SERVE, &sv)))
		goto out;
	f->srv = sv.server_fd;
	f->shm = sv.shmem_fd;
	if (!CHAOS("mmap", (f->map = mmap(NULL, NPAGES * f->psz,
					  PROT_READ | PROT_WRITE, MAP_SHARED,
					  f->ctl, 0)) != MAP_FAILED)) {
		f->map = NULL;
		goto out;
	}
	pthread_mutex_lock(&chaos.lock);
	chaos.served = 0;
	chaos.round++;
	pthread_cond_broadcast(&chaos.cond);
	pthread_mutex_unlock(&chaos.lock);
	started = true;
	/* A user fault whose allocation fails is retried: it never fails. */
	for (p = 0; p < NPAGES; p++) {
		if (!umem_page_ok(f, p)) {
			chaos.bad_call = "fault: wrong data";
			goto out;
		}
		chaos.pages++;
	}
	if (!CHAOS("ioctl BITMAP", !ioctl(f->srv, UMEM_IOC_BITMAP, &bm)) ||
	    !CHAOS("ioctl STATS", !ioctl(f->ctl, UMEM_IOC_STATS, &st)) ||
	    !CHAOS("ioctl POISON", !ioctl(f->srv, UMEM_IOC_POISON, &r)) ||
	    !CHAOS("ioctl COMPLETE", !ioctl(f->srv, UMEM_IOC_COMPLETE)))
		goto out;
	if (words[0] != 0xff || st.pages_present != NPAGES) {
		chaos.bad_call = "bitmap or stats: wrong";
		goto out;
	}
	ok = CHAOS("munmap", !munmap(f->map, NPAGES * f->psz));
	if (ok)
		f->map = NULL;
	chaos.rounds++;
out:
	__atomic_store_n(&chaos.served, 1, __ATOMIC_RELEASE);
	if (started) {
		pthread_mutex_lock(&chaos.lock);
		while (chaos.acked != chaos.round)
			pthread_cond_wait(&chaos.cond, &chaos.lock);
		pthread_mutex_unlock(&chaos.lock);
	}
	umem_fix_teardown(f);
	return ok;
}

/* The process under injection; writes its results to @out. */
static int chaos_child(int out)
{
	uint64_t deadline = umem_now_ms() + WINDOW_MS;
	char buf[256];
	pthread_t th;
	int len, i;

	if (pthread_create(&th, NULL, chaos_server, NULL) || !make_it_fail(true))
		return 2;
	while (umem_now_ms() < deadline && chaos_round())
		;
	/* Turning it off can itself be failed: retry until it is off. */
	for (i = 0; !make_it_fail(false); i++)
		if (i == 1000)
			return 2;
	pthread_mutex_lock(&chaos.lock);
	chaos.quit = true;
	pthread_cond_broadcast(&chaos.cond);
	pthread_mutex_unlock(&chaos.lock);
	pthread_join(th, NULL);
	len = snprintf(buf, sizeof(buf), "%lu %lu %lu %d %s", chaos.rounds,
		       chaos.pages, chaos.errors, chaos.bad_errno,
		       chaos.bad_call ? chaos.bad_call : "-");
	if (write(out, buf, len) != len)
		return 2;
	return chaos.bad_call ? 1 : 0;
}

TEST_F_TIMEOUT(inject, inject__probability, 120)
{
	unsigned long rounds = 0, pages = 0, errors = 0;
	char buf[256] = "", call[200] = "";
	uint64_t deadline;
	int pfd[2], status = 0, bad_errno = 0;
	pid_t pid;
	ssize_t n;

	REQUIRE_INJECTION();
	ASSERT_EQ(0, knob_set("failslab/task-filter", "Y"));
	ASSERT_EQ(0, knob_set("fail_page_alloc/task-filter", "Y"));
	ASSERT_EQ(0, knob_set("failslab/probability", PROB_PCT));
	ASSERT_EQ(0, knob_set("fail_page_alloc/probability", PROB_PCT));
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(pfd[0]);
		_exit(chaos_child(pfd[1]));
	}
	close(pfd[1]);
	/* A server thread that gave up leaves a fault waiting: kill it. */
	deadline = umem_now_ms() + 30000;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (umem_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(20000);
	}
	n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	knob_set("failslab/probability", "0");
	knob_set("fail_page_alloc/probability", "0");
	ASSERT_LT(0, n) TH_LOG("the process under injection died: status %#x",
			       status);
	buf[n] = 0;
	ASSERT_EQ(5, sscanf(buf, "%lu %lu %lu %d %199[^\n]", &rounds, &pages,
			    &errors, &bad_errno, call));
	printf("# inject: probability %s%%, %d ms: %lu regions, %lu pages faulted, %lu injected errors\n",
	       PROB_PCT, WINDOW_MS, rounds, pages, errors);
	EXPECT_STREQ("-", call) TH_LOG("%s: %s", call, strerror(bad_errno));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("status %#x", status);
	EXPECT_LT(0, rounds);
	EXPECT_LT(0, errors);
	EXPECT_EQ(self->refcnt, module_refcnt());
	check_usable(_metadata);
}

/* The lead's figure: every allocation site the sweeps failed, in all. */
TEST_F(inject, inject__summary)
{
	char name[128];
	unsigned int n, total = 0, entries = 0;
	FILE *log;

	REQUIRE_INJECTION();
	log = fopen(SITES_LOG, "r");
	ASSERT_NE(NULL, log);
	while (fscanf(log, "%127[^\t]\t%u\n", name, &n) == 2) {
		total += n;
		entries++;
	}
	fclose(log);
	unlink(SITES_LOG);
	printf("# inject: %u allocation sites swept over %u entry points\n",
	       total, entries);
	EXPECT_LT(0, total);
}

TEST_HARNESS_MAIN
