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
#include <linux/bpf.h>		/* struct xdp_md, struct __sk_buff */
#include <stdbool.h>
#include <linux/if_ether.h>	/* struct ethhdr, ETH_P_* */
#include <linux/in.h>		/* IPPROTO_TCP */
#include <linux/ip.h>		/* struct iphdr */
#include <linux/ipv6.h>		/* struct ipv6hdr, IPPROTO_* of IPv6 */
#include <linux/tcp.h>		/* struct tcphdr */
#include <linux/ppp_defs.h>	/* PPP_IP, PPP_IPV6 */
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "op25b.h"

/* RFC 2516: PPPoE version 1, type 1, in one byte. */
#define PPPOE_VER_TYPE		0x11
/* IPv4 fragment field bits, as the kernel names them (not in UAPI). */
#ifndef IP_OFFSET
#define IP_DF			0x4000
#define IP_MF			0x2000
#define IP_OFFSET		0x1fff
#endif
/* IPv6 next headers the UAPI headers do not name (RFC 7401, RFC 5533). */
#define IPPROTO_HIP		139
#define IPPROTO_SHIM6		140

#define TCP_MIN_HLEN		20
#define IPV4_MIN_HLEN		20
#define IPV6_HLEN		40
#define IPV6_EXT_MIN		8
#define IP_MAX_LEN		0xffff	/* a 16-bit length field's reach */

/* An 802.1Q/802.1ad tag after the MACs (the kernel's, not in UAPI). */
struct vlan_hdr {
	__be16	h_vlan_TCI;
	__be16	h_vlan_encapsulated_proto;
};

/*
 * A PPPoE session header (RFC 2516) and the PPP protocol after it; UAPI's
 * struct pppoe_hdr comes with headers a BPF object cannot take.
 */
struct op25b_pppoe_hdr {
	__u8	ver_type;
	__u8	code;
	__be16	sid;
	__be16	length;		/* of the PPP payload, protocol included */
	__be16	proto;
};

/* The IPv6 fragment header (RFC 8200 4.5): the kernel's, not in UAPI. */
struct op25b_frag_hdr {
	__u8	nexthdr;
	__u8	reserved;
	__be16	frag_off;	/* offset in 8-byte units, 2 reserved bits, M */
	__be32	identification;
};

/* Largest offset read from; keeps packet pointer arithmetic verifiable. */
#define OP25B_MAX_OFF		0x3fff

/*
 * What the parser found: where the headers are. Only what the decision and
 * the steps after it read, so that parser paths that differ in nothing
 * else look alike to the verifier once parsing is over.
 */
struct op25b_pkt {
	__u32 l3off;		/* where the IP header starts */
	__u32 l3end;		/* where the IP datagram ends */
	__u32 l4off;		/* where the TCP header starts, once read */
	__u16 dport;		/* host order; 0 when no TCP header was read */
	__u8  family;		/* 4 or 6; 0 when no IP header was read */
	__u8  pppoe;		/* a PPPoE session header precedes IP */
};

/* The L2 encapsulation, as far as parse_l2 read it: for events. */
struct op25b_l2 {
	__u16 vlan[OP25B_VLAN_MAX];
	__u16 pppoe_sid;
	__u8  nvlan;		/* tags seen, a stripped one included */
	__u8  pppoe;
};

struct op25b_cursor {
	void *data;
	void *data_end;
	__u32 len;		/* true packet length from data on */
};

/* The cursor over the frame; taken again after a helper that moves data. */
static __always_inline void cursor_of(struct op25b_cursor *c, void *ctx,
				      const bool xdp)
{
	if (xdp) {
		struct xdp_md *x = ctx;

		c->data = (void *)(long)x->data;
		c->data_end = (void *)(long)x->data_end;
		c->len = c->data_end - c->data;
	} else {
		struct __sk_buff *skb = ctx;

		c->data = (void *)(long)skb->data;
		c->data_end = (void *)(long)skb->data_end;
		c->len = skb->len;
	}
}

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
				      struct op25b_l2 *l2, __u32 *off)
{
	struct op25b_pppoe_hdr *ph;
	struct vlan_hdr *tag;
	struct ethhdr *eth;
	__u16 proto, ppp;
	int i;

	eth = ptr_at(c, 0, sizeof(*eth));
	if (!eth)
		return 0;
	proto = eth->h_proto;
	*off = sizeof(*eth);

#pragma unroll
	for (i = 0; i < OP25B_VLAN_MAX; i++) {
		if (!is_vlan_tpid(proto))
			break;
		if (l2->nvlan >= OP25B_VLAN_MAX)
			return 0;
		tag = ptr_at(c, *off, sizeof(*tag));
		if (!tag)
			return 0;
		/* explicit slots: clang turns an indexed store into pointer OR */
		if (l2->nvlan == 0)
			l2->vlan[0] = bpf_ntohs(tag->h_vlan_TCI) & 0x0fff;
		else
			l2->vlan[1] = bpf_ntohs(tag->h_vlan_TCI) & 0x0fff;
		l2->nvlan++;
		proto = tag->h_vlan_encapsulated_proto;
		*off += sizeof(*tag);
	}
	if (is_vlan_tpid(proto))
		return 0;

