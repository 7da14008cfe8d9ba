// SPDX-License-Identifier: GPL-2.0
/*
 * Huge pages (UMEM_INIT_HUGE, umemfs huge=): faults and requests stay
 * 4 KiB, a complete 2 MiB extent that the server collapsed is mapped by
 * one PMD, and no page that did not arrive is ever mapped; poison, hole
 * punching, detach and the VMA operations inside a huge extent.
 *
 * The test is both the VMM (f.map, a mapping of the control fd) and the
 * daemon (a mapping of the shmem fd, where it collapses).
 */
#include <poll.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise	440
#endif

#define HUGE_SZ		(2UL << 20)
#define HUGE_NR		512UL
#define EXTENTS		4UL

/* The counter @name of /proc/vmstat, or -1. */
static long vmstat(const char *name)
{
	char key[64];
	long val, ret = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	fclose(f);
	return ret;
}

/*
 * Does MADV_COLLAPSE retract the page tables of the other mappings of a
 * file (6.5 and later)?  Before, a mapping that had a page table under
 * the extent maps the huge folio by PTEs until khugepaged comes by.
 */
static bool retracts_others(void)
{
	struct utsname u;
	int major, minor;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 5);
}

FIXTURE(huge) {
	struct umem_fix f;
	char *d;		/* the daemon's mapping of the shmem fd */
	bool ready;		/* set up, not skipped */
};

/*
 * A SKIP in FIXTURE_SETUP does not stop the test's body (6.1's harness):
 * each body returns at once when the setup skipped.
 */
#define HUGE_READY() do {						\
	if (!self->ready)							\
		return;								\
} while (0)

FIXTURE_SETUP(huge)
{
	if (!umem_have_thp())
		SKIP(return, "no transparent huge pages in this kernel (PREEMPT_RT): huge__flags checks the refusal");
	umem_fix_setup_flags(_metadata, &self->f, EXTENTS * HUGE_NR, 10000,
			     true, UMEM_INIT_HUGE);
	if (self->f.psz != 4096)
		SKIP(return, "4 KiB pages only");
	/* thp_get_unmapped_area() aligns both mappings. */
	ASSERT_EQ(0, (uintptr_t)self->f.map % HUGE_SZ);
	self->d = mmap(NULL, EXTENTS * HUGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_SHARED, self->f.shm, 0);
	ASSERT_NE(MAP_FAILED, self->d);
	ASSERT_EQ(0, (uintptr_t)self->d % HUGE_SZ);
	self->ready = true;
}

FIXTURE_TEARDOWN(huge)
{
	/* Skipped before the setup made anything. */
	if (!self->f.psz && !self->f.map)
		return;
	if (self->d && self->d != MAP_FAILED)
		munmap(self->d, EXTENTS * HUGE_SZ);
	umem_fix_teardown(&self->f);
}

/* Supply every page of extent @e, as the daemon's stream does. */
static int supply_extent(const struct umem_fix *f, uint64_t e)
{
	if (umem_fill_range(f, e * HUGE_NR, HUGE_NR))
		return -1;
	return umem_mark(f, e * HUGE_NR, HUGE_NR) ==
	       sizeof(struct umem_range) ? 0 : -1;
}

/*
 * The daemon collapses extent @e on its own mapping: it touches it first
 * (MADV_COLLAPSE wants a page table under the range on 6.1).
 */
static int collapse(char *d, uint64_t e)
{
	(void)*(volatile char *)(d + e * HUGE_SZ);
	return madvise(d + e * HUGE_SZ, HUGE_SZ, MADV_COLLAPSE) ? errno : 0;
}

/* Every page of extent @e holds its pattern, read through the guest. */
static bool extent_ok(const struct umem_fix *f, uint64_t e)
{
	uint64_t p;

	for (p = e * HUGE_NR; p < (e + 1) * HUGE_NR; p++)
		if (!umem_page_ok(f, p))
			return false;
	return true;
}

/*
 * The flags: UMEM_INIT_HUGE_ADVISE needs UMEM_INIT_HUGE; a kernel without
 * THP (PREEMPT_RT) refuses UMEM_INIT_HUGE, and umemfs's huge= too.
 */
