/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * op25b shared ABI: everything both sides of the BPF boundary must agree on.
 * Plain fixed-width types only, so user/ and tests/ include this file too.
 */
#ifndef OP25B_H
#define OP25B_H

#ifdef __BPF__
#include <linux/types.h>
#else
#include <linux/types.h>
#endif

#define OP25B_PIN_DIR_DEFAULT	"/sys/fs/bpf/op25b"

/* Pinned object names under the pin directory. */
#define OP25B_PIN_POLICY	"policy"	/* live word and the two snapshots */
#define OP25B_PIN_ROOTS		"roots"
#define OP25B_PIN_NODES		"nodes"
#define OP25B_PIN_LEAVES	"leaves"
#define OP25B_PIN_RULES		"rules"
#define OP25B_PIN_HITS		"hits"
#define OP25B_PIN_ENGINE	"engine"	/* the writers' allocator state */
#define OP25B_PIN_INDEX		"index"		/* the writers' exact-prefix index */
#define OP25B_PIN_STATS		"stats"
#define OP25B_PIN_ATTACH	"attachments"
#define OP25B_PIN_OFFENDERS	"offenders"
#define OP25B_PIN_EVENTS	"events"
#define OP25B_PIN_LIMITER	"limiter"
#define OP25B_PIN_SWEEPER	"sweeper"
#define OP25B_PIN_SESSIONS	"sessions"	/* the session layer's owners */
#define OP25B_PIN_CHAIN		"chain"		/* programs op25b chains (bpf/chain.h) */
#define OP25B_PIN_IFSTATS	"ifstats"	/* counters per attachment */
#define OP25B_PIN_SESSIONS_ENDED "sessions_ended" /* sessions just ended */
#define OP25B_PIN_IDENTS	"identities"	/* exemptions by uid, gid, cgroup */
#define OP25B_PIN_CGROUPS	"cgroups"	/* what op25bctl attached to cgroups */
#define OP25B_PIN_SOCKEVENTS	"sockevents"	/* the socket hooks' event log */
#define OP25B_PIN_CULPRITS	"culprits"	/* refused connects by uid, cgroup */
#define OP25B_PIN_ROOTSYNC	"rootsync"	/* the writers' spare root tables */

/* Program names as the kernel reports them (bpftool prog, status). */
#define OP25B_PROG_XDP		"op25b_xdp"
#define OP25B_PROG_XDP_CHAINED	"op25b_xdp_ch"
#define OP25B_PROG_TC		"op25b_tc"
#define OP25B_PROG_CONNECT4	"op25b_connect4"
#define OP25B_PROG_CONNECT6	"op25b_connect6"

/*
 * The version of everything pinned. A controller that meets another one
 * neither reads nor writes it (doc/DESIGN.md, "Upgrades").
 */
#define OP25B_LAYOUT		4

/*
 * Attachment records: at least this many, else one per prefix of capacity
 * (a BRAS whose sessions each attach to their pppN). Allocated as used.
 */
#define OP25B_ATTACH_MAX	1024

/*
 * Slots of the chain program array (bpf/chain.h): one per XDP attachment
 * that keeps another program; slot 0 means none.
 */
#define OP25B_CHAIN_SLOTS	1024

/* Verdict carried by a table entry. 0 is never stored. */
enum op25b_verdict {
	OP25B_V_NONE	= 0,
	OP25B_V_ALLOW	= 1,
	OP25B_V_DENY	= 2,
	OP25B_V_FORCE_U32 = 0xffffffffu,	/* keep the enum 4 bytes */
};

/* Action taken on a packet that policy blocks. */
enum op25b_action {
	OP25B_ACT_DROP		= 0,
	OP25B_ACT_REJECT	= 1,
	OP25B_ACT_MONITOR	= 2,
	OP25B_ACT_LIMIT		= 3,	/* rate-limit new connections: op25b_limit */
	OP25B_ACT_FORCE_U32	= 0xffffffffu,
};

/*
 * ---- The policy engine (doc/DESIGN.md, "Policy engine") ----
 *
 * Each of the four trees (subscriber and relay, IPv4 and IPv6) is a
 * multibit trie: a direct table indexed by the first root bits
 * of the address, then nodes of OP25B_STRIDE bits each. Nothing is ever
 * changed in place: a writer copies what it changes, builds the next
 * snapshot beside the live one, and publishes it by storing one word.
 */
enum op25b_table {
	OP25B_TABLE_SUBSCRIBER	= 0,
	OP25B_TABLE_RELAY	= 1,
	OP25B_TABLE_COUNT	= 2,	/* the tables; also "every table" */
	OP25B_TABLE_FORCE_U32	= 0xffffffffu,
};

/* Tree t: table (t >> 1), IPv6 when (t & 1). */
#define OP25B_TREES		4
#define OP25B_TREE(table, v6)	((table) * 2 + (v6))

/*
 * A root table indexes the first root bits of an address: more for a
 * larger capacity, so that a large table's prefixes are reached in fewer
 * levels and a small one's root stays small (op25b_root_bits_for). Set
 * when the maps are made, read back from the size of the pinned roots map.
 */
