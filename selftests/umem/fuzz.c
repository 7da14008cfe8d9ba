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
 * Usage: fuzz [--seed S] [--seconds N] [--epoch N] [--procs N] [--threads N]
 * With no argument: a random seed, 4 epochs of 12 s.  Output is TAP.
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

/* ---- the object table: fds of this process ---- */

enum { K_FREE, K_CTL, K_SRV, K_SHM, K_GARBAGE };

struct obj {
	int kind;
	int fd;
	uint64_t tag;		/* the region's, 0 before init */
	uint64_t pages;		/* the region's size, 0 before init */
	bool api;		/* control fd: handshake made */
	bool rdonly;		/* control fd opened O_RDONLY */
};

/*
 * The outcome of umem ioctl @name on @o, an fd of any kind, when @kind is
 * the one it is for: a failure there must be one of @allowed, on another
 * umem fd ENOTTY, on garbage anything; a success anywhere but on @kind is
 * a failure.  True when the call succeeded on @kind, for the caller to
 * check further.  errno is kept.
 */
static bool ioctl_outcome(const char *name, int ret, const struct obj *o,
			  int kind, uint64_t allowed)
{
	int err = errno;
	char what[64];

	if (ret) {
		if (o->kind == kind) {
			check_errno(name, err, allowed);
		} else if (o->kind != K_GARBAGE) {
			snprintf(what, sizeof(what), "%s on another fd", name);
			check_errno(what, err, B(ENOTTY));
		}
	} else if (o->kind != kind && o->kind != K_GARBAGE) {
		fail("%s succeeded on fd kind %d", name, o->kind);
	}
	errno = err;
	return !ret && o->kind == kind;
}

static struct obj objs[NOBJ];
static pthread_mutex_t olock = PTHREAD_MUTEX_INITIALIZER;
static int next_fd = FD_BASE, fd_limit = 1024;
static int closed_fds[8];

/*
 * Move @fd to a number of its own, never used before in this process (up
 * to wrapping at the fd limit): a stale number in a snapshot of the table
 * then names no object (EBADF), never another one.  Under olock.
 */
static int unique_fd(int fd)
{
	int i, n = FD_BASE;

	for (i = 0; i < fd_limit; i++) {
		n = next_fd++;
		if (next_fd >= fd_limit)
			next_fd = FD_BASE;
		if (fcntl(n, F_GETFD) < 0 && errno == EBADF)
			break;
	}
	n = dup3(fd, n, O_CLOEXEC);
	close(fd);
	return n;
}

/* Add @fd (closed if the table is full); returns its new number, or -1. */
static int obj_add(int kind, int fd, uint64_t tag, uint64_t pages, bool api,
		   bool rdonly)
{
	int i, n = -1;

	pthread_mutex_lock(&olock);
	for (i = 0; i < NOBJ; i++)
		if (objs[i].kind == K_FREE)
			break;
	if (i < NOBJ) {
		n = unique_fd(fd);
		if (n >= 0)
			objs[i] = (struct obj){ kind, n, tag, pages, api, rdonly };
	} else {
		close(fd);
	}
	pthread_mutex_unlock(&olock);
	return n;
}

static void obj_update(int fd, uint64_t tag, uint64_t pages, bool api)
{
	int i;

	pthread_mutex_lock(&olock);
	for (i = 0; i < NOBJ; i++)
		if (objs[i].kind != K_FREE && objs[i].fd == fd) {
			if (pages) {
				objs[i].tag = tag;
				objs[i].pages = pages;
			}
			objs[i].api |= api;
		}
	pthread_mutex_unlock(&olock);
}

static int garbage_fd(void)
{
	switch (below(5)) {
	case 0: return -1;
	case 1: return INT_MAX;
	case 2: return 0;	/* /dev/null, read-only */
	case 3: return fd_limit + (int)below(100);
	default: return closed_fds[below(8)];
	}
}

/*
 * A snapshot of a live object of @want kind (or of any kind with
 * @any_pct, garbage with 4%): kind K_GARBAGE if there is none.
 */
static struct obj pick(int want, unsigned int any_pct)
{
	struct obj o = { .kind = K_GARBAGE, .fd = garbage_fd() };
	int idx[NOBJ], n = 0, i;
	bool any = chance(any_pct), region = chance(75);

	if (chance(4))
		return o;
	pthread_mutex_lock(&olock);
	/* Mostly an object with a region: that is where the work is. */
	if (region && !any)
		for (i = 0; i < NOBJ; i++)
			if (objs[i].kind == want && objs[i].pages)
				idx[n++] = i;
	if (!n)
		for (i = 0; i < NOBJ; i++)
			if (objs[i].kind != K_FREE && (any || objs[i].kind == want))
				idx[n++] = i;
	if (n)
		o = objs[idx[below(n)]];
	pthread_mutex_unlock(&olock);
	return o;
}

/* A live object of @kind for the region @tag: its fd, or -1. */
static int find_obj(int kind, uint64_t tag)
{
	int i, fd = -1;

	pthread_mutex_lock(&olock);
	for (i = 0; i < NOBJ; i++)
		if (objs[i].kind == kind && objs[i].tag == tag) {
			fd = objs[i].fd;
			break;
		}
	pthread_mutex_unlock(&olock);
	return fd;
}

/* Is @fd still in the table?  It is closed only after leaving it. */
static bool obj_live(int fd)
{
	bool live = false;
	int i;

	pthread_mutex_lock(&olock);
	for (i = 0; i < NOBJ; i++)
		if (objs[i].kind != K_FREE && objs[i].fd == fd)
			live = true;
	pthread_mutex_unlock(&olock);
	return live;
}

/* Remove the object with number @fd and close it. */
static void obj_close(int fd)
{
	int i;

	pthread_mutex_lock(&olock);
	for (i = 0; i < NOBJ; i++)
		if (objs[i].kind != K_FREE && objs[i].fd == fd) {
			if (objs[i].kind == K_SRV)
				count_ev(EV_detached);
			objs[i].kind = K_FREE;
			closed_fds[below(8)] = fd;
			close(fd);
		}
	pthread_mutex_unlock(&olock);
}

/* ---- the arena: every mapping lives in a slot of its own ---- */

/*
 * Mappings are made MAP_FIXED into slots of a reserved arena, and an
 * unmapped slot is filled again with a PROT_NONE placeholder: an address
 * of a slot never holds anything but a umem or shmem mapping of ours, or
 * nothing, so a stale address can be touched safely.  A slot's generation
 * is odd while it changes; a probe whose slot changed generation meanwhile
 * proves nothing and is not checked.
 */
enum { S_EMPTY, S_UMEM, S_SHM, S_UNKNOWN };

struct map {
	int kind;
	int prot;
	bool partial;		/* part of it unmapped or reprotected */
	uint64_t tag;
	uint64_t pgoff;		/* region page of the slot's first page */
	uint64_t npages;
	uint64_t rpages;	/* region size */
};

struct slot {
	pthread_mutex_t lock;
	unsigned int gen;
	struct map m;
};

