/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The policy model on every judged shape: verdict paths, ports, actions: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 */

/* ---- sections ---- */

/* doc/DESIGN.md's policy model, on every corner of the nested tables. */
static void test_verdict_paths(struct dp *dp, const struct encap *enc)
{
	const struct who *w;
	char l[256];
	struct pkt p;
	size_t n, i, f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		syn(&p, enc, fam, SMTP);
		w = who_table(fam, &n);
		snprintf(l, sizeof(l), "policy: ipv%d tcp/%d", fam, SMTP);
		for (i = 0; i < n; i++)
			judged_as(dp, l, &p, ST_smtp, &w[i]);
	}
}

/*
 * From a denied subscriber to the outside, only TCP to a blocked
 * destination port is judged, and then every segment whatever its flags
 * (doc/DESIGN.md: not only SYNs).
 */
static void test_segments(struct dp *dp, const struct encap *enc)
{
#define OTHER_PORT(port)	{ "ports", port, TH_SYN, 0, TL_NONE, "passes" }
#define SEGMENT(name, flags, payload)					\
	{ "segments", SMTP, flags, payload, ST_smtp, name }
	static const struct {
		const char *kind;	/* the label's first word */
		__u16 dport;
		__u8 flags;
		__u32 payload;
		int cls;		/* ST_smtp, or TL_NONE: passes */
		const char *what;
	} segs[] = {
		OTHER_PORT(SUBMISSION), OTHER_PORT(SMTPS), OTHER_PORT(HTTP),
		OTHER_PORT(SMTP - 1), OTHER_PORT(SMTP + 1),
		/* 25 with its bytes swapped: a missing ntohs */
		OTHER_PORT((__u16)(SMTP << 8)), OTHER_PORT(0),
		OTHER_PORT(PORT_MAX),
		SEGMENT("syn", TH_SYN, 0),
		SEGMENT("syn-ack", TH_SYN | TH_ACK, 0),
		SEGMENT("ack", TH_ACK, 0),
		SEGMENT("data", TH_PUSH | TH_ACK, 512),
		SEGMENT("fin", TH_FIN | TH_ACK, 0),
		SEGMENT("rst", TH_RST, 0),
		SEGMENT("rst-ack", TH_RST | TH_ACK, 0),
		SEGMENT("no flags", 0, 0),
	};
#undef OTHER_PORT
#undef SEGMENT
	char l[256];
	struct pkt p;
	size_t i, f;

	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		for (i = 0; i < ARRAY_SIZE(segs); i++) {
			tcp_seg(&p, enc, fam, segs[i].dport, segs[i].flags,
				segs[i].payload);
			snprintf(l, sizeof(l), "%s: ipv%d tcp/%u %s",
				 segs[i].kind, fam, segs[i].dport,
				 segs[i].what);
			outcome(dp, l, &p, segs[i].cls);
		}

		/* a reply from a mail server: source port 25 */
		lay_l2(&p, enc);
		pkt_ip(&p, fam, denied(fam), outside(fam));
		pkt_tcp(&p, SMTP, SPORT, TH_SYN | TH_ACK);
		pkt_done(&p);
		snprintf(l, sizeof(l),
			 "ports: ipv%d tcp source port %d passes", fam, SMTP);
		passed(dp, l, &p);

		/* UDP to 25 */
		lay_l2(&p, enc);
		pkt_ip(&p, fam, denied(fam), outside(fam));
		pkt_udp(&p, SPORT, SMTP);
		pkt_bytes(&p, 32, 0);
		pkt_done(&p);
		snprintf(l, sizeof(l), "ports: ipv%d udp/%d passes", fam,
			 SMTP);
		passed(dp, l, &p);
	}
}

/* A SYN to each port, judged or passed as the bitmap now says. */
struct port_probe {
	__u16 port;
	int cls;		/* ST_smtp, or TL_NONE: passes */
	const char *what;
};

