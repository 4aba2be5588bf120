// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Prefixes: parsing that tells the operator what is wrong with the input,
 * and prefix lists gathered from the command line and from files.
 */
#include <endian.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "op25bctl.h"

/* Longest prefix length accepted: "/" plus more digits than 128 needs. */
#define PREFIX_LEN_DIGITS	3

static __u32 family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static int why_set(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

static int len_parse(const char *s, __u32 max, __u32 *len)
{
	__u64 v;

	if (strlen(s) > PREFIX_LEN_DIGITS ||
	    number_parse(s, strlen(s), 0, max, &v))
		return -1;
	*len = (__u32)v;
	return 0;
}

static void host_bits_clear(struct prefix *p)
{
	__u32 i, bit;

	for (i = 0; i < family_bits(p->family) / 8; i++) {
		bit = i * 8;
		if (bit >= p->len)
			p->addr[i] = 0;
		else if (p->len - bit < 8)
			p->addr[i] &= (__u8)(0xff << (8 - (p->len - bit)));
	}
}

int prefix_parse(const char *s, struct prefix *p, char *why, size_t whylen)
{
	char addr[INET6_ADDRSTRLEN];
	struct prefix net;
	const char *slash;
	char buf[INET6_ADDRSTRLEN + 8];
	size_t alen;

	memset(p, 0, sizeof(*p));
	if (!*s)
		return why_set(why, whylen, "empty prefix");

	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen >= sizeof(addr))
		return why_set(why, whylen, "not an IPv4 or IPv6 address");
	memcpy(addr, s, alen);
	addr[alen] = '\0';

	if (inet_pton(AF_INET, addr, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, p->addr) == 1)
		p->family = AF_INET6;
	else
		return why_set(why, whylen, "not an IPv4 or IPv6 address");

	/* ::ffff:a.b.c.d never reaches the IPv6 table as such: refuse it */
	if (p->family == AF_INET6 && !memcmp(p->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12))
		return why_set(why, whylen,
			       "an IPv4-mapped IPv6 address: write the IPv4 address (%u.%u.%u.%u)",
			       p->addr[12], p->addr[13], p->addr[14], p->addr[15]);
	p->len = family_bits(p->family);
	if (slash && len_parse(slash + 1, family_bits(p->family), &p->len))
		return why_set(why, whylen, "prefix length must be 0-%u",
			       family_bits(p->family));

	net = *p;
	host_bits_clear(&net);
	if (memcmp(net.addr, p->addr, sizeof(p->addr))) {
		prefix_format(&net, buf, sizeof(buf));
		return why_set(why, whylen, "host bits set (did you mean %s?)",
			       buf);
	}
	return 0;
}

void prefix_format(const struct prefix *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family, p->addr, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "?");
	snprintf(buf, len, "%s/%u", addr, p->len);
}

int prefix_cmp(const struct prefix *a, const struct prefix *b)
{
	int d;

	if (a->family != b->family)
		return (a->family == AF_INET6) - (b->family == AF_INET6);
	d = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (d)
		return d;
	return (a->len > b->len) - (a->len < b->len);
}

bool prefix_contains(const struct prefix *p, const __u8 *addr)
{
	__u32 full = p->len / 8, rest = p->len % 8;
	__u8 mask;

	if (memcmp(p->addr, addr, full))
		return false;
	if (!rest)
		return true;
	mask = (__u8)(0xff << (8 - rest));
	return !((p->addr[full] ^ addr[full]) & mask);
}

struct prefix_list {
	struct prefix *v;
	size_t n;
	size_t cap;
};

static int list_add(struct prefix_list *l, const struct prefix *p)
{
	struct prefix *v;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 64;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			p_err("out of memory");
			return EXIT_RUNTIME;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *p;
	return EXIT_OK;
}

/* where is NULL for the command line, "FILE:LINE" for file input. */
/* A word of the command line (file NULL) or of file's line lineno. */
static int list_add_token(struct prefix_list *l, const char *tok,
			  const char *file, size_t lineno)
{
	struct prefix p;
	char why[128], q[TOKEN_QUOTE_LEN];

	if (prefix_parse(tok, &p, why, sizeof(why))) {
		token_quote(tok, q, sizeof(q));
		if (file)
			p_err("%s:%zu: bad prefix '%s': %s", file, lineno, q,
			      why);
		else
			p_err("bad prefix '%s': %s", q, why);
		return EXIT_USAGE;
	}
	return list_add(l, &p);
}

