// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * op25b.conf: the policy of record, one statement a line in the CLI's own
 * words (op25b.conf(5)). Read whole and checked whole: every error is
 * reported as FILE:LINE: message, and nothing is applied unless there are
 * none.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "op25bctl.h"

#define CONF_INCLUDE_DEPTH	16
#define CONF_ERRORS_MAX		100


struct src {
	const char *name;	/* as the operator named it */
	char real[PATH_MAX];	/* for loops: the same file twice on the stack */
	struct src *up;
	int depth;
};

static const char *intern(struct conf *c, const char *s)
{
	char **v = realloc(c->names, (c->nnames + 1) * sizeof(*v));

	if (!v)
		return "?";
	c->names = v;
	v[c->nnames] = strdup(s);
	return v[c->nnames] ? v[c->nnames++] : "?";
}

static void conf_error(struct conf *c, const char *file, size_t line,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void conf_error(struct conf *c, const char *file, size_t line,
		       const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->errors++ == CONF_ERRORS_MAX)
		p_err("%s: more errors follow; only the first %d are shown",
		      file, CONF_ERRORS_MAX);
	if (c->errors > CONF_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		p_err("%s:%zu: %s", file, line, msg);
	else
		p_err("%s: %s", file, msg);
}

/*
 * Read the whole file ("-": stdin), within what is left of the bounds on
 * one load (files and bytes, doc/DESIGN.md "The policy of record"). NULL
 * after reporting why.
 */
static char *slurp(struct conf *c, const char *name, const char *from,
		   size_t from_line, size_t *len)
{
	char *buf = NULL, *nb, q[TOKEN_QUOTE_LEN], why[128];
	size_t cap = 0, n = 0, got;
	FILE *f;

	if (c->files_read >= CONF_FILES_MAX) {
		conf_error(c, from ? from : name, from_line,
			   "more than %u files in one policy: '%s' not read",
			   CONF_FILES_MAX, token_quote(name, q, sizeof(q)));
		return NULL;
	}
	f = strcmp(name, "-") ? input_open(name, why, sizeof(why)) : stdin;
	if (!f) {
		conf_error(c, from ? from : name, from_line,
			   "cannot read '%s': %s", token_quote(name, q, sizeof(q)),
			   why);
		return NULL;
	}
	c->files_read++;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 131072;
			nb = realloc(buf, cap);
			if (!nb) {
				conf_error(c, name, 0, "too large to read");
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, 65536, f);
		n += got;
		c->bytes_read += got;
		if (c->bytes_read > CONF_BYTES_MAX) {
			conf_error(c, name, 0,
				   "more than %u MiB in one policy, its includes counted",
				   CONF_BYTES_MAX >> 20);
			free(buf);
			buf = NULL;
			break;
		}
		if (got < 65536) {
			if (ferror(f)) {
				/* a read error is not an end of file */
				conf_error(c, name, 0, "cannot read: %s",
					   strerror(errno ? errno : EIO));
				free(buf);
				buf = NULL;
			}
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' ||
	       ch == '\f';
}

/* Split line into its words, in place. *w is malloc'd; -1 on no memory. */
static int words(char *line, char ***w)
{
	size_t n = 0, cap = 0;
	char *p = line;

	*w = NULL;
	while (*p) {
		while (is_space(*p))
			*p++ = '\0';
		if (!*p)
			break;
		if (array_grow((void **)w, &cap, n, sizeof(**w)))
			return -1;
		(*w)[n++] = p;
		while (*p && !is_space(*p))
			p++;
	}
	return (int)n;
}

static void add_rule(struct conf *c, const char *file, size_t line,
		     enum op25b_table t, __u32 verdict, const char *tok)
{
	char why[128], q[TOKEN_QUOTE_LEN];
	struct prefix p;

	if (prefix_parse(tok, &p, why, sizeof(why))) {
		conf_error(c, file, line, "bad prefix '%s': %s",
			   token_quote(tok, q, sizeof(q)), why);
		return;
	}
	if (array_grow((void **)&c->rules, &c->rules_cap, c->nrules,
		       sizeof(*c->rules))) {
		conf_error(c, file, line, "out of memory");
		return;
	}
	c->rules[c->nrules++] = (struct conf_rule){
		.table = t, .verdict = verdict, .p = p, .file = file, .line = line,
	};
}

static void add_ports(struct conf *c, const char *file, size_t line,
		      char **w, int n)
{
	char q[TOKEN_QUOTE_LEN];
	bool forced;
	__u32 port;
	int i;

	if (n < 2) {
		conf_error(c, file, line, "port: missing PORT");
		return;
	}
	if (!c->ports_set)
		memset(c->ports, 0, sizeof(c->ports));
	c->ports_set = true;
	/* --force: blocking submission (587, 465) is meant, as with port add */
	for (i = 1; i < n && strcmp(w[i], "--force"); i++)
		;
	forced = i < n;
	for (i = 1; i < n; i++) {
		if (!strcmp(w[i], "--force"))
			continue;
		if (port_parse(w[i], &port)) {
			conf_error(c, file, line,
				   "bad port '%s': must be a number 1-%d",
				   token_quote(w[i], q, sizeof(q)),
				   OP25B_PORT_MAX);
			continue;
		}
		c->ports[port / 64] |= 1ULL << (port % 64);
		if (!forced && !c->sub_file &&
		    (port == OP25B_PORT_SUBMISSION || port == OP25B_PORT_SUBMISSIONS)) {
			c->sub_file = file;
			c->sub_line = line;
			c->sub_port = port;
		}
	}
}

static void set_action(struct conf *c, const char *file, size_t line,
		       char **w, int n)
{
	struct op25b_limit limit;
	char why[256];
	__u32 a;

	if (action_words_parse(n - 1, w + 1, &a, &limit, why, sizeof(why))) {
		conf_error(c, file, line, "%s", why);
		return;
	}
	if (c->action_set) {
		conf_error(c, file, line, "action given twice (first at %s:%zu)",
			   c->action_file, c->action_line);
		return;
	}
	c->action = a;
	c->limit = limit;
	c->action_set = true;
	c->action_file = file;
	c->action_line = line;
}

/* A statement's words after the verb, kept with where they were said. */
static void words_store(struct conf *c, const char *file, size_t line,
			char **w, int n, struct conf_attach **v, size_t *nv,
			size_t *cap)
{
	struct conf_attach *a;
	int i;

	if (n - 1 > CONF_ATTACH_ARGS) {
		conf_error(c, file, line, "%s: too many arguments", w[0]);
		return;
	}
	if (array_grow((void **)v, cap, *nv, sizeof(*a))) {
		conf_error(c, file, line, "out of memory");
		return;
	}
	a = &(*v)[*nv];
	memset(a, 0, sizeof(*a));
	for (i = 1; i < n; i++)
		a->argv[a->argc++] = (char *)intern(c, w[i]);
	a->file = file;
	a->line = line;
	(*nv)++;
}

static void add_attach(struct conf *c, const char *file, size_t line,
		       char **w, int n)
{
	if (n < 2) {
		conf_error(c, file, line, "attach: missing IFACE");
		return;
	}
	words_store(c, file, line, w, n, &c->att, &c->natt, &c->att_cap);
}

/* watch PATTERN... [attach options]: for op25bctl watch --config. */
static void add_watch(struct conf *c, const char *file, size_t line,
		      char **w, int n)
{
	char why[512];

	if (n - 1 <= CONF_ATTACH_ARGS &&
	    watch_check(n - 1, w + 1, why, sizeof(why))) {
		conf_error(c, file, line, "%s", why);
		return;
	}
	words_store(c, file, line, w, n, &c->watch, &c->nwatch, &c->watch_cap);
}

static void conf_file(struct conf *c, const char *name, struct src *up,
		      size_t up_line);

/*
 * allow uid|gid NAME|ID..., allow cgroup PATH...: who may connect. The
 * words are checked here; names are resolved when applied (ident.c).
 */
static void add_idents(struct conf *c, const char *file, size_t line,
		       char **w, int n)
{
	int kind = ident_kind_parse(w[1]), i;
	struct ident_want iw;
	char why[512];

	if (strcmp(w[0], "allow")) {
		conf_error(c, file, line,
			   "%s %s: identities are only exempted ('allow %s')",
			   w[0], w[1], w[1]);
		return;
	}
	if (n < 3) {
		conf_error(c, file, line, "allow %s: missing %s", w[1],
			   kind == OP25B_ID_CGROUP ? "PATH" : "NAME or ID");
		return;
	}
	for (i = 2; i < n; i++) {
		struct conf_ident *id;

		/* the words' form only: whether they name anything, when applied */
		if (kind == OP25B_ID_CGROUP) {
			char rel[OP25B_CGROUP_PATH];

			if (cgroup_path_norm(w[i], rel, sizeof(rel), why,
					     sizeof(why))) {
				conf_error(c, file, line, "%s", why);
				continue;
			}
		} else if (ident_resolve(kind, w[i], &iw, why, sizeof(why)) ==
			   EXIT_USAGE) {
			conf_error(c, file, line, "%s", why);
			continue;
		}
		if (array_grow((void **)&c->idents, &c->idents_cap, c->nidents,
			 sizeof(*id))) {
			conf_error(c, file, line, "out of memory");
			return;
		}
		id = &c->idents[c->nidents++];
		id->kind = kind;
		id->word = intern(c, w[i]);
		id->file = file;
		id->line = line;
	}
}

static void do_include(struct conf *c, const char *file, size_t line,
		       struct src *s, char **w, int n)
{
	char path[PATH_MAX], dir[PATH_MAX], q[TOKEN_QUOTE_LEN];

	if (n != 2) {
		conf_error(c, file, line, "include: one FILE");
		return;
	}
	if (w[1][0] == '/' || !strcmp(s->name, "-")) {
		snprintf(path, sizeof(path), "%s", w[1]);
	} else {
		snprintf(dir, sizeof(dir), "%s", s->name);
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dirname(dir),
				     w[1]) >= sizeof(path)) {
			conf_error(c, file, line, "include: path too long: '%s'",
				   token_quote(w[1], q, sizeof(q)));
			return;
		}
	}
	conf_file(c, intern(c, path), s, line);
}

