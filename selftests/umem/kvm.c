// SPDX-License-Identifier: GPL-2.0
/*
 * kvm: real KVM vCPUs whose guest RAM is a umem region.
 *
 * The VMM is kvm/common.c (see common.h): one VM, the guest code in slot
 * 0, a umem region in slot 1, and vCPU threads running scripts of guest
 * memory operations (struct op) against it while this thread serves the
 * region.  Each test is the plot: what the guest touches, which requests
 * come, what the server supplies, and what the guest then sees.
 *
 * QEMU always creates an in-kernel irqchip, and only then (with guest
 * interrupts enabled) does KVM take its asynchronous page-fault path: a
 * worker thread faults the page in while the vCPU halts.  Each test runs
 * in three configurations (fixture variants): irqchip with interrupts
 * enabled (QEMU's path), irqchip with interrupts disabled, and no
 * irqchip; the last two fault synchronously from the vCPU thread.
 */
#include <stdlib.h>
#include <linux/falloc.h>

#define KVM_TESTS
#include "kvm/common.h"

#define DATA_GPA	0x100000ULL	/* slot 1: the umem region */
#define NPAGES		32		/* region size, in pages */

static uint32_t page_gpa(uint64_t pgoff)
{
	return DATA_GPA + pgoff * GUEST_PAGE;
}

/* The variant of each test: how the VM takes its page faults. */
FIXTURE(kvm) {
	struct vm vm;
};

FIXTURE_VARIANT(kvm) {
	bool irqchip;
	bool sti;
};

/* QEMU's configuration: KVM's asynchronous page faults. */
FIXTURE_VARIANT_ADD(kvm, irqchip) { .irqchip = true, .sti = true };
/* In-kernel irqchip, guest interrupts off: no async page fault. */
FIXTURE_VARIANT_ADD(kvm, irqchip_cli) { .irqchip = true, .sti = false };
/* No irqchip: no async page fault. */
FIXTURE_VARIANT_ADD(kvm, no_irqchip) { .irqchip = false, .sti = true };

static bool async_pf(const FIXTURE_VARIANT(kvm) *variant)
{
	return variant->irqchip && variant->sti;
}

FIXTURE_SETUP(kvm)
{
}

/*
 * The VM of a test: its variant's irqchip and interrupts, a region of
 * NPAGES pages at DATA_GPA (detach deadline @timeout_ms, UMEM_INIT_*
 * @flags).  False, the test skipped, when there is no usable KVM.
 */
static bool vm_create(struct __test_metadata *_metadata, struct vm *vm,
		      const FIXTURE_VARIANT(kvm) *variant,
		      uint32_t timeout_ms, uint32_t flags)
{
	const struct vm_opts o = {
		.irqchip = variant->irqchip,
		.sti = variant->sti,
		.npages = NPAGES,
		.data_gpa = DATA_GPA,
		.timeout_ms = timeout_ms,
		.flags = flags,
	};

	return vm_create_opts(_metadata, vm, &o);
}

FIXTURE_TEARDOWN(kvm)
{
	vm_destroy(_metadata, &self->vm);
}

/* ---- the tests ------------------------------------------------------------ */

/*
 * A vCPU touching a missing page blocks inside KVM_RUN (and does not
 * spin), and resumes with exactly the bytes the server supplied.
 */
TEST_F_TIMEOUT(kvm, kvm__missing_page_blocks_then_resumes, 60)
{
	const struct op ops[] = { HASH(page_gpa(3)) };
	struct vm *vm = &self->vm;
	struct umem_request req;
	struct vcpu *v;

	if (!vm_create(_metadata, vm, variant, 30000, 0))
		return;
	v = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
	START(v);
	ASSERT_TRUE(next_req(vm, &req, 10000))
		TH_LOG("no request within 10 s");
	EXPECT_EQ(3, req.pgoff);
	expect_blocked(_metadata, v, 500, "before its page arrived");
	ASSERT_EQ(0, umem_supply(&vm->f, 3));
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_ENDED, 0, 10000,
				  "after the page was supplied"));
	EXPECT_TRUE(v->done);
	ASSERT_EQ(1, v->nresults);
	EXPECT_EQ(pattern_hash(3), v->result[0])
		TH_LOG("guest read other bytes than the server supplied");
	EXPECT_FALSE(next_req(vm, &req, 0));
}

/*
 * Which request flags KVM's faults carry, for a read and for a write.
 * The request is made by KVM's first lookup, get_user_pages() with
 * FOLL_NOWAIT from the vCPU thread, in every configuration: KERNEL and
 * ASYNC, plus WRITE for a write, and the vCPU thread's tid.
 */
