// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Who may connect (doc/DESIGN.md, "Who may connect"): exemptions by
 * identity, 'allow uid NAME|ID', 'allow gid NAME|ID' and 'allow cgroup
 * PATH', for the socket hooks. Their words resolved to what the kernel
 * knows (a name when applied; a number is kept as given), the commands'
 * part of them (allow, del, flush, list), apply's difference and save's
 * statements. The records are the engine's (engine_ident.c): published
 * with the snapshot of the change that makes them.
 *
 * A name that does not resolve (no such user or group, no such cgroup
 * yet) is kept, waiting, under a key no connect ever matches: it exempts
 * nobody until it resolves (at the next apply, allow or watch's look).
 * A user deleted after an apply stays exempt by number until the next
 * one, when its name no longer resolves and its record waits again: a
 * new account given the number later does not inherit the exemption
 * past that reload.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include "op25bctl.h"

static __u64 name_hash(const char *s)
{
	__u64 h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A user or group name as useradd(8) and the NSS take them. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 64 || s[0] == '-')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == ',')
			return false;
	}
	return true;
}

int ident_resolve(__u32 kind, const char *word, struct ident_want *w,
		  char *why, size_t len)
{
	char q[TOKEN_QUOTE_LEN], rel[OP25B_CGROUP_PATH];
	__u64 v;
	int err, rc;

	memset(w, 0, sizeof(*w));
	w->kind = kind;
	if (kind == OP25B_ID_CGROUP) {
		rc = cgroup_path_norm(word, rel, sizeof(rel), why, len);
		if (rc)
			return rc;
		snprintf(w->name, sizeof(w->name), "%s", rel);
		err = cgroup_id_of(rel, &w->id);
		if (err == -ENOENT || err == -ENOTDIR) {
			w->kind |= OP25B_ID_PENDING;
			w->id = name_hash(rel);
			return EXIT_OK;
		}
		if (err) {
			p_say(why, len, "cgroup %s: %s", cgroup_shown(rel),
			      err == -EINVAL ? "no cgroup v2 hierarchy is mounted" :
			      errstr(err));
			return EXIT_RUNTIME;
		}
		return EXIT_OK;
	}
	if (all_digits(word)) {
		if (number_parse(word, strlen(word), 0, 4294967294ULL, &v)) {
			p_say(why, len, "bad %s '%s': must be 0-4294967294",
			      ident_kind_name(kind), token_quote(word, q, sizeof(q)));
			return EXIT_USAGE;
		}
		w->id = v;
		return EXIT_OK;
	}
	if (!name_ok(word)) {
		p_say(why, len, "bad %s '%s': not a %s name or number",
		      ident_kind_name(kind), token_quote(word, q, sizeof(q)),
		      kind == OP25B_ID_UID ? "user" : "group");
		return EXIT_USAGE;
	}
	snprintf(w->name, sizeof(w->name), "%s", word);
	if (kind == OP25B_ID_UID) {
		struct passwd *pw = getpwnam(word);

		if (pw) {
			w->id = pw->pw_uid;
			return EXIT_OK;
		}
	} else {
		struct group *gr = getgrnam(word);

		if (gr) {
			w->id = gr->gr_gid;
			return EXIT_OK;
		}
	}
	w->kind |= OP25B_ID_PENDING;
	w->id = name_hash(word);
	return EXIT_OK;
}

bool ident_pending(__u32 kind)
{
	return kind & OP25B_ID_PENDING;
}

/* What an identity is called: its name (and number), or its number. */
void ident_format(__u32 kind, __u64 id, const char *name, char *buf,
		  size_t len)
{
	__u32 base = kind & ~(__u32)OP25B_ID_PENDING;

	if (base == OP25B_ID_CGROUP)
		snprintf(buf, len, "%s", cgroup_shown(name));
	else if (!*name)
		snprintf(buf, len, "%llu", (unsigned long long)id);
	else
		snprintf(buf, len, "%s", name);
}

/* The statement that says it, as save writes it. */
void ident_statement(const struct engine_ident *r, char *buf, size_t len)
{
	char what[OP25B_IDENT_NAME + 24];

	ident_format(r->kind, r->id, r->name, what, sizeof(what));
	snprintf(buf, len, "allow %s %s", ident_kind_name(r->kind), what);
}

/* ---- the commands' part ---- */

static const char *ident_need(int kind)
{
	return kind == OP25B_ID_CGROUP ? "PATH" : "NAME or ID";
}

/*
 * The file layer's record a del names: by the number given, or by the
 * name (resolved or waiting) it was given with. NULL: none.
 */
