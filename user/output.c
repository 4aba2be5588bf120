// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Diagnostics on stderr, data on stdout. Every print_* call emits either a
 * text fragment or a JSON member, so the two forms never drift apart.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"

#define JSON_DEPTH_MAX	16
#define JSON_INDENT	2

/*
 * The writer's state: one frame per open container, remembering whether a
 * member was written yet (for commas and for closing on a fresh line).
 */
static struct {
	int depth;
	bool started;			/* a top-level value is open */
	bool array[JSON_DEPTH_MAX];
	bool filled[JSON_DEPTH_MAX];
} jw;

/*
 * Bytes of a well-formed UTF-8 character at p (RFC 3629: no overlong
 * form, no surrogate, nothing past U+10FFFF), 0 when it is not one.
 */
static size_t utf8_len(const unsigned char *p)
{
	size_t n, i;
	__u32 c;

	if (*p < 0x80)
		return 1;
	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2, c = *p & 0x1f;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3, c = *p & 0x0f;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4, c = *p & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

/*
 * A JSON string of s, whatever bytes s holds: well-formed UTF-8 passes,
 * any other byte is written as the character of its value, \u00XX, so
 * what reaches a JSON reader always parses (input echoed in an error).
 */
static void json_escape(FILE *f, const char *s)
{
	/* the characters JSON escapes by a letter, and those letters */
	static const char plain[] = "\"\\\b\f\n\r\t", letter[] = "\"\\bfnrt";
	const unsigned char *p;
	const char *e;
	size_t n;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p += n) {
		n = utf8_len(p);
		e = strchr(plain, *p);
		if (e)
			fprintf(f, "\\%c", letter[e - plain]);
		else if (*p < 0x20 || *p == 0x7f || !n)
			fprintf(f, "\\u%04x", *p);
		else
			fwrite(p, 1, n, f);
		if (!n)
			n = 1;
	}
	fputc('"', f);
}

static void json_newline_indent(int depth)
{
	if (!g.pretty)
		return;
	printf("\n%*s", depth * JSON_INDENT, "");
}

static void json_push(bool array, char open)
{
	putchar(open);
	if (jw.depth < JSON_DEPTH_MAX) {
		jw.array[jw.depth] = array;
		jw.filled[jw.depth] = false;
	}
	jw.depth++;
}

/* A keyed member at top level implies the enclosing object. */
static void json_begin_member(const char *key)
{
	int d;

	if (!jw.started) {
		jw.started = true;
		if (key)
			json_push(false, '{');
	}
	if (!jw.depth)
		return;
	d = jw.depth - 1;
	if (d < JSON_DEPTH_MAX) {
		if (jw.filled[d])
			putchar(',');
		jw.filled[d] = true;
	}
	json_newline_indent(jw.depth);
	if (key && !(d < JSON_DEPTH_MAX && jw.array[d])) {
		json_escape(stdout, key);
		fputs(g.pretty ? ": " : ":", stdout);
	}
}

static void json_close(char close)
{
	bool filled;

	if (!jw.depth)
		return;
	jw.depth--;
	filled = jw.depth >= JSON_DEPTH_MAX || jw.filled[jw.depth];
	if (filled)
		json_newline_indent(jw.depth);
	putchar(close);
}

static void json_open(const char *key, bool array)
{
	if (!g.json)
		return;
	json_begin_member(key);
	json_push(array, array ? '[' : '{');
}

void open_json_object(const char *key)
{
	json_open(key, false);
}

void open_json_array(const char *key)
{
	json_open(key, true);
}

void close_json_object(void)
{
	if (g.json)
		json_close('}');
}

void close_json_array(void)
{
	if (g.json)
		json_close(']');
}

/* Text mode: printf the fmt with one value, when the caller asked for it. */
#define TEXT_OUT(t, fmt, ...)					\
	do {							\
		if (!g.json && ((t) & PRINT_FP) && (fmt))	\
			printf(fmt, __VA_ARGS__);		\
	} while (0)

