/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * op25b shared ABI: everything both sides of the BPF boundary must agree on.
 * Plain fixed-width types only, so user/ and tests/ include this file too.
 */
#ifndef OP25B_H
#define OP25B_H

#ifdef __BPF__
#include <linux/types.h>
#else
#include <linux/types.h>
#endif

#define OP25B_PIN_DIR_DEFAULT	"/sys/fs/bpf/op25b"

/* Pinned object names under the pin directory. */
#define OP25B_PIN_SUB4		"subscriber4"
#define OP25B_PIN_SUB6		"subscriber6"
#define OP25B_PIN_RELAY4	"relay4"
#define OP25B_PIN_RELAY6	"relay6"
#define OP25B_PIN_STATS		"stats"
#define OP25B_PIN_CONFIG	"config"
#define OP25B_PIN_ATTACH	"attachments"
#define OP25B_PIN_OFFENDERS	"offenders"
#define OP25B_PIN_EVENTS	"events"

/* Program names as the kernel reports them (bpftool prog, status). */
#define OP25B_PROG_XDP		"op25b_xdp"
#define OP25B_PROG_TC		"op25b_tc"

/* Capacity of each prefix table (per family). */
#define OP25B_TABLE_MAX		65536
#define OP25B_ATTACH_MAX	1024

/* Verdict carried by a table entry. 0 is never stored. */
enum op25b_verdict {
	OP25B_V_NONE	= 0,
	OP25B_V_ALLOW	= 1,
	OP25B_V_DENY	= 2,
	OP25B_V_FORCE_U32 = 0xffffffffu,	/* keep the enum 4 bytes */
};

/* Action taken on a packet that policy blocks. */
enum op25b_action {
	OP25B_ACT_DROP		= 0,
	OP25B_ACT_REJECT	= 1,
	OP25B_ACT_MONITOR	= 2,
	OP25B_ACT_FORCE_U32	= 0xffffffffu,
};

/* LPM trie keys: prefixlen first, address bytes in network order. */
struct op25b_key4 {
	__u32 prefixlen;
	__u8  addr[4];
};

struct op25b_key6 {
	__u32 prefixlen;
	__u8  addr[16];
};

/* Table entry. hits counts packets this entry decided a lookup for. */
struct op25b_rule {
	enum op25b_verdict verdict;	/* an enum: bpftool prints its name */
	__u32 _pad;
	__u64 hits;
};

#define OP25B_PORT_WORDS	(65536 / 64)

/*
 * Global configuration, one value read directly by the datapath (a global
 * variable, no map-lookup helper): the blocked-port bitmap and the action.
 */
struct op25b_config {
	enum op25b_action action;
	__u32 _pad;
	__u64 ports[OP25B_PORT_WORDS];	/* bit p set: TCP dport p blocked */
};

#define OP25B_DEFAULT_PORT	25

/*
 * Per-CPU counters, summed in userspace. Only judged packets are counted:
 * traffic that is not TCP to a blocked port (and not evasive, undecidable
 * or malformed) leaves the program without touching any map.
 */
struct op25b_stats {
	/* why a packet was judged */
	__u64 smtp;		/* TCP segment to a blocked port */
	__u64 evasion;		/* fragment shapes of RFC 1858 / RFC 3128 */
	__u64 undecidable;	/* IPv6 chain not reaching TCP, over the bound, unreadable */
	__u64 malformed;	/* bad IP header or lengths, truncated TCP */
	/* what the judgement was */
	__u64 not_subscriber;	/* source has no deny match: passed */
	__u64 exempt;		/* source's best match is an allow: passed */
	__u64 relay;		/* destination is an allowed relay: passed */
	__u64 blocked;		/* dropped (or rejected) */
	__u64 monitored;	/* would be blocked, passed: action monitor */
	__u64 rejected;		/* blocked and answered with a TCP RST */
	/* what was reported of it */
	__u64 events_suppressed; /* no event: its source had one too recently */
	__u64 events_lost;	/* no event: the ring buffer was full */
};

