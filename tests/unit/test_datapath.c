// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath unit tests: every packet runs through BPF_PROG_TEST_RUN on both
 * entry points (op25b_xdp and op25b_tc), of a skeleton loaded for Ethernet
 * devices and of one loaded for L3 devices. Each run is checked four ways:
 * the verdict, that no abort value came back, the per-CPU counters (which
 * moved by exactly one, and that nothing else moved), the hit counters
 * of the policy entries (exactly the entries that decided moved), and what
 * was recorded: an offender entry and one event for a blocked or monitored
 * packet, neither for any other.
 *
 * The expected outcomes restate bpf/parse.h's rule comment and doc/DESIGN.md;
 * nothing here is derived from the datapath's code.
 */
#include <math.h>
#include <sys/mman.h>
#include <stddef.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "op25b.h"
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
struct ev_sink {
	struct op25b_event ev[SINK_MAX];
	size_t size[SINK_MAX];
	int n;
};

struct dp {
	const char *name;
	bool l3;
	bool egress;		/* loaded for a tc egress attachment */
	struct op25b_bpf *skel;
	struct engine eng;	/* the controller's engine on skel's maps */
	bool eng_open;
	struct prog prog[2];
	__u32 action;		/* what this test last set */
	struct ring_buffer *rb;
	struct ev_sink sink;
};

struct snap {
	__u64 st[ST_COUNT];
	__u64 hits[R_COUNT];
};

struct expect {
	enum verdict verdict;
	__u32 stats;		/* counters that move by exactly one */
	__u32 hits;		/* entries whose hits move by exactly one */
};

static int ncpus;
static __u32 lo_ifindex;	/* test_run's device, in every program */

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
 * Stats, and each rule's hits: per CPU by rule id, summed by the engine.
 * Rules are found by prefix, not by a remembered id: a rule must keep its
 * counts whatever id the engine gives it.
 */
static void snapshot(struct dp *dp, struct snap *s)
{
	struct op25b_stats per_cpu[ncpus];
	struct engine_rule *v;
	struct prefix p;
	__u32 zero = 0;
	bool found;
	size_t n, k;
	int c, i;

	memset(s, 0, sizeof(*s));
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.op25b_stats),
				&zero, per_cpu))
		tl_bug("reading op25b_stats: %s", strerror(errno));
	for (c = 0; c < ncpus; c++)
		for (i = 0; i < ST_COUNT; i++)
			s->st[i] += *(__u64 *)((char *)&per_cpu[c] +
					       stat_field[i].off);
	if (engine_rules(&dp->eng, OP25B_TABLE_FORCE_U32, true, &v, &n))
		tl_bug("reading the rules: %s", dp->eng.err);
	for (i = 0; i < R_COUNT; i++) {
		p = rule_prefix(&rules[i]);
		found = false;
		for (k = 0; k < n && !found; k++) {
			if (v[k].table != rule_table(&rules[i]) ||
			    !same_prefix(&v[k].p, &p))
				continue;
			if (v[k].verdict != rules[i].verdict)
				tl_bug("rule %s has verdict %d", rules[i].prefix,
				       v[k].verdict);
			s->hits[i] = v[k].hits;
			found = true;
		}
		if (!found)
			tl_bug("rule %s is not in the live policy",
			       rules[i].prefix);
	}
	free(v);
}

/* ---- offenders and events ---- */

static int ev_collect(void *ctx, void *data, size_t size)
{
	struct ev_sink *s = ctx;

	if (s->n < SINK_MAX) {
		memset(&s->ev[s->n], 0, sizeof(s->ev[s->n]));
		memcpy(&s->ev[s->n], data,
		       size < sizeof(s->ev[0]) ? size : sizeof(s->ev[0]));
		s->size[s->n] = size;
	}
	s->n++;
	return 0;
}

/* Consume whatever the ring buffer holds into dp->sink, emptied first. */
static int events_drain(struct dp *dp)
{
	dp->sink.n = 0;
	if (ring_buffer__consume(dp->rb) < 0)
		tl_bug("consuming events: %s", strerror(errno));
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

static const char *verdict_name(enum verdict v)
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
			 verdict_name(e.verdict));
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
			 "expected %s, saw %s", verdict_name(e.verdict),
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
	__u32 need = p->family == 4 ? TL_IPV4_HLEN : TL_IPV6_HLEN;

	if (p->l3 != TL_NONE && p->l3 + need <= p->len)
		pkt_set_addrs(&q, p->family == 4 ? DENIED4 : DENIED6,
			      p->family == 4 ? OUT4 : OUT6);
	run_case(dp, label, &q, e);
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

/* ---- sections ---- */

/* doc/DESIGN.md's policy model, on every corner of the nested tables. */
static void test_verdict_paths(struct dp *dp, const struct encap *enc)
{
	const struct who *w;
	char l[256];
	struct pkt p;
	size_t n, i, f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		syn(&p, enc, fam, SMTP);
		w = who_table(fam, &n);
		snprintf(l, sizeof(l), "policy: ipv%d tcp/%d", fam, SMTP);
		for (i = 0; i < n; i++)
			judged_as(dp, l, &p, ST_smtp, &w[i]);
	}
}

/* Only TCP to a blocked destination port is judged. */
static void test_other_ports(struct dp *dp, const struct encap *enc)
{
	static const __u16 ports[] = {
		SUBMISSION, SMTPS, HTTP, SMTP - 1, SMTP + 1,
		/* 25 with its bytes swapped: a missing ntohs */
		(__u16)(SMTP << 8), 0, PORT_MAX,
	};
	char l[256];
	struct pkt p;
	size_t i, f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		for (i = 0; i < ARRAY_SIZE(ports); i++) {
			syn(&p, enc, fam, ports[i]);
			snprintf(l, sizeof(l), "ports: ipv%d tcp/%u passes",
				 fam, ports[i]);
			passed(dp, l, &p);
		}

		/* a reply from a mail server: source port 25 */
		lay_l2(&p, enc);
		pkt_ip(&p, fam, denied(fam), outside(fam));
		pkt_tcp(&p, SMTP, SPORT, TH_SYN | TH_ACK);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ports: ipv%d tcp source port %d passes", fam, SMTP);
		passed(dp, l, &p);

		lay_l2(&p, enc);
		pkt_ip(&p, fam, denied(fam), outside(fam));
		pkt_udp(&p, SPORT, SMTP);
		pkt_bytes(&p, 32, 0);
		pkt_done(&p);
		snprintf(l, sizeof(l), "ports: ipv%d udp/%d passes", fam,
			 SMTP);
		passed(dp, l, &p);
	}
}

/* doc/DESIGN.md: every TCP segment is judged, not only SYNs. */
static void test_tcp_flags(struct dp *dp, const struct encap *enc)
{
	static const struct {
		const char *name;
		__u8 flags;
		__u32 payload;
	} segs[] = {
		{ "syn", TH_SYN, 0 },
		{ "syn-ack", TH_SYN | TH_ACK, 0 },
		{ "ack", TH_ACK, 0 },
		{ "data", TH_PUSH | TH_ACK, 512 },
		{ "fin", TH_FIN | TH_ACK, 0 },
		{ "rst", TH_RST, 0 },
		{ "rst-ack", TH_RST | TH_ACK, 0 },
		{ "no flags", 0, 0 },
	};
	char l[256];
	struct pkt p;
	size_t i, f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		for (i = 0; i < ARRAY_SIZE(segs); i++) {
			tcp_seg(&p, enc, fam, SMTP, segs[i].flags,
				segs[i].payload);
			snprintf(l, sizeof(l), "segments: ipv%d tcp/%d %s",
				 fam, SMTP, segs[i].name);
			judged(dp, l, &p, ST_smtp);
		}
	}
}

/* The blocked-port bitmap is read live: ports can be added and removed. */
static void test_port_bitmap(struct dp *dp, const struct encap *enc)
{
	char l[256];
	struct pkt p;
	size_t f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		set_port(dp, ALT_SMTP, true);
		set_port(dp, PORT_MAX, true);
		set_port(dp, 0, true);

		syn(&p, enc, fam, ALT_SMTP);
		snprintf(l, sizeof(l), "bitmap: ipv%d tcp/%d once added", fam,
			 ALT_SMTP);
		judged(dp, l, &p, ST_smtp);
		syn(&p, enc, fam, PORT_MAX);
		snprintf(l, sizeof(l), "bitmap: ipv%d tcp/%d once added", fam,
			 PORT_MAX);
		judged(dp, l, &p, ST_smtp);
		syn(&p, enc, fam, 0);
		snprintf(l, sizeof(l), "bitmap: ipv%d tcp/0 once added", fam);
		judged(dp, l, &p, ST_smtp);
		syn(&p, enc, fam, SMTP);
		snprintf(l, sizeof(l), "bitmap: ipv%d tcp/%d still blocked",
			 fam, SMTP);
		judged(dp, l, &p, ST_smtp);
		syn(&p, enc, fam, ALT_SMTP + 1);
		snprintf(l, sizeof(l), "bitmap: ipv%d tcp/%d neighbour passes",
			 fam, ALT_SMTP + 1);
		passed(dp, l, &p);
		syn(&p, enc, fam, PORT_MAX - 1);
		snprintf(l, sizeof(l), "bitmap: ipv%d tcp/%d neighbour passes",
			 fam, PORT_MAX - 1);
		passed(dp, l, &p);

		set_port(dp, SMTP, false);
		syn(&p, enc, fam, SMTP);
		snprintf(l, sizeof(l), "bitmap: ipv%d tcp/%d once removed",
			 fam, SMTP);
		passed(dp, l, &p);
		syn(&p, enc, fam, ALT_SMTP);
		snprintf(l, sizeof(l),
			 "bitmap: ipv%d tcp/%d with %d removed", fam,
			 ALT_SMTP, SMTP);
		judged(dp, l, &p, ST_smtp);

		set_port(dp, SMTP, true);
		set_port(dp, ALT_SMTP, false);
		set_port(dp, PORT_MAX, false);
		set_port(dp, 0, false);
		syn(&p, enc, fam, ALT_SMTP);
		snprintf(l, sizeof(l), "bitmap: ipv%d tcp/%d once removed",
			 fam, ALT_SMTP);
		passed(dp, l, &p);
		syn(&p, enc, fam, SMTP);
		snprintf(l, sizeof(l), "bitmap: ipv%d tcp/%d restored", fam,
			 SMTP);
		judged(dp, l, &p, ST_smtp);
	}
}

/* monitor lets blocked packets through but counts them; reject drops. */
static void test_actions(struct dp *dp, const struct encap *enc)
{
	static const struct {
		const char *name;
		__u32 action;
	} acts[] = {
		{ "monitor", OP25B_ACT_MONITOR },
		{ "reject", OP25B_ACT_REJECT },
	};
	char l[256];
	struct pkt p;
	size_t a, f;

	for (a = 0; a < ARRAY_SIZE(acts); a++) {
		set_action(dp, acts[a].action);
		for (f = 0; f < ARRAY_SIZE(families); f++) {
			int fam = families[f];

			syn(&p, enc, fam, SMTP);
			snprintf(l, sizeof(l), "action %s: ipv%d tcp/%d",
				 acts[a].name, fam, SMTP);
			judged(dp, l, &p, ST_smtp);

			syn(&p, enc, fam, SUBMISSION);
			snprintf(l, sizeof(l), "action %s: ipv%d tcp/%d",
				 acts[a].name, fam, SUBMISSION);
			passed(dp, l, &p);
		}
		/* classes other than smtp follow the action too */
		lay_l2(&p, enc);
		pkt_ipv4(&p, DENIED4, OUT4);
		pkt_ipv4_frag(&p, 0, 1);
		pkt_tcp(&p, SPORT, SMTP, TH_ACK);
		pkt_done(&p);
		snprintf(l, sizeof(l), "action %s: ipv4 fragment offset 1",
			 acts[a].name);
		judged(dp, l, &p, ST_evasion);
	}
	set_action(dp, OP25B_ACT_DROP);
	syn(&p, enc, 4, SMTP);
	judged(dp, "action drop again: ipv4 tcp/25", &p, ST_smtp);
}

/* ---- L2 ---- */

static const __u16 tpids[] = { ETH_P_8021Q, ETH_P_8021AD, ETH_P_QINQ1 };
#define NTPID ARRAY_SIZE(tpids)

static void encap_name(struct encap *e, char *buf, size_t n)
{
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < e->nvlan; i++)
		len += snprintf(buf + len, n - len, "%svlan 0x%04x",
				i ? "+" : "", e->tpid[i]);
	if (e->pppoe)
		snprintf(buf + len, n - len, "%spppoe", len ? " " : "");
	if (!buf[0])
		snprintf(buf, n, "ethernet");
	e->name = buf;
}

/* A tcp/25 packet the encapsulation must not hide, and a 587 one. */
static void judged_through(struct dp *dp, const struct encap *enc)
{
	char l[256];
	struct pkt p;
	size_t f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		syn(&p, enc, fam, SMTP);
		snprintf(l, sizeof(l), "l2: %s ipv%d tcp/%d", enc->name, fam,
			 SMTP);
		judged(dp, l, &p, ST_smtp);
		syn(&p, enc, fam, SUBMISSION);
		snprintf(l, sizeof(l), "l2: %s ipv%d tcp/%d passes",
			 enc->name, fam, SUBMISSION);
		passed(dp, l, &p);
	}
}