	if (proto == bpf_htons(ETH_P_PPP_SES)) {
		ph = ptr_at(c, *off, sizeof(*ph));
		if (!ph || ph->ver_type != PPPOE_VER_TYPE || ph->code != 0)
			return 0;
		l2->pppoe = 1;
		l2->pppoe_sid = bpf_ntohs(ph->sid);
		ppp = bpf_ntohs(ph->proto);
		*off += sizeof(*ph);
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

/* A readable TCP header at off: its port, for the decision core. */
static __always_inline int classify_tcp(const struct op25b_cursor *c,
					struct op25b_pkt *pkt, __u32 off)
{
	struct tcphdr *th = ptr_at(c, off, sizeof(*th));

	if (!th)
		return OP25B_C_UNDECIDABLE;
	pkt->dport = bpf_ntohs(th->dest);
	pkt->l4off = off;
	return OP25B_C_TCP;
}

/*
 * The IP header of family at off, hlen bytes of it readable within the
 * packet's true length; NULL: there is none to judge (PASS).
 */
static __always_inline void *ip_at(const struct op25b_cursor *c,
				   struct op25b_pkt *pkt, __u32 off,
				   __u8 family, __u32 hlen)
{
	void *ip;

	if (c->len < off + hlen)
		return NULL;
	ip = ptr_at(c, off, hlen);
	if (!ip)
		return NULL;
	pkt->family = family;
	pkt->l3off = off;
	return ip;
}

static __always_inline int parse_ipv4(const struct op25b_cursor *c,
				      struct op25b_pkt *pkt, __u32 off)
{
	__u32 ihl, tot, seg, foff;
	struct iphdr *ip;
	__u16 frag;

	ip = ip_at(c, pkt, off, 4, sizeof(*ip));
	if (!ip)
		return OP25B_C_PASS;
	if (ip->version != 4)
		return OP25B_C_MALFORMED;
	ihl = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot == 0 && c->len - off > IP_MAX_LEN)
		tot = c->len - off;
	if (ihl < IPV4_MIN_HLEN || tot < ihl || tot > c->len - off)
		return OP25B_C_MALFORMED;
	pkt->l3end = off + tot;
	if (ip->protocol != IPPROTO_TCP)
		return OP25B_C_PASS;

	frag = bpf_ntohs(ip->frag_off);
	foff = frag & IP_OFFSET;
	if (foff == 1)
		return OP25B_C_EVASION;
	if (foff > 1)
		return OP25B_C_PASS;
	seg = tot - ihl;
	if (seg < TCP_MIN_HLEN)
		return (frag & IP_MF) ? OP25B_C_EVASION : OP25B_C_MALFORMED;
	return classify_tcp(c, pkt, off + ihl);
}

static __always_inline int is_ipv6_ext(__u8 nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_AH:
	case IPPROTO_DSTOPTS:
	case IPPROTO_MH:
	case IPPROTO_HIP:
	case IPPROTO_SHIM6:
		return 1;
	}
	return 0;
}

/*
 * The IPv6 extension-header chain, from the header of type nh at cur, in
 * a datagram ending at end: to the TCP header, or to what ends the walk.
 */
static __always_inline int parse_ipv6_chain(const struct op25b_cursor *c,
					    struct op25b_pkt *pkt, __u32 cur,
					    __u32 end, __u8 nh)
{
	struct ipv6_opt_hdr *h;
	int first_frag = 0;
	__u32 hlen;
	__u16 fo;
	int i;

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
		if (nh == IPPROTO_FRAGMENT) {
			fo = bpf_ntohs(((struct op25b_frag_hdr *)h)->frag_off);
			if (fo >> 3)
				return ((fo >> 3) == 1 &&
					h->nexthdr == IPPROTO_TCP) ?
					       OP25B_C_EVASION :
					       OP25B_C_PASS;
			if (fo & 1)
				first_frag = 1;
			hlen = IPV6_EXT_MIN;
		} else if (nh == IPPROTO_AH) {
			hlen = ((__u32)h->hdrlen + 2) * 4;
		} else {
			hlen = ((__u32)h->hdrlen + 1) * 8;
		}
		if (cur + hlen > end)
			return first_frag ? OP25B_C_UNDECIDABLE :
					    OP25B_C_MALFORMED;
		nh = h->nexthdr;
		cur += hlen;
	}
	return OP25B_C_UNDECIDABLE;
}

