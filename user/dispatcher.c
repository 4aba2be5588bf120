// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Dispatcher mode (doc/DESIGN.md, "Sharing XDP"): libxdp's dispatcher, how
 * XDP tools share a device where the kernel lets one program's function be
 * replaced by another (freplace). When the device's XDP program is a
 * libxdp dispatcher, op25b joins it: its XDP program is loaded once more,
 * as an extension, against the same pinned maps, at a priority that runs
 * it before every other program there (a blocked packet reaches none of
 * them); its XDP_PASS goes on to the next. detach takes op25b alone out.
 * Whether this kernel allows freplace at all is tried as libxdp tries it,
 * and said by attach and status. Built without libxdp (OP25B_LIBXDP
 * unset: pkg-config finds none), every device is shared in chained mode.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#ifdef OP25B_LIBXDP
#include <xdp/libxdp.h>
#endif
#include "op25bctl.h"
#include "attachments.h"
#include "op25b.skel.h"
#include "dispatcher_probe.skel.h"
#ifdef OP25B_LIBXDP
/*
 * op25b's object as the dispatcher runs it (OP25B_XDP_EXT: no RST, see
 * reject() in bpf/op25b.bpf.c), in op25b_bpf's very shape: pin.c readies
 * it as its own.
 */
#include "op25b_ext.skel.h"
_Static_assert(sizeof(struct op25b_ext_bpf) == sizeof(struct op25b_bpf) &&
	       sizeof(((struct op25b_ext_bpf *)0)->maps) ==
	       sizeof(((struct op25b_bpf *)0)->maps) &&
	       sizeof(((struct op25b_ext_bpf *)0)->progs) ==
	       sizeof(((struct op25b_bpf *)0)->progs) &&
	       sizeof(struct op25b_ext_bpf__rodata) ==
	       sizeof(struct op25b_bpf__rodata) &&
	       offsetof(struct op25b_ext_bpf, rodata) ==
	       offsetof(struct op25b_bpf, rodata),
	       "op25b_ext.skel.h is not op25b.skel.h's shape");
#endif

#define PROBE_SLOT	"op25b_probe_slot"
/*
 * op25b's run priority in a dispatcher: libxdp runs the lowest first, and
 * programs that say none get 50 (xdp-filter's own is 10).
 */
#define OP25B_DISPATCHER_PRIO	0

/*
 * Load a target and an extension of its slot, and attach the one to the
 * other: 0 when the kernel allows it, else -errno of the step refused
 * (*step says which).
 */
static int freplace_try(const char **step)
{
	struct dispatcher_probe_bpf *t, *e = NULL;
	struct bpf_link *link = NULL;
	int err;

	*step = "load";
	t = dispatcher_probe_bpf__open();
	if (!t)
		return -errno;
	bpf_program__set_autoload(t->progs.op25b_probe_ext, false);
	err = dispatcher_probe_bpf__load(t);
	if (!err) {
		e = dispatcher_probe_bpf__open();
		err = e ? 0 : -errno;
	}
	if (!err) {
		*step = "load an extension";
		bpf_program__set_autoload(e->progs.op25b_probe, false);
		err = bpf_program__set_attach_target(e->progs.op25b_probe_ext,
				bpf_program__fd(t->progs.op25b_probe), PROBE_SLOT);
		if (!err)
			err = dispatcher_probe_bpf__load(e);
	}
	if (!err) {
		*step = "attach an extension";
		link = bpf_program__attach_freplace(e->progs.op25b_probe_ext,
				bpf_program__fd(t->progs.op25b_probe), PROBE_SLOT);
		err = link ? 0 : -errno;
	}
	bpf_link__destroy(link);
	dispatcher_probe_bpf__destroy(e);
	dispatcher_probe_bpf__destroy(t);
	return err;
}

