// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * status: the pin dir, the live action, ports and table sizes, and every
 * attachment as recorded and as the kernel has it, with op25b programs no
 * record names.
 */
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "attachments.h"

const struct cmd_help status_help = {
	.text =
	"Action, blocked ports, table sizes, capacity and policy generation, the\n"
	"attachments this pin dir recorded and whether each is still in place,\n"
	"and op25b programs in this namespace that it does not record. An XDP\n"
	"one says how it shares its device: alone, or chained (prog ID NAME),\n"
	"the program it runs for what it passes. With -v (and with -j), the\n"
	"pools' use: nodes, leaves, rule records and index slots, used/total,\n"
	"and whether the kernel would let libxdp's dispatcher run.\n",
};

/* ---- status ---- */

static void status_config(const struct op25b_config *cfg)
{
	char text[ACTION_TEXT_LEN];
	__u32 p;

	action_format(cfg, text, sizeof(text));
	print_string(PRINT_FP, NULL, "action      %s\n", text);
	print_string(PRINT_JSON, "action", NULL, action_name(cfg->action));
	print_string(PRINT_FP, NULL, "%s", "ports      ");
	open_json_array("ports");
	for (p = 0; p <= OP25B_PORT_MAX; p++)
		if (config_port_blocked(cfg, p))
			print_uint(PRINT_ANY, NULL, " %llu", p);
	close_json_array();
	print_nl();
}

/* Counts of one snapshot: true at one moment, no walk. */
static void status_tables(const struct engine *e,
			  const struct op25b_snapshot *s)
{
	char key4[24], key6[24], text[40];
	int t;

	open_json_object("tables");
	for (t = 0; t < OP25B_TABLE_COUNT; t++) {
		/* keys subscriber4, subscriber6, relay4, ... */
		snprintf(key4, sizeof(key4), "%s4", table_name(t));
		snprintf(key6, sizeof(key6), "%s6", table_name(t));
		snprintf(text, sizeof(text), "%-12s%%llu IPv4, ", table_name(t));
		print_uint(PRINT_ANY, key4, text, s->count[OP25B_TREE(t, 0)]);
		print_uint(PRINT_ANY, key6, "%llu IPv6 prefixes\n",
			   s->count[OP25B_TREE(t, 1)]);
	}
	print_uint(PRINT_ANY, "capacity", "capacity    %llu prefixes per table",
		   engine_capacity(e));
	print_uint(PRINT_ANY, "generation", ", policy generation %llu\n",
		   s->gen);
	close_json_object();
}

static void status_pool(const char *key, const char *text,
			const struct engine_pool *p)
{
	char fmt[64];

	open_json_object(key);
	snprintf(fmt, sizeof(fmt), "%s%%llu", text);
	print_uint(PRINT_ANY, "used", fmt, p->used);
	print_uint(PRINT_ANY, "total", "/%llu", p->total);
	close_json_object();
}

/*
 * The pools, as the writers' books have them: after any change, refused,
 * failed or killed ones included, what the live snapshot needs
 * (doc/DESIGN.md, "Recovery"). With -v, and always in JSON.
 */
static void status_pools(struct engine *e)
{
	struct engine_pools u;

	if (!g.verbose && !g.json)
		return;
	if (engine_pools_used(e, &u)) {
		print_null(PRINT_JSON, "pools", NULL);
		print_string(PRINT_FP, NULL, "pools       %s\n", e->err);
		return;
	}
	open_json_object("pools");
	status_pool("nodes", "pools       nodes ", &u.nodes);
	status_pool("leaves", ", leaves ", &u.leaves);
	status_pool("rules", ", rule records ", &u.rules);
	status_pool("index", ", index slots ", &u.index);
	print_nl();
	close_json_object();
}

/*
 * What the maps take, as the kernel counts it (doc/DESIGN.md, "Sizing"):
 * the total, and with -v (and always in JSON) each map's.
 */
static void status_memory(void)
{
	struct pin_memory v[32];
	unsigned long long total = 0;
	size_t n = pins_memory(v, sizeof(v) / sizeof(v[0])), i;
	char text[64];

	for (i = 0; i < n; i++)
		total += v[i].bytes;
	open_json_object("memory");
	print_uint(PRINT_JSON, "bytes", NULL, total);
	snprintf(text, sizeof(text), "%.1f MB in %zu maps", (double)total / 1e6,
		 n);
	print_string(PRINT_FP, NULL, "memory      %s\n", text);
	if (g.verbose || g.json) {
		open_json_object("maps");
		print_string(PRINT_FP, NULL, "%s", "           ");
		for (i = 0; i < n; i++) {
			print_uint(PRINT_JSON, v[i].name, NULL, v[i].bytes);
			print_string(PRINT_FP, NULL, " %s", v[i].name);
			print_uint(PRINT_FP, NULL, " %llu", v[i].bytes);
		}
		print_nl();
		close_json_object();
	}
	close_json_object();
}

/*
 * A record is attached (the program is in place), pending (asked for
 * before its device existed), gone (its device went: attached again when
 * the name comes back), or not attached (someone took the program off).
 */
