// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The one way a command reads its words: each command states its options
 * in a table (struct opt) and takes words with args_next, which knows
 * "--name VALUE", "--name=VALUE", "-x VALUE", "-xVALUE" and "--", and says
 * what is wrong in one line naming the command. A word such as "-5" or "-"
 * is not an option: it is a bad number, or stdin, for the command to say.
 * The global options before the command go through it too. The same
 * tables make each command's help, so an option is written down once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "op25bctl.h"

static bool looks_like_option(const char *s)
{
	return s[0] == '-' && s[1] && !(s[1] >= '0' && s[1] <= '9');
}

/* One line: into a->why when the caller keeps it (a file's FILE:LINE). */
#define args_err(a, ...)	p_say((a)->why, (a)->whylen, __VA_ARGS__)

/* A long option by its name, or (global only) by a prefix of one alone. */
static const struct opt *long_opt(const struct args *a, const struct opt *opts,
				  const char *w, const char **inline_val)
{
	const struct opt *o, *hit = NULL;
	size_t n = strcspn(w, "=");
	int hits = 0;

	for (o = opts; o && o->name; o++) {
		if (strncmp(w, o->name, n) || o->name[1] != '-')
			continue;
		if (!o->name[n]) {	/* the whole name */
			hit = o;
			hits = 1;
			break;
		}
		if (!a->cmd) {		/* getopt_long's abbreviations */
			hit = o;
			hits++;
		}
	}
	if (hits != 1 || (w[n] && !hit->arg))
		return NULL;
	*inline_val = w[n] ? w + n + 1 : NULL;
	return hit;
}

static const struct opt *short_opt(const struct opt *opts, char c)
{
	for (; opts && opts->name; opts++)
		if (opts->short_name && opts->short_name == c)
			return opts;
	return NULL;
}

/* An option as the global errors name it: "-n", else "--pin-dir". */
static const char *opt_label(const struct opt *o, char *buf)
{
	if (!o->short_name)
		return o->name;
	buf[0] = '-';
	buf[1] = o->short_name;
	buf[2] = '\0';
	return buf;
}

static int unknown(const struct args *a, const char *w, char c)
{
	char q[TOKEN_QUOTE_LEN];

	if (a->cmd)
		args_err(a, "%s: unknown option '%s'", a->cmd,
			 token_quote(w, q, sizeof(q)));
	else if (c)
		args_err(a, "unknown option '-%c' (try 'op25bctl help')", c);
	else
		args_err(a, "unknown option '%s' (try 'op25bctl help')",
			 token_quote(w, q, sizeof(q)));
	return ARG_ERROR;
}

/* An option met: kept for args_given and a->val, its id returned. */
static int took(struct args *a, const struct opt *o, const char *v)
{
	if (o->id < ARGS_IDS) {
		a->seen |= 1u << o->id;
		a->val[o->id] = v;
	}
	return o->id;
}

/*
 * w is an option word ("--x", "--x=V", "-x", "-xV"), or the rest of a
 * cluster of flags ("-jq" after -j: "q").
 */
static int option(struct args *a, const struct opt *opts, const char *w,
		  const char **val)
{
	const struct opt *o;
	const char *inl = NULL, *c = a->cluster;
	char lab[3];

	a->cluster = NULL;
	if (c) {
		o = short_opt(opts, *c);
		if (!o)
			return unknown(a, w, *c);
		inl = c[1] ? c + 1 : NULL;
	} else if (w[1] == '-') {
		o = long_opt(a, opts, w, &inl);
		if (!o)
			return unknown(a, w, 0);
	} else {
		o = short_opt(opts, w[1]);
		if (!o)
			return unknown(a, w, a->cmd ? 0 : w[1]);
		inl = w[2] ? w + 2 : NULL;
	}
	if (!o->arg) {
		/* "-jq": -q follows, for the global flags */
		if (inl && !a->cmd && w[1] != '-') {
			a->cluster = inl;
			return took(a, o, NULL);
		}
		if (inl)
			return unknown(a, w, 0);
		return took(a, o, NULL);
	}
	if (inl) {
		*val = inl;
		return took(a, o, inl);
	}
	if (a->i >= a->argc) {
		if (a->cmd)
			args_err(a, "%s: %s needs %s", a->cmd, w,
				 o->what ? o->what : "a value");
		else
			args_err(a, "option '%s' needs %s", opt_label(o, lab),
				 o->what ? o->what : "a value");
		return ARG_ERROR;
	}
	*val = a->argv[a->i++];
	return took(a, o, *val);
}

int args_next(struct args *a, const struct opt *opts, const char **val)
{
	const char *w;

	*val = NULL;
	if (a->cluster)
		return option(a, opts, a->argv[a->i - 1], val);
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
	return option(a, opts, w, val);
}

int args_opt(struct args *a, const struct opt *opts, const char **val)
{
	char q[TOKEN_QUOTE_LEN];
	int id;

	while ((id = args_next(a, opts, val)) == ARG_POSITIONAL) {
		if (a->npos >= a->maxpos) {
			args_err(a, "%s: unexpected argument '%s'", a->cmd,
				 token_quote(*val, q, sizeof(q)));
			return ARG_ERROR;
		}
		a->pos[a->npos++] = *val;
	}
	return id;
}

