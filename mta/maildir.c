/*
 * maildir.c - local delivery into a Maildir; see maildir.h.
 *
 * PUBLIC FUNCTIONS
 *	maildir_deliver()	MAILBOX/tmp/NAME (O_EXCL, 0600): the prepended
 *				lines and the message, CRLF written as LF;
 *				fsync, close, link() into new/ (rename() where
 *				link fails with EXDEV or EPERM), unlink tmp/,
 *				fsync new/
 *	maildir_create()	mkdir -p MAILBOX, then tmp/, new/ and cur/,
 *				all 0700; each new directory's parent is
 *				fsynced
 *
 * FILE NAMES
 *	"SECONDS.MMICROSPPIDQCOUNT.HOST", e.g. "1700000000.M123456P42Q7.mx",
 *	HOST with '/' written "\057" and ':' "\072".  COUNT is a per-process
 *	counter, so names are unique per process and microsecond; a name
 *	that exists in tmp/ anyway is retried with the next count.
 *
 * DIAGNOSTICS
 *	-1 with one line in err: "PATH: CALL: strerror" when a system call
 *	fails (the path names the mailbox or the queued message), or
 *	"PATH: PROBLEM" ("not a directory", "name buffer too small",
 *	"host name too long").
 *
 * THREADS
 *	Safe to call from several threads at once: the only static state is
 *	md_counter, an atomic counter.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "maildir.h"

#define MD_PATH_MAX	4096
#define MD_NAME_MAX	256		/* a file name, with its NUL */
#define MD_HOST_MAX	128		/* the escaped host in a name */
#define MD_BUF_SIZE	(64 * 1024)
#define MD_TRIES	16

struct md_job {
	int		 in;		/* the queued message */
	int		 out;		/* MAILBOX/tmp/NAME */
	int		 cr;		/* a CR waits: LF follows or not */
	size_t		 olen;
	char		 host[MD_HOST_MAX + 1];
	char		 tmp[MD_PATH_MAX];	/* "" until created */
	char		 new[MD_PATH_MAX];
	char		 newdir[MD_PATH_MAX];
	unsigned char	 ib[MD_BUF_SIZE];
	unsigned char	 ob[MD_BUF_SIZE];
};

static atomic_uint md_counter;


/* ------------------------------------------------------------------ */
/* errors and small helpers						*/



static int
md_join(char *buf, size_t len, const char *dir, const char *sub,
    const char *name)
{
	int	n;

	if (name != NULL)
		n = snprintf(buf, len, "%s/%s/%s", dir, sub, name);
	else
		n = snprintf(buf, len, "%s/%s", dir, sub);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}


/* ------------------------------------------------------------------ */
/* unique names								*/

