// SPDX-License-Identifier: GPL-2.0
/*
 * trace: the umem tracepoints, enabled through tracefs, for one served
 * fault, a poison and a completion, and a detach, re-adopt and deadline;
 * each event is checked field by field in trace_pipe.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "umem_test.h"

#define TRACING "/sys/kernel/tracing"
#define TRACE_BUF (1 << 20)

/* Write @val to tracefs file @name; false (and errno) on failure. */
static bool tracefs_write(const char *name, const char *val)
{
	char path[256];
	ssize_t len = strlen(val);
	int fd;
	bool ok;

	snprintf(path, sizeof(path), TRACING "/%s", name);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = write(fd, val, len) == len;
	close(fd);
	return ok;
}

/*
 * tracefs mounted, the trace buffer empty, every umem event enabled.
 * Returns false if this kernel has no tracefs or no umem events.
 */
static bool tracing_start(struct __test_metadata *_metadata)
{
	struct stat st;

	if (stat(TRACING "/events", &st) &&
	    mount("tracefs", TRACING, "tracefs", 0, NULL) && errno != EBUSY)
		return false;
	if (stat(TRACING "/events/umem", &st))
		return false;
	EXPECT_TRUE(tracefs_write("tracing_on", "0"));
	EXPECT_TRUE(tracefs_write("trace", ""));	/* O_TRUNC clears it */
	EXPECT_TRUE(tracefs_write("events/umem/enable", "1"));
	EXPECT_TRUE(tracefs_write("tracing_on", "1"));
	return true;
}

