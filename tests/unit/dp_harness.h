/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_datapath's harness: the two loaded datapaths and their engines, the
 * policy every test starts from, counters and hit snapshots, offenders and
 * events, the RST restated, packet shapes. Included once, by
 * test_datapath.c, before the files dp_*.c, which it includes in turn
 * (every one, from a list the Makefile makes of their names): one
 * translation unit, so the helpers stay static. A file that is an area
 * registers it with DP_AREA (below).
 */
#ifndef OP25B_DP_HARNESS_H
#define OP25B_DP_HARNESS_H
#define _GNU_SOURCE
#include <math.h>
#include <sched.h>
#include <sys/mman.h>
#include <stddef.h>
#include <net/if.h>
#include <time.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "op25b.h"
#include "op25bctl.h"
#include "op25b.skel.h"
#include "testlib.h"
#include "engine.h"

#define BIT(n)		(1u << (n))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define SPORT		40000
#define SMTP		OP25B_DEFAULT_PORT
#define SUBMISSION	587
#define SMTPS		465
#define HTTP		80
#define ALT_SMTP	2525
#define PORT_MAX	65535

/* A value and what labels call it: a protocol, a type, an action. */
struct named {
	const char *name;
	__u32 v;
};

/* ---- counters ---- */

#define STAT_FIELDS(X)							\
	X(smtp) X(evasion) X(undecidable) X(malformed)			\
	X(not_subscriber) X(exempt) X(relay) X(blocked) X(monitored)	\
	X(rejected) X(events_suppressed) X(events_lost)			\
	X(limit_passed) X(limit_exceeded) X(quarantined) X(quarantines)	\
	X(releases) X(limit_full)

enum stat_id {
#define X(f) ST_##f,
	STAT_FIELDS(X)
#undef X
	ST_COUNT
};

static const struct {
	const char *name;
	size_t off;
} stat_field[ST_COUNT] = {
#define X(f) [ST_##f] = { #f, offsetof(struct op25b_stats, f) },
	STAT_FIELDS(X)
#undef X
};

/* A counter added to the ABI must be added to STAT_FIELDS too. */
_Static_assert(sizeof(struct op25b_stats) == ST_COUNT * sizeof(__u64),
	       "struct op25b_stats has counters this test does not check");

/* ---- policy ---- */

enum table { T_SUB, T_RELAY };

enum rule_id {
	R_S4_DENY, R_S4_EXEMPT, R_S4_REDENY,
	R_R4_ALLOW, R_R4_CARVE, R_R4_REALLOW,
	R_S6_DENY, R_S6_EXEMPT, R_S6_REDENY,
	R_R6_ALLOW, R_R6_CARVE, R_R6_REALLOW,
	R_COUNT
};

struct rule {
	enum table table;
	const char *prefix;
	__u32 verdict;
};

/*
 * Each table nests three deep, so the longest match is seen to win in both
 * directions: allow inside deny, and deny inside that allow again.
 */
static const struct rule rules[R_COUNT] = {
	[R_S4_DENY]	= { T_SUB, "10.0.0.0/8", OP25B_V_DENY },
	[R_S4_EXEMPT]	= { T_SUB, "10.1.0.0/16", OP25B_V_ALLOW },
	[R_S4_REDENY]	= { T_SUB, "10.1.2.0/24", OP25B_V_DENY },
	[R_R4_ALLOW]	= { T_RELAY, "192.0.2.0/24", OP25B_V_ALLOW },
	[R_R4_CARVE]	= { T_RELAY, "192.0.2.128/25", OP25B_V_DENY },
	[R_R4_REALLOW]	= { T_RELAY, "192.0.2.192/26", OP25B_V_ALLOW },
	[R_S6_DENY]	= { T_SUB, "2001:db8::/32", OP25B_V_DENY },
	[R_S6_EXEMPT]	= { T_SUB, "2001:db8:1::/48", OP25B_V_ALLOW },
	[R_S6_REDENY]	= { T_SUB, "2001:db8:1:2::/64", OP25B_V_DENY },
	[R_R6_ALLOW]	= { T_RELAY, "2001:db8:ffff::/48", OP25B_V_ALLOW },
	[R_R6_CARVE]	= { T_RELAY, "2001:db8:ffff:8000::/49", OP25B_V_DENY },
	[R_R6_REALLOW]	= { T_RELAY, "2001:db8:ffff:8000::25/128", OP25B_V_ALLOW },
};

#define DENIED4		"10.2.3.4"
#define EXEMPT4		"10.1.5.5"
#define REDENIED4	"10.1.2.3"
#define NONSUB4		"172.16.0.1"
#define OUT4		"198.51.100.25"
#define RELAY4		"192.0.2.25"
#define CARVED4		"192.0.2.130"
#define REALLOWED4	"192.0.2.200"

#define DENIED6		"2001:db8:42::1"
#define EXEMPT6		"2001:db8:1:5::1"
#define REDENIED6	"2001:db8:1:2::1"
#define NONSUB6		"2001:db9::1"
#define OUT6		"2001:db9::25"
#define RELAY6		"2001:db8:ffff::25"
#define CARVED6		"2001:db8:ffff:8000::1"
#define REALLOWED6	"2001:db8:ffff:8000::25"

/* A source/destination pair and what policy must make of a judged packet. */
struct who {
	const char *name;
	const char *src;
	const char *dst;
	bool drop;
	enum stat_id how;	/* the judgement counter that moves */
	__u32 hits;		/* the entries whose hit counters move */
};

/*
 * The first WHO_MATRIX rows are the four outcomes every judged shape is
 * tried under; the rest walk the policy's corners for the verdict paths.
 */
#define WHO_MATRIX 4

