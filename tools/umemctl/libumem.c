// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * libumem: see libumem.h.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include "libumem.h"

static __thread char umem_err[256];

const char *umemlib_strerror(void)
{
	return umem_err;
}

/* Record "what: strerror(err)[hint]" and return -err. */
__attribute__((format(printf, 2, 3)))
static int fail(int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(umem_err, sizeof(umem_err), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(umem_err))
		snprintf(umem_err + n, sizeof(umem_err) - n, ": %s",
			 strerror(err));
	return -err;
}

static int region_fill(struct umemlib_region *r, int fd)
{
	struct umem_stats st;

	if (ioctl(fd, UMEM_IOC_STATS, &st) < 0) {
		if (errno == ENOTTY || errno == EINVAL)
			return fail(ENOTTY, "fd %d is not a umem control fd", fd);
		if (errno == ENXIO)
			return fail(ENXIO, "fd %d is a umem fd without a region", fd);
		return fail(errno, "fd %d: UMEM_IOC_STATS", fd);
	}
	r->ctl = fd;
	r->page_size = st.page_size;
	r->size = st.size;
	r->pages = st.size / st.page_size;
	return 0;
}

/* Open /dev/umem and make the handshake: the fd, or -errno. */
static int open_api(struct umem_api *api)
{
	int fd, ret;

	memset(api, 0, sizeof(*api));
	api->api = UMEM_API_VERSION;
	fd = open(UMEMLIB_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = errno;
		if (ret == ENOENT)
			return fail(ret, "%s (is the umem module loaded?)",
				    UMEMLIB_DEVICE);
		return fail(ret, "open %s", UMEMLIB_DEVICE);
	}
	if (ioctl(fd, UMEM_IOC_API, api) < 0) {
		ret = fail(errno, "%s: handshake for protocol version %d",
			   UMEMLIB_DEVICE, UMEM_API_VERSION);
		close(fd);
		return ret;
	}
	return fd;
}

int umemlib_page_size(uint32_t *page_size)
{
	struct umem_api api;
	int fd = open_api(&api);

	if (fd < 0)
		return fd;
	close(fd);
	*page_size = api.page_size;
	return 0;
}

int umemlib_create(struct umemlib_region *r, uint64_t size,
		   uint32_t detach_timeout_ms)
{
	return umemlib_create_flags(r, size, detach_timeout_ms, 0);
}

int umemlib_create_flags(struct umemlib_region *r, uint64_t size,
			 uint32_t detach_timeout_ms, uint32_t flags)
{
	struct umem_init init = {
		.size = size,
		.flags = flags,
		.detach_timeout_ms = detach_timeout_ms,
	};
	struct umem_api api;
	int fd, ret;

	fd = open_api(&api);
	if (fd < 0)
		return fd;
	if (size % api.page_size) {
		ret = fail(EINVAL, "region size %llu is not a multiple of the page size %u",
			   (unsigned long long)size, api.page_size);
		goto err;
	}
	if (ioctl(fd, UMEM_IOC_INIT, &init) < 0) {
		ret = errno;
		if (ret == E2BIG)
			ret = fail(ret, "region of %llu bytes is over the module's max_region_bytes",
				   (unsigned long long)size);
		else if (ret == ENOSPC)
			ret = fail(ret, "the module's max_regions regions exist");
		else if (ret == EINVAL && flags)
			ret = fail(ret, "UMEM_IOC_INIT: flags %#x unknown to this module?",
				   flags);
		else
			ret = fail(ret, "UMEM_IOC_INIT (size %llu)",
				   (unsigned long long)size);
		goto err;
	}
	ret = region_fill(r, fd);
	if (!ret)
		return 0;
err:
	close(fd);
	return ret;
}

int umemlib_from_fd(struct umemlib_region *r, int fd)
{
	if (fcntl(fd, F_GETFD) < 0)
		return fail(errno, "fd %d", fd);
	return region_fill(r, fd);
}

int umemlib_fd_is_umemfs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	return sfs.f_type == UMEM_FS_MAGIC;
}

