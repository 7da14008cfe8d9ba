// SPDX-License-Identifier: GPL-2.0
/*
 * lifecycle: processes with faults blocked on a region live and die.  A
 * thousand waiters outlive their server and are served by the next one;
 * a core dump of a process with a blocked thread does not hang.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define WAITERS		1000
#define CORE_PATTERN	"/proc/sys/kernel/core_pattern"
#define MODULE_KO	"/modules/umem.ko"

struct waiter {
	const struct umem_fix *f;
	uint64_t pgoff;
	uint64_t *woke_ms;	/* shared with the parent */
	pthread_t th;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	volatile uint64_t *p = (uint64_t *)(w->f->map + w->pgoff * w->f->psz);
	uint64_t i;

	if (*p != umem_pattern(w->pgoff, 0))
		return (void *)1;
	/* The whole page, not only its first word: nothing zero-filled. */
	for (i = 1; i < w->f->psz / 8; i++)
		if (p[i] != umem_pattern(w->pgoff, i))
			return (void *)1;
	w->woke_ms[w->pgoff] = umem_now_ms();
	return NULL;
}

/*
 * A child with WAITERS threads, each blocked on its own page.  It exits
 * 0 when every thread got the right page, 1 otherwise.
 */
static pid_t fork_waiters(const struct umem_fix *f, uint64_t *woke_ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		static struct waiter w[WAITERS];
		pthread_attr_t attr;
		void *ret;
		int i, bad = 0;

		close(f->srv);
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 << 10);
		for (i = 0; i < WAITERS; i++) {
			w[i] = (struct waiter){ .f = f, .pgoff = i,
						.woke_ms = woke_ms };
			if (pthread_create(&w[i].th, &attr, waiter_main, &w[i]))
				_exit(2);
		}
		for (i = 0; i < WAITERS; i++) {
			pthread_join(w[i].th, &ret);
			bad |= ret != NULL;
		}
		_exit(bad);
	}
	return pid;
}

FIXTURE(lifecycle) {
};

FIXTURE_SETUP(lifecycle)
{
}

FIXTURE_TEARDOWN(lifecycle)
{
	/*
	 * A test that unloads the module and fails before loading it again
	 * must not take every later binary down with it.
	 */
	if (access("/sys/module/umem", F_OK) && !access(MODULE_KO, R_OK) &&
	    system("insmod " MODULE_KO))
		TH_LOG("could not load %s again", MODULE_KO);
}

/*
 * A region of WAITERS pages with deadline @timeout_ms, its server, and a
 * child whose WAITERS threads block on them; returns once the server has
 * read every request.  *woke (shared with the child) gets each thread's
 * wake time.
 */
