// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The fuzzer's frames and its PRNG: see gen.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ppp_defs.h>
#include "op25b.h"
#include "gen.h"

/* ---- PRNG: splitmix64, so a seed names a run exactly */

uint64_t rng_state;

uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

unsigned int below(unsigned int n)
{
	return n ? (unsigned int)(rnd() % n) : 0;
}

int chance(unsigned int percent)
{
	return below(100) < percent;
}

void fill_random(uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
}

static void put16(uint8_t *b, unsigned int v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/*
 * Sometimes give the TCP header at tcp the checksum field a local socket
 * leaves in a CHECKSUM_PARTIAL skb: the folded pseudo-header sum of its
 * addresses (n bytes each, source first at a) and segment length. tc must
 * answer such a segment in kind, or not at all.
 */
static void maybe_partial(uint8_t *tcp, const uint8_t *a, size_t n,
			  size_t seg)
{
	uint32_t sum = IPPROTO_TCP + (uint32_t)(seg >> 16) +
		       (uint32_t)(seg & 0xffff);
	size_t i;

	if (seg < TCP_HDR_LEN || !chance(PARTIAL_PCT))
		return;
	for (i = 0; i < 2 * n; i += 2)
		sum += (uint32_t)a[i] << 8 | a[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(tcp + 16, sum);
}

/* ---- packet generation */


static void mark(struct gen *g, size_t off)
{
	if (g->nmark < MARK_MAX)
		g->mark[g->nmark++] = off;
}

void addr_set_bit(uint8_t *a, unsigned int bit, int v)
{
	uint8_t m = (uint8_t)(0x80 >> (bit % 8));

	if (v)
		a[bit / 8] |= m;
	else
		a[bit / 8] &= (uint8_t)~m;
}

int addr_get_bit(const uint8_t *a, unsigned int bit)
{
	return !!(a[bit / 8] & (0x80 >> (bit % 8)));
}

/* Adds delta (+1 or -1) to a big-endian address, wrapping. */
static void addr_step(uint8_t *a, size_t n, int delta)
{
	size_t i = n;

	while (i-- > 0) {
		a[i] = (uint8_t)(a[i] + delta);
		if ((delta > 0 && a[i] != 0) || (delta < 0 && a[i] != 0xff))
			break;
	}
}

struct oracle_table *oracle_table_of(int table)
{
	return table == T_SUB ? &oracle.subscriber : &oracle.relay;
}

/* A random entry of family in table, NULL when none turns up soon. */
const struct oracle_rule *pick_rule(int table, int family)
{
	const struct oracle_table *t = oracle_table_of(table);
	const struct oracle_rule *r;
	int tries;

	for (tries = 0; t->n && tries < 32; tries++) {
		r = &t->rule[below((unsigned int)t->n)];
		if (r->family == family)
			return r;
	}
	return NULL;
}

/*
 * An address inside (random host bits), at the edges of, or just outside
 * a policy prefix, mostly one of table's: sources are looked up among
 * subscribers, destinations among relays.
 */
static void pick_addr(int family, uint8_t *a, int table)
{
	/* busy hosts: the same few sources again and again, for the limiter */
	static const char *const busy4[] = { "10.0.0.25", "192.0.2.7",
					     "100.64.1.1" };
	static const char *const busy6[] = { "2001:db8:5::25",
					     "2001:db8:5:0:1::7", "fd00::25" };
	unsigned int nbits = family == 4 ? 32 : 128, bit;
	size_t n = nbits / 8;
	const struct oracle_rule *r;

	if (table == T_SUB && chance(BUSY_PCT)) {
		inet_pton(family == 4 ? AF_INET : AF_INET6,
			  family == 4 ? busy4[below(3)] : busy6[below(3)], a);
		return;
	}
	fill_random(a, n);
	if (chance(10))
		return;
	r = pick_rule(chance(75) ? table : !table, family);
	if (!r)
		return;

	for (bit = 0; bit < r->plen; bit++)
		addr_set_bit(a, bit, addr_get_bit(r->addr, bit));
	switch (below(8)) {
	case 0:
		for (bit = r->plen; bit < nbits; bit++)
			addr_set_bit(a, bit, 0);
		break;
	case 1:
		for (bit = r->plen; bit < nbits; bit++)
			addr_set_bit(a, bit, 1);
		break;
	case 2:
		if (r->plen)
			addr_set_bit(a, r->plen - 1,
				     !addr_get_bit(a, r->plen - 1));
		break;
	case 3:
		for (bit = r->plen; bit < nbits; bit++)
			addr_set_bit(a, bit, 0);
		addr_step(a, n, -1);
		break;
	case 4:
		for (bit = r->plen; bit < nbits; bit++)
			addr_set_bit(a, bit, 1);
		addr_step(a, n, 1);
		break;
	default:
		break;
	}
}

/* Blocked ports, their neighbours, byte-swapped twins, and the rest. */
static unsigned int pick_port(void)
{
	/* 0x1900 and 0xdd09 are 25 and 2525 read in the wrong byte order. */
	static const unsigned int near[] = {
		24, 26, 2524, 2526, 65534, 0, 1, 587, 465,
		0x1900, 0xdd09, 80, 443, 64, 63,
	};
	unsigned int r = below(100);

	if (r < 35)
		return blocked_ports[below(ARRAY_LEN(blocked_ports))];
	if (r < 75)
		return near[below(ARRAY_LEN(near))];
	return below(65536);
}

/* TCP header and payload at b; returns how many bytes belong to it. */
static size_t build_tcp(struct gen *g, size_t o)
{
	uint8_t *t = g->b + o;
	unsigned int doff;
	size_t len;

	fill_random(t, 60);
	put16(t, below(65536));
	put16(t + 2, pick_port());
	doff = chance(80) ? 5 : below(16);
	t[12] = (uint8_t)(doff << 4);
	t[13] = chance(50) ? 0x02 : (uint8_t)rnd();
	mark(g, o);
	mark(g, o + 4);
	mark(g, o + 20);

	if (chance(12))
		return below(20);
	len = (doff < 5 ? 20 : doff * 4);
	if (chance(5))
		len += below(600);
	else
		len += below(64);
	fill_random(t + 60, len > 60 ? len - 60 : 0);
	return len;
}

static size_t build_other_l4(struct gen *g, size_t o)
{
	size_t len = below(80);

	fill_random(g->b + o, len);
	mark(g, o);
	return len;
}

static size_t build_ipv4(struct gen *g, size_t o)
{
	uint8_t *ip = g->b + o;
	unsigned int ihl, hdr, proto, frag = 0, total;
	size_t l4;

	ihl = chance(85) ? 5 : (chance(80) ? 6 + below(10) : below(5));
	hdr = ihl < 5 ? 20 : ihl * 4;
	fill_random(ip, 20);
	ip[0] = (uint8_t)((chance(97) ? 4 : below(16)) << 4 | ihl);
	if (chance(50))
		memset(ip + 20, 1, hdr - 20);	/* NOP options */
	else
		fill_random(ip + 20, hdr - 20);

	if (chance(85)) {
		proto = IPPROTO_TCP;
	} else {
		static const unsigned int other[] = {
			IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_GRE,
			IPPROTO_ESP, IPPROTO_SCTP, IPPROTO_IP,
		};

		proto = chance(80) ? other[below(6)] : below(256);
	}
	ip[9] = (uint8_t)proto;

	switch (below(20)) {
	case 0:
	case 1:
		frag = IP_MF;			/* first fragment */
		break;
	case 2:
	case 3:
		frag = 1 | (chance(50) ? IP_MF : 0);
		break;
	case 4:
		frag = 2 | (chance(50) ? IP_MF : 0);
		break;
	case 5:
		frag = below(IP_OFFMASK + 1) | (chance(50) ? IP_MF : 0);
		break;
	case 6:
		frag = (unsigned int)rnd() & 0xffff;
		break;
	default:
		break;
	}
	if (chance(30))
		frag |= IP_DF;
	put16(ip + 6, frag);
	pick_addr(4, ip + 12, T_SUB);
	pick_addr(4, ip + 16, T_RELAY);
	mark(g, o);
	mark(g, o + 20);
	mark(g, o + hdr);

	if (proto == IPPROTO_TCP)
		l4 = build_tcp(g, o + hdr);
	else
		l4 = build_other_l4(g, o + hdr);

	total = hdr + (unsigned int)l4;
	switch (below(20)) {
	case 0:
		total = below(65536);
		break;
	case 1:
		total = total + 1 + below(8);
		break;
	case 2:
		total = total > 8 ? total - 1 - below(8) : 0;
		break;
	case 3:
		total = hdr - below(hdr + 1);
		break;
	default:
		break;
	}
	put16(ip + 2, total);
	if (proto == IPPROTO_TCP && total >= hdr)
		maybe_partial(ip + hdr, ip + 12, 4, total - hdr);
	return hdr + l4;
}

/* The extension headers the spec walks; the last two lack libc names. */
static const unsigned int ext_types[] = {
	IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_AH,
	IPPROTO_DSTOPTS, IPPROTO_MH,	  139,		    140,
};

static unsigned int pick_chain_len(void)
{
	unsigned int r = below(100);

	if (r < 35)
		return 0;
	if (r < 70)
		return 1 + below(3);
	if (r < 85)
		return 4 + below(4);
	if (r < 92)
		return OP25B_IPV6_EXT_MAX;
	return OP25B_IPV6_EXT_MAX + 1 + below(3);
}

static unsigned int pick_final_nh(void)
{
	static const unsigned int other[] = {
		IPPROTO_UDP,	IPPROTO_ESP,	  IPPROTO_NONE,
		IPPROTO_ICMPV6, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS,
	};
	unsigned int r = below(100);

	if (r < 75)
		return IPPROTO_TCP;
	if (r < 93)
		return other[below(6)];
	return below(256);
}

/* One extension header of type t; returns its size. */
static size_t build_ext(struct gen *g, size_t o, unsigned int t,
			unsigned int next)
{
	uint8_t *h = g->b + o;
	unsigned int hl;
	size_t size;

	mark(g, o);
	if (t == IPPROTO_FRAGMENT) {
		unsigned int fo, r = below(100);

		fill_random(h, 8);
		h[0] = (uint8_t)next;
		if (chance(80))
			h[1] = 0;
		if (r < 55)
			fo = 0;
		else if (r < 75)
			fo = 1;
		else if (r < 82)
			fo = 2;
		else
			fo = below(IP_OFFMASK + 1);
		put16(h + 2, fo << 3 | (chance(80) ? 0 : below(8) & 6) |
				     (chance(50) ? 1 : 0));
		return 8;
	}
	if (t == IPPROTO_AH) {
		hl = chance(70) ? 1 + below(4) : below(16);
		size = ((size_t)hl + 2) * 4;
	} else {
		hl = chance(70) ? 0 : (chance(70) ? 1 + below(3) : below(16));
		size = ((size_t)hl + 1) * 8;
	}
	if (chance(50)) {
		memset(h, 0, size);		/* Pad1 options */
	} else {
		fill_random(h, size);
	}
	h[0] = (uint8_t)next;
	h[1] = (uint8_t)hl;
	mark(g, o + 2);
	return size;
}

static size_t build_ipv6(struct gen *g, size_t o)
{
	uint8_t *ip = g->b + o;
	unsigned int n = pick_chain_len(), types[OP25B_IPV6_EXT_MAX + 4];
	unsigned int final = pick_final_nh(), i, plen;
	size_t off = IPV6_HDR_LEN, l4;

	for (i = 0; i < n; i++)
		types[i] = ext_types[below(8)];
	/* Hop-by-hop belongs first; make that the common case. */
	if (n && chance(30))
		types[0] = 0;

	fill_random(ip, IPV6_HDR_LEN);
	ip[0] = (uint8_t)((chance(97) ? 6 : below(16)) << 4 | (ip[0] & 0x0f));
	ip[6] = (uint8_t)(n ? types[0] : final);
	pick_addr(6, ip + 8, T_SUB);
	pick_addr(6, ip + 24, T_RELAY);
	mark(g, o);
	mark(g, o + 8);
	mark(g, o + IPV6_HDR_LEN);

	for (i = 0; i < n; i++)
		off += build_ext(g, o + off, types[i],
				 i + 1 < n ? types[i + 1] : final);
	if (final == IPPROTO_TCP)
		l4 = build_tcp(g, o + off);
	else
		l4 = build_other_l4(g, o + off);

	plen = (unsigned int)(off - IPV6_HDR_LEN + l4);
	switch (below(20)) {
	case 0:
		plen = 0;		/* a jumbogram when hop-by-hop leads */
		break;
	case 1:
		plen = below(65536);
		break;
	case 2:
		plen += 1 + below(8);
		break;
	case 3:
		plen = plen > 8 ? plen - 1 - below(8) : 0;
		break;
	case 4:
		plen = below(plen + 1);
		break;
	default:
		break;
	}
	put16(ip + 4, plen);
	if (final == IPPROTO_TCP && IPV6_HDR_LEN + plen >= off)
		maybe_partial(ip + off, ip + 8, 16, IPV6_HDR_LEN + plen - off);
	return off + l4;
}

static size_t build_ip(struct gen *g, size_t o, int family)
{
	if (family == 4)
		return build_ipv4(g, o);
	if (family == 6)
		return build_ipv6(g, o);
	return build_other_l4(g, o);
}

/* 4, 6, or 0 for something that is not IP at all. */
static int pick_family(void)
{
	unsigned int r = below(100);

	return r < 45 ? 4 : (r < 90 ? 6 : 0);
}

static unsigned int pick_tpid(void)
{
	static const unsigned int tpid[] = { ETH_P_8021Q, ETH_P_8021AD,
					     ETH_P_QINQ1 };

	return tpid[below(3)];
}

static unsigned int pick_other_ethertype(void)
{
	static const unsigned int other[] = {
		0x0806, 0x8863, 0x88cc, 0x8847, 0x0842, 0x86dc, 0x0801,
		0x8865, 0x0000, 0xffff,
	};

	return chance(70) ? other[below(10)] : below(65536);
}

/* Header words naming a family; rarely the other family's, to lie. */
static unsigned int family_ethertype(int family)
{
	if (chance(4))
		family = family == 4 ? 6 : 4;
	return family == 4 ? ETH_P_IP : ETH_P_IPV6;
}

static unsigned int family_ppp(int family)
{
	static const unsigned int other[] = { 0xc021, 0x8021, 0x8057,
					      0x2100, 0x5700, 0x0023 };

	if (family == 0 || chance(5))
		return chance(70) ? other[below(6)] : below(65536);
	if (chance(4))
		family = family == 4 ? 6 : 4;
	return family == 4 ? PPP_IP : PPP_IPV6;
}

static size_t build_l2(struct gen *g)
{
	unsigned int tags, i, r = below(100);
	int family = pick_family();
	size_t off = 12;

	fill_random(g->b, 12);
	tags = r < 50 ? 0 : (r < 70 ? 1 : (r < 90 ? 2 : 3));
	for (i = 0; i < tags; i++) {
		put16(g->b + off, pick_tpid());
		put16(g->b + off + 2, below(65536));
		mark(g, off);
		off += 4;
	}
	mark(g, off);

	if (chance(30)) {
		/* PPPoE: session mostly, sometimes discovery */
		size_t pppoe;

		put16(g->b + off, chance(90) ? ETH_P_PPP_SES : ETH_P_PPP_DISC);
		off += 2;
		pppoe = off;
		mark(g, off);
		g->b[off] = chance(90) ? PPPOE_VER_TYPE : (uint8_t)rnd();
		g->b[off + 1] = chance(90) ? 0 : (uint8_t)rnd();
		put16(g->b + off + 2, below(65536));
		put16(g->b + off + 6, family_ppp(family));
		off += 8;
		mark(g, off);
		off += build_ip(g, off, family);
		/* The length field is untrusted: right or wrong, no matter. */
		put16(g->b + pppoe + 4,
		      chance(70) ? (unsigned int)(off - pppoe - 6) :
				   below(65536));
		return off;
	}

	if (family == 0) {
		put16(g->b + off, pick_other_ethertype());
		off += 2;
		return off + build_other_l4(g, off);
	}
	put16(g->b + off, family_ethertype(family));
	off += 2;
	mark(g, off);
	return off + build_ip(g, off, family);
}

static size_t build_l3(struct gen *g)
{
	int family = pick_family();

	if (family == 0) {
		size_t len = build_other_l4(g, 0);

		g->b[0] = (uint8_t)(below(16) << 4 | (g->b[0] & 0x0f));
		return len;
	}
	return build_ip(g, 0, family);
}

static void mutate(struct gen *g)
{
	unsigned int n = 1 + below(4), i;

	for (i = 0; i < n; i++) {
		size_t pos;

		/* Headers are where parsing decisions are made. */
		if (chance(75) && g->len > 0)
			pos = below(g->len < 100 ? (unsigned int)g->len : 100);
		else
			pos = below((unsigned int)g->len);
		if (chance(50))
			g->b[pos] ^= (uint8_t)(1u << below(8));
		else
			g->b[pos] = (uint8_t)rnd();
	}
}

static void truncate_pkt(struct gen *g)
{
	size_t cut;

	if (g->nmark && chance(70)) {
		size_t m = g->mark[below((unsigned int)g->nmark)];

		cut = m + below(9);
		cut = cut > 4 ? cut - 4 : 0;
	} else {
		cut = 1 + below((unsigned int)g->len);
	}
	if (cut < g->len)
		g->len = cut;
}

void gen_packet(struct gen *g)
{
	g->nmark = 0;
	g->l3 = chance(25);
	g->len = g->l3 ? build_l3(g) : build_l2(g);

	/* Ethernet padding or trailing junk past the IP datagram. */
	if (chance(15)) {
		size_t pad = below(48);

		fill_random(g->b + g->len, pad);
		g->len += pad;
	}
	if (g->len > PKT_MAX)
		g->len = PKT_MAX;
	if (chance(30))
		mutate(g);
	if (chance(30))
		truncate_pkt(g);
	if (g->len < ETH_HLEN) {
		fill_random(g->b + g->len, ETH_HLEN - g->len);
		g->len = ETH_HLEN;
	}
}
