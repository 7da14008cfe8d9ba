// SPDX-License-Identifier: GPL-2.0
/*
 * umem: statistics, through UMEM_IOC_STATS and fdinfo.
 */
#include <linux/bitops.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "umem.h"

/* Account one fault that slept @ns (0: it did not sleep). */
void umem_stats_account_wait(struct umem_region *region, u64 ns)
{
	unsigned int bucket;

	if (!ns)
		return;
	/* Bucket 0: under 1 us; bucket i: [2^(i-1), 2^i) us. */
	bucket = fls64(div_u64(ns, NSEC_PER_USEC));
	if (bucket >= UMEM_HIST_BUCKETS)
		bucket = UMEM_HIST_BUCKETS - 1;
	this_cpu_inc(region->stats.pcpu->faults_blocked);
	this_cpu_add(region->stats.pcpu->blocked_ns, ns);
	this_cpu_inc(region->stats.pcpu->hist[bucket]);
}

/* Sum the CPUs' fault counters into @st; each is read without tearing. */
static void umem_stats_sum(struct umem_region *region, struct umem_stats *st)
{
	const struct umem_fault_counters *c;
	unsigned int i;
	int cpu;

	for_each_possible_cpu(cpu) {
		c = per_cpu_ptr(region->stats.pcpu, cpu);
		st->faults += READ_ONCE(c->faults);
		st->faults_blocked += READ_ONCE(c->faults_blocked);
		st->blocked_ns += READ_ONCE(c->blocked_ns);
		for (i = 0; i < UMEM_HIST_BUCKETS; i++)
			st->wait_hist[i] += READ_ONCE(c->hist[i]);
	}
}

void umem_stats_fill(struct umem_region *region, struct umem_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = region->size;
	st->page_size = PAGE_SIZE;
	spin_lock(&region->lock);
	st->state = region->state;
	st->pages_present = region->nr_present;
	st->pages_requested = region->nr_requested;
	st->pages_poisoned = region->nr_poisoned;
	/* Requested and not present yet: kept as pages change. */
	st->pages_outstanding = region->nr_outstanding;
	spin_unlock(&region->lock);
	umem_stats_sum(region, st);
	st->requests_redelivered = atomic64_read(&region->stats.redelivered);
	st->detaches = atomic64_read(&region->stats.detaches);
}

long umem_ioctl_stats(struct umem_region *region, void __user *argp)
{
	struct umem_stats st;

	umem_stats_fill(region, &st);
	if (copy_to_user(argp, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

/* Words copied per step of UMEM_IOC_BITMAP: 32768 pages. */
#define UMEM_BITMAP_CHUNK	512

/**
 * umem_ioctl_bitmap - UMEM_IOC_BITMAP: copy out a page bitmap
 * @region: the region
 * @argp: struct umem_bitmap in user memory
 *
 * Bits are only ever set, so a snapshot read without the lock is still
 * true when userspace sees it.  The poisoned bitmap may not exist yet:
 * then no page is poisoned.  Each chunk goes through a kernel buffer:
 * copy_to_user() may fault and must not run under region->lock.
 *
 * Return: 0, or -EFAULT/-EINVAL/-ENOMEM.
 */
long umem_ioctl_bitmap(struct umem_region *region, void __user *argp)
{
	struct umem_bitmap bm;
	struct umem_range range;
	const unsigned long *bits;
	u64 __user *dst;
	u64 *buf;
	pgoff_t done, n;
	long ret = 0;

	if (copy_from_user(&bm, argp, sizeof(bm)))
		return -EFAULT;
	if (bm.__pad || !umem_reserved_zero(bm.reserved, ARRAY_SIZE(bm.reserved)))
		return -EINVAL;
	range.pgoff = bm.pgoff;
	range.count = bm.count;
	if (bm.pgoff % 64 || umem_region_check_range(region, &range))
		return -EINVAL;
	switch (bm.which) {
	case UMEM_BITMAP_PRESENT:
		bits = region->present;
		break;
	case UMEM_BITMAP_POISONED:
		/* NULL until the first poison: all clear. */
		bits = umem_poisoned(region);
		break;
	case UMEM_BITMAP_REQUESTED:
		bits = region->requested;
		break;
	default:
		return -EINVAL;
	}

	buf = kmalloc_array(UMEM_BITMAP_CHUNK, sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	dst = u64_to_user_ptr(bm.addr);
	for (done = 0; done < bm.count; done += n) {
		n = min_t(pgoff_t, bm.count - done, UMEM_BITMAP_CHUNK * 64);
		/* pgoff + done is a multiple of 64, so of BITS_PER_LONG. */
		if (bits)
			bitmap_to_arr64(buf,
					bits + (bm.pgoff + done) / BITS_PER_LONG,
					n);
		else
			memset(buf, 0, DIV_ROUND_UP(n, 64) * sizeof(*buf));
		if (copy_to_user(dst + done / 64, buf,
				 DIV_ROUND_UP(n, 64) * sizeof(*buf))) {
			ret = -EFAULT;
			break;
		}
		cond_resched();
	}
	kfree(buf);
	return ret;
}

static const char * const umem_state_names[] = {
	[UMEM_STATE_UNSERVED]	= "unserved",
	[UMEM_STATE_SERVED]	= "served",
	[UMEM_STATE_DETACHED]	= "detached",
	[UMEM_STATE_FAILED]	= "failed",
	[UMEM_STATE_COMPLETE]	= "complete",
};

void umem_show_fdinfo(struct umem_region *region, struct seq_file *m)
{
	struct umem_stats st;
	unsigned int i;

	umem_stats_fill(region, &st);
	seq_printf(m, "umem-state:\t%s\n", umem_state_names[st.state]);
	seq_printf(m, "umem-size:\t%llu\n", st.size);
	seq_printf(m, "umem-page-size:\t%u\n", st.page_size);
	seq_printf(m, "umem-pages-present:\t%llu\n", st.pages_present);
	seq_printf(m, "umem-pages-requested:\t%llu\n", st.pages_requested);
	seq_printf(m, "umem-pages-outstanding:\t%llu\n", st.pages_outstanding);
	seq_printf(m, "umem-pages-poisoned:\t%llu\n", st.pages_poisoned);
	seq_printf(m, "umem-faults:\t%llu\n", st.faults);
	seq_printf(m, "umem-faults-blocked:\t%llu\n", st.faults_blocked);
	seq_printf(m, "umem-requests-redelivered:\t%llu\n",
		   st.requests_redelivered);
	seq_printf(m, "umem-detaches:\t%llu\n", st.detaches);
	seq_printf(m, "umem-blocked-ns:\t%llu\n", st.blocked_ns);
	seq_puts(m, "umem-wait-hist-log2us:");
	for (i = 0; i < UMEM_HIST_BUCKETS; i++)
		seq_printf(m, " %llu", st.wait_hist[i]);
	seq_putc(m, '\n');
}