static struct slot slots[NSLOT];

static char *slot_addr(int i)
{
	return (char *)ARENA_BASE + i * SLOT_PAGES * PS;
}

static void placeholder(char *addr, size_t len, bool replace)
{
	mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
	     (replace ? MAP_FIXED : MAP_FIXED_NOREPLACE), -1, 0);
}

static void slot_begin(struct slot *s)
{
	__atomic_fetch_add(&s->gen, 1, __ATOMIC_SEQ_CST);
}

static void slot_end(struct slot *s)
{
	__atomic_fetch_add(&s->gen, 1, __ATOMIC_SEQ_CST);
}

static bool slot_snap(int i, struct map *m, unsigned int *gen)
{
	struct slot *s = &slots[i];
	unsigned int g = __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE);

	if (g & 1)
		return false;
	*m = s->m;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*gen = g;
	return __atomic_load_n(&s->gen, __ATOMIC_RELAXED) == g;
}

static bool slot_same(int i, unsigned int gen)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&slots[i].gen, __ATOMIC_SEQ_CST) == gen;
}

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

static void op_open(void)
{
	static const int modes[] = { O_RDWR, O_RDWR, O_RDWR, O_RDWR, O_RDONLY,
				     O_WRONLY, O_RDWR | O_NONBLOCK };
	int mode = modes[below(7)];
	int fd = open("/dev/umem", mode | O_CLOEXEC);

	if (fd < 0) {
		check_errno("open", errno, B(ENOMEM) | B(EMFILE) | B(ENFILE));
		return;
	}
	obj_add(K_CTL, fd, 0, 0, false, (mode & O_ACCMODE) == O_RDONLY);
}

static void op_api(void)
{
	struct obj o = pick(K_CTL, 10);
	struct umem_api api = { .api = UMEM_API_VERSION };
	bool bad = false;
	void *arg = &api;
	unsigned long cmd = UMEM_IOC_API;
	int ret;

	if (chance(20)) {
		switch (below(5)) {
		case 0: api.api = below(2) ? 0 : rnd(); break;
		case 1: api.features = 1ULL << below(64); break;
		case 2: api.reserved[below(6)] = rnd() | 1; break;
		case 3: arg = chance(50) ? NULL : bad_addr(); break;
		default:
			/* The right number with another size or direction. */
			cmd = _IOC(below(4), UMEM_IOC_MAGIC, 0, below(128));
			if (cmd == UMEM_IOC_API)
				cmd = _IOW(UMEM_IOC_MAGIC, 0, struct umem_api);
			break;
		}
		bad = api.api != UMEM_API_VERSION || api.features || arg != &api ||
		      cmd != UMEM_IOC_API || api.reserved[0] | api.reserved[1] |
		      api.reserved[2] | api.reserved[3] | api.reserved[4] |
		      api.reserved[5];
	}
	ret = ioctl(o.fd, cmd, arg);
	if (o.kind != K_CTL)
		return;
	if (!ret) {
		if (bad)
			fail("UMEM_IOC_API accepted a bad handshake (cmd %#lx)", cmd);
		if (api.page_size != PS || api.api != UMEM_API_VERSION ||
		    api.features)
			fail("UMEM_IOC_API answered api %u page_size %u features %llx",
			     api.api, api.page_size,
			     (unsigned long long)api.features);
		obj_update(o.fd, 0, 0, true);
	} else {
		check_errno("UMEM_IOC_API", errno, cmd != UMEM_IOC_API ? B(ENOTTY) :
			    B(EINVAL) | B(EBUSY) | B(EFAULT));
	}
}

static uint32_t rnd_timeout(void)
{
	switch (below(10)) {
	case 0: return 0;
	case 1: return rnd();		/* for ever, as good as */
	case 2: return 500 + below(1500);
	default: return 1 + below(200);
	}
}

static void op_init(void)
{
	struct obj o = pick(K_CTL, 8);
	struct umem_init init = { .detach_timeout_ms = rnd_timeout() };
	uint64_t pages;
	bool bad = false;
	void *arg = &init;

	switch (below(20)) {
	case 0: init.size = 0; bad = true; break;
	case 1: init.size = PS * (1 + below(64)) + 1 + below(PS - 1); bad = true; break;
	case 2: init.size = MAX_REGION; break;
	case 3: init.size = MAX_REGION + PS * (1 + below(4)); bad = true; break;
	case 4: init.size = (1ULL << 30) + PS * below(4); break;
	case 5: init.size = rnd() & ~(PS - 1); bad = init.size > MAX_REGION || !init.size; break;
	case 6: init.size = PS * (1 + below(4096)); break;
	case 7: case 8: init.size = PS * (1 + below(SLOT_PAGES)); break;
	default: init.size = PS * (1 + below(1024)); break;
	}
	init.flags = chance(20) ? UMEM_INIT_KERNEL_EFAULT : 0;
	if (chance(5)) {
		init.flags |= 1U << (1 + below(31));
		bad = true;
	}
	if (chance(5)) {
		init.reserved[below(6)] = rnd() | 1;
		bad = true;
	}
	if (chance(3)) {
		arg = chance(50) ? NULL : bad_addr();
		bad = true;
	}
	pages = init.size / PS;
	if (!ioctl_outcome("UMEM_IOC_INIT", ioctl(o.fd, UMEM_IOC_INIT, arg),
			   &o, K_CTL, B(ENXIO) | B(EBUSY) | B(EINVAL) | B(E2BIG) |
			   B(ENOSPC) | B(ENOMEM) | B(EFAULT)))
		return;
	if (bad || o.rdonly)
		fail("UMEM_IOC_INIT accepted size %llu flags %#x on a%s fd",
		     (unsigned long long)init.size, init.flags,
		     o.rdonly ? " read-only" : "");
	count_ev(EV_regions);
	obj_update(o.fd, rnd() | 1, pages, false);
}

