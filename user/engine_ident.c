// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Exemptions by identity (uid, gid, cgroup) in the transaction: records
 * of the identities hash map stamped with generations as rule records are
 * (doc/DESIGN.md, "Who may connect"), so that a change to them publishes
 * with the snapshot's one store, together with the tables, ports and
 * action of the same change.
 *
 * A record made by the change under way is born in the next generation:
 * the socket hooks, judging by the live one, do not see it until the
 * publish. One it removes dies in the next generation: they see it until
 * then. What a change left behind (a writer killed, a change aborted) is
 * settled at the next begin, as the trees' pools are recovered: records
 * born after the live generation go, removals after it are taken back,
 * and records dead in it go. Few records (identities, not prefixes): the
 * map is walked whole each time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "engine_int.h"

static bool ident_alive_at(const struct op25b_ident *v, __u32 g)
{
	return v->born && v->born <= g && (!v->died || v->died > g);
}

/* Held by the draft of the change under way (generation next). */
static bool ident_drafted(const struct op25b_ident *v, __u32 next)
{
	return v->born && v->born <= next && (!v->died || v->died > next);
}

static int idents_fd(struct engine *e)
{
	if (e->fd.idents < 0)
		return engine_fail(e, -ENOTSUP,
				   "this policy has no identities map");
	return e->fd.idents;
}

bool engine_has_idents(const struct engine *e)
{
	return e->fd.idents >= 0;
}

/*
 * Make the identities what generation live holds, and nothing more: a
 * record born after it goes, a removal after it is taken back, a record
 * dead in it goes. The walk starts over after each delete.
 */
int engine_idents_settle(struct engine *e, __u32 live)
{
	struct op25b_ident_key k, last, *prev = NULL;
	struct op25b_ident v;
	int fd = e->fd.idents, guard = 0;

	if (fd < 0)
		return 0;
	while (!bpf_map_get_next_key(fd, prev, &k) &&
	       guard++ < 4 * OP25B_IDENTS_MAX) {
		last = k;
		prev = &last;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		if (!v.born || v.born > live || (v.died && v.died <= live)) {
			if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
				return engine_fail(e, -errno,
						   "cannot settle the identities: %s",
						   strerror(errno));
			prev = NULL;
			continue;
		}
		if (v.died > live || v.since > live) {
			/* a removal, or other words, never published: undone */
			if (v.died > live)
				v.died = 0;
			if (v.since > live) {
				memcpy(v.name, v.old_name, sizeof(v.name));
				v.flags = v.old_flags;
				v.since = 0;
			}
			if (bpf_map_update_elem(fd, &k, &v, BPF_EXIST))
				return engine_fail(e, -errno,
						   "cannot settle the identities: %s",
						   strerror(errno));
		}
	}
	return 0;
}

static int check_txn(struct engine *e, __u32 kind)
{
	__u32 base = kind & ~(__u32)OP25B_ID_PENDING;

	if (!e->in_txn)
		return engine_fail(e, -EINVAL, "no change under way");
	if (base < OP25B_ID_UID || base > OP25B_ID_CGROUP)
		return engine_fail(e, -EINVAL, "not a kind of identity");
	return idents_fd(e) < 0 ? -ENOTSUP : 0;
}

int engine_ident_set(struct engine *e, __u32 kind, __u64 id,
		     const char *name, const struct owner *o, __u8 flags,
		     enum engine_change *ch)
{
	struct op25b_ident_key k = { .kind = kind, .id = id };
	struct op25b_ident v, old;
	__u32 next = e->gen + 1;
	int err = check_txn(e, kind), fd;

