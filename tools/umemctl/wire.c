// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by umemctl and umemd: checksum, images, parsing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "wire.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define GOLDEN	0x9e3779b97f4a7c15ULL

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 32;
	return x;
}

/*
 * XXH3-64 (Debian's libxxhash-dev, inlined: the programs stay static and
 * need no libxxhash at run time), seeded with the page offset, so that a
 * page delivered at the wrong offset fails too.
 */
uint64_t wire_csum(const void *page, size_t len, uint64_t pgoff)
{
	return XXH3_64bits_withSeed(page, len, pgoff);
}

uint64_t image_pattern_word(uint64_t seed, uint64_t pgoff, uint64_t i)
{
	/* One page in eight is a zero page: they travel without bytes. */
	if (mix64(seed ^ (pgoff * GOLDEN)) % 8 == 0)
		return 0;
	return (pgoff << 24 | i) ^ mix64(seed + pgoff) ^ (i * GOLDEN);
}

bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || (shift && v > (~0ULL >> shift)))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

int image_open(struct image *img, const char *spec, uint32_t page_size,
	       char *err, size_t errlen)
{
	struct stat st;
	char buf[64];
	const char *p;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	img->page_size = page_size;
	if (!strncmp(spec, "pattern:", 8)) {
		p = strchr(spec + 8, ':');
		if (p && (size_t)(p - spec - 8) < sizeof(buf)) {
			memcpy(buf, spec + 8, p - spec - 8);
			buf[p - spec - 8] = 0;
			img->seed = strtoull(p + 1, NULL, 0);
		} else {
			snprintf(buf, sizeof(buf), "%s", spec + 8);
			img->seed = 1;
		}
		if (!parse_size(buf, &img->size) || !img->size ||
		    img->size % page_size) {
			snprintf(err, errlen,
				 "bad image size in '%s': want a non-zero multiple of %u bytes",
				 spec, page_size);
			return -EINVAL;
		}
		return 0;
	}
	if (!strncmp(spec, "file:", 5))
		spec += 5;
	img->fd = open(spec, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0 || fstat(img->fd, &st) < 0) {
		snprintf(err, errlen, "image %s: %s", spec, strerror(errno));
		return -errno;
	}
	img->size = st.st_size;
	if (!img->size || img->size % page_size) {
		snprintf(err, errlen,
			 "image %s: size %llu is not a non-zero multiple of %u bytes",
			 spec, (unsigned long long)img->size, page_size);
		close(img->fd);
		return -EINVAL;
	}
	img->map = mmap(NULL, img->size, PROT_READ, MAP_SHARED, img->fd, 0);
	if (img->map == MAP_FAILED) {
		snprintf(err, errlen, "image %s: mmap: %s", spec, strerror(errno));
		close(img->fd);
		return -errno;
	}
	return 0;
}

void image_close(struct image *img)
{
	if (img->map)
		munmap((void *)img->map, img->size);
	if (img->fd >= 0)
		close(img->fd);
	img->map = NULL;
	img->fd = -1;
}

void image_page(const struct image *img, uint64_t pgoff, void *buf)
{
	uint64_t *w = buf;
	uint64_t i;

	if (img->map) {
		memcpy(buf, img->map + pgoff * img->page_size, img->page_size);
		return;
	}
	for (i = 0; i < img->page_size / 8; i++)
		w[i] = image_pattern_word(img->seed, pgoff, i);
}

bool parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long v;

	if (!colon || colon == s || (size_t)(colon - s) >= hostlen)
		return false;
	v = strtol(colon + 1, &end, 10);
	if (*end || v <= 0 || v > 65535)
		return false;
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	*port = (int)v;
	return true;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

bool send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

bool recv_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

uint64_t bit_next_clear(const uint64_t *w, uint64_t n, uint64_t from)
{
	uint64_t i = from, word;

	while (i < n) {
		word = ~w[i / 64] >> (i % 64);
		if (word) {
			i += __builtin_ctzll(word);
			return i < n ? i : n;
		}
		i = (i / 64 + 1) * 64;
	}
	return n;
}
