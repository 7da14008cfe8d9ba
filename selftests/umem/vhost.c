// SPDX-License-Identifier: GPL-2.0
/*
 * vhost: vhost-net's worker faulting on guest RAM in a umem region.
 *
 * A child process plays the VMM: it maps the region, gives vhost-net one
 * of its pages as the TX ring's avail ring, sets a tap device as the
 * backend, and kicks the ring.  vhost's worker then reads the ring from
 * kernel code, on the VMM's behalf, and faults on the missing page.  On
 * 6.1 the worker is a kernel thread that adopted the VMM's mm
 * (kthread_use_mm()); on 6.12 it is a thread of the VMM (PF_USER_WORKER),
 * or a kernel thread again with fork_owner off (VHOST_SET_FORK_FROM_OWNER
 * 0).  The fixture variants: "kthread" (6.1's, and 6.12 with fork_owner
 * off) and "task" (6.12's default; skipped on 6.1, which has no other).
 * Skipped without /dev/vhost-net or /dev/net/tun.
 */
#include <poll.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>

#include "kselftest_harness.h"
#include "umem_test.h"

/* 6.12 with CONFIG_VHOST_ENABLE_FORK_OWNER_CONTROL; Debian's has it. */
#ifndef VHOST_SET_FORK_FROM_OWNER
#define VHOST_SET_FORK_FROM_OWNER	_IOW(VHOST_VIRTIO, 0x84, __u8)
#endif

#define NPAGES		4
#define PG_USED		0	/* the used ring: supplied before */
#define PG_AVAIL	1	/* the avail ring: missing, the worker waits */
#define PG_DESC		2	/* the descriptors: never read */
#define VQ_TX		1	/* vhost-net's TX ring */
#define VQ_NUM		256

/* What the VMM tells the test, one byte on a pipe. */
#define VMM_READY	'r'
#define VMM_NO_VHOST	'v'	/* no /dev/vhost-net */
#define VMM_NO_TUN	'u'	/* no /dev/net/tun */
#define VMM_NO_TASK	't'	/* no fork_owner control: 6.1 */

FIXTURE(vhost) {
	struct umem_fix f;
	int err_fd;		/* the TX ring's error eventfd (vq_err()) */
	int pipe[2];		/* the VMM's word to the test */
	pid_t vmm;
};

FIXTURE_VARIANT(vhost) {
	__u8 fork_owner;	/* VHOST_SET_FORK_FROM_OWNER's value */
};

/* A kernel thread that adopted the VMM's mm (6.1's only kind). */
FIXTURE_VARIANT_ADD(vhost, kthread) { .fork_owner = 0 };
/* A thread of the VMM, PF_USER_WORKER (6.12's default). */
FIXTURE_VARIANT_ADD(vhost, task) { .fork_owner = 1 };

FIXTURE_SETUP(vhost)
{
	self->vmm = -1;
	self->f.ctl = self->f.srv = self->f.shm = -1;
	self->err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, self->err_fd);
	ASSERT_EQ(0, pipe(self->pipe));
}

FIXTURE_TEARDOWN(vhost)
{
	if (self->vmm > 0) {
		/* A VMM stuck behind its worker: let the pages come. */
		if (self->f.srv >= 0)
			umem_mark(&self->f, 0, NPAGES);
		kill(self->vmm, SIGKILL);
		umem_wait_child(self->vmm);
	}
	umem_fix_teardown(&self->f);
	close(self->err_fd);
	close(self->pipe[0]);
	close(self->pipe[1]);
}

/*
 * The VMM: give vhost-net's TX ring pages of the region, a tap backend
 * and a kick.  Returns VMM_READY, a VMM_NO_* to skip, or the number of
 * the step that failed.
 */
