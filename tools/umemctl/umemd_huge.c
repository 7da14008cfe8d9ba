// SPDX-License-Identifier: GPL-2.0
/*
 * umemd: each 2 MiB extent made whole is collapsed into a huge page, in
 * the VMM's mm where umemd may (process_madvise), else on its own
 * mapping, by a worker thread beside the io loop.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#include "umemd_core.h"

/* ---- huge pages -------------------------------------------------------- */

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

/* Pages per 2 MiB extent. */
uint64_t extent_pages(const struct umemd *d)
{
	return (2ULL << 20) / d->psz;
}

/* Is a page of extent @e still waiting in the next batch to be marked? */
static bool extent_pending(const struct umemd *d, uint64_t e)
{
	uint64_t first = e * extent_pages(d), end = first + extent_pages(d);
	size_t i;

	for (i = 0; i < d->npend; i++)
		if (d->pend[i].pgoff < end &&
		    d->pend[i].pgoff + d->pend[i].count > first)
			return true;
	return false;
}

/* ---- the VMM's mappings ------------------------------------------------ */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise	440
#endif

#define EXTENT_BYTES	(2ULL << 20)

/* Forget the mappings found, and close their pidfds. */
static void vmaps_clear(struct umemd *d)
{
	int i, j;

	for (i = 0; i < d->nvmaps; i++) {
		for (j = 0; j < i && d->vmaps[j].pidfd != d->vmaps[i].pidfd; j++)
			;
		if (j == i)
			close(d->vmaps[i].pidfd);
	}
	d->nvmaps = 0;
}

/*
 * The shared mappings of the region's shmem inode (@st's st_dev and
 * st_ino: a guest mapping carries a file on that inode) in process @pid,
 * as /proc/PID/maps lists them.  With a @pidfd, they are added to
 * d->vmaps.  Returns how many there are.
 */
static int maps_of(struct umemd *d, pid_t pid, int pidfd,
		   const struct stat *st)
{
	unsigned long long start, end, off, ino;
	unsigned int maj, mnr;
	char path[64], line[512], perms[8];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end,
			   perms, &off, &maj, &mnr, &ino) != 7 ||
		    ino != st->st_ino || makedev(maj, mnr) != st->st_dev ||
		    perms[3] != 's')
			continue;
		n++;
		if (pidfd >= 0 && d->nvmaps < MAX_VMM_MAPS)
			d->vmaps[d->nvmaps++] = (struct vmm_map){
				.pid = pid, .pidfd = pidfd,
				.start = start, .end = end, .off = off,
			};
	}
	fclose(f);
	return n;
}

static void add_pid(struct umemd *d, pid_t pid, const struct stat *st)
{
	int pidfd, before = d->nvmaps;

	if (pid == getpid() || !maps_of(d, pid, -1, st))
		return;
	/* The pidfd, then the maps again: both of one process, not a reuse. */
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return;
	maps_of(d, pid, pidfd, st);
	if (d->nvmaps == before)
		close(pidfd);
}

/*
 * Find every other process that maps the region (the VMM, and any helper
 * it shared the guest RAM with): --pid's first, then by pid.  Once, and
 * again when a collapse finds a mapping gone.
 */
static void find_vmaps(struct umemd *d)
{
	struct dirent *de;
	struct stat st;
	char *end;
	DIR *dir;
	long pid;

	vmaps_clear(d);
	d->vmaps_found = true;
	d->vmaps_ns = now_ns();
	if (fstat(d->srv.shmem_fd, &st))
		return;
	if (d->vmm_pid)
		add_pid(d, d->vmm_pid, &st);
	dir = opendir("/proc");
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		pid = strtol(de->d_name, &end, 10);
		if (pid > 0 && !*end && pid != d->vmm_pid)
			add_pid(d, pid, &st);
	}
	closedir(dir);
	logv(d, "%d mapping(s) of the region in other processes%s%d",
	     d->nvmaps, d->nvmaps ? ", the first in pid " : "",
	     d->nvmaps ? (int)d->vmaps[0].pid : 0);
}

/* MADV_COLLAPSE of the extent at @addr in @m's process: 0 or an errno. */
static int vmm_collapse(const struct vmm_map *m, uint64_t addr)
{
	struct iovec iov = {
		.iov_base = (void *)(uintptr_t)addr,
		.iov_len = EXTENT_BYTES,
	};
	ssize_t n = syscall(SYS_process_madvise, m->pidfd, &iov, 1,
			    MADV_COLLAPSE, 0);

	if (n == (ssize_t)EXTENT_BYTES)
		return 0;
	return n < 0 ? errno : EAGAIN;
}

/*
 * Read a byte at @addr through @m's process: the VMM faults the (present)
 * page in, and so has a page table under the extent.
 */
