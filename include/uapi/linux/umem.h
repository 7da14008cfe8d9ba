/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * umem: user-process-backed memory for postcopy live migration.
 *
 * This header is the whole userspace ABI of /dev/umem.  The protocol it
 * carries is described in Documentation/umem.rst.
 *
 * Rules every structure here follows:
 *  - fixed-width types only, no pointers, no "long";
 *  - explicit padding, reserved fields that must be zero on input;
 *  - every field is marked (in), (out) or (in/out).
 */
#ifndef _UAPI_LINUX_UMEM_H
#define _UAPI_LINUX_UMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* The protocol version this header describes. */
#define UMEM_API_VERSION	1

/* ioctl magic: 0xE6 is unassigned in ioctl-number.rst. */
#define UMEM_IOC_MAGIC		0xE6

/*
 * The f_type statfs(2) reports for a umemfs mount ("umem" in ASCII): how
 * a daemon tells a umemfs file from any other file it is handed.
 */
#define UMEM_FS_MAGIC		0x756d656d

/*
 * Optional features, negotiated by UMEM_IOC_API.  No optional feature
 * exists in version 1; the mask lets later versions add them without
 * breaking old callers.
 */
#define UMEM_FEATURES_ALL	0ULL

/**
 * struct umem_api - version and feature handshake
 * @api:	(in) the protocol version the caller speaks; must be
 *		UMEM_API_VERSION.  (out) the version the module speaks.
 * @page_size:	(out) the unit of every page offset and count in the
 *		protocol, in bytes.  Never assume it equals the CPU page size
 *		your program was built for.
 * @features:	(in) the optional features the caller wants; any bit the
 *		module does not know fails the call with EINVAL.
 *		(out) every feature the module supports.
 * @reserved:	(in) must be zero.
 */
struct umem_api {
	__u32 api;
	__u32 page_size;
	__u64 features;
	__u64 reserved[6];
};

/*
 * UMEM_IOC_API: must be the first ioctl on a control fd.  Repeating it
 * with the same version and features succeeds and changes nothing.
 *
 * Errors: EFAULT (the argument cannot be read, or the answer cannot be
 * written back), EINVAL (unknown version, unknown feature bit, non-zero
 * reserved field), EBUSY (the handshake was already made on this fd with
 * a different version or feature set: cannot occur in version 1, which
 * has one version and no optional feature).  A failed handshake is not
 * recorded: the fd stays as it was.
 */
#define UMEM_IOC_API		_IOWR(UMEM_IOC_MAGIC, 0x00, struct umem_api)

/*
 * Flags of struct umem_init.
 *
 * UMEM_INIT_KERNEL_EFAULT: a fault from kernel code (copy_to_user() and
 * friends, get_user_pages(): read(2) into the region, process_vm_readv,
 * O_DIRECT, KVM) on a missing page does not wait: the page is requested
 * as usual, and the kernel operation fails with EFAULT at once.  For
 * deployments that fear a blocked kernel path being used to widen a race
 * window.  io_uring's workers run the process's own system calls and fail
 * the same way.  Faults from user mode wait as always, and so do faults
 * from workers that act for the process as a device does (KVM's async
 * page-fault worker, vhost's worker), on every kernel.
 * Under KVM a vCPU that KVM faults asynchronously (in-kernel irqchip,
 * guest interrupts enabled) waits for the page there; one it must fault
 * synchronously makes KVM_RUN fail with EFAULT.
 */
#define UMEM_INIT_KERNEL_EFAULT	(1U << 0)

