// SPDX-License-Identifier: GPL-2.0
/*
 * inject: the helpers its entry points and tests share (common.h).
 */
#include "common.h"

int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

int read_str(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* Arm fail-nth of the thread that opened @fd: fail its @n-th allocation. */
void nth_arm(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(fd, buf, len, 0) != len)
		abort();
}

/* Disarm; return whether the injection fired (the counter reached 0). */
bool nth_disarm(int fd)
{
	char buf[16] = "";
	bool fired;

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		abort();
	fired = strtoul(buf, NULL, 10) == 0;
	if (pwrite(fd, "0", 1, 0) != 1)
		abort();
	return fired;
}

long module_refcnt(void)
{
	char buf[32];

	if (read_str("/sys/module/umem/refcnt", buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

/* SIGBUS, in the thread that faulted: back to its sigsetjmp(). */
__thread sigjmp_buf bus_jmp;
__thread volatile sig_atomic_t bus_armed;

void on_sigbus(int sig)
{
	if (!bus_armed)
		abort();
	bus_armed = 0;
	siglongjmp(bus_jmp, 1);
}

void inj_init(struct inj *x)
{
	memset(x, 0, sizeof(*x));
	x->f.ctl = x->f.srv = x->f.shm = -1;
	x->fd = -1;
	x->pipe[0] = x->pipe[1] = -1;
	x->map2 = MAP_FAILED;
}

void inj_teardown(struct inj *x)
{
	if (x->map2 != MAP_FAILED)
		munmap(x->map2, x->map2_len);
	umem_fix_teardown(&x->f);
	if (x->fd >= 0)
		close(x->fd);
	if (x->pipe[0] >= 0)
		close(x->pipe[0]);
	if (x->pipe[1] >= 0)
		close(x->pipe[1]);
	/* After every fd of it: a plain umount, done when it returns. */
	if (x->mounted)
		umount(x->dir);
	if (x->dir[0])
		rmdir(x->dir);
	inj_init(x);
}

/* A served, mapped region whose server fd does not block. */
void inj_region(struct __test_metadata *_metadata, struct inj *x)
{
	umem_fix_setup(_metadata, &x->f, NPAGES, TIMEOUT_MS, true);
	ASSERT_EQ(0, fcntl(x->f.srv, F_SETFL, O_NONBLOCK));
}

void *toucher(void *arg)
{
	struct touch *t = arg;
	char *page = t->f->map + t->pgoff * t->f->psz;
	ssize_t n;

	/* thread-self: this thread's own counter. */
	t->nth_fd = t->nth ? open(FAIL_NTH, O_RDWR | O_CLOEXEC) : -1;
	if (t->nth && t->nth_fd < 0)
		abort();
	if (sigsetjmp(bus_jmp, 1) == 0) {
		bus_armed = 1;
		if (t->nth)
			nth_arm(t->nth_fd, t->nth);
		if (t->mode == TOUCH_KERNEL) {
			n = write(t->pipe_w, page, t->f->psz);
			t->err = n == (ssize_t)t->f->psz ? 0 : n < 0 ? errno : EIO;
		} else {
			(void)*(volatile uint64_t *)page;
		}
		if (t->nth)
			t->fired = nth_disarm(t->nth_fd);
		bus_armed = 0;
		t->ok = t->mode == TOUCH_KERNEL || umem_page_ok(t->f, t->pgoff);
	} else {
		if (t->nth)
			t->fired = nth_disarm(t->nth_fd);
		t->sigbus = true;
	}
	if (t->nth_fd >= 0)
		close(t->nth_fd);
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Supply every page requested; returns how many, or -1. */
int serve_requests(const struct umem_fix *f)
{
	struct umem_request req[16];
	ssize_t n;
	int i, done = 0;

	for (;;) {
		n = read(f->srv, req, sizeof(req));
		if (n < 0)
			return errno == EAGAIN ? done : -1;
		for (i = 0; i < n / (ssize_t)sizeof(req[0]); i++, done++)
			if (umem_supply(f, req[i].pgoff))
				return -1;
	}
}

/*
 * Run @t in a thread (its own fail-nth armed with t->nth) and serve its
 * region from this one, without injection, until it is done.
 */
void touch_run(struct __test_metadata *_metadata, struct touch *t)
{
	uint64_t deadline = umem_now_ms() + 30000;
	struct pollfd p = { .fd = t->f->srv, .events = POLLIN };
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, toucher, t));
	while (!__atomic_load_n(&t->done, __ATOMIC_ACQUIRE)) {
		ASSERT_GT(deadline, umem_now_ms()) TH_LOG("touch never ends");
		if (poll(&p, 1, 10) > 0)
			ASSERT_LE(0, serve_requests(t->f));
	}
	ASSERT_EQ(0, pthread_join(th, NULL));
}

/* A fresh region works end to end: fault, request, supply, data. */
void check_usable(struct __test_metadata *_metadata)
{
	struct inj x;
	struct touch t = { .pgoff = 3, .mode = TOUCH_USER };

	inj_init(&x);
	inj_region(_metadata, &x);
	t.f = &x.f;
	touch_run(_metadata, &t);
	EXPECT_FALSE(t.sigbus);
	EXPECT_TRUE(t.ok) TH_LOG("a fresh region reads wrong data");
	inj_teardown(&x);
}
