// SPDX-License-Identifier: GPL-2.0
/*
 * kvm: real KVM vCPUs whose guest RAM is a umem region.
 *
 * A minimal VMM on the raw KVM API, in the manner of the kernel's
 * tools/testing/selftests/kvm: one VM, memory slot 0 an anonymous page
 * holding the guest code, memory slot 1 a mapping of a umem region (the
 * guest's data), and vCPU threads running the code in 32-bit protected
 * mode without paging.  The guest is a small interpreter driven by port
 * I/O: it asks the VMM for an operation (read a word, write a word, hash
 * a page) with "in", performs it on guest memory, and reports the result
 * with "out".  The test's main thread is the server: it reads requests
 * from the server fd, pwrite()s pages into the shmem fd and write()s
 * their ranges.
 *
 * QEMU always creates an in-kernel irqchip, and only then (with guest
 * interrupts enabled) does KVM take its asynchronous page-fault path: a
 * worker thread faults the page in while the vCPU halts.  Each test runs
 * in three configurations (fixture variants): irqchip with interrupts
 * enabled (QEMU's path), irqchip with interrupts disabled, and no
 * irqchip; the last two fault synchronously from the vCPU thread.
 *
 * Nothing here may hang: every wait has a deadline, and a vCPU still in
 * KVM_RUN past it is reported (spinning or blocked, with umem's fault
 * count) and kicked out with a signal.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <linux/falloc.h>
#include <linux/kvm.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define GUEST_PAGE	4096
#define GUEST_WORDS	1024		/* 32-bit words in a page */
#define CODE_GPA	0x0ULL		/* slot 0: one anonymous page */
#define DATA_GPA	0x100000ULL	/* slot 1: the umem region */
#define NPAGES		32		/* region size, in pages */
#define MAX_VCPUS	4
#define MAX_OPS		16

/* The guest's I/O ports, and the operations it understands. */
#define PORT_STI	0x10	/* in: non-zero to execute sti first */
#define PORT_OP		0x11	/* in: the next operation */
#define PORT_ARG	0x12	/* in: its guest physical address */
#define PORT_VAL	0x13	/* in: the value to store (OP_WRITE) */
#define PORT_RESULT	0x14	/* out: the operation's result */
#define PORT_DONE	0x15	/* out: no more operations */

#define OP_DONE		0	/* report on PORT_DONE */
#define OP_READ		1	/* result: the 32-bit word at arg */
#define OP_WRITE	2	/* store val at arg; result: val */
#define OP_HASH		3	/* result: page_hash() of the page at arg */
#define OP_SYNC		100	/* host side: wait for vcpu_release() */

#define xstr(x)		str(x)
#define str(x)		#x

/*
 * The guest, 32-bit code (GNU as, AT&T syntax), copied to CODE_GPA.
 * Only relative jumps: it runs wherever it is copied.
 */
asm(".pushsection .rodata\n"
	".globl kvm_guest_code, kvm_guest_code_end\n"
	".code32\n"
	"kvm_guest_code:\n"
	"	mov $" xstr(PORT_STI) ", %dx\n"
	"	in %dx, %eax\n"
	"	test %eax, %eax\n"
	"	jz 1f\n"
	"	sti\n"
	"1:	mov $" xstr(PORT_OP) ", %dx\n"
	"	in %dx, %eax\n"
	"	mov %eax, %ebx\n"
	"	mov $" xstr(PORT_ARG) ", %dx\n"
	"	in %dx, %eax\n"
	"	mov %eax, %esi\n"
	"	cmp $" xstr(OP_READ) ", %ebx\n"
	"	je 2f\n"
	"	cmp $" xstr(OP_WRITE) ", %ebx\n"
	"	je 3f\n"
	"	cmp $" xstr(OP_HASH) ", %ebx\n"
	"	je 4f\n"
	"	mov $" xstr(PORT_DONE) ", %dx\n"
	"	out %eax, %dx\n"
	"	jmp 1b\n"
	"2:	mov (%esi), %eax\n"		/* OP_READ */
	"	jmp 6f\n"
	"3:	mov $" xstr(PORT_VAL) ", %dx\n"	/* OP_WRITE */
	"	in %dx, %eax\n"
	"	mov %eax, (%esi)\n"
	"	jmp 6f\n"
	"4:	xor %eax, %eax\n"		/* OP_HASH */
	"	mov $" xstr(GUEST_WORDS) ", %ecx\n"
	"5:	rol $5, %eax\n"
	"	xor (%esi), %eax\n"
	"	add $4, %esi\n"
	"	dec %ecx\n"
	"	jnz 5b\n"
	"6:	mov $" xstr(PORT_RESULT) ", %dx\n"
	"	out %eax, %dx\n"
	"	jmp 1b\n"
	"kvm_guest_code_end:\n"
	".code64\n"
	".popsection\n");

