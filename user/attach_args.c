// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The words of an attachment, as attach, watch, session up and the
 * 'attach' and 'watch' statements of op25b.conf(5) say them: their options
 * in one table each, and the checks of their values and combinations, all
 * before any device is looked at. Below every command that takes them, so
 * that no command calls another to check its words.
 */
#include <string.h>
#include "op25bctl.h"
#include "attachments.h"

const struct opt attach_opts[] = OPT_TABLE(
	ATTACH_OPTS,
);

void attach_opts_take(struct attach_args *a, const struct args *w)
{
	a->hook = w->val[ATTACH_OPT_HOOK];
	a->mode = w->val[ATTACH_OPT_MODE];
	a->dir = w->val[ATTACH_OPT_DIR];
	a->force = args_given(w, ATTACH_OPT_FORCE);
}

int attach_args_parse(int argc, char **argv, struct attach_args *a,
		      char *why, size_t len)
{
	struct args w = ARGS_POS("attach", argc, argv, &a->ifname, 1);

	memset(a, 0, sizeof(*a));
	w.why = why;
	w.whylen = len;
	if (args_all(&w, attach_opts))
		return EXIT_USAGE;
	attach_opts_take(a, &w);
	if (!a->ifname) {
		p_say(why, len, "attach: missing IFACE");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Option values and their combinations, before any device is looked at. */
int attach_args_check(const struct attach_args *a, char *why, size_t len)
{
	if (a->hook && strcmp(a->hook, "xdp") && strcmp(a->hook, "tc")) {
		p_say(why, len, "bad hook '%s': must be xdp or tc", a->hook);
		return EXIT_USAGE;
	}
	if (a->mode && strcmp(a->mode, "native") && strcmp(a->mode, "generic")) {
		p_say(why, len, "bad xdp mode '%s': must be native or generic", a->mode);
		return EXIT_USAGE;
	}
	if (a->dir && strcmp(a->dir, "ingress") && strcmp(a->dir, "egress")) {
		p_say(why, len, "bad direction '%s': must be ingress or egress", a->dir);
		return EXIT_USAGE;
	}
	if (a->mode && (a->dir || (a->hook && !strcmp(a->hook, "tc")))) {
		p_say(why, len, "--xdp-mode applies to --hook xdp only");
		return EXIT_USAGE;
	}
	if (a->dir && a->hook && !strcmp(a->hook, "xdp")) {
		p_say(why, len, "--direction applies to --hook tc only");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* ---- watch statements ---- */

/* Characters an interface name may hold, and the glob's own. */
static bool pattern_ok(const char *p, char *why, size_t len)
{
	int depth = 0;
	size_t i;

	/* brackets make a pattern longer than the names it matches */
	if (!*p || strlen(p) > PATTERN_MAX) {
		snprintf(why, len, "must be 1-%d characters", PATTERN_MAX);
		return false;
	}
	for (i = 0; p[i]; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '[')
			depth++;
		else if (c == ']')
			depth--;
		if (depth < 0 || depth > 1) {
			snprintf(why, len, "unbalanced '[' ']'");
			return false;
		}
		if (c <= ' ' || c >= 0x7f || c == '/' || c == '"' || c == '\'') {
			snprintf(why, len, "holds a character no interface name has");
			return false;
		}
	}
	if (depth) {
		snprintf(why, len, "unbalanced '[' ']'");
		return false;
	}
	return true;
}

const struct opt watch_opts[] = OPT_TABLE(
	ATTACH_OPTS,
	{ .name = "--config", .id = OPT_CONFIG, .arg = "FILE", .what = "a FILE",
	  .help = "the watch statements of an op25b.conf(5) file" },
	{ .name = "--boot", .id = OPT_BOOT,
	  .help = "with --config: a refused FILE still leaves what waits followed" },
);

/*
 * PATTERN... [attach options] into a rule, or, where config is given,
 * --config FILE alone; EXIT_USAGE, said, if bad.
 */
int watch_rule_parse(int argc, char **argv, struct watch_rule *r,
		     const char **config, char *why, size_t len)
{
	struct args a = ARGS_INIT("watch", argc, argv);
	char bad[96], q[TOKEN_QUOTE_LEN];
	const char *v;
	int id;

	memset(r, 0, sizeof(*r));
	a.why = why;
	a.whylen = len;
	while ((id = args_next(&a, config ? watch_opts : attach_opts, &v)) !=
	       ARG_END) {
		if (id == ARG_ERROR)
			return EXIT_USAGE;
		if (id != ARG_POSITIONAL) {
			continue;	/* kept in a: taken below */
		} else if (r->npatterns == WATCH_MAX) {
			p_say(why, len, "watch: at most %d patterns", WATCH_MAX);
			return EXIT_USAGE;
		} else if (!pattern_ok(v, bad, sizeof(bad))) {
			p_say(why, len, "watch: bad pattern '%s': %s",
			      token_quote(v, q, sizeof(q)), bad);
			return EXIT_USAGE;
		} else {
			r->patterns[r->npatterns++] = v;
		}
	}
	attach_opts_take(&r->args, &a);
	if (config && args_given(&a, OPT_CONFIG)) {
		*config = a.val[OPT_CONFIG];
		if (r->npatterns ||
		    (a.seen & ~(1u << OPT_CONFIG | 1u << OPT_BOOT))) {
			p_say(why, len, "watch: --config FILE [--boot], and nothing else");
			return EXIT_USAGE;
		}
		r->boot = args_given(&a, OPT_BOOT);
		return EXIT_OK;
	}
	if (config && args_given(&a, OPT_BOOT)) {
		p_say(why, len, "watch: --boot goes with --config");
		return EXIT_USAGE;
	}
	if (!r->npatterns) {
		p_say(why, len, "watch: missing PATTERN");
		return EXIT_USAGE;
	}
	return attach_args_check(&r->args, why, len);
}

int watch_check(int argc, char **argv, char *why, size_t len)
{
	struct watch_rule r;

	return watch_rule_parse(argc, argv, &r, NULL, why, len);
}
