// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy tables: deny/allow/del/flush/list/test over subscriber and
 * relay. Every change is one engine transaction: checked whole, published
 * as one snapshot or not at all. Readers read the live snapshot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "op25bctl.h"

/* The order of 'list': family, then address, then length. */
static int prefix_order(const void *va, const void *vb)
{
	return prefix_cmp(va, vb);
}

static int parse_table(const char *verb, const char *s, enum op25b_table *t)
{
	int i = table_parse(s);

	if (i < 0) {
		p_err("%s: unknown table '%s' (subscriber, relay, uid, gid or cgroup)",
		      verb, s);
		return EXIT_USAGE;
	}
	*t = (enum op25b_table)i;
	return EXIT_OK;
}

/* ---- deny, allow, del ---- */

struct table_args {
	enum op25b_table table;
	const char *file;
	int npos;
	char **pos;		/* the prefixes given on the command line */
	char **buf;		/* what pos points into; freed by the caller */
	bool force;		/* allow: a /0 that exempts everything */
};

enum { OPT_FILE = 1, OPT_FORCE };

#define TABLE_OPT_FILE							\
	{ .name = "--file", .short_name = 'f', .id = OPT_FILE,		\
	  .arg = "FILE|-", .what = "a FILE (or - for stdin)",		\
	  .help = "prefixes from FILE too ('-': stdin), several a line" }

/* --force is allow's alone: the others start one entry in */
static const struct opt change_opts[] = OPT_TABLE(
	TABLE_OPT_FILE,
);

static const struct opt allow_opts[] = OPT_TABLE(
	TABLE_OPT_FILE,
	{ .name = "--force", .id = OPT_FORCE,
	  .help = "allow 0.0.0.0/0 or ::/0 too: no blocking for that family" },
);

/*
 * VERB subscriber|relay [PREFIX...] [-f FILE|-]: options may come anywhere,
 * '--' ends them.
 */
static int table_args_parse(const char *verb, int argc, char **argv,
			    struct table_args *a)
{
	struct args w;
	const char *v;
	int id, err;

	memset(a, 0, sizeof(*a));
	a->buf = calloc(argc + 1, sizeof(*a->buf));
	a->pos = a->buf;
	if (!a->buf) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	w = (struct args)ARGS_POS(verb, argc, argv, (const char **)a->buf,
				  argc);
	while ((id = args_opt(&w, strcmp(verb, "allow") ? change_opts :
			      allow_opts, &v)) > 0) {
		if (id == OPT_FORCE) {
			a->force = true;
		} else if (a->file) {
			p_err("%s: -f given twice", verb);
			return EXIT_USAGE;
		} else {
			a->file = v;
		}
	}
	if (id)
		return EXIT_USAGE;
	a->npos = w.npos;
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

/* Every prefix into the draft; the caller publishes or drops it. */
static int rules_change(struct engine *e, enum op25b_table t, __u32 verdict,
			const struct prefix *v, size_t n, size_t cnt[5],
			__u8 *chg)
{
	char buf[INET6_ADDRSTRLEN + 8];
	enum engine_change ch;
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		/* an operator's edit: the file layer's, marked as made here */
		if (verdict == OP25B_V_NONE)
			err = engine_del(e, t, &v[i], &ch);
		else
			err = engine_set_owned(e, t, &v[i],
					       verdict, &owner_file,
					       OP25B_RF_RUNTIME, &ch);
		/* the prefix in words only for what is said of it */
		if (err || g.verbose)
			prefix_format(&v[i], buf, sizeof(buf));
		if (err) {
			p_err("cannot %s %s %s: %s; nothing was changed",
			      verdict == OP25B_V_NONE ? "delete" :
			      verdict_name(verdict), table_name(t), buf,
			      e->err);
			return EXIT_RUNTIME;
		}
		cnt[ch]++;
		chg[i] = (__u8)ch;
		p_debug("%s %s %s: %s", verdict == OP25B_V_NONE ? "del" :
			verdict_name(verdict), table_name(t), buf,
			change_name(ch));
	}
	return EXIT_OK;
}

