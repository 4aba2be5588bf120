// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The global config value: action and blocked ports, shared by commands. */
#include <string.h>
#include <bpf/bpf.h>
#include "op25bctl.h"

static const char *const action_names[] = {
	[OP25B_ACT_DROP]	= "drop",
	[OP25B_ACT_REJECT]	= "reject",
	[OP25B_ACT_MONITOR]	= "monitor",
};

const char *action_name(__u32 action)
{
	if (action < sizeof(action_names) / sizeof(action_names[0]))
		return action_names[action];
	return "unknown";
}

/* Decimal only: strtoul would take signs, spaces and "0x". */
int port_parse(const char *s, __u32 *port)
{
	__u32 v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || v > OP25B_PORT_MAX)
			return -1;
		v = v * 10 + (__u32)(s[i] - '0');
	}
	if (!i || v < 1 || v > OP25B_PORT_MAX)
		return -1;
	*port = v;
	return 0;
}

bool config_port_blocked(const struct op25b_config *cfg, __u32 port)
{
	return (cfg->ports[port / 64] >> (port % 64)) & 1;
}

/* maps_open checked the value size against struct op25b_config. */
int config_read(int fd, struct op25b_config *cfg)
{
	__u32 zero = 0;
	int err;

	err = bpf_map_lookup_elem(fd, &zero, cfg);
	if (err) {
		p_err("cannot read the config: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

int config_write(int fd, const struct op25b_config *cfg)
{
	__u32 zero = 0;
	int err;

	err = bpf_map_update_elem(fd, &zero, cfg, BPF_ANY);
	if (err) {
		p_err("cannot write the config: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}
