// SPDX-License-Identifier: GPL-2.0
/*
 * umem-bench: umem against userfaultfd, measured in the same boot.
 *
 * Every case runs the same workload through three backends:
 *   umem          a /dev/umem region; the server reads requests, fills the
 *                 page through its mapping of the shmem file and write()s
 *                 the range present;
 *   uffd_minor    a memfd mapping registered MISSING|MINOR; the server
 *                 fills the page through a second mapping of the memfd,
 *                 then UFFDIO_CONTINUE (the exact analogue of umem);
 *   uffd_missing  anonymous memory registered MISSING; the server
 *                 UFFDIO_COPYs the page in.
 * and prints a table (stdout) and one JSON object per case on a line of
 * its own starting with "# json " (the host assembles results.json);
 * the data behind the plots rides on "# dat scaling " and "# dat latency "
 * lines (scaling.dat, latency.dat).
 * Absolute times under TCG mean little; compare the rows of one run.
 *
 * usage: umem-bench latency|scaling|same-page|mark-present|footprint [opts]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libumem.h"

#define MAX_THREADS	64
#define BATCH		64	/* requests a server reads at once */
#define STAMP		0x756d656d62656e63ULL	/* "umembenc" */

enum mode { M_UMEM, M_MINOR, M_MISSING, NR_MODES };

static const char *const mode_name[NR_MODES] = {
	[M_UMEM] = "umem", [M_MINOR] = "uffd_minor",
	[M_MISSING] = "uffd_missing",
};

static long psz;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("umem-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t rnd_state = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	uint64_t x = rnd_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rnd_state = x;
}

static void shuffle(uint64_t *a, uint64_t n)
{
	uint64_t i, j, t;

	for (i = n - 1; i > 0; i--) {
		j = rnd() % (i + 1);
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (!p)
		die("out of memory");
	return p;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct summary {
	double p50, p99, mean;	/* microseconds */
};

/* Sorts @ns in place. */
static struct summary summarize(uint64_t *ns, uint64_t n)
{
	struct summary s = { 0 };
	double sum = 0;
	uint64_t i;

	if (!n)
		return s;
	qsort(ns, n, sizeof(*ns), cmp_u64);
	for (i = 0; i < n; i++)
		sum += ns[i];
	s.p50 = ns[n / 2] / 1e3;
	s.p99 = ns[(n * 99) / 100] / 1e3;
	s.mean = sum / n / 1e3;
	return s;
}

/* ---- backends ---------------------------------------------------------- */

struct backend {
	enum mode mode;
	uint64_t pages;
	char *area;		/* the faulting mapping */
	char *fill;		/* server's second mapping (umem, uffd_minor) */
	char *src;		/* one page, UFFDIO_COPY's source */
	struct umemlib_region r;
	struct umemlib_server s;
	int memfd, uffd;
	uint8_t *filled;	/* uffd_minor: pages filled already */
	bool pwrite_fill;	/* fill with pwrite() on the file, not the mapping */
	bool prefilled;		/* pages are in the page cache: no fill */

	pthread_t server;
	atomic_bool stop;
	atomic_uint_fast64_t requests;	/* requests (messages) served */
	uint64_t batches;	/* read()s that returned requests (server only) */
	uint64_t hold_us;	/* same-page: wait before resolving */
	uint64_t *resolve_ns;	/* same-page: when each page was resolved */
};

static uint64_t stamp(uint64_t p)
{
	return p ^ STAMP;
}

static void sys_uffd(struct backend *b, uint64_t features, uint64_t mode)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)b->area,
			   .len = b->pages * psz },
		.mode = mode,
	};

	b->uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (b->uffd < 0)
		die("userfaultfd: %s", strerror(errno));
	if (ioctl(b->uffd, UFFDIO_API, &api))
		die("UFFDIO_API (features %#llx): %s",
		    (unsigned long long)features, strerror(errno));
	if (ioctl(b->uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER: %s", strerror(errno));
}

static void *map_shared(int fd, uint64_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		die("mmap %llu bytes: %s", (unsigned long long)len,
		    strerror(errno));
	return p;
}

static void backend_init(struct backend *b, enum mode mode, uint64_t pages)
{
	uint64_t len = pages * psz;
	void *p;

	memset(b, 0, sizeof(*b));
	b->mode = mode;
	b->pages = pages;
	b->memfd = b->uffd = -1;
	b->src = aligned_alloc(psz, psz);
	if (!b->src)
		die("out of memory");
	memset(b->src, 0x5a, psz);

	switch (mode) {
	case M_UMEM:
		if (umemlib_create(&b->r, len, 60000) ||
		    umemlib_map(&b->r, 0, len, PROT_READ | PROT_WRITE, &p) ||
		    umemlib_serve(&b->r, 0, &b->s))
			die("umem: %s", umemlib_strerror());
		b->area = p;
		b->fill = map_shared(b->s.shmem_fd, len);
		break;
	case M_MINOR:
		b->memfd = memfd_create("umem-bench", MFD_CLOEXEC);
		if (b->memfd < 0 || ftruncate(b->memfd, len))
			die("memfd: %s", strerror(errno));
		b->area = map_shared(b->memfd, len);
		b->fill = map_shared(b->memfd, len);
		b->filled = xcalloc(pages, 1);
		sys_uffd(b, UFFD_FEATURE_MINOR_SHMEM,
			 UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR);
		break;
	case M_MISSING:
		b->area = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (b->area == MAP_FAILED)
			die("mmap: %s", strerror(errno));
		sys_uffd(b, 0, UFFDIO_REGISTER_MODE_MISSING);
		break;
	default:
		break;
	}
}

static void backend_destroy(struct backend *b)
{
	uint64_t len = b->pages * psz;

	munmap(b->area, len);
	if (b->fill)
		munmap(b->fill, len);
	if (b->mode == M_UMEM) {
		umemlib_server_close(&b->s);
		umemlib_close(&b->r);
	}
	if (b->uffd >= 0)
		close(b->uffd);
	if (b->memfd >= 0)
		close(b->memfd);
	free(b->filled);
	free(b->src);
}

/* Write page @p's contents through the server's mapping. */
static void fill_page(struct backend *b, uint64_t p)
{
	char *dst = b->fill + p * psz;
	int fd = b->mode == M_UMEM ? b->s.shmem_fd : b->memfd;

	if (b->pwrite_fill) {
		/* A whole page written to the file: no fault, no zeroing. */
		*(uint64_t *)b->src = stamp(p);
		if (pwrite(fd, b->src, psz, p * psz) != psz)
			die("pwrite: %s", strerror(errno));
		return;
	}
	memcpy(dst, b->src, psz);
	*(uint64_t *)dst = stamp(p);
}

/* Fill every page before the run: faults on them are then minor faults. */
static void prefill(struct backend *b)
{
	uint64_t p;

	for (p = 0; p < b->pages; p++)
		fill_page(b, p);
	if (b->mode == M_MINOR)
		memset(b->filled, 1, b->pages);
}

/* ---- servers ----------------------------------------------------------- */

static void hold(struct backend *b)
{
	if (b->hold_us)
		usleep(b->hold_us);
}

/* Same-page: note when page @p was first resolved. */
static void note_resolve(struct backend *b, uint64_t p)
{
	if (b->resolve_ns && !b->resolve_ns[p])
		b->resolve_ns[p] = now_ns();
}

static void serve_umem(struct backend *b)
{
	struct umem_request req[BATCH];
	struct umem_range rg[BATCH];
	ssize_t n;
	int i;

	while (!atomic_load(&b->stop)) {
		n = read(b->s.fd, req, sizeof(req));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("umem read: %s", strerror(errno));
		}
		n /= sizeof(req[0]);
		hold(b);
		for (i = 0; i < n; i++) {
			note_resolve(b, req[i].pgoff);
			if (!b->prefilled)
				fill_page(b, req[i].pgoff);
			rg[i].pgoff = req[i].pgoff;
			rg[i].count = 1;
		}
		atomic_fetch_add(&b->requests, n);
		if (write(b->s.fd, rg, n * sizeof(rg[0])) != n * (ssize_t)sizeof(rg[0]))
			die("umem write: %s", strerror(errno));
		b->batches++;
	}
}

