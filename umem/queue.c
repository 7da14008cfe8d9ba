// SPDX-License-Identifier: GPL-2.0
/*
 * umem: the request queue and the server fd.
 *
 * A fault on a missing page queues one request (the requested bit
 * dedups concurrent faults) and wakes the server's readers.  The queue
 * allocates nothing: a request is a bit in the pending bitmap (cleared
 * when the page becomes present or the request is read), plus an entry
 * with its flags and tid in a fixed ring of the most recent requests.  A
 * request pushed out of the full ring by a newer one keeps its pending
 * bit and gets an overflow bit.  So the memory is bounded by the
 * region's size, POLLIN is exactly "a pending or redeliver bit is set",
 * and no step holds region->lock for more than a ring entry or
 * UMEM_STEP_PAGES bits.
 *
 * Requests are read oldest first, so that no request waits behind a
 * steady stream of newer ones: those to deliver again (requested before
 * this server came), then the overflowed ones (older than any in the
 * ring), a generation at a time, then the ring's, oldest first.  The
 * server read()s whole records, write()s ranges to mark present, and
 * may poison ranges or declare the region complete.  Closing the server
 * detaches the region: waiters stay parked, and the next server
 * re-adopts the region and is handed every request still outstanding.
 *
 * The queue's state is this file's alone: the pending, overflow and
 * redeliver bits, the ring, and the redeliver bitmap's life.  So marking
 * pages present and poisoning them live here too: a page becomes present
 * and leaves the queue in one hold of region->lock, so no reader ever
 * finds a request for a present page.  A write() may mark 4096 ranges of
 * a whole region each, and a poison may cover a whole region: the bits
 * are set a word at a time, in steps of UMEM_STEP_PAGES pages per hold
 * of region->lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "compat.h"
#include "umem.h"
#include "trace.h"

/*
 * Push a request on the ring, under region->lock.  A full ring first
 * drops its oldest entry: stale (page present or read meanwhile), or
 * still pending, which then moves to the overflow lane, its flags and
 * tid lost: to the generation not being read, so that it waits behind
 * no request newer than itself.  The ring keeps the UMEM_RING_SIZE most
 * recent requests, and every overflowed request is older than every
 * request in the ring.
 */
static void umem_ring_push(struct umem_region *region,
			   const struct umem_request *req)
{
	struct umem_request *head;
	unsigned int gen;

	if (region->ring_len == UMEM_RING_SIZE) {
		head = &region->ring[region->ring_head];
		if (test_bit(head->pgoff, region->pending)) {
			gen = !region->overflow_cur;
			__set_bit(head->pgoff, region->overflow[gen]);
			region->nr_overflow[gen]++;
		}
		region->ring_head = (region->ring_head + 1) % UMEM_RING_SIZE;
		region->ring_len--;
	}
	region->ring[(region->ring_head + region->ring_len) % UMEM_RING_SIZE] =
		*req;
	region->ring_len++;
}

/**
 * umem_queue_request - queue a request for @pgoff unless one was queued
 * @region: the region
 * @pgoff: the missing page
 * @flags: UMEM_REQ_* flags of the fault
 *
 * Allocates nothing: the request is a bit in the pending bitmap, and its
 * flags and tid go in the ring of recent faults.  A page found present
 * under the lock is not requested.
 */
void umem_queue_request(struct umem_region *region, pgoff_t pgoff, u32 flags)
{
	struct umem_request req = {
		.pgoff = pgoff,
		.flags = flags,
		.tid = task_pid_vnr(current),
	};
	bool queued = false;

	if (test_bit(pgoff, region->requested))
		return;
	spin_lock(&region->lock);
	if (!test_bit(pgoff, region->requested) &&
	    !test_bit(pgoff, region->present)) {
		/* Lockless readers test it: one store of the word. */
		set_bit(pgoff, region->requested);
		WRITE_ONCE(region->nr_requested, region->nr_requested + 1);
		region->nr_outstanding++;
		__set_bit(pgoff, region->pending);
		WRITE_ONCE(region->nr_pending, region->nr_pending + 1);
		umem_ring_push(region, &req);
		queued = true;
		trace_umem_request_queued(region, &req);
	}
	spin_unlock(&region->lock);

	if (queued)
		wake_up_interruptible_poll(&region->server_wq, EPOLLIN);
}