	if (err)
		return err;
	fd = e->fd.idents;
	memset(&v, 0, sizeof(v));
	snprintf(v.name, sizeof(v.name), "%s", name ? name : "");
	v.layer = o->layer;
	v.owner = o->id;
	v.flags = flags;
	v.born = next;
	*ch = ENGINE_ADDED;
	if (!bpf_map_lookup_elem(fd, &k, &old) &&
	    (ident_drafted(&old, next) || old.died == next)) {
		/* held (or removed by this very change, and held again) */
		bool same = !strcmp(old.name, v.name) && old.flags == flags &&
			    old.layer == v.layer && old.owner == v.owner;

		if (same && !old.died) {
			*ch = ENGINE_UNCHANGED;
			return 0;
		}
		*ch = same ? ENGINE_UNCHANGED : ENGINE_CHANGED;
		v.born = old.born;
		/* other words: the old ones kept for older snapshots */
		if (old.since == next) {
			memcpy(v.old_name, old.old_name, sizeof(v.old_name));
			v.old_flags = old.old_flags;
			v.since = next;
		} else if (!same && old.born != next) {
			memcpy(v.old_name, old.name, sizeof(v.old_name));
			v.old_flags = old.flags;
			v.since = next;
		}
	}
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return engine_fail(e, -errno, "cannot record the identity: %s",
				   errno == E2BIG || errno == ENOMEM ?
				   "the identities map is full" : strerror(errno));
	return 0;
}

int engine_ident_del(struct engine *e, __u32 kind, __u64 id,
		     enum engine_change *ch)
{
	struct op25b_ident_key k = { .kind = kind, .id = id };
	__u32 next = e->gen + 1;
	struct op25b_ident v;
	int err = check_txn(e, kind), fd;

	if (err)
		return err;
	fd = e->fd.idents;
	*ch = ENGINE_ABSENT;
	if (bpf_map_lookup_elem(fd, &k, &v) || !ident_drafted(&v, next))
		return 0;
	*ch = ENGINE_DELETED;
	if (v.born == next) {
		/* made by this change: never seen by anyone */
		if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
			return engine_fail(e, -errno, "cannot remove the identity: %s",
					   strerror(errno));
		return 0;
	}
	v.died = next;
	if (bpf_map_update_elem(fd, &k, &v, BPF_EXIST))
		return engine_fail(e, -errno, "cannot remove the identity: %s",
				   strerror(errno));
	return 0;
}

/* Every record of generation g into *out (malloc'd); -1 when the map moved. */
static int idents_read(struct engine *e, __u32 g, struct engine_ident **out,
		       size_t *n)
{
	struct op25b_ident_key k, last, *prev = NULL;
	struct engine_ident *v = NULL;
	struct op25b_ident r;
	size_t cap = 0;
	int fd = e->fd.idents;

	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &k)) {
		last = k;
		prev = &last;
		if (bpf_map_lookup_elem(fd, &k, &r) || !ident_alive_at(&r, g))
			continue;
		if (array_grow((void **)&v, &cap, *n, sizeof(*v))) {
			free(v);
			return engine_fail(e, -ENOMEM, "out of memory");
		}
		memset(&v[*n], 0, sizeof(v[*n]));
		v[*n].kind = k.kind;
		v[*n].id = k.id;
		v[*n].layer = r.layer;
		v[*n].owner = r.owner;
		/* the words of generation g */
		v[*n].flags = r.since > g ? r.old_flags : r.flags;
		memcpy(v[*n].name, r.since > g ? r.old_name : r.name,
		       sizeof(r.name));
		v[*n].name[sizeof(r.name) - 1] = '\0';
		(*n)++;
	}
	*out = v;
	return 0;
}

int engine_idents(struct engine *e, struct engine_ident **out, size_t *n)
{
	int tries, err;

	*out = NULL;
	*n = 0;
	if (e->fd.idents < 0)
		return 0;	/* a policy made before identities: none */
	for (tries = 0; tries < 1000; tries++) {
		__u32 g = engine_read_begin(e);

		err = idents_read(e, g, out, n);
		if (err)
			return err;
		if (engine_read_done(e, g))
			return 0;
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return engine_fail(e, -EAGAIN, "the policy changed under every one of 1000 reads");
}
