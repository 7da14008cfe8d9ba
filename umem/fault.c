// SPDX-License-Identifier: GPL-2.0
/*
 * umem: mmap and the fault path.
 *
 * A mapping of the control fd becomes a mapping of the region's shmem
 * inode (the VMA's file is a guest file on it), so rmap, swap, hole
 * punching and MMU notifiers (KVM) see an ordinary shmem mapping.  Only
 * the fault handler is ours: a present page goes straight to shmem's
 * fault; a missing page queues a request and sleeps until the server
 * marks it present.  There is no map_pages: fault-around must never map
 * a page the server is still filling.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "compat.h"
#include "umem.h"
#include "trace.h"

/*
 * How a fault sleeps: interruptibly when the fault asks for it
 * (FAULT_FLAG_INTERRUPTIBLE), else killable; never uninterruptible, even
 * where the caller did not ask for killable (GUP without a lock to
 * drop): a VM whose daemon is gone must stay killable.
 *
 * A user-mode fault that a signal ends returns to user space to run the
 * handler, and the retried fault sleeps again.  A kernel-mode fault asks
 * for it from GUP with FOLL_INTERRUPTIBLE (KVM's synchronous lookup,
 * since 6.2: QEMU's SIG_IPI kick must take the vCPU out of KVM_RUN),
 * and GUP checks for a signal before it retries.  But the arch fault
 * handler asks for it on every fault, and retries a kernel-mode one
 * (uaccess) with a non-fatal signal pending instead of failing it: an
 * interruptible sleep would end at once, again and again, a spin until
 * the page came.  So a retried fault (FAULT_FLAG_TRIED) that finds a
 * signal pending sleeps killable: uaccess then makes one retry per
 * signal, not a spin, and GUP never gets here with a signal pending
 * (it returns -EINTR before its retry), but for one that comes in the
 * few instructions between GUP's check and this one: that retry waits
 * for its page, killable, as every fault did before.
 */
static unsigned int umem_fault_sleep_state(unsigned int flags)
{
	if (!(flags & FAULT_FLAG_INTERRUPTIBLE))
		return TASK_KILLABLE;
	if (!(flags & FAULT_FLAG_USER) && (flags & FAULT_FLAG_TRIED) &&
	    signal_pending(current))
		return TASK_KILLABLE;
	return TASK_INTERRUPTIBLE;
}

static bool umem_page_poisoned(struct umem_region *region, pgoff_t pgoff)
{
	const unsigned long *poisoned = umem_poisoned(region);

	/* NULL: no poison ever. */
	return poisoned && test_bit(pgoff, poisoned);
}

/*
 * A page that will never arrive: poisoned by the server, missing in a
 * failed region, or past the region's end; or one that cannot be mapped
 * without its neighbours (a pinned huge folio).  It faults as hardware
 * poison, as UFFDIO_POISON does: a user-mode access gets SIGBUS with
 * BUS_MCEERR_AR; GUP with FOLL_HWPOISON gets -EHWPOISON, so KVM sends its
 * vCPU thread that same SIGBUS, which a VMM turns into a machine check in
 * the guest.  A plain SIGBUS would not do: KVM's first lookup
 * (FOLL_NOWAIT) would fall back to an async page fault, whose worker
 * drops the error and lets the guest retry for ever.
 */
#define UMEM_FAULT_LOST		VM_FAULT_HWPOISON

/* Drop the page shmem's fault found (locked), and fail the fault. */
static vm_fault_t umem_fault_refuse(struct vm_fault *vmf, vm_fault_t ret)
{
	unlock_page(vmf->page);
	put_page(vmf->page);
	vmf->page = NULL;
	return ret;
}

/*
 * shmem found a huge folio: MADV_COLLAPSE through a plain shmem mapping
 * of the inode (a daemon's reopen of /proc/pid/fd, map_files), or
 * shmem_enabled=force.  Split it, so that the retried fault maps this
 * page alone.  split_huge_page() is not exported; a truncation of no
 * bytes at byte 1 of the page (at byte 0 of page 0, lend -1 would mean
 * "to the end") zeroes nothing and splits the folio holding it, as a hole
 * punch into the folio does.  The folio is marked dirty first, as shmem's
 * own punch does: a clean folio that failed to split would be dropped,
 * contents and all.  Our reference goes first: a split needs the caller's
 * to be the only one.  Only folio locks (not held here) and the rmap
 * locks are taken, which nest inside the mmap lock.
 *
 * Return: VM_FAULT_NOPAGE once split (the access faults again), or
 * UMEM_FAULT_LOST if it stayed huge (pinned): nothing is exposed, and
 * the fault fails as a lost page does, so that KVM reports it rather
 * than retry it for ever (see UMEM_FAULT_LOST).
 */