/**
 * umem_redeliver_detach - take the redeliver bitmap away once it is empty
 * @region: the region, its lock held
 *
 * The bitmap is needed only while requests wait to be delivered again.
 * kvfree() may sleep: the caller frees the bitmap after unlocking.
 *
 * Return: the bitmap to kvfree(), or NULL.
 */
static unsigned long *umem_redeliver_detach(struct umem_region *region)
{
	unsigned long *bits = region->redeliver;

	lockdep_assert_held(&region->lock);
	if (!bits || region->nr_redeliver)
		return NULL;
	region->redeliver = NULL;
	return bits;
}

/* Is a request waiting to be read, or will read() return 0 at once? */
static bool umem_queue_ready(struct umem_region *region)
{
	return READ_ONCE(region->nr_pending) ||
	       READ_ONCE(region->nr_redeliver) || READ_ONCE(region->hup);
}

/* Where umem_queue_peek() found the next request. */
enum umem_source {
	UMEM_SRC_NONE,		/* nothing to read */
	UMEM_SRC_AGAIN,		/* a scan step found nothing: call again */
	UMEM_SRC_RING,
	UMEM_SRC_OVERFLOW,
	UMEM_SRC_REDELIVER,
};

/*
 * One bounded step of a scan of @bits from *@next for a set bit, under
 * region->lock.  Return the page, or nr_pages if this step found none
 * (and *@next moved on, wrapping).
 */
static pgoff_t umem_scan_step(struct umem_region *region,
			      const unsigned long *bits, pgoff_t *next)
{
	pgoff_t from = *next < region->nr_pages ? *next : 0;
	pgoff_t end = min(region->nr_pages, from + UMEM_STEP_PAGES);
	pgoff_t p = find_next_bit(bits, end, from);

	if (p < end)
		return p;
	*next = end == region->nr_pages ? 0 : end;
	return region->nr_pages;
}

/*
 * Find the next request for the server, under region->lock, without
 * taking it: the caller copies it out, then umem_queue_commit()s it, so
 * a failed copy needs no undo.  Oldest first, so that under a steady
 * stream of new faults no request waits for ever:
 *  - those to deliver again, in page order: all requested before this
 *    server came, and no new one comes while it lives;
 *  - those pushed out of the ring, all older than the ring's, one
 *    generation at a time, each in page order: the requests pushed out
 *    while a generation is read go to the other one, read next, so that
 *    a page-order scan never meets a newer request ahead of an older one
 *    it has passed (with one bitmap, a stream of faults at rising
 *    addresses would keep a request the scan had passed waiting until
 *    the stream ended);
 *  - the ring's, oldest first (its stale entries are dropped as they
 *    are met).
 * So a request waits at most for the requests to deliver again, the
 * generation being read when it was pushed out, and its own.  Only one
 * reader runs (read_lock); faults only add to the ring's tail, pending
 * bits, and bits of the generation not being read; present pages only
 * clear bits.  What was found is taken by the commit, or stopped being
 * needed.
 */
static enum umem_source umem_queue_peek(struct umem_region *region,
					struct umem_request *req)
{
	struct umem_request *head;
	unsigned int gen;
	pgoff_t p;

