// SPDX-License-Identifier: GPL-2.0
/*
 * umem: region lifetime, page state and wake-ups.
 *
 * A region is the memory behind one control fd after UMEM_IOC_INIT: a
 * shmem file that holds the supplied pages, bitmaps of the pages' state,
 * and the policy stated at init.  It is reference counted: the control
 * fd, the server file and every guest file (the file each VMA holds,
 * which a fault sleeping without the mmap lock holds too) hold a
 * reference; the last one frees it.
 *
 * Page state lives in bitmaps, written under region->lock:
 *   present	supplied (or poisoned); set once, never cleared
 *   requested	queued to a server once; dedups concurrent faults
 *   pending	requested, not present, and read by no server yet: what
 *		read() returns next.  Cleared as pages become present
 *   overflow	the pending pages pushed out of the ring by newer ones,
 *		in two generations (two bitmaps): see queue.c
 *   poisoned	will never arrive: faults get SIGBUS.  Allocated at the
 *		first poison, so most regions never have it
 *   redeliver	outstanding when a new server adopted the region.  Exists
 *		only while such requests wait to be handed again
 * so a region costs 5 bits per page in the steady state, and a ring of
 * UMEM_RING_SIZE recent requests (see queue.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/hash.h>
#include <linux/jiffies.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "compat.h"
#include "umem.h"
#include "trace.h"

static unsigned long long max_region_bytes = 64ULL << 30;
module_param(max_region_bytes, ullong, 0644);
MODULE_PARM_DESC(max_region_bytes, "Largest region UMEM_IOC_INIT accepts, in bytes (default 64 GiB)");

static unsigned int max_regions = 64;
module_param(max_regions, uint, 0644);
MODULE_PARM_DESC(max_regions, "Most regions that may exist at once (default 64)");

static atomic_t umem_nr_regions = ATOMIC_INIT(0);

/*
 * Our own tmpfs instance, mounted huge=never: a huge folio in the file
 * could be PMD-mapped and expose 511 neighbours that were never supplied,
 * whatever /sys/kernel/mm/transparent_hugepage/shmem_enabled says.  Also
 * for UMEM_INIT_HUGE regions: shmem never allocates a huge folio for them
 * on its own (at a fill, or at a fault after a hole punch); one comes
 * only from the server's MADV_COLLAPSE of a complete extent, which the
 * mount does not refuse (fault.c, "Huge pages").
 */
static struct vfsmount *umem_mnt;

int __init umem_region_init(void)
{
	struct file_system_type *type = get_fs_type("tmpfs");
	char opts[] = "huge=never";

	if (!type)
		return -ENODEV;
	umem_mnt = vfs_kern_mount(type, SB_KERNMOUNT, type->name, opts);
	/*
	 * The mount took its own reference on the type: drop get_fs_type()'s.
	 * put_filesystem() is not exported; it is this.
	 */
	module_put(type->owner);
	if (IS_ERR(umem_mnt))
		return PTR_ERR(umem_mnt);
	return 0;
}

void umem_region_exit(void)
{
	kern_unmount(umem_mnt);
}

/**
 * umem_region_file - a new read-write file on @region's shmem inode,
 *		      holding @region
 * @region: the region
 * @fops: its operations; ->release must drop the region reference
 *
 * Return: the file, its private_data @region, or an ERR_PTR (-ENOMEM,
 * -ENFILE).
 */
struct file *umem_region_file(struct umem_region *region,
			      const struct file_operations *fops)
{
	struct inode *inode = file_inode(region->shmem);
	struct file *file;

	/*
	 * alloc_file_pseudo() takes no module reference, but the file's
	 * last fput drops one for fops->owner.  The region pins us already.
	 */
	__module_get(fops->owner);
	ihold(inode);
	file = alloc_file_pseudo(inode, umem_mnt, "umem", O_RDWR, fops);
	if (IS_ERR(file)) {
		iput(inode);
		module_put(fops->owner);
		return file;
	}
	file->private_data = region;
	umem_region_get(region);
	return file;
}

/* Take one of the max_regions slots; the limit may change at any time. */
static bool umem_region_slot_get(void)
{
	int n = atomic_read(&umem_nr_regions);

	do {
		if (n >= READ_ONCE(max_regions))
			return false;
	} while (!atomic_try_cmpxchg(&umem_nr_regions, &n, n + 1));
	return true;
}

static void umem_region_slot_put(void)
{
	atomic_dec(&umem_nr_regions);
}