#define OP25B_ROOT_BITS_MIN	12
#define OP25B_ROOT_BITS_MAX	20
/* The BPF object's own size, before the loader sets the real one. */
#define OP25B_ROOT_BITS_DEFAULT	16
/* Root tables: the live snapshot uses one per tree, a writer one more. */
#define OP25B_ROOT_TABLES	(2 * OP25B_TREES)
#define OP25B_STRIDE		6
#define OP25B_SLOTS		(1u << OP25B_STRIDE)
/* Node levels below a root table of r bits, for an address of n bits. */
#define OP25B_DEPTH_FOR(n, r)	(((n) - (r) + OP25B_STRIDE - 1) / OP25B_STRIDE)
/* The most there can be: IPv6 below the smallest root, 20. */
#define OP25B_DEPTH_MAX		OP25B_DEPTH_FOR(128, OP25B_ROOT_BITS_MIN)

/*
 * A leaf names a rule and carries its verdict, so the datapath needs no
 * further read to decide: rule id << 2 | enum op25b_verdict. 0 is none.
 */
#define OP25B_LEAF(rid, verdict)	((__u32)(rid) << 2 | (verdict))
#define OP25B_LEAF_RID(leaf)		((leaf) >> 2)
#define OP25B_LEAF_VERDICT(leaf)	((leaf) & 3)
#define OP25B_RULES_LIMIT		(1u << 30)

/*
 * What a snapshot's two tables say of a packet aimed at a blocked port,
 * from the source's leaf in subscriber and the destination's in relay
 * (bpf/decide.h): the datapath's counters and 'op25bctl test' say it.
 */
enum op25b_said {
	OP25B_SAID_NOT_SUBSCRIBER,	/* no deny for the source: passes */
	OP25B_SAID_EXEMPT,		/* its best match is an allow: passes */
	OP25B_SAID_RELAY,		/* to an allowed relay: passes */
	OP25B_SAID_BLOCKED,
};

/* One entry of a root table: prefixes up to /16, expanded, and a child. */
struct op25b_root_ent {
	__u32 child;		/* node index, 0 for none */
	__u32 leaf;		/* the longest prefix of length <= 16 covering it */
};

/*
 * What the writers know of a spare root table r (user/engine_txn.c,
 * root_own): while mirror is set, r holds what root table mirror - 1
 * holds but at its n entries ent[], so that a writer taking r as the next
 * draft of that table's tree copies those entries, not the whole table (at
 * 20 root bits, 8 MB). One per root table, in a map of the writers' own:
 * the datapath never reads it, and a pin dir without it (made before it
 * was) copies whole tables, as before. A writer clears mirror before it
 * writes a table, and sets it last, after it published: a writer killed
 * between leaves nothing set that is not so.
 */
#define OP25B_ROOTSYNC_ENTS	1022
struct op25b_rootsync {
	__u32 mirror;		/* root table + 1; 0: nothing known */
	__u32 n;
	__u32 ent[OP25B_ROOTSYNC_ENTS];
};

/*
 * A node covers OP25B_STRIDE bits: 64 slots. Its children lie side by
 * side from child_base, one for each bit set in child_map, in slot order.
 * Its leaves hold, per slot, the longest prefix ending in this node that
 * covers the slot; equal neighbours share one leaf: run_map has a bit set
 * where a run of equal leaves starts (bit 0 always), and run k's leaf is
 * leaves[leaf_base + k]. Node 0 is never used: a child of 0 is none.
 */
struct op25b_node {
	__u64 child_map;
	__u64 run_map;
	__u32 child_base;
	__u32 leaf_base;
};

/* Leaves are stored 16 to an array element: one cache line each. */
#define OP25B_LEAVES_PER	16
struct op25b_leaves {
	__u32 leaf[OP25B_LEAVES_PER];
};

/*
 * Who owns a rule or an attachment (doc/DESIGN.md, "Layers"): each writer
 * replaces only its own layer, and the datapath sees them merged.
 */
enum op25b_layer {
	OP25B_LAYER_FILE	= 0,	/* apply's file, and an operator's edits */
	OP25B_LAYER_SESSION	= 1,	/* a PPP/RADIUS session's, by its id */
	OP25B_LAYER_WATCH	= 2,	/* attachments that watch made */
	OP25B_LAYER_FORCE_U32	= 0xffffffffu,
};

/*
 * A rule: the record beside the compiled trees that names what they hold,
 * for op25bctl and 'bpftool map dump'. A rule is part of snapshot G when
 * born <= G and (died == 0 or died > G). born == 0: a free record. Two
 * layers may hold the same prefix, each in a record of its own; the trees
 * hold the winner's leaf: the newest session's, else the file's.
 */
struct op25b_rule {
	enum op25b_table table;		/* enums: bpftool prints their names */
	enum op25b_verdict verdict;
	enum op25b_layer layer;
	__u32 owner;		/* the session's id in the session layer, else 0 */
	__u32 born;		/* the generation that added it */
	__u32 died;		/* the generation that removed it, 0 if none */
	__u32 link;		/* free record: the free list; a record being
				 * made: the one whose hits it carries on */
	__u8  family;		/* 4 or 6 */
	__u8  prefixlen;
	__u8  flags;		/* enum op25b_rule_flags */
	__u8  _pad;
	__u8  addr[16];		/* network order; IPv4 in the first 4 bytes */
};

enum op25b_rule_flags {
	/* put in the file layer by a command (deny, allow), not by apply */
	OP25B_RF_RUNTIME	= 1 << 0,
};

#define OP25B_PORT_WORDS	(65536 / 64)