static const struct who who4[] = {
	{ "denied -> outside", DENIED4, OUT4, true, ST_blocked,
	  BIT(R_S4_DENY) },
	{ "exempt -> outside", EXEMPT4, OUT4, false, ST_exempt,
	  BIT(R_S4_EXEMPT) },
	{ "non-subscriber -> outside", NONSUB4, OUT4, false,
	  ST_not_subscriber, 0 },
	{ "denied -> relay", DENIED4, RELAY4, false, ST_relay,
	  BIT(R_S4_DENY) | BIT(R_R4_ALLOW) },
	{ "denied -> relay carve-out", DENIED4, CARVED4, true, ST_blocked,
	  BIT(R_S4_DENY) | BIT(R_R4_CARVE) },
	{ "denied -> relay inside carve-out", DENIED4, REALLOWED4, false,
	  ST_relay, BIT(R_S4_DENY) | BIT(R_R4_REALLOW) },
	{ "exempt -> relay carve-out", EXEMPT4, CARVED4, false, ST_exempt,
	  BIT(R_S4_EXEMPT) },
	{ "denied inside exemption -> outside", REDENIED4, OUT4, true,
	  ST_blocked, BIT(R_S4_REDENY) },
	{ "denied inside exemption -> relay", REDENIED4, RELAY4, false,
	  ST_relay, BIT(R_S4_REDENY) | BIT(R_R4_ALLOW) },
	{ "first address of deny /8", "10.0.0.0", OUT4, true, ST_blocked,
	  BIT(R_S4_DENY) },
	{ "last address of deny /8", "10.255.255.255", OUT4, true,
	  ST_blocked, BIT(R_S4_DENY) },
	{ "just below deny /8", "9.255.255.255", OUT4, false,
	  ST_not_subscriber, 0 },
	{ "just above deny /8", "11.0.0.0", OUT4, false, ST_not_subscriber,
	  0 },
	{ "last address of exemption", "10.1.255.255", OUT4, false,
	  ST_exempt, BIT(R_S4_EXEMPT) },
	{ "just above exemption", "10.2.0.0", OUT4, true, ST_blocked,
	  BIT(R_S4_DENY) },
	{ "denied -> last relay address before carve-out", DENIED4,
	  "192.0.2.127", false, ST_relay, BIT(R_S4_DENY) | BIT(R_R4_ALLOW) },
	{ "denied -> first carve-out address", DENIED4, "192.0.2.128", true,
	  ST_blocked, BIT(R_S4_DENY) | BIT(R_R4_CARVE) },
	{ "denied -> last carve-out address before re-allow", DENIED4,
	  "192.0.2.191", true, ST_blocked,
	  BIT(R_S4_DENY) | BIT(R_R4_CARVE) },
	{ "denied -> just past relay /24", DENIED4, "192.0.3.0", true,
	  ST_blocked, BIT(R_S4_DENY) },
};

static const struct who who6[] = {
	{ "denied -> outside", DENIED6, OUT6, true, ST_blocked,
	  BIT(R_S6_DENY) },
	{ "exempt -> outside", EXEMPT6, OUT6, false, ST_exempt,
	  BIT(R_S6_EXEMPT) },
	{ "non-subscriber -> outside", NONSUB6, OUT6, false,
	  ST_not_subscriber, 0 },
	{ "denied -> relay", DENIED6, RELAY6, false, ST_relay,
	  BIT(R_S6_DENY) | BIT(R_R6_ALLOW) },
	{ "denied -> relay carve-out", DENIED6, CARVED6, true, ST_blocked,
	  BIT(R_S6_DENY) | BIT(R_R6_CARVE) },
	{ "denied -> relay inside carve-out", DENIED6, REALLOWED6, false,
	  ST_relay, BIT(R_S6_DENY) | BIT(R_R6_REALLOW) },
	{ "exempt -> relay carve-out", EXEMPT6, CARVED6, false, ST_exempt,
	  BIT(R_S6_EXEMPT) },
	{ "denied inside exemption -> outside", REDENIED6, OUT6, true,
	  ST_blocked, BIT(R_S6_REDENY) },
	{ "denied inside exemption -> relay", REDENIED6, RELAY6, false,
	  ST_relay, BIT(R_S6_REDENY) | BIT(R_R6_ALLOW) },
	{ "first address of deny /32", "2001:db8::", OUT6, true, ST_blocked,
	  BIT(R_S6_DENY) },
	{ "last address of deny /32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
	  OUT6, true, ST_blocked, BIT(R_S6_DENY) },
	{ "just below deny /32", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
	  OUT6, false, ST_not_subscriber, 0 },
	{ "last address of exemption", "2001:db8:1:ffff:ffff:ffff:ffff:ffff",
	  OUT6, false, ST_exempt, BIT(R_S6_EXEMPT) },
	{ "just above exemption", "2001:db8:2::", OUT6, true, ST_blocked,
	  BIT(R_S6_DENY) },
	{ "denied -> last relay address before carve-out", DENIED6,
	  "2001:db8:ffff:7fff:ffff:ffff:ffff:ffff", false, ST_relay,
	  BIT(R_S6_DENY) | BIT(R_R6_ALLOW) },
	{ "denied -> neighbour of re-allowed /128", DENIED6,
	  "2001:db8:ffff:8000::24", true, ST_blocked,
	  BIT(R_S6_DENY) | BIT(R_R6_CARVE) },
	{ "denied -> just past relay /48", DENIED6, "2001:db8:1:0::25", true,
	  ST_blocked, BIT(R_S6_DENY) },
};

static const struct who *who_table(int family, size_t *n)
{
	if (family == 4) {
		*n = ARRAY_SIZE(who4);
		return who4;
	}
	*n = ARRAY_SIZE(who6);
	return who6;
}

/* ---- the two loaded datapaths ---- */

/* V_ANSWER: dropped and answered with a RST, when reject.h's rules allow. */
enum verdict { V_PASS, V_DROP, V_ANSWER };

