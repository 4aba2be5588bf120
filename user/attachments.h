/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The attachments' rooms and what they share: the words of an attachment
 * (attach_args.c), the hooks (hook_xdp.c, hook_tc.c), the records of the
 * attachments map (records.c), op25b programs no record names
 * (orphans.c), the attach and detach commands (attach.c) and what apply,
 * save and watch ask of them (attach_sync.c). status.c, watch.c and
 * session.c read it too; other commands go through op25bctl.h.
 */
#ifndef OP25B_ATTACHMENTS_H
#define OP25B_ATTACHMENTS_H

#include <string.h>
#include <stdbool.h>
#include <stddef.h>
#include "op25bctl.h"

/* One entry of the attachments map. */
struct record {
	struct op25b_attach_key key;
	struct op25b_attach_val val;
};

/* Read every record of the attachments map; *out is the caller's to free. */
int records_load(int map_fd, struct record **out, size_t *n);
/* op25b programs on this namespace's hooks that no record names. */
int orphans_find(const struct record *recs, size_t nrec, struct record **out,
		 size_t *n);
/* Which pin dir, if any, an orphan's maps belong to, for the operator. */
void orphan_owner(const struct record *o, char *buf, size_t len);
bool ifindex_alive(__u32 ifindex);
bool is_tc_hook(__u32 hook);
/* The id of the program on a tc hook's op25b slot, 0 for none. */
__u32 tc_slot(int ifindex, __u32 hook);
void print_hook(enum output_type t, __u32 hook, __u32 flags);
/* The program really on a record's hook now, 0 for none. */
__u32 attached_prog_id(const struct record *rec);
/* Is op25b set up under g.pin_dir (*set_up), without making anything? */
int pin_dir_state(bool *set_up);

/* attach's words, for watch too */
struct attach_args {
	const char *ifname, *hook, *mode, *dir;
	bool force;
	enum op25b_layer layer;	/* whose attachment it is: the file's (0) */
	__u32 owner;		/* the session's id in the session layer */
};
/*
 * attach's options, for every command that takes them (attach, watch):
 * the entries of an option table, and what each sets.
 */
enum {
	ATTACH_OPT_HOOK = 1,
	ATTACH_OPT_MODE,
	ATTACH_OPT_DIR,
	ATTACH_OPT_FORCE,
	ATTACH_OPT_NEXT,	/* the first id free for the command's own */
};
#define ATTACH_OPTS							\
	{ .name = "--hook", .id = ATTACH_OPT_HOOK, .arg = "xdp|tc",	\
	  .what = "xdp or tc",						\
	  .help = "the hook (default: xdp for Ethernet, else tc)" },	\
	{ .name = "--xdp-mode", .id = ATTACH_OPT_MODE,			\
	  .arg = "native|generic", .what = "native or generic",		\
	  .help = "XDP in the driver, or generic (in the stack)" }, \
	{ .name = "--direction", .id = ATTACH_OPT_DIR,			\
	  .arg = "ingress|egress", .what = "ingress or egress",		\
	  .help = "tc: what comes in (default), or what is sent" }, \
	{ .name = "--force", .id = ATTACH_OPT_FORCE,			\
	  .help = "replace a program this op25b did not load (not chain it)" }
extern const struct opt attach_opts[];
/* What w, read with attach's options, says of them. */
void attach_opts_take(struct attach_args *a, const struct args *w);
/*
 * The words of attach (argv after the verb), and their values: EXIT_USAGE
 * if bad, said as p_say says (into why when it is kept).
 */
int attach_args_parse(int argc, char **argv, struct attach_args *a,
		      char *why, size_t len);
int attach_args_check(const struct attach_args *a, char *why, size_t len);

struct op25b_bpf;
/*
 * Attach to a->ifname as attach does, the loaded datapath kept in cache
 * (4 slots, NULL at first) for the next device, the lock released after.
 */
