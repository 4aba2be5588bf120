/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The IPv6 header, its extension chain and fragments: a part of test_datapath (see its head), built in
 * its translation unit over the harness in dp_harness.h.
 *
 * Each shape is a row: the chain behind the fixed header, what ends it,
 * what is done to it once laid down, and the outcome; the runner lays it
 * behind each encapsulation and checks it.
 */

/* ---- IPv6 ---- */

/*
 * One header of a chain: an extension header of bytes bytes, or a
 * fragment header (offset in 8-byte units, M). A zero size ends the chain.
 */
struct v6_hdr {
	__u8 type;
	__u32 bytes;
	__u16 off;
	__u8 more;		/* 0, 1, or M_BOTH: the row runs with each */
};

#define M_BOTH		2
#define EXT(t, n)	{ .type = (t), .bytes = (n) }
#define FRAG(o, m)	{ .type = IPPROTO_FRAGMENT, .bytes = 8,		\
			  .off = (o), .more = (m) }
#define ATOMIC		FRAG(0, 0)
#define FIRST		FRAG(0, 1)

/* Where a row's packet is cut short, at each of its at[] values. */
enum v6_cut {
	NO_CUT,
	CUT_LAST,		/* at bytes of the chain's last header */
	CUT_L4,			/* at bytes of the L4 header */
	CUT_END,		/* at bytes off the end */
};

/* The payload length written once the packet is laid down. */
enum v6_plen {
	PLEN_TRUE,		/* what pkt_done() wrote */
	PLEN_ABS,		/* plen */
	PLEN_CHAIN,		/* the chain's bytes, plus plen */
	PLEN_FRAME,		/* what the frame holds, plus plen */
};

#define V6_CHAIN_MAX	(OP25B_IPV6_EXT_MAX + 2)
#define V6_AT_MAX	3

struct v6_shape {
	const char *what;	/* the label's tail; a %u takes the cut; the
				 * outcome is said after it */
	struct v6_hdr chain[V6_CHAIN_MAX];
	int end;		/* IPPROTO_TCP, IPPROTO_UDP, another next
				 * header with a raw TCP header to port 25
				 * behind it, or TL_NONE: nothing */
	__u16 port;
	__u8 flags;
	__u32 payload;		/* 'x' bytes inside the datagram */
	__u32 padding;		/* zero bytes after it: link padding */
	enum v6_cut cut;
	__u32 at[V6_AT_MAX];
	int nat;
	enum v6_plen plen_from;
	int plen;
	bool set_version;
	__u8 version;
	int cls;		/* the judgement, or TL_NONE: passes */
};

#define TCP(port_, fl)	.end = IPPROTO_TCP, .port = (port_), .flags = (fl)
#define UDP(port_)	.end = IPPROTO_UDP, .port = (port_)
#define RAW(nh)		.end = (nh)
#define NOTHING		.end = TL_NONE
#define CUT(from, ...)	.cut = (from), .at = { __VA_ARGS__ },		\
			.nat = ARRAY_SIZE(((__u32[]){ __VA_ARGS__ }))
#define PLEN(from, n)	.plen_from = (from), .plen = (n)
#define VERSION(v)	.set_version = true, .version = (v)
#define PASSES		.cls = TL_NONE
#define JUDGED(c)	.cls = (c)

static bool v6_either(const struct v6_shape *s)
{
	int i;

	for (i = 0; i < V6_CHAIN_MAX && s->chain[i].bytes; i++)
		if (s->chain[i].more == M_BOTH)
			return true;
	return false;
}

/* A TCP header the parser would judge on its port, laid down raw. */
static void fake_tcp_bytes(struct pkt *p, __u16 dport)
{
	int off = p->len;

	pkt_bytes(p, TL_TCP_HLEN, 0);
	pkt_put16(p, off, SPORT);
	pkt_put16(p, off + 2, dport);
}

static void v6_start(struct pkt *p, const struct encap *e)
{
	lay_l2(p, e);
	pkt_ipv6(p, DENIED6, OUT6);
}

