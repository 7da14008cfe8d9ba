// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: the operations on the server and shmem fds: read, write,
 * poison, complete, bitmaps, stats, random ioctls, close and dup; and
 * answering requests as a server does.
 */
#include "ops.h"

/* Answer requests read from server @srv of the region @tag. */
void answer(int srv, uint64_t tag, uint64_t pages,
	    const struct umem_request *req, size_t n)
{
	int shm = find_obj(K_SHM, tag);
	struct umem_range r;
	size_t i;

	for (i = 0; i < n; i++) {
		r.pgoff = req[i].pgoff;
		r.count = 1;
		if (chance(3)) {
			if (!ioctl(srv, UMEM_IOC_POISON, &r))
				count_ev(EV_poisoned);
			continue;
		}
		if (chance(2))
			continue;	/* dropped: redelivered after a detach */
		if (shm >= 0 && chance(95))
			fill_pages(shm, tag, r.pgoff, 1);
		if (write(srv, &r, sizeof(r)) == sizeof(r))
			count_ev(EV_supplied);
	}
}

void op_read(void)
{
	struct obj o = pick(K_SRV, 8);
	uint64_t buf[512 + 8];
	struct iovec iov[3];
	size_t len, niov = 1, i, n;
	ssize_t ret;
	void *dst = buf;

	switch (below(8)) {
	case 0: len = below(16); break;
	case 1: len = 16 + below(48); break;
	case 2: len = 16 * (1 + below(256)); break;
	default: len = 16 * (1 + below(8)); break;
	}
	memset(buf, 0xa5, sizeof(buf));
	/* Never into a mapping: records are not page contents. */
	if (chance(3))
		dst = bad_addr();
	arm(50 + below(200));
	if (chance(15) && dst == buf && len >= 3) {
		/* Records across iovec boundaries. */
		size_t c1 = below(len), c2 = below(len - c1);

		iov[0] = (struct iovec){ buf, c1 };
		iov[1] = (struct iovec){ (char *)buf + c1, c2 };
		iov[2] = (struct iovec){ (char *)buf + c1 + c2, len - c1 - c2 };
		niov = 3;
		ret = readv(o.fd, iov, 3);
	} else {
		ret = read(o.fd, dst, len);
	}
	disarm();
	if (o.kind != K_SRV)
		return;
	if (ret < 0) {
		check_errno("read of a server fd", errno, B(EINVAL) | B(EAGAIN) |
			    B(EINTR) | B(EFAULT));
		if (len >= 16 && errno == EINVAL)
			fail("read of %zu bytes (%zu iovecs) failed with EINVAL", len, niov);
		return;
	}
	if (len < 16 || ret % 16 || (size_t)ret > len)
		fail("read of %zu bytes returned %zd", len, ret);
	if (dst != buf)
		return;
	for (i = ret / 8; i < sizeof(buf) / 8; i++)
		if (buf[i] != 0xa5a5a5a5a5a5a5a5ULL) {
			fail("read of %zu bytes returned %zd but wrote byte %zu",
			     len, ret, i * 8);
			break;
		}
	n = check_requests((struct umem_request *)buf, ret / 16, o.pages);
	if (chance(90))
		answer(o.fd, o.tag, o.pages, (struct umem_request *)buf, n);
}