static vm_fault_t umem_fault_split(struct vm_fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	loff_t pos = ((loff_t)vmf->pgoff << PAGE_SHIFT) + 1;
	struct folio *folio;
	bool huge = false;

	set_page_dirty(vmf->page);
	unlock_page(vmf->page);
	put_page(vmf->page);
	vmf->page = NULL;
	truncate_inode_pages_range(mapping, pos, pos - 1);
	/* NULL when not cached; 6.3 and later return an ERR_PTR. */
	folio = __filemap_get_folio(mapping, vmf->pgoff, 0, 0);
	if (!IS_ERR_OR_NULL(folio)) {
		huge = folio_test_large(folio);
		folio_put(folio);
	}
	if (!huge)
		return VM_FAULT_NOPAGE;
	pr_warn_once("cannot split a huge page in a region: hardware poison\n");
	return UMEM_FAULT_LOST;
}

/*
 * Huge pages (UMEM_INIT_HUGE, Documentation/umem.rst "Huge pages").  Our
 * tmpfs is huge=never for every region, so shmem itself allocates no huge
 * folio: one comes only from a collapse, the server's MADV_COLLAPSE of an
 * extent in the VMM's mm (process_madvise) or on its mapping of the shmem
 * fd (fill.c), which replaces the extent's pages by one 2 MiB folio
 * holding the same bytes (and zeroes where the cache had holes).  A
 * collapse in a guest mapping also maps the folio there by a PMD itself,
 * without this fault: the server does that only for a complete extent
 * with no poisoned page.  shmem's fault returns the precise page of
 * it, and finish_fault() then maps the whole folio by one PMD if the
 * VMA's range is aligned for it and no page table is under it yet (a
 * collapse empties and, since 6.5, retracts the page tables of every
 * mapping of the range), or this page alone by a PTE.  Either way it is
 * safe only if every page of the folio is present and none is poisoned:
 * then a PMD exposes nothing that did not arrive.  Any other compound
 * page is split (umem_fault_split()), as in a region without the flag.
 *
 * Present bits are never cleared, so a folio found mappable stays so but
 * for a poison, which the caller checks again after its barrier.  The
 * read barrier orders the bits before the folio's contents, as
 * umem_page_present() does for one page.
 */
static bool umem_huge_mappable(struct umem_region *region, struct page *page)
{
	struct folio *folio = page_folio(page);
	pgoff_t start = folio->index;
	pgoff_t end = start + folio_nr_pages(folio);
	const unsigned long *poisoned;
	bool ok;

	if (!(region->flags & UMEM_INIT_HUGE) || end > region->nr_pages)
		return false;
	ok = find_next_zero_bit(region->present, end, start) >= end;
	/* The bits before the contents: pairs with umem_mark_present(). */
	smp_rmb();
	poisoned = umem_poisoned(region);
	return ok && (!poisoned || find_next_bit(poisoned, end, start) >= end);
}

static vm_fault_t umem_fault_present(struct umem_region *region,
				     struct vm_fault *vmf)
{
	vm_fault_t ret;

