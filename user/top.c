// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * top: the offenders table, busiest sources first. An infected subscriber
 * host tries SMTP over and over: it rises to the top of this list.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"

#define TOP_DEFAULT	20


struct offender_row {
	struct op25b_src src;
	struct op25b_offender o;
};

/* Most attempts (blocked and monitored) first; 0 for as many. */
static int most_first(__u64 bx, __u64 mx, __u64 by, __u64 my)
{
	__u64 nx = bx + mx, ny = by + my;

	return nx == ny ? 0 : nx > ny ? -1 : 1;
}

/* The address orders ties, so output is stable. */
static int row_cmp(const void *a, const void *b)
{
	const struct offender_row *x = a, *y = b;
	int c = most_first(x->o.blocked, x->o.monitored, y->o.blocked,
			   y->o.monitored);

	return c ? c : memcmp(&x->src, &y->src, sizeof(x->src));
}

static int src_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct offender_row *)a)->src,
		      &((const struct offender_row *)b)->src,
		      sizeof(struct op25b_src));
}

/* One source seen on several CPUs: one row, the latest destination. */
static void row_merge(struct offender_row *into, const struct offender_row *r)
{
	struct op25b_offender *o = &into->o;

	o->blocked += r->o.blocked;
	o->monitored += r->o.monitored;
	o->flags |= r->o.flags & OP25B_OFF_ESTIMATED;
	if (r->o.first_ns < o->first_ns)
		o->first_ns = r->o.first_ns;
	if (r->o.last_ns > o->last_ns) {
		o->last_ns = r->o.last_ns;
		memcpy(o->last_daddr, r->o.last_daddr, sizeof(o->last_daddr));
		o->last_dport = r->o.last_dport;
		o->last_ifindex = r->o.last_ifindex;
	}
}

/*
 * Every source of every CPU's table (op25b.h: Offenders), one row each:
 * a source seen on several CPUs is summed.
 */
static int rows_read(int fd, struct offender_row **out, size_t *n)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct bpf_map_info info = {};
	struct offender_row *rows = NULL, *r;
	struct op25b_offender *per = NULL;
	__u32 len = sizeof(info), slot;
	size_t cap = 0, cnt = 0, i, m;

	if (ncpu <= 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		p_err("cannot inspect the offenders table");
		return EXIT_RUNTIME;
	}
	per = calloc(ncpu, sizeof(*per));
	if (!per) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	for (slot = 0; slot < info.max_entries; slot++) {
		if (bpf_map_lookup_elem(fd, &slot, per)) {
			p_err("cannot read the offenders table: %s",
			      strerror(errno));
			free(per);
			free(rows);
			return EXIT_RUNTIME;
		}
		for (c = 0; c < ncpu; c++) {
			if (!per[c].src.family ||
			    !(per[c].blocked + per[c].monitored))
				continue;
			if (cnt == cap) {
				cap = cap ? cap * 2 : 256;
				r = realloc(rows, cap * sizeof(*rows));
				if (!r) {
					free(per);
					free(rows);
					p_err("out of memory");
					return EXIT_RUNTIME;
				}
				rows = r;
			}
			rows[cnt].src = per[c].src;
			rows[cnt].o = per[c];
			cnt++;
		}
	}
	free(per);
	if (cnt) {
		qsort(rows, cnt, sizeof(*rows), src_cmp);
		for (i = 1, m = 0; i < cnt; i++) {
			if (!src_cmp(&rows[m], &rows[i]))
				row_merge(&rows[m], &rows[i]);
			else
				rows[++m] = rows[i];
		}
		cnt = m + 1;
	}
	*out = rows;
	*n = cnt;
	return EXIT_OK;
}

struct row_text {
	char addr[INET6_ADDRSTRLEN];
	char first[32];
	char last[32];
	char dst[INET6_ADDRSTRLEN + 8];
	char dst_addr[INET6_ADDRSTRLEN];
	char ifname[IF_NAMESIZE + 8];
};

static void row_text(const struct offender_row *r, struct row_text *t)
{
	addr_format(r->src.family, r->src.addr, t->addr, sizeof(t->addr));
	dp_time_format(r->o.first_ns, false, t->first, sizeof(t->first));
	dp_time_format(r->o.last_ns, false, t->last, sizeof(t->last));
	addr_format(r->src.family, r->o.last_daddr, t->dst_addr,
		    sizeof(t->dst_addr));
	endpoint_format(r->src.family, r->o.last_daddr, r->o.last_dport,
			t->dst, sizeof(t->dst));
	ifindex_format(r->o.last_ifindex, t->ifname, sizeof(t->ifname));
}