/*
 * With -j, what each prefix was and what became of it, for scripts that
 * must later undo exactly their own change (the PPP session hooks):
 * "was" is the verdict the prefix held before, "none" when it was absent.
 */
static void changes_print(__u32 verdict, const struct prefix *v, size_t n,
			  const __u8 *chg, const __u8 *before)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *was;
	size_t i;

	open_json_array(NULL);
	for (i = 0; i < n; i++) {
		prefix_format(&v[i], buf, sizeof(buf));
		open_json_object(NULL);
		print_string(PRINT_JSON, "prefix", NULL, buf);
		print_string(PRINT_JSON, "change", NULL, change_name(chg[i]));
		/* two verdicts: a changed one was the other */
		if (verdict != OP25B_V_NONE) {
			was = chg[i] == ENGINE_ADDED ? "none" :
			      chg[i] == ENGINE_UNCHANGED ? verdict_name(verdict) :
			      verdict_name(verdict == OP25B_V_ALLOW ?
					   OP25B_V_DENY : OP25B_V_ALLOW);
			print_string(PRINT_JSON, "was", NULL, was);
		} else {
			/* a delete: what the file layer held, read before */
			print_string(PRINT_JSON, "was", NULL,
				     before[i] ? verdict_name(before[i]) : "none");
		}
		close_json_object();
	}
	output_list_end();
}

/*
 * For del -j: the verdict the file layer holds for each of v[0..n) in
 * table t before the change, 0 where it holds none (the index: O(1) each).
 */
static void verdicts_before(struct engine *e, enum op25b_table t,
			    const struct prefix *v, size_t n, __u8 *out)
{
	enum op25b_verdict vd;
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = engine_held(e, t, &v[i], &owner_file, &vd) ? (__u8)vd : 0;
}

/* Shared by deny, allow (verdict) and del (OP25B_V_NONE). */
static int table_change(const char *verb, __u32 verdict, int argc,
			char **argv)
{
	size_t n = 0, cnt[5] = {};
	struct op25b_maps m;
	struct table_args a;
	struct prefix *v = NULL;
	__u8 *chg = NULL;
	struct engine e;
	int err;

	/* uid, gid, cgroup: who may connect (ident.c) */
	if (argc && ident_kind_parse(argv[0]) >= 0)
		return ident_change(verb, verdict, argc, argv);
	err = table_args_parse(verb, argc, argv, &a);
	if (err)
		goto out_args;
	err = prefixes_collect(a.npos, a.pos, a.file, &v, &n);
	if (err)
		goto out_args;
	if (verdict == OP25B_V_ALLOW) {
		err = allow_all_check(table_name(a.table), v, n, a.force, NULL, 0);
		if (err)
			goto out;
	}

	chg = calloc(n ? 2 * n : 1, 1);
	if (!chg) {
		p_err("out of memory");
		err = EXIT_RUNTIME;
		goto out;
	}
	err = policy_open_write(&m, &e);
	if (err)
		goto out;
	/* chg[n..2n): what a delete found, for its "was" */
	if (verdict == OP25B_V_NONE && g.json)
		verdicts_before(&e, a.table, v, n, chg + n);
	err = rules_change(&e, a.table, verdict, v, n, cnt, chg);
	if (!err)
		err = policy_commit(&e);
	policy_close(&m, &e);
	if (err)
		goto out;
	if (g.json)
		changes_print(verdict, v, n, chg, chg + n);
	if (verdict == OP25B_V_NONE)
		p_info("%zu/%zu prefixes deleted (file layer; sessions' rules are theirs)",
		       cnt[ENGINE_DELETED], n);
	else
		p_info("%zu/%zu prefixes added, %zu changed, %zu unchanged",
		       cnt[ENGINE_ADDED], n, cnt[ENGINE_CHANGED],
		       cnt[ENGINE_UNCHANGED]);
out:
	free(chg);
	free(v);
out_args:
	free(a.buf);
	return err;
}

