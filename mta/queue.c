/*
 * queue.c - the durable mail queue; the layout and the commit protocol
 * are described in queue.h.
 *
 * PUBLIC FUNCTIONS
 *	queue_open(), queue_close(), queue_recover()
 *	queue_msg_new(), queue_msg_id(), queue_msg_write(), queue_msg_size(),
 *	queue_msg_commit(), queue_msg_abort()
 *	queue_env_load(), queue_env_save(), queue_env_free(),
 *	queue_env_add_rcpt()
 *	queue_msg_path(), queue_remove(), queue_list(), queue_list_free()
 *
 * QUEUE IDS
 *	13 hex digits of microseconds since the epoch (good until 2112) and
 *	7 of getrandom(), so IDs sort by arrival; tmp/ID.msg is created with
 *	O_EXCL and an ID already in queue/ is refused, so a clash retries.
 *
 * ENVELOPE FILE (ID.env), VERSION 2
 *	Lines end in LF; no value holds CR, LF or NUL.  Every line below is
 *	required, in this order, with one rcpt line per recipient (1 to
 *	QUEUE_RCPT_MAX):
 *
 *		pinpost-env 2
 *		id ID
 *		arrival SECONDS
 *		sender ADDRESS		(empty for <>)
 *		client [ADDRESS]:PORT	(may be empty, e.g. a bounce)
 *		helo NAME		(may be empty)
 *		body 7bit|8bit
 *		smtputf8 0|1
 *		warned 0|1
 *		rcpt state=pending|delivered|failed local=0|1 attempts=N
 *		    next=SECONDS last=SECONDS status=CODE remote=HOST
 *		    addr=ADDRESS reply=TEXT		(one line)
 *
 *	CODE is empty or an RFC 3463 status code (2, 4 or 5, a dot, 1 to 3
 *	digits, a dot, 1 to 3 digits); HOST is empty or printable ASCII
 *	without spaces.  A recipient address may hold spaces but never
 *	" reply="; the reply is the rest of the line.
 *
 * VERSION 1
 *	Still loaded, never written: no warned line, and rcpt lines end
 *	"next=SECONDS addr=ADDRESS reply=TEXT".  It loads as warned 0,
 *	last=0, status and remote empty; the next save writes version 2.
 *	Each version is parsed strictly by its own rules (no version-2 key
 *	in a version-1 file); any other version is refused, not guessed at.
 *
 * DIAGNOSTICS
 *	Failing functions return -1 (or NULL) with one line in err:
 *	"PATH: CALL: strerror" when a system call fails;
 *	"PATH:LINE: PROBLEM" for a malformed envelope, e.g. "bad arrival",
 *	"unknown key 'x'", "unsupported version", "too many recipients";
 *	"PATH: PROBLEM" for an envelope refused on save, e.g. "sender
 *	contains CR or LF", "rcpt 2: addr too long", "rcpt 1: bad status";
 *	"PATH: envelope without message (N in all)" from queue_recover().
 *
 * THREADS
 *	No static state.  A struct queue is read-only once open and may be
 *	shared by threads; a message or an envelope belongs to one thread at
 *	a time, and one ID is saved by one thread at a time.  queue_recover()
 *	runs alone, before the first commit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "queue.h"

#define Q_PATH_MAX	1024		/* any path in the spool */
#define Q_BUF_SIZE	(64 * 1024)	/* message write buffer */
#define Q_LINE_MAX	2048		/* an envelope line */
#define Q_ENV_MAX	(2 * 1024 * 1024) /* an envelope file */
#define Q_ID_TRIES	16
#define Q_VERSION	2		/* written by save */
#define Q_VERSION_KEY	"pinpost-env "
#define Q_REPLY_SEP	" reply="

struct queue {
	char	tmp[Q_PATH_MAX];	/* SPOOL/tmp */
	char	dir[Q_PATH_MAX];	/* SPOOL/queue */
};

struct queue_msg {
	struct queue	*q;
	char		 id[QUEUE_ID_LEN + 1];
	char		 path[Q_PATH_MAX];	/* SPOOL/tmp/ID.msg */
	int		 fd;
	int		 failed;	/* a write failed: never commit */
	uint64_t	 size;
	size_t		 blen;
	unsigned char	 buf[Q_BUF_SIZE];
};

/* An envelope being formatted. */
struct q_text {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 failed;
};

/* Where the envelope loader is. */
struct q_parse {
	const char	*path;
	const char	*id;
	size_t		 lineno;
	size_t		 cap;		/* recipients allocated */
	int		 version;	/* of the file, from line 1 */
	size_t		 nkeys;		/* header keys in that version */
	char		*err;
	size_t		 errlen;
};

/* What queue_recover() found in queue/. */
struct q_scan {
	size_t	removed;		/* orphan messages */
	size_t	lonely;			/* envelopes without message */
	char	first[QUEUE_ID_LEN + 1];
};

/* queue_list() results. */
struct q_ids {
	char	**v;
	size_t	 n;
	size_t	 cap;
};

enum q_name { Q_OTHER, Q_MSG, Q_ENV };

typedef int q_walk_cb(const char *, int, const char *, void *, char *,
    size_t);

/*
 * The header keys after the version line, in file order; version 1 has
 * the first Q_NKEYS_V1 of them.
 */
static const char *const q_keys[] = {
	"id", "arrival", "sender", "client", "helo", "body", "smtputf8",
	"warned"
};
#define Q_NKEYS		(sizeof(q_keys) / sizeof(q_keys[0]))
#define Q_NKEYS_V1	7

