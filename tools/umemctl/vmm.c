// SPDX-License-Identifier: GPL-2.0
/*
 * umemctl vmm: a qemu-style VMM for the demo and the tests.
 *
 * It creates a umem region as "guest RAM", starts umemd to fill it (and
 * a new one if umemd dies: it re-adopts the region), and runs vCPU
 * threads over guest memory at once, as postcopy does.  Each vCPU reads
 * and checks words against the image, and writes its own word slot of
 * pages (word <vcpu> of a page belongs to vCPU <vcpu>), logging the last
 * value it wrote to each page.  When the region is complete it checks
 * every page: the image, with the vCPUs' logged writes on top.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "libumem.h"
#include "commands.h"
#include "wire.h"

#define MAX_VCPUS	64

static const char vmm_usage[] =
"usage: umemctl vmm --image SPEC (--source HOST:PORT | --snapshot FILE)\n"
"                   [options]\n"
"Run a postcopy destination: create guest RAM as a umem region, start\n"
"umemd to fill it, run vCPU threads over it at once, and verify every\n"
"page at the end.\n"
"  --image SPEC        the image the source serves, to verify against\n"
"                      (file:PATH, PATH or pattern:SIZE[:SEED])\n"
"  --size SIZE         guest RAM size (default: the image's size)\n"
"  --vcpus N           vCPU threads (default 4, at most 64)\n"
"  --ops N             memory operations per vCPU (default 20000): random\n"
"                      reads and writes, sequential scans, a hot set\n"
"  --detach-timeout MS how long faults wait for a new umemd (default 10000)\n"
"  --huge              guest RAM is UMEM_INIT_HUGE: 2 MiB mappings of the\n"
"                      extents umemd collapses; reports how much of it is\n"
"                      PMD-mapped at the end\n"
"  --umemd PATH        the umemd binary (default: umemd beside umemctl)\n"
"  --umemd-arg ARG     pass ARG to umemd (repeatable)\n"
"  --tls-creds DIR     umemd's TLS credentials (with --source)\n"
"  --tls-no-ktls       umemd keeps TLS records in user space\n"
"  --insecure          umemd fetches without TLS (with --source, one of\n"
"                      --tls-creds and --insecure is required)\n"
"  --unix PATH         hand umemd the region over a unix socket at PATH\n"
"                      (SCM_RIGHTS) instead of by inheritance\n"
"  --max-restarts N    new umemds after crashes (default 5); each takes\n"
"                      its predecessor's migration over (--takeover)\n"
"Exit status: 0 every page verified; 1 error or a page wrong; 2 bad\n"
"input; 3 guest memory lost (a vCPU got SIGBUS).\n";

static struct {
	struct image img;
	struct umemlib_region reg;
	uint8_t *ram;
	uint64_t pages;
	uint32_t psz;
	int vcpus;
	uint64_t ops;
	uint32_t detach_ms;
	bool huge;		/* --huge: UMEM_INIT_HUGE */
	const char *umemd;
	const char *umemd_args[32];
	int nargs;
	const char *source, *snapshot, *unix_path;
	int max_restarts;
	uint64_t start_ns;
	_Atomic uint64_t first_op_ns;
	uint64_t *last[MAX_VCPUS];	/* per vCPU: last value written per page */
	_Atomic int sigbus;
	_Atomic uint64_t sigbus_page;
	_Atomic int umemd_state;	/* 0 running, 1 complete, 2 failed */
	int umemd_exit;
	int restarts;
	uint64_t complete_ns;
	_Atomic uint64_t read_bad;
} V;

struct vcpu {
	int id;
	pthread_t t;
	uint64_t rng;
	uint64_t reads, writes;
	bool sigbus;
};

static __thread sigjmp_buf *vcpu_jmp;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uint8_t *a = si->si_addr;

	(void)sig;
	(void)uc;
	if (!vcpu_jmp || a < V.ram || a >= V.ram + V.pages * V.psz)
		_exit(128 + SIGBUS);
	atomic_store(&V.sigbus_page, (a - V.ram) / V.psz);
	atomic_fetch_add(&V.sigbus, 1);
	siglongjmp(*vcpu_jmp, 1);
}