/* What deny and allow both do with the prefixes they are given. */
#define TABLE_GIVE_TEXT							\
	"An existing entry keeps its hit counter. In a FILE, '#' starts a\n" \
	"comment. Every prefix is checked before anything is changed.\n"

const struct cmd_help deny_help = {
	.args = "subscriber|relay PREFIX...",
	.opts = change_opts,
	.text =
	"Give each prefix the verdict deny: in subscriber, its outbound SMTP\n"
	"is blocked; in relay, it is carved out of an allowed relay range.\n"
	TABLE_GIVE_TEXT,
};

/* allow and del: on prefixes, or on who may connect (ident.c) */
#define TABLE_IDENT_FORMS(prefix_opts)					\
	FORMS({ .words = "subscriber|relay PREFIX...", .opts = prefix_opts }, \
	      { .words = "uid|gid NAME|ID..." },				\
	      { .words = "cgroup PATH..." })

const struct cmd_help allow_help = {
	.forms = TABLE_IDENT_FORMS(allow_opts),
	.text =
	"Give each prefix the verdict allow: in subscriber, an exemption\n"
	"inside a denied range; in relay, a relay that stays reachable.\n"
	"An allow of 0.0.0.0/0 or ::/0 turns blocking off for that family\n"
	"and needs --force.\n"
	TABLE_GIVE_TEXT
	"uid, gid, cgroup: who may connect at the socket hooks (attach\n"
	"--cgroup): a process of that real uid or gid, or in that cgroup (below\n"
	"the cgroup v2 root) or one below it. A name is resolved now and at\n"
	"every apply, a number kept; one that names nothing now waits.\n",
};

const struct cmd_help del_help = {
	.forms = TABLE_IDENT_FORMS(change_opts),
	.text =
	"Delete the entries for exactly these prefixes (absent ones are\n"
	"skipped), or these exemptions by identity (by the name or number\n"
	"they were given with).\n",
};

int do_deny(int argc, char **argv)
{
	return table_change("deny", OP25B_V_DENY, argc, argv);
}

int do_allow(int argc, char **argv)
{
	return table_change("allow", OP25B_V_ALLOW, argc, argv);
}

int do_del(int argc, char **argv)
{
	return table_change("del", OP25B_V_NONE, argc, argv);
}

/* ---- flush ---- */

const struct cmd_help flush_help = {
	.args = "subscriber|relay|uid|gid|cgroup",
	.text =
	"Delete every IPv4 and IPv6 entry of the table that the file layer\n"
	"holds (what apply and the deny/allow commands put there). Sessions'\n"
	"exemptions are theirs: they stay until each session ends.\n",
};

/*
 * The words of flush, list and test, which take no option: min to max of
 * them into pos (*n); need[i] names word i when it is missing.
 */
static int words_get(const char *verb, int argc, char **argv, int min,
		     int max, const char *const *need, const char **pos, int *n)
{
	struct args a = ARGS_POS(verb, argc, argv, pos, max);

	if (args_all(&a, NULL))
		return EXIT_USAGE;
	if (a.npos < min) {
		p_err("%s: missing %s", verb, need[a.npos]);
		return EXIT_USAGE;
	}
	*n = a.npos;
	return EXIT_OK;
}

/* flush's and list's one word, a table: needed, or *given says if it was. */
static int table_word(const char *verb, int argc, char **argv, bool *given,
		      enum op25b_table *t)
{
	static const char *const need[] = { "table (subscriber or relay)" };
	const char *pos[1];
	int err, n;

	*t = OP25B_TABLE_SUBSCRIBER;	/* set, though unused when none is given */
	err = words_get(verb, argc, argv, given ? 0 : 1, 1, need, pos, &n);
	if (err)
		return err;
	if (given)
		*given = n;
	return n ? parse_table(verb, pos[0], t) : EXIT_OK;
}

