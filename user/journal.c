// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The systemd journal, for the two commands that use it: log --journal
 * writes to it, history and report --journal read it. libsystemd is
 * loaded with dlopen when one of them first asks, not linked: linked, it
 * and the six libraries it brings were loaded by every op25bctl command,
 * about 0.9 ms of a 'deny' or a 'test' that takes 3 ms in all on a small
 * machine (doc/BENCHMARKS.md, loading). A build without libsystemd's
 * headers (OpenWrt) has no journal: journal_open says so.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include "op25bctl.h"

#ifdef OP25B_JOURNAL
#include <dlfcn.h>
#include <systemd/sd-journal.h>

#define LIBSYSTEMD	"libsystemd.so.0"

/* What op25bctl calls of libsystemd, found once. */
static struct {
	void *lib;
	typeof(sd_journal_sendv) *sendv;
	typeof(sd_journal_open) *open;
	typeof(sd_journal_add_match) *add_match;
	typeof(sd_journal_seek_head) *seek_head;
	typeof(sd_journal_next) *next;
	typeof(sd_journal_restart_data) *restart_data;
	typeof(sd_journal_enumerate_data) *enumerate_data;
	typeof(sd_journal_close) *close;
} sd;

static const struct {
	const char *name;
	void **fn;
} sd_fns[] = {
	{ "sd_journal_sendv", (void **)&sd.sendv },
	{ "sd_journal_open", (void **)&sd.open },
	{ "sd_journal_add_match", (void **)&sd.add_match },
	{ "sd_journal_seek_head", (void **)&sd.seek_head },
	{ "sd_journal_next", (void **)&sd.next },
	{ "sd_journal_restart_data", (void **)&sd.restart_data },
	{ "sd_journal_enumerate_data", (void **)&sd.enumerate_data },
	{ "sd_journal_close", (void **)&sd.close },
};

int journal_open(char *why, size_t len)
{
	static char err[160];
	size_t i;

	if (sd.lib)
		return 0;
	if (err[0])
		goto fail;
	sd.lib = dlopen(LIBSYSTEMD, RTLD_NOW | RTLD_LOCAL);
	if (!sd.lib) {
		snprintf(err, sizeof(err), "%s", dlerror());
		goto fail;
	}
	for (i = 0; i < sizeof(sd_fns) / sizeof(sd_fns[0]); i++) {
		*sd_fns[i].fn = dlsym(sd.lib, sd_fns[i].name);
		if (!*sd_fns[i].fn) {
			snprintf(err, sizeof(err), "%s has no %s", LIBSYSTEMD,
				 sd_fns[i].name);
			dlclose(sd.lib);
			sd.lib = NULL;
			goto fail;
		}
	}
	return 0;
fail:
	snprintf(why, len, "%s", err);
	return -ENOENT;
}

int journal_sendv(const struct iovec *iov, int n)
{
	char why[160];

	if (journal_open(why, sizeof(why)))
		return -ENOSYS;
	return sd.sendv(iov, n);
}

int journal_read(const char *match, journal_field_fn field,
		 journal_entry_fn entry, void *ctx)
{
	const void *d;
	sd_journal *j;
	char why[160];
	size_t l;
	int err;

	if (journal_open(why, sizeof(why)))
		return -ENOSYS;
	err = sd.open(&j, SD_JOURNAL_LOCAL_ONLY);
	if (err < 0)
		return err;
	err = sd.add_match(j, match, 0);
	if (!err)
		err = sd.seek_head(j);
	while (err >= 0 && (err = sd.next(j)) > 0) {
		sd.restart_data(j);
		while (sd.enumerate_data(j, &d, &l) > 0)
			field(ctx, d, l);
		entry(ctx);
	}
	sd.close(j);
	return err < 0 ? err : 0;
}

#else

int journal_open(char *why, size_t len)
{
	snprintf(why, len, "this op25bctl was built without the journal (libsystemd)");
	return -ENOSYS;
}

int journal_sendv(const struct iovec *iov, int n)
{
	return -ENOSYS;
}

int journal_read(const char *match, journal_field_fn field,
		 journal_entry_fn entry, void *ctx)
{
	return -ENOSYS;
}

#endif
