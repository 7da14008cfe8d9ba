/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz: what the fuzzer's files share.  common.c has what every part
 * uses (the counters, the random streams, failures, probes, checks,
 * supplying pages); objects.c keeps the object table (this process's fds)
 * and the mapping slots; the operations are in ops_region.c, ops_server.c
 * and ops_process.c; fuzz.c runs them: the epochs, the workers and their
 * serving threads.
 *
 * Its state is per process (the object table, the slots: a forked child
 * starts them again, see fuzz.c's atfork_child()) or per thread (the
 * random stream, the timer, the probe), never shared between processes
 * but through the counters in struct shared.
 */
#ifndef UMEM_FUZZ_COMMON_H
#define UMEM_FUZZ_COMMON_H

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

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define PS		4096UL
#define NSLOT		24		/* mapping slots per process */
#define SLOT_PAGES	64UL		/* largest mapping in most slots */
/*
 * The last NSLOT_HUGE slots take mappings of up to 1024 pages, mostly at
 * a 2 MiB file offset: 2 MiB extents of a huge region map whole there.
 * Every slot starts 4 MiB from the last (objects.c, slot_addr()).
 */
#define NSLOT_HUGE	2
#define HUGE_SLOT_PAGES	1024UL
#define EXTENT_PAGES	512UL		/* a 2 MiB extent */
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
enum { OPS(OP_ENUM) OP_NR };

#define EVS(X) X(ok_read) X(ok_write) X(waited) X(sigbus) X(sigsegv) X(timeout) \
	X(requests) X(supplied) X(poisoned) X(detached) X(adopted) \
	X(regions) X(mappings) X(children) X(present_checks) \
	X(poison_checks) X(collapsed) X(errors)
#define EV_ENUM(n) EV_##n,
enum { EVS(EV_ENUM) EV_NR };

struct shared {
	uint64_t ops[OP_NR];
	uint64_t ev[EV_NR];
	int failed;
	char msg[1024];
};
extern struct shared *sh;
extern int worker_id;
void count_ev(int ev);

/* ---- randomness: each thread's own stream ---- */

uint64_t splitmix(uint64_t *s);
uint64_t mix(uint64_t a, uint64_t b);
extern __thread uint64_t rng;
extern __thread uint64_t rng_start;
uint64_t rnd(void);
uint64_t below(uint64_t n);
bool chance(unsigned int pct);

/* ---- failures ---- */

extern bool in_child;
extern int depth;
void fail(const char *fmt, ...);

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif

#define B(e)	(1ULL << (e))
void check_errno(const char *what, int err, uint64_t allowed);

/* ---- signals: probes of mapped memory, and the timer ---- */

extern __thread bool have_tmr;
void setup_signals(void);
void timer_setup(void);
void arm(unsigned int ms);
void disarm(void);
enum { PR_READ, PR_WRITE, PR_PAGE };
int probe(volatile uint64_t *p, int mode, uint64_t *out, unsigned int ms);
uint64_t now_us(void);

/* ---- checks, garbage, supplying pages ---- */

bool check_words(const char *what, uint64_t tag, uint64_t pg,
		 uint64_t first, const uint64_t *w, size_t n, bool report);
int page_present(int srv, uint64_t pg, uint64_t rpages);
void check_stats(const char *what, const struct umem_stats *st,
		 uint64_t pages);
void *bad_addr(void);
void fill_random(void *buf, size_t len);
uint64_t rnd_count(uint64_t pages);
void fill_pages(int shm, uint64_t tag, uint64_t pg, uint64_t n);
size_t check_requests(const struct umem_request *req, size_t n,
		      uint64_t pages);

#endif /* UMEM_FUZZ_COMMON_H */
