/*
 * bench_store.c - item 5 of `make bench`: the pin store (libstsec's TDB
 * store) with many hosts, against peers measured in the same run.
 *
 *	bench_store DIR HOSTS API_FILL LOOKUPS UPDATES RUNS
 *
 * 1. Fills DIR/pins.tdb with HOSTS host records (two pins, PKP and STSEC
 *    expiry, last pin: what a learned peer holds): the first API_FILL
 *    through stsec_store_put_host() (timed), the rest in raw tdb
 *    transactions of 1,000 hosts on the store's own file (a put per host costs a
 *    transaction each, and grows with the store: 100,000 that way took
 *    over a minute here).  TDB_NO_FSYNC is set for the fill only.
 * 2. Reopens it as pinpostd does (stsec_store_open(): tdb_check included,
 *    timed).  Then RUNS times: LOOKUPS stsec_store_get_host() of random
 *    hosts and UPDATES stsec_store_update() read-modify-writes
 *    (last_seen), each a durable transaction, as the delivery client's
 *    noting is; and the peers below.
 * 3. Peers, on the same data and disk, opened with the store's tdb flags
 *    (PEER_FLAGS: keep them in step with ext/libstsec/store.c):
 *    raw     tdb_fetch() of the same keys in the same file, and a durable
 *            transaction that rewrites one record (what the store layer
 *            adds: key building, decoding, its checks);
 *    sized   the same records copied into a tdb whose hash table is sized
 *            for them (131071 chains; the store opens with tdb's default,
 *            131), lookups and durable one-record transactions;
 *    fsync   a durable write of a small file (write, fsync, rename, fsync
 *            the directory): a reference for one durable update here.
 * Prints one line of JSON.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tdb.h>

#include "stsec.h"

#define BIG_HASH	131071
/* the peers open their files as ext/libstsec/store.c opens the store */
#define PEER_FLAGS	(TDB_DEFAULT | TDB_INCOMPATIBLE_HASH | TDB_NOMMAP)

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t
xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
host_name(long i, char *buf, size_t len)
{
	(void)snprintf(buf, len, "mx%07ld.bench%03ld.example", i, i % 997);
}

static void
make_rec(long i, struct stsec_host_rec *r)
{
	size_t	k;

	memset(r, 0, sizeof(*r));
	r->pins.n = 2;
	for (k = 0; k < 2 * STSEC_PIN_LEN; k++)
		r->pins.pin[k / STSEC_PIN_LEN].hash[k % STSEC_PIN_LEN] =
		    (unsigned char)xorshift();
	r->pkp_expires = 1900000000 + i;
	r->stsec_expires = 1930000000 + i;
	r->early = STSEC_EARLY_ACCEPTED;
	r->first_seen = 1700000000 + i;
	r->last_seen = 1800000000 + i;
	r->has_last_pin = 1;
	r->last_pin = r->pins.pin[0];
}

static void
die(const char *what, const char *msg)
{
	(void)fprintf(stderr, "bench_store: %s: %s\n", what, msg);
	exit(1);
}

static int
touch(struct stsec_host_rec *host, int host_found,
    struct stsec_domain_rec *domain, int domain_found, void *arg)
{
	(void)domain;
	(void)domain_found;
	if (!host_found)
		return -1;
	host->last_seen = *(int64_t *)arg;
	return STSEC_STORE_WRITE_HOST;
}

static TDB_DATA
key_of(long i, char *buf, size_t len)
{
	TDB_DATA k;
	char	name[64];

	host_name(i, name, sizeof(name));
	(void)snprintf(buf, len, "host/%s", name);
	k.dptr = (unsigned char *)buf;
	k.dsize = strlen(buf);
	return k;
}

/* LOOKUPS random tdb_fetch()es; returns per second. */
static double
raw_lookups(struct tdb_context *tdb, long hosts, long n)
{
	char	buf[96];
	double	t0 = now();
	long	i;

	for (i = 0; i < n; i++) {
		TDB_DATA v = tdb_fetch(tdb, key_of((long)(xorshift() %
		    (uint64_t)hosts), buf, sizeof(buf)));

		if (v.dptr == NULL)
			die("tdb_fetch", tdb_errorstr(tdb));
		free(v.dptr);
	}
	return (double)n / (now() - t0);
}

