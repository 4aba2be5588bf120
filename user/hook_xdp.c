// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP hook: the mode the driver gives (native, else generic), an
 * attach that swaps the program in place, a detach of exactly the
 * recorded program. Used by the attach commands (attach.c). And what the
 * kernel has on a recorded hook now, either kind (tc's from hook_tc.c).
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "attachments.h"
#include "op25b.skel.h"

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
 * An fd for the program now in the slot, to replace it atomically. An
 * op25b program is replaced (another pin dir's only with --force); any
 * other program is kept and chained (*chain), or with --force replaced.
 */
static int xdp_take_over(const struct attach_req *r, __u32 id, int *old_fd,
			 bool *chain, char *name, size_t len)
{
	struct bpf_prog_info info;
	int fd;

	*chain = false;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0 || prog_info(fd, &info)) {
		p_err("cannot open the XDP program on '%s' (id %u): %s",
		      r->ifname, id, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_RUNTIME;
	}
	snprintf(name, len, "%s", info.name);
	if (!op25b_xdp_name(info.name)) {
		*chain = !r->force;
	} else if (op25b_ours(r, fd, id)) {
		close(fd);
		return EXIT_RUNTIME;
	}
	*old_fd = fd;
	return EXIT_OK;
}

/*
 * The slot op25b's program will chain through: a new one holding the
 * program found on the device (chain), or the one the op25b program
 * replaced already chains through (a re-attach keeps it).
 */
static int xdp_chain_slot(const struct attach_req *r, struct op25b_bpf *skel,
			  __u32 cur, int cur_fd, bool chain, const char *name,
			  __u32 *slot)
{
	int rc;

	*slot = 0;
	if (!cur)
		return EXIT_OK;
	if (!chain) {
		*slot = chain_slot_kept(cur);
		return EXIT_OK;
	}
	rc = chain_slot_take(bpf_map__fd(skel->maps.op25b_attach), slot);
	if (!rc)
		rc = chain_put(*slot, cur_fd, r->ifname, name);
	if (rc)
		*slot = 0;
	return rc;
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

int xdp_attach(const struct attach_req *r, struct op25b_bpf *skel,
		      struct op25b_attach_val *v)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_xdp_attach_opts, a);
	int fd = bpf_program__fd(skel->progs.op25b_xdp), old_fd = -1;
	char name[BPF_OBJ_NAME_LEN] = "";
	struct op25b_bpf *own = NULL;
	__u32 mode, cur, flags, slot = 0;
	bool chain = false;
	int err, rc;

	rc = xdp_query(r->ifname, r->ifindex, &q);
	if (!rc)
		rc = xdp_pick_mode(r, &q, &mode);
	if (rc)
		return rc;
	cur = xdp_slot(&q, mode);
	/* a libxdp dispatcher is joined, not chained (dispatcher.c) */
	if (cur && !r->force && dispatcher_on(r->ifindex))
		return dispatcher_attach(r, v);
	if (cur) {
		rc = xdp_take_over(r, cur, &old_fd, &chain, name, sizeof(name));
		if (rc)
			return rc;
		a.old_prog_fd = old_fd;
	}
	rc = xdp_chain_slot(r, skel, cur, old_fd, chain, name, &slot);
	/* a chained attachment's program is its own: the slot is a constant */
	if (!rc && slot) {
		rc = bpf_load_chained(&own, r->l3, false, slot);
		if (!rc)
			fd = bpf_program__fd(own->progs.op25b_xdp_ch);
	}
	if (rc) {
		if (chain)
			chain_clear(slot);
		if (old_fd >= 0)
			close(old_fd);
		return rc;
	}
	/* Swap in place, or fail if someone raced us into an empty slot. */
	flags = mode | (cur ? XDP_FLAGS_REPLACE : XDP_FLAGS_UPDATE_IF_NOEXIST);
	err = bpf_xdp_attach(r->ifindex, fd, flags, &a);
	if (old_fd >= 0)
		close(old_fd);
	if (err && chain)
		chain_clear(slot);
	if (!err) {
		v->prog_id = prog_id_of(fd);
		v->chain_slot = slot;
	}
	if (own)
		op25b_bpf__destroy(own);	/* the device holds the program */
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
	if (chain) {
		char why[160];

		dispatcher_allowed(why, sizeof(why));
		p_info("kept XDP program '%s' (id %u) on %s: op25b runs it for every packet it passes, and puts it back on detach (chained mode: %s)",
		       name, cur, r->ifname, why);
	}
	v->flags |= xdp_mode_flag(r, v->prog_id);
	return EXIT_OK;
}


/*
 * What op25b chains on a device it leaves: put back in op25b's place (in
 * the same swap that removes op25b, so no packet meets neither), or gone.
 * Returns the fd to swap in, -1 for none; *slot and *map_fd to empty after.
 */
static int xdp_chained_back(const struct record *rec, int *map_fd,
			    __u32 *slot, __u32 *id)
{
	int fd;

	*id = 0;
	chain_of_prog(rec->val.prog_id, map_fd, slot);
	if (*map_fd < 0)
		return -1;
	if (bpf_map_lookup_elem(*map_fd, slot, id))
		*id = 0;
	fd = *id ? bpf_prog_get_fd_by_id(*id) : -1;
	if (fd < 0)
		*id = 0;
	return fd;
}

/*
 * Detach only while the program in place is still the recorded one; else
 * *kept says why nothing was removed. A chained program goes back on the
 * device in op25b's place.
 */
int xdp_detach(const struct record *rec, const char **kept)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_xdp_attach_opts, a);
	const char *ifname = rec->val.ifname;
	char name[BPF_OBJ_NAME_LEN] = "";
	int err, rc, back, map_fd;
	struct bpf_prog_info info;
	__u32 mode, slot, id;

	if (rec->val.flags & OP25B_AF_XDP_DISPATCHER)
		return dispatcher_detach(rec, kept);
	rc = xdp_query(ifname, rec->key.ifindex, &q);
	if (rc)
		return rc;
	mode = q.drv_prog_id == rec->val.prog_id ? XDP_FLAGS_DRV_MODE :
	       q.skb_prog_id == rec->val.prog_id ? XDP_FLAGS_SKB_MODE : 0;
	if (!mode) {
		*kept = NOT_OURS;
		/* what it chained stays off the device: someone changed it since */
		chain_clear(rec->val.chain_slot);
		return EXIT_OK;
	}
	a.old_prog_fd = bpf_prog_get_fd_by_id(rec->val.prog_id);
	if (a.old_prog_fd < 0) {
		p_err("cannot open the XDP program on '%s': %s", ifname,
		      strerror(errno));
		return EXIT_RUNTIME;
	}
	back = xdp_chained_back(rec, &map_fd, &slot, &id);
	if (back >= 0) {
		if (!prog_info(back, &info))
			snprintf(name, sizeof(name), "%s", info.name);
		err = bpf_xdp_attach(rec->key.ifindex, back,
				     mode | XDP_FLAGS_REPLACE, &a);
		close(back);
	} else {
		err = bpf_xdp_detach(rec->key.ifindex, mode | XDP_FLAGS_REPLACE,
				     &a);
	}
	close(a.old_prog_fd);
	if (!err && map_fd >= 0)
		bpf_map_delete_elem(map_fd, &slot);
	if (map_fd >= 0)
		close(map_fd);
	if (err) {
		p_err("cannot detach XDP from '%s': %s", ifname, errstr(err));
		return EXIT_RUNTIME;
	}
	if (id)
		p_info("put XDP program '%s' (id %u) back on %s", name, id,
		       ifname);
	else if (slot)
		p_info("note: the XDP program op25b chained on %s is gone (its pin dir was removed?): %s is left without XDP",
		       ifname, ifname);
	return EXIT_OK;
}

/* What the kernel has in the recorded slot now. */
__u32 attached_prog_id(const struct record *rec)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (is_tc_hook(rec->key.hook))
		return tc_slot(rec->key.ifindex, rec->key.hook);
	if (rec->val.flags & OP25B_AF_XDP_DISPATCHER)
		return dispatcher_has(rec->key.ifindex, rec->val.prog_id);
	if (bpf_xdp_query(rec->key.ifindex, 0, &q))
		return 0;
	if (q.drv_prog_id == rec->val.prog_id ||
	    q.skb_prog_id == rec->val.prog_id)
		return rec->val.prog_id;
	return 0;
}
