// SPDX-License-Identifier: GPL-2.0
/*
 * umemd: the postcopy destination daemon.
 *
 * It serves one umem region.  It takes the region's control fd (inherited
 * with --fd, or over a unix socket with SCM_RIGHTS), becomes its server,
 * and fills pages from the migration source (`umemctl source`) or from a
 * local snapshot file.  One io_uring loop drives everything: the request
 * fd, both TCP channels, and batched write()s of present ranges.
 *
 * The rule above all others: never write into a page that is present.
 * The guest may have written to it since.  umemd keeps its own bitmap of
 * pages it has (seeded from the kernel's, for a daemon that re-adopts a
 * region) and of pages being received; a record for such a page lands in
 * a scratch buffer.  Page bytes otherwise go straight into an mmap of the
 * shmem file, are checked against their checksum, and only then marked
 * present.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <liburing.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "libumem.h"
#include "tls.h"
#include "wire.h"

#define EXIT_CONFIG	2	/* bad input: do not restart */
#define EXIT_SOURCE	3	/* the source is gone: do not restart */
#define EXIT_HUP	4	/* no one can use the region any more */

#define MAX_RETRIES	3	/* resends of a page with a bad checksum */
#define NR_REQ		256	/* requests read at once */
#define NR_FREAD	16	/* snapshot reads in flight */
#define FREAD_PAGES	64	/* pages per background snapshot read */
#define TICK_MS		100
/*
 * A channel reads up to this much at once and parses the records in it:
 * one recv per record (a header, then a page) cost more than the bytes
 * did.  The rest of a page that straddles the end goes straight into the
 * mapping.
 */
#define RBUF_BYTES	(64 * 1024)

enum op_kind { OP_REQ, OP_RECV, OP_SEND, OP_WRITE, OP_TICK, OP_FREAD };

struct chan;

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

static struct {
	/* options */
	const char *source;
	const char *snapshot;
	int window;
	uint64_t net_timeout_ns, give_up_ns, connect_timeout_ns;
	int progress;		/* 0 off, 1 auto, 2 lines */
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
	uint8_t *collapsed;	/* per 2 MiB extent: collapsed, or tried */
	bool no_collapse;	/* not a UMEM_INIT_HUGE region */
	int collapse_err;	/* the last MADV_COLLAPSE failure */
	uint64_t n_huge;
	uint64_t start_ns, last_progress_ns, last_have;
	bool tty;
} D;

static const char umemd_usage[] =
"usage: umemd (--fd N | --unix PATH | --path FILE | --pid PID)\n"
"             (--source HOST:PORT | --snapshot FILE) [options]\n"
"Serve a umem region: fetch each faulted page at once, stream the rest,\n"
"complete the region when every page is present, and exit 0.\n"
"  --fd N              the region's control fd, inherited\n"
"  --unix PATH         connect to a unix socket and receive the control fd\n"
"                      (SCM_RIGHTS)\n"
"  --path FILE         open a umemfs file (mount -t umem) and serve it;\n"
"                      /proc/PID/fd/N for one its VMM unlinked\n"
"  --pid PID           serve the one umemfs file process PID (a VMM such\n"
"                      as QEMU with mem-path= on a umem mount) has open\n"
"  --path-match STR    with --pid: only files whose path contains STR\n"
"  --source HOST:PORT  the migration source (`umemctl source`)\n"
"  --tls-creds DIR     TLS 1.3, mutual X.509: DIR holds ca-cert.pem,\n"
"                      client-cert.pem and client-key.pem (QEMU's\n"
"                      layout); the source's certificate must name HOST\n"
"                      or, without a PKI, keys.psk (tls-creds-psk's)\n"
"  --tls-username NAME  the PSK username (default qemu, as QEMU)\n"
"  --tls-authz NAME     accept only this source: its certificate's\n"
"                      subject (\"CN=host,O=org\"); repeatable\n"
"  --tls-no-ktls       keep TLS records in user space (tests, benchmarks)\n"
"  --takeover          take the migration over from the destination the\n"
"                      source serves (which then stops)\n"
"  --insecure          fetch without TLS (with --source, one of\n"
"                      --tls-creds and --insecure is required)\n"
"  --snapshot FILE     restore lazily from a local image file instead\n"
"  --window N          pages prefetched after each faulted page (default 16)\n"
"  --net-timeout MS    reconnect when a channel is silent this long\n"
"                      (default 2000; the source pings every 250)\n"
"  --give-up MS        exit 3 when the source stays unreachable this long\n"
"                      (default 30000)\n"
"  --connect-timeout MS  first connection attempts, then exit 2\n"
"                      (default 10000)\n"
"  --progress MODE     auto (a bar on a TTY, else a line a second), line\n"
"                      (always lines) or none (default auto)\n"
"  --nice N            run at this nice value (-20..19): a daemon every\n"
"                      blocked vCPU waits on should outrank the vCPUs\n"
"  --hold-stream       connect the background channel but read nothing\n"
"                      from it until SIGUSR1 (the migration tool sends it\n"
"                      once the guest runs here)\n"
"  --trace             write when each demand page is requested and when\n"
"                      it arrives to the kernel's trace (trace_marker),\n"
"                      beside umem's tracepoints: tools/bench/fault-path.awk\n"
"                      makes the fault path's breakdown of them\n"
"  --verbose           log connections\n"
"  --version           print the release of umemd\n"
"Exit status: 0 complete; 1 error; 2 bad input or refused by the source;\n"
"3 the source was lost for good.\n";