struct copy {
	struct tdb_context *to;
	long	 n;
	uint64_t bytes;
};

static int
copy_cb(struct tdb_context *tdb, TDB_DATA k, TDB_DATA v, void *arg)
{
	struct copy *c = arg;

	(void)tdb;
	c->bytes += k.dsize + v.dsize;
	/* a transaction per 1,000 records, as the fill */
	if (++c->n % 1000 == 0 && (tdb_transaction_commit(c->to) == -1 ||
	    tdb_transaction_start(c->to) == -1))
		return -1;
	return tdb_store(c->to, k, v, TDB_REPLACE) == -1 ? -1 : 0;
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* n durable small-file writes (write, fsync, rename, fsync dir). */
static double
fsync_writes(const char *dir, long n)
{
	char	tmp[4096], dst[4096], data[200];
	double	t0;
	long	i;
	int	dfd;

	memset(data, 'x', sizeof(data));
	(void)snprintf(tmp, sizeof(tmp), "%s/rec.tmp", dir);
	(void)snprintf(dst, sizeof(dst), "%s/rec", dir);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		die(dir, "open");
	t0 = now();
	for (i = 0; i < n; i++) {
		int	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd == -1 || write(fd, data, sizeof(data)) !=
		    (ssize_t)sizeof(data) || fsync(fd) == -1 || close(fd) == -1 ||
		    rename(tmp, dst) == -1 || fsync(dfd) == -1)
			die(tmp, "durable write failed");
	}
	(void)close(dfd);
	(void)unlink(dst);
	return (double)n / (now() - t0);
}

/*
 * The rest of the fill, a transaction per 1,000 hosts on the store's file
 * (its header, hash size and version key stay the store's): the same
 * keys and encoded records stsec_store_put_host() writes, without a
 * transaction per host.
 */
static void
bulk_fill(const char *path, long from, long hosts)
{
	struct stsec_error err;
	struct stsec_host_rec rec;
	struct tdb_context *tdb;
	unsigned char val[STSEC_HOST_REC_MAX];
	char	buf[96];
	long	i;
	int	n;

	if ((tdb = tdb_open(path, 0, TDB_NOSYNC | TDB_INCOMPATIBLE_HASH,
	    O_RDWR, 0600)) == NULL)
		die(path, "tdb_open");
	for (i = from; i < hosts; i++) {
		TDB_DATA k = key_of(i, buf, sizeof(buf)), v;

		/* a transaction per 1,000 hosts: one over all of them would
		 * leave a recovery area as large as the data in the file */
		if ((i - from) % 1000 == 0 && (i == from ||
		    tdb_transaction_commit(tdb) == 0))
			if (tdb_transaction_start(tdb) == -1)
				die(path, tdb_errorstr(tdb));

		make_rec(i, &rec);
		if ((n = stsec_record_encode_host(&rec, val, sizeof(val),
		    &err)) == -1)
			die("encode", err.msg);
		v.dptr = val;
		v.dsize = (size_t)n;
		if (tdb_store(tdb, k, v, TDB_INSERT) == -1)
			die(path, tdb_errorstr(tdb));
	}
	if (tdb_transaction_commit(tdb) == -1)
		die(path, tdb_errorstr(tdb));
	(void)tdb_close(tdb);
}

static double
store_lookups(struct stsec_store *st, long hosts, long n)
{
	struct stsec_error err;
	struct stsec_host_rec rec;
	char	name[64];
	double	t0 = now();
	long	i;

	for (i = 0; i < n; i++) {
		host_name((long)(xorshift() % (uint64_t)hosts), name,
		    sizeof(name));
		if (stsec_store_get_host(st, name, &rec, &err) != 1)
			die("get", err.msg);
	}
	return (double)n / (now() - t0);
}

