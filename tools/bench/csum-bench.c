// SPDX-License-Identifier: GPL-2.0
/*
 * csum-bench: throughput of the wire protocol's page checksum on the
 * host, the one in use (wire_csum: XXH3-64, wire version 2) against the
 * one version 1 used, kept here only to compare.  Prints a line of text
 * and a "# json" fragment for make bench's results.json.
 *
 *   csum-bench [MIB]   (default 256: a buffer of that size, hashed page
 *                       by page for 0.7 s of this thread's CPU time, best
 *                       of 3: a busy host slows it less than wall time)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire.h"

#define PAGE	4096
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

/* Wire version 1's checksum: four multiply-xor lanes. */
static uint64_t csum_v1(const void *page, size_t len, uint64_t pgoff)
{
	const uint64_t *w = page;
	uint64_t a = pgoff ^ GOLDEN, b = ~pgoff, c = len, d = GOLDEN * 3;
	size_t i, n = len / 8;

	for (i = 0; i + 4 <= n; i += 4) {
		a = (a ^ w[i]) * GOLDEN;
		b = (b ^ w[i + 1]) * GOLDEN;
		c = (c ^ w[i + 2]) * GOLDEN;
		d = (d ^ w[i + 3]) * GOLDEN;
		a ^= a >> 31;
		b ^= b >> 29;
		c ^= c >> 27;
		d ^= d >> 25;
	}
	for (; i < n; i++)
		a = mix64(a ^ w[i]);
	return mix64(a ^ mix64(b ^ mix64(c ^ mix64(d))));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile uint64_t sink;

/* GB/s (10^9 bytes) of @fn over @buf, best of 3 runs of >= 0.7 CPU s each. */
static double rate(uint64_t (*fn)(const void *, size_t, uint64_t),
		   const unsigned char *buf, size_t pages)
{
	double best = 0, t0, t;
	uint64_t x = 0, bytes;
	size_t p;
	int run;

	for (run = 0; run < 3; run++) {
		bytes = 0;
		t0 = now();
		do {
			for (p = 0; p < pages; p++)
				x ^= fn(buf + p * PAGE, PAGE, p);
			bytes += pages * PAGE;
			t = now() - t0;
		} while (t < 0.7);
		if (bytes / t / 1e9 > best)
			best = bytes / t / 1e9;
	}
	sink = x;
	return best;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256, pages, i;
	unsigned char *buf;
	double v1, v2;

	if (!mib || mib > 4096) {
		fprintf(stderr, "usage: csum-bench [MIB (1..4096)]\n");
		return 2;
	}
	pages = mib * 1048576 / PAGE;
	buf = malloc(pages * PAGE);
	if (!buf) {
		perror("csum-bench");
		return 1;
	}
	for (i = 0; i < pages * PAGE / 8; i++)
		((uint64_t *)buf)[i] = image_pattern_word(1, i / (PAGE / 8), i % (PAGE / 8));
	v1 = rate(csum_v1, buf, pages);
	v2 = rate(wire_csum, buf, pages);
	printf("page checksum over %zu MiB, 4 KiB pages, one host CPU:\n"
	       "  wire v1 multiply-xor  %6.2f GB/s\n"
	       "  wire v2 XXH3-64       %6.2f GB/s  (%.2fx)\n", mib, v1, v2, v2 / v1);
	printf("# json \"checksum\": {\"mib\": %zu, \"v1_multiply_xor_gbps\": %.2f, "
	       "\"v2_xxh3_gbps\": %.2f}\n", mib, v1, v2);
	free(buf);
	return 0;
}
