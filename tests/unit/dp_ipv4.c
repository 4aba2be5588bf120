/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The IPv4 header, options and fragments: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 */

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
	/* a SYN whose total length is not its datagram's: malformed */
	static const struct {
		const char *what;
		bool past_frame;	/* len is added to what the frame holds */
		int len;
	} tot_lens[] = {
		{ "total length 19 < ihl*4", false, TL_IPV4_HLEN - 1 },
		{ "total length 0", false, 0 },
		{ "total length one over the packet", true, 1 },
		{ "total length 65535", false, 0xffff },
		/* link padding aside: a TCP header the frame holds but the
		 * datagram does not */
		{ "total length ends 1 byte short of the tcp header", false,
		  TL_IPV4_HLEN + TL_TCP_HLEN - 1 },
	};
	char l[256];
	struct pkt p;
	size_t i;
	__u8 ihl;

	/* on an L3 device the version nibble itself picks the parser */
	if (!e->l3)
		bad_versions(dp, e, 4, versions, ARRAY_SIZE(versions));
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

	for (i = 0; i < ARRAY_SIZE(tot_lens); i++) {
		syn(&p, e, 4, SMTP);
		pkt_put16(&p, p.l3 + 2,
			  tot_lens[i].len +
				  (tot_lens[i].past_frame ? p.len - p.l3 : 0));
		snprintf(l, sizeof(l), "ipv4: %s %s is malformed", e->name,
			 tot_lens[i].what);
		judged(dp, l, &p, ST_malformed);
	}

	lay_l2(&p, e);
	pkt_ipv4_ihl(&p, 15, DENIED4, OUT4);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 2, 15 * 4 - 1);
	snprintf(l, sizeof(l),
		 "ipv4: %s ihl 15, total length 59 < 60 is malformed", e->name);
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
	/* the same short first segment, fragmented or not */
	static const struct {
		const char *what;
		__u16 flags;
		enum stat_id cls;
	} short_firsts[] = {
		{ "first fragment", IP_MF, ST_evasion },
		{ "unfragmented (DF)", IP_DF, ST_malformed },
	};
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
	for (i = 0; i < ARRAY_SIZE(short_segs); i++)
		for (j = 0; j < ARRAY_SIZE(short_firsts); j++) {
			v4_frag(&p, e, short_firsts[j].flags, 0, IPPROTO_TCP,
				SUBMISSION, short_segs[i]);
			snprintf(l, sizeof(l),
				 "ipv4 frag: %s %s with %u tcp bytes is %s",
				 e->name, short_firsts[j].what, short_segs[i],
				 stat_field[short_firsts[j].cls].name);
			judged(dp, l, &p, short_firsts[j].cls);
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