TEST_F_TIMEOUT(kvm, kvm__request_flags, 60)
{
	const struct op ops[] = {
		HASH(page_gpa(1)),
		WRITE(page_gpa(2) + 8, 0xdeadbeef),
		READ(page_gpa(2) + 8),
		READ(page_gpa(2) + 16),
	};
	struct vm *vm = &self->vm;
	struct umem_request req;
	uint32_t w[6];
	struct vcpu *v;

	if (!vm_create(_metadata, vm, variant, 30000, 0))
		return;
	v = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
	START(v);

	ASSERT_TRUE(next_req(vm, &req, 10000)) TH_LOG("no read request");
	TH_LOG("read:  pgoff %llu flags %#x (tid %u, vCPU %d)",
	       (unsigned long long)req.pgoff, req.flags, req.tid, v->tid);
	EXPECT_EQ(1, req.pgoff);
	EXPECT_EQ(UMEM_REQ_KERNEL | UMEM_REQ_ASYNC, req.flags);
	EXPECT_EQ(v->tid, req.tid);
	ASSERT_EQ(0, umem_supply(&vm->f, 1));

	ASSERT_TRUE(next_req(vm, &req, 10000)) TH_LOG("no write request");
	TH_LOG("write: pgoff %llu flags %#x (tid %u)",
	       (unsigned long long)req.pgoff, req.flags, req.tid);
	EXPECT_EQ(2, req.pgoff);
	EXPECT_EQ(UMEM_REQ_KERNEL | UMEM_REQ_ASYNC | UMEM_REQ_WRITE, req.flags);
	EXPECT_EQ(v->tid, req.tid);
	ASSERT_EQ(0, umem_supply(&vm->f, 2));

	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_ENDED, 0, 10000,
				  "after both pages were supplied"));
	EXPECT_TRUE(v->done);
	ASSERT_EQ(4, v->nresults);
	EXPECT_EQ(pattern_hash(1), v->result[0]);
	EXPECT_EQ(0xdeadbeef, v->result[2]);
	/* The word next to the store is the supplied one. */
	EXPECT_EQ((uint32_t)umem_pattern(2, 2), v->result[3]);
	/* The store is in the region's file. */
	ASSERT_EQ(sizeof(w), pread(vm->f.shm, w, sizeof(w), 2 * GUEST_PAGE));
	EXPECT_EQ(0xdeadbeef, w[2]);
	EXPECT_EQ((uint32_t)umem_pattern(2, 0), w[0]);
	EXPECT_FALSE(next_req(vm, &req, 0));
}

