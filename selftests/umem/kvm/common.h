/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm: a minimal VMM on the raw KVM API, in the manner of the kernel's
 * tools/testing/selftests/kvm, whose guest RAM is a umem region.  common.c
 * has it; kvm.c has the tests.
 *
 * One VM: memory slot 0 an anonymous page holding the guest code, memory
 * slot 1 a mapping of a umem region (the guest's data), and vCPU threads
 * running the code in 32-bit protected mode without paging.  The guest is
 * a small interpreter driven by port I/O: it asks the VMM for an
 * operation (read a word, write a word, hash a page) with "in", performs
 * it on guest memory, and reports the result with "out".  A vCPU's script
 * is an array of struct op; OP_SYNC steps stop it until the test's main
 * thread releases it.  The main thread is the server: it reads requests
 * from the server fd, pwrite()s pages into the shmem fd and write()s
 * their ranges.
 *
 * Nothing here may hang: every wait has a deadline, and a vCPU still in
 * KVM_RUN past it is reported (spinning or blocked, with umem's fault
 * count) and kicked out with a signal.
 */
#ifndef UMEM_KVM_COMMON_H
#define UMEM_KVM_COMMON_H

#include <pthread.h>
#include <signal.h>
#include <linux/kvm.h>

/*
 * kselftest_harness.h is written for a binary of one file: besides its
 * checks, which work in any file, it defines the runner and its state.  In
 * the parts the runner is weak and unused: kvm.c's is the one that runs.
 */
#ifndef KVM_TESTS
#pragma weak __active_test
#pragma weak __run_test
#pragma weak __wait_for_test
#pragma weak _fixture_global
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include "kselftest_harness.h"
#ifndef KVM_TESTS
#pragma GCC diagnostic pop
#endif
#include "../umem_test.h"

#define GUEST_PAGE	4096
#define GUEST_WORDS	1024		/* 32-bit words in a page */
#define CODE_GPA	0x0ULL		/* slot 0: one anonymous page */
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

/* What vm_create_opts() makes. */
struct vm_opts {
	bool irqchip;		/* an in-kernel irqchip */
	bool sti;		/* the guest enables interrupts */
	uint64_t npages;	/* the region's size, in pages */
	uint64_t data_gpa;	/* where slot 1 maps it in the guest */
	uint32_t timeout_ms;	/* its detach deadline */
	uint32_t flags;		/* its UMEM_INIT_* flags */
};

enum until { UNTIL_RESULTS, UNTIL_SYNCED, UNTIL_ENDED };

/* Start @v, asserting it could be. */
#define START(v) do {							\
	ASSERT_NE(NULL, (v));						\
	ASSERT_EQ(0, vcpu_start(v));					\
} while (0)

uint32_t page_hash(const void *page);
uint32_t pattern_hash(uint64_t pgoff);
bool kernel_since(int major, int minor);

bool vm_create_opts(struct __test_metadata *_metadata, struct vm *vm,
		    const struct vm_opts *o);
void vm_destroy(struct __test_metadata *_metadata, struct vm *vm);
int64_t vm_stat(struct vm *vm, const char *name);

struct vcpu *vcpu_add(struct __test_metadata *_metadata, struct vm *vm,
		      const struct op *ops, unsigned int nops);
int vcpu_start(struct vcpu *v);
bool vcpu_wait(struct vcpu *v, enum until what, unsigned int n,
	       unsigned int timeout_ms);
bool vcpu_wait_log(struct __test_metadata *_metadata, struct vcpu *v,
		   enum until what, unsigned int n, unsigned int timeout_ms,
		   const char *after);
void vcpu_release(struct vcpu *v);
bool vcpu_stop(struct vcpu *v);
bool vcpu_sleeps_in_run(struct vcpu *v);
const char *vcpu_str(struct vcpu *v, char *buf, size_t len);

uint64_t umem_faults(struct vm *vm);
uint32_t umem_state(struct vm *vm);
bool next_req(struct vm *vm, struct umem_request *req,
	      unsigned int timeout_ms);

void expect_blocked(struct __test_metadata *_metadata, struct vcpu *v,
		    unsigned int ms, const char *what);
void expect_hwpoison(struct __test_metadata *_metadata, struct vcpu *v,
		     uint64_t pgoff, const char *what);

#endif /* UMEM_KVM_COMMON_H */