	lockdep_assert_held(&region->lock);
	if (region->nr_redeliver) {
		p = umem_scan_step(region, region->redeliver,
				   &region->redeliver_next);
		if (p == region->nr_pages)
			return UMEM_SRC_AGAIN;
		req->pgoff = p;
		req->flags = UMEM_REQ_REDELIVERED;
		req->tid = 0;
		return UMEM_SRC_REDELIVER;
	}
	gen = region->overflow_cur;
	if (!region->nr_overflow[gen] && region->nr_overflow[!gen]) {
		/* Read the generation pushed out meanwhile, from its start. */
		gen = !gen;
		region->overflow_cur = gen;
		region->overflow_pos = 0;
	}
	if (region->nr_overflow[gen]) {
		p = umem_scan_step(region, region->overflow[gen],
				   &region->overflow_pos);
		if (p == region->nr_pages)
			return UMEM_SRC_AGAIN;
		req->pgoff = p;
		req->flags = UMEM_REQ_OVERFLOW;
		req->tid = 0;
		return UMEM_SRC_OVERFLOW;
	}
	while (region->ring_len) {
		head = &region->ring[region->ring_head];
		if (test_bit(head->pgoff, region->pending)) {
			*req = *head;
			return UMEM_SRC_RING;
		}
		region->ring_head = (region->ring_head + 1) % UMEM_RING_SIZE;
		region->ring_len--;
	}
	return UMEM_SRC_NONE;
}

/*
 * The request umem_queue_peek() found was copied out: take it, under
 * region->lock.  Its bit may be gone already (the page became present
 * during the copy): then there is nothing to take.
 */
static void umem_queue_commit(struct umem_region *region,
			      enum umem_source src,
			      const struct umem_request *req)
{
	struct umem_request *head = &region->ring[region->ring_head];
	pgoff_t p = req->pgoff;
	unsigned int gen;

	lockdep_assert_held(&region->lock);
	switch (src) {
	case UMEM_SRC_RING:
		/*
		 * A fault may have pushed it out of a full ring meanwhile,
		 * into the overflow lane: it is taken from there.
		 */
		if (region->ring_len && head->pgoff == p) {
			region->ring_head = (region->ring_head + 1) %
					    UMEM_RING_SIZE;
			region->ring_len--;
		}
		fallthrough;
	case UMEM_SRC_OVERFLOW:
		if (__test_and_clear_bit(p, region->pending))
			WRITE_ONCE(region->nr_pending, region->nr_pending - 1);
		for (gen = 0; gen < 2; gen++)
			if (__test_and_clear_bit(p, region->overflow[gen]))
				region->nr_overflow[gen]--;
		if (src == UMEM_SRC_OVERFLOW)
			region->overflow_pos = p + 1;
		break;
	case UMEM_SRC_REDELIVER:
		if (region->redeliver &&
		    __test_and_clear_bit(p, region->redeliver)) {
			WRITE_ONCE(region->nr_redeliver,
				   region->nr_redeliver - 1);
			atomic64_inc(&region->stats.redelivered);
		}
		region->redeliver_next = p + 1;
		break;
	default:
		WARN_ON_ONCE(1);
	}
}

/*
 * read(): whole records.  Each is found and taken under region->lock in
 * a bounded step (a scan of a large bitmap takes many steps, the lock
 * dropped between them); none is taken until it was copied out, in the
 * same hold of the lock that finds the next.  Once
 * the region is hung up (see umem_region_put()) it returns 0.
 */