static uint64_t rnd(struct vcpu *c)
{
	uint64_t x = c->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	c->rng = x;
	return x;
}

static uint64_t image_word(uint64_t pgoff, uint64_t i)
{
	if (V.img.map)
		return ((const uint64_t *)(V.img.map + pgoff * V.psz))[i];
	return image_pattern_word(V.img.seed, pgoff, i);
}

/* Read a word no vCPU writes, and check it against the image. */
static void vcpu_read(struct vcpu *c, uint64_t p)
{
	uint64_t words = V.psz / 8;
	uint64_t i = V.vcpus + rnd(c) % (words - V.vcpus);
	uint64_t v = ((volatile uint64_t *)(V.ram + p * V.psz))[i];

	if (v != image_word(p, i) && atomic_fetch_add(&V.read_bad, 1) < 5)
		fprintf(stderr, "umemctl vmm: vCPU %d read page %llu word %llu: %#llx, image has %#llx\n",
			c->id, (unsigned long long)p, (unsigned long long)i,
			(unsigned long long)v,
			(unsigned long long)image_word(p, i));
	c->reads++;
}

static void vcpu_write(struct vcpu *c, uint64_t p)
{
	uint64_t v = (1ULL << 63) | ((uint64_t)c->id << 48) | ++c->writes;

	((volatile uint64_t *)(V.ram + p * V.psz))[c->id] = v;
	V.last[c->id][p] = v;
}

static void *vcpu_main(void *arg)
{
	struct vcpu *c = arg;
	sigjmp_buf jb;
	uint64_t op, p, hot;
	volatile uint64_t scan = (V.pages / V.vcpus) * c->id;
	uint64_t hot_base = rnd(c) % V.pages;

	if (sigsetjmp(jb, 1)) {
		c->sigbus = true;
		return NULL;
	}
	vcpu_jmp = &jb;
	for (op = 0; op < V.ops; op++) {
		unsigned int kind = rnd(c) % 100;

		if (kind < 35) {		/* random read */
			vcpu_read(c, rnd(c) % V.pages);
		} else if (kind < 55) {		/* random write */
			vcpu_write(c, rnd(c) % V.pages);
		} else if (kind < 85) {		/* sequential scan */
			p = scan++ % V.pages;
			if (rnd(c) % 4)
				vcpu_read(c, p);
			else
				vcpu_write(c, p);
		} else {			/* hot set of 64 pages */
			hot = (hot_base + rnd(c) % 64) % V.pages;
			if (rnd(c) % 2)
				vcpu_read(c, hot);
			else
				vcpu_write(c, hot);
		}
		if (op == 0) {
			uint64_t z = 0;

			atomic_compare_exchange_strong(&V.first_op_ns, &z, now_ns());
		}
	}
	vcpu_jmp = NULL;
	return NULL;
}

/* ---- umemd ---------------------------------------------------------- */

static pid_t spawn_umemd(int ctlfd)
{
	const char *argv[64];
	char fdarg[16];
	int n = 0, i;
	pid_t pid;

	argv[n++] = V.umemd;
	if (V.unix_path) {
		argv[n++] = "--unix";
		argv[n++] = V.unix_path;
	} else {
		snprintf(fdarg, sizeof(fdarg), "%d", ctlfd);
		argv[n++] = "--fd";
		argv[n++] = fdarg;
	}
	if (V.source) {
		argv[n++] = "--source";
		argv[n++] = V.source;
	} else {
		argv[n++] = "--snapshot";
		argv[n++] = V.snapshot;
	}
	/* A new umemd for the same region takes its predecessor's place. */
	if (V.source && V.restarts)
		argv[n++] = "--takeover";
	for (i = 0; i < V.nargs; i++)
		argv[n++] = V.umemd_args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		/* The control fd is inherited: clear its close-on-exec. */
		if (!V.unix_path)
			fcntl(ctlfd, F_SETFD, 0);
		execv(V.umemd, (char **)argv);
		fprintf(stderr, "umemctl vmm: cannot run %s: %s\n", V.umemd,
			strerror(errno));
		_exit(127);
	}
	if (pid < 0)
		fprintf(stderr, "umemctl vmm: fork: %s\n", strerror(errno));
	return pid;
}

