// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counters per attachment (op25b.h, struct op25b_ifstats): the per-CPU
 * slots summed by attachment and named as the interface is named where
 * the program runs, for stats and stats --prometheus; and the slots of
 * attachments that are gone, given back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "attachments.h"

/* Every CPU's copy of slot i into buf (ncpu values). */
static int slot_read(int fd, __u32 i, struct op25b_ifstats *buf)
{
	return bpf_map_lookup_elem(fd, &i, buf) ? -errno : 0;
}

static bool key_equal(const struct op25b_attach_key *a,
		      const struct op25b_attach_key *b)
{
	return a->netns_ino == b->netns_ino && a->ifindex == b->ifindex &&
	       a->hook == b->hook;
}

/*
 * The slots whose attachment has no record any more (detached, its
 * session ended, its device deleted) are made free again, on each CPU
 * that holds one, so that the next attachment finds room. A packet that
 * a CPU counts for another attachment of the same slot meanwhile may go
 * uncounted: the write is of the whole slot.
 */
void ifstats_sweep(const struct op25b_maps *m)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct op25b_ifstats *buf;
	struct op25b_attach_val v;
	bool changed;
	__u32 i;

	if (m->ifstats < 0 || m->attach < 0 || ncpu <= 0)
		return;
	buf = calloc((size_t)ncpu, sizeof(*buf));
	if (!buf)
		return;
	for (i = 0; i < OP25B_IFSTATS_SLOTS; i++) {
		if (slot_read(m->ifstats, i, buf))
			continue;
		changed = false;
		for (c = 0; c < ncpu; c++) {
			if (!buf[c].key.hook ||
			    !bpf_map_lookup_elem(m->attach, &buf[c].key, &v))
				continue;
			memset(&buf[c], 0, sizeof(buf[c]));
			changed = true;
		}
		if (changed)
			bpf_map_update_elem(m->ifstats, &i, buf, BPF_EXIST);
	}
	free(buf);
}

/* The row of key among *rows, made when new. NULL: out of memory. */
static struct ifstat_row *row_of(struct ifstat_row **rows, size_t *n,
				 const struct op25b_attach_key *key)
{
	struct ifstat_row *nv;
	size_t i;

	for (i = 0; i < *n; i++)
		if (key_equal(&(*rows)[i].key, key))
			return &(*rows)[i];
	nv = realloc(*rows, (*n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	*rows = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	nv[*n].key = *key;
	return &nv[(*n)++];
}

static int row_cmp(const void *a, const void *b)
{
	const struct ifstat_row *x = a, *y = b;
	int c;

	/* "other" last */
	if (!x->key.hook != !y->key.hook)
		return !x->key.hook ? 1 : -1;
	c = strcmp(x->iface, y->iface);
	if (c)
		return c;
	return x->key.hook < y->key.hook ? -1 : x->key.hook > y->key.hook;
}

/* Attachment records, counted up to one more than the slots. */
static size_t attachments_count(int fd)
{
	struct op25b_attach_key k, last;
	size_t n = 0;

	while (n <= OP25B_IFSTATS_SLOTS &&
	       !bpf_map_get_next_key(fd, n ? &last : NULL, &k)) {
		last = k;
		n++;
	}
	return n;
}

int ifstats_read(const struct op25b_maps *m, struct ifstat_row **out,
		 size_t *n)
{
	int ncpu = libbpf_num_possible_cpus(), c, err = 0;
	struct op25b_ifstats *buf;
	struct ifstat_row *r;
	__u32 i;

	*out = NULL;
	*n = 0;
	if (m->ifstats < 0)
		return EXIT_OK;
	if (ncpu <= 0) {
		p_err("cannot count the possible CPUs: %s", strerror(-ncpu));
		return EXIT_RUNTIME;
	}
	buf = calloc((size_t)ncpu, sizeof(*buf));
	if (!buf) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	for (i = 0; i <= OP25B_IFSTATS_SLOTS && !err; i++) {
		err = slot_read(m->ifstats, i, buf);
		for (c = 0; c < ncpu && !err; c++) {
			const struct op25b_ifstats *s = &buf[c];

			/* a free slot; "other" only once it counted */
			if (i < OP25B_IFSTATS_SLOTS ? !s->key.hook :
			    !(s->blocked + s->monitored + s->passed))
				continue;
			r = row_of(out, n, &s->key);
			if (!r) {
				err = -ENOMEM;
				break;
			}
			r->blocked += s->blocked;
			r->monitored += s->monitored;
			r->passed += s->passed;
		}
	}
	free(buf);
	/*
	 * Every attachment has its series from the start, at 0, while there
	 * are no more than slots (a home router's): a BRAS's thousands of
	 * pppN show those that count, not a series each.
	 */
	if (!err && m->attach >= 0 &&
	    attachments_count(m->attach) <= OP25B_IFSTATS_SLOTS) {
		struct op25b_attach_key k, last;
		struct op25b_attach_val v;
		bool first = true;

		while (!bpf_map_get_next_key(m->attach, first ? NULL : &last,
					     &k)) {
			first = false;
			last = k;
			if (k.ifindex >= OP25B_IFINDEX_PENDING || !k.hook ||
			    bpf_map_lookup_elem(m->attach, &k, &v) ||
			    !v.prog_id)
				continue;
			if (!row_of(out, n, &k)) {
				err = -ENOMEM;
				break;
			}
		}
	}
	if (err) {
		p_err("cannot read the counters per interface: %s",
		      strerror(-err));
		free(*out);
		*out = NULL;
		*n = 0;
		return EXIT_RUNTIME;
	}
	for (i = 0; i < *n; i++) {
		r = &(*out)[i];
		if (!r->key.hook) {
			snprintf(r->iface, sizeof(r->iface), "other");
			snprintf(r->hook, sizeof(r->hook), "other");
			continue;
		}
		iface_name_of(m->attach, r->key.netns_ino, r->key.ifindex,
			      r->key.hook, r->iface, sizeof(r->iface));
		snprintf(r->hook, sizeof(r->hook), "%s",
			 hook_label(r->key.hook, 0));
	}
	if (*n)
		qsort(*out, *n, sizeof(**out), row_cmp);
	return EXIT_OK;
}
