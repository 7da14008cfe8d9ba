/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umem: internal declarations shared by the module's files.
 */
#ifndef _UMEM_UMEM_H
#define _UMEM_UMEM_H

#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/umem.h>

struct file;

/**
 * struct umem_region - the memory behind a control fd after UMEM_IOC_INIT
 * @ref:		one reference per holder (control fd, for now)
 * @shmem:		the backing shmem file; supplied pages live here
 * @size:		region size in bytes
 * @nr_pages:		region size in pages
 * @flags:		UMEM_INIT_* flags
 * @detach_timeout_ms:	how long waiters stay parked without a server
 */
struct umem_region {
	struct kref ref;
	struct file *shmem;
	u64 size;
	pgoff_t nr_pages;
	u32 flags;
	u32 detach_timeout_ms;
};

/**
 * struct umem_ctl - state of one open control fd of /dev/umem
 * @lock:	serialises changes of the fd's configuration
 * @api:	version agreed by UMEM_IOC_API, 0 before the handshake
 * @features:	feature set agreed by UMEM_IOC_API
 * @region:	the region made by UMEM_IOC_INIT, NULL before
 */
struct umem_ctl {
	struct mutex lock;	/* protects @api, @features and @region */
	u32 api;
	u64 features;
	struct umem_region *region;
};

static inline bool umem_reserved_zero(const __u64 *reserved, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (reserved[i])
			return false;
	return true;
}

struct umem_region *umem_region_create(const struct umem_init *init);
void umem_region_put(struct umem_region *region);

#endif /* _UMEM_UMEM_H */