TEST(huge__flags)
{
	struct umem_init init = { .size = HUGE_SZ, .detach_timeout_ms = 0 };
	int fd = umem_open_api(_metadata, NULL);

	init.flags = UMEM_INIT_HUGE_ADVISE;
	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_INIT, &init));
	EXPECT_EQ(EINVAL, errno);
	init.flags = UMEM_INIT_HUGE | UMEM_INIT_HUGE_ADVISE;
	if (umem_have_thp()) {
		EXPECT_EQ(0, ioctl(fd, UMEM_IOC_INIT, &init))
			TH_LOG("UMEM_INIT_HUGE: %s", strerror(errno));
	} else {
		EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_INIT, &init));
		EXPECT_EQ(EOPNOTSUPP, errno);
	}
	close(fd);
}

/*
 * An extent that arrived whole and was collapsed is PMD-mapped at the
 * guest's first access, with every byte right; a missing page of another
 * extent is still requested alone, and waited for.
 */
TEST_F(huge, pmd_after_complete)
{
	long mapped = vmstat("thp_file_mapped");
	struct umem_request req;
	struct pollfd pfd;
	pid_t pid;

	HUGE_READY();
	ASSERT_EQ(0, supply_extent(&self->f, 1));
	ASSERT_EQ(0, collapse(self->d, 1)) TH_LOG("MADV_COLLAPSE");
	EXPECT_TRUE(extent_ok(&self->f, 1));
	EXPECT_EQ(2048, umemlib_pmd_mapped_kb(self->f.map))
		TH_LOG("the complete extent is not PMD-mapped");
	EXPECT_LT(mapped, vmstat("thp_file_mapped"));

	/* Extent 0: a fault asks for its one page, and waits for it. */
	pid = umem_fork_reader(&self->f, 3);
	pfd = (struct pollfd){ .fd = self->f.srv, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 5000)) TH_LOG("no request for page 3");
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(3, req.pgoff);
	EXPECT_EQ(0, poll(&pfd, 1, 100)) TH_LOG("more than one request");
	ASSERT_EQ(0, umem_supply(&self->f, 3));
	EXPECT_EQ(0, umem_wait_child(pid));
}

/*
 * An extent the guest touched before it was complete: once collapsed it
 * is PMD-mapped (6.5 and later retract the guest's emptied page table),
 * or PTE-mapped on the huge page (6.1); its contents are right either way.
 */
TEST_F(huge, touched_then_complete)
{
	HUGE_READY();
	ASSERT_EQ(0, umem_supply(&self->f, 2 * HUGE_NR + 9));
	EXPECT_TRUE(umem_page_ok(&self->f, 2 * HUGE_NR + 9));
	ASSERT_EQ(0, supply_extent(&self->f, 2));
	ASSERT_EQ(0, collapse(self->d, 2));
	EXPECT_TRUE(extent_ok(&self->f, 2));
	if (retracts_others()) {
		EXPECT_EQ(2048, umemlib_pmd_mapped_kb(self->f.map));
	} else {
		EXPECT_EQ(0, umemlib_pmd_mapped_kb(self->f.map));
	}
}

/*
 * The same extent collapsed in the guest's mm (umemd's way: process_madvise
 * with a pidfd of the VMM, here the test itself): the guest mapping gets
 * it PMD-mapped on 6.1 too, where MADV_COLLAPSE retracts only the page
 * table of the mm it runs in.
 */
