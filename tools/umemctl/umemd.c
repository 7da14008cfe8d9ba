// SPDX-License-Identifier: GPL-2.0
/*
 * umemd: the postcopy destination daemon.
 *
 * It serves one umem region.  It takes the region's control fd (inherited
 * with --fd, or over a unix socket with SCM_RIGHTS), becomes its server,
 * and fills pages from the migration source (`umemctl source`) or from a
 * local snapshot file.  One io_uring loop drives everything: the request
 * fd, both TCP channels, and batched write()s of present ranges; a
 * worker thread collapses the 2 MiB extents made whole into huge pages.
 *
 * The rule above all others: never write into a page that is present.
 * The guest may have written to it since.  umemd keeps its own bitmap of
 * pages it has (seeded from the kernel's, for a daemon that re-adopts a
 * region) and of pages being received; a record for such a page lands in
 * a scratch buffer.  Page bytes otherwise go straight into an mmap of the
 * shmem file, are checked against their checksum, and only then marked
 * present.
 *
 * This file holds main(), the setup and the event loop; umemd_core.h
 * says where the rest is.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "umemd_core.h"

#define TICK_MS		100

static const char umemd_usage[] =
"usage: umemd (--fd N | --unix PATH | --path FILE | --pid PID)\n"
"             (--source HOST:PORT | --snapshot FILE) [options]\n"
"Serve a umem region: fetch each faulted page at once, stream the rest,\n"
"complete the region when every page is present, and exit 0.\n"
"  --fd N              the region's control fd, inherited\n"
"  --unix PATH         connect to a unix socket and receive the control fd\n"
"                      (SCM_RIGHTS)\n"
"  --path FILE         open a umemfs file (mount -t umem) and serve it;\n"
"                      /proc/PID/fd/N for one its VMM unlinked\n"
"  --pid PID           serve the one umemfs file process PID (a VMM such\n"
"                      as QEMU with mem-path= on a umem mount) has open\n"
"  --path-match STR    with --pid: only files whose path contains STR\n"
"  --source HOST:PORT  the migration source (`umemctl source`)\n"
"  --tls-creds DIR     TLS 1.3, mutual X.509: DIR holds ca-cert.pem,\n"
"                      client-cert.pem and client-key.pem (QEMU's\n"
"                      layout); the source's certificate must name HOST\n"
"                      or, without a PKI, keys.psk (tls-creds-psk's)\n"
"  --tls-username NAME  the PSK username (default qemu, as QEMU)\n"
"  --tls-authz NAME     accept only this source: its certificate's\n"
"                      subject (\"CN=host,O=org\"); repeatable\n"
"  --tls-no-ktls       keep TLS records in user space (tests, benchmarks)\n"
"  --takeover          take the migration over from the destination the\n"
"                      source serves (which then stops)\n"
"  --insecure          fetch without TLS (with --source, one of\n"
"                      --tls-creds and --insecure is required)\n"
"  --snapshot FILE     restore lazily from a local image file instead\n"
"  --window N          pages prefetched after each faulted page (default 16)\n"
"  --net-timeout MS    reconnect when a channel is silent this long\n"
"                      (default 2000; the source pings every 250)\n"
"  --give-up MS        exit 3 when the source stays unreachable this long\n"
"                      (default 30000)\n"
"  --connect-timeout MS  first connection attempts, then exit 2\n"
"                      (default 10000)\n"
"  --progress MODE     auto (a bar on a TTY, else a line a second), line\n"
"                      (always lines) or none (default auto)\n"
"  --nice N            run at this nice value (-20..19): a daemon every\n"
"                      blocked vCPU waits on should outrank the vCPUs\n"
"  --hold-stream       connect the background channel but read nothing\n"
"                      from it until SIGUSR1 (the migration tool sends it\n"
"                      once the guest runs here)\n"
"  --trace             write when each demand page is requested and when\n"
"                      it arrives to the kernel's trace (trace_marker),\n"
"                      beside umem's tracepoints: tools/bench/fault-path.awk\n"
"                      makes the fault path's breakdown of them\n"
"  --verbose           log connections\n"
"  --version           print the release of umemd\n"
"Exit status: 0 complete; 1 error; 2 bad input or refused by the source;\n"
"3 the source was lost for good.\n";

/* ---- requests ----------------------------------------------------------- */

