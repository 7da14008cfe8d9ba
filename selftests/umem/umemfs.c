// SPDX-License-Identifier: GPL-2.0
/*
 * umemfs: regions as files of a umem mount, for VMMs that know nothing of
 * umem's ioctls (QEMU's memory-backend-file mem-path=).  See
 * Documentation/umem.rst, "umemfs: regions as files, for unmodified VMMs".
 */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/falloc.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#endif

/* mount -t umem -o @opts on a new directory; 0 or errno; *dir set. */
static int mount_umemfs(char *dir, const char *opts)
{
	strcpy(dir, "/tmp/umemfs.XXXXXX");
	if (!mkdtemp(dir))
		return errno;
	if (mount("umem", dir, "umem", 0, opts)) {
		int err = errno;

		rmdir(dir);
		return err;
	}
	return 0;
}

static void umount_umemfs(const char *dir)
{
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* A file of a mount, its region, a server on it, a mapping of it. */
FIXTURE(umemfs) {
	char dir[64];
	char path[96];
	struct umem_fix f;	/* f.ctl: the VMM's fd of the file */
};

FIXTURE_SETUP(umemfs)
{
	memset(&self->f, 0, sizeof(self->f));
	self->f.ctl = self->f.srv = self->f.shm = -1;
	self->f.psz = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, mount_umemfs(self->dir, "detach_timeout_ms=60000"))
		TH_LOG("mount -t umem: %s", strerror(errno));
	snprintf(self->path, sizeof(self->path), "%s/vm", self->dir);
}

FIXTURE_TEARDOWN(umemfs)
{
	umem_fix_teardown(&self->f);
	umount_umemfs(self->dir);
}

/* Create @path and size it to @pages pages; map it all if @map. */
static void file_setup(struct __test_metadata *_metadata, struct umem_fix *f,
		       const char *path, uint64_t pages, bool map)
{
	f->ctl = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_LE(0, f->ctl) TH_LOG("open %s: %s", path, strerror(errno));
	ASSERT_EQ(0, ftruncate(f->ctl, pages * f->psz))
		TH_LOG("ftruncate: %s", strerror(errno));
	f->pages = pages;
	if (map) {
		f->map = mmap(NULL, pages * f->psz, PROT_READ | PROT_WRITE,
			      MAP_SHARED, f->ctl, 0);
		ASSERT_NE(MAP_FAILED, f->map) TH_LOG("mmap: %s", strerror(errno));
	}
}

/* Serve the region through a new fd of @path, as a daemon would. */
static void serve_path(struct __test_metadata *_metadata, struct umem_fix *f,
		       const char *path)
{
	struct umemlib_region r;
	struct umemlib_server s;

	ASSERT_EQ(0, umemlib_open_file(&r, path)) TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(f->pages, r.pages);
	ASSERT_EQ(0, umemlib_serve(&r, UMEM_SERVE_CLOEXEC, &s))
		TH_LOG("%s", umemlib_strerror());
	/* The server and shmem fds hold the region; the file fd may go. */
	umemlib_close(&r);
	f->srv = s.fd;
	f->shm = s.shmem_fd;
}

static struct umem_stats stats_of(int fd)
{
	struct umem_stats st;

	memset(&st, 0xff, sizeof(st));
	if (ioctl(fd, UMEM_IOC_STATS, &st))
		st.state = UINT32_MAX;
	return st;
}

static int fd_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms);
}

/* The mount states the policy: detach_timeout_ms is required, nothing else. */
TEST(umemfs__mount_options)
{
	static const char * const bad[] = {
		"",				/* no detach_timeout_ms */
		"kernel_efault",		/* still none */
		"mode=0700",
		"detach_timeout_ms",		/* no value */
		"detach_timeout_ms=",
		"detach_timeout_ms=abc",
		"detach_timeout_ms=-1",
		"detach_timeout_ms=4294967296",	/* over u32 */
		"detach_timeout_ms=100,bogus=1",
		"detach_timeout_ms=100,size=1G",	/* tmpfs's, not ours */
		"detach_timeout_ms=100,mode=10777",
		"detach_timeout_ms=100,mode=9",
		"detach_timeout_ms=100,uid=x",
		"detach_timeout_ms=100,kernel_efault=1",
	};
	char dir[64], line[512];
	struct statfs sfs;
	struct stat st;
	bool found = false;
	unsigned int i;
	FILE *mounts;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(EINVAL, mount_umemfs(dir, bad[i]))
			TH_LOG("option string %u accepted", i);

	ASSERT_EQ(0, mount_umemfs(dir, "detach_timeout_ms=0,kernel_efault,mode=0750,uid=12,gid=34"));
	ASSERT_EQ(0, statfs(dir, &sfs));
	EXPECT_EQ(UMEM_FS_MAGIC, (unsigned long)sfs.f_type);
	ASSERT_EQ(0, stat(dir, &st));
	EXPECT_EQ(S_IFDIR | 0750, st.st_mode);
	EXPECT_EQ(12, st.st_uid);
	EXPECT_EQ(34, st.st_gid);
	mounts = fopen("/proc/mounts", "r");
	ASSERT_NE(NULL, mounts);
	while (fgets(line, sizeof(line), mounts))
		if (strstr(line, dir)) {
			found = true;
			EXPECT_NE(NULL, strstr(line, " umem rw,relatime,detach_timeout_ms=0,kernel_efault,mode=750,uid=12,gid=34 "))
				TH_LOG("%s", line);
		}
	fclose(mounts);
	EXPECT_TRUE(found);
	/* A remount may restate the options, not change them. */
	EXPECT_EQ(0, mount("umem", dir, "umem", MS_REMOUNT,
			   "detach_timeout_ms=0,kernel_efault"));
	EXPECT_EQ(-1, mount("umem", dir, "umem", MS_REMOUNT,
			    "detach_timeout_ms=5"));
	EXPECT_EQ(EINVAL, errno);
	umount_umemfs(dir);

	/* The default mode is the root's alone, as /dev/umem's. */
	ASSERT_EQ(0, mount_umemfs(dir, "detach_timeout_ms=10"));
	ASSERT_EQ(0, stat(dir, &st));
	EXPECT_EQ(S_IFDIR | 0700, st.st_mode);
	umount_umemfs(dir);
}

