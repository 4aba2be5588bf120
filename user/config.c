// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Action and blocked ports, as a snapshot holds them: names, checks, and
 * the words of an action, read (the CLI and op25b.conf say them alike)
 * and written back as save writes them.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "op25bctl.h"

static const struct unit {
	const char *name;
	__u64 ns;
} durations[] = {
	{ "d", 86400ULL * NSEC_PER_SEC }, { "h", 3600ULL * NSEC_PER_SEC },
	{ "min", 60ULL * NSEC_PER_SEC }, { "s", NSEC_PER_SEC },
	{ "ms", NSEC_PER_SEC / 1000 },
};

int duration_parse(const char *s, __u64 *ns)
{
	size_t n = strspn(s, "0123456789"), i;
	__u64 v;

	if (number_parse(s, n, 0, 1ULL << 40, &v))
		return -1;
	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++)
		if (!strcmp(s + n, durations[i].name)) {
			/* past 2^64 ns is out of any range, never wrapped */
			*ns = v > UINT64_MAX / durations[i].ns ? UINT64_MAX :
			      v * durations[i].ns;
			return 0;
		}
	return -1;
}

static void duration_format(__u64 ns, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++)
		if (!(ns % durations[i].ns)) {
			snprintf(buf, len, "%llu%s",
				 (unsigned long long)(ns / durations[i].ns),
				 durations[i].name);
			return;
		}
	snprintf(buf, len, "%lluns", (unsigned long long)ns);
}

void limit_rate_format(const struct op25b_limit *l, char *buf, size_t len)
{
	snprintf(buf, len, "%u/%s", l->rate,
		 l->period_s == 1 ? "s" : l->period_s == 60 ? "min" : "h");
}

#define WHY(...)	(snprintf(why, whylen, __VA_ARGS__), -1)

enum { OPT_BURST = 1, OPT_THEN, OPT_QUARANTINE, OPT_PREFIX6, OPT_BY };

const struct opt limit_opts[] = OPT_TABLE(
	{ .name = "--burst", .id = OPT_BURST, .arg = "N",
	  .help = "in bursts of N (default RATE)" },
	{ .name = "--then", .id = OPT_THEN, .arg = "drop|reject",
	  .help = "what is over the limit gets (default drop)" },
	{ .name = "--quarantine", .id = OPT_QUARANTINE, .arg = "DURATION",
	  .help = "a source over it: all its SMTP blocked this long" },
	{ .name = "--ipv6-prefix", .id = OPT_PREFIX6, .arg = "LEN",
	  .help = "an IPv6 source is its first LEN bits (default 64)" },
	{ .name = "--by", .id = OPT_BY, .arg = "uid|cgroup",
	  .help = "the socket hooks' sources: the connecting uid (default) or cgroup" },
);

/* "limit" and what follows it. */
static int limit_parse(int argc, char **argv, struct op25b_limit *l,
		       char *why, size_t whylen)
{
	struct args a = ARGS_POS("action limit", argc - 1, argv + 1, NULL, 0);
	char q[TOKEN_QUOTE_LEN];
	const char *slash, *arg;
	__u64 v, burst = 0;
	bool burst_set = false;
	int id, w;

	memset(l, 0, sizeof(*l));
	l->then = OP25B_ACT_DROP;
	l->prefix6 = OP25B_LIMIT_PREFIX6_DEFAULT;
	if (argc < 1 || argv[0][0] == '-')
		return WHY("action limit: missing RATE/PERIOD (e.g. 20/min)");
	slash = strchr(argv[0], '/');
	if (!slash)
		return WHY("action limit: bad rate '%s': RATE/PERIOD, e.g. 20/min",
			   token_quote(argv[0], q, sizeof(q)));
	if (number_parse(argv[0], (size_t)(slash - argv[0]), 0, OP25B_LIMIT_RATE_MAX, &v) ||
	    v < 1)
		return WHY("action limit: bad rate '%s': RATE must be a number 1-%u",
			   token_quote(argv[0], q, sizeof(q)), OP25B_LIMIT_RATE_MAX);
	l->rate = (__u32)v;
	if (!strcmp(slash + 1, "s"))
		l->period_s = 1;
	else if (!strcmp(slash + 1, "min"))
		l->period_s = 60;
	else if (!strcmp(slash + 1, "h"))
		l->period_s = 3600;
	else
		return WHY("action limit: unknown period '%s' (s, min or h)",
			   token_quote(slash + 1, q, sizeof(q)));
	a.why = why;
	a.whylen = whylen;
	while ((id = args_opt(&a, limit_opts, &arg)) > 0) {
		switch (id) {
		case OPT_BURST:
			if (number_parse(arg, strlen(arg), 0, OP25B_LIMIT_RATE_MAX, &burst) ||
			    burst < 1)
				return WHY("action limit: bad burst '%s': must be a number 1-%u",
					   token_quote(arg, q, sizeof(q)),
					   OP25B_LIMIT_RATE_MAX);
			burst_set = true;
			break;
		case OPT_THEN:
			w = action_parse(arg);
			if (w != OP25B_ACT_DROP && w != OP25B_ACT_REJECT)
				return WHY("action limit: --then '%s': drop or reject",
					   token_quote(arg, q, sizeof(q)));
			l->then = w;
			break;
		case OPT_QUARANTINE:
			if (duration_parse(arg, &v))
				return WHY("action limit: bad quarantine '%s': a number and s, min, h or d, e.g. 1h",
					   token_quote(arg, q, sizeof(q)));
			if (v < NSEC_PER_SEC || v > OP25B_QUARANTINE_MAX_NS)
				return WHY("action limit: quarantine '%s' out of range: 1s to 365d",
					   token_quote(arg, q, sizeof(q)));
			l->quarantine_ns = v;
			break;
		case OPT_PREFIX6:
			if (number_parse(arg, strlen(arg), 0, 128, &v) || v < 1)
				return WHY("action limit: bad --ipv6-prefix '%s': a length 1-128",
					   token_quote(arg, q, sizeof(q)));
			l->prefix6 = (__u8)v;
			break;
		case OPT_BY:
			w = limit_by_parse(arg);
			if (w < 0)
				return WHY("action limit: --by '%s': uid or cgroup",
					   token_quote(arg, q, sizeof(q)));
			l->by = (__u8)w;
			break;
		}
	}
	if (id)
		return -1;
	l->burst = burst_set ? (__u32)burst : l->rate;
	l->interval_ns = (__u64)l->period_s * NSEC_PER_SEC / l->rate;
	return 0;
}

