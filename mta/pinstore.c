/*
 * pinstore.c - the TDB store through the worker thread; see pinstore.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pinstore.h"
#include "worker.h"

struct pinstore {
	struct stsec_store	*st;
	struct worker		*w;
};

enum ps_op { PS_GET, PS_NOTE, PS_EARLY };

struct ps_job {
	struct pinstore		*ps;
	enum ps_op		 op;
	char			 host[STSEC_NAME_MAX + 8];
	char			 domain[STSEC_NAME_MAX + 1];	/* "" none */
	/* PS_GET */
	struct pinstore_view	 view;
	pinstore_get_cb		*get_cb;
	/* PS_NOTE, PS_EARLY */
	int			 in_tls, chain_ok, accepted, has_ehlo;
	struct stsec_ehlo	 ehlo;
	struct stsec_pinset	 chain;
	struct stsec_policy_cfg	 cfg;
	struct stsec_note_out	 out;
	int			 ok;
	pinstore_note_cb	*note_cb;
	void			*arg;
};

struct pinstore *
pinstore_open(struct worker *w, const char *path, char *err, size_t errlen)
{
	struct stsec_error e;
	struct pinstore *ps;

	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ps->w = w;
	if ((ps->st = stsec_store_open(path, STSEC_STORE_CREATE, &e)) == NULL) {
		(void)snprintf(err, errlen, "%s", e.msg);
		free(ps);
		return NULL;
	}
	return ps;
}

void
pinstore_close(struct pinstore *ps)
{
	if (ps == NULL)
		return;
	stsec_store_close(ps->st);
	free(ps);
}

static void
get_run(struct ps_job *j)
{
	struct stsec_error e;
	struct pinstore_view *v = &j->view;
	int	r;

	v->ok = 0;
	if ((r = stsec_store_get_host(j->ps->st, j->host, &v->host, &e)) < 0)
		goto fail;
	v->host_found = r;
	if (j->domain[0] != '\0') {
		r = stsec_store_get_domain(j->ps->st, j->domain, &v->domain,
		    &e);
		if (r < 0)
			goto fail;
		v->domain_found = r;
	}
	v->ok = 1;
	return;
fail:
	(void)snprintf(v->err, sizeof(v->err), "%s", e.msg);
}

static int
note_fn(struct stsec_host_rec *h, int hf, struct stsec_domain_rec *d, int df,
    void *arg)
{
	struct ps_job *j = arg;
	struct stsec_note_in in = { j->in_tls, j->has_ehlo ? &j->ehlo : NULL,
	    j->chain.n > 0 ? &j->chain : NULL, j->chain_ok };
	int	mask = STSEC_STORE_WRITE_HOST;

	(void)hf;
	if (j->op == PS_EARLY) {
		stsec_policy_note_early(h, j->accepted);
		return mask;
	}
	stsec_policy_note(h, j->domain[0] != '\0' ? d : NULL, j->host, &in,
	    (int64_t)time(NULL), &j->cfg, &j->out);
	if (j->out.changes & STSEC_NOTED_DOMAIN)
		mask |= STSEC_STORE_WRITE_DOMAIN;
	else if ((j->out.changes & STSEC_FORGOT_DOMAIN) && df)
		mask |= STSEC_STORE_DELETE_DOMAIN;
	return mask;
}

static void
ps_run(void *arg)
{
	struct ps_job *j = arg;
	struct stsec_error e;

	if (j->op == PS_GET) {
		get_run(j);
		return;
	}
	j->ok = stsec_store_update(j->ps->st, j->host,
	    j->domain[0] != '\0' ? j->domain : NULL, note_fn, j, &e) == 0;
	if (!j->ok)
		log_warn("store update %s: %s", j->host, e.msg);
}

static void
ps_done(void *arg)
{
	struct ps_job *j = arg;

	if (j->op == PS_GET && j->get_cb != NULL)
		j->get_cb(&j->view, j->arg);
	else if (j->op == PS_NOTE && j->note_cb != NULL)
		j->note_cb(&j->out, j->ok, j->arg);
	free(j);
}

static struct ps_job *
ps_job_new(struct pinstore *ps, enum ps_op op, const char *host,
    const char *domain)
{
	struct ps_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->ps = ps;
	j->op = op;
	(void)snprintf(j->host, sizeof(j->host), "%s", host);
	(void)snprintf(j->domain, sizeof(j->domain), "%s",
	    domain != NULL ? domain : "");
	return j;
}

static int
ps_submit(struct pinstore *ps, struct ps_job *j)
{
	if (worker_submit(ps->w, NULL, ps_run, ps_done, j) == -1) {
		free(j);
		return -1;
	}
	return 0;
}

int
pinstore_get(struct pinstore *ps, const char *host, const char *domain,
    pinstore_get_cb *cb, void *arg)
{
	struct ps_job *j = ps_job_new(ps, PS_GET, host, domain);

	if (j == NULL)
		return -1;
	j->get_cb = cb;
	j->arg = arg;
	return ps_submit(ps, j);
}

int
pinstore_note(struct pinstore *ps, const char *host, const char *domain,
    int in_tls, const struct stsec_ehlo *ehlo,
    const struct stsec_pinset *chain, int chain_ok,
    const struct stsec_policy_cfg *cfg, pinstore_note_cb *cb, void *arg)
{
	struct ps_job *j = ps_job_new(ps, PS_NOTE, host, domain);

	if (j == NULL)
		return -1;
	j->in_tls = in_tls;
	j->chain_ok = chain_ok;
	if (ehlo != NULL) {
		j->ehlo = *ehlo;
		j->has_ehlo = 1;
	}
	if (chain != NULL)
		j->chain = *chain;
	j->cfg = *cfg;
	j->note_cb = cb;
	j->arg = arg;
	return ps_submit(ps, j);
}

int
pinstore_early(struct pinstore *ps, const char *host, int accepted)
{
	struct ps_job *j = ps_job_new(ps, PS_EARLY, host, NULL);

	if (j == NULL)
		return -1;
	j->accepted = accepted;
	return ps_submit(ps, j);
}