static void status_record(const struct record *rec)
{
	bool pending = record_pending(rec), gone = !pending && record_gone(rec);
	bool live = !pending && !gone &&
		    attached_prog_id(rec) == rec->val.prog_id;
	char name[IF_NAMESIZE];

	open_json_object(NULL);
	print_string(PRINT_ANY, "ifname", "  %s", record_name(rec, name));
	if (!pending)
		print_uint(PRINT_ANY, "ifindex", " (ifindex %llu)",
			   rec->key.ifindex);
	print_string(PRINT_FP, NULL, "%s", ": ");
	print_hook(PRINT_ANY, rec->key.hook, rec->val.flags);
	print_bool(PRINT_JSON, "l3", NULL, rec->val.flags & OP25B_AF_L3);
	if (rec->val.flags & OP25B_AF_L3)
		print_string(PRINT_FP, NULL, "%s", ", l3");
	if (!pending)
		print_uint(PRINT_ANY, "prog_id", ", prog %llu",
			   rec->val.prog_id);
	if (rec->key.hook == OP25B_HOOK_XDP && !pending && !gone)
		chain_print_mode(PRINT_ANY, rec->key.ifindex,
				 live ? rec->val.prog_id : 0,
				 rec->val.chain_slot, rec->val.flags);
	print_string(PRINT_ANY, "layer", ", %s", layer_name(rec->val.layer));
	print_bool(PRINT_JSON, "attached", NULL, live);
	print_string(PRINT_ANY, "state", ", %s\n",
		     pending ? "pending" : gone ? "gone" :
		     live ? "attached" : "not attached");
	close_json_object();
}

static int status_unrecorded(const struct record *recs, size_t n);

static int status_attachments(int map_fd)
{
	struct record *recs;
	size_t i, n;
	int rc;

	rc = records_load(map_fd, &recs, &n);
	if (rc)
		return rc;
	print_string(PRINT_FP, NULL, "%s\n",
		     n ? "attachments:" : "attachments: none");
	open_json_array("attachments");
	for (i = 0; i < n; i++)
		status_record(&recs[i]);
	close_json_array();
	/* what is op25b's but not this pin dir's: never hidden */
	rc = status_unrecorded(recs, n);
	free(recs);
	return rc;
}

/* op25b programs in this namespace that recs (none: no pin dir) omit. */
static int status_unrecorded(const struct record *recs, size_t n)
{
	struct record *orph;
	size_t i, norph;
	int rc;

	rc = orphans_find(recs, n, &orph, &norph);
	if (rc)
		return rc;
	if (norph)
		print_string(PRINT_FP, NULL, "%s\n",
			     "op25b programs this pin dir does not record:");
	open_json_array("unrecorded");
	for (i = 0; i < norph; i++) {
		char owner[PATH_MAX + 16];

		orphan_owner(&orph[i], owner, sizeof(owner));
		open_json_object(NULL);
		print_string(PRINT_ANY, "ifname", "  %s", orph[i].val.ifname);
		print_uint(PRINT_ANY, "ifindex", " (ifindex %llu): ",
			   orph[i].key.ifindex);
		print_hook(PRINT_ANY, orph[i].key.hook, orph[i].val.flags);
		print_uint(PRINT_ANY, "prog_id", ", prog %llu", orph[i].val.prog_id);
		if (orph[i].key.hook == OP25B_HOOK_XDP)
			chain_print_mode(PRINT_ANY, orph[i].key.ifindex,
					 orph[i].val.prog_id, 0,
					 orph[i].val.flags);
		print_string(PRINT_ANY, "owner", ", %s\n", owner);
		close_json_object();
	}
	close_json_array();
	free(orph);
	return EXIT_OK;
}

static int status_show(void)
{
	struct op25b_maps m;
	struct engine e;
	int rc;

	struct op25b_snapshot snap;
	__u32 gen;

	rc = policy_open_read(&m, &e);
	if (rc)
		return rc;
	/* one snapshot's header, copied: no lock is held while printing */
	do {
		gen = engine_read_begin(&e);
		snap = *engine_live(&e);
	} while (!engine_read_done(&e, gen));
	open_json_object(NULL);
	print_bool(PRINT_JSON, "set_up", NULL, true);
	print_string(PRINT_ANY, "pin_dir", "pin dir     %s\n", g.pin_dir);
	status_config(&snap.cfg);
	status_tables(&e, &snap);
	status_pools(&e);
	status_memory();
	dispatcher_print();
	rc = status_attachments(m.attach);
	/* the socket hooks' cgroups (hook_cgroup.c) */
	cg_status();
	close_json_object();
	policy_close(&m, &e);
	return rc;
}

int do_status(int argc, char **argv)
{
	struct args a = ARGS_POS("status", argc, argv, NULL, 0);
	bool set_up;
	int rc;

	if (args_all(&a, NULL))
		return EXIT_USAGE;
	rc = pin_dir_state(&set_up);
	if (rc)
		return rc;
	if (set_up)
		return status_show();
	open_json_object(NULL);
	print_bool(PRINT_JSON, "set_up", NULL, false);
	print_string(PRINT_ANY, "pin_dir", "op25b is not set up under %s\n",
		     g.pin_dir);
	/* an op25b whose pin dir was removed goes on judging: say so */
	rc = status_unrecorded(NULL, 0);
	close_json_object();
	return rc;
}

