// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * quarantine: the sources action limit has put in quarantine, read from
 * the limiter the datapath keeps (op25b.h), and their release. A release
 * ends the quarantine at once (the datapath reads the flags on every
 * packet) and refills the source's tokens; the datapath's sweeper sends
 * the "released" event within a second.
 */
#include <errno.h>
#include <pwd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <bpf/bpf.h>
#include "op25bctl.h"

enum { OPT_ALL = 1 };

/* release --all; never taken by a prefix */
static const struct opt release_opts[] = OPT_TABLE(
	{ .name = "--all", .id = OPT_ALL,
	  .help = "release: every source in quarantine" },
);

const struct cmd_help quarantine_help = {
	.forms = FORMS({ .words = "[list]" },
		       { .words = "release ADDR|PREFIX|--all" },
		       { .words = "release uid NAME|ID" },
		       { .words = "release cgroup PATH" }),
	.opts = release_opts,
	.text =
	"The sources that action limit has put in quarantine: each one's\n"
	"address (a /64 for IPv6, or what --ipv6-prefix says), the time left,\n"
	"when it began and why (new connections over the limit). release ends\n"
	"the quarantine of the source ADDR is in, of every source inside\n"
	"PREFIX, or of all; the source's tokens are refilled, and 'monitor'\n"
	"shows a \"released\" event. A quarantine ends by itself DURATION after\n"
	"the source's last excess. At the socket hooks (attach --cgroup) a\n"
	"source is the uid, or the cgroup (limit --by cgroup), of the process\n"
	"that connects: release uid NAME|ID or cgroup PATH.\n",
};

struct limiter_view {
	struct op25b_limiter *e;
	size_t n;
	size_t bytes;
};

static int limiter_map(int fd, bool rw, struct limiter_view *v)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	void *p;

	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		p_err("cannot read the limiter map: %s", errstr(-errno));
		return EXIT_RUNTIME;
	}
	v->n = info.max_entries;
	v->bytes = v->n * sizeof(*v->e);
	p = mmap(NULL, v->bytes, PROT_READ | (rw ? PROT_WRITE : 0), MAP_SHARED,
		 fd, 0);
	if (p == MAP_FAILED) {
		p_err("cannot map the limiter: %s", errstr(-errno));
		return EXIT_RUNTIME;
	}
	v->e = p;
	return EXIT_OK;
}

/*
 * The policy's config and the limiter, under the lock how says; mapped
 * writable unless only read. limiter_close lets go of both.
 */
static int limiter_open(struct op25b_maps *m, struct engine *e,
			enum pins_access how, struct op25b_config *cfg,
			struct limiter_view *v)
{
	int rc;

	rc = policy_open(m, e, how);
	if (rc)
		return rc;
	*cfg = engine_live(e)->cfg;
	rc = limiter_map(m->limiter, how == PINS_CHANGE || how == PINS_MAKE, v);
	if (rc)
		policy_close(m, e);
	return rc;
}

static void limiter_close(struct op25b_maps *m, struct engine *e,
			  struct limiter_view *v)
{
	munmap(v->e, v->bytes);
	policy_close(m, e);
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + (__u64)ts.tv_nsec;
}

/* In quarantine now: flagged, and its end still ahead. */
static bool in_quarantine(const struct op25b_limiter *e, __u64 now)
{
	__u32 f = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

	return e->src.family && (f & OP25B_LIM_QUARANTINED) &&
	       (__s64)(e->until - now) > 0;
}

long quarantined_count(int limiter_fd)
{
	struct limiter_view v;
	__u64 now = now_ns();
	long n = 0;
	size_t i;

	if (limiter_map(limiter_fd, false, &v))
		return -1;
	for (i = 0; i < v.n; i++)
		n += in_quarantine(&v.e[i], now);
	munmap(v.e, v.bytes);
	return n;
}

