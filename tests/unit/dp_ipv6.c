/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The IPv6 header, its extension chain and fragments: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 */

/* ---- IPv6 ---- */

static void v6_start(struct pkt *p, const struct encap *e)
{
	lay_l2(p, e);
	pkt_ipv6(p, DENIED6, OUT6);
}

/* An extension header; a fragment header here is an atomic fragment. */
static void v6_ext(struct pkt *p, __u8 type, __u32 bytes)
{
	if (type == IPPROTO_FRAGMENT)
		pkt_ipv6_frag(p, 0, false);
	else
		pkt_ipv6_ext(p, type, bytes);
}

/* A TCP header the parser would judge on its port, laid down raw. */
static void fake_tcp_bytes(struct pkt *p, __u16 dport)
{
	int off = p->len;

	pkt_bytes(p, TL_TCP_HLEN, 0);
	pkt_put16(p, off, SPORT);
	pkt_put16(p, off + 2, dport);
}

static const struct {
	const char *name;
	__u8 type;
	__u32 bytes;
} v6_exts[] = {
	{ "hop-by-hop", IPPROTO_HOPOPTS, 8 },
	{ "hop-by-hop", IPPROTO_HOPOPTS, 16 },
	{ "hop-by-hop", IPPROTO_HOPOPTS, 2048 },
	{ "routing", IPPROTO_ROUTING, 24 },
	{ "atomic fragment", IPPROTO_FRAGMENT, 8 },
	{ "destination options", IPPROTO_DSTOPTS, 8 },
	{ "destination options", IPPROTO_DSTOPTS, 64 },
	{ "ah", IPPROTO_AH, 12 },
	{ "ah", IPPROTO_AH, 24 },
	{ "ah", IPPROTO_AH, 1028 },
	{ "mobility", IPPROTO_MH, 8 },
	{ "mobility", IPPROTO_MH, 16 },
	{ "hip", TL_NH_HIP, 40 },
	{ "shim6", TL_NH_SHIM6, 8 },
};

static void test_ipv6_header(struct dp *dp, const struct encap *e)
{
	static const __u8 versions[] = { 0, 4, 7, 15 };
	static const struct {
		const char *name;
		__u8 nh;
	} others[] = {
		{ "esp", IPPROTO_ESP },
		{ "no next header", IPPROTO_NONE },
		{ "icmpv6", IPPROTO_ICMPV6 },
		{ "unknown 253", 253 },
	};
	char l[256];
	struct pkt p;
	size_t i;

	/* on an L3 device the version nibble itself picks the parser */
	for (i = 0; !e->l3 && i < ARRAY_SIZE(versions); i++) {
		syn(&p, e, 6, SMTP);
		pkt_set_version(&p, versions[i]);
		snprintf(l, sizeof(l), "ipv6: %s version %u is malformed",
			 e->name, versions[i]);
		judged(dp, l, &p, ST_malformed);
	}
	syn(&p, e, 6, SMTP);
	pkt_put16(&p, p.l3 + 4, p.len - p.l3 - TL_IPV6_HLEN + 1);
	snprintf(l, sizeof(l),
		 "ipv6: %s payload length one over the packet is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	syn(&p, e, 6, SMTP);
	pkt_put16(&p, p.l3 + 4, 0xffff);
	snprintf(l, sizeof(l), "ipv6: %s payload length 65535 is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	/* the version is checked before the next header */
	if (!e->l3) {
		v6_start(&p, e);
		pkt_udp(&p, SPORT, SMTP);
		pkt_done(&p);
		pkt_set_version(&p, 4);
		snprintf(l, sizeof(l),
			 "ipv6: %s udp with version 4 is malformed", e->name);
		judged(dp, l, &p, ST_malformed);
	}

	syn(&p, e, 6, SMTP);
	pkt_bytes(&p, 6, 0);
	snprintf(l, sizeof(l), "ipv6: %s tcp/%d with link padding", e->name,
		 SMTP);
	judged(dp, l, &p, ST_smtp);
	syn(&p, e, 6, SUBMISSION);
	pkt_bytes(&p, 100, 0);
	snprintf(l, sizeof(l), "ipv6: %s tcp/%d with link padding passes",
		 e->name, SUBMISSION);
	passed(dp, l, &p);
	syn(&p, e, 6, SMTP);
	pkt_put16(&p, p.l3 + 4, TL_TCP_HLEN - 1);
	snprintf(l, sizeof(l),
		 "ipv6: %s payload length ends 1 byte short of the tcp header",
		 e->name);
	judged(dp, l, &p, ST_malformed);

	for (i = 0; i < ARRAY_SIZE(others); i++) {
		v6_start(&p, e);
		pkt_nh(&p, others[i].nh);
		fake_tcp_bytes(&p, SMTP);
		pkt_done(&p);
		snprintf(l, sizeof(l), "ipv6: %s %s passes", e->name,
			 others[i].name);
		passed(dp, l, &p);

		v6_start(&p, e);
		pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
		pkt_nh(&p, others[i].nh);
		fake_tcp_bytes(&p, SMTP);
		pkt_done(&p);
		snprintf(l, sizeof(l), "ipv6: %s hop-by-hop then %s passes",
			 e->name, others[i].name);
		passed(dp, l, &p);
	}

	/* RFC 2675: a zero payload length with hop-by-hop is a jumbogram */
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l), "ipv6 jumbo: %s hop-by-hop tcp/%d", e->name,
		 SMTP);
	judged(dp, l, &p, ST_smtp);
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l), "ipv6 jumbo: %s hop-by-hop tcp/%d passes",
		 e->name, SUBMISSION);
	passed(dp, l, &p);
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_cut(&p, p.l4 + 10);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l),
		 "ipv6 jumbo: %s tcp cut at the end of the frame is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 16);
	pkt_cut(&p, p.len - 8);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l),
		 "ipv6 jumbo: %s hop-by-hop longer than the frame is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	syn(&p, e, 6, SMTP);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l),
		 "ipv6 jumbo: %s zero payload length without hop-by-hop, tcp, is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 0);
	snprintf(l, sizeof(l),
		 "ipv6 jumbo: %s zero payload length with destination options first is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
}