/* Stop tracing and return what trace_pipe holds (malloc'ed). */
static char *tracing_stop(struct __test_metadata *_metadata)
{
	char *buf = calloc(1, TRACE_BUF);
	size_t len = 0;
	ssize_t n;
	int fd;

	EXPECT_TRUE(tracefs_write("tracing_on", "0"));
	fd = open(TRACING "/trace_pipe", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	EXPECT_LE(0, fd);
	while (fd >= 0 && buf && len < TRACE_BUF - 1) {
		n = read(fd, buf + len, TRACE_BUF - 1 - len);
		if (n <= 0)
			break;
		len += n;
	}
	if (fd >= 0)
		close(fd);
	EXPECT_TRUE(tracefs_write("events/umem/enable", "0"));
	return buf;
}

/*
 * The first line at or after *@pos with event @event whose fields include
 * every "key=value" of @want (space-separated); *@pos moves past it, so
 * successive calls check the order.  NULL if there is none.
 */
static const char *find_event(const char *buf, const char **pos,
			      const char *event, const char *want)
{
	char tag[64], key[256];
	const char *line = *pos ? *pos : buf, *end, *w, *sp;

	snprintf(tag, sizeof(tag), " %s: ", event);
	for (; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		w = strstr(line, tag);
		if (!w || (end && w > end))
			continue;
		for (w = want; w && *w; w = sp ? sp + 1 : NULL) {
			const char *hit;
			size_t n;

			sp = strchr(w, ' ');
			n = sp ? (size_t)(sp - w) : strlen(w);
			/* " key=value" followed by a space or the line's end */
			snprintf(key, sizeof(key), " %.*s", (int)n, w);
			hit = strstr(line, key);
			if (!hit || (end && hit > end) ||
			    (hit[n + 1] != ' ' && hit[n + 1] != '\n' &&
			     hit[n + 1] != '\0'))
				break;
		}
		if (w && *w)
			continue;
		*pos = end ? end + 1 : line + strlen(line);
		return line;
	}
	return NULL;
}

/* Whether the line at @line (up to its newline) contains @s. */
static bool line_has(const char *line, const char *s)
{
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%.*s", (int)strcspn(line, "\n"), line);
	return strstr(tmp, s);
}

/* The number after " @key=" in the line at @line, or -1. */
static long long field_num(const char *line, const char *key)
{
	char tmp[1024], k[64];
	const char *p;

	snprintf(tmp, sizeof(tmp), "%.*s", (int)strcspn(line, "\n"), line);
	snprintf(k, sizeof(k), " %s=", key);
	p = strstr(tmp, k);
	return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

#define EXPECT_EVENT(buf, pos, event, fmt, ...) ({			\
	char __want[512];						\
	const char *__l;						\
									\
	snprintf(__want, sizeof(__want), fmt, ##__VA_ARGS__);		\
	__l = find_event(buf, pos, event, __want);			\
	EXPECT_NE(NULL, __l) TH_LOG("no %s with %s (in order) in:\n%s",	\
				    event, __want, buf);		\
	__l;								\
})

static unsigned long shmem_ino(struct __test_metadata *_metadata, int shm)
{
	struct stat st;

	EXPECT_EQ(0, fstat(shm, &st));
	return st.st_ino;
}

struct server_arg {
	struct umem_fix *f;
	int pages;		/* requests to serve */
	int delay_ms;		/* before supplying each */
	pid_t tid;
};

static void *server(void *p)
{
	struct server_arg *a = p;
	struct umem_request req;
	int i;

	a->tid = syscall(SYS_gettid);
	for (i = 0; i < a->pages; i++) {
		if (umem_read_req(a->f, &req) != sizeof(req))
			return (void *)1;
		usleep(a->delay_ms * 1000);
		if (umem_supply(a->f, req.pgoff))
			return (void *)1;
	}
	return NULL;
}

TEST(trace__served_fault)
{
	struct server_arg a = { .pages = 2, .delay_ms = 20 };
	const char *pos = NULL, *l;
	struct umem_fix f;
	unsigned long ino;
	pthread_t th;
	void *ret;
	pid_t me = syscall(SYS_gettid);
	char *buf;

	umem_fix_setup(_metadata, &f, 8, 10000, true);
	ino = shmem_ino(_metadata, f.shm);
	if (!tracing_start(_metadata))
		SKIP(umem_fix_teardown(&f); return, "no tracefs or no umem events");
	a.f = &f;
	ASSERT_EQ(0, pthread_create(&th, NULL, server, &a));
	/* A read fault on page 3, then a write fault on page 5. */
	EXPECT_EQ(umem_pattern(3, 0), *(volatile uint64_t *)(f.map + 3 * f.psz));
	*(volatile uint64_t *)(f.map + 5 * f.psz) = 7;
	ASSERT_EQ(0, pthread_join(th, &ret));
	EXPECT_EQ(NULL, ret);
	buf = tracing_stop(_metadata);
	ASSERT_NE(NULL, buf);

	/* The read fault: missing, queued, read, present, woken, retried. */
	l = EXPECT_EVENT(buf, &pos, "umem_fault", "region=%lu pgoff=3 present=0", ino);
	if (l) {
		EXPECT_TRUE(line_has(l, "USER")) TH_LOG("%.200s", l);
		EXPECT_FALSE(line_has(l, "WRITE")) TH_LOG("%.200s", l);
	}
	EXPECT_EVENT(buf, &pos, "umem_request_queued",
		     "region=%lu pgoff=3 flags= tid=%d", ino, me);
	EXPECT_EVENT(buf, &pos, "umem_request_read",
		     "region=%lu pgoff=3 flags= tid=%d", ino, me);
	EXPECT_EVENT(buf, &pos, "umem_present",
		     "region=%lu pgoff=3 count=1 present=1/8", ino);
	l = EXPECT_EVENT(buf, &pos, "umem_wake",
			 "region=%lu pgoff=3 present=1 state=served", ino);
	if (l)
		EXPECT_LE(20000000, field_num(l, "wait_ns")) TH_LOG("%.200s", l);
	EXPECT_EVENT(buf, &pos, "umem_fault", "region=%lu pgoff=3 present=1", ino);

	/* The write fault: the request says WRITE. */
	l = EXPECT_EVENT(buf, &pos, "umem_fault", "region=%lu pgoff=5 present=0", ino);
	if (l)
		EXPECT_TRUE(line_has(l, "|WRITE") || line_has(l, "=WRITE"))
			TH_LOG("%.200s", l);
	EXPECT_EVENT(buf, &pos, "umem_request_queued",
		     "region=%lu pgoff=5 flags=WRITE tid=%d", ino, me);
	EXPECT_EVENT(buf, &pos, "umem_request_read",
		     "region=%lu pgoff=5 flags=WRITE tid=%d", ino, me);
	EXPECT_EVENT(buf, &pos, "umem_present",
		     "region=%lu pgoff=5 count=1 present=2/8", ino);
	EXPECT_EVENT(buf, &pos, "umem_wake",
		     "region=%lu pgoff=5 present=1 state=served", ino);
	/* Nothing else was asked for. */
	EXPECT_EQ(NULL, strstr(buf, " umem_poison: "));
	EXPECT_EQ(NULL, strstr(buf, " umem_detach: "));
	free(buf);
	umem_fix_teardown(&f);
}

TEST(trace__poison_complete)
{
	struct umem_range all = { .pgoff = 0, .count = 4 };
	struct umem_range bad = { .pgoff = 1, .count = 1 };
	const char *pos = NULL;
	struct umem_fix f;
	unsigned long ino;
	char *buf;

	umem_fix_setup(_metadata, &f, 4, 10000, true);
	ino = shmem_ino(_metadata, f.shm);
	if (!tracing_start(_metadata))
		SKIP(umem_fix_teardown(&f); return, "no tracefs or no umem events");
	EXPECT_EQ(-1, ioctl(f.srv, UMEM_IOC_COMPLETE));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, ioctl(f.srv, UMEM_IOC_POISON, &bad));
	EXPECT_EQ(sizeof(all), write(f.srv, &all, sizeof(all)));
	EXPECT_EQ(0, ioctl(f.srv, UMEM_IOC_COMPLETE));
	buf = tracing_stop(_metadata);
	ASSERT_NE(NULL, buf);

	EXPECT_EVENT(buf, &pos, "umem_complete",
		     "region=%lu ret=%d present=0/4", ino, -EBUSY);
	EXPECT_EVENT(buf, &pos, "umem_poison",
		     "region=%lu pgoff=1 count=1 present=1/4", ino);
	EXPECT_EVENT(buf, &pos, "umem_present",
		     "region=%lu pgoff=0 count=4 present=4/4", ino);
	EXPECT_EVENT(buf, &pos, "umem_complete",
		     "region=%lu ret=0 present=4/4", ino);
	free(buf);
	umem_fix_teardown(&f);
}