static void *unix_thread(void *arg)
{
	int lfd = (int)(intptr_t)arg, s;

	for (;;) {
		s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (umemlib_send_fd(s, V.reg.ctl))
			fprintf(stderr, "umemctl vmm: %s\n", umemlib_strerror());
		close(s);
	}
}

/* Has a umemd served the region (its state is past UNSERVED)? */
static bool ever_served(void)
{
	struct umem_stats st;

	return umemlib_stats(V.reg.ctl, &st) || st.state != UMEM_STATE_UNSERVED;
}

static void *umemd_thread(void *arg)
{
	pid_t pid;
	int status;

	(void)arg;
	for (;;) {
		pid = spawn_umemd(V.reg.ctl);
		if (pid < 0)
			break;
		if (waitpid(pid, &status, 0) != pid)
			break;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			V.complete_ns = now_ns();
			atomic_store(&V.umemd_state, 1);
			return NULL;
		}
		if (WIFEXITED(status) && (WEXITSTATUS(status) == 2 ||
					  WEXITSTATUS(status) == 3 ||
					  WEXITSTATUS(status) == 127)) {
			V.umemd_exit = WEXITSTATUS(status);
			break;
		}
		if (V.restarts == V.max_restarts) {
			fprintf(stderr, "umemctl vmm: umemd failed %d times; giving up\n",
				V.restarts + 1);
			V.umemd_exit = 1;
			break;
		}
		V.restarts++;
		if (WIFSIGNALED(status))
			fprintf(stderr, "umemctl vmm: umemd (pid %d) killed by signal %d; starting a new one\n",
				pid, WTERMSIG(status));
		else
			fprintf(stderr, "umemctl vmm: umemd (pid %d) exited with %d; starting a new one\n",
				pid, WEXITSTATUS(status));
	}
	atomic_store(&V.umemd_state, 2);
	return NULL;
}

/* ---- verification and report ----------------------------------------- */

/*
 * Check every page: the image, with the vCPUs' logged writes on top.
 * A poisoned page raises SIGBUS: it is counted, and it never gives wrong
 * data.  Returns the number of wrong pages.
 */
static uint64_t verify(uint64_t *written, uint64_t *poisoned)
{
	uint64_t words = V.psz / 8;
	uint64_t i, exp, got;
	volatile uint64_t p, bad = 0;
	sigjmp_buf jb;

	*written = *poisoned = 0;
	vcpu_jmp = &jb;
	for (p = 0; p < V.pages; p++) {
		const volatile uint64_t *w;
		volatile bool wr = false, page_bad = false;

		/* No mask to restore: the handler runs with SA_NODEFER. */
		if (sigsetjmp(jb, 0)) {
			(*poisoned)++;
			continue;
		}
		w = (const volatile uint64_t *)(V.ram + p * V.psz);
		for (i = 0; i < words; i++) {
			exp = image_word(p, i);
			if (i < (uint64_t)V.vcpus && V.last[i][p]) {
				exp = V.last[i][p];
				wr = true;
			}
			got = w[i];
			if (got != exp) {
				if (!page_bad && bad < 10)
					fprintf(stderr, "umemctl vmm: page %llu word %llu is %#llx, want %#llx%s\n",
						(unsigned long long)p,
						(unsigned long long)i,
						(unsigned long long)got,
						(unsigned long long)exp,
						i < (uint64_t)V.vcpus ?
						" (a guest write was lost)" : "");
				page_bad = true;
			}
		}
		bad += page_bad;
		*written += wr;
	}
	vcpu_jmp = NULL;
	return bad;
}

