// SPDX-License-Identifier: GPL-2.0
/*
 * umemctl source: the migration source.  It serves one memory image over
 * TCP to one destination (umemd) at a time, on two channels:
 *  - urgent: page requests in, those pages out at once;
 *  - background: prefetch windows first (they never ride the urgent
 *    channel, where they would delay the next demand page), then every
 *    page not yet sent, from a cursor that jumps to just after the last
 *    requested page, to follow the guest's locality.  The 2 MiB extent
 *    of that page is finished first, its head after its tail, then those
 *    of the last few requests before it: an extent the guest works in
 *    becomes whole, and so huge (umemd's collapse), soon after its fault
 *    rather than when the cursor comes round.
 * A page is sent on the background stream only if it was never sent in
 * this session; when umemd reconnects it sends the bitmap of pages it
 * has, which replaces the source's idea of what was sent.
 *
 * With --hold, a destination connects and is welcomed, but no page moves
 * until "serve" arrives on the --control socket: the migration tool
 * (migrate.c) arms the transport while the guest still runs on this
 * host, and flips it at the switchover, when this RAM stops changing.
 * "serve" opens the urgent channel only: the device state still crosses
 * then, and faults during its load must be answered, but a background
 * stream would take the CPU from the two QEMUs inside the downtime.
 * "stream" opens the background channel too, once QEMU has switched over.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "tls.h"
#include "commands.h"
#include "wire.h"

#define MAX_CORRUPT	64
#define DUP_RING	4096
#define PREFETCH_RING	64
#define HOT_EXTENTS	8	/* requested extents the stream finishes first */
#define URGENT_BOOST	5	/* nice levels of the urgent thread over the stream */

struct corrupt_hook {
	uint64_t pgoff;
	int times;		/* corrupted sends left; -1: always */
};

struct source {
	struct image img;
	uint64_t pages;
	uint32_t psz;
	bool once;
	bool verbose;
	int control;		/* --control fd, or -1 */
	uint64_t rate;		/* background bytes/s, 0: unlimited */
	struct tls_creds *tls;	/* NULL: --insecure */

	pthread_mutex_t lock;	/* everything below */
	uint64_t session;
	bool have_session;
	uint64_t *sent;
	int conn[3];		/* live fd per channel, or -1 */
	struct corrupt_hook corrupt[MAX_CORRUPT];
	int nr_corrupt;
	bool duplicates;
	uint64_t dup_ring[DUP_RING];
	unsigned int dup_head, dup_tail;
	bool finished;		/* --once: the session completed */
	bool serving;		/* urgent pages may move: no --hold, or "serve" */
	bool streaming;		/* background pages too: no --hold, or "stream" */
	bool armed;		/* "armed" was said on the control socket */
	pthread_cond_t serve_cond;
	struct {
		uint64_t pgoff, end;
	} prefetch[PREFETCH_RING];	/* windows for the background stream */
	unsigned int pf_head, pf_tail;
	uint64_t jumps[HOT_EXTENTS];	/* requested pages, for the stream */
	unsigned int jump_head, jump_tail;

	_Atomic uint64_t n_urgent, n_prefetch, n_bg, n_zero, n_dup, n_corrupt,
		n_bytes;
	uint64_t start_ns;
};

static struct source S;

