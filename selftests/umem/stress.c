// SPDX-License-Identifier: GPL-2.0
/*
 * stress: the bounce test, after userfaultfd's uffd-stress.
 *
 * Every page of an area holds a pthread mutex, a counter, its own page
 * number, a generation and a pattern.  Each bounce creates a fresh umem
 * region (dst: umem pages are never un-present) whose pages are supplied
 * from the previous bounce's region (src).  Per CPU there are three kinds
 * of thread:
 *
 *  - lockers (in the test process) take the mutex of a page of dst and
 *    bump its counter, checking it against a private copy: the mutex and
 *    the counter live in pages that have not arrived yet, so the lockers
 *    fault and sleep inside pthread_mutex_lock();
 *  - servers (in a daemon child process) alternate blocking read() and
 *    poll() on the server fd and, for each request, copy the page from
 *    src into dst's shmem file (pwrite) and write() the range present;
 *  - a background supplier (in the daemon too) copies every page at full
 *    speed, through an mmap of the shmem fd, and marks them in batches.
 *
 * When every page is present the bounce ends: the lockers stop, the
 * daemon declares the region complete and exits, every page is checked
 * (counter, page number, generation, pattern), and dst becomes the next
 * bounce's src.  A page that is wrong anywhere counts as a corrupted page.
 *
 * Modes, alone (one test each) or cycled bounce by bounce (stress__mixed):
 *  RANDOM	lockers and suppliers pick pages at random
 *  RACING	every supplier covers every page, and servers join a copy in
 *		progress: several writers fill one page at once (same bytes),
 *		the last one seals and marks it; re-marking a sealed page is
 *		harmless.  A page is never written once it may be present.
 *  VMOPS	munmap, mremap, madvise(MADV_DONTNEED) and fork while faults
 *		sleep
 *  KILL	the daemon is SIGKILLed mid-bounce and a new one re-adopts the
 *		region (UMEM_IOC_SERVE), learns what is present from
 *		UMEM_IOC_BITMAP and serves the REDELIVERED requests
 *
 * Sizing: by time, so the debug kernel stays bounded.  STRESS_SECONDS
 * (run time of stress__mixed) and STRESS_FAULTS (its target: it runs
 * until that many faults were served, STRESS_SECONDS being then the cap,
 * and fails if it is not reached) are for `make stress`; STRESS_PAGES sets
 * the region size.  Each test prints "stress: N faults, N corrupted pages".
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define M_RANDOM	(1U << 0)
#define M_RACING	(1U << 1)
#define M_VMOPS		(1U << 2)
#define M_KILL		(1U << 3)
#define M_ALL		(M_RANDOM | M_RACING | M_VMOPS | M_KILL)

#define DEF_PAGES	1024
#define DEF_SECONDS	7	/* each single-mode test */
#define MIXED_SECONDS	12	/* stress__mixed, unless STRESS_SECONDS */
#define MIN_BOUNCES	2
#define LOCKERS_PER_CPU	4
#define BOUNCE_MAX_MS	180000	/* a bounce that takes longer is a hang */
#define DETACH_MS	60000
#define MAX_KILLS	3	/* per bounce, KILL mode */

/* The head of every page; the pattern fills the rest. */
struct page_hdr {
	pthread_mutex_t mu;
	uint64_t count;
	uint64_t pgoff;
	uint64_t gen;
};
#define HDR_WORDS	8
_Static_assert(sizeof(struct page_hdr) <= HDR_WORDS * 8, "page header");

/* Shared by the test process, its daemons and its forked readers. */
struct shared {
	uint64_t faults;	/* requests read and answered by servers */
	uint64_t redelivered;	/* of which marked UMEM_REQ_REDELIVERED */
	uint64_t bg_pages;	/* pages sealed by background suppliers */
	uint64_t srv_pages;	/* pages sealed by servers */
	uint64_t dup_marks;	/* ranges re-marked (RACING) */
	uint64_t errors;	/* daemon errors */
	pid_t ready;		/* the daemon that serves, once it does */
	char err[256];		/* the first one */
	uint8_t bad[];		/* per page: found corrupted this bounce */
};

/* One bounce's world, as the threads of the test process see it. */
static struct {
	uint32_t psz;
	uint64_t pages;
	unsigned int ncpu, nlockers;
	unsigned int mode;
	unsigned int sabotage;	/* STRESS_SABOTAGE: break the protocol */
	uint64_t bounce;	/* 1, 2, ...: dst pages carry gen bounce - 1 */
	char *dst;		/* the locker's mapping of dst */
	char *src;		/* mapping of src (complete) */
	int dst_ctl;
	int src_ctl;
	struct shared *sh;
	uint64_t *count_verify;	/* per page, under the page's mutex */
	uint8_t *checked;	/* per page: whole page checked this bounce */
	volatile int finished;
	uint64_t locker_ops;
	uint64_t vm_ops[4];	/* madvise, fork, munmap, mremap */
	uint64_t segv;		/* touchers that found their alias gone */
} g;

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static uint64_t seed_of(uint64_t a, uint64_t b)
{
	return (a + 1) * 0x9e3779b97f4a7c15ULL ^ (b + 1) * 0xbf58476d1ce4e5b9ULL ^
	       umem_now_ms();
}

static uint64_t pat(uint64_t pgoff, uint64_t i)
{
	return umem_pattern(pgoff, i) ^ 0xa5a5a5a55a5a5a5aULL;
}

