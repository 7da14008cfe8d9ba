// SPDX-License-Identifier: GPL-2.0
/*
 * memcg: memory cgroups.  Which cgroup pays for the pages a daemon
 * supplies (the VMM's, as with userfaultfd, by every way of filling the
 * shmem fd); a migration inside tight limits; the OOM killer taking a
 * process whose threads are blocked on missing pages, then the daemon.
 *
 * Needs root and the cgroup2 memory controller (mounted here if it is not
 * yet); skips without them.  Cgroups are made directly under the root:
 * umem-vmm (the VMM, which creates and maps the region), umem-daemon (the
 * server) and umem-oom (a victim).
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <liburing.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define CG_ROOT		"/sys/fs/cgroup"
#define CG_VMM		"umem-vmm"
#define CG_DAEMON	"umem-daemon"
#define CG_OOM		"umem-oom"
#define MIB		(1LL << 20)

/* ---- cgroup helpers -------------------------------------------------- */

static int cg_path(char *buf, size_t len, const char *cg, const char *file)
{
	return snprintf(buf, len, CG_ROOT "%s%s/%s", *cg ? "/" : "", cg, file);
}

static int cg_write(const char *cg, const char *file, const char *val)
{
	char path[256];
	ssize_t n;
	int fd;

	cg_path(path, sizeof(path), cg, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

static int cg_write_ll(const char *cg, const char *file, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return cg_write(cg, file, buf);
}

static ssize_t cg_read(const char *cg, const char *file, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	cg_path(path, sizeof(path), cg, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return n;
}

/* A one-number file (memory.current), or -1. */
static long long cg_num(const char *cg, const char *file)
{
	char buf[64];

	if (cg_read(cg, file, buf, sizeof(buf)) <= 0)
		return -1;
	return atoll(buf);
}

/* The value of "key N" in a keyed file (memory.stat, memory.events). */
static long long cg_key(const char *cg, const char *file, const char *key)
{
	static char buf[8192];
	size_t klen = strlen(key);
	char *p;

	if (cg_read(cg, file, buf, sizeof(buf)) <= 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return atoll(p + klen + 1);
	return -1;
}

/* Move the calling process into @cg ("" for the root). */
static int cg_enter(const char *cg)
{
	return cg_write(cg, "cgroup.procs", "0");
}

/* Mount cgroup2 if needed, enable +memory for the root's children. */
static bool cg_setup(void)
{
	char buf[512];

	if (getuid() != 0)
		return false;
	if (access(CG_ROOT "/cgroup.controllers", R_OK) &&
	    mount("none", CG_ROOT, "cgroup2", 0, NULL))
		return false;
	if (cg_read("", "cgroup.controllers", buf, sizeof(buf)) <= 0 ||
	    !strstr(buf, "memory"))
		return false;
	return cg_write("", "cgroup.subtree_control", "+memory") == 0;
}

static void cg_remove(const char *cg)
{
	char path[256];

	cg_path(path, sizeof(path), cg, "");
	rmdir(path);
}

static int cg_create(const char *cg)
{
	char path[256];

	cg_remove(cg);
	cg_path(path, sizeof(path), cg, "");
	return mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
}

/*
 * The OOM killer prints a stack trace ("Call Trace:"), which the runner
 * counts as a splat.  These markers tell its filter (splat-filter.awk)
 * that the OOM reports between them are expected: it drops their call
 * trace line and nothing else.
 */
static void kmsg(const char *msg)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, msg, strlen(msg)) < 0)
			perror("/dev/kmsg");
		close(fd);
	}
}

#define OOM_EXPECTED()	kmsg("umem-test: expect oom-kill\n")
#define OOM_DONE()	kmsg("umem-test: oom-kill done\n")

/* Touch anonymous memory until something (the OOM killer) stops us. */
static void __attribute__((noreturn)) eat_memory(void)
{
	for (;;) {
		char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			continue;
		memset(p, 0xa5, MIB);
	}
}

/* ---- filling pages --------------------------------------------------- */

static void pattern_page(uint64_t *buf, uint32_t psz, uint64_t pgoff)
{
	uint64_t i;

	for (i = 0; i < psz / 8; i++)
		buf[i] = umem_pattern(pgoff, i);
}

enum fill {
	FILL_PWRITE,	/* pwrite() */
	FILL_PWRITEV,	/* pwritev(), several pages a call */
	FILL_MMAP,	/* memcpy into an mmap of the shmem fd */
	FILL_RECV,	/* recv() into an mmap: kernel-mode faults */
	FILL_SPLICE,	/* splice() from a pipe */
	FILL_URING,	/* io_uring writes (io-wq workers) */
	FILL_FALLOCATE,	/* fallocate(): zero pages, allocated */
};

/*
 * Fill pages [0, n) of the shmem fd @shm by @how, with their patterns
 * (zeros for FILL_FALLOCATE).  Returns 0, or -errno of the first failure.
 */
