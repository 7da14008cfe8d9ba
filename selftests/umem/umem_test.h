/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the umem selftests.  Include after kselftest_harness.h.
 */
#ifndef UMEM_TEST_H
#define UMEM_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/umem.h>

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

#endif /* UMEM_TEST_H */
