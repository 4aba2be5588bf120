// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The socket hooks on cgroups (doc/DESIGN.md, "Socket hooks"): attach
 * and detach of cgroup/connect4 and cgroup/connect6 beside whatever else
 * the cgroup runs (BPF_F_ALLOW_MULTI), their records in the pinned
 * cgroups map (by the cgroup's path below the v2 root), what status,
 * save and apply make of them.
 *
 * Both programs of one loaded instance go on a cgroup, then the instance
 * is armed with one store (bpf/cgroup.h, op25b_armed): until then they
 * let every connect through, so an attach killed at any moment leaves the
 * cgroup judged for both families or for neither. Replacing programs
 * that already judge (a second attach, an upgrade) arms the new instance
 * first, then swaps each program in place (BPF_F_REPLACE): the cgroup is
 * never without one. Detach disarms, then takes off only op25b's own.
 * The kernel keeps the programs on the cgroup once op25bctl exits: no
 * process, link or pin holds them, and they go with the cgroup.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "attachments.h"
#include "op25b.skel.h"

static const enum bpf_attach_type cg_types[2] = {
	BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT,
};
static const char *const cg_prog_names[2] = {
	OP25B_PROG_CONNECT4, OP25B_PROG_CONNECT6,
};

/* "/" for the root, else the path as kept. */
const char *cgroup_shown(const char *rel)
{
	return *rel ? rel : "/";
}

/* ---- the records ---- */

static int cg_record_order(const void *va, const void *vb)
{
	const struct cg_record *a = va, *b = vb;

	return strncmp(a->key.path, b->key.path, sizeof(a->key.path));
}

int cg_records_load(int map_fd, struct cg_record **out, size_t *n)
{
	struct op25b_cgroup_key k, last;
	struct cg_record *v = NULL;
	bool first = true;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (map_fd < 0)
		return EXIT_OK;
	while (!bpf_map_get_next_key(map_fd, first ? NULL : &last, &k)) {
		first = false;
		last = k;
		if (array_grow((void **)&v, &cap, *n, sizeof(*v))) {
			free(v);
			p_err("out of memory");
			return EXIT_RUNTIME;
		}
		v[*n].key = k;
		v[*n].key.path[sizeof(k.path) - 1] = '\0';
		if (!bpf_map_lookup_elem(map_fd, &k, &v[*n].val))
			(*n)++;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cg_record_order);
	*out = v;
	return EXIT_OK;
}

static int cg_map_open(int *fd)
{
	return records_map_open(OP25B_PIN_CGROUPS,
				sizeof(struct op25b_cgroup_key),
				sizeof(struct op25b_cgroup_att), fd);
}

static bool cg_pinned(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_CGROUPS);
	return !access(path, F_OK);
}

int cg_records_read(struct cg_record **out, size_t *n)
{
	int fd, rc;

	*out = NULL;
	*n = 0;
	if (!pins_present() || !cg_pinned())
		return EXIT_OK;
	rc = cg_map_open(&fd);
	if (rc)
		return rc;
	rc = cg_records_load(fd, out, n);
	close(fd);
	return rc;
}

/* ---- programs on a cgroup ---- */

/* The id of the policy map under g.pin_dir, 0 when there is none. */
static __u32 policy_map_id(void)
{
	struct bpf_map_info info;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_POLICY);
	pinned_map_info(path, &info);
	return info.id;
}

enum prog_owner { PO_OTHER, PO_OURS, PO_ORPHAN, PO_FOREIGN };

/*
 * Whose program id is on a socket hook: op25b's of this pin dir, of no
 * pin dir (its pin dir was removed), of another pin dir, or not op25b's.
 */
static enum prog_owner prog_owner(__u32 id, int hook, __u32 policy_id,
				  char *owner, size_t olen)
{
	struct bpf_prog_info info;
	__u32 maps[64], len, i, n;
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return PO_OTHER;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)maps;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    strcmp(info.name, cg_prog_names[hook])) {
		close(fd);
		return PO_OTHER;
	}
	close(fd);
	n = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
	for (i = 0; i < n; i++)
		if (policy_id && maps[i] == policy_id)
			return PO_OURS;
	{
		char other[PATH_MAX];

		if (pin_dir_of_maps(maps, n, other, sizeof(other))) {
			if (owner)
				snprintf(owner, olen, "%s", other);
			return PO_FOREIGN;
		}
	}
	return PO_ORPHAN;
}