__attribute__((format(printf, 2, 0), noreturn))
static void vdie(int code, const char *fmt, va_list ap)
{
	if (D.tty)
		fputc('\n', stderr);
	fprintf(stderr, "umemd: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	exit(code);
}

/* Exit with @code and a one-line message. */
__attribute__((format(printf, 2, 3), noreturn))
static void die_code(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(code, fmt, ap);
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(1, fmt, ap);
}

__attribute__((format(printf, 1, 2)))
static void logv(const char *fmt, ...)
{
	va_list ap;

	if (!D.verbose)
		return;
	if (D.tty)
		fputc('\n', stderr);
	fprintf(stderr, "umemd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&D.ring);

	if (!sqe) {
		io_uring_submit(&D.ring);
		sqe = io_uring_get_sqe(&D.ring);
		if (!sqe)
			die("io_uring submission queue full");
	}
	return sqe;
}

/* ---- pages ------------------------------------------------------------ */

/* Give the shmem page back: it holds bytes that must never be seen. */
static void punch(uint64_t pgoff, uint64_t count)
{
	if (fallocate(D.srv.shmem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      pgoff * D.psz, count * D.psz))
		die("punching a hole at page %llu: %s",
		    (unsigned long long)pgoff, strerror(errno));
}

static void flush_present(bool sync);
static void collapse_ranges(const struct umem_range *r, size_t n);

static void add_present(uint64_t pgoff)
{
	struct umem_range *last = D.npend ? &D.pend[D.npend - 1] : NULL;

	if (last && last->pgoff + last->count == pgoff) {
		last->count++;
		return;
	}
	if (D.npend == UMEM_WRITE_MAX / sizeof(struct umem_range))
		flush_present(true);
	D.pend[D.npend].pgoff = pgoff;
	D.pend[D.npend].count = 1;
	D.npend++;
}

/* --trace: "umemd WHAT PGOFF" in the kernel's trace, on its clock. */
static void trace_mark(const char *what, uint64_t pgoff)
{
	char b[64];
	int n;

	if (D.trace_fd < 0)
		return;
	n = snprintf(b, sizeof(b), "umemd %s %llu\n", what,
		     (unsigned long long)pgoff);
	if (write(D.trace_fd, b, n) != n)
		logv("trace_marker: %s", strerror(errno));
}

/* Page @pgoff holds its right contents: mark it, in the next batch. */
static void got_page(uint64_t pgoff, int type)
{
	if (bit_test(D.wanted, pgoff)) {
		trace_mark("got", pgoff);
		D.waited = true;
	}
	bit_set(D.have, pgoff);
	bit_clear(D.wanted, pgoff);
	D.n_have++;
	if (type == WIRE_URGENT)
		D.n_urgent++;
	else
		D.n_bg++;
	add_present(pgoff);
}

static void flush_present(bool sync)
{
	struct io_uring_sqe *sqe;

	if (!D.npend)
		return;
	if (sync) {
		size_t n = D.npend;

		if (umemlib_mark_present(&D.srv, D.pend, n))
			die("%s", umemlib_strerror());
		D.npend = 0;
		collapse_ranges(D.pend, n);
		return;
	}
	if (D.write_op.busy)
		return;
	memcpy(D.wbuf, D.pend, D.npend * sizeof(*D.pend));
	D.nwbuf = D.npend;
	D.npend = 0;
	sqe = get_sqe();
	io_uring_prep_write(sqe, D.srv.fd, D.wbuf, D.nwbuf * sizeof(*D.wbuf), 0);
	io_uring_sqe_set_data(sqe, &D.write_op);
	D.write_op.busy = true;
}

/* ---- huge pages -------------------------------------------------------- */

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

/* Pages per 2 MiB extent. */
static uint64_t extent_pages(void)
{
	return (2ULL << 20) / D.psz;
}

/* Is a page of extent @e still waiting in the next batch to be marked? */
static bool extent_pending(uint64_t e)
{
	uint64_t first = e * extent_pages(), end = first + extent_pages();
	size_t i;

	for (i = 0; i < D.npend; i++)
		if (D.pend[i].pgoff < end &&
		    D.pend[i].pgoff + D.pend[i].count > first)
			return true;
	return false;
}

/*
 * Extent @e is present whole: collapse it into one huge page on our
 * mapping of the shmem fd, so that the VMM's next access maps it by a
 * PMD (Documentation/umem.rst, "Huge pages").  EINVAL: the region is not
 * UMEM_INIT_HUGE (or the kernel has no THP): never try again.  Other
 * failures (no huge page free) leave the extent on 4 KiB pages.
 */
static void collapse_extent(uint64_t e)
{
	uint8_t *a = D.map + e * (2ULL << 20);

	/* 6.1 collapses only under a page table of the caller's. */
	(void)*(volatile uint8_t *)a;
	if (!madvise(a, 2ULL << 20, MADV_COLLAPSE)) {
		D.collapsed[e] = 1;
		D.n_huge++;
		return;
	}
	if (errno == EINVAL) {
		D.no_collapse = true;
		return;
	}
	/* Tried again at the end (finish()). */
	D.collapse_err = errno;
	logv("extent %llu stays on 4 KiB pages for now: MADV_COLLAPSE: %s",
	     (unsigned long long)e, strerror(errno));
}

/*
 * Ranges [@r, @r + @n) were just marked present: collapse each extent
 * they made whole, unless a page of it is still to be marked.
 */
static void collapse_ranges(const struct umem_range *r, size_t n)
{
	uint64_t ext = extent_pages(), e, last;
	size_t i;

	for (i = 0; i < n && !D.no_collapse && ext > 1; i++) {
		last = (r[i].pgoff + r[i].count - 1) / ext;
		for (e = r[i].pgoff / ext; e <= last && !D.no_collapse; e++) {
			if ((e + 1) * ext > D.pages || D.collapsed[e] ||
			    bit_next_clear(D.have, (e + 1) * ext, e * ext) <
			    (e + 1) * ext || extent_pending(e))
				continue;
			collapse_extent(e);
		}
	}
}

static void write_done(int res)
{
	D.write_op.busy = false;
	if (res < 0) {
		errno = -res;
		die("marking %zu ranges present: %s", D.nwbuf, strerror(-res));
	}
	collapse_ranges(D.wbuf, D.nwbuf);
}

static void poison_page(uint64_t pgoff)
{
	fprintf(stderr, "%sumemd: page %llu failed its checksum %d times: poisoned\n",
		D.tty ? "\n" : "", (unsigned long long)pgoff, MAX_RETRIES + 1);
	if (umemlib_poison(&D.srv, pgoff, 1))
		die("%s", umemlib_strerror());
	bit_set(D.have, pgoff);
	bit_clear(D.wanted, pgoff);
	D.n_have++;
	D.n_poison++;
}

/* ---- network ---------------------------------------------------------- */

static void chan_fail(struct chan *ch, const char *why);

static void chan_queue(struct chan *ch, const void *buf, size_t len)
{
	if (ch->out_len + len > ch->out_cap) {
		size_t cap = (ch->out_cap ? ch->out_cap * 2 : 4096);

		while (cap < ch->out_len + len)
			cap *= 2;
		ch->out = realloc(ch->out, cap);
		if (!ch->out)
			die("out of memory");
		ch->out_cap = cap;
	}
	memcpy(ch->out + ch->out_len, buf, len);
	ch->out_len += len;
}

static void chan_submit_send(struct chan *ch)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_send(sqe, ch->fd, ch->tx + ch->tx_off,
			   ch->tx_len - ch->tx_off, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, &ch->send_op);
	ch->sending = true;
	ch->inflight++;
}

static void chan_flush(struct chan *ch)
{
	char *t;
	size_t c;

	if (!ch || ch->dead || ch->sending || !ch->out_len)
		return;
	t = ch->tx;
	c = ch->tx_cap;
	ch->tx = ch->out;
	ch->tx_cap = ch->out_cap;
	ch->tx_len = ch->out_len;
	ch->tx_off = 0;
	ch->out = t;
	ch->out_cap = c;
	ch->out_len = 0;
	chan_submit_send(ch);
}

static void send_req(uint64_t pgoff, uint64_t count, uint32_t flags)
{
	struct wire_msg m = {
		.type = WIRE_REQ, .flags = flags, .pgoff = pgoff, .arg = count,
	};

	if (D.connected)
		chan_queue(D.urg, &m, sizeof(m));
}

static void chan_submit_recv(struct chan *ch)
{
	struct io_uring_sqe *sqe = get_sqe();
	uint8_t *p;
	size_t len;

	/* Parsing left either part of a page or part of a header. */
	ch->direct = ch->in_payload;
	if (ch->direct) {
		p = ch->dst + ch->got;
		len = D.psz - ch->got;
	} else {
		p = ch->rbuf + ch->rlen;
		len = RBUF_BYTES - ch->rlen;
	}
	io_uring_prep_recv(sqe, ch->fd, p, len, 0);
	io_uring_sqe_set_data(sqe, &ch->recv_op);
	ch->inflight++;
}

static void chan_free_if_drained(struct chan *ch)
{
	if (!ch->dead || ch->inflight)
		return;
	close(ch->fd);
	free(ch->rbuf);
	free(ch->out);
	free(ch->tx);
	free(ch);
}

/* A record header arrived; returns false on a protocol error. */
static bool got_header(struct chan *ch)
{
	struct wire_msg *m = &ch->hdr;
	uint64_t p = m->pgoff;

	switch (m->type) {
	case WIRE_PING:
		return true;
	case WIRE_DONE:
		logv("source: background stream done");
		return true;
	case WIRE_ZERO:
		if (p >= D.pages)
			return false;
		if (bit_test(D.have, p) || bit_test(D.busy, p)) {
			D.n_dup++;
			return true;
		}
		/* Non-present pages are holes (see punch()): nothing to write. */
		D.n_zero++;
		got_page(p, ch->type);
		return true;
	case WIRE_PAGE:
		if (p >= D.pages)
			return false;
		ch->in_payload = true;
		ch->got = 0;
		if (bit_test(D.have, p) || bit_test(D.busy, p)) {
			ch->dup = true;
			ch->dst = D.scratch;
		} else {
			ch->dup = false;
			ch->dst = D.map + p * D.psz;
			ch->page = p;
			bit_set(D.busy, p);
		}
		return true;
	default:
		return false;
	}
}

static void got_payload(struct chan *ch)
{
	uint64_t p = ch->hdr.pgoff;

	ch->in_payload = false;
	ch->got = 0;
	if (ch->dup) {
		D.n_dup++;
		return;
	}
	bit_clear(D.busy, p);
	ch->page = ~0ULL;
	if (wire_csum(ch->dst, D.psz, p) == ch->hdr.arg) {
		got_page(p, ch->type);
		return;
	}
	D.n_csum++;
	punch(p, 1);
	if (++D.retries[p] > MAX_RETRIES) {
		poison_page(p);
		return;
	}
	logv("page %llu: bad checksum, asking again",
	     (unsigned long long)p);
	send_req(p, 1, 0);
}

/* An op of @ch completed with @res: false if the channel is done for. */
static bool chan_op_done(struct chan *ch, int res)
{
	ch->inflight--;
	if (ch->dead) {
		chan_free_if_drained(ch);
		return false;
	}
	if (res <= 0) {
		chan_fail(ch, res ? strerror(-res) : "connection closed");
		return false;
	}
	return true;
}

/* Take every whole record, and the start of a page, out of rbuf. */
static bool chan_parse(struct chan *ch)
{
	size_t off = 0, n;

	while (off < ch->rlen) {
		if (!ch->in_payload) {
			if (ch->rlen - off < sizeof(ch->hdr))
				break;
			memcpy(&ch->hdr, ch->rbuf + off, sizeof(ch->hdr));
			off += sizeof(ch->hdr);
			if (!got_header(ch))
				return false;
			continue;
		}
		n = D.psz - ch->got;
		if (n > ch->rlen - off)
			n = ch->rlen - off;
		memcpy(ch->dst + ch->got, ch->rbuf + off, n);
		ch->got += n;
		off += n;
		if (ch->got == D.psz)
			got_payload(ch);
	}
	ch->rlen -= off;
	memmove(ch->rbuf, ch->rbuf + off, ch->rlen);
	return true;
}

static void recv_done(struct chan *ch, int res)
{
	if (!chan_op_done(ch, res))
		return;
	ch->last_rx_ns = now_ns();
	if (ch->direct) {
		ch->got += res;
		if (ch->got == D.psz)
			got_payload(ch);
	} else {
		ch->rlen += res;
		if (!chan_parse(ch)) {
			chan_fail(ch, "protocol error");
			return;
		}
	}
	chan_submit_recv(ch);
}

static void send_done(struct chan *ch, int res)
{
	ch->sending = false;
	if (!chan_op_done(ch, res))
		return;
	ch->tx_off += res;
	if (ch->tx_off < ch->tx_len)
		chan_submit_send(ch);
	else
		chan_flush(ch);
}

static void chan_kill(struct chan *ch)
{
	if (!ch || ch->dead)
		return;
	ch->dead = true;
	shutdown(ch->fd, SHUT_RDWR);
	if (ch->page != ~0ULL) {
		/* Half a page arrived: forget it, it comes again. */
		bit_clear(D.busy, ch->page);
		punch(ch->page, 1);
		ch->page = ~0ULL;
	}
	chan_free_if_drained(ch);
}

static void chan_fail(struct chan *ch, const char *why)
{
	if (D.tty)
		fputc('\n', stderr);
	fprintf(stderr, "umemd: %s channel: %s; reconnecting\n",
		ch->type == WIRE_URGENT ? "urgent" : "background", why);
	chan_kill(D.urg);
	chan_kill(D.bg);
	D.urg = D.bg = NULL;
	D.connected = false;
	D.down_since_ns = now_ns();
	D.backoff_ns = 100000000ULL;
	D.next_try_ns = D.down_since_ns + D.backoff_ns;
}

/* Connect with a timeout; returns the fd or -errno. */
static int tcp_connect(uint64_t timeout_ms)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM }, *ai;
	struct pollfd pfd;
	char port[16];
	int fd, r, err = 0, one = 1;
	socklen_t len = sizeof(err);

	snprintf(port, sizeof(port), "%d", D.port);
	/* Numeric first: a static binary may have no NSS to resolve names. */
	hints.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(D.host, port, &hints, &ai);
	if (r == EAI_NONAME) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		r = getaddrinfo(D.host, port, &hints, &ai);
	}
	if (r)
		die_code(EXIT_CONFIG, "source %s: %s", D.host, gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	r = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r && errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	r = poll(&pfd, 1, timeout_ms);
	if (r == 0) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		goto fail;
	if (err) {
		errno = err;
		goto fail;
	}
	r = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, r & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	err = errno;
	close(fd);
	return -err;
}

