/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the verifier does with the datapath: a part of test_datapath (see
 * its head), built in its translation unit over the harness in dp_harness.h.
 */

/* ---- the verifier's work (doc/DESIGN.md, "Datapath") ---- */

/*
 * Instructions the verifier may walk for one program, this project's own
 * bound, far below the kernel's million: 11,600 to 15,100 with clang 14,
 * 16 and 19 on kernel 6.18. It was 67,000 to 105,000 before the steps after
 * the decision and the IPv6 chain became global functions, and a change
 * that walks the parser's paths again (an inlined walk, a step moved back
 * into the entry point) lands far above it. A new kernel or compiler may
 * move the count a little; not by half.
 */
#define VERIFIER_BUDGET		30000

static void test_verifier(struct dp *const dps[], int n)
{
	struct bpf_prog_info info;
	int d, i;
	__u32 len;
	char l[160];

	for (d = 0; d < n; d++) {
		for (i = 0; i < 2; i++) {
			memset(&info, 0, sizeof(info));
			len = sizeof(info);
			if (bpf_obj_get_info_by_fd(dps[d]->prog[i].fd, &info, &len))
				tl_bug("prog info: %s", strerror(errno));
			snprintf(l, sizeof(l),
				 "verifier [%s %s]: %u instructions walked, within %u",
				 dps[d]->name, dps[d]->prog[i].name,
				 info.verified_insns, VERIFIER_BUDGET);
			tl_check(info.verified_insns > 0 &&
					 info.verified_insns <= VERIFIER_BUDGET,
				 l, "%u", info.verified_insns);
		}
	}
}

DP_AREA(verifier)
{
	test_verifier((struct dp *[]){ dps->l2, dps->l3, dps->l2e }, 3);
}
