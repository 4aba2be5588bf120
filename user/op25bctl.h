/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* op25bctl internals: what the per-concern files share. */
#ifndef OP25BCTL_H
#define OP25BCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/types.h>
#include "op25b.h"
#include "engine.h"
#include "grow.h"

#ifndef OP25B_VERSION
#define OP25B_VERSION "0.2.0"
#endif

/* Exit codes are part of the interface (doc/DESIGN.md). */
enum {
	EXIT_OK		= 0,
	EXIT_RUNTIME	= 1,	/* a runtime failure */
	EXIT_USAGE	= 2,	/* bad usage or bad input; nothing was changed */
	EXIT_BLOCKED	= 3,	/* 'test' answered "blocked" */
};

struct global_opts {
	bool json;
	bool pretty;
	bool verbose;
	bool quiet;
	const char *pin_dir;
	__u32 capacity;		/* --capacity: prefixes per table, 0 if not given */
	__u32 offenders;	/* --offenders: offender slots, 0 if not given */
	__u32 limiter;		/* --limiter: limiter entries, 0 if not given */
	const char *netns;	/* -n/--netns: the network namespace to enter */
	unsigned int wait;	/* -w/--wait: seconds to wait for the lock */
};

/* Where apply keeps the last good policy of the default pin dir. */
#define OP25B_LAST_GOOD_DEFAULT	"/var/lib/op25b/last-good.conf"

/* How long a command waits for another's lock on the pin dir, by default. */
#define OP25B_WAIT_DEFAULT	30
extern struct global_opts g;

/* ---- input.c: what an operator gives, taken safely ---- */

/*
 * s as it may go into an error line: bytes that are not printable ASCII
 * escaped as \xNN, cut with "..." to fit len (TOKEN_QUOTE_LEN is enough).
 */
#define TOKEN_QUOTE_LEN	64
const char *token_quote(const char *s, char *buf, size_t len);
/*
 * Open a file to read input from: a regular file only, opened without
 * blocking (a FIFO nobody writes, a device, a directory are refused at
 * once). NULL with the reason in why.
 */
FILE *input_open(const char *path, char *why, size_t len);

/* ---- output.c: errors, summaries, and text/JSON from one call ---- */

/*
 * One line on stderr, "op25bctl: <message>"; with -j a JSON object
 * {"error":"<message>"} on stderr instead. Never on stdout.
 */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The one way a check below the commands reports what is wrong: into why
 * (len bytes) when its caller keeps it, to say it with where (a file's
 * FILE:LINE), else at once as p_err.
 */
