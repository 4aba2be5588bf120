/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Offenders, events, the flood, sampling: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 */

/* ---- offenders and events, field by field ---- */

#define EV_OUTER_VID	10
#define EV_INNER_VID	20
#define EV_SID		0x1234

/* What identifies a BRAS subscriber line: QinQ tags and a PPPoE session. */
static void qinq_pppoe_syn(struct pkt *p, int fam)
{
	pkt_init(p);
	pkt_eth(p);
	pkt_vlan(p, ETH_P_8021AD, EV_OUTER_VID);
	pkt_vlan(p, ETH_P_8021Q, EV_INNER_VID);
	pkt_pppoe(p, TL_PPPOE_VERTYPE, TL_PPPOE_CODE_SESSION, EV_SID);
	pkt_ip(p, fam, denied(fam), outside(fam));
	pkt_tcp(p, SPORT, SMTP, TH_SYN);
	pkt_done(p);
}

/* An address as the ABI carries it: IPv4 in the first 4 bytes, zeros. */
static void abi_addr(int fam, const char *s, __u8 out[16])
{
	memset(out, 0, 16);
	pkt_addr(fam == 4 ? AF_INET : AF_INET6, s, out);
}

/* Run p once through pr; false (and a failed check) if the run failed. */
static bool run_once(const struct prog *pr, const struct pkt *p,
		     const char *label, __u32 *ret)
{
	int err;

	*ret = 0;
	err = tl_run(pr->fd, p, ret);
	if (err)
		return tl_check(false, label, "test_run failed: %s",
				strerror(-err));
	return true;
}

/*
 * Keep this thread on the CPU it is on (*old: where it may run), so that
 * what a test counts per CPU stays on one: a long test run lets the
 * scheduler move it between batches on a busy machine.
 */
static void cpu_pin(cpu_set_t *old)
{
	cpu_set_t one;

	if (sched_getaffinity(0, sizeof(*old), old))
		tl_bug("affinity: %s", strerror(errno));
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		tl_bug("affinity: %s", strerror(errno));
}

static void cpu_unpin(const cpu_set_t *old)
{
	sched_setaffinity(0, sizeof(*old), old);
}

static bool offender_get(const struct dp *dp, const struct pkt *p, int fam,
			 struct op25b_offender *o)
{
	struct op25b_src k = src_key(p, fam);

	return offender_lookup(dp, &k, o);
}

/*
 * What one run left: its verdict, the counters either side, the events
 * and the source's offender entry.
 */
struct trace {
	__u32 ret;
	struct snap before, after;
	int nev;
	bool have;
	struct op25b_offender o;
};

/* Run p once through pr between two snapshots; false if the run failed. */
static bool run_traced(struct dp *dp, const struct prog *pr,
		       const struct pkt *p, int fam, const char *label,
		       struct trace *t)
{
	snapshot(dp, &t->before);
	if (!run_once(pr, p, label, &t->ret))
		return false;
	snapshot(dp, &t->after);
	t->nev = events_drain(dp);
	t->have = offender_get(dp, p, fam, &t->o);
	return true;
}