/* UMEM_IOC_SERVE on @ctl; adds the two fds.  Returns 0 or errno. */
static int do_serve(struct obj *o, bool garbage)
{
	struct umem_serve sv = { 0 };
	bool bad = false;
	void *arg = &sv;
	int ret, live;

	sv.flags = below(4);
	if (garbage) {
		switch (below(4)) {
		case 0: sv.flags |= 1U << (2 + below(30)); break;
		case 1: sv.__pad = rnd() | 1; break;
		case 2: sv.reserved[below(6)] = rnd() | 1; break;
		default: arg = chance(50) ? NULL : bad_addr(); break;
		}
		bad = true;
	}
	/* A server fd of ours open before and after: a server was live. */
	live = o->kind == K_CTL && o->pages ? find_obj(K_SRV, o->tag) : -1;
	ret = ioctl(o->fd, UMEM_IOC_SERVE, arg);
	if (live >= 0 && !obj_live(live))
		live = -1;
	if (ret) {
		ret = errno;
		if (live >= 0 && (ret == EIO || ret == ENXIO))
			fail("UMEM_IOC_SERVE: errno %d while a server is live", ret);
		if (o->kind == K_CTL)
			check_errno("UMEM_IOC_SERVE", ret, B(ENXIO) | B(EINVAL) |
				    B(EBUSY) | B(EIO) | B(EMFILE) | B(ENFILE) |
				    B(ENOMEM) | B(EFAULT));
		else if (o->kind != K_GARBAGE)
			check_errno("UMEM_IOC_SERVE on another fd", ret, B(ENOTTY));
		return ret;
	}
	if (o->kind != K_CTL) {
		if (o->kind != K_GARBAGE)
			fail("UMEM_IOC_SERVE succeeded on fd kind %d", o->kind);
		close(sv.server_fd);
		close(sv.shmem_fd);
		return 0;
	}
	if (bad || o->rdonly)
		fail("UMEM_IOC_SERVE accepted flags %#x pad %u on a%s fd", sv.flags,
		     sv.__pad, o->rdonly ? " read-only" : "");
	if (live >= 0)
		fail("UMEM_IOC_SERVE made a second server while server fd %d is open",
		     live);
	count_ev(EV_adopted);
	if (!o->pages) {
		/* Its init is not in our table yet: no tag to supply with. */
		close(sv.server_fd);
		close(sv.shmem_fd);
		return 0;
	}
	obj_add(K_SRV, sv.server_fd, o->tag, o->pages, false, false);
	obj_add(K_SHM, sv.shmem_fd, o->tag, o->pages, false, false);
	return 0;
}

static void op_serve(void)
{
	struct obj o = pick(K_CTL, 8);

	do_serve(&o, chance(10));
}

static uint64_t rnd_prot(void)
{
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ,
		PROT_WRITE, PROT_NONE, PROT_READ | PROT_EXEC };

	return prots[below(8)];
}

static void op_mmap(void)
{
	int i = below(NSLOT), flags, prot = rnd_prot();
	struct slot *s = &slots[i];
	struct obj o;
	uint64_t off, npages, len;
	bool bad = false, fixed = true;
	void *p;

	o = pick(chance(85) ? K_CTL : K_SHM, 6);
	npages = 1 + below(SLOT_PAGES);
	if (o.pages && chance(70))
		npages = 1 + below(o.pages < SLOT_PAGES ? o.pages : SLOT_PAGES);
	off = o.pages ? below(o.pages) : below(8);
	if (o.pages && off + npages > o.pages && chance(80))
		off = npages <= o.pages ? o.pages - npages : 0;
	off *= PS;
	len = npages * PS;
	if (chance(3))
		off += 1 + below(PS - 1);
	if (chance(3))
		len -= below(PS);
	flags = chance(90) ? MAP_SHARED : chance(70) ? MAP_PRIVATE :
		MAP_SHARED_VALIDATE;
	if (chance(3))
		flags |= MAP_POPULATE;
	if (chance(2))
		flags |= MAP_LOCKED;
	if (chance(3))
		flags |= MAP_NORESERVE;
	if (chance(2)) {
		fixed = false;	/* EEXIST: the slot holds something */
		flags |= MAP_FIXED_NOREPLACE;
	} else {
		flags |= MAP_FIXED;
	}
	if (o.kind == K_CTL && o.pages)
		bad = (flags & MAP_TYPE) == MAP_PRIVATE || off % PS ||
		      off / PS >= o.pages || npages > o.pages - off / PS;

	if (pthread_mutex_trylock(&s->lock))
		return;
	slot_begin(s);
	p = mmap(slot_addr(i), len, prot, flags, o.fd, off);
	if (p != MAP_FAILED) {
		if (p != slot_addr(i))
			fail("mmap MAP_FIXED returned %p for %p", p, slot_addr(i));
		if (bad)
			fail("mmap of a region of %llu pages accepted offset %llu len %llu flags %#x",
			     (unsigned long long)o.pages, (unsigned long long)off,
			     (unsigned long long)len, flags);
		count_ev(EV_mappings);
		s->m = (struct map){
			.kind = o.kind == K_CTL ? S_UMEM : o.kind == K_SHM ? S_SHM : S_UNKNOWN,
			.prot = prot, .tag = o.tag, .pgoff = off / PS,
			.npages = (len + PS - 1) / PS, .rpages = o.pages,
			.partial = (o.kind == K_CTL && !o.pages) ||
				   (flags & MAP_TYPE) == MAP_PRIVATE,
		};
		if (s->m.kind == S_UMEM && !o.pages)
			s->m.kind = S_UNKNOWN;
	} else if (fixed) {
		/* The old mapping may be gone or not: make it a hole. */
		placeholder(slot_addr(i), SLOT_PAGES * PS, true);
		s->m.kind = S_EMPTY;
	}
	slot_end(s);
	pthread_mutex_unlock(&s->lock);
}

/* mmap anywhere, touch a page, munmap: a mapping no other thread knows. */
static void op_mmap_loose(void)
{
	struct obj o = pick(K_CTL, 5);
	uint64_t npages, off, pg, w[PS / 8];
	char *p;
	int sig;

	if (!o.pages)
		return;
	npages = 1 + below(o.pages < 16 ? o.pages : 16);
	off = below(o.pages - npages + 1);
	p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE, MAP_SHARED, o.fd,
		 off * PS);
	if (p == MAP_FAILED)
		return;
	pg = below(npages);
	sig = probe((uint64_t *)(p + pg * PS), PR_PAGE, w, 50 + below(200));
	if (!sig)
		check_words("read of a fresh mapping", o.tag, off + pg, 0, w,
			    PS / 8, true);
	munmap(p, npages * PS);
}

