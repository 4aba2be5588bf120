// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Differential fuzzer: generated frames go through op25b_xdp and op25b_tc
 * (BPF_PROG_TEST_RUN) and through the reference model in oracle.c; any
 * difference in verdict or in the per-CPU counters is a failure.
 *
 * Frames are built shape by shape (VLAN stacks, PPPoE, IPv4 options and
 * fragments, IPv6 extension chains, ports and addresses near the policy's
 * edges) and then a large share is mutated or cut, often inside a header,
 * because the interesting bugs live where a length field and the frame's
 * real end disagree: gen.c.
 *
 * The policy is large and moving: thousands of prefixes in both tables and
 * families, nested allow/deny/allow across every level and stride edge of
 * the trees, built and then changed in random batches through the
 * controller's own engine, one publish per batch, and mirrored in the
 * oracle's linear-scan tables. Each rule's hit counter is compared too.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <linux/if_ether.h>
#include <linux/ppp_defs.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "op25b.h"
#include "op25b.skel.h"
#include "skel_sizes.h"
#include "testlib.h"
#include "engine.h"
#include "oracle.h"
#include "gen.h"

/*
 * Counters are compared, and the action may switch, every CHECK_EVERY
 * packets; of every ACTION_CYCLE such blocks, one runs with action monitor
 * and REJECT_BLOCKS with action reject, the rest with drop. A run of
 * COVERAGE_MIN packets or more must have produced every class, and
 * answers of each kind.
 */
#define CHECK_EVERY	1024
#define ACTION_CYCLE	8
#define MONITOR_BLOCK	7
#define REJECT_BLOCKS	2
#define LIMIT_BLOCK	3	/* and LIMIT_BLOCK + 3: action limit */
#define COVERAGE_MIN	100000
#define PROGRESS_EVERY	1000000
/*
 * The policy: the hand-written lines, then INITIAL_PER_TREE generated
 * prefixes in each tree. Every POLICY_BLOCKS blocks a batch of up to
 * BATCH_MAX random changes goes in with the block's action, one publish;
 * one batch in FLUSH_ONE_IN flushes a table first and refills it. Sets
 * turn into deletes while a table holds more than TABLE_HIGH prefixes.
 */
#define INITIAL_PER_TREE	2000
#define POLICY_BLOCKS		1
#define BATCH_MAX		200
#define FLUSH_ONE_IN		40
#define TABLE_HIGH		6000


#define DEFAULT_PACKETS	200000
#define DEFAULT_SEED	1

enum { MODE_L2, MODE_L3, MODE_COUNT };

static const char *const mode_name[MODE_COUNT] = { "l2", "l3" };
/*
 * Each mode's trees with another root table (op25b.h): the smallest and
 * the largest, so that one policy is laid out on two shapes.
 */
static const unsigned int mode_root_bits[MODE_COUNT] = {
	OP25B_ROOT_BITS_MIN, OP25B_ROOT_BITS_MAX
};

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

/* ---- running the programs */

struct target {
	struct op25b_bpf *skel;
	struct engine eng;	/* the controller's engine on skel's maps */
	bool eng_open;
	unsigned long hit_checks;
	int xdp_fd;
	int tc_fd;
	struct op25b_stats expect;	/* the oracle's view of the map */
	unsigned long checks;
};

static struct target targets[MODE_COUNT];
static int ncpus;
static int quiet;
static unsigned long long seed = DEFAULT_SEED;

static const struct {
	const char *name;
	size_t off;
} stat_fields[] = {
#define STAT_FIELD(f) { #f, offsetof(struct op25b_stats, f) }
	STAT_FIELD(smtp),	STAT_FIELD(evasion),
	STAT_FIELD(undecidable), STAT_FIELD(malformed),
	STAT_FIELD(not_subscriber), STAT_FIELD(exempt),
	STAT_FIELD(relay),	STAT_FIELD(blocked),
	STAT_FIELD(monitored),	STAT_FIELD(rejected),
	STAT_FIELD(limit_passed), STAT_FIELD(limit_exceeded),
	STAT_FIELD(quarantined), STAT_FIELD(quarantines),
	STAT_FIELD(limit_full),
#undef STAT_FIELD
};

