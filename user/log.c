// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * log: every event to a durable log (doc/DESIGN.md, "Events and their
 * readers"), for the abuse desk that asks a month later: the journal with
 * structured fields (the default), syslog as RFC 5424 with structured
 * data, or a file of JSON lines (monitor -j's objects) reopened on SIGHUP.
 * Sessions coming and going are logged too, so that a later query knows
 * which session had which address when.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include "op25bctl.h"

enum sink { SINK_JOURNAL, SINK_SYSLOG, SINK_FILE };

enum { OPT_JOURNAL = 1, OPT_SYSLOG, OPT_FILE };

static const struct opt log_opts[] = OPT_TABLE(
	{ .name = "--journal", .id = OPT_JOURNAL,
	  .help = "to the systemd journal, structured fields (the default)" },
	{ .name = "--syslog", .id = OPT_SYSLOG,
	  .help = "to syslog (/dev/log) as RFC 5424 with structured data" },
	{ .name = "--file", .id = OPT_FILE, .arg = "PATH", .what = "a path",
	  .help = "to PATH as JSON lines, reopened on SIGHUP" },
);

const struct cmd_help log_help = {
	.opts = log_opts,
	.text =
	"Every event from now on to a durable log, until stopped: the journal\n"
	"(fields OP25B_*: time, interface, MAC, addresses, ports, VLAN ids,\n"
	"PPPoE session, action, session, user name, line), syslog as RFC 5424\n"
	"with structured data (op25b@32473), or PATH as JSON lines, one\n"
	"object as monitor -j prints it; SIGHUP reopens PATH (logrotate).\n"
	"Sessions registered and ended are logged too (\"session up\",\n"
	"\"session down\", with their addresses), as seen once a second.\n"
	"history and report read the file. contrib/op25b-log.service runs it.\n",
};

/* RFC 5424's SD-ID for op25b's structured data (an example enterprise). */
#define SD_ID		"op25b@32473"
#define SYSLOG_SOCKET	"/dev/log"
/* Where a test sends syslog instead (documented in op25bctl(8)). */
#define SYSLOG_SOCKET_ENV	"OP25B_SYSLOG_SOCKET"
/* Sessions are compared this often, for their up and down records. */
#define SESSIONS_EVERY_NS	NSEC_PER_SEC

static volatile sig_atomic_t stop, reopen;

static void on_stop(int sig)
{
	stop = 1;
}

static void on_hup(int sig)
{
	reopen = 1;
}

struct field {
	const char *key;	/* lower case; the journal's is OP25B_ + upper */
	char val[80];
};
#define FIELDS_MAX	24

struct record {
	char time[40];
	const char *what;	/* "blocked", "session up", ... */
	char msg[256];		/* the one line a human reads */
	struct field f[FIELDS_MAX];
	size_t n;
};

static void field_add(struct record *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void field_add(struct record *r, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (r->n == FIELDS_MAX)
		return;
	r->f[r->n].key = key;
	va_start(ap, fmt);
	vsnprintf(r->f[r->n].val, sizeof(r->f[r->n].val), fmt, ap);
	va_end(ap);
	r->n++;
}

/* A text field that is there only when it says something. */
static void field_some(struct record *r, const char *key, const char *s)
{
	if (s[0])
		field_add(r, key, "%s", s);
}

struct logger {
	enum sink sink;
	const char *path;
	int sock;			/* syslog's datagram socket */
	char host[64];
	struct event_ctx x;
	struct session_entry *known;	/* the sessions last seen registered */
	size_t nknown;
	__u32 *downs;			/* ids of ended sessions logged down */
	__u64 *downs_at;		/* when each ended */
	size_t ndowns, downs_cap;
	__u64 sessions_ns;
	__u64 lost;			/* as logged so far */
	int err;			/* the first write that failed */
};

/* ---- what a record holds ---- */

static void event_record(const struct event_view *v, struct record *r)
{
	const struct op25b_event *ev = v->ev;
	char src[INET6_ADDRSTRLEN + 8], dst[INET6_ADDRSTRLEN + 8];

	memset(r, 0, sizeof(*r));
	snprintf(r->time, sizeof(r->time), "%s", v->time);
	r->what = v->kind;
	endpoint_format(ev->family, ev->saddr, ev->sport, src, sizeof(src));
	endpoint_format(ev->family, ev->daddr, ev->dport, dst, sizeof(dst));
	snprintf(r->msg, sizeof(r->msg), "%s %s -> %s on %s%s%s (%s)", v->kind,
		 src, dst, v->iface[0] ? v->iface : "?",
		 v->user[0] ? " user " : "", v->user, v->action);
	field_add(r, "event", "%s", v->kind);
	field_add(r, "time", "%s", v->time);
	field_some(r, "interface", v->iface);
	field_some(r, "hook", v->hook);
	field_some(r, "mac", v->mac);
	field_add(r, "saddr", "%s", v->saddr);
	field_add(r, "sport", "%u", ev->sport);
	field_add(r, "daddr", "%s", v->daddr);
	field_add(r, "dport", "%u", ev->dport);
	field_add(r, "action", "%s", v->action);
	field_add(r, "class", "%s", v->cls);
	if (ev->nvlan)
		field_add(r, "vlan", ev->nvlan > 1 ? "%u.%u" : "%u",
			  ev->vlan[0], ev->vlan[1]);
	if (ev->pppoe)
		field_add(r, "pppoe_sid", "%u", ev->pppoe_sid);
	field_some(r, "session", v->session);
	field_some(r, "user", v->user);
	field_some(r, "calling_station_id", v->calling);
}

static void session_addrs(const struct op25b_session *s, char *buf,
			  size_t len)
{
	char p[INET6_ADDRSTRLEN + 8];
	size_t off = 0;
	int j;

	buf[0] = '\0';
	for (j = 0; j < OP25B_SESSION_PREFIXES; j++) {
		if (!s->addr[j].family)
			continue;
		session_prefix_format(&s->addr[j], p, sizeof(p));
		off += snprintf(buf + off, off < len ? len - off : 0, "%s%s",
				off ? " " : "", p);
	}
}

static void session_record(const struct session_entry *e, bool up,
			   struct record *r)
{
	const struct op25b_session *s = &e->s;
	char addrs[4 * (INET6_ADDRSTRLEN + 8)];

	memset(r, 0, sizeof(*r));
	if (up)
		rfc3339_format(s->started, true, r->time, sizeof(r->time));
	else if (e->ended)
		rfc3339_format(e->ended, true, r->time, sizeof(r->time));
	else
		wall_time_format(r->time, sizeof(r->time));
	r->what = up ? "session up" : "session down";
	session_addrs(s, addrs, sizeof(addrs));
	snprintf(r->msg, sizeof(r->msg), "%s %s%s%s%s%s", r->what, e->key.name,
		 s->user[0] ? " user " : "", s->user,
		 addrs[0] ? " address " : "", addrs);
	field_add(r, "event", "%s", r->what);
	field_add(r, "time", "%s", r->time);
	field_add(r, "session", "%s", e->key.name);
	if (s->user[0])
		field_add(r, "user", "%s", s->user);
	if (s->calling[0])
		field_add(r, "calling_station_id", "%s", s->calling);
	if (s->ifname[0])
		field_add(r, "interface", "%.16s", s->ifname);
	if (addrs[0])
		field_add(r, "address", "%s", addrs);
}

/* ---- where it goes ---- */

static int journal_write(struct logger *lg, const struct record *r)
{
	struct iovec iov[FIELDS_MAX + 4];
	char buf[FIELDS_MAX + 4][300];
	size_t i, n = 0;
	int err;

	snprintf(buf[n], sizeof(buf[n]), "MESSAGE=%s", r->msg);
	n++;
	snprintf(buf[n], sizeof(buf[n]), "PRIORITY=%d", LOG_NOTICE);
	n++;
	snprintf(buf[n], sizeof(buf[n]), "SYSLOG_IDENTIFIER=op25b");
	n++;
	for (i = 0; i < r->n; i++, n++) {
		char key[40];
		size_t k;

		for (k = 0; r->f[i].key[k] && k < sizeof(key) - 1; k++)
			key[k] = (char)(r->f[i].key[k] >= 'a' &&
					r->f[i].key[k] <= 'z' ?
					r->f[i].key[k] - 'a' + 'A' :
					r->f[i].key[k]);
		key[k] = '\0';
		snprintf(buf[n], sizeof(buf[n]), "OP25B_%s=%s", key,
			 r->f[i].val);
	}
	for (i = 0; i < n; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = strlen(buf[i]);
	}
	err = journal_sendv(iov, (int)n);
	return err < 0 ? err : 0;
}

/* An SD-PARAM value: '"', '\' and ']' escaped (RFC 5424, 6.3.3). */
static size_t sd_escape(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 2 < len; s++) {
		if (*s == '"' || *s == '\\' || *s == ']')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
	return o;
}

static int syslog_write(struct logger *lg, const struct record *r)
{
	char msg[2048], esc[200], msgid[33];
	size_t off, i;

	/* MSGID: the record's kind, its spaces made dashes */
	snprintf(msgid, sizeof(msgid), "%s", r->what);
	for (i = 0; msgid[i]; i++)
		if (msgid[i] == ' ')
			msgid[i] = '-';
	/* <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG */
	off = (size_t)snprintf(msg, sizeof(msg), "<%d>1 %s %s op25b %d %s [" SD_ID,
			       LOG_DAEMON | LOG_NOTICE, r->time, lg->host,
			       (int)getpid(), msgid);
	for (i = 0; i < r->n && off < sizeof(msg); i++) {
		sd_escape(esc, sizeof(esc), r->f[i].val);
		off += (size_t)snprintf(msg + off, sizeof(msg) - off,
					" %s=\"%s\"", r->f[i].key, esc);
	}
	if (off < sizeof(msg))
		off += (size_t)snprintf(msg + off, sizeof(msg) - off, "] %s",
					r->msg);
	if (off >= sizeof(msg))
		off = sizeof(msg) - 1;
	if (send(lg->sock, msg, off, 0) < 0)
		return -errno;
	return 0;
}

/* A record as a JSON line; events are monitor -j's objects instead. */
static void record_json(const struct record *r)
{
	size_t i;

	open_json_object(NULL);
	for (i = 0; i < r->n; i++) {
		if (!strcmp(r->f[i].key, "address")) {
			char copy[sizeof(r->f[i].val)], *tok, *save = NULL;

			snprintf(copy, sizeof(copy), "%s", r->f[i].val);
			open_json_array("address");
			for (tok = strtok_r(copy, " ", &save); tok;
			     tok = strtok_r(NULL, " ", &save))
				print_string(PRINT_JSON, NULL, NULL, tok);
			close_json_array();
			continue;
		}
		print_string(PRINT_JSON, r->f[i].key, NULL, r->f[i].val);
	}
	close_json_object();
	output_end();
}

static int file_open(struct logger *lg)
{
	int fd = open(lg->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		      0640);

	if (fd < 0)
		return -errno;
	fflush(stdout);
	if (dup2(fd, STDOUT_FILENO) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	clearerr(stdout);
	return 0;
}

static int record_write(struct logger *lg, const struct record *r,
			const struct event_view *v)
{
	switch (lg->sink) {
	case SINK_JOURNAL:
		return journal_write(lg, r);
	case SINK_SYSLOG:
		return syslog_write(lg, r);
	case SINK_FILE:
		if (v)
			event_print(v);
		else
			record_json(r);
		fflush(stdout);
		return ferror(stdout) ? -EIO : 0;
	}
	return 0;
}

static void write_checked(struct logger *lg, const struct record *r,
			  const struct event_view *v)
{
	int err = record_write(lg, r, v);

	if (err && !lg->err) {
		lg->err = err;
		p_err("cannot write to the log: %s", strerror(-err));
		stop = 1;
	}
}

/* ---- the sessions, compared once a second ---- */

static const struct session_entry *session_in(const struct session_entry *v,
					      size_t n,
					      const struct session_entry *e)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!v[i].ended && v[i].s.id == e->s.id &&
		    !strcmp(v[i].key.name, e->key.name))
			return &v[i];
	return NULL;
}

static bool down_logged(const struct logger *lg, __u32 id)
{
	return u32_in(lg->downs, lg->ndowns, id);
}

/* Remember that id's down is logged; forget what is past the grace period. */
static void down_note(struct logger *lg, __u32 id, __u64 ended)
{
	__u64 now = realtime_now();
	size_t i, k = 0;

	for (i = 0; i < lg->ndowns; i++) {
		if (now - lg->downs_at[i] > 2 * OP25B_SESSION_GRACE_NS)
			continue;
		lg->downs[k] = lg->downs[i];
		lg->downs_at[k++] = lg->downs_at[i];
	}
	lg->ndowns = k;
	if (lg->ndowns == lg->downs_cap) {
		size_t cap = lg->downs_cap ? 2 * lg->downs_cap : 64;
		__u32 *d = realloc(lg->downs, cap * sizeof(*d));
		__u64 *a;

		if (d)
			lg->downs = d;
		a = d ? realloc(lg->downs_at, cap * sizeof(*a)) : NULL;
		if (!a)
			return;	/* its down may be logged twice */
		lg->downs_at = a;
		lg->downs_cap = cap;
	}
	lg->downs[lg->ndowns] = id;
	lg->downs_at[lg->ndowns++] = ended;
}

/*
 * Up and down records of what changed since the last look: sessions
 * registered now and not then are up; those that were and are not are
 * down, at the time they ended when the registry kept it. A session
 * that came and went in between (it is among the just ended, never
 * seen) gets both. quiet: what is there is known, not news.
 */
static void sessions_compare(struct logger *lg, bool quiet)
{
	struct session_entry *now = NULL, *live;
	struct record r;
	size_t n = 0, i, nlive;

	if (lg->x.sessions_fd < 0 ||
	    sessions_load_recent(lg->x.sessions_fd, lg->x.ended_fd, &now, &n))
		return;
	for (i = 0; i < n; i++) {
		const struct session_entry *e = &now[i];

		if (!e->ended) {
			if (!quiet && !session_in(lg->known, lg->nknown, e)) {
				session_record(e, true, &r);
				write_checked(lg, &r, NULL);
			}
			continue;
		}
		if (down_logged(lg, e->s.id))
			continue;
		if (!quiet && !session_in(lg->known, lg->nknown, e)) {
			session_record(e, true, &r);
			write_checked(lg, &r, NULL);
		}
		if (!quiet) {
			session_record(e, false, &r);
			write_checked(lg, &r, NULL);
		}
		down_note(lg, e->s.id, e->ended);
	}
	for (i = 0; i < lg->nknown && !quiet; i++) {
		const struct session_entry *e = &lg->known[i];

		if (session_in(now, n, e) || down_logged(lg, e->s.id))
			continue;
		session_record(e, false, &r);
		write_checked(lg, &r, NULL);
	}
	/* what is registered now is what is known */
	live = now;
	for (i = nlive = 0; i < n; i++)
		if (!now[i].ended)
			live[nlive++] = now[i];
	free(lg->known);
	lg->known = live;
	lg->nknown = nlive;
	lg->sessions_ns = realtime_now();
}

static int on_event(void *ctx, const struct op25b_event *ev)
{
	struct logger *lg = ctx;
	struct event_view v;
	struct record r;

	event_view(&lg->x, ev, &v);
	event_record(&v, &r);
	write_checked(lg, &r, &v);
	return stop ? -ECANCELED : 0;
}

/* A connect the socket hooks refused: its culprit's fields (sockev.c). */
static void sock_record(const struct sock_view *v, struct record *r)
{
	const struct op25b_sock_event *ev = v->ev;
	char dst[INET6_ADDRSTRLEN + 8];

	memset(r, 0, sizeof(*r));
	snprintf(r->time, sizeof(r->time), "%s", v->time);
	r->what = "connect";
	endpoint_format(ev->family, ev->daddr, ev->dport, dst, sizeof(dst));
	snprintf(r->msg, sizeof(r->msg), "connect -> %s by pid %u (%s) uid %u%s%s cgroup %s (%s)",
		 dst, ev->pid, v->comm, ev->uid, v->user[0] ? " " : "", v->user,
		 v->has_cgroup ? cgroup_shown(v->cgroup) : "?", v->action);
	field_add(r, "event", "%s", "connect");
	field_add(r, "time", "%s", v->time);
	field_add(r, "hook", "%s", v->hook);
	field_add(r, "pid", "%u", ev->pid);
	field_add(r, "comm", "%s", v->comm);
	if (v->exe[0])
		field_add(r, "exe", "%.79s", v->exe);
	field_add(r, "uid", "%u", ev->uid);
	field_some(r, "user", v->user);
	field_add(r, "gid", "%u", ev->gid);
	field_some(r, "group", v->group);
	field_add(r, "cgroup_id", "%llu", (unsigned long long)ev->cgroup_id);
	if (v->has_cgroup)
		field_add(r, "cgroup", "%.79s", cgroup_shown(v->cgroup));
	field_some(r, "saddr", v->saddr);
	field_add(r, "daddr", "%s", v->daddr);
	field_add(r, "dport", "%u", ev->dport);
	field_add(r, "action", "%s", v->action);
}

static int on_sock_event(void *ctx, const struct op25b_sock_event *ev)
{
	struct logger *lg = ctx;
	struct sock_view v;
	struct record r;

	sock_view(ev, &v);
	sock_record(&v, &r);
	if (lg->sink == SINK_FILE) {
		/* JSON lines: monitor -j's object */
		sock_event_print(&v);
		fflush(stdout);
		if (ferror(stdout) && !lg->err) {
			lg->err = -EIO;
			p_err("cannot write to the log: %s", strerror(EIO));
			stop = 1;
		}
	} else {
		write_checked(lg, &r, NULL);
	}
	return stop ? -ECANCELED : 0;
}

/* The reader fell behind: the log says how many events it never saw. */
static void lost_record(struct logger *lg, __u64 n)
{
	struct record r;

	memset(&r, 0, sizeof(r));
	wall_time_format(r.time, sizeof(r.time));
	r.what = "lost";
	snprintf(r.msg, sizeof(r.msg),
		 "lost %llu events: overwritten before the log read them",
		 (unsigned long long)n);
	field_add(&r, "event", "lost");
	field_add(&r, "time", "%s", r.time);
	field_add(&r, "lost", "%llu", (unsigned long long)n);
	if (lg->sink == SINK_FILE) {
		record_json(&r);
		fflush(stdout);
	} else {
		write_checked(lg, &r, NULL);
	}
}

static int sink_open(struct logger *lg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = getenv(SYSLOG_SOCKET_ENV);
	int err;

	char why[160];

	switch (lg->sink) {
	case SINK_JOURNAL:
		if (journal_open(why, sizeof(why))) {
			p_err("log: cannot write to the journal: %s", why);
			return EXIT_RUNTIME;
		}
		return 0;
	case SINK_SYSLOG:
		if (gethostname(lg->host, sizeof(lg->host)) || !lg->host[0])
			snprintf(lg->host, sizeof(lg->host), "-");
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s",
			 path && *path ? path : SYSLOG_SOCKET);
		lg->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (lg->sock < 0 ||
		    connect(lg->sock, (struct sockaddr *)&sa, sizeof(sa))) {
			p_err("cannot reach syslog at %s: %s", sa.sun_path,
			      strerror(errno));
			return EXIT_RUNTIME;
		}
		return 0;
	case SINK_FILE:
		/* JSON lines: one compact object a line, whatever -p says */
		g.json = true;
		g.pretty = false;
		err = file_open(lg);
		if (err) {
			p_err("cannot open '%s': %s", lg->path, strerror(-err));
			return EXIT_RUNTIME;
		}
		return 0;
	}
	return 0;
}

