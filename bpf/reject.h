/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The TCP RST of action reject, built in place of the blocked packet.
 *
 * The rules, which the unit tests and tests/fuzz/oracle.c restate:
 *
 * Only a packet of class SMTP (a full 20-byte TCP header was read) whose
 *   flags do not include RST is answered. Evasive, undecidable and malformed
 *   packets, and RST segments, are dropped silently: there is no sound
 *   header to answer, and a RST is never answered. An answered packet counts
 *   its class + blocked + rejected; any other blocked one class + blocked.
 * RFC 9293 3.10.7.1 (RFC 793 p. 36): a segment with ACK gets seq = SEG.ACK
 *   and flags RST; any other seq = 0, ack = SEG.SEQ + SEG.LEN (+1 for SYN,
 *   +1 for FIN), flags RST|ACK. SEG.LEN is the TCP payload: the IP
 *   datagram's length less the IP and extension headers less data offset * 4,
 *   taken as 0 when the data offset is below 5 or beyond the segment. Ports
 *   swapped, window 0, data offset 5, no options, no payload.
 * Built in place: the L2 encapsulation stays (Ethernet MACs swapped, VLAN
 *   tags as they are, the PPPoE length set to 2 + the new IP length); a
 *   fresh IPv4 header (IHL 5, no options, TTL OP25B_RST_TTL, DF, id 0) or
 *   IPv6 header (no extension headers, hop limit OP25B_RST_TTL, traffic
 *   class and flow label 0), addresses swapped, goes at the IP header's
 *   offset, then the TCP header, and the packet ends there. L3 devices: the
 *   same from offset 0.
 * Checksums: the IPv4 header's, and TCP's over the pseudo-header. A tc skb
 *   may be CHECKSUM_PARTIAL (sent by a local socket, carried by veth): its
 *   TCP checksum field holds only the folded pseudo-header sum and the
 *   device, or nobody, completes it. BPF cannot read ip_summed, so a field
 *   equal to the folded pseudo-header sum of the blocked packet is taken as
 *   PARTIAL: the RST's field is written the same way, and only when its TCP
 *   header stays where the blocked one was (csum_start does not move);
 *   otherwise nothing is answered. XDP works on what came off the wire: the
 *   full sum, always.
 * XDP: the frame is cut with bpf_xdp_adjust_tail and goes back with XDP_TX.
 *   tc: the skb is cut with bpf_skb_change_tail and redirected out of its
 *   device (ingress attachment) or into its device's receive path (egress
 *   attachment: the local stack delivers or forwards it to the sender).
 *   Whatever fails on the way: dropped, not answered.
 */
#ifndef OP25B_REJECT_H
#define OP25B_REJECT_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <stddef.h>		/* offsetof */
#include "op25b.h"
#include "parse.h"

/* The answer from its IP header on. */
#define RST_IPV4_LEN	(sizeof(struct iphdr) + sizeof(struct tcphdr))
#define RST_IPV6_LEN	(sizeof(struct ipv6hdr) + sizeof(struct tcphdr))

/* What the answer needs, read from the blocked packet before it is cut. */
struct op25b_rst {
	__u32 saddr[4];		/* the sender's address, network order */
	__u32 daddr[4];		/* IPv4: [0] only */
	__u32 seq;		/* the RST's, network order */
	__u32 ack_seq;
	__u16 sport;		/* the blocked segment's, network order */
	__u16 dport;
	__u32 l3off;
	__u32 len;		/* of the whole answer, L2 included */
	__u8 family;
	__u8 with_ack;		/* the RST has ACK set, and ack_seq */
	__u8 partial;		/* write the TCP field as CHECKSUM_PARTIAL */
	__u8 moved;		/* the TCP header does not stay in place */
	__u8 pppoe;		/* a PPPoE session header precedes the IP one */
};

static __always_inline __u32 csum_add32(__u32 sum, __u32 w)
{
	return sum + (w & 0xffff) + (w >> 16);
}