void p_say(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A summary ("3/3 prefixes added") on stderr, unless -q. Never in JSON. */
void p_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What a libbpf or negative errno error code means (one static buffer). */
const char *errstr(int err);
/* "-h" or "--help", wherever a command meets it. */
bool is_help(const char *s);

/* ---- args.c: a command's words ---- */

/*
 * An option a command takes: its table ends with a NULL name. The table
 * is the one source of the option: args_next reads it, and the command's
 * help shows it (in the usage line and in the Options: block).
 */
struct opt {
	const char *name;	/* "--count"; a short-only one: "-n" */
	char short_name;	/* 'n' for -n, 0 for none */
	int id;			/* what args_next returns for it, > 0 */
	const char *arg;	/* its value in help, "N"; NULL: takes none */
	const char *what;	/* the value, for "needs ...": "a number" */
	const char *help;	/* one line for the Options: block */
};

/*
 * An option table, its NULL end written once (as FORMS does for forms):
 * every entry ends with a comma, and a table cannot be left unended.
 */
#define OPT_TABLE(...)	{ __VA_ARGS__ { NULL } }

enum {
	ARG_END = 0,		/* no word left */
	ARG_POSITIONAL = -1,	/* *val is a word that is not an option */
	ARG_ERROR = -2,		/* printed: an unknown option, a missing value */
};

/* Option ids args_next keeps account of (a command has a few). */
#define ARGS_IDS	16

struct args {
	int argc;
	char **argv;
	int i;
	bool rest;		/* past "--": every word is positional */
	const char *cmd;	/* names the command in errors; NULL: global */
	const char *cluster;	/* the rest of "-jq" after -j, for -q */
	const char **pos;	/* args_opt puts positional words here */
	int npos, maxpos;
	char *why;		/* if set, errors go here, not to p_err */
	size_t whylen;
	unsigned int seen;	/* 1 << id: the options met */
	const char *val[ARGS_IDS];	/* by id: the last value given */
};

#define ARGS_INIT(cmd_, argc_, argv_)	\
	{ .argc = (argc_), .argv = (argv_), .cmd = (cmd_) }
/* For args_opt: at most max_ positional words, into pos_. */
#define ARGS_POS(cmd_, argc_, argv_, pos_, max_)		\
	{ .argc = (argc_), .argv = (argv_), .cmd = (cmd_),	\
	  .pos = (pos_), .maxpos = (max_) }

/*
 * The next word: an option's id (with *val, when it takes one), or ARG_*.
 * With a NULL cmd, the global options' ways: "-jq" bundled, a long
 * option by a prefix of one alone ("--pin" for --pin-dir), and errors
 * in the words getopt's users know.
 */
int args_next(struct args *a, const struct opt *opts, const char **val);
/*
 * The loop every command has: the next option's id, or ARG_END, or
 * ARG_ERROR (said). Positional words go to a->pos; one past a->maxpos
 * is "CMD: unexpected argument 'X'".
 */
int args_opt(struct args *a, const struct opt *opts, const char **val);
/*
 * Every word, for a command that wants its options' values only, not
 * their order: then args_given and a->val[id]. EXIT_USAGE, said, or 0.
 */
int args_all(struct args *a, const struct opt *opts);
/* x among the n values of v. */
static inline bool u32_in(const __u32 *v, size_t n, __u32 x)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static inline bool args_given(const struct args *a, int id)
{
	return a->seen & (1u << id);
}
/* No positional word given: "CMD: missing WHAT" said, and true. */
bool args_missing(const struct args *a, const char *what);
/* -h or --help among the words before any "--". */
bool args_want_help(int argc, char **argv);

/* One form of a command, as its usage line shows it. */
struct usage {
	const char *words;	/* its words: "IFACE", "add|del PORT..." */
	const struct opt *opts;	/* shown after them, [--hook xdp|tc] */
};

/* A command's forms, the table's NULL end written once. */
#define FORMS(...)	((const struct usage[]){ __VA_ARGS__, { NULL } })

/*
 * A command's full help: usage lines and an Options: block made from its
 * option tables, and between them the prose, which alone is written here.
 */
struct cmd_help {
	const char *args;	/* the one form's words, when forms is NULL */
	const struct usage *forms;	/* or its forms, up to NULL words */
	/* every option it takes, for Options:; NULL: its forms' tables */
	const struct opt *opts;
	const char *text;	/* what it does, its positional words */
};

/* "Usage: op25bctl CMD ...", the prose and the Options: block. */
void help_print(FILE *f, const char *cmd, const struct cmd_help *h);
/* "  CMD  " and its forms, " | " between: its line in the command list. */
void help_line(FILE *f, const char *cmd, const struct cmd_help *h);
/* "  -f, --file FILE|-   what it is", one line per option. */
void opts_print(FILE *f, const struct opt *opts);
/* Only with -v, on stderr. */
void p_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * iproute2-style printers: in text mode print fmt (printf-style, one value)
 * when PRINT_FP is in t; in JSON mode emit "key": value when PRINT_JSON is
 * in t (key NULL inside arrays). Objects and arrays nest; text mode ignores
 * them. output_end() closes the top-level JSON value with a newline.
 */
enum output_type {
	PRINT_FP	= 1,
	PRINT_JSON	= 2,
	PRINT_ANY	= 3,
};
void open_json_object(const char *key);
void close_json_object(void);
void open_json_array(const char *key);
void close_json_array(void);
void print_string(enum output_type t, const char *key, const char *fmt,
		  const char *value);
void print_uint(enum output_type t, const char *key, const char *fmt,
		unsigned long long value);
void print_bool(enum output_type t, const char *key, const char *fmt,
		bool value);
void print_null(enum output_type t, const char *key, const char *fmt);
void print_nl(void);		/* newline in text mode, nothing in JSON */
void output_end(void);		/* JSON: newline after the top-level value */
void output_list_end(void);	/* a listing's: its array closed, then output_end */
/* a dry run's step: "+ TEXT  # note" and {"op": OP, KEY: VALUE} */
void plan_print(const char *sign, const char *op, const char *key,
		const char *fmt, const char *value, const char *note);

/* ---- pin.c: pin directory, lock, loader, pinned maps ---- */

/* Pinned map fds. */
struct op25b_maps {
	struct engine_fds pol;	/* the policy: snapshots, trees, rules */
	int stats;
	int attach;
	int offenders;
	int limiter;		/* action limit's sources */
	int sweeper;		/* the timer that ends quarantines */
	int events;		/* the event log */
	int sessions;		/* the session layer's owners */
	int ifstats;		/* counters per attachment; -1: not made yet */
	int sessions_ended;	/* sessions just ended; -1: not made yet */
	int cgroups;		/* what op25bctl attached to cgroups */
	int sockev;		/* the socket hooks' event log */
	int culprits;		/* refused connects by uid and cgroup */
};

/* What a pinned map takes in the kernel: bytes_memlock, as bpftool says. */
struct pin_memory {
	char name[64];		/* its pin name */
	unsigned long long bytes;
};
/* Each map pinned in the pin dir, by name, up to max; how many there are. */
size_t pins_memory(struct pin_memory *out, size_t max);

/* Route libbpf's messages: warnings one level down, debug with -v. */
void libbpf_setup(void);
/*
 * Nothing is pinned: a pin dir that could never hold pins is bad usage,
 * one that merely holds nothing yet is not (pindir.c).
 */
int pin_dir_check(void);
/*
 * Make sure g.pin_dir exists on a bpffs, mounting bpffs on /sys/fs/bpf and
 * creating the directory when create is set. EXIT_USAGE when the directory
 * or its parent is missing and cannot be made. Returns an EXIT_* code,
 * having printed the error.
 */
int pin_dir_prepare(bool create);
/* flock(LOCK_EX) on the pin dir, held until the process exits. */
int pin_lock(void);
/* pin_dir_prepare(create), then pin_lock() */
int pin_dir_lock(bool create);
/* flock(LOCK_SH): readers see no writer at work. */
int pin_lock_shared(void);
/* Let go of the lock before exiting: a long-running command (watch). */
void pin_unlock(void);
/*
 * Open the pinned maps into m. With create, load the embedded object first
 * (creating and pinning every map that is not pinned yet) so that policy
 * can be set before anything is attached. Returns an EXIT_* code.
 */
int maps_open(struct op25b_maps *m, bool create);
void maps_close(struct op25b_maps *m);
/*
 * What a command does with the pinned state, and so how it opens it: the
 * one way in for every command that reads or changes the maps.
 */
enum pins_access {
	PINS_PEEK,	/* counters, offenders, events: no lock, nothing made */
	PINS_READ,	/* a shared lock: no writer at work while it reads */
	PINS_CHANGE,	/* the exclusive lock, on maps that exist */
	PINS_MAKE,	/* the exclusive lock; pin dir and maps made if missing */
};
/* Prepare, lock and open, as how says. Returns an EXIT_* code. */
int pins_open(struct op25b_maps *m, enum pins_access how);
/* The pin dir whose policy map is one of ids (another op25b's). */
bool pin_dir_of_maps(const __u32 *ids, __u32 n, char *out, size_t len);
/*
 * migrate: load the embedded object once so that every map not pinned yet
 * under g.pin_dir is made and pinned beside those carried over, which are
 * reused, then let go.
 */
int pins_create_beside(void);
/* The layout word of the engine map pinned under dir; 0 for none. */
__u32 layout_of(const char *dir);
/* st_ino of this process's network namespace, 0 if unknown. */
__u64 netns_ino_now(void);
/* Is there a policy pinned under g.pin_dir (set up, or half set up)? */
bool pins_present(void);
struct bpf_map_info;
/* The map pinned at path: false, and info zeroed, when there is none. */
bool pinned_map_info(const char *path, struct bpf_map_info *info);

struct op25b_bpf;
/*
 * Open and load the embedded skeleton with every shared map reused from
 * (or pinned to) g.pin_dir; l3 selects parsing from the IP header, egress
 * tells a tc egress instance to send its RSTs back into the receive path.
 * Returns an EXIT_* code; on success *skel is loaded, not attached.
 */
int bpf_load(struct op25b_bpf **skel, bool l3, bool egress);
/* The same, for an XDP attachment that chains the program in chain_slot. */
int bpf_load_chained(struct op25b_bpf **skel, bool l3, bool egress,
		     __u32 chain_slot);
/* The same, with the socket hooks' programs (connect4, connect6) alone. */
int bpf_load_sock(struct op25b_bpf **skel);
/* an opened skeleton's XDP program made ready for libxdp to load (dispatcher.c) */
int bpf_prepare_xdp(struct op25b_bpf *skel, bool l3);

/* ---- policy.c: the engine over the pinned maps ---- */

/*
 * Open the pinned policy for reading (shared lock) or for a change
 * (exclusive lock, maps created when missing, engine_begin done). The
 * caller closes with policy_close(), which aborts an uncommitted change.
 */
int policy_open_read(struct op25b_maps *m, struct engine *e);
int policy_open_write(struct op25b_maps *m, struct engine *e);
/*
 * The live policy under the lock how says (what the two above do first),
 * writable only with PINS_MAKE: PINS_CHANGE is for a writer of other maps
 * that reads the policy, quarantine release.
 */
int policy_open(struct op25b_maps *m, struct engine *e, enum pins_access how);
/* engine_commit, with the error printed. */
int policy_commit(struct engine *e);
void policy_close(struct op25b_maps *m, struct engine *e);

/* ---- prefix.c: prefixes and prefix lists ---- */

/*
 * Parse "10.0.0.0/8", "2001:db8::/32", or a bare address (a host prefix).
 * Host bits must be clear. On error returns -1 with a reason in why
 * ("prefix length must be 0-32").
 */
int prefix_parse(const char *s, struct prefix *p, char *why, size_t whylen);
void prefix_format(const struct prefix *p, char *buf, size_t len);
/* The order of list and save: family, then address, then length. */
int prefix_cmp(const struct prefix *a, const struct prefix *b);
/* Does p cover addr (of p's family)? */
bool prefix_contains(const struct prefix *p, const __u8 *addr);
/*
 * Collect the prefixes of argv[0..argc) and of file ("-" is stdin; NULL for
 * none; one or more per line, '#' starts a comment). All are validated
 * before returning; on the first bad one print "bad prefix 'X': why" (with
 * FILE:LINE for file input) and return EXIT_USAGE. At least one prefix is
 * required. *out is malloc'd.
 */
int prefixes_collect(int argc, char **argv, const char *file,
		     struct prefix **out, size_t *n);
/*
 * An allow of a /0 in table (every address exempt, or every destination a
 * relay): only with force, and said out loud; EXIT_USAGE printed if not.
 */
int allow_all_check(const char *table, const struct prefix *v, size_t n,
		    bool force, char *why, size_t len);

/* ---- conf.c: op25b.conf, the policy of record ---- */

#define CONF_ATTACH_ARGS	8

struct conf_rule {
	__u32 table;		/* enum op25b_table */
	__u32 verdict;
	struct prefix p;
	const char *file;
	size_t line;
};

/* allow uid|gid|cgroup WORD: resolved when applied (ident.c). */
struct conf_ident {
	__u32 kind;		/* enum op25b_ident_kind */
	const char *word;
	const char *file;
	size_t line;
};

struct conf_attach {
	char *argv[CONF_ATTACH_ARGS];	/* IFACE and its options */
	int argc;
	const char *file;
	size_t line;
};

struct conf {
	struct conf_rule *rules;	/* once each, sorted by table, prefix */
	size_t nrules, rules_cap;
	__u64 ports[OP25B_PORT_WORDS];	/* {25} unless 'port' says */
	bool ports_set;
	/* a port statement blocking 587 or 465 without --force, if any */
	const char *sub_file;
	size_t sub_line;
	__u32 sub_port;
	__u32 action;			/* drop unless 'action' says */
	struct op25b_limit limit;	/* action limit's terms */
	bool action_set;
	const char *action_file;
	size_t action_line;
	struct conf_attach *att;
	size_t natt, att_cap;
	struct conf_attach *watch;	/* watch statements, for watch --config */
	size_t nwatch, watch_cap;
	struct conf_ident *idents;	/* allow uid|gid|cgroup */
	size_t nidents, idents_cap;
	char **names;			/* strings the above point into */
	size_t nnames;
	int errors;
	unsigned int files_read;	/* against CONF_FILES_MAX */
	size_t bytes_read;		/* against CONF_BYTES_MAX */
};


/*
 * What one load reads at most, its includes counted (op25b.conf(5)): the
 * depth of includes is bounded too, but a file that includes the next ten
 * times on each of 8 levels stays within any depth.
 */
#define CONF_FILES_MAX	1000
#define CONF_BYTES_MAX	(1u << 30)	/* a million prefixes is ~20 MB */

/*
 * Read path ("-": stdin) and what it includes. Every error is printed as
 * FILE:LINE: message; EXIT_USAGE when there was any.
 */
int conf_load(const char *path, struct conf *c);
void conf_free(struct conf *c);

/* ---- names.c: every enumerated word, spelled once ---- */

/* The word of a value ("unknown" for none); the value of a word, -1 for none. */
int table_parse(const char *s);	/* table_name(): engine.h */
const char *verdict_name(__u32 v);
int verdict_parse(const char *s);	/* allow or deny */
const char *action_name(__u32 action);
int action_parse(const char *s);
const char *layer_name(__u32 l);
int layer_parse(const char *s);
const char *limit_by_name(__u32 by);	/* uid or cgroup */
int limit_by_parse(const char *s);
/* uid, gid, cgroup (enum op25b_ident_kind, OP25B_ID_PENDING ignored) */
const char *ident_kind_name(__u32 k);
int ident_kind_parse(const char *s);
/* what a change did to an entry (enum engine_change), for -j answers */
const char *change_name(__u32 ch);
/* an event's kind and its segment's class (op25b.h), "unknown" for none */
const char *event_kind_name(__u32 kind);
const char *event_class_name(__u32 cls);

/* ---- config.c: action and blocked ports of a snapshot ---- */

#define OP25B_PORT_MAX	(OP25B_PORT_WORDS * 64 - 1)


#define NSEC_PER_SEC	1000000000ULL

/*
 * The words of an action, as the CLI and op25b.conf say them: "drop",
 * "reject", "monitor", or "limit RATE/PERIOD [--burst N] [--then
 * drop|reject] [--quarantine DURATION] [--ipv6-prefix LEN]". -1 with one
 * line in why on error, nothing set.
 */
int action_words_parse(int argc, char **argv, __u32 *action,
		       struct op25b_limit *l, char *why, size_t whylen);
/* action limit's options, for that and for its help */
extern const struct opt limit_opts[];
/* cfg's action in those words, every limit term given: what save writes. */
#define ACTION_TEXT_LEN	128
void action_format(const struct op25b_config *cfg, char *buf, size_t len);
/* A limit's rate as given: "20/min". */
void limit_rate_format(const struct op25b_limit *l, char *buf, size_t len);
/* The same action (and, for limit, the same terms)? */
bool action_equal(const struct op25b_config *a, const struct op25b_config *b);
/* "1h", "30min", "90s", "2d", "1500ms": nanoseconds; -1 when not one. */
int duration_parse(const char *s, __u64 *ns);
/* A port 1-65535, decimal digits only. -1 when s is not one. */
int port_parse(const char *s, __u32 *port);
bool config_port_blocked(const struct op25b_config *cfg, __u32 port);
/*
 * Submission stays open (RFC 5068, RFC 8314): -1 with the reason in why
 * for a port that subscribers send mail through once 25 is blocked.
 */
#define OP25B_PORT_SUBMISSION	587
#define OP25B_PORT_SUBMISSIONS	465
int submission_port_check(__u32 port, char *why, size_t len);

/* ---- top.c: formatting shared with monitor.c ---- */

/* A count 1-max, decimal digits only. -1 when s is not one. */
/*
 * The one number parser: the first n bytes of s, decimal digits only,
 * min to max. -1 otherwise, *out untouched.
 */
int number_parse(const char *s, size_t n, __u64 min, __u64 max, __u64 *out);
/* A whole string, 1 to max. */
int count_parse(const char *s, unsigned long max, unsigned long *n);
/* family 4 or 6 (struct op25b_src, op25b_event), address bytes. */
void addr_format(__u8 family, const __u8 *addr, char *buf, size_t len);
/* "10.0.0.1:25", "[2001:db8::1]:25" */
void endpoint_format(__u8 family, const __u8 *addr, __u16 port, char *buf,
		     size_t len);
/* The interface's name in this network namespace, else its index. */
void ifindex_format(__u32 ifindex, char *buf, size_t len);
/* CLOCK_REALTIME ns as RFC 3339 UTC: "2026-12-01T23:57:12.123Z". */
void rfc3339_format(__u64 realtime_ns, bool millis, char *buf, size_t len);
__u64 realtime_now(void);
/* A datapath time (CLOCK_MONOTONIC ns) on the wall clock, and as text. */
__u64 dp_time_realtime(__u64 ns);
void dp_time_format(__u64 ns, bool millis, char *buf, size_t len);
/* Now, RFC 3339 UTC with milliseconds. */
void wall_time_format(char *buf, size_t len);

/* ---- journal.c: the systemd journal, loaded when asked for ---- */

struct iovec;
/*
 * 0 when the journal can be written and read; else -errno, and why in
 * why (built without it, or libsystemd not found).
 */
int journal_open(char *why, size_t len);
/* sd_journal_sendv, or -ENOSYS without the journal. */
int journal_sendv(const struct iovec *iov, int n);
typedef void (*journal_field_fn)(void *ctx, const void *data, size_t len);
typedef void (*journal_entry_fn)(void *ctx);
/*
 * Every entry of the local journal that matches match (FIELD=VALUE):
 * each of its fields to field, then the entry's end to entry. -errno.
 */
int journal_read(const char *match, journal_field_fn field,
		 journal_entry_fn entry, void *ctx);

/* ---- evlog.c: a reader of the event log ---- */

/*
 * One reader's view of the event log: the map mapped read-only and this
 * reader's own cursor per CPU (op25b.h, "The event log").
 */
struct evlog {
	const char *base;
	size_t len;
	size_t esize;		/* bytes a record: the packet or socket hooks' */
	int ncpu;
	__u64 *next;		/* per CPU: the sequence number to read next */
	char *batch;
	__u64 lost;		/* events overwritten before this reader came */
};
/* Nonzero from the callback stops evlog_read, which returns it. */
typedef int (*evlog_fn)(void *ctx, const struct op25b_event *ev);
/*
 * Map the log behind map_fd, of records of esize bytes (each begins with
 * its seq and ts_ns); with backlog, from the oldest event still there,
 * else from the next one. A negative errno on failure; -ENOENT for no
 * map (map_fd < 0), which reads as a log with nothing in it.
 */
int evlog_open_of(struct evlog *l, int map_fd, bool backlog, size_t esize);
/* The packet hooks' log. */
int evlog_open(struct evlog *l, int map_fd, bool backlog);
/* Every event written since the last call, in time order: how many. */
size_t evlog_collect(struct evlog *l);
/* The same, each to fn. */
int evlog_read(struct evlog *l, evlog_fn fn, void *ctx);
void evlog_close(struct evlog *l);
/* How often a reader looks: an event is out within a second of it. */
#define EVLOG_POLL_MS	200

/* ---- sockev.c: the socket hooks' events and their culprits ---- */

/* A reader of the socket hooks' log: struct evlog of their records. */
typedef int (*sklog_fn)(void *ctx, const struct op25b_sock_event *ev);
int sklog_open(struct evlog *l, int map_fd, bool backlog);
int sklog_read(struct evlog *l, sklog_fn fn, void *ctx);
/* pins_open (PINS_PEEK), then evlog_open and sklog_open */
int event_logs_open(struct op25b_maps *m, struct evlog *l, struct evlog *sl,
		    bool backlog);

/* An event with its names: the culprit as monitor and log say it. */
struct sock_view {
	const struct op25b_sock_event *ev;
	char time[40];
	char saddr[46], daddr[46];
	char comm[17];
	char user[64], group[64];
	char cgroup[OP25B_CGROUP_PATH];
	bool has_cgroup;
	char exe[4096];			/* "" when it could not be known */
	const char *hook, *action;
};
void sock_view(const struct op25b_sock_event *ev, struct sock_view *v);
void sock_event_print(const struct sock_view *v);

/* ---- event.c: what an event says, for its readers ---- */

struct session_entry;
/* What resolving an event needs; sessions are cached for a second. */
struct event_ctx {
	int attach_fd, sessions_fd, ended_fd, engine_fd;
	__u64 netns_ino;		/* this process's namespace */
	struct session_entry *sess;	/* registered, then just ended */
	size_t nsess;
	__u64 loaded_ns;		/* CLOCK_REALTIME of the sessions' read */
	__u32 session_next;		/* the engine's, at that read */
};
/* An event with its names: the same words in every output. */
struct event_view {
	const struct op25b_event *ev;
	__u64 realtime_ns;
	char time[40];			/* RFC 3339 UTC, milliseconds */
	char iface[16 + 8];
	char mac[18];			/* "" on an L3 device */
	char saddr[46], daddr[46];
	char hook[16];			/* "xdp", "tc ingress", "" (hook_label) */
	const char *kind;		/* "blocked", "quarantined", ... */
	const char *action, *cls;
	char session[OP25B_SESSION_NAME];
	char user[64];
	char calling[32];
};
void event_ctx_init(struct event_ctx *x, const struct op25b_maps *m);
void event_ctx_free(struct event_ctx *x);
void event_view(struct event_ctx *x, const struct op25b_event *ev,
		struct event_view *v);
/* One line of text, or one JSON object (a JSON line with output_end). */
void event_print(const struct event_view *v);
/*
 * The name of ifindex in the network namespace of inode netns_ino, as
 * the kernel says it now; else its attachment record's (hook 0: any of
 * the device's); else the number.
 */
void iface_name_of(int attach_fd, __u64 netns_ino, __u32 ifindex,
		   __u32 hook, char *buf, size_t len);

/* ---- ifstats.c: counters per attachment ---- */

struct ifstat_row {
	struct op25b_attach_key key;	/* hook 0: "other" */
	char iface[16 + 8];
	char hook[16];
	__u64 blocked, monitored, passed;
};
/* Summed over CPUs, named, sorted by name ("other" last); none: *n 0. */
int ifstats_read(const struct op25b_maps *m, struct ifstat_row **out,
		 size_t *n);
/* Give back the slots of attachments no record names any more. */
void ifstats_sweep(const struct op25b_maps *m);

/* ---- command handlers: argv[0] is the first argument after the verb ---- */

/* ---- attach.c, for apply and save: attachments as statements ---- */

struct attach_want {
	char ifname[16];
	int ifindex;
	__u32 hook;		/* enum op25b_hook */
	__u32 xdp_mode;		/* XDP_FLAGS_*_MODE, 0: any */
	bool l3;
	bool force;
};

/*
 * 'attach' arguments as a file states them: checked like the command's,
 * the interface must exist. Errors name where (FILE:LINE).
 */
int attach_want_parse(int argc, char **argv, struct attach_want *w,
		      char *why, size_t len);
/*
 * Make this namespace's attachments exactly w[0..n): attach what is not
 * there yet (replacing in place where options changed), then detach what
 * op25b attached and w does not name. With dry_run, print the plan only
 * ("+ attach ...", "- attach ...") and return how many lines in *changes.
 */
int attach_sync(const struct attach_want *w, size_t n, bool dry_run,
		size_t *changes);
/* 'attach' statements for what is attached in this namespace. */
int attach_save(FILE *f);
/* Detach and forget what layer's owner attached; how many went. */
size_t attach_drop_owned(enum op25b_layer layer, __u32 owner);

/* ---- policy.c: the session layer's registry ---- */

struct session_entry {
	struct op25b_session_key key;
	struct op25b_session s;
	__u64 ended;		/* CLOCK_REALTIME ns; 0: registered now */
};
/* Every registered session; *out is the caller's to free. */
int sessions_load(int map_fd, struct session_entry **out, size_t *n);
/*
 * Those too that ended within OP25B_SESSION_GRACE_NS (ended_fd, -1 for
 * none), after the registered ones; one ended and registered again
 * (its id) counts as registered.
 */
int sessions_load_recent(int map_fd, int ended_fd, struct session_entry **out,
			 size_t *n);
/* session down: s, which ended now, kept for the grace period. */
void session_ended_keep(int ended_fd, const struct op25b_session_key *key,
			const struct op25b_session *s);
/* The name of session id among v, NULL when none has it. */
const char *session_name_of(const struct session_entry *v, size_t n,
			    __u32 id);
/* "10.0.0.1/32": a session's prefix as the CLI writes it. */
void session_prefix_format(const struct op25b_session_prefix *sp, char *buf,
			   size_t len);
/* After a writer died: drop session rules of unregistered sessions. */
int session_sweep(const struct op25b_maps *m, struct engine *e);

/* ---- cgroupfs.c: the cgroup v2 hierarchy ---- */

/* Where cgroup v2 is mounted, from /proc/self/mountinfo (never assumed). */
int cgroup2_root(char *buf, size_t len, char *why, size_t wlen);
/*
 * A cgroup path below the v2 root in canonical form (no leading '/', ""
 * for the root); EXIT_USAGE, said, when it cannot be one.
 */
int cgroup_path_norm(const char *in, char *out, size_t len, char *why,
		     size_t wlen);
/* The kernel's id of the cgroup at rel; -ENOENT when there is none. */
int cgroup_id_of(const char *rel, __u64 *id);
/* An fd of its directory, or -errno. */
int cgroup_open(const char *rel);
/* Its path below the root while it exists; false when not known. */
bool cgroup_path_of(__u64 id, char *buf, size_t len);
/* "/" for the root, else rel. */
const char *cgroup_shown(const char *rel);

/* ---- ident.c: who may connect (allow uid|gid|cgroup) ---- */

/* An identity as a statement names it, resolved to what the kernel knows. */
struct ident_want {
	__u32 kind;		/* enum op25b_ident_kind, | PENDING: waits */
	__u64 id;
	char name[OP25B_IDENT_NAME];	/* as given; "" for a number */
};
/*
 * uid|gid NAME|ID, cgroup PATH: a name is resolved now, a number kept; a
 * name that resolves to nothing (yet) waits. EXIT_USAGE, said, if bad.
 */
int ident_resolve(__u32 kind, const char *word, struct ident_want *w,
		  char *why, size_t len);
bool ident_pending(__u32 kind);
void ident_format(__u32 kind, __u64 id, const char *name, char *buf,
		  size_t len);
/* "allow uid postfix": what save writes for it. */
void ident_statement(const struct engine_ident *r, char *buf, size_t len);
/* allow|deny|del uid|gid|cgroup WORD...: the table commands' other half. */
int ident_change(const char *verb, __u32 verdict, int argc, char **argv);
int ident_flush(int kind);
void idents_sort(struct engine_ident *v, size_t n);
/* list's rows (JSON objects in the caller's array). */
void idents_print(const struct engine_ident *v, size_t n);
/*
 * apply: the file layer's identities (live) made want's in the change
 * under way (e), or the plan printed (print); *changes counted. -1: e->err.
 */
int idents_diff(struct engine *e, const struct engine_ident *live,
		size_t nlive, const struct ident_want *want, size_t n,
		size_t *changes, bool print);
void idents_save(FILE *f, struct engine_ident *v, size_t n);
/* watch: names that resolve otherwise now, followed. */
int idents_refresh(size_t *done);

/* ---- hook_cgroup.c, for status, apply, save and watch ---- */

/* status's cgroups section. */
void cg_status(void);
/* 'attach --cgroup' statements of the file layer. */
int cg_save(FILE *f);
/* The file layer's cgroup attachments made want[0..n)'s (apply). */
int cg_sync(char (*want)[OP25B_CGROUP_PATH], size_t n, bool dry_run,
	    size_t *changes);
/* watch: attach the records whose path names a cgroup again. */
int cg_resolve_waiting(size_t *done);

/* Each command's full help, for 'help CMD' and 'CMD --help'. */
/*
 * The commands, in the order help lists them: X(name, exact), exact for a
 * destructive verb never taken by a prefix. Each has do_NAME (argv[0] is
 * the first word after the verb) and NAME_help, in the file of its concern;
 * main.c's table is made from this list, so a command is added here once.
 */
#define OP25B_COMMANDS(X)						\
	X(attach, false) X(detach, false) X(status, false)		\
	X(deny, false) X(allow, false) X(del, false) X(flush, true)	\
	X(list, false) X(test, false) X(port, false) X(action, false)	\
	X(quarantine, false) X(stats, false) X(top, false)		\
	X(monitor, false) X(log, false) X(history, false)		\
	X(report, false) X(apply, false) X(save, false) X(watch, false) \
	X(session, false) X(migrate, true)

#define OP25B_COMMAND_DECL(name, exact)					\
	int do_##name(int argc, char **argv);				\
	extern const struct cmd_help name##_help;
OP25B_COMMANDS(OP25B_COMMAND_DECL)

/* A watch statement's words, checked as watch would: EXIT_USAGE, why said. */
int watch_check(int argc, char **argv, char *why, size_t len);
/* metrics.c: the gauges of stats --prometheus, after its counters. */
void metrics_gauges_print(const struct op25b_maps *m);
/* A Prometheus label value: backslash, quote, newline escaped; len at most. */
void label_print(const char *s, size_t len);
/* quarantine.c: sources in quarantine now; -1 if the limiter is unreadable. */
long quarantined_count(int limiter_fd);
/* A pending 'attach' of the file layer for a device that is not there. */
int attach_sync_add_pending(const struct attach_want *w);

#endif /* OP25BCTL_H */
