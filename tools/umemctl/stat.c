// SPDX-License-Identifier: GPL-2.0
/*
 * umemctl stat: print the stats of a live region, in another process.
 *
 * It takes a copy of the process's umem fd with pidfd_getfd() and asks
 * UMEM_IOC_STATS; where that is not allowed it reads the same numbers
 * from /proc/PID/fdinfo/FD.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <fcntl.h>

#include "libumem.h"
#include "commands.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static const char stat_usage[] =
"usage: umemctl stat [--watch MS] (PID [FD] | FILE)\n"
"Print the stats of a umem region that process PID holds, or of a file\n"
"of a umemfs mount (mount -t umem; /proc/PID/fd/N for an unlinked one).\n"
"  FD          the control or server fd, or a umemfs file's fd (default:\n"
"              the first umem fd of PID that has a region)\n"
"  --watch MS  print again every MS milliseconds until the region is\n"
"              complete, failed or gone; on a terminal, a live view that\n"
"              redraws in place: state, a bar of the pages present,\n"
"              faults per second, threads of PID blocked in a fault now,\n"
"              and the fault-wait histogram as a chart\n";

static bool umem_path_is_umemfs(const char *path);
static void print_stats(const char *who, const struct umem_stats *st);
static int stats_of_file(const char *path, long watch);
static void print_watch(const char *who, int pid, const struct umem_stats *st,
			double rate, bool tty);
static double now_s(void);

/* Is /proc/PID/fd/FD a umem fd? */
static bool is_umem_fd(int pid, int fd)
{
	char path[64], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = 0;
	if (!strcmp(link, "/dev/umem") || !strcmp(link, "anon_inode:[umem-server]"))
		return true;
	/* A umemfs file, wherever it is mounted. */
	return umem_path_is_umemfs(path);
}

static bool umem_path_is_umemfs(const char *path)
{
	struct statfs sfs;

	return !statfs(path, &sfs) && sfs.f_type == UMEM_FS_MAGIC;
}

/* umemctl stat FILE: the stats through an fd of the file itself. */
static int stats_of_file(const char *path, long watch)
{
	uint64_t last_faults = 0;
	struct umem_stats st;
	double last_t = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "umemctl stat: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!umem_path_is_umemfs(path)) {
		fprintf(stderr, "umemctl stat: %s is not a file of a umemfs mount\n", path);
		close(fd);
		return 1;
	}
	for (;;) {
		ret = umemlib_stats(fd, &st);
		if (ret) {
			fprintf(stderr, "umemctl stat: %s: %s\n", path,
				ret == -ENXIO ? "no region yet (never sized)" : umemlib_strerror());
			close(fd);
			return 1;
		}
		if (watch) {
			double t = now_s();

			print_watch(path, -1, &st, last_t ? (st.faults - last_faults) /
				    (t - last_t) : -1, isatty(STDOUT_FILENO));
			last_t = t;
			last_faults = st.faults;
		} else {
			print_stats(path, &st);
		}
		if (!watch || st.state == UMEM_STATE_COMPLETE ||
		    st.state == UMEM_STATE_FAILED)
			break;
		usleep(watch * 1000);
	}
	close(fd);
	return 0;
}

/* Parse "umem-x:\tN" lines of fdinfo into @st. */
static int stats_from_fdinfo(int pid, int fd, struct umem_stats *st)
{
	char path[64], line[1024], word[32];
	unsigned long long v;
	bool any = false;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	memset(st, 0, sizeof(*st));
	st->page_size = sysconf(_SC_PAGESIZE);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "umem-state: %31s", word) == 1) {
			for (i = UMEM_STATE_UNSERVED; i <= UMEM_STATE_COMPLETE; i++)
				if (!strcmp(word, umemlib_state_name(i)))
					st->state = i;
			any = !!strcmp(word, "new");
		}
#define FIELD(name, member) \
		else if (sscanf(line, name ": %llu", &v) == 1) st->member = v
		FIELD("umem-size", size);
		FIELD("umem-pages-present", pages_present);
		FIELD("umem-pages-requested", pages_requested);
		FIELD("umem-pages-outstanding", pages_outstanding);
		FIELD("umem-pages-poisoned", pages_poisoned);
		FIELD("umem-faults", faults);
		FIELD("umem-faults-blocked", faults_blocked);
		FIELD("umem-requests-redelivered", requests_redelivered);
		FIELD("umem-detaches", detaches);
		FIELD("umem-blocked-ns", blocked_ns);
#undef FIELD
		else if (!strncmp(line, "umem-wait-hist-log2us:", 22)) {
			char *p = line + 22, *end;

			for (i = 0; i < UMEM_HIST_BUCKETS; i++) {
				st->wait_hist[i] = strtoull(p, &end, 10);
				if (end == p)
					break;
				p = end;
			}
		}
	}
	fclose(f);
	return any ? 0 : -ENXIO;
}

