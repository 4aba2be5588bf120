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
#include "op25b.h"
#include "parse.h"

#define TCP_FLAG_FIN_		0x01
#define TCP_FLAG_SYN_		0x02
#define TCP_FLAG_RST_		0x04
#define TCP_FLAG_ACK_		0x10
#define IPV4_DF_		0x4000
#define IPV4_IHL5_		0x45
#define IPV6_VERSION_WORD_	0x60000000
#define TCP_DOFF5_		0x50
#define PPP_PROTO_LEN_		2
#define PPPOE_LEN_BEFORE_IP_	4	/* the length field, back from IP */

/* What the answer needs, read from the blocked packet before it is cut. */
struct op25b_rst {
	__u32 saddr[4];		/* the sender's address, network order */
	__u32 daddr[4];		/* IPv4: [0] only */
	__u32 seq;		/* the RST's, network order */
	__u32 ack;
	__u16 sport;		/* the blocked segment's, network order */
	__u16 dport;
	__u32 l3off;
	__u32 len;		/* of the whole answer, L2 included */
	__u8 family;
	__u8 flags;		/* the RST's */
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
	__u8 *tcp, *a;

	/*
	 * The parser read this header, so it lies within OP25B_MAX_OFF: the
	 * mask changes nothing, but it bounds the register itself, which a
	 * compare would not once the compiler copies it.
	 */
	l4off = pkt->l4off & OP25B_MAX_OFF;
	end = pkt->l3end;
	if (end < l4off + TCP_MIN_HLEN)
		return -1;
	tcp = rst_ptr(c, l4off, TCP_MIN_HLEN);
	if (!tcp || (tcp[13] & TCP_FLAG_RST_))
		return -1;

	__builtin_memset(r, 0, sizeof(*r));
	r->family = pkt->family;
	r->l3off = pkt->l3off;
	if (pkt->family == 4) {
		a = rst_ptr(c, pkt->l3off + 12, 8);
		if (!a)
			return -1;
		__builtin_memcpy(&r->saddr[0], a, 4);
		__builtin_memcpy(&r->daddr[0], a + 4, 4);
		iplen = IPV4_MIN_HLEN;
	} else {
		a = rst_ptr(c, pkt->l3off + 8, 32);
		if (!a)
			return -1;
		__builtin_memcpy(r->saddr, a, 16);
		__builtin_memcpy(r->daddr, a + 16, 16);
		iplen = IPV6_HLEN;
	}
	r->sport = *(__u16 *)tcp;
	r->dport = *(__u16 *)(tcp + 2);

	seg = end - l4off;
	doff = (tcp[12] >> 4) * 4;
	payload = doff >= TCP_MIN_HLEN && doff <= seg ? seg - doff : 0;
	if (tcp[13] & TCP_FLAG_ACK_) {
		r->seq = *(__u32 *)(tcp + 8);
		r->flags = TCP_FLAG_RST_;
	} else {
		payload += !!(tcp[13] & TCP_FLAG_SYN_);
		payload += !!(tcp[13] & TCP_FLAG_FIN_);
		r->ack = bpf_htonl(bpf_ntohl(*(__u32 *)(tcp + 4)) + payload);
		r->flags = TCP_FLAG_RST_ | TCP_FLAG_ACK_;
	}

	r->partial = skb &&
		     *(__u16 *)(tcp + 16) == csum_fold16(csum_pseudo(r, seg));
	r->moved = l4off != pkt->l3off + iplen;
	r->len = pkt->l3off + iplen + TCP_MIN_HLEN;
	r->pppoe = !l3 && pkt->pppoe;
	return 0;
}

/*
 * The 20-byte RST at tcp, its checksum field included. The addresses of
 * the answer are the pseudo-header's, which sums the same either way.
 */