/* The host part of a name: hostname, or this host's, escaped. */
static int
md_host(const char *hostname, char *out, size_t outlen)
{
	char	sys[256];
	const char *s = hostname, *rep;
	size_t	o = 0, n;

	if (s == NULL || *s == '\0') {
		if (gethostname(sys, sizeof(sys)) == -1)
			return -1;
		sys[sizeof(sys) - 1] = '\0';
		s = sys[0] != '\0' ? sys : "localhost";
	}
	for (; *s != '\0'; s++) {
		rep = *s == '/' ? "\\057" : *s == ':' ? "\\072" : NULL;
		n = rep != NULL ? strlen(rep) : 1;
		if (o + n >= outlen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (rep != NULL)
			memcpy(out + o, rep, n);
		else
			out[o] = *s;
		o += n;
	}
	out[o] = '\0';
	return 0;
}

static int
md_unique(char *buf, size_t len, const char *host)
{
	struct timespec ts;
	unsigned int q = atomic_fetch_add(&md_counter, 1u);
	int	n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	n = snprintf(buf, len, "%lld.M%ldP%dQ%u.%s", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000, (int)getpid(), q, host);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Create MAILBOX/tmp/NAME with a fresh name; j->tmp is set only then. */
static int
md_create(struct md_job *j, const char *mailbox, char *err, size_t errlen)
{
	char	name[MD_NAME_MAX];
	int	i;

	for (i = 0; i < MD_TRIES; i++) {
		if (md_unique(name, sizeof(name), j->host) == -1)
			return fsu_syserr(err, errlen, mailbox, "new file name");
		if (md_join(j->tmp, sizeof(j->tmp), mailbox, "tmp", name) ==
		    -1 || md_join(j->new, sizeof(j->new), mailbox, "new",
		    name) == -1) {
			j->tmp[0] = '\0';
			return fsu_err(err, errlen, "%s: path too long",
			    mailbox);
		}
		j->out = open(j->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (j->out != -1)
			return 0;
		if (errno != EEXIST) {
			(void)fsu_syserr(err, errlen, j->tmp, "open");
			j->tmp[0] = '\0';
			return -1;
		}
	}
	j->tmp[0] = '\0';
	return fsu_err(err, errlen, "%s/tmp: no unique file name after %d "
	    "tries", mailbox, MD_TRIES);
}

/* ------------------------------------------------------------------ */
/* copying								*/

static int
md_flush(struct md_job *j, char *err, size_t errlen)
{
	const unsigned char *p = j->ob;
	size_t	len = j->olen;
	ssize_t	n;

	while (len > 0) {
		if ((n = write(j->out, p, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return fsu_syserr(err, errlen, j->tmp, "write");
		}
		p += n;
		len -= (size_t)n;
	}
	j->olen = 0;
	return 0;
}

static int
md_byte(struct md_job *j, unsigned char c, char *err, size_t errlen)
{
	if (j->olen == sizeof(j->ob) && md_flush(j, err, errlen) == -1)
		return -1;
	j->ob[j->olen++] = c;
	return 0;
}

/* Append p, CRLF written as LF; a lone CR stays. */
static int
md_put(struct md_job *j, const unsigned char *p, size_t len, char *err,
    size_t errlen)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (j->cr) {
			j->cr = 0;
			if (p[i] != '\n' && md_byte(j, '\r', err, errlen) == -1)
				return -1;
		}
		if (p[i] == '\r')
			j->cr = 1;
		else if (md_byte(j, p[i], err, errlen) == -1)
			return -1;
	}
	return 0;
}

static int
md_copy(struct md_job *j, const char *prepend, const char *msg_path,
    char *err, size_t errlen)
{
	ssize_t	n;

	if (prepend != NULL && md_put(j, (const unsigned char *)prepend,
	    strlen(prepend), err, errlen) == -1)
		return -1;
	for (;;) {
		if ((n = read(j->in, j->ib, sizeof(j->ib))) == -1 &&
		    errno == EINTR)
			continue;
		if (n == -1)
			return fsu_syserr(err, errlen, msg_path, "read");
		if (n == 0)
			break;
		if (md_put(j, j->ib, (size_t)n, err, errlen) == -1)
			return -1;
	}
	if (j->cr && md_byte(j, '\r', err, errlen) == -1)
		return -1;
	j->cr = 0;
	return md_flush(j, err, errlen);
}

static int
md_sync(struct md_job *j, char *err, size_t errlen)
{
	int	fd = j->out;

	if (fsync(fd) == -1)
		return fsu_syserr(err, errlen, j->tmp, "fsync");
	j->out = -1;
	if (close(fd) == -1)
		return fsu_syserr(err, errlen, j->tmp, "close");
	return 0;
}

static int
md_publish(struct md_job *j, char *err, size_t errlen)
{
	if (link(j->tmp, j->new) == -1) {
		if (errno != EXDEV && errno != EPERM)
			return fsu_syserr(err, errlen, j->new, "link");
		if (rename(j->tmp, j->new) == -1)
			return fsu_syserr(err, errlen, j->new, "rename");
	} else {
		/*
		 * The message is in new/: failing now would deliver it
		 * twice, and mail readers sweep stale files from tmp/.
		 */
		(void)unlink(j->tmp);
	}
	return fsu_fsync_dir(j->newdir, err, errlen);
}

/* ------------------------------------------------------------------ */
/* delivery								*/

static struct md_job *
md_job_new(const char *mailbox, const char *hostname, char *err,
    size_t errlen)
{
	struct md_job *j;

	if ((j = malloc(sizeof(*j))) == NULL) {
		(void)fsu_err(err, errlen, "%s: out of memory", mailbox);
		return NULL;
	}
	j->in = j->out = -1;
	j->cr = 0;
	j->olen = 0;
	j->tmp[0] = j->new[0] = '\0';
	if (md_join(j->newdir, sizeof(j->newdir), mailbox, "new", NULL) ==
	    -1) {
		(void)fsu_err(err, errlen, "%s: path too long", mailbox);
		free(j);
		return NULL;
	}
	if (md_host(hostname, j->host, sizeof(j->host)) == -1) {
		(void)fsu_syserr(err, errlen, mailbox, "host name");
		free(j);
		return NULL;
	}
	return j;
}

/* With failed, the file in tmp/ goes too. */
static void
md_job_free(struct md_job *j, int failed)
{
	/* Read-only, or being thrown away: a close error changes nothing. */
	if (j->in != -1)
		(void)close(j->in);
	if (j->out != -1)
		(void)close(j->out);
	/* Best effort while failing: the error reported is the first one. */
	if (failed && j->tmp[0] != '\0')
		(void)unlink(j->tmp);
	free(j);
}

static int
md_run(struct md_job *j, const char *mailbox, const char *msg_path,
    const char *prepend, char *name_out, size_t name_len, char *err,
    size_t errlen)
{
	if ((j->in = open(msg_path, O_RDONLY | O_CLOEXEC)) == -1)
		return fsu_syserr(err, errlen, msg_path, "open");
	if (md_create(j, mailbox, err, errlen) == -1)
		return -1;
	if (name_out != NULL && strlen(j->new) >= name_len)
		return fsu_err(err, errlen, "%s: name buffer too small", j->new);
	if (md_copy(j, prepend, msg_path, err, errlen) == -1 ||
	    md_sync(j, err, errlen) == -1 || md_publish(j, err, errlen) == -1)
		return -1;
	if (name_out != NULL)
		memcpy(name_out, j->new, strlen(j->new) + 1);
	return 0;
}

int
maildir_deliver(const char *mailbox, const char *msg_path,
    const char *prepend, const char *hostname, char *name_out,
    size_t name_len, char *err, size_t errlen)
{
	struct md_job *j;
	int	rc;

	if ((j = md_job_new(mailbox, hostname, err, errlen)) == NULL)
		return -1;
	rc = md_run(j, mailbox, msg_path, prepend, name_out, name_len, err,
	    errlen);
	md_job_free(j, rc == -1);
	return rc;
}

/* ------------------------------------------------------------------ */
/* creation								*/

/* A new directory's name is durable once its parent is fsynced. */
static int
md_sync_parent(const char *path, char *err, size_t errlen)
{
	char	parent[MD_PATH_MAX];
	char	*slash;
	size_t	len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len >= sizeof(parent))
		return fsu_err(err, errlen, "%s: path too long", path);
	memcpy(parent, path, len);
	parent[len] = '\0';
	if ((slash = strrchr(parent, '/')) == NULL)
		return fsu_fsync_dir(".", err, errlen);
	slash[slash == parent ? 1 : 0] = '\0';
	return fsu_fsync_dir(parent, err, errlen);
}

static int
md_mkdir(const char *path, char *err, size_t errlen)
{
	int	r = fsu_mkdir(path, err, errlen);

	if (r == 1)
		return md_sync_parent(path, err, errlen);
	return r;
}

static int
md_mkdir_p(char *path, char *err, size_t errlen)
{
	char	*p;
	int	 rc;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = md_mkdir(path, err, errlen);
		*p = '/';
		if (rc == -1)
			return -1;
	}
	return md_mkdir(path, err, errlen);
}

int
maildir_create(const char *mailbox, char *err, size_t errlen)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char	path[MD_PATH_MAX];
	size_t	i, len = strlen(mailbox);

	if (len == 0 || len + 5 > sizeof(path))
		return fsu_err(err, errlen, "%.64s: bad mailbox path (empty or "
		    "too long)", mailbox);
	memcpy(path, mailbox, len + 1);
	if (md_mkdir_p(path, err, errlen) == -1)
		return -1;
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (md_join(path, sizeof(path), mailbox, sub[i], NULL) == -1)
			return fsu_err(err, errlen, "%s: path too long",
			    mailbox);
		if (md_mkdir(path, err, errlen) == -1)
			return -1;
	}
	return 0;
}