static void op_touch(void)
{
	int i = below(NSLOT), mode, sig;
	uint64_t pg, word, w[PS / 8], *addr, t0;
	unsigned int gen;
	struct map m;
	bool ok;

	if (chance(70)) {
		int idx[NSLOT], n = 0, j;

		/* Mostly a umem mapping: faults are the point. */
		for (j = 0; j < NSLOT; j++)
			if (__atomic_load_n(&slots[j].m.kind, __ATOMIC_RELAXED) == S_UMEM)
				idx[n++] = j;
		if (n)
			i = idx[below(n)];
	}
	if (!slot_snap(i, &m, &gen))
		return;
	if (m.kind == S_EMPTY && chance(90))
		return;
	pg = m.npages ? below(m.npages) : 0;
	if (chance(3))
		pg = m.npages + below(2);
	word = below(PS / 8);
	mode = below(3);
	addr = (uint64_t *)(slot_addr(i) + pg * PS);
	if (mode != PR_PAGE)
		addr += word;
	else
		word = 0;
	t0 = now_us();
	sig = probe(addr, mode, w, 20 + below(300));
	if (pg >= SLOT_PAGES)
		return;
	switch (sig) {
	case 0:
		count_ev(mode == PR_WRITE ? EV_ok_write : EV_ok_read);
		/* Slept until a server supplied the page, most likely. */
		if (m.kind == S_UMEM && now_us() - t0 > 2000)
			count_ev(EV_waited);
		break;
	case SIGBUS:
		count_ev(EV_sigbus);
		return;
	case SIGSEGV:
		count_ev(EV_sigsegv);
		if ((m.kind == S_UMEM || m.kind == S_SHM) && !m.partial &&
		    !in_child && pg < m.npages &&
		    (m.prot & (mode == PR_WRITE ? PROT_WRITE : PROT_READ)) &&
		    slot_same(i, gen))
			fail("SIGSEGV on a %s of page %llu of a live mapping (prot %#x, %llu pages)",
			     mode == PR_WRITE ? "write" : "read",
			     (unsigned long long)pg, m.prot,
			     (unsigned long long)m.npages);
		return;
	default:
		count_ev(EV_timeout);
		return;
	}
	if (mode == PR_WRITE || (m.kind != S_UMEM && m.kind != S_SHM) ||
	    pg >= m.npages)
		return;
	ok = check_words("read", m.tag, m.pgoff + pg, word, w,
			 mode == PR_PAGE ? PS / 8 : 1, false);
	if (!ok && slot_same(i, gen))
		check_words("read of a mapping", m.tag, m.pgoff + pg, word, w,
			    mode == PR_PAGE ? PS / 8 : 1, true);
	/* A partial slot may have readable anonymous memory in its holes. */
	if (m.kind == S_UMEM && !m.partial) {
		int srv = find_obj(K_SRV, m.tag), present = -1;

		if (srv >= 0)
			present = page_present(srv, m.pgoff + pg, m.rpages);

		if (present >= 0)
			count_ev(EV_present_checks);
		if (!present && slot_same(i, gen))
			fail("page %llu of region %016llx read through a mapping, "
			     "but the present bitmap says it never arrived",
			     (unsigned long long)(m.pgoff + pg),
			     (unsigned long long)m.tag);
	}
}

static void op_unmap(void)
{
	int i = below(NSLOT);
	struct slot *s = &slots[i];
	uint64_t a, n;

	if (pthread_mutex_trylock(&s->lock))
		return;
	slot_begin(s);
	switch (below(3)) {
	case 0:
		placeholder(slot_addr(i), SLOT_PAGES * PS, true);
		s->m.kind = S_EMPTY;
		break;
	case 1:
		munmap(slot_addr(i), SLOT_PAGES * PS);
		placeholder(slot_addr(i), SLOT_PAGES * PS, false);
		s->m.kind = S_EMPTY;
		break;
	default:
		a = below(SLOT_PAGES);
		n = 1 + below(SLOT_PAGES - a);
		if (chance(50)) {
			munmap(slot_addr(i) + a * PS, n * PS);
			placeholder(slot_addr(i) + a * PS, n * PS, false);
		} else {
			placeholder(slot_addr(i) + a * PS, n * PS, true);
		}
		s->m.partial = true;
		break;
	}
	slot_end(s);
	pthread_mutex_unlock(&s->lock);
}

static void op_mremap(void)
{
	int a = below(NSLOT), b = below(NSLOT);
	struct slot *sa = &slots[a], *sb = &slots[b];
	uint64_t oldn, newn;
	void *p;

	if (a == b || pthread_mutex_trylock(&sa->lock))
		return;
	if (pthread_mutex_trylock(&sb->lock)) {
		pthread_mutex_unlock(&sa->lock);
		return;
	}
	slot_begin(sa);
	slot_begin(sb);
	oldn = sa->m.kind == S_EMPTY ? 1 + below(SLOT_PAGES) :
	       sa->m.npages ? sa->m.npages : 1;
	newn = oldn;
	switch (below(4)) {
	case 0:	/* shrink in place */
		newn = 1 + below(oldn);
		p = mremap(slot_addr(a), oldn * PS, newn * PS, 0);
		if (p != MAP_FAILED && newn < oldn) {
			placeholder(slot_addr(a) + newn * PS, (oldn - newn) * PS, false);
			sa->m.npages = newn;
		}
		break;
	case 1:	/* grow, moving to b */
		/*
		 * Not a umem mapping: growing one works (mmap.mremap_grow
		 * tests it), but its pages past the region's end are not in
		 * this model.
		 */
		if (oldn < SLOT_PAGES && sa->m.kind != S_UMEM)
			newn = oldn + 1 + below(SLOT_PAGES - oldn);
		/* fall through */
	default: /* move to b */
		if (chance(5))
			oldn = 0;	/* a duplicate of a shared mapping */
		p = mremap(slot_addr(a), oldn * PS, newn * PS,
			   MREMAP_MAYMOVE | MREMAP_FIXED, slot_addr(b));
		if (p != MAP_FAILED) {
			sb->m = sa->m;
			sb->m.npages = newn;
			if (oldn) {
				placeholder(slot_addr(a), SLOT_PAGES * PS, false);
				sa->m.kind = S_EMPTY;
			}
			/* b's tail beyond newn: a placeholder or a hole. */
			if (newn < SLOT_PAGES)
				placeholder(slot_addr(b) + newn * PS,
					    (SLOT_PAGES - newn) * PS, false);
		} else {
			/* The target may have been unmapped first. */
			placeholder(slot_addr(b), SLOT_PAGES * PS, true);
			sb->m.kind = S_EMPTY;
		}
		break;
	}
	slot_end(sb);
	slot_end(sa);
	pthread_mutex_unlock(&sb->lock);
	pthread_mutex_unlock(&sa->lock);
}

static void op_mprotect(void)
{
	int i = below(NSLOT), prot = rnd_prot();
	struct slot *s = &slots[i];
	uint64_t a = 0, n = SLOT_PAGES;

	if (pthread_mutex_trylock(&s->lock))
		return;
	slot_begin(s);
	if (chance(30)) {
		a = below(SLOT_PAGES);
		n = 1 + below(SLOT_PAGES - a);
		s->m.partial = true;
	}
	if (!mprotect(slot_addr(i) + a * PS, n * PS, prot) && n == SLOT_PAGES)
		s->m.prot = prot;
	else if (n == SLOT_PAGES)
		s->m.partial = true;	/* may be partly applied */
	slot_end(s);
	pthread_mutex_unlock(&s->lock);
}

static void op_madvise(void)
{
	static const int advice[] = {
		MADV_DONTNEED, MADV_DONTNEED, MADV_DONTNEED, MADV_REMOVE,
		MADV_REMOVE, MADV_WILLNEED, MADV_COLD, MADV_PAGEOUT,
		MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_HUGEPAGE,
		MADV_NOHUGEPAGE, MADV_DONTFORK, MADV_DOFORK, MADV_FREE,
		MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_SEQUENTIAL, MADV_RANDOM,
		MADV_NORMAL, MADV_MERGEABLE, -1,
	};
	int i = below(NSLOT), adv = advice[below(22)];
	uint64_t a = below(SLOT_PAGES), n = 1 + below(SLOT_PAGES - a);

	/*
	 * Any number, but never the two that take a page away for good: as
	 * root they would poison the guest's RAM for every later test.
	 */
	if (adv < 0) {
		adv = below(128);
		if (adv == MADV_HWPOISON || adv == MADV_SOFT_OFFLINE)
			adv = MADV_NORMAL;
	}
	if (adv == MADV_DONTFORK)
		slots[i].m.partial = true;	/* children lose it */
	arm(500);
	madvise(slot_addr(i) + a * PS, n * PS, adv);
	disarm();
}

