// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What an event says, for monitor and log alike: the datapath's record
 * (op25b.h, struct op25b_event) with what only the control plane knows
 * added: the wall-clock time, the interface's name in the namespace the
 * program runs in (from its attachment record), and the session whose
 * address or device it came from (user name, Calling-Station-Id).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "op25bctl.h"
#include "attachments.h"

/*
 * Sessions are read again at most this often when an event needs them,
 * and at once when one came up since (the engine's next session id
 * moved): a session that came, sent and went within a second is named
 * too, from the sessions just ended (op25b.h).
 */
#define SESSIONS_TTL_NS	NSEC_PER_SEC
/* An ended session still names events stamped this little after its end. */
#define SESSION_END_SLACK_NS	(50 * 1000000ULL)

void event_ctx_init(struct event_ctx *x, const struct op25b_maps *m)
{
	memset(x, 0, sizeof(*x));
	x->attach_fd = m->attach;
	x->sessions_fd = m->sessions;
	x->ended_fd = m->sessions_ended;
	x->engine_fd = m->pol.engine;
	x->netns_ino = netns_ino_now();
}

void event_ctx_free(struct event_ctx *x)
{
	free(x->sess);
	x->sess = NULL;
	x->nsess = 0;
}

/*
 * ---- Interface names where the program runs ----
 *
 * An event, or a counter, names its device by ifindex in the program's
 * namespace (its inode). The name is what the kernel says there now: a
 * rename is followed whichever namespace the reader runs in. Ours is
 * asked directly; another, through a socket made in it (an AF_UNIX one:
 * SIOCGIFNAME answers for the socket's namespace), kept for the next
 * event. The namespace is found by inode among /run/netns and the
 * processes' /proc/PID/ns/net. Where it cannot be entered (gone, or a
 * reader without the right, op25b-log.service's sandbox), the
 * attachment record's name stands: as named at attach, or as status
 * last saw it.
 */
#define NS_SOCKS	8
#define NS_RETRY_NS	NSEC_PER_SEC

static struct ns_sock {
	__u64 ino;
	int fd;			/* -1: not reachable, until retry */
	__u64 retry;		/* CLOCK_REALTIME ns */
} ns_socks[NS_SOCKS];
static size_t ns_nsocks;

static bool ino_of(const char *path, __u64 ino)
{
	struct stat st;

	return !stat(path, &st) && st.st_ino == ino;
}

/* A path to the namespace of inode ino, into buf; false when none is found. */
static bool netns_path(__u64 ino, char *buf, size_t len)
{
	static const char *const dirs[] = { "/run/netns", "/var/run/netns" };
	struct dirent *de;
	size_t i;
	DIR *d;

	for (i = 0; i < 2; i++) {
		d = opendir(dirs[i]);
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(buf, len, "%s/%s", dirs[i], de->d_name);
			if (ino_of(buf, ino)) {
				closedir(d);
				return true;
			}
		}
		if (d)
			closedir(d);
	}
	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(buf, len, "/proc/%s/ns/net", de->d_name);
		if (ino_of(buf, ino)) {
			closedir(d);
			return true;
		}
	}
	if (d)
		closedir(d);
	return false;
}

/* An AF_UNIX socket made in the namespace of inode ino; -1 when not. */
static int netns_socket(__u64 ino)
{
	char path[300];
	int self, ns, fd = -1;

	if (!netns_path(ino, path, sizeof(path)))
		return -1;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (self >= 0 && ns >= 0 && !setns(ns, CLONE_NEWNET)) {
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		/* back where we were, or nothing after can be trusted */
		if (setns(self, CLONE_NEWNET)) {
			p_err("cannot return to this network namespace: %s",
			      strerror(errno));
			exit(EXIT_RUNTIME);
		}
	}
	if (self >= 0)
		close(self);
	if (ns >= 0)
		close(ns);
	return fd;
}

/* The socket of namespace ino, made or found; -1 when it is unreachable. */
static int ns_sock_of(__u64 ino)
{
	__u64 now = realtime_now();
	struct ns_sock *s = NULL;
	size_t i;

	for (i = 0; i < ns_nsocks; i++)
		if (ns_socks[i].ino == ino)
			s = &ns_socks[i];
	if (!s) {
		/* the first goes when all are taken */
		i = ns_nsocks < NS_SOCKS ? ns_nsocks++ : 0;
		s = &ns_socks[i];
		if (i == 0 && ns_nsocks == NS_SOCKS && s->fd >= 0)
			close(s->fd);
		s->ino = ino;
		s->fd = -1;
		s->retry = 0;
	}
	if (s->fd < 0 && now >= s->retry) {
		s->fd = netns_socket(ino);
		s->retry = now + NS_RETRY_NS;
	}
	return s->fd;
}