int args_all(struct args *a, const struct opt *opts)
{
	const char *v;
	int id;

	while ((id = args_opt(a, opts, &v)) > 0)
		;
	return id ? EXIT_USAGE : EXIT_OK;
}

bool args_missing(const struct args *a, const char *what)
{
	if (a->npos)
		return false;
	p_err("%s: missing %s", a->cmd, what);
	return true;
}

bool args_want_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (is_help(argv[i]))
			return true;
	return false;
}

/* ---- help, made from the same tables ---- */

/* Usage lines are wrapped here, under the first word after the command. */
#define HELP_WIDTH	79

/* "[-f FILE|-]": the option as a usage line shows it. */
static void opt_usage(const struct opt *o, char *buf, size_t len)
{
	if (o->short_name)
		snprintf(buf, len, "[-%c%s%s]", o->short_name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(buf, len, "[%s%s%s]", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
}

/*
 * s, from column col on, wrapped to column indent before an option or a
 * form: at a space before '[' or '|', so no option is cut in two.
 */
static void wrap_print(FILE *f, const char *s, size_t col, size_t indent)
{
	const char *p = s, *brk;
	size_t n;

	while (*p) {
		for (brk = p + 1; *brk; brk++)
			if (brk[0] == ' ' && (brk[1] == '[' || brk[1] == '|'))
				break;
		n = (size_t)(brk - p);
		if (p != s && col + n > HELP_WIDTH) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
			p++;	/* the space is the line's end */
			n--;
		}
		fwrite(p, 1, n, f);
		col += n;
		p += n;
	}
	fputc('\n', f);
}

/* One form's words and then its options: "IFACE [--hook xdp|tc] ...". */
static size_t form_format(const struct usage *u, char *buf, size_t len)
{
	const struct opt *o;
	char item[96];
	size_t n;

	n = (size_t)snprintf(buf, len, "%s", u->words);
	for (o = u->opts; o && o->name && n < len; o++) {
		opt_usage(o, item, sizeof(item));
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      n ? " " : "", item);
	}
	return n < len ? n : len;
}

/* The forms of h: its own, or the one its args and opts make. */
static const struct usage *forms_of(const struct cmd_help *h,
				    struct usage one[2])
{
	if (h->forms)
		return h->forms;
	one[0].words = h->args ? h->args : "";
	one[0].opts = h->opts;
	one[1].words = NULL;
	return one;
}

/* Does a form before u show u's option table already? */
static bool opts_shown_before(const struct usage *first,
			      const struct usage *u)
{
	const struct usage *v;

	for (v = first; v != u; v++)
		if (v->opts == u->opts)
			return true;
	return false;
}

/* An option table's lines, under one "Options:" heading for them all. */
static void options_print(FILE *f, const struct opt *opts, bool *head)
{
	if (!opts || !opts->name)
		return;
	if (!*head)
		fputs("\nOptions:\n", f);
	*head = true;
	opts_print(f, opts);
}

void help_print(FILE *f, const char *cmd, const struct cmd_help *h)
{
	const struct usage *u, *first;
	struct usage one[2];
	char lead[64], words[512];
	bool head = false;

	first = forms_of(h, one);
	for (u = first; u->words; u++) {
		form_format(u, words, sizeof(words));
		snprintf(lead, sizeof(lead), "%s op25bctl %s%s",
			 u == first ? "Usage:" : "      ", cmd,
			 words[0] ? " " : "");
		fputs(lead, f);
		wrap_print(f, words, strlen(lead), strlen(lead));
	}
	if (h->text)
		fprintf(f, "\n%s", h->text);
	if (h->opts)
		options_print(f, h->opts, &head);
	else
		for (u = first; u->words; u++)
			if (!opts_shown_before(first, u))
				options_print(f, u->opts, &head);
}

void help_line(FILE *f, const char *cmd, const struct cmd_help *h)
{
	const struct usage *u, *first;
	struct usage one[2];
	char words[1024];
	size_t n = 0;

	first = forms_of(h, one);
	for (u = first; u->words && n < sizeof(words) - 4; u++) {
		if (u != first && n)
			n += (size_t)snprintf(words + n, sizeof(words) - n,
					      " | ");
		n += form_format(u, words + n, sizeof(words) - n);
	}
	if (!n) {
		fprintf(f, "  %s\n", cmd);
		return;
	}
	n = (size_t)fprintf(f, "  %-7s ", cmd);
	wrap_print(f, words, n, 10);
}

/* "-f, --file FILE|-", "    --hook xdp|tc", "-n N" */
static void opt_names(const struct opt *o, char *buf, size_t len)
{
	bool has_long = o->name[1] == '-';

	if (o->short_name)
		snprintf(buf, len, "-%c%s%s%s%s", o->short_name,
			 has_long ? ", " : "", has_long ? o->name : "",
			 o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(buf, len, "    %s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
}

void opts_print(FILE *f, const struct opt *opts)
{
	const struct opt *o;
	size_t w = 16, n;
	char buf[96];

	for (o = opts; o && o->name; o++) {
		opt_names(o, buf, sizeof(buf));
		n = strlen(buf);
		if (n > w)
			w = n;
	}
	for (o = opts; o && o->name; o++) {
		opt_names(o, buf, sizeof(buf));
		fprintf(f, "  %-*s  %s\n", (int)w, buf, o->help ? o->help : "");
	}
}
