// SPDX-License-Identifier: GPL-2.0
/*
 * init: UMEM_IOC_INIT, sizing a region, and the module's region limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/umem.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define PARAM_DIR "/sys/module/umem/parameters/"

static unsigned long long param_read(const char *name)
{
	char path[128], buf[64] = "";
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		abort();
	close(fd);
	return strtoull(buf, NULL, 0);
}

static int param_write(const char *name, unsigned long long val)
{
	char path[128], buf[64];
	int fd, len, ret;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	len = snprintf(buf, sizeof(buf), "%llu", val);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ret = write(fd, buf, len) == len ? 0 : -1;
	close(fd);
	return ret;
}

FIXTURE(init) {
	int fd;
	uint32_t psz;
	struct umem_init req;
	unsigned long long saved_max_regions;
};

FIXTURE_SETUP(init)
{
	self->fd = umem_open_api(_metadata, &self->psz);
	memset(&self->req, 0, sizeof(self->req));
	self->req.size = 16ULL << 20;
	self->req.detach_timeout_ms = 1000;
	self->saved_max_regions = param_read("max_regions");
}

FIXTURE_TEARDOWN(init)
{
	close(self->fd);
	/* A test that lowered the limit puts it back, pass or fail. */
	param_write("max_regions", self->saved_max_regions);
}

static int init_size(int fd, struct umem_init *req, uint64_t size)
{
	req->size = size;
	return ioctl(fd, UMEM_IOC_INIT, req);
}

TEST_F(init, init__ok)
{
	EXPECT_EQ(0, ioctl(self->fd, UMEM_IOC_INIT, &self->req));
}

TEST_F(init, init__one_page)
{
	EXPECT_EQ(0, init_size(self->fd, &self->req, self->psz));
}

TEST_F(init, init__before_handshake)
{
	int fd = open("/dev/umem", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_INIT, &self->req));
	EXPECT_EQ(ENXIO, errno);
	close(fd);
}

TEST_F(init, init__twice)
{
	ASSERT_EQ(0, ioctl(self->fd, UMEM_IOC_INIT, &self->req));
	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_INIT, &self->req));
	EXPECT_EQ(EBUSY, errno);
}

TEST_F(init, init__size_zero)
{
	EXPECT_EQ(-1, init_size(self->fd, &self->req, 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(init, init__size_unaligned)
{
	EXPECT_EQ(-1, init_size(self->fd, &self->req, self->psz + 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, init_size(self->fd, &self->req, self->psz / 2));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, init_size(self->fd, &self->req, (16ULL << 20) - 1));
	EXPECT_EQ(EINVAL, errno);
	/* Nothing was created: a valid init still works. */
	EXPECT_EQ(0, init_size(self->fd, &self->req, self->psz));
}

/* The limit itself is accepted; one page more is not. */
TEST_F(init, init__size_limit)
{
	unsigned long long max = param_read("max_region_bytes");

	ASSERT_EQ(0, max % self->psz);
	EXPECT_EQ(-1, init_size(self->fd, &self->req, max + self->psz));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(0, init_size(self->fd, &self->req, max));
}

TEST_F(init, init__size_overflow)
{
	EXPECT_EQ(-1, init_size(self->fd, &self->req,
				UINT64_MAX & ~(uint64_t)(self->psz - 1)));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(-1, init_size(self->fd, &self->req, 1ULL << 63));
	EXPECT_EQ(E2BIG, errno);
}

TEST_F(init, init__unknown_flags)
{
	int bit;

	for (bit = 0; bit < 32; bit++) {
		if (UMEM_INIT_FLAGS_ALL & (1U << bit))
			continue;
		self->req.flags = 1U << bit;
		EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_INIT, &self->req))
			TH_LOG("flag bit %d accepted", bit);
		EXPECT_EQ(EINVAL, errno);
	}
}

TEST_F(init, init__reserved_nonzero)
{
	EXPECT_RESERVED_CHECKED(self->fd, UMEM_IOC_INIT, &self->req);
	/* Nothing was created: a valid init still works. */
	EXPECT_EQ(0, ioctl(self->fd, UMEM_IOC_INIT, &self->req));
}

TEST_F(init, init__bad_address)
{
	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_INIT, umem_bad_addr()));
	EXPECT_EQ(EFAULT, errno);
}

