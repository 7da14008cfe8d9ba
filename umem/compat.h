/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umem: the kernel-version-specific calls, in one place, so a port to
 * another kernel touches this file only.  Written for 6.1 (Debian 12);
 * each wrapper says what later kernels changed.
 */
#ifndef _UMEM_COMPAT_H
#define _UMEM_COMPAT_H

#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/user_namespace.h>

/* 6.3 made vm_flags read-only: use vm_flags_set() there. */
static inline void umem_vm_flags_set(struct vm_area_struct *vma,
				     unsigned long flags)
{
	vma->vm_flags |= flags;
}

/*
 * Drop the lock a fault handler was called with, before it sleeps and
 * returns VM_FAULT_RETRY.  6.4 added per-VMA locks: use
 * release_fault_lock(vmf) there.
 */
static inline void umem_release_fault_lock(struct vm_fault *vmf)
{
	mmap_read_unlock(vmf->vma->vm_mm);
}

/*
 * Take a reference on a memcg from get_mem_cgroup_from_mm() (which may be
 * NULL: no memory controller); drop it with mem_cgroup_put().  Later
 * kernels have no mem_cgroup_get() either.
 */
static inline struct mem_cgroup *umem_memcg_get(struct mem_cgroup *memcg)
{
#ifdef CONFIG_MEMCG
	if (memcg)
		css_get(&memcg->css);
#endif
	return memcg;
}

/*
 * What inode operations (umemfs, fs.c) get to map ids: 6.3 passes a
 * struct mnt_idmap * instead (and &nop_mnt_idmap for "none").
 */
#define UMEM_IDMAP	struct user_namespace
#define umem_nop_idmap	(&init_user_ns)

#endif /* _UMEM_COMPAT_H */
