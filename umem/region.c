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
 *
 * A write() may mark 4096 ranges of a whole region each, and a poison may
 * cover a whole region: the bits are set a word at a time, in steps of
 * UMEM_STEP_PAGES pages per hold of region->lock.
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
 * whatever /sys/kernel/mm/transparent_hugepage/shmem_enabled says.
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

/*
 * Set bits [@start, @start + @nr) of @map, @nr >= 1, a word at a time,
 * under region->lock.  Lockless readers test bits of @map: a word that
 * changes is stored once, whole.  Returns how many bits changed.
 */
static pgoff_t umem_bits_set(unsigned long *map, pgoff_t start, pgoff_t nr)
{
	pgoff_t w = BIT_WORD(start), last = BIT_WORD(start + nr - 1);
	unsigned long mask = BITMAP_FIRST_WORD_MASK(start);
	unsigned long old, diff;
	pgoff_t changed = 0;

	for (;; w++, mask = ~0UL) {
		if (w == last)
			mask &= BITMAP_LAST_WORD_MASK(start + nr);
		old = map[w];
		diff = ~old & mask;
		if (diff) {
			changed += hweight_long(diff);
			WRITE_ONCE(map[w], old | diff);
		}
		if (w == last)
			return changed;
	}
}

/*
 * Mark [@start, @start + @nr) present, @nr <= UMEM_STEP_PAGES, under
 * region->lock, after the barrier that orders what must be seen first
 * (page contents, poisoned bits).  A present page is never to be
 * delivered: its pending, overflow and redeliver bits go, and the
 * counters follow word by word, so nothing needs a whole-region pass
 * later.
 */
static void umem_set_present(struct umem_region *region, pgoff_t start,
			     pgoff_t nr)
{
	pgoff_t w = BIT_WORD(start), last = BIT_WORD(start + nr - 1);
	unsigned long mask = BITMAP_FIRST_WORD_MASK(start);
	unsigned long new, bits;
	unsigned int i;

	if (region->nr_present == region->nr_pages)
		return;
	for (;; w++, mask = ~0UL) {
		if (w == last)
			mask &= BITMAP_LAST_WORD_MASK(start + nr);
		new = ~region->present[w] & mask;
		if (new) {
			WRITE_ONCE(region->present[w], region->present[w] | new);
			WRITE_ONCE(region->nr_present,
				   region->nr_present + hweight_long(new));
			WRITE_ONCE(region->nr_outstanding,
				   region->nr_outstanding -
				   hweight_long(new & region->requested[w]));
			bits = region->pending[w] & new;
			if (bits) {
				region->pending[w] &= ~bits;
				WRITE_ONCE(region->nr_pending,
					   region->nr_pending -
					   hweight_long(bits));
			}
			for (i = 0; i < 2; i++) {
				bits = region->overflow[i][w] & new;
				if (bits) {
					region->overflow[i][w] &= ~bits;
					region->nr_overflow[i] -=
						hweight_long(bits);
				}
			}
			bits = region->redeliver ? region->redeliver[w] & new : 0;
			if (bits) {
				region->redeliver[w] &= ~bits;
				WRITE_ONCE(region->nr_redeliver,
					   region->nr_redeliver -
					   hweight_long(bits));
			}
		}
		if (w == last)
			return;
	}
}

/*
 * Wake the waiters of what one step of umem_mark_present() marked: from
 * page @from of range @first to page @to of range @last (exclusive; @last
 * may be @n, past the end).
 */
static void umem_wake_ranges(struct umem_region *region,
			     const struct umem_range *ranges, unsigned int n,
			     unsigned int first, pgoff_t from,
			     unsigned int last, pgoff_t to)
{
	pgoff_t start, end;
	unsigned int i;

	for (i = first; i <= last && i < n; i++) {
		start = i == first ? from : ranges[i].pgoff;
		end = i == last ? to : ranges[i].pgoff + ranges[i].count;
		if (start < end)
			umem_wake_range(region, start, end);
	}
}

/**
 * umem_mark_present - mark validated ranges present and wake their waiters
 * @region: the region
 * @ranges: ranges already checked by umem_region_check_range()
 * @n: how many, at least 1
 *
 * The page contents were written (to the shmem file) before the caller's
 * write(); the barrier orders them before the bits, pairing with
 * umem_page_present().  Pages already present are left alone.  The work
 * is done in steps of at most UMEM_STEP_PAGES pages (and ranges) per hold
 * of region->lock, each followed by the wake-ups of what it marked; once
 * every page is present, the rest is skipped.  Process context: it may
 * sleep between steps.
 */
