/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libumem: a small C library over the /dev/umem ABI (<linux/umem.h>).
 *
 * Every function returns 0 (or a count) on success and -errno on failure,
 * and on failure leaves a one-line description of what went wrong, for
 * this thread, in umemlib_strerror().  Its names begin with umemlib_
 * (UMEMLIB_), so that none reads as one of the module's umem_ names.
 */
#ifndef LIBUMEM_H
#define LIBUMEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/umem.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UMEMLIB_DEVICE	"/dev/umem"

/* A region, through its control fd. */
struct umemlib_region {
	int ctl;		/* control fd */
	uint32_t page_size;	/* the protocol's page unit, in bytes */
	uint64_t size;		/* region size, in bytes */
	uint64_t pages;		/* region size, in pages */
};

/* The server side of a region: from umemlib_serve(). */
struct umemlib_server {
	int fd;			/* server fd: requests, present ranges */
	int shmem_fd;		/* the region's shmem file */
	uint32_t page_size;
	uint64_t pages;
};

/* The last error of this thread, as one line; "" if none. */
const char *umemlib_strerror(void);

/* The protocol's page unit, from a handshake with /dev/umem. */
int umemlib_page_size(uint32_t *page_size);

/* Open /dev/umem, make the handshake and create a region of @size bytes. */
int umemlib_create(struct umemlib_region *r, uint64_t size,
		   uint32_t detach_timeout_ms);
/* The same, with UMEM_INIT_* @flags. */
int umemlib_create_flags(struct umemlib_region *r, uint64_t size,
			 uint32_t detach_timeout_ms, uint32_t flags);

/*
 * Wrap a control fd received from elsewhere (inherited, SCM_RIGHTS).
 * Fails with -ENOTTY if it is not a umem fd, -ENXIO if it has no region.
 * Takes no new reference: umemlib_close() closes @fd.
 */
int umemlib_from_fd(struct umemlib_region *r, int fd);

/*
 * Open a umemfs file (Documentation/umem.rst, "umemfs") by @path, which
 * may be /proc/PID/fd/N for a file its VMM unlinked, O_RDWR | O_CLOEXEC,
 * as a region handle, for its daemon.  Fails with -ENOTTY if it is not a
 * umem file, -ENXIO if it has no region yet (never truncated to a size).
 */
int umemlib_open_file(struct umemlib_region *r, const char *path);

/* Is @fd a file of a umemfs mount?  1 yes, 0 no, -errno. */
int umemlib_fd_is_umemfs(int fd);

/*
 * Find the one umemfs file process @pid has open (a VMM whose guest RAM
 * is on a umem mount), among the paths of its fds that contain @match
 * (NULL: any).  Writes "/proc/PID/fd/N" to @path, to open with
 * umemlib_open_file().  Fails with -ENOENT if there is none, -EEXIST if
 * there are several (the error message names them all), -errno if
 * /proc/PID/fd cannot be read.  Several fds of one file count once.
 */
int umemlib_find_pid_file(pid_t pid, const char *match, char *path, size_t len);

void umemlib_close(struct umemlib_region *r);

/* mmap(MAP_SHARED) [@offset, @offset + @len) of the region; *addr set. */
int umemlib_map(const struct umemlib_region *r, uint64_t offset, uint64_t len,
		int prot, void **addr);

/* Become the region's server; @flags are UMEM_SERVE_*. */
int umemlib_serve(const struct umemlib_region *r, uint32_t flags,
		  struct umemlib_server *s);
void umemlib_server_close(struct umemlib_server *s);

/*
 * Read up to @max requests.  Returns how many, or -EAGAIN (non-blocking
 * fd, nothing queued), -EINTR, or another -errno.
 */
ssize_t umemlib_read_requests(const struct umemlib_server *s,
			      struct umem_request *reqs, size_t max);

/* Mark ranges present: any number, split into UMEM_WRITE_MAX writes. */
int umemlib_mark_present(const struct umemlib_server *s,
			 const struct umem_range *ranges, size_t n);
int umemlib_poison(const struct umemlib_server *s, uint64_t pgoff, uint64_t count);
int umemlib_complete(const struct umemlib_server *s);

/* Copy a UMEM_BITMAP_* bitmap of the whole region into @words. */
int umemlib_bitmap(const struct umemlib_server *s, uint32_t which, uint64_t *words);

/* Stats through any fd of a region (control or server). */
int umemlib_stats(int fd, struct umem_stats *st);

/*
 * The wait time below which a fraction @q (0..1] of the blocked faults
 * fall, in microseconds, from the histogram: the upper edge of the bucket
 * that holds the quantile (@q = 1: the longest wait).  0 when no fault
 * blocked.
 */
uint64_t umemlib_wait_quantile_us(const struct umem_stats *st, double q);

/*
 * How much of this process's mapping at @addr is mapped by PMDs (huge
 * pages), in kB: smaps' ShmemPmdMapped plus FilePmdMapped.  -ENOENT if
 * nothing is mapped at @addr.
 */
long umemlib_pmd_mapped_kb(const void *addr);

/* A state as a word: "served", "detached"... */
const char *umemlib_state_name(uint32_t state);

/* Pass a file descriptor over a unix socket (SCM_RIGHTS). */
int umemlib_send_fd(int sock, int fd);
int umemlib_recv_fd(int sock);

#ifdef __cplusplus
}
#endif
#endif /* LIBUMEM_H */
