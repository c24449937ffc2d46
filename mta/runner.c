/*
 * runner.c - the queue runner; see runner.h.
 *
 * A scan reads the envelopes (small files; no fsync) in the loop, starts
 * deliveries, and leaves every envelope rewrite to the worker thread:
 * the results of a delivery, the bounces and delay notices they cause,
 * and the removal of a message with nothing left to do.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bounce.h"
#include "client.h"
#include "conf.h"
#include "ctx.h"
#include "local.h"
#include "log.h"
#include "queue.h"
#include "route.h"
#include "runner.h"
#include "worker.h"

#define FORCE_MAX	64

struct flight {
	char		id[QUEUE_ID_LEN + 1];
	char		dest[STSEC_NAME_MAX + 1];
	struct delivery	*d;		/* d->client: NULL once it is done */
};

struct runner {
	const struct mta_ctx *ctx;
	void		(*idle)(void *);	/* a delivery is over */
	void		*idle_arg;
	struct event	*timer;
	struct event	*kick;
	struct flight	*fl;
	size_t		 nfl, capfl;
	int		 force_all;
	char		 force[FORCE_MAX][QUEUE_ID_LEN + 1];
	size_t		 nforce;
};

/* One finished delivery on its way through the worker. */
struct result_job {
	struct runner	*r;
	struct delivery	*d;
	struct queue	*queue;
	char		 hostname[256];
	int64_t		 retry_min, retry_max, lifetime, warn_after;
	int		 sender_local;
	char		 bounce_id[2][QUEUE_ID_LEN + 1];
};

/* ------------------------------------------------------------------ */
/* flights                                                              */

static int
in_flight(const struct runner *r, const char *id)
{
	size_t	i;

	for (i = 0; i < r->nfl; i++)
		if (strcmp(r->fl[i].id, id) == 0)
			return 1;
	return 0;
}

static size_t
dest_flights(const struct runner *r, const char *dest)
{
	size_t	i, n = 0;

	for (i = 0; i < r->nfl; i++)
		if (strcmp(r->fl[i].dest, dest) == 0)
			n++;
	return n;
}

static int
flight_add(struct runner *r, const char *id, const char *dest,
    struct delivery *d)
{
	struct flight *p;

	if (r->nfl == r->capfl) {
		p = realloc(r->fl, (r->capfl * 2 + 8) * sizeof(*p));
		if (p == NULL)
			return -1;
		r->fl = p;
		r->capfl = r->capfl * 2 + 8;
	}
	(void)snprintf(r->fl[r->nfl].id, sizeof(r->fl[0].id), "%s", id);
	(void)snprintf(r->fl[r->nfl].dest, sizeof(r->fl[0].dest), "%s", dest);
	r->fl[r->nfl].d = d;
	r->nfl++;
	return 0;
}

static void
flight_remove(struct runner *r, const char *id)
{
	size_t	i;

	for (i = 0; i < r->nfl; i++)
		if (strcmp(r->fl[i].id, id) == 0) {
			r->fl[i] = r->fl[--r->nfl];
			return;
		}
}

/* ------------------------------------------------------------------ */
/* results (worker thread)                                              */

static int64_t
backoff(const struct result_job *j, int attempts)
{
	int64_t	t = j->retry_min;
	int	i;

	for (i = 1; i < attempts && t < j->retry_max; i++)
		t *= 2;
	return t < j->retry_max ? t : j->retry_max;
}

