// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A reader of an event log (op25b.h, "The event log"; doc/DESIGN.md,
 * "Events and their readers"): the map mapped read-only, a cursor per
 * CPU of this reader's own, so that any number of readers each see every
 * event, and what this reader missed counted by sequence number. The
 * packet hooks' log and the socket hooks' (sockev.c) are laid out alike,
 * of records that differ only after their seq and ts_ns: read here, by
 * record size.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "op25bctl.h"

/* What every record begins with. */
struct rec_head {
	__u64 seq;		/* this CPU's sequence number, 0: being written */
	__u64 ts_ns;
};
_Static_assert(offsetof(struct op25b_event, seq) == 0 &&
	       offsetof(struct op25b_event, ts_ns) == 8 &&
	       offsetof(struct op25b_sock_event, seq) == 0 &&
	       offsetof(struct op25b_sock_event, ts_ns) == 8,
	       "an event log's record begins with seq and ts_ns");

/* Record i of CPU cpu's region (0: the head, whose seq is the last written). */
static const struct rec_head *rec(const struct evlog *l, int cpu, size_t i)
{
	return (const struct rec_head *)(l->base +
		((size_t)cpu * OP25B_EVLOG_REGION + i) * l->esize);
}

static __u64 head_of(const struct evlog *l, int cpu)
{
	return __atomic_load_n(&rec(l, cpu, 0)->seq, __ATOMIC_ACQUIRE);
}

/*
 * The oldest event of a CPU whose head is h that is surely whole: the
 * slot after the head is the one the next event overwrites first.
 */
static __u64 oldest_of(__u64 h)
{
	return h >= OP25B_EVLOG_SLOTS ? h - OP25B_EVLOG_SLOTS + 2 : 1;
}

int evlog_open_of(struct evlog *l, int map_fd, bool backlog, size_t esize)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	long page = sysconf(_SC_PAGESIZE);
	int c;

	memset(l, 0, sizeof(*l));
	if (map_fd < 0)
		return -ENOENT;
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	if (info.value_size != esize || !(info.map_flags & BPF_F_MMAPABLE) ||
	    info.max_entries % OP25B_EVLOG_REGION)
		return -EPROTO;
	l->esize = esize;
	l->ncpu = info.max_entries / OP25B_EVLOG_REGION;
	l->len = ((size_t)info.max_entries * esize + page - 1) / page * page;
	l->base = mmap(NULL, l->len, PROT_READ, MAP_SHARED, map_fd, 0);
	if (l->base == MAP_FAILED) {
		l->base = NULL;
		return -errno;
	}
	l->next = calloc(l->ncpu, sizeof(*l->next));
	l->batch = calloc((size_t)l->ncpu * OP25B_EVLOG_SLOTS, esize);
	if (!l->next || !l->batch) {
		evlog_close(l);
		return -ENOMEM;
	}
	for (c = 0; c < l->ncpu; c++) {
		__u64 h = head_of(l, c);

		l->next[c] = backlog ? oldest_of(h) : h + 1;
	}
	return 0;
}

int evlog_open(struct evlog *l, int map_fd, bool backlog)
{
	return evlog_open_of(l, map_fd, backlog, sizeof(struct op25b_event));
}

void evlog_close(struct evlog *l)
{
	if (l->base)
		munmap((void *)l->base, l->len);
	free(l->next);
	free(l->batch);
	memset(l, 0, sizeof(*l));
}

/* Copy CPU c's new events to the batch; what was overwritten is lost. */
static size_t cpu_collect(struct evlog *l, int c, size_t n)
{
	__u64 h = head_of(l, c), s;

	if (l->next[c] < oldest_of(h)) {
		l->lost += oldest_of(h) - l->next[c];
		l->next[c] = oldest_of(h);
	}
	for (s = l->next[c]; s <= h; s++) {
		const struct rec_head *slot = rec(l, c, 1 + s % OP25B_EVLOG_SLOTS);
		struct rec_head *copy = (struct rec_head *)(l->batch + n * l->esize);

		if (__atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE) != s) {
			l->lost++;
			continue;
		}
		memcpy(copy, slot, l->esize);
		/* the copy is whole when the writer did not come back to it */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&slot->seq, __ATOMIC_RELAXED) != s) {
			l->lost++;
			continue;
		}
		copy->seq = s;
		n++;
	}
	l->next[c] = h + 1;
	return n;
}

static int by_time(const void *a, const void *b)
{
	const struct rec_head *x = a, *y = b;

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t evlog_collect(struct evlog *l)
{
	size_t n = 0;
	int c;

	if (!l->base)
		return 0;
	for (c = 0; c < l->ncpu; c++)
		n = cpu_collect(l, c, n);
	/* one stream: the CPUs' events merged by time */
	qsort(l->batch, n, l->esize, by_time);
	return n;
}

/*
 * A reader of one kind of record, the packet hooks' or the socket hooks'
 * (sockev.c): each record collected, in time order, to fn, until fn
 * returns nonzero.
 */
#define LOG_READER(name, fn_type, rec_type)				\
	int name(struct evlog *l, fn_type fn, void *ctx)		\
	{								\
		size_t n = evlog_collect(l), i;				\
		int rc;							\
									\
		for (i = 0; i < n; i++) {				\
			rc = fn(ctx, (const rec_type *)(l->batch +	\
							i * l->esize));	\
			if (rc)						\
				return rc;				\
		}							\
		return 0;						\
	}
LOG_READER(evlog_read, evlog_fn, struct op25b_event)
LOG_READER(sklog_read, sklog_fn, struct op25b_sock_event)
