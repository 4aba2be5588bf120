/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Publishing is atomic for the datapath, and the pinned loop the shell
 * suites run beside a changing policy: a part of test_engine (see its
 * head), built in its translation unit over the harness in
 * engine_harness.h.
 */

/*
 * No packet is judged by a mix of two snapshots. Snapshot A denies the
 * source and allows the destination as a relay; B does neither. Each
 * passes S -> D:25 whole, and any mix (A's subscriber with B's relay)
 * blocks it. While a thread on each CPU runs the datapath on that
 * packet, A and B are published in turn: not one packet may be blocked.
 * The control publishes the two tables of each change separately, which
 * is exactly a mix: it must see blocked packets, or this test could not.
 * The tc entry point runs it: XDP's test run re-patches the XDP
 * dispatcher, an RCU wait, on every call when nothing is attached.
 */
#define ATOMIC_FLIPS	100

struct looper {
	int cpu;
	int prog_fd;
	struct pkt *p;
	atomic_bool *stop;
	unsigned long long runs;
};

static void *loop_run(void *arg)
{
	struct looper *l = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(l->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	while (!atomic_load(l->stop)) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = l->p->d,
			    .data_size_in = l->p->len, .repeat = 64);

		if (bpf_prog_test_run_opts(l->prog_fd, &o)) {
			fprintf(stderr, "test_run: %s\n", strerror(errno));
			break;
		}
		l->runs += 64;
	}
	return NULL;
}

static __u64 stat_sum(size_t off)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct op25b_stats per[ncpu];
	__u32 zero = 0;
	__u64 n = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.op25b_stats), &zero, per))
		tl_bug("reading stats: %s", strerror(errno));
	for (c = 0; c < ncpu; c++)
		n += *(__u64 *)((char *)&per[c] + off);
	return n;
}

static void prefix_of(const char *s, int len, struct prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = strchr(s, ':') ? AF_INET6 : AF_INET;
	p->len = (__u32)len;
	if (inet_pton(p->family, s, p->addr) != 1)
		tl_bug("bad test prefix %s", s);
}

/* A: both rules; B: neither. split: each table in its own publish. */
static void publish_flip(struct engine *e, bool to_a, bool split)
{
	struct prefix sub, relay;
	enum engine_change ch;
	int err = 0;

	prefix_of("10.1.0.0", 16, &sub);
	prefix_of("192.0.2.25", 32, &relay);
	if (engine_begin(e))
		tl_bug("begin: %s", e->err);
	/* going to A the subscriber deny comes first, to B the relay goes first */
	if (to_a)
		err = engine_set(e, OP25B_TABLE_SUBSCRIBER, &sub, OP25B_V_DENY, &ch);
	else
		err = engine_del(e, OP25B_TABLE_RELAY, &relay, &ch);
	if (!err && split)
		err = engine_commit(e) || engine_begin(e);
	if (!err && to_a)
		err = engine_set(e, OP25B_TABLE_RELAY, &relay, OP25B_V_ALLOW, &ch);
	else if (!err)
		err = engine_del(e, OP25B_TABLE_SUBSCRIBER, &sub, &ch);
	if (err || engine_commit(e))
		tl_bug("flip: %s", e->err);
}

static void atomic_run(bool split, unsigned long long *packets,
		       unsigned long long *blocked, unsigned long long *judged)
{
	struct looper l[2];
	pthread_t th[2];
	atomic_bool stop = false;
	struct engine e;
	struct pkt p;
	__u64 b0, j0;
	int i;

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "10.1.2.3", "192.0.2.25");
	pkt_tcp(&p, 40000, 25, TH_SYN);
	pkt_done(&p);
	eng_open(&e, true);
	publish_flip(&e, true, false);
	b0 = stat_sum(offsetof(struct op25b_stats, blocked));
	j0 = stat_sum(offsetof(struct op25b_stats, smtp));
	for (i = 0; i < 2; i++) {
		l[i] = (struct looper){ .cpu = i % libbpf_num_possible_cpus(),
					.prog_fd = bpf_program__fd(skel->progs.op25b_tc),
					.p = &p, .stop = &stop };
		pthread_create(&th[i], NULL, loop_run, &l[i]);
	}
	usleep(20000);
	for (i = 0; i < ATOMIC_FLIPS; i++) {
		publish_flip(&e, i % 2 == 1, split);
		usleep(200);
	}
	atomic_store(&stop, true);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	*packets = l[0].runs + l[1].runs;
	*blocked = stat_sum(offsetof(struct op25b_stats, blocked)) - b0;
	*judged = stat_sum(offsetof(struct op25b_stats, smtp)) - j0;
	engine_close(&e);
}