static void test_vlans(struct dp *dp)
{
	struct encap e;
	char name[96], l[256];
	struct pkt p;
	size_t i, j, f;
	int pppoe;

	for (pppoe = 0; pppoe <= 1; pppoe++) {
		memset(&e, 0, sizeof(e));
		e.pppoe = pppoe;
		encap_name(&e, name, sizeof(name));
		judged_through(dp, &e);
		for (i = 0; i < ARRAY_SIZE(tpids); i++) {
			e.nvlan = 1;
			e.tpid[0] = tpids[i];
			encap_name(&e, name, sizeof(name));
			judged_through(dp, &e);
			for (j = 0; j < ARRAY_SIZE(tpids); j++) {
				e.nvlan = 2;
				e.tpid[1] = tpids[j];
				encap_name(&e, name, sizeof(name));
				judged_through(dp, &e);
			}
		}
	}

	/* A third tag is beyond OP25B_VLAN_MAX: pass, in every order. */
	for (pppoe = 0; pppoe <= 1; pppoe++)
		for (i = 0; i < NTPID * NTPID * NTPID; i++)
			for (f = 0; f < ARRAY_SIZE(families); f++) {
				memset(&e, 0, sizeof(e));
				e.nvlan = 3;
				e.tpid[0] = tpids[i / (NTPID * NTPID)];
				e.tpid[1] = tpids[i / NTPID % NTPID];
				e.tpid[2] = tpids[i % NTPID];
				e.pppoe = pppoe;
				encap_name(&e, name, sizeof(name));
				syn(&p, &e, families[f], SMTP);
				snprintf(l, sizeof(l),
					 "l2: %s ipv%d tcp/%d passes (3 tags)",
					 e.name, families[f], SMTP);
				passed(dp, l, &p);
			}
}

/* Ethertypes other than IP, VLAN and PPPoE session pass. */
static void test_ethertypes(struct dp *dp)
{
	static const struct {
		const char *name;
		__u16 type;
	} types[] = {
		{ "arp", ETH_P_ARP },
		{ "pppoe discovery", ETH_P_PPP_DISC },
		{ "lldp", ETH_P_LLDP },
		{ "mpls", ETH_P_MPLS_UC },
		{ "802.3 length", 0x0100 },
	};
	struct encap e = { 0 };
	char name[96], l[256];
	struct pkt p;
	size_t i, f;
	int v;

	/* an IP packet behind the wrong ethertype, at every tag depth */
	for (v = 0; v <= 2; v++) {
		e.nvlan = v;
		e.tpid[0] = ETH_P_8021AD;
		e.tpid[1] = ETH_P_8021Q;
		encap_name(&e, name, sizeof(name));
		for (i = 0; i < ARRAY_SIZE(types); i++)
			for (f = 0; f < ARRAY_SIZE(families); f++) {
				syn(&p, &e, families[f], SMTP);
				pkt_put16(&p, p.l3 - 2, types[i].type);
				snprintf(l, sizeof(l),
					 "l2: %s ethertype %s (0x%04x) carrying ipv%d tcp/%d passes",
					 e.name, types[i].name, types[i].type,
					 families[f], SMTP);
				passed(dp, l, &p);
			}
	}

	/* a real ARP request */
	pkt_init(&p);
	pkt_eth(&p);
	pkt_type(&p, ETH_P_ARP);
	pkt_bytes(&p, 28, 0);
	passed(dp, "l2: arp request passes", &p);
}

static void test_pppoe(struct dp *dp)
{
	static const __u8 vertypes[] = { 0x00, 0x10, 0x01, 0x12, 0x21, 0xff };
	static const __u8 codes[] = { 0x09, 0x07, 0x19, 0x65, 0xa7, 0x01 };
	static const struct {
		const char *name;
		__u16 proto;
	} protos[] = {
		{ "lcp", PPP_LCP },
		{ "ipcp", PPP_IPCP },
		{ "ipv6cp", PPP_IPV6CP },
		{ "zero", 0 },
		{ "ethertype ipv4", ETH_P_IP },
		{ "ethertype ipv6", ETH_P_IPV6 },
	};
	static const __u16 pppoe_lens[] = { 0, 1, 0xffff };
	const struct encap e = { .name = "pppoe", .pppoe = true };
	char l[256];
	struct pkt p;
	size_t i, f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		/* session id and the untrusted length field do not matter */
		syn(&p, &e, fam, SMTP);
		pkt_put16(&p, p.pppoe + 2, 0);
		snprintf(l, sizeof(l), "pppoe: ipv%d session id 0", fam);
		judged(dp, l, &p, ST_smtp);
		for (i = 0; i < ARRAY_SIZE(pppoe_lens); i++) {
			syn(&p, &e, fam, SMTP);
			pkt_put16(&p, p.pppoe + 4, pppoe_lens[i]);
			snprintf(l, sizeof(l),
				 "pppoe: ipv%d length field %u not trusted",
				 fam, pppoe_lens[i]);
			judged(dp, l, &p, ST_smtp);
		}

		for (i = 0; i < ARRAY_SIZE(vertypes); i++) {
			syn(&p, &e, fam, SMTP);
			pkt_put8(&p, p.pppoe, vertypes[i]);
			snprintf(l, sizeof(l),
				 "pppoe: ipv%d ver/type 0x%02x passes", fam,
				 vertypes[i]);
			passed(dp, l, &p);
		}
		for (i = 0; i < ARRAY_SIZE(codes); i++) {
			syn(&p, &e, fam, SMTP);
			pkt_put8(&p, p.pppoe + 1, codes[i]);
			snprintf(l, sizeof(l),
				 "pppoe: ipv%d code 0x%02x passes", fam,
				 codes[i]);
			passed(dp, l, &p);
		}
		for (i = 0; i < ARRAY_SIZE(protos); i++) {
			syn(&p, &e, fam, SMTP);
			pkt_put16(&p, p.l3 - 2, protos[i].proto);
			snprintf(l, sizeof(l),
				 "pppoe: ppp protocol %s (0x%04x) carrying ipv%d passes",
				 protos[i].name, protos[i].proto, fam);
			passed(dp, l, &p);
		}
	}
}

/* ---- truncation at every layer ---- */

static void test_truncated(struct dp *dp)
{
	static const __u32 eth_cuts[] = { 1, ETH_HLEN - 1 };
	static const __u32 ip4_cuts[] = { 0, 1, 19 };
	static const __u32 ip6_cuts[] = { 0, 1, 39 };
	static const __u32 tcp_cuts[] = { 0, 1, 8, 19 };
	const struct encap *encs[3];
	struct encap vlan = { .name = "vlan 0x8100", .nvlan = 1,
			      .tpid = { ETH_P_8021Q } };
	struct encap pppoe = { .name = "vlan 0x88a8 pppoe", .nvlan = 1,
			       .tpid = { ETH_P_8021AD }, .pppoe = true };
	char l[256];
	struct pkt p;
	size_t i, k, f;
	__u32 n;

	encs[0] = &enc_eth;
	encs[1] = &vlan;
	encs[2] = &pppoe;

	/* Ethernet header itself: test_run may refuse under 14 bytes */
	for (i = 0; i < ARRAY_SIZE(eth_cuts); i++) {
		__u32 ret;
		int err;

		n = eth_cuts[i];
		syn(&p, &enc_eth, 4, SMTP);
		pkt_cut(&p, n);
		err = tl_run(dp->prog[0].fd, &p, &ret);
		if (err == -EINVAL) {
			snprintf(l, sizeof(l),
				 "truncated: ethernet of %u bytes never reaches the program (test_run refuses it)",
				 n);
			tl_ok(l);
			continue;
		}
		snprintf(l, sizeof(l), "truncated: ethernet of %u bytes", n);
		passed(dp, l, &p);
	}

	/* a VLAN tag cut short, first or second */
	for (i = 0; i < ARRAY_SIZE(tpids); i++) {
		for (n = 1; n < 4; n++) {
			pkt_init(&p);
			pkt_eth(&p);
			pkt_vlan(&p, tpids[i], VID(0));
			pkt_type(&p, ETH_P_IP);
			pkt_cut(&p, ETH_HLEN + n);
			snprintf(l, sizeof(l),
				 "truncated: vlan 0x%04x tag cut to %u bytes",
				 tpids[i], n);
			passed(dp, l, &p);
		}
		pkt_init(&p);
		pkt_eth(&p);
		pkt_vlan(&p, ETH_P_8021AD, VID(0));
		pkt_vlan(&p, tpids[i], VID(1));
		pkt_type(&p, ETH_P_IP);
		pkt_cut(&p, ETH_HLEN + 4 + 2);
		snprintf(l, sizeof(l),
			 "truncated: second tag 0x%04x cut to 2 bytes",
			 tpids[i]);
		passed(dp, l, &p);
	}

	/* a PPPoE header (6 bytes + PPP protocol) cut short */
	for (n = 0; n < TL_PPPOE_HLEN + 2; n++) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_pppoe(&p, TL_PPPOE_VERTYPE, TL_PPPOE_CODE_SESSION,
			  PPPOE_SID);
		pkt_type(&p, PPP_IP);
		pkt_cut(&p, ETH_HLEN + n);
		snprintf(l, sizeof(l), "truncated: pppoe header cut to %u bytes",
			 n);
		passed(dp, l, &p);
	}

	for (k = 0; k < ARRAY_SIZE(encs); k++) {
		const struct encap *e = encs[k];

		/* an IP header cut short: nothing to judge */
		for (i = 0; i < ARRAY_SIZE(ip4_cuts); i++) {
			syn(&p, e, 4, SMTP);
			pkt_cut(&p, p.l3 + ip4_cuts[i]);
			snprintf(l, sizeof(l),
				 "truncated: %s ipv4 header of %u bytes passes",
				 e->name, ip4_cuts[i]);
			passed(dp, l, &p);
		}
		for (i = 0; i < ARRAY_SIZE(ip6_cuts); i++) {
			syn(&p, e, 6, SMTP);
			pkt_cut(&p, p.l3 + ip6_cuts[i]);
			snprintf(l, sizeof(l),
				 "truncated: %s ipv6 header of %u bytes passes",
				 e->name, ip6_cuts[i]);
			passed(dp, l, &p);
		}

		for (f = 0; f < ARRAY_SIZE(families); f++) {
			int fam = families[f];

			/* IP lengths agree with a TCP header under 20 bytes */
			for (i = 0; i < ARRAY_SIZE(tcp_cuts); i++) {
				lay_l2(&p, e);
				pkt_ip(&p, fam, denied(fam), outside(fam));
				pkt_tcp(&p, SPORT, SMTP, TH_SYN);
				pkt_cut(&p, p.l4 + tcp_cuts[i]);
				pkt_done(&p);
				snprintf(l, sizeof(l),
					 "truncated: %s ipv%d tcp header of %u bytes",
					 e->name, fam, tcp_cuts[i]);
				judged(dp, l, &p, ST_malformed);
			}
			/* the frame cut, the IP lengths claiming all of it */
			syn(&p, e, fam, SMTP);
			pkt_cut(&p, p.l4 + 10);
			snprintf(l, sizeof(l),
				 "truncated: %s ipv%d frame cut inside tcp, lengths intact",
				 e->name, fam);
			judged(dp, l, &p, ST_malformed);
		}
	}
}

/* The link layer's type picks the IP parser; the header must agree. */
static void test_family_mismatch(struct dp *dp)
{
	/* Bytes 4..7 of this source sit where IPv4 keeps its source: DENIED4 */
	static const char v6_reads_as_denied4[] = "2001:db8:a02:304::1";
	const struct encap pppoe = { .name = "pppoe", .pppoe = true };
	const struct encap *encs[] = { &enc_eth, &pppoe };
	char l[256];
	struct pkt p;
	size_t k;

	for (k = 0; k < ARRAY_SIZE(encs); k++) {
		const struct encap *e = encs[k];
		__u16 t4 = e->pppoe ? PPP_IP : ETH_P_IP;
		__u16 t6 = e->pppoe ? PPP_IPV6 : ETH_P_IPV6;

		lay_l2(&p, e);
		pkt_ipv6(&p, v6_reads_as_denied4, OUT6);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_done(&p);
		pkt_put16(&p, p.l3 - 2, t4);
		snprintf(l, sizeof(l),
			 "mismatch: %s ipv6 packet under the ipv4 type is malformed ipv4",
			 e->name);
		run_case(dp, l, &p,
			 (struct expect){ V_DROP,
					  BIT(ST_malformed) | BIT(ST_blocked),
					  BIT(R_S4_DENY) });

		/* 40 bytes of IPv4 + TCP hold a whole IPv6 header's worth */
		syn(&p, e, 4, SMTP);
		pkt_put16(&p, p.l3 - 2, t6);
		snprintf(l, sizeof(l),
			 "mismatch: %s ipv4 packet under the ipv6 type is malformed ipv6",
			 e->name);
		run_case(dp, l, &p,
			 (struct expect){ V_PASS,
					  BIT(ST_malformed) |
						  BIT(ST_not_subscriber),
					  0 });

		syn(&p, e, 4, SMTP);
		pkt_put16(&p, p.l3 - 2, t6);
		pkt_cut(&p, p.l3 + TL_IPV6_HLEN - 1);
		snprintf(l, sizeof(l),
			 "mismatch: %s 39-byte ipv4 packet under the ipv6 type passes",
			 e->name);
		run_case(dp, l, &p, (struct expect){ V_PASS, 0, 0 });
	}
}