extern const unsigned char kvm_guest_code[], kvm_guest_code_end[];

/* What OP_HASH computes, on the host. */
static uint32_t page_hash(const void *page)
{
	const uint32_t *w = page;
	uint32_t h = 0;
	unsigned int i;

	for (i = 0; i < GUEST_WORDS; i++)
		h = ((h << 5) | (h >> 27)) ^ w[i];
	return h;
}

/* The hash of page @pgoff as umem_supply() fills it. */
static uint32_t pattern_hash(uint64_t pgoff)
{
	uint64_t buf[GUEST_PAGE / 8];
	unsigned int i;

	for (i = 0; i < GUEST_PAGE / 8; i++)
		buf[i] = umem_pattern(pgoff, i);
	return page_hash(buf);
}

static uint32_t page_gpa(uint64_t pgoff)
{
	return DATA_GPA + pgoff * GUEST_PAGE;
}

struct op {
	uint32_t op, arg, val;
};

#define HASH(gpa)	{ .op = OP_HASH, .arg = (gpa) }
#define READ(gpa)	{ .op = OP_READ, .arg = (gpa) }
#define WRITE(gpa, v)	{ .op = OP_WRITE, .arg = (gpa), .val = (v) }
#define SYNC		{ .op = OP_SYNC }

struct vm;

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;		/* a thread was created and not yet joined */
	/* The fields below are under vm->lock. */
	pid_t tid;
	struct op ops[MAX_OPS];
	unsigned int nops, pc;
	uint32_t result[MAX_OPS];
	unsigned int nresults;
	unsigned int synced;	/* OP_SYNCs reached */
	unsigned int released;	/* OP_SYNCs released by vcpu_release() */
	bool in_run;		/* inside KVM_RUN */
	bool ended;		/* the thread is done: see below why */
	bool done;		/* the guest reported PORT_DONE */
	bool stop;		/* vcpu_stop(): leave at the next chance */
	int err;		/* errno of the KVM_RUN that ended it, or 0 */
	unsigned int eintr;	/* KVM_RUNs a signal ended (and were run again) */
	uint32_t bad_exit;	/* an exit reason we did not expect, or 0 */
	uint64_t bad_detail;
	bool sigbus;		/* a SIGBUS came during KVM_RUN */
	int sigbus_code;
	void *sigbus_addr;
	short sigbus_lsb;
};

struct vm {
	int kvm;
	int fd;
	size_t run_size;
	void *code;
	bool irqchip;
	bool sti;
	struct umem_fix f;
	bool have_f;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vcpu vcpu[MAX_VCPUS];
	int nvcpus;
};

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

/* ---- signals ------------------------------------------------------------ */

/* A SIGBUS KVM sent to this vCPU thread, for the thread to pick up. */
static __thread volatile sig_atomic_t tl_is_vcpu, tl_sigbus;
static __thread volatile int tl_sigbus_code;
static __thread void *volatile tl_sigbus_addr;
static __thread volatile short tl_sigbus_lsb;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (!tl_is_vcpu) {
		/* Not a vCPU: a user access; let it kill us visibly. */
		signal(SIGBUS, SIG_DFL);
		return;
	}
	tl_sigbus_code = si->si_code;
	tl_sigbus_addr = si->si_addr;
	tl_sigbus_lsb = si->si_addr_lsb;
	tl_sigbus = 1;
}

/* SIGUSR1 only interrupts KVM_RUN (no SA_RESTART). */
static void on_kick(int sig)
{
}

static void install_handlers(void)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = on_kick;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
}

/* ---- the VM ------------------------------------------------------------- */

/*
 * Create the VM with a region of NPAGES pages (detach deadline
 * @timeout_ms, UMEM_INIT_* @flags) served by this thread as guest RAM.
 * Returns false, the test skipped, when there is no usable KVM.
 */
