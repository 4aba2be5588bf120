/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Action limit and quarantine: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 */

/* ---- action limit (doc/DESIGN.md, "Rate limits and quarantine") ---- */

#define SEC_NS		1000000000ULL
#define LIM_T0		(1000 * SEC_NS)

/* Where the kernel has no BPF JIT, the datapath is loaded without it. */
#define NO_SWEEPER "no BPF JIT in this kernel, so no sweeper timer"

/* Action limit: rate per period_s, burst, then, quarantine, IPv6 bits. */
static void set_limit(struct dp *dp, __u32 rate, __u32 period_s, __u32 burst,
		      __u32 then, __u64 quarantine_ns, __u8 prefix6)
{
	struct op25b_config *cfg;

	eng_begin(dp);
	cfg = engine_config(&dp->eng);
	cfg->action = OP25B_ACT_LIMIT;
	memset(&cfg->limit, 0, sizeof(cfg->limit));
	cfg->limit.rate = rate;
	cfg->limit.period_s = period_s;
	cfg->limit.interval_ns = (__u64)period_s * SEC_NS / rate;
	cfg->limit.burst = burst;
	cfg->limit.then = then;
	cfg->limit.quarantine_ns = quarantine_ns;
	cfg->limit.prefix6 = prefix6;
	eng_commit(dp);
	dp->action = OP25B_ACT_LIMIT;
}

static struct op25b_limiter *limiter_mem(struct dp *dp)
{
	static struct op25b_limiter *mem[3];
	static struct dp *owner[3];
	size_t bytes = OP25B_LIMITER_MIN * sizeof(struct op25b_limiter);
	int i;

	for (i = 0; i < 3 && owner[i]; i++)
		if (owner[i] == dp)
			return mem[i];
	if (i == 3)
		tl_bug("limiter_mem: too many datapaths");
	mem[i] = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		      bpf_map__fd(dp->skel->maps.op25b_limiter), 0);
	if (mem[i] == MAP_FAILED)
		tl_bug("mapping the limiter: %s", strerror(errno));
	owner[i] = dp;
	return mem[i];
}

static void limiter_clear(struct dp *dp)
{
	memset(limiter_mem(dp), 0,
	       OP25B_LIMITER_MIN * sizeof(struct op25b_limiter));
}

static int limiter_used(struct dp *dp)
{
	const struct op25b_limiter *e = limiter_mem(dp);
	int i, n = 0;

	for (i = 0; i < OP25B_LIMITER_MIN; i++)
		n += e[i].src.family != 0;
	return n;
}

/* An Ethernet TCP segment src -> dst:25 with TCP flags, run once: retval. */
static __u32 lim_seg(const struct prog *pr, const char *src, const char *dst,
		     __u8 flags)
{
	struct pkt p;
	__u32 ret = 0;

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ip(&p, strchr(src, ':') ? 6 : 4, src, dst);
	pkt_tcp(&p, 40000, SMTP, flags);
	pkt_done(&p);
	if (tl_run_out(pr->fd, &p, &ret, NULL))
		tl_bug("limit: run: %s", strerror(errno));
	return ret;
}

static __u32 lim_syn(const struct prog *pr, const char *src)
{
	return lim_seg(pr, src, strchr(src, ':') ? OUT6 : OUT4, TH_SYN);
}

/* n SYNs from src; how many passed. */
static int lim_syns(const struct prog *pr, const char *src, int n)
{
	int i, passed = 0;

	for (i = 0; i < n; i++)
		passed += lim_syn(pr, src) == pr->pass;
	return passed;
}

#define MOVED(f)	moved(&before, &after, ST_##f)

