/*
 * policy.c - the PKP / STSEC noting and enforcement rules.
 *
 * SYNOPSIS
 *	stsec_policy_plan()		before connecting: TLS required? pins?
 *					STARTTLS right after the greeting?
 *	stsec_policy_no_tls()		no TLS could be had: defer or go on
 *	stsec_policy_check_chain()	after the handshake: pins satisfied?
 *	stsec_policy_note()		after the EHLO inside TLS: learn
 *	stsec_policy_note_early()	the answer to STARTTLS-first
 *
 * DESCRIPTION
 *	Pure functions of (stored record, observation, now, configuration):
 *	no I/O, no clock, no store.  The caller reads the records, asks,
 *	acts, and writes back what stsec_policy_note() changed (in one store
 *	transaction: stsec_store_update()).
 *
 *	Enforcement (DESIGN 1.3): a live STSEC, live pins, an STSEC
 *	inherited from another MX host of the recipient domain, or
 *	tls_level = encrypt make TLS required; without it the message is
 *	deferred with 4.7.4, never sent in plaintext.  Live pins must match a
 *	key of the presented chain, or the message is deferred with 4.7.5
 *	before any EHLO (report mode: logged and delivered).  Live pins make
 *	TLS required too: pins that a stripped STARTTLS could bypass would
 *	authenticate nothing.
 *
 *	Noting happens only from an EHLO reply received inside TLS, on a
 *	connection whose chain satisfied the live pins.  A PKP set is noted
 *	only if a pin matches a chain key and another matches none (the
 *	backup, RFC 7469 section 2.5); MAX-AGE is clamped to the caps, and
 *	MAX-AGE=0 forgets.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stsec.h"

#define STATUS_NO_TLS		"4.7.4"
#define STATUS_PIN_MISMATCH	"4.7.5"

void
stsec_policy_cfg_default(struct stsec_policy_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pkp_cap = STSEC_PKP_CAP_DEFAULT;
	cfg->stsec_cap = STSEC_STSEC_CAP_DEFAULT;
	cfg->pkp_mode = STSEC_MODE_ENFORCE;
	cfg->tls_level = STSEC_TLS_MAY;
}

static const char *const tls_level_names[] = { "none", "may", "encrypt" };
static const char *const mode_names[] = { "enforce", "report" };

const char *
stsec_tls_level_str(enum stsec_tls_level l)
{
	if ((unsigned)l >= sizeof(tls_level_names) / sizeof(*tls_level_names))
		return "?";
	return tls_level_names[l];
}

static int
name_index(const char *const *names, size_t n, const char *s)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

int
stsec_tls_level_parse(const char *s, enum stsec_tls_level *out)
{
	int	i;

	i = name_index(tls_level_names,
	    sizeof(tls_level_names) / sizeof(*tls_level_names), s);
	if (i < 0)
		return -1;
	*out = (enum stsec_tls_level)i;
	return 0;
}

const char *
stsec_mode_str(enum stsec_mode m)
{
	if ((unsigned)m >= sizeof(mode_names) / sizeof(*mode_names))
		return "?";
	return mode_names[m];
}

int
stsec_mode_parse(const char *s, enum stsec_mode *out)
{
	int	i;

	i = name_index(mode_names, sizeof(mode_names) / sizeof(*mode_names), s);
	if (i < 0)
		return -1;
	*out = (enum stsec_mode)i;
	return 0;
}

const char *
stsec_why_str(enum stsec_why w)
{
	switch (w) {
	case STSEC_WHY_NONE:		return "none";
	case STSEC_WHY_CONFIG:		return "tls-level";
	case STSEC_WHY_HOST_STSEC:	return "host-stsec";
	case STSEC_WHY_HOST_PKP:	return "host-pkp";
	case STSEC_WHY_DOMAIN_STSEC:	return "domain-stsec";
	}
	return "?";
}

const char *
stsec_verdict_str(enum stsec_verdict v)
{
	return v == STSEC_DEFER ? "defer" : "proceed";
}

const char *
stsec_tls_event_str(enum stsec_tls_event e)
{
	switch (e) {
	case STSEC_TLS_NOT_OFFERED:	return "starttls-not-offered";
	case STSEC_TLS_REFUSED:		return "starttls-refused";
	case STSEC_TLS_HANDSHAKE_FAILED: return "handshake-failed";
	}
	return "?";
}

int
stsec_host_stsec_live(const struct stsec_host_rec *h, int64_t now)
{
	return h != NULL && h->stsec_expires > now;
}

int
stsec_host_pkp_live(const struct stsec_host_rec *h, int64_t now)
{
	return h != NULL && h->pins.n > 0 && h->pkp_expires > now;
}

int
stsec_domain_live(const struct stsec_domain_rec *d, int64_t now)
{
	return d != NULL && d->stsec_expires > now;
}

/* ------------------------------------------------------------------ */
/* enforcement                                                          */