TEST_F(huge, touched_then_collapsed_in_guest)
{
	struct iovec iov = { .iov_base = self->f.map + 2 * HUGE_SZ,
			     .iov_len = HUGE_SZ };
	int pidfd;

	HUGE_READY();
	pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	ASSERT_LE(0, pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	ASSERT_EQ(0, umem_supply(&self->f, 2 * HUGE_NR + 9));
	EXPECT_TRUE(umem_page_ok(&self->f, 2 * HUGE_NR + 9));
	ASSERT_EQ(0, supply_extent(&self->f, 2));
	EXPECT_EQ(HUGE_SZ, syscall(SYS_process_madvise, pidfd, &iov, 1,
				   MADV_COLLAPSE, 0))
		TH_LOG("process_madvise(MADV_COLLAPSE): %s", strerror(errno));
	EXPECT_EQ(2048, umemlib_pmd_mapped_kb(self->f.map));
	EXPECT_TRUE(extent_ok(&self->f, 2));
	close(pidfd);
}

/*
 * An extent the guest never touched, collapsed in the guest's mm: 6.1
 * makes the huge page but fails with EINVAL when the guest has no page
 * table under it (retract_page_tables() finds the PMD empty), and a
 * second call maps it; 6.12 maps it at the first.  umemd calls twice.
 */
TEST_F(huge, untouched_collapsed_in_guest)
{
	struct iovec iov = { .iov_base = self->f.map + 3 * HUGE_SZ,
			     .iov_len = HUGE_SZ };
	long ret;
	int pidfd;

	HUGE_READY();
	pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	ASSERT_LE(0, pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	ASSERT_EQ(0, supply_extent(&self->f, 3));
	ret = syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_COLLAPSE, 0);
	if (ret < 0) {
		TH_LOG("first process_madvise(MADV_COLLAPSE): %s",
		       strerror(errno));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_FALSE(retracts_others());
		ret = syscall(SYS_process_madvise, pidfd, &iov, 1,
			      MADV_COLLAPSE, 0);
	}
	EXPECT_EQ(HUGE_SZ, ret)
		TH_LOG("process_madvise(MADV_COLLAPSE): %s", strerror(errno));
	EXPECT_EQ(2048, umemlib_pmd_mapped_kb(self->f.map));
	EXPECT_TRUE(extent_ok(&self->f, 3));
	EXPECT_EQ(2048, umemlib_pmd_mapped_kb(self->f.map));
	close(pidfd);
}

/*
 * A daemon that collapses an extent with a page missing gets a huge folio
 * with a zeroed hole: the guest's fault splits it, maps its page alone,
 * and the missing page is still requested and waited for, never read.
 */
TEST_F(huge, missing_never_exposed)
{
	long splits = vmstat("thp_split_page");
	struct umem_request req;
	struct pollfd pfd;
	pid_t pid;

	HUGE_READY();
	ASSERT_EQ(0, umem_fill_range(&self->f, 0, 7));
	ASSERT_EQ(0, umem_fill_range(&self->f, 8, HUGE_NR - 8));
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&self->f, 0, 7));
	ASSERT_EQ(sizeof(struct umem_range),
		  umem_mark(&self->f, 8, HUGE_NR - 8));
	ASSERT_EQ(0, collapse(self->d, 0));
	EXPECT_TRUE(umem_page_ok(&self->f, 0));
	EXPECT_TRUE(umem_page_ok(&self->f, 8));
	EXPECT_EQ(0, umemlib_pmd_mapped_kb(self->f.map));
	EXPECT_LT(splits, vmstat("thp_split_page"));

	pid = umem_fork_reader(&self->f, 7);
	pfd = (struct pollfd){ .fd = self->f.srv, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 5000)) TH_LOG("no request for page 7");
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(7, req.pgoff);
	usleep(100000);
	EXPECT_EQ(0, waitpid(pid, NULL, WNOHANG)) TH_LOG("page 7 exposed");
	ASSERT_EQ(0, umem_supply(&self->f, 7));
	EXPECT_EQ(0, umem_wait_child(pid));
	EXPECT_TRUE(extent_ok(&self->f, 0));
}

/*
 * Poison of one page of a PMD-mapped extent: that page faults as
 * hardware poison, its neighbours keep their contents through 4 KiB
 * mappings, and the extent is no longer PMD-mapped.
 */
TEST_F(huge, poison_subpage)
{
	struct umem_range r = { .pgoff = 9, .count = 1 };

	HUGE_READY();
	ASSERT_EQ(0, supply_extent(&self->f, 0));
	ASSERT_EQ(0, collapse(self->d, 0));
	EXPECT_TRUE(umem_page_ok(&self->f, 0));
	ASSERT_EQ(2048, umemlib_pmd_mapped_kb(self->f.map));
	ASSERT_EQ(0, ioctl(self->f.srv, UMEM_IOC_POISON, &r))
		TH_LOG("UMEM_IOC_POISON: %s", strerror(errno));
	EXPECT_HWPOISON(self->f.map + 9 * 4096, false);
	EXPECT_TRUE(umem_page_ok(&self->f, 8));
	EXPECT_TRUE(umem_page_ok(&self->f, 10));
	EXPECT_TRUE(umem_page_ok(&self->f, HUGE_NR - 1));
	EXPECT_EQ(0, umemlib_pmd_mapped_kb(self->f.map));
	EXPECT_HWPOISON(self->f.map + 9 * 4096, false);
}

/*
 * A hole punched into a PMD-mapped extent (QEMU's discard): the page
 * reads as zeros, its neighbours keep their contents.
 */