static pid_t start_waiters(struct __test_metadata *_metadata,
			   struct umem_fix *f, uint32_t timeout_ms,
			   uint64_t **woke)
{
	struct umem_request req[256];
	uint64_t seen = 0;
	ssize_t n;
	pid_t pid;

	umem_fix_setup(_metadata, f, WAITERS, timeout_ms, true);
	*woke = mmap(NULL, WAITERS * sizeof(**woke), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (*woke == MAP_FAILED)
		return -1;
	pid = fork_waiters(f, *woke);
	while (seen < WAITERS) {
		n = read(f->srv, req, sizeof(req));
		if (n <= 0) {
			kill(pid, SIGKILL);
			return -1;
		}
		seen += n / sizeof(req[0]);
	}
	return pid;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * 1,000 threads block on distinct pages; their server is killed (its fd
 * closed with the requests read and unanswered); a new server adopts the
 * region within the deadline, gets every request again and supplies the
 * pages.  Every thread gets its page, none zero-filled.
 */
TEST_F_TIMEOUT(lifecycle, waiters__thousand_readopted, 300)
{
	struct umem_request req[256];
	struct umem_serve sv = { .flags = UMEM_SERVE_CLOEXEC };
	struct umem_fix f;
	uint64_t *woke, seen, t0, i;
	ssize_t n;
	pid_t pid;

	/* The first server reads every request and dies without answering. */
	pid = start_waiters(_metadata, &f, 30000, &woke);
	ASSERT_LT(0, pid);
	close(f.srv);
	f.srv = -1;
	usleep(200000);
	ASSERT_EQ(0, waitpid(pid, NULL, WNOHANG)) TH_LOG("waiters gave up");

	/* The next one is handed all of them again. */
	ASSERT_EQ(0, ioctl(f.ctl, UMEM_IOC_SERVE, &sv));
	f.srv = sv.server_fd;
	close(f.shm);
	f.shm = sv.shmem_fd;
	for (seen = 0; seen < WAITERS; seen += n / sizeof(req[0])) {
		n = read(f.srv, req, sizeof(req));
		ASSERT_LT(0, n);
		for (i = 0; i < n / sizeof(req[0]); i++)
			EXPECT_EQ(UMEM_REQ_REDELIVERED, req[i].flags);
	}
	t0 = umem_now_ms();
	for (i = 0; i < WAITERS; i++)
		ASSERT_EQ(0, umem_supply(&f, i));
	EXPECT_EQ(0, umem_wait_child(pid));
	for (i = 0; i < WAITERS; i++)
		woke[i] = woke[i] > t0 ? woke[i] - t0 : 0;
	qsort(woke, WAITERS, sizeof(*woke), cmp_u64);
	ksft_print_msg("%d waiters re-adopted: woke p50 %llu ms, p99 %llu ms, max %llu ms after the supply started\n",
		       WAITERS, (unsigned long long)woke[WAITERS / 2],
		       (unsigned long long)woke[WAITERS * 99 / 100],
		       (unsigned long long)woke[WAITERS - 1]);
	munmap(woke, WAITERS * sizeof(*woke));
	umem_fix_teardown(&f);
}

/* Without a new server, the deadline ends them: SIGBUS, not a hang. */
TEST_F_TIMEOUT(lifecycle, waiters__thousand_deadline, 300)
{
	struct umem_fix f;
	uint64_t *woke, t0;
	pid_t pid;

	pid = start_waiters(_metadata, &f, 1000, &woke);
	ASSERT_LT(0, pid);
	t0 = umem_now_ms();
	close(f.srv);
	f.srv = -1;
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(pid));
	/* Not before the 1 s deadline, and not long after. */
	EXPECT_LE(900, umem_now_ms() - t0);
	EXPECT_GT(20000, umem_now_ms() - t0);
	munmap(woke, WAITERS * sizeof(*woke));
	umem_fix_teardown(&f);
}

static void *block_on(void *arg)
{
	return (void *)(uintptr_t)*(volatile uint64_t *)arg;
}

/*
 * A process dumps core while one of its threads is blocked on a missing
 * page: the blocked thread is killed, the dump skips the missing pages
 * (it never waits for them) and keeps the present ones, and the process
 * dies promptly.
 */
TEST_F_TIMEOUT(lifecycle, core_dump__blocked_thread, 120)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	char old[256] = "";
	struct umem_request req;
	struct umem_fix f;
	int status, fd;
	uint64_t t0;
	ssize_t n;
	pid_t pid;

	if (getuid() != 0)
		SKIP(return, "needs root to set core_pattern");
	fd = open(CORE_PATTERN, O_RDWR);
	ASSERT_LE(0, fd);
	n = read(fd, old, sizeof(old) - 1);
	ASSERT_LT(0, n);
	old[n] = 0;
	ASSERT_LT(0, pwrite(fd, "/tmp/umem-core.%p\n", 18, 0));

	umem_fix_setup(_metadata, &f, 16, 30000, true);
	ASSERT_EQ(0, umem_supply(&f, 1));
	pid = fork();
	if (pid == 0) {
		pthread_t th;

		close(f.srv);
		setrlimit(RLIMIT_CORE, &rl);
		pthread_create(&th, NULL, block_on, f.map + 5 * f.psz);
		usleep(300000);
		abort();
	}
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	EXPECT_EQ(5, req.pgoff);
	t0 = umem_now_ms();
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_GT(20000, umem_now_ms() - t0);
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGABRT, WTERMSIG(status));
	EXPECT_TRUE(WCOREDUMP(status));
	/* The region is untouched: page 5 is still wanted, page 1 there. */
	EXPECT_TRUE(umem_page_ok(&f, 1));
	EXPECT_EQ(0, umem_supply(&f, 5));
	EXPECT_TRUE(umem_page_ok(&f, 5));

	if (pwrite(fd, old, strlen(old), 0) < 0)
		TH_LOG("cannot restore core_pattern");
	close(fd);
	snprintf(old, sizeof(old), "/tmp/umem-core.%d", pid);
	unlink(old);
	umem_fix_teardown(&f);
}

