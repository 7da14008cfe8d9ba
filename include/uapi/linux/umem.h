/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * umem: user-process-backed memory for postcopy live migration.
 *
 * This header is the whole userspace ABI of /dev/umem.  The protocol it
 * carries is described in Documentation/umem.rst.
 *
 * Rules every structure here follows:
 *  - fixed-width types only, no pointers, no "long";
 *  - explicit padding, reserved fields that must be zero on input;
 *  - every field is marked (in), (out) or (in/out).
 */
#ifndef _UAPI_LINUX_UMEM_H
#define _UAPI_LINUX_UMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* The protocol version this header describes. */
#define UMEM_API_VERSION	1

/* ioctl magic: 0xE6 is unassigned in ioctl-number.rst. */
#define UMEM_IOC_MAGIC		0xE6

/*
 * Optional features, negotiated by UMEM_IOC_API.  No optional feature
 * exists in version 1; the mask lets later versions add them without
 * breaking old callers.
 */
#define UMEM_FEATURES_ALL	0ULL

/**
 * struct umem_api - version and feature handshake
 * @api:	(in) the protocol version the caller speaks; must be
 *		UMEM_API_VERSION.  (out) the version the module speaks.
 * @page_size:	(out) the unit of every page offset and count in the
 *		protocol, in bytes.  Never assume it equals the CPU page size
 *		your program was built for.
 * @features:	(in) the optional features the caller wants; any bit the
 *		module does not know fails the call with EINVAL.
 *		(out) every feature the module supports.
 * @reserved:	(in) must be zero.
 */
struct umem_api {
	__u32 api;
	__u32 page_size;
	__u64 features;
	__u64 reserved[6];
};

/*
 * UMEM_IOC_API: must be the first ioctl on a control fd.
 *
 * Errors: EFAULT (bad argument address), EINVAL (unknown version, unknown
 * feature bit, non-zero reserved field), EBUSY (the handshake was already
 * made on this fd with a different version or feature set).
 */
#define UMEM_IOC_API		_IOWR(UMEM_IOC_MAGIC, 0x00, struct umem_api)

/* Flags of struct umem_init; none is defined yet. */
#define UMEM_INIT_FLAGS_ALL	0U

/**
 * struct umem_init - size a region and state its failure policy
 * @size:		(in) region size in bytes: a non-zero multiple of
 *			umem_api.page_size, at most the module's
 *			max_region_bytes parameter.
 * @flags:		(in) UMEM_INIT_* flags; unknown bits fail with EINVAL.
 * @detach_timeout_ms:	(in) how long faulting threads stay parked after
 *			the daemon's server fd is closed, waiting for a new
 *			server to adopt the region, before they and every
 *			later fault on a missing page get SIGBUS.  There is
 *			no default: the caller chooses.  0 means SIGBUS at
 *			once.
 * @reserved:		(in) must be zero.
 */
struct umem_init {
	__u64 size;
	__u32 flags;
	__u32 detach_timeout_ms;
	__u64 reserved[6];
};

/*
 * UMEM_IOC_INIT: turn a control fd that made the handshake into a region
 * of the given size, backed by a new shmem file.  Once per fd.
 *
 * Errors: EFAULT, ENXIO (no handshake yet), EINVAL (size zero or not a
 * page multiple, unknown flag, non-zero reserved field), E2BIG (size over
 * the max_region_bytes limit), EBUSY (the fd is already a region),
 * ENOSPC (max_regions regions exist), ENOMEM.
 */
#define UMEM_IOC_INIT		_IOW(UMEM_IOC_MAGIC, 0x01, struct umem_init)

#endif /* _UAPI_LINUX_UMEM_H */