static int fill_pages(int shm, uint32_t psz, uint64_t n, enum fill how)
{
	uint64_t buf[4][psz / 8];
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct iovec iov[4];
	int sv[2], pfd[2], ret = 0;
	uint64_t p, i;
	char *map = NULL;
	ssize_t r;

	if (how == FILL_FALLOCATE)
		return fallocate(shm, 0, 0, n * psz) ? -errno : 0;
	if (how == FILL_MMAP || how == FILL_RECV) {
		map = mmap(NULL, n * psz, PROT_READ | PROT_WRITE, MAP_SHARED,
			   shm, 0);
		if (map == MAP_FAILED)
			return -errno;
	}
	if (how == FILL_RECV && socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	if (how == FILL_SPLICE && pipe(pfd))
		return -errno;
	if (how == FILL_URING && io_uring_queue_init(4, &ring, 0))
		return -ENOSYS;

	for (p = 0; p < n && !ret; p++) {
		/* pwritev gathers 4 pages; the others write one at a time. */
		pattern_page(buf[how == FILL_PWRITEV ? p % 4 : 0], psz, p);
		switch (how) {
		case FILL_PWRITE:
			r = pwrite(shm, buf[0], psz, p * psz);
			ret = r == psz ? 0 : r < 0 ? -errno : -EIO;
			break;
		case FILL_PWRITEV:
			if (p % 4 != 3 && p != n - 1)
				break;
			for (i = 0; i <= p % 4; i++)
				iov[i] = (struct iovec){ buf[i], psz };
			r = pwritev(shm, iov, p % 4 + 1, (p - p % 4) * psz);
			ret = r == (p % 4 + 1) * psz ? 0 : r < 0 ? -errno : -EIO;
			break;
		case FILL_MMAP:
			memcpy(map + p * psz, buf[0], psz);
			break;
		case FILL_RECV:
			if (send(sv[0], buf[0], psz, 0) != psz ||
			    recv(sv[1], map + p * psz, psz, MSG_WAITALL) != psz)
				ret = -errno ? -errno : -EIO;
			break;
		case FILL_SPLICE: {
			loff_t off = p * psz;

			if (write(pfd[1], buf[0], psz) != psz ||
			    splice(pfd[0], NULL, shm, &off, psz, 0) != psz)
				ret = -errno ? -errno : -EIO;
			break;
		}
		case FILL_URING:
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_write(sqe, shm, buf[0], psz, p * psz);
			if (io_uring_submit_and_wait(&ring, 1) != 1 ||
			    io_uring_wait_cqe(&ring, &cqe)) {
				ret = -EIO;
				break;
			}
			ret = cqe->res == psz ? 0 : cqe->res < 0 ? cqe->res : -EIO;
			io_uring_cqe_seen(&ring, cqe);
			break;
		case FILL_FALLOCATE:
			break;
		}
	}
	if (map)
		munmap(map, n * psz);
	if (how == FILL_RECV) {
		close(sv[0]);
		close(sv[1]);
	}
	if (how == FILL_SPLICE) {
		close(pfd[0]);
		close(pfd[1]);
	}
	if (how == FILL_URING)
		io_uring_queue_exit(&ring);
	return ret;
}

/* Every page of [0, n) holds its pattern (or zeros, @zero). */
static uint64_t bad_pages(const struct umem_fix *f, uint64_t n, bool zero)
{
	uint64_t p, i, bad = 0;

	for (p = 0; p < n; p++) {
		const uint64_t *w = (const uint64_t *)(f->map + p * f->psz);

		for (i = 0; i < f->psz / 8; i++)
			if (w[i] != (zero ? 0 : umem_pattern(p, i))) {
				bad++;
				break;
			}
	}
	return bad;
}

static int serve_fd(int ctl, struct umem_serve *sv)
{
	memset(sv, 0, sizeof(*sv));
	sv->flags = UMEM_SERVE_CLOEXEC;
	return ioctl(ctl, UMEM_IOC_SERVE, sv);
}

static int mark_all(int srv, uint64_t n)
{
	struct umem_range r = { .pgoff = 0, .count = n };

	return write(srv, &r, sizeof(r)) == sizeof(r) ? 0 : -1;
}

static void wait_byte(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(99);
}

static void send_byte(int fd)
{
	if (write(fd, "x", 1) != 1)
		_exit(98);
}

/* ---- which cgroup pays ------------------------------------------------- */

/* Both fixtures: a region (made by each test) and the three cgroups. */
static void cg_fixture_setup(struct __test_metadata *_metadata,
			     struct umem_fix *f)
{
	f->ctl = f->srv = f->shm = -1;
	f->map = NULL;
	ASSERT_EQ(0, cg_create(CG_VMM));
	ASSERT_EQ(0, cg_create(CG_DAEMON));
	ASSERT_EQ(0, cg_create(CG_OOM));
}

static void cg_fixture_teardown(struct umem_fix *f)
{
	umem_fix_teardown(f);
	cg_enter("");
	cg_remove(CG_VMM);
	cg_remove(CG_DAEMON);
	cg_remove(CG_OOM);
}

FIXTURE(memcg_fill) {
	struct umem_fix f;
};

FIXTURE_VARIANT(memcg_fill) {
	enum fill how;
	const char *name;
};

FIXTURE_VARIANT_ADD(memcg_fill, pwrite) { .how = FILL_PWRITE, .name = "pwrite" };
FIXTURE_VARIANT_ADD(memcg_fill, pwritev) { .how = FILL_PWRITEV, .name = "pwritev" };
FIXTURE_VARIANT_ADD(memcg_fill, mmap) { .how = FILL_MMAP, .name = "mmap+memcpy" };
FIXTURE_VARIANT_ADD(memcg_fill, recv) { .how = FILL_RECV, .name = "mmap+recv" };
FIXTURE_VARIANT_ADD(memcg_fill, splice) { .how = FILL_SPLICE, .name = "splice" };
FIXTURE_VARIANT_ADD(memcg_fill, io_uring) { .how = FILL_URING, .name = "io_uring" };
FIXTURE_VARIANT_ADD(memcg_fill, fallocate) { .how = FILL_FALLOCATE, .name = "fallocate" };

FIXTURE_SETUP(memcg_fill)
{
	if (!cg_setup())
		SKIP(return, "no cgroup2 memory controller (or not root)");
	cg_fixture_setup(_metadata, &self->f);
}

FIXTURE_TEARDOWN(memcg_fill)
{
	cg_fixture_teardown(&self->f);
}

FIXTURE(memcg) {
	struct umem_fix f;
};

FIXTURE_SETUP(memcg)
{
	if (!cg_setup())
		SKIP(return, "no cgroup2 memory controller (or not root)");
	cg_fixture_setup(_metadata, &self->f);
}

FIXTURE_TEARDOWN(memcg)
{
	cg_fixture_teardown(&self->f);
}

#define CHARGE_PAGES	4096	/* 16 MiB of 4 KiB pages */

/*
 * The VMM (this process, in umem-vmm) creates and maps the region; the
 * daemon (a child, in umem-daemon) serves it and fills every page one
 * way.  The pages are charged to the VMM's cgroup, not the daemon's: as
 * UFFDIO_COPY charges the mm the pages are copied into.
 */
TEST_F_TIMEOUT(memcg_fill, memcg__charge_vmm_pays, 120)
{
	struct umem_fix *f = &self->f;
	long long vmm0, dmn0, vmm1, dmn1, vsh0, dsh0, vsh1, dsh1, bytes;
	int done[2], go[2];
	pid_t pid;

	ASSERT_EQ(0, cg_enter(CG_VMM));
	umem_fix_setup(_metadata, f, CHARGE_PAGES, 60000, false);
	bytes = (long long)CHARGE_PAGES * f->psz;
	ASSERT_EQ(0, pipe(done));
	ASSERT_EQ(0, pipe(go));
	vmm0 = cg_num(CG_VMM, "memory.current");
	dmn0 = cg_num(CG_DAEMON, "memory.current");
	vsh0 = cg_key(CG_VMM, "memory.stat", "shmem");
	dsh0 = cg_key(CG_DAEMON, "memory.stat", "shmem");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct umem_serve sv;
		int ret;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cg_enter(CG_DAEMON) || serve_fd(f->ctl, &sv))
			_exit(2);
		ret = fill_pages(sv.shmem_fd, f->psz, CHARGE_PAGES,
				 variant->how);
		if (ret) {
			fprintf(stderr, "fill: %s\n", strerror(-ret));
			_exit(3);
		}
		if (mark_all(sv.server_fd, CHARGE_PAGES))
			_exit(4);
		send_byte(done[1]);
		wait_byte(go[0]);
		_exit(0);
	}
	wait_byte(done[0]);
	vmm1 = cg_num(CG_VMM, "memory.current");
	dmn1 = cg_num(CG_DAEMON, "memory.current");
	vsh1 = cg_key(CG_VMM, "memory.stat", "shmem");
	dsh1 = cg_key(CG_DAEMON, "memory.stat", "shmem");
	ksft_print_msg("%s, %lld KiB supplied: vmm memory.current %lld -> %lld KiB (shmem +%lld), daemon %lld -> %lld KiB (shmem +%lld)\n",
		       variant->name, bytes >> 10, vmm0 >> 10, vmm1 >> 10,
		       (vsh1 - vsh0) >> 10, dmn0 >> 10, dmn1 >> 10,
		       (dsh1 - dsh0) >> 10);
	/* Per-CPU charge stocks and stat batches: allow 1/8 either way. */
	EXPECT_LE(bytes * 7 / 8, vmm1 - vmm0);
	EXPECT_GT(bytes / 8, dmn1 - dmn0);
	EXPECT_LE(bytes * 7 / 8, vsh1 - vsh0);
	EXPECT_GT(bytes / 8, dsh1 - dsh0);
	EXPECT_EQ(0, bad_pages(f, CHARGE_PAGES,
			       variant->how == FILL_FALLOCATE));
	send_byte(go[1]);
	EXPECT_EQ(0, umem_wait_child(pid));
}