static void vmm_touch(const struct vmm_map *m, uint64_t addr)
{
	char c;
	struct iovec local = { .iov_base = &c, .iov_len = 1 };
	struct iovec remote = {
		.iov_base = (void *)(uintptr_t)addr,
		.iov_len = 1,
	};

	process_vm_readv(m->pid, &local, 1, &remote, 1, 0);
}

/*
 * Collapse extent @e in every process that maps it whole, 2 MiB-aligned:
 * the collapse runs in that process's mm, so its memory cgroup pays for
 * the huge page, and that mm gets it PMD-mapped (on 6.1 too, where
 * MADV_COLLAPSE retracts only the page table of the mm it runs in).
 * Returns how many did; *@err is the last failure, *@tried how many
 * mappings were tried.
 */
static int collapse_vmms(const struct umemd *d, uint64_t e, int *err,
			 int *tried)
{
	uint64_t off = e * EXTENT_BYTES, addr;
	int i, n = 0, ret;

	for (i = 0; i < d->nvmaps; i++) {
		const struct vmm_map *m = &d->vmaps[i];

		if (off < m->off || off + EXTENT_BYTES > m->off + (m->end - m->start))
			continue;
		addr = m->start + (off - m->off);
		if (addr % EXTENT_BYTES)
			continue;
		(*tried)++;
		ret = vmm_collapse(m, addr);
		/*
		 * With no page table of the VMM's under the extent (it never
		 * touched the memory around it) the huge page is made, and
		 * charged to the VMM, but the call fails with EINVAL: it has
		 * nowhere to put the PMD.  The VMM gets a table by a touch;
		 * the second call maps the huge page there.
		 */
		if (ret == EINVAL) {
			vmm_touch(m, addr);
			ret = vmm_collapse(m, addr);
		}
		if (!ret)
			n++;
		else
			*err = ret;
	}
	return n;
}

/*
 * Collapse extent @e on umemd's own mapping of the shmem fd: the huge
 * page is charged to umemd's memory cgroup.  The fall back when no other
 * process maps the extent, or none lets umemd collapse there.
 */
static void collapse_own(struct umemd *d, uint64_t e, int why, int tried)
{
	uint8_t *a = d->map + e * EXTENT_BYTES;

	if (!d->said_own) {
		d->said_own = true;
		fprintf(stderr, "%sumemd: collapsing extents on umemd's own mapping, from extent %llu: %s%s; a huge page made there is charged to umemd's memory cgroup\n",
			d->tty ? "\n" : "", (unsigned long long)e,
			tried ? "process_madvise(MADV_COLLAPSE) in the VMM: " :
			"no other process maps the extent 2 MiB-aligned",
			tried ? strerror(why) : "");
	}
	/* 6.1 collapses only under a page table of the caller's. */
	(void)*(volatile uint8_t *)a;
	if (!madvise(a, EXTENT_BYTES, MADV_COLLAPSE)) {
		d->collapsed[e] = 1;
		d->n_huge++;
		d->n_huge_own++;
		return;
	}
	d->collapse_err = errno;
	logv(d, "extent %llu stays on 4 KiB pages for now: MADV_COLLAPSE: %s",
	     (unsigned long long)e, strerror(errno));
}

/* Does extent @e hold a poisoned page? */
bool extent_poisoned(const struct umemd *d, uint64_t e)
{
	uint64_t p = e * extent_pages(d), end = p + extent_pages(d);

	while (p < end && !bit_test(d->poisoned, p))
		p++;
	return p < end;
}

/*
 * May the region hold huge pages?  MADV_COLLAPSE of less than an extent
 * of our mapping collapses nothing, and only checks that the mapping may:
 * it may not unless the region is UMEM_INIT_HUGE (and the kernel has
 * THP).  If not, umemd never tries.
 */
void collapse_check(struct umemd *d)
{
	if (madvise(d->map, d->psz, MADV_COLLAPSE))
		d->no_collapse = true;
}

/*
 * Extent @e is present whole, and none of its pages is poisoned: collapse
 * it into one huge page, in the mm of every process that maps it (the
 * VMM: Documentation/umem.rst, "Huge pages"), else on umemd's own
 * mapping.  Such a collapse maps the huge page by a PMD in that mm at
 * once, without umem's fault, which would have refused a missing or
 * poisoned page: so never for an extent that is not whole, or poisoned.
 * EAGAIN (a page in use for a
 * moment), EBUSY (the VMM's memory cgroup is full) or ENOMEM (no huge
 * page free) leave the extent on 4 KiB pages, to try again at the end.
 */
