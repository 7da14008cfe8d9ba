// SPDX-License-Identifier: GPL-2.0
/*
 * umemctl migrate: the source host's half of a migration onto umem.
 *
 * It finds the guest's RAM file from QEMU, starts the RAM server
 * (`umemctl source --hold`) and waits until the destination's umemd has
 * both channels up: the transport is armed while the guest still runs
 * here.  Then it starts QEMU's migration, which with x-ignore-shared
 * carries only the device state.  At pre-switchover the guest is stopped
 * and its RAM final: the tool opens the server's gate for demanded pages
 * and lets QEMU go on; nothing starts, connects or scans inside the
 * pause.  Once QEMU has completed, the background stream starts too.
 *
 * Until QEMU reports the switchover complete, any failure (or Ctrl-C)
 * cancels the migration and the guest runs on here, with nothing lost.
 * After it, the guest runs on the destination and its RAM lives in this
 * host's file until the destination has every page: the server runs in
 * a session of its own and outlives the tool.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "mig.h"
#include "qmp.h"
#include "commands.h"
#include "wire.h"

static const char migrate_usage[] =
"usage: umemctl migrate --qmp SOCKET --to URI --listen ADDR:PORT\n"
"                       (--tls-creds DIR | --insecure) [options]\n"
"Live-migrate the guest of the QEMU at SOCKET onto umem: the destination\n"
"runs `umemctl incoming`.  QEMU sends the device state (x-ignore-shared);\n"
"the guest's RAM is served from its file here by `umemctl source`, whose\n"
"transport the destination connects before the switchover.\n"
"  --qmp SOCKET        the source QEMU's QMP monitor (-qmp unix:SOCKET,server=on)\n"
"  --to URI            the destination QEMU's incoming URI (tcp:HOST:PORT),\n"
"                      as given to `umemctl incoming --listen`\n"
"  --listen ADDR:PORT  where the RAM server listens for the destination's umemd\n"
"  --ram FILE          the guest's RAM file (default: the one shared\n"
"                      memory-backend-file of QEMU, from QMP)\n"
"  --arm-timeout SECS  how long to wait for the destination to connect\n"
"                      (default 120)\n"
"  --nice N            run the RAM server at nice N: every blocked vCPU on\n"
"                      the destination waits on it\n"
"  --server-arg ARG    pass ARG to `umemctl source` (repeatable)\n"
"  --progress MODE     auto (a bar on a terminal, else lines), line or none\n"
"  --quit              quit the source QEMU once the destination has every page\n"
"  --tls-creds DIR     TLS 1.3 with mutual X.509 (or PSK) on the RAM transport,\n"
"                      DIR in QEMU's tls-creds layout (umemctl source)\n"
"  --tls-authz NAME    accept only the destination NAME (repeatable)\n"
"  --insecure          no TLS: anyone who reaches --listen reads the guest's\n"
"                      memory (one of --tls-creds and --insecure is required)\n"
"Exit status: 0 the destination has every page; 1 the migration failed and\n"
"the guest runs here; 2 bad input or refused by QEMU (nothing started);\n"
"3 the RAM server failed after the switchover; 130 interrupted (see\n"
"umemctl(8): before the switchover the guest runs here, after it the\n"
"server goes on).\n";

struct migrate {
	struct qmp q;
	const char *to, *listen, *ram;
	struct mig_opts o;	/* the options both halves take */
	struct mig_progress prog;
	bool quit;

	pid_t server_pid;
	int ctl;		/* the control socket to the server */
	char ctl_buf[1024];
	size_t ctl_len;
	bool armed;
	char peer[64];
	uint64_t sent, pages, urgent, prefetch, bg, zero, bytes;

	double t_migrate, t_stop, t_pre, t_cont, t_done;
	long long qemu_downtime, qemu_total, qemu_bytes;
};

/* One line from the server: armed, listening, stats. */
static void server_line(struct migrate *m, char *line)
{
	unsigned long long v[7];

	if (!strncmp(line, "armed ", 6)) {
		m->armed = true;
		snprintf(m->peer, sizeof(m->peer), "%s", line + 6);
	} else if (sscanf(line, "stats sent %llu pages %llu urgent %llu prefetch %llu background %llu zero %llu bytes %llu",
			  &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) == 7) {
		m->sent = v[0];
		m->pages = v[1];
		m->urgent = v[2];
		m->prefetch = v[3];
		m->bg = v[4];
		m->zero = v[5];
		m->bytes = v[6];
	}
}

