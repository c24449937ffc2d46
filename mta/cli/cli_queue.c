/*
 * cli_queue.c - pinpost queue: the mail queue from the command line.
 *
 * SYNOPSIS
 *	pinpost queue [-f config] list
 *	pinpost queue [-f config] show ID
 *	pinpost queue [-f config] delete ID
 *	pinpost queue [-f config] flush [ID]	(cli_queue_flush.c)
 *
 * DESCRIPTION
 *	The configuration gives spool_dir; the queue is read with queue.h.
 *	list prints one line per message: ID, arrival (ISO 8601 UTC), size
 *	in octets, <sender>, then per recipient "<addr> STATE attempts=N
 *	next=TIME last=CODE"; then "N messages".  show prints the envelope
 *	field by field, a blank line and the message's header.  delete
 *	removes the message (queue_remove()).  Text that came from peers
 *	(addresses, HELO, replies, the header) is printed with control
 *	characters as '?'.  The queue is never created: a missing
 *	SPOOL/queue is an error.
 *
 *	A message delivered between listing and loading it is skipped
 *	quietly; any other unreadable envelope is reported, the others are
 *	still listed, and the exit status is 1.
 *
 * DIAGNOSTICS
 *	"pinpost: PATH: problem" for the configuration, the spool and the
 *	queue files; "bad queue ID 'X' (20 hex digits)"; "no message ID in
 *	SPOOL/queue".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_queue.h"
#include "conf.h"
#include "queue.h"

#define QUEUE_HDR_SHOW	(64 * 1024)	/* header octets show prints */
#define QUEUE_PATH_MAX	4096

static void
put_text(FILE *fp, const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		(void)fputc((unsigned char)s[i] < ' ' && s[i] != '\t' ?
		    '?' : s[i] == 0x7f ? '?' : s[i], fp);
}

static void
put_str(const char *s)
{
	put_text(stdout, s, strlen(s));
}

int
cli_queue_id_ok(const char *id)
{
	return strlen(id) == QUEUE_ID_LEN &&
	    strspn(id, "0123456789abcdef") == QUEUE_ID_LEN;
}

int
cli_queue_has(const char *spool, const char *id)
{
	char	path[QUEUE_PATH_MAX];
	struct stat st;

	if (!cli_queue_id_ok(id)) {
		cli_err("bad queue ID '%.32s' (20 hex digits)", id);
		return -1;
	}
	(void)snprintf(path, sizeof(path), "%s/queue/%s.env", spool, id);
	if (stat(path, &st) == 0)
		return 0;
	if (errno == ENOENT)
		cli_err("no message %s in %s/queue", id, spool);
	else
		cli_err("%s: %s", path, strerror(errno));
	return -1;
}

