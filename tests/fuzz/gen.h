/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fuzzer's frames (gen.c): shape by shape (VLAN stacks, PPPoE, IPv4
 * options and fragments, IPv6 extension chains, ports and addresses near
 * the policy's edges), then mutated or cut, often inside a header. And
 * the PRNG that makes a seed name a run exactly, shared with fuzz.c's
 * policy changes and clock.
 */
#ifndef OP25B_FUZZ_GEN_H
#define OP25B_FUZZ_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "oracle.h"

#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

/* Frames sent are at most an Ethernet MTU; shapes are built in more room. */
#define PKT_MAX		1514
#define GEN_BUF		4096
/* Percent of TCP segments whose checksum field looks CHECKSUM_PARTIAL. */
#define PARTIAL_PCT	10
#define TCP_HDR_LEN	20
#define IPV4_HDR_LEN	20
#define MARK_MAX	48
#define IPV6_HDR_LEN	40
#define PPPOE_VER_TYPE	0x11
/* Percent of subscriber-side sources that are one of a few busy hosts. */
#define BUSY_PCT	30

enum { T_SUB, T_RELAY };

/* What frames are built from: the policy as the oracle holds it, ports. */
extern struct oracle_policy oracle;
#define BLOCKED_PORTS_N	3
extern const unsigned int blocked_ports[BLOCKED_PORTS_N];

/* splitmix64; seed it by setting rng_state */
extern uint64_t rng_state;
uint64_t rnd(void);
unsigned int below(unsigned int n);
int chance(unsigned int percent);
void fill_random(uint8_t *b, size_t n);
void addr_set_bit(uint8_t *a, unsigned int bit, int v);
int addr_get_bit(const uint8_t *a, unsigned int bit);
struct oracle_table *oracle_table_of(int table);
const struct oracle_rule *pick_rule(int table, int family);

struct gen {
	uint8_t b[GEN_BUF];
	size_t len;
	bool l3;
	size_t mark[MARK_MAX];	/* header boundaries: where cuts hurt */
	int nmark;
};

void gen_packet(struct gen *g);

#endif /* OP25B_FUZZ_GEN_H */
