/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Chained mode (doc/DESIGN.md, "Sharing XDP"): the XDP program op25b
 * found on a device, kept in a slot of a program array and run, by a
 * tail call, for every packet op25b passes, as a root program chains
 * its users. The slot is the loader's constant (0: alone, and the call
 * is not even compiled in by the verifier), so the call is a direct
 * jump the JIT patches, and no packet looks a slot up. A blocked packet
 * never reaches it. An empty slot (the tail call fails) passes, as op25b
 * alone would.
 */
#ifndef OP25B_CHAIN_H
#define OP25B_CHAIN_H

/*
 * The program array: pinned (OP25B_PIN_CHAIN), since the kernel empties
 * a program array when its last pin and fd go. Its slots are handed out
 * by op25bctl, one per chained attachment (the record's chain_slot).
 */
OP25B_MAP(BPF_MAP_TYPE_PROG_ARRAY, 0, __u32, __u32, OP25B_CHAIN_SLOTS)
	op25b_chain SEC(".maps");

/* Set by the loader for a chained attachment: its slot, 0 for none. */
const volatile __u32 op25b_chain_slot = 0;

/* XDP_PASS, or what the chained program answers. */
static __always_inline int chain_pass(struct xdp_md *ctx)
{
	if (op25b_chain_slot)
		bpf_tail_call(ctx, &op25b_chain, op25b_chain_slot);
	return XDP_PASS;
}

#endif /* OP25B_CHAIN_H */