/* The bucket at its edges: burst, refill, clock jumps, the clock's wrap. */
static void limit_bucket(struct dp *dp, const struct prog *pr)
{
	struct snap before, after;
	char l[200];
	int n;

	/* 60/min: a token a second; a bucket of 3; no quarantine */
	set_limit(dp, 60, 60, 3, OP25B_ACT_DROP, 0, 64);
	limiter_clear(dp);
	clock_set(dp, LIM_T0);
	snapshot(dp, &before);
	n = lim_syns(pr, DENIED4, 3);
	snprintf(l, sizeof(l), "limit [%s %s]: burst 3 exactly used: 3 pass, the 4th is dropped",
		 dp->name, pr->name);
	tl_check(n == 3 && lim_syn(pr, DENIED4) == pr->drop, l,
		 "%d of 3 passed, or the 4th passed", n);
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: counted: limit_passed +3, limit_exceeded +1, blocked +1, no quarantine",
		 dp->name, pr->name);
	tl_check(MOVED(limit_passed) == 3 && MOVED(limit_exceeded) == 1 &&
		 MOVED(blocked) == 1 && MOVED(smtp) == 4 && MOVED(quarantines) == 0,
		 l, "passed +%llu exceeded +%llu blocked +%llu smtp +%llu quarantines +%llu",
		 MOVED(limit_passed), MOVED(limit_exceeded), MOVED(blocked),
		 MOVED(smtp), MOVED(quarantines));

	clock_set(dp, LIM_T0 + SEC_NS - 1);
	snprintf(l, sizeof(l), "limit [%s %s]: a nanosecond before the refill: dropped",
		 dp->name, pr->name);
	tl_check(lim_syn(pr, DENIED4) == pr->drop, l, "passed");
	clock_set(dp, LIM_T0 + SEC_NS);
	n = lim_syns(pr, DENIED4, 2);
	snprintf(l, sizeof(l), "limit [%s %s]: one interval later: one token, one passes",
		 dp->name, pr->name);
	tl_check(n == 1, l, "%d passed", n);
	clock_set(dp, LIM_T0 + 61 * SEC_NS);
	n = lim_syns(pr, DENIED4, 10);
	snprintf(l, sizeof(l), "limit [%s %s]: a whole period later: the bucket holds 3, not 60",
		 dp->name, pr->name);
	tl_check(n == 3, l, "%d passed", n);

	clock_set(dp, LIM_T0 + 1000000 * SEC_NS);
	n = lim_syns(pr, DENIED4, 10);
	snprintf(l, sizeof(l), "limit [%s %s]: the clock jumps a million seconds: 3 pass",
		 dp->name, pr->name);
	tl_check(n == 3, l, "%d passed", n);
	clock_set(dp, LIM_T0 + 1000000 * SEC_NS - 5 * SEC_NS);
	n = lim_syns(pr, DENIED4, 3);
	snprintf(l, sizeof(l), "limit [%s %s]: the clock goes back 5 s: no token appears",
		 dp->name, pr->name);
	tl_check(n == 0, l, "%d passed", n);

	/* 1.5 s before the 64-bit clock wraps, and on after it */
	limiter_clear(dp);
	clock_set(dp, 0 - 3 * SEC_NS / 2);
	n = lim_syns(pr, DENIED4, 4);
	snprintf(l, sizeof(l), "limit [%s %s]: 1.5 s before the clock wraps: 3 of 4 pass",
		 dp->name, pr->name);
	tl_check(n == 3, l, "%d passed", n);
	clock_set(dp, SEC_NS / 2);	/* 2 s later, past the wrap */
	n = lim_syns(pr, DENIED4, 3);
	snprintf(l, sizeof(l), "limit [%s %s]: 2 s later, across the wrap: 2 tokens back, 2 pass",
		 dp->name, pr->name);
	tl_check(n == 2, l, "%d passed", n);
	clock_set(dp, 100 * SEC_NS);
	n = lim_syns(pr, DENIED4, 5);
	snprintf(l, sizeof(l), "limit [%s %s]: long after the wrap: the bucket full, 3 pass",
		 dp->name, pr->name);
	tl_check(n == 3, l, "%d passed", n);
}

