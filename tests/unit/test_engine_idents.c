/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A part of test_engine (see its head), built in its translation unit
 * over the harness in engine_harness.h.
 */

/*
 * ---- who may connect: the identities in the transaction ----
 *
 * doc/DESIGN.md, "Who may connect": records born and killed in the
 * generation a change publishes, settled at every begin. Against a model
 * (a set of keys and names), over random changes that are committed,
 * aborted, or made by a writer killed at a random moment; and published
 * with the tables in one store (a reader never sees a rule of a change
 * without its identity, or the reverse).
 */
#define ID_KEYS		48

struct mident {
	bool in;
	char name[16];
};

static void id_key(int k, __u32 *kind, __u64 *id)
{
	*kind = OP25B_ID_UID + (__u32)(k % 3);
	*id = 1000 + (__u64)(k / 3);
}

/* What the socket hooks see at generation g, key by key (bpf/cgroup.h). */
static bool id_alive_at(int fd, int k, __u32 g)
{
	struct op25b_ident_key key = {};
	struct op25b_ident v;

	id_key(k, &key.kind, &key.id);
	if (bpf_map_lookup_elem(fd, &key, &v))
		return false;
	return v.born && v.born <= g && (!v.died || v.died > g);
}

static size_t id_entries(int fd)
{
	struct op25b_ident_key k, last;
	size_t n = 0;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : &last, &k)) {
		first = false;
		last = k;
		n++;
	}
	return n;
}

/* The engine's reading, the hooks' view and the model agree. */
static bool ids_agree(struct engine *e, const struct mident *m,
		      const char *label, bool settled)
{
	struct engine_ident *v = NULL;
	size_t n = 0, i, want = 0;
	__u32 g = engine_live(e)->gen;
	char l[160];
	bool ok = true;
	int k;

	if (engine_idents(e, &v, &n))
		tl_bug("engine_idents: %s", e->err);
	for (k = 0; k < ID_KEYS; k++) {
		want += m[k].in;
		if (id_alive_at(fds.idents, k, g) != m[k].in)
			ok = false;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < ID_KEYS; k++) {
			__u32 kind;
			__u64 id;

			id_key(k, &kind, &id);
			if (kind == v[i].kind && id == v[i].id)
				break;
		}
		if (k == ID_KEYS || !m[k].in || strcmp(m[k].name, v[i].name))
			ok = false;
	}
	if (n != want || (settled && id_entries(fds.idents) != want))
		ok = false;
	snprintf(l, sizeof(l), "%s: %zu identities as the model has them", label,
		 want);
	tl_check(ok, l, "engine %zu, map %zu, model %zu", n,
		 id_entries(fds.idents), want);
	free(v);
	return ok;
}

static void id_change(struct engine *e, struct mident *m);

static void kill_id_change(struct engine *e, void *m)
{
	id_change(e, m);
}

static void id_change(struct engine *e, struct mident *m)
{
	enum engine_change ch;
	__u32 kind;
	__u64 id;
	int k = (int)(rnd() % ID_KEYS);

	id_key(k, &kind, &id);
	if (rnd() % 3) {
		snprintf(m[k].name, sizeof(m[k].name), "n%llu",
			 (unsigned long long)(rnd() % 4));
		m[k].in = true;
		if (e && engine_ident_set(e, kind, id, m[k].name, &owner_file,
					  0, &ch))
			tl_bug("engine_ident_set: %s", e->err);
	} else {
		m[k].in = false;
		if (e && engine_ident_del(e, kind, id, &ch))
			tl_bug("engine_ident_del: %s", e->err);
	}
}

struct id_reader {
	atomic_bool stop;
	unsigned long reads, mixed;
};

/* Rule 10.99.0.0/16 and uid 4242 come and go together. */
static void *id_read_loop(void *arg)
{
	struct id_reader *r = arg;
	struct engine e;
	struct prefix p = { .family = AF_INET, .len = 16,
			    .addr = { 10, 99 } };
	__u8 a[16] = { 10, 99, 1, 1 };

	(void)p;
	if (engine_open(&e, &fds, false))
		return NULL;
	while (!atomic_load(&r->stop)) {
		struct engine_rule er;
		struct op25b_ident_key key = { .kind = OP25B_ID_UID, .id = 4242 };
		struct op25b_ident v;
		__u32 g = engine_read_begin(&e);
		bool rule = engine_match(&e, OP25B_TABLE_SUBSCRIBER, AF_INET, a,
					 &er) && er.p.len == 16;
		bool id = !bpf_map_lookup_elem(fds.idents, &key, &v) && v.born &&
			  v.born <= g && (!v.died || v.died > g);

		if (!engine_read_done(&e, g))
			continue;
		r->reads++;
		r->mixed += rule != id;
	}
	engine_close(&e);
	return NULL;
}

