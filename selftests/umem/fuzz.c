// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: random valid and invalid operations on /dev/umem, from several
 * processes and threads at once, for a bounded time.
 *
 * The run is a sequence of epochs.  Each epoch has one 64-bit seed; every
 * process and thread draws its own stream from it (splitmix64), so an
 * epoch's operations are reproducible from its seed (their interleaving
 * is not: that is the scheduler's).  An epoch forks NPROC worker
 * processes, each with NTHR fuzzing threads and one serving thread, lets
 * them run, then SIGKILLs every process of the epoch and reaps them all.
 *
 * The fuzzing threads pick operations at random: open, the handshake,
 * init, serve, mmap (MAP_PRIVATE too), faults (reads and writes of random
 * words of the mappings, SIGBUS and SIGSEGV caught with sigsetjmp), read
 * and write of the server fd with good and garbage records and odd sizes,
 * poison, complete, bitmaps, stats, random ioctl numbers on every kind of
 * fd, fork, mremap, munmap, mprotect, madvise, close, dup, detach (closing
 * a server) and re-adopt, process_vm_readv/writev, pipes into and out of
 * mappings, /proc/self/mem, the shmem fd, io_uring reads.  A small table
 * of live objects (fds, mappings) per process makes them hit real objects
 * most of the time and garbage some of the time.
 *
 * Nothing can hang for good: a timer signal interrupts every user fault
 * and blocking read after a while; the serving thread of each worker
 * supplies (or poisons) what it reads and re-adopts regions whose server
 * went away; detach deadlines are short; and the epoch's end kills all.
 *
 * It fails only on what cannot be wrong: a process dying of a signal other
 * than SIGKILL (an uncaught SIGSEGV or SIGBUS outside a probe), an
 * invariant broken (a word of a page that is neither zero nor the pattern
 * the server wrote there; a page read through a mapping that the present
 * bitmap says was never supplied; a poisoned page that reads; a request
 * or bitmap out of bounds; an operation the ABI says must fail that
 * succeeds; an errno the ABI does not list for that call), a process that
 * SIGKILL does not end, or a splat (the runner's).
 *
 * Usage: fuzz [--seed S | --random] [--seconds N] [--epoch N] [--procs N]
 *             [--threads N]
 * FUZZ_SEED (a seed, or "random") and FUZZ_SECONDS in the environment do
 * what --seed or --random and --seconds do (make fuzz passes them with
 * run-vm.sh --env).  With neither: the suite's fixed seed, 4 epochs of
 * 12 s.  Output is TAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/umem.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

#define PS		4096UL
#define NSLOT		24		/* mapping slots per process */
#define SLOT_PAGES	64UL		/* largest mapping, in pages */
#define ARENA_BASE	0x100000000000UL
#define NOBJ		48		/* fds per process */
#define FD_BASE		64		/* our fds are dup'ed to unique numbers */
#define MAX_CHILDREN	4
#define MAX_REGION	(64ULL << 30)	/* the module's default max_region_bytes */

/* ---- operations and counters, shared by every process of a run ---- */

#define OPS(X) X(open) X(api) X(init) X(serve) X(mmap) X(touch) X(unmap) \
	X(mremap) X(mprotect) X(madvise) X(read) X(write) X(poison) \
	X(complete) X(bitmap) X(stats) X(ioctl) X(close) X(dup) X(fork) \
	X(kill) X(pvm) X(pipe) X(shmem) X(procmem) X(fdinfo) X(poll) \
	X(nonblock) X(uring) X(supply) X(sweep)
#define OP_ENUM(n) OP_##n,
#define OP_NAME(n) #n,
enum { OPS(OP_ENUM) OP_NR };
static const char *const op_names[] = { OPS(OP_NAME) };

/* Relative weights of the operations the fuzzing threads pick. */
static const unsigned int op_weight[OP_NR] = {
	[OP_open] = 3, [OP_api] = 4, [OP_init] = 4, [OP_serve] = 3,
	[OP_mmap] = 7, [OP_touch] = 28, [OP_unmap] = 3, [OP_mremap] = 2,
	[OP_mprotect] = 1, [OP_madvise] = 4, [OP_read] = 4, [OP_write] = 4,
	[OP_poison] = 2, [OP_complete] = 1, [OP_bitmap] = 3, [OP_stats] = 3,
	[OP_ioctl] = 5, [OP_close] = 3, [OP_dup] = 2, [OP_fork] = 1,
	[OP_kill] = 1, [OP_pvm] = 2, [OP_pipe] = 2, [OP_shmem] = 3,
	[OP_procmem] = 1, [OP_fdinfo] = 1, [OP_poll] = 1, [OP_nonblock] = 1,
	[OP_uring] = 2, [OP_sweep] = 1,
};

#define EVS(X) X(ok_read) X(ok_write) X(waited) X(sigbus) X(sigsegv) X(timeout) \
	X(requests) X(supplied) X(poisoned) X(detached) X(adopted) \
	X(regions) X(mappings) X(children) X(present_checks) \
	X(poison_checks) X(errors)
#define EV_ENUM(n) EV_##n,
enum { EVS(EV_ENUM) EV_NR };
static const char *const ev_names[] = { EVS(OP_NAME) };

struct shared {
	uint64_t ops[OP_NR];
	uint64_t ev[EV_NR];
	int failed;
	char msg[1024];
};
static struct shared *sh;

static void count_op(int op)
{
	__atomic_fetch_add(&sh->ops[op], 1, __ATOMIC_RELAXED);
}

static void count_ev(int ev)
{
	__atomic_fetch_add(&sh->ev[ev], 1, __ATOMIC_RELAXED);
}

/* ---- randomness ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t s = a ^ (b * 0xd6e8feb86659fd93ULL);

	return splitmix(&s);
}

static __thread uint64_t rng;
static __thread uint64_t rng_start;	/* where this stream began */

static uint64_t rnd(void)
{
	return splitmix(&rng);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int pct)
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

static bool in_child;		/* a process forked by a worker */
static int depth;		/* forks from the worker */
static int worker_id;

static void fail(const char *fmt, ...)
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

/* Where the suite's short run starts: "umem fz1". */
#define FUZZ_SUITE_SEED	0x756d656d20667a31ULL

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif

#define B(e)	(1ULL << (e))
/* errno of a failed call on an fd of the right kind, against a mask. */
static void check_errno(const char *what, int err, uint64_t allowed)
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
static __thread bool have_tmr;

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

static void setup_signals(void)
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

static void timer_setup(void)
{
	struct sigevent sev;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGUSR1;
	sev._sigev_un._tid = syscall(SYS_gettid);
	have_tmr = !timer_create(CLOCK_MONOTONIC, &sev, &tmr);
}

static void arm(unsigned int ms)
{
	struct itimerspec it = { .it_value = {
		.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L + 1 } };

	if (have_tmr)
		timer_settime(tmr, 0, &it, NULL);
}

static void disarm(void)
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

enum { PR_READ, PR_WRITE, PR_PAGE };

/*
 * Touch mapped memory at @p: read a word, write one (a locked add of 0:
 * a write fault that changes nothing, so a stale address can do no harm),
 * or read a page into @out.  Returns 0, or the signal that ended it:
 * SIGBUS, SIGSEGV, or SIGUSR1 (the timer: the fault was still waiting).
 */
static int probe(volatile uint64_t *p, int mode, uint64_t *out, unsigned int ms)
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

/* ---- the object table: fds of this process; the slots ---- */

#include "fuzz/objects.h"

static uint64_t now_us(void)
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
static bool check_words(const char *what, uint64_t tag, uint64_t pg,
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
static int page_present(int srv, uint64_t pg, uint64_t rpages)
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

static void check_stats(const char *what, const struct umem_stats *st,
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

static void *bad_addr(void)
{
	static const uintptr_t bad[] = { 8, 0xdead0000, ARENA_BASE - PS,
					 0xffff888000000000ULL };

	return (void *)bad[below(4)];
}

static void fill_random(void *buf, size_t len)
{
	uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = rnd();
}

/* A random page count: mostly small, sometimes huge or off the end. */
static uint64_t rnd_count(uint64_t pages)
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
static void fill_pages(int shm, uint64_t tag, uint64_t pg, uint64_t n)
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

/* Answer requests read from server @srv of the region @tag. */
static void answer(int srv, uint64_t tag, uint64_t pages,
		   const struct umem_request *req, size_t n)
{
	int shm = find_obj(K_SHM, tag);
	struct umem_range r;
	size_t i;

	for (i = 0; i < n; i++) {
		r.pgoff = req[i].pgoff;
		r.count = 1;
		if (chance(3)) {
			if (!ioctl(srv, UMEM_IOC_POISON, &r))
				count_ev(EV_poisoned);
			continue;
		}
		if (chance(2))
			continue;	/* dropped: redelivered after a detach */
		if (shm >= 0 && chance(95))
			fill_pages(shm, tag, r.pgoff, 1);
		if (write(srv, &r, sizeof(r)) == sizeof(r))
			count_ev(EV_supplied);
	}
}

/* Check records read from a server fd; returns how many are valid. */
static size_t check_requests(const struct umem_request *req, size_t n,
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

/* ---- the operations ---- */

#include "fuzz/ops_region.h"
#include "fuzz/ops_server.h"
#include "fuzz/ops_process.h"

static int pick_op(void)
{
	unsigned int r, i, total = 0;

	for (i = 0; i < OP_NR; i++)
		total += op_weight[i];
	r = below(total);
	for (i = 0; i < OP_NR; i++) {
		if (r < op_weight[i])
			return i;
		r -= op_weight[i];
	}
	return OP_touch;
}

static void do_op(int op)
{
	count_op(op);
	switch (op) {
	case OP_open: op_open(); break;
	case OP_api: op_api(); break;
	case OP_init: op_init(); break;
	case OP_serve: op_serve(); break;
	case OP_mmap: if (chance(5)) op_mmap_loose(); else op_mmap(); break;
	case OP_touch: op_touch(); break;
	case OP_unmap: op_unmap(); break;
	case OP_mremap: op_mremap(); break;
	case OP_mprotect: op_mprotect(); break;
	case OP_madvise: op_madvise(); break;
	case OP_read: op_read(); break;
	case OP_write: op_write(); break;
	case OP_poison: op_poison(); break;
	case OP_complete: op_complete(); break;
	case OP_bitmap: op_bitmap(); break;
	case OP_stats: op_stats(); break;
	case OP_ioctl: op_ioctl(); break;
	case OP_close: op_close(); break;
	case OP_dup: op_dup(); break;
	case OP_fork: op_fork(); break;
	case OP_kill: op_kill(); break;
	case OP_pvm: op_pvm(); break;
	case OP_pipe: op_pipe(); break;
	case OP_shmem: op_shmem(); break;
	case OP_procmem: op_procmem(); break;
	case OP_sweep: op_sweep(); break;
	case OP_fdinfo: op_fdinfo(); break;
	case OP_poll: op_poll(); break;
	case OP_nonblock: op_nonblock(); break;
	case OP_uring: op_uring(); break;
	}
}

/* @n operations; for ever if @n is 0. */
static void run_ops(long n)
{
	if (!n)
		for (;;)
			do_op(pick_op());
	while (n-- > 0)
		do_op(pick_op());
}

/* ---- the serving thread of a worker ---- */

/*
 * Keeps the regions of this process served: reads requests from every
 * server fd and supplies (rarely poisons, or drops) them, and makes the
 * region of every control fd whose server is gone adopted again.  It never
 * touches a mapping, so a fault can never block it.
 */
static void *server_thread(void *arg)
{
	struct pollfd pfd[NOBJ];
	struct obj srv[NOBJ], ctl[NOBJ];
	struct umem_request req[64];
	int n, nc, i, j;
	ssize_t ret;

	rng = rng_start = (uint64_t)(uintptr_t)arg;
	timer_setup();
	for (;;) {
		n = nc = 0;
		pthread_mutex_lock(&olock);
		for (i = 0; i < NOBJ; i++) {
			if (objs[i].kind == K_SRV)
				srv[n++] = objs[i];
			else if (objs[i].kind == K_CTL && objs[i].pages)
				ctl[nc++] = objs[i];
		}
		pthread_mutex_unlock(&olock);
		/* Re-adopt the regions that lost their server. */
		for (i = 0; i < nc; i++) {
			for (j = 0; j < n; j++)
				if (srv[j].tag == ctl[i].tag)
					break;
			if (j == n && chance(10)) {
				count_op(OP_serve);
				do_serve(&ctl[i], false);
			}
		}
		if (!n) {
			usleep(2000);
			continue;
		}
		for (i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = srv[i].fd, .events = POLLIN };
		if (poll(pfd, n, 10) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			arm(100);	/* the fd may be blocking, and emptied */
			ret = read(srv[i].fd, req, sizeof(req));
			disarm();
			if (ret <= 0)
				continue;
			count_op(OP_supply);
			if (ret % 16)
				fail("read of a server fd returned %zd", ret);
			answer(srv[i].fd, srv[i].tag, srv[i].pages, req,
			       check_requests(req, ret / 16, srv[i].pages));
		}
	}
	return NULL;
}

/* ---- a worker process ---- */

static void atfork_prepare(void)
{
	pthread_mutex_lock(&olock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&olock);
}

static void atfork_child(void)
{
	int i;

	pthread_mutex_init(&olock, NULL);
	pthread_mutex_init(&clock_, NULL);
	memset(children, 0, sizeof(children));
	in_child = true;
	have_tmr = false;
	/* The parent's ring is not ours to use. */
	ring_ok = false;
	ring_tried = true;
	ur.busy = false;
	/* The parent's /proc/self/mem is the parent's memory. */
	if (procmem >= 0)
		close(procmem);
	procmem = -1;
	depth++;
	for (i = 0; i < NSLOT; i++) {
		pthread_mutex_init(&slots[i].lock, NULL);
		if (slots[i].gen & 1) {
			slots[i].gen++;
			slots[i].m.kind = S_UNKNOWN;
		}
	}
}

static void *fuzz_thread(void *arg)
{
	rng = rng_start = (uint64_t)(uintptr_t)arg;
	timer_setup();
	run_ops(0);
	return NULL;
}

static void worker(int id, uint64_t seed, int nthreads)
{
	pthread_t th;
	uint64_t s = seed;
	int i, fd;

	worker_id = id;
	rng = rng_start = splitmix(&s);
	setup_signals();
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	if (mmap((void *)ARENA_BASE, NSLOT * SLOT_PAGES * PS, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
		 -1, 0) != (void *)ARENA_BASE) {
		fprintf(stderr, "# fuzz: cannot reserve the arena: %s\n", strerror(errno));
		_exit(2);
	}
	for (i = 0; i < NSLOT; i++)
		pthread_mutex_init(&slots[i].lock, NULL);
	fd = open("/dev/umem", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "# fuzz: open /dev/umem: %s\n", strerror(errno));
		_exit(2);
	}
	close(fd);
	/* A running start: one region, served, mapped. */
	op_open();
	for (i = 0; i < 3; i++) {
		op_api();
		op_init();
		op_mmap();
	}
	if (pthread_create(&th, NULL, server_thread, (void *)(uintptr_t)splitmix(&s)))
		_exit(3);
	for (i = 1; i < nthreads; i++)
		if (pthread_create(&th, NULL, fuzz_thread,
				   (void *)(uintptr_t)splitmix(&s)))
			_exit(3);
	fuzz_thread((void *)(uintptr_t)splitmix(&s));
	_exit(0);
}

/* ---- the run: epochs, TAP ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* Reap whatever died; a death by a signal other than SIGKILL fails. */
static int reap(char *why, size_t whylen)
{
	int st, n = 0;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		n++;
		if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL && !why[0])
			snprintf(why, whylen, "process %d died of signal %d (%s)",
				 p, WTERMSIG(st), strsignal(WTERMSIG(st)));
		if (WIFEXITED(st) && WEXITSTATUS(st) && !why[0])
			snprintf(why, whylen, "process %d exited %d", p,
				 WEXITSTATUS(st));
	}
	return n;
}

static bool run_epoch(int k, uint64_t seed, unsigned int secs, int nprocs,
		      int nthreads, uint64_t *ops, uint64_t *evs)
{
	char why[1200] = "";
	uint64_t end, t;
	pid_t lead;
	int i, st;
	pid_t p;

	memset(sh, 0, sizeof(*sh));
	printf("# fuzz: seed 0x%016llx: epoch %d, %u s, %d processes x %d threads\n",
	       (unsigned long long)seed, k, secs, nprocs, nthreads);
	fflush(stdout);
	lead = fork();
	if (lead == 0) {
		setpgid(0, 0);
		for (i = 1; i < nprocs; i++)
			if (fork() == 0)
				worker(i, mix(seed, i), nthreads);
		worker(0, mix(seed, 0), nthreads);
	}
	if (lead < 0) {
		printf("not ok %d fuzz__epoch%d # fork: %s\n", k, k, strerror(errno));
		return false;
	}
	setpgid(lead, lead);
	end = now_ms() + secs * 1000ULL;
	while (now_ms() < end && !__atomic_load_n(&sh->failed, __ATOMIC_SEQ_CST)) {
		usleep(100000);
		reap(why, sizeof(why));
		if (why[0])
			break;
	}
	kill(-lead, SIGKILL);
	/* Everything of the epoch must die: SIGKILL always ends a process. */
	t = now_ms() + 60000;
	for (;;) {
		p = waitpid(-1, &st, WNOHANG);
		if (p < 0 && errno == ECHILD)
			break;
		if (p > 0) {
			if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL && !why[0])
				snprintf(why, sizeof(why), "process %d died of signal %d (%s)",
					 p, WTERMSIG(st), strsignal(WTERMSIG(st)));
			if (WIFEXITED(st) && WEXITSTATUS(st) && !why[0])
				snprintf(why, sizeof(why), "process %d exited %d", p,
					 WEXITSTATUS(st));
			continue;
		}
		if (now_ms() > t) {
			if (!why[0])
				snprintf(why, sizeof(why),
					 "a process of the epoch outlived SIGKILL by 60 s");
			break;
		}
		kill(-lead, SIGKILL);
		usleep(10000);
	}
	if (sh->failed && !why[0])
		snprintf(why, sizeof(why), "%s", sh->msg);
	else if (sh->failed)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "; %s", sh->msg);
	for (i = 0; i < OP_NR; i++)
		ops[i] += sh->ops[i];
	for (i = 0; i < EV_NR; i++)
		evs[i] += sh->ev[i];
	if (why[0]) {
		printf("# fuzz: FAILED: %s\n", why);
		printf("# fuzz: seed 0x%016llx; replay: make fuzz FUZZ_SEED=0x%016llx FUZZ_MINUTES=1\n",
		       (unsigned long long)seed, (unsigned long long)seed);
		printf("not ok %d fuzz__epoch%d seed=0x%016llx\n", k, k,
		       (unsigned long long)seed);
	} else {
		printf("ok %d fuzz__epoch%d seed=0x%016llx\n", k, k,
		       (unsigned long long)seed);
	}
	fflush(stdout);
	return !why[0];
}