/* Several vCPUs on disjoint pages: one request per page, all resume. */
TEST_F_TIMEOUT(kvm, kvm__vcpus_disjoint_pages, 60)
{
	struct vm *vm = &self->vm;
	struct umem_request req;
	uint64_t seen = 0;
	struct umem_stats st;
	struct vcpu *v[MAX_VCPUS];
	int i, n;

	if (!vm_create(_metadata, vm, variant, 30000, 0))
		return;
	for (i = 0; i < MAX_VCPUS; i++) {
		const struct op ops[] = { HASH(page_gpa(4 + i)) };

		v[i] = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
		START(v[i]);
	}
	for (n = 0; n < MAX_VCPUS; n++) {
		ASSERT_TRUE(next_req(vm, &req, 10000))
			TH_LOG("%d requests within 10 s, want %d", n, MAX_VCPUS);
		ASSERT_LE(4, req.pgoff);
		ASSERT_GT(4 + MAX_VCPUS, req.pgoff);
		EXPECT_FALSE(seen & (1ULL << req.pgoff))
			TH_LOG("page %llu requested twice",
			       (unsigned long long)req.pgoff);
		seen |= 1ULL << req.pgoff;
	}
	/* Every vCPU is parked now: nothing more is requested. */
	EXPECT_FALSE(next_req(vm, &req, 300))
		TH_LOG("extra request for page %llu", (unsigned long long)req.pgoff);
	for (i = 0; i < MAX_VCPUS; i++)
		EXPECT_EQ(0, v[i]->nresults) TH_LOG("vCPU %d went on", i);
	for (i = MAX_VCPUS - 1; i >= 0; i--)
		ASSERT_EQ(0, umem_supply(&vm->f, 4 + i));
	for (i = 0; i < MAX_VCPUS; i++) {
		EXPECT_TRUE(vcpu_wait_log(_metadata, v[i], UNTIL_ENDED, 0,
					  10000, "after its page was supplied"));
		EXPECT_TRUE(v[i]->done);
		EXPECT_EQ(pattern_hash(4 + i), v[i]->result[0]);
	}
	ASSERT_EQ(0, ioctl(vm->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(MAX_VCPUS, st.pages_requested);
}

/*
 * Several vCPUs on one page: the page is requested once, however many
 * vCPUs fault on it, and all of them resume with its bytes.
 */
TEST_F_TIMEOUT(kvm, kvm__vcpus_one_page, 60)
{
	/* A read of the code page first: the vCPU is running. */
	const struct op ops[] = {
		READ(CODE_GPA),
		HASH(page_gpa(9)),
	};
	struct vm *vm = &self->vm;
	struct umem_request req;
	struct umem_stats st;
	struct vcpu *v[MAX_VCPUS];
	int i, stable;
	char buf[512];
	uint64_t end;

	if (!vm_create(_metadata, vm, variant, 30000, 0))
		return;
	for (i = 0; i < MAX_VCPUS; i++) {
		v[i] = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
		START(v[i]);
	}
	for (i = 0; i < MAX_VCPUS; i++)
		ASSERT_TRUE(vcpu_wait_log(_metadata, v[i], UNTIL_RESULTS, 1,
					  10000, "before its first result"));
	/*
	 * Each vCPU faults on page 9 and goes to sleep in KVM_RUN (halted,
	 * or in the fault): wait until all of them sleep, twice in a row.
	 */
	end = umem_now_ms() + 10000;
	for (stable = 0; stable < 2 && umem_now_ms() < end;) {
		usleep(50000);
		ASSERT_EQ(0, ioctl(vm->f.ctl, UMEM_IOC_STATS, &st));
		for (i = 0; i < MAX_VCPUS; i++)
			if (!vcpu_sleeps_in_run(v[i]))
				break;
		stable = i == MAX_VCPUS && st.faults >= MAX_VCPUS ? stable + 1 : 0;
	}
	EXPECT_EQ(2, stable)
		TH_LOG("not every vCPU asleep in KVM_RUN after 10 s (%llu faults): %s",
		       (unsigned long long)st.faults,
		       vcpu_str(v[i < MAX_VCPUS ? i : 0], buf, sizeof(buf)));
	ASSERT_TRUE(next_req(vm, &req, 1000));
	EXPECT_EQ(9, req.pgoff);
	EXPECT_FALSE(next_req(vm, &req, 300))
		TH_LOG("a second request, for page %llu",
		       (unsigned long long)req.pgoff);
	for (i = 0; i < MAX_VCPUS; i++)
		EXPECT_EQ(1, v[i]->nresults) TH_LOG("vCPU %d went on", i);
	ASSERT_EQ(0, umem_supply(&vm->f, 9));
	for (i = 0; i < MAX_VCPUS; i++) {
		EXPECT_TRUE(vcpu_wait_log(_metadata, v[i], UNTIL_ENDED, 0,
					  10000, "after the page was supplied"));
		EXPECT_TRUE(v[i]->done);
		EXPECT_EQ(pattern_hash(9), v[i]->result[1]);
	}
	ASSERT_EQ(0, ioctl(vm->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(1, st.pages_requested);
}

/*
 * Poison a page the guest has read (KVM has it mapped): KVM's MMU
 * notifier drops the mapping, and the next guest access is not served
 * the old bytes: KVM sends the vCPU thread SIGBUS BUS_MCEERR_AR at the
 * page's host address, and KVM_RUN fails with EINTR.
 */
TEST_F_TIMEOUT(kvm, kvm__poison_mapped_page, 60)
{
	const struct op ops[] = {
		READ(page_gpa(6)),
		SYNC,
		READ(page_gpa(6) + 4),
	};
	struct vm *vm = &self->vm;
	struct umem_range r = { .pgoff = 6, .count = 1 };
	struct vcpu *v;

	if (!vm_create(_metadata, vm, variant, 30000, 0))
		return;
	ASSERT_EQ(0, umem_supply(&vm->f, 6));
	v = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
	START(v);
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_SYNCED, 1, 10000,
				  "on a present page"));
	EXPECT_EQ((uint32_t)umem_pattern(6, 0), v->result[0]);
	ASSERT_EQ(0, ioctl(vm->f.srv, UMEM_IOC_POISON, &r));
	vcpu_release(v);
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_ENDED, 0, 10000,
				  "after the page was poisoned"));
	EXPECT_EQ(1, v->nresults)
		TH_LOG("guest read %#x from a poisoned page", v->result[1]);
	expect_hwpoison(_metadata, v, 6, "poisoned page");
	/* The VMM's own access (an I/O thread emulating DMA): the same. */
	EXPECT_HWPOISON(vm->f.map + 6 * GUEST_PAGE, false);
}

/*
 * Punch a hole under a page the guest has read: KVM's MMU notifier drops
 * its mapping, and the guest reads what the file holds now (zeros), not
 * the old bytes.  No request: the page stays present.
 */