static const char source_usage[] =
"usage: umemctl source --image SPEC [options]\n"
"Serve a memory image to umemd over TCP (urgent + background channels).\n"
"  --image SPEC        file:PATH, a plain PATH, or pattern:SIZE[:SEED]\n"
"                      (synthetic; SIZE like 256M; one page in 8 is zero)\n"
"  --listen ADDR:PORT  where to listen (default 0.0.0.0:4444)\n"
"  --tls-creds DIR     TLS 1.3, mutual X.509: DIR holds ca-cert.pem,\n"
"                      server-cert.pem and server-key.pem (QEMU's layout)\n"
"                      or, without a PKI, keys.psk (tls-creds-psk's)\n"
"  --tls-authz NAME     accept only this destination: its certificate's\n"
"                      subject (\"CN=host,O=org\") or its PSK username;\n"
"                      repeatable\n"
"  --tls-no-ktls       keep TLS records in user space (tests, benchmarks)\n"
"  (one destination per migration: another is refused until the first\n"
"  completes, unless it runs umemd --takeover)\n"
"  --insecure          serve without TLS: anyone who reaches the port\n"
"                      reads the guest's memory (one of --tls-creds and\n"
"                      --insecure is required)\n"
"  --page-size N       page unit (default 4096; must match the region)\n"
"  --once              exit once a destination has received every page\n"
"                      and disconnected\n"
"  --verbose           log connections\n"
"  --rate MIB          limit the background stream to MIB MiB/s\n"
"  --hold              welcome destinations but send no page until \"serve\"\n"
"                      (urgent pages) or \"stream\" (all) arrives on --control\n"
"  --control FD        a stream socket to the migration tool: this side\n"
"                      writes \"armed\" when a destination's two channels\n"
"                      are up and \"stats ...\" lines while serving; the\n"
"                      tool writes \"serve\" and \"stream\"\n"
"Test hooks:\n"
"  --corrupt PG[:N]    send page PG with a bad checksum N times (default\n"
"                      1; 0 = always); repeatable\n"
"  --duplicates        also resend pages the destination already has\n"
"                      (urgent pages, on the background channel)\n";

