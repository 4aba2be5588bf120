/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A rule's hits where CPUs share the hits map's stripes (bpf/core.h,
 * hit_count): a part of test_datapath (see its head), built in its
 * translation unit over the harness in dp_harness.h.
 */

/* ---- hits in shared stripes ---- */

/* Rule i's id in dp's live policy. */
static __u32 rid_of(struct dp *dp, int i)
{
	const struct engine_rule *r;
	struct engine_rule *v;
	__u32 rid;
	size_t n;

	if (engine_rules(&dp->eng, ENGINE_ALL_TABLES, false, &v, &n))
		tl_bug("reading the rules: %s", dp->eng.err);
	r = rule_in(v, n, i);
	if (!r)
		tl_bug("rule %s is not in the live policy", rules[i].prefix);
	rid = r->rid;
	free(v);
	return rid;
}

/* Rule rid's counter in stripe s, as the hits map holds it. */
static __u64 hits_raw(const struct dp *dp, __u32 s, __u32 rid)
{
	__u32 k = s * dp->eng.rules_max + rid;
	__u64 v;

	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.op25b_hits), &k,
				&v))
		tl_bug("reading op25b_hits: %s", strerror(errno));
	return v;
}

/*
 * The datapath told its CPUs share one stripe (as on a machine with more
 * CPUs than OP25B_HIT_STRIPES_MAX): a blocked SYN judged on each CPU in
 * turn counts its rule's hit in stripe 0, and nowhere else.
 */
static void test_shared_stripes(struct dp *dp)
{
	__u32 rid = rid_of(dp, R_S4_DENY), ret = 0;
	cpu_set_t old, one;
	struct pkt p;
	int c;

	if (sched_getaffinity(0, sizeof(old), &old))
		tl_bug("affinity: %s", strerror(errno));
	syn(&p, &enc_eth, 4, SMTP);
	for (c = 0; c < ncpus && c < 4; c++) {
		__u64 s0 = hits_raw(dp, 0, rid), sc = hits_raw(dp, c, rid);
		char l[160];

		CPU_ZERO(&one);
		CPU_SET(c, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue;	/* not a CPU this test may run on */
		if (tl_run(dp->prog[0].fd, &p, &ret))
			tl_bug("test_run failed");
		snprintf(l, sizeof(l),
			 "hits [%s]: a blocked SYN on CPU %d counts in the one stripe the CPUs share",
			 dp->name, c);
		tl_check(ret == XDP_DROP && hits_raw(dp, 0, rid) == s0 + 1 &&
				 (!c || hits_raw(dp, c, rid) == sc),
			 l, "verdict %u, stripe 0 +%llu, stripe %d +%llu", ret,
			 (unsigned long long)(hits_raw(dp, 0, rid) - s0), c,
			 (unsigned long long)(hits_raw(dp, c, rid) - sc));
	}
	sched_setaffinity(0, sizeof(old), &old);
}

DP_AREA(hits)
{
	struct dp h = { .name = "l2 one hit stripe", .hit_stripes = 1 };

	if (ncpus < 2) {
		tl_skip("hits: stripes shared between CPUs",
			"one CPU: no two CPUs to share a stripe");
		return;
	}
	if (dp_load(&h))
		test_shared_stripes(&h);
	dp_unload(&h);
}
