/*
 * fsutil.h - what the modules that write durable files share.
 *
 *	fsu_err()	format a one-line message into err; returns -1
 *	fsu_syserr()	"PATH: CALL: strerror(errno)" into err; returns -1
 *	fsu_fsync_dir()	fsync a directory, so a rename in it is durable
 *	fsu_mkdir()	make a directory (0700) unless one is there: 1 made,
 *			0 was there, -1 error (also: there, but not a dir)
 *
 * Thread-safe (strerror_r); used from the worker thread.
 */
#ifndef FSUTIL_H
#define FSUTIL_H

#include <stddef.h>

int	fsu_err(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	fsu_syserr(char *err, size_t errlen, const char *path,
	    const char *call);
int	fsu_fsync_dir(const char *dir, char *err, size_t errlen);
int	fsu_mkdir(const char *path, char *err, size_t errlen);

#endif