	/*
	 * The caller saw the present bit, then a read barrier: a poison
	 * that set it is seen here, pointer and bit.
	 */
	if (umem_page_poisoned(region, vmf->pgoff))
		return UMEM_FAULT_LOST;
	ret = READ_ONCE(umem_shmem_vm_ops)->fault(vmf);
	if ((ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) ||
	    !vmf->page)
		return ret;
	/* shmem returns the page locked; the re-check below needs it so. */
	if (unlikely(!(ret & VM_FAULT_LOCKED))) {
		lock_page(vmf->page);
		ret |= VM_FAULT_LOCKED;
	}
	/*
	 * A huge folio: a complete extent of a UMEM_INIT_HUGE region, which
	 * may be mapped whole (see umem_huge_mappable()), or one that could
	 * be PMD-mapped with neighbours that were never supplied (see
	 * umem_fault_split()): split it rather than expose them.
	 */
	if (unlikely(folio_test_large(page_folio(vmf->page))) &&
	    !umem_huge_mappable(region, vmf->page))
		return umem_fault_split(vmf);
	/*
	 * A poison of a supplied page may have come since the check above.
	 * Check again with the page locked (the PTE goes in before it is
	 * unlocked), after a full barrier: umem_poison() sets its bits,
	 * then, after a full barrier of its own, waits for every cached
	 * page of its range that is locked, then unmaps the range.  Either
	 * it finds the page locked by us and zaps the PTE we install, or
	 * we see its bit here (also for a page that entered the cache
	 * after the poison looked).
	 */
	smp_mb();
	if (unlikely(umem_page_poisoned(region, vmf->pgoff)))
		return umem_fault_refuse(vmf, UMEM_FAULT_LOST);
	/*
	 * The same for a neighbour in a huge folio: a PMD would map it.
	 * umem_poison() waits for the folio's lock (each page's) as well.
	 */
	if (unlikely(folio_test_large(page_folio(vmf->page))) &&
	    !umem_huge_mappable(region, vmf->page))
		return umem_fault_split(vmf);
	return ret;
}

/*
 * May this kernel-mode fault wait for a missing page?  With
 * UMEM_INIT_KERNEL_EFAULT, kernel code running the process's own system
 * calls never waits: uaccess in a syscall, GUP for O_DIRECT or KVM's
 * vCPU thread, and io_uring's workers (io-wq, SQPOLL), which run the
 * same calls with the same locks.  Those are the locks a blocked fault
 * would let a user stretch.  A worker acting for the process as a device
 * does (KVM's async page-fault worker, vhost's worker, be it a kernel
 * thread or, since 6.4, a user worker) holds only locks of its own
 * device and waits as a user-mode fault would: that is how a vCPU waits
 * for a page under KVM, and how vhost-net sends a guest's packet from a
 * page still to come instead of dropping it.  The same on every kernel.
 */
static bool umem_fault_may_wait(struct umem_region *region,
				unsigned int flags)
{
	if (flags & FAULT_FLAG_USER)
		return true;
	if (!(region->flags & UMEM_INIT_KERNEL_EFAULT))
		return true;
	return umem_current_is_device_worker();
}

static vm_fault_t umem_fault(struct vm_fault *vmf)
{
	struct umem_region *region = vmf->vma->vm_private_data;
	pgoff_t pgoff = vmf->pgoff;
	struct file *file;
	unsigned int state;
	u32 flags = 0;
	u64 slept;

	this_cpu_inc(region->stats.pcpu->faults);
	/*
	 * Past the region's end: a mapping grown by mremap().  No page will
	 * ever arrive there: it faults as a lost page, which KVM reports,
	 * where a plain SIGBUS would leave a vCPU whose memslot covers it
	 * re-faulting for ever (see UMEM_FAULT_LOST).
	 */
	if (pgoff >= region->nr_pages)
		return UMEM_FAULT_LOST;
	trace_umem_fault(region, vmf);
	if (likely(umem_page_present(region, pgoff)))
		return umem_fault_present(region, vmf);

	/* A missing page of a failed region will never arrive. */
	if (READ_ONCE(region->state) == UMEM_STATE_FAILED)
		return UMEM_FAULT_LOST;
	/*
	 * Never block an exiting or core-dumping task (the dump runs without
	 * mmap_lock), and never map zeros for a page that was not supplied.
	 */
	if (current->flags & (PF_EXITING | PF_DUMPCORE))
		return VM_FAULT_SIGBUS;

	if (vmf->flags & FAULT_FLAG_WRITE)
		flags |= UMEM_REQ_WRITE;
	if (!(vmf->flags & FAULT_FLAG_USER))
		flags |= UMEM_REQ_KERNEL;
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		flags |= UMEM_REQ_ASYNC;
	umem_queue_request(region, pgoff, flags);

	/*
	 * KVM's first lookup (FOLL_NOWAIT) of every vCPU fault: queue the
	 * request, but do not wait here.  KVM then waits in its async
	 * page-fault worker, or faults again without FAULT_FLAG_RETRY_NOWAIT.
	 */
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;
	/*
	 * SIGBUS from a kernel-mode fault sends no signal: uaccess takes its
	 * exception fixup and GUP returns -EFAULT.
	 */
	if (!umem_fault_may_wait(region, vmf->flags))
		return VM_FAULT_SIGBUS;
	/*
	 * A caller that cannot retry (GUP without a lock to drop:
	 * /proc/pid/mem, ptrace) would sleep holding the mmap lock, and stop
	 * every mmap, munmap and mprotect of the process, and behind them
	 * every other fault, however present its page, until this page came.
	 * It fails at once instead (GUP returns -EFAULT; a read of
	 * /proc/pid/mem, EIO), as a userfaultfd fault does; the page stays
	 * requested, and the same access succeeds once it has arrived.
	 */
	if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY))
		return VM_FAULT_SIGBUS;
	/*
	 * A kernel thread waited its bound on the first try, and no live
	 * process waits for its work: fail.
	 */
	if ((vmf->flags & FAULT_FLAG_TRIED) && umem_wait_gave_up(region, pgoff))
		return VM_FAULT_SIGBUS;

	/*
	 * Sleep without the mmap lock, so munmap, mremap and other faults go
	 * on; the fault is retried from the start.  The VMA may be gone when
	 * we wake: hold its guest file, which holds the region and our
	 * module.  Its last fput, if this is it, runs later and from core
	 * code, never returning into code an rmmod could have freed.
	 */
	state = umem_fault_sleep_state(vmf->flags);
	file = get_file(vmf->vma->vm_file);
	umem_release_fault_lock(vmf);
	slept = umem_wait_page(region, pgoff, state);
	umem_stats_account_wait(region, slept);
	fput(file);
	return VM_FAULT_RETRY;
}

