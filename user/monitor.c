// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * monitor: the datapath's blocked-attempt events as they come, one line
 * each (JSON lines with -j), until interrupted or --count events were seen.
 * A reader of the event log with its own cursors (evlog.c): any number of
 * monitors, logs and tops each see every event.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <netinet/in.h>
#include <time.h>
#include "op25bctl.h"

/* Any count a test or a script could want; a bound for parsing. */
#define COUNT_MAX	1000000000UL
/* The callback's way to stop evlog_read once enough were seen. */
#define STOP_COUNT	(-ECANCELED)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

struct monitor {
	unsigned long count;	/* events to print; 0: no limit */
	unsigned long seen;
	bool backlog;		/* from the oldest event kept, not from now */
	__u64 lost;		/* as said so far */
};

static const char *class_name(__u8 cls)
{
	switch (cls) {
	case OP25B_C_SMTP:
		return "smtp";
	case OP25B_C_EVASION:
		return "evasion";
	case OP25B_C_UNDECIDABLE:
		return "undecidable";
	case OP25B_C_MALFORMED:
		return "malformed";
	}
	return "unknown";
}

/* A quarantine began or ended: the source, and for a beginning its packet. */
static void quarantine_print(const struct op25b_event *ev, const char *t)
{
	char a[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE + 8];
	char dst[INET6_ADDRSTRLEN + 8];
	const char *what = ev->kind == OP25B_EV_QUARANTINED ? "quarantined" :
			   ev->kind == OP25B_EV_RELEASED ? "released" :
			   "released by operator";

	addr_format(ev->family, ev->saddr, a, sizeof(a));
	open_json_object(NULL);
	print_string(PRINT_ANY, "time", "%s ", t);
	print_string(PRINT_ANY, "event", "%s ", what);
	print_uint(PRINT_JSON, "family", NULL, ev->family);
	print_string(PRINT_ANY, "saddr", "%s", a);
	if (ev->kind == OP25B_EV_QUARANTINED) {
		ifindex_format(ev->ifindex, ifname, sizeof(ifname));
		endpoint_format(ev->family, ev->daddr, ev->dport, dst, sizeof(dst));
		print_string(PRINT_FP, NULL, " (over the limit, to %s", dst);
		print_string(PRINT_FP, NULL, " on %s)", ifname);
		addr_format(ev->family, ev->daddr, a, sizeof(a));
		print_string(PRINT_JSON, "daddr", NULL, a);
		print_uint(PRINT_JSON, "dport", NULL, ev->dport);
		print_string(PRINT_JSON, "interface", NULL, ifname);
		print_uint(PRINT_JSON, "ifindex", NULL, ev->ifindex);
	}
	close_json_object();
	print_nl();
	output_end();
	fflush(stdout);
}

static void event_print(const struct op25b_event *ev)
{
	char t[48], ifname[IF_NAMESIZE + 8], a[INET6_ADDRSTRLEN];
	char src[INET6_ADDRSTRLEN + 8], dst[INET6_ADDRSTRLEN + 8];
	int i, nvlan = ev->nvlan < OP25B_VLAN_MAX ? ev->nvlan : OP25B_VLAN_MAX;

	dp_time_format(ev->ts_ns, true, t, sizeof(t));
	if (ev->kind != OP25B_EV_BLOCKED) {
		quarantine_print(ev, t);
		return;
	}
	ifindex_format(ev->ifindex, ifname, sizeof(ifname));
	endpoint_format(ev->family, ev->saddr, ev->sport, src, sizeof(src));
	endpoint_format(ev->family, ev->daddr, ev->dport, dst, sizeof(dst));

	open_json_object(NULL);
	print_string(PRINT_ANY, "time", "%s ", t);
	print_string(PRINT_JSON, "event", NULL, "blocked");
	print_string(PRINT_ANY, "interface", "%s ", ifname);
	print_uint(PRINT_JSON, "ifindex", NULL, ev->ifindex);
	print_uint(PRINT_JSON, "family", NULL, ev->family);
	print_string(PRINT_FP, NULL, "%s -> ", src);
	print_string(PRINT_FP, NULL, "%s", dst);
	addr_format(ev->family, ev->saddr, a, sizeof(a));
	print_string(PRINT_JSON, "saddr", NULL, a);
	print_uint(PRINT_JSON, "sport", NULL, ev->sport);
	addr_format(ev->family, ev->daddr, a, sizeof(a));
	print_string(PRINT_JSON, "daddr", NULL, a);
	print_uint(PRINT_JSON, "dport", NULL, ev->dport);
	print_string(PRINT_ANY, "action", " action %s",
		     action_name(ev->action));
	print_string(PRINT_ANY, "class", " class %s", class_name(ev->cls));
	if (nvlan) {
		print_string(PRINT_FP, NULL, "%s", " vlan ");
		open_json_array("vlan");
		for (i = 0; i < nvlan; i++)
			print_uint(PRINT_ANY, NULL, i ? ".%llu" : "%llu",
				   ev->vlan[i]);
		close_json_array();
	}
	if (ev->pppoe)
		print_uint(PRINT_ANY, "pppoe_sid", " pppoe 0x%04llx",
			   ev->pppoe_sid);
	close_json_object();
	print_nl();
	output_end();
	fflush(stdout);
}

