// SPDX-License-Identifier: GPL-2.0
/*
 * Compiled as C and as C++ with -Wall -Werror: the ABI header must stand on
 * its own, and its layout must not drift (the module asserts the same
 * sizes with BUILD_BUG_ON).
 */
#include <linux/umem.h>

#ifdef __cplusplus
#define umem_static_assert static_assert
#else
#define umem_static_assert _Static_assert
#endif

umem_static_assert(sizeof(struct umem_api) == 64, "struct umem_api size");
umem_static_assert(sizeof(struct umem_init) == 64, "struct umem_init size");
umem_static_assert(sizeof(struct umem_serve) == 64, "struct umem_serve size");
umem_static_assert(sizeof(struct umem_request) == 16, "struct umem_request size");
umem_static_assert(sizeof(struct umem_range) == 16, "struct umem_range size");
umem_static_assert(sizeof(struct umem_stats) == 400, "struct umem_stats size");
umem_static_assert(sizeof(struct umem_bitmap) == 64, "struct umem_bitmap size");
umem_static_assert(UMEM_IOC_API == 0xc040e600, "UMEM_IOC_API number");
umem_static_assert(UMEM_IOC_INIT == 0x4040e601, "UMEM_IOC_INIT number");
umem_static_assert(UMEM_FS_MAGIC == 0x756d656d, "UMEM_FS_MAGIC value");

int umem_header_check;
