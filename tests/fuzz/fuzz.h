/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the fuzzer's driver (fuzz.c: loading, running, counters, the run)
 * and its policy (policy.c: the rules, their changes and actions, mirrored
 * in the oracle, and the hit counters held to it) share: the two loaded
 * datapaths, one per mode, and the one way a check is reported.
 */
#ifndef OP25B_FUZZ_H
#define OP25B_FUZZ_H

#include <stdbool.h>
#include "op25b.h"
#include "op25b.skel.h"
#include "engine.h"

/*
 * Counters are compared, and the action may switch, every CHECK_EVERY
 * packets; of every ACTION_CYCLE such blocks, one runs with action monitor
 * and REJECT_BLOCKS with action reject, the rest with drop (policy.c,
 * block_action).
 */
#define CHECK_EVERY	1024
#define ACTION_CYCLE	8
#define MONITOR_BLOCK	7
#define REJECT_BLOCKS	2
#define LIMIT_BLOCK	3	/* and LIMIT_BLOCK + 3: action limit */
/*
 * The policy changes every POLICY_BLOCKS blocks: a batch of changes goes
 * in with the block's action, one publish.
 */
#define POLICY_BLOCKS	1

enum { MODE_L2, MODE_L3, MODE_COUNT };

extern const char *const mode_name[MODE_COUNT];
extern const unsigned int mode_root_bits[MODE_COUNT];

struct target {
	struct op25b_bpf *skel;
	struct engine eng;	/* the controller's engine on skel's maps */
	bool eng_open;
	unsigned long hit_checks;
	int xdp_fd;
	int tc_fd;
	struct op25b_stats expect;	/* the oracle's view of the map */
	unsigned long checks;
};

extern struct target targets[MODE_COUNT];
/* the run's seed and how far it went: for the 'reproduce' lines */
extern unsigned long long seed;
extern unsigned long packets_run;

/* `ok - ...` (unless -q) or `FAIL - ...`, counted for the summary */
void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- policy.c */

/* What was published, for the summary and the coverage checks. */
extern unsigned long publishes, batches, changes, flushes;
extern bool len_installed[2][129];	/* [v6][prefix length] */

int setup_policy(void);
int txn_begin(void);
int txn_commit(void);
int policy_batch(void);
unsigned int block_action(unsigned long block);
void set_action(unsigned int action, unsigned long block);
int check_hits(int mode);

#endif /* OP25B_FUZZ_H */
