/*
 * test_maildir.c - local delivery (mta/maildir.c), on real files.
 *
 *	create		mkdir -p with tmp/ new/ cur/, 0700; again; a file
 *			in the way
 *	deliver		the file lands in new/ with LF endings and the
 *			prepended lines, nothing stays in tmp/; CRLF split
 *			across the copy buffer; the name's form
 *	unique		1000 deliveries, and 2 threads at once
 *	errors		a missing mailbox or message is named; a short
 *			name buffer delivers nothing
 *
 * Every test works in its own tu_tmpdir().  Deliveries fsync, so when
 * TMPDIR is not set the tests use /dev/shm.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "maildir.h"
#include "testutil.h"

#define NDELIVER	1000
#define NAME_LEN	1024
#define BIG_LEN		(3 * 64 * 1024 + 1017)

struct fx {
	char	*dir;
	char	 mbox[512];	/* DIR/Maildir/user, created */
	char	 msg[512];	/* DIR/msg, the queued message */
	char	 err[256];
};

/* ------------------------------------------------------------------ */
/* fixtures and helpers							*/

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = tu_tmpdir()) == NULL) {
		free(fx);
		return -1;
	}
	(void)snprintf(fx->mbox, sizeof(fx->mbox), "%s/Maildir/user",
	    fx->dir);
	(void)snprintf(fx->msg, sizeof(fx->msg), "%s/msg", fx->dir);
	if (maildir_create(fx->mbox, fx->err, sizeof(fx->err)) == -1) {
		fprintf(stderr, "maildir_create: %s\n", fx->err);
		tu_rmrf(fx->dir);
		free(fx->dir);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

static void
assert_err_has(const char *err, const char *what)
{
	if (strstr(err, what) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, what);
}

static const char *
sub(const struct fx *fx, const char *name)
{
	static char buf[600];

	(void)snprintf(buf, sizeof(buf), "%s/%s", fx->mbox, name);
	return buf;
}


static char *
read_all(const char *path, size_t *len)
{
	struct stat sb;
	char	*buf;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &sb) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	assert_non_null(buf = malloc((size_t)sb.st_size + 1));
	assert_int_equal(read(fd, buf, (size_t)sb.st_size), sb.st_size);
	assert_int_equal(close(fd), 0);
	buf[sb.st_size] = '\0';
	*len = (size_t)sb.st_size;
	return buf;
}

static int
file_mode(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	return (int)(sb.st_mode & 07777);
}

/* The oracle: every CRLF becomes LF, nothing else changes. */
static char *
crlf_to_lf(const char *in, size_t len, size_t *outlen)
{
	char	*out = malloc(len + 1);
	size_t	 i, o = 0;

	assert_non_null(out);
	for (i = 0; i < len; i++)
		if (!(in[i] == '\r' && i + 1 < len && in[i + 1] == '\n'))
			out[o++] = in[i];
	*outlen = o;
	return out;
}

static void
file_is(const char *path, const char *want, size_t wlen)
{
	size_t	len;
	char	*got = read_all(path, &len);

	assert_int_equal(len, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);
}

static void
deliver_ok(struct fx *fx, const char *prepend, const char *host, char *name)
{
	if (maildir_deliver(fx->mbox, fx->msg, prepend, host, name, NAME_LEN,
	    fx->err, sizeof(fx->err)) == -1)
		fail_msg("deliver: %s", fx->err);
}

/* ------------------------------------------------------------------ */
/* tests								*/