struct prog {
	const char *name;
	int fd;
	__u32 pass;
	__u32 drop;
	__u32 answer;		/* the RST goes back: XDP_TX, TC_ACT_REDIRECT */
	__u32 aborted;		/* a value the program must never return */
	bool is_xdp;
};

/* Events consumed from a datapath's ring buffer since the last drain. */
#define SINK_MAX	4
/* The namespace the test's datapaths say they run in. */
#define TEST_NETNS_INO	0x25250025ULL
struct ev_sink {
	struct op25b_event ev[SINK_MAX];
	size_t size[SINK_MAX];
	int n;
};

struct dp {
	const char *name;
	bool l3;
	bool egress;		/* loaded for a tc egress attachment */
	__u32 chain_slot;	/* XDP chains the program in this slot (dp_chain.c) */
	__u32 hit_stripes;	/* the hits stripes the CPUs share (dp_hits.c);
				 * 0: each CPU its own */
	struct op25b_bpf *skel;
	struct engine eng;	/* the controller's engine on skel's maps */
	bool eng_open;
	struct prog prog[2];
	__u32 action;		/* what this test last set */
	struct evlog log;	/* the test's reader of the event log */
	struct ev_sink sink;
};

/* The datapaths every area may run on. */
struct dps {
	struct dp *l2;		/* Ethernet devices */
	struct dp *l3;		/* devices without an Ethernet header */
	struct dp *l2e;		/* Ethernet, loaded for tc egress */
};

/*
 * An area: a subtest that -t NAME runs alone, as the kernel's prog_tests
 * are. DP_AREA(name) { ... } in its file defines and registers it, in a
 * section of its own that test_datapath walks: an area cannot be left
 * out of a table kept by hand.
 */
struct dp_area {
	const char *name;
	void (*run)(const struct dps *dps);
};

#define DP_AREA(name_)							\
	static void dp_area_run_##name_(const struct dps *dps);		\
	static const struct dp_area dp_area_##name_			\
		__attribute__((used, section("dp_areas"),		\
			       aligned(__alignof__(struct dp_area)))) = {	\
		.name = #name_, .run = dp_area_run_##name_,		\
	};								\
	static void dp_area_run_##name_(const struct dps *dps)

extern const struct dp_area __start_dp_areas[], __stop_dp_areas[];

/*
 * Every check of a device kind's parser and policy, run by its area (l2,
 * l3) and again under action reject (reject): test_datapath.c.
 */
static void suite_l2(struct dp *dp);
static void suite_l3(struct dp *dp);

/*
 * A datapath loaded, its policy installed, and let go again
 * (test_datapath.c): an area that needs one of its own (dp_chain.c,
 * dp_hits.c) makes it with these.
 */
static bool dp_load(struct dp *dp);
static void dp_unload(struct dp *dp);

struct snap {
	__u64 st[ST_COUNT];
	__u64 hits[R_COUNT];
};

/* How far counter f moved from snapshot a to snapshot b. */
static unsigned long long moved(const struct snap *a, const struct snap *b,
				enum stat_id f)
{
	return b->st[f] - a->st[f];
}

struct expect {
	enum verdict verdict;
	__u32 stats;		/* counters that move by exactly one */
	__u32 hits;		/* entries whose hits move by exactly one */
};

static int ncpus;
static __u32 lo_ifindex;	/* test_run's device, in every program */

/* The fixed IP header of a family: no options, no extension headers. */
static __u32 ip_hlen(int family)
{
	return family == 4 ? TL_IPV4_HLEN : TL_IPV6_HLEN;
}

static int rule_family(const struct rule *r)
{
	return strchr(r->prefix, ':') ? 6 : 4;
}

/* A rule's prefix as the engine takes it. */
static struct prefix rule_prefix(const struct rule *r)
{
	struct prefix p;
	char addr[64];
	char *slash;

	snprintf(addr, sizeof(addr), "%s", r->prefix);
	slash = strchr(addr, '/');
	if (!slash)
		tl_bug("prefix '%s' without a length", r->prefix);
	*slash = '\0';
	memset(&p, 0, sizeof(p));
	p.family = rule_family(r) == 4 ? AF_INET : AF_INET6;
	p.len = atoi(slash + 1);
	pkt_addr(p.family, addr, p.addr);
	return p;
}

static enum op25b_table rule_table(const struct rule *r)
{
	return r->table == T_SUB ? OP25B_TABLE_SUBSCRIBER : OP25B_TABLE_RELAY;
}

static bool same_prefix(const struct prefix *a, const struct prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       !memcmp(a->addr, b->addr, 16);
}

/* Policy changes go through the controller's engine, as in production. */
static void eng_begin(struct dp *dp)
{
	if (engine_begin(&dp->eng))
		tl_bug("%s: engine_begin: %s", dp->name, dp->eng.err);
}

static void eng_commit(struct dp *dp)
{
	if (engine_commit(&dp->eng))
		tl_bug("%s: engine_commit: %s", dp->name, dp->eng.err);
}

static bool install_policy(struct dp *dp)
{
	enum engine_change ch;
	struct prefix p;
	char label[128];
	bool ok = true;
	int i, err;

	eng_begin(dp);
	for (i = 0; i < R_COUNT; i++) {
		p = rule_prefix(&rules[i]);
		err = engine_set(&dp->eng, rule_table(&rules[i]), &p,
				 rules[i].verdict, &ch);
		snprintf(label, sizeof(label), "%s: install %s %s %s", dp->name,
			 rules[i].table == T_SUB ? "subscriber" : "relay",
			 rules[i].verdict == OP25B_V_DENY ? "deny" : "allow",
			 rules[i].prefix);
		ok &= tl_check(!err && ch == ENGINE_ADDED, label,
			       "engine_set: %s (change %d)",
			       err ? dp->eng.err : "no error", (int)ch);
	}
	err = engine_commit(&dp->eng);
	snprintf(label, sizeof(label), "%s: publish the policy", dp->name);
	ok &= tl_check(!err, label, "engine_commit: %s", dp->eng.err);
	return ok;
}