static void statement(struct conf *c, const char *file, size_t line,
		      struct src *s, char *text)
{
	char **w, q[TOKEN_QUOTE_LEN];
	__u32 verdict;
	int n, i, t;

	n = words(text, &w);
	if (n < 0) {
		conf_error(c, file, line, "out of memory");
		return;
	}
	if (!n)
		goto out;
	if (verdict_parse(w[0]) > 0 && n >= 2 && ident_kind_parse(w[1]) >= 0) {
		add_idents(c, file, line, w, n);
	} else if (verdict_parse(w[0]) > 0) {
		verdict = (__u32)verdict_parse(w[0]);
		t = n < 2 ? -1 : table_parse(w[1]);
		if (t < 0) {
			conf_error(c, file, line, "%s: %s '%s' (subscriber, relay, uid, gid or cgroup)",
				   w[0], n < 2 ? "missing table" : "unknown table",
				   n < 2 ? "" : token_quote(w[1], q, sizeof(q)));
			goto out;
		}
		if (n < 3)
			conf_error(c, file, line, "%s %s: missing PREFIX", w[0], w[1]);
		for (i = 2; i < n; i++)
			add_rule(c, file, line, (enum op25b_table)t, verdict, w[i]);
	} else if (!strcmp(w[0], "port")) {
		add_ports(c, file, line, w, n);
	} else if (!strcmp(w[0], "action")) {
		set_action(c, file, line, w, n);
	} else if (!strcmp(w[0], "attach")) {
		add_attach(c, file, line, w, n);
	} else if (!strcmp(w[0], "watch")) {
		add_watch(c, file, line, w, n);
	} else if (!strcmp(w[0], "include")) {
		do_include(c, file, line, s, w, n);
	} else {
		conf_error(c, file, line, "unknown statement '%s'",
			   token_quote(w[0], q, sizeof(q)));
	}
out:
	free(w);
}

