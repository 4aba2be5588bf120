// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * attach and detach: putting the datapath on interfaces and taking off
 * exactly what op25b put there, as recorded in the pinned attachments map.
 * The hooks are hook_xdp.c and hook_tc.c, the records records.c; what
 * status shows of them is in status.c.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "attachments.h"
#include "op25b.skel.h"

/* ---- attach ---- */


/* attach --cgroup PATH, detach --cgroup PATH: the socket hooks */
enum { OPT_CGROUP = ATTACH_OPT_NEXT };

#define CGROUP_OPT							\
	{ .name = "--cgroup", .id = OPT_CGROUP, .arg = "PATH",		\
	  .what = "a cgroup path",					\
	  .help = "a cgroup (below the cgroup v2 root), not an interface" }

static const struct opt cgroup_opts[] = OPT_TABLE(
	CGROUP_OPT,
);

static const struct opt attach_all_opts[] = OPT_TABLE(
	ATTACH_OPTS,
	CGROUP_OPT,
);

const struct cmd_help attach_help = {
	.forms = FORMS({ .words = "IFACE", .opts = attach_opts },
		       { .words = "--cgroup PATH" }),
	.opts = attach_all_opts,
	.text =
	"Attach the datapath to IFACE. Ethernet devices get XDP (native when the\n"
	"driver has it); devices without an Ethernet header (tun, ppp) get tc\n"
	"ingress, parsing from the IP header. --hook tc --direction egress\n"
	"judges what the host itself sends (a router's WAN side). Attaching again\n"
	"replaces the program in place: no moment without enforcement. Another\n"
	"XDP program found on IFACE is kept and run for every packet op25b passes\n"
	"(chained mode; detach puts it back); with --force it is replaced. The\n"
	"op25b of another pin dir is replaced only with --force.\n"
	"With --cgroup PATH (below the cgroup v2 root, as in system.slice), the\n"
	"socket hooks (cgroup/connect4, cgroup/connect6) go on that cgroup,\n"
	"beside its other programs: a process in it or below it that connects\n"
	"to a blocked port is refused at once with EPERM (action monitor: let\n"
	"through and recorded), unless its uid, gid or cgroup is exempt or the\n"
	"destination is a relay. Both families or neither, even if killed.\n",
};

/* The words name a cgroup (--cgroup before any "--"). */
static bool words_cgroup(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--cgroup") ||
		    !strncmp(argv[i], "--cgroup=", 9))
			return true;
	return false;
}

/* --cgroup PATH and nothing else, made canonical into rel. */
static int cgroup_words(const char *verb, int argc, char **argv, char *rel,
			size_t len)
{
	struct args a = ARGS_POS(verb, argc, argv, NULL, 0);

	if (args_all(&a, cgroup_opts))
		return EXIT_USAGE;
	return cgroup_path_norm(a.val[OPT_CGROUP], rel, len, NULL, 0);
}

static int do_attach_cgroup(int argc, char **argv)
{
	char rel[OP25B_CGROUP_PATH];
	int rc;

	rc = cgroup_words("attach", argc, argv, rel, sizeof(rel));
	if (!rc)
		rc = cg_attach(rel, OP25B_LAYER_FILE, 0, false);
	return rc;
}

/*
 * Ethernet devices get XDP; devices without an Ethernet header (tun, ppp)
 * get tc ingress and a parser that starts at the IP header.
 */
int attach_req_build(const struct attach_args *a, struct attach_req *r,
		     char *why, size_t len)
{
	unsigned int type;
	bool xdp;
	int rc;

	*r = (struct attach_req){
		.ifname = a->ifname, .force = a->force,
		.layer = a->layer, .owner = a->owner,
		.ifindex = strlen(a->ifname) < IF_NAMESIZE ?
			   if_nametoindex(a->ifname) : 0,
	};
	if (!r->ifindex) {
		p_say(why, len, "unknown interface '%s'", a->ifname);
		return EXIT_USAGE;
	}
	rc = link_arptype(a->ifname, r->ifindex, &type);
	if (rc)
		return rc;
	if (type == ARPHRD_LOOPBACK) {
		p_say(why, len, "'%s' is a loopback device: op25b does not attach there",
		      a->ifname);
		return EXIT_USAGE;
	}
	r->l3 = type != ARPHRD_ETHER;
	xdp = a->hook ? !strcmp(a->hook, "xdp") :
	      a->mode ? true : a->dir ? false : !r->l3;
	if (xdp)
		r->hook = OP25B_HOOK_XDP;
	else if (a->dir && !strcmp(a->dir, "egress"))
		r->hook = OP25B_HOOK_TC_EGRESS;
	else
		r->hook = OP25B_HOOK_TC_INGRESS;
	if (a->mode)
		r->xdp_mode = !strcmp(a->mode, "generic") ? XDP_FLAGS_SKB_MODE :
							    XDP_FLAGS_DRV_MODE;
	return EXIT_OK;
}

