/*
 * cli_queue_flush.c - pinpost queue flush [ID]: ask the running
 * pinpostd to retry a message (or every message) now.
 *
 * DESCRIPTION
 *	1. SPOOL/pinpostd.pid (written by pinpostd) names the daemon; it
 *	   must be a live process, and where /proc/PID/comm exists, one
 *	   named pinpostd: a stale pid file must not make us signal some
 *	   other process (SIGUSR1 kills a process that does not catch it).
 *	2. The marker SPOOL/flush/ID (or SPOOL/flush/ALL) is created
 *	   atomically: written as SPOOL/flush/.NAME.PID (pinpostd skips dot
 *	   names), then renamed.  SPOOL/flush is created if missing (0700;
 *	   when we are root, owned like SPOOL, so that pinpostd, running as
 *	   its user, can remove the markers).
 *	3. SIGUSR1 to the daemon, which reads and removes the markers.
 *
 * DIAGNOSTICS
 *	pinpostd is not running (SPOOL/pinpostd.pid)
 *	pinpostd is not running (SPOOL/pinpostd.pid: pid N is NAME)
 *	SPOOL/pinpostd.pid: not a pid file
 *	PATH: CALL: REASON	for the pid file, the directory, the marker
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_queue.h"

#define FLUSH_PATH_MAX	4096
#define FLUSH_DAEMON	"pinpostd"

static int
not_running(const char *pidfile)
{
	return cli_err("pinpostd is not running (%s)", pidfile);
}

/* The pid in the file: decimal, a newline at most after it. */
static int
read_pid(const char *path, long *pid)
{
	char	buf[32], *end;
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? not_running(path) :
		    cli_err("%s: open: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	if (n == -1) {
		cli_err("%s: read: %s", path, strerror(errno));
		(void)close(fd);
		return CLI_FAIL;
	}
	(void)close(fd);
	buf[n] = '\0';
	errno = 0;
	*pid = strtol(buf, &end, 10);
	if (end == buf || errno != 0 || *pid < 1 || *pid > 0x7fffffffL ||
	    (*end != '\0' && strcmp(end, "\n") != 0))
		return cli_err("%s: not a pid file", path);
	return CLI_OK;
}

/* Where /proc tells, is pid a pinpostd? */
static int
check_comm(const char *pidfile, long pid)
{
	char	path[64], name[32];
	FILE	*fp;
	size_t	n;

	(void)snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return CLI_OK;	/* no /proc: kill(pid, 0) has to do */
	n = fread(name, 1, sizeof(name) - 1, fp);
	(void)fclose(fp);
	name[n] = '\0';
	name[strcspn(name, "\n")] = '\0';
	if (strcmp(name, FLUSH_DAEMON) == 0)
		return CLI_OK;
	return cli_err("pinpostd is not running (%s: pid %ld is %s)", pidfile,
	    pid, name);
}

static int
daemon_pid(const char *spool, long *pid)
{
	char	path[FLUSH_PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/pinpostd.pid", spool);
	if (read_pid(path, pid) != CLI_OK)
		return CLI_FAIL;
	if (kill((pid_t)*pid, 0) == -1)
		return errno == ESRCH ? not_running(path) :
		    cli_err("%s: pid %ld: %s", path, *pid, strerror(errno));
	return check_comm(path, *pid);
}

/* SPOOL/flush, created if missing and given to SPOOL's owner. */
static int
flush_dir(const char *spool, char *dir, size_t len)
{
	struct stat st;

	if ((size_t)snprintf(dir, len, "%s/flush", spool) >= len)
		return cli_err("%.64s...: spool_dir too long", spool);
	if (mkdir(dir, 0700) == -1) {
		if (errno == EEXIST)
			return CLI_OK;
		return cli_err("%s: mkdir: %s", dir, strerror(errno));
	}
	if (geteuid() != 0)
		return CLI_OK;
	if (stat(spool, &st) == -1)
		return cli_err("%s: stat: %s", spool, strerror(errno));
	if (chown(dir, st.st_uid, st.st_gid) == -1)
		return cli_err("%s: chown: %s", dir, strerror(errno));
	return CLI_OK;
}

static int
write_tmp(const char *tmp, const char *name)
{
	size_t	len = strlen(name);
	int	fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return cli_err("%s: open: %s", tmp, strerror(errno));
	if (write(fd, name, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		cli_err("%s: write: %s", tmp, strerror(errno));
		(void)close(fd);
		return CLI_FAIL;
	}
	if (close(fd) == -1)
		return cli_err("%s: close: %s", tmp, strerror(errno));
	return CLI_OK;
}

/* DIR/NAME, written as DIR/.NAME.PID and renamed. */
static int
write_marker(const char *dir, const char *name)
{
	char	tmp[FLUSH_PATH_MAX], path[FLUSH_PATH_MAX];

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", dir, name,
	    (long)getpid()) >= sizeof(tmp) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return cli_err("%.64s...: path too long", dir);
	if (write_tmp(tmp, name) != CLI_OK) {
		(void)unlink(tmp);
		return CLI_FAIL;
	}
	if (rename(tmp, path) == -1) {
		cli_err("%s: rename to %s: %s", tmp, path, strerror(errno));
		(void)unlink(tmp);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int
cli_queue_flush(const char *spool, const char *id)
{
	char	dir[FLUSH_PATH_MAX];
	const char *name = id != NULL ? id : "ALL";
	long	pid = 0;

	if (id != NULL && cli_queue_has(spool, id) == -1)
		return CLI_FAIL;
	if (daemon_pid(spool, &pid) != CLI_OK ||
	    flush_dir(spool, dir, sizeof(dir)) != CLI_OK ||
	    write_marker(dir, name) != CLI_OK)
		return CLI_FAIL;
	if (kill((pid_t)pid, SIGUSR1) == -1)
		return cli_err("%s/pinpostd.pid: pid %ld: kill: %s", spool, pid,
		    strerror(errno));
	printf("%s: flush requested from pinpostd (pid %ld)\n", name, pid);
	return CLI_OK;
}