int umemlib_open_file(struct umemlib_region *r, const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC), ret;

	if (fd < 0)
		return fail(errno, "open %s", path);
	ret = umemlib_fd_is_umemfs(fd);
	if (ret < 0) {
		ret = fail(-ret, "fstatfs %s", path);
		goto err;
	}
	if (!ret) {
		ret = fail(ENOTTY, "%s is not a file of a umemfs mount (mount -t umem)",
			   path);
		goto err;
	}
	ret = region_fill(r, fd);
	if (!ret)
		return 0;
	if (ret == -ENXIO)
		fail(ENXIO, "%s has no region yet: its VMM has not sized it (ftruncate)",
		     path);
err:
	close(fd);
	return ret;
}

int umemlib_find_pid_file(pid_t pid, const char *match, char *path, size_t len)
{
	char dir[32], fdp[320], link[PATH_MAX], names[1024] = "", found[320];
	dev_t dev = 0;
	ino_t ino = 0;
	struct dirent *de;
	int n = 0;
	struct statfs sfs;
	struct stat st;
	ssize_t l;
	size_t used = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return fail(errno, "%s", dir);
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(fdp, sizeof(fdp), "%s/%s", dir, de->d_name);
		/* Both follow the magic link to the open file itself. */
		if (statfs(fdp, &sfs) || sfs.f_type != UMEM_FS_MAGIC ||
		    stat(fdp, &st) || !S_ISREG(st.st_mode))
			continue;
		l = readlink(fdp, link, sizeof(link) - 1);
		if (l < 0)
			continue;
		link[l] = 0;
		if (match && !strstr(link, match))
			continue;
		if (n && st.st_dev == dev && st.st_ino == ino)
			continue;	/* another fd of the same file */
		if (used < sizeof(names))
			used += snprintf(names + used, sizeof(names) - used,
					 "%sfd %s (%s)", n ? ", " : "",
					 de->d_name, link);
		if (!n) {
			snprintf(found, sizeof(found), "%s", fdp);
			dev = st.st_dev;
			ino = st.st_ino;
		}
		n++;
	}
	closedir(d);
	if (!n)
		return fail(ENOENT, "process %d has no umemfs file open%s%s%s",
			    (int)pid, match ? " whose path contains '" : "",
			    match ? match : "", match ? "'" : "");
	if (n > 1)
		return fail(EEXIST, "process %d has %d umemfs files open: %s; choose one with --path-match or --path /proc/%d/fd/N",
			    (int)pid, n, names, (int)pid);
	if (snprintf(path, len, "%s", found) >= (int)len)
		return fail(ENAMETOOLONG, "%s", found);
	return 0;
}

void umemlib_close(struct umemlib_region *r)
{
	if (r->ctl >= 0)
		close(r->ctl);
	r->ctl = -1;
}

int umemlib_map(const struct umemlib_region *r, uint64_t offset, uint64_t len,
		int prot, void **addr)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, r->ctl, offset);

	if (p == MAP_FAILED)
		return fail(errno, "mmap of region bytes [%llu, +%llu)",
			    (unsigned long long)offset,
			    (unsigned long long)len);
	*addr = p;
	return 0;
}

int umemlib_serve(const struct umemlib_region *r, uint32_t flags,
		  struct umemlib_server *s)
{
	struct umem_serve sv = { .flags = flags };

	if (ioctl(r->ctl, UMEM_IOC_SERVE, &sv) < 0) {
		if (errno == EBUSY)
			return fail(EBUSY, "another server is serving the region");
		if (errno == EIO)
			return fail(EIO, "the region failed: its detach deadline passed");
		return fail(errno, "UMEM_IOC_SERVE");
	}
	s->fd = sv.server_fd;
	s->shmem_fd = sv.shmem_fd;
	s->page_size = r->page_size;
	s->pages = r->pages;
	return 0;
}

void umemlib_server_close(struct umemlib_server *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->shmem_fd >= 0)
		close(s->shmem_fd);
	s->fd = s->shmem_fd = -1;
}

ssize_t umemlib_read_requests(const struct umemlib_server *s,
			      struct umem_request *reqs, size_t max)
{
	ssize_t n = read(s->fd, reqs, max * sizeof(*reqs));

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return -errno;
		return fail(errno, "read of requests");
	}
	return n / sizeof(*reqs);
}