/*
 * Rule i of rules[] as the engine lists it in v[0..n): found by table and
 * prefix, not by a remembered id. NULL when it is not there.
 */
static const struct engine_rule *rule_in(const struct engine_rule *v,
					 size_t n, int i)
{
	struct prefix p = rule_prefix(&rules[i]);
	size_t k;

	for (k = 0; k < n; k++)
		if (v[k].table == rule_table(&rules[i]) &&
		    same_prefix(&v[k].p, &p))
			return &v[k];
	return NULL;
}

/*
 * Stats, and each rule's hits: per CPU by rule id, summed by the engine.
 * Rules are found by prefix, not by a remembered id: a rule must keep its
 * counts whatever id the engine gives it.
 */
static void snapshot(struct dp *dp, struct snap *s)
{
	struct op25b_stats per_cpu[ncpus];
	const struct engine_rule *r;
	struct engine_rule *v;
	__u32 zero = 0;
	size_t n;
	int c, i;

	memset(s, 0, sizeof(*s));
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.op25b_stats),
				&zero, per_cpu))
		tl_bug("reading op25b_stats: %s", strerror(errno));
	for (c = 0; c < ncpus; c++)
		for (i = 0; i < ST_COUNT; i++)
			s->st[i] += *(__u64 *)((char *)&per_cpu[c] +
					       stat_field[i].off);
	if (engine_rules(&dp->eng, ENGINE_ALL_TABLES, true, &v, &n))
		tl_bug("reading the rules: %s", dp->eng.err);
	for (i = 0; i < R_COUNT; i++) {
		r = rule_in(v, n, i);
		if (!r)
			tl_bug("rule %s is not in the live policy",
			       rules[i].prefix);
		if (r->verdict != rules[i].verdict)
			tl_bug("rule %s has verdict %d", rules[i].prefix,
			       r->verdict);
		s->hits[i] = r->hits;
	}
	free(v);
}

/* ---- offenders and events ---- */

static int ev_collect(void *ctx, const struct op25b_event *ev)
{
	struct ev_sink *s = ctx;

	if (s->n < SINK_MAX) {
		s->ev[s->n] = *ev;
		s->size[s->n] = sizeof(*ev);
	}
	s->n++;
	return 0;
}

/* Read what the event log got since the last drain into dp->sink. */
static int events_drain(struct dp *dp)
{
	dp->sink.n = 0;
	evlog_read(&dp->log, ev_collect, &dp->sink);
	if (dp->log.lost)
		tl_bug("the test's reader lost %llu events",
		       (unsigned long long)dp->log.lost);
	return dp->sink.n;
}

static int offenders_fd(const struct dp *dp)
{
	return bpf_map__fd(dp->skel->maps.op25b_offenders);
}

/* Small tables in the tests: every slot is read or cleared at once. */
#define TEST_OFFENDER_SLOTS	64

static void offenders_clear(const struct dp *dp)
{
	struct op25b_offender zero[ncpus];
	__u32 slot;

	memset(zero, 0, sizeof(zero));
	for (slot = 0; slot < TEST_OFFENDER_SLOTS; slot++)
		if (bpf_map_update_elem(offenders_fd(dp), &slot, zero, 0))
			tl_bug("clearing an offender slot: %s", strerror(errno));
}

/* Every CPU's entries of the slot a source hashes to. */
static void offender_slot(const struct dp *dp, const struct op25b_src *k,
			  struct op25b_offender *per)
{
	__u32 slot = op25b_src_hash(k) & (TEST_OFFENDER_SLOTS - 1);

	if (bpf_map_lookup_elem(offenders_fd(dp), &slot, per))
		tl_bug("reading an offender slot: %s", strerror(errno));
}

/* A source's entry, summed over CPUs as 'top' does; false if none. */
static bool offender_lookup(const struct dp *dp, const struct op25b_src *k,
			    struct op25b_offender *o)
{
	struct op25b_offender per[ncpus];
	bool found = false;
	int c;

	memset(o, 0, sizeof(*o));
	offender_slot(dp, k, per);
	for (c = 0; c < ncpus; c++) {
		if (memcmp(&per[c].src, k, sizeof(*k)) ||
		    !(per[c].blocked + per[c].monitored))
			continue;
		if (!found)
			*o = per[c];
		else {
			o->blocked += per[c].blocked;
			o->monitored += per[c].monitored;
		}
		found = true;
	}
	return found;
}

/* Distinct sources with attempts, over every slot and CPU. */
static int offenders_count(const struct dp *dp)
{
	struct op25b_offender per[ncpus];
	struct op25b_src seen[TEST_OFFENDER_SLOTS * 8];
	int n = 0, c, i;
	__u32 slot;

	for (slot = 0; slot < TEST_OFFENDER_SLOTS; slot++) {
		if (bpf_map_lookup_elem(offenders_fd(dp), &slot, per))
			tl_bug("reading an offender slot: %s", strerror(errno));
		for (c = 0; c < ncpus; c++) {
			if (!per[c].src.family ||
			    !(per[c].blocked + per[c].monitored))
				continue;
			for (i = 0; i < n; i++)
				if (!memcmp(&seen[i], &per[c].src, sizeof(seen[i])))
					break;
			if (i == n && n < (int)(sizeof(seen) / sizeof(seen[0])))
				seen[n++] = per[c].src;
		}
	}
	return n;
}

/* The datapath's clock, fixed (0: the kernel's again). */
static void clock_set(struct dp *dp, __u64 t)
{
	dp->skel->bss->op25b_test_now = t;
}