/* The programs on one hook of a cgroup (attached to it, not inherited). */
static int hook_progs(int cgfd, int hook, __u32 *ids, __u32 *n,
		      __u32 *attach_flags)
{
	__u32 cnt = 64, flags = 0;

	if (bpf_prog_query(cgfd, cg_types[hook], 0, &flags, ids, &cnt)) {
		*n = 0;
		return -errno;
	}
	*n = cnt;
	if (attach_flags)
		*attach_flags = flags;
	return 0;
}

/* op25b's program of this pin dir on one hook, 0 for none. */
static __u32 ours_on(int cgfd, int hook, __u32 policy_id)
{
	__u32 ids[64], n, i;

	if (hook_progs(cgfd, hook, ids, &n, NULL))
		return 0;
	for (i = 0; i < n; i++)
		if (prog_owner(ids[i], hook, policy_id, NULL, 0) == PO_OURS)
			return ids[i];
	return 0;
}

/* The per-instance switch of the instance prog id belongs to: its fd. */
static int armed_map_of(__u32 prog_id)
{
	struct bpf_prog_info info;
	__u32 maps[64], len, i, n;
	int fd = bpf_prog_get_fd_by_id(prog_id), mfd;

	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)maps;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return -1;
	}
	close(fd);
	n = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
	for (i = 0; i < n; i++) {
		struct bpf_map_info mi = {};
		__u32 ml = sizeof(mi);

		mfd = bpf_map_get_fd_by_id(maps[i]);
		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &mi, &ml) &&
		    !strcmp(mi.name, "op25b_armed") &&
		    mi.value_size == sizeof(__u32))
			return mfd;
		close(mfd);
	}
	return -1;
}

/* Is the instance of prog id armed (it judges), and set it to want. */
static bool prog_armed(__u32 prog_id)
{
	__u32 zero = 0, v = 0;
	int fd = armed_map_of(prog_id);

	if (fd < 0)
		return false;
	bpf_map_lookup_elem(fd, &zero, &v);
	close(fd);
	return v;
}

static int prog_arm(__u32 prog_id, __u32 want)
{
	__u32 zero = 0;
	int fd = armed_map_of(prog_id), err;

	if (fd < 0)
		return -ENOENT;
	err = bpf_map_update_elem(fd, &zero, &want, BPF_ANY) ? -errno : 0;
	close(fd);
	return err;
}

static int skel_arm(struct op25b_bpf *skel, __u32 want)
{
	__u32 zero = 0;

	return bpf_map_update_elem(bpf_map__fd(skel->maps.op25b_armed), &zero,
				   &want, BPF_ANY) ? -errno : 0;
}

/* ---- attach ---- */

/*
 * For the tests that kill an attach at each of its steps: milliseconds
 * to wait after each (OP25B_TEST_ATTACH_PAUSE_MS, op25bctl(8)); 0 unset.
 */
static void step_pause(void)
{
	static long ms = -1;

	if (ms < 0) {
		const char *e = getenv("OP25B_TEST_ATTACH_PAUSE_MS");

		ms = e ? atol(e) : 0;
	}
	if (ms > 0)
		usleep((useconds_t)ms * 1000);
}

/* apply and watch report in their own words */
bool cg_quiet;

static void cg_report(const char *verb, const char *rel,
		      const struct op25b_cgroup_att *v, const char *note)
{
	if (note)
		p_info("%s %s: %s", verb, cgroup_shown(rel), note);
	else
		p_info("%s op25b %s cgroup %s (connect4, connect6)", verb,
		       !strcmp(verb, "attached") ? "to" : "from",
		       cgroup_shown(rel));
	if (cg_quiet)
		return;
	open_json_object(NULL);
	print_string(PRINT_JSON, "cgroup", NULL, cgroup_shown(rel));
	print_uint(PRINT_JSON, "cgroup_id", NULL, v->cgroup_id);
	open_json_array("prog_ids");
	print_uint(PRINT_JSON, NULL, NULL, v->prog_id[0]);
	print_uint(PRINT_JSON, NULL, NULL, v->prog_id[1]);
	close_json_array();
	print_string(PRINT_JSON, "state", NULL, verb);
	close_json_object();
}

