// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counters: the per-CPU struct op25b_stats summed over every possible CPU,
 * as totals, as per-second rates, or in the Prometheus text format.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"

/*
 * Prometheus families of the counters (doc/DESIGN.md, "Metrics"): one
 * name, its help and the label its counters differ by.
 */
enum family {
	F_JUDGED, F_SEGMENTS, F_REJECTS, F_EVENTS, F_LIMIT, F_QUARANTINES,
};

static const struct family_desc {
	const char *name;
	const char *label;	/* NULL: one counter */
	const char *help;
} families[] = {
	[F_JUDGED] = { "op25b_segments_judged_total", "reason",
		"Segments judged, by why: TCP to a blocked port (smtp), or an evasion, undecidable or malformed shape" },
	[F_SEGMENTS] = { "op25b_segments_total", "decision",
		"Judged segments by decision: passed (not_subscriber, exempt, relay), blocked, or monitored (passed by action monitor)" },
	[F_REJECTS] = { "op25b_rejects_sent_total", NULL,
		"Blocked segments answered with a TCP RST (action reject)" },
	[F_EVENTS] = { "op25b_events_unsent_total", "reason",
		"Blocked attempts without an event: suppressed (its source had one within a second, or the CPU's 1000 a second were spent), lost (no event log region for the CPU)" },
	[F_LIMIT] = { "op25b_limit_segments_total", "decision",
		"Action limit: segments of denied subscribers passed (within the limit), exceeded (new connections over it), quarantined (of quarantined sources), no_slot (no limiter entry for the source), all but passed blocked" },
	[F_QUARANTINES] = { "op25b_quarantines_total", "transition",
		"Action limit: quarantines started and ended (expired or released)" },
};

/*
 * The one list of counters: name (from the field itself), offset, its
 * family and label value, and its help in 'stats'.
 */
