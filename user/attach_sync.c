// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Attachments as statements, for apply, save and watch: the file layer's
 * attachments made to match a file's 'attach' statements (pending where a
 * device is missing), written back as statements, a session's or watch's
 * dropped, and what waits for a name attached when it appears.
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

/* ---- attachments as statements: apply and save ---- */

static bool iface_exists(const char *name)
{
	return strlen(name) < IF_NAMESIZE && if_nametoindex(name);
}

/* A want whose interface does not exist: its hook as given, or 0. */
static int want_pending(const struct attach_args *a, struct attach_want *w,
			char *why, size_t len)
{
	char q[TOKEN_QUOTE_LEN];

	if (strlen(a->ifname) >= IF_NAMESIZE || strchr(a->ifname, '/') ||
	    strspn(a->ifname, " \t") || !*a->ifname) {
		p_say(why, len, "bad interface name '%s'",
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

int attach_want_parse(int argc, char **argv, struct attach_want *w,
		      char *why, size_t len)
{
	struct attach_args a;
	struct attach_req r;
	int rc;

	memset(w, 0, sizeof(*w));
	rc = attach_args_parse(argc, argv, &a, why, len);
	if (!rc)
		rc = attach_args_check(&a, why, len);
	/* not there yet: attached when it appears (boot fails closed) */
	if (!rc && !iface_exists(a.ifname))
		return want_pending(&a, w, why, len);
	if (!rc)
		rc = attach_req_build(&a, &r, why, len);
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
	attach_quiet = true;
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
	attach_quiet = false;
	rc = worst;
out:
	free(keep);
	free(recs);
	if (map_fd >= 0)
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
		attach_quiet = true;
		for (i = 0; i < nrec; i++)
			if (recs[i].val.layer == layer &&
			    recs[i].val.owner == owner &&
			    !detach_one(map_fd, &recs[i]))
				n++;
		attach_quiet = false;
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
