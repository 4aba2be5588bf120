// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * history and report: the abuse desk's and the rollout's questions,
 * answered from what 'log --file' wrote (doc/DESIGN.md, "Events and their
 * readers"): which sessions had an address when and what it tried
 * (history), and which subscribers would be or were blocked (report).
 * The log's lines are op25bctl's own JSON objects, flat but for arrays of
 * strings and numbers: a small reader of exactly that is enough.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "op25bctl.h"

/* Where op25b-log.service's documented override writes. */
#define LOG_FILE_DEFAULT	"/var/log/op25b/events.jsonl"
/* Destinations a history names, the busiest first. */
#define TOP_DESTS		5

/* ---- one line of the log ---- */

#define REC_FIELDS	24
#define REC_VAL		128

struct rec {
	size_t n;
	struct {
		char key[32];
		char val[REC_VAL];	/* an array: its items, space-separated */
	} f[REC_FIELDS];
};

static const char *rec_get(const struct rec *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->f[i].key, key))
			return r->f[i].val;
	return "";
}

/* A JSON string at *p (after its quote) into out; p past its end quote. */
static int json_str(const char **p, char *out, size_t len)
{
	const char *s = *p;
	size_t o = 0;

	for (; *s && *s != '"'; s++) {
		char c = *s;

		if (c == '\\') {
			s++;
			if (!*s)
				return -1;
			c = *s == 'n' ? '\n' : *s == 't' ? '\t' :
			    *s == 'u' ? '?' : *s;
			if (*s == 'u')
				s += strlen(s) >= 5 ? 4 : 0;
		}
		if (o + 1 < len)
			out[o++] = c;
	}
	if (*s != '"')
		return -1;
	out[o] = '\0';
	*p = s + 1;
	return 0;
}

/* A scalar (string, number, true, false, null) at *p into out. */
static int json_scalar(const char **p, char *out, size_t len)
{
	const char *s = *p;
	size_t n;

	if (*s == '"') {
		*p = s + 1;
		return json_str(p, out, len);
	}
	n = strcspn(s, ",]} \t\r\n");
	if (!n)
		return -1;
	snprintf(out, len, "%.*s", (int)n, s);
	*p = s + n;
	return 0;
}

static const char *skip_ws(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

/* One object a line, flat but for arrays of scalars. -1 if not one. */
static int rec_parse(const char *line, struct rec *r)
{
	const char *p = skip_ws(line);
	char item[REC_VAL];

	r->n = 0;
	if (*p++ != '{')
		return -1;
	for (p = skip_ws(p); *p && *p != '}';) {
		char key[32], *val;

		if (*p != '"')
			return -1;
		p++;
		if (json_str(&p, key, sizeof(key)))
			return -1;
		p = skip_ws(p);
		if (*p++ != ':')
			return -1;
		p = skip_ws(p);
		val = r->n < REC_FIELDS ? r->f[r->n].val : item;
		val[0] = '\0';
		if (*p == '[') {
			size_t off = 0;

			for (p = skip_ws(p + 1); *p && *p != ']';) {
				if (json_scalar(&p, item, sizeof(item)))
					return -1;
				off += (size_t)snprintf(val + off,
							off < REC_VAL ? REC_VAL - off : 0,
							"%s%s", off ? " " : "", item);
				p = skip_ws(p);
				if (*p == ',')
					p = skip_ws(p + 1);
			}
			if (*p++ != ']')
				return -1;
		} else if (json_scalar(&p, val, REC_VAL)) {
			return -1;
		}
		if (r->n < REC_FIELDS)
			snprintf(r->f[r->n++].key, sizeof(r->f[0].key), "%s",
				 key);
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
	}
	return *p == '}' ? 0 : -1;
}

/* ---- --since ---- */

/*
 * TIME as the log writes it, so that times compare as strings: RFC 3339
 * ("2026-12-01T10:00:00Z", "...+09:00"), a date (midnight UTC), or a
 * duration ago ("24h", "30d"). -1 when it is none of them.
 */
static int since_parse(const char *s, char *out, size_t len)
{
	struct tm tm = {};
	const char *rest;
	__u64 ago;
	time_t t;

	if (!duration_parse(s, &ago)) {
		__u64 now = realtime_now();

		rfc3339_format(ago < now ? now - ago : 0, true, out, len);
		return 0;
	}
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest) {
		rest = strptime(s, "%Y-%m-%d", &tm);
		if (!rest || *rest)
			return -1;
	}
	t = timegm(&tm);
	if (*rest == '.')
		rest += 1 + strspn(rest + 1, "0123456789");
	if ((*rest == '+' || *rest == '-') && strlen(rest) == 6 &&
	    isdigit((unsigned char)rest[1]) && rest[3] == ':') {
		long off = ((rest[1] - '0') * 10 + (rest[2] - '0')) * 3600 +
			   ((rest[4] - '0') * 10 + (rest[5] - '0')) * 60;

		t -= *rest == '+' ? off : -off;
	} else if (*rest && strcmp(rest, "Z")) {
		return -1;
	}
	if (t < 0)
		return -1;
	rfc3339_format((__u64)t * NSEC_PER_SEC, true, out, len);
	return 0;
}

