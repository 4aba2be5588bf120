/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Devices without an Ethernet header: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 */

/* ---- L3 devices ---- */

static void test_l3_only(struct dp *dp)
{
	static const __u8 nibbles[] = { 0, 1, 2, 3, 5, 7, 8, 15 };
	static const __u32 short4[] = { ETH_HLEN, TL_IPV4_HLEN - 1 };
	static const __u32 short6[] = { ETH_HLEN, TL_IPV6_HLEN - 1 };
	char l[256];
	struct pkt p;
	size_t i, f;

	for (f = 0; f < ARRAY_SIZE(families); f++)
		for (i = 0; i < ARRAY_SIZE(nibbles); i++) {
			syn(&p, &enc_l3, families[f], SMTP);
			pkt_set_version(&p, nibbles[i]);
			snprintf(l, sizeof(l),
				 "l3: ipv%d tcp/%d with version nibble %u passes",
				 families[f], SMTP, nibbles[i]);
			passed(dp, l, &p);
		}
	for (i = 0; i < ARRAY_SIZE(short4); i++) {
		syn(&p, &enc_l3, 4, SMTP);
		pkt_cut(&p, short4[i]);
		snprintf(l, sizeof(l), "l3: ipv4 packet of %u bytes passes",
			 short4[i]);
		passed(dp, l, &p);
	}
	for (i = 0; i < ARRAY_SIZE(short6); i++) {
		syn(&p, &enc_l3, 6, SMTP);
		pkt_cut(&p, short6[i]);
		snprintf(l, sizeof(l), "l3: ipv6 packet of %u bytes passes",
			 short6[i]);
		passed(dp, l, &p);
	}
}