/* A blocked packet, then the same source again at once. */
static void events_blocked(struct dp *dp, const struct prog *pr, int fam)
{
	__u8 src[16], dst[16];
	const struct op25b_event *ev = &dp->sink.ev[0];
	char base[128], l[256];
	struct trace t, t2;
	struct pkt p;

	snprintf(base, sizeof(base), "events [%s %s]: ipv%d qinq pppoe",
		 dp->name, pr->name, fam);
	qinq_pppoe_syn(&p, fam);
	abi_addr(fam, denied(fam), src);
	abi_addr(fam, outside(fam), dst);

	records_clear(dp);
	if (!run_traced(dp, pr, &p, fam, base, &t))
		return;

	snprintf(l, sizeof(l), "%s: dropped", base);
	tl_check(t.ret == pr->drop, l, "returned %d", (int)t.ret);
	snprintf(l, sizeof(l),
		 "%s: offender blocked 1, first == last seen, last destination",
		 base);
	tl_check(t.have && t.o.blocked == 1 && t.o.monitored == 0 &&
			 t.o.first_ns > 0 && t.o.first_ns == t.o.last_ns &&
			 t.o.last_event_ns == t.o.last_ns &&
			 !memcmp(t.o.last_daddr, dst, 16) &&
			 t.o.last_dport == SMTP &&
			 t.o.last_ifindex == lo_ifindex,
		 l,
		 "entry %s, blocked %llu monitored %llu first %llu last %llu dport %u ifindex %u",
		 t.have ? "found" : "missing", (unsigned long long)t.o.blocked,
		 (unsigned long long)t.o.monitored,
		 (unsigned long long)t.o.first_ns,
		 (unsigned long long)t.o.last_ns, t.o.last_dport,
		 t.o.last_ifindex);
	snprintf(l, sizeof(l),
		 "%s: one event, numbered, naming the program's namespace and hook",
		 base);
	tl_check(t.nev == 1 && ev->seq > 0 && ev->netns_ino == TEST_NETNS_INO &&
			 ev->hook == (pr->is_xdp ? OP25B_HOOK_XDP :
				      dp->egress ? OP25B_HOOK_TC_EGRESS :
						   OP25B_HOOK_TC_INGRESS),
		 l, "saw %d event(s), seq %llu netns 0x%llx hook %u", t.nev,
		 (unsigned long long)ev->seq, (unsigned long long)ev->netns_ino,
		 ev->hook);
	snprintf(l, sizeof(l), "%s: source MAC 02:00:00:00:00:01", base);
	tl_check(t.nev == 1 && ev->has_mac &&
			 !memcmp(ev->smac, "\x02\0\0\0\0\x01", 6),
		 l, "has_mac %u, %02x:%02x:%02x:%02x:%02x:%02x", ev->has_mac,
		 ev->smac[0], ev->smac[1], ev->smac[2], ev->smac[3],
		 ev->smac[4], ev->smac[5]);
	snprintf(l, sizeof(l),
		 "%s: event time, interface, class, action, vlan %d.%d, pppoe 0x%04x, ports, addresses",
		 base, EV_OUTER_VID, EV_INNER_VID, EV_SID);
	tl_check(t.nev == 1 && ev->ts_ns == t.o.last_ns &&
			 ev->ifindex == lo_ifindex && ev->family == fam &&
			 ev->cls == OP25B_C_SMTP &&
			 ev->action == OP25B_ACT_DROP && ev->nvlan == 2 &&
			 ev->vlan[0] == EV_OUTER_VID &&
			 ev->vlan[1] == EV_INNER_VID && ev->pppoe == 1 &&
			 ev->pppoe_sid == EV_SID && ev->sport == SPORT &&
			 ev->dport == SMTP && !memcmp(ev->saddr, src, 16) &&
			 !memcmp(ev->daddr, dst, 16),
		 l,
		 "ts %llu (entry %llu) ifindex %u family %u class %u action %u nvlan %u vlan %u.%u pppoe %u sid 0x%x ports %u->%u",
		 (unsigned long long)ev->ts_ns, (unsigned long long)t.o.last_ns,
		 ev->ifindex, ev->family, ev->cls, ev->action, ev->nvlan,
		 ev->vlan[0], ev->vlan[1], ev->pppoe, ev->pppoe_sid,
		 ev->sport, ev->dport);
	snprintf(l, sizeof(l), "%s: nothing suppressed, nothing lost", base);
	tl_check(!moved(&t.before, &t.after, ST_events_suppressed) &&
			 !moved(&t.before, &t.after, ST_events_lost),
		 l, "suppressed +%llu, lost +%llu",
		 moved(&t.before, &t.after, ST_events_suppressed),
		 moved(&t.before, &t.after, ST_events_lost));

	/* within OP25B_EVENT_INTERVAL_NS of the first: counted, no event */
	snprintf(base, sizeof(base), "events [%s %s]: ipv%d again at once",
		 dp->name, pr->name, fam);
	if (!run_traced(dp, pr, &p, fam, base, &t2))
		return;
	snprintf(l, sizeof(l),
		 "%s: dropped, no event, events_suppressed +1, blocked +1",
		 base);
	tl_check(t2.ret == pr->drop && t2.nev == 0 &&
			 moved(&t2.before, &t2.after,
			       ST_events_suppressed) == 1 &&
			 !moved(&t2.before, &t2.after, ST_events_lost) &&
			 moved(&t2.before, &t2.after, ST_blocked) == 1,
		 l, "returned %d, %d event(s), suppressed +%llu, blocked +%llu",
		 (int)t2.ret, t2.nev,
		 moved(&t2.before, &t2.after, ST_events_suppressed),
		 moved(&t2.before, &t2.after, ST_blocked));
	snprintf(l, sizeof(l),
		 "%s: offender blocked 2, first seen kept, last seen on",
		 base);
	tl_check(t2.have && t2.o.blocked == 2 &&
			 t2.o.first_ns == t.o.first_ns &&
			 t2.o.last_ns >= t.o.last_ns &&
			 t2.o.last_event_ns == t.o.last_event_ns,
		 l, "entry %s, blocked %llu first %llu->%llu last %llu->%llu",
		 t2.have ? "found" : "missing", (unsigned long long)t2.o.blocked,
		 (unsigned long long)t.o.first_ns,
		 (unsigned long long)t2.o.first_ns,
		 (unsigned long long)t.o.last_ns,
		 (unsigned long long)t2.o.last_ns);
}

