/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Recovery, writers killed mid-change and the pools as an invariant: a
 * part of test_engine (see its head), built in its translation unit over
 * the harness in engine_harness.h.
 */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Microseconds a child takes to open, change 4000 prefixes and commit. */
static useconds_t batch_time(struct engine *e, struct model *m)
{
	struct model copy = model_copy(m);
	double t0 = now_us();
	int i, status;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		struct engine c;

		if (engine_open(&c, &fds, true) || engine_begin(&c))
			_exit(3);
		for (i = 0; i < 4000; i++)
			random_change(&c, &copy);
		/* measured, not kept */
		engine_abort(&c);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	free(copy.r);
	(void)e;
	return (useconds_t)(now_us() - t0);
}

/*
 * A writer killed at a random moment of a large batch: the live snapshot
 * is the one before or the one after, whole, and the next writer rebuilds
 * the engine's state and changes it correctly.
 */
static void test_kill(void)
{
	struct model m = {}, after;
	struct engine e;
	char label[96];
	int run, i, status, before_after[2] = {};
	useconds_t span;
	__u32 gen0;
	pid_t pid;

	maps_fresh(16384);
	eng_open(&e, true);
	/* a base policy */
	random_batch(&e, &m, 3000);

	/* how long such a batch takes: the kills fall anywhere in it */
	span = batch_time(&e, &m);
	for (run = 0; run < 20; run++) {
		unsigned long long seed = rnd();

		gen0 = engine_live(&e)->gen;
		/* the change the child makes, applied to a copy of the model */
		after = model_copy(&m);
		pid = writer_fork(seed, kill_model_change, &after, 4000);
		usleep((useconds_t)(rnd() % (span * 5 / 4 + 1)));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		/* the child's changes, on the model copy */
		rng = seed;
		for (i = 0; i < 4000; i++)
			random_change(NULL, &after);
		rng ^= seed * 2654435761u;
		snprintf(label, sizeof(label), "kill %d (%s)", run,
			 WIFSIGNALED(status) ? "killed" : "finished");
		if (engine_live(&e)->gen == gen0) {
			before_after[0]++;
			agree(&e, &m, label, 400);
		} else {
			before_after[1]++;
			free(m.r);
			m = after;
			after.r = NULL;
			agree(&e, &m, label, 400);
		}
		free(after.r);
		/* the next writer cleans up and works */
		random_batch(&e, &m, 50);
		snprintf(label, sizeof(label), "kill %d: next writer", run);
		agree(&e, &m, label, 400);
	}
	printf("# kill runs: %d left the old snapshot, %d the new\n",
	       before_after[0], before_after[1]);
	engine_close(&e);
	free(m.r);
}

/*
 * The pools are an invariant (doc/DESIGN.md, "Recovery"): after any change
 * that is refused, fails or is killed, the pools' use equals what the live
 * snapshot needs, and a change that fits the capacity is never refused
 * because of what came before. A small capacity (64 prefixes a table) so
 * that the pools fill in a few thousand prefixes: 1,000 changes of four
 * kinds, each followed by a change that fits and must be published.
 */
#define POOLS_RUNS	1000

enum pools_kind { PK_OVER, PK_FULL, PK_BAD, PK_KILL, PK_KINDS };
static const char *const pools_kind_name[PK_KINDS] = {
	"over capacity", "pool full", "bad input after a valid prefix",
	"killed mid-change",
};

static void random_host6(struct prefix *p)
{
	__u64 a = rnd(), b = rnd();

	memset(p, 0, sizeof(*p));
	p->family = AF_INET6;
	p->len = 128;
	memcpy(p->addr, &a, 8);
	memcpy(p->addr + 8, &b, 8);
}

