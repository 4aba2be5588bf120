// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reference model of the op25b datapath: see oracle.h. Written to be read
 * next to the spec, one rule at a time, with no attempt at speed.
 */
#include <string.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <linux/if_ether.h>
#include <linux/ppp_defs.h>

#include "oracle.h"

/* Sizes and numbers the spec names; the rest come from system headers. */
#define VLAN_TAG_LEN		4
#define PPPOE_HDR_LEN		6
#define PPP_PROTO_LEN		2
#define PPPOE_VER_TYPE		0x11
#define IPV4_MIN_LEN		20
#define IPV6_HDR_LEN		40
#define IPV6_FRAG_HDR_LEN	8
#define TCP_MIN_LEN		20
#define BIG_TCP_MIN		65535	/* longer than a length field holds */
#define ETH_ALEN_		6
/* What reject.h writes: TTL / hop limit, and the PPPoE length's place. */
#define RST_TTL			OP25B_RST_TTL
#define PPPOE_LEN_OFF		4
/* RFC 7401 and RFC 5533; libc has no names for them. */
#define NEXTHDR_HIP		139
#define NEXTHDR_SHIM6		140

static unsigned int get16(const uint8_t *b)
{
	return (unsigned int)b[0] << 8 | b[1];
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)get16(b) << 16 | get16(b + 2);
}

static void put16(uint8_t *b, unsigned int v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b + 2, v & 0xffff);
}

/*
 * Where the IP header starts and which family it is; 0 when not IP. pppoe:
 * where the PPPoE header is, 0 when there is none.
 */
struct l3_start {
	int family;
	size_t off;
	size_t pppoe;
};

static bool is_vlan_tpid(unsigned int type)
{
	return type == ETH_P_8021Q || type == ETH_P_8021AD ||
	       type == ETH_P_QINQ1;
}

static struct l3_start parse_l2(const uint8_t *pkt, size_t len)
{
	struct l3_start none = { 0, 0, 0 };
	size_t off = ETH_HLEN;
	unsigned int type;
	int tags = 0;

	if (len < ETH_HLEN)
		return none;
	type = get16(pkt + 12);

	while (is_vlan_tpid(type)) {
		if (tags == OP25B_VLAN_MAX)
			return none;
		if (len - off < VLAN_TAG_LEN)
			return none;
		type = get16(pkt + off + 2);
		off += VLAN_TAG_LEN;
		tags++;
	}

	if (type == ETH_P_PPP_SES) {
		size_t pppoe = off;
		unsigned int proto;

		if (len - off < PPPOE_HDR_LEN + PPP_PROTO_LEN)
			return none;
		if (pkt[off] != PPPOE_VER_TYPE || pkt[off + 1] != 0)
			return none;
		proto = get16(pkt + off + PPPOE_HDR_LEN);
		off += PPPOE_HDR_LEN + PPP_PROTO_LEN;
		if (proto == PPP_IP)
			return (struct l3_start){ 4, off, pppoe };
		if (proto == PPP_IPV6)
			return (struct l3_start){ 6, off, pppoe };
		return none;
	}
	if (type == ETH_P_IP)
		return (struct l3_start){ 4, off, 0 };
	if (type == ETH_P_IPV6)
		return (struct l3_start){ 6, off, 0 };
	return none;
}

static struct l3_start parse_l3(const uint8_t *pkt, size_t len)
{
	struct l3_start none = { 0, 0, 0 };

	if (len < 1)
		return none;
	if (pkt[0] >> 4 == 4)
		return (struct l3_start){ 4, 0, 0 };
	if (pkt[0] >> 4 == 6)
		return (struct l3_start){ 6, 0, 0 };
	return none;
}

/*
 * Which piece of its datagram an IPv4 packet is, from RFC 791's fragment
 * offset (in bytes here) and More Fragments: the piece at byte 8 is the
 * one RFC 1858's overlapping attack writes the TCP flags with.
 */
