/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reference model of the op25b datapath for the differential fuzzer.
 *
 * It restates doc/DESIGN.md and the rule comments at the top of bpf/parse.h and
 * bpf/reject.h in plain userspace C (explicit offsets, linear-scan prefix
 * match) and shares no code with bpf/: only the ABI constants of op25b.h. Two of the spec's
 * notes cannot arise under BPF_PROG_TEST_RUN (a VLAN tag already stripped
 * into skb->vlan_tci, an skb whose headers sit in paged data) and are not
 * modelled.
 */
#ifndef OP25B_ORACLE_H
#define OP25B_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op25b.h"

/* Per table, both families: the fuzzer's tables run to thousands. */
#define ORACLE_RULES_MAX	16384

/* One table entry; family 4 uses the first 4 bytes of addr. */
struct oracle_rule {
	int family;		/* 4 or 6 */
	uint8_t addr[16];
	unsigned int plen;
	unsigned int verdict;	/* enum op25b_verdict */
	/*
	 * Packets this entry decided a lookup for, on L2 [0] and L3 [1]
	 * devices (two datapaths, two sets of counters). A new verdict for
	 * the same prefix keeps them; a deleted entry takes them along.
	 */
	uint64_t hits[2];
};

struct oracle_table {
	struct oracle_rule rule[ORACLE_RULES_MAX];
	int n;
};

/* Action limit's terms (doc/DESIGN.md, "Rate limits and quarantine"). */
struct oracle_limit {
	uint64_t interval_ns;		/* a new token every interval_ns */
	uint64_t quarantine_ns;		/* 0: no quarantine */
	unsigned int burst;		/* tokens a source may hold */
	unsigned int then;		/* OP25B_ACT_DROP or _REJECT */
	unsigned int prefix6;		/* IPv6 bits that make a source */
};

struct oracle_policy {
	struct oracle_table subscriber;
	struct oracle_table relay;
	uint8_t port_blocked[65536];	/* 1: TCP dport blocked */
	unsigned int action;		/* enum op25b_action */
	struct oracle_limit limit;	/* when action is OP25B_ACT_LIMIT */
};

/*
 * The sources action limit has seen, each a plain token bucket kept as
 * credit in nanoseconds (a token is interval_ns of it), unbounded: the
 * datapath's table never runs out in the fuzzer's runs (it checks).
 */
#define ORACLE_SOURCES_MAX	65536

struct oracle_source {
	int family;
	uint8_t key[16];		/* the address, IPv6 cut to prefix6 */
	uint64_t credit_ns;		/* up to burst * interval_ns */
	uint64_t last_ns;		/* when credit was last brought up */
	bool quarantined;
	uint64_t until_ns;		/* the quarantine's end */
};

struct oracle_limiter {
	struct oracle_source src[ORACLE_SOURCES_MAX];
	int n;
};

/*
 * Which judgement counter a judged packet moves (besides its class), and
 * its word in the fuzzer's report: one list, which makes the enum and
 * oracle_judgement_name's table.
 */
#define ORACLE_JUDGEMENTS(X)						\
	X(NONE, "none")		/* class PASS: nothing counted */	\
	X(NOT_SUBSCRIBER, "not_subscriber")				\
	X(EXEMPT, "exempt")						\
	X(RELAY, "relay")						\
	X(BLOCKED, "blocked")						\
	X(MONITORED, "monitored")					\
	X(LIMIT, "limit (undecided)")	/* oracle_limit decides */	\
	X(LIMIT_PASSED, "limit_passed")	/* action limit let it through */

enum oracle_judgement {
#define ORACLE_J(name, word)	ORACLE_J_##name,
	ORACLE_JUDGEMENTS(ORACLE_J)
#undef ORACLE_J
	ORACLE_J_COUNT,
};

/* Why action limit blocked a packet. */
enum oracle_limited {
	ORACLE_L_NONE = 0,
	ORACLE_L_EXCEEDED,	/* a new connection without a token */
	ORACLE_L_QUARANTINED,	/* its source is in quarantine */
};

