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

#endif /* _UAPI_LINUX_UMEM_H */