static void conf_file(struct conf *c, const char *name, struct src *up,
		      size_t up_line)
{
	const char *shown = strcmp(name, "-") ? name : "<stdin>";
	struct src s = { .name = name, .up = up, .depth = up ? up->depth + 1 : 0 };
	char *buf, *line, *next, *hash, *p;
	size_t len, lineno = 0;
	struct src *a;

	if (s.depth > CONF_INCLUDE_DEPTH) {
		conf_error(c, up->name, up_line, "includes nested deeper than %d",
			   CONF_INCLUDE_DEPTH);
		return;
	}
	if (strcmp(name, "-") && realpath(name, s.real)) {
		for (a = up; a; a = a->up) {
			if (!strcmp(a->real, s.real)) {
				conf_error(c, up->name, up_line,
					   "include loop: '%s' includes itself",
					   name);
				return;
			}
		}
	}
	buf = slurp(c, name, up ? up->name : NULL, up_line, &len);
	if (!buf)
		return;
	for (line = buf; line < buf + len; line = next) {
		next = memchr(line, '\n', (size_t)(buf + len - line));
		next = next ? next + 1 : buf + len;
		lineno++;
		if (memchr(line, '\0', (size_t)(next - line))) {
			conf_error(c, shown, lineno, "a NUL byte: not a text file");
			break;
		}
		if (next[-1] == '\n')
			next[-1] = '\0';
		else
			*next = '\0';	/* the last line, unterminated */
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		for (p = line; *p; p++) {
			if ((unsigned char)*p < 0x20 && !is_space(*p)) {
				conf_error(c, shown, lineno,
					   "control character \\x%02x", (unsigned char)*p);
				break;
			}
			if ((unsigned char)*p == 0x7f || (unsigned char)*p >= 0x80) {
				conf_error(c, shown, lineno,
					   "byte \\x%02x: statements are ASCII",
					   (unsigned char)*p);
				break;
			}
		}
		if (*p)
			continue;
		statement(c, shown, lineno, &s, line);
	}
	free(buf);
}

