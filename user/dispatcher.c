// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libxdp's dispatcher, how XDP tools share a device where the kernel lets
 * one program's function be replaced by another (freplace): whether this
 * kernel does, tried as libxdp tries it. op25b does not attach through the
 * dispatcher yet: where the kernel refuses it, and everywhere for now, a
 * device that has another XDP program is shared in chained mode (chain.c,
 * doc/DESIGN.md, "Sharing XDP"); this says why, in attach and status.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "op25bctl.h"
#include "attachments.h"
#include "dispatcher_probe.skel.h"

#define PROBE_SLOT	"op25b_probe_slot"

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
	else
		snprintf(why, len, "the kernel allows freplace programs, but this op25b does not attach through libxdp's dispatcher");
	return !err;
}

/* status -v and -j: what libxdp's dispatcher could do here. */
void dispatcher_print(void)
{
	char why[160];
	bool ok;

	if (!g.verbose && !g.json)
		return;
	ok = dispatcher_allowed(why, sizeof(why));
	open_json_object("xdp_dispatcher");
	print_bool(PRINT_JSON, "kernel_allows", NULL, ok);
	print_bool(PRINT_JSON, "used", NULL, false);
	print_string(PRINT_ANY, "reason", "xdp sharing chained mode: %s\n", why);
	close_json_object();
}