static void logv(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void logv(const char *fmt, ...)
{
	va_list ap;

	if (!S.verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "source: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static bool page_is_zero(const uint64_t *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (w[i])
			return false;
	return true;
}

/* Should this send of @pgoff be corrupted?  Consumes one use. */
static bool take_corrupt(uint64_t pgoff)
{
	bool hit = false;
	int i;

	pthread_mutex_lock(&S.lock);
	for (i = 0; i < S.nr_corrupt; i++) {
		if (S.corrupt[i].pgoff != pgoff || !S.corrupt[i].times)
			continue;
		if (S.corrupt[i].times > 0)
			S.corrupt[i].times--;
		hit = true;
	}
	pthread_mutex_unlock(&S.lock);
	return hit;
}

/*
 * Records gathered for one sendmsg(): up to BATCH_PAGES page records, each
 * a header and, unless the page is zero, its bytes.  One system call and
 * one pass through the network stack per batch instead of per page is
 * most of what the stream costs (Documentation/performance.rst).
 */
#define BATCH_PAGES	16

struct batch {
	struct wire_msg hdr[BATCH_PAGES];
	struct iovec iov[2 * BATCH_PAGES];
	uint8_t *buf;		/* BATCH_PAGES pages */
	unsigned int n, niov;
	size_t len;
};

/* Add one page record (PAGE with bytes, or ZERO) for @pgoff to @b. */
static void batch_add(struct batch *b, uint64_t pgoff)
{
	struct wire_msg *m = &b->hdr[b->n];
	uint8_t *buf = b->buf + (size_t)b->n * S.psz;

	memset(m, 0, sizeof(*m));
	m->pgoff = pgoff;
	image_page(&S.img, pgoff, buf);
	if (take_corrupt(pgoff)) {
		/* Zero pages too: the corrupted copy travels with its bytes. */
		m->type = WIRE_PAGE;
		m->arg = wire_csum(buf, S.psz, pgoff);
		buf[pgoff % S.psz] ^= 0x5a;
		atomic_fetch_add(&S.n_corrupt, 1);
	} else if (page_is_zero((uint64_t *)buf, S.psz / 8)) {
		m->type = WIRE_ZERO;
		atomic_fetch_add(&S.n_zero, 1);
	} else {
		m->type = WIRE_PAGE;
		m->arg = wire_csum(buf, S.psz, pgoff);
	}
	b->iov[b->niov].iov_base = m;
	b->iov[b->niov++].iov_len = sizeof(*m);
	b->len += sizeof(*m);
	if (m->type == WIRE_PAGE) {
		b->iov[b->niov].iov_base = buf;
		b->iov[b->niov++].iov_len = S.psz;
		b->len += S.psz;
	}
	b->n++;
}

/* Send what @b holds, all of it; false if the connection failed. */
static bool batch_flush(int fd, struct batch *b)
{
	struct msghdr msg = { .msg_iov = b->iov, .msg_iovlen = b->niov };
	size_t len = b->len;
	ssize_t n;

	while (len) {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		len -= n;
		while (n && msg.msg_iovlen) {
			size_t k = (size_t)n < msg.msg_iov->iov_len ?
				   (size_t)n : msg.msg_iov->iov_len;

			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + k;
			msg.msg_iov->iov_len -= k;
			n -= k;
			if (!msg.msg_iov->iov_len) {
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
		}
	}
	atomic_fetch_add(&S.n_bytes, b->len);
	b->n = b->niov = 0;
	b->len = 0;
	return true;
}

/* Add a page to @b, and send the batch once it is full. */
static bool send_page(int fd, struct batch *b, uint64_t pgoff)
{
	batch_add(b, pgoff);
	return b->n < BATCH_PAGES || batch_flush(fd, b);
}

static bool send_simple(int fd, uint32_t type)
{
	struct wire_msg m = { .type = type };

	return send_all(fd, &m, sizeof(m));
}

/*
 * Mark @pgoff sent on the urgent channel @fd; false if @fd is no longer
 * the session's: a successor's bitmap has replaced ours, and what this
 * connection sends now reaches no one.
 */
static bool mark_sent(int fd, uint64_t pgoff)
{
	bool live;

	pthread_mutex_lock(&S.lock);
	live = S.conn[WIRE_URGENT] == fd;
	if (live)
		bit_set(S.sent, pgoff);
	pthread_mutex_unlock(&S.lock);
	return live;
}

static void dup_push(uint64_t pgoff)
{
	pthread_mutex_lock(&S.lock);
	if (S.duplicates && S.dup_head - S.dup_tail < DUP_RING)
		S.dup_ring[S.dup_head++ % DUP_RING] = pgoff;
	pthread_mutex_unlock(&S.lock);
}

/*
 * A request for page @pgoff came in: the background stream finishes its
 * extent next.  Each one counts, however fast they come; of more than
 * HOT_EXTENTS unread, the oldest go.
 */
static void jump_push(uint64_t pgoff)
{
	pthread_mutex_lock(&S.lock);
	if (S.jump_head - S.jump_tail == HOT_EXTENTS)
		S.jump_tail++;
	S.jumps[S.jump_head++ % HOT_EXTENTS] = pgoff;
	pthread_mutex_unlock(&S.lock);
}

/* A page the destination already has, for the duplicates hook. */
static bool dup_pop(uint64_t *pgoff, unsigned int keep)
{
	bool ok = false;

	pthread_mutex_lock(&S.lock);
	if (S.dup_head - S.dup_tail > keep) {
		*pgoff = S.dup_ring[S.dup_tail++ % DUP_RING];
		ok = true;
	}
	pthread_mutex_unlock(&S.lock);
	return ok;
}

/* A prefetch window: the background stream sends it next, newest first. */
static void prefetch_push(uint64_t pgoff, uint64_t end)
{
	unsigned int i;

	pthread_mutex_lock(&S.lock);
	if (S.pf_head - S.pf_tail == PREFETCH_RING)
		S.pf_tail++;	/* the oldest window is the least useful */
	i = S.pf_head++ % PREFETCH_RING;
	S.prefetch[i].pgoff = pgoff;
	S.prefetch[i].end = end;
	pthread_mutex_unlock(&S.lock);
}

/* Under S.lock: the next page of a prefetch window not yet sent, or ~0. */
static uint64_t prefetch_next(void)
{
	uint64_t p;
	unsigned int i;

	while (S.pf_head != S.pf_tail) {
		i = (S.pf_head - 1) % PREFETCH_RING;
		p = bit_next_clear(S.sent, S.prefetch[i].end, S.prefetch[i].pgoff);
		if (p < S.prefetch[i].end) {
			S.prefetch[i].pgoff = p + 1;
			return p;
		}
		S.pf_head--;
	}
	return ~0ULL;
}

static void serve_urgent(int fd, struct batch *b)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct wire_msg m;
	uint64_t p, end;
	int r;

	for (;;) {
		r = poll(&pfd, 1, WIRE_PING_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			if (!send_simple(fd, WIRE_PING))
				return;
			continue;
		}
		if (!recv_all(fd, &m, sizeof(m)))
			return;
		if (m.type != WIRE_REQ || m.pgoff >= S.pages || !m.arg) {
			logv("urgent: bad record type %u page %llu", m.type,
			     (unsigned long long)m.pgoff);
			return;
		}
		end = m.arg > S.pages - m.pgoff ? S.pages : m.pgoff + m.arg;
		if (m.flags & WIRE_REQ_PREFETCH) {
			prefetch_push(m.pgoff, end);
			continue;
		}
		jump_push(m.pgoff);
		for (p = m.pgoff; p < end; p++) {
			if (!mark_sent(fd, p))
				return;
			if (!send_page(fd, b, p))
				return;
			atomic_fetch_add(&S.n_urgent, 1);
			dup_push(p);
		}
		if (!batch_flush(fd, b))
			return;
	}
}

/* Wait up to @ms for the peer; false if it closed or failed. */
static bool idle_wait(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, ms) <= 0)
		return true;
	return recv(fd, &c, 1, MSG_DONTWAIT) > 0;
}

