/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umem: the kernel-version-specific calls, in one place, so a port to
 * another kernel touches this file only.  Built and tested on 6.1
 * (Debian 12) and 6.12 (the LTS in bookworm-backports), both also with
 * PREEMPT_RT, on 7.3 (trixie-backports, also PREEMPT_RT) and on sid's
 * 7.2.  Each wrapper says which kernel changed what; nothing else in
 * umem/ tests the kernel version.  No kernel between 6.12 and 7.2 is
 * built here: the release given for a change after 6.12 is upstream's as
 * read from its history and lists, and each wrapper is written so that
 * a wrong one shows as a build error on that kernel (a missing function
 * or a mismatched prototype), not as a different behaviour.
 *
 * What changed between them without a compiler noticing, and why umem
 * needs no code for it (each is exercised by the selftests on both):
 *  - shmem moved to folios (6.2-6.11) and gained large folios (mTHP,
 *    6.11).  Its ->fault still returns vmf->page, locked, for the one
 *    page asked: the precise page of a large folio.  Our tmpfs is
 *    huge=never and every umem VMA but a UMEM_INIT_HUGE region's is
 *    VM_NOHUGEPAGE, and a VMA that is not anonymous shmem gets no mTHP
 *    orders (only the PMD one, which huge=never denies); fault.c splits
 *    any compound page that comes anyway (shmem_enabled=force, or a
 *    collapse), but a complete extent's in a UMEM_INIT_HUGE region.
 *  - huge pages (UMEM_INIT_HUGE): MADV_COLLAPSE of shmem and
 *    finish_fault()'s PMD mapping of a PMD-sized folio work the same on
 *    both; 6.5 made the collapse retract the page tables of every
 *    mapping of the range, where 6.1 retracts only the caller's, and
 *    6.12's do_set_pmd() refuses VM_NOHUGEPAGE VMAs, which 6.1's does
 *    not.  The module calls none of them (Documentation/umem.rst, "Huge
 *    pages"); thp_get_unmapped_area() is exported on both.
 *  - memcg: shmem charges a fault to the VMA's mm and an allocation
 *    without one to the active memcg, then to current's, as in 6.1
 *    (get_mem_cgroup_from_mm(NULL) still looks at active_memcg()), so
 *    fill.c's set_active_memcg() works on both.  mem_cgroup_get() is
 *    still not exported: see umem_memcg_get().
 *  - mmap: call_mmap() and vma_set_file() keep their 6.1 meaning in
 *    6.12.  6.12's mmap_region() retries a merge when ->mmap changed
 *    vm_flags (we set VM_NOHUGEPAGE), and then frees the new VMA without
 *    ->close.  For an mmap of the control fd it compares the neighbour's
 *    vm_file with the control fd, never a VMA's file, so it does not
 *    merge; remap_file_pages() maps a VMA's own guest file, and may.
 *    Our VMAs hold the region through their file only (fault.c), so a
 *    VMA freed either way leaks nothing.
 *  - fault retry: see umem_release_fault_lock().
 */
#ifndef _UMEM_COMPAT_H
#define _UMEM_COMPAT_H

#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/user_namespace.h>

#include <linux/uio.h>
#include <linux/version.h>

/*
 * True on kernel @major.@minor and later: the one place umem reads
 * LINUX_VERSION_CODE (make style lets checkpatch pass it here only).
 */
#define UMEM_KERNEL_SINCE(major, minor) \
	(KERNEL_VERSION(major, minor, 0) <= LINUX_VERSION_CODE)

/* 6.3 made vm_flags read-only: writers use vm_flags_set(). */
static inline void umem_vm_flags_set(struct vm_area_struct *vma,
				     unsigned long flags)
{
#if UMEM_KERNEL_SINCE(6, 3)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * Drop the lock a fault handler was called with, before it sleeps and
 * returns VM_FAULT_RETRY.
 *
 * 6.4 added per-VMA locks: a fault may run under the VMA's read lock
 * alone (FAULT_FLAG_VMA_LOCK) instead of mmap_lock, and 6.6 made the
 * handler drop that one too on VM_FAULT_RETRY, with release_fault_lock()
 * (before 6.6, only anonymous faults ran under it).  In 6.12 the core
 * calls a file VMA's ->fault under the VMA lock only when the VMA has
 * ->map_pages (vmf_can_call_fault()): so the guest mapping (no
 * map_pages) still faults under mmap_lock, while the daemon's mapping of
 * the shmem fd (filemap_map_pages) faults under the VMA lock.  Either
 * way this drops the right one; the retry takes mmap_lock.
 */
static inline void umem_release_fault_lock(struct vm_fault *vmf)
{
#if UMEM_KERNEL_SINCE(6, 6)
	release_fault_lock(vmf);
#else
	mmap_read_unlock(vmf->vma->vm_mm);
#endif
}

/*
 * Take a reference on a memcg from get_mem_cgroup_from_mm() (which may be
 * NULL: no memory controller); drop it with mem_cgroup_put().  6.1 and
 * 6.12 export no mem_cgroup_get() to modules.
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
 * Is current a worker that acts on the process's memory for a device,
 * as vhost's does, rather than a thread of the process running its own
 * system calls, as io_uring's do?  Before 6.4 vhost's worker is a kernel
 * thread (PF_KTHREAD) that adopted the VMM's mm, and io_uring's (io-wq,
 * SQPOLL) are PF_IO_WORKER threads of the process.  6.4 made vhost's a
 * user worker, a thread of the VMM (PF_USER_WORKER, vhost_task), and
 * io_uring's user workers too (PF_USER_WORKER | PF_IO_WORKER); 6.12's
 * vhost makes kernel threads again when its fork_owner is off.  KVM's
 * async page-fault worker is a kernel thread on both.
 */
static inline bool umem_current_is_device_worker(void)
{
	if (current->flags & PF_KTHREAD)
		return true;
#if UMEM_KERNEL_SINCE(6, 4)
	return (current->flags & (PF_USER_WORKER | PF_IO_WORKER)) ==
	       PF_USER_WORKER;
#else
	return false;
#endif
}

/*
 * Has @mm a user thread left?  Asked by a kernel thread that adopted @mm
 * (kthread_use_mm(): vhost's worker), whose process may be dying: then
 * no one waits for its work.  mm->owner, which exists with CONFIG_MEMCG
 * (Debian's 6.1 and 6.12 have it), is that, on both: at the owner's
 * exit, mm_update_next_owner() hands it to another user task of @mm, or
 * clears it when none is left (kernel threads are no candidates).
 * Without it, say no: such a thread then waits as long as one without
 * an mm (region.c).
 */
static inline bool umem_mm_has_user(struct mm_struct *mm)
{
#ifdef CONFIG_MEMCG
	return rcu_access_pointer(mm->owner);
#else
	return false;
#endif
}

/*
 * What inode operations (umemfs, fs.c) get to map ids: a struct
 * user_namespace * (&init_user_ns for "none") until 6.3 made it a struct
 * mnt_idmap * (&nop_mnt_idmap).
 */
#if UMEM_KERNEL_SINCE(6, 3)
#define UMEM_IDMAP	struct mnt_idmap
#define umem_nop_idmap	(&nop_mnt_idmap)
#else
#define UMEM_IDMAP	struct user_namespace
#define umem_nop_idmap	(&init_user_ns)
#endif

/*
 * Stamp @inode's ctime and mtime (and its atime, if @atime) with the
 * current time (umemfs, fs.c).  6.6 hid i_ctime behind
 * inode_set_ctime_current(), 6.7 i_mtime and i_atime behind their own
 * accessors.
 */
static inline void umem_inode_touch(struct inode *inode, bool atime)
{
#if UMEM_KERNEL_SINCE(6, 7)
	struct timespec64 now = inode_set_ctime_current(inode);

	inode_set_mtime_to_ts(inode, now);
	if (atime)
		inode_set_atime_to_ts(inode, now);
#else
	inode->i_ctime = current_time(inode);
	inode->i_mtime = inode->i_ctime;
	if (atime)
		inode->i_atime = inode->i_ctime;
#endif
}

/*
 * A write to the shmem fd that crosses the region's end must stop there,
 * a short write (<linux/umem.h>, struct umem_serve), not fail: the file
 * is sealed with F_SEAL_GROW, and shmem_write_begin() refuses any chunk
 * that would grow it.  6.1's generic_perform_write() went a page at a
 * time, so only the page past the end was refused.  By 6.12 every shmem
 * inode takes large folios (shmem_get_inode() calls
 * mapping_set_large_folios()) and
 * generic_perform_write() goes in chunks of mapping_max_folio_size(), 2
 * MiB: the chunk across the end is refused whole, and a write inside one
 * chunk fails with EPERM, writing nothing.  So cut the write at the end
 * before shmem sees it, on every kernel (on 6.1 that changes nothing).
 * The size cannot change under us: the file is sealed against shrinking
 * too.  An O_APPEND write starts at the end and is refused, as ever.
 */
static inline void umem_write_clamp(struct kiocb *iocb, struct iov_iter *from)
{
	loff_t size = i_size_read(file_inode(iocb->ki_filp));

	if (!(iocb->ki_flags & IOCB_APPEND) && iocb->ki_pos < size)
		iov_iter_truncate(from, size - iocb->ki_pos);
}

/*
 * struct folio_batch (queue.c) lived in linux/pagevec.h, which 7.1
 * renamed linux/folio_batch.h once struct pagevec was gone.
 */
#if UMEM_KERNEL_SINCE(7, 1)
#include <linux/folio_batch.h>
#else
#include <linux/pagevec.h>
#endif

/*
 * The region's shmem file, without memory accounting (VM_NORESERVE:
 * charged page by page as the daemon fills it).  7.0 made the flags of
 * shmem_file_setup_with_mnt() a vma_flags_t, built with mk_vma_flags().
 */
static inline struct file *umem_shmem_file_setup(struct vfsmount *mnt,
						 const char *name,
						 loff_t size)
{
#if UMEM_KERNEL_SINCE(7, 0)
	return shmem_file_setup_with_mnt(mnt, name, size,
					 mk_vma_flags(VMA_NORESERVE_BIT));
#else
	return shmem_file_setup_with_mnt(mnt, name, size, VM_NORESERVE);
#endif
}

/*
 * Map @vma, a VMA of a file of umem's (a guest file, fault.c, or the
 * daemon's fill file, fill.c), as shmem would map @file: shmem's file
 * operations are @fops, the VMA's file stays ours.
 *
 * 6.16 let a file map with ->mmap_prepare, on a struct vm_area_desc
 * before the VMA exists, instead of ->mmap, and shmem has only that
 * since.  A driver that stacks on another file's mapping in its own
 * ->mmap fills a descriptor from the VMA, calls the lower
 * ->mmap_prepare, and applies the descriptor to the VMA: what
 * compat_vma_mmap() does for the file's own f_op, with the two steps
 * exported on their own (compat_set_desc_from_vma(), __compat_vma_mmap(),
 * by 7.2 at the latest; a kernel without them fails to build here).  The
 * descriptor's file is @file, its vm_file the VMA's.
 */
static inline int umem_fops_mmap(const struct file_operations *fops,
				 struct file *file, struct vm_area_struct *vma)
{
#if UMEM_KERNEL_SINCE(6, 16)
	if (fops->mmap_prepare) {
		struct vm_area_desc desc;
		int ret;

		compat_set_desc_from_vma(&desc, file, vma);
		ret = fops->mmap_prepare(&desc);
		if (ret)
			return ret;
		return __compat_vma_mmap(&desc, vma);
	}
#endif
	return fops->mmap(file, vma);
}

/*
 * umemfs (fs.c): a name pins its inode until unlink or umount.  Until
 * 6.19 the pin was a dentry reference of the filesystem's own, taken
 * after d_instantiate(), dropped by simple_unlink() and simple_rmdir(),
 * and at umount by kill_litter_super().  6.19 made it a dentry flag:
 * d_make_persistent() instantiates and pins, the simple_ helpers undo it
 * (d_make_discardable(), which warns on a dentry not made persistent),
 * and kill_anon_super() drops what is left at umount; kill_litter_super()
 * is gone.
 */
static inline void umem_d_pin(struct dentry *dentry, struct inode *inode)
{
#if UMEM_KERNEL_SINCE(6, 19)
	d_make_persistent(dentry, inode);
#else
	d_instantiate(dentry, inode);
	dget(dentry);
#endif
}

static inline void umem_kill_pinned_super(struct super_block *sb)
{
#if UMEM_KERNEL_SINCE(6, 19)
	kill_anon_super(sb);
#else
	kill_litter_super(sb);
#endif
}

/*
 * super_operations.drop_inode that frees an inode at its last iput():
 * 6.18 renamed generic_delete_inode() inode_just_drop().
 */
#if UMEM_KERNEL_SINCE(6, 18)
#define umem_drop_inode	inode_just_drop
#else
#define umem_drop_inode	generic_delete_inode
#endif

/*
 * umemfs's ->create and ->mkdir (fs.c).  7.3 dropped ->create's last
 * argument, "bool excl" (an O_EXCL hint, meaningless on a local
 * filesystem): UMEM_CREATE_MODE is the parameters from the mode on.
 * 6.15 made ->mkdir return a dentry, NULL for the one passed, now
 * instantiated: umem_mkdir_ret() turns 0 or an error into that.
 */
#if UMEM_KERNEL_SINCE(7, 3)
#define UMEM_CREATE_MODE	umode_t mode
#else
#define UMEM_CREATE_MODE	umode_t mode, bool excl
#endif

#if UMEM_KERNEL_SINCE(6, 15)
#define UMEM_MKDIR_RET	struct dentry *
static inline struct dentry *umem_mkdir_ret(int err)
{
	return ERR_PTR(err);
}
#else
#define UMEM_MKDIR_RET	int
static inline int umem_mkdir_ret(int err)
{
	return err;
}
#endif

#ifdef CONFIG_NUMA
/* shmem's vm_operations, which umem's wrap (fault.c). */
extern const struct vm_operations_struct *umem_shmem_vm_ops;

/*
 * vm_operations_struct.get_policy, passed on to shmem's, for the guest's
 * and the daemon's mappings.  6.7 gave it a third argument: the
 * interleave index (pgoff_t *ilx) the policy's caller uses for
 * MPOL_INTERLEAVE, which shmem fills from the file offset.
 */
#if UMEM_KERNEL_SINCE(6, 7)
static inline struct mempolicy *umem_get_policy(struct vm_area_struct *vma,
						unsigned long addr,
						pgoff_t *ilx)
{
	return READ_ONCE(umem_shmem_vm_ops)->get_policy(vma, addr, ilx);
}
#else
static inline struct mempolicy *umem_get_policy(struct vm_area_struct *vma,
						unsigned long addr)
{
	return READ_ONCE(umem_shmem_vm_ops)->get_policy(vma, addr);
}
#endif
#endif /* CONFIG_NUMA */

#endif /* _UMEM_COMPAT_H */
