// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: the operations on regions and mappings: open, the handshake,
 * init, serve, mmap, touch, munmap, mremap, mprotect, madvise.
 */
#include "ops.h"

void op_open(void)
{
	static const int modes[] = { O_RDWR, O_RDWR, O_RDWR, O_RDWR, O_RDONLY,
				     O_WRONLY, O_RDWR | O_NONBLOCK };
	int mode = modes[below(7)];
	int fd = open("/dev/umem", mode | O_CLOEXEC);

	if (fd < 0) {
		check_errno("open", errno, B(ENOMEM) | B(EMFILE) | B(ENFILE));
		return;
	}
	obj_add(K_CTL, fd, 0, 0, false, (mode & O_ACCMODE) == O_RDONLY);
}

void op_api(void)
{
	struct obj o = pick(K_CTL, 10);
	struct umem_api api = { .api = UMEM_API_VERSION };
	bool bad = false;
	void *arg = &api;
	unsigned long cmd = UMEM_IOC_API;
	int ret;

	if (chance(20)) {
		switch (below(5)) {
		case 0: api.api = below(2) ? 0 : rnd(); break;
		case 1: api.features = 1ULL << below(64); break;
		case 2: api.reserved[below(6)] = rnd() | 1; break;
		case 3: arg = chance(50) ? NULL : bad_addr(); break;
		default:
			/* The right number with another size or direction. */
			cmd = _IOC(below(4), UMEM_IOC_MAGIC, 0, below(128));
			if (cmd == UMEM_IOC_API)
				cmd = _IOW(UMEM_IOC_MAGIC, 0, struct umem_api);
			break;
		}
		bad = api.api != UMEM_API_VERSION || api.features || arg != &api ||
		      cmd != UMEM_IOC_API || api.reserved[0] | api.reserved[1] |
		      api.reserved[2] | api.reserved[3] | api.reserved[4] |
		      api.reserved[5];
	}
	ret = ioctl(o.fd, cmd, arg);
	if (o.kind != K_CTL)
		return;
	if (!ret) {
		if (bad)
			fail("UMEM_IOC_API accepted a bad handshake (cmd %#lx)", cmd);
		if (api.page_size != PS || api.api != UMEM_API_VERSION ||
		    api.features)
			fail("UMEM_IOC_API answered api %u page_size %u features %llx",
			     api.api, api.page_size,
			     (unsigned long long)api.features);
		obj_update(o.fd, 0, 0, true);
	} else {
		check_errno("UMEM_IOC_API", errno, cmd != UMEM_IOC_API ? B(ENOTTY) :
			    B(EINVAL) | B(EBUSY) | B(EFAULT));
	}
}

static uint32_t rnd_timeout(void)
{
	switch (below(10)) {
	case 0: return 0;
	case 1: return rnd();		/* for ever, as good as */
	case 2: return 500 + below(1500);
	default: return 1 + below(200);
	}
}