/* Read what the server said; false once it closed its end. */
static bool server_read(struct migrate *m)
{
	char *nl;
	ssize_t n;

	if (m->ctl < 0)
		return false;
	n = recv(m->ctl, m->ctl_buf + m->ctl_len,
		 sizeof(m->ctl_buf) - 1 - m->ctl_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(m->ctl);
		m->ctl = -1;
		return false;
	}
	if (n > 0)
		m->ctl_len += n;
	m->ctl_buf[m->ctl_len] = 0;
	while ((nl = strchr(m->ctl_buf, '\n'))) {
		*nl = 0;
		server_line(m, m->ctl_buf);
		m->ctl_len -= nl + 1 - m->ctl_buf;
		memmove(m->ctl_buf, nl + 1, m->ctl_len + 1);
	}
	if (m->ctl_len == sizeof(m->ctl_buf) - 1)
		m->ctl_len = 0;	/* a line too long: not ours */
	return true;
}

/* The server's exit status if it has exited, else -1. */
static int server_exited(struct migrate *m)
{
	int st;

	if (m->server_pid <= 0 || waitpid(m->server_pid, &st, WNOHANG) != m->server_pid)
		return -1;
	m->server_pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void server_kill(struct migrate *m)
{
	if (m->server_pid > 0) {
		kill(m->server_pid, SIGTERM);
		waitpid(m->server_pid, NULL, 0);
		m->server_pid = 0;
	}
}

/* The one shared file-backed memory backend of QEMU: its mem-path. */
static int find_ram(struct migrate *m, char *path, size_t len)
{
	json_object *list = qmp_call(&m->q, "query-memdev", NULL), *args, *r;
	const char *id, *found_id = NULL;
	long long size = 0;
	char obj[256];
	struct stat st;
	size_t i, n;
	int found = 0;

	if (!list) {
		fprintf(stderr, "umemctl migrate: %s\n", m->q.err);
		return -1;
	}
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *md = json_object_array_get_idx(list, i), *v;

		id = qmp_str(md, "id");
		if (!id || !json_object_object_get_ex(md, "share", &v) ||
		    !json_object_get_boolean(v))
			continue;
		snprintf(obj, sizeof(obj), "/objects/%s", id);
		args = json_object_new_object();
		json_object_object_add(args, "path", json_object_new_string(obj));
		json_object_object_add(args, "property", json_object_new_string("mem-path"));
		r = qmp_call(&m->q, "qom-get", args);
		if (!r)
			continue;	/* not a memory-backend-file */
		if (found++ == 0) {
			snprintf(path, len, "%s", json_object_get_string(r));
			found_id = id;
			size = qmp_int(md, "size");
		}
		json_object_put(r);
	}
	if (found != 1) {
		fprintf(stderr, "umemctl migrate: QEMU has %d shared file-backed memory backends: %s\n",
			found, found ? "name the guest's RAM with --ram FILE" :
			"umem serves guest RAM from a file: start QEMU with -object memory-backend-file,share=on,mem-path=FILE");
		json_object_put(list);
		return -1;
	}
	if (stat(path, &st) || !S_ISREG(st.st_mode) || st.st_size != size) {
		fprintf(stderr, "umemctl migrate: memory backend '%s': mem-path %s %s\n",
			found_id, path,
			stat(path, &st) ? strerror(errno) :
			!S_ISREG(st.st_mode) ? "is not a file (QEMU unlinked its own file in that directory): give mem-path=FILE" :
			"has another size than the backend");
		json_object_put(list);
		return -1;
	}
	json_object_put(list);
	return 0;
}

/* Wait @ms for QMP, the server and signals; handle what the server said. */
static void wait_some(struct migrate *m, int ms)
{
	struct pollfd pfd[2] = {
		{ .fd = m->q.fd, .events = POLLIN },
		{ .fd = m->ctl, .events = POLLIN },
	};

	if (m->q.ev_head != m->q.ev_tail)
		ms = 0;
	if (poll(pfd, 2, ms) > 0 && (pfd[1].revents & (POLLIN | POLLHUP)))
		server_read(m);
}

