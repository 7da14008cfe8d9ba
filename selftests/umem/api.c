// SPDX-License-Identifier: GPL-2.0
/*
 * api: /dev/umem itself and the UMEM_IOC_API version/feature handshake.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/umem.h>

#include "kselftest_harness.h"
#include "umem_test.h"

FIXTURE(api) {
	int fd;
	struct umem_api req;
};

FIXTURE_SETUP(api)
{
	self->fd = open("/dev/umem", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/umem: %s", strerror(errno));
	memset(&self->req, 0, sizeof(self->req));
	self->req.api = UMEM_API_VERSION;
}

FIXTURE_TEARDOWN(api)
{
	close(self->fd);
}

/* The device node is a root-only misc character device. */
TEST_F(api, device__node)
{
	struct stat st;

	ASSERT_EQ(0, stat("/dev/umem", &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(10, major(st.st_rdev));
	EXPECT_EQ(0600, st.st_mode & 0777);
}

TEST_F(api, handshake__ok)
{
	long psz = sysconf(_SC_PAGESIZE);

	ASSERT_EQ(0, ioctl(self->fd, UMEM_IOC_API, &self->req));
	EXPECT_EQ(UMEM_API_VERSION, self->req.api);
	EXPECT_EQ(psz, self->req.page_size);
	EXPECT_EQ(UMEM_FEATURES_ALL, self->req.features);
}

/* Repeating the same handshake is harmless. */
TEST_F(api, handshake__repeat_same)
{
	struct umem_api again = self->req;

	ASSERT_EQ(0, ioctl(self->fd, UMEM_IOC_API, &self->req));
	ASSERT_EQ(0, ioctl(self->fd, UMEM_IOC_API, &again));
	EXPECT_EQ(self->req.page_size, again.page_size);
}

TEST_F(api, handshake__bad_version)
{
	self->req.api = 0;
	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_API, &self->req));
	EXPECT_EQ(EINVAL, errno);

	self->req.api = UMEM_API_VERSION + 1;
	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_API, &self->req));
	EXPECT_EQ(EINVAL, errno);

	/* A failed handshake leaves the fd unconfigured. */
	self->req.api = UMEM_API_VERSION;
	EXPECT_EQ(0, ioctl(self->fd, UMEM_IOC_API, &self->req));
}

TEST_F(api, handshake__unknown_feature)
{
	int bit;

	for (bit = 0; bit < 64; bit++) {
		if (UMEM_FEATURES_ALL & (1ULL << bit))
			continue;
		self->req.features = 1ULL << bit;
		EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_API, &self->req))
			TH_LOG("feature bit %d accepted", bit);
		EXPECT_EQ(EINVAL, errno);
	}
}

TEST_F(api, handshake__reserved_nonzero)
{
	EXPECT_RESERVED_CHECKED(self->fd, UMEM_IOC_API, &self->req);
}

TEST_F(api, handshake__bad_address)
{
	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_API, umem_bad_addr()));
	EXPECT_EQ(EFAULT, errno);
}

/*
 * An argument the module can read but not write back: the handshake fails
 * with EFAULT and, like every failed ioctl, changes nothing: the fd still
 * has no handshake, so UMEM_IOC_INIT fails with ENXIO.
 */
TEST_F(api, handshake__readonly_argument)
{
	struct umem_init init = { .size = 1 << 20, .detach_timeout_ms = 1000 };
	long psz = sysconf(_SC_PAGESIZE);
	struct umem_api *ro;

	ro = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	*ro = self->req;
	ASSERT_EQ(0, mprotect(ro, psz, PROT_READ));

	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_API, ro));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_INIT, &init))
		TH_LOG("a failed handshake was recorded");
	EXPECT_EQ(ENXIO, errno);

	/* The fd is as new: a good handshake, then init, work. */
	ASSERT_EQ(0, ioctl(self->fd, UMEM_IOC_API, &self->req));
	EXPECT_EQ(0, ioctl(self->fd, UMEM_IOC_INIT, &init));
	munmap(ro, psz);
}

/*
 * Version 1 has one valid version and no optional feature: a repeated
 * handshake is either the same one (success) or invalid (EINVAL), and
 * EBUSY, kept for later versions, cannot occur.
 */
TEST_F(api, handshake__repeat_no_ebusy)
{
	struct umem_api again;

	ASSERT_EQ(0, ioctl(self->fd, UMEM_IOC_API, &self->req));
	again = self->req;
	again.api = UMEM_API_VERSION + 1;
	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_API, &again));
	EXPECT_EQ(EINVAL, errno);
	again = self->req;
	again.features = 1;
	EXPECT_EQ(-1, ioctl(self->fd, UMEM_IOC_API, &again));
	EXPECT_EQ(EINVAL, errno);
	again = self->req;
	EXPECT_EQ(0, ioctl(self->fd, UMEM_IOC_API, &again));
}

/*
 * A control fd opened read-only can make the handshake and nothing else
 * of use: it can never hold a region (UMEM_IOC_INIT fails with EBADF,
 * and a region belongs to the fd that made it), so stats and mmap on it
 * fail with ENXIO, and so does UMEM_IOC_SERVE's region check after EBADF.
 */
TEST_F(api, open__readonly)
{
	struct umem_init init = { .size = 1 << 20, .detach_timeout_ms = 1000 };
	long psz = sysconf(_SC_PAGESIZE);
	struct umem_serve sv = { 0 };
	struct umem_stats st;
	int ro = open("/dev/umem", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, ro);
	EXPECT_EQ(0, ioctl(ro, UMEM_IOC_API, &self->req));
	EXPECT_EQ(-1, ioctl(ro, UMEM_IOC_INIT, &init));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ioctl(ro, UMEM_IOC_SERVE, &sv));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ioctl(ro, UMEM_IOC_STATS, &st));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, psz, PROT_READ, MAP_SHARED, ro, 0));
	EXPECT_EQ(ENXIO, errno);
	close(ro);
}

/* Each open() is independent: a handshake on one fd binds no other. */
TEST_F(api, open__independent)
{
	int fd2 = open("/dev/umem", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioctl(self->fd, UMEM_IOC_API, &self->req));
	memset(&self->req, 0, sizeof(self->req));
	self->req.api = UMEM_API_VERSION;
	EXPECT_EQ(0, ioctl(fd2, UMEM_IOC_API, &self->req));
	close(fd2);
}

TEST_F(api, ioctl__unknown)
{
	struct umem_api big[2] = { 0 };

	/* Another number, and the right number with another size. */
	EXPECT_EQ(-1, ioctl(self->fd, _IO(UMEM_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IOWR(UMEM_IOC_MAGIC, 0x00, big), big));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IOR(UMEM_IOC_MAGIC, 0x00, struct umem_api),
			    &self->req));
	EXPECT_EQ(ENOTTY, errno);
}

/* An open fd pins the module: unloading it must be refused. */
TEST_F(api, module__unload_busy)
{
	EXPECT_EQ(-1, syscall(SYS_delete_module, "umem", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
}

TEST_HARNESS_MAIN