/* Regular files and directories only; names, links and renames as usual. */
TEST_F(umemfs, names)
{
	char sub[128], other[128];
	int fd;

	snprintf(sub, sizeof(sub), "%s/d", self->dir);
	ASSERT_EQ(0, mkdir(sub, 0700));
	snprintf(other, sizeof(other), "%s/d/f", self->dir);
	fd = open(other, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-1, rmdir(sub));
	EXPECT_EQ(ENOTEMPTY, errno);
	EXPECT_EQ(0, rename(other, self->path));
	EXPECT_EQ(0, rmdir(sub));
	snprintf(other, sizeof(other), "%s/vm2", self->dir);
	EXPECT_EQ(0, link(self->path, other));
	EXPECT_EQ(0, unlink(other));
	EXPECT_EQ(-1, mkfifo(sub, 0600));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, symlink("vm", sub));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, open(self->dir, O_RDWR | O_TMPFILE, 0600));
	EXPECT_EQ(EOPNOTSUPP, errno);
}

/* Empty at create; the first ftruncate makes the region; its size stays. */
TEST_F(umemfs, truncate)
{
	struct umem_fix *f = &self->f;
	struct umem_api api = { .api = UMEM_API_VERSION };
	struct umem_init init = { .size = 4 * f->psz, .detach_timeout_ms = 1 };
	struct umem_stats st;
	struct stat sb;
	char buf[8];
	void *p;

	f->ctl = open(self->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, f->ctl);
	ASSERT_EQ(0, fstat(f->ctl, &sb));
	EXPECT_TRUE(S_ISREG(sb.st_mode));
	EXPECT_EQ(0, sb.st_size);
	EXPECT_EQ(0, lseek(f->ctl, 0, SEEK_END));
	/* No region yet. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, f->psz, PROT_READ, MAP_SHARED, f->ctl, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, ioctl(f->ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, fallocate(f->ctl, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, f->psz));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(0, ftruncate(f->ctl, 0));

	/* UMEM_IOC_INIT's validation and errnos. */
	EXPECT_EQ(-1, ftruncate(f->ctl, f->psz + 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ftruncate(f->ctl, 1ULL << 50));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(-1, ftruncate(f->ctl, -1));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, fstat(f->ctl, &sb));
	EXPECT_EQ(0, sb.st_size);

	ASSERT_EQ(0, ftruncate(f->ctl, 4 * f->psz));
	f->pages = 4;
	ASSERT_EQ(0, fstat(f->ctl, &sb));
	EXPECT_EQ(4 * f->psz, sb.st_size);
	EXPECT_EQ(4 * f->psz, lseek(f->ctl, 0, SEEK_END));
	st = stats_of(f->ctl);
	EXPECT_EQ(UMEM_STATE_UNSERVED, st.state);
	EXPECT_EQ(4 * f->psz, st.size);
	/* Same size: nothing; another: EBUSY, the size stays. */
	EXPECT_EQ(0, ftruncate(f->ctl, 4 * f->psz));
	EXPECT_EQ(0, truncate(self->path, 4 * f->psz));
	EXPECT_EQ(-1, ftruncate(f->ctl, 8 * f->psz));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, ftruncate(f->ctl, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, open(self->path, O_RDWR | O_TRUNC));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioctl(f->ctl, UMEM_IOC_API, &api));
	EXPECT_EQ(-1, ioctl(f->ctl, UMEM_IOC_INIT, &init));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, fstat(f->ctl, &sb));
	EXPECT_EQ(4 * f->psz, sb.st_size);

	/* Mappings: shared inside the region only. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, f->psz, PROT_READ, MAP_PRIVATE, f->ctl, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * f->psz, PROT_READ, MAP_SHARED, f->ctl, 3 * f->psz));
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, f->psz, PROT_READ | PROT_WRITE, MAP_SHARED, f->ctl, 3 * f->psz);
	EXPECT_NE(MAP_FAILED, p);
	munmap(p, f->psz);
	/* No page cache of its own: the memory is reached by mappings. */
	EXPECT_EQ(-1, read(f->ctl, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, pwrite(f->ctl, buf, sizeof(buf), 0));
	EXPECT_EQ(EINVAL, errno);

	/* Unrelated ioctls. */
	EXPECT_EQ(-1, ioctl(f->ctl, _IO(0x12, 0x34)));
	EXPECT_EQ(ENOTTY, errno);
}