static int q_perr(struct q_parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void q_text_add(struct q_text *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------ */
/* errors, paths, names						*/



/* The same for the entry name in dir. */
static int
q_syserr_at(char *err, size_t errlen, const char *dir, const char *name,
    const char *call)
{
	char	path[Q_PATH_MAX + 256];
	int	e = errno;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	errno = e;
	return fsu_syserr(err, errlen, path, call);
}

/* A malformed envelope: "PATH:LINE: problem". */
static int
q_perr(struct q_parse *ps, const char *fmt, ...)
{
	char	msg[160];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fsu_err(ps->err, ps->errlen, "%s:%zu: %s", ps->path, ps->lineno,
	    msg);
}

/* DIR/IDSUFFIX; -1 (err set when err is not NULL) if it does not fit. */
static int
q_path(char *buf, size_t len, const char *dir, const char *id,
    const char *suffix, char *err, size_t errlen)
{
	int	n;

	n = snprintf(buf, len, "%s/%s%s", dir, id, suffix);
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		return fsu_err(err, errlen, "%s: path too long", dir);
	}
	return 0;
}

static int
q_id_ok(const char *id)
{
	return strlen(id) == QUEUE_ID_LEN &&
	    strspn(id, "0123456789abcdef") == QUEUE_ID_LEN;
}

/* What a name in queue/ is; id receives its ID. */
static enum q_name
q_name_kind(const char *name, char *id)
{
	if (strlen(name) != QUEUE_ID_LEN + 4 || name[QUEUE_ID_LEN] != '.')
		return Q_OTHER;
	memcpy(id, name, QUEUE_ID_LEN);
	id[QUEUE_ID_LEN] = '\0';
	if (!q_id_ok(id))
		return Q_OTHER;
	if (strcmp(name + QUEUE_ID_LEN, ".msg") == 0)
		return Q_MSG;
	if (strcmp(name + QUEUE_ID_LEN, ".env") == 0)
		return Q_ENV;
	return Q_OTHER;
}

/*
 * Cleanup while already failing: the first error is the one reported,
 * and whatever is left is removed by queue_recover() at the next start.
 */
static void
q_unlink_quiet(const char *path)
{
	if (path[0] != '\0')
		(void)unlink(path);
}

/* ------------------------------------------------------------------ */
/* files and directories						*/

static int
q_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}


/* Write, fsync and close a whole file; how: O_EXCL or O_TRUNC. */
static int
q_write_file(const char *path, const void *data, size_t len, int how,
    char *err, size_t errlen)
{
	int	fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | how,
	    0600);
	if (fd == -1)
		return fsu_syserr(err, errlen, path, "open");
	if (q_write_all(fd, data, len) == -1)
		rc = fsu_syserr(err, errlen, path, "write");
	else if (fsync(fd) == -1)
		rc = fsu_syserr(err, errlen, path, "fsync");
	if (close(fd) == -1 && rc == 0)
		rc = fsu_syserr(err, errlen, path, "close");
	return rc;
}

/* Read a whole envelope file into *buf (malloc'd, NUL-terminated). */
static int
q_read_fd(int fd, const char *path, char **buf, size_t *len, char *err,
    size_t errlen)
{
	struct stat sb;
	ssize_t	n;

	if (fstat(fd, &sb) == -1)
		return fsu_syserr(err, errlen, path, "fstat");
	if (!S_ISREG(sb.st_mode) || sb.st_size > Q_ENV_MAX)
		return fsu_err(err, errlen, "%s: not a regular file or larger "
		    "than %d bytes", path, Q_ENV_MAX);
	if ((*buf = malloc((size_t)sb.st_size + 1)) == NULL)
		return fsu_err(err, errlen, "%s: out of memory", path);
	for (*len = 0; *len < (size_t)sb.st_size; *len += (size_t)n) {
		n = read(fd, *buf + *len, (size_t)sb.st_size - *len);
		if (n == -1 && errno == EINTR)
			n = 0;
		else if (n == -1)
			return fsu_syserr(err, errlen, path, "read");
		else if (n == 0)
			break;
	}
	(*buf)[*len] = '\0';
	return 0;
}

static int
q_read_file(const char *path, char **buf, size_t *len, char *err,
    size_t errlen)
{
	int	fd, rc;

	*buf = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return fsu_syserr(err, errlen, path, "open");
	rc = q_read_fd(fd, path, buf, len, err, errlen);
	if (close(fd) == -1 && rc == 0)
		rc = fsu_syserr(err, errlen, path, "close");
	if (rc == -1) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}


/* 1 exists, 0 does not, -1 error. */
static int
q_exists_at(int dfd, const char *name)
{
	struct stat sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

static int
q_readdir(DIR *d, struct dirent **de)
{
	errno = 0;
	if ((*de = readdir(d)) != NULL)
		return 1;
	return errno == 0 ? 0 : -1;
}

/* Call cb for every entry of dir but "." and "..". */
static int
q_walk(const char *dir, q_walk_cb *cb, void *arg, char *err, size_t errlen)
{
	struct dirent *de;
	DIR	*d;
	int	 r, rc = 0;

	if ((d = opendir(dir)) == NULL)
		return fsu_syserr(err, errlen, dir, "opendir");
	while ((r = q_readdir(d, &de)) == 1) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((rc = cb(dir, dirfd(d), de->d_name, arg, err, errlen)) ==
		    -1)
			break;
	}
	if (r == -1 && rc == 0)
		rc = fsu_syserr(err, errlen, dir, "readdir");
	if (closedir(d) == -1 && rc == 0)
		rc = fsu_syserr(err, errlen, dir, "closedir");
	return rc;
}

