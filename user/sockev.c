// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The socket hooks' events (op25b.h, struct op25b_sock_event): a reader
 * of their log, laid out and read as the packet hooks' is (evlog.c: a
 * cursor per CPU of this reader's own, what was overwritten counted), and
 * what an event says of its culprit: the process (pid, command, its
 * executable), the user and group, the cgroup by its path, where it
 * connected to. For monitor and log alike.
 *
 * The executable is read from /proc when the event is read (at most a
 * poll, 200 ms, after the connect): only while the process lives, and
 * only when the thread there is still the one that connected (its
 * command the same, started before the event), never a pid reused since.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "op25bctl.h"

/* ---- the log ---- */

static const struct op25b_sock_event *region(const struct sklog *l, int cpu)
{
	return l->base + (size_t)cpu * OP25B_EVLOG_REGION;
}

static __u64 head_of(const struct sklog *l, int cpu)
{
	return __atomic_load_n(&region(l, cpu)->seq, __ATOMIC_ACQUIRE);
}

static __u64 oldest_of(__u64 h)
{
	return h >= OP25B_EVLOG_SLOTS ? h - OP25B_EVLOG_SLOTS + 2 : 1;
}

int sklog_open(struct sklog *l, int map_fd, bool backlog)
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
	if (info.value_size != sizeof(struct op25b_sock_event) ||
	    !(info.map_flags & BPF_F_MMAPABLE) ||
	    info.max_entries % OP25B_EVLOG_REGION)
		return -EPROTO;
	l->ncpu = info.max_entries / OP25B_EVLOG_REGION;
	l->len = ((size_t)info.max_entries * sizeof(struct op25b_sock_event) +
		  page - 1) / page * page;
	l->base = mmap(NULL, l->len, PROT_READ, MAP_SHARED, map_fd, 0);
	if (l->base == MAP_FAILED) {
		l->base = NULL;
		return -errno;
	}
	l->next = calloc(l->ncpu, sizeof(*l->next));
	l->batch = calloc((size_t)l->ncpu * OP25B_EVLOG_SLOTS,
			  sizeof(*l->batch));
	if (!l->next || !l->batch) {
		sklog_close(l);
		return -ENOMEM;
	}
	for (c = 0; c < l->ncpu; c++) {
		__u64 h = head_of(l, c);

		l->next[c] = backlog ? oldest_of(h) : h + 1;
	}
	return 0;
}

void sklog_close(struct sklog *l)
{
	if (l->base)
		munmap((void *)l->base, l->len);
	free(l->next);
	free(l->batch);
	memset(l, 0, sizeof(*l));
}

static size_t cpu_collect(struct sklog *l, int c, size_t n)
{
	const struct op25b_sock_event *r = region(l, c);
	__u64 h = head_of(l, c), s;

	if (l->next[c] < oldest_of(h)) {
		l->lost += oldest_of(h) - l->next[c];
		l->next[c] = oldest_of(h);
	}
	for (s = l->next[c]; s <= h; s++) {
		const struct op25b_sock_event *slot = &r[1 + s % OP25B_EVLOG_SLOTS];

		if (__atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE) != s) {
			l->lost++;
			continue;
		}
		memcpy(&l->batch[n], slot, sizeof(*slot));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&slot->seq, __ATOMIC_RELAXED) != s) {
			l->lost++;
			continue;
		}
		l->batch[n].seq = s;
		n++;
	}
	l->next[c] = h + 1;
	return n;
}

