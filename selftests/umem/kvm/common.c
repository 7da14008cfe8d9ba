// SPDX-License-Identifier: GPL-2.0
/*
 * kvm: the minimal VMM its tests run on (common.h): the guest code, the
 * VM and its memory slots, the vCPU threads and their port I/O, waiting
 * on them with deadlines, and the server's side of a request.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "common.h"

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
uint32_t page_hash(const void *page)
{
	const uint32_t *w = page;
	uint32_t h = 0;
	unsigned int i;

	for (i = 0; i < GUEST_WORDS; i++)
		h = ((h << 5) | (h >> 27)) ^ w[i];
	return h;
}

/* The hash of page @pgoff as umem_supply() fills it. */
uint32_t pattern_hash(uint64_t pgoff)
{
	uint64_t buf[GUEST_PAGE / 8];
	unsigned int i;

	for (i = 0; i < GUEST_PAGE / 8; i++)
		buf[i] = umem_pattern(pgoff, i);
	return page_hash(buf);
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
 * Create the VM with a region of @o->npages pages (detach deadline
 * @o->timeout_ms, UMEM_INIT_* @o->flags) served by this thread as guest
 * RAM at @o->data_gpa.  Returns false, the test skipped, when there is no
 * usable KVM.
 */
bool vm_create_opts(struct __test_metadata *_metadata, struct vm *vm,
		    const struct vm_opts *o)
{
	struct kvm_userspace_memory_region slot;
	pthread_condattr_t ca;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm = vm->fd = -1;
	vm->irqchip = o->irqchip;
	vm->sti = o->sti;
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

	umem_fix_setup_flags(_metadata, &vm->f, o->npages, o->timeout_ms, true,
			     o->flags);
	vm->have_f = true;
	if (vm->f.psz != GUEST_PAGE)
		SKIP(return false, "umem page size %u, the guest assumes %u",
		     vm->f.psz, GUEST_PAGE);
	ASSERT_EQ(0, fcntl(vm->f.srv, F_SETFL, O_NONBLOCK));
	slot = (struct kvm_userspace_memory_region) {
		.slot = 1,
		.guest_phys_addr = o->data_gpa,
		.memory_size = o->npages * GUEST_PAGE,
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
struct vcpu *vcpu_add(struct __test_metadata *_metadata, struct vm *vm,
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
int vcpu_start(struct vcpu *v)
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

/* Wait until @v has @n results, reached @n OP_SYNCs, or ended. */
bool vcpu_wait(struct vcpu *v, enum until what, unsigned int n,
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

void vcpu_release(struct vcpu *v)
{
	pthread_mutex_lock(&v->vm->lock);
	v->released++;
	pthread_cond_broadcast(&v->vm->cond);
	pthread_mutex_unlock(&v->vm->lock);
}

/* The scheduler state of @v's thread: R, S, D... or '?'. */
static char vcpu_sched_state(struct vcpu *v)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", v->tid);
	return umem_stat_state(path);
}

/* @v is in KVM_RUN and its thread sleeps (halted, or in a fault). */
bool vcpu_sleeps_in_run(struct vcpu *v)
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
const char *vcpu_str(struct vcpu *v, char *buf, size_t len)
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
bool vcpu_stop(struct vcpu *v)
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

uint64_t umem_faults(struct vm *vm)
{
	struct umem_stats st;

	if (ioctl(vm->f.ctl, UMEM_IOC_STATS, &st))
		return 0;
	return st.faults;
}

uint32_t umem_state(struct vm *vm)
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
bool vcpu_wait_log(struct __test_metadata *_metadata, struct vcpu *v,
		   enum until what, unsigned int n, unsigned int timeout_ms,
		   const char *after)
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
void expect_blocked(struct __test_metadata *_metadata, struct vcpu *v,
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
bool next_req(struct vm *vm, struct umem_request *req,
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

void vm_destroy(struct __test_metadata *_metadata, struct vm *vm)
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

/*
 * The VM's statistic @name, from KVM's binary statistics
 * (KVM_GET_STATS_FD, Documentation/virt/kvm/api.rst): its first value,
 * or -1 if there is none of that name, or no statistics.
 */
int64_t vm_stat(struct vm *vm, const char *name)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t dsz;
	uint64_t val;
	int64_t ret = -1;
	uint32_t i;
	char *descs;
	int fd;

	fd = ioctl(vm->fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return -1;
	if (pread(fd, &h, sizeof(h), 0) != sizeof(h))
		goto out;
	dsz = sizeof(*d) + h.name_size;
	descs = calloc(h.num_desc, dsz);
	if (!descs)
		goto out;
	if (pread(fd, descs, h.num_desc * dsz, h.desc_offset) !=
	    (ssize_t)(h.num_desc * dsz))
		goto free;
	for (i = 0; i < h.num_desc; i++) {
		d = (struct kvm_stats_desc *)(descs + i * dsz);
		if (strncmp(d->name, name, h.name_size))
			continue;
		if (pread(fd, &val, sizeof(val), h.data_offset + d->offset) ==
		    sizeof(val))
			ret = val;
		break;
	}
free:
	free(descs);
out:
	close(fd);
	return ret;
}

/* The vCPU ended with SIGBUS BUS_MCEERR_AR at guest page @pgoff. */
void expect_hwpoison(struct __test_metadata *_metadata, struct vcpu *v,
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

/* Is the running kernel @major.@minor or later? */
bool kernel_since(int major, int minor)
{
	struct utsname u;
	int ma, mi;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return true;
	return ma > major || (ma == major && mi >= minor);
}