static void uffd_wake(struct backend *b, uint64_t addr)
{
	struct uffdio_range r = { .start = addr, .len = psz };

	if (ioctl(b->uffd, UFFDIO_WAKE, &r))
		die("UFFDIO_WAKE: %s", strerror(errno));
}

static void uffd_resolve(struct backend *b, uint64_t addr)
{
	uint64_t p = (addr - (uintptr_t)b->area) / psz;

	note_resolve(b, p);
	if (b->mode == M_MINOR) {
		struct uffdio_continue c = {
			.range = { .start = addr, .len = psz },
		};

		if (!b->filled[p]) {
			fill_page(b, p);
			b->filled[p] = 1;
		}
		if (ioctl(b->uffd, UFFDIO_CONTINUE, &c) && errno != EEXIST)
			die("UFFDIO_CONTINUE: %s", strerror(errno));
		if (c.mapped < 0)
			uffd_wake(b, addr);
	} else {
		struct uffdio_copy c = {
			.dst = addr, .src = (uintptr_t)b->src, .len = psz,
		};

		*(uint64_t *)b->src = stamp(p);
		if (ioctl(b->uffd, UFFDIO_COPY, &c) && errno != EEXIST)
			die("UFFDIO_COPY: %s", strerror(errno));
		if (c.copy < 0)
			uffd_wake(b, addr);
	}
}

static void serve_uffd(struct backend *b)
{
	struct uffd_msg msg[BATCH];
	ssize_t n;
	int i;

	while (!atomic_load(&b->stop)) {
		n = read(b->uffd, msg, sizeof(msg));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("uffd read: %s", strerror(errno));
		}
		n /= sizeof(msg[0]);
		hold(b);
		for (i = 0; i < n; i++) {
			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			uffd_resolve(b, msg[i].arg.pagefault.address & ~(uint64_t)(psz - 1));
		}
		atomic_fetch_add(&b->requests, n);
		b->batches++;
	}
}

static void *server_main(void *arg)
{
	struct backend *b = arg;

	if (b->mode == M_UMEM)
		serve_umem(b);
	else
		serve_uffd(b);
	return NULL;
}

static void on_sigusr1(int sig)
{
}

static void server_start(struct backend *b)
{
	if (pthread_create(&b->server, NULL, server_main, b))
		die("pthread_create");
}

/* Stop the server: a signal breaks its blocking read (no SA_RESTART). */
static void server_stop(struct backend *b)
{
	atomic_store(&b->stop, true);
	pthread_kill(b->server, SIGUSR1);
	pthread_join(b->server, NULL);
}

/* Touch page @p for reading and check it holds what the server wrote. */
static void touch(struct backend *b, uint64_t p)
{
	uint64_t v = *(volatile uint64_t *)(b->area + p * psz);

	if (v != stamp(p))
		die("%s: page %llu holds %#llx, want %#llx", mode_name[b->mode],
		    (unsigned long long)p, (unsigned long long)v,
		    (unsigned long long)stamp(p));
}

/* ---- output ------------------------------------------------------------- */

static void json_summary(const char *key, struct summary s, bool comma)
{
	printf("\"%s\": {\"p50_us\": %.2f, \"p99_us\": %.2f, \"mean_us\": %.2f}%s",
	       key, s.p50, s.p99, s.mean, comma ? ", " : "");
}

static void row(const char *name, struct summary s)
{
	printf("  %-26s %10.1f %10.1f %10.1f\n", name, s.p50, s.p99, s.mean);
}

/* ---- 1. round-trip latency --------------------------------------------- */

/* Fault every page once, in @order; per-fault times into @ns. */
static void latency_run(enum mode mode, const uint64_t *order, uint64_t n,
			uint64_t *ns, bool pwrite_fill)
{
	struct backend b;
	uint64_t i, t;

	backend_init(&b, mode, n);
	b.pwrite_fill = pwrite_fill;
	server_start(&b);
	for (i = 0; i < n; i++) {
		t = now_ns();
		touch(&b, order[i]);
		ns[i] = now_ns() - t;
	}
	server_stop(&b);
	backend_destroy(&b);
}

