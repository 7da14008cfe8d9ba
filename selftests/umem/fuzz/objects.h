/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz: the object table (the fds of this process) and the mapping
 * slots, in objects.c.
 */
#ifndef UMEM_FUZZ_OBJECTS_H
#define UMEM_FUZZ_OBJECTS_H

#include "common.h"

enum { K_FREE, K_CTL, K_SRV, K_SHM, K_GARBAGE };

/* A region's tag is odd; bit 1 says it is UMEM_INIT_HUGE. */
#define TAG_HUGE	2ULL

struct obj {
	int kind;
	int fd;
	uint64_t tag;		/* the region's, 0 before init */
	uint64_t pages;		/* the region's size, 0 before init */
	bool api;		/* control fd: handshake made */
	bool rdonly;		/* control fd opened O_RDONLY */
};

extern struct obj objs[NOBJ];
extern pthread_mutex_t olock;
extern int fd_limit;
bool ioctl_outcome(const char *name, int ret, const struct obj *o,
		   int kind, uint64_t allowed);
int obj_add(int kind, int fd, uint64_t tag, uint64_t pages, bool api,
	    bool rdonly);
void obj_update(int fd, uint64_t tag, uint64_t pages, bool api);
struct obj pick(int want, unsigned int any_pct);
int find_obj(int kind, uint64_t tag);
bool obj_live(int fd);
void obj_close(int fd);

/* ---- the arena: every mapping lives in a slot of its own ---- */

/*
 * Mappings are made MAP_FIXED into slots of a reserved arena, and an
 * unmapped slot is filled again with a PROT_NONE placeholder: an address
 * of a slot never holds anything but a umem or shmem mapping of ours, or
 * nothing, so a stale address can be touched safely.  A slot's generation
 * is odd while it changes; a probe whose slot changed generation meanwhile
 * proves nothing and is not checked.
 */
enum { S_EMPTY, S_UMEM, S_SHM, S_UNKNOWN };

struct map {
	int kind;
	int prot;
	bool partial;		/* part of it unmapped or reprotected */
	uint64_t tag;
	uint64_t pgoff;		/* region page of the slot's first page */
	uint64_t npages;
	uint64_t rpages;	/* region size */
};

struct slot {
	pthread_mutex_t lock;
	unsigned int gen;
	struct map m;
};

extern struct slot slots[NSLOT];
char *slot_addr(int i);
uint64_t slot_pages(int i);
void placeholder(char *addr, size_t len, bool replace);
void slot_begin(struct slot *s);
void slot_end(struct slot *s);
bool slot_snap(int i, struct map *m, unsigned int *gen);
bool slot_same(int i, unsigned int gen);

#endif /* UMEM_FUZZ_OBJECTS_H */