static const struct engine_ident *ident_find(const struct engine_ident *v,
					     size_t n, __u32 kind,
					     const struct ident_want *w)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].layer != OP25B_LAYER_FILE ||
		    (v[i].kind & ~(__u32)OP25B_ID_PENDING) != kind)
			continue;
		if (w->name[0] ? !strcmp(v[i].name, w->name) :
				 !ident_pending(v[i].kind) && v[i].id == w->id)
			return &v[i];
	}
	return NULL;
}

int ident_change(const char *verb, __u32 verdict, int argc, char **argv)
{
	const char **pos = calloc(argc + 1, sizeof(*pos));
	struct args a = ARGS_POS(verb, argc, argv, pos, argc);
	struct engine_ident *live = NULL;
	struct ident_want *w = NULL;
	size_t i, nlive = 0, cnt[5] = {}, waiting = 0;
	enum engine_change *chg = NULL;
	struct op25b_maps m;
	struct engine e;
	int kind, rc, n;

	if (!pos) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	rc = args_all(&a, NULL) ? EXIT_USAGE : EXIT_OK;
	if (rc)
		goto out;
	kind = ident_kind_parse(pos[0]);
	n = a.npos - 1;
	if (verdict == OP25B_V_DENY) {
		p_err("deny %s: identities are only exempted ('allow %s'); a connect that is not exempt is judged as the tables say",
		      pos[0], pos[0]);
		rc = EXIT_USAGE;
		goto out;
	}
	if (n < 1) {
		p_err("%s %s: missing %s", verb, pos[0], ident_need(kind));
		rc = EXIT_USAGE;
		goto out;
	}
	w = calloc(n, sizeof(*w));
	chg = calloc(n, sizeof(*chg));
	if (!w || !chg) {
		p_err("out of memory");
		rc = EXIT_RUNTIME;
		goto out;
	}
	/* every word checked before anything changes */
	for (i = 0; i < (size_t)n; i++) {
		rc = ident_resolve(kind, pos[i + 1], &w[i], NULL, 0);
		if (rc)
			goto out;
	}
	rc = policy_open_write(&m, &e);
	if (rc)
		goto out;
	if (!engine_has_idents(&e)) {
		p_err("the pinned maps under %s have no identities map", g.pin_dir);
		rc = EXIT_RUNTIME;
	} else if (engine_idents(&e, &live, &nlive)) {
		p_err("%s", e.err);
		rc = EXIT_RUNTIME;
	}
	for (i = 0; !rc && i < (size_t)n; i++) {
		const struct engine_ident *r;
		int err;

		if (verdict == OP25B_V_NONE) {
			r = ident_find(live, nlive, kind, &w[i]);
			chg[i] = ENGINE_ABSENT;
			err = r ? engine_ident_del(&e, r->kind, r->id, &chg[i]) : 0;
		} else {
			err = engine_ident_set(&e, w[i].kind, w[i].id, w[i].name,
					       &owner_file, OP25B_RF_RUNTIME,
					       &chg[i]);
			waiting += ident_pending(w[i].kind);
		}
		if (err) {
			p_err("cannot %s %s %s: %s; nothing was changed", verb,
			      pos[0], pos[i + 1], e.err);
			rc = EXIT_RUNTIME;
		}
		cnt[chg[i]]++;
	}
	if (!rc)
		rc = policy_commit(&e);
	policy_close(&m, &e);
	if (rc)
		goto out;
	if (g.json) {
		open_json_array(NULL);
		for (i = 0; i < (size_t)n; i++) {
			open_json_object(NULL);
			print_string(PRINT_JSON, "table", NULL, pos[0]);
			print_string(PRINT_JSON, "name", NULL, pos[i + 1]);
			if (!ident_pending(w[i].kind))
				print_uint(PRINT_JSON, "id", NULL, w[i].id);
			print_bool(PRINT_JSON, "pending", NULL,
				   ident_pending(w[i].kind));
			print_string(PRINT_JSON, "change", NULL,
				     change_name(chg[i]));
			close_json_object();
		}
		output_list_end();
	}
	if (verdict == OP25B_V_NONE)
		p_info("%zu/%d exemptions deleted", cnt[ENGINE_DELETED], n);
	else
		p_info("%zu/%d exemptions added, %zu unchanged%s", cnt[ENGINE_ADDED] +
		       cnt[ENGINE_CHANGED], n, cnt[ENGINE_UNCHANGED],
		       waiting ? "; some name nothing that exists now: they exempt nobody until they do (list shows them waiting)" : "");
out:
	free(live);
	free(chg);
	free(w);
	free(pos);
	return rc;
}