static void op_read(void)
{
	struct obj o = pick(K_SRV, 8);
	uint64_t buf[512 + 8];
	struct iovec iov[3];
	size_t len, niov = 1, i, n;
	ssize_t ret;
	void *dst = buf;

	switch (below(8)) {
	case 0: len = below(16); break;
	case 1: len = 16 + below(48); break;
	case 2: len = 16 * (1 + below(256)); break;
	default: len = 16 * (1 + below(8)); break;
	}
	memset(buf, 0xa5, sizeof(buf));
	/* Never into a mapping: records are not page contents. */
	if (chance(3))
		dst = bad_addr();
	arm(50 + below(200));
	if (chance(15) && dst == buf && len >= 3) {
		/* Records across iovec boundaries. */
		size_t c1 = below(len), c2 = below(len - c1);

		iov[0] = (struct iovec){ buf, c1 };
		iov[1] = (struct iovec){ (char *)buf + c1, c2 };
		iov[2] = (struct iovec){ (char *)buf + c1 + c2, len - c1 - c2 };
		niov = 3;
		ret = readv(o.fd, iov, 3);
	} else {
		ret = read(o.fd, dst, len);
	}
	disarm();
	if (o.kind != K_SRV)
		return;
	if (ret < 0) {
		check_errno("read of a server fd", errno, B(EINVAL) | B(EAGAIN) |
			    B(EINTR) | B(EFAULT));
		if (len >= 16 && errno == EINVAL)
			fail("read of %zu bytes (%zu iovecs) failed with EINVAL", len, niov);
		return;
	}
	if (len < 16 || ret % 16 || (size_t)ret > len)
		fail("read of %zu bytes returned %zd", len, ret);
	if (dst != buf)
		return;
	for (i = ret / 8; i < sizeof(buf) / 8; i++)
		if (buf[i] != 0xa5a5a5a5a5a5a5a5ULL) {
			fail("read of %zu bytes returned %zd but wrote byte %zu",
			     len, ret, i * 8);
			break;
		}
	n = check_requests((struct umem_request *)buf, ret / 16, o.pages);
	if (chance(90))
		answer(o.fd, o.tag, o.pages, (struct umem_request *)buf, n);
}

static void op_write(void)
{
	struct obj o = pick(K_SRV, 8);
	struct umem_range stack[8], *r = stack;
	size_t n = 1 + below(4), len, i;
	bool bad = false, ours = true;
	void *src;
	int shm;
	ssize_t ret;

	/* Records written to a shmem fd would be page contents: not there. */
	if (o.kind == K_SHM)
		return;
	if (chance(5))
		n = 1 + below(4096 + 2);
	if (n > 8)
		r = calloc(n, sizeof(*r));
	if (!r)
		return;
	shm = find_obj(K_SHM, o.tag);
	for (i = 0; i < n; i++) {
		if (o.pages && chance(90)) {
			r[i].pgoff = below(o.pages);
			r[i].count = 1 + below(o.pages - r[i].pgoff < 4 ?
					       o.pages - r[i].pgoff : 4);
			if (chance(1)) {
				r[i].pgoff = 0;
				r[i].count = o.pages;
			} else if (shm >= 0 && n < 8 && chance(85)) {
				fill_pages(shm, o.tag, r[i].pgoff, r[i].count);
			}
		} else {
			r[i].pgoff = chance(50) ? o.pages + below(4) : below(o.pages + 1);
			r[i].count = rnd_count(o.pages);
			fill_random(&r[i], chance(20) ? sizeof(r[i]) : 0);
		}
		if (!r[i].count || r[i].pgoff >= o.pages ||
		    r[i].count > o.pages - r[i].pgoff)
			bad = true;
	}
	len = n * sizeof(*r);
	src = r;
	if (chance(5))
		len = below(2) ? 0 : len - 1 - below(15);
	if (chance(3)) {
		/* From a mapping: the kernel faults reading the ranges. */
		src = chance(50) ? bad_addr() : slot_addr(below(NSLOT));
		ours = false;
	}
	ret = write(o.fd, src, len);
	if (r != stack)
		free(r);
	if (o.kind != K_SRV)
		return;
	if (ret < 0) {
		check_errno("write of a server fd", errno, B(EINVAL) | B(E2BIG) |
			    B(EFAULT) | B(ENOMEM));
		if (!ours) {
			/* The VFS checks the address first (EFAULT). */
		} else if (!len || len % 16) {
			if (errno != EINVAL && errno != EBADF)
				fail("write of %zu bytes: errno %d, not EINVAL", len, errno);
		} else if (len > UMEM_WRITE_MAX && errno != E2BIG && errno != EBADF) {
			fail("write of %zu bytes: errno %d, not E2BIG", len, errno);
		}
		return;
	}
	if ((size_t)ret != len)
		fail("write of %zu bytes returned %zd", len, ret);
	if (!len || len % 16 || len > UMEM_WRITE_MAX)
		fail("write of %zu bytes succeeded", len);
	if (bad && ours)
		fail("write of %zu ranges with a bad one succeeded", n);
	count_ev(EV_supplied);
}

static void op_poison(void)
{
	struct obj o = pick(K_SRV, 8);
	struct umem_range r;
	bool bad;
	void *arg = &r;
	int i, sig;

	if (o.pages && chance(85)) {
		r.pgoff = below(o.pages);
		r.count = 1 + below(o.pages - r.pgoff < 4 ? o.pages - r.pgoff : 4);
	} else {
		r.pgoff = below(o.pages + 2);
		r.count = rnd_count(o.pages);
	}
	bad = !r.count || r.pgoff >= o.pages || r.count > o.pages - r.pgoff;
	if (chance(3)) {
		arg = chance(50) ? NULL : bad_addr();
		bad = true;
	}
	if (!ioctl_outcome("UMEM_IOC_POISON", ioctl(o.fd, UMEM_IOC_POISON, arg),
			   &o, K_SRV, B(EINVAL) | B(EFAULT) | B(ENOMEM)))
		return;
	if (bad)
		fail("UMEM_IOC_POISON of %llu+%llu in %llu pages succeeded",
		     (unsigned long long)r.pgoff, (unsigned long long)r.count,
		     (unsigned long long)o.pages);
	count_ev(EV_poisoned);
	/* A poisoned page never reads again, through any mapping. */
	for (i = 0; i < NSLOT; i++) {
		uint64_t w, pg;
		unsigned int gen;
		struct map m;

		if (!slot_snap(i, &m, &gen) || m.kind != S_UMEM || m.tag != o.tag ||
		    m.partial || !(m.prot & PROT_READ) ||
		    r.pgoff < m.pgoff || r.pgoff >= m.pgoff + m.npages)
			continue;
		pg = r.pgoff - m.pgoff;
		sig = probe((uint64_t *)(slot_addr(i) + pg * PS), PR_READ, &w, 100);
		count_ev(EV_poison_checks);
		if (!sig && slot_same(i, gen))
			fail("page %llu of region %016llx reads %016llx after UMEM_IOC_POISON",
			     (unsigned long long)r.pgoff,
			     (unsigned long long)o.tag, (unsigned long long)w);
		break;
	}
}