static bool vm_create(struct __test_metadata *_metadata, struct vm *vm,
		      const FIXTURE_VARIANT(kvm) *variant,
		      uint32_t timeout_ms, uint32_t flags)
{
	struct kvm_userspace_memory_region slot;
	pthread_condattr_t ca;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm = vm->fd = -1;
	vm->irqchip = variant->irqchip;
	vm->sti = variant->sti;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->cond, &ca);
	install_handlers();

	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		SKIP(return false, "/dev/kvm: %s", strerror(errno));
	ret = ioctl(vm->kvm, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION)
		SKIP(return false, "KVM API version %d, want %d", ret,
		     KVM_API_VERSION);
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		SKIP(return false, "KVM_CREATE_VM: %s", strerror(errno));
	ret = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	ASSERT_LT(0, ret) TH_LOG("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	vm->run_size = ret;
	if (vm->irqchip)
		ASSERT_EQ(0, ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0))
			TH_LOG("KVM_CREATE_IRQCHIP: %s", strerror(errno));

	vm->code = mmap(NULL, GUEST_PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, vm->code);
	memcpy(vm->code, kvm_guest_code, kvm_guest_code_end - kvm_guest_code);
	slot = (struct kvm_userspace_memory_region) {
		.slot = 0,
		.guest_phys_addr = CODE_GPA,
		.memory_size = GUEST_PAGE,
		.userspace_addr = (uintptr_t)vm->code,
	};
	ASSERT_EQ(0, ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot))
		TH_LOG("code slot: %s", strerror(errno));

	umem_fix_setup_flags(_metadata, &vm->f, NPAGES, timeout_ms, true,
			     flags);
	vm->have_f = true;
	if (vm->f.psz != GUEST_PAGE)
		SKIP(return false, "umem page size %u, the guest assumes %u",
		     vm->f.psz, GUEST_PAGE);
	ASSERT_EQ(0, fcntl(vm->f.srv, F_SETFL, O_NONBLOCK));
	slot = (struct kvm_userspace_memory_region) {
		.slot = 1,
		.guest_phys_addr = DATA_GPA,
		.memory_size = NPAGES * GUEST_PAGE,
		.userspace_addr = (uintptr_t)vm->f.map,
	};
	ASSERT_EQ(0, ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot))
		TH_LOG("umem slot: %s", strerror(errno));
	return true;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->db = 1;
	s->s = 1;
	s->g = 1;
}

/* A vCPU, flat 32-bit protected mode, at the guest code, with a script. */
static struct vcpu *vcpu_add(struct __test_metadata *_metadata, struct vm *vm,
			     const struct op *ops, unsigned int nops)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct vcpu *v = &vm->vcpu[vm->nvcpus];
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->id = vm->nvcpus;
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, v->id);
	if (v->fd < 0) {
		TH_LOG("KVM_CREATE_VCPU %d: %s", v->id, strerror(errno));
		return NULL;
	}
	vm->nvcpus++;
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		TH_LOG("mmap kvm_run: %s", strerror(errno));
		v->run = NULL;
		return NULL;
	}
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs)) {
		TH_LOG("KVM_GET_SREGS: %s", strerror(errno));
		return NULL;
	}
	set_seg(&sregs.cs, 0x08, 11);	/* code, execute/read, accessed */
	set_seg(&sregs.ds, 0x10, 3);	/* data, read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = 0x31;		/* PE | ET | NE, no paging */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs)) {
		TH_LOG("KVM_SET_SREGS: %s", strerror(errno));
		return NULL;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rflags = 0x2;
	if (ioctl(v->fd, KVM_SET_REGS, &regs)) {
		TH_LOG("KVM_SET_REGS: %s", strerror(errno));
		return NULL;
	}
	/* With an in-kernel irqchip, an AP would wait for INIT/SIPI. */
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp)) {
		TH_LOG("KVM_SET_MP_STATE: %s", strerror(errno));
		return NULL;
	}
	ASSERT_GE(MAX_OPS, nops);
	memcpy(v->ops, ops, nops * sizeof(*ops));
	v->nops = nops;
	return v;
}