int action_words_parse(int argc, char **argv, __u32 *action,
		       struct op25b_limit *l, char *why, size_t whylen)
{
	char q[TOKEN_QUOTE_LEN];
	int a;

	memset(l, 0, sizeof(*l));
	if (argc < 1)
		return WHY("action: missing ACTION (drop, reject, monitor or limit)");
	a = action_parse(argv[0]);
	if (a < 0)
		return WHY("unknown action '%s' (drop, reject, monitor or limit)",
			   token_quote(argv[0], q, sizeof(q)));
	if (a == OP25B_ACT_LIMIT) {
		if (limit_parse(argc - 1, argv + 1, l, why, whylen))
			return -1;
	} else if (argc > 1) {
		return WHY("action %s: unexpected argument '%s'", argv[0],
			   token_quote(argv[1], q, sizeof(q)));
	}
	*action = (__u32)a;
	return 0;
}

void action_format(const struct op25b_config *cfg, char *buf, size_t len)
{
	const struct op25b_limit *l = &cfg->limit;
	char qd[32] = "", q[48] = "", p6[32] = "", rate[32];

	if (cfg->action != OP25B_ACT_LIMIT) {
		snprintf(buf, len, "%s", action_name(cfg->action));
		return;
	}
	if (l->quarantine_ns) {
		duration_format(l->quarantine_ns, qd, sizeof(qd));
		snprintf(q, sizeof(q), " --quarantine %s", qd);
	}
	if (l->prefix6 != OP25B_LIMIT_PREFIX6_DEFAULT)
		snprintf(p6, sizeof(p6), " --ipv6-prefix %u", l->prefix6);
	limit_rate_format(l, rate, sizeof(rate));
	snprintf(buf, len, "limit %s --burst %u%s%s%s%s", rate, l->burst,
		 l->then == OP25B_ACT_REJECT ? " --then reject" : "", q, p6,
		 l->by == OP25B_BY_CGROUP ? " --by cgroup" : "");
}

bool action_equal(const struct op25b_config *a, const struct op25b_config *b)
{
	if (a->action != b->action)
		return false;
	return a->action != OP25B_ACT_LIMIT ||
	       !memcmp(&a->limit, &b->limit, sizeof(a->limit));
}

int port_parse(const char *s, __u32 *port)
{
	__u64 v;

	if (number_parse(s, strlen(s), 1, OP25B_PORT_MAX, &v))
		return -1;
	*port = (__u32)v;
	return 0;
}

bool config_port_blocked(const struct op25b_config *cfg, __u32 port)
{
	return (cfg->ports[port / 64] >> (port % 64)) & 1;
}

int submission_port_check(__u32 port, char *why, size_t len)
{
	if (port == OP25B_PORT_SUBMISSION) {
		snprintf(why, len,
			 "submission stays open (RFC 5068: blocking 25 leaves subscribers port 587 with SMTP AUTH)");
		return -1;
	}
	if (port == OP25B_PORT_SUBMISSIONS) {
		snprintf(why, len,
			 "submissions stays open (RFC 8314: port 465 is mail submission over TLS)");
		return -1;
	}
	return 0;
}