static int get_stats(int pid, int fd, struct umem_stats *st)
{
	int pidfd, copy, ret = -ENOSYS;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		copy = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
		close(pidfd);
		if (copy >= 0) {
			ret = umemlib_stats(copy, st);
			close(copy);
			if (!ret)
				return 0;
		}
	}
	return stats_from_fdinfo(pid, fd, st);
}

static void print_stats(const char *who, const struct umem_stats *st)
{
	uint64_t pages = st->page_size ? st->size / st->page_size : 0;
	int i;
	printf("region of %s: %.1f MiB (%llu pages of %u bytes), %s\n",
	       who, st->size / 1048576.0, (unsigned long long)pages,
	       st->page_size, umemlib_state_name(st->state));
	printf("  pages     %llu present (%.1f%%), %llu requested, %llu outstanding, %llu poisoned\n",
	       (unsigned long long)st->pages_present,
	       pages ? 100.0 * st->pages_present / pages : 0.0,
	       (unsigned long long)st->pages_requested,
	       (unsigned long long)st->pages_outstanding,
	       (unsigned long long)st->pages_poisoned);
	printf("  faults    %llu, %llu blocked, %.3f s blocked in total\n",
	       (unsigned long long)st->faults,
	       (unsigned long long)st->faults_blocked, st->blocked_ns / 1e9);
	printf("  wait      p50 < %llu us, p99 < %llu us, max < %llu us\n",
	       (unsigned long long)umemlib_wait_quantile_us(st, 0.5),
	       (unsigned long long)umemlib_wait_quantile_us(st, 0.99),
	       (unsigned long long)umemlib_wait_quantile_us(st, 1.0));
	printf("  server    %llu detaches, %llu requests redelivered\n",
	       (unsigned long long)st->detaches,
	       (unsigned long long)st->requests_redelivered);
	if (umemlib_wait_quantile_us(st, 1.0)) {
		printf("  histogram");
		for (i = 0; i < UMEM_HIST_BUCKETS; i++)
			if (st->wait_hist[i])
				printf(" <%lluus:%llu", 1ULL << i,
				       (unsigned long long)st->wait_hist[i]);
		printf("\n");
	}
	fflush(stdout);
}

/*
 * Threads of @pid asleep in a umem fault now: their wchan is
 * umem_wait_page.  -1 if the tasks cannot be read.  Without ptrace
 * access to @pid the kernel shows every wchan as "0": that counts 0.
 */
static int blocked_threads(int pid)
{
	char path[96], name[64];
	struct dirent *de;
	int n = 0, seen = 0;
	ssize_t len;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/wchan", pid,
			 de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, name, sizeof(name) - 1);
		close(fd);
		if (len <= 0)
			continue;
		name[len] = 0;
		seen++;
		if (!strcmp(name, "umem_wait_page"))
			n++;
	}
	closedir(d);
	return seen ? n : -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The upper edge of bucket @i: "<512us", "<4.1ms", "<1.05s", ">=1074s". */
static void bucket_label(char *buf, size_t len, int i)
{
	uint64_t us = 1ULL << i;

	if (i == UMEM_HIST_BUCKETS - 1)
		snprintf(buf, len, ">=%.0fs", us / 2e6);
	else if (us < 1000)
		snprintf(buf, len, "<%lluus", (unsigned long long)us);
	else if (us < 1000000)
		snprintf(buf, len, "<%.3gms", us / 1e3);
	else
		snprintf(buf, len, "<%.3gs", us / 1e6);
}

#define WATCH_BAR	40

/*
 * One screen of the live view.  @rate is the faults per second since the
 * last screen, negative on the first.
 */