static void
test_create(void **state)
{
	struct fx *fx = *state;
	char	path[600];

	assert_int_equal(file_mode(fx->mbox), 0700);
	assert_int_equal(file_mode(sub(fx, "tmp")), 0700);
	assert_int_equal(file_mode(sub(fx, "new")), 0700);
	assert_int_equal(file_mode(sub(fx, "cur")), 0700);
	(void)snprintf(path, sizeof(path), "%s/Maildir", fx->dir);
	assert_int_equal(file_mode(path), 0700);
	assert_int_equal(maildir_create(fx->mbox, fx->err, sizeof(fx->err)), 0);
	(void)snprintf(path, sizeof(path), "%s/Maildir//other/", fx->dir);
	assert_int_equal(maildir_create(path, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(file_mode(sub(fx, "../other/cur")), 0700);
	(void)snprintf(path, sizeof(path), "%s/file", fx->dir);
	TU_WRITE(path, "x", 1);
	(void)snprintf(path, sizeof(path), "%s/file/box", fx->dir);
	assert_int_equal(maildir_create(path, fx->err, sizeof(fx->err)), -1);
	assert_err_has(fx->err, "/file: not a directory");
	assert_int_equal(rmdir(sub(fx, "cur")), 0);
	TU_WRITE(sub(fx, "cur"), "x", 1);
	assert_int_equal(maildir_create(fx->mbox, fx->err, sizeof(fx->err)),
	    -1);
	assert_err_has(fx->err, "user/cur: not a directory");
	assert_int_equal(maildir_create("", fx->err, sizeof(fx->err)), -1);
}

static void
test_deliver(void **state)
{
	struct fx *fx = *state;
	static const char msg[] = "Subject: hi\r\n\r\nline1\r\nlone\rcr\r\n"
	    "\r\n.\r\nno newline at end\r";
	static const char want[] = "Return-Path: <a@b.example>\n"
	    "Delivered-To: c@d.example\nSubject: hi\n\nline1\nlone\rcr\n"
	    "\n.\nno newline at end\r";
	char	name[NAME_LEN], *base;
	long long sec;
	long	usec;
	int	pid, n;
	unsigned q;

	TU_WRITE(fx->msg, msg, sizeof(msg) - 1);
	deliver_ok(fx, "Return-Path: <a@b.example>\r\nDelivered-To: "
	    "c@d.example\r\n", "mx/1:a.example", name);
	assert_int_equal(strncmp(name, sub(fx, "new/"), strlen(sub(fx,
	    "new/"))), 0);
	file_is(name, want, sizeof(want) - 1);
	assert_int_equal(file_mode(name), 0600);
	assert_int_equal(tu_count_entries(sub(fx, "new")), 1);
	assert_int_equal(tu_count_entries(sub(fx, "tmp")), 0);
	base = strrchr(name, '/') + 1;
	assert_int_equal(sscanf(base, "%lld.M%ldP%dQ%u.%n", &sec, &usec, &pid,
	    &q, &n), 4);
	assert_true(usec >= 0 && usec < 1000000);
	assert_int_equal(pid, (int)getpid());
	assert_string_equal(base + n, "mx\\0571\\072a.example");
	file_is(fx->msg, msg, sizeof(msg) - 1);
}

/* CRLF split across the copy buffer; no prepend; an empty message. */
static void
test_deliver_big(void **state)
{
	struct fx *fx = *state;
	char	name[NAME_LEN], *msg, *want;
	size_t	i, wlen;

	assert_non_null(msg = malloc(BIG_LEN));
	for (i = 0; i < BIG_LEN; i++)
		msg[i] = (char)('a' + i % 26);
	for (i = 1; i < 4; i++) {
		/* CRLF split by the copy buffer twice, then a lone CR */
		msg[i * 65536 - 1] = '\r';
		msg[i * 65536] = i < 3 ? '\n' : 'x';
		msg[i * 65536 - 100] = '\r';
		msg[i * 65536 + 100] = '\n';
	}
	TU_WRITE(fx->msg, msg, BIG_LEN);
	deliver_ok(fx, NULL, "mx", name);
	want = crlf_to_lf(msg, BIG_LEN, &wlen);
	assert_int_equal(wlen, BIG_LEN - 2);
	file_is(name, want, wlen);
	TU_WRITE(fx->msg, "", 0);
	deliver_ok(fx, NULL, NULL, name);
	file_is(name, "", 0);
	deliver_ok(fx, "X: y\r\n", NULL, name);
	file_is(name, "X: y\n", 5);
	assert_int_equal(tu_count_entries(sub(fx, "new")), 3);
	assert_int_equal(tu_count_entries(sub(fx, "tmp")), 0);
	free(msg);
	free(want);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* n names (malloc'd), sorted: no two alike. */
static void
assert_unique(char **names, size_t n)
{
	size_t	i;

	qsort(names, n, sizeof(*names), str_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			fail_msg("delivered twice as %s", names[i]);
	for (i = 0; i < n; i++)
		free(names[i]);
}

static void
test_unique(void **state)
{
	struct fx *fx = *state;
	char	name[NAME_LEN], **names;
	size_t	i;

	assert_non_null(names = calloc(NDELIVER, sizeof(*names)));
	TU_WRITE(fx->msg, "a\r\n", 3);
	for (i = 0; i < NDELIVER; i++) {
		deliver_ok(fx, NULL, "mx", name);
		assert_non_null(names[i] = strdup(name));
	}
	assert_unique(names, NDELIVER);
	free(names);
	assert_int_equal(tu_count_entries(sub(fx, "new")), NDELIVER);
	assert_int_equal(tu_count_entries(sub(fx, "tmp")), 0);
}

struct worker {
	struct fx	*fx;
	char		**names;
	size_t		 n;
	int		 failed;
	char		 err[256];
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char	name[NAME_LEN];
	size_t	i;

	for (i = 0; i < w->n; i++) {
		if (maildir_deliver(w->fx->mbox, w->fx->msg, "X: y\r\n", "mx",
		    name, sizeof(name), w->err, sizeof(w->err)) == -1 ||
		    (w->names[i] = strdup(name)) == NULL) {
			w->failed = 1;
			break;
		}
	}
	return NULL;
}

static void
test_unique_threads(void **state)
{
	struct fx *fx = *state;
	struct worker w[2];
	pthread_t t[2];
	char	**names;
	int	i;

	assert_non_null(names = calloc(NDELIVER, sizeof(*names)));
	TU_WRITE(fx->msg, "a\r\n", 3);
	for (i = 0; i < 2; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].fx = fx;
		w[i].names = names + i * (NDELIVER / 2);
		w[i].n = NDELIVER / 2;
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]),
		    0);
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (w[i].failed)
			fail_msg("thread %d: %s", i, w[i].err);
	}
	assert_unique(names, NDELIVER);
	free(names);
	assert_int_equal(tu_count_entries(sub(fx, "new")), NDELIVER);
	assert_int_equal(tu_count_entries(sub(fx, "tmp")), 0);
}

static void
test_errors(void **state)
{
	struct fx *fx = *state;
	char	name[NAME_LEN], missing[600];

	(void)snprintf(missing, sizeof(missing), "%s/Maildir/nobody", fx->dir);
	TU_WRITE(fx->msg, "a\r\n", 3);
	assert_int_equal(maildir_deliver(missing, fx->msg, NULL, "mx", name,
	    sizeof(name), fx->err, sizeof(fx->err)), -1);
	assert_err_has(fx->err, missing);
	assert_err_has(fx->err, "No such file");
	assert_int_equal(unlink(fx->msg), 0);
	assert_int_equal(maildir_deliver(fx->mbox, fx->msg, NULL, "mx", name,
	    sizeof(name), fx->err, sizeof(fx->err)), -1);
	assert_err_has(fx->err, fx->msg);
	TU_WRITE(fx->msg, "a\r\n", 3);
	assert_int_equal(maildir_deliver(fx->mbox, fx->msg, NULL, "mx", name,
	    10, fx->err, sizeof(fx->err)), -1);
	assert_err_has(fx->err, "name buffer too small");
	assert_int_equal(tu_count_entries(sub(fx, "new")), 0);
	memset(missing, 'h', 300);
	missing[300] = '\0';
	assert_int_equal(maildir_deliver(fx->mbox, fx->msg, NULL, missing,
	    NULL, 0, fx->err, sizeof(fx->err)), -1);
	assert_err_has(fx->err, "host name");
	assert_int_equal(rmdir(sub(fx, "new")), 0);
	assert_int_equal(maildir_deliver(fx->mbox, fx->msg, NULL, "mx", NULL,
	    0, fx->err, sizeof(fx->err)), -1);
	assert_err_has(fx->err, "user/new/");
	assert_int_equal(tu_count_entries(sub(fx, "tmp")), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_create),
		T(test_deliver),
		T(test_deliver_big),
		T(test_unique),
		T(test_unique_threads),
		T(test_errors),
#undef T
	};
	struct stat sb;

	if (getenv("TMPDIR") == NULL && stat("/dev/shm", &sb) == 0 &&
	    S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0 &&
	    setenv("TMPDIR", "/dev/shm", 0) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