static void submit_req_read(struct umemd *d)
{
	struct io_uring_sqe *sqe = get_sqe(d);

	io_uring_prep_read(sqe, d->srv.fd, d->reqbuf, sizeof(d->reqbuf), 0);
	io_uring_sqe_set_data(sqe, &d->req_op);
}

static void want_page(struct umemd *d, uint64_t p)
{
	uint64_t n, end;

	d->n_requests++;
	bit_set(d->wanted, p);
	if (d->snapshot) {
		if (page_free(d, p))
			fread_submit(d, p, 1);
		for (n = 1; n <= (uint64_t)d->window && p + n < d->pages &&
			    page_free(d, p + n); n++)
			;
		if (n > 1)
			fread_submit(d, p + 1, n - 1);
		d->bg_cursor = p + n;
		return;
	}
	if (!bit_test(d->busy, p)) {
		trace_mark(d, "req", p);
		send_req(d, p, 1, 0);
	}
	end = p + 1 + d->window > d->pages ? d->pages : p + 1 + d->window;
	while (++p < end && bit_test(d->have, p))
		;
	if (p < end)
		send_req(d, p, end - p, WIRE_REQ_PREFETCH);
}

static void req_done(struct umemd *d, int res)
{
	int i, n;

	if (res == -EINTR || res == -EAGAIN) {
		submit_req_read(d);
		return;
	}
	if (res < 0)
		die(d, "reading requests: %s", strerror(-res));
	/*
	 * Hung up: the control file is closed and nothing maps the region
	 * (the VMM is gone); no fault can come, nothing is worth sending.
	 */
	if (res == 0)
		die_code(d, EXIT_HUP, "the region has no user left (the VMM is gone)");
	n = res / sizeof(struct umem_request);
	for (i = 0; i < n; i++) {
		uint64_t p = d->reqbuf[i].pgoff;

		if (p < d->pages && !bit_test(d->have, p))
			want_page(d, p);
	}
	submit_req_read(d);
}

/* ---- progress ----------------------------------------------------------- */

