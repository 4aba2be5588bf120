// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The engine over the pinned maps: how every command reads the live policy
 * (shared lock: no writer at work) or changes it (exclusive lock, one
 * snapshot published at the end, or nothing).
 */
#include <errno.h>
#include "op25bctl.h"

/* Maps of another layout: say whose they are and the way out. */
static void report_open(const struct engine *e, int err)
{
	if (err == -EPROTO)
		p_err("%s under %s: use the op25bctl that made them, or 'detach --all' and remove %s to start afresh",
		      e->err, g.pin_dir, g.pin_dir);
	else
		p_err("%s", e->err);
}

int policy_open(struct op25b_maps *m, struct engine *e, enum pins_access how)
{
	int rc, err;

	rc = pins_open(m, how);
	if (rc)
		return rc;
	err = engine_open(e, &m->pol, how == PINS_MAKE);
	if (err) {
		report_open(e, err);
		maps_close(m);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* Readers take no lock: they read one snapshot by its generation. */
int policy_open_read(struct op25b_maps *m, struct engine *e)
{
	return policy_open(m, e, PINS_PEEK);
}

int policy_open_write(struct op25b_maps *m, struct engine *e)
{
	int rc;

	rc = policy_open(m, e, PINS_MAKE);
	if (rc)
		return rc;
	if (engine_begin(e)) {
		p_err("%s", e->err);
		policy_close(m, e);
		return EXIT_RUNTIME;
	}
	if (engine_recovered(e)) {
		p_info("an earlier change was interrupted; its leftovers were cleaned up (the policy is the one it found)");
		if (session_sweep(m, e)) {
			policy_close(m, e);
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}

int policy_commit(struct engine *e)
{
	if (engine_commit(e)) {
		p_err("%s; nothing was changed", e->err);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

void policy_close(struct op25b_maps *m, struct engine *e)
{
	engine_close(e);
	maps_close(m);
}
