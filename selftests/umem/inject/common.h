/* SPDX-License-Identifier: GPL-2.0 */
/*
 * inject: what its files share.  common.c has the helpers: fail-nth, the
 * module's references and our fds, and a thread that touches a page while
 * the main thread serves it.  entries.c has the entry points, each a
 * struct entry.  inject.c sweeps them and runs the random failures.
 */
#ifndef UMEM_INJECT_COMMON_H
#define UMEM_INJECT_COMMON_H

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>

/*
 * kselftest_harness.h is written for a binary of one file: besides its
 * checks, which work in any file, it defines the runner and its state.  In
 * the parts the runner is weak and unused: inject.c's is the one that runs.
 */
#ifndef INJECT_TESTS
#pragma weak __active_test
#pragma weak __run_test
#pragma weak __wait_for_test
#pragma weak _fixture_global
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include "kselftest_harness.h"
#ifndef INJECT_TESTS
#pragma GCC diagnostic pop
#endif
#include "../umem_test.h"

#define NPAGES		8
#define TIMEOUT_MS	60000
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define DEBUGFS		"/sys/kernel/debug/"

/*
 * The state one call of a sweep runs against: a region (f), maybe an
 * extra fd, a pipe, a second mapping.  inj_teardown() closes what is set.
 */
struct inj {
	struct umem_fix f;
	int fd;
	int pipe[2];
	void *map2;
	size_t map2_len;
	int rc;			/* what the call returned, besides errno */
	char dir[64];		/* a umemfs mount point, or "" */
	bool mounted;
};

enum { TOUCH_USER, TOUCH_KERNEL };

struct touch {
	const struct umem_fix *f;
	uint64_t pgoff;
	int mode;		/* TOUCH_USER: load; TOUCH_KERNEL: write(2) it */
	int pipe_w;		/* TOUCH_KERNEL: where to */
	unsigned int nth;	/* fail-nth for the touch, 0 for none */
	int nth_fd;
	/* results */
	bool fired, sigbus, ok;
	int err;
	int done;
};

struct entry {
	const char *name;
	/* builds the state, without injection */
	void (*setup)(struct __test_metadata *_metadata, struct inj *x);
	/* the one call, under injection: 0 or an errno */
	int (*call)(struct inj *x);
	/* or: runs its own injection (in another thread), sets *fired */
	int (*run)(struct __test_metadata *_metadata, struct inj *x,
		   unsigned int n, bool *fired);
	/* after the call, without injection: is the state consistent? */
	void (*check)(struct __test_metadata *_metadata, struct inj *x,
		      int err);
	int errs[4];	/* the clean errors, 0-terminated; success is clean */
};

int write_str(const char *path, const char *val);
int read_str(const char *path, char *buf, size_t size);
void nth_arm(int fd, unsigned int n);
bool nth_disarm(int fd);
long module_refcnt(void);
int count_fds(void);
void on_sigbus(int sig);
extern __thread sigjmp_buf bus_jmp;
extern __thread volatile sig_atomic_t bus_armed;

void inj_init(struct inj *x);
void inj_teardown(struct inj *x);
void inj_region(struct __test_metadata *_metadata, struct inj *x);
void *toucher(void *arg);
int serve_requests(const struct umem_fix *f);
void touch_run(struct __test_metadata *_metadata, struct touch *t);
void check_usable(struct __test_metadata *_metadata);

/* entries.c: the entry points; faults that e_fault_missing's sweep retried */
extern unsigned int fault_retries;
extern const struct entry e_mount_umemfs, e_create_umemfs, e_truncate_umemfs,
	e_open, e_api, e_init, e_serve, e_readopt, e_poison, e_complete, e_stats_ctl,
	e_stats_srv, e_bitmap, e_unknown_ctl, e_unknown_srv, e_mmap, e_read, e_poll,
	e_write, e_write_many, e_pwrite_shmem, e_fdinfo, e_fault_missing,
	e_fault_present, e_fault_kernel, e_close_ctl, e_close_srv, e_close_shm,
	e_munmap_split, e_mremap, e_munmap;

#endif /* UMEM_INJECT_COMMON_H */