int do_flush(int argc, char **argv)
{
	struct op25b_maps m;
	struct engine e;
	size_t done = 0;
	enum op25b_table t;
	int err;

	if (argc == 1 && ident_kind_parse(argv[0]) >= 0)
		return ident_flush(ident_kind_parse(argv[0]));
	err = table_word("flush", argc, argv, NULL, &t);
	if (err)
		return err;

	err = policy_open_write(&m, &e);
	if (err)
		return err;
	if (engine_flush_owned(&e, t, OP25B_LAYER_FILE, 0,
			       &done)) {
		p_err("cannot flush the %s table: %s; nothing was changed",
		      table_name(t), e.err);
		err = EXIT_RUNTIME;
	}
	if (!err)
		err = policy_commit(&e);
	policy_close(&m, &e);
	if (!err)
		p_info("%zu prefixes flushed", done);
	return err;
}

/* ---- list ---- */

const struct cmd_help list_help = {
	.args = "[subscriber|relay|uid|gid|cgroup]",
	.text =
	"Every entry of the table (of both when none is named): prefix,\n"
	"verdict, hit counter and owner, IPv4 before IPv6, by address then\n"
	"length. The owner is 'file' (apply's file, and deny/allow typed since:\n"
	"'file*', which a reload undoes unless saved) or 'session NAME'. Where\n"
	"two layers hold one prefix, the one that decides comes first; the\n"
	"other is marked 'shadowed'. The exemptions by identity follow (uid,\n"
	"gid, cgroup; 'list uid' those alone): the name as given, the number it\n"
	"resolved to, or 'waiting' for a name that names nothing now.\n",
};

/* The order of 'list': table, then family, address and length. */
static int entry_order(const void *va, const void *vb)
{
	const struct engine_rule *a = va, *b = vb;

	int c;

	if (a->table != b->table)
		return a->table < b->table ? -1 : 1;
	c = prefix_order(&a->p, &b->p);
	if (c)
		return c;
	/* one prefix in two layers: the one the trees hold first */
	return owner_outranks(a->layer, a->owner, b->layer, b->owner) ? -1 : 1;
}

static bool same_entry(const struct engine_rule *a, const struct engine_rule *b)
{
	return a->table == b->table && !prefix_order(&a->p, &b->p);
}

/* "file", "file*" (a runtime edit), "session NAME" */
static const char *owner_text(const struct engine_rule *r,
			      const struct session_entry *sv, size_t ns,
			      char *buf, size_t len)
{
	const char *name;

	if (r->layer == OP25B_LAYER_FILE)
		return r->flags & OP25B_RF_RUNTIME ? "file*" : "file";
	name = session_name_of(sv, ns, r->owner);
	if (name)
		snprintf(buf, len, "session %s", name);
	else
		snprintf(buf, len, "session #%u", r->owner);
	return buf;
}

