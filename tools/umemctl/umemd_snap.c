// SPDX-License-Identifier: GPL-2.0
/*
 * umemd --snapshot: pages are read from a local image file, each faulted
 * page and its window first, the rest in the background.
 */
#include <errno.h>
#include <string.h>

#include "umemd_core.h"

#define FREAD_PAGES	64	/* pages per background snapshot read */

void fread_submit(struct umemd *d, uint64_t pgoff, uint64_t count)
{
	struct io_uring_sqe *sqe;
	struct op *op = NULL;
	uint64_t i;
	int k;

	for (k = 0; k < NR_FREAD; k++)
		if (!d->fread_ops[k].busy) {
			op = &d->fread_ops[k];
			break;
		}
	if (!op)
		return;
	op->busy = true;
	op->pgoff = pgoff;
	op->count = count;
	for (i = 0; i < count; i++)
		bit_set(d->busy, pgoff + i);
	sqe = get_sqe(d);
	io_uring_prep_read(sqe, d->snap_fd, d->map + pgoff * d->psz,
			   count * d->psz, pgoff * d->psz);
	io_uring_sqe_set_data(sqe, op);
	d->freads++;
}

bool page_free(const struct umemd *d, uint64_t p)
{
	return !bit_test(d->have, p) && !bit_test(d->busy, p);
}

/* Keep the background reads going, from the cursor on. */
void snap_background(struct umemd *d)
{
	uint64_t p, n;

	while (d->freads < NR_FREAD / 2) {
		p = d->bg_cursor;
		while (p < d->pages && !page_free(d, p))
			p++;
		if (p >= d->pages) {
			if (d->bg_cursor == 0)
				return;
			d->bg_cursor = 0;
			continue;
		}
		for (n = 1; n < FREAD_PAGES && p + n < d->pages &&
			    page_free(d, p + n); n++)
			;
		fread_submit(d, p, n);
		d->bg_cursor = p + n;
	}
}

void fread_done(struct umemd *d, struct op *op, int res)
{
	uint64_t i;

	op->busy = false;
	d->freads--;
	for (i = 0; i < op->count; i++)
		bit_clear(d->busy, op->pgoff + i);
	if (res != (int)(op->count * d->psz)) {
		/* Retry a short or failed read from scratch. */
		if (res < 0 && res != -EINTR && res != -EAGAIN)
			die(d, "snapshot read of pages %llu+%llu: %s",
			    (unsigned long long)op->pgoff,
			    (unsigned long long)op->count, strerror(-res));
		punch(d, op->pgoff, op->count);
		fread_submit(d, op->pgoff, op->count);
		return;
	}
	for (i = 0; i < op->count; i++)
		got_page(d, op->pgoff + i, op->count == 1 ? WIRE_URGENT :
						       WIRE_BACKGROUND);
}
