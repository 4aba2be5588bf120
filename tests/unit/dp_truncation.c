/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Frames cut short at every layer: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 */

/* ---- truncation at every layer ---- */

static void test_truncated(struct dp *dp)
{
	static const __u32 eth_cuts[] = { 1, ETH_HLEN - 1 };
	static const __u32 tcp_cuts[] = { 0, 1, 8, 19 };
	const struct encap *encs[3];
	struct encap vlan = { .name = "vlan 0x8100", .nvlan = 1,
			      .tpid = { ETH_P_8021Q } };
	struct encap pppoe = { .name = "vlan 0x88a8 pppoe", .nvlan = 1,
			       .tpid = { ETH_P_8021AD }, .pppoe = true };
	char l[256];
	struct pkt p;
	size_t i, k, f;
	__u32 n;

	encs[0] = &enc_eth;
	encs[1] = &vlan;
	encs[2] = &pppoe;

	/* Ethernet header itself: test_run may refuse under 14 bytes */
	for (i = 0; i < ARRAY_SIZE(eth_cuts); i++) {
		__u32 ret;
		int err;

		n = eth_cuts[i];
		syn(&p, &enc_eth, 4, SMTP);
		pkt_cut(&p, n);
		err = tl_run(dp->prog[0].fd, &p, &ret);
		if (err == -EINVAL) {
			snprintf(l, sizeof(l),
				 "truncated: ethernet of %u bytes never reaches the program (test_run refuses it)",
				 n);
			tl_ok(l);
			continue;
		}
		snprintf(l, sizeof(l), "truncated: ethernet of %u bytes", n);
		passed(dp, l, &p);
	}

	/* a VLAN tag cut short, first or second */
	for (i = 0; i < ARRAY_SIZE(tpids); i++) {
		for (n = 1; n < 4; n++) {
			pkt_init(&p);
			pkt_eth(&p);
			pkt_vlan(&p, tpids[i], VID(0));
			pkt_type(&p, ETH_P_IP);
			pkt_cut(&p, ETH_HLEN + n);
			snprintf(l, sizeof(l),
				 "truncated: vlan 0x%04x tag cut to %u bytes",
				 tpids[i], n);
			passed(dp, l, &p);
		}
		pkt_init(&p);
		pkt_eth(&p);
		pkt_vlan(&p, ETH_P_8021AD, VID(0));
		pkt_vlan(&p, tpids[i], VID(1));
		pkt_type(&p, ETH_P_IP);
		pkt_cut(&p, ETH_HLEN + 4 + 2);
		snprintf(l, sizeof(l),
			 "truncated: second tag 0x%04x cut to 2 bytes",
			 tpids[i]);
		passed(dp, l, &p);
	}

	/* a PPPoE header (6 bytes + PPP protocol) cut short */
	for (n = 0; n < TL_PPPOE_HLEN + 2; n++) {
		pkt_init(&p);
		pkt_eth(&p);
		pkt_pppoe(&p, TL_PPPOE_VERTYPE, TL_PPPOE_CODE_SESSION,
			  PPPOE_SID);
		pkt_type(&p, PPP_IP);
		pkt_cut(&p, ETH_HLEN + n);
		snprintf(l, sizeof(l), "truncated: pppoe header cut to %u bytes",
			 n);
		passed(dp, l, &p);
	}

	for (k = 0; k < ARRAY_SIZE(encs); k++) {
		const struct encap *e = encs[k];

		for (f = 0; f < ARRAY_SIZE(families); f++) {
			int fam = families[f];
			const __u32 ip_cuts[] = { 0, 1, ip_hlen(fam) - 1 };

			/* an IP header cut short: nothing to judge */
			for (i = 0; i < ARRAY_SIZE(ip_cuts); i++) {
				syn(&p, e, fam, SMTP);
				pkt_cut(&p, p.l3 + ip_cuts[i]);
				snprintf(l, sizeof(l),
					 "truncated: %s ipv%d header of %u bytes passes",
					 e->name, fam, ip_cuts[i]);
				passed(dp, l, &p);
			}

			/* IP lengths agree with a TCP header under 20 bytes */
			for (i = 0; i < ARRAY_SIZE(tcp_cuts); i++) {
				lay_l2(&p, e);
				pkt_ip(&p, fam, denied(fam), outside(fam));
				pkt_tcp(&p, SPORT, SMTP, TH_SYN);
				pkt_cut(&p, p.l4 + tcp_cuts[i]);
				pkt_done(&p);
				snprintf(l, sizeof(l),
					 "truncated: %s ipv%d tcp header of %u bytes",
					 e->name, fam, tcp_cuts[i]);
				judged(dp, l, &p, ST_malformed);
			}
			/* the frame cut, the IP lengths claiming all of it */
			syn(&p, e, fam, SMTP);
			pkt_cut(&p, p.l4 + 10);
			snprintf(l, sizeof(l),
				 "truncated: %s ipv%d frame cut inside tcp, lengths intact",
				 e->name, fam);
			judged(dp, l, &p, ST_malformed);
		}
	}
}

/* The link layer's type picks the IP parser; the header must agree. */
static void test_family_mismatch(struct dp *dp)
{
	/* Bytes 4..7 of this source sit where IPv4 keeps its source: DENIED4 */
	static const char v6_reads_as_denied4[] = "2001:db8:a02:304::1";
	/* a SYN of one family under the other's type */
	static const struct {
		const char *what;
		int fam;
		__u32 keep;	/* IP bytes kept, or 0: all of them */
		struct expect want;
	} cases[] = {
		{ "ipv6 packet under the ipv4 type is malformed ipv4", 6, 0,
		  { V_DROP, BIT(ST_malformed) | BIT(ST_blocked),
		    BIT(R_S4_DENY) } },
		/* 40 bytes of IPv4 + TCP hold a whole IPv6 header's worth */
		{ "ipv4 packet under the ipv6 type is malformed ipv6", 4, 0,
		  { V_PASS, BIT(ST_malformed) | BIT(ST_not_subscriber), 0 } },
		{ "39-byte ipv4 packet under the ipv6 type passes", 4,
		  TL_IPV6_HLEN - 1, { V_PASS, 0, 0 } },
	};
	const struct encap pppoe = { .name = "pppoe", .pppoe = true };
	const struct encap *encs[] = { &enc_eth, &pppoe };
	char l[256];
	struct pkt p;
	size_t k, i;

	for (k = 0; k < ARRAY_SIZE(encs); k++) {
		const struct encap *e = encs[k];
		__u16 t4 = e->pppoe ? PPP_IP : ETH_P_IP;
		__u16 t6 = e->pppoe ? PPP_IPV6 : ETH_P_IPV6;

		for (i = 0; i < ARRAY_SIZE(cases); i++) {
			int fam = cases[i].fam;

			lay_l2(&p, e);
			pkt_ip(&p, fam, fam == 6 ? v6_reads_as_denied4 : DENIED4,
			       outside(fam));
			pkt_tcp(&p, SPORT, SMTP, TH_SYN);
			pkt_done(&p);
			pkt_put16(&p, p.l3 - 2, fam == 6 ? t4 : t6);
			if (cases[i].keep)
				pkt_cut(&p, p.l3 + cases[i].keep);
			snprintf(l, sizeof(l), "mismatch: %s %s", e->name,
				 cases[i].what);
			run_case(dp, l, &p, cases[i].want);
		}
	}
}