/* UMEM_IOC_INIT on an empty file: its own policy, and the file's size. */
TEST_F(umemfs, ioc_init)
{
	struct umem_fix *f = &self->f;
	struct umem_api api = { .api = UMEM_API_VERSION };
	struct umem_init init = { .size = 8 * f->psz, .detach_timeout_ms = 0 };
	struct umem_stats st;
	struct stat sb;
	int ro;

	f->ctl = open(self->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, f->ctl);
	/* Before the handshake, as on /dev/umem. */
	EXPECT_EQ(-1, ioctl(f->ctl, UMEM_IOC_INIT, &init));
	EXPECT_EQ(ENXIO, errno);
	ro = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ro);
	ASSERT_EQ(0, ioctl(ro, UMEM_IOC_API, &api));
	EXPECT_EQ(-1, ioctl(ro, UMEM_IOC_INIT, &init));
	EXPECT_EQ(EBADF, errno);
	/* The handshake is the file's, not the fd's. */
	ASSERT_EQ(0, ioctl(f->ctl, UMEM_IOC_INIT, &init));
	f->pages = 8;
	ASSERT_EQ(0, fstat(ro, &sb));
	EXPECT_EQ(8 * f->psz, sb.st_size);
	EXPECT_EQ(0, ftruncate(f->ctl, 8 * f->psz));
	st = stats_of(ro);
	EXPECT_EQ(8 * f->psz, st.size);
	/* A read-only fd looks, never serves. */
	EXPECT_EQ(-1, ioctl(ro, UMEM_IOC_SERVE, &(struct umem_serve){ 0 }));
	EXPECT_EQ(EBADF, errno);
	close(ro);
}

/*
 * A read-only fd of the file makes read-only shared mappings (issue 20,
 * item 8), as Documentation/umem.rst says: a missing page is requested
 * and waited for as through any mapping, and the mapping can never be
 * made writable.  Before, the mmap failed with EINVAL: do_mmap() drops
 * VM_SHARED for a file not open for writing, and umem looked for it.
 */
TEST_F(umemfs, mmap__readonly_fd)
{
	struct umem_fix *f = &self->f;
	struct umem_request req;
	int ro, mem;
	pid_t pid;
	char *p;

	file_setup(_metadata, f, self->path, 4, false);
	serve_path(_metadata, f, self->path);
	ASSERT_EQ(0, umem_supply(f, 0));
	ro = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ro);
	p = mmap(NULL, 4 * f->psz, PROT_READ, MAP_SHARED, ro, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap of a read-only fd: %s",
					strerror(errno));
	f->map = p;
	EXPECT_TRUE(umem_page_ok(f, 0));
	/* A missing page: requested and waited for, a read. */
	pid = umem_fork_reader(f, 2);
	ASSERT_LT(0, pid);
	ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
	EXPECT_EQ(2, req.pgoff);
	EXPECT_EQ(0, req.flags & UMEM_REQ_WRITE);
	ASSERT_EQ(0, umem_supply(f, 2));
	EXPECT_EQ(0, umem_wait_child(pid));
	/* Never writable: not by mprotect, mmap or /proc/self/mem. */
	EXPECT_EQ(-1, mprotect(p, f->psz, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, f->psz, PROT_READ | PROT_WRITE,
				   MAP_SHARED, ro, 0));
	EXPECT_EQ(EACCES, errno);
	mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, mem);
	EXPECT_EQ(-1, pwrite(mem, "x", 1, (off_t)(uintptr_t)p));
	close(mem);
	EXPECT_EQ(-1, madvise(p, f->psz, MADV_REMOVE));
	EXPECT_TRUE(umem_page_ok(f, 0));
	/* Private mappings stay refused, and ranges outside the region. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, f->psz, PROT_READ, MAP_PRIVATE, ro, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * f->psz, PROT_READ, MAP_SHARED, ro,
				   3 * f->psz));
	EXPECT_EQ(EINVAL, errno);
	close(ro);
}

/* A daemon that opened the file by its path serves a guest fault. */
TEST_F(umemfs, serve_by_path)
{
	struct umem_fix *f = &self->f;
	struct umem_request req;
	struct umem_stats st;
	pid_t pid;

	file_setup(_metadata, f, self->path, 16, true);
	pid = umem_fork_reader(f, 5);
	ASSERT_LT(0, pid);
	serve_path(_metadata, f, self->path);
	/* One server at a time. */
	{
		struct umemlib_region r;
		struct umemlib_server s;

		ASSERT_EQ(0, umemlib_open_file(&r, self->path));
		EXPECT_EQ(-EBUSY, umemlib_serve(&r, UMEM_SERVE_CLOEXEC, &s));
		umemlib_close(&r);
	}
	ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
	EXPECT_EQ(5, req.pgoff);
	ASSERT_EQ(0, umem_supply(f, 5));
	EXPECT_EQ(0, umem_wait_child(pid));
	EXPECT_TRUE(umem_page_ok(f, 5));
	st = stats_of(f->srv);
	EXPECT_EQ(UMEM_STATE_SERVED, st.state);
	EXPECT_EQ(1, st.pages_present);

	/* A daemon that dies is replaced: re-adopt through the path. */
	close(f->srv);
	close(f->shm);
	f->srv = f->shm = -1;
	EXPECT_EQ(UMEM_STATE_DETACHED, stats_of(f->ctl).state);
	pid = umem_fork_reader(f, 6);
	ASSERT_LT(0, pid);
	serve_path(_metadata, f, self->path);
	ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
	EXPECT_EQ(6, req.pgoff);
	ASSERT_EQ(0, umem_supply(f, 6));
	EXPECT_EQ(0, umem_wait_child(pid));
}

