// SPDX-License-Identifier: GPL-2.0
/*
 * A QMP client over json-c.  QEMU writes one JSON object a line: the
 * greeting, then replies ("return" or "error") and events ("event") in
 * any interleaving.  A reply is matched to its command by an "id" of our
 * own; events read while a command waits are queued for qmp_event().
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "qmp.h"
#include "wire.h"

#define QMP_REPLY_MS	30000

static void qmp_gone(struct qmp *q, const char *why)
{
	snprintf(q->err, sizeof(q->err), "QEMU's monitor: %s", why);
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

/*
 * The next whole message, waiting up to @ms for it; NULL on time-out or a
 * lost connection (q->fd is -1 then).
 */
static json_object *qmp_read(struct qmp *q, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000ULL;
	struct pollfd pfd = { .events = POLLIN };

	for (;;) {
		char *nl = q->fd >= 0 ? memchr(q->buf, '\n', q->len) : NULL;
		uint64_t now;
		ssize_t n;

		if (nl) {
			enum json_tokener_error jerr;
			json_object *o;
			size_t k = nl - q->buf + 1;

			*nl = 0;
			o = json_tokener_parse_verbose(q->buf, &jerr);
			memmove(q->buf, q->buf + k, q->len - k);
			q->len -= k;
			if (o && json_object_is_type(o, json_type_object))
				return o;
			json_object_put(o);
			continue;	/* not an object: skip it */
		}
		if (q->fd < 0)
			return NULL;
		if (q->len == sizeof(q->buf)) {
			qmp_gone(q, "a message longer than 64 KiB");
			return NULL;
		}
		now = now_ns();
		pfd.fd = q->fd;
		n = poll(&pfd, 1, ms < 0 ? -1 :
			 now >= end ? 0 : (int)((end - now + 999999) / 1000000));
		if (n <= 0)
			return NULL;	/* time is up, or a signal to look at */
		n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			qmp_gone(q, n ? strerror(errno) : "QEMU closed the connection (did it exit?)");
			return NULL;
		}
		q->len += n;
	}
}

static void qmp_queue(struct qmp *q, json_object *ev)
{
	if (q->ev_head - q->ev_tail == QMP_EVENTS)
		json_object_put(q->ev[q->ev_tail++ % QMP_EVENTS]);
	q->ev[q->ev_head++ % QMP_EVENTS] = ev;
}

static int qmp_send(struct qmp *q, json_object *msg)
{
	const char *s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	bool ok = q->fd >= 0 && send_all(q->fd, s, strlen(s)) &&
		  send_all(q->fd, "\n", 1);

	if (!ok && q->fd >= 0)
		qmp_gone(q, strerror(errno));
	return ok ? 0 : -1;
}

json_object *qmp_call(struct qmp *q, const char *cmd, json_object *args)
{
	static int next_id;
	json_object *msg = json_object_new_object(), *o, *v, *ret = NULL;
	uint64_t end = now_ns() + QMP_REPLY_MS * 1000000ULL;
	int id = ++next_id;

	json_object_object_add(msg, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(msg, "arguments", args);
	json_object_object_add(msg, "id", json_object_new_int(id));
	if (qmp_send(q, msg)) {
		json_object_put(msg);
		return NULL;
	}
	json_object_put(msg);
	while (now_ns() < end) {
		o = qmp_read(q, (end - now_ns()) / 1000000);
		if (!o) {
			if (q->fd < 0)
				return NULL;
			continue;
		}
		if (json_object_object_get_ex(o, "event", NULL)) {
			qmp_queue(q, o);
			continue;
		}
		if (!json_object_object_get_ex(o, "id", &v) ||
		    json_object_get_int(v) != id) {
			json_object_put(o);
			continue;
		}
		if (json_object_object_get_ex(o, "return", &v)) {
			ret = json_object_get(v);
		} else {
			const char *desc = NULL;

			if (json_object_object_get_ex(o, "error", &v))
				desc = qmp_str(v, "desc");
			snprintf(q->err, sizeof(q->err), "%s: %s", cmd,
				 desc ? desc : "an error without a description");
		}
		json_object_put(o);
		return ret;
	}
	snprintf(q->err, sizeof(q->err), "%s: no reply from QEMU within %d s",
		 cmd, QMP_REPLY_MS / 1000);
	return NULL;
}

int qmp_open(struct qmp *q, const char *path, int wait_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t end = now_ns() + (uint64_t)wait_ms * 1000000ULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	json_object *o, *ret;
	int r;

	memset(q, 0, sizeof(*q));
	q->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(q->err, sizeof(q->err), "%s: path too long for a unix socket", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	while ((r = q->fd < 0 ? -1 : connect(q->fd, (struct sockaddr *)&sa, sizeof(sa))) &&
	       (errno == ENOENT || errno == ECONNREFUSED) && now_ns() < end)
		usleep(100000);
	if (r) {
		snprintf(q->err, sizeof(q->err), "%s: %s (is it QEMU's -qmp unix:%s,server=on?)",
			 path, strerror(errno), path);
		if (q->fd >= 0)
			close(q->fd);
		q->fd = -1;
		return -1;
	}
	if (!getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		q->pid = cred.pid;
	o = qmp_read(q, QMP_REPLY_MS);
	if (!o || !json_object_object_get_ex(o, "QMP", NULL)) {
		json_object_put(o);
		if (q->fd >= 0)
			qmp_gone(q, "no QMP greeting: not a QEMU monitor, or one in use");
		snprintf(q->err + strlen(q->err), sizeof(q->err) - strlen(q->err),
			 " (%s)", path);
		return -1;
	}
	json_object_put(o);
	ret = qmp_call(q, "qmp_capabilities", NULL);
	if (!ret)
		return -1;
	json_object_put(ret);
	return 0;
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	while (q->ev_tail != q->ev_head)
		json_object_put(q->ev[q->ev_tail++ % QMP_EVENTS]);
}

json_object *qmp_event(struct qmp *q, int ms)
{
	json_object *o;

	if (q->ev_tail != q->ev_head)
		return q->ev[q->ev_tail++ % QMP_EVENTS];
	for (;;) {
		o = qmp_read(q, ms);
		if (!o || json_object_object_get_ex(o, "event", NULL))
			return o;
		json_object_put(o);	/* a stray reply */
	}
}

const char *qmp_str(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

long long qmp_int(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int64(v);
}

const char *qmp_event_name(json_object *ev)
{
	return qmp_str(ev, "event");
}

double qmp_event_time(json_object *ev)
{
	json_object *ts;

	if (!json_object_object_get_ex(ev, "timestamp", &ts))
		return 0;
	return qmp_int(ts, "seconds") + qmp_int(ts, "microseconds") / 1e6;
}

int qmp_set_caps(struct qmp *q, const char *const *caps)
{
	json_object *list = json_object_new_array(), *args, *ret;

	for (; *caps; caps++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "capability", json_object_new_string(*caps));
		json_object_object_add(c, "state", json_object_new_boolean(1));
		json_object_array_add(list, c);
	}
	args = json_object_new_object();
	json_object_object_add(args, "capabilities", list);
	ret = qmp_call(q, "migrate-set-capabilities", args);
	if (!ret)
		return -1;
	json_object_put(ret);
	return 0;
}

const char *qmp_migration_status(struct qmp *q, char *buf, size_t len)
{
	json_object *ret = qmp_call(q, "query-migrate", NULL);
	const char *s;

	if (!ret)
		return NULL;
	s = qmp_str(ret, "status");
	snprintf(buf, len, "%s", s ? s : "none");
	json_object_put(ret);
	return buf;
}
