/*
 * tlscache.c - the delivery client's TLS sessions; see tlscache.h.
 *
 * The cache hangs off the client SSL_CTX (ex_data), each SSL carries a
 * tag (ex_data, freed with the SSL) with its peer key, the keys it was
 * authenticated with and a session that arrived before the pin check.
 * In TLS 1.3 the tickets come after the handshake, with the server's
 * first reply, so they normally find the connection confirmed; in TLS
 * 1.2 the session exists at the end of the handshake, before the check,
 * and waits in the tag until tlscache_confirm().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlscache.h"

struct tc_entry {
	char			 key[TLSCACHE_KEY_MAX + 1];
	SSL_SESSION		*sess;
	struct stsec_pinset	 pins;
	uint64_t		 seq;		/* when stored: oldest goes */
};

struct tlscache {
	struct tc_entry		*e;
	size_t			 n, max;
	uint64_t		 seq;
};

struct tc_tag {
	struct tlscache		*tc;
	char			 key[TLSCACHE_KEY_MAX + 1];
	struct stsec_pinset	 pins;
	int			 has_pins;	/* offered: the entry's keys */
	int			 confirmed;
	SSL_SESSION		*pending;	/* before the pin check */
};

static int tc_ctx_idx = -1, tc_ssl_idx = -1;

static void
tc_tag_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct tc_tag *t = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (t == NULL)
		return;
	SSL_SESSION_free(t->pending);
	free(t);
}

static int
tc_indexes(void)
{
	if (tc_ctx_idx == -1)
		tc_ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
		    NULL);
	if (tc_ssl_idx == -1)
		tc_ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    tc_tag_free);
	return tc_ctx_idx == -1 || tc_ssl_idx == -1 ? -1 : 0;
}

static struct tlscache *
tc_of(SSL_CTX *ctx)
{
	return tc_ctx_idx == -1 ? NULL : SSL_CTX_get_ex_data(ctx, tc_ctx_idx);
}

static struct tc_tag *
tc_tag_of(SSL *ssl)
{
	return tc_ssl_idx == -1 ? NULL : SSL_get_ex_data(ssl, tc_ssl_idx);
}

static struct tc_entry *
tc_find(struct tlscache *tc, const char *key)
{
	size_t	i;

	for (i = 0; i < tc->n; i++)
		if (strcmp(tc->e[i].key, key) == 0)
			return &tc->e[i];
	return NULL;
}

static void
tc_drop(struct tlscache *tc, struct tc_entry *e)
{
	SSL_SESSION_free(e->sess);
	*e = tc->e[--tc->n];
}

/* Keeps sess (its reference) for key, in place of what was there. */
static void
tc_store(struct tlscache *tc, const char *key, SSL_SESSION *sess,
    const struct stsec_pinset *pins)
{
	struct tc_entry *e = tc_find(tc, key);
	size_t	i, old = 0;

	if (e != NULL)
		SSL_SESSION_free(e->sess);
	else if (tc->n < tc->max)
		e = &tc->e[tc->n++];
	else {
		for (i = 1; i < tc->n; i++)
			if (tc->e[i].seq < tc->e[old].seq)
				old = i;
		e = &tc->e[old];
		SSL_SESSION_free(e->sess);
	}
	(void)snprintf(e->key, sizeof(e->key), "%s", key);
	e->sess = sess;
	e->pins = *pins;
	e->seq = ++tc->seq;
}

/*
 * OpenSSL's new session callback.  A copy is kept, not the session
 * itself: the connection goes on using that object, and a connection
 * freed without close_notify marks its session not resumable
 * (ssl_clear_bad_session()), which would spoil the cached one.
 */
static int
tc_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tc_tag *t = tc_tag_of(ssl);
	SSL_SESSION *copy;

	if (t == NULL || t->tc == NULL || !SSL_SESSION_is_resumable(sess) ||
	    (copy = SSL_SESSION_dup(sess)) == NULL)
		return 0;
	if (t->confirmed)
		tc_store(t->tc, t->key, copy, &t->pins);
	else {
		SSL_SESSION_free(t->pending);
		t->pending = copy;
	}
	return 0;		/* OpenSSL keeps its reference */
}

int
tlscache_attach(SSL_CTX *ctx, size_t max)
{
	struct tlscache *tc;

	if (max == 0 || tc_indexes() == -1 ||
	    (tc = calloc(1, sizeof(*tc))) == NULL)
		return -1;
	if ((tc->e = calloc(max, sizeof(*tc->e))) == NULL ||
	    SSL_CTX_set_ex_data(ctx, tc_ctx_idx, tc) != 1) {
		free(tc->e);
		free(tc);
		return -1;
	}
	tc->max = max;
	(void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tc_new_session_cb);
	return 0;
}

void
tlscache_detach(SSL_CTX *ctx)
{
	struct tlscache *tc;

	if (ctx == NULL || (tc = tc_of(ctx)) == NULL)
		return;
	while (tc->n > 0)
		tc_drop(tc, &tc->e[tc->n - 1]);
	(void)SSL_CTX_set_ex_data(ctx, tc_ctx_idx, NULL);
	SSL_CTX_sess_set_new_cb(ctx, NULL);
	free(tc->e);
	free(tc);
}

static int
tc_expired(SSL_SESSION *s)
{
	return (int64_t)time(NULL) >= (int64_t)SSL_SESSION_get_time(s) +
	    (int64_t)SSL_SESSION_get_timeout(s);
}

int
tlscache_offer(SSL *ssl, const char *key)
{
	struct tlscache *tc = tc_of(SSL_get_SSL_CTX(ssl));
	struct tc_entry *e;
	struct tc_tag *t;

	if (tc == NULL)
		return 0;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->tc = tc;
	(void)snprintf(t->key, sizeof(t->key), "%s", key);
	if (SSL_set_ex_data(ssl, tc_ssl_idx, t) != 1) {
		free(t);
		return -1;
	}
	if ((e = tc_find(tc, key)) == NULL)
		return 0;
	if (tc_expired(e->sess) || SSL_set_session(ssl, e->sess) != 1) {
		tc_drop(tc, e);
		return 0;
	}
	t->pins = e->pins;
	t->has_pins = 1;
	tc_drop(tc, e);			/* once: the SSL holds it now */
	return 1;
}

int
tlscache_pins(SSL *ssl, struct stsec_pinset *keys)
{
	struct tc_tag *t = tc_tag_of(ssl);

	if (t == NULL || !t->has_pins || !SSL_session_reused(ssl))
		return -1;
	*keys = t->pins;
	return 0;
}

void
tlscache_confirm(SSL *ssl, const struct stsec_pinset *keys)
{
	struct tc_tag *t = tc_tag_of(ssl);

	if (t == NULL || t->tc == NULL)
		return;
	t->pins = *keys;
	t->confirmed = 1;
	if (t->pending != NULL) {
		tc_store(t->tc, t->key, t->pending, keys);
		t->pending = NULL;
	}
}

void
tlscache_forget(SSL_CTX *ctx, const char *key)
{
	struct tlscache *tc = tc_of(ctx);
	struct tc_entry *e;

	if (tc != NULL && (e = tc_find(tc, key)) != NULL)
		tc_drop(tc, e);
}

size_t
tlscache_count(SSL_CTX *ctx)
{
	struct tlscache *tc = tc_of(ctx);

	return tc == NULL ? 0 : tc->n;
}