/* apply reports attachments in its own output, not as attach does */
bool attach_quiet;

static void attach_report(const struct attach_req *r,
			  const struct op25b_attach_val *v)
{
	p_info("attached op25b to %s (%s)", r->ifname,
	       hook_label(r->hook, v->flags));
	if (attach_quiet)
		return;
	open_json_object(NULL);
	print_string(PRINT_JSON, "ifname", NULL, r->ifname);
	print_uint(PRINT_JSON, "ifindex", NULL, r->ifindex);
	print_hook(PRINT_JSON, r->hook, v->flags);
	print_bool(PRINT_JSON, "l3", NULL, r->l3);
	print_uint(PRINT_JSON, "prog_id", NULL, v->prog_id);
	if (r->hook == OP25B_HOOK_XDP)
		chain_print_mode(PRINT_JSON, r->ifindex, v->prog_id,
				 v->chain_slot, v->flags);
	close_json_object();
}

/*
 * Load (or take from cache, one per kind of instance), attach, record.
 * Without a cache the skeleton goes and the attachment stays; with one,
 * it stays for the next device (watch), and the lock goes after each.
 */
static int attach_run_cached(const struct attach_req *r,
			     struct op25b_bpf **cache)
{
	struct op25b_attach_key key = { .ifindex = r->ifindex,
					 .hook = r->hook };
	struct op25b_attach_val val = {};
	struct op25b_bpf *skel;
	int map_fd, rc, slot;

	rc = netns_ino(&key.netns_ino);
	if (!rc)
		rc = pin_dir_lock(true);
	if (rc)
		return rc;
	slot = cache ? (r->l3 ? 1 : 0) + (r->hook == OP25B_HOOK_TC_EGRESS ? 2 : 0) : 0;
	if (cache && cache[slot]) {
		skel = cache[slot];
	} else {
		rc = bpf_load(&skel, r->l3, r->hook == OP25B_HOOK_TC_EGRESS);
		if (rc) {
			if (cache)
				pin_unlock();
			return rc;
		}
		if (cache)
			cache[slot] = skel;
	}
	map_fd = bpf_map__fd(skel->maps.op25b_attach);
	{
		struct bpf_map_info mi = {};
		__u32 len = sizeof(mi);

		if (!bpf_obj_get_info_by_fd(bpf_map__fd(skel->maps.data_policy),
					    &mi, &len))
			((struct attach_req *)r)->policy_id = mi.id;
	}
	snprintf(val.ifname, sizeof(val.ifname), "%s", r->ifname);
	val.flags = r->l3 ? OP25B_AF_L3 : 0;
	val.layer = r->layer;
	val.owner = r->owner;
	val.xdp_mode = r->xdp_mode;
	owner_keep(map_fd, &key, &val);
	if (r->hook == OP25B_HOOK_XDP)
		rc = xdp_attach(r, skel, &val);
	else
		rc = tc_attach(r, skel, map_fd, &key, &val);
	if (!rc)
		rc = record_store(map_fd, &key, &val);
	if (!rc)
		pending_forget(map_fd, key.netns_ino, r->ifname, r->hook);
	if (!rc)
		attach_report(r, &val);
	if (!rc && (r->hook == OP25B_HOOK_XDP || r->hook == OP25B_HOOK_TC_INGRESS)) {
		struct op25b_attach_key other = key;
		struct op25b_attach_val ov;

		other.hook = r->hook == OP25B_HOOK_XDP ? OP25B_HOOK_TC_INGRESS :
							 OP25B_HOOK_XDP;
		if (record_find(map_fd, &other, &ov))
			p_info("note: %s has op25b on both XDP and tc ingress: every segment is judged, and counted, twice",
			       r->ifname);
	}
	if (cache)
		pin_unlock();
	else
		op25b_bpf__destroy(skel);
	return rc;
}

int attach_run(const struct attach_req *r)
{
	return attach_run_cached(r, NULL);
}

