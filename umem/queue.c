// SPDX-License-Identifier: GPL-2.0
/*
 * umem: the request queue and the server fd.
 *
 * A fault on a missing page queues one request (the requested bit
 * dedups concurrent faults) and wakes the server's readers.  The server
 * read()s whole records, write()s ranges to mark present, and may poison
 * ranges or declare the region complete.  Closing the server detaches the
 * region: waiters stay parked, and the next server re-adopts the region
 * and is handed every request still outstanding.
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

/**
 * umem_queue_request - queue a request for @pgoff unless one was queued
 * @region: the region
 * @pgoff: the missing page
 * @flags: UMEM_REQ_* flags of the fault
 *
 * Return: 0, or -ENOMEM.
 */
int umem_queue_request(struct umem_region *region, pgoff_t pgoff, u32 flags)
{
	struct umem_req_entry *entry;
	bool queued = false;

	if (test_bit(pgoff, region->requested))
		return 0;
	entry = kmalloc(sizeof(*entry), GFP_KERNEL_ACCOUNT);
	if (!entry)
		return -ENOMEM;
	entry->req.pgoff = pgoff;
	entry->req.flags = flags;
	entry->req.tid = task_pid_vnr(current);

	spin_lock(&region->lock);
	if (!__test_and_set_bit(pgoff, region->requested)) {
		region->nr_requested++;
		list_add_tail(&entry->node, &region->queue);
		queued = true;
		trace_umem_request_queued(region, &entry->req);
	}
	spin_unlock(&region->lock);

	if (queued)
		wake_up_interruptible_poll(&region->server_wq, EPOLLIN);
	else
		kfree(entry);
	return 0;
}

void umem_queue_free(struct umem_region *region)
{
	struct umem_req_entry *entry, *next;

	list_for_each_entry_safe(entry, next, &region->queue, node)
		kfree(entry);
	INIT_LIST_HEAD(&region->queue);
}

/**
 * umem_redeliver_detach - take the redeliver bitmap away once it is empty
 * @region: the region, its lock held
 *
 * The bitmap is needed only while requests wait to be delivered again.
 * A reader that took the last of them keeps it (redeliver_held) until it
 * knows it will not put the request back.  kvfree() may sleep: the caller
 * frees the bitmap after unlocking.
 *
 * Return: the bitmap to kvfree(), or NULL.
 */
unsigned long *umem_redeliver_detach(struct umem_region *region)
{
	unsigned long *bits = region->redeliver;

	lockdep_assert_held(&region->lock);
	if (!bits || region->nr_redeliver || region->redeliver_held)
		return NULL;
	region->redeliver = NULL;
	return bits;
}

static bool umem_queue_ready(struct umem_region *region)
{
	return !list_empty(&region->queue) || region->nr_redeliver;
}

/*
 * Take the next request for the server, under region->lock.  Requests for
 * pages that arrived meanwhile are dropped.  Return false when none is
 * left.  A request taken from @redeliver keeps the bitmap until the
 * reader calls umem_queue_release_held().
 */
static bool umem_queue_pop(struct umem_region *region, struct umem_request *req,
			   struct umem_req_entry **entryp)
{
	struct umem_req_entry *entry;
	pgoff_t p;

	while (!list_empty(&region->queue)) {
		entry = list_first_entry(&region->queue, struct umem_req_entry,
					 node);
		list_del(&entry->node);
		if (test_bit(entry->req.pgoff, region->present)) {
			kfree(entry);
			continue;
		}
		*req = entry->req;
		*entryp = entry;
		return true;
	}
	if (region->nr_redeliver) {
		p = find_next_bit(region->redeliver, region->nr_pages,
				  region->redeliver_next);
		if (p >= region->nr_pages)
			p = find_first_bit(region->redeliver, region->nr_pages);
		if (WARN_ON_ONCE(p >= region->nr_pages)) {
			region->nr_redeliver = 0;
			return false;
		}
		__clear_bit(p, region->redeliver);
		region->nr_redeliver--;
		region->redeliver_next = p + 1;
		region->redeliver_held = true;
		req->pgoff = p;
		req->flags = UMEM_REQ_REDELIVERED;
		req->tid = 0;
		*entryp = NULL;
		atomic64_inc(&region->stats.redelivered);
		return true;
	}
	return false;
}