/*
 * The daemon's own cgroup is far smaller than what it supplies: that is
 * fine, it does not pay for the pages.  (Were it charged, its memory.max
 * would stop it at 4 MiB.)
 */
TEST_F_TIMEOUT(memcg, memcg__daemon_limit_irrelevant, 120)
{
	struct umem_fix *f = &self->f;
	long long bytes;
	pid_t pid;

	ASSERT_EQ(0, cg_write_ll(CG_DAEMON, "memory.max", 4 * MIB));
	ASSERT_EQ(0, cg_enter(CG_VMM));
	umem_fix_setup(_metadata, f, 2 * CHARGE_PAGES, 60000, false);
	bytes = 2LL * CHARGE_PAGES * f->psz;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct umem_serve sv;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cg_enter(CG_DAEMON) || serve_fd(f->ctl, &sv))
			_exit(2);
		if (fill_pages(sv.shmem_fd, f->psz, 2 * CHARGE_PAGES,
			       FILL_MMAP) ||
		    mark_all(sv.server_fd, 2 * CHARGE_PAGES))
			_exit(3);
		_exit(0);
	}
	EXPECT_EQ(0, umem_wait_child(pid));
	EXPECT_EQ(0, cg_key(CG_DAEMON, "memory.events", "oom_kill"));
	EXPECT_LE(bytes * 7 / 8, cg_num(CG_VMM, "memory.current"));
	EXPECT_EQ(0, bad_pages(f, 2 * CHARGE_PAGES, false));
}