static void op_complete(void)
{
	struct obj o = pick(K_SRV, 8);
	struct umem_range r = { 0, o.pages };
	struct umem_stats st;
	bool full = false;
	int ret;

	if (o.kind == K_SRV && chance(10))
		full = write(o.fd, &r, sizeof(r)) == sizeof(r);
	ret = ioctl(o.fd, UMEM_IOC_COMPLETE);
	if (!ioctl_outcome("UMEM_IOC_COMPLETE", ret, &o, K_SRV, B(EBUSY))) {
		if (ret && o.kind == K_SRV && full && errno == EBUSY)
			fail("UMEM_IOC_COMPLETE: EBUSY after every page was marked present");
		return;
	}
	if (!ioctl(o.fd, UMEM_IOC_STATS, &st)) {
		check_stats("stats after complete", &st, o.pages);
		if (st.state != UMEM_STATE_COMPLETE || st.pages_present != o.pages)
			fail("UMEM_IOC_COMPLETE succeeded with state %u, %llu of %llu pages present",
			     st.state, (unsigned long long)st.pages_present,
			     (unsigned long long)o.pages);
	}
}

static void op_bitmap(void)
{
	struct obj o = pick(K_SRV, 8);
	uint64_t words[64 + 4];
	struct umem_bitmap bm = { .addr = (uintptr_t)words, .which = below(3) };
	size_t nw, i;
	bool bad = false;
	int k;

	if (o.pages && chance(85)) {
		bm.pgoff = below(o.pages) & ~63ULL;
		bm.count = 1 + below(o.pages - bm.pgoff < 64 * 64 ?
				     o.pages - bm.pgoff : 64 * 64);
	} else {
		bm.pgoff = below(o.pages + 128);
		bm.count = rnd_count(o.pages);
	}
	if (chance(5)) {
		bm.which = 3 + below(100);
		bad = true;
	}
	if (chance(3)) {
		bm.reserved[below(4)] = 1;
		bad = true;
	}
	if (chance(3)) {
		bm.__pad = 1;
		bad = true;
	}
	if (chance(3)) {
		bm.addr = (uintptr_t)bad_addr();
		bad = true;
	}
	if (bm.pgoff % 64 || !bm.count || bm.pgoff >= o.pages ||
	    bm.count > o.pages - bm.pgoff)
		bad = true;
	/* Never let the kernel write more than the buffer holds. */
	if (bm.count > 64 * 64 && bm.addr == (uintptr_t)words) {
		bm.addr = (uintptr_t)bad_addr();
		bad = true;
	}
	memset(words, 0xa5, sizeof(words));
	if (!ioctl_outcome("UMEM_IOC_BITMAP", ioctl(o.fd, UMEM_IOC_BITMAP, &bm),
			   &o, K_SRV, B(EINVAL) | B(EFAULT) | B(ENOMEM)))
		return;
	if (bad && bm.addr == (uintptr_t)words)
		fail("UMEM_IOC_BITMAP pgoff %llu count %llu which %u of %llu pages succeeded",
		     (unsigned long long)bm.pgoff, (unsigned long long)bm.count,
		     bm.which, (unsigned long long)o.pages);
	if (bad)
		return;
	nw = (bm.count + 63) / 64;
	if (bm.count % 64 && words[nw - 1] >> (bm.count % 64))
		fail("UMEM_IOC_BITMAP: bits past count %llu set: %016llx",
		     (unsigned long long)bm.count,
		     (unsigned long long)words[nw - 1]);
	for (i = nw; i < 64 + 4; i++)
		if (words[i] != 0xa5a5a5a5a5a5a5a5ULL) {
			fail("UMEM_IOC_BITMAP of %llu pages wrote word %zu",
			     (unsigned long long)bm.count, i);
			break;
		}
	if (bm.which == UMEM_BITMAP_POISONED) {
		/* Poisoned pages are present: a later snapshot shows them. */
		uint64_t pres[64 + 4];

		bm.which = UMEM_BITMAP_PRESENT;
		bm.addr = (uintptr_t)pres;
		if (ioctl(o.fd, UMEM_IOC_BITMAP, &bm))
			return;
		for (i = 0; i < nw; i++)
			if (words[i] & ~pres[i]) {
				/*
				 * A poison may be mid-step (its poisoned and
				 * present bits go in one locked step, but we
				 * looked between two snapshots): give it up
				 * to a second, however slow the vCPU.
				 */
				for (k = 0; k < 100 && (words[i] & ~pres[i]); k++) {
					usleep(10000);
					if (ioctl(o.fd, UMEM_IOC_BITMAP, &bm))
						return;
				}
				if (words[i] & ~pres[i])
					fail("page poisoned but not present: word %zu %016llx/%016llx",
					     i, (unsigned long long)words[i],
					     (unsigned long long)pres[i]);
				break;
			}
	}
}

static void op_stats(void)
{
	struct obj o = pick(chance(50) ? K_CTL : K_SRV, 8);
	struct {
		struct umem_stats st;
		uint64_t canary[4];
	} b;
	void *arg = &b.st;

	memset(&b, 0xa5, sizeof(b));
	if (chance(3))
		arg = chance(50) ? NULL : bad_addr();
	if (ioctl(o.fd, UMEM_IOC_STATS, arg)) {
		if (o.kind == K_CTL || o.kind == K_SRV)
			check_errno("UMEM_IOC_STATS", errno, B(ENXIO) | B(EFAULT));
		else if (o.kind == K_SHM)
			check_errno("UMEM_IOC_STATS on a shmem fd", errno, B(ENOTTY));
		if (errno == ENXIO && (o.kind == K_SRV || o.pages))
			fail("UMEM_IOC_STATS: ENXIO on an fd with a region");
		return;
	}
	if (o.kind == K_SHM)
		fail("UMEM_IOC_STATS succeeded on a shmem fd");
	if (arg != &b.st) {
		if (o.kind != K_GARBAGE)
			fail("UMEM_IOC_STATS succeeded with a bad address");
		return;
	}
	if (o.kind != K_CTL && o.kind != K_SRV)
		return;
	check_stats("UMEM_IOC_STATS", &b.st, o.pages);
	if (b.canary[0] != 0xa5a5a5a5a5a5a5a5ULL)
		fail("UMEM_IOC_STATS wrote past its structure");
}

/* Is @cmd one this kind of fd implements? */
static bool known_cmd(int kind, unsigned long cmd)
{
	if (kind == K_CTL)
		return cmd == UMEM_IOC_API || cmd == UMEM_IOC_INIT ||
		       cmd == UMEM_IOC_SERVE || cmd == UMEM_IOC_STATS;
	return cmd == UMEM_IOC_POISON || cmd == UMEM_IOC_COMPLETE ||
	       cmd == UMEM_IOC_STATS || cmd == UMEM_IOC_BITMAP;
}