/* A fresh start: the rate limits and the table forget every source. */
static void records_clear(struct dp *dp)
{
	struct op25b_window zero[ncpus];
	__u32 k = 0;

	/* the CPUs' windows too (op25b.h: OP25B_EVENTS_PER_SEC, sampling) */
	memset(zero, 0, sizeof(zero));
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.op25b_budget), &k,
				zero, 0))
		tl_bug("clearing the event budget: %s", strerror(errno));
	offenders_clear(dp);
	events_drain(dp);
}

/* The source of the IP header at p->l3, as the offenders table keys it. */
static struct op25b_src src_key(const struct pkt *p, int family)
{
	struct op25b_src k;

	memset(&k, 0, sizeof(k));
	k.family = family;
	memcpy(k.addr, p->d + p->l3 + (family == 4 ? 12 : 8),
	       family == 4 ? 4 : 16);
	return k;
}

static const char *retval_name(const struct prog *pr, __u32 ret, char *buf,
			       size_t n)
{
	if (ret == pr->pass)
		return pr->is_xdp ? "XDP_PASS" : "TC_ACT_UNSPEC";
	if (ret == pr->drop)
		return pr->is_xdp ? "XDP_DROP" : "TC_ACT_SHOT";
	if (ret == pr->answer)
		return pr->is_xdp ? "XDP_TX" : "TC_ACT_REDIRECT";
	snprintf(buf, n, "%d", (int)ret);
	return buf;
}

static bool verdict_ok(const struct prog *pr, enum verdict v, __u32 ret)
{
	switch (v) {
	case V_PASS:
		return ret == pr->pass;
	case V_DROP:
		return ret == pr->drop;
	case V_ANSWER:
		return ret == pr->answer;
	}
	return false;
}

static const char *outcome_name(enum verdict v)
{
	switch (v) {
	case V_PASS:
		return "pass";
	case V_DROP:
		return "drop";
	default:
		return "answer with a RST";
	}
}

/* "smtp+1 blocked+1", from the moved-by-one bits or from two snapshots. */
static void fmt_stats(char *buf, size_t n, __u32 bits, const __u64 *d)
{
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < ST_COUNT; i++) {
		long long v = d ? (long long)d[i] : (bits & BIT(i)) ? 1 : 0;

		if (v && len < n)
			len += snprintf(buf + len, n - len, "%s%s%+lld",
					len ? " " : "", stat_field[i].name, v);
	}
	if (!buf[0])
		snprintf(buf, n, "nothing");
}

static void fmt_hits(char *buf, size_t n, __u32 bits, const __u64 *d)
{
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < R_COUNT; i++) {
		long long v = d ? (long long)d[i] : (bits & BIT(i)) ? 1 : 0;

		if (v && len < n)
			len += snprintf(buf + len, n - len, "%s%s %s%+lld",
					len ? ", " : "",
					rules[i].table == T_SUB ? "subscriber" :
								  "relay",
					rules[i].prefix, v);
	}
	if (!buf[0])
		snprintf(buf, n, "nothing");
}

/*
 * BPF_PROG_TEST_RUN on a tc program validates a frame whose ethertype is
 * IPv4 or IPv6: a header shorter than 20 / 40 bytes is refused (EINVAL)
 * before the program runs. Such a frame never reaches op25b_tc in a test;
 * the same short headers reach it behind a VLAN tag or PPPoE instead.
 */
static bool tc_test_run_refuses(const struct pkt *p)
{
	__u16 type;

	if (p->len < ETH_HLEN)
		return true;
	type = pkt_get16(p, ETH_HLEN - 2);
	return (type == ETH_P_IP && p->len < ETH_HLEN + TL_IPV4_HLEN) ||
	       (type == ETH_P_IPV6 && p->len < ETH_HLEN + TL_IPV6_HLEN);
}

/* ---- the answer of action reject ---- */

/* Where the source address starts; the destination follows it. */
static int addrs_off(const struct pkt *p)
{
	return p->l3 + (p->family == 4 ? 12 : 8);
}

/* RFC 1071 sum of the TCP pseudo-header (RFC 9293 3.1, RFC 8200 8.1). */
static __u32 pseudo_sum(const struct pkt *p, __u32 tcplen)
{
	__u32 alen = p->family == 4 ? 4 : 16;

	return tl_sum(0, p->d + addrs_off(p), 2 * alen) + IPPROTO_TCP +
	       (tcplen >> 16) + (tcplen & 0xffff);
}

/* TCP header and payload: from p->l4 to where the IP datagram ends. */
static __u32 tcp_seg_len(const struct pkt *p)
{
	__u32 plen;

	if (p->family == 4)
		return p->l3 + pkt_get16(p, p->l3 + 2) - p->l4;
	plen = pkt_get16(p, p->l3 + 4);
	/* RFC 2675: a jumbogram's datagram is the whole frame */
	if (plen == 0 && p->d[p->l3 + 6] == IPPROTO_HOPOPTS)
		return p->len - p->l4;
	return p->l3 + TL_IPV6_HLEN + plen - p->l4;
}

/*
 * The answer to a blocked TCP segment p, restated from bpf/reject.h's rule
 * comment: false when p is to be dropped unanswered, else the RST in a and
 * whether its TCP checksum field carries the bare pseudo-header sum of a
 * CHECKSUM_PARTIAL skb (tc only) in *partial.
 */