static int arm(struct migrate *m)
{
	uint64_t end = now_ns() + m->o.arm_timeout_s * 1000000000ULL;
	json_object *ev;
	int st;

	fprintf(stderr, "umemctl migrate: RAM server (pid %d) listening on %s; waiting up to %d s for the destination's umemd\n",
		m->server_pid, m->listen, m->o.arm_timeout_s);
	while (!m->armed) {
		if (mig_interrupted)
			return 130;
		st = server_exited(m);
		if (st >= 0) {
			fprintf(stderr, "umemctl migrate: the RAM server exited (status %d) before the destination connected\n",
				st);
			return 2;
		}
		if (now_ns() > end) {
			fprintf(stderr, "umemctl migrate: no destination connected to %s within %d s: is `umemctl incoming --source` on the destination pointing here?\n",
				m->listen, m->o.arm_timeout_s);
			return 1;
		}
		wait_some(m, 200);
		while (m->q.fd >= 0 && (ev = qmp_event(&m->q, 0)))
			json_object_put(ev);
	}
	fprintf(stderr, "umemctl migrate: armed: the destination %s has both channels up\n",
		m->peer);
	return 0;
}

/* Cancel the migration and tell where the guest is. */
static void cancel(struct migrate *m, const char *why)
{
	json_object *r = qmp_call(&m->q, "migrate_cancel", NULL);
	char st[64] = "";
	uint64_t end = now_ns() + 10000000000ULL;

	json_object_put(r);
	while (now_ns() < end && qmp_migration_status(&m->q, st, sizeof(st)) &&
	       strcmp(st, "cancelled") && strcmp(st, "failed") &&
	       strcmp(st, "completed"))
		usleep(50000);
	fprintf(stderr, "umemctl migrate: %s: migration %s", why, st[0] ? st : "not cancelled (QEMU does not answer)");
	r = qmp_call(&m->q, "query-status", NULL);
	fprintf(stderr, "; the guest is '%s' here, its RAM untouched\n",
		r ? qmp_str(r, "status") : "unknown");
	json_object_put(r);
}

static int start(struct migrate *m)
{
	json_object *args = json_object_new_object(), *r;

	json_object_object_add(args, "uri", json_object_new_string(m->to));
	m->t_migrate = mig_wall();
	r = qmp_call(&m->q, "migrate", args);
	if (!r) {
		fprintf(stderr, "umemctl migrate: %s; the guest runs here\n", m->q.err);
		return 1;
	}
	json_object_put(r);
	return 0;
}

/* Up to QEMU's "completed": the guest runs on the destination then. */
static int switchover(struct migrate *m)
{
	json_object *ev, *r;
	const char *name, *status;

	for (;;) {
		if (mig_interrupted) {
			cancel(m, "interrupted");
			return 130;
		}
		if (m->q.fd < 0) {
			fprintf(stderr, "umemctl migrate: %s\n", m->q.err);
			return 1;
		}
		ev = qmp_event(&m->q, 0);
		if (!ev) {
			wait_some(m, 200);
			if (server_exited(m) >= 0) {
				m->server_pid = 0;
				cancel(m, "the RAM server exited");
				return 1;
			}
			continue;
		}
		name = qmp_event_name(ev);
		status = NULL;
		if (name && !strcmp(name, "MIGRATION")) {
			json_object *data = json_object_object_get(ev, "data");

			status = qmp_str(data, "status");
		}
		if (name && !strcmp(name, "STOP") && !m->t_stop)
			m->t_stop = qmp_event_time(ev);
		if (status && !strcmp(status, "pre-switchover")) {
			/* The guest is stopped: its RAM is final.  Flip, go. */
			m->t_pre = qmp_event_time(ev);
			if (m->ctl < 0 || !send_all(m->ctl, "serve\n", 6)) {
				json_object_put(ev);
				cancel(m, "the RAM server is gone at the switchover");
				return 1;
			}
			r = qmp_call(&m->q, "migrate-continue",
				     json_tokener_parse("{\"state\":\"pre-switchover\"}"));
			m->t_cont = mig_wall();
			if (!r) {
				json_object_put(ev);
				fprintf(stderr, "umemctl migrate: %s\n", m->q.err);
				cancel(m, "migrate-continue refused");
				return 1;
			}
			json_object_put(r);
			goto next;
		}
		if (status && !strcmp(status, "completed")) {
			json_object_put(ev);
			/* The device state is across: stream the rest. */
			if (m->ctl < 0 || !send_all(m->ctl, "stream\n", 7)) {
				fprintf(stderr, "umemctl migrate: the RAM server is gone at the switchover\n");
				return 3;
			}
			return 0;
		}
		if (status && (!strcmp(status, "failed") || !strcmp(status, "cancelled"))) {
			const char *desc;

			json_object_put(ev);
			r = qmp_call(&m->q, "query-migrate", NULL);
			desc = qmp_str(r, "error-desc");
			fprintf(stderr, "umemctl migrate: the migration %s%s%s", status,
				desc ? ": " : "", desc ? desc : "");
			json_object_put(r);
			r = qmp_call(&m->q, "query-status", NULL);
			fprintf(stderr, "; the guest is '%s' here, its RAM untouched\n",
				r ? qmp_str(r, "status") : "unknown");
			json_object_put(r);
			return 1;
		}
next:
		json_object_put(ev);
	}
}

