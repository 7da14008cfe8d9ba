// SPDX-License-Identifier: GPL-2.0
/*
 * inject: the entry points, each a setup, the call swept under injection
 * and the check of the state it left, and their table (struct entry).
 */
#include "common.h"
static int call_open(struct inj *x)
{
	x->fd = open("/dev/umem", O_RDWR | O_CLOEXEC);
	return x->fd < 0 ? errno : 0;
}

static int api(int fd)
{
	struct umem_api a = { .api = UMEM_API_VERSION };

	return ioctl(fd, UMEM_IOC_API, &a) ? errno : 0;
}

static void check_open(struct __test_metadata *_metadata, struct inj *x,
		       int err)
{
	if (!err)
		EXPECT_EQ(0, api(x->fd));
}

static void setup_fd(struct __test_metadata *_metadata, struct inj *x)
{
	x->fd = open("/dev/umem", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, x->fd);
}

static void setup_fd_api(struct __test_metadata *_metadata, struct inj *x)
{
	setup_fd(_metadata, x);
	ASSERT_EQ(0, api(x->fd));
}

static int call_api(struct inj *x)
{
	return api(x->fd);
}

static void check_api(struct __test_metadata *_metadata, struct inj *x,
		      int err)
{
	EXPECT_EQ(0, api(x->fd));
}

static int init(int fd)
{
	struct umem_init in = { .size = NPAGES * 4096ULL,
				.detach_timeout_ms = TIMEOUT_MS };

	return ioctl(fd, UMEM_IOC_INIT, &in) ? errno : 0;
}

static int call_init(struct inj *x)
{
	return init(x->fd);
}

/* A failed INIT leaves the fd as it was: INIT works; a second is EBUSY. */
static void check_init(struct __test_metadata *_metadata, struct inj *x,
		       int err)
{
	struct umem_stats st;

	EXPECT_EQ(err ? 0 : EBUSY, init(x->fd));
	ASSERT_EQ(0, ioctl(x->fd, UMEM_IOC_STATS, &st));
	EXPECT_EQ(UMEM_STATE_UNSERVED, st.state);
	EXPECT_EQ(NPAGES * 4096ULL, st.size);
}

/* A region without a server, mapped. */
static void setup_unserved(struct __test_metadata *_metadata, struct inj *x)
{
	umem_fix_setup(_metadata, &x->f, NPAGES, TIMEOUT_MS, false);
}

static int serve(struct inj *x)
{
	struct umem_serve sv = { .flags = UMEM_SERVE_CLOEXEC | UMEM_SERVE_NONBLOCK };

	if (ioctl(x->f.ctl, UMEM_IOC_SERVE, &sv))
		return errno;
	x->f.srv = sv.server_fd;
	if (x->f.shm >= 0)
		close(x->f.shm);
	x->f.shm = sv.shmem_fd;
	return 0;
}

/* A failed SERVE took no server slot and no fd: SERVE works; a page too. */
static void check_serve(struct __test_metadata *_metadata, struct inj *x,
			int err)
{
	struct touch t = { .f = &x->f, .pgoff = 5, .mode = TOUCH_USER };
	struct umem_serve sv = { 0 };

	if (err) {
		ASSERT_EQ(0, serve(x));
	} else {
		EXPECT_EQ(-1, ioctl(x->f.ctl, UMEM_IOC_SERVE, &sv));
		EXPECT_EQ(EBUSY, errno);
	}
	touch_run(_metadata, &t);
	EXPECT_FALSE(t.sigbus);
	EXPECT_TRUE(t.ok);
}

/*
 * Re-adopt: page 2 was requested, read by the first server, and is still
 * missing, so SERVE allocates the redeliver bitmap.  A thread waits on
 * page 2 meanwhile (x->fd is its pipe of done-ness: see below).
 */
struct readopt {
	struct touch t;
	pthread_t th;
};

static struct readopt readopt;