static void rows_print(const struct offender_row *rows, size_t n)
{
	int wa = (int)strlen("ADDRESS"), wd = (int)strlen("LAST DESTINATION");
	struct row_text t;
	char fmt[32];
	size_t i;

	for (i = 0; i < n; i++) {
		row_text(&rows[i], &t);
		if ((int)strlen(t.addr) > wa)
			wa = (int)strlen(t.addr);
		if ((int)strlen(t.dst) > wd)
			wd = (int)strlen(t.dst);
	}
	if (!g.json)
		printf("%-*s %10s %10s  %-20s  %-20s  %-*s  %s\n", wa,
		       "ADDRESS", "BLOCKED", "MONITORED", "FIRST SEEN",
		       "LAST SEEN", wd, "LAST DESTINATION", "IFACE");
	open_json_array(NULL);
	for (i = 0; i < n; i++) {
		bool est = rows[i].o.flags & OP25B_OFF_ESTIMATED;

		row_text(&rows[i], &t);
		open_json_object(NULL);
		snprintf(fmt, sizeof(fmt), "%%-%ds ", wa);
		print_string(PRINT_ANY, "address", fmt, t.addr);
		/* sampled under a flood: "~" in front, "estimated" in JSON */
		snprintf(fmt, sizeof(fmt), "%s%llu", est ? "~" : "",
			 (unsigned long long)rows[i].o.blocked);
		print_string(PRINT_FP, NULL, "%10s ", fmt);
		print_uint(PRINT_JSON, "blocked", NULL, rows[i].o.blocked);
		snprintf(fmt, sizeof(fmt), "%s%llu",
			 est && rows[i].o.monitored ? "~" : "",
			 (unsigned long long)rows[i].o.monitored);
		print_string(PRINT_FP, NULL, "%10s  ", fmt);
		print_uint(PRINT_JSON, "monitored", NULL, rows[i].o.monitored);
		print_bool(PRINT_JSON, "estimated", NULL, est);
		print_string(PRINT_ANY, "first_seen", "%-20s  ", t.first);
		print_string(PRINT_ANY, "last_seen", "%-20s  ", t.last);
		snprintf(fmt, sizeof(fmt), "%%-%ds  ", wd);
		print_string(PRINT_FP, NULL, fmt, t.dst);
		print_string(PRINT_JSON, "last_daddr", NULL, t.dst_addr);
		print_uint(PRINT_JSON, "last_dport", NULL,
			   rows[i].o.last_dport);
		print_uint(PRINT_JSON, "ifindex", NULL,
			   rows[i].o.last_ifindex);
		print_string(PRINT_ANY, "interface", "%s", t.ifname);
		close_json_object();
		print_nl();
	}
	output_list_end();
}

/* ---- top --by uid|cgroup: the socket hooks' culprits ---- */

struct culprit_row {
	struct op25b_ident_key key;
	struct op25b_culprit c;
};

static int culprit_cmp(const void *a, const void *b)
{
	const struct culprit_row *x = a, *y = b;
	int c = most_first(x->c.blocked, x->c.monitored, y->c.blocked,
			   y->c.monitored);

	if (c)
		return c;
	return x->key.id < y->key.id ? -1 : x->key.id > y->key.id;
}

/* The culprits of one kind (OP25B_ID_UID, _CGROUP), most refused first. */
static int culprits_read(int fd, __u32 kind, struct culprit_row **out,
			 size_t *n)
{
	struct op25b_ident_key k, last;
	struct culprit_row *v = NULL;
	bool first = true;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	while (fd >= 0 &&
	       !bpf_map_get_next_key(fd, first ? NULL : &last, &k)) {
		first = false;
		last = k;
		if (k.kind != kind)
			continue;
		if (array_grow((void **)&v, &cap, *n, sizeof(*v))) {
			free(v);
			p_err("out of memory");
			return EXIT_RUNTIME;
		}
		v[*n].key = k;
		if (!bpf_map_lookup_elem(fd, &k, &v[*n].c))
			(*n)++;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), culprit_cmp);
	*out = v;
	return EXIT_OK;
}