static void op_ioctl(void)
{
	static const unsigned long known[] = { UMEM_IOC_API, UMEM_IOC_INIT,
		UMEM_IOC_SERVE, UMEM_IOC_POISON, UMEM_IOC_COMPLETE,
		UMEM_IOC_STATS, UMEM_IOC_BITMAP };
	struct obj o = pick(below(3) + 1, 30);
	uint64_t buf[512];
	unsigned long cmd, arg;
	bool umem_fd = o.kind == K_CTL || o.kind == K_SRV;
	int tries, ret;

	for (tries = 0; tries < 8; tries++) {
		switch (below(4)) {
		case 0:
			cmd = _IOC(below(4), UMEM_IOC_MAGIC, below(16), below(512));
			break;
		case 1:	/* a known number, another size or direction */
			cmd = known[below(7)];
			cmd = _IOC(below(4), UMEM_IOC_MAGIC, _IOC_NR(cmd),
				   chance(50) ? _IOC_SIZE(cmd) : below(512));
			break;
		case 2:
			cmd = _IOC(below(4), UMEM_IOC_MAGIC, below(256), below(1 << 14));
			break;
		default:
			cmd = (uint32_t)rnd();
			break;
		}
		/* Known commands have their own operations. */
		if (umem_fd && known_cmd(o.kind, cmd))
			continue;
		/* Not the VFS's own commands (freeze, clone...) on any fd. */
		if (_IOC_TYPE(cmd) != UMEM_IOC_MAGIC && (o.kind == K_SHM ||
							 o.kind == K_GARBAGE))
			continue;
		break;
	}
	if (tries == 8)
		return;
	fill_random(buf, sizeof(buf));
	switch (below(5)) {
	case 0: arg = 0; break;
	case 1: arg = (uintptr_t)bad_addr(); break;
	case 2: arg = rnd(); break;
	default: arg = (uintptr_t)buf; break;
	}
	ret = ioctl(o.fd, cmd, arg);
	if (umem_fd && _IOC_TYPE(cmd) == UMEM_IOC_MAGIC) {
		if (!ret)
			fail("ioctl %#lx succeeded on fd kind %d", cmd, o.kind);
		else
			check_errno("unknown umem ioctl", errno, B(ENOTTY));
	}
}

static void op_close(void)
{
	struct obj o = pick(below(3) + 1, 30);

	if (o.kind == K_GARBAGE) {
		close(o.fd < 3 ? -1 : o.fd);
		return;
	}
	obj_close(o.fd);
}

static void op_dup(void)
{
	struct obj o = pick(below(3) + 1, 30);
	int fd;

	if (o.kind == K_GARBAGE)
		return;
	fd = dup(o.fd);
	if (fd >= 0)
		obj_add(o.kind, fd, o.tag, o.pages, o.api, o.rdonly);
}

static pid_t children[MAX_CHILDREN];
static pthread_mutex_t clock_ = PTHREAD_MUTEX_INITIALIZER;
static void run_ops(long n);