/* Action monitor and action reject: the event says what was done. */
static void events_action(struct dp *dp, const struct prog *pr, int fam,
			  __u32 action, __u32 want_ret)
{
	const struct op25b_event *ev = &dp->sink.ev[0];
	bool mon = action == OP25B_ACT_MONITOR;
	struct op25b_offender o;
	char l[256];
	struct pkt p;
	__u32 ret;
	bool have;
	int nev;

	set_action(dp, action);
	syn(&p, &enc_eth, fam, SMTP);
	records_clear(dp);
	snprintf(l, sizeof(l), "events [%s %s]: ipv%d action %s", dp->name,
		 pr->name, fam, mon ? "monitor" : "reject");
	if (!run_once(pr, &p, l, &ret)) {
		set_action(dp, OP25B_ACT_DROP);
		return;
	}
	nev = events_drain(dp);
	have = offender_get(dp, &p, fam, &o);
	set_action(dp, OP25B_ACT_DROP);
	tl_check(ret == want_ret && nev == 1 && ev->action == action &&
			 have && o.monitored == mon && o.blocked == !mon,
		 l,
		 "returned %d, %d event(s) of action %u, entry %s blocked %llu monitored %llu",
		 (int)ret, nev, nev ? ev->action : 0,
		 have ? "found" : "missing", (unsigned long long)o.blocked,
		 (unsigned long long)o.monitored);
}

/* Passed packets leave no trace, though they came from denied ranges. */
static void events_passed(struct dp *dp, const struct prog *pr, int fam)
{
	static const struct {
		const char *name;
		int who;	/* row of who4/who6; -1: denied -> outside */
		__u16 dport;
	} cases[] = {
		{ "exempt", 1, SMTP },
		{ "non-subscriber", 2, SMTP },
		{ "to a relay", 3, SMTP },
		{ "non-SMTP", -1, SUBMISSION },
	};
	const struct who *w;
	char l[256];
	struct pkt p;
	size_t i, n;
	__u32 ret;

	w = who_table(fam, &n);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		syn(&p, &enc_eth, fam, cases[i].dport);
		if (cases[i].who >= 0)
			pkt_set_addrs(&p, w[cases[i].who].src,
				      w[cases[i].who].dst);
		records_clear(dp);
		snprintf(l, sizeof(l),
			 "events [%s %s]: ipv%d %s passed: no offender, no event",
			 dp->name, pr->name, fam, cases[i].name);
		if (!run_once(pr, &p, l, &ret))
			continue;
		tl_check(ret == pr->pass && events_drain(dp) == 0 &&
				 offenders_count(dp) == 0,
			 l, "returned %d, %d event(s), %d offender(s)",
			 (int)ret, dp->sink.n, offenders_count(dp));
	}
}

