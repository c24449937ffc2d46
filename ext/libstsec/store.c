/*
 * store.c - the pin/policy store: one TDB file of host and domain records.
 *
 * FUNCTIONS
 *	stsec_store_open()	open, create, check (tdb_check, version key)
 *	stsec_store_close()
 *	stsec_store_path()
 *	stsec_store_get_host(), stsec_store_get_domain()
 *	stsec_store_put_host(), stsec_store_put_domain()
 *	stsec_store_forget_host(), stsec_store_forget_domain()
 *	stsec_store_update()	read-modify-write in one transaction
 *	stsec_store_walk()	every record, via tdb_traverse_read
 *
 * LAYOUT
 *	"pinpost/version" = "1"; "host/<name>" and "domain/<name>" hold
 *	records in the encoding of record.c, names as stsec_name_normalize()
 *	returns them.  Keys and the version value carry no NUL.  Every write
 *	is a transaction (TDB_DEFAULT: synced, never TDB_NOSYNC); tdb itself
 *	still honours a TDB_NO_FSYNC environment variable, which pinpost
 *	never sets.
 *
 * NOTES
 *	tdb is not thread-safe: one struct stsec_store per thread at most,
 *	used by that thread alone.  Its locks are fcntl locks, which belong
 *	to a process: open the store after fork(), never use a handle
 *	inherited across fork(), and never open one file twice in one
 *	process (tdb refuses: "already open in this process").
 *
 *	tdb takes no locks on a file it opened O_RDONLY: such a handle sees
 *	a transaction that another process is committing half-applied,
 *	and tdb_check() or a traverse then report damage that is not there
 *	(measured: most opens beside a busy writer failed).  So
 *	STSEC_STORE_RDONLY opens the file O_RDWR and this module refuses
 *	the writes; only when the file is not writable (EACCES, EPERM,
 *	EROFS) does it fall back to O_RDONLY, with that weakness.
 *
 *	tdb_open() with O_CREAT re-initialises any file whose header it
 *	does not recognise, which would silently wipe a damaged store.  So
 *	O_CREAT is passed only when the file is missing or empty.
 *	TDB_INCOMPATIBLE_HASH is passed only then too: on an existing file
 *	tdb picks the hash function from the header's magic hashes and the
 *	flag changes nothing.
 *
 *	A walk holds tdb's transaction lock in read mode: writers in other
 *	processes wait until it ends.  Callbacks of stsec_store_walk() and
 *	stsec_store_update() must not call the store.
 *
 * DIAGNOSTICS
 *	PATH: store is damaged (tdb_check failed); restore it from a
 *	    backup or an export
 *	PATH: not a tdb file, or it is damaged (tdb_open failed); restore
 *	    it from a backup or an export
 *	PATH: not a pinpost store (records but no "pinpost/version" key)
 *	PATH: store format version "V" unknown (this pinpost knows "1")
 *	PATH: store is open read-only
 *	PATH: key "K": <record decoding error>
 *	PATH: key "K": not a pinpost key | name not normalized
 *	PATH: update of host "N" cancelled by the caller
 *	PATH: <what>: <tdb_errorstr()>
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tdb.h>

#include "stsec.h"

#define VERSION_KEY	"pinpost/version"
#define STORE_VERSION	"1"
#define KEY_MAX		(sizeof("domain/") - 1 + STSEC_NAME_MAX)
#define SHOWN_MAX	80	/* key or value shown in a message */
#define STORE_FLAGS	(STSEC_STORE_CREATE | STSEC_STORE_RDONLY)

struct stsec_store {
	struct tdb_context *tdb;
	int		 flags;
	char		*path;
};

struct skey {
	char		 buf[KEY_MAX + 1];
	TDB_DATA	 d;
};

union anyrec {
	struct stsec_host_rec	host;
	struct stsec_domain_rec	domain;
};

static const char *const kind_prefix[] = {
	[STSEC_STORE_HOST] = "host/",
	[STSEC_STORE_DOMAIN] = "domain/",
};

/* ------------------------------------------------------------------ */
/* small helpers							*/

static TDB_DATA
tdata(const void *p, size_t n)
{
	TDB_DATA d;

	d.dptr = (unsigned char *)(uintptr_t)p;
	d.dsize = n;
	return d;
}

/* A printable, bounded copy of octets for a message. */
static void
shown(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	size_t	i;

	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	out[i] = '\0';
}

