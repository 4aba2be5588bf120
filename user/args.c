// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The one way a command reads its words: each command states its options
 * in a table (struct opt) and takes words with args_next, which knows
 * "--name VALUE", "--name=VALUE", "-x VALUE", "-xVALUE" and "--", and says
 * what is wrong in one line naming the command. A word such as "-5" or "-"
 * is not an option: it is a bad number, or stdin, for the command to say.
 */
#include <string.h>
#include "op25bctl.h"

static bool looks_like_option(const char *s)
{
	return s[0] == '-' && s[1] && !(s[1] >= '0' && s[1] <= '9');
}

static const struct opt *long_opt(const struct opt *opts, const char *w,
				  const char **inline_val)
{
	size_t n;

	for (; opts && opts->name; opts++) {
		n = strlen(opts->name);
		if (strncmp(w, opts->name, n))
			continue;
		if (!w[n]) {
			*inline_val = NULL;
			return opts;
		}
		if (w[n] == '=' && opts->value) {
			*inline_val = w + n + 1;
			return opts;
		}
	}
	return NULL;
}

static const struct opt *short_opt(const struct opt *opts, const char *w,
				   const char **inline_val)
{
	for (; opts && opts->name; opts++) {
		if (!opts->short_name || w[1] != opts->short_name)
			continue;
		if (!w[2]) {
			*inline_val = NULL;
			return opts;
		}
		if (opts->value) {
			*inline_val = w + 2;
			return opts;
		}
	}
	return NULL;
}

int args_next(struct args *a, const struct opt *opts, const char **val)
{
	const struct opt *o;
	const char *w, *inl = NULL;
	char q[TOKEN_QUOTE_LEN];

	*val = NULL;
	if (a->i >= a->argc)
		return ARG_END;
	w = a->argv[a->i++];
	if (!a->rest && !strcmp(w, "--")) {
		a->rest = true;
		return args_next(a, opts, val);
	}
	if (a->rest || !looks_like_option(w)) {
		*val = w;
		return ARG_POSITIONAL;
	}
	o = w[1] == '-' ? long_opt(opts, w, &inl) : short_opt(opts, w, &inl);
	if (!o) {
		p_err("%s: unknown option '%s'", a->cmd,
		      token_quote(w, q, sizeof(q)));
		return ARG_ERROR;
	}
	if (!o->value)
		return o->id;
	if (inl) {
		*val = inl;
		return o->id;
	}
	if (a->i >= a->argc) {
		p_err("%s: %s needs %s", a->cmd, w, o->what ? o->what : "a value");
		return ARG_ERROR;
	}
	*val = a->argv[a->i++];
	return o->id;
}

bool args_want_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (is_help(argv[i]))
			return true;
	return false;
}

int args_no_options(const char *cmd, int argc, char **argv)
{
	struct args a = ARGS_INIT(cmd, argc, argv);
	const char *v;
	int id;

	while ((id = args_next(&a, NULL, &v)) != ARG_END)
		if (id == ARG_ERROR)
			return EXIT_USAGE;
	return EXIT_OK;
}