static void v6_lay(struct pkt *p, const struct encap *e,
		   const struct v6_shape *s, __u32 at, int m)
{
	const struct v6_hdr *h;
	int i, last = TL_NONE;

	v6_start(p, e);
	for (i = 0; i < V6_CHAIN_MAX && s->chain[i].bytes; i++) {
		h = &s->chain[i];
		last = p->len;
		if (h->type == IPPROTO_FRAGMENT)
			pkt_ipv6_frag(p, h->off,
				      h->more == M_BOTH ? m : h->more);
		else
			pkt_ipv6_ext(p, h->type, h->bytes);
	}
	if (s->end == IPPROTO_TCP) {
		pkt_tcp(p, SPORT, s->port, s->flags);
	} else if (s->end == IPPROTO_UDP) {
		pkt_udp(p, SPORT, s->port);
	} else if (s->end != TL_NONE) {
		if (s->end == IPPROTO_HOPOPTS)
			tl_bug("row '%s' has no end", s->what);
		pkt_nh(p, s->end);
		fake_tcp_bytes(p, SMTP);
	}
	pkt_bytes(p, s->payload, 'x');
	if (s->cut == CUT_LAST)
		pkt_cut(p, last + at);
	else if (s->cut == CUT_L4)
		pkt_cut(p, p->l4 + at);
	else if (s->cut == CUT_END)
		pkt_cut(p, p->len - at);
	pkt_done(p);
	pkt_bytes(p, s->padding, 0);
	if (s->plen_from == PLEN_ABS)
		pkt_put16(p, p->l3 + 4, s->plen);
	else if (s->plen_from == PLEN_CHAIN)
		pkt_put16(p, p->l3 + 4, p->l4 - p->l3 - TL_IPV6_HLEN + s->plen);
	else if (s->plen_from == PLEN_FRAME)
		pkt_put16(p, p->l3 + 4,
			  p->len - p->l3 - TL_IPV6_HLEN + s->plen);
	if (s->set_version)
		pkt_set_version(p, s->version);
}

/*
 * Each of a row's cuts, and both M flags where it asks, labelled "lead
 * what (M=m) outcome": the outcome is not said of a judgement as smtp.
 */
static void v6_try(struct dp *dp, const struct encap *e, const char *lead,
		   const struct v6_shape *s)
{
	int k, m, nm = v6_either(s) ? 2 : 1;
	char what[160], out[32], l[256];
	struct pkt p;

	if (s->cls == TL_NONE)
		snprintf(out, sizeof(out), " passes");
	else if (s->cls == ST_smtp)
		out[0] = '\0';
	else
		snprintf(out, sizeof(out), " is %s", stat_field[s->cls].name);
	for (k = 0; k < (s->nat ? s->nat : 1); k++)
		for (m = 0; m < nm; m++) {
			v6_lay(&p, e, s, s->at[k], m);
			snprintf(what, sizeof(what), s->what, s->at[k]);
			snprintf(l, sizeof(l), "%s%s%s%s%s", lead,
				 what[0] ? " " : "", what,
				 nm == 1 ? "" : m ? " (M=1)" : " (M=0)", out);
			outcome(dp, l, &p, s->cls);
		}
}

static void v6_rows(struct dp *dp, const struct encap *e, const char *area,
		    const struct v6_shape *rows, size_t n)
{
	char lead[64];
	size_t i;

	snprintf(lead, sizeof(lead), "%s: %s", area, e->name);
	for (i = 0; i < n; i++)
		v6_try(dp, e, lead, &rows[i]);
}

static const struct {
	const char *name;
	struct v6_hdr h;
} v6_exts[] = {
	{ "hop-by-hop", EXT(IPPROTO_HOPOPTS, 8) },
	{ "hop-by-hop", EXT(IPPROTO_HOPOPTS, 16) },
	{ "hop-by-hop", EXT(IPPROTO_HOPOPTS, 2048) },
	{ "routing", EXT(IPPROTO_ROUTING, 24) },
	{ "atomic fragment", ATOMIC },
	{ "destination options", EXT(IPPROTO_DSTOPTS, 8) },
	{ "destination options", EXT(IPPROTO_DSTOPTS, 64) },
	{ "ah", EXT(IPPROTO_AH, 12) },
	{ "ah", EXT(IPPROTO_AH, 24) },
	{ "ah", EXT(IPPROTO_AH, 1028) },
	{ "mobility", EXT(IPPROTO_MH, 8) },
	{ "mobility", EXT(IPPROTO_MH, 16) },
	{ "hip", EXT(TL_NH_HIP, 40) },
	{ "shim6", EXT(TL_NH_SHIM6, 8) },
};

