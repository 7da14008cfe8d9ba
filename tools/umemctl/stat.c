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
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <fcntl.h>

#include "libumem.h"
#include "umemctl.h"

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
"              complete, failed or gone\n";

static bool umem_path_is_umemfs(const char *path);
static void print_stats(const char *who, const struct umem_stats *st);
static int stats_of_file(const char *path, long watch);

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
	struct umem_stats st;
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
		ret = umem_stats(fd, &st);
		if (ret) {
			fprintf(stderr, "umemctl stat: %s: %s\n", path,
				ret == -ENXIO ? "no region yet (never sized)" : umem_strerror());
			close(fd);
			return 1;
		}
		print_stats(path, &st);
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
				if (!strcmp(word, umem_state_name(i)))
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
			ret = umem_stats(copy, st);
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
	       st->page_size, umem_state_name(st->state));
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
	       (unsigned long long)umem_wait_quantile_us(st, 0.5),
	       (unsigned long long)umem_wait_quantile_us(st, 0.99),
	       (unsigned long long)umem_wait_quantile_us(st, 1.0));
	printf("  server    %llu detaches, %llu requests redelivered\n",
	       (unsigned long long)st->detaches,
	       (unsigned long long)st->requests_redelivered);
	if (umem_wait_quantile_us(st, 1.0)) {
		printf("  histogram");
		for (i = 0; i < UMEM_HIST_BUCKETS; i++)
			if (st->wait_hist[i])
				printf(" <%lluus:%llu", 1ULL << i,
				       (unsigned long long)st->wait_hist[i]);
		printf("\n");
	}
	fflush(stdout);
}

int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "watch", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct umem_stats st;
	long watch = 0, pid, fd = -1;
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
		snprintf(path, sizeof(path), "pid %ld fd %ld", pid, fd);
		print_stats(path, &st);
		if (!watch || st.state == UMEM_STATE_COMPLETE ||
		    st.state == UMEM_STATE_FAILED)
			return 0;
		usleep(watch * 1000);
	}
}
