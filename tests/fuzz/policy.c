// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fuzzer's policy: large and moving. The hand-written lines, then
 * thousands of generated prefixes in both tables and families, nested
 * allow/deny/allow across every level and stride edge of the trees, built
 * and then changed in random batches through the controller's own engine
 * on both datapaths, one publish per batch, and mirrored in the oracle's
 * linear-scan tables; the action each block runs under; and every rule's
 * hit counter held to the oracle's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "oracle.h"
#include "gen.h"

/*
 * The policy: the hand-written lines, then INITIAL_PER_TREE generated
 * prefixes in each tree. Every POLICY_BLOCKS blocks a batch of up to
 * BATCH_MAX random changes goes in with the block's action, one publish;
 * one batch in FLUSH_ONE_IN flushes a table first and refills it. Sets
 * turn into deletes while a table holds more than TABLE_HIGH prefixes.
 */
#define INITIAL_PER_TREE	2000
#define BATCH_MAX		200
#define FLUSH_ONE_IN		40
#define TABLE_HIGH		6000

/* ---- the policy, installed in both skeletons and mirrored in the oracle */

struct policy_line {
	int table;
	const char *prefix;
	unsigned int verdict;
};

/*
 * Deny ranges with allow holes and deny holes inside those, relays with
 * carve-outs and a relay inside subscriber space, a /0 and a /128: every
 * way a longest match can be decided by a nested entry. Their addresses
 * are also the bases the generated prefixes cluster around.
 */
static const struct policy_line policy_lines[] = {
	{ T_SUB, "10.0.0.0/8", OP25B_V_DENY },
	{ T_SUB, "10.1.0.0/16", OP25B_V_ALLOW },
	{ T_SUB, "10.1.2.0/24", OP25B_V_DENY },
	{ T_SUB, "10.1.2.3/32", OP25B_V_ALLOW },
	{ T_SUB, "100.64.0.0/10", OP25B_V_DENY },
	{ T_SUB, "192.0.2.0/24", OP25B_V_DENY },
	{ T_SUB, "192.0.2.128/25", OP25B_V_ALLOW },
	{ T_RELAY, "0.0.0.0/0", OP25B_V_DENY },
	{ T_RELAY, "198.51.100.0/24", OP25B_V_ALLOW },
	{ T_RELAY, "198.51.100.128/25", OP25B_V_DENY },
	{ T_RELAY, "198.51.100.200/32", OP25B_V_ALLOW },
	{ T_RELAY, "10.255.0.0/16", OP25B_V_ALLOW },
	{ T_RELAY, "10.255.255.0/24", OP25B_V_DENY },
	{ T_SUB, "2001:db8::/32", OP25B_V_DENY },
	{ T_SUB, "2001:db8:1::/48", OP25B_V_ALLOW },
	{ T_SUB, "2001:db8:1:200::/56", OP25B_V_DENY },
	{ T_SUB, "2001:db8:1:200::25/128", OP25B_V_ALLOW },
	{ T_SUB, "fd00::/8", OP25B_V_DENY },
	{ T_RELAY, "2001:db8:ffff::/48", OP25B_V_ALLOW },
	{ T_RELAY, "2001:db8:ffff:1::/64", OP25B_V_DENY },
	{ T_RELAY, "2001:db8:ffff:1::25/128", OP25B_V_ALLOW },
	{ T_RELAY, "fd00:25::/32", OP25B_V_ALLOW },
};

#define POLICY_N ARRAY_LEN(policy_lines)

/* The default port, one more, and the bitmap's last bit. */
const unsigned int blocked_ports[BLOCKED_PORTS_N] = { OP25B_DEFAULT_PORT,
						       2525, 65535 };

struct parsed_rule {
	int table;
	int family;
	uint8_t addr[16];
	unsigned int plen;
	unsigned int verdict;
};

static struct parsed_rule rules[POLICY_N];
struct oracle_policy oracle;

/* ---- setup */