/*
 * Action limit (doc/DESIGN.md, "Rate limits and quarantine"): a denied
 * subscriber's new connections (SYNs to a blocked port, not to an allowed
 * relay) pass while its source's token bucket has a token: burst tokens,
 * one more every interval_ns (period / rate). Beyond, they are blocked as
 * 'then' says; with quarantine_ns, the source is then blocked for all
 * SMTP until quarantine_ns after its last excess. Sources are IPv4
 * addresses and IPv6 prefixes of prefix6 bits. rate and period_s are the
 * operator's own words, kept to be written back as given.
 */
struct op25b_limit {
	__u64 interval_ns;	/* one token per this, > 0 */
	__u64 quarantine_ns;	/* 0: no quarantine */
	__u32 burst;		/* bucket size, >= 1 */
	__u32 rate;		/* connections a period */
	__u32 period_s;		/* 1, 60 or 3600 */
	enum op25b_action then;	/* OP25B_ACT_DROP or OP25B_ACT_REJECT */
	__u8  prefix6;		/* IPv6 source bits that make a source, 1-128 */
	__u8  by;		/* the socket hooks' sources: enum op25b_limit_by */
	__u8  _pad[6];
};

/*
 * What the socket hooks count a limit's sources by (the packet hooks
 * always by address): the uid of the process that connects, or its
 * cgroup. Their limiter entries are keyed as struct op25b_src with
 * family OP25B_SRC_UID or OP25B_SRC_CGROUP and the number in addr's
 * first 8 bytes (host order).
 */
enum op25b_limit_by {
	OP25B_BY_UID		= 0,
	OP25B_BY_CGROUP		= 1,
};
#define OP25B_SRC_UID		16
#define OP25B_SRC_CGROUP	17

#define OP25B_LIMIT_PREFIX6_DEFAULT	64
#define OP25B_LIMIT_RATE_MAX		1000000
#define OP25B_QUARANTINE_MAX_NS		(365ULL * 86400 * 1000000000ULL)

/* Blocked ports and the action: part of every snapshot. */
struct op25b_config {
	enum op25b_action action;
	__u32 _pad;
	struct op25b_limit limit;	/* when action is OP25B_ACT_LIMIT */
	__u64 ports[OP25B_PORT_WORDS];	/* bit p set: TCP dport p blocked */
};

struct op25b_snapshot {
	__u32 gen;			/* == the live word when live */
	__u32 root[OP25B_TREES];	/* root table of each tree */
	__u32 count[OP25B_TREES];	/* prefixes in each tree */
	__u32 _pad[3];
	struct op25b_config cfg;
};

/*
 * The one global the datapath selects a policy by: live is the generation
 * of the live snapshot, which sits in snap[live & 1]. A writer fills the
 * other slot, then stores live + 1. A packet reads live once, judges by
 * that snapshot only, and reads live again to confirm that no writer has
 * since reused what it read (doc/DESIGN.md, "Publishing").
 */
struct op25b_policy {
	__u32 live;
	__u32 hits_stride;	/* rule ids per CPU in the hits map, 0: none yet */
	struct op25b_snapshot snap[2];
};

/*
 * Rule hits: one counter per rule per stripe, stripe s's at s *
 * hits_stride + rule id. Each CPU counts in stripe (CPU % stripes), so
 * no two CPUs write one cache line while there are as many stripes as
 * CPUs; there are at most OP25B_HIT_STRIPES_MAX, so that the map does not
 * grow with a many-CPU machine, and CPUs that share a stripe add
 * atomically. A plain array, not a per-CPU one: made in one allocation
 * (a per-CPU array of 4M entries takes 0.8 s to make), and read by
 * op25bctl through mmap. Stripes: the hits map's size over the rules'.
 */
#define OP25B_HITS_CPUS_DEFAULT	8
#define OP25B_HIT_STRIPES_MAX	8

/* A packet whose snapshot changed under it is judged again, this often. */
#define OP25B_SNAP_TRIES	4

/*
 * The writers' own state, beside the datapath's: allocator and crash
 * marker. dirty is set while a writer works; a writer that finds it set
 * knows one died, and rebuilds this state from the live snapshot.
 */
#define OP25B_BLOCK_MAX		OP25B_SLOTS	/* children or leaves of a node */
struct op25b_engine {
	__u32 layout;		/* OP25B_LAYOUT */
	__u32 dirty;
	__u32 capacity;		/* prefixes per table */
	__u32 node_top;		/* nodes [1, node_top) have been handed out */
	__u32 leaf_top;
	__u32 rule_top;
	__u32 rule_free;	/* free record list, through op25b_rule.link */
	__u32 index_used;
	__u32 session_next;	/* the id the next session gets, from 1 */
	__u32 _pad;
	/* free blocks by size, linked through their first element */
	__u32 node_free[OP25B_BLOCK_MAX + 1];
	__u32 leaf_free[OP25B_BLOCK_MAX + 1];
};

/* The writers' exact-prefix index: rule ids in open-addressed slots. */
#define OP25B_INDEX_PER		16
struct op25b_index_line {
	__u32 rid[OP25B_INDEX_PER];
};

/*
 * Default prefixes per table; op25bctl --capacity when the maps are made.
 * Pool sizes for a capacity (doc/DESIGN.md, "Sizing"): records for both
 * tables twice over (a batch may replace every one); nodes 8 and leaves
 * 12 per prefix of capacity, plus as many as a root table has entries,
 * for small tables, whose prefixes share few nodes (measured: a million IPv4 host routes take 2.0M nodes
 * and 2.9M leaves, a million IPv6 /56s 1.0M and 2.7M); index slots a
 * power of two at least twice the records.
 */