enum ipv4_piece {
	PIECE_WHOLE,		/* no fragment: the datagram itself */
	PIECE_HEAD,		/* at byte 0, more to come */
	PIECE_AT_8,		/* at byte 8: RFC 1858 */
	PIECE_LATER,		/* past byte 8: its head is judged */
};

static enum ipv4_piece ipv4_piece_of(unsigned int offset_bytes, bool more)
{
	if (offset_bytes == 8)
		return PIECE_AT_8;
	if (offset_bytes > 8)
		return PIECE_LATER;
	return more ? PIECE_HEAD : PIECE_WHOLE;
}

/* A whole TCP header: its destination port decides. */
#define BY_PORT		(-1)

/*
 * The class of a piece carrying TCP, as doc/DESIGN.md words RFC 1858 and
 * RFC 3128, by whether the bytes after its IP header hold a full 20-byte
 * TCP header ([1]) or not ([0]).
 */
static const int ipv4_piece_class[][2] = {
	[PIECE_WHOLE]	= { OP25B_C_MALFORMED, BY_PORT },
	/* a head without the whole TCP header: RFC 3128's tiny fragment */
	[PIECE_HEAD]	= { OP25B_C_EVASION, BY_PORT },
	[PIECE_AT_8]	= { OP25B_C_EVASION, OP25B_C_EVASION },
	[PIECE_LATER]	= { OP25B_C_PASS, OP25B_C_PASS },
};

/*
 * ip points at the IPv4 header, len bytes from there to the frame's end.
 * For class SMTP, *tcp and *end get where the TCP header starts and the
 * datagram ends, from ip.
 */
static int classify_ipv4(const struct oracle_policy *p, const uint8_t *ip,
			 size_t len, size_t *tcp, size_t *end)
{
	unsigned int ihl_bytes, total, flags_frag;
	enum ipv4_piece piece;
	int cls;

	if (len < IPV4_MIN_LEN)
		return OP25B_C_PASS;
	ihl_bytes = (ip[0] & 0x0f) * 4;
	total = get16(ip + 2);
	/* BIG TCP: a kernel-built super-packet over 64 KiB says 0 */
	if (total == 0 && len > BIG_TCP_MIN)
		total = len;
	if (ip[0] >> 4 != 4 || ihl_bytes < IPV4_MIN_LEN ||
	    total < ihl_bytes || total > len)
		return OP25B_C_MALFORMED;
	if (ip[9] != IPPROTO_TCP)
		return OP25B_C_PASS;

	flags_frag = get16(ip + 6);
	piece = ipv4_piece_of((flags_frag & IP_OFFMASK) * 8,
			      flags_frag & IP_MF);
	cls = ipv4_piece_class[piece][total - ihl_bytes >= TCP_MIN_LEN];
	if (cls != BY_PORT)
		return cls;
	*tcp = ihl_bytes;
	*end = total;
	if (p->port_blocked[get16(ip + ihl_bytes + 2)])
		return OP25B_C_SMTP;
	return OP25B_C_PASS;
}

/*
 * The extension headers the spec walks (doc/DESIGN.md), by IANA's IPv6
 * Extension Header Types numbers; ESP is not among them: it passes.
 */
static const uint8_t ipv6_ext_types[] = {
	IPPROTO_HOPOPTS,	/* 0 */
	IPPROTO_ROUTING,	/* 43 */
	IPPROTO_FRAGMENT,	/* 44 */
	IPPROTO_AH,		/* 51 */
	IPPROTO_DSTOPTS,	/* 60 */
	IPPROTO_MH,		/* 135 */
	NEXTHDR_HIP,		/* 139 */
	NEXTHDR_SHIM6,		/* 140 */
};

static bool ipv6_is_ext(unsigned int nh)
{
	return memchr(ipv6_ext_types, (int)nh, sizeof(ipv6_ext_types)) != NULL;
}

