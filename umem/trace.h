/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umem: tracepoints (TRACE_SYSTEM umem), for perf, trace-cmd, bpftrace
 * and tracefs.  A disabled tracepoint costs a patched-out jump (a static
 * key); the arguments are pointers and values the caller already has:
 * everything else is read in TP_fast_assign, which runs only when the
 * event is enabled.  Regions are named by the inode number of their
 * shmem file (the daemon's shmem fd: fstat's st_ino), not by address.
 * trace.c creates them; Documentation/umem.rst, "Tracing", lists them.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM umem

#if !defined(_UMEM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _UMEM_TRACE_H

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/tracepoint.h>
#include "umem.h"

#ifndef UMEM_TRACE_ONCE
#define UMEM_TRACE_ONCE
static inline unsigned long umem_trace_id(struct umem_region *region)
{
	return file_inode(region->shmem)->i_ino;
}

static inline bool umem_trace_present(struct umem_region *region,
				      pgoff_t pgoff)
{
	return pgoff < region->nr_pages && test_bit(pgoff, region->present);
}
#endif

TRACE_DEFINE_ENUM(FAULT_FLAG_WRITE);
TRACE_DEFINE_ENUM(FAULT_FLAG_KILLABLE);
TRACE_DEFINE_ENUM(FAULT_FLAG_ALLOW_RETRY);
TRACE_DEFINE_ENUM(FAULT_FLAG_RETRY_NOWAIT);
TRACE_DEFINE_ENUM(FAULT_FLAG_TRIED);
TRACE_DEFINE_ENUM(FAULT_FLAG_USER);
TRACE_DEFINE_ENUM(FAULT_FLAG_REMOTE);
TRACE_DEFINE_ENUM(FAULT_FLAG_INTERRUPTIBLE);

#define umem_show_fault_flags(f)					\
	__print_flags(f, "|",						\
		      { FAULT_FLAG_WRITE, "WRITE" },			\
		      { FAULT_FLAG_KILLABLE, "KILLABLE" },		\
		      { FAULT_FLAG_ALLOW_RETRY, "ALLOW_RETRY" },	\
		      { FAULT_FLAG_RETRY_NOWAIT, "RETRY_NOWAIT" },	\
		      { FAULT_FLAG_TRIED, "TRIED" },			\
		      { FAULT_FLAG_USER, "USER" },			\
		      { FAULT_FLAG_REMOTE, "REMOTE" },			\
		      { FAULT_FLAG_INTERRUPTIBLE, "INTERRUPTIBLE" })

/* UMEM_REQ_*, as plain numbers for the format file (trace.c checks). */
#define umem_show_req_flags(f)						\
	__print_flags(f, "|",						\
		      { 1, "WRITE" }, { 2, "KERNEL" }, { 4, "ASYNC" },	\
		      { 8, "REDELIVERED" })

/* UMEM_STATE_* (trace.c checks). */
#define umem_show_state(s)						\
	__print_symbolic(s, { 0, "unserved" }, { 1, "served" },	\
			 { 2, "detached" }, { 3, "failed" },		\
			 { 4, "complete" })

/* Every fault umem handles, present pages (the fast path) included. */
TRACE_EVENT(umem_fault,
	TP_PROTO(struct umem_region *region, struct vm_fault *vmf),
	TP_ARGS(region, vmf),
	TP_STRUCT__entry(
		__field(unsigned long, region)
		__field(unsigned long, pgoff)
		__field(unsigned int, flags)
		__field(bool, present)
	),
	TP_fast_assign(
		__entry->region = umem_trace_id(region);
		__entry->pgoff = vmf->pgoff;
		__entry->flags = vmf->flags;
		__entry->present = umem_trace_present(region, vmf->pgoff);
	),
	TP_printk("region=%lu pgoff=%lu flags=%s present=%d",
		  __entry->region, __entry->pgoff,
		  umem_show_fault_flags(__entry->flags), __entry->present)
);