/* What is not a new connection from a denied source, and who is untouched. */
static void limit_others(struct dp *dp, const struct prog *pr)
{
	struct snap before, after;
	char l[200];
	struct pkt p;
	__u32 ret = 0;
	int n, i;

	set_limit(dp, 60, 60, 1, OP25B_ACT_DROP, 0, 64);
	limiter_clear(dp);
	clock_set(dp, LIM_T0);
	snapshot(dp, &before);
	n = 0;
	for (i = 0; i < 20; i++)
		n += lim_seg(pr, DENIED4, OUT4, TH_ACK) == pr->pass;
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: 20 ACKs from a denied source pass, limit_passed +20, no limiter entry",
		 dp->name, pr->name);
	tl_check(n == 20 && MOVED(limit_passed) == 20 && !limiter_used(dp), l,
		 "%d passed, limit_passed +%llu, %d entries", n,
		 MOVED(limit_passed), limiter_used(dp));
	n = 0;
	for (i = 0; i < 10; i++)
		n += lim_seg(pr, DENIED4, OUT4, TH_SYN | TH_ACK) == pr->pass;
	snprintf(l, sizeof(l), "limit [%s %s]: SYN+ACK is no new connection: 10 pass",
		 dp->name, pr->name);
	tl_check(n == 10, l, "%d passed", n);

	snapshot(dp, &before);
	n = lim_syns(pr, NONSUB4, 10) + lim_syns(pr, EXEMPT4, 10);
	for (i = 0; i < 10; i++)
		n += lim_seg(pr, DENIED4, RELAY4, TH_SYN) == pr->pass;
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: non-subscriber, exempt and to a relay: 30 SYNs pass untouched",
		 dp->name, pr->name);
	tl_check(n == 30 && MOVED(not_subscriber) == 10 && MOVED(exempt) == 10 &&
		 MOVED(relay) == 10 && MOVED(limit_passed) == 0 && !limiter_used(dp),
		 l, "%d passed, not_subscriber +%llu exempt +%llu relay +%llu limit_passed +%llu, %d entries",
		 n, MOVED(not_subscriber), MOVED(exempt), MOVED(relay),
		 MOVED(limit_passed), limiter_used(dp));

	/* a fragment hiding the port is no connection to count: blocked */
	v4_frag(&p, &enc_eth, 0, 1, IPPROTO_TCP, SMTP, 40);
	snapshot(dp, &before);
	if (tl_run_out(pr->fd, &p, &ret, NULL))
		tl_bug("limit: run: %s", strerror(errno));
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: an evasion from a denied source is dropped (then), not counted as a connection",
		 dp->name, pr->name);
	tl_check(ret == pr->drop && MOVED(evasion) == 1 && MOVED(blocked) == 1 &&
		 MOVED(limit_passed) == 0 && MOVED(limit_exceeded) == 0, l,
		 "returned %u, evasion +%llu blocked +%llu", ret, MOVED(evasion),
		 MOVED(blocked));

	/* then reject: the connection over the limit gets its RST */
	set_limit(dp, 60, 60, 1, OP25B_ACT_REJECT, 0, 64);
	limiter_clear(dp);
	snapshot(dp, &before);
	n = lim_syns(pr, DENIED4, 1);
	ret = lim_syn(pr, DENIED4);
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: --then reject: 1 passes, the next is answered with a RST",
		 dp->name, pr->name);
	tl_check(n == 1 && ret == pr->answer && MOVED(rejected) == 1, l,
		 "%d passed, then returned %u, rejected +%llu", n, ret,
		 MOVED(rejected));

	/* IPv6: a /64 is one source; --ipv6-prefix 128 makes each address one */
	set_limit(dp, 60, 60, 2, OP25B_ACT_DROP, 0, 64);
	limiter_clear(dp);
	n = lim_syns(pr, "2001:db8:42::1", 1) + lim_syns(pr, "2001:db8:42::2", 2);
	i = lim_syns(pr, "2001:db8:42:1::1", 2);
	snprintf(l, sizeof(l), "limit [%s %s]: IPv6 per /64: ::1 and ::2 share a bucket of 2; another /64 has its own",
		 dp->name, pr->name);
	tl_check(n == 2 && i == 2, l, "same /64: %d of 3 passed, other /64: %d of 2",
		 n, i);
	set_limit(dp, 60, 60, 2, OP25B_ACT_DROP, 0, 128);
	limiter_clear(dp);
	n = lim_syns(pr, "2001:db8:42::1", 2) + lim_syns(pr, "2001:db8:42::2", 2);
	snprintf(l, sizeof(l), "limit [%s %s]: --ipv6-prefix 128: ::1 and ::2 have a bucket each",
		 dp->name, pr->name);
	tl_check(n == 4, l, "%d of 4 passed", n);
}