static int classify_ipv6(const struct oracle_policy *p, const uint8_t *ip,
			 size_t len, size_t *tcp, size_t *tcp_end)
{
	size_t end, off = IPV6_HDR_LEN;
	bool first_frag = false;
	unsigned int plen, nh;
	int walked = 0;

	if (len < IPV6_HDR_LEN)
		return OP25B_C_PASS;
	plen = get16(ip + 4);
	if (ip[0] >> 4 != 6 || IPV6_HDR_LEN + plen > len)
		return OP25B_C_MALFORMED;
	nh = ip[6];
	/*
	 * A jumbogram's length is in a hop-by-hop option, a BIG TCP
	 * super-packet's nowhere: trust the frame.
	 */
	if (plen == 0 && (nh == IPPROTO_HOPOPTS ||
			  len - IPV6_HDR_LEN > BIG_TCP_MIN))
		end = len;
	else
		end = IPV6_HDR_LEN + plen;

	while (ipv6_is_ext(nh)) {
		size_t hlen;
		bool fits;

		if (walked == OP25B_IPV6_EXT_MAX)
			return OP25B_C_UNDECIDABLE;
		walked++;

		if (nh == IPPROTO_FRAGMENT) {
			fits = end - off >= IPV6_FRAG_HDR_LEN;
			hlen = IPV6_FRAG_HDR_LEN;
		} else if (end - off < 2) {
			fits = false;
			hlen = 0;
		} else {
			if (nh == IPPROTO_AH)
				hlen = ((size_t)ip[off + 1] + 2) * 4;
			else
				hlen = ((size_t)ip[off + 1] + 1) * 8;
			fits = end - off >= hlen;
		}
		/*
		 * Inside a first fragment the rest may simply be in the next
		 * fragment; anywhere else the datagram lies about itself.
		 */
		if (!fits)
			return first_frag ? OP25B_C_UNDECIDABLE :
					    OP25B_C_MALFORMED;

		if (nh == IPPROTO_FRAGMENT) {
			unsigned int fo = get16(ip + off + 2) >> 3;
			bool more = get16(ip + off + 2) & 1;

			if (fo == 1 && ip[off] == IPPROTO_TCP)
				return OP25B_C_EVASION;
			if (fo != 0)
				return OP25B_C_PASS;
			/* Once inside a first fragment, later headers are too. */
			if (more)
				first_frag = true;
		}
		nh = ip[off];
		off += hlen;
	}

	if (nh != IPPROTO_TCP)
		return OP25B_C_PASS;
	if (end - off < TCP_MIN_LEN)
		return first_frag ? OP25B_C_EVASION : OP25B_C_MALFORMED;
	*tcp = off;
	*tcp_end = end;
	if (p->port_blocked[get16(ip + off + 2)])
		return OP25B_C_SMTP;
	return OP25B_C_PASS;
}

void oracle_policy_init(struct oracle_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->action = OP25B_ACT_DROP;
}

static bool same_prefix(const struct oracle_rule *r, int family,
			const uint8_t *addr, unsigned int plen)
{
	return r->family == family && r->plen == plen &&
	       !memcmp(r->addr, addr, family == 4 ? 4 : 16);
}

int oracle_find_rule(const struct oracle_table *t, int family,
		     const uint8_t *addr, unsigned int plen)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (same_prefix(&t->rule[i], family, addr, plen))
			return i;
	return -1;
}

int oracle_set_rule(struct oracle_table *t, int family, const uint8_t *addr,
		    unsigned int plen, unsigned int verdict)
{
	struct oracle_rule *r;
	int i;

	if ((family != 4 && family != 6) || plen > (family == 4 ? 32u : 128u))
		return -1;
	i = oracle_find_rule(t, family, addr, plen);
	if (i >= 0) {
		t->rule[i].verdict = verdict;
		return 0;
	}
	if (t->n == ORACLE_RULES_MAX)
		return -1;
	r = &t->rule[t->n++];
	memset(r, 0, sizeof(*r));
	r->family = family;
	memcpy(r->addr, addr, family == 4 ? 4 : 16);
	r->plen = plen;
	r->verdict = verdict;
	return 1;
}