int umemlib_mark_present(const struct umemlib_server *s,
			 const struct umem_range *ranges, size_t n)
{
	const size_t max = UMEM_WRITE_MAX / sizeof(*ranges);

	while (n) {
		size_t k = n < max ? n : max;
		ssize_t w = write(s->fd, ranges, k * sizeof(*ranges));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return fail(errno, "marking %zu ranges present (first %llu+%llu)",
				    k, (unsigned long long)ranges->pgoff,
				    (unsigned long long)ranges->count);
		}
		ranges += k;
		n -= k;
	}
	return 0;
}

int umemlib_poison(const struct umemlib_server *s, uint64_t pgoff, uint64_t count)
{
	struct umem_range r = { .pgoff = pgoff, .count = count };

	if (ioctl(s->fd, UMEM_IOC_POISON, &r) < 0)
		return fail(errno, "poison of pages %llu+%llu",
			    (unsigned long long)pgoff,
			    (unsigned long long)count);
	return 0;
}

int umemlib_complete(const struct umemlib_server *s)
{
	if (ioctl(s->fd, UMEM_IOC_COMPLETE) < 0)
		return fail(errno, "UMEM_IOC_COMPLETE");
	return 0;
}

int umemlib_bitmap(const struct umemlib_server *s, uint32_t which, uint64_t *words)
{
	struct umem_bitmap bm = {
		.count = s->pages,
		.addr = (uintptr_t)words,
		.which = which,
	};

	if (ioctl(s->fd, UMEM_IOC_BITMAP, &bm) < 0)
		return fail(errno, "UMEM_IOC_BITMAP");
	return 0;
}

int umemlib_stats(int fd, struct umem_stats *st)
{
	if (ioctl(fd, UMEM_IOC_STATS, st) < 0) {
		if (errno == ENOTTY)
			return fail(errno, "fd %d is not a umem fd", fd);
		return fail(errno, "UMEM_IOC_STATS");
	}
	return 0;
}

uint64_t umemlib_wait_quantile_us(const struct umem_stats *st, double q)
{
	uint64_t total = 0, seen = 0, want;
	int i;

	for (i = 0; i < UMEM_HIST_BUCKETS; i++)
		total += st->wait_hist[i];
	if (!total)
		return 0;
	want = (uint64_t)(q * total + 0.999999);
	if (want < 1)
		want = 1;
	for (i = 0; i < UMEM_HIST_BUCKETS; i++) {
		seen += st->wait_hist[i];
		if (seen >= want)
			return 1ULL << i;
	}
	return 1ULL << (UMEM_HIST_BUCKETS - 1);
}

long umemlib_pmd_mapped_kb(const void *addr)
{
	unsigned long start, end, kb;
	long ret = -1;
	char line[256];
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return fail(errno, "/proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		/* A VMA's first line: "start-end perms ..." */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			if (in)
				break;
			in = (uintptr_t)addr >= start && (uintptr_t)addr < end;
			if (in)
				ret = 0;
			continue;
		}
		if (in && (sscanf(line, "ShmemPmdMapped: %lu kB", &kb) == 1 ||
			   sscanf(line, "FilePmdMapped: %lu kB", &kb) == 1))
			ret += kb;
	}
	fclose(f);
	if (ret < 0)
		return fail(ENOENT, "no mapping at %p", addr);
	return ret;
}

const char *umemlib_state_name(uint32_t state)
{
	static const char * const names[] = {
		[UMEM_STATE_UNSERVED] = "unserved",
		[UMEM_STATE_SERVED] = "served",
		[UMEM_STATE_DETACHED] = "detached",
		[UMEM_STATE_FAILED] = "failed",
		[UMEM_STATE_COMPLETE] = "complete",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

int umemlib_send_fd(int sock, int fd)
{
	char byte = 'U';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = c.buf, .msg_controllen = sizeof(c.buf),
	};
	struct cmsghdr *cm;

	memset(&c, 0, sizeof(c));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
		return fail(errno, "sending fd %d over a unix socket", fd);
	return 0;
}

int umemlib_recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = c.buf, .msg_controllen = sizeof(c.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return fail(errno, "receiving an fd over a unix socket");
	cm = CMSG_FIRSTHDR(&msg);
	if (n != 1 || !cm || cm->cmsg_level != SOL_SOCKET ||
	    cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return fail(EPROTO, "no fd received over the unix socket");
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}