/* ------------------------------------------------------------------ */
/* open, close								*/

struct queue *
queue_open(const char *spool, char *err, size_t errlen)
{
	struct queue *q;
	size_t	len = strlen(spool);
	int	c1, c2;

	if (len == 0 || len > Q_PATH_MAX - 64) {
		(void)fsu_err(err, errlen, "%.64s: bad spool path (empty or "
		    "too long)", spool);
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		(void)fsu_err(err, errlen, "%s: out of memory", spool);
		return NULL;
	}
	(void)snprintf(q->tmp, sizeof(q->tmp), "%s/tmp", spool);
	(void)snprintf(q->dir, sizeof(q->dir), "%s/queue", spool);
	if ((c1 = fsu_mkdir(q->tmp, err, errlen)) == -1 ||
	    (c2 = fsu_mkdir(q->dir, err, errlen)) == -1 ||
	    ((c1 || c2) && fsu_fsync_dir(spool, err, errlen) == -1)) {
		free(q);
		return NULL;
	}
	return q;
}

void
queue_close(struct queue *q)
{
	free(q);
}

/* ------------------------------------------------------------------ */
/* recovery								*/

static int
q_clear_tmp_cb(const char *dir, int dfd, const char *name, void *arg,
    char *err, size_t errlen)
{
	(void)arg;
	if (unlinkat(dfd, name, 0) == -1 && errno != ENOENT)
		return q_syserr_at(err, errlen, dir, name, "unlink");
	return 0;
}

/* An ID.msg without ID.env is dropped; an ID.env without ID.msg is kept. */
static int
q_orphan_cb(const char *dir, int dfd, const char *name, void *arg,
    char *err, size_t errlen)
{
	struct q_scan *s = arg;
	char	id[QUEUE_ID_LEN + 1], other[QUEUE_ID_LEN + 5];
	enum q_name kind;
	int	there;

	if ((kind = q_name_kind(name, id)) == Q_OTHER)
		return 0;
	(void)snprintf(other, sizeof(other), "%s%s", id,
	    kind == Q_MSG ? ".env" : ".msg");
	if ((there = q_exists_at(dfd, other)) == -1)
		return q_syserr_at(err, errlen, dir, other, "stat");
	if (there)
		return 0;
	if (kind == Q_ENV) {
		if (s->lonely++ == 0)
			memcpy(s->first, id, sizeof(s->first));
		return 0;
	}
	if (unlinkat(dfd, name, 0) == -1 && errno != ENOENT)
		return q_syserr_at(err, errlen, dir, name, "unlink");
	s->removed++;
	return 0;
}

int
queue_recover(struct queue *q, char *err, size_t errlen)
{
	struct q_scan s;

	memset(&s, 0, sizeof(s));
	/* tmp/ is not fsynced: a leftover that comes back goes next time. */
	if (q_walk(q->tmp, q_clear_tmp_cb, NULL, err, errlen) == -1 ||
	    q_walk(q->dir, q_orphan_cb, &s, err, errlen) == -1)
		return -1;
	if (s.removed > 0 && fsu_fsync_dir(q->dir, err, errlen) == -1)
		return -1;
	if (s.lonely > 0)
		return fsu_err(err, errlen, "%s/%s.env: envelope without message "
		    "(%zu in all)", q->dir, s.first, s.lonely);
	return 0;
}

/* ------------------------------------------------------------------ */
/* writing a message							*/

static int
q_random(uint32_t *r)
{
	ssize_t	n;

	do
		n = getrandom(r, sizeof(*r), 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(*r)) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

static int
q_make_id(char *id, size_t len)
{
	struct timespec ts;
	uint64_t us;
	uint32_t r;
	int	 n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 || q_random(&r) == -1)
		return -1;
	us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	n = snprintf(id, len, "%013" PRIx64 "%07" PRIx32,
	    us & UINT64_C(0xfffffffffffff), r & UINT32_C(0xfffffff));
	if (n != QUEUE_ID_LEN) {
		errno = EOVERFLOW;
		return -1;
	}
	return 0;
}

/* 1 if queue/ holds ID.msg or ID.env (or cannot tell), else 0. */
static int
q_id_taken(const struct queue *q, const char *id)
{
	char	path[Q_PATH_MAX];
	struct stat sb;

	if (q_path(path, sizeof(path), q->dir, id, ".msg", NULL, 0) == -1 ||
	    lstat(path, &sb) == 0 || errno != ENOENT)
		return 1;
	if (q_path(path, sizeof(path), q->dir, id, ".env", NULL, 0) == -1 ||
	    lstat(path, &sb) == 0 || errno != ENOENT)
		return 1;
	return 0;
}