/* Put back a request that could not be copied out: it goes first again. */
static void umem_queue_unpop(struct umem_region *region,
			     const struct umem_request *req,
			     struct umem_req_entry *entry)
{
	if (entry) {
		list_add(&entry->node, &region->queue);
		return;
	}
	/* Still there: umem_queue_pop() set redeliver_held. */
	__set_bit(req->pgoff, region->redeliver);
	region->nr_redeliver++;
	region->redeliver_next = req->pgoff;
	atomic64_dec(&region->stats.redelivered);
}

/* The reader is done with what it took from @redeliver: free it if empty. */
static void umem_queue_release_held(struct umem_region *region)
{
	unsigned long *stale;

	spin_lock(&region->lock);
	region->redeliver_held = false;
	stale = umem_redeliver_detach(region);
	spin_unlock(&region->lock);
	kvfree(stale);
}

static ssize_t umem_server_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct umem_region *region = iocb->ki_filp->private_data;
	bool nowait = (iocb->ki_flags & IOCB_NOWAIT) ||
		      (iocb->ki_filp->f_flags & O_NONBLOCK);
	struct umem_req_entry *entry;
	struct umem_request req;
	bool held = false;
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

	while (iov_iter_count(to) >= sizeof(req)) {
		spin_lock(&region->lock);
		if (!umem_queue_pop(region, &req, &entry)) {
			spin_unlock(&region->lock);
			if (done)
				break;
			if (nowait) {
				done = -EAGAIN;
				break;
			}
			ret = wait_event_interruptible(region->server_wq,
						       READ_ONCE(region->nr_redeliver) ||
						       !list_empty_careful(&region->queue));
			if (ret) {
				done = ret;
				break;
			}
			continue;
		}
		spin_unlock(&region->lock);
		if (!entry)
			held = true;

		if (copy_to_iter(&req, sizeof(req), to) != sizeof(req)) {
			spin_lock(&region->lock);
			umem_queue_unpop(region, &req, entry);
			spin_unlock(&region->lock);
			if (!done)
				done = -EFAULT;
			break;
		}
		trace_umem_request_read(region, &req);
		kfree(entry);
		done += sizeof(req);
	}
	if (held)
		umem_queue_release_held(region);
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
	spin_lock(&region->lock);
	if (umem_queue_ready(region))
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
	 * Failed: every waiter gets SIGBUS.  Detached: faults sleeping with
	 * the mmap lock held give up without a server (see umem_fault()),
	 * the others sleep on.
	 */
	if (failed || detached)
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
 * May a request read by an earlier server be outstanding?  Only if a
 * server ever ran, a page was requested and a page is missing.  Cheap and
 * conservative; read without the lock to decide whether to allocate the
 * redeliver bitmap, then again under it.
 */
static bool umem_may_redeliver(struct umem_region *region)
{
	return READ_ONCE(region->state) != UMEM_STATE_UNSERVED &&
	       READ_ONCE(region->nr_requested) &&
	       READ_ONCE(region->nr_present) != region->nr_pages;
}

/*
 * Adopt the region, under region->lock: every request outstanding and not
 * in the queue was read by a previous server; deliver it again.  The
 * caller provided the redeliver bitmap if umem_may_redeliver(), or kept
 * the one an earlier adoption left; without one, nothing is outstanding.
 */
static void umem_adopt(struct umem_region *region)
{
	struct umem_req_entry *entry;

	region->redeliver_next = 0;
	if (!region->redeliver) {
		region->nr_redeliver = 0;
		return;
	}
	bitmap_andnot(region->redeliver, region->requested, region->present,
		      region->nr_pages);
	list_for_each_entry(entry, &region->queue, node)
		__clear_bit(entry->req.pgoff, region->redeliver);
	region->nr_redeliver = bitmap_weight(region->redeliver,
					     region->nr_pages);
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
	unsigned long *spare = NULL, *stale = NULL;
	struct umem_serve serve;
	struct file *server, *shm;
	int sfd, mfd, fdflags, ret;
	bool need;

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
	 * a request may be outstanding; umem_adopt() frees it again at once
	 * if none is.  Checked again under the lock: if a request may be
	 * outstanding now, allocate and retry.
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
		if (!region->redeliver) {
			region->redeliver = spare;
			spare = NULL;
		}
		umem_adopt(region);
		trace_umem_adopt(region);
		stale = umem_redeliver_detach(region);
	}
	spin_unlock(&region->lock);
	kvfree(stale);
	kvfree(spare);
	if (ret)
		goto err_file;

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
