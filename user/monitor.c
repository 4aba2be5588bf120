// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * monitor: the datapath's blocked-attempt events as they come, one line
 * each (JSON lines with -j), until interrupted or --count events were seen.
 * A reader of the event log with its own cursors (evlog.c): any number of
 * monitors and logs each see every event.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
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
	struct event_ctx x;
	unsigned long count;	/* events to print; 0: no limit */
	unsigned long seen;
	bool backlog;		/* from the oldest event kept, not from now */
	__u64 lost;		/* as said so far */
};

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

/* An event printed: counted, and whether the stream goes on. */
static int printed(struct monitor *mon)
{
	fflush(stdout);
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

static int on_event(void *ctx, const struct op25b_event *ev)
{
	struct monitor *mon = ctx;
	struct event_view v;

	event_view(&mon->x, ev, &v);
	event_print(&v);
	return printed(mon);
}

/* A connect the socket hooks refused (or monitored): its culprit named. */
static int on_sock_event(void *ctx, const struct op25b_sock_event *ev)
{
	struct sock_view v;

	sock_view(ev, &v);
	sock_event_print(&v);
	return printed(ctx);
}

enum { OPT_COUNT = 1, OPT_BACKLOG };

static const struct opt monitor_opts[] = OPT_TABLE(
	{ .name = "--count", .id = OPT_COUNT, .arg = "N", .what = "a number",
	  .help = "stop after N events" },
	{ .name = "--backlog", .id = OPT_BACKLOG,
	  .help = "first the events still kept from before it started" },
);

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
	"One line per blocked attempt from now on (JSON lines with -j): time\n"
	"(RFC 3339, UTC), interface, source MAC, addresses and ports, action, why\n"
	"it was judged, VLAN ids, PPPoE session, and the user name and line of\n"
	"the session the source belongs to (session up --address). At most one event per source a second, and 1000 a\n"
	"second per CPU: 'stats' counts the rest as events_suppressed. Every\n"
	"monitor, log and top sees every event; one that falls more than a\n"
	"second behind says how many it lost, in the stream and at its end.\n"
	"A connect the socket hooks refused (attach --cgroup) is an event\n"
	"\"connect\" naming its culprit: pid, command, executable, uid and\n"
	"user, gid and group, cgroup, destination; one a second per uid and\n"
	"per cgroup.\n"
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
	struct evlog sl;
	int rc, err = 0;

	rc = args_parse(argc, argv, &mon);
	if (rc)
		return rc;
	rc = event_logs_open(&m, &l, &sl, mon.backlog);
	if (rc)
		return rc;
	event_ctx_init(&mon.x, &m);
	signals_catch();
	while (!stop) {
		err = evlog_read(&l, on_event, &mon);
		if (err != STOP_COUNT && !stop)
			err = sklog_read(&sl, on_sock_event, &mon);
		if (l.lost + sl.lost > mon.lost && !ferror(stdout)) {
			lost_print(l.lost + sl.lost - mon.lost);
			mon.lost = l.lost + sl.lost;
		}
		if (err == STOP_COUNT || stop)
			break;
		poll_wait();
	}
	p_info("monitor: %lu events, %llu lost", mon.seen,
	       (unsigned long long)(l.lost + sl.lost));
	evlog_close(&l);
	evlog_close(&sl);
	event_ctx_free(&mon.x);
	maps_close(&m);
	return ferror(stdout) ? EXIT_RUNTIME : EXIT_OK;
}
