// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: what every part of the fuzzer uses: the counters shared by the
 * processes of a run, each thread's random stream, failures, probes of
 * mapped memory and the timer, the checks, garbage, and filling pages
 * as a server does.
 */
#include "common.h"

struct shared *sh;

void count_ev(int ev)
{
	__atomic_fetch_add(&sh->ev[ev], 1, __ATOMIC_RELAXED);
}

/* ---- randomness ---- */

uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t s = a ^ (b * 0xd6e8feb86659fd93ULL);

	return splitmix(&s);
}

__thread uint64_t rng;
__thread uint64_t rng_start;	/* where this stream began */

uint64_t rnd(void)
{
	return splitmix(&rng);
}

uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

bool chance(unsigned int pct)
{
	return below(100) < pct;
}

/* The word @i of page @pg of the region tagged @tag, as servers write it. */
static uint64_t pat(uint64_t tag, uint64_t pg, uint64_t i)
{
	uint64_t s = tag ^ (pg << 12) ^ i;

	return splitmix(&s) | 1;
}

/* ---- failures ---- */

bool in_child;		/* a process forked by a worker */
int depth;		/* forks from the worker */
int worker_id;

void fail(const char *fmt, ...)
{
	char buf[sizeof(sh->msg)];
	int n, saved = errno;
	va_list ap;

	n = snprintf(buf, sizeof(buf), "pid %d tid %ld (worker %d%s, stream 0x%016llx): ",
		     getpid(), (long)syscall(SYS_gettid), worker_id,
		     in_child ? ", forked child" : "",
		     (unsigned long long)rng_start);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	count_ev(EV_errors);
	if (!__atomic_exchange_n(&sh->failed, 1, __ATOMIC_SEQ_CST))
		memcpy(sh->msg, buf, sizeof(buf));
	fprintf(stderr, "# fuzz: %s\n", buf);
	errno = saved;
}

/* errno of a failed call on an fd of the right kind, against a mask. */
void check_errno(const char *what, int err, uint64_t allowed)
{
	allowed |= B(EBADF);	/* another thread may have closed it */
	if (err >= 64 || !(allowed & B(err)))
		fail("%s: errno %d (%s) is not one the ABI lists", what, err,
		     strerror(err));
}

/* ---- signals: probes of mapped memory, and the timer ---- */

static __thread sigjmp_buf probe_env;
static __thread volatile sig_atomic_t probe_on;
static __thread timer_t tmr;
__thread bool have_tmr;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	if (probe_on) {
		probe_on = 0;
		siglongjmp(probe_env, sig);
	}
	if (sig == SIGUSR1)	/* the timer: interrupts a blocking call */
		return;
	/* A crash outside a probe: record it, then die of it. */
	if (!__atomic_exchange_n(&sh->failed, 1, __ATOMIC_SEQ_CST))
		snprintf(sh->msg, sizeof(sh->msg),
			 "pid %d: signal %d at address %p outside any probe",
			 getpid(), sig, si->si_addr);
	signal(sig, SIG_DFL);
}

void setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;	/* no SA_RESTART: EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void timer_setup(void)
{
	struct sigevent sev;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGUSR1;
	sev._sigev_un._tid = syscall(SYS_gettid);
	have_tmr = !timer_create(CLOCK_MONOTONIC, &sev, &tmr);
}

void arm(unsigned int ms)
{
	struct itimerspec it = { .it_value = {
		.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L + 1 } };

	if (have_tmr)
		timer_settime(tmr, 0, &it, NULL);
}

void disarm(void)
{
	struct itimerspec it = { 0 };

	if (have_tmr)
		timer_settime(tmr, 0, &it, NULL);
}

static void __attribute__((noinline))
copy_words(uint64_t *dst, volatile uint64_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = src[i];
}

/*
 * Touch mapped memory at @p: read a word, write one (a locked add of 0:
 * a write fault that changes nothing, so a stale address can do no harm),
 * or read a page into @out.  Returns 0, or the signal that ended it:
 * SIGBUS, SIGSEGV, or SIGUSR1 (the timer: the fault was still waiting).
 */
int probe(volatile uint64_t *p, int mode, uint64_t *out, unsigned int ms)
{
	int sig;

	arm(ms);
	sig = sigsetjmp(probe_env, 1);
	if (!sig) {
		probe_on = 1;
		if (mode == PR_READ)
			out[0] = *p;
		else if (mode == PR_WRITE)
			asm volatile("lock; addq $0, %0" : "+m"(*p) : : "memory");
		else
			copy_words(out, p, PS / 8);
		probe_on = 0;
	}
	disarm();
	return sig;
}

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/* ---- checks ---- */

/*
 * Is @w a word of the page as some moment left it: zero, the pattern
 * @p, or, while a pwrite() of the pattern over zeros is under way, a mix
 * of the two, byte by byte (copies are not atomic per word)?
 */