/*
 * shmem's vm_operations, whose fault (and NUMA policy) umem's mappings
 * wrap: the guest's (here) and the daemon's (fill.c).  Every shmem mmap
 * gets the same ones; each mapping stores them before it can fault.
 */
const struct vm_operations_struct *umem_shmem_vm_ops;

#ifdef CONFIG_NUMA
/*
 * mbind() on guest RAM, or on the daemon's mapping: the policy is the
 * shmem inode's shared policy, which shmem allocates by whoever fills
 * the page; without these it would only sit in the VMA, unused.
 */
int umem_set_policy(struct vm_area_struct *vma, struct mempolicy *new)
{
	return READ_ONCE(umem_shmem_vm_ops)->set_policy(vma, new);
}

/* umem_get_policy() is in compat.h: its signature changed in 6.7. */
#endif

/*
 * No ->open or ->close: a VMA pins the region, and so our code, through
 * its file, a guest file (below) that holds a region reference for as
 * long as it lives.  Every VMA holds a reference to its file: the core
 * takes one for each copy (split, fork, mremap) and drops it after the
 * VMA's last use, on every path that frees one.  A reference of the
 * VMA's own, taken at ->mmap and dropped at ->close, leaked wherever the
 * core frees a VMA without ->close: 6.12's mmap_region() does so when it
 * merges a VMA whose flags ->mmap changed into its neighbour (here, a
 * remap_file_pages() next to the same guest file).  Without ->close the
 * core may merge neighbouring VMAs of one guest file (same file, same
 * region, contiguous offsets): they behave as one.
 */
static const struct vm_operations_struct umem_vm_ops = {
	.fault		= umem_fault,
#ifdef CONFIG_NUMA
	.set_policy	= umem_set_policy,
	.get_policy	= umem_get_policy,
#endif
};

/*
 * A shared mapping inside the region, or -EINVAL.  MAP_SHARED sets
 * VM_MAYSHARE; do_mmap() drops VM_SHARED (and VM_MAYWRITE) from it for
 * a file not open for writing: a read-only umemfs fd makes a read-only
 * shared mapping, which mprotect() can never make writable.  MAP_PRIVATE
 * sets neither.
 */
static int umem_mmap_check(struct umem_region *region,
			   struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_pgoff >= region->nr_pages ||
	    vma_pages(vma) > region->nr_pages - vma->vm_pgoff)
		return -EINVAL;
	return 0;
}

/* Turn @vma, whose file is a guest file of @region, into a umem mapping. */
static int umem_mmap_setup(struct umem_region *region,
			   struct vm_area_struct *vma)
{
	int ret;