static int
tdb_fail(const struct stsec_store *st, const char *what,
    struct stsec_error *err)
{
	return stsec_error_set(err, "%s: %s: %s", st->path, what,
	    tdb_errorstr(st->tdb));
}

static int
key_error(const struct stsec_store *st, TDB_DATA key, const char *why,
    struct stsec_error *err)
{
	char	k[SHOWN_MAX + 1];

	shown(key.dptr, key.dsize, k, sizeof(k));
	return stsec_error_set(err, "%s: key \"%s\": %s", st->path, k, why);
}

static int
store_key(enum stsec_store_kind kind, const char *name, struct skey *k,
    struct stsec_error *err)
{
	char	norm[STSEC_NAME_MAX + 1];
	int	n;

	if (stsec_name_normalize(name, norm, sizeof(norm), err) == -1)
		return -1;
	n = snprintf(k->buf, sizeof(k->buf), "%s%s", kind_prefix[kind], norm);
	if (n < 0 || (size_t)n >= sizeof(k->buf))
		return stsec_error_set(err, "key for \"%s\" too long", norm);
	k->d = tdata(k->buf, (size_t)n);
	return 0;
}

static int
store_writable(const struct stsec_store *st, struct stsec_error *err)
{
	if (st->flags & STSEC_STORE_RDONLY)
		return stsec_error_set(err, "%s: store is open read-only",
		    st->path);
	return 0;
}

/* ------------------------------------------------------------------ */
/* transactions								*/

static int
store_begin(struct stsec_store *st, struct stsec_error *err)
{
	if (tdb_transaction_start(st->tdb) == -1)
		return tdb_fail(st, "transaction start", err);
	return 0;
}

static int
store_commit(struct stsec_store *st, struct stsec_error *err)
{
	if (tdb_transaction_commit(st->tdb) == -1)
		return tdb_fail(st, "transaction commit", err);
	return 0;
}

/*
 * The end of every error path inside a transaction.  A failed commit
 * may already have cancelled it.  A failed cancel is not reported: the
 * first error is the one that matters, and tdb_close() cancels too.
 */
static void
store_cancel(struct stsec_store *st)
{
	if (tdb_transaction_active(st->tdb))
		(void)tdb_transaction_cancel(st->tdb);
}

/* ------------------------------------------------------------------ */
/* records in and out							*/

static int
rec_decode(enum stsec_store_kind kind, TDB_DATA val, union anyrec *rec,
    struct stsec_error *err)
{
	if (kind == STSEC_STORE_HOST)
		return stsec_record_decode_host(val.dptr, val.dsize,
		    &rec->host, err);
	return stsec_record_decode_domain(val.dptr, val.dsize, &rec->domain,
	    err);
}

/* 1 found, 0 not found, -1 error; rec is zeroed when not found. */
static int
store_fetch(struct stsec_store *st, enum stsec_store_kind kind,
    const struct skey *k, union anyrec *rec, struct stsec_error *err)
{
	struct stsec_error e;
	TDB_DATA	val;
	int		r;

	memset(rec, 0, sizeof(*rec));
	val = tdb_fetch(st->tdb, k->d);
	if (val.dptr == NULL) {
		if (tdb_error(st->tdb) == TDB_ERR_NOEXIST)
			return 0;
		return tdb_fail(st, k->buf, err);
	}
	r = rec_decode(kind, val, rec, &e);
	free(val.dptr);
	if (r == -1) {
		memset(rec, 0, sizeof(*rec));
		return key_error(st, k->d, e.msg, err);
	}
	return 1;
}

/* Inside a transaction. */
static int
store_write(struct stsec_store *st, enum stsec_store_kind kind,
    const struct skey *k, const void *rec, struct stsec_error *err)
{
	unsigned char	buf[STSEC_HOST_REC_MAX > STSEC_DOMAIN_REC_MAX ?
			    STSEC_HOST_REC_MAX : STSEC_DOMAIN_REC_MAX];
	int		n;

	if (kind == STSEC_STORE_HOST)
		n = stsec_record_encode_host(rec, buf, sizeof(buf), err);
	else
		n = stsec_record_encode_domain(rec, buf, sizeof(buf), err);
	if (n == -1)
		return -1;
	if (tdb_store(st->tdb, k->d, tdata(buf, (size_t)n), TDB_REPLACE) == -1)
		return tdb_fail(st, k->buf, err);
	return 0;
}

