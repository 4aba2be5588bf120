// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * op25b programs no record of this pin dir names (their pin dir removed,
 * or another's), for status and detach; and whether op25b is set up under
 * the pin dir at all.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "attachments.h"

/* ---- op25b programs no record of this pin dir names ---- */

bool recorded(const struct record *recs, size_t n, __u32 ifindex,
		     __u32 hook, __u32 prog_id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (recs[i].key.ifindex == ifindex && recs[i].key.hook == hook &&
		    recs[i].val.prog_id == prog_id)
			return true;
	return false;
}

static int orphan_add(struct record **v, size_t *n, const char *ifname,
		      __u32 ifindex, __u32 hook, __u32 prog_id, __u32 flags)
{
	struct record *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	nv[*n].key.ifindex = ifindex;
	nv[*n].key.hook = hook;
	nv[*n].val.prog_id = prog_id;
	nv[*n].val.flags = flags;
	nv[*n].val.tc_handle = OP25B_TC_HANDLE;
	nv[*n].val.tc_priority = OP25B_TC_PRIORITY;
	snprintf(nv[*n].val.ifname, sizeof(nv[*n].val.ifname), "%s", ifname);
	(*n)++;
	return EXIT_OK;
}

/* The op25b programs no record names in the libxdp dispatcher on it. */
static int orphans_in_dispatcher(const struct record *recs, size_t nrec,
				 const struct if_nameindex *it, __u32 flags,
				 struct record **out, size_t *n)
{
	__u32 ids[8];
	size_t i, k = dispatcher_op25b(it->if_index, ids, 8);
	int rc = EXIT_OK;

	for (i = 0; i < k && !rc; i++)
		if (!recorded(recs, nrec, it->if_index, OP25B_HOOK_XDP, ids[i]))
			rc = orphan_add(out, n, it->if_name, it->if_index,
					OP25B_HOOK_XDP, ids[i],
					flags | OP25B_AF_XDP_DISPATCHER);
	return rc;
}

/*
 * op25b programs attached in this namespace that recs (this pin dir's
 * records) do not name: another instance's, or one whose pin dir is gone.
 */
int orphans_find(const struct record *recs, size_t nrec,
			struct record **out, size_t *n)
{
	static const __u32 tc_hooks[] = { OP25B_HOOK_TC_INGRESS,
					  OP25B_HOOK_TC_EGRESS };
	struct if_nameindex *ifs = if_nameindex(), *it;
	char name[BPF_OBJ_NAME_LEN];
	int rc = EXIT_OK;
	size_t h;

	*out = NULL;
	*n = 0;
	for (it = ifs; it && it->if_index && !rc; it++) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		__u32 ids[2], flags[2] = { OP25B_AF_XDP_NATIVE,
					   OP25B_AF_XDP_GENERIC }, i;

		if (!bpf_xdp_query(it->if_index, 0, &q)) {
			ids[0] = q.drv_prog_id;
			ids[1] = q.skb_prog_id;
			for (i = 0; i < 2 && !rc; i++) {
				if (!ids[i] || recorded(recs, nrec, it->if_index,
							OP25B_HOOK_XDP, ids[i]))
					continue;
				prog_name_of(ids[i], name, sizeof(name));
				if (op25b_xdp_name(name))
					rc = orphan_add(out, n, it->if_name,
							it->if_index, OP25B_HOOK_XDP,
							ids[i], flags[i]);
				else if (ids[i])
					rc = orphans_in_dispatcher(recs, nrec,
							it, flags[i], out, n);
			}
		}
		for (h = 0; h < 2 && !rc; h++) {
			__u32 id = tc_slot(it->if_index, tc_hooks[h]);

			if (!id || recorded(recs, nrec, it->if_index, tc_hooks[h], id))
				continue;
			prog_name_of(id, name, sizeof(name));
			if (!strcmp(name, OP25B_PROG_TC))
				rc = orphan_add(out, n, it->if_name, it->if_index,
						tc_hooks[h], id, 0);
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	return rc;
}

/* Whose an op25b program is: "pin dir X", or "no pin dir". */
void orphan_owner(const struct record *o, char *buf, size_t len)
{
	__u32 maps[64], n;
	char dir[PATH_MAX];
	int fd = bpf_prog_get_fd_by_id(o->val.prog_id);

	snprintf(buf, len, "no pin dir");
	if (fd < 0)
		return;
	n = prog_map_ids(fd, maps, 64);
	if (n && pin_dir_of_maps(maps, n, dir, sizeof(dir)))
		snprintf(buf, len, "pin dir %s", dir);
	close(fd);
}

/* ---- detach ---- */

static bool dir_empty(const char *path)
{
	struct dirent *de;
	bool empty = true;
	DIR *d;

	d = opendir(path);
	if (!d)
		return true;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

static bool parent_on_bpffs(const char *path)
{
	char parent[PATH_MAX];
	struct statfs st;

	snprintf(parent, sizeof(parent), "%s", path);
	return !statfs(dirname(parent), &st) && st.f_type == BPF_FS_MAGIC;
}

/*
 * For status and detach, nothing set up yet is a normal state, not an
 * error; a pin dir that cannot exist (no bpffs under it) is.
 */
int pin_dir_state(bool *set_up)
{
	int rc;

	*set_up = false;
	if (access(g.pin_dir, F_OK) && errno == ENOENT)
		return parent_on_bpffs(g.pin_dir) ? EXIT_OK :
						    pin_dir_prepare(false);
	rc = pin_dir_prepare(false);
	if (!rc)
		*set_up = !dir_empty(g.pin_dir);
	return rc;
}