static char vmm_setup(const struct umem_fix *f, __u8 fork_owner, int err_fd)
{
	struct vhost_memory mem = { .nregions = 0 };
	struct vhost_vring_state num = { .index = VQ_TX, .num = VQ_NUM };
	struct vhost_vring_state base = { .index = VQ_TX, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = VQ_TX,
		.desc_user_addr = (uintptr_t)f->map + PG_DESC * f->psz,
		.avail_user_addr = (uintptr_t)f->map + PG_AVAIL * f->psz,
		.used_user_addr = (uintptr_t)f->map + PG_USED * f->psz,
	};
	struct vhost_vring_file file = { .index = VQ_TX };
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	uint64_t one = 1;
	int vh, tap, kick;

	vh = open("/dev/vhost-net", O_RDWR);
	if (vh < 0)
		return errno == ENOENT ? VMM_NO_VHOST : '1';
	/* Before VHOST_SET_OWNER.  6.1 has no such control: kthreads only. */
	if (ioctl(vh, VHOST_SET_FORK_FROM_OWNER, &fork_owner) && fork_owner)
		return VMM_NO_TASK;
	if (ioctl(vh, VHOST_SET_OWNER))
		return '2';
	/* No memory regions: our ring addresses are user addresses. */
	if (ioctl(vh, VHOST_SET_MEM_TABLE, &mem))
		return '3';
	if (ioctl(vh, VHOST_SET_VRING_NUM, &num) ||
	    ioctl(vh, VHOST_SET_VRING_BASE, &base) ||
	    ioctl(vh, VHOST_SET_VRING_ADDR, &addr))
		return '4';
	kick = eventfd(0, 0);
	file.fd = kick;
	if (kick < 0 || ioctl(vh, VHOST_SET_VRING_KICK, &file))
		return '5';
	file.fd = err_fd;
	if (ioctl(vh, VHOST_SET_VRING_ERR, &file))
		return '6';
	tap = open("/dev/net/tun", O_RDWR);
	if (tap < 0)
		return errno == ENOENT ? VMM_NO_TUN : '7';
	if (ioctl(tap, TUNSETIFF, &ifr))
		return '8';
	file.fd = tap;
	if (ioctl(vh, VHOST_NET_SET_BACKEND, &file))
		return '9';
	/* The worker reads the avail ring's index: a fault on PG_AVAIL. */
	if (write(kick, &one, sizeof(one)) != sizeof(one))
		return 'k';
	return VMM_READY;
}

/*
 * Make a region (@flags), supply its used ring, and start the VMM.
 * Returns false, the test skipped or failed, if the VMM could not start.
 */
static bool vmm_start(struct __test_metadata *_metadata,
		      FIXTURE_DATA(vhost) *self,
		      const FIXTURE_VARIANT(vhost) *variant, uint32_t flags)
{
	struct pollfd p = { .fd = self->pipe[0], .events = POLLIN };
	char c = 0;

	umem_fix_setup_flags(_metadata, &self->f, NPAGES, 30000, true, flags);
	if (umem_supply(&self->f, PG_USED)) {
		TH_LOG("cannot supply the used ring");
		return false;
	}
	self->vmm = fork();
	if (self->vmm == 0) {
		/* Keep no server reference: the test's teardown supplies. */
		close(self->f.srv);
		c = vmm_setup(&self->f, variant->fork_owner, self->err_fd);
		if (write(self->pipe[1], &c, 1) != 1 || c != VMM_READY)
			_exit(1);
		for (;;)
			pause();
	}
	if (self->vmm < 0 || poll(&p, 1, 10000) != 1 ||
	    read(self->pipe[0], &c, 1) != 1) {
		TH_LOG("the VMM did not start");
		return false;
	}
	switch (c) {
	case VMM_READY:
		return true;
	case VMM_NO_VHOST:
		SKIP(return false, "no /dev/vhost-net");
	case VMM_NO_TUN:
		SKIP(return false, "no /dev/net/tun");
	case VMM_NO_TASK:
		SKIP(return false, "vhost makes kernel threads only (6.1)");
	}
	TH_LOG("the VMM's vhost setup failed at step %c", c);
	return false;
}

/* The worker's request for the avail ring, within 10 s. */
static bool avail_requested(struct umem_fix *f)
{
	struct pollfd p = { .fd = f->srv, .events = POLLIN };
	struct umem_request req;

	if (poll(&p, 1, 10000) != 1 || umem_read_req(f, &req) != sizeof(req))
		return false;
	return req.pgoff == PG_AVAIL && (req.flags & UMEM_REQ_KERNEL);
}

