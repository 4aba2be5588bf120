// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * attach and detach: putting the datapath on interfaces and taking off
 * exactly what op25b put there, as recorded in the pinned attachments map.
 * What status shows of them is in status.c.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/pkt_sched.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>
#include <netlink/route/link.h>
#include "op25bctl.h"
#include "attach.h"
#include "op25b.skel.h"

#define NETNS_PATH	"/proc/self/ns/net"

struct attach_req {
	const char *ifname;
	int ifindex;
	enum op25b_hook hook;
	__u32 xdp_mode;		/* XDP_FLAGS_*_MODE, 0: the kernel picks */
	bool force;
	bool l3;
	__u32 policy_id;	/* our policy map: what makes an op25b ours */
	enum op25b_layer layer;	/* whose it is (doc/DESIGN.md, "Layers") */
	__u32 owner;
};

/*
 * An op25b program of another pin dir is another instance's: it is not
 * replaced without --force. Returns EXIT_OK when fd's program reads our
 * policy map, or when told to take it anyway.
 */
static int op25b_ours(const struct attach_req *r, int fd, __u32 id)
{
	__u32 maps[64], len, i, n;
	struct bpf_prog_info info;
	char owner[PATH_MAX];

	if (r->force || !r->policy_id)
		return EXIT_OK;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)maps;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return EXIT_OK;
	n = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
	for (i = 0; i < n; i++)
		if (maps[i] == r->policy_id)
			return EXIT_OK;
	if (pin_dir_of_maps(maps, n, owner, sizeof(owner)))
		p_err("'%s' already has the op25b of pin dir %s (program id %u); use --force to replace it",
		      r->ifname, owner, id);
	else
		p_err("'%s' already has an op25b program no pin dir records (program id %u); use --force to replace it, or 'detach %s'",
		      r->ifname, id, r->ifname);
	return EXIT_RUNTIME;
}

/* One attachment of the current namespace, as recorded. */

/* ---- small lookups ---- */

/* ifindex is per namespace, so every record names its namespace. */
static int netns_ino(__u64 *ino)
{
	struct stat st;

	if (stat(NETNS_PATH, &st)) {
		p_err("cannot stat %s: %s", NETNS_PATH, strerror(errno));
		return EXIT_RUNTIME;
	}
	*ino = st.st_ino;
	return EXIT_OK;
}

bool ifindex_alive(__u32 ifindex)
{
	char name[IF_NAMESIZE];

	return if_indextoname(ifindex, name) != NULL;
}

static int prog_info(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, len);
	return bpf_obj_get_info_by_fd(fd, info, &len);
}

static __u32 prog_id_of(int fd)
{
	struct bpf_prog_info info;

	return prog_info(fd, &info) ? 0 : info.id;
}

bool is_tc_hook(__u32 hook)
{
	return hook == OP25B_HOOK_TC_INGRESS || hook == OP25B_HOOK_TC_EGRESS;
}

static enum bpf_tc_attach_point tc_point(__u32 hook)
{
	return hook == OP25B_HOOK_TC_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS;
}

/* Hook 0: not chosen yet (a pending record): its device's type decides. */
static const char *hook_name(__u32 hook)
{
	return hook == OP25B_HOOK_XDP ? "xdp" : hook ? "tc" : "auto";
}

/* XDP: the mode; tc: the direction. */
static const char *hook_detail(__u32 hook, __u32 flags)
{
	if (hook == OP25B_HOOK_TC_INGRESS)
		return "ingress";
	if (hook == OP25B_HOOK_TC_EGRESS)
		return "egress";
	if (flags & OP25B_AF_XDP_NATIVE)
		return "native";
	if (flags & OP25B_AF_XDP_GENERIC)
		return "generic";
	return NULL;
}

/* "xdp native", "tc egress", or "xdp" when the mode is not known. */
static const char *hook_label(__u32 hook, __u32 flags)
{
	static char buf[32];
	const char *detail = hook_detail(hook, flags);

	snprintf(buf, sizeof(buf), "%s%s%s", hook_name(hook),
		 detail ? " " : "", detail ? detail : "");
	return buf;
}

void print_hook(enum output_type t, __u32 hook, __u32 flags)
{
	const char *detail = hook_detail(hook, flags);

	print_string(t, "hook", "%s", hook_name(hook));
	if (detail)
		print_string(t, hook == OP25B_HOOK_XDP ? "mode" : "direction",
			     " %s", detail);
}

/* ---- libnl: device type and clsact filters ---- */