static double
store_updates(struct stsec_store *st, long hosts, long n)
{
	static int64_t stamp = 1800000000;
	struct stsec_error err;
	char	name[64];
	double	t0 = now();
	long	i;

	for (i = 0; i < n; i++) {
		host_name((long)(xorshift() % (uint64_t)hosts), name,
		    sizeof(name));
		stamp++;
		if (stsec_store_update(st, name, NULL, touch, &stamp, &err) ==
		    -1)
			die("update", err.msg);
	}
	return (double)n / (now() - t0);
}

/*
 * n durable one-record transactions: fetch, decode, bump last_seen,
 * encode, store (tdb skips a store of identical bytes, and so the sync:
 * the record must change).
 */
static double
raw_updates(struct tdb_context *tdb, long hosts, long n)
{
	struct stsec_error err;
	struct stsec_host_rec rec;
	unsigned char val[STSEC_HOST_REC_MAX];
	char	buf[96];
	double	t0 = now();
	long	i;
	int	len;

	for (i = 0; i < n; i++) {
		TDB_DATA k = key_of((long)(xorshift() % (uint64_t)hosts), buf,
		    sizeof(buf));
		TDB_DATA v;

		if (tdb_transaction_start(tdb) == -1)
			die("transaction", tdb_errorstr(tdb));
		v = tdb_fetch(tdb, k);
		if (v.dptr == NULL ||
		    stsec_record_decode_host(v.dptr, v.dsize, &rec, &err) == -1)
			die("raw fetch", v.dptr ? err.msg : tdb_errorstr(tdb));
		free(v.dptr);
		rec.last_seen++;
		if ((len = stsec_record_encode_host(&rec, val, sizeof(val),
		    &err)) == -1)
			die("encode", err.msg);
		v.dptr = val;
		v.dsize = (size_t)len;
		if (tdb_store(tdb, k, v, TDB_REPLACE) == -1 ||
		    tdb_transaction_commit(tdb) == -1)
			die("raw update", tdb_errorstr(tdb));
	}
	return (double)n / (now() - t0);
}

/* Copies path into a tdb sized for its records; returns payload bytes. */
static uint64_t
make_sized(const char *path, const char *bigpath)
{
	struct tdb_context *tdb, *big;
	struct copy cp;

	if ((tdb = tdb_open(path, 0, PEER_FLAGS, O_RDWR, 0600)) == NULL)
		die(path, "tdb_open");
	if ((big = tdb_open(bigpath, BIG_HASH, TDB_NOSYNC |
	    TDB_INCOMPATIBLE_HASH, O_RDWR | O_CREAT | O_EXCL, 0600)) == NULL)
		die(bigpath, "tdb_open");
	memset(&cp, 0, sizeof(cp));
	cp.to = big;
	if (tdb_transaction_start(big) == -1 ||
	    tdb_traverse(tdb, copy_cb, &cp) == -1 ||
	    tdb_transaction_commit(big) == -1)
		die(bigpath, tdb_errorstr(big));
	(void)tdb_close(tdb);
	(void)tdb_close(big);
	return cp.bytes;
}

static void
print_list(const char *name, const double *v, int n, int last)
{
	int	i;

	printf("\"%s\": [", name);
	for (i = 0; i < n; i++)
		printf("%s%.2f", i ? ", " : "", v[i]);
	printf("]%s", last ? "" : ", ");
}

#define MAX_RUNS	32