int attach_iface(const struct attach_args *a, struct op25b_bpf **cache);
/* Drop this namespace's watch records of a device that is gone; *n how many. */
int records_forget(__u32 ifindex, size_t *n);
/* Waiting for a name: asked for before the device existed, or it went. */
bool record_pending(const struct record *rec);
bool record_gone(const struct record *rec);
/* The name it goes by now (IF_NAMESIZE bytes in buf). */
const char *record_name(const struct record *rec, char *buf);
/*
 * The device called name exists: attach what waits for that name, as it
 * was asked for (cache as attach_iface's). *done: how many.
 */
int attach_pending_resolve(const char *name, struct op25b_bpf **cache,
			   size_t *done);
/* The names this namespace's records wait for; *names is malloc'd. */
int attach_waiting(char (**names)[16], size_t *n);


/* ---- within the attachments' files (attach, attach_sync, records, hooks) ---- */

#define NETNS_PATH	"/proc/self/ns/net"

/* One attach to make: what the words and the device say. */
struct attach_req {
	const char *ifname;
	int ifindex;
	enum op25b_hook hook;
	__u32 xdp_mode;		/* XDP_FLAGS_*_MODE, 0: the kernel picks */
	bool force;
	bool l3;
	__u32 policy_id;	/* our policy map: what makes an op25b ours */
	enum op25b_layer layer;	/* whose it is (doc/DESIGN.md, "Layers") */
	__u32 owner;
};

struct op25b_bpf;
struct bpf_prog_info;

/* Why a recorded hook is left as it is: someone else's program is there. */
#define NOT_OURS "the program there is no longer op25b's"

/* hook_xdp.c: attach in place; detach only the recorded program (*kept: why not). */
int xdp_attach(const struct attach_req *r, struct op25b_bpf *skel,
	       struct op25b_attach_val *v);
int xdp_detach(const struct record *rec, const char **kept);

/* hook_tc.c */
int link_arptype(const char *ifname, int ifindex, unsigned int *type);
int tc_attach(const struct attach_req *r, struct op25b_bpf *skel,
		     int map_fd, const struct op25b_attach_key *key,
		     struct op25b_attach_val *v);
int tc_detach(const struct record *rec, const char **kept);
void tc_release_qdisc(int map_fd, const struct record *rec);

/* records.c */
int op25b_owner(const struct attach_req *r, int fd, char *owner, size_t len);
int op25b_ours(const struct attach_req *r, int fd, __u32 id);
int netns_ino(__u64 *ino);
int prog_info(int fd, struct bpf_prog_info *info);
__u32 prog_id_of(int fd);
__u32 prog_map_ids(int fd, __u32 *maps, __u32 max);
void prog_name_of(__u32 id, char *name, size_t len);
/* An XDP program name op25b's are known by: alone or chaining another. */
static inline bool op25b_xdp_name(const char *name)
{
	return !strcmp(name, OP25B_PROG_XDP) ||
	       !strcmp(name, OP25B_PROG_XDP_CHAINED);
}
const char *hook_label(__u32 hook, __u32 flags);
bool record_find(int map_fd, const struct op25b_attach_key *key,
			struct op25b_attach_val *val);
bool tc_siblings(int map_fd, const struct op25b_attach_key *key);
int record_store(int map_fd, const struct op25b_attach_key *key,
			const struct op25b_attach_val *val);
void owner_keep(int map_fd, const struct op25b_attach_key *key,
		       struct op25b_attach_val *val);
void pending_forget(int map_fd, __u64 ino, const char *name,
			   __u32 hook);
bool attach_pinned(void);
int records_map_open(const char *name, __u32 key_size, __u32 value_size,
		     int *fd);
int attach_map_open(int *fd);
int pending_store(int map_fd, const struct attach_want *w,
			 enum op25b_layer layer, __u32 owner);
int record_order(const void *va, const void *vb);
int records_read(struct record **recs, size_t *n);

/* attach.c: the commands' own steps, for attach_sync.c */
int attach_req_build(const struct attach_args *a, struct attach_req *r,
		     char *why, size_t len);
/* apply reports attachments in its own output, not as attach does */
extern bool attach_quiet;
int attach_run(const struct attach_req *r);
int detach_one(int map_fd, const struct record *rec);