int oracle_del_rule(struct oracle_table *t, int family, const uint8_t *addr,
		    unsigned int plen)
{
	int i = oracle_find_rule(t, family, addr, plen);

	if (i < 0)
		return 0;
	t->rule[i] = t->rule[--t->n];
	return 1;
}

/* Whole bytes first, then the bits of the last partial byte. */
static bool prefix_covers(const struct oracle_rule *r, const uint8_t *addr)
{
	unsigned int bytes = r->plen / 8, rest = r->plen % 8;
	unsigned int mask = (0xff00u >> rest) & 0xff;

	if (memcmp(r->addr, addr, bytes))
		return false;
	return !rest || !((r->addr[bytes] ^ addr[bytes]) & mask);
}

int oracle_match(const struct oracle_table *t, int family,
		 const uint8_t *addr)
{
	int i, best = -1;

	for (i = 0; i < t->n; i++) {
		const struct oracle_rule *r = &t->rule[i];

		if (r->family != family || !prefix_covers(r, addr))
			continue;
		if (best < 0 || r->plen > t->rule[best].plen)
			best = i;
	}
	return best;
}

unsigned int oracle_lookup(const struct oracle_table *t, int family,
			   const uint8_t *addr)
{
	int i = oracle_match(t, family, addr);

	return i < 0 ? OP25B_V_NONE : t->rule[i].verdict;
}

/*
 * doc/DESIGN.md: a rule's hits count the packets it decided a lookup for: the
 * source's best match, and the destination's when the source is denied.
 */
void oracle_hit(struct oracle_policy *p, const struct oracle_result *r,
		bool l3)
{
	if (r->sub_rule >= 0)
		p->subscriber.rule[r->sub_rule].hits[l3]++;
	if (r->relay_rule >= 0)
		p->relay.rule[r->relay_rule].hits[l3]++;
}

struct oracle_result oracle_judge(const struct oracle_policy *p, bool l3,
				  const uint8_t *pkt, size_t len)
{
	struct oracle_result res = { .cls = OP25B_C_PASS,
				     .judgement = ORACLE_J_NONE,
				     .sub_rule = -1, .relay_rule = -1 };
	struct l3_start s = l3 ? parse_l3(pkt, len) : parse_l2(pkt, len);
	const uint8_t *ip = pkt + s.off, *src, *dst;
	size_t ip_len = len - s.off, tcp = 0, end = 0;
	unsigned int sub = OP25B_V_NONE, relay = OP25B_V_NONE;

	if (s.family == 4)
		res.cls = classify_ipv4(p, ip, ip_len, &tcp, &end);
	else if (s.family == 6)
		res.cls = classify_ipv6(p, ip, ip_len, &tcp, &end);
	if (res.cls == OP25B_C_PASS)
		return res;
	res.family = s.family;
	res.l3off = s.off;
	res.pppoe = s.pppoe;
	res.l4off = s.off + tcp;
	res.end = s.off + end;

	/* Every judged class carries a whole fixed IP header: addresses. */
	src = ip + (s.family == 4 ? 12 : 8);
	dst = ip + (s.family == 4 ? 16 : 24);
	res.sub_rule = oracle_match(&p->subscriber, s.family, src);
	if (res.sub_rule >= 0)
		sub = p->subscriber.rule[res.sub_rule].verdict;
	/* the destination matters, and is looked up, for a denied source only */
	if (sub == OP25B_V_DENY) {
		res.relay_rule = oracle_match(&p->relay, s.family, dst);
		if (res.relay_rule >= 0)
			relay = p->relay.rule[res.relay_rule].verdict;
	}
	if (sub == OP25B_V_ALLOW) {
		res.judgement = ORACLE_J_EXEMPT;
	} else if (sub != OP25B_V_DENY) {
		res.judgement = ORACLE_J_NOT_SUBSCRIBER;
	} else if (relay == OP25B_V_ALLOW) {
		res.judgement = ORACLE_J_RELAY;
	} else if (p->action == OP25B_ACT_MONITOR) {
		res.judgement = ORACLE_J_MONITORED;
	} else if (p->action == OP25B_ACT_LIMIT && res.cls == OP25B_C_SMTP) {
		/* a TCP segment: whether it passes is oracle_limit's to say */
		res.judgement = ORACLE_J_LIMIT;
	} else {
		res.judgement = ORACLE_J_BLOCKED;
		res.drop = true;
	}
	return res;
}

