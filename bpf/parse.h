/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounds-checked L2/L3/L4 parsing for the op25b datapath.
 *
 * The parser classifies a frame; it never judges it. The rules, which
 * tests/fuzz/oracle.c restates independently, are:
 *
 * L2 (Ethernet devices): fewer than 14 bytes: PASS. Up to OP25B_VLAN_MAX
 *   tags of TPID 0x8100, 0x88a8 or 0x9100 in any order (a tag the tc hook
 *   found already stripped into skb->vlan_tci counts as one); a further tag,
 *   or a tag cut short: PASS. PPPoE session (0x8864): 6-byte header with
 *   ver/type 0x11 and code 0, then a 2-byte PPP protocol: 0x0021 IPv4,
 *   0x0057 IPv6, anything else (or a short header): PASS. The PPPoE length
 *   field is not trusted; the IP header's lengths are. Ethertype 0x0800 is
 *   IPv4, 0x86dd is IPv6, anything else PASS.
 * L3 devices: the IP version nibble picks IPv4 or IPv6; other nibbles PASS.
 *
 * "len" below is the packet's true length from the IP header on; reading
 *   past it is never done. Fewer than 20 (IPv4) or 40 (IPv6) bytes: PASS
 *   (there is no address to judge, and no stack accepts it).
 * IPv4: a total length of 0 when len is over 65535 is a BIG TCP GSO/GRO
 *   super-packet (only the kernel makes those): its length is len. Then
 *   version != 4, IHL < 5, total length < IHL*4 or > len: MALFORMED.
 *   Protocol other than TCP: PASS. Fragment offset 1: EVASION; offset > 1:
 *   PASS. TCP payload (total length - IHL*4) < 20: EVASION when MF is set,
 *   MALFORMED otherwise. Else destination port in the blocked set: SMTP,
 *   otherwise PASS (the decision core asks the snapshot's port set).
 * IPv6: version != 6 or 40 + payload length > len: MALFORMED. The datagram
 *   ends at 40 + payload length, or at len for a payload length of 0 with
 *   a hop-by-hop header (a jumbogram) or with len - 40 over 65535 (a BIG
 *   TCP super-packet without one). Walk the chain from the IPv6 next
 *   header: hop-by-hop (0), routing (43), fragment (44), destination options
 *   (60), mobility (135), HIP (139), shim6 (140): (hdrlen + 1) * 8 bytes;
 *   AH (51): (hdrlen + 2) * 4 bytes; fragment: 8 bytes. A header that does
 *   not fit in the datagram: UNDECIDABLE inside a first fragment, MALFORMED
 *   otherwise. Fragment header with offset 1 and next header TCP: EVASION;
 *   any other non-zero offset: PASS; offset 0 with M set starts a first
 *   fragment; offset 0 without M (atomic fragment) is walked through. After
 *   OP25B_IPV6_EXT_MAX headers a further extension header is UNDECIDABLE.
 *   TCP: fewer than 20 bytes left: EVASION in a first fragment, MALFORMED
 *   otherwise; else blocked port: SMTP, otherwise PASS. ESP (50), no next
 *   header (59) and anything else: PASS.
 * A header past the IP header that lies within len but beyond what the
 *   program can read (a paged skb on tc): UNDECIDABLE. An L2 or IP header
 *   that cannot be read (only when tc's pull of OP25B_PULL_LEN bytes fails
 *   for memory): PASS, as there is no address to judge by.
 */
#ifndef OP25B_PARSE_H
#define OP25B_PARSE_H

#include <linux/types.h>
#include <linux/if_ether.h>	/* ETH_HLEN, ETH_P_* */
#include <linux/in.h>		/* IPPROTO_TCP */
#include <linux/ppp_defs.h>	/* PPP_IP, PPP_IPV6 */
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "op25b.h"

/* RFC 2516: PPPoE version 1, type 1, in one byte. */
#define PPPOE_VER_TYPE		0x11
#define NH_HOP			0
#define NH_ROUTING		43
#define NH_FRAGMENT		44
#define NH_AH			51
#define NH_DSTOPTS		60
#define NH_MOBILITY		135
#define NH_HIP			139
#define NH_SHIM6		140

#define TCP_MIN_HLEN		20
#define IPV4_MIN_HLEN		20
#define IPV6_HLEN		40
#define IPV6_EXT_MIN		8
#define IP_MAX_LEN		0xffff	/* a 16-bit length field's reach */

/* Largest offset read from; keeps packet pointer arithmetic verifiable. */
#define OP25B_MAX_OFF		0x3fff

struct op25b_pkt {
	__u32 l3off;		/* where the IP header starts */
	__u32 l3end;		/* where the IP datagram ends */
	__u32 l4off;		/* where the TCP header starts, once read */
	__u16 dport;		/* host order; 0 when no TCP header was read */
	__u16 sport;
	__u8  family;		/* 4 or 6; 0 when no IP header was read */
	__u8  nvlan;
	__u16 vlan[OP25B_VLAN_MAX];
	__u16 pppoe_sid;
	__u8  pppoe;		/* a PPPoE session header precedes IP */
};

struct op25b_cursor {
	void *data;
	void *data_end;
	__u32 len;		/* true packet length from data on */
};

/* n bytes at off, or NULL when they cannot be read directly. */
static __always_inline void *ptr_at(const struct op25b_cursor *c, __u32 off,
				    __u32 n)
{
	void *p;

	if (off > OP25B_MAX_OFF)
		return NULL;
	p = c->data + off;
	if (p + n > c->data_end)
		return NULL;
	return p;
}

static __always_inline int is_vlan_tpid(__u16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) ||
	       proto == bpf_htons(ETH_P_8021AD) ||
	       proto == bpf_htons(ETH_P_QINQ1);
}