static int parse_rule(const struct policy_line *l, struct parsed_rule *r)
{
	char buf[64], *slash;
	unsigned int bit, nbits;

	snprintf(buf, sizeof(buf), "%s", l->prefix);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	memset(r, 0, sizeof(*r));
	r->table = l->table;
	r->verdict = l->verdict;
	r->plen = (unsigned int)atoi(slash + 1);
	if (inet_pton(AF_INET, buf, r->addr) == 1)
		r->family = 4;
	else if (inet_pton(AF_INET6, buf, r->addr) == 1)
		r->family = 6;
	else
		return -1;
	nbits = r->family == 4 ? 32 : 128;
	if (r->plen > nbits)
		return -1;
	for (bit = r->plen; bit < nbits; bit++)
		addr_set_bit(r->addr, bit, 0);
	return 0;
}

unsigned long publishes, batches, changes, flushes;
bool len_installed[2][129];

static const char *fz_table_name(int table)
{
	return table == T_SUB ? "subscriber" : "relay";
}

static struct prefix engine_prefix(const struct parsed_rule *r)
{
	struct prefix p = { .family = r->family == 4 ? AF_INET : AF_INET6,
			    .len = r->plen };

	memcpy(p.addr, r->addr, 16);
	return p;
}

static void fmt_rule(char *buf, size_t size, const struct parsed_rule *r)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->addr, a, sizeof(a));
	snprintf(buf, size, "%s %s/%u", fz_table_name(r->table), a, r->plen);
}

/*
 * Every change goes to both datapaths' engines inside one transaction:
 * op (engine_begin, engine_commit) on each, the first failure checked.
 */
static int txn_each(int (*op)(struct engine *), const char *name)
{
	int m;

	for (m = 0; m < MODE_COUNT; m++) {
		if (op(&targets[m].eng)) {
			check(0, "%s %s: %s", mode_name[m], name,
			      targets[m].eng.err);
			return -1;
		}
	}
	return 0;
}

int txn_begin(void)
{
	return txn_each(engine_begin, "engine_begin");
}

int txn_commit(void)
{
	if (txn_each(engine_commit, "engine_commit"))
		return -1;
	publishes++;
	return 0;
}

/*
 * Set r in both engines and the oracle; the engines must tell the change
 * the oracle saw (added, a new verdict, or none).
 */
static int change_set(const struct parsed_rule *r)
{
	struct oracle_table *t = oracle_table_of(r->table);
	struct prefix p = engine_prefix(r);
	enum engine_change want, ch;
	char name[96];
	int i, m;

	i = oracle_find_rule(t, r->family, r->addr, r->plen);
	want = i < 0 ? ENGINE_ADDED :
	       t->rule[i].verdict == r->verdict ? ENGINE_UNCHANGED :
						   ENGINE_CHANGED;
	if (oracle_set_rule(t, r->family, r->addr, r->plen, r->verdict) < 0) {
		check(0, "policy: the oracle's %s table is full",
		      fz_table_name(r->table));
		return -1;
	}
	len_installed[r->family == 6][r->plen] = true;
	changes++;
	for (m = 0; m < MODE_COUNT; m++) {
		struct engine *e = &targets[m].eng;

		if (!engine_set(e, r->table, &p, r->verdict, &ch) && ch == want)
			continue;
		fmt_rule(name, sizeof(name), r);
		check(0, "%s engine_set %s %s: %s (change %d, expected %d)",
		      mode_name[m],
		      r->verdict == OP25B_V_DENY ? "deny" : "allow", name, e->err, (int)ch, (int)want);
		return -1;
	}
	return 0;
}

static int change_del(const struct parsed_rule *r)
{
	struct prefix p = engine_prefix(r);
	enum engine_change want, ch;
	char name[96];
	int m;

	want = oracle_del_rule(oracle_table_of(r->table), r->family, r->addr,
			       r->plen) ? ENGINE_DELETED : ENGINE_ABSENT;
	changes++;
	for (m = 0; m < MODE_COUNT; m++) {
		struct engine *e = &targets[m].eng;

		if (!engine_del(e, r->table, &p, &ch) && ch == want)
			continue;
		fmt_rule(name, sizeof(name), r);
		check(0, "%s engine_del %s: %s (change %d, expected %d)",
		      mode_name[m], name, e->err, (int)ch, (int)want);
		return -1;
	}
	return 0;
}