/* Inside a transaction: 1 removed, 0 was not there, -1 error. */
static int
store_delete(struct stsec_store *st, const struct skey *k,
    struct stsec_error *err)
{
	if (tdb_delete(st->tdb, k->d) == 0)
		return 1;
	if (tdb_error(st->tdb) == TDB_ERR_NOEXIST)
		return 0;
	return tdb_fail(st, k->buf, err);
}

/* ------------------------------------------------------------------ */
/* open and close							*/

static int
errno_error(const char *path, int e, struct stsec_error *err)
{
	char	buf[128];

	if (strerror_r(e, buf, sizeof(buf)) != 0)
		(void)snprintf(buf, sizeof(buf), "error %d", e);
	return stsec_error_set(err, "%s: cannot open store: %s", path, buf);
}

/*
 * 1 when the file is missing (safe to let tdb create it), 0 when it
 * exists.  An empty file is refused: it is a store that lost everything,
 * and starting over in silence would forget every pin.
 */
static int
store_creatable(const char *path, struct stsec_error *err)
{
	struct stat sb;

	if (stat(path, &sb) == 0) {
		if (sb.st_size == 0)
			return stsec_error_set(err, "%s: empty file, not a "
			    "store; restore it from a backup or an export, "
			    "or remove it to start a new store", path);
		return 0;
	}
	if (errno == ENOENT)
		return 1;
	return errno_error(path, errno, err);
}

static int
open_error(const char *path, int e, struct stsec_error *err)
{
	if (e == EIO || e == EINVAL || e == 0)
		return stsec_error_set(err, "%s: not a tdb file, or it is "
		    "damaged (tdb_open failed); restore it from a backup or "
		    "an export", path);
	if (e == EBUSY)
		return stsec_error_set(err, "%s: already open in this "
		    "process", path);
	return errno_error(path, e, err);
}

static struct tdb_context *
open_tdb(const char *path, int tflags, int oflags)
{
	errno = 0;
	return tdb_open(path, 0, tflags, oflags, 0600);
}

/*
 * RDONLY still opens O_RDWR when it may, for tdb's locks (see NOTES);
 * this module refuses the writes.
 */
static int
store_open_tdb(struct stsec_store *st, struct stsec_error *err)
{
	/*
	 * No mmap: tdb writes through its map, and a store that turns
	 * read-only under us (chattr, a file system remounted after an I/O
	 * error) would be a SIGBUS instead of an error we can defer on.
	 */
	int	tflags = TDB_DEFAULT | TDB_DISALLOW_NESTING | TDB_NOMMAP;
	int	oflags = O_RDWR, r;

	if (st->flags & STSEC_STORE_CREATE) {
		if ((r = store_creatable(st->path, err)) == -1)
			return -1;
		if (r == 1) {
			oflags |= O_CREAT;
			tflags |= TDB_INCOMPATIBLE_HASH;
		}
	}
	st->tdb = open_tdb(st->path, tflags, oflags);
	if (st->tdb == NULL && (st->flags & STSEC_STORE_RDONLY) &&
	    (errno == EACCES || errno == EPERM || errno == EROFS))
		st->tdb = open_tdb(st->path, tflags, O_RDONLY);
	if (st->tdb == NULL)
		return open_error(st->path, errno, err);
	if (tdb_check(st->tdb, NULL, NULL) == -1)
		return stsec_error_set(err, "%s: store is damaged (tdb_check "
		    "failed); restore it from a backup or an export",
		    st->path);
	return 0;
}

/* 1 right version, 0 no version key, -1 error or another version. */
static int
version_read(struct stsec_store *st, struct stsec_error *err)
{
	char	v[SHOWN_MAX + 1];
	TDB_DATA val;
	int	ok;

	val = tdb_fetch(st->tdb, tdata(VERSION_KEY, strlen(VERSION_KEY)));
	if (val.dptr == NULL) {
		if (tdb_error(st->tdb) == TDB_ERR_NOEXIST)
			return 0;
		return tdb_fail(st, VERSION_KEY, err);
	}
	ok = val.dsize == strlen(STORE_VERSION) &&
	    memcmp(val.dptr, STORE_VERSION, val.dsize) == 0;
	shown(val.dptr, val.dsize, v, sizeof(v));
	free(val.dptr);
	if (!ok)
		return stsec_error_set(err, "%s: store format version \"%s\" "
		    "unknown (this pinpost knows \"%s\")", st->path, v,
		    STORE_VERSION);
	return 1;
}

