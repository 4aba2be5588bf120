// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * apply and save: the policy of record (op25b.conf(5)) and the running
 * policy made one. apply checks the whole file, publishes its tables,
 * ports and action as one snapshot, then makes the attachments match;
 * save writes the running policy so that applying it changes nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "op25bctl.h"


/* The order of a policy file: table, then family, address and length. */
static int rule_order(__u32 ta, const struct prefix *a, __u32 tb,
		      const struct prefix *b)
{
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return prefix_cmp(a, b);
}

static int engine_rule_cmp(const void *va, const void *vb)
{
	const struct engine_rule *a = va, *b = vb;

	return rule_order(a->table, &a->p, b->table, &b->p);
}

static int conf_rule_cmp(const void *va, const void *vb)
{
	const struct conf_rule *a = va, *b = vb;

	return rule_order(a->table, &a->p, b->table, &b->p);
}

/* What runs now: the live snapshot's rules and config, or the defaults. */
struct running {
	struct engine_rule *rules;
	size_t n;
	struct op25b_config cfg;
};

static void running_defaults(struct running *r)
{
	memset(r, 0, sizeof(*r));
	r->cfg.action = OP25B_ACT_DROP;
	r->cfg.ports[OP25B_DEFAULT_PORT / 64] = 1ULL << (OP25B_DEFAULT_PORT % 64);
}

/*
 * The file layer of one snapshot: what apply replaces and save writes
 * (doc/DESIGN.md, "Layers"). *others counts the rules of the other layers,
 * which neither touches.
 */
static int running_read(struct engine *e, struct running *r, size_t *others)
{
	struct op25b_snapshot snap;
	size_t i, k = 0;

	running_defaults(r);
	if (engine_snapshot(e, ENGINE_ALL_TABLES, false, &r->rules, &r->n,
			    &snap)) {
		p_err("%s", e->err);
		return EXIT_RUNTIME;
	}
	r->cfg = snap.cfg;
	for (i = 0; i < r->n; i++)
		if (r->rules[i].layer == OP25B_LAYER_FILE)
			r->rules[k++] = r->rules[i];
	if (others)
		*others = r->n - k;
	r->n = k;
	if (r->n)
		qsort(r->rules, r->n, sizeof(*r->rules), engine_rule_cmp);
	return EXIT_OK;
}

static void ports_format(const __u64 *ports, char *buf, size_t len)
{
	size_t o = 0;
	__u32 p;

	buf[0] = '\0';
	for (p = 1; p <= OP25B_PORT_MAX && o + 8 < len; p++)
		if ((ports[p / 64] >> (p % 64)) & 1)
			o += (size_t)snprintf(buf + o, len - o, "%s%u",
					      o ? " " : "", p);
	if (!o)
		snprintf(buf, len, "(none)");
}

/* ---- the difference ---- */

struct diff {
	size_t added, changed, deleted;
	bool ports, action;
};

enum op { OP_ADD, OP_DEL, OP_CHANGE };

static void diff_print(enum op op, __u32 table, const struct prefix *p,
		       __u32 verdict, __u32 was, bool runtime)
{
	static const char *const sign[] = { "+", "-", "~" };
	static const char *const name[] = { "add", "delete", "change" };
	char buf[INET6_ADDRSTRLEN + 8];

	prefix_format(p, buf, sizeof(buf));
	open_json_object(NULL);
	print_string(PRINT_FP, NULL, "%s ", sign[op]);
	print_string(PRINT_JSON, "op", NULL, name[op]);
	print_string(PRINT_ANY, "verdict", "%s ", verdict_name(verdict));
	print_string(PRINT_ANY, "table", "%s ", table_name(table));
	print_string(PRINT_ANY, "prefix", "%s", buf);
	if (op == OP_CHANGE)
		print_string(PRINT_ANY, "was", " (was %s)", verdict_name(was));
	/* an operator's edit that the file does not hold: said before it goes */
	print_bool(PRINT_JSON, "runtime_edit", NULL, runtime);
	if (runtime && op != OP_ADD)
		print_string(PRINT_FP, NULL, "%s",
			     "  # an edit made at runtime, not in the file");
	close_json_object();
	print_nl();
}

