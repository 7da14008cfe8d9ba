// SPDX-License-Identifier: GPL-2.0
/*
 * qmp: a minimal QMP client for the test VM (busybox has no socat and its
 * nc cannot do unix sockets).
 *
 *   qmp SOCKET [--get PATH] CMD...
 *                          run each command, print each reply on a line;
 *                          CMD is a JSON object, or a bare command name
 *                          ("query-status" = {"execute":"query-status"});
 *                          exit 1 on an error reply or a lost connection.
 *                          --get: print only the member PATH (a.b.c) of
 *                          each reply's return value, a string bare, any
 *                          other value as JSON; exit 3 if it has none
 *   qmp --events SOCKET    print every event (with QEMU's timestamp) until
 *                          the connection closes
 *   qmp --find FILE EVENT [PATH=VALUE] [--get PATH]
 *                          the first EVENT in FILE (what --events printed)
 *                          whose member PATH is the string VALUE: its
 *                          timestamp, "SECONDS.MICROSECONDS", or with --get
 *                          its member PATH (data.reason); exit 3 if none
 *   qmp --now              the wall clock, "SECONDS.MICROSECONDS", the
 *                          clock of QEMU's event timestamps (busybox date
 *                          has no sub-second format)
 *
 * The connection is retried for 10 s, so that it can be started together
 * with QEMU.  Commands give up after 60 s (a QEMU whose main loop is
 * stuck must not hang the test): exit 1, "qmp: no reply".  Every line is
 * parsed as JSON (json-c): replies are told from events by their "return"
 * or "error" member; events that come before a reply are dropped (use a
 * second monitor with --events to see them).
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

static FILE *in;
static int fd;
static const char *get_path;	/* --get */

static void die(const char *msg)
{
	fprintf(stderr, "qmp: %s\n", msg);
	exit(1);
}