/*
 * UMEM_INIT_HUGE: the region's 2 MiB-aligned extents may be mapped by
 * 2 MiB (PMD) mappings once every page of the extent is present.  Faults
 * still wait for, and requests still name, single pages; no page that is
 * not present is ever mapped.  A huge page comes to be when the server
 * collapses a complete extent: process_madvise(MADV_COLLAPSE) in the
 * VMM's mm, which charges the VMM and maps the extent whole at once, or
 * madvise(MADV_COLLAPSE) on its own mapping of the shmem fd, which for
 * such a region is allowed, after which the guest's next fault in the
 * extent maps it whole.  A collapse in a guest mapping bypasses the
 * fault: a server does it only for an extent whose every page is
 * present and none poisoned (see Documentation/umem.rst, "Huge pages").
 * Guest mappings of the region are eligible for huge pages from mmap()
 * on.  A kernel without transparent huge pages (PREEMPT_RT)
 * refuses the flag with EOPNOTSUPP.  Off by default.
 *
 * UMEM_INIT_HUGE_ADVISE: with UMEM_INIT_HUGE (alone: EINVAL), guest
 * mappings start as VM_NOHUGEPAGE and become eligible once the VMM asks
 * with madvise(MADV_HUGEPAGE), as tmpfs's huge=advise.
 */
#define UMEM_INIT_HUGE		(1U << 1)
#define UMEM_INIT_HUGE_ADVISE	(1U << 2)
#define UMEM_INIT_FLAGS_ALL	(UMEM_INIT_KERNEL_EFAULT | UMEM_INIT_HUGE | \
				 UMEM_INIT_HUGE_ADVISE)

/**
 * struct umem_init - size a region and state its failure policy
 * @size:		(in) region size in bytes: a non-zero multiple of
 *			umem_api.page_size, at most the module's
 *			max_region_bytes parameter.
 * @flags:		(in) UMEM_INIT_* flags; unknown bits fail with EINVAL,
 *			UMEM_INIT_HUGE_ADVISE without UMEM_INIT_HUGE too.
 *			On a umemfs file, UMEM_INIT_KERNEL_EFAULT must be
 *			set if its mount sets it (EPERM); the huge flags
 *			are the caller's to choose.  See UMEM_IOC_INIT.
 * @detach_timeout_ms:	(in) how long faulting threads stay parked after
 *			the daemon's server fd is closed, waiting for a new
 *			server to adopt the region, before they and every
 *			later fault on a missing page get SIGBUS.  There is
 *			no default: the caller chooses.  0 means SIGBUS at
 *			once.  On a umemfs file, at most its mount's
 *			(EPERM).
 * @reserved:		(in) must be zero.
 */
struct umem_init {
	__u64 size;
	__u32 flags;
	__u32 detach_timeout_ms;
	__u64 reserved[6];
};

/*
 * UMEM_IOC_INIT: turn a control fd that made the handshake into a region
 * of the given size, backed by a new shmem file.  Once per fd.
 *
 * Errors: EFAULT, EBADF (the fd is not open for writing), ENXIO (no
 * handshake yet), EINVAL (size zero or not a page multiple, unknown flag,
 * non-zero reserved field), E2BIG (size over the max_region_bytes limit),
 * EBUSY (the fd is already a region), EPERM (a policy weaker than allowed:
 * on a file of a umemfs mount, flags without one of the mount's or a
 * detach_timeout_ms over the mount's; on /dev/umem, no
 * UMEM_INIT_KERNEL_EFAULT from a caller without CAP_SYS_PTRACE while the
 * module's unprivileged_kernel_efault parameter is set), ENOSPC
 * (max_regions regions exist), EOPNOTSUPP (UMEM_INIT_HUGE on a kernel
 * without transparent huge pages, such as PREEMPT_RT), ENOMEM.
 */
#define UMEM_IOC_INIT		_IOW(UMEM_IOC_MAGIC, 0x01, struct umem_init)