/*
 * The shmem fd is umem's own file now: it still behaves as the shmem
 * file it opens, for everything a daemon does with it, including pages
 * above 2 GiB (it is opened O_LARGEFILE, as memfd_create() does).
 */
TEST_F_TIMEOUT(memcg, memcg__shmem_fd_ops, 120)
{
	struct umem_fix *f = &self->f;
	uint64_t high, buf[512], back[512];
	struct stat st;
	char *m;
	int mfd, pfd[2];
	loff_t off;

	umem_fix_setup(_metadata, f, (3ULL << 30) / 4096, 60000, true);
	ASSERT_EQ(4096, f->psz);
	ASSERT_EQ(0, fstat(f->shm, &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(f->pages * f->psz, st.st_size);
	EXPECT_EQ(O_RDWR, fcntl(f->shm, F_GETFL) & O_ACCMODE);

	/* pwrite, pread, lseek SEEK_DATA/SEEK_HOLE, read. */
	pattern_page(buf, f->psz, 5);
	ASSERT_EQ(f->psz, pwrite(f->shm, buf, f->psz, 5 * f->psz));
	ASSERT_EQ(f->psz, pread(f->shm, back, f->psz, 5 * f->psz));
	EXPECT_EQ(0, memcmp(buf, back, f->psz));
	EXPECT_EQ(5 * f->psz, lseek(f->shm, 0, SEEK_DATA));
	EXPECT_EQ(6 * f->psz, lseek(f->shm, 5 * f->psz, SEEK_HOLE));
	ASSERT_EQ(5 * f->psz, lseek(f->shm, 5 * f->psz, SEEK_SET));
	ASSERT_EQ(f->psz, read(f->shm, back, f->psz));
	EXPECT_EQ(0, memcmp(buf, back, f->psz));

	/* A page above 2 GiB. */
	high = (5ULL << 29) / f->psz;
	pattern_page(buf, f->psz, high);
	EXPECT_EQ(f->psz, pwrite(f->shm, buf, f->psz, high * f->psz))
		TH_LOG("pwrite at 2.5 GiB: %s", strerror(errno));

	/* mmap of the shmem fd. */
	m = mmap(NULL, 16 * f->psz, PROT_READ | PROT_WRITE, MAP_SHARED,
		 f->shm, 0);
	ASSERT_NE(MAP_FAILED, m);
	pattern_page((uint64_t *)(m + 7 * f->psz), f->psz, 7);
	munmap(m, 16 * f->psz);

	ASSERT_EQ(0, umem_mark(f, 5, 3) == sizeof(struct umem_range) ? 0 : -1);
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(f, high, 1));
	EXPECT_TRUE(umem_page_ok(f, 5));
	EXPECT_TRUE(umem_page_ok(f, 7));
	EXPECT_TRUE(umem_page_ok(f, high));

	/* splice and sendfile out of it. */
	ASSERT_EQ(0, pipe(pfd));
	off = 7 * f->psz;
	ASSERT_EQ(f->psz, splice(f->shm, &off, pfd[1], NULL, f->psz, 0));
	ASSERT_EQ(f->psz, read(pfd[0], back, f->psz));
	pattern_page(buf, f->psz, 7);
	EXPECT_EQ(0, memcmp(buf, back, f->psz));
	mfd = memfd_create("copy", MFD_CLOEXEC);
	ASSERT_LE(0, mfd);
	off = 7 * f->psz;
	ASSERT_EQ(f->psz, sendfile(mfd, f->shm, &off, f->psz));
	ASSERT_EQ(f->psz, pread(mfd, back, f->psz, 0));
	EXPECT_EQ(0, memcmp(buf, back, f->psz));
	close(mfd);
	close(pfd[0]);
	close(pfd[1]);

	/* umemd's punch: the page reads as zeros, the next data is page 7. */
	ASSERT_EQ(0, fallocate(f->shm, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       5 * f->psz, f->psz));
	ASSERT_EQ(f->psz, pread(f->shm, back, f->psz, 5 * f->psz));
	memset(buf, 0, f->psz);
	EXPECT_EQ(0, memcmp(buf, back, f->psz));
	EXPECT_EQ(7 * f->psz, lseek(f->shm, 0, SEEK_DATA));
	EXPECT_EQ(f->pages * f->psz, lseek(f->shm, 0, SEEK_END));

	/* It cannot grow past the region: the VMM would pay for it. */
	EXPECT_EQ(F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_SHRINK,
		  fcntl(f->shm, F_GET_SEALS));
	EXPECT_EQ(-1, pwrite(f->shm, buf, f->psz, f->pages * f->psz));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, fallocate(f->shm, 0, f->pages * f->psz, f->psz));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ftruncate(f->shm, (f->pages + 1) * f->psz));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, fstat(f->shm, &st));
	EXPECT_EQ(f->pages * f->psz, st.st_size);
}