#define STAT(field, fam, lv, help) \
	{ #field, offsetof(struct op25b_stats, field), fam, lv, help }
static const struct stat_field {
	const char *name;
	size_t off;
	enum family family;
	const char *label;
	const char *help;
} stat_fields[] = {
	STAT(smtp, F_JUDGED, "smtp", "TCP segments to a blocked port judged"),
	STAT(evasion, F_JUDGED, "evasion", "Fragments shaped to hide the TCP port, judged"),
	STAT(undecidable, F_JUDGED, "undecidable", "IPv6 packets whose TCP header cannot be reached, judged"),
	STAT(malformed, F_JUDGED, "malformed", "Packets with bad IP header or lengths, judged"),
	STAT(not_subscriber, F_SEGMENTS, "not_subscriber", "Judged packets passed: source not a denied subscriber"),
	STAT(exempt, F_SEGMENTS, "exempt", "Judged packets passed: source exempted by a subscriber allow"),
	STAT(relay, F_SEGMENTS, "relay", "Judged packets passed: destination an allowed relay"),
	STAT(blocked, F_SEGMENTS, "blocked", "Judged packets dropped"),
	STAT(monitored, F_SEGMENTS, "monitored", "Judged packets that would be blocked, passed by action monitor"),
	STAT(rejected, F_REJECTS, NULL, "Judged packets blocked and answered with a TCP RST"),
	STAT(events_suppressed, F_EVENTS, "suppressed", "Blocked attempts without an event: their source had one within the interval"),
	STAT(events_lost, F_EVENTS, "lost", "Blocked attempts without an event: no event log region for the CPU"),
	STAT(limit_passed, F_LIMIT, "passed", "Action limit: segments of denied subscribers passed, new connections within the limit and segments of open ones"),
	STAT(limit_exceeded, F_LIMIT, "exceeded", "Action limit: new connections over the limit, blocked"),
	STAT(quarantined, F_LIMIT, "quarantined", "Action limit: segments of quarantined sources, blocked"),
	STAT(quarantines, F_QUARANTINES, "started", "Action limit: sources put in quarantine"),
	STAT(releases, F_QUARANTINES, "ended", "Action limit: quarantines ended, expired or released"),
	STAT(limit_full, F_LIMIT, "no_slot", "Action limit: segments blocked for want of a limiter slot for their source"),
};
#undef STAT

#define NFIELDS	(sizeof(stat_fields) / sizeof(stat_fields[0]))

/* A counter added to the ABI must be added to the table above. */
_Static_assert(sizeof(struct op25b_stats) == NFIELDS * sizeof(__u64),
	       "stat_fields does not cover struct op25b_stats");

/* Longest interval accepted: a day. */
#define INTERVAL_MAX	86400

enum { OPT_INTERVAL = 1, OPT_PROMETHEUS };

static const struct opt stats_opts[] = OPT_TABLE(
	{ .name = "--interval", .id = OPT_INTERVAL, .arg = "SEC", .what = "SEC",
	  .help = "per-second rates (rounded) every SEC, until interrupted" },
	{ .name = "--prometheus", .id = OPT_PROMETHEUS,
	  .help = "counters and gauges in the Prometheus text format" },
);

const struct cmd_help stats_help = {
	.opts = stats_opts,
	.text = "The datapath's counters, summed over all CPUs.\n",
};

struct stats_reader {
	int fd;
	int ncpu;
	size_t stride;		/* per-CPU value size, rounded up to 8 */
	void *buf;
};

/* maps_open checked the value size against struct op25b_stats. */
static int reader_init(struct stats_reader *r, int fd)
{
	r->ncpu = libbpf_num_possible_cpus();
	if (r->ncpu <= 0) {
		p_err("cannot count the possible CPUs: %s", strerror(-r->ncpu));
		return EXIT_RUNTIME;
	}
	r->fd = fd;
	r->stride = (sizeof(struct op25b_stats) + 7) & ~(size_t)7;
	r->buf = calloc((size_t)r->ncpu, r->stride);
	if (!r->buf) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* sum[i] is stat_fields[i] added over every CPU. */
static int reader_read(struct stats_reader *r, __u64 *sum)
{
	__u32 zero = 0;
	size_t i;
	__u64 v;
	int cpu, err;

	err = bpf_map_lookup_elem(r->fd, &zero, r->buf);
	if (err) {
		p_err("cannot read the stats: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	for (i = 0; i < NFIELDS; i++) {
		sum[i] = 0;
		for (cpu = 0; cpu < r->ncpu; cpu++) {
			memcpy(&v, (char *)r->buf + (size_t)cpu * r->stride +
				   stat_fields[i].off, sizeof(v));
			sum[i] += v;
		}
	}
	return EXIT_OK;
}

static size_t name_width(void)
{
	size_t i, w = 0;

	for (i = 0; i < NFIELDS; i++)
		if (strlen(stat_fields[i].name) > w)
			w = strlen(stat_fields[i].name);
	return w;
}

/* Each counter's line (text) or member (JSON) of the open object. */
static void counters_fields(const __u64 *v, const char *unit)
{
	char fname[32], fval[32];
	size_t i;

	snprintf(fname, sizeof(fname), "%%-%zus  ", name_width());
	snprintf(fval, sizeof(fval), "%%llu%s", unit);
	for (i = 0; i < NFIELDS; i++) {
		print_string(PRINT_FP, NULL, fname, stat_fields[i].name);
		print_uint(PRINT_ANY, stat_fields[i].name, fval, v[i]);
		print_nl();
	}
}

/*
 * Each attachment's judgements (ifstats.c): in text a table after the
 * counters, in JSON "interfaces", an object per attachment.
 */
static void interfaces_print(const struct ifstat_row *r, size_t n)
{
	size_t i;

	if (!g.json && n)
		printf("\n%-16s %-10s %12s %12s %12s\n", "INTERFACE", "HOOK",
		       "BLOCKED", "MONITORED", "PASSED");
	open_json_array("interfaces");
	for (i = 0; i < n; i++) {
		open_json_object(NULL);
		print_string(PRINT_ANY, "interface", "%-16s", r[i].iface);
		print_string(PRINT_ANY, "hook", " %-10s", r[i].hook);
		if (r[i].key.hook) {
			print_uint(PRINT_JSON, "ifindex", NULL, r[i].key.ifindex);
			print_uint(PRINT_JSON, "netns", NULL, r[i].key.netns_ino);
		}
		print_uint(PRINT_JSON, "judged", NULL,
			   r[i].blocked + r[i].monitored + r[i].passed);
		print_uint(PRINT_ANY, "blocked", " %12llu", r[i].blocked);
		print_uint(PRINT_ANY, "monitored", " %12llu", r[i].monitored);
		print_uint(PRINT_ANY, "passed", " %12llu", r[i].passed);
		close_json_object();
		print_nl();
	}
	close_json_array();
}

static void counters_print(const __u64 *v, const struct ifstat_row *r,
			   size_t n)
{
	open_json_object(NULL);
	counters_fields(v, "");
	interfaces_print(r, n);
	close_json_object();
	output_end();
}

/*
 * One interval: when it ended (RFC 3339), how long it was, the rates
 * per second under "rates" and the totals under "totals" (JSON lines);
 * in text, the time and the rates.
 */
static void rates_print(unsigned int sec, const __u64 *rate,
			const __u64 *total)
{
	char t[40];

	wall_time_format(t, sizeof(t));
	open_json_object(NULL);
	print_string(PRINT_ANY, "time", "%s\n", t);
	print_uint(PRINT_JSON, "interval_s", NULL, sec);
	open_json_object("rates");
	counters_fields(rate, "/s");
	close_json_object();
	if (g.json) {
		open_json_object("totals");
		counters_fields(total, "");
		close_json_object();
	}
	close_json_object();
	output_end();
}

/* Each attachment's judgements, a counter by decision. */
static void prometheus_interfaces(const struct ifstat_row *r, size_t n)
{
	static const char *const decision[] = { "blocked", "monitored",
						"passed" };
	const char *name = "op25b_interface_segments_total";
	size_t i, d;

	printf("# HELP %s Judged segments per attachment (interface and hook) by decision: blocked, monitored (passed by action monitor), passed (to the port); interface and hook other: of attachments whose slot another held.\n", name);
	printf("# TYPE %s counter\n", name);
	for (i = 0; i < n; i++) {
		__u64 v[] = { r[i].blocked, r[i].monitored, r[i].passed };

		for (d = 0; d < 3; d++) {
			printf("%s{interface=\"", name);
			label_print(r[i].iface, sizeof(r[i].iface));
			printf("\",hook=\"%s\",decision=\"%s\"} %llu\n",
			       r[i].hook, decision[d], (unsigned long long)v[d]);
		}
	}
}

/* The counters by family, the attachments', then the gauges (metrics.c). */
static void prometheus_print(const struct op25b_maps *m, const __u64 *v,
			     const struct ifstat_row *r, size_t n)
{
	size_t f, i;

	for (f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		printf("# HELP %s %s.\n", families[f].name, families[f].help);
		printf("# TYPE %s counter\n", families[f].name);
		for (i = 0; i < NFIELDS; i++) {
			if (stat_fields[i].family != f)
				continue;
			if (families[f].label)
				printf("%s{%s=\"%s\"} %llu\n", families[f].name,
				       families[f].label, stat_fields[i].label,
				       (unsigned long long)v[i]);
			else
				printf("%s %llu\n", families[f].name,
				       (unsigned long long)v[i]);
		}
	}
	prometheus_interfaces(r, n);
	metrics_gauges_print(m);
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Rates every sec seconds until SIGINT/SIGTERM. The signals are blocked and
 * waited for, so one arriving at any moment ends the loop at once.
 */
static int rates_loop(struct stats_reader *r, unsigned int sec)
{
	__u64 prev[NFIELDS], cur[NFIELDS], rate[NFIELDS];
	struct timespec ts = { .tv_sec = sec };
	double t0, t1, dt;
	sigset_t set;
	size_t i;
	int err, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	err = reader_read(r, prev);
	t0 = now_sec();
	while (!err) {
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig > 0)
			break;
		t1 = now_sec();
		/* Another signal cut the wait short: wait out the rest. */
		if (sig < 0 && errno == EINTR && t1 - t0 < sec) {
			dt = sec - (t1 - t0);
			ts.tv_sec = (time_t)dt;
			ts.tv_nsec = (long)((dt - (double)ts.tv_sec) * 1e9);
			continue;
		}
		ts.tv_sec = sec;
		ts.tv_nsec = 0;
		err = reader_read(r, cur);
		if (err)
			break;
		dt = t1 - t0;
		for (i = 0; i < NFIELDS; i++) {
			/* A counter going back means the map was recreated. */
			__u64 d = cur[i] >= prev[i] ? cur[i] - prev[i] : cur[i];

			rate[i] = (__u64)((double)d / dt + 0.5);
			prev[i] = cur[i];
		}
		t0 = t1;
		rates_print(sec, rate, cur);
		print_nl();
		/* an output that fails ends the stream; main says why, exit 1 */
		if (fflush(stdout) || ferror(stdout))
			break;
	}
	return err;
}

static int interval_parse(const char *s, unsigned int *sec)
{
	unsigned long v;

	if (count_parse(s, INTERVAL_MAX, &v))
		return -1;
	*sec = (unsigned int)v;
	return 0;
}

int do_stats(int argc, char **argv)
{
	struct args a = ARGS_POS("stats", argc, argv, NULL, 0);
	struct stats_reader r = {};
	struct ifstat_row *rows = NULL;
	size_t nrows = 0;
	const char *ival;
	bool prometheus;
	__u64 sum[NFIELDS];
	struct op25b_maps m;
	unsigned int sec = 0;
	int err;

	if (args_all(&a, stats_opts))
		return EXIT_USAGE;
	prometheus = args_given(&a, OPT_PROMETHEUS);
	ival = a.val[OPT_INTERVAL];
	if (ival && interval_parse(ival, &sec)) {
		p_err("bad interval '%s': must be whole seconds 1-%d", ival,
		      INTERVAL_MAX);
		return EXIT_USAGE;
	}
	if (prometheus && (sec || g.json)) {
		p_err("stats: --prometheus cannot be combined with %s",
		      sec ? "--interval" : "-j");
		return EXIT_USAGE;
	}

	err = pins_open(&m, PINS_PEEK);
	if (err)
		return err;
	err = reader_init(&r, m.stats);
	if (!err && sec)
		err = rates_loop(&r, sec);
	else if (!err)
		err = reader_read(&r, sum);
	if (!err && !sec) {
		ifstats_sweep(&m);
		err = ifstats_read(&m, &rows, &nrows);
	}
	if (!err && !sec) {
		if (prometheus)
			prometheus_print(&m, sum, rows, nrows);
		else
			counters_print(sum, rows, nrows);
	}
	free(rows);
	free(r.buf);
	maps_close(&m);
	return err;
}