/* ---- IPv4 ---- */

/* A TCP segment of seg bytes (IP lengths agreeing), fragment field set. */
static void v4_frag(struct pkt *p, const struct encap *e, __u16 flags,
		    __u16 offset, __u8 proto, __u16 dport, __u32 seg)
{
	lay_l2(p, e);
	pkt_ipv4(p, DENIED4, OUT4);
	pkt_ipv4_frag(p, flags, offset);
	if (proto == IPPROTO_TCP) {
		pkt_tcp(p, SPORT, dport, TH_ACK);
	} else if (proto == IPPROTO_UDP) {
		pkt_udp(p, SPORT, dport);
	} else {
		pkt_nh(p, proto);
		p->l4 = p->len;
		pkt_bytes(p, TL_TCP_HLEN, 0);
	}
	if (seg < p->len - p->l4)
		pkt_cut(p, p->l4 + seg);
	else
		pkt_bytes(p, seg - (p->len - p->l4), 'x');
	pkt_done(p);
}

static void test_ipv4_header(struct dp *dp, const struct encap *e)
{
	static const __u8 versions[] = { 0, 5, 6, 15 };
	char l[256];
	struct pkt p;
	__u8 ihl;
	size_t i;

	/* on an L3 device the version nibble itself picks the parser */
	for (i = 0; !e->l3 && i < ARRAY_SIZE(versions); i++) {
		syn(&p, e, 4, SMTP);
		pkt_set_version(&p, versions[i]);
		snprintf(l, sizeof(l), "ipv4: %s version %u is malformed",
			 e->name, versions[i]);
		judged(dp, l, &p, ST_malformed);
	}
	for (ihl = 0; ihl < 5; ihl++) {
		syn(&p, e, 4, SMTP);
		pkt_put8(&p, p.l3, IPVERSION << 4 | ihl);
		snprintf(l, sizeof(l), "ipv4: %s ihl %u is malformed", e->name,
			 ihl);
		judged(dp, l, &p, ST_malformed);
	}
	/* the length checks come before the protocol */
	v4_frag(&p, e, 0, 0, IPPROTO_UDP, SMTP, TL_UDP_HLEN);
	pkt_put8(&p, p.l3, IPVERSION << 4 | 4);
	snprintf(l, sizeof(l), "ipv4: %s udp with ihl 4 is malformed", e->name);
	judged(dp, l, &p, ST_malformed);

	syn(&p, e, 4, SMTP);
	pkt_put16(&p, p.l3 + 2, TL_IPV4_HLEN - 1);
	snprintf(l, sizeof(l), "ipv4: %s total length 19 < ihl*4 is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	syn(&p, e, 4, SMTP);
	pkt_put16(&p, p.l3 + 2, 0);
	snprintf(l, sizeof(l), "ipv4: %s total length 0 is malformed", e->name);
	judged(dp, l, &p, ST_malformed);

	lay_l2(&p, e);
	pkt_ipv4_ihl(&p, 15, DENIED4, OUT4);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 2, 15 * 4 - 1);
	snprintf(l, sizeof(l),
		 "ipv4: %s ihl 15, total length 59 < 60 is malformed", e->name);
	judged(dp, l, &p, ST_malformed);

	syn(&p, e, 4, SMTP);
	pkt_put16(&p, p.l3 + 2, p.len - p.l3 + 1);
	snprintf(l, sizeof(l),
		 "ipv4: %s total length one over the packet is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	syn(&p, e, 4, SMTP);
	pkt_put16(&p, p.l3 + 2, 0xffff);
	snprintf(l, sizeof(l), "ipv4: %s total length 65535 is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);

	/* link padding after the datagram is not the datagram */
	syn(&p, e, 4, SMTP);
	pkt_bytes(&p, 6, 0);
	snprintf(l, sizeof(l), "ipv4: %s tcp/%d with link padding", e->name,
		 SMTP);
	judged(dp, l, &p, ST_smtp);
	syn(&p, e, 4, SUBMISSION);
	pkt_bytes(&p, 100, 0);
	snprintf(l, sizeof(l), "ipv4: %s tcp/%d with link padding passes",
		 e->name, SUBMISSION);
	passed(dp, l, &p);
	/* ...so a TCP header the frame holds but the datagram does not */
	syn(&p, e, 4, SMTP);
	pkt_put16(&p, p.l3 + 2, TL_IPV4_HLEN + TL_TCP_HLEN - 1);
	snprintf(l, sizeof(l),
		 "ipv4: %s total length ends 1 byte short of the tcp header",
		 e->name);
	judged(dp, l, &p, ST_malformed);

	for (ihl = 5; ihl <= 15; ihl++) {
		lay_l2(&p, e);
		pkt_ipv4_ihl(&p, ihl, DENIED4, OUT4);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_done(&p);
		snprintf(l, sizeof(l), "ipv4: %s ihl %u tcp/%d", e->name, ihl,
			 SMTP);
		judged(dp, l, &p, ST_smtp);

		lay_l2(&p, e);
		pkt_ipv4_ihl(&p, ihl, DENIED4, OUT4);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
		pkt_done(&p);
		snprintf(l, sizeof(l), "ipv4: %s ihl %u tcp/%d passes", e->name,
			 ihl, SUBMISSION);
		passed(dp, l, &p);
	}

	/* other protocols to port 25 */
	v4_frag(&p, e, 0, 0, IPPROTO_ICMP, 0, TL_TCP_HLEN);
	snprintf(l, sizeof(l), "ipv4: %s icmp passes", e->name);
	passed(dp, l, &p);
	v4_frag(&p, e, 0, 0, 253, 0, TL_TCP_HLEN);
	snprintf(l, sizeof(l), "ipv4: %s protocol 253 passes", e->name);
	passed(dp, l, &p);
}

/* RFC 1858 / RFC 3128 fragment shapes. */
static void test_ipv4_frags(struct dp *dp, const struct encap *e)
{
	static const __u16 flagset[] = { 0, IP_MF, IP_DF };
	static const __u16 offsets[] = { 2, 3, 185, IP_OFFMASK };
	static const __u32 short_segs[] = { 0, 8, 16, 19 };
	char l[256];
	struct pkt p;
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(flagset); i++) {
		/* the port a later fragment would carry does not matter */
		v4_frag(&p, e, flagset[i], 1, IPPROTO_TCP, SUBMISSION, 64);
		snprintf(l, sizeof(l),
			 "ipv4 frag: %s tcp offset 1 flags 0x%04x is evasion",
			 e->name, flagset[i]);
		judged(dp, l, &p, ST_evasion);

		v4_frag(&p, e, flagset[i], 1, IPPROTO_UDP, SMTP, 64);
		snprintf(l, sizeof(l),
			 "ipv4 frag: %s udp offset 1 flags 0x%04x passes",
			 e->name, flagset[i]);
		passed(dp, l, &p);

		for (j = 0; j < ARRAY_SIZE(offsets); j++) {
			v4_frag(&p, e, flagset[i], offsets[j], IPPROTO_TCP,
				SMTP, 64);
			snprintf(l, sizeof(l),
				 "ipv4 frag: %s tcp offset %u flags 0x%04x passes",
				 e->name, offsets[j], flagset[i]);
			passed(dp, l, &p);
		}
	}
	v4_frag(&p, e, IP_MF, 1, IPPROTO_ICMP, 0, 64);
	snprintf(l, sizeof(l), "ipv4 frag: %s icmp offset 1 passes", e->name);
	passed(dp, l, &p);

	/* the lengths are checked before the fragment shape */
	v4_frag(&p, e, IP_MF, 1, IPPROTO_TCP, SMTP, 64);
	pkt_put16(&p, p.l3 + 2, p.len - p.l3 + 1);
	snprintf(l, sizeof(l),
		 "ipv4 frag: %s offset 1 with total length over the packet is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);

	/* a first fragment must hold the whole 20-byte TCP header */
	for (i = 0; i < ARRAY_SIZE(short_segs); i++) {
		v4_frag(&p, e, IP_MF, 0, IPPROTO_TCP, SUBMISSION,
			short_segs[i]);
		snprintf(l, sizeof(l),
			 "ipv4 frag: %s first fragment with %u tcp bytes is evasion",
			 e->name, short_segs[i]);
		judged(dp, l, &p, ST_evasion);

		v4_frag(&p, e, IP_DF, 0, IPPROTO_TCP, SUBMISSION,
			short_segs[i]);
		snprintf(l, sizeof(l),
			 "ipv4 frag: %s unfragmented (DF) with %u tcp bytes is malformed",
			 e->name, short_segs[i]);
		judged(dp, l, &p, ST_malformed);
	}
	v4_frag(&p, e, IP_MF, 0, IPPROTO_TCP, SMTP, TL_TCP_HLEN);
	snprintf(l, sizeof(l),
		 "ipv4 frag: %s first fragment with 20 tcp bytes to %d", e->name,
		 SMTP);
	judged(dp, l, &p, ST_smtp);
	v4_frag(&p, e, IP_MF, 0, IPPROTO_TCP, SUBMISSION, TL_TCP_HLEN);
	snprintf(l, sizeof(l),
		 "ipv4 frag: %s first fragment with 20 tcp bytes to %d passes",
		 e->name, SUBMISSION);
	passed(dp, l, &p);
	v4_frag(&p, e, IP_MF, 0, IPPROTO_TCP, SMTP, 1024);
	snprintf(l, sizeof(l),
		 "ipv4 frag: %s first fragment with 1024 tcp bytes to %d",
		 e->name, SMTP);
	judged(dp, l, &p, ST_smtp);
	v4_frag(&p, e, IP_RF, 0, IPPROTO_TCP, SMTP, TL_TCP_HLEN);
	snprintf(l, sizeof(l), "ipv4 frag: %s reserved flag, tcp/%d", e->name,
		 SMTP);
	judged(dp, l, &p, ST_smtp);
}

/* ---- IPv6 ---- */

static void v6_start(struct pkt *p, const struct encap *e)
{
	lay_l2(p, e);
	pkt_ipv6(p, DENIED6, OUT6);
}

/* An extension header; a fragment header here is an atomic fragment. */
static void v6_ext(struct pkt *p, __u8 type, __u32 bytes)
{
	if (type == IPPROTO_FRAGMENT)
		pkt_ipv6_frag(p, 0, false);
	else
		pkt_ipv6_ext(p, type, bytes);
}

/* A TCP header the parser would judge on its port, laid down raw. */
static void fake_tcp_bytes(struct pkt *p, __u16 dport)
{
	int off = p->len;

	pkt_bytes(p, TL_TCP_HLEN, 0);
	pkt_put16(p, off, SPORT);
	pkt_put16(p, off + 2, dport);
}

static const struct {
	const char *name;
	__u8 type;
	__u32 bytes;
} v6_exts[] = {
	{ "hop-by-hop", IPPROTO_HOPOPTS, 8 },
	{ "hop-by-hop", IPPROTO_HOPOPTS, 16 },
	{ "hop-by-hop", IPPROTO_HOPOPTS, 2048 },
	{ "routing", IPPROTO_ROUTING, 24 },
	{ "atomic fragment", IPPROTO_FRAGMENT, 8 },
	{ "destination options", IPPROTO_DSTOPTS, 8 },
	{ "destination options", IPPROTO_DSTOPTS, 64 },
	{ "ah", IPPROTO_AH, 12 },
	{ "ah", IPPROTO_AH, 24 },
	{ "ah", IPPROTO_AH, 1028 },
	{ "mobility", IPPROTO_MH, 8 },
	{ "mobility", IPPROTO_MH, 16 },
	{ "hip", TL_NH_HIP, 40 },
	{ "shim6", TL_NH_SHIM6, 8 },
};

static void test_ipv6_header(struct dp *dp, const struct encap *e)
{
	static const __u8 versions[] = { 0, 4, 7, 15 };
	static const struct {
		const char *name;
		__u8 nh;
	} others[] = {
		{ "esp", IPPROTO_ESP },
		{ "no next header", IPPROTO_NONE },
		{ "icmpv6", IPPROTO_ICMPV6 },
		{ "unknown 253", 253 },
	};
	char l[256];
	struct pkt p;
	size_t i;

	/* on an L3 device the version nibble itself picks the parser */
	for (i = 0; !e->l3 && i < ARRAY_SIZE(versions); i++) {
		syn(&p, e, 6, SMTP);
		pkt_set_version(&p, versions[i]);
		snprintf(l, sizeof(l), "ipv6: %s version %u is malformed",
			 e->name, versions[i]);
		judged(dp, l, &p, ST_malformed);
	}
	syn(&p, e, 6, SMTP);
	pkt_put16(&p, p.l3 + 4, p.len - p.l3 - TL_IPV6_HLEN + 1);
	snprintf(l, sizeof(l),
		 "ipv6: %s payload length one over the packet is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	syn(&p, e, 6, SMTP);
	pkt_put16(&p, p.l3 + 4, 0xffff);
	snprintf(l, sizeof(l), "ipv6: %s payload length 65535 is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	/* the version is checked before the next header */
	if (!e->l3) {
		v6_start(&p, e);
		pkt_udp(&p, SPORT, SMTP);
		pkt_done(&p);
		pkt_set_version(&p, 4);
		snprintf(l, sizeof(l),
			 "ipv6: %s udp with version 4 is malformed", e->name);
		judged(dp, l, &p, ST_malformed);
	}

	syn(&p, e, 6, SMTP);
	pkt_bytes(&p, 6, 0);
	snprintf(l, sizeof(l), "ipv6: %s tcp/%d with link padding", e->name,
		 SMTP);
	judged(dp, l, &p, ST_smtp);
	syn(&p, e, 6, SUBMISSION);
	pkt_bytes(&p, 100, 0);
	snprintf(l, sizeof(l), "ipv6: %s tcp/%d with link padding passes",
		 e->name, SUBMISSION);
	passed(dp, l, &p);
	syn(&p, e, 6, SMTP);
	pkt_put16(&p, p.l3 + 4, TL_TCP_HLEN - 1);
	snprintf(l, sizeof(l),
		 "ipv6: %s payload length ends 1 byte short of the tcp header",
		 e->name);
	judged(dp, l, &p, ST_malformed);

	for (i = 0; i < ARRAY_SIZE(others); i++) {
		v6_start(&p, e);
		pkt_nh(&p, others[i].nh);
		fake_tcp_bytes(&p, SMTP);
		pkt_done(&p);
		snprintf(l, sizeof(l), "ipv6: %s %s passes", e->name,
			 others[i].name);
		passed(dp, l, &p);

		v6_start(&p, e);
		pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
		pkt_nh(&p, others[i].nh);
		fake_tcp_bytes(&p, SMTP);
		pkt_done(&p);
		snprintf(l, sizeof(l), "ipv6: %s hop-by-hop then %s passes",
			 e->name, others[i].name);
		passed(dp, l, &p);
	}

	/* RFC 2675: a zero payload length with hop-by-hop is a jumbogram */
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l), "ipv6 jumbo: %s hop-by-hop tcp/%d", e->name,
		 SMTP);
	judged(dp, l, &p, ST_smtp);
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l), "ipv6 jumbo: %s hop-by-hop tcp/%d passes",
		 e->name, SUBMISSION);
	passed(dp, l, &p);
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_cut(&p, p.l4 + 10);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l),
		 "ipv6 jumbo: %s tcp cut at the end of the frame is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 16);
	pkt_cut(&p, p.len - 8);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l),
		 "ipv6 jumbo: %s hop-by-hop longer than the frame is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	syn(&p, e, 6, SMTP);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l),
		 "ipv6 jumbo: %s zero payload length without hop-by-hop, tcp, is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l),
		 "ipv6 jumbo: %s zero payload length with destination options first is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
}