/* --rate: hold the background stream to S.rate bytes a second. */
static void throttle(uint64_t sent)
{
	static __thread uint64_t t0;
	uint64_t due, now = now_ns();

	if (!S.rate)
		return;
	if (!t0 || sent == 1)
		t0 = now;
	due = t0 + sent * S.psz * 1000000000ULL / S.rate;
	if (due > now)
		usleep((due - now) / 1000);
}

/* The background stream's order: serve_background's own. */
struct order {
	uint64_t ext;			/* pages per 2 MiB extent */
	uint64_t cur;			/* the next page, in order */
	uint64_t resume;		/* where order goes on after hot[] */
	uint64_t hot[HOT_EXTENTS];	/* extents requests landed in, newest last */
	unsigned int nhot;
};

/* A request landed at page @p: its extent goes first, from after @p on. */
static void order_jump(struct order *o, uint64_t p)
{
	uint64_t e = p / o->ext;
	unsigned int i;

	for (i = 0; i < o->nhot && o->hot[i] != e; i++)
		;
	if (i == o->nhot && o->nhot == HOT_EXTENTS)
		i = 0;		/* full: the oldest gives way */
	if (i < o->nhot)
		memmove(&o->hot[i], &o->hot[i + 1],
			(o->nhot - i - 1) * sizeof(*o->hot));
	else
		o->nhot++;
	o->hot[o->nhot - 1] = e;
	o->cur = p + 1;
	o->resume = (e + 1) * o->ext < S.pages ? (e + 1) * o->ext : S.pages;
}

/*
 * The next page to stream, under S.lock: the rest of the newest extent a
 * request landed in (its tail from the request on, then its head), then
 * the older ones', then every page in order from after the newest.
 */
static uint64_t order_next(struct order *o)
{
	uint64_t lo, hi, p;

	while (o->nhot) {
		lo = o->hot[o->nhot - 1] * o->ext;
		hi = lo + o->ext < S.pages ? lo + o->ext : S.pages;
		p = bit_next_clear(S.sent, hi, o->cur > lo ? o->cur : lo);
		if (p == hi)
			p = bit_next_clear(S.sent, hi, lo);
		if (p < hi)
			return p;
		if (!--o->nhot)
			o->cur = o->resume;
	}
	p = bit_next_clear(S.sent, S.pages, o->cur);
	return p < S.pages ? p : bit_next_clear(S.sent, S.pages, 0);
}

static void serve_background(int fd, struct batch *b)
{
	struct order o = {
		.ext = S.psz < (2U << 20) ? (2U << 20) / S.psz : 1,
	};
	uint64_t p, sent = 0;
	unsigned int n = 0;
	bool done = false, pf;

	for (;;) {
		/* The duplicates hook: every 16 pages, one old urgent page. */
		if (++n % 16 == 0 && dup_pop(&p, done ? 0 : 8)) {
			if (!send_page(fd, b, p))
				return;
			atomic_fetch_add(&S.n_dup, 1);
			continue;
		}
		pthread_mutex_lock(&S.lock);
		/*
		 * A connection that was replaced (a reconnect, a takeover)
		 * must not mark pages in its successor's bitmap: they would
		 * never reach it.
		 */
		if (S.conn[WIRE_BACKGROUND] != fd) {
			pthread_mutex_unlock(&S.lock);
			return;
		}
		/* Every request since the last page, oldest first. */
		while (S.jump_tail != S.jump_head)
			order_jump(&o, S.jumps[S.jump_tail++ % HOT_EXTENTS]);
		p = prefetch_next();
		pf = p != ~0ULL;
		if (!pf)
			p = order_next(&o);
		if (p < S.pages)
			bit_set(S.sent, p);
		pthread_mutex_unlock(&S.lock);

		if (p < S.pages) {
			if (!send_page(fd, b, p))
				return;
			atomic_fetch_add(pf ? &S.n_prefetch : &S.n_bg, 1);
			if (!pf)
				o.cur = p + 1;
			/* --rate paces page by page: nothing waits in a batch. */
			if (S.rate && !batch_flush(fd, b))
				return;
			throttle(++sent);
			continue;
		}
		if (!done) {
			/* Drain the duplicates hook before saying DONE. */
			while (dup_pop(&p, 0)) {
				if (!send_page(fd, b, p))
					return;
				atomic_fetch_add(&S.n_dup, 1);
			}
			if (!batch_flush(fd, b))
				return;
			if (!send_simple(fd, WIRE_DONE))
				return;
			done = true;
			logv("background: every page sent after %.2f s",
			     (now_ns() - S.start_ns) / 1e9);
		}
		if (!batch_flush(fd, b) || !idle_wait(fd, WIRE_PING_MS))
			return;
		if (!send_simple(fd, WIRE_PING))
			return;
	}
}

