// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: the object table (the fds of this process) and the mapping slots.
 */
#include "objects.h"

/*
 * The outcome of umem ioctl @name on @o, an fd of any kind, when @kind is
 * the one it is for: a failure there must be one of @allowed, on another
 * umem fd ENOTTY, on garbage anything; a success anywhere but on @kind is
 * a failure.  True when the call succeeded on @kind, for the caller to
 * check further.  errno is kept.
 */
bool ioctl_outcome(const char *name, int ret, const struct obj *o,
		   int kind, uint64_t allowed)
{
	int err = errno;
	char what[64];

	if (ret) {
		if (o->kind == kind) {
			check_errno(name, err, allowed);
		} else if (o->kind != K_GARBAGE) {
			snprintf(what, sizeof(what), "%s on another fd", name);
			check_errno(what, err, B(ENOTTY));
		}
	} else if (o->kind != kind && o->kind != K_GARBAGE) {
		fail("%s succeeded on fd kind %d", name, o->kind);
	}
	errno = err;
	return !ret && o->kind == kind;
}

struct obj objs[NOBJ];
pthread_mutex_t olock = PTHREAD_MUTEX_INITIALIZER;
static int next_fd = FD_BASE;
int fd_limit = 1024;
static int closed_fds[8];

/*
 * Move @fd to a number of its own, never used before in this process (up
 * to wrapping at the fd limit): a stale number in a snapshot of the table
 * then names no object (EBADF), never another one.  Under olock.
 */
static int unique_fd(int fd)
{
	int i, n = FD_BASE;

	for (i = 0; i < fd_limit; i++) {
		n = next_fd++;
		if (next_fd >= fd_limit)
			next_fd = FD_BASE;
		if (fcntl(n, F_GETFD) < 0 && errno == EBADF)
			break;
	}
	n = dup3(fd, n, O_CLOEXEC);
	close(fd);
	return n;
}

/* Add @fd (closed if the table is full); returns its new number, or -1. */
int obj_add(int kind, int fd, uint64_t tag, uint64_t pages, bool api,
	    bool rdonly)
{
	int i, n = -1;

	pthread_mutex_lock(&olock);
	for (i = 0; i < NOBJ; i++)
		if (objs[i].kind == K_FREE)
			break;
	if (i < NOBJ) {
		n = unique_fd(fd);
		if (n >= 0)
			objs[i] = (struct obj){ kind, n, tag, pages, api, rdonly };
	} else {
		close(fd);
	}
	pthread_mutex_unlock(&olock);
	return n;
}

void obj_update(int fd, uint64_t tag, uint64_t pages, bool api)
{
	int i;

	pthread_mutex_lock(&olock);
	for (i = 0; i < NOBJ; i++)
		if (objs[i].kind != K_FREE && objs[i].fd == fd) {
			if (pages) {
				objs[i].tag = tag;
				objs[i].pages = pages;
			}
			objs[i].api |= api;
		}
	pthread_mutex_unlock(&olock);
}

static int garbage_fd(void)
{
	switch (below(5)) {
	case 0: return -1;
	case 1: return INT_MAX;
	case 2: return 0;	/* /dev/null, read-only */
	case 3: return fd_limit + (int)below(100);
	default: return closed_fds[below(8)];
	}
}

/*
 * A snapshot of a live object of @want kind (or of any kind with
 * @any_pct, garbage with 4%): kind K_GARBAGE if there is none.
 */
struct obj pick(int want, unsigned int any_pct)
{
	struct obj o = { .kind = K_GARBAGE, .fd = garbage_fd() };
	int idx[NOBJ], n = 0, i;
	bool any = chance(any_pct), region = chance(75);

	if (chance(4))
		return o;
	pthread_mutex_lock(&olock);
	/* Mostly an object with a region: that is where the work is. */
	if (region && !any)
		for (i = 0; i < NOBJ; i++)
			if (objs[i].kind == want && objs[i].pages)
				idx[n++] = i;
	if (!n)
		for (i = 0; i < NOBJ; i++)
			if (objs[i].kind != K_FREE && (any || objs[i].kind == want))
				idx[n++] = i;
	if (n)
		o = objs[idx[below(n)]];
	pthread_mutex_unlock(&olock);
	return o;
}

/* A live object of @kind for the region @tag: its fd, or -1. */
int find_obj(int kind, uint64_t tag)
{
	int i, fd = -1;

	pthread_mutex_lock(&olock);
	for (i = 0; i < NOBJ; i++)
		if (objs[i].kind == kind && objs[i].tag == tag) {
			fd = objs[i].fd;
			break;
		}
	pthread_mutex_unlock(&olock);
	return fd;
}

/* Is @fd still in the table?  It is closed only after leaving it. */
bool obj_live(int fd)
{
	bool live = false;
	int i;

	pthread_mutex_lock(&olock);
	for (i = 0; i < NOBJ; i++)
		if (objs[i].kind != K_FREE && objs[i].fd == fd)
			live = true;
	pthread_mutex_unlock(&olock);
	return live;
}

/* Remove the object with number @fd and close it. */
void obj_close(int fd)
{
	int i;

	pthread_mutex_lock(&olock);
	for (i = 0; i < NOBJ; i++)
		if (objs[i].kind != K_FREE && objs[i].fd == fd) {
			if (objs[i].kind == K_SRV)
				count_ev(EV_detached);
			objs[i].kind = K_FREE;
			closed_fds[below(8)] = fd;
			close(fd);
		}
	pthread_mutex_unlock(&olock);
}

/* ---- the arena: the slots, described in fuzz.h ---- */

struct slot slots[NSLOT];

char *slot_addr(int i)
{
	return (char *)ARENA_BASE + i * HUGE_SLOT_PAGES * PS;
}

/* The largest mapping slot @i takes, in pages. */
uint64_t slot_pages(int i)
{
	return i >= NSLOT - NSLOT_HUGE ? HUGE_SLOT_PAGES : SLOT_PAGES;
}

void placeholder(char *addr, size_t len, bool replace)
{
	mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
	     (replace ? MAP_FIXED : MAP_FIXED_NOREPLACE), -1, 0);
}

void slot_begin(struct slot *s)
{
	__atomic_fetch_add(&s->gen, 1, __ATOMIC_SEQ_CST);
}

void slot_end(struct slot *s)
{
	__atomic_fetch_add(&s->gen, 1, __ATOMIC_SEQ_CST);
}

bool slot_snap(int i, struct map *m, unsigned int *gen)
{
	struct slot *s = &slots[i];
	unsigned int g = __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE);

	if (g & 1)
		return false;
	*m = s->m;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*gen = g;
	return __atomic_load_n(&s->gen, __ATOMIC_RELAXED) == g;
}

bool slot_same(int i, unsigned int gen)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&slots[i].gen, __ATOMIC_SEQ_CST) == gen;
}