static const struct v6_shape v6_header[] = {
	{ "payload length one over the packet",
	  .chain = {}, TCP(SMTP, TH_SYN), PLEN(PLEN_FRAME, 1),
	  JUDGED(ST_malformed) },
	{ "payload length 65535",
	  .chain = {}, TCP(SMTP, TH_SYN), PLEN(PLEN_ABS, 0xffff),
	  JUDGED(ST_malformed) },
	{ "tcp/25 with link padding", .chain = {}, TCP(SMTP, TH_SYN),
	  .padding = 6, JUDGED(ST_smtp) },
	{ "tcp/587 with link padding", .chain = {},
	  TCP(SUBMISSION, TH_SYN), .padding = 100, PASSES },
	{ "payload length ends 1 byte short of the tcp header",
	  .chain = {}, TCP(SMTP, TH_SYN), PLEN(PLEN_CHAIN, TL_TCP_HLEN - 1),
	  JUDGED(ST_malformed) },
};

/* RFC 2675: a zero payload length with hop-by-hop is a jumbogram */
static const struct v6_shape v6_jumbo[] = {
	{ "hop-by-hop tcp/25", { EXT(IPPROTO_HOPOPTS, 8) },
	  TCP(SMTP, TH_SYN), PLEN(PLEN_ABS, 0), JUDGED(ST_smtp) },
	{ "hop-by-hop tcp/587", { EXT(IPPROTO_HOPOPTS, 8) },
	  TCP(SUBMISSION, TH_SYN), PLEN(PLEN_ABS, 0), PASSES },
	{ "tcp cut at the end of the frame",
	  { EXT(IPPROTO_HOPOPTS, 8) }, TCP(SMTP, TH_SYN), CUT(CUT_L4, 10),
	  PLEN(PLEN_ABS, 0), JUDGED(ST_malformed) },
	{ "hop-by-hop longer than the frame",
	  { EXT(IPPROTO_HOPOPTS, 16) }, NOTHING, CUT(CUT_END, 8),
	  PLEN(PLEN_ABS, 0), JUDGED(ST_malformed) },
	{ "zero payload length without hop-by-hop, tcp",
	  .chain = {}, TCP(SMTP, TH_SYN), PLEN(PLEN_ABS, 0),
	  JUDGED(ST_malformed) },
	{ "zero payload length with destination options first",
	  { EXT(IPPROTO_DSTOPTS, 8) }, TCP(SMTP, TH_SYN), PLEN(PLEN_ABS, 0),
	  JUDGED(ST_malformed) },
};

static void test_ipv6_header(struct dp *dp, const struct encap *e)
{
	static const __u8 versions[] = { 0, 4, 7, 15 };
	static const struct v6_shape v4_udp = {
		"udp with version 4", .chain = {}, UDP(SMTP),
		VERSION(4), JUDGED(ST_malformed)
	};
	static const struct named others[] = {
		{ "esp", IPPROTO_ESP },
		{ "no next header", IPPROTO_NONE },
		{ "icmpv6", IPPROTO_ICMPV6 },
		{ "unknown 253", 253 },
	};
	struct v6_shape s = { "", PASSES };
	char lead[128];
	size_t i;
	int hbh;

	/* on an L3 device the version nibble itself picks the parser */
	if (!e->l3)
		bad_versions(dp, e, 6, versions, ARRAY_SIZE(versions));
	v6_rows(dp, e, "ipv6", v6_header, 2);
	/* the version is checked before the next header */
	if (!e->l3)
		v6_rows(dp, e, "ipv6", &v4_udp, 1);
	v6_rows(dp, e, "ipv6", v6_header + 2, ARRAY_SIZE(v6_header) - 2);

	for (i = 0; i < ARRAY_SIZE(others); i++)
		for (hbh = 0; hbh < 2; hbh++) {
			s.chain[0] = hbh ? (struct v6_hdr)EXT(IPPROTO_HOPOPTS, 8) :
					   (struct v6_hdr){ 0 };
			s.end = others[i].v;
			snprintf(lead, sizeof(lead), "ipv6: %s %s%s", e->name,
				 hbh ? "hop-by-hop then " : "", others[i].name);
			v6_try(dp, e, lead, &s);
		}

	v6_rows(dp, e, "ipv6 jumbo", v6_jumbo, ARRAY_SIZE(v6_jumbo));
}

/* What follows a chain of one extension header, each of v6_exts. */
static const struct v6_shape v6_after_one[] = {
	{ "then tcp/25", .chain = {}, TCP(SMTP, TH_SYN), JUDGED(ST_smtp) },
	{ "then tcp/587", .chain = {}, TCP(SUBMISSION, TH_SYN),
	  PASSES },
	/* the datagram ends inside it, and no first fragment: malformed */
	{ "cut 4 bytes short", .chain = {}, TCP(SMTP, TH_SYN),
	  PLEN(PLEN_CHAIN, -4), JUDGED(ST_malformed) },
};