/* ---- the OOM killer ---------------------------------------------------- */

struct pipe_read {
	int fd;
	char *dst;
	size_t len;
};

/* read(2) from a pipe into a missing page: a kernel-mode fault blocks. */
static void *pipe_reader(void *arg)
{
	struct pipe_read *p = arg;

	return (void *)(intptr_t)read(p->fd, p->dst, p->len);
}

static void *block_on(void *arg)
{
	return (void *)(uintptr_t)*(volatile uint64_t *)arg;
}

#define OOM_MAX		(16 * MIB)
#define OOM_WAITERS	4

/*
 * A process with threads blocked on missing pages (user-mode faults,
 * and a read(2) into a missing page, a kernel-mode fault) is the memcg
 * OOM killer's victim: it dies at once, and the region is unharmed.
 */
TEST_F_TIMEOUT(memcg, memcg__oom_blocked_faulter, 120)
{
	struct umem_fix *f = &self->f;
	struct umem_request req;
	struct umem_stats st;
	int go[2], pp[2], status, i, kernel = 0;
	uint64_t t0, ms, pgs[OOM_WAITERS + 1];
	char data[4096] = "x";
	pid_t pid, reader;

	umem_fix_setup(_metadata, f, 16, 60000, true);
	ASSERT_EQ(0, cg_write_ll(CG_OOM, "memory.max", OOM_MAX));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(pp));
	ASSERT_EQ(sizeof(data), write(pp[1], data, sizeof(data)));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct pipe_read pr = { pp[0], f->map + 8 * f->psz, f->psz };
		pthread_t th;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(f->srv);
		if (cg_enter(CG_OOM))
			_exit(2);
		for (i = 0; i < OOM_WAITERS; i++)
			pthread_create(&th, NULL, block_on, f->map + i * f->psz);
		pthread_create(&th, NULL, pipe_reader, &pr);
		wait_byte(go[0]);
		eat_memory();
	}
	for (i = 0; i <= OOM_WAITERS; i++) {
		ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
		pgs[i] = req.pgoff;
		kernel += req.pgoff == 8 && (req.flags & UMEM_REQ_KERNEL);
	}
	EXPECT_EQ(1, kernel);
	usleep(200000);		/* let them all sleep */
	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG));

	OOM_EXPECTED();
	t0 = umem_now_ms();
	send_byte(go[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ms = umem_now_ms() - t0;
	OOM_DONE();
	ksft_print_msg("OOM victim with %d blocked faults exited %llu ms after it started allocating; oom_kill %lld\n",
		       OOM_WAITERS + 1, (unsigned long long)ms,
		       cg_key(CG_OOM, "memory.events", "oom_kill"));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));
	EXPECT_LE(1, cg_key(CG_OOM, "memory.events", "oom_kill"));
	EXPECT_GT(30000, ms);

	/* The region is unharmed: supply the pages, a new reader gets them. */
	for (i = 0; i <= OOM_WAITERS; i++)
		ASSERT_EQ(0, umem_supply(f, pgs[i]));
	reader = umem_fork_reader(f, 8);
	EXPECT_EQ(0, umem_wait_child(reader));
	ASSERT_EQ(0, ioctl(f->ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(0, st.pages_outstanding);
	EXPECT_EQ(UMEM_STATE_SERVED, st.state);
}

/* A child whose threads each wait for one of pages [0, n): 0 if all right. */
static pid_t fork_vmm_waiters(const struct umem_fix *f, int n)
{
	pid_t pid = fork();

	if (pid == 0) {
		pthread_t th[64];
		void *ret;
		int i, bad = 0;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (i = 0; i < n; i++)
			pthread_create(&th[i], NULL, block_on, f->map + i * f->psz);
		for (i = 0; i < n; i++) {
			pthread_join(th[i], &ret);
			bad += (uint64_t)(uintptr_t)ret != umem_pattern(i, 0) ||
			       !umem_page_ok(f, i);
		}
		_exit(bad ? 1 : 0);
	}
	return pid;
}

#define DAEMON_WAITERS	8

/*
 * The daemon, holding requests it has read and not answered, is the OOM
 * killer's victim.  The region detaches; then a new server re-adopts it
 * (@readopt), is handed every request again and serves it, none
 * zero-filled; or the deadline passes and the waiters get SIGBUS.
 */
static void oom_daemon(struct __test_metadata *_metadata, struct umem_fix *f,
		       bool readopt)
{
	struct umem_serve sv;
	struct umem_request req;
	int ready[2], go[2], status, i;
	uint64_t t0, ms;
	pid_t vmm, dmn;

	umem_fix_setup(_metadata, f, 16, readopt ? 60000 : 1000, false);
	ASSERT_EQ(0, cg_write_ll(CG_DAEMON, "memory.max", OOM_MAX));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	vmm = fork_vmm_waiters(f, DAEMON_WAITERS);
	ASSERT_LE(0, vmm);
	dmn = fork();
	ASSERT_LE(0, dmn);
	if (dmn == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cg_enter(CG_DAEMON) || serve_fd(f->ctl, &sv))
			_exit(2);
		for (i = 0; i < DAEMON_WAITERS; i++)
			if (read(sv.server_fd, &req, sizeof(req)) != sizeof(req))
				_exit(3);
		send_byte(ready[1]);
		wait_byte(go[0]);
		eat_memory();
	}
	wait_byte(ready[0]);
	OOM_EXPECTED();
	t0 = umem_now_ms();
	send_byte(go[1]);
	ASSERT_EQ(dmn, waitpid(dmn, &status, 0));
	ms = umem_now_ms() - t0;
	OOM_DONE();
	ksft_print_msg("OOM-killed daemon exited %llu ms after it started allocating\n",
		       (unsigned long long)ms);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_LE(1, cg_key(CG_DAEMON, "memory.events", "oom_kill"));
	EXPECT_GT(30000, ms);
	t0 = umem_now_ms();

	if (!readopt) {
		EXPECT_EQ(128 + SIGBUS, umem_wait_child(vmm));
		EXPECT_GT(20000, umem_now_ms() - t0);
		return;
	}
	/* Nobody woke meanwhile. */
	ASSERT_EQ(0, waitpid(vmm, &status, WNOHANG));
	ASSERT_EQ(0, serve_fd(f->ctl, &sv));
	f->srv = sv.server_fd;
	f->shm = sv.shmem_fd;
	for (i = 0; i < DAEMON_WAITERS; i++) {
		ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
		EXPECT_EQ(UMEM_REQ_REDELIVERED, req.flags);
		ASSERT_EQ(0, umem_supply(f, req.pgoff));
	}
	EXPECT_EQ(0, umem_wait_child(vmm));
}