/*
 * QEMU's mem-path=DIR: mkstemp, unlink at once.  The daemon reaches the
 * file through /proc/PID/fd/N; the region lives while an fd does.
 */
TEST_F(umemfs, unlinked_proc_fd)
{
	struct umem_fix *f = &self->f;
	struct umem_request req;
	char proc[64];
	pid_t pid;

	file_setup(_metadata, f, self->path, 16, true);
	ASSERT_EQ(0, unlink(self->path));
	EXPECT_EQ(-1, access(self->path, F_OK));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->ctl);
	pid = umem_fork_reader(f, 3);
	ASSERT_LT(0, pid);
	serve_path(_metadata, f, proc);
	ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
	EXPECT_EQ(3, req.pgoff);
	ASSERT_EQ(0, umem_supply(f, 3));
	EXPECT_EQ(0, umem_wait_child(pid));

	/*
	 * The last fd of the unlinked file goes: no server can come any
	 * more.  The live one keeps the region; when it goes, the region
	 * fails at once (no deadline to wait for).
	 */
	close(f->ctl);
	f->ctl = -1;
	EXPECT_EQ(UMEM_STATE_SERVED, stats_of(f->srv).state);
	ASSERT_EQ(0, umem_supply(f, 4));
	EXPECT_TRUE(umem_page_ok(f, 4));
	close(f->srv);
	f->srv = -1;
	pid = umem_fork_reader(f, 7);
	ASSERT_LT(0, pid);
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(pid));
	/* Supplied pages stay. */
	EXPECT_TRUE(umem_page_ok(f, 4));
}

/* An unlinked file whose last fd goes before any server: failed at once. */
TEST_F(umemfs, unlinked_unserved)
{
	struct umem_fix *f = &self->f;
	uint64_t t0;
	pid_t pid;

	file_setup(_metadata, f, self->path, 4, true);
	ASSERT_EQ(0, unlink(self->path));
	close(f->ctl);
	f->ctl = -1;
	t0 = umem_now_ms();
	pid = umem_fork_reader(f, 0);
	ASSERT_LT(0, pid);
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(pid));
	EXPECT_GT(10000, umem_now_ms() - t0);
}

/*
 * umount with an fd open: EBUSY.  With only a mapping left it succeeds
 * and ends every file's control side: missing pages fail at once,
 * supplied ones stay.
 */
TEST_F(umemfs, umount_with_mapping)
{
	struct umem_fix *f = &self->f;
	char fdinfo[64], buf[1024];
	ssize_t n;
	pid_t pid;
	int fd;

	file_setup(_metadata, f, self->path, 4, true);
	snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", f->ctl);
	fd = open(fdinfo, O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	buf[n] = 0;
	EXPECT_NE(NULL, strstr(buf, "umem-state:\tunserved")) TH_LOG("%s", buf);
	serve_path(_metadata, f, self->path);
	ASSERT_EQ(0, umem_supply(f, 1));
	close(f->srv);
	f->srv = -1;
	EXPECT_EQ(-1, umount(self->dir));
	EXPECT_EQ(EBUSY, errno);
	close(f->ctl);
	f->ctl = -1;
	ASSERT_EQ(0, umount(self->dir)) TH_LOG("umount: %s", strerror(errno));
	pid = umem_fork_reader(f, 0);
	ASSERT_LT(0, pid);
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(pid));
	EXPECT_TRUE(umem_page_ok(f, 1));
}

/* A linked file keeps its region with no fd open: a daemon comes later. */
TEST_F(umemfs, linked_no_fd)
{
	struct umem_fix *f = &self->f;
	struct umem_request req;
	pid_t pid;

	file_setup(_metadata, f, self->path, 4, true);
	close(f->ctl);
	f->ctl = -1;
	pid = umem_fork_reader(f, 2);
	ASSERT_LT(0, pid);
	usleep(100 * 1000);
	serve_path(_metadata, f, self->path);
	ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
	EXPECT_EQ(2, req.pgoff);
	ASSERT_EQ(0, umem_supply(f, 2));
	EXPECT_EQ(0, umem_wait_child(pid));
}

/*
 * fallocate(PUNCH_HOLE | KEEP_SIZE), QEMU's discard: a present page reads
 * zeros after; a missing page stays missing (requested, waited for).
 */
