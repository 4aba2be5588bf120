// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * op25bctl: global options, then one command from the table below. main()
 * only dispatches; every command lives in the file of its concern.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"

struct global_opts g = {
	.pin_dir = OP25B_PIN_DIR_DEFAULT,
	.wait = OP25B_WAIT_DEFAULT,
};

/* A macro's number as a string, for help text made at compile time. */
#define STR_(x)	#x
#define STR(x)	STR_(x)

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	bool exact;		/* destructive: never taken by a prefix */
	const struct cmd_help *help;	/* its words, options and prose */
};

static int do_help(int argc, char **argv);

static const struct cmd_help help_help = {
	.args = "[COMMAND]",
	.text = "The commands, or COMMAND's full help (as COMMAND --help).\n",
};

#define CMD_ENTRY(name, exact)	{ #name, do_##name, exact, &name##_help },
static const struct cmd cmds[] = {
	OP25B_COMMANDS(CMD_ENTRY)
	{ "help", do_help, false, &help_help },
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

/*
 * --offenders N, --limiter N: within their bounds, rounded up to a power
 * of two (the datapath hashes onto them).
 */
static int size_opt_parse(bool limiter, const char *v)
{
	unsigned long n;
	__u32 lo = limiter ? OP25B_LIMITER_FLOOR : OP25B_OFFENDERS_FLOOR;
	__u32 hi = limiter ? OP25B_LIMITER_MAX : OP25B_OFFENDERS_MAX;

	if (count_parse(v, hi, &n) || n < lo) {
		p_err("bad %s '%s': must be a number %u-%u",
		      limiter ? "limiter" : "offenders", v, lo, hi);
		return -1;
	}
	*(limiter ? &g.limiter : &g.offenders) = op25b_pow2_up((__u32)n);
	return 0;
}

enum {
	G_JSON = 1, G_PRETTY, G_VERBOSE, G_QUIET, G_PIN_DIR, G_CAPACITY,
	G_OFFENDERS, G_LIMITER, G_NETNS, G_WAIT, G_HELP, G_VERSION,
};

/* The options before the command: read, and shown in help, from here. */
static const struct opt global_opts[] = OPT_TABLE(
	{ .name = "--json", .short_name = 'j', .id = G_JSON,
	  .help = "JSON output" },
	{ .name = "--pretty", .short_name = 'p', .id = G_PRETTY,
	  .help = "indented JSON (implies -j)" },
	{ .name = "--verbose", .short_name = 'v', .id = G_VERBOSE,
	  .help = "debug messages, libbpf and verifier logs" },
	{ .name = "--quiet", .short_name = 'q', .id = G_QUIET,
	  .help = "no summaries on stderr" },
	{ .name = "--pin-dir", .id = G_PIN_DIR, .arg = "DIR",
	  .what = "a directory",
	  .help = "pin directory (default " OP25B_PIN_DIR_DEFAULT ")" },
	{ .name = "--capacity", .id = G_CAPACITY, .arg = "N",
	  .what = "a number",
	  .help = "prefixes per table, when the maps are made (default "
		  STR(OP25B_CAPACITY_DEFAULT) ")" },
	{ .name = "--offenders", .id = G_OFFENDERS, .arg = "N",
	  .what = "a number",
	  .help = "sources 'top' can tell apart, all CPUs together, when the "
		  "maps are made (default: capacity / 4, 1024-65536)" },
	{ .name = "--limiter", .id = G_LIMITER, .arg = "N",
	  .what = "a number",
	  .help = "sources action limit can follow at once, when the maps "
		  "are made (default: capacity / 4, at least 1024)" },
	{ .name = "--netns", .short_name = 'n', .id = G_NETNS, .arg = "NAME",
	  .what = "a network namespace name",
	  .help = "network namespace /run/netns/NAME (as ip -n)" },
	{ .name = "--wait", .short_name = 'w', .id = G_WAIT, .arg = "SEC",
	  .what = "seconds",
	  .help = "wait at most SEC for another op25bctl (default "
		  STR(OP25B_WAIT_DEFAULT) ")" },
	{ .name = "--help", .short_name = 'h', .id = G_HELP,
	  .help = "this help" },
	{ .name = "--version", .short_name = 'V', .id = G_VERSION,
	  .help = "print the version" },
);

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: op25bctl [OPTIONS] COMMAND [ARGS]\n\nOptions:\n");
	opts_print(f, global_opts);
	fprintf(f, "\nCommands:\n");
	for (i = 0; i < N_CMDS; i++)
		help_line(f, cmds[i].name, cmds[i].help);
	fprintf(f,
		"\n"
		"Exit status: 0 success, 1 runtime failure, 2 bad usage or input,\n"
		"3 'test' answered blocked.\n");
}