static int change_flush(int table)
{
	struct oracle_table *t = oracle_table_of(table);
	size_t n;
	int m;

	for (m = 0; m < MODE_COUNT; m++) {
		if (!engine_flush(&targets[m].eng, table, &n) &&
		    n == (size_t)t->n)
			continue;
		check(0, "%s engine_flush %s: %s (%zu prefixes, expected %d)",
		      mode_name[m], fz_table_name(table), targets[m].eng.err, n,
		      t->n);
		return -1;
	}
	t->n = 0;
	flushes++;
	return 0;
}

/*
 * A prefix length on a level edge of one mode's trees: the root table's
 * last bit (r) and every node's (r + 6k), or a neighbour of one; else /0,
 * a host route or one short of it, or any length at all.
 */
static unsigned int pick_plen(int family)
{
	unsigned int nbits = family == 4 ? 32 : 128;
	unsigned int r = mode_root_bits[below(MODE_COUNT)];
	unsigned int depth = OP25B_DEPTH_FOR(nbits, r), b;

	if (chance(20))
		return below(nbits + 1);
	switch (below(16)) {
	case 0:
		return 0;
	case 1:
	case 2:
		return nbits - below(2);
	default:
		b = r + OP25B_STRIDE * below(depth) + below(3);
		return b - 1 > nbits ? nbits : b - 1;
	}
}

/*
 * A prefix for table: nested under (or beside) an entry already there,
 * mostly with the opposite verdict, so carve-outs stack allow in deny in
 * allow; or near one of the hand-written bases; or anywhere.
 */
static void gen_prefix(int table, int family, struct parsed_rule *r)
{
	unsigned int nbits = family == 4 ? 32 : 128, bit, i, from;
	const struct oracle_rule *parent = NULL;
	const struct parsed_rule *base;

	memset(r, 0, sizeof(*r));
	r->table = table;
	r->family = family;
	r->plen = pick_plen(family);
	r->verdict = chance(50) ? OP25B_V_DENY : OP25B_V_ALLOW;
	fill_random(r->addr, nbits / 8);
	if (chance(50))
		parent = pick_rule(chance(80) ? table : !table, family);
	if (parent) {
		if (r->plen <= parent->plen && parent->plen < nbits)
			r->plen = parent->plen + 1 +
				  below(nbits - parent->plen < 12 ?
					nbits - parent->plen : 12);
		for (bit = 0; bit < parent->plen && bit < r->plen; bit++)
			addr_set_bit(r->addr, bit,
				     addr_get_bit(parent->addr, bit));
		if (chance(75))
			r->verdict = parent->verdict == OP25B_V_DENY ?
					     OP25B_V_ALLOW : OP25B_V_DENY;
	} else if (chance(80)) {
		do
			base = &rules[below(POLICY_N)];
		while (base->family != family);
		memcpy(r->addr, base->addr, sizeof(r->addr));
		/* siblings and cousins: flip bits near the prefix's end */
		for (i = 0; r->plen && i < 3; i++) {
			from = r->plen > 12 ? r->plen - 12 : 0;
			if (chance(50)) {
				bit = from + below(r->plen - from);
				addr_set_bit(r->addr, bit,
					     !addr_get_bit(r->addr, bit));
			}
		}
	}
	for (bit = r->plen; bit < nbits; bit++)
		addr_set_bit(r->addr, bit, 0);
	for (bit = nbits / 8; bit < 16; bit++)
		r->addr[bit] = 0;
}

/* The hand-written lines of table, and count generated prefixes per family. */
static int populate(int table, unsigned int count)
{
	struct parsed_rule r;
	unsigned int i;
	int f;

	for (i = 0; i < POLICY_N; i++)
		if (rules[i].table == table && change_set(&rules[i]))
			return -1;
	for (f = 4; f <= 6; f += 2) {
		for (i = 0; i < count; i++) {
			gen_prefix(table, f, &r);
			if (change_set(&r))
				return -1;
		}
	}
	return 0;
}