static int by_time(const void *a, const void *b)
{
	const struct op25b_sock_event *x = a, *y = b;

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int sklog_read(struct sklog *l, sklog_fn fn, void *ctx)
{
	size_t n = 0, i;
	int c, rc;

	if (!l->base)
		return 0;
	for (c = 0; c < l->ncpu; c++)
		n = cpu_collect(l, c, n);
	qsort(l->batch, n, sizeof(*l->batch), by_time);
	for (i = 0; i < n; i++) {
		rc = fn(ctx, &l->batch[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- what an event says ---- */

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + (__u64)ts.tv_nsec;
}

/* A file of /proc into buf, its last newline cut; false if unreadable. */
static bool proc_read(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return n > 0;
}

/*
 * The executable of the thread that connected, while it is that thread:
 * the same command, started before the event (CLOCK_BOOTTIME ticks in
 * /proc's stat, the event's CLOCK_MONOTONIC put on that clock).
 */
static void exe_of(const struct op25b_sock_event *ev, char *buf, size_t len)
{
	char path[64], comm[32], stat[1024], *p;
	unsigned long long start;
	long hz = sysconf(_SC_CLK_TCK);
	__u64 boot_of_ev;
	ssize_t n;
	int i;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", ev->pid, ev->tid);
	if (!proc_read(path, comm, sizeof(comm)) ||
	    strncmp(comm, ev->comm, sizeof(ev->comm)))
		return;
	snprintf(path, sizeof(path), "/proc/%u/task/%u/stat", ev->pid, ev->tid);
	if (!proc_read(path, stat, sizeof(stat)) || !(p = strrchr(stat, ')')))
		return;
	/* field 22, starttime; the fields after the command from 3 on */
	for (i = 3, p += 2; i < 22 && p; i++)
		p = strchr(p, ' '), p = p ? p + 1 : NULL;
	if (!p || sscanf(p, "%llu", &start) != 1 || hz <= 0)
		return;
	boot_of_ev = ev->ts_ns + (clock_ns(CLOCK_BOOTTIME) -
				  clock_ns(CLOCK_MONOTONIC));
	/* a tick's slack: the coarse clock is up to one behind */
	if (start * (NSEC_PER_SEC / (__u64)hz) > boot_of_ev + 20000000ULL)
		return;
	snprintf(path, sizeof(path), "/proc/%u/exe", ev->pid);
	n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

void sock_view(const struct op25b_sock_event *ev, struct sock_view *v)
{
	struct passwd *pw;
	struct group *gr;

	memset(v, 0, sizeof(*v));
	v->ev = ev;
	rfc3339_format(dp_time_realtime(ev->ts_ns), true, v->time,
		       sizeof(v->time));
	addr_format(ev->family, ev->daddr, v->daddr, sizeof(v->daddr));
	if (ev->flags & OP25B_SE_SOURCE)
		addr_format(ev->family, ev->saddr, v->saddr, sizeof(v->saddr));
	snprintf(v->comm, sizeof(v->comm), "%.16s", ev->comm);
	pw = getpwuid(ev->uid);
	if (pw)
		snprintf(v->user, sizeof(v->user), "%s", pw->pw_name);
	gr = getgrgid(ev->gid);
	if (gr)
		snprintf(v->group, sizeof(v->group), "%s", gr->gr_name);
	if (cgroup_path_of(ev->cgroup_id, v->cgroup, sizeof(v->cgroup)))
		v->has_cgroup = true;
	exe_of(ev, v->exe, sizeof(v->exe));
	v->hook = ev->hook == OP25B_HOOK_CONNECT6 ? "connect6" : "connect4";
	v->action = action_name(ev->action);
}

void sock_event_print(const struct sock_view *v)
{
	const struct op25b_sock_event *ev = v->ev;
	char dst[INET6_ADDRSTRLEN + 8], src[INET6_ADDRSTRLEN + 8];
	char q[TOKEN_QUOTE_LEN];

	endpoint_format(ev->family, ev->daddr, ev->dport, dst, sizeof(dst));
	open_json_object(NULL);
	print_string(PRINT_ANY, "time", "%s", v->time);
	print_string(PRINT_ANY, "event", " %s", "connect");
	print_string(PRINT_ANY, "hook", " %s", v->hook);
	print_uint(PRINT_ANY, "pid", " pid %llu", ev->pid);
	print_uint(PRINT_JSON, "tid", NULL, ev->tid);
	print_string(PRINT_ANY, "comm", " (%s)",
		     token_quote(v->comm, q, sizeof(q)));
	if (v->exe[0])
		print_string(PRINT_ANY, "exe", " exe %s", v->exe);
	print_uint(PRINT_ANY, "uid", " uid %llu", ev->uid);
	if (v->user[0])
		print_string(PRINT_ANY, "user", " (%s)", v->user);
	print_uint(PRINT_ANY, "gid", " gid %llu", ev->gid);
	if (v->group[0])
		print_string(PRINT_ANY, "group", " (%s)", v->group);
	if (v->has_cgroup)
		print_string(PRINT_ANY, "cgroup", " cgroup %s",
			     cgroup_shown(v->cgroup));
	else
		print_uint(PRINT_FP, NULL, " cgroup #%llu", ev->cgroup_id);
	print_uint(PRINT_JSON, "cgroup_id", NULL, ev->cgroup_id);
	print_uint(PRINT_JSON, "family", NULL, ev->family);
	if (v->saddr[0]) {
		endpoint_format(ev->family, ev->saddr, ev->sport, src, sizeof(src));
		print_string(PRINT_FP, NULL, " %s", src);
		print_string(PRINT_JSON, "saddr", NULL, v->saddr);
		print_uint(PRINT_JSON, "sport", NULL, ev->sport);
	}
	print_string(PRINT_FP, NULL, " -> %s", dst);
	print_string(PRINT_JSON, "daddr", NULL, v->daddr);
	print_uint(PRINT_JSON, "dport", NULL, ev->dport);
	print_bool(PRINT_JSON, "mapped", NULL, ev->flags & OP25B_SE_MAPPED);
	if (ev->flags & OP25B_SE_MAPPED)
		print_string(PRINT_FP, NULL, "%s", " (IPv4-mapped)");
	print_uint(PRINT_JSON, "netns_cookie", NULL, ev->netns_cookie);
	print_string(PRINT_ANY, "action", " action %s", v->action);
	/* action limit: this connect put its uid or cgroup in quarantine */
	print_bool(PRINT_JSON, "quarantined", NULL,
		   ev->kind == OP25B_EV_QUARANTINED);
	if (ev->kind == OP25B_EV_QUARANTINED)
		print_string(PRINT_FP, NULL, "%s", ": quarantined");
	close_json_object();
	print_nl();
	output_end();
}
