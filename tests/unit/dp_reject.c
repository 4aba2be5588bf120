/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Action reject: the RST, byte for byte: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 */

/* ---- action reject: the RST ---- */

#define SEQ		0x25000001u
#define ACKNO		0xfeedf00du

/* A segment from a denied subscriber: seq, data offset, bytes after it. */
static void rst_seg(struct pkt *p, const struct encap *e, int fam,
		    __u8 flags, __u32 seq, __u8 doff, __u32 bytes)
{
	lay_l2(p, e);
	pkt_ip(p, fam, denied(fam), outside(fam));
	pkt_tcp(p, SPORT, SMTP, flags);
	pkt_put32(p, p->l4 + 4, seq);
	pkt_put32(p, p->l4 + 8, ACKNO);
	p->d[p->l4 + 12] = doff << 4;
	pkt_bytes(p, bytes, 'x');
	pkt_done(p);
}

/*
 * The TCP checksum field as a local socket leaves it in a
 * CHECKSUM_PARTIAL skb: the folded pseudo-header sum alone.
 */
static void set_partial(struct pkt *p)
{
	pkt_put16(p, p->l4 + 16, tl_fold(pseudo_sum(p, tcp_seg_len(p))));
}

/* From a denied subscriber to an outside host: answered if reject.h says so. */
static void answered(struct dp *dp, const char *label, const struct pkt *p)
{
	const struct who *w;
	size_t n;

	w = who_table(p->family, &n);
	judged_as(dp, label, p, ST_smtp, &w[0]);
}

/* Answered as sent, and again with the TCP checksum left partial. */
static void answered_and_partial(struct dp *dp, const char *label,
				 struct pkt *p)
{
	char l[320];

	answered(dp, label, p);
	set_partial(p);
	snprintf(l, sizeof(l), "%s, checksum partial", label);
	answered(dp, l, p);
}