/* Say hello on a new connection; returns the channel or NULL (errno). */
static struct chan *chan_open(int type, uint64_t timeout_ms)
{
	struct timeval tv = { .tv_sec = 2 };
	struct wire_hello h = {
		.magic = WIRE_MAGIC, .version = WIRE_VERSION, .channel = type,
		.session = D.session, .image_bytes = D.reg.size,
		.page_size = D.psz,
	};
	struct wire_welcome w;
	size_t words = (D.pages + 63) / 64;
	struct chan *ch;
	int fd;

	fd = tcp_connect(timeout_ms);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	if (D.tls) {
		char who[768], err[384];

		fd = tls_start(D.tls, fd, D.host, 5000, who, sizeof(who), err,
			       sizeof(err));
		if (fd < 0) {
			/* Before the first session a refusal is final. */
			if (!D.was_connected)
				die_code(EXIT_CONFIG, "TLS with %s:%d refused: %s",
					 D.host, D.port, err);
			if (D.tty)
				fputc('\n', stderr);
			fprintf(stderr, "umemd: TLS with %s:%d refused: %s\n",
				D.host, D.port, err);
			errno = ECONNREFUSED;
			return NULL;
		}
		logv("TLS: %s", who);
	}
	if (type == WIRE_BACKGROUND)
		h.bitmap_words = words;
	/* Once ours, the session is never taken back from a successor. */
	if (D.takeover && !D.was_connected)
		h.channel |= WIRE_HELLO_TAKEOVER;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!send_all(fd, &h, sizeof(h)) ||
	    (type == WIRE_BACKGROUND && !send_all(fd, D.have, words * 8)) ||
	    !recv_all(fd, &w, sizeof(w))) {
		if (!errno || errno == EAGAIN)
			errno = ECONNRESET;
		if (!D.tls && !D.was_connected)
			die_code(EXIT_CONFIG,
				 "%s:%d closed the connection at the hello: does the source want TLS (--tls-creds)?",
				 D.host, D.port);
		close(fd);
		return NULL;
	}
	if (w.magic != WIRE_MAGIC)
		die_code(EXIT_CONFIG, "%s:%d is not a umem source", D.host, D.port);
	if (w.status == WIRE_ESIZE)
		die_code(EXIT_CONFIG,
			 "the source's image is %llu bytes but the region is %llu bytes",
			 (unsigned long long)w.image_bytes,
			 (unsigned long long)D.reg.size);
	if (w.status == WIRE_EPAGE)
		die_code(EXIT_CONFIG,
			 "the source's page size is %u but the region's is %u",
			 w.page_size, D.psz);
	if (w.status == WIRE_EBUSY && !D.was_connected)
		die_code(EXIT_CONFIG,
			 "the source %s:%d serves another destination's migration: refused (--takeover replaces it)",
			 D.host, D.port);
	if (w.status == WIRE_EBUSY)
		die_code(EXIT_CONFIG,
			 "another destination took the migration over from %s:%d: this one stops",
			 D.host, D.port);
	if (w.status != WIRE_OK)
		die_code(EXIT_CONFIG, "the source refused the connection (status %u)",
			 w.status);
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ch = calloc(1, sizeof(*ch));
	if (ch)
		ch->rbuf = malloc(RBUF_BYTES);
	if (!ch || !ch->rbuf)
		die("out of memory");
	ch->fd = fd;
	ch->type = type;
	ch->page = ~0ULL;
	ch->recv_op.kind = OP_RECV;
	ch->recv_op.ch = ch;
	ch->send_op.kind = OP_SEND;
	ch->send_op.ch = ch;
	ch->last_rx_ns = now_ns();
	return ch;
}