static __always_inline int port_blocked(const struct op25b_config *cfg,
					__u16 port)
{
	return (cfg->ports[(port >> 6) & (OP25B_PORT_WORDS - 1)] >>
		(port & 63)) & 1;
}

/*
 * The parser's own answer for a TCP header it could read: the blocked-port
 * set belongs to the policy snapshot, so the decision core, not the parser,
 * turns it into OP25B_C_SMTP or OP25B_C_PASS. Never leaves the datapath.
 */
#define OP25B_C_TCP		5

/*
 * Walk Ethernet, VLAN and PPPoE headers. Returns the IP ethertype (network
 * order) with *off at the IP header, or 0 to pass the frame.
 */
static __always_inline __u16 parse_l2(const struct op25b_cursor *c,
				      struct op25b_pkt *pkt, __u32 *off)
{
	__u8 *eth, *tag, *ph;
	__u16 proto, ppp;
	int i;

	eth = ptr_at(c, 0, ETH_HLEN);
	if (!eth)
		return 0;
	proto = *(__u16 *)(eth + 12);
	*off = ETH_HLEN;

#pragma unroll
	for (i = 0; i < OP25B_VLAN_MAX; i++) {
		if (!is_vlan_tpid(proto))
			break;
		if (pkt->nvlan >= OP25B_VLAN_MAX)
			return 0;
		tag = ptr_at(c, *off, 4);
		if (!tag)
			return 0;
		/* explicit slots: clang turns an indexed store into pointer OR */
		if (pkt->nvlan == 0)
			pkt->vlan[0] = bpf_ntohs(*(__u16 *)tag) & 0x0fff;
		else
			pkt->vlan[1] = bpf_ntohs(*(__u16 *)tag) & 0x0fff;
		pkt->nvlan++;
		proto = *(__u16 *)(tag + 2);
		*off += 4;
	}
	if (is_vlan_tpid(proto))
		return 0;

	if (proto == bpf_htons(ETH_P_PPP_SES)) {
		ph = ptr_at(c, *off, 8);
		if (!ph || ph[0] != PPPOE_VER_TYPE || ph[1] != 0)
			return 0;
		pkt->pppoe = 1;
		pkt->pppoe_sid = bpf_ntohs(*(__u16 *)(ph + 2));
		ppp = bpf_ntohs(*(__u16 *)(ph + 6));
		*off += 8;
		if (ppp == PPP_IP)
			return bpf_htons(ETH_P_IP);
		if (ppp == PPP_IPV6)
			return bpf_htons(ETH_P_IPV6);
		return 0;
	}
	if (proto == bpf_htons(ETH_P_IP) || proto == bpf_htons(ETH_P_IPV6))
		return proto;
	return 0;
}

/* A readable TCP header at off: its ports, for the decision core. */
static __always_inline int classify_tcp(const struct op25b_cursor *c,
					struct op25b_pkt *pkt, __u32 off)
{
	__u16 *ports = ptr_at(c, off, TCP_MIN_HLEN);

	if (!ports)
		return OP25B_C_UNDECIDABLE;
	pkt->dport = bpf_ntohs(ports[1]);
	pkt->l4off = off;
	pkt->sport = bpf_ntohs(ports[0]);
	return OP25B_C_TCP;
}

static __always_inline int parse_ipv4(const struct op25b_cursor *c,
				      struct op25b_pkt *pkt, __u32 off)
{
	__u32 ihl, tot, seg, foff;
	__u16 frag;
	__u8 *ip;

	if (c->len < off + IPV4_MIN_HLEN)
		return OP25B_C_PASS;
	ip = ptr_at(c, off, IPV4_MIN_HLEN);
	if (!ip)
		return OP25B_C_PASS;
	pkt->family = 4;
	pkt->l3off = off;

