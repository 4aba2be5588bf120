// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench's flood: SYNs to port 25 generated in the kernel with
 * BPF_F_TEST_XDP_LIVE_FRAMES, sent by XDP_TX out of one end of a veth, to
 * the other end where the program under test runs; the receiver's own
 * counter says how many it saw. Measures; asserts nothing.
 *
 * Usage: flood NETNS TX_IF RX_IF SOURCES CPUS SECONDS COUNTER [DPORT]
 *   SOURCES  distinct sources, from 10.0.0.0 on, in a scattered order
 *   COUNTER  "sink" (attach a drop-all program to RX_IF and count there:
 *            the floor), "tcsink" (the same at tc ingress, behind an XDP
 *            program that passes every frame: the tc floor), a pinned op25b stats map (count 'blocked'), or
 *            "pass:STATS_PIN" (op25b on tc behind an XDP program that
 *            passes every frame: the veth takes XDP_TX only with one),
 *            "none" (the receiver counts: nftables, iptables), "xdp" (an
 *            XDP program already on RX_IF counts: xdp-filter), or
 *            "probe:BYTES:DEPTH" (the decision cost's yardstick: DEPTH
 *            dependent loads over BYTES, then drop and count), or
 *            "stall:STATS_PIN" (count packets judged, whatever the
 *            verdict, and watch them from the other CPU: the longest
 *            interval in which the datapath decided nothing)
 * Prints "flood SOURCES CPUS MPPS SECONDS SENT" (MPPS 0 with "none"); with
 * stall: also "stall SAMPLES LO_US HI_US FED_LO_US FED_HI_US", the
 * longest such interval as the samples bound it (at least LO, at most HI),
 * and the longest in which the generator went on sending (FED).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include "testlib.h"
#include "op25b.h"
#include "gen.skel.h"
#include "probe.skel.h"
#include <sys/mman.h>

#define BATCH	64
/*
 * Frames a run: a thread looks at the clock between runs, so that a slow
 * receiver (iptables-nft from spread sources passes a few thousand a
 * second) holds it past its time by one run, seconds, not minutes.
 */
#define REPEAT	(1 << 16)

struct gen_thread {
	unsigned long long sent;
	int cpu;
	int prog_fd;
	int ifindex;
	struct pkt *p;
	double until;
};

/*
 * The generator's step through the sources (gen.bpf.c): near the golden
 * section of their count, so that consecutive frames come from far apart,
 * and coprime with it, so that every source comes once a cycle.
 */