/* Connect both channels; false with errno set if either fails. */
static bool net_connect(uint64_t timeout_ms)
{
	struct chan *u, *b;
	uint64_t p;
	int err;

	u = chan_open(WIRE_URGENT, timeout_ms);
	if (!u)
		return false;
	b = chan_open(WIRE_BACKGROUND, timeout_ms);
	if (!b) {
		err = errno;
		u->dead = true;
		chan_free_if_drained(u);
		errno = err;
		return false;
	}
	D.urg = u;
	D.bg = b;
	D.connected = true;
	D.was_connected = true;
	chan_submit_recv(u);
	if (!D.hold_stream)
		chan_submit_recv(b);
	/* Ask again for every page a fault still waits for. */
	for (p = 0; p < D.pages; p++)
		if (bit_test(D.wanted, p) && !bit_test(D.have, p))
			send_req(p, 1, 0);
	chan_flush(D.urg);
	return true;
}

static void net_tick(uint64_t now)
{
	if (D.connected) {
		uint64_t last = D.urg->last_rx_ns < D.bg->last_rx_ns ||
				D.hold_stream ? D.urg->last_rx_ns : D.bg->last_rx_ns;

		if (now - last > D.net_timeout_ns)
			chan_fail(D.urg->last_rx_ns == last ? D.urg : D.bg,
				  "silent for too long");
		return;
	}
	if (now < D.next_try_ns)
		return;
	if (net_connect(500)) {
		D.n_reconnect++;
		if (D.tty)
			fputc('\n', stderr);
		fprintf(stderr, "umemd: reconnected to %s:%d after %.1f s\n",
			D.host, D.port, (now_ns() - D.down_since_ns) / 1e9);
		return;
	}
	if (now_ns() - D.down_since_ns > D.give_up_ns)
		die_code(EXIT_SOURCE, "source %s:%d unreachable for %.0f s (%s): giving up",
			 D.host, D.port, D.give_up_ns / 1e9, strerror(errno));
	D.backoff_ns = D.backoff_ns * 2 > 2000000000ULL ? 2000000000ULL :
		       D.backoff_ns * 2;
	D.next_try_ns = now_ns() + D.backoff_ns;
}