static bool rst_expect(const struct pkt *p, bool is_xdp, struct pkt *a,
		       bool *partial)
{
	__u32 l3 = p->l3, l4 = p->l4, iph, seg, doff, payload;
	__u8 flags, *ip;
	int t;

	if (p->l4 == TL_NONE || p->l4proto != IPPROTO_TCP)
		tl_bug("no tcp header to answer");
	flags = p->d[l4 + 13];
	if (flags & TH_RST)
		return false;
	iph = p->family == 4 ? TL_IPV4_HLEN : TL_IPV6_HLEN;
	seg = tcp_seg_len(p);
	*partial = !is_xdp &&
		   pkt_get16(p, l4 + 16) == tl_fold(pseudo_sum(p, seg));
	/* a device would complete the sum where the old header was */
	if (*partial && l4 != l3 + iph)
		return false;
	doff = (p->d[l4 + 12] >> 4) * 4;
	payload = doff >= TL_TCP_HLEN && doff <= seg ? seg - doff : 0;

	pkt_init(a);
	a->len = l3 + iph + TL_TCP_HLEN;
	a->family = p->family;
	a->l3 = l3;
	a->l4 = t = l3 + iph;
	a->l4proto = IPPROTO_TCP;
	memcpy(a->d, p->d, l3);
	if (l3) {
		memcpy(a->d, p->d + ETH_ALEN, ETH_ALEN);
		memcpy(a->d + ETH_ALEN, p->d, ETH_ALEN);
	}
	if (p->pppoe != TL_NONE) {
		a->pppoe = p->pppoe;
		pkt_put16(a, p->pppoe + 4, 2 + iph + TL_TCP_HLEN);
	}

	ip = a->d + l3;
	if (p->family == 4) {
		ip[0] = IPVERSION << 4 | TL_IPV4_HLEN / 4;
		pkt_put16(a, l3 + 2, TL_IPV4_HLEN + TL_TCP_HLEN);
		pkt_put16(a, l3 + 6, IP_DF);
		ip[8] = OP25B_RST_TTL;
		ip[9] = IPPROTO_TCP;
		memcpy(ip + 12, p->d + l3 + 16, 4);
		memcpy(ip + 16, p->d + l3 + 12, 4);
		pkt_put16(a, l3 + 10, tl_csum(ip, TL_IPV4_HLEN));
	} else {
		ip[0] = 6 << 4;
		pkt_put16(a, l3 + 4, TL_TCP_HLEN);
		ip[6] = IPPROTO_TCP;
		ip[7] = OP25B_RST_TTL;
		memcpy(ip + 8, p->d + l3 + 24, 16);
		memcpy(ip + 24, p->d + l3 + 8, 16);
	}

	pkt_put16(a, t, pkt_get16(p, l4 + 2));
	pkt_put16(a, t + 2, pkt_get16(p, l4));
	if (flags & TH_ACK) {
		pkt_put32(a, t + 4, pkt_get32(p, l4 + 8));
		a->d[t + 13] = TH_RST;
	} else {
		pkt_put32(a, t + 8, pkt_get32(p, l4 + 4) + payload +
					    !!(flags & TH_SYN) +
					    !!(flags & TH_FIN));
		a->d[t + 13] = TH_RST | TH_ACK;
	}
	a->d[t + 12] = (TL_TCP_HLEN / 4) << 4;
	if (*partial)
		pkt_put16(a, t + 16, tl_fold(pseudo_sum(a, TL_TCP_HLEN)));
	else
		pkt_put16(a, t + 16,
			  (__u16)~tl_fold(tl_sum(pseudo_sum(a, TL_TCP_HLEN),
						 a->d + t, TL_TCP_HLEN)));
	return true;
}

/* The checksums of what the program sent, checked on their own. */
static bool rst_sums_ok(const struct pkt *want, const struct pkt *o,
			bool partial, char *why, size_t n)
{
	struct pkt q = *o;
	__u32 sum;

	q.family = want->family;
	q.l3 = want->l3;
	if (o->len != want->len) {
		snprintf(why, n, "%u bytes, not %u", o->len, want->len);
		return false;
	}
	if (q.family == 4 && tl_csum(q.d + q.l3, TL_IPV4_HLEN)) {
		snprintf(why, n, "ipv4 header checksum 0x%04x is wrong",
			 pkt_get16(&q, q.l3 + 10));
		return false;
	}
	sum = pseudo_sum(&q, TL_TCP_HLEN);
	if (partial ? pkt_get16(&q, want->l4 + 16) != tl_fold(sum) :
		      tl_fold(tl_sum(sum, q.d + want->l4, TL_TCP_HLEN)) !=
			      0xffff) {
		snprintf(why, n, "tcp checksum 0x%04x is not the %s sum",
			 pkt_get16(&q, want->l4 + 16),
			 partial ? "pseudo-header" : "full");
		return false;
	}
	return true;
}

/* Every byte of the answer, and its checksums on their own. */
static void check_answer(const char *base, const struct pkt *want,
			 const struct pkt *o, bool partial)
{
	char l[512], why[128];
	__u32 i;

	snprintf(l, sizeof(l), "%s answer checksums%s", base,
		 partial ? " (checksum partial)" : "");
	tl_check(rst_sums_ok(want, o, partial, why, sizeof(why)), l, "%s",
		 why);

	for (i = 0; i < want->len && i < o->len; i++)
		if (want->d[i] != o->d[i])
			break;
	snprintf(l, sizeof(l), "%s answer is the RST", base);
	if (i < want->len || o->len != want->len)
		tl_check(false, l,
			 "%u bytes expected, %u seen; first difference at byte %u: expected 0x%02x, saw 0x%02x",
			 want->len, o->len, i, i < want->len ? want->d[i] : 0,
			 i < o->len ? o->d[i] : 0);
	else
		tl_ok(l);
}

static const char *action_tag(__u32 action)
{
	return action == OP25B_ACT_REJECT  ? " reject" :
	       action == OP25B_ACT_MONITOR ? " monitor" :
					     "";
}

/* Run one packet through both programs of dp and check each run. */
static void check_recorded(struct dp *dp, const char *base,
			   const struct pkt *p, const struct expect *e);

