// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: random valid and invalid operations on /dev/umem, from several
 * processes and threads at once, for a bounded time.
 *
 * The run is a sequence of epochs.  Each epoch has one 64-bit seed; every
 * process and thread draws its own stream from it (splitmix64), so an
 * epoch's operations are reproducible from its seed (their interleaving
 * is not: that is the scheduler's).  An epoch forks NPROC worker
 * processes, each with NTHR fuzzing threads and one serving thread, lets
 * them run, then SIGKILLs every process of the epoch and reaps them all.
 *
 * The fuzzing threads pick operations at random: open, the handshake,
 * init, serve, mmap (MAP_PRIVATE too), faults (reads and writes of random
 * words of the mappings, SIGBUS and SIGSEGV caught with sigsetjmp), read
 * and write of the server fd with good and garbage records and odd sizes,
 * poison, complete, bitmaps, stats, random ioctl numbers on every kind of
 * fd, fork, mremap, munmap, mprotect, madvise, close, dup, detach (closing
 * a server) and re-adopt, process_vm_readv/writev, pipes into and out of
 * mappings, /proc/self/mem, the shmem fd, io_uring reads.  A small table
 * of live objects (fds, mappings) per process makes them hit real objects
 * most of the time and garbage some of the time.
 *
 * A quarter of the regions are huge (UMEM_INIT_HUGE).  Two of each
 * process's mapping slots take 4 MiB, mostly from a 2 MiB offset, where
 * whole 2 MiB extents map; supplies sometimes fill and mark a whole
 * extent, which the module then maps by a PMD; MADV_COLLAPSE on a shmem
 * fd's mapping makes huge folios of any range, whole or not, for poison,
 * punch, faults and the rest to split.  The summary gives the kernel's
 * THP counters (/proc/vmstat) over the run.
 *
 * Nothing can hang for good: a timer signal interrupts every user fault
 * and blocking read after a while; the serving thread of each worker
 * supplies (or poisons) what it reads and re-adopts regions whose server
 * went away; detach deadlines are short; and the epoch's end kills all.
 *
 * It fails only on what cannot be wrong: a process dying of a signal other
 * than SIGKILL (an uncaught SIGSEGV or SIGBUS outside a probe), an
 * invariant broken (a word of a page that is neither zero nor the pattern
 * the server wrote there; a page read through a mapping that the present
 * bitmap says was never supplied; a poisoned page that reads; a request
 * or bitmap out of bounds; an operation the ABI says must fail that
 * succeeds; an errno the ABI does not list for that call), a process that
 * SIGKILL does not end, or a splat (the runner's).
 *
 * Usage: fuzz [--seed S | --random] [--seconds N] [--epoch N] [--procs N]
 *             [--threads N]
 * FUZZ_SEED (a seed, or "random") and FUZZ_SECONDS in the environment do
 * what --seed or --random and --seconds do (make fuzz passes them with
 * run-vm.sh --env).  With neither: the suite's fixed seed, 4 epochs of
 * 12 s.  Output is TAP.
 */
#include "fuzz/ops.h"

/* ---- operations and counters, shared by every process of a run ---- */

#define OP_NAME(n) #n,
static const char *const op_names[] = { OPS(OP_NAME) };

/* Relative weights of the operations the fuzzing threads pick. */
static const unsigned int op_weight[OP_NR] = {
	[OP_open] = 3, [OP_api] = 4, [OP_init] = 4, [OP_serve] = 3,
	[OP_mmap] = 7, [OP_touch] = 28, [OP_unmap] = 3, [OP_mremap] = 2,
	[OP_mprotect] = 1, [OP_madvise] = 4, [OP_read] = 4, [OP_write] = 4,
	[OP_poison] = 2, [OP_complete] = 1, [OP_bitmap] = 3, [OP_stats] = 3,
	[OP_ioctl] = 5, [OP_close] = 3, [OP_dup] = 2, [OP_fork] = 1,
	[OP_kill] = 1, [OP_pvm] = 2, [OP_pipe] = 2, [OP_shmem] = 3,
	[OP_procmem] = 1, [OP_fdinfo] = 1, [OP_poll] = 1, [OP_nonblock] = 1,
	[OP_uring] = 2, [OP_sweep] = 1,
};

static const char *const ev_names[] = { EVS(OP_NAME) };

/* Where the suite's short run starts: "umem fz1". */
#define FUZZ_SUITE_SEED	0x756d656d20667a31ULL

static void count_op(int op)
{
	__atomic_fetch_add(&sh->ops[op], 1, __ATOMIC_RELAXED);
}

/* ---- the operations (ops_*.c) ---- */

static int pick_op(void)
{
	unsigned int r, i, total = 0;

	for (i = 0; i < OP_NR; i++)
		total += op_weight[i];
	r = below(total);
	for (i = 0; i < OP_NR; i++) {
		if (r < op_weight[i])
			return i;
		r -= op_weight[i];
	}
	return OP_touch;
}

static void do_op(int op)
{
	count_op(op);
	switch (op) {
	case OP_open: op_open(); break;
	case OP_api: op_api(); break;
	case OP_init: op_init(); break;
	case OP_serve: op_serve(); break;
	case OP_mmap: if (chance(5)) op_mmap_loose(); else op_mmap(); break;
	case OP_touch: op_touch(); break;
	case OP_unmap: op_unmap(); break;
	case OP_mremap: op_mremap(); break;
	case OP_mprotect: op_mprotect(); break;
	case OP_madvise: op_madvise(); break;
	case OP_read: op_read(); break;
	case OP_write: op_write(); break;
	case OP_poison: op_poison(); break;
	case OP_complete: op_complete(); break;
	case OP_bitmap: op_bitmap(); break;
	case OP_stats: op_stats(); break;
	case OP_ioctl: op_ioctl(); break;
	case OP_close: op_close(); break;
	case OP_dup: op_dup(); break;
	case OP_fork: op_fork(); break;
	case OP_kill: op_kill(); break;
	case OP_pvm: op_pvm(); break;
	case OP_pipe: op_pipe(); break;
	case OP_shmem: op_shmem(); break;
	case OP_procmem: op_procmem(); break;
	case OP_sweep: op_sweep(); break;
	case OP_fdinfo: op_fdinfo(); break;
	case OP_poll: op_poll(); break;
	case OP_nonblock: op_nonblock(); break;
	case OP_uring: op_uring(); break;
	}
}

/* @n operations; for ever if @n is 0. */
static void run_ops(long n)
{
	if (!n)
		for (;;)
			do_op(pick_op());
	while (n-- > 0)
		do_op(pick_op());
}

/* ---- the serving thread of a worker ---- */

/*
 * Keeps the regions of this process served: reads requests from every
 * server fd and supplies (rarely poisons, or drops) them, and makes the
 * region of every control fd whose server is gone adopted again.  It never
 * touches a mapping, so a fault can never block it.
 */
static void *server_thread(void *arg)
{
	struct pollfd pfd[NOBJ];
	struct obj srv[NOBJ], ctl[NOBJ];
	struct umem_request req[64];
	int n, nc, i, j;
	ssize_t ret;

	rng = rng_start = (uint64_t)(uintptr_t)arg;
	timer_setup();
	for (;;) {
		n = nc = 0;
		pthread_mutex_lock(&olock);
		for (i = 0; i < NOBJ; i++) {
			if (objs[i].kind == K_SRV)
				srv[n++] = objs[i];
			else if (objs[i].kind == K_CTL && objs[i].pages)
				ctl[nc++] = objs[i];
		}
		pthread_mutex_unlock(&olock);
		/* Re-adopt the regions that lost their server. */
		for (i = 0; i < nc; i++) {
			for (j = 0; j < n; j++)
				if (srv[j].tag == ctl[i].tag)
					break;
			if (j == n && chance(10)) {
				count_op(OP_serve);
				do_serve(&ctl[i], false);
			}
		}
		if (!n) {
			usleep(2000);
			continue;
		}
		for (i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = srv[i].fd, .events = POLLIN };
		if (poll(pfd, n, 10) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			arm(100);	/* the fd may be blocking, and emptied */
			ret = read(srv[i].fd, req, sizeof(req));
			disarm();
			if (ret <= 0)
				continue;
			count_op(OP_supply);
			if (ret % 16)
				fail("read of a server fd returned %zd", ret);
			answer(srv[i].fd, srv[i].tag, srv[i].pages, req,
			       check_requests(req, ret / 16, srv[i].pages));
		}
	}
	return NULL;
}

/* ---- a worker process ---- */

static void atfork_prepare(void)
{
	pthread_mutex_lock(&olock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&olock);
}

static void atfork_child(void)
{
	int i;

	pthread_mutex_init(&olock, NULL);
	ops_process_forked();
	in_child = true;
	have_tmr = false;
	depth++;
	for (i = 0; i < NSLOT; i++) {
		pthread_mutex_init(&slots[i].lock, NULL);
		if (slots[i].gen & 1) {
			slots[i].gen++;
			slots[i].m.kind = S_UNKNOWN;
		}
	}
}

static void *fuzz_thread(void *arg)
{
	rng = rng_start = (uint64_t)(uintptr_t)arg;
	timer_setup();
	run_ops(0);
	return NULL;
}

static void worker(int id, uint64_t seed, int nthreads)
{
	pthread_t th;
	uint64_t s = seed;
	int i, fd;

	worker_id = id;
	rng = rng_start = splitmix(&s);
	setup_signals();
	ops_process_init(run_ops);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	if (mmap((void *)ARENA_BASE, NSLOT * HUGE_SLOT_PAGES * PS, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
		 -1, 0) != (void *)ARENA_BASE) {
		fprintf(stderr, "# fuzz: cannot reserve the arena: %s\n", strerror(errno));
		_exit(2);
	}
	for (i = 0; i < NSLOT; i++)
		pthread_mutex_init(&slots[i].lock, NULL);
	fd = open("/dev/umem", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "# fuzz: open /dev/umem: %s\n", strerror(errno));
		_exit(2);
	}
	close(fd);
	/* A running start: one region, served, mapped. */
	op_open();
	for (i = 0; i < 3; i++) {
		op_api();
		op_init();
		op_mmap();
	}
	if (pthread_create(&th, NULL, server_thread, (void *)(uintptr_t)splitmix(&s)))
		_exit(3);
	for (i = 1; i < nthreads; i++)
		if (pthread_create(&th, NULL, fuzz_thread,
				   (void *)(uintptr_t)splitmix(&s)))
			_exit(3);
	fuzz_thread((void *)(uintptr_t)splitmix(&s));
	_exit(0);
}