/* ---- snapshot ----------------------------------------------------------- */

static void fread_submit(uint64_t pgoff, uint64_t count)
{
	struct io_uring_sqe *sqe;
	struct op *op = NULL;
	uint64_t i;
	int k;

	for (k = 0; k < NR_FREAD; k++)
		if (!D.fread_ops[k].busy) {
			op = &D.fread_ops[k];
			break;
		}
	if (!op)
		return;
	op->busy = true;
	op->pgoff = pgoff;
	op->count = count;
	for (i = 0; i < count; i++)
		bit_set(D.busy, pgoff + i);
	sqe = get_sqe();
	io_uring_prep_read(sqe, D.snap_fd, D.map + pgoff * D.psz,
			   count * D.psz, pgoff * D.psz);
	io_uring_sqe_set_data(sqe, op);
	D.freads++;
}

static bool page_free(uint64_t p)
{
	return !bit_test(D.have, p) && !bit_test(D.busy, p);
}

/* Keep the background reads going, from the cursor on. */
static void snap_background(void)
{
	uint64_t p, n;

	while (D.freads < NR_FREAD / 2) {
		p = D.bg_cursor;
		while (p < D.pages && !page_free(p))
			p++;
		if (p >= D.pages) {
			if (D.bg_cursor == 0)
				return;
			D.bg_cursor = 0;
			continue;
		}
		for (n = 1; n < FREAD_PAGES && p + n < D.pages &&
			    page_free(p + n); n++)
			;
		fread_submit(p, n);
		D.bg_cursor = p + n;
	}
}

static void fread_done(struct op *op, int res)
{
	uint64_t i;

	op->busy = false;
	D.freads--;
	for (i = 0; i < op->count; i++)
		bit_clear(D.busy, op->pgoff + i);
	if (res != (int)(op->count * D.psz)) {
		/* Retry a short or failed read from scratch. */
		if (res < 0 && res != -EINTR && res != -EAGAIN)
			die("snapshot read of pages %llu+%llu: %s",
			    (unsigned long long)op->pgoff,
			    (unsigned long long)op->count, strerror(-res));
		punch(op->pgoff, op->count);
		fread_submit(op->pgoff, op->count);
		return;
	}
	for (i = 0; i < op->count; i++)
		got_page(op->pgoff + i, op->count == 1 ? WIRE_URGENT :
						       WIRE_BACKGROUND);
}

/* ---- requests ----------------------------------------------------------- */

static void submit_req_read(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_read(sqe, D.srv.fd, D.reqbuf, sizeof(D.reqbuf), 0);
	io_uring_sqe_set_data(sqe, &D.req_op);
}

static void want_page(uint64_t p)
{
	uint64_t n, end;

	D.n_requests++;
	bit_set(D.wanted, p);
	if (D.snapshot) {
		if (page_free(p))
			fread_submit(p, 1);
		for (n = 1; n <= (uint64_t)D.window && p + n < D.pages &&
			    page_free(p + n); n++)
			;
		if (n > 1)
			fread_submit(p + 1, n - 1);
		D.bg_cursor = p + n;
		return;
	}
	if (!bit_test(D.busy, p)) {
		trace_mark("req", p);
		send_req(p, 1, 0);
	}
	end = p + 1 + D.window > D.pages ? D.pages : p + 1 + D.window;
	while (++p < end && bit_test(D.have, p))
		;
	if (p < end)
		send_req(p, end - p, WIRE_REQ_PREFETCH);
}

static void req_done(int res)
{
	int i, n;

	if (res == -EINTR || res == -EAGAIN) {
		submit_req_read();
		return;
	}
	if (res < 0)
		die("reading requests: %s", strerror(-res));
	/*
	 * Hung up: the control file is closed and nothing maps the region
	 * (the VMM is gone); no fault can come, nothing is worth sending.
	 */
	if (res == 0)
		die_code(EXIT_HUP, "the region has no user left (the VMM is gone)");
	n = res / sizeof(struct umem_request);
	for (i = 0; i < n; i++) {
		uint64_t p = D.reqbuf[i].pgoff;

		if (p < D.pages && !bit_test(D.have, p))
			want_page(p);
	}
	submit_req_read();
}

/* ---- progress ----------------------------------------------------------- */