/* One I/O exit, under vm->lock.  Returns false when the thread must end. */
static bool vcpu_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t *data = (uint32_t *)((char *)run + run->io.data_offset);
	struct vm *vm = v->vm;
	const struct op *op;

	if (run->io.size != 4 || run->io.count != 1) {
		v->bad_exit = KVM_EXIT_IO;
		v->bad_detail = run->io.port;
		return false;
	}
	/* Host-side steps come before the guest's next operation. */
	while (run->io.port == PORT_OP && v->pc < v->nops &&
	       v->ops[v->pc].op == OP_SYNC) {
		unsigned int n = ++v->synced;

		pthread_cond_broadcast(&vm->cond);
		while (v->released < n && !v->stop)
			pthread_cond_wait(&vm->cond, &vm->lock);
		if (v->stop)
			return false;
		v->pc++;
	}
	op = v->pc < v->nops ? &v->ops[v->pc] : NULL;
	switch (run->io.port) {
	case PORT_STI:
		*data = vm->sti;
		return true;
	case PORT_OP:
		*data = op ? op->op : OP_DONE;
		return true;
	case PORT_ARG:
		*data = op ? op->arg : 0;
		return true;
	case PORT_VAL:
		*data = op ? op->val : 0;
		return true;
	case PORT_RESULT:
		if (v->nresults < MAX_OPS)
			v->result[v->nresults++] = *data;
		v->pc++;
		pthread_cond_broadcast(&vm->cond);
		return true;
	case PORT_DONE:
		v->done = true;
		return false;
	}
	v->bad_exit = KVM_EXIT_IO;
	v->bad_detail = run->io.port;
	return false;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	bool go_on;
	int ret, e;

	tl_is_vcpu = 1;
	pthread_mutex_lock(&vm->lock);
	v->tid = syscall(SYS_gettid);
	while (!v->stop) {
		v->in_run = true;
		pthread_mutex_unlock(&vm->lock);
		ret = ioctl(v->fd, KVM_RUN, 0);
		e = errno;
		pthread_mutex_lock(&vm->lock);
		v->in_run = false;
		if (tl_sigbus) {
			v->sigbus = true;
			v->sigbus_code = tl_sigbus_code;
			v->sigbus_addr = tl_sigbus_addr;
			v->sigbus_lsb = tl_sigbus_lsb;
			tl_sigbus = 0;
		}
		if (ret < 0) {
			/* A stray interruption (a kick): run again. */
			if (e == EINTR && !v->sigbus && !v->stop) {
				v->eintr++;
				pthread_cond_broadcast(&vm->cond);
				continue;
			}
			v->err = e;
			break;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			go_on = vcpu_io(v);
			break;
		case KVM_EXIT_INTR:
			go_on = true;
			break;
		case KVM_EXIT_FAIL_ENTRY:
			v->bad_detail = v->run->fail_entry.hardware_entry_failure_reason;
			go_on = false;
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			v->bad_detail = v->run->internal.suberror;
			go_on = false;
			break;
		default:
			go_on = false;
			break;
		}
		if (!go_on) {
			if (!v->done && !v->bad_exit && !v->stop)
				v->bad_exit = v->run->exit_reason;
			break;
		}
	}
	v->ended = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

/* Run (or, after it ended, run again from where it stopped) @v. */
static int vcpu_start(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (v->started)
		pthread_join(v->thread, NULL);
	pthread_mutex_lock(&vm->lock);
	v->ended = false;
	v->err = 0;
	v->sigbus = false;
	v->stop = false;
	pthread_mutex_unlock(&vm->lock);
	v->started = !pthread_create(&v->thread, NULL, vcpu_thread, v);
	return v->started ? 0 : -1;
}

enum until { UNTIL_RESULTS, UNTIL_SYNCED, UNTIL_ENDED };

/* Wait until @v has @n results, reached @n OP_SYNCs, or ended. */
static bool vcpu_wait(struct vcpu *v, enum until what, unsigned int n,
		      unsigned int timeout_ms)
{
	struct vm *vm = v->vm;
	struct timespec ts;
	bool ok = false;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&vm->lock);
	for (;;) {
		if (what == UNTIL_RESULTS)
			ok = v->nresults >= n;
		else if (what == UNTIL_SYNCED)
			ok = v->synced >= n;
		if (ok || v->ended)
			break;
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &ts) == ETIMEDOUT)
			break;
	}
	if (what == UNTIL_ENDED)
		ok = v->ended;
	pthread_mutex_unlock(&vm->lock);
	return ok;
}