int
main(int argc, char **argv)
{
	struct stsec_error err;
	struct stsec_store *st;
	struct stsec_host_rec rec;
	struct tdb_context *tdb;
	char	path[4096], bigpath[4096], name[64];
	double	look[MAX_RUNS], upd[MAX_RUNS], rawlook[MAX_RUNS],
		rawupd[MAX_RUNS], biglook[MAX_RUNS], bigupd[MAX_RUNS],
		fs[MAX_RUNS];
	double	t0, api_fill, bulk_s, open_s;
	long	hosts, nlook, nupd, api_n, i;
	uint64_t payload;
	int	runs, r;

	if (argc != 7)
		die("usage", "bench_store DIR HOSTS API_FILL LOOKUPS UPDATES "
		    "RUNS");
	hosts = atol(argv[2]);
	api_n = atol(argv[3]);
	nlook = atol(argv[4]);
	nupd = atol(argv[5]);
	runs = atoi(argv[6]);
	if (hosts < 1 || api_n < 1 || api_n > hosts || runs < 1 ||
	    runs > MAX_RUNS)
		die("usage", "bad numbers");
	(void)snprintf(path, sizeof(path), "%s/pins.tdb", argv[1]);
	(void)snprintf(bigpath, sizeof(bigpath), "%s/sized.tdb", argv[1]);
	(void)unlink(path);
	(void)unlink(bigpath);

	/* 1. fill: the first api_n hosts through the API (timed: inserts
	 * into a growing store), the rest in one raw transaction; neither
	 * durable (set-up, not a measure) */
	(void)setenv("TDB_NO_FSYNC", "1", 1);
	if ((st = stsec_store_open(path, STSEC_STORE_CREATE, &err)) == NULL)
		die("open", err.msg);
	t0 = now();
	for (i = 0; i < api_n; i++) {
		host_name(i, name, sizeof(name));
		make_rec(i, &rec);
		if (stsec_store_put_host(st, name, &rec, &err) == -1)
			die("put", err.msg);
	}
	api_fill = now() - t0;
	stsec_store_close(st);
	t0 = now();
	if (api_n < hosts)
		bulk_fill(path, api_n, hosts);
	bulk_s = now() - t0;
	(void)unsetenv("TDB_NO_FSYNC");
	payload = make_sized(path, bigpath);

	/* 2. the store as pinpostd opens it (tdb_check included) */
	t0 = now();
	if ((st = stsec_store_open(path, 0, &err)) == NULL)
		die("reopen", err.msg);
	open_s = now() - t0;
	stsec_store_close(st);

	/* 3. each run: the store, then its peers, on the same disk */
	for (r = 0; r < runs; r++) {
		if ((st = stsec_store_open(path, 0, &err)) == NULL)
			die("reopen", err.msg);
		look[r] = store_lookups(st, hosts, nlook);
		upd[r] = store_updates(st, hosts, nupd);
		stsec_store_close(st);
		if ((tdb = tdb_open(path, 0, PEER_FLAGS, O_RDWR, 0600)) ==
		    NULL)
			die(path, "tdb_open");
		rawlook[r] = raw_lookups(tdb, hosts, nlook);
		rawupd[r] = raw_updates(tdb, hosts, nupd);
		(void)tdb_close(tdb);
		if ((tdb = tdb_open(bigpath, 0, PEER_FLAGS, O_RDWR, 0600)) ==
		    NULL)
			die(bigpath, "tdb_open");
		biglook[r] = raw_lookups(tdb, hosts, nlook);
		bigupd[r] = raw_updates(tdb, hosts, nupd);
		(void)tdb_close(tdb);
		fs[r] = fsync_writes(argv[1], nupd);
	}

	printf("{\"hosts\": %ld, \"api_fill_hosts\": %ld, \"api_fill_s\": %.3f, "
	    "\"bulk_fill_s\": %.3f, \"open_s\": %.4f, \"file_bytes\": %lld, "
	    "\"payload_bytes\": %llu, \"sized_file_bytes\": %lld, ", hosts,
	    api_n, api_fill, bulk_s, open_s, (long long)file_size(path),
	    (unsigned long long)payload, (long long)file_size(bigpath));
	print_list("lookups_per_s", look, runs, 0);
	print_list("updates_per_s", upd, runs, 0);
	print_list("raw_lookups_per_s", rawlook, runs, 0);
	print_list("raw_updates_per_s", rawupd, runs, 0);
	print_list("sized_lookups_per_s", biglook, runs, 0);
	print_list("sized_updates_per_s", bigupd, runs, 0);
	print_list("fsync_writes_per_s", fs, runs, 1);
	printf("}\n");
	return 0;
}