/* The queue of the spool, never created. */
static struct queue *
queue_open_existing(const char *spool)
{
	char	path[QUEUE_PATH_MAX], err[QUEUE_ERR_MAX];
	struct stat st;
	struct queue *q;

	if ((size_t)snprintf(path, sizeof(path), "%s/queue", spool) >=
	    sizeof(path)) {
		cli_err("%.64s...: spool_dir too long", spool);
		return NULL;
	}
	if (stat(path, &st) == -1) {
		cli_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((q = queue_open(spool, err, sizeof(err))) == NULL)
		cli_err("%s", err);
	return q;
}

/* ------------------------------------------------------------------ */
/* list									*/

static const char *
state_str(enum queue_rcpt_state s)
{
	const char *n = queue_rcpt_state_str(s);

	return n != NULL ? n : "?";
}

/* The last status: the RFC 3463 code, else the reply code, else "-". */
static const char *
last_code(const struct queue_rcpt *r, char *buf, size_t len)
{
	if (r->status[0] != '\0')
		return r->status;
	if (strspn(r->last_reply, "0123456789") >= 3) {
		(void)snprintf(buf, len, "%.3s", r->last_reply);
		return buf;
	}
	return "-";
}

static const char *
next_str(const struct queue_rcpt *r, char *buf, size_t len)
{
	if (r->state != QUEUE_RCPT_PENDING)
		return "-";
	if (r->next_try == 0)
		return "now";
	return cli_time_str(r->next_try, buf, len);
}

/* The size of ID.msg, or -1 (err printed, unless it is gone). */
static long long
msg_size(struct queue *q, const char *id)
{
	char	path[QUEUE_PATH_MAX];
	struct stat st;

	if (queue_msg_path(q, id, path, sizeof(path)) == -1)
		return -1;
	if (stat(path, &st) == -1) {
		if (errno != ENOENT)
			cli_err("%s: %s", path, strerror(errno));
		return -1;
	}
	return (long long)st.st_size;
}

static void
list_one(const struct queue_env *env, long long size)
{
	char	t[32], c[16];
	size_t	i;

	printf("%s %s %lld <", env->id, cli_time_str(env->arrival, t,
	    sizeof(t)), size);
	put_str(env->sender);
	printf(">");
	for (i = 0; i < env->nrcpt; i++) {
		const struct queue_rcpt *r = &env->rcpt[i];

		printf(" <");
		put_str(r->addr);
		printf("> %s attempts=%d next=%s last=", state_str(r->state),
		    r->attempts, next_str(r, t, sizeof(t)));
		put_str(last_code(r, c, sizeof(c)));
	}
	printf("\n");
}

/* Is ID.env gone (delivered or deleted meanwhile)? */
static int
env_gone(const char *spool, const char *id)
{
	char	path[QUEUE_PATH_MAX];
	struct stat st;

	(void)snprintf(path, sizeof(path), "%s/queue/%s.env", spool, id);
	return stat(path, &st) == -1 && errno == ENOENT;
}

/* 1 listed, 0 gone meanwhile, -1 failed. */
static int
list_id(struct queue *q, const char *spool, const char *id)
{
	struct queue_env env;
	char	err[QUEUE_ERR_MAX];
	long long size;

	if (queue_env_load(q, id, &env, err, sizeof(err)) == -1) {
		if (env_gone(spool, id))
			return 0;
		cli_err("%s", err);
		return -1;
	}
	size = msg_size(q, id);
	list_one(&env, size);
	queue_env_free(&env);
	return 1;
}

static int
queue_list_cmd(struct queue *q, const char *spool)
{
	char	**ids, err[QUEUE_ERR_MAX];
	size_t	n, i, shown = 0;
	int	rc = CLI_OK, r;

	if (queue_list(q, &ids, &n, err, sizeof(err)) == -1)
		return cli_err("%s", err);
	for (i = 0; i < n; i++) {
		if ((r = list_id(q, spool, ids[i])) == -1)
			rc = CLI_FAIL;
		else
			shown += (size_t)r;
	}
	queue_list_free(ids, n);
	printf("%zu message%s\n", shown, shown == 1 ? "" : "s");
	if (fflush(stdout) == EOF || ferror(stdout))
		return cli_err("stdout: write error");
	return rc;
}

/* ------------------------------------------------------------------ */
/* show									*/

static void
show_rcpt(const struct queue_rcpt *r)
{
	char	t[32];

	printf("rcpt:         <");
	put_str(r->addr);
	printf(">\n  state:      %s\n  local:      %s\n  attempts:   %d\n",
	    state_str(r->state), r->local ? "yes" : "no", r->attempts);
	printf("  next-try:   %s\n", next_str(r, t, sizeof(t)));
	printf("  last-try:   %s\n", r->last_try != 0 ?
	    cli_time_str(r->last_try, t, sizeof(t)) : "never");
	printf("  status:     %s\n", r->status[0] != '\0' ? r->status : "-");
	printf("  remote:     ");
	put_str(r->remote[0] != '\0' ? r->remote : "-");
	printf("\n  last-reply: ");
	put_str(r->last_reply[0] != '\0' ? r->last_reply : "-");
	printf("\n");
}

static void
show_env(const struct queue_env *env, long long size)
{
	char	t[32];
	size_t	i;

	printf("id:           %s\n", env->id);
	printf("arrival:      %s\n", cli_time_str(env->arrival, t, sizeof(t)));
	printf("size:         %lld\n", size);
	printf("sender:       <");
	put_str(env->sender);
	printf(">\nclient:       ");
	put_str(env->client[0] != '\0' ? env->client : "-");
	printf("\nhelo:         ");
	put_str(env->helo[0] != '\0' ? env->helo : "-");
	printf("\nbody:         %s\n", env->body_8bit ? "8bit" : "7bit");
	printf("smtputf8:     %s\n", env->smtputf8 ? "yes" : "no");
	printf("warned:       %s\n", env->warned ? "yes" : "no");
	for (i = 0; i < env->nrcpt; i++)
		show_rcpt(&env->rcpt[i]);
}

/* Length of the header in buf[0..n): the lines before the empty one. */
static size_t
header_len(const char *buf, size_t n, int *complete)
{
	size_t	i, s = 0;

	*complete = 1;
	for (i = 0; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (i == s || (i == s + 1 && buf[s] == '\r'))
			return s;
		s = i + 1;
	}
	*complete = 0;
	return n;
}

/* Prints buf[0..len) line by line, a CR before LF dropped. */
static void
put_lines(const char *buf, size_t len)
{
	size_t	i, s = 0;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		put_text(stdout, buf + s, i > s && buf[i - 1] == '\r' ?
		    i - s - 1 : i - s);
		(void)fputc('\n', stdout);
		s = i + 1;
	}
	if (s < len) {
		put_text(stdout, buf + s, len - s);
		(void)fputc('\n', stdout);
	}
}