/* CPU time (user + system) that process @pid has used, in ms; -1 if unknown. */
static int64_t proc_cpu_ms(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* Fields 14 and 15, counted after the ")" that ends the name. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -1;
	return (ut + st) * 1000 / sysconf(_SC_CLK_TCK);
}

/* One call the kernel makes on the process's behalf into the mapping. */
struct gup_call {
	const struct umem_fix *f;
	uint64_t pgoff;
	int pipe_fd;		/* >= 0: read(2) from it; else process_vm_readv */
	ssize_t ret;
	int err;
	pthread_t th;
};

static void *gup_call_main(void *arg)
{
	struct gup_call *c = arg;
	char *addr = c->f->map + c->pgoff * c->f->psz;
	char buf[c->f->psz];

	if (c->pipe_fd >= 0) {
		c->ret = read(c->pipe_fd, addr, c->f->psz);
	} else {
		struct iovec local = { buf, c->f->psz };
		struct iovec remote = { addr, c->f->psz };

		c->ret = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	}
	c->err = errno;
	return NULL;
}

/*
 * A child holding only the mapping: one thread read(2)s a pipe into page
 * 2, one process_vm_readv()s page 3 (GUP), both blocked.  It exits 0 if
 * both failed with EFAULT and the pipe still holds its data, 1 if not.
 */
static pid_t fork_gup_child(const struct umem_fix *f)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct gup_call c[2] = {
			{ .f = f, .pgoff = 2 }, { .f = f, .pgoff = 3, .pipe_fd = -1 },
		};
		char data[f->psz], back[f->psz];
		int p[2], bad = 0;

		close(f->ctl);
		close(f->srv);
		close(f->shm);
		memset(data, 0x3c, sizeof(data));
		if (pipe(p) || write(p[1], data, sizeof(data)) != sizeof(data))
			_exit(2);
		c[0].pipe_fd = p[0];
		if (pthread_create(&c[0].th, NULL, gup_call_main, &c[0]) ||
		    pthread_create(&c[1].th, NULL, gup_call_main, &c[1]))
			_exit(2);
		pthread_join(c[0].th, NULL);
		pthread_join(c[1].th, NULL);
		bad |= c[0].ret != -1 || c[0].err != EFAULT;
		bad |= c[1].ret != -1 || c[1].err != EFAULT;
		/* Nothing was consumed from the pipe by the failed read. */
		bad |= read(p[0], back, sizeof(back)) != sizeof(back) ||
		       memcmp(data, back, sizeof(back));
		_exit(bad);
	}
	return pid;
}

/*
 * Every fd of the region is closed while the kernel is blocked in a fault
 * for the process (uaccess from read(2), GUP from process_vm_readv), in
 * either order.  The fault neither spins nor waits for ever: with the
 * server alone gone it stays parked (a new server could come), and once
 * no one can serve the region it fails at once with EFAULT, without
 * consuming the pipe's data.
 */
static void close_every_fd(struct __test_metadata *_metadata, bool ctl_first)
{
	struct umem_request req;
	struct umem_fix f;
	int64_t cpu0, cpu;
	int got = 0;
	uint64_t t0;
	pid_t pid;

	umem_fix_setup(_metadata, &f, 16, 60000, true);
	pid = fork_gup_child(&f);
	ASSERT_LT(0, pid);
	while (got != (1 << 2 | 1 << 3)) {
		ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
		EXPECT_TRUE(req.flags & UMEM_REQ_KERNEL);
		got |= 1 << req.pgoff;
	}
	cpu0 = proc_cpu_ms(pid);
	ASSERT_LE(0, cpu0);
	if (ctl_first) {
		close(f.ctl);
		f.ctl = -1;
	} else {
		close(f.srv);
		f.srv = -1;
	}
	/* One of the two left: the faults stay parked, idle. */
	usleep(1000000);
	ASSERT_EQ(0, waitpid(pid, NULL, WNOHANG)) TH_LOG("fault gave up early");
	cpu = proc_cpu_ms(pid);
	ASSERT_LE(cpu0, cpu);
	cpu -= cpu0;
	EXPECT_GT(300, cpu) TH_LOG("blocked faults used %lld ms of CPU in 1 s",
				   (long long)cpu);
	t0 = umem_now_ms();
	umem_fix_teardown(&f);
	EXPECT_EQ(0, umem_wait_child(pid));
	EXPECT_GT(10000, umem_now_ms() - t0);
	ksft_print_msg("blocked GUP faults: %lld ms CPU in 1 s parked, failed %llu ms after the last fd closed\n",
		       (long long)cpu,
		       (unsigned long long)(umem_now_ms() - t0));
}