/* One random change: add, re-verdict, keep, delete, delete an absent one. */
static int random_change(void)
{
	int table = (int)below(2), family = chance(50) ? 4 : 6;
	const struct oracle_rule *o = pick_rule(table, family);
	unsigned int r = below(100);
	struct parsed_rule p;

	if (o) {
		memset(&p, 0, sizeof(p));
		p.table = table;
		p.family = o->family;
		p.plen = o->plen;
		p.verdict = o->verdict;
		memcpy(p.addr, o->addr, sizeof(p.addr));
	}
	if (!o || (r < 45 && oracle_table_of(table)->n <= TABLE_HIGH)) {
		gen_prefix(table, family, &p);
		return change_set(&p);
	}
	if (r >= 65 || oracle_table_of(table)->n > TABLE_HIGH) {
		if (r >= 93)
			gen_prefix(table, family, &p);	/* most likely absent */
		return change_del(&p);
	}
	if (r < 60)
		p.verdict = p.verdict == OP25B_V_DENY ? OP25B_V_ALLOW :
							 OP25B_V_DENY;
	return change_set(&p);
}

/* A batch of changes, inside the block's transaction. */
int policy_batch(void)
{
	unsigned int n = 1 + below(BATCH_MAX), i;
	int table;

	batches++;
	if (!below(FLUSH_ONE_IN)) {
		table = (int)below(2);
		if (change_flush(table) ||
		    populate(table, INITIAL_PER_TREE))
			return -1;
	}
	for (i = 0; i < n; i++)
		if (random_change())
			return -1;
	return 0;
}

/* The action a block of CHECK_EVERY packets runs under. */
unsigned int block_action(unsigned long block)
{
	unsigned long slot = block % ACTION_CYCLE;

	if (slot == MONITOR_BLOCK)
		return OP25B_ACT_MONITOR;
	if (slot == LIMIT_BLOCK || slot == LIMIT_BLOCK + 3)
		return OP25B_ACT_LIMIT;
	/* spread out, not side by side */
	if (slot % (ACTION_CYCLE / REJECT_BLOCKS) == 1)
		return OP25B_ACT_REJECT;
	return OP25B_ACT_DROP;
}

/*
 * Action limit's terms in the fuzzer: a token every 5 ms, bursts of 2, a
 * quarantine of 20 ms, IPv6 sources of FUZZ_PREFIX6 bits; 'then' turns
 * between drop and reject from one limit block to the next.
 */
#define LIMIT_INTERVAL_NS	5000000ULL
#define LIMIT_BURST		2
#define LIMIT_QUARANTINE_NS	40000000ULL
#define FUZZ_PREFIX6		56

/* Inside a transaction: published with its commit. */
void set_action(unsigned int action, unsigned long block)
{
	struct oracle_limit l = {
		.interval_ns = LIMIT_INTERVAL_NS,
		.quarantine_ns = LIMIT_QUARANTINE_NS,
		.burst = LIMIT_BURST,
		.then = (block / ACTION_CYCLE) % 2 ? OP25B_ACT_REJECT :
						     OP25B_ACT_DROP,
		.prefix6 = FUZZ_PREFIX6,
	};
	int m;

	oracle.action = action;
	oracle.limit = l;
	for (m = 0; m < MODE_COUNT; m++) {
		struct op25b_config *cfg = engine_config(&targets[m].eng);

		cfg->action = action;
		memset(&cfg->limit, 0, sizeof(cfg->limit));
		cfg->limit.interval_ns = l.interval_ns;
		cfg->limit.quarantine_ns = l.quarantine_ns;
		cfg->limit.burst = l.burst;
		cfg->limit.then = l.then;
		cfg->limit.prefix6 = (__u8)l.prefix6;
		cfg->limit.rate = 1000;
		cfg->limit.period_s = 1;
	}
}

int setup_policy(void)
{
	size_t i, j;
	int m;

	oracle_policy_init(&oracle);
	for (i = 0; i < POLICY_N; i++) {
		if (parse_rule(&policy_lines[i], &rules[i])) {
			fprintf(stderr, "fuzz: bad policy line '%s'\n",
				policy_lines[i].prefix);
			return -1;
		}
	}
	if (txn_begin())
		return -1;
	for (m = 0; m < MODE_COUNT; m++) {
		struct op25b_config *cfg = engine_config(&targets[m].eng);

		memset(cfg->ports, 0, sizeof(cfg->ports));
		/* The whole set is ours: no reliance on the default. */
		for (j = 0; j < ARRAY_LEN(blocked_ports); j++) {
			unsigned int p = blocked_ports[j];

			cfg->ports[p / 64] |= 1ULL << (p % 64);
		}
	}
	for (j = 0; j < ARRAY_LEN(blocked_ports); j++)
		oracle.port_blocked[blocked_ports[j]] = 1;
	set_action(OP25B_ACT_DROP, 0);
	if (populate(T_SUB, INITIAL_PER_TREE) ||
	    populate(T_RELAY, INITIAL_PER_TREE))
		return -1;
	return txn_commit();
}