static void test_ipv6_chain(struct dp *dp, const struct encap *e)
{
	static const __u8 mixed[] = {
		IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT,
		IPPROTO_DSTOPTS, IPPROTO_AH, IPPROTO_MH, TL_NH_HIP,
		TL_NH_SHIM6,
	};
	static const __u32 mixed_len[] = { 8, 24, 8, 16, 12, 8, 40, 8 };
	char l[256];
	struct pkt p;
	size_t i;
	int n;

	_Static_assert(ARRAY_SIZE(mixed) == OP25B_IPV6_EXT_MAX,
		       "one of each extension header fills the bound");

	for (i = 0; i < ARRAY_SIZE(v6_exts); i++) {
		v6_start(&p, e);
		v6_ext(&p, v6_exts[i].type, v6_exts[i].bytes);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_done(&p);
		snprintf(l, sizeof(l), "ipv6 chain: %s %s (%u bytes) then tcp/%d",
			 e->name, v6_exts[i].name, v6_exts[i].bytes, SMTP);
		judged(dp, l, &p, ST_smtp);

		v6_start(&p, e);
		v6_ext(&p, v6_exts[i].type, v6_exts[i].bytes);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 chain: %s %s (%u bytes) then tcp/%d passes",
			 e->name, v6_exts[i].name, v6_exts[i].bytes,
			 SUBMISSION);
		passed(dp, l, &p);

		/* the datagram ends inside it, and no first fragment: malformed */
		v6_start(&p, e);
		v6_ext(&p, v6_exts[i].type, v6_exts[i].bytes);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_done(&p);
		pkt_put16(&p, p.l3 + 4, p.l4 - p.l3 - TL_IPV6_HLEN - 4);
		snprintf(l, sizeof(l),
			 "ipv6 chain: %s %s (%u bytes) cut 4 bytes short is malformed",
			 e->name, v6_exts[i].name, v6_exts[i].bytes);
		judged(dp, l, &p, ST_malformed);
	}

	/* exactly the bound, one of each type */
	for (n = 0; n < 2; n++) {
		__u16 port = n ? SUBMISSION : SMTP;

		v6_start(&p, e);
		for (i = 0; i < ARRAY_SIZE(mixed); i++)
			v6_ext(&p, mixed[i], mixed_len[i]);
		pkt_tcp(&p, SPORT, port, TH_SYN);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 chain: %s one of each of %d types then tcp/%u%s",
			 e->name, OP25B_IPV6_EXT_MAX, port,
			 n ? " passes" : "");
		if (n)
			passed(dp, l, &p);
		else
			judged(dp, l, &p, ST_smtp);
	}

	/* OP25B_IPV6_EXT_MAX headers are walked; one more is undecidable */
	for (n = OP25B_IPV6_EXT_MAX; n <= OP25B_IPV6_EXT_MAX + 1; n++) {
		/* what each end of a chain within the bound is */
		static const struct {
			const char *name;
			__u8 nh;
			__u16 port;
			int within;	/* class, or TL_NONE: passes */
		} ends[] = {
			{ "tcp/25", IPPROTO_TCP, SMTP, ST_smtp },
			{ "tcp/587", IPPROTO_TCP, SUBMISSION, TL_NONE },
			{ "udp/25", IPPROTO_UDP, SMTP, TL_NONE },
			{ "esp", IPPROTO_ESP, 0, TL_NONE },
			{ "no next header", IPPROTO_NONE, 0, TL_NONE },
		};
		bool over = n > OP25B_IPV6_EXT_MAX;
		int k, cls;

		for (i = 0; i < ARRAY_SIZE(ends); i++) {
			cls = over ? ST_undecidable : ends[i].within;
			v6_start(&p, e);
			for (k = 0; k < n; k++)
				pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
			if (ends[i].nh == IPPROTO_TCP) {
				pkt_tcp(&p, SPORT, ends[i].port, TH_SYN);
			} else if (ends[i].nh == IPPROTO_UDP) {
				pkt_udp(&p, SPORT, ends[i].port);
			} else {
				pkt_nh(&p, ends[i].nh);
				fake_tcp_bytes(&p, SMTP);
			}
			pkt_done(&p);
			snprintf(l, sizeof(l),
				 "ipv6 chain: %s %d destination options then %s%s",
				 e->name, n, ends[i].name,
				 cls == TL_NONE ? " passes" :
				 over ? " is undecidable" : "");
			if (cls == TL_NONE)
				passed(dp, l, &p);
			else
				judged(dp, l, &p, cls);
		}
	}

	/* a chain cut short outside any first fragment: malformed */
	for (n = 0; n < 3; n++) {
		static const __u32 keep[] = { 0, 4, 8 };

		v6_start(&p, e);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_cut(&p, p.l3 + TL_IPV6_HLEN + keep[n]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 chain: %s 16-byte destination options cut to %u bytes is malformed",
			 e->name, keep[n]);
		judged(dp, l, &p, ST_malformed);

		v6_start(&p, e);
		pkt_ipv6_frag(&p, 0, false);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_cut(&p, p.l3 + TL_IPV6_HLEN + 8 + keep[n]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 chain: %s atomic fragment, destination options cut to %u bytes is malformed",
			 e->name, keep[n]);
		judged(dp, l, &p, ST_malformed);
	}
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_cut(&p, p.len - 4);
	pkt_done(&p);
	snprintf(l, sizeof(l),
		 "ipv6 chain: %s fragment header itself cut to 4 bytes is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_AH, 24);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_cut(&p, p.l3 + TL_IPV6_HLEN + 12);
	pkt_done(&p);
	snprintf(l, sizeof(l),
		 "ipv6 chain: %s 24-byte ah cut to 12 bytes is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
}

static void test_ipv6_frags(struct dp *dp, const struct encap *e)
{
	static const __u16 offsets[] = { 2, 100, IP_OFFMASK };
	static const __u32 short_tcp[] = { 0, 8, 19 };
	static const __u32 keep[] = { 0, 4, 8 };
	char l[256];
	struct pkt p;
	size_t i;
	int m;

	for (m = 0; m <= 1; m++) {
		/* the port a later fragment would carry does not matter */
		v6_start(&p, e);
		pkt_ipv6_frag(&p, 1, m);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_ACK);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s offset 1 M=%d next tcp is evasion",
			 e->name, m);
		judged(dp, l, &p, ST_evasion);

		v6_start(&p, e);
		pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
		pkt_ipv6_ext(&p, IPPROTO_ROUTING, 24);
		pkt_ipv6_frag(&p, 1, m);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_ACK);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s hop-by-hop, routing, offset 1 M=%d next tcp is evasion",
			 e->name, m);
		judged(dp, l, &p, ST_evasion);

		v6_start(&p, e);
		pkt_ipv6_frag(&p, 1, m);
		pkt_udp(&p, SPORT, SMTP);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s offset 1 M=%d next udp passes", e->name,
			 m);
		passed(dp, l, &p);

		v6_start(&p, e);
		pkt_ipv6_frag(&p, 1, m);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
		pkt_tcp(&p, SPORT, SMTP, TH_ACK);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s offset 1 M=%d next destination options passes",
			 e->name, m);
		passed(dp, l, &p);

		for (i = 0; i < ARRAY_SIZE(offsets); i++) {
			v6_start(&p, e);
			pkt_ipv6_frag(&p, offsets[i], m);
			pkt_tcp(&p, SPORT, SMTP, TH_ACK);
			pkt_done(&p);
			snprintf(l, sizeof(l),
				 "ipv6 frag: %s offset %u M=%d next tcp passes",
				 e->name, offsets[i], m);
			passed(dp, l, &p);
		}
	}

	/* a first fragment is judged on its port when the chain reaches it */
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	snprintf(l, sizeof(l), "ipv6 frag: %s first fragment tcp/%d", e->name,
		 SMTP);
	judged(dp, l, &p, ST_smtp);
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
	pkt_bytes(&p, 256, 'x');
	pkt_done(&p);
	snprintf(l, sizeof(l), "ipv6 frag: %s first fragment tcp/%d passes",
		 e->name, SUBMISSION);
	passed(dp, l, &p);

	for (i = 0; i < ARRAY_SIZE(short_tcp); i++) {
		v6_start(&p, e);
		pkt_ipv6_frag(&p, 0, true);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
		pkt_cut(&p, p.l4 + short_tcp[i]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s first fragment with %u tcp bytes is evasion",
			 e->name, short_tcp[i]);
		judged(dp, l, &p, ST_evasion);

		v6_start(&p, e);
		pkt_ipv6_frag(&p, 0, true);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
		pkt_cut(&p, p.l4 + short_tcp[i]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s first fragment, destination options, %u tcp bytes is evasion",
			 e->name, short_tcp[i]);
		judged(dp, l, &p, ST_evasion);

		v6_start(&p, e);
		pkt_ipv6_frag(&p, 0, false);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
		pkt_cut(&p, p.l4 + short_tcp[i]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s atomic fragment with %u tcp bytes is malformed",
			 e->name, short_tcp[i]);
		judged(dp, l, &p, ST_malformed);
	}

	/* RFC 7112: a first fragment whose chain stops short of TCP */
	for (i = 0; i < ARRAY_SIZE(keep); i++) {
		v6_start(&p, e);
		pkt_ipv6_frag(&p, 0, true);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_cut(&p, p.l3 + TL_IPV6_HLEN + 8 + keep[i]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s first fragment, destination options cut to %u bytes is undecidable",
			 e->name, keep[i]);
		judged(dp, l, &p, ST_undecidable);
	}
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_ipv6_frag(&p, 0, true);
	pkt_ipv6_ext(&p, IPPROTO_ROUTING, 24);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_cut(&p, p.l3 + TL_IPV6_HLEN + 8 + 8 + 16);
	pkt_done(&p);
	snprintf(l, sizeof(l),
		 "ipv6 frag: %s hop-by-hop, first fragment, routing cut to 16 bytes is undecidable",
		 e->name);
	judged(dp, l, &p, ST_undecidable);
	/* the datagram ends where the payload length says, not the frame */
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 8 + 8);
	snprintf(l, sizeof(l),
		 "ipv6 frag: %s first fragment, payload length ends inside destination options is undecidable",
		 e->name);
	judged(dp, l, &p, ST_undecidable);
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 8 + 16 + 10);
	snprintf(l, sizeof(l),
		 "ipv6 frag: %s first fragment, payload length ends inside tcp is evasion",
		 e->name);
	judged(dp, l, &p, ST_evasion);

	/* first fragment over the bound is still undecidable */
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	for (i = 0; i < OP25B_IPV6_EXT_MAX; i++)
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	snprintf(l, sizeof(l),
		 "ipv6 frag: %s first fragment and %d more headers is undecidable",
		 e->name, OP25B_IPV6_EXT_MAX);
	judged(dp, l, &p, ST_undecidable);
}

/* ---- L3 devices ---- */