static int
first_cb(struct tdb_context *tdb, TDB_DATA key, TDB_DATA val, void *arg)
{
	(void)tdb;
	(void)key;
	(void)val;
	(void)arg;
	return 1;	/* one record is enough */
}

/* 1 empty, 0 has records, -1 error. */
static int
store_empty(struct stsec_store *st, struct stsec_error *err)
{
	int	n;

	if ((n = tdb_traverse_read(st->tdb, first_cb, NULL)) == -1)
		return tdb_fail(st, "traverse", err);
	return n == 0;
}

/* A new file gets the version key; another process may race us to it. */
static int
version_init(struct stsec_store *st, struct stsec_error *err)
{
	TDB_DATA k = tdata(VERSION_KEY, strlen(VERSION_KEY));
	int	r;

	if (store_begin(st, err) == -1)
		return -1;
	if ((r = version_read(st, err)) == -1)
		goto cancel;
	if (r == 0 && tdb_store(st->tdb, k, tdata(STORE_VERSION,
	    strlen(STORE_VERSION)), TDB_INSERT) == -1) {
		(void)tdb_fail(st, VERSION_KEY, err);
		goto cancel;
	}
	if (store_commit(st, err) == -1)
		goto cancel;
	return 0;
cancel:
	store_cancel(st);
	return -1;
}

static int
store_version(struct stsec_store *st, struct stsec_error *err)
{
	int	r;

	if ((r = version_read(st, err)) != 0)
		return r == 1 ? 0 : -1;
	if ((r = store_empty(st, err)) == -1)
		return -1;
	if (r == 0)
		return stsec_error_set(err, "%s: not a pinpost store (records "
		    "but no \"%s\" key)", st->path, VERSION_KEY);
	if (st->flags & STSEC_STORE_RDONLY)
		return 0;	/* empty: nothing to misread */
	return version_init(st, err);
}

static struct stsec_store *
store_new(const char *path, int flags, struct stsec_error *err)
{
	struct stsec_store *st;
	size_t	len;

	if (path == NULL || (len = strnlen(path, PATH_MAX)) == 0 ||
	    len >= PATH_MAX) {
		(void)stsec_error_set(err, "store: bad path");
		return NULL;
	}
	if ((flags & ~STORE_FLAGS) != 0 || flags == STORE_FLAGS) {
		(void)stsec_error_set(err, "%s: bad store flags 0x%x", path,
		    flags);
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(path)) == NULL) {
		free(st);
		(void)stsec_error_set(err, "%s: out of memory", path);
		return NULL;
	}
	st->flags = flags;
	return st;
}

struct stsec_store *
stsec_store_open(const char *path, int flags, struct stsec_error *err)
{
	struct stsec_store *st;

	if ((st = store_new(path, flags, err)) == NULL)
		return NULL;
	if (store_open_tdb(st, err) == -1 || store_version(st, err) == -1) {
		stsec_store_close(st);
		return NULL;
	}
	return st;
}

/*
 * Every write was committed (and synced) by its transaction, so a
 * failing close loses nothing and has no one to tell.
 */
void
stsec_store_close(struct stsec_store *st)
{
	if (st == NULL)
		return;
	if (st->tdb != NULL)
		(void)tdb_close(st->tdb);
	free(st->path);
	free(st);
}

const char *
stsec_store_path(const struct stsec_store *st)
{
	return st->path;
}

/* ------------------------------------------------------------------ */
/* get, put, forget							*/

static int
store_get(struct stsec_store *st, enum stsec_store_kind kind,
    const char *name, union anyrec *rec, struct stsec_error *err)
{
	struct skey k;

	if (store_key(kind, name, &k, err) == -1)
		return -1;
	return store_fetch(st, kind, &k, rec, err);
}

int
stsec_store_get_host(struct stsec_store *st, const char *name,
    struct stsec_host_rec *out, struct stsec_error *err)
{
	union anyrec rec;
	int	r;

	if ((r = store_get(st, STSEC_STORE_HOST, name, &rec, err)) == 1)
		*out = rec.host;
	return r;
}

int
stsec_store_get_domain(struct stsec_store *st, const char *name,
    struct stsec_domain_rec *out, struct stsec_error *err)
{
	union anyrec rec;
	int	r;

