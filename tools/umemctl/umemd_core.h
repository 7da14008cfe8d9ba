/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umemd's private header: the daemon's state, struct umemd, and the
 * functions its files share.  umemd.c holds main(), the setup and the
 * event loop; umemd_core.c the messages, exits and io_uring entries every
 * part uses; umemd_pages.c marks pages present; umemd_huge.c collapses
 * extents into huge pages; umemd_net.c runs the two channels to the source;
 * umemd_snap.c reads a snapshot file.
 */
#ifndef UMEMCTL_UMEMD_CORE_H
#define UMEMCTL_UMEMD_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <liburing.h>

#include "libumem.h"
#include "tls.h"
#include "wire.h"

#define EXIT_CONFIG	2	/* bad input: do not restart */
#define EXIT_SOURCE	3	/* the source is gone: do not restart */
#define EXIT_HUP	4	/* no one can use the region any more */

#define MAX_RETRIES	3	/* resends of a page with a bad checksum */
#define NR_REQ		256	/* requests read at once */
#define NR_FREAD	16	/* snapshot reads in flight */

enum op_kind { OP_REQ, OP_RECV, OP_SEND, OP_WRITE, OP_TICK, OP_FREAD };

/* --progress */
enum progress_mode {
	PROGRESS_NONE,
	PROGRESS_AUTO,		/* a bar on a TTY, else a line a second */
	PROGRESS_LINE,		/* always lines */
};

struct chan;

#define MAX_VMM_MAPS	16	/* guest mappings collapsed in, at most */

/*
 * A mapping of the region in another process (a VMM's guest RAM), found
 * in /proc/PID/maps: umemd collapses each complete extent there, with
 * process_madvise(), so that the VMM pays for the huge page and gets it
 * PMD-mapped (umemd_huge.c).
 */
struct vmm_map {
	pid_t pid;
	int pidfd;		/* shared by the maps of one pid */
	uint64_t start, end;	/* the VMA */
	uint64_t off;		/* its offset in the region, bytes */
};

struct op {
	enum op_kind kind;
	struct chan *ch;
	uint64_t pgoff, count;	/* OP_FREAD */
	bool busy;
};

struct chan {
	int fd;
	int type;		/* WIRE_URGENT or WIRE_BACKGROUND */
	bool dead;		/* shut down; freed when its ops drain */
	int inflight;
	struct op recv_op, send_op;
	/* receive state */
	uint8_t *rbuf;		/* RBUF_BYTES of records read ahead */
	size_t rlen;		/* bytes in rbuf not parsed yet */
	bool direct;		/* the recv in flight reads into dst */
	bool in_payload;
	struct wire_msg hdr;
	size_t got;		/* bytes of the page at dst so far */
	uint8_t *dst;
	bool dup;
	uint64_t page;		/* page being received into, or ~0 */
	uint64_t last_rx_ns;
	/* send state (urgent) */
	char *out, *tx;
	size_t out_len, out_cap, tx_len, tx_off, tx_cap;
	bool sending;
};

/* The daemon's state; main() owns the one instance. */
struct umemd {
	/* options */
	const char *source;
	const char *snapshot;
	int window;
	uint64_t net_timeout_ns, give_up_ns, connect_timeout_ns;
	enum progress_mode progress;
	bool verbose;
	bool hold_stream;	/* --hold-stream: no background recv yet */
	int trace_fd;		/* --trace: tracefs's trace_marker, or -1 */
	struct tls_creds *tls;	/* NULL: --insecure */

	struct umemlib_region reg;
	struct umemlib_server srv;
	uint8_t *map;
	uint64_t pages;
	uint32_t psz;
	uint64_t *have, *busy, *wanted;
	uint64_t *poisoned;	/* never collapsed into a VMM's huge page */
	bool waited;		/* a page a fault waits for is in pend */
	uint8_t *retries;
	uint64_t n_have;
	uint8_t *scratch;

	struct io_uring ring;
	struct op req_op, write_op, tick_op;
	struct op fread_ops[NR_FREAD];
	struct umem_request reqbuf[NR_REQ];
	struct __kernel_timespec tick_ts;
	struct umem_range *pend, *wbuf;
	size_t npend, nwbuf;