TEST_F(huge, punch)
{
	HUGE_READY();
	ASSERT_EQ(0, supply_extent(&self->f, 0));
	ASSERT_EQ(0, collapse(self->d, 0));
	EXPECT_TRUE(umem_page_ok(&self->f, 0));
	ASSERT_EQ(2048, umemlib_pmd_mapped_kb(self->f.map));
	ASSERT_EQ(0, madvise(self->f.map + 5 * 4096, 4096, MADV_REMOVE))
		TH_LOG("MADV_REMOVE: %s", strerror(errno));
	EXPECT_EQ(0, *(volatile uint64_t *)(self->f.map + 5 * 4096));
	EXPECT_EQ(0, *(volatile uint64_t *)(self->f.map + 6 * 4096 - 8));
	EXPECT_TRUE(umem_page_ok(&self->f, 4));
	EXPECT_TRUE(umem_page_ok(&self->f, 6));
	EXPECT_TRUE(umem_page_ok(&self->f, HUGE_NR - 1));
}

/*
 * fork, mlock, mremap and munmap of part of a PMD-mapped extent: each
 * part keeps its contents.
 */
TEST_F(huge, vma_ops)
{
	char *moved;
	uint64_t p;
	pid_t pid;

	HUGE_READY();
	ASSERT_EQ(0, supply_extent(&self->f, 0));
	ASSERT_EQ(0, supply_extent(&self->f, 1));
	ASSERT_EQ(0, collapse(self->d, 0));
	ASSERT_EQ(0, collapse(self->d, 1));
	EXPECT_TRUE(extent_ok(&self->f, 0));
	EXPECT_TRUE(extent_ok(&self->f, 1));
	EXPECT_EQ(4096, umemlib_pmd_mapped_kb(self->f.map));

	pid = fork();
	if (pid == 0)
		_exit(extent_ok(&self->f, 0) && extent_ok(&self->f, 1) ? 0 : 1);
	EXPECT_EQ(0, umem_wait_child(pid));

	EXPECT_EQ(0, mlock(self->f.map + HUGE_SZ / 2, 3 * 4096))
		TH_LOG("mlock: %s", strerror(errno));
	EXPECT_TRUE(extent_ok(&self->f, 0));
	EXPECT_EQ(0, munlock(self->f.map + HUGE_SZ / 2, 3 * 4096));

	/* One page out of the middle of extent 1, elsewhere. */
	moved = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, moved);
	moved = mremap(self->f.map + HUGE_SZ + 100 * 4096, 4096, 4096,
		       MREMAP_MAYMOVE | MREMAP_FIXED, moved);
	ASSERT_NE(MAP_FAILED, moved) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_EQ(umem_pattern(HUGE_NR + 100, 1), ((uint64_t *)moved)[1]);
	for (p = HUGE_NR + 101; p < 2 * HUGE_NR; p++)
		EXPECT_TRUE(umem_page_ok(&self->f, p));
	munmap(moved, 4096);

	/* The second half of extent 0 goes; the first half stays. */
	ASSERT_EQ(0, munmap(self->f.map + HUGE_SZ / 2, HUGE_SZ / 2));
	for (p = 0; p < HUGE_NR / 2; p++)
		EXPECT_TRUE(umem_page_ok(&self->f, p));
	/* The teardown's munmap of the whole region still succeeds. */
}

/*
 * Detach and re-adopt: a complete extent stays mapped and readable while
 * no server is there, a missing page waits, and a new server gets its
 * request again.  After the deadline, the complete extent still reads
 * and a missing page is lost.
 */