/**
 * struct umem_serve - become the region's server
 * @flags:	(in) UMEM_SERVE_CLOEXEC (both new fds close on exec),
 *		UMEM_SERVE_NONBLOCK (the server fd is O_NONBLOCK; the shmem
 *		fd never is: a regular file's read and write do not wait
 *		for data, so the flag would mean nothing there); others fail
 *		with EINVAL.
 * @server_fd:	(out) the server fd: read() requests, write() ranges.
 * @shmem_fd:	(out) an fd of the region's shmem file, where the server
 *		puts page contents (pwrite(), or mmap() it MAP_SHARED); a
 *		new one on each call, opened read-write and O_LARGEFILE.  The
 *		pages it allocates are charged to the memory cgroup of the
 *		task that made the region (UMEM_IOC_INIT), not the server's.
 *		Sealed to the region's size (F_GET_SEALS: F_SEAL_SEAL |
 *		F_SEAL_GROW | F_SEAL_SHRINK, for good): growing or shrinking
 *		it fails with EPERM, and a write across the end stops there
 *		(a short write).  Without
 *		UMEM_INIT_HUGE its mappings never hold huge pages
 *		(MADV_COLLAPSE fails with EINVAL); with it, MADV_COLLAPSE
 *		of a 2 MiB-aligned extent whose pages are all present is
 *		how the server makes the extent huge.
 *		copy_file_range() into it from another filesystem's file
 *		fails with EXDEV: use sendfile() or splice().
 * @reserved:	(in) must be zero.
 */
struct umem_serve {
	__u32 flags;
	__s32 server_fd;
	__s32 shmem_fd;
	__u32 __pad;
	__u64 reserved[6];
};

#define UMEM_SERVE_CLOEXEC	(1U << 0)
#define UMEM_SERVE_NONBLOCK	(1U << 1)
#define UMEM_SERVE_FLAGS_ALL	(UMEM_SERVE_CLOEXEC | UMEM_SERVE_NONBLOCK)

/*
 * UMEM_IOC_SERVE (control fd): create the server fd and a shmem fd for a
 * region.  One server at a time; a new one re-adopts a detached region
 * and receives again every request still outstanding.
 *
 * Errors: EFAULT, EBADF (the control fd is not open for writing: a
 * read-only fd can never supply data), ENXIO (no region on this fd),
 * EINVAL (unknown flag, non-zero reserved field or __pad), EBUSY (a server
 * is live), EIO (the region failed: its detach deadline passed),
 * EMFILE/ENFILE, ENOMEM.
 */
#define UMEM_IOC_SERVE		_IOWR(UMEM_IOC_MAGIC, 0x02, struct umem_serve)

/*
 * Flags of struct umem_request:
 * UMEM_REQ_WRITE	the fault was a write
 * UMEM_REQ_KERNEL	the kernel faulted on the process's behalf (GUP,
 *			uaccess such as read(2) into the mapping)
 * UMEM_REQ_ASYNC	the fault that made the request did not wait
 *			(FAULT_FLAG_RETRY_NOWAIT): KVM's first lookup of
 *			every vCPU fault.  Not a mere prefetch: the vCPU
 *			then waits for the page in KVM's async page-fault
 *			worker or in a second, waiting lookup, so serve
 *			it as urgently as any other request.
 * UMEM_REQ_REDELIVERED	outstanding when this server adopted the region
 *			(read by a previous server); tid is 0
 * UMEM_REQ_OVERFLOW	512 newer requests came while it waited to be
 *			read: the fault's flags and tid were not kept
 *			(tid is 0, no other flag is set)
 * A server must ignore flags it does not know.
 */
#define UMEM_REQ_WRITE		(1U << 0)
#define UMEM_REQ_KERNEL		(1U << 1)
#define UMEM_REQ_ASYNC		(1U << 2)
#define UMEM_REQ_REDELIVERED	(1U << 3)
#define UMEM_REQ_OVERFLOW	(1U << 4)

