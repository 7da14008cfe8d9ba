// SPDX-License-Identifier: GPL-2.0
/*
 * relay LISTEN_IP:PORT UPSTREAM_IP:PORT CONN OFFSET
 *
 * A TCP relay for the postcopy tests: forwards every connection to
 * UPSTREAM, and in connection number CONN (from 1, in accept order) flips
 * one bit of the byte at OFFSET of the upstream-to-client stream: an
 * attacker, or a fault the TCP checksum missed, corrupting one TLS record.
 * It says on stderr when it flipped.  Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || colon - s >= (int)sizeof(host))
		return -1;
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* Copy both ways until either side closes; flip at @flip (or never: -1). */
static void pump(int c, int u, long long flip)
{
	long long down = 0;
	char buf[65536];
	ssize_t n;

	for (;;) {
		struct pollfd p[2] = { { .fd = c, .events = POLLIN },
				       { .fd = u, .events = POLLIN } };

		if (poll(p, 2, -1) < 0)
			return;
		if (p[0].revents) {
			n = read(c, buf, sizeof(buf));
			if (n <= 0 || write(u, buf, n) != n)
				return;
		}
		if (p[1].revents) {
			n = read(u, buf, sizeof(buf));
			if (n <= 0)
				return;
			if (flip >= down && flip < down + n) {
				buf[flip - down] ^= 0x10;
				fprintf(stderr, "relay: flipped a bit at byte %lld\n",
					flip);
			}
			down += n;
			if (write(c, buf, n) != n)
				return;
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in la, ua;
	long long offset;
	int l, c, u, conn = 0, want, one = 1;

	if (argc != 5 || addr(argv[1], &la) || addr(argv[2], &ua)) {
		fprintf(stderr, "usage: relay LISTEN_IP:PORT UPSTREAM_IP:PORT CONN OFFSET\n");
		return 2;
	}
	want = atoi(argv[3]);
	offset = atoll(argv[4]);
	signal(SIGCHLD, SIG_IGN);
	l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&la, sizeof(la)) || listen(l, 8)) {
		perror("relay: listen");
		return 1;
	}
	for (;;) {
		c = accept(l, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		conn++;
		if (fork() == 0) {
			close(l);
			u = socket(AF_INET, SOCK_STREAM, 0);
			if (u < 0 || connect(u, (struct sockaddr *)&ua, sizeof(ua)))
				_exit(1);
			pump(c, u, conn == want ? offset : -1);
			_exit(0);
		}
		close(c);
	}
}
