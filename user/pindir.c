// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The pin directory itself: on a bpffs (mounted where there is none),
 * made with its parents checked, and the lock that serialises op25bctl
 * runs on it. What lives in it, the pinned maps and loading the
 * datapath against them, is pin.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include "op25bctl.h"

#define BPFFS_ROOT	"/sys/fs/bpf"

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static bool under_bpffs_root(const char *path)
{
	size_t n = strlen(BPFFS_ROOT);

	return !strncmp(path, BPFFS_ROOT, n) &&
	       (path[n] == '\0' || path[n] == '/');
}

/*
 * 'ip netns exec' (or unshare -m) runs us in a mount namespace of our own,
 * where /sys is remounted: a bpffs mounted there dies with the process and
 * takes the pins along, leaving programs attached that nobody can steer.
 */
static bool mount_ns_private(void)
{
	struct stat self, parent;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)getppid());
	if (stat("/proc/self/ns/mnt", &self) || stat(path, &parent))
		return false;
	return self.st_ino != parent.st_ino || self.st_dev != parent.st_dev;
}

/* Only called when BPFFS_ROOT holds no bpffs. */
static int bpffs_mount(bool create)
{
	if (mount_ns_private()) {
		p_err("no bpf filesystem on %s in this private mount namespace ('ip netns exec' remounts /sys); run op25bctl under 'nsenter --net=/run/netns/NAME' instead",
		      BPFFS_ROOT);
		return EXIT_RUNTIME;
	}
	if (!create) {
		p_err("no bpf filesystem is mounted on %s", BPFFS_ROOT);
		return EXIT_RUNTIME;
	}
	if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700")) {
		p_err("cannot mount bpffs on %s: %s", BPFFS_ROOT,
		      strerror(errno));
		return EXIT_RUNTIME;
	}
	p_debug("mounted bpffs on %s", BPFFS_ROOT);
	return EXIT_OK;
}

