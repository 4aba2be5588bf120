// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy tables: deny/allow/del/flush/list/test over subscriber and
 * relay, each an IPv4 and an IPv6 LPM trie.
 *
 * An LPM trie lookup answers the longest match, not "is this exact prefix
 * stored": exact questions go through BPF_NOEXIST/BPF_EXIST updates, exact
 * deletes, or a walk of the keys.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "op25bctl.h"

enum table {
	T_SUBSCRIBER,
	T_RELAY,
	T_COUNT,
};

static const char *const table_names[T_COUNT] = {
	[T_SUBSCRIBER]	= "subscriber",
	[T_RELAY]	= "relay",
};

/* Map index [0] is IPv4, [1] is IPv6 (struct op25b_maps). */
static const int fam_of[2] = { AF_INET, AF_INET6 };

static int fam_idx(int family)
{
	return family == AF_INET6;
}

union table_key {
	struct op25b_key4 k4;
	struct op25b_key6 k6;
};

static const char *verdict_name(__u32 v)
{
	switch (v) {
	case OP25B_V_ALLOW:
		return "allow";
	case OP25B_V_DENY:
		return "deny";
	default:
		return "none";
	}
}

static int table_fd(const struct op25b_maps *m, enum table t, int fi)
{
	return t == T_SUBSCRIBER ? m->sub[fi] : m->relay[fi];
}

static void key_from_prefix(const struct prefix *p, union table_key *k)
{
	memset(k, 0, sizeof(*k));
	if (p->family == AF_INET) {
		k->k4.prefixlen = p->len;
		memcpy(k->k4.addr, p->addr, sizeof(k->k4.addr));
	} else {
		k->k6.prefixlen = p->len;
		memcpy(k->k6.addr, p->addr, sizeof(k->k6.addr));
	}
}

static void prefix_from_key(int fi, const union table_key *k, struct prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = fam_of[fi];
	if (fi == 0) {
		p->len = k->k4.prefixlen;
		memcpy(p->addr, k->k4.addr, sizeof(k->k4.addr));
	} else {
		p->len = k->k6.prefixlen;
		memcpy(p->addr, k->k6.addr, sizeof(k->k6.addr));
	}
}

/* The order of 'list': family, then address, then length. */
static int prefix_order(const void *va, const void *vb)
{
	const struct prefix *a = va, *b = vb;
	int d;

	if (a->family != b->family)
		return fam_idx(a->family) - fam_idx(b->family);
	d = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (d)
		return d;
	return (a->len > b->len) - (a->len < b->len);
}

/* Every key of one trie, sorted by prefix_order. *out is malloc'd. */
static int table_keys(int fd, int fi, const char *what, struct prefix **out,
		      size_t *n)
{
	union table_key cur, next;
	struct prefix *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	int err;

	for (err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &cur, &next)) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				p_err("out of memory");
				return EXIT_RUNTIME;
			}
			v = nv;
		}
		prefix_from_key(fi, &next, &v[cnt++]);
		cur = next;
	}
	if (err != -ENOENT) {
		free(v);
		p_err("cannot walk the %s table: %s", what, strerror(-err));
		return EXIT_RUNTIME;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), prefix_order);
	*out = v;
	*n = cnt;
	return EXIT_OK;
}

/* The exact entry for p; only valid when p is known to be stored. */
static int rule_get(int fd, const struct prefix *p, struct op25b_rule *r)
{
	union table_key k;

	key_from_prefix(p, &k);
	return bpf_map_lookup_elem(fd, &k, r);
}

static int parse_table(const char *verb, const char *s, enum table *t)
{
	int i;

	for (i = 0; i < T_COUNT; i++) {
		if (!strcmp(s, table_names[i])) {
			*t = i;
			return EXIT_OK;
		}
	}
	p_err("%s: unknown table '%s' (subscriber or relay)", verb, s);
	return EXIT_USAGE;
}