/* The layer that lasts longer keeps a record (records.c, owner_keep). */
static void cg_owner_keep(const struct op25b_cgroup_att *old,
			  struct op25b_cgroup_att *v)
{
	if (old->layer == OP25B_LAYER_FILE && v->layer != OP25B_LAYER_FILE) {
		v->layer = old->layer;
		v->owner = old->owner;
	}
}

int cg_store_pending(int map_fd, const char *rel, enum op25b_layer layer,
		     __u32 owner)
{
	struct op25b_cgroup_key k = {};
	struct op25b_cgroup_att v = { .layer = layer, .owner = owner }, old;

	snprintf(k.path, sizeof(k.path), "%s", rel);
	if (!bpf_map_lookup_elem(map_fd, &k, &old))
		cg_owner_keep(&old, &v);
	if (bpf_map_update_elem(map_fd, &k, &v, BPF_ANY)) {
		p_err("cannot record cgroup %s: %s", cgroup_shown(rel),
		      strerror(errno));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static int cg_attach_prog(struct op25b_bpf *skel, int hook, int cgfd,
			  __u32 cur, const char *rel)
{
	struct bpf_program *p = hook ? skel->progs.op25b_connect6 :
				       skel->progs.op25b_connect4;
	LIBBPF_OPTS(bpf_prog_attach_opts, o, .flags = BPF_F_ALLOW_MULTI);
	int err, old = -1;

	if (cur) {
		old = bpf_prog_get_fd_by_id(cur);
		if (old < 0) {
			p_err("cannot open the program on cgroup %s (id %u): %s",
			      cgroup_shown(rel), cur, strerror(errno));
			return EXIT_RUNTIME;
		}
		o.flags |= BPF_F_REPLACE;
		o.replace_prog_fd = old;
	}
	err = bpf_prog_attach_opts(bpf_program__fd(p), cgfd, cg_types[hook], &o);
	err = err ? -errno : 0;
	if (old >= 0)
		close(old);
	if (err == -EPERM || err == -EEXIST) {
		p_err("cannot attach %s to cgroup %s: %s (a program attached there without BPF_F_ALLOW_MULTI keeps others off)",
		      cg_prog_names[hook], cgroup_shown(rel), errstr(err));
		return EXIT_RUNTIME;
	}
	if (err) {
		p_err("cannot attach %s to cgroup %s: %s", cg_prog_names[hook],
		      cgroup_shown(rel), errstr(err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* Take our program off one hook, disarmed first. */
static int cg_detach_prog(int cgfd, int hook, __u32 id)
{
	int fd = bpf_prog_get_fd_by_id(id), err;

	if (fd < 0)
		return -errno;
	prog_arm(id, 0);
	err = bpf_prog_detach2(fd, cgfd, cg_types[hook]) ? -errno : 0;
	close(fd);
	return err;
}

/*
 * Attach to the cgroup at rel (canonical), as the attach command, apply
 * and watch ask; a cgroup that does not exist is recorded pending when
 * pending_ok, else an error. The lock is taken here and kept.
 */
int cg_attach(const char *rel, enum op25b_layer layer, __u32 owner,
	      bool pending_ok)
{
	struct op25b_cgroup_key k = {};
	struct op25b_cgroup_att v = { .layer = layer, .owner = owner }, old;
	struct op25b_bpf *skel = NULL;
	__u32 cur[2], policy_id, id;
	bool had, armed_first;
	int rc, map_fd = -1, cgfd = -1, h, err;
	__u64 cgid;

	snprintf(k.path, sizeof(k.path), "%s", rel);
	{
		char root[PATH_MAX];

		rc = cgroup2_root(root, sizeof(root), NULL, 0);
		if (rc)
			return rc;
	}
	rc = pin_dir_lock(true);
	if (rc)
		return rc;
	err = cgroup_id_of(rel, &cgid);
	if (err && pending_ok && (err == -ENOENT || err == -ENOTDIR)) {
		if (!pins_present()) {
			struct op25b_maps m;

			rc = maps_open(&m, true);
			if (rc)
				return rc;
			maps_close(&m);
		}
		rc = cg_map_open(&map_fd);
		if (!rc)
			rc = cg_store_pending(map_fd, rel, layer, owner);
		if (map_fd >= 0)
			close(map_fd);
		return rc;
	}
	if (err) {
		char root[PATH_MAX] = "?";

		cgroup2_root(root, sizeof(root), NULL, 0);
		p_err("no cgroup %s under the cgroup v2 root %s: %s",
		      cgroup_shown(rel), root,
		      err == -ENOTDIR ? "not a cgroup v2 directory" : errstr(err));
		return err == -ENOENT || err == -ENOTDIR ? EXIT_USAGE : EXIT_RUNTIME;
	}
	cgfd = cgroup_open(rel);
	if (cgfd < 0) {
		p_err("cannot open cgroup %s: %s", cgroup_shown(rel),
		      errstr(cgfd));
		return EXIT_RUNTIME;
	}
	rc = bpf_load_sock(&skel);
	if (rc)
		goto out;
	map_fd = bpf_map__fd(skel->maps.op25b_cgroups);
	policy_id = policy_map_id();
	for (h = 0; h < 2; h++)
		cur[h] = ours_on(cgfd, h, policy_id);
	/* already judging (one program of ours armed): never less than that */
	armed_first = (cur[0] && prog_armed(cur[0])) ||
		      (cur[1] && prog_armed(cur[1]));
	had = !bpf_map_lookup_elem(map_fd, &k, &old);
	if (had)
		cg_owner_keep(&old, &v);
	/* the record first: a kill from here on leaves one to finish or undo */
	v.cgroup_id = cgid;
	v.prog_id[0] = cur[0];
	v.prog_id[1] = cur[1];
	v.flags = had && old.cgroup_id == cgid && armed_first ?
		  (old.flags & OP25B_CF_COMPLETE) : 0;
	if (bpf_map_update_elem(map_fd, &k, &v, BPF_ANY)) {
		p_err("cannot record cgroup %s: %s", cgroup_shown(rel),
		      strerror(errno));
		rc = EXIT_RUNTIME;
		goto out;
	}
	step_pause();
	if (armed_first && (err = skel_arm(skel, 1))) {
		p_err("cannot arm the socket hooks: %s", errstr(err));
		rc = EXIT_RUNTIME;
		goto out;
	}
	for (h = 0; h < 2 && !rc; h++) {
		rc = cg_attach_prog(skel, h, cgfd, cur[h], rel);
		step_pause();
	}
	if (rc) {
		/* undo what this run put there, unless it replaced in place */
		for (h = 0; h < 2; h++) {
			id = ours_on(cgfd, h, policy_id);
			if (id && !cur[h] &&
			    id == prog_id_of(bpf_program__fd(h ? skel->progs.op25b_connect6 :
								 skel->progs.op25b_connect4)))
				cg_detach_prog(cgfd, h, id);
		}
		if (!cur[0] && !cur[1] && !had)
			bpf_map_delete_elem(map_fd, &k);
		goto out;
	}
	if (!armed_first && (err = skel_arm(skel, 1))) {
		p_err("cannot arm the socket hooks: %s", errstr(err));
		rc = EXIT_RUNTIME;
		goto out;
	}
	step_pause();
	v.prog_id[0] = prog_id_of(bpf_program__fd(skel->progs.op25b_connect4));
	v.prog_id[1] = prog_id_of(bpf_program__fd(skel->progs.op25b_connect6));
	v.flags |= OP25B_CF_COMPLETE;
	if (bpf_map_update_elem(map_fd, &k, &v, BPF_ANY)) {
		p_err("attached to cgroup %s but cannot record it: %s",
		      cgroup_shown(rel), strerror(errno));
		rc = EXIT_RUNTIME;
		goto out;
	}
	cg_report("attached", rel, &v, NULL);
out:
	if (skel)
		op25b_bpf__destroy(skel);
	if (cgfd >= 0)
		close(cgfd);
	return rc;
}

/* ---- detach ---- */

/*
 * Take op25b's programs of this pin dir (and of none) off the cgroup of
 * record rec, and forget the record. A cgroup that went took them along.
 */
static int cg_detach_record(int map_fd, const struct cg_record *r)
{
	__u32 ids[64], n, i, policy_id = policy_map_id();
	int cgfd, h, err, rc = EXIT_OK;
	const char *note = NULL;
	__u64 cgid;

	if (!r->val.cgroup_id) {
		note = "dropped the pending record";
	} else if (cgroup_id_of(r->key.path, &cgid) || cgid != r->val.cgroup_id) {
		note = "the cgroup is gone (its programs went with it); dropped the record";
	}
	cgfd = note && !r->val.cgroup_id ? -1 : cgroup_open(r->key.path);
	for (h = 0; cgfd >= 0 && h < 2; h++) {
		if (hook_progs(cgfd, h, ids, &n, NULL))
			continue;
		for (i = 0; i < n; i++) {
			enum prog_owner o = prog_owner(ids[i], h, policy_id,
						       NULL, 0);

			if (o != PO_OURS && o != PO_ORPHAN)
				continue;
			err = cg_detach_prog(cgfd, h, ids[i]);
			if (err && err != -ENOENT) {
				p_err("cannot detach %s from cgroup %s: %s",
				      cg_prog_names[h],
				      cgroup_shown(r->key.path), errstr(err));
				rc = EXIT_RUNTIME;
			}
		}
	}
	if (cgfd >= 0)
		close(cgfd);
	if (rc)
		return rc;
	bpf_map_delete_elem(map_fd, &r->key);
	cg_report("detached", r->key.path, &r->val, note);
	return EXIT_OK;
}

/* Detach rel's attachment (NULL: every cgroup's); the lock is taken here. */
int cg_detach(const char *rel, bool *found)
{
	struct cg_record *recs = NULL;
	size_t i, n = 0;
	int rc, map_fd, worst = EXIT_OK;

	*found = false;
	if (!pins_present() || !cg_pinned())
		return EXIT_OK;
	rc = pin_lock();
	if (!rc)
		rc = cg_map_open(&map_fd);
	if (rc)
		return rc;
	rc = cg_records_load(map_fd, &recs, &n);
	for (i = 0; !rc && i < n; i++) {
		if (rel && strcmp(recs[i].key.path, rel))
			continue;
		*found = true;
		rc = cg_detach_record(map_fd, &recs[i]);
		if (rc > worst)
			worst = rc;
		rc = EXIT_OK;
	}
	free(recs);
	close(map_fd);
	return rc ? rc : worst;
}

/* ---- what a record's cgroup has now ---- */

const char *cg_state_name(enum cg_state s)
{
	switch (s) {
	case CG_ATTACHED:
		return "attached";
	case CG_INCOMPLETE:
		return "incomplete";
	case CG_PENDING:
		return "pending";
	case CG_GONE:
		return "gone";
	case CG_NOT_ATTACHED:
		return "not attached";
	}
	return "unknown";
}

enum cg_state cg_record_state(const struct cg_record *r)
{
	__u32 policy_id = policy_map_id();
	__u64 cgid;
	int cgfd, h;
	bool all = true, armed = true;

	if (!r->val.cgroup_id)
		return CG_PENDING;
	if (cgroup_id_of(r->key.path, &cgid) || cgid != r->val.cgroup_id)
		return CG_GONE;
	cgfd = cgroup_open(r->key.path);
	if (cgfd < 0)
		return CG_GONE;
	for (h = 0; h < 2; h++) {
		__u32 id = ours_on(cgfd, h, policy_id);

		all &= id == r->val.prog_id[h] && id;
		armed &= id && prog_armed(id);
	}
	close(cgfd);
	if (!(r->val.flags & OP25B_CF_COMPLETE))
		return CG_INCOMPLETE;
	return all && armed ? CG_ATTACHED : CG_NOT_ATTACHED;
}

void cg_status(void)
{
	struct cg_record *recs = NULL;
	size_t i, n = 0;

	if (cg_records_read(&recs, &n))
		return;
	print_string(PRINT_FP, NULL, "%s\n",
		     n ? "cgroups:" : "cgroups: none");
	open_json_array("cgroups");
	for (i = 0; i < n; i++) {
		enum cg_state s = cg_record_state(&recs[i]);

		open_json_object(NULL);
		print_string(PRINT_ANY, "cgroup", "  %s",
			     cgroup_shown(recs[i].key.path));
		if (recs[i].val.cgroup_id)
			print_uint(PRINT_ANY, "cgroup_id", " (id %llu)",
				   recs[i].val.cgroup_id);
		print_string(PRINT_FP, NULL, "%s", ": connect4, connect6");
		if (s != CG_PENDING) {
			print_uint(PRINT_FP, NULL, ", prog %llu",
				   recs[i].val.prog_id[0]);
			print_uint(PRINT_FP, NULL, " %llu",
				   recs[i].val.prog_id[1]);
			open_json_array("prog_ids");
			print_uint(PRINT_JSON, NULL, NULL, recs[i].val.prog_id[0]);
			print_uint(PRINT_JSON, NULL, NULL, recs[i].val.prog_id[1]);
			close_json_array();
		}
		print_string(PRINT_ANY, "layer", ", %s",
			     layer_name(recs[i].val.layer));
		print_bool(PRINT_JSON, "attached", NULL, s == CG_ATTACHED);
		print_string(PRINT_ANY, "state", ", %s\n", cg_state_name(s));
		close_json_object();
	}
	close_json_array();
	free(recs);
}

/* ---- as statements: save, apply ---- */

int cg_save(FILE *f)
{
	struct cg_record *recs = NULL;
	size_t i, n = 0;
	int rc;

	rc = cg_records_read(&recs, &n);
	for (i = 0; !rc && i < n; i++)
		if (recs[i].val.layer == OP25B_LAYER_FILE)
			fprintf(f, "attach --cgroup %s\n",
				cgroup_shown(recs[i].key.path));
	free(recs);
	return rc;
}

/*
 * The file layer's cgroup attachments made those of want[0..n)
 * (canonical paths): what is wanted attached first, then what the file
 * layer holds and want does not name detached. With dry_run, the plan.
 */
int cg_sync(char (*want)[OP25B_CGROUP_PATH], size_t n, bool dry_run,
	    size_t *changes)
{
	struct cg_record *recs = NULL;
	size_t i, j, nrec = 0;
	int rc, map_fd = -1, worst = EXIT_OK;

	rc = cg_records_read(&recs, &nrec);
	if (rc)
		return rc;
	cg_quiet = true;
	for (i = 0; i < n; i++) {
		bool held = false;

		for (j = 0; j < nrec; j++) {
			enum cg_state s;

			if (strcmp(recs[j].key.path, want[i]))
				continue;
			s = cg_record_state(&recs[j]);
			held = recs[j].val.layer == OP25B_LAYER_FILE &&
			       (s == CG_ATTACHED ||
				(s == CG_PENDING && cgroup_id_of(want[i], &(__u64){ 0 })));
		}
		if (held)
			continue;
		(*changes)++;
		if (dry_run) {
			plan_print("+", "attach", "cgroup", "attach --cgroup %s",
				   cgroup_shown(want[i]), NULL);
			continue;
		}
		rc = cg_attach(want[i], OP25B_LAYER_FILE, 0, true);
		if (rc) {
			(*changes)--;
			if (rc > worst)
				worst = rc;
		}
	}
	for (j = 0; j < nrec; j++) {
		bool wanted = false;

		if (recs[j].val.layer != OP25B_LAYER_FILE)
			continue;
		for (i = 0; i < n && !wanted; i++)
			wanted = !strcmp(recs[j].key.path, want[i]);
		if (wanted)
			continue;
		(*changes)++;
		if (dry_run) {
			plan_print("-", "detach", "cgroup", "attach --cgroup %s",
				   cgroup_shown(recs[j].key.path), NULL);
			continue;
		}
		if (map_fd < 0 && (rc = cg_map_open(&map_fd))) {
			worst = rc;
			break;
		}
		rc = pin_lock();
		if (!rc)
			rc = cg_detach_record(map_fd, &recs[j]);
		if (rc > worst)
			worst = rc;
	}
	cg_quiet = false;
	if (map_fd >= 0)
		close(map_fd);
	free(recs);
	return worst;
}

/*
 * Records that wait (pending, or a cgroup made again since: a restarted
 * service, a container's new scope): attached again, in their layer, once
 * the path names a cgroup. For watch, once a second. *done: how many.
 */
int cg_resolve_waiting(size_t *done)
{
	struct cg_record *recs = NULL;
	size_t i, n = 0;
	int rc, worst = EXIT_OK;
	__u64 cgid;

	*done = 0;
	rc = cg_records_read(&recs, &n);
	for (i = 0; !rc && i < n; i++) {
		enum cg_state s = cg_record_state(&recs[i]);

		if ((s != CG_PENDING && s != CG_GONE) ||
		    cgroup_id_of(recs[i].key.path, &cgid))
			continue;
		cg_quiet = true;
		rc = cg_attach(recs[i].key.path, recs[i].val.layer,
			       recs[i].val.owner, false);
		cg_quiet = false;
		if (!rc)
			(*done)++;
		if (rc > worst)
			worst = rc;
		rc = EXIT_OK;
	}
	pin_unlock();
	free(recs);
	return worst;
}
