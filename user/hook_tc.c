// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The tc hook: the clsact qdisc (made only where missing, removed only if
 * op25b made it and nothing else uses it), op25b's filter slot at handle
 * OP25B_TC_HANDLE, priority OP25B_TC_PRIORITY, replaced in place; and the
 * device's type, over libnl.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>
#include <netlink/route/link.h>
#include "op25bctl.h"
#include "attachments.h"
#include "op25b.skel.h"


static enum bpf_tc_attach_point tc_point(__u32 hook)
{
	return hook == OP25B_HOOK_TC_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS;
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

int link_arptype(const char *ifname, int ifindex, unsigned int *type)
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

int tc_attach(const struct attach_req *r, struct op25b_bpf *skel,
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

int tc_detach(const struct record *rec, const char **kept)
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
void tc_release_qdisc(int map_fd, const struct record *rec)
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
