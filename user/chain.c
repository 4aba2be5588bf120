// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Chained mode (doc/DESIGN.md, "Sharing XDP"): the XDP program op25b finds
 * on a device is kept in a slot of the pinned chain program array
 * (bpf/chain.h) and runs for every packet op25b passes; detach puts it
 * back. This file hands out the slots, fills and clears them, reads what
 * an op25b program chains (from the program itself, so that an op25b no
 * record names is read alike), and says which mode an attachment is in.
 * The hook's own steps are in hook_xdp.c.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "attachments.h"
#include "op25b.skel.h"

/* The pinned chain array; -1 (errno set) when there is none. */
static int chain_map_open(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", g.pin_dir, OP25B_PIN_CHAIN);
	return bpf_obj_get(path);
}

/* The id of the program in slot of the array fd, 0 for none. */
static __u32 slot_prog_id(int fd, __u32 slot)
{
	__u32 id = 0;

	if (!slot || slot >= OP25B_CHAIN_SLOTS ||
	    bpf_map_lookup_elem(fd, &slot, &id))
		return 0;
	return id;
}

/*
 * A slot no record of any namespace names, and empty. A filled slot that
 * no record names is a leftover (its record went with its device, or a
 * writer was killed between filling it and recording it: writers hold the
 * pin dir's lock): it is emptied, letting its program go.
 */
int chain_slot_take(int attach_fd, __u32 *slot)
{
	struct op25b_attach_key key, *prev = NULL;
	struct op25b_attach_val val;
	unsigned char *named;
	int fd;
	__u32 s;

	fd = chain_map_open();
	if (fd < 0) {
		p_err("cannot open the chain map under %s: %s", g.pin_dir,
		      strerror(errno));
		return EXIT_RUNTIME;
	}
	named = calloc(OP25B_CHAIN_SLOTS, 1);
	if (!named) {
		close(fd);
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	/* every namespace's records: the array is the pin dir's */
	while (!bpf_map_get_next_key(attach_fd, prev, &key)) {
		prev = &key;
		if (!bpf_map_lookup_elem(attach_fd, &key, &val) &&
		    val.chain_slot < OP25B_CHAIN_SLOTS)
			named[val.chain_slot] = 1;
	}
	*slot = 0;
	for (s = 1; s < OP25B_CHAIN_SLOTS; s++) {
		if (named[s])
			continue;
		if (slot_prog_id(fd, s))
			bpf_map_delete_elem(fd, &s);
		if (!*slot)
			*slot = s;
	}
	free(named);
	close(fd);
	if (!*slot) {
		p_err("no chain slot left: %u XDP attachments already chain another program",
		      OP25B_CHAIN_SLOTS - 1);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* Keep the program prog_fd (name, on ifname) in slot: what op25b will call. */
int chain_put(__u32 slot, int prog_fd, const char *ifname, const char *name)
{
	int fd = chain_map_open(), err = 0;

	if (fd < 0 || bpf_map_update_elem(fd, &slot, &prog_fd, BPF_ANY))
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err == -EINVAL)
		p_err("cannot chain XDP program '%s' on '%s': the kernel refuses it in op25b's program array (it differs from op25b's XDP program in kind: multi-buffer, device-bound, or loaded without the attach type BPF_XDP); use --force to replace it",
		      name, ifname);
	else if (err)
		p_err("cannot chain XDP program '%s' on '%s': %s", name, ifname,
		      errstr(err));
	return err ? EXIT_RUNTIME : EXIT_OK;
}

/* Empty slot of the pinned array: its program goes, unless held elsewhere. */
void chain_clear(__u32 slot)
{
	int fd;

	if (!slot)
		return;
	fd = chain_map_open();
	if (fd < 0)
		return;
	bpf_map_delete_elem(fd, &slot);
	close(fd);
}

/*
 * What the op25b program prog_id chains, read from the program itself:
 * its slot (its loader's constant) and an fd of its chain array (-1 with
 * slot 0 when it chains nothing, or cannot be read).
 */
void chain_of_prog(__u32 prog_id, int *map_fd, __u32 *slot)
{
	__u32 maps[64], i, n;
	struct op25b_bpf__rodata ro;
	int pfd, fd;

	*map_fd = -1;
	*slot = 0;
	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0)
		return;
	n = prog_map_ids(pfd, maps, 64);
	close(pfd);
	for (i = 0; i < n; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi), zero = 0;
		size_t nl;

		fd = bpf_map_get_fd_by_id(maps[i]);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen)) {
			close(fd);
			continue;
		}
		nl = strlen(mi.name);
		if (mi.type == BPF_MAP_TYPE_PROG_ARRAY && *map_fd < 0 &&
		    !strncmp(mi.name, "op25b_chain", sizeof(mi.name) - 1)) {
			*map_fd = fd;
			continue;
		}
		/* the loader's constants: op25bctl's own skeleton says where */
		if (mi.type == BPF_MAP_TYPE_ARRAY && nl > 7 &&
		    !strcmp(mi.name + nl - 7, ".rodata") &&
		    mi.value_size <= sizeof(ro) &&
		    mi.value_size >= offsetof(struct op25b_bpf__rodata,
					      op25b_chain_slot) + 4 &&
		    !bpf_map_lookup_elem(fd, &zero, &ro))
			*slot = ro.op25b_chain_slot;
		close(fd);
	}
	if (*map_fd < 0 || !*slot || *slot >= OP25B_CHAIN_SLOTS) {
		if (*map_fd >= 0)
			close(*map_fd);
		*map_fd = -1;
		*slot = 0;
	}
}