/* ---- the run: epochs, TAP ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* Reap whatever died; a death by a signal other than SIGKILL fails. */
static int reap(char *why, size_t whylen)
{
	int st, n = 0;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		n++;
		if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL && !why[0])
			snprintf(why, whylen, "process %d died of signal %d (%s)",
				 p, WTERMSIG(st), strsignal(WTERMSIG(st)));
		if (WIFEXITED(st) && WEXITSTATUS(st) && !why[0])
			snprintf(why, whylen, "process %d exited %d", p,
				 WEXITSTATUS(st));
	}
	return n;
}

static bool run_epoch(int k, uint64_t seed, unsigned int secs, int nprocs,
		      int nthreads, uint64_t *ops, uint64_t *evs)
{
	char why[1200] = "";
	uint64_t end, t;
	pid_t lead;
	int i, st;
	pid_t p;

	memset(sh, 0, sizeof(*sh));
	printf("# fuzz: seed 0x%016llx: epoch %d, %u s, %d processes x %d threads\n",
	       (unsigned long long)seed, k, secs, nprocs, nthreads);
	fflush(stdout);
	lead = fork();
	if (lead == 0) {
		setpgid(0, 0);
		for (i = 1; i < nprocs; i++)
			if (fork() == 0)
				worker(i, mix(seed, i), nthreads);
		worker(0, mix(seed, 0), nthreads);
	}
	if (lead < 0) {
		printf("not ok %d fuzz__epoch%d # fork: %s\n", k, k, strerror(errno));
		return false;
	}
	setpgid(lead, lead);
	end = now_ms() + secs * 1000ULL;
	while (now_ms() < end && !__atomic_load_n(&sh->failed, __ATOMIC_SEQ_CST)) {
		usleep(100000);
		reap(why, sizeof(why));
		if (why[0])
			break;
	}
	kill(-lead, SIGKILL);
	/* Everything of the epoch must die: SIGKILL always ends a process. */
	t = now_ms() + 60000;
	for (;;) {
		p = waitpid(-1, &st, WNOHANG);
		if (p < 0 && errno == ECHILD)
			break;
		if (p > 0) {
			if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL && !why[0])
				snprintf(why, sizeof(why), "process %d died of signal %d (%s)",
					 p, WTERMSIG(st), strsignal(WTERMSIG(st)));
			if (WIFEXITED(st) && WEXITSTATUS(st) && !why[0])
				snprintf(why, sizeof(why), "process %d exited %d", p,
					 WEXITSTATUS(st));
			continue;
		}
		if (now_ms() > t) {
			if (!why[0])
				snprintf(why, sizeof(why),
					 "a process of the epoch outlived SIGKILL by 60 s");
			break;
		}
		kill(-lead, SIGKILL);
		usleep(10000);
	}
	if (sh->failed && !why[0])
		snprintf(why, sizeof(why), "%s", sh->msg);
	else if (sh->failed)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "; %s", sh->msg);
	for (i = 0; i < OP_NR; i++)
		ops[i] += sh->ops[i];
	for (i = 0; i < EV_NR; i++)
		evs[i] += sh->ev[i];
	if (why[0]) {
		printf("# fuzz: FAILED: %s\n", why);
		printf("# fuzz: seed 0x%016llx; replay: make fuzz FUZZ_SEED=0x%016llx FUZZ_MINUTES=1\n",
		       (unsigned long long)seed, (unsigned long long)seed);
		printf("not ok %d fuzz__epoch%d seed=0x%016llx\n", k, k,
		       (unsigned long long)seed);
	} else {
		printf("ok %d fuzz__epoch%d seed=0x%016llx\n", k, k,
		       (unsigned long long)seed);
	}
	fflush(stdout);
	return !why[0];
}

