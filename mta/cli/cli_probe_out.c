/*
 * cli_probe_out.c - pinpost probe's output: text for people, one JSON
 * object per host for scripts (the interop tables use it).
 *
 *	probe_print()	a report as text or JSON
 *	probe_verdict()	what the enforcing delivery client would do with
 *			this host today, from the store and what was seen
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "cli_probe.h"
#include "client.h"

const char *
probe_verdict(const struct probe_report *r, char *buf, size_t len)
{
	if (r->plan.level >= STSEC_TLS_ENCRYPT && !r->tls)
		(void)snprintf(buf, len, "defer 4.7.4: TLS required (%s) but "
		    "none was had", stsec_why_str(r->plan.why));
	else if (r->tls && r->chain.verdict == STSEC_DEFER)
		(void)snprintf(buf, len, "defer %s: %s", r->chain.status,
		    r->chain.reason);
	else if (r->tls && r->chain.report_only)
		(void)snprintf(buf, len, "deliver over TLS (report-only: %s)",
		    r->chain.reason);
	else if (r->tls)
		(void)snprintf(buf, len, "deliver over TLS%s",
		    r->chain.authenticated ? " (key matches a pin)" : "");
	else if (r->greeting[0] != '\0')
		(void)snprintf(buf, len, "deliver in plaintext");
	else
		(void)snprintf(buf, len, "defer: host not reachable");
	return buf;
}

/* Is pin p a key of the presented chain? The index, or -1. */
static int
in_chain(const struct probe_report *r, const struct stsec_pin *p)
{
	size_t	i;

	for (i = 0; i < r->ncert; i++)
		if (stsec_pin_equal(&r->cert[i].pin, p))
			return (int)i;
	return -1;
}

static int
has_backup(const struct probe_report *r)
{
	size_t	i;

	for (i = 0; i < r->ehlo.pkp_pins.n; i++)
		if (in_chain(r, &r->ehlo.pkp_pins.pin[i]) == -1)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* text                                                                 */

static void
text_lines(FILE *fp, const char *title, const char lines[][PROBE_LINE_MAX],
    size_t n)
{
	size_t	i;

	if (n == 0)
		return;
	fprintf(fp, "%s:\n", title);
	for (i = 0; i < n; i++)
		fprintf(fp, "  %s\n", lines[i]);
}

static void
text_tls(FILE *fp, const struct probe_report *r)
{
	char	b64[STSEC_PIN_B64_LEN + 1];
	size_t	i;

	if (!r->tls)
		return;
	fprintf(fp, "tls: %s cipher=%s group=%s pkix=%s\n", r->tls_version,
	    r->cipher, r->group, r->pkix);
	for (i = 0; i < r->ncert; i++) {
		stsec_pin_to_b64(&r->cert[i].pin, b64);
		fprintf(fp, "cert %zu: subject=%s issuer=%s\n"
		    "        valid %s to %s pin-sha256=%s\n", i,
		    r->cert[i].subject, r->cert[i].issuer,
		    r->cert[i].not_before, r->cert[i].not_after, b64);
	}
}

static void
text_pkp(FILE *fp, const struct probe_report *r)
{
	const struct stsec_ehlo *e = &r->ehlo;
	char	b64[STSEC_PIN_B64_LEN + 1];
	size_t	i;
	int	k;

	fprintf(fp, "pkp: %s", stsec_kw_state_str(e->pkp));
	if (e->pkp == STSEC_KW_VALID)
		fprintf(fp, " max-age=%lld pins=%zu backup=%s",
		    (long long)e->pkp_max_age, e->pkp_pins.n,
		    has_backup(r) ? "yes" : "no");
	if (e->pkp == STSEC_KW_INVALID)
		fprintf(fp, " (%s)", e->pkp_why);
	fputc('\n', fp);
	for (i = 0; i < e->pkp_pins.n; i++) {
		stsec_pin_to_b64(&e->pkp_pins.pin[i], b64);
		k = in_chain(r, &e->pkp_pins.pin[i]);
		if (k >= 0)
			fprintf(fp, "  pin-sha256=%s matches cert %d\n", b64, k);
		else
			fprintf(fp, "  pin-sha256=%s matches no cert (backup)\n",
			    b64);
	}
	fprintf(fp, "stsec: %s", stsec_kw_state_str(e->stsec));
	if (e->stsec == STSEC_KW_VALID)
		fprintf(fp, " max-age=%lld", (long long)e->stsec_max_age);
	if (e->stsec == STSEC_KW_INVALID)
		fprintf(fp, " (%s)", e->stsec_why);
	fputc('\n', fp);
}

static void
text_store(FILE *fp, const struct probe_report *r)
{
	char	a[32], b[32];

	if (!r->store_found) {
		fprintf(fp, "store: nothing known of %s\n", r->host);
		return;
	}
	fprintf(fp, "store: pins=%zu pkp-until=%s stsec-until=%s "
	    "starttls-first=%s\n", r->store.pins.n,
	    r->store.pkp_expires ? cli_time_str(r->store.pkp_expires, a,
	    sizeof(a)) : "none", r->store.stsec_expires ?
	    cli_time_str(r->store.stsec_expires, b, sizeof(b)) : "none",
	    stsec_early_str(r->store.early));
}

static void
probe_text(const struct probe_report *r, FILE *fp)
{
	char	v[512];

	fprintf(fp, "host: %s address: %s\n", r->host, r->addr);
	fprintf(fp, "greeting: %s\n", r->greeting[0] ? r->greeting : "-");
	if (r->early_code)
		fprintf(fp, "starttls-before-ehlo: %s (%d)\n", r->early_code ==
		    220 ? "accepted" : "refused", r->early_code);
	text_lines(fp, "ehlo (plaintext)", r->plain, r->nplain);
	if (r->starttls_code)
		fprintf(fp, "starttls: %d\n", r->starttls_code);
	text_tls(fp, r);
	text_lines(fp, "ehlo (inside tls)", r->tlsl, r->ntls);
	if (r->tls)
		text_pkp(fp, r);
	text_store(fp, r);
	fprintf(fp, "plan: level=%s why=%s starttls-first=%s pinned=%s\n",
	    stsec_tls_level_str(r->plan.level), stsec_why_str(r->plan.why),
	    r->plan.starttls_first ? "yes" : "no",
	    r->plan.pinned ? "yes" : "no");
	fprintf(fp, "verdict: %s\n", probe_verdict(r, v, sizeof(v)));
	if (r->error[0] != '\0')
		fprintf(fp, "error: %s\n", r->error);
	fputc('\n', fp);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                 */

static json_t *
json_lines(const char lines[][PROBE_LINE_MAX], size_t n)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; a != NULL && i < n; i++)
		(void)json_array_append_new(a, json_string(lines[i]));
	return a;
}

