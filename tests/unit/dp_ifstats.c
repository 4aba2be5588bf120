/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Counters per attachment (op25b.h, struct op25b_ifstats): a part of
 * test_datapath (see its head), built in its translation unit over the
 * harness in dp_harness.h.
 */

/* ---- counters per attachment ---- */

/* Every slot of dp's map, on every CPU, made free again. */
static void ifstats_clear(const struct dp *dp)
{
	int fd = bpf_map__fd(dp->skel->maps.op25b_ifstats);
	struct op25b_ifstats zero[ncpus];
	__u32 i;

	memset(zero, 0, sizeof(zero));
	for (i = 0; i <= OP25B_IFSTATS_SLOTS; i++)
		if (bpf_map_update_elem(fd, &i, zero, BPF_ANY))
			tl_bug("clearing op25b_ifstats: %s", strerror(errno));
}

/* Slot i's copies summed; *key: the key a CPU holds it for (or zeros). */
static void ifstats_slot(const struct dp *dp, __u32 i,
			 struct op25b_ifstats *sum)
{
	int fd = bpf_map__fd(dp->skel->maps.op25b_ifstats), c;
	struct op25b_ifstats v[ncpus];

	if (bpf_map_lookup_elem(fd, &i, v))
		tl_bug("reading op25b_ifstats: %s", strerror(errno));
	memset(sum, 0, sizeof(*sum));
	for (c = 0; c < ncpus; c++) {
		if (v[c].key.hook)
			sum->key = v[c].key;
		sum->blocked += v[c].blocked;
		sum->monitored += v[c].monitored;
		sum->passed += v[c].passed;
	}
}

/* A SYN to port 25 from src to an outside host. */
static void ifs_syn(struct pkt *p, const struct encap *enc, const char *src)
{
	lay_l2(p, enc);
	pkt_ip(p, 4, src, OUT4);
	pkt_tcp(p, SPORT, SMTP, TH_SYN);
	pkt_done(p);
}

static void ifs_run(const struct prog *pr, const struct pkt *p)
{
	__u32 ret;

	if (tl_run(pr->fd, p, &ret))
		tl_bug("test_run failed");
}

/*
 * Through one program: two blocked, one monitored, three passed (exempt,
 * not a subscriber, to a relay), one to an open port (not judged). Its
 * slot holds its attachment's key and exactly those; the global
 * counters moved by as much.
 */
static void ifstats_hook(struct dp *dp, int prog, const struct encap *enc,
			 __u32 hook)
{
	const struct prog *pr = &dp->prog[prog];
	__u32 slot = op25b_ifstats_slot(TEST_NETNS_INO, lo_ifindex, hook);
	struct op25b_ifstats s;
	struct snap a, b;
	struct pkt p;
	char l[256];

	ifstats_clear(dp);
	snapshot(dp, &a);
	ifs_syn(&p, enc, DENIED4);
	ifs_run(pr, &p);
	ifs_run(pr, &p);
	ifs_syn(&p, enc, EXEMPT4);
	ifs_run(pr, &p);
	ifs_syn(&p, enc, NONSUB4);
	ifs_run(pr, &p);
	lay_l2(&p, enc);
	pkt_ip(&p, 4, DENIED4, RELAY4);
	pkt_tcp(&p, SPORT, SMTP, TH_SYN);
	pkt_done(&p);
	ifs_run(pr, &p);
	syn(&p, enc, 4, HTTP);
	ifs_run(pr, &p);
	set_action(dp, OP25B_ACT_MONITOR);
	ifs_syn(&p, enc, DENIED4);
	ifs_run(pr, &p);
	set_action(dp, OP25B_ACT_DROP);
	snapshot(dp, &b);

	ifstats_slot(dp, slot, &s);
	snprintf(l, sizeof(l),
		 "ifstats [%s %s]: slot %u holds (netns, lo, hook %u): blocked 2, monitored 1, passed 3",
		 dp->name, pr->name, slot, hook);
	tl_check(s.key.netns_ino == TEST_NETNS_INO &&
			 s.key.ifindex == lo_ifindex && s.key.hook == hook &&
			 s.blocked == 2 && s.monitored == 1 && s.passed == 3,
		 l, "key (%llu, %u, %u), blocked %llu monitored %llu passed %llu",
		 (unsigned long long)s.key.netns_ino, s.key.ifindex,
		 s.key.hook, (unsigned long long)s.blocked,
		 (unsigned long long)s.monitored, (unsigned long long)s.passed);
	snprintf(l, sizeof(l),
		 "ifstats [%s %s]: the slot's counts are the global ones' moves",
		 dp->name, pr->name);
	tl_check(s.blocked == moved(&a, &b, ST_blocked) &&
			 s.monitored == moved(&a, &b, ST_monitored) &&
			 s.passed == moved(&a, &b, ST_exempt) +
					     moved(&a, &b, ST_not_subscriber) +
					     moved(&a, &b, ST_relay) +
					     moved(&a, &b, ST_limit_passed),
		 l, "blocked %llu monitored %llu exempt %llu not_subscriber %llu relay %llu",
		 moved(&a, &b, ST_blocked), moved(&a, &b, ST_monitored),
		 moved(&a, &b, ST_exempt), moved(&a, &b, ST_not_subscriber),
		 moved(&a, &b, ST_relay));

	/* the slot held for another attachment: "other" counts, it stays */
	{
		int fd = bpf_map__fd(dp->skel->maps.op25b_ifstats), c;
		struct op25b_ifstats held[ncpus], o;
		__u32 other = OP25B_IFSTATS_SLOTS;

		ifstats_clear(dp);
		memset(held, 0, sizeof(held));
		for (c = 0; c < ncpus; c++) {
			held[c].key.netns_ino = TEST_NETNS_INO + 1;
			held[c].key.ifindex = 77;
			held[c].key.hook = hook;
		}
		if (bpf_map_update_elem(fd, &slot, held, BPF_ANY))
			tl_bug("writing op25b_ifstats: %s", strerror(errno));
		ifs_syn(&p, enc, DENIED4);
		ifs_run(pr, &p);
		ifstats_slot(dp, slot, &s);
		ifstats_slot(dp, other, &o);
		snprintf(l, sizeof(l),
			 "ifstats [%s %s]: its slot held for another attachment: counted under other, the holder untouched",
			 dp->name, pr->name);
		tl_check(o.blocked == 1 && !o.key.hook && s.key.ifindex == 77 &&
				 !s.blocked && !s.passed && !s.monitored,
			 l, "other blocked %llu, holder ifindex %u blocked %llu",
			 (unsigned long long)o.blocked, s.key.ifindex,
			 (unsigned long long)s.blocked);
	}
	ifstats_clear(dp);
}

DP_AREA(ifstats)
{
	ifstats_hook(dps->l2, 0, &enc_eth, OP25B_HOOK_XDP);
	ifstats_hook(dps->l2, 1, &enc_eth, OP25B_HOOK_TC_INGRESS);
	ifstats_hook(dps->l3, 1, &enc_l3, OP25B_HOOK_TC_INGRESS);
	ifstats_hook(dps->l2e, 1, &enc_eth, OP25B_HOOK_TC_EGRESS);
}
