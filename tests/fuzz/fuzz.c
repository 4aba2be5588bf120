// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Differential fuzzer: generated frames go through op25b_xdp and op25b_tc
 * (BPF_PROG_TEST_RUN) and through the reference model in oracle.c; any
 * difference in verdict or in the per-CPU counters is a failure.
 *
 * Frames are built shape by shape (VLAN stacks, PPPoE, IPv4 options and
 * fragments, IPv6 extension chains, ports and addresses near the policy's
 * edges) and then a large share is mutated or cut, often inside a header,
 * because the interesting bugs live where a length field and the frame's
 * real end disagree: gen.c.
 *
 * The policy is large and moving, and mirrored in the oracle: policy.c.
 * Each rule's hit counter is compared too.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <linux/if_ether.h>
#include <linux/ppp_defs.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "op25b.h"
#include "op25b.skel.h"
#include "skel_sizes.h"
#include "testlib.h"
#include "engine.h"
#include "oracle.h"
#include "gen.h"
#include "fuzz.h"

/*
 * A run of COVERAGE_MIN packets or more must have produced every class,
 * and answers of each kind.
 */
#define COVERAGE_MIN	100000
#define PROGRESS_EVERY	1000000

#define DEFAULT_PACKETS	200000
#define DEFAULT_SEED	1

const char *const mode_name[MODE_COUNT] = { "l2", "l3" };
/*
 * Each mode's trees with another root table (op25b.h): the smallest and
 * the largest, so that one policy is laid out on two shapes.
 */
const unsigned int mode_root_bits[MODE_COUNT] = {
	OP25B_ROOT_BITS_MIN, OP25B_ROOT_BITS_MAX
};

/* ---- running the programs */

struct target targets[MODE_COUNT];
static int ncpus;
static int quiet;
unsigned long long seed = DEFAULT_SEED;

static const struct {
	const char *name;
	size_t off;
} stat_fields[] = {
#define STAT_FIELD(f) { #f, offsetof(struct op25b_stats, f) }
	STAT_FIELD(smtp),	STAT_FIELD(evasion),
	STAT_FIELD(undecidable), STAT_FIELD(malformed),
	STAT_FIELD(not_subscriber), STAT_FIELD(exempt),
	STAT_FIELD(relay),	STAT_FIELD(blocked),
	STAT_FIELD(monitored),	STAT_FIELD(rejected),
	STAT_FIELD(limit_passed), STAT_FIELD(limit_exceeded),
	STAT_FIELD(quarantined), STAT_FIELD(quarantines),
	STAT_FIELD(limit_full),
#undef STAT_FIELD
};

#define STAT_FIELDS ARRAY_LEN(stat_fields)

/*
 * events_suppressed and events_lost are left out of the comparison on
 * purpose: whether an event is suppressed depends on the time since the
 * source's last one (OP25B_EVENT_INTERVAL_NS of wall time, not the packet),
 * and events_lost on whether the CPU has a region of the event log;
 * neither is a property of the packet, which is all the oracle sees.
 * releases are counted by the limiter's sweeper, on a timer of its own.
 * The unit tests check those three exactly. Every other counter is
 * compared; limit_full among them, which the oracle never moves: the
 * limiter is made large enough here never to run out.
 */
_Static_assert(sizeof(struct op25b_stats) ==
		       (ARRAY_LEN(stat_fields) + 3) * sizeof(__u64),
	       "a counter of struct op25b_stats is neither compared nor excluded");

static uint64_t stat_get(const struct op25b_stats *s, size_t i)
{
	uint64_t v;

	memcpy(&v, (const char *)s + stat_fields[i].off, sizeof(v));
	return v;
}

static int read_stats(struct target *t, struct op25b_stats *sum)
{
	struct op25b_stats *per = calloc((size_t)ncpus, sizeof(*per));
	__u32 key = 0;
	int err, cpu;
	size_t i;

	if (!per)
		return -ENOMEM;
	err = bpf_map__lookup_elem(t->skel->maps.op25b_stats, &key,
				   sizeof(key), per,
				   sizeof(*per) * (size_t)ncpus, 0);
	memset(sum, 0, sizeof(*sum));
	for (cpu = 0; !err && cpu < ncpus; cpu++) {
		for (i = 0; i < STAT_FIELDS; i++) {
			uint64_t v = stat_get(sum, i) + stat_get(&per[cpu], i);

			memcpy((char *)sum + stat_fields[i].off, &v,
			       sizeof(v));
		}
	}
	free(per);
	return err;
}