TEST_F_TIMEOUT(lifecycle, gup__close_ctl_then_server, 120)
{
	close_every_fd(_metadata, true);
}

TEST_F_TIMEOUT(lifecycle, gup__close_server_then_ctl, 120)
{
	close_every_fd(_metadata, false);
}

/* delete_module without waiting: 0, or the errno (EWOULDBLOCK if busy). */
static int try_unload(void)
{
	return syscall(SYS_delete_module, "umem", O_NONBLOCK) ? errno : 0;
}

/*
 * The module cannot be unloaded while any part of a region lives: a
 * control fd alone, a server fd alone, a mapping alone, a shmem fd alone
 * (umem's file, whose fills are charged to the VMM).  Once all are gone
 * it unloads, and the reloaded module works.
 */
TEST_F_TIMEOUT(lifecycle, module__unload_refused_while_alive, 120)
{
	struct umemlib_region r;
	struct umemlib_server s;
	struct umem_fix f;
	uint64_t word = 0;
	pid_t pid;
	int i, err;

	if (getuid() != 0 || access(MODULE_KO, R_OK))
		SKIP(return, "needs root and %s", MODULE_KO);

	/* A control fd alone. */
	ASSERT_EQ(0, umemlib_create(&r, 4 * sysconf(_SC_PAGESIZE), 0))
		TH_LOG("%s", umemlib_strerror());
	EXPECT_EQ(EWOULDBLOCK, try_unload());
	umemlib_close(&r);

	/* A server fd alone. */
	ASSERT_EQ(0, umemlib_create(&r, 4 * sysconf(_SC_PAGESIZE), 0))
		TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(0, umemlib_serve(&r, UMEM_SERVE_CLOEXEC, &s));
	close(s.shmem_fd);
	umemlib_close(&r);
	EXPECT_EQ(EWOULDBLOCK, try_unload());
	close(s.fd);

	/* A mapping alone (a failed region: no fd can serve it). */
	umem_fix_setup(_metadata, &f, 16, 60000, true);
	ASSERT_EQ(0, umem_supply(&f, 1));
	close(f.ctl);
	close(f.srv);
	f.ctl = f.srv = -1;
	EXPECT_EQ(EWOULDBLOCK, try_unload());
	EXPECT_TRUE(umem_page_ok(&f, 1));
	munmap(f.map, f.pages * f.psz);
	f.map = NULL;

	/* A shmem fd alone, with its pages. */
	EXPECT_EQ(EWOULDBLOCK, try_unload());
	ASSERT_EQ(8, pread(f.shm, &word, 8, 1 * f.psz));
	EXPECT_EQ(umem_pattern(1, 0), word);
	umem_fix_teardown(&f);

	/* Nothing left: the unload goes through. */
	for (i = 0; (err = try_unload()) == EWOULDBLOCK && i < 50; i++)
		usleep(100000);
	ASSERT_EQ(0, err) TH_LOG("unload: %s", strerror(err));

	/* Back, and working end to end. */
	ASSERT_EQ(0, system("insmod " MODULE_KO));
	umem_fix_setup(_metadata, &f, 16, 60000, true);
	pid = umem_fork_reader(&f, 4);
	ASSERT_EQ(0, umem_supply(&f, 4));
	EXPECT_EQ(0, umem_wait_child(pid));
	umem_fix_teardown(&f);
}

/*
 * A minimal VMM: one vCPU in real mode, with interrupts enabled and an
 * in-kernel LAPIC so that KVM may take an asynchronous page fault, reads
 * guest page 0x10 (page 0 of the region) then exits with an OUT.
 * Returns only if something failed; exits 0 if the read completed.
 */
