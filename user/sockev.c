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

/* ---- the log: evlog.c's, of the socket hooks' records ---- */

int sklog_open(struct evlog *l, int map_fd, bool backlog)
{
	return evlog_open_of(l, map_fd, backlog,
			     sizeof(struct op25b_sock_event));
}

/* sklog_read(): evlog.c, the one reader of both kinds */

/*
 * What monitor and log read: the pins, the packet hooks' log, and the
 * socket hooks' beside it (none in a policy made before them: nothing read).
 */
int event_logs_open(struct op25b_maps *m, struct evlog *l, struct evlog *sl,
		    bool backlog)
{
	int rc = pins_open(m, PINS_PEEK), err;

	if (rc)
		return rc;
	err = evlog_open(l, m->events, backlog);
	if (err) {
		p_err("cannot map the event log: %s", strerror(-err));
		maps_close(m);
		return EXIT_RUNTIME;
	}
	sklog_open(sl, m->sockev, backlog);
	return EXIT_OK;
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