/*
 * chain.c: an XDP attachment that keeps the program it found (chained
 * mode, bpf/chain.h): the slots of the pinned chain array, what an op25b
 * program chains, and how status says it.
 */
int chain_slot_take(int attach_fd, __u32 *slot);
int chain_put(__u32 slot, int prog_fd, const char *ifname, const char *name);
void chain_clear(__u32 slot);
void chain_of_prog(__u32 prog_id, int *map_fd, __u32 *slot);
__u32 chain_target(__u32 prog_id, __u32 *slot);
__u32 chain_slot_kept(__u32 prog_id);
void chain_print_mode(enum output_type t, __u32 ifindex, __u32 prog_id,
		      __u32 slot, __u32 flags);
/*
 * dispatcher.c: an XDP attachment in libxdp's dispatcher (dispatcher
 * mode): whether the kernel allows it (why not), whether a device has
 * one, op25b's joining and leaving it, and what status says of it.
 */
bool dispatcher_allowed(char *why, size_t len);
void dispatcher_print(void);
bool dispatcher_on(int ifindex);
/* prog_id when it runs in the dispatcher on ifindex, else 0 */
__u32 dispatcher_has(int ifindex, __u32 prog_id);
/* the op25b programs in the dispatcher on ifindex (ids, at most max) */
size_t dispatcher_op25b(int ifindex, __u32 *ids, size_t max);
int dispatcher_attach(const struct attach_req *r, struct op25b_attach_val *v);
int dispatcher_detach(const struct record *rec, const char **kept);
bool dispatcher_member(__u32 prog_id);
void dispatcher_print_mode(enum output_type t, int ifindex, __u32 prog_id);


/* ---- attach_args.c: a watch statement's words ---- */

#define WATCH_MAX	64
#define PATTERN_MAX	64

struct watch_rule {
	const char *patterns[WATCH_MAX];
	int npatterns;
	struct attach_args args;
	bool boot;		/* --boot: a refused --config is no stop */
};

enum { OPT_CONFIG = ATTACH_OPT_NEXT, OPT_BOOT };
/* watch's options: attach's, --config and --boot */
extern const struct opt watch_opts[];
/*
 * PATTERN... [attach options] into a rule, or, where config is given,
 * --config FILE [--boot] alone; EXIT_USAGE, said, if bad.
 */
int watch_rule_parse(int argc, char **argv, struct watch_rule *r,
		     const char **config, char *why, size_t len);


/* ---- hook_cgroup.c: the socket hooks on cgroups ---- */

/* One entry of the cgroups map. */
struct cg_record {
	struct op25b_cgroup_key key;
	struct op25b_cgroup_att val;
};

/* What a record's cgroup has now (status, apply, watch). */
enum cg_state {
	CG_ATTACHED,		/* both programs, armed */
	CG_INCOMPLETE,		/* an attach was cut short */
	CG_PENDING,		/* asked for before the cgroup existed */
	CG_GONE,		/* the cgroup went, or was made again */
	CG_NOT_ATTACHED,	/* someone took the programs off */
};

/* apply and watch report in their own words */
extern bool cg_quiet;
/* Every record of the cgroups map, by path; *out is malloc'd. */
int cg_records_load(int map_fd, struct cg_record **out, size_t *n);
int cg_records_read(struct cg_record **out, size_t *n);
enum cg_state cg_record_state(const struct cg_record *r);
const char *cg_state_name(enum cg_state s);
/*
 * Attach the socket hooks to the cgroup at rel (canonical, below the v2
 * root) in layer's name; a missing cgroup is recorded pending when
 * pending_ok, else refused. Takes the lock.
 */
int cg_attach(const char *rel, enum op25b_layer layer, __u32 owner,
	      bool pending_ok);
/* Detach rel's attachment, or every cgroup's (NULL); *found: any record. */
int cg_detach(const char *rel, bool *found);
int cg_store_pending(int map_fd, const char *rel, enum op25b_layer layer,
		     __u32 owner);

#endif /* OP25B_ATTACHMENTS_H */
