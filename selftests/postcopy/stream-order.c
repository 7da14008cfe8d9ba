// SPDX-License-Identifier: GPL-2.0
/*
 * stream-order HOST:PORT IMAGE_BYTES AFTER PAGE...
 *
 * A destination that speaks the wire protocol by hand (no TLS: the
 * source runs --insecure), to see the order of the background stream.
 * It opens both channels, lets AFTER background pages arrive, requests
 * every PAGE at once on the urgent channel, and counts the background
 * pages that follow until every page of the PAGEs' 2 MiB extents has
 * arrived.  Prints
 *   N extents whole N background pages after the requests
 * and exits 0, or says what went wrong and exits 1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

#define PSZ	4096U

static int dial(const char *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *colon = strrchr(s, ':');
	char host[64];
	int fd;

	if (!colon || colon - s >= (int)sizeof(host))
		return -1;
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	sa.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("stream-order: connect");
		return -1;
	}
	return fd;
}

static bool io(int fd, void *buf, size_t len, bool out)
{
	ssize_t n;

	for (char *p = buf; len; p += n, len -= n) {
		n = out ? write(fd, p, len) : read(fd, p, len);
		if (n <= 0)
			return false;
	}
	return true;
}

/* Open channel @ch of session @session; the background one says it has no page. */
static int channel(const char *addr, uint16_t ch, uint64_t bytes)
{
	struct wire_hello h = {
		.magic = WIRE_MAGIC, .version = WIRE_VERSION, .channel = ch,
		.session = 0x5eed0f0e5eed0f0eULL, .image_bytes = bytes,
		.page_size = PSZ,
	};
	uint32_t words = (bytes / PSZ + 63) / 64;
	struct wire_welcome w;
	uint64_t *bm = calloc(words, 8);
	int fd = dial(addr);

	if (ch == WIRE_BACKGROUND)
		h.bitmap_words = words;
	if (fd < 0 || !bm || !io(fd, &h, sizeof(h), true) ||
	    (ch == WIRE_BACKGROUND && !io(fd, bm, words * 8ULL, true)) ||
	    !io(fd, &w, sizeof(w), false) || w.status != WIRE_OK) {
		fprintf(stderr, "stream-order: channel %u refused\n", ch);
		exit(1);
	}
	free(bm);
	return fd;
}

/* The next page record on @fd: its page offset, or -1 at DONE. */
static long long next_page(int fd)
{
	static char page[PSZ];
	struct wire_msg m;

	for (;;) {
		if (!io(fd, &m, sizeof(m), false)) {
			fprintf(stderr, "stream-order: the source hung up\n");
			exit(1);
		}
		if (m.type == WIRE_DONE)
			return -1;
		if (m.type == WIRE_PAGE && !io(fd, page, PSZ, false))
			exit(1);
		if (m.type == WIRE_PAGE || m.type == WIRE_ZERO)
			return m.pgoff;
	}
}

int main(int argc, char **argv)
{
	uint64_t bytes, after, pages, req, ext = (2U << 20) / PSZ, missing = 0;
	struct wire_msg m = { .type = WIRE_REQ, .arg = 1 };
	uint8_t *have, *want;
	long long p, n = 0;
	int bg, urg, i;

	if (argc < 5) {
		fprintf(stderr, "usage: stream-order HOST:PORT IMAGE_BYTES AFTER PAGE...\n");
		return 1;
	}
	bytes = strtoull(argv[2], NULL, 0);
	after = strtoull(argv[3], NULL, 0);
	pages = bytes / PSZ;
	have = calloc(pages, 1);
	want = calloc(pages, 1);
	if (!have || !want)
		return 1;
	urg = channel(argv[1], WIRE_URGENT, bytes);
	bg = channel(argv[1], WIRE_BACKGROUND, bytes);

	while (after--) {
		p = next_page(bg);
		if (p < 0)
			break;
		have[p] = 1;
	}
	/* Every request at once, as vCPUs faulting together make them. */
	for (i = 4; i < argc; i++) {
		req = strtoull(argv[i], NULL, 0);
		if (req / ext * ext + ext > pages) {
			fprintf(stderr, "stream-order: page %llu has no whole extent\n",
				(unsigned long long)req);
			return 1;
		}
		m.pgoff = req;
		if (!io(urg, &m, sizeof(m), true))
			return 1;
		memset(want + req / ext * ext, 1, ext);
	}
	for (i = 4; i < argc; i++) {
		req = strtoull(argv[i], NULL, 0);
		if (next_page(urg) != (long long)req) {
			fprintf(stderr, "stream-order: no answer to the request\n");
			return 1;
		}
		have[req] = 1;
	}
	for (p = 0; p < (long long)pages; p++)
		missing += want[p] && !have[p];
	while (missing) {
		p = next_page(bg);
		if (p < 0) {
			fprintf(stderr, "stream-order: DONE with %llu pages of the extents missing\n",
				(unsigned long long)missing);
			return 1;
		}
		n++;
		missing -= want[p] && !have[p];
		have[p] = 1;
	}
	printf("%d extents whole %lld background pages after the requests\n",
	       argc - 4, n);
	return 0;
}