void
stsec_policy_plan(const struct stsec_host_rec *host,
    const struct stsec_domain_rec *domain, int64_t now,
    const struct stsec_policy_cfg *cfg, struct stsec_plan *out)
{
	memset(out, 0, sizeof(*out));
	out->level = cfg->tls_level;
	out->pinned = stsec_host_pkp_live(host, now);

	if (stsec_host_stsec_live(host, now))
		out->why = STSEC_WHY_HOST_STSEC;
	else if (out->pinned)
		out->why = STSEC_WHY_HOST_PKP;
	else if (stsec_domain_live(domain, now))
		out->why = STSEC_WHY_DOMAIN_STSEC;
	else if (cfg->tls_level >= STSEC_TLS_ENCRYPT)
		out->why = STSEC_WHY_CONFIG;

	if (out->why != STSEC_WHY_NONE)
		out->level = STSEC_TLS_ENCRYPT;

	/*
	 * Where TLS is required anyway, STARTTLS on connect saves a round
	 * trip and shows nothing in plaintext, unless this peer answered
	 * 503 to it before.
	 */
	if (out->level >= STSEC_TLS_ENCRYPT &&
	    (host == NULL || host->early != STSEC_EARLY_REFUSED))
		out->starttls_first = 1;
}

static void
decide(struct stsec_decision *out, enum stsec_verdict v, const char *status,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
decide(struct stsec_decision *out, enum stsec_verdict v, const char *status,
    const char *fmt, ...)
{
	va_list	ap;

	out->verdict = v;
	out->status = status;
	va_start(ap, fmt);
	(void)vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

void
stsec_policy_no_tls(const struct stsec_plan *plan, enum stsec_tls_event ev,
    struct stsec_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (plan->level >= STSEC_TLS_ENCRYPT) {
		decide(out, STSEC_DEFER, STATUS_NO_TLS,
		    "TLS required (%s) but %s", stsec_why_str(plan->why),
		    stsec_tls_event_str(ev));
		return;
	}
	decide(out, STSEC_PROCEED, NULL, "TLS not required; %s, plaintext",
	    stsec_tls_event_str(ev));
}

void
stsec_policy_check_chain(const struct stsec_host_rec *host,
    const struct stsec_pinset *chain, int64_t now,
    const struct stsec_policy_cfg *cfg, struct stsec_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (!stsec_host_pkp_live(host, now)) {
		decide(out, STSEC_PROCEED, NULL, "no live pins");
		return;
	}
	if (chain != NULL && stsec_pinset_common(chain, &host->pins) > 0) {
		out->authenticated = 1;
		decide(out, STSEC_PROCEED, NULL, "chain matches a pin");
		return;
	}
	if (cfg->pkp_mode == STSEC_MODE_REPORT) {
		out->report_only = 1;
		decide(out, STSEC_PROCEED, NULL,
		    "report-only: enforcement would defer with %s: no chain "
		    "key matches the %zu pins", STATUS_PIN_MISMATCH,
		    host->pins.n);
		return;
	}
	decide(out, STSEC_DEFER, STATUS_PIN_MISMATCH,
	    "no chain key matches the %zu pins", host->pins.n);
}

/* ------------------------------------------------------------------ */
/* noting                                                               */

static void
note_reason(struct stsec_note_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends "; text" to the one-line reason. */
static void
note_reason(struct stsec_note_out *out, const char *fmt, ...)
{
	size_t	used = strlen(out->reason);
	va_list	ap;

	if (used > 0 && used + 2 < sizeof(out->reason)) {
		memcpy(out->reason + used, "; ", 3);
		used += 2;
	}
	if (used + 1 >= sizeof(out->reason))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(out->reason + used, sizeof(out->reason) - used, fmt, ap);
	va_end(ap);
}

static int64_t
clamp_expiry(int64_t now, int64_t max_age, int64_t cap)
{
	return now + (max_age < cap ? max_age : cap);
}

static void
note_seen(struct stsec_host_rec *h, const struct stsec_note_in *in,
    int64_t now, struct stsec_note_out *out)
{
	const struct stsec_pin *leaf;

	if (h->first_seen == 0)
		h->first_seen = now;
	h->last_seen = now;
	if (!in->in_tls || in->chain == NULL || in->chain->n == 0)
		return;
	leaf = &in->chain->pin[0];
	if (h->has_last_pin && !stsec_pin_equal(&h->last_pin, leaf) &&
	    !stsec_host_pkp_live(h, now)) {
		out->changes |= STSEC_KEY_CHANGE;
		note_reason(out, "leaf key changed");
	}
	h->last_pin = *leaf;
	h->has_last_pin = 1;
}

static void
note_domain(struct stsec_host_rec *h, struct stsec_domain_rec *d,
    const char *host_name, int64_t now, struct stsec_note_out *out)
{
	if (d == NULL)
		return;
	if (h->stsec_expires > now) {
		if (d->stsec_expires > h->stsec_expires)
			return;		/* another host taught a longer one */
		d->stsec_expires = h->stsec_expires;
		d->noted = now;
		(void)snprintf(d->via, sizeof(d->via), "%s",
		    host_name != NULL ? host_name : "");
		out->changes |= STSEC_NOTED_DOMAIN;
		return;
	}
	/* This host withdrew STSEC: withdraw what it taught the domain. */
	if (d->stsec_expires != 0 && host_name != NULL &&
	    strcmp(d->via, host_name) == 0) {
		memset(d, 0, sizeof(*d));
		out->changes |= STSEC_FORGOT_DOMAIN;
	}
}

static void
note_stsec(struct stsec_host_rec *h, const struct stsec_ehlo *e,
    int64_t now, const struct stsec_policy_cfg *cfg,
    struct stsec_note_out *out)
{
	if (e->stsec == STSEC_KW_INVALID) {
		out->changes |= STSEC_STSEC_BAD;
		note_reason(out, "STSEC ignored: %s", e->stsec_why);
		return;
	}
	if (e->stsec != STSEC_KW_VALID)
		return;
	if (e->stsec_max_age == 0) {
		if (h->stsec_expires != 0)
			out->changes |= STSEC_FORGOT_STSEC;
		h->stsec_expires = 0;
		note_reason(out, "STSEC MAX-AGE=0");
		return;
	}
	h->stsec_expires = clamp_expiry(now, e->stsec_max_age, cfg->stsec_cap);
	out->changes |= STSEC_NOTED_STSEC;
	note_reason(out, "STSEC until %" PRId64, h->stsec_expires);
}

static void
note_pkp_set(struct stsec_host_rec *h, const struct stsec_ehlo *e,
    const struct stsec_pinset *chain, int64_t now,
    const struct stsec_policy_cfg *cfg, struct stsec_note_out *out)
{
	size_t	in_chain;

	in_chain = chain != NULL ? stsec_pinset_common(&e->pkp_pins, chain) : 0;
	if (in_chain == 0) {
		out->changes |= STSEC_PKP_NO_MATCH;
		note_reason(out, "PKP refused: no pin matches the chain");
		return;
	}
	if (in_chain == e->pkp_pins.n) {
		out->changes |= STSEC_PKP_NO_BACKUP;
		note_reason(out, "PKP refused: no backup pin");
		return;
	}
	h->pins = e->pkp_pins;
	h->pkp_expires = clamp_expiry(now, e->pkp_max_age, cfg->pkp_cap);
	out->changes |= STSEC_NOTED_PKP;
	note_reason(out, "PKP %zu pins until %" PRId64, h->pins.n,
	    h->pkp_expires);
}

static void
note_pkp(struct stsec_host_rec *h, const struct stsec_ehlo *e,
    const struct stsec_pinset *chain, int64_t now,
    const struct stsec_policy_cfg *cfg, struct stsec_note_out *out)
{
	if (e->pkp == STSEC_KW_INVALID) {
		out->changes |= STSEC_PKP_BAD;
		note_reason(out, "PKP ignored: %s", e->pkp_why);
		return;
	}
	if (e->pkp != STSEC_KW_VALID)
		return;
	if (e->pkp_max_age == 0) {
		if (h->pins.n != 0 || h->pkp_expires != 0)
			out->changes |= STSEC_FORGOT_PKP;
		stsec_pinset_clear(&h->pins);
		h->pkp_expires = 0;
		note_reason(out, "PKP MAX-AGE=0");
		return;
	}
	note_pkp_set(h, e, chain, now, cfg, out);
}

void
stsec_policy_note(struct stsec_host_rec *host,
    struct stsec_domain_rec *domain, const char *host_name,
    const struct stsec_note_in *in, int64_t now,
    const struct stsec_policy_cfg *cfg, struct stsec_note_out *out)
{
	memset(out, 0, sizeof(*out));
	note_seen(host, in, now, out);
	if (!in->in_tls) {
		out->changes |= STSEC_NOT_NOTED;
		note_reason(out, "not noted: EHLO outside TLS");
		return;
	}
	if (!in->chain_ok) {
		out->changes |= STSEC_NOT_NOTED;
		note_reason(out, "not noted: chain failed the pins");
		return;
	}
	if (in->ehlo == NULL || !in->ehlo->finished)
		return;
	note_stsec(host, in->ehlo, now, cfg, out);
	note_pkp(host, in->ehlo, in->chain, now, cfg, out);
	note_domain(host, domain, host_name, now, out);
}

void
stsec_policy_note_early(struct stsec_host_rec *host, int accepted)
{
	host->early = accepted ? STSEC_EARLY_ACCEPTED : STSEC_EARLY_REFUSED;
}