static int umem_init_check(const struct umem_init *init)
{
	if ((init->flags & ~UMEM_INIT_FLAGS_ALL) ||
	    !umem_reserved_zero(init->reserved, ARRAY_SIZE(init->reserved)))
		return -EINVAL;
	if (!init->size || !PAGE_ALIGNED(init->size))
		return -EINVAL;
	if ((init->flags & UMEM_INIT_HUGE_ADVISE) &&
	    !(init->flags & UMEM_INIT_HUGE))
		return -EINVAL;
	/* No THP (PREEMPT_RT): no huge page could ever map a region. */
	if ((init->flags & UMEM_INIT_HUGE) &&
	    !IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))
		return -EOPNOTSUPP;
	/* The bitmap helpers count bits in an unsigned int. */
	if (init->size > READ_ONCE(max_region_bytes) ||
	    init->size > MAX_LFS_FILESIZE ||
	    (init->size >> PAGE_SHIFT) > UMEM_MAX_PAGES)
		return -E2BIG;
	return 0;
}

/**
 * umem_wake_all - wake every waiter after a change of the region's state
 * @region: the region, whose new state the caller wrote (under its lock)
 *
 * Waiters re-check the state: a failed region ends every wait.  (No
 * fault waits holding the mmap lock any more, so a detach ends none.)
 */
void umem_wake_all(struct umem_region *region)
{
	/* Order the state before the wake-ups' waitqueue checks. */
	smp_mb();
	umem_wake_range(region, 0, region->nr_pages);
}

/* The detach deadline passed: fail the region unless a server came back. */
static void umem_detach_timeout(struct work_struct *work)
{
	struct umem_region *region = container_of(to_delayed_work(work),
						  struct umem_region,
						  detach_work);
	bool failed = false;

	spin_lock(&region->lock);
	if (region->state == UMEM_STATE_DETACHED) {
		WRITE_ONCE(region->state, UMEM_STATE_FAILED);
		failed = true;
	}
	spin_unlock(&region->lock);
	trace_umem_deadline(region, failed);
	if (failed)
		umem_wake_all(region);
}

static void umem_region_free_bitmaps(struct umem_region *region)
{
	kvfree(region->present);
	kvfree(region->requested);
	kvfree(region->poisoned);
	kvfree(region->pending);
	kvfree(region->overflow[0]);
	kvfree(region->overflow[1]);
	kvfree(region->redeliver);
}

/**
 * umem_bitmap_alloc - allocate a zeroed page bitmap for a region
 * @nr_pages: the region's size in pages
 *
 * Large regions need bitmaps of megabytes: allow vmalloc.  Process
 * context, no lock held.  Quiet on failure: the caller returns ENOMEM,
 * and the size is the user's to choose.
 *
 * Return: the bitmap, to free with kvfree(), or NULL.
 */
