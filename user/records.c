// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The attachments map: one record per hook op25b holds, of this network
 * namespace, owned by a layer (doc/DESIGN.md, "Layers"); records waiting
 * for a device's name (pending, gone); the names of hooks; and what the
 * kernel has on a recorded hook now.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "attachments.h"

/*
 * Whose op25b program fd is: 0 ours (it reads our policy map), or taken
 * anyway (--force); 1 another instance's, *owner its pin dir ("" when no
 * pin dir records it).
 */
int op25b_owner(const struct attach_req *r, int fd, char *owner, size_t len)
{
	__u32 maps[64], ilen, i, n;
	struct bpf_prog_info info;

	*owner = '\0';
	if (r->force || !r->policy_id)
		return 0;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)maps;
	ilen = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return 0;
	n = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
	for (i = 0; i < n; i++)
		if (maps[i] == r->policy_id)
			return 0;
	if (!pin_dir_of_maps(maps, n, owner, len))
		*owner = '\0';
	return 1;
}

/*
 * An op25b program of another pin dir is another instance's: it is not
 * replaced without --force. Returns EXIT_OK when fd's program reads our
 * policy map, or when told to take it anyway.
 */
int op25b_ours(const struct attach_req *r, int fd, __u32 id)
{
	char owner[PATH_MAX];

	if (!op25b_owner(r, fd, owner, sizeof(owner)))
		return EXIT_OK;
	if (*owner)
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
int netns_ino(__u64 *ino)
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

int prog_info(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, len);
	return bpf_obj_get_info_by_fd(fd, info, &len);
}

__u32 prog_id_of(int fd)
{
	struct bpf_prog_info info;

	return prog_info(fd, &info) ? 0 : info.id;
}

/* The name of program id, "" when it cannot be read. */
void prog_name_of(__u32 id, char *name, size_t len)
{
	struct bpf_prog_info info;
	int fd = id ? bpf_prog_get_fd_by_id(id) : -1;

	name[0] = '\0';
	if (fd < 0)
		return;
	if (!prog_info(fd, &info))
		snprintf(name, len, "%s", info.name);
	close(fd);
}

/* The ids of the maps program fd uses, at most max: how many, 0 if unread. */
__u32 prog_map_ids(int fd, __u32 *maps, __u32 max)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, len);
	info.nr_map_ids = max;
	info.map_ids = (__u64)(unsigned long)maps;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.nr_map_ids < max ? info.nr_map_ids : max;
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
const char *hook_label(__u32 hook, __u32 flags)
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

bool record_find(int map_fd, const struct op25b_attach_key *key,
			struct op25b_attach_val *val)
{
	return !bpf_map_lookup_elem(map_fd, key, val);
}

/* Does another tc record still use this device's clsact qdisc? */
bool tc_siblings(int map_fd, const struct op25b_attach_key *key)
{
	struct op25b_attach_key k = *key;
	struct op25b_attach_val v;

	k.hook = key->hook == OP25B_HOOK_TC_INGRESS ? OP25B_HOOK_TC_EGRESS :
						      OP25B_HOOK_TC_INGRESS;
	return record_find(map_fd, &k, &v);
}

int record_store(int map_fd, const struct op25b_attach_key *key,
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
void owner_keep(int map_fd, const struct op25b_attach_key *key,
		       struct op25b_attach_val *val)
{
	struct op25b_attach_val old;

	if (record_find(map_fd, key, &old) &&
	    layer_durability(old.layer) > layer_durability(val->layer)) {
		val->layer = old.layer;
		val->owner = old.owner;
	}
}

bool is_tc_hook(__u32 hook)
{
	return hook == OP25B_HOOK_TC_INGRESS || hook == OP25B_HOOK_TC_EGRESS;
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
void pending_forget(int map_fd, __u64 ino, const char *name,
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

bool attach_pinned(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_ATTACH);
	return !access(path, F_OK);
}

/*
 * A records map (the attachments', the cgroups'): opened only if its key
 * and value are this version's.
 */
int records_map_open(const char *name, __u32 key_size, __u32 value_size,
		     int *fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, name);
	*fd = bpf_obj_get(path);
	if (*fd < 0) {
		p_err("cannot open pinned map '%s': %s", path, strerror(errno));
		return EXIT_RUNTIME;
	}
	if (bpf_obj_get_info_by_fd(*fd, &info, &len) ||
	    info.key_size != key_size || info.value_size != value_size) {
		p_err("pinned map '%s' does not match this op25b version",
		      path);
		close(*fd);
		*fd = -1;
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/*
 * Detach needs the attachments map only, and must work when another pin is
 * damaged: "detach --all" is the way out of that state.
 */
int attach_map_open(int *fd)
{
	return records_map_open(OP25B_PIN_ATTACH,
				sizeof(struct op25b_attach_key),
				sizeof(struct op25b_attach_val), fd);
}


/*
 * A record for a device that does not exist yet: key.ifindex is a number
 * no device has (OP25B_IFINDEX_PENDING and up, from the name's hash, the
 * next free one on a collision); watch attaches it when the name appears.
 */
int pending_store(int map_fd, const struct attach_want *w,
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

int record_order(const void *va, const void *vb)
{
	const struct record *a = va, *b = vb;
	int c = strncmp(a->val.ifname, b->val.ifname, sizeof(a->val.ifname));

	return c ? c : a->key.hook < b->key.hook ? -1 : a->key.hook > b->key.hook;
}

/* This namespace's records under g.pin_dir; none when nothing is set up. */
int records_read(struct record **recs, size_t *n)
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