/*
 * A flood from many sources: events stop at this CPU's budget, the rest
 * counted suppressed, the ring buffer not even tried; a heavy source keeps
 * its offenders slot against light ones that collide with it.
 */
/* An Ethernet IPv4 SYN from src to the outside MX, port 25. */
static void syn_from(struct pkt *p, const char *src)
{
	pkt_init(p);
	pkt_eth(p);
	pkt_ipv4(p, src, OUT4);
	pkt_tcp(p, 40000, 25, TH_SYN);
	pkt_done(p);
}

static void test_flood(struct dp *dp)
{
	const struct prog *pr = &dp->prog[0];
	struct snap before, after;
	struct op25b_offender o = {};
	struct op25b_src heavy, k;
	char src[32], l[160];
	int i, nev, heavy_n = 0;
	__u32 ret = 0;
	struct pkt p;

	records_clear(dp);
	snapshot(dp, &before);
	for (i = 0; i < OP25B_EVENTS_PER_SEC + 500; i++) {
		snprintf(src, sizeof(src), "10.%d.%d.%d", 2 + (i >> 16),
			 (i >> 8) & 255, i & 255);
		syn_from(&p, src);
		if (tl_run_out(pr->fd, &p, &ret, NULL) || ret != pr->drop)
			tl_bug("flood packet %d: not dropped", i);
	}
	snapshot(dp, &after);
	nev = events_drain(dp);
	snprintf(l, sizeof(l), "flood [%s]: %d sources, events stop at the budget",
		 dp->name, OP25B_EVENTS_PER_SEC + 500);
	tl_check(nev == OP25B_EVENTS_PER_SEC &&
		 moved(&before, &after, ST_events_suppressed) == 500 &&
		 !moved(&before, &after, ST_events_lost),
		 l, "%d events, %llu suppressed, %llu lost", nev,
		 moved(&before, &after, ST_events_suppressed),
		 moved(&before, &after, ST_events_lost));

	/* a heavy source, then light ones landing on its slot */
	records_clear(dp);
	memset(&heavy, 0, sizeof(heavy));
	heavy.family = 4;
	pkt_addr(AF_INET, DENIED4, heavy.addr);
	for (i = 0; i < 50; i++) {
		syn_from(&p, DENIED4);
		tl_run_out(pr->fd, &p, &ret, NULL);
	}
	for (i = 0; i < 65536 && heavy_n < 20; i++) {
		memset(&k, 0, sizeof(k));
		k.family = 4;
		snprintf(src, sizeof(src), "10.9.%d.%d", i >> 8, i & 255);
		pkt_addr(AF_INET, src, k.addr);
		if ((op25b_src_hash(&k) ^ op25b_src_hash(&heavy)) &
		    (TEST_OFFENDER_SLOTS - 1))
			continue;
		heavy_n++;
		syn_from(&p, src);
		tl_run_out(pr->fd, &p, &ret, NULL);
	}
	snprintf(l, sizeof(l),
		 "flood [%s]: 50 attempts keep their slot against %d light colliders",
		 dp->name, heavy_n);
	tl_check(heavy_n == 20 && offender_lookup(dp, &heavy, &o) &&
		 o.blocked == 50, l, "colliders %d, heavy %s with %llu", heavy_n,
		 offender_lookup(dp, &heavy, &o) ? "kept" : "evicted",
		 (unsigned long long)o.blocked);
	for (i = 0; i < 60; i++) {
		syn_from(&p, src);
		tl_run_out(pr->fd, &p, &ret, NULL);
	}
	snprintf(l, sizeof(l),
		 "flood [%s]: a collider that outweighs it takes the slot", dp->name);
	tl_check(!offender_lookup(dp, &heavy, &o) && offenders_count(dp) == 1, l,
		 "heavy still there, or %d sources", offenders_count(dp));
	records_clear(dp);
}

/*
 * The offenders table under a flood (op25b.h: sampling): n blocked packets
 * from one source in one run, within one window of one CPU. Below
 * OP25B_EXACT_PER_SEC the count is exact; past it, an estimate within
 * what chance allows (six standard deviations of the sampled count), and
 * marked; the counters stay exact either way, and the source gets its
 * one event.
 */