void op_init(void)
{
	struct obj o = pick(K_CTL, 8);
	struct umem_init init = { .detach_timeout_ms = rnd_timeout() };
	uint64_t pages;
	bool bad = false, nothp;
	void *arg = &init;
	int ret;

	switch (below(20)) {
	case 0: init.size = 0; bad = true; break;
	case 1: init.size = PS * (1 + below(64)) + 1 + below(PS - 1); bad = true; break;
	case 2: init.size = MAX_REGION; break;
	case 3: init.size = MAX_REGION + PS * (1 + below(4)); bad = true; break;
	case 4: init.size = (1ULL << 30) + PS * below(4); break;
	case 5: init.size = rnd() & ~(PS - 1); bad = init.size > MAX_REGION || !init.size; break;
	case 6: init.size = PS * (1 + below(4096)); break;
	case 7: case 8: init.size = PS * (1 + below(SLOT_PAGES)); break;
	default: init.size = PS * (1 + below(1024)); break;
	}
	init.flags = chance(20) ? UMEM_INIT_KERNEL_EFAULT : 0;
	/* Huge regions, half of them one or two extents and a part. */
	if (chance(25)) {
		init.flags |= UMEM_INIT_HUGE;
		if (!bad && chance(50))
			init.size = PS * (EXTENT_PAGES * (1 + below(2)) +
					  below(EXTENT_PAGES));
	}
	/* UMEM_INIT_HUGE_ADVISE alone is a mistake. */
	if (chance(10)) {
		init.flags |= UMEM_INIT_HUGE_ADVISE;
		bad |= !(init.flags & UMEM_INIT_HUGE);
	}
	if (chance(5)) {
		init.flags |= 1U << (3 + below(29));
		bad = true;
	}
	/* No THP (PREEMPT_RT): UMEM_INIT_HUGE is refused, EOPNOTSUPP. */
	nothp = (init.flags & UMEM_INIT_HUGE) &&
		access("/sys/kernel/mm/transparent_hugepage", F_OK);
	if (chance(5)) {
		init.reserved[below(6)] = rnd() | 1;
		bad = true;
	}
	if (chance(3)) {
		arg = chance(50) ? NULL : bad_addr();
		bad = true;
	}
	pages = init.size / PS;
	ret = ioctl(o.fd, UMEM_IOC_INIT, arg);
	/* EOPNOTSUPP is past the B() mask: checked here. */
	if (ret && errno == EOPNOTSUPP && o.kind == K_CTL) {
		if (!nothp)
			fail("UMEM_IOC_INIT: EOPNOTSUPP for flags %#x", init.flags);
		return;
	}
	if (!ioctl_outcome("UMEM_IOC_INIT", ret, &o, K_CTL, B(ENXIO) |
			   B(EBUSY) | B(EINVAL) | B(E2BIG) | B(ENOSPC) |
			   B(ENOMEM) | B(EFAULT)))
		return;
	if (bad || o.rdonly || nothp)
		fail("UMEM_IOC_INIT accepted size %llu flags %#x on a%s fd",
		     (unsigned long long)init.size, init.flags,
		     o.rdonly ? " read-only" : "");
	count_ev(EV_regions);
	obj_update(o.fd, (rnd() & ~TAG_HUGE) | 1 |
		   (init.flags & UMEM_INIT_HUGE ? TAG_HUGE : 0), pages, false);
}

/* UMEM_IOC_SERVE on @ctl; adds the two fds.  Returns 0 or errno. */
int do_serve(struct obj *o, bool garbage)
{
	struct umem_serve sv = { 0 };
	bool bad = false;
	void *arg = &sv;
	int ret, live;

	sv.flags = below(4);
	if (garbage) {
		switch (below(4)) {
		case 0: sv.flags |= 1U << (2 + below(30)); break;
		case 1: sv.__pad = rnd() | 1; break;
		case 2: sv.reserved[below(6)] = rnd() | 1; break;
		default: arg = chance(50) ? NULL : bad_addr(); break;
		}
		bad = true;
	}
	/* A server fd of ours open before and after: a server was live. */
	live = o->kind == K_CTL && o->pages ? find_obj(K_SRV, o->tag) : -1;
	ret = ioctl(o->fd, UMEM_IOC_SERVE, arg);
	if (live >= 0 && !obj_live(live))
		live = -1;
	if (ret) {
		ret = errno;
		if (live >= 0 && (ret == EIO || ret == ENXIO))
			fail("UMEM_IOC_SERVE: errno %d while a server is live", ret);
		if (o->kind == K_CTL)
			check_errno("UMEM_IOC_SERVE", ret, B(ENXIO) | B(EINVAL) |
				    B(EBUSY) | B(EIO) | B(EMFILE) | B(ENFILE) |
				    B(ENOMEM) | B(EFAULT));
		else if (o->kind != K_GARBAGE)
			check_errno("UMEM_IOC_SERVE on another fd", ret, B(ENOTTY));
		return ret;
	}
	if (o->kind != K_CTL) {
		if (o->kind != K_GARBAGE)
			fail("UMEM_IOC_SERVE succeeded on fd kind %d", o->kind);
		close(sv.server_fd);
		close(sv.shmem_fd);
		return 0;
	}
	if (bad || o->rdonly)
		fail("UMEM_IOC_SERVE accepted flags %#x pad %u on a%s fd", sv.flags,
		     sv.__pad, o->rdonly ? " read-only" : "");
	if (live >= 0)
		fail("UMEM_IOC_SERVE made a second server while server fd %d is open",
		     live);
	count_ev(EV_adopted);
	if (!o->pages) {
		/* Its init is not in our table yet: no tag to supply with. */
		close(sv.server_fd);
		close(sv.shmem_fd);
		return 0;
	}
	obj_add(K_SRV, sv.server_fd, o->tag, o->pages, false, false);
	obj_add(K_SHM, sv.shmem_fd, o->tag, o->pages, false, false);
	return 0;
}

