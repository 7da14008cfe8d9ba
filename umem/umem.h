/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umem: internal declarations shared by the module's files.
 */
#ifndef _UMEM_UMEM_H
#define _UMEM_UMEM_H

#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/umem.h>

/**
 * struct umem_ctl - state of one open control fd of /dev/umem
 * @lock:	serialises changes of the fd's configuration
 * @api:	version agreed by UMEM_IOC_API, 0 before the handshake
 * @features:	feature set agreed by UMEM_IOC_API
 */
struct umem_ctl {
	struct mutex lock;	/* protects @api and @features */
	u32 api;
	u64 features;
};

#endif /* _UMEM_UMEM_H */
