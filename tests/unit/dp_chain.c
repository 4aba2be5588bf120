/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Chained mode (bpf/chain.h, doc/DESIGN.md, "Sharing XDP"): a part of
 * test_datapath (see its head), built in its translation unit over the
 * harness in dp_harness.h. An XDP datapath loaded for chain slot 1 runs
 * the program in that slot for every packet it passes, and only for
 * those; with the slot empty it passes as op25b alone does; and the
 * verifier's work stays within the bound with the call compiled in.
 */

/* ---- chained mode ---- */

static void test_verifier(struct dp *const dps[], int n);

#define CHAIN_SLOT	1
/* what the chained program answers: a word op25b's XDP never says */
#define CHAIN_MARK	XDP_REDIRECT

/* The other program: answers CHAIN_MARK to everything. */
static int chain_mark_prog(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = CHAIN_MARK },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	/* as libbpf loads SEC("xdp"): kernels since 6.17 compare it */
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_XDP);
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "chained_mark", "GPL",
			       insns, ARRAY_SIZE(insns), &o);

	if (fd < 0)
		tl_bug("load the chained program: %s", strerror(errno));
	return fd;
}

/* One packet through the chained datapath's XDP program: its answer. */
static void chain_expect(struct dp *dp, const char *label,
			 const struct pkt *p, __u32 want)
{
	__u32 ret = 0;
	int err = tl_run(dp->prog[0].fd, p, &ret);

	if (err)
		tl_check(false, label, "test_run failed: %s", strerror(-err));
	else
		tl_check(ret == want, label, "expected %u, saw %u", want, ret);
}

static void tcp_from(struct pkt *p, int family, const char *src,
		     const char *dst, __u16 dport)
{
	lay_l2(p, &enc_eth);
	pkt_ip(p, family, src, dst);
	pkt_tcp(p, SPORT, dport, TH_SYN);
	pkt_done(p);
}

static void test_chain(struct dp *dp)
{
	__u32 slot = CHAIN_SLOT;
	int map = bpf_map__fd(dp->skel->maps.op25b_chain), mark;
	struct pkt p;
	size_t f;

	syn(&p, &enc_eth, 4, 80);
	chain_expect(dp, "chain: slot empty: what op25b passes passes",
		     &p, XDP_PASS);
	mark = chain_mark_prog();
	if (bpf_map_update_elem(map, &slot, &mark, BPF_ANY))
		tl_bug("fill the chain slot: %s", strerror(errno));
	for (f = 0; f < ARRAY_SIZE(families); f++) {
		int fam = families[f];
		char l[160];

		syn(&p, &enc_eth, fam, 80);
		snprintf(l, sizeof(l),
			 "chain: ipv%d tcp/80 (passed unjudged) goes to the chained program",
			 fam);
		chain_expect(dp, l, &p, CHAIN_MARK);
		syn(&p, &enc_eth, fam, SMTP);
		snprintf(l, sizeof(l),
			 "chain: ipv%d tcp/25 from a denied subscriber is dropped, never chained",
			 fam);
		chain_expect(dp, l, &p, XDP_DROP);
		tcp_from(&p, fam, fam == 4 ? EXEMPT4 : EXEMPT6,
			 outside(fam), SMTP);
		snprintf(l, sizeof(l),
			 "chain: ipv%d tcp/25 from an exempt source (judged, passed) goes to the chained program",
			 fam);
		chain_expect(dp, l, &p, CHAIN_MARK);
		syn(&p, &enc_eth, fam, SMTP);
		pkt_cut(&p, ETH_HLEN + 4);
		snprintf(l, sizeof(l),
			 "chain: ipv%d packet cut inside its IP header (passed by the parser) goes to the chained program",
			 fam);
		chain_expect(dp, l, &p, CHAIN_MARK);
	}
	set_action(dp, OP25B_ACT_MONITOR);
	syn(&p, &enc_eth, 4, SMTP);
	chain_expect(dp, "chain: action monitor: a would-be-blocked packet passes on to the chained program",
		     &p, CHAIN_MARK);
	set_action(dp, OP25B_ACT_REJECT);
	chain_expect(dp, "chain: action reject: the RST goes back (XDP_TX), not to the chained program",
		     &p, XDP_TX);
	set_action(dp, OP25B_ACT_DROP);
	bpf_map_delete_elem(map, &slot);
	syn(&p, &enc_eth, 4, 80);
	chain_expect(dp, "chain: slot emptied again: what op25b passes passes",
		     &p, XDP_PASS);
	close(mark);
}

DP_AREA(chain)
{
	struct dp c = { .name = "l2 chained", .chain_slot = CHAIN_SLOT };

	/* a tail call beside bpf-to-bpf calls needs a JIT (op25b.bpf.c) */
	if (!engine_bpf_jit()) {
		tl_skip("chain: chained mode",
			"the kernel has no BPF JIT, which a tail call beside bpf-to-bpf calls needs");
		return;
	}
	if (dp_load(&c)) {
		test_chain(&c);
		/* the tail call compiled in: the bound holds all the same */
		test_verifier((struct dp *[]){ &c }, 1);
	}
	dp_unload(&c);
}