static int serve(struct umem_fix *f)
{
	struct umem_serve sv = { .flags = UMEM_SERVE_CLOEXEC };
	int ret = ioctl(f->ctl, UMEM_IOC_SERVE, &sv);

	if (!ret) {
		f->srv = sv.server_fd;
		if (f->shm >= 0)
			close(f->shm);
		f->shm = sv.shmem_fd;
	}
	return ret;
}

TEST(trace__detach_readopt_deadline)
{
	const char *pos = NULL, *l;
	struct umem_request req;
	struct umem_fix f;
	unsigned long ino;
	char *buf;
	pid_t child;

	umem_fix_setup(_metadata, &f, 8, 300, false);
	if (!tracing_start(_metadata))
		SKIP(umem_fix_teardown(&f); return, "no tracefs or no umem events");
	ASSERT_EQ(0, serve(&f));
	ino = shmem_ino(_metadata, f.shm);
	child = umem_fork_reader(&f, 2);
	ASSERT_EQ(sizeof(req), umem_read_req(&f, &req));
	ASSERT_EQ(2, req.pgoff);
	/* Read, never supplied: outstanding through the detach. */
	close(f.srv);
	f.srv = -1;
	ASSERT_EQ(0, serve(&f));
	close(f.srv);
	f.srv = -1;
	/* No server comes back: the deadline fails the region. */
	EXPECT_EQ(128 + SIGBUS, umem_wait_child(child));
	buf = tracing_stop(_metadata);
	ASSERT_NE(NULL, buf);

	EXPECT_EVENT(buf, &pos, "umem_adopt",
		     "region=%lu readopt=0 redeliver=0 present=0/8", ino);
	EXPECT_EVENT(buf, &pos, "umem_request_queued",
		     "region=%lu pgoff=2 flags= tid=%d", ino, child);
	EXPECT_EVENT(buf, &pos, "umem_request_read", "region=%lu pgoff=2", ino);
	EXPECT_EVENT(buf, &pos, "umem_detach",
		     "region=%lu failed=0 timeout_ms=300 present=0/8", ino);
	EXPECT_EVENT(buf, &pos, "umem_adopt",
		     "region=%lu readopt=1 redeliver=1 present=0/8", ino);
	EXPECT_EVENT(buf, &pos, "umem_detach",
		     "region=%lu failed=0 timeout_ms=300", ino);
	EXPECT_EVENT(buf, &pos, "umem_deadline",
		     "region=%lu timeout_ms=300 present=0/8", ino);
	l = EXPECT_EVENT(buf, &pos, "umem_wake",
			 "region=%lu pgoff=2 present=0 state=failed", ino);
	if (l)
		EXPECT_LE(300000000, field_num(l, "wait_ns")) TH_LOG("%.200s", l);
	free(buf);
	umem_fix_teardown(&f);
}

TEST_HARNESS_MAIN