void op_serve(void)
{
	struct obj o = pick(K_CTL, 8);

	do_serve(&o, chance(10));
}

static uint64_t rnd_prot(void)
{
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ,
		PROT_WRITE, PROT_NONE, PROT_READ | PROT_EXEC };

	return prots[below(8)];
}

void op_mmap(void)
{
	int i = below(NSLOT), flags, prot = rnd_prot();
	struct slot *s = &slots[i];
	struct obj o;
	uint64_t off, npages, len, sp;
	bool bad = false, fixed = true;
	void *p;

	sp = slot_pages(i);
	/* A huge slot takes a shmem fd more often: MADV_COLLAPSE goes there. */
	o = pick(chance(sp > SLOT_PAGES ? 60 : 85) ? K_CTL : K_SHM, 6);
	npages = 1 + below(sp);
	if (o.pages && chance(70))
		npages = 1 + below(o.pages < sp ? o.pages : sp);
	off = o.pages ? below(o.pages) : below(8);
	/* A huge slot: mostly whole extents, from an extent's start. */
	if (sp > SLOT_PAGES && chance(70)) {
		off -= off % EXTENT_PAGES;
		npages = EXTENT_PAGES * (1 + below(2));
		if (o.pages > off && npages > o.pages - off)
			npages = o.pages - off;
	}
	if (o.pages && off + npages > o.pages && chance(80))
		off = npages <= o.pages ? o.pages - npages : 0;
	off *= PS;
	len = npages * PS;
	if (chance(3))
		off += 1 + below(PS - 1);
	if (chance(3))
		len -= below(PS);
	flags = chance(90) ? MAP_SHARED : chance(70) ? MAP_PRIVATE :
		MAP_SHARED_VALIDATE;
	if (chance(3))
		flags |= MAP_POPULATE;
	if (chance(2))
		flags |= MAP_LOCKED;
	if (chance(3))
		flags |= MAP_NORESERVE;
	if (chance(2)) {
		fixed = false;	/* EEXIST: the slot holds something */
		flags |= MAP_FIXED_NOREPLACE;
	} else {
		flags |= MAP_FIXED;
	}
	if (o.kind == K_CTL && o.pages)
		bad = (flags & MAP_TYPE) == MAP_PRIVATE || off % PS ||
		      off / PS >= o.pages || npages > o.pages - off / PS;

	if (pthread_mutex_trylock(&s->lock))
		return;
	slot_begin(s);
	p = mmap(slot_addr(i), len, prot, flags, o.fd, off);
	if (p != MAP_FAILED) {
		if (p != slot_addr(i))
			fail("mmap MAP_FIXED returned %p for %p", p, slot_addr(i));
		if (bad)
			fail("mmap of a region of %llu pages accepted offset %llu len %llu flags %#x",
			     (unsigned long long)o.pages, (unsigned long long)off,
			     (unsigned long long)len, flags);
		count_ev(EV_mappings);
		s->m = (struct map){
			.kind = o.kind == K_CTL ? S_UMEM : o.kind == K_SHM ? S_SHM : S_UNKNOWN,
			.prot = prot, .tag = o.tag, .pgoff = off / PS,
			.npages = (len + PS - 1) / PS, .rpages = o.pages,
			.partial = (o.kind == K_CTL && !o.pages) ||
				   (flags & MAP_TYPE) == MAP_PRIVATE,
		};
		if (s->m.kind == S_UMEM && !o.pages)
			s->m.kind = S_UNKNOWN;
	} else if (fixed) {
		/* The old mapping may be gone or not: make it a hole. */
		placeholder(slot_addr(i), slot_pages(i) * PS, true);
		s->m.kind = S_EMPTY;
	}
	slot_end(s);
	pthread_mutex_unlock(&s->lock);
}

/* mmap anywhere, touch a page, munmap: a mapping no other thread knows. */
void op_mmap_loose(void)
{
	struct obj o = pick(K_CTL, 5);
	uint64_t npages, off, pg, w[PS / 8];
	char *p;
	int sig;

	if (!o.pages)
		return;
	npages = 1 + below(o.pages < 16 ? o.pages : 16);
	off = below(o.pages - npages + 1);
	p = mmap(NULL, npages * PS, PROT_READ | PROT_WRITE, MAP_SHARED, o.fd,
		 off * PS);
	if (p == MAP_FAILED)
		return;
	pg = below(npages);
	sig = probe((uint64_t *)(p + pg * PS), PR_PAGE, w, 50 + below(200));
	if (!sig)
		check_words("read of a fresh mapping", o.tag, off + pg, 0, w,
			    PS / 8, true);
	munmap(p, npages * PS);
}

