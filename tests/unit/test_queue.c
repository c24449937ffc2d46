/*
 * test_queue.c - the mail queue (mta/queue.c), on real files.
 *
 *	open		tmp/ and queue/ created 0700; a missing spool
 *	commit		every envelope field and the exact message bytes
 *			come back; IDs; abort; a refused envelope or a
 *			failing rename leaves nothing behind
 *	envelope	atomic rewrite; what save refuses; what load
 *			refuses (tables for format versions 1 and 2; each
 *			error names file and line); a version-1 file loads
 *			and is saved as version 2
 *	recover		crash leftovers made by hand
 *	crash		a forked writer SIGKILLed at 50 instants, while
 *			committing and while rewriting an envelope
 *	list, remove
 *
 * Every test works in its own tu_tmpdir().  Commits fsync, so when TMPDIR
 * is not set the tests use /dev/shm.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue.h"
#include "testutil.h"

#define BIG_MSG		(150 * 1024)
#define CRASH_RUNS	50
#define CRASH_SPAN_US	5000
#define LID		"0000018bcfe568000abc"	/* for hand-made files */

struct fx {
	char		*dir;
	struct queue	*q;
	pid_t		 child;		/* a crash test's writer, or 0 */
	char		 err[QUEUE_ERR_MAX];
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
	if ((fx->q = queue_open(fx->dir, fx->err, sizeof(fx->err))) == NULL) {
		fprintf(stderr, "queue_open: %s\n", fx->err);
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
	int	st;

	/* A test that failed while its writer ran. */
	if (fx->child > 0 && kill(fx->child, SIGKILL) == 0)
		(void)waitpid(fx->child, &st, 0);
	queue_close(fx->q);
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

/* fx->dir/SUB/NAME (NAME may be NULL), in a static buffer. */
static const char *
fx_path(const struct fx *fx, const char *sub, const char *name)
{
	static char buf[1024];

	(void)snprintf(buf, sizeof(buf), "%s/%s%s%s", fx->dir, sub,
	    name != NULL ? "/" : "", name != NULL ? name : "");
	return buf;
}


static int
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static unsigned char *
read_all(const char *path, size_t *len)
{
	unsigned char *buf;
	struct stat sb;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &sb) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	assert_non_null(buf = malloc((size_t)sb.st_size + 1));
	assert_int_equal(read(fd, buf, (size_t)sb.st_size), sb.st_size);
	assert_int_equal(close(fd), 0);
	*len = (size_t)sb.st_size;
	return buf;
}

/* Message bytes, every value 0..255 (CR, LF and NUL too). */
static unsigned char *
pattern(size_t len)
{
	unsigned char *p = malloc(len + 1);
	size_t	i;

	if (p != NULL)
		for (i = 0; i < len; i++)
			p[i] = (unsigned char)((i * 131 + i / 251) & 0xff);
	return p;
}

/* Write data in uneven pieces: below, across and beyond the buffer. */
static int
write_pieces(struct queue_msg *m, const unsigned char *data, size_t len,
    char *err, size_t errlen)
{
	static const size_t piece[] = { 1, 10, 7000, 65536, 100000, 3 };
	size_t	off = 0, i = 0, n;

	while (off < len) {
		n = piece[i++ % (sizeof(piece) / sizeof(piece[0]))];
		if (n > len - off)
			n = len - off;
		if (queue_msg_write(m, data + off, n, err, errlen) == -1)
			return -1;
		off += n;
	}
	return queue_msg_write(m, "", 0, err, errlen);
}

/* An envelope whose every field follows from nrcpt. */
static void
fill_env(struct queue_env *env, size_t nrcpt)
{
	struct queue_rcpt *r;
	char	addr[64];
	size_t	i;

	memset(env, 0, sizeof(*env));
	env->arrival = 1700000000;
	(void)snprintf(env->sender, sizeof(env->sender), "a@b.example");
	(void)snprintf(env->client, sizeof(env->client), "[127.0.0.1]:51234");
	(void)snprintf(env->helo, sizeof(env->helo), "client.example");
	env->body_8bit = 1;
	env->smtputf8 = 1;
	env->warned = nrcpt % 2 == 1;
	for (i = 0; i < nrcpt; i++) {
		(void)snprintf(addr, sizeof(addr), "user%zu@example.net", i);
		if (queue_env_add_rcpt(env, addr, (int)(i % 2)) == -1)
			fail_msg("add_rcpt %zu", i);
		r = &env->rcpt[i];
		r->state = (enum queue_rcpt_state)(i % 3);
		r->attempts = (int)i;
		r->next_try = i == 0 ? 0 : INT64_C(1700000000) + (int64_t)i;
		if (i > 0)
			(void)snprintf(r->last_reply, sizeof(r->last_reply),
			    "451 4.3.0 try %zu later: reply= too ", i);
		if (i % 2 == 1) {
			r->last_try = INT64_C(1699999000) + (int64_t)i;
			(void)snprintf(r->status, sizeof(r->status),
			    "4.%zu.%zu", i % 8, i % 1000);
			(void)snprintf(r->remote, sizeof(r->remote),
			    "mx%zu.example.net", i);
		}
	}
}

static void
rcpt_equal(const struct queue_rcpt *a, const struct queue_rcpt *b, size_t i)
{
	if (strcmp(a->addr, b->addr) != 0 || a->state != b->state ||
	    a->local != b->local || a->attempts != b->attempts ||
	    a->next_try != b->next_try ||
	    strcmp(a->last_reply, b->last_reply) != 0)
		fail_msg("rcpt %zu: <%s> %d %d %d %lld \"%s\" != <%s> %d %d "
		    "%d %lld \"%s\"", i, a->addr, a->state, a->local,
		    a->attempts, (long long)a->next_try, a->last_reply, b->addr,
		    b->state, b->local, b->attempts, (long long)b->next_try,
		    b->last_reply);
	if (a->last_try != b->last_try || strcmp(a->status, b->status) != 0 ||
	    strcmp(a->remote, b->remote) != 0)
		fail_msg("rcpt %zu: last %lld status \"%s\" remote \"%s\" != "
		    "last %lld status \"%s\" remote \"%s\"", i,
		    (long long)a->last_try, a->status, a->remote,
		    (long long)b->last_try, b->status, b->remote);
}

static void
env_equal(const struct queue_env *a, const struct queue_env *b)
{
	size_t	i;

	assert_string_equal(a->id, b->id);
	assert_true(a->arrival == b->arrival);
	assert_string_equal(a->sender, b->sender);
	assert_string_equal(a->client, b->client);
	assert_string_equal(a->helo, b->helo);
	assert_int_equal(a->body_8bit, b->body_8bit);
	assert_int_equal(a->smtputf8, b->smtputf8);
	assert_int_equal(a->warned, b->warned);
	assert_int_equal(a->nrcpt, b->nrcpt);
	for (i = 0; i < a->nrcpt; i++)
		rcpt_equal(&a->rcpt[i], &b->rcpt[i], i);
}

/* Queue data with env (id set on return); id receives the ID. */
static void
commit_ok(struct fx *fx, const unsigned char *data, size_t len,
    struct queue_env *env, char *id)
{
	struct queue_msg *m;