/* Parser classes, in the order the decision core handles them. */
enum op25b_class {
	OP25B_C_PASS		= 0,	/* not ours: leave at once */
	OP25B_C_SMTP		= 1,
	OP25B_C_EVASION		= 2,
	OP25B_C_UNDECIDABLE	= 3,
	OP25B_C_MALFORMED	= 4,
};

/* IPv6 extension headers walked before giving up as undecidable. */
#define OP25B_IPV6_EXT_MAX	8

/* Encapsulation limits. */
#define OP25B_VLAN_MAX		2

/* tc only: bytes made linear before parsing, when the skb is paged. */
#define OP25B_PULL_LEN		256

/* TTL / hop limit of the TCP RST that action reject answers with. */
#define OP25B_RST_TTL		64

/*
 * Offenders: an LRU table of the sources of blocked (or monitored) packets,
 * so the busiest, most likely infected, hosts can be found; the least
 * recently seen fall out first.
 */
#define OP25B_OFFENDERS_MAX	65536

/* The key: family 4 or 6, IPv4 in the first 4 bytes, the rest zero. */
struct op25b_src {
	__u8  family;
	__u8  _pad[3];
	__u8  addr[16];
};

/* Times are bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME, in nanoseconds. */
struct op25b_offender {
	__u64 blocked;		/* dropped or rejected */
	__u64 monitored;	/* would have been blocked: action monitor */
	__u64 first_ns;
	__u64 last_ns;
	__u64 last_event_ns;	/* when the last event went out */
	__u8  last_daddr[16];	/* IPv4 in the first 4 bytes */
	__u16 last_dport;	/* host order */
	__u16 _pad;
	__u32 last_ifindex;
};

/*
 * Events of blocked attempts on a ring buffer, at most one per source per
 * OP25B_EVENT_INTERVAL_NS: a spam bot makes thousands of attempts a second,
 * and the operator needs its line, not each of them.
 */
#define OP25B_EVENTS_BYTES	(256 * 1024)
#define OP25B_EVENT_INTERVAL_NS	1000000000ULL

struct op25b_event {
	__u64 ts_ns;		/* bpf_ktime_get_boot_ns() */
	__u32 ifindex;		/* the device the packet was seen on */
	__u8  family;		/* 4 or 6 */
	__u8  cls;		/* enum op25b_class: why it was judged */
	__u8  action;		/* enum op25b_action: what was done */
	__u8  nvlan;		/* VLAN ids in vlan[], outer first */
	__u16 vlan[OP25B_VLAN_MAX];
	__u16 pppoe_sid;	/* host order, when pppoe is set */
	__u8  pppoe;
	__u8  _pad;
	__u16 sport;		/* host order; 0 without a TCP header */
	__u16 dport;
	__u8  saddr[16];	/* IPv4 in the first 4 bytes */
	__u8  daddr[16];
};

/* Hooks recorded in the attachments map. */
enum op25b_hook {
	OP25B_HOOK_XDP		= 1,
	OP25B_HOOK_TC_INGRESS	= 2,
	OP25B_HOOK_TC_EGRESS	= 3,
};

enum op25b_attach_flags {
	OP25B_AF_QDISC_CREATED	= 1 << 0,	/* clsact was created by op25b */
	OP25B_AF_XDP_GENERIC	= 1 << 1,
	OP25B_AF_XDP_NATIVE	= 1 << 2,
	OP25B_AF_L3		= 1 << 3,	/* parsing starts at the IP header */
};

/* ifindex is per network namespace: the key names the namespace too. */
struct op25b_attach_key {
	__u64 netns_ino;	/* st_ino of /proc/self/ns/net */
	__u32 ifindex;
	__u32 hook;		/* enum op25b_hook */
};

struct op25b_attach_val {
	__u32 prog_id;
	__u32 flags;		/* enum op25b_attach_flags */
	__u32 tc_handle;
	__u32 tc_priority;
	char  ifname[16];
};

#define OP25B_TC_HANDLE		0x25
#define OP25B_TC_PRIORITY	25

#endif /* OP25B_H */