TEST_F_TIMEOUT(memcg, memcg__oom_daemon_readopt, 120)
{
	oom_daemon(_metadata, &self->f, true);
}

TEST_F_TIMEOUT(memcg, memcg__oom_daemon_deadline, 120)
{
	oom_daemon(_metadata, &self->f, false);
}

/*
 * The VMM's cgroup is smaller than the region: the daemon's fills, which
 * it pays for, drive it to the OOM killer, whose victim is the VMM (the
 * only task there), as with userfaultfd.  With nothing left to kill, the
 * fill that does not fit fails with ENOMEM in the daemon.
 */
TEST_F_TIMEOUT(memcg, memcg__vmm_limit_below_region, 120)
{
	struct umemlib_region r;
	struct umem_serve sv;
	uint64_t buf[512], p, done = 0;
	int sock[2], ctl, status, err = 0;
	char *map;
	ssize_t n;
	pid_t vmm;

	ASSERT_EQ(0, cg_write_ll(CG_VMM, "memory.max", 8 * MIB));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock));
	vmm = fork();
	ASSERT_LE(0, vmm);
	if (vmm == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cg_enter(CG_VMM) || umemlib_create(&r, 32 * MIB, 60000) ||
		    umemlib_map(&r, 0, r.size, PROT_READ | PROT_WRITE,
				(void **)&map) ||
		    umemlib_send_fd(sock[0], r.ctl))
			_exit(2);
		/* A vCPU waiting for the last page, until killed. */
		_exit(*(volatile char *)(map + r.size - 1));
	}
	ctl = umemlib_recv_fd(sock[1]);
	ASSERT_LE(0, ctl);
	self->f.ctl = ctl;
	ASSERT_EQ(0, serve_fd(ctl, &sv));
	self->f.srv = sv.server_fd;
	self->f.shm = sv.shmem_fd;

	OOM_EXPECTED();
	for (p = 0; p < (32 * MIB) / 4096; p++) {
		pattern_page(buf, 4096, p);
		n = pwrite(sv.shmem_fd, buf, 4096, p * 4096);
		if (n != 4096) {
			err = n < 0 ? errno : EIO;
			break;
		}
		done++;
	}
	ASSERT_EQ(vmm, waitpid(vmm, &status, 0));
	OOM_DONE();
	ksft_print_msg("VMM cgroup memory.max 8 MiB: %llu KiB supplied, then %s; VMM %s; oom_kill %lld\n",
		       (unsigned long long)done * 4, err ? strerror(err) : "no error",
		       WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited",
		       cg_key(CG_VMM, "memory.events", "oom_kill"));
	EXPECT_EQ(ENOMEM, err);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_LE(1, cg_key(CG_VMM, "memory.events", "oom_kill"));
	EXPECT_LE(6 * MIB / 4096, done);
	EXPECT_GE(8 * MIB / 4096, done);
	close(sock[0]);
	close(sock[1]);
}