/* Has vhost reported an error on the ring (vq_err(): EFAULT)? */
static bool ring_failed(int err_fd)
{
	struct pollfd p = { .fd = err_fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* The scheduler state of process @pid: R, S, D... or '?'. */
static char proc_state(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return umem_stat_state(path);
}

/*
 * A SIGKILLed VMM whose vhost worker waits for a missing page exits: its
 * exit flushes the worker (vhost_net_release(), uninterruptibly), so the
 * worker's wait must end once the VMM has no live thread.  A kernel
 * thread takes no signal: its wait ends at most 2 s after the fault
 * began, once no user thread of the mm it adopted is left (6.1, 6.12
 * kthread).  A user worker takes the SIGKILL (6.12 task).  Before, the
 * VMM stayed in D state until the page came: with postcopy paused, for
 * ever, its memory and the region held.
 */
TEST_F_TIMEOUT(vhost, vhost__sigkill_vmm, 60)
{
	uint64_t t0, ms;
	pid_t pid = 0;
	char state = '?';

	if (!vmm_start(_metadata, self, variant, 0))
		return;
	ASSERT_TRUE(avail_requested(&self->f)) TH_LOG("no request from vhost");
	/* Asleep in the fault. */
	usleep(300000);
	ASSERT_EQ(0, kill(self->vmm, SIGKILL));
	t0 = umem_now_ms();
	while (umem_now_ms() - t0 < 5000) {
		pid = waitpid(self->vmm, NULL, WNOHANG);
		if (pid)
			break;
		state = proc_state(self->vmm);
		usleep(20000);
	}
	ms = umem_now_ms() - t0;
	EXPECT_EQ(self->vmm, pid)
		TH_LOG("the VMM still there %llu ms after SIGKILL, state %c",
		       (unsigned long long)ms, state);
	if (pid == self->vmm) {
		self->vmm = -1;
		TH_LOG("the VMM gone %llu ms after SIGKILL",
		       (unsigned long long)ms);
	}
}

/*
 * While the VMM lives, its vhost worker waits for a missing page as long
 * as the page takes, as the VMM's own threads do: a kernel thread's wait
 * goes past its 2 s bound while a user thread of its mm is left.  Had it
 * failed, vhost would have reported an error on the ring (and dropped a
 * guest's packet).  Once the page comes, the worker reads the ring.
 */
TEST_F_TIMEOUT(vhost, vhost__slow_page_waits, 60)
{
	if (!vmm_start(_metadata, self, variant, 0))
		return;
	ASSERT_TRUE(avail_requested(&self->f)) TH_LOG("no request from vhost");
	usleep(3000000);
	EXPECT_FALSE(ring_failed(self->err_fd))
		TH_LOG("vhost's ring access failed while the page was missing");
	ASSERT_EQ(0, umem_supply(&self->f, PG_AVAIL));
	usleep(300000);
	EXPECT_FALSE(ring_failed(self->err_fd))
		TH_LOG("vhost's ring access failed after the page came");
	EXPECT_NE('D', proc_state(self->vmm));
}

/*
 * UMEM_INIT_KERNEL_EFAULT: vhost's worker acts for the VMM as a device
 * does, like KVM's async page-fault worker, and waits for a missing page
 * on every kernel and in every mode, instead of failing its ring access
 * (an error on the ring, a guest's packet dropped).  Before, 6.12's user
 * worker (task) got EFAULT, while 6.1's kernel thread waited.
 */
TEST_F_TIMEOUT(vhost, vhost__kernel_efault_waits, 60)
{
	if (!vmm_start(_metadata, self, variant, UMEM_INIT_KERNEL_EFAULT))
		return;
	ASSERT_TRUE(avail_requested(&self->f)) TH_LOG("no request from vhost");
	usleep(500000);
	EXPECT_FALSE(ring_failed(self->err_fd))
		TH_LOG("vhost's ring access failed (EFAULT) instead of waiting");
	ASSERT_EQ(0, umem_supply(&self->f, PG_AVAIL));
	usleep(300000);
	EXPECT_FALSE(ring_failed(self->err_fd));
}

TEST_HARNESS_MAIN