static void test_atomic(void)
{
	unsigned long long pk, bl, ju;

	maps_fresh(OP25B_CAPACITY_MIN);
	atomic_run(false, &pk, &bl, &ju);
	printf("# atomic: %d publishes, %llu packets, %llu judged, %llu blocked\n",
	       ATOMIC_FLIPS, pk, ju, bl);
	tl_check(ju > 0 && pk > 0, "atomic: packets were judged during the publishes",
		 "%llu packets, %llu judged", pk, ju);
	tl_check(bl == 0, "atomic: no packet judged by a mix of two snapshots",
		 "%llu of %llu blocked", bl, ju);
	atomic_run(true, &pk, &bl, &ju);
	printf("# control (tables published apart): %llu packets, %llu judged, %llu blocked\n",
	       pk, ju, bl);
	tl_check(bl > 0, "atomic: the control, publishing the tables apart, shows mixes",
		 "%llu of %llu blocked: this test could not see a mix", bl, ju);
}

/*
 * -p PIN_DIR -l SECONDS: no test, a load for the shell suites. Run the
 * datapath, with the maps pinned under PIN_DIR, on the atomic test's
 * packet (10.1.2.3 -> 192.0.2.25:25) on every CPU until SIGTERM or the
 * time is up; print what the counters saw meanwhile.
 */
static atomic_bool loop_stop;

static void loop_term(int sig)
{
	(void)sig;
	atomic_store(&loop_stop, true);
}

static int pinned_loop(const char *pin, int secs)
{
	static const char *const names[][2] = {
		{ ".data.policy", "policy" }, { "op25b_roots", "roots" },
		{ "op25b_nodes", "nodes" }, { "op25b_leaves", "leaves" },
		{ "op25b_rules", "rules" }, { "op25b_hits", "hits" },
		{ "op25b_engine", "engine" }, { "op25b_index", "index" },
		{ "op25b_stats", "stats" }, { "op25b_attach", "attachments" },
		{ "op25b_offenders", "offenders" }, { "op25b_events", "events" },
	};
	unsigned long long judged0, blocked0;
	struct looper l[2];
	pthread_t th[2];
	char path[512];
	struct pkt p;
	size_t i;
	int fd;

	skel = op25b_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->op25b_sweep_timer = engine_bpf_jit();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj,
								 names[i][0]);

		snprintf(path, sizeof(path), "%s/%s", pin, names[i][1]);
		fd = bpf_obj_get(path);
		if (!m || fd < 0 || bpf_map__reuse_fd(m, fd)) {
			fprintf(stderr, "loop: cannot reuse %s\n", path);
			return 1;
		}
		close(fd);
	}
	skel_tell_sizes(skel);
	if (op25b_bpf__load(skel)) {
		fprintf(stderr, "loop: cannot load\n");
		return 1;
	}
	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "10.1.2.3", "192.0.2.25");
	pkt_tcp(&p, 40000, 25, TH_SYN);
	pkt_done(&p);
	signal(SIGTERM, loop_term);
	signal(SIGALRM, loop_term);
	alarm((unsigned int)secs);
	judged0 = stat_sum(offsetof(struct op25b_stats, smtp));
	blocked0 = stat_sum(offsetof(struct op25b_stats, blocked));
	for (i = 0; i < 2; i++) {
		l[i] = (struct looper){ .cpu = (int)i % libbpf_num_possible_cpus(),
					.prog_fd = bpf_program__fd(skel->progs.op25b_tc),
					.p = &p, .stop = &loop_stop };
		pthread_create(&th[i], NULL, loop_run, &l[i]);
	}
	/* ready: the shell suite starts changing the policy now */
	printf("running\n");
	fflush(stdout);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("packets %llu judged %llu blocked %llu\n", l[0].runs + l[1].runs,
	       stat_sum(offsetof(struct op25b_stats, smtp)) - judged0,
	       stat_sum(offsetof(struct op25b_stats, blocked)) - blocked0);
	op25b_bpf__destroy(skel);
	return 0;
}
