// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench, the policy engine's part: what a judged packet's decision
 * costs as the tables grow from 1 to 1,000,000 prefixes, and what the maps
 * take. Measured as traffic is: 200,000 distinct packets, each from a
 * source inside a different subscriber prefix to a destination inside a
 * relay prefix (both trees walked to their depth), one BPF_PROG_TEST_RUN
 * each, against a program that only passes, on the very same packets.
 * The decision cost is the difference per packet. Prints; asserts nothing.
 *
 * Usage: bench_policy [-n PACKETS] [-r ROUNDS] [-m MAXSIZE] [-b]
 * -b: instead, the blocked path: 10,000 denied IPv4 prefixes, no relay,
 * 200,000 packets from sources spread over them (counters, offenders,
 * event budget), as "blocked ipv4 10000 ...".
 * Output: one line per family and size: "policy FAMILY N ns_op25b
 * ns_floor decision_ns bytes", for tests/bench/run.sh to tabulate.
 */
#include <time.h>
#include <linux/bpf.h>
#include "op25b.h"
#include "testlib.h"
#include "engine.h"
#include "op25b.skel.h"
#include "skel_sizes.h"
#include "probe.skel.h"
#include <sys/mman.h>

static unsigned long long rng = 0x9E3779B97F4A7C15ULL;

static __u64 rnd(void)
{
	return tl_xorshift(&rng);
}

static int load_floor(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "op25b_floor", "GPL", insns, 2,
			     NULL);
}

/*
 * The prefixes of a table of n: IPv4 host routes spread over the whole
 * space (the deepest and least shared IPv4 shape), IPv6 /56 delegations
 * under a few /32s (a BRAS's shape, five node levels deep).
 */
static void make_prefix(int family, struct prefix *p)
{
	__u64 r = rnd();

	memset(p, 0, sizeof(*p));
	p->family = family;
	if (family == AF_INET) {
		p->len = 32;
		memcpy(p->addr, &r, 4);
		return;
	}
	p->len = 56;
	p->addr[0] = 0x20;
	p->addr[1] = 0x01;
	p->addr[2] = 0x0d;
	p->addr[3] = 0xb8 + (r & 3);
	p->addr[4] = r >> 8;
	p->addr[5] = r >> 16;
	p->addr[6] = r >> 24;
}

/* An address inside p: random host bits. */
static void inside(const struct prefix *p, __u8 *a)
{
	__u32 bits = p->family == AF_INET ? 32 : 128, b;

	memcpy(a, p->addr, 16);
	for (b = p->len; b < bits; b++)
		if (rnd() & 1)
			a[b / 8] |= 0x80 >> (b % 8);
}

static struct op25b_bpf *load(__u32 cap)
{
	struct op25b_bpf *s = op25b_bpf__open();

	if (!s)
		return NULL;
	engine_size_object(s->obj, cap);
	skel_tell_sizes(s);
	if (op25b_bpf__load(s)) {
		op25b_bpf__destroy(s);
		return NULL;
	}
	return s;
}

static unsigned long long policy_bytes(struct op25b_bpf *s)
{
	struct engine_fds f;
	unsigned long long b = 0;
	int i;

	engine_fds_of_object(s->obj, &f);
	for (i = 0; i < 8; i++)
		b += engine_map_memlock(((int *)&f)[i]);
	return b;
}

/* Sum of the test run's own timing over the packets, one run each. */
static double run_all(int fd, struct pkt *pk, int n)
{
	double sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pk[i].d,
			    .data_size_in = pk[i].len, .repeat = 1);

		if (bpf_prog_test_run_opts(fd, &o)) {
			fprintf(stderr, "bench: test run: %s\n", strerror(errno));
			exit(1);
		}
		sum += o.duration;
	}
	return sum / n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Median ns per packet of prog and of the floor over rounds (at most 16),
 * the two run in turns on the same packets.
 */
