// SPDX-License-Identifier: GPL-2.0
/*
 * umemctl incoming: the destination host's half of a migration onto umem.
 *
 * The destination QEMU was started with its RAM on a umemfs file and
 * -incoming defer.  The tool finds that file through QEMU's own fds (the
 * QMP socket's peer is QEMU), sets x-ignore-shared, starts the incoming
 * side and starts umemd on the region, which connects to the source's
 * RAM server at once: all before the source switches over.  After the
 * switchover it shows the region filling, restarts a umemd that dies
 * (the new one re-adopts the region, no request lost), and reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "libumem.h"
#include "mig.h"
#include "qmp.h"
#include "commands.h"
#include "wire.h"

/* umemd's exit statuses (umemd_core.h) */
#define UMEMD_CONFIG	2
#define UMEMD_SOURCE	3
#define UMEMD_HUP	4

static const char incoming_usage[] =
"usage: umemctl incoming --qmp SOCKET --listen URI --source HOST:PORT\n"
"                        (--tls-creds DIR | --insecure) [options]\n"
"Receive a live migration onto umem: the QEMU at SOCKET was started with\n"
"its RAM on a umemfs file (memory-backend-file,share=on,mem-path= on a\n"
"umem mount) and -incoming defer.  The source runs `umemctl migrate`.\n"
"  --qmp SOCKET        the destination QEMU's QMP monitor\n"
"  --listen URI        where QEMU listens for the migration (tcp:ADDR:PORT)\n"
"  --source HOST:PORT  the source's RAM server (`umemctl migrate --listen`)\n"
"  --path-match STR    QEMU has several umemfs files open: the one whose\n"
"                      path contains STR\n"
"  --arm-timeout SECS  how long umemd tries to reach the source (default 120)\n"
"  --nice N            run umemd at nice N: every blocked vCPU waits on it\n"
"  --max-restarts N    restart a umemd that dies up to N times (default 5)\n"
"  --server-arg ARG    pass ARG to umemd (repeatable)\n"
"  --progress MODE     auto (a bar on a terminal, else lines), line or none\n"
"  --tls-creds DIR     TLS 1.3 with mutual X.509 (or PSK) on the RAM transport,\n"
"                      DIR in QEMU's tls-creds layout (umemd)\n"
"  --tls-authz NAME    accept only the source NAME (repeatable)\n"
"  --insecure          no TLS (one of --tls-creds and --insecure is required)\n"
"Exit status: 0 the region is complete; 1 the migration failed (the guest\n"
"runs on the source); 2 bad input or refused by QEMU; 3 the source was lost\n"
"for good after the switchover; 4 the destination QEMU is gone; 130\n"
"interrupted (see umemctl(8)).\n";

struct incoming {
	struct qmp q;
	const char *listen, *source, *match;
	int max_restarts;
	struct mig_opts o;	/* the options both halves take; umemd's arguments */
	struct mig_progress prog;

	char file[320];		/* /proc/PID/fd/N of QEMU's umemfs file */
	int stats_fd;
	struct umem_stats st;

	pid_t umemd_pid;
	int umemd_err;		/* umemd's stderr, a pipe */
	char err_buf[4096];
	size_t err_len;
	char complete[4096];	/* umemd's "complete:" line */
	int restarts;

	bool resumed;
	double t_start, t_resume, t_done;
};

static void umemd_line(struct incoming *in, const char *line)
{
	if (strstr(line, "umemd: complete:"))
		snprintf(in->complete, sizeof(in->complete), "%s", line);
	mig_progress_break(&in->prog);
	fprintf(stderr, "%s\n", line);
}

/* Pass umemd's lines on; false once its end is closed. */
static bool umemd_read(struct incoming *in)
{
	char *nl;
	ssize_t n;

	if (in->umemd_err < 0)
		return false;
	n = read(in->umemd_err, in->err_buf + in->err_len,
		 sizeof(in->err_buf) - 1 - in->err_len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(in->umemd_err);
		in->umemd_err = -1;
		return false;
	}
	if (n > 0)
		in->err_len += n;
	in->err_buf[in->err_len] = 0;
	while ((nl = strchr(in->err_buf, '\n'))) {
		*nl = 0;
		umemd_line(in, in->err_buf);
		in->err_len -= nl + 1 - in->err_buf;
		memmove(in->err_buf, nl + 1, in->err_len + 1);
	}
	if (in->err_len == sizeof(in->err_buf) - 1)
		in->err_len = 0;
	return true;
}

