// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The engine over the pinned maps: how every command reads the live policy
 * (shared lock: no writer at work) or changes it (exclusive lock, one
 * snapshot published at the end, or nothing).
 */
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include "op25bctl.h"

/* Maps of another layout: say whose they are and the way out. */
static void report_open(const struct engine *e, int err)
{
	if (err == -EPROTO)
		p_err("%s under %s: use the op25bctl that made them, or 'detach --all' and remove %s to start afresh",
		      e->err, g.pin_dir, g.pin_dir);
	else
		p_err("%s", e->err);
}

int policy_open(struct op25b_maps *m, struct engine *e, enum pins_access how)
{
	int rc, err;

	rc = pins_open(m, how);
	if (rc)
		return rc;
	err = engine_open(e, &m->pol, how == PINS_MAKE);
	if (err) {
		report_open(e, err);
		maps_close(m);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* Readers take no lock: they read one snapshot by its generation. */
int policy_open_read(struct op25b_maps *m, struct engine *e)
{
	return policy_open(m, e, PINS_PEEK);
}

int policy_open_write(struct op25b_maps *m, struct engine *e)
{
	int rc;

	rc = policy_open(m, e, PINS_MAKE);
	if (rc)
		return rc;
	if (engine_begin(e)) {
		p_err("%s", e->err);
		policy_close(m, e);
		return EXIT_RUNTIME;
	}
	if (engine_recovered(e)) {
		p_info("an earlier change was interrupted; its leftovers were cleaned up (the policy is the one it found)");
		if (session_sweep(m, e)) {
			policy_close(m, e);
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}

int policy_commit(struct engine *e)
{
	if (engine_commit(e)) {
		p_err("%s; nothing was changed", e->err);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

void policy_close(struct op25b_maps *m, struct engine *e)
{
	engine_close(e);
	maps_close(m);
}

/* ---- the session layer's registry (doc/DESIGN.md, "Layers") ---- */

/* Room in *v for one more than n; freed and said when there is none. */
static int entries_room(struct session_entry **v, size_t n, size_t *cap)
{
	struct session_entry *nv;

	if (n < *cap)
		return 0;
	nv = realloc(*v, (*cap ? 2 * *cap : 64) * sizeof(*nv));
	if (!nv) {
		free(*v);
		*v = NULL;
		p_err("out of memory");
		return -1;
	}
	*v = nv;
	*cap = *cap ? 2 * *cap : 64;
	return 0;
}

/* Every registered session, in the map's order, into *out. */
int sessions_load(int map_fd, struct session_entry **out, size_t *n)
{
	struct op25b_session_key k, last;
	struct session_entry *v = NULL;
	bool first = true;
	size_t cap = 0;

	*n = 0;
	while (!bpf_map_get_next_key(map_fd, first ? NULL : &last, &k)) {
		first = false;
		last = k;
		if (entries_room(&v, *n, &cap))
			return EXIT_RUNTIME;
		v[*n].key = k;
		v[*n].ended = 0;
		if (!bpf_map_lookup_elem(map_fd, &k, &v[*n].s))
			(*n)++;
	}
	*out = v;
	return EXIT_OK;
}

static bool id_among(const struct session_entry *v, size_t n, __u32 id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].s.id == id)
			return true;
	return false;
}

int sessions_load_recent(int map_fd, int ended_fd, struct session_entry **out,
			 size_t *n)
{
	struct op25b_session_ended e;
	struct session_entry *v;
	__u32 k, last;
	bool first = true;
	size_t cap, live;
	__u64 now = realtime_now();
	int rc;

	rc = sessions_load(map_fd, out, n);
	if (rc || ended_fd < 0)
		return rc;
	v = *out;
	cap = live = *n;
	while (!bpf_map_get_next_key(ended_fd, first ? NULL : &last, &k)) {
		first = false;
		last = k;
		if (bpf_map_lookup_elem(ended_fd, &k, &e) ||
		    now - e.ended > OP25B_SESSION_GRACE_NS ||
		    id_among(v, live, e.s.id))
			continue;
		if (entries_room(&v, *n, &cap)) {
			*out = NULL;
			*n = 0;
			return EXIT_RUNTIME;
		}
		v[*n].key = e.key;
		v[*n].s = e.s;
		v[*n].ended = e.ended ? e.ended : 1;
		(*n)++;
	}
	*out = v;
	return EXIT_OK;
}

/* Clear what ended before the grace period: room for the next. */
static void sessions_ended_prune(int fd)
{
	struct op25b_session_ended e;
	__u32 k, last;
	bool first = true;
	__u64 now = realtime_now();

	while (!bpf_map_get_next_key(fd, first ? NULL : &last, &k)) {
		if (!bpf_map_lookup_elem(fd, &k, &e) &&
		    now - e.ended > OP25B_SESSION_GRACE_NS &&
		    !bpf_map_delete_elem(fd, &k))
			continue;	/* from k's successor: last stays */
		first = false;
		last = k;
	}
}

void session_ended_keep(int ended_fd, const struct op25b_session_key *key,
			const struct op25b_session *s)
{
	struct op25b_session_ended e = { .key = *key, .s = *s };
	__u32 id = s->id;

	if (ended_fd < 0)
		return;
	e.ended = realtime_now();
	if (!bpf_map_update_elem(ended_fd, &id, &e, BPF_ANY))
		return;
	/* full: what is past the grace period makes room, else none is kept */
	sessions_ended_prune(ended_fd);
	bpf_map_update_elem(ended_fd, &id, &e, BPF_ANY);
}

const char *session_name_of(const struct session_entry *v, size_t n,
			    __u32 id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].s.id == id)
			return v[i].key.name;
	return NULL;
}

/*
 * After a writer died: session rules whose session is not registered
 * (an 'up' killed between its record and its publish, whose replaced
 * session's rules are still live) go, so no exemption outlives its
 * session. Fails closed: such a session keeps no exemption.
 */
int session_sweep(const struct op25b_maps *m, struct engine *e)
{
	struct session_entry *v = NULL;
	struct engine_rule *r = NULL;
	enum engine_change ch;
	size_t i, n = 0, nr = 0, swept = 0;
	int rc;

	rc = sessions_load(m->sessions, &v, &n);
	if (rc)
		return rc;
	if (engine_rules(e, ENGINE_ALL_TABLES, false, &r, &nr)) {
		free(v);
		p_err("%s", e->err);
		return EXIT_RUNTIME;
	}
	for (i = 0; i < nr; i++) {
		struct owner o = { r[i].layer, r[i].owner };

		if (r[i].layer != OP25B_LAYER_SESSION ||
		    session_name_of(v, n, r[i].owner))
			continue;
		if (engine_del_owned(e, r[i].table, &r[i].p, &o, &ch)) {
			p_err("%s", e->err);
			rc = EXIT_RUNTIME;
			break;
		}
		swept++;
	}
	if (swept)
		p_info("%zu exemption%s of sessions no longer registered removed",
		       swept, swept == 1 ? "" : "s");
	free(v);
	free(r);
	return rc;
}