/* Describes the fields of got that differ from want; 0 when none. */
static int stats_diff(const struct op25b_stats *want,
		      const struct op25b_stats *got, char *buf, size_t size)
{
	size_t i, used = 0;
	int n = 0;

	buf[0] = '\0';
	for (i = 0; i < STAT_FIELDS; i++) {
		uint64_t w = stat_get(want, i), g = stat_get(got, i);

		if (w == g)
			continue;
		n++;
		if (used < size)
			used += (size_t)snprintf(buf + used, size - used,
						 "%s%s expected %" PRIu64
						 " seen %" PRIu64,
						 used ? ", " : "",
						 stat_fields[i].name, w, g);
	}
	return n;
}

static void stats_sub(struct op25b_stats *d, const struct op25b_stats *a,
		      const struct op25b_stats *b)
{
	size_t i;

	for (i = 0; i < STAT_FIELDS; i++) {
		uint64_t v = stat_get(a, i) - stat_get(b, i);

		memcpy((char *)d + stat_fields[i].off, &v, sizeof(v));
	}
}

/*
 * The kernel's skb test run refuses a frame whose Ethernet type says IP
 * but which is too short for the bare IP header (it fills in a socket
 * from it); such frames can only be run through XDP. That is a limit of
 * BPF_PROG_TEST_RUN, not of op25b_tc.
 */
static bool tc_refused(const uint8_t *pkt, size_t len)
{
	unsigned int type = (unsigned int)pkt[12] << 8 | pkt[13];

	return (type == ETH_P_IP && len < ETH_HLEN + sizeof(struct iphdr)) ||
	       (type == ETH_P_IPV6 && len < ETH_HLEN + IPV6_HDR_LEN);
}

/* out, when given (PKT_MAX bytes), gets the frame as the program left it. */
static int run_prog(int fd, const uint8_t *pkt, size_t len, __u32 *retval,
		    uint8_t *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt,
		    .data_size_in = (__u32)len, .data_out = out,
		    .data_size_out = out ? PKT_MAX : 0, .repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &opts);

	*retval = opts.retval;
	if (out_len)
		*out_len = opts.data_size_out;
	return err;
}

static void print_packet(const uint8_t *pkt, size_t len, bool l3,
			 const struct oracle_result *r)
{
	size_t i;

	printf("#   mode %s, %zu bytes; oracle: class %s, judgement %s, %s%s\n",
	       l3 ? "l3" : "l2", len, oracle_class_name(r->cls),
	       oracle_judgement_name(r->judgement), r->drop ? "drop" : "pass",
	       oracle.action == OP25B_ACT_REJECT ? " (action reject)" : "");
	for (i = 0; i < len; i++) {
		if (i % 16 == 0)
			printf("#   %04zx:", i);
		printf(" %02x", pkt[i]);
		if (i % 16 == 15 || i + 1 == len)
			printf("\n");
	}
	printf("#   hex: ");
	for (i = 0; i < len; i++)
		printf("%02x", pkt[i]);
	printf("\n");
}

/* ---- bookkeeping for the summary */

static unsigned long class_seen[MODE_COUNT][OP25B_C_MALFORMED + 1];
static unsigned long judgement_seen[ORACLE_J_COUNT];
static unsigned long runs_agreed[MODE_COUNT][2];	/* [mode][xdp, tc] */
static unsigned long tc_skipped[MODE_COUNT];	/* refused by test_run */
static unsigned long answers[MODE_COUNT][2];	/* RSTs: [mode][xdp, tc] */
static unsigned long partial_answers;	/* tc, in CHECKSUM_PARTIAL form */
static unsigned long partial_refused;	/* tc: PARTIAL, header would move */
static unsigned long xdp_aborted;
unsigned long packets_run;
static int passed, failed;

