// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * session: the session layer (doc/DESIGN.md, "Layers"). A PPP/RADIUS hook
 * registers each session by name when it starts, with the prefixes its
 * RADIUS reply exempts and the device to attach to, and removes it when
 * it ends. Its rules belong to it alone: apply, flush and save leave them
 * be, and its end takes back exactly them, whatever other layers hold.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "op25bctl.h"
#include "attachments.h"

enum {
	OPT_IFNAME = ATTACH_OPT_NEXT, OPT_USER, OPT_CALLING, OPT_ALLOW,
	OPT_ATTACH, OPT_ADDRESS,
};

static const struct opt up_opts[] = OPT_TABLE(
	{ .name = "--ifname", .id = OPT_IFNAME, .arg = "IFACE",
	  .what = "an interface name",
	  .help = "the session's device (its pppN)" },
	{ .name = "--user", .id = OPT_USER, .arg = "NAME",
	  .what = "a user name", .help = "the subscriber's User-Name" },
	{ .name = "--calling-station-id", .id = OPT_CALLING, .arg = "ID",
	  .what = "a Calling-Station-Id",
	  .help = "the line the session came on" },
	{ .name = "--allow", .id = OPT_ALLOW, .arg = "PREFIX",
	  .what = "a prefix",
	  .help = "exempt PREFIX while the session lasts (up to 4)" },
	{ .name = "--address", .id = OPT_ADDRESS, .arg = "PREFIX",
	  .what = "a prefix",
	  .help = "the session's address or prefix, for its events (up to 4)" },
	{ .name = "--attach", .id = OPT_ATTACH,
	  .help = "attach op25b to the device while the session lasts" },
	ATTACH_OPTS,
);

const struct cmd_help session_help = {
	.forms = FORMS({ .words = "up NAME", .opts = up_opts },
		       { .words = "down NAME" },
		       { .words = "list" }),
	.text =
	"The session layer, for PPP/RADIUS hooks: 'up' registers session NAME\n"
	"(pppd's IFNAME, or accel-ppp's session), exempts its --allow prefixes\n"
	"in subscriber and attaches to its device (--attach) in one change; a\n"
	"session of that name still registered is replaced. 'down' removes\n"
	"exactly what its 'up' added, whatever other layers hold. Sessions\n"
	"outlive apply, flush and save, which never touch them. 'list' shows\n"
	"them. --address names the session's own addresses (exempt or not):\n"
	"events from them carry its user name and line.\n",
};

/* What 'up' was told, checked whole before anything changes. */
struct session_req {
	struct op25b_session_key key;
	struct op25b_session rec;
	struct prefix allow[OP25B_SESSION_PREFIXES];
	int nallow;
	struct prefix addr[OP25B_SESSION_PREFIXES];
	int naddr;
	bool attach;
	struct attach_args att;
};