struct oracle_result {
	int cls;		/* enum op25b_class */
	int judgement;		/* enum oracle_judgement */
	bool drop;
	/* where a judged frame's headers lie, from the frame's start */
	int family;		/* 4 or 6 */
	size_t l3off;
	size_t pppoe;		/* the PPPoE header's offset; 0: none */
	size_t l4off;		/* the TCP header: class SMTP only */
	size_t end;		/* where the IP datagram ends */
	/* the entries that decided, by index into their table; -1: none */
	int sub_rule;
	int relay_rule;
	/* action limit */
	int limited;		/* enum oracle_limited, when blocked by it */
	bool quarantines;	/* this packet put its source in quarantine */
};

/* Ethernet, two tags, PPPoE, the fixed IPv6 header and TCP's. */
#define ORACLE_RST_MAX		128

/* The answer of action reject to a blocked frame (bpf/reject.h). */
struct oracle_rst {
	bool answer;		/* the RST goes back */
	bool partial;		/* the TCP checksum field looks PARTIAL (tc) */
	bool moved;		/* the RST's TCP header is not where it was */
	size_t len;
	uint8_t b[ORACLE_RST_MAX];
};

void oracle_policy_init(struct oracle_policy *p);
/*
 * Add an entry, or give an existing one (same family, address, length) a
 * new verdict. 1: added, 0: changed or unchanged, -1: no room / bad.
 */
int oracle_set_rule(struct oracle_table *t, int family, const uint8_t *addr,
		    unsigned int plen, unsigned int verdict);
/* Remove an entry. 1: removed, 0: absent. Indices of others may move. */
int oracle_del_rule(struct oracle_table *t, int family, const uint8_t *addr,
		    unsigned int plen);
/* The entry with exactly this prefix: its index, or -1. */
int oracle_find_rule(const struct oracle_table *t, int family,
		     const uint8_t *addr, unsigned int plen);
/* Best (longest) match's index, -1 when nothing matches. */
int oracle_match(const struct oracle_table *t, int family,
		 const uint8_t *addr);
/* Best (longest) match's verdict, OP25B_V_NONE when nothing matches. */
unsigned int oracle_lookup(const struct oracle_table *t, int family,
			   const uint8_t *addr);
/* Count one run of a frame judged r on the entries that decided it. */
void oracle_hit(struct oracle_policy *p, const struct oracle_result *r,
		bool l3);

/*
 * Verdict for one frame. l3 selects a device without an Ethernet header,
 * where the frame starts at the IP header.
 */
struct oracle_result oracle_judge(const struct oracle_policy *p, bool l3,
				  const uint8_t *pkt, size_t len);

/*
 * Action limit's judgement of a frame oracle_judge left at ORACLE_J_LIMIT,
 * at time now (the clock the datapath is fed): passed or blocked, and the
 * source's bucket and quarantine moved on. Once per program run: each
 * run is a packet of its own to the limiter. Other results are left as
 * they are.
 */
void oracle_limit(struct oracle_limiter *lm, const struct oracle_policy *p,
		  struct oracle_result *r, const uint8_t *pkt, uint64_t now);

/*
 * What action reject makes of a frame judged r, on an XDP run (skb false)
 * or a tc run, where the frame is an skb that may be CHECKSUM_PARTIAL:
 * out->answer, and the RST's bytes. pkt as given to oracle_judge.
 */
bool oracle_rst(const struct oracle_policy *p, const struct oracle_result *r,
		bool l3, bool skb, const uint8_t *pkt, struct oracle_rst *out);

/*
 * Adds what the result moves to a counter block (class + judgement, and
 * rejected when the run answered it).
 */
void oracle_count(const struct oracle_result *r, bool answered,
		  struct op25b_stats *s);

const char *oracle_class_name(int cls);
const char *oracle_judgement_name(int j);

#endif /* OP25B_ORACLE_H */