void op_touch(void)
{
	int i = below(NSLOT), mode, sig;
	uint64_t pg, word, w[PS / 8], *addr, t0;
	unsigned int gen;
	struct map m;
	bool ok;

	if (chance(70)) {
		int idx[NSLOT], n = 0, j;

		/* Mostly a umem mapping: faults are the point. */
		for (j = 0; j < NSLOT; j++)
			if (__atomic_load_n(&slots[j].m.kind, __ATOMIC_RELAXED) == S_UMEM)
				idx[n++] = j;
		if (n)
			i = idx[below(n)];
	}
	if (!slot_snap(i, &m, &gen))
		return;
	if (m.kind == S_EMPTY && chance(90))
		return;
	pg = m.npages ? below(m.npages) : 0;
	if (chance(3))
		pg = m.npages + below(2);
	word = below(PS / 8);
	mode = below(3);
	addr = (uint64_t *)(slot_addr(i) + pg * PS);
	if (mode != PR_PAGE)
		addr += word;
	else
		word = 0;
	t0 = now_us();
	sig = probe(addr, mode, w, 20 + below(300));
	if (pg >= slot_pages(i))
		return;
	switch (sig) {
	case 0:
		count_ev(mode == PR_WRITE ? EV_ok_write : EV_ok_read);
		/* Slept until a server supplied the page, most likely. */
		if (m.kind == S_UMEM && now_us() - t0 > 2000)
			count_ev(EV_waited);
		break;
	case SIGBUS:
		count_ev(EV_sigbus);
		return;
	case SIGSEGV:
		count_ev(EV_sigsegv);
		if ((m.kind == S_UMEM || m.kind == S_SHM) && !m.partial &&
		    !in_child && pg < m.npages &&
		    (m.prot & (mode == PR_WRITE ? PROT_WRITE : PROT_READ)) &&
		    slot_same(i, gen))
			fail("SIGSEGV on a %s of page %llu of a live mapping (prot %#x, %llu pages)",
			     mode == PR_WRITE ? "write" : "read",
			     (unsigned long long)pg, m.prot,
			     (unsigned long long)m.npages);
		return;
	default:
		count_ev(EV_timeout);
		return;
	}
	if (mode == PR_WRITE || (m.kind != S_UMEM && m.kind != S_SHM) ||
	    pg >= m.npages)
		return;
	ok = check_words("read", m.tag, m.pgoff + pg, word, w,
			 mode == PR_PAGE ? PS / 8 : 1, false);
	if (!ok && slot_same(i, gen))
		check_words("read of a mapping", m.tag, m.pgoff + pg, word, w,
			    mode == PR_PAGE ? PS / 8 : 1, true);
	/* A partial slot may have readable anonymous memory in its holes. */
	if (m.kind == S_UMEM && !m.partial) {
		int srv = find_obj(K_SRV, m.tag), present = -1;

		if (srv >= 0)
			present = page_present(srv, m.pgoff + pg, m.rpages);

		if (present >= 0)
			count_ev(EV_present_checks);
		if (!present && slot_same(i, gen))
			fail("page %llu of region %016llx read through a mapping, "
			     "but the present bitmap says it never arrived",
			     (unsigned long long)(m.pgoff + pg),
			     (unsigned long long)m.tag);
	}
}

void op_unmap(void)
{
	int i = below(NSLOT);
	struct slot *s = &slots[i];
	uint64_t a, n, sp = slot_pages(i);

	if (pthread_mutex_trylock(&s->lock))
		return;
	slot_begin(s);
	switch (below(3)) {
	case 0:
		placeholder(slot_addr(i), sp * PS, true);
		s->m.kind = S_EMPTY;
		break;
	case 1:
		munmap(slot_addr(i), sp * PS);
		placeholder(slot_addr(i), sp * PS, false);
		s->m.kind = S_EMPTY;
		break;
	default:
		a = below(sp);
		n = 1 + below(sp - a);
		if (chance(50)) {
			munmap(slot_addr(i) + a * PS, n * PS);
			placeholder(slot_addr(i) + a * PS, n * PS, false);
		} else {
			placeholder(slot_addr(i) + a * PS, n * PS, true);
		}
		s->m.partial = true;
		break;
	}
	slot_end(s);
	pthread_mutex_unlock(&s->lock);
}

