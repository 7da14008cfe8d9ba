// SPDX-License-Identifier: GPL-2.0
/*
 * umemd: the two TCP channels to the source, urgent and background:
 * connecting and reconnecting, sending requests, and parsing the records
 * received.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "umemd_core.h"

/*
 * A channel reads up to this much at once and parses the records in it:
 * one recv per record (a header, then a page) cost more than the bytes
 * did.  The rest of a page that straddles the end goes straight into the
 * mapping.
 */
#define RBUF_BYTES	(64 * 1024)

static void chan_fail(struct umemd *d, struct chan *ch, const char *why);

static void chan_queue(struct umemd *d, struct chan *ch, const void *buf,
		       size_t len)
{
	if (ch->out_len + len > ch->out_cap) {
		size_t cap = (ch->out_cap ? ch->out_cap * 2 : 4096);

		while (cap < ch->out_len + len)
			cap *= 2;
		ch->out = realloc(ch->out, cap);
		if (!ch->out)
			die(d, "out of memory");
		ch->out_cap = cap;
	}
	memcpy(ch->out + ch->out_len, buf, len);
	ch->out_len += len;
}

static void chan_submit_send(struct umemd *d, struct chan *ch)
{
	struct io_uring_sqe *sqe = get_sqe(d);

	io_uring_prep_send(sqe, ch->fd, ch->tx + ch->tx_off,
			   ch->tx_len - ch->tx_off, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, &ch->send_op);
	ch->sending = true;
	ch->inflight++;
}

void chan_flush(struct umemd *d, struct chan *ch)
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
	chan_submit_send(d, ch);
}

void send_req(struct umemd *d, uint64_t pgoff, uint64_t count,
	      uint32_t flags)
{
	struct wire_msg m = {
		.type = WIRE_REQ, .flags = flags, .pgoff = pgoff, .arg = count,
	};

	if (d->connected)
		chan_queue(d, d->urg, &m, sizeof(m));
}

