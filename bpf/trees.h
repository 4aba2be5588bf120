/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The compiled trees as the datapath reads them: their maps, and the
 * accessors decide.h walks them through (op25bctl's reader supplies its
 * own, over its mmap windows of the same maps: user/engine_read.c).
 * decide.h includes this for the BPF side; it needs nothing but op25b.h
 * and maps.h.
 */
#ifndef OP25B_TREES_H
#define OP25B_TREES_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "op25b.h"
#include "maps.h"

/*
 * The compiled trees (op25b.h). Array maps: the verifier inlines their
 * lookups, and the controller writes them through mmap. Their sizes are
 * set from the capacity when the maps are created.
 */
OP25B_MMAP_ARRAY(struct op25b_root_ent,
		OP25B_ROOT_TABLES << OP25B_ROOT_BITS_DEFAULT)
	op25b_roots SEC(".maps");

OP25B_MMAP_ARRAY(struct op25b_node,
		OP25B_NODES_FOR_BITS(OP25B_CAPACITY_DEFAULT,
				     OP25B_ROOT_BITS_DEFAULT))
	op25b_nodes SEC(".maps");

OP25B_MMAP_ARRAY(struct op25b_leaves,
		OP25B_LEAF_ELEMS_FOR_BITS(OP25B_CAPACITY_DEFAULT,
					  OP25B_ROOT_BITS_DEFAULT))
	op25b_leaves SEC(".maps");

/* The writers' own, never read here (op25b.h, struct op25b_rootsync). */
OP25B_MMAP_ARRAY(struct op25b_rootsync, OP25B_ROOT_TABLES)
	op25b_rootsync SEC(".maps");

/*
 * The decision's map access (decide.h): the trees are global maps, so
 * struct op25b_trees is never made and the accessors are passed NULL.
 */
/* The root tables' bits: the loader sets it from op25b_roots' size. */
const volatile __u32 op25b_root_bits = OP25B_ROOT_BITS_DEFAULT;

static __always_inline __u32 op25b_root_bits_of(const struct op25b_trees *t)
{
	return op25b_root_bits;
}

static __always_inline const struct op25b_root_ent *
op25b_root_at(const struct op25b_trees *t, const __u32 *i)
{
	return bpf_map_lookup_elem(&op25b_roots, i);
}

static __always_inline const struct op25b_node *
op25b_node_at(const struct op25b_trees *t, const __u32 *i)
{
	return bpf_map_lookup_elem(&op25b_nodes, i);
}

static __always_inline const struct op25b_leaves *
op25b_leaves_at(const struct op25b_trees *t, const __u32 *i)
{
	return bpf_map_lookup_elem(&op25b_leaves, i);
}

#endif /* OP25B_TREES_H */