static void setup_readopt(struct __test_metadata *_metadata, struct inj *x)
{
	struct pollfd p;
	struct umem_request req;

	inj_region(_metadata, x);
	memset(&readopt, 0, sizeof(readopt));
	readopt.t.f = &x->f;
	readopt.t.pgoff = 2;
	readopt.t.mode = TOUCH_USER;
	ASSERT_EQ(0, pthread_create(&readopt.th, NULL, toucher, &readopt.t));
	p.fd = x->f.srv;
	p.events = POLLIN;
	ASSERT_EQ(1, poll(&p, 1, 10000));
	ASSERT_EQ(sizeof(req), read(x->f.srv, &req, sizeof(req)));
	ASSERT_EQ(2, req.pgoff);
	close(x->f.srv);
	x->f.srv = -1;
}

static int call_serve(struct inj *x)
{
	return serve(x);
}

static void check_readopt(struct __test_metadata *_metadata, struct inj *x,
			  int err)
{
	struct umem_request req;
	struct pollfd p;

	if (err)
		ASSERT_EQ(0, serve(x));
	p.fd = x->f.srv;
	p.events = POLLIN;
	ASSERT_EQ(1, poll(&p, 1, 10000));
	ASSERT_EQ(sizeof(req), read(x->f.srv, &req, sizeof(req)));
	EXPECT_EQ(2, req.pgoff);
	EXPECT_EQ(UMEM_REQ_REDELIVERED, req.flags);
	ASSERT_EQ(0, umem_supply(&x->f, 2));
	ASSERT_EQ(0, pthread_join(readopt.th, NULL));
	EXPECT_FALSE(readopt.t.sigbus);
	EXPECT_TRUE(readopt.t.ok);
}

static int poison(struct inj *x, uint64_t pgoff)
{
	struct umem_range r = { .pgoff = pgoff, .count = 1 };

	return ioctl(x->f.srv, UMEM_IOC_POISON, &r) ? errno : 0;
}

static int call_poison(struct inj *x)
{
	return poison(x, 6);
}

/* Touch page @pgoff in this thread: 1 on SIGBUS, 0 on the right data. */
static int touch_here(const struct umem_fix *f, uint64_t pgoff)
{
	if (sigsetjmp(bus_jmp, 1) == 0) {
		bus_armed = 1;
		(void)*(volatile uint64_t *)(f->map + pgoff * f->psz);
		bus_armed = 0;
		return umem_page_ok(f, pgoff) ? 0 : -1;
	}
	return 1;
}

/* A failed first poison changed nothing; poisoned, page 6 is SIGBUS. */
static void check_poison(struct __test_metadata *_metadata, struct inj *x,
			 int err)
{
	struct umem_stats st;

	ASSERT_EQ(0, ioctl(x->f.srv, UMEM_IOC_STATS, &st));
	EXPECT_EQ(err ? 0 : 1, st.pages_poisoned);
	EXPECT_EQ(err ? 2 : 3, st.pages_present);
	if (err)
		ASSERT_EQ(0, poison(x, 6));
	EXPECT_EQ(1, touch_here(&x->f, 6));
}

static void setup_complete(struct __test_metadata *_metadata, struct inj *x)
{
	uint64_t p;

	inj_region(_metadata, x);
	for (p = 0; p < NPAGES; p++)
		ASSERT_EQ(0, umem_supply(&x->f, p));
}

static int call_complete(struct inj *x)
{
	return ioctl(x->f.srv, UMEM_IOC_COMPLETE) ? errno : 0;
}

