/*
 * local.c - local recipients and Maildir delivery; see local.h.
 *
 * Delivery runs in the worker thread.  The job copies what it needs
 * (paths, host name) so a reload that frees the old configuration never
 * pulls anything from under it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctx.h"
#include "local.h"
#include "log.h"
#include "maildir.h"
#include "queue.h"
#include "worker.h"

#define PATH_MAX_LEN	4096

int
local_is_domain(const struct conf *c, const char *domain)
{
	return conf_list_has(&c->local_domains, domain);
}

/* A user name that is safe as one directory name. */
static int
user_ok(const char *user)
{
	size_t	i;

	if (user[0] == '\0' || user[0] == '.' || strlen(user) > 64)
		return 0;
	for (i = 0; user[i] != '\0'; i++) {
		char	c = user[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_' || c == '+'))
			return 0;
	}
	return 1;
}

int
local_mailbox(const struct conf *c, const char *user, const char *domain,
    char *dir, size_t dirlen)
{
	char	path[PATH_MAX_LEN], addr[512];
	struct stat sb;
	int	n;

	if (!user_ok(user) || strchr(domain, '/') != NULL ||
	    domain[0] == '.')
		return -1;
	n = snprintf(path, sizeof(path), "%s/%s/%s", c->maildir_root,
	    domain, user);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	if (c->mailboxes.n > 0) {
		(void)snprintf(addr, sizeof(addr), "%s@%s", user, domain);
		if (!conf_list_has(&c->mailboxes, addr))
			return -1;
	} else if (stat(path, &sb) == -1 || !S_ISDIR(sb.st_mode))
		return -1;
	if (dir != NULL && (size_t)snprintf(dir, dirlen, "%s", path) >= dirlen)
		return -1;
	return 0;
}

struct local_job {
	struct queue	*queue;
	char		 id[QUEUE_ID_LEN + 1];
	char		*root;
	char		*host;
	int		 mailbox_list;	/* mailboxes configured: create */
};

static int
deliver_one(struct local_job *j, const struct queue_env *env,
    struct queue_rcpt *r, const char *msg)
{
	char	dir[PATH_MAX_LEN], hdr[1024], err[512], name[PATH_MAX_LEN];
	const char *at = strrchr(r->addr, '@');

	if (at == NULL || (size_t)snprintf(dir, sizeof(dir), "%s/%s/%.*s",
	    j->root, at + 1, (int)(at - r->addr), r->addr) >= sizeof(dir))
		return -1;
	(void)snprintf(hdr, sizeof(hdr), "Return-Path: <%s>\r\n"
	    "Delivered-To: %s\r\n", env->sender, r->addr);
	if (j->mailbox_list && maildir_create(dir, err, sizeof(err)) == -1) {
		log_warn("id=%s to=<%s> status=deferred reason=\"%s\"", j->id,
		    r->addr, err);
		return -1;
	}
	if (maildir_deliver(dir, msg, hdr, j->host, name, sizeof(name), err,
	    sizeof(err)) == -1) {
		log_warn("id=%s to=<%s> status=deferred reason=\"%s\"", j->id,
		    r->addr, err);
		(void)snprintf(r->last_reply, sizeof(r->last_reply), "%s", err);
		return -1;
	}
	r->state = QUEUE_RCPT_DELIVERED;
	log_info("id=%s to=<%s> relay=local status=sent file=%s", j->id,
	    r->addr, name);
	return 0;
}

static int
pending_left(const struct queue_env *env)
{
	size_t	i;

	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == QUEUE_RCPT_PENDING)
			return 1;
	return 0;
}

static void
local_run(void *arg)
{
	struct local_job *j = arg;
	struct queue_env env;
	char	msg[PATH_MAX_LEN], err[QUEUE_ERR_MAX];
	size_t	i, done = 0;

	if (queue_env_load(j->queue, j->id, &env, err, sizeof(err)) == -1) {
		log_warn("id=%s %s", j->id, err);
		return;
	}
	if (queue_msg_path(j->queue, j->id, msg, sizeof(msg)) == -1)
		goto out;
	for (i = 0; i < env.nrcpt; i++)
		if (env.rcpt[i].local &&
		    env.rcpt[i].state == QUEUE_RCPT_PENDING &&
		    deliver_one(j, &env, &env.rcpt[i], msg) == 0)
			done++;
	if (!pending_left(&env)) {
		if (queue_remove(j->queue, j->id, 0, err, sizeof(err)) == -1)
			log_warn("id=%s %s", j->id, err);
		else
			log_info("id=%s removed", j->id);
	} else if (done > 0 &&
	    queue_env_save(j->queue, &env, err, sizeof(err)) == -1)
		log_warn("id=%s %s", j->id, err);
out:
	queue_env_free(&env);
}

static void
local_done(void *arg)
{
	struct local_job *j = arg;

	free(j->root);
	free(j->host);
	free(j);
}

void
local_schedule(const struct mta_ctx *ctx, const char *id)
{
	struct local_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto fail;
	j->queue = ctx->queue;
	(void)snprintf(j->id, sizeof(j->id), "%s", id);
	j->root = strdup(ctx->conf->maildir_root);
	j->host = strdup(ctx->conf->myhostname);
	j->mailbox_list = ctx->conf->mailboxes.n > 0;
	if (j->root == NULL || j->host == NULL ||
	    worker_submit(ctx->worker, j->id, local_run, local_done, j) == -1) {
		local_done(j);
		goto fail;
	}
	return;
fail:
	log_warn("id=%s cannot schedule local delivery: out of memory", id);
}

/* Reads envelopes in the loop: small files, and only at start/timer. */
void
local_scan(const struct mta_ctx *ctx)
{
	struct queue_env env;
	char	**ids, err[QUEUE_ERR_MAX];
	size_t	 n, i, k;

	if (queue_list(ctx->queue, &ids, &n, err, sizeof(err)) == -1) {
		log_warn("queue scan: %s", err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (queue_env_load(ctx->queue, ids[i], &env, err,
		    sizeof(err)) == -1) {
			log_warn("id=%s %s", ids[i], err);
			continue;
		}
		for (k = 0; k < env.nrcpt; k++)
			if (env.rcpt[k].local &&
			    env.rcpt[k].state == QUEUE_RCPT_PENDING)
				break;
		if (k < env.nrcpt)
			local_schedule(ctx, ids[i]);
		queue_env_free(&env);
	}
	queue_list_free(ids, n);
}