static void report(struct vcpu *cpus, bool verified, uint64_t bad,
		   uint64_t written, uint64_t poisoned, uint64_t end_ns)
{
	struct umem_stats st;
	uint64_t reads = 0, writes = 0, streamed;
	int i;

	for (i = 0; i < V.vcpus; i++) {
		reads += cpus[i].reads;
		writes += cpus[i].writes;
	}
	if (umemlib_stats(V.reg.ctl, &st)) {
		fprintf(stderr, "umemctl vmm: %s\n", umemlib_strerror());
		return;
	}
	streamed = st.pages_present - st.pages_poisoned;
	streamed = streamed > st.pages_requested ? streamed - st.pages_requested : 0;
	printf("umemctl vmm: report\n");
	printf("  guest RAM          %.1f MiB (%llu pages), %d vCPUs, state %s\n",
	       V.pages * (double)V.psz / 1048576.0,
	       (unsigned long long)V.pages, V.vcpus,
	       umemlib_state_name(st.state));
	printf("  total time         %.2f s\n", (end_ns - V.start_ns) / 1e9);
	if (V.first_op_ns)
		printf("  first instruction  %.3f s after start\n",
		       (V.first_op_ns - V.start_ns) / 1e9);
	if (V.complete_ns)
		printf("  migration complete %.2f s after start\n",
		       (V.complete_ns - V.start_ns) / 1e9);
	printf("  pages              %llu demand-faulted, %llu streamed, %llu poisoned\n",
	       (unsigned long long)st.pages_requested,
	       (unsigned long long)streamed,
	       (unsigned long long)st.pages_poisoned);
	printf("  faults             %llu, %llu blocked, %.3f s blocked in total\n",
	       (unsigned long long)st.faults,
	       (unsigned long long)st.faults_blocked, st.blocked_ns / 1e9);
	printf("  fault wait         p50 < %llu us, p99 < %llu us, max < %llu us\n",
	       (unsigned long long)umemlib_wait_quantile_us(&st, 0.50),
	       (unsigned long long)umemlib_wait_quantile_us(&st, 0.99),
	       (unsigned long long)umemlib_wait_quantile_us(&st, 1.0));
	printf("  umemd              %d restart(s), %llu detach(es), %llu request(s) redelivered\n",
	       V.restarts, (unsigned long long)st.detaches,
	       (unsigned long long)st.requests_redelivered);
	printf("  workload           %llu reads, %llu writes\n",
	       (unsigned long long)reads, (unsigned long long)writes);
	if (!verified)
		printf("  verification       not done: the migration did not complete\n");
	else if (bad || V.read_bad)
		printf("  verification       FAILED: %llu bad pages, %llu bad reads\n",
		       (unsigned long long)bad, (unsigned long long)V.read_bad);
	else if (poisoned)
		printf("  verification       %llu pages OK (%llu written by the guest), %llu poisoned (SIGBUS, never wrong data)\n",
		       (unsigned long long)(V.pages - poisoned),
		       (unsigned long long)written,
		       (unsigned long long)poisoned);
	else
		printf("  verification       every page OK (%llu pages, %llu written by the guest)\n",
		       (unsigned long long)V.pages, (unsigned long long)written);
	fflush(stdout);
}

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t t;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 4)) {
		fprintf(stderr, "umemctl vmm: unix socket %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (pthread_create(&t, NULL, unix_thread, (void *)(intptr_t)fd))
		return -1;
	pthread_detach(t);
	return fd;
}

static const char *default_umemd(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 8);
	char *slash;

	if (n <= 0)
		return "umemd";
	path[n] = 0;
	slash = strrchr(path, '/');
	if (!slash)
		return "umemd";
	strcpy(slash + 1, "umemd");
	return path;
}