unsigned long *umem_bitmap_alloc(pgoff_t nr_pages)
{
	return kvcalloc(BITS_TO_LONGS(nr_pages), sizeof(unsigned long),
			GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
}

/**
 * umem_region_create - validate @init and create a region for it
 * @init: the caller's request, already copied in
 *
 * Return: the region holding one reference, or an ERR_PTR: -EINVAL,
 * -E2BIG, -ENOSPC or -ENOMEM as documented for UMEM_IOC_INIT.  Nothing
 * is left behind on failure.
 */
struct umem_region *umem_region_create(const struct umem_init *init)
{
	struct umem_region *region;
	struct file *shmem;
	pgoff_t nr_pages;
	unsigned int i;
	int ret;

	ret = umem_init_check(init);
	if (ret)
		return ERR_PTR(ret);
	if (!umem_region_slot_get())
		return ERR_PTR(-ENOSPC);

	ret = -ENOMEM;
	nr_pages = init->size >> PAGE_SHIFT;
	region = kzalloc(sizeof(*region), GFP_KERNEL_ACCOUNT);
	if (!region)
		goto err_slot;
	/* poisoned and redeliver come later, if ever: see umem_poison(). */
	region->present = umem_bitmap_alloc(nr_pages);
	region->requested = umem_bitmap_alloc(nr_pages);
	region->pending = umem_bitmap_alloc(nr_pages);
	region->overflow[0] = umem_bitmap_alloc(nr_pages);
	region->overflow[1] = umem_bitmap_alloc(nr_pages);
	/* The fault path allocates nothing: its requests go here. */
	region->ring = kvcalloc(UMEM_RING_SIZE, sizeof(*region->ring),
				GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	region->stats.pcpu = alloc_percpu_gfp(struct umem_fault_counters,
					      GFP_KERNEL_ACCOUNT);
	if (!region->present || !region->requested || !region->pending ||
	    !region->overflow[0] || !region->overflow[1] || !region->ring ||
	    !region->stats.pcpu)
		goto err_free;
	/*
	 * VM_NORESERVE: a region is sparse until the daemon fills it, so
	 * memory is charged page by page as it arrives, not up front.
	 */
	shmem = umem_shmem_file_setup(umem_mnt, "umem", init->size);
	if (IS_ERR(shmem)) {
		/*
		 * Our kernel mount has no inode or block limit: ENOSPC means
		 * shmem could not allocate the inode.  ENOSPC is ours for
		 * max_regions; report what happened.
		 */
		ret = PTR_ERR(shmem) == -ENOSPC ? -ENOMEM : PTR_ERR(shmem);
		goto err_free;
	}

	/*
	 * The server pread()s and pwrite()s it, as a memfd allows, at any
	 * offset: without O_LARGEFILE a write past 2 GiB fails with EFBIG.
	 */
	shmem->f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
	shmem->f_flags |= O_LARGEFILE;
	/*
	 * Its size is the region's for good: a server can neither grow it
	 * (write, fallocate or truncate past the end: pages there would be
	 * charged to the VMM, see fill.c, and nothing could map them) nor
	 * shrink it, which would drop supplied pages under the guest.
	 * Holes can still be punched.  No new inode is visible yet: no
	 * lock needed.  Its seals are sealed (F_SEAL_SEAL) already.
	 */
	SHMEM_I(file_inode(shmem))->seals |= F_SEAL_GROW | F_SEAL_SHRINK;
	kref_init(&region->ref);
	region->shmem = shmem;
	region->size = init->size;
	region->nr_pages = nr_pages;
	region->flags = init->flags;
	region->detach_timeout_ms = init->detach_timeout_ms;
	/* The VMM pays for the guest's RAM, whoever supplies it. */
	region->memcg = get_mem_cgroup_from_mm(current->mm);
	spin_lock_init(&region->lock);
	region->state = UMEM_STATE_UNSERVED;
	mutex_init(&region->read_lock);
	init_waitqueue_head(&region->server_wq);
	INIT_DELAYED_WORK(&region->detach_work, umem_detach_timeout);
	for (i = 0; i < UMEM_NR_WQ; i++)
		init_waitqueue_head(&region->wq[i]);
	/*
	 * A region pins our code, not only its fds and VMAs: a fault may
	 * sleep in umem_wait_page() after its VMA and every fd are gone.
	 */
	__module_get(THIS_MODULE);
	return region;

err_free:
	free_percpu(region->stats.pcpu);
	kvfree(region->ring);
	umem_region_free_bitmaps(region);
	kfree(region);
err_slot:
	umem_region_slot_put();
	return ERR_PTR(ret);
}

static void umem_region_release(struct kref *ref)
{
	struct umem_region *region = container_of(ref, struct umem_region, ref);

	/* No server and no waiter is left; a pending deadline has no work. */
	cancel_delayed_work_sync(&region->detach_work);
	fput(region->shmem);
	mem_cgroup_put(region->memcg);
	mutex_destroy(&region->read_lock);
	free_percpu(region->stats.pcpu);
	kvfree(region->ring);
	umem_region_free_bitmaps(region);
	kfree(region);
	umem_region_slot_put();
	module_put(THIS_MODULE);
}

/**
 * umem_region_ctl_closed - the region's control file is gone
 * @region: the region
 *
 * UMEM_IOC_SERVE is made on the control file: once it is closed (its last
 * fd, wherever it was passed), no server can ever adopt the region again.
 * A region with no server that is not complete would leave its faults
 * waiting for ever (an unserved region has no deadline): fail it now.  A
 * live server keeps it going; when that server goes, umem_server_release()
 * fails the region at once instead of detaching it.
 */
void umem_region_ctl_closed(struct umem_region *region)
{
	bool failed = false;

	spin_lock(&region->lock);
	region->ctl_gone = true;
	if (region->state == UMEM_STATE_UNSERVED ||
	    region->state == UMEM_STATE_DETACHED) {
		WRITE_ONCE(region->state, UMEM_STATE_FAILED);
		failed = true;
	}
	spin_unlock(&region->lock);
	/* A pending deadline finds the region failed and does nothing. */
	if (failed)
		umem_wake_all(region);
}

void umem_region_get(struct umem_region *region)
{
	kref_get(&region->ref);
}

/**
 * umem_region_put - drop a reference to @region
 * @region: the region
 *
 * Also where the region hangs up: when the control file is gone and the
 * live server is about to hold the last reference (this put drops the
 * one before), no mapping, guest file or fd other than the server's is
 * left, and none can come (mmap and UMEM_IOC_SERVE need the control
 * file).  No one can fault on the region again: the server's poll
 * reports EPOLLHUP and its read() returns 0.  Every put is counted under
 * region->lock, so two concurrent puts cannot both miss it; a get only
 * comes from a holder, and at that point the server is the only other.
 */
void umem_region_put(struct umem_region *region)
{
	bool last;

	spin_lock(&region->lock);
	if (!region->hup && region->ctl_gone && region->server &&
	    kref_read(&region->ref) == 2) {
		WRITE_ONCE(region->hup, true);
		spin_unlock(&region->lock);
		/* Our reference keeps the region for the wake-up. */
		wake_up_interruptible_poll(&region->server_wq,
					   EPOLLHUP | EPOLLIN | EPOLLRDNORM);
		kref_put(&region->ref, umem_region_release);
		return;
	}
	last = refcount_dec_and_test(&region->ref.refcount);
	spin_unlock(&region->lock);
	if (last)
		umem_region_release(&region->ref);
}

/**
 * umem_region_check_range - is @range non-empty and inside the region?
 * @region: the region
 * @range: pages, as given by userspace
 *
 * Return: 0, or -EINVAL.
 */
int umem_region_check_range(struct umem_region *region,
			    const struct umem_range *range)
{
	if (!range->count || range->pgoff >= region->nr_pages ||
	    range->count > region->nr_pages - range->pgoff)
		return -EINVAL;
	return 0;
}

struct umem_wake_key {
	pgoff_t start;
	pgoff_t end;
};

struct umem_waiter {
	wait_queue_entry_t wq;
	pgoff_t pgoff;
};

static wait_queue_head_t *umem_wq(struct umem_region *region, pgoff_t pgoff)
{
	return &region->wq[hash_long(pgoff, UMEM_WQ_BITS)];
}

/* Wake only the waiters of pages inside the key's range. */
static int umem_wake_fn(wait_queue_entry_t *wq, unsigned int mode, int sync,
			void *key)
{
	struct umem_waiter *w = container_of(wq, struct umem_waiter, wq);
	struct umem_wake_key *k = key;

	if (w->pgoff < k->start || w->pgoff >= k->end)
		return 0;
	return autoremove_wake_function(wq, mode, sync, NULL);
}

/**
 * umem_wake_range - wake the threads waiting on pages [start, end)
 * @region: the region
 * @start: first page
 * @end: one past the last page
 *
 * The caller has made the new page state visible (smp_mb()) first, so a
 * waiter either sees it or is on its queue.  Only the queues the range
 * hashes to are visited, and only the matching waiters are woken.
 */
void umem_wake_range(struct umem_region *region, pgoff_t start, pgoff_t end)
{
	struct umem_wake_key key = { .start = start, .end = end };
	wait_queue_head_t *wqh;
	pgoff_t p;
	unsigned int i;

	if (end - start >= UMEM_NR_WQ) {
		for (i = 0; i < UMEM_NR_WQ; i++)
			/* Safe: the caller's smp_mb() published the state. */
			if (waitqueue_active(&region->wq[i]))
				__wake_up(&region->wq[i], TASK_NORMAL, 0, &key);
		return;
	}
	for (p = start; p < end; p++) {
		wqh = umem_wq(region, p);
		/* Safe: the caller's smp_mb() published the state. */
		if (waitqueue_active(wqh))
			__wake_up(wqh, TASK_NORMAL, 0, &key);
	}
}

static bool umem_page_settled(struct umem_region *region, pgoff_t pgoff)
{
	return umem_page_present(region, pgoff) ||
	       READ_ONCE(region->state) == UMEM_STATE_FAILED;
}

/*
 * The longest a kernel thread sleeps in one fault, unless the process
 * it works for is still alive (below).  A kernel thread takes no signal,
 * and it may hold what a dying VMM needs released: KVM's asynchronous
 * page-fault worker (no mm of its own: it GUPs the VMM's mm) holds the
 * VMM's mm and KVM instance (kvm_destroy_vm() waits for it), and vhost's
 * worker (a kernel thread that adopted the VMM's mm with
 * kthread_use_mm(): on 6.1, and on 6.12 with vhost's fork_owner off) is
 * flushed, uninterruptibly, by the VMM's own exit, in vhost_net_release().
 * Unbounded, a VMM dying with a page missing would stay half alive, or
 * in D state, until the page came: with postcopy paused, never.
 * Bounded, the fault fails (umem_wait_gave_up()): KVM then tells the
 * guest the page is ready, and the guest's next touch faults again, at
 * most once per this interval: no spin; vhost drops its work.
 */
#define UMEM_KTHREAD_WAIT_MS		2000

/*
 * A kernel thread that adopted an mm whose process is alive waits past
 * UMEM_KTHREAD_WAIT_MS, as the process's own threads do (vhost must not
 * drop a guest's packets because a page is slow to come), and checks
 * this often whether that process is still there.
 */
#define UMEM_KTHREAD_RECHECK_MS		100

/* Does current, a kernel thread, work for an mm with a live user thread? */
static bool umem_kthread_mm_alive(void)
{
	return current->mm && umem_mm_has_user(current->mm);
}

/**
 * umem_wait_page - sleep until @pgoff is settled or a signal stops us
 * @region: the region
 * @pgoff: the page
 * @state: TASK_INTERRUPTIBLE, TASK_KILLABLE or TASK_UNINTERRUPTIBLE
 *
 * The waiter is queued before it checks the page, and the waker sets the
 * page (or the state) before it checks the queue, so no wake-up is lost.
 * A kernel thread sleeps at most UMEM_KTHREAD_WAIT_MS, or for as long as
 * the mm it adopted has a live user thread, whichever is longer.
 *
 * Return: the time slept, in ns (0 if the page was already settled).
 */
u64 umem_wait_page(struct umem_region *region, pgoff_t pgoff,
		   unsigned int state)
{
	wait_queue_head_t *wqh = umem_wq(region, pgoff);
	struct umem_waiter w = { .pgoff = pgoff };
	unsigned long deadline = 0;
	bool kthread = current->flags & PF_KTHREAD;
	long left;
	u64 start = 0;

	init_waitqueue_func_entry(&w.wq, umem_wake_fn);
	w.wq.private = current;
	INIT_LIST_HEAD(&w.wq.entry);
	for (;;) {
		prepare_to_wait(wqh, &w.wq, state);
		if (umem_page_settled(region, pgoff) ||
		    signal_pending_state(state, current))
			break;
		if (!start) {
			start = ktime_get_ns();
			deadline = jiffies +
				   msecs_to_jiffies(UMEM_KTHREAD_WAIT_MS);
		}
		if (!kthread) {
			schedule();
			continue;
		}
		left = (long)(deadline - jiffies);
		if (left <= 0) {
			if (!umem_kthread_mm_alive())
				break;
			left = msecs_to_jiffies(UMEM_KTHREAD_RECHECK_MS);
		}
		schedule_timeout(left);
	}
	finish_wait(wqh, &w.wq);
	trace_umem_wake(region, pgoff, start);
	return start ? ktime_get_ns() - start : 0;
}

/**
 * umem_wait_gave_up - must this fault fail rather than wait again?
 * @region: the region
 * @pgoff: the missing page
 *
 * For the retry (FAULT_FLAG_TRIED) of a fault that slept without the
 * mmap lock and returned VM_FAULT_RETRY: a GUP or uaccess that can retry
 * retries for ever, so a kernel thread whose bounded wait ended with the
 * page still missing fails its retry (with the lock held, as an error
 * must be returned) instead of waiting again.  One whose process is
 * alive waits again.
 *
 * Return: true if the caller is such a thread and the page is not settled.
 */
bool umem_wait_gave_up(struct umem_region *region, pgoff_t pgoff)
{
	return (current->flags & PF_KTHREAD) && !umem_kthread_mm_alive() &&
	       !umem_page_settled(region, pgoff);
}

/**
 * umem_complete - declare every page supplied
 * @region: the region
 *
 * Return: 0, or -EBUSY while some page is missing.
 */
int umem_complete(struct umem_region *region)
{
	int ret = 0;

	spin_lock(&region->lock);
	if (region->nr_present != region->nr_pages)
		ret = -EBUSY;
	else
		WRITE_ONCE(region->state, UMEM_STATE_COMPLETE);
	spin_unlock(&region->lock);
	trace_umem_complete(region, ret);
	return ret;
}