static struct nl_sock *nl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk) {
		p_err("cannot allocate a netlink socket");
		return NULL;
	}
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err) {
		p_err("cannot open rtnetlink: %s", nl_geterror(err));
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

static int link_arptype(const char *ifname, int ifindex, unsigned int *type)
{
	struct rtnl_link *link;
	struct nl_sock *sk;
	int err;

	sk = nl_open();
	if (!sk)
		return EXIT_RUNTIME;
	err = rtnl_link_get_kernel(sk, ifindex, NULL, &link);
	nl_socket_free(sk);
	if (err) {
		p_err("cannot query interface '%s': %s", ifname,
		      nl_geterror(err));
		return EXIT_RUNTIME;
	}
	*type = rtnl_link_get_arptype(link);
	rtnl_link_put(link);
	return EXIT_OK;
}

/* Filters left on one side of clsact, ours having been removed already. */
static int clsact_filters(struct nl_sock *sk, int ifindex, __u32 minor)
{
	struct nl_cache *cache;
	int n;

	if (rtnl_cls_alloc_cache(sk, ifindex, TC_H_MAKE(TC_H_CLSACT, minor),
				 &cache))
		return -1;
	n = nl_cache_nitems(cache);
	nl_cache_free(cache);
	return n;
}

/* Someone else's filters keep the qdisc; on doubt, keep it too. */
static bool clsact_in_use(int ifindex)
{
	struct nl_sock *sk;
	int in, out;

	sk = nl_open();
	if (!sk)
		return true;
	in = clsact_filters(sk, ifindex, TC_H_MIN_INGRESS);
	out = clsact_filters(sk, ifindex, TC_H_MIN_EGRESS);
	nl_socket_free(sk);
	return in != 0 || out != 0;
}

/* ---- the attachments map ---- */

/* Every record of the current namespace; *out is malloc'd. */
int records_load(int map_fd, struct record **out, size_t *n)
{
	struct op25b_attach_key key, last, *prev = NULL;
	struct record *recs;
	size_t cap = 64;
	__u64 ino;
	int rc;

	*out = NULL;
	*n = 0;
	rc = netns_ino(&ino);
	if (rc)
		return rc;
	recs = calloc(cap, sizeof(*recs));
	if (!recs) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	while (!bpf_map_get_next_key(map_fd, prev, &key)) {
		char now[IF_NAMESIZE];
		struct record *r;

		last = key;
		prev = &last;
		if (*n == cap) {
			struct record *nr = realloc(recs, 2 * cap * sizeof(*recs));

			if (!nr) {
				free(recs);
				p_err("out of memory");
				return EXIT_RUNTIME;
			}
			recs = nr;
			cap *= 2;
		}
		r = &recs[*n];
		r->key = key;
		if (key.netns_ino != ino ||
		    bpf_map_lookup_elem(map_fd, &r->key, &r->val))
			continue;
		/*
		 * A device renamed since: the record learns its name, so that
		 * it waits for that one if the device goes (never made anew).
		 */
		if (key.ifindex < OP25B_IFINDEX_PENDING &&
		    if_indextoname(key.ifindex, now) &&
		    strncmp(now, r->val.ifname, sizeof(r->val.ifname))) {
			snprintf(r->val.ifname, sizeof(r->val.ifname), "%s", now);
			bpf_map_update_elem(map_fd, &r->key, &r->val, BPF_EXIST);
		}
		(*n)++;
	}
	*out = recs;
	return EXIT_OK;
}

static bool record_find(int map_fd, const struct op25b_attach_key *key,
			struct op25b_attach_val *val)
{
	return !bpf_map_lookup_elem(map_fd, key, val);
}

/* Does another tc record still use this device's clsact qdisc? */
static bool tc_siblings(int map_fd, const struct op25b_attach_key *key)
{
	struct op25b_attach_key k = *key;
	struct op25b_attach_val v;

	k.hook = key->hook == OP25B_HOOK_TC_INGRESS ? OP25B_HOOK_TC_EGRESS :
						      OP25B_HOOK_TC_INGRESS;
	return record_find(map_fd, &k, &v);
}

static int record_store(int map_fd, const struct op25b_attach_key *key,
			const struct op25b_attach_val *val)
{
	int err = bpf_map_update_elem(map_fd, key, val, BPF_ANY);

	if (err) {
		p_err("attached to '%s' but cannot record it: %s", val->ifname,
		      errstr(err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* ---- XDP ---- */

static const char *xdp_mode_name(__u32 mode)
{
	return mode == XDP_FLAGS_SKB_MODE ? "generic" : "native";
}

static __u32 xdp_slot(const struct bpf_xdp_query_opts *q, __u32 mode)
{
	if (mode == XDP_FLAGS_SKB_MODE)
		return q->skb_prog_id;
	if (mode == XDP_FLAGS_DRV_MODE)
		return q->drv_prog_id;
	return 0;
}

static int xdp_query(const char *ifname, int ifindex,
		     struct bpf_xdp_query_opts *q)
{
	int err = bpf_xdp_query(ifindex, 0, q);

	if (err) {
		p_err("cannot query XDP on '%s': %s", ifname, errstr(err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/*
 * An fd for the program now in the slot, to replace it atomically; only an
 * op25b program is replaced without --force.
 */
static int xdp_take_over(const struct attach_req *r, __u32 id, int *old_fd)
{
	struct bpf_prog_info info;
	int fd;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0 || prog_info(fd, &info)) {
		p_err("cannot open the XDP program on '%s' (id %u): %s",
		      r->ifname, id, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_RUNTIME;
	}
	if (strcmp(info.name, OP25B_PROG_XDP) && !r->force) {
		p_err("'%s' already has XDP program '%s' (id %u); use --force to replace it",
		      r->ifname, info.name, id);
		close(fd);
		return EXIT_RUNTIME;
	}
	if (op25b_ours(r, fd, id)) {
		close(fd);
		return EXIT_RUNTIME;
	}
	*old_fd = fd;
	return EXIT_OK;
}

/* Which mode the kernel put our program in. */
static __u32 xdp_mode_flag(const struct attach_req *r, __u32 prog_id)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(r->ifindex, 0, &q))
		return 0;
	if (q.drv_prog_id == prog_id)
		return OP25B_AF_XDP_NATIVE;
	if (q.skb_prog_id == prog_id)
		return OP25B_AF_XDP_GENERIC;
	return 0;
}

/*
 * Native and generic XDP cannot coexist on a device: without a mode asked
 * for, stay in the mode of what is there; with one, refuse the other.
 */
static int xdp_pick_mode(const struct attach_req *r,
			 const struct bpf_xdp_query_opts *q, __u32 *mode)
{
	__u32 other;

	*mode = r->xdp_mode;
	if (!*mode)
		*mode = q->skb_prog_id ? XDP_FLAGS_SKB_MODE :
			q->drv_prog_id ? XDP_FLAGS_DRV_MODE : 0;
	other = *mode == XDP_FLAGS_SKB_MODE ? XDP_FLAGS_DRV_MODE :
		*mode == XDP_FLAGS_DRV_MODE ? XDP_FLAGS_SKB_MODE : 0;
	if (other && xdp_slot(q, other)) {
		p_err("'%s' has an XDP program (id %u) in %s mode; detach it before attaching in %s mode",
		      r->ifname, xdp_slot(q, other), xdp_mode_name(other),
		      xdp_mode_name(*mode));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static int xdp_attach(const struct attach_req *r, struct op25b_bpf *skel,
		      struct op25b_attach_val *v)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_xdp_attach_opts, a);
	int fd = bpf_program__fd(skel->progs.op25b_xdp), old_fd = -1;
	__u32 mode, cur, flags;
	int err, rc;

	rc = xdp_query(r->ifname, r->ifindex, &q);
	if (!rc)
		rc = xdp_pick_mode(r, &q, &mode);
	if (rc)
		return rc;
	cur = xdp_slot(&q, mode);
	if (cur) {
		rc = xdp_take_over(r, cur, &old_fd);
		if (rc)
			return rc;
		a.old_prog_fd = old_fd;
	}
	/* Swap in place, or fail if someone raced us into an empty slot. */
	flags = mode | (cur ? XDP_FLAGS_REPLACE : XDP_FLAGS_UPDATE_IF_NOEXIST);
	err = bpf_xdp_attach(r->ifindex, fd, flags, &a);
	if (old_fd >= 0)
		close(old_fd);
	if (err == -ERANGE) {
		/* the driver's answer to an MTU beyond one page per frame */
		p_err("cannot attach native XDP to '%s': its MTU needs multi-buffer frames, which op25b does not take (use --xdp-mode generic or --hook tc)",
		      r->ifname);
		return EXIT_RUNTIME;
	}
	if (err) {
		p_err("cannot attach XDP to '%s': %s", r->ifname, errstr(err));
		return EXIT_RUNTIME;
	}
	v->prog_id = prog_id_of(fd);
	v->flags |= xdp_mode_flag(r, v->prog_id);
	return EXIT_OK;
}

#define NOT_OURS "the program there is no longer op25b's"

/*
 * Detach only while the program in place is still the recorded one; else
 * *kept says why nothing was removed.
 */
static int xdp_detach(const struct record *rec, const char **kept)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_xdp_attach_opts, a);
	const char *ifname = rec->val.ifname;
	__u32 mode;
	int err, rc;

	rc = xdp_query(ifname, rec->key.ifindex, &q);
	if (rc)
		return rc;
	mode = q.drv_prog_id == rec->val.prog_id ? XDP_FLAGS_DRV_MODE :
	       q.skb_prog_id == rec->val.prog_id ? XDP_FLAGS_SKB_MODE : 0;
	if (!mode) {
		*kept = NOT_OURS;
		return EXIT_OK;
	}
	a.old_prog_fd = bpf_prog_get_fd_by_id(rec->val.prog_id);
	if (a.old_prog_fd < 0) {
		p_err("cannot open the XDP program on '%s': %s", ifname,
		      strerror(errno));
		return EXIT_RUNTIME;
	}
	err = bpf_xdp_detach(rec->key.ifindex, mode | XDP_FLAGS_REPLACE, &a);
	close(a.old_prog_fd);
	if (err) {
		p_err("cannot detach XDP from '%s': %s", ifname, errstr(err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* ---- tc ---- */

/* The program id at op25b's handle and priority, 0 when there is none. */
__u32 tc_slot(int ifindex, __u32 hook)
{
	LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex,
		    .attach_point = tc_point(hook));
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = OP25B_TC_HANDLE,
		    .priority = OP25B_TC_PRIORITY);

	return bpf_tc_query(&h, &o) ? 0 : o.prog_id;
}

static int tc_check_slot(const struct attach_req *r)
{
	struct bpf_prog_info info;
	__u32 id = tc_slot(r->ifindex, r->hook);
	int fd;

	if (!id || r->force)
		return EXIT_OK;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd >= 0 && !prog_info(fd, &info) &&
	    !strcmp(info.name, OP25B_PROG_TC)) {
		int rc = op25b_ours(r, fd, id);

		close(fd);
		return rc;
	}
	p_err("'%s' already has a tc filter (program id %u) at handle %#x priority %u; use --force to replace it",
	      r->ifname, id, OP25B_TC_HANDLE, OP25B_TC_PRIORITY);
	if (fd >= 0)
		close(fd);
	return EXIT_RUNTIME;
}

/*
 * clsact serves both directions: when it already exists, it is still ours
 * if a live op25b filter sits on a qdisc that op25b recorded creating.
 */
static bool tc_qdisc_ours(int map_fd, const struct op25b_attach_key *key)
{
	struct op25b_attach_key k = *key;
	struct op25b_attach_val v;
	__u32 hooks[] = { OP25B_HOOK_TC_INGRESS, OP25B_HOOK_TC_EGRESS };
	size_t i;

	for (i = 0; i < 2; i++) {
		k.hook = hooks[i];
		if (record_find(map_fd, &k, &v) &&
		    (v.flags & OP25B_AF_QDISC_CREATED) &&
		    tc_slot(k.ifindex, k.hook) == v.prog_id)
			return true;
	}
	return false;
}

static void tc_qdisc_destroy(int ifindex, const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err = bpf_tc_hook_destroy(&h);

	if (err && err != -ENOENT)
		p_info("cannot remove the clsact qdisc of '%s': %s", ifname,
		       errstr(err));
}

static int tc_attach(const struct attach_req *r, struct op25b_bpf *skel,
		     int map_fd, const struct op25b_attach_key *key,
		     struct op25b_attach_val *v)
{
	LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = r->ifindex,
		    .attach_point = tc_point(r->hook));
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = OP25B_TC_HANDLE,
		    .priority = OP25B_TC_PRIORITY, .flags = BPF_TC_F_REPLACE,
		    .prog_fd = bpf_program__fd(skel->progs.op25b_tc));
	int err, rc;

	err = bpf_tc_hook_create(&h);
	if (err && err != -EEXIST) {
		p_err("cannot create the clsact qdisc on '%s': %s", r->ifname,
		      errstr(err));
		return EXIT_RUNTIME;
	}
	if (!err || tc_qdisc_ours(map_fd, key))
		v->flags |= OP25B_AF_QDISC_CREATED;
	rc = tc_check_slot(r);
	if (!rc) {
		err = bpf_tc_attach(&h, &o);
		if (err) {
			p_err("cannot attach tc to '%s': %s", r->ifname,
			      errstr(err));
			rc = EXIT_RUNTIME;
		}
	}
	if (rc) {
		if ((v->flags & OP25B_AF_QDISC_CREATED) &&
		    !tc_siblings(map_fd, key) && !clsact_in_use(r->ifindex))
			tc_qdisc_destroy(r->ifindex, r->ifname);
		return rc;
	}
	v->prog_id = o.prog_id;
	v->tc_handle = OP25B_TC_HANDLE;
	v->tc_priority = OP25B_TC_PRIORITY;
	return EXIT_OK;
}

static int tc_detach(const struct record *rec, const char **kept)
{
	LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = rec->key.ifindex,
		    .attach_point = tc_point(rec->key.hook));
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = rec->val.tc_handle,
		    .priority = rec->val.tc_priority);
	int err;

	if (tc_slot(rec->key.ifindex, rec->key.hook) != rec->val.prog_id) {
		*kept = NOT_OURS;
		return EXIT_OK;
	}
	err = bpf_tc_detach(&h, &o);
	if (err && err != -ENOENT) {
		p_err("cannot detach tc from '%s': %s", rec->val.ifname,
		      errstr(err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* The qdisc goes only if op25b made it and nothing else still needs it. */
static void tc_release_qdisc(int map_fd, const struct record *rec)
{
	if (!(rec->val.flags & OP25B_AF_QDISC_CREATED) ||
	    tc_siblings(map_fd, &rec->key))
		return;
	if (clsact_in_use(rec->key.ifindex)) {
		p_info("left the clsact qdisc on '%s': other filters use it",
		       rec->val.ifname);
		return;
	}
	tc_qdisc_destroy(rec->key.ifindex, rec->val.ifname);
}

/* ---- attach ---- */

const struct opt attach_opts[] = {
	ATTACH_OPTS,
	{ NULL },
};

const struct cmd_help attach_help = {
	.args = "IFACE",
	.opts = attach_opts,
	.text =
	"Attach the datapath to IFACE. Ethernet devices get XDP (native when the\n"
	"driver has it); devices without an Ethernet header (tun, ppp) get tc\n"
	"ingress, parsing from the IP header. --hook tc --direction egress\n"
	"judges what the host itself sends (a router's WAN side). Attaching again\n"
	"replaces the program in place: no moment without enforcement. A program\n"
	"op25b did not load, or the op25b of another pin dir, is replaced only\n"
	"with --force.\n",
};

void attach_opts_take(struct attach_args *a, const struct args *w)
{
	a->hook = w->val[ATTACH_OPT_HOOK];
	a->mode = w->val[ATTACH_OPT_MODE];
	a->dir = w->val[ATTACH_OPT_DIR];
	a->force = args_given(w, ATTACH_OPT_FORCE);
}

int attach_args_parse(int argc, char **argv, struct attach_args *a)
{
	struct args w = ARGS_POS("attach", argc, argv, &a->ifname, 1);

	memset(a, 0, sizeof(*a));
	if (args_all(&w, attach_opts))
		return EXIT_USAGE;
	attach_opts_take(a, &w);
	if (!a->ifname) {
		p_err("attach: missing IFACE");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Option values and their combinations, before any device is looked at. */
int attach_args_check(const struct attach_args *a)
{
	if (a->hook && strcmp(a->hook, "xdp") && strcmp(a->hook, "tc")) {
		p_err("bad hook '%s': must be xdp or tc", a->hook);
		return EXIT_USAGE;
	}
	if (a->mode && strcmp(a->mode, "native") && strcmp(a->mode, "generic")) {
		p_err("bad xdp mode '%s': must be native or generic", a->mode);
		return EXIT_USAGE;
	}
	if (a->dir && strcmp(a->dir, "ingress") && strcmp(a->dir, "egress")) {
		p_err("bad direction '%s': must be ingress or egress", a->dir);
		return EXIT_USAGE;
	}
	if (a->mode && (a->dir || (a->hook && !strcmp(a->hook, "tc")))) {
		p_err("--xdp-mode applies to --hook xdp only");
		return EXIT_USAGE;
	}
	if (a->dir && a->hook && !strcmp(a->hook, "xdp")) {
		p_err("--direction applies to --hook tc only");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/*
 * Ethernet devices get XDP; devices without an Ethernet header (tun, ppp)
 * get tc ingress and a parser that starts at the IP header.
 */
static int attach_req_build(const struct attach_args *a, struct attach_req *r)
{
	unsigned int type;
	bool xdp;
	int rc;

	memset(r, 0, sizeof(*r));
	r->ifname = a->ifname;
	r->force = a->force;
	r->layer = a->layer;
	r->owner = a->owner;
	r->ifindex = strlen(a->ifname) < IF_NAMESIZE ?
		     if_nametoindex(a->ifname) : 0;
	if (!r->ifindex) {
		p_err("unknown interface '%s'", a->ifname);
		return EXIT_USAGE;
	}
	rc = link_arptype(a->ifname, r->ifindex, &type);
	if (rc)
		return rc;
	if (type == ARPHRD_LOOPBACK) {
		p_err("'%s' is a loopback device: op25b does not attach there",
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
static bool syncing;

static void attach_report(const struct attach_req *r,
			  const struct op25b_attach_val *v)
{
	p_info("attached op25b to %s (%s)", r->ifname,
	       hook_label(r->hook, v->flags));
	if (syncing)
		return;
	open_json_object(NULL);
	print_string(PRINT_JSON, "ifname", NULL, r->ifname);
	print_uint(PRINT_JSON, "ifindex", NULL, r->ifindex);
	print_hook(PRINT_JSON, r->hook, v->flags);
	print_bool(PRINT_JSON, "l3", NULL, r->l3);
	print_uint(PRINT_JSON, "prog_id", NULL, v->prog_id);
	close_json_object();
}

static int attach_map_open(int *fd);

/*
 * How long a layer means an attachment to last: the file's as long as the
 * policy, watch's as long as its pattern, a session's as long as it.
 */
static int layer_durability(enum op25b_layer l)
{
	return l == OP25B_LAYER_FILE ? 3 : l == OP25B_LAYER_WATCH ? 2 : 1;
}

/*
 * An attachment another layer holds already stays that layer's when it
 * lasts longer: a session's end must not take away what watch or the
 * file asked for on the same device.
 */
static void owner_keep(int map_fd, const struct op25b_attach_key *key,
		       struct op25b_attach_val *val)
{
	struct op25b_attach_val old;

	if (record_find(map_fd, key, &old) &&
	    layer_durability(old.layer) > layer_durability(val->layer)) {
		val->layer = old.layer;
		val->owner = old.owner;
	}
}

bool record_pending(const struct record *rec)
{
	return rec->key.ifindex >= OP25B_IFINDEX_PENDING;
}

bool record_gone(const struct record *rec)
{
	return !record_pending(rec) && !ifindex_alive(rec->key.ifindex);
}

/* The name a record goes by now: a live device's own, else as recorded. */
const char *record_name(const struct record *rec, char *buf)
{
	if (!record_pending(rec) && if_indextoname(rec->key.ifindex, buf))
		return buf;
	if (buf != rec->val.ifname)
		memcpy(buf, rec->val.ifname, IF_NAMESIZE);
	buf[IF_NAMESIZE - 1] = '\0';
	return buf;
}

/*
 * Records that wait for a name (pending, or of a device that went) are
 * done with once a device of that name has the hook: hook 0 (the default
 * for the device's type) matches either.
 */
static void pending_forget(int map_fd, __u64 ino, const char *name,
			   __u32 hook)
{
	struct record *recs;
	size_t i, n;

	if (records_load(map_fd, &recs, &n))
		return;
	for (i = 0; i < n; i++) {
		if (!(record_pending(&recs[i]) || record_gone(&recs[i])) ||
		    recs[i].key.netns_ino != ino ||
		    strncmp(recs[i].val.ifname, name, sizeof(recs[i].val.ifname)) ||
		    (recs[i].key.hook && recs[i].key.hook != hook))
			continue;
		bpf_map_delete_elem(map_fd, &recs[i].key);
	}
	free(recs);
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
		rc = pin_dir_prepare(true);
	if (!rc)
		rc = pin_lock();
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

static int attach_run(const struct attach_req *r)
{
	return attach_run_cached(r, NULL);
}

int attach_iface(const struct attach_args *a, struct op25b_bpf **cache)
{
	struct attach_req r;
	int rc;

	rc = attach_req_build(a, &r);
	syncing = true;	/* the caller reports in its own words */
	if (!rc)
		rc = attach_run_cached(&r, cache);
	syncing = false;
	return rc;
}

int records_forget(__u32 ifindex, size_t *n)
{
	struct op25b_attach_key key, next, *prev = NULL;
	__u64 ino;
	int map_fd, rc;

	*n = 0;
	rc = netns_ino(&ino);
	if (!rc)
		rc = pin_lock();
	if (!rc)
		rc = attach_map_open(&map_fd);
	if (rc) {
		pin_unlock();
		return rc;
	}
	while (!bpf_map_get_next_key(map_fd, prev, &next)) {
		key = next;
		struct op25b_attach_val v;

		/* the file's stay, waiting for the name (doc/DESIGN.md, "Layers") */
		if (key.netns_ino == ino && key.ifindex == ifindex &&
		    !bpf_map_lookup_elem(map_fd, &key, &v) &&
		    v.layer == OP25B_LAYER_WATCH &&
		    !bpf_map_delete_elem(map_fd, &key)) {
			(*n)++;
			prev = NULL;	/* the walk starts over after a delete */
			continue;
		}
		prev = &key;
	}
	close(map_fd);
	pin_unlock();
	return EXIT_OK;
}

int do_attach(int argc, char **argv)
{
	struct attach_args a;
	struct attach_req r;
	int rc;

	rc = attach_args_parse(argc, argv, &a);
	if (!rc)
		rc = attach_args_check(&a);
	if (!rc)
		rc = attach_req_build(&a, &r);
	if (!rc)
		rc = attach_run(&r);
	return rc;
}

/* ---- op25b programs no record of this pin dir names ---- */

/* The name of program id, "" when it cannot be read. */
static void prog_name_of(__u32 id, char *name, size_t len)
{
	struct bpf_prog_info info;
	int fd = bpf_prog_get_fd_by_id(id);

	name[0] = '\0';
	if (fd < 0)
		return;
	if (!prog_info(fd, &info))
		snprintf(name, len, "%s", info.name);
	close(fd);
}

static bool recorded(const struct record *recs, size_t n, __u32 ifindex,
		     __u32 hook, __u32 prog_id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (recs[i].key.ifindex == ifindex && recs[i].key.hook == hook &&
		    recs[i].val.prog_id == prog_id)
			return true;
	return false;
}

static int orphan_add(struct record **v, size_t *n, const char *ifname,
		      __u32 ifindex, __u32 hook, __u32 prog_id, __u32 flags)
{
	struct record *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	nv[*n].key.ifindex = ifindex;
	nv[*n].key.hook = hook;
	nv[*n].val.prog_id = prog_id;
	nv[*n].val.flags = flags;
	nv[*n].val.tc_handle = OP25B_TC_HANDLE;
	nv[*n].val.tc_priority = OP25B_TC_PRIORITY;
	snprintf(nv[*n].val.ifname, sizeof(nv[*n].val.ifname), "%s", ifname);
	(*n)++;
	return EXIT_OK;
}

/*
 * op25b programs attached in this namespace that recs (this pin dir's
 * records) do not name: another instance's, or one whose pin dir is gone.
 */
int orphans_find(const struct record *recs, size_t nrec,
			struct record **out, size_t *n)
{
	static const __u32 tc_hooks[] = { OP25B_HOOK_TC_INGRESS,
					  OP25B_HOOK_TC_EGRESS };
	struct if_nameindex *ifs = if_nameindex(), *it;
	char name[BPF_OBJ_NAME_LEN];
	int rc = EXIT_OK;
	size_t h;

	*out = NULL;
	*n = 0;
	for (it = ifs; it && it->if_index && !rc; it++) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		__u32 ids[2], flags[2] = { OP25B_AF_XDP_NATIVE,
					   OP25B_AF_XDP_GENERIC }, i;

		if (!bpf_xdp_query(it->if_index, 0, &q)) {
			ids[0] = q.drv_prog_id;
			ids[1] = q.skb_prog_id;
			for (i = 0; i < 2 && !rc; i++) {
				if (!ids[i] || recorded(recs, nrec, it->if_index,
							OP25B_HOOK_XDP, ids[i]))
					continue;
				prog_name_of(ids[i], name, sizeof(name));
				if (!strcmp(name, OP25B_PROG_XDP))
					rc = orphan_add(out, n, it->if_name,
							it->if_index, OP25B_HOOK_XDP,
							ids[i], flags[i]);
			}
		}
		for (h = 0; h < 2 && !rc; h++) {
			__u32 id = tc_slot(it->if_index, tc_hooks[h]);

			if (!id || recorded(recs, nrec, it->if_index, tc_hooks[h], id))
				continue;
			prog_name_of(id, name, sizeof(name));
			if (!strcmp(name, OP25B_PROG_TC))
				rc = orphan_add(out, n, it->if_name, it->if_index,
						tc_hooks[h], id, 0);
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	return rc;
}

/* Whose an op25b program is: "pin dir X", or "no pin dir". */
void orphan_owner(const struct record *o, char *buf, size_t len)
{
	__u32 maps[64], ilen;
	struct bpf_prog_info info;
	char dir[PATH_MAX];
	int fd = bpf_prog_get_fd_by_id(o->val.prog_id);

	snprintf(buf, len, "no pin dir");
	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)maps;
	ilen = sizeof(info);
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen) &&
	    pin_dir_of_maps(maps, info.nr_map_ids < 64 ? info.nr_map_ids : 64,
			    dir, sizeof(dir)))
		snprintf(buf, len, "pin dir %s", dir);
	close(fd);
}

/* ---- detach ---- */

static bool dir_empty(const char *path)
{
	struct dirent *de;
	bool empty = true;
	DIR *d;

	d = opendir(path);
	if (!d)
		return true;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

static bool parent_on_bpffs(const char *path)
{
	char parent[PATH_MAX];
	struct statfs st;

	snprintf(parent, sizeof(parent), "%s", path);
	return !statfs(dirname(parent), &st) && st.f_type == BPF_FS_MAGIC;
}

/*
 * For status and detach, nothing set up yet is a normal state, not an
 * error; a pin dir that cannot exist (no bpffs under it) is.
 */
int pin_dir_state(bool *set_up)
{
	int rc;

	*set_up = false;
	if (access(g.pin_dir, F_OK) && errno == ENOENT)
		return parent_on_bpffs(g.pin_dir) ? EXIT_OK :
						    pin_dir_prepare(false);
	rc = pin_dir_prepare(false);
	if (!rc)
		*set_up = !dir_empty(g.pin_dir);
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
	if (syncing)
		return;
	open_json_object(NULL);
	print_string(PRINT_JSON, "ifname", NULL, rec->val.ifname);
	print_hook(PRINT_JSON, rec->key.hook, rec->val.flags);
	print_bool(PRINT_JSON, "detached", NULL, !kept);
	if (kept)
		print_string(PRINT_JSON, "reason", NULL, kept);
	close_json_object();
}

static int detach_one(int map_fd, const struct record *rec)
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

static bool attach_pinned(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_ATTACH);
	return !access(path, F_OK);
}

/*
 * Detach needs the attachments map only, and must work when another pin is
 * damaged: "detach --all" is the way out of that state.
 */
static int attach_map_open(int *fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_ATTACH);
	*fd = bpf_obj_get(path);
	if (*fd < 0) {
		p_err("cannot open pinned map '%s': %s", path, strerror(errno));
		return EXIT_RUNTIME;
	}
	if (bpf_obj_get_info_by_fd(*fd, &info, &len) ||
	    info.key_size != sizeof(struct op25b_attach_key) ||
	    info.value_size != sizeof(struct op25b_attach_val)) {
		p_err("pinned map '%s' does not match this op25b version",
		      path);
		close(*fd);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
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

	rc = pin_dir_prepare(false);
	if (!rc)
		rc = pin_lock();
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
		if (!hits)
			p_info("nothing to detach");
		open_json_array(NULL);
		for (i = 0; i < n; i++) {
			if (!record_selected(&recs[i], ifname, ifindex))
				continue;
			rc = detach_one(map_fd, &recs[i]);
			if (rc > worst)
				worst = rc;
		}
		close_json_array();
	}
	free(recs);
	close(map_fd);
	return worst;
}

enum { OPT_ALL = 1 };

/* --all is never taken by a prefix: it detaches everything */
static const struct opt detach_opts[] = {
	{ .name = "--all", .id = OPT_ALL,
	  .help = "everything this pin dir attached in this namespace" },
	{ NULL },
};

const struct cmd_help detach_help = {
	.forms = (const struct usage[]){
		{ .words = "IFACE" },
		{ .words = "--all" },
		{ NULL },
	},
	.opts = detach_opts,
	.text =
	"Remove what op25b attached to IFACE (and a clsact qdisc only if op25b\n"
	"made it), or everything this pin dir attached in this network namespace\n"
	"with --all (never abbreviated). An op25b program on IFACE that no pin\n"
	"dir records (its pin dir was removed) is removed too.\n",
};

int do_detach(int argc, char **argv)
{
	const char *ifname = NULL;
	struct args a = ARGS_POS("detach", argc, argv, &ifname, 1);
	bool all, set_up;
	int rc;

	if (args_all(&a, detach_opts))
		return EXIT_USAGE;
	all = args_given(&a, OPT_ALL);
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

/* What the kernel has in the recorded slot now. */
__u32 attached_prog_id(const struct record *rec)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (is_tc_hook(rec->key.hook))
		return tc_slot(rec->key.ifindex, rec->key.hook);
	if (bpf_xdp_query(rec->key.ifindex, 0, &q))
		return 0;
	if (q.drv_prog_id == rec->val.prog_id ||
	    q.skb_prog_id == rec->val.prog_id)
		return rec->val.prog_id;
	return 0;
}

/* ---- attachments as statements: apply and save ---- */

static bool iface_exists(const char *name)
{
	return strlen(name) < IF_NAMESIZE && if_nametoindex(name);
}

/* A want whose interface does not exist: its hook as given, or 0. */
static int want_pending(const struct attach_args *a, struct attach_want *w)
{
	char q[TOKEN_QUOTE_LEN];

	if (strlen(a->ifname) >= IF_NAMESIZE || strchr(a->ifname, '/') ||
	    strspn(a->ifname, " \t") || !*a->ifname) {
		p_err("bad interface name '%s'",
		      token_quote(a->ifname, q, sizeof(q)));
		return EXIT_USAGE;
	}
	snprintf(w->ifname, sizeof(w->ifname), "%s", a->ifname);
	w->hook = a->hook && !strcmp(a->hook, "xdp") ? OP25B_HOOK_XDP :
		  a->mode ? OP25B_HOOK_XDP :
		  a->dir && !strcmp(a->dir, "egress") ? OP25B_HOOK_TC_EGRESS :
		  a->hook || a->dir ? OP25B_HOOK_TC_INGRESS : 0;
	if (a->mode)
		w->xdp_mode = !strcmp(a->mode, "generic") ? XDP_FLAGS_SKB_MODE :
							    XDP_FLAGS_DRV_MODE;
	w->force = a->force;
	return EXIT_OK;
}

int attach_want_parse(int argc, char **argv, const char *where,
		      struct attach_want *w)
{
	struct attach_args a;
	struct attach_req r;
	int rc;

	g.err_where = where;
	memset(w, 0, sizeof(*w));
	rc = attach_args_parse(argc, argv, &a);
	if (!rc)
		rc = attach_args_check(&a);
	if (!rc && !iface_exists(a.ifname)) {
		/* not there yet: attached when it appears (boot fails closed) */
		rc = want_pending(&a, w);
		g.err_where = NULL;
		return rc;
	}
	if (!rc)
		rc = attach_req_build(&a, &r);
	g.err_where = NULL;
	if (rc)
		return rc;
	snprintf(w->ifname, sizeof(w->ifname), "%s", r.ifname);
	w->ifindex = r.ifindex;
	w->hook = r.hook;
	w->xdp_mode = r.xdp_mode;
	w->l3 = r.l3;
	w->force = r.force;
	return EXIT_OK;
}

/* Does record rec stand for want w: the same device (by its name now), hook? */
static bool want_has(const struct attach_want *w, const struct record *rec)
{
	char name[IF_NAMESIZE];

	if (w->ifindex && !record_pending(rec) && !record_gone(rec))
		return (__u32)w->ifindex == rec->key.ifindex &&
		       w->hook == rec->key.hook;
	if (w->ifindex)
		return false;	/* the device exists: only its live records */
	return !strcmp(record_name(rec, name), w->ifname) &&
	       (record_pending(rec) || record_gone(rec)) &&
	       (!w->hook || !rec->key.hook || w->hook == rec->key.hook);
}

/* The record is w, attached as w asks, and the program is still there. */
static bool want_holds(const struct attach_want *w, const struct record *rec)
{
	if (!want_has(w, rec))
		return false;
	if (!w->ifindex)
		return true;	/* waiting for its name, as asked */
	if (attached_prog_id(rec) != rec->val.prog_id)
		return false;
	if (w->hook != OP25B_HOOK_XDP || !w->xdp_mode)
		return true;
	return w->xdp_mode == XDP_FLAGS_SKB_MODE ?
		       !!(rec->val.flags & OP25B_AF_XDP_GENERIC) :
		       !!(rec->val.flags & OP25B_AF_XDP_NATIVE);
}

static const char *want_label(const struct attach_want *w)
{
	static char buf[32];

	if (w->hook == OP25B_HOOK_XDP)
		snprintf(buf, sizeof(buf), "xdp%s", !w->xdp_mode ? "" :
			 w->xdp_mode == XDP_FLAGS_SKB_MODE ? " generic" :
			 " native");
	else
		snprintf(buf, sizeof(buf), "%s", hook_label(w->hook, 0));
	return buf;
}

/*
 * A record for a device that does not exist yet: key.ifindex is a number
 * no device has (OP25B_IFINDEX_PENDING and up, from the name's hash, the
 * next free one on a collision); watch attaches it when the name appears.
 */
static int pending_store(int map_fd, const struct attach_want *w,
			 enum op25b_layer layer, __u32 owner)
{
	struct op25b_attach_key key = { .hook = w->hook };
	struct op25b_attach_val val = { .layer = layer, .owner = owner,
					.xdp_mode = w->xdp_mode }, old;
	__u32 h = 2166136261u, i;
	const char *c;
	int rc;

	rc = netns_ino(&key.netns_ino);
	if (rc)
		return rc;
	for (c = w->ifname; *c; c++)
		h = (h ^ (__u8)*c) * 16777619u;
	snprintf(val.ifname, sizeof(val.ifname), "%s", w->ifname);
	for (i = 0; i < OP25B_ATTACH_MAX; i++) {
		key.ifindex = OP25B_IFINDEX_PENDING | ((h + i) & 0x7fffffffu);
		if (!record_find(map_fd, &key, &old) ||
		    !strncmp(old.ifname, val.ifname, sizeof(val.ifname)))
			return record_store(map_fd, &key, &val);
	}
	p_err("no room to record '%s' as pending", w->ifname);
	return EXIT_RUNTIME;
}

int attach_sync_add_pending(const struct attach_want *w)
{
	int rc, map_fd;

	rc = pin_lock();
	if (!rc)
		rc = attach_map_open(&map_fd);
	if (rc)
		return rc;
	rc = pending_store(map_fd, w, OP25B_LAYER_FILE, 0);
	close(map_fd);
	return rc;
}

/* What the plan does, as a line of text and as a JSON object. */
static void sync_line(const char *sign, const char *op, const char *ifname,
		      const char *label, bool pending)
{
	open_json_object(NULL);
	print_string(PRINT_FP, NULL, "%s ", sign);
	print_string(PRINT_JSON, "op", NULL, op);
	print_string(PRINT_ANY, "attach", "attach %s", ifname);
	print_string(PRINT_ANY, "hook", " (%s", label);
	print_bool(PRINT_JSON, "pending", NULL, pending);
	print_string(PRINT_FP, NULL, "%s)", pending ?
		     ", pending: no such interface yet" : "");
	close_json_object();
	print_nl();
}

int attach_sync(const struct attach_want *w, size_t n, bool dry_run,
		size_t *changes)
{
	struct record *recs = NULL;
	size_t i, j, nrec = 0;
	int rc, map_fd = -1, worst = EXIT_OK;
	bool *keep = NULL;
	char name[IF_NAMESIZE];

	*changes = 0;
	/* nothing set up: nothing attached (a dry run creates nothing) */
	rc = pins_present() && !dry_run ? pin_lock() : EXIT_OK;
	if (!rc && pins_present())
		rc = attach_map_open(&map_fd);
	if (!rc && map_fd >= 0)
		rc = records_load(map_fd, &recs, &nrec);
	if (rc)
		goto out;
	keep = calloc(nrec + 1, sizeof(*keep));
	if (!keep) {
		p_err("out of memory");
		rc = EXIT_RUNTIME;
		goto out;
	}
	/* the file's layer only: watch's and sessions' are theirs */
	for (j = 0; j < nrec; j++)
		keep[j] = recs[j].val.layer != OP25B_LAYER_FILE;
	syncing = true;
	/* first what is wanted, so an interface that stays is never bare */
	for (i = 0; i < n; i++) {
		struct attach_req r = { .ifname = w[i].ifname,
					.ifindex = w[i].ifindex,
					.hook = w[i].hook,
					.xdp_mode = w[i].xdp_mode,
					.force = w[i].force, .l3 = w[i].l3 };
		bool held = false;

		for (j = 0; j < nrec; j++) {
			if (recs[j].val.layer != OP25B_LAYER_FILE)
				continue;
			if (want_has(&w[i], &recs[j]))
				keep[j] = true;
			held |= want_holds(&w[i], &recs[j]);
		}
		if (held)
			continue;
		if (dry_run) {
			(*changes)++;
			sync_line("+", "attach", w[i].ifname, want_label(&w[i]),
				  !w[i].ifindex);
			continue;
		}
		rc = w[i].ifindex ? attach_run(&r) :
		     map_fd >= 0 ? pending_store(map_fd, &w[i], OP25B_LAYER_FILE, 0) :
		     EXIT_OK;
		if (!rc)
			(*changes)++;
		if (!rc && !w[i].ifindex)
			p_info("%s does not exist yet: attached when it appears (op25b-watch)",
			       w[i].ifname);
		if (rc > worst)
			worst = rc;
	}
	for (j = 0; j < nrec; j++) {
		if (keep[j])
			continue;
		if (dry_run) {
			(*changes)++;
			sync_line("-", "detach", record_name(&recs[j], name),
				  hook_label(recs[j].key.hook, recs[j].val.flags),
				  record_pending(&recs[j]));
			continue;
		}
		rc = detach_one(map_fd, &recs[j]);
		if (!rc)
			(*changes)++;
		if (rc > worst)
			worst = rc;
	}
	syncing = false;
	rc = worst;
out:
	free(keep);
	free(recs);
	if (map_fd >= 0)
		close(map_fd);
	return rc;
}

static int record_order(const void *va, const void *vb)
{
	const struct record *a = va, *b = vb;
	int c = strncmp(a->val.ifname, b->val.ifname, sizeof(a->val.ifname));

	return c ? c : a->key.hook < b->key.hook ? -1 : a->key.hook > b->key.hook;
}

/* This namespace's records under g.pin_dir; none when nothing is set up. */
static int records_read(struct record **recs, size_t *n)
{
	int rc, map_fd;

	*recs = NULL;
	*n = 0;
	if (!pins_present())
		return EXIT_OK;
	rc = attach_map_open(&map_fd);
	if (rc)
		return rc;
	rc = records_load(map_fd, recs, n);
	close(map_fd);
	return rc;
}

int attach_save(FILE *f)
{
	struct record *recs = NULL;
	size_t i, nrec = 0;
	char name[IF_NAMESIZE];
	int rc;

	rc = records_read(&recs, &nrec);
	if (rc)
		return rc;
	/* canonical: by name now, then hook */
	for (i = 0; i < nrec; i++)
		record_name(&recs[i], recs[i].val.ifname);
	if (nrec)
		qsort(recs, nrec, sizeof(*recs), record_order);
	for (i = 0; i < nrec; i++) {
		const struct record *r = &recs[i];
		__u32 mode = r->val.xdp_mode;

		/* the file's layer: what watch and sessions made is theirs */
		if (r->val.layer != OP25B_LAYER_FILE)
			continue;
		snprintf(name, sizeof(name), "%.15s", r->val.ifname);
		if (!mode)
			mode = r->val.flags & OP25B_AF_XDP_GENERIC ? XDP_FLAGS_SKB_MODE :
			       r->val.flags & OP25B_AF_XDP_NATIVE ? XDP_FLAGS_DRV_MODE : 0;
		if (!r->key.hook)
			fprintf(f, "attach %s\n", name);
		else if (r->key.hook == OP25B_HOOK_XDP)
			fprintf(f, "attach %s --hook xdp%s\n", name,
				mode == XDP_FLAGS_SKB_MODE ? " --xdp-mode generic" :
				mode == XDP_FLAGS_DRV_MODE ? " --xdp-mode native" : "");
		else
			fprintf(f, "attach %s --hook tc --direction %s\n", name,
				r->key.hook == OP25B_HOOK_TC_EGRESS ? "egress" :
				"ingress");
	}
	free(recs);
	return EXIT_OK;
}

size_t attach_drop_owned(enum op25b_layer layer, __u32 owner)
{
	struct record *recs = NULL;
	size_t i, nrec = 0, n = 0;
	int map_fd;

	if (!pins_present() || pin_lock())
		return 0;
	if (attach_map_open(&map_fd))
		return 0;
	if (!records_load(map_fd, &recs, &nrec)) {
		syncing = true;
		for (i = 0; i < nrec; i++)
			if (recs[i].val.layer == layer &&
			    recs[i].val.owner == owner &&
			    !detach_one(map_fd, &recs[i]))
				n++;
		syncing = false;
	}
	free(recs);
	close(map_fd);
	return n;
}

/* The words attach would take for a record waiting for its name. */
static void args_of_record(const struct record *rec, const char *name,
			   struct attach_args *a)
{
	memset(a, 0, sizeof(*a));
	a->ifname = name;
	a->hook = rec->key.hook == OP25B_HOOK_XDP ? "xdp" :
		  rec->key.hook ? "tc" : NULL;
	a->dir = rec->key.hook == OP25B_HOOK_TC_EGRESS ? "egress" : NULL;
	a->mode = rec->val.xdp_mode == XDP_FLAGS_SKB_MODE ? "generic" :
		  rec->val.xdp_mode == XDP_FLAGS_DRV_MODE ? "native" : NULL;
	a->layer = rec->val.layer;
	a->owner = rec->val.owner;
}

int attach_pending_resolve(const char *name, struct op25b_bpf **cache,
			   size_t *done)
{
	struct record *recs = NULL;
	struct attach_args a;
	size_t i, nrec = 0;
	int rc, worst = EXIT_OK;

	*done = 0;
	if (!iface_exists(name))
		return EXIT_OK;
	rc = records_read(&recs, &nrec);
	for (i = 0; !rc && i < nrec; i++) {
		if (!(record_pending(&recs[i]) || record_gone(&recs[i])) ||
		    strncmp(recs[i].val.ifname, name, sizeof(recs[i].val.ifname)))
			continue;
		args_of_record(&recs[i], name, &a);
		rc = attach_iface(&a, cache);
		if (!rc)
			(*done)++;
		if (rc > worst)
			worst = rc;
		rc = EXIT_OK;
	}
	free(recs);
	return worst;
}

/* Names the records of this namespace wait for: pending, or gone. */
int attach_waiting(char (**names)[IF_NAMESIZE], size_t *n)
{
	struct record *recs = NULL;
	size_t i, nrec = 0;
	int rc;

	*names = NULL;
	*n = 0;
	rc = records_read(&recs, &nrec);
	if (rc)
		return rc;
	*names = calloc(nrec + 1, IF_NAMESIZE);
	if (!*names) {
		free(recs);
		return EXIT_RUNTIME;
	}
	for (i = 0; i < nrec; i++)
		if (record_pending(&recs[i]) || record_gone(&recs[i]))
			snprintf((*names)[(*n)++], IF_NAMESIZE, "%.15s",
				 recs[i].val.ifname);
	free(recs);
	return EXIT_OK;
}