int ident_flush(int kind)
{
	struct engine_ident *live = NULL;
	size_t i, nlive = 0, done = 0;
	enum engine_change ch;
	struct op25b_maps m;
	struct engine e;
	int rc;

	rc = policy_open_write(&m, &e);
	if (rc)
		return rc;
	if (engine_idents(&e, &live, &nlive)) {
		p_err("%s", e.err);
		rc = EXIT_RUNTIME;
	}
	for (i = 0; !rc && i < nlive; i++) {
		if (live[i].layer != OP25B_LAYER_FILE ||
		    (live[i].kind & ~(__u32)OP25B_ID_PENDING) != (__u32)kind)
			continue;
		if (engine_ident_del(&e, live[i].kind, live[i].id, &ch)) {
			p_err("cannot flush %s: %s; nothing was changed",
			      ident_kind_name(kind), e.err);
			rc = EXIT_RUNTIME;
		}
		done++;
	}
	if (!rc)
		rc = policy_commit(&e);
	policy_close(&m, &e);
	free(live);
	if (!rc)
		p_info("%zu exemptions flushed", done);
	return rc;
}

static int ident_order(const void *va, const void *vb)
{
	const struct engine_ident *a = va, *b = vb;
	__u32 ka = a->kind & ~(__u32)OP25B_ID_PENDING;
	__u32 kb = b->kind & ~(__u32)OP25B_ID_PENDING;
	int c;

	if (ka != kb)
		return ka < kb ? -1 : 1;
	/* numbers first, by number; then names */
	if (!a->name[0] != !b->name[0])
		return a->name[0] ? 1 : -1;
	if (!a->name[0])
		return a->id < b->id ? -1 : a->id > b->id;
	c = strcmp(a->name, b->name);
	return c ? c : a->layer < b->layer ? -1 : a->layer > b->layer;
}

void idents_sort(struct engine_ident *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), ident_order);
}

/* One row of list: JSON objects in the caller's array. */
void idents_print(const struct engine_ident *v, size_t n)
{
	char what[OP25B_IDENT_NAME + 24], id[32];
	size_t i;

	if (n) {
		print_string(PRINT_FP, NULL, "%-10s  ", "IDENTITY");
		print_string(PRINT_FP, NULL, "%-32s  ", "NAME");
		print_string(PRINT_FP, NULL, "%-20s  ", "ID");
		print_string(PRINT_FP, NULL, "%s", "OWNER");
		print_nl();
	}
	for (i = 0; i < n; i++) {
		bool waiting = ident_pending(v[i].kind);

		ident_format(v[i].kind, v[i].id, v[i].name, what, sizeof(what));
		if (waiting)
			snprintf(id, sizeof(id), "%s", "waiting");
		else
			snprintf(id, sizeof(id), "%llu",
				 (unsigned long long)v[i].id);
		open_json_object(NULL);
		print_string(PRINT_ANY, "table", "%-10s  ",
			     ident_kind_name(v[i].kind));
		print_string(PRINT_ANY, "name", "%-32s  ", what);
		print_string(PRINT_FP, NULL, "%-20s  ", id);
		if (!waiting)
			print_uint(PRINT_JSON, "id", NULL, v[i].id);
		print_bool(PRINT_JSON, "pending", NULL, waiting);
		print_string(PRINT_ANY, "verdict", NULL, "allow");
		print_string(PRINT_FP, NULL, "%s",
			     v[i].flags & OP25B_RF_RUNTIME ? "file*" : "file");
		print_string(PRINT_JSON, "layer", NULL, layer_name(v[i].layer));
		print_bool(PRINT_JSON, "runtime_edit", NULL,
			   v[i].flags & OP25B_RF_RUNTIME);
		close_json_object();
		print_nl();
	}
}

/* ---- apply and save ---- */

/*
 * The file layer's identities made want[0..n)'s in the change under way
 * (resolved already, once each). With e NULL, the plan printed. Counts
 * what changes.
 */