static void test_ipv6_chain(struct dp *dp, const struct encap *e)
{
	static const __u8 mixed[] = {
		IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT,
		IPPROTO_DSTOPTS, IPPROTO_AH, IPPROTO_MH, TL_NH_HIP,
		TL_NH_SHIM6,
	};
	static const __u32 mixed_len[] = { 8, 24, 8, 16, 12, 8, 40, 8 };
	char l[256];
	struct pkt p;
	size_t i;
	int n;

	_Static_assert(ARRAY_SIZE(mixed) == OP25B_IPV6_EXT_MAX,
		       "one of each extension header fills the bound");

	for (i = 0; i < ARRAY_SIZE(v6_exts); i++) {
		v6_start(&p, e);
		v6_ext(&p, v6_exts[i].type, v6_exts[i].bytes);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_done(&p);
		snprintf(l, sizeof(l), "ipv6 chain: %s %s (%u bytes) then tcp/%d",
			 e->name, v6_exts[i].name, v6_exts[i].bytes, SMTP);
		judged(dp, l, &p, ST_smtp);

		v6_start(&p, e);
		v6_ext(&p, v6_exts[i].type, v6_exts[i].bytes);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 chain: %s %s (%u bytes) then tcp/%d passes",
			 e->name, v6_exts[i].name, v6_exts[i].bytes,
			 SUBMISSION);
		passed(dp, l, &p);

		/* the datagram ends inside it, and no first fragment: malformed */
		v6_start(&p, e);
		v6_ext(&p, v6_exts[i].type, v6_exts[i].bytes);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_done(&p);
		pkt_put16(&p, p.l3 + 4, p.l4 - p.l3 - TL_IPV6_HLEN - 4);
		snprintf(l, sizeof(l),
			 "ipv6 chain: %s %s (%u bytes) cut 4 bytes short is malformed",
			 e->name, v6_exts[i].name, v6_exts[i].bytes);
		judged(dp, l, &p, ST_malformed);
	}

	/* exactly the bound, one of each type */
	for (n = 0; n < 2; n++) {
		__u16 port = n ? SUBMISSION : SMTP;

		v6_start(&p, e);
		for (i = 0; i < ARRAY_SIZE(mixed); i++)
			v6_ext(&p, mixed[i], mixed_len[i]);
		pkt_tcp(&p, SPORT, port, TH_SYN);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 chain: %s one of each of %d types then tcp/%u%s",
			 e->name, OP25B_IPV6_EXT_MAX, port,
			 n ? " passes" : "");
		if (n)
			passed(dp, l, &p);
		else
			judged(dp, l, &p, ST_smtp);
	}

	/* OP25B_IPV6_EXT_MAX headers are walked; one more is undecidable */
	for (n = OP25B_IPV6_EXT_MAX; n <= OP25B_IPV6_EXT_MAX + 1; n++) {
		/* what each end of a chain within the bound is */
		static const struct {
			const char *name;
			__u8 nh;
			__u16 port;
			int within;	/* class, or TL_NONE: passes */
		} ends[] = {
			{ "tcp/25", IPPROTO_TCP, SMTP, ST_smtp },
			{ "tcp/587", IPPROTO_TCP, SUBMISSION, TL_NONE },
			{ "udp/25", IPPROTO_UDP, SMTP, TL_NONE },
			{ "esp", IPPROTO_ESP, 0, TL_NONE },
			{ "no next header", IPPROTO_NONE, 0, TL_NONE },
		};
		bool over = n > OP25B_IPV6_EXT_MAX;
		int k, cls;

		for (i = 0; i < ARRAY_SIZE(ends); i++) {
			cls = over ? ST_undecidable : ends[i].within;
			v6_start(&p, e);
			for (k = 0; k < n; k++)
				pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
			if (ends[i].nh == IPPROTO_TCP) {
				pkt_tcp(&p, SPORT, ends[i].port, TH_SYN);
			} else if (ends[i].nh == IPPROTO_UDP) {
				pkt_udp(&p, SPORT, ends[i].port);
			} else {
				pkt_nh(&p, ends[i].nh);
				fake_tcp_bytes(&p, SMTP);
			}
			pkt_done(&p);
			snprintf(l, sizeof(l),
				 "ipv6 chain: %s %d destination options then %s%s",
				 e->name, n, ends[i].name,
				 cls == TL_NONE ? " passes" :
				 over ? " is undecidable" : "");
			if (cls == TL_NONE)
				passed(dp, l, &p);
			else
				judged(dp, l, &p, cls);
		}
	}

	/* a chain cut short outside any first fragment: malformed */
	for (n = 0; n < 3; n++) {
		static const __u32 keep[] = { 0, 4, 8 };

		v6_start(&p, e);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_cut(&p, p.l3 + TL_IPV6_HLEN + keep[n]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 chain: %s 16-byte destination options cut to %u bytes is malformed",
			 e->name, keep[n]);
		judged(dp, l, &p, ST_malformed);

		v6_start(&p, e);
		pkt_ipv6_frag(&p, 0, false);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_cut(&p, p.l3 + TL_IPV6_HLEN + 8 + keep[n]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 chain: %s atomic fragment, destination options cut to %u bytes is malformed",
			 e->name, keep[n]);
		judged(dp, l, &p, ST_malformed);
	}
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_cut(&p, p.len - 4);
	pkt_done(&p);
	snprintf(l, sizeof(l),
		 "ipv6 chain: %s fragment header itself cut to 4 bytes is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_AH, 24);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_cut(&p, p.l3 + TL_IPV6_HLEN + 12);
	pkt_done(&p);
	snprintf(l, sizeof(l),
		 "ipv6 chain: %s 24-byte ah cut to 12 bytes is malformed",
		 e->name);
	judged(dp, l, &p, ST_malformed);
}