DECLARE_EVENT_CLASS(umem_request_class,
	TP_PROTO(struct umem_region *region, const struct umem_request *req),
	TP_ARGS(region, req),
	TP_STRUCT__entry(
		__field(unsigned long, region)
		__field(u64, pgoff)
		__field(u32, flags)
		__field(u32, tid)
	),
	TP_fast_assign(
		__entry->region = umem_trace_id(region);
		__entry->pgoff = req->pgoff;
		__entry->flags = req->flags;
		__entry->tid = req->tid;
	),
	TP_printk("region=%lu pgoff=%llu flags=%s tid=%u",
		  __entry->region, __entry->pgoff,
		  umem_show_req_flags(__entry->flags), __entry->tid)
);

/* A fault queued a request for the server (once per page). */
DEFINE_EVENT(umem_request_class, umem_request_queued,
	TP_PROTO(struct umem_region *region, const struct umem_request *req),
	TP_ARGS(region, req)
);

/* The server read() a request (redelivered ones too). */
DEFINE_EVENT(umem_request_class, umem_request_read,
	TP_PROTO(struct umem_region *region, const struct umem_request *req),
	TP_ARGS(region, req)
);

DECLARE_EVENT_CLASS(umem_range_class,
	TP_PROTO(struct umem_region *region, pgoff_t pgoff, pgoff_t count),
	TP_ARGS(region, pgoff, count),
	TP_STRUCT__entry(
		__field(unsigned long, region)
		__field(unsigned long, pgoff)
		__field(unsigned long, count)
		__field(unsigned long, nr_present)
		__field(unsigned long, nr_pages)
	),
	TP_fast_assign(
		__entry->region = umem_trace_id(region);
		__entry->pgoff = pgoff;
		__entry->count = count;
		__entry->nr_present = READ_ONCE(region->nr_present);
		__entry->nr_pages = region->nr_pages;
	),
	TP_printk("region=%lu pgoff=%lu count=%lu present=%lu/%lu",
		  __entry->region, __entry->pgoff, __entry->count,
		  __entry->nr_present, __entry->nr_pages)
);

/* A write() marked pages present (one event per range and step). */
DEFINE_EVENT(umem_range_class, umem_present,
	TP_PROTO(struct umem_region *region, pgoff_t pgoff, pgoff_t count),
	TP_ARGS(region, pgoff, count)
);

/* UMEM_IOC_POISON: the pages will never arrive. */
DEFINE_EVENT(umem_range_class, umem_poison,
	TP_PROTO(struct umem_region *region, pgoff_t pgoff, pgoff_t count),
	TP_ARGS(region, pgoff, count)
);

/*
 * A fault that slept woke up: its page arrived (present=1), or it was
 * poisoned, the region failed, a signal came, or the server went away
 * under a fault holding the mmap lock (present=0).  @start is the
 * ktime_get_ns() when it first slept; only sleeps are traced.
 */
TRACE_EVENT_CONDITION(umem_wake,
	TP_PROTO(struct umem_region *region, pgoff_t pgoff, u64 start),
	TP_ARGS(region, pgoff, start),
	TP_CONDITION(start),
	TP_STRUCT__entry(
		__field(unsigned long, region)
		__field(unsigned long, pgoff)
		__field(u64, wait_ns)
		__field(bool, present)
		__field(int, state)
	),
	TP_fast_assign(
		__entry->region = umem_trace_id(region);
		__entry->pgoff = pgoff;
		__entry->wait_ns = ktime_get_ns() - start;
		__entry->present = umem_trace_present(region, pgoff);
		__entry->state = READ_ONCE(region->state);
	),
	TP_printk("region=%lu pgoff=%lu wait_ns=%llu present=%d state=%s",
		  __entry->region, __entry->pgoff, __entry->wait_ns,
		  __entry->present, umem_show_state(__entry->state))
);

/*
 * The server's last fd closed while it served: the region detached (a
 * deadline of timeout_ms runs), or failed at once (no deadline, or no
 * control fd left).
 */
