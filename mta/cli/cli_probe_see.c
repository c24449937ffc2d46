/*
 * cli_probe_see.c - what `pinpost probe` sees: the delivery client's
 * observer (client.h, struct client_observer), writing one host's
 * struct probe_report.
 *
 *	probe_observer()	the callbacks, bound to one report
 *
 * The client runs its session as it would for mail and calls these as
 * it gets there; this file only copies what they show: the greeting,
 * the replies to STARTTLS, both EHLO replies line by line, the TLS
 * session and the certificates with their pins, the store's record and
 * the plan, the pin check the enforcing client would make, and the
 * failure that ended the session, if one did.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "addr.h"
#include "cli_probe.h"
#include "smtp_reply.h"

/* The text lines of a reply, "CODE text" for the first. */
static void
see_lines(const struct smtp_reply *r, char lines[][PROBE_LINE_MAX],
    size_t *n)
{
	size_t	i;

	for (*n = 0, i = 0; i < r->nlines && *n < PROBE_LINES; i++)
		(void)snprintf(lines[(*n)++], PROBE_LINE_MAX, "%s",
		    smtp_reply_text(r, i));
}

static void
see_time(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, len, "?");
}

static void
see_certs(struct probe_report *p, STACK_OF(X509) *chain)
{
	X509	*x;
	int	i;

	p->ncert = 0;
	for (i = 0; chain != NULL && i < sk_X509_num(chain) &&
	    p->ncert < STSEC_MAX_PINS; i++) {
		struct probe_cert *pc = &p->cert[p->ncert++];

		x = sk_X509_value(chain, i);
		(void)X509_NAME_oneline(X509_get_subject_name(x), pc->subject,
		    sizeof(pc->subject));
		(void)X509_NAME_oneline(X509_get_issuer_name(x), pc->issuer,
		    sizeof(pc->issuer));
		see_time(X509_get0_notBefore(x), pc->not_before,
		    sizeof(pc->not_before));
		see_time(X509_get0_notAfter(x), pc->not_after,
		    sizeof(pc->not_after));
		if (stsec_pin_from_x509(x, &pc->pin, NULL) == -1)
			memset(&pc->pin, 0, sizeof(pc->pin));
	}
}

static void
see_host(void *arg, const char *key)
{
	struct probe_report *p = arg;

	(void)snprintf(p->host, sizeof(p->host), "%s", key);
}

static void
see_addr(void *arg, const struct sockaddr *sa)
{
	struct probe_report *p = arg;

	(void)addr_format(sa, p->addr, sizeof(p->addr));
}

static void
see_store(void *arg, const struct stsec_host_rec *rec,
    const struct stsec_plan *plan)
{
	struct probe_report *p = arg;

	p->store_found = rec != NULL;
	if (rec != NULL)
		p->store = *rec;
	else
		memset(&p->store, 0, sizeof(p->store));
	p->plan = *plan;
}

static void
see_reply(void *arg, enum client_step step, int tls,
    const struct smtp_reply *r)
{
	struct probe_report *p = arg;

	switch (step) {
	case CLIENT_GREETING:
		(void)snprintf(p->greeting, PROBE_LINE_MAX, "%d %s", r->code,
		    smtp_reply_text(r, 0));
		break;
	case CLIENT_EARLY:
		p->early_code = r->code;
		break;
	case CLIENT_EHLO:
		if (tls)
			see_lines(r, p->tlsl, &p->ntls);
		else
			see_lines(r, p->plain, &p->nplain);
		break;
	case CLIENT_STARTTLS:
		p->starttls_code = r->code;
		break;
	}
}

static void
see_tls(void *arg, SSL *ssl, long vr)
{
	struct probe_report *p = arg;
	const char *g;

	p->tls = 1;
	(void)snprintf(p->tls_version, sizeof(p->tls_version), "%s",
	    SSL_get_version(ssl));
	(void)snprintf(p->cipher, sizeof(p->cipher), "%s",
	    SSL_get_cipher_name(ssl));
	g = SSL_group_to_name(ssl, SSL_get_negotiated_group(ssl));
	(void)snprintf(p->group, sizeof(p->group), "%s", g ? g : "?");
	(void)snprintf(p->pkix, sizeof(p->pkix), "%s", vr == X509_V_OK ?
	    "verified" : X509_verify_cert_error_string(vr));
	see_certs(p, SSL_get_peer_cert_chain(ssl));
}

static void
see_pins(void *arg, const struct stsec_decision *dec)
{
	struct probe_report *p = arg;

	p->chain = *dec;
}

static void
see_keywords(void *arg, const struct stsec_ehlo *e)
{
	struct probe_report *p = arg;

	p->ehlo = *e;
}

static void
see_fail(void *arg, const char *reply)
{
	struct probe_report *p = arg;

	(void)snprintf(p->error, PROBE_LINE_MAX, "%.*s", PROBE_LINE_MAX - 1,
	    reply);
}

void
probe_observer(struct client_observer *obs, struct probe_report *r)
{
	obs->host = see_host;
	obs->addr = see_addr;
	obs->store = see_store;
	obs->reply = see_reply;
	obs->tls = see_tls;
	obs->pins = see_pins;
	obs->keywords = see_keywords;
	obs->fail = see_fail;
	obs->arg = r;
}
