/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The socket hooks (doc/DESIGN.md, "Socket hooks"): cgroup/connect4 and
 * cgroup/connect6, judging a process's connect() before any SYN exists,
 * by the same live snapshot as the packet hooks (ports, tables, action),
 * with the exemptions by identity beside them (uid, gid, cgroup).
 *
 * A connect() reaches these hooks from every way a process has of opening
 * a TCP connection (the kernel's pre_connect): connect(2) on AF_INET and
 * AF_INET6 sockets (an IPv4-mapped IPv6 destination comes to connect6
 * and is judged as the IPv4 address it is), sendto/sendmsg with
 * MSG_FASTOPEN, connect after TCP_FASTOPEN_CONNECT, io_uring's
 * IORING_OP_CONNECT, and MPTCP's subflows. What they refuse fails with
 * EPERM at once: no SYN leaves, the caller is not left to time out.
 *
 * Unlike the packet hooks they run in process context: a softirq (the
 * packet hooks) may interrupt them on the same CPU, and with preemption
 * another task may run them there. So what they write is theirs or
 * written with atomics: the counters and rule hits (atomic adds), the
 * culprits table (a shared LRU hash, atomics), and an event log of their
 * own whose per-CPU region each write locks (op25b.h, struct
 * op25b_sock_event). They never touch the packet hooks' offenders table,
 * window, scratch event or event log.
 *
 * It shares core.h with the packet hooks (the policy, the tree walk, the
 * port check, the snapshot's reading, the judgements, the counters and
 * rule hits), limit.h's limiter and events.h's clock; op25b.bpf.c
 * includes it, to make one object of both kinds of hook.
 */
#ifndef OP25B_CGROUP_H
#define OP25B_CGROUP_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "op25b.h"
#include "maps.h"
#include "events.h"
#include "core.h"
#include "limit.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP		262
#endif
#define OP25B_SOCK_STREAM	1	/* SOCK_STREAM, not in the UAPI headers */

/* Exemptions by identity (op25b.h, struct op25b_ident). */
OP25B_HASH(struct op25b_ident_key, struct op25b_ident, OP25B_IDENTS_MAX)
	op25b_idents SEC(".maps");

/* Written and read by op25bctl only: what it attached to which cgroup. */
OP25B_HASH(struct op25b_cgroup_key, struct op25b_cgroup_att, OP25B_CGROUPS_MAX)
	op25b_cgroups SEC(".maps");

/* The socket hooks' event log: a region per possible CPU, sized by the loader. */
OP25B_MMAP_ARRAY(struct op25b_sock_event,
		OP25B_EVLOG_REGION * OP25B_EVLOG_CPUS_DEFAULT)
	op25b_sockev SEC(".maps");

/* Refused connects by uid and by cgroup, for top (op25b.h). */
OP25B_MAP(BPF_MAP_TYPE_LRU_HASH, 0, struct op25b_ident_key,
	  struct op25b_culprit, OP25B_CULPRITS_MAX)
	op25b_culprits SEC(".maps");

/*
 * This loaded instance's switch, never pinned: 0 (what it is made with)
 * lets every connect through untouched. op25bctl attaches both programs
 * of an instance to a cgroup, then arms the instance with one store, so
 * that the cgroup is never judged for one family and not the other: an
 * attach killed before that store leaves programs that change nothing.
 */
OP25B_ARRAY(__u32, 1) op25b_armed SEC(".maps");

/* The cgroup levels an exemption is looked for at: the caller's and above. */
#define OP25B_CG_LEVELS		16

/* Why a connect passed, or that it did not. */
enum sock_why {
	SW_PORT_OPEN,		/* not a blocked port (the snapshot moved) */
	SW_UID,			/* an exempt uid */
	SW_GID,
	SW_CGROUP,		/* the caller's cgroup, or one above it */
	SW_SOURCE,		/* its bound source is a subscriber allow */
	SW_RELAY,		/* to an allowed relay */
	SW_BLOCKED,
};

/* What the decision reads of a connect, read once, before any snapshot. */
struct sock_in {
	struct op25b_addr src;	/* the bound source, when has_src */
	struct op25b_addr dst;
	__u64 cg[OP25B_CG_LEVELS];	/* the caller's cgroup and those above */
	__u32 ncg;
	__u32 uid;
	__u32 gid;
	__u16 dport;
	__u8  v6;		/* the family judged: a mapped address is IPv4 */
	__u8  has_src;
};

/* What one snapshot decided. */
struct sock_out {
	__u32 why;		/* enum sock_why */
	__u32 j;		/* enum judgement, J_PASS unless blocked */
	__u32 sub;		/* the deciding leaves, 0 for none */
	__u32 relay;
	struct limit_cfg limit;	/* when j is J_LIMIT */
	__u32 by;		/* enum op25b_limit_by, when j is J_LIMIT */
	__u32 lim;		/* enum limit_result, for the counters */
};

/* Is record (kind, id) of the identities part of snapshot g? */
static __always_inline int ident_alive(__u32 kind, __u64 id, __u32 g)
{
	struct op25b_ident_key k = { .kind = kind, .id = id };
	const struct op25b_ident *v = bpf_map_lookup_elem(&op25b_idents, &k);

	return v && v->born && v->born <= g && (!v->died || v->died > g);
}

/* What a snapshot's action makes of a connect its policy refuses. */
static __always_inline __u32 sock_blocked(const struct op25b_config *cfg,
					  struct sock_out *out)
{
	__u32 act = cfg->action;

	if (act == OP25B_ACT_LIMIT) {
		limit_of(&out->limit, cfg);
		out->by = cfg->limit.by;
		return J_LIMIT;
	}
	if (act == OP25B_ACT_MONITOR)
		return J_MONITOR;
	return J_DROP;	/* drop and reject alike: EPERM at once */
}

/*
 * Judge a connect by one snapshot, as op25b_decide judges a packet: read
 * the live word, decide, read it again, and judge again by the new
 * snapshot if a writer published meanwhile. The identities are read by
 * the same generation. A global function: verified once.
 *
 * The order: the port; the caller's identity (uid, gid, cgroup and those
 * above it); the bound source, where there is one, as the subscriber
 * table says of it (an allow exempts it; a deny or no rule leaves it to
 * the cgroup's attachment, which stands for a deny of every address of
 * its processes); the destination, as the relay table says of it.
 */
__noinline int op25b_sock_decide(const struct sock_in *in, struct sock_out *out)
{
	const struct op25b_snapshot *s;
	__u32 g, try, i, v6, depth;

	if (!in || !out)
		return 0;
	v6 = in->v6 & 1;
	depth = OP25B_DEPTH_FOR(v6 ? 128 : 32, op25b_root_bits);
	for (try = 0; try < OP25B_SNAP_TRIES; try++) {
		s = snapshot_read(&g);
		out->sub = 0;
		out->relay = 0;
		out->j = J_PASS;
		out->lim = LIM_NONE;
		out->why = SW_BLOCKED;
		if (!port_blocked(&s->cfg, in->dport))
			out->why = SW_PORT_OPEN;
		else if (ident_alive(OP25B_ID_UID, in->uid, g))
			out->why = SW_UID;
		else if (ident_alive(OP25B_ID_GID, in->gid, g))
			out->why = SW_GID;
		for (i = 0; i < OP25B_CG_LEVELS && out->why == SW_BLOCKED; i++) {
			if (i >= in->ncg)
				break;
			if (ident_alive(OP25B_ID_CGROUP, in->cg[i], g))
				out->why = SW_CGROUP;
		}
		if (out->why == SW_BLOCKED && in->has_src) {
			out->sub = op25b_tree_lookup(
				s->root[OP25B_TREE(OP25B_TABLE_SUBSCRIBER, v6)],
				in->src.hi, in->src.lo, depth);
			if (OP25B_LEAF_VERDICT(out->sub) == OP25B_V_ALLOW)
				out->why = SW_SOURCE;
		}
		if (out->why == SW_BLOCKED) {
			out->relay = op25b_tree_lookup(
				s->root[OP25B_TREE(OP25B_TABLE_RELAY, v6)],
				in->dst.hi, in->dst.lo, depth);
			if (OP25B_LEAF_VERDICT(out->relay) == OP25B_V_ALLOW)
				out->why = SW_RELAY;
		}
		if (out->why == SW_BLOCKED)
			out->j = sock_blocked(&s->cfg, out);
		if (snapshot_held(g))
			break;
	}
	return 0;
}

#define SOCK_COUNT(st, f)	__sync_fetch_and_add(&(st)->f, 1)

/* What the event and the culprits say of a connect, besides sock_in. */
struct sock_who {
	__u8  daddr[16];	/* as the caller gave it; IPv4 first */
	__u8  saddr[16];
	__u64 cgroup;		/* the caller's own cgroup */
	__u32 pid;
	__u32 tid;
	__u16 sport;
	__u8  family;
	__u8  flags;		/* enum op25b_sock_event_flags */
	__u8  hook;
	__u8  action;
	__u8  kind;		/* enum op25b_event_kind */
	char  comm[16];
};

/*
 * Count a refused (or monitored) connect for its culprit, kind uid or
 * cgroup, and say whether the culprit is due an event: none from it in
 * the last OP25B_EVENT_INTERVAL_NS (claimed by compare-and-swap, so two
 * CPUs never both send it).
 */
__noinline int op25b_culprit_count(__u32 kind, __u64 id,
				   const struct sock_in *in,
				   const struct sock_who *w, __u64 now)
{
	struct op25b_ident_key k = { .kind = kind, .id = id };
	struct op25b_culprit *c, fresh = {};
	__u64 last;

	if (!in || !w)
		return 0;
	c = bpf_map_lookup_elem(&op25b_culprits, &k);
	if (!c) {
		fresh.first_ns = now;
		bpf_map_update_elem(&op25b_culprits, &k, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&op25b_culprits, &k);
		if (!c)
			return 0;
	}
	if (w->action == OP25B_ACT_MONITOR)
		__sync_fetch_and_add(&c->monitored, 1);
	else
		__sync_fetch_and_add(&c->blocked, 1);
	c->last_ns = now;
	c->last_pid = w->pid;
	c->last_dport = in->dport;
	c->family = w->family;
	__builtin_memcpy(c->last_daddr, w->daddr, sizeof(c->last_daddr));
	__builtin_memcpy(c->comm, w->comm, sizeof(c->comm));
	last = c->last_event_ns;
	if (last && now - last < OP25B_EVENT_INTERVAL_NS)
		return 0;
	return __sync_val_compare_and_swap(&c->last_event_ns, last, now) == last;
}

/*
 * Write the event into this CPU's region of the socket hooks' log, its
 * head locked meanwhile (op25b.h, struct op25b_sock_event). Returns 0
 * when written, 1 when the budget suppressed it, -1 when it was lost.
 */
static __always_inline int sockev_write(const struct sock_in *in,
					const struct sock_who *w, __u64 now,
					__u64 cookie)
{
	__u32 base = bpf_get_smp_processor_id() * OP25B_EVLOG_REGION, idx;
	struct op25b_sock_event *head, *slot;
	int rc = 0;
	__u64 seq;

	head = bpf_map_lookup_elem(&op25b_sockev, &base);
	if (!head)
		return -1;
	if (__sync_lock_test_and_set(&head->lock, 1))
		return -1;	/* interrupted a writer on this CPU */
	if (now - head->win_start >= OP25B_EVENT_INTERVAL_NS) {
		head->win_start = now;
		head->win_sent = 0;
	}
	if (head->win_sent >= OP25B_EVENTS_PER_SEC) {
		rc = 1;
		goto out;
	}
	head->win_sent++;
	seq = head->seq + 1;
	idx = base + 1 + (__u32)(seq % OP25B_EVLOG_SLOTS);
	slot = bpf_map_lookup_elem(&op25b_sockev, &idx);
	if (!slot) {
		rc = -1;
		goto out;
	}
	__sync_lock_test_and_set(&slot->seq, 0);
	slot->ts_ns = now;
	slot->cgroup_id = w->cgroup;
	slot->netns_cookie = cookie;
	slot->pid = w->pid;
	slot->tid = w->tid;
	slot->uid = in->uid;
	slot->gid = in->gid;
	slot->family = w->family;
	slot->kind = w->kind;
	slot->action = w->action;
	slot->hook = w->hook;
	slot->flags = w->flags;
	slot->dport = in->dport;
	slot->sport = w->sport;
	__builtin_memcpy(slot->saddr, w->saddr, sizeof(slot->saddr));
	__builtin_memcpy(slot->daddr, w->daddr, sizeof(slot->daddr));
	__builtin_memcpy(slot->comm, w->comm, sizeof(slot->comm));
	__sync_lock_test_and_set(&slot->seq, seq);
	__sync_lock_test_and_set(&head->seq, seq);
out:
	__sync_lock_test_and_set(&head->lock, 0);
	return rc;
}

/*
 * Action limit at the socket hooks (doc/DESIGN.md, "Rate limits and
 * quarantine"): every connect is a new connection; its source is the
 * uid, or the cgroup, of the process that makes it (the limit's --by),
 * kept in limit.h's limiter beside the packet hooks' addresses and
 * counted with its atomics. J_PASS, or the limit's then; *fresh when
 * this connect put its source in quarantine.
 */
__noinline __u32 op25b_sock_limit(const struct sock_in *in,
				  struct sock_out *out,
				  const struct sock_who *w, __u64 now,
				  int *fresh)
{
	struct op25b_limiter *e;
	struct op25b_src key = {};
	int found, quarantined;
	__u32 then;
	__u64 id;

	if (!in || !out || !w || !fresh)
		return J_DROP;
	then = out->limit.then == J_REJECT ? J_REJECT : J_DROP;
	id = out->by == OP25B_BY_CGROUP ? w->cgroup : in->uid;
	key.family = out->by == OP25B_BY_CGROUP ? OP25B_SRC_CGROUP :
						  OP25B_SRC_UID;
	__builtin_memcpy(key.addr, &id, sizeof(id));
	e = limiter_find(&key, now, &found);
	if (!e) {
		out->lim = LIM_FULL;
		return then;
	}
	quarantined = limiter_open(e, found, &key, now);
	return limiter_connect(e, now, &out->limit, then, quarantined,
			       &out->lim, fresh);
}

/*
 * After the decision: count it, and for a refused or monitored connect
 * count its culprits and send the event. 1: let it through; 0: refuse
 * it (EPERM). A global function, verified once for both hooks.
 */
__noinline int op25b_sock_act(struct bpf_sock_addr *ctx,
			      const struct sock_in *in, struct sock_out *out,
			      struct sock_who *w)
{
	struct op25b_stats *st;
	__u32 zero = 0, j;
	__u64 now, id;
	int send, r, fresh = 0;

	if (!ctx || !in || !out || !w)
		return 1;
	if (out->why == SW_PORT_OPEN)
		return 1;
	j = out->j;
	now = dp_now();
	id = bpf_get_current_pid_tgid();
	w->pid = id >> 32;
	w->tid = (__u32)id;
	w->cgroup = bpf_get_current_cgroup_id();
	if (j == J_LIMIT)
		j = op25b_sock_limit(in, out, w, now, &fresh);
	st = bpf_map_lookup_elem(&op25b_stats, &zero);
	if (st)
		SOCK_COUNT(st, smtp);
	/* a softirq may share this CPU: atomics */
	hit_count(out->sub, true);
	hit_count(out->relay, true);
	if (out->why != SW_BLOCKED) {
		if (st && out->why == SW_RELAY)
			SOCK_COUNT(st, relay);
		else if (st)
			SOCK_COUNT(st, exempt);
		return 1;
	}
	if (st && out->lim == LIM_PASSED) {
		SOCK_COUNT(st, limit_passed);
	} else if (st && j == J_MONITOR) {
		SOCK_COUNT(st, monitored);
	} else if (st) {
		SOCK_COUNT(st, blocked);
		if (out->lim == LIM_EXCEEDED)
			SOCK_COUNT(st, limit_exceeded);
		else if (out->lim == LIM_QUARANTINED)
			SOCK_COUNT(st, quarantined);
		else if (out->lim == LIM_FULL)
			SOCK_COUNT(st, limit_full);
	}
	if (st && fresh)
		SOCK_COUNT(st, quarantines);
	bpf_get_current_comm(w->comm, sizeof(w->comm));
	if (j == J_PASS && !fresh)
		return 1;	/* within the limit: passed, no culprit */
	w->action = j == J_MONITOR ? OP25B_ACT_MONITOR :
		    fresh ? OP25B_ACT_LIMIT : OP25B_ACT_DROP;
	w->kind = fresh ? OP25B_EV_QUARANTINED : OP25B_EV_BLOCKED;
	send = op25b_culprit_count(OP25B_ID_UID, in->uid, in, w, now);
	send |= op25b_culprit_count(OP25B_ID_CGROUP, w->cgroup, in, w, now);
	/* the quarantine itself is always told */
	send |= fresh;
	if (!send) {
		if (st)
			SOCK_COUNT(st, events_suppressed);
	} else {
		r = sockev_write(in, w, now, bpf_get_netns_cookie(ctx));
		if (r > 0 && st)
			SOCK_COUNT(st, events_suppressed);
		else if (r < 0 && st)
			SOCK_COUNT(st, events_lost);
	}
	return j == J_MONITOR || j == J_PASS ? 1 : 0;
}

/* 127.0.0.0/8 and 0.0.0.0 (this host): local delivery, never judged. */
static __always_inline int local4(__u32 a)
{
	return (a >> 24) == 127 || !a;
}

static __always_inline void addr4_put(__u32 be, struct op25b_addr *a,
				      __u8 *bytes)
{
	a->hi = (__u64)bpf_ntohl(be) << 32;
	a->lo = 0;
	__builtin_memcpy(bytes, &be, 4);
}

/*
 * The entry points. Everything a connect needs is read here, once: the
 * port (most connects leave at its check, having read the policy's live
 * word and nothing else), the destination, the bound source, the
 * caller's uid, gid and cgroups. Loopback and this host (0.0.0.0, ::)
 * are local delivery: what a local MTA then sends out is judged itself.
 */
static __always_inline int sock_connect(struct bpf_sock_addr *ctx,
					const bool v6hook)
{
	struct sock_who w = {};
	struct sock_in in = {};
	struct sock_out out;
	struct bpf_sock *sk;
	__u32 zero = 0, *armed, d0, d1, d2, d3, lvl;
	__u64 cg, leaf;
	__u16 dport;
	int allow;

	armed = bpf_map_lookup_elem(&op25b_armed, &zero);
	if (!armed || !*armed)
		return 1;
	if (ctx->type != OP25B_SOCK_STREAM ||
	    (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_MPTCP))
		return 1;
	dport = bpf_ntohs((__u16)ctx->user_port);
	if (port_open(dport))
		return 1;
	sk = ctx->sk;
	w.hook = v6hook ? OP25B_HOOK_CONNECT6 : OP25B_HOOK_CONNECT4;
	if (!v6hook) {
		d0 = ctx->user_ip4;
		if (local4(bpf_ntohl(d0)))
			return 1;
		addr4_put(d0, &in.dst, w.daddr);
		w.family = 4;
		if (sk && sk->src_ip4) {
			addr4_put(sk->src_ip4, &in.src, w.saddr);
			in.has_src = 1;
		}
	} else {
		d0 = ctx->user_ip6[0];
		d1 = ctx->user_ip6[1];
		d2 = ctx->user_ip6[2];
		d3 = ctx->user_ip6[3];
		if (!d0 && !d1 && d2 == bpf_htonl(0xffff)) {
			/* IPv4-mapped: the IPv4 address it is */
			if (local4(bpf_ntohl(d3)))
				return 1;
			addr4_put(d3, &in.dst, w.daddr);
			w.family = 4;
			w.flags |= OP25B_SE_MAPPED;
			if (sk && !sk->src_ip6[0] && !sk->src_ip6[1] &&
			    sk->src_ip6[2] == bpf_htonl(0xffff) &&
			    sk->src_ip6[3]) {
				addr4_put(sk->src_ip6[3], &in.src, w.saddr);
				in.has_src = 1;
			}
		} else {
			if (!d0 && !d1 && !d2 &&
			    (!d3 || d3 == bpf_htonl(1)))
				return 1;	/* :: and ::1 */
			in.v6 = 1;
			w.family = 6;
			in.dst.hi = (__u64)bpf_ntohl(d0) << 32 | bpf_ntohl(d1);
			in.dst.lo = (__u64)bpf_ntohl(d2) << 32 | bpf_ntohl(d3);
			__builtin_memcpy(w.daddr, &d0, 4);
			__builtin_memcpy(w.daddr + 4, &d1, 4);
			__builtin_memcpy(w.daddr + 8, &d2, 4);
			__builtin_memcpy(w.daddr + 12, &d3, 4);
			if (sk) {
				d0 = sk->src_ip6[0];
				d1 = sk->src_ip6[1];
				d2 = sk->src_ip6[2];
				d3 = sk->src_ip6[3];
			}
			if (sk && (d0 | d1 | d2 | d3)) {
				in.has_src = 1;
				in.src.hi = (__u64)bpf_ntohl(d0) << 32 |
					    bpf_ntohl(d1);
				in.src.lo = (__u64)bpf_ntohl(d2) << 32 |
					    bpf_ntohl(d3);
				__builtin_memcpy(w.saddr, &d0, 4);
				__builtin_memcpy(w.saddr + 4, &d1, 4);
				__builtin_memcpy(w.saddr + 8, &d2, 4);
				__builtin_memcpy(w.saddr + 12, &d3, 4);
			}
		}
	}
	if (in.has_src) {
		w.flags |= OP25B_SE_SOURCE;
		w.sport = sk ? (__u16)sk->src_port : 0;
	}
	in.dport = dport;
	cg = bpf_get_current_uid_gid();
	in.uid = (__u32)cg;
	in.gid = cg >> 32;
	/* the caller's cgroup and every one above it, to the root */
	for (lvl = 0; lvl < OP25B_CG_LEVELS - 1; lvl++) {
		cg = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!cg)
			break;
		in.cg[lvl] = cg;
		in.ncg = lvl + 1;
	}
	leaf = bpf_get_current_cgroup_id();
	if (in.ncg < OP25B_CG_LEVELS && (!in.ncg ||
	    in.cg[(in.ncg - 1) & (OP25B_CG_LEVELS - 1)] != leaf)) {
		in.cg[in.ncg & (OP25B_CG_LEVELS - 1)] = leaf;
		in.ncg++;
	}
	op25b_sock_decide(&in, &out);
	allow = op25b_sock_act(ctx, &in, &out, &w);
	/*
	 * A global function's result is any number to the verifier: said as
	 * 0 or 1 here, where a compiler that knows its range cannot fold it.
	 */
	asm volatile("" : "+r"(allow));
	return allow ? 1 : 0;
}

/*
 * Loaded only by attach --cgroup ("?": not by default, so a loader of the
 * packet hooks never verifies them): on a kernel without a BPF JIT their
 * calls' stack (544 bytes) is over the interpreter's 512, and the packet
 * hooks must load there all the same.
 */
SEC("?cgroup/connect4")
int op25b_connect4(struct bpf_sock_addr *ctx)
{
	return sock_connect(ctx, false);
}

SEC("?cgroup/connect6")
int op25b_connect6(struct bpf_sock_addr *ctx)
{
	return sock_connect(ctx, true);
}

#endif /* OP25B_CGROUP_H */
