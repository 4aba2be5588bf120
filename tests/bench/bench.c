// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench: what op25b costs per packet, measured side by side in one run
 * against a program that only returns "pass". BPF_PROG_TEST_RUN with a
 * large repeat, timed around the call, gives the average per run; each case is
 * measured several times interleaved with the baseline and the fastest run
 * kept, so a noisy neighbour inflates nothing. Prints ratios; asserts none.
 */
#include <time.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "op25b.h"
#include "testlib.h"
#include "engine.h"
#include "op25b.skel.h"

#define REPEAT	1000000
#define ROUNDS	5

struct bcase {
	const char *name;
	int prog;		/* 0 xdp, 1 tc */
	struct pkt p;
};

/* A two-instruction program returning ret: the floor of any program. */
static int load_floor(enum bpf_prog_type type, int ret)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, "op25b_floor", "GPL", insns, 2, NULL);
}

static double ns_per_run(int fd, const struct pkt *p)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->d,
		    .data_size_in = p->len, .repeat = REPEAT);

	struct timespec a, b;

	/* opts.duration is whole ns: too coarse here, so time the call. */
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (bpf_prog_test_run_opts(fd, &opts)) {
		fprintf(stderr, "bench: test run failed: %s\n", strerror(errno));
		exit(1);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / REPEAT;
}

/* Policy goes in through the controller's engine, as in production. */
static void add_rule(struct engine *e, int family, const char *addr,
		     __u32 len, enum op25b_verdict verdict)
{
	struct prefix p = { .family = family, .len = len };
	enum engine_change ch;

	pkt_addr(family, addr, p.addr);
	if (engine_set(e, OP25B_TABLE_SUBSCRIBER, &p, verdict, &ch)) {
		fprintf(stderr, "bench: cannot add %s: %s\n", addr, e->err);
		exit(1);
	}
}

static void engine_of(struct op25b_bpf *s, struct engine *e)
{
	struct engine_fds f;

	if (engine_fds_of_object(s->obj, &f) || engine_open(e, &f, true) ||
	    engine_begin(e)) {
		fprintf(stderr, "bench: engine: %s\n", e->err);
		exit(1);
	}
}

static void tcp_case(struct bcase *c, const char *name, int prog,
		     int family, const char *src, __u16 dport, bool encap)
{
	c->name = name;
	c->prog = prog;
	pkt_init(&c->p);
	pkt_eth(&c->p);
	if (encap) {
		pkt_vlan(&c->p, 0x88a8, 100);
		pkt_vlan(&c->p, 0x8100, 10);
		pkt_pppoe(&c->p, 0x11, 0, 0x1234);
	}
	pkt_ip(&c->p, family == AF_INET ? 4 : 6, src,
	       family == AF_INET ? "198.51.100.25" : "2001:db8:beef::25");
	pkt_tcp(&c->p, 40000, dport, 0x10);
	pkt_bytes(&c->p, 64, 0x5a);
	pkt_done(&c->p);
}

int main(void)
{
	/* each measured on both hooks */
	static const struct {
		const char *what;
		int family;
		const char *src;
		__u16 dport;
		bool encap;
	} shapes[] = {
		{ "IPv4 TCP 443 (not SMTP)", AF_INET, "10.1.2.3", 443, false },
		{ "IPv6 TCP 443 (not SMTP)", AF_INET6, "2001:db8::1", 443, false },
		{ "QinQ+PPPoE IPv4 TCP 443", AF_INET, "10.1.2.3", 443, true },
		{ "IPv4 TCP 25, not subscriber", AF_INET, "172.16.0.1", 25, false },
		{ "IPv4 TCP 25, blocked", AF_INET, "10.1.2.3", 25, false },
	};
	struct bcase cases[10];
	struct op25b_bpf *skel;
	struct engine eng;
	double best[10], floor_best[2];
	int floor_fd[2], fd[2];
	int i, n = 0, r;

	_Static_assert(2 * sizeof(shapes) / sizeof(shapes[0]) <=
			       sizeof(cases) / sizeof(cases[0]),
		       "every shape on both hooks fits in cases");

	libbpf_set_print(NULL);
	skel = op25b_bpf__open_and_load();
	floor_fd[0] = load_floor(BPF_PROG_TYPE_XDP, XDP_PASS);
	floor_fd[1] = load_floor(BPF_PROG_TYPE_SCHED_CLS, TC_ACT_UNSPEC);
	if (!skel || floor_fd[0] < 0 || floor_fd[1] < 0) {
		fprintf(stderr, "bench: cannot load programs (root?)\n");
		return 1;
	}
	fd[0] = bpf_program__fd(skel->progs.op25b_xdp);
	fd[1] = bpf_program__fd(skel->progs.op25b_tc);
	engine_of(skel, &eng);
	add_rule(&eng, AF_INET, "10.0.0.0", 8, OP25B_V_DENY);
	add_rule(&eng, AF_INET6, "2001:db8::", 32, OP25B_V_DENY);
	if (engine_commit(&eng)) {
		fprintf(stderr, "bench: commit: %s\n", eng.err);
		return 1;
	}

	for (r = 0; r < 2; r++) {
		const char *hook = r ? "tc " : "xdp";
		static char names[10][64];
		size_t k;

		for (k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
			snprintf(names[n], 64, "%s %s", hook, shapes[k].what);
			tcp_case(&cases[n], names[n], r, shapes[k].family,
				 shapes[k].src, shapes[k].dport,
				 shapes[k].encap);
			n++;
		}
	}

	floor_best[0] = floor_best[1] = 1e18;
	for (i = 0; i < n; i++)
		best[i] = 1e18;
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < n; i++) {
			double f = ns_per_run(floor_fd[cases[i].prog],
					      &cases[i].p);
			double t = ns_per_run(fd[cases[i].prog], &cases[i].p);

			if (f < floor_best[cases[i].prog])
				floor_best[cases[i].prog] = f;
			if (t < best[i])
				best[i] = t;
		}
	}

	printf("BPF_PROG_TEST_RUN, %d runs x %d rounds, fastest round\n",
	       REPEAT, ROUNDS);
	printf("%-34s %8s %8s\n", "case", "ns/pkt", "x floor");
	printf("%-34s %8.1f %8.2f\n", "xdp floor (return XDP_PASS)",
	       floor_best[0], 1.0);
	printf("%-34s %8.1f %8.2f\n", "tc  floor (return TC_ACT_UNSPEC)",
	       floor_best[1], 1.0);
	for (i = 0; i < n; i++)
		printf("%-34s %8.1f %8.2f\n", cases[i].name, best[i],
		       best[i] / floor_best[cases[i].prog]);
	engine_close(&eng);
	op25b_bpf__destroy(skel);
	return 0;
}