TEST_F(umemfs, punch_hole)
{
	struct umem_fix *f = &self->f;
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	struct umem_request req;
	uint64_t *w;
	pid_t pid;
	uint64_t i;

	file_setup(_metadata, f, self->path, 8, true);
	serve_path(_metadata, f, self->path);
	ASSERT_EQ(0, umem_supply(f, 0));
	ASSERT_EQ(0, umem_supply(f, 1));
	EXPECT_TRUE(umem_page_ok(f, 0));
	EXPECT_TRUE(umem_page_ok(f, 1));

	ASSERT_EQ(0, fallocate(f->ctl, punch, 0, f->psz)) TH_LOG("%s", strerror(errno));
	w = (uint64_t *)f->map;
	for (i = 0; i < f->psz / 8; i++)
		if (w[i])
			break;
	EXPECT_EQ(f->psz / 8, i) TH_LOG("word %llu of a punched page not 0",
					(unsigned long long)i);
	EXPECT_TRUE(umem_page_ok(f, 1));
	/* The guest writes the punched page again: kept. */
	w[0] = 42;
	EXPECT_EQ(42, w[0]);

	/* Missing pages stay missing: a punch over them changes nothing. */
	ASSERT_EQ(0, fallocate(f->ctl, punch, 2 * f->psz, 6 * f->psz));
	EXPECT_EQ(2, stats_of(f->srv).pages_present);
	EXPECT_EQ(0, fd_readable(f->srv, 0));
	pid = umem_fork_reader(f, 4);
	ASSERT_LT(0, pid);
	ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
	EXPECT_EQ(4, req.pgoff);
	ASSERT_EQ(0, umem_supply(f, 4));
	EXPECT_EQ(0, umem_wait_child(pid));

	/* Other modes. */
	EXPECT_EQ(-1, fallocate(f->ctl, 0, 0, f->psz));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, fallocate(f->ctl, FALLOC_FL_KEEP_SIZE, 0, f->psz));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, fallocate(f->ctl, FALLOC_FL_ZERO_RANGE, 0, f->psz));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* PUNCH_HOLE without KEEP_SIZE: the VFS refuses it. */
	EXPECT_EQ(-1, fallocate(f->ctl, FALLOC_FL_PUNCH_HOLE, 0, f->psz));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(8 * f->psz, lseek(f->ctl, 0, SEEK_END));
}

/* Count "name:  N kB" over every mapping in /proc/self/smaps. */
static long smaps_kb(const char *name)
{
	char line[256];
	long sum = 0, v;
	size_t n = strlen(name);
	FILE *s = fopen("/proc/self/smaps", "r");

	if (!s)
		return -1;
	while (fgets(line, sizeof(line), s))
		if (!strncmp(line, name, n) && line[n] == ':' &&
		    sscanf(line + n + 1, "%ld", &v) == 1)
			sum += v;
	fclose(s);
	return sum;
}

/*
 * MADV_(UN)MERGEABLE: 0, as on any shared mapping (KSM merges private
 * anonymous memory only), or EINVAL from a kernel without KSM (the debug
 * kernel), which QEMU ignores.  0 or the unexpected errno.
 */
static int ksm_madvise(void *addr, size_t len, int advice)
{
	bool ksm = !access("/sys/kernel/mm/ksm", F_OK);

	if (!madvise(addr, len, advice))
		return ksm ? 0 : EEXIST;
	return !ksm && errno == EINVAL ? 0 : errno;
}

/* Does the mapping at @addr carry VmFlags @flag (smaps' two letters)? */
static bool vma_has_flag(void *addr, const char *flag)
{
	char line[512], want[8];
	unsigned long lo, hi;
	bool in = false, ret = false;
	FILE *s = fopen("/proc/self/smaps", "r");

	if (!s)
		return false;
	snprintf(want, sizeof(want), " %s", flag);
	while (fgets(line, sizeof(line), s)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = lo <= (unsigned long)addr && (unsigned long)addr < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			line[strcspn(line, "\n")] = ' ';
			strcat(line, " ");
			snprintf(want, sizeof(want), " %s ", flag);
			ret = strstr(line, want) != NULL;
			break;
		}
	}
	fclose(s);
	return ret;
}

/*
 * What QEMU does to guest RAM.  HUGEPAGE never makes a huge mapping over
 * pages that are missing: faults stay per page.
 */
TEST_F(umemfs, madvise)
{
	struct umem_fix *f = &self->f;
	const uint64_t pages = 1024;	/* two 2 MiB extents */
	struct umem_request req;
	uint64_t p;
	pid_t pid;
	int status;

	file_setup(_metadata, f, self->path, pages, true);
	serve_path(_metadata, f, self->path);
	EXPECT_EQ(0, madvise(f->map, pages * f->psz, MADV_DONTDUMP));
	EXPECT_EQ(0, umem_thp_madvise(f->map, pages * f->psz, MADV_HUGEPAGE));
	EXPECT_EQ(0, ksm_madvise(f->map, pages * f->psz, MADV_MERGEABLE));
	EXPECT_EQ(0, madvise(f->map, pages * f->psz, MADV_DONTFORK));

	/* Every other page of the region supplied, and touched. */
	for (p = 0; p < pages; p += 2)
		ASSERT_EQ(0, umem_supply(f, p));
	for (p = 0; p < pages; p += 2)
		ASSERT_TRUE(umem_page_ok(f, p));
	EXPECT_EQ(0, smaps_kb("FilePmdMapped"));
	EXPECT_EQ(0, smaps_kb("ShmemPmdMapped"));
	EXPECT_EQ(0, smaps_kb("AnonHugePages"));
	/* A missing page between them still faults on its own. */
	EXPECT_EQ(0, fd_readable(f->srv, 0));
	/* DONTFORK: no fork child sees the mapping. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(f->srv);
		_exit(*(volatile char *)(f->map + 3 * f->psz));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	EXPECT_EQ(0, fd_readable(f->srv, 0));
	EXPECT_EQ(0, madvise(f->map, pages * f->psz, MADV_DOFORK));

	pid = umem_fork_reader(f, 3);
	ASSERT_LT(0, pid);
	ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
	EXPECT_EQ(3, req.pgoff);
	ASSERT_EQ(0, umem_supply(f, 3));
	EXPECT_EQ(0, umem_wait_child(pid));

	/* DONTNEED drops the mapping, not the page: it reads the same. */
	EXPECT_EQ(0, madvise(f->map, pages * f->psz, MADV_DONTNEED));
	EXPECT_TRUE(umem_page_ok(f, 0));
	EXPECT_TRUE(umem_page_ok(f, 3));
	EXPECT_EQ(0, umem_thp_madvise(f->map, pages * f->psz, MADV_NOHUGEPAGE));
	EXPECT_EQ(0, ksm_madvise(f->map, pages * f->psz, MADV_UNMERGEABLE));
	/*
	 * DODUMP refuses VM_SPECIAL mappings, VM_DONTEXPAND among them
	 * (mm/madvise.c): it works once a umem mapping is not DONTEXPAND.
	 */
	if (vma_has_flag(f->map, "de")) {
		EXPECT_EQ(-1, madvise(f->map, pages * f->psz, MADV_DODUMP));
		EXPECT_EQ(EINVAL, errno);
	} else {
		EXPECT_EQ(0, madvise(f->map, pages * f->psz, MADV_DODUMP));
	}
}