/*
 * The parts of a round trip, each timed alone, one page at a time:
 * filling a page (through a mapping, or pwrite()), marking it present
 * (umem write(), UFFDIO_CONTINUE, UFFDIO_COPY which also fills).
 */
enum { C_FILL_MAP, C_FILL_PWRITE, C_UMEM_WRITE, C_CONTINUE, C_COPY, NR_COMP };

static const char *const comp_name[NR_COMP] = {
	"fill through a mapping", "fill with pwrite()", "umem write() 1 range",
	"UFFDIO_CONTINUE 1 page", "UFFDIO_COPY 1 page",
};

static const char *const comp_key[NR_COMP] = {
	"fill_map", "fill_pwrite", "umem_write", "uffd_continue", "uffd_copy",
};

static void components(uint64_t n, struct summary *out)
{
	uint64_t *ns = xcalloc(n, sizeof(*ns)), i, t;
	struct backend b;
	int c;

	for (c = 0; c < NR_COMP; c++) {
		backend_init(&b, c == C_UMEM_WRITE ? M_UMEM :
				 c == C_COPY ? M_MISSING : M_MINOR, n);
		b.pwrite_fill = c == C_FILL_PWRITE;
		if (c == C_UMEM_WRITE || c == C_CONTINUE)
			prefill(&b);
		for (i = 0; i < n; i++) {
			uint64_t addr = (uintptr_t)b.area + i * psz;
			struct umem_range rg = { .pgoff = i, .count = 1 };
			struct uffdio_continue cont = {
				.range = { .start = addr, .len = psz },
			};
			struct uffdio_copy copy = {
				.dst = addr, .src = (uintptr_t)b.src, .len = psz,
			};

			t = now_ns();
			switch (c) {
			case C_FILL_MAP:
			case C_FILL_PWRITE:
				fill_page(&b, i);
				break;
			case C_UMEM_WRITE:
				if (write(b.s.fd, &rg, sizeof(rg)) != sizeof(rg))
					die("umem write: %s", strerror(errno));
				break;
			case C_CONTINUE:
				if (ioctl(b.uffd, UFFDIO_CONTINUE, &cont))
					die("UFFDIO_CONTINUE: %s", strerror(errno));
				break;
			case C_COPY:
				if (ioctl(b.uffd, UFFDIO_COPY, &copy))
					die("UFFDIO_COPY: %s", strerror(errno));
				break;
			}
			ns[i] = now_ns() - t;
		}
		out[c] = summarize(ns, n);
		backend_destroy(&b);
	}
	free(ns);
}

struct pingpong {
	int to, from;
	uint64_t n;
};

static void *pong_main(void *arg)
{
	struct pingpong *pp = arg;
	uint64_t v, i;

	for (i = 0; i < pp->n; i++) {
		if (read(pp->to, &v, sizeof(v)) != sizeof(v) ||
		    write(pp->from, &v, sizeof(v)) != sizeof(v))
			die("eventfd: %s", strerror(errno));
	}
	return NULL;
}

/* The floor, part 1: an eventfd round trip between two threads. */
static void pingpong_run(uint64_t n, uint64_t *ns)
{
	struct pingpong pp = { .n = n };
	pthread_t t;
	uint64_t i, v = 1, t0;

	pp.to = eventfd(0, EFD_CLOEXEC);
	pp.from = eventfd(0, EFD_CLOEXEC);
	if (pp.to < 0 || pp.from < 0)
		die("eventfd: %s", strerror(errno));
	if (pthread_create(&t, NULL, pong_main, &pp))
		die("pthread_create");
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		if (write(pp.to, &v, sizeof(v)) != sizeof(v) ||
		    read(pp.from, &v, sizeof(v)) != sizeof(v))
			die("eventfd: %s", strerror(errno));
		ns[i] = now_ns() - t0;
	}
	pthread_join(t, NULL);
	close(pp.to);
	close(pp.from);
}

/*
 * fault_around_bytes maps up to 16 neighbours of a shmem page on a read
 * fault; the floor wants one fault per page.  Turn it off (debugfs)
 * while measuring; restore it after.
 */
#define FAULT_AROUND "/sys/kernel/debug/fault_around_bytes"

