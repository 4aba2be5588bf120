// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * watch: attach op25b to every interface whose name matches a pattern, as
 * interfaces come (a BRAS's pppN, a router's WAN coming back), and forget
 * the record of each as it goes. Link events from rtnetlink, no polling;
 * when the kernel drops events (the socket's buffer overran), a full dump
 * puts things right again. One line per change on stdout (JSON with -j).
 * SIGTERM or SIGINT ends it; the attachments stay, as attach's do.
 */
#include <errno.h>
#include <fnmatch.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include "op25bctl.h"
#include "attachments.h"
#include "op25b.skel.h"

#define SEEN_MAX	65536


struct watch {
	struct watch_rule rules[WATCH_MAX];
	int nrules;
	struct op25b_bpf *cache[4];
	/* interfaces attached by this run: ifindex, 0 for a free slot */
	__u32 seen[SEEN_MAX];
	size_t nseen;
	/* names the pin dir waits for, read anew every second */
	char (*waiting)[16];
	size_t nwaiting;
	unsigned long attached, failed, forgotten, resyncs;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

const struct cmd_help watch_help = {
	.forms = FORMS({ .words = "PATTERN...", .opts = attach_opts },
		       { .words = "--config FILE [--boot]" }),
	.opts = watch_opts,
	.text =
	"Attach to every interface whose name matches a PATTERN (shell style:\n"
	"'ppp*', 'eth1.*', 'wan') now and as interfaces appear, with attach's\n"
	"options; when an interface goes, its attachment record goes too. A\n"
	"pattern that matches nothing is no error: watch waits. One line per\n"
	"change on stdout (JSON lines with -j). Runs until SIGTERM or SIGINT,\n"
	"which leave every attachment in place. --config reads 'watch'\n"
	"statements from an op25b.conf(5) file instead (none is needed).\n"
	"Whatever patterns it has, watch also attaches what the pin dir waits\n"
	"for: an 'attach' of a device that did not exist yet (status shows it\n"
	"pending), or of one that went and comes back, within a second of its\n"
	"name appearing (or of a rename to it). Its own attachments are the\n"
	"watch layer's: apply never detaches them. So too for cgroups: an\n"
	"'attach --cgroup' waiting for its cgroup, or whose cgroup was made\n"
	"again (a service restarted), is attached within a second; an 'allow\n"
	"cgroup|uid|gid' by name follows what the name resolves to.\n",
};

static const struct watch_rule *rule_for(const struct watch *w,
					 const char *name)
{
	int i, k;

	for (i = 0; i < w->nrules; i++)
		for (k = 0; k < w->rules[i].npatterns; k++)
			if (!fnmatch(w->rules[i].patterns[k], name, 0))
				return &w->rules[i];
	return NULL;
}

static bool seen_has(const struct watch *w, __u32 ifindex)
{
	return u32_in(w->seen, w->nseen, ifindex);
}

static void seen_add(struct watch *w, __u32 ifindex)
{
	size_t i;

	for (i = 0; i < w->nseen; i++)
		if (!w->seen[i]) {
			w->seen[i] = ifindex;
			return;
		}
	if (w->nseen < SEEN_MAX)
		w->seen[w->nseen++] = ifindex;
}

static void seen_del(struct watch *w, __u32 ifindex)
{
	size_t i;

	for (i = 0; i < w->nseen; i++)
		if (w->seen[i] == ifindex)
			w->seen[i] = 0;
}

static void log_line(const char *event, const char *ifname, __u32 ifindex,
		     const char *detail)
{
	open_json_object(NULL);
	print_string(PRINT_ANY, "event", "%s", event);
	if (ifname)
		print_string(PRINT_ANY, "interface", " %s", ifname);
	if (ifindex)
		print_uint(PRINT_ANY, "ifindex", " (ifindex %llu)", ifindex);
	if (detail)
		print_string(PRINT_ANY, "detail", ": %s", detail);
	close_json_object();
	print_nl();
	output_end();
	fflush(stdout);
}

/*
 * What waits for this name (an attach of the file's, or a session's, made
 * before the device existed, or of a device that went): attached as it
 * was asked for, in its own layer.
 */
static void pending_up(struct watch *w, const char *name, __u32 ifindex)
{
	size_t done = 0;
	int rc = attach_pending_resolve(name, w->cache, &done);

	if (done) {
		w->attached += done;
		log_line("attached", name, ifindex, "it was waited for");
	}
	if (rc) {
		w->failed++;
		log_line("error", name, ifindex, "what waited for it is not attached");
	}
}

/*
 * The socket hooks' part, every second (doc/DESIGN.md, "Socket hooks"):
 * cgroups an attachment waits for (an apply before the cgroup existed,
 * or a cgroup made again since: a restarted service, a container's new
 * scope) attached again, and exemptions whose name now resolves to
 * another cgroup, user or group made to follow it. The lock is taken for
 * each and let go.
 */
static void cgroups_poll(struct watch *w)
{
	char detail[64];
	size_t done = 0;

	if (cg_resolve_waiting(&done)) {
		w->failed++;
		log_line("error", NULL, 0, "a cgroup waited for is not attached");
	}
	pin_unlock();
	if (done) {
		w->attached += done;
		snprintf(detail, sizeof(detail), "%zu cgroup%s waited for",
			 done, done == 1 ? "" : "s");
		log_line("attached", NULL, 0, detail);
	}
	done = 0;
	if (idents_refresh(&done))
		log_line("error", NULL, 0, "exemptions by name not followed");
	pin_unlock();
	if (done) {
		snprintf(detail, sizeof(detail), "%zu exemption%s by name",
			 done, done == 1 ? "" : "s");
		log_line("followed", NULL, 0, detail);
	}
}

/*
 * Every second: the names waited for, read anew (a link event then costs
 * a look in this list, not a walk of every record: a BRAS has thousands),
 * and those of them that exist now (an apply that raced a device's birth).
 */
static void pending_poll(struct watch *w)
{
	char (*names)[16] = NULL;
	unsigned int ifindex;
	size_t i, n = 0;

	if (attach_waiting(&names, &n))
		return;
	free(w->waiting);
	w->waiting = names;
	w->nwaiting = n;
	for (i = 0; i < n; i++) {
		ifindex = if_nametoindex(names[i]);
		if (ifindex)
			pending_up(w, names[i], ifindex);
	}
}

static bool waited_for(const struct watch *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->nwaiting; i++)
		if (!strncmp(w->waiting[i], name, 16))
			return true;
	return false;
}

static void link_up(struct watch *w, const char *name, __u32 ifindex)
{
	const struct watch_rule *r = rule_for(w, name);
	struct attach_args a;
	char why[32];
	int rc;

	if (waited_for(w, name))
		pending_up(w, name, ifindex);
	if (!r || seen_has(w, ifindex))
		return;
	a = r->args;
	a.ifname = name;
	a.layer = OP25B_LAYER_WATCH;
	rc = attach_iface(&a, w->cache);
	if (rc) {
		w->failed++;
		snprintf(why, sizeof(why), "not attached (exit %d)", rc);
		log_line("error", name, ifindex, why);
		return;
	}
	seen_add(w, ifindex);
	w->attached++;
	log_line("attached", name, ifindex, NULL);
}

static void link_gone(struct watch *w, const char *name, __u32 ifindex)
{
	size_t n = 0;

	if (!seen_has(w, ifindex) && !(name && rule_for(w, name)))
		return;
	seen_del(w, ifindex);
	if (records_forget(ifindex, &n))
		return;
	if (n) {
		w->forgotten++;
		log_line("forgotten", name, ifindex, NULL);
	}
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[IFLA_MAX + 1];
	struct ifinfomsg *ifi;
	struct watch *w = arg;
	const char *name;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return NL_OK;
	if (nlmsg_parse(nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) ||
	    !tb[IFLA_IFNAME])
		return NL_OK;
	ifi = nlmsg_data(nlh);
	name = nla_get_string(tb[IFLA_IFNAME]);
	if (nlh->nlmsg_type == RTM_NEWLINK)
		link_up(w, name, (__u32)ifi->ifi_index);
	else
		link_gone(w, name, (__u32)ifi->ifi_index);
	return NL_OK;
}

/* Every link as it is now: attach what matches, forget what went. */
static int resync(struct watch *w)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *cache = NULL;
	struct rtnl_link *l;
	size_t i;
	int err;

	if (!sk)
		return EXIT_RUNTIME;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (!err)
		err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (err) {
		p_err("watch: cannot list the interfaces: %s", nl_geterror(err));
		nl_socket_free(sk);
		return EXIT_RUNTIME;
	}
	for (i = 0; i < w->nseen; i++) {
		if (!w->seen[i])
			continue;
		l = rtnl_link_get(cache, (int)w->seen[i]);
		if (l)
			rtnl_link_put(l);
		else
			link_gone(w, NULL, w->seen[i]);
	}
	for (l = (struct rtnl_link *)nl_cache_get_first(cache); l;
	     l = (struct rtnl_link *)nl_cache_get_next((struct nl_object *)l))
		link_up(w, rtnl_link_get_name(l), (__u32)rtnl_link_get_ifindex(l));
	nl_cache_free(cache);
	nl_socket_free(sk);
	return EXIT_OK;
}