/* Whether the dispatcher could run here; why not in why. Asked once. */
bool dispatcher_allowed(char *why, size_t len)
{
	static int err = 1;
	static const char *step;

	if (err > 0)
		err = freplace_try(&step);
	if (err)
		snprintf(why, len, "the kernel refuses freplace programs (%s: %s)",
			 step, errstr(err));
#ifdef OP25B_LIBXDP
	else
		snprintf(why, len, "the kernel allows freplace programs: op25b joins a libxdp dispatcher it finds, and chains a plain program");
#else
	else
		snprintf(why, len, "the kernel allows freplace programs, but this op25bctl was built without libxdp");
#endif
	return !err;
}

#ifdef OP25B_LIBXDP

/* libxdp's messages: its warnings as op25bctl's, its debug with -v. */
static int libxdp_print(enum libxdp_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBXDP_DEBUG && !g.verbose)
		return 0;
	if (level == LIBXDP_INFO && !g.verbose)
		return 0;
	fprintf(stderr, "libxdp: ");
	return vfprintf(stderr, fmt, ap);
}

/* The dispatcher on ifindex, NULL when its program is none or a plain one. */
static struct xdp_multiprog *dispatcher_get(int ifindex)
{
	struct xdp_multiprog *mp;

	libxdp_set_print(libxdp_print);
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp))
		return NULL;
	if (xdp_multiprog__is_legacy(mp) || !xdp_multiprog__main_prog(mp)) {
		xdp_multiprog__close(mp);
		return NULL;
	}
	return mp;
}

static struct xdp_program *component(const struct xdp_multiprog *mp,
				     __u32 id)
{
	struct xdp_program *p = NULL;

	while ((p = xdp_multiprog__next_prog(p, mp)))
		if (xdp_program__id(p) == id)
			return p;
	return NULL;
}

bool dispatcher_on(int ifindex)
{
	struct xdp_multiprog *mp = dispatcher_get(ifindex);

	xdp_multiprog__close(mp);
	return mp;
}

__u32 dispatcher_has(int ifindex, __u32 prog_id)
{
	struct xdp_multiprog *mp = dispatcher_get(ifindex);
	__u32 id = mp && component(mp, prog_id) ? prog_id : 0;

	xdp_multiprog__close(mp);
	return id;
}

size_t dispatcher_op25b(int ifindex, __u32 *ids, size_t max)
{
	struct xdp_multiprog *mp = dispatcher_get(ifindex);
	struct xdp_program *p = NULL;
	size_t n = 0;

	while (mp && n < max && (p = xdp_multiprog__next_prog(p, mp)))
		if (op25b_xdp_name(xdp_program__name(p)))
			ids[n++] = xdp_program__id(p);
	xdp_multiprog__close(mp);
	return n;
}

static __u32 mode_flag(enum xdp_attach_mode m)
{
	return m == XDP_MODE_SKB ? OP25B_AF_XDP_GENERIC : OP25B_AF_XDP_NATIVE;
}

/* Take the component id out of the dispatcher on ifindex (0: it was not there). */
static int component_detach(int ifindex, __u32 id, const char *ifname,
			    bool *found)
{
	struct xdp_multiprog *mp = dispatcher_get(ifindex);
	struct xdp_program *p = mp ? component(mp, id) : NULL;
	int err = 0;

	*found = p;
	if (p)
		err = xdp_program__detach(p, ifindex,
					  xdp_multiprog__attach_mode(mp), 0);
	xdp_multiprog__close(mp);
	if (err)
		p_err("cannot take op25b (id %u) out of the XDP dispatcher on '%s': %s",
		      id, ifname, errstr(err));
	return err ? EXIT_RUNTIME : EXIT_OK;
}

/*
 * The op25b already in the dispatcher, if any: *old its id, 0 for none;
 * another pin dir's is refused, as on a device of its own, but not with
 * a word of --force, which would replace the whole dispatcher and every
 * program it runs: that op25b is to be detached where it belongs.
 */