/* The mount's deadline: a region whose server died fails after it. */
TEST(umemfs__mount_deadline)
{
	struct umem_fix f = { .ctl = -1, .srv = -1, .shm = -1 };
	char dir[64], path[96];
	uint64_t t0, dt;
	pid_t pid;

	f.psz = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, mount_umemfs(dir, "detach_timeout_ms=300"));
	snprintf(path, sizeof(path), "%s/vm", dir);
	file_setup(_metadata, &f, path, 4, true);
	serve_path(_metadata, &f, path);
	ASSERT_EQ(0, umem_supply(&f, 0));
	close(f.srv);
	close(f.shm);
	f.srv = f.shm = -1;
	t0 = umem_now_ms();
	pid = umem_fork_reader(&f, 1);
	ASSERT_LT(0, pid);
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(pid));
	dt = umem_now_ms() - t0;
	EXPECT_LE(250, dt);
	EXPECT_GT(30000, dt);
	EXPECT_EQ(UMEM_STATE_FAILED, stats_of(f.ctl).state);
	EXPECT_TRUE(umem_page_ok(&f, 0));
	umem_fix_teardown(&f);
	umount_umemfs(dir);
}

/* kernel_efault: kernel access to a missing page fails at once. */
TEST(umemfs__mount_kernel_efault)
{
	struct umem_fix f = { .ctl = -1, .srv = -1, .shm = -1 };
	struct umem_request req;
	char dir[64], path[96];
	int pipefd[2];
	pid_t pid;

	f.psz = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, mount_umemfs(dir, "detach_timeout_ms=60000,kernel_efault"));
	snprintf(path, sizeof(path), "%s/vm", dir);
	file_setup(_metadata, &f, path, 4, true);
	serve_path(_metadata, &f, path);
	ASSERT_EQ(0, pipe(pipefd));
	/* write() reads the buffer with copy_from_user(): a kernel fault. */
	EXPECT_EQ(-1, write(pipefd[1], f.map + f.psz, 64));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	EXPECT_EQ(1, req.pgoff);
	EXPECT_TRUE(req.flags & UMEM_REQ_KERNEL);
	ASSERT_EQ(0, umem_supply(&f, 1));
	EXPECT_EQ(64, write(pipefd[1], f.map + f.psz, 64));
	close(pipefd[0]);
	close(pipefd[1]);
	umem_fix_teardown(&f);
	umount_umemfs(dir);

	/* Without it, the same write waits for the page. */
	memset(&f, 0, sizeof(f));
	f.ctl = f.srv = f.shm = -1;
	f.psz = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, mount_umemfs(dir, "detach_timeout_ms=60000"));
	snprintf(path, sizeof(path), "%s/vm", dir);
	file_setup(_metadata, &f, path, 4, true);
	serve_path(_metadata, &f, path);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(f.srv);
		_exit(write(pipefd[1], f.map + f.psz, 64) == 64 ? 0 : 1);
	}
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	EXPECT_EQ(1, req.pgoff);
	EXPECT_TRUE(req.flags & UMEM_REQ_KERNEL);
	ASSERT_EQ(0, umem_supply(&f, 1));
	EXPECT_EQ(0, umem_wait_child(pid));
	close(pipefd[0]);
	close(pipefd[1]);
	umem_fix_teardown(&f);
	umount_umemfs(dir);
}

/*
 * UMEM_IOC_INIT on a file may state a policy stronger than its mount's,
 * never a weaker one (issue 20, item 4): on a kernel_efault mount anyone
 * who can create a file could otherwise drop the flag, state an endless
 * deadline, and block a copy_from_user() from a missing page at will.
 * Before, any flags and any deadline were taken.
 */