/* ---- hit counters: every live rule's, against the oracle's entries */

struct hit_row {
	int table;
	int family;
	unsigned int plen;
	unsigned int verdict;
	uint8_t addr[16];
	uint64_t hits;
};

static int hit_row_cmp(const void *a, const void *b)
{
	const struct hit_row *x = a, *y = b;

	if (x->table != y->table)
		return x->table - y->table;
	if (x->family != y->family)
		return x->family - y->family;
	if (x->plen != y->plen)
		return x->plen < y->plen ? -1 : 1;
	return memcmp(x->addr, y->addr, 16);
}

static void fmt_row(char *buf, size_t size, const struct hit_row *h)
{
	struct parsed_rule r = { .table = h->table, .family = h->family,
				 .plen = h->plen };

	memcpy(r.addr, h->addr, 16);
	fmt_rule(buf, size, &r);
}

/*
 * The engine's live rules are the oracle's entries, with their verdicts,
 * and each has counted exactly the packets the oracle says it decided.
 */
int check_hits(int mode)
{
	struct target *t = &targets[mode];
	struct hit_row *want, *got;
	struct engine_rule *v;
	size_t n, nw = 0, i, bad = 0;
	char name[96];
	int table, k;

	if (engine_rules(&t->eng, ENGINE_ALL_TABLES, true, &v, &n)) {
		check(0, "%s hits: engine_rules: %s", mode_name[mode],
		      t->eng.err);
		return -1;
	}
	want = calloc((size_t)(oracle.subscriber.n + oracle.relay.n) + 1,
		      sizeof(*want));
	got = calloc(n + 1, sizeof(*got));
	if (!want || !got) {
		fprintf(stderr, "fuzz: out of memory\n");
		exit(2);
	}
	for (table = T_SUB; table <= T_RELAY; table++) {
		const struct oracle_table *ot = oracle_table_of(table);

		for (k = 0; k < ot->n; k++, nw++) {
			want[nw].table = table;
			want[nw].family = ot->rule[k].family;
			want[nw].plen = ot->rule[k].plen;
			want[nw].verdict = ot->rule[k].verdict;
			memcpy(want[nw].addr, ot->rule[k].addr, 16);
			want[nw].hits = ot->rule[k].hits[mode == MODE_L3];
		}
	}
	for (i = 0; i < n; i++) {
		got[i].table = (int)v[i].table;
		got[i].family = v[i].p.family == AF_INET ? 4 : 6;
		got[i].plen = v[i].p.len;
		got[i].verdict = v[i].verdict;
		memcpy(got[i].addr, v[i].p.addr, 16);
		got[i].hits = v[i].hits;
	}
	free(v);
	qsort(want, nw, sizeof(*want), hit_row_cmp);
	qsort(got, n, sizeof(*got), hit_row_cmp);
	t->hit_checks++;
	if (n != nw) {
		check(0, "%s rules: the engine publishes %zu, the oracle holds "
			 "%zu", mode_name[mode], n, nw);
		bad++;
	}
	for (i = 0; i < n && i < nw && bad < 5; i++) {
		if (hit_row_cmp(&want[i], &got[i])) {
			fmt_row(name, sizeof(name), &want[i]);
			check(0, "%s rules: the oracle's %s is not published "
				 "(sorted row %zu)", mode_name[mode], name, i);
			bad++;
			break;
		}
		if (want[i].verdict == got[i].verdict &&
		    want[i].hits == got[i].hits)
			continue;
		fmt_row(name, sizeof(name), &want[i]);
		check(0, "%s rule %s: verdict %u, %" PRIu64 " hits expected; "
			 "verdict %u, %" PRIu64 " hits seen", mode_name[mode],
		      name, want[i].verdict, want[i].hits, got[i].verdict,
		      got[i].hits);
		bad++;
	}
	free(want);
	free(got);
	if (bad)
		printf("#   after %lu publishes; reproduce: "
		       "fuzz -s %llu -n %lu\n", publishes, seed, packets_run);
	return bad ? -1 : 0;
}