static void test_l3_only(struct dp *dp)
{
	static const __u8 nibbles[] = { 0, 1, 2, 3, 5, 7, 8, 15 };
	static const __u32 short4[] = { ETH_HLEN, TL_IPV4_HLEN - 1 };
	static const __u32 short6[] = { ETH_HLEN, TL_IPV6_HLEN - 1 };
	char l[256];
	struct pkt p;
	size_t i, f;

	for (f = 0; f < ARRAY_SIZE(families); f++)
		for (i = 0; i < ARRAY_SIZE(nibbles); i++) {
			syn(&p, &enc_l3, families[f], SMTP);
			pkt_set_version(&p, nibbles[i]);
			snprintf(l, sizeof(l),
				 "l3: ipv%d tcp/%d with version nibble %u passes",
				 families[f], SMTP, nibbles[i]);
			passed(dp, l, &p);
		}
	for (i = 0; i < ARRAY_SIZE(short4); i++) {
		syn(&p, &enc_l3, 4, SMTP);
		pkt_cut(&p, short4[i]);
		snprintf(l, sizeof(l), "l3: ipv4 packet of %u bytes passes",
			 short4[i]);
		passed(dp, l, &p);
	}
	for (i = 0; i < ARRAY_SIZE(short6); i++) {
		syn(&p, &enc_l3, 6, SMTP);
		pkt_cut(&p, short6[i]);
		snprintf(l, sizeof(l), "l3: ipv6 packet of %u bytes passes",
			 short6[i]);
		passed(dp, l, &p);
	}
}

/* ---- action reject: the RST ---- */

#define SEQ		0x25000001u
#define ACKNO		0xfeedf00du

/* A segment from a denied subscriber: seq, data offset, bytes after it. */
static void rst_seg(struct pkt *p, const struct encap *e, int fam,
		    __u8 flags, __u32 seq, __u8 doff, __u32 bytes)
{
	lay_l2(p, e);
	pkt_ip(p, fam, denied(fam), outside(fam));
	pkt_tcp(p, SPORT, SMTP, flags);
	pkt_put32(p, p->l4 + 4, seq);
	pkt_put32(p, p->l4 + 8, ACKNO);
	p->d[p->l4 + 12] = doff << 4;
	pkt_bytes(p, bytes, 'x');
	pkt_done(p);
}

/*
 * The TCP checksum field as a local socket leaves it in a
 * CHECKSUM_PARTIAL skb: the folded pseudo-header sum alone.
 */
static void set_partial(struct pkt *p)
{
	pkt_put16(p, p->l4 + 16, tl_fold(pseudo_sum(p, tcp_seg_len(p))));
}

/* From a denied subscriber to an outside host: answered if reject.h says so. */
static void answered(struct dp *dp, const char *label, const struct pkt *p)
{
	const struct who *w;
	size_t n;

	w = who_table(p->family, &n);
	judged_as(dp, label, p, ST_smtp, &w[0]);
}

/* Shapes of segment and of header, each with the answer it must get. */
static void test_reject_shapes(struct dp *dp, const struct encap *e, int fam)
{
	static const struct {
		const char *name;
		__u8 flags;
		__u32 seq;
		__u8 doff;
		__u32 bytes;
	} segs[] = {
		{ "syn", TH_SYN, SEQ, 5, 0 },
		{ "syn with 100 bytes of data", TH_SYN, SEQ, 5, 100 },
		{ "syn-fin", TH_SYN | TH_FIN, SEQ, 5, 0 },
		{ "fin without ack, 10 bytes", TH_FIN, SEQ, 5, 10 },
		{ "no flags, 7 bytes", 0, SEQ, 5, 7 },
		{ "ack with 512 bytes", TH_PUSH | TH_ACK, SEQ, 5, 512 },
		{ "fin-ack", TH_FIN | TH_ACK, SEQ, 5, 0 },
		{ "syn-ack", TH_SYN | TH_ACK, SEQ, 5, 0 },
		{ "syn, seq wraps", TH_SYN, 0xffffffffu, 5, 0 },
		{ "fin, 5 bytes, seq wraps", TH_FIN, 0xfffffffeu, 5, 5 },
		{ "syn, data offset 3, 40 bytes", TH_SYN, SEQ, 3, 40 },
		{ "syn, data offset 15 beyond 30 bytes", TH_SYN, SEQ, 15, 30 },
		{ "syn, data offset 8, 30 bytes of data", TH_SYN, SEQ, 8, 42 },
		{ "rst (dropped unanswered)", TH_RST, SEQ, 5, 0 },
		{ "rst-ack (dropped unanswered)", TH_RST | TH_ACK, SEQ, 5, 0 },
		{ "syn-rst (dropped unanswered)", TH_SYN | TH_RST, SEQ, 5, 0 },
	};
	char l[256];
	struct pkt p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(segs); i++) {
		rst_seg(&p, e, fam, segs[i].flags, segs[i].seq, segs[i].doff,
			segs[i].bytes);
		snprintf(l, sizeof(l), "reject: %s ipv%d %s", e->name, fam,
			 segs[i].name);
		answered(dp, l, &p);
		set_partial(&p);
		snprintf(l, sizeof(l), "reject: %s ipv%d %s, checksum partial",
			 e->name, fam, segs[i].name);
		answered(dp, l, &p);
	}

	/* the answer ends with the datagram, not with the frame */
	lay_l2(&p, e);
	pkt_ip(&p, fam, denied(fam), outside(fam));
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_bytes(&p, 10, 'x');
	pkt_done(&p);
	pkt_bytes(&p, 6, 0);
	snprintf(l, sizeof(l), "reject: %s ipv%d syn, 10 bytes, link padding",
		 e->name, fam);
	answered(dp, l, &p);

	if (fam == 4) {
		static const __u8 ihls[] = { 6, 10, 15 };

		for (i = 0; i < ARRAY_SIZE(ihls); i++) {
			lay_l2(&p, e);
			pkt_ipv4_ihl(&p, ihls[i], DENIED4, OUT4);
			pkt_tcp(&p, SPORT, SMTP, TH_SYN);
			pkt_bytes(&p, 8, 'x');
			pkt_done(&p);
			snprintf(l, sizeof(l),
				 "reject: %s ipv4 ihl %u syn: answered with ihl 5",
				 e->name, ihls[i]);
			answered(dp, l, &p);
			/* tc: the TCP header moves, a PARTIAL sum cannot */
			set_partial(&p);
			snprintf(l, sizeof(l),
				 "reject: %s ipv4 ihl %u syn, checksum partial",
				 e->name, ihls[i]);
			answered(dp, l, &p);
		}
		return;
	}

	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_ipv6_ext(&p, IPPROTO_ROUTING, 24);
	pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
	pkt_tcp(&p, SPORT, SMTP, TH_PUSH | TH_ACK);
	pkt_put32(&p, p.l4 + 8, ACKNO);
	pkt_bytes(&p, 64, 'x');
	pkt_done(&p);
	snprintf(l, sizeof(l),
		 "reject: %s ipv6 hop-by-hop, routing, destination options, ack: answered without them",
		 e->name);
	answered(dp, l, &p);
	set_partial(&p);
	snprintf(l, sizeof(l),
		 "reject: %s ipv6 hop-by-hop, routing, destination options, ack, checksum partial",
		 e->name);
	answered(dp, l, &p);

	/* SEG.LEN of a first fragment is what this fragment carries */
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_put32(&p, p.l4 + 4, SEQ);
	pkt_bytes(&p, 48, 'x');
	pkt_done(&p);
	snprintf(l, sizeof(l), "reject: %s ipv6 first fragment syn, 48 bytes",
		 e->name);
	answered(dp, l, &p);

	/* RFC 2675: a jumbogram's datagram is the whole frame */
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_put32(&p, p.l4 + 4, SEQ);
	pkt_bytes(&p, 20, 'x');
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l), "reject: %s ipv6 jumbogram syn, 20 bytes",
		 e->name);
	answered(dp, l, &p);
}

/* The RST of action reject, on every encapsulation it keeps. */
static void test_reject(struct dp *dp)
{
	static const struct encap l2_encs[] = {
		{ .name = "ethernet" },
		{ .name = "vlan 0x8100", .nvlan = 1, .tpid = { ETH_P_8021Q } },
		{ .name = "qinq 0x88a8+0x8100", .nvlan = 2,
		  .tpid = { ETH_P_8021AD, ETH_P_8021Q } },
		{ .name = "pppoe", .pppoe = true },
		{ .name = "vlan 0x8100 pppoe", .nvlan = 1,
		  .tpid = { ETH_P_8021Q }, .pppoe = true },
		{ .name = "qinq 0x9100+0x8100 pppoe", .nvlan = 2,
		  .tpid = { ETH_P_QINQ1, ETH_P_8021Q }, .pppoe = true },
	};
	size_t i, f;

	if (dp->l3) {
		for (f = 0; f < ARRAY_SIZE(families); f++)
			test_reject_shapes(dp, &enc_l3, families[f]);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(l2_encs); i++)
		for (f = 0; f < ARRAY_SIZE(families); f++)
			test_reject_shapes(dp, &l2_encs[i], families[f]);
}

/* ---- offenders and events, field by field ---- */

#define EV_OUTER_VID	10
#define EV_INNER_VID	20
#define EV_SID		0x1234

/* What identifies a BRAS subscriber line: QinQ tags and a PPPoE session. */
static void qinq_pppoe_syn(struct pkt *p, int fam)
{
	pkt_init(p);
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021AD, EV_OUTER_VID);
	pkt_vlan(p, ETH_P_8021Q, EV_INNER_VID);
	pkt_pppoe(p, TL_PPPOE_VERTYPE, TL_PPPOE_CODE_SESSION, EV_SID);
	pkt_ip(p, fam, denied(fam), outside(fam));
	pkt_tcp(p, SPORT, SMTP, TH_SYN);
	pkt_done(p);
}

/* An address as the ABI carries it: IPv4 in the first 4 bytes, zeros. */
static void abi_addr(int fam, const char *s, __u8 out[16])
{
	memset(out, 0, 16);
	pkt_addr(fam == 4 ? AF_INET : AF_INET6, s, out);
}

/* Run p once through pr; false (and a failed check) if the run failed. */
static bool run_once(const struct prog *pr, const struct pkt *p,
		     const char *label, __u32 *ret)
{
	int err = tl_run(pr->fd, p, ret);

	if (err)
		return tl_check(false, label, "test_run failed: %s",
				strerror(-err));
	return true;
}

static bool offender_get(const struct dp *dp, const struct pkt *p, int fam,
			 struct op25b_offender *o)
{
	struct op25b_src k = src_key(p, fam);

	return offender_lookup(dp, &k, o);
}

/* A blocked packet, then the same source again at once. */
static void events_blocked(struct dp *dp, const struct prog *pr, int fam)
{
	__u8 src[16], dst[16];
	struct op25b_offender o, o2;
	const struct op25b_event *ev = &dp->sink.ev[0];
	struct snap before, after;
	char base[128], l[256];
	struct pkt p;
	__u32 ret;
	bool have;
	int nev;

	snprintf(base, sizeof(base), "events [%s %s]: ipv%d qinq pppoe",
		 dp->name, pr->name, fam);
	qinq_pppoe_syn(&p, fam);
	abi_addr(fam, denied(fam), src);
	abi_addr(fam, outside(fam), dst);

	records_clear(dp);
	snapshot(dp, &before);
	if (!run_once(pr, &p, base, &ret))
		return;
	snapshot(dp, &after);
	nev = events_drain(dp);
	have = offender_get(dp, &p, fam, &o);

	snprintf(l, sizeof(l), "%s: dropped", base);
	tl_check(ret == pr->drop, l, "returned %d", (int)ret);
	snprintf(l, sizeof(l),
		 "%s: offender blocked 1, first == last seen, last destination",
		 base);
	tl_check(have && o.blocked == 1 && o.monitored == 0 &&
			 o.first_ns > 0 && o.first_ns == o.last_ns &&
			 o.last_event_ns == o.last_ns &&
			 !memcmp(o.last_daddr, dst, 16) &&
			 o.last_dport == SMTP && o.last_ifindex == lo_ifindex,
		 l,
		 "entry %s, blocked %llu monitored %llu first %llu last %llu dport %u ifindex %u",
		 have ? "found" : "missing", (unsigned long long)o.blocked,
		 (unsigned long long)o.monitored,
		 (unsigned long long)o.first_ns,
		 (unsigned long long)o.last_ns, o.last_dport, o.last_ifindex);
	snprintf(l, sizeof(l), "%s: one event of the ABI's size", base);
	tl_check(nev == 1 && dp->sink.size[0] == sizeof(struct op25b_event),
		 l, "saw %d event(s), the first %zu bytes", nev,
		 nev ? dp->sink.size[0] : 0);
	snprintf(l, sizeof(l),
		 "%s: event time, interface, class, action, vlan %d.%d, pppoe 0x%04x, ports, addresses",
		 base, EV_OUTER_VID, EV_INNER_VID, EV_SID);
	tl_check(nev == 1 && ev->ts_ns == o.last_ns &&
			 ev->ifindex == lo_ifindex && ev->family == fam &&
			 ev->cls == OP25B_C_SMTP &&
			 ev->action == OP25B_ACT_DROP && ev->nvlan == 2 &&
			 ev->vlan[0] == EV_OUTER_VID &&
			 ev->vlan[1] == EV_INNER_VID && ev->pppoe == 1 &&
			 ev->pppoe_sid == EV_SID && ev->sport == SPORT &&
			 ev->dport == SMTP && !memcmp(ev->saddr, src, 16) &&
			 !memcmp(ev->daddr, dst, 16),
		 l,
		 "ts %llu (entry %llu) ifindex %u family %u class %u action %u nvlan %u vlan %u.%u pppoe %u sid 0x%x ports %u->%u",
		 (unsigned long long)ev->ts_ns, (unsigned long long)o.last_ns,
		 ev->ifindex, ev->family, ev->cls, ev->action, ev->nvlan,
		 ev->vlan[0], ev->vlan[1], ev->pppoe, ev->pppoe_sid,
		 ev->sport, ev->dport);
	snprintf(l, sizeof(l), "%s: nothing suppressed, nothing lost", base);
	tl_check(after.st[ST_events_suppressed] ==
				 before.st[ST_events_suppressed] &&
			 after.st[ST_events_lost] == before.st[ST_events_lost],
		 l, "suppressed +%llu, lost +%llu",
		 (unsigned long long)(after.st[ST_events_suppressed] -
				      before.st[ST_events_suppressed]),
		 (unsigned long long)(after.st[ST_events_lost] -
				      before.st[ST_events_lost]));

	/* within OP25B_EVENT_INTERVAL_NS of the first: counted, no event */
	snprintf(base, sizeof(base), "events [%s %s]: ipv%d again at once",
		 dp->name, pr->name, fam);
	snapshot(dp, &before);
	if (!run_once(pr, &p, base, &ret))
		return;
	snapshot(dp, &after);
	nev = events_drain(dp);
	have = offender_get(dp, &p, fam, &o2);
	snprintf(l, sizeof(l),
		 "%s: dropped, no event, events_suppressed +1, blocked +1",
		 base);
	tl_check(ret == pr->drop && nev == 0 &&
			 after.st[ST_events_suppressed] -
					 before.st[ST_events_suppressed] == 1 &&
			 after.st[ST_events_lost] == before.st[ST_events_lost] &&
			 after.st[ST_blocked] - before.st[ST_blocked] == 1,
		 l, "returned %d, %d event(s), suppressed +%llu, blocked +%llu",
		 (int)ret, nev,
		 (unsigned long long)(after.st[ST_events_suppressed] -
				      before.st[ST_events_suppressed]),
		 (unsigned long long)(after.st[ST_blocked] -
				      before.st[ST_blocked]));
	snprintf(l, sizeof(l),
		 "%s: offender blocked 2, first seen kept, last seen on",
		 base);
	tl_check(have && o2.blocked == 2 && o2.first_ns == o.first_ns &&
			 o2.last_ns >= o.last_ns &&
			 o2.last_event_ns == o.last_event_ns,
		 l, "entry %s, blocked %llu first %llu->%llu last %llu->%llu",
		 have ? "found" : "missing", (unsigned long long)o2.blocked,
		 (unsigned long long)o.first_ns,
		 (unsigned long long)o2.first_ns,
		 (unsigned long long)o.last_ns,
		 (unsigned long long)o2.last_ns);
}

