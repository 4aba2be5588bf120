/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Test helpers shared by op25b's BPF_PROG_TEST_RUN suites:
 *
 *  - the reporting convention every suite follows: one `ok - <label>` or
 *    `FAIL - <label>: <expected vs seen>` line per check, then
 *    `N passed, N failed` (`, N skipped`) and a non-zero exit on failure;
 *  - a packet builder that lays headers down in wire order, each header
 *    filling in the type / next-header field its predecessor left open;
 *  - one program run through bpf_prog_test_run_opts.
 *
 * Builder misuse is a bug in the test, not a test failure: it aborts.
 */
#ifndef OP25B_TESTLIB_H
#define OP25B_TESTLIB_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ppp_defs.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* ---- reporting ---- */

struct tl_state {
	unsigned int passed;
	unsigned int failed;
	unsigned int skipped;
	bool quiet;		/* -q: only FAIL/skip lines and the summary */
};

static struct tl_state tl __attribute__((unused));

static inline void tl_parse_args(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q")) {
			tl.quiet = true;
			continue;
		}
		fprintf(stderr, "usage: %s [-q]\n", argv[0]);
		exit(2);
	}
}

/* One check: `ok - label`, or `FAIL - label: <fmt>` when cond is false. */
static inline __attribute__((format(printf, 3, 4))) bool
tl_check(bool cond, const char *label, const char *fmt, ...)
{
	va_list ap;

	if (cond) {
		tl.passed++;
		if (!tl.quiet)
			printf("ok - %s\n", label);
		return true;
	}
	tl.failed++;
	printf("FAIL - %s: ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return false;
}

/* A check whose condition the caller has already established. */
static inline void tl_ok(const char *label)
{
	tl_check(true, label, "%s", "");
}

static inline void tl_skip(const char *label, const char *why)
{
	tl.skipped++;
	printf("skip - %s: %s\n", label, why);
}

/* Print the summary line; the process exit status. */
static inline int tl_summary(void)
{
	printf("%u passed, %u failed", tl.passed, tl.failed);
	if (tl.skipped)
		printf(", %u skipped", tl.skipped);
	putchar('\n');
	fflush(stdout);
	return tl.failed ? 1 : 0;
}

/*
 * The suite cannot run here (not root, no BPF): a skip, except under
 * CI=true where a suite that silently tests nothing is a failure.
 */
static inline __attribute__((noreturn)) void tl_cannot_run(const char *why)
{
	const char *ci = getenv("CI");

	if (ci && !strcmp(ci, "true")) {
		tl_check(false, "environment", "%s (CI=true: not skipping)",
			 why);
		exit(tl_summary());
	}
	tl_skip("environment", why);
	exit(tl_summary());
}

/* libbpf's own messages: its warnings, to stderr; nothing else. */
static inline int tl_libbpf_warn(enum libbpf_print_level level,
				 const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static inline __attribute__((noreturn, format(printf, 1, 2))) void
tl_bug(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "test bug: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- random numbers ---- */

/* Marsaglia's xorshift64: the next number of the sequence in *s. */
static inline __u64 tl_xorshift(unsigned long long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- packet builder ---- */

/*
 * Wire constants come from the system's protocol headers: the test restates
 * the protocols independently of bpf/parse.h. Only what those headers lack
 * is defined here.
 */
#define TL_PPPOE_HLEN		6	/* ver/type, code, session id, length */
#define TL_PPPOE_VERTYPE	0x11	/* version 1, type 1 (RFC 2516) */
#define TL_PPPOE_CODE_SESSION	0x00
#define TL_IPV6_FRAG_M		0x0001	/* M flag, host order */
#define TL_NH_HIP		139	/* RFC 7401 */
#define TL_NH_SHIM6		140	/* RFC 5533 */
#define TL_IPV4_HLEN		((__u32)sizeof(struct iphdr))
#define TL_IPV6_HLEN		((__u32)sizeof(struct ip6_hdr))
#define TL_TCP_HLEN		((__u32)sizeof(struct tcphdr))
#define TL_UDP_HLEN		((__u32)sizeof(struct udphdr))

/* Within what XDP test_run accepts in one page with its head/tailroom. */
#define TL_PKT_MAX		3072
#define TL_NONE			(-1)

struct pkt {
	__u8 d[TL_PKT_MAX];
	__u32 len;
	int type_off;		/* open 16-bit ethertype / PPP protocol field */
	bool type_ppp;		/* ...and it is a PPP protocol */
	int nh_off;		/* open 8-bit IP protocol / next-header field */
	int pppoe;		/* PPPoE header offset */
	int l3;			/* IP header offset */
	int l4;			/* TCP/UDP header offset */
	__u8 family;		/* 4 or 6 once an IP header is laid down */
	__u8 l4proto;
};

static inline void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->type_off = p->nh_off = p->pppoe = p->l3 = p->l4 = TL_NONE;
}

static inline __u8 *pkt_grow(struct pkt *p, __u32 n)
{
	__u8 *h;

	if (p->len + n > TL_PKT_MAX)
		tl_bug("packet over %d bytes", TL_PKT_MAX);
	h = p->d + p->len;
	memset(h, 0, n);
	p->len += n;
	return h;
}

static inline void pkt_put16(struct pkt *p, int off, __u16 v)
{
	if (off < 0 || (__u32)off + 2 > p->len)
		tl_bug("put16 at %d outside %u bytes", off, p->len);
	p->d[off] = v >> 8;
	p->d[off + 1] = v & 0xff;
}

static inline __u16 pkt_get16(const struct pkt *p, int off)
{
	return (__u16)(p->d[off] << 8 | p->d[off + 1]);
}

static inline void pkt_put32(struct pkt *p, int off, __u32 v)
{
	pkt_put16(p, off, v >> 16);
	pkt_put16(p, off + 2, v & 0xffff);
}

static inline __u32 pkt_get32(const struct pkt *p, int off)
{
	return (__u32)pkt_get16(p, off) << 16 | pkt_get16(p, off + 2);
}

static inline void pkt_put8(struct pkt *p, int off, __u8 v)
{
	if (off < 0 || (__u32)off >= p->len)
		tl_bug("put8 at %d outside %u bytes", off, p->len);
	p->d[off] = v;
}

/* Close the open 16-bit type field with a raw value. */
static inline void pkt_type(struct pkt *p, __u16 type)
{
	if (p->type_off == TL_NONE)
		tl_bug("no open type field for 0x%04x", type);
	pkt_put16(p, p->type_off, type);
	p->type_off = TL_NONE;
}

/* Close the open next-header field with a raw value. */
static inline void pkt_nh(struct pkt *p, __u8 nh)
{
	if (p->nh_off == TL_NONE)
		tl_bug("no open next-header field for %u", nh);
	p->d[p->nh_off] = nh;
	p->nh_off = TL_NONE;
}

static inline void pkt_bytes(struct pkt *p, __u32 n, __u8 fill)
{
	memset(pkt_grow(p, n), fill, n);
}

/* Keep the first len bytes. */
static inline void pkt_cut(struct pkt *p, __u32 len)
{
	if (len > p->len)
		tl_bug("cut to %u of %u bytes", len, p->len);
	p->len = len;
}

/* Locally administered MACs; the type field stays open. */
static inline void pkt_eth(struct pkt *p)
{
	static const __u8 macs[12] = { 0x02, 0, 0, 0, 0, 0x02,
				       0x02, 0, 0, 0, 0, 0x01 };

	memcpy(pkt_grow(p, ETH_HLEN), macs, sizeof(macs));
	p->type_off = ETH_HLEN - 2;
	p->type_ppp = false;
}

static inline void pkt_vlan(struct pkt *p, __u16 tpid, __u16 vid)
{
	int off;

	pkt_type(p, tpid);
	off = p->len;
	pkt_grow(p, 4);
	pkt_put16(p, off, vid);
	p->type_off = off + 2;
}

/* A PPPoE session header; the PPP protocol after it stays open. */
static inline void pkt_pppoe(struct pkt *p, __u8 vertype, __u8 code,
			     __u16 sid)
{
	int off;

	pkt_type(p, ETH_P_PPP_SES);
	off = p->len;
	pkt_grow(p, TL_PPPOE_HLEN + 2);
	p->d[off] = vertype;
	p->d[off + 1] = code;
	pkt_put16(p, off + 2, sid);
	p->pppoe = off;
	p->type_off = off + TL_PPPOE_HLEN;
	p->type_ppp = true;
}

static inline void pkt_ip_type(struct pkt *p, int family)
{
	/* On an L3 device nothing precedes the IP header. */
	if (p->type_off == TL_NONE)
		return;
	if (p->type_ppp)
		pkt_type(p, family == 4 ? PPP_IP : PPP_IPV6);
	else
		pkt_type(p, family == 4 ? ETH_P_IP : ETH_P_IPV6);
}

static inline void pkt_addr(int af, const char *s, void *dst)
{
	if (inet_pton(af, s, dst) != 1)
		tl_bug("bad address '%s'", s);
}

/* IPv4 with ihl 32-bit words of header; options are NOPs. */
static inline void pkt_ipv4_ihl(struct pkt *p, __u8 ihl, const char *src,
				const char *dst)
{
	__u8 *ip;
	__u32 hlen = ihl * 4;

	if (ihl < 5 || ihl > 15)
		tl_bug("ihl %u", ihl);
	pkt_ip_type(p, 4);
	p->l3 = p->len;
	ip = pkt_grow(p, hlen);
	ip[0] = IPVERSION << 4 | ihl;
	ip[4] = 0x12;
	ip[5] = 0x34;
	ip[8] = IPDEFTTL;
	pkt_addr(AF_INET, src, ip + 12);
	pkt_addr(AF_INET, dst, ip + 16);
	memset(ip + TL_IPV4_HLEN, IPOPT_NOP, hlen - TL_IPV4_HLEN);
	p->nh_off = p->l3 + 9;
	p->family = 4;
}

static inline void pkt_ipv4(struct pkt *p, const char *src, const char *dst)
{
	pkt_ipv4_ihl(p, 5, src, dst);
}

/* The flags + fragment offset field (offset in 8-byte units). */
static inline void pkt_ipv4_frag(struct pkt *p, __u16 flags, __u16 offset)
{
	if (p->family != 4)
		tl_bug("ipv4 fragment without an ipv4 header");
	pkt_put16(p, p->l3 + 6, flags | offset);
}

static inline void pkt_ipv6(struct pkt *p, const char *src, const char *dst)
{
	__u8 *ip6;

	pkt_ip_type(p, 6);
	p->l3 = p->len;
	ip6 = pkt_grow(p, TL_IPV6_HLEN);
	ip6[0] = 6 << 4;
	ip6[7] = IPDEFTTL;
	pkt_addr(AF_INET6, src, ip6 + 8);
	pkt_addr(AF_INET6, dst, ip6 + 24);
	p->nh_off = p->l3 + 6;
	p->family = 6;
}

static inline void pkt_ip(struct pkt *p, int family, const char *src,
			  const char *dst)
{
	if (family == 4)
		pkt_ipv4(p, src, dst);
	else
		pkt_ipv6(p, src, dst);
}

/*
 * An IPv6 extension header of bytes bytes, its length field encoded the
 * way its type does it (RFC 8200, AH: RFC 4302). Body is zeros (Pad1).
 */
static inline void pkt_ipv6_ext(struct pkt *p, __u8 type, __u32 bytes)
{
	__u32 hdrlen;
	__u8 *h;
	int off;

	if (type == IPPROTO_AH) {
		if (bytes % 4 || bytes < 8 || bytes / 4 - 2 > 255)
			tl_bug("AH of %u bytes", bytes);
		hdrlen = bytes / 4 - 2;
	} else {
		if (bytes % 8 || bytes < 8 || bytes / 8 - 1 > 255 ||
		    (type == IPPROTO_FRAGMENT && bytes != 8))
			tl_bug("extension header %u of %u bytes", type, bytes);
		hdrlen = bytes / 8 - 1;
	}
	pkt_nh(p, type);
	off = p->len;
	h = pkt_grow(p, bytes);
	h[1] = hdrlen;
	p->nh_off = off;
}

/* Fragment header: offset in 8-byte units, M flag. */
static inline void pkt_ipv6_frag(struct pkt *p, __u16 offset, bool more)
{
	int off = p->len;

	pkt_ipv6_ext(p, IPPROTO_FRAGMENT, 8);
	pkt_put16(p, off + 2, (__u16)(offset << 3) | (more ? TL_IPV6_FRAG_M : 0));
	p->d[off + 4] = 0xfe;
	p->d[off + 7] = 0x25;
}

/* An L4 header of hlen bytes opening with the two ports (TCP, UDP). */
static inline __u8 *pkt_l4(struct pkt *p, __u8 proto, __u32 hlen,
			   __u16 sport, __u16 dport)
{
	__u8 *h;

	pkt_nh(p, proto);
	p->l4 = p->len;
	p->l4proto = proto;
	h = pkt_grow(p, hlen);
	h[0] = sport >> 8;
	h[1] = sport & 0xff;
	h[2] = dport >> 8;
	h[3] = dport & 0xff;
	return h;
}

static inline void pkt_tcp(struct pkt *p, __u16 sport, __u16 dport,
			   __u8 flags)
{
	__u8 *t = pkt_l4(p, IPPROTO_TCP, TL_TCP_HLEN, sport, dport);

	t[7] = 1;			/* seq */
	t[12] = (TL_TCP_HLEN / 4) << 4;
	t[13] = flags;
	t[14] = 0xff;			/* window */
}

static inline void pkt_udp(struct pkt *p, __u16 sport, __u16 dport)
{
	pkt_l4(p, IPPROTO_UDP, TL_UDP_HLEN, sport, dport);
}

/* RFC 1071 sum of n bytes (n even) added to sum, not yet folded. */
static inline __u32 tl_sum(__u32 sum, const __u8 *b, __u32 n)
{
	__u32 i;

	for (i = 0; i + 1 < n; i += 2)
		sum += b[i] << 8 | b[i + 1];
	return sum;
}

/* A sum folded to 16 bits, not complemented. */
static inline __u16 tl_fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static inline __u16 tl_csum(const __u8 *b, __u32 n)
{
	return (__u16)~tl_fold(tl_sum(0, b, n));
}

/*
 * Fill in the lengths (PPPoE, IPv4 total length and checksum, IPv6 payload
 * length, UDP) from everything laid down so far. Bytes appended afterwards
 * are link padding beyond the datagram.
 */
static inline void pkt_done(struct pkt *p)
{
	__u32 hlen;

	if (p->pppoe != TL_NONE)
		pkt_put16(p, p->pppoe + 4, p->len - p->pppoe - TL_PPPOE_HLEN);
	if (p->l4 != TL_NONE && p->l4proto == IPPROTO_UDP)
		pkt_put16(p, p->l4 + 4, p->len - p->l4);
	if (p->family == 4) {
		hlen = (p->d[p->l3] & 0x0f) * 4;
		pkt_put16(p, p->l3 + 2, p->len - p->l3);
		pkt_put16(p, p->l3 + 10, 0);
		pkt_put16(p, p->l3 + 10, tl_csum(p->d + p->l3, hlen));
	} else if (p->family == 6) {
		pkt_put16(p, p->l3 + 4, p->len - p->l3 - TL_IPV6_HLEN);
	}
}

/*
 * Point an already built packet at other addresses, keeping every other
 * byte (a deliberately broken length or version stays broken).
 */
static inline void pkt_set_addrs(struct pkt *p, const char *src,
				 const char *dst)
{
	__u32 hlen;

	if (p->family == 4 && p->l3 + TL_IPV4_HLEN <= p->len) {
		pkt_addr(AF_INET, src, p->d + p->l3 + 12);
		pkt_addr(AF_INET, dst, p->d + p->l3 + 16);
		/* cosmetic: the datapath never checks the checksum */
		hlen = (p->d[p->l3] & 0x0f) * 4;
		if (hlen >= TL_IPV4_HLEN && p->l3 + hlen <= p->len) {
			pkt_put16(p, p->l3 + 10, 0);
			pkt_put16(p, p->l3 + 10, tl_csum(p->d + p->l3, hlen));
		}
	} else if (p->family == 6 && p->l3 + TL_IPV6_HLEN <= p->len) {
		pkt_addr(AF_INET6, src, p->d + p->l3 + 8);
		pkt_addr(AF_INET6, dst, p->d + p->l3 + 24);
	} else {
		tl_bug("no complete IP header to readdress");
	}
}

/* Overwrite the IP version nibble, keeping the IHL / traffic class bits. */
static inline void pkt_set_version(struct pkt *p, __u8 version)
{
	if (p->l3 == TL_NONE)
		tl_bug("no IP header");
	pkt_put8(p, p->l3, (__u8)(version << 4 | (p->d[p->l3] & 0x0f)));
}

/* ---- program runs ---- */

/*
 * One run over the packet; 0 and the program's return value, or -errno.
 * out, when given, receives the packet as the program left it.
 */
static inline int tl_run_out(int prog_fd, const struct pkt *p,
			     __u32 *retval, struct pkt *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->d,
		    .data_size_in = p->len, .repeat = 1);
	int err;

	if (out) {
		pkt_init(out);
		opts.data_out = out->d;
		opts.data_size_out = sizeof(out->d);
	}
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err < 0 ? err : -errno;
	*retval = opts.retval;
	if (out)
		out->len = opts.data_size_out;
	return 0;
}

static inline int tl_run(int prog_fd, const struct pkt *p, __u32 *retval)
{
	return tl_run_out(prog_fd, p, retval, NULL);
}

#endif /* OP25B_TESTLIB_H */