/* Store into pages [from, from + n) of a new mapping of @shm; exit 0. */
static void __attribute__((noreturn)) store_pages(int shm, uint64_t from,
						  uint64_t n)
{
	char *map = mmap(NULL, (from + n) * 4096, PROT_READ | PROT_WRITE,
			 MAP_SHARED, shm, 0);
	uint64_t p;

	if (map == MAP_FAILED)
		_exit(2);
	/* Before the fix the first store spun in its fault until this. */
	alarm(5);
	for (p = from; p < from + n; p++)
		*(volatile char *)(map + p * 4096) = 1;
	_exit(0);
}

/*
 * The VMM's cgroup is full and its OOM killer finds nothing to kill (the
 * VMM is OOM_SCORE_ADJ_MIN): a store into the daemon's mapping fails the
 * fill with SIGBUS, as pwrite() fails with ENOMEM.  Before, its fault
 * returned VM_FAULT_OOM, which the page-fault handler retried at once,
 * for ever ("Huh VM_FAULT_OOM leaked out"): here, until SIGALRM.
 */
TEST_F_TIMEOUT(memcg, memcg__fill_fault_enomem, 120)
{
	struct umemlib_region r;
	struct umem_serve sv;
	uint64_t buf[512], p;
	int sock[2], ctl, err = 0, ret;
	pid_t vmm, store;
	char *map;
	ssize_t n;

	ASSERT_EQ(0, cg_write_ll(CG_VMM, "memory.max", 8 * MIB));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock));
	vmm = fork();
	ASSERT_LE(0, vmm);
	if (vmm == 0) {
		int adj = open("/proc/self/oom_score_adj", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (adj < 0 || write(adj, "-1000", 5) != 5)
			_exit(3);
		close(adj);
		if (cg_enter(CG_VMM) || umemlib_create(&r, 32 * MIB, 60000) ||
		    umemlib_map(&r, 0, r.size, PROT_READ | PROT_WRITE,
				(void **)&map) ||
		    umemlib_send_fd(sock[0], r.ctl))
			_exit(2);
		/* A vCPU waiting for the last page, until the test ends. */
		_exit(*(volatile char *)(map + r.size - 1));
	}
	ctl = umemlib_recv_fd(sock[1]);
	ASSERT_LE(0, ctl);
	self->f.ctl = ctl;
	ASSERT_EQ(0, serve_fd(ctl, &sv));
	self->f.srv = sv.server_fd;
	self->f.shm = sv.shmem_fd;

	OOM_EXPECTED();
	for (p = 0; p < (32 * MIB) / 4096; p++) {
		pattern_page(buf, 4096, p);
		n = pwrite(sv.shmem_fd, buf, 4096, p * 4096);
		if (n != 4096) {
			err = n < 0 ? errno : EIO;
			break;
		}
	}
	EXPECT_EQ(ENOMEM, err);
	store = fork();
	ASSERT_LE(0, store);
	/*
	 * Enough pages to use up any margin left (per-CPU charge stock): the
	 * store that finds none must fail.
	 */
	if (store == 0)
		store_pages(sv.shmem_fd, p, 512);
	ret = umem_wait_child(store);
	OOM_DONE();
	ksft_print_msg("VMM cgroup full at %llu KiB, nothing to kill: pwrite %s, store %s\n",
		       (unsigned long long)p * 4, strerror(err),
		       ret > 128 ? strsignal(ret - 128) : "went through");
	EXPECT_EQ(128 + SIGBUS, ret);
	EXPECT_EQ(0, cg_key(CG_VMM, "memory.events", "oom_kill"));
	kill(vmm, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, umem_wait_child(vmm));
	close(sock[0]);
	close(sock[1]);
}

/* ---- a migration under limits ------------------------------------------ */

#define MIG_PAGES	8192	/* 32 MiB */
#define MIG_VCPUS	4
#define MIG_CHUNK	64

struct vcpu {
	const struct umem_fix *f;
	uint64_t seed;
	uint64_t bad;
};

/* Touch every page in a random order, checking each whole page. */
static void *vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	uint64_t i, p, x = v->seed;

	for (i = 0; i < MIG_PAGES; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		p = (x >> 33) % MIG_PAGES;
		v->bad += !umem_page_ok(v->f, p);
	}
	return NULL;
}

/*
 * The daemon: serve requests first, stream the rest in chunks, through
 * an mmap of the shmem fd (as umemd does), then complete the region.
 */