/* Exact name, or a prefix of exactly one name; NULL after printing why. */
static const struct cmd *cmd_find(const char *name)
{
	const struct cmd *hit = NULL;
	char names[256] = "";
	size_t i, n = 0, len = strlen(name);

	for (i = 0; i < N_CMDS; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	for (i = 0; i < N_CMDS; i++) {
		if (!len || cmds[i].exact || strncmp(cmds[i].name, name, len))
			continue;
		hit = &cmds[i];
		if (n++)
			strncat(names, ", ", sizeof(names) - strlen(names) - 1);
		strncat(names, cmds[i].name, sizeof(names) - strlen(names) - 1);
	}
	if (n == 1)
		return hit;
	if (n > 1)
		p_err("ambiguous command '%s': could be %s", name, names);
	else
		p_err("unknown command '%s' (try 'op25bctl help')", name);
	return NULL;
}

static int do_help(int argc, char **argv)
{
	const char *name = NULL;
	struct args a = ARGS_POS("help", argc, argv, &name, 1);
	const struct cmd *c;

	if (args_all(&a, NULL))
		return EXIT_USAGE;
	if (!name) {
		usage(stdout);
		return EXIT_OK;
	}
	c = cmd_find(name);
	if (!c)
		return EXIT_USAGE;
	help_print(stdout, c->name, c->help);
	return EXIT_OK;
}

static int do_version(void)
{
	char lib[32];

	snprintf(lib, sizeof(lib), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
	open_json_object(NULL);
	print_string(PRINT_ANY, "version", "op25bctl %s", OP25B_VERSION);
	print_string(PRINT_ANY, "libbpf", " (libbpf %s)\n", lib);
	close_json_object();
	output_end();
	return EXIT_OK;
}

/*
 * Options up to the command only, so "deny subscriber -f FILE" keeps its
 * -f. Returns -1 to go on, with *cmd the command's index, or an exit code.
 */
static int parse_global(int argc, char **argv, int *cmd)
{
	struct args a = ARGS_INIT(NULL, argc - 1, argv + 1);
	unsigned long n;
	const char *v;
	int id;

	while ((id = args_next(&a, global_opts, &v)) > 0) {
		switch (id) {
		case G_PRETTY:
			g.pretty = true;
			/* fallthrough */
		case G_JSON:
			g.json = true;
			break;
		case G_VERBOSE:
			g.verbose = true;
			break;
		case G_QUIET:
			g.quiet = true;
			break;
		case G_PIN_DIR:
			g.pin_dir = v;
			break;
		case G_NETNS:
			g.netns = v;
			break;
		case G_WAIT:
			if (strcmp(v, "0") && count_parse(v, 86400, &n)) {
				p_err("bad wait '%s': must be seconds 0-86400",
				      v);
				return EXIT_USAGE;
			}
			g.wait = strcmp(v, "0") ? (unsigned int)n : 0;
			break;
		case G_CAPACITY:
			if (count_parse(v, OP25B_CAPACITY_MAX, &n) ||
			    n < OP25B_CAPACITY_MIN) {
				p_err("bad capacity '%s': must be a number %u-%u",
				      v, OP25B_CAPACITY_MIN,
				      OP25B_CAPACITY_MAX);
				return EXIT_USAGE;
			}
			g.capacity = (__u32)n;
			break;
		case G_OFFENDERS:
		case G_LIMITER:
			if (size_opt_parse(id == G_LIMITER, v))
				return EXIT_USAGE;
			break;
		case G_HELP:
			usage(stdout);
			return EXIT_OK;
		case G_VERSION:
			return do_version();
		}
	}
	if (id == ARG_ERROR)
		return EXIT_USAGE;
	/* "-5" is no command: an option getopt would not know */
	if (id == ARG_POSITIONAL && !a.rest && v[0] == '-' && v[1]) {
		p_err("unknown option '-%c' (try 'op25bctl help')", v[1]);
		return EXIT_USAGE;
	}
	*cmd = id == ARG_POSITIONAL ? a.i : argc;
	if (!g.pin_dir[0]) {
		p_err("option '--pin-dir' needs a directory");
		return EXIT_USAGE;
	}
	/* a relative pin dir is relative to here, as for any other path */
	if (g.pin_dir[0] != '/') {
		static char abs_dir[PATH_MAX];
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(abs_dir, sizeof(abs_dir), "%s/%s", cwd,
				     g.pin_dir) >= sizeof(abs_dir)) {
			p_err("pin dir '%s': cannot make it absolute", g.pin_dir);
			return EXIT_USAGE;
		}
		g.pin_dir = abs_dir;
	}
	return -1;
}

/*
 * -n NAME: the network namespace /run/netns/NAME (a path when it has a
 * '/'), entered for the network side only, as 'ip -n' does: the mount
 * namespace, and with it bpffs and the pins, stays ours.
 */
static int netns_enter(const char *name)
{
	char path[PATH_MAX], q[TOKEN_QUOTE_LEN];
	int fd;

	if (!*name || strlen(name) > NAME_MAX) {
		p_err("bad network namespace name '%s'",
		      token_quote(name, q, sizeof(q)));
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "%s%s", strchr(name, '/') ? "" :
		 "/run/netns/", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		p_err("no network namespace '%s' (%s: %s)",
		      token_quote(name, q, sizeof(q)), path, strerror(errno));
		return EXIT_USAGE;
	}
	if (setns(fd, CLONE_NEWNET)) {
		p_err("cannot enter network namespace '%s': %s",
		      token_quote(name, q, sizeof(q)), strerror(errno));
		close(fd);
		return errno == EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	}
	close(fd);
	return EXIT_OK;
}

static int run(int argc, char **argv)
{
	const struct cmd *c;
	int rc;

	c = cmd_find(argv[0]);
	if (!c)
		return EXIT_USAGE;
	if (args_want_help(argc - 1, argv + 1)) {
		help_print(stdout, c->name, c->help);
		return EXIT_OK;
	}
	rc = c->fn(argc - 1, argv + 1);
	output_end();
	/* Exit codes are an interface: never errno, never 255. */
	if (rc < EXIT_OK || rc > EXIT_BLOCKED)
		rc = EXIT_RUNTIME;
	return rc;
}

/*
 * What went to stdout really went: a full disk or a closed pipe is exit 1
 * with one line, never a silent 0 (a command that already failed keeps
 * its own code and its own line).
 */
static int stdout_close(int rc)
{
	bool bad = fflush(stdout) || ferror(stdout);
	int err = errno;

	if (fclose(stdout) && !bad) {
		bad = true;
		err = errno;
	}
	if (!bad || (rc != EXIT_OK && rc != EXIT_BLOCKED))
		return rc;
	p_err("cannot write the output: %s", strerror(err ? err : EIO));
	return EXIT_RUNTIME;
}

static int main_run(int argc, char **argv)
{
	int rc, cmd;

	rc = parse_global(argc, argv, &cmd);
	if (rc >= 0)
		return rc;
	if (cmd >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (g.netns) {
		rc = netns_enter(g.netns);
		if (rc)
			return rc;
	}
	libbpf_setup();
	return run(argc - cmd, argv + cmd);
}

int main(int argc, char **argv)
{
	return stdout_close(main_run(argc, argv));
}