/*
 * What the kernel did with huge pages meanwhile (/proc/vmstat), whoever
 * did it: in a test VM, mostly this fuzzer.  -1 where a kernel has none.
 */
static const char *const thp_events[] = {
	"thp_collapse_alloc", "thp_file_alloc", "thp_file_mapped",
	"thp_split_page", "thp_split_pmd",
};

static void thp_read(long long *v)
{
	char name[64];
	long long x;
	size_t i;
	FILE *f = fopen("/proc/vmstat", "re");

	for (i = 0; i < ARRAY_SIZE(thp_events); i++)
		v[i] = -1;
	while (f && fscanf(f, "%63s %lld", name, &x) == 2)
		for (i = 0; i < ARRAY_SIZE(thp_events); i++)
			if (!strcmp(name, thp_events[i]))
				v[i] = x;
	if (f)
		fclose(f);
}

static void thp_after(const long long *before)
{
	long long v[ARRAY_SIZE(thp_events)];
	size_t i;

	thp_read(v);
	printf("# fuzz: huge pages:");
	for (i = 0; i < ARRAY_SIZE(thp_events); i++)
		printf(" %s %lld", thp_events[i],
		       v[i] < 0 || before[i] < 0 ? -1 : v[i] - before[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	unsigned int secs = 48, epoch = 12;
	int nprocs = 3, nthreads = 3, i, k, nepochs, failed = 0;
	uint64_t seed = 0, ops[OP_NR] = { 0 }, evs[EV_NR] = { 0 }, total = 0;
	long long thp[ARRAY_SIZE(thp_events)];
	bool have_seed = false, random_seed = false, secs_set = false;
	struct rlimit rl;
	uint64_t start;
	char *e;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
			have_seed = true;
		} else if (!strcmp(argv[i], "--random")) {
			random_seed = true;
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			secs = strtoul(argv[++i], NULL, 0);
			secs_set = true;
		} else if (!strcmp(argv[i], "--epoch") && i + 1 < argc) {
			epoch = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--procs") && i + 1 < argc) {
			nprocs = strtol(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			nthreads = strtol(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: %s [--seed S | --random] [--seconds N] "
				"[--epoch N] [--procs N] [--threads N]\n", argv[0]);
			return 2;
		}
	}
	/* make fuzz's settings (run-vm.sh --env); arguments win. */
	e = getenv("FUZZ_SEED");
	if (!have_seed && e && !strcmp(e, "random")) {
		random_seed = true;
	} else if (!have_seed && e && *e) {
		seed = strtoull(e, NULL, 0);
		have_seed = true;
	}
	e = getenv("FUZZ_SECONDS");
	if (!secs_set && e && *e)
		secs = strtoul(e, NULL, 0);
	/*
	 * The suite's short run (no arguments) always starts from the same
	 * seed, so a CI run fails only for a reason someone can replay;
	 * make fuzz asks for --random to explore.
	 */
	if (!have_seed && random_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = mix(ts.tv_sec * 1000000000ULL + ts.tv_nsec, getpid());
	} else if (!have_seed) {
		seed = FUZZ_SUITE_SEED;
	}
	if (!epoch)
		epoch = 1;
	if (secs < epoch)
		secs = epoch;
	nepochs = secs / epoch;
	if (nprocs < 1)
		nprocs = 1;
	if (nthreads < 1)
		nthreads = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rl.rlim_cur = rl.rlim_max = 65536;
	if (setrlimit(RLIMIT_NOFILE, &rl) && !getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		fd_limit = rl.rlim_cur > 65536 ? 65536 : rl.rlim_cur;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	thp_read(thp);
	printf("TAP version 13\n");
	printf("1..%d\n", nepochs + 1);
	printf("# fuzz: seed 0x%016llx, %d epochs of %u s (replay: make fuzz FUZZ_SEED=0x%016llx)\n",
	       (unsigned long long)seed, nepochs, epoch, (unsigned long long)seed);
	start = now_ms();
	for (k = 1; k <= nepochs; k++) {
		/* The first epoch runs the seed itself: it replays as given. */
		uint64_t s = k == 1 ? seed : mix(seed, k);

		if (!run_epoch(k, s, epoch, nprocs, nthreads, ops, evs))
			failed++;
	}

	printf("# fuzz: summary: %d seeds in %llu s, %d failed\n", nepochs,
	       (unsigned long long)(now_ms() - start) / 1000, failed);
	for (i = 0; i < OP_NR; i++)
		total += ops[i];
	printf("# fuzz: %llu ops:", (unsigned long long)total);
	for (i = 0; i < OP_NR; i++)
		printf(" %s %llu", op_names[i], (unsigned long long)ops[i]);
	printf("\n# fuzz: outcomes:");
	for (i = 0; i < EV_NR; i++)
		printf(" %s %llu", ev_names[i], (unsigned long long)evs[i]);
	printf("\n");
	thp_after(thp);
	/* A fuzzer that did nothing proved nothing. */
	if (!ops[OP_touch] || !evs[EV_ok_read] || !evs[EV_requests] ||
	    !evs[EV_supplied] || !evs[EV_regions]) {
		printf("not ok %d fuzz__summary # too little happened: reads %llu, requests %llu, supplied %llu, regions %llu\n",
		       nepochs + 1, (unsigned long long)evs[EV_ok_read],
		       (unsigned long long)evs[EV_requests],
		       (unsigned long long)evs[EV_supplied],
		       (unsigned long long)evs[EV_regions]);
		failed++;
	} else {
		printf("ok %d fuzz__summary %llu ops\n", nepochs + 1,
		       (unsigned long long)total);
	}
	return failed ? 1 : 0;
}