static void test_idents(void)
{
	struct mident m[ID_KEYS] = {}, after[ID_KEYS];
	struct prefix p = { .family = AF_INET, .len = 16, .addr = { 10, 99 } };
	struct id_reader rd = {};
	enum engine_change ch;
	struct engine e;
	pthread_t t;
	char label[96];
	int run, i, status, n, outcome[2] = {};
	__u32 gen0;
	pid_t pid;

	maps_fresh(1024);
	if (fds.idents < 0)
		tl_bug("the skeleton has no identities map");
	eng_open(&e, true);
	/* committed and aborted changes */
	for (run = 0; run < 200; run++) {
		bool abort_it = !(rnd() % 4);

		memcpy(after, m, sizeof(m));
		if (engine_begin(&e))
			tl_bug("engine_begin: %s", e.err);
		n = 1 + (int)(rnd() % 12);
		for (i = 0; i < n; i++)
			id_change(&e, after);
		if (abort_it) {
			engine_abort(&e);
		} else {
			if (engine_commit(&e))
				tl_bug("engine_commit: %s", e.err);
			memcpy(m, after, sizeof(m));
		}
		if (run % 20 == 19 || abort_it) {
			snprintf(label, sizeof(label), "idents %d (%s)", run,
				 abort_it ? "aborted" : "committed");
			if (!ids_agree(&e, m, label, true))
				break;
		}
	}
	/* writers killed at random moments */
	for (run = 0; run < 40; run++) {
		unsigned long long seed = rnd();

		gen0 = engine_live(&e)->gen;
		memcpy(after, m, sizeof(m));
		pid = writer_fork(seed, kill_id_change, after, 40);
		usleep((useconds_t)(rnd() % 3000));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		rng = seed;
		for (i = 0; i < 40; i++)
			id_change(NULL, after);
		rng ^= seed * 2654435761u;
		if (engine_live(&e)->gen != gen0)
			memcpy(m, after, sizeof(m));
		outcome[engine_live(&e)->gen != gen0]++;
		snprintf(label, sizeof(label), "idents kill %d (%s, %s)", run,
			 WIFSIGNALED(status) ? "killed" : "finished",
			 engine_live(&e)->gen != gen0 ? "published" : "not published");
		ids_agree(&e, m, label, false);
		/* the next writer settles what the dead one left */
		if (engine_begin(&e))
			tl_bug("engine_begin: %s", e.err);
		id_change(&e, m);
		if (engine_commit(&e))
			tl_bug("engine_commit: %s", e.err);
		snprintf(label, sizeof(label), "idents kill %d: next writer", run);
		ids_agree(&e, m, label, true);
	}
	printf("# idents kill runs: %d left the old snapshot, %d the new\n",
	       outcome[0], outcome[1]);
	/* one store: a rule and an identity of one change, seen together */
	pthread_create(&t, NULL, id_read_loop, &rd);
	for (run = 0; run < 2000; run++) {
		if (engine_begin(&e))
			tl_bug("engine_begin: %s", e.err);
		if (run % 2) {
			engine_del(&e, OP25B_TABLE_SUBSCRIBER, &p, &ch);
			engine_ident_del(&e, OP25B_ID_UID, 4242, &ch);
		} else {
			engine_set(&e, OP25B_TABLE_SUBSCRIBER, &p, OP25B_V_DENY, &ch);
			engine_ident_set(&e, OP25B_ID_UID, 4242, "", &owner_file, 0,
					 &ch);
		}
		if (engine_commit(&e))
			tl_bug("engine_commit: %s", e.err);
	}
	atomic_store(&rd.stop, true);
	pthread_join(t, NULL);
	tl_check(rd.reads > 0 && !rd.mixed,
		 "idents: a rule and an identity of one change are published together",
		 "%lu of %lu reads saw one without the other", rd.mixed, rd.reads);
	engine_close(&e);
}