#define STAT_FIELDS ARRAY_LEN(stat_fields)

/*
 * events_suppressed and events_lost are left out of the comparison on
 * purpose: whether an event is suppressed depends on the time since the
 * source's last one (OP25B_EVENT_INTERVAL_NS of wall time, not the packet),
 * and events_lost on whether the CPU has a region of the event log;
 * neither is a property of the packet, which is all the oracle sees.
 * releases are counted by the limiter's sweeper, on a timer of its own.
 * The unit tests check those three exactly. Every other counter is
 * compared; limit_full among them, which the oracle never moves: the
 * limiter is made large enough here never to run out.
 */
_Static_assert(sizeof(struct op25b_stats) ==
		       (ARRAY_LEN(stat_fields) + 3) * sizeof(__u64),
	       "a counter of struct op25b_stats is neither compared nor excluded");

static uint64_t stat_get(const struct op25b_stats *s, size_t i)
{
	uint64_t v;

	memcpy(&v, (const char *)s + stat_fields[i].off, sizeof(v));
	return v;
}

static int read_stats(struct target *t, struct op25b_stats *sum)
{
	struct op25b_stats *per = calloc((size_t)ncpus, sizeof(*per));
	__u32 key = 0;
	int err, cpu;
	size_t i;

	if (!per)
		return -ENOMEM;
	err = bpf_map__lookup_elem(t->skel->maps.op25b_stats, &key,
				   sizeof(key), per,
				   sizeof(*per) * (size_t)ncpus, 0);
	memset(sum, 0, sizeof(*sum));
	for (cpu = 0; !err && cpu < ncpus; cpu++) {
		for (i = 0; i < STAT_FIELDS; i++) {
			uint64_t v = stat_get(sum, i) + stat_get(&per[cpu], i);

			memcpy((char *)sum + stat_fields[i].off, &v,
			       sizeof(v));
		}
	}
	free(per);
	return err;
}

/* Describes the fields of got that differ from want; 0 when none. */
static int stats_diff(const struct op25b_stats *want,
		      const struct op25b_stats *got, char *buf, size_t size)
{
	size_t i, used = 0;
	int n = 0;

	buf[0] = '\0';
	for (i = 0; i < STAT_FIELDS; i++) {
		uint64_t w = stat_get(want, i), g = stat_get(got, i);

		if (w == g)
			continue;
		n++;
		if (used < size)
			used += (size_t)snprintf(buf + used, size - used,
						 "%s%s expected %" PRIu64
						 " seen %" PRIu64,
						 used ? ", " : "",
						 stat_fields[i].name, w, g);
	}
	return n;
}

static void stats_sub(struct op25b_stats *d, const struct op25b_stats *a,
		      const struct op25b_stats *b)
{
	size_t i;

	for (i = 0; i < STAT_FIELDS; i++) {
		uint64_t v = stat_get(a, i) - stat_get(b, i);

		memcpy((char *)d + stat_fields[i].off, &v, sizeof(v));
	}
}

/*
 * The kernel's skb test run refuses a frame whose Ethernet type says IP
 * but which is too short for the bare IP header (it fills in a socket
 * from it); such frames can only be run through XDP. That is a limit of
 * BPF_PROG_TEST_RUN, not of op25b_tc.
 */
static bool tc_refused(const uint8_t *pkt, size_t len)
{
	unsigned int type = (unsigned int)pkt[12] << 8 | pkt[13];

	return (type == ETH_P_IP && len < ETH_HLEN + sizeof(struct iphdr)) ||
	       (type == ETH_P_IPV6 && len < ETH_HLEN + IPV6_HDR_LEN);
}

/* out, when given (PKT_MAX bytes), gets the frame as the program left it. */
static int run_prog(int fd, const uint8_t *pkt, size_t len, __u32 *retval,
		    uint8_t *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt,
		    .data_size_in = (__u32)len, .data_out = out,
		    .data_size_out = out ? PKT_MAX : 0, .repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &opts);

	*retval = opts.retval;
	if (out_len)
		*out_len = opts.data_size_out;
	return err;
}

