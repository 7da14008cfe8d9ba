// SPDX-License-Identifier: GPL-2.0
/*
 * umemctl: command-line tool for /dev/umem.  One subcommand per file:
 * source.c, migrate.c, incoming.c, vmm.c, stat.c; the small ones live
 * here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/umem.h>

#include "commands.h"
#include "wire.h"

static int usage(FILE *f)
{
	fprintf(f,
		"usage: umemctl COMMAND [ARGS]   (umemctl COMMAND --help for more)\n"
		"  info [DEVICE]        handshake with the umem module and print its\n"
		"                       protocol version, page size and features\n"
		"                       (DEVICE defaults to /dev/umem)\n"
		"  source ...           serve a memory image to umemd over TCP\n"
		"  migrate ...          live-migrate a QEMU guest onto umem (source host)\n"
		"  incoming ...         receive it: a QEMU with its RAM on umem\n"
		"                       (destination host)\n"
		"  vmm ...              run a postcopy destination VMM over a region\n"
		"                       filled by umemd, and verify every page\n"
		"  stat [--watch MS] PID [FD]\n"
		"                       print the stats of a live region\n"
		"  mkimage FILE SPEC    write image SPEC (pattern:SIZE[:SEED]) to FILE,\n"
		"                       e.g. a snapshot for umemd --snapshot\n"
		"  --version            print the release of umemctl\n"
		"The destination daemon is a program of its own: umemd --help.\n");
	return f == stderr ? 2 : 0;
}

/*
 * The image is written through a shared mapping of FILE, allocated first:
 * that works on hugetlbfs (a QEMU's RAM file on huge pages), which has no
 * write(), and a full filesystem fails the allocation, not a store.
 */
static int cmd_mkimage(int argc, char **argv)
{
	struct image img;
	char err[256];
	uint8_t *map;
	uint64_t p;
	int fd;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: umemctl mkimage FILE SPEC\n"
		       "Write the image SPEC (pattern:SIZE[:SEED]) to FILE, page by page,\n"
		       "through a mapping: FILE may be on hugetlbfs.\n");
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: umemctl mkimage FILE SPEC\n");
		return 2;
	}
	if (image_open(&img, argv[2], sysconf(_SC_PAGESIZE), err, sizeof(err))) {
		fprintf(stderr, "umemctl mkimage: %s\n", err);
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "umemctl mkimage: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (fallocate(fd, 0, 0, img.size) &&
	    (errno != EOPNOTSUPP || ftruncate(fd, img.size))) {
		fprintf(stderr, "umemctl mkimage: %s: %llu bytes: %s\n", argv[1],
			(unsigned long long)img.size, strerror(errno));
		return 1;
	}
	map = mmap(NULL, img.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "umemctl mkimage: %s: mmap: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (p = 0; p < img.size / img.page_size; p++)
		image_page(&img, p, map + p * img.page_size);
	if (msync(map, img.size, MS_SYNC) || close(fd)) {
		fprintf(stderr, "umemctl mkimage: writing %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	munmap(map, img.size);
	image_close(&img);
	return 0;
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
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("umemctl %s\n", UMEM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "info")) {
		if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
			printf("usage: umemctl info [DEVICE]\n"
			       "Handshake with the umem module; print its version, page size, features.\n");
			return 0;
		}
		if (argc <= 3)
			return cmd_info(argc == 3 ? argv[2] : "/dev/umem");
	}
	if (!strcmp(argv[1], "source"))
		return cmd_source(argc - 1, argv + 1);
	if (!strcmp(argv[1], "migrate"))
		return cmd_migrate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "incoming"))
		return cmd_incoming(argc - 1, argv + 1);
	if (!strcmp(argv[1], "vmm"))
		return cmd_vmm(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stat"))
		return cmd_stat(argc - 1, argv + 1);
	if (!strcmp(argv[1], "mkimage"))
		return cmd_mkimage(argc - 1, argv + 1);
	fprintf(stderr, "umemctl: unknown command or arguments: %s\n", argv[1]);
	return usage(stderr);
}