/* "~ port 25 587 (was 25)": a setting of the file's, and the running one. */
static void change_print(const char *key, const char *fmt, const char *want,
			 const char *was)
{
	open_json_object(NULL);
	print_string(PRINT_FP, NULL, "%s", "~ ");
	print_string(PRINT_JSON, "op", NULL, "change");
	print_string(PRINT_ANY, key, fmt, want);
	print_string(PRINT_ANY, "was", " (was %s)", was);
	close_json_object();
	print_nl();
}

/*
 * Walk the running rules and the file's side by side (both sorted). With
 * e, make the changes in its draft; without, print them.
 */
static int diff_rules(const struct running *run, const struct conf *c,
		      struct engine *e, struct diff *d)
{
	size_t i = 0, j = 0;
	enum engine_change ch;
	int cmp, err = 0;

	while (!err && (i < run->n || j < c->nrules)) {
		const struct engine_rule *r = i < run->n ? &run->rules[i] : NULL;
		const struct conf_rule *w = j < c->nrules ? &c->rules[j] : NULL;

		cmp = !r ? 1 : !w ? -1 :
		      rule_order(r->table, &r->p, w->table, &w->p);
		if (cmp < 0) {
			d->deleted++;
			if (e)
				err = engine_del(e, r->table, &r->p, &ch);
			else
				diff_print(OP_DEL, r->table, &r->p, r->verdict,
					   0, r->flags & OP25B_RF_RUNTIME);
			i++;
		} else if (cmp > 0) {
			d->added++;
			if (e)
				err = engine_set(e, w->table, &w->p, w->verdict, &ch);
			else
				diff_print(OP_ADD, w->table, &w->p, w->verdict,
					   0, false);
			j++;
		} else {
			if (r->verdict != w->verdict) {
				d->changed++;
				if (e)
					err = engine_set(e, w->table, &w->p,
							 w->verdict, &ch);
				else
					diff_print(OP_CHANGE, w->table, &w->p,
						   w->verdict, r->verdict,
						   r->flags & OP25B_RF_RUNTIME);
			}
			i++;
			j++;
		}
	}
	if (err) {
		p_err("%s; nothing was changed", e->err);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static void diff_config(const struct running *run, const struct conf *c,
			struct diff *d, bool print)
{
	char now[256], want[256];
	char wtext[ACTION_TEXT_LEN], ntext[ACTION_TEXT_LEN];

	d->ports = memcmp(run->cfg.ports, c->ports, sizeof(c->ports)) != 0;
	{
		struct op25b_config want = { .action = c->action, .limit = c->limit };

		d->action = !action_equal(&run->cfg, &want);
		action_format(&want, wtext, sizeof(wtext));
		action_format(&run->cfg, ntext, sizeof(ntext));
	}
	if (!print)
		return;
	if (d->ports) {
		ports_format(c->ports, want, sizeof(want));
		ports_format(run->cfg.ports, now, sizeof(now));
		change_print("port", "port %s", want, now);
	}
	if (d->action)
		change_print("action", "action %s", wtext, ntext);
}

/* ---- apply ---- */

enum { OPT_DRY = 1, OPT_FORCE, OPT_BOOT, OPT_LAST_GOOD };

static const struct opt apply_opts[] = OPT_TABLE(
	{ .name = "--dry-run", .id = OPT_DRY,
	  .help = "print what would change, and change nothing" },
	{ .name = "--force", .id = OPT_FORCE,
	  .help = "a file that allows a /0 (no blocking for a family) too" },
	{ .name = "--boot", .id = OPT_BOOT,
	  .help = "if FILE is refused, apply the last good policy (still exit 2)" },
	{ .name = "--last-good", .id = OPT_LAST_GOOD, .arg = "PATH",
	  .what = "a file name",
	  .help = "where each clean apply keeps the policy (default "
		  OP25B_LAST_GOOD_DEFAULT " for the default pin dir)" },
);

const struct cmd_help apply_help = {
	.args = "FILE|-",
	.opts = apply_opts,
	.text =
	"Make the running policy the file's (op25b.conf(5)): check all of it\n"
	"(every error as FILE:LINE: message; nothing changes if there is\n"
	"one), publish its tables, ports and action as one snapshot, then\n"
	"attach what it names and detach what op25b attached and it no longer\n"
	"names. It replaces the file layer only: sessions' rules and\n"
	"attachments, and watch's attachments, stay (deny/allow typed since\n"
	"the last apply are the file layer's: --dry-run shows them going).\n"
	"An interface that does not exist yet is attached when it appears\n"
	"(op25b-watch), and status shows it pending meanwhile. Every apply that\n"
	"succeeds keeps the policy as the last good one; with --boot, a FILE\n"
	"that is refused makes apply enforce the last good policy instead\n"
	"(and still exit 2): a router must not boot unfiltered.\n",
};

/* The default pin dir's last good policy; other pin dirs keep none by default. */
static const char *last_good_path(const char *given)
{
	if (given)
		return given;
	return strcmp(g.pin_dir, OP25B_PIN_DIR_DEFAULT) ? NULL :
	       OP25B_LAST_GOOD_DEFAULT;
}

static int save_write(FILE *f, struct engine *e);

static int save_file(const char *path, bool warn);

/* The policy that runs now, as the last good one: replaced whole or not at all. */
static void last_good_keep(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	mkdir(dirname(dir), 0755);	/* /var/lib/op25b on a first boot */
	save_file(path, true);
}

/* What a file asks for besides its tables, ports and action. */
struct wants {
	struct attach_want *w;		/* interfaces */
	size_t n;
	char (*cg)[OP25B_CGROUP_PATH];	/* cgroups, canonical */
	size_t ncg;
	struct ident_want *id;		/* who may connect, resolved */
	size_t nid;
};

static void wants_free(struct wants *ws)
{
	free(ws->w);
	free(ws->cg);
	free(ws->id);
	memset(ws, 0, sizeof(*ws));
}

/* 'attach --cgroup PATH', and nothing else with it: its canonical path. */
static int cgroup_statement(const struct conf_attach *a, char *rel,
			    size_t len, bool *is, char *why, size_t wlen)
{
	const char *path = NULL;
	int i;

	*is = false;
	for (i = 0; i < a->argc; i++) {
		if (!strcmp(a->argv[i], "--cgroup") && i + 1 < a->argc)
			path = a->argv[++i];
		else if (!strncmp(a->argv[i], "--cgroup=", 9))
			path = a->argv[i] + 9;
		else if (!strcmp(a->argv[i], "--cgroup"))
			path = "";
		else
			continue;
		*is = true;
	}
	if (!*is)
		return EXIT_OK;
	if (!path || !*path || a->argc != (strchr(a->argv[0], '=') ? 1 : 2)) {
		p_say(why, wlen, "attach --cgroup PATH, and nothing else");
		return EXIT_USAGE;
	}
	return cgroup_path_norm(path, rel, len, why, wlen);
}

/*
 * Every attach statement checked (interfaces exist, none named twice,
 * cgroups' paths well made), and every identity resolved: a name now, a
 * number as given; one that names nothing yet waits, said.
 */
static int wants_build(const struct conf *c, struct wants *ws)
{
	char where[PATH_MAX + 32], why[512];
	size_t i, j;
	int rc = EXIT_OK, r;

	memset(ws, 0, sizeof(*ws));
	ws->w = calloc(c->natt + 1, sizeof(*ws->w));
	ws->cg = calloc(c->natt + 1, sizeof(*ws->cg));
	ws->id = calloc(c->nidents + 1, sizeof(*ws->id));
	if (!ws->w || !ws->cg || !ws->id) {
		p_err("out of memory");
		wants_free(ws);
		return EXIT_RUNTIME;
	}
	for (i = 0; i < c->natt; i++) {
		bool is;

		snprintf(where, sizeof(where), "%s:%zu", c->att[i].file,
			 c->att[i].line);
		if (cgroup_statement(&c->att[i], ws->cg[ws->ncg],
				     sizeof(ws->cg[0]), &is, why, sizeof(why))) {
			p_err("%s: %s", where, why);
			rc = EXIT_USAGE;
			continue;
		}
		if (is) {
			for (j = 0; j < ws->ncg; j++)
				if (!strcmp(ws->cg[j], ws->cg[ws->ncg]))
					break;
			if (j < ws->ncg) {
				p_err("%s: cgroup %s is attached already", where,
				      cgroup_shown(ws->cg[j]));
				rc = EXIT_USAGE;
			} else {
				ws->ncg++;
			}
			continue;
		}
		if (attach_want_parse(c->att[i].argc, c->att[i].argv,
				      &ws->w[ws->n], why, sizeof(why))) {
			p_err("%s: %s", where, why);
			rc = EXIT_USAGE;
			continue;
		}
		for (j = 0; j < ws->n; j++) {
			const struct attach_want *a = &ws->w[j], *b = &ws->w[ws->n];

			if (a->ifindex == b->ifindex &&
			    (b->ifindex || !strcmp(a->ifname, b->ifname)) &&
			    a->hook == b->hook) {
				p_err("%s: %s is attached already", where,
				      b->ifname);
				rc = EXIT_USAGE;
			}
		}
		ws->n++;
	}
	for (i = 0; i < c->nidents; i++) {
		struct ident_want *w = &ws->id[ws->nid];

		r = ident_resolve(c->idents[i].kind, c->idents[i].word, w, why,
				  sizeof(why));
		if (r) {
			p_err("%s:%zu: %s", c->idents[i].file, c->idents[i].line,
			      why);
			if (r > rc)
				rc = r;
			continue;
		}
		for (j = 0; j < ws->nid; j++)
			if (ws->id[j].kind == w->kind && ws->id[j].id == w->id &&
			    !strcmp(ws->id[j].name, w->name))
				break;
		if (j < ws->nid)
			continue;	/* said twice: once */
		if (ident_pending(w->kind))
			p_info("%s:%zu: allow %s %s: %s now; it exempts nobody until it does (apply again)",
			       c->idents[i].file, c->idents[i].line,
			       ident_kind_name(w->kind), c->idents[i].word,
			       c->idents[i].kind == OP25B_ID_CGROUP ? "no such cgroup" :
			       c->idents[i].kind == OP25B_ID_UID ? "no such user" :
			       "no such group");
		ws->nid++;
	}
	if (rc)
		wants_free(ws);
	return rc;
}

static int apply_dry(const struct conf *c, const struct wants *ws)
{
	struct engine_ident *live = NULL;
	struct running run;
	struct op25b_maps m;
	struct engine e;
	struct diff d = {};
	size_t changes, nlive = 0;
	int rc;

	size_t others = 0;

	running_defaults(&run);
	/* nothing set up yet: the difference is the whole file */
	if (pins_present()) {
		rc = policy_open_read(&m, &e);
		if (rc)
			return rc;
		rc = running_read(&e, &run, &others);
		if (!rc && engine_idents(&e, &live, &nlive)) {
			p_err("%s", e.err);
			rc = EXIT_RUNTIME;
		}
		policy_close(&m, &e);
		if (rc) {
			free(live);
			return rc;
		}
	}
	open_json_array(NULL);
	diff_config(&run, c, &d, true);
	rc = diff_rules(&run, c, NULL, &d);
	if (!rc)
		idents_diff(NULL, live, nlive, ws->id, ws->nid, &changes, true);
	free(live);
	if (!rc)
		rc = attach_sync(ws->w, ws->n, true, &changes);
	if (!rc)
		rc = cg_sync(ws->cg, ws->ncg, true, &changes);
	output_list_end();
	if (others)
		p_info("%zu rule%s of the session layer stay as they are", others,
		       others == 1 ? "" : "s");
	free(run.rules);
	return rc;
}

static int apply_run(const char *file, const struct conf *c,
		     const struct wants *ws)
{
	struct engine_ident *live = NULL;
	struct running run;
	struct op25b_maps m;
	struct engine e;
	struct diff d = {};
	struct op25b_config *cfg;
	size_t changes = 0, cgchanges = 0, idchanges = 0, nlive = 0;
	int rc;

	rc = policy_open_write(&m, &e);
	if (rc)
		return rc;
	rc = running_read(&e, &run, NULL);
	if (!rc) {
		diff_config(&run, c, &d, false);
		rc = diff_rules(&run, c, &e, &d);
	}
	/* who may connect: in the same change, published with the tables */
	if (!rc && engine_has_idents(&e) &&
	    (engine_idents(&e, &live, &nlive) ||
	     idents_diff(&e, live, nlive, ws->id, ws->nid, &idchanges, false))) {
		p_err("%s; nothing was changed", e.err);
		rc = EXIT_RUNTIME;
	}
	free(live);
	if (!rc && ws->nid && !engine_has_idents(&e)) {
		p_err("the pinned maps under %s have no identities map; nothing was changed",
		      g.pin_dir);
		rc = EXIT_RUNTIME;
	}
	if (!rc && (d.added || d.changed || d.deleted || d.ports || d.action ||
		    idchanges)) {
		cfg = engine_config(&e);
		memcpy(cfg->ports, c->ports, sizeof(cfg->ports));
		cfg->action = c->action;
		cfg->limit = c->limit;
		rc = policy_commit(&e);
	}
	/* else nothing to publish: policy_close drops the empty draft */
	policy_close(&m, &e);
	free(run.rules);
	if (rc)
		return rc;
	/* the policy is in place: now the interfaces and cgroups it names */
	rc = attach_sync(ws->w, ws->n, false, &changes);
	{
		int rc2 = cg_sync(ws->cg, ws->ncg, false, &cgchanges);

		if (rc2 > rc)
			rc = rc2;
		changes += cgchanges;
	}
	p_info("applied %s: %zu prefixes added, %zu changed, %zu deleted%s%s%s; %zu attachment%s changed",
	       strcmp(file, "-") ? file : "<stdin>", d.added, d.changed,
	       d.deleted, d.ports ? "; ports changed" : "",
	       d.action ? "; action changed" : "",
	       idchanges ? "; exemptions by identity changed" : "", changes,
	       changes == 1 ? "" : "s");
	open_json_object(NULL);
	print_uint(PRINT_JSON, "added", NULL, d.added);
	print_uint(PRINT_JSON, "changed", NULL, d.changed);
	print_uint(PRINT_JSON, "deleted", NULL, d.deleted);
	print_bool(PRINT_JSON, "ports_changed", NULL, d.ports);
	print_bool(PRINT_JSON, "action_changed", NULL, d.action);
	print_uint(PRINT_JSON, "identities_changed", NULL, idchanges);
	print_uint(PRINT_JSON, "attachments_changed", NULL, changes);
	close_json_object();
	return rc;
}

static int apply_file(const char *file, bool dry, bool force);

/*
 * At boot a refused file must not leave the router unfiltered: the last
 * policy that applied cleanly is enforced instead, and the refusal still
 * decides the exit status, so the unit reports it.
 */
static int apply_last_good(const char *path, int refused)
{
	int rc;

	if (!path || access(path, R_OK)) {
		p_err("no last good policy to fall back on%s%s",
		      path ? " at " : "", path ? path : "");
		return refused;
	}
	p_err("the policy file was refused: enforcing the last good policy, %s",
	      path);
	rc = apply_file(path, false, true);
	return rc ? rc : refused;
}

int do_apply(int argc, char **argv)
{
	const char *file = NULL, *last;
	struct args a = ARGS_POS("apply", argc, argv, &file, 1);
	bool dry, force, boot;
	int rc;

	if (args_all(&a, apply_opts))
		return EXIT_USAGE;
	dry = args_given(&a, OPT_DRY);
	force = args_given(&a, OPT_FORCE);
	boot = args_given(&a, OPT_BOOT);
	last = last_good_path(a.val[OPT_LAST_GOOD]);
	if (args_missing(&a, "FILE (or - for stdin)"))
		return EXIT_USAGE;
	if (boot && dry) {
		p_err("apply: --boot and --dry-run do not go together");
		return EXIT_USAGE;
	}
	rc = apply_file(file, dry, force);
	if (rc == EXIT_USAGE && boot)
		return apply_last_good(last, rc);
	if (!rc && !dry && last)
		last_good_keep(last);
	return rc;
}

static int apply_file(const char *file, bool dry, bool force)
{
	struct wants ws = {};
	struct conf c;
	int rc, i;

	rc = conf_load(file, &c);
	if (c.nrules)
		/* in the order the running rules are read, to walk them together */
		qsort(c.rules, c.nrules, sizeof(*c.rules), conf_rule_cmp);
	/* the attachments are checked too, so one run shows every error */
	if (!rc) {
		rc = wants_build(&c, &ws);
	} else {
		/* the attachments are checked too, so one run shows every error */
		if (!wants_build(&c, &ws))
			wants_free(&ws);
	}
	for (i = 0; !rc && (size_t)i < c.nrules; i++) {
		char why[512];

		if (c.rules[i].verdict != OP25B_V_ALLOW || c.rules[i].p.len)
			continue;
		rc = allow_all_check(table_name(c.rules[i].table),
				     &c.rules[i].p, 1, force, why, sizeof(why));
		if (rc)
			p_err("%s:%zu: %s", c.rules[i].file, c.rules[i].line,
			      why);
	}
	if (!rc && !force && c.sub_file) {
		char why[256];

		submission_port_check(c.sub_port, why, sizeof(why));
		p_err("%s:%zu: port %u: %s; add --force to the statement (or apply --force) to block it all the same",
		      c.sub_file, c.sub_line, c.sub_port, why);
		rc = EXIT_USAGE;
	}
	if (!rc)
		rc = dry ? apply_dry(&c, &ws) : apply_run(file, &c, &ws);
	wants_free(&ws);
	conf_free(&c);
	return rc;
}

/* ---- save ---- */

const struct cmd_help save_help = {
	.args = "[FILE]",
	.text =
	"Write the running policy's file layer (tables, ports, action,\n"
	"attachments of this network namespace, pending ones too, and the\n"
	"deny/allow typed since the last apply) in canonical form, to FILE or\n"
	"stdout: applying it changes nothing. Sessions' rules and watch's\n"
	"attachments are theirs, and not written. FILE is replaced whole or\n"
	"not at all.\n",
};

/*
 * "port ..." lines of at most SAVE_PORTS_LINE ports (port statements add
 * up): every blocked port is written, however many there are.
 */
#define SAVE_PORTS_LINE	32
static void save_ports(FILE *f, const __u64 *ports)
{
	unsigned int n = 0;
	bool forced = false;
	__u32 p;

	for (p = 1; p <= OP25B_PORT_MAX; p++) {
		if (!((ports[p / 64] >> (p % 64)) & 1))
			continue;
		fprintf(f, "%s%u", n ? " " : "port ", p);
		/* blocking submission was forced once: say so again */
		forced |= p == OP25B_PORT_SUBMISSION || p == OP25B_PORT_SUBMISSIONS;
		if (++n == SAVE_PORTS_LINE) {
			fputs(forced ? " --force\n" : "\n", f);
			n = 0;
			forced = false;
		}
	}
	if (n)
		fputs(forced ? " --force\n" : "\n", f);
}

static int save_write(FILE *f, struct engine *e)
{
	struct running run;
	char buf[INET6_ADDRSTRLEN + 8], ports[65536 / 2], atext[ACTION_TEXT_LEN];
	size_t i;
	int rc;

	rc = running_read(e, &run, NULL);
	if (rc)
		return rc;
	ports_format(run.cfg.ports, ports, sizeof(ports));
	fprintf(f, "# op25b policy (op25b.conf(5)), written by op25bctl save\n");
	action_format(&run.cfg, atext, sizeof(atext));
	fprintf(f, "action %s\n", atext);
	if (strcmp(ports, "(none)"))
		save_ports(f, run.cfg.ports);
	else
		fprintf(f, "# no port is blocked\n");
	for (i = 0; i < run.n; i++) {
		prefix_format(&run.rules[i].p, buf, sizeof(buf));
		fprintf(f, "%s %s %s\n", verdict_name(run.rules[i].verdict),
			table_name(run.rules[i].table), buf);
	}
	free(run.rules);
	{
		struct engine_ident *id = NULL;
		size_t nid = 0;

		if (engine_idents(e, &id, &nid)) {
			p_err("%s", e->err);
			return EXIT_RUNTIME;
		}
		idents_save(f, id, nid);
		free(id);
	}
	rc = attach_save(f);
	return rc ? rc : cg_save(f);
}

/*
 * The file beside the target takes the mode and owner of the file it
 * replaces, or a new file's (0666 less the umask): mkstemp's 0600 would
 * leave an operator's 0644 op25b.conf unreadable to others.
 */
static int save_mode(int fd, const char *path)
{
	struct stat st;
	mode_t um;

	if (stat(path, &st)) {
		um = umask(0);
		umask(um);
		return fchmod(fd, 0666 & ~um);
	}
	if (fchown(fd, st.st_uid, st.st_gid) && errno != EPERM)
		return -1;
	return fchmod(fd, st.st_mode & 07777);
}

/*
 * The running policy into path, beside it first and renamed over it (the
 * mode and owner of the file it replaces kept): whole or not at all. What
 * fails is an error, or with warn a warning (apply keeping the last good).
 */
static int save_file(const char *path, bool warn)
{
	char tmp[PATH_MAX + 32], dir[PATH_MAX];
	struct op25b_maps m;
	struct engine e;
	FILE *f = NULL;
	bool io;
	int rc, fd;

	rc = policy_open_read(&m, &e);	/* what fails here is said there */
	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s/.op25b-save-XXXXXX", dirname(dir));
	fd = mkstemp(tmp);
	if (fd >= 0 && !save_mode(fd, path))
		f = fdopen(fd, "w");
	/* save_write says what fails in it; the file's own failures, here */
	rc = f ? save_write(f, &e) : EXIT_RUNTIME;
	policy_close(&m, &e);
	io = !f || fflush(f) || fsync(fd) || ferror(f);
	if (f ? fclose(f) : fd >= 0 ? close(fd) : 0)
		io = true;
	if (!rc && !io && rename(tmp, path))
		io = true;
	if (io) {
		if (warn)
			p_info("warning: cannot keep the last good policy in '%s': %s",
			       path, strerror(errno));
		else
			p_err("cannot write '%s': %s", path, strerror(errno));
		rc = EXIT_RUNTIME;
	}
	if (rc && fd >= 0)
		unlink(tmp);
	return rc;
}

int do_save(int argc, char **argv)
{
	const char *path = NULL;
	struct args a = ARGS_POS("save", argc, argv, &path, 1);
	struct op25b_maps m;
	struct engine e;
	int rc;

	if (args_all(&a, NULL))
		return EXIT_USAGE;
	if (g.json) {
		p_err("save: writes op25b.conf(5), not JSON");
		return EXIT_USAGE;
	}
	if (path && strcmp(path, "-"))
		return save_file(path, false);
	rc = policy_open_read(&m, &e);
	if (rc)
		return rc;
	rc = save_write(stdout, &e);
	policy_close(&m, &e);
	return rc;
}