static void
apply_one(struct result_job *j, struct queue_env *env,
    const struct delivery_rcpt *dr, int64_t now, unsigned char *failed)
{
	struct queue_rcpt *q = &env->rcpt[dr->idx];
	const char *what;

	q->attempts++;
	q->last_try = now;
	(void)snprintf(q->status, sizeof(q->status), "%s", dr->status);
	(void)snprintf(q->last_reply, sizeof(q->last_reply), "%s", dr->reply);
	(void)snprintf(q->remote, sizeof(q->remote), "%.*s",
	    (int)sizeof(q->remote) - 1, j->d->remote);
	/*
	 * Expired only past the lifetime: arrival and now are whole
	 * seconds, and "now >= arrival + lifetime" could give up to a
	 * second early.
	 */
	if (dr->code / 100 == 2) {
		q->state = QUEUE_RCPT_DELIVERED;
		what = "sent";
	} else if (dr->code / 100 == 5 || now > env->arrival + j->lifetime) {
		q->state = QUEUE_RCPT_FAILED;
		failed[dr->idx] = 1;
		what = dr->code / 100 == 5 ? "bounced" : "expired";
	} else {
		q->next_try = now + backoff(j, q->attempts);
		what = "deferred";
	}
	log_info("id=%s to=<%s> relay=%s status=%s dsn=%s reply=\"%s\"",
	    env->id, q->addr, j->d->remote[0] ? j->d->remote : "none", what,
	    dr->status, dr->reply);
}

static size_t
count_state(const struct queue_env *env, enum queue_rcpt_state st)
{
	size_t	i, n = 0;

	for (i = 0; i < env->nrcpt; i++)
		n += env->rcpt[i].state == st;
	return n;
}

/* A DSN about the recipients in which[]; local senders get it locally. */
static void
notify(struct result_job *j, const struct queue_env *env,
    const unsigned char *which, enum bounce_kind kind, char *id, int64_t now)
{
	char	err[QUEUE_ERR_MAX];

	if (bounce_queue(j->queue, env, which, kind, j->sender_local,
	    j->hostname, now, env->arrival + j->lifetime, id,
	    QUEUE_ID_LEN + 1, err, sizeof(err)) == -1) {
		log_warn("id=%s cannot queue a DSN: %s", env->id, err);
		id[0] = '\0';
		return;
	}
	if (id[0] == '\0')
		return;
	log_info("id=%s dsn=%s kind=%s to=<%s>", env->id, id,
	    kind == BOUNCE_FAILED ? "failed" : "delayed", env->sender);
}

static void
delay_notice(struct result_job *j, struct queue_env *env, int64_t now)
{
	unsigned char *which;
	size_t	i;

	if (j->warn_after <= 0 || env->warned || now - env->arrival <=
	    j->warn_after || count_state(env, QUEUE_RCPT_PENDING) == 0)
		return;
	if ((which = calloc(env->nrcpt, 1)) == NULL)
		return;
	for (i = 0; i < env->nrcpt; i++)
		which[i] = env->rcpt[i].state == QUEUE_RCPT_PENDING &&
		    !env->rcpt[i].local;
	notify(j, env, which, BOUNCE_DELAYED, j->bounce_id[1], now);
	env->warned = 1;
	free(which);
}

static void
result_run(void *arg)
{
	struct result_job *j = arg;
	struct queue_env env;
	unsigned char *failed;
	char	err[QUEUE_ERR_MAX];
	int64_t	now = (int64_t)time(NULL);
	size_t	i;

	if (queue_env_load(j->queue, j->d->id, &env, err, sizeof(err)) == -1) {
		log_warn("id=%s %s", j->d->id, err);
		return;
	}
	if ((failed = calloc(env.nrcpt, 1)) == NULL)
		goto out;
	for (i = 0; i < j->d->nrcpt; i++)
		if (j->d->rcpt[i].idx < env.nrcpt && strcmp(env.rcpt[
		    j->d->rcpt[i].idx].addr, j->d->rcpt[i].addr) == 0)
			apply_one(j, &env, &j->d->rcpt[i], now, failed);
	if (memchr(failed, 1, env.nrcpt) != NULL)
		notify(j, &env, failed, BOUNCE_FAILED, j->bounce_id[0], now);
	delay_notice(j, &env, now);
	if (count_state(&env, QUEUE_RCPT_PENDING) == 0) {
		if (queue_remove(j->queue, env.id, 0, err, sizeof(err)) == -1)
			log_warn("id=%s %s", env.id, err);
		else
			log_info("id=%s removed", env.id);
	} else if (queue_env_save(j->queue, &env, err, sizeof(err)) == -1)
		log_warn("id=%s %s", env.id, err);
	free(failed);
out:
	queue_env_free(&env);
}