static void entries_print(const struct engine_rule *v, size_t n,
			  const struct session_entry *sv, size_t ns,
			  const struct engine_ident *id, size_t nid, bool tables)
{
	char own[OP25B_SESSION_NAME + 16];
	char buf[INET6_ADDRSTRLEN + 8], ptab[32], ppfx[32], pver[32], phits[32];
	size_t i, wpfx = strlen("PREFIX"), whits = strlen("HITS"), w;

	for (i = 0; i < n; i++) {
		prefix_format(&v[i].p, buf, sizeof(buf));
		w = strlen(buf);
		if (w > wpfx)
			wpfx = w;
		w = (size_t)snprintf(NULL, 0, "%llu",
				     (unsigned long long)v[i].hits);
		if (w > whits)
			whits = w;
	}
	snprintf(ptab, sizeof(ptab), "%%-%zus  ", strlen("subscriber"));
	snprintf(ppfx, sizeof(ppfx), "%%-%zus  ", wpfx);
	snprintf(pver, sizeof(pver), "%%-%zus  ", strlen("verdict"));
	snprintf(phits, sizeof(phits), "%%%zullu", whits);

	if (tables) {
		print_string(PRINT_FP, NULL, ptab, "TABLE");
		print_string(PRINT_FP, NULL, ppfx, "PREFIX");
		print_string(PRINT_FP, NULL, pver, "VERDICT");
		snprintf(buf, sizeof(buf), "%%%zus", whits);
		print_string(PRINT_FP, NULL, buf, "HITS");
		print_string(PRINT_FP, NULL, "  %s", "OWNER");
		print_nl();
	}
	open_json_array(NULL);
	for (i = 0; i < n; i++) {
		open_json_object(NULL);
		print_string(PRINT_ANY, "table", ptab, table_name(v[i].table));
		prefix_format(&v[i].p, buf, sizeof(buf));
		print_string(PRINT_ANY, "prefix", ppfx, buf);
		print_string(PRINT_ANY, "verdict", pver,
			     verdict_name(v[i].verdict));
		print_uint(PRINT_ANY, "hits", phits, v[i].hits);
		print_string(PRINT_FP, NULL, "  %s",
			     owner_text(&v[i], sv, ns, own, sizeof(own)));
		print_string(PRINT_JSON, "layer", NULL,
			     v[i].layer == OP25B_LAYER_FILE ? "file" : "session");
		if (v[i].layer == OP25B_LAYER_SESSION)
			print_string(PRINT_JSON, "session", NULL, own + 8);
		print_bool(PRINT_JSON, "runtime_edit", NULL,
			   v[i].flags & OP25B_RF_RUNTIME);
		print_bool(PRINT_JSON, "shadowed", NULL,
			   i && same_entry(&v[i - 1], &v[i]));
		if (i && same_entry(&v[i - 1], &v[i]))
			print_string(PRINT_FP, NULL, "%s", " shadowed");
		close_json_object();
		print_nl();
	}
	/* who may connect: after the tables, in the same list */
	if (nid && tables)
		print_nl();
	idents_print(id, nid);
	output_list_end();
}

int do_list(int argc, char **argv)
{
	enum op25b_table only = ENGINE_ALL_TABLES;
	struct engine_rule *v = NULL;
	struct engine_ident *id = NULL;
	struct op25b_maps m;
	struct engine e;
	size_t n = 0, nid = 0, i, k;
	enum op25b_table t;
	int err, kind = -1;
	bool given;

	/* list uid|gid|cgroup: the exemptions by identity alone */
	if (argc == 1 && ident_kind_parse(argv[0]) >= 0)
		kind = ident_kind_parse(argv[0]);
	else if ((err = table_word("list", argc, argv, &given, &t)))
		return err;
	else if (given)
		only = t;

	struct session_entry *sv = NULL;
	size_t ns = 0;

	err = policy_open_read(&m, &e);
	if (err)
		return err;
	/* one snapshot copied; nothing is locked while it is written out */
	if (kind < 0 && engine_rules(&e, only, true, &v, &n)) {
		p_err("%s", e.err);
		err = EXIT_RUNTIME;
	}
	if (!err && only == ENGINE_ALL_TABLES && engine_idents(&e, &id, &nid)) {
		p_err("%s", e.err);
		err = EXIT_RUNTIME;
	}
	if (!err)
		err = sessions_load(m.sessions, &sv, &ns);
	policy_close(&m, &e);
	if (!err) {
		for (i = k = 0; i < nid; i++)
			if (kind < 0 || (id[i].kind & ~(__u32)OP25B_ID_PENDING) ==
					(__u32)kind)
				id[k++] = id[i];
		nid = k;
		idents_sort(id, nid);
		if (n)
			qsort(v, n, sizeof(*v), entry_order);
		if (kind < 0)
			entries_print(v, n, sv, ns, id, nid, true);
		else
			entries_print(NULL, 0, NULL, 0, id, nid, false);
	}
	free(id);
	free(sv);
	free(v);
	return err;
}

/* ---- test ---- */

const struct cmd_help test_help = {
	.args = "SRC DST [PORT]",
	.text =
	"What the datapath decides for a TCP segment from SRC to DST:PORT\n"
	"(PORT 1-65535, default 25), and the rules that decided it. Exit\n"
	"status 3 when the policy blocks it (even with action monitor, which\n"
	"lets it pass and counts it), 0 when it passes.\n",
};