static bool pools_equal(const struct engine_pools *a,
			const struct engine_pools *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static void pools_text(const struct engine_pools *u, char *buf, size_t len)
{
	snprintf(buf, len, "nodes %u, leaves %u, rules %u, index %u",
		 u->nodes.used, u->leaves.used, u->rules.used, u->index.used);
}

/* Books and need agree; the detail of the first time they do not. */
static bool pools_hold(struct engine *e, char *why, size_t len)
{
	struct engine_pools used, need;
	char a[128], b[128];

	if (engine_pools_used(e, &used)) {
		snprintf(why, len, "books: %s", e->err);
		return false;
	}
	if (engine_pools_needed(e, &need))
		tl_bug("needed: %s", e->err);
	if (pools_equal(&used, &need))
		return true;
	pools_text(&used, a, sizeof(a));
	pools_text(&need, b, sizeof(b));
	snprintf(why, len, "used %s; the live snapshot needs %s", a, b);
	return false;
}

/* The child of a killed change: flush, 60 deep host routes, publish. */
static void __attribute__((noreturn)) pools_writer(void)
{
	struct engine c;
	struct prefix p;
	enum engine_change ch;
	size_t n;
	int i;

	if (engine_open(&c, &fds, true) || engine_begin(&c) ||
	    engine_flush(&c, OP25B_TABLE_SUBSCRIBER, &n))
		_exit(3);
	for (i = 0; i < 60; i++) {
		random_host6(&p);
		if (engine_set(&c, OP25B_TABLE_SUBSCRIBER, &p, OP25B_V_DENY, &ch))
			_exit(4);
	}
	_exit(engine_commit(&c) ? 5 : 0);
}

static useconds_t pools_writer_time(void)
{
	struct timespec t0, t1;
	int status;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid == 0)
		pools_writer();
	waitpid(pid, &status, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (useconds_t)((t1.tv_sec - t0.tv_sec) * 1000000 +
			    (t1.tv_nsec - t0.tv_nsec) / 1000) + 1;
}

/*
 * One change that goes wrong as kind says; the live snapshot stays. -1
 * (e->err says why) when it went wrong before it should have: a pool
 * found full by a change that fits them.
 */
static int pools_wrong(struct engine *e, enum pools_kind kind,
			useconds_t span)
{
	enum engine_change ch;
	struct prefix p;
	int i, status;
	pid_t pid;

	if (kind == PK_KILL) {
		pid = fork();
		if (pid == 0)
			pools_writer();
		usleep((useconds_t)(rnd() % (span * 5 / 4 + 1)));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		/* the next writer reclaims what it took */
		if (engine_begin(e))
			tl_bug("begin after a kill: %s", e->err);
		engine_abort(e);
		return 0;
	}
	if (engine_begin(e))
		tl_bug("begin: %s", e->err);
	switch (kind) {
	case PK_OVER:
		/* 100 more host routes than a table holds: refused at commit */
		for (i = 0; i < 164; i++) {
			random_host6(&p);
			if (engine_set(e, OP25B_TABLE_RELAY, &p, OP25B_V_ALLOW, &ch)) {
				engine_abort(e);
				return -1;
			}
		}
		if (engine_commit(e) != -ENOSPC)
			tl_bug("over capacity: the commit was not refused");
		return 0;
	case PK_FULL:
		/* deep host routes with nothing in common, until a pool is full */
		for (i = 0; i < 1000000; i++) {
			random_host6(&p);
			if (engine_set(e, OP25B_TABLE_SUBSCRIBER, &p, OP25B_V_DENY, &ch))
				break;
		}
		if (i == 1000000 ||
		    (!strstr(e->err, "pool is full") &&
		     !strstr(e->err, "no free rule record")))
			tl_bug("pool full: %s", i == 1000000 ? "never full" : e->err);
		break;
	case PK_BAD:
		for (i = (int)(rnd() % 20); i >= 0; i--) {
			random_prefix(rnd() % 2 ? AF_INET : AF_INET6, &p);
			if (engine_set(e, rnd() % 2, &p, OP25B_V_DENY, &ch)) {
				engine_abort(e);
				return -1;
			}
		}
		/* a length past the family's: the engine refuses it */
		random_prefix(AF_INET, &p);
		p.len = 33;
		if (!engine_set(e, OP25B_TABLE_SUBSCRIBER, &p, OP25B_V_DENY, &ch))
			tl_bug("bad: a /33 was taken");
		break;
	default:
		break;
	}
	engine_abort(e);
	return 0;
}

/* A change that fits: a table's prefixes replaced by 64 of another kind. */
static int pools_fit(struct engine *e, bool deep)
{
	enum engine_change ch;
	struct prefix p;
	size_t n;
	int i, err;

	err = engine_begin(e);
	if (!err)
		err = engine_flush(e, OP25B_TABLE_SUBSCRIBER, &n);
	for (i = 0; i < 64 && !err; i++) {
		if (deep)
			random_host6(&p);
		else
			random_prefix(rnd() % 2 ? AF_INET : AF_INET6, &p);
		err = engine_set(e, OP25B_TABLE_SUBSCRIBER, &p,
				 rnd() % 2 ? OP25B_V_DENY : OP25B_V_ALLOW, &ch);
	}
	if (err) {
		engine_abort(e);
		return err;
	}
	return engine_commit(e);
}

/*
 * At capacity 64 the rule records run out first. At the default capacity
 * the node pool does (IPv6 host routes with nothing in common take about
 * 20 nodes each): filled and given back 20 times, then 16,384 prefixes of
 * each table, as deep as they come, must still fit.
 */
static void pools_full_default(void)
{
	char why[300] = "", label[96];
	enum engine_change ch;
	struct prefix p;
	struct engine e;
	int run, i, bad = 0, err = 0;

	maps_fresh(OP25B_CAPACITY_DEFAULT);
	eng_open(&e, true);
	for (run = 0; run < 20; run++) {
		if (engine_begin(&e))
			tl_bug("begin: %s", e.err);
		for (i = 0; i < 1000000; i++) {
			random_host6(&p);
			if (engine_set(&e, run % 2, &p, OP25B_V_DENY, &ch))
				break;
		}
		if (!strstr(e.err, "node pool is full"))
			tl_bug("node pool: %s", e.err);
		engine_abort(&e);
		if (!pools_hold(&e, why, sizeof(why)))
			bad++;
	}
	tl_check(!bad, "pools: 20 times the node pool full: use equals the live snapshot's need",
		 "%d times; e.g. %s", bad, why);
	/* what fits: a full table of shallow prefixes in each */
	err = engine_begin(&e);
	for (i = 0; !err && i < 2 * OP25B_CAPACITY_DEFAULT; i++) {
		p = (struct prefix){ .family = AF_INET, .len = 32 };
		p.addr[0] = 10;
		p.addr[1] = (__u8)(i >> 10);
		p.addr[2] = (__u8)(i >> 2);
		p.addr[3] = (__u8)(i << 6);
		err = engine_set(&e, i % 2, &p, OP25B_V_DENY, &ch);
	}
	if (!err)
		err = engine_commit(&e);
	else
		engine_abort(&e);
	snprintf(label, sizeof(label),
		 "pools: then %d prefixes a table fit", OP25B_CAPACITY_DEFAULT);
	tl_check(!err, label, "%s", e.err);
	tl_check(pools_hold(&e, why, sizeof(why)),
		 "pools: ...and use what they need", "%s", why);
	engine_close(&e);
}

static void test_pools(void)
{
	int runs[PK_KINDS] = {}, bad[PK_KINDS] = {}, refused = 0, run;
	char why[PK_KINDS][300], fit_why[300] = "", label[128];
	struct engine e;
	useconds_t span;
	__u32 gen;

	maps_fresh(OP25B_CAPACITY_MIN);
	eng_open(&e, true);
	if (pools_fit(&e, false))
		tl_bug("base policy: %s", e.err);
	span = pools_writer_time();
	for (run = 0; run < POOLS_RUNS; run++) {
		/* a full pool costs the most to reach: one run in eight */
		enum pools_kind k = run % 8 == 7 ? PK_FULL :
				    (enum pools_kind)(run % 8 % 3 == 0 ? PK_OVER :
						      run % 8 % 3 == 1 ? PK_BAD : PK_KILL);

		gen = engine_live(&e)->gen;
		if (pools_wrong(&e, k, span) && !refused++)
			snprintf(fit_why, sizeof(fit_why), "run %d, %s: %s", run,
				 pools_kind_name[k], e.err);
		runs[k]++;
		if (k != PK_KILL && engine_live(&e)->gen != gen)
			tl_bug("%s: the live snapshot moved", pools_kind_name[k]);
		if (!pools_hold(&e, why[k], sizeof(why[k])) && !bad[k]++)
			snprintf(label, sizeof(label), "run %d", run);
		/* history never refuses what fits */
		if (pools_fit(&e, run % 2)) {
			if (!refused++)
				snprintf(fit_why, sizeof(fit_why),
					 "run %d, after %s: %s", run,
					 pools_kind_name[k], e.err);
		}
	}
	for (run = 0; run < PK_KINDS; run++) {
		snprintf(label, sizeof(label),
			 "pools: after %d changes %s, use equals the live snapshot's need",
			 runs[run], pools_kind_name[run]);
		tl_check(!bad[run], label, "%d times; e.g. %s", bad[run], why[run]);
	}
	tl_check(!refused,
		 "pools: a change that fits is never refused because of history",
		 "%d refused in %d runs; first %s", refused, POOLS_RUNS, fit_why);
	engine_close(&e);
	pools_full_default();
}