/* Prefixes once each: a prefix both allowed and denied is an error. */
static int rule_cmp(const void *va, const void *vb)
{
	const struct conf_rule *a = va, *b = vb;

	if (a->table != b->table)
		return a->table < b->table ? -1 : 1;
	return memcmp(&a->p, &b->p, sizeof(a->p));
}

static void rules_settle(struct conf *c)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i, n = 0;

	if (!c->nrules)
		return;
	/* stable for the reports: the first statement is the one named */
	qsort(c->rules, c->nrules, sizeof(*c->rules), rule_cmp);
	for (i = 1; i < c->nrules; i++) {
		struct conf_rule *k = &c->rules[n], *r = &c->rules[i];

		if (rule_cmp(k, r)) {
			c->rules[++n] = *r;
			continue;
		}
		if (k->verdict != r->verdict) {
			/* the later statement is the one that conflicts */
			if (r->file == k->file && r->line < k->line) {
				const struct conf_rule *t = k;

				k = r;
				r = (struct conf_rule *)t;
			}
			prefix_format(&r->p, buf, sizeof(buf));
			conf_error(c, r->file, r->line,
				   "%s %s %s: also %s at %s:%zu",
				   verdict_name(r->verdict), table_name(r->table), buf,
				   k->verdict == OP25B_V_DENY ? "denied" : "allowed",
				   k->file, k->line);
		}
	}
	c->nrules = n + 1;
}

int conf_load(const char *path, struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->action = OP25B_ACT_DROP;
	c->ports[OP25B_DEFAULT_PORT / 64] = 1ULL << (OP25B_DEFAULT_PORT % 64);
	conf_file(c, intern(c, path), NULL, 0);
	rules_settle(c);
	return c->errors ? EXIT_USAGE : EXIT_OK;
}

void conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nnames; i++)
		free(c->names[i]);
	free(c->names);
	free(c->rules);
	free(c->att);
	free(c->watch);
	free(c->idents);
	memset(c, 0, sizeof(*c));
}