static void run_case(struct dp *dp, const char *label,
		     const struct pkt *p, struct expect e0)
{
	char base[384], l[704], want[256], saw[256], rb[16];
	__u64 dst[ST_COUNT], dhits[R_COUNT];
	struct snap before, after;
	struct pkt rst, out;
	bool same, answer, partial = false;
	struct expect e;
	__u32 ret = 0;
	int i, j, err;

	for (i = 0; i < 2; i++) {
		const struct prog *pr = &dp->prog[i];

		snprintf(base, sizeof(base), "%s [%s%s %s]", label, dp->name,
			 action_tag(dp->action), pr->name);
		/* what is answered is up to the program's hook (reject.h) */
		e = e0;
		answer = e.verdict == V_ANSWER &&
			 rst_expect(p, pr->is_xdp, &rst, &partial);
		if (e.verdict == V_ANSWER && !answer) {
			e.verdict = V_DROP;
			e.stats &= ~BIT(ST_rejected);
		}
		records_clear(dp);
		snapshot(dp, &before);
		err = tl_run_out(pr->fd, p, &ret, answer ? &out : NULL);
		snapshot(dp, &after);

		snprintf(l, sizeof(l), "%s verdict %s", base,
			 outcome_name(e.verdict));
		if (!pr->is_xdp && tc_test_run_refuses(p)) {
			snprintf(l, sizeof(l),
				 "%s not run: test_run refuses a short IP header behind its ethertype",
				 base);
			tl_check(err == -EINVAL, l,
				 "expected EINVAL, saw %s (verdict %d)",
				 err ? strerror(-err) : "a run", (int)ret);
			continue;
		}
		if (err) {
			tl_check(false, l, "test_run of %u bytes failed: %s",
				 p->len, strerror(-err));
			continue;
		}
		tl_check(verdict_ok(pr, e.verdict, ret), l,
			 "expected %s, saw %s", outcome_name(e.verdict),
			 retval_name(pr, ret, rb, sizeof(rb)));
		if (answer)
			check_answer(base, &rst, &out, partial);

		snprintf(l, sizeof(l), "%s %s", base,
			 pr->is_xdp ? "not XDP_ABORTED" : "not TC_ACT_OK");
		tl_check(ret != pr->aborted, l, "returned %d", (int)ret);

		same = true;
		for (j = 0; j < ST_COUNT; j++) {
			dst[j] = after.st[j] - before.st[j];
			same &= dst[j] == ((e.stats & BIT(j)) ? 1 : 0);
		}
		fmt_stats(want, sizeof(want), e.stats, NULL);
		fmt_stats(saw, sizeof(saw), 0, dst);
		snprintf(l, sizeof(l), "%s counters %s", base, want);
		tl_check(same, l, "expected %s, saw %s", want, saw);

		same = true;
		for (j = 0; j < R_COUNT; j++) {
			dhits[j] = after.hits[j] - before.hits[j];
			same &= dhits[j] == ((e.hits & BIT(j)) ? 1 : 0);
		}
		fmt_hits(want, sizeof(want), e.hits, NULL);
		fmt_hits(saw, sizeof(saw), 0, dhits);
		snprintf(l, sizeof(l), "%s hits", base);
		tl_check(same, l, "expected %s, saw %s", want, saw);

		check_recorded(dp, base, p, &e);
	}
}

static __u8 class_of(__u32 stats)
{
	return (stats & BIT(ST_smtp))	     ? OP25B_C_SMTP :
	       (stats & BIT(ST_evasion))     ? OP25B_C_EVASION :
	       (stats & BIT(ST_undecidable)) ? OP25B_C_UNDECIDABLE :
					       OP25B_C_MALFORMED;
}

/*
 * doc/DESIGN.md: blocked attempts are recorded, with the source's counts and
 * an event saying what was done; nothing else is. The table and the rate
 * limit were cleared before the run, so a recorded packet sends its event.
 */
static void check_recorded(struct dp *dp, const char *base,
			   const struct pkt *p, const struct expect *e)
{
	bool rec = e->stats & (BIT(ST_blocked) | BIT(ST_monitored));
	__u8 act = (e->stats & BIT(ST_monitored)) ? OP25B_ACT_MONITOR :
		   (e->stats & BIT(ST_rejected))  ? OP25B_ACT_REJECT :
						    OP25B_ACT_DROP;
	const struct op25b_event *ev = &dp->sink.ev[0];
	int nev = events_drain(dp), noff = offenders_count(dp);
	struct op25b_offender o = {};
	struct op25b_src k;
	char l[512];
	int alen;

	snprintf(l, sizeof(l), "%s %s", base,
		 rec ? "recorded: one offender, one event" : "not recorded");
	if (!tl_check(nev == rec && noff == rec, l,
		      "expected %d offender(s) and event(s), saw %d and %d",
		      rec, noff, nev) || !rec)
		return;

	alen = ev->family == 4 ? 4 : 16;
	k = src_key(p, ev->family);
	snprintf(l, sizeof(l), "%s event: action %s, class, addresses, ifindex",
		 base, act == OP25B_ACT_MONITOR ? "monitor" :
		       act == OP25B_ACT_REJECT	? "reject" : "drop");
	tl_check(ev->action == act && ev->cls == class_of(e->stats) &&
			 (ev->family == 4 || ev->family == 6) &&
			 !memcmp(ev->saddr, k.addr, 16) &&
			 !memcmp(ev->daddr,
				 p->d + p->l3 + (ev->family == 4 ? 16 : 24),
				 alen) &&
			 ev->ifindex == lo_ifindex &&
			 (ev->cls != OP25B_C_SMTP ||
			  ev->dport == pkt_get16(p, p->l4 + 2)),
		 l, "saw action %u class %u family %u ifindex %u dport %u",
		 ev->action, ev->cls, ev->family, ev->ifindex, ev->dport);

	snprintf(l, sizeof(l), "%s offender: the source, counted once", base);
	tl_check(offender_lookup(dp, &k, &o) &&
			 o.blocked == (act != OP25B_ACT_MONITOR) &&
			 o.monitored == (act == OP25B_ACT_MONITOR),
		 l, "no entry for the source, or counts %llu/%llu",
		 (unsigned long long)o.blocked,
		 (unsigned long long)o.monitored);
}

