// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What an operator gives op25bctl, taken safely: a file opened only when it
 * is a regular one (a FIFO nobody writes must not hang a command), and any
 * word quoted for an error line (no escape sequence reaches a terminal).
 * The floor every reader of input stands on: it prints nothing itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "op25bctl.h"

FILE *input_open(const char *path, char *why, size_t len)
{
	struct stat st = { 0 };
	FILE *f;
	int fd;

	/* O_NONBLOCK: a FIFO nobody writes must not hold the open */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(why, len, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "%s",
			 S_ISDIR(st.st_mode) ? "a directory, not a file" :
			 S_ISFIFO(st.st_mode) ? "a FIFO, not a regular file" :
			 "not a regular file");
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		snprintf(why, len, "%s", strerror(errno));
		close(fd);
	}
	return f;
}

const char *token_quote(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	/* room for one escape (4) and the ellipsis (3) and the NUL */
	while (*p && o + 8 < len) {
		if (*p >= 0x20 && *p < 0x7f) {
			buf[o++] = (char)*p;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		}
		p++;
	}
	if (*p) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}