/* Pick a fresh ID and create tmp/ID.msg. */
static int
q_msg_create(struct queue_msg *m, char *err, size_t errlen)
{
	int	i;

	for (i = 0; i < Q_ID_TRIES; i++) {
		if (q_make_id(m->id, sizeof(m->id)) == -1)
			return fsu_syserr(err, errlen, m->q->tmp, "new queue ID");
		if (q_path(m->path, sizeof(m->path), m->q->tmp, m->id, ".msg",
		    err, errlen) == -1)
			return -1;
		m->fd = open(m->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (m->fd == -1 && errno == EEXIST)
			continue;
		if (m->fd == -1)
			return fsu_syserr(err, errlen, m->path, "open");
		if (!q_id_taken(m->q, m->id))
			return 0;
		/* Nothing written yet: dropping it is all there is to do. */
		(void)close(m->fd);
		q_unlink_quiet(m->path);
		m->fd = -1;
	}
	m->path[0] = '\0';
	return fsu_err(err, errlen, "%s: no free queue ID after %d tries",
	    m->q->tmp, Q_ID_TRIES);
}

struct queue_msg *
queue_msg_new(struct queue *q, char *err, size_t errlen)
{
	struct queue_msg *m;

	if ((m = malloc(sizeof(*m))) == NULL) {
		(void)fsu_err(err, errlen, "%s: out of memory", q->tmp);
		return NULL;
	}
	m->q = q;
	m->fd = -1;
	m->failed = 0;
	m->size = 0;
	m->blen = 0;
	if (q_msg_create(m, err, errlen) == -1) {
		free(m);
		return NULL;
	}
	return m;
}

const char *
queue_msg_id(const struct queue_msg *m)
{
	return m->id;
}

uint64_t
queue_msg_size(const struct queue_msg *m)
{
	return m->size;
}

static int
q_msg_flush(struct queue_msg *m, char *err, size_t errlen)
{
	if (m->blen > 0 && q_write_all(m->fd, m->buf, m->blen) == -1) {
		m->failed = 1;
		return fsu_syserr(err, errlen, m->path, "write");
	}
	m->blen = 0;
	return 0;
}

int
queue_msg_write(struct queue_msg *m, const void *buf, size_t len,
    char *err, size_t errlen)
{
	if (m->failed)
		return fsu_err(err, errlen, "%s: an earlier write failed",
		    m->path);
	if (len == 0)
		return 0;
	if (m->blen + len > sizeof(m->buf) && q_msg_flush(m, err, errlen) == -1)
		return -1;
	if (len >= sizeof(m->buf)) {
		if (q_write_all(m->fd, buf, len) == -1) {
			m->failed = 1;
			return fsu_syserr(err, errlen, m->path, "write");
		}
	} else {
		memcpy(m->buf + m->blen, buf, len);
		m->blen += len;
	}
	m->size += len;
	return 0;
}

/* Drop a message; with remove, its file in tmp/ too. */
static void
q_msg_free(struct queue_msg *m, int remove)
{
	/* The data is thrown away: a close error changes nothing. */
	if (m->fd != -1)
		(void)close(m->fd);
	if (remove)
		q_unlink_quiet(m->path);
	free(m);
}

void
queue_msg_abort(struct queue_msg *m)
{
	if (m != NULL)
		q_msg_free(m, 1);
}

/* ------------------------------------------------------------------ */
/* formatting and checking an envelope					*/

static void
q_text_add(struct q_text *t, const char *fmt, ...)
{
	va_list	ap;
	size_t	need, cap;
	char	*p;
	int	n;

	if (t->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (need = t->len + (size_t)n + 1) > Q_ENV_MAX) {
		t->failed = 1;
		return;
	}
	for (cap = t->cap > 0 ? t->cap : 4096; cap < need; cap *= 2)
		continue;
	if (cap != t->cap) {
		if ((p = realloc(t->p, cap)) == NULL) {
			t->failed = 1;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	va_start(ap, fmt);
	(void)vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

const char *
queue_rcpt_state_str(enum queue_rcpt_state s)
{
	switch (s) {
	case QUEUE_RCPT_PENDING:
		return "pending";
	case QUEUE_RCPT_DELIVERED:
		return "delivered";
	case QUEUE_RCPT_FAILED:
		return "failed";
	}
	return NULL;
}

/* NULL if the char array s (of size bytes) may be written, else why not. */
static const char *
q_value_bad(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		return "too long";
	if (strpbrk(s, "\r\n") != NULL)
		return "contains CR or LF";
	return NULL;
}

/* 1 to 3 digits, then the terminator: where it stops, or NULL. */
static const char *
q_digits(const char *s, char end)
{
	size_t	n = strspn(s, "0123456789");

	return n >= 1 && n <= 3 && s[n] == end ? s + n + 1 : NULL;
}

/* "" or an RFC 3463 status code: class "." subject "." detail. */
static int
q_status_ok(const char *s)
{
	if (*s == '\0')
		return 1;
	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	return (s = q_digits(s + 2, '.')) != NULL &&
	    q_digits(s, '\0') != NULL;
}

/* "" or printable ASCII without spaces (it is one token of a line). */
static int
q_host_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < '!' || *s > '~')
			return 0;
	return 1;
}

static int
q_rcpt_check(const struct queue_rcpt *r, size_t n, const char *path,
    char *err, size_t errlen)
{
	const char *why;

	if (queue_rcpt_state_str(r->state) == NULL)
		return fsu_err(err, errlen, "%s: rcpt %zu: bad state", path, n);
	if (r->attempts < 0 || r->next_try < 0)
		return fsu_err(err, errlen, "%s: rcpt %zu: negative attempts or "
		    "next", path, n);
	if ((why = q_value_bad(r->addr, sizeof(r->addr))) != NULL)
		return fsu_err(err, errlen, "%s: rcpt %zu: addr %s", path, n,
		    why);
	if (r->addr[0] == '\0' || strstr(r->addr, Q_REPLY_SEP) != NULL)
		return fsu_err(err, errlen, "%s: rcpt %zu: addr empty or holds "
		    "\"" Q_REPLY_SEP "\"", path, n);
	if ((why = q_value_bad(r->last_reply, sizeof(r->last_reply))) != NULL)
		return fsu_err(err, errlen, "%s: rcpt %zu: reply %s", path, n,
		    why);
	if (r->last_try < 0)
		return fsu_err(err, errlen, "%s: rcpt %zu: negative last", path,
		    n);
	if (memchr(r->status, '\0', sizeof(r->status)) == NULL ||
	    !q_status_ok(r->status))
		return fsu_err(err, errlen, "%s: rcpt %zu: bad status", path,
		    n);
	if (memchr(r->remote, '\0', sizeof(r->remote)) == NULL ||
	    !q_host_ok(r->remote))
		return fsu_err(err, errlen, "%s: rcpt %zu: bad remote", path,
		    n);
	return 0;
}

/* Refuse, on save, what the loader would refuse. */
static int
q_env_check(const struct queue_env *env, const char *path, char *err,
    size_t errlen)
{
	const char *why;
	size_t	i;

	if (memchr(env->id, '\0', sizeof(env->id)) == NULL ||
	    !q_id_ok(env->id))
		return fsu_err(err, errlen, "%s: bad queue ID", path);
	if (env->arrival < 0)
		return fsu_err(err, errlen, "%s: negative arrival", path);
	if ((why = q_value_bad(env->sender, sizeof(env->sender))) != NULL)
		return fsu_err(err, errlen, "%s: sender %s", path, why);
	if ((why = q_value_bad(env->client, sizeof(env->client))) != NULL)
		return fsu_err(err, errlen, "%s: client %s", path, why);
	if ((why = q_value_bad(env->helo, sizeof(env->helo))) != NULL)
		return fsu_err(err, errlen, "%s: helo %s", path, why);
	if (env->nrcpt == 0 || env->nrcpt > QUEUE_RCPT_MAX ||
	    env->rcpt == NULL)
		return fsu_err(err, errlen, "%s: %zu recipients (1 to %d)", path,
		    env->nrcpt, QUEUE_RCPT_MAX);
	for (i = 0; i < env->nrcpt; i++)
		if (q_rcpt_check(&env->rcpt[i], i + 1, path, err, errlen) == -1)
			return -1;
	return 0;
}

static int
q_env_format(const struct queue_env *env, const char *path,
    struct q_text *t, char *err, size_t errlen)
{
	const struct queue_rcpt *r;
	size_t	i;

	if (q_env_check(env, path, err, errlen) == -1)
		return -1;
	q_text_add(t, Q_VERSION_KEY "%d\nid %s\narrival %" PRId64 "\n"
	    "sender %s\nclient %s\nhelo %s\nbody %s\nsmtputf8 %d\n"
	    "warned %d\n", Q_VERSION, env->id, env->arrival, env->sender,
	    env->client, env->helo, env->body_8bit ? "8bit" : "7bit",
	    env->smtputf8 != 0, env->warned != 0);
	for (i = 0; i < env->nrcpt; i++) {
		r = &env->rcpt[i];
		q_text_add(t, "rcpt state=%s local=%d attempts=%d next=%"
		    PRId64 " last=%" PRId64 " status=%s remote=%s addr=%s"
		    Q_REPLY_SEP "%s\n", queue_rcpt_state_str(r->state), r->local != 0,
		    r->attempts, r->next_try, r->last_try, r->status, r->remote,
		    r->addr, r->last_reply);
	}
	if (t->failed)
		return fsu_err(err, errlen, "%s: out of memory", path);
	return 0;
}

/* ------------------------------------------------------------------ */
/* commit, save								*/

static int
q_msg_sync(struct queue_msg *m, char *err, size_t errlen)
{
	int	fd;

	if (m->failed)
		return fsu_err(err, errlen, "%s: an earlier write failed",
		    m->path);
	if (q_msg_flush(m, err, errlen) == -1)
		return -1;
	if (fsync(m->fd) == -1)
		return fsu_syserr(err, errlen, m->path, "fsync");
	fd = m->fd;
	m->fd = -1;
	if (close(fd) == -1)
		return fsu_syserr(err, errlen, m->path, "close");
	return 0;
}

/*
 * Message first, envelope second: at every instant queue/ holds no
 * envelope without its message.  Undone on failure.
 */
static int
q_publish(struct queue_msg *m, const char *tenv, char *err, size_t errlen)
{
	const struct queue *q = m->q;
	char	qmsg[Q_PATH_MAX], qenv[Q_PATH_MAX];

	if (q_path(qmsg, sizeof(qmsg), q->dir, m->id, ".msg", err,
	    errlen) == -1 ||
	    q_path(qenv, sizeof(qenv), q->dir, m->id, ".env", err,
	    errlen) == -1)
		return -1;
	if (rename(m->path, qmsg) == -1)
		return fsu_syserr(err, errlen, qmsg, "rename");
	if (rename(tenv, qenv) == -1) {
		(void)fsu_syserr(err, errlen, qenv, "rename");
		q_unlink_quiet(qmsg);
		return -1;
	}
	if (fsu_fsync_dir(q->dir, err, errlen) == -1) {
		q_unlink_quiet(qenv);
		q_unlink_quiet(qmsg);
		return -1;
	}
	return 0;
}

int
queue_msg_commit(struct queue_msg *m, struct queue_env *env, char *err,
    size_t errlen)
{
	struct q_text t = { NULL, 0, 0, 0 };
	char	tenv[Q_PATH_MAX];
	int	rc = -1;

	memcpy(env->id, m->id, sizeof(env->id));
	if (q_path(tenv, sizeof(tenv), m->q->tmp, m->id, ".env", err,
	    errlen) == 0 &&
	    q_env_format(env, tenv, &t, err, errlen) == 0 &&
	    q_msg_sync(m, err, errlen) == 0 &&
	    q_write_file(tenv, t.p, t.len, O_EXCL, err, errlen) == 0 &&
	    q_publish(m, tenv, err, errlen) == 0)
		rc = 0;
	free(t.p);
	if (rc == -1)
		q_unlink_quiet(tenv);
	q_msg_free(m, rc == -1);
	return rc;
}

int
queue_env_save(struct queue *q, const struct queue_env *env, char *err,
    size_t errlen)
{
	struct q_text t = { NULL, 0, 0, 0 };
	char	tenv[Q_PATH_MAX], qenv[Q_PATH_MAX], qmsg[Q_PATH_MAX];
	struct stat sb;
	int	rc = -1;

	if (memchr(env->id, '\0', sizeof(env->id)) == NULL ||
	    !q_id_ok(env->id))
		return fsu_err(err, errlen, "%s: bad queue ID", q->dir);
	if (q_path(tenv, sizeof(tenv), q->tmp, env->id, ".env", err,
	    errlen) == -1 ||
	    q_path(qenv, sizeof(qenv), q->dir, env->id, ".env", err,
	    errlen) == -1 ||
	    q_path(qmsg, sizeof(qmsg), q->dir, env->id, ".msg", err,
	    errlen) == -1)
		return -1;
	/* Never an envelope without its message. */
	if (lstat(qmsg, &sb) == -1)
		return fsu_syserr(err, errlen, qmsg, "lstat");
	if (q_env_format(env, qenv, &t, err, errlen) == 0 &&
	    q_write_file(tenv, t.p, t.len, O_TRUNC, err, errlen) == 0) {
		if (rename(tenv, qenv) == -1)
			(void)fsu_syserr(err, errlen, qenv, "rename");
		else if (fsu_fsync_dir(q->dir, err, errlen) == 0)
			rc = 0;
	}
	free(t.p);
	if (rc == -1)
		q_unlink_quiet(tenv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* loading an envelope							*/

/* A decimal number 0..max, digits only. */
static int
q_parse_num(const char *s, int64_t max, int64_t *out)
{
	int64_t	v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

static int
q_parse_flag(const char *s, const char *zero, const char *one, int *out)
{
	if (strcmp(s, zero) == 0)
		*out = 0;
	else if (strcmp(s, one) == 0)
		*out = 1;
	else
		return -1;
	return 0;
}

static int
q_parse_text(struct q_parse *ps, const char *key, const char *val,
    char *dst, size_t size)
{
	size_t	len = strlen(val);

	if (len >= size)
		return q_perr(ps, "%s too long", key);
	memcpy(dst, val, len + 1);
	return 0;
}

static int
q_parse_field(struct q_parse *ps, struct queue_env *env, size_t key,
    const char *val)
{
	switch (key) {
	case 0:
		if (!q_id_ok(val) || strcmp(val, ps->id) != 0)
			return q_perr(ps, "bad id (not the file's)");
		memcpy(env->id, val, sizeof(env->id));
		return 0;
	case 1:
		return q_parse_num(val, INT64_MAX, &env->arrival) == 0 ? 0 :
		    q_perr(ps, "bad arrival");
	case 2:
		return q_parse_text(ps, "sender", val, env->sender,
		    sizeof(env->sender));
	case 3:
		return q_parse_text(ps, "client", val, env->client,
		    sizeof(env->client));
	case 4:
		return q_parse_text(ps, "helo", val, env->helo,
		    sizeof(env->helo));
	case 5:
		return q_parse_flag(val, "7bit", "8bit", &env->body_8bit) == 0 ?
		    0 : q_perr(ps, "bad body");
	case 6:
		return q_parse_flag(val, "0", "1", &env->smtputf8) == 0 ? 0 :
		    q_perr(ps, "bad smtputf8");
	}
	return q_parse_flag(val, "0", "1", &env->warned) == 0 ? 0 :
	    q_perr(ps, "bad warned");
}

/* The value of "KEY=VALUE " at *s; *s moves past it. */
static char *
q_tok(char **s, const char *key)
{
	size_t	klen = strlen(key);
	char	*v, *sp;

	if (strncmp(*s, key, klen) != 0 || (*s)[klen] != '=')
		return NULL;
	v = *s + klen + 1;
	if ((sp = strchr(v, ' ')) == NULL)
		return NULL;
	*sp = '\0';
	*s = sp + 1;
	return v;
}

static int
q_parse_rcpt_nums(struct q_parse *ps, struct queue_rcpt *r, char **s)
{
	const char *v;
	int64_t	n;
	int	st;

	if ((v = q_tok(s, "state")) == NULL)
		return q_perr(ps, "bad rcpt state");
	for (st = QUEUE_RCPT_PENDING; st <= QUEUE_RCPT_FAILED; st++)
		if (strcmp(v, queue_rcpt_state_str((enum queue_rcpt_state)st)) == 0)
			break;
	if (st > QUEUE_RCPT_FAILED)
		return q_perr(ps, "bad rcpt state");
	r->state = (enum queue_rcpt_state)st;
	if ((v = q_tok(s, "local")) == NULL ||
	    q_parse_flag(v, "0", "1", &r->local) == -1)
		return q_perr(ps, "bad rcpt local");
	if ((v = q_tok(s, "attempts")) == NULL ||
	    q_parse_num(v, INT_MAX, &n) == -1)
		return q_perr(ps, "bad rcpt attempts");
	r->attempts = (int)n;
	if ((v = q_tok(s, "next")) == NULL ||
	    q_parse_num(v, INT64_MAX, &r->next_try) == -1)
		return q_perr(ps, "bad rcpt next");
	return 0;
}

/* Version 2: "last=SECONDS status=CODE remote=HOST " at *s. */
static int
q_parse_rcpt_last(struct q_parse *ps, struct queue_rcpt *r, char **s)
{
	const char *v;

	if ((v = q_tok(s, "last")) == NULL ||
	    q_parse_num(v, INT64_MAX, &r->last_try) == -1)
		return q_perr(ps, "bad rcpt last");
	if ((v = q_tok(s, "status")) == NULL || !q_status_ok(v) ||
	    strlen(v) >= sizeof(r->status))
		return q_perr(ps, "bad rcpt status");
	memcpy(r->status, v, strlen(v) + 1);
	if ((v = q_tok(s, "remote")) == NULL || !q_host_ok(v))
		return q_perr(ps, "bad rcpt remote");
	return q_parse_text(ps, "rcpt remote", v, r->remote,
	    sizeof(r->remote));
}

static int
q_parse_rcpt(struct q_parse *ps, struct queue_env *env, char *s)
{
	struct queue_rcpt *r;
	char	*sep;

	if (env->nrcpt >= QUEUE_RCPT_MAX || env->nrcpt >= ps->cap)
		return q_perr(ps, "too many recipients (max %d)",
		    QUEUE_RCPT_MAX);
	r = &env->rcpt[env->nrcpt];
	memset(r, 0, sizeof(*r));
	if (q_parse_rcpt_nums(ps, r, &s) == -1 ||
	    (ps->version >= 2 && q_parse_rcpt_last(ps, r, &s) == -1))
		return -1;
	if (strncmp(s, "addr=", 5) != 0 ||
	    (sep = strstr(s, Q_REPLY_SEP)) == NULL || sep == s + 5)
		return q_perr(ps, "bad rcpt addr");
	*sep = '\0';
	if (q_parse_text(ps, "rcpt addr", s + 5, r->addr,
	    sizeof(r->addr)) == -1 ||
	    q_parse_text(ps, "rcpt reply", sep + strlen(Q_REPLY_SEP),
	    r->last_reply, sizeof(r->last_reply)) == -1)
		return -1;
	env->nrcpt++;
	return 0;
}

static int
q_key_known(const char *key)
{
	size_t	i;

	for (i = 0; i < Q_NKEYS; i++)
		if (strcmp(key, q_keys[i]) == 0)
			return 1;
	return strcmp(key, "rcpt") == 0;
}

/* "pinpost-env N" for a version this loader knows. */
static int
q_parse_version(struct q_parse *ps, const char *line)
{
	if (strcmp(line, Q_VERSION_KEY "1") == 0) {
		ps->version = 1;
		ps->nkeys = Q_NKEYS_V1;
	} else if (strcmp(line, Q_VERSION_KEY "2") == 0) {
		ps->version = 2;
		ps->nkeys = Q_NKEYS;
	} else if (strncmp(line, Q_VERSION_KEY, strlen(Q_VERSION_KEY)) == 0)
		return q_perr(ps, "unsupported version");
	else
		return q_perr(ps, "not a pinpost envelope");
	return 0;
}

/* Line ps->lineno (NUL-terminated, no CR or NUL inside). */
static int
q_parse_line(struct q_parse *ps, struct queue_env *env, char *line)
{
	size_t	idx = ps->lineno - 1;
	char	*val;

	if (idx == 0)
		return q_parse_version(ps, line);
	if ((val = strchr(line, ' ')) == NULL)
		return q_perr(ps, "bad line (no \"key value\")");
	*val++ = '\0';
	if (idx <= ps->nkeys && strcmp(line, q_keys[idx - 1]) == 0)
		return q_parse_field(ps, env, idx - 1, val);
	if (idx > ps->nkeys && strcmp(line, "rcpt") == 0)
		return q_parse_rcpt(ps, env, val);
	if (!q_key_known(line))
		return q_perr(ps, "unknown key '%.32s'", line);
	if (idx <= ps->nkeys)
		return q_perr(ps, "expected '%s', got '%s'", q_keys[idx - 1],
		    line);
	return q_perr(ps, "unexpected '%s'", line);
}

static int
q_parse_env(struct q_parse *ps, char *buf, size_t len, struct queue_env *env)
{
	char	*p = buf, *end = buf + len, *nl;
	size_t	 n;

	if (len == 0)
		return fsu_err(ps->err, ps->errlen, "%s: empty file", ps->path);
	for (ps->lineno = 1; p < end; ps->lineno++, p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return q_perr(ps, "no newline at end of file");
		n = (size_t)(nl - p);
		if (n > Q_LINE_MAX)
			return q_perr(ps, "line too long");
		if (memchr(p, '\0', n) != NULL || memchr(p, '\r', n) != NULL)
			return q_perr(ps, "CR or NUL in line");
		*nl = '\0';
		if (q_parse_line(ps, env, p) == -1)
			return -1;
	}
	if (ps->lineno <= ps->nkeys + 1)
		return q_perr(ps, "missing '%s'", q_keys[ps->lineno - 2]);
	if (env->nrcpt == 0)
		return q_perr(ps, "no recipients");
	return 0;
}

/* One recipient per line at most, and never more than the maximum. */
static int
q_alloc_rcpt(struct q_parse *ps, struct queue_env *env, const char *buf,
    size_t len)
{
	const char *p, *end = buf + len;
	size_t	n = 1;

	for (p = buf; n < QUEUE_RCPT_MAX &&
	    (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		n++;
	if ((env->rcpt = calloc(n, sizeof(*env->rcpt))) == NULL)
		return fsu_err(ps->err, ps->errlen, "%s: out of memory",
		    ps->path);
	ps->cap = n;
	return 0;
}

int
queue_env_load(struct queue *q, const char *id, struct queue_env *env,
    char *err, size_t errlen)
{
	struct q_parse ps;
	char	path[Q_PATH_MAX], *buf;
	size_t	len = 0;
	int	rc;

	memset(env, 0, sizeof(*env));
	if (!q_id_ok(id))
		return fsu_err(err, errlen, "%s: bad queue ID '%.32s'", q->dir,
		    id);
	if (q_path(path, sizeof(path), q->dir, id, ".env", err, errlen) == -1 ||
	    q_read_file(path, &buf, &len, err, errlen) == -1)
		return -1;
	memset(&ps, 0, sizeof(ps));
	ps.path = path;
	ps.id = id;
	ps.err = err;
	ps.errlen = errlen;
	rc = q_alloc_rcpt(&ps, env, buf, len);
	if (rc == 0)
		rc = q_parse_env(&ps, buf, len, env);
	free(buf);
	if (rc == -1) {
		queue_env_free(env);
		memset(env, 0, sizeof(*env));
	}
	return rc;
}

void
queue_env_free(struct queue_env *env)
{
	if (env == NULL)
		return;
	free(env->rcpt);
	env->rcpt = NULL;
	env->nrcpt = 0;
}

int
queue_env_add_rcpt(struct queue_env *env, const char *addr, int local)
{
	struct queue_rcpt *r;
	size_t	len = strlen(addr);

	if (env->nrcpt >= QUEUE_RCPT_MAX || len == 0 || len > QUEUE_ADDR_MAX)
		return -1;
	r = realloc(env->rcpt, (env->nrcpt + 1) * sizeof(*r));
	if (r == NULL)
		return -1;
	env->rcpt = r;
	r += env->nrcpt++;
	memset(r, 0, sizeof(*r));
	memcpy(r->addr, addr, len + 1);
	r->state = QUEUE_RCPT_PENDING;
	r->local = local != 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* paths, removal, listing						*/

int
queue_msg_path(const struct queue *q, const char *id, char *buf, size_t len)
{
	if (!q_id_ok(id))
		return -1;
	return q_path(buf, len, q->dir, id, ".msg", NULL, 0);
}

/*
 * Envelope first: a crash in between leaves an orphan, never a hole.
 * Not durable: a removal a crash undoes brings the message back, to be
 * delivered a second time, never lost (delivered mail is on disk at its
 * destination before it is removed here).
 */
int
queue_remove(struct queue *q, const char *id, int durable, char *err,
    size_t errlen)
{
	char	qenv[Q_PATH_MAX], qmsg[Q_PATH_MAX];

	if (!q_id_ok(id))
		return fsu_err(err, errlen, "%s: bad queue ID '%.32s'", q->dir,
		    id);
	if (q_path(qenv, sizeof(qenv), q->dir, id, ".env", err, errlen) == -1 ||
	    q_path(qmsg, sizeof(qmsg), q->dir, id, ".msg", err, errlen) == -1)
		return -1;
	if (unlink(qenv) == -1 && errno != ENOENT)
		return fsu_syserr(err, errlen, qenv, "unlink");
	if (unlink(qmsg) == -1 && errno != ENOENT)
		return fsu_syserr(err, errlen, qmsg, "unlink");
	return durable ? fsu_fsync_dir(q->dir, err, errlen) : 0;
}

static int
q_list_cb(const char *dir, int dfd, const char *name, void *arg, char *err,
    size_t errlen)
{
	struct q_ids *l = arg;
	char	id[QUEUE_ID_LEN + 1], **v;
	size_t	cap;

	(void)dfd;
	if (q_name_kind(name, id) != Q_ENV)
		return 0;
	if (l->n == l->cap) {
		cap = l->cap > 0 ? l->cap * 2 : 64;
		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return fsu_err(err, errlen, "%s: out of memory", dir);
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n] = strdup(id)) == NULL)
		return fsu_err(err, errlen, "%s: out of memory", dir);
	l->n++;
	return 0;
}

static int
q_id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
queue_list(struct queue *q, char ***ids, size_t *n, char *err, size_t errlen)
{
	struct q_ids l = { NULL, 0, 0 };

	*ids = NULL;
	*n = 0;
	if (q_walk(q->dir, q_list_cb, &l, err, errlen) == -1) {
		queue_list_free(l.v, l.n);
		return -1;
	}
	if (l.n > 0)
		qsort(l.v, l.n, sizeof(*l.v), q_id_cmp);
	*ids = l.v;
	*n = l.n;
	return 0;
}

void
queue_list_free(char **ids, size_t n)
{
	size_t	i;

	if (ids == NULL)
		return;
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}
