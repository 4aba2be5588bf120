// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Every enumerated word the CLI and op25b.conf(5) say, one array each,
 * with its _name() and _parse(): tables, verdicts, actions, layers. A word
 * is spelled here and nowhere else (as iproute2's lib/rt_names.c does).
 */
#include <string.h>
#include "op25bctl.h"

#define N_OF(a)	(sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, __u32 v,
			   const char *none)
{
	return v < n && names[v] ? names[v] : none;
}

static int parse_of(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && !strcmp(s, names[i]))
			return (int)i;
	return -1;
}

/* A word list's _name() (none: what an unknown value reads as) */
#define NAME_OF(kind, none)						\
	const char *kind##_name(__u32 v)				\
	{								\
		return name_of(kind##_names, N_OF(kind##_names), v, none); \
	}
/* ... and its _parse(), for the words the CLI and the file take */
#define NAMES(kind, none)						\
	NAME_OF(kind, none)						\
	int kind##_parse(const char *s)					\
	{								\
		return parse_of(kind##_names, N_OF(kind##_names), s);	\
	}

static const char *const table_names[OP25B_TABLE_COUNT] = {
	[OP25B_TABLE_SUBSCRIBER]	= "subscriber",
	[OP25B_TABLE_RELAY]		= "relay",
};
NAMES(table, "unknown")

static const char *const action_names[] = {
	[OP25B_ACT_DROP]	= "drop",
	[OP25B_ACT_REJECT]	= "reject",
	[OP25B_ACT_MONITOR]	= "monitor",
	[OP25B_ACT_LIMIT]	= "limit",
};
NAMES(action, "unknown")

static const char *const layer_names[] = {
	[OP25B_LAYER_FILE]	= "file",
	[OP25B_LAYER_SESSION]	= "session",
	[OP25B_LAYER_WATCH]	= "watch",
};
NAMES(layer, "unknown")

/* Whom action limit counts at the socket hooks (--by) */
static const char *const limit_by_names[] = {
	[OP25B_BY_UID]		= "uid",
	[OP25B_BY_CGROUP]	= "cgroup",
};
NAMES(limit_by, "unknown")

/* The identities an exemption names (op25b.conf(5): allow uid|gid|cgroup) */
static const char *const ident_kind_names[] = {
	[OP25B_ID_UID]		= "uid",
	[OP25B_ID_GID]		= "gid",
	[OP25B_ID_CGROUP]	= "cgroup",
};

const char *ident_kind_name(__u32 k)
{
	return name_of(ident_kind_names, N_OF(ident_kind_names),
		       k & ~(__u32)OP25B_ID_PENDING, "unknown");
}

int ident_kind_parse(const char *s)
{
	return parse_of(ident_kind_names, N_OF(ident_kind_names), s);
}

/* What a change did to one entry, in -j answers and debug lines */
static const char *const change_names[] = {
	[ENGINE_UNCHANGED]	= "unchanged",
	[ENGINE_ADDED]		= "added",
	[ENGINE_CHANGED]	= "changed",
	[ENGINE_DELETED]	= "deleted",
	[ENGINE_ABSENT]		= "not present",
};
NAME_OF(change, "unknown")

/* "none" is a verdict no rule has: not one to parse */
static const char *const verdict_names[] = {
	[OP25B_V_NONE]	= "none",
	[OP25B_V_ALLOW]	= "allow",
	[OP25B_V_DENY]	= "deny",
};

const char *verdict_name(__u32 v)
{
	return name_of(verdict_names, N_OF(verdict_names), v, "none");
}

int verdict_parse(const char *s)
{
	int v = parse_of(verdict_names, N_OF(verdict_names), s);

	return v == OP25B_V_NONE ? -1 : v;
}

/* What an event says it was, and of what class the segment was */
static const char *const event_kind_names[] = {
	[OP25B_EV_BLOCKED]		= "blocked",
	[OP25B_EV_QUARANTINED]		= "quarantined",
	[OP25B_EV_RELEASED]		= "released",
	[OP25B_EV_RELEASED_BY_OPERATOR]	= "released by operator",
};
NAME_OF(event_kind, "unknown")

/* OP25B_C_PASS is never an event's: "unknown" */
static const char *const event_class_names[] = {
	[OP25B_C_SMTP]		= "smtp",
	[OP25B_C_EVASION]	= "evasion",
	[OP25B_C_UNDECIDABLE]	= "undecidable",
	[OP25B_C_MALFORMED]	= "malformed",
};
NAME_OF(event_class, "unknown")