/*
 * QEMU's own figures.  It says "completed" before it has computed them
 * (migration_iteration_finish), so ask until they are there.
 */
static void qemu_figures(struct migrate *m)
{
	uint64_t end = now_ns() + 2000000000ULL;
	json_object *r;

	do {
		r = qmp_call(&m->q, "query-migrate", NULL);
		m->qemu_downtime = qmp_int(r, "downtime");
		m->qemu_total = qmp_int(r, "total-time");
		m->qemu_bytes = qmp_int(json_object_object_get(r, "ram"), "transferred");
		json_object_put(r);
		if (m->qemu_total > 0 || !r)
			return;
		usleep(20000);
	} while (now_ns() < end);
}

static void progress_extra(struct migrate *m, char *buf, size_t len)
{
	snprintf(buf, len, "urgent %llu, background %llu, %.1f MiB",
		 (unsigned long long)m->urgent,
		 (unsigned long long)(m->bg + m->prefetch), m->bytes / 1048576.0);
}

/* After the switchover: serve until the destination has every page. */
static int drain(struct migrate *m)
{
	char extra[128];
	json_object *ev;
	int st;

	fprintf(stderr, "umemctl migrate: the guest runs on the destination; its RAM is served from %s by pid %d until the destination has every page: keep both (Ctrl-C leaves the server running)\n",
		m->ram, m->server_pid);
	for (;;) {
		if (mig_interrupted) {
			mig_progress_break(&m->prog);
			fprintf(stderr, "umemctl migrate: interrupted after the switchover: the RAM server (pid %d) goes on until the destination has every page; do not remove %s before\n",
				m->server_pid, m->ram);
			return 130;
		}
		st = server_exited(m);
		if (st >= 0) {
			while (server_read(m))
				;
			mig_progress_break(&m->prog);
			if (st) {
				fprintf(stderr, "umemctl migrate: the RAM server exited with status %d before the destination had every page\n",
					st);
				return 3;
			}
			m->t_done = mig_wall();
			return 0;
		}
		wait_some(m, 200);
		/* QEMU's events go unread now: a waiting one would spin us. */
		while (m->q.fd >= 0 && (ev = qmp_event(&m->q, 0)))
			json_object_put(ev);
		progress_extra(m, extra, sizeof(extra));
		mig_progress(&m->prog, "serving", m->sent, m->pages, extra);
	}
}

static void report(struct migrate *m)
{
	double umem_ms = m->t_pre && m->t_cont ? (m->t_cont - m->t_pre) * 1000 : 0;

	fprintf(stderr, "umemctl migrate: complete\n");
	fprintf(stderr, "  downtime    %lld ms by QEMU's count: %.0f ms QEMU (device state), %.0f ms umem (the switch at pre-switchover)\n",
		m->qemu_downtime, m->qemu_downtime - umem_ms, umem_ms);
	fprintf(stderr, "  total       %.3f s from 'migrate' to the destination's last page (QEMU's part %lld ms)\n",
		m->t_done - m->t_migrate, m->qemu_total);
	fprintf(stderr, "  pages       %llu urgent, %llu prefetched, %llu background, %llu of them zero\n",
		(unsigned long long)m->urgent, (unsigned long long)m->prefetch,
		(unsigned long long)m->bg, (unsigned long long)m->zero);
	fprintf(stderr, "  wire        %.1f MiB RAM transport, %.1f MiB QEMU's stream\n",
		m->bytes / 1048576.0, m->qemu_bytes / 1048576.0);
	fprintf(stderr, "  vCPU stalls  see `umemctl incoming` on the destination\n");
}

