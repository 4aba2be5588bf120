// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Blocked TCP destination ports and the action on a blocked packet: part
 * of the policy snapshot, changed by publishing a new one, like a table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "op25bctl.h"

/* The highest port the bitmap holds: 65535. */

/* The draft's config, for a change published by policy_commit. */
static int config_open_rw(struct op25b_maps *m, struct engine *e,
			  struct op25b_config **cfg)
{
	int err = policy_open_write(m, e);

	if (!err)
		*cfg = engine_config(e);
	return err;
}

/* A copy of the live config: nothing is held open after. */
static int config_open_ro(struct op25b_config *cfg)
{
	struct op25b_maps m;
	struct engine e;
	int err = policy_open_read(&m, &e);

	if (!err) {
		*cfg = engine_live(&e)->cfg;
		policy_close(&m, &e);
	}
	return err;
}

/* ---- port ---- */

enum { OPT_FORCE = 1 };

static const struct opt port_opts[] = OPT_TABLE(
	{ .name = "--force", .id = OPT_FORCE,
	  .help = "add a submission port (587, 465) all the same" },
);

const struct cmd_help port_help = {
	.forms = FORMS({ .words = "add|del PORT...", .opts = port_opts },
		       { .words = "[list]" }),
	.text =
	"The TCP destination ports whose segments are judged (25 by\n"
	"default). Every PORT (1-65535) is checked before anything is\n"
	"changed. Submission (587, RFC 5068) and submissions (465, RFC 8314)\n"
	"are how subscribers send mail once 25 is blocked: adding them is\n"
	"refused without --force.\n",
};

static int port_list(void)
{
	struct op25b_config cfg;
	__u32 p;
	int err;

	err = config_open_ro(&cfg);
	if (err)
		return err;
	open_json_array(NULL);
	for (p = 1; p <= OP25B_PORT_MAX; p++) {
		if (!config_port_blocked(&cfg, p))
			continue;
		print_uint(PRINT_ANY, NULL, "%llu", p);
		print_nl();
	}
	output_list_end();
	return EXIT_OK;
}

static int port_change(bool add, bool force, int argc, const char **argv)
{
	const char *verb = add ? "added" : "deleted";
	struct op25b_config *cfg;
	struct op25b_maps m;
	struct engine e;
	size_t nreq = 0, done = 0;
	char why[160];
	__u64 *want;
	__u32 p, w;
	int i, err;

	if (!argc) {
		p_err("port %s: missing PORT", add ? "add" : "del");
		return EXIT_USAGE;
	}
	want = calloc(OP25B_PORT_WORDS, sizeof(*want));
	if (!want) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	for (i = 0; i < argc; i++) {
		if (port_parse(argv[i], &p)) {
			p_err("bad port '%s': must be a number 1-%d", argv[i],
			      OP25B_PORT_MAX);
			free(want);
			return EXIT_USAGE;
		}
		if (add && !force && submission_port_check(p, why, sizeof(why))) {
			p_err("port add %u: %s; --force to block it all the same",
			      p, why);
			free(want);
			return EXIT_USAGE;
		}
		want[p / 64] |= 1ULL << (p % 64);
	}

	err = config_open_rw(&m, &e, &cfg);
	if (err)
		goto out;
	for (w = 0; w < OP25B_PORT_WORDS; w++) {
		nreq += (size_t)__builtin_popcountll(want[w]);
		if (add) {
			done += (size_t)__builtin_popcountll(want[w] &
							     ~cfg->ports[w]);
			cfg->ports[w] |= want[w];
		} else {
			done += (size_t)__builtin_popcountll(want[w] &
							     cfg->ports[w]);
			cfg->ports[w] &= ~want[w];
		}
	}
	if (done)
		err = policy_commit(&e);
	for (w = 0; w < OP25B_PORT_WORDS && !cfg->ports[w]; w++)
		;
	policy_close(&m, &e);
	if (err)
		goto out;
	p_info("%zu/%zu ports %s", done, nreq, verb);
	if (w == OP25B_PORT_WORDS)
		p_info("no port is blocked any more: every packet passes");
out:
	free(want);
	return err;
}