static void
result_done(void *arg)
{
	struct result_job *j = arg;
	size_t	i;

	flight_remove(j->r, j->d->id);
	for (i = 0; i < 2; i++)
		if (j->bounce_id[i][0] != '\0' && j->sender_local)
			local_schedule(j->r->ctx, j->bounce_id[i]);
	/* a DSN to a remote sender is the runner's: the kick below */
	free(j->d->rcpt);
	free(j->d);
	runner_kick(j->r);
	j->r->idle(j->r->idle_arg);
	free(j);
}

static int
sender_is_local(const struct conf *c, const char *sender)
{
	const char *at = strrchr(sender, '@');

	return at != NULL && local_is_domain(c, at + 1);
}

static void
delivery_done(struct delivery *d, void *arg)
{
	struct runner *r = arg;
	struct result_job *j;
	const struct conf *c = r->ctx->conf;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto fail;
	j->r = r;
	j->d = d;
	j->queue = r->ctx->queue;
	(void)snprintf(j->hostname, sizeof(j->hostname), "%s", c->myhostname);
	j->retry_min = c->retry_min;
	j->retry_max = c->retry_max;
	j->lifetime = c->queue_lifetime;
	j->warn_after = c->delay_warning;
	j->sender_local = sender_is_local(c, d->sender);
	if (worker_submit(r->ctx->worker, d->id, result_run, result_done,
	    j) == 0)
		return;
	free(j);
fail:
	log_warn("id=%s cannot record the delivery results", d->id);
	flight_remove(r, d->id);
	free(d->rcpt);
	free(d);
}

/* ------------------------------------------------------------------ */
/* scan                                                                 */

static int
forced(const struct runner *r, const char *id)
{
	size_t	i;

	if (r->force_all)
		return 1;
	for (i = 0; i < r->nforce; i++)
		if (strcmp(r->force[i], id) == 0)
			return 1;
	return 0;
}

static const char *
rcpt_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/* The due remote recipients of env for one domain: the first due one's. */
static struct delivery *
delivery_new(const struct runner *r, const struct queue_env *env,
    int64_t now, int force)
{
	struct delivery *d;
	const char *dom = NULL;
	size_t	i;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->rcpt = calloc(env->nrcpt, sizeof(*d->rcpt))) == NULL) {
		free(d);
		return NULL;
	}
	for (i = 0; i < env->nrcpt; i++) {
		const struct queue_rcpt *q = &env->rcpt[i];

		if (q->local || q->state != QUEUE_RCPT_PENDING ||
		    (!force && q->next_try > now))
			continue;
		if (dom == NULL)
			dom = rcpt_domain(q->addr);
		else if (strcasecmp(dom, rcpt_domain(q->addr)) != 0)
			continue;
		d->rcpt[d->nrcpt].idx = i;
		(void)snprintf(d->rcpt[d->nrcpt].addr, sizeof(d->rcpt[0].addr),
		    "%s", q->addr);
		d->nrcpt++;
	}
	if (d->nrcpt == 0) {
		free(d->rcpt);
		free(d);
		return NULL;
	}
	(void)snprintf(d->domain, sizeof(d->domain), "%s", dom);
	(void)snprintf(d->id, sizeof(d->id), "%s", env->id);
	(void)snprintf(d->sender, sizeof(d->sender), "%s", env->sender);
	d->body_8bit = env->body_8bit;
	d->smtputf8 = env->smtputf8;
	route_lookup(r->ctx->conf->route.v, r->ctx->conf->route.n, d->domain,
	    &d->route);
	if (queue_msg_path(r->ctx->queue, env->id, d->msg_path,
	    sizeof(d->msg_path)) == -1) {
		free(d->rcpt);
		free(d);
		return NULL;
	}
	return d;
}

static void
scan_one(struct runner *r, const char *id, int64_t now)
{
	struct queue_env env;
	struct delivery *d;
	char	err[QUEUE_ERR_MAX];

	if (in_flight(r, id))
		return;
	if (queue_env_load(r->ctx->queue, id, &env, err, sizeof(err)) == -1) {
		log_warn("id=%s %s", id, err);
		return;
	}
	d = delivery_new(r, &env, now, forced(r, id));
	queue_env_free(&env);
	if (d == NULL)
		return;
	if ((int64_t)dest_flights(r, d->route.host) >=
	    r->ctx->conf->destination_concurrency ||
	    flight_add(r, id, d->route.host, d) == -1 ||
	    client_start(r->ctx, d, NULL, delivery_done, r) == NULL) {
		if (in_flight(r, id))
			flight_remove(r, id);
		free(d->rcpt);
		free(d);
	}
}