struct match {
	bool found;
	struct prefix p;
	__u32 verdict;
};

/* What the datapath's own lookup finds for addr in table t. */
static void match_best(struct engine *e, enum op25b_table t, int family,
		       const __u8 *addr, struct match *mt)
{
	struct engine_rule r;

	memset(mt, 0, sizeof(*mt));
	mt->found = engine_match(e, t, family, addr, &r);
	if (mt->found) {
		mt->p = r.p;
		mt->verdict = r.verdict;
	}
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
	enum op25b_said said;
	struct op25b_maps m;
	struct engine e;
	int err, sfam, dfam, i, n;
	__u32 port = OP25B_DEFAULT_PORT;
	const char *pos[3];
	bool blocked = false;

	err = words_get("test", argc, argv, 2, 3, need, pos, &n);
	if (err)
		return err;
	for (i = 0; i < 2; i++) {
		char q[TOKEN_QUOTE_LEN], why[128];
		struct prefix p;

		if (addr_parse(pos[i], i ? &dfam : &sfam, i ? dst : src)) {
			p_err("bad address '%s': not an IPv4 or IPv6 address",
			      token_quote(pos[i], q, sizeof(q)));
			return EXIT_USAGE;
		}
		/* prefix_parse says what is wrong with an IPv4-mapped one */
		if (!strchr(pos[i], '/') &&
		    prefix_parse(pos[i], &p, why, sizeof(why))) {
			p_err("bad address '%s': %s",
			      token_quote(pos[i], q, sizeof(q)), why);
			return EXIT_USAGE;
		}
	}
	if (sfam != dfam) {
		p_err("test: SRC '%s' and DST '%s' are not of the same family",
		      pos[0], pos[1]);
		return EXIT_USAGE;
	}
	if (n > 2 && port_parse(pos[2], &port)) {
		p_err("bad port '%s': must be a number 1-%d", pos[2], OP25B_PORT_MAX);
		return EXIT_USAGE;
	}

	err = policy_open_read(&m, &e);
	if (err)
		return err;
	/* no lock: one snapshot, read again if a writer published meanwhile */
	do {
		__u32 gen = engine_read_begin(&e);

		cfg = engine_live(&e)->cfg;
		said = engine_judge(&e, sfam, src, dst);
		match_best(&e, OP25B_TABLE_SUBSCRIBER, sfam, src, &sub);
		match_best(&e, OP25B_TABLE_RELAY, dfam, dst, &relay);
		if (engine_read_done(&e, gen))
			break;
	} while (1);
	policy_close(&m, &e);

	inet_ntop(sfam, src, sa, sizeof(sa));
	inet_ntop(dfam, dst, da, sizeof(da));
	prefix_format(&sub.p, sp, sizeof(sp));
	prefix_format(&relay.p, rp, sizeof(rp));
	/* the datapath's order: the port, then what the tables said */
	if (!config_port_blocked(&cfg, port)) {
		snprintf(reason, sizeof(reason), "port %u is not blocked", port);
	} else if (said == OP25B_SAID_EXEMPT) {
		snprintf(reason, sizeof(reason),
			 "exempt by subscriber allow %s", sp);
	} else if (said == OP25B_SAID_NOT_SUBSCRIBER) {
		snprintf(reason, sizeof(reason), "not a subscriber");
	} else if (said == OP25B_SAID_RELAY) {
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
	else if (blocked && cfg.action == OP25B_ACT_LIMIT)
		print_string(PRINT_ANY, "action",
			     " (action %s: new connections pass within the limit, unless the source is in quarantine)",
			     action_name(cfg.action));
	else
		print_string(blocked ? PRINT_ANY : PRINT_JSON, "action",
			     " (action %s)", action_name(cfg.action));
	close_json_object();
	print_nl();
	output_end();
	return blocked ? EXIT_BLOCKED : EXIT_OK;
}
