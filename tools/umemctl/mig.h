/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the two halves of the migration tool share: `umemctl migrate`
 * (migrate.c, the source host) and `umemctl incoming` (incoming.c, the
 * destination host).  Each drives its QEMU over QMP and runs the RAM
 * transport's server as a child of its own session, so that neither a
 * Ctrl-C nor the tool's exit can take the RAM away from a guest that
 * already runs on the destination.
 */
#ifndef UMEMCTL_MIG_H
#define UMEMCTL_MIG_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MIG_MAX_ARGS	64
/* How long a QEMU started a moment ago may take to open its monitor. */
#define QMP_WAIT_MS	10000

/* The wall clock in seconds: the clock of QMP's event timestamps. */
double mig_wall(void);

/* Set by SIGINT and SIGTERM. */
extern volatile sig_atomic_t mig_interrupted;

/* Catch SIGINT and SIGTERM into mig_interrupted; ignore SIGPIPE. */
void mig_signals(void);

/* An argument vector under construction, for a server child. */
struct mig_argv {
	char *v[MIG_MAX_ARGS + 1];
	int n;
};

/* Append an argument (copied); false if the vector is full. */
bool mig_arg(struct mig_argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The options both halves take; the server's arguments gather in @server. */
struct mig_opts {
	const char *cmd, *usage;	/* "migrate", its usage text */
	const char *qmp, *progress, *tls;
	bool insecure;
	int arm_timeout_s, nice;
	struct mig_argv server;
};

#define MIG_OPTIONS \
	{ "qmp", required_argument, NULL, 'q' }, \
	{ "arm-timeout", required_argument, NULL, 'a' }, \
	{ "nice", required_argument, NULL, 'n' }, \
	{ "server-arg", required_argument, NULL, 'S' }, \
	{ "progress", required_argument, NULL, 'p' }, \
	{ "tls-creds", required_argument, NULL, 'T' }, \
	{ "tls-authz", required_argument, NULL, 'A' }, \
	{ "insecure", no_argument, NULL, 'I' }, \
	{ "help", no_argument, NULL, 'h' }

/* Defaults, and the server program @prog with its first arguments. */
void mig_opts_init(struct mig_opts *o, const char *cmd, const char *usage,
		   const char *prog, const char *subcmd);
/*
 * Option @opt of MIG_OPTIONS with @arg: 1 taken, 0 not one of them, or
 * the exit status after --help (0) or a usage error (2, printed) + 10.
 */
int mig_opt(struct mig_opts *o, int opt, const char *arg);
/* After the options: the TLS choice, passed on; 0, or 2 (printed). */
int mig_opts_done(struct mig_opts *o);

/*
 * Start a->v[0] in a session of its own at nice @nice (unless 0), with
 * @keep_fd inherited (-1: none) and its stderr on @err_fd (-1: ours).
 * Returns its pid, or -1 with errno set.
 */
pid_t mig_spawn(struct mig_argv *a, int keep_fd, int err_fd, int nice);

/* @name beside this program's own binary, if it is there; else @name. */
void mig_sibling(const char *name, char *path, size_t len);

/*
 * Progress: on a terminal a bar redrawn in place, otherwise a line every
 * second.  @what names the phase, @extra follows the counts.
 */
struct mig_progress {
	bool tty, line;		/* a bar; lines (else nothing) */
	bool drawn;		/* a bar is on the screen */
	uint64_t last_ns;
};

void mig_progress_init(struct mig_progress *p, const char *mode);
void mig_progress(struct mig_progress *p, const char *what, uint64_t done,
		  uint64_t total, const char *extra);
/* End a bar before other output. */
void mig_progress_break(struct mig_progress *p);

/* Parse "auto", "line" or "none"; false if none of them. */
bool mig_progress_mode_ok(const char *mode);

#endif /* UMEMCTL_MIG_H */