static __u32 gcd(__u32 a, __u32 b)
{
	while (b) {
		__u32 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static __u32 scatter_step(__u32 sources)
{
	__u32 step = (__u32)((double)sources * 0.6180339887);

	if (sources < 3)
		return sources - 1;
	while (gcd(step, sources) != 1)
		step--;
	return step;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *generate(void *arg)
{
	struct gen_thread *t = arg;
	/* the kernel wants the frame's extent in the context it is given */
	struct xdp_md ctx = { .ingress_ifindex = (__u32)t->ifindex,
			      .data_end = t->p->len };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	while (now() < t->until) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = t->p->d,
			    .data_size_in = t->p->len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = REPEAT,
			    .batch_size = BATCH,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

		if (bpf_prog_test_run_opts(t->prog_fd, &o)) {
			fprintf(stderr, "flood: live frames: %s\n", strerror(errno));
			break;
		}
		t->sent += REPEAT;
	}
	return NULL;
}

static __u64 percpu_sum(int fd, size_t value_size, size_t off)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	char buf[ncpu * ((value_size + 7) & ~7u)];
	__u32 zero = 0;
	__u64 n = 0;

	if (bpf_map_lookup_elem(fd, &zero, buf))
		return 0;
	for (c = 0; c < ncpu; c++)
		n += *(__u64 *)(buf + c * ((value_size + 7) & ~7u) + off);
	return n;
}

/*
 * The stall watcher: the judged count, sampled every 20 us from the CPU
 * the generator does not use. A count that stays the same from one sample
 * to a later one means no decision between them (at least that long); the
 * samples around them bound it from above. The generator pauses too (its
 * syscall returns, it is preempted): an interval in which it sent more
 * frames than the veth's ring holds and none was decided is one in which
 * the datapath, fed, decided nothing; the longest of those is told apart
 * ("fed").
 */
#define STALL_FED_FRAMES	512

struct stall_watch {
	int fd;
	int gen_fd;		/* the generator's count of frames sent */
	int cpu;
	double until;
	unsigned long samples;
	double lo, hi;		/* the longest interval, seconds */
	double fed_lo, fed_hi;	/* the longest with the generator sending */
};

static void *stall_run(void *arg)
{
	struct stall_watch *w = arg;
	double t, first = 0, before = 0, last = 0;
	struct timespec nap = { 0, 20000 };
	__u64 v, cur = 0, sent, sent_first = 0;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	while ((t = now()) < w->until) {
		v = percpu_sum(w->fd, sizeof(struct op25b_stats),
			       offsetof(struct op25b_stats, smtp));
		sent = percpu_sum(w->gen_fd, sizeof(__u64), 0);
		if (!w->samples++ || v != cur) {
			before = last;
			first = t;
			cur = v;
			sent_first = sent;
		} else {
			if (t - first > w->lo) {
				w->lo = t - first;
				w->hi = t - (before ? before : first);
			}
			if (sent - sent_first > STALL_FED_FRAMES &&
			    t - first > w->fed_lo) {
				w->fed_lo = t - first;
				w->fed_hi = t - (before ? before : first);
			}
		}
		last = t;
		nanosleep(&nap, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct stall_watch sw = { .fd = -1 };
	bool tc_sink = false;
	pthread_t swt;
	struct gen_bpf *gen, *sink = NULL;
	struct probe_bpf *probe = NULL;
	unsigned long long pbytes;
	unsigned int pdepth;
	struct gen_thread t[2] = {};
	pthread_t th[2];
	int ns, tx, rx, park, ncpus, i, count_fd = -1;
	size_t vsize = 0, off = 0;
	double secs, t0, t1;
	__u64 c0, c1;
	__u32 sources;
	char path[256];
	struct pkt p;

	if (argc != 8 && argc != 9) {
		fprintf(stderr, "usage: flood NETNS TX_IF RX_IF SOURCES CPUS SECONDS sink|tcsink|none|xdp|probe:B:D|stall:STATS_PIN|STATS_PIN [DPORT]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", argv[1]);
	ns = open(path, O_RDONLY);
	if (ns < 0 || setns(ns, CLONE_NEWNET)) {
		fprintf(stderr, "flood: netns %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	tx = if_nametoindex(argv[2]);
	rx = if_nametoindex(argv[3]);
	sources = (__u32)strtoul(argv[4], NULL, 10);
	ncpus = atoi(argv[5]);
	secs = atof(argv[6]);
	if (!tx || !rx || !sources || ncpus < 1 || ncpus > 2) {
		fprintf(stderr, "flood: bad arguments\n");
		return 2;
	}
	libbpf_set_print(NULL);
	gen = gen_bpf__open();
	if (!gen)
		return 1;
	gen->rodata->gen_base = 0x0a000000;
	gen->rodata->gen_sources = sources;
	gen->rodata->gen_step = scatter_step(sources);
	if (gen_bpf__load(gen)) {
		fprintf(stderr, "flood: cannot load the generator\n");
		return 1;
	}
	/*
	 * Each BPF_PROG_TEST_RUN of an XDP program that no device runs puts
	 * it into the kernel's XDP dispatcher and takes it out again, and
	 * each change waits for an RCU grace period: the generator then
	 * sleeps, tens of ms while the other CPU is busy (an apply of a
	 * million prefixes), and sends nothing. Kept on an idle device of
	 * its own ("gpark", when run.py made it), it stays in the dispatcher
	 * and the runs change nothing.
	 */
	park = if_nametoindex("gpark");
	if (park && bpf_xdp_attach(park, bpf_program__fd(gen->progs.gen_tx),
				   XDP_FLAGS_DRV_MODE, NULL))
		park = 0;
	if (!strcmp(argv[7], "sink")) {
		sink = gen_bpf__open_and_load();
		if (!sink || bpf_xdp_attach(rx, bpf_program__fd(sink->progs.gen_sink),
					    XDP_FLAGS_DRV_MODE, NULL)) {
			fprintf(stderr, "flood: cannot attach the sink\n");
			return 1;
		}
		count_fd = bpf_map__fd(sink->maps.gen_count);
		vsize = sizeof(__u64);
		off = 0;
	} else if (sscanf(argv[7], "probe:%llu:%u", &pbytes, &pdepth) == 2) {
		__u32 *mem, e, entries = (__u32)(pbytes / 4);

		probe = probe_bpf__open();
		if (!probe || entries < 1 || (entries & (entries - 1)))
			return 2;
		probe->rodata->probe_mask = entries - 1;
		probe->rodata->probe_depth = pdepth;
		bpf_map__set_max_entries(probe->maps.probe_mem, entries);
		bpf_map__set_map_flags(probe->maps.probe_mem, BPF_F_MMAPABLE);
		if (probe_bpf__load(probe) ||
		    bpf_xdp_attach(rx, bpf_program__fd(probe->progs.probe),
				   XDP_FLAGS_DRV_MODE, NULL)) {
			fprintf(stderr, "flood: cannot attach the probe\n");
			return 1;
		}
		mem = mmap(NULL, (size_t)entries * 4, PROT_READ | PROT_WRITE,
			   MAP_SHARED, bpf_map__fd(probe->maps.probe_mem), 0);
		if (mem == MAP_FAILED)
			return 1;
		for (e = 0; e < entries; e++)
			mem[e] = (__u32)random();
		munmap(mem, (size_t)entries * 4);
		count_fd = bpf_map__fd(probe->maps.probe_count);
		vsize = sizeof(__u64);
		off = 0;
	} else if (!strcmp(argv[7], "tcsink")) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = rx,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, tco, .handle = 1, .priority = 1);

		sink = gen_bpf__open_and_load();
		if (!sink || bpf_xdp_attach(rx, bpf_program__fd(sink->progs.gen_pass),
					    XDP_FLAGS_DRV_MODE, NULL)) {
			fprintf(stderr, "flood: cannot attach the pass program\n");
			return 1;
		}
		bpf_tc_hook_create(&hook);
		tco.prog_fd = bpf_program__fd(sink->progs.gen_tc_sink);
		if (bpf_tc_attach(&hook, &tco)) {
			fprintf(stderr, "flood: cannot attach the tc sink\n");
			return 1;
		}
		tc_sink = true;
		count_fd = bpf_map__fd(sink->maps.gen_count);
		vsize = sizeof(__u64);
		off = 0;
	} else if (!strcmp(argv[7], "xdp")) {
		count_fd = -1;
		vsize = off = 0;
	} else if (!strcmp(argv[7], "none") || !strncmp(argv[7], "pass:", 5)) {
		/* the veth peer needs an XDP program to take XDP_TX: pass it on */
		sink = gen_bpf__open_and_load();
		if (!sink || bpf_xdp_attach(rx, bpf_program__fd(sink->progs.gen_pass),
					    XDP_FLAGS_DRV_MODE, NULL)) {
			fprintf(stderr, "flood: cannot attach the pass program\n");
			return 1;
		}
		count_fd = -1;
		vsize = off = 0;
	}
	if (!strncmp(argv[7], "stall:", 6)) {
		sw.fd = bpf_obj_get(argv[7] + 6);
		if (sw.fd < 0) {
			fprintf(stderr, "flood: %s: %s\n", argv[7], strerror(errno));
			return 1;
		}
		count_fd = sw.fd;
		vsize = sizeof(struct op25b_stats);
		off = offsetof(struct op25b_stats, smtp);
	}
	if (count_fd < 0 && strcmp(argv[7], "none") && strcmp(argv[7], "xdp") &&
	    strcmp(argv[7], "sink") && strcmp(argv[7], "tcsink") &&
	    strncmp(argv[7], "probe:", 6)) {
		const char *pin = argv[7] + (strncmp(argv[7], "pass:", 5) ? 0 : 5);

		count_fd = bpf_obj_get(pin);
		if (count_fd < 0) {
			fprintf(stderr, "flood: %s: %s\n", argv[7], strerror(errno));
			return 1;
		}
		vsize = sizeof(struct op25b_stats);
		off = offsetof(struct op25b_stats, blocked);
	}

	pkt_init(&p);
	pkt_eth(&p);
	pkt_ipv4(&p, "10.0.0.1", "198.51.100.25");
	pkt_tcp(&p, 40000, argc > 8 ? (__u16)atoi(argv[8]) : 25, 0x02);
	pkt_done(&p);
	/* to the receiver's own MAC: a stack behind it takes the frame as its own */
	{
		struct ifreq ifr = {};
		int sk = socket(AF_INET, SOCK_DGRAM, 0);

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[3]);
		if (sk >= 0 && !ioctl(sk, SIOCGIFHWADDR, &ifr))
			memcpy(p.d, ifr.ifr_hwaddr.sa_data, 6);
		if (sk >= 0)
			close(sk);
	}

	c0 = count_fd >= 0 ? percpu_sum(count_fd, vsize, off) : 0;
	t0 = now();
	for (i = 0; i < ncpus; i++) {
		t[i] = (struct gen_thread){ .cpu = i, .ifindex = tx, .p = &p,
					    .prog_fd = bpf_program__fd(gen->progs.gen_tx),
					    .until = t0 + secs };
		pthread_create(&th[i], NULL, generate, &t[i]);
	}
	if (sw.fd >= 0) {
		sw.gen_fd = bpf_map__fd(gen->maps.gen_count);
		sw.cpu = ncpus;
		sw.until = t0 + secs;
		pthread_create(&swt, NULL, stall_run, &sw);
	}
	for (i = 0; i < ncpus; i++)
		pthread_join(th[i], NULL);
	if (sw.fd >= 0)
		pthread_join(swt, NULL);
	t1 = now();
	c1 = count_fd >= 0 ? percpu_sum(count_fd, vsize, off) : 0;
	printf("flood %u %d %.3f %.3f %llu\n", sources, ncpus,
	       (double)(c1 - c0) / (t1 - t0) / 1e6, t1 - t0,
	       t[0].sent + (ncpus > 1 ? t[1].sent : 0));
	if (sw.fd >= 0)
		printf("stall %lu %.0f %.0f %.0f %.0f\n", sw.samples,
		       sw.lo * 1e6, sw.hi * 1e6, sw.fed_lo * 1e6,
		       sw.fed_hi * 1e6);
	if (tc_sink) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = rx,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

		bpf_tc_hook_destroy(&hook);
	}
	if (sink || probe)
		bpf_xdp_detach(rx, XDP_FLAGS_DRV_MODE, NULL);
	if (park)
		bpf_xdp_detach(park, XDP_FLAGS_DRV_MODE, NULL);
	probe_bpf__destroy(probe);
	gen_bpf__destroy(sink);
	gen_bpf__destroy(gen);
	return 0;
}
