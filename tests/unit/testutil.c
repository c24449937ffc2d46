/*
 * testutil.c - helpers shared by the unit tests; see testutil.h.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

char *
tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char	*path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if ((path = malloc(strlen(base) + 32)) == NULL)
		return NULL;
	(void)sprintf(path, "%s/pinpost-test.XXXXXX", base);
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

void
tu_rmrf(const char *dir)
{
	if (dir != NULL && strstr(dir, "pinpost-test.") != NULL)
		(void)tu_sh("rm -rf '%s'", dir);
}

static char *
tu_vformat(const char *fmt, va_list ap)
{
	char	*cmd;
	va_list	 ap2;
	int	 n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || (cmd = malloc((size_t)n + 1)) == NULL)
		return NULL;
	(void)vsnprintf(cmd, (size_t)n + 1, fmt, ap);
	return cmd;
}

int
tu_sh(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd;
	int	 st;

	va_start(ap, fmt);
	cmd = tu_vformat(fmt, ap);
	va_end(ap);
	if (cmd == NULL)
		return -1;
	st = system(cmd);
	free(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

char *
tu_sh_out(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd, *out = NULL;
	size_t	 cap = 0, len = 0, n;
	char	 buf[4096];
	FILE	*fp;

	va_start(ap, fmt);
	cmd = tu_vformat(fmt, ap);
	va_end(ap);
	if (cmd == NULL)
		return NULL;
	fp = popen(cmd, "r");
	free(cmd);
	if (fp == NULL)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
		if (len + n + 1 > cap) {
			char *p = realloc(out, cap = (len + n + 1) * 2);
			if (p == NULL)
				break;
			out = p;
		}
		memcpy(out + len, buf, n);
		len += n;
	}
	if (pclose(fp) != 0 || out == NULL) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	return out;
}

int
tu_count_entries(const char *dir)
{
	struct dirent *de;
	DIR	*d;
	int	 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	if (closedir(d) != 0)
		return -1;
	return n;
}

int
tu_write_file(const char *path, const void *data, size_t len)
{
	int	fd, rc = 0;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	if (write(fd, data, len) != (ssize_t)len)
		rc = -1;
	if (close(fd) == -1)
		rc = -1;
	return rc;
}