/* Any timeout is the caller's choice, 0 (SIGBUS at once) included. */
TEST_F(init, init__detach_timeout_any)
{
	int fd2 = umem_open_api(_metadata, NULL);

	self->req.detach_timeout_ms = 0;
	EXPECT_EQ(0, ioctl(self->fd, UMEM_IOC_INIT, &self->req));
	self->req.detach_timeout_ms = UINT32_MAX;
	EXPECT_EQ(0, ioctl(fd2, UMEM_IOC_INIT, &self->req));
	close(fd2);
}

/*
 * max_regions bounds the live regions: one more fails with ENOSPC, and
 * closing a region's fd frees its slot.
 */
TEST_F(init, limit__max_regions)
{
	int fds[3], extra, i;

	ASSERT_EQ(0, param_write("max_regions", 3));
	for (i = 0; i < 3; i++) {
		fds[i] = umem_open_api(_metadata, NULL);
		ASSERT_EQ(0, ioctl(fds[i], UMEM_IOC_INIT, &self->req));
	}
	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_INIT, &self->req));
	EXPECT_EQ(ENOSPC, errno);

	/* Opening and the handshake are not limited, only regions. */
	extra = umem_open_api(_metadata, NULL);
	close(extra);

	close(fds[0]);
	EXPECT_EQ(0, ioctl(self->fd, UMEM_IOC_INIT, &self->req));
	for (i = 1; i < 3; i++)
		close(fds[i]);
}

/* Lowering the limit below the live count refuses new regions. */
TEST_F(init, limit__lowered_below_live)
{
	int fd2 = umem_open_api(_metadata, NULL);

	ASSERT_EQ(0, ioctl(fd2, UMEM_IOC_INIT, &self->req));
	ASSERT_EQ(0, param_write("max_regions", 0));
	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_INIT, &self->req));
	EXPECT_EQ(ENOSPC, errno);
	close(fd2);
}

/*
 * Drop CAP_SYS_PTRACE from this process's effective set (the test runs
 * as root): the privilege unprivileged_kernel_efault looks for.
 */
static int drop_cap_sys_ptrace(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_TO_INDEX(CAP_SYS_PTRACE)].effective &=
		~CAP_TO_MASK(CAP_SYS_PTRACE);
	return syscall(SYS_capset, &h, d);
}

/*
 * In a child without CAP_SYS_PTRACE: UMEM_IOC_INIT with @flags on a new
 * /dev/umem fd.  Returns 0, or its errno (or 100 + a setup step).
 */
static int init_unprivileged(struct umem_init req, uint32_t flags)
{
	struct umem_api api = { .api = UMEM_API_VERSION };
	int status, fd;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return 100;
	if (pid == 0) {
		if (drop_cap_sys_ptrace())
			_exit(101);
		fd = open("/dev/umem", O_RDWR | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, UMEM_IOC_API, &api))
			_exit(102);
		req.flags = flags;
		_exit(ioctl(fd, UMEM_IOC_INIT, &req) ? errno : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 103;
	return WEXITSTATUS(status);
}

/*
 * unprivileged_kernel_efault (issue 20, item 4), umem's
 * vm.unprivileged_userfaultfd=0: set, a caller without CAP_SYS_PTRACE
 * makes a /dev/umem region only with UMEM_INIT_KERNEL_EFAULT (EPERM
 * otherwise); one with it states any policy.  Unset (the default),
 * anyone may.
 */
TEST_F(init, init__unprivileged_kernel_efault)
{
	ASSERT_EQ(0, param_write("unprivileged_kernel_efault", 1))
		TH_LOG("unprivileged_kernel_efault: %s", strerror(errno));
	EXPECT_EQ(EPERM, init_unprivileged(self->req, 0));
	EXPECT_EQ(0, init_unprivileged(self->req, UMEM_INIT_KERNEL_EFAULT));
	/* Unknown flags are still EINVAL. */
	EXPECT_EQ(EINVAL, init_unprivileged(self->req, 1U << 31));
	/* With CAP_SYS_PTRACE: any policy. */
	EXPECT_EQ(0, ioctl(self->fd, UMEM_IOC_INIT, &self->req))
		TH_LOG("root: %s", strerror(errno));
	ASSERT_EQ(0, param_write("unprivileged_kernel_efault", 0));
	EXPECT_EQ(0, init_unprivileged(self->req, 0));
}

TEST_HARNESS_MAIN