static int parse(struct migrate *m, int argc, char **argv)
{
	static const struct option opts[] = {
		MIG_OPTIONS,
		{ "to", required_argument, NULL, 't' },
		{ "listen", required_argument, NULL, 'l' },
		{ "ram", required_argument, NULL, 'r' },
		{ "quit", no_argument, NULL, 'Q' },
		{ }
	};
	struct mig_opts *o = &m->o;
	int opt, r;

	mig_opts_init(o, "migrate", migrate_usage, "umemctl", "source");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		r = mig_opt(o, opt, optarg);
		if (r > 1)
			return r - 10;
		if (r)
			continue;
		switch (opt) {
		case 't': m->to = optarg; break;
		case 'l': m->listen = optarg; break;
		case 'r': m->ram = optarg; break;
		case 'Q': m->quit = true; break;
		default: return usage_error("migrate", NULL, migrate_usage);
		}
	}
	if (optind != argc || !m->to || !m->listen)
		return usage_error("migrate", optind != argc ? "unexpected argument" :
				   "--to and --listen are required", migrate_usage);
	if (strncmp(m->to, "tcp:", 4))
		return usage_error("migrate", "--to takes tcp:HOST:PORT", migrate_usage);
	if (mig_opts_done(o))
		return 2;
	mig_progress_init(&m->prog, o->progress);
	if (qmp_open(&m->q, o->qmp, QMP_WAIT_MS)) {
		fprintf(stderr, "umemctl migrate: %s\n", m->q.err);
		return 2;
	}
	return -1;
}

int cmd_migrate(int argc, char **argv)
{
	static const char *const caps[] = {
		"x-ignore-shared", "pause-before-switchover", "events", NULL
	};
	static char ram[4096];
	struct migrate m = { .ctl = -1 };
	char st[64];
	int sv[2], ret;

	ret = parse(&m, argc, argv);
	if (ret >= 0)
		return ret;
	mig_signals();
	if (!m.ram) {
		if (find_ram(&m, ram, sizeof(ram)))
			return 2;
		m.ram = ram;
	}
	if (!qmp_migration_status(&m.q, st, sizeof(st))) {
		fprintf(stderr, "umemctl migrate: %s\n", m.q.err);
		return 2;
	}
	if (strcmp(st, "none") && strcmp(st, "completed") &&
	    strcmp(st, "failed") && strcmp(st, "cancelled")) {
		fprintf(stderr, "umemctl migrate: QEMU has a migration under way (status '%s')\n", st);
		return 2;
	}
	if (qmp_set_caps(&m.q, caps)) {
		fprintf(stderr, "umemctl migrate: QEMU refused the capabilities (%s): %s; nothing was started\n",
			"x-ignore-shared, pause-before-switchover, events", m.q.err);
		return 2;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("umemctl migrate: socketpair");
		return 1;
	}
	if (!mig_arg(&m.o.server, "--image=file:%s", m.ram) ||
	    !mig_arg(&m.o.server, "--listen=%s", m.listen) ||
	    !mig_arg(&m.o.server, "--hold") || !mig_arg(&m.o.server, "--once") ||
	    !mig_arg(&m.o.server, "--control=%d", sv[1]))
		return usage_error("migrate", "too many --server-arg", migrate_usage);
	m.server_pid = mig_spawn(&m.o.server, sv[1], -1, m.o.nice);
	close(sv[1]);
	if (m.server_pid < 0) {
		perror("umemctl migrate: fork");
		return 1;
	}
	m.ctl = sv[0];
	ret = arm(&m);
	if (!ret)
		ret = start(&m);
	if (!ret)
		ret = switchover(&m);
	if (ret) {
		server_kill(&m);
		return ret;
	}
	qemu_figures(&m);
	fprintf(stderr, "umemctl migrate: switchover complete: QEMU's downtime %lld ms, of which %.0f ms the pause at pre-switchover\n",
		m.qemu_downtime, (m.t_cont - m.t_pre) * 1000);
	ret = drain(&m);
	if (ret)
		return ret;
	report(&m);
	if (m.quit)
		json_object_put(qmp_call(&m.q, "quit", NULL));
	qmp_close(&m.q);
	return 0;
}