/* A socket on the link group: subscribed, nonblocking. NULL, said, on error. */
static struct nl_sock *events_open(struct watch *w)
{
	struct nl_sock *sk = nl_socket_alloc();
	const char *rcvbuf = getenv("OP25B_WATCH_RCVBUF");	/* tests only */
	int err;

	if (!sk) {
		p_err("out of memory");
		return NULL;
	}
	nl_socket_disable_seq_check(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg, w);
	err = nl_connect(sk, NETLINK_ROUTE);
	if (!err)
		err = nl_socket_add_membership(sk, RTNLGRP_LINK);
	if (!err && rcvbuf)
		err = nl_socket_set_buffer_size(sk, atoi(rcvbuf), 0);
	if (!err)
		err = nl_socket_set_nonblocking(sk);
	if (err) {
		p_err("watch: cannot listen to link events: %s", nl_geterror(err));
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

static int watch_loop(struct watch *w)
{
	struct nl_sock *sk = events_open(w);
	time_t polled = time(NULL);
	struct pollfd pfd;
	int err;

	/* subscribed first, then the dump: nothing falls between */
	if (sk)
		pending_poll(w);
	if (!sk || resync(w)) {
		nl_socket_free(sk);
		return EXIT_RUNTIME;
	}
	log_line("watching", NULL, 0, NULL);
	pfd.events = POLLIN;
	while (!stop) {
		pfd.fd = nl_socket_get_fd(sk);
		int ready = poll(&pfd, 1, 1000);
		time_t now = time(NULL);

		if (ready < 0 && errno != EINTR)
			break;
		/* once a second, however busy the link events keep it */
		if (now != polled) {
			polled = now;
			pending_poll(w);
			/* the socket hooks': from the first second on */
			cgroups_poll(w);
		}
		if (ready <= 0)
			continue;
		/*
		 * An overrun shows as POLLERR alone when not one message
		 * fitted: read then too, to meet the ENOBUFS.
		 */
		if (!(pfd.revents & (POLLIN | POLLERR)))
			continue;
		err = nl_recvmsgs_default(sk);
		if (err == -NLE_NOMEM || err == -NLE_DUMP_INTR) {
			/*
			 * The kernel dropped events, and a socket it found
			 * congested may drop more without a word: a new
			 * subscription, then what is, from a full dump.
			 */
			w->resyncs++;
			log_line("resync", NULL, 0, "link events were lost");
			nl_socket_free(sk);
			sk = events_open(w);
			if (!sk)
				return EXIT_RUNTIME;
			resync(w);
		} else if (err < 0 && err != -NLE_AGAIN) {
			log_line("error", NULL, 0, nl_geterror(err));
		}
	}
	nl_socket_free(sk);
	return EXIT_OK;
}

int do_watch(int argc, char **argv)
{
	struct watch *w = calloc(1, sizeof(*w));
	struct sigaction sa = { .sa_handler = on_signal };
	const char *config = NULL;
	struct conf c = {};
	int rc;
	size_t i;

	if (!w) {
		p_err("out of memory");
		return EXIT_RUNTIME;
	}
	rc = watch_rule_parse(argc, argv, &w->rules[0], &config, NULL, 0);
	w->nrules = 1;
	if (!rc && config) {
		/* conf_load checked every watch statement as watch_check does */
		bool boot = w->rules[0].boot;

		/* no watch statement: it follows what the file waits for */
		rc = conf_load(config, &c);
		/* one more than it can keep is an error, never left out */
		if (!rc && c.nwatch > WATCH_MAX) {
			p_err("%s:%zu: at most %d 'watch' statements",
			      c.watch[WATCH_MAX].file, c.watch[WATCH_MAX].line,
			      WATCH_MAX);
			rc = EXIT_USAGE;
		}
		for (i = 0; !rc && i < c.nwatch && i < WATCH_MAX; i++)
			rc = watch_rule_parse(c.watch[i].argc, c.watch[i].argv,
					      &w->rules[i], NULL, NULL, 0);
		w->nrules = rc ? 0 : (int)i;
		if (rc && boot) {
			/* the last good policy's attachments still wait */
			p_err("watch: %s was refused; following only what the pin dir waits for",
			      config);
			rc = EXIT_OK;
		}
	}
	if (rc) {
		conf_free(&c);
		free(w);
		return rc;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = pin_dir_prepare(true);
	if (!rc)
		rc = watch_loop(w);
	for (i = 0; i < 4; i++)
		op25b_bpf__destroy(w->cache[i]);
	free(w->waiting);
	p_info("watch: %lu attached, %lu forgotten, %lu failed, %lu resyncs",
	       w->attached, w->forgotten, w->failed, w->resyncs);
	conf_free(&c);
	free(w);
	return rc;
}