TEST_F(huge, detach_deadline)
{
	struct umem_request req;
	struct umemlib_server s;
	struct umemlib_region r;
	struct pollfd pfd;
	pid_t pid;

	HUGE_READY();
	ASSERT_EQ(0, supply_extent(&self->f, 0));
	ASSERT_EQ(0, collapse(self->d, 0));
	close(self->f.srv);
	self->f.srv = -1;
	EXPECT_TRUE(extent_ok(&self->f, 0));
	EXPECT_EQ(2048, umemlib_pmd_mapped_kb(self->f.map));

	pid = umem_fork_reader(&self->f, HUGE_NR + 1);
	usleep(100000);
	EXPECT_EQ(0, waitpid(pid, NULL, WNOHANG));
	r = (struct umemlib_region){ .ctl = self->f.ctl, .page_size = 4096,
				  .size = EXTENTS * HUGE_SZ,
				  .pages = EXTENTS * HUGE_NR };
	ASSERT_EQ(0, umemlib_serve(&r, UMEM_SERVE_CLOEXEC, &s))
		TH_LOG("%s", umemlib_strerror());
	self->f.srv = s.fd;
	close(s.shmem_fd);
	pfd = (struct pollfd){ .fd = self->f.srv, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	ASSERT_EQ(sizeof(req), umem_read_req(&self->f, &req));
	EXPECT_EQ(HUGE_NR + 1, req.pgoff);
	ASSERT_EQ(0, umem_supply(&self->f, HUGE_NR + 1));
	EXPECT_EQ(0, umem_wait_child(pid));
}

TEST(huge__deadline)
{
	struct umem_fix f;
	char *d;

	if (!umem_have_thp())
		SKIP(return, "no transparent huge pages in this kernel (PREEMPT_RT)");
	umem_fix_setup_flags(_metadata, &f, 2 * HUGE_NR, 0, true,
			     UMEM_INIT_HUGE);
	d = mmap(NULL, 2 * HUGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED,
		 f.shm, 0);
	ASSERT_NE(MAP_FAILED, d);
	ASSERT_EQ(0, supply_extent(&f, 0));
	ASSERT_EQ(0, collapse(d, 0));
	munmap(d, 2 * HUGE_SZ);
	/* A deadline of 0: the region fails when its server goes. */
	close(f.srv);
	close(f.shm);
	f.srv = f.shm = -1;
	EXPECT_TRUE(extent_ok(&f, 0));
	EXPECT_EQ(2048, umemlib_pmd_mapped_kb(f.map));
	EXPECT_HWPOISON(f.map + HUGE_SZ, false);
	umem_fix_teardown(&f);
}

/*
 * umemfs: huge= takes tmpfs's values, shows in /proc/mounts, cannot
 * change on remount; a file of a huge=always mount is a huge region.
 * A kernel without THP refuses every value but never.
 */
TEST(huge__umemfs)
{
	char dir[32], path[64], line[512];
	struct umemlib_server s;
	struct umemlib_region r;
	struct umem_fix f = { .srv = -1, .shm = -1, .psz = 4096 };
	bool shown = false;
	FILE *mounts;
	char *d;
	int fd;

	strcpy(dir, "/tmp/umemfs.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(dir));
	EXPECT_EQ(-1, mount("umem", dir, "umem", 0,
			    "detach_timeout_ms=1000,huge=sometimes"));
	EXPECT_EQ(EINVAL, errno);
	if (!umem_have_thp()) {
		EXPECT_EQ(-1, mount("umem", dir, "umem", 0,
				    "detach_timeout_ms=1000,huge=always"));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(0, mount("umem", dir, "umem", 0,
				   "detach_timeout_ms=1000,huge=never"));
		umount2(dir, MNT_DETACH);
		rmdir(dir);
		return;
	}
	ASSERT_EQ(0, mount("umem", dir, "umem", 0,
			   "detach_timeout_ms=1000,huge=always"))
		TH_LOG("mount: %s", strerror(errno));
	mounts = fopen("/proc/mounts", "r");
	ASSERT_NE(NULL, mounts);
	while (fgets(line, sizeof(line), mounts))
		if (strstr(line, dir) && strstr(line, ",huge=always"))
			shown = true;
	fclose(mounts);
	EXPECT_TRUE(shown);
	EXPECT_EQ(-1, mount("umem", dir, "umem", MS_REMOUNT,
			    "detach_timeout_ms=1000,huge=never"));
	EXPECT_EQ(0, mount("umem", dir, "umem", MS_REMOUNT,
			   "detach_timeout_ms=1000,huge=always"));

	snprintf(path, sizeof(path), "%s/ram", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 2 * HUGE_SZ));
	f.map = mmap(NULL, 2 * HUGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED,
		     fd, 0);
	ASSERT_NE(MAP_FAILED, f.map);
	ASSERT_EQ(0, (uintptr_t)f.map % HUGE_SZ);
	f.pages = 2 * HUGE_NR;
	ASSERT_EQ(0, umemlib_open_file(&r, path)) TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(0, umemlib_serve(&r, UMEM_SERVE_CLOEXEC, &s))
		TH_LOG("%s", umemlib_strerror());
	umemlib_close(&r);
	f.srv = s.fd;
	f.shm = s.shmem_fd;
	d = mmap(NULL, 2 * HUGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED,
		 f.shm, 0);
	ASSERT_NE(MAP_FAILED, d);
	ASSERT_EQ(0, supply_extent(&f, 1));
	EXPECT_EQ(0, collapse(d, 1)) TH_LOG("MADV_COLLAPSE");
	EXPECT_TRUE(extent_ok(&f, 1));
	EXPECT_EQ(2048, umemlib_pmd_mapped_kb(f.map));
	munmap(d, 2 * HUGE_SZ);
	f.ctl = fd;
	umem_fix_teardown(&f);
	unlink(path);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

TEST_HARNESS_MAIN