void chan_submit_recv(struct umemd *d, struct chan *ch)
{
	struct io_uring_sqe *sqe = get_sqe(d);
	uint8_t *p;
	size_t len;

	/* Parsing left either part of a page or part of a header. */
	ch->direct = ch->in_payload;
	if (ch->direct) {
		p = ch->dst + ch->got;
		len = d->psz - ch->got;
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
static bool got_header(struct umemd *d, struct chan *ch)
{
	struct wire_msg *m = &ch->hdr;
	uint64_t p = m->pgoff;

	switch (m->type) {
	case WIRE_PING:
		return true;
	case WIRE_DONE:
		logv(d, "source: background stream done");
		return true;
	case WIRE_ZERO:
		if (p >= d->pages)
			return false;
		if (bit_test(d->have, p) || bit_test(d->busy, p)) {
			d->n_dup++;
			return true;
		}
		/* Non-present pages are holes (see punch()): nothing to write. */
		d->n_zero++;
		got_page(d, p, ch->type);
		return true;
	case WIRE_PAGE:
		if (p >= d->pages)
			return false;
		ch->in_payload = true;
		ch->got = 0;
		if (bit_test(d->have, p) || bit_test(d->busy, p)) {
			ch->dup = true;
			ch->dst = d->scratch;
		} else {
			ch->dup = false;
			ch->dst = d->map + p * d->psz;
			ch->page = p;
			bit_set(d->busy, p);
		}
		return true;
	default:
		return false;
	}
}

static void got_payload(struct umemd *d, struct chan *ch)
{
	uint64_t p = ch->hdr.pgoff;

	ch->in_payload = false;
	ch->got = 0;
	if (ch->dup) {
		d->n_dup++;
		return;
	}
	bit_clear(d->busy, p);
	ch->page = ~0ULL;
	if (wire_csum(ch->dst, d->psz, p) == ch->hdr.arg) {
		got_page(d, p, ch->type);
		return;
	}
	d->n_csum++;
	punch(d, p, 1);
	if (++d->retries[p] > MAX_RETRIES) {
		poison_page(d, p);
		return;
	}
	logv(d, "page %llu: bad checksum, asking again",
	     (unsigned long long)p);
	send_req(d, p, 1, 0);
}

/* An op of @ch completed with @res: false if the channel is done for. */
static bool chan_op_done(struct umemd *d, struct chan *ch, int res)
{
	ch->inflight--;
	if (ch->dead) {
		chan_free_if_drained(ch);
		return false;
	}
	if (res <= 0) {
		chan_fail(d, ch, res ? strerror(-res) : "connection closed");
		return false;
	}
	return true;
}

/* Take every whole record, and the start of a page, out of rbuf. */
static bool chan_parse(struct umemd *d, struct chan *ch)
{
	size_t off = 0, n;

	while (off < ch->rlen) {
		if (!ch->in_payload) {
			if (ch->rlen - off < sizeof(ch->hdr))
				break;
			memcpy(&ch->hdr, ch->rbuf + off, sizeof(ch->hdr));
			off += sizeof(ch->hdr);
			if (!got_header(d, ch))
				return false;
			continue;
		}
		n = d->psz - ch->got;
		if (n > ch->rlen - off)
			n = ch->rlen - off;
		memcpy(ch->dst + ch->got, ch->rbuf + off, n);
		ch->got += n;
		off += n;
		if (ch->got == d->psz)
			got_payload(d, ch);
	}
	ch->rlen -= off;
	memmove(ch->rbuf, ch->rbuf + off, ch->rlen);
	return true;
}

void recv_done(struct umemd *d, struct chan *ch, int res)
{
	if (!chan_op_done(d, ch, res))
		return;
	ch->last_rx_ns = now_ns();
	if (ch->direct) {
		ch->got += res;
		if (ch->got == d->psz)
			got_payload(d, ch);
	} else {
		ch->rlen += res;
		if (!chan_parse(d, ch)) {
			chan_fail(d, ch, "protocol error");
			return;
		}
	}
	chan_submit_recv(d, ch);
}

void send_done(struct umemd *d, struct chan *ch, int res)
{
	ch->sending = false;
	if (!chan_op_done(d, ch, res))
		return;
	ch->tx_off += res;
	if (ch->tx_off < ch->tx_len)
		chan_submit_send(d, ch);
	else
		chan_flush(d, ch);
}

static void chan_kill(struct umemd *d, struct chan *ch)
{
	if (!ch || ch->dead)
		return;
	ch->dead = true;
	shutdown(ch->fd, SHUT_RDWR);
	if (ch->page != ~0ULL) {
		/* Half a page arrived: forget it, it comes again. */
		bit_clear(d->busy, ch->page);
		punch(d, ch->page, 1);
		ch->page = ~0ULL;
	}
	chan_free_if_drained(ch);
}

/* End the session: both channels go (a page half-received is punched). */
void net_close(struct umemd *d)
{
	chan_kill(d, d->urg);
	chan_kill(d, d->bg);
	d->urg = d->bg = NULL;
	d->connected = false;
}

static void chan_fail(struct umemd *d, struct chan *ch, const char *why)
{
	if (d->tty)
		fputc('\n', stderr);
	fprintf(stderr, "umemd: %s channel: %s; reconnecting\n",
		ch->type == WIRE_URGENT ? "urgent" : "background", why);
	net_close(d);
	d->down_since_ns = now_ns();
	d->backoff_ns = 100000000ULL;
	d->next_try_ns = d->down_since_ns + d->backoff_ns;
}

/* Connect with a timeout; returns the fd or -errno. */
static int tcp_connect(const struct umemd *d, uint64_t timeout_ms)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM }, *ai;
	struct pollfd pfd;
	char port[16];
	int fd, r, err = 0, one = 1;
	socklen_t len = sizeof(err);

	snprintf(port, sizeof(port), "%d", d->port);
	/* Numeric first: a static binary may have no NSS to resolve names. */
	hints.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(d->host, port, &hints, &ai);
	if (r == EAI_NONAME) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		r = getaddrinfo(d->host, port, &hints, &ai);
	}
	if (r)
		die_code(d, EXIT_CONFIG, "source %s: %s", d->host,
			 gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die(d, "socket: %s", strerror(errno));
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
static struct chan *chan_open(const struct umemd *d, int type,
			      uint64_t timeout_ms)
{
	struct timeval tv = { .tv_sec = 2 };
	struct wire_hello h = {
		.magic = WIRE_MAGIC, .version = WIRE_VERSION, .channel = type,
		.session = d->session, .image_bytes = d->reg.size,
		.page_size = d->psz,
	};
	struct wire_welcome w;
	size_t words = (d->pages + 63) / 64;
	struct chan *ch;
	int fd;

	fd = tcp_connect(d, timeout_ms);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	if (d->tls) {
		char who[768], err[384];

		fd = tls_start(d->tls, fd, d->host, 5000, who, sizeof(who), err,
			       sizeof(err));
		if (fd < 0) {
			/* Before the first session a refusal is final. */
			if (!d->was_connected)
				die_code(d, EXIT_CONFIG, "TLS with %s:%d refused: %s",
					 d->host, d->port, err);
			if (d->tty)
				fputc('\n', stderr);
			fprintf(stderr, "umemd: TLS with %s:%d refused: %s\n",
				d->host, d->port, err);
			errno = ECONNREFUSED;
			return NULL;
		}
		logv(d, "TLS: %s", who);
	}
	if (type == WIRE_BACKGROUND)
		h.bitmap_words = words;
	/* Once ours, the session is never taken back from a successor. */
	if (d->takeover && !d->was_connected)
		h.channel |= WIRE_HELLO_TAKEOVER;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!send_all(fd, &h, sizeof(h)) ||
	    (type == WIRE_BACKGROUND && !send_all(fd, d->have, words * 8)) ||
	    !recv_all(fd, &w, sizeof(w))) {
		if (!errno || errno == EAGAIN)
			errno = ECONNRESET;
		if (!d->tls && !d->was_connected)
			die_code(d, EXIT_CONFIG,
				 "%s:%d closed the connection at the hello: does the source want TLS (--tls-creds)?",
				 d->host, d->port);
		close(fd);
		return NULL;
	}
	if (w.magic != WIRE_MAGIC)
		die_code(d, EXIT_CONFIG, "%s:%d is not a umem source", d->host, d->port);
	if (w.status == WIRE_ESIZE)
		die_code(d, EXIT_CONFIG,
			 "the source's image is %llu bytes but the region is %llu bytes",
			 (unsigned long long)w.image_bytes,
			 (unsigned long long)d->reg.size);
	if (w.status == WIRE_EPAGE)
		die_code(d, EXIT_CONFIG,
			 "the source's page size is %u but the region's is %u",
			 w.page_size, d->psz);
	if (w.status == WIRE_EBUSY && !d->was_connected)
		die_code(d, EXIT_CONFIG,
			 "the source %s:%d serves another destination's migration: refused (--takeover replaces it)",
			 d->host, d->port);
	if (w.status == WIRE_EBUSY)
		die_code(d, EXIT_CONFIG,
			 "another destination took the migration over from %s:%d: this one stops",
			 d->host, d->port);
	if (w.status != WIRE_OK)
		die_code(d, EXIT_CONFIG, "the source refused the connection (status %u)",
			 w.status);
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ch = calloc(1, sizeof(*ch));
	if (ch)
		ch->rbuf = malloc(RBUF_BYTES);
	if (!ch || !ch->rbuf)
		die(d, "out of memory");
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
bool net_connect(struct umemd *d, uint64_t timeout_ms)
{
	struct chan *u, *b;
	uint64_t p;
	int err;

	u = chan_open(d, WIRE_URGENT, timeout_ms);
	if (!u)
		return false;
	b = chan_open(d, WIRE_BACKGROUND, timeout_ms);
	if (!b) {
		err = errno;
		u->dead = true;
		chan_free_if_drained(u);
		errno = err;
		return false;
	}
	d->urg = u;
	d->bg = b;
	d->connected = true;
	d->was_connected = true;
	chan_submit_recv(d, u);
	if (!d->hold_stream)
		chan_submit_recv(d, b);
	/* Ask again for every page a fault still waits for. */
	for (p = 0; p < d->pages; p++)
		if (bit_test(d->wanted, p) && !bit_test(d->have, p))
			send_req(d, p, 1, 0);
	chan_flush(d, d->urg);
	return true;
}

void net_tick(struct umemd *d, uint64_t now)
{
	if (d->connected) {
		uint64_t last = d->urg->last_rx_ns < d->bg->last_rx_ns ||
				d->hold_stream ? d->urg->last_rx_ns : d->bg->last_rx_ns;

		if (now - last > d->net_timeout_ns)
			chan_fail(d,
				  d->urg->last_rx_ns == last ? d->urg : d->bg,
				  "silent for too long");
		return;
	}
	if (now < d->next_try_ns)
		return;
	if (net_connect(d, 500)) {
		d->n_reconnect++;
		if (d->tty)
			fputc('\n', stderr);
		fprintf(stderr, "umemd: reconnected to %s:%d after %.1f s\n",
			d->host, d->port, (now_ns() - d->down_since_ns) / 1e9);
		return;
	}
	if (now_ns() - d->down_since_ns > d->give_up_ns)
		die_code(d, EXIT_SOURCE, "source %s:%d unreachable for %.0f s (%s): giving up",
			 d->host, d->port, d->give_up_ns / 1e9,
			 strerror(errno));
	d->backoff_ns = d->backoff_ns * 2 > 2000000000ULL ? 2000000000ULL :
		       d->backoff_ns * 2;
	d->next_try_ns = now_ns() + d->backoff_ns;
}
