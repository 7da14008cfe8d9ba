/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz: the operations, in ops_region.c, ops_server.c and ops_process.c,
 * that fuzz.c picks at random.
 */
#ifndef UMEM_FUZZ_OPS_H
#define UMEM_FUZZ_OPS_H

#include "objects.h"

void op_open(void);
void op_api(void);
void op_init(void);
int do_serve(struct obj *o, bool garbage);
void op_serve(void);
void op_mmap(void);
void op_mmap_loose(void);
void op_touch(void);
void op_unmap(void);
void op_mremap(void);
void op_mprotect(void);
void op_madvise(void);

void op_read(void);
void op_write(void);
void op_poison(void);
void op_complete(void);
void op_bitmap(void);
void op_stats(void);
void op_ioctl(void);
void op_close(void);
void op_dup(void);

void op_fork(void);
void op_kill(void);
void op_pvm(void);
void op_pipe(void);
void op_shmem(void);
void op_procmem(void);
void op_sweep(void);
void op_fdinfo(void);
void op_poll(void);
void op_nonblock(void);
void op_uring(void);
void ops_process_init(void (*run)(long n));
void ops_process_forked(void);

void answer(int srv, uint64_t tag, uint64_t pages,
	    const struct umem_request *req, size_t n);

#endif /* UMEM_FUZZ_OPS_H */