void op_write(void)
{
	struct obj o = pick(K_SRV, 8);
	struct umem_range stack[8], *r = stack;
	size_t n = 1 + below(4), len, i;
	bool bad = false, ours = true;
	void *src;
	int shm;
	ssize_t ret;

	/* Records written to a shmem fd would be page contents: not there. */
	if (o.kind == K_SHM)
		return;
	if (chance(5))
		n = 1 + below(4096 + 2);
	if (n > 8)
		r = calloc(n, sizeof(*r));
	if (!r)
		return;
	shm = find_obj(K_SHM, o.tag);
	for (i = 0; i < n; i++) {
		if (o.pages && chance(90)) {
			r[i].pgoff = below(o.pages);
			r[i].count = 1 + below(o.pages - r[i].pgoff < 4 ?
					       o.pages - r[i].pgoff : 4);
			if (chance(1)) {
				r[i].pgoff = 0;
				r[i].count = o.pages;
			} else if (o.pages >= EXTENT_PAGES && n < 8 && chance(10)) {
				/* A whole 2 MiB extent: huge, in a huge region. */
				r[i].pgoff = below(o.pages / EXTENT_PAGES) *
					     EXTENT_PAGES;
				r[i].count = EXTENT_PAGES;
				if (shm >= 0)
					fill_pages(shm, o.tag, r[i].pgoff,
						   r[i].count);
			} else if (shm >= 0 && n < 8 && chance(85)) {
				fill_pages(shm, o.tag, r[i].pgoff, r[i].count);
			}
		} else {
			r[i].pgoff = chance(50) ? o.pages + below(4) : below(o.pages + 1);
			r[i].count = rnd_count(o.pages);
			fill_random(&r[i], chance(20) ? sizeof(r[i]) : 0);
		}
		if (!r[i].count || r[i].pgoff >= o.pages ||
		    r[i].count > o.pages - r[i].pgoff)
			bad = true;
	}
	len = n * sizeof(*r);
	src = r;
	if (chance(5))
		len = below(2) ? 0 : len - 1 - below(15);
	if (chance(3)) {
		/* From a mapping: the kernel faults reading the ranges. */
		src = chance(50) ? bad_addr() : slot_addr(below(NSLOT));
		ours = false;
	}
	ret = write(o.fd, src, len);
	if (r != stack)
		free(r);
	if (o.kind != K_SRV)
		return;
	if (ret < 0) {
		check_errno("write of a server fd", errno, B(EINVAL) | B(E2BIG) |
			    B(EFAULT) | B(ENOMEM));
		if (!ours) {
			/* The VFS checks the address first (EFAULT). */
		} else if (!len || len % 16) {
			if (errno != EINVAL && errno != EBADF)
				fail("write of %zu bytes: errno %d, not EINVAL", len, errno);
		} else if (len > UMEM_WRITE_MAX && errno != E2BIG && errno != EBADF) {
			fail("write of %zu bytes: errno %d, not E2BIG", len, errno);
		}
		return;
	}
	if ((size_t)ret != len)
		fail("write of %zu bytes returned %zd", len, ret);
	if (!len || len % 16 || len > UMEM_WRITE_MAX)
		fail("write of %zu bytes succeeded", len);
	if (bad && ours)
		fail("write of %zu ranges with a bad one succeeded", n);
	count_ev(EV_supplied);
}

void op_poison(void)
{
	struct obj o = pick(K_SRV, 8);
	struct umem_range r;
	bool bad;
	void *arg = &r;
	int i, sig;

	if (o.pages && chance(85)) {
		r.pgoff = below(o.pages);
		r.count = 1 + below(o.pages - r.pgoff < 4 ? o.pages - r.pgoff : 4);
	} else {
		r.pgoff = below(o.pages + 2);
		r.count = rnd_count(o.pages);
	}
	bad = !r.count || r.pgoff >= o.pages || r.count > o.pages - r.pgoff;
	if (chance(3)) {
		arg = chance(50) ? NULL : bad_addr();
		bad = true;
	}
	if (!ioctl_outcome("UMEM_IOC_POISON", ioctl(o.fd, UMEM_IOC_POISON, arg),
			   &o, K_SRV, B(EINVAL) | B(EFAULT) | B(ENOMEM)))
		return;
	if (bad)
		fail("UMEM_IOC_POISON of %llu+%llu in %llu pages succeeded",
		     (unsigned long long)r.pgoff, (unsigned long long)r.count,
		     (unsigned long long)o.pages);
	count_ev(EV_poisoned);
	/* A poisoned page never reads again, through any mapping. */
	for (i = 0; i < NSLOT; i++) {
		uint64_t w, pg;
		unsigned int gen;
		struct map m;

		if (!slot_snap(i, &m, &gen) || m.kind != S_UMEM || m.tag != o.tag ||
		    m.partial || !(m.prot & PROT_READ) ||
		    r.pgoff < m.pgoff || r.pgoff >= m.pgoff + m.npages)
			continue;
		pg = r.pgoff - m.pgoff;
		sig = probe((uint64_t *)(slot_addr(i) + pg * PS), PR_READ, &w, 100);
		count_ev(EV_poison_checks);
		if (!sig && slot_same(i, gen))
			fail("page %llu of region %016llx reads %016llx after UMEM_IOC_POISON",
			     (unsigned long long)r.pgoff,
			     (unsigned long long)o.tag, (unsigned long long)w);
		break;
	}
}