static void print_packet(const uint8_t *pkt, size_t len, bool l3,
			 const struct oracle_result *r)
{
	size_t i;

	printf("#   mode %s, %zu bytes; oracle: class %s, judgement %s, %s%s\n",
	       l3 ? "l3" : "l2", len, oracle_class_name(r->cls),
	       oracle_judgement_name(r->judgement), r->drop ? "drop" : "pass",
	       oracle.action == OP25B_ACT_REJECT ? " (action reject)" : "");
	for (i = 0; i < len; i++) {
		if (i % 16 == 0)
			printf("#   %04zx:", i);
		printf(" %02x", pkt[i]);
		if (i % 16 == 15 || i + 1 == len)
			printf("\n");
	}
	printf("#   hex: ");
	for (i = 0; i < len; i++)
		printf("%02x", pkt[i]);
	printf("\n");
}

/* ---- bookkeeping for the summary */

static unsigned long class_seen[MODE_COUNT][OP25B_C_MALFORMED + 1];
static unsigned long judgement_seen[ORACLE_J_COUNT];
static unsigned long runs_agreed[MODE_COUNT][2];	/* [mode][xdp, tc] */
static unsigned long tc_skipped[MODE_COUNT];	/* refused by test_run */
static unsigned long answers[MODE_COUNT][2];	/* RSTs: [mode][xdp, tc] */
static unsigned long partial_answers;	/* tc, in CHECKSUM_PARTIAL form */
static unsigned long partial_refused;	/* tc: PARTIAL, header would move */
static unsigned long xdp_aborted;
static unsigned long packets_run;
static int passed, failed;

