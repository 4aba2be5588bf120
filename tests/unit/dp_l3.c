/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Devices without an Ethernet header: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 */

/* ---- L3 devices ---- */

static void test_l3_only(struct dp *dp)
{
	static const __u8 nibbles[] = { 0, 1, 2, 3, 5, 7, 8, 15 };
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
	/* shorter than the IP header: an Ethernet header's worth, one short */
	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];
		const __u32 lens[] = { ETH_HLEN, ip_hlen(fam) - 1 };

		for (i = 0; i < ARRAY_SIZE(lens); i++) {
			syn(&p, &enc_l3, fam, SMTP);
			pkt_cut(&p, lens[i]);
			snprintf(l, sizeof(l),
				 "l3: ipv%d packet of %u bytes passes", fam,
				 lens[i]);
			passed(dp, l, &p);
		}
	}
}

DP_AREA(l3)
{
	suite_l3(dps->l3);
}