TEST_F_TIMEOUT(kvm, kvm__punch_hole_mapped_page, 60)
{
	const struct op ops[] = {
		HASH(page_gpa(7)),
		SYNC,
		HASH(page_gpa(7)),
	};
	struct vm *vm = &self->vm;
	struct umem_request req;
	struct vcpu *v;

	if (!vm_create(_metadata, vm, variant, 30000, 0))
		return;
	ASSERT_EQ(0, umem_supply(&vm->f, 7));
	v = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
	START(v);
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_SYNCED, 1, 10000,
				  "on a present page"));
	EXPECT_EQ(pattern_hash(7), v->result[0]);
	ASSERT_EQ(0, fallocate(vm->f.shm, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, 7 * GUEST_PAGE, GUEST_PAGE))
		TH_LOG("punch: %s", strerror(errno));
	vcpu_release(v);
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_ENDED, 0, 10000,
				  "after the hole was punched"));
	EXPECT_TRUE(v->done);
	ASSERT_EQ(2, v->nresults);
	EXPECT_EQ(0, v->result[1])
		TH_LOG("guest read stale data after the punch: hash %#x (old %#x)",
		       v->result[1], pattern_hash(7));
	EXPECT_FALSE(next_req(vm, &req, 0));
}

/*
 * The daemon dies while vCPUs are blocked: they stay blocked; a new
 * server re-adopts the region, receives their requests again
 * (UMEM_REQ_REDELIVERED), supplies, and the vCPUs resume.
 */
TEST_F_TIMEOUT(kvm, kvm__daemon_death_readopt, 60)
{
	struct vm *vm = &self->vm;
	struct umem_serve sv = { .flags = UMEM_SERVE_CLOEXEC | UMEM_SERVE_NONBLOCK };
	struct umem_request req;
	struct vcpu *v[2];
	uint64_t seen = 0;
	int i;

	if (!vm_create(_metadata, vm, variant, 30000, 0))
		return;
	for (i = 0; i < 2; i++) {
		const struct op ops[] = { HASH(page_gpa(10 + i)) };

		v[i] = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
		START(v[i]);
	}
	for (i = 0; i < 2; i++)
		ASSERT_TRUE(next_req(vm, &req, 10000)) TH_LOG("no request %d", i);
	/* The daemon dies with both requests read. */
	close(vm->f.srv);
	close(vm->f.shm);
	vm->f.srv = vm->f.shm = -1;
	EXPECT_EQ(UMEM_STATE_DETACHED, umem_state(vm));
	for (i = 0; i < 2; i++)
		expect_blocked(_metadata, v[i], 300, "while detached");

	ASSERT_EQ(0, ioctl(vm->f.ctl, UMEM_IOC_SERVE, &sv))
		TH_LOG("re-adopt: %s", strerror(errno));
	vm->f.srv = sv.server_fd;
	vm->f.shm = sv.shmem_fd;
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(next_req(vm, &req, 5000))
			TH_LOG("request %d not delivered again", i);
		EXPECT_EQ(UMEM_REQ_REDELIVERED, req.flags & UMEM_REQ_REDELIVERED);
		EXPECT_EQ(0, req.tid);
		EXPECT_TRUE(req.pgoff == 10 || req.pgoff == 11);
		seen |= 1ULL << req.pgoff;
		ASSERT_EQ(0, umem_supply(&vm->f, req.pgoff));
	}
	EXPECT_EQ(3ULL << 10, seen);
	for (i = 0; i < 2; i++) {
		EXPECT_TRUE(vcpu_wait_log(_metadata, v[i], UNTIL_ENDED, 0,
					  10000, "after re-adoption"));
		EXPECT_TRUE(v[i]->done);
		EXPECT_EQ(pattern_hash(10 + i), v[i]->result[0]);
	}
}

/*
 * The daemon dies and none comes back: past the detach deadline the
 * region fails.  The blocked vCPU, and a vCPU touching another missing
 * page later, get SIGBUS BUS_MCEERR_AR at the page's host address and
 * KVM_RUN fails with EINTR: never a hang, never zeros.
 */