static __always_inline void rst_write_tcp(__u8 *tcp, const struct op25b_rst *r)
{
	__u32 sum;

	*(__u16 *)tcp = r->dport;
	*(__u16 *)(tcp + 2) = r->sport;
	__builtin_memcpy(tcp + 4, &r->seq, 4);
	__builtin_memcpy(tcp + 8, &r->ack, 4);
	tcp[12] = TCP_DOFF5_;
	tcp[13] = r->flags;
	*(__u16 *)(tcp + 14) = 0;
	*(__u16 *)(tcp + 16) = 0;
	*(__u16 *)(tcp + 18) = 0;

	sum = csum_pseudo(r, TCP_MIN_HLEN);
	if (r->partial) {
		*(__u16 *)(tcp + 16) = csum_fold16(sum);
		return;
	}
	sum += csum_words((const op25b_word *)tcp, TCP_MIN_HLEN / 4);
	*(__u16 *)(tcp + 16) = (__u16)~csum_fold16(sum);
}

static __always_inline void rst_write_ipv4(__u8 *ip, const struct op25b_rst *r)
{
	__u32 sum;

	ip[0] = IPV4_IHL5_;
	ip[1] = 0;
	*(__u16 *)(ip + 2) = bpf_htons(IPV4_MIN_HLEN + TCP_MIN_HLEN);
	*(__u16 *)(ip + 4) = 0;
	*(__u16 *)(ip + 6) = bpf_htons(IPV4_DF_);
	ip[8] = OP25B_RST_TTL;
	ip[9] = IPPROTO_TCP;
	*(__u16 *)(ip + 10) = 0;
	__builtin_memcpy(ip + 12, &r->daddr[0], 4);
	__builtin_memcpy(ip + 16, &r->saddr[0], 4);
	sum = csum_words((const op25b_word *)ip, IPV4_MIN_HLEN / 4);
	*(__u16 *)(ip + 10) = (__u16)~csum_fold16(sum);
}

static __always_inline void rst_write_ipv6(__u8 *ip, const struct op25b_rst *r)
{
	*(__u32 *)ip = bpf_htonl(IPV6_VERSION_WORD_);
	*(__u16 *)(ip + 4) = bpf_htons(TCP_MIN_HLEN);
	ip[6] = IPPROTO_TCP;
	ip[7] = OP25B_RST_TTL;
	__builtin_memcpy(ip + 8, r->daddr, 16);
	__builtin_memcpy(ip + 24, r->saddr, 16);
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
	__u8 *eth, *ip, mac[6];
	__u16 *plen;

	if (!l3) {
		eth = rst_ptr(c, 0, ETH_HLEN);
		if (!eth)
			return -1;
		__builtin_memcpy(mac, eth, 6);
		__builtin_memcpy(eth, eth + 6, 6);
		__builtin_memcpy(eth + 6, mac, 6);
	}
	if (r->pppoe) {
		/* RFC 2516: the PPP payload, protocol field included */
		plen = rst_ptr(c, r->l3off - PPPOE_LEN_BEFORE_IP_, 2);
		if (!plen)
			return -1;
		before += *plen;
		*plen = bpf_htons(r->len - r->l3off + PPP_PROTO_LEN_);
		after += *plen;
	}

	if (r->family == 4) {
		ip = rst_ptr(c, r->l3off, IPV4_MIN_HLEN + TCP_MIN_HLEN);
		if (!ip)
			return -1;
		before += csum_words((const op25b_word *)ip,
				     (IPV4_MIN_HLEN + TCP_MIN_HLEN) / 4);
		rst_write_ipv4(ip, r);
		rst_write_tcp(ip + IPV4_MIN_HLEN, r);
		after += csum_words((const op25b_word *)ip,
				    (IPV4_MIN_HLEN + TCP_MIN_HLEN) / 4);
	} else {
		ip = rst_ptr(c, r->l3off, IPV6_HLEN + TCP_MIN_HLEN);
		if (!ip)
			return -1;
		before += csum_words((const op25b_word *)ip,
				     (IPV6_HLEN + TCP_MIN_HLEN) / 4);
		rst_write_ipv6(ip, r);
		rst_write_tcp(ip + IPV6_HLEN, r);
		after += csum_words((const op25b_word *)ip,
				    (IPV6_HLEN + TCP_MIN_HLEN) / 4);
	}
	if (delta)
		*delta = csum_fold16(after) + (__u16)~csum_fold16(before);
	return 0;
}

#endif /* OP25B_REJECT_H */