/* Action monitor and action reject: the event says what was done. */
static void events_action(struct dp *dp, const struct prog *pr, int fam,
			  __u32 action, __u32 want_ret)
{
	const struct op25b_event *ev = &dp->sink.ev[0];
	bool mon = action == OP25B_ACT_MONITOR;
	struct op25b_offender o;
	char l[256];
	struct pkt p;
	__u32 ret;
	bool have;
	int nev;

	set_action(dp, action);
	syn(&p, &enc_eth, fam, SMTP);
	records_clear(dp);
	snprintf(l, sizeof(l), "events [%s %s]: ipv%d action %s", dp->name,
		 pr->name, fam, mon ? "monitor" : "reject");
	if (!run_once(pr, &p, l, &ret)) {
		set_action(dp, OP25B_ACT_DROP);
		return;
	}
	nev = events_drain(dp);
	have = offender_get(dp, &p, fam, &o);
	set_action(dp, OP25B_ACT_DROP);
	tl_check(ret == want_ret && nev == 1 && ev->action == action &&
			 have && o.monitored == mon && o.blocked == !mon,
		 l,
		 "returned %d, %d event(s) of action %u, entry %s blocked %llu monitored %llu",
		 (int)ret, nev, nev ? ev->action : 0,
		 have ? "found" : "missing", (unsigned long long)o.blocked,
		 (unsigned long long)o.monitored);
}

/* Passed packets leave no trace, though they came from denied ranges. */
static void events_passed(struct dp *dp, const struct prog *pr, int fam)
{
	static const struct {
		const char *name;
		int who;	/* row of who4/who6; -1: denied -> outside */
		__u16 dport;
	} cases[] = {
		{ "exempt", 1, SMTP },
		{ "non-subscriber", 2, SMTP },
		{ "to a relay", 3, SMTP },
		{ "non-SMTP", -1, SUBMISSION },
	};
	const struct who *w;
	char l[256];
	struct pkt p;
	size_t i, n;
	__u32 ret;

	w = who_table(fam, &n);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		syn(&p, &enc_eth, fam, cases[i].dport);
		if (cases[i].who >= 0)
			pkt_set_addrs(&p, w[cases[i].who].src,
				      w[cases[i].who].dst);
		records_clear(dp);
		snprintf(l, sizeof(l),
			 "events [%s %s]: ipv%d %s passed: no offender, no event",
			 dp->name, pr->name, fam, cases[i].name);
		if (!run_once(pr, &p, l, &ret))
			continue;
		tl_check(ret == pr->pass && events_drain(dp) == 0 &&
				 offenders_count(dp) == 0,
			 l, "returned %d, %d event(s), %d offender(s)",
			 (int)ret, dp->sink.n, offenders_count(dp));
	}
}

/*
 * A flood from many sources: events stop at this CPU's budget, the rest
 * counted suppressed, the ring buffer not even tried; a heavy source keeps
 * its offenders slot against light ones that collide with it.
 */
/* An Ethernet IPv4 SYN from src to the outside MX, port 25. */
static void syn_from(struct pkt *p, const char *src)
{
	pkt_init(p);
	pkt_eth(p);
	pkt_ipv4(p, src, OUT4);
	pkt_tcp(p, 40000, 25, TH_SYN);
	pkt_done(p);
}

static void test_flood(struct dp *dp)
{
	const struct prog *pr = &dp->prog[0];
	struct snap before, after;
	struct op25b_offender o = {};
	struct op25b_src heavy, k;
	char src[32], l[160];
	int i, nev, heavy_n = 0;
	__u32 ret = 0;
	struct pkt p;

	records_clear(dp);
	snapshot(dp, &before);
	for (i = 0; i < OP25B_EVENTS_PER_SEC + 500; i++) {
		snprintf(src, sizeof(src), "10.%d.%d.%d", 2 + (i >> 16),
			 (i >> 8) & 255, i & 255);
		syn_from(&p, src);
		if (tl_run_out(pr->fd, &p, &ret, NULL) || ret != pr->drop)
			tl_bug("flood packet %d: not dropped", i);
	}
	snapshot(dp, &after);
	nev = events_drain(dp);
	snprintf(l, sizeof(l), "flood [%s]: %d sources, events stop at the budget",
		 dp->name, OP25B_EVENTS_PER_SEC + 500);
	tl_check(nev == OP25B_EVENTS_PER_SEC &&
		 after.st[ST_events_suppressed] - before.st[ST_events_suppressed] == 500 &&
		 after.st[ST_events_lost] == before.st[ST_events_lost],
		 l, "%d events, %llu suppressed, %llu lost", nev,
		 (unsigned long long)(after.st[ST_events_suppressed] -
				      before.st[ST_events_suppressed]),
		 (unsigned long long)(after.st[ST_events_lost] -
				      before.st[ST_events_lost]));

	/* a heavy source, then light ones landing on its slot */
	records_clear(dp);
	memset(&heavy, 0, sizeof(heavy));
	heavy.family = 4;
	pkt_addr(AF_INET, DENIED4, heavy.addr);
	for (i = 0; i < 50; i++) {
		syn_from(&p, DENIED4);
		tl_run_out(pr->fd, &p, &ret, NULL);
	}
	for (i = 0; i < 65536 && heavy_n < 20; i++) {
		memset(&k, 0, sizeof(k));
		k.family = 4;
		snprintf(src, sizeof(src), "10.9.%d.%d", i >> 8, i & 255);
		pkt_addr(AF_INET, src, k.addr);
		if ((op25b_src_hash(&k) ^ op25b_src_hash(&heavy)) &
		    (TEST_OFFENDER_SLOTS - 1))
			continue;
		heavy_n++;
		syn_from(&p, src);
		tl_run_out(pr->fd, &p, &ret, NULL);
	}
	snprintf(l, sizeof(l),
		 "flood [%s]: 50 attempts keep their slot against %d light colliders",
		 dp->name, heavy_n);
	tl_check(heavy_n == 20 && offender_lookup(dp, &heavy, &o) &&
		 o.blocked == 50, l, "colliders %d, heavy %s with %llu", heavy_n,
		 offender_lookup(dp, &heavy, &o) ? "kept" : "evicted",
		 (unsigned long long)o.blocked);
	for (i = 0; i < 60; i++) {
		syn_from(&p, src);
		tl_run_out(pr->fd, &p, &ret, NULL);
	}
	snprintf(l, sizeof(l),
		 "flood [%s]: a collider that outweighs it takes the slot", dp->name);
	tl_check(!offender_lookup(dp, &heavy, &o) && offenders_count(dp) == 1, l,
		 "heavy still there, or %d sources", offenders_count(dp));
	records_clear(dp);
}

/*
 * The offenders table under a flood (op25b.h: sampling): n blocked packets
 * from one source in one run, within one window of one CPU. Below
 * OP25B_EXACT_PER_SEC the count is exact; past it, an estimate within
 * what chance allows (six standard deviations of the sampled count), and
 * marked; the counters stay exact either way, and the source gets its
 * one event.
 */
static void sampling_case(struct dp *dp, __u32 n)
{
	const struct prog *pr = &dp->prog[0];
	struct snap before, after;
	struct op25b_offender o = {};
	struct op25b_src k = {};
	bool est = n > OP25B_EXACT_PER_SEC;
	double over = est ? n - OP25B_EXACT_PER_SEC : 0;
	double slack = 6 * OP25B_SAMPLE_RATE *
		       sqrt(over / OP25B_SAMPLE_RATE + 1);
	char l[200];
	struct pkt p;
	int nev;

	syn_from(&p, DENIED4);
	k.family = 4;
	pkt_addr(AF_INET, DENIED4, k.addr);
	records_clear(dp);
	snapshot(dp, &before);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o2, .data_in = p.d,
			    .data_size_in = p.len, .repeat = n);

		if (bpf_prog_test_run_opts(pr->fd, &o2) || o2.retval != pr->drop)
			tl_bug("sampling: %u runs: %s", n, strerror(errno));
	}
	snapshot(dp, &after);
	nev = events_drain(dp);
	snprintf(l, sizeof(l),
		 "sampling [%s]: %u blocked from one source: blocked +%u exactly, one event",
		 dp->name, n, n);
	tl_check(after.st[ST_blocked] - before.st[ST_blocked] == n && nev == 1 &&
		 after.st[ST_events_suppressed] -
			 before.st[ST_events_suppressed] == n - 1,
		 l, "blocked +%llu, %d event(s), suppressed +%llu",
		 (unsigned long long)(after.st[ST_blocked] - before.st[ST_blocked]),
		 nev, (unsigned long long)(after.st[ST_events_suppressed] -
					   before.st[ST_events_suppressed]));
	if (est)
		snprintf(l, sizeof(l),
			 "sampling [%s]: %u from one source: offender ~%u (within %.0f), marked estimated",
			 dp->name, n, n, slack);
	else
		snprintf(l, sizeof(l),
			 "sampling [%s]: %u from one source: offender exactly %u, not marked",
			 dp->name, n, n);
	tl_check(offender_lookup(dp, &k, &o) &&
		 (est ? fabs((double)o.blocked - n) <= slack &&
			(o.flags & OP25B_OFF_ESTIMATED)
		      : o.blocked == n && !(o.flags & OP25B_OFF_ESTIMATED)),
		 l, "offender %llu, flags %u", (unsigned long long)o.blocked,
		 o.flags);
	records_clear(dp);
}

static void test_sampling(struct dp *dp)
{
	sampling_case(dp, OP25B_EXACT_PER_SEC);
	sampling_case(dp, OP25B_EXACT_PER_SEC + 100 * OP25B_SAMPLE_RATE);
	sampling_case(dp, 1000000);
}

static void test_events(struct dp *dp)
{
	size_t f;
	int i;

	for (i = 0; i < 2; i++) {
		const struct prog *pr = &dp->prog[i];

		for (f = 0; f < ARRAY_SIZE(families); f++) {
			events_blocked(dp, pr, families[f]);
			events_action(dp, pr, families[f], OP25B_ACT_MONITOR,
				      pr->pass);
			events_action(dp, pr, families[f], OP25B_ACT_REJECT,
				      pr->answer);
			events_passed(dp, pr, families[f]);
		}
	}
}

/* ---- action limit (doc/DESIGN.md, "Rate limits and quarantine") ---- */

#define SEC_NS		1000000000ULL
#define LIM_T0		(1000 * SEC_NS)