/*
 * Action limit, restated: a source is an IPv4 address or the first
 * prefix6 bits of an IPv6 one. A new connection (SYN set, ACK clear)
 * takes a token if its source has one; tokens come back one every
 * interval_ns, up to burst, and a source never seen has all of them. A
 * new connection without a token is blocked, and with a quarantine term
 * puts its source in quarantine until quarantine_ns after this excess.
 * In quarantine, every segment is blocked. Outside it, segments that are
 * not new connections pass. Blocked means the limit's 'then'.
 */
static struct oracle_source *source_of(struct oracle_limiter *lm, int family,
				       const uint8_t *key, uint64_t now,
				       uint64_t full)
{
	struct oracle_source *s;
	int i;

	for (i = 0; i < lm->n; i++) {
		s = &lm->src[i];
		if (s->family == family && !memcmp(s->key, key, 16))
			return s;
	}
	if (lm->n == ORACLE_SOURCES_MAX)
		return NULL;
	s = &lm->src[lm->n++];
	memset(s, 0, sizeof(*s));
	s->family = family;
	memcpy(s->key, key, 16);
	s->credit_ns = full;
	s->last_ns = now;
	return s;
}

void oracle_limit(struct oracle_limiter *lm, const struct oracle_policy *p,
		  struct oracle_result *r, const uint8_t *pkt, uint64_t now)
{
	const struct oracle_limit *l = &p->limit;
	uint64_t full = (uint64_t)l->burst * l->interval_ns, gained;
	const uint8_t *ip = pkt + r->l3off;
	struct oracle_source *s;
	uint8_t key[16] = { 0 };
	unsigned int b;
	bool syn, in_q;