TEST_F_TIMEOUT(kvm, kvm__daemon_death_deadline, 60)
{
	const struct op ops0[] = { HASH(page_gpa(12)) };
	const struct op ops1[] = { SYNC, HASH(page_gpa(13)) };
	struct vm *vm = &self->vm;
	struct umem_request req;
	struct vcpu *v0, *v1;
	uint64_t t0;

	if (!vm_create(_metadata, vm, variant, 1000, 0))
		return;
	v0 = vcpu_add(_metadata, vm, ops0, ARRAY_SIZE(ops0));
	v1 = vcpu_add(_metadata, vm, ops1, ARRAY_SIZE(ops1));
	START(v0);
	START(v1);
	ASSERT_TRUE(next_req(vm, &req, 10000)) TH_LOG("no request");
	EXPECT_EQ(12, req.pgoff);
	ASSERT_TRUE(vcpu_wait_log(_metadata, v1, UNTIL_SYNCED, 1, 10000,
				  "before its first step"));
	close(vm->f.srv);
	close(vm->f.shm);
	vm->f.srv = vm->f.shm = -1;
	t0 = umem_now_ms();
	ASSERT_TRUE(vcpu_wait_log(_metadata, v0, UNTIL_ENDED, 0, 10000,
				  "past the 1 s detach deadline"));
	TH_LOG("blocked vCPU out of KVM_RUN %llu ms after the detach",
	       (unsigned long long)(umem_now_ms() - t0));
	EXPECT_EQ(UMEM_STATE_FAILED, umem_state(vm));
	EXPECT_EQ(0, v0->nresults)
		TH_LOG("guest read a page never supplied: hash %#x", v0->result[0]);
	expect_hwpoison(_metadata, v0, 12, "blocked vCPU at the deadline");

	/* A later fault on a missing page of the failed region. */
	vcpu_release(v1);
	ASSERT_TRUE(vcpu_wait_log(_metadata, v1, UNTIL_ENDED, 0, 10000,
				  "on a failed region"));
	EXPECT_EQ(0, v1->nresults)
		TH_LOG("guest read a page never supplied: hash %#x", v1->result[0]);
	expect_hwpoison(_metadata, v1, 13, "failed region");
	/* The VMM's own access (an I/O thread emulating DMA): the same. */
	EXPECT_HWPOISON(vm->f.map + 14 * GUEST_PAGE, false);
}

/*
 * UMEM_INIT_KERNEL_EFAULT.  KVM's asynchronous page-fault worker is a
 * kernel thread faulting on the process's behalf: it waits as a user
 * fault would, so with QEMU's configuration the vCPU waits and resumes
 * when the page is served.  Without async page faults the vCPU thread
 * faults from kernel code of its own, which fails at once: KVM_RUN fails
 * with EFAULT, the request is queued, and KVM_RUN again once the page is
 * present goes on.
 */
TEST_F_TIMEOUT(kvm, kvm__kernel_efault, 60)
{
	const struct op ops[] = { HASH(page_gpa(14)) };
	struct vm *vm = &self->vm;
	struct umem_request req;
	char buf[512];
	struct vcpu *v;

	if (!vm_create(_metadata, vm, variant, 30000, UMEM_INIT_KERNEL_EFAULT))
		return;
	v = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
	START(v);
	ASSERT_TRUE(next_req(vm, &req, 10000)) TH_LOG("no request");
	EXPECT_EQ(14, req.pgoff);
	EXPECT_EQ(UMEM_REQ_KERNEL, req.flags & UMEM_REQ_KERNEL);
	if (async_pf(variant)) {
		expect_blocked(_metadata, v, 1000,
			       "before its page arrived (async page fault)");
	} else {
		ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_ENDED, 0, 5000,
					  "with KERNEL_EFAULT"));
		EXPECT_EQ(EFAULT, v->err)
			TH_LOG("KVM_RUN should fail with EFAULT: %s",
			       vcpu_str(v, buf, sizeof(buf)));
		EXPECT_FALSE(v->sigbus);
		EXPECT_EQ(0, v->nresults);
	}
	ASSERT_EQ(0, umem_supply(&vm->f, 14));
	if (!async_pf(variant))
		ASSERT_EQ(0, vcpu_start(v));
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_ENDED, 0, 10000,
				  "after the page was supplied"));
	EXPECT_TRUE(v->done) TH_LOG("%s", vcpu_str(v, buf, sizeof(buf)));
	EXPECT_EQ(pattern_hash(14), v->result[0]);
}

/*
 * QEMU's kick (SIG_IPI, for stop, pause_all_vcpus(), run_on_cpu()) takes
 * a vCPU that waits for a missing page out of KVM_RUN (EINTR), and the
 * vCPU waits again, without spinning, when it runs again.  Without async
 * page faults the vCPU thread sleeps in the fault itself: since 6.2
 * KVM's synchronous lookup asks for an interruptible fault
 * (FOLL_INTERRUPTIBLE), and umem's sleep must honour it.  6.1's KVM does
 * not ask: there the kick waits for the page (skipped).
 */