static json_t *
json_pin(const struct stsec_pin *p)
{
	char	b64[STSEC_PIN_B64_LEN + 1];

	stsec_pin_to_b64(p, b64);
	return json_string(b64);
}

static json_t *
json_chain(const struct probe_report *r)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; a != NULL && i < r->ncert; i++)
		(void)json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,"
		    "s:o}", "subject", r->cert[i].subject, "issuer",
		    r->cert[i].issuer, "not_before", r->cert[i].not_before,
		    "not_after", r->cert[i].not_after, "pin",
		    json_pin(&r->cert[i].pin)));
	return a;
}

static json_t *
json_pkp(const struct probe_report *r)
{
	const struct stsec_ehlo *e = &r->ehlo;
	json_t	*pins = json_array();
	size_t	 i;

	for (i = 0; pins != NULL && i < e->pkp_pins.n; i++)
		(void)json_array_append_new(pins, json_pack("{s:o,s:i}",
		    "pin", json_pin(&e->pkp_pins.pin[i]), "matches_cert",
		    in_chain(r, &e->pkp_pins.pin[i])));
	return json_pack("{s:s,s:s,s:I,s:o,s:b}", "state",
	    stsec_kw_state_str(e->pkp), "why", e->pkp_why, "max_age",
	    (json_int_t)e->pkp_max_age, "pins", pins, "backup",
	    has_backup(r));
}

static json_t *
json_store(const struct probe_report *r)
{
	json_t	*pins = json_array();
	size_t	 i;

	for (i = 0; pins != NULL && i < r->store.pins.n; i++)
		(void)json_array_append_new(pins, json_pin(&r->store.pins.pin[i]));
	return json_pack("{s:b,s:o,s:I,s:I,s:s}", "found", r->store_found,
	    "pins", pins, "pkp_expires", (json_int_t)r->store.pkp_expires,
	    "stsec_expires", (json_int_t)r->store.stsec_expires,
	    "starttls_first", stsec_early_str(r->store.early));
}

static json_t *
json_report(const struct probe_report *r)
{
	char	v[512];

	return json_pack("{s:s,s:s,s:s,s:i,s:o,s:i,s:b,s:{s:s,s:s,s:s,s:s},"
	    "s:o,s:o,s:o,s:{s:s,s:s,s:I},s:o,s:{s:s,s:s,s:b,s:b},s:s,s:s}",
	    "host", r->host, "address", r->addr, "greeting", r->greeting,
	    "early_code", r->early_code, "ehlo_plain", json_lines(r->plain,
	    r->nplain), "starttls_code", r->starttls_code, "tls", r->tls,
	    "tls_info", "version", r->tls_version, "cipher", r->cipher,
	    "group", r->group, "pkix", r->pkix, "chain", json_chain(r),
	    "ehlo_tls", json_lines(r->tlsl, r->ntls), "pkp", json_pkp(r),
	    "stsec", "state", stsec_kw_state_str(r->ehlo.stsec), "why",
	    r->ehlo.stsec_why, "max_age", (json_int_t)r->ehlo.stsec_max_age,
	    "store", json_store(r), "plan", "level",
	    stsec_tls_level_str(r->plan.level), "why",
	    stsec_why_str(r->plan.why), "starttls_first",
	    r->plan.starttls_first, "pinned", r->plan.pinned, "verdict",
	    probe_verdict(r, v, sizeof(v)), "error", r->error);
}

void
probe_print(const struct probe_report *r, int json, FILE *fp)
{
	json_t	*o;

	if (!json) {
		probe_text(r, fp);
		return;
	}
	if ((o = json_report(r)) == NULL) {
		(void)cli_err("%s: cannot format JSON", r->host);
		return;
	}
	if (json_dumpf(o, fp, JSON_COMPACT | JSON_ENSURE_ASCII) == 0)
		fputc('\n', fp);
	json_decref(o);
	(void)fflush(fp);
}