static void sampling_case(struct dp *dp, __u32 n)
{
	const struct prog *pr = &dp->prog[0];
	struct snap before, after;
	struct op25b_offender o = {};
	struct op25b_src k = {};
	bool est = n > OP25B_EXACT_PER_SEC;
	double over = est ? n - OP25B_EXACT_PER_SEC : 0;
	double slack = 6 * OP25B_SAMPLE_RATE *
		       sqrt(over / OP25B_SAMPLE_RATE + 1);
	char l[200];
	struct pkt p;
	struct timespec now;
	cpu_set_t cpus;
	int nev;

	syn_from(&p, DENIED4);
	k.family = 4;
	pkt_addr(AF_INET, DENIED4, k.addr);
	/* one CPU's window and offenders slot: one event */
	cpu_pin(&cpus);
	records_clear(dp);
	/*
	 * One window: the clock fixed for the run, which on a busy machine
	 * can take longer than a window lasts.
	 */
	clock_gettime(CLOCK_MONOTONIC, &now);
	clock_set(dp, now.tv_sec * 1000000000ULL + now.tv_nsec);
	snapshot(dp, &before);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o2, .data_in = p.d,
			    .data_size_in = p.len, .repeat = n);

		if (bpf_prog_test_run_opts(pr->fd, &o2) || o2.retval != pr->drop)
			tl_bug("sampling: %u runs: %s", n, strerror(errno));
	}
	snapshot(dp, &after);
	clock_set(dp, 0);
	cpu_unpin(&cpus);
	nev = events_drain(dp);
	snprintf(l, sizeof(l),
		 "sampling [%s]: %u blocked from one source: blocked +%u exactly, one event",
		 dp->name, n, n);
	tl_check(moved(&before, &after, ST_blocked) == n && nev == 1 &&
		 moved(&before, &after, ST_events_suppressed) == n - 1,
		 l, "blocked +%llu, %d event(s), suppressed +%llu",
		 moved(&before, &after, ST_blocked),
		 nev, moved(&before, &after, ST_events_suppressed));
	if (est)
		snprintf(l, sizeof(l),
			 "sampling [%s]: %u from one source: offender ~%u (within %.0f), marked estimated",
			 dp->name, n, n, slack);
	else
		snprintf(l, sizeof(l),
			 "sampling [%s]: %u from one source: offender exactly %u, not marked",
			 dp->name, n, n);
	tl_check(offender_lookup(dp, &k, &o) &&
		 (est ? fabs((double)o.blocked - n) <= slack &&
			(o.flags & OP25B_OFF_ESTIMATED)
		      : o.blocked == n && !(o.flags & OP25B_OFF_ESTIMATED)),
		 l, "offender %llu, flags %u", (unsigned long long)o.blocked,
		 o.flags);
	records_clear(dp);
}

static void test_sampling(struct dp *dp)
{
	sampling_case(dp, OP25B_EXACT_PER_SEC);
	sampling_case(dp, OP25B_EXACT_PER_SEC + 100 * OP25B_SAMPLE_RATE);
	sampling_case(dp, 1000000);
}

static int ev_count(void *ctx, const struct op25b_event *ev)
{
	(*(int *)ctx)++;
	return 0;
}

/*
 * Many readers, none stealing (op25b.h, "The event log"): each reader
 * has its own cursors, so each sees every event; one that starts later
 * sees only what came after it, unless it asks for the backlog.
 */
