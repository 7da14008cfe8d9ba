/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the umem selftests.  Include after kselftest_harness.h.
 */
#ifndef UMEM_TEST_H
#define UMEM_TEST_H

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/umem.h>

#include "libumem.h"

/* An unmapped address, hidden from the compiler's buffer checks. */
static inline void *umem_bad_addr(void)
{
	volatile uintptr_t a = 8;

	return (void *)a;
}

/* A control fd of /dev/umem that has made the handshake. */
static inline int umem_open_api(struct __test_metadata *_metadata,
				uint32_t *page_size)
{
	struct umem_api api = { .api = UMEM_API_VERSION };
	int fd = open("/dev/umem", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd) TH_LOG("open /dev/umem: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(fd, UMEM_IOC_API, &api));
	if (page_size)
		*page_size = api.page_size;
	return fd;
}

/*
 * Every reserved field of *req, set alone, must make ioctl @cmd fail with
 * EINVAL.  Leaves the reserved fields zero.
 */
#define EXPECT_RESERVED_CHECKED(fd, cmd, req) do {				\
	size_t __i;								\
										\
	for (__i = 0; __i < ARRAY_SIZE((req)->reserved); __i++) {		\
		memset((req)->reserved, 0, sizeof((req)->reserved));		\
		(req)->reserved[__i] = 1ULL << (__i * 13 % 64);		\
		EXPECT_EQ(-1, ioctl(fd, cmd, req))				\
			TH_LOG("reserved[%zu] accepted", __i);			\
		EXPECT_EQ(EINVAL, errno);					\
	}									\
	memset((req)->reserved, 0, sizeof((req)->reserved));			\
} while (0)

/* A region, its server and a mapping of it, as most tests want them. */
struct umem_fix {
	int ctl;		/* control fd */
	int srv;		/* server fd, or -1 */
	int shm;		/* shmem fd, or -1 */
	uint32_t psz;		/* page size */
	uint64_t pages;		/* region size in pages */
	char *map;		/* MAP_SHARED mapping of the whole region */
};

/*
 * Create a region of @pages pages with @timeout_ms as detach deadline and
 * UMEM_INIT_* @flags; if @serve, get its server; map all of it.
 */
static inline void umem_fix_setup_flags(struct __test_metadata *_metadata,
					struct umem_fix *f, uint64_t pages,
					uint32_t timeout_ms, bool serve,
					uint32_t flags)
{
	struct umemlib_region r;
	uint32_t psz;

	memset(f, 0, sizeof(*f));
	f->srv = f->shm = -1;
	/* The page size first: the region size is counted in pages. */
	ASSERT_EQ(0, umemlib_page_size(&psz)) TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(0, umemlib_create_flags(&r, pages * psz, timeout_ms, flags))
		TH_LOG("%s", umemlib_strerror());
	f->ctl = r.ctl;
	f->psz = r.page_size;
	f->pages = r.pages;
	if (serve) {
		struct umemlib_server s;

		ASSERT_EQ(0, umemlib_serve(&r, UMEM_SERVE_CLOEXEC, &s))
			TH_LOG("%s", umemlib_strerror());
		f->srv = s.fd;
		f->shm = s.shmem_fd;
	}
	ASSERT_EQ(0, umemlib_map(&r, 0, pages * psz, PROT_READ | PROT_WRITE,
				 (void **)&f->map))
		TH_LOG("%s", umemlib_strerror());
}

static inline void umem_fix_setup(struct __test_metadata *_metadata,
				  struct umem_fix *f, uint64_t pages,
				  uint32_t timeout_ms, bool serve)
{
	umem_fix_setup_flags(_metadata, f, pages, timeout_ms, serve, 0);
}

static inline void umem_fix_teardown(struct umem_fix *f)
{
	if (f->map && f->map != MAP_FAILED)
		munmap(f->map, f->pages * f->psz);
	if (f->srv >= 0)
		close(f->srv);
	if (f->shm >= 0)
		close(f->shm);
	if (f->ctl >= 0)
		close(f->ctl);
}

/* The pattern of word @i of page @pgoff, as supplied by umem_supply(). */
static inline uint64_t umem_pattern(uint64_t pgoff, uint64_t i)
{
	return (pgoff << 32) ^ (i * 0x9e3779b97f4a7c15ULL);
}

static inline bool umem_page_ok(const struct umem_fix *f, uint64_t pgoff)
{
	const uint64_t *w = (const uint64_t *)(f->map + pgoff * f->psz);
	uint64_t i;

	for (i = 0; i < f->psz / 8; i++)
		if (w[i] != umem_pattern(pgoff, i))
			return false;
	return true;
}

/* Mark [pgoff, pgoff + count) present; returns write()'s result. */
static inline ssize_t umem_mark(const struct umem_fix *f, uint64_t pgoff,
				uint64_t count)
{
	struct umem_range r = { .pgoff = pgoff, .count = count };

	return write(f->srv, &r, sizeof(r));
}

/* Write the pattern of pages [@first, @first + @n) through the shmem fd. */
static inline int umem_fill_range(const struct umem_fix *f, uint64_t first,
				  uint64_t n)
{
	uint64_t *buf = malloc(n * f->psz), p, i;
	ssize_t ret;

	if (!buf)
		return -1;
	for (p = 0; p < n; p++)
		for (i = 0; i < f->psz / 8; i++)
			buf[p * f->psz / 8 + i] = umem_pattern(first + p, i);
	ret = pwrite(f->shm, buf, n * f->psz, first * f->psz);
	free(buf);
	return ret == (ssize_t)(n * f->psz) ? 0 : -1;
}