static void progress(uint64_t now, bool last)
{
	double el = (now - D.start_ns) / 1e9;
	double rate = el > 0 ? D.n_have * (double)D.psz / el / 1048576.0 : 0;
	double pct = 100.0 * D.n_have / D.pages;
	double eta = rate > 0 ? (D.pages - D.n_have) * (double)D.psz / 1048576.0 / rate : 0;
	char bar[41];
	int i, fill = (int)(pct * 40 / 100);

	if (!D.progress)
		return;
	if (D.tty) {
		for (i = 0; i < 40; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[40] = 0;
		fprintf(stderr, "\r[%s] %5.1f%% %llu/%llu pages, urgent %llu, background %llu, %.1f MiB/s, ETA %.0f s  ",
			bar, pct, (unsigned long long)D.n_have,
			(unsigned long long)D.pages,
			(unsigned long long)D.n_urgent,
			(unsigned long long)D.n_bg, rate, eta);
		if (last)
			fputc('\n', stderr);
		return;
	}
	fprintf(stderr, "umemd: %5.1f%% %llu/%llu pages, urgent %llu, background %llu, %.1f MiB/s, ETA %.0f s\n",
		pct, (unsigned long long)D.n_have, (unsigned long long)D.pages,
		(unsigned long long)D.n_urgent, (unsigned long long)D.n_bg,
		rate, eta);
}

static void tick_submit(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	D.tick_ts.tv_sec = 0;
	D.tick_ts.tv_nsec = TICK_MS * 1000000LL;
	io_uring_prep_timeout(sqe, &D.tick_ts, 0, 0);
	io_uring_sqe_set_data(sqe, &D.tick_op);
}

static volatile sig_atomic_t stream_go;

static void on_usr1(int sig)
{
	stream_go = 1;
}

/*
 * --hold-stream: the background channel is connected but not read, so the
 * source's stream stops at the socket's buffer and leaves the CPU to the
 * QEMUs while the device state is loaded.  SIGUSR1 (the migration tool,
 * once the guest runs here) starts reading it.
 */
static void stream_release(void)
{
	if (!D.hold_stream || !stream_go)
		return;
	D.hold_stream = false;
	logv("background stream: released");
	if (D.connected) {
		D.bg->last_rx_ns = now_ns();
		chan_submit_recv(D.bg);
	}
}

static void tick_done(void)
{
	uint64_t now = now_ns();

	stream_release();

	if (D.source)
		net_tick(now);
	if (now - D.last_progress_ns >= (D.tty ? 200000000ULL : 1000000000ULL)) {
		progress(now, false);
		D.last_progress_ns = now;
	}
	tick_submit();
}

/* ---- the loop ----------------------------------------------------------- */

#define NR_CQE		64	/* completions taken at once */

static void op_done(struct op *op, int res)
{
	switch (op->kind) {
	case OP_REQ: req_done(res); break;
	case OP_RECV: recv_done(op->ch, res); break;
	case OP_SEND: send_done(op->ch, res); break;
	case OP_WRITE: write_done(res); break;
	case OP_TICK: tick_done(); break;
	case OP_FREAD: fread_done(op, res); break;
	}
}

/* What a blocked fault waits on: its request, its page, its send. */
static bool op_urgent(const struct op *op)
{
	return op->kind == OP_REQ ||
	       ((op->kind == OP_RECV || op->kind == OP_SEND) &&
		op->ch == D.urg);
}

/*
 * A blocked fault's work is not queued behind the background stream:
 * of the completions at hand, the urgent ones run first, and their
 * requests go out (one submit) before the stream's 64 KiB are parsed.
 * A page a fault waits for is marked present with a write() of its own
 * (flush_present(true)), not behind an asynchronous one in flight.
 */
static void run_once(void)
{
	struct { struct op *op; int res; bool urgent; } c[NR_CQE];
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0, i;
	bool urgent = false;

	io_uring_submit_and_wait(&D.ring, 1);
	io_uring_for_each_cqe(&D.ring, head, cqe) {
		if (n == NR_CQE)
			break;
		c[n].op = io_uring_cqe_get_data(cqe);
		c[n].res = cqe->res;
		c[n].urgent = op_urgent(c[n].op);
		urgent |= c[n].urgent;
		n++;
	}
	io_uring_cq_advance(&D.ring, n);
	for (i = 0; i < n; i++)
		if (c[i].urgent)
			op_done(c[i].op, c[i].res);
	if (urgent) {
		if (D.waited)
			flush_present(true);
		D.waited = false;
		chan_flush(D.urg);
		io_uring_submit(&D.ring);
	}
	for (i = 0; i < n; i++)
		if (!c[i].urgent)
			op_done(c[i].op, c[i].res);
	if (D.snapshot)
		snap_background();
	flush_present(D.waited);
	D.waited = false;
	chan_flush(D.urg);
}

/* ---- setup -------------------------------------------------------------- */

static int fd_from_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		die_code(EXIT_CONFIG, "unix socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		die_code(EXIT_CONFIG, "cannot connect to %s: %s", path,
			 strerror(errno));
	fd = umemlib_recv_fd(s);
	if (fd < 0)
		die_code(EXIT_CONFIG, "%s: %s", path, umemlib_strerror());
	close(s);
	return fd;
}

static void adopt(int fd)
{
	uint64_t words, p, end, t0;
	int ret;

	if (umemlib_from_fd(&D.reg, fd))
		die_code(EXIT_CONFIG, "%s", umemlib_strerror());
	/* A server killed a moment ago may still be on its way out. */
	t0 = now_ns();
	while ((ret = umemlib_serve(&D.reg, UMEM_SERVE_CLOEXEC | UMEM_SERVE_NONBLOCK,
				    &D.srv)) == -EBUSY && now_ns() - t0 < 2000000000ULL)
		usleep(20000);
	if (ret)
		die_code(ret == -EIO ? EXIT_SOURCE : 1, "%s", umemlib_strerror());
	/*
	 * The control fd is the VMM's: holding it would keep the region
	 * from hanging up when the VMM dies (see read() returning 0).
	 */
	close(D.reg.ctl);
	D.reg.ctl = -1;
	D.psz = D.reg.page_size;
	D.pages = D.reg.pages;
	words = (D.pages + 63) / 64;
	D.have = calloc(words, 8);
	D.busy = calloc(words, 8);
	D.wanted = calloc(words, 8);
	D.retries = calloc(D.pages, 1);
	D.collapsed = calloc(D.pages / ((2ULL << 20) / D.psz) + 1, 1);
	D.pend = malloc(UMEM_WRITE_MAX);
	D.wbuf = malloc(UMEM_WRITE_MAX);
	D.scratch = aligned_alloc(64, D.psz);
	if (!D.have || !D.busy || !D.wanted || !D.retries || !D.collapsed ||
	    !D.pend ||
	    !D.wbuf || !D.scratch)
		die("out of memory for %llu pages", (unsigned long long)D.pages);
	D.map = mmap(NULL, D.reg.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     D.srv.shmem_fd, 0);
	if (D.map == MAP_FAILED)
		die("mmap of the shmem file: %s", strerror(errno));
	/* What an earlier server supplied must never be written again. */
	if (umemlib_bitmap(&D.srv, UMEM_BITMAP_PRESENT, D.have))
		die("%s", umemlib_strerror());
	for (p = 0; p < D.pages; p++)
		D.n_have += bit_test(D.have, p);
	/*
	 * Pages not present may hold what a killed server half-wrote; no one
	 * can map them, so make them holes again.
	 */
	for (p = bit_next_clear(D.have, D.pages, 0); p < D.pages;
	     p = bit_next_clear(D.have, D.pages, end)) {
		for (end = p; end < D.pages && !bit_test(D.have, end); end++)
			;
		punch(p, end - p);
	}
	if (D.n_have)
		fprintf(stderr, "umemd: adopted a region with %llu of %llu pages present\n",
			(unsigned long long)D.n_have, (unsigned long long)D.pages);
}