/* Quarantine: entered on an excess, whole, extended, ended by itself. */
static void limit_quarantine(struct dp *dp, const struct prog *pr)
{
	const struct op25b_event *ev = &dp->sink.ev[0];
	struct snap before, after;
	__u8 src[16] = {};
	char l[200];
	int n, nev;

	set_limit(dp, 60, 60, 3, OP25B_ACT_DROP, 10 * SEC_NS, 64);
	limiter_clear(dp);
	records_clear(dp);
	clock_set(dp, LIM_T0);
	snapshot(dp, &before);
	n = lim_syns(pr, DENIED4, 4);
	snapshot(dp, &after);
	nev = events_drain(dp);
	pkt_addr(AF_INET, DENIED4, src);
	snprintf(l, sizeof(l), "quarantine [%s %s]: the 4th SYN over a bucket of 3 puts the source in quarantine, one event",
		 dp->name, pr->name);
	tl_check(n == 3 && MOVED(quarantines) == 1 && nev >= 1 &&
		 ev->kind == OP25B_EV_QUARANTINED && ev->family == 4 &&
		 !memcmp(ev->saddr, src, 4) && ev->dport == SMTP &&
		 ev->ts_ns == LIM_T0,
		 l, "%d passed, quarantines +%llu, %d events, first kind %u",
		 n, MOVED(quarantines), nev, nev ? ev->kind : 99);

	clock_set(dp, LIM_T0 + 9 * SEC_NS);
	snapshot(dp, &before);
	n = (lim_seg(pr, DENIED4, OUT4, TH_ACK) == pr->pass) +
	    (lim_syn(pr, DENIED4) == pr->pass);
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "quarantine [%s %s]: 9 s on, with tokens back: an ACK and a SYN are dropped (quarantined +2)",
		 dp->name, pr->name);
	tl_check(n == 0 && MOVED(quarantined) == 2 && MOVED(quarantines) == 0, l,
		 "%d passed, quarantined +%llu", n, MOVED(quarantined));

	clock_set(dp, LIM_T0 + 10 * SEC_NS + 1);
	n = (lim_seg(pr, DENIED4, OUT4, TH_ACK) == pr->pass) +
	    (lim_syn(pr, DENIED4) == pr->pass);
	snprintf(l, sizeof(l), "quarantine [%s %s]: 10 s after its last excess: free, ACK and SYN pass",
		 dp->name, pr->name);
	tl_check(n == 2, l, "%d of 2 passed", n);

	/* an excess in quarantine extends it from that excess */
	limiter_clear(dp);
	clock_set(dp, LIM_T0);
	lim_syns(pr, DENIED4, 4);			/* in, until T0 + 10 */
	clock_set(dp, LIM_T0 + 5 * SEC_NS);
	lim_syns(pr, DENIED4, 4);			/* 2 tokens: 2 more over */
	clock_set(dp, LIM_T0 + 12 * SEC_NS);
	n = lim_seg(pr, DENIED4, OUT4, TH_ACK) == pr->pass;
	clock_set(dp, LIM_T0 + 15 * SEC_NS + 1);
	n += 2 * (lim_seg(pr, DENIED4, OUT4, TH_ACK) == pr->pass);
	snprintf(l, sizeof(l), "quarantine [%s %s]: excess again at +5 s: still in at +12 s, out at +15 s",
		 dp->name, pr->name);
	tl_check(n == 2, l, "at +12 s %s, at +15 s %s", n & 1 ? "passed" : "dropped",
		 n & 2 ? "passed" : "dropped");
	events_drain(dp);
}