static void print_watch(const char *who, int pid, const struct umem_stats *st,
			double rate, bool tty)
{
	uint64_t pages = st->page_size ? st->size / st->page_size : 0;
	uint64_t max = 0;
	int i, first = -1, last = -1, n;
	int blocked = pid > 0 ? blocked_threads(pid) : -1;
	char label[16];

	if (tty)
		fputs("\033[H\033[J", stdout);	/* home, clear to the end */
	printf("umem region of %s: %.1f MiB, %s\n", who,
	       st->size / 1048576.0, umemlib_state_name(st->state));
	n = pages ? (int)(WATCH_BAR * st->pages_present / pages) : 0;
	printf("  present  [%.*s%*s] %5.1f%%  %llu/%llu pages\n", n,
	       "########################################", WATCH_BAR - n, "",
	       pages ? 100.0 * st->pages_present / pages : 0.0,
	       (unsigned long long)st->pages_present, (unsigned long long)pages);
	if (rate < 0)
		printf("  faults   -/s, %llu in all, %llu blocked\n",
		       (unsigned long long)st->faults,
		       (unsigned long long)st->faults_blocked);
	else
		printf("  faults   %.0f/s, %llu in all, %llu blocked\n", rate,
		       (unsigned long long)st->faults,
		       (unsigned long long)st->faults_blocked);
	if (blocked < 0)
		printf("  blocked  ? threads now (no pid or no wchan), %llu pages outstanding\n",
		       (unsigned long long)st->pages_outstanding);
	else
		printf("  blocked  %d threads of pid %d now, %llu pages outstanding\n",
		       blocked, pid, (unsigned long long)st->pages_outstanding);
	printf("  server   %llu requested, %llu poisoned, %llu detaches, %llu redelivered\n",
	       (unsigned long long)st->pages_requested,
	       (unsigned long long)st->pages_poisoned,
	       (unsigned long long)st->detaches,
	       (unsigned long long)st->requests_redelivered);
	for (i = 0; i < UMEM_HIST_BUCKETS; i++) {
		if (!st->wait_hist[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (st->wait_hist[i] > max)
			max = st->wait_hist[i];
	}
	if (first < 0) {
		printf("  fault wait: no fault has slept yet\n");
	} else {
		printf("  fault wait  p50 < %llu us, p99 < %llu us, max < %llu us\n",
		       (unsigned long long)umemlib_wait_quantile_us(st, 0.5),
		       (unsigned long long)umemlib_wait_quantile_us(st, 0.99),
		       (unsigned long long)umemlib_wait_quantile_us(st, 1.0));
		for (i = first; i <= last; i++) {
			n = (int)((WATCH_BAR * st->wait_hist[i] + max - 1) / max);
			bucket_label(label, sizeof(label), i);
			printf("  %8s |%.*s%*s %llu\n", label, n,
			       "########################################",
			       WATCH_BAR - n, "",
			       (unsigned long long)st->wait_hist[i]);
		}
	}
	if (!tty)
		printf("\n");
	fflush(stdout);
}

int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "watch", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	bool tty = isatty(STDOUT_FILENO);
	uint64_t last_faults = 0;
	struct umem_stats st;
	long watch = 0, pid, fd = -1;
	double last_t = 0;
	char *end, path[64];
	struct dirent *de;
	int opt, ret;
	DIR *d;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			watch = strtol(optarg, &end, 10);
			if (end == optarg || *end || watch <= 0)
				return usage_error("stat", "bad --watch", stat_usage);
			break;
		case 'h': fputs(stat_usage, stdout); return 0;
		default: return usage_error("stat", NULL, stat_usage);
		}
	}
	if (optind >= argc || argc - optind > 2)
		return usage_error("stat", "give PID [FD] or FILE", stat_usage);
	if (argc - optind == 1 && strchr(argv[optind], '/'))
		return stats_of_file(argv[optind], watch);
	pid = strtol(argv[optind], &end, 10);
	if (end == argv[optind] || *end || pid <= 0)
		return usage_error("stat", "bad PID", stat_usage);
	if (optind + 1 < argc) {
		fd = strtol(argv[optind + 1], &end, 10);
		if (end == argv[optind + 1] || *end || fd < 0)
			return usage_error("stat", "bad FD", stat_usage);
		if (!is_umem_fd(pid, fd)) {
			fprintf(stderr, "umemctl stat: fd %ld of pid %ld is not a umem fd\n",
				fd, pid);
			return 1;
		}
	} else {
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		d = opendir(path);
		if (!d) {
			fprintf(stderr, "umemctl stat: %s: %s\n", path, strerror(errno));
			return 1;
		}
		while ((de = readdir(d))) {
			long n = strtol(de->d_name, &end, 10);

			if (*end || end == de->d_name || !is_umem_fd(pid, n))
				continue;
			if (!get_stats(pid, n, &st)) {
				fd = n;
				break;
			}
		}
		closedir(d);
		if (fd < 0) {
			fprintf(stderr, "umemctl stat: pid %ld holds no umem region\n", pid);
			return 1;
		}
	}
	for (;;) {
		ret = get_stats(pid, fd, &st);
		if (ret) {
			fprintf(stderr, "umemctl stat: pid %ld fd %ld: %s\n", pid, fd,
				ret == -ENXIO ? "no region on this fd" : strerror(-ret));
			return 1;
		}
		if (watch) {
			double t = now_s();

			snprintf(path, sizeof(path), "pid %ld fd %ld", pid, fd);
			print_watch(path, pid, &st, last_t ? (st.faults - last_faults) /
				    (t - last_t) : -1, tty);
			last_t = t;
			last_faults = st.faults;
		} else {
			snprintf(path, sizeof(path), "pid %ld fd %ld", pid, fd);
			print_stats(path, &st);
		}
		if (!watch || st.state == UMEM_STATE_COMPLETE ||
		    st.state == UMEM_STATE_FAILED)
			return 0;
		usleep(watch * 1000);
	}
}