int do_port(int argc, char **argv)
{
	const char **w = calloc(argc + 1, sizeof(*w));
	struct args a = ARGS_POS("port", argc, argv, w, argc);
	int rc = EXIT_USAGE, n;

	if (!w) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	if (args_all(&a, port_opts))
		goto out;
	n = a.npos;
	if (!n || !strcmp(w[0], "list")) {
		if (n > 1)
			p_err("port list: unexpected argument '%s'", w[1]);
		else
			rc = port_list();
	} else if (!strcmp(w[0], "add") || !strcmp(w[0], "del")) {
		rc = port_change(w[0][0] == 'a', args_given(&a, OPT_FORCE),
				 n - 1, w + 1);
	} else {
		p_err("port: unknown subcommand '%s' (add, del or list)", w[0]);
	}
out:
	free(w);
	return rc;
}

/* ---- action ---- */

const struct cmd_help action_help = {
	.forms = FORMS({ .words = "[drop|reject|monitor]" },
		       { .words = "limit RATE/PERIOD", .opts = limit_opts }),
	.text =
	"What happens to a packet the policy blocks: drop (the default),\n"
	"reject (dropped, and the sender gets a TCP RST, so its client fails\n"
	"at once instead of timing out; fragments and malformed packets are\n"
	"only dropped), or monitor (it passes and is counted: a dry run\n"
	"before enforcing). Without an argument, print the current action.\n"
	"\n"
	"limit lets a denied subscriber's new SMTP connections (SYNs to a\n"
	"blocked port, not to an allowed relay) through at RATE per PERIOD\n"
	"(s, min or h) per source address (per /64 for IPv6, --ipv6-prefix),\n"
	"with bursts of N (default RATE); beyond, they are blocked as --then\n"
	"says (default drop). Segments that are not SYNs pass. With\n"
	"--quarantine DURATION (s, min, h or d; at least 1s), a source over the\n"
	"limit is blocked for all SMTP until DURATION after its last excess:\n"
	"see 'op25bctl quarantine'. Example: action limit 20/min --burst 10\n"
	"--then reject --quarantine 1h\n",
};

static int action_show(void)
{
	struct op25b_config cfg;
	char text[ACTION_TEXT_LEN];
	int err;

	err = config_open_ro(&cfg);
	if (err)
		return err;
	action_format(&cfg, text, sizeof(text));
	open_json_object(NULL);
	print_string(PRINT_FP, NULL, "%s", text);
	print_string(PRINT_JSON, "action", NULL, action_name(cfg.action));
	if (cfg.action == OP25B_ACT_LIMIT) {
		open_json_object("limit");
		print_uint(PRINT_JSON, "rate", NULL, cfg.limit.rate);
		print_uint(PRINT_JSON, "period_s", NULL, cfg.limit.period_s);
		print_uint(PRINT_JSON, "burst", NULL, cfg.limit.burst);
		print_string(PRINT_JSON, "then", NULL, action_name(cfg.limit.then));
		print_uint(PRINT_JSON, "quarantine_s", NULL,
			   cfg.limit.quarantine_ns / NSEC_PER_SEC);
		print_uint(PRINT_JSON, "ipv6_prefix", NULL, cfg.limit.prefix6);
		close_json_object();
	}
	close_json_object();
	print_nl();
	output_end();
	return EXIT_OK;
}

static int action_set(__u32 action, const struct op25b_limit *limit)
{
	struct op25b_config *cfg, want = { .action = action };
	char was[ACTION_TEXT_LEN], now[ACTION_TEXT_LEN];
	struct op25b_maps m;
	struct engine e;
	bool same;
	int err;

	err = config_open_rw(&m, &e, &cfg);
	if (err)
		return err;
	want.limit = *limit;
	same = action_equal(cfg, &want);
	action_format(cfg, was, sizeof(was));
	action_format(&want, now, sizeof(now));
	if (!same) {
		cfg->action = action;
		cfg->limit = *limit;
		err = policy_commit(&e);
	}
	policy_close(&m, &e);
	if (!err && same)
		p_info("action %s (unchanged)", now);
	else if (!err)
		p_info("action %s (was %s)", now, was);
	return err;
}

int do_action(int argc, char **argv)
{
	struct op25b_limit limit;
	char why[256];
	__u32 action;

	if (!argc)
		return action_show();
	if (action_words_parse(argc, argv, &action, &limit, why, sizeof(why))) {
		p_err("%s", why);
		return EXIT_USAGE;
	}
	return action_set(action, &limit);
}