	if ((r = store_get(st, STSEC_STORE_DOMAIN, name, &rec, err)) == 1)
		*out = rec.domain;
	return r;
}

static int
store_put(struct stsec_store *st, enum stsec_store_kind kind,
    const char *name, const void *rec, struct stsec_error *err)
{
	struct skey k;

	if (store_writable(st, err) == -1 ||
	    store_key(kind, name, &k, err) == -1)
		return -1;
	if (store_begin(st, err) == -1)
		return -1;
	if (store_write(st, kind, &k, rec, err) == -1)
		goto cancel;
	if (store_commit(st, err) == -1)
		goto cancel;
	return 0;
cancel:
	store_cancel(st);
	return -1;
}

int
stsec_store_put_host(struct stsec_store *st, const char *name,
    const struct stsec_host_rec *r, struct stsec_error *err)
{
	return store_put(st, STSEC_STORE_HOST, name, r, err);
}

int
stsec_store_put_domain(struct stsec_store *st, const char *name,
    const struct stsec_domain_rec *r, struct stsec_error *err)
{
	return store_put(st, STSEC_STORE_DOMAIN, name, r, err);
}

static int
store_forget(struct stsec_store *st, enum stsec_store_kind kind,
    const char *name, struct stsec_error *err)
{
	struct skey k;
	int	r;

	if (store_writable(st, err) == -1 ||
	    store_key(kind, name, &k, err) == -1)
		return -1;
	if (store_begin(st, err) == -1)
		return -1;
	if ((r = store_delete(st, &k, err)) == -1)
		goto cancel;
	if (store_commit(st, err) == -1)
		goto cancel;
	return r;
cancel:
	store_cancel(st);
	return -1;
}

int
stsec_store_forget_host(struct stsec_store *st, const char *name,
    struct stsec_error *err)
{
	return store_forget(st, STSEC_STORE_HOST, name, err);
}

int
stsec_store_forget_domain(struct stsec_store *st, const char *name,
    struct stsec_error *err)
{
	return store_forget(st, STSEC_STORE_DOMAIN, name, err);
}

/* ------------------------------------------------------------------ */
/* update								*/

#define WRITE_MASK	(STSEC_STORE_WRITE_HOST | STSEC_STORE_WRITE_DOMAIN | \
			 STSEC_STORE_DELETE_DOMAIN)
#define DOMAIN_MASK	(STSEC_STORE_WRITE_DOMAIN | STSEC_STORE_DELETE_DOMAIN)

struct update {
	struct skey	hkey, dkey;
	int		has_domain;
	union anyrec	host, domain;
	int		host_found, domain_found;
};

static int
update_fetch(struct stsec_store *st, struct update *u,
    struct stsec_error *err)
{
	u->host_found = store_fetch(st, STSEC_STORE_HOST, &u->hkey, &u->host,
	    err);
	if (u->host_found == -1)
		return -1;
	if (!u->has_domain)
		return 0;
	u->domain_found = store_fetch(st, STSEC_STORE_DOMAIN, &u->dkey,
	    &u->domain, err);
	return u->domain_found == -1 ? -1 : 0;
}

static int
update_write(struct stsec_store *st, struct update *u, int mask,
    struct stsec_error *err)
{
	if ((mask & ~WRITE_MASK) != 0 || (mask & DOMAIN_MASK) == DOMAIN_MASK ||
	    ((mask & DOMAIN_MASK) != 0 && !u->has_domain))
		return stsec_error_set(err, "%s: update of host \"%s\": bad "
		    "write mask 0x%x", st->path, u->hkey.buf, mask);
	if ((mask & STSEC_STORE_WRITE_HOST) &&
	    store_write(st, STSEC_STORE_HOST, &u->hkey, &u->host, err) == -1)
		return -1;
	if ((mask & STSEC_STORE_WRITE_DOMAIN) && store_write(st,
	    STSEC_STORE_DOMAIN, &u->dkey, &u->domain, err) == -1)
		return -1;
	if ((mask & STSEC_STORE_DELETE_DOMAIN) &&
	    store_delete(st, &u->dkey, err) == -1)
		return -1;
	return 0;
}

/*
 * Returns 0 once committed, -1 on an error or when fn cancelled (then
 * nothing was written).
 */