static void events_readers(struct dp *dp)
{
	const struct prog *pr = &dp->prog[0];
	static const char *const src[] = { "10.9.0.1", "10.9.0.2", "10.9.0.3" };
	int fd = bpf_map__fd(dp->skel->maps.op25b_events);
	struct evlog second, late, back;
	int n2 = 0, nlate = 0, nback = 0, n1;
	char l[200];
	struct pkt p;
	__u32 ret;
	size_t i;

	records_clear(dp);
	if (evlog_open(&second, fd, false))
		tl_bug("a second reader: %s", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(src); i++) {
		syn_from(&p, src[i]);
		tl_run_out(pr->fd, &p, &ret, NULL);
	}
	if (evlog_open(&late, fd, false) || evlog_open(&back, fd, true))
		tl_bug("a late reader: %s", strerror(errno));
	n1 = events_drain(dp);
	evlog_read(&second, ev_count, &n2);
	evlog_read(&late, ev_count, &nlate);
	evlog_read(&back, ev_count, &nback);
	snprintf(l, sizeof(l),
		 "events readers [%s]: 3 sources, two readers each see all 3, none lost",
		 dp->name);
	tl_check(n1 == 3 && n2 == 3 && !second.lost && !dp->log.lost, l,
		 "first %d, second %d (lost %llu)", n1, n2,
		 (unsigned long long)second.lost);
	snprintf(l, sizeof(l),
		 "events readers [%s]: a reader started after them sees none, with the backlog all 3",
		 dp->name);
	tl_check(nlate == 0 && nback >= 3, l, "late %d, backlog %d", nlate,
		 nback);
	evlog_close(&second);
	evlog_close(&late);
	evlog_close(&back);
	records_clear(dp);
}

/*
 * A reader that falls behind by more than a region: what was overwritten
 * is counted as lost, by sequence number, and the rest is read whole.
 * One CPU, so that every event goes to one region.
 */
static void events_overrun(struct dp *dp)
{
	const struct prog *pr = &dp->prog[0];
	int fd = bpf_map__fd(dp->skel->maps.op25b_events);
	__u32 n = OP25B_EVLOG_SLOTS + 10, i, ret;
	cpu_set_t old;
	struct timespec now;
	struct evlog r;
	int seen = 0;
	char l[200];
	struct pkt p;
	__u64 t0;

	cpu_pin(&old);
	records_clear(dp);
	if (evlog_open(&r, fd, false))
		tl_bug("a reader: %s", strerror(errno));
	syn_from(&p, DENIED4);
	clock_gettime(CLOCK_MONOTONIC, &now);
	t0 = now.tv_sec * 1000000000ULL + now.tv_nsec;
	/* a second apart: each attempt is the source's first of its second */
	for (i = 0; i < n; i++) {
		clock_set(dp, t0 + (__u64)i * OP25B_EVENT_INTERVAL_NS);
		tl_run_out(pr->fd, &p, &ret, NULL);
	}
	clock_set(dp, 0);
	evlog_read(&r, ev_count, &seen);
	snprintf(l, sizeof(l),
		 "events overrun [%s]: %u events on one CPU, read late: %u read, 11 counted lost",
		 dp->name, n, OP25B_EVLOG_SLOTS - 1);
	tl_check(seen == OP25B_EVLOG_SLOTS - 1 && r.lost == 11, l,
		 "read %d, lost %llu", seen, (unsigned long long)r.lost);
	evlog_close(&r);
	/* the harness's own reader fell behind too: it starts again */
	evlog_close(&dp->log);
	if (evlog_open(&dp->log, fd, false))
		tl_bug("reopening the event log: %s", strerror(errno));
	cpu_unpin(&old);
	records_clear(dp);
}

static void test_events(struct dp *dp)
{
	cpu_set_t old;
	size_t f;
	int i;

	/*
	 * The offenders slot and the event budget are each CPU's own: a
	 * source's second packet judged on another CPU than its first is a
	 * first there, with an event of its own. On one CPU, whatever the
	 * scheduler does between runs (a busy host moved the thread between
	 * "blocked" and "again at once" in an arm64 guest).
	 */
	cpu_pin(&old);
	for (i = 0; i < 2; i++) {
		const struct prog *pr = &dp->prog[i];

		for (f = 0; f < ARRAY_SIZE(families); f++) {
			events_blocked(dp, pr, families[f]);
			events_action(dp, pr, families[f], OP25B_ACT_MONITOR,
				      pr->pass);
			events_action(dp, pr, families[f], OP25B_ACT_REJECT,
				      pr->answer);
			events_passed(dp, pr, families[f]);
		}
	}
	cpu_unpin(&old);
}

DP_AREA(events)
{
	test_events(dps->l2);
	events_readers(dps->l2);
	events_overrun(dps->l2);
	test_flood(dps->l2);
	test_sampling(dps->l2);
}