void umem_mark_present(struct umem_region *region,
		       const struct umem_range *ranges, unsigned int n)
{
	unsigned int i = 0, first;
	pgoff_t pos = ranges[0].pgoff, from, end, len, budget;
	unsigned long *stale;
	bool full;

	/* Page contents before present bits: pairs with umem_page_present(). */
	smp_wmb();
	for (;;) {
		first = i;
		from = pos;
		budget = UMEM_STEP_PAGES;
		spin_lock(&region->lock);
		for (;;) {
			full = region->nr_present == region->nr_pages;
			if (full || i == n || !budget)
				break;
			end = ranges[i].pgoff + ranges[i].count;
			len = min(end - pos, budget);
			umem_set_present(region, pos, len);
			trace_umem_present(region, pos, len);
			budget -= len;
			pos += len;
			if (pos == end && ++i < n)
				pos = ranges[i].pgoff;
		}
		stale = umem_redeliver_detach(region);
		spin_unlock(&region->lock);
		kvfree(stale);
		/* Bits before the waitqueue checks: pairs with prepare_to_wait(). */
		smp_mb();
		umem_wake_ranges(region, ranges, n, first, from, i, pos);
		/*
		 * All present: the pages not reached were set, and their
		 * waiters woken, by the writes that set them.
		 */
		if (full || i == n)
			return;
		cond_resched();
	}
}

/*
 * Wait out the faults that may be installing a PTE for a page of
 * [start, end) after missing its poisoned bit: such a fault holds the
 * page lock until its PTE is in, so waiting for every cached page that
 * is locked now to be unlocked is enough; the unmap that follows then
 * zaps what they installed.  Pairs with the barrier and re-check, under
 * the page lock, in umem_fault_present().
 */
static void umem_poison_sync(struct umem_region *region, pgoff_t start,
			     pgoff_t end)
{
	struct address_space *mapping = region->shmem->f_mapping;
	struct folio_batch fbatch;
	unsigned int i;

	/* The poisoned bits before the page cache and page lock looks. */
	smp_mb();
	folio_batch_init(&fbatch);
	while (filemap_get_folios(mapping, &start, end - 1, &fbatch)) {
		/*
		 * Unlocked: whoever locks it next sees the bit.  Locked:
		 * maybe by such a fault; wait for it to have set its PTE.
		 */
		for (i = 0; i < folio_batch_count(&fbatch); i++)
			if (folio_test_locked(fbatch.folios[i]))
				folio_wait_locked(fbatch.folios[i]);
		folio_batch_release(&fbatch);
		cond_resched();
	}
}

/**
 * umem_poison - mark a validated range as never arriving
 * @region: the region
 * @range: checked by umem_region_check_range()
 *
 * Poisoned pages are also marked present, so that their waiters wake up,
 * re-fault and get SIGBUS.  Pages already supplied are poisoned too: the
 * daemon says their contents cannot be trusted.  The poisoned bitmap is
 * allocated at the first poison.  Like umem_mark_present(), the range is
 * done in steps of UMEM_STEP_PAGES pages.  Process context.
 *
 * Return: 0, or -ENOMEM (nothing changed).
 */
int umem_poison(struct umem_region *region, const struct umem_range *range)
{
	pgoff_t pos = range->pgoff, end = range->pgoff + range->count, len;
	unsigned long *bits = NULL, *stale;

	if (!umem_poisoned(region)) {
		bits = umem_bitmap_alloc(region->nr_pages);
		if (!bits)
			return -ENOMEM;
	}
	for (; pos < end; pos += len) {
		len = min(end - pos, UMEM_STEP_PAGES);
		spin_lock(&region->lock);
		if (!region->poisoned) {
			/*
			 * The zeroed bitmap before the pointer, the pointer
			 * before the bits: pairs with umem_poisoned().
			 */
			smp_store_release(&region->poisoned, bits);
			bits = NULL;
		}
		WRITE_ONCE(region->nr_poisoned, region->nr_poisoned +
			   umem_bits_set(region->poisoned, pos, len));
		/* Poisoned before present: pairs with umem_page_present(). */
		smp_wmb();
		umem_set_present(region, pos, len);
		stale = umem_redeliver_detach(region);
		spin_unlock(&region->lock);
		kvfree(stale);
		/* Bits before the waitqueue checks: pairs with prepare_to_wait(). */
		smp_mb();
		umem_wake_range(region, pos, pos + len);
		cond_resched();
	}
	/* Another poison published its bitmap first. */
	kvfree(bits);
	/*
	 * Supplied pages may be mapped already, or being mapped: unmap them,
	 * so that the next access faults and gets SIGBUS.
	 */
	trace_umem_poison(region, range->pgoff, range->count);
	umem_poison_sync(region, range->pgoff, end);
	unmap_mapping_range(region->shmem->f_mapping,
			    (loff_t)range->pgoff << PAGE_SHIFT,
			    (loff_t)range->count << PAGE_SHIFT, 0);
	return 0;
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
