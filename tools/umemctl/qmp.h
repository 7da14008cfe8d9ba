/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A QMP client for the migration tool: one connection to a QEMU monitor,
 * commands and their replies, and the events that arrive in between,
 * parsed with json-c.
 */
#ifndef UMEMCTL_QMP_H
#define UMEMCTL_QMP_H

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>

#define QMP_EVENTS	64

struct qmp {
	int fd;
	pid_t pid;		/* QEMU's, from the socket's peer credentials */
	char buf[65536];	/* bytes read, not yet a whole line */
	size_t len;
	json_object *ev[QMP_EVENTS];	/* events read, not yet taken */
	unsigned int ev_head, ev_tail;
	char err[512];		/* the last failure, as one line */
};

/*
 * Connect to the monitor socket @path, read the greeting and leave
 * capabilities negotiation.  A socket that is not there yet, or refuses,
 * is tried again for @wait_ms: a QEMU started a moment ago.  0, or -1
 * with q->err set.
 */
int qmp_open(struct qmp *q, const char *path, int wait_ms);
void qmp_close(struct qmp *q);

/*
 * Run @cmd with @args (taken; NULL for none) and wait up to 30 s for its
 * reply.  Returns its "return" member (the caller puts it), or NULL with
 * q->err set: QEMU's error description, or a lost connection.
 */
json_object *qmp_call(struct qmp *q, const char *cmd, json_object *args);

/*
 * The next event, waiting up to @ms milliseconds (0: only what has
 * arrived).  NULL on time-out, or when the connection is gone (q->fd is
 * then -1 and q->err says why).  The caller puts it.
 */
json_object *qmp_event(struct qmp *q, int ms);

/* The event's name and timestamp (seconds, as a double). */
const char *qmp_event_name(json_object *ev);
double qmp_event_time(json_object *ev);

/* Member @key of @o as a string, an integer, or NULL/-1. */
const char *qmp_str(json_object *o, const char *key);
long long qmp_int(json_object *o, const char *key);

/* migrate-set-capabilities: each of the NULL-terminated @caps on. */
int qmp_set_caps(struct qmp *q, const char *const *caps);

/* query-migrate's "status", into @buf; NULL with q->err set. */
const char *qmp_migration_status(struct qmp *q, char *buf, size_t len);

#endif /* UMEMCTL_QMP_H */