static int list_add_file(struct prefix_list *l, const char *file)
{
	static const char delim[] = " \t\r\n\v\f";
	const char *name = strcmp(file, "-") ? file : "<stdin>";
	char *line = NULL, *tok, *save, *hash, why[128];
	char q[TOKEN_QUOTE_LEN];
	FILE *f = strcmp(file, "-") ? input_open(file, why, sizeof(why)) : stdin;
	size_t cap = 0, lineno = 0;
	int err = EXIT_OK;
	ssize_t got;

	if (!f) {
		p_err("cannot open '%s': %s", token_quote(file, q, sizeof(q)), why);
		return EXIT_USAGE;
	}
	errno = 0;
	while (!err && (got = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (strlen(line) != (size_t)got) {
			p_err("%s:%zu: a NUL byte: not a text file", name, lineno);
			err = EXIT_USAGE;
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		for (tok = strtok_r(line, delim, &save); tok && !err;
		     tok = strtok_r(NULL, delim, &save))
			err = list_add_token(l, tok, name, lineno);
		errno = 0;
	}
	if (!err && ferror(f)) {
		p_err("cannot read '%s': %s", name, strerror(errno ? errno : EIO));
		err = EXIT_USAGE;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return err;
}

/*
 * Duplicates together, and the rest in address order within a family and
 * length, so that the engine meets neighbours one after the other: the
 * address compared as two big-endian words, not byte by byte.
 */
static int prefix_bytes_cmp(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;
	__u64 xw, yw;
	int i;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	for (i = 0; i < 16; i += 8) {
		memcpy(&xw, x->addr + i, 8);
		memcpy(&yw, y->addr + i, 8);
		if (xw != yw)
			return be64toh(xw) < be64toh(yw) ?
				       -1 : 1;
	}
	return 0;
}

static void list_dedup(struct prefix_list *l)
{
	size_t i, n = 0;

	if (!l->n)
		return;
	qsort(l->v, l->n, sizeof(*l->v), prefix_bytes_cmp);
	for (i = 1; i < l->n; i++)
		if (prefix_bytes_cmp(&l->v[n], &l->v[i]))
			l->v[++n] = l->v[i];
	l->n = n + 1;
}

int prefixes_collect(int argc, char **argv, const char *file,
		     struct prefix **out, size_t *n)
{
	struct prefix_list l = {};
	int i, err = EXIT_OK;

	for (i = 0; i < argc && !err; i++)
		err = list_add_token(&l, argv[i], NULL, 0);
	if (!err && file)
		err = list_add_file(&l, file);
	if (!err && !l.n) {
		if (file)
			p_err("no prefix in '%s'", strcmp(file, "-") ? file :
							    "<stdin>");
		else
			p_err("no prefix given");
		err = EXIT_USAGE;
	}
	if (err) {
		free(l.v);
		*out = NULL;
		*n = 0;
		return err;
	}
	list_dedup(&l);
	*out = l.v;
	*n = l.n;
	return EXIT_OK;
}

/*
 * An allow of a /0 turns blocking off for a whole family: in subscriber
 * every source is exempt, in relay every destination is a relay. Only
 * with --force, and said out loud.
 */
int allow_all_check(const char *table, const struct prefix *v, size_t n,
		    bool force, char *why, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].len)
			continue;
		prefix_format(&v[i], buf, sizeof(buf));
		if (!force) {
			p_say(why, len, "allow %s %s exempts every %s address from blocking: give --force to mean it",
			      table, buf, v[i].family == AF_INET ? "IPv4" : "IPv6");
			return EXIT_USAGE;
		}
		p_info("allow %s %s: no %s packet is blocked while it stands",
		       table, buf, v[i].family == AF_INET ? "IPv4" : "IPv6");
	}
	return EXIT_OK;
}
