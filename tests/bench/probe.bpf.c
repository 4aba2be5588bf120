// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench's yardstick for the decision cost: what any lookup structure
 * must pay, whatever its design. probe_depth dependent loads from an array
 * of a chosen size, the first at an index hashed from the packet's IPv4
 * source, each next at the index the last load found (the array holds a
 * random permutation): a trie of that depth over that much memory, with
 * nothing else. Run on the decision-cost packets, it shows what one level
 * costs when the table fits in cache and when it does not.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 probe_mask = 0;	/* entries - 1, a power of two */
const volatile __u32 probe_depth = 1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* set by the loader */
	__type(key, __u32);
	__type(value, __u32);
} probe_mem SEC(".maps");

/* frames seen, when it is the receiver of make bench's flood */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} probe_count SEC(".maps");

SEC("xdp")
int probe(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 k, d, *v, zero = 0;
	__u64 *n;

	if (data + 34 > end)
		return XDP_PASS;
	/*
	 * A multiplicative hash of the source, its high half folded down:
	 * the low bits of a product depend only on the low bits of what was
	 * multiplied, and the address must be read in host order, or the
	 * byte that changes most (its last) would not reach the index at all.
	 */
	k = bpf_ntohl(*(__u32 *)(data + 26)) * 2654435761u;
	k = (k ^ k >> 16) & probe_mask;
	for (d = 0; d < 8 && d < probe_depth; d++) {
		v = bpf_map_lookup_elem(&probe_mem, &k);
		if (!v)
			return XDP_ABORTED;
		k = *v & probe_mask;
	}
	n = bpf_map_lookup_elem(&probe_count, &zero);
	if (n)
		*n += 1 + (k == 0xffffffff);	/* the loads' result is used */
	return XDP_DROP;
}