static long fault_around(long set)
{
	char buf[32];
	long old = -1;
	FILE *f;

	if (access(FAULT_AROUND, F_OK))
		(void)system("mount -t debugfs none /sys/kernel/debug 2>/dev/null");
	f = fopen(FAULT_AROUND, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		old = atol(buf);
	fclose(f);
	/* A debugfs attribute is not seekable: no pwrite, a fresh open. */
	if (set > 0) {
		f = fopen(FAULT_AROUND, "w");
		if (!f)
			return -1;
		if (fprintf(f, "%ld\n", set) < 0)
			old = -1;
		if (fclose(f))
			old = -1;
	}
	return old;
}

/* The floor, part 2: a read fault on a shmem page in the page cache. */
static void minor_run(const uint64_t *order, uint64_t n, uint64_t *ns)
{
	uint64_t len = n * psz, i, t;
	int fd = memfd_create("umem-bench-minor", MFD_CLOEXEC);
	char *fill, *area;

	if (fd < 0 || ftruncate(fd, len))
		die("memfd: %s", strerror(errno));
	fill = map_shared(fd, len);
	for (i = 0; i < n; i++)
		*(uint64_t *)(fill + i * psz) = stamp(i);
	area = map_shared(fd, len);
	for (i = 0; i < n; i++) {
		t = now_ns();
		if (*(volatile uint64_t *)(area + order[i] * psz) != stamp(order[i]))
			die("minor: bad page");
		ns[i] = now_ns() - t;
	}
	munmap(area, len);
	munmap(fill, len);
	close(fd);
}

/* A read fault on a present page of a umem region (no server involved). */
static void umem_present_run(const uint64_t *order, uint64_t n, uint64_t *ns)
{
	struct backend b;
	struct umem_range rg = { .pgoff = 0, .count = n };
	uint64_t i, t;

	backend_init(&b, M_UMEM, n);
	prefill(&b);
	if (umemlib_mark_present(&b.s, &rg, 1))
		die("umem: %s", umemlib_strerror());
	for (i = 0; i < n; i++) {
		t = now_ns();
		touch(&b, order[i]);
		ns[i] = now_ns() - t;
	}
	backend_destroy(&b);
}

#define LAT_ROUNDS	3
#define LAT_PER_DECADE	20	/* latency.dat: log-spaced edges per decade */
#define LAT_STEP	1.1220184543019633	/* 10^(1/LAT_PER_DECADE) */
#define NR_SERIES	(NR_MODES + 1)	/* the modes and the floor */

/*
 * The fault-wait distribution of every mode and of the floor, for
 * latency.png: one line "# dat latency EDGE_US CDF... COUNT..." per edge,
 * LAT_PER_DECADE log-spaced edges a decade from the decade at or below
 * the fastest sample to the decade at or above the slowest.  CDF is the
 * fraction of a series' samples at most EDGE_US, COUNT the number in
 * (previous edge, EDGE_US].  @ns[k] holds @n[k] samples, sorted.
 */
static void latency_dat(FILE *f, uint64_t *const ns[NR_SERIES],
			const uint64_t n[NR_SERIES])
{
	uint64_t lo = UINT64_MAX, hi = 0, at[NR_SERIES] = { 0 }, prev[NR_SERIES];
	double dec = 1, edge;
	int k, j;

	for (k = 0; k < NR_SERIES; k++) {
		if (!n[k])
			continue;
		if (ns[k][0] < lo)
			lo = ns[k][0];
		if (ns[k][n[k] - 1] > hi)
			hi = ns[k][n[k] - 1];
	}
	if (!hi)
		return;
	while (dec * 10 <= lo)
		dec *= 10;
	fprintf(f, "# dat latency # edge_us");
	for (k = 0; k < NR_SERIES; k++)
		fprintf(f, " cdf_%s", k < NR_MODES ? mode_name[k] : "floor");
	for (k = 0; k < NR_SERIES; k++)
		fprintf(f, " n_%s", k < NR_MODES ? mode_name[k] : "floor");
	fprintf(f, "\n");
	for (j = 0, edge = dec; ; j++) {
		if (j == LAT_PER_DECADE) {
			/* no drift: every decade starts exact */
			j = 0;
			dec *= 10;
			edge = dec;
		}
		for (k = 0; k < NR_SERIES; k++) {
			prev[k] = at[k];
			while (at[k] < n[k] && ns[k][at[k]] <= edge)
				at[k]++;
		}
		fprintf(f, "# dat latency %.4g", edge / 1e3);
		for (k = 0; k < NR_SERIES; k++)
			fprintf(f, " %.6f", n[k] ? (double)at[k] / n[k] : 0);
		for (k = 0; k < NR_SERIES; k++)
			fprintf(f, " %llu", (unsigned long long)(at[k] - prev[k]));
		fprintf(f, "\n");
		if (j == 0 && edge >= hi)
			break;
		edge *= LAT_STEP;
	}
}

static int cmd_latency(uint64_t n)
{
	uint64_t *order = xcalloc(n, sizeof(*order));
	uint64_t *ns[2], *a, *b, *all[NR_MODES], i;
	struct summary s[2][NR_MODES], fl[2], pp, mn, up, pw[2], comp[NR_COMP];
	uint64_t *dat_ns[NR_SERIES], dat_n[NR_SERIES];
	char *dat = NULL;
	size_t dat_len = 0;
	FILE *dat_f;
	long fab;
	int o, m, r;

	ns[1] = xcalloc(n, sizeof(uint64_t));
	for (m = 0; m < NR_MODES; m++)
		all[m] = xcalloc(LAT_ROUNDS * n, sizeof(uint64_t));
	a = xcalloc(n, sizeof(uint64_t));
	b = xcalloc(n, sizeof(uint64_t));

	/* o = 0: random order, o = 1: sequential. */
	for (o = 0; o < 2; o++) {
		for (i = 0; i < n; i++)
			order[i] = i;
		if (o == 0)
			shuffle(order, n);
		/* Rounds, each over every mode: drift hits all modes alike. */
		for (r = 0; r < LAT_ROUNDS; r++)
			for (m = 0; m < NR_MODES; m++)
				latency_run(m, order, n, all[m] + r * n, false);
		for (m = 0; m < NR_MODES; m++)
			s[o][m] = summarize(all[m], LAT_ROUNDS * n);
		/* floor = eventfd round trip + minor fault, sample by sample */
		fab = fault_around(psz);
		pingpong_run(n, a);
		minor_run(order, n, b);
		if (fab > 0)
			fault_around(fab);
		for (i = 0; i < n; i++)
			ns[1][i] = a[i] + b[i];
		fl[o] = summarize(ns[1], n);
		if (o == 0) {
			/* all[] and ns[1] are sorted, and reused below */
			for (m = 0; m < NR_MODES; m++) {
				dat_ns[m] = all[m];
				dat_n[m] = LAT_ROUNDS * n;
			}
			dat_ns[NR_MODES] = ns[1];
			dat_n[NR_MODES] = n;
			dat_f = open_memstream(&dat, &dat_len);
			if (!dat_f)
				die("open_memstream: %s", strerror(errno));
			latency_dat(dat_f, dat_ns, dat_n);
			if (fclose(dat_f))
				die("latency.dat: %s", strerror(errno));
			pp = summarize(a, n);
			mn = summarize(b, n);
			umem_present_run(order, n, a);
			up = summarize(a, n);
			/* Both shmem designs can fill with pwrite() instead. */
			latency_run(M_UMEM, order, n, a, true);
			pw[0] = summarize(a, n);
			latency_run(M_MINOR, order, n, a, true);
			pw[1] = summarize(a, n);
			components(n < 8192 ? n : 8192, comp);
		}
	}

	printf("\n1. Round-trip latency: one faulting thread, one server thread, %d rounds of %llu pages\n",
	       LAT_ROUNDS, (unsigned long long)n);
	printf("   (fault_around_bytes for the floor: %s)\n",
	       fab > 0 ? "turned off" : "could not be changed");
	for (o = 0; o < 2; o++) {
		printf("  %-26s %10s %10s %10s\n",
		       o == 0 ? "random order" : "sequential order",
		       "p50 us", "p99 us", "mean us");
		for (m = 0; m < NR_MODES; m++)
			row(mode_name[m], s[o][m]);
		row("floor", fl[o]);
	}
	printf("  %-26s %10s %10s %10s\n", "floor parts (random)", "p50 us",
	       "p99 us", "mean us");
	row("eventfd round trip", pp);
	row("minor fault (shmem)", mn);
	row("minor fault (umem present)", up);
	printf("  %-26s %10s %10s %10s\n", "pwrite() fill (random)", "p50 us",
	       "p99 us", "mean us");
	row("umem", pw[0]);
	row("uffd_minor", pw[1]);
	printf("  %-26s %10s %10s %10s\n", "parts, one page at a time",
	       "p50 us", "p99 us", "mean us");
	for (m = 0; m < NR_COMP; m++)
		row(comp_name[m], comp[m]);
	printf("  ratios (random): umem/uffd_minor p50 %.2f p99 %.2f; umem/floor p50 %.2f\n",
	       s[0][M_UMEM].p50 / s[0][M_MINOR].p50,
	       s[0][M_UMEM].p99 / s[0][M_MINOR].p99,
	       s[0][M_UMEM].p50 / fl[0].p50);

	printf("# json \"latency\": {\"pages\": %llu, \"order\": \"random\", ",
	       (unsigned long long)n);
	for (m = 0; m < NR_MODES; m++)
		json_summary(mode_name[m], s[0][m], true);
	json_summary("floor", fl[0], true);
	json_summary("floor_eventfd", pp, true);
	json_summary("floor_minor_fault", mn, true);
	json_summary("umem_present_fault", up, true);
	json_summary("umem_pwrite_fill", pw[0], true);
	json_summary("uffd_minor_pwrite_fill", pw[1], true);
	printf("\"parts\": {");
	for (m = 0; m < NR_COMP; m++)
		json_summary(comp_key[m], comp[m], m + 1 < NR_COMP);
	printf("}");
	printf("}\n# json \"latency_sequential\": {");
	for (m = 0; m < NR_MODES; m++)
		json_summary(mode_name[m], s[1][m], true);
	json_summary("floor", fl[1], false);
	printf("}\n");
	fputs(dat, stdout);
	free(dat);
	return 0;
}

/* ---- 2. scaling ----------------------------------------------------------- */

struct faulter {
	struct backend *b;
	pthread_barrier_t *start;
	uint64_t first, count;	/* disjoint: its slice; same-page: all */
	bool same_page;
	pthread_barrier_t *step;
	uint64_t *woke_ns;	/* same-page: per page, the last wake */
	pthread_t t;
};

static void *faulter_main(void *arg)
{
	struct faulter *f = arg;
	uint64_t *order = xcalloc(f->count, sizeof(*order)), i, t, prev;

	for (i = 0; i < f->count; i++)
		order[i] = f->first + i;
	if (!f->same_page)
		shuffle(order, f->count);
	pthread_barrier_wait(f->start);
	for (i = 0; i < f->count; i++) {
		if (f->same_page)
			pthread_barrier_wait(f->step);
		touch(f->b, order[i]);
		if (f->same_page) {
			t = now_ns();
			prev = __atomic_load_n(&f->woke_ns[i], __ATOMIC_RELAXED);
			while (t > prev &&
			       !__atomic_compare_exchange_n(&f->woke_ns[i], &prev, t,
							    false, __ATOMIC_RELAXED,
							    __ATOMIC_RELAXED))
				;
		}
	}
	free(order);
	return NULL;
}

/* T threads fault @pages pages on disjoint slices; return faults/s. */
static double scaling_run(enum mode mode, int threads, uint64_t pages,
			  bool prefilled, double *per_read)
{
	struct faulter f[MAX_THREADS];
	pthread_barrier_t start;
	struct backend b;
	uint64_t per = pages / threads, t0;
	int i;

	backend_init(&b, mode, pages);
	if (prefilled) {
		/* The mechanism alone: the server only marks present. */
		prefill(&b);
		b.prefilled = true;
	}
	server_start(&b);
	pthread_barrier_init(&start, NULL, threads + 1);
	for (i = 0; i < threads; i++) {
		f[i] = (struct faulter){ .b = &b, .start = &start,
					 .first = i * per, .count = per };
		if (pthread_create(&f[i].t, NULL, faulter_main, &f[i]))
			die("pthread_create");
	}
	pthread_barrier_wait(&start);
	t0 = now_ns();
	for (i = 0; i < threads; i++)
		pthread_join(f[i].t, NULL);
	t0 = now_ns() - t0;
	server_stop(&b);
	*per_read = (double)atomic_load(&b.requests) / (b.batches ? b.batches : 1);
	backend_destroy(&b);
	pthread_barrier_destroy(&start);
	return per * threads / (t0 / 1e9);
}

static double median3(double a, double b, double c)
{
	if (a > b) {
		double t = a;

		a = b;
		b = t;
	}
	return c < a ? a : c > b ? b : c;
}

static int cmd_scaling(uint64_t pages, int max_threads)
{
	static const int tset[] = { 1, 2, 4, 8, 16, 32, 64 };
	double r[7][NR_MODES][3], med[7][NR_MODES], peak = 0;
	double batch[7][NR_MODES][3], pre[7][2][3], pmed[7][2], dummy;
	int i, m, k, n = 0, ipeak = 0;

	while (n < 7 && tset[n] <= max_threads)
		n++;
	/* Three rounds, each over every case: drift hits all modes alike. */
	for (k = 0; k < 3; k++)
		for (i = 0; i < n; i++)
			for (m = 0; m < NR_MODES; m++)
				r[i][m][k] = scaling_run(m, tset[i], pages, false,
							 &batch[i][m][k]);
	for (k = 0; k < 3; k++)
		for (i = 0; i < n; i++)
			for (m = 0; m < 2; m++)
				pre[i][m][k] = scaling_run(m ? M_MINOR : M_UMEM,
							   tset[i], pages, true,
							   &dummy);
	for (i = 0; i < n; i++) {
		for (m = 0; m < NR_MODES; m++)
			med[i][m] = median3(r[i][m][0], r[i][m][1], r[i][m][2]);
		for (m = 0; m < 2; m++)
			pmed[i][m] = median3(pre[i][m][0], pre[i][m][1], pre[i][m][2]);
	}

	printf("\n2. Scaling: T faulting threads on disjoint slices of %llu pages, one server thread, %ld CPUs (median of 3)\n",
	       (unsigned long long)pages, sysconf(_SC_NPROCESSORS_ONLN));
	printf("  %8s %14s %14s %14s %10s %10s\n", "threads", "umem f/s",
	       "uffd_minor f/s", "uffd_miss f/s", "umem/minor", "umem req/read");
	for (i = 0; i < n; i++) {
		printf("  %8d %14.0f %14.0f %14.0f %10.2f %10.2f\n", tset[i],
		       med[i][M_UMEM], med[i][M_MINOR], med[i][M_MISSING],
		       med[i][M_UMEM] / med[i][M_MINOR],
		       median3(batch[i][M_UMEM][0], batch[i][M_UMEM][1],
			       batch[i][M_UMEM][2]));
		if (med[i][M_UMEM] > peak) {
			peak = med[i][M_UMEM];
			ipeak = i;
		}
	}
	for (i = ipeak; i < n; i++)
		if (med[i][M_UMEM] < 0.8 * peak)
			printf("  note: umem at %d threads is %.2f of its peak (at %d)\n",
			       tset[i], med[i][M_UMEM] / peak, tset[ipeak]);
	printf("\n2c. The mechanism alone: the same, with every page already in the page\n"
	       "    cache: the server only marks present (umem) or CONTINUEs (uffd_minor)\n");
	printf("  %8s %14s %14s %10s\n", "threads", "umem f/s", "uffd_minor f/s",
	       "umem/minor");
	for (i = 0; i < n; i++)
		printf("  %8d %14.0f %14.0f %10.2f\n", tset[i], pmed[i][0],
		       pmed[i][1], pmed[i][0] / pmed[i][1]);
	printf("# json \"scaling_prefilled\": [");
	for (i = 0; i < n; i++)
		printf("{\"threads\": %d, \"umem_faults_per_s\": %.0f, \"uffd_minor_faults_per_s\": %.0f}%s",
		       tset[i], pmed[i][0], pmed[i][1], i + 1 < n ? ", " : "");
	printf("]\n");
	printf("# json \"scaling\": [");
	for (i = 0; i < n; i++)
		printf("{\"threads\": %d, \"umem_faults_per_s\": %.0f, \"uffd_minor_faults_per_s\": %.0f, \"uffd_missing_faults_per_s\": %.0f}%s",
		       tset[i], med[i][M_UMEM], med[i][M_MINOR], med[i][M_MISSING],
		       i + 1 < n ? ", " : "");
	printf("]\n");
	for (i = 0; i < n; i++)
		printf("# dat scaling %d %.0f %.0f %.0f %.0f %.0f\n", tset[i],
		       med[i][M_UMEM], med[i][M_MINOR], med[i][M_MISSING],
		       pmed[i][0], pmed[i][1]);
	return 0;
}

/* ---- 2b. all threads on the same pages ------------------------------------ */

struct same_result {
	double requests_per_page;
	struct summary fanout;	/* last wake - resolve, per page */
};

static struct same_result same_page_run(enum mode mode, int threads,
					uint64_t pages, uint64_t hold_us)
{
	struct faulter f[MAX_THREADS];
	pthread_barrier_t start, step;
	struct same_result res;
	struct backend b;
	uint64_t *woke = xcalloc(pages, sizeof(*woke));
	uint64_t *fan = xcalloc(pages, sizeof(*fan));
	uint64_t *resolved = xcalloc(pages, sizeof(*resolved));
	uint64_t i;
	int k;

	backend_init(&b, mode, pages);
	b.hold_us = hold_us;
	server_start(&b);
	pthread_barrier_init(&start, NULL, threads + 1);
	pthread_barrier_init(&step, NULL, threads);
	b.resolve_ns = resolved;
	for (k = 0; k < threads; k++) {
		f[k] = (struct faulter){ .b = &b, .start = &start, .first = 0,
					 .count = pages, .same_page = true,
					 .step = &step, .woke_ns = woke };
		if (pthread_create(&f[k].t, NULL, faulter_main, &f[k]))
			die("pthread_create");
	}
	pthread_barrier_wait(&start);
	for (k = 0; k < threads; k++)
		pthread_join(f[k].t, NULL);
	server_stop(&b);
	b.resolve_ns = NULL;
	for (i = 0; i < pages; i++)
		fan[i] = woke[i] > resolved[i] ? woke[i] - resolved[i] : 0;
	res.requests_per_page = (double)atomic_load(&b.requests) / pages;
	res.fanout = summarize(fan, pages);
	backend_destroy(&b);
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&step);
	free(woke);
	free(fan);
	free(resolved);
	return res;
}