static void measure(int prog_fd, int floor_fd, struct pkt *pk, int npkt,
		    int rounds, double *ns, double *floor_ns)
{
	double t[16], fl[16];
	int r;

	for (r = 0; r < rounds; r++) {
		fl[r] = run_all(floor_fd, pk, npkt);
		t[r] = run_all(prog_fd, pk, npkt);
	}
	qsort(t, rounds, sizeof(t[0]), cmp_double);
	qsort(fl, rounds, sizeof(fl[0]), cmp_double);
	*ns = t[rounds / 2];
	*floor_ns = fl[rounds / 2];
}

static void bench_size(int family, __u32 n, int npkt, int rounds, int floor_fd,
		       bool blocked)
{
	__u32 cap = n < OP25B_CAPACITY_MIN ? OP25B_CAPACITY_MIN : n;
	struct prefix *sub, *rel;
	struct engine_fds f;
	struct op25b_bpf *s;
	struct engine e;
	struct pkt *pk;
	double ns, floor_ns;
	enum engine_change ch;
	char sa[64], da[64];
	__u8 a[16];
	__u32 i;
	int r;

	s = load(cap);
	if (!s) {
		fprintf(stderr, "bench: cannot load for %u prefixes\n", n);
		exit(1);
	}
	engine_fds_of_object(s->obj, &f);
	sub = calloc(n, sizeof(*sub));
	rel = calloc(n, sizeof(*rel));
	pk = calloc(npkt, sizeof(*pk));
	if (!sub || !rel || !pk || engine_open(&e, &f, true) || engine_begin(&e)) {
		fprintf(stderr, "bench: setup failed\n");
		exit(1);
	}
	for (i = 0; i < n; i++) {
		make_prefix(family, &sub[i]);
		make_prefix(family, &rel[i]);
		if (engine_set(&e, OP25B_TABLE_SUBSCRIBER, &sub[i], OP25B_V_DENY, &ch) ||
		    (!blocked &&
		     engine_set(&e, OP25B_TABLE_RELAY, &rel[i], OP25B_V_ALLOW, &ch))) {
			fprintf(stderr, "bench: %s\n", e.err);
			exit(1);
		}
	}
	if (engine_commit(&e)) {
		fprintf(stderr, "bench: %s\n", e.err);
		exit(1);
	}
	for (r = 0; r < npkt; r++) {
		pkt_init(&pk[r]);
		pkt_eth(&pk[r]);
		inside(&sub[rnd() % n], a);
		inet_ntop(family, a, sa, sizeof(sa));
		inside(&rel[rnd() % n], a);
		inet_ntop(family, a, da, sizeof(da));
		pkt_ip(&pk[r], family == AF_INET ? 4 : 6, sa, da);
		pkt_tcp(&pk[r], 40000 + r % 20000, 25, 0x02);
		pkt_done(&pk[r]);
	}
	measure(bpf_program__fd(s->progs.op25b_xdp), floor_fd, pk, npkt, rounds,
		&ns, &floor_ns);
	printf("%s %s %u %.1f %.1f %.1f %llu\n", blocked ? "blocked" : "policy",
	       family == AF_INET ? "ipv4" : "ipv6", n, ns, floor_ns,
	       ns - floor_ns, policy_bytes(s));
	fflush(stdout);
	engine_close(&e);
	op25b_bpf__destroy(s);
	free(sub);
	free(rel);
	free(pk);
}

/*
 * -y: the yardstick. depth dependent loads over an array of entries u32s,
 * from 200,000 packets of distinct random IPv4 sources: "probe BYTES DEPTH
 * ns_probe ns_floor ns".
 */
