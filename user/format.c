// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * How op25bctl writes what the datapath records, for top, monitor and
 * quarantine alike: addresses, endpoints, interfaces, the datapath's
 * times as wall-clock times; and the one parser of counts.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "op25bctl.h"

int number_parse(const char *s, size_t n, __u64 min, __u64 max, __u64 *out)
{
	__u64 v = 0;
	size_t i;

	if (!n)
		return -1;
	for (i = 0; i < n; i++) {
		/* decimal digits only: strtoul would take signs, spaces, 0x */
		if (s[i] < '0' || s[i] > '9' || v > max)
			return -1;
		v = v * 10 + (__u64)(s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int count_parse(const char *s, unsigned long max, unsigned long *n)
{
	__u64 v;

	if (number_parse(s, strlen(s), 1, max, &v))
		return -1;
	*n = (unsigned long)v;
	return 0;
}

void addr_format(__u8 family, const __u8 *addr, char *buf, size_t len)
{
	int af = family == 4 ? AF_INET : AF_INET6;
	__u64 id;

	/* the socket hooks' limiter keys a source by uid or cgroup (op25b.h) */
	if (family == OP25B_SRC_UID || family == OP25B_SRC_CGROUP) {
		memcpy(&id, addr, sizeof(id));
		snprintf(buf, len, family == OP25B_SRC_UID ? "uid %llu" :
			 "cgroup #%llu", (unsigned long long)id);
		return;
	}
	if (family != 4 && family != 6) {
		snprintf(buf, len, "?");
		return;
	}
	if (!inet_ntop(af, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

void endpoint_format(__u8 family, const __u8 *addr, __u16 port, char *buf,
		     size_t len)
{
	char a[INET6_ADDRSTRLEN];

	addr_format(family, addr, a, sizeof(a));
	snprintf(buf, len, family == 6 ? "[%s]:%u" : "%s:%u", a, port);
}

/* Indexes are per network namespace: this one's name, or the number. */
void ifindex_format(__u32 ifindex, char *buf, size_t len)
{
	char name[IF_NAMESIZE];

	if (if_indextoname(ifindex, name))
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%u", ifindex);
}

/*
 * RFC 3339 in UTC, "2026-12-01T23:57:12Z", with milliseconds when asked:
 * the one form of a time in every output, text and JSON.
 */
void rfc3339_format(__u64 realtime_ns, bool millis, char *buf, size_t len)
{
	time_t sec = (time_t)(realtime_ns / NSEC_PER_SEC);
	struct tm tm;
	char s[32];

	if (!gmtime_r(&sec, &tm) ||
	    !strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "?");
		return;
	}
	if (millis)
		snprintf(buf, len, "%s.%03lluZ", s,
			 (unsigned long long)(realtime_ns % NSEC_PER_SEC /
					      1000000));
	else
		snprintf(buf, len, "%sZ", s);
}

__u64 realtime_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + (__u64)ts.tv_nsec;
}

/*
 * The datapath stamps CLOCK_MONOTONIC (at a tick's resolution); the wall
 * clock is that plus the offset between the two clocks now.
 */
__u64 dp_time_realtime(__u64 ns)
{
	struct timespec boot;
	__u64 now_boot, ago;

	clock_gettime(CLOCK_MONOTONIC, &boot);
	now_boot = (__u64)boot.tv_sec * NSEC_PER_SEC + (__u64)boot.tv_nsec;
	ago = now_boot > ns ? now_boot - ns : 0;
	return realtime_now() - ago;
}

void dp_time_format(__u64 ns, bool millis, char *buf, size_t len)
{
	rfc3339_format(dp_time_realtime(ns), millis, buf, len);
}

void wall_time_format(char *buf, size_t len)
{
	rfc3339_format(realtime_now(), true, buf, len);
}