/* Everything but the mutex and the counter, which lockers change. */
static bool page_ok(const char *pg, uint64_t pgoff, uint64_t gen)
{
	const volatile struct page_hdr *h = (const void *)pg;
	const volatile uint64_t *w = (const void *)pg;
	uint64_t i;

	if (h->pgoff != pgoff || h->gen != gen)
		return false;
	for (i = HDR_WORDS; i < g.psz / 8; i++)
		if (w[i] != pat(pgoff, i))
			return false;
	return true;
}

static void set_bad(uint64_t pgoff)
{
	__atomic_store_n(&g.sh->bad[pgoff], 1, __ATOMIC_RELAXED);
}

static void add(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* ---- the daemon: servers and background suppliers, in a child ----------- */

#define SEALED	0x80000000U

static struct {
	int srv, shm;
	char *shm_map;
	uint32_t *st;		/* per page: SEALED, or writers in progress */
	unsigned int nbg;
} d;

static void derr(const char *what)
{
	int e = errno;

	if (__atomic_fetch_add(&g.sh->errors, 1, __ATOMIC_RELAXED) == 0)
		snprintf(g.sh->err, sizeof(g.sh->err), "daemon %d: %s: %s",
			 getpid(), what, strerror(e));
}

/*
 * Start writing @p: false if it is sealed (written and marked, or about to
 * be marked), or, unless RACING, another writer has it.
 */
static bool claim(uint64_t p)
{
	uint32_t s = __atomic_load_n(&d.st[p], __ATOMIC_ACQUIRE);

	do {
		if (s & SEALED)
			return false;
		if (s && !(g.mode & M_RACING))
			return false;
	} while (!__atomic_compare_exchange_n(&d.st[p], &s, s + 1, false,
					      __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	return true;
}

/* Done writing @p: true if the caller was the last writer and sealed it. */
static bool unclaim(uint64_t p)
{
	uint32_t zero = 0;

	if (__atomic_sub_fetch(&d.st[p], 1, __ATOMIC_ACQ_REL))
		return false;
	return __atomic_compare_exchange_n(&d.st[p], &zero, SEALED, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static bool sealed(uint64_t p)
{
	return __atomic_load_n(&d.st[p], __ATOMIC_ACQUIRE) & SEALED;
}

/* Copy page @p from src into dst's shmem file. */
static void copy_page(uint64_t p, bool use_pwrite)
{
	off_t off = (off_t)p * g.psz;

	if (use_pwrite) {
		if (pwrite(d.shm, g.src + off, g.psz, off) != (ssize_t)g.psz)
			derr("pwrite");
	} else {
		memcpy(d.shm_map + off, g.src + off, g.psz);
	}
}

static void mark(const struct umem_range *r, unsigned int n)
{
	ssize_t len = n * sizeof(*r);

	if (n && write(d.srv, r, len) != len)
		derr("write ranges");
}

/* Append page @p to @r, merging with the last range if contiguous. */
static void range_add(struct umem_range *r, unsigned int *n, uint64_t p)
{
	if (*n && r[*n - 1].pgoff + r[*n - 1].count == p) {
		r[*n - 1].count++;
		return;
	}
	r[(*n)++] = (struct umem_range){ .pgoff = p, .count = 1 };
}

#define SRV_BATCH	64

static void *server_main(void *arg)
{
	struct umem_request req[SRV_BATCH];
	struct umem_range r[SRV_BATCH];
	struct pollfd pfd = { .fd = d.srv, .events = POLLIN };
	uint64_t i, redelivered, sealed_here;
	unsigned int n, k, nr;
	ssize_t ret;

	for (i = 0;; i++) {
		/* Alternate a blocking read with a poll before the read. */
		if ((i & 1) && poll(&pfd, 1, -1) < 0 && errno != EINTR)
			derr("poll");
		ret = read(d.srv, req, sizeof(req));
		if (ret < 0) {
			if (errno != EINTR)
				derr("read");
			continue;
		}
		if (!ret || ret % sizeof(req[0])) {
			errno = EPROTO;
			derr("read size");
			continue;
		}
		n = ret / sizeof(req[0]);
		nr = 0;
		redelivered = sealed_here = 0;
		for (k = 0; k < n; k++) {
			uint64_t p = req[k].pgoff;

			if (p >= g.pages) {
				errno = ERANGE;
				derr("request outside the region");
				continue;
			}
			if (req[k].flags & UMEM_REQ_REDELIVERED)
				redelivered++;
			if (g.sabotage == 1 && !(p % 61) && claim(p)) {
				/* Broken daemon: marks the page, then writes it. */
				range_add(r, &nr, p);
				mark(r, nr);
				nr = 0;
				usleep(1000);
				copy_page(p, true);
				__atomic_store_n(&d.st[p], SEALED, __ATOMIC_RELEASE);
			} else if (claim(p)) {
				copy_page(p, true);
				if (unclaim(p)) {
					range_add(r, &nr, p);
					sealed_here++;
				}
			} else if ((g.mode & M_RACING) && sealed(p)) {
				/* Marking a written page again is harmless. */
				range_add(r, &nr, p);
				add(&g.sh->dup_marks, 1);
			}
			/* Else another writer has it and will mark it. */
		}
		mark(r, nr);
		add(&g.sh->faults, n);
		add(&g.sh->redelivered, redelivered);
		add(&g.sh->srv_pages, sealed_here);
	}
	return NULL;
}

#define BG_BATCH	32

static void *bg_main(void *arg)
{
	unsigned int k = (uintptr_t)arg, nr = 0;
	uint64_t first, count, i, j, p, *order, s = seed_of(k, g.bounce);
	uint64_t sealed_here = 0;
	struct umem_range r[BG_BATCH];

	if (g.mode & M_RACING) {
		/* Everyone covers everything, from its own starting point. */
		first = 0;
		count = g.pages;
	} else {
		first = g.pages * k / d.nbg;
		count = g.pages * (k + 1) / d.nbg - first;
	}
	order = malloc(count * sizeof(*order));
	if (!order) {
		derr("malloc");
		return NULL;
	}
	for (i = 0; i < count; i++)
		order[i] = first + (i + (g.mode & M_RACING ?
					 g.pages * k / d.nbg : 0)) % count;
	if (g.mode & M_RANDOM) {
		for (i = count - 1; i > 0; i--) {
			j = rnd(&s) % (i + 1);
			p = order[i];
			order[i] = order[j];
			order[j] = p;
		}
	}
	for (i = 0; i < count; i++) {
		p = order[i];
		if (claim(p)) {
			/* Odd pages by pwrite, even ones by the mmap. */
			copy_page(p, p & 1);
			if (unclaim(p)) {
				range_add(r, &nr, p);
				sealed_here++;
			}
		} else if (g.sabotage == 2 && !(p % 61)) {
			/* Broken daemon: writes a page that may be present. */
			copy_page(p, true);
		} else if ((g.mode & M_RACING) && !(rnd(&s) & 7) && sealed(p)) {
			range_add(r, &nr, p);
			add(&g.sh->dup_marks, 1);
		}
		if (nr == BG_BATCH) {
			mark(r, nr);
			nr = 0;
		}
	}
	mark(r, nr);
	add(&g.sh->bg_pages, sealed_here);
	free(order);
	return NULL;
}

/*
 * The daemon: serve the region of @ctl (re-adopting it if an earlier
 * daemon was killed), supply it, and when the test process says so
 * (a byte on @done), declare it complete and exit.
 */
static void __attribute__((noreturn)) daemon_main(int ctl, int done,
						  int done_wr, pid_t parent)
{
	struct umem_serve sv = { .flags = UMEM_SERVE_CLOEXEC };
	pthread_t srv[64], bg[64];
	uint64_t *bits, p;
	unsigned int i;
	char c;

	d.nbg = g.ncpu;
	/* Never outlive the test (an ASSERT ends it with the daemon alive). */
	close(done_wr);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(3);
	/* The previous daemon's fds may take a moment to be released. */
	for (i = 0; ioctl(ctl, UMEM_IOC_SERVE, &sv); i++) {
		if (errno != EBUSY || i > 5000) {
			derr("UMEM_IOC_SERVE");
			_exit(3);
		}
		usleep(1000);
	}
	d.srv = sv.server_fd;
	d.shm = sv.shmem_fd;
	d.shm_map = mmap(NULL, g.pages * g.psz, PROT_READ | PROT_WRITE,
			 MAP_SHARED, d.shm, 0);
	d.st = calloc(g.pages, sizeof(*d.st));
	bits = calloc((g.pages + 63) / 64, 8);
	if (d.shm_map == MAP_FAILED || !d.st || !bits) {
		derr("daemon setup");
		_exit(3);
	}
	/* What an earlier daemon marked: never write it again. */
	{
		struct umem_bitmap bm = { .count = g.pages,
					  .addr = (uintptr_t)bits,
					  .which = UMEM_BITMAP_PRESENT };

		if (ioctl(d.srv, UMEM_IOC_BITMAP, &bm)) {
			derr("UMEM_IOC_BITMAP");
			_exit(3);
		}
	}
	for (p = 0; p < g.pages; p++)
		if (bits[p / 64] & (1ULL << (p % 64)))
			d.st[p] = SEALED;
	for (i = 0; i < g.ncpu; i++) {
		if (pthread_create(&srv[i], NULL, server_main, NULL) ||
		    pthread_create(&bg[i], NULL, bg_main, (void *)(uintptr_t)i)) {
			derr("pthread_create");
			_exit(3);
		}
	}
	__atomic_store_n(&g.sh->ready, getpid(), __ATOMIC_RELEASE);
	for (;;) {
		ssize_t n = read(done, &c, 1);

		if (n == 1)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		derr("read done pipe");
		_exit(3);
	}
	for (i = 0; i < g.ncpu; i++)
		pthread_join(bg[i], NULL);
	if (ioctl(d.srv, UMEM_IOC_COMPLETE))
		derr("UMEM_IOC_COMPLETE");
	/* Exiting ends the servers blocked in read() and poll(). */
	_exit(0);
}

/* ---- the test process: lockers, VM operations ------------------------- */

static void check_first_touch(uint64_t p, const char *pg)
{
	if (__atomic_exchange_n(&g.checked[p], 1, __ATOMIC_RELAXED))
		return;
	if (!page_ok(pg, p, g.bounce - 1))
		set_bad(p);
}

static void *locker_main(void *arg)
{
	unsigned int k = (uintptr_t)arg;
	uint64_t s = seed_of(k, g.bounce), p, ops = 0;
	uint64_t page_nr = g.pages * k / g.nlockers + g.bounce;
	volatile struct page_hdr *h;
	char *pg;

	while (!g.finished) {
		if (g.mode & M_RANDOM)
			p = rnd(&s) % g.pages;
		else
			p = page_nr++ % g.pages;
		pg = g.dst + p * g.psz;
		h = (void *)pg;
		pthread_mutex_lock((pthread_mutex_t *)&h->mu);
		check_first_touch(p, pg);
		if (h->count != g.count_verify[p]) {
			set_bad(p);
			g.count_verify[p] = h->count;
		}
		h->count++;
		g.count_verify[p]++;
		pthread_mutex_unlock((pthread_mutex_t *)&h->mu);
		ops++;
	}
	add(&g.locker_ops, ops);
	return NULL;
}

/* A toucher reads pages through an alias that munmap/mremap take away. */
static __thread sigjmp_buf *segv_jmp;

static void segv_handler(int sig)
{
	if (segv_jmp)
		siglongjmp(*segv_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

struct toucher {
	char *alias;
	uint64_t first, count;
	volatile int stop;
	pthread_t th;
};

static void *toucher_main(void *arg)
{
	struct toucher *t = arg;
	sigjmp_buf jb;
	uint64_t i;

	if (sigsetjmp(jb, 1)) {
		segv_jmp = NULL;
		add(&g.segv, 1);
		return NULL;
	}
	segv_jmp = &jb;
	for (i = 0; !t->stop; i = (i + 1) % t->count) {
		uint64_t p = t->first + i;

		if (!page_ok(t->alias + i * g.psz, p, g.bounce - 1))
			set_bad(p);
	}
	segv_jmp = NULL;
	return NULL;
}

/* A child reads pages through the inherited mapping, then exits. */
static void fork_reader(uint64_t *s)
{
	uint64_t p[16];
	unsigned int i;
	pid_t pid;

	for (i = 0; i < 16; i++)
		p[i] = rnd(s) % g.pages;
	pid = fork();
	if (pid == 0) {
		for (i = 0; i < 16; i++)
			if (!page_ok(g.dst + p[i] * g.psz, p[i], g.bounce - 1))
				set_bad(p[i]);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void *vmops_main(void *arg)
{
	uint64_t s = seed_of(99, g.bounce), first, count;
	struct toucher t;
	char *spare;
	int op;

	/* mremap's target: address space of our own. */
	spare = mmap(NULL, 64 * g.psz, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (spare == MAP_FAILED)
		return (void *)1;
	while (!g.finished) {
		op = rnd(&s) % 4;
		count = 1 + rnd(&s) % 64;
		first = rnd(&s) % (g.pages - count + 1);
		switch (op) {
		case 0:
			madvise(g.dst + first * g.psz, count * g.psz,
				MADV_DONTNEED);
			break;
		case 1:
			fork_reader(&s);
			break;
		default:
			t = (struct toucher){ .first = first, .count = count };
			t.alias = mmap(NULL, count * g.psz, PROT_READ,
				       MAP_SHARED, g.dst_ctl, first * g.psz);
			if (t.alias == MAP_FAILED)
				return (void *)2;
			if (pthread_create(&t.th, NULL, toucher_main, &t))
				return (void *)3;
			usleep(rnd(&s) % 2000);
			if (op == 2) {
				munmap(t.alias, count * g.psz);
			} else {
				if (mremap(t.alias, count * g.psz, count * g.psz,
					   MREMAP_MAYMOVE | MREMAP_FIXED,
					   spare) != spare)
					return (void *)4;
				/* Keep the reservation for the next one. */
				mmap(spare, 64 * g.psz, PROT_NONE, MAP_PRIVATE |
				     MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			}
			t.stop = 1;
			pthread_join(t.th, NULL);
			break;
		}
		add(&g.vm_ops[op], 1);
	}
	munmap(spare, 64 * g.psz);
	return NULL;
}

/* ---- bounces ------------------------------------------------------------ */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

struct totals {
	uint64_t bounces, corrupted, kills;
	uint64_t k_faults, k_blocked, k_redelivered, k_detaches;
};

static pid_t spawn_daemon(int ctl, int done, int done_wr)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0)
		daemon_main(ctl, done, done_wr, parent);
	return pid;
}

/* The first src: a region filled by the test itself, complete. */
static void make_first_src(struct __test_metadata *_metadata,
			   struct umemlib_region *r)
{
	struct umemlib_server s;
	struct umem_range all;
	uint64_t p, i, *buf;
	struct page_hdr *h;

	ASSERT_EQ(0, umemlib_create(r, g.pages * g.psz, DETACH_MS))
		TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(0, umemlib_serve(r, UMEM_SERVE_CLOEXEC, &s))
		TH_LOG("%s", umemlib_strerror());
	buf = malloc(g.psz);
	ASSERT_NE(NULL, buf);
	h = (void *)buf;
	for (p = 0; p < g.pages; p++) {
		memset(buf, 0, HDR_WORDS * 8);
		h->mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
		h->count = 1;
		h->pgoff = p;
		h->gen = 0;
		for (i = HDR_WORDS; i < g.psz / 8; i++)
			buf[i] = pat(p, i);
		ASSERT_EQ(g.psz, pwrite(s.shmem_fd, buf, g.psz, p * g.psz));
		g.count_verify[p] = 1;
	}
	free(buf);
	all = (struct umem_range){ .pgoff = 0, .count = g.pages };
	ASSERT_EQ(0, umemlib_mark_present(&s, &all, 1));
	ASSERT_EQ(0, umemlib_complete(&s));
	umemlib_server_close(&s);
}

static void one_bounce(struct __test_metadata *_metadata, int done_rd,
		       int done_wr, struct totals *tot)
{
	pthread_t lockers[256], vmops;
	struct umemlib_region dst;
	struct umem_stats st;
	uint64_t t0, p, bad = 0, s = seed_of(7, g.bounce), kill_at = 0;
	unsigned int i, kills = 0;
	void *ret;
	pid_t daemon;
	int status;

	ASSERT_EQ(0, umemlib_create(&dst, g.pages * g.psz, DETACH_MS))
		TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(0, umemlib_map(&dst, 0, g.pages * g.psz,
				 PROT_READ | PROT_WRITE, (void **)&g.dst))
		TH_LOG("%s", umemlib_strerror());
	g.dst_ctl = dst.ctl;
	memset(g.sh->bad, 0, g.pages);
	memset(g.checked, 0, g.pages);
	g.finished = 0;

	daemon = spawn_daemon(dst.ctl, done_rd, done_wr);
	ASSERT_LT(0, daemon);
	for (i = 0; i < g.nlockers; i++)
		ASSERT_EQ(0, pthread_create(&lockers[i], NULL, locker_main,
					    (void *)(uintptr_t)i));
	if (g.mode & M_VMOPS)
		ASSERT_EQ(0, pthread_create(&vmops, NULL, vmops_main, NULL));

	t0 = umem_now_ms();
	if (g.mode & M_KILL)
		kill_at = rnd(&s) % (g.pages * 3 / 4);
	for (;;) {
		ASSERT_EQ(0, ioctl(dst.ctl, UMEM_IOC_STATS, &st));
		if (st.pages_present == g.pages)
			break;
		ASSERT_GT(BOUNCE_MAX_MS, umem_now_ms() - t0)
			TH_LOG("bounce %lu: %lu of %lu pages present after %u s",
			       (unsigned long)g.bounce,
			       (unsigned long)st.pages_present,
			       (unsigned long)g.pages, BOUNCE_MAX_MS / 1000);
		/* The daemon must not die on its own. */
		ASSERT_EQ(0, waitpid(daemon, &status, WNOHANG))
			TH_LOG("daemon ended, status 0x%x: %s", status,
			       g.sh->err);
		if ((g.mode & M_KILL) && kills < MAX_KILLS &&
		    st.pages_present >= kill_at &&
		    __atomic_load_n(&g.sh->ready, __ATOMIC_ACQUIRE) == daemon) {
			/* Mid-bounce: faults sleep, requests are in flight. */
			ASSERT_EQ(0, kill(daemon, SIGKILL));
			ASSERT_EQ(daemon, waitpid(daemon, &status, 0));
			kills++;
			daemon = spawn_daemon(dst.ctl, done_rd, done_wr);
			ASSERT_LT(0, daemon);
			kill_at = st.pages_present + 1 +
				  rnd(&s) % (g.pages / 4 + 1);
		}
		usleep(g.mode & M_KILL ? 200 : 2000);
	}
	g.finished = 1;
	for (i = 0; i < g.nlockers; i++)
		pthread_join(lockers[i], NULL);
	if (g.mode & M_VMOPS) {
		pthread_join(vmops, &ret);
		EXPECT_EQ(NULL, ret) TH_LOG("vm operations failed: %p", ret);
	}
	ASSERT_EQ(1, write(done_wr, "x", 1));
	ASSERT_EQ(daemon, waitpid(daemon, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("daemon status 0x%x: %s", status,
				    g.sh->err);
	EXPECT_EQ(0, g.sh->errors) TH_LOG("%s", g.sh->err);

	ASSERT_EQ(0, ioctl(dst.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(UMEM_STATE_COMPLETE, st.state);
	EXPECT_EQ(kills, st.detaches);
	EXPECT_EQ(0, st.pages_outstanding);
	tot->k_faults += st.faults;
	tot->k_blocked += st.faults_blocked;
	tot->k_redelivered += st.requests_redelivered;
	tot->k_detaches += st.detaches;
	tot->kills += kills;

	/* Every counter, every page. */
	for (p = 0; p < g.pages; p++) {
		char *pg = g.dst + p * g.psz;
		struct page_hdr *h = (void *)pg;

		if (!page_ok(pg, p, g.bounce - 1) ||
		    h->count != g.count_verify[p] ||
		    pthread_mutex_trylock(&h->mu)) {
			if (bad < 5)
				TH_LOG("bounce %lu: page %lu corrupted: pgoff %lu gen %lu count %lu (want %lu)",
				       (unsigned long)g.bounce,
				       (unsigned long)p,
				       (unsigned long)h->pgoff,
				       (unsigned long)h->gen,
				       (unsigned long)h->count,
				       (unsigned long)g.count_verify[p]);
			set_bad(p);
			/* Repair, so that one corruption is counted once. */
			g.count_verify[p] = h->count;
		} else {
			pthread_mutex_unlock(&h->mu);
		}
		h->gen = g.bounce;
		bad += g.sh->bad[p];
	}
	tot->corrupted += bad;
	tot->bounces++;

	/* dst becomes the next src. */
	munmap(g.src, g.pages * g.psz);
	close(g.src_ctl);
	g.src = g.dst;
	g.src_ctl = dst.ctl;
	g.dst = NULL;
}

static const char *mode_name(unsigned int mode, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", mode ? "" : " seq",
		 mode & M_RANDOM ? " random" : "",
		 mode & M_RACING ? " racing" : "",
		 mode & M_VMOPS ? " vmops" : "",
		 mode & M_KILL ? " kill" : "");
	return buf;
}

/*
 * Bounce in @mode (or, @cycle, in every mode by turns) for @seconds, at
 * least MIN_BOUNCES times; with a fault @target, until it is reached.
 */
static void run_stress(struct __test_metadata *_metadata, unsigned int mode,
		       bool cycle, uint64_t seconds, uint64_t target)
{
	struct totals tot = { 0 };
	struct umemlib_region src;
	uint64_t t0, ms, next_note = 60000;
	char name[64];
	int done[2];

	memset(&g, 0, sizeof(g));
	ASSERT_EQ(0, umemlib_page_size(&g.psz)) TH_LOG("%s", umemlib_strerror());
	g.pages = env_u64("STRESS_PAGES", DEF_PAGES);
	ASSERT_LE(128, g.pages);
	g.ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (g.ncpu < 1)
		g.ncpu = 1;
	if (g.ncpu > 16)
		g.ncpu = 16;
	g.nlockers = g.ncpu * env_u64("STRESS_LOCKERS", LOCKERS_PER_CPU);
	ASSERT_GE(256, g.nlockers);
	g.sabotage = env_u64("STRESS_SABOTAGE", 0);
	g.sh = mmap(NULL, sizeof(*g.sh) + g.pages, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, g.sh);
	g.count_verify = calloc(g.pages, sizeof(*g.count_verify));
	g.checked = calloc(g.pages, 1);
	ASSERT_NE(NULL, g.count_verify);
	ASSERT_NE(NULL, g.checked);
	ASSERT_EQ(0, pipe2(done, O_CLOEXEC));
	ASSERT_NE(SIG_ERR, signal(SIGSEGV, segv_handler));

	make_first_src(_metadata, &src);
	ASSERT_EQ(0, umemlib_map(&src, 0, g.pages * g.psz, PROT_READ,
				 (void **)&g.src))
		TH_LOG("%s", umemlib_strerror());
	g.src_ctl = src.ctl;

	t0 = umem_now_ms();
	for (g.bounce = 1;; g.bounce++) {
		ms = umem_now_ms() - t0;
		if (tot.bounces >= MIN_BOUNCES && ms >= seconds * 1000)
			break;
		if (target && g.sh->faults >= target)
			break;
		if (ms >= next_note) {
			/* A long run says how far it got, once a minute. */
			printf("# stress progress: %lu faults, %lu bounces in %lu s\n",
			       (unsigned long)g.sh->faults,
			       (unsigned long)tot.bounces,
			       (unsigned long)ms / 1000);
			fflush(stdout);
			next_note += 60000;
		}
		g.mode = cycle ? g.bounce & M_ALL : mode;
		one_bounce(_metadata, done[0], done[1], &tot);
		if (_metadata->passed == 0 || tot.corrupted)
			break;
	}
	ms = umem_now_ms() - t0;

	TH_LOG("mode%s, %lu pages, %u cpus, %u lockers: %lu bounces in %lu ms",
	       cycle ? " cycled" : mode_name(mode, name, sizeof(name)),
	       (unsigned long)g.pages, g.ncpu, g.nlockers,
	       (unsigned long)tot.bounces, (unsigned long)ms);
	TH_LOG("served %lu requests (%lu redelivered, %lu/s); pages sealed by servers %lu, background %lu; %lu re-marks",
	       (unsigned long)g.sh->faults, (unsigned long)g.sh->redelivered,
	       (unsigned long)(g.sh->faults * 1000 / (ms ? ms : 1)),
	       (unsigned long)g.sh->srv_pages, (unsigned long)g.sh->bg_pages,
	       (unsigned long)g.sh->dup_marks);
	TH_LOG("kernel: %lu faults, %lu blocked, %lu redelivered, %lu detaches (%lu kills); %lu locker ops",
	       (unsigned long)tot.k_faults, (unsigned long)tot.k_blocked,
	       (unsigned long)tot.k_redelivered,
	       (unsigned long)tot.k_detaches, (unsigned long)tot.kills,
	       (unsigned long)g.locker_ops);
	if (g.vm_ops[0] + g.vm_ops[1] + g.vm_ops[2] + g.vm_ops[3])
		TH_LOG("vm ops: %lu madvise, %lu fork, %lu munmap, %lu mremap; %lu touchers saw SIGSEGV",
		       (unsigned long)g.vm_ops[0], (unsigned long)g.vm_ops[1],
		       (unsigned long)g.vm_ops[2], (unsigned long)g.vm_ops[3],
		       (unsigned long)g.segv);
	/* The summary line `make stress` adds up. */
	printf("# stress: %lu faults, %lu corrupted pages\n",
	       (unsigned long)g.sh->faults, (unsigned long)tot.corrupted);
	fflush(stdout);

	EXPECT_EQ(0, tot.corrupted);
	/* The server answered faults: the test did what it claims. */
	EXPECT_LT(0, g.sh->faults);
	/* A daemon killed after reading some is not counted. */
	EXPECT_GE(tot.k_redelivered, g.sh->redelivered);
	if (mode & M_KILL)
		EXPECT_LT(0, tot.k_detaches);
	if (target)
		EXPECT_LE(target, g.sh->faults)
			TH_LOG("fault target not reached in %lu s",
			       (unsigned long)seconds);

	munmap(g.src, g.pages * g.psz);
	close(g.src_ctl);
	close(done[0]);
	close(done[1]);
	free(g.count_verify);
	free(g.checked);
	munmap(g.sh, sizeof(*g.sh) + g.pages);
}

FIXTURE(stress) {
};

FIXTURE_SETUP(stress)
{
}

FIXTURE_TEARDOWN(stress)
{
}

/* Sequential: lockers and suppliers race along the same pages. */
TEST_F_TIMEOUT(stress, stress__bounce, 300)
{
	run_stress(_metadata, 0, false,
		   env_u64("STRESS_MODE_SECONDS", DEF_SECONDS), 0);
}

TEST_F_TIMEOUT(stress, stress__random, 300)
{
	run_stress(_metadata, M_RANDOM, false,
		   env_u64("STRESS_MODE_SECONDS", DEF_SECONDS), 0);
}

TEST_F_TIMEOUT(stress, stress__racing_suppliers, 300)
{
	run_stress(_metadata, M_RACING | M_RANDOM, false,
		   env_u64("STRESS_MODE_SECONDS", DEF_SECONDS), 0);
}

TEST_F_TIMEOUT(stress, stress__vm_ops, 300)
{
	run_stress(_metadata, M_VMOPS, false,
		   env_u64("STRESS_MODE_SECONDS", DEF_SECONDS), 0);
}

TEST_F_TIMEOUT(stress, stress__daemon_killed, 300)
{
	run_stress(_metadata, M_KILL, false,
		   env_u64("STRESS_MODE_SECONDS", DEF_SECONDS), 0);
}

/*
 * Every combination of modes, by turns.  `make stress` runs it for
 * STRESS_SECONDS, or until STRESS_FAULTS faults were served.
 */
TEST_F_TIMEOUT(stress, stress__mixed, 7200)
{
	run_stress(_metadata, 0, true,
		   env_u64("STRESS_SECONDS", MIXED_SECONDS),
		   env_u64("STRESS_FAULTS", 0));
}

/* ---- starvation --------------------------------------------------------- */

/*
 * stress__starvation: no request starves under a steady fault load
 * (issue 20, item 5).  Producer threads keep STARVE_BACKLOG requests
 * waiting (twice the ring), each made by a read(2) into a region made
 * with UMEM_INIT_KERNEL_EFAULT, which queues the request and fails at
 * once; the test's main thread is the daemon, the bottleneck: once the
 * backlog is full it reads a batch of requests, marks their pages
 * present (no data: nothing maps them), and every
 * STARVE_RESTART reads it restarts with its last batch unsupplied, which
 * the new server gets again as UMEM_REQ_REDELIVERED.  A request's age is
 * the number of requests read between its fault and its read: at least
 * the reads counted between the fault's return and the read (a producer
 * preempted around its fault does not make its request look old).  Read
 * oldest first, none waits much longer than the backlog.  (Before, the
 * ring kept the oldest 512 and was read first: the overflowed and the
 * redelivered requests were read only once the load stopped.)
 */
#define STARVE_PAGES		65536
#define STARVE_BACKLOG		1024
#define STARVE_PRODUCERS	2
#define STARVE_RESTART		4096
#define STARVE_BATCH		16
#define STARVE_MAX_AGE		(4 * STARVE_BACKLOG)

static struct {
	char *map;
	uint32_t psz;
	int zero;
	uint64_t pages;
	uint64_t next;		/* next page to fault on */
	uint64_t reads;		/* requests read so far */
	uint64_t supplied;	/* pages marked present */
	uint64_t *made_at;	/* per page: 1 + reads once it was requested */
	uint64_t errors;
	int stop;
} sv;

static void *starve_producer(void *arg)
{
	uint64_t p;

	while (!__atomic_load_n(&sv.stop, __ATOMIC_RELAXED)) {
		/* Keep the backlog, no more. */
		if (__atomic_load_n(&sv.next, __ATOMIC_RELAXED) -
		    __atomic_load_n(&sv.supplied, __ATOMIC_RELAXED) >=
		    STARVE_BACKLOG) {
			sched_yield();
			continue;
		}
		p = __atomic_fetch_add(&sv.next, 1, __ATOMIC_RELAXED);
		if (p >= sv.pages)
			break;
		if (read(sv.zero, sv.map + p * sv.psz, 1) != -1 ||
		    errno != EFAULT)
			__atomic_fetch_add(&sv.errors, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&sv.made_at[p],
				 __atomic_load_n(&sv.reads, __ATOMIC_RELAXED) + 1,
				 __ATOMIC_RELEASE);
	}
	return NULL;
}

struct starve_stats {
	uint64_t max_age, starved, redelivered, restarts, unknown;
};

/*
 * Read a batch of requests (non-blocking); mark them present unless
 * @keep.  Returns how many were read.
 */
static ssize_t starve_read(struct __test_metadata *_metadata, int srv,
			   bool keep, struct starve_stats *st)
{
	struct umem_request req[STARVE_BATCH];
	struct umem_range r[STARVE_BATCH];
	uint64_t age, now, made;
	ssize_t n, i;

	n = read(srv, req, sizeof(req));
	if (n < 0) {
		EXPECT_EQ(EAGAIN, errno);
		return 0;
	}
	n /= sizeof(req[0]);
	for (i = 0; i < n; i++) {
		EXPECT_GT(__atomic_load_n(&sv.next, __ATOMIC_RELAXED),
			  req[i].pgoff);
		now = __atomic_add_fetch(&sv.reads, 1, __ATOMIC_RELAXED);
		made = __atomic_load_n(&sv.made_at[req[i].pgoff],
				       __ATOMIC_ACQUIRE);
		/* Its producer is not back from the fault: age unknown. */
		age = made ? now - (made - 1) : 0;
		st->unknown += !made;
		if (age > st->max_age)
			st->max_age = age;
		if (age > STARVE_MAX_AGE && !st->starved++)
			TH_LOG("page %llu (flags %#x) read after %llu newer requests were",
			       (unsigned long long)req[i].pgoff, req[i].flags,
			       (unsigned long long)age);
		st->redelivered += !!(req[i].flags & UMEM_REQ_REDELIVERED);
		r[i].pgoff = req[i].pgoff;
		r[i].count = 1;
	}
	if (n && !keep) {
		EXPECT_EQ((ssize_t)(n * sizeof(r[0])),
			  write(srv, r, n * sizeof(r[0])));
		/* Redelivered pages counted once: outstanding ones only. */
		__atomic_fetch_add(&sv.supplied, n, __ATOMIC_RELAXED);
	}
	return n;
}

static int starve_serve(struct __test_metadata *_metadata, int ctl)
{
	struct umem_serve s = { .flags = UMEM_SERVE_CLOEXEC |
					 UMEM_SERVE_NONBLOCK };

	if (ioctl(ctl, UMEM_IOC_SERVE, &s))
		return -1;
	/* Pages are only marked, never written: no shmem fd needed. */
	close(s.shmem_fd);
	return s.server_fd;
}

TEST_F_TIMEOUT(stress, stress__starvation, 300)
{
	uint64_t seconds = env_u64("STRESS_MODE_SECONDS", DEF_SECONDS);
	struct starve_stats st = { 0 };
	pthread_t t[STARVE_PRODUCERS];
	uint64_t t0, since_restart = 0;
	struct umem_stats ks;
	struct umemlib_region r;
	int i, srv;
	ssize_t n;

	memset(&sv, 0, sizeof(sv));
	ASSERT_EQ(0, umemlib_page_size(&sv.psz)) TH_LOG("%s", umemlib_strerror());
	sv.pages = STARVE_PAGES;
	ASSERT_EQ(0, umemlib_create_flags(&r, sv.pages * sv.psz, DETACH_MS,
					  UMEM_INIT_KERNEL_EFAULT))
		TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(0, umemlib_map(&r, 0, sv.pages * sv.psz, PROT_READ | PROT_WRITE,
				 (void **)&sv.map))
		TH_LOG("%s", umemlib_strerror());
	sv.zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, sv.zero);
	sv.made_at = calloc(sv.pages, sizeof(*sv.made_at));
	ASSERT_NE(NULL, sv.made_at);
	srv = starve_serve(_metadata, r.ctl);
	ASSERT_LE(0, srv) TH_LOG("UMEM_IOC_SERVE: %s", strerror(errno));
	for (i = 0; i < STARVE_PRODUCERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, starve_producer,
					    NULL));

	t0 = umem_now_ms();
	while (umem_now_ms() - t0 < seconds * 1000 &&
	       __atomic_load_n(&sv.next, __ATOMIC_RELAXED) < sv.pages) {
		/*
		 * The daemon is the bottleneck, as when starvation matters:
		 * it reads only once the backlog is full again.
		 */
		if (__atomic_load_n(&sv.next, __ATOMIC_RELAXED) -
		    __atomic_load_n(&sv.supplied, __ATOMIC_RELAXED) <
		    STARVE_BACKLOG) {
			sched_yield();
			continue;
		}
		/* A daemon restart: the last batch read is not supplied. */
		if (since_restart >= STARVE_RESTART) {
			starve_read(_metadata, srv, true, &st);
			close(srv);
			srv = starve_serve(_metadata, r.ctl);
			ASSERT_LE(0, srv)
				TH_LOG("UMEM_IOC_SERVE: %s", strerror(errno));
			st.restarts++;
			since_restart = 0;
			continue;
		}
		n = starve_read(_metadata, srv, false, &st);
		since_restart += n;
		if (!n)
			sched_yield();
	}
	__atomic_store_n(&sv.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < STARVE_PRODUCERS; i++)
		pthread_join(t[i], NULL);
	/* The load stops: what was left is read now. */
	while (starve_read(_metadata, srv, false, &st))
		;
	ASSERT_EQ(0, ioctl(r.ctl, UMEM_IOC_STATS, &ks));

	TH_LOG("%lu requests made, %lu read (%lu redelivered, %lu of unknown age) in %lu ms, %lu daemon restarts; oldest read after %lu newer (bound %d)",
	       (unsigned long)ks.pages_requested, (unsigned long)sv.reads,
	       (unsigned long)st.redelivered, (unsigned long)st.unknown,
	       (unsigned long)(umem_now_ms() - t0), (unsigned long)st.restarts,
	       (unsigned long)st.max_age, STARVE_MAX_AGE);
	/* The summary line `make stress` adds up: no page data here. */
	printf("# stress: %lu faults, 0 corrupted pages\n",
	       (unsigned long)sv.reads);
	fflush(stdout);
	EXPECT_EQ(0, sv.errors);
	EXPECT_EQ(0, ks.pages_outstanding);
	/* The test did what it claims: the ring overflowed, daemons restarted. */
	EXPECT_LT(2 * STARVE_RESTART, sv.reads);
	EXPECT_LT(0, st.redelivered);
	EXPECT_EQ(0, st.starved)
		TH_LOG("%lu requests read after more than %d newer ones",
		       (unsigned long)st.starved, STARVE_MAX_AGE);
	close(srv);
	close(sv.zero);
	munmap(sv.map, sv.pages * sv.psz);
	umemlib_close(&r);
	free(sv.made_at);
}

TEST_HARNESS_MAIN