static ssize_t umem_server_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct umem_region *region = iocb->ki_filp->private_data;
	bool nowait = (iocb->ki_flags & IOCB_NOWAIT) ||
		      (iocb->ki_filp->f_flags & O_NONBLOCK);
	unsigned long *stale = NULL;
	struct umem_request req;
	enum umem_source src;
	bool copied = false;
	ssize_t done = 0;
	int ret;

	if (iov_iter_count(to) < sizeof(req))
		return -EINVAL;

	if (nowait) {
		if (!mutex_trylock(&region->read_lock))
			return -EAGAIN;
	} else if (mutex_lock_interruptible(&region->read_lock)) {
		return -ERESTARTSYS;
	}

	for (;;) {
		/* One hold takes the record copied last and finds the next. */
		spin_lock(&region->lock);
		if (copied) {
			umem_queue_commit(region, src, &req);
			if (src == UMEM_SRC_REDELIVER)
				stale = umem_redeliver_detach(region);
			done += sizeof(req);
			copied = false;
		}
		if (iov_iter_count(to) < sizeof(req))
			src = UMEM_SRC_NONE;
		else if (region->hup)
			src = UMEM_SRC_NONE;
		else
			src = umem_queue_peek(region, &req);
		spin_unlock(&region->lock);
		kvfree(stale);
		stale = NULL;
		if (src == UMEM_SRC_AGAIN) {
			cond_resched();
			continue;
		}
		if (src == UMEM_SRC_NONE) {
			if (done || READ_ONCE(region->hup) ||
			    iov_iter_count(to) < sizeof(req))
				break;
			if (nowait) {
				done = -EAGAIN;
				break;
			}
			ret = wait_event_interruptible(region->server_wq,
						       umem_queue_ready(region));
			if (ret) {
				done = ret;
				break;
			}
			continue;
		}

		if (copy_to_iter(&req, sizeof(req), to) != sizeof(req)) {
			/* Nothing was taken: the request stays first. */
			if (!done)
				done = -EFAULT;
			break;
		}
		trace_umem_request_read(region, &req);
		copied = true;
	}
	mutex_unlock(&region->read_lock);
	return done;
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
static void umem_mark_present(struct umem_region *region,
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
static int umem_poison(struct umem_region *region,
		       const struct umem_range *range)
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

/*
 * A write on the fault round trip carries one range or a few: those are
 * copied to the stack, not to the heap.
 */
#define UMEM_WRITE_ON_STACK	8

/*
 * write(): an array of struct umem_range to mark present.  Every range is
 * checked before any is applied, so a bad one changes nothing.
 */
static ssize_t umem_server_write(struct file *file, const char __user *buf,
				 size_t count, loff_t *ppos)
{
	struct umem_region *region = file->private_data;
	struct umem_range stack[UMEM_WRITE_ON_STACK];
	struct umem_range *ranges = stack;
	unsigned int i, n;
	int ret = 0;

	if (!count || count % sizeof(*ranges))
		return -EINVAL;
	if (count > UMEM_WRITE_MAX)
		return -E2BIG;
	if (count <= sizeof(stack)) {
		if (copy_from_user(stack, buf, count))
			return -EFAULT;
	} else {
		ranges = memdup_user(buf, count);
		if (IS_ERR(ranges))
			return PTR_ERR(ranges);
	}
	n = count / sizeof(*ranges);
	for (i = 0; i < n && !ret; i++)
		ret = umem_region_check_range(region, &ranges[i]);
	if (!ret)
		umem_mark_present(region, ranges, n);
	if (ranges != stack)
		kfree(ranges);
	return ret ? ret : count;
}

static __poll_t umem_server_poll(struct file *file, poll_table *wait)
{
	struct umem_region *region = file->private_data;
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(file, &region->server_wq, wait);
	/*
	 * Exact: each pending or redeliver bit is a request read() would
	 * return now (a page becoming present clears its bit).  Hung up,
	 * read() returns 0 at once: readable too.
	 */
	spin_lock(&region->lock);
	if (region->hup)
		mask |= EPOLLHUP | EPOLLIN | EPOLLRDNORM;
	else if (region->nr_pending || region->nr_redeliver)
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock(&region->lock);
	return mask;
}

static long umem_server_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct umem_region *region = file->private_data;
	void __user *argp = (void __user *)arg;
	struct umem_range range;
	int ret;

	switch (cmd) {
	case UMEM_IOC_POISON:
		if (copy_from_user(&range, argp, sizeof(range)))
			return -EFAULT;
		ret = umem_region_check_range(region, &range);
		if (!ret)
			ret = umem_poison(region, &range);
		return ret;
	case UMEM_IOC_COMPLETE:
		return umem_complete(region);
	case UMEM_IOC_STATS:
		return umem_ioctl_stats(region, argp);
	case UMEM_IOC_BITMAP:
		return umem_ioctl_bitmap(region, argp);
	default:
		return -ENOTTY;
	}
}

