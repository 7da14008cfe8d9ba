/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umem: internal declarations shared by the module's files.
 */
#ifndef _UMEM_UMEM_H
#define _UMEM_UMEM_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/umem.h>

struct file;
struct mem_cgroup;
struct seq_file;

/* Faulting threads sleep on one of these queues, hashed by page. */
#define UMEM_WQ_BITS	6
#define UMEM_NR_WQ	BIT(UMEM_WQ_BITS)

/*
 * Requests of recent faults kept whole (flags and tid) until read: a
 * fixed ring allocated with the region (8 KiB), of the most recent ones.
 * A request made while it is full pushes the oldest entry out: that
 * request stays pending, moves to an overflow bitmap, and is read as
 * UMEM_REQ_OVERFLOW, before the ring's (oldest first, see queue.c).
 */
#define UMEM_RING_SIZE	512

/**
 * struct umem_fault_counters - per-CPU counters of the fault path
 * @faults:		faults that reached umem_fault()
 * @faults_blocked:	faults that slept waiting for a page
 * @blocked_ns:		total time faults slept
 * @hist:		log2-microsecond histogram of the sleeps
 *
 * Every fault counts, present pages included: one shared counter would
 * bounce its cache line between every CPU that faults.  Readers sum the
 * CPUs' copies.
 */
struct umem_fault_counters {
	u64 faults;
	u64 faults_blocked;
	u64 blocked_ns;
	u64 hist[UMEM_HIST_BUCKETS];
};

/**
 * struct umem_counters - event counters, updated without the region lock
 * @pcpu:		the fault path's, per CPU
 * @redelivered:	requests delivered again to a new server
 * @detaches:		times the server went away
 */
struct umem_counters {
	struct umem_fault_counters __percpu *pcpu;
	atomic64_t redelivered;
	atomic64_t detaches;
};

/**
 * struct umem_region - the memory behind a control fd after UMEM_IOC_INIT
 * @ref:		one reference per holder: the control fd, the server
 *			file, each VMA, each guest file (a fault sleeping
 *			without mmap_lock holds its VMA's)
 * @shmem:		the backing shmem file; supplied pages live here
 * @memcg:		memory cgroup of the task that made the region
 *			(UMEM_IOC_INIT), held: supplied pages are charged
 *			to it (see fill.c); NULL without a memory controller
 * @size:		region size in bytes
 * @nr_pages:		region size in pages
 * @flags:		UMEM_INIT_* flags
 * @detach_timeout_ms:	how long waiters stay parked without a server
 * @lock:		protects everything below up to @wq
 * @present:		pages supplied; set once, never cleared
 * @requested:		pages requested from a server; set once
 * @poisoned:		pages that will never arrive (also set in @present);
 *			NULL until the first poison, then set once: read it
 *			locklessly with umem_poisoned()
 * @pending:		pages requested and not read by any server yet, nor
 *			present: one bit per page, allocated with the region
 * @overflow:		the @pending pages that are not in @ring (pushed out
 *			of it by newer requests), in two generations:
 *			@overflow[@overflow_cur] is being read, and pages
 *			pushed out meanwhile go to the other, read once the
 *			first is empty.  One bit per page each, allocated
 *			with the region
 * @redeliver:		outstanding pages to deliver again to a new server;
 *			allocated by umem_serve() when a re-adopt may need it,
 *			freed once empty, NULL otherwise
 * @ring:		the requests of the most recent faults, up to
 *			UMEM_RING_SIZE of them from @ring_head on; an entry
 *			whose @pending bit is clear is stale and skipped.  A
 *			page is in it at most once, ever (its @requested bit
 *			is set once); every @pending page is either in it or
 *			in one of @overflow
 * @ring_head:		index of the oldest entry
 * @ring_len:		entries in use
 * @nr_present:		weight of @present
 * @nr_requested:	weight of @requested
 * @nr_outstanding:	weight of @requested and not @present
 * @nr_poisoned:	weight of @poisoned
 * @nr_pending:		weight of @pending
 * @nr_overflow:	weights of @overflow
 * @overflow_cur:	the generation of @overflow being read
 * @nr_redeliver:	weight of @redeliver, 0 while it is NULL
 * @overflow_pos:	where the next scan of @overflow[@overflow_cur] starts
 * @redeliver_next:	where the next scan of @redeliver starts
 * @server:		the live server file, or NULL
 * @state:		UMEM_STATE_*
 * @ctl_gone:		the control file is closed: no server can come any more
 * @hup:		the control file is closed and the live server holds
 *			the last reference: no one can fault on the region
 *			again (set once)
 * @read_lock:		serialises readers of the server fd; taken outside
 *			@lock, never inside it
 * @server_wq:		readers and pollers of the server fd
 * @detach_work:	fails the region when the detach deadline passes
 * @stats:		event counters
 * @wq:			hashed queues of faulting threads
 */
struct umem_region {
	struct kref ref;
	struct file *shmem;
	struct mem_cgroup *memcg;
	u64 size;
	pgoff_t nr_pages;
	u32 flags;
	u32 detach_timeout_ms;

	spinlock_t lock;		/* page state, queue, server, state */
	unsigned long *present;
	unsigned long *requested;
	unsigned long *poisoned;
	unsigned long *pending;
	unsigned long *overflow[2];
	unsigned long *redeliver;
	struct umem_request *ring;
	unsigned int ring_head;
	unsigned int ring_len;
	pgoff_t nr_present;
	pgoff_t nr_requested;
	pgoff_t nr_outstanding;
	pgoff_t nr_poisoned;
	pgoff_t nr_pending;
	pgoff_t nr_overflow[2];
	unsigned int overflow_cur;
	pgoff_t nr_redeliver;
	pgoff_t overflow_pos;
	pgoff_t redeliver_next;
	struct file *server;
	int state;
	bool ctl_gone;
	bool hup;

