// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath unit tests: every packet runs through BPF_PROG_TEST_RUN on both
 * entry points (op25b_xdp and op25b_tc), of a skeleton loaded for Ethernet
 * devices and of one loaded for L3 devices. Each run is checked four ways:
 * the verdict, that no abort value came back, the per-CPU counters (which
 * moved by exactly one, and that nothing else moved), the hit counters
 * of the policy entries (exactly the entries that decided moved), and what
 * was recorded: an offender entry and one event for a blocked or monitored
 * packet, neither for any other.
 *
 * The expected outcomes restate bpf/parse.h's rule comment and doc/DESIGN.md;
 * nothing here is derived from the datapath's code.
 *
 * The harness is dp_harness.h. The checks are in files of their own
 * (dp_*.c), every one included here from the list the Makefile makes of
 * their names (dp_files.h); a file that is an area registers it with
 * DP_AREA, and each area is a subtest, -t NAME (the usage message lists
 * them). verifier holds the work the kernel's verifier does with each
 * program to a bound (dp_verifier.c).
 */

#define _GNU_SOURCE	/* sched_setaffinity: dp_events.c pins a run to a CPU */
#include "dp_harness.h"

#include "dp_files.h"

/* ---- setup ---- */

static bool dp_load(struct dp *dp)
{
	struct engine_fds fds;
	struct op25b_bpf *s;
	char l[64];
	int err;

	snprintf(l, sizeof(l), "load the %s datapath", dp->name);
	s = op25b_bpf__open();
	if (!s)
		return tl_check(false, l, "open failed: %s", strerror(errno));
	s->rodata->op25b_l3 = dp->l3;
	s->rodata->op25b_egress = dp->egress;
	s->rodata->op25b_chain_slot = dp->chain_slot;
	/* a chained attachment's XDP program is its own (op25b.bpf.c) */
	bpf_program__set_autoload(s->progs.op25b_xdp, !dp->chain_slot);
	bpf_program__set_autoload(s->progs.op25b_xdp_ch, dp->chain_slot);
	/* the socket hooks load only where a JIT runs them (cgroup.h) */
	bpf_program__set_autoload(s->progs.op25b_connect4, engine_bpf_jit());
	bpf_program__set_autoload(s->progs.op25b_connect6, engine_bpf_jit());
	s->rodata->op25b_netns_ino = TEST_NETNS_INO;
	s->rodata->op25b_sweep_timer = engine_bpf_jit();
	bpf_map__set_max_entries(s->maps.op25b_events,
				 OP25B_EVLOG_REGION * libbpf_num_possible_cpus());
	s->rodata->op25b_offender_slots = TEST_OFFENDER_SLOTS;
	if (dp->hit_stripes) {
		s->rodata->op25b_hit_stripes = dp->hit_stripes;
		s->rodata->op25b_hits_shared = true;
	}
	bpf_map__set_max_entries(s->maps.op25b_offenders, TEST_OFFENDER_SLOTS);
	err = op25b_bpf__load(s);
	if (err) {
		op25b_bpf__destroy(s);
		if (err == -EPERM)
			tl_cannot_run("BPF not permitted here (EPERM)");
		return tl_check(false, l, "load failed: %s", strerror(-err));
	}
	err = evlog_open(&dp->log, bpf_map__fd(s->maps.op25b_events), true);
	if (err) {
		op25b_bpf__destroy(s);
		return tl_check(false, l, "event log: %s", strerror(-err));
	}
	dp->skel = s;
	if (engine_fds_of_object(s->obj, &fds))
		tl_bug("the skeleton has no policy maps");
	if (engine_open(&dp->eng, &fds, true))
		return tl_check(false, l, "engine: %s", dp->eng.err);
	dp->eng_open = true;
	dp->action = OP25B_ACT_DROP;
	dp->prog[0] = (struct prog){
		.name = dp->chain_slot ? OP25B_PROG_XDP_CHAINED : OP25B_PROG_XDP,
		.fd = bpf_program__fd(dp->chain_slot ? s->progs.op25b_xdp_ch :
						       s->progs.op25b_xdp),
		.pass = XDP_PASS,
		.drop = XDP_DROP,
		.answer = XDP_TX,
		.aborted = XDP_ABORTED,
		.is_xdp = true,
	};
	dp->prog[1] = (struct prog){
		.name = OP25B_PROG_TC,
		.fd = bpf_program__fd(s->progs.op25b_tc),
		.pass = (__u32)TC_ACT_UNSPEC,
		.drop = TC_ACT_SHOT,
		/* bpf_redirect()'s value; test_run reports it, sends nothing */
		.answer = TC_ACT_REDIRECT,
		/* "accept and stop classifying" would bypass later filters */
		.aborted = TC_ACT_OK,
	};
	tl_ok(l);
	return install_policy(dp);
}