static void vcpu_release(struct vcpu *v)
{
	pthread_mutex_lock(&v->vm->lock);
	v->released++;
	pthread_cond_broadcast(&v->vm->cond);
	pthread_mutex_unlock(&v->vm->lock);
}

/* The scheduler state of @v's thread: R, S, D... or '?'. */
static char vcpu_sched_state(struct vcpu *v)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", v->tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

/* @v is in KVM_RUN and its thread sleeps (halted, or in a fault). */
static bool vcpu_sleeps_in_run(struct vcpu *v)
{
	bool in_run;
	char state;

	pthread_mutex_lock(&v->vm->lock);
	in_run = v->in_run && !v->ended;
	pthread_mutex_unlock(&v->vm->lock);
	state = vcpu_sched_state(v);
	return in_run && (state == 'S' || state == 'D');
}

/* What @v is doing, for a failure message. */
static const char *vcpu_str(struct vcpu *v, char *buf, size_t len)
{
	pthread_mutex_lock(&v->vm->lock);
	snprintf(buf, len,
		 "vCPU %d: op %u/%u, %u results, %s%s, KVM_RUN errno %s, exit %u (%#llx), SIGBUS %s code %d addr %p lsb %d, thread state %c",
		 v->id, v->pc, v->nops, v->nresults,
		 v->ended ? "ended" : v->in_run ? "in KVM_RUN" : "running",
		 v->done ? " (done)" : "", v->err ? strerror(v->err) : "none",
		 v->bad_exit, (unsigned long long)v->bad_detail,
		 v->sigbus ? "yes" : "no", v->sigbus_code, v->sigbus_addr,
		 v->sigbus_lsb, v->ended ? '-' : vcpu_sched_state(v));
	pthread_mutex_unlock(&v->vm->lock);
	return buf;
}

/* Make @v's thread leave KVM_RUN and end; false if it would not. */
static bool vcpu_stop(struct vcpu *v)
{
	uint64_t end = umem_now_ms() + 3000;

	if (!v->started)
		return true;
	pthread_mutex_lock(&v->vm->lock);
	v->stop = true;
	pthread_cond_broadcast(&v->vm->cond);
	pthread_mutex_unlock(&v->vm->lock);
	while (!vcpu_wait(v, UNTIL_ENDED, 0, 20)) {
		if (umem_now_ms() > end)
			return false;
		pthread_kill(v->thread, SIGUSR1);
	}
	pthread_join(v->thread, NULL);
	v->started = false;
	return true;
}

static uint64_t umem_faults(struct vm *vm)
{
	struct umem_stats st;

	if (ioctl(vm->f.ctl, UMEM_IOC_STATS, &st))
		return 0;
	return st.faults;
}

static uint32_t umem_state(struct vm *vm)
{
	struct umem_stats st;

	if (ioctl(vm->f.ctl, UMEM_IOC_STATS, &st))
		return ~0U;
	return st.state;
}

/*
 * Wait for @v to end (or to have @n results), at most @timeout_ms.  On
 * timeout, say what it was doing, how fast umem saw faults meanwhile
 * (a vCPU that retries a failing fault forever spins at thousands a
 * second), and kick it out of KVM_RUN.
 */
static bool vcpu_wait_log(struct __test_metadata *_metadata, struct vcpu *v,
			  enum until what, unsigned int n,
			  unsigned int timeout_ms, const char *after)
{
	uint64_t f0 = umem_faults(v->vm), t0 = umem_now_ms(), df, dt;
	char buf[512];

	if (vcpu_wait(v, what, n, timeout_ms))
		return true;
	df = umem_faults(v->vm) - f0;
	dt = umem_now_ms() - t0;
	if (what == UNTIL_ENDED || !v->ended)
		TH_LOG("KVM_RUN did not return within %u s %s: vCPU %s, %llu umem faults in %llu ms; %s",
		       timeout_ms / 1000, after,
		       df * 1000 > 10 * dt ? "spinning" : "blocked",
		       (unsigned long long)df, (unsigned long long)dt,
		       vcpu_str(v, buf, sizeof(buf)));
	else
		TH_LOG("vCPU ended early %s: %s", after,
		       vcpu_str(v, buf, sizeof(buf)));
	if (!vcpu_stop(v))
		TH_LOG("vCPU %d would not leave KVM_RUN even when kicked", v->id);
	return false;
}