/*
 * What policy must make of a packet of class why, sent as w. An answer
 * counts rejected; run_case takes that back where reject.h drops the
 * packet unanswered after all.
 */
static struct expect judgement(const struct dp *dp, const struct who *w,
			       enum stat_id why)
{
	struct expect e = {
		.verdict = w->drop ? V_DROP : V_PASS,
		.stats = BIT(why) | BIT(w->how),
		.hits = w->hits,
	};

	if (!w->drop)
		return e;
	if (dp->action == OP25B_ACT_MONITOR) {
		e.verdict = V_PASS;
		e.stats = BIT(why) | BIT(ST_monitored);
	} else if (dp->action == OP25B_ACT_REJECT && why == ST_smtp) {
		/* doc/DESIGN.md: dropped, and the sender answered with a RST */
		e.verdict = V_ANSWER;
		e.stats |= BIT(ST_rejected);
	}
	/* reject.h: any other class has no sound header to answer */
	return e;
}

static void judged_as(struct dp *dp, const char *label,
		      const struct pkt *p, enum stat_id why,
		      const struct who *w)
{
	struct pkt q = *p;
	char l[320];

	pkt_set_addrs(&q, w->src, w->dst);
	snprintf(l, sizeof(l), "%s, %s", label, w->name);
	run_case(dp, l, &q, judgement(dp, w, why));
}

/* A shape the parser must judge as why: tried under the four outcomes. */
static void judged(struct dp *dp, const char *label,
		   const struct pkt *p, enum stat_id why)
{
	const struct who *w;
	size_t n, i;

	w = who_table(p->family, &n);
	for (i = 0; i < WHO_MATRIX; i++)
		judged_as(dp, label, p, why, &w[i]);
}

/*
 * A shape the parser must leave alone: sent from a denied subscriber to an
 * outside host, where a judged packet would be dropped, and nothing may
 * move. A packet without an addressable IP header goes as built.
 */
static void passed(struct dp *dp, const char *label,
		   const struct pkt *p)
{
	struct expect e = { .verdict = V_PASS };
	struct pkt q = *p;
	__u32 need = ip_hlen(p->family);

	if (p->l3 != TL_NONE && p->l3 + need <= p->len)
		pkt_set_addrs(&q, p->family == 4 ? DENIED4 : DENIED6,
			      p->family == 4 ? OUT4 : OUT6);
	run_case(dp, label, &q, e);
}

/* A shape judged as cls under the four outcomes, or, cls TL_NONE, passed. */
static void outcome(struct dp *dp, const char *label, const struct pkt *p,
		    int cls)
{
	if (cls == TL_NONE)
		passed(dp, label, p);
	else
		judged(dp, label, p, cls);
}

/* The action and the ports are part of the snapshot: each a publish. */
static void set_action(struct dp *dp, __u32 action)
{
	eng_begin(dp);
	engine_config(&dp->eng)->action = action;
	eng_commit(dp);
	dp->action = action;
}

static void set_port(struct dp *dp, __u16 port, bool blocked)
{
	__u64 *w;

	eng_begin(dp);
	w = &engine_config(&dp->eng)->ports[port / 64];
	if (blocked)
		*w |= 1ULL << (port % 64);
	else
		*w &= ~(1ULL << (port % 64));
	eng_commit(dp);
}

/* ---- packet shapes ---- */

struct encap {
	const char *name;
	bool l3;		/* no Ethernet header: starts at IP */
	int nvlan;
	__u16 tpid[3];
	bool pppoe;
};

static const struct encap enc_eth = { .name = "ethernet" };
static const struct encap enc_l3 = { .name = "l3", .l3 = true };

#define PPPOE_SID	0x2501
#define VID(i)		(100 + (i))

static void lay_l2(struct pkt *p, const struct encap *enc)
{
	int i;

	pkt_init(p);
	if (enc->l3)
		return;
	pkt_eth(p);
	for (i = 0; i < enc->nvlan; i++)
		pkt_vlan(p, enc->tpid[i], VID(i));
	if (enc->pppoe)
		pkt_pppoe(p, TL_PPPOE_VERTYPE, TL_PPPOE_CODE_SESSION,
			  PPPOE_SID);
}

static const char *denied(int family)
{
	return family == 4 ? DENIED4 : DENIED6;
}

static const char *outside(int family)
{
	return family == 4 ? OUT4 : OUT6;
}

/* A complete TCP segment, from a denied subscriber to an outside host. */
static void tcp_seg(struct pkt *p, const struct encap *enc, int family,
		    __u16 dport, __u8 flags, __u32 payload)
{
	lay_l2(p, enc);
	pkt_ip(p, family, denied(family), outside(family));
	pkt_tcp(p, SPORT, dport, flags);
	pkt_bytes(p, payload, 'x');
	pkt_done(p);
}

static void syn(struct pkt *p, const struct encap *enc, int family,
		__u16 dport)
{
	tcp_seg(p, enc, family, dport, TH_SYN, 0);
}

static const int families[] = { 4, 6 };

/* A SYN to port 25 whose version nibble is none of its family's: malformed. */
static void bad_versions(struct dp *dp, const struct encap *e, int family,
			 const __u8 *versions, size_t n)
{
	char l[256];
	struct pkt p;
	size_t i;

	for (i = 0; i < n; i++) {
		syn(&p, e, family, SMTP);
		pkt_set_version(&p, versions[i]);
		snprintf(l, sizeof(l), "ipv%d: %s version %u is malformed",
			 family, e->name, versions[i]);
		judged(dp, l, &p, ST_malformed);
	}
}

#endif /* OP25B_DP_HARNESS_H */