/* Action limit: rate per period_s, burst, then, quarantine, IPv6 bits. */
static void set_limit(struct dp *dp, __u32 rate, __u32 period_s, __u32 burst,
		      __u32 then, __u64 quarantine_ns, __u8 prefix6)
{
	struct op25b_config *cfg;

	eng_begin(dp);
	cfg = engine_config(&dp->eng);
	cfg->action = OP25B_ACT_LIMIT;
	memset(&cfg->limit, 0, sizeof(cfg->limit));
	cfg->limit.rate = rate;
	cfg->limit.period_s = period_s;
	cfg->limit.interval_ns = (__u64)period_s * SEC_NS / rate;
	cfg->limit.burst = burst;
	cfg->limit.then = then;
	cfg->limit.quarantine_ns = quarantine_ns;
	cfg->limit.prefix6 = prefix6;
	eng_commit(dp);
	dp->action = OP25B_ACT_LIMIT;
}

/* The datapath's clock, fixed (0: the kernel's again). */
static void clock_set(struct dp *dp, __u64 t)
{
	dp->skel->bss->op25b_test_now = t;
}

static struct op25b_limiter *limiter_mem(struct dp *dp)
{
	static struct op25b_limiter *mem[3];
	static struct dp *owner[3];
	size_t bytes = OP25B_LIMITER_MIN * sizeof(struct op25b_limiter);
	int i;

	for (i = 0; i < 3 && owner[i]; i++)
		if (owner[i] == dp)
			return mem[i];
	if (i == 3)
		tl_bug("limiter_mem: too many datapaths");
	mem[i] = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		      bpf_map__fd(dp->skel->maps.op25b_limiter), 0);
	if (mem[i] == MAP_FAILED)
		tl_bug("mapping the limiter: %s", strerror(errno));
	owner[i] = dp;
	return mem[i];
}

static void limiter_clear(struct dp *dp)
{
	memset(limiter_mem(dp), 0,
	       OP25B_LIMITER_MIN * sizeof(struct op25b_limiter));
}

static int limiter_used(struct dp *dp)
{
	const struct op25b_limiter *e = limiter_mem(dp);
	int i, n = 0;

	for (i = 0; i < OP25B_LIMITER_MIN; i++)
		n += e[i].src.family != 0;
	return n;
}

/* An Ethernet TCP segment src -> dst:25 with TCP flags, run once: retval. */
static __u32 lim_seg(const struct prog *pr, const char *src, const char *dst,
		     __u8 flags)
{
	struct pkt p;
	__u32 ret = 0;

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ip(&p, strchr(src, ':') ? 6 : 4, src, dst);
	pkt_tcp(&p, 40000, SMTP, flags);
	pkt_done(&p);
	if (tl_run_out(pr->fd, &p, &ret, NULL))
		tl_bug("limit: run: %s", strerror(errno));
	return ret;
}

static __u32 lim_syn(const struct prog *pr, const char *src)
{
	return lim_seg(pr, src, strchr(src, ':') ? OUT6 : OUT4, TH_SYN);
}

/* n SYNs from src; how many passed. */
static int lim_syns(const struct prog *pr, const char *src, int n)
{
	int i, passed = 0;

	for (i = 0; i < n; i++)
		passed += lim_syn(pr, src) == pr->pass;
	return passed;
}

#define MOVED(f)	(after.st[ST_##f] - before.st[ST_##f])

/* The bucket at its edges: burst, refill, clock jumps, the clock's wrap. */
static void limit_bucket(struct dp *dp, const struct prog *pr)
{
	struct snap before, after;
	char l[200];
	int n;

	/* 60/min: a token a second; a bucket of 3; no quarantine */
	set_limit(dp, 60, 60, 3, OP25B_ACT_DROP, 0, 64);
	limiter_clear(dp);
	clock_set(dp, LIM_T0);
	snapshot(dp, &before);
	n = lim_syns(pr, DENIED4, 3);
	snprintf(l, sizeof(l), "limit [%s %s]: burst 3 exactly used: 3 pass, the 4th is dropped",
		 dp->name, pr->name);
	tl_check(n == 3 && lim_syn(pr, DENIED4) == pr->drop, l,
		 "%d of 3 passed, or the 4th passed", n);
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: counted: limit_passed +3, limit_exceeded +1, blocked +1, no quarantine",
		 dp->name, pr->name);
	tl_check(MOVED(limit_passed) == 3 && MOVED(limit_exceeded) == 1 &&
		 MOVED(blocked) == 1 && MOVED(smtp) == 4 && MOVED(quarantines) == 0,
		 l, "passed +%llu exceeded +%llu blocked +%llu smtp +%llu quarantines +%llu",
		 MOVED(limit_passed), MOVED(limit_exceeded), MOVED(blocked),
		 MOVED(smtp), MOVED(quarantines));

	clock_set(dp, LIM_T0 + SEC_NS - 1);
	snprintf(l, sizeof(l), "limit [%s %s]: a nanosecond before the refill: dropped",
		 dp->name, pr->name);
	tl_check(lim_syn(pr, DENIED4) == pr->drop, l, "passed");
	clock_set(dp, LIM_T0 + SEC_NS);
	n = lim_syns(pr, DENIED4, 2);
	snprintf(l, sizeof(l), "limit [%s %s]: one interval later: one token, one passes",
		 dp->name, pr->name);
	tl_check(n == 1, l, "%d passed", n);
	clock_set(dp, LIM_T0 + 61 * SEC_NS);
	n = lim_syns(pr, DENIED4, 10);
	snprintf(l, sizeof(l), "limit [%s %s]: a whole period later: the bucket holds 3, not 60",
		 dp->name, pr->name);
	tl_check(n == 3, l, "%d passed", n);

	clock_set(dp, LIM_T0 + 1000000 * SEC_NS);
	n = lim_syns(pr, DENIED4, 10);
	snprintf(l, sizeof(l), "limit [%s %s]: the clock jumps a million seconds: 3 pass",
		 dp->name, pr->name);
	tl_check(n == 3, l, "%d passed", n);
	clock_set(dp, LIM_T0 + 1000000 * SEC_NS - 5 * SEC_NS);
	n = lim_syns(pr, DENIED4, 3);
	snprintf(l, sizeof(l), "limit [%s %s]: the clock goes back 5 s: no token appears",
		 dp->name, pr->name);
	tl_check(n == 0, l, "%d passed", n);

	/* 1.5 s before the 64-bit clock wraps, and on after it */
	limiter_clear(dp);
	clock_set(dp, 0 - 3 * SEC_NS / 2);
	n = lim_syns(pr, DENIED4, 4);
	snprintf(l, sizeof(l), "limit [%s %s]: 1.5 s before the clock wraps: 3 of 4 pass",
		 dp->name, pr->name);
	tl_check(n == 3, l, "%d passed", n);
	clock_set(dp, SEC_NS / 2);	/* 2 s later, past the wrap */
	n = lim_syns(pr, DENIED4, 3);
	snprintf(l, sizeof(l), "limit [%s %s]: 2 s later, across the wrap: 2 tokens back, 2 pass",
		 dp->name, pr->name);
	tl_check(n == 2, l, "%d passed", n);
	clock_set(dp, 100 * SEC_NS);
	n = lim_syns(pr, DENIED4, 5);
	snprintf(l, sizeof(l), "limit [%s %s]: long after the wrap: the bucket full, 3 pass",
		 dp->name, pr->name);
	tl_check(n == 3, l, "%d passed", n);
}

/* What is not a new connection from a denied source, and who is untouched. */
static void limit_others(struct dp *dp, const struct prog *pr)
{
	struct snap before, after;
	char l[200];
	struct pkt p;
	__u32 ret = 0;
	int n, i;

	set_limit(dp, 60, 60, 1, OP25B_ACT_DROP, 0, 64);
	limiter_clear(dp);
	clock_set(dp, LIM_T0);
	snapshot(dp, &before);
	n = 0;
	for (i = 0; i < 20; i++)
		n += lim_seg(pr, DENIED4, OUT4, TH_ACK) == pr->pass;
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: 20 ACKs from a denied source pass, limit_passed +20, no limiter entry",
		 dp->name, pr->name);
	tl_check(n == 20 && MOVED(limit_passed) == 20 && !limiter_used(dp), l,
		 "%d passed, limit_passed +%llu, %d entries", n,
		 MOVED(limit_passed), limiter_used(dp));
	n = 0;
	for (i = 0; i < 10; i++)
		n += lim_seg(pr, DENIED4, OUT4, TH_SYN | TH_ACK) == pr->pass;
	snprintf(l, sizeof(l), "limit [%s %s]: SYN+ACK is no new connection: 10 pass",
		 dp->name, pr->name);
	tl_check(n == 10, l, "%d passed", n);

	snapshot(dp, &before);
	n = lim_syns(pr, NONSUB4, 10) + lim_syns(pr, EXEMPT4, 10);
	for (i = 0; i < 10; i++)
		n += lim_seg(pr, DENIED4, RELAY4, TH_SYN) == pr->pass;
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: non-subscriber, exempt and to a relay: 30 SYNs pass untouched",
		 dp->name, pr->name);
	tl_check(n == 30 && MOVED(not_subscriber) == 10 && MOVED(exempt) == 10 &&
		 MOVED(relay) == 10 && MOVED(limit_passed) == 0 && !limiter_used(dp),
		 l, "%d passed, not_subscriber +%llu exempt +%llu relay +%llu limit_passed +%llu, %d entries",
		 n, MOVED(not_subscriber), MOVED(exempt), MOVED(relay),
		 MOVED(limit_passed), limiter_used(dp));

	/* a fragment hiding the port is no connection to count: blocked */
	v4_frag(&p, &enc_eth, 0, 1, IPPROTO_TCP, SMTP, 40);
	snapshot(dp, &before);
	if (tl_run_out(pr->fd, &p, &ret, NULL))
		tl_bug("limit: run: %s", strerror(errno));
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: an evasion from a denied source is dropped (then), not counted as a connection",
		 dp->name, pr->name);
	tl_check(ret == pr->drop && MOVED(evasion) == 1 && MOVED(blocked) == 1 &&
		 MOVED(limit_passed) == 0 && MOVED(limit_exceeded) == 0, l,
		 "returned %u, evasion +%llu blocked +%llu", ret, MOVED(evasion),
		 MOVED(blocked));

	/* then reject: the connection over the limit gets its RST */
	set_limit(dp, 60, 60, 1, OP25B_ACT_REJECT, 0, 64);
	limiter_clear(dp);
	snapshot(dp, &before);
	n = lim_syns(pr, DENIED4, 1);
	ret = lim_syn(pr, DENIED4);
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: --then reject: 1 passes, the next is answered with a RST",
		 dp->name, pr->name);
	tl_check(n == 1 && ret == pr->answer && MOVED(rejected) == 1, l,
		 "%d passed, then returned %u, rejected +%llu", n, ret,
		 MOVED(rejected));

	/* IPv6: a /64 is one source; --ipv6-prefix 128 makes each address one */
	set_limit(dp, 60, 60, 2, OP25B_ACT_DROP, 0, 64);
	limiter_clear(dp);
	n = lim_syns(pr, "2001:db8:42::1", 1) + lim_syns(pr, "2001:db8:42::2", 2);
	i = lim_syns(pr, "2001:db8:42:1::1", 2);
	snprintf(l, sizeof(l), "limit [%s %s]: IPv6 per /64: ::1 and ::2 share a bucket of 2; another /64 has its own",
		 dp->name, pr->name);
	tl_check(n == 2 && i == 2, l, "same /64: %d of 3 passed, other /64: %d of 2",
		 n, i);
	set_limit(dp, 60, 60, 2, OP25B_ACT_DROP, 0, 128);
	limiter_clear(dp);
	n = lim_syns(pr, "2001:db8:42::1", 2) + lim_syns(pr, "2001:db8:42::2", 2);
	snprintf(l, sizeof(l), "limit [%s %s]: --ipv6-prefix 128: ::1 and ::2 have a bucket each",
		 dp->name, pr->name);
	tl_check(n == 4, l, "%d of 4 passed", n);
}