static void kvm_reader(const struct umemlib_region *r)
{
	static const unsigned char code[] = {
		0xfb,			/* sti */
		0xb8, 0x00, 0x10,	/* mov ax, 0x1000 */
		0x8e, 0xd8,		/* mov ds, ax */
		0xa0, 0x00, 0x00,	/* mov al, [0] */
		0xe6, 0x10,		/* out 0x10, al */
		0xf4,			/* hlt */
	};
	struct kvm_userspace_memory_region slot = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 2 };
	struct kvm_run *run;
	void *mem, *guest;
	int kvm, vm, cpu, sz;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0))
		_exit(10);
	mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED ||
	    umemlib_map(r, 0, r->page_size, PROT_READ | PROT_WRITE, &guest))
		_exit(11);
	memcpy(mem, code, sizeof(code));
	slot.memory_size = 0x10000;
	slot.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot))
		_exit(12);
	slot.slot = 1;
	slot.guest_phys_addr = 0x10000;
	slot.memory_size = r->page_size;
	slot.userspace_addr = (uintptr_t)guest;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot))
		_exit(13);
	cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (cpu < 0 || sz <= 0)
		_exit(14);
	run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	if (run == MAP_FAILED || ioctl(cpu, KVM_GET_SREGS, &sregs))
		_exit(15);
	sregs.cs.base = sregs.cs.selector = 0;
	if (ioctl(cpu, KVM_SET_SREGS, &sregs) || ioctl(cpu, KVM_SET_REGS, &regs))
		_exit(16);
	if (ioctl(cpu, KVM_RUN, 0))
		_exit(17);
	_exit(run->exit_reason == KVM_EXIT_IO ? 0 : 18);
}

/*
 * A VMM killed while KVM's asynchronous page fault worker (a kernel
 * thread) waits in a umem fault for it (issue 15, item 8): the worker
 * gives up within its bound (2 s), so the VMM's mm, its mappings and its KVM
 * instance go, and the server hears that the region has no user left
 * (POLLHUP), though the page never came.
 */
TEST(lifecycle__kvm_async_worker_dead_vmm)
{
	struct umem_range rg = { .pgoff = 0, .count = 1 };
	struct pollfd p = { .events = POLLIN };
	struct umem_request req;
	struct umemlib_region r;
	struct umemlib_server s;
	uint64_t t0, waited;
	int status, ret;
	pid_t vmm;

	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return, "no /dev/kvm");
	ASSERT_EQ(0, umemlib_create(&r, 16 * 4096, 60000))
		TH_LOG("%s", umemlib_strerror());
	ASSERT_EQ(0, umemlib_serve(&r, UMEM_SERVE_CLOEXEC, &s))
		TH_LOG("%s", umemlib_strerror());
	vmm = fork();
	ASSERT_LE(0, vmm);
	if (!vmm) {
		close(s.fd);
		close(s.shmem_fd);
		kvm_reader(&r);
	}
	/* The VMM holds the only control fd. */
	close(r.ctl);
	p.fd = s.fd;
	ret = poll(&p, 1, 20000);
	if (ret == 1 && (p.revents & POLLHUP)) {
		waitpid(vmm, &status, 0);
		TH_LOG("the VMM failed to start: %d", WEXITSTATUS(status));
		ASSERT_TRUE(false);
	}
	ASSERT_EQ(1, ret);
	ASSERT_EQ(sizeof(req), read(s.fd, &req, sizeof(req)));
	EXPECT_EQ(0, req.pgoff);
	if (!(req.flags & UMEM_REQ_ASYNC)) {
		kill(vmm, SIGKILL);
		waitpid(vmm, NULL, 0);
		SKIP(return, "KVM took no asynchronous page fault (flags %#x)",
		     req.flags);
	}
	/* Let the worker reach its wait, then kill the VMM. */
	ASSERT_EQ(0, fcntl(s.fd, F_SETFL, O_NONBLOCK));
	usleep(300000);
	ASSERT_EQ(0, kill(vmm, SIGKILL));
	t0 = umem_now_ms();
	for (;;) {
		ret = poll(&p, 1, 100);
		if ((ret == 1 && (p.revents & POLLHUP)) ||
		    umem_now_ms() - t0 > 10000)
			break;
	}
	waited = umem_now_ms() - t0;
	TH_LOG("POLLHUP %llu ms after the VMM was killed",
	       (unsigned long long)waited);
	EXPECT_TRUE(ret == 1 && (p.revents & POLLHUP));
	EXPECT_EQ(0, read(s.fd, &req, sizeof(req)));
	/* Without the bound, only the page frees the worker, and the VMM. */
	EXPECT_EQ(sizeof(rg), write(s.fd, &rg, sizeof(rg)));
	ASSERT_EQ(vmm, waitpid(vmm, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	umemlib_server_close(&s);
}

TEST_HARNESS_MAIN