/* The server went away: detach, and start the deadline for the waiters. */
static int umem_server_release(struct inode *inode, struct file *file)
{
	struct umem_region *region = file->private_data;
	bool failed = false, detached = false;

	if (!region)	/* never adopted: see umem_serve() */
		return 0;
	spin_lock(&region->lock);
	region->server = NULL;
	if (region->state == UMEM_STATE_SERVED) {
		atomic64_inc(&region->stats.detaches);
		/* No control file: no one can adopt it again. */
		if (!region->detach_timeout_ms || region->ctl_gone) {
			WRITE_ONCE(region->state, UMEM_STATE_FAILED);
			failed = true;
		} else {
			WRITE_ONCE(region->state, UMEM_STATE_DETACHED);
			detached = true;
		}
	}
	spin_unlock(&region->lock);
	trace_umem_detach(region, detached, failed);

	if (detached)
		mod_delayed_work(system_wq, &region->detach_work,
				 msecs_to_jiffies(region->detach_timeout_ms));
	/*
	 * Failed: every waiter wakes to fault as hardware poison.  Detached:
	 * no wait ends (a page or a failure does), so none is woken.
	 */
	if (failed)
		umem_wake_all(region);
	umem_region_put(region);
	return 0;
}

static void umem_server_show_fdinfo(struct seq_file *m, struct file *file)
{
	umem_show_fdinfo(file->private_data, m);
}

static const struct file_operations umem_server_fops = {
	.owner		= THIS_MODULE,
	.read_iter	= umem_server_read_iter,
	.write		= umem_server_write,
	.poll		= umem_server_poll,
	.unlocked_ioctl	= umem_server_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= umem_server_release,
	.show_fdinfo	= umem_server_show_fdinfo,
	.llseek		= noop_llseek,
};

/*
 * May a request read by an earlier server be outstanding, not present?
 * Every outstanding page is pending (never read), or was read.  Read
 * without the lock to decide whether to allocate the redeliver bitmap,
 * then again under it.
 */
static bool umem_may_redeliver(struct umem_region *region)
{
	return READ_ONCE(region->nr_outstanding) !=
	       READ_ONCE(region->nr_pending);
}

/*
 * Adopt the region: every request outstanding and not pending was read
 * by a previous server; deliver it again.  Runs after the new server
 * claimed the region and before its fd exists, so no one reads, marks
 * present or poisons meanwhile; faults may queue requests (pending
 * bits), which the new server gets as they are.  In steps of
 * UMEM_STEP_PAGES pages per hold of region->lock: each step rewrites its
 * words of @redeliver (a bitmap kept from an earlier adoption included)
 * and keeps nr_redeliver its weight.
 */
static void umem_adopt(struct umem_region *region)
{
	pgoff_t pos, w, last, nr = region->nr_pages;
	unsigned long old, new, *stale;
	long delta;

	for (pos = 0; pos < nr; pos += UMEM_STEP_PAGES) {
		last = BIT_WORD(min(pos + UMEM_STEP_PAGES, nr) - 1);
		delta = 0;
		spin_lock(&region->lock);
		/* Only a reader or a write frees it, and none can run yet. */
		if (WARN_ON_ONCE(!region->redeliver)) {
			spin_unlock(&region->lock);
			return;
		}
		/* UMEM_STEP_PAGES is a multiple of BITS_PER_LONG. */
		for (w = BIT_WORD(pos); w <= last; w++) {
			old = region->redeliver[w];
			new = region->requested[w] & ~region->present[w] &
			      ~region->pending[w];
			region->redeliver[w] = new;
			delta += (long)hweight_long(new) - hweight_long(old);
		}
		WRITE_ONCE(region->nr_redeliver, region->nr_redeliver + delta);
		spin_unlock(&region->lock);
		cond_resched();
	}
	spin_lock(&region->lock);
	stale = umem_redeliver_detach(region);
	spin_unlock(&region->lock);
	kvfree(stale);
}