/*
 * Before the guest runs here, umemd holds the background stream: the
 * destination QEMU loads the device state without it in the way.  A umemd
 * started again takes the migration over from its dead predecessor: the
 * source serves one destination's session at a time.
 */
static int umemd_start(struct incoming *in)
{
	int p[2], n = in->o.server.n;
	bool ok = true;

	if (pipe2(p, O_CLOEXEC)) {
		perror("umemctl incoming: pipe");
		return -1;
	}
	if (!in->resumed)
		ok = mig_arg(&in->o.server, "--hold-stream");
	if (in->restarts)
		ok = ok && mig_arg(&in->o.server, "--takeover");
	in->umemd_pid = ok ? mig_spawn(&in->o.server, -1, p[1], in->o.nice) : -1;
	while (in->o.server.n > n)
		free(in->o.server.v[--in->o.server.n]);
	in->o.server.v[n] = NULL;
	if (!ok) {
		close(p[0]);
		close(p[1]);
		fprintf(stderr, "umemctl incoming: too many --server-arg\n");
		return -1;
	}
	close(p[1]);
	if (in->umemd_pid < 0) {
		perror("umemctl incoming: fork");
		close(p[0]);
		return -1;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	in->umemd_err = p[0];
	return 0;
}

/* umemd's exit status if it has exited (its last words read), else -1. */
static int umemd_exited(struct incoming *in)
{
	int st;

	if (in->umemd_pid <= 0 || waitpid(in->umemd_pid, &st, WNOHANG) != in->umemd_pid)
		return -1;
	in->umemd_pid = 0;
	fcntl(in->umemd_err, F_SETFL, 0);
	while (umemd_read(in))
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void umemd_kill(struct incoming *in)
{
	if (in->umemd_pid > 0) {
		kill(in->umemd_pid, SIGTERM);
		waitpid(in->umemd_pid, NULL, 0);
		in->umemd_pid = 0;
	}
}

static void wait_some(struct incoming *in, int ms)
{
	struct pollfd pfd[2] = {
		{ .fd = in->q.fd, .events = POLLIN },
		{ .fd = in->umemd_err, .events = POLLIN },
	};

	if (in->q.ev_head != in->q.ev_tail)
		ms = 0;
	if (poll(pfd, 2, ms) > 0 && (pfd[1].revents & (POLLIN | POLLHUP)))
		umemd_read(in);
}

/*
 * What to do about a umemd that exited with @st: 0 done, a restart (-1),
 * or the tool's exit status.
 */
static int umemd_gone(struct incoming *in, int st)
{
	if (st == 0)
		return 0;
	if (st == UMEMD_CONFIG) {
		fprintf(stderr, "umemctl incoming: umemd refused its input (status 2): see above\n");
		return 2;
	}
	if (st == UMEMD_SOURCE) {
		fprintf(stderr, "umemctl incoming: the source is lost for good%s\n",
			in->resumed ? ": pages that never arrived fail as memory errors once the region's detach deadline passes" :
			"");
		return 3;
	}
	if (st == UMEMD_HUP) {
		fprintf(stderr, "umemctl incoming: the destination QEMU is gone\n");
		return 4;
	}
	if (in->restarts == in->max_restarts) {
		fprintf(stderr, "umemctl incoming: umemd failed (status %d) %d times: giving up; the region waits for a new server until its deadline\n",
			st, in->restarts + 1);
		return 1;
	}
	in->restarts++;
	fprintf(stderr, "umemctl incoming: umemd ended (%s %d): restarting it (%d of %d); it re-adopts the region\n",
		st > 128 ? "signal" : "status", st > 128 ? st - 128 : st,
		in->restarts, in->max_restarts);
	return umemd_start(in) ? 1 : -1;
}

/* Interrupted: what stays and what goes. */
static int interrupted(struct incoming *in)
{
	mig_progress_break(&in->prog);
	if (!in->resumed) {
		umemd_kill(in);
		fprintf(stderr, "umemctl incoming: interrupted before the switchover: umemd stopped; the source's migration fails and its guest runs on there; quit this QEMU\n");
	} else {
		fprintf(stderr, "umemctl incoming: interrupted after the switchover: umemd (pid %d) goes on filling the region in the background (`umemctl stat %d` follows it)\n",
			in->umemd_pid, in->q.pid);
	}
	return 130;
}

/* Until the guest runs here. */
static int switchover(struct incoming *in)
{
	json_object *ev;
	const char *name, *status;
	int st, ret;

	for (;;) {
		if (mig_interrupted)
			return interrupted(in);
		if (in->q.fd < 0) {
			umemd_kill(in);
			fprintf(stderr, "umemctl incoming: the destination QEMU is gone before the switchover (%s); the guest runs on the source\n",
				in->q.err);
			return 1;
		}
		st = umemd_exited(in);
		if (st >= 0) {
			ret = umemd_gone(in, st);
			if (ret >= 0)
				return ret ? ret : 1;
		}
		ev = qmp_event(&in->q, 0);
		if (!ev) {
			wait_some(in, 200);
			continue;
		}
		name = qmp_event_name(ev);
		status = NULL;
		if (name && !strcmp(name, "MIGRATION"))
			status = qmp_str(json_object_object_get(ev, "data"), "status");
		if (name && !strcmp(name, "RESUME")) {
			in->t_resume = qmp_event_time(ev);
			in->resumed = true;
			if (in->umemd_pid > 0)
				kill(in->umemd_pid, SIGUSR1);
			json_object_put(ev);
			return 0;
		}
		if (status && !strcmp(status, "failed")) {
			json_object_put(ev);
			umemd_kill(in);
			fprintf(stderr, "umemctl incoming: the incoming migration failed (see QEMU's log); the guest runs on the source\n");
			return 1;
		}
		json_object_put(ev);
	}
}

/* Until the region is complete. */
static int fill(struct incoming *in)
{
	char extra[160];
	int st, ret;

	for (;;) {
		if (mig_interrupted)
			return interrupted(in);
		st = umemd_exited(in);
		if (st >= 0) {
			ret = umemd_gone(in, st);
			if (ret >= 0) {
				mig_progress_break(&in->prog);
				in->t_done = mig_wall();
				return ret;
			}
		}
		wait_some(in, 200);
		while (in->q.fd >= 0) {
			json_object *ev = qmp_event(&in->q, 0);

			if (!ev)
				break;
			json_object_put(ev);
		}
		if (!umemlib_stats(in->stats_fd, &in->st)) {
			snprintf(extra, sizeof(extra), "%llu faults, %llu blocked %.3f s",
				 (unsigned long long)in->st.faults,
				 (unsigned long long)in->st.faults_blocked,
				 in->st.blocked_ns / 1e9);
			mig_progress(&in->prog, "filling", in->st.pages_present,
				     in->st.size / in->st.page_size, extra);
		}
	}
}

static void report(struct incoming *in)
{
	const char *pages = strstr(in->complete, ": ");

	umemlib_stats(in->stats_fd, &in->st);
	fprintf(stderr, "umemctl incoming: complete\n");
	fprintf(stderr, "  switchover  the guest resumed here %.3f s after the incoming side was ready\n",
		in->t_resume - in->t_start);
	fprintf(stderr, "  fill        %.3f s from the resume to the last page\n",
		in->t_done - in->t_resume);
	if (pages)
		fprintf(stderr, "  umemd       %s\n", pages + 2);
	fprintf(stderr, "  vCPU stalls %llu faults, %llu blocked, %.3f s blocked in all, p50 < %llu us, p99 < %llu us\n",
		(unsigned long long)in->st.faults,
		(unsigned long long)in->st.faults_blocked, in->st.blocked_ns / 1e9,
		(unsigned long long)umemlib_wait_quantile_us(&in->st, 0.5),
		(unsigned long long)umemlib_wait_quantile_us(&in->st, 0.99));
	if (in->restarts)
		fprintf(stderr, "  restarts    %d (umemd died and was started again)\n", in->restarts);
}

static int parse(struct incoming *in, int argc, char **argv)
{
	static const struct option opts[] = {
		MIG_OPTIONS,
		{ "listen", required_argument, NULL, 'l' },
		{ "source", required_argument, NULL, 's' },
		{ "path-match", required_argument, NULL, 'm' },
		{ "max-restarts", required_argument, NULL, 'r' },
		{ }
	};
	struct mig_opts *o = &in->o;
	char *end;
	int opt, r;

	mig_opts_init(o, "incoming", incoming_usage, "umemd", NULL);
	in->max_restarts = 5;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		r = mig_opt(o, opt, optarg);
		if (r > 1)
			return r - 10;
		if (r)
			continue;
		switch (opt) {
		case 'l': in->listen = optarg; break;
		case 's': in->source = optarg; break;
		case 'm': in->match = optarg; break;
		case 'r':
			in->max_restarts = strtol(optarg, &end, 10);
			if (end == optarg || *end || in->max_restarts < 0)
				return usage_error("incoming", "bad --max-restarts", incoming_usage);
			break;
		default: return usage_error("incoming", NULL, incoming_usage);
		}
	}
	if (optind != argc || !in->listen || !in->source)
		return usage_error("incoming", optind != argc ? "unexpected argument" :
				   "--listen and --source are required", incoming_usage);
	if (strncmp(in->listen, "tcp:", 4))
		return usage_error("incoming", "--listen takes tcp:ADDR:PORT", incoming_usage);
	if (mig_opts_done(o))
		return 2;
	mig_progress_init(&in->prog, o->progress);
	if (qmp_open(&in->q, o->qmp, QMP_WAIT_MS)) {
		fprintf(stderr, "umemctl incoming: %s\n", in->q.err);
		return 2;
	}
	return -1;
}

/* QEMU waits for a migration, and has its RAM on umem: find it. */
static int find_region(struct incoming *in)
{
	json_object *r = qmp_call(&in->q, "query-status", NULL);
	const char *status = qmp_str(r, "status");

	if (!status || strcmp(status, "inmigrate")) {
		fprintf(stderr, "umemctl incoming: QEMU is not waiting for a migration (status '%s'): start it with -incoming defer\n",
			status ? status : in->q.err);
		json_object_put(r);
		return -1;
	}
	json_object_put(r);
	if (in->q.pid <= 0) {
		fprintf(stderr, "umemctl incoming: the QMP socket's peer has no pid (is QEMU on another host?)\n");
		return -1;
	}
	if (umemlib_find_pid_file(in->q.pid, in->match, in->file, sizeof(in->file))) {
		fprintf(stderr, "umemctl incoming: QEMU (pid %d): %s\n", in->q.pid,
			umemlib_strerror());
		return -1;
	}
	in->stats_fd = open(in->file, O_RDONLY | O_CLOEXEC);
	if (in->stats_fd < 0 || umemlib_stats(in->stats_fd, &in->st)) {
		fprintf(stderr, "umemctl incoming: %s: %s\n", in->file,
			in->stats_fd < 0 ? strerror(errno) : umemlib_strerror());
		return -1;
	}
	if (in->st.pages_present) {
		fprintf(stderr, "umemctl incoming: %s already has %llu pages present: not a fresh destination\n",
			in->file, (unsigned long long)in->st.pages_present);
		return -1;
	}
	fprintf(stderr, "umemctl incoming: QEMU (pid %d) has its %llu MiB of RAM on umem: %s\n",
		in->q.pid, (unsigned long long)(in->st.size >> 20), in->file);
	return 0;
}

int cmd_incoming(int argc, char **argv)
{
	static const char *const caps[] = { "x-ignore-shared", "events", NULL };
	struct incoming in = { .stats_fd = -1, .umemd_err = -1 };
	json_object *args, *r;
	int ret;

	ret = parse(&in, argc, argv);
	if (ret >= 0)
		return ret;
	mig_signals();
	if (find_region(&in))
		return 2;
	if (qmp_set_caps(&in.q, caps)) {
		fprintf(stderr, "umemctl incoming: QEMU refused the capabilities (x-ignore-shared, events): %s\n",
			in.q.err);
		return 2;
	}
	args = json_object_new_object();
	json_object_object_add(args, "uri", json_object_new_string(in.listen));
	r = qmp_call(&in.q, "migrate-incoming", args);
	if (!r) {
		fprintf(stderr, "umemctl incoming: %s\n", in.q.err);
		return 2;
	}
	json_object_put(r);
	in.t_start = mig_wall();
	if (!mig_arg(&in.o.server, "--pid=%d", in.q.pid) ||
	    (in.match && !mig_arg(&in.o.server, "--path-match=%s", in.match)) ||
	    !mig_arg(&in.o.server, "--source=%s", in.source) ||
	    !mig_arg(&in.o.server, "--connect-timeout=%d", in.o.arm_timeout_s * 1000) ||
	    !mig_arg(&in.o.server, "--progress=none"))
		return usage_error("incoming", "too many --server-arg", incoming_usage);
	if (umemd_start(&in))
		return 1;
	fprintf(stderr, "umemctl incoming: QEMU listens on %s; umemd (pid %d) connects to the source %s\n",
		in.listen, in.umemd_pid, in.source);
	ret = switchover(&in);
	if (ret)
		return ret;
	fprintf(stderr, "umemctl incoming: the guest runs here since %.3f s after the incoming side was ready; its RAM arrives\n",
		in.t_resume - in.t_start);
	ret = fill(&in);
	if (ret)
		return ret;
	report(&in);
	qmp_close(&in.q);
	return 0;
}