	if (r->judgement != ORACLE_J_LIMIT)
		return;
	syn = (pkt[r->l4off + 13] & (TH_SYN | TH_ACK)) == TH_SYN;
	if (r->family == 4) {
		memcpy(key, ip + 12, 4);
	} else {
		memcpy(key, ip + 8, 16);
		for (b = l->prefix6; b < 128; b++)
			key[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	}
	s = source_of(lm, r->family, key, now, full);
	if (!s) {
		/* cannot happen in the fuzzer's runs; blocked, visibly */
		r->judgement = ORACLE_J_BLOCKED;
		r->drop = true;
		return;
	}
	/* time runs forward in the fuzzer: the credit only grows with it */
	gained = now - s->last_ns;
	s->credit_ns = full - s->credit_ns < gained ? full : s->credit_ns + gained;
	s->last_ns = now;
	in_q = s->quarantined && (int64_t)(s->until_ns - now) > 0;
	if (syn && s->credit_ns >= l->interval_ns) {
		/* a token taken, even in quarantine, where it is blocked */
		s->credit_ns -= l->interval_ns;
		r->limited = in_q ? ORACLE_L_QUARANTINED : ORACLE_L_NONE;
	} else if (syn) {
		r->limited = ORACLE_L_EXCEEDED;
		if (l->quarantine_ns) {
			/* from this excess on, whether it was in or not */
			s->until_ns = now + l->quarantine_ns;
			r->quarantines = !in_q;
			s->quarantined = true;
		}
	} else {
		r->limited = in_q ? ORACLE_L_QUARANTINED : ORACLE_L_NONE;
	}
	if (r->limited) {
		r->judgement = ORACLE_J_BLOCKED;
		r->drop = true;
	} else {
		r->judgement = ORACLE_J_LIMIT_PASSED;
	}
}

/* RFC 1071: the 16-bit words of b added to sum, not folded. */
static uint32_t sum16(uint32_t sum, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += get16(b + i);
	return sum;
}

static unsigned int fold16(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/*
 * The TCP pseudo-header's sum, addresses at a (source then destination,
 * as both families lay them out), for a segment of seg bytes.
 */
static uint32_t pseudo_sum(int family, const uint8_t *a, size_t seg)
{
	return sum16(0, a, family == 4 ? 8 : 32) + IPPROTO_TCP +
	       (uint32_t)(seg >> 16) + (uint32_t)(seg & 0xffff);
}

/*
 * bpf/reject.h's rules, restated: only a blocked SMTP-class segment
 * without RST is answered; under tc, a checksum field holding the bare
 * pseudo-header sum is a CHECKSUM_PARTIAL skb's and is answered in kind,
 * unless the TCP header would move (IPv4 options, IPv6 extension headers).
 */
bool oracle_rst(const struct oracle_policy *p, const struct oracle_result *r,
		bool l3, bool skb, const uint8_t *pkt, struct oracle_rst *out)
{
	size_t l3off = r->l3off, iph, t, seg, doff, payload;
	const uint8_t *tcp = pkt + r->l4off;
	const uint8_t *addrs;
	uint8_t *ip, flags;
	uint32_t sum;

	memset(out, 0, sizeof(*out));
	if (!r->drop || r->cls != OP25B_C_SMTP ||
	    (p->action != OP25B_ACT_REJECT &&
	     (p->action != OP25B_ACT_LIMIT || p->limit.then != OP25B_ACT_REJECT)))
		return false;
	flags = tcp[13];
	if (flags & TH_RST)
		return false;
	iph = r->family == 4 ? IPV4_MIN_LEN : IPV6_HDR_LEN;
	addrs = pkt + l3off + (r->family == 4 ? 12 : 8);
	seg = r->end - r->l4off;
	out->partial = skb && get16(tcp + 16) == fold16(pseudo_sum(r->family,
								   addrs, seg));
	out->moved = r->l4off != l3off + iph;
	if (out->partial && out->moved)
		return false;
	doff = (size_t)(tcp[12] >> 4) * 4;
	payload = doff >= TCP_MIN_LEN && doff <= seg ? seg - doff : 0;
	if (!(flags & TH_ACK))
		payload += !!(flags & TH_SYN) + !!(flags & TH_FIN);

	/* L2 as it was, MACs swapped, the PPPoE length the new one */
	out->len = l3off + iph + TCP_MIN_LEN;
	memcpy(out->b, pkt, l3off);
	if (!l3) {
		memcpy(out->b, pkt + ETH_ALEN_, ETH_ALEN_);
		memcpy(out->b + ETH_ALEN_, pkt, ETH_ALEN_);
	}
	if (r->pppoe)
		put16(out->b + r->pppoe + PPPOE_LEN_OFF,
		      (unsigned int)(PPP_PROTO_LEN + iph + TCP_MIN_LEN));

	ip = out->b + l3off;
	if (r->family == 4) {
		ip[0] = 4 << 4 | IPV4_MIN_LEN / 4;
		put16(ip + 2, IPV4_MIN_LEN + TCP_MIN_LEN);
		put16(ip + 6, IP_DF);
		ip[8] = RST_TTL;
		ip[9] = IPPROTO_TCP;
		memcpy(ip + 12, addrs + 4, 4);
		memcpy(ip + 16, addrs, 4);
		put16(ip + 10, ~fold16(sum16(0, ip, IPV4_MIN_LEN)) & 0xffff);
	} else {
		ip[0] = 6 << 4;
		put16(ip + 4, TCP_MIN_LEN);
		ip[6] = IPPROTO_TCP;
		ip[7] = RST_TTL;
		memcpy(ip + 8, addrs + 16, 16);
		memcpy(ip + 24, addrs, 16);
	}

	/* RFC 9293 3.10.7.1 */
	t = l3off + iph;
	put16(out->b + t, get16(tcp + 2));
	put16(out->b + t + 2, get16(tcp));
	if (flags & TH_ACK) {
		put32(out->b + t + 4, get32(tcp + 8));
		out->b[t + 13] = TH_RST;
	} else {
		put32(out->b + t + 8, get32(tcp + 4) + (uint32_t)payload);
		out->b[t + 13] = TH_RST | TH_ACK;
	}
	out->b[t + 12] = TCP_MIN_LEN / 4 << 4;
	sum = pseudo_sum(r->family, ip + (r->family == 4 ? 12 : 8),
			 TCP_MIN_LEN);
	if (out->partial)
		put16(out->b + t + 16, fold16(sum));
	else
		put16(out->b + t + 16,
		      ~fold16(sum16(sum, out->b + t, TCP_MIN_LEN)) & 0xffff);
	out->answer = true;
	return true;
}

void oracle_count(const struct oracle_result *r, bool answered,
		  struct op25b_stats *s)
{
	/* the counter of each class, then of each judgement; NULL: none */
	__u64 *const by_class[] = {
		[OP25B_C_SMTP] = &s->smtp,
		[OP25B_C_EVASION] = &s->evasion,
		[OP25B_C_UNDECIDABLE] = &s->undecidable,
		[OP25B_C_MALFORMED] = &s->malformed,
	};
	__u64 *const by_judgement[ORACLE_J_COUNT] = {
		[ORACLE_J_NOT_SUBSCRIBER] = &s->not_subscriber,
		[ORACLE_J_EXEMPT] = &s->exempt,
		[ORACLE_J_RELAY] = &s->relay,
		[ORACLE_J_BLOCKED] = &s->blocked,
		[ORACLE_J_MONITORED] = &s->monitored,
		[ORACLE_J_LIMIT_PASSED] = &s->limit_passed,
	};

	if (r->cls < 0 || r->cls > OP25B_C_MALFORMED || !by_class[r->cls])
		return;
	++*by_class[r->cls];
	if (r->judgement >= 0 && r->judgement < ORACLE_J_COUNT &&
	    by_judgement[r->judgement])
		++*by_judgement[r->judgement];
	if (r->judgement == ORACLE_J_BLOCKED) {
		if (answered)
			s->rejected++;
		if (r->limited == ORACLE_L_EXCEEDED)
			s->limit_exceeded++;
		else if (r->limited == ORACLE_L_QUARANTINED)
			s->quarantined++;
	}
	s->quarantines += r->quarantines;
}

const char *oracle_class_name(int cls)
{
	switch (cls) {
	case OP25B_C_PASS:
		return "pass";
	case OP25B_C_SMTP:
		return "smtp";
	case OP25B_C_EVASION:
		return "evasion";
	case OP25B_C_UNDECIDABLE:
		return "undecidable";
	case OP25B_C_MALFORMED:
		return "malformed";
	}
	return "?";
}

const char *oracle_judgement_name(int j)
{
	static const char *const names[] = {
#define ORACLE_J(name, word)	[ORACLE_J_##name] = word,
		ORACLE_JUDGEMENTS(ORACLE_J)
#undef ORACLE_J
	};

	if (j < 0 || j >= ORACLE_J_COUNT)
		return "?";
	return names[j];
}
