// SPDX-License-Identifier: GPL-2.0
/*
 * The migration tool's shared parts: signals, server children, progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "mig.h"
#include "wire.h"

volatile sig_atomic_t mig_interrupted;

double mig_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	mig_interrupted = sig;
}

void mig_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: a wait in poll() returns to look at the flag. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool mig_arg(struct mig_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	if (a->n == MIG_MAX_ARGS)
		return false;
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return false;
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return true;
}

void mig_opts_init(struct mig_opts *o, const char *cmd, const char *usage,
		   const char *prog, const char *subcmd)
{
	char path[4096];

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->usage = usage;
	o->progress = "auto";
	o->arm_timeout_s = 120;
	mig_sibling(prog, path, sizeof(path));
	mig_arg(&o->server, "%s", path);
	if (subcmd)
		mig_arg(&o->server, "%s", subcmd);
}

static int int_arg(const char *arg, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int mig_opt(struct mig_opts *o, int opt, const char *arg)
{
	const char *bad = NULL;

	switch (opt) {
	case 'q': o->qmp = arg; break;
	case 'a':
		if (int_arg(arg, 1, 86400, &o->arm_timeout_s))
			bad = "bad --arm-timeout";
		break;
	case 'n':
		if (int_arg(arg, -20, 19, &o->nice))
			bad = "bad --nice (-20..19)";
		break;
	case 'S':
		if (!mig_arg(&o->server, "%s", arg))
			bad = "too many --server-arg";
		break;
	case 'p':
		if (!mig_progress_mode_ok(arg))
			bad = "bad --progress";
		o->progress = arg;
		break;
	case 'T': o->tls = arg; break;
	case 'A':
		if (!mig_arg(&o->server, "--tls-authz=%s", arg))
			bad = "too many --tls-authz";
		break;
	case 'I': o->insecure = true; break;
	case 'h':
		fputs(o->usage, stdout);
		return 10;
	default:
		return 0;
	}
	if (bad) {
		fprintf(stderr, "umemctl %s: %s\n", o->cmd, bad);
		fputs(o->usage, stderr);
		return 12;
	}
	return 1;
}

int mig_opts_done(struct mig_opts *o)
{
	const char *bad = NULL;

	if (!o->qmp)
		bad = "--qmp is required";
	else if (o->tls && o->insecure)
		bad = "--tls-creds and --insecure exclude each other";
	else if (!o->tls && !o->insecure)
		bad = "the RAM transport carries the guest's memory: give --tls-creds DIR (QEMU's layout), or --insecure";
	else if (!(o->tls ? mig_arg(&o->server, "--tls-creds=%s", o->tls) :
			    mig_arg(&o->server, "--insecure")))
		bad = "too many --server-arg";
	if (!bad)
		return 0;
	fprintf(stderr, "umemctl %s: %s\n", o->cmd, bad);
	fputs(o->usage, stderr);
	return 2;
}

pid_t mig_spawn(struct mig_argv *a, int keep_fd, int err_fd, int nice)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	/* Its own session: the terminal's Ctrl-C is the tool's alone. */
	setsid();
	signal(SIGPIPE, SIG_DFL);
	if (nice && setpriority(PRIO_PROCESS, 0, nice))
		fprintf(stderr, "umemctl: nice %d for %s: %s\n", nice, a->v[0],
			strerror(errno));
	if (keep_fd >= 0)
		fcntl(keep_fd, F_SETFD, 0);
	if (err_fd >= 0 && err_fd != 2)
		dup2(err_fd, 2);
	execv(a->v[0], a->v);
	fprintf(stderr, "umemctl: cannot run %s: %s\n", a->v[0], strerror(errno));
	_exit(127);
}

void mig_sibling(const char *name, char *path, size_t len)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = 0;
		snprintf(path, len, "%s/%s", dirname(self), name);
		if (!access(path, X_OK))
			return;
	}
	snprintf(path, len, "%s", name);
}

bool mig_progress_mode_ok(const char *mode)
{
	return !strcmp(mode, "auto") || !strcmp(mode, "line") ||
	       !strcmp(mode, "none");
}

void mig_progress_init(struct mig_progress *p, const char *mode)
{
	memset(p, 0, sizeof(*p));
	p->tty = !strcmp(mode, "auto") && isatty(2);
	p->line = !p->tty && strcmp(mode, "none");
}

void mig_progress(struct mig_progress *p, const char *what, uint64_t done,
		  uint64_t total, const char *extra)
{
	double pct = total ? 100.0 * done / total : 0;
	uint64_t now = now_ns();
	char bar[31];
	int i;

	if (p->tty) {
		if (now - p->last_ns < 200000000ULL)
			return;
		for (i = 0; i < 30; i++)
			bar[i] = i < (int)(pct * 30 / 100) ? '#' : '.';
		bar[30] = 0;
		fprintf(stderr, "\r%s [%s] %5.1f%% %s\033[K", what, bar, pct, extra);
		p->drawn = true;
	} else if (p->line) {
		if (now - p->last_ns < 1000000000ULL)
			return;
		fprintf(stderr, "umemctl: %s %5.1f%% %llu/%llu pages, %s\n", what,
			pct, (unsigned long long)done,
			(unsigned long long)total, extra);
	}
	p->last_ns = now;
}

void mig_progress_break(struct mig_progress *p)
{
	if (p->drawn)
		fputc('\n', stderr);
	p->drawn = false;
}
