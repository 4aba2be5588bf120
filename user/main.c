// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * op25bctl: global options, then one command from the table below. main()
 * only dispatches; every command lives in the file of its concern.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"

#ifndef OP25B_VERSION
#define OP25B_VERSION "0.2.0"
#endif

struct global_opts g = {
	.pin_dir = OP25B_PIN_DIR_DEFAULT,
	.wait = OP25B_WAIT_DEFAULT,
};

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *summary;
	bool exact;		/* destructive: never taken by a prefix */
	const char *help;	/* the command's full help */
};

static int do_help(int argc, char **argv);

static const struct cmd cmds[] = {
	{ "attach", do_attach,
	  "IFACE [--hook xdp|tc] [--xdp-mode native|generic] [--direction ingress|egress] [--force]",
	  "attach the datapath to an interface", false, attach_usage },
	{ "detach", do_detach, "IFACE | --all",
	  "remove what op25b attached", false, detach_usage },
	{ "status", do_status, "",
	  "attachments, action, blocked ports, table sizes", false, status_usage },
	{ "deny", do_deny, "subscriber|relay PREFIX... [-f FILE|-]",
	  "add or change prefixes to deny", false, deny_usage },
	{ "allow", do_allow, "subscriber|relay PREFIX... [-f FILE|-]",
	  "add or change prefixes to allow", false, allow_usage },
	{ "del", do_del, "subscriber|relay PREFIX... [-f FILE|-]",
	  "delete prefixes", false, del_usage },
	{ "flush", do_flush, "subscriber|relay", "delete every prefix", true, flush_usage },
	{ "list", do_list, "[subscriber|relay]",
	  "entries, verdicts, hit counters", false, list_usage },
	{ "test", do_test, "SRC DST [PORT]",
	  "verdict and the rule that decided it (exit 3: blocked)", false, test_usage },
	{ "port", do_port, "add|del|list [PORT...]",
	  "blocked TCP destination ports", false, port_usage },
	{ "action", do_action,
	  "drop|reject|monitor | limit RATE/PERIOD [--burst N] [--then drop|reject] [--quarantine DURATION]",
	  "what happens to a blocked packet", false, action_usage },
	{ "quarantine", do_quarantine, "[list] | release ADDR|PREFIX|--all",
	  "sources action limit has put in quarantine", false, quarantine_usage },
	{ "stats", do_stats, "[--interval SEC] [--prometheus]",
	  "counters, summed over CPUs", false, stats_usage },
	{ "top", do_top, "[-n N]",
	  "subscribers with the most blocked attempts", false, top_usage },
	{ "monitor", do_monitor, "[--count N]",
	  "stream of blocked-attempt events", false, monitor_usage },
	{ "apply", do_apply, "[--dry-run] FILE|-",
	  "make the running policy a file's, in one step", false, apply_usage },
	{ "save", do_save, "[FILE]",
	  "the running policy, as a file apply takes", false, save_usage },
	{ "watch", do_watch,
	  "PATTERN... [attach options] | --config FILE",
	  "attach to matching interfaces as they appear", false, watch_usage },
	{ "help", do_help, "[COMMAND]", "this help, or a command's", false, NULL },
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage_cmd(FILE *f, const struct cmd *c)
{
	fprintf(f, "Usage: op25bctl [OPTIONS] %s%s%s\n  %s\n", c->name,
		c->args[0] ? " " : "", c->args, c->summary);
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: op25bctl [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Options:\n"
		"  -j, --json          JSON output\n"
		"  -p, --pretty        indented JSON (implies -j)\n"
		"  -v, --verbose       debug messages, libbpf and verifier logs\n"
		"  -q, --quiet         no summaries on stderr\n"
		"      --pin-dir DIR   pin directory (default %s)\n"
		"      --capacity N    prefixes per table, when the maps are made\n"
		"                      (default %u)\n"
		"  -n, --netns NAME    network namespace /run/netns/NAME (as ip -n)\n"
		"  -w, --wait SEC      wait at most SEC for another op25bctl (default %u)\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n"
		"\n"
		"Commands:\n",
		OP25B_PIN_DIR_DEFAULT, OP25B_CAPACITY_DEFAULT, OP25B_WAIT_DEFAULT);
	for (i = 0; i < N_CMDS; i++)
		if (cmds[i].args[0])
			fprintf(f, "  %-7s %s\n", cmds[i].name, cmds[i].args);
		else
			fprintf(f, "  %s\n", cmds[i].name);
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
	const struct cmd *c;

	if (!argc) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc > 1) {
		p_err("help: unexpected argument '%s'", argv[1]);
		return EXIT_USAGE;
	}
	c = cmd_find(argv[0]);
	if (!c)
		return EXIT_USAGE;
	if (c->help)
		fputs(c->help, stdout);
	else
		usage_cmd(stdout, c);
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

/* "CMD -h" / "CMD --help" anywhere before a "--". */
static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

enum { OPT_PIN_DIR = 256, OPT_CAPACITY };

static const struct option long_opts[] = {
	{ "json",	no_argument,		NULL, 'j' },
	{ "pretty",	no_argument,		NULL, 'p' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "pin-dir",	required_argument,	NULL, OPT_PIN_DIR },
	{ "capacity",	required_argument,	NULL, OPT_CAPACITY },
	{ "netns",	required_argument,	NULL, 'n' },
	{ "wait",	required_argument,	NULL, 'w' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, 'V' },
	{ 0 }
};

/*
 * Options up to the command only ('+': stop at the first non-option), so
 * "deny subscriber -f FILE" keeps its -f. Returns -1 to go on, or an
 * exit code.
 */
static int parse_global(int argc, char **argv)
{
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+jpvqhVn:w:", long_opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'p':
			g.pretty = true;
			/* fallthrough */
		case 'j':
			g.json = true;
			break;
		case 'v':
			g.verbose = true;
			break;
		case 'q':
			g.quiet = true;
			break;
		case OPT_PIN_DIR:
			g.pin_dir = optarg;
			break;
		case 'n':
			g.netns = optarg;
			break;
		case 'w': {
			unsigned long n;

			if (strcmp(optarg, "0") &&
			    count_parse(optarg, 86400, &n)) {
				p_err("bad wait '%s': must be seconds 0-86400",
				      optarg);
				return EXIT_USAGE;
			}
			g.wait = strcmp(optarg, "0") ? (unsigned int)n : 0;
			break;
		}
		case OPT_CAPACITY: {
			unsigned long n;

			if (count_parse(optarg, OP25B_CAPACITY_MAX, &n) ||
			    n < OP25B_CAPACITY_MIN) {
				p_err("bad capacity '%s': must be a number %u-%u",
				      optarg, OP25B_CAPACITY_MIN,
				      OP25B_CAPACITY_MAX);
				return EXIT_USAGE;
			}
			g.capacity = (__u32)n;
			break;
		}
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			return do_version();
		default:
			if (optopt == OPT_PIN_DIR)
				p_err("option '--pin-dir' needs a directory");
			else if (optopt == OPT_CAPACITY)
				p_err("option '--capacity' needs a number");
			else if (optopt == 'n')
				p_err("option '-n' needs a network namespace name");
			else if (optopt == 'w')
				p_err("option '-w' needs seconds");
			else if (optopt)
				p_err("unknown option '-%c' (try 'op25bctl help')",
				      optopt);
			else
				p_err("unknown option '%s' (try 'op25bctl help')",
				      argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
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
	if (c->fn != do_help && wants_help(argc - 1, argv + 1)) {
		if (c->help)
			fputs(c->help, stdout);
		else
			usage_cmd(stdout, c);
		return EXIT_OK;
	}
	rc = c->fn(argc - 1, argv + 1);
	output_end();
	/* Exit codes are an interface: never errno, never 255. */
	if (rc < EXIT_OK || rc > EXIT_BLOCKED)
		rc = EXIT_RUNTIME;
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	rc = parse_global(argc, argv);
	if (rc >= 0)
		return rc;
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (g.netns) {
		rc = netns_enter(g.netns);
		if (rc)
			return rc;
	}
	libbpf_setup();
	return run(argc - optind, argv + optind);
}