static bool is_help(const char *s)
{
	return !strcmp(s, "-h") || !strcmp(s, "--help");
}

/* "-5" is a bad number, not an unknown option. */
static bool is_option(const char *s)
{
	return s[0] == '-' && s[1] && !(s[1] >= '0' && s[1] <= '9');
}

/* ---- deny, allow, del ---- */

struct table_args {
	enum table table;
	const char *file;
	int npos;
	char **pos;		/* the prefixes given on the command line */
	char **buf;		/* what pos points into; freed by the caller */
	bool help;
};

/*
 * VERB subscriber|relay [PREFIX...] [-f FILE|-]: options may come anywhere,
 * '--' ends them.
 */
static int table_args_parse(const char *verb, const char *usage, int argc,
			    char **argv, struct table_args *a)
{
	bool opts = true;
	int i, err;

	memset(a, 0, sizeof(*a));
	a->buf = calloc(argc + 1, sizeof(*a->buf));
	a->pos = a->buf;
	if (!a->buf) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	for (i = 0; i < argc && strcmp(argv[i], "--"); i++) {
		if (is_help(argv[i])) {
			fputs(usage, stdout);
			a->help = true;
			return EXIT_OK;
		}
	}
	for (i = 0; i < argc; i++) {
		if (opts && !strcmp(argv[i], "--")) {
			opts = false;
		} else if (opts && (!strcmp(argv[i], "-f") ||
				    !strcmp(argv[i], "--file"))) {
			if (a->file) {
				p_err("%s: -f given twice", verb);
				return EXIT_USAGE;
			}
			if (i + 1 >= argc) {
				p_err("%s: %s needs a FILE (or - for stdin)",
				      verb, argv[i]);
				return EXIT_USAGE;
			}
			a->file = argv[++i];
		} else if (opts && is_option(argv[i])) {
			p_err("%s: unknown option '%s'", verb, argv[i]);
			return EXIT_USAGE;
		} else {
			a->pos[a->npos++] = argv[i];
		}
	}
	if (!a->npos) {
		p_err("%s: missing table (subscriber or relay)", verb);
		return EXIT_USAGE;
	}
	err = parse_table(verb, a->pos[0], &a->table);
	if (err)
		return err;
	a->pos++;
	a->npos--;
	return EXIT_OK;
}

static int map_max_entries(int fd, __u32 *max)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		return err;
	*max = info.max_entries;
	return 0;
}