/* ---- reading the log ---- */

struct reading {
	const char *path;
	bool journal;		/* the journal's op25b entries, not the file */
	char since[40];		/* "" for all */
	size_t lines, bad;
};

/* Each record of the log at or after since, to fn. */
static int log_each(struct reading *rd,
		    void (*fn)(void *ctx, const struct rec *r), void *ctx)
{
	char why[256];
	FILE *f = input_open(rd->path, why, sizeof(why));
	char *line = NULL;
	size_t cap = 0;
	struct rec *r;

	if (!f) {
		p_err("cannot read the log '%s': %s", rd->path, why);
		return EXIT_RUNTIME;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		fclose(f);
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	while (getline(&line, &cap, f) > 0) {
		rd->lines++;
		if (rec_parse(line, r)) {
			rd->bad++;
			continue;
		}
		if (rd->since[0] && strcmp(rec_get(r, "time"), rd->since) < 0)
			continue;
		fn(ctx, r);
	}
	free(line);
	free(r);
	fclose(f);
	if (rd->bad)
		p_info("%zu of %zu lines of %s are not op25b records: skipped",
		       rd->bad, rd->lines, rd->path);
	return EXIT_OK;
}

/* A journal field OP25B_KEY=VALUE into r, as the file's "key": "VALUE". */
static void rec_field(void *ctx, const void *data, size_t l)
{
	struct rec *r = ctx;
	const char *d = data, *eq = memchr(d, '=', l);
	size_t k, klen;

	if (!eq || l < 7 || memcmp(d, "OP25B_", 6) || r->n == REC_FIELDS)
		return;
	klen = (size_t)(eq - d) - 6;
	if (klen >= sizeof(r->f[0].key))
		return;
	for (k = 0; k < klen; k++)
		r->f[r->n].key[k] = (char)tolower((unsigned char)d[6 + k]);
	r->f[r->n].key[klen] = '\0';
	snprintf(r->f[r->n].val, REC_VAL, "%.*s", (int)(l - klen - 7), eq + 1);
	r->n++;
}

/* What journal_each hands an entry on with: the reading and fn. */
struct journal_walk {
	struct reading *rd;
	struct rec *r;
	void (*fn)(void *ctx, const struct rec *r);
	void *ctx;
};

static void rec_end(void *ctx)
{
	struct journal_walk *w = ctx;

	w->rd->lines++;
	if (!w->rd->since[0] || strcmp(rec_get(w->r, "time"), w->rd->since) >= 0)
		w->fn(w->ctx, w->r);
	w->r->n = 0;
}

static void rec_field_of(void *ctx, const void *data, size_t l)
{
	rec_field(((struct journal_walk *)ctx)->r, data, l);
}

/* Each op25b entry of the journal at or after since, to fn. */
static int journal_each(struct reading *rd,
			void (*fn)(void *ctx, const struct rec *r), void *ctx)
{
	struct journal_walk w = { rd, calloc(1, sizeof(struct rec)), fn, ctx };
	int err;

	if (!w.r) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	err = journal_read("SYSLOG_IDENTIFIER=op25b", rec_field_of, rec_end,
			   &w);
	free(w.r);
	if (err < 0) {
		p_err("cannot read the journal: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* The log or the journal, as the command was told. */
static int records_each(struct reading *rd,
			void (*fn)(void *ctx, const struct rec *r), void *ctx)
{
	if (rd->journal)
		return journal_each(rd, fn, ctx);
	return log_each(rd, fn, ctx);
}

/* ---- counting ---- */

/*
 * An index over an array's string keys (the key lies at off in each
 * element of size sz): open addressing over positions + 1, grown at half
 * full, so that a month's log of a million records finds each record's
 * subscriber, and each of its destinations, in constant time.
 */
struct strindex {
	size_t *slot;		/* 0: empty, else position + 1 */
	size_t cap;		/* a power of two, or 0 */
};

static size_t str_hash(const char *s)
{
	size_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

#define KEY_AT(base, sz, off, i)	((const char *)(base) + (i) * (sz) + (off))

/* Where key is, or the empty slot it would take. */
static size_t *strindex_at(const struct strindex *x, const void *base,
			   size_t sz, size_t off, const char *key)
{
	size_t i = str_hash(key) & (x->cap - 1);

	while (x->slot[i] &&
	       strcmp(KEY_AT(base, sz, off, x->slot[i] - 1), key))
		i = (i + 1) & (x->cap - 1);
	return &x->slot[i];
}

/* Room for n + 1 keys of base[0..n): -1 when out of memory. */
static int strindex_room(struct strindex *x, const void *base, size_t sz,
			 size_t off, size_t n)
{
	struct strindex y;
	size_t i;

	if (2 * (n + 1) <= x->cap)
		return 0;
	y.cap = x->cap ? 2 * x->cap : 64;
	y.slot = calloc(y.cap, sizeof(*y.slot));
	if (!y.slot)
		return -1;
	for (i = 0; i < n; i++)
		*strindex_at(&y, base, sz, off, KEY_AT(base, sz, off, i)) = i + 1;
	free(x->slot);
	*x = y;
	return 0;
}

/*
 * The position of key in base[0..*n), or of the element made for it
 * (zeroed, key copied, *n counted) in the array *basep grows at need.
 * -1 when out of memory.
 */
static long strindex_take(struct strindex *x, void **basep, size_t *n,
			  size_t *cap, size_t sz, size_t off, size_t keylen,
			  const char *key)
{
	size_t *at;
	char *e;

	if (strindex_room(x, *basep, sz, off, *n))
		return -1;
	at = strindex_at(x, *basep, sz, off, key);
	if (*at)
		return (long)(*at - 1);
	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		void *nv = realloc(*basep, ncap * sz);

		if (!nv)
			return -1;
		*basep = nv;
		*cap = ncap;
	}
	e = (char *)*basep + *n * sz;
	memset(e, 0, sz);
	snprintf(e + off, keylen, "%s", key);
	*at = *n + 1;
	return (long)(*n)++;
}

struct count {
	char key[REC_VAL];
	unsigned long n;
};

struct counts {
	struct count *v;
	size_t n, cap;
	struct strindex idx;
};

static int counts_add(struct counts *c, const char *key)
{
	void *base = c->v;
	long i = strindex_take(&c->idx, &base, &c->n, &c->cap, sizeof(*c->v),
			       offsetof(struct count, key), sizeof(c->v->key),
			       key);

	c->v = base;
	if (i < 0)
		return -1;
	c->v[i].n++;
	return 0;
}

static void counts_free(struct counts *c)
{
	free(c->v);
	free(c->idx.slot);
}

static int count_cmp(const void *a, const void *b)
{
	const struct count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* "198.51.100.25:25" or "[2001:db8::25]:25" */
static void dest_of(const struct rec *r, char *buf, size_t len)
{
	const char *a = rec_get(r, "daddr");

	snprintf(buf, len, strchr(a, ':') ? "[%s]:%s" : "%s:%s", a,
		 rec_get(r, "dport"));
}

/* ---- history ---- */

/* What a history counts of the blocked attempts, in the order it lists them */
enum { HC_DESTS, HC_USERS, HC_ADDRS, HC_MACS, HC_IFACES, HC_LISTS };
static const struct {
	const char *key, *label;	/* in JSON, in text */
	size_t max;
} hc_lists[HC_LISTS] = {
	[HC_DESTS]	= { "destinations", "destinations", TOP_DESTS },
	[HC_USERS]	= { "users", "users and lines", (size_t)-1 },
	[HC_ADDRS]	= { "addresses", "addresses", (size_t)-1 },
	[HC_MACS]	= { "macs", "MACs", (size_t)-1 },
	[HC_IFACES]	= { "interfaces", "interfaces", (size_t)-1 },
};

struct history {
	struct prefix p;	/* ADDR, when it is one */
	bool by_addr;
	const char *user;	/* else USER */
	unsigned long n;
	char first[40], last[40];
	struct counts list[HC_LISTS];
	struct counts sessions;	/* "up|down|session|user|line|addresses" */
	bool oom;
};

/* Does a record's address (or one of its prefixes) meet ADDR? */
static bool addr_meets(const struct history *h, const char *list)
{
	char copy[REC_VAL], *tok, *save = NULL, why[64];
	struct prefix q;

	snprintf(copy, sizeof(copy), "%s", list);
	for (tok = strtok_r(copy, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (prefix_parse(tok, &q, why, sizeof(why)) ||
		    q.family != h->p.family)
			continue;
		/* either holds the other: a host in a session's prefix, or a
		 * prefix asked that holds the session's address */
		if (q.len <= h->p.len ? prefix_contains(&q, h->p.addr) :
					prefix_contains(&h->p, q.addr))
			return true;
	}
	return false;
}

static void history_take(void *ctx, const struct rec *r)
{
	struct history *h = ctx;
	const char *ev = rec_get(r, "event"), *t = rec_get(r, "time");
	bool mine;
	char d[80], s[3 * REC_VAL];
	int bad = 0;

	if (!strcmp(ev, "session up") || !strcmp(ev, "session down")) {
		mine = h->by_addr ? addr_meets(h, rec_get(r, "address")) :
				    !strcmp(rec_get(r, "user"), h->user);
		if (mine) {
			snprintf(s, sizeof(s), "%s|%s|%s", ev, t,
				 rec_get(r, "session"));
			bad |= counts_add(&h->sessions, s);
		}
		h->oom |= bad;
		return;
	}
	if (strcmp(ev, "blocked"))
		return;
	mine = h->by_addr ? addr_meets(h, rec_get(r, "saddr")) :
			    !strcmp(rec_get(r, "user"), h->user);
	if (!mine)
		return;
	if (!h->n++)
		snprintf(h->first, sizeof(h->first), "%s", t);
	snprintf(h->last, sizeof(h->last), "%s", t);
	dest_of(r, d, sizeof(d));
	bad |= counts_add(&h->list[HC_DESTS], d);
	if (*rec_get(r, "user")) {
		snprintf(s, sizeof(s), "%s %s", rec_get(r, "user"),
			 rec_get(r, "calling_station_id"));
		bad |= counts_add(&h->list[HC_USERS], s);
	}
	if (*rec_get(r, "mac"))
		bad |= counts_add(&h->list[HC_MACS], rec_get(r, "mac"));
	if (*rec_get(r, "interface"))
		bad |= counts_add(&h->list[HC_IFACES],
				  rec_get(r, "interface"));
	bad |= counts_add(&h->list[HC_ADDRS], rec_get(r, "saddr"));
	h->oom |= bad;
}

/* Sorted, the busiest first: its index no longer holds. */
static void counts_print(const char *key, const char *label,
			 struct counts *c, size_t max)
{
	size_t i;

	free(c->idx.slot);
	c->idx.slot = NULL;
	c->idx.cap = 0;
	qsort(c->v, c->n, sizeof(*c->v), count_cmp);
	if (!g.json && c->n)
		printf("%s:", label);
	open_json_array(key);
	for (i = 0; i < c->n && i < max; i++) {
		open_json_object(NULL);
		print_string(PRINT_ANY, "what", " %s", c->v[i].key);
		print_uint(PRINT_ANY, "count", " (%llu)", c->v[i].n);
		close_json_object();
	}
	close_json_array();
	if (!g.json && c->n)
		putchar('\n');
}

/* Sessions of the address or user, in the log's order: up, then down. */
static void sessions_print(const struct counts *c)
{
	char copy[3 * REC_VAL], *ev, *t, *name, *save = NULL;
	size_t i;

	open_json_array("sessions");
	for (i = 0; i < c->n; i++) {
		snprintf(copy, sizeof(copy), "%s", c->v[i].key);
		ev = strtok_r(copy, "|", &save);
		t = strtok_r(NULL, "|", &save);
		name = strtok_r(NULL, "|", &save);
		if (!ev || !t || !name)
			continue;
		open_json_object(NULL);
		print_string(PRINT_ANY, "event", "%s", ev);
		print_string(PRINT_ANY, "session", " %s", name);
		print_string(PRINT_ANY, "time", " at %s", t);
		close_json_object();
		print_nl();
	}
	close_json_array();
}

static void history_free(struct history *h)
{
	size_t i;

	for (i = 0; i < HC_LISTS; i++)
		counts_free(&h->list[i]);
	counts_free(&h->sessions);
}

enum { OPT_SINCE = 1, OPT_FILE, OPT_CSV, OPT_JOURNAL };

/* What history and report both take, and reading_args reads. */
#define READING_OPT_SINCE						\
	{ .name = "--since", .id = OPT_SINCE, .arg = "TIME", .what = "a time", \
	  .help = "from TIME on: RFC 3339, a date, or a duration ago (30d)" }
#define READING_OPTS_LOG						\
	{ .name = "--file", .id = OPT_FILE, .arg = "PATH", .what = "a path", \
	  .help = "the log to read (" LOG_FILE_DEFAULT ")" },		\
	{ .name = "--journal", .id = OPT_JOURNAL,			\
	  .help = "read what log wrote to the journal instead" }

static const struct opt history_opts[] = OPT_TABLE(
	READING_OPT_SINCE,
	READING_OPTS_LOG,
);

static const struct opt report_opts[] = OPT_TABLE(
	READING_OPT_SINCE,
	{ .name = "--csv", .id = OPT_CSV, .help = "comma-separated values" },
	READING_OPTS_LOG,
);

const struct cmd_help history_help = {
	.args = "ADDR|USER",
	.opts = history_opts,
	.text =
	"What the log (log --file; with --journal, log's journal entries)\n"
	"holds of an address, a prefix or a user\n"
	"name: the sessions that had it, when they began and ended; its blocked\n"
	"attempts, first and last (RFC 3339, UTC) and how many; the busiest\n"
	"destinations; the users and lines, MACs and interfaces they came by.\n",
};

const struct cmd_help report_help = {
	.opts = report_opts,
	.text =
	"Every source of blocked (or, under action monitor, would-be-blocked)\n"
	"attempts in the log (log --file, or the journal with --journal),\n"
	"most attempts first: attempts,\n"
	"blocked and monitored, first and last seen, its user name and line,\n"
	"interface and busiest destination. The rollout's question before\n"
	"action reject: who would lose port 25.\n",
};

static int reading_args(struct args *a, struct reading *rd)
{
	char why[160];
	int err;

	rd->journal = args_given(a, OPT_JOURNAL);
	if (rd->journal && args_given(a, OPT_FILE)) {
		p_err("%s: --file or --journal, not both", a->cmd);
		return EXIT_USAGE;
	}
	if (rd->journal && (err = journal_open(why, sizeof(why)))) {
		/* built without it: a usage error; libsystemd not found: not */
		p_err("%s: %s%s", a->cmd,
		      err == -ENOSYS ? "" : "cannot read the journal: ", why);
		return err == -ENOSYS ? EXIT_USAGE : EXIT_RUNTIME;
	}
	rd->path = args_given(a, OPT_FILE) ? a->val[OPT_FILE] :
		   LOG_FILE_DEFAULT;
	if (args_given(a, OPT_SINCE) &&
	    since_parse(a->val[OPT_SINCE], rd->since, sizeof(rd->since))) {
		p_err("bad time '%s': RFC 3339 (2026-12-01T10:00:00Z), a date or a duration (30d)",
		      a->val[OPT_SINCE]);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int do_history(int argc, char **argv)
{
	const char *what = NULL;
	struct args a = ARGS_POS("history", argc, argv, &what, 1);
	struct reading rd = {};
	struct history h = {};
	char why[64];
	size_t i;
	int rc;

	if (args_all(&a, history_opts) || args_missing(&a, "ADDR or USER"))
		return EXIT_USAGE;
	rc = reading_args(&a, &rd);
	if (rc)
		return rc;
	h.by_addr = !prefix_parse(what, &h.p, why, sizeof(why));
	h.user = what;
	rc = records_each(&rd, history_take, &h);
	if (!rc && h.oom) {
		p_err("out of memory");
		rc = EXIT_RUNTIME;
	}
	if (rc) {
		history_free(&h);
		return rc;
	}
	open_json_object(NULL);
	print_string(PRINT_ANY, h.by_addr ? "address" : "user",
		     h.by_addr ? "address %s\n" : "user %s\n", what);
	sessions_print(&h.sessions);
	print_uint(PRINT_ANY, "attempts", "attempts: %llu", h.n);
	if (h.n) {
		print_string(PRINT_ANY, "first", ", first %s", h.first);
		print_string(PRINT_ANY, "last", ", last %s", h.last);
	}
	print_nl();
	for (i = 0; i < HC_LISTS; i++)
		counts_print(hc_lists[i].key, hc_lists[i].label, &h.list[i],
			     hc_lists[i].max);
	close_json_object();
	output_end();
	history_free(&h);
	return EXIT_OK;
}

/* ---- report ---- */

struct source {
	char saddr[46];
	char user[64], line[32], iface[24], first[40], last[40];
	unsigned long blocked, monitored;
	struct counts dests;
};

struct report {
	struct source *v;
	size_t n, cap;
	struct strindex idx;	/* by saddr: one probe a record */
	bool oom;
};

static struct source *source_of(struct report *rp, const char *saddr)
{
	void *base = rp->v;
	char key[sizeof(rp->v->saddr)];
	long i;

	/* as the element keeps it: a longer one must find its own again */
	snprintf(key, sizeof(key), "%s", saddr);
	i = strindex_take(&rp->idx, &base, &rp->n, &rp->cap, sizeof(*rp->v),
			  offsetof(struct source, saddr), sizeof(key), key);

	rp->v = base;
	return i < 0 ? NULL : &rp->v[i];
}

static void report_take(void *ctx, const struct rec *r)
{
	struct report *rp = ctx;
	const char *t = rec_get(r, "time");
	struct source *s;
	char d[80];

	if (strcmp(rec_get(r, "event"), "blocked"))
		return;
	s = source_of(rp, rec_get(r, "saddr"));
	if (!s) {
		rp->oom = true;
		return;
	}
	if (!strcmp(rec_get(r, "action"), "monitor"))
		s->monitored++;
	else
		s->blocked++;
	if (!s->first[0])
		snprintf(s->first, sizeof(s->first), "%s", t);
	snprintf(s->last, sizeof(s->last), "%s", t);
	/* the latest names: a line's session may have changed hands */
	if (*rec_get(r, "user"))
		snprintf(s->user, sizeof(s->user), "%s", rec_get(r, "user"));
	if (*rec_get(r, "calling_station_id"))
		snprintf(s->line, sizeof(s->line), "%s",
			 rec_get(r, "calling_station_id"));
	snprintf(s->iface, sizeof(s->iface), "%s", rec_get(r, "interface"));
	dest_of(r, d, sizeof(d));
	rp->oom |= counts_add(&s->dests, d) != 0;
}

static int source_cmp(const void *a, const void *b)
{
	const struct source *x = a, *y = b;
	unsigned long nx = x->blocked + x->monitored,
		      ny = y->blocked + y->monitored;

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(x->saddr, y->saddr);
}

/* A CSV field: quoted when it holds a comma, a quote or a newline. */
static void csv_field(const char *s, bool last)
{
	if (strpbrk(s, ",\"\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

static void report_print(struct report *rp, bool csv)
{
	size_t i;

	qsort(rp->v, rp->n, sizeof(*rp->v), source_cmp);
	if (csv)
		printf("address,attempts,blocked,monitored,first,last,user,calling_station_id,interface,top_destination\n");
	else if (!g.json)
		printf("%-39s %8s %8s %9s  %-24s  %-24s  %-12s %-12s %s\n",
		       "ADDRESS", "ATTEMPTS", "BLOCKED", "MONITORED", "FIRST",
		       "LAST", "USER", "LINE", "TOP DESTINATION");
	open_json_array(NULL);
	for (i = 0; i < rp->n; i++) {
		struct source *s = &rp->v[i];
		const char *top;
		char num[24];

		qsort(s->dests.v, s->dests.n, sizeof(*s->dests.v), count_cmp);
		top = s->dests.n ? s->dests.v[0].key : "";
		if (csv) {
			csv_field(s->saddr, false);
			snprintf(num, sizeof(num), "%lu", s->blocked + s->monitored);
			csv_field(num, false);
			snprintf(num, sizeof(num), "%lu", s->blocked);
			csv_field(num, false);
			snprintf(num, sizeof(num), "%lu", s->monitored);
			csv_field(num, false);
			csv_field(s->first, false);
			csv_field(s->last, false);
			csv_field(s->user, false);
			csv_field(s->line, false);
			csv_field(s->iface, false);
			csv_field(top, true);
			continue;
		}
		open_json_object(NULL);
		print_string(PRINT_ANY, "address", "%-39s", s->saddr);
		print_uint(PRINT_ANY, "attempts", " %8llu",
			   s->blocked + s->monitored);
		print_uint(PRINT_ANY, "blocked", " %8llu", s->blocked);
		print_uint(PRINT_ANY, "monitored", " %9llu", s->monitored);
		print_string(PRINT_ANY, "first", "  %-24s", s->first);
		print_string(PRINT_ANY, "last", "  %-24s", s->last);
		print_string(PRINT_ANY, "user", "  %-12s",
			     s->user[0] ? s->user : "-");
		print_string(PRINT_ANY, "calling_station_id", " %-12s",
			     s->line[0] ? s->line : "-");
		print_string(PRINT_JSON, "interface", NULL, s->iface);
		print_string(PRINT_ANY, "top_destination", " %s", top);
		close_json_object();
		print_nl();
	}
	output_list_end();
}

int do_report(int argc, char **argv)
{
	struct args a = ARGS_POS("report", argc, argv, NULL, 0);
	struct reading rd = {};
	struct report rp = {};
	size_t i;
	int rc;

	if (args_all(&a, report_opts))
		return EXIT_USAGE;
	if (args_given(&a, OPT_CSV) && g.json) {
		p_err("report: --csv or -j, not both");
		return EXIT_USAGE;
	}
	rc = reading_args(&a, &rd);
	if (!rc)
		rc = records_each(&rd, report_take, &rp);
	if (!rc && rp.oom) {
		p_err("out of memory");
		rc = EXIT_RUNTIME;
	}
	if (!rc)
		report_print(&rp, args_given(&a, OPT_CSV));
	for (i = 0; i < rp.n; i++)
		counts_free(&rp.v[i].dests);
	free(rp.v);
	free(rp.idx.slot);
	return rc;
}
