/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What attach.c knows of attachments, for status.c: the records of the
 * attachments map, the programs really on a hook, and those no record
 * names. Not for other commands: they go through op25bctl.h.
 */
#ifndef OP25B_ATTACH_H
#define OP25B_ATTACH_H

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
	  .help = "replace a program this op25b did not load" }
extern const struct opt attach_opts[];
/* What w, read with attach's options, says of them. */
void attach_opts_take(struct attach_args *a, const struct args *w);
/* The words of attach (argv after the verb); EXIT_USAGE, said, if bad. */
int attach_args_parse(int argc, char **argv, struct attach_args *a);
int attach_args_check(const struct attach_args *a);

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

#endif /* OP25B_ATTACH_H */
