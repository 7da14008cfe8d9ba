// SPDX-License-Identifier: GPL-2.0
/*
 * access: who may open /dev/umem, and what a read-only control fd may do.
 *
 * Run as root in the test VM: the tests drop to an unprivileged user in
 * a child, and one reloads the module with another dev_mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/umem.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define NOBODY		65534
#define UMEM_GROUP	4242
#define MODULE_KO	"/modules/umem.ko"
#define DEV_MODE	"/sys/module/umem/parameters/dev_mode"

static unsigned int dev_mode_param(void)
{
	unsigned int mode = 0;
	FILE *f = fopen(DEV_MODE, "r");

	if (f) {
		if (fscanf(f, "%u", &mode) != 1)
			mode = 0;
		fclose(f);
	}
	return mode;
}

/*
 * In a child, become uid/gid NOBODY (with @group as the only supplementary
 * group, if not 0) and open /dev/umem with @flags.  Returns 0 if the open
 * succeeded, else its errno; -1 if the child could not drop privileges.
 */
static int open_as_nobody(gid_t group, int flags)
{
	pid_t pid = fork();
	int status, fd;

	if (pid == 0) {
		gid_t groups[1] = { group };

		if (setgroups(group ? 1 : 0, groups) || setgid(NOBODY) ||
		    setuid(NOBODY))
			_exit(255);
		fd = open("/dev/umem", flags | O_CLOEXEC);
		_exit(fd < 0 ? errno : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

FIXTURE(access) {
};

FIXTURE_SETUP(access)
{
}

FIXTURE_TEARDOWN(access)
{
}

/* The node has the mode of the dev_mode parameter: 0600 by default. */
TEST_F(access, node__mode)
{
	unsigned int mode = dev_mode_param();
	struct stat st;

	ASSERT_NE(0, mode) TH_LOG("no %s", DEV_MODE);
	ASSERT_EQ(0, stat("/dev/umem", &st));
	EXPECT_EQ(mode, st.st_mode & 0777);
	EXPECT_EQ(0, st.st_mode & 0007);
	EXPECT_EQ(0, st.st_uid);
}

/* Another user cannot open the device, for reading or for writing. */
TEST_F(access, open__unprivileged_denied)
{
	if (getuid() != 0)
		SKIP(return, "needs root to drop to another user");
	if (dev_mode_param() & 0060)
		SKIP(return, "dev_mode gives the group access");
	EXPECT_EQ(EACCES, open_as_nobody(0, O_RDWR));
	EXPECT_EQ(EACCES, open_as_nobody(0, O_RDONLY));
	EXPECT_EQ(EACCES, open_as_nobody(UMEM_GROUP, O_RDWR));
}

/*
 * The documented recipe: dev_mode=0660 and a udev rule giving the node to
 * a group.  Members of the group open it; others still cannot.  Needs the
 * module file, to reload it: the runner's initramfs has it.
 */
TEST_F(access, open__group_by_dev_mode)
{
	struct stat st;

	if (getuid() != 0 || access(MODULE_KO, R_OK))
		SKIP(return, "needs root and %s", MODULE_KO);
	/* No region may live across the reload: this test runs alone. */
	ASSERT_EQ(0, system("rmmod umem && insmod " MODULE_KO " dev_mode=0660"));
	EXPECT_EQ(0660, dev_mode_param());
	ASSERT_EQ(0, stat("/dev/umem", &st));
	EXPECT_EQ(0660, st.st_mode & 0777);
	/* What the udev rule does: GROUP="umem". */
	ASSERT_EQ(0, chown("/dev/umem", 0, UMEM_GROUP));
	EXPECT_EQ(0, open_as_nobody(UMEM_GROUP, O_RDWR));
	EXPECT_EQ(EACCES, open_as_nobody(0, O_RDWR));

	/* A mode that opens the device to everyone is refused. */
	ASSERT_EQ(0, system("rmmod umem"));
	EXPECT_NE(0, system("insmod " MODULE_KO " dev_mode=0666 2>/dev/null"));
	EXPECT_NE(0, system("insmod " MODULE_KO " dev_mode=01660 2>/dev/null"));
	ASSERT_EQ(0, system("insmod " MODULE_KO));
	EXPECT_EQ(0600, dev_mode_param());
}

/*
 * A control fd opened read-only makes the handshake, but can never create
 * a region or become a server: it could otherwise supply data.
 */
TEST_F(access, fd__read_only)
{
	struct umem_api api = { .api = UMEM_API_VERSION };
	struct umem_init init = { .detach_timeout_ms = 0 };
	struct umem_serve serve = { 0 };
	int fd = open("/dev/umem", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, UMEM_IOC_API, &api));
	init.size = api.page_size;
	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_INIT, &init));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_SERVE, &serve));
	EXPECT_EQ(EBADF, errno);
	/* No region was made: mapping it fails as before INIT. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, api.page_size, PROT_READ, MAP_SHARED,
				   fd, 0));
	EXPECT_EQ(ENXIO, errno);
	close(fd);
}

/*
 * Reopening a control fd through /proc/self/fd (read-only, say) gives a
 * new control fd of its own, with no region: no way into the region.
 */
TEST_F(access, fd__reopen_has_no_region)
{
	struct umemlib_region r;
	struct umem_stats st;
	char path[64];
	int fd;

	ASSERT_EQ(0, umemlib_create(&r, 4 * sysconf(_SC_PAGESIZE), 0))
		TH_LOG("%s", umemlib_strerror());
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r.ctl);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, UMEM_IOC_STATS, &st));
	EXPECT_EQ(ENXIO, errno);
	close(fd);
	umemlib_close(&r);
}

TEST_HARNESS_MAIN