int idents_diff(struct engine *e, const struct engine_ident *live,
		size_t nlive, const struct ident_want *want, size_t n,
		size_t *changes, bool print)
{
	enum engine_change ch;
	char text[OP25B_IDENT_NAME + 32];
	size_t i, j;

	*changes = 0;
	for (i = 0; i < nlive; i++) {
		bool keep = false;

		if (live[i].layer != OP25B_LAYER_FILE)
			continue;
		for (j = 0; j < n && !keep; j++)
			keep = want[j].kind == live[i].kind &&
			       want[j].id == live[i].id &&
			       !strcmp(want[j].name, live[i].name);
		if (keep)
			continue;
		(*changes)++;
		if (print) {
			ident_statement(&live[i], text, sizeof(text));
			plan_print("-", "del", "statement", "%s", text,
				   live[i].flags & OP25B_RF_RUNTIME ?
				   "  # an edit made at runtime, not in the file" :
				   NULL);
		}
		if (e && engine_ident_del(e, live[i].kind, live[i].id, &ch))
			return -1;
	}
	for (j = 0; j < n; j++) {
		bool held = false;

		for (i = 0; i < nlive && !held; i++)
			held = live[i].layer == OP25B_LAYER_FILE &&
			       want[j].kind == live[i].kind &&
			       want[j].id == live[i].id &&
			       !strcmp(want[j].name, live[i].name) &&
			       !(live[i].flags & OP25B_RF_RUNTIME);
		if (held)
			continue;
		for (i = 0; i < nlive && !held; i++)
			held = live[i].layer == OP25B_LAYER_FILE &&
			       want[j].kind == live[i].kind &&
			       want[j].id == live[i].id &&
			       !strcmp(want[j].name, live[i].name);
		/* a runtime edit the file now holds: made the file's, quietly */
		if (!held)
			(*changes)++;
		if (print && !held) {
			struct engine_ident r = { .kind = want[j].kind,
						  .id = want[j].id };

			memcpy(r.name, want[j].name, sizeof(r.name));
			ident_statement(&r, text, sizeof(text));
			plan_print("+", "add", "statement", "%s", text,
				   ident_pending(want[j].kind) ?
				   "  # waiting: names nothing that exists now" :
				   NULL);
		}
		if (e && engine_ident_set(e, want[j].kind, want[j].id,
					  want[j].name, &owner_file, 0, &ch))
			return -1;
	}
	return 0;
}

/* save: the file layer's, by kind then number or name. */
void idents_save(FILE *f, struct engine_ident *v, size_t n)
{
	char text[OP25B_IDENT_NAME + 32];
	size_t i;

	idents_sort(v, n);
	for (i = 0; i < n; i++) {
		if (v[i].layer != OP25B_LAYER_FILE)
			continue;
		ident_statement(&v[i], text, sizeof(text));
		fprintf(f, "%s\n", text);
	}
}

/*
 * watch, once a second: the file layer's identities whose name resolves
 * otherwise now (a cgroup made again, a user or cgroup that came) made
 * to match, in one change. *done: how many moved.
 */
int idents_refresh(size_t *done)
{
	struct engine_ident *live = NULL;
	struct ident_want w;
	size_t i, nlive = 0;
	enum engine_change ch;
	struct op25b_maps m;
	struct engine e;
	int rc;

	*done = 0;
	if (!pins_present())
		return EXIT_OK;
	/* a look without the lock first: most seconds nothing moved */
	rc = policy_open_read(&m, &e);
	if (rc)
		return rc;
	rc = engine_idents(&e, &live, &nlive) ? EXIT_RUNTIME : EXIT_OK;
	policy_close(&m, &e);
	for (i = 0; !rc && i < nlive; i++) {
		if (!live[i].name[0] || live[i].layer != OP25B_LAYER_FILE)
			continue;
		if (ident_resolve(live[i].kind & ~(__u32)OP25B_ID_PENDING,
				  live[i].name, &w, (char[256]){ 0 }, 256))
			continue;
		if (w.kind != live[i].kind || w.id != live[i].id)
			(*done)++;
	}
	free(live);
	live = NULL;
	if (rc || !*done)
		return rc;
	*done = 0;
	rc = policy_open_write(&m, &e);
	if (rc)
		return rc;
	if (engine_idents(&e, &live, &nlive))
		rc = EXIT_RUNTIME;
	for (i = 0; !rc && i < nlive; i++) {
		if (!live[i].name[0] || live[i].layer != OP25B_LAYER_FILE)
			continue;
		if (ident_resolve(live[i].kind & ~(__u32)OP25B_ID_PENDING,
				  live[i].name, &w, (char[256]){ 0 }, 256) ||
		    (w.kind == live[i].kind && w.id == live[i].id))
			continue;
		if (engine_ident_del(&e, live[i].kind, live[i].id, &ch) ||
		    engine_ident_set(&e, w.kind, w.id, w.name, &owner_file,
				     live[i].flags, &ch))
			rc = EXIT_RUNTIME;
		(*done)++;
	}
	if (!rc)
		rc = policy_commit(&e);
	else
		p_err("cannot follow the exemptions' names: %s", e.err);
	policy_close(&m, &e);
	free(live);
	return rc;
}