/* Shapes of segment and of header, each with the answer it must get. */
static void test_reject_shapes(struct dp *dp, const struct encap *e, int fam)
{
	static const struct {
		const char *name;
		__u8 flags;
		__u32 seq;
		__u8 doff;
		__u32 bytes;
	} segs[] = {
		{ "syn", TH_SYN, SEQ, 5, 0 },
		{ "syn with 100 bytes of data", TH_SYN, SEQ, 5, 100 },
		{ "syn-fin", TH_SYN | TH_FIN, SEQ, 5, 0 },
		{ "fin without ack, 10 bytes", TH_FIN, SEQ, 5, 10 },
		{ "no flags, 7 bytes", 0, SEQ, 5, 7 },
		{ "ack with 512 bytes", TH_PUSH | TH_ACK, SEQ, 5, 512 },
		{ "fin-ack", TH_FIN | TH_ACK, SEQ, 5, 0 },
		{ "syn-ack", TH_SYN | TH_ACK, SEQ, 5, 0 },
		{ "syn, seq wraps", TH_SYN, 0xffffffffu, 5, 0 },
		{ "fin, 5 bytes, seq wraps", TH_FIN, 0xfffffffeu, 5, 5 },
		{ "syn, data offset 3, 40 bytes", TH_SYN, SEQ, 3, 40 },
		{ "syn, data offset 15 beyond 30 bytes", TH_SYN, SEQ, 15, 30 },
		{ "syn, data offset 8, 30 bytes of data", TH_SYN, SEQ, 8, 42 },
		{ "rst (dropped unanswered)", TH_RST, SEQ, 5, 0 },
		{ "rst-ack (dropped unanswered)", TH_RST | TH_ACK, SEQ, 5, 0 },
		{ "syn-rst (dropped unanswered)", TH_SYN | TH_RST, SEQ, 5, 0 },
	};
	char l[256];
	struct pkt p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(segs); i++) {
		rst_seg(&p, e, fam, segs[i].flags, segs[i].seq, segs[i].doff,
			segs[i].bytes);
		snprintf(l, sizeof(l), "reject: %s ipv%d %s", e->name, fam,
			 segs[i].name);
		answered_and_partial(dp, l, &p);
	}

	/* the answer ends with the datagram, not with the frame */
	lay_l2(&p, e);
	pkt_ip(&p, fam, denied(fam), outside(fam));
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_bytes(&p, 10, 'x');
	pkt_done(&p);
	pkt_bytes(&p, 6, 0);
	snprintf(l, sizeof(l), "reject: %s ipv%d syn, 10 bytes, link padding",
		 e->name, fam);
	answered(dp, l, &p);

	if (fam == 4) {
		static const __u8 ihls[] = { 6, 10, 15 };

		for (i = 0; i < ARRAY_SIZE(ihls); i++) {
			lay_l2(&p, e);
			pkt_ipv4_ihl(&p, ihls[i], DENIED4, OUT4);
			pkt_tcp(&p, SPORT, SMTP, TH_SYN);
			pkt_bytes(&p, 8, 'x');
			pkt_done(&p);
			snprintf(l, sizeof(l),
				 "reject: %s ipv4 ihl %u syn (answered with ihl 5)",
				 e->name, ihls[i]);
			/* tc: the TCP header moves, a PARTIAL sum cannot */
			answered_and_partial(dp, l, &p);
		}
		return;
	}

	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_ipv6_ext(&p, IPPROTO_ROUTING, 24);
	pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
	pkt_tcp(&p, SPORT, SMTP, TH_PUSH | TH_ACK);
	pkt_put32(&p, p.l4 + 8, ACKNO);
	pkt_bytes(&p, 64, 'x');
	pkt_done(&p);
	snprintf(l, sizeof(l),
		 "reject: %s ipv6 hop-by-hop, routing, destination options, ack (answered without them)",
		 e->name);
	answered_and_partial(dp, l, &p);

	/* SEG.LEN of a first fragment is what this fragment carries */
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_put32(&p, p.l4 + 4, SEQ);
	pkt_bytes(&p, 48, 'x');
	pkt_done(&p);
	snprintf(l, sizeof(l), "reject: %s ipv6 first fragment syn, 48 bytes",
		 e->name);
	answered(dp, l, &p);

	/* RFC 2675: a jumbogram's datagram is the whole frame */
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_put32(&p, p.l4 + 4, SEQ);
	pkt_bytes(&p, 20, 'x');
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l), "reject: %s ipv6 jumbogram syn, 20 bytes",
		 e->name);
	answered(dp, l, &p);
}

/* The RST of action reject, on every encapsulation it keeps. */
static void test_reject(struct dp *dp)
{
	static const struct encap l2_encs[] = {
		{ .name = "ethernet" },
		{ .name = "vlan 0x8100", .nvlan = 1, .tpid = { ETH_P_8021Q } },
		{ .name = "qinq 0x88a8+0x8100", .nvlan = 2,
		  .tpid = { ETH_P_8021AD, ETH_P_8021Q } },
		{ .name = "pppoe", .pppoe = true },
		{ .name = "vlan 0x8100 pppoe", .nvlan = 1,
		  .tpid = { ETH_P_8021Q }, .pppoe = true },
		{ .name = "qinq 0x9100+0x8100 pppoe", .nvlan = 2,
		  .tpid = { ETH_P_QINQ1, ETH_P_8021Q }, .pppoe = true },
	};
	size_t i, f;

	if (dp->l3) {
		for (f = 0; f < ARRAY_SIZE(families); f++)
			test_reject_shapes(dp, &enc_l3, families[f]);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(l2_encs); i++)
		for (f = 0; f < ARRAY_SIZE(families); f++)
			test_reject_shapes(dp, &l2_encs[i], families[f]);
}

/* every judged shape again, answered where reject.h says so */
DP_AREA(reject)
{
	set_action(dps->l2, OP25B_ACT_REJECT);
	set_action(dps->l3, OP25B_ACT_REJECT);
	set_action(dps->l2e, OP25B_ACT_REJECT);
	suite_l2(dps->l2);
	suite_l3(dps->l3);
	test_reject(dps->l2);
	test_reject(dps->l3);
	/* the direction changes where tc sends the RST, not the RST */
	test_reject(dps->l2e);
	set_action(dps->l2, OP25B_ACT_DROP);
	set_action(dps->l3, OP25B_ACT_DROP);
}