TEST_F_TIMEOUT(kvm, kvm__kick_leaves_fault, 60)
{
	const struct op ops[] = { HASH(page_gpa(6)) };
	struct vm *vm = &self->vm;
	struct umem_request req;
	uint64_t end;
	char buf[512];
	struct vcpu *v;
	unsigned int kicks = 0;
	bool out;

	if (!async_pf(variant) && !kernel_since(6, 2))
		SKIP(return, "KVM asks for no interruptible fault before 6.2");
	if (!vm_create(_metadata, vm, variant, 30000, 0))
		return;
	v = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
	START(v);
	ASSERT_TRUE(next_req(vm, &req, 10000)) TH_LOG("no request");
	EXPECT_EQ(6, req.pgoff);
	/* Asleep in the fault (or halted), not on its way there. */
	usleep(300000);
	end = umem_now_ms() + 1000;
	do {
		pthread_kill(v->thread, SIGUSR1);
		kicks++;
		usleep(50000);
		pthread_mutex_lock(&vm->lock);
		out = v->eintr > 0;
		pthread_mutex_unlock(&vm->lock);
	} while (!out && umem_now_ms() < end);
	EXPECT_TRUE(out)
		TH_LOG("KVM_RUN still blocked after %u kicks in 1 s: %s",
		       kicks, vcpu_str(v, buf, sizeof(buf)));
	/* Back in KVM_RUN, waiting again. */
	usleep(200000);
	expect_blocked(_metadata, v, 500, "after the kicks");
	ASSERT_EQ(0, umem_supply(&vm->f, 6));
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_ENDED, 0, 10000,
				  "after the page was supplied"));
	EXPECT_TRUE(v->done) TH_LOG("%s", vcpu_str(v, buf, sizeof(buf)));
	EXPECT_EQ(pattern_hash(6), v->result[0]);
}

/*
 * Guest RAM past the region's end (a mapping of its last page grown by
 * mremap()) faults as hardware poison, as a page that will never arrive
 * does (issue 20, item 6): KVM sends the vCPU thread SIGBUS
 * BUS_MCEERR_AR.  Before, a plain SIGBUS: with asynchronous page faults
 * the worker dropped the error and the vCPU re-faulted for ever; without
 * them, KVM_RUN failed with EFAULT, which QEMU treats as fatal.
 */
#define PAST_GPA	0x200000ULL	/* slot 2: the last page, one past */
TEST_F_TIMEOUT(kvm, kvm__past_region_end, 60)
{
	const struct op ops[] = {
		READ(PAST_GPA),
		READ(PAST_GPA + GUEST_PAGE),
	};
	struct kvm_userspace_memory_region slot;
	struct vm *vm = &self->vm;
	char *p, *grown, buf[512];
	struct vcpu *v;

	if (!vm_create(_metadata, vm, variant, 30000, 0))
		return;
	ASSERT_EQ(0, umem_supply(&vm->f, NPAGES - 1));
	p = mmap(NULL, GUEST_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 vm->f.ctl, (NPAGES - 1) * GUEST_PAGE);
	ASSERT_NE(MAP_FAILED, p);
	grown = mremap(p, GUEST_PAGE, 2 * GUEST_PAGE, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, grown) TH_LOG("mremap: %s", strerror(errno));
	slot = (struct kvm_userspace_memory_region) {
		.slot = 2,
		.guest_phys_addr = PAST_GPA,
		.memory_size = 2 * GUEST_PAGE,
		.userspace_addr = (uintptr_t)grown,
	};
	ASSERT_EQ(0, ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot))
		TH_LOG("slot past the end: %s", strerror(errno));
	v = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
	START(v);
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_ENDED, 0, 10000,
				  "on a page past the region's end"));
	ASSERT_EQ(1, v->nresults);
	EXPECT_EQ((uint32_t)umem_pattern(NPAGES - 1, 0), v->result[0]);
	vcpu_str(v, buf, sizeof(buf));
	EXPECT_EQ(EINTR, v->err)
		TH_LOG("KVM_RUN should fail with EINTR (SIGBUS): %s", buf);
	EXPECT_TRUE(v->sigbus) TH_LOG("no SIGBUS: %s", buf);
	EXPECT_EQ(BUS_MCEERR_AR, v->sigbus_code);
	EXPECT_EQ(grown + GUEST_PAGE, v->sigbus_addr);
	/* The VMM's own access: the same. */
	EXPECT_HWPOISON(grown + GUEST_PAGE, false);
}

/* ---- huge pages ---------------------------------------------------------- */

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define HUGE_SZ		(2UL << 20)
#define HUGE_NR		512		/* pages in a 2 MiB extent */
#define HUGE_GPA	0x400000ULL	/* slot 1 of a huge VM: 2 MiB-aligned */
#define HUGE_EXTENTS	2

