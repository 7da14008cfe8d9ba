// SPDX-License-Identifier: GPL-2.0
/*
 * The workload of the L2 guest (a real Linux guest under QEMU/KVM in the
 * test VM): PID 1 of its initramfs.  It fills WORK MiB of its memory with
 * a pattern that depends on the page number and on a per-page generation
 * number, then loops: verify a page, bump its generation, rewrite it; one
 * page after the other, over and over.  Once a second it prints a
 * heartbeat on the console with a counter.  When the console reads "stop"
 * (or after workload.max= seconds), it verifies every page once more,
 * prints its verdict and powers the guest off.
 *
 * When the console reads "tlb", it measures how fast the guest reads its
 * memory at random: 8-byte reads at random offsets of its WORK MiB for
 * TLB_S seconds, each a TLB miss, whose cost is a walk of the guest's
 * page tables and, nested, of the host's: fewer levels where the host
 * maps the guest's RAM by 2 MiB pages (make bench's "huge" table).
 *
 * It also measures its own stalls, the same way whatever moves its memory:
 * a page takes tens of microseconds even nested under TCG, so every page
 * that takes more than STALL_S is time the guest did not run (a vCPU
 * blocked on a missing page, the migration's downtime, the host's
 * scheduler).  stall= is the sum of those pages' times, in seconds;
 * maxgap= the longest, in milliseconds.
 *
 * Kernel command line: workload.mib=N (default 128), workload.max=S
 * (default 900).  Console lines the host waits for:
 *   workload: ready: N MiB filled in S s
 *   hb N t=S passes=N writes=N bad=N stall=S maxgap=MS
 *   workload: tlb: N reads in S s: R reads/s
 *   workload: verdict: ok|FAIL: N MiB, N pages verified, N bad pages, ...
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define STALL_S 0.005
#define TLB_S 3.0
#define WORDS (PAGE / sizeof(uint64_t))
#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xD6E8FEB86659FD93ULL

static uint64_t *mem;
static uint32_t *gen;
static unsigned long npages;
static unsigned long long bad, reported;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t base(unsigned long p, uint32_t g)
{
	return ((((uint64_t)p << 32) | g) ^ 0x5a5a5a5a00000000ULL) * K1 + 1;
}

static void fill(unsigned long p)
{
	uint64_t *w = mem + p * WORDS, b = base(p, gen[p]);
	unsigned long i;

	for (i = 0; i < WORDS; i++)
		w[i] = b + i * K2;
}

/* 0 when page p holds its pattern; counts and reports a bad page. */
static int check(unsigned long p)
{
	uint64_t *w = mem + p * WORDS, b = base(p, gen[p]);
	unsigned long i;

	for (i = 0; i < WORDS; i++) {
		if (w[i] != b + i * K2) {
			bad++;
			if (reported++ < 10)
				printf("workload: BAD page %lu gen %u word %lu: %016llx, expected %016llx\n",
				       p, gen[p], i, (unsigned long long)w[i],
				       (unsigned long long)(b + i * K2));
			return 1;
		}
	}
	return 0;
}

static unsigned long cmdline_ul(const char *key, unsigned long def)
{
	char buf[1024], *s;
	FILE *f = fopen("/proc/cmdline", "r");
	size_t n;

	if (!f)
		return def;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	s = strstr(buf, key);
	return s ? strtoul(s + strlen(key), NULL, 10) : def;
}

/* The kernel's clocksource: stall= is only as fine as its clock. */
static const char *clocksource(void)
{
	static char name[32] = "?";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

	if (f) {
		if (fgets(name, sizeof(name), f))
			name[strcspn(name, "\n")] = 0;
		fclose(f);
	}
	return name;
}

enum command { CMD_NONE, CMD_STOP, CMD_TLB };

/* The console's last command line, if it sent one: "stop" or "tlb". */
static enum command command(void)
{
	static char line[64];
	static size_t len;
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	char c;

	while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
		if (read(0, &c, 1) != 1)
			return 0;
		if (c == '\n' || c == '\r') {
			line[len] = 0;
			len = 0;
			if (strstr(line, "stop"))
				return CMD_STOP;
			if (strstr(line, "tlb"))
				return CMD_TLB;
		} else if (len < sizeof(line) - 1) {
			line[len++] = c;
		}
	}
	return CMD_NONE;
}

/* Random 8-byte reads over the whole of mem for TLB_S seconds. */
static void tlb(void)
{
	unsigned long words = npages * WORDS, i;
	uint64_t x = 0x2545F4914F6CDD1DULL, sum = 0;
	unsigned long long reads = 0;
	double t0 = now(), t;

	do {
		for (i = 0; i < 65536; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			sum += mem[x % words];
		}
		reads += i;
		t = now();
	} while (t - t0 < TLB_S);
	printf("workload: tlb: %llu reads in %.3f s: %.0f reads/s (sum %llx)\n",
	       reads, t - t0, reads / (t - t0), (unsigned long long)sum);
}

int main(void)
{
	unsigned long mib, maxs, p, cur = 0, i, verified = 0;
	unsigned long long passes = 0, writes = 0, hb = 0;
	double t0, t, next, tprev, stall = 0, maxgap = 0;
	const char *why = "stop";
	enum command cmd;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	mib = cmdline_ul("workload.mib=", 128);
	maxs = cmdline_ul("workload.max=", 900);
	npages = mib * 1048576 / PAGE;
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	gen = calloc(npages, sizeof(*gen));
	if (mem == MAP_FAILED || !gen) {
		printf("workload: verdict: FAIL: cannot allocate %lu MiB (%s)\n",
		       mib, strerror(errno));
		goto off;
	}
	t0 = now();
	for (p = 0; p < npages; p++)
		fill(p);
	printf("workload: ready: %lu MiB filled in %.1f s (clocksource %s)\n",
	       mib, now() - t0, clocksource());
	next = now() + 1;
	tprev = now();
	for (;;) {
		for (i = 0; i < 64; i++) {
			check(cur);
			gen[cur]++;
			fill(cur);
			writes++;
			if (++cur == npages) {
				cur = 0;
				passes++;
			}
			t = now();
			if (t - tprev > STALL_S) {
				stall += t - tprev;
				if (t - tprev > maxgap)
					maxgap = t - tprev;
			}
			tprev = t;
		}
		if (t < next)
			continue;
		next = t + 1;
		printf("hb %llu t=%.0f passes=%llu writes=%llu bad=%llu stall=%.3f maxgap=%.1f\n",
		       ++hb, t - t0, passes, writes, bad, stall, maxgap * 1000);
		cmd = command();
		if (cmd == CMD_STOP)
			break;
		if (cmd == CMD_TLB) {
			tlb();
			/* Not a stall: the guest ran, on other work. */
			tprev = now();
		}
		if (t - t0 > maxs) {
			why = "time limit";
			break;
		}
	}
	/* The last word: every page, once more. */
	for (p = 0; p < npages; p++)
		if (!check(p))
			verified++;
	printf("workload: verdict: %s: %lu MiB, %lu pages verified, %llu bad pages, %llu passes, %llu page writes, %llu heartbeats, stall=%.3f maxgap=%.1f (%s)\n",
	       bad ? "FAIL" : "ok", mib, verified, bad, passes, writes, hb,
	       stall, maxgap * 1000, why);
off:
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