/* What ends a chain of destination options within the bound. */
static const struct v6_shape v6_ends[] = {
	{ "tcp/25", .chain = {}, TCP(SMTP, TH_SYN), JUDGED(ST_smtp) },
	{ "tcp/587", .chain = {}, TCP(SUBMISSION, TH_SYN), PASSES },
	{ "udp/25", .chain = {}, UDP(SMTP), PASSES },
	{ "esp", .chain = {}, RAW(IPPROTO_ESP), PASSES },
	{ "no next header", .chain = {}, RAW(IPPROTO_NONE), PASSES },
};

/* a chain cut short outside any first fragment: malformed */
static const struct v6_shape v6_chain_cut[] = {
	{ "16-byte destination options cut to %u bytes",
	  { EXT(IPPROTO_DSTOPTS, 16) }, TCP(SMTP, TH_SYN),
	  CUT(CUT_LAST, 0, 4, 8), JUDGED(ST_malformed) },
	{ "atomic fragment, destination options cut to %u bytes",
	  { ATOMIC, EXT(IPPROTO_DSTOPTS, 16) }, TCP(SMTP, TH_SYN),
	  CUT(CUT_LAST, 0, 4, 8), JUDGED(ST_malformed) },
	{ "fragment header itself cut to 4 bytes", { FIRST },
	  NOTHING, CUT(CUT_END, 4), JUDGED(ST_malformed) },
	{ "24-byte ah cut to 12 bytes", { EXT(IPPROTO_AH, 24) },
	  TCP(SMTP, TH_SYN), CUT(CUT_LAST, 12), JUDGED(ST_malformed) },
};

static void test_ipv6_chain(struct dp *dp, const struct encap *e)
{
	static const struct v6_hdr mixed[] = {
		EXT(IPPROTO_HOPOPTS, 8), EXT(IPPROTO_ROUTING, 24), ATOMIC,
		EXT(IPPROTO_DSTOPTS, 16), EXT(IPPROTO_AH, 12),
		EXT(IPPROTO_MH, 8), EXT(TL_NH_HIP, 40), EXT(TL_NH_SHIM6, 8),
	};
	struct v6_shape s;
	char lead[128];
	size_t i, j;
	int n, k;

	_Static_assert(ARRAY_SIZE(mixed) == OP25B_IPV6_EXT_MAX,
		       "one of each extension header fills the bound");

	for (i = 0; i < ARRAY_SIZE(v6_exts); i++)
		for (j = 0; j < ARRAY_SIZE(v6_after_one); j++) {
			s = v6_after_one[j];
			s.chain[0] = v6_exts[i].h;
			snprintf(lead, sizeof(lead), "ipv6 chain: %s %s (%u bytes)",
				 e->name, v6_exts[i].name, v6_exts[i].h.bytes);
			v6_try(dp, e, lead, &s);
		}

	/* exactly the bound, one of each type */
	snprintf(lead, sizeof(lead), "ipv6 chain: %s one of each of %d types",
		 e->name, OP25B_IPV6_EXT_MAX);
	for (j = 0; j < 2; j++) {
		s = v6_after_one[j];
		memcpy(s.chain, mixed, sizeof(mixed));
		v6_try(dp, e, lead, &s);
	}

	/* OP25B_IPV6_EXT_MAX headers are walked; one more is undecidable */
	for (n = OP25B_IPV6_EXT_MAX; n <= OP25B_IPV6_EXT_MAX + 1; n++) {
		snprintf(lead, sizeof(lead),
			 "ipv6 chain: %s %d destination options then", e->name,
			 n);
		for (j = 0; j < ARRAY_SIZE(v6_ends); j++) {
			s = v6_ends[j];
			for (k = 0; k < n; k++)
				s.chain[k] = (struct v6_hdr)EXT(IPPROTO_DSTOPTS, 8);
			if (n > OP25B_IPV6_EXT_MAX)
				s.cls = ST_undecidable;
			v6_try(dp, e, lead, &s);
		}
	}

	v6_rows(dp, e, "ipv6 chain", v6_chain_cut, ARRAY_SIZE(v6_chain_cut));
}