static void finish(void)
{
	struct io_uring_cqe *cqe;
	double el;
	uint64_t e;
	int try;

	/* Let the last batch land, then the rest, then complete. */
	while (D.write_op.busy) {
		/* Submit first: the batch may still sit in the SQ ring. */
		if (io_uring_submit_and_wait(&D.ring, 1) < 0 ||
		    io_uring_peek_cqe(&D.ring, &cqe))
			continue;
		if (io_uring_cqe_get_data(cqe) == &D.write_op)
			write_done(cqe->res);
		io_uring_cqe_seen(&D.ring, cqe);
	}
	flush_present(true);
	/*
	 * Every extent is whole now: collapse those not collapsed yet.
	 * EAGAIN (a page locked or in use for a moment) passes: try a few
	 * more times, a little later each.
	 */
	for (e = 0; e < D.pages / extent_pages() && !D.no_collapse; e++)
		for (try = 0; try < 5 && !D.collapsed[e] && !D.no_collapse; try++) {
			if (try)
				usleep(10000 << try);
			collapse_extent(e);
		}
	if (umemlib_complete(&D.srv))
		die("%s", umemlib_strerror());
	progress(now_ns(), true);
	if (!D.no_collapse && D.pages >= extent_pages())
		fprintf(stderr, "umemd: %llu of %llu extents collapsed into huge pages%s%s\n",
			(unsigned long long)D.n_huge,
			(unsigned long long)(D.pages / extent_pages()),
			D.n_huge < D.pages / extent_pages() ?
			"; the rest stay 4 KiB: " : "",
			D.n_huge < D.pages / extent_pages() ?
			strerror(D.collapse_err) : "");
	el = (now_ns() - D.start_ns) / 1e9;
	fprintf(stderr,
		"umemd: complete: %llu pages in %.2f s (%.1f MiB/s): %llu requested, %llu urgent, %llu background, %llu zero, %llu duplicates dropped, %llu bad checksums, %llu poisoned, %llu reconnects\n",
		(unsigned long long)D.pages, el,
		el > 0 ? D.pages * (double)D.psz / el / 1048576.0 : 0,
		(unsigned long long)D.n_requests,
		(unsigned long long)D.n_urgent, (unsigned long long)D.n_bg,
		(unsigned long long)D.n_zero, (unsigned long long)D.n_dup,
		(unsigned long long)D.n_csum, (unsigned long long)D.n_poison,
		(unsigned long long)D.n_reconnect);
	exit(0);
}

