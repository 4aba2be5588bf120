/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The shapes of op25b's maps, written once: every map the datapath defines
 * (op25b.bpf.c, events.h, limit.h) is one of these, keyed by a __u32 slot
 * unless it is a hash. Only the shape is here; each map's name, size and
 * why it exists stay where it is defined.
 */
#ifndef OP25B_MAPS_H
#define OP25B_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Every map: its type, flags, key, value and number of entries. */
#define OP25B_MAP(map_type, flags, key_type, value_type, entries)	\
	struct {							\
		__uint(type, map_type);					\
		__uint(map_flags, flags);				\
		__uint(max_entries, entries);				\
		__type(key, key_type);					\
		__type(value, value_type);				\
	}

/* An array the controller also reads or writes through mmap. */
#define OP25B_MMAP_ARRAY(value_type, entries) \
	OP25B_MAP(BPF_MAP_TYPE_ARRAY, BPF_F_MMAPABLE, __u32, value_type, entries)

/* An array of the datapath's own, read by the controller with syscalls. */
#define OP25B_ARRAY(value_type, entries) \
	OP25B_MAP(BPF_MAP_TYPE_ARRAY, 0, __u32, value_type, entries)

/* One value a CPU per slot. */
#define OP25B_PERCPU_ARRAY(value_type, entries) \
	OP25B_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, 0, __u32, value_type, entries)

/* A hash written by op25bctl only, allocated as it is used. */
#define OP25B_HASH(key_type, value_type, entries) \
	OP25B_MAP(BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, key_type, value_type, \
		  entries)

#endif /* OP25B_MAPS_H */