	ret = umem_fops_mmap(region->shmem->f_op, region->shmem, vma);
	if (ret)
		return ret;
	/*
	 * shmem_mmap() set shmem's vm_ops; keep them, then take over.  Every
	 * mmap stores the same pointer, before its VMA can fault.
	 */
	WRITE_ONCE(umem_shmem_vm_ops, vma->vm_ops);
	vma->vm_ops = &umem_vm_ops;
	vma->vm_private_data = region;
	/*
	 * No huge pages unless the region asked for them: a PMD mapping of
	 * a huge folio the fault did not check could expose 511 neighbours
	 * that may not be present (a UMEM_INIT_HUGE region's fault checks
	 * them).  With UMEM_INIT_HUGE_ADVISE, madvise(MADV_HUGEPAGE) clears
	 * the flag, as tmpfs's huge=advise.  Not VM_DONTEXPAND: it is in
	 * VM_SPECIAL, and
	 * mlock() silently skips VM_SPECIAL mappings (QEMU's mem-lock=on
	 * would lock nothing).  A mapping grown by mremap() past the region
	 * is harmless: the fault refuses offsets past the end, and the shmem
	 * file is sealed to the region's size.
	 */
	if ((region->flags & (UMEM_INIT_HUGE | UMEM_INIT_HUGE_ADVISE)) !=
	    UMEM_INIT_HUGE)
		umem_vm_flags_set(vma, VM_NOHUGEPAGE);
	return 0;
}

/*
 * A guest file is what a umem mapping carries as its vm_file: the
 * region's shmem inode under these file operations, holding the region.
 * rmap, swap, page migration and MMU notifiers see the shmem pages as
 * ever; but whatever maps the VMA's file again (remap_file_pages())
 * comes back to umem_guest_mmap(), never to a raw shmem mapping that
 * would read missing pages as zeros.  No fd refers to one (an open of
 * /proc/pid/map_files/ gets the inode's own shmem operations: a known
 * limit, for CAP_CHECKPOINT_RESTORE holders only).
 */
static int umem_guest_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct umem_region *region = file->private_data;
	int ret;

	ret = umem_mmap_check(region, vma);
	if (ret)
		return ret;
	return umem_mmap_setup(region, vma);
}

/* MADV_REMOVE punches its hole through the VMA's file. */
static long umem_guest_fallocate(struct file *file, int mode, loff_t offset,
				 loff_t len)
{
	struct umem_region *region = file->private_data;

	return region->shmem->f_op->fallocate(region->shmem, mode, offset,
					      len);
}

static int umem_guest_release(struct inode *inode, struct file *file)
{
	umem_region_put(file->private_data);
	return 0;
}

static const struct file_operations umem_guest_fops = {
	.owner		= THIS_MODULE,
	.mmap		= umem_guest_mmap,
	.fallocate	= umem_guest_fallocate,
	.fsync		= noop_fsync,	/* msync(MS_SYNC), as shmem's */
	.llseek		= noop_llseek,
	.release	= umem_guest_release,
};

/**
 * umem_mmap_region - set up a mapping of @region through its control fd
 * @region: the region of the control fd being mapped
 * @vma: the new VMA, covering pages [vm_pgoff, vm_pgoff + vma_pages)
 *
 * The VMA's file becomes a new guest file of @region.
 *
 * Return: 0, -EINVAL for a private or out-of-bounds mapping, -ENOMEM or
 * -ENFILE.
 */
int umem_mmap_region(struct umem_region *region, struct vm_area_struct *vma)
{
	struct file *guest;
	int ret;

	ret = umem_mmap_check(region, vma);
	if (ret)
		return ret;
	/*
	 * Read-write, also under a read-only mapping (a read-only fd of a
	 * umemfs file): the VMA has no VM_MAYWRITE, which every way to write
	 * through it checks (mprotect, GUP's FOLL_FORCE, MADV_REMOVE), and
	 * remap_file_pages() needs VM_SHARED, which it lacks.
	 */
	guest = umem_region_file(region, &umem_guest_fops);
	if (IS_ERR(guest))
		return PTR_ERR(guest);
	/* The VMA holds the guest file now; mmap_region() puts it on error. */
	vma_set_file(vma, guest);
	fput(guest);
	return umem_mmap_setup(region, vma);
}