#define OP25B_CAPACITY_DEFAULT	16384
#define OP25B_CAPACITY_MIN	64
#define OP25B_CAPACITY_MAX	(1u << 24)

/* A power of two >= n (n <= 2^31). */
static inline __u32 op25b_pow2_up(__u32 n)
{
	__u32 p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* Root bits for a capacity: log2(cap) + 1, within the bounds above. */
static inline __u32 op25b_root_bits_for(__u32 cap)
{
	__u32 r = OP25B_ROOT_BITS_MIN;

	while (r < OP25B_ROOT_BITS_MAX && (1u << (r - 1)) < cap)
		r++;
	return r;
}

/* The root bits of a roots map of n entries; 0: no size op25b makes. */
static inline __u32 op25b_root_bits_of_size(__u32 n)
{
	__u32 r;

	for (r = OP25B_ROOT_BITS_MIN; r <= OP25B_ROOT_BITS_MAX; r++)
		if (n == (__u32)OP25B_ROOT_TABLES << r)
			return r;
	return 0;
}

#define OP25B_RULES_FOR(cap)	(4 * (cap) + 1)
#define OP25B_NODES_FOR_BITS(cap, r)	(8 * (cap) + (1u << (r)))
#define OP25B_LEAF_ELEMS_FOR_BITS(cap, r)				\
	((12 * (cap) + (1u << (r))) / OP25B_LEAVES_PER)
#define OP25B_NODES_FOR(cap)						\
	OP25B_NODES_FOR_BITS(cap, op25b_root_bits_for(cap))
#define OP25B_LEAF_ELEMS_FOR(cap)					\
	OP25B_LEAF_ELEMS_FOR_BITS(cap, op25b_root_bits_for(cap))

static inline __u32 op25b_index_lines_for(__u32 cap)
{
	__u32 slots = OP25B_INDEX_PER;

	while (slots < 2 * OP25B_RULES_FOR(cap))
		slots <<= 1;
	return slots / OP25B_INDEX_PER;
}
/* The default's, as a constant for the map definition. */
#define OP25B_INDEX_LINES_FOR(cap)	(((cap) * 16) / OP25B_INDEX_PER)

#define OP25B_DEFAULT_PORT	25

/*
 * Per-CPU counters, summed in userspace. Only judged packets are counted:
 * traffic that is not TCP to a blocked port (and not evasive, undecidable
 * or malformed) leaves the program without touching any map.
 */
struct op25b_stats {
	/* why a packet was judged */
	__u64 smtp;		/* TCP segment to a blocked port */
	__u64 evasion;		/* fragment shapes of RFC 1858 / RFC 3128 */
	__u64 undecidable;	/* IPv6 chain not reaching TCP, over the bound, unreadable */
	__u64 malformed;	/* bad IP header or lengths, truncated TCP */
	/* what the judgement was */
	__u64 not_subscriber;	/* source has no deny match: passed */
	__u64 exempt;		/* source's best match is an allow: passed */
	__u64 relay;		/* destination is an allowed relay: passed */
	__u64 blocked;		/* dropped (or rejected) */
	__u64 monitored;	/* would be blocked, passed: action monitor */
	__u64 rejected;		/* blocked and answered with a TCP RST */
	/* what was reported of it */
	__u64 events_suppressed; /* no event: its source had one too recently */
	__u64 events_lost;	/* no event: no region for this CPU (layout 3:
				 * its ring buffer was full) */
	/* action limit */
	__u64 limit_passed;	/* new connections within the limit: passed */
	__u64 limit_exceeded;	/* new connections over it: blocked */
	__u64 quarantined;	/* segments of quarantined sources: blocked */
	__u64 quarantines;	/* sources put in quarantine */
	__u64 releases;		/* quarantines ended (expired or released) */
	__u64 limit_full;	/* no limiter slot for a source: blocked */
};

/* Parser classes, in the order the decision core handles them. */
enum op25b_class {
	OP25B_C_PASS		= 0,	/* not ours: leave at once */
	OP25B_C_SMTP		= 1,
	OP25B_C_EVASION		= 2,
	OP25B_C_UNDECIDABLE	= 3,
	OP25B_C_MALFORMED	= 4,
};

/* IPv6 extension headers walked before giving up as undecidable. */
#define OP25B_IPV6_EXT_MAX	8

/* Encapsulation limits. */
#define OP25B_VLAN_MAX		2

/* tc only: bytes made linear before parsing, when the skb is paged. */
#define OP25B_PULL_LEN		256

/* TTL / hop limit of the TCP RST that action reject answers with. */
#define OP25B_RST_TTL		64

/*
 * Offenders: the sources of blocked (or monitored) packets, so the
 * busiest, most likely infected, hosts can be found. Per CPU, a direct-
 * mapped table: a source's slot is op25b_src_slot(src) & (slots - 1). The
 * source in a slot keeps it while it has more attempts than the sources
 * that wanted the slot since (pressure); then the next one takes it. A
 * blocked packet writes only its own CPU's slot: no lock, no allocation,
 * O(1). 'top' sums a source over CPUs. Slots: a power of two, set when
 * the maps are made (op25b_offender_slots in the datapath).
 */
#define OP25B_OFFENDERS_MAX	65536
#define OP25B_OFFENDERS_FLOOR	1024
/* Each CPU's table has at least this many slots. */
#define OP25B_OFFENDERS_CPU_MIN	256

/*
 * Offender slots, all CPUs together, for a capacity unless --offenders
 * says: one for every four prefixes, a power of two, within
 * OP25B_OFFENDERS_FLOOR and OP25B_OFFENDERS_MAX. Each CPU sees the
 * sources its own queues bring, so the slots are shared out among the
 * CPUs (op25b_offenders_per_cpu): the total stays the same on a machine
 * with many CPUs.
 */
static inline __u32 op25b_offenders_for(__u32 cap)
{
	__u32 n = op25b_pow2_up(cap / 4);

	return n < OP25B_OFFENDERS_FLOOR ? OP25B_OFFENDERS_FLOOR :
	       n > OP25B_OFFENDERS_MAX ? OP25B_OFFENDERS_MAX : n;
}

static inline __u32 op25b_offenders_per_cpu(__u32 total, __u32 ncpu)
{
	__u32 n = OP25B_OFFENDERS_CPU_MIN;

	while (ncpu && n * 2 * ncpu <= total)
		n <<= 1;
	return n;
}

/* The key: family 4 or 6, IPv4 in the first 4 bytes, the rest zero. */
struct op25b_src {
	__u8  family;
	__u8  _pad[3];
	__u8  addr[16];
};

/*
 * Times are bpf_ktime_get_coarse_ns(): CLOCK_MONOTONIC at the resolution
 * of a kernel tick, in nanoseconds. A precise clock read costs a blocked
 * packet more than everything else it does; seconds are what 'top' and
 * the event limits need.
 */
struct op25b_offender {
	struct op25b_src src;	/* family 0: an empty slot */
	__u32 pressure;		/* attempts of other sources since it came */
	__u64 blocked;		/* dropped or rejected */
	__u64 monitored;	/* would have been blocked: action monitor */
	__u64 first_ns;
	__u64 last_ns;
	__u64 last_event_ns;	/* when the last event went out */
	__u8  last_daddr[16];	/* IPv4 in the first 4 bytes */
	__u16 last_dport;	/* host order */
	__u16 flags;		/* OP25B_OFF_* */
	__u32 last_ifindex;
};

/* blocked and monitored include sampled packets: they are estimates */
#define OP25B_OFF_ESTIMATED	1

/*
 * Under a flood the offenders table is sampled. Each CPU counts every
 * blocked packet exactly until OP25B_EXACT_PER_SEC of them in a second;
 * past that, one packet in OP25B_SAMPLE_RATE, chosen at random, is counted
 * OP25B_SAMPLE_RATE times and the others touch no table at all. 'stats'
 * and rule hits stay exact; 'top' then shows estimates, marked as such.
 * A heavy source is counted about right; a source that sends a few
 * packets in a flood of millions may be missed.
 */
#define OP25B_EXACT_PER_SEC	8192
#define OP25B_SAMPLE_RATE	256

/*
 * Each CPU's one-second window: when it began, the events sent and the
 * blocked packets seen in it. Internal (never pinned); in the ABI for the
 * tests that reset it.
 */
struct op25b_window {
	__u64 start_ns;
	__u64 sent;
	__u32 seen;
	__u32 rnd;		/* xorshift state: which packets are sampled */
};

/*
 * The limiter: one entry per rate-limited source, shared by every CPU (a
 * source's connections arrive on any of them), in sets of
 * OP25B_LIMITER_WAYS entries; a source lives in the set its hash names.
 * A packet updates its entry with atomics, never a lock. A source that
 * finds its set full takes the entry of one that is neither quarantined
 * nor short of tokens (forgetting it changes nothing); when there is
 * none, it is blocked and counted as limit_full. Entries: a power of two,
 * set when the maps are made (op25b_limiter_slots in the datapath).
 */
#define OP25B_LIMITER_WAYS	4
/* The BPF object's own size, before the loader sets the real one. */
#define OP25B_LIMITER_MIN	16384
#define OP25B_LIMITER_FLOOR	1024
#define OP25B_LIMITER_MAX	(1u << 22)

/*
 * Limiter entries for a capacity, unless --limiter says: one for every
 * four prefixes, a power of two, at least OP25B_LIMITER_FLOOR.
 */
static inline __u32 op25b_limiter_for(__u32 cap)
{
	__u32 n = op25b_pow2_up(cap / 4);

	return n < OP25B_LIMITER_FLOOR ? OP25B_LIMITER_FLOOR : n;
}

struct op25b_limiter {
	struct op25b_src src;	/* family 0: free; IPv6 masked to prefix6 */
	__u32 flags;		/* OP25B_LIM_* */
	__u64 tat;		/* GCRA: when the bucket is full again */
	__u64 until;		/* when its quarantine ends, if quarantined */
	__u64 since;		/* when its quarantine began */
	__u64 last_ns;		/* its last new connection */
	__u32 passed;		/* new connections within the limit */
	__u32 exceeded;		/* new connections over it */
};

enum op25b_limiter_flags {
	OP25B_LIM_QUARANTINED	= 1 << 0,
	/* quarantine ended (expired or released); the sweeper reports it */
	OP25B_LIM_ENDED		= 1 << 1,
	OP25B_LIM_BY_OPERATOR	= 1 << 2,	/* op25bctl quarantine release */
};

/*
 * Quarantines end by themselves: a timer sweeps the limiter every
 * OP25B_SWEEP_TICK_NS, 1/OP25B_SWEEP_PARTS of it each time, and sends a
 * "released" event for every quarantine that ended.
 */
#define OP25B_SWEEP_TICK_NS	125000000ULL
#define OP25B_SWEEP_SIZE	24	/* struct bpf_timer, cursor, armed */
#define OP25B_SWEEP_PARTS	8

/* The slot hash of a source: the same on both sides of the boundary. */
static inline __u32 op25b_src_hash(const struct op25b_src *s)
{
	const __u32 *w = (const __u32 *)s->addr;
	__u32 h = s->family * 0x9E3779B1u;

	h = (h ^ w[0]) * 0x85EBCA6Bu;
	h = (h ^ w[1]) * 0xC2B2AE35u;
	h = (h ^ w[2]) * 0x85EBCA6Bu;
	h = (h ^ w[3]) * 0xC2B2AE35u;
	return h ^ (h >> 16);
}

/*
 * Events are sent at most OP25B_EVENTS_PER_SEC a second on each CPU,
 * whatever the number of sources: under a flood from many hosts the ring
 * buffer is not even tried for the rest (counted as suppressed).
 */
#define OP25B_EVENTS_PER_SEC	1000

/*
 * Events of blocked attempts, at most one per source per
 * OP25B_EVENT_INTERVAL_NS: a spam bot makes thousands of attempts a
 * second, and the operator needs its line, not each of them.
 *
 * The event log (doc/DESIGN.md, "Events and their readers"): an mmapable
 * array that every reader maps read-only, one region per CPU of
 * OP25B_EVLOG_REGION elements. Element 0 of a region is its head: its
 * seq is the last sequence number written on that CPU (from 1). Event s
 * of the CPU lies in element 1 + s % OP25B_EVLOG_SLOTS. The datapath
 * writes only its own CPU's region: it zeroes the slot's seq, writes the
 * event, stores seq = s (an atomic exchange: ordered after the fields),
 * then the head. A reader keeps its own cursor per CPU, so no reader
 * takes an event from another; it knows what it missed by sequence
 * number: a slot whose seq is not the one it waits for was overwritten.
 * OP25B_EVLOG_SLOTS is one second of the per-CPU budget, five times what
 * a reader polling every 200 ms needs.
 */
#define OP25B_EVENT_INTERVAL_NS	1000000000ULL
#define OP25B_EVLOG_SLOTS	1024
#define OP25B_EVLOG_REGION	(OP25B_EVLOG_SLOTS + 1)
/* The map's size before the loader sets it from the CPUs there are. */
#define OP25B_EVLOG_CPUS_DEFAULT	2

struct op25b_event {
	__u64 seq;		/* this CPU's sequence number, 0: being written */
	__u64 ts_ns;		/* bpf_ktime_get_coarse_ns(), as the offenders' */
	__u64 netns_ino;	/* the program's namespace: the attachments' key */
	__u32 ifindex;		/* the device the packet was seen on */
	__u8  family;		/* 4 or 6 */
	__u8  cls;		/* enum op25b_class: why it was judged */
	__u8  action;		/* enum op25b_action: what was done */
	__u8  nvlan;		/* VLAN ids in vlan[], outer first */
	__u16 vlan[OP25B_VLAN_MAX];
	__u16 pppoe_sid;	/* host order, when pppoe is set */
	__u8  pppoe;
	__u8  kind;		/* enum op25b_event_kind */
	__u16 sport;		/* host order; 0 without a TCP header */
	__u16 dport;
	__u8  smac[6];		/* Ethernet source; zero on an L3 device */
	__u8  hook;		/* enum op25b_hook of the program, 0: none */
	__u8  has_mac;
	__u8  saddr[16];	/* IPv4 in the first 4 bytes */
	__u8  daddr[16];
};

/*
 * What an event reports. A quarantine event carries the source (masked
 * as the limiter keys it) in saddr; "quarantined" the packet that put it
 * there, "released" only the source, and action OP25B_ACT_LIMIT.
 */
enum op25b_event_kind {
	OP25B_EV_BLOCKED	= 0,	/* a blocked (or monitored) packet */
	OP25B_EV_QUARANTINED	= 1,
	OP25B_EV_RELEASED	= 2,	/* its quarantine expired */
	OP25B_EV_RELEASED_BY_OPERATOR = 3,
};

/* Hooks recorded in the attachments map. */
enum op25b_hook {
	OP25B_HOOK_XDP		= 1,
	OP25B_HOOK_TC_INGRESS	= 2,
	OP25B_HOOK_TC_EGRESS	= 3,
	/* the socket hooks (cgroup/connect4, cgroup/connect6): events only */
	OP25B_HOOK_CONNECT4	= 4,
	OP25B_HOOK_CONNECT6	= 5,
};

enum op25b_attach_flags {
	OP25B_AF_QDISC_CREATED	= 1 << 0,	/* clsact was created by op25b */
	OP25B_AF_XDP_GENERIC	= 1 << 1,
	OP25B_AF_XDP_NATIVE	= 1 << 2,
	OP25B_AF_L3		= 1 << 3,	/* parsing starts at the IP header */
	OP25B_AF_XDP_DISPATCHER	= 1 << 4,	/* XDP: in a libxdp dispatcher */
};

/* ifindex is per network namespace: the key names the namespace too. */
struct op25b_attach_key {
	__u64 netns_ino;	/* st_ino of /proc/self/ns/net */
	__u32 ifindex;
	__u32 hook;		/* enum op25b_hook */
};

/*
 * A record whose ifindex is OP25B_IFINDEX_PENDING or above names an
 * interface that did not exist when it was asked for: attached by name
 * (by watch) when it appears. Kernel ifindexes are below 2^31.
 */
#define OP25B_IFINDEX_PENDING	0x80000000u

struct op25b_attach_val {
	__u32 prog_id;		/* 0 while pending */
	__u32 flags;		/* enum op25b_attach_flags */
	__u32 tc_handle;
	__u32 tc_priority;
	char  ifname[16];	/* as named when attached (a rename follows
				 * the ifindex; status reads the name anew) */
	enum op25b_layer layer;
	__u32 owner;		/* the session's id in the session layer */
	__u32 xdp_mode;		/* what was asked: XDP_FLAGS_*_MODE, 0: any */
	__u32 chain_slot;	/* XDP: the chained program's slot, 0: alone */
};

/*
 * The session layer's owners: what a PPP/RADIUS hook registered for one
 * session, by its name (pppd's IFNAME, accel-ppp's session). Its rules
 * are the records whose owner is id; its prefixes are kept here so that
 * its end removes exactly them.
 */
#define OP25B_SESSION_NAME	32
#define OP25B_SESSION_PREFIXES	4
#define OP25B_SESSIONS_MAX	(1u << 20)

struct op25b_session_key {
	char name[OP25B_SESSION_NAME];
};

struct op25b_session_prefix {
	__u8 family;		/* 4 or 6, 0: unused */
	__u8 prefixlen;
	__u8 _pad[2];
	__u8 addr[16];
};

struct op25b_session {
	__u32 id;		/* owner of its rules and attachment, >= 1 */
	__u32 ifindex;		/* its device, 0 if none was named */
	__u64 netns_ino;
	__u64 started;		/* CLOCK_REALTIME, ns */
	char  ifname[16];
	char  user[64];		/* User-Name, as the hook got it */
	char  calling[32];	/* Calling-Station-Id */
	struct op25b_session_prefix allow[OP25B_SESSION_PREFIXES];
	/*
	 * The session's own addresses (its IPv4 address, its IPv6 prefixes),
	 * exempt or not: what names its events' user and line.
	 */
	struct op25b_session_prefix addr[OP25B_SESSION_PREFIXES];
};

/*
 * Counters per attachment (doc/DESIGN.md, "Metrics"): what each
 * interface's hook judged, by decision. A per-CPU array of
 * OP25B_IFSTATS_SLOTS slots and one more: a judged packet's slot is
 * op25b_ifstats_slot() of its attachment's key; its CPU takes a free
 * slot for the key on the first packet, and a slot its CPU holds for
 * another key sends the packet to the last one ("other"). One increment
 * a judged packet. blocked + monitored + passed is what it judged; their
 * sums over the slots are the global blocked, monitored and the passes
 * (not_subscriber + exempt + relay + limit_passed). op25bctl frees the
 * slots of attachments that are gone. 40 bytes a slot: 2.6 KB a CPU.
 * New after layout 4 was made: a layout 4 pin dir without it gets it
 * from the next program loaded (op25bctl's readers do without it).
 */
#define OP25B_IFSTATS_SLOTS	64

struct op25b_ifstats {
	struct op25b_attach_key key;	/* whose slot; hook 0: free */
	__u64 blocked;		/* dropped or rejected */
	__u64 monitored;	/* would be blocked: action monitor */
	__u64 passed;		/* judged and let through to the port */
};

/* Consecutive devices of a namespace take consecutive slots. */
static inline __u32 op25b_ifstats_slot(__u64 netns_ino, __u32 ifindex,
				       __u32 hook)
{
	return ((ifindex + (__u32)netns_ino) * 3 + hook) &
	       (OP25B_IFSTATS_SLOTS - 1);
}

/*
 * Sessions just ended (doc/DESIGN.md, "Events and their readers"):
 * 'session down' leaves its record here, by session id, with when it
 * ended, so that a reader that looks at the sessions once a second still
 * names the events of a session that came and went in between, and the
 * log still records its up and down. Readers take what ended within
 * OP25B_SESSION_GRACE_NS; 'session down' clears older ones when the map
 * is full. Written and read by op25bctl only; allocated as used. New
 * after layout 4 was made: a layout 4 pin dir gets it from the next load.
 */
#define OP25B_SESSIONS_ENDED_MAX	1024
#define OP25B_SESSION_GRACE_NS		(10ULL * 1000000000ULL)

struct op25b_session_ended {
	struct op25b_session_key key;	/* its name */
	struct op25b_session s;
	__u64 ended;		/* CLOCK_REALTIME, ns */
};

#define OP25B_TC_HANDLE		0x25
#define OP25B_TC_PRIORITY	25

/*
 * ---- The socket hooks (doc/DESIGN.md, "Socket hooks") ----
 *
 * cgroup/connect4 and cgroup/connect6 judge a process's connect() (and
 * every other way into the same kernel path: sendmsg with MSG_FASTOPEN,
 * TCP_FASTOPEN_CONNECT, io_uring's connect, MPTCP's subflows) before a
 * SYN exists, by the same live snapshot as the packet hooks, and refuse
 * it with EPERM. Who may connect all the same: the identities below.
 */

/*
 * An exemption by identity, beside the tables (doc/DESIGN.md, "Who may
 * connect"): a uid, a gid or a cgroup (and what lies below it). Records
 * of a hash map, keyed by kind and number, stamped with generations as
 * rule records are (born, died): a record is part of snapshot G when
 * born <= G and (died == 0 or died > G), so a change publishes with the
 * snapshot's one store. A name that did not resolve when applied is kept
 * under OP25B_ID_PENDING (its id a hash of the name): never matched.
 */
enum op25b_ident_kind {
	OP25B_ID_UID		= 1,
	OP25B_ID_GID		= 2,
	OP25B_ID_CGROUP		= 3,	/* its id: the cgroup v2 id (inode) */
	OP25B_ID_PENDING	= 0x100,	/* or'ed: a name that waits */
	OP25B_ID_FORCE_U32	= 0xffffffffu,
};

struct op25b_ident_key {
	__u32 kind;		/* enum op25b_ident_kind */
	__u32 _pad;
	__u64 id;
};

#define OP25B_IDENT_NAME	256
#define OP25B_IDENTS_MAX	4096

struct op25b_ident {
	__u32 born;
	__u32 died;
	enum op25b_layer layer;
	__u32 owner;
	__u8  flags;		/* enum op25b_rule_flags */
	__u8  old_flags;	/* before since */
	__u8  _pad[2];
	/*
	 * A change that says the same identity in other words (a name for a
	 * number, a runtime edit the file now holds) keeps the words before
	 * it: name and flags are the record's from generation since on,
	 * old_name and old_flags before (what a reader of an older snapshot,
	 * and a change undone, go back to). 0: no other words.
	 */
	__u32 since;
	/* as given: a user or group name ("" when given as a number), a
	 * cgroup's path below the v2 root */
	char  name[OP25B_IDENT_NAME];
	char  old_name[OP25B_IDENT_NAME];
};

/*
 * What op25bctl attached to a cgroup, by the cgroup's path below the v2
 * root: read by op25bctl only (the programs are armed per instance, see
 * bpf/cgroup.h). cgroup_id is the cgroup the programs went to: a path
 * whose cgroup was made again since has another id (status: "gone").
 */
#define OP25B_CGROUP_PATH	256
#define OP25B_CGROUPS_MAX	1024

struct op25b_cgroup_key {
	char path[OP25B_CGROUP_PATH];	/* "" is the root; no leading '/' */
};

enum op25b_cgroup_flags {
	/* both programs attached and armed; without it an attach was cut
	 * short (its programs, if any, pass everything until it is done) */
	OP25B_CF_COMPLETE	= 1 << 0,
};

struct op25b_cgroup_att {
	__u64 cgroup_id;	/* 0: pending, no such cgroup yet */
	__u32 prog_id[2];	/* connect4's, connect6's */
	__u32 flags;		/* enum op25b_cgroup_flags */
	enum op25b_layer layer;
	__u32 owner;
	__u32 _pad;
};

/*
 * The socket hooks' event log: laid out as the packet hooks' (a region
 * of OP25B_EVLOG_REGION slots per CPU, element 0 the head), a map of its
 * own because its writers run in process context: a packet hook in
 * softirq may interrupt one on the same CPU, and another task may run
 * one there once it is preempted. The head's lock is taken with an
 * atomic exchange for each write (busy: the event is counted lost); its
 * win_* are the CPU's one-second budget of OP25B_EVENTS_PER_SEC.
 */
struct op25b_sock_event {
	__u64 seq;		/* as op25b_event's; the head: last written */
	__u64 ts_ns;
	__u64 cgroup_id;	/* the calling process's cgroup (v2 id) */
	__u64 netns_cookie;	/* the socket's network namespace */
	__u32 pid;		/* thread group (the process) */
	__u32 tid;
	__u32 uid;		/* real uid and gid of the caller */
	__u32 gid;
	__u8  family;		/* 4 or 6: what was judged */
	__u8  kind;		/* enum op25b_event_kind */
	__u8  action;		/* what was done (OP25B_ACT_*) */
	__u8  hook;		/* OP25B_HOOK_CONNECT4 or _CONNECT6 */
	__u8  flags;		/* enum op25b_sock_event_flags */
	__u8  _pad;
	__u16 dport;		/* host order */
	__u16 sport;		/* a bound source port, else 0 */
	__u16 _pad2;
	__u32 lock;		/* the head only: a writer is at work */
	__u32 win_sent;		/* the head only: events this window */
	__u64 win_start;	/* the head only: when the window began */
	__u8  saddr[16];	/* a bound source, else zero; IPv4 first */
	__u8  daddr[16];
	char  comm[16];		/* the calling thread's command */
};

enum op25b_sock_event_flags {
	OP25B_SE_MAPPED		= 1 << 0,	/* an IPv4-mapped IPv6 address */
	OP25B_SE_SOURCE		= 1 << 1,	/* saddr is the bound source */
};

/*
 * Refused (and monitored) connects by who made them, for 'top --by uid'
 * and 'top --by cgroup': an LRU hash keyed as identities are (kind
 * OP25B_ID_UID or OP25B_ID_CGROUP), counted with atomics from any CPU.
 */
#define OP25B_CULPRITS_MAX	4096

/*
 * Culprits for a capacity: one for every four prefixes, a power of two,
 * at least 256 (the LRU hash is made whole: 160 bytes an entry).
 */
static inline __u32 op25b_culprits_for(__u32 cap)
{
	__u32 n = op25b_pow2_up(cap / 4);

	return n < 256 ? 256 : n > 65536 ? 65536 : n;
}

struct op25b_culprit {
	__u64 blocked;
	__u64 monitored;
	__u64 first_ns;
	__u64 last_ns;
	__u64 last_event_ns;	/* its last event: one a second at most */
	__u32 last_pid;
	__u16 last_dport;
	__u8  family;		/* of last_daddr */
	__u8  _pad;
	__u8  last_daddr[16];
	char  comm[16];		/* of the last one */
};

#endif /* OP25B_H */