static void check_complete(struct __test_metadata *_metadata, struct inj *x,
			   int err)
{
	struct umem_stats st;

	if (err)
		ASSERT_EQ(0, call_complete(x));
	ASSERT_EQ(0, ioctl(x->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(UMEM_STATE_COMPLETE, st.state);
	EXPECT_EQ(0, touch_here(&x->f, 4));
}

static int call_stats_ctl(struct inj *x)
{
	struct umem_stats st;

	return ioctl(x->f.ctl, UMEM_IOC_STATS, &st) ? errno : 0;
}

static int call_stats_srv(struct inj *x)
{
	struct umem_stats st;

	return ioctl(x->f.srv, UMEM_IOC_STATS, &st) ? errno : 0;
}

static void setup_supplied(struct __test_metadata *_metadata, struct inj *x)
{
	inj_region(_metadata, x);
	ASSERT_EQ(0, umem_supply(&x->f, 1));
	ASSERT_EQ(0, umem_supply(&x->f, 4));
}

static uint64_t bitmap_words[1];

static int call_bitmap(struct inj *x)
{
	struct umem_bitmap bm = { .count = NPAGES, .which = UMEM_BITMAP_PRESENT,
				  .addr = (uintptr_t)bitmap_words };

	bitmap_words[0] = ~0ULL;
	return ioctl(x->f.srv, UMEM_IOC_BITMAP, &bm) ? errno : 0;
}

static void check_bitmap(struct __test_metadata *_metadata, struct inj *x,
			 int err)
{
	if (err)
		ASSERT_EQ(0, call_bitmap(x));
	EXPECT_EQ(0x12, bitmap_words[0]);
}

static int call_unknown_ctl(struct inj *x)
{
	int ret = ioctl(x->f.ctl, _IO(UMEM_IOC_MAGIC, 0x7f));

	return !ret ? EPROTO : errno == ENOTTY ? 0 : errno;
}

static int call_unknown_srv(struct inj *x)
{
	int ret = ioctl(x->f.srv, _IO(UMEM_IOC_MAGIC, 0x7f));

	return !ret ? EPROTO : errno == ENOTTY ? 0 : errno;
}

static int call_mmap(struct inj *x)
{
	x->map2_len = NPAGES * x->f.psz;
	x->map2 = mmap(NULL, x->map2_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       x->f.ctl, 0);
	return x->map2 == MAP_FAILED ? errno : 0;
}

/* The new mapping faults and reads like the first one. */
static void check_mmap(struct __test_metadata *_metadata, struct inj *x,
		       int err)
{
	struct umem_fix f2 = x->f;
	struct touch t = { .f = &f2, .pgoff = 3, .mode = TOUCH_USER };

	if (err)
		ASSERT_EQ(0, call_mmap(x));
	f2.map = x->map2;
	touch_run(_metadata, &t);
	EXPECT_FALSE(t.sigbus);
	EXPECT_TRUE(t.ok);
	EXPECT_EQ(0, touch_here(&f2, 4));
}

/* read(): a thread waits on page 2, its request is queued. */
static void setup_read(struct __test_metadata *_metadata, struct inj *x)
{
	struct pollfd p;

	inj_region(_metadata, x);
	memset(&readopt, 0, sizeof(readopt));
	readopt.t.f = &x->f;
	readopt.t.pgoff = 2;
	readopt.t.mode = TOUCH_USER;
	ASSERT_EQ(0, pthread_create(&readopt.th, NULL, toucher, &readopt.t));
	p.fd = x->f.srv;
	p.events = POLLIN;
	ASSERT_EQ(1, poll(&p, 1, 10000));
}

static struct umem_request read_req;

static int call_read(struct inj *x)
{
	ssize_t n = read(x->f.srv, &read_req, sizeof(read_req));

	return n < 0 ? errno : n == sizeof(read_req) ? 0 : EPROTO;
}

static void check_read(struct __test_metadata *_metadata, struct inj *x,
		       int err)
{
	if (err)
		ASSERT_EQ(0, call_read(x));
	EXPECT_EQ(2, read_req.pgoff);
	ASSERT_EQ(0, umem_supply(&x->f, 2));
	ASSERT_EQ(0, pthread_join(readopt.th, NULL));
	EXPECT_FALSE(readopt.t.sigbus);
	EXPECT_TRUE(readopt.t.ok);
}

static int call_poll(struct inj *x)
{
	struct pollfd p = { .fd = x->f.srv, .events = POLLIN };
	int n = poll(&p, 1, 0);

	return n < 0 ? errno : n == 1 ? 0 : EPROTO;
}

static void check_poll(struct __test_metadata *_metadata, struct inj *x,
		       int err)
{
	if (err)
		ASSERT_EQ(0, call_poll(x));
	check_read(_metadata, x, EAGAIN);
}

/* write(): the contents of pages 0..7 are in the shmem file, not marked. */
static void setup_write(struct __test_metadata *_metadata, struct inj *x)
{
	uint64_t buf[512], p, i;

	inj_region(_metadata, x);
	ASSERT_GE(sizeof(buf), x->f.psz);
	for (p = 0; p < NPAGES; p++) {
		for (i = 0; i < x->f.psz / 8; i++)
			buf[i] = umem_pattern(p, i);
		ASSERT_EQ(x->f.psz, pwrite(x->f.shm, buf, x->f.psz, p * x->f.psz));
	}
}

static int call_write(struct inj *x)
{
	ssize_t n = umem_mark(&x->f, 0, NPAGES);

	return n < 0 ? errno : n == sizeof(struct umem_range) ? 0 : EPROTO;
}

/* 16 ranges: more than fit on the stack, copied to the heap. */
static int call_write_many(struct inj *x)
{
	struct umem_range r[16];
	unsigned int i;
	ssize_t n;

	for (i = 0; i < 16; i++) {
		r[i].pgoff = i % NPAGES;
		r[i].count = 1;
	}
	n = write(x->f.srv, r, sizeof(r));
	return n < 0 ? errno : n == sizeof(r) ? 0 : EPROTO;
}

/* A failed write marked nothing; written, every page reads right. */
static void check_write(struct __test_metadata *_metadata, struct inj *x,
			int err)
{
	struct umem_stats st;
	uint64_t p;

	ASSERT_EQ(0, ioctl(x->f.srv, UMEM_IOC_STATS, &st));
	EXPECT_EQ(err ? 0 : NPAGES, st.pages_present);
	if (err)
		ASSERT_EQ(0, call_write(x));
	for (p = 0; p < NPAGES; p++)
		EXPECT_EQ(0, touch_here(&x->f, p));
}

/* The daemon puts a page's bytes into the shmem file. */
static int call_pwrite_shmem(struct inj *x)
{
	uint64_t buf[512], i;
	ssize_t n;

	for (i = 0; i < x->f.psz / 8; i++)
		buf[i] = umem_pattern(2, i);
	n = pwrite(x->f.shm, buf, x->f.psz, 2 * x->f.psz);
	return n < 0 ? errno : n == (ssize_t)x->f.psz ? 0 : EPROTO;
}

static void check_pwrite_shmem(struct __test_metadata *_metadata,
			       struct inj *x, int err)
{
	if (err)
		ASSERT_EQ(0, call_pwrite_shmem(x));
	ASSERT_EQ(sizeof(struct umem_range), umem_mark(&x->f, 2, 1));
	EXPECT_EQ(0, touch_here(&x->f, 2));
}

static int call_fdinfo(struct inj *x)
{
	char path[64], buf[2048];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", x->f.srv);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return errno;
	buf[n] = 0;
	return strstr(buf, "umem-state:\tserved") ? 0 : EPROTO;
}

/* Faults: the one touch runs in a thread with its own fail-nth. */
static int run_touch(struct __test_metadata *_metadata, struct inj *x,
		     unsigned int n, bool *fired, int mode, uint64_t pgoff)
{
	struct touch t = { .f = &x->f, .pgoff = pgoff, .mode = mode, .nth = n,
			   .pipe_w = x->pipe[1] };

	touch_run(_metadata, &t);
	*fired = t.fired;
	/* A user fault retries after VM_FAULT_OOM: it must end with the data. */
	EXPECT_FALSE(t.sigbus) TH_LOG("fault, allocation %u: SIGBUS", n);
	if (mode == TOUCH_USER)
		EXPECT_TRUE(t.ok) TH_LOG("fault, allocation %u: wrong data", n);
	return t.err;
}

static int run_fault_missing(struct __test_metadata *_metadata, struct inj *x,
			     unsigned int n, bool *fired)
{
	return run_touch(_metadata, x, n, fired, TOUCH_USER, 5);
}

static int run_fault_present(struct __test_metadata *_metadata, struct inj *x,
			     unsigned int n, bool *fired)
{
	return run_touch(_metadata, x, n, fired, TOUCH_USER, 4);
}

static void setup_kernel_fault(struct __test_metadata *_metadata, struct inj *x)
{
	inj_region(_metadata, x);
	ASSERT_EQ(0, pipe2(x->pipe, O_CLOEXEC));
}

static int run_fault_kernel(struct __test_metadata *_metadata, struct inj *x,
			    unsigned int n, bool *fired)
{
	return run_touch(_metadata, x, n, fired, TOUCH_KERNEL, 5);
}

/* After a failed kernel-mode fault, the page still arrives and reads right. */
static void check_fault_kernel(struct __test_metadata *_metadata,
			       struct inj *x, int err)
{
	struct touch t = { .f = &x->f, .pgoff = 5, .mode = TOUCH_USER };
	char buf[4096];

	if (!err) {
		ASSERT_EQ(x->f.psz, read(x->pipe[0], buf, x->f.psz));
		EXPECT_EQ(umem_pattern(5, 0), *(uint64_t *)buf);
	}
	touch_run(_metadata, &t);
	EXPECT_FALSE(t.sigbus);
	EXPECT_TRUE(t.ok);
}

/* Release: close one fd or unmap the last mapping. */
static int call_close_ctl(struct inj *x)
{
	int ret = close(x->f.ctl);

	x->f.ctl = -1;
	return ret ? errno : 0;
}

static int call_close_srv(struct inj *x)
{
	int ret = close(x->f.srv);

	x->f.srv = -1;
	return ret ? errno : 0;
}

static int call_close_shm(struct inj *x)
{
	int ret = close(x->f.shm);

	x->f.shm = -1;
	return ret ? errno : 0;
}

/* The mapping is the region's last holder: every fd is closed first. */
static void setup_last_map(struct __test_metadata *_metadata, struct inj *x)
{
	setup_supplied(_metadata, x);
	close(x->f.srv);
	close(x->f.shm);
	close(x->f.ctl);
	x->f.srv = x->f.shm = x->f.ctl = -1;
}

static int call_munmap(struct inj *x)
{
	if (munmap(x->f.map, x->f.pages * x->f.psz))
		return errno;
	x->f.map = NULL;
	return 0;
}

/* A failed munmap left the mapping whole: page 4 still reads right. */
static void check_munmap(struct __test_metadata *_metadata, struct inj *x,
			 int err)
{
	if (err)
		EXPECT_EQ(0, touch_here(&x->f, 4));
}

/* After a close, the rest of the region goes on (or fails) by the rules. */
static void check_close_ctl(struct __test_metadata *_metadata, struct inj *x,
			    int err)
{
	EXPECT_EQ(0, touch_here(&x->f, 1));
	/* The live server goes on serving without a control fd. */
	EXPECT_EQ(0, umem_supply(&x->f, 3));
	EXPECT_EQ(0, touch_here(&x->f, 3));
}

static void check_close_srv(struct __test_metadata *_metadata, struct inj *x,
			    int err)
{
	struct touch t = { .f = &x->f, .pgoff = 5, .mode = TOUCH_USER };
	struct umem_stats st;

	ASSERT_EQ(0, ioctl(x->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(UMEM_STATE_DETACHED, st.state);
	ASSERT_EQ(0, serve(x));
	touch_run(_metadata, &t);
	EXPECT_FALSE(t.sigbus);
	EXPECT_TRUE(t.ok);
}

static void check_close_shm(struct __test_metadata *_metadata, struct inj *x,
			    int err)
{
	EXPECT_EQ(0, touch_here(&x->f, 4));
}

/*
 * A VMA split or moved gets our vm_ops->open (a region reference); the
 * kernel's error paths after it must call ->close.
 */
static int call_munmap_split(struct inj *x)
{
	return munmap(x->f.map + 2 * x->f.psz, x->f.psz) ? errno : 0;
}

/* Page 2 is gone or not; the rest of the mapping reads right. */
static void check_munmap_split(struct __test_metadata *_metadata,
			       struct inj *x, int err)
{
	if (err)
		ASSERT_EQ(0, call_munmap_split(x));
	EXPECT_EQ(0, touch_here(&x->f, 1));
	EXPECT_EQ(0, touch_here(&x->f, 4));
}

/* A page-sized hole to move page 4 into. */
static void setup_mremap(struct __test_metadata *_metadata, struct inj *x)
{
	setup_supplied(_metadata, x);
	x->map2_len = x->f.psz;
	x->map2 = mmap(NULL, x->map2_len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, x->map2);
}

static int call_mremap(struct inj *x)
{
	void *p = mremap(x->f.map + 4 * x->f.psz, x->f.psz, x->f.psz,
			 MREMAP_MAYMOVE | MREMAP_FIXED, x->map2);

	if (p == MAP_FAILED)
		return errno;
	return p == x->map2 ? 0 : EPROTO;
}

/* Page 4 moved, with its contents, or stayed where it was. */
static void check_mremap(struct __test_metadata *_metadata, struct inj *x,
			 int err)
{
	struct umem_fix moved = x->f;

	if (err)
		ASSERT_EQ(0, call_mremap(x));
	moved.map = (char *)x->map2 - 4 * x->f.psz;
	EXPECT_EQ(0, touch_here(&moved, 4));
	EXPECT_EQ(0, touch_here(&x->f, 1));
}

/* ---- umemfs: mount, create, the ftruncate that makes a region --------- */

static void setup_umemfs_dir(struct __test_metadata *_metadata, struct inj *x)
{
	strcpy(x->dir, "/tmp/inject-umemfs.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(x->dir));
}

static int call_mount_umemfs(struct inj *x)
{
	if (mount("umem", x->dir, "umem", 0, "detach_timeout_ms=60000"))
		return errno;
	x->mounted = true;
	return 0;
}

static int umemfs_create(struct inj *x)
{
	char path[96];

	snprintf(path, sizeof(path), "%s/vm", x->dir);
	x->f.ctl = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	return x->f.ctl < 0 ? errno : 0;
}

static int umemfs_truncate(struct inj *x)
{
	return ftruncate(x->f.ctl, NPAGES * 4096ULL) ? errno : 0;
}

/* A failed mount leaves nothing; a good one makes regions. */
static void check_mount_umemfs(struct __test_metadata *_metadata,
			       struct inj *x, int err)
{
	if (err)
		ASSERT_EQ(0, call_mount_umemfs(x));
	ASSERT_EQ(0, umemfs_create(x));
	EXPECT_EQ(0, umemfs_truncate(x));
}

static void setup_umemfs(struct __test_metadata *_metadata, struct inj *x)
{
	setup_umemfs_dir(_metadata, x);
	ASSERT_EQ(0, call_mount_umemfs(x));
}

static void check_create_umemfs(struct __test_metadata *_metadata,
				struct inj *x, int err)
{
	if (err)
		ASSERT_EQ(0, umemfs_create(x));
	EXPECT_EQ(0, umemfs_truncate(x));
}

static void setup_umemfs_file(struct __test_metadata *_metadata,
			      struct inj *x)
{
	setup_umemfs(_metadata, x);
	ASSERT_EQ(0, umemfs_create(x));
}

/* A failed ftruncate leaves the file empty; the next one makes it. */
static void check_truncate_umemfs(struct __test_metadata *_metadata,
				  struct inj *x, int err)
{
	struct umem_stats st;
	struct stat sb;

	ASSERT_EQ(0, fstat(x->f.ctl, &sb));
	EXPECT_EQ(err ? 0 : NPAGES * 4096ULL, sb.st_size);
	if (err) {
		EXPECT_EQ(-1, ioctl(x->f.ctl, UMEM_IOC_STATS, &st));
		EXPECT_EQ(ENXIO, errno);
		ASSERT_EQ(0, umemfs_truncate(x));
	}
	ASSERT_EQ(0, ioctl(x->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(UMEM_STATE_UNSERVED, st.state);
	EXPECT_EQ(NPAGES * 4096ULL, st.size);
}

const struct entry e_mount_umemfs = {
	"mount umemfs", setup_umemfs_dir, call_mount_umemfs, NULL,
	check_mount_umemfs, { ENOMEM },
};
const struct entry e_create_umemfs = {
	"umemfs open(O_CREAT)", setup_umemfs, umemfs_create, NULL,
	check_create_umemfs, { ENOMEM },
};
const struct entry e_truncate_umemfs = {
	"umemfs ftruncate", setup_umemfs_file, umemfs_truncate, NULL,
	check_truncate_umemfs, { ENOMEM },
};

const struct entry e_open = {
	"open /dev/umem", NULL, call_open, NULL, check_open, { ENOMEM },
};
const struct entry e_api = {
	"ioctl API", setup_fd, call_api, NULL, check_api, { 0 },
};
const struct entry e_init = {
	"ioctl INIT", setup_fd_api, call_init, NULL, check_init, { ENOMEM },
};
const struct entry e_serve = {
	"ioctl SERVE", setup_unserved, call_serve, NULL, check_serve,
	{ ENOMEM },
};
const struct entry e_readopt = {
	"ioctl SERVE (re-adopt)", setup_readopt, call_serve, NULL,
	check_readopt, { ENOMEM },
};
const struct entry e_poison = {
	"ioctl POISON", setup_supplied, call_poison, NULL, check_poison,
	{ ENOMEM },
};
const struct entry e_complete = {
	"ioctl COMPLETE", setup_complete, call_complete, NULL, check_complete,
	{ 0 },
};
const struct entry e_stats_ctl = {
	"ioctl STATS (control fd)", setup_supplied, call_stats_ctl, NULL, NULL,
	{ 0 },
};
const struct entry e_stats_srv = {
	"ioctl STATS (server fd)", setup_supplied, call_stats_srv, NULL, NULL,
	{ 0 },
};
const struct entry e_bitmap = {
	"ioctl BITMAP", setup_supplied, call_bitmap, NULL, check_bitmap,
	{ ENOMEM },
};
const struct entry e_unknown_ctl = {
	"ioctl unknown (control fd)", inj_region, call_unknown_ctl, NULL, NULL,
	{ 0 },
};
const struct entry e_unknown_srv = {
	"ioctl unknown (server fd)", inj_region, call_unknown_srv, NULL, NULL,
	{ 0 },
};
const struct entry e_mmap = {
	"mmap", setup_supplied, call_mmap, NULL, check_mmap, { ENOMEM },
};
const struct entry e_read = {
	"read (server)", setup_read, call_read, NULL, check_read, { 0 },
};
const struct entry e_poll = {
	"poll (server)", setup_read, call_poll, NULL, check_poll, { ENOMEM },
};
const struct entry e_write = {
	"write (mark present)", setup_write, call_write, NULL, check_write,
	{ ENOMEM },
};
const struct entry e_write_many = {
	"write (mark present, 16 ranges)", setup_write, call_write_many, NULL,
	check_write, { ENOMEM },
};
const struct entry e_pwrite_shmem = {
	"pwrite (shmem fd)", inj_region, call_pwrite_shmem, NULL,
	check_pwrite_shmem, { ENOMEM },
};
const struct entry e_fdinfo = {
	"fdinfo (server fd)", inj_region, call_fdinfo, NULL, NULL, { ENOMEM },
};

/*
 * A missing page costs two calls of the fault handler: one queues the
 * request and sleeps, the retry maps the page.  A third would mean a call
 * failed before queueing and was retried.  Since the bounded queue the
 * fault path allocates nothing (a request is a bit of the pending bitmap
 * and a slot of the ring, both allocated with the region): no injection
 * can fail it, and it never returns VM_FAULT_OOM.
 */
unsigned int fault_retries;

static void check_fault_missing(struct __test_metadata *_metadata,
				struct inj *x, int err)
{
	struct umem_stats st;

	ASSERT_EQ(0, ioctl(x->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(1, st.pages_requested);
	if (st.faults > 2)
		fault_retries++;
}

const struct entry e_fault_missing = {
	"fault (missing page)", inj_region, NULL, run_fault_missing,
	check_fault_missing, { 0 },
};
const struct entry e_fault_present = {
	"fault (present page)", setup_supplied, NULL, run_fault_present, NULL,
	{ 0 },
};
const struct entry e_fault_kernel = {
	"fault (kernel mode, missing page)", setup_kernel_fault, NULL,
	run_fault_kernel, check_fault_kernel, { EFAULT, ENOMEM },
};
const struct entry e_close_ctl = {
	"release (control fd)", setup_supplied, call_close_ctl, NULL,
	check_close_ctl, { 0 },
};
const struct entry e_close_srv = {
	"release (server fd)", setup_supplied, call_close_srv, NULL,
	check_close_srv, { 0 },
};
const struct entry e_close_shm = {
	"release (shmem fd)", setup_supplied, call_close_shm, NULL,
	check_close_shm, { 0 },
};
const struct entry e_munmap_split = {
	"munmap (split a mapping)", setup_supplied, call_munmap_split, NULL,
	check_munmap_split, { ENOMEM },
};
const struct entry e_mremap = {
	"mremap (move a page of a mapping)", setup_mremap, call_mremap, NULL,
	check_mremap, { ENOMEM },
};
const struct entry e_munmap = {
	"release (munmap of the last mapping)", setup_last_map, call_munmap,
	NULL, check_munmap, { ENOMEM },
};