int attach_iface(const struct attach_args *a, struct op25b_bpf **cache)
{
	struct attach_req r;
	int rc;

	rc = attach_req_build(a, &r, NULL, 0);
	attach_quiet = true;	/* the caller reports in its own words */
	if (!rc)
		rc = attach_run_cached(&r, cache);
	attach_quiet = false;
	return rc;
}

int do_attach(int argc, char **argv)
{
	struct attach_args a;
	struct attach_req r;
	int rc;

	if (words_cgroup(argc, argv))
		return do_attach_cgroup(argc, argv);
	rc = attach_args_parse(argc, argv, &a, NULL, 0);
	if (!rc)
		rc = attach_args_check(&a, NULL, 0);
	if (!rc)
		rc = attach_req_build(&a, &r, NULL, 0);
	if (!rc)
		rc = attach_run(&r);
	return rc;
}

static void detach_report(const struct record *rec, const char *kept)
{
	const char *label = hook_label(rec->key.hook, rec->val.flags);

	if (kept)
		p_info("dropped the record of %s (%s): %s", rec->val.ifname,
		       label, kept);
	else
		p_info("detached op25b from %s (%s)", rec->val.ifname, label);
	if (attach_quiet)
		return;
	open_json_object(NULL);
	print_string(PRINT_JSON, "ifname", NULL, rec->val.ifname);
	print_hook(PRINT_JSON, rec->key.hook, rec->val.flags);
	print_bool(PRINT_JSON, "detached", NULL, !kept);
	if (kept)
		print_string(PRINT_JSON, "reason", NULL, kept);
	close_json_object();
}

int detach_one(int map_fd, const struct record *rec)
{
	bool alive = ifindex_alive(rec->key.ifindex);
	const char *kept = NULL;
	int rc = EXIT_OK;

	if (!alive)
		kept = "the interface is gone";
	else if (rec->key.hook == OP25B_HOOK_XDP)
		rc = xdp_detach(rec, &kept);
	else
		rc = tc_detach(rec, &kept);
	if (rc)
		return rc;
	bpf_map_delete_elem(map_fd, &rec->key);
	if (!alive)
		chain_clear(rec->val.chain_slot);	/* its device took op25b */
	if (is_tc_hook(rec->key.hook) && alive)
		tc_release_qdisc(map_fd, rec);
	detach_report(rec, kept);
	return EXIT_OK;
}

/* A live name matches by ifindex; a vanished one by its recorded name. */
static bool record_selected(const struct record *rec, const char *ifname,
			    int ifindex)
{
	if (!ifname)
		return true;
	if (ifindex)
		return rec->key.ifindex == (__u32)ifindex;
	return !strncmp(rec->val.ifname, ifname, sizeof(rec->val.ifname));
}

/*
 * Detach the op25b programs on ifindex that recs (this pin dir's records,
 * none for a pin dir not set up) do not name: the design's way to remove
 * one whose pin dir is gone. *hits: how many there were.
 */
static int detach_orphans(const struct record *recs, size_t n, int ifindex,
			  size_t *hits)
{
	struct record *orph;
	size_t norph, i;
	int rc, worst = EXIT_OK;

	*hits = 0;
	rc = orphans_find(recs, n, &orph, &norph);
	if (rc)
		return rc;
	for (i = 0; i < norph; i++)
		*hits += orph[i].key.ifindex == (__u32)ifindex;
	if (*hits)
		open_json_array(NULL);
	for (i = 0; i < norph && *hits; i++) {
		const char *kept = NULL;

		if (orph[i].key.ifindex != (__u32)ifindex)
			continue;
		rc = orph[i].key.hook == OP25B_HOOK_XDP ?
			     xdp_detach(&orph[i], &kept) :
			     tc_detach(&orph[i], &kept);
		if (!rc)
			detach_report(&orph[i], kept);
		if (rc > worst)
			worst = rc;
	}
	if (*hits)
		close_json_array();
	free(orph);
	return worst;
}

