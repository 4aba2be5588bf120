/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The socket hooks (bpf/cgroup.h): what the verifier does with them. A
 * cgroup/connect program cannot be run by BPF_PROG_TEST_RUN; what they
 * decide is held by tests/e2e/test_cgroup.sh with real processes, its
 * identity rules by a model there (cgmodel.py). Here: that they load
 * with every compiler, and the verifier's work on each stays small (the
 * decision and the step after it are global functions, as the packet
 * hooks' are).
 */

/*
 * The same bound as the packet hooks' (dp_verifier.c): about 22,000 and
 * 24,000 now, most of it the tree walk's global function (verified for
 * each program that calls it) and the snapshot's retries.
 */
#define SOCK_VERIFIER_BUDGET	30000

DP_AREA(sock)
{
	struct bpf_program *progs[2] = { dps->l2->skel->progs.op25b_connect4,
					 dps->l2->skel->progs.op25b_connect6 };
	struct bpf_prog_info info;
	char l[160];
	__u32 len;
	int i;

	if (bpf_program__fd(progs[0]) < 0) {
		tl_skip("sock: the socket hooks",
			"the kernel has no BPF JIT: their calls' stack is over the interpreter's 512 bytes");
		return;
	}
	for (i = 0; i < 2; i++) {
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_program__fd(progs[i]), &info, &len))
			tl_bug("prog info: %s", strerror(errno));
		snprintf(l, sizeof(l),
			 "verifier [%s]: %u instructions walked, within %u",
			 bpf_program__name(progs[i]), info.verified_insns,
			 SOCK_VERIFIER_BUDGET);
		tl_check(info.verified_insns > 0 &&
				 info.verified_insns <= SOCK_VERIFIER_BUDGET,
			 l, "%u", info.verified_insns);
		snprintf(l, sizeof(l), "%s is a cgroup/connect program",
			 bpf_program__name(progs[i]));
		tl_check(bpf_program__type(progs[i]) ==
				 BPF_PROG_TYPE_CGROUP_SOCK_ADDR &&
			 bpf_program__expected_attach_type(progs[i]) ==
				 (i ? BPF_CGROUP_INET6_CONNECT :
				      BPF_CGROUP_INET4_CONNECT),
			 l, "type %d", bpf_program__type(progs[i]));
	}
}