/* A line to the migration tool, if there is one; never blocks for long. */
static void control_say(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void control_say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	if (S.control < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(line))
		send_all(S.control, line, n);
}

static void control_stats(void)
{
	uint64_t sent = 0;
	size_t i, words = (S.pages + 63) / 64;

	pthread_mutex_lock(&S.lock);
	for (i = 0; i < words; i++)
		sent += __builtin_popcountll(S.sent[i]);
	pthread_mutex_unlock(&S.lock);
	control_say("stats sent %llu pages %llu urgent %llu prefetch %llu background %llu zero %llu bytes %llu\n",
		    (unsigned long long)sent, (unsigned long long)S.pages,
		    (unsigned long long)S.n_urgent,
		    (unsigned long long)S.n_prefetch,
		    (unsigned long long)S.n_bg, (unsigned long long)S.n_zero,
		    (unsigned long long)S.n_bytes);
}

/*
 * The control socket: "serve" opens the gate; stats go back twice a
 * second once it is open.  A tool gone before the switchover takes the
 * migration with it (its QEMU resumes the guest here), so nothing is
 * served; a tool gone after it leaves the destination to this server.
 */
static void *control_thread(void *arg)
{
	struct pollfd pfd = { .fd = S.control, .events = POLLIN };
	char buf[64];
	ssize_t n;

	(void)arg;
	for (;;) {
		if (poll(&pfd, 1, 500) == 0) {
			if (S.serving)
				control_stats();
			continue;
		}
		n = read(S.control, buf, sizeof(buf) - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf[n] = 0;
		pthread_mutex_lock(&S.lock);
		if (strstr(buf, "serve"))
			S.serving = true;
		if (strstr(buf, "stream"))
			S.serving = S.streaming = true;
		pthread_cond_broadcast(&S.serve_cond);
		pthread_mutex_unlock(&S.lock);
		logv("gate: %s", S.streaming ? "streaming" : S.serving ? "serving" : "closed");
	}
	if (!S.serving) {
		fprintf(stderr, "source: the migration tool is gone before the switchover: nothing was served\n");
		exit(1);
	}
	S.control = -1;
	return NULL;
}

/*
 * --hold: wait for channel @ch's gate, keeping the destination's channel
 * alive with pings (it reconnects after 2 s of silence).  Its requests
 * wait in the socket meanwhile.  False if the channel failed.
 */
static bool hold(int fd, int ch)
{
	bool *gate = ch == WIRE_URGENT ? &S.serving : &S.streaming;
	struct timespec ts;
	bool open;

	for (;;) {
		pthread_mutex_lock(&S.lock);
		if (!*gate) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += WIRE_PING_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&S.serve_cond, &S.lock, &ts);
		}
		open = *gate;
		pthread_mutex_unlock(&S.lock);
		if (open)
			return true;
		if (!send_simple(fd, WIRE_PING))
			return false;
	}
}

struct conn {
	int fd;
	char peer[64];
};

/*
 * One destination per migration: the first session to say hello holds the
 * source until it completes; another is refused (WIRE_EBUSY) unless its
 * hello asks to take over (umemd --takeover).  The session's own channels
 * may come and go (reconnects).
 */