void collapse_extent(struct umemd *d, uint64_t e)
{
	int err = 0, tried = 0, n;

	if (!d->vmaps_found)
		find_vmaps(d);
	n = collapse_vmms(d, e, &err, &tried);
	/* A VMM gone, or a mapping moved (ENOMEM: nothing mapped there). */
	if (!n && (err == ESRCH || err == ENOMEM || !tried) &&
	    now_ns() - d->vmaps_ns > 1000000000ULL) {
		find_vmaps(d);
		err = 0;
		tried = 0;
		n = collapse_vmms(d, e, &err, &tried);
	}
	if (n) {
		d->collapsed[e] = 1;
		d->n_huge++;
		return;
	}
	if (tried && (err == EAGAIN || err == EBUSY || err == ENOMEM)) {
		d->collapse_err = err;
		logv(d, "extent %llu stays on 4 KiB pages for now: process_madvise(MADV_COLLAPSE): %s",
		     (unsigned long long)e, strerror(err));
		return;
	}
	collapse_own(d, e, err, tried);
}

/*
 * The collapse worker: a collapse copies 2 MiB and waits for the VMM's
 * mmap lock and the LRU drain of every CPU (5 to 90 ms each in the test
 * VM), which in the io loop would delay the requests and pages of
 * blocked faults.  It runs at nice 19, so that its copies take only CPU
 * that no vCPU, umemd's loop or the source wants: a blocked fault waits
 * for the pages, a collapse only makes the guest faster later.  It takes
 * the extents in the order they were handed over; once asked to stop it
 * ends after the one in hand, and finish() collapses the rest at umemd's
 * own priority.
 */
static void *collapse_worker(void *arg)
{
	struct umemd *d = arg;
	uint64_t e, before;
	sigset_t all;

	/* Signals are the io loop's (SIGUSR1 wakes it). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&d->qlock);
	d->worker_tid = syscall(SYS_gettid);
	/* Raising one's own nice value needs no privilege. */
	setpriority(PRIO_PROCESS, d->worker_tid, 19);
	d->worker_nice = getpriority(PRIO_PROCESS, d->worker_tid);
	/* Named once at nice 19: what top -H shows under that name is so. */
	pthread_setname_np(pthread_self(), "umemd-collapse");
	for (;;) {
		while (d->qhead == d->qtail && !d->qstop)
			pthread_cond_wait(&d->qcond, &d->qlock);
		if (d->qstop)
			break;
		e = d->queue[d->qhead++];
		pthread_mutex_unlock(&d->qlock);
		before = d->n_huge;
		collapse_extent(d, e);
		d->n_huge_worker += d->n_huge - before;
		pthread_mutex_lock(&d->qlock);
	}
	pthread_mutex_unlock(&d->qlock);
	return NULL;
}

/* Hand extent @e, whole, to the worker; started at the first. */
static void collapse_queue(struct umemd *d, uint64_t e)
{
	d->queued[e] = 1;
	if (!d->worker_on) {
		if (pthread_create(&d->worker, NULL, collapse_worker, d)) {
			/* No worker: in the loop, as before. */
			collapse_extent(d, e);
			return;
		}
		d->worker_on = true;
	}
	pthread_mutex_lock(&d->qlock);
	d->queue[d->qtail++] = e;
	pthread_cond_signal(&d->qcond);
	pthread_mutex_unlock(&d->qlock);
}

/*
 * End the worker once the extent in hand is collapsed; what it did not
 * reach stays uncollapsed, for finish().  The extent in hand goes at
 * umemd's own priority where umemd may give it back (CAP_SYS_NICE, which
 * a collapse in the VMM needs too): at nice 19 beside a busy vCPU, one
 * collapse could take a second.
 */
void collapse_worker_stop(struct umemd *d)
{
	int prio;

	if (!d->worker_on)
		return;
	errno = 0;
	prio = getpriority(PRIO_PROCESS, 0);
	pthread_mutex_lock(&d->qlock);
	d->qstop = true;
	pthread_cond_signal(&d->qcond);
	if (d->worker_tid && !errno)
		setpriority(PRIO_PROCESS, d->worker_tid, prio);
	pthread_mutex_unlock(&d->qlock);
	pthread_join(d->worker, NULL);
	d->worker_on = false;
}

/*
 * Ranges [@r, @r + @n) were just marked present: hand each extent they
 * made whole to the worker, unless a page of it is still to be marked.
 */
void collapse_ranges(struct umemd *d, const struct umem_range *r, size_t n)
{
	uint64_t ext = extent_pages(d), e, last;
	size_t i;

	if (ext <= 1 || d->no_collapse)
		return;
	for (i = 0; i < n; i++) {
		last = (r[i].pgoff + r[i].count - 1) / ext;
		for (e = r[i].pgoff / ext; e <= last; e++) {
			if ((e + 1) * ext > d->pages || d->queued[e] ||
			    bit_next_clear(d->have, (e + 1) * ext, e * ext) <
			    (e + 1) * ext || extent_pending(d, e) ||
			    extent_poisoned(d, e))
				continue;
			collapse_queue(d, e);
		}
	}
}