/* The ones' complement sum, folded to 16 bits; not complemented. */
static __always_inline __u16 csum_fold16(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/*
 * Sum of the TCP pseudo-header for a segment of tcplen bytes: the same
 * whichever address is the source, and alike for IPv4's 16-bit length
 * field and IPv6's 32-bit one (an IPv4 length's upper half is zero). Words
 * are summed as they lie in memory, so the folded result is stored as it
 * is, without a byte swap.
 */
static __always_inline __u32 csum_pseudo(const struct op25b_rst *r,
					 __u32 tcplen)
{
	__u32 sum = 0;
	int i;

	if (r->family == 4) {
		sum = csum_add32(sum, r->saddr[0]);
		sum = csum_add32(sum, r->daddr[0]);
	} else {
#pragma unroll
		for (i = 0; i < 4; i++) {
			sum = csum_add32(sum, r->saddr[i]);
			sum = csum_add32(sum, r->daddr[i]);
		}
	}
	sum = csum_add32(sum, bpf_htonl(tcplen));
	return sum + bpf_htons(IPPROTO_TCP);
}

/*
 * Header words read back right after being stored through other types:
 * without may_alias, type-based alias analysis lets the compiler read them
 * before the stores.
 */
typedef __u32 __attribute__((__may_alias__)) op25b_word;

/* Sum of n 32-bit words at p, as they lie in memory. */
static __always_inline __u32 csum_words(const op25b_word *p, int n)
{
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < n; i++)
		sum = csum_add32(sum, p[i]);
	return sum;
}

/*
 * ptr_at, hidden from the compiler's arithmetic on both sides. These
 * functions run with offsets the verifier knows only bounds of, and the
 * compiler would otherwise check one pointer against data_end and use
 * another: data + off rebuilt later, or data + (off + k) checked and k
 * subtracted after.
 */
static __always_inline void *rst_ptr(const struct op25b_cursor *c, __u32 off,
				     __u32 n)
{
	void *p;

	barrier_var(off);
	p = ptr_at(c, off, n);
	barrier_var(p);
	return p;
}

/*
 * Read what the answer to an SMTP-class packet needs; -1: no answer. skb:
 * the packet is an skb, which may be CHECKSUM_PARTIAL.
 */
static __always_inline int rst_prepare(const struct op25b_cursor *c,
				       const struct op25b_pkt *pkt, int l3,
				       int skb, struct op25b_rst *r)
{
	__u32 l4off, end, seg, doff, payload, iplen;
	struct tcphdr *th;

	/*
	 * The parser read this header, so it lies within OP25B_MAX_OFF: the
	 * mask changes nothing, but it bounds the register itself, which a
	 * compare would not once the compiler copies it.
	 */
	l4off = pkt->l4off & OP25B_MAX_OFF;
	end = pkt->l3end;
	if (end < l4off + sizeof(*th))
		return -1;
	th = rst_ptr(c, l4off, sizeof(*th));
	if (!th || th->rst)
		return -1;

	__builtin_memset(r, 0, sizeof(*r));
	r->family = pkt->family;
	r->l3off = pkt->l3off;
	if (pkt_addrs(c, pkt, r->saddr, r->daddr))
		return -1;
	iplen = pkt->family == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	r->sport = th->source;
	r->dport = th->dest;

	seg = end - l4off;
	doff = th->doff * 4;
	payload = doff >= sizeof(*th) && doff <= seg ? seg - doff : 0;
	if (th->ack) {
		r->seq = th->ack_seq;
	} else {
		payload += th->syn + th->fin;
		r->ack_seq = bpf_htonl(bpf_ntohl(th->seq) + payload);
		r->with_ack = 1;
	}

	r->partial = skb && th->check == csum_fold16(csum_pseudo(r, seg));
	r->moved = l4off != pkt->l3off + iplen;
	r->len = pkt->l3off + iplen + sizeof(*th);
	r->pppoe = !l3 && pkt->pppoe;
	return 0;
}

/*
 * The 20-byte RST at th, its checksum included. The addresses of the
 * answer are the pseudo-header's, which sums the same either way.
 */