static int cmd_same_page(uint64_t pages, int threads, uint64_t hold_us)
{
	struct same_result r[NR_MODES];
	int m;

	for (m = 0; m < NR_MODES; m++)
		r[m] = same_page_run(m, threads, pages, hold_us);
	printf("\n2b. Same pages: %d threads fault each of %llu pages together; the server holds each request %llu us\n",
	       threads, (unsigned long long)pages, (unsigned long long)hold_us);
	printf("  %-14s %12s %14s %14s\n", "", "requests/pg", "fan-out p50 us",
	       "fan-out p99 us");
	for (m = 0; m < NR_MODES; m++)
		printf("  %-14s %12.2f %14.1f %14.1f\n", mode_name[m],
		       r[m].requests_per_page, r[m].fanout.p50, r[m].fanout.p99);
	printf("# json \"same_page\": {\"threads\": %d, \"pages\": %llu, \"requests_per_page\": %.3f, ",
	       threads, (unsigned long long)pages, r[M_UMEM].requests_per_page);
	for (m = 0; m < NR_MODES; m++) {
		printf("\"%s\": {\"requests_per_page\": %.3f, ", mode_name[m],
		       r[m].requests_per_page);
		json_summary("wake_fanout", r[m].fanout, false);
		printf("}%s", m + 1 < NR_MODES ? ", " : "");
	}
	printf("}\n");
	return 0;
}