void op_mremap(void)
{
	int a = below(NSLOT), b = below(NSLOT);
	struct slot *sa = &slots[a], *sb = &slots[b];
	uint64_t oldn, newn, spa = slot_pages(a), spb = slot_pages(b);
	void *p;

	if (a == b || pthread_mutex_trylock(&sa->lock))
		return;
	if (pthread_mutex_trylock(&sb->lock)) {
		pthread_mutex_unlock(&sa->lock);
		return;
	}
	slot_begin(sa);
	slot_begin(sb);
	oldn = sa->m.kind == S_EMPTY ? 1 + below(spa) :
	       sa->m.npages ? sa->m.npages : 1;
	newn = oldn;
	/* What moves must fit b's slot. */
	switch (oldn > spb ? 0 : below(4)) {
	case 0:	/* shrink in place */
		newn = 1 + below(oldn);
		p = mremap(slot_addr(a), oldn * PS, newn * PS, 0);
		if (p != MAP_FAILED && newn < oldn) {
			placeholder(slot_addr(a) + newn * PS, (oldn - newn) * PS, false);
			sa->m.npages = newn;
		}
		break;
	case 1:	/* grow, moving to b */
		/*
		 * Not a umem mapping: growing one works (mmap.mremap_grow
		 * tests it), but its pages past the region's end are not in
		 * this model.
		 */
		if (oldn < spb && sa->m.kind != S_UMEM)
			newn = oldn + 1 + below(spb - oldn);
		/* fall through */
	default: /* move to b */
		if (chance(5))
			oldn = 0;	/* a duplicate of a shared mapping */
		p = mremap(slot_addr(a), oldn * PS, newn * PS,
			   MREMAP_MAYMOVE | MREMAP_FIXED, slot_addr(b));
		if (p != MAP_FAILED) {
			sb->m = sa->m;
			sb->m.npages = newn;
			if (oldn) {
				placeholder(slot_addr(a), spa * PS, false);
				sa->m.kind = S_EMPTY;
			}
			/* b's tail beyond newn: a placeholder or a hole. */
			if (newn < spb)
				placeholder(slot_addr(b) + newn * PS,
					    (spb - newn) * PS, false);
		} else {
			/* The target may have been unmapped first. */
			placeholder(slot_addr(b), spb * PS, true);
			sb->m.kind = S_EMPTY;
		}
		break;
	}
	slot_end(sb);
	slot_end(sa);
	pthread_mutex_unlock(&sb->lock);
	pthread_mutex_unlock(&sa->lock);
}