static void test_ipv6_frags(struct dp *dp, const struct encap *e)
{
	static const __u16 offsets[] = { 2, 100, IP_OFFMASK };
	static const __u32 short_tcp[] = { 0, 8, 19 };
	static const __u32 keep[] = { 0, 4, 8 };
	char l[256];
	struct pkt p;
	size_t i;
	int m;

	for (m = 0; m <= 1; m++) {
		/* the port a later fragment would carry does not matter */
		v6_start(&p, e);
		pkt_ipv6_frag(&p, 1, m);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_ACK);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s offset 1 M=%d next tcp is evasion",
			 e->name, m);
		judged(dp, l, &p, ST_evasion);

		v6_start(&p, e);
		pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
		pkt_ipv6_ext(&p, IPPROTO_ROUTING, 24);
		pkt_ipv6_frag(&p, 1, m);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_ACK);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s hop-by-hop, routing, offset 1 M=%d next tcp is evasion",
			 e->name, m);
		judged(dp, l, &p, ST_evasion);

		v6_start(&p, e);
		pkt_ipv6_frag(&p, 1, m);
		pkt_udp(&p, SPORT, SMTP);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s offset 1 M=%d next udp passes", e->name,
			 m);
		passed(dp, l, &p);

		v6_start(&p, e);
		pkt_ipv6_frag(&p, 1, m);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
		pkt_tcp(&p, SPORT, SMTP, TH_ACK);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s offset 1 M=%d next destination options passes",
			 e->name, m);
		passed(dp, l, &p);

		for (i = 0; i < ARRAY_SIZE(offsets); i++) {
			v6_start(&p, e);
			pkt_ipv6_frag(&p, offsets[i], m);
			pkt_tcp(&p, SPORT, SMTP, TH_ACK);
			pkt_done(&p);
			snprintf(l, sizeof(l),
				 "ipv6 frag: %s offset %u M=%d next tcp passes",
				 e->name, offsets[i], m);
			passed(dp, l, &p);
		}
	}

	/* a first fragment is judged on its port when the chain reaches it */
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	snprintf(l, sizeof(l), "ipv6 frag: %s first fragment tcp/%d", e->name,
		 SMTP);
	judged(dp, l, &p, ST_smtp);
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
	pkt_bytes(&p, 256, 'x');
	pkt_done(&p);
	snprintf(l, sizeof(l), "ipv6 frag: %s first fragment tcp/%d passes",
		 e->name, SUBMISSION);
	passed(dp, l, &p);

	for (i = 0; i < ARRAY_SIZE(short_tcp); i++) {
		v6_start(&p, e);
		pkt_ipv6_frag(&p, 0, true);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
		pkt_cut(&p, p.l4 + short_tcp[i]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s first fragment with %u tcp bytes is evasion",
			 e->name, short_tcp[i]);
		judged(dp, l, &p, ST_evasion);

		v6_start(&p, e);
		pkt_ipv6_frag(&p, 0, true);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
		pkt_cut(&p, p.l4 + short_tcp[i]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s first fragment, destination options, %u tcp bytes is evasion",
			 e->name, short_tcp[i]);
		judged(dp, l, &p, ST_evasion);

		v6_start(&p, e);
		pkt_ipv6_frag(&p, 0, false);
		pkt_tcp(&p, SPORT, SUBMISSION, TH_SYN);
		pkt_cut(&p, p.l4 + short_tcp[i]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s atomic fragment with %u tcp bytes is malformed",
			 e->name, short_tcp[i]);
		judged(dp, l, &p, ST_malformed);
	}

	/* RFC 7112: a first fragment whose chain stops short of TCP */
	for (i = 0; i < ARRAY_SIZE(keep); i++) {
		v6_start(&p, e);
		pkt_ipv6_frag(&p, 0, true);
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
		pkt_tcp(&p, SPORT, SMTP, TH_SYN);
		pkt_cut(&p, p.l3 + TL_IPV6_HLEN + 8 + keep[i]);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ipv6 frag: %s first fragment, destination options cut to %u bytes is undecidable",
			 e->name, keep[i]);
		judged(dp, l, &p, ST_undecidable);
	}
	v6_start(&p, e);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, 8);
	pkt_ipv6_frag(&p, 0, true);
	pkt_ipv6_ext(&p, IPPROTO_ROUTING, 24);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_cut(&p, p.l3 + TL_IPV6_HLEN + 8 + 8 + 16);
	pkt_done(&p);
	snprintf(l, sizeof(l),
		 "ipv6 frag: %s hop-by-hop, first fragment, routing cut to 16 bytes is undecidable",
		 e->name);
	judged(dp, l, &p, ST_undecidable);
	/* the datagram ends where the payload length says, not the frame */
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 8 + 8);
	snprintf(l, sizeof(l),
		 "ipv6 frag: %s first fragment, payload length ends inside destination options is undecidable",
		 e->name);
	judged(dp, l, &p, ST_undecidable);
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 16);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	pkt_put16(&p, p.l3 + 4, 8 + 16 + 10);
	snprintf(l, sizeof(l),
		 "ipv6 frag: %s first fragment, payload length ends inside tcp is evasion",
		 e->name);
	judged(dp, l, &p, ST_evasion);

	/* first fragment over the bound is still undecidable */
	v6_start(&p, e);
	pkt_ipv6_frag(&p, 0, true);
	for (i = 0; i < OP25B_IPV6_EXT_MAX; i++)
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	snprintf(l, sizeof(l),
		 "ipv6 frag: %s first fragment and %d more headers is undecidable",
		 e->name, OP25B_IPV6_EXT_MAX);
	judged(dp, l, &p, ST_undecidable);
}