/* A missing pin dir can be made only in an existing directory on bpffs. */
static int pin_dir_parent_check(void)
{
	char parent[PATH_MAX];

	snprintf(parent, sizeof(parent), "%s", g.pin_dir);
	dirname(parent);
	if (access(parent, F_OK)) {
		p_err("pin dir '%s' does not exist", g.pin_dir);
		return EXIT_USAGE;
	}
	if (!on_bpffs(parent)) {
		p_err("pin dir '%s' is not on a bpf filesystem", g.pin_dir);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int pin_dir_create(void)
{
	int rc = pin_dir_parent_check();

	if (rc)
		return rc;
	if (mkdir(g.pin_dir, 0700) && errno != EEXIST) {
		p_err("cannot create pin dir '%s': %s", g.pin_dir,
		      strerror(errno));
		return EXIT_RUNTIME;
	}
	p_debug("created pin dir %s", g.pin_dir);
	return EXIT_OK;
}

int pin_dir_prepare(bool create)
{
	struct stat st;
	int rc;

	if (under_bpffs_root(g.pin_dir) && !on_bpffs(BPFFS_ROOT)) {
		rc = bpffs_mount(create);
		if (rc)
			return rc;
	}
	if (stat(g.pin_dir, &st)) {
		if (errno == ENOENT && create)
			return pin_dir_create();
		if (errno == ENOENT) {
			p_err("pin dir '%s' does not exist", g.pin_dir);
			return EXIT_USAGE;
		}
		p_err("cannot access pin dir '%s': %s", g.pin_dir,
		      strerror(errno));
		return EXIT_RUNTIME;
	}
	if (!S_ISDIR(st.st_mode)) {
		p_err("pin dir '%s' is not a directory", g.pin_dir);
		return EXIT_USAGE;
	}
	if (!on_bpffs(g.pin_dir)) {
		p_err("pin dir '%s' is not on a bpf filesystem", g.pin_dir);
		return EXIT_USAGE;
	}
	/* unreadable is not empty: never answer as if op25b were absent */
	if (access(g.pin_dir, R_OK | X_OK)) {
		p_err("cannot read pin dir '%s': %s (op25b's state is root's)",
		      g.pin_dir, strerror(errno));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* flock is per open file: a second lock from this process would deadlock. */
static int lock_fd = -1;

/* The pid holding a flock on the file of fd, from /proc/locks; 0: unknown. */
static long lock_holder(int fd)
{
	unsigned int maj, min;
	unsigned long ino;
	char line[256], kind[16];
	struct stat st;
	long pid, found = 0;
	FILE *f;

	if (fstat(fd, &st))
		return 0;
	f = fopen("/proc/locks", "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF" */
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", kind, &pid,
			   &maj, &min, &ino) == 5 &&
		    !strcmp(kind, "FLOCK") && ino == st.st_ino &&
		    maj == major(st.st_dev) && min == minor(st.st_dev) &&
		    pid != getpid())
			found = pid;
	}
	fclose(f);
	return found;
}

/* "pid 1234 (op25bctl deny subscriber -f pools.txt)", shortened. */
static void holder_describe(long pid, char *buf, size_t len)
{
	char path[64], cmd[256] = "", q[TOKEN_QUOTE_LEN];
	ssize_t n = 0, i;
	int fd;

	if (!pid) {
		snprintf(buf, len, "another process");
		return;
	}
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
	}
	for (i = 0; i < n - 1; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	cmd[n > 0 ? n : 0] = '\0';
	snprintf(buf, len, "pid %ld (%s)", pid, n > 0 ?
		 token_quote(cmd, q, sizeof(q)) : "gone");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Wait for the lock at most g.wait seconds, saying within a second for
 * whom: a writer stopped while holding it must not hang every later
 * command in silence.
 */
static int pin_lock_mode(int mode)
{
	double start = now_s(), t;
	bool told = false;
	char who[128];
	int fd;

	if (lock_fd >= 0)
		return EXIT_OK;
	fd = open(g.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		p_err("cannot open pin dir '%s': %s", g.pin_dir,
		      strerror(errno));
		return EXIT_RUNTIME;
	}
	while (flock(fd, mode | LOCK_NB)) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			p_err("cannot lock pin dir '%s': %s", g.pin_dir,
			      strerror(errno));
			close(fd);
			return EXIT_RUNTIME;
		}
		t = now_s() - start;
		if (t >= g.wait) {
			holder_describe(lock_holder(fd), who, sizeof(who));
			p_err("gave up after %u s waiting for %s, which holds the lock on %s (-w SEC waits longer)",
			      g.wait, who, g.pin_dir);
			close(fd);
			return EXIT_RUNTIME;
		}
		if (!told && t >= 0.5) {
			holder_describe(lock_holder(fd), who, sizeof(who));
			p_info("waiting for %s, which holds the lock on %s (at most %u s)",
			       who, g.pin_dir, g.wait);
			told = true;
		}
		usleep(20000);
	}
	lock_fd = fd;
	return EXIT_OK;
}

void pin_unlock(void)
{
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
}

int pin_lock(void)
{
	return pin_lock_mode(LOCK_EX);
}

int pin_lock_shared(void)
{
	return pin_lock_mode(LOCK_SH);
}

int pin_dir_lock(bool create)
{
	int rc = pin_dir_prepare(create);

	return rc ? rc : pin_lock();
}

/*
 * Nothing is pinned: a pin dir that could never hold pins is bad usage,
 * one that merely holds nothing yet is not.
 */
int pin_dir_check(void)
{
	struct stat st;

	if (under_bpffs_root(g.pin_dir) && !on_bpffs(BPFFS_ROOT))
		return bpffs_mount(false);
	if (stat(g.pin_dir, &st) && errno == ENOENT)
		return pin_dir_parent_check();
	return pin_dir_prepare(false);
}