/* ---- 3. marking present ---------------------------------------------------- */

struct waiter {
	struct backend *b;
	uint64_t p;
	pthread_t t;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	touch(w->b, w->p);
	return NULL;
}

/*
 * Mark @pages pages present in ranges of @chunk pages, with @nw threads
 * blocked on pages spread over the region, or none.  The pages are in the
 * page cache first (UFFDIO_CONTINUE needs them there).  Returns pages/s
 * for the marking alone; *touch_ps gets pages/s for marking and then
 * reading every page (umem maps a page at its first access; CONTINUE
 * maps it at once).
 */
static double mark_run(enum mode mode, uint64_t pages, uint64_t chunk,
		       int nw, double *touch_ps)
{
	struct waiter w[MAX_THREADS];
	struct umem_range *rg;
	struct backend b;
	uint64_t i, n = pages / chunk, t0, t1, t2;
	int k;

	backend_init(&b, mode, pages);
	/* The pages are in the page cache: faults are MINOR now. */
	prefill(&b);
	for (k = 0; k < nw; k++) {
		w[k] = (struct waiter){ .b = &b, .p = (pages / nw) * k + chunk / 2 };
		if (pthread_create(&w[k].t, NULL, waiter_main, &w[k]))
			die("pthread_create");
	}
	/* Wait until every waiter's request or message is here. */
	for (k = 0; k < nw;) {
		if (mode == M_UMEM) {
			struct umem_request req[MAX_THREADS];
			ssize_t r = read(b.s.fd, req, sizeof(req));

			if (r < 0)
				die("umem read: %s", strerror(errno));
			k += r / sizeof(req[0]);
		} else {
			struct uffd_msg msg[MAX_THREADS];
			ssize_t r = read(b.uffd, msg, sizeof(msg));

			if (r < 0)
				die("uffd read: %s", strerror(errno));
			k += r / sizeof(msg[0]);
		}
	}
	usleep(20000);	/* let them reach their sleep */

	rg = xcalloc(n, sizeof(*rg));
	for (i = 0; i < n; i++)
		rg[i] = (struct umem_range){ .pgoff = i * chunk, .count = chunk };
	t0 = now_ns();
	if (mode == M_UMEM) {
		if (umemlib_mark_present(&b.s, rg, n))
			die("umem: %s", umemlib_strerror());
	} else {
		for (i = 0; i < n; i++) {
			struct uffdio_continue c = {
				.range = { .start = (uintptr_t)b.area + rg[i].pgoff * psz,
					   .len = chunk * psz },
			};

			if (ioctl(b.uffd, UFFDIO_CONTINUE, &c))
				die("UFFDIO_CONTINUE: %s", strerror(errno));
		}
	}
	t1 = now_ns();
	for (i = 0; i < pages; i++)
		touch(&b, i);
	t2 = now_ns();
	for (k = 0; k < nw; k++)
		pthread_join(w[k].t, NULL);
	free(rg);
	backend_destroy(&b);
	*touch_ps = pages / ((t2 - t0) / 1e9);
	return pages / ((t1 - t0) / 1e9);
}