TEST(umemfs__ioc_init_keeps_policy)
{
	struct umem_api api = { .api = UMEM_API_VERSION };
	struct umem_init init = { 0 };
	char dir[64], path[96];
	struct umem_stats st;
	int fd, pipefd[2];
	uint32_t psz = sysconf(_SC_PAGESIZE);
	struct stat sb;
	char *map;

	ASSERT_EQ(0, mount_umemfs(dir, "detach_timeout_ms=1000,kernel_efault,mode=1777"));
	snprintf(path, sizeof(path), "%s/vm", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, UMEM_IOC_API, &api));
	init.size = 4 * psz;
	/* The mount's flag dropped: EPERM. */
	init.flags = 0;
	init.detach_timeout_ms = 1000;
	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_INIT, &init));
	EXPECT_EQ(EPERM, errno);
	/* A longer deadline: EPERM. */
	init.flags = UMEM_INIT_KERNEL_EFAULT;
	init.detach_timeout_ms = UINT32_MAX;
	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_INIT, &init));
	EXPECT_EQ(EPERM, errno);
	init.detach_timeout_ms = 1001;
	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_INIT, &init));
	EXPECT_EQ(EPERM, errno);
	/* An unknown flag is still EINVAL. */
	init.flags = UMEM_INIT_KERNEL_EFAULT | (1U << 31);
	init.detach_timeout_ms = 0;
	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_INIT, &init));
	EXPECT_EQ(EINVAL, errno);
	/* Nothing was made. */
	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_STATS, &st));
	EXPECT_EQ(ENXIO, errno);
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(0, sb.st_size);
	/* As strong (a shorter deadline is stronger): made. */
	init.flags = UMEM_INIT_KERNEL_EFAULT;
	init.detach_timeout_ms = 500;
	EXPECT_EQ(0, ioctl(fd, UMEM_IOC_INIT, &init))
		TH_LOG("UMEM_IOC_INIT: %s", strerror(errno));
	EXPECT_EQ(0, ioctl(fd, UMEM_IOC_STATS, &st));
	EXPECT_EQ(4 * psz, st.size);
	/* And kernel_efault holds: a kernel read of a missing page fails. */
	map = mmap(NULL, 4 * psz, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_NE(MAP_FAILED, map);
	/*
	 * Not after a failure: a region made without the flag would block
	 * the write (it has no server), and the mount would stay.
	 */
	if (_metadata->passed && map != MAP_FAILED && !pipe(pipefd)) {
		EXPECT_EQ(-1, write(pipefd[1], map, 64));
		EXPECT_EQ(EFAULT, errno);
		close(pipefd[0]);
		close(pipefd[1]);
		munmap(map, 4 * psz);
	}
	/* No ASSERT up to here: the mount must go, or rmmod fails. */
	close(fd);
	umount_umemfs(dir);
}

/* rmmod is refused while a umemfs is mounted, even an empty one. */
TEST(umemfs__rmmod_refused_while_mounted)
{
	char dir[64];

	if (getuid() != 0)
		SKIP(return, "needs root");
	ASSERT_EQ(0, mount_umemfs(dir, "detach_timeout_ms=1"));
	EXPECT_EQ(-1, syscall(SYS_delete_module, "umem", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	umount_umemfs(dir);
}

/*
 * QEMU 7.2's memory-backend-file,mem-path=DIR,share=on, call by call
 * (backends/hostmem-file.c, softmmu/physmem.c, util/mmap-alloc.c), then
 * a daemon found through /proc/PID/fd, as `umemd --pid` finds it.
 */
TEST_F(umemfs, qemu_sequence)
{
	struct umem_fix *f = &self->f;
	const uint64_t size = 256 * f->psz, align = 2 << 20;
	struct umem_request req;
	char tmpl[128], proc[64];
	struct stat sb;
	char *resv, *guest;
	uint64_t *w;
	pid_t pid;

	snprintf(tmpl, sizeof(tmpl), "%s/qemu_back_mem.pc.ram.XXXXXX", self->dir);
	f->ctl = mkstemp(tmpl);
	ASSERT_LE(0, f->ctl) TH_LOG("mkstemp: %s", strerror(errno));
	ASSERT_EQ(0, unlink(tmpl));
	ASSERT_EQ(0, fstat(f->ctl, &sb));
	EXPECT_EQ(0, sb.st_size);
	EXPECT_EQ(0, lseek(f->ctl, 0, SEEK_END));
	ASSERT_EQ(0, ftruncate(f->ctl, size));
	f->pages = size / f->psz;
	/* qemu_ram_mmap(): reserve with PROT_NONE, map the file over it. */
	resv = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, resv);
	guest = (char *)(((uintptr_t)resv + align - 1) & ~(align - 1));
	ASSERT_EQ(guest, mmap(guest, size, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_FIXED, f->ctl, 0))
		TH_LOG("mmap: %s", strerror(errno));
	f->map = guest;
	EXPECT_EQ(0, madvise(guest, size, MADV_DONTDUMP));
	EXPECT_EQ(0, umem_thp_madvise(guest, size, MADV_HUGEPAGE));
	EXPECT_EQ(0, ksm_madvise(guest, size, MADV_MERGEABLE));
	EXPECT_EQ(0, madvise(guest, size, MADV_DONTFORK));

	/* A vCPU writes guest RAM; umemd --pid attaches meanwhile. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* DONTFORK: the child maps the file again, as QEMU's would. */
		char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       f->ctl, 0);

		if (m == MAP_FAILED)
			_exit(2);
		((volatile uint64_t *)(m + 9 * f->psz))[1] = 0xabcd;
		_exit(((volatile uint64_t *)(m + 9 * f->psz))[0] ==
		      umem_pattern(9, 0) ? 0 : 1);
	}
	snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", getpid(), f->ctl);
	serve_path(_metadata, f, proc);
	ASSERT_EQ(sizeof(req), umem_read_req(f, &req));
	EXPECT_EQ(9, req.pgoff);
	EXPECT_TRUE(req.flags & UMEM_REQ_WRITE);
	ASSERT_EQ(0, umem_supply(f, 9));
	EXPECT_EQ(0, umem_wait_child(pid));
	w = (uint64_t *)(guest + 9 * f->psz);
	EXPECT_EQ(umem_pattern(9, 0), w[0]);
	EXPECT_EQ(0xabcd, w[1]);
	/* ram_block_discard_range(): punch the file. */
	EXPECT_EQ(0, fallocate(f->ctl, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       9 * f->psz, f->psz));
	EXPECT_EQ(0, w[1]);
	munmap(resv, size + align);
	f->map = NULL;
}

