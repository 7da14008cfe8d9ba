// SPDX-License-Identifier: GPL-2.0
/*
 * umem: the shmem fd UMEM_IOC_SERVE hands the daemon, and who pays for
 * the pages it fills.
 *
 * shmem charges a page to a memory cgroup when it allocates it: to the
 * faulting mm for a fault, else to the task's active memcg, else to the
 * allocating task's own.  The daemon allocates every supplied page, so
 * by default the daemon would pay for the guest's RAM; userfaultfd
 * charges its copies to the VMM's mm.  So the shmem fd is a file of the
 * region's shmem inode opened anew with umem's file operations: each one
 * that may allocate pages (write_iter, splice_write, fallocate, and the
 * faults of its mappings) runs with the memory cgroup of the task that
 * made the region (UMEM_IOC_INIT) as the active memcg, and hands the work
 * to shmem.  The rest go straight to shmem, except get_unmapped_area:
 * shmem's asserts that its file is shmem's own, and only aligns for huge
 * pages, which our tmpfs never has (huge=never); the default serves, but
 * for a UMEM_INIT_HUGE region, whose mappings thp_get_unmapped_area()
 * aligns to 2 MiB so that its extents can be collapsed.
 *
 * A fault cannot pass the active memcg down: shmem charges a fault to
 * the VMA's mm.  So a fault first brings the page into the cache itself,
 * with no mm and the region's memcg active, exactly as shmem's own fault
 * would (a hole becomes a zeroed page), then lets shmem's fault map it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>

#include "compat.h"
#include "umem.h"

static const struct file_operations *umem_shmem_fops(struct file *file)
{
	/* A shmem regular file's inode carries shmem's file operations. */
	return file_inode(file)->i_fop;
}

/* The memcg the file's allocations are charged to (NULL: no memcg). */
static struct mem_cgroup *umem_fill_memcg(struct file *file)
{
	return file->private_data;
}

static loff_t umem_fill_llseek(struct file *file, loff_t offset, int whence)
{
	return umem_shmem_fops(file)->llseek(file, offset, whence);
}

static ssize_t umem_fill_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return umem_shmem_fops(iocb->ki_filp)->read_iter(iocb, to);
}

static ssize_t umem_fill_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct mem_cgroup *old;
	ssize_t ret;

	umem_write_clamp(iocb, from);
	old = set_active_memcg(umem_fill_memcg(file));
	ret = umem_shmem_fops(file)->write_iter(iocb, from);
	set_active_memcg(old);
	return ret;
}

static ssize_t umem_fill_splice_read(struct file *in, loff_t *ppos,
				     struct pipe_inode_info *pipe, size_t len,
				     unsigned int flags)
{
	return umem_shmem_fops(in)->splice_read(in, ppos, pipe, len, flags);
}

static ssize_t umem_fill_splice_write(struct pipe_inode_info *pipe,
				      struct file *out, loff_t *ppos,
				      size_t len, unsigned int flags)
{
	struct mem_cgroup *old = set_active_memcg(umem_fill_memcg(out));
	ssize_t ret;

	ret = umem_shmem_fops(out)->splice_write(pipe, out, ppos, len, flags);
	set_active_memcg(old);
	return ret;
}

static long umem_fill_fallocate(struct file *file, int mode, loff_t offset,
				loff_t len)
{
	struct mem_cgroup *old = set_active_memcg(umem_fill_memcg(file));
	long ret = umem_shmem_fops(file)->fallocate(file, mode, offset, len);

	set_active_memcg(old);
	return ret;
}

static int umem_fill_fsync(struct file *file, loff_t start, loff_t end,
			   int datasync)
{
	return umem_shmem_fops(file)->fsync(file, start, end, datasync);
}

/*
 * shmem's own fault waits while a hole punch runs over its page (the
 * punch hangs its range on i_private), so that faults cannot refill a
 * range as fast as the punch empties it.  Ours allocates before shmem's
 * fault looks, so it waits first, for any fallocate of the inode in
 * progress (each holds i_rwsem throughout), with the mmap lock dropped:
 * i_rwsem nests outside it.  A fault that cannot drop it goes on, as
 * shmem's would without the wait.
 *
 * Return: true if it waited (the fault must return VM_FAULT_RETRY).
 */
static bool umem_fill_falloc_wait(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	struct inode *inode = file_inode(file);

	if (likely(!READ_ONCE(inode->i_private)))
		return false;
	if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY) ||
	    (vmf->flags & FAULT_FLAG_RETRY_NOWAIT))
		return false;
	/* The VMA may go once the lock is dropped: hold its file. */
	get_file(file);
	umem_release_fault_lock(vmf);
	if (!down_read_killable(&inode->i_rwsem))
		up_read(&inode->i_rwsem);
	fput(file);
	return true;
}

/*
 * Bring the page into the cache charged to the region's memcg, then let
 * shmem map it.  For a page already there this only looks it up.
 *
 * A charge the region's memcg cannot make, after reclaim and its OOM
 * killer found nothing to kill, fails the fill: SIGBUS (a kernel copy
 * into the mapping gets EFAULT), as a pwrite() gets ENOMEM.  VM_FAULT_OOM
 * would not: the page-fault handler retries it at once, for ever, since
 * no memcg OOM of the faulting task is pending to resolve it.
 */