static void culprits_print(const struct culprit_row *v, size_t n, __u32 kind)
{
	char who[OP25B_CGROUP_PATH + 32], first[32], last[32];
	char dst[INET6_ADDRSTRLEN + 8], daddr[INET6_ADDRSTRLEN], comm[17];
	char user[64];
	size_t i;

	if (!g.json)
		printf("%-*s %10s %10s  %-20s  %-20s  %-24s %s\n",
		       kind == OP25B_ID_UID ? 16 : 32,
		       kind == OP25B_ID_UID ? "UID" : "CGROUP", "REFUSED",
		       "MONITORED", "FIRST SEEN", "LAST SEEN",
		       "LAST DESTINATION", "LAST PID (COMMAND)");
	open_json_array(NULL);
	for (i = 0; i < n; i++) {
		const struct op25b_culprit *c = &v[i].c;

		user[0] = '\0';
		if (kind == OP25B_ID_UID) {
			struct passwd *pw = getpwuid((uid_t)v[i].key.id);

			if (pw)
				snprintf(user, sizeof(user), "%s", pw->pw_name);
			snprintf(who, sizeof(who), "%llu%s%s%s",
				 (unsigned long long)v[i].key.id,
				 pw ? " (" : "", pw ? pw->pw_name : "",
				 pw ? ")" : "");
		} else {
			char rel[OP25B_CGROUP_PATH];

			if (cgroup_path_of(v[i].key.id, rel, sizeof(rel)))
				snprintf(who, sizeof(who), "%s", cgroup_shown(rel));
			else
				snprintf(who, sizeof(who), "#%llu",
					 (unsigned long long)v[i].key.id);
		}
		dp_time_format(c->first_ns, false, first, sizeof(first));
		dp_time_format(c->last_ns, false, last, sizeof(last));
		addr_format(c->family, c->last_daddr, daddr, sizeof(daddr));
		endpoint_format(c->family, c->last_daddr, c->last_dport, dst,
				sizeof(dst));
		snprintf(comm, sizeof(comm), "%.16s", c->comm);
		open_json_object(NULL);
		if (kind == OP25B_ID_UID) {
			print_string(PRINT_FP, NULL, "%-16s ", who);
			print_uint(PRINT_JSON, "uid", NULL, v[i].key.id);
			if (user[0])
				print_string(PRINT_JSON, "user", NULL, user);
		} else {
			print_string(PRINT_FP, NULL, "%-32s ", who);
			print_uint(PRINT_JSON, "cgroup_id", NULL, v[i].key.id);
			if (who[0] != '#')
				print_string(PRINT_JSON, "cgroup", NULL, who);
		}
		print_uint(PRINT_ANY, "refused", "%10llu ", c->blocked);
		print_uint(PRINT_ANY, "monitored", "%10llu  ", c->monitored);
		print_string(PRINT_ANY, "first_seen", "%-20s  ", first);
		print_string(PRINT_ANY, "last_seen", "%-20s  ", last);
		print_string(PRINT_FP, NULL, "%-24s ", dst);
		print_string(PRINT_JSON, "last_daddr", NULL, daddr);
		print_uint(PRINT_JSON, "last_dport", NULL, c->last_dport);
		print_uint(PRINT_ANY, "last_pid", "%llu", c->last_pid);
		print_string(PRINT_ANY, "last_comm", " (%s)", comm);
		close_json_object();
		print_nl();
	}
	output_list_end();
}

enum { OPT_COUNT = 1, OPT_BY };

static const struct opt top_opts[] = OPT_TABLE(
	{ .name = "-n", .short_name = 'n', .id = OPT_COUNT, .arg = "N",
	  .what = "a number",
	  .help = "the first N sources (1-65536, default 20)" },
	{ .name = "--by", .id = OPT_BY, .arg = "address|uid|cgroup",
	  .what = "address, uid or cgroup",
	  .help = "rank sources (default), or refused connects by uid or cgroup" },
);

const struct cmd_help top_help = {
	.opts = top_opts,
	.text =
	"The sources of blocked (and monitored) attempts, most attempts first:\n"
	"counts, first and last seen, the last destination and the interface\n"
	"it came in on. The table keeps the 65536 most recently seen sources.\n"
	"Past 8192 blocked packets a second on a CPU, the table counts a\n"
	"sample of them: such counts are estimates, shown as ~N (\"estimated\":\n"
	"true in JSON).\n"
	"--by uid and --by cgroup rank what the socket hooks refused (attach\n"
	"--cgroup) by the uid, or the cgroup, of the process that connected:\n"
	"counts, first and last seen, the last destination, pid and command.\n",
};

int do_top(int argc, char **argv)
{
	unsigned long limit = TOP_DEFAULT;
	struct offender_row *rows = NULL;
	struct args a = ARGS_POS("top", argc, argv, NULL, 0);
	struct op25b_maps m;
	const char *nv;
	size_t n = 0;
	int id, rc;
	__u32 by = 0;

	while ((id = args_opt(&a, top_opts, &nv)) > 0) {
		if (id == OPT_BY) {
			if (!strcmp(nv, "uid"))
				by = OP25B_ID_UID;
			else if (!strcmp(nv, "cgroup"))
				by = OP25B_ID_CGROUP;
			else if (strcmp(nv, "address")) {
				p_err("bad --by '%s': must be address, uid or cgroup",
				      nv);
				return EXIT_USAGE;
			}
			continue;
		}
		if (count_parse(nv, OP25B_OFFENDERS_MAX, &limit)) {
			p_err("bad count '%s': must be 1-%d", nv,
			      OP25B_OFFENDERS_MAX);
			return EXIT_USAGE;
		}
	}
	if (id)
		return EXIT_USAGE;

	rc = pins_open(&m, PINS_PEEK);
	if (rc)
		return rc;
	if (by) {
		struct culprit_row *cv = NULL;

		rc = culprits_read(m.culprits, by, &cv, &n);
		maps_close(&m);
		if (!rc)
			culprits_print(cv, n < limit ? n : limit, by);
		free(cv);
		return rc;
	}
	rc = rows_read(m.offenders, &rows, &n);
	maps_close(&m);
	if (rc)
		return rc;
	qsort(rows, n, sizeof(*rows), row_cmp);
	rows_print(rows, n < limit ? n : limit);
	free(rows);
	return EXIT_OK;
}