static void
runner_scan(struct runner *r)
{
	char	**ids, err[QUEUE_ERR_MAX];
	size_t	 n, i;
	int64_t	 now = (int64_t)time(NULL);

	if (r->ctx->stopping)
		return;
	if (queue_list(r->ctx->queue, &ids, &n, err, sizeof(err)) == -1) {
		log_warn("queue scan: %s", err);
		return;
	}
	for (i = 0; i < n; i++) {
		if ((int64_t)r->nfl >= r->ctx->conf->delivery_concurrency)
			break;
		scan_one(r, ids[i], now);
	}
	queue_list_free(ids, n);
	r->force_all = 0;
	r->nforce = 0;
}

static void
scan_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	runner_scan(arg);
}

/* ------------------------------------------------------------------ */
/* public                                                               */

struct runner *
runner_new(const struct mta_ctx *ctx, void (*idle)(void *), void *arg)
{
	struct runner *r;
	struct timeval tv = { (time_t)ctx->conf->queue_run_interval, 0 };

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->ctx = ctx;
	r->idle = idle;
	r->idle_arg = arg;
	r->timer = event_new(ctx->base, -1, EV_PERSIST, scan_cb, r);
	r->kick = event_new(ctx->base, -1, 0, scan_cb, r);
	if (r->timer == NULL || r->kick == NULL ||
	    event_add(r->timer, &tv) == -1) {
		runner_free(r);
		return NULL;
	}
	runner_kick(r);
	return r;
}

void
runner_kick(struct runner *r)
{
	struct timeval tv = { 0, 0 };

	if (r != NULL && !event_pending(r->kick, EV_TIMEOUT, NULL))
		(void)event_add(r->kick, &tv);
}

/* Reads and removes the markers `pinpost queue flush` left. */
void
runner_flush(struct runner *r)
{
	char	dir[4096], path[4352];
	struct dirent *de;
	DIR	*dp;

	(void)snprintf(dir, sizeof(dir), "%s/flush", r->ctx->conf->spool_dir);
	if ((dp = opendir(dir)) == NULL) {
		r->force_all = 1;	/* a bare SIGUSR1: everything */
		runner_kick(r);
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (strcmp(de->d_name, "ALL") == 0)
			r->force_all = 1;
		else if (strlen(de->d_name) == QUEUE_ID_LEN &&
		    strspn(de->d_name, "0123456789abcdef") == QUEUE_ID_LEN &&
		    r->nforce < FORCE_MAX)
			memcpy(r->force[r->nforce++], de->d_name,
			    QUEUE_ID_LEN + 1);
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("%s: cannot remove: %s", path,
			    strerror(errno));
	}
	(void)closedir(dp);
	log_info("flush: all=%d ids=%zu", r->force_all, r->nforce);
	runner_kick(r);
}

/*
 * The stop deadline: every delivery in flight ends now.  A client may
 * finish at once, and its done() changes the flights: abort from a copy.
 */
void
runner_abort(struct runner *r)
{
	struct client **cs;
	size_t	i, n = 0;

	if (r == NULL || r->nfl == 0 ||
	    (cs = calloc(r->nfl, sizeof(*cs))) == NULL)
		return;
	for (i = 0; i < r->nfl; i++)
		if (r->fl[i].d->client != NULL)
			cs[n++] = r->fl[i].d->client;
	for (i = 0; i < n; i++)
		client_abort(cs[i]);
	free(cs);
}

size_t
runner_busy(const struct runner *r)
{
	return r != NULL ? r->nfl : 0;
}

void
runner_free(struct runner *r)
{
	if (r == NULL)
		return;
	if (r->timer != NULL)
		event_free(r->timer);
	if (r->kick != NULL)
		event_free(r->kick);
	free(r->fl);
	free(r);
}
