// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: the operations across processes and the kernel: fork, kill,
 * process_vm_readv/writev, pipes, the shmem fd, /proc/self/mem, sweeps,
 * fdinfo, poll, O_NONBLOCK and io_uring.
 */
#include "ops.h"

static pid_t children[MAX_CHILDREN];
static pthread_mutex_t clock_ = PTHREAD_MUTEX_INITIALIZER;
/* The fuzzing loop, fuzz.c's, that a forked child runs. */
static void (*run_ops)(long n);

void ops_process_init(void (*run)(long n))
{
	run_ops = run;
}

static void reap_children(void)
{
	int i, st;
	pid_t p;

	pthread_mutex_lock(&clock_);
	for (i = 0; i < MAX_CHILDREN; i++) {
		if (!children[i])
			continue;
		p = waitpid(children[i], &st, WNOHANG);
		if (p == 0)
			continue;
		if (p == children[i] && WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
			fail("forked child %d died of signal %d", p, WTERMSIG(st));
		if (p == children[i] && WIFEXITED(st) && WEXITSTATUS(st))
			fail("forked child %d exited %d", p, WEXITSTATUS(st));
		children[i] = 0;
	}
	pthread_mutex_unlock(&clock_);
}

void op_fork(void)
{
	uint64_t seed = rnd();
	int i, slot = -1;
	pid_t pid;

	reap_children();
	pthread_mutex_lock(&clock_);
	for (i = 0; i < MAX_CHILDREN; i++)
		if (!children[i])
			slot = i;
	if (slot < 0 || depth >= 2 || (in_child && chance(70))) {
		pthread_mutex_unlock(&clock_);
		return;
	}
	pid = fork();
	if (pid == 0) {
		/* pthread_atfork's child handler reset the locks. */
		rng = rng_start = seed;
		timer_setup();
		if (chance(50)) {
			/* A child that does not hold its parent's servers. */
			for (i = 0; i < NOBJ; i++)
				if (objs[i].kind == K_SRV && chance(80))
					obj_close(objs[i].fd);
		}
		run_ops(20 + below(300));
		_exit(0);
	}
	if (pid > 0) {
		children[slot] = pid;
		count_ev(EV_children);
	}
	pthread_mutex_unlock(&clock_);
}

void op_kill(void)
{
	pid_t p = children[below(MAX_CHILDREN)];

	if (p)
		kill(p, SIGKILL);
	reap_children();
}

void op_pvm(void)
{
	int i = below(NSLOT);
	uint64_t buf[2 * PS / 8], pg, n;
	struct iovec local, remote;
	unsigned int gen;
	struct map m;
	ssize_t ret;

	if (!slot_snap(i, &m, &gen) || (m.kind == S_EMPTY && chance(90)))
		return;
	/* A kernel fault waits killable: mostly where a server answers. */
	if (m.kind == S_UMEM && find_obj(K_SRV, m.tag) < 0 && chance(80))
		return;
	pg = below(m.npages ? m.npages : 1);
	n = 1 + below(2);
	local = (struct iovec){ buf, n * PS };
	remote = (struct iovec){ slot_addr(i) + pg * PS, n * PS };
	if (chance(70)) {
		memset(buf, 0, sizeof(buf));
		ret = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		if (ret >= (ssize_t)PS && (m.kind == S_UMEM || m.kind == S_SHM) &&
		    pg < m.npages &&
		    !check_words("pvm", m.tag, m.pgoff + pg, 0, buf, PS / 8, false) &&
		    slot_same(i, gen))
			check_words("process_vm_readv of a mapping", m.tag,
				    m.pgoff + pg, 0, buf, PS / 8, true);
	} else {
		memset(buf, 0, sizeof(buf));	/* zeros: true of any page */
		process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	}
}

void op_pipe(void)
{
	int i = below(NSLOT), p[2];
	uint64_t buf[PS / 8], pg;
	unsigned int gen;
	struct map m;
	ssize_t ret;

	if (!slot_snap(i, &m, &gen) || (m.kind == S_EMPTY && chance(90)))
		return;
	if (m.kind == S_UMEM && find_obj(K_SRV, m.tag) < 0 && chance(80))
		return;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
		return;
	pg = below(m.npages ? m.npages : 1);
	if (chance(50)) {
		/* Into the mapping: the kernel writes zeros to a user page. */
		memset(buf, 0, sizeof(buf));
		if (write(p[1], buf, PS) == (ssize_t)PS)
			ret = read(p[0], slot_addr(i) + pg * PS, PS);
	} else {
		/* Out of it: the kernel reads the page. */
		ret = write(p[1], slot_addr(i) + pg * PS, PS);
		if (ret == (ssize_t)PS && read(p[0], buf, PS) == (ssize_t)PS &&
		    (m.kind == S_UMEM || m.kind == S_SHM) && pg < m.npages &&
		    !check_words("pipe", m.tag, m.pgoff + pg, 0, buf, PS / 8, false) &&
		    slot_same(i, gen))
			check_words("write to a pipe from a mapping", m.tag,
				    m.pgoff + pg, 0, buf, PS / 8, true);
	}
	(void)ret;
	close(p[0]);
	close(p[1]);
}

void op_shmem(void)
{
	struct obj o = pick(K_SHM, 5);
	uint64_t buf[PS / 8], pg = below(o.pages + 2);
	ssize_t ret;

	switch (below(6)) {
	case 0:
	case 1:
		ret = pread(o.fd, buf, PS, pg * PS);
		if (ret == (ssize_t)PS && o.kind == K_SHM)
			check_words("pread of the shmem fd", o.tag, pg, 0, buf,
				    PS / 8, true);
		break;
	case 2:
	case 3:
		if (o.kind == K_SHM)
			fill_pages(o.fd, o.tag, pg, 1);
		break;
	case 4:
		fallocate(o.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  pg * PS, (1 + below(4)) * PS);
		break;
	default:
		fallocate(o.fd, FALLOC_FL_KEEP_SIZE, pg * PS, PS);
		break;
	}
}

static int procmem = -1;

void op_procmem(void)
{
	int i = below(NSLOT);
	uint64_t buf[PS / 8], pg;
	unsigned int gen;
	struct map m;

	if (procmem < 0)
		procmem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (!slot_snap(i, &m, &gen) || m.kind == S_EMPTY)
		return;
	pg = below(m.npages ? m.npages : 1);
	if (pread(procmem, buf, PS, (uintptr_t)slot_addr(i) + pg * PS) == (ssize_t)PS &&
	    (m.kind == S_UMEM || m.kind == S_SHM) && pg < m.npages &&
	    !check_words("procmem", m.tag, m.pgoff + pg, 0, buf, PS / 8, false) &&
	    slot_same(i, gen))
		check_words("/proc/self/mem read of a mapping", m.tag,
			    m.pgoff + pg, 0, buf, PS / 8, true);
}

/*
 * A request for every page of a mapping at once (issue 15, item 2): a
 * /proc/self/mem read of each page, as op_procmem makes for one.  Such
 * a read fails at once without a server, but still queues a request.
 */
void op_sweep(void)
{
	int i = below(NSLOT);
	uint64_t buf[PS / 8], pg;
	unsigned int gen;
	struct map m;

	if (procmem < 0)
		procmem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (!slot_snap(i, &m, &gen) || m.kind != S_UMEM)
		return;
	for (pg = 0; pg < m.npages && slot_same(i, gen); pg++)
		if (pread(procmem, buf, PS, (uintptr_t)slot_addr(i) + pg * PS) ==
		    (ssize_t)PS &&
		    !check_words("sweep", m.tag, m.pgoff + pg, 0, buf, PS / 8,
				 false) &&
		    slot_same(i, gen))
			check_words("/proc/self/mem sweep of a mapping", m.tag,
				    m.pgoff + pg, 0, buf, PS / 8, true);
}

void op_fdinfo(void)
{
	struct obj o = pick(below(3) + 1, 30);
	char path[64], buf[2048];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", o.fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (read(fd, buf, sizeof(buf)) < 0 && errno != ENOENT)
		fail("read of %s: %s", path, strerror(errno));
	close(fd);
}

void op_poll(void)
{
	struct obj o = pick(K_SRV, 10);
	struct pollfd pfd = { .fd = o.fd, .events = POLLIN | POLLOUT };
	int ret;

	arm(100);
	ret = poll(&pfd, 1, below(20));
	disarm();
	if (ret == 1 && o.kind == K_SRV && !(pfd.revents & (POLLOUT | POLLNVAL)))
		fail("poll of a server fd: revents %#x without POLLOUT", pfd.revents);
}

void op_nonblock(void)
{
	struct obj o = pick(K_SRV, 10);
	int fl = fcntl(o.fd, F_GETFL);

	if (fl >= 0)
		fcntl(o.fd, F_SETFL, fl ^ O_NONBLOCK);
}

/*
 * io_uring reads of a server fd (IOCB_NOWAIT first, then a poll-armed
 * retry, as umemd does).  A read may still be in flight when we stop
 * waiting: its buffer is this thread's own, reaped by its next op.
 */
static __thread struct io_uring ring;
static __thread bool ring_ok, ring_tried;
static __thread struct {
	uint64_t buf[64 * 2 + 8];
	struct obj o;
	size_t len;
	bool busy;
} ur;

static void uring_reap(bool wait)
{
	struct __kernel_timespec ts = { .tv_nsec = 50 * 1000000L };
	struct io_uring_cqe *cqe;
	size_t n;
	int ret;

	while (ur.busy) {
		ret = wait ? io_uring_wait_cqe_timeout(&ring, &cqe, &ts) :
			     io_uring_peek_cqe(&ring, &cqe);
		if (ret)
			return;
		ret = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		ur.busy = false;
		if (ur.o.kind != K_SRV)
			continue;
		/* io_uring's own: the request was cancelled (fork, exit). */
		if (ret == -ECANCELED)
			continue;
		if (ret < 0) {
			check_errno("io_uring read of a server fd", -ret,
				    B(EINVAL) | B(EAGAIN) | B(EINTR) | B(EFAULT));
			continue;
		}
		if (ret % 16 || (size_t)ret > ur.len || ur.len < 16) {
			fail("io_uring read of %zu bytes returned %d", ur.len, ret);
			continue;
		}
		n = check_requests((struct umem_request *)ur.buf, ret / 16, ur.o.pages);
		answer(ur.o.fd, ur.o.tag, ur.o.pages, (struct umem_request *)ur.buf, n);
	}
}

void op_uring(void)
{
	struct io_uring_sqe *sqe;

	if (!ring_tried) {
		ring_tried = true;
		ring_ok = !io_uring_queue_init(8, &ring, 0);
	}
	if (!ring_ok)
		return;
	uring_reap(false);
	if (ur.busy)
		return;
	ur.o = pick(K_SRV, 8);
	ur.len = chance(10) ? below(16) : 16 * (1 + below(64));
	sqe = io_uring_get_sqe(&ring);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, ur.o.fd, ur.buf, ur.len, 0);
	if (io_uring_submit(&ring) != 1)
		return;
	ur.busy = true;
	uring_reap(true);
}

/*
 * In a child just forked: the children, the ring and /proc/self/mem of
 * the parent are not the child's to use.
 */
void ops_process_forked(void)
{
	pthread_mutex_init(&clock_, NULL);
	memset(children, 0, sizeof(children));
	/* The parent's ring is not ours to use. */
	ring_ok = false;
	ring_tried = true;
	ur.busy = false;
	/* The parent's /proc/self/mem is the parent's memory. */
	if (procmem >= 0)
		close(procmem);
	procmem = -1;
}
