// SPDX-License-Identifier: GPL-2.0
/*
 * umem: mmap and the fault path.
 *
 * A mapping of the control fd becomes a mapping of the region's shmem
 * file (vma_set_file), so rmap, swap, hole punching and MMU notifiers
 * (KVM) see an ordinary shmem mapping.  Only the fault handler is ours: a
 * present page goes straight to shmem's fault; a missing page queues a
 * request and sleeps until the server marks it present.  There is no
 * map_pages: fault-around must never map a page the server is still
 * filling.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "compat.h"
#include "umem.h"

static void umem_vma_open(struct vm_area_struct *vma)
{
	/* Our vm_ops outlive the control fd: pin the region (and so our code). */
	umem_region_get(vma->vm_private_data);
}

static void umem_vma_close(struct vm_area_struct *vma)
{
	umem_region_put(vma->vm_private_data);
}

/*
 * How a fault sleeps.  A user-mode fault sleeps interruptibly: a signal
 * returns to user space to run its handler, and the retried fault sleeps
 * again.  A kernel-mode fault (uaccess, GUP) cannot return for a
 * non-fatal signal, so it would spin on one: it sleeps killable.  Never
 * uninterruptible, even where the caller did not ask for killable (GUP
 * without a lock to drop): a VM whose daemon is gone must stay killable.
 */
static unsigned int umem_fault_sleep_state(unsigned int flags)
{
	if ((flags & FAULT_FLAG_USER) && (flags & FAULT_FLAG_INTERRUPTIBLE))
		return TASK_INTERRUPTIBLE;
	return TASK_KILLABLE;
}

static vm_fault_t umem_fault_present(struct umem_region *region,
				     struct vm_fault *vmf)
{
	const unsigned long *poisoned = umem_poisoned(region);
	vm_fault_t ret;

	/*
	 * The caller saw the present bit, then a read barrier: a poison
	 * that set it is seen here, pointer and bit.  NULL: none ever.
	 */
	if (poisoned && test_bit(vmf->pgoff, poisoned))
		return VM_FAULT_SIGBUS;
	ret = region->shmem_vm_ops->fault(vmf);
	if ((ret & (VM_FAULT_ERROR | VM_FAULT_NOPAGE | VM_FAULT_RETRY)) ||
	    !vmf->page)
		return ret;
	/*
	 * A poison may have come since the check above.  Look again with
	 * the page locked, as it stays until the PTE is set: either
	 * umem_poison_sync() takes the lock after us, and the unmap that
	 * follows it removes our PTE, or before us, and we see the bit.
	 */
	if (!(ret & VM_FAULT_LOCKED)) {
		lock_page(vmf->page);
		ret |= VM_FAULT_LOCKED;
	}
	/*
	 * A new page's insertion in the page cache before the look at
	 * the bit: pairs with the barrier in umem_poison_sync().
	 */
	smp_mb();
	poisoned = umem_poisoned(region);
	if (poisoned && test_bit(vmf->pgoff, poisoned)) {
		unlock_page(vmf->page);
		put_page(vmf->page);
		vmf->page = NULL;
		return VM_FAULT_SIGBUS;
	}
	/*
	 * Our tmpfs is huge=never, but shmem_enabled=force overrides that.
	 * A huge folio could be PMD-mapped with neighbours that were never
	 * supplied: refuse it rather than expose them.
	 */
	if (unlikely(PageTransCompound(vmf->page))) {
		unlock_page(vmf->page);
		put_page(vmf->page);
		vmf->page = NULL;
		pr_warn_once("huge page in a region (shmem_enabled=force?): SIGBUS\n");
		return VM_FAULT_SIGBUS;
	}
	return ret;
}