	if ((ip[0] >> 4) != 4)
		return OP25B_C_MALFORMED;
	ihl = (ip[0] & 0x0f) * 4;
	tot = bpf_ntohs(*(__u16 *)(ip + 2));
	if (tot == 0 && c->len - off > IP_MAX_LEN)
		tot = c->len - off;
	if (ihl < IPV4_MIN_HLEN || tot < ihl || tot > c->len - off)
		return OP25B_C_MALFORMED;
	pkt->l3end = off + tot;
	if (ip[9] != IPPROTO_TCP)
		return OP25B_C_PASS;

	frag = bpf_ntohs(*(__u16 *)(ip + 6));
	foff = frag & 0x1fff;
	if (foff == 1)
		return OP25B_C_EVASION;
	if (foff > 1)
		return OP25B_C_PASS;
	seg = tot - ihl;
	if (seg < TCP_MIN_HLEN)
		return (frag & 0x2000) ? OP25B_C_EVASION : OP25B_C_MALFORMED;
	return classify_tcp(c, pkt, off + ihl);
}

static __always_inline int is_ipv6_ext(__u8 nh)
{
	switch (nh) {
	case NH_HOP:
	case NH_ROUTING:
	case NH_FRAGMENT:
	case NH_AH:
	case NH_DSTOPTS:
	case NH_MOBILITY:
	case NH_HIP:
	case NH_SHIM6:
		return 1;
	}
	return 0;
}

static __always_inline int parse_ipv6(const struct op25b_cursor *c,
				      struct op25b_pkt *pkt, __u32 off)
{
	__u32 plen, end, cur, hlen;
	int first_frag = 0;
	__u16 fo;
	__u8 *ip6, *h, nh;
	int i;

	if (c->len < off + IPV6_HLEN)
		return OP25B_C_PASS;
	ip6 = ptr_at(c, off, IPV6_HLEN);
	if (!ip6)
		return OP25B_C_PASS;
	pkt->family = 6;
	pkt->l3off = off;

	if ((ip6[0] >> 4) != 6)
		return OP25B_C_MALFORMED;
	plen = bpf_ntohs(*(__u16 *)(ip6 + 4));
	nh = ip6[6];
	if (off + IPV6_HLEN + plen > c->len)
		return OP25B_C_MALFORMED;
	end = plen == 0 && (nh == NH_HOP || c->len - off - IPV6_HLEN > IP_MAX_LEN) ?
		c->len : off + IPV6_HLEN + plen;
	pkt->l3end = end;
	cur = off + IPV6_HLEN;

#pragma unroll
	for (i = 0; i <= OP25B_IPV6_EXT_MAX; i++) {
		if (nh == IPPROTO_TCP) {
			if (cur + TCP_MIN_HLEN > end)
				return first_frag ? OP25B_C_EVASION :
						    OP25B_C_MALFORMED;
			return classify_tcp(c, pkt, cur);
		}
		if (!is_ipv6_ext(nh))
			return OP25B_C_PASS;
		if (i == OP25B_IPV6_EXT_MAX)
			return OP25B_C_UNDECIDABLE;
		if (cur + IPV6_EXT_MIN > end)
			return first_frag ? OP25B_C_UNDECIDABLE :
					    OP25B_C_MALFORMED;
		h = ptr_at(c, cur, IPV6_EXT_MIN);
		if (!h)
			return OP25B_C_UNDECIDABLE;
		if (nh == NH_FRAGMENT) {
			fo = bpf_ntohs(*(__u16 *)(h + 2));
			if (fo >> 3)
				return ((fo >> 3) == 1 &&
					h[0] == IPPROTO_TCP) ?
					       OP25B_C_EVASION :
					       OP25B_C_PASS;
			if (fo & 1)
				first_frag = 1;
			hlen = IPV6_EXT_MIN;
		} else if (nh == NH_AH) {
			hlen = ((__u32)h[1] + 2) * 4;
		} else {
			hlen = ((__u32)h[1] + 1) * 8;
		}
		if (cur + hlen > end)
			return first_frag ? OP25B_C_UNDECIDABLE :
					    OP25B_C_MALFORMED;
		nh = h[0];
		cur += hlen;
	}
	return OP25B_C_UNDECIDABLE;
}

/*
 * Classify the frame at c. vlan_stripped is 1 when the tc hook found one
 * tag already moved into skb->vlan_tci (recorded in pkt by the caller).
 */
static __always_inline int op25b_parse(const struct op25b_cursor *c,
				       struct op25b_pkt *pkt, int l3)
{
	__u32 off = 0;
	__u16 proto;
	__u8 *v;

	if (l3) {
		v = ptr_at(c, 0, 1);
		if (!v)
			return OP25B_C_PASS;
		if ((v[0] >> 4) == 4)
			return parse_ipv4(c, pkt, 0);
		if ((v[0] >> 4) == 6)
			return parse_ipv6(c, pkt, 0);
		return OP25B_C_PASS;
	}
	proto = parse_l2(c, pkt, &off);
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(c, pkt, off);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(c, pkt, off);
	return OP25B_C_PASS;
}

#endif /* OP25B_PARSE_H */