int main(int argc, char **argv)
{
	unsigned int secs = 48, epoch = 12;
	int nprocs = 3, nthreads = 3, i, k, nepochs, failed = 0;
	uint64_t seed = 0, ops[OP_NR] = { 0 }, evs[EV_NR] = { 0 }, total = 0;
	bool have_seed = false, random_seed = false, secs_set = false;
	struct rlimit rl;
	uint64_t start;
	char *e;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
			have_seed = true;
		} else if (!strcmp(argv[i], "--random")) {
			random_seed = true;
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			secs = strtoul(argv[++i], NULL, 0);
			secs_set = true;
		} else if (!strcmp(argv[i], "--epoch") && i + 1 < argc) {
			epoch = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--procs") && i + 1 < argc) {
			nprocs = strtol(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			nthreads = strtol(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: %s [--seed S | --random] [--seconds N] "
				"[--epoch N] [--procs N] [--threads N]\n", argv[0]);
			return 2;
		}
	}
	/* make fuzz's settings (run-vm.sh --env); arguments win. */
	e = getenv("FUZZ_SEED");
	if (!have_seed && e && !strcmp(e, "random")) {
		random_seed = true;
	} else if (!have_seed && e && *e) {
		seed = strtoull(e, NULL, 0);
		have_seed = true;
	}
	e = getenv("FUZZ_SECONDS");
	if (!secs_set && e && *e)
		secs = strtoul(e, NULL, 0);
	/*
	 * The suite's short run (no arguments) always starts from the same
	 * seed, so a CI run fails only for a reason someone can replay;
	 * make fuzz asks for --random to explore.
	 */
	if (!have_seed && random_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = mix(ts.tv_sec * 1000000000ULL + ts.tv_nsec, getpid());
	} else if (!have_seed) {
		seed = FUZZ_SUITE_SEED;
	}
	if (!epoch)
		epoch = 1;
	if (secs < epoch)
		secs = epoch;
	nepochs = secs / epoch;
	if (nprocs < 1)
		nprocs = 1;
	if (nthreads < 1)
		nthreads = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rl.rlim_cur = rl.rlim_max = 65536;
	if (setrlimit(RLIMIT_NOFILE, &rl) && !getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		fd_limit = rl.rlim_cur > 65536 ? 65536 : rl.rlim_cur;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	printf("TAP version 13\n");
	printf("1..%d\n", nepochs + 1);
	printf("# fuzz: seed 0x%016llx, %d epochs of %u s (replay: make fuzz FUZZ_SEED=0x%016llx)\n",
	       (unsigned long long)seed, nepochs, epoch, (unsigned long long)seed);
	start = now_ms();
	for (k = 1; k <= nepochs; k++) {
		/* The first epoch runs the seed itself: it replays as given. */
		uint64_t s = k == 1 ? seed : mix(seed, k);

		if (!run_epoch(k, s, epoch, nprocs, nthreads, ops, evs))
			failed++;
	}

	printf("# fuzz: summary: %d seeds in %llu s, %d failed\n", nepochs,
	       (unsigned long long)(now_ms() - start) / 1000, failed);
	for (i = 0; i < OP_NR; i++)
		total += ops[i];
	printf("# fuzz: %llu ops:", (unsigned long long)total);
	for (i = 0; i < OP_NR; i++)
		printf(" %s %llu", op_names[i], (unsigned long long)ops[i]);
	printf("\n# fuzz: outcomes:");
	for (i = 0; i < EV_NR; i++)
		printf(" %s %llu", ev_names[i], (unsigned long long)evs[i]);
	printf("\n");
	/* A fuzzer that did nothing proved nothing. */
	if (!ops[OP_touch] || !evs[EV_ok_read] || !evs[EV_requests] ||
	    !evs[EV_supplied] || !evs[EV_regions]) {
		printf("not ok %d fuzz__summary # too little happened: reads %llu, requests %llu, supplied %llu, regions %llu\n",
		       nepochs + 1, (unsigned long long)evs[EV_ok_read],
		       (unsigned long long)evs[EV_requests],
		       (unsigned long long)evs[EV_supplied],
		       (unsigned long long)evs[EV_regions]);
		failed++;
	} else {
		printf("ok %d fuzz__summary %llu ops\n", nepochs + 1,
		       (unsigned long long)total);
	}
	return failed ? 1 : 0;
}
