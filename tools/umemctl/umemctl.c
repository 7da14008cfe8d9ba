// SPDX-License-Identifier: GPL-2.0
/*
 * umemctl: command-line tool for /dev/umem.
 *
 *   umemctl info [DEVICE]   handshake with the module and print what it
 *                           supports
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/umem.h>

static int usage(FILE *f)
{
	fprintf(f,
		"usage: umemctl info [DEVICE]\n"
		"  info    handshake with the umem module and print its\n"
		"          protocol version, page size and features\n"
		"DEVICE defaults to /dev/umem.\n");
	return f == stderr ? 2 : 0;
}

static int cmd_info(const char *dev)
{
	struct umem_api api = { .api = UMEM_API_VERSION };
	int fd;

	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "umemctl: cannot open %s: %s%s\n", dev,
			strerror(errno),
			errno == ENOENT ? " (is the umem module loaded?)" : "");
		return 1;
	}
	if (ioctl(fd, UMEM_IOC_API, &api) < 0) {
		fprintf(stderr, "umemctl: %s: UMEM_IOC_API (version %d): %s\n",
			dev, UMEM_API_VERSION, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("device:    %s\n", dev);
	printf("api:       %" PRIu32 "\n", api.api);
	printf("page size: %" PRIu32 "\n", api.page_size);
	printf("features:  0x%" PRIx64 "\n", (uint64_t)api.features);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help"))
		return usage(stdout);
	if (!strcmp(argv[1], "info") && argc <= 3)
		return cmd_info(argc == 3 ? argv[2] : "/dev/umem");
	fprintf(stderr, "umemctl: unknown command or arguments: %s\n", argv[1]);
	return usage(stderr);
}