/* Fill page @pgoff with its pattern through the shmem fd, then mark it. */
static inline int umem_supply(const struct umem_fix *f, uint64_t pgoff)
{
	uint64_t buf[f->psz / 8];
	uint64_t i;

	for (i = 0; i < f->psz / 8; i++)
		buf[i] = umem_pattern(pgoff, i);
	if (pwrite(f->shm, buf, f->psz, pgoff * f->psz) != (ssize_t)f->psz)
		return -1;
	return umem_mark(f, pgoff, 1) == sizeof(struct umem_range) ? 0 : -1;
}

/* Read one request from the server fd (blocking unless O_NONBLOCK). */
static inline ssize_t umem_read_req(const struct umem_fix *f,
				    struct umem_request *req)
{
	return read(f->srv, req, sizeof(*req));
}

/*
 * Fork a child that reads word 0 of page @pgoff and exits 0 if it holds
 * the pattern, 1 if not.  Dies by SIGBUS if the page never arrives.  The
 * child closes its copy of the server fd first: a server detaches only
 * when its last fd is closed.
 */
static inline pid_t umem_fork_reader(const struct umem_fix *f, uint64_t pgoff)
{
	pid_t pid = fork();

	if (pid == 0) {
		volatile uint64_t *w = (uint64_t *)(f->map + pgoff * f->psz);

		/* Keep no server reference: detaching must stay possible. */
		if (f->srv >= 0)
			close(f->srv);
		_exit(*w == umem_pattern(pgoff, 0) ? 0 : 1);
	}
	return pid;
}

/* The scheduler state (R, S, D...) in a /proc stat file, or '?'. */
static inline char umem_stat_state(const char *path)
{
	char buf[256], *p;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

static inline uint64_t umem_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* The same clock in seconds, for timing a call. */
static inline double umem_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for @pid; returns its exit code, or 128 + the signal that ended it. */
static inline int umem_wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* What one access to guest memory ended with: see umem_access(). */
struct umem_access_result {
	int sig;		/* 0 (no signal) or SIGBUS */
	int code;		/* si_code */
	void *addr;		/* si_addr */
	int lsb;		/* si_addr_lsb */
	uint64_t word;		/* the word read, when no signal came */
};

static __thread sigjmp_buf umem_access_env;
static __thread struct umem_access_result *umem_access_res;

static inline void umem_access_sigbus(int sig, siginfo_t *si, void *uc)
{
	umem_access_res->sig = sig;
	umem_access_res->code = si->si_code;
	umem_access_res->addr = si->si_addr;
	umem_access_res->lsb = si->si_addr_lsb;
	siglongjmp(umem_access_env, 1);
}

/*
 * Read (or, if @write, write) the word at @p in this thread, catching a
 * SIGBUS: how the access ended, with the signal's details.
 */
static inline struct umem_access_result umem_access(void *p, bool write)
{
	struct umem_access_result res = { 0 };
	struct sigaction sa = { .sa_sigaction = umem_access_sigbus,
				.sa_flags = SA_SIGINFO | SA_NODEFER };
	struct sigaction old;

	umem_access_res = &res;
	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(umem_access_env, 1)) {
		if (write)
			*(volatile uint64_t *)p = 0;
		else
			res.word = *(volatile uint64_t *)p;
	}
	sigaction(SIGBUS, &old, NULL);
	return res;
}

/*
 * Expect @p to fault as hardware poison: SIGBUS, BUS_MCEERR_AR, at @p,
 * with the page shift as si_addr_lsb (Documentation/umem.rst, "Poison").
 */
#define EXPECT_HWPOISON(p, write) do {						\
	struct umem_access_result __r = umem_access((p), (write));		\
										\
	EXPECT_EQ(SIGBUS, __r.sig) TH_LOG("no SIGBUS at %p", (void *)(p));	\
	EXPECT_EQ(BUS_MCEERR_AR, __r.code)					\
		TH_LOG("si_code %d, not BUS_MCEERR_AR (%d)", __r.code,		\
		       BUS_MCEERR_AR);						\
	EXPECT_EQ((void *)(p), __r.addr);					\
	EXPECT_EQ(__builtin_ctz(getpagesize()), __r.lsb);			\
} while (0)

/* The largest region the module takes: max_region_bytes (64 GiB default). */
static inline uint64_t umem_max_region_bytes(void)
{
	unsigned long long v = 64ULL << 30;
	FILE *f = fopen("/sys/module/umem/parameters/max_region_bytes", "r");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 64ULL << 30;
		fclose(f);
	}
	return v;
}

/*
 * Does the kernel have transparent huge pages?  PREEMPT_RT kernels (6.1
 * and 6.12 -rt) are built without them: MADV_HUGEPAGE and MADV_COLLAPSE
 * fail there with EINVAL, and nothing can be collapsed.
 */
static inline bool umem_have_thp(void)
{
	return !access("/sys/kernel/mm/transparent_hugepage", F_OK);
}

/*
 * madvise(MADV_HUGEPAGE or MADV_NOHUGEPAGE) as a VMM does it: 0, also for
 * the EINVAL of a kernel without transparent huge pages (QEMU ignores
 * it); else the errno.
 */
static inline int umem_thp_madvise(void *addr, size_t len, int advice)
{
	int err;

	if (!madvise(addr, len, advice))
		return 0;
	err = errno;
	return !umem_have_thp() && err == EINVAL ? 0 : err;
}

#endif /* UMEM_TEST_H */