static void bench_probe(__u32 entries, __u32 depth, int npkt, int rounds,
			int floor_fd)
{
	struct probe_bpf *s = probe_bpf__open();
	double ns, floor_ns;
	struct pkt *pk;
	char sa[32];
	__u32 *mem, i, src;
	int r;

	if (!s)
		exit(1);
	s->rodata->probe_mask = entries - 1;
	s->rodata->probe_depth = depth;
	bpf_map__set_max_entries(s->maps.probe_mem, entries);
	bpf_map__set_map_flags(s->maps.probe_mem, BPF_F_MMAPABLE);
	if (probe_bpf__load(s)) {
		fprintf(stderr, "bench: cannot load the probe\n");
		exit(1);
	}
	mem = mmap(NULL, (size_t)entries * 4, PROT_READ | PROT_WRITE, MAP_SHARED,
		   bpf_map__fd(s->maps.probe_mem), 0);
	pk = calloc(npkt, sizeof(*pk));
	if (mem == MAP_FAILED || !pk)
		exit(1);
	for (i = 0; i < entries; i++)
		mem[i] = (__u32)rnd();
	for (r = 0; r < npkt; r++) {
		src = (__u32)rnd();
		snprintf(sa, sizeof(sa), "%u.%u.%u.%u", src >> 24, (src >> 16) & 255,
			 (src >> 8) & 255, src & 255);
		pkt_init(&pk[r]);
		pkt_eth(&pk[r]);
		pkt_ip(&pk[r], 4, sa, "192.0.2.1");
		pkt_tcp(&pk[r], 40000 + r % 20000, 25, 0x02);
		pkt_done(&pk[r]);
	}
	measure(bpf_program__fd(s->progs.probe), floor_fd, pk, npkt, rounds, &ns,
		&floor_ns);
	printf("probe %llu %u %.1f %.1f %.1f\n", (unsigned long long)entries * 4,
	       depth, ns, floor_ns, ns - floor_ns);
	fflush(stdout);
	munmap(mem, (size_t)entries * 4);
	probe_bpf__destroy(s);
	free(pk);
}

int main(int argc, char **argv)
{
	static const __u32 sizes[] = { 1, 100, 10000, 100000, 1000000 };
	int npkt = 200000, rounds = 3, floor_fd, a, fam;
	bool blocked = false, yard = false;
	__u32 max = 1000000;
	size_t i;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-n") && a + 1 < argc)
			npkt = atoi(argv[++a]);
		else if (!strcmp(argv[a], "-r") && a + 1 < argc)
			rounds = atoi(argv[++a]);
		else if (!strcmp(argv[a], "-m") && a + 1 < argc)
			max = (__u32)atoi(argv[++a]);
		else if (!strcmp(argv[a], "-b"))
			blocked = true;
		else if (!strcmp(argv[a], "-y"))
			yard = true;
		else {
			fprintf(stderr, "usage: %s [-n PACKETS] [-r ROUNDS] [-m MAXSIZE] [-b]\n",
				argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > 15 || npkt < 1)
		return 2;
	libbpf_set_print(NULL);
	floor_fd = load_floor();
	if (floor_fd < 0) {
		fprintf(stderr, "bench: cannot load programs (root?)\n");
		return 1;
	}
	if (yard) {
		static const __u32 ent[] = { 1u << 8, 1u << 18, 1u << 20, 1u << 22,
					      1u << 26 };
		static const __u32 dep[] = { 1, 2, 4 };
		size_t j;

		for (i = 0; i < sizeof(ent) / sizeof(ent[0]); i++)
			for (j = 0; j < sizeof(dep) / sizeof(dep[0]); j++)
				bench_probe(ent[i], dep[j], npkt, rounds, floor_fd);
		return 0;
	}
	/* -b: the blocked path, from sources spread over 10,000 prefixes */
	if (blocked) {
		bench_size(AF_INET, 10000, npkt, rounds, floor_fd, true);
		return 0;
	}
	for (fam = 0; fam < 2; fam++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			if (sizes[i] <= max)
				bench_size(fam ? AF_INET6 : AF_INET, sizes[i], npkt,
					   rounds, floor_fd, false);
	return 0;
}