/* Quarantine: entered on an excess, whole, extended, ended by itself. */
static void limit_quarantine(struct dp *dp, const struct prog *pr)
{
	const struct op25b_event *ev = &dp->sink.ev[0];
	struct snap before, after;
	__u8 src[16] = {};
	char l[200];
	int n, nev;

	set_limit(dp, 60, 60, 3, OP25B_ACT_DROP, 10 * SEC_NS, 64);
	limiter_clear(dp);
	records_clear(dp);
	clock_set(dp, LIM_T0);
	snapshot(dp, &before);
	n = lim_syns(pr, DENIED4, 4);
	snapshot(dp, &after);
	nev = events_drain(dp);
	pkt_addr(AF_INET, DENIED4, src);
	snprintf(l, sizeof(l), "quarantine [%s %s]: the 4th SYN over a bucket of 3 puts the source in quarantine, one event",
		 dp->name, pr->name);
	tl_check(n == 3 && MOVED(quarantines) == 1 && nev >= 1 &&
		 ev->kind == OP25B_EV_QUARANTINED && ev->family == 4 &&
		 !memcmp(ev->saddr, src, 4) && ev->dport == SMTP &&
		 ev->ts_ns == LIM_T0,
		 l, "%d passed, quarantines +%llu, %d events, first kind %u",
		 n, MOVED(quarantines), nev, nev ? ev->kind : 99);

	clock_set(dp, LIM_T0 + 9 * SEC_NS);
	snapshot(dp, &before);
	n = (lim_seg(pr, DENIED4, OUT4, TH_ACK) == pr->pass) +
	    (lim_syn(pr, DENIED4) == pr->pass);
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "quarantine [%s %s]: 9 s on, with tokens back: an ACK and a SYN are dropped (quarantined +2)",
		 dp->name, pr->name);
	tl_check(n == 0 && MOVED(quarantined) == 2 && MOVED(quarantines) == 0, l,
		 "%d passed, quarantined +%llu", n, MOVED(quarantined));

	clock_set(dp, LIM_T0 + 10 * SEC_NS + 1);
	n = (lim_seg(pr, DENIED4, OUT4, TH_ACK) == pr->pass) +
	    (lim_syn(pr, DENIED4) == pr->pass);
	snprintf(l, sizeof(l), "quarantine [%s %s]: 10 s after its last excess: free, ACK and SYN pass",
		 dp->name, pr->name);
	tl_check(n == 2, l, "%d of 2 passed", n);

	/* an excess in quarantine extends it from that excess */
	limiter_clear(dp);
	clock_set(dp, LIM_T0);
	lim_syns(pr, DENIED4, 4);			/* in, until T0 + 10 */
	clock_set(dp, LIM_T0 + 5 * SEC_NS);
	lim_syns(pr, DENIED4, 4);			/* 2 tokens: 2 more over */
	clock_set(dp, LIM_T0 + 12 * SEC_NS);
	n = lim_seg(pr, DENIED4, OUT4, TH_ACK) == pr->pass;
	clock_set(dp, LIM_T0 + 15 * SEC_NS + 1);
	n += 2 * (lim_seg(pr, DENIED4, OUT4, TH_ACK) == pr->pass);
	snprintf(l, sizeof(l), "quarantine [%s %s]: excess again at +5 s: still in at +12 s, out at +15 s",
		 dp->name, pr->name);
	tl_check(n == 2, l, "at +12 s %s, at +15 s %s", n & 1 ? "passed" : "dropped",
		 n & 2 ? "passed" : "dropped");
	events_drain(dp);
}

/* A set of the limiter full of quarantined sources: the next is blocked. */
static void limit_full(struct dp *dp, const struct prog *pr)
{
	struct snap before, after;
	char srcs[5][32], l[200];
	struct op25b_src k;
	__u32 set = 0, i, found = 0, ways = OP25B_LIMITER_MIN / OP25B_LIMITER_WAYS;
	int n;

	for (i = 0; i < 65536 && found < 5; i++) {
		char a[32];
		__u32 h;

		snprintf(a, sizeof(a), "10.2.%u.%u", i >> 8, i & 255);
		memset(&k, 0, sizeof(k));
		k.family = 4;
		pkt_addr(AF_INET, a, k.addr);
		h = op25b_src_hash(&k) & (ways - 1);
		if (!found)
			set = h;
		if (h == set)
			snprintf(srcs[found++], sizeof(srcs[0]), "%s", a);
	}
	if (found < 5)
		tl_bug("limit: no five sources sharing a limiter set");
	set_limit(dp, 60, 60, 1, OP25B_ACT_DROP, 100 * SEC_NS, 64);
	limiter_clear(dp);
	clock_set(dp, LIM_T0);
	for (i = 0; i < 4; i++)
		lim_syns(pr, srcs[i], 2);
	snapshot(dp, &before);
	i = lim_syn(pr, srcs[4]) == pr->pass;
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: a set of 4 quarantined sources: a 5th source's SYN is blocked, limit_full +1",
		 dp->name, pr->name);
	tl_check(!i && MOVED(limit_full) == 1, l, "%s, limit_full +%llu",
		 i ? "passed" : "dropped", MOVED(limit_full));
	/*
	 * Once they are out and the sweeper has said so (an entry keeps its
	 * place until its release is reported), the set takes it.
	 */
	clock_set(dp, LIM_T0 + 101 * SEC_NS);
	for (n = 0; n < 30; n++) {
		usleep(100000);
		if (lim_syn(pr, srcs[4]) == pr->pass)
			break;
	}
	snprintf(l, sizeof(l), "limit [%s %s]: their quarantines over and reported, the 5th source gets a place",
		 dp->name, pr->name);
	tl_check(n < 30, l, "still dropped after 3 s");
	events_drain(dp);
}

/*
 * The sweeper ends a quarantine by itself and says so: a timer every
 * OP25B_SWEEP_TICK_NS, the whole limiter in OP25B_SWEEP_PARTS ticks.
 */
static void limit_sweeper(struct dp *dp, const struct prog *pr)
{
	struct snap before, after;
	const struct op25b_limiter *mem = limiter_mem(dp);
	__u8 src[16] = {};
	char l[200];
	int tries, i, released = -1, flagged = 0;

	set_limit(dp, 60, 60, 1, OP25B_ACT_DROP, 1 * SEC_NS, 64);
	limiter_clear(dp);
	records_clear(dp);
	clock_set(dp, LIM_T0);
	lim_syns(pr, DENIED4, 2);
	events_drain(dp);
	pkt_addr(AF_INET, DENIED4, src);
	snapshot(dp, &before);
	clock_set(dp, LIM_T0 + 2 * SEC_NS);
	/* a full sweep takes a second; allow three */
	for (tries = 0; tries < 30 && released < 0; tries++) {
		usleep(100000);
		events_drain(dp);
		for (i = 0; i < dp->sink.n; i++)
			if (dp->sink.ev[i].kind == OP25B_EV_RELEASED &&
			    !memcmp(dp->sink.ev[i].saddr, src, 4))
				released = i;
	}
	snapshot(dp, &after);
	for (i = 0; i < OP25B_LIMITER_MIN; i++)
		if (mem[i].src.family == 4 && !memcmp(mem[i].src.addr, src, 4))
			flagged = mem[i].flags;
	snprintf(l, sizeof(l), "quarantine [%s %s]: the sweeper ends it: a released event, releases +1, the flag cleared",
		 dp->name, pr->name);
	tl_check(released >= 0 && MOVED(releases) == 1 &&
		 !(flagged & OP25B_LIM_QUARANTINED), l,
		 "event %s after %d00 ms, releases +%llu, flags %#x",
		 released >= 0 ? "seen" : "not seen", tries, MOVED(releases),
		 flagged);
}

static void test_limit(struct dp *dp)
{
	int i;

	for (i = 0; i < 2; i++) {
		limit_bucket(dp, &dp->prog[i]);
		limit_others(dp, &dp->prog[i]);
		limit_quarantine(dp, &dp->prog[i]);
		limit_full(dp, &dp->prog[i]);
	}
	limit_sweeper(dp, &dp->prog[0]);
	clock_set(dp, 0);
	limiter_clear(dp);
	set_action(dp, OP25B_ACT_DROP);
}

/* ---- setup ---- */

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static bool dp_load(struct dp *dp)
{
	struct engine_fds fds;
	struct op25b_bpf *s;
	char l[64];
	int err;

	snprintf(l, sizeof(l), "load the %s datapath", dp->name);
	s = op25b_bpf__open();
	if (!s)
		return tl_check(false, l, "open failed: %s", strerror(errno));
	s->rodata->op25b_l3 = dp->l3;
	s->rodata->op25b_egress = dp->egress;
	s->rodata->op25b_offender_slots = TEST_OFFENDER_SLOTS;
	bpf_map__set_max_entries(s->maps.op25b_offenders, TEST_OFFENDER_SLOTS);
	err = op25b_bpf__load(s);
	if (err) {
		op25b_bpf__destroy(s);
		if (err == -EPERM)
			tl_cannot_run("BPF not permitted here (EPERM)");
		return tl_check(false, l, "load failed: %s", strerror(-err));
	}
	dp->rb = ring_buffer__new(bpf_map__fd(s->maps.op25b_events),
				  ev_collect, &dp->sink, NULL);
	if (!dp->rb) {
		op25b_bpf__destroy(s);
		return tl_check(false, l, "ring buffer: %s", strerror(errno));
	}
	dp->skel = s;
	if (engine_fds_of_object(s->obj, &fds))
		tl_bug("the skeleton has no policy maps");
	if (engine_open(&dp->eng, &fds, true))
		return tl_check(false, l, "engine: %s", dp->eng.err);
	dp->eng_open = true;
	dp->action = OP25B_ACT_DROP;
	dp->prog[0] = (struct prog){
		.name = OP25B_PROG_XDP,
		.fd = bpf_program__fd(s->progs.op25b_xdp),
		.pass = XDP_PASS,
		.drop = XDP_DROP,
		.answer = XDP_TX,
		.aborted = XDP_ABORTED,
		.is_xdp = true,
	};
	dp->prog[1] = (struct prog){
		.name = OP25B_PROG_TC,
		.fd = bpf_program__fd(s->progs.op25b_tc),
		.pass = (__u32)TC_ACT_UNSPEC,
		.drop = TC_ACT_SHOT,
		/* bpf_redirect()'s value; test_run reports it, sends nothing */
		.answer = TC_ACT_REDIRECT,
		/* "accept and stop classifying" would bypass later filters */
		.aborted = TC_ACT_OK,
	};
	tl_ok(l);
	return install_policy(dp);
}

/* Every section that runs on Ethernet devices. */
static void suite_l2(struct dp *dp)
{
	struct encap deep = { .name = "vlan 0x88a8+0x8100 pppoe", .nvlan = 2,
			      .tpid = { ETH_P_8021AD, ETH_P_8021Q },
			      .pppoe = true };
	const struct encap *ip_encs[] = { &enc_eth, &deep };
	size_t i;

	test_verdict_paths(dp, &enc_eth);
	test_other_ports(dp, &enc_eth);
	test_tcp_flags(dp, &enc_eth);
	test_port_bitmap(dp, &enc_eth);
	test_ethertypes(dp);
	test_vlans(dp);
	test_pppoe(dp);
	test_family_mismatch(dp);
	test_truncated(dp);
	for (i = 0; i < ARRAY_SIZE(ip_encs); i++) {
		test_ipv4_header(dp, ip_encs[i]);
		test_ipv4_frags(dp, ip_encs[i]);
		test_ipv6_header(dp, ip_encs[i]);
		test_ipv6_chain(dp, ip_encs[i]);
		test_ipv6_frags(dp, ip_encs[i]);
	}
}

static void suite_l3(struct dp *dp)
{
	test_verdict_paths(dp, &enc_l3);
	test_other_ports(dp, &enc_l3);
	test_tcp_flags(dp, &enc_l3);
	test_port_bitmap(dp, &enc_l3);
	test_l3_only(dp);
	test_ipv4_header(dp, &enc_l3);
	test_ipv4_frags(dp, &enc_l3);
	test_ipv6_header(dp, &enc_l3);
	test_ipv6_chain(dp, &enc_l3);
	test_ipv6_frags(dp, &enc_l3);
}

int main(int argc, char **argv)
{
	struct dp l2 = { .name = "l2" }, l3 = { .name = "l3", .l3 = true };
	struct dp l2e = { .name = "l2 egress", .egress = true };
	const char *only = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q")) {
			tl.quiet = true;
		} else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [-q] [-t l2|l3|actions|events|reject]\n",
				argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(libbpf_print);
	if (geteuid() != 0)
		tl_cannot_run("not root: BPF_PROG_TEST_RUN needs CAP_BPF and CAP_NET_ADMIN");
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		tl_cannot_run("cannot count possible CPUs");
	lo_ifindex = if_nametoindex("lo");
	if (!lo_ifindex)
		tl_cannot_run("no loopback device");

	if (!dp_load(&l2) || !dp_load(&l3) || !dp_load(&l2e))
		goto out;

	/* each area a subtest, -t NAME runs one alone */
#define AREA(name)	(!only || !strcmp(only, name))
	if (only && strcmp(only, "l2") && strcmp(only, "l3") &&
	    strcmp(only, "actions") && strcmp(only, "events") &&
	    strcmp(only, "reject") && strcmp(only, "limit")) {
		fprintf(stderr, "no subtest '%s'\n", only);
		goto out;
	}
	if (AREA("l2"))
		suite_l2(&l2);
	if (AREA("actions"))
		test_actions(&l2, &enc_eth);
	if (AREA("events")) {
		test_events(&l2);
		test_flood(&l2);
		test_sampling(&l2);
	}
	if (AREA("limit"))
		test_limit(&l2);
	if (AREA("l3"))
		suite_l3(&l3);
	if (AREA("actions"))
		test_actions(&l3, &enc_l3);

	/* every judged shape again, answered where reject.h says so */
	if (AREA("reject")) {
		set_action(&l2, OP25B_ACT_REJECT);
		set_action(&l3, OP25B_ACT_REJECT);
		set_action(&l2e, OP25B_ACT_REJECT);
		suite_l2(&l2);
		suite_l3(&l3);
		test_reject(&l2);
		test_reject(&l3);
		/* the direction changes where tc sends the RST, not the RST */
		test_reject(&l2e);
		set_action(&l2, OP25B_ACT_DROP);
		set_action(&l3, OP25B_ACT_DROP);
	}
#undef AREA
out:
	if (l2.eng_open)
		engine_close(&l2.eng);
	if (l3.eng_open)
		engine_close(&l3.eng);
	if (l2e.eng_open)
		engine_close(&l2e.eng);
	ring_buffer__free(l2.rb);
	ring_buffer__free(l3.rb);
	ring_buffer__free(l2e.rb);
	op25b_bpf__destroy(l2.skel);
	op25b_bpf__destroy(l3.skel);
	op25b_bpf__destroy(l2e.skel);
	return tl_summary();
}