static __always_inline void rst_write_tcp(struct tcphdr *th,
					  const struct op25b_rst *r)
{
	__u32 sum;

	__builtin_memset(th, 0, sizeof(*th));
	th->source = r->dport;
	th->dest = r->sport;
	th->seq = r->seq;
	th->ack_seq = r->ack_seq;
	th->doff = sizeof(*th) / 4;
	th->rst = 1;
	th->ack = r->with_ack;

	sum = csum_pseudo(r, sizeof(*th));
	if (r->partial) {
		th->check = csum_fold16(sum);
		return;
	}
	sum += csum_words((const op25b_word *)th, sizeof(*th) / 4);
	th->check = (__u16)~csum_fold16(sum);
}

static __always_inline void rst_write_ipv4(struct iphdr *ip,
					   const struct op25b_rst *r)
{
	__builtin_memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = sizeof(*ip) / 4;
	ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(struct tcphdr));
	ip->frag_off = bpf_htons(IP_DF);
	ip->ttl = OP25B_RST_TTL;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = r->daddr[0];
	ip->daddr = r->saddr[0];
	ip->check = (__u16)~csum_fold16(csum_words((const op25b_word *)ip,
						   sizeof(*ip) / 4));
}

static __always_inline void rst_write_ipv6(struct ipv6hdr *ip6,
					   const struct op25b_rst *r)
{
	__builtin_memset(ip6, 0, offsetof(struct ipv6hdr, saddr));
	ip6->version = 6;
	ip6->payload_len = bpf_htons(sizeof(struct tcphdr));
	ip6->nexthdr = IPPROTO_TCP;
	ip6->hop_limit = OP25B_RST_TTL;
	__builtin_memcpy(&ip6->saddr, r->daddr, sizeof(ip6->saddr));
	__builtin_memcpy(&ip6->daddr, r->saddr, sizeof(ip6->daddr));
}

/*
 * The IP header and the RST after it, v6 a constant: what the words
 * summed before and after the rewrite added to *before and *after.
 */
static __always_inline int rst_write_l3(const struct op25b_cursor *c,
					const struct op25b_rst *r,
					const bool v6, __u32 *before,
					__u32 *after)
{
	const __u32 len = v6 ? RST_IPV6_LEN : RST_IPV4_LEN;
	void *ip = rst_ptr(c, r->l3off, len);

	if (!ip)
		return -1;
	*before += csum_words(ip, len / 4);
	if (v6) {
		rst_write_ipv6(ip, r);
		rst_write_tcp(ip + sizeof(struct ipv6hdr), r);
	} else {
		rst_write_ipv4(ip, r);
		rst_write_tcp(ip + sizeof(struct iphdr), r);
	}
	*after += csum_words(ip, len / 4);
	return 0;
}

/*
 * Write the answer into the frame at c, already cut to r->len. *delta, when
 * asked for, gets the ones' complement change of every byte from the L2
 * payload on: what a CHECKSUM_COMPLETE skb's csum must follow.
 */
static __always_inline int rst_write(const struct op25b_cursor *c,
				     const struct op25b_rst *r, int l3,
				     __u32 *delta)
{
	__u32 before = 0, after = 0;
	struct ethhdr *eth;
	__u8 mac[ETH_ALEN];
	__be16 *plen;

	if (!l3) {
		eth = rst_ptr(c, 0, sizeof(*eth));
		if (!eth)
			return -1;
		__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
		__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
		__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	}
	if (r->pppoe) {
		/* RFC 2516: the PPP payload, protocol field included */
		plen = rst_ptr(c, r->l3off - sizeof(struct op25b_pppoe_hdr) +
				       offsetof(struct op25b_pppoe_hdr, length),
			       sizeof(*plen));
		if (!plen)
			return -1;
		before += *plen;
		*plen = bpf_htons(r->len - r->l3off + sizeof(__be16));
		after += *plen;
	}

	if (r->family == 4 ? rst_write_l3(c, r, false, &before, &after) :
			     rst_write_l3(c, r, true, &before, &after))
		return -1;
	if (delta)
		*delta = csum_fold16(after) + (__u16)~csum_fold16(before);
	return 0;
}

#endif /* OP25B_REJECT_H */