/* The name of ifindex in namespace ino, now; false when it cannot be known. */
static bool ifname_now(__u64 ino, __u32 ifindex, char *buf, size_t len)
{
	struct ifreq ifr = { .ifr_ifindex = (int)ifindex };
	int fd;

	if (ino == netns_ino_now())
		return if_indextoname(ifindex, ifr.ifr_name) &&
		       snprintf(buf, len, "%s", ifr.ifr_name) >= 0;
	fd = ns_sock_of(ino);
	if (fd < 0)
		return false;
	if (ioctl(fd, SIOCGIFNAME, &ifr))
		return false;
	snprintf(buf, len, "%.*s", IF_NAMESIZE, ifr.ifr_name);
	return true;
}

void iface_name_of(int attach_fd, __u64 netns_ino, __u32 ifindex,
		   __u32 hook, char *buf, size_t len)
{
	struct op25b_attach_key k = { .netns_ino = netns_ino,
				      .ifindex = ifindex };
	struct op25b_attach_val v;
	__u32 h;

	if (ifname_now(netns_ino, ifindex, buf, len))
		return;
	/* a hook of 0 (the sweeper's): any record of the device */
	for (h = hook ? hook : OP25B_HOOK_XDP;
	     h <= (hook ? hook : OP25B_HOOK_TC_EGRESS); h++) {
		k.hook = h;
		if (attach_fd >= 0 &&
		    !bpf_map_lookup_elem(attach_fd, &k, &v) && v.ifname[0]) {
			snprintf(buf, len, "%.*s", (int)sizeof(v.ifname),
				 v.ifname);
			return;
		}
	}
	snprintf(buf, len, "%u", ifindex);
}

static bool session_prefix_covers(const struct op25b_session_prefix *sp,
				  __u8 family, const __u8 *addr)
{
	struct prefix p = { .family = family == 4 ? AF_INET : AF_INET6,
			    .len = sp->prefixlen };

	if (sp->family != family)
		return false;
	memcpy(p.addr, sp->addr, sizeof(p.addr));
	return prefix_contains(&p, addr);
}

/* The engine's next session id: it moves with every 'session up'. */
static __u32 session_next_now(const struct event_ctx *x)
{
	struct op25b_engine e;
	__u32 zero = 0;

	if (x->engine_fd < 0 || bpf_map_lookup_elem(x->engine_fd, &zero, &e))
		return 0;
	return e.session_next;
}

static void sessions_reload(struct event_ctx *x, __u64 now)
{
	event_ctx_free(x);
	x->session_next = session_next_now(x);
	if (sessions_load_recent(x->sessions_fd, x->ended_fd, &x->sess,
				 &x->nsess))
		x->nsess = 0;
	x->loaded_ns = now;
}

/*
 * The session the event's source belongs to: the longest of the sessions'
 * addresses that covers it, else the session whose device saw it; a
 * session that ended only for events from before its end, and one
 * registered now before one that ended.
 */
static const struct session_entry *session_match(const struct event_ctx *x,
						 const struct op25b_event *ev,
						 __u64 when)
{
	const struct session_entry *best = NULL, *dev = NULL;
	int best_len = -1, j, len;
	size_t i;

	for (i = 0; i < x->nsess; i++) {
		const struct session_entry *e = &x->sess[i];
		const struct op25b_session *s = &e->s;

		if (e->ended && when > e->ended + SESSION_END_SLACK_NS)
			continue;
		for (j = 0; j < OP25B_SESSION_PREFIXES; j++) {
			if (!session_prefix_covers(&s->addr[j], ev->family,
						   ev->saddr))
				continue;
			/* registered ones come first: an equal one that ended loses */
			len = s->addr[j].prefixlen;
			if (len > best_len) {
				best = e;
				best_len = len;
			}
		}
		if (!dev && s->ifindex && s->ifindex == ev->ifindex &&
		    s->netns_ino == ev->netns_ino)
			dev = e;
	}
	return best ? best : dev;
}

static const struct session_entry *session_find(struct event_ctx *x,
						const struct op25b_event *ev,
						__u64 when)
{
	const struct session_entry *s;
	__u64 now = realtime_now();

	if (x->sessions_fd < 0)
		return NULL;
	if (!x->loaded_ns || now - x->loaded_ns >= SESSIONS_TTL_NS)
		sessions_reload(x, now);
	s = session_match(x, ev, when);
	if (!s && session_next_now(x) != x->session_next) {
		sessions_reload(x, now);
		s = session_match(x, ev, when);
	}
	return s;
}