/*
 * Where the parser walks an IPv6 chain of extension headers: inline by
 * default. The datapath defines it, before including this file, as a
 * call to a global function of its own per hook (op25b_chain_xdp/_tc):
 * the verifier then checks the walk once, on its own, rather than once
 * for every way the parser reaches it (most of its work was there); an
 * IPv6 packet with extension headers, rare, pays a call for it. ctx and
 * xdp are what op25b_parse was given.
 */
#ifndef OP25B_IPV6_CHAIN
#define OP25B_IPV6_CHAIN(c, pkt, cur, end, nh, ctx, xdp)			\
	parse_ipv6_chain(c, pkt, cur, end, nh)
#endif

static __always_inline int parse_ipv6(const struct op25b_cursor *c,
				      struct op25b_pkt *pkt, __u32 off,
				      void *ctx, const bool xdp)
{
	struct ipv6hdr *ip6;
	__u32 plen, end, cur;
	__u8 nh;

	ip6 = ip_at(c, pkt, off, 6, sizeof(*ip6));
	if (!ip6)
		return OP25B_C_PASS;
	if (ip6->version != 6)
		return OP25B_C_MALFORMED;
	plen = bpf_ntohs(ip6->payload_len);
	nh = ip6->nexthdr;
	if (off + IPV6_HLEN + plen > c->len)
		return OP25B_C_MALFORMED;
	end = plen == 0 && (nh == IPPROTO_HOPOPTS ||
			    c->len - off - IPV6_HLEN > IP_MAX_LEN) ?
		c->len : off + IPV6_HLEN + plen;
	pkt->l3end = end;
	cur = off + IPV6_HLEN;
	/* the common case inline: TCP right after the fixed header */
	if (nh == IPPROTO_TCP) {
		if (cur + TCP_MIN_HLEN > end)
			return OP25B_C_MALFORMED;
		return classify_tcp(c, pkt, cur);
	}
	if (!is_ipv6_ext(nh))
		return OP25B_C_PASS;
	return OP25B_IPV6_CHAIN(c, pkt, cur, end, nh, ctx, xdp);
}

/*
 * Classify the frame at c. stripped is 1 when the tc hook found one tag
 * already moved into skb->vlan_tci: it counts toward the bound. ctx is
 * the hook's (xdp: XDP's), for OP25B_IPV6_CHAIN.
 */
static __always_inline int op25b_parse(const struct op25b_cursor *c,
				       struct op25b_pkt *pkt, int l3,
				       int stripped, void *ctx, const bool xdp)
{
	struct op25b_l2 l2 = {};
	__u32 off = 0;
	struct iphdr *v;
	__u16 proto;

	if (l3) {
		/* the first byte only: the version both IP headers start with */
		v = ptr_at(c, 0, 1);
		if (!v)
			return OP25B_C_PASS;
		if (v->version == 4)
			return parse_ipv4(c, pkt, 0);
		if (v->version == 6)
			return parse_ipv6(c, pkt, 0, ctx, xdp);
		return OP25B_C_PASS;
	}
	if (stripped)
		l2.nvlan = 1;
	proto = parse_l2(c, &l2, &off);
	pkt->pppoe = l2.pppoe;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(c, pkt, off);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(c, pkt, off, ctx, xdp);
	return OP25B_C_PASS;
}

/*
 * The packet's addresses as they lie in it: 4 bytes each for IPv4, 16 for
 * IPv6. -1: not readable (the parser read them: only a guard).
 */
static __always_inline int pkt_addrs(const struct op25b_cursor *c,
				     const struct op25b_pkt *pkt,
				     void *saddr, void *daddr)
{
	struct ipv6hdr *ip6;
	struct iphdr *ip;

	if (pkt->family == 4) {
		ip = ptr_at(c, pkt->l3off, sizeof(*ip));
		if (!ip)
			return -1;
		__builtin_memcpy(saddr, &ip->saddr, sizeof(ip->saddr));
		__builtin_memcpy(daddr, &ip->daddr, sizeof(ip->daddr));
		return 0;
	}
	ip6 = ptr_at(c, pkt->l3off, sizeof(*ip6));
	if (!ip6)
		return -1;
	__builtin_memcpy(saddr, &ip6->saddr, sizeof(ip6->saddr));
	__builtin_memcpy(daddr, &ip6->daddr, sizeof(ip6->daddr));
	return 0;
}

/* The TCP header the parser read, or NULL (only an SMTP segment has one). */
static __always_inline struct tcphdr *pkt_tcp(const struct op25b_cursor *c,
					      const struct op25b_pkt *pkt)
{
	return ptr_at(c, pkt->l4off, sizeof(struct tcphdr));
}

#endif /* OP25B_PARSE_H */