static const struct v6_shape v6_frags[] = {
	/* the port a later fragment would carry does not matter */
	{ "offset 1 next tcp", { FRAG(1, M_BOTH) },
	  TCP(SUBMISSION, TH_ACK), JUDGED(ST_evasion) },
	{ "hop-by-hop, routing, offset 1 next tcp",
	  { EXT(IPPROTO_HOPOPTS, 8), EXT(IPPROTO_ROUTING, 24),
	    FRAG(1, M_BOTH) },
	  TCP(SUBMISSION, TH_ACK), JUDGED(ST_evasion) },
	{ "offset 1 next udp", { FRAG(1, M_BOTH) }, UDP(SMTP), PASSES },
	{ "offset 1 next destination options",
	  { FRAG(1, M_BOTH), EXT(IPPROTO_DSTOPTS, 8) }, TCP(SMTP, TH_ACK),
	  PASSES },
	{ "offset 2 next tcp", { FRAG(2, M_BOTH) }, TCP(SMTP, TH_ACK),
	  PASSES },
	{ "offset 100 next tcp", { FRAG(100, M_BOTH) },
	  TCP(SMTP, TH_ACK), PASSES },
	{ "offset 8191 next tcp", { FRAG(IP_OFFMASK, M_BOTH) },
	  TCP(SMTP, TH_ACK), PASSES },

	/* a first fragment is judged on its port when the chain reaches it */
	{ "first fragment tcp/25", { FIRST }, TCP(SMTP, TH_SYN),
	  JUDGED(ST_smtp) },
	{ "first fragment tcp/587", { FIRST }, TCP(SUBMISSION, TH_SYN),
	  .payload = 256, PASSES },
	{ "first fragment with %u tcp bytes", { FIRST },
	  TCP(SUBMISSION, TH_SYN), CUT(CUT_L4, 0, 8, 19), JUDGED(ST_evasion) },
	{ "first fragment, destination options, %u tcp bytes",
	  { FIRST, EXT(IPPROTO_DSTOPTS, 8) }, TCP(SUBMISSION, TH_SYN),
	  CUT(CUT_L4, 0, 8, 19), JUDGED(ST_evasion) },
	{ "atomic fragment with %u tcp bytes", { ATOMIC },
	  TCP(SUBMISSION, TH_SYN), CUT(CUT_L4, 0, 8, 19),
	  JUDGED(ST_malformed) },

	/* RFC 7112: a first fragment whose chain stops short of TCP */
	{ "first fragment, destination options cut to %u bytes",
	  { FIRST, EXT(IPPROTO_DSTOPTS, 16) }, TCP(SMTP, TH_SYN),
	  CUT(CUT_LAST, 0, 4, 8), JUDGED(ST_undecidable) },
	{ "hop-by-hop, first fragment, routing cut to 16 bytes",
	  { EXT(IPPROTO_HOPOPTS, 8), FIRST, EXT(IPPROTO_ROUTING, 24) },
	  TCP(SMTP, TH_SYN), CUT(CUT_LAST, 16),
	  JUDGED(ST_undecidable) },
	/* the datagram ends where the payload length says, not the frame */
	{ "first fragment, payload length ends inside destination options",
	  { FIRST, EXT(IPPROTO_DSTOPTS, 16) }, TCP(SMTP, TH_SYN),
	  PLEN(PLEN_ABS, 8 + 8), JUDGED(ST_undecidable) },
	{ "first fragment, payload length ends inside tcp",
	  { FIRST, EXT(IPPROTO_DSTOPTS, 16) }, TCP(SMTP, TH_SYN),
	  PLEN(PLEN_ABS, 8 + 16 + 10), JUDGED(ST_evasion) },
};

static void test_ipv6_frags(struct dp *dp, const struct encap *e)
{
	struct v6_shape over = {
		"", { FIRST }, TCP(SMTP, TH_SYN), JUDGED(ST_undecidable)
	};
	char lead[128];
	int i;

	v6_rows(dp, e, "ipv6 frag", v6_frags, ARRAY_SIZE(v6_frags));

	/* first fragment over the bound is still undecidable */
	for (i = 1; i <= OP25B_IPV6_EXT_MAX; i++)
		over.chain[i] = (struct v6_hdr)EXT(IPPROTO_DSTOPTS, 8);
	snprintf(lead, sizeof(lead),
		 "ipv6 frag: %s first fragment and %d more headers", e->name,
		 OP25B_IPV6_EXT_MAX);
	v6_try(dp, e, lead, &over);
}