/* A set of the limiter full of quarantined sources: the next is blocked. */
static void limit_full(struct dp *dp, const struct prog *pr)
{
	struct snap before, after;
	char srcs[5][32], l[200];
	struct op25b_src k;
	__u32 set = 0, i, found = 0, ways = OP25B_LIMITER_MIN / OP25B_LIMITER_WAYS;
	int n;

	for (i = 0; i < 65536 && found < 5; i++) {
		char a[32];
		__u32 h;

		snprintf(a, sizeof(a), "10.2.%u.%u", i >> 8, i & 255);
		memset(&k, 0, sizeof(k));
		k.family = 4;
		pkt_addr(AF_INET, a, k.addr);
		h = op25b_src_hash(&k) & (ways - 1);
		if (!found)
			set = h;
		if (h == set)
			snprintf(srcs[found++], sizeof(srcs[0]), "%s", a);
	}
	if (found < 5)
		tl_bug("limit: no five sources sharing a limiter set");
	set_limit(dp, 60, 60, 1, OP25B_ACT_DROP, 100 * SEC_NS, 64);
	limiter_clear(dp);
	clock_set(dp, LIM_T0);
	for (i = 0; i < 4; i++)
		lim_syns(pr, srcs[i], 2);
	snapshot(dp, &before);
	i = lim_syn(pr, srcs[4]) == pr->pass;
	snapshot(dp, &after);
	snprintf(l, sizeof(l), "limit [%s %s]: a set of 4 quarantined sources: a 5th source's SYN is blocked, limit_full +1",
		 dp->name, pr->name);
	tl_check(!i && MOVED(limit_full) == 1, l, "%s, limit_full +%llu",
		 i ? "passed" : "dropped", MOVED(limit_full));
	/*
	 * Once they are out and the sweeper has said so (an entry keeps its
	 * place until its release is reported), the set takes it.
	 */
	snprintf(l, sizeof(l), "limit [%s %s]: their quarantines over and reported, the 5th source gets a place",
		 dp->name, pr->name);
	if (!engine_bpf_jit()) {
		tl_skip(l, NO_SWEEPER);
		return;
	}
	clock_set(dp, LIM_T0 + 101 * SEC_NS);
	for (n = 0; n < 30; n++) {
		usleep(100000);
		if (lim_syn(pr, srcs[4]) == pr->pass)
			break;
	}
	tl_check(n < 30, l, "still dropped after 3 s");
	events_drain(dp);
}

/*
 * The sweeper ends a quarantine by itself and says so: a timer every
 * OP25B_SWEEP_TICK_NS, the whole limiter in OP25B_SWEEP_PARTS ticks.
 */
static void limit_sweeper(struct dp *dp, const struct prog *pr)
{
	struct snap before, after;
	const struct op25b_limiter *mem = limiter_mem(dp);
	__u8 src[16] = {};
	char l[200];
	int tries, i, released = -1, flagged = 0;

	snprintf(l, sizeof(l), "quarantine [%s %s]: the sweeper ends it: a released event, releases +1, the flag cleared",
		 dp->name, pr->name);
	if (!engine_bpf_jit()) {
		tl_skip(l, NO_SWEEPER);
		return;
	}
	set_limit(dp, 60, 60, 1, OP25B_ACT_DROP, 1 * SEC_NS, 64);
	limiter_clear(dp);
	records_clear(dp);
	clock_set(dp, LIM_T0);
	lim_syns(pr, DENIED4, 2);
	events_drain(dp);
	pkt_addr(AF_INET, DENIED4, src);
	snapshot(dp, &before);
	clock_set(dp, LIM_T0 + 2 * SEC_NS);
	/* a full sweep takes a second; allow three */
	for (tries = 0; tries < 30 && released < 0; tries++) {
		usleep(100000);
		events_drain(dp);
		for (i = 0; i < dp->sink.n; i++)
			if (dp->sink.ev[i].kind == OP25B_EV_RELEASED &&
			    !memcmp(dp->sink.ev[i].saddr, src, 4))
				released = i;
	}
	snapshot(dp, &after);
	for (i = 0; i < OP25B_LIMITER_MIN; i++)
		if (mem[i].src.family == 4 && !memcmp(mem[i].src.addr, src, 4))
			flagged = mem[i].flags;
	tl_check(released >= 0 && MOVED(releases) == 1 &&
		 !(flagged & OP25B_LIM_QUARANTINED), l,
		 "event %s after %d00 ms, releases +%llu, flags %#x",
		 released >= 0 ? "seen" : "not seen", tries, MOVED(releases),
		 flagged);
}

static void test_limit(struct dp *dp)
{
	int i;

	for (i = 0; i < 2; i++) {
		limit_bucket(dp, &dp->prog[i]);
		limit_others(dp, &dp->prog[i]);
		limit_quarantine(dp, &dp->prog[i]);
		limit_full(dp, &dp->prog[i]);
	}
	limit_sweeper(dp, &dp->prog[0]);
	clock_set(dp, 0);
	limiter_clear(dp);
	set_action(dp, OP25B_ACT_DROP);
}

DP_AREA(limit)
{
	test_limit(dps->l2);
}
