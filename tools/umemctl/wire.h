/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The migration wire protocol between `umemctl source` and umemd, the
 * page checksum, memory images, and small helpers the tools share.
 * Documentation/umemctl.rst describes the protocol.
 *
 * Every integer on the wire is little-endian (the tools refuse to build
 * elsewhere).  A connection starts with struct wire_hello from umemd and
 * struct wire_welcome from the source; then both sides exchange
 * struct wire_msg records, a PAGE record followed by page_size bytes.
 */
#ifndef UMEMCTL_WIRE_H
#define UMEMCTL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the umem wire protocol is little-endian only"
#endif

#define WIRE_MAGIC	0x554d454dU	/* "UMEM" */
/* 2: the page checksum is XXH3-64 seeded with pgoff (1: a home-made hash) */
#define WIRE_VERSION	2

/* Channels, as in QEMU's postcopy preempt. */
#define WIRE_URGENT	1	/* requests in, those pages out at once */
#define WIRE_BACKGROUND	2	/* every page not yet sent, streamed */

/* struct wire_welcome.status */
#define WIRE_OK		0
#define WIRE_ESIZE	1	/* image size differs from the region */
#define WIRE_EPAGE	2	/* page size differs */
#define WIRE_EPROTO	3	/* bad hello */
#define WIRE_EBUSY	4	/* another destination's session holds the source */

/* struct wire_hello.channel: the channel in the low byte, flags above. */
#define WIRE_CHANNEL_MASK	0xff
#define WIRE_HELLO_TAKEOVER	0x100	/* replace the session the source holds */

struct wire_hello {
	uint32_t magic;
	uint16_t version;
	uint16_t channel;	/* WIRE_URGENT or WIRE_BACKGROUND, | flags */
	uint64_t session;	/* the same for both channels of one umemd */
	uint64_t image_bytes;	/* the region size */
	uint32_t page_size;
	uint32_t bitmap_words;	/* BACKGROUND: words of "have" bitmap follow */
};

struct wire_welcome {
	uint32_t magic;
	uint32_t status;	/* WIRE_OK or WIRE_E* */
	uint64_t image_bytes;	/* the source's image size */
	uint32_t page_size;
	uint32_t reserved;
};

/* Record types. */
#define WIRE_PAGE	1	/* source: page bytes follow */
#define WIRE_ZERO	2	/* source: the page is all zeros, no bytes */
#define WIRE_PING	3	/* source: keep-alive, nothing else to say */
#define WIRE_DONE	4	/* source: background stream has sent all */
#define WIRE_REQ	5	/* umemd: send pages [pgoff, pgoff + arg) */

/* WIRE_REQ flags. */
#define WIRE_REQ_PREFETCH 1	/* background, next; skip pages sent */

struct wire_msg {
	uint32_t type;
	uint32_t flags;
	uint64_t pgoff;
	uint64_t arg;		/* PAGE: checksum; REQ: page count */
};

/* How often the source speaks on an idle channel, in ms. */
#define WIRE_PING_MS	250

/* The checksum of one page: XXH3-64 seeded with @pgoff (not cryptographic). */
uint64_t wire_csum(const void *page, size_t len, uint64_t pgoff);

/*
 * A memory image: a file, or a synthetic pattern.  Specs:
 *   file:PATH  or a plain PATH      the file's bytes
 *   pattern:SIZE[:SEED]            synthetic, SIZE with K/M/G suffix;
 *                                  one page in eight is all zeros
 */
struct image {
	uint64_t size;
	uint32_t page_size;
	int fd;			/* file images, or -1 */
	const uint8_t *map;	/* file images, mapped read-only */
	uint64_t seed;		/* pattern images */
};

int image_open(struct image *img, const char *spec, uint32_t page_size,
	       char *err, size_t errlen);
void image_close(struct image *img);
/* Copy page @pgoff of the image into @buf. */
void image_page(const struct image *img, uint64_t pgoff, void *buf);
/* Word @i of page @pgoff of a pattern image. */
uint64_t image_pattern_word(uint64_t seed, uint64_t pgoff, uint64_t i);

/* Parse "256M", "4k", "1G", "4096"; false on a bad number. */
bool parse_size(const char *s, uint64_t *out);
/* Parse "HOST:PORT"; false on a bad address (message in err). */
bool parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* Monotonic time in ns. */
uint64_t now_ns(void);

/* Whole-buffer send/recv on a blocking socket; false on error or EOF. */
bool send_all(int fd, const void *buf, size_t len);
bool recv_all(int fd, void *buf, size_t len);

/* Bitmap helpers over uint64_t words. */
static inline bool bit_test(const uint64_t *w, uint64_t i)
{
	return (w[i / 64] >> (i % 64)) & 1;
}

static inline void bit_set(uint64_t *w, uint64_t i)
{
	w[i / 64] |= 1ULL << (i % 64);
}

static inline void bit_clear(uint64_t *w, uint64_t i)
{
	w[i / 64] &= ~(1ULL << (i % 64));
}

/* First clear bit at or after @from, or @n. */
uint64_t bit_next_clear(const uint64_t *w, uint64_t n, uint64_t from);

#endif /* UMEMCTL_WIRE_H */