/* The reader fell behind: how many events it will never see. */
static void lost_print(__u64 n)
{
	char t[48];

	wall_time_format(t, sizeof(t));
	open_json_object(NULL);
	print_string(PRINT_ANY, "time", "%s ", t);
	print_string(PRINT_JSON, "event", NULL, "lost");
	print_uint(PRINT_ANY, "lost", "lost %llu events (overwritten before this reader came to them)", n);
	close_json_object();
	print_nl();
	output_end();
	fflush(stdout);
}

static int on_event(void *ctx, const struct op25b_event *ev)
{
	struct monitor *mon = ctx;

	event_print(ev);
	/* an output that fails ends the stream; main says why, exit 1 */
	if (ferror(stdout)) {
		stop = 1;
		return STOP_COUNT;
	}
	mon->seen++;
	if (mon->count && mon->seen >= mon->count)
		return STOP_COUNT;
	return 0;
}

enum { OPT_COUNT = 1, OPT_BACKLOG };

static const struct opt monitor_opts[] = {
	{ .name = "--count", .id = OPT_COUNT, .arg = "N", .what = "a number",
	  .help = "stop after N events" },
	{ .name = "--backlog", .id = OPT_BACKLOG,
	  .help = "first the events still kept from before it started" },
	{ NULL },
};

static int args_parse(int argc, char **argv, struct monitor *mon)
{
	struct args a = ARGS_POS("monitor", argc, argv, NULL, 0);
	const char *v;
	int id;

	while ((id = args_opt(&a, monitor_opts, &v)) > 0) {
		if (id == OPT_BACKLOG) {
			mon->backlog = true;
			continue;
		}
		if (count_parse(v, COUNT_MAX, &mon->count)) {
			p_err("bad count '%s': must be 1-%lu", v, COUNT_MAX);
			return EXIT_USAGE;
		}
	}
	return id ? EXIT_USAGE : EXIT_OK;
}

/* No SA_RESTART: a signal must cut the wait short. */
static void signals_catch(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

const struct cmd_help monitor_help = {
	.opts = monitor_opts,
	.text =
	"One line per blocked attempt from now on (JSON lines with -j): time,\n"
	"interface, addresses and ports, action, why it was judged, VLAN ids and\n"
	"PPPoE session. At most one event per source a second, and 1000 a\n"
	"second per CPU: 'stats' counts the rest as events_suppressed. Every\n"
	"monitor, log and top sees every event; one that falls more than a\n"
	"second behind says how many it lost, in the stream and at its end.\n"
	"Runs until interrupted, or until N events were printed.\n",
};

/* Sleep a poll's time, cut short by a signal. */
static void poll_wait(void)
{
	struct timespec ts = { 0, EVLOG_POLL_MS * 1000000L };

	nanosleep(&ts, NULL);
}

int do_monitor(int argc, char **argv)
{
	struct monitor mon = {};
	struct op25b_maps m;
	struct evlog l;
	int rc, err = 0;

	rc = args_parse(argc, argv, &mon);
	if (rc)
		return rc;
	rc = pins_open(&m, PINS_PEEK);
	if (rc)
		return rc;
	err = evlog_open(&l, m.events, mon.backlog);
	if (err) {
		p_err("cannot map the event log: %s", strerror(-err));
		maps_close(&m);
		return EXIT_RUNTIME;
	}
	signals_catch();
	while (!stop) {
		err = evlog_read(&l, on_event, &mon);
		if (l.lost > mon.lost && !ferror(stdout)) {
			lost_print(l.lost - mon.lost);
			mon.lost = l.lost;
		}
		if (err == STOP_COUNT || stop)
			break;
		poll_wait();
	}
	p_info("monitor: %lu events, %llu lost", mon.seen, (unsigned long long)l.lost);
	evlog_close(&l);
	maps_close(&m);
	return ferror(stdout) ? EXIT_RUNTIME : EXIT_OK;
}