static int cmd_mark_present(uint64_t pages, uint64_t chunk, int nw)
{
	double r[2][2], tr[2][2];
	int w, m;

	for (w = 0; w < 2; w++)
		for (m = 0; m < 2; m++)
			r[w][m] = mark_run(m ? M_MINOR : M_UMEM, pages, chunk,
					   w ? nw : 0, &tr[w][m]);
	printf("\n3. Marking present: %llu pages in ranges of %llu pages (umem: one write() per %d ranges; uffd: one UFFDIO_CONTINUE per range)\n",
	       (unsigned long long)pages, (unsigned long long)chunk,
	       (int)(UMEM_WRITE_MAX / sizeof(struct umem_range)));
	printf("  %-26s %16s %16s\n", "", "umem pages/s", "CONTINUE pages/s");
	for (w = 0; w < 2; w++) {
		char name[64];

		snprintf(name, sizeof(name), "%s, mark", w ? "waiters" : "no waiters");
		printf("  %-26s %16.0f %16.0f\n", name, r[w][0], r[w][1]);
		snprintf(name, sizeof(name), "%s, mark+read all", w ? "waiters" : "no waiters");
		printf("  %-26s %16.0f %16.0f\n", name, tr[w][0], tr[w][1]);
	}
	printf("  (%d waiters; umem maps a page at its first access, CONTINUE maps it at once)\n",
	       nw);
	printf("# json \"mark_present\": {\"pages\": %llu, \"range_pages\": %llu, \"waiters\": %d, "
	       "\"umem_pages_per_s\": %.0f, \"uffd_continue_pages_per_s\": %.0f, "
	       "\"umem_waiters_pages_per_s\": %.0f, \"uffd_continue_waiters_pages_per_s\": %.0f, "
	       "\"umem_mark_and_read_pages_per_s\": %.0f, \"uffd_continue_and_read_pages_per_s\": %.0f}\n",
	       (unsigned long long)pages, (unsigned long long)chunk, nw,
	       r[0][0], r[0][1], r[1][0], r[1][1], tr[0][0], tr[0][1]);
	return 0;
}

/* ---- 4. footprint ------------------------------------------------------------ */

static long long meminfo_kb(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("/proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = atoll(line + kl + 1);
			break;
		}
	fclose(f);
	return v;
}

#define MAX_REGION_PARAM "/sys/module/umem/parameters/max_region_bytes"