/* A name, user or line: printable ASCII, no space, within len. */
static int text_check(const char *what, const char *s, size_t len)
{
	char q[TOKEN_QUOTE_LEN];
	const char *c;

	if (!*s || strlen(s) >= len) {
		p_err("session: bad %s '%s': must be 1-%zu characters", what,
		      token_quote(s, q, sizeof(q)), len - 1);
		return EXIT_USAGE;
	}
	for (c = s; *c; c++) {
		if (*c <= ' ' || *c > '~') {
			p_err("session: bad %s '%s': printable ASCII without spaces only",
			      what, token_quote(s, q, sizeof(q)));
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* A checked text option kept in its field of size len. */
static int text_take(const char *what, const char *s, char *field, size_t len)
{
	int rc = text_check(what, s, len);

	if (!rc)
		snprintf(field, len, "%s", s);
	return rc;
}

static int name_take(const char *name, struct op25b_session_key *key)
{
	int rc = text_check("session name", name, sizeof(key->name));

	if (!rc) {
		memset(key, 0, sizeof(*key));
		memcpy(key->name, name, strlen(name));
	}
	return rc;
}

/* One more of a session's prefixes (--allow, --address): not /0, 4 at most. */
static int session_prefix_take(const char *opt, const char *v,
			       struct prefix *p, int *n)
{
	char why[128], q[TOKEN_QUOTE_LEN];

	if (*n == OP25B_SESSION_PREFIXES) {
		p_err("session up: more than %d %s prefixes",
		      OP25B_SESSION_PREFIXES, opt);
		return EXIT_USAGE;
	}
	if (prefix_parse(v, &p[*n], why, sizeof(why))) {
		p_err("bad prefix '%s': %s", token_quote(v, q, sizeof(q)), why);
		return EXIT_USAGE;
	}
	if (!p[*n].len) {
		p_err("session up: %s %s would be every address", opt, v);
		return EXIT_USAGE;
	}
	(*n)++;
	return EXIT_OK;
}

static int up_parse(int argc, char **argv, struct session_req *r)
{
	const char *name = NULL, *v;
	struct args a = ARGS_POS("session up", argc, argv, &name, 1);
	int id, rc;

	memset(r, 0, sizeof(*r));
	while ((id = args_opt(&a, up_opts, &v)) > 0) {
		switch (id) {
		case OPT_IFNAME:
			/* ifname[] is IF_NAMESIZE long */
			rc = text_take("interface name", v, r->rec.ifname,
				       sizeof(r->rec.ifname));
			break;
		case OPT_USER:
			rc = text_take("user name", v, r->rec.user,
				       sizeof(r->rec.user));
			break;
		case OPT_CALLING:
			rc = text_take("Calling-Station-Id", v, r->rec.calling,
				       sizeof(r->rec.calling));
			break;
		case OPT_ALLOW:
			rc = session_prefix_take("--allow", v, r->allow,
						 &r->nallow);
			break;
		case OPT_ADDRESS:
			rc = session_prefix_take("--address", v, r->addr,
						 &r->naddr);
			break;
		case OPT_ATTACH:
			r->attach = true;
			rc = EXIT_OK;
			break;
		}
		if (rc)
			return rc;
	}
	if (id || args_missing(&a, "NAME"))
		return EXIT_USAGE;
	rc = name_take(name, &r->key);
	if (rc)
		return rc;
	attach_opts_take(&r->att, &a);
	if (!r->attach && (r->att.hook || r->att.mode || r->att.dir ||
			   r->att.force)) {
		p_err("session up: attach options need --attach");
		return EXIT_USAGE;
	}
	if (r->attach && !r->rec.ifname[0]) {
		p_err("session up: --attach needs --ifname");
		return EXIT_USAGE;
	}
	r->att.ifname = r->rec.ifname;
	return r->attach ? attach_args_check(&r->att, NULL, 0) : EXIT_OK;
}

static void prefix_of_session(const struct op25b_session_prefix *sp,
			      struct prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = sp->family == 4 ? AF_INET : AF_INET6;
	p->len = sp->prefixlen;
	memcpy(p->addr, sp->addr, sizeof(p->addr));
}

static void session_prefix_of(const struct prefix *p,
			      struct op25b_session_prefix *sp)
{
	sp->family = p->family == AF_INET ? 4 : 6;
	sp->prefixlen = p->len;
	memcpy(sp->addr, p->addr, sizeof(sp->addr));
}

/* The session's exemptions out of the draft. */
static int session_rules_drop(struct engine *e, const struct op25b_session *s)
{
	struct owner o = { OP25B_LAYER_SESSION, s->id };
	enum engine_change ch;
	struct prefix p;
	int i;

	for (i = 0; i < OP25B_SESSION_PREFIXES; i++) {
		if (!s->allow[i].family)
			continue;
		prefix_of_session(&s->allow[i], &p);
		if (engine_del_owned(e, OP25B_TABLE_SUBSCRIBER, &p, &o, &ch)) {
			p_err("%s; nothing was changed", e->err);
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}

/*
 * The record is written before the publish: a writer killed in between
 * leaves the engine marked, and the next writer sweeps every session rule
 * whose session is not registered (session_sweep). Nothing is left that
 * no 'down' would remove.
 */
static int session_up(int argc, char **argv)
{
	struct session_req r;
	struct op25b_session old;
	struct op25b_maps m;
	struct engine e;
	struct owner o = { OP25B_LAYER_SESSION, 0 };
	enum engine_change ch;
	bool had;
	int rc, i;

	rc = up_parse(argc, argv, &r);
	if (rc)
		return rc;
	rc = policy_open_write(&m, &e);
	if (rc)
		return rc;
	had = !bpf_map_lookup_elem(m.sessions, &r.key, &old);
	if (had)
		rc = session_rules_drop(&e, &old);
	o.id = r.rec.id = engine_session_id(&e);
	r.rec.netns_ino = netns_ino_now();
	r.rec.started = realtime_now();
	if (r.rec.ifname[0])
		r.rec.ifindex = if_nametoindex(r.rec.ifname);
	for (i = 0; i < r.nallow; i++)
		session_prefix_of(&r.allow[i], &r.rec.allow[i]);
	for (i = 0; i < r.naddr; i++)
		session_prefix_of(&r.addr[i], &r.rec.addr[i]);
	if (!rc && bpf_map_update_elem(m.sessions, &r.key, &r.rec, BPF_ANY)) {
		p_err("cannot register session '%s': %s", r.key.name,
		      strerror(errno));
		rc = EXIT_RUNTIME;
	}
	for (i = 0; !rc && i < r.nallow; i++) {
		if (engine_set_owned(&e, OP25B_TABLE_SUBSCRIBER, &r.allow[i],
				     OP25B_V_ALLOW, &o, 0, &ch)) {
			p_err("%s; nothing was changed", e.err);
			rc = EXIT_RUNTIME;
		}
	}
	if (!rc)
		rc = policy_commit(&e);
	if (rc) {
		/* nothing was published: the registry as it was */
		if (had)
			bpf_map_update_elem(m.sessions, &r.key, &old, BPF_ANY);
		else
			bpf_map_delete_elem(m.sessions, &r.key);
	}
	policy_close(&m, &e);
	if (rc)
		return rc;
	if (had) {
		p_info("session %s was registered already (id %u): replaced",
		       r.key.name, old.id);
		attach_drop_owned(OP25B_LAYER_SESSION, old.id);
	}
	if (r.attach) {
		r.att.layer = OP25B_LAYER_SESSION;
		r.att.owner = r.rec.id;
		rc = attach_iface(&r.att, NULL);
	}
	p_info("session %s up (id %u): %d prefix%s exempt%s", r.key.name,
	       r.rec.id, r.nallow, r.nallow == 1 ? "" : "es",
	       r.attach && !rc ? ", attached" : "");
	open_json_object(NULL);
	print_string(PRINT_JSON, "session", NULL, r.key.name);
	print_uint(PRINT_JSON, "id", NULL, r.rec.id);
	print_bool(PRINT_JSON, "replaced", NULL, had);
	print_bool(PRINT_JSON, "attached", NULL, r.attach && !rc);
	close_json_object();
	output_end();
	return rc;
}

static int session_down(int argc, char **argv)
{
	const char *name = NULL;
	struct args a = ARGS_POS("session down", argc, argv, &name, 1);
	struct op25b_session_key key;
	struct op25b_session s;
	struct op25b_maps m;
	struct engine e;
	size_t detached;
	int rc;

	if (args_all(&a, NULL) || args_missing(&a, "NAME"))
		return EXIT_USAGE;
	rc = name_take(name, &key);
	if (rc)
		return rc;
	rc = policy_open_write(&m, &e);
	if (rc)
		return rc;
	if (bpf_map_lookup_elem(m.sessions, &key, &s)) {
		policy_close(&m, &e);
		p_info("no session %s is registered: nothing to do", key.name);
		return EXIT_OK;
	}
	rc = session_rules_drop(&e, &s);
	if (!rc)
		rc = policy_commit(&e);
	policy_close(&m, &e);
	if (rc)
		return rc;
	/* the record goes last: a kill before leaves 'down' to do again */
	detached = attach_drop_owned(OP25B_LAYER_SESSION, s.id);
	pins_open(&m, PINS_PEEK);
	/* kept a while first: a reader that has not seen it yet names its events */
	session_ended_keep(m.sessions_ended, &key, &s);
	if (m.sessions >= 0)
		bpf_map_delete_elem(m.sessions, &key);
	/* its device's counters give their slot back (a BRAS's pppN churn) */
	if (detached)
		ifstats_sweep(&m);
	maps_close(&m);
	p_info("session %s down (id %u)%s", key.name, s.id,
	       detached ? ", detached" : "");
	return EXIT_OK;
}

static int entry_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct session_entry *)a)->key.name,
		      ((const struct session_entry *)b)->key.name);
}

void session_prefix_format(const struct op25b_session_prefix *sp, char *buf,
			   size_t len)
{
	struct prefix p;

	prefix_of_session(sp, &p);
	prefix_format(&p, buf, len);
}

/* A session's prefixes, as a JSON array key, each as fmt in text. */
static void prefixes_print(const char *key, const char *fmt,
			   const struct op25b_session_prefix *sp)
{
	char buf[INET6_ADDRSTRLEN + 8];
	int j;

	open_json_array(key);
	for (j = 0; j < OP25B_SESSION_PREFIXES; j++) {
		if (!sp[j].family)
			continue;
		session_prefix_format(&sp[j], buf, sizeof(buf));
		print_string(PRINT_ANY, NULL, fmt, buf);
	}
	close_json_array();
}

static int session_list(int argc, char **argv)
{
	struct args a = ARGS_POS("session list", argc, argv, NULL, 0);
	struct session_entry *v = NULL;
	char t[64];
	struct op25b_maps m;
	size_t i, n = 0;
	int rc;

	if (args_all(&a, NULL))
		return EXIT_USAGE;
	rc = pins_open(&m, PINS_PEEK);
	if (rc)
		return rc;
	rc = sessions_load(m.sessions, &v, &n);
	maps_close(&m);
	if (rc)
		return rc;
	if (n)
		qsort(v, n, sizeof(*v), entry_name_cmp);
	open_json_array(NULL);
	for (i = 0; i < n; i++) {
		const struct op25b_session *s = &v[i].s;

		rfc3339_format(s->started, false, t, sizeof(t));
		open_json_object(NULL);
		print_string(PRINT_ANY, "session", "%s", v[i].key.name);
		print_uint(PRINT_ANY, "id", " id %llu", s->id);
		print_string(PRINT_ANY, "started", " since %s", t);
		if (s->ifname[0])
			print_string(PRINT_ANY, "ifname", " dev %s", s->ifname);
		if (s->user[0])
			print_string(PRINT_ANY, "user", " user %s", s->user);
		if (s->calling[0])
			print_string(PRINT_ANY, "calling_station_id",
				     " line %s", s->calling);
		prefixes_print("address", " address %s", s->addr);
		prefixes_print("allow", " allow %s", s->allow);
		close_json_object();
		print_nl();
	}
	output_list_end();
	free(v);
	return EXIT_OK;
}

int do_session(int argc, char **argv)
{
	if (!argc) {
		p_err("session: missing up, down or list");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[0], "up"))
		return session_up(argc - 1, argv + 1);
	if (!strcmp(argv[0], "down"))
		return session_down(argc - 1, argv + 1);
	if (!strcmp(argv[0], "list"))
		return session_list(argc - 1, argv + 1);
	{
		char q[TOKEN_QUOTE_LEN];

		p_err("session: unknown subcommand '%s' (up, down or list)",
		      token_quote(argv[0], q, sizeof(q)));
	}
	return EXIT_USAGE;
}
