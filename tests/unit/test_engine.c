// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy engine against a model: random batches of deny/allow/del/
 * flush on prefixes that nest across every level boundary of the trees,
 * each published, then every answer of the engine's lookup compared with a
 * linear scan of the model, and the rule records with the model's set.
 * Writers killed at random moments must leave the live snapshot whole, and
 * the next writer must rebuild its state and go on. The datapath itself is
 * held to the same model by tests/fuzz (doc/DESIGN.md, "Testing").
 *
 * The harness is engine_harness.h; the tests are in files of their own,
 * test_engine_*.c, by what they hold the engine to (the model and the
 * layers, recovery, atomic publishing, identities), included here: each
 * registers its subtests in tests[] below, -t NAME.
 *
 * Usage: test_engine [-q] [-t NAME]
 */
#define _GNU_SOURCE	/* sched_setaffinity: the atomic test pins its loops */
#include "engine_harness.h"

#include "test_engine_model.c"
#include "test_engine_recovery.c"
#include "test_engine_atomic.c"
#include "test_engine_idents.c"

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "model", test_model },
	{ "layers", test_layers },
	{ "kill", test_kill },
	{ "pools", test_pools },
	{ "atomic", test_atomic },
	{ "idents", test_idents },
};

int main(int argc, char **argv)
{
	const char *only = NULL, *pin = NULL;
	int a, secs = 0, ran;
	size_t i;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-q"))
			tl.quiet = true;
		else if (!strcmp(argv[a], "-t") && a + 1 < argc)
			only = argv[++a];
		else if (!strcmp(argv[a], "-p") && a + 1 < argc)
			pin = argv[++a];
		else if (!strcmp(argv[a], "-l") && a + 1 < argc)
			secs = atoi(argv[++a]);
		else {
			fprintf(stderr, "usage: %s [-q] [-t NAME] | -p PIN_DIR -l SECONDS\n",
				argv[0]);
			return 2;
		}
	}
	if (pin) {
		libbpf_set_print(NULL);
		return pinned_loop(pin, secs > 0 ? secs : 10);
	}
	libbpf_set_print(NULL);
	for (i = 0, ran = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!only || !strcmp(only, tests[i].name)) {
			tests[i].fn();
			ran++;
		}
	/* a name that runs nothing is a failure, never a quiet pass */
	if (!ran)
		tl_check(false, "subtest", "no subtest '%s'", only);
	if (skel)
		op25b_bpf__destroy(skel);
	return tl_summary();
}