void print_string(enum output_type t, const char *key, const char *fmt,
		  const char *value)
{
	TEXT_OUT(t, fmt, value ? value : "");
	if (!g.json || !(t & PRINT_JSON))
		return;
	json_begin_member(key);
	if (value)
		json_escape(stdout, value);
	else
		fputs("null", stdout);
}

void print_uint(enum output_type t, const char *key, const char *fmt,
		unsigned long long value)
{
	TEXT_OUT(t, fmt, value);
	if (!g.json || !(t & PRINT_JSON))
		return;
	json_begin_member(key);
	printf("%llu", value);
}

/* As in iproute2, text mode hands fmt the words "true" / "false". */
void print_bool(enum output_type t, const char *key, const char *fmt,
		bool value)
{
	TEXT_OUT(t, fmt, value ? "true" : "false");
	if (!g.json || !(t & PRINT_JSON))
		return;
	json_begin_member(key);
	fputs(value ? "true" : "false", stdout);
}

/* There is no value to format: in text mode fmt is printed as it stands. */
void print_null(enum output_type t, const char *key, const char *fmt)
{
	if (!g.json && (t & PRINT_FP) && fmt)
		fputs(fmt, stdout);
	if (!g.json || !(t & PRINT_JSON))
		return;
	json_begin_member(key);
	fputs("null", stdout);
}

void print_nl(void)
{
	if (!g.json)
		putchar('\n');
}

/*
 * One step of a dry run's plan: "SIGN TEXT" and a note (text only, or
 * NULL) as a line; {"op": OP, KEY: VALUE} in JSON.
 */
void plan_print(const char *sign, const char *op, const char *key,
		const char *fmt, const char *value, const char *note)
{
	open_json_object(NULL);
	print_string(PRINT_FP, NULL, "%s ", sign);
	print_string(PRINT_JSON, "op", NULL, op);
	print_string(PRINT_ANY, key, fmt, value);
	if (note)
		print_string(PRINT_FP, NULL, "%s", note);
	close_json_object();
	print_nl();
}

/* Closes whatever a failing handler left open; harmless when called twice. */
void output_end(void)
{
	if (!g.json || !jw.started)
		return;
	while (jw.depth) {
		bool array = jw.depth <= JSON_DEPTH_MAX &&
			     jw.array[jw.depth - 1];

		json_close(array ? ']' : '}');
	}
	putchar('\n');
	jw.started = false;
	fflush(stdout);
}

void output_list_end(void)
{
	close_json_array();
	output_end();
}

/* Longest diagnostic line: a megabyte of garbage is not echoed whole. */
#define MESSAGE_MAX	1000

/*
 * One line on stderr, as the operator's terminal can take it: bytes that
 * are not printable ASCII (escape sequences, NBSP, a BOM) shown as \xNN,
 * and the line cut with "..." at MESSAGE_MAX.
 */
static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
	char raw[4 * MESSAGE_MAX], out[MESSAGE_MAX + 8];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	token_quote(raw, out, sizeof(out));
	fflush(stdout);
	fputs(prefix, stderr);
	fputs(out, stderr);
	fputc('\n', stderr);
}

void p_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	if (!g.json) {
		vmessage("op25bctl: ", fmt, ap);
	} else {
		vsnprintf(msg, sizeof(msg), fmt, ap);
		fflush(stdout);
		fputs("{\"error\":", stderr);
		json_escape(stderr, msg);
		fputs("}\n", stderr);
	}
	va_end(ap);
}

void p_say(char *why, size_t len, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (why)
		snprintf(why, len, "%s", msg);
	else
		p_err("%s", msg);
}

const char *errstr(int err)
{
	static char buf[128];

	libbpf_strerror(err, buf, sizeof(buf));
	return buf;
}

void p_info(const char *fmt, ...)
{
	va_list ap;

	if (g.quiet)
		return;
	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
}

void p_debug(const char *fmt, ...)
{
	va_list ap;

	if (!g.verbose)
		return;
	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
}

bool is_help(const char *s)
{
	return !strcmp(s, "-h") || !strcmp(s, "--help");
}
