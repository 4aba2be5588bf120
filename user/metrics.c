// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The gauges of 'stats --prometheus' (doc/DESIGN.md, "Metrics"): what the
 * policy holds and how full its pools are, what is attached where, the
 * quarantined sources, the sessions, the action, and the build. The live
 * snapshot is read under the shared lock, which is let go before any of
 * it is written out.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "op25bctl.h"
#include "attachments.h"

struct policy_gauges {
	bool ok;
	__u32 count[OP25B_TREES];
	__u32 capacity;
	__u32 action;
	struct engine_pools pools;
};

static void policy_read(struct policy_gauges *p)
{
	const struct op25b_snapshot *s;
	struct op25b_maps m;
	struct engine e;

	memset(p, 0, sizeof(*p));
	if (policy_open_read(&m, &e))
		return;
	s = engine_live(&e);
	memcpy(p->count, s->count, sizeof(p->count));
	p->action = s->cfg.action;
	p->capacity = engine_capacity(&e);
	p->ok = !engine_pools_used(&e, &p->pools);
	policy_close(&m, &e);
}

static void family_head(const char *name, const char *help)
{
	printf("# HELP %s %s.\n# TYPE %s gauge\n", name, help, name);
}

static void pool_print(const char *name, const char *pool, __u32 v)
{
	printf("%s{pool=\"%s\"} %u\n", name, pool, v);
}

static void policy_print(const struct policy_gauges *p)
{
	int t, v6;

	if (!p->ok)
		return;
	family_head("op25b_rules", "Prefixes in the live policy, by table and family");
	for (t = 0; t < OP25B_TABLE_COUNT; t++)
		for (v6 = 0; v6 < 2; v6++)
			printf("op25b_rules{table=\"%s\",family=\"%s\"} %u\n",
			       table_name(t), v6 ? "ipv6" : "ipv4",
			       p->count[OP25B_TREE(t, v6)]);
	family_head("op25b_rules_capacity", "Prefixes each table holds at most (--capacity)");
	printf("op25b_rules_capacity %u\n", p->capacity);
	family_head("op25b_pool_used_entries", "Entries of the policy's pools in use");
	pool_print("op25b_pool_used_entries", "nodes", p->pools.nodes.used);
	pool_print("op25b_pool_used_entries", "leaves", p->pools.leaves.used);
	pool_print("op25b_pool_used_entries", "rules", p->pools.rules.used);
	pool_print("op25b_pool_used_entries", "index", p->pools.index.used);
	family_head("op25b_pool_size_entries", "Entries of the policy's pools");
	pool_print("op25b_pool_size_entries", "nodes", p->pools.nodes.total);
	pool_print("op25b_pool_size_entries", "leaves", p->pools.leaves.total);
	pool_print("op25b_pool_size_entries", "rules", p->pools.rules.total);
	pool_print("op25b_pool_size_entries", "index", p->pools.index.total);
	family_head("op25b_action_info", "The action on blocked segments: 1 for the one in force");
	printf("op25b_action_info{action=\"%s\"} 1\n", action_name(p->action));
}

/* A label value: backslash, quote and newline escaped, at most len bytes. */
void label_print(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && s[i]; i++) {
		if (s[i] == '\\' || s[i] == '"')
			putchar('\\');
		if (s[i] == '\n')
			fputs("\\n", stdout);
		else
			putchar(s[i]);
	}
}

/* One line per attachment record: interface, hook and whether pending. */
static void attachments_print(int fd)
{
	struct op25b_attach_key k, last;
	struct op25b_attach_val v;
	bool first = true;

	family_head("op25b_attachments", "Attachments op25b recorded, by interface, hook and state (attached, or pending until the interface appears)");
	while (fd >= 0 && !bpf_map_get_next_key(fd, first ? NULL : &last, &k)) {
		first = false;
		last = k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		fputs("op25b_attachments{interface=\"", stdout);
		label_print(v.ifname, sizeof(v.ifname));
		printf("\",hook=\"%s\",state=\"%s\"} 1\n",
		       hook_label(k.hook, 0),
		       k.ifindex >= OP25B_IFINDEX_PENDING || !v.prog_id ?
		       "pending" : "attached");
	}
}

static long sessions_count(int fd)
{
	struct op25b_session_key k, last;
	bool first = true;
	long n = 0;

	while (fd >= 0 && !bpf_map_get_next_key(fd, first ? NULL : &last, &k)) {
		first = false;
		last = k;
		n++;
	}
	return n;
}

void metrics_gauges_print(const struct op25b_maps *m)
{
	struct policy_gauges p;
	long q = m->limiter >= 0 ? quarantined_count(m->limiter) : -1;

	policy_read(&p);
	policy_print(&p);
	attachments_print(m->attach);
	if (q >= 0) {
		family_head("op25b_quarantined_sources", "Sources in quarantine now (action limit)");
		printf("op25b_quarantined_sources %ld\n", q);
	}
	family_head("op25b_sessions", "Sessions the PPP/RADIUS hooks registered");
	printf("op25b_sessions %ld\n", sessions_count(m->sessions));
	family_head("op25b_build_info", "The op25bctl that wrote these metrics: version and pin dir layout");
	printf("op25b_build_info{version=\"%s\",layout=\"%u\"} 1\n",
	       OP25B_VERSION, OP25B_LAYOUT);
}