static int op25b_in(const struct attach_req *r, const struct xdp_multiprog *mp,
		    __u32 *old)
{
	struct xdp_program *p = NULL;
	char owner[PATH_MAX];

	*old = 0;
	while ((p = xdp_multiprog__next_prog(p, mp))) {
		if (!op25b_xdp_name(xdp_program__name(p)))
			continue;
		*old = xdp_program__id(p);
		if (!op25b_owner(r, xdp_program__fd(p), owner, sizeof(owner)))
			continue;
		if (*owner)
			p_err("'%s' runs the op25b of pin dir %s in its XDP dispatcher (program id %u): detach it there first ('op25bctl --pin-dir %s detach %s'); --force would replace the dispatcher and every program in it",
			      r->ifname, owner, *old, owner, r->ifname);
		else
			p_err("'%s' runs an op25b program no pin dir records in its XDP dispatcher (program id %u): 'detach %s' takes it out; --force would replace the dispatcher and every program in it",
			      r->ifname, *old, r->ifname);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/*
 * Does the dispatcher on ifindex run id before every other program but
 * an op25b (the one id replaces, at the same priority)?
 */
static bool runs_first(int ifindex, __u32 id)
{
	struct xdp_multiprog *mp = dispatcher_get(ifindex);
	struct xdp_program *p = NULL;
	bool first = false;

	while (mp && (p = xdp_multiprog__next_prog(p, mp))) {
		if (xdp_program__id(p) == id) {
			first = true;
			break;
		}
		if (!op25b_xdp_name(xdp_program__name(p)))
			break;
	}
	xdp_multiprog__close(mp);
	return first;
}

/*
 * Join the dispatcher on r's device: op25b's XDP program as a new
 * extension, first; then the op25b it replaces (a re-attach) taken out.
 * Each step is one atomic swap of the dispatcher: there is an op25b
 * before the other programs at every moment.
 */
int dispatcher_attach(const struct attach_req *r, struct op25b_attach_val *v)
{
	struct xdp_multiprog *mp = dispatcher_get(r->ifindex);
	DECLARE_LIBXDP_OPTS(xdp_program_opts, o, .prog_name = OP25B_PROG_XDP);
	struct xdp_program *prog = NULL;
	struct op25b_ext_bpf *skel = NULL;
	enum xdp_attach_mode mode;
	__u32 old = 0, id = 0;
	bool found;
	int rc, err;

	if (!mp) {
		p_err("the XDP dispatcher on '%s' went while op25b joined it",
		      r->ifname);
		return EXIT_RUNTIME;
	}
	mode = xdp_multiprog__attach_mode(mp);
	rc = op25b_in(r, mp, &old);
	xdp_multiprog__close(mp);
	if (!rc) {
		skel = op25b_ext_bpf__open();
		if (!skel) {
			p_err("cannot open the embedded op25b object: %s",
			      errstr(-errno));
			return EXIT_RUNTIME;
		}
		rc = bpf_prepare_xdp((struct op25b_bpf *)skel, r->l3);
	}
	if (rc) {
		op25b_ext_bpf__destroy(skel);
		return rc;
	}
	o.obj = skel->obj;
	prog = xdp_program__create(&o);
	err = libxdp_get_error(prog);
	if (err) {
		prog = NULL;
	} else {
		xdp_program__set_run_prio(prog, OP25B_DISPATCHER_PRIO);
		xdp_program__set_chain_call_enabled(prog, XDP_PASS, true);
		err = xdp_program__attach(prog, r->ifindex, mode, 0);
		id = err ? 0 : xdp_program__id(prog);
	}
	xdp_program__close(prog);
	op25b_ext_bpf__destroy(skel);	/* the dispatcher holds the program */
	if (err) {
		p_err("cannot join the XDP dispatcher on '%s': %s", r->ifname,
		      errstr(err));
		return EXIT_RUNTIME;
	}
	if (!runs_first(r->ifindex, id)) {
		component_detach(r->ifindex, id, r->ifname, &found);
		p_err("cannot run op25b first in the XDP dispatcher on '%s': another program there has priority %u or less; op25b left it as it was",
		      r->ifname, OP25B_DISPATCHER_PRIO);
		return EXIT_RUNTIME;
	}
	if (old && component_detach(r->ifindex, old, r->ifname, &found))
		return EXIT_RUNTIME;
	v->prog_id = id;
	v->chain_slot = 0;
	v->flags |= OP25B_AF_XDP_DISPATCHER | mode_flag(mode);
	p_info("joined the XDP dispatcher on %s: op25b runs first (priority %u), what it passes goes on to the other programs there (dispatcher mode)",
	       r->ifname, OP25B_DISPATCHER_PRIO);
	return EXIT_OK;
}

/* Take the recorded op25b out of its dispatcher, the others left running. */
int dispatcher_detach(const struct record *rec, const char **kept)
{
	bool found;
	int rc;

	rc = component_detach(rec->key.ifindex, rec->val.prog_id,
			      rec->val.ifname, &found);
	if (!rc && !found)
		*kept = NOT_OURS;
	return rc;
}

/* The number of programs in the dispatcher on ifindex, beside prog_id. */
static unsigned int others(int ifindex)
{
	struct xdp_multiprog *mp = dispatcher_get(ifindex);
	int n = mp ? xdp_multiprog__program_count(mp) - 1 : 0;

	xdp_multiprog__close(mp);
	return n > 0 ? n : 0;
}

#else	/* !OP25B_LIBXDP */

bool dispatcher_on(int ifindex) { return false; }
__u32 dispatcher_has(int ifindex, __u32 prog_id) { return 0; }
size_t dispatcher_op25b(int ifindex, __u32 *ids, size_t max) { return 0; }
int dispatcher_attach(const struct attach_req *r, struct op25b_attach_val *v)
{
	p_err("this op25bctl was built without libxdp");
	return EXIT_RUNTIME;
}
int dispatcher_detach(const struct record *rec, const char **kept)
{
	p_err("this op25bctl was built without libxdp: it cannot take op25b out of the XDP dispatcher on '%s'",
	      rec->val.ifname);
	return EXIT_RUNTIME;
}
static unsigned int others(int ifindex) { return 0; }

#endif

/* Is prog_id an extension (op25b in a dispatcher), not a program of its own? */
bool dispatcher_member(__u32 prog_id)
{
	struct bpf_prog_info info;
	int fd = prog_id ? bpf_prog_get_fd_by_id(prog_id) : -1;
	bool ext = false;

	if (fd >= 0 && !prog_info(fd, &info))
		ext = info.type == BPF_PROG_TYPE_EXT;
	if (fd >= 0)
		close(fd);
	return ext;
}

/*
 * status: an attachment in dispatcher mode, and how many programs it
 * runs before (prog_id: the op25b in it, 0 when it is out).
 */
void dispatcher_print_mode(enum output_type t, int ifindex, __u32 prog_id)
{
	print_string(t, "sharing", ", %s", "dispatcher");
	if (prog_id)
		print_uint(t, "dispatcher_others", " (before %llu other programs)",
			   others(ifindex));
}

/* status -v and -j: what libxdp's dispatcher could do here, and does. */
void dispatcher_print(void)
{
	struct record *recs = NULL;
	bool ok, used = false;
	char why[200];
	size_t i, n = 0;

	if (!g.verbose && !g.json)
		return;
	if (!records_read(&recs, &n))
		for (i = 0; i < n; i++)
			used |= !!(recs[i].val.flags & OP25B_AF_XDP_DISPATCHER);
	free(recs);
	ok = dispatcher_allowed(why, sizeof(why));
	open_json_object("xdp_dispatcher");
	print_bool(PRINT_JSON, "kernel_allows", NULL, ok);
	print_bool(PRINT_JSON, "used", NULL, used);
	print_string(PRINT_ANY, "reason", ok ? "xdp sharing: %s\n" :
		     "xdp sharing chained mode: %s\n", why);
	close_json_object();
}