static int args_parse(int argc, char **argv, struct logger *lg)
{
	struct args a = ARGS_POS("log", argc, argv, NULL, 0);
	int given = 0;

	if (args_all(&a, log_opts))
		return EXIT_USAGE;
	lg->sink = SINK_JOURNAL;
	if (args_given(&a, OPT_JOURNAL))
		given++;
	if (args_given(&a, OPT_SYSLOG)) {
		lg->sink = SINK_SYSLOG;
		given++;
	}
	if (args_given(&a, OPT_FILE)) {
		lg->sink = SINK_FILE;
		lg->path = a.val[OPT_FILE];
		given++;
	}
	if (given > 1) {
		p_err("log: one of --journal, --syslog and --file");
		return EXIT_USAGE;
	}
#ifndef OP25B_JOURNAL
	if (lg->sink == SINK_JOURNAL) {
		p_err("log: this op25bctl was built without the journal (libsystemd): --syslog or --file");
		return EXIT_USAGE;
	}
#endif
	if (lg->sink == SINK_FILE && !*lg->path) {
		p_err("log: --file needs a path");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static void signals_catch(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
}

int do_log(int argc, char **argv)
{
	struct logger lg = { .sock = -1 };
	struct timespec ts = { 0, EVLOG_POLL_MS * 1000000L };
	struct op25b_maps m;
	struct evlog l;
	struct evlog sl;
	__u64 sk_lost = 0;
	int rc, err;

	rc = args_parse(argc, argv, &lg);
	if (rc)
		return rc;
	rc = event_logs_open(&m, &l, &sl, false);
	if (rc)
		return rc;
	rc = sink_open(&lg);
	if (rc)
		goto out;
	event_ctx_init(&lg.x, &m);
	signals_catch();
	/* the sessions there already are known, not news */
	sessions_compare(&lg, true);
	while (!stop) {
		if (reopen) {
			reopen = 0;
			err = lg.sink == SINK_FILE ? file_open(&lg) : 0;
			if (err) {
				p_err("cannot reopen '%s': %s", lg.path,
				      strerror(-err));
				lg.err = err;
				break;
			}
		}
		if (realtime_now() - lg.sessions_ns >= SESSIONS_EVERY_NS)
			sessions_compare(&lg, false);
		evlog_read(&l, on_event, &lg);
		if (l.lost > lg.lost) {
			lost_record(&lg, l.lost - lg.lost);
			lg.lost = l.lost;
		}
		if (!stop)
			sklog_read(&sl, on_sock_event, &lg);
		if (sl.lost > sk_lost) {
			lost_record(&lg, sl.lost - sk_lost);
			sk_lost = sl.lost;
		}
		if (!stop)
			nanosleep(&ts, NULL);
	}
	rc = lg.err ? EXIT_RUNTIME : EXIT_OK;
out:
	if (lg.sock >= 0)
		close(lg.sock);
	free(lg.known);
	free(lg.downs);
	free(lg.downs_at);
	event_ctx_free(&lg.x);
	evlog_close(&l);
	evlog_close(&sl);
	maps_close(&m);
	return rc;
}