	/* network */
	char host[256];
	int port;
	uint64_t session;
	struct chan *urg, *bg;
	bool connected;
	bool was_connected;	/* ever: refusals are final before that */
	bool takeover;		/* --takeover: until the first session */
	uint64_t down_since_ns, next_try_ns, backoff_ns;

	/* snapshot */
	int snap_fd;
	uint64_t bg_cursor;
	int freads;

	/* counters */
	uint64_t n_urgent, n_bg, n_zero, n_dup, n_csum, n_poison, n_reconnect;
	uint64_t n_requests;
	/*
	 * Huge pages: the io loop hands each extent it completes to the
	 * collapse worker (umemd_huge.c), once, through queue[].  What
	 * follows queue[] is the worker's while it runs; finish() stops it
	 * before it reads or collapses anything itself.
	 */
	uint8_t *queued;	/* per 2 MiB extent: handed to the worker */
	uint64_t *queue;	/* the extents handed over, in order */
	uint64_t qhead, qtail;	/* under qlock */
	bool qstop;		/* under qlock: end after the extent in hand */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	pthread_t worker;
	bool worker_on;
	pid_t worker_tid;	/* under qlock: set by the worker as it starts */
	int worker_nice;	/* its nice value */
	uint64_t n_huge_worker;	/* of n_huge: by the worker */
	uint8_t *collapsed;	/* per 2 MiB extent: collapsed, or tried */
	bool no_collapse;	/* not a UMEM_INIT_HUGE region */
	int collapse_err;	/* the last MADV_COLLAPSE failure */
	uint64_t n_huge;
	uint64_t n_huge_own;	/* of n_huge: on umemd's own mapping */
	pid_t vmm_pid;		/* --pid: tried first */
	struct vmm_map vmaps[MAX_VMM_MAPS];
	int nvmaps;
	bool vmaps_found;	/* looked for once */
	uint64_t vmaps_ns;	/* when last looked for */
	bool said_own;		/* logged the fall back once */
	uint64_t start_ns, last_progress_ns, last_have;
	uint64_t done_ns;	/* the region completed */
	bool tty;
};

/* umemd_core.c */
__attribute__((format(printf, 3, 4), noreturn))
void die_code(const struct umemd *d, int code, const char *fmt, ...);
__attribute__((format(printf, 2, 3), noreturn))
void die(const struct umemd *d, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void logv(const struct umemd *d, const char *fmt, ...);
struct io_uring_sqe *get_sqe(struct umemd *d);

/* umemd_pages.c */
void punch(const struct umemd *d, uint64_t pgoff, uint64_t count);
void trace_mark(const struct umemd *d, const char *what, uint64_t pgoff);
void got_page(struct umemd *d, uint64_t pgoff, int type);
void flush_present(struct umemd *d, bool sync);
void write_done(struct umemd *d, int res);
void poison_page(struct umemd *d, uint64_t pgoff);

/* umemd_huge.c */
uint64_t extent_pages(const struct umemd *d);
bool extent_poisoned(const struct umemd *d, uint64_t e);
void collapse_check(struct umemd *d);
void collapse_extent(struct umemd *d, uint64_t e);
void collapse_ranges(struct umemd *d, const struct umem_range *r, size_t n);
void collapse_worker_stop(struct umemd *d);

/* umemd_net.c */
void chan_flush(struct umemd *d, struct chan *ch);
void send_req(struct umemd *d, uint64_t pgoff, uint64_t count,
	      uint32_t flags);
void chan_submit_recv(struct umemd *d, struct chan *ch);
void recv_done(struct umemd *d, struct chan *ch, int res);
void send_done(struct umemd *d, struct chan *ch, int res);
bool net_connect(struct umemd *d, uint64_t timeout_ms);
void net_close(struct umemd *d);
void net_tick(struct umemd *d, uint64_t now);

/* umemd_snap.c */
void fread_submit(struct umemd *d, uint64_t pgoff, uint64_t count);
bool page_free(const struct umemd *d, uint64_t p);
void snap_background(struct umemd *d);
void fread_done(struct umemd *d, struct op *op, int res);

#endif