int cmd_vmm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 'z' },
		{ "source", required_argument, NULL, 's' },
		{ "snapshot", required_argument, NULL, 'S' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "ops", required_argument, NULL, 'o' },
		{ "detach-timeout", required_argument, NULL, 't' },
		{ "huge", no_argument, NULL, 'H' },
		{ "umemd", required_argument, NULL, 'u' },
		{ "umemd-arg", required_argument, NULL, 'a' },
		{ "unix", required_argument, NULL, 'U' },
		{ "max-restarts", required_argument, NULL, 'r' },
		{ "tls-creds", required_argument, NULL, 'T' },
		{ "tls-no-ktls", no_argument, NULL, 'K' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO | SA_NODEFER };
	const char *image = NULL;
	struct vcpu cpus[MAX_VCPUS];
	uint64_t size = 0, v, bad, written, poisoned, end;
	pthread_t ut;
	char err[256];
	int opt, i, ret;

	memset(&V, 0, sizeof(V));
	V.vcpus = 4;
	V.ops = 20000;
	V.detach_ms = 10000;
	V.max_restarts = 5;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': image = optarg; break;
		case 'z':
			if (!parse_size(optarg, &size) || !size)
				return usage_error("vmm", "bad --size", vmm_usage);
			break;
		case 's': V.source = optarg; break;
		case 'H': V.huge = true; break;
		case 'S': V.snapshot = optarg; break;
		case 'c':
			if (!parse_size(optarg, &v) || !v || v > MAX_VCPUS)
				return usage_error("vmm", "bad --vcpus (1..64)", vmm_usage);
			V.vcpus = v;
			break;
		case 'o':
			if (!parse_size(optarg, &V.ops))
				return usage_error("vmm", "bad --ops", vmm_usage);
			break;
		case 't':
			if (!parse_size(optarg, &v) || v > 0xffffffffULL)
				return usage_error("vmm", "bad --detach-timeout", vmm_usage);
			V.detach_ms = v;
			break;
		case 'u': V.umemd = optarg; break;
		case 'a':
			if (V.nargs == 32)
				return usage_error("vmm", "too many --umemd-arg", vmm_usage);
			V.umemd_args[V.nargs++] = optarg;
			break;
		case 'U': V.unix_path = optarg; break;
		case 'T':
		case 'K':
		case 'I':
			/* umemd's own options, passed on: it checks them. */
			if (V.nargs + 2 > 32)
				return usage_error("vmm", "too many umemd arguments", vmm_usage);
			V.umemd_args[V.nargs++] = opt == 'T' ? "--tls-creds" :
						  opt == 'K' ? "--tls-no-ktls" :
						  "--insecure";
			if (opt == 'T')
				V.umemd_args[V.nargs++] = optarg;
			break;
		case 'r':
			if (!parse_size(optarg, &v) || v > 1000)
				return usage_error("vmm", "bad --max-restarts", vmm_usage);
			V.max_restarts = v;
			break;
		case 'h': fputs(vmm_usage, stdout); return 0;
		default: return usage_error("vmm", NULL, vmm_usage);
		}
	}
	if (optind != argc || !image || !V.source == !V.snapshot)
		return usage_error("vmm", "give --image and one of --source/--snapshot",
				   vmm_usage);
	if (!V.umemd)
		V.umemd = default_umemd();
	if (access(V.umemd, X_OK)) {
		fprintf(stderr, "umemctl vmm: umemd binary %s: %s\n", V.umemd,
			strerror(errno));
		return 2;
	}

	V.start_ns = now_ns();
	ret = umemlib_page_size(&V.psz);
	if (ret) {
		fprintf(stderr, "umemctl vmm: %s\n", umemlib_strerror());
		return ret == -ENOENT ? 2 : 1;
	}
	if (image_open(&V.img, image, V.psz, err, sizeof(err))) {
		fprintf(stderr, "umemctl vmm: %s\n", err);
		return 2;
	}
	if (!size)
		size = V.img.size;
	if (size != V.img.size)
		fprintf(stderr, "umemctl vmm: warning: guest RAM %llu bytes, image %llu bytes: verification will fail\n",
			(unsigned long long)size, (unsigned long long)V.img.size);
	if (size % V.psz) {
		fprintf(stderr, "umemctl vmm: --size must be a multiple of %u\n", V.psz);
		return 2;
	}
	if (umemlib_create_flags(&V.reg, size, V.detach_ms,
			      V.huge ? UMEM_INIT_HUGE : 0)) {
		fprintf(stderr, "umemctl vmm: %s\n", umemlib_strerror());
		return 1;
	}
	V.pages = V.reg.pages;
	if (umemlib_map(&V.reg, 0, size, PROT_READ | PROT_WRITE, (void **)&V.ram)) {
		fprintf(stderr, "umemctl vmm: %s\n", umemlib_strerror());
		return 1;
	}
	for (i = 0; i < V.vcpus; i++) {
		V.last[i] = calloc(V.pages, sizeof(uint64_t));
		if (!V.last[i]) {
			fprintf(stderr, "umemctl vmm: out of memory\n");
			return 1;
		}
	}
	if (V.unix_path && unix_listen(V.unix_path) < 0)
		return 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	fprintf(stderr, "umemctl vmm: %.1f MiB guest RAM, %d vCPUs x %llu ops, umemd from %s\n",
		size / 1048576.0, V.vcpus, (unsigned long long)V.ops,
		V.source ? V.source : V.snapshot);
	if (pthread_create(&ut, NULL, umemd_thread, NULL)) {
		fprintf(stderr, "umemctl vmm: cannot start the umemd thread\n");
		return 1;
	}
	pthread_detach(ut);
	for (i = 0; i < V.vcpus; i++) {
		cpus[i] = (struct vcpu){ .id = i,
			.rng = 0x9e3779b97f4a7c15ULL * (i + 1) };
		pthread_create(&cpus[i].t, NULL, vcpu_main, &cpus[i]);
	}

	/*
	 * umemd gone for good before it ever served the region: the vCPUs
	 * waiting for pages would wait for ever (a region with no server yet
	 * has no detach deadline), so the run ends here.  Once served, the
	 * deadline fails the waiters, and they report.
	 */
	for (;;) {
		int st = atomic_load(&V.umemd_state);

		if (st == 2 && (V.umemd_exit == 2 || !ever_served())) {
			fprintf(stderr, "umemctl vmm: %s (see above); stopping the guest\n",
				V.umemd_exit == 2 ? "umemd refused to start" :
				"no umemd ever served guest RAM");
			_exit(1);
		}
		if (st != 0)
			break;
		usleep(20000);
		/* vCPUs all done (or dead) and umemd still working: wait. */
	}
	for (i = 0; i < V.vcpus; i++)
		pthread_join(cpus[i].t, NULL);

	if (atomic_load(&V.umemd_state) != 1) {
		fprintf(stderr, "umemctl vmm: guest memory lost: %s; %d vCPU(s) got SIGBUS (last at guest page %llu)\n",
			V.umemd_exit == 3 ? "umemd lost the source for good" :
			"umemd failed", (int)V.sigbus,
			(unsigned long long)V.sigbus_page);
		report(cpus, false, 0, 0, 0, now_ns());
		return V.sigbus ? 3 : 1;
	}
	bad = verify(&written, &poisoned);
	end = now_ns();
	if (V.huge) {
		long kb = umemlib_pmd_mapped_kb(V.ram);

		if (kb < 0)
			fprintf(stderr, "umemctl vmm: huge: %s\n",
				umemlib_strerror());
		else
			fprintf(stderr, "umemctl vmm: huge: %ld of %llu kB PMD-mapped\n",
				kb, (unsigned long long)(size >> 10));
	}
	if (V.sigbus)
		fprintf(stderr, "umemctl vmm: %d vCPU(s) got SIGBUS (last at guest page %llu): a page was poisoned\n",
			(int)V.sigbus, (unsigned long long)V.sigbus_page);
	report(cpus, true, bad, written, poisoned, end);
	if (bad || V.read_bad)
		return 1;
	return V.sigbus || poisoned ? 3 : 0;
}