static unsigned long long max_region(unsigned long long set)
{
	unsigned long long old = 0;
	FILE *f = fopen(MAX_REGION_PARAM, "r");

	if (!f || fscanf(f, "%llu", &old) != 1)
		die("%s: cannot read", MAX_REGION_PARAM);
	fclose(f);
	if (set) {
		f = fopen(MAX_REGION_PARAM, "w");
		if (!f || fprintf(f, "%llu\n", set) < 0 || fclose(f))
			die("%s: cannot write (root?)", MAX_REGION_PARAM);
	}
	return old;
}

/* Kernel memory taken by @n regions of @size bytes, per region, in bytes. */
static double region_cost(uint64_t size, int n)
{
	struct umemlib_region r[MAX_THREADS];
	long long before, after;
	int i;

	sync();
	before = meminfo_kb("MemFree");
	for (i = 0; i < n; i++)
		if (umemlib_create(&r[i], size, 0))
			die("umem: %s", umemlib_strerror());
	after = meminfo_kb("MemFree");
	for (i = 0; i < n; i++)
		umemlib_close(&r[i]);
	return (before - after) * 1024.0 / n;
}

/* Create and destroy a region of @size bytes: median ms of @reps. */
static void create_destroy(uint64_t size, int reps, double *create_ms,
			   double *destroy_ms)
{
	uint64_t c[16], d[16], t;
	struct umemlib_region r;
	int i;

	for (i = 0; i < reps; i++) {
		t = now_ns();
		if (umemlib_create(&r, size, 0))
			die("umem %llu bytes: %s", (unsigned long long)size,
			    umemlib_strerror());
		c[i] = now_ns() - t;
		t = now_ns();
		umemlib_close(&r);
		d[i] = now_ns() - t;
	}
	qsort(c, reps, sizeof(c[0]), cmp_u64);
	qsort(d, reps, sizeof(d[0]), cmp_u64);
	*create_ms = c[reps / 2] / 1e6;
	*destroy_ms = d[reps / 2] / 1e6;
}

static int cmd_footprint(void)
{
	static const struct { const char *name; uint64_t size; } sz[] = {
		{ "1gib", 1ULL << 30 }, { "64gib", 64ULL << 30 },
		{ "1tib", 1ULL << 40 },
	};
	unsigned long long old = max_region(2ULL << 40);
	double c1, c64, per_gib, cst, cm[3], dm[3];
	uint64_t pages_per_gib = (1ULL << 30) / psz;
	int i;

	c1 = region_cost(1ULL << 30, 16);
	c64 = region_cost(64ULL << 30, 4);
	per_gib = (c64 - c1) / 63;
	cst = c1 - per_gib;
	for (i = 0; i < 3; i++)
		create_destroy(sz[i].size, 5, &cm[i], &dm[i]);
	max_region(old);

	printf("\n4. Footprint (MemFree deltas; 16 regions of 1 GiB, 4 of 64 GiB)\n");
	printf("  per GiB of region   %10.0f bytes = %.2f bits per page\n",
	       per_gib, per_gib * 8 / pages_per_gib);
	printf("  per region          %10.0f bytes (constant part)\n", cst);
	printf("  %-18s %12s %12s\n", "region size", "create ms", "destroy ms");
	for (i = 0; i < 3; i++)
		printf("  %-18s %12.2f %12.2f\n", sz[i].name, cm[i], dm[i]);
	printf("# json \"footprint\": {\"bytes_per_gib\": %.0f, \"bits_per_page\": %.3f, "
	       "\"bytes_per_region\": %.0f, ",
	       per_gib, per_gib * 8 / pages_per_gib, cst);
	for (i = 0; i < 3; i++)
		printf("\"create_%s_ms\": %.3f, \"destroy_%s_ms\": %.3f%s",
		       sz[i].name, cm[i], sz[i].name, dm[i], i < 2 ? ", " : "");
	printf("}\n");
	return 0;
}

/* ---- main ---------------------------------------------------------------------- */

static const char usage[] =
"usage: umem-bench CASE [options]\n"
"  latency        round trip per fault, umem vs userfaultfd, + the floor\n"
"  scaling        faults/s with 1..64 faulting threads, one server\n"
"  same-page      all threads fault the same pages: requests per page, wake fan-out\n"
"  mark-present   pages/s marked present, with and without waiters\n"
"  footprint      kernel memory per GiB of region, create/destroy times\n"
"options:\n"
"  --pages N      pages per run (latency 20480, scaling 16384, same-page 256,\n"
"                 mark-present 32768)\n"
"  --threads N    most threads (scaling 64, same-page 16, mark-present 16)\n"
"  --hold US      same-page: how long the server holds a request (2000)\n"
"  --chunk N      mark-present: pages per range (64)\n"
"  --seed N       random order seed\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pages", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "hold", required_argument, NULL, 'H' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	uint64_t pages = 0, hold_us = 2000, chunk = 64;
	int threads = 0, opt;
	const char *c;

	psz = sysconf(_SC_PAGESIZE);
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': pages = strtoull(optarg, NULL, 0); break;
		case 't': threads = atoi(optarg); break;
		case 'H': hold_us = strtoull(optarg, NULL, 0); break;
		case 'c': chunk = strtoull(optarg, NULL, 0); break;
		case 's': rnd_state = strtoull(optarg, NULL, 0) | 1; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind + 1 != argc || threads < 0 || threads > MAX_THREADS || !chunk) {
		fputs(usage, stderr);
		return 2;
	}
	/* No SA_RESTART: the signal breaks a server's blocking read. */
	sigaction(SIGUSR1, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	c = argv[optind];
	if (!strcmp(c, "latency"))
		return cmd_latency(pages ? pages : 20480);
	if (!strcmp(c, "scaling"))
		return cmd_scaling(pages ? pages : 16384, threads ? threads : 64);
	if (!strcmp(c, "same-page"))
		return cmd_same_page(pages ? pages : 256, threads ? threads : 16,
				     hold_us);
	if (!strcmp(c, "mark-present")) {
		pages = pages ? pages : 32768;
		if (pages % chunk)
			die("--pages must be a multiple of --chunk");
		return cmd_mark_present(pages, chunk, threads ? threads : 16);
	}
	if (!strcmp(c, "footprint"))
		return cmd_footprint();
	fputs(usage, stderr);
	return 2;
}