void op_complete(void)
{
	struct obj o = pick(K_SRV, 8);
	struct umem_range r = { 0, o.pages };
	struct umem_stats st;
	bool full = false;
	int ret;

	if (o.kind == K_SRV && chance(10))
		full = write(o.fd, &r, sizeof(r)) == sizeof(r);
	ret = ioctl(o.fd, UMEM_IOC_COMPLETE);
	if (!ioctl_outcome("UMEM_IOC_COMPLETE", ret, &o, K_SRV, B(EBUSY))) {
		if (ret && o.kind == K_SRV && full && errno == EBUSY)
			fail("UMEM_IOC_COMPLETE: EBUSY after every page was marked present");
		return;
	}
	if (!ioctl(o.fd, UMEM_IOC_STATS, &st)) {
		check_stats("stats after complete", &st, o.pages);
		if (st.state != UMEM_STATE_COMPLETE || st.pages_present != o.pages)
			fail("UMEM_IOC_COMPLETE succeeded with state %u, %llu of %llu pages present",
			     st.state, (unsigned long long)st.pages_present,
			     (unsigned long long)o.pages);
	}
}

void op_bitmap(void)
{
	struct obj o = pick(K_SRV, 8);
	uint64_t words[64 + 4];
	struct umem_bitmap bm = { .addr = (uintptr_t)words, .which = below(3) };
	size_t nw, i;
	bool bad = false;
	int k;

	if (o.pages && chance(85)) {
		bm.pgoff = below(o.pages) & ~63ULL;
		bm.count = 1 + below(o.pages - bm.pgoff < 64 * 64 ?
				     o.pages - bm.pgoff : 64 * 64);
	} else {
		bm.pgoff = below(o.pages + 128);
		bm.count = rnd_count(o.pages);
	}
	if (chance(5)) {
		bm.which = 3 + below(100);
		bad = true;
	}
	if (chance(3)) {
		bm.reserved[below(4)] = 1;
		bad = true;
	}
	if (chance(3)) {
		bm.__pad = 1;
		bad = true;
	}
	if (chance(3)) {
		bm.addr = (uintptr_t)bad_addr();
		bad = true;
	}
	if (bm.pgoff % 64 || !bm.count || bm.pgoff >= o.pages ||
	    bm.count > o.pages - bm.pgoff)
		bad = true;
	/* Never let the kernel write more than the buffer holds. */
	if (bm.count > 64 * 64 && bm.addr == (uintptr_t)words) {
		bm.addr = (uintptr_t)bad_addr();
		bad = true;
	}
	memset(words, 0xa5, sizeof(words));
	if (!ioctl_outcome("UMEM_IOC_BITMAP", ioctl(o.fd, UMEM_IOC_BITMAP, &bm),
			   &o, K_SRV, B(EINVAL) | B(EFAULT) | B(ENOMEM)))
		return;
	if (bad && bm.addr == (uintptr_t)words)
		fail("UMEM_IOC_BITMAP pgoff %llu count %llu which %u of %llu pages succeeded",
		     (unsigned long long)bm.pgoff, (unsigned long long)bm.count,
		     bm.which, (unsigned long long)o.pages);
	if (bad)
		return;
	nw = (bm.count + 63) / 64;
	if (bm.count % 64 && words[nw - 1] >> (bm.count % 64))
		fail("UMEM_IOC_BITMAP: bits past count %llu set: %016llx",
		     (unsigned long long)bm.count,
		     (unsigned long long)words[nw - 1]);
	for (i = nw; i < 64 + 4; i++)
		if (words[i] != 0xa5a5a5a5a5a5a5a5ULL) {
			fail("UMEM_IOC_BITMAP of %llu pages wrote word %zu",
			     (unsigned long long)bm.count, i);
			break;
		}
	if (bm.which == UMEM_BITMAP_POISONED) {
		/* Poisoned pages are present: a later snapshot shows them. */
		uint64_t pres[64 + 4];

		bm.which = UMEM_BITMAP_PRESENT;
		bm.addr = (uintptr_t)pres;
		if (ioctl(o.fd, UMEM_IOC_BITMAP, &bm))
			return;
		for (i = 0; i < nw; i++)
			if (words[i] & ~pres[i]) {
				/*
				 * A poison may be mid-step (its poisoned and
				 * present bits go in one locked step, but we
				 * looked between two snapshots): give it up
				 * to a second, however slow the vCPU.
				 */
				for (k = 0; k < 100 && (words[i] & ~pres[i]); k++) {
					usleep(10000);
					if (ioctl(o.fd, UMEM_IOC_BITMAP, &bm))
						return;
				}
				if (words[i] & ~pres[i])
					fail("page poisoned but not present: word %zu %016llx/%016llx",
					     i, (unsigned long long)words[i],
					     (unsigned long long)pres[i]);
				break;
			}
	}
}