/*
 * @v stays in KVM_RUN without a new result for @ms, and is not
 * spinning: umem sees at most a few faults meanwhile (a sleeping vCPU
 * makes none; a spinning one thousands a second, and still dozens on the
 * debug kernel).
 */
static void expect_blocked(struct __test_metadata *_metadata, struct vcpu *v,
			   unsigned int ms, const char *what)
{
	uint64_t f0 = umem_faults(v->vm), df;
	unsigned int n0 = v->nresults;
	char buf[512];

	usleep(ms * 1000);
	df = umem_faults(v->vm) - f0;
	pthread_mutex_lock(&v->vm->lock);
	EXPECT_TRUE(!v->ended && v->nresults == n0)
		TH_LOG("vCPU went on %s", what);
	pthread_mutex_unlock(&v->vm->lock);
	EXPECT_GE(3, df)
		TH_LOG("vCPU spinning %s: %llu umem faults in %u ms; %s", what,
		       (unsigned long long)df, ms, vcpu_str(v, buf, sizeof(buf)));
}

/* The next request, waiting at most @timeout_ms; false if none came. */
static bool next_req(struct vm *vm, struct umem_request *req,
		     unsigned int timeout_ms)
{
	uint64_t end = umem_now_ms() + timeout_ms;
	struct pollfd p = { .fd = vm->f.srv, .events = POLLIN };

	for (;;) {
		if (read(vm->f.srv, req, sizeof(*req)) == sizeof(*req))
			return true;
		if (errno != EAGAIN || umem_now_ms() >= end)
			return false;
		poll(&p, 1, 50);
	}
}

static void vm_destroy(struct __test_metadata *_metadata, struct vm *vm)
{
	bool stuck = false;
	int i;

	for (i = 0; i < vm->nvcpus; i++) {
		if (!vcpu_stop(&vm->vcpu[i])) {
			TH_LOG("vCPU %d stuck in KVM_RUN at teardown", i);
			stuck = true;
		}
	}
	/* A stuck thread uses its fds: the process's exit ends it. */
	if (stuck)
		return;
	for (i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpu[i].run)
			munmap(vm->vcpu[i].run, vm->run_size);
		close(vm->vcpu[i].fd);
	}
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm >= 0)
		close(vm->kvm);
	if (vm->code && vm->code != MAP_FAILED)
		munmap(vm->code, GUEST_PAGE);
	if (vm->have_f)
		umem_fix_teardown(&vm->f);
}

FIXTURE_TEARDOWN(kvm)
{
	vm_destroy(_metadata, &self->vm);
}

/* Start @v, asserting it could be. */
#define START(v) do {							\
	ASSERT_NE(NULL, (v));						\
	ASSERT_EQ(0, vcpu_start(v));					\
} while (0)

/* The vCPU ended with SIGBUS BUS_MCEERR_AR at guest page @pgoff. */
static void expect_hwpoison(struct __test_metadata *_metadata, struct vcpu *v,
			    uint64_t pgoff, const char *what)
{
	void *hva = v->vm->f.map + pgoff * GUEST_PAGE;
	char buf[512];

	vcpu_str(v, buf, sizeof(buf));
	EXPECT_EQ(EINTR, v->err)
		TH_LOG("%s: KVM_RUN should fail with EINTR (SIGBUS): %s", what, buf);
	EXPECT_TRUE(v->sigbus)
		TH_LOG("%s: no SIGBUS: %s", what, buf);
	EXPECT_EQ(BUS_MCEERR_AR, v->sigbus_code)
		TH_LOG("%s: si_code %d, want BUS_MCEERR_AR (%d)", what,
		       v->sigbus_code, BUS_MCEERR_AR);
	EXPECT_EQ(hva, v->sigbus_addr)
		TH_LOG("%s: si_addr %p, want the page's host address %p", what,
		       v->sigbus_addr, hva);
	EXPECT_EQ(12, v->sigbus_lsb);
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

/* Is the running kernel @major.@minor or later? */
static bool kernel_since(int major, int minor)
{
	struct utsname u;
	int ma, mi;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return true;
	return ma > major || (ma == major && mi >= minor);
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

TEST_HARNESS_MAIN