static uint64_t ms_arg(const char *opt, const char *arg)
{
	char *end;
	unsigned long long v = strtoull(arg, &end, 10);

	if (end == arg || *end)
		die_code(EXIT_CONFIG, "bad %s '%s': want milliseconds", opt, arg);
	return v * 1000000ULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fd", required_argument, NULL, 'f' },
		{ "unix", required_argument, NULL, 'u' },
		{ "path", required_argument, NULL, 'P' },
		{ "pid", required_argument, NULL, 'i' },
		{ "path-match", required_argument, NULL, 'm' },
		{ "source", required_argument, NULL, 's' },
		{ "snapshot", required_argument, NULL, 'S' },
		{ "window", required_argument, NULL, 'w' },
		{ "net-timeout", required_argument, NULL, 'n' },
		{ "give-up", required_argument, NULL, 'g' },
		{ "connect-timeout", required_argument, NULL, 'c' },
		{ "progress", required_argument, NULL, 'p' },
		{ "nice", required_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "hold-stream", no_argument, NULL, 'H' },
		{ "trace", no_argument, NULL, 'R' },
		{ "tls-creds", required_argument, NULL, 'T' },
		{ "tls-no-ktls", no_argument, NULL, 'K' },
		{ "tls-authz", required_argument, NULL, 'A' },
		{ "tls-username", required_argument, NULL, 'U' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "takeover", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ }
	};
	const char *unix_path = NULL, *file_path = NULL, *path_match = NULL;
	const char *tls_dir = NULL, *tls_user = NULL, *authz[32];
	bool insecure = false, no_ktls = false;
	int nauthz = 0;
	char err[384];
	char pid_path[320];
	long nice_val, pid = 0;
	char *end;
	int opt, fd = -1;

	D.window = 16;
	D.net_timeout_ns = 2000000000ULL;
	D.give_up_ns = 30000000000ULL;
	D.connect_timeout_ns = 10000000000ULL;
	D.progress = 1;
	D.snap_fd = -1;
	D.trace_fd = -1;
	while ((opt = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			fd = strtol(optarg, &end, 10);
			if (end == optarg || *end || fd < 0)
				die_code(EXIT_CONFIG, "bad --fd '%s'", optarg);
			break;
		case 'u': unix_path = optarg; break;
		case 'P': file_path = optarg; break;
		case 'i':
			pid = strtol(optarg, &end, 10);
			if (end == optarg || *end || pid <= 0)
				die_code(EXIT_CONFIG, "bad --pid '%s'", optarg);
			break;
		case 'm': path_match = optarg; break;
		case 's': D.source = optarg; break;
		case 'S': D.snapshot = optarg; break;
		case 'w':
			D.window = strtol(optarg, &end, 10);
			if (end == optarg || *end || D.window < 0 || D.window > 4096)
				die_code(EXIT_CONFIG, "bad --window '%s'", optarg);
			break;
		case 'n': D.net_timeout_ns = ms_arg("--net-timeout", optarg); break;
		case 'g': D.give_up_ns = ms_arg("--give-up", optarg); break;
		case 'c': D.connect_timeout_ns = ms_arg("--connect-timeout", optarg); break;
		case 'p':
			if (!strcmp(optarg, "none"))
				D.progress = 0;
			else if (!strcmp(optarg, "line"))
				D.progress = 2;
			else if (strcmp(optarg, "auto"))
				die_code(EXIT_CONFIG, "bad --progress '%s'", optarg);
			break;
		case 'N':
			nice_val = strtol(optarg, &end, 10);
			if (end == optarg || *end || nice_val < -20 || nice_val > 19)
				die_code(EXIT_CONFIG, "bad --nice '%s'", optarg);
			/* Before io_uring exists: its workers inherit it. */
			if (setpriority(PRIO_PROCESS, 0, nice_val))
				die_code(EXIT_CONFIG, "--nice %ld: %s", nice_val,
					 strerror(errno));
			break;
		case 'v': D.verbose = true; break;
		case 'H': D.hold_stream = true; break;
		case 'R':
			D.trace_fd = open("/sys/kernel/tracing/trace_marker",
					  O_WRONLY | O_CLOEXEC);
			if (D.trace_fd < 0)
				D.trace_fd = open("/sys/kernel/debug/tracing/trace_marker",
						  O_WRONLY | O_CLOEXEC);
			if (D.trace_fd < 0)
				die_code(EXIT_CONFIG, "--trace: no trace_marker (is tracefs mounted?): %s",
					 strerror(errno));
			break;
		case 'T': tls_dir = optarg; break;
		case 'K': no_ktls = true; break;
		case 'U': tls_user = optarg; break;
		case 'A':
			if (nauthz == 32)
				die_code(EXIT_CONFIG, "too many --tls-authz");
			authz[nauthz++] = optarg;
			break;
		case 'I': insecure = true; break;
		case 'O': D.takeover = true; break;
		case 'h': fputs(umemd_usage, stdout); return 0;
		case 'V': printf("umemd %s\n", UMEM_VERSION); return 0;
		default: fputs(umemd_usage, stderr); return EXIT_CONFIG;
		}
	}
	if (optind != argc ||
	    (fd >= 0) + !!unix_path + !!file_path + !!pid != 1 ||
	    !D.source == !D.snapshot || (path_match && !pid)) {
		fprintf(stderr, "umemd: give one of --fd/--unix/--path/--pid and one of --source/--snapshot%s\n",
			path_match && !pid ? "; --path-match goes with --pid" : "");
		fputs(umemd_usage, stderr);
		return EXIT_CONFIG;
	}
	if (D.source && !parse_hostport(D.source, D.host, sizeof(D.host), &D.port))
		die_code(EXIT_CONFIG, "bad --source '%s': want HOST:PORT", D.source);
	if (tls_dir && insecure)
		die_code(EXIT_CONFIG, "--tls-creds and --insecure exclude each other");
	if (D.source && !tls_dir && !insecure)
		die_code(EXIT_CONFIG,
			 "refusing to fetch guest memory without TLS: give --tls-creds DIR, or --insecure");
	if (D.source && tls_dir) {
		D.tls = tls_creds_load(tls_dir, false, no_ktls, tls_user, err,
				       sizeof(err));
		if (!D.tls)
			die_code(EXIT_CONFIG, "--tls-creds: %s", err);
		for (int i = 0; i < nauthz; i++)
			tls_creds_allow(D.tls, authz[i]);
	}
	if (D.source && insecure)
		fprintf(stderr, "umemd: WARNING: --insecure: no TLS; anyone on the path can read the guest's memory or feed it pages\n");
	signal(SIGPIPE, SIG_IGN);
	D.tty = D.progress == 1 && isatty(2);
	signal(SIGUSR1, on_usr1);
	if (unix_path)
		fd = fd_from_unix(unix_path);
	if (pid) {
		if (umemlib_find_pid_file(pid, path_match, pid_path, sizeof(pid_path)))
			die_code(EXIT_CONFIG, "--pid %ld: %s", pid, umemlib_strerror());
		file_path = pid_path;
	}
	if (file_path) {
		struct umemlib_region r;

		if (umemlib_open_file(&r, file_path))
			die_code(EXIT_CONFIG, "%s", umemlib_strerror());
		fd = r.ctl;
		logv("serving %s", file_path);
	}
	adopt(fd);

	if (D.snapshot) {
		struct stat st;

		D.snap_fd = open(D.snapshot, O_RDONLY | O_CLOEXEC);
		if (D.snap_fd < 0 || fstat(D.snap_fd, &st))
			die_code(EXIT_CONFIG, "snapshot %s: %s", D.snapshot,
				 strerror(errno));
		if ((uint64_t)st.st_size != D.reg.size)
			die_code(EXIT_CONFIG,
				 "snapshot %s is %llu bytes but the region is %llu bytes",
				 D.snapshot, (unsigned long long)st.st_size,
				 (unsigned long long)D.reg.size);
	}
	if (io_uring_queue_init(128, &D.ring, 0))
		die("io_uring_queue_init: %s", strerror(errno));
	D.req_op.kind = OP_REQ;
	D.write_op.kind = OP_WRITE;
	D.tick_op.kind = OP_TICK;
	for (int k = 0; k < NR_FREAD; k++)
		D.fread_ops[k].kind = OP_FREAD;
	D.start_ns = now_ns();

	if (D.source) {
		uint64_t t0 = now_ns();

		if (getrandom(&D.session, sizeof(D.session), 0) != sizeof(D.session))
			D.session = t0 ^ getpid();
		while (!net_connect(1000)) {
			if (now_ns() - t0 > D.connect_timeout_ns)
				die_code(EXIT_CONFIG, "cannot connect to source %s:%d: %s",
					 D.host, D.port, strerror(errno));
			usleep(200000);
		}
		fprintf(stderr, "umemd: connected to %s:%d\n", D.host, D.port);
	}
	submit_req_read();
	tick_submit();
	if (D.snapshot)
		snap_background();

	while (D.n_have < D.pages)
		run_once();
	finish();
	return 0;
}