static uint32_t huge_gpa(uint64_t pgoff)
{
	return HUGE_GPA + pgoff * GUEST_PAGE;
}

/*
 * A VM whose region is UMEM_INIT_HUGE, HUGE_EXTENTS extents at HUGE_GPA,
 * with the host mapping 2 MiB-aligned too: KVM maps a guest page 2 MiB
 * only where the guest and host addresses agree modulo 2 MiB, and only
 * as large as the host maps it.  @d is the daemon's mapping of the shmem
 * fd, where it collapses.  False, the test skipped, when there is no
 * usable KVM or no THP.
 */
static bool vm_create_huge(struct __test_metadata *_metadata, struct vm *vm,
			   const FIXTURE_VARIANT(kvm) *variant, char **d)
{
	const struct vm_opts o = {
		.irqchip = variant->irqchip,
		.sti = variant->sti,
		.npages = HUGE_EXTENTS * HUGE_NR,
		.data_gpa = HUGE_GPA,
		.timeout_ms = 30000,
		.flags = UMEM_INIT_HUGE,
	};

	if (!umem_have_thp())
		SKIP(return false,
		     "no transparent huge pages in this kernel (PREEMPT_RT): UMEM_INIT_HUGE fails with EOPNOTSUPP");
	if (!vm_create_opts(_metadata, vm, &o))
		return false;
	/* thp_get_unmapped_area() aligns both mappings. */
	ASSERT_EQ(0, (uintptr_t)vm->f.map % HUGE_SZ);
	*d = mmap(NULL, HUGE_EXTENTS * HUGE_SZ, PROT_READ | PROT_WRITE,
		  MAP_SHARED, vm->f.shm, 0);
	ASSERT_NE(MAP_FAILED, *d);
	ASSERT_EQ(0, (uintptr_t)*d % HUGE_SZ);
	ASSERT_LE(0, vm_stat(vm, "pages_2m"))
		TH_LOG("no pages_2m in KVM's binary statistics (KVM_GET_STATS_FD)");
	return true;
}

/* Supply pages [@first, @first + @n) in one write and one range. */
static int supply_range(const struct umem_fix *f, uint64_t first, uint64_t n)
{
	if (umem_fill_range(f, first, n))
		return -1;
	return umem_mark(f, first, n) == sizeof(struct umem_range) ? 0 : -1;
}

/* MADV_COLLAPSE extent @e of mapping @m, after a touch (6.1 wants one). */
static int collapse(char *m, uint64_t e)
{
	(void)*(volatile char *)(m + e * HUGE_SZ);
	return madvise(m + e * HUGE_SZ, HUGE_SZ, MADV_COLLAPSE) ? errno : 0;
}

/*
 * A guest touches memory in a 2 MiB extent of a UMEM_INIT_HUGE region
 * that arrived whole and that the server collapsed, as umemd does: the
 * module lets the VMM's mapping map it by one PMD, and KVM maps it by one
 * 2 MiB page (its pages_2m statistic grows by one).  The guest reads the
 * supplied bytes, at both ends of the extent, and asks for nothing.
 */
TEST_F_TIMEOUT(kvm, kvm__huge_complete_extent_2m, 60)
{
	const struct op ops[] = {
		HASH(huge_gpa(HUGE_NR + 5)),
		READ(huge_gpa(2 * HUGE_NR - 1) + 8),
	};
	struct vm *vm = &self->vm;
	struct umem_request req;
	int64_t pages_2m;
	struct vcpu *v;
	char *d;

	if (!vm_create_huge(_metadata, vm, variant, &d))
		return;
	ASSERT_EQ(0, supply_range(&vm->f, HUGE_NR, HUGE_NR));
	ASSERT_EQ(0, collapse(d, 1)) TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	pages_2m = vm_stat(vm, "pages_2m");

	v = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
	START(v);
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_ENDED, 0, 10000,
				  "in a complete extent"));
	EXPECT_TRUE(v->done);
	ASSERT_EQ(2, v->nresults);
	EXPECT_EQ(pattern_hash(HUGE_NR + 5), v->result[0]);
	EXPECT_EQ((uint32_t)umem_pattern(2 * HUGE_NR - 1, 1), v->result[1]);
	TH_LOG("pages_2m %lld, then %lld; the VMM's mapping: %ld KiB by PMD",
	       (long long)pages_2m, (long long)vm_stat(vm, "pages_2m"),
	       umemlib_pmd_mapped_kb(vm->f.map + HUGE_SZ));
	EXPECT_EQ(2048, umemlib_pmd_mapped_kb(vm->f.map + HUGE_SZ))
		TH_LOG("the VMM's mapping of the extent is not one PMD");
	EXPECT_EQ(pages_2m + 1, vm_stat(vm, "pages_2m"))
		TH_LOG("KVM did not map the complete extent 2 MiB");
	EXPECT_FALSE(next_req(vm, &req, 0));
	munmap(d, HUGE_EXTENTS * HUGE_SZ);
}