	if ((m = queue_msg_new(fx->q, fx->err, sizeof(fx->err))) == NULL)
		fail_msg("msg_new: %s", fx->err);
	if (write_pieces(m, data, len, fx->err, sizeof(fx->err)) == -1)
		fail_msg("msg_write: %s", fx->err);
	assert_true(queue_msg_size(m) == len);
	(void)snprintf(id, QUEUE_ID_LEN + 1, "%s", queue_msg_id(m));
	if (queue_msg_commit(m, env, fx->err, sizeof(fx->err)) == -1)
		fail_msg("commit: %s", fx->err);
	assert_string_equal(env->id, id);
}

/* The queued message id holds exactly data. */
static void
msg_is(struct fx *fx, const char *id, const unsigned char *data, size_t len)
{
	char	path[1024];
	unsigned char *got;
	size_t	glen;

	assert_int_equal(queue_msg_path(fx->q, id, path, sizeof(path)), 0);
	got = read_all(path, &glen);
	assert_int_equal(glen, len);
	assert_memory_equal(got, data, len);
	free(got);
}

static void
load_ok(struct fx *fx, const char *id, struct queue_env *env)
{
	if (queue_env_load(fx->q, id, env, fx->err, sizeof(fx->err)) == -1)
		fail_msg("load %s: %s", id, fx->err);
}

static int
file_mode(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	return (int)(sb.st_mode & 07777);
}

/* ------------------------------------------------------------------ */
/* open, commit								*/

static void
test_open(void **state)
{
	struct fx *fx = *state;
	struct queue *q;
	char	err[QUEUE_ERR_MAX];

	assert_int_equal(file_mode(fx_path(fx, "tmp", NULL)), 0700);
	assert_int_equal(file_mode(fx_path(fx, "queue", NULL)), 0700);
	assert_non_null(q = queue_open(fx->dir, err, sizeof(err)));
	queue_close(q);
	assert_null(queue_open(fx_path(fx, "nospool", NULL), err,
	    sizeof(err)));
	assert_err_has(err, fx_path(fx, "nospool/tmp", NULL));
	assert_err_has(err, "No such file");
	assert_int_equal(mkdir(fx_path(fx, "s2", NULL), 0700), 0);
	TU_WRITE(fx_path(fx, "s2", "tmp"), "x", 1);
	assert_null(queue_open(fx_path(fx, "s2", NULL), err, sizeof(err)));
	assert_err_has(err, "s2/tmp: not a directory");
	assert_null(queue_open("", err, sizeof(err)));
}

static void
test_commit_roundtrip(void **state)
{
	struct fx *fx = *state;
	struct queue_env env, got;
	unsigned char *data = pattern(BIG_MSG);
	char	id[QUEUE_ID_LEN + 1], name[64];

	assert_non_null(data);
	fill_env(&env, 5);
	commit_ok(fx, data, BIG_MSG, &env, id);
	assert_int_equal(strlen(id), QUEUE_ID_LEN);
	assert_int_equal(strspn(id, "0123456789abcdef"), QUEUE_ID_LEN);
	assert_int_equal(tu_count_entries(fx_path(fx, "tmp", NULL)), 0);
	assert_int_equal(tu_count_entries(fx_path(fx, "queue", NULL)), 2);
	(void)snprintf(name, sizeof(name), "%s.env", id);
	assert_int_equal(file_mode(fx_path(fx, "queue", name)), 0600);
	(void)snprintf(name, sizeof(name), "%s.msg", id);
	assert_int_equal(file_mode(fx_path(fx, "queue", name)), 0600);
	load_ok(fx, id, &got);
	env_equal(&got, &env);
	msg_is(fx, id, data, BIG_MSG);
	queue_env_free(&got);
	queue_env_free(&env);
	assert_null(env.rcpt);
	queue_env_free(NULL);
	free(data);
}

/* <>, empty client and helo, 7bit, spaces in values, an empty message. */
static void
test_commit_edges(void **state)
{
	struct fx *fx = *state;
	struct queue_env env, got;
	char	id[QUEUE_ID_LEN + 1], id2[QUEUE_ID_LEN + 1], **ids;
	size_t	n;

	memset(&env, 0, sizeof(env));
	assert_int_equal(queue_env_add_rcpt(&env, "\"john doe\"@ex.net", 7),
	    0);
	(void)snprintf(env.rcpt[0].last_reply, sizeof(env.rcpt[0].last_reply),
	    " 550 reply=x  ");
	env.rcpt[0].attempts = 2147483647;
	env.rcpt[0].next_try = INT64_MAX;
	env.rcpt[0].state = QUEUE_RCPT_FAILED;
	env.rcpt[0].last_try = INT64_MAX;
	(void)snprintf(env.rcpt[0].status, sizeof(env.rcpt[0].status),
	    "5.999.999");
	memset(env.rcpt[0].remote, '~', QUEUE_HOST_MAX);
	env.rcpt[0].remote[0] = '!';
	env.warned = 5;
	env.arrival = 0;
	commit_ok(fx, (const unsigned char *)"", 0, &env, id);
	env.rcpt[0].local = 1;
	env.warned = 1;
	load_ok(fx, id, &got);
	env_equal(&got, &env);
	msg_is(fx, id, (const unsigned char *)"", 0);
	queue_env_free(&got);
	commit_ok(fx, (const unsigned char *)"x\r\n", 3, &env, id2);
	assert_int_equal(queue_list(fx->q, &ids, &n, fx->err,
	    sizeof(fx->err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], strcmp(id, id2) < 0 ? id : id2);
	assert_string_equal(ids[1], strcmp(id, id2) < 0 ? id2 : id);
	queue_list_free(ids, n);
	queue_env_free(&env);
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Unique, hex, in time order; abort leaves nothing. */
static void
test_ids_abort(void **state)
{
	struct fx *fx = *state;
	struct queue_msg *m[100];
	const char *id[100];
	int	i;

	for (i = 0; i < 100; i++) {
		assert_non_null(m[i] = queue_msg_new(fx->q, fx->err,
		    sizeof(fx->err)));
		id[i] = queue_msg_id(m[i]);
		assert_int_equal(strspn(id[i], "0123456789abcdef"),
		    QUEUE_ID_LEN);
		assert_int_equal(strlen(id[i]), QUEUE_ID_LEN);
		if (i > 0)
			assert_true(strncmp(id[i - 1], id[i], 13) <= 0);
		assert_int_equal(queue_msg_write(m[i], "abc", 3, fx->err,
		    sizeof(fx->err)), 0);
	}
	qsort(id, 100, sizeof(id[0]), id_cmp);
	for (i = 1; i < 100; i++)
		assert_string_not_equal(id[i - 1], id[i]);
	assert_int_equal(tu_count_entries(fx_path(fx, "tmp", NULL)), 100);
	for (i = 0; i < 100; i++)
		queue_msg_abort(m[i]);
	queue_msg_abort(NULL);
	assert_int_equal(tu_count_entries(fx_path(fx, "tmp", NULL)), 0);
	assert_int_equal(tu_count_entries(fx_path(fx, "queue", NULL)), 0);
}

/* An envelope commit refuses: the message is dropped, nothing stays. */
static void
test_commit_refused(void **state)
{
	struct fx *fx = *state;
	struct queue_msg *m;
	struct queue_env env;
	char	want[128];

	fill_env(&env, 2);
	(void)snprintf(env.sender, sizeof(env.sender), "a@b\r\nRCPT TO:<x>");
	assert_non_null(m = queue_msg_new(fx->q, fx->err, sizeof(fx->err)));
	(void)snprintf(want, sizeof(want), "tmp/%s.env: sender contains CR",
	    queue_msg_id(m));
	assert_int_equal(queue_msg_write(m, "hi", 2, fx->err,
	    sizeof(fx->err)), 0);
	assert_int_equal(queue_msg_commit(m, &env, fx->err, sizeof(fx->err)),
	    -1);
	assert_err_has(fx->err, want);
	queue_env_free(&env);
	memset(&env, 0, sizeof(env));
	assert_non_null(m = queue_msg_new(fx->q, fx->err, sizeof(fx->err)));
	assert_int_equal(queue_msg_commit(m, &env, fx->err, sizeof(fx->err)),
	    -1);
	assert_err_has(fx->err, "0 recipients");
	assert_int_equal(tu_count_entries(fx_path(fx, "tmp", NULL)), 0);
	assert_int_equal(tu_count_entries(fx_path(fx, "queue", NULL)), 0);
}

/* A rename that fails: no envelope, no message, nothing in tmp/. */
static void
test_commit_rename_fails(void **state)
{
	struct fx *fx = *state;
	struct queue_msg *m;
	struct queue_env env;
	char	name[64];

	fill_env(&env, 1);
	/* queue/ gone: the first rename fails. */
	assert_non_null(m = queue_msg_new(fx->q, fx->err, sizeof(fx->err)));
	assert_int_equal(rmdir(fx_path(fx, "queue", NULL)), 0);
	assert_int_equal(queue_msg_commit(m, &env, fx->err, sizeof(fx->err)),
	    -1);
	assert_err_has(fx->err, "rename: No such file");
	assert_int_equal(tu_count_entries(fx_path(fx, "tmp", NULL)), 0);
	assert_int_equal(mkdir(fx_path(fx, "queue", NULL), 0700), 0);
	/* queue/ID.env a directory: the message was renamed, is removed. */
	assert_non_null(m = queue_msg_new(fx->q, fx->err, sizeof(fx->err)));
	(void)snprintf(name, sizeof(name), "%s.env", queue_msg_id(m));
	assert_int_equal(mkdir(fx_path(fx, "queue", name), 0700), 0);
	assert_int_equal(queue_msg_commit(m, &env, fx->err, sizeof(fx->err)),
	    -1);
	assert_err_has(fx->err, name);
	assert_int_equal(tu_count_entries(fx_path(fx, "tmp", NULL)), 0);
	assert_int_equal(tu_count_entries(fx_path(fx, "queue", NULL)), 1);
	assert_int_equal(rmdir(fx_path(fx, "queue", name)), 0);
	queue_env_free(&env);
}

/* ------------------------------------------------------------------ */
/* envelope rewrite							*/

static ino_t
inode(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	return sb.st_ino;
}

static void
test_save_rewrite(void **state)
{
	struct fx *fx = *state;
	struct queue_env env, got;
	char	id[QUEUE_ID_LEN + 1], name[64];
	ino_t	before;

	fill_env(&env, 3);
	commit_ok(fx, (const unsigned char *)"m\r\n", 3, &env, id);
	(void)snprintf(name, sizeof(name), "%s.env", id);
	before = inode(fx_path(fx, "queue", name));
	env.rcpt[0].state = QUEUE_RCPT_DELIVERED;
	env.rcpt[1].attempts = 4;
	env.rcpt[1].next_try = 1800000000;
	(void)snprintf(env.rcpt[2].last_reply, sizeof(env.rcpt[2].last_reply),
	    "550 5.1.1 no such user");
	env.rcpt[2].state = QUEUE_RCPT_FAILED;
	assert_int_equal(queue_env_add_rcpt(&env, "late@example.org", 1), 0);
	assert_int_equal(queue_env_save(fx->q, &env, fx->err,
	    sizeof(fx->err)), 0);
	assert_true(inode(fx_path(fx, "queue", name)) != before);
	load_ok(fx, id, &got);
	env_equal(&got, &env);
	queue_env_free(&got);
	msg_is(fx, id, (const unsigned char *)"m\r\n", 3);
	assert_int_equal(tu_count_entries(fx_path(fx, "tmp", NULL)), 0);
	assert_int_equal(tu_count_entries(fx_path(fx, "queue", NULL)), 2);
	/* No message, no envelope. */
	(void)snprintf(env.id, sizeof(env.id), "%s", LID);
	assert_int_equal(queue_env_save(fx->q, &env, fx->err,
	    sizeof(fx->err)), -1);
	assert_err_has(fx->err, "queue/" LID ".msg: lstat: No such file");
	assert_int_equal(tu_count_entries(fx_path(fx, "queue", NULL)), 2);
	queue_env_free(&env);
}

enum mutation {
	MUT_SENDER_CR, MUT_SENDER_LF, MUT_CLIENT_LF, MUT_HELO_CR,
	MUT_ADDR_CR, MUT_REPLY_LF, MUT_ADDR_SEP, MUT_ADDR_EMPTY,
	MUT_SENDER_LONG, MUT_REPLY_LONG, MUT_STATE, MUT_ATTEMPTS, MUT_NEXT,
	MUT_ARRIVAL, MUT_NO_RCPT, MUT_BAD_ID, MUT_ID_LONG, MUT_LAST,
	MUT_STATUS_SHORT, MUT_STATUS_CLASS, MUT_STATUS_DIGITS,
	MUT_STATUS_LONG, MUT_REMOTE_SPACE, MUT_REMOTE_8BIT, MUT_REMOTE_LONG
};

static const struct {
	enum mutation	 mut;
	const char	*want;
} save_cases[] = {
	{ MUT_SENDER_CR,	"sender contains CR or LF" },
	{ MUT_SENDER_LF,	"sender contains CR or LF" },
	{ MUT_CLIENT_LF,	"client contains CR or LF" },
	{ MUT_HELO_CR,		"helo contains CR or LF" },
	{ MUT_ADDR_CR,		"rcpt 2: addr contains CR or LF" },
	{ MUT_REPLY_LF,		"rcpt 1: reply contains CR or LF" },
	{ MUT_ADDR_SEP,		"rcpt 2: addr empty or holds" },
	{ MUT_ADDR_EMPTY,	"rcpt 1: addr empty or holds" },
	{ MUT_SENDER_LONG,	"sender too long" },
	{ MUT_REPLY_LONG,	"rcpt 2: reply too long" },
	{ MUT_STATE,		"rcpt 2: bad state" },
	{ MUT_ATTEMPTS,		"rcpt 1: negative attempts" },
	{ MUT_NEXT,		"rcpt 2: negative attempts or next" },
	{ MUT_ARRIVAL,		"negative arrival" },
	{ MUT_NO_RCPT,		"0 recipients" },
	{ MUT_BAD_ID,		"bad queue ID" },
	{ MUT_ID_LONG,		"bad queue ID" },
	{ MUT_LAST,		"rcpt 2: negative last" },
	{ MUT_STATUS_SHORT,	"rcpt 1: bad status" },
	{ MUT_STATUS_CLASS,	"rcpt 2: bad status" },
	{ MUT_STATUS_DIGITS,	"rcpt 2: bad status" },
	{ MUT_STATUS_LONG,	"rcpt 1: bad status" },
	{ MUT_REMOTE_SPACE,	"rcpt 2: bad remote" },
	{ MUT_REMOTE_8BIT,	"rcpt 1: bad remote" },
	{ MUT_REMOTE_LONG,	"rcpt 2: bad remote" },
};

static void
mutate(struct queue_env *e, enum mutation mut)
{
	struct queue_rcpt *r = e->rcpt;

	switch (mut) {
	case MUT_SENDER_CR:	e->sender[3] = '\r'; break;
	case MUT_SENDER_LF:	e->sender[0] = '\n'; break;
	case MUT_CLIENT_LF:	(void)strcat(e->client, "\n"); break;
	case MUT_HELO_CR:	(void)strcat(e->helo, "\r"); break;
	case MUT_ADDR_CR:	r[1].addr[2] = '\r'; break;
	case MUT_REPLY_LF:	(void)strcpy(r[0].last_reply, "451\n"); break;
	case MUT_ADDR_SEP:	(void)strcpy(r[1].addr, "a reply=@x"); break;
	case MUT_ADDR_EMPTY:	r[0].addr[0] = '\0'; break;
	case MUT_SENDER_LONG:	memset(e->sender, 'a', sizeof(e->sender));
				break;
	case MUT_REPLY_LONG:	memset(r[1].last_reply, 'r',
				    sizeof(r[1].last_reply));
				break;
	case MUT_STATE:		r[1].state = (enum queue_rcpt_state)7; break;
	case MUT_ATTEMPTS:	r[0].attempts = -1; break;
	case MUT_NEXT:		r[1].next_try = -1; break;
	case MUT_ARRIVAL:	e->arrival = -1; break;
	case MUT_NO_RCPT:	e->nrcpt = 0; break;
	case MUT_BAD_ID:	e->id[5] = 'G'; break;
	case MUT_ID_LONG:	memset(e->id, 'a', sizeof(e->id)); break;
	case MUT_LAST:		r[1].last_try = -1; break;
	case MUT_STATUS_SHORT:	(void)strcpy(r[0].status, "4.7"); break;
	case MUT_STATUS_CLASS:	(void)strcpy(r[1].status, "3.1.1"); break;
	case MUT_STATUS_DIGITS:	(void)strcpy(r[1].status, "4.1234.1"); break;
	case MUT_STATUS_LONG:	memset(r[0].status, '4', sizeof(r[0].status));
				break;
	case MUT_REMOTE_SPACE:	(void)strcpy(r[1].remote, "mx .example"); break;
	case MUT_REMOTE_8BIT:	(void)strcpy(r[0].remote, "m\xc3\xa9x"); break;
	case MUT_REMOTE_LONG:	memset(r[1].remote, 'a', sizeof(r[1].remote));
				break;
	}
}

/* Save refuses what load would refuse; the old envelope stays. */
static void
test_save_refuses(void **state)
{
	struct fx *fx = *state;
	struct queue_env env, bad, got;
	char	id[QUEUE_ID_LEN + 1];
	size_t	i, n;

	fill_env(&env, 3);
	commit_ok(fx, (const unsigned char *)"m", 1, &env, id);
	for (i = 0; i < sizeof(save_cases) / sizeof(save_cases[0]); i++) {
		fill_env(&bad, 3);
		memcpy(bad.id, id, sizeof(bad.id));
		n = bad.nrcpt;
		mutate(&bad, save_cases[i].mut);
		if (queue_env_save(fx->q, &bad, fx->err, sizeof(fx->err)) != -1)
			fail_msg("case %zu saved", i);
		assert_err_has(fx->err, save_cases[i].want);
		bad.nrcpt = n;
		queue_env_free(&bad);
		load_ok(fx, id, &got);
		env_equal(&got, &env);
		queue_env_free(&got);
		assert_int_equal(tu_count_entries(fx_path(fx, "tmp", NULL)), 0);
	}
	queue_env_free(&env);
}

static void
test_add_rcpt(void **state)
{
	struct queue_env env;
	char	addr[QUEUE_ADDR_MAX + 2];
	int	i;

	(void)state;
	memset(&env, 0, sizeof(env));
	memset(addr, 'a', sizeof(addr));
	addr[QUEUE_ADDR_MAX + 1] = '\0';
	assert_int_equal(queue_env_add_rcpt(&env, addr, 0), -1);
	assert_int_equal(queue_env_add_rcpt(&env, "", 0), -1);
	addr[QUEUE_ADDR_MAX] = '\0';
	assert_int_equal(queue_env_add_rcpt(&env, addr, 0), 0);
	for (i = 1; i < QUEUE_RCPT_MAX; i++)
		assert_int_equal(queue_env_add_rcpt(&env, "x@y", i), 0);
	assert_int_equal(queue_env_add_rcpt(&env, "x@y", 0), -1);
	assert_int_equal(env.nrcpt, QUEUE_RCPT_MAX);
	assert_string_equal(env.rcpt[0].addr, addr);
	assert_int_equal(env.rcpt[5].local, 1);
	assert_int_equal(env.rcpt[5].state, QUEUE_RCPT_PENDING);
	assert_int_equal(env.rcpt[5].last_reply[0], '\0');
	queue_env_free(&env);
}

/* ------------------------------------------------------------------ */
/* envelope loading							*/

static const char *const base_lines[] = {
	"pinpost-env 1",
	"id " LID,
	"arrival 1700000000",
	"sender a@b.example",
	"client [127.0.0.1]:51234",
	"helo client.example",
	"body 8bit",
	"smtputf8 0",
	"rcpt state=pending local=1 attempts=0 next=0 addr=user@example.net "
	    "reply=",
};
#define NBASE	(sizeof(base_lines) / sizeof(base_lines[0]))

#define RCPT_P	"rcpt state=pending local=1 attempts=0 next=0 "

static const struct load_case {
	int		 line;		/* 0-based */
	int		 insert;	/* before line, else replace it */
	const char	*text;		/* NULL: delete the line */
	const char	*want;		/* after "ID.env" */
} load_cases[] = {
	{ 0, 0, "pinpost-env 3",	":1: unsupported version" },
	{ 0, 0, "pinpost-env 10",	":1: unsupported version" },
	{ 0, 0, "pinpost-env 01",	":1: unsupported version" },
	{ 0, 0, "pinpost-env",		":1: not a pinpost envelope" },
	{ 0, 0, "hello",		":1: not a pinpost envelope" },
	{ 1, 0, "id 0000000000000000ffff", ":2: bad id" },
	{ 1, 0, "id ",			":2: bad id" },
	{ 1, 0, "id " LID " ",		":2: bad id" },
	{ 2, 0, "arrival -5",		":3: bad arrival" },
	{ 2, 0, "arrival 12x",		":3: bad arrival" },
	{ 2, 0, "arrival ",		":3: bad arrival" },
	{ 2, 0, "arrival  5",		":3: bad arrival" },
	{ 2, 0, "arrival +5",		":3: bad arrival" },
	{ 2, 0, "arrival 9223372036854775808", ":3: bad arrival" },
	{ 2, 1, "arrival 5",		":4: expected 'sender', got" },
	{ 3, 0, "sender a\rb",		":4: CR or NUL in line" },
	{ 5, 0, "helo",			":6: bad line" },
	{ 5, 0, "colour red",		":6: unknown key 'colour'" },
	{ 5, 0, "arrival 5",		":6: expected 'helo', got 'arrival'" },
	{ 6, 0, "body 9bit",		":7: bad body" },
	{ 6, 0, "body 8BIT",		":7: bad body" },
	{ 6, 0, NULL,			":7: expected 'body', got 'smtputf8'" },
	{ 7, 0, "smtputf8 2",		":8: bad smtputf8" },
	{ 7, 0, "smtputf8 yes",		":8: bad smtputf8" },
	{ 7, 0, RCPT_P "addr=u@x reply=", ":8: expected 'smtputf8', got" },
	{ 8, 0, NULL,			":9: no recipients" },
	{ 8, 0, "rcpt state=sent local=1 attempts=0 next=0 addr=u@x reply=",
	    ":9: bad rcpt state" },
	{ 8, 0, "rcpt local=1 state=pending attempts=0 next=0 addr=u@x reply=",
	    ":9: bad rcpt state" },
	{ 8, 0, "rcpt  state=pending local=1 attempts=0 next=0 addr=u reply=",
	    ":9: bad rcpt state" },
	{ 8, 0, "rcpt state=pending local=2 attempts=0 next=0 addr=u reply=",
	    ":9: bad rcpt local" },
	{ 8, 0, "rcpt state=pending local=1 attempts=-1 next=0 addr=u reply=",
	    ":9: bad rcpt attempts" },
	{ 8, 0, "rcpt state=pending local=1 attempts=2147483648 next=0 addr=u "
	    "reply=", ":9: bad rcpt attempts" },
	{ 8, 0, "rcpt state=pending local=1 attempts=0 next=x addr=u reply=",
	    ":9: bad rcpt next" },
	{ 8, 0, "rcpt state=pending local=1 attempts=0 next=0",
	    ":9: bad rcpt next" },
	{ 8, 0, RCPT_P "addr= reply=",	":9: bad rcpt addr" },
	{ 8, 0, RCPT_P "addr=u@x",	":9: bad rcpt addr" },
	{ 8, 0, RCPT_P "to=u@x reply=",	":9: bad rcpt addr" },
	{ 9, 1, "foo bar",		":10: unknown key 'foo'" },
	{ 9, 1, "helo again",		":10: unexpected 'helo'" },
	{ 9, 1, "",			":10: bad line" },
	{ 9, 1, "rcpt",			":10: bad line" },
	/* Version 2 keys are not part of version 1. */
	{ 8, 1, "warned 0",		":9: unexpected 'warned'" },
	{ 8, 0, RCPT_P "last=0 status= remote= addr=u reply=",
	    ":9: bad rcpt addr" },
};

/* Version 2: the current format. */
static const char *const base2_lines[] = {
	"pinpost-env 2",
	"id " LID,
	"arrival 1700000000",
	"sender a@b.example",
	"client [127.0.0.1]:51234",
	"helo client.example",
	"body 7bit",
	"smtputf8 1",
	"warned 1",
	"rcpt state=pending local=0 attempts=3 next=1700009000 "
	    "last=1700005000 status=4.7.5 remote=mx1.example.net "
	    "addr=user@example.net reply=451 4.7.5 no pin matched",
	RCPT_P "last=0 status= remote= addr=u2@example.net reply=",
};
#define NBASE2	(sizeof(base2_lines) / sizeof(base2_lines[0]))

#define RCPT_L	RCPT_P "last=0 "

static const struct load_case load2_cases[] = {
	{ 0, 0, "pinpost-env 1",	":9: unexpected 'warned'" },
	{ 8, 0, "warned 2",		":9: bad warned" },
	{ 8, 0, "warned ",		":9: bad warned" },
	{ 8, 0, "warned",		":9: bad line" },
	{ 8, 0, NULL,			":9: expected 'warned', got 'rcpt'" },
	{ 8, 1, "smtputf8 0",		":9: expected 'warned', got" },
	{ 9, 0, RCPT_P "addr=u@x reply=", ":10: bad rcpt last" },
	{ 9, 0, RCPT_P "last=x status= remote= addr=u reply=",
	    ":10: bad rcpt last" },
	{ 9, 0, RCPT_P "last=-1 status= remote= addr=u reply=",
	    ":10: bad rcpt last" },
	{ 9, 0, RCPT_P "status= last=0 remote= addr=u reply=",
	    ":10: bad rcpt last" },
	{ 9, 0, RCPT_L "status=4.7 remote= addr=u reply=",
	    ":10: bad rcpt status" },
	{ 9, 0, RCPT_L "status=3.1.1 remote= addr=u reply=",
	    ":10: bad rcpt status" },
	{ 9, 0, RCPT_L "status=4.1234.1 remote= addr=u reply=",
	    ":10: bad rcpt status" },
	{ 9, 0, RCPT_L "status=4.1.1. remote= addr=u reply=",
	    ":10: bad rcpt status" },
	{ 9, 0, RCPT_L "status=4..1 remote= addr=u reply=",
	    ":10: bad rcpt status" },
	{ 9, 0, RCPT_L "status=4.a.1 remote= addr=u reply=",
	    ":10: bad rcpt status" },
	{ 9, 0, RCPT_L "remote= status= addr=u reply=",
	    ":10: bad rcpt status" },
	{ 9, 0, RCPT_L "status= remote=m\x7fx addr=u reply=",
	    ":10: bad rcpt remote" },
	{ 9, 0, RCPT_L "status= remote=m\xc3\xa9 addr=u reply=",
	    ":10: bad rcpt remote" },
	{ 9, 0, RCPT_L "status= remote=mx", ":10: bad rcpt remote" },
	{ 9, 0, RCPT_L "status= addr=u reply=", ":10: bad rcpt remote" },
	{ 9, 0, RCPT_L "status= remote=mx addr= reply=",
	    ":10: bad rcpt addr" },
	{ 9, 0, RCPT_L "status= remote=mx reply=", ":10: bad rcpt addr" },
	{ 11, 1, "warned 0",		":12: unexpected 'warned'" },
};

/* base (n lines), line c->line replaced/preceded/deleted per c. */
static char *
env_text_from(const char *const *base, size_t n, const struct load_case *c)
{
	char	*buf;
	size_t	i, len = 0, cap = 1 << 16;

	assert_non_null(buf = malloc(cap));
	for (i = 0; i <= n; i++) {
		if (c != NULL && (size_t)c->line == i && c->text != NULL) {
			len += (size_t)snprintf(buf + len, cap - len, "%s\n",
			    c->text);
			if (!c->insert)
				continue;
		} else if (c != NULL && (size_t)c->line == i && !c->insert)
			continue;
		if (i < n)
			len += (size_t)snprintf(buf + len, cap - len, "%s\n",
			    base[i]);
	}
	assert_true(len < cap);
	return buf;
}

/* The version-1 base envelope, changed per c (NULL: as it is). */
static char *
env_text(const struct load_case *c)
{
	return env_text_from(base_lines, NBASE, c);
}

static void
load_fails(struct fx *fx, const char *text, size_t len, const char *want)
{
	struct queue_env env;
	char	full[256];

	TU_WRITE(fx_path(fx, "queue", LID ".env"), text, len);
	if (queue_env_load(fx->q, LID, &env, fx->err, sizeof(fx->err)) != -1)
		fail_msg("loaded: %.*s", (int)len, text);
	(void)snprintf(full, sizeof(full), "queue/" LID ".env%s", want);
	assert_err_has(fx->err, full);
	assert_null(env.rcpt);
	assert_int_equal(env.nrcpt, 0);
}

static void
test_load_errors(void **state)
{
	struct fx *fx = *state;
	struct queue_env env;
	char	*text;
	size_t	i;

	TU_WRITE(fx_path(fx, "queue", LID ".msg"), "m", 1);
	text = env_text(NULL);
	TU_WRITE(fx_path(fx, "queue", LID ".env"), text, strlen(text));
	free(text);
	load_ok(fx, LID, &env);
	assert_true(env.arrival == 1700000000);
	assert_string_equal(env.client, "[127.0.0.1]:51234");
	assert_int_equal(env.body_8bit, 1);
	assert_int_equal(env.nrcpt, 1);
	assert_string_equal(env.rcpt[0].addr, "user@example.net");
	assert_int_equal(env.rcpt[0].local, 1);
	assert_int_equal(env.warned, 0);
	assert_true(env.rcpt[0].last_try == 0);
	assert_string_equal(env.rcpt[0].status, "");
	assert_string_equal(env.rcpt[0].remote, "");
	queue_env_free(&env);
	for (i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]); i++) {
		text = env_text(&load_cases[i]);
		load_fails(fx, text, strlen(text), load_cases[i].want);
		free(text);
	}
}

static void
test_load_errors_v2(void **state)
{
	struct fx *fx = *state;
	struct queue_env env;
	char	*text;
	size_t	i;

	TU_WRITE(fx_path(fx, "queue", LID ".msg"), "m", 1);
	text = env_text_from(base2_lines, NBASE2, NULL);
	TU_WRITE(fx_path(fx, "queue", LID ".env"), text, strlen(text));
	free(text);
	load_ok(fx, LID, &env);
	assert_int_equal(env.smtputf8, 1);
	assert_int_equal(env.warned, 1);
	assert_int_equal(env.nrcpt, 2);
	assert_int_equal(env.rcpt[0].attempts, 3);
	assert_true(env.rcpt[0].next_try == 1700009000);
	assert_true(env.rcpt[0].last_try == 1700005000);
	assert_string_equal(env.rcpt[0].status, "4.7.5");
	assert_string_equal(env.rcpt[0].remote, "mx1.example.net");
	assert_string_equal(env.rcpt[0].addr, "user@example.net");
	assert_string_equal(env.rcpt[0].last_reply, "451 4.7.5 no pin matched");
	assert_string_equal(env.rcpt[1].status, "");
	assert_string_equal(env.rcpt[1].remote, "");
	queue_env_free(&env);
	for (i = 0; i < sizeof(load2_cases) / sizeof(load2_cases[0]); i++) {
		text = env_text_from(base2_lines, NBASE2, &load2_cases[i]);
		load_fails(fx, text, strlen(text), load2_cases[i].want);
		free(text);
	}
}

/*
 * A version-1 file (as an older pinpostd left it) loads; the next save
 * writes version 2, and what it holds comes back.
 */
static void
test_load_v1_save_v2(void **state)
{
	struct fx *fx = *state;
	struct queue_env env, got;
	char	*text = env_text(NULL);
	unsigned char *file;
	size_t	len;

	TU_WRITE(fx_path(fx, "queue", LID ".msg"), "m", 1);
	TU_WRITE(fx_path(fx, "queue", LID ".env"), text, strlen(text));
	load_ok(fx, LID, &env);
	assert_string_equal(env.sender, "a@b.example");
	assert_int_equal(env.warned, 0);
	assert_string_equal(env.rcpt[0].status, "");
	env.warned = 1;
	env.rcpt[0].last_try = 1700000123;
	(void)snprintf(env.rcpt[0].status, sizeof(env.rcpt[0].status),
	    "4.4.1");
	(void)snprintf(env.rcpt[0].remote, sizeof(env.rcpt[0].remote),
	    "[192.0.2.7]");
	assert_int_equal(queue_env_save(fx->q, &env, fx->err,
	    sizeof(fx->err)), 0);
	file = read_all(fx_path(fx, "queue", LID ".env"), &len);
	assert_true(len > 14);
	assert_memory_equal(file, "pinpost-env 2\n", 14);
	load_ok(fx, LID, &got);
	env_equal(&got, &env);
	queue_env_free(&got);
	queue_env_free(&env);
	free(file);
	free(text);
}

#define V2_NO_WARNED	"pinpost-env 2\nid " LID "\narrival 1\nsender \n" \
	"client \nhelo \nbody 7bit\nsmtputf8 0\n"

/* Errors that need bytes the table cannot hold. */
static void
test_load_errors_raw(void **state)
{
	struct fx *fx = *state;
	char	*text = env_text(NULL), *p;
	size_t	len = strlen(text);

	load_fails(fx, "", 0, ": empty file");
	load_fails(fx, text, len - 1, ":9: no newline at end of file");
	load_fails(fx, V2_NO_WARNED, strlen(V2_NO_WARNED),
	    ":9: missing 'warned'");
	load_fails(fx, text, (size_t)(strstr(text, "client") - text),
	    ":5: missing 'client'");
	p = strstr(text, "a@b.example");
	*p = '\0';
	load_fails(fx, text, len, ":4: CR or NUL in line");
	load_fails(fx, "pinpost-env 1\n", 14, ":2: missing 'id'");
	load_fails(fx, "pinpost-env 1\r\n", 15, ":1: CR or NUL in line");
	free(text);
}

/* Overlong values and lines, too many recipients; the maximum loads. */
static void
test_load_limits(void **state)
{
	struct fx *fx = *state;
	struct queue_env env;
	char	*text = env_text(NULL), *big;
	size_t	len = strlen(text), cap = 2 * 1024 * 1024, i;

	assert_non_null(big = malloc(cap));
	(void)snprintf(big, cap, "%.*ssender %0257d\n", (int)(strstr(text,
	    "sender") - text), text, 0);
	load_fails(fx, big, strlen(big), ":4: sender too long");
	(void)snprintf(big, cap, "%.*sclient %0128d\n", (int)(strstr(text,
	    "client") - text), text, 0);
	load_fails(fx, big, strlen(big), ":5: client too long");
	(void)snprintf(big, cap, "%.*shelo %03000d\n", (int)(strstr(text,
	    "helo") - text), text, 0);
	load_fails(fx, big, strlen(big), ":6: line too long");
	(void)snprintf(big, cap, "%s" RCPT_P "addr=%0257d reply=\n", text, 0);
	load_fails(fx, big, strlen(big), ":10: rcpt addr too long");
	(void)snprintf(big, cap, "%s" RCPT_P "addr=u reply=%0513d\n", text, 0);
	load_fails(fx, big, strlen(big), ":10: rcpt reply too long");

	memcpy(big, text, len + 1);
	for (i = 1; i < QUEUE_RCPT_MAX; i++)
		len += (size_t)snprintf(big + len, cap - len, RCPT_P
		    "addr=u%zu@x reply=%0400d\n", i, 0);
	TU_WRITE(fx_path(fx, "queue", LID ".env"), big, len);
	load_ok(fx, LID, &env);
	assert_int_equal(env.nrcpt, QUEUE_RCPT_MAX);
	assert_string_equal(env.rcpt[QUEUE_RCPT_MAX - 1].addr, "u999@x");
	queue_env_free(&env);
	len += (size_t)snprintf(big + len, cap - len, RCPT_P "addr=u reply=\n");
	load_fails(fx, big, len, ":1009: too many recipients");
	free(big);
	free(text);
}

/* Version 2 fields too long for the table. */
static void
test_load_limits_v2(void **state)
{
	struct fx *fx = *state;
	struct queue_env env;
	char	*text = env_text_from(base2_lines, NBASE2, NULL), big[4096];

	(void)snprintf(big, sizeof(big), "%s" RCPT_L "status= remote=%0256d "
	    "addr=u reply=\n", text, 0);
	load_fails(fx, big, strlen(big), ":12: rcpt remote too long");
	(void)snprintf(big, sizeof(big), "%s" RCPT_L "status=5.999.999 "
	    "remote=%0255d addr=u reply=\n", text, 0);
	TU_WRITE(fx_path(fx, "queue", LID ".env"), big, strlen(big));
	load_ok(fx, LID, &env);
	assert_int_equal(strlen(env.rcpt[2].remote), QUEUE_HOST_MAX);
	assert_string_equal(env.rcpt[2].status, "5.999.999");
	queue_env_free(&env);
	(void)snprintf(big, sizeof(big), "%s" RCPT_L "status=4.100.1000 "
	    "remote= addr=u reply=\n", text);
	load_fails(fx, big, strlen(big), ":12: bad rcpt status");
	free(text);
}

static void
test_load_missing(void **state)
{
	struct fx *fx = *state;
	struct queue_env env;
	char	buf[1024];

	assert_int_equal(queue_env_load(fx->q, LID, &env, fx->err,
	    sizeof(fx->err)), -1);
	assert_err_has(fx->err, "queue/" LID ".env: open: No such file");
	assert_null(env.rcpt);
	assert_int_equal(queue_env_load(fx->q, "../../../../etc/passwd", &env,
	    fx->err, sizeof(fx->err)), -1);
	assert_err_has(fx->err, "bad queue ID");
	assert_int_equal(queue_env_load(fx->q, "0000018BCFE568000ABC", &env,
	    fx->err, sizeof(fx->err)), -1);
	assert_err_has(fx->err, "bad queue ID");
	assert_int_equal(queue_msg_path(fx->q, "../x", buf, sizeof(buf)), -1);
	assert_int_equal(queue_msg_path(fx->q, LID, buf, 10), -1);
	assert_int_equal(queue_msg_path(fx->q, LID, buf, sizeof(buf)), 0);
	assert_string_equal(buf, fx_path(fx, "queue", LID ".msg"));
}

/* ------------------------------------------------------------------ */
/* list, remove, recover						*/

static void
test_list_remove(void **state)
{
	struct fx *fx = *state;
	struct queue_env env;
	char	id[5][QUEUE_ID_LEN + 1], **ids;
	size_t	n, i;

	fill_env(&env, 1);
	for (i = 0; i < 5; i++)
		commit_ok(fx, (const unsigned char *)"m", 1, &env, id[i]);
	TU_WRITE(fx_path(fx, "queue", "README"), "x", 1);
	TU_WRITE(fx_path(fx, "queue", "0000018BCFE568000ABC.env"), "x", 1);
	TU_WRITE(fx_path(fx, "queue", LID ".msg"), "x", 1);
	TU_WRITE(fx_path(fx, "queue", LID ".env.old"), "x", 1);
	assert_int_equal(queue_remove(fx->q, id[2], 1, fx->err, sizeof(fx->err)),
	    0);
	assert_int_equal(queue_remove(fx->q, id[2], 1, fx->err, sizeof(fx->err)),
	    0);
	assert_int_equal(queue_remove(fx->q, "..", 0, fx->err, sizeof(fx->err)),
	    -1);
	assert_err_has(fx->err, "bad queue ID");
	assert_int_equal(queue_list(fx->q, &ids, &n, fx->err,
	    sizeof(fx->err)), 0);
	assert_int_equal(n, 4);
	for (i = 1; i < n; i++)
		assert_true(strcmp(ids[i - 1], ids[i]) < 0);
	for (i = 0; i < n; i++)
		assert_string_not_equal(ids[i], id[2]);
	assert_string_equal(ids[0], id[0]);
	queue_list_free(ids, n);
	assert_int_equal(tu_count_entries(fx_path(fx, "queue", NULL)), 12);
	queue_env_free(&env);
}

/* What a crash can leave, made by hand. */
static void
test_recover(void **state)
{
	struct fx *fx = *state;
	struct queue_env env, got;
	char	id[QUEUE_ID_LEN + 1], *text = env_text(NULL);
	const char *orphan = "0000018bcfe5680001ab.msg";

	fill_env(&env, 2);
	commit_ok(fx, (const unsigned char *)"whole", 5, &env, id);
	TU_WRITE(fx_path(fx, "tmp", "0000018bcfe5680000aa.msg"), "x", 1);
	TU_WRITE(fx_path(fx, "tmp", "0000018bcfe5680000aa.env"), "x", 1);
	TU_WRITE(fx_path(fx, "tmp", "odd name"), "", 0);
	TU_WRITE(fx_path(fx, "queue", orphan), "half", 4);
	TU_WRITE(fx_path(fx, "queue", LID ".env"), text, strlen(text));
	TU_WRITE(fx_path(fx, "queue", "notes.txt"), "x", 1);
	assert_int_equal(queue_recover(fx->q, fx->err, sizeof(fx->err)), -1);
	assert_err_has(fx->err, "queue/" LID ".env: envelope without message "
	    "(1 in all)");
	assert_int_equal(tu_count_entries(fx_path(fx, "tmp", NULL)), 0);
	assert_false(exists(fx_path(fx, "queue", orphan)));
	assert_true(exists(fx_path(fx, "queue", LID ".env")));
	assert_true(exists(fx_path(fx, "queue", "notes.txt")));
	load_ok(fx, id, &got);
	env_equal(&got, &env);
	queue_env_free(&got);
	msg_is(fx, id, (const unsigned char *)"whole", 5);
	assert_int_equal(unlink(fx_path(fx, "queue", LID ".env")), 0);
	assert_int_equal(queue_recover(fx->q, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(queue_recover(fx->q, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(tu_count_entries(fx_path(fx, "queue", NULL)), 3);
	queue_env_free(&env);
	free(text);
}

/* ------------------------------------------------------------------ */
/* crashes								*/

/* Fork a child running fn(spool) as fx->child; return once it is ready. */
static void
spawn(struct fx *fx, void (*fn)(const char *, int))
{
	int	p[2];
	char	c;
	pid_t	pid;

	assert_int_equal(pipe(p), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		(void)alarm(10);	/* should the parent be gone */
		(void)close(p[0]);
		fn(fx->dir, p[1]);
		_exit(0);
	}
	fx->child = pid;
	assert_int_equal(close(p[1]), 0);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(close(p[0]), 0);
}

static void
kill_child(struct fx *fx)
{
	pid_t	pid = fx->child;
	int	st;

	fx->child = 0;
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		fail_msg("writer ended on its own: status %d", st);
}

/* Commit BIG_MSG with fill_env(3) until killed. */
static void
commit_writer(const char *spool, int ready)
{
	char	err[QUEUE_ERR_MAX];
	unsigned char *data = pattern(BIG_MSG);
	struct queue *q = queue_open(spool, err, sizeof(err));
	struct queue_msg *m;
	struct queue_env env;

	if (data == NULL || q == NULL || write(ready, "r", 1) != 1)
		_exit(2);
	for (;;) {
		if ((m = queue_msg_new(q, err, sizeof(err))) == NULL ||
		    write_pieces(m, data, BIG_MSG, err, sizeof(err)) == -1)
			_exit(3);
		fill_env(&env, 3);
		if (queue_msg_commit(m, &env, err, sizeof(err)) == -1)
			_exit(4);
		queue_env_free(&env);
	}
}

static long
now_us(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (long)ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

/*
 * queue/ as a crash would leave it now: every envelope loads and its
 * message is there, whole.  How many envelopes were seen.
 */
static size_t
look_at_queue(struct fx *fx, off_t msg_size)
{
	struct queue_env env;
	struct dirent *de;
	struct stat sb;
	char	name[64];
	size_t	n = 0;
	DIR	*d;

	assert_non_null(d = opendir(fx_path(fx, "queue", NULL)));
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != QUEUE_ID_LEN + 4 ||
		    strcmp(de->d_name + QUEUE_ID_LEN, ".env") != 0)
			continue;
		(void)snprintf(name, sizeof(name), "%.*s.msg", QUEUE_ID_LEN,
		    de->d_name);
		if (stat(fx_path(fx, "queue", name), &sb) == -1 ||
		    sb.st_size != msg_size)
			fail_msg("%s without its whole message", de->d_name);
		name[QUEUE_ID_LEN] = '\0';
		load_ok(fx, name, &env);
		queue_env_free(&env);
		n++;
	}
	assert_int_equal(closedir(d), 0);
	return n;
}

/* Look at queue/ again and again for us microseconds. */
static size_t
watch_queue(struct fx *fx, long us, off_t msg_size)
{
	long	end = now_us() + us;
	size_t	seen = 0;

	do
		seen += look_at_queue(fx, msg_size);
	while (now_us() < end);
	return seen;
}

/* Every queued message complete; then remove them.  How many there were. */
static size_t
check_and_empty(struct fx *fx, const unsigned char *data)
{
	struct queue_env want, got;
	char	**ids;
	size_t	n, i;

	assert_int_equal(queue_list(fx->q, &ids, &n, fx->err,
	    sizeof(fx->err)), 0);
	assert_int_equal(tu_count_entries(fx_path(fx, "queue", NULL)),
	    (int)(2 * n));
	fill_env(&want, 3);
	for (i = 0; i < n; i++) {
		load_ok(fx, ids[i], &got);
		memcpy(want.id, ids[i], sizeof(want.id));
		env_equal(&got, &want);
		queue_env_free(&got);
		msg_is(fx, ids[i], data, BIG_MSG);
		assert_int_equal(queue_remove(fx->q, ids[i], i % 2, fx->err,
		    sizeof(fx->err)), 0);
	}
	queue_env_free(&want);
	queue_list_free(ids, n);
	return n;
}

static void
test_crash_commit(void **state)
{
	struct fx *fx = *state;
	unsigned char *data = pattern(BIG_MSG);
	size_t	queued = 0, leftovers = 0, orphans = 0, seen = 0;
	int	run, before;

	assert_non_null(data);
	for (run = 0; run < CRASH_RUNS; run++) {
		spawn(fx, commit_writer);
		seen += watch_queue(fx, (long)(run * 7919 % CRASH_SPAN_US),
		    BIG_MSG);
		kill_child(fx);
		leftovers += (size_t)tu_count_entries(fx_path(fx, "tmp", NULL));
		before = tu_count_entries(fx_path(fx, "queue", NULL));
		if (queue_recover(fx->q, fx->err, sizeof(fx->err)) == -1)
			fail_msg("run %d: recover: %s", run, fx->err);
		assert_int_equal(tu_count_entries(fx_path(fx, "tmp", NULL)), 0);
		orphans += (size_t)(before -
		    tu_count_entries(fx_path(fx, "queue", NULL)));
		queued += check_and_empty(fx, data);
	}
	print_message("crash: %d runs, %zu envelopes seen while writing, "
	    "%zu messages queued, %zu tmp/ leftovers and %zu orphans "
	    "removed\n", CRASH_RUNS, seen, queued, leftovers, orphans);
	assert_true(queued > 0);
	free(data);
}

/* A recipient's fields all follow from attempts a. */
static void
rewrite_rcpt(struct queue_rcpt *r, int a)
{
	r->attempts = a;
	r->next_try = a;
	r->state = (enum queue_rcpt_state)(a % 3);
	(void)snprintf(r->last_reply, sizeof(r->last_reply),
	    "451 4.4.1 attempt %d %0400d", a, a);
}

/* Load id again and again for us microseconds: never half an envelope. */
static size_t
watch_env(struct fx *fx, const char *id, long us)
{
	struct queue_env got;
	struct queue_rcpt want;
	long	end = now_us() + us;
	size_t	seen = 0, i;

	do {
		load_ok(fx, id, &got);
		for (i = 0; i < got.nrcpt; i++) {
			want = got.rcpt[i];
			rewrite_rcpt(&want, got.rcpt[0].attempts);
			if (got.rcpt[0].attempts > 0)
				rcpt_equal(&got.rcpt[i], &want, i);
		}
		queue_env_free(&got);
		seen++;
	} while (now_us() < end);
	return seen;
}

/* Rewrite the only envelope, attempts + 1 each time, until killed. */
static void
save_writer(const char *spool, int ready)
{
	char	err[QUEUE_ERR_MAX], **ids;
	struct queue *q = queue_open(spool, err, sizeof(err));
	struct queue_env env;
	size_t	n, i;
	int	a;

	if (q == NULL || queue_list(q, &ids, &n, err, sizeof(err)) == -1 ||
	    n != 1 || queue_env_load(q, ids[0], &env, err, sizeof(err)) == -1 ||
	    write(ready, "r", 1) != 1)
		_exit(2);
	for (a = env.rcpt[0].attempts + 1;; a++) {
		for (i = 0; i < env.nrcpt; i++)
			rewrite_rcpt(&env.rcpt[i], a);
		if (queue_env_save(q, &env, err, sizeof(err)) == -1)
			_exit(3);
	}
}

static void
test_crash_save(void **state)
{
	struct fx *fx = *state;
	struct queue_env env, got;
	struct queue_rcpt want;
	char	id[QUEUE_ID_LEN + 1];
	int	run, last = 0;
	size_t	i, seen = 0;

	fill_env(&env, 20);
	commit_ok(fx, (const unsigned char *)"m", 1, &env, id);
	for (run = 0; run < CRASH_RUNS; run++) {
		spawn(fx, save_writer);
		seen += watch_env(fx, id, (long)(run * 7919 % CRASH_SPAN_US));
		kill_child(fx);
		if (queue_recover(fx->q, fx->err, sizeof(fx->err)) == -1)
			fail_msg("run %d: recover: %s", run, fx->err);
		load_ok(fx, id, &got);
		assert_true(got.rcpt[0].attempts >= last);
		last = got.rcpt[0].attempts;
		for (i = 0; i < got.nrcpt; i++) {
			want = env.rcpt[i];
			if (last > 0)
				rewrite_rcpt(&want, last);
			rcpt_equal(&got.rcpt[i], &want, i);
		}
		queue_env_free(&got);
	}
	print_message("crash: %d runs, %zu envelope loads while writing, %d "
	    "rewrites\n", CRASH_RUNS, seen, last);
	assert_true(last > 0);
	queue_env_free(&env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_open),
		T(test_commit_roundtrip),
		T(test_commit_edges),
		T(test_ids_abort),
		T(test_commit_refused),
		T(test_commit_rename_fails),
		T(test_save_rewrite),
		T(test_save_refuses),
		T(test_add_rcpt),
		T(test_load_errors),
		T(test_load_errors_v2),
		T(test_load_v1_save_v2),
		T(test_load_errors_raw),
		T(test_load_limits),
		T(test_load_limits_v2),
		T(test_load_missing),
		T(test_list_remove),
		T(test_recover),
		T(test_crash_commit),
		T(test_crash_save),
#undef T
	};
	struct stat sb;

	if (getenv("TMPDIR") == NULL && stat("/dev/shm", &sb) == 0 &&
	    S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0 &&
	    setenv("TMPDIR", "/dev/shm", 0) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