TRACE_EVENT_CONDITION(umem_detach,
	TP_PROTO(struct umem_region *region, bool detached, bool failed),
	TP_ARGS(region, detached, failed),
	TP_CONDITION(detached || failed),
	TP_STRUCT__entry(
		__field(unsigned long, region)
		__field(bool, failed)
		__field(u32, timeout_ms)
		__field(unsigned long, nr_present)
		__field(unsigned long, nr_pages)
	),
	TP_fast_assign(
		__entry->region = umem_trace_id(region);
		__entry->failed = failed;
		__entry->timeout_ms = region->detach_timeout_ms;
		__entry->nr_present = READ_ONCE(region->nr_present);
		__entry->nr_pages = region->nr_pages;
	),
	TP_printk("region=%lu failed=%d timeout_ms=%u present=%lu/%lu",
		  __entry->region, __entry->failed, __entry->timeout_ms,
		  __entry->nr_present, __entry->nr_pages)
);

/*
 * UMEM_IOC_SERVE succeeded: a server adopted the region; readopt=1 after
 * a detach, with the requests to deliver again.  Under region->lock.
 */
TRACE_EVENT(umem_adopt,
	TP_PROTO(struct umem_region *region),
	TP_ARGS(region),
	TP_STRUCT__entry(
		__field(unsigned long, region)
		__field(bool, readopt)
		__field(unsigned long, redeliver)
		__field(unsigned long, nr_present)
		__field(unsigned long, nr_pages)
	),
	TP_fast_assign(
		__entry->region = umem_trace_id(region);
		__entry->readopt = atomic64_read(&region->stats.detaches) != 0;
		__entry->redeliver = region->nr_redeliver;
		__entry->nr_present = region->nr_present;
		__entry->nr_pages = region->nr_pages;
	),
	TP_printk("region=%lu readopt=%d redeliver=%lu present=%lu/%lu",
		  __entry->region, __entry->readopt, __entry->redeliver,
		  __entry->nr_present, __entry->nr_pages)
);

/* The detach deadline passed with no new server: the region failed. */
TRACE_EVENT_CONDITION(umem_deadline,
	TP_PROTO(struct umem_region *region, bool failed),
	TP_ARGS(region, failed),
	TP_CONDITION(failed),
	TP_STRUCT__entry(
		__field(unsigned long, region)
		__field(u32, timeout_ms)
		__field(unsigned long, nr_present)
		__field(unsigned long, nr_pages)
	),
	TP_fast_assign(
		__entry->region = umem_trace_id(region);
		__entry->timeout_ms = region->detach_timeout_ms;
		__entry->nr_present = READ_ONCE(region->nr_present);
		__entry->nr_pages = region->nr_pages;
	),
	TP_printk("region=%lu timeout_ms=%u present=%lu/%lu",
		  __entry->region, __entry->timeout_ms, __entry->nr_present,
		  __entry->nr_pages)
);

/* UMEM_IOC_COMPLETE: ret=0, the region is complete; -EBUSY, not yet. */
TRACE_EVENT(umem_complete,
	TP_PROTO(struct umem_region *region, int ret),
	TP_ARGS(region, ret),
	TP_STRUCT__entry(
		__field(unsigned long, region)
		__field(int, ret)
		__field(unsigned long, nr_present)
		__field(unsigned long, nr_pages)
	),
	TP_fast_assign(
		__entry->region = umem_trace_id(region);
		__entry->ret = ret;
		__entry->nr_present = READ_ONCE(region->nr_present);
		__entry->nr_pages = region->nr_pages;
	),
	TP_printk("region=%lu ret=%d present=%lu/%lu",
		  __entry->region, __entry->ret, __entry->nr_present,
		  __entry->nr_pages)
);

#endif /* _UMEM_TRACE_H */

/* An out-of-tree module: define_trace.h finds this file through -I$(src). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