/**
 * struct umem_request - one page request, as read() from the server fd
 * @pgoff:	(out) the page, in pages from the start of the region.
 * @flags:	(out) UMEM_REQ_* flags.
 * @tid:	(out) the faulting thread's id in its own pid namespace, or 0
 *		(UMEM_REQ_REDELIVERED, UMEM_REQ_OVERFLOW).
 *
 * Each missing page is requested once, however many threads fault on it,
 * and read once per server: a request whose page became present before
 * it was read is not returned.  The 512 most recent requests not read
 * yet are kept whole.  Requests are read oldest first, so that none
 * waits behind a steady stream of newer ones: those to deliver again
 * (UMEM_REQ_REDELIVERED, requested before this server came), then those
 * pushed out by the 512 more recent ones (UMEM_REQ_OVERFLOW), both in
 * page order, then the 512 kept whole, oldest first.  Overflowed
 * requests are read a batch at a time, each in page order: those pushed
 * out while a batch is read make the next one.  So no stream of newer
 * requests can keep a request waiting: it waits at most for those to
 * deliver again, the batch being read when it was pushed out, and its
 * own batch.  read() returns 0 once the
 * region is hung up (poll reports POLLHUP): its control file is closed
 * and the server holds its last reference, so no one can fault on it.
 *
 * read() returns as many whole records as fit.  Errors: EINVAL (a buffer
 * smaller than one record), EAGAIN (nothing queued, and O_NONBLOCK or
 * IOCB_NOWAIT; otherwise it waits), EFAULT (nothing could be copied: a
 * read that copied some records returns those).  A record is taken only
 * once it was copied out, so a failed copy loses no request.  poll()
 * reports POLLIN exactly while read() has a request to return, and
 * POLLOUT always.
 */
struct umem_request {
	__u64 pgoff;
	__u32 flags;
	__u32 tid;
};

/**
 * struct umem_range - pages [pgoff, pgoff + count), as write() to the
 * server fd (mark present) or given to UMEM_IOC_POISON
 * @pgoff:	(in) first page, in pages from the start of the region.
 * @count:	(in) number of pages, at least 1.
 */
struct umem_range {
	__u64 pgoff;
	__u64 count;
};

/*
 * Largest write() to the server fd, in bytes: 4096 ranges.
 *
 * write() takes an array of struct umem_range and marks those pages
 * present, waking exactly their waiters; pages already present are left
 * alone, so a write is idempotent.  Write a page's bytes into the shmem
 * fd first: a page marked present without them reads as zeros (a hole).
 * Every range is checked before any is applied.  Returns the full
 * length.  Errors: EINVAL (a length of zero or not a multiple of
 * sizeof(struct umem_range), an empty range or one outside the region;
 * nothing changed), E2BIG (over UMEM_WRITE_MAX), EFAULT, ENOMEM.
 */
#define UMEM_WRITE_MAX		(4096 * sizeof(struct umem_range))

/*
 * UMEM_IOC_POISON (server fd): the pages in the range will never arrive;
 * faults on them, now and later, fault as hardware poison: SIGBUS with
 * BUS_MCEERR_AR in user mode, EFAULT (or EHWPOISON for GUP with
 * FOLL_HWPOISON, as KVM asks: KVM then sends the vCPU thread that SIGBUS)
 * in the kernel.  So do missing pages of a failed region.  Pages already
 * present are poisoned too.  Poison is permanent: marking a poisoned page
 * present does not heal it.
 * Errors: EFAULT, EINVAL (empty range, or outside the region), ENOMEM
 * (the first poison of a region could not allocate; nothing changed).
 */
#define UMEM_IOC_POISON		_IOW(UMEM_IOC_MAGIC, 0x03, struct umem_range)

/*
 * UMEM_IOC_COMPLETE (server fd): every page has been supplied (or
 * poisoned); the region now behaves as plain shared memory and no longer
 * needs a server.  Errors: EBUSY (some page is still missing).
 */
#define UMEM_IOC_COMPLETE	_IO(UMEM_IOC_MAGIC, 0x04)