static void source_format(const struct op25b_limiter *e, __u8 prefix6,
			  char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], rel[OP25B_CGROUP_PATH];
	struct passwd *pw;
	__u64 id;

	/* the socket hooks' sources: a user, a cgroup (limit --by) */
	memcpy(&id, e->src.addr, sizeof(id));
	if (e->src.family == OP25B_SRC_UID) {
		pw = getpwuid((uid_t)id);
		snprintf(buf, len, "uid %llu%s%s%s", (unsigned long long)id,
			 pw ? " (" : "", pw ? pw->pw_name : "", pw ? ")" : "");
		return;
	}
	if (e->src.family == OP25B_SRC_CGROUP) {
		if (cgroup_path_of(id, rel, sizeof(rel)))
			snprintf(buf, len, "cgroup %s", cgroup_shown(rel));
		else
			snprintf(buf, len, "cgroup #%llu", (unsigned long long)id);
		return;
	}
	addr_format(e->src.family, e->src.addr, a, sizeof(a));
	if (e->src.family == 6 && prefix6 < 128)
		snprintf(buf, len, "%s/%u", a, prefix6);
	else
		snprintf(buf, len, "%s", a);
}

static void left_format(__u64 ns, char *buf, size_t len)
{
	__u64 s = (ns + NSEC_PER_SEC - 1) / NSEC_PER_SEC;

	if (s >= 86400)
		snprintf(buf, len, "%llud%02lluh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(buf, len, "%llus", s);
}

static int quarantine_list(void)
{
	struct op25b_config cfg;
	struct limiter_view v;
	struct op25b_maps m;
	struct engine e;
	char src[OP25B_CGROUP_PATH + 16], left[32], since[32], reason[192];
	char rate[ACTION_TEXT_LEN];
	__u64 now;
	size_t i;
	int rc;

	/* a reader: no lock (doc/DESIGN.md, "Readers") */
	rc = limiter_open(&m, &e, PINS_PEEK, &cfg, &v);
	if (rc)
		return rc;
	limit_rate_format(&cfg.limit, rate, sizeof(rate));
	now = now_ns();
	if (!g.json)
		printf("%-43s %-8s %-19s %s\n", "SOURCE", "LEFT", "SINCE",
		       "REASON");
	open_json_array(NULL);
	for (i = 0; i < v.n; i++) {
		const struct op25b_limiter *q = &v.e[i];

		if (!in_quarantine(q, now))
			continue;
		source_format(q, cfg.limit.prefix6, src, sizeof(src));
		left_format(q->until - now, left, sizeof(left));
		dp_time_format(q->since, false, since, sizeof(since));
		if (cfg.action == OP25B_ACT_LIMIT)
			snprintf(reason, sizeof(reason),
				 "new connections over %s: %u over, %u within",
				 rate, q->exceeded, q->passed);
		else
			snprintf(reason, sizeof(reason),
				 "new connections over the limit: %u over, %u within",
				 q->exceeded, q->passed);
		open_json_object(NULL);
		print_string(PRINT_ANY, "source", "%-43s ", src);
		print_string(PRINT_FP, NULL, "%-8s ", left);
		print_uint(PRINT_JSON, "left_s", NULL,
			   (q->until - now + NSEC_PER_SEC - 1) / NSEC_PER_SEC);
		print_string(PRINT_ANY, "since", "%-19s ", since);
		print_uint(PRINT_JSON, "exceeded", NULL, q->exceeded);
		print_uint(PRINT_JSON, "passed", NULL, q->passed);
		print_string(PRINT_ANY, "reason", "%s", reason);
		close_json_object();
		print_nl();
	}
	output_list_end();
	limiter_close(&m, &e, &v);
	return EXIT_OK;
}

/*
 * Does the entry's source match what the operator named: for a bare
 * address, the source it is in (an IPv6 address's first prefix6 bits);
 * for a prefix, any source inside it.
 */
static bool source_match(const struct op25b_limiter *q, const struct prefix *p,
			 bool bare, __u8 prefix6)
{
	struct prefix in = *p;

	if ((q->src.family != 4 && q->src.family != 6) ||
	    (q->src.family == 4) != (p->family == AF_INET))
		return false;
	/* a source is keyed by its first prefix6 bits: the same test */
	if (bare && p->family == AF_INET6)
		in.len = prefix6;
	return prefix_contains(&in, q->src.addr);
}

/* End one quarantine: the datapath sees it at once, the sweeper reports it. */
static void release_one(struct op25b_limiter *q)
{
	__u32 f = __atomic_load_n(&q->flags, __ATOMIC_ACQUIRE), nf;

	__atomic_store_n(&q->tat, 0, __ATOMIC_RELAXED);
	do {
		nf = (f & ~OP25B_LIM_QUARANTINED) | OP25B_LIM_ENDED |
		     OP25B_LIM_BY_OPERATOR;
	} while (!__atomic_compare_exchange_n(&q->flags, &f, nf, false,
					      __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
}

static int quarantine_release(int argc, char **argv)
{
	char why[128], q[TOKEN_QUOTE_LEN], text[OP25B_CGROUP_PATH + 16];
	struct op25b_src who = {};
	const char *pos[2] = {}, *src;
	struct args a = ARGS_POS("quarantine release", argc, argv, pos, 2);
	struct op25b_config cfg;
	struct limiter_view v;
	struct op25b_maps m;
	struct engine e;
	struct prefix p = {};
	bool all = false, bare = false;
	size_t i, n = 0;
	__u64 now;
	int rc;

	if (args_all(&a, release_opts))
		return EXIT_USAGE;
	all = args_given(&a, OPT_ALL);
	if (!a.npos && !all) {
		p_err("quarantine release: missing ADDR, PREFIX or --all");
		return EXIT_USAGE;
	}
	if (a.npos && all) {
		p_err("quarantine release: one ADDR, PREFIX or --all, not more");
		return EXIT_USAGE;
	}
	src = pos[0];
	if (!all && (!strcmp(src, "uid") || !strcmp(src, "cgroup"))) {
		/* release uid NAME|ID, release cgroup PATH (limit --by) */
		struct ident_want w;

		if (!pos[1] ||
		    ident_resolve(ident_kind_parse(src), pos[1], &w, why,
				  sizeof(why)) || ident_pending(w.kind)) {
			p_err("quarantine release %s: %s", src,
			      !pos[1] ? "missing NAME, ID or PATH" :
			      ident_pending(w.kind) ? "names nothing that exists" : why);
			return EXIT_USAGE;
		}
		who.family = !strcmp(src, "uid") ? OP25B_SRC_UID : OP25B_SRC_CGROUP;
		memcpy(who.addr, &w.id, sizeof(w.id));
	} else if (a.npos == 2) {
		p_err("quarantine release: one ADDR, PREFIX or --all, not more");
		return EXIT_USAGE;
	} else if (!all) {
		if (prefix_parse(src, &p, why, sizeof(why))) {
			p_err("bad address '%s': %s",
			      token_quote(src, q, sizeof(q)), why);
			return EXIT_USAGE;
		}
		bare = !strchr(src, '/');
	}
	/* a writer: serialised with every other change, and reading them */
	rc = limiter_open(&m, &e, PINS_CHANGE, &cfg, &v);
	if (rc)
		return rc;
	now = now_ns();
	for (i = 0; i < v.n; i++) {
		if (!in_quarantine(&v.e[i], now))
			continue;
		if (who.family ? memcmp(&v.e[i].src, &who, sizeof(who)) :
		    !all && !source_match(&v.e[i], &p, bare, cfg.limit.prefix6))
			continue;
		source_format(&v.e[i], cfg.limit.prefix6, text, sizeof(text));
		release_one(&v.e[i]);
		n++;
		open_json_object(NULL);
		print_string(PRINT_ANY, "released", "released %s", text);
		close_json_object();
		print_nl();
	}
	limiter_close(&m, &e, &v);
	if (!n && !all) {
		p_err("%s is not in quarantine", token_quote(src, q, sizeof(q)));
		return EXIT_RUNTIME;
	}
	p_info("%zu source%s released", n, n == 1 ? "" : "s");
	output_end();
	return EXIT_OK;
}

int do_quarantine(int argc, char **argv)
{
	char q[TOKEN_QUOTE_LEN];

	if (!argc || !strcmp(argv[0], "list")) {
		if (argc > 1) {
			p_err("quarantine list: unexpected argument '%s'",
			      token_quote(argv[1], q, sizeof(q)));
			return EXIT_USAGE;
		}
		return quarantine_list();
	}
	if (!strcmp(argv[0], "release"))
		return quarantine_release(argc - 1, argv + 1);
	p_err("quarantine: unknown subcommand '%s' (list or release)",
	      token_quote(argv[0], q, sizeof(q)));
	return EXIT_USAGE;
}