	struct mutex read_lock;		/* one reader at a time */
	wait_queue_head_t server_wq;
	struct delayed_work detach_work;
	struct umem_counters stats;
	wait_queue_head_t wq[UMEM_NR_WQ];
};

/**
 * struct umem_ctl - a control: one per open of /dev/umem, one per umemfs
 *		     regular file (held by its inode)
 * @lock:	serialises changes of the fd's configuration
 * @api:	version agreed by UMEM_IOC_API, 0 before the handshake
 * @features:	feature set agreed by UMEM_IOC_API
 * @region:	the region made by UMEM_IOC_INIT, NULL before
 * @mount_policy: a umemfs file's: UMEM_IOC_INIT may not state a policy
 *		weaker than its mount's, @mount_flags and @mount_timeout_ms
 * @mount_flags: the UMEM_INIT_* flags UMEM_IOC_INIT must keep
 * @mount_timeout_ms: the longest detach_timeout_ms UMEM_IOC_INIT may state
 */
struct umem_ctl {
	struct mutex lock;	/* protects @api, @features and @region */
	u32 api;
	u64 features;
	struct umem_region *region;
	bool mount_policy;
	u32 mount_flags;
	u32 mount_timeout_ms;
};

static inline bool umem_reserved_zero(const __u64 *reserved, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (reserved[i])
			return false;
	return true;
}

/*
 * A page is settled when a fault on it need not wait: it is present (or
 * poisoned), or the region failed.  Pairs with the barriers in
 * umem_mark_present() and umem_wake_all(): a fault that sees the
 * bit also sees the page contents written before it was set.
 */
static inline bool umem_page_present(struct umem_region *region, pgoff_t pgoff)
{
	bool present = test_bit(pgoff, region->present);

	/* Read the bit before the page: pairs with umem_mark_present(). */
	smp_rmb();
	return present;
}

/*
 * The poisoned bitmap, or NULL while no page was ever poisoned (all
 * clear).  Who sees the pointer sees a zeroed bitmap; who saw a present
 * bit, then a read barrier (umem_page_present()), sees the pointer and
 * the poisoned bits of the poison that set it.
 */
static inline const unsigned long *umem_poisoned(struct umem_region *region)
{
	/* Pairs with the store-release in umem_poison(). */
	return smp_load_acquire(&region->poisoned);
}

/*
 * Most pages one hold of region->lock sets, clears or scans bits for:
 * 1024 words of each bitmap touched, some microseconds.
 */
#define UMEM_STEP_PAGES		((pgoff_t)SZ_64K)

/* Largest region, in pages: the bitmap helpers take unsigned int sizes. */
#define UMEM_MAX_PAGES	((pgoff_t)INT_MAX)

/* dev.c: controls, for /dev/umem fds and umemfs files; /dev/umem */
struct umem_ctl *umem_ctl_alloc(void);
void umem_ctl_free(struct umem_ctl *ctl);
int umem_ctl_create(struct umem_ctl *ctl, const struct umem_init *init,
		    bool need_api);
struct umem_region *umem_ctl_region(struct umem_ctl *ctl);
long umem_ctl_ioctl(struct umem_ctl *ctl, struct file *file, unsigned int cmd,
		    unsigned long arg);
int umem_ctl_mmap(struct umem_ctl *ctl, struct vm_area_struct *vma);
void umem_ctl_show_fdinfo(struct umem_ctl *ctl, struct seq_file *m);
int umem_dev_init(void);
void umem_dev_exit(void);

/* fs.c: umemfs */
int umem_fs_init(void);
void umem_fs_exit(void);

/* region.c */
int umem_region_init(void);
void umem_region_exit(void);
struct umem_region *umem_region_create(const struct umem_init *init);
void umem_region_get(struct umem_region *region);
void umem_region_put(struct umem_region *region);
void umem_region_ctl_closed(struct umem_region *region);
struct file *umem_region_file(struct umem_region *region,
			      const struct file_operations *fops);
int umem_region_check_range(struct umem_region *region,
			    const struct umem_range *range);
unsigned long *umem_bitmap_alloc(pgoff_t nr_pages);
int umem_complete(struct umem_region *region);
void umem_wake_range(struct umem_region *region, pgoff_t start, pgoff_t end);
void umem_wake_all(struct umem_region *region);
u64 umem_wait_page(struct umem_region *region, pgoff_t pgoff,
		   unsigned int state);
bool umem_wait_gave_up(struct umem_region *region, pgoff_t pgoff);

/* fault.c */
extern const struct vm_operations_struct *umem_shmem_vm_ops;
int umem_mmap_region(struct umem_region *region, struct vm_area_struct *vma);
#ifdef CONFIG_NUMA
int umem_set_policy(struct vm_area_struct *vma, struct mempolicy *new);
#endif

/* fill.c */
struct file *umem_fill_open(struct umem_region *region);

/* queue.c */
void umem_queue_request(struct umem_region *region, pgoff_t pgoff, u32 flags);
long umem_serve(struct umem_region *region, void __user *argp);

/* stats.c */
void umem_stats_fill(struct umem_region *region, struct umem_stats *st);
long umem_ioctl_stats(struct umem_region *region, void __user *argp);
long umem_ioctl_bitmap(struct umem_region *region, void __user *argp);
void umem_stats_account_wait(struct umem_region *region, u64 ns);
void umem_show_fdinfo(struct umem_region *region, struct seq_file *m);

#endif /* _UMEM_UMEM_H */