static bool session_allowed(const struct conn *c, uint64_t session,
			    bool takeover)
{
	bool ok = true;

	pthread_mutex_lock(&S.lock);
	if (!S.have_session) {
		/* Claim it now: two first hellos must not both win. */
		S.session = session;
		S.have_session = true;
	} else if (S.session != session && !S.finished) {
		ok = takeover;
		fprintf(stderr, takeover ?
			"source: %s: takes the migration over from the destination it had (--takeover)\n" :
			"source: %s: refused: the migration belongs to another destination (umemd --takeover replaces it)\n",
			c->peer);
	}
	pthread_mutex_unlock(&S.lock);
	return ok;
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	struct wire_welcome w = { .magic = WIRE_MAGIC };
	struct timeval tv = { .tv_sec = 5 };
	struct wire_hello h;
	uint64_t *bm = NULL;
	size_t words = (S.pages + 63) / 64;
	struct batch *b = NULL;
	int fd = c->fd, ch = 0, one = 1;
	bool armed;
	bool takeover;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (S.tls) {
		char who[768], err[384];

		/* Before any wire byte: a refused peer learns nothing. */
		fd = tls_start(S.tls, fd, NULL, 5000, who, sizeof(who), err,
			       sizeof(err));
		if (fd < 0) {
			fprintf(stderr, "source: %s: TLS refused: %s\n", c->peer,
				err);
			free(c);
			return NULL;
		}
		logv("%s: TLS: %s", c->peer, who);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!recv_all(fd, &h, sizeof(h)))
		goto out;
	takeover = h.channel & WIRE_HELLO_TAKEOVER;
	h.channel &= ~WIRE_HELLO_TAKEOVER;
	w.image_bytes = S.img.size;
	w.page_size = S.psz;
	if (h.magic != WIRE_MAGIC || h.version != WIRE_VERSION ||
	    (h.channel != WIRE_URGENT && h.channel != WIRE_BACKGROUND))
		w.status = WIRE_EPROTO;
	else if (h.page_size != S.psz)
		w.status = WIRE_EPAGE;
	else if (h.image_bytes != S.img.size)
		w.status = WIRE_ESIZE;
	else if (h.channel == WIRE_BACKGROUND && h.bitmap_words != words)
		w.status = WIRE_EPROTO;
	else if (!session_allowed(c, h.session, takeover))
		w.status = WIRE_EBUSY;
	if (w.status == WIRE_OK && h.channel == WIRE_BACKGROUND) {
		bm = malloc(words * 8);
		if (!bm || !recv_all(fd, bm, words * 8))
			goto out;
	}
	if (!send_all(fd, &w, sizeof(w)) || w.status != WIRE_OK) {
		if ((h.magic & 0xffff) == 0x0316)
			fprintf(stderr, "source: %s: a TLS client, but this source runs without TLS: refused\n",
				c->peer);
		logv("%s: refused (status %u)", c->peer, w.status);
		goto out;
	}
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	ch = h.channel;
	pthread_mutex_lock(&S.lock);
	if (!S.have_session || S.session != h.session) {
		/* A new destination: the previous one is gone for good. */
		for (int i = 1; i <= 2; i++)
			if (S.conn[i] >= 0)
				shutdown(S.conn[i], SHUT_RDWR);
		S.session = h.session;
		S.have_session = true;
		memset(S.sent, 0, words * 8);
		S.dup_head = S.dup_tail = 0;
		S.jump_head = 0;
		S.jump_tail = 0;
	}
	if (S.conn[ch] >= 0)
		shutdown(S.conn[ch], SHUT_RDWR);
	S.conn[ch] = fd;
	if (bm)
		memcpy(S.sent, bm, words * 8);
	armed = !S.armed && S.conn[WIRE_URGENT] >= 0 &&
		S.conn[WIRE_BACKGROUND] >= 0;
	S.armed |= armed;
	pthread_mutex_unlock(&S.lock);
	logv("%s: %s channel up", c->peer,
	     ch == WIRE_URGENT ? "urgent" : "background");
	if (armed)
		control_say("armed %s\n", c->peer);

	b = calloc(1, sizeof(*b));
	if (b)
		b->buf = aligned_alloc(64, (size_t)BATCH_PAGES * S.psz);
	if (!b || !b->buf || !hold(fd, ch))
		goto out;
	if (ch == WIRE_URGENT) {
		/*
		 * A blocked vCPU waits on this thread: it takes the CPU from
		 * the stream at once.  Its own nice value; without the
		 * privilege to raise it, it runs as the process does.
		 */
		errno = 0;
		if (nice(-URGENT_BOOST) == -1 && errno)
			logv("urgent: nice: %s", strerror(errno));
		serve_urgent(fd, b);
	} else {
		serve_background(fd, b);
	}
	logv("%s: %s channel closed", c->peer,
	     ch == WIRE_URGENT ? "urgent" : "background");

out:
	pthread_mutex_lock(&S.lock);
	if (ch && S.conn[ch] == fd) {
		S.conn[ch] = -1;
		if (ch == WIRE_BACKGROUND &&
		    bit_next_clear(S.sent, S.pages, 0) == S.pages)
			S.finished = true;
	}
	pthread_mutex_unlock(&S.lock);
	close(fd);
	free(bm);
	if (b)
		free(b->buf);
	free(b);
	free(c);
	return NULL;
}

