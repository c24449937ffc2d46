/*
 * fsutil.c - errors and directory fsync for durable files; see fsutil.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

int
fsu_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
fsu_syserr(char *err, size_t errlen, const char *path, const char *call)
{
	char	msg[128];
	int	e = errno;

	if (strerror_r(e, msg, sizeof(msg)) != 0)
		(void)snprintf(msg, sizeof(msg), "error %d", e);
	return fsu_err(err, errlen, "%s: %s: %s", path, call, msg);
}

int
fsu_fsync_dir(const char *dir, char *err, size_t errlen)
{
	int	fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return fsu_syserr(err, errlen, dir, "open");
	if (fsync(fd) == -1)
		rc = fsu_syserr(err, errlen, dir, "fsync");
	if (close(fd) == -1 && rc == 0)
		rc = fsu_syserr(err, errlen, dir, "close");
	return rc;
}

int
fsu_mkdir(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (mkdir(path, 0700) == 0)
		return 1;
	if (errno != EEXIST)
		return fsu_syserr(err, errlen, path, "mkdir");
	if (stat(path, &sb) == -1)
		return fsu_syserr(err, errlen, path, "stat");
	if (!S_ISDIR(sb.st_mode))
		return fsu_err(err, errlen, "%s: not a directory", path);
	return 0;
}
