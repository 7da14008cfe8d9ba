// SPDX-License-Identifier: GPL-2.0
/*
 * umemd: what every part of the daemon uses: its messages and exits, and
 * the io_uring's submission entries.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "umemd_core.h"

__attribute__((format(printf, 3, 0), noreturn))
static void vdie(const struct umemd *d, int code, const char *fmt, va_list ap)
{
	if (d->tty)
		fputc('\n', stderr);
	fprintf(stderr, "umemd: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	exit(code);
}

/* Exit with @code and a one-line message. */
void die_code(const struct umemd *d, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(d, code, fmt, ap);
}

void die(const struct umemd *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdie(d, 1, fmt, ap);
}

void logv(const struct umemd *d, const char *fmt, ...)
{
	va_list ap;

	if (!d->verbose)
		return;
	if (d->tty)
		fputc('\n', stderr);
	fprintf(stderr, "umemd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct io_uring_sqe *get_sqe(struct umemd *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe) {
		io_uring_submit(&d->ring);
		sqe = io_uring_get_sqe(&d->ring);
		if (!sqe)
			die(d, "io_uring submission queue full");
	}
	return sqe;
}
