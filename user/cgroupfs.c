// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The cgroup v2 hierarchy, as the socket hooks and the exemptions by
 * cgroup name it (doc/DESIGN.md, "Socket hooks"): where it is mounted,
 * found in /proc/self/mountinfo and never assumed (a host in hybrid mode
 * has a v1 tmpfs on /sys/fs/cgroup and v2 on /sys/fs/cgroup/unified); a
 * cgroup's path below its root, checked and made canonical; the id the
 * kernel knows a cgroup by, and back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include "op25bctl.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif
/* name_to_handle_at's handle of a kernfs node: its 64-bit id */
#define FILEID_KERNFS		0xfe

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo */
static void unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

static char root_cache[PATH_MAX];

int cgroup2_root(char *buf, size_t len, char *why, size_t wlen)
{
	char line[4096], best[PATH_MAX] = "", *f[64], *p;
	bool best_top = false;
	FILE *fp;
	int n, sep;

	if (root_cache[0]) {
		snprintf(buf, len, "%s", root_cache);
		return EXIT_OK;
	}
	fp = fopen("/proc/self/mountinfo", "re");
	if (!fp) {
		p_say(why, wlen, "cannot read /proc/self/mountinfo: %s",
		      strerror(errno));
		return EXIT_RUNTIME;
	}
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		for (n = 0, p = strtok(line, " "); p && n < 64;
		     p = strtok(NULL, " "))
			f[n++] = p;
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE ... */
		for (sep = 6; sep < n && strcmp(f[sep], "-"); sep++)
			;
		if (sep + 1 >= n || strcmp(f[sep + 1], "cgroup2"))
			continue;
		unescape(f[4]);
		/* the whole hierarchy, where there is a choice */
		if (!best[0] || (!best_top && !strcmp(f[3], "/"))) {
			snprintf(best, sizeof(best), "%s", f[4]);
			best_top = !strcmp(f[3], "/");
		}
	}
	fclose(fp);
	if (!best[0]) {
		p_say(why, wlen, "no cgroup v2 hierarchy is mounted (see /proc/self/mountinfo): the socket hooks need cgroup v2");
		return EXIT_RUNTIME;
	}
	snprintf(root_cache, sizeof(root_cache), "%s", best);
	snprintf(buf, len, "%s", best);
	return EXIT_OK;
}

/*
 * The canonical form of a path below the v2 root: no leading or trailing
 * '/', no empty, '.' or '..' component, printable ASCII. The root itself
 * is "" (given as "/"). A path given under the mount point
 * ("/sys/fs/cgroup/unified/system.slice") is taken below it.
 */
int cgroup_path_norm(const char *in, char *out, size_t len, char *why,
		     size_t wlen)
{
	char root[PATH_MAX], q[TOKEN_QUOTE_LEN];
	const char *s = in, *c;
	size_t o = 0, rl;

	if (!cgroup2_root(root, sizeof(root), NULL, 0)) {
		rl = strlen(root);
		if (rl > 1 && !strncmp(in, root, rl) &&
		    (in[rl] == '/' || !in[rl]))
			s = in + rl;
	}
	for (c = s; *c; c++) {
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
			p_say(why, wlen, "bad cgroup '%s': a cgroup path is printable ASCII without spaces",
			      token_quote(in, q, sizeof(q)));
			return EXIT_USAGE;
		}
	}
	while (*s) {
		size_t n;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		n = strcspn(s, "/");
		if ((n == 1 && s[0] == '.') || (n == 2 && !strncmp(s, "..", 2))) {
			p_say(why, wlen, "bad cgroup '%s': '.' and '..' are not allowed",
			      token_quote(in, q, sizeof(q)));
			return EXIT_USAGE;
		}
		if (o + n + 2 > len || o + n + 1 >= OP25B_CGROUP_PATH) {
			p_say(why, wlen, "bad cgroup '%s': longer than %d characters",
			      token_quote(in, q, sizeof(q)), OP25B_CGROUP_PATH - 1);
			return EXIT_USAGE;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, n);
		o += n;
		s += n;
	}
	out[o] = '\0';
	return EXIT_OK;
}

/* root + "/" + rel, the directory of a cgroup. */
static int cgroup_dir(const char *rel, char *buf, size_t len, char *why,
		      size_t wlen)
{
	char root[PATH_MAX];
	int rc = cgroup2_root(root, sizeof(root), why, wlen);

	if (rc)
		return rc;
	if ((size_t)snprintf(buf, len, "%s%s%s", root, *rel ? "/" : "", rel) >= len) {
		p_say(why, wlen, "cgroup path too long");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/*
 * The id of the cgroup at rel (canonical, below the root), as the BPF
 * helpers give it: its kernfs node id, the inode number. ENOENT: there
 * is no such cgroup (yet).
 */
int cgroup_id_of(const char *rel, __u64 *id)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h;
	char dir[PATH_MAX];
	struct statfs sf;
	struct stat st;
	int mnt;

	if (cgroup_dir(rel, dir, sizeof(dir), NULL, 0))
		return -EINVAL;
	if (stat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || statfs(dir, &sf) ||
	    sf.f_type != CGROUP2_SUPER_MAGIC)
		return -ENOTDIR;
	h.fh.handle_bytes = sizeof(h.id);
	if (!name_to_handle_at(AT_FDCWD, dir, &h.fh, &mnt, 0) &&
	    h.fh.handle_type == FILEID_KERNFS && h.fh.handle_bytes == 8) {
		memcpy(id, h.fh.f_handle, sizeof(*id));
		return 0;
	}
	*id = st.st_ino;
	return 0;
}

/* An fd of the cgroup's directory, for attaching to it; -errno. */
int cgroup_open(const char *rel)
{
	char dir[PATH_MAX];
	int fd;

	if (cgroup_dir(rel, dir, sizeof(dir), NULL, 0))
		return -EINVAL;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * The path below the root of the cgroup whose id is id, while it exists
 * (open_by_handle_at: root's right to read any directory); false when it
 * cannot be named.
 */
bool cgroup_path_of(__u64 id, char *buf, size_t len)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h = { .fh = { .handle_bytes = 8, .handle_type = FILEID_KERNFS },
		.id = id };
	char root[PATH_MAX], link[64], path[PATH_MAX];
	size_t rl;
	ssize_t n;
	int mfd, fd;

	if (!id || cgroup2_root(root, sizeof(root), NULL, 0))
		return false;
	mfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return false;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(mfd);
	if (fd < 0)
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n <= 0)
		return false;
	path[n] = '\0';
	rl = strlen(root);
	if (!strcmp(root, "/"))
		rl = 0;
	if (strncmp(path, root, rl) || (path[rl] && path[rl] != '/'))
		return false;
	snprintf(buf, len, "%s", path[rl] ? path + rl + 1 : "");
	return true;
}