/**
 * umem_serve - UMEM_IOC_SERVE: make the caller the region's server
 * @region: the region of the control fd
 * @argp: struct umem_serve in user memory
 *
 * Return: 0 with both fds installed, or an error and no fd.
 */
long umem_serve(struct umem_region *region, void __user *argp)
{
	unsigned long *spare = NULL;
	struct umem_serve serve;
	struct file *server, *shm;
	int sfd, mfd, fdflags, ret;
	bool need, adopt = false;

	if (copy_from_user(&serve, argp, sizeof(serve)))
		return -EFAULT;
	if ((serve.flags & ~UMEM_SERVE_FLAGS_ALL) || serve.__pad ||
	    !umem_reserved_zero(serve.reserved, ARRAY_SIZE(serve.reserved)))
		return -EINVAL;
	fdflags = (serve.flags & UMEM_SERVE_CLOEXEC) ? O_CLOEXEC : 0;

	sfd = get_unused_fd_flags(fdflags);
	if (sfd < 0)
		return sfd;
	mfd = get_unused_fd_flags(fdflags);
	if (mfd < 0) {
		ret = mfd;
		goto err_sfd;
	}
	server = anon_inode_getfile("[umem-server]", &umem_server_fops, region,
				    O_RDWR | ((serve.flags & UMEM_SERVE_NONBLOCK) ?
					      O_NONBLOCK : 0));
	if (IS_ERR(server)) {
		ret = PTR_ERR(server);
		goto err_mfd;
	}
	server->f_mode |= FMODE_NOWAIT;
	shm = umem_fill_open(region);
	if (IS_ERR(shm)) {
		ret = PTR_ERR(shm);
		goto err_server;
	}

	serve.server_fd = sfd;
	serve.shmem_fd = mfd;
	if (copy_to_user(argp, &serve, sizeof(serve))) {
		ret = -EFAULT;
		goto err_file;
	}

	/*
	 * The redeliver bitmap is allocated here, outside the lock, only if
	 * a request read by an earlier server may be outstanding;
	 * umem_adopt() frees it again if none is.  Checked again under the
	 * lock: if one may be outstanding now, allocate and retry.
	 */
	need = umem_may_redeliver(region) && !READ_ONCE(region->redeliver);
retry:
	if (need && !spare) {
		spare = umem_bitmap_alloc(region->nr_pages);
		if (!spare) {
			ret = -ENOMEM;
			goto err_file;
		}
	}
	spin_lock(&region->lock);
	if (region->server) {
		ret = -EBUSY;
	} else if (region->state == UMEM_STATE_FAILED) {
		ret = -EIO;
	} else if (!region->redeliver && !spare && umem_may_redeliver(region)) {
		spin_unlock(&region->lock);
		need = true;
		goto retry;
	} else {
		ret = 0;
		/* The server file holds the region until umem_server_release. */
		umem_region_get(region);
		region->server = server;
		if (region->state != UMEM_STATE_COMPLETE)
			WRITE_ONCE(region->state, UMEM_STATE_SERVED);
		if (!region->redeliver && umem_may_redeliver(region)) {
			region->redeliver = spare;
			spare = NULL;
		}
		region->redeliver_next = 0;
		adopt = region->redeliver;
	}
	spin_unlock(&region->lock);
	kvfree(spare);
	if (ret)
		goto err_file;
	if (adopt)
		umem_adopt(region);
	trace_umem_adopt(region);

	wake_up_interruptible_poll(&region->server_wq, EPOLLIN);
	fd_install(sfd, server);
	fd_install(mfd, shm);
	return 0;

err_file:
	fput(shm);
err_server:
	/* Not adopted: drop the file without running the detach path. */
	server->private_data = NULL;
	fput(server);
err_mfd:
	put_unused_fd(mfd);
err_sfd:
	put_unused_fd(sfd);
	return ret;
}