static void check(int ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		passed++;
	else
		failed++;
	if (ok && quiet)
		return;
	printf("%s - ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* The window since the last counter check, replayed one run at a time. */
struct window_pkt {
	uint8_t b[PKT_MAX];
	size_t len;
	bool l3;
};

static struct window_pkt window[CHECK_EVERY];
static int window_n;

/* Finds the first run of the window that moves the counters wrongly. */
static void replay_window(int mode)
{
	struct op25b_stats before, after, delta, want;
	char diff[512];
	int i, p;

	for (i = 0; i < window_n; i++) {
		struct window_pkt *w = &window[i];
		struct oracle_result r;

		if (w->l3 != (mode == MODE_L3))
			continue;
		r = oracle_judge(&oracle, w->l3, w->b, w->len);
		if (r.judgement == ORACLE_J_LIMIT) {
			/* the limiter moved on: a replay judges differently */
			continue;
		}
		for (p = 0; p < 2; p++) {
			struct oracle_rst rst;
			__u32 ret;

			memset(&want, 0, sizeof(want));
			oracle_count(&r, oracle_rst(&oracle, &r, w->l3, p, w->b,
						    &rst),
				     &want);
			if (read_stats(&targets[mode], &before))
				return;
			if (run_prog(p ? targets[mode].tc_fd :
					 targets[mode].xdp_fd,
				     w->b, w->len, &ret, NULL, NULL)) {
				if (p && tc_refused(w->b, w->len))
					continue;
				return;
			}
			if (read_stats(&targets[mode], &after))
				return;
			stats_sub(&delta, &after, &before);
			if (stats_diff(&want, &delta, diff, sizeof(diff))) {
				printf("#   replayed: %s moved the counters "
				       "wrongly on this packet: %s\n",
				       p ? "op25b_tc" : "op25b_xdp", diff);
				print_packet(w->b, w->len, w->l3, &r);
				return;
			}
		}
	}
	printf("#   replaying the window packet by packet did not "
	       "reproduce it\n");
}

static int check_counters(int mode, unsigned long idx)
{
	struct target *t = &targets[mode];
	struct op25b_stats got;
	char diff[512];
	int err = read_stats(t, &got);

	if (err) {
		check(0, "%s counters: reading op25b_stats: %s",
		      mode_name[mode], strerror(-err));
		return -1;
	}
	t->checks++;
	if (!stats_diff(&t->expect, &got, diff, sizeof(diff)))
		return 0;
	check(0, "%s counters after packet %lu: %s", mode_name[mode], idx,
	      diff);
	replay_window(mode);
	printf("#   reproduce: fuzz -s %llu -n %lu -c\n", seed, idx + 1);
	return -1;
}

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

/* What was published, for the summary and the coverage checks. */
static unsigned long publishes, batches, changes, flushes;
static bool len_installed[2][129];	/* [v6][prefix length] */

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

static int txn_begin(void)
{
	return txn_each(engine_begin, "engine_begin");
}

static int txn_commit(void)
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
static int policy_batch(void)
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
static unsigned int block_action(unsigned long block)
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
 * between drop and reject from one limit block to the next. The clock
 * the datapath is fed moves on by up to CLOCK_STEP_MAX ns a packet, so
 * sources come back to find tokens, excesses and quarantines alike.
 */
#define LIMIT_INTERVAL_NS	5000000ULL
#define LIMIT_BURST		2
#define LIMIT_QUARANTINE_NS	40000000ULL
#define FUZZ_PREFIX6		56
#define CLOCK_STEP_MAX		5000ULL
#define LIMITER_ENTRIES		(1u << 18)

static uint64_t fuzz_clock = 1000ULL * 1000000000ULL;
static struct oracle_limiter limiters[MODE_COUNT];
static unsigned long limit_seen[3], quarantines_seen;	/* by oracle_limited */

/* Inside a transaction: published with its commit. */
static void set_action(unsigned int action, unsigned long block)
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

static int setup_policy(void)
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
static int check_hits(int mode)
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

static int load_targets(char *why, size_t size)
{
	struct engine_fds fds;
	int m, err;

	for (m = 0; m < MODE_COUNT; m++) {
		struct op25b_bpf *skel = op25b_bpf__open();

		if (!skel) {
			snprintf(why, size, "opening the skeleton: %s",
				 strerror(errno));
			return -1;
		}
		skel->rodata->op25b_sweep_timer = engine_bpf_jit();
		targets[m].skel = skel;
		skel->rodata->op25b_l3 = m == MODE_L3;
		/* never a full set: the oracle's limiter has no sets to fill */
		bpf_map__set_max_entries(skel->maps.op25b_limiter,
					 LIMITER_ENTRIES);
		bpf_map__set_max_entries(skel->maps.op25b_roots,
					 OP25B_ROOT_TABLES << mode_root_bits[m]);
		skel_tell_sizes(skel);
		err = op25b_bpf__load(skel);
		if (err) {
			snprintf(why, size, "loading the %s datapath: %s",
				 mode_name[m], strerror(-err));
			return -1;
		}
		targets[m].xdp_fd = bpf_program__fd(skel->progs.op25b_xdp);
		targets[m].tc_fd = bpf_program__fd(skel->progs.op25b_tc);
		if (engine_fds_of_object(skel->obj, &fds) ||
		    engine_open(&targets[m].eng, &fds, true)) {
			snprintf(why, size, "the %s engine: %s", mode_name[m],
				 targets[m].eng.err);
			return -1;
		}
		targets[m].eng_open = true;
	}
	return 0;
}

static void destroy_targets(void)
{
	int m;

	for (m = 0; m < MODE_COUNT; m++) {
		if (targets[m].eng_open)
			engine_close(&targets[m].eng);
		op25b_bpf__destroy(targets[m].skel);
	}
}

/* ---- the run */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int report_mismatch(unsigned long idx, const struct gen *g,
			   const struct oracle_result *r, __u32 want_xdp,
			   __u32 xdp_ret, __u32 want_tc, __u32 tc_ret)
{
	check(0, "%s packet %lu: oracle says %s (class %s): op25b_xdp "
		 "%u expected, returned %u%s; op25b_tc 0x%x expected, "
		 "returned 0x%x",
	      g->l3 ? "l3" : "l2", idx, r->drop ? "drop" : "pass",
	      oracle_class_name(r->cls), want_xdp, xdp_ret,
	      xdp_ret == XDP_ABORTED ? " (XDP_ABORTED)" : "", want_tc, tc_ret);
	print_packet(g->b, g->len, g->l3, r);
	printf("#   reproduce: fuzz -s %llu -n %lu\n", seed, idx + 1);
	return -1;
}

/* RFC 1071 over b, n bytes, added to sum; folded, not complemented. */
static unsigned int csum_fold(uint32_t sum, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/*
 * The answer's checksums, checked on the program's bytes alone: the IPv4
 * header sums to all ones, and TCP over its pseudo-header does too (or,
 * for a CHECKSUM_PARTIAL answer, its field is the pseudo-header sum).
 */
static bool answer_sums_ok(const struct oracle_result *r,
			   const struct oracle_rst *want, const uint8_t *b)
{
	size_t l3 = r->l3off;
	size_t t = l3 + (r->family == 4 ? IPV4_HDR_LEN : IPV6_HDR_LEN);
	size_t alen = r->family == 4 ? 4 : 16;
	const uint8_t *a = b + l3 + (r->family == 4 ? 12 : 8);
	uint32_t pseudo;

	if (r->family == 4 && csum_fold(0, b + l3, IPV4_HDR_LEN) != 0xffff)
		return false;
	pseudo = csum_fold(IPPROTO_TCP + TCP_HDR_LEN, a, 2 * alen);
	if (want->partial)
		return ((unsigned int)b[t + 16] << 8 | b[t + 17]) == pseudo;
	return csum_fold(pseudo, b + t, TCP_HDR_LEN) == 0xffff;
}

/* What the program sent back is the oracle's RST, byte for byte. */
static int check_answer(unsigned long idx, const struct gen *g,
			const struct oracle_result *r, const char *prog,
			const struct oracle_rst *want, const uint8_t *out,
			size_t out_len)
{
	size_t i;

	if (out_len == want->len && !memcmp(out, want->b, want->len) &&
	    answer_sums_ok(r, want, out))
		return 0;
	for (i = 0; i < want->len && i < out_len; i++)
		if (out[i] != want->b[i])
			break;
	check(0, "%s packet %lu: %s answered with %zu bytes, the oracle's "
		 "RST has %zu%s; first difference at byte %zu",
	      g->l3 ? "l3" : "l2", idx, prog, out_len, want->len,
	      want->partial ? " (checksum partial)" : "", i);
	print_packet(g->b, g->len, g->l3, r);
	printf("#   answer:");
	for (i = 0; i < out_len; i++)
		printf(" %02x", out[i]);
	printf("\n#   oracle:");
	for (i = 0; i < want->len; i++)
		printf(" %02x", want->b[i]);
	printf("\n#   reproduce: fuzz -s %llu -n %lu\n", seed, idx + 1);
	return -1;
}

static __u32 want_xdp_ret(const struct oracle_result *r, bool answer)
{
	if (!r->drop)
		return XDP_PASS;
	return answer ? XDP_TX : XDP_DROP;
}

static __u32 want_tc_ret(const struct oracle_result *r, bool answer)
{
	if (!r->drop)
		return (__u32)TC_ACT_UNSPEC;
	return answer ? (__u32)TC_ACT_REDIRECT : (__u32)TC_ACT_SHOT;
}

static int run_one(unsigned long idx, struct gen *g)
{
	struct target *t = &targets[g->l3 ? MODE_L3 : MODE_L2];
	int mode = g->l3 ? MODE_L3 : MODE_L2;
	static uint8_t xdp_out[PKT_MAX], tc_out[PKT_MAX];
	struct oracle_rst xdp_rst, tc_rst;
	size_t xdp_len = 0, tc_len = 0;
	struct oracle_result r;
	__u32 xdp_ret, tc_ret;
	__u32 want_xdp, want_tc;
	bool tc_ran = true;
	int err;

	struct oracle_result rt;

	/* the datapath's clock, and the oracle's: the same time */
	fuzz_clock += rnd() % CLOCK_STEP_MAX;
	t->skel->bss->op25b_test_now = fuzz_clock;
	r = oracle_judge(&oracle, g->l3, g->b, g->len);
	/* each run is a packet of its own to the limiter: XDP's, then tc's */
	rt = r;
	oracle_limit(&limiters[mode], &oracle, &r, g->b, fuzz_clock);
	if (!tc_refused(g->b, g->len))
		oracle_limit(&limiters[mode], &oracle, &rt, g->b, fuzz_clock);
	class_seen[mode][r.cls]++;
	judgement_seen[r.judgement]++;
	limit_seen[r.limited]++;
	quarantines_seen += r.quarantines;
	oracle_rst(&oracle, &r, g->l3, false, g->b, &xdp_rst);
	oracle_rst(&oracle, &rt, g->l3, true, g->b, &tc_rst);

	err = run_prog(t->xdp_fd, g->b, g->len, &xdp_ret,
		       xdp_rst.answer ? xdp_out : NULL, &xdp_len);
	if (!err) {
		err = run_prog(t->tc_fd, g->b, g->len, &tc_ret,
			       tc_rst.answer ? tc_out : NULL, &tc_len);
		if (err && errno == EINVAL && tc_refused(g->b, g->len)) {
			tc_skipped[mode]++;
			tc_ran = false;
			err = 0;
		}
	}
	if (err) {
		check(0, "%s packet %lu: bpf_prog_test_run_opts: %s",
		      mode_name[mode], idx, strerror(errno));
		print_packet(g->b, g->len, g->l3, &r);
		return -1;
	}

	want_xdp = want_xdp_ret(&r, xdp_rst.answer);
	want_tc = want_tc_ret(&rt, tc_rst.answer);
	if (!tc_ran)
		tc_ret = want_tc;
	if (xdp_ret == XDP_ABORTED)
		xdp_aborted++;
	if (xdp_ret != want_xdp || tc_ret != want_tc)
		return report_mismatch(idx, g, &r, want_xdp, xdp_ret, want_tc,
				       tc_ret);
	if (xdp_rst.answer &&
	    check_answer(idx, g, &r, "op25b_xdp", &xdp_rst, xdp_out, xdp_len))
		return -1;
	if (tc_ran && tc_rst.answer &&
	    check_answer(idx, g, &r, "op25b_tc", &tc_rst, tc_out, tc_len))
		return -1;
	answers[mode][0] += xdp_rst.answer;
	runs_agreed[mode][0]++;
	oracle_count(&r, xdp_rst.answer, &t->expect);
	oracle_hit(&oracle, &r, g->l3);
	if (tc_ran) {
		oracle_hit(&oracle, &rt, g->l3);
		answers[mode][1] += tc_rst.answer;
		partial_answers += tc_rst.answer && tc_rst.partial;
		partial_refused += !tc_rst.answer && tc_rst.partial &&
				   tc_rst.moved;
		runs_agreed[mode][1]++;
		oracle_count(&rt, tc_rst.answer, &t->expect);
	}
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-n PACKETS] [-s SEED] [-c] [-q]\n"
		"  -n  packets to generate (default %d)\n"
		"  -s  PRNG seed (default %d)\n"
		"  -c  compare the counters after every packet (slow)\n"
		"  -q  print failures and the summary only\n",
		prog, DEFAULT_PACKETS, DEFAULT_SEED);
}

static void summary(unsigned long n, double secs)
{
	int c, m;

	printf("# fuzz: %lu packets, seed %llu, %.1f s;", n, seed, secs);
	for (c = 0; c <= OP25B_C_MALFORMED; c++)
		printf(" %s %lu", oracle_class_name(c),
		       class_seen[MODE_L2][c] + class_seen[MODE_L3][c]);
	printf(";");
	for (c = ORACLE_J_NOT_SUBSCRIBER; c < ORACLE_J_COUNT; c++)
		printf(" %s %lu", oracle_judgement_name(c), judgement_seen[c]);
	printf("; answered xdp %lu tc %lu (checksum partial %lu, refused %lu)",
	       answers[MODE_L2][0] + answers[MODE_L3][0],
	       answers[MODE_L2][1] + answers[MODE_L3][1], partial_answers,
	       partial_refused);
	printf("; limit: over %lu, quarantined %lu, quarantines %lu",
	       limit_seen[ORACLE_L_EXCEEDED], limit_seen[ORACLE_L_QUARANTINED],
	       quarantines_seen);
	printf("; xdp_aborted %lu\n", xdp_aborted);
	printf("# policy: %lu publishes, %lu batches of %lu changes in all, "
	       "%lu flushes; now %d subscriber and %d relay prefixes\n",
	       publishes, batches, changes, flushes, oracle.subscriber.n,
	       oracle.relay.n);
	for (m = 0; m < MODE_COUNT; m++) {
		printf("# %s:", mode_name[m]);
		for (c = 0; c <= OP25B_C_MALFORMED; c++)
			printf(" %s %lu", oracle_class_name(c),
			       class_seen[m][c]);
		printf("\n");
	}
}

static void final_checks(unsigned long n)
{
	int m, c;

	for (m = 0; m < MODE_COUNT; m++) {
		unsigned long runs = class_seen[m][0] + class_seen[m][1] +
				     class_seen[m][2] + class_seen[m][3] +
				     class_seen[m][4];

		check(runs_agreed[m][0] == runs,
		      "%s op25b_xdp agrees with the oracle on %lu of %lu "
		      "packets", mode_name[m], runs_agreed[m][0], runs);
		check(runs_agreed[m][1] + tc_skipped[m] == runs,
		      "%s op25b_tc agrees with the oracle on %lu of %lu "
		      "packets (%lu too short for the skb test run)",
		      mode_name[m], runs_agreed[m][1], runs, tc_skipped[m]);
		check(targets[m].checks > 0,
		      "%s counters agree at %lu checkpoints", mode_name[m],
		      targets[m].checks);
		if (!check_hits(m))
			check(1, "%s rules and their hit counters agree after "
			      "%lu publishes, at %lu checkpoints", mode_name[m],
			      publishes, targets[m].hit_checks);
	}
	check(xdp_aborted == 0, "op25b_xdp never returned XDP_ABORTED (%lu)",
	      xdp_aborted);
	if (n < COVERAGE_MIN)
		return;
	for (m = 0; m < MODE_COUNT; m++)
		for (c = 0; c <= OP25B_C_MALFORMED; c++)
			check(class_seen[m][c] > 0,
			      "%s class %s exercised (%lu packets)",
			      mode_name[m], oracle_class_name(c),
			      class_seen[m][c]);
	for (c = ORACLE_J_NOT_SUBSCRIBER; c < ORACLE_J_COUNT; c++)
		if (c != ORACLE_J_LIMIT)
			check(judgement_seen[c] > 0, "judgement %s exercised (%lu)",
			      oracle_judgement_name(c), judgement_seen[c]);
	check(limit_seen[ORACLE_L_EXCEEDED] > 0 &&
	      limit_seen[ORACLE_L_QUARANTINED] > 0 && quarantines_seen > 0,
	      "action limit exercised: %lu over the limit, %lu in quarantine, "
	      "%lu quarantines begun", limit_seen[ORACLE_L_EXCEEDED],
	      limit_seen[ORACLE_L_QUARANTINED], quarantines_seen);
	for (m = 0; m < MODE_COUNT; m++) {
		check(answers[m][0] > 0, "%s op25b_xdp answered with a RST "
		      "(%lu)", mode_name[m], answers[m][0]);
		check(answers[m][1] > 0, "%s op25b_tc answered with a RST "
		      "(%lu)", mode_name[m], answers[m][1]);
	}
	check(partial_answers > 0, "op25b_tc answered a checksum-partial "
	      "segment in kind (%lu)", partial_answers);
	check(partial_refused > 0, "op25b_tc left a checksum-partial segment "
	      "whose header would move unanswered (%lu)", partial_refused);
	check(batches >= 10 && flushes > 0, "policy changed in %lu batches "
	      "(%lu flushes), each one publish", batches, flushes);
	for (m = 0; m < 2; m++) {
		unsigned int nbits = m ? 128 : 32, b, missing = 0, k;

		/* /0, host routes, and every level edge and its neighbours */
		missing += !len_installed[m][0] + !len_installed[m][nbits] +
			   !len_installed[m][nbits - 1];
		for (k = 0; k < MODE_COUNT; k++)
			for (b = mode_root_bits[k]; b <= nbits;
			     b += OP25B_STRIDE)
				missing += !len_installed[m][b - 1] +
					   !len_installed[m][b] +
					   (b < nbits && !len_installed[m][b + 1]);
		check(!missing, "ipv%d prefixes of /0, /%u and every stride "
		      "edge +-1 installed (%u lengths missing)", m ? 6 : 4,
		      nbits, missing);
	}
}

/* A number given to option what; false (and said) when it is not one. */
static bool parse_number(const char *arg, const char *what,
			 unsigned long long *v)
{
	char *end;

	*v = strtoull(arg, &end, 0);
	if (*end || !*arg) {
		fprintf(stderr, "fuzz: bad %s '%s'\n", what, arg);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	unsigned long n = DEFAULT_PACKETS, i;
	static struct gen g;
	int every_packet = 0, opt, rc = 0, m;
	unsigned long long v;
	char why[256];
	double t0;

	while ((opt = getopt(argc, argv, "n:s:cqh")) != -1) {
		switch (opt) {
		case 'n':
			if (!parse_number(optarg, "packet count", &v))
				return 2;
			n = (unsigned long)v;
			break;
		case 's':
			if (!parse_number(optarg, "seed", &seed))
				return 2;
			break;
		case 'c':
			every_packet = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	rng_state = seed;

	if (geteuid() != 0)
		tl_cannot_run("not root");
	libbpf_set_print(tl_libbpf_warn);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		tl_cannot_run("cannot count possible CPUs");
	if (load_targets(why, sizeof(why))) {
		destroy_targets();
		tl_cannot_run(why);
	}
	if (setup_policy()) {
		destroy_targets();
		printf("FAIL - policy: installing it in the maps\n");
		printf("0 passed, 1 failed\n");
		return 1;
	}

	t0 = now();
	for (i = 0; i < n && !rc; i++) {
		if (i % CHECK_EVERY == 0) {
			unsigned long block = i / CHECK_EVERY;
			bool batch = block && block % POLICY_BLOCKS == 0;

			window_n = 0;
			/* deletes take counts along: check them first */
			for (m = 0; batch && m < MODE_COUNT && !rc; m++)
				if (check_hits(m))
					rc = 1;
			/* the action and a batch of changes: one publish */
			if (rc || txn_begin()) {
				rc = 1;
				break;
			}
			set_action(block_action(block), block);
			if ((batch && policy_batch()) || txn_commit()) {
				rc = 1;
				break;
			}
		}
		gen_packet(&g);
		memcpy(window[window_n].b, g.b, g.len);
		window[window_n].len = g.len;
		window[window_n].l3 = g.l3;
		window_n++;

		if (run_one(i, &g)) {
			rc = 1;
			break;
		}
		packets_run++;
		if (every_packet && i + 1 < n) {
			if (check_counters(g.l3 ? MODE_L3 : MODE_L2, i))
				rc = 1;
		} else if (every_packet || i % CHECK_EVERY == CHECK_EVERY - 1 ||
			   i + 1 == n) {
			for (m = 0; m < MODE_COUNT && !rc; m++)
				if (check_counters(m, i))
					rc = 1;
		}
		if (!quiet && (i + 1) % PROGRESS_EVERY == 0)
			fprintf(stderr, "fuzz: %lu packets, %.0f s\n", i + 1,
				now() - t0);
	}

	if (!rc)
		final_checks(n);
	summary(packets_run, now() - t0);
	destroy_targets();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
