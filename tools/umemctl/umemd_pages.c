// SPDX-License-Identifier: GPL-2.0
/*
 * umemd: pages that arrived are marked present, in batches of ranges;
 * each 2 MiB extent made whole goes to the collapse (umemd_huge.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "umemd_core.h"

/* ---- pages ------------------------------------------------------------ */

/* Give the shmem page back: it holds bytes that must never be seen. */
void punch(const struct umemd *d, uint64_t pgoff, uint64_t count)
{
	if (fallocate(d->srv.shmem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      pgoff * d->psz, count * d->psz))
		die(d, "punching a hole at page %llu: %s",
		    (unsigned long long)pgoff, strerror(errno));
}


static void add_present(struct umemd *d, uint64_t pgoff)
{
	struct umem_range *last = d->npend ? &d->pend[d->npend - 1] : NULL;

	if (last && last->pgoff + last->count == pgoff) {
		last->count++;
		return;
	}
	if (d->npend == UMEM_WRITE_MAX / sizeof(struct umem_range))
		flush_present(d, true);
	d->pend[d->npend].pgoff = pgoff;
	d->pend[d->npend].count = 1;
	d->npend++;
}

/* --trace: "umemd WHAT PGOFF" in the kernel's trace, on its clock. */
void trace_mark(const struct umemd *d, const char *what, uint64_t pgoff)
{
	char b[64];
	int n;

	if (d->trace_fd < 0)
		return;
	n = snprintf(b, sizeof(b), "umemd %s %llu\n", what,
		     (unsigned long long)pgoff);
	if (write(d->trace_fd, b, n) != n)
		logv(d, "trace_marker: %s", strerror(errno));
}

/* Page @pgoff holds its right contents: mark it, in the next batch. */
void got_page(struct umemd *d, uint64_t pgoff, int type)
{
	if (bit_test(d->wanted, pgoff)) {
		trace_mark(d, "got", pgoff);
		d->waited = true;
	}
	bit_set(d->have, pgoff);
	bit_clear(d->wanted, pgoff);
	d->n_have++;
	if (type == WIRE_URGENT)
		d->n_urgent++;
	else
		d->n_bg++;
	add_present(d, pgoff);
}

void flush_present(struct umemd *d, bool sync)
{
	struct io_uring_sqe *sqe;

	if (!d->npend)
		return;
	if (sync) {
		size_t n = d->npend;

		if (umemlib_mark_present(&d->srv, d->pend, n))
			die(d, "%s", umemlib_strerror());
		d->npend = 0;
		collapse_ranges(d, d->pend, n);
		return;
	}
	if (d->write_op.busy)
		return;
	memcpy(d->wbuf, d->pend, d->npend * sizeof(*d->pend));
	d->nwbuf = d->npend;
	d->npend = 0;
	sqe = get_sqe(d);
	io_uring_prep_write(sqe, d->srv.fd, d->wbuf, d->nwbuf * sizeof(*d->wbuf), 0);
	io_uring_sqe_set_data(sqe, &d->write_op);
	d->write_op.busy = true;
}

void write_done(struct umemd *d, int res)
{
	d->write_op.busy = false;
	if (res < 0) {
		errno = -res;
		die(d, "marking %zu ranges present: %s", d->nwbuf,
		    strerror(-res));
	}
	collapse_ranges(d, d->wbuf, d->nwbuf);
}

void poison_page(struct umemd *d, uint64_t pgoff)
{
	fprintf(stderr, "%sumemd: page %llu failed its checksum %d times: poisoned\n",
		d->tty ? "\n" : "", (unsigned long long)pgoff, MAX_RETRIES + 1);
	if (umemlib_poison(&d->srv, pgoff, 1))
		die(d, "%s", umemlib_strerror());
	bit_set(d->have, pgoff);
	bit_set(d->poisoned, pgoff);
	bit_clear(d->wanted, pgoff);
	d->n_have++;
	d->n_poison++;
}