/* What dp_load made, let go; a part it never made is left alone. */
static void dp_unload(struct dp *dp)
{
	if (dp->eng_open)
		engine_close(&dp->eng);
	if (dp->skel) {
		evlog_close(&dp->log);
		op25b_bpf__destroy(dp->skel);
	}
}

/* Every section that runs on Ethernet devices. */
static void suite_l2(struct dp *dp)
{
	struct encap deep = { .name = "vlan 0x88a8+0x8100 pppoe", .nvlan = 2,
			      .tpid = { ETH_P_8021AD, ETH_P_8021Q },
			      .pppoe = true };
	const struct encap *ip_encs[] = { &enc_eth, &deep };
	size_t i;

	test_verdict_paths(dp, &enc_eth);
	test_segments(dp, &enc_eth);
	test_port_bitmap(dp, &enc_eth);
	test_ethertypes(dp);
	test_vlans(dp);
	test_pppoe(dp);
	test_family_mismatch(dp);
	test_truncated(dp);
	for (i = 0; i < ARRAY_SIZE(ip_encs); i++) {
		test_ipv4_header(dp, ip_encs[i]);
		test_ipv4_frags(dp, ip_encs[i]);
		test_ipv6_header(dp, ip_encs[i]);
		test_ipv6_chain(dp, ip_encs[i]);
		test_ipv6_frags(dp, ip_encs[i]);
	}
}

static void suite_l3(struct dp *dp)
{
	test_verdict_paths(dp, &enc_l3);
	test_segments(dp, &enc_l3);
	test_port_bitmap(dp, &enc_l3);
	test_l3_only(dp);
	test_ipv4_header(dp, &enc_l3);
	test_ipv4_frags(dp, &enc_l3);
	test_ipv6_header(dp, &enc_l3);
	test_ipv6_chain(dp, &enc_l3);
	test_ipv6_frags(dp, &enc_l3);
}

/* The areas, by name: the order they run in. */
static int area_order(const void *a, const void *b)
{
	return strcmp((*(const struct dp_area *const *)a)->name,
		      (*(const struct dp_area *const *)b)->name);
}

static void usage(const char *prog, const struct dp_area *const *v, size_t n)
{
	size_t i;

	fprintf(stderr, "usage: %s [-q] [-t AREA] (AREA:", prog);
	for (i = 0; i < n; i++)
		fprintf(stderr, " %s", v[i]->name);
	fprintf(stderr, ")\n");
}

int main(int argc, char **argv)
{
	struct dp l2 = { .name = "l2" }, l3 = { .name = "l3", .l3 = true };
	struct dp l2e = { .name = "l2 egress", .egress = true };
	const struct dps dps = { &l2, &l3, &l2e };
	size_t n = __stop_dp_areas - __start_dp_areas, i, ran = 0;
	const struct dp_area *areas[n ? n : 1];
	const char *only = NULL;

	for (i = 0; i < n; i++)
		areas[i] = &__start_dp_areas[i];
	qsort(areas, n, sizeof(areas[0]), area_order);
	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "-q")) {
			tl.quiet = true;
		} else if (!strcmp(argv[i], "-t") && i + 1 < (size_t)argc) {
			only = argv[++i];
		} else {
			usage(argv[0], areas, n);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(tl_libbpf_warn);
	if (geteuid() != 0)
		tl_cannot_run("not root: BPF_PROG_TEST_RUN needs CAP_BPF and CAP_NET_ADMIN");
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		tl_cannot_run("cannot count possible CPUs");
	lo_ifindex = if_nametoindex("lo");
	if (!lo_ifindex)
		tl_cannot_run("no loopback device");

	if (!dp_load(&l2) || !dp_load(&l3) || !dp_load(&l2e))
		goto out;

	/* each area a subtest, -t NAME runs one alone */
	for (i = 0; i < n; i++) {
		if (only && strcmp(only, areas[i]->name))
			continue;
		areas[i]->run(&dps);
		ran++;
	}
	/* a name that runs nothing is a failure, never a quiet pass */
	if (!ran)
		tl_check(false, "subtest", "no subtest '%s'", only ? only : "");
out:
	dp_unload(&l2);
	dp_unload(&l3);
	dp_unload(&l2e);
	return tl_summary();
}