void op_stats(void)
{
	struct obj o = pick(chance(50) ? K_CTL : K_SRV, 8);
	struct {
		struct umem_stats st;
		uint64_t canary[4];
	} b;
	void *arg = &b.st;

	memset(&b, 0xa5, sizeof(b));
	if (chance(3))
		arg = chance(50) ? NULL : bad_addr();
	if (ioctl(o.fd, UMEM_IOC_STATS, arg)) {
		if (o.kind == K_CTL || o.kind == K_SRV)
			check_errno("UMEM_IOC_STATS", errno, B(ENXIO) | B(EFAULT));
		else if (o.kind == K_SHM)
			check_errno("UMEM_IOC_STATS on a shmem fd", errno, B(ENOTTY));
		if (errno == ENXIO && (o.kind == K_SRV || o.pages))
			fail("UMEM_IOC_STATS: ENXIO on an fd with a region");
		return;
	}
	if (o.kind == K_SHM)
		fail("UMEM_IOC_STATS succeeded on a shmem fd");
	if (arg != &b.st) {
		if (o.kind != K_GARBAGE)
			fail("UMEM_IOC_STATS succeeded with a bad address");
		return;
	}
	if (o.kind != K_CTL && o.kind != K_SRV)
		return;
	check_stats("UMEM_IOC_STATS", &b.st, o.pages);
	if (b.canary[0] != 0xa5a5a5a5a5a5a5a5ULL)
		fail("UMEM_IOC_STATS wrote past its structure");
}

/* Is @cmd one this kind of fd implements? */
static bool known_cmd(int kind, unsigned long cmd)
{
	if (kind == K_CTL)
		return cmd == UMEM_IOC_API || cmd == UMEM_IOC_INIT ||
		       cmd == UMEM_IOC_SERVE || cmd == UMEM_IOC_STATS;
	return cmd == UMEM_IOC_POISON || cmd == UMEM_IOC_COMPLETE ||
	       cmd == UMEM_IOC_STATS || cmd == UMEM_IOC_BITMAP;
}

void op_ioctl(void)
{
	static const unsigned long known[] = { UMEM_IOC_API, UMEM_IOC_INIT,
		UMEM_IOC_SERVE, UMEM_IOC_POISON, UMEM_IOC_COMPLETE,
		UMEM_IOC_STATS, UMEM_IOC_BITMAP };
	struct obj o = pick(below(3) + 1, 30);
	uint64_t buf[512];
	unsigned long cmd, arg;
	bool umem_fd = o.kind == K_CTL || o.kind == K_SRV;
	int tries, ret;

	for (tries = 0; tries < 8; tries++) {
		switch (below(4)) {
		case 0:
			cmd = _IOC(below(4), UMEM_IOC_MAGIC, below(16), below(512));
			break;
		case 1:	/* a known number, another size or direction */
			cmd = known[below(7)];
			cmd = _IOC(below(4), UMEM_IOC_MAGIC, _IOC_NR(cmd),
				   chance(50) ? _IOC_SIZE(cmd) : below(512));
			break;
		case 2:
			cmd = _IOC(below(4), UMEM_IOC_MAGIC, below(256), below(1 << 14));
			break;
		default:
			cmd = (uint32_t)rnd();
			break;
		}
		/* Known commands have their own operations. */
		if (umem_fd && known_cmd(o.kind, cmd))
			continue;
		/* Not the VFS's own commands (freeze, clone...) on any fd. */
		if (_IOC_TYPE(cmd) != UMEM_IOC_MAGIC && (o.kind == K_SHM ||
							 o.kind == K_GARBAGE))
			continue;
		break;
	}
	if (tries == 8)
		return;
	fill_random(buf, sizeof(buf));
	switch (below(5)) {
	case 0: arg = 0; break;
	case 1: arg = (uintptr_t)bad_addr(); break;
	case 2: arg = rnd(); break;
	default: arg = (uintptr_t)buf; break;
	}
	ret = ioctl(o.fd, cmd, arg);
	if (umem_fd && _IOC_TYPE(cmd) == UMEM_IOC_MAGIC) {
		if (!ret)
			fail("ioctl %#lx succeeded on fd kind %d", cmd, o.kind);
		else
			check_errno("unknown umem ioctl", errno, B(ENOTTY));
	}
}

void op_close(void)
{
	struct obj o = pick(below(3) + 1, 30);

	if (o.kind == K_GARBAGE) {
		close(o.fd < 3 ? -1 : o.fd);
		return;
	}
	obj_close(o.fd);
}

void op_dup(void)
{
	struct obj o = pick(below(3) + 1, 30);
	int fd;

	if (o.kind == K_GARBAGE)
		return;
	fd = dup(o.fd);
	if (fd >= 0)
		obj_add(o.kind, fd, o.tag, o.pages, o.api, o.rdonly);
}
