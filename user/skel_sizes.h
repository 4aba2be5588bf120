// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What every loader of the datapath tells it of the maps it runs on: the
 * sizes it hashes and indexes onto (doc/DESIGN.md, "Sizing"), read from
 * the maps as they are about to be used, made or pinned. op25bctl's
 * loader (pin.c) and every test or bench that loads the object call it
 * after sizing or reusing the maps, before loading.
 */
#ifndef OP25B_SKEL_SIZES_H
#define OP25B_SKEL_SIZES_H

#include <bpf/libbpf.h>
#include "op25b.h"
#include "op25b.skel.h"

static inline void skel_tell_sizes(struct op25b_bpf *s)
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 rules = bpf_map__max_entries(s->maps.op25b_rules);
	__u32 stripes = rules ? bpf_map__max_entries(s->maps.op25b_hits) /
				rules : 0;

	if (!stripes)
		stripes = 1;
	s->rodata->op25b_root_bits = op25b_root_bits_of_size(
		bpf_map__max_entries(s->maps.op25b_roots));
	s->rodata->op25b_hit_stripes = stripes;
	s->rodata->op25b_hits_shared = ncpu > 0 && (__u32)ncpu > stripes;
	s->rodata->op25b_limiter_slots =
		bpf_map__max_entries(s->maps.op25b_limiter);
	s->rodata->op25b_offender_slots =
		bpf_map__max_entries(s->maps.op25b_offenders);
}

#endif