void check(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		passed++;
	else
		failed++;
	if (ok && quiet)
		return;
	printf("%s - ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* The window since the last counter check, replayed one run at a time. */
struct window_pkt {
	uint8_t b[PKT_MAX];
	size_t len;
	bool l3;
};

static struct window_pkt window[CHECK_EVERY];
static int window_n;

/* Finds the first run of the window that moves the counters wrongly. */
static void replay_window(int mode)
{
	struct op25b_stats before, after, delta, want;
	char diff[512];
	int i, p;

	for (i = 0; i < window_n; i++) {
		struct window_pkt *w = &window[i];
		struct oracle_result r;

		if (w->l3 != (mode == MODE_L3))
			continue;
		r = oracle_judge(&oracle, w->l3, w->b, w->len);
		if (r.judgement == ORACLE_J_LIMIT) {
			/* the limiter moved on: a replay judges differently */
			continue;
		}
		for (p = 0; p < 2; p++) {
			struct oracle_rst rst;
			__u32 ret;

			memset(&want, 0, sizeof(want));
			oracle_count(&r, oracle_rst(&oracle, &r, w->l3, p, w->b,
						    &rst),
				     &want);
			if (read_stats(&targets[mode], &before))
				return;
			if (run_prog(p ? targets[mode].tc_fd :
					 targets[mode].xdp_fd,
				     w->b, w->len, &ret, NULL, NULL)) {
				if (p && tc_refused(w->b, w->len))
					continue;
				return;
			}
			if (read_stats(&targets[mode], &after))
				return;
			stats_sub(&delta, &after, &before);
			if (stats_diff(&want, &delta, diff, sizeof(diff))) {
				printf("#   replayed: %s moved the counters "
				       "wrongly on this packet: %s\n",
				       p ? "op25b_tc" : "op25b_xdp", diff);
				print_packet(w->b, w->len, w->l3, &r);
				return;
			}
		}
	}
	printf("#   replaying the window packet by packet did not "
	       "reproduce it\n");
}

static int check_counters(int mode, unsigned long idx)
{
	struct target *t = &targets[mode];
	struct op25b_stats got;
	char diff[512];
	int err = read_stats(t, &got);

	if (err) {
		check(0, "%s counters: reading op25b_stats: %s",
		      mode_name[mode], strerror(-err));
		return -1;
	}
	t->checks++;
	if (!stats_diff(&t->expect, &got, diff, sizeof(diff)))
		return 0;
	check(0, "%s counters after packet %lu: %s", mode_name[mode], idx,
	      diff);
	replay_window(mode);
	printf("#   reproduce: fuzz -s %llu -n %lu -c\n", seed, idx + 1);
	return -1;
}

/*
 * The clock the datapath is fed moves on by up to CLOCK_STEP_MAX ns a
 * packet, so sources come back to find tokens, excesses and quarantines
 * alike.
 */
#define CLOCK_STEP_MAX		5000ULL
#define LIMITER_ENTRIES		(1u << 18)

static uint64_t fuzz_clock = 1000ULL * 1000000000ULL;
static struct oracle_limiter limiters[MODE_COUNT];
static unsigned long limit_seen[3], quarantines_seen;	/* by oracle_limited */

static int load_targets(char *why, size_t size)
{
	struct engine_fds fds;
	int m, err;

	for (m = 0; m < MODE_COUNT; m++) {
		struct op25b_bpf *skel = op25b_bpf__open();

		if (!skel) {
			snprintf(why, size, "opening the skeleton: %s",
				 strerror(errno));
			return -1;
		}
		skel->rodata->op25b_sweep_timer = engine_bpf_jit();
		targets[m].skel = skel;
		skel->rodata->op25b_l3 = m == MODE_L3;
		/* never a full set: the oracle's limiter has no sets to fill */
		bpf_map__set_max_entries(skel->maps.op25b_limiter,
					 LIMITER_ENTRIES);
		bpf_map__set_max_entries(skel->maps.op25b_roots,
					 OP25B_ROOT_TABLES << mode_root_bits[m]);
		skel_tell_sizes(skel);
		err = op25b_bpf__load(skel);
		if (err) {
			snprintf(why, size, "loading the %s datapath: %s",
				 mode_name[m], strerror(-err));
			return -1;
		}
		targets[m].xdp_fd = bpf_program__fd(skel->progs.op25b_xdp);
		targets[m].tc_fd = bpf_program__fd(skel->progs.op25b_tc);
		if (engine_fds_of_object(skel->obj, &fds) ||
		    engine_open(&targets[m].eng, &fds, true)) {
			snprintf(why, size, "the %s engine: %s", mode_name[m],
				 targets[m].eng.err);
			return -1;
		}
		targets[m].eng_open = true;
	}
	return 0;
}

static void destroy_targets(void)
{
	int m;

	for (m = 0; m < MODE_COUNT; m++) {
		if (targets[m].eng_open)
			engine_close(&targets[m].eng);
		op25b_bpf__destroy(targets[m].skel);
	}
}

/* ---- the run */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int report_mismatch(unsigned long idx, const struct gen *g,
			   const struct oracle_result *r, __u32 want_xdp,
			   __u32 xdp_ret, __u32 want_tc, __u32 tc_ret)
{
	check(0, "%s packet %lu: oracle says %s (class %s): op25b_xdp "
		 "%u expected, returned %u%s; op25b_tc 0x%x expected, "
		 "returned 0x%x",
	      g->l3 ? "l3" : "l2", idx, r->drop ? "drop" : "pass",
	      oracle_class_name(r->cls), want_xdp, xdp_ret,
	      xdp_ret == XDP_ABORTED ? " (XDP_ABORTED)" : "", want_tc, tc_ret);
	print_packet(g->b, g->len, g->l3, r);
	printf("#   reproduce: fuzz -s %llu -n %lu\n", seed, idx + 1);
	return -1;
}

/* RFC 1071 over b, n bytes, added to sum; folded, not complemented. */
static unsigned int csum_fold(uint32_t sum, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/*
 * The answer's checksums, checked on the program's bytes alone: the IPv4
 * header sums to all ones, and TCP over its pseudo-header does too (or,
 * for a CHECKSUM_PARTIAL answer, its field is the pseudo-header sum).
 */
static bool answer_sums_ok(const struct oracle_result *r,
			   const struct oracle_rst *want, const uint8_t *b)
{
	size_t l3 = r->l3off;
	size_t t = l3 + (r->family == 4 ? IPV4_HDR_LEN : IPV6_HDR_LEN);
	size_t alen = r->family == 4 ? 4 : 16;
	const uint8_t *a = b + l3 + (r->family == 4 ? 12 : 8);
	uint32_t pseudo;

	if (r->family == 4 && csum_fold(0, b + l3, IPV4_HDR_LEN) != 0xffff)
		return false;
	pseudo = csum_fold(IPPROTO_TCP + TCP_HDR_LEN, a, 2 * alen);
	if (want->partial)
		return ((unsigned int)b[t + 16] << 8 | b[t + 17]) == pseudo;
	return csum_fold(pseudo, b + t, TCP_HDR_LEN) == 0xffff;
}

/* What the program sent back is the oracle's RST, byte for byte. */
static int check_answer(unsigned long idx, const struct gen *g,
			const struct oracle_result *r, const char *prog,
			const struct oracle_rst *want, const uint8_t *out,
			size_t out_len)
{
	size_t i;

	if (out_len == want->len && !memcmp(out, want->b, want->len) &&
	    answer_sums_ok(r, want, out))
		return 0;
	for (i = 0; i < want->len && i < out_len; i++)
		if (out[i] != want->b[i])
			break;
	check(0, "%s packet %lu: %s answered with %zu bytes, the oracle's "
		 "RST has %zu%s; first difference at byte %zu",
	      g->l3 ? "l3" : "l2", idx, prog, out_len, want->len,
	      want->partial ? " (checksum partial)" : "", i);
	print_packet(g->b, g->len, g->l3, r);
	printf("#   answer:");
	for (i = 0; i < out_len; i++)
		printf(" %02x", out[i]);
	printf("\n#   oracle:");
	for (i = 0; i < want->len; i++)
		printf(" %02x", want->b[i]);
	printf("\n#   reproduce: fuzz -s %llu -n %lu\n", seed, idx + 1);
	return -1;
}

static __u32 want_xdp_ret(const struct oracle_result *r, bool answer)
{
	if (!r->drop)
		return XDP_PASS;
	return answer ? XDP_TX : XDP_DROP;
}

static __u32 want_tc_ret(const struct oracle_result *r, bool answer)
{
	if (!r->drop)
		return (__u32)TC_ACT_UNSPEC;
	return answer ? (__u32)TC_ACT_REDIRECT : (__u32)TC_ACT_SHOT;
}

static int run_one(unsigned long idx, struct gen *g)
{
	struct target *t = &targets[g->l3 ? MODE_L3 : MODE_L2];
	int mode = g->l3 ? MODE_L3 : MODE_L2;
	static uint8_t xdp_out[PKT_MAX], tc_out[PKT_MAX];
	struct oracle_rst xdp_rst, tc_rst;
	size_t xdp_len = 0, tc_len = 0;
	struct oracle_result r;
	__u32 xdp_ret, tc_ret;
	__u32 want_xdp, want_tc;
	bool tc_ran = true;
	int err;

	struct oracle_result rt;

	/* the datapath's clock, and the oracle's: the same time */
	fuzz_clock += rnd() % CLOCK_STEP_MAX;
	t->skel->bss->op25b_test_now = fuzz_clock;
	r = oracle_judge(&oracle, g->l3, g->b, g->len);
	/* each run is a packet of its own to the limiter: XDP's, then tc's */
	rt = r;
	oracle_limit(&limiters[mode], &oracle, &r, g->b, fuzz_clock);
	if (!tc_refused(g->b, g->len))
		oracle_limit(&limiters[mode], &oracle, &rt, g->b, fuzz_clock);
	class_seen[mode][r.cls]++;
	judgement_seen[r.judgement]++;
	limit_seen[r.limited]++;
	quarantines_seen += r.quarantines;
	oracle_rst(&oracle, &r, g->l3, false, g->b, &xdp_rst);
	oracle_rst(&oracle, &rt, g->l3, true, g->b, &tc_rst);

	err = run_prog(t->xdp_fd, g->b, g->len, &xdp_ret,
		       xdp_rst.answer ? xdp_out : NULL, &xdp_len);
	if (!err) {
		err = run_prog(t->tc_fd, g->b, g->len, &tc_ret,
			       tc_rst.answer ? tc_out : NULL, &tc_len);
		if (err && errno == EINVAL && tc_refused(g->b, g->len)) {
			tc_skipped[mode]++;
			tc_ran = false;
			err = 0;
		}
	}
	if (err) {
		check(0, "%s packet %lu: bpf_prog_test_run_opts: %s",
		      mode_name[mode], idx, strerror(errno));
		print_packet(g->b, g->len, g->l3, &r);
		return -1;
	}

	want_xdp = want_xdp_ret(&r, xdp_rst.answer);
	want_tc = want_tc_ret(&rt, tc_rst.answer);
	if (!tc_ran)
		tc_ret = want_tc;
	if (xdp_ret == XDP_ABORTED)
		xdp_aborted++;
	if (xdp_ret != want_xdp || tc_ret != want_tc)
		return report_mismatch(idx, g, &r, want_xdp, xdp_ret, want_tc,
				       tc_ret);
	if (xdp_rst.answer &&
	    check_answer(idx, g, &r, "op25b_xdp", &xdp_rst, xdp_out, xdp_len))
		return -1;
	if (tc_ran && tc_rst.answer &&
	    check_answer(idx, g, &r, "op25b_tc", &tc_rst, tc_out, tc_len))
		return -1;
	answers[mode][0] += xdp_rst.answer;
	runs_agreed[mode][0]++;
	oracle_count(&r, xdp_rst.answer, &t->expect);
	oracle_hit(&oracle, &r, g->l3);
	if (tc_ran) {
		oracle_hit(&oracle, &rt, g->l3);
		answers[mode][1] += tc_rst.answer;
		partial_answers += tc_rst.answer && tc_rst.partial;
		partial_refused += !tc_rst.answer && tc_rst.partial &&
				   tc_rst.moved;
		runs_agreed[mode][1]++;
		oracle_count(&rt, tc_rst.answer, &t->expect);
	}
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-n PACKETS] [-s SEED] [-c] [-q]\n"
		"  -n  packets to generate (default %d)\n"
		"  -s  PRNG seed (default %d)\n"
		"  -c  compare the counters after every packet (slow)\n"
		"  -q  print failures and the summary only\n",
		prog, DEFAULT_PACKETS, DEFAULT_SEED);
}

static void summary(unsigned long n, double secs)
{
	int c, m;

	printf("# fuzz: %lu packets, seed %llu, %.1f s;", n, seed, secs);
	for (c = 0; c <= OP25B_C_MALFORMED; c++)
		printf(" %s %lu", oracle_class_name(c),
		       class_seen[MODE_L2][c] + class_seen[MODE_L3][c]);
	printf(";");
	for (c = ORACLE_J_NOT_SUBSCRIBER; c < ORACLE_J_COUNT; c++)
		printf(" %s %lu", oracle_judgement_name(c), judgement_seen[c]);
	printf("; answered xdp %lu tc %lu (checksum partial %lu, refused %lu)",
	       answers[MODE_L2][0] + answers[MODE_L3][0],
	       answers[MODE_L2][1] + answers[MODE_L3][1], partial_answers,
	       partial_refused);
	printf("; limit: over %lu, quarantined %lu, quarantines %lu",
	       limit_seen[ORACLE_L_EXCEEDED], limit_seen[ORACLE_L_QUARANTINED],
	       quarantines_seen);
	printf("; xdp_aborted %lu\n", xdp_aborted);
	printf("# policy: %lu publishes, %lu batches of %lu changes in all, "
	       "%lu flushes; now %d subscriber and %d relay prefixes\n",
	       publishes, batches, changes, flushes, oracle.subscriber.n,
	       oracle.relay.n);
	for (m = 0; m < MODE_COUNT; m++) {
		printf("# %s:", mode_name[m]);
		for (c = 0; c <= OP25B_C_MALFORMED; c++)
			printf(" %s %lu", oracle_class_name(c),
			       class_seen[m][c]);
		printf("\n");
	}
}

static void final_checks(unsigned long n)
{
	int m, c;

	for (m = 0; m < MODE_COUNT; m++) {
		unsigned long runs = class_seen[m][0] + class_seen[m][1] +
				     class_seen[m][2] + class_seen[m][3] +
				     class_seen[m][4];

		check(runs_agreed[m][0] == runs,
		      "%s op25b_xdp agrees with the oracle on %lu of %lu "
		      "packets", mode_name[m], runs_agreed[m][0], runs);
		check(runs_agreed[m][1] + tc_skipped[m] == runs,
		      "%s op25b_tc agrees with the oracle on %lu of %lu "
		      "packets (%lu too short for the skb test run)",
		      mode_name[m], runs_agreed[m][1], runs, tc_skipped[m]);
		check(targets[m].checks > 0,
		      "%s counters agree at %lu checkpoints", mode_name[m],
		      targets[m].checks);
		if (!check_hits(m))
			check(1, "%s rules and their hit counters agree after "
			      "%lu publishes, at %lu checkpoints", mode_name[m],
			      publishes, targets[m].hit_checks);
	}
	check(xdp_aborted == 0, "op25b_xdp never returned XDP_ABORTED (%lu)",
	      xdp_aborted);
	if (n < COVERAGE_MIN)
		return;
	for (m = 0; m < MODE_COUNT; m++)
		for (c = 0; c <= OP25B_C_MALFORMED; c++)
			check(class_seen[m][c] > 0,
			      "%s class %s exercised (%lu packets)",
			      mode_name[m], oracle_class_name(c),
			      class_seen[m][c]);
	for (c = ORACLE_J_NOT_SUBSCRIBER; c < ORACLE_J_COUNT; c++)
		if (c != ORACLE_J_LIMIT)
			check(judgement_seen[c] > 0, "judgement %s exercised (%lu)",
			      oracle_judgement_name(c), judgement_seen[c]);
	check(limit_seen[ORACLE_L_EXCEEDED] > 0 &&
	      limit_seen[ORACLE_L_QUARANTINED] > 0 && quarantines_seen > 0,
	      "action limit exercised: %lu over the limit, %lu in quarantine, "
	      "%lu quarantines begun", limit_seen[ORACLE_L_EXCEEDED],
	      limit_seen[ORACLE_L_QUARANTINED], quarantines_seen);
	for (m = 0; m < MODE_COUNT; m++) {
		check(answers[m][0] > 0, "%s op25b_xdp answered with a RST "
		      "(%lu)", mode_name[m], answers[m][0]);
		check(answers[m][1] > 0, "%s op25b_tc answered with a RST "
		      "(%lu)", mode_name[m], answers[m][1]);
	}
	check(partial_answers > 0, "op25b_tc answered a checksum-partial "
	      "segment in kind (%lu)", partial_answers);
	check(partial_refused > 0, "op25b_tc left a checksum-partial segment "
	      "whose header would move unanswered (%lu)", partial_refused);
	check(batches >= 10 && flushes > 0, "policy changed in %lu batches "
	      "(%lu flushes), each one publish", batches, flushes);
	for (m = 0; m < 2; m++) {
		unsigned int nbits = m ? 128 : 32, b, missing = 0, k;

		/* /0, host routes, and every level edge and its neighbours */
		missing += !len_installed[m][0] + !len_installed[m][nbits] +
			   !len_installed[m][nbits - 1];
		for (k = 0; k < MODE_COUNT; k++)
			for (b = mode_root_bits[k]; b <= nbits;
			     b += OP25B_STRIDE)
				missing += !len_installed[m][b - 1] +
					   !len_installed[m][b] +
					   (b < nbits && !len_installed[m][b + 1]);
		check(!missing, "ipv%d prefixes of /0, /%u and every stride "
		      "edge +-1 installed (%u lengths missing)", m ? 6 : 4,
		      nbits, missing);
	}
}

/* A number given to option what; false (and said) when it is not one. */
static bool parse_number(const char *arg, const char *what,
			 unsigned long long *v)
{
	char *end;

	*v = strtoull(arg, &end, 0);
	if (*end || !*arg) {
		fprintf(stderr, "fuzz: bad %s '%s'\n", what, arg);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	unsigned long n = DEFAULT_PACKETS, i;
	static struct gen g;
	int every_packet = 0, opt, rc = 0, m;
	unsigned long long v;
	char why[256];
	double t0;

	while ((opt = getopt(argc, argv, "n:s:cqh")) != -1) {
		switch (opt) {
		case 'n':
			if (!parse_number(optarg, "packet count", &v))
				return 2;
			n = (unsigned long)v;
			break;
		case 's':
			if (!parse_number(optarg, "seed", &seed))
				return 2;
			break;
		case 'c':
			every_packet = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	rng_state = seed;

	if (geteuid() != 0)
		tl_cannot_run("not root");
	libbpf_set_print(tl_libbpf_warn);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		tl_cannot_run("cannot count possible CPUs");
	if (load_targets(why, sizeof(why))) {
		destroy_targets();
		tl_cannot_run(why);
	}
	if (setup_policy()) {
		destroy_targets();
		printf("FAIL - policy: installing it in the maps\n");
		printf("0 passed, 1 failed\n");
		return 1;
	}

	t0 = now();
	for (i = 0; i < n && !rc; i++) {
		if (i % CHECK_EVERY == 0) {
			unsigned long block = i / CHECK_EVERY;
			bool batch = block && block % POLICY_BLOCKS == 0;

			window_n = 0;
			/* deletes take counts along: check them first */
			for (m = 0; batch && m < MODE_COUNT && !rc; m++)
				if (check_hits(m))
					rc = 1;
			/* the action and a batch of changes: one publish */
			if (rc || txn_begin()) {
				rc = 1;
				break;
			}
			set_action(block_action(block), block);
			if ((batch && policy_batch()) || txn_commit()) {
				rc = 1;
				break;
			}
		}
		gen_packet(&g);
		memcpy(window[window_n].b, g.b, g.len);
		window[window_n].len = g.len;
		window[window_n].l3 = g.l3;
		window_n++;

		if (run_one(i, &g)) {
			rc = 1;
			break;
		}
		packets_run++;
		if (every_packet && i + 1 < n) {
			if (check_counters(g.l3 ? MODE_L3 : MODE_L2, i))
				rc = 1;
		} else if (every_packet || i % CHECK_EVERY == CHECK_EVERY - 1 ||
			   i + 1 == n) {
			for (m = 0; m < MODE_COUNT && !rc; m++)
				if (check_counters(m, i))
					rc = 1;
		}
		if (!quiet && (i + 1) % PROGRESS_EVERY == 0)
			fprintf(stderr, "fuzz: %lu packets, %.0f s\n", i + 1,
				now() - t0);
	}

	if (!rc)
		final_checks(n);
	summary(packets_run, now() - t0);
	destroy_targets();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
