// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Does the kernel let an XDP program's function be replaced by another
 * program (freplace)? libxdp's dispatcher, how XDP tools share a device,
 * is built on that, and some kernels refuse it. op25bctl loads this
 * object twice (user/dispatcher.c): the target, then an extension of
 * its slot, attached to it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__noinline int op25b_probe_slot(struct xdp_md *ctx)
{
	return ctx ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int op25b_probe(struct xdp_md *ctx)
{
	return op25b_probe_slot(ctx);
}

SEC("freplace/op25b_probe_slot")
int op25b_probe_ext(struct xdp_md *ctx)
{
	return XDP_PASS;
}