/*
 * In an extent not complete yet demand stays 4 KiB, in a huge region as
 * in any: a guest touch of a missing page blocks and queues one request,
 * for that page alone; supplied, the guest goes on, and KVM maps nothing
 * 2 MiB, nor when all but one page has arrived.  Once the last page
 * arrives and the extent is collapsed, the guest's next access maps it
 * 2 MiB.  The collapse is on the VMM's own mapping, which had a page
 * table under the extent: 6.1 retracts only the caller's (see
 * Documentation/umem.rst, "Huge pages"), and here the VMM is the server.
 */
TEST_F_TIMEOUT(kvm, kvm__huge_incomplete_extent_4k, 60)
{
	const struct op ops[] = {
		HASH(huge_gpa(7)),
		SYNC,
		HASH(huge_gpa(300)),
		SYNC,
		HASH(huge_gpa(500)),
	};
	struct vm *vm = &self->vm;
	struct umem_request req;
	struct umem_stats st;
	int64_t pages_2m;
	struct vcpu *v;
	char *d;

	if (!vm_create_huge(_metadata, vm, variant, &d))
		return;
	pages_2m = vm_stat(vm, "pages_2m");
	v = vcpu_add(_metadata, vm, ops, ARRAY_SIZE(ops));
	START(v);

	/* A missing page: one request, for it, and the vCPU waits. */
	ASSERT_TRUE(next_req(vm, &req, 10000)) TH_LOG("no request");
	EXPECT_EQ(7, req.pgoff);
	expect_blocked(_metadata, v, 500, "before its page arrived");
	EXPECT_FALSE(next_req(vm, &req, 300))
		TH_LOG("a second request, for page %llu",
		       (unsigned long long)req.pgoff);
	ASSERT_EQ(0, umem_supply(&vm->f, 7));
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_SYNCED, 1, 10000,
				  "after its page was supplied"));
	EXPECT_EQ(pattern_hash(7), v->result[0]);
	EXPECT_EQ(pages_2m, vm_stat(vm, "pages_2m"))
		TH_LOG("a 2 MiB mapping of an extent with 511 pages missing");

	/* All but page 500: still 4 KiB. */
	ASSERT_EQ(0, supply_range(&vm->f, 0, 7));
	ASSERT_EQ(0, supply_range(&vm->f, 8, 500 - 8));
	ASSERT_EQ(0, supply_range(&vm->f, 501, HUGE_NR - 501));
	vcpu_release(v);
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_SYNCED, 2, 10000,
				  "on a present page"));
	EXPECT_EQ(pattern_hash(300), v->result[1]);
	EXPECT_EQ(pages_2m, vm_stat(vm, "pages_2m"))
		TH_LOG("a 2 MiB mapping of an extent with page 500 missing");

	/*
	 * Complete and collapsed: 2 MiB.  The collapse maps the VMM's
	 * mapping by a PMD itself; drop it, so that the guest's access
	 * faults, and it is the module that maps the extent whole.
	 */
	ASSERT_EQ(0, umem_supply(&vm->f, 500));
	ASSERT_EQ(0, collapse(vm->f.map, 0))
		TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	ASSERT_EQ(0, madvise(vm->f.map, HUGE_SZ, MADV_DONTNEED));
	EXPECT_EQ(0, umemlib_pmd_mapped_kb(vm->f.map));
	vcpu_release(v);
	ASSERT_TRUE(vcpu_wait_log(_metadata, v, UNTIL_ENDED, 0, 10000,
				  "in the complete extent"));
	EXPECT_TRUE(v->done);
	ASSERT_EQ(3, v->nresults);
	EXPECT_EQ(pattern_hash(500), v->result[2]);
	EXPECT_EQ(2048, umemlib_pmd_mapped_kb(vm->f.map))
		TH_LOG("the VMM's mapping of the extent is not one PMD");
	EXPECT_EQ(pages_2m + 1, vm_stat(vm, "pages_2m"))
		TH_LOG("KVM did not map the completed extent 2 MiB");
	EXPECT_FALSE(next_req(vm, &req, 0));
	ASSERT_EQ(0, ioctl(vm->f.ctl, UMEM_IOC_STATS, &st));
	EXPECT_EQ(1, st.pages_requested);
	munmap(d, HUGE_EXTENTS * HUGE_SZ);
}

TEST_HARNESS_MAIN