void op_mprotect(void)
{
	int i = below(NSLOT), prot = rnd_prot();
	struct slot *s = &slots[i];
	uint64_t sp = slot_pages(i), a = 0, n = sp;

	if (pthread_mutex_trylock(&s->lock))
		return;
	slot_begin(s);
	if (chance(30)) {
		a = below(sp);
		n = 1 + below(sp - a);
		s->m.partial = true;
	}
	if (!mprotect(slot_addr(i) + a * PS, n * PS, prot) && n == sp)
		s->m.prot = prot;
	else if (n == sp)
		s->m.partial = true;	/* may be partly applied */
	slot_end(s);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Map whole extents of a huge region's shmem fd into huge slot @i, under
 * its lock: MADV_COLLAPSE wants such a mapping, which op_mmap's churn
 * leaves there too seldom.
 */
static void map_extents(int i, struct slot *s)
{
	uint64_t off, n;
	struct obj o;
	int t;
	void *p;

	for (t = 0; t < 4; t++) {
		o = pick(K_SHM, 0);
		if (o.kind == K_SHM && (o.tag & TAG_HUGE) &&
		    o.pages >= EXTENT_PAGES)
			break;
	}
	if (t == 4)
		return;
	off = below(o.pages / EXTENT_PAGES) * EXTENT_PAGES;
	n = EXTENT_PAGES * (1 + below(2));
	if (n > o.pages - off)
		n = o.pages - off;
	slot_begin(s);
	p = mmap(slot_addr(i), n * PS, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, o.fd, off * PS);
	if (p != MAP_FAILED) {
		count_ev(EV_mappings);
		s->m = (struct map){
			.kind = S_SHM, .prot = PROT_READ | PROT_WRITE,
			.tag = o.tag, .pgoff = off, .npages = n,
			.rpages = o.pages,
		};
	} else {
		/* The fd closed meanwhile: whatever was there may be gone. */
		placeholder(slot_addr(i), slot_pages(i) * PS, true);
		s->m.kind = S_EMPTY;
	}
	slot_end(s);
}

/*
 * MADV_COLLAPSE only on a shmem fd's mapping (the server's own, as umemd
 * falls back to): any range, whole extents or not, present or not.  Not
 * on a guest mapping: a collapse there maps the huge folio by a PMD
 * without umem's fault, and a server may do it only for an extent whose
 * every page is present (Documentation/umem.rst, "Huge pages"), which a
 * concurrent poison here could undo.  Under the slot's lock: the slot
 * holds what its kind says.  It succeeds only for a UMEM_INIT_HUGE
 * region: the others' mappings refuse it.
 */
static void collapse(int i, uint64_t a, uint64_t n)
{
	struct slot *s = &slots[i];
	bool inside;
	uint64_t w;
	int ret;

	if (pthread_mutex_trylock(&s->lock))
		return;
	if (slot_pages(i) > SLOT_PAGES && chance(50))
		map_extents(i, s);
	/* Mostly inside the mapping: beyond it, EINVAL says nothing. */
	if (chance(90) && s->m.npages) {
		if (a >= s->m.npages)
			a = 0;
		n = n < s->m.npages - a ? n : s->m.npages - a;
	}
	if (s->m.kind != S_SHM || s->m.partial) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/*
	 * Past the mapping the slot may still hold an older, longer one (a
	 * mapping replaces only its own length): of another region, which
	 * s->m does not describe.
	 */
	inside = a + n <= s->m.npages;
	/* 6.1 collapses only under a page table of the caller's. */
	probe((uint64_t *)(slot_addr(i) + a * PS), PR_READ, &w, 100);
	arm(2000);
	ret = madvise(slot_addr(i) + a * PS, n * PS, MADV_COLLAPSE);
	disarm();
	/* A tag of 0: the fd was taken before its region was made. */
	if (!ret && inside && s->m.tag && !(s->m.tag & TAG_HUGE))
		fail("MADV_COLLAPSE of a shmem fd's mapping of a region without UMEM_INIT_HUGE succeeded");
	if (!ret && inside && n >= EXTENT_PAGES)
		count_ev(EV_collapsed);
	pthread_mutex_unlock(&s->lock);
}

void op_madvise(void)
{
	static const int advice[] = {
		MADV_DONTNEED, MADV_DONTNEED, MADV_DONTNEED, MADV_REMOVE,
		MADV_REMOVE, MADV_WILLNEED, MADV_COLD, MADV_PAGEOUT,
		MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_HUGEPAGE,
		MADV_NOHUGEPAGE, MADV_DONTFORK, MADV_DOFORK, MADV_FREE,
		MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_SEQUENTIAL, MADV_RANDOM,
		MADV_NORMAL, MADV_MERGEABLE, MADV_COLLAPSE, MADV_COLLAPSE,
		MADV_COLLAPSE, MADV_COLLAPSE, -1,
	};
	int i = below(NSLOT), adv = advice[below(ARRAY_SIZE(advice))];
	uint64_t sp = slot_pages(i), a = below(sp), n = 1 + below(sp - a);

	/*
	 * Any number, but never the two that take a page away for good: as
	 * root they would poison the guest's RAM for every later test.
	 */
	if (adv < 0) {
		adv = below(128);
		if (adv == MADV_HWPOISON || adv == MADV_SOFT_OFFLINE)
			adv = MADV_NORMAL;
	}
	if (adv == MADV_COLLAPSE) {
		/* Mostly whole extents of a huge slot. */
		if (chance(80)) {
			i = NSLOT - 1 - below(NSLOT_HUGE);
			sp = slot_pages(i);
			a = below(sp);
			a -= a % EXTENT_PAGES;
			n = EXTENT_PAGES * (1 + below(2));
			n = n < sp - a ? n : sp - a;
		}
		collapse(i, a, n);
		return;
	}
	if (adv == MADV_DONTFORK)
		slots[i].m.partial = true;	/* children lose it */
	arm(500);
	madvise(slot_addr(i) + a * PS, n * PS, adv);
	disarm();
}