/* What op25b program prog_id chains: its id (0: none, or gone), its slot. */
__u32 chain_target(__u32 prog_id, __u32 *slot)
{
	int fd;
	__u32 id;

	chain_of_prog(prog_id, &fd, slot);
	if (fd < 0)
		return 0;
	id = slot_prog_id(fd, *slot);
	close(fd);
	return id;
}

/*
 * The slot the op25b program prog_id chains through this pin dir's array,
 * 0 when it chains nothing here (alone, or another pin dir's op25b).
 */
__u32 chain_slot_kept(__u32 prog_id)
{
	struct bpf_map_info a = {}, b = {};
	__u32 la = sizeof(a), lb = sizeof(b), slot;
	int fd, pinned;

	chain_of_prog(prog_id, &fd, &slot);
	if (fd < 0)
		return 0;
	pinned = chain_map_open();
	if (pinned < 0 || bpf_obj_get_info_by_fd(fd, &a, &la) ||
	    bpf_obj_get_info_by_fd(pinned, &b, &lb) || a.id != b.id)
		slot = 0;
	if (pinned >= 0)
		close(pinned);
	close(fd);
	return slot;
}

/*
 * An XDP attachment's way of sharing its device, text and JSON: alone, or
 * chained (prog ID NAME), or chained with its program gone, or in libxdp's
 * dispatcher (dispatcher.c). prog_id is the op25b program on the device,
 * 0 when none is; slot and flags what its record says (0 for an op25b no
 * record names: read from the program).
 */
void chain_print_mode(enum output_type t, __u32 ifindex, __u32 prog_id,
		      __u32 slot, __u32 flags)
{
	char name[BPF_OBJ_NAME_LEN];
	__u32 own = 0, id = 0;
	int fd;

	if (flags & OP25B_AF_XDP_DISPATCHER || dispatcher_member(prog_id)) {
		dispatcher_print_mode(t, ifindex, prog_id);
		return;
	}
	if (prog_id)
		id = chain_target(prog_id, &own);
	if (!own && slot) {
		/* op25b is not on the device: what the record's slot holds */
		fd = chain_map_open();
		if (fd >= 0) {
			id = slot_prog_id(fd, slot);
			close(fd);
		}
		own = slot;
	}
	print_string(t, "sharing", ", %s", own ? "chained" : "alone");
	if (!own)
		return;
	print_uint(PRINT_JSON, "chain_slot", NULL, own);
	if (!id) {
		print_null(PRINT_JSON, "chained_prog_id", NULL);
		if (t != PRINT_JSON)
			print_string(PRINT_FP, NULL, "%s",
				     " (the program it chained is gone)");
		return;
	}
	prog_name_of(id, name, sizeof(name));
	print_uint(t, "chained_prog_id", " (prog %llu", id);
	print_string(t, "chained_prog_name", " %s", name);
	/* op25b taken off by someone else: held here, run by nothing */
	print_bool(PRINT_JSON, "chained_running", NULL, prog_id);
	if (t != PRINT_JSON)
		print_string(PRINT_FP, NULL, "%s",
			     prog_id ? ")" : ", held, not running)");
}