static void on_alarm(int sig __attribute__((unused)))
{
	static const char msg[] = "qmp: no reply within 60 s\n";

	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static char *getline_or_die(void)
{
	static char *line;
	static size_t cap;

	if (getline(&line, &cap, in) < 0)
		die("connection closed");
	return line;
}

static void send_cmd(const char *cmd)
{
	char buf[8192];
	int n;

	if (cmd[0] == '{')
		n = snprintf(buf, sizeof(buf), "%s\n", cmd);
	else
		n = snprintf(buf, sizeof(buf), "{\"execute\":\"%s\"}\n", cmd);
	if (n >= (int)sizeof(buf))
		die("command too long");
	if (write(fd, buf, n) != n)
		die("write failed");
}

/* @line as a JSON object, or NULL if it is none; put it. */
static struct json_object *parse_object(const char *line)
{
	struct json_object *o = json_tokener_parse(line);

	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* The next line from QEMU (at *@line), a JSON object; put it. */
static struct json_object *next_object(char **line)
{
	char *l = getline_or_die();
	struct json_object *o = parse_object(l);

	if (line)
		*line = l;
	if (!o)
		die("QEMU sent a line that is not a JSON object");
	return o;
}

static bool has(struct json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* Member @path (a.b.c) of @v, or NULL. */
static struct json_object *member(struct json_object *v, const char *path)
{
	char *p = strdup(path), *save = NULL, *key;

	if (!p)
		die("out of memory");
	for (key = strtok_r(p, ".", &save); key && v;
	     key = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(v, key, &v))
			v = NULL;
	free(p);
	return v;
}

/* --get: print member get_path of @v; 3 if it has none. */
static int print_member(struct json_object *v)
{
	v = member(v, get_path);
	if (!v)
		return 3;
	if (json_object_is_type(v, json_type_string))
		puts(json_object_get_string(v));
	else
		puts(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	return 0;
}

/*
 * The reply to the last command, printed if @print: 0 for a return, 1
 * for an error (or 3: --get found no such member).
 */
static int reply(int print)
{
	struct json_object *o, *v;
	int rc = -1;
	char *l;

	while (rc < 0) {
		o = next_object(&l);
		if (json_object_object_get_ex(o, "return", &v)) {
			rc = 0;
			if (print && get_path)
				rc = print_member(v);
			else if (print)
				fputs(l, stdout);
		} else if (has(o, "error")) {
			rc = 1;
			fputs(l, print ? stdout : stderr);
		}
		json_object_put(o);
	}
	return rc;
}

/* Is @o's member @match ("PATH=VALUE") the string VALUE? */
static bool matches(struct json_object *o, const char *match)
{
	const char *eq = strchr(match, '=');
	char *path;

	if (!eq)
		die("--find: the match is PATH=VALUE");
	path = strndup(match, eq - match);
	if (!path)
		die("out of memory");
	o = member(o, path);
	free(path);
	return o && json_object_is_type(o, json_type_string) &&
	       !strcmp(json_object_get_string(o), eq + 1);
}

/* --find: the first event @name in @file (matching @match, if given). */
static int find_event(const char *file, const char *name, const char *match)
{
	struct json_object *o, *v, *sec, *usec;
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0;
	int rc = 3;

	if (!f) {
		fprintf(stderr, "qmp: %s: %s\n", file, strerror(errno));
		return 1;
	}
	while (rc == 3 && getline(&line, &cap, f) >= 0) {
		o = parse_object(line);
		if (o && json_object_object_get_ex(o, "event", &v) &&
		    !strcmp(json_object_get_string(v), name) &&
		    (!match || matches(o, match))) {
			sec = member(o, "timestamp.seconds");
			usec = member(o, "timestamp.microseconds");
			if (get_path)
				rc = print_member(o);
			else if (sec && usec) {
				printf("%lld.%06lld\n",
				       (long long)json_object_get_int64(sec),
				       (long long)json_object_get_int64(usec));
				rc = 0;
			}
		}
		json_object_put(o);
	}
	free(line);
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_object *o;
	int events = 0, i, rc = 0, tries;

	if (argc == 2 && !strcmp(argv[1], "--now")) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		printf("%lld.%06ld\n", (long long)ts.tv_sec, ts.tv_nsec / 1000);
		return 0;
	}
	if (argc > 3 && !strcmp(argv[1], "--find")) {
		if (argc > 5 && !strcmp(argv[argc - 2], "--get")) {
			get_path = argv[argc - 1];
			argc -= 2;
		}
		if (argc > 5)
			return fprintf(stderr, "usage: qmp --find FILE EVENT [PATH=VALUE] [--get PATH]\n"), 2;
		return find_event(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	}
	if (argc > 1 && !strcmp(argv[1], "--events")) {
		events = 1;
		argv++;
		argc--;
	}
	if (!events && argc > 3 && !strcmp(argv[2], "--get")) {
		get_path = argv[3];
		argv[3] = argv[1];	/* the socket; the commands follow */
		argv += 2;
		argc -= 2;
	}
	if (argc < 2 || (!events && argc < 3) || (events && argc != 2)) {
		fprintf(stderr, "usage: qmp SOCKET [--get PATH] CMD...\n       qmp --events SOCKET\n       qmp --find FILE EVENT [PATH=VALUE] [--get PATH]\n       qmp --now\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path))
		die("socket path too long");
	strcpy(sa.sun_path, argv[1]);
	if (!events) {
		signal(SIGALRM, on_alarm);
		alarm(60);
	}
	for (tries = 0;; tries++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket failed");
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		close(fd);
		if (tries == 100) {
			fprintf(stderr, "qmp: %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		usleep(100000);
	}
	in = fdopen(fd, "r");
	if (!in)
		die("fdopen failed");
	o = next_object(NULL);
	if (!has(o, "QMP"))
		die("no QMP greeting");
	json_object_put(o);
	send_cmd("qmp_capabilities");
	if (reply(0))
		die("qmp_capabilities refused");
	if (events) {
		char *line = NULL;
		size_t cap = 0;

		setvbuf(stdout, NULL, _IOLBF, 0);
		while (getline(&line, &cap, in) >= 0) {
			o = parse_object(line);
			if (o && has(o, "event"))
				fputs(line, stdout);
			json_object_put(o);
		}
		return 0;
	}
	for (i = 2; i < argc; i++) {
		send_cmd(argv[i]);
		rc |= reply(1);
	}
	return rc;
}