static vm_fault_t umem_fault(struct vm_fault *vmf)
{
	struct umem_region *region = vmf->vma->vm_private_data;
	pgoff_t pgoff = vmf->pgoff;
	unsigned int state;
	u32 flags = 0;
	u64 slept;

	this_cpu_inc(region->stats.pcpu->faults);
	/* The server may grow the shmem file; the region does not grow. */
	if (pgoff >= region->nr_pages)
		return VM_FAULT_SIGBUS;
	if (likely(umem_page_present(region, pgoff)))
		return umem_fault_present(region, vmf);

	/*
	 * A missing page.  Never block an exiting or core-dumping task (the
	 * dump runs without mmap_lock), and never map zeros for a page that
	 * was not supplied: SIGBUS instead.
	 */
	if (READ_ONCE(region->state) == UMEM_STATE_FAILED ||
	    (current->flags & (PF_EXITING | PF_DUMPCORE)))
		return VM_FAULT_SIGBUS;

	if (vmf->flags & FAULT_FLAG_WRITE)
		flags |= UMEM_REQ_WRITE;
	if (!(vmf->flags & FAULT_FLAG_USER))
		flags |= UMEM_REQ_KERNEL;
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		flags |= UMEM_REQ_ASYNC;
	if (umem_queue_request(region, pgoff, flags))
		return VM_FAULT_OOM;

	/* KVM async page fault: the request is a prefetch, do not wait. */
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;
	/*
	 * UMEM_INIT_KERNEL_EFAULT: kernel code never waits here.  SIGBUS
	 * from a kernel-mode fault sends no signal: uaccess takes its
	 * exception fixup and GUP returns -EFAULT.
	 */
	if ((region->flags & UMEM_INIT_KERNEL_EFAULT) &&
	    !(vmf->flags & FAULT_FLAG_USER))
		return VM_FAULT_SIGBUS;

	state = umem_fault_sleep_state(vmf->flags);
	if (vmf->flags & FAULT_FLAG_ALLOW_RETRY) {
		/*
		 * Sleep without the mmap lock, so munmap, mremap and other
		 * faults go on; the fault is retried from the start.  The
		 * VMA may be gone when we wake: hold the region instead.
		 */
		umem_region_get(region);
		umem_release_fault_lock(vmf);
		slept = umem_wait_page(region, pgoff, state, false);
		umem_stats_account_wait(region, slept);
		umem_region_put(region);
		return VM_FAULT_RETRY;
	}

	/*
	 * The caller cannot retry (GUP without a lock to drop: /proc/pid/mem,
	 * ptrace): it sleeps holding the mmap lock, which stops every mmap,
	 * munmap and mprotect of the process meanwhile.  So only while a
	 * server is live: with none the page may be a deadline away, and
	 * the fault fails at once (GUP returns -EFAULT).
	 */
	slept = umem_wait_page(region, pgoff, state, true);
	umem_stats_account_wait(region, slept);
	if (!umem_page_present(region, pgoff))
		return VM_FAULT_SIGBUS;
	return umem_fault_present(region, vmf);
}

static const struct vm_operations_struct umem_vm_ops = {
	.open	= umem_vma_open,
	.close	= umem_vma_close,
	.fault	= umem_fault,
};

/**
 * umem_mmap_region - set up a mapping of @region
 * @region: the region of the control fd being mapped
 * @vma: the new VMA, covering pages [vm_pgoff, vm_pgoff + vma_pages)
 *
 * Return: 0, or -EINVAL for a private or out-of-bounds mapping.
 */
int umem_mmap_region(struct umem_region *region, struct vm_area_struct *vma)
{
	struct file *shmem = region->shmem;
	int ret;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= region->nr_pages ||
	    vma_pages(vma) > region->nr_pages - vma->vm_pgoff)
		return -EINVAL;

	vma_set_file(vma, shmem);
	ret = call_mmap(shmem, vma);
	if (ret)
		return ret;
	/*
	 * shmem_mmap() set shmem's vm_ops; keep them, then take over.  Every
	 * mmap stores the same pointer, before its VMA can fault.
	 */
	WRITE_ONCE(region->shmem_vm_ops, vma->vm_ops);
	vma->vm_ops = &umem_vm_ops;
	vma->vm_private_data = region;
	/*
	 * No huge pages: a PMD mapping would expose 511 neighbours that may
	 * not be present.  No expanding mremap beyond what was validated.
	 */
	umem_vm_flags_set(vma, VM_DONTEXPAND | VM_NOHUGEPAGE);
	umem_vma_open(vma);
	return 0;
}