static void progress(const struct umemd *d, uint64_t now, bool last)
{
	double el = (now - d->start_ns) / 1e9;
	double rate = el > 0 ? d->n_have * (double)d->psz / el / 1048576.0 : 0;
	double pct = 100.0 * d->n_have / d->pages;
	double eta = rate > 0 ? (d->pages - d->n_have) * (double)d->psz / 1048576.0 / rate : 0;
	char bar[41];
	int i, fill = (int)(pct * 40 / 100);

	if (d->progress == PROGRESS_NONE)
		return;
	if (d->tty) {
		for (i = 0; i < 40; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[40] = 0;
		fprintf(stderr, "\r[%s] %5.1f%% %llu/%llu pages, urgent %llu, background %llu, %.1f MiB/s, ETA %.0f s  ",
			bar, pct, (unsigned long long)d->n_have,
			(unsigned long long)d->pages,
			(unsigned long long)d->n_urgent,
			(unsigned long long)d->n_bg, rate, eta);
		if (last)
			fputc('\n', stderr);
		return;
	}
	fprintf(stderr, "umemd: %5.1f%% %llu/%llu pages, urgent %llu, background %llu, %.1f MiB/s, ETA %.0f s\n",
		pct, (unsigned long long)d->n_have,
		(unsigned long long)d->pages,
		(unsigned long long)d->n_urgent, (unsigned long long)d->n_bg,
		rate, eta);
}

static void tick_submit(struct umemd *d)
{
	struct io_uring_sqe *sqe = get_sqe(d);

	d->tick_ts.tv_sec = 0;
	d->tick_ts.tv_nsec = TICK_MS * 1000000LL;
	io_uring_prep_timeout(sqe, &d->tick_ts, 0, 0);
	io_uring_sqe_set_data(sqe, &d->tick_op);
}

/* Global: the SIGUSR1 handler has no other way to reach umemd. */
static volatile sig_atomic_t stream_go;

static void on_usr1(int sig)
{
	stream_go = 1;
}

/*
 * --hold-stream: the background channel is connected but not read, so the
 * source's stream stops at the socket's buffer and leaves the CPU to the
 * QEMUs while the device state is loaded.  SIGUSR1 (the migration tool,
 * once the guest runs here) starts reading it.
 */
static void stream_release(struct umemd *d)
{
	if (!d->hold_stream || !stream_go)
		return;
	d->hold_stream = false;
	logv(d, "background stream: released");
	if (d->connected) {
		d->bg->last_rx_ns = now_ns();
		chan_submit_recv(d, d->bg);
	}
}

static void tick_done(struct umemd *d)
{
	uint64_t now = now_ns();

	stream_release(d);

	if (d->source)
		net_tick(d, now);
	if (now - d->last_progress_ns >= (d->tty ? 200000000ULL : 1000000000ULL)) {
		progress(d, now, false);
		d->last_progress_ns = now;
	}
	tick_submit(d);
}

/* ---- the loop ----------------------------------------------------------- */

#define NR_CQE		64	/* completions taken at once */

static void op_done(struct umemd *d, struct op *op, int res)
{
	switch (op->kind) {
	case OP_REQ: req_done(d, res); break;
	case OP_RECV: recv_done(d, op->ch, res); break;
	case OP_SEND: send_done(d, op->ch, res); break;
	case OP_WRITE: write_done(d, res); break;
	case OP_TICK: tick_done(d); break;
	case OP_FREAD: fread_done(d, op, res); break;
	}
}

/* What a blocked fault waits on: its request, its page, its send. */
static bool op_urgent(const struct umemd *d, const struct op *op)
{
	return op->kind == OP_REQ ||
	       ((op->kind == OP_RECV || op->kind == OP_SEND) &&
		op->ch == d->urg);
}

/*
 * A blocked fault's work is not queued behind the background stream:
 * of the completions at hand, the urgent ones run first, and their
 * requests go out (one submit) before the stream's 64 KiB are parsed.
 * A page a fault waits for is marked present with a write() of its own
 * (flush_present(true)), not behind an asynchronous one in flight.
 */
static void run_once(struct umemd *d)
{
	struct { struct op *op; int res; bool urgent; } c[NR_CQE];
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0, i;
	bool urgent = false;

	io_uring_submit_and_wait(&d->ring, 1);
	io_uring_for_each_cqe(&d->ring, head, cqe) {
		if (n == NR_CQE)
			break;
		c[n].op = io_uring_cqe_get_data(cqe);
		c[n].res = cqe->res;
		c[n].urgent = op_urgent(d, c[n].op);
		urgent |= c[n].urgent;
		n++;
	}
	io_uring_cq_advance(&d->ring, n);
	for (i = 0; i < n; i++)
		if (c[i].urgent)
			op_done(d, c[i].op, c[i].res);
	if (urgent) {
		if (d->waited)
			flush_present(d, true);
		d->waited = false;
		chan_flush(d, d->urg);
		io_uring_submit(&d->ring);
	}
	for (i = 0; i < n; i++)
		if (!c[i].urgent)
			op_done(d, c[i].op, c[i].res);
	if (d->snapshot)
		snap_background(d);
	flush_present(d, d->waited);
	d->waited = false;
	chan_flush(d, d->urg);
}

/* Until every page is present. */
static void serve(struct umemd *d)
{
	while (d->n_have < d->pages)
		run_once(d);
}

/* ---- options ------------------------------------------------------------ */

/* What the command line says that only setup() needs. */
struct umemd_args {
	int fd;				/* --fd, or -1 */
	const char *unix_path, *file_path, *path_match;
	long pid;
	const char *tls_dir, *tls_user, *authz[32];
	int nauthz;
	bool insecure, no_ktls;
};

static uint64_t ms_arg(const struct umemd *d, const char *opt, const char *arg)
{
	char *end;
	unsigned long long v = strtoull(arg, &end, 10);

	if (end == arg || *end)
		die_code(d, EXIT_CONFIG, "bad %s '%s': want milliseconds", opt, arg);
	return v * 1000000ULL;
}

/* No operands; options that exclude or need each other. */
static void check_options(struct umemd *d, const struct umemd_args *a,
			  int argc)
{
	if (optind != argc ||
	    (a->fd >= 0) + !!a->unix_path + !!a->file_path + !!a->pid != 1 ||
	    !d->source == !d->snapshot || (a->path_match && !a->pid)) {
		fprintf(stderr, "umemd: give one of --fd/--unix/--path/--pid and one of --source/--snapshot%s\n",
			a->path_match && !a->pid ?
			"; --path-match goes with --pid" : "");
		fputs(umemd_usage, stderr);
		exit(EXIT_CONFIG);
	}
	if (d->source && !parse_hostport(d->source, d->host, sizeof(d->host), &d->port))
		die_code(d, EXIT_CONFIG, "bad --source '%s': want HOST:PORT", d->source);
	if (a->tls_dir && a->insecure)
		die_code(d, EXIT_CONFIG, "--tls-creds and --insecure exclude each other");
	if (d->source && !a->tls_dir && !a->insecure)
		die_code(d, EXIT_CONFIG,
			 "refusing to fetch guest memory without TLS: give --tls-creds DIR, or --insecure");
}

/* The command line into @d and @a; exit on --help, --version, bad input. */
static void parse_options(struct umemd *d, struct umemd_args *a, int argc,
			  char **argv)
{
	static const struct option opts[] = {
		{ "fd", required_argument, NULL, 'f' },
		{ "unix", required_argument, NULL, 'u' },
		{ "path", required_argument, NULL, 'P' },
		{ "pid", required_argument, NULL, 'i' },
		{ "path-match", required_argument, NULL, 'm' },
		{ "source", required_argument, NULL, 's' },
		{ "snapshot", required_argument, NULL, 'S' },
		{ "window", required_argument, NULL, 'w' },
		{ "net-timeout", required_argument, NULL, 'n' },
		{ "give-up", required_argument, NULL, 'g' },
		{ "connect-timeout", required_argument, NULL, 'c' },
		{ "progress", required_argument, NULL, 'p' },
		{ "nice", required_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "hold-stream", no_argument, NULL, 'H' },
		{ "trace", no_argument, NULL, 'R' },
		{ "tls-creds", required_argument, NULL, 'T' },
		{ "tls-no-ktls", no_argument, NULL, 'K' },
		{ "tls-authz", required_argument, NULL, 'A' },
		{ "tls-username", required_argument, NULL, 'U' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "takeover", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ }
	};
	long nice_val;
	char *end;
	int opt;

	d->window = 16;
	d->net_timeout_ns = 2000000000ULL;
	d->give_up_ns = 30000000000ULL;
	d->connect_timeout_ns = 10000000000ULL;
	d->progress = PROGRESS_AUTO;
	d->snap_fd = -1;
	d->trace_fd = -1;
	while ((opt = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			a->fd = strtol(optarg, &end, 10);
			if (end == optarg || *end || a->fd < 0)
				die_code(d, EXIT_CONFIG, "bad --fd '%s'",
					 optarg);
			break;
		case 'u': a->unix_path = optarg; break;
		case 'P': a->file_path = optarg; break;
		case 'i':
			a->pid = strtol(optarg, &end, 10);
			if (end == optarg || *end || a->pid <= 0)
				die_code(d, EXIT_CONFIG, "bad --pid '%s'",
					 optarg);
			d->vmm_pid = a->pid;
			break;
		case 'm': a->path_match = optarg; break;
		case 's': d->source = optarg; break;
		case 'S': d->snapshot = optarg; break;
		case 'w':
			d->window = strtol(optarg, &end, 10);
			if (end == optarg || *end || d->window < 0 || d->window > 4096)
				die_code(d, EXIT_CONFIG, "bad --window '%s'", optarg);
			break;
		case 'n': d->net_timeout_ns = ms_arg(d, "--net-timeout", optarg); break;
		case 'g': d->give_up_ns = ms_arg(d, "--give-up", optarg); break;
		case 'c': d->connect_timeout_ns = ms_arg(d, "--connect-timeout", optarg); break;
		case 'p':
			if (!strcmp(optarg, "none"))
				d->progress = PROGRESS_NONE;
			else if (!strcmp(optarg, "line"))
				d->progress = PROGRESS_LINE;
			else if (strcmp(optarg, "auto"))
				die_code(d, EXIT_CONFIG, "bad --progress '%s'", optarg);
			break;
		case 'N':
			nice_val = strtol(optarg, &end, 10);
			if (end == optarg || *end || nice_val < -20 || nice_val > 19)
				die_code(d, EXIT_CONFIG, "bad --nice '%s'", optarg);
			/* Before io_uring exists: its workers inherit it. */
			if (setpriority(PRIO_PROCESS, 0, nice_val))
				die_code(d, EXIT_CONFIG, "--nice %ld: %s", nice_val,
					 strerror(errno));
			break;
		case 'v': d->verbose = true; break;
		case 'H': d->hold_stream = true; break;
		case 'R':
			d->trace_fd = open("/sys/kernel/tracing/trace_marker",
					   O_WRONLY | O_CLOEXEC);
			if (d->trace_fd < 0)
				d->trace_fd = open("/sys/kernel/debug/tracing/trace_marker",
						   O_WRONLY | O_CLOEXEC);
			if (d->trace_fd < 0)
				die_code(d, EXIT_CONFIG,
					 "--trace: no trace_marker (is tracefs mounted?): %s",
					 strerror(errno));
			break;
		case 'T': a->tls_dir = optarg; break;
		case 'K': a->no_ktls = true; break;
		case 'U': a->tls_user = optarg; break;
		case 'A':
			if (a->nauthz == 32)
				die_code(d, EXIT_CONFIG,
					 "too many --tls-authz");
			a->authz[a->nauthz++] = optarg;
			break;
		case 'I': a->insecure = true; break;
		case 'O': d->takeover = true; break;
		case 'h': fputs(umemd_usage, stdout); exit(0);
		case 'V': printf("umemd %s\n", UMEM_VERSION); exit(0);
		default: fputs(umemd_usage, stderr); exit(EXIT_CONFIG);
		}
	}
	check_options(d, a, argc);
}

/* ---- setup -------------------------------------------------------------- */

static int fd_from_unix(const struct umemd *d, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		die_code(d, EXIT_CONFIG, "unix socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		die_code(d, EXIT_CONFIG, "cannot connect to %s: %s", path,
			 strerror(errno));
	fd = umemlib_recv_fd(s);
	if (fd < 0)
		die_code(d, EXIT_CONFIG, "%s: %s", path, umemlib_strerror());
	close(s);
	return fd;
}

static void adopt(struct umemd *d, int fd)
{
	uint64_t words, p, end, t0;
	int ret;

	if (umemlib_from_fd(&d->reg, fd))
		die_code(d, EXIT_CONFIG, "%s", umemlib_strerror());
	/* A server killed a moment ago may still be on its way out. */
	t0 = now_ns();
	while ((ret = umemlib_serve(&d->reg, UMEM_SERVE_CLOEXEC | UMEM_SERVE_NONBLOCK,
				    &d->srv)) == -EBUSY && now_ns() - t0 < 2000000000ULL)
		usleep(20000);
	if (ret)
		die_code(d, ret == -EIO ? EXIT_SOURCE : 1, "%s", umemlib_strerror());
	/*
	 * The control fd is the VMM's: holding it would keep the region
	 * from hanging up when the VMM dies (see read() returning 0).
	 */
	close(d->reg.ctl);
	d->reg.ctl = -1;
	d->psz = d->reg.page_size;
	d->pages = d->reg.pages;
	words = (d->pages + 63) / 64;
	d->have = calloc(words, 8);
	d->busy = calloc(words, 8);
	d->wanted = calloc(words, 8);
	d->poisoned = calloc(words, 8);
	d->retries = calloc(d->pages, 1);
	d->collapsed = calloc(d->pages / ((2ULL << 20) / d->psz) + 1, 1);
	d->queued = calloc(d->pages / ((2ULL << 20) / d->psz) + 1, 1);
	d->queue = calloc(d->pages / ((2ULL << 20) / d->psz) + 1, 8);
	pthread_mutex_init(&d->qlock, NULL);
	pthread_cond_init(&d->qcond, NULL);
	d->pend = malloc(UMEM_WRITE_MAX);
	d->wbuf = malloc(UMEM_WRITE_MAX);
	d->scratch = aligned_alloc(64, d->psz);
	if (!d->have || !d->busy || !d->wanted || !d->poisoned || !d->retries ||
	    !d->collapsed || !d->queued || !d->queue || !d->pend || !d->wbuf || !d->scratch)
		die(d, "out of memory for %llu pages", (unsigned long long)d->pages);
	d->map = mmap(NULL, d->reg.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->srv.shmem_fd, 0);
	if (d->map == MAP_FAILED)
		die(d, "mmap of the shmem file: %s", strerror(errno));
	collapse_check(d);
	/* What an earlier server supplied must never be written again. */
	if (umemlib_bitmap(&d->srv, UMEM_BITMAP_PRESENT, d->have))
		die(d, "%s", umemlib_strerror());
	/* Nor may a poisoned page ever be mapped by a collapse. */
	if (umemlib_bitmap(&d->srv, UMEM_BITMAP_POISONED, d->poisoned))
		die(d, "%s", umemlib_strerror());
	for (p = 0; p < d->pages; p++)
		d->n_have += bit_test(d->have, p);
	/*
	 * Pages not present may hold what a killed server half-wrote; no one
	 * can map them, so make them holes again.
	 */
	for (p = bit_next_clear(d->have, d->pages, 0); p < d->pages;
	     p = bit_next_clear(d->have, d->pages, end)) {
		for (end = p; end < d->pages && !bit_test(d->have, end); end++)
			;
		punch(d, p, end - p);
	}
	if (d->n_have)
		fprintf(stderr, "umemd: adopted a region with %llu of %llu pages present\n",
			(unsigned long long)d->n_have, (unsigned long long)d->pages);
}

/* The region's control fd: inherited, received, or opened by path. */
static int region_fd(const struct umemd *d, const struct umemd_args *a)
{
	char pid_path[320];
	const char *file_path = a->file_path;
	int fd = a->fd;

	if (a->unix_path)
		fd = fd_from_unix(d, a->unix_path);
	if (a->pid) {
		if (umemlib_find_pid_file(a->pid, a->path_match, pid_path,
					  sizeof(pid_path)))
			die_code(d, EXIT_CONFIG, "--pid %ld: %s", a->pid,
				 umemlib_strerror());
		file_path = pid_path;
	}
	if (file_path) {
		struct umemlib_region r;

		if (umemlib_open_file(&r, file_path))
			die_code(d, EXIT_CONFIG, "%s", umemlib_strerror());
		fd = r.ctl;
		logv(d, "serving %s", file_path);
	}
	return fd;
}

static void load_tls(struct umemd *d, const struct umemd_args *a)
{
	char err[384];

	d->tls = tls_creds_load(a->tls_dir, false, a->no_ktls, a->tls_user,
				err, sizeof(err));
	if (!d->tls)
		die_code(d, EXIT_CONFIG, "--tls-creds: %s", err);
	for (int i = 0; i < a->nauthz; i++)
		tls_creds_allow(d->tls, a->authz[i]);
}

static void open_snapshot(struct umemd *d)
{
	struct stat st;

	d->snap_fd = open(d->snapshot, O_RDONLY | O_CLOEXEC);
	if (d->snap_fd < 0 || fstat(d->snap_fd, &st))
		die_code(d, EXIT_CONFIG, "snapshot %s: %s", d->snapshot,
			 strerror(errno));
	if ((uint64_t)st.st_size != d->reg.size)
		die_code(d, EXIT_CONFIG,
			 "snapshot %s is %llu bytes but the region is %llu bytes",
			 d->snapshot, (unsigned long long)st.st_size,
			 (unsigned long long)d->reg.size);
}

static void connect_source(struct umemd *d)
{
	uint64_t t0 = now_ns();

	if (getrandom(&d->session, sizeof(d->session), 0) != sizeof(d->session))
		d->session = t0 ^ getpid();
	while (!net_connect(d, 1000)) {
		if (now_ns() - t0 > d->connect_timeout_ns)
			die_code(d, EXIT_CONFIG, "cannot connect to source %s:%d: %s",
				 d->host, d->port, strerror(errno));
		usleep(200000);
	}
	fprintf(stderr, "umemd: connected to %s:%d\n", d->host, d->port);
}

/* Take the region over, reach what serves its pages, start the ring. */
static void setup(struct umemd *d, const struct umemd_args *a)
{
	if (d->source && a->tls_dir)
		load_tls(d, a);
	if (d->source && a->insecure)
		fprintf(stderr, "umemd: WARNING: --insecure: no TLS; anyone on the path can read the guest's memory or feed it pages\n");
	signal(SIGPIPE, SIG_IGN);
	d->tty = d->progress == PROGRESS_AUTO && isatty(2);
	signal(SIGUSR1, on_usr1);
	adopt(d, region_fd(d, a));

	if (d->snapshot)
		open_snapshot(d);
	if (io_uring_queue_init(128, &d->ring, 0))
		die(d, "io_uring_queue_init: %s", strerror(errno));
	d->req_op.kind = OP_REQ;
	d->write_op.kind = OP_WRITE;
	d->tick_op.kind = OP_TICK;
	for (int k = 0; k < NR_FREAD; k++)
		d->fread_ops[k].kind = OP_FREAD;
	d->start_ns = now_ns();

	/*
	 * A region adopted whole (its server was killed after the last page,
	 * while it collapsed) needs no source, which may be gone by now.
	 */
	if (d->source && d->n_have == d->pages)
		fprintf(stderr, "umemd: every page is present already: no source needed\n");
	else if (d->source)
		connect_source(d);
	submit_req_read(d);
	tick_submit(d);
	if (d->snapshot)
		snap_background(d);
}

/*
 * Every page is present: mark the last ones, complete the region and let
 * the source go, then collapse the extents not collapsed yet (the
 * worker's leftovers, and the failures).  Those are local work on pages
 * all present: neither the region nor the source waits for them.
 */
static void finish(struct umemd *d)
{
	struct io_uring_cqe *cqe;
	uint64_t e;
	int try;

	/* Let the last batch land, then the rest, then complete. */
	while (d->write_op.busy) {
		/* Submit first: the batch may still sit in the SQ ring. */
		if (io_uring_submit_and_wait(&d->ring, 1) < 0 ||
		    io_uring_peek_cqe(&d->ring, &cqe))
			continue;
		if (io_uring_cqe_get_data(cqe) == &d->write_op)
			write_done(d, cqe->res);
		io_uring_cqe_seen(&d->ring, cqe);
	}
	flush_present(d, true);
	collapse_worker_stop(d);
	if (umemlib_complete(&d->srv))
		die(d, "%s", umemlib_strerror());
	d->done_ns = now_ns();
	net_close(d);
	/*
	 * EAGAIN (a page locked or in use for a moment) passes: try a few
	 * more times, a little later each.
	 */
	for (e = 0; e < d->pages / extent_pages(d) && !d->no_collapse; e++)
		for (try = 0; try < 5 && !d->collapsed[e] && !d->no_collapse &&
		     !extent_poisoned(d, e); try++) {
			if (try)
				usleep(10000 << try);
			collapse_extent(d, e);
		}
}

/* The last progress line and what the run did. */
static void report(const struct umemd *d)
{
	double el;

	progress(d, now_ns(), true);
	if (!d->no_collapse && d->pages >= extent_pages(d))
		fprintf(stderr, "umemd: %llu of %llu extents collapsed into huge pages (%llu on umemd's own mapping)%s%s\n",
			(unsigned long long)d->n_huge,
			(unsigned long long)(d->pages / extent_pages(d)),
			(unsigned long long)d->n_huge_own,
			d->n_huge < d->pages / extent_pages(d) ?
			"; the rest stay 4 KiB: " : "",
			d->n_huge < d->pages / extent_pages(d) ?
			strerror(d->collapse_err) : "");
	/* Joined by now: a worker that ran has set its tid. */
	if (d->worker_tid)
		fprintf(stderr, "umemd: %llu of them by the collapse worker at nice %d, the rest after the completion\n",
			(unsigned long long)d->n_huge_worker, d->worker_nice);
	el = (d->done_ns - d->start_ns) / 1e9;
	fprintf(stderr,
		"umemd: complete: %llu pages in %.2f s (%.1f MiB/s): %llu requested, %llu urgent, %llu background, %llu zero, %llu duplicates dropped, %llu bad checksums, %llu poisoned, %llu reconnects\n",
		(unsigned long long)d->pages, el,
		el > 0 ? d->pages * (double)d->psz / el / 1048576.0 : 0,
		(unsigned long long)d->n_requests,
		(unsigned long long)d->n_urgent, (unsigned long long)d->n_bg,
		(unsigned long long)d->n_zero, (unsigned long long)d->n_dup,
		(unsigned long long)d->n_csum, (unsigned long long)d->n_poison,
		(unsigned long long)d->n_reconnect);
}

int main(int argc, char **argv)
{
	/* Static: the kernel may write d->reqbuf until the process is gone. */
	static struct umemd umemd;
	struct umemd *d = &umemd;
	struct umemd_args a = { .fd = -1 };

	parse_options(d, &a, argc, argv);
	setup(d, &a);
	serve(d);
	finish(d);
	report(d);
	return 0;
}
