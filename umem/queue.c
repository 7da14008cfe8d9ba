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
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

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
unsigned long *umem_redeliver_detach(struct umem_region *region)
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
