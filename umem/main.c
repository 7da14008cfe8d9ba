// SPDX-License-Identifier: GPL-2.0
/*
 * umem: module setup.  The backing tmpfs first (every region's shmem
 * file lives there), then /dev/umem (dev.c), then umemfs (fs.c); torn
 * down in the reverse order.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/module.h>

#include "umem.h"

static int __init umem_init(void)
{
	int ret;

	/* The ABI layout is fixed: selftests/umem/header_check.c agrees. */
	BUILD_BUG_ON(sizeof(struct umem_api) != 64);
	BUILD_BUG_ON(sizeof(struct umem_init) != 64);
	BUILD_BUG_ON(sizeof(struct umem_serve) != 64);
	BUILD_BUG_ON(sizeof(struct umem_request) != 16);
	BUILD_BUG_ON(sizeof(struct umem_range) != 16);
	BUILD_BUG_ON(sizeof(struct umem_stats) != 400);
	BUILD_BUG_ON(sizeof(struct umem_bitmap) != 64);

	ret = umem_region_init();
	if (ret) {
		pr_err("cannot mount the backing tmpfs: %d\n", ret);
		return ret;
	}
	ret = umem_dev_init();
	if (ret)
		goto err_region;
	ret = umem_fs_init();
	if (ret) {
		pr_err("cannot register the umem filesystem: %d\n", ret);
		goto err_dev;
	}
	return 0;

err_dev:
	umem_dev_exit();
err_region:
	umem_region_exit();
	return ret;
}

static void __exit umem_exit(void)
{
	umem_fs_exit();
	umem_dev_exit();
	umem_region_exit();
}

module_init(umem_init);
module_exit(umem_exit);

MODULE_DESCRIPTION("User-process-backed memory for postcopy live migration");
MODULE_AUTHOR("The umem developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(UMEM_VERSION);