static int listen_on(const char *spec)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE,
	}, *ai;
	char host[256], port[16];
	int fd, one = 1, p, r;

	if (!parse_hostport(spec, host, sizeof(host), &p)) {
		fprintf(stderr, "umemctl source: bad --listen '%s': want ADDR:PORT\n",
			spec);
		return -1;
	}
	snprintf(port, sizeof(port), "%d", p);
	/* Numeric first: a static binary may have no NSS to resolve names. */
	hints.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(host, port, &hints, &ai);
	if (r == EAI_NONAME) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		r = getaddrinfo(host, port, &hints, &ai);
	}
	if (r) {
		fprintf(stderr, "umemctl source: %s: %s\n", spec, gai_strerror(r));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		fprintf(stderr, "umemctl source: cannot listen on %s: %s\n",
			spec, strerror(errno));
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static bool add_corrupt(const char *arg)
{
	char *end;
	unsigned long long pg = strtoull(arg, &end, 0);
	long times = 1;

	if (end == arg || (*end && *end != ':'))
		return false;
	if (*end == ':') {
		times = strtol(end + 1, &end, 0);
		if (*end || times < 0)
			return false;
	}
	if (S.nr_corrupt == MAX_CORRUPT)
		return false;
	S.corrupt[S.nr_corrupt].pgoff = pg;
	S.corrupt[S.nr_corrupt].times = times ? (int)times : -1;
	S.nr_corrupt++;
	return true;
}

static void summary(void)
{
	double s = (now_ns() - S.start_ns) / 1e9;

	fprintf(stderr,
		"source: sent %llu urgent + %llu prefetched + %llu background pages (%llu zero, %llu duplicate, %llu corrupted), %.1f MiB in %.1f s\n",
		(unsigned long long)S.n_urgent, (unsigned long long)S.n_prefetch,
		(unsigned long long)S.n_bg,
		(unsigned long long)S.n_zero, (unsigned long long)S.n_dup,
		(unsigned long long)S.n_corrupt, S.n_bytes / 1048576.0, s);
}

static void on_term(int sig)
{
	(void)sig;
	summary();
	_exit(0);
}

int cmd_source(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "listen", required_argument, NULL, 'l' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "once", no_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "corrupt", required_argument, NULL, 'c' },
		{ "duplicates", no_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "hold", no_argument, NULL, 'H' },
		{ "control", required_argument, NULL, 'C' },
		{ "tls-creds", required_argument, NULL, 'T' },
		{ "tls-no-ktls", no_argument, NULL, 'K' },
		{ "tls-authz", required_argument, NULL, 'A' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *image = NULL, *listen_spec = "0.0.0.0:4444";
	const char *tls_dir = NULL, *authz[32];
	bool insecure = false, no_ktls = false;
	int nauthz = 0;
	uint64_t psz = 4096;
	char err[256], *end;
	bool hold_opt = false;
	pthread_t ct;
	int opt, lfd;

	pthread_mutex_init(&S.lock, NULL);
	pthread_cond_init(&S.serve_cond, NULL);
	S.control = -1;
	S.conn[0] = S.conn[1] = S.conn[2] = -1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': image = optarg; break;
		case 'l': listen_spec = optarg; break;
		case 'p':
			if (!parse_size(optarg, &psz) || psz < 512 ||
			    (psz & (psz - 1)) || psz > (1 << 22))
				return usage_error("source", "bad --page-size", source_usage);
			break;
		case 'o': S.once = true; break;
		case 'v': S.verbose = true; break;
		case 'c':
			if (!add_corrupt(optarg))
				return usage_error("source", "bad --corrupt (PG[:N])",
						   source_usage);
			break;
		case 'd': S.duplicates = true; break;
		case 'r':
			if (!parse_size(optarg, &S.rate) || !S.rate)
				return usage_error("source", "bad --rate", source_usage);
			S.rate <<= 20;
			break;
		case 'H': hold_opt = true; break;
		case 'C':
			S.control = strtol(optarg, &end, 10);
			if (end == optarg || *end || S.control < 0 ||
			    fcntl(S.control, F_GETFD) < 0)
				return usage_error("source", "bad --control (an open fd)",
						   source_usage);
			break;
		case 'T': tls_dir = optarg; break;
		case 'K': no_ktls = true; break;
		case 'A':
			if (nauthz == 32)
				return usage_error("source", "too many --tls-authz",
						   source_usage);
			authz[nauthz++] = optarg;
			break;
		case 'I': insecure = true; break;
		case 'h': fputs(source_usage, stdout); return 0;
		default: return usage_error("source", NULL, source_usage);
		}
	}
	if (optind != argc || !image)
		return usage_error("source", image ? "unexpected argument" :
				   "--image is required", source_usage);
	if (hold_opt && S.control < 0)
		return usage_error("source", "--hold needs --control", source_usage);
	S.serving = S.streaming = !hold_opt;
	if (!tls_dir == !insecure)
		return usage_error("source", tls_dir ?
				   "--tls-creds and --insecure exclude each other" :
				   "refusing to serve guest memory without TLS: give --tls-creds DIR, or --insecure",
				   source_usage);
	if (tls_dir) {
		S.tls = tls_creds_load(tls_dir, true, no_ktls, NULL, err,
				       sizeof(err));
		if (!S.tls) {
			fprintf(stderr, "umemctl source: --tls-creds: %s\n", err);
			return 2;
		}
		for (int i = 0; i < nauthz; i++)
			tls_creds_allow(S.tls, authz[i]);
	} else if (nauthz) {
		return usage_error("source", "--tls-authz needs --tls-creds",
				   source_usage);
	}
	S.psz = psz;
	if (image_open(&S.img, image, S.psz, err, sizeof(err))) {
		fprintf(stderr, "umemctl source: %s\n", err);
		return 1;
	}
	S.pages = S.img.size / S.psz;
	S.sent = calloc((S.pages + 63) / 64, 8);
	if (!S.sent) {
		fprintf(stderr, "umemctl source: out of memory\n");
		return 1;
	}
	lfd = listen_on(listen_spec);
	if (lfd < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	S.start_ns = now_ns();
	if (insecure)
		fprintf(stderr, "source: WARNING: --insecure: no TLS; anyone who reaches %s can read the guest's memory or break the migration\n",
			listen_spec);
	fprintf(stderr, "source: %s %llu MiB (%llu pages) on %s\n",
		S.serving ? "serving" : "holding",
		(unsigned long long)(S.img.size >> 20),
		(unsigned long long)S.pages, listen_spec);
	if (S.control >= 0) {
		fcntl(S.control, F_SETFD, FD_CLOEXEC);
		if (pthread_create(&ct, NULL, control_thread, NULL)) {
			fprintf(stderr, "umemctl source: cannot start the control thread\n");
			return 1;
		}
		pthread_detach(ct);
		control_say("listening %s\n", listen_spec);
	}

	for (;;) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		struct conn *c;
		pthread_t t;
		int fd;

		if (S.once) {
			bool fin;

			pthread_mutex_lock(&S.lock);
			fin = S.finished && S.conn[1] < 0 && S.conn[2] < 0;
			pthread_mutex_unlock(&S.lock);
			if (fin)
				break;
		}
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		fd = accept4(lfd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		if (sa.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr,
				  c->peer, sizeof(c->peer));
		else
			snprintf(c->peer, sizeof(c->peer), "peer");
		if (pthread_create(&t, NULL, conn_thread, c)) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
	control_stats();
	summary();
	return 0;
}