static vm_fault_t umem_fill_fault(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	struct address_space *mapping = file->f_mapping;
	struct mem_cgroup *old;
	struct page *page;

	if (umem_fill_falloc_wait(vmf))
		return VM_FAULT_RETRY;
	old = set_active_memcg(umem_fill_memcg(file));
	page = shmem_read_mapping_page_gfp(mapping, vmf->pgoff,
					   mapping_gfp_mask(mapping));
	set_active_memcg(old);
	if (IS_ERR(page))
		return VM_FAULT_SIGBUS;
	put_page(page);
	return READ_ONCE(umem_shmem_vm_ops)->fault(vmf);
}

static const struct vm_operations_struct umem_fill_vm_ops = {
	.fault		= umem_fill_fault,
	.map_pages	= filemap_map_pages,
#ifdef CONFIG_NUMA
	.set_policy	= umem_set_policy,
	.get_policy	= umem_get_policy,
#endif
};

static int umem_fill_mmap(struct file *file, struct vm_area_struct *vma)
{
	int ret = umem_fops_mmap(umem_shmem_fops(file), file, vma);

	if (ret)
		return ret;
	/* Every mmap stores the same pointer, before its VMA can fault. */
	WRITE_ONCE(umem_shmem_vm_ops, vma->vm_ops);
	vma->vm_ops = &umem_fill_vm_ops;
	/*
	 * No huge pages, ever: MADV_COLLAPSE (or khugepaged) would fill the
	 * holes of a 2 MiB range with zeroed pages in one huge folio of the
	 * cache the guest maps too, whatever our huge=never mount says.
	 * VM_NOHUGEPAGE alone is not a refusal: MADV_HUGEPAGE clears it.
	 * VM_DONTEXPAND (in VM_NO_KHUGEPAGED) no madvise clears; it also
	 * refuses a growing mremap, which the sealed file could not back,
	 * and makes mlock() skip the mapping.
	 */
	umem_vm_flags_set(vma, VM_NOHUGEPAGE | VM_DONTEXPAND);
	return 0;
}

/*
 * The mapping of a UMEM_INIT_HUGE region's shmem fd: no refusal, so that
 * the server can MADV_COLLAPSE an extent it completed.  A collapse fills
 * the holes of the range with zeroed pages in the one folio, which the
 * guest's fault splits again unless every page of it is present (fault.c,
 * umem_huge_mappable()): collapsing an incomplete extent wastes work but
 * exposes nothing.  khugepaged never collapses it on its own: the mount
 * is huge=never, which only MADV_COLLAPSE overrides.
 */
static int umem_fill_mmap_huge(struct file *file, struct vm_area_struct *vma)
{
	int ret = umem_fops_mmap(umem_shmem_fops(file), file, vma);

	if (ret)
		return ret;
	WRITE_ONCE(umem_shmem_vm_ops, vma->vm_ops);
	vma->vm_ops = &umem_fill_vm_ops;
	return 0;
}

static int umem_fill_release(struct inode *inode, struct file *file)
{
	mem_cgroup_put(umem_fill_memcg(file));
	return 0;
}

static const struct file_operations umem_fill_fops = {
	.owner			= THIS_MODULE,
	.llseek			= umem_fill_llseek,
	.read_iter		= umem_fill_read_iter,
	.write_iter		= umem_fill_write_iter,
	.splice_read		= umem_fill_splice_read,
	.splice_write		= umem_fill_splice_write,
	.fallocate		= umem_fill_fallocate,
	.fsync			= umem_fill_fsync,
	.mmap			= umem_fill_mmap,
	.release		= umem_fill_release,
};

/* The same for a UMEM_INIT_HUGE region, but for mmap. */
static const struct file_operations umem_fill_huge_fops = {
	.owner			= THIS_MODULE,
	.llseek			= umem_fill_llseek,
	.read_iter		= umem_fill_read_iter,
	.write_iter		= umem_fill_write_iter,
	.splice_read		= umem_fill_splice_read,
	.splice_write		= umem_fill_splice_write,
	.fallocate		= umem_fill_fallocate,
	.fsync			= umem_fill_fsync,
	.mmap			= umem_fill_mmap_huge,
	.get_unmapped_area	= thp_get_unmapped_area,
	.release		= umem_fill_release,
};

/**
 * umem_fill_open - open the region's shmem file for its server
 * @region: the region
 *
 * A new file of the region's shmem inode, read-write, that charges what
 * it allocates to the region's memcg.  It holds the inode (through its
 * path), a reference on the memcg and the module, not the region.
 *
 * Return: the file, or an ERR_PTR.
 */
struct file *umem_fill_open(struct umem_region *region)
{
	struct file *file;

	file = dentry_open(&region->shmem->f_path, O_RDWR | O_LARGEFILE,
			   current_cred());
	if (IS_ERR(file))
		return file;
	/*
	 * It came with shmem's operations (the inode's): put ours instead,
	 * pinning our code as an open would.  We are called from an fd of
	 * ours, so the module is live.
	 */
	__module_get(THIS_MODULE);
	replace_fops(file, region->flags & UMEM_INIT_HUGE ?
		     &umem_fill_huge_fops : &umem_fill_fops);
	file->private_data = umem_memcg_get(region->memcg);
	return file;
}