static bool word_ok(uint64_t w, uint64_t p)
{
	unsigned int b;

	if (!w || w == p)
		return true;
	for (b = 0; b < 64; b += 8)
		if ((w >> b & 0xff) && (w >> b & 0xff) != (p >> b & 0xff))
			return false;
	return true;
}

/* Every word of a page read back is zero or the server's pattern. */
bool check_words(const char *what, uint64_t tag, uint64_t pg,
		 uint64_t first, const uint64_t *w, size_t n, bool report)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!word_ok(w[i], pat(tag, pg, first + i))) {
			if (report)
				fail("%s: page %llu word %llu of region %016llx reads %016llx, "
				     "neither zero nor its pattern %016llx", what,
				     (unsigned long long)pg,
				     (unsigned long long)(first + i),
				     (unsigned long long)tag,
				     (unsigned long long)w[i],
				     (unsigned long long)pat(tag, pg, first + i));
			return false;
		}
	return true;
}

/* Is page @pg of the region of server @srv present?  -1: cannot tell. */
int page_present(int srv, uint64_t pg, uint64_t rpages)
{
	uint64_t w[2] = { 0, 0xa5a5a5a5a5a5a5a5ULL };
	uint64_t start = pg & ~63ULL;
	struct umem_bitmap bm = {
		.pgoff = start,
		.count = rpages - start < 64 ? rpages - start : 64,
		.addr = (uintptr_t)w, .which = UMEM_BITMAP_PRESENT,
	};

	if (ioctl(srv, UMEM_IOC_BITMAP, &bm))
		return -1;
	if (w[1] != 0xa5a5a5a5a5a5a5a5ULL)
		fail("UMEM_IOC_BITMAP of %llu pages wrote past its word",
		     (unsigned long long)bm.count);
	return (w[0] >> (pg - start)) & 1;
}

void check_stats(const char *what, const struct umem_stats *st,
		 uint64_t pages)
{
	uint64_t n = st->size / PS;
	unsigned int i;

	for (i = 0; i < 7; i++)
		if (st->reserved[i])
			fail("%s: reserved[%u] = %llu", what, i,
			     (unsigned long long)st->reserved[i]);
	if (st->page_size != PS || st->size % PS || !st->size ||
	    st->size > MAX_REGION || (pages && n != pages) ||
	    st->state > UMEM_STATE_COMPLETE || st->pages_present > n ||
	    st->pages_requested > n || st->pages_poisoned > st->pages_present ||
	    st->pages_outstanding > st->pages_requested ||
	    (st->state == UMEM_STATE_COMPLETE && st->pages_present != n))
		fail("%s: inconsistent stats: size %llu (%llu pages expected) state %u page_size %u "
		     "present %llu requested %llu outstanding %llu poisoned %llu", what,
		     (unsigned long long)st->size, (unsigned long long)pages,
		     st->state, st->page_size,
		     (unsigned long long)st->pages_present,
		     (unsigned long long)st->pages_requested,
		     (unsigned long long)st->pages_outstanding,
		     (unsigned long long)st->pages_poisoned);
}

/* ---- garbage ---- */

void *bad_addr(void)
{
	static const uintptr_t bad[] = { 8, 0xdead0000, ARENA_BASE - PS,
					 0xffff888000000000ULL };

	return (void *)bad[below(4)];
}

void fill_random(void *buf, size_t len)
{
	uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = rnd();
}

/* A random page count: mostly small, sometimes huge or off the end. */
uint64_t rnd_count(uint64_t pages)
{
	switch (below(10)) {
	case 0: return 0;
	case 1: return pages + below(3);
	case 2: return ~0ULL - below(3);
	case 3: return pages ? pages : 1;
	default: return 1 + below(8);
	}
}

/* ---- supplying pages, as a server does ---- */

/* Write the pattern of pages [pg, pg + n) into the shmem fd @shm. */
void fill_pages(int shm, uint64_t tag, uint64_t pg, uint64_t n)
{
	uint64_t buf[PS / 8];
	uint64_t i, p;

	for (p = pg; p < pg + n; p++) {
		for (i = 0; i < PS / 8; i++)
			buf[i] = pat(tag, p, i);
		if (pwrite(shm, buf, PS, p * PS) != (ssize_t)PS)
			return;
	}
}

/* Check records read from a server fd; returns how many are valid. */
size_t check_requests(const struct umem_request *req, size_t n,
		      uint64_t pages)
{
	size_t i;

	for (i = 0; i < n; i++) {
		count_ev(EV_requests);
		if (req[i].pgoff >= pages || (req[i].flags & ~0x1fU) ||
		    ((req[i].flags & UMEM_REQ_OVERFLOW) &&
		     (req[i].tid || req[i].flags != UMEM_REQ_OVERFLOW)) ||
		    ((req[i].flags & UMEM_REQ_REDELIVERED) && req[i].tid)) {
			fail("bad request: page %llu of %llu, flags %#x, tid %u",
			     (unsigned long long)req[i].pgoff,
			     (unsigned long long)pages, req[i].flags, req[i].tid);
			return i;
		}
	}
	return n;
}