static void reap_children(void)
{
	int i, st;
	pid_t p;

	pthread_mutex_lock(&clock_);
	for (i = 0; i < MAX_CHILDREN; i++) {
		if (!children[i])
			continue;
		p = waitpid(children[i], &st, WNOHANG);
		if (p == 0)
			continue;
		if (p == children[i] && WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
			fail("forked child %d died of signal %d", p, WTERMSIG(st));
		if (p == children[i] && WIFEXITED(st) && WEXITSTATUS(st))
			fail("forked child %d exited %d", p, WEXITSTATUS(st));
		children[i] = 0;
	}
	pthread_mutex_unlock(&clock_);
}

static void op_fork(void)
{
	uint64_t seed = rnd();
	int i, slot = -1;
	pid_t pid;

	reap_children();
	pthread_mutex_lock(&clock_);
	for (i = 0; i < MAX_CHILDREN; i++)
		if (!children[i])
			slot = i;
	if (slot < 0 || depth >= 2 || (in_child && chance(70))) {
		pthread_mutex_unlock(&clock_);
		return;
	}
	pid = fork();
	if (pid == 0) {
		/* pthread_atfork's child handler reset the locks. */
		rng = rng_start = seed;
		timer_setup();
		if (chance(50)) {
			/* A child that does not hold its parent's servers. */
			for (i = 0; i < NOBJ; i++)
				if (objs[i].kind == K_SRV && chance(80))
					obj_close(objs[i].fd);
		}
		run_ops(20 + below(300));
		_exit(0);
	}
	if (pid > 0) {
		children[slot] = pid;
		count_ev(EV_children);
	}
	pthread_mutex_unlock(&clock_);
}

static void op_kill(void)
{
	pid_t p = children[below(MAX_CHILDREN)];

	if (p)
		kill(p, SIGKILL);
	reap_children();
}

static void op_pvm(void)
{
	int i = below(NSLOT);
	uint64_t buf[2 * PS / 8], pg, n;
	struct iovec local, remote;
	unsigned int gen;
	struct map m;
	ssize_t ret;

	if (!slot_snap(i, &m, &gen) || (m.kind == S_EMPTY && chance(90)))
		return;
	/* A kernel fault waits killable: mostly where a server answers. */
	if (m.kind == S_UMEM && find_obj(K_SRV, m.tag) < 0 && chance(80))
		return;
	pg = below(m.npages ? m.npages : 1);
	n = 1 + below(2);
	local = (struct iovec){ buf, n * PS };
	remote = (struct iovec){ slot_addr(i) + pg * PS, n * PS };
	if (chance(70)) {
		memset(buf, 0, sizeof(buf));
		ret = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		if (ret >= (ssize_t)PS && (m.kind == S_UMEM || m.kind == S_SHM) &&
		    pg < m.npages &&
		    !check_words("pvm", m.tag, m.pgoff + pg, 0, buf, PS / 8, false) &&
		    slot_same(i, gen))
			check_words("process_vm_readv of a mapping", m.tag,
				    m.pgoff + pg, 0, buf, PS / 8, true);
	} else {
		memset(buf, 0, sizeof(buf));	/* zeros: true of any page */
		process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	}
}

static void op_pipe(void)
{
	int i = below(NSLOT), p[2];
	uint64_t buf[PS / 8], pg;
	unsigned int gen;
	struct map m;
	ssize_t ret;

	if (!slot_snap(i, &m, &gen) || (m.kind == S_EMPTY && chance(90)))
		return;
	if (m.kind == S_UMEM && find_obj(K_SRV, m.tag) < 0 && chance(80))
		return;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
		return;
	pg = below(m.npages ? m.npages : 1);
	if (chance(50)) {
		/* Into the mapping: the kernel writes zeros to a user page. */
		memset(buf, 0, sizeof(buf));
		if (write(p[1], buf, PS) == (ssize_t)PS)
			ret = read(p[0], slot_addr(i) + pg * PS, PS);
	} else {
		/* Out of it: the kernel reads the page. */
		ret = write(p[1], slot_addr(i) + pg * PS, PS);
		if (ret == (ssize_t)PS && read(p[0], buf, PS) == (ssize_t)PS &&
		    (m.kind == S_UMEM || m.kind == S_SHM) && pg < m.npages &&
		    !check_words("pipe", m.tag, m.pgoff + pg, 0, buf, PS / 8, false) &&
		    slot_same(i, gen))
			check_words("write to a pipe from a mapping", m.tag,
				    m.pgoff + pg, 0, buf, PS / 8, true);
	}
	(void)ret;
	close(p[0]);
	close(p[1]);
}

static void op_shmem(void)
{
	struct obj o = pick(K_SHM, 5);
	uint64_t buf[PS / 8], pg = below(o.pages + 2);
	ssize_t ret;

	switch (below(6)) {
	case 0:
	case 1:
		ret = pread(o.fd, buf, PS, pg * PS);
		if (ret == (ssize_t)PS && o.kind == K_SHM)
			check_words("pread of the shmem fd", o.tag, pg, 0, buf,
				    PS / 8, true);
		break;
	case 2:
	case 3:
		if (o.kind == K_SHM)
			fill_pages(o.fd, o.tag, pg, 1);
		break;
	case 4:
		fallocate(o.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  pg * PS, (1 + below(4)) * PS);
		break;
	default:
		fallocate(o.fd, FALLOC_FL_KEEP_SIZE, pg * PS, PS);
		break;
	}
}

static int procmem = -1;

static void op_procmem(void)
{
	int i = below(NSLOT);
	uint64_t buf[PS / 8], pg;
	unsigned int gen;
	struct map m;

	if (procmem < 0)
		procmem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (!slot_snap(i, &m, &gen) || m.kind == S_EMPTY)
		return;
	pg = below(m.npages ? m.npages : 1);
	if (pread(procmem, buf, PS, (uintptr_t)slot_addr(i) + pg * PS) == (ssize_t)PS &&
	    (m.kind == S_UMEM || m.kind == S_SHM) && pg < m.npages &&
	    !check_words("procmem", m.tag, m.pgoff + pg, 0, buf, PS / 8, false) &&
	    slot_same(i, gen))
		check_words("/proc/self/mem read of a mapping", m.tag,
			    m.pgoff + pg, 0, buf, PS / 8, true);
}

/*
 * A request for every page of a mapping at once (issue 15, item 2): a
 * /proc/self/mem read of each page, as op_procmem makes for one.  Such
 * a read fails at once without a server, but still queues a request.
 */
static void op_sweep(void)
{
	int i = below(NSLOT);
	uint64_t buf[PS / 8], pg;
	unsigned int gen;
	struct map m;

	if (procmem < 0)
		procmem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (!slot_snap(i, &m, &gen) || m.kind != S_UMEM)
		return;
	for (pg = 0; pg < m.npages && slot_same(i, gen); pg++)
		if (pread(procmem, buf, PS, (uintptr_t)slot_addr(i) + pg * PS) ==
		    (ssize_t)PS &&
		    !check_words("sweep", m.tag, m.pgoff + pg, 0, buf, PS / 8,
				 false) &&
		    slot_same(i, gen))
			check_words("/proc/self/mem sweep of a mapping", m.tag,
				    m.pgoff + pg, 0, buf, PS / 8, true);
}

static void op_fdinfo(void)
{
	struct obj o = pick(below(3) + 1, 30);
	char path[64], buf[2048];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", o.fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (read(fd, buf, sizeof(buf)) < 0 && errno != ENOENT)
		fail("read of %s: %s", path, strerror(errno));
	close(fd);
}

static void op_poll(void)
{
	struct obj o = pick(K_SRV, 10);
	struct pollfd pfd = { .fd = o.fd, .events = POLLIN | POLLOUT };
	int ret;

	arm(100);
	ret = poll(&pfd, 1, below(20));
	disarm();
	if (ret == 1 && o.kind == K_SRV && !(pfd.revents & (POLLOUT | POLLNVAL)))
		fail("poll of a server fd: revents %#x without POLLOUT", pfd.revents);
}

static void op_nonblock(void)
{
	struct obj o = pick(K_SRV, 10);
	int fl = fcntl(o.fd, F_GETFL);

	if (fl >= 0)
		fcntl(o.fd, F_SETFL, fl ^ O_NONBLOCK);
}

/*
 * io_uring reads of a server fd (IOCB_NOWAIT first, then a poll-armed
 * retry, as umemd does).  A read may still be in flight when we stop
 * waiting: its buffer is this thread's own, reaped by its next op.
 */
static __thread struct io_uring ring;
static __thread bool ring_ok, ring_tried;
static __thread struct {
	uint64_t buf[64 * 2 + 8];
	struct obj o;
	size_t len;
	bool busy;
} ur;

static void uring_reap(bool wait)
{
	struct __kernel_timespec ts = { .tv_nsec = 50 * 1000000L };
	struct io_uring_cqe *cqe;
	size_t n;
	int ret;

	while (ur.busy) {
		ret = wait ? io_uring_wait_cqe_timeout(&ring, &cqe, &ts) :
			     io_uring_peek_cqe(&ring, &cqe);
		if (ret)
			return;
		ret = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		ur.busy = false;
		if (ur.o.kind != K_SRV)
			continue;
		/* io_uring's own: the request was cancelled (fork, exit). */
		if (ret == -ECANCELED)
			continue;
		if (ret < 0) {
			check_errno("io_uring read of a server fd", -ret,
				    B(EINVAL) | B(EAGAIN) | B(EINTR) | B(EFAULT));
			continue;
		}
		if (ret % 16 || (size_t)ret > ur.len || ur.len < 16) {
			fail("io_uring read of %zu bytes returned %d", ur.len, ret);
			continue;
		}
		n = check_requests((struct umem_request *)ur.buf, ret / 16, ur.o.pages);
		answer(ur.o.fd, ur.o.tag, ur.o.pages, (struct umem_request *)ur.buf, n);
	}
}

static void op_uring(void)
{
	struct io_uring_sqe *sqe;

	if (!ring_tried) {
		ring_tried = true;
		ring_ok = !io_uring_queue_init(8, &ring, 0);
	}
	if (!ring_ok)
		return;
	uring_reap(false);
	if (ur.busy)
		return;
	ur.o = pick(K_SRV, 8);
	ur.len = chance(10) ? below(16) : 16 * (1 + below(64));
	sqe = io_uring_get_sqe(&ring);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, ur.o.fd, ur.buf, ur.len, 0);
	if (io_uring_submit(&ring) != 1)
		return;
	ur.busy = true;
	uring_reap(true);
}

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
	bool have_seed = false, random_seed = false;
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
	e = getenv("FUZZ_SEED");
	if (!have_seed && e && *e) {
		seed = strtoull(e, NULL, 0);
		have_seed = true;
	}
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