static void probe_ports(struct dp *dp, const struct encap *enc, int fam,
			const struct port_probe *pp, size_t n)
{
	char l[256];
	struct pkt p;
	size_t i;

	for (i = 0; i < n; i++) {
		syn(&p, enc, fam, pp[i].port);
		snprintf(l, sizeof(l), "bitmap: ipv%d tcp/%u %s", fam,
			 pp[i].port, pp[i].what);
		outcome(dp, l, &p, pp[i].cls);
	}
}

/* The blocked-port bitmap is read live: ports can be added and removed. */
static void test_port_bitmap(struct dp *dp, const struct encap *enc)
{
	static const struct port_probe added[] = {
		{ ALT_SMTP, ST_smtp, "once added" },
		{ PORT_MAX, ST_smtp, "once added" },
		{ 0, ST_smtp, "once added" },
		{ SMTP, ST_smtp, "still blocked" },
		{ ALT_SMTP + 1, TL_NONE, "neighbour passes" },
		{ PORT_MAX - 1, TL_NONE, "neighbour passes" },
	};
	static const struct port_probe smtp_removed[] = {
		{ SMTP, TL_NONE, "once removed" },
		{ ALT_SMTP, ST_smtp, "with 25 removed" },
	};
	static const struct port_probe restored[] = {
		{ ALT_SMTP, TL_NONE, "once removed" },
		{ SMTP, ST_smtp, "restored" },
	};
	size_t f;

	_Static_assert(SMTP == 25, "the label says 25");
	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];

		set_port(dp, ALT_SMTP, true);
		set_port(dp, PORT_MAX, true);
		set_port(dp, 0, true);
		probe_ports(dp, enc, fam, added, ARRAY_SIZE(added));

		set_port(dp, SMTP, false);
		probe_ports(dp, enc, fam, smtp_removed,
			    ARRAY_SIZE(smtp_removed));

		set_port(dp, SMTP, true);
		set_port(dp, ALT_SMTP, false);
		set_port(dp, PORT_MAX, false);
		set_port(dp, 0, false);
		probe_ports(dp, enc, fam, restored, ARRAY_SIZE(restored));
	}
}

/* monitor lets blocked packets through but counts them; reject drops. */
static void test_actions(struct dp *dp, const struct encap *enc)
{
	static const struct named acts[] = {
		{ "monitor", OP25B_ACT_MONITOR },
		{ "reject", OP25B_ACT_REJECT },
	};
	char l[256];
	struct pkt p;
	size_t a, f;

	for (a = 0; a < ARRAY_SIZE(acts); a++) {
		set_action(dp, acts[a].v);
		for (f = 0; f < ARRAY_SIZE(families); f++) {
			int fam = families[f];

			syn(&p, enc, fam, SMTP);
			snprintf(l, sizeof(l), "action %s: ipv%d tcp/%d",
				 acts[a].name, fam, SMTP);
			judged(dp, l, &p, ST_smtp);

			syn(&p, enc, fam, SUBMISSION);
			snprintf(l, sizeof(l), "action %s: ipv%d tcp/%d",
				 acts[a].name, fam, SUBMISSION);
			passed(dp, l, &p);
		}
		/* classes other than smtp follow the action too */
		lay_l2(&p, enc);
		pkt_ipv4(&p, DENIED4, OUT4);
		pkt_ipv4_frag(&p, 0, 1);
		pkt_tcp(&p, SPORT, SMTP, TH_ACK);
		pkt_done(&p);
		snprintf(l, sizeof(l), "action %s: ipv4 fragment offset 1",
			 acts[a].name);
		judged(dp, l, &p, ST_evasion);
	}
	set_action(dp, OP25B_ACT_DROP);
	syn(&p, enc, 4, SMTP);
	judged(dp, "action drop again: ipv4 tcp/25", &p, ST_smtp);
}

DP_AREA(actions)
{
	test_actions(dps->l2, &enc_eth);
	test_actions(dps->l3, &enc_l3);
}