static int mig_daemon(int ctl)
{
	static uint8_t sent[MIG_PAGES];
	struct umem_request reqs[64];
	struct umem_serve sv;
	struct umem_range r;
	uint64_t next = 0, left = MIG_PAGES, p;
	ssize_t n, i;
	char *map;

	if (serve_fd(ctl, &sv) || fcntl(sv.server_fd, F_SETFL, O_NONBLOCK))
		return 2;
	map = mmap(NULL, (size_t)MIG_PAGES * 4096, PROT_READ | PROT_WRITE,
		   MAP_SHARED, sv.shmem_fd, 0);
	if (map == MAP_FAILED)
		return 3;
	while (left) {
		n = read(sv.server_fd, reqs, sizeof(reqs));
		for (i = 0; i < n / (ssize_t)sizeof(reqs[0]); i++) {
			p = reqs[i].pgoff;
			if (sent[p])
				continue;
			pattern_page((uint64_t *)(map + p * 4096), 4096, p);
			sent[p] = 1;
			left--;
			r = (struct umem_range){ p, 1 };
			if (write(sv.server_fd, &r, sizeof(r)) != sizeof(r))
				return 4;
		}
		for (i = 0; i < MIG_CHUNK && next < MIG_PAGES; next++) {
			if (sent[next])
				continue;
			pattern_page((uint64_t *)(map + next * 4096), 4096, next);
			sent[next] = 1;
			left--;
			i++;
			r = (struct umem_range){ next, 1 };
			if (write(sv.server_fd, &r, sizeof(r)) != sizeof(r))
				return 5;
		}
	}
	return ioctl(sv.server_fd, UMEM_IOC_COMPLETE) ? 6 : 0;
}

/*
 * A migration inside tight limits: the VMM's cgroup holds the region and
 * 16 MiB more; the daemon's holds 8 MiB, a quarter of what it supplies.
 * Every page arrives intact, nobody is OOM-killed, and the VMM's cgroup
 * pays.  Without swap nothing of the region can be reclaimed: when the
 * VMM then grows past memory.high, it is throttled (memory.events
 * "high") and carries on.
 */
TEST_F_TIMEOUT(memcg, memcg__pressure_migration, 180)
{
	struct umem_fix *f = &self->f;
	struct vcpu v[MIG_VCPUS];
	pthread_t th[MIG_VCPUS];
	uint64_t bad = 0, t0;
	long long region = (long long)MIG_PAGES * 4096, cur, peak, high;
	char *ws;
	pid_t dmn;
	int i;

	ASSERT_EQ(0, cg_write_ll(CG_VMM, "memory.max", region + 16 * MIB));
	ASSERT_EQ(0, cg_write_ll(CG_VMM, "memory.high", region + MIB));
	ASSERT_EQ(0, cg_write_ll(CG_DAEMON, "memory.max", 8 * MIB));
	ASSERT_EQ(0, cg_enter(CG_VMM));
	umem_fix_setup(_metadata, f, MIG_PAGES, 60000, false);
	ASSERT_EQ(4096, f->psz);
	t0 = umem_now_ms();
	dmn = fork();
	ASSERT_LE(0, dmn);
	if (dmn == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cg_enter(CG_DAEMON))
			_exit(2);
		_exit(mig_daemon(f->ctl));
	}
	for (i = 0; i < MIG_VCPUS; i++) {
		v[i] = (struct vcpu){ .f = f, .seed = i + 1 };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, vcpu_main, &v[i]));
	}
	for (i = 0; i < MIG_VCPUS; i++) {
		pthread_join(th[i], NULL);
		bad += v[i].bad;
	}
	EXPECT_EQ(0, umem_wait_child(dmn));
	EXPECT_EQ(0, bad_pages(f, MIG_PAGES, false));
	cur = cg_num(CG_VMM, "memory.current");
	/* The VMM's own working set, past memory.high. */
	ws = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ws);
	memset(ws, 1, 2 * MIB);
	peak = cg_num(CG_VMM, "memory.peak");
	high = cg_key(CG_VMM, "memory.events", "high");
	ksft_print_msg("32 MiB migrated in %llu ms: vmm memory.current %lld KiB after, peak %lld KiB (max %lld, high %lld), events high %lld max %lld oom_kill %lld; daemon memory.current %lld KiB peak %lld KiB (max 8192)\n",
		       (unsigned long long)(umem_now_ms() - t0), cur >> 10,
		       peak >> 10, (region + 16 * MIB) >> 10, (region + MIB) >> 10,
		       high, cg_key(CG_VMM, "memory.events", "max"),
		       cg_key(CG_VMM, "memory.events", "oom_kill"),
		       cg_num(CG_DAEMON, "memory.current") >> 10,
		       cg_num(CG_DAEMON, "memory.peak") >> 10);
	EXPECT_EQ(0, bad);
	EXPECT_LE(region, cur);
	EXPECT_LT(0, high);
	EXPECT_EQ(0, cg_key(CG_VMM, "memory.events", "oom_kill"));
	EXPECT_EQ(0, cg_key(CG_DAEMON, "memory.events", "oom_kill"));
	EXPECT_GT(8 * MIB, cg_num(CG_DAEMON, "memory.peak"));
	munmap(ws, 2 * MIB);
}

TEST_HARNESS_MAIN
