// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Action and blocked ports, as a snapshot holds them: names and checks. */
#include <string.h>
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

int action_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (action_names[i] && !strcmp(s, action_names[i]))
			return (int)i;
	return -1;
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