#define UMEMD	"/tests/umemd"
#define UMEMCTL	"/tests/umemctl"

/* Run umemd with @args (NULL-terminated); its stderr to @err. */
static pid_t spawn_umemd(const char *const *args, const char *err)
{
	const char *argv[16] = { UMEMD };
	pid_t pid;
	int i;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	pid = fork();
	if (pid == 0) {
		int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0)
			dup2(fd, 2);
		execv(UMEMD, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static bool file_has(const char *path, const char *what)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = 0;
	return strstr(buf, what) != NULL;
}

/*
 * umemd --pid finds the VMM's one umemfs file (unlinked, as QEMU's) and
 * serves it to completion from a snapshot; with none, or several, it
 * says so and names them.
 */
TEST_F(umemfs, umemd_pid)
{
	struct umem_fix *f = &self->f;
	const uint64_t pages = 64;
	char snap[96], err[96], pidstr[16], other[128];
	uint64_t buf[512], p, i;
	int snapfd, fd2, bad = 0;
	pid_t pid;

	const char *none[] = { "--pid", pidstr, "--snapshot", "/dev/null",
			       "--progress", "none", NULL };
	const char *two[] = { "--pid", pidstr, "--snapshot", snap,
			      "--progress", "none", NULL };
	const char *match[] = { "--pid", pidstr, "--path-match", "/vm",
				"--snapshot", snap, "--progress", "none", NULL };
	const char *empty[] = { "--path", other, "--snapshot", snap,
				"--progress", "none", NULL };

	if (access(UMEMD, X_OK))
		SKIP(return, "%s: not in the test VM", UMEMD);
	snprintf(pidstr, sizeof(pidstr), "%d", getpid());
	snprintf(err, sizeof(err), "%s.err", self->dir);

	/* No umemfs file open yet. */
	pid = spawn_umemd(none, err);
	ASSERT_LT(0, pid);
	EXPECT_EQ(2, umem_wait_child(pid));
	EXPECT_TRUE(file_has(err, "has no umemfs file open"));

	snprintf(snap, sizeof(snap), "%s.snap", self->dir);
	snapfd = open(snap, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, snapfd);
	ASSERT_GE(sizeof(buf), f->psz);
	for (p = 0; p < pages; p++) {
		for (i = 0; i < f->psz / 8; i++)
			buf[i] = umem_pattern(p, i);
		ASSERT_EQ(f->psz, pwrite(snapfd, buf, f->psz, p * f->psz));
	}
	close(snapfd);

	file_setup(_metadata, f, self->path, pages, true);
	ASSERT_EQ(0, unlink(self->path));
	/* Two files: which one?  umemd names both. */
	snprintf(other, sizeof(other), "%s/other", self->dir);
	fd2 = open(other, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd2);
	pid = spawn_umemd(two, err);
	ASSERT_LT(0, pid);
	EXPECT_EQ(2, umem_wait_child(pid));
	EXPECT_TRUE(file_has(err, "umemfs files open"));
	EXPECT_TRUE(file_has(err, "/other"));
	EXPECT_TRUE(file_has(err, "/vm (deleted)"));
	/* --path-match picks one. */
	pid = spawn_umemd(match, err);
	ASSERT_LT(0, pid);
	/* The guest reads every page while umemd serves and streams. */
	for (p = pages; p-- > 0;)
		if (!umem_page_ok(f, p))
			bad++;
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, umem_wait_child(pid));
	EXPECT_EQ(UMEM_STATE_COMPLETE, stats_of(f->ctl).state);
	/* umemctl stat on the file, through /proc as for an unlinked one. */
	if (!access(UMEMCTL, X_OK)) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), UMEMCTL " stat /proc/%d/fd/%d > %s 2>&1",
			 getpid(), f->ctl, err);
		EXPECT_EQ(0, system(cmd));
		EXPECT_TRUE(file_has(err, "64 pages of")) TH_LOG("umemctl stat FILE");
		EXPECT_TRUE(file_has(err, "complete"));
		snprintf(cmd, sizeof(cmd), UMEMCTL " stat %s > %s 2>&1", other, err);
		EXPECT_NE(0, system(cmd));
		EXPECT_TRUE(file_has(err, "no region yet"));
	}
	close(fd2);
	/* --path on an empty file: no region yet, said so. */
	pid = spawn_umemd(empty, err);
	ASSERT_LT(0, pid);
	EXPECT_EQ(2, umem_wait_child(pid));
	EXPECT_TRUE(file_has(err, "has no region yet"));
	unlink(snap);
	unlink(err);
}

TEST_HARNESS_MAIN
