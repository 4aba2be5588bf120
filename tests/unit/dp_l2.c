/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Ethernet, VLAN tags and PPPoE in front of IP: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 */

/* ---- L2 ---- */

static const __u16 tpids[] = { ETH_P_8021Q, ETH_P_8021AD, ETH_P_QINQ1 };
#define NTPID ARRAY_SIZE(tpids)

static void encap_name(struct encap *e, char *buf, size_t n)
{
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < e->nvlan; i++)
		len += snprintf(buf + len, n - len, "%svlan 0x%04x",
				i ? "+" : "", e->tpid[i]);
	if (e->pppoe)
		snprintf(buf + len, n - len, "%spppoe", len ? " " : "");
	if (!buf[0])
		snprintf(buf, n, "ethernet");
	e->name = buf;
}

/* A tcp/25 packet the encapsulation must not hide, and a 587 one. */
static void judged_through(struct dp *dp, const struct encap *enc)
{
	char l[256];
	struct pkt p;
	size_t f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		syn(&p, enc, fam, SMTP);
		snprintf(l, sizeof(l), "l2: %s ipv%d tcp/%d", enc->name, fam,
			 SMTP);
		judged(dp, l, &p, ST_smtp);
		syn(&p, enc, fam, SUBMISSION);
		snprintf(l, sizeof(l), "l2: %s ipv%d tcp/%d passes",
			 enc->name, fam, SUBMISSION);
		passed(dp, l, &p);
	}
}

static void test_vlans(struct dp *dp)
{
	struct encap e;
	char name[96], l[256];
	struct pkt p;
	size_t i, j, f;
	int pppoe;

	for (pppoe = 0; pppoe <= 1; pppoe++) {
		memset(&e, 0, sizeof(e));
		e.pppoe = pppoe;
		encap_name(&e, name, sizeof(name));
		judged_through(dp, &e);
		for (i = 0; i < ARRAY_SIZE(tpids); i++) {
			e.nvlan = 1;
			e.tpid[0] = tpids[i];
			encap_name(&e, name, sizeof(name));
			judged_through(dp, &e);
			for (j = 0; j < ARRAY_SIZE(tpids); j++) {
				e.nvlan = 2;
				e.tpid[1] = tpids[j];
				encap_name(&e, name, sizeof(name));
				judged_through(dp, &e);
			}
		}
	}

	/* A third tag is beyond OP25B_VLAN_MAX: pass, in every order. */
	for (pppoe = 0; pppoe <= 1; pppoe++)
		for (i = 0; i < NTPID * NTPID * NTPID; i++)
			for (f = 0; f < ARRAY_SIZE(families); f++) {
				memset(&e, 0, sizeof(e));
				e.nvlan = 3;
				e.tpid[0] = tpids[i / (NTPID * NTPID)];
				e.tpid[1] = tpids[i / NTPID % NTPID];
				e.tpid[2] = tpids[i % NTPID];
				e.pppoe = pppoe;
				encap_name(&e, name, sizeof(name));
				syn(&p, &e, families[f], SMTP);
				snprintf(l, sizeof(l),
					 "l2: %s ipv%d tcp/%d passes (3 tags)",
					 e.name, families[f], SMTP);
				passed(dp, l, &p);
			}
}

/* Ethertypes other than IP, VLAN and PPPoE session pass. */
static void test_ethertypes(struct dp *dp)
{
	static const struct named types[] = {
		{ "arp", ETH_P_ARP },
		{ "pppoe discovery", ETH_P_PPP_DISC },
		{ "lldp", ETH_P_LLDP },
		{ "mpls", ETH_P_MPLS_UC },
		{ "802.3 length", 0x0100 },
	};
	struct encap e = { 0 };
	char name[96], l[256];
	struct pkt p;
	size_t i, f;
	int v;

	/* an IP packet behind the wrong ethertype, at every tag depth */
	for (v = 0; v <= 2; v++) {
		e.nvlan = v;
		e.tpid[0] = ETH_P_8021AD;
		e.tpid[1] = ETH_P_8021Q;
		encap_name(&e, name, sizeof(name));
		for (i = 0; i < ARRAY_SIZE(types); i++)
			for (f = 0; f < ARRAY_SIZE(families); f++) {
				syn(&p, &e, families[f], SMTP);
				pkt_put16(&p, p.l3 - 2, types[i].v);
				snprintf(l, sizeof(l),
					 "l2: %s ethertype %s (0x%04x) carrying ipv%d tcp/%d passes",
					 e.name, types[i].name, types[i].v,
					 families[f], SMTP);
				passed(dp, l, &p);
			}
	}

	/* a real ARP request */
	pkt_init(&p);
	pkt_eth(&p);
	pkt_type(&p, ETH_P_ARP);
	pkt_bytes(&p, 28, 0);
	passed(dp, "l2: arp request passes", &p);
}

static void test_pppoe(struct dp *dp)
{
	/* header bytes other than a session's: the frame is not ours */
	static const struct {
		const char *field;
		int off;		/* in the PPPoE header */
		__u8 bad[6];
	} fields[] = {
		{ "ver/type", 0, { 0x00, 0x10, 0x01, 0x12, 0x21, 0xff } },
		{ "code", 1, { 0x09, 0x07, 0x19, 0x65, 0xa7, 0x01 } },
	};
	static const struct named protos[] = {
		{ "lcp", PPP_LCP },
		{ "ipcp", PPP_IPCP },
		{ "ipv6cp", PPP_IPV6CP },
		{ "zero", 0 },
		{ "ethertype ipv4", ETH_P_IP },
		{ "ethertype ipv6", ETH_P_IPV6 },
	};
	static const __u16 pppoe_lens[] = { 0, 1, 0xffff };
	const struct encap e = { .name = "pppoe", .pppoe = true };
	char l[256];
	struct pkt p;
	size_t i, j, f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		/* session id and the untrusted length field do not matter */
		syn(&p, &e, fam, SMTP);
		pkt_put16(&p, p.pppoe + 2, 0);
		snprintf(l, sizeof(l), "pppoe: ipv%d session id 0", fam);
		judged(dp, l, &p, ST_smtp);
		for (i = 0; i < ARRAY_SIZE(pppoe_lens); i++) {
			syn(&p, &e, fam, SMTP);
			pkt_put16(&p, p.pppoe + 4, pppoe_lens[i]);
			snprintf(l, sizeof(l),
				 "pppoe: ipv%d length field %u not trusted",
				 fam, pppoe_lens[i]);
			judged(dp, l, &p, ST_smtp);
		}

		for (j = 0; j < ARRAY_SIZE(fields); j++)
			for (i = 0; i < ARRAY_SIZE(fields[j].bad); i++) {
				syn(&p, &e, fam, SMTP);
				pkt_put8(&p, p.pppoe + fields[j].off,
					 fields[j].bad[i]);
				snprintf(l, sizeof(l),
					 "pppoe: ipv%d %s 0x%02x passes", fam,
					 fields[j].field, fields[j].bad[i]);
				passed(dp, l, &p);
			}
		for (i = 0; i < ARRAY_SIZE(protos); i++) {
			syn(&p, &e, fam, SMTP);
			pkt_put16(&p, p.l3 - 2, protos[i].v);
			snprintf(l, sizeof(l),
				 "pppoe: ppp protocol %s (0x%04x) carrying ipv%d passes",
				 protos[i].name, protos[i].v, fam);
			passed(dp, l, &p);
		}
	}
}

DP_AREA(l2)
{
	suite_l2(dps->l2);
}