static int detach_records(const char *ifname)
{
	int ifindex = ifname ? if_nametoindex(ifname) : 0;
	struct record *recs;
	size_t i, n, hits = 0;
	int rc, map_fd, worst = EXIT_OK;

	rc = pin_dir_lock(false);
	if (rc)
		return rc;
	if (!attach_pinned()) {
		/* a set-up killed before the map was made: nothing attached */
		if (ifname) {
			p_err("op25b is not attached to '%s'", ifname);
			return EXIT_USAGE;
		}
		p_info("nothing to detach");
		open_json_array(NULL);
		close_json_array();
		return EXIT_OK;
	}
	rc = attach_map_open(&map_fd);
	if (rc)
		return rc;
	rc = records_load(map_fd, &recs, &n);
	if (rc) {
		close(map_fd);
		return rc;
	}
	for (i = 0; i < n; i++)
		hits += record_selected(&recs[i], ifname, ifindex);
	if (ifname && !hits && ifindex) {
		/* an op25b no pin dir of ours records: detach IFACE takes it */
		rc = detach_orphans(recs, n, ifindex, &hits);
		if (rc || hits) {
			free(recs);
			close(map_fd);
			return rc;
		}
	}
	if (ifname && !hits) {
		p_err("op25b is not attached to '%s'", ifname);
		worst = EXIT_USAGE;
	} else {
		bool cgroups = false;

		open_json_array(NULL);
		for (i = 0; i < n; i++) {
			if (!record_selected(&recs[i], ifname, ifindex))
				continue;
			rc = detach_one(map_fd, &recs[i]);
			if (rc > worst)
				worst = rc;
		}
		/* --all: the cgroups this pin dir attached too */
		if (!ifname) {
			rc = cg_detach(NULL, &cgroups);
			if (rc > worst)
				worst = rc;
		}
		if (!hits && !cgroups)
			p_info("nothing to detach");
		close_json_array();
	}
	free(recs);
	close(map_fd);
	return worst;
}

enum { OPT_ALL = OPT_CGROUP + 1 };

/* --all is never taken by a prefix: it detaches everything */
static const struct opt detach_opts[] = OPT_TABLE(
	{ .name = "--all", .id = OPT_ALL,
	  .help = "everything this pin dir attached in this namespace, and its cgroups" },
	CGROUP_OPT,
);

const struct cmd_help detach_help = {
	.forms = FORMS({ .words = "IFACE" }, { .words = "--cgroup PATH" },
		       { .words = "--all" }),
	.opts = detach_opts,
	.text =
	"Remove what op25b attached to IFACE (and a clsact qdisc only if op25b\n"
	"made it), or everything this pin dir attached in this network namespace\n"
	"and to cgroups with --all (never abbreviated). An op25b program on IFACE\n"
	"that no pin dir records (its pin dir was removed) is removed too.\n"
	"--cgroup PATH takes op25b's socket hooks off that cgroup, disarmed\n"
	"first, and leaves every other program there as it is.\n",
};

static int do_detach_cgroup(int argc, char **argv)
{
	char rel[OP25B_CGROUP_PATH];
	bool found;
	int rc;

	rc = cgroup_words("detach", argc, argv, rel, sizeof(rel));
	if (!rc)
		rc = cg_detach(rel, &found);
	if (!rc && !found) {
		p_err("op25b is not attached to cgroup %s", cgroup_shown(rel));
		return EXIT_USAGE;
	}
	return rc;
}

int do_detach(int argc, char **argv)
{
	const char *ifname = NULL;
	struct args a = ARGS_POS("detach", argc, argv, &ifname, 1);
	bool all, set_up;
	int rc;

	if (words_cgroup(argc, argv) && !args_want_help(argc, argv) &&
	    !(argc && !strcmp(argv[0], "--all")))
		return do_detach_cgroup(argc, argv);
	if (args_all(&a, detach_opts))
		return EXIT_USAGE;
	all = args_given(&a, OPT_ALL);
	if (args_given(&a, OPT_CGROUP)) {
		p_err("detach: --cgroup PATH, or --all, not both");
		return EXIT_USAGE;
	}
	if (all && ifname) {
		p_err("detach: unexpected argument '%s'", ifname);
		return EXIT_USAGE;
	}
	if (!all && !ifname) {
		p_err("detach: missing IFACE or --all");
		return EXIT_USAGE;
	}
	rc = pin_dir_state(&set_up);
	if (rc)
		return rc;
	if (!set_up) {
		size_t hits = 0;
		int ifindex;

		if (all) {
			p_info("nothing to detach");
			open_json_array(NULL);
			close_json_array();
			return EXIT_OK;
		}
		/* nothing of ours, but maybe an op25b whose pin dir is gone */
		ifindex = (int)if_nametoindex(ifname);
		rc = ifindex ? detach_orphans(NULL, 0, ifindex, &hits) : EXIT_OK;
		if (rc || hits)
			return rc;
		p_err("op25b is not attached to '%s'", ifname);
		return EXIT_USAGE;
	}
	return detach_records(ifname);
}