void event_view(struct event_ctx *x, const struct op25b_event *ev,
		struct event_view *v)
{
	const struct session_entry *s;

	memset(v, 0, sizeof(*v));
	v->ev = ev;
	v->realtime_ns = dp_time_realtime(ev->ts_ns);
	rfc3339_format(v->realtime_ns, true, v->time, sizeof(v->time));
	addr_format(ev->family, ev->saddr, v->saddr, sizeof(v->saddr));
	addr_format(ev->family, ev->daddr, v->daddr, sizeof(v->daddr));
	if (ev->ifindex)
		iface_name_of(x->attach_fd, ev->netns_ino, ev->ifindex,
			      ev->hook, v->iface, sizeof(v->iface));
	if (ev->has_mac)
		snprintf(v->mac, sizeof(v->mac),
			 "%02x:%02x:%02x:%02x:%02x:%02x", ev->smac[0],
			 ev->smac[1], ev->smac[2], ev->smac[3], ev->smac[4],
			 ev->smac[5]);
	/* the hook's words are attach's (records.c); 0: the sweeper's */
	if (ev->hook)
		snprintf(v->hook, sizeof(v->hook), "%s",
			 hook_label(ev->hook, 0));
	v->kind = event_kind_name(ev->kind);
	v->action = action_name(ev->action);
	v->cls = event_class_name(ev->cls);
	s = session_find(x, ev, v->realtime_ns);
	if (s) {
		snprintf(v->session, sizeof(v->session), "%s", s->key.name);
		snprintf(v->user, sizeof(v->user), "%s", s->s.user);
		snprintf(v->calling, sizeof(v->calling), "%s", s->s.calling);
	}
}

void event_print(const struct event_view *v)
{
	const struct op25b_event *ev = v->ev;
	char src[INET6_ADDRSTRLEN + 8], dst[INET6_ADDRSTRLEN + 8];
	bool packet = ev->kind != OP25B_EV_RELEASED &&
		      ev->kind != OP25B_EV_RELEASED_BY_OPERATOR;
	int i, nvlan = ev->nvlan < OP25B_VLAN_MAX ? ev->nvlan : OP25B_VLAN_MAX;

	endpoint_format(ev->family, ev->saddr, ev->sport, src, sizeof(src));
	endpoint_format(ev->family, ev->daddr, ev->dport, dst, sizeof(dst));
	open_json_object(NULL);
	print_string(PRINT_ANY, "time", "%s", v->time);
	print_string(PRINT_ANY, "event", " %s", v->kind);
	if (v->iface[0]) {
		print_string(PRINT_ANY, "interface", " %s", v->iface);
		print_uint(PRINT_JSON, "ifindex", NULL, ev->ifindex);
		print_uint(PRINT_JSON, "netns", NULL, ev->netns_ino);
	}
	if (v->hook[0])
		print_string(PRINT_JSON, "hook", NULL, v->hook);
	if (v->mac[0])
		print_string(PRINT_ANY, "mac", " %s", v->mac);
	print_uint(PRINT_JSON, "family", NULL, ev->family);
	print_string(PRINT_JSON, "saddr", NULL, v->saddr);
	if (packet) {
		print_string(PRINT_FP, NULL, " %s ->", src);
		print_string(PRINT_FP, NULL, " %s", dst);
		print_uint(PRINT_JSON, "sport", NULL, ev->sport);
		print_string(PRINT_JSON, "daddr", NULL, v->daddr);
		print_uint(PRINT_JSON, "dport", NULL, ev->dport);
		print_string(PRINT_ANY, "class", " class %s", v->cls);
	} else {
		print_string(PRINT_FP, NULL, " %s", v->saddr);
	}
	print_string(PRINT_ANY, "action", " action %s", v->action);
	if (nvlan) {
		print_string(PRINT_FP, NULL, "%s", " vlan ");
		open_json_array("vlan");
		for (i = 0; i < nvlan; i++)
			print_uint(PRINT_ANY, NULL, i ? ".%llu" : "%llu",
				   ev->vlan[i]);
		close_json_array();
	}
	if (ev->pppoe)
		print_uint(PRINT_ANY, "pppoe_sid", " pppoe 0x%04llx",
			   ev->pppoe_sid);
	if (v->session[0])
		print_string(PRINT_ANY, "session", " session %s", v->session);
	if (v->user[0])
		print_string(PRINT_ANY, "user", " user %s", v->user);
	if (v->calling[0])
		print_string(PRINT_ANY, "calling_station_id", " line %s",
			     v->calling);
	close_json_object();
	print_nl();
	output_end();
}