/* Which bitmap UMEM_IOC_BITMAP copies out. */
#define UMEM_BITMAP_PRESENT	0 /* supplied or poisoned: never fetch again */
#define UMEM_BITMAP_POISONED	1 /* poisoned */
#define UMEM_BITMAP_REQUESTED	2 /* ever requested by a fault */

/**
 * struct umem_bitmap - copy out a snapshot of one page bitmap
 * @pgoff:	(in) first page; a multiple of 64.
 * @count:	(in) number of pages, at least 1, inside the region.
 * @addr:	(in) user address of an array of (count + 63) / 64 __u64
 *		words.  Bit i of word w describes page pgoff + 64 * w + i;
 *		bits past count are zero.
 * @which:	(in) UMEM_BITMAP_*.
 * @__pad:	(in) must be zero.
 * @reserved:	(in) must be zero.
 *
 * Bits are only ever set, never cleared, so a snapshot stays true: a page
 * it shows present stays present.  A new server uses it to learn what an
 * earlier one supplied, and must never write into such a page again.
 */
struct umem_bitmap {
	__u64 pgoff;
	__u64 count;
	__u64 addr;
	__u32 which;
	__u32 __pad;
	__u64 reserved[4];
};

/*
 * UMEM_IOC_BITMAP (server fd).
 * Errors: EFAULT (bad argument or @addr), EINVAL (pgoff not a multiple
 * of 64, empty range or outside the region, unknown @which, non-zero
 * reserved field or __pad), ENOMEM (no memory for the copy buffer).
 */
#define UMEM_IOC_BITMAP		_IOW(UMEM_IOC_MAGIC, 0x06, struct umem_bitmap)

/* Region states, as reported in umem_stats.state. */
#define UMEM_STATE_UNSERVED	0 /* initialised, never had a server */
#define UMEM_STATE_SERVED	1 /* a server is live */
#define UMEM_STATE_DETACHED	2 /* the server went away, deadline running */
#define UMEM_STATE_FAILED	3 /* the deadline passed: missing pages poisoned */
#define UMEM_STATE_COMPLETE	4 /* every page supplied */

/* Buckets of umem_stats.wait_hist: bucket i counts waits < 2^i us. */
#define UMEM_HIST_BUCKETS	32

/**
 * struct umem_stats - counters of a region
 * @size:		(out) region size in bytes
 * @state:		(out) UMEM_STATE_*
 * @page_size:		(out) the page unit, in bytes
 * @pages_present:	(out) pages supplied (present)
 * @pages_requested:	(out) pages ever requested
 * @pages_outstanding:	(out) pages requested and not yet present
 * @pages_poisoned:	(out) pages poisoned
 * @faults:		(out) faults that reached umem, retries included
 * @faults_blocked:	(out) faults that had to wait for a page
 * @requests_redelivered: (out) requests delivered again to a new server
 * @detaches:		(out) times the server went away
 * @blocked_ns:		(out) total time faults spent waiting, in ns
 * @wait_hist:		(out) wait times: bucket 0 counts waits under
 *			1 us, bucket i (i > 0) waits in [2^(i-1), 2^i) us,
 *			the last bucket everything longer
 * @reserved:		(out) zero
 */
struct umem_stats {
	__u64 size;
	__u32 state;
	__u32 page_size;
	__u64 pages_present;
	__u64 pages_requested;
	__u64 pages_outstanding;
	__u64 pages_poisoned;
	__u64 faults;
	__u64 faults_blocked;
	__u64 requests_redelivered;
	__u64 detaches;
	__u64 blocked_ns;
	__u64 wait_hist[UMEM_HIST_BUCKETS];
	__u64 reserved[7];
};

/*
 * UMEM_IOC_STATS (control fd with a region, or server fd).
 * Errors: EFAULT, ENXIO (no region on this fd).
 */
#define UMEM_IOC_STATS		_IOR(UMEM_IOC_MAGIC, 0x05, struct umem_stats)

#endif /* _UAPI_LINUX_UMEM_H */