static int
show_header(struct queue *q, const char *id)
{
	char	path[QUEUE_PATH_MAX], *buf;
	size_t	n;
	FILE	*fp;
	int	complete, rc = CLI_OK;

	if (queue_msg_path(q, id, path, sizeof(path)) == -1 ||
	    (fp = fopen(path, "r")) == NULL)
		return cli_err("%s: %s", path, strerror(errno));
	if ((buf = malloc(QUEUE_HDR_SHOW)) == NULL) {
		(void)fclose(fp);
		return cli_err("%s: out of memory", path);
	}
	n = fread(buf, 1, QUEUE_HDR_SHOW, fp);
	if (ferror(fp))
		rc = cli_err("%s: read error", path);
	else {
		put_lines(buf, header_len(buf, n, &complete));
		if (!complete && n == QUEUE_HDR_SHOW)
			printf("[header truncated at %d octets]\n",
			    QUEUE_HDR_SHOW);
	}
	(void)fclose(fp);
	free(buf);
	return rc;
}

static int
queue_show_cmd(struct queue *q, const char *spool, const char *id)
{
	struct queue_env env;
	char	err[QUEUE_ERR_MAX];
	int	rc;

	if (cli_queue_has(spool, id) == -1)
		return CLI_FAIL;
	if (queue_env_load(q, id, &env, err, sizeof(err)) == -1)
		return cli_err("%s", err);
	show_env(&env, msg_size(q, id));
	queue_env_free(&env);
	printf("\n");
	rc = show_header(q, id);
	if (fflush(stdout) == EOF || ferror(stdout))
		return cli_err("stdout: write error");
	return rc;
}

static int
queue_delete_cmd(struct queue *q, const char *spool, const char *id)
{
	char	err[QUEUE_ERR_MAX];

	if (cli_queue_has(spool, id) == -1)
		return CLI_FAIL;
	if (queue_remove(q, id, 1, err, sizeof(err)) == -1)
		return cli_err("%s", err);
	printf("%s: deleted\n", id);
	return CLI_OK;
}

/* ------------------------------------------------------------------ */
/* dispatch								*/

static int
queue_dispatch(const struct conf *c, int argc, char **argv)
{
	struct queue *q;
	int	rc;

	if (strcmp(argv[0], "flush") == 0)
		return argc <= 2 ? cli_queue_flush(c->spool_dir, argc == 2 ?
		    argv[1] : NULL) : cli_usage("queue");
	if ((strcmp(argv[0], "list") == 0 && argc != 1) ||
	    ((strcmp(argv[0], "show") == 0 || strcmp(argv[0], "delete") == 0)
	    && argc != 2))
		return cli_usage("queue");
	if ((q = queue_open_existing(c->spool_dir)) == NULL)
		return CLI_FAIL;
	if (strcmp(argv[0], "list") == 0)
		rc = queue_list_cmd(q, c->spool_dir);
	else if (strcmp(argv[0], "show") == 0)
		rc = queue_show_cmd(q, c->spool_dir, argv[1]);
	else if (strcmp(argv[0], "delete") == 0)
		rc = queue_delete_cmd(q, c->spool_dir, argv[1]);
	else
		rc = cli_usage("queue");
	queue_close(q);
	return rc;
}

int
cli_queue_main(struct cli *cli, int argc, char **argv)
{
	const char *path = CLI_CONF_DEFAULT;
	char	err[CONF_ERR_MAX];
	struct conf c;
	int	ch, rc;

	(void)cli;
	while ((ch = getopt(argc, argv, "+f:")) != -1) {
		if (ch != 'f')
			return cli_usage("queue");
		path = optarg;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cli_usage("queue");
	if (conf_load(path, &c, err, sizeof(err)) == -1)
		return cli_err("%s", err);
	rc = queue_dispatch(&c, argc, argv);
	conf_free(&c);
	return rc;
}