int
stsec_store_update(struct stsec_store *st, const char *host,
    const char *domain, stsec_store_update_fn *fn, void *arg,
    struct stsec_error *err)
{
	struct update u;
	int	mask;

	memset(&u, 0, sizeof(u));
	u.has_domain = domain != NULL;
	if (fn == NULL)
		return stsec_error_set(err, "%s: update without a function",
		    st->path);
	if (store_writable(st, err) == -1 ||
	    store_key(STSEC_STORE_HOST, host, &u.hkey, err) == -1 ||
	    (u.has_domain &&
	    store_key(STSEC_STORE_DOMAIN, domain, &u.dkey, err) == -1))
		return -1;
	if (store_begin(st, err) == -1)
		return -1;
	if (update_fetch(st, &u, err) == -1)
		goto cancel;
	mask = fn(&u.host.host, u.host_found, u.has_domain ?
	    &u.domain.domain : NULL, u.domain_found, arg);
	if (mask == -1) {
		(void)stsec_error_set(err, "%s: update of host \"%s\" "
		    "cancelled by the caller", st->path,
		    u.hkey.buf + strlen("host/"));
		goto cancel;
	}
	if (update_write(st, &u, mask, err) == -1)
		goto cancel;
	if (store_commit(st, err) == -1)
		goto cancel;
	return 0;
cancel:
	store_cancel(st);
	return -1;
}

/* ------------------------------------------------------------------ */
/* walk									*/

struct walk {
	struct stsec_store *st;
	stsec_store_walk_fn *fn;
	void		*arg;
	int		 ret;		/* fn's non-zero return */
	int		 failed;	/* err is filled */
	struct stsec_error *err;
};

/* Splits "host/<name>" or "domain/<name>"; the name must be normalized. */
static const char *
key_parse(TDB_DATA key, enum stsec_store_kind *kind, char *name)
{
	char	norm[STSEC_NAME_MAX + 1];
	size_t	i, plen, nlen;

	for (i = 0; i < sizeof(kind_prefix) / sizeof(kind_prefix[0]); i++) {
		plen = strlen(kind_prefix[i]);
		if (key.dsize > plen &&
		    memcmp(key.dptr, kind_prefix[i], plen) == 0)
			break;
	}
	if (i == sizeof(kind_prefix) / sizeof(kind_prefix[0]))
		return "not a pinpost key";
	*kind = (enum stsec_store_kind)i;
	nlen = key.dsize - plen;
	if (nlen > STSEC_NAME_MAX || memchr(key.dptr + plen, '\0', nlen))
		return "name not normalized";
	memcpy(name, key.dptr + plen, nlen);
	name[nlen] = '\0';
	if (stsec_name_normalize(name, norm, sizeof(norm), NULL) == -1 ||
	    strcmp(name, norm) != 0)
		return "name not normalized";
	return NULL;
}

static int
walk_cb(struct tdb_context *tdb, TDB_DATA key, TDB_DATA val, void *arg)
{
	struct walk	*w = arg;
	char		 name[STSEC_NAME_MAX + 1];
	enum stsec_store_kind kind = STSEC_STORE_HOST;
	struct stsec_error e;
	union anyrec	 rec;
	const char	*why;

	(void)tdb;
	if (key.dsize == strlen(VERSION_KEY) &&
	    memcmp(key.dptr, VERSION_KEY, key.dsize) == 0)
		return 0;
	why = key_parse(key, &kind, name);
	if (why == NULL && rec_decode(kind, val, &rec, &e) == -1)
		why = e.msg;
	if (why != NULL) {
		(void)key_error(w->st, key, why, w->err);
		w->failed = 1;
		return 1;
	}
	w->ret = w->fn(kind, name, &rec, w->arg);
	return w->ret != 0;
}

int
stsec_store_walk(struct stsec_store *st, stsec_store_walk_fn *fn,
    void *arg, struct stsec_error *err)
{
	struct walk w;

	if (fn == NULL)
		return stsec_error_set(err, "%s: walk without a function",
		    st->path);
	memset(&w, 0, sizeof(w));
	w.st = st;
	w.fn = fn;
	w.arg = arg;
	w.err = err;
	if (tdb_traverse_read(st->tdb, walk_cb, &w) == -1 && !w.failed &&
	    w.ret == 0)
		return tdb_fail(st, "traverse", err);
	if (w.failed)
		return -1;
	return w.ret;
}
