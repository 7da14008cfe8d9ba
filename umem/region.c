// SPDX-License-Identifier: GPL-2.0
/*
 * umem: region lifetime.
 *
 * A region is the memory behind one control fd after UMEM_IOC_INIT: a
 * shmem file that will hold the supplied pages, and the policy stated at
 * init.  It is reference counted, so that the fd, and later the server fd
 * and the mappings, can each keep it alive; the last reference frees it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>

#include "umem.h"

static unsigned long long max_region_bytes = 64ULL << 30;
module_param(max_region_bytes, ullong, 0644);
MODULE_PARM_DESC(max_region_bytes, "Largest region UMEM_IOC_INIT accepts, in bytes (default 64 GiB)");

static unsigned int max_regions = 64;
module_param(max_regions, uint, 0644);
MODULE_PARM_DESC(max_regions, "Most regions that may exist at once (default 64)");

static atomic_t umem_nr_regions = ATOMIC_INIT(0);

/* Take one of the max_regions slots; the limit may change at any time. */
static bool umem_region_slot_get(void)
{
	int n = atomic_read(&umem_nr_regions);

	do {
		if (n >= READ_ONCE(max_regions))
			return false;
	} while (!atomic_try_cmpxchg(&umem_nr_regions, &n, n + 1));
	return true;
}

static void umem_region_slot_put(void)
{
	atomic_dec(&umem_nr_regions);
}

static int umem_init_check(const struct umem_init *init)
{
	if ((init->flags & ~UMEM_INIT_FLAGS_ALL) ||
	    !umem_reserved_zero(init->reserved, ARRAY_SIZE(init->reserved)))
		return -EINVAL;
	if (!init->size || !PAGE_ALIGNED(init->size))
		return -EINVAL;
	if (init->size > READ_ONCE(max_region_bytes) ||
	    init->size > MAX_LFS_FILESIZE)
		return -E2BIG;
	return 0;
}

/**
 * umem_region_create - validate @init and create a region for it
 * @init: the caller's request, already copied in
 *
 * Return: the region holding one reference, or an ERR_PTR: -EINVAL,
 * -E2BIG, -ENOSPC or -ENOMEM as documented for UMEM_IOC_INIT.  Nothing
 * is left behind on failure.
 */
struct umem_region *umem_region_create(const struct umem_init *init)
{
	struct umem_region *region;
	struct file *shmem;
	int ret;

	ret = umem_init_check(init);
	if (ret)
		return ERR_PTR(ret);
	if (!umem_region_slot_get())
		return ERR_PTR(-ENOSPC);

	region = kzalloc(sizeof(*region), GFP_KERNEL_ACCOUNT);
	if (!region) {
		ret = -ENOMEM;
		goto err_slot;
	}
	/*
	 * VM_NORESERVE: a region is sparse until the daemon fills it, so
	 * memory is charged page by page as it arrives, not up front.
	 */
	shmem = shmem_file_setup("umem", init->size, VM_NORESERVE);
	if (IS_ERR(shmem)) {
		ret = PTR_ERR(shmem);
		goto err_free;
	}

	kref_init(&region->ref);
	region->shmem = shmem;
	region->size = init->size;
	region->nr_pages = init->size >> PAGE_SHIFT;
	region->flags = init->flags;
	region->detach_timeout_ms = init->detach_timeout_ms;
	return region;

err_free:
	kfree(region);
err_slot:
	umem_region_slot_put();
	return ERR_PTR(ret);
}

static void umem_region_release(struct kref *ref)
{
	struct umem_region *region = container_of(ref, struct umem_region, ref);

	fput(region->shmem);
	kfree(region);
	umem_region_slot_put();
}

void umem_region_put(struct umem_region *region)
{
	kref_put(&region->ref, umem_region_release);
}