/* Refuse up front what would not fit, so nothing is half applied. */
static int capacity_check(const struct op25b_maps *m, enum table t,
			  const struct prefix *v, size_t n)
{
	struct prefix *keys;
	size_t i, nkeys, want[2] = {};
	__u32 max;
	int fi, err;

	for (i = 0; i < n; i++)
		want[fam_idx(v[i].family)]++;
	for (fi = 0; fi < 2; fi++) {
		if (!want[fi])
			continue;
		err = table_keys(table_fd(m, t, fi), fi, table_names[t], &keys,
				 &nkeys);
		if (err)
			return err;
		want[fi] = 0;
		for (i = 0; i < n; i++)
			if (fam_idx(v[i].family) == fi &&
			    !bsearch(&v[i], keys, nkeys, sizeof(*keys),
				     prefix_order))
				want[fi]++;
		free(keys);
		err = map_max_entries(table_fd(m, t, fi), &max);
		if (err) {
			p_err("cannot read the %s table's size: %s",
			      table_names[t], strerror(-err));
			return EXIT_RUNTIME;
		}
		if (nkeys + want[fi] > max) {
			p_err("%s table full: IPv%d holds %zu of %u entries, %zu more needed",
			      table_names[t], fi ? 6 : 4, nkeys, max, want[fi]);
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}

enum change {
	CH_NONE,
	CH_ADDED,
	CH_CHANGED,
	CH_UNCHANGED,
};

/* Set p's verdict; an existing entry keeps its hit counter. */
static int rule_set(int fd, const struct prefix *p, __u32 verdict,
		    enum change *ch, __u32 *old)
{
	struct op25b_rule r = { .verdict = verdict };
	union table_key k;
	int err;

	key_from_prefix(p, &k);
	err = bpf_map_update_elem(fd, &k, &r, BPF_NOEXIST);
	if (!err) {
		*ch = CH_ADDED;
		return 0;
	}
	if (err != -EEXIST)
		return err;
	/* It exists, so the longest match for p's own key is p itself. */
	err = bpf_map_lookup_elem(fd, &k, &r);
	if (err)
		return err;
	*old = r.verdict;
	if (r.verdict == verdict) {
		*ch = CH_UNCHANGED;
		return 0;
	}
	r.verdict = verdict;
	err = bpf_map_update_elem(fd, &k, &r, BPF_EXIST);
	if (err)
		return err;
	*ch = CH_CHANGED;
	return 0;
}

/* Best effort: put back what a failed deny/allow had already changed. */
static void rules_undo(const struct op25b_maps *m, enum table t,
		       const struct prefix *v, const enum change *ch,
		       const __u32 *old, size_t n)
{
	struct op25b_rule r;
	union table_key k;
	size_t i;
	int fd;

	for (i = n; i-- > 0;) {
		fd = table_fd(m, t, fam_idx(v[i].family));
		key_from_prefix(&v[i], &k);
		if (ch[i] == CH_ADDED) {
			bpf_map_delete_elem(fd, &k);
		} else if (ch[i] == CH_CHANGED &&
			   !bpf_map_lookup_elem(fd, &k, &r)) {
			r.verdict = old[i];
			bpf_map_update_elem(fd, &k, &r, BPF_EXIST);
		}
	}
}

static int rules_apply(const struct op25b_maps *m, enum table t, __u32 verdict,
		       const struct prefix *v, size_t n)
{
	size_t i, cnt[CH_UNCHANGED + 1] = {};
	char buf[INET6_ADDRSTRLEN + 8];
	enum change *ch;
	__u32 *old;
	int err = 0;

	ch = calloc(n, sizeof(*ch));
	old = calloc(n, sizeof(*old));
	if (!ch || !old) {
		free(ch);
		free(old);
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	for (i = 0; i < n; i++) {
		err = rule_set(table_fd(m, t, fam_idx(v[i].family)), &v[i],
			       verdict, &ch[i], &old[i]);
		prefix_format(&v[i], buf, sizeof(buf));
		if (err)
			break;
		cnt[ch[i]]++;
		p_debug("%s %s %s: %s", verdict_name(verdict), table_names[t],
			buf, ch[i] == CH_ADDED ? "added" :
			ch[i] == CH_CHANGED ? "changed" : "unchanged");
	}
	if (err) {
		rules_undo(m, t, v, ch, old, i);
		if (err == -E2BIG || err == -ENOSPC)
			p_err("%s table full at %s; nothing was changed",
			      table_names[t], buf);
		else
			p_err("cannot set %s %s %s: %s; nothing was changed",
			      verdict_name(verdict), table_names[t], buf,
			      strerror(-err));
	} else {
		p_info("%zu/%zu prefixes added, %zu changed, %zu unchanged",
		       cnt[CH_ADDED], n, cnt[CH_CHANGED], cnt[CH_UNCHANGED]);
	}
	free(ch);
	free(old);
	return err ? EXIT_RUNTIME : EXIT_OK;
}

static int rules_delete(const struct op25b_maps *m, enum table t,
			const struct prefix *v, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 8];
	union table_key k;
	size_t i, done = 0;
	int err;

	for (i = 0; i < n; i++) {
		key_from_prefix(&v[i], &k);
		prefix_format(&v[i], buf, sizeof(buf));
		/* An LPM trie deletes exact prefixes only. */
		err = bpf_map_delete_elem(table_fd(m, t, fam_idx(v[i].family)),
					  &k);
		if (err == -ENOENT) {
			p_debug("del %s %s: not present", table_names[t], buf);
			continue;
		}
		if (err) {
			p_err("cannot delete %s %s: %s (%zu/%zu deleted)",
			      table_names[t], buf, strerror(-err), done, n);
			return EXIT_RUNTIME;
		}
		p_debug("del %s %s: deleted", table_names[t], buf);
		done++;
	}
	p_info("%zu/%zu prefixes deleted", done, n);
	return EXIT_OK;
}

/* Shared by deny, allow (verdict) and del (OP25B_V_NONE). */
static int table_change(const char *verb, const char *usage, __u32 verdict,
			int argc, char **argv)
{
	struct op25b_maps m;
	struct table_args a;
	struct prefix *v = NULL;
	size_t n = 0;
	int err;

	err = table_args_parse(verb, usage, argc, argv, &a);
	if (err || a.help)
		goto out_args;
	err = prefixes_collect(a.npos, a.pos, a.file, &v, &n);
	if (err)
		goto out_args;

	err = pin_dir_prepare(true);
	if (err)
		goto out;
	err = pin_lock();
	if (err)
		goto out;
	err = maps_open(&m, true);
	if (err)
		goto out;
	if (verdict == OP25B_V_NONE) {
		err = rules_delete(&m, a.table, v, n);
	} else {
		err = capacity_check(&m, a.table, v, n);
		if (!err)
			err = rules_apply(&m, a.table, verdict, v, n);
	}
	maps_close(&m);
out:
	free(v);
out_args:
	free(a.buf);
	return err;
}

static const char deny_usage[] =
	"Usage: op25bctl deny subscriber|relay PREFIX... [-f FILE|-]\n"
	"\n"
	"Give each prefix the verdict deny: in subscriber, its outbound SMTP\n"
	"is blocked; in relay, it is carved out of an allowed relay range.\n"
	"An existing entry keeps its hit counter. -f reads prefixes from FILE\n"
	"('-' is stdin), several per line, '#' starts a comment. Every prefix\n"
	"is checked before anything is changed.\n";

static const char allow_usage[] =
	"Usage: op25bctl allow subscriber|relay PREFIX... [-f FILE|-]\n"
	"\n"
	"Give each prefix the verdict allow: in subscriber, an exemption\n"
	"inside a denied range; in relay, a relay that stays reachable.\n"
	"An existing entry keeps its hit counter. -f reads prefixes from FILE\n"
	"('-' is stdin), several per line, '#' starts a comment. Every prefix\n"
	"is checked before anything is changed.\n";

static const char del_usage[] =
	"Usage: op25bctl del subscriber|relay PREFIX... [-f FILE|-]\n"
	"\n"
	"Delete the entries for exactly these prefixes (absent ones are\n"
	"skipped). -f reads prefixes from FILE ('-' is stdin).\n";

int do_deny(int argc, char **argv)
{
	return table_change("deny", deny_usage, OP25B_V_DENY, argc, argv);
}

int do_allow(int argc, char **argv)
{
	return table_change("allow", allow_usage, OP25B_V_ALLOW, argc, argv);
}

int do_del(int argc, char **argv)
{
	return table_change("del", del_usage, OP25B_V_NONE, argc, argv);
}

/* ---- flush ---- */

static const char flush_usage[] =
	"Usage: op25bctl flush subscriber|relay\n"
	"\n"
	"Delete every IPv4 and IPv6 entry of the table.\n";

/*
 * Argument checks shared by flush, list and test: help, no options, and
 * between min and max arguments; need[i] names argument i when missing.
 */
static int args_check(const char *verb, const char *usage, int argc,
		      char **argv, int min, int max, const char *const *need,
		      bool *help)
{
	int i;

	*help = false;
	for (i = 0; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(usage, stdout);
			*help = true;
			return EXIT_OK;
		}
	}
	for (i = 0; i < argc; i++) {
		if (is_option(argv[i])) {
			p_err("%s: unknown option '%s'", verb, argv[i]);
			return EXIT_USAGE;
		}
	}
	if (argc < min) {
		p_err("%s: missing %s", verb, need[argc]);
		return EXIT_USAGE;
	}
	if (argc > max) {
		p_err("%s: unexpected argument '%s'", verb, argv[max]);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int table_flush(int fd, int fi, const char *what, size_t *done)
{
	union table_key k;
	int err;

	/* Deleting while walking: always take the first key left. */
	while (!(err = bpf_map_get_next_key(fd, NULL, &k))) {
		err = bpf_map_delete_elem(fd, &k);
		if (err && err != -ENOENT)
			break;
		if (!err)
			(*done)++;
	}
	if (err == -ENOENT)
		return EXIT_OK;
	p_err("cannot flush the %s table (IPv%d): %s (%zu deleted)", what,
	      fi ? 6 : 4, strerror(-err), *done);
	return EXIT_RUNTIME;
}

int do_flush(int argc, char **argv)
{
	static const char *const need[] = { "table (subscriber or relay)" };
	struct op25b_maps m;
	size_t done = 0;
	enum table t;
	bool help;
	int err, fi;

	err = args_check("flush", flush_usage, argc, argv, 1, 1, need, &help);
	if (err || help)
		return err;
	err = parse_table("flush", argv[0], &t);
	if (err)
		return err;

	err = pin_dir_prepare(true);
	if (err)
		return err;
	err = pin_lock();
	if (err)
		return err;
	err = maps_open(&m, true);
	if (err)
		return err;
	for (fi = 0; fi < 2 && !err; fi++)
		err = table_flush(table_fd(&m, t, fi), fi, table_names[t],
				  &done);
	maps_close(&m);
	if (!err)
		p_info("%zu prefixes flushed", done);
	return err;
}

/* ---- list ---- */

static const char list_usage[] =
	"Usage: op25bctl list [subscriber|relay]\n"
	"\n"
	"Every entry of the table (of both when none is named): prefix,\n"
	"verdict and hit counter, IPv4 before IPv6, by address then length.\n";

struct entry {
	enum table table;
	struct prefix p;
	struct op25b_rule r;
};

/* Append the entries of table t, both families, in list order. */
static int entries_read(const struct op25b_maps *m, enum table t,
			struct entry **v, size_t *n)
{
	struct prefix *keys;
	struct entry *nv;
	size_t i, nkeys;
	int fi, err;

	for (fi = 0; fi < 2; fi++) {
		err = table_keys(table_fd(m, t, fi), fi, table_names[t], &keys,
				 &nkeys);
		if (err)
			return err;
		nv = nkeys ? realloc(*v, (*n + nkeys) * sizeof(**v)) : *v;
		if (nkeys && !nv) {
			free(keys);
			p_err("out of memory");
			return EXIT_RUNTIME;
		}
		*v = nv;
		for (i = 0; i < nkeys; i++) {
			/* Deleted since the walk: leave it out. */
			if (rule_get(table_fd(m, t, fi), &keys[i],
				     &nv[*n].r))
				continue;
			nv[*n].table = t;
			nv[*n].p = keys[i];
			(*n)++;
		}
		free(keys);
	}
	return EXIT_OK;
}

static void entries_print(const struct entry *v, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 8], ptab[32], ppfx[32], pver[32], phits[32];
	size_t i, wpfx = strlen("PREFIX"), whits = strlen("HITS"), w;

	for (i = 0; i < n; i++) {
		prefix_format(&v[i].p, buf, sizeof(buf));
		w = strlen(buf);
		if (w > wpfx)
			wpfx = w;
		w = (size_t)snprintf(NULL, 0, "%llu",
				     (unsigned long long)v[i].r.hits);
		if (w > whits)
			whits = w;
	}
	snprintf(ptab, sizeof(ptab), "%%-%zus  ", strlen("subscriber"));
	snprintf(ppfx, sizeof(ppfx), "%%-%zus  ", wpfx);
	snprintf(pver, sizeof(pver), "%%-%zus  ", strlen("verdict"));
	snprintf(phits, sizeof(phits), "%%%zullu", whits);

	if (n) {
		print_string(PRINT_FP, NULL, ptab, "TABLE");
		print_string(PRINT_FP, NULL, ppfx, "PREFIX");
		print_string(PRINT_FP, NULL, pver, "VERDICT");
		snprintf(buf, sizeof(buf), "%%%zus", whits);
		print_string(PRINT_FP, NULL, buf, "HITS");
		print_nl();
	}
	open_json_array(NULL);
	for (i = 0; i < n; i++) {
		open_json_object(NULL);
		print_string(PRINT_ANY, "table", ptab, table_names[v[i].table]);
		prefix_format(&v[i].p, buf, sizeof(buf));
		print_string(PRINT_ANY, "prefix", ppfx, buf);
		print_string(PRINT_ANY, "verdict", pver,
			     verdict_name(v[i].r.verdict));
		print_uint(PRINT_ANY, "hits", phits, v[i].r.hits);
		close_json_object();
		print_nl();
	}
	close_json_array();
	output_end();
}

int do_list(int argc, char **argv)
{
	struct op25b_maps m;
	struct entry *v = NULL;
	size_t n = 0;
	int err, t, first = 0, last = T_COUNT - 1;
	enum table only;
	bool help;

	err = args_check("list", list_usage, argc, argv, 0, 1, NULL, &help);
	if (err || help)
		return err;
	if (argc) {
		err = parse_table("list", argv[0], &only);
		if (err)
			return err;
		first = last = only;
	}

	err = maps_open(&m, false);
	if (err)
		return err;
	for (t = first; t <= last && !err; t++)
		err = entries_read(&m, t, &v, &n);
	maps_close(&m);
	if (!err)
		entries_print(v, n);
	free(v);
	return err;
}

/* ---- test ---- */

static const char test_usage[] =
	"Usage: op25bctl test SRC DST [PORT]\n"
	"\n"
	"What the datapath decides for a TCP segment from SRC to DST:PORT\n"
	"(PORT 1-65535, default 25), and the rules that decided it. Exit\n"
	"status 3 when the policy blocks it (even with action monitor, which\n"
	"lets it pass and counts it), 0 when it passes.\n";

struct match {
	bool found;
	struct prefix p;
	__u32 verdict;
};

/* The longest prefix of the trie covering addr: what the datapath finds. */
static int match_best(int fd, int fi, const char *what, const __u8 *addr,
		      struct match *mt)
{
	struct op25b_rule r;
	struct prefix *keys;
	size_t i, nkeys;
	int err;

	memset(mt, 0, sizeof(*mt));
	err = table_keys(fd, fi, what, &keys, &nkeys);
	if (err)
		return err;
	for (i = 0; i < nkeys; i++) {
		if (prefix_contains(&keys[i], addr) &&
		    (!mt->found || keys[i].len > mt->p.len)) {
			mt->found = true;
			mt->p = keys[i];
		}
	}
	free(keys);
	if (mt->found && !rule_get(fd, &mt->p, &r))
		mt->verdict = r.verdict;
	else
		mt->found = false;
	return EXIT_OK;
}

static int addr_parse(const char *s, int *family, __u8 *addr)
{
	if (inet_pton(AF_INET, s, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, s, addr) == 1)
		*family = AF_INET6;
	else
		return -1;
	return 0;
}


static void print_rule(const char *key, const struct match *mt)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (!mt->found) {
		print_null(PRINT_JSON, key, NULL);
		return;
	}
	prefix_format(&mt->p, buf, sizeof(buf));
	open_json_object(key);
	print_string(PRINT_JSON, "prefix", NULL, buf);
	print_string(PRINT_JSON, "verdict", NULL, verdict_name(mt->verdict));
	close_json_object();
}

int do_test(int argc, char **argv)
{
	static const char *const need[] = { "SRC address", "DST address" };
	char reason[256], sp[INET6_ADDRSTRLEN + 8], rp[INET6_ADDRSTRLEN + 8];
	char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	__u8 src[16] = {}, dst[16] = {};
	struct op25b_config cfg;
	struct match sub, relay;
	struct op25b_maps m;
	int err, sfam, dfam, fi;
	__u32 port = OP25B_DEFAULT_PORT;
	bool help, blocked = false;

	err = args_check("test", test_usage, argc, argv, 2, 3, need, &help);
	if (err || help)
		return err;
	if (addr_parse(argv[0], &sfam, src)) {
		p_err("bad address '%s': not an IPv4 or IPv6 address", argv[0]);
		return EXIT_USAGE;
	}
	if (addr_parse(argv[1], &dfam, dst)) {
		p_err("bad address '%s': not an IPv4 or IPv6 address", argv[1]);
		return EXIT_USAGE;
	}
	if (sfam != dfam) {
		p_err("test: SRC '%s' and DST '%s' are not of the same family",
		      argv[0], argv[1]);
		return EXIT_USAGE;
	}
	if (argc > 2 && port_parse(argv[2], &port)) {
		p_err("bad port '%s': must be a number 1-%d", argv[2], OP25B_PORT_MAX);
		return EXIT_USAGE;
	}

	err = maps_open(&m, false);
	if (err)
		return err;
	fi = fam_idx(sfam);
	err = config_read(m.config, &cfg);
	if (!err)
		err = match_best(m.sub[fi], fi, "subscriber", src, &sub);
	if (!err)
		err = match_best(m.relay[fi], fi, "relay", dst, &relay);
	maps_close(&m);
	if (err)
		return err;

	inet_ntop(sfam, src, sa, sizeof(sa));
	inet_ntop(dfam, dst, da, sizeof(da));
	prefix_format(&sub.p, sp, sizeof(sp));
	prefix_format(&relay.p, rp, sizeof(rp));
	/* The order of the datapath's judge(). */
	if (!config_port_blocked(&cfg, port)) {
		snprintf(reason, sizeof(reason), "port %u is not blocked", port);
	} else if (!sub.found || sub.verdict != OP25B_V_DENY) {
		if (sub.found && sub.verdict == OP25B_V_ALLOW)
			snprintf(reason, sizeof(reason),
				 "exempt by subscriber allow %s", sp);
		else
			snprintf(reason, sizeof(reason), "not a subscriber");
	} else if (relay.found && relay.verdict == OP25B_V_ALLOW) {
		snprintf(reason, sizeof(reason), "relay allow %s", rp);
	} else {
		blocked = true;
		if (relay.found)
			snprintf(reason, sizeof(reason),
				 "subscriber deny %s, relay %s %s", sp,
				 verdict_name(relay.verdict), rp);
		else
			snprintf(reason, sizeof(reason), "subscriber deny %s",
				 sp);
	}

	open_json_object(NULL);
	print_string(PRINT_ANY, "verdict", "%s ", blocked ? "blocked" : "pass");
	print_string(PRINT_ANY, "src", "%s -> ", sa);
	print_string(PRINT_ANY, "dst", "%s ", da);
	print_uint(PRINT_ANY, "port", "port %llu: ", port);
	print_string(PRINT_ANY, "reason", "%s", reason);
	print_rule("subscriber_rule", &sub);
	print_rule("relay_rule", &relay);
	if (blocked && cfg.action == OP25B_ACT_MONITOR)
		print_string(PRINT_ANY, "action",
			     " (action %s: passes, counted as monitored)",
			     action_name(cfg.action));
	else
		print_string(blocked ? PRINT_ANY : PRINT_JSON, "action",
			     " (action %s)", action_name(cfg.action));
	close_json_object();
	print_nl();
	output_end();
	return blocked ? EXIT_BLOCKED : EXIT_OK;
}
