/*
 * test_policy.c - the noting and enforcement rules of DESIGN 1.3-1.4.
 *
 * Pins here are synthetic: a pin is named by a letter and is 32 copies of
 * that byte ("AB" is the set {A, B}).  Each rule is a row of a table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stsec.h"

#define NOW		((int64_t)1700000000)
#define DAY		((int64_t)86400)
#define PKP_CAP		STSEC_PKP_CAP_DEFAULT
#define STSEC_CAP	STSEC_STSEC_CAP_DEFAULT

static struct stsec_pin
pin_of(char c)
{
	struct stsec_pin p;

	memset(p.hash, (unsigned char)c, sizeof(p.hash));
	return p;
}

static void
set_of(const char *letters, struct stsec_pinset *set)
{
	struct stsec_pin p;

	stsec_pinset_clear(set);
	for (; letters != NULL && *letters != '\0'; letters++) {
		p = pin_of(*letters);
		assert_int_equal(stsec_pinset_add(set, &p, NULL), 0);
	}
}

/* "AB" == set, in any order. */
static void
assert_set(const struct stsec_pinset *set, const char *letters)
{
	struct stsec_pinset want;

	set_of(letters, &want);
	assert_int_equal(set->n, want.n);
	assert_int_equal(stsec_pinset_common(set, &want), want.n);
}

static struct stsec_host_rec
host_of(const char *pins, int64_t pkp_exp, int64_t stsec_exp,
    enum stsec_early early)
{
	struct stsec_host_rec h;

	memset(&h, 0, sizeof(h));
	set_of(pins, &h.pins);
	h.pkp_expires = pkp_exp;
	h.stsec_expires = stsec_exp;
	h.early = early;
	return h;
}

/* ------------------------------------------------------------------ */
/* plan                                                                 */

struct plan_case {
	const char	*name;
	int		 has_host;
	const char	*pins;
	int64_t		 pkp_exp, stsec_exp;
	enum stsec_early early;
	int64_t		 domain_exp;	/* -1: no domain record */
	enum stsec_tls_level cfg_level;
	enum stsec_tls_level level;
	enum stsec_why	 why;
	int		 first, pinned;
};

static const struct plan_case plan_cases[] = {
	{ "first contact", 0, "", 0, 0, 0, -1, STSEC_TLS_MAY,
	    STSEC_TLS_MAY, STSEC_WHY_NONE, 0, 0 },
	{ "first contact, tls none", 0, "", 0, 0, 0, -1, STSEC_TLS_NONE,
	    STSEC_TLS_NONE, STSEC_WHY_NONE, 0, 0 },
	{ "tls_level encrypt", 0, "", 0, 0, 0, -1, STSEC_TLS_ENCRYPT,
	    STSEC_TLS_ENCRYPT, STSEC_WHY_CONFIG, 1, 0 },
	{ "stsec live", 1, "", 0, NOW + 1, STSEC_EARLY_UNKNOWN, -1,
	    STSEC_TLS_MAY, STSEC_TLS_ENCRYPT, STSEC_WHY_HOST_STSEC, 1, 0 },
	{ "stsec live beats tls none", 1, "", 0, NOW + DAY,
	    STSEC_EARLY_UNKNOWN, -1, STSEC_TLS_NONE, STSEC_TLS_ENCRYPT,
	    STSEC_WHY_HOST_STSEC, 1, 0 },
	{ "stsec expires now", 1, "", 0, NOW, STSEC_EARLY_UNKNOWN, -1,
	    STSEC_TLS_MAY, STSEC_TLS_MAY, STSEC_WHY_NONE, 0, 0 },
	{ "stsec expired", 1, "", 0, NOW - DAY, STSEC_EARLY_ACCEPTED, -1,
	    STSEC_TLS_MAY, STSEC_TLS_MAY, STSEC_WHY_NONE, 0, 0 },
	{ "stsec, early accepted", 1, "", 0, NOW + DAY,
	    STSEC_EARLY_ACCEPTED, -1, STSEC_TLS_MAY, STSEC_TLS_ENCRYPT,
	    STSEC_WHY_HOST_STSEC, 1, 0 },
	{ "stsec, early refused (503)", 1, "", 0, NOW + DAY,
	    STSEC_EARLY_REFUSED, -1, STSEC_TLS_MAY, STSEC_TLS_ENCRYPT,
	    STSEC_WHY_HOST_STSEC, 0, 0 },
	{ "pins live, no stsec", 1, "AB", NOW + DAY, 0,
	    STSEC_EARLY_UNKNOWN, -1, STSEC_TLS_MAY, STSEC_TLS_ENCRYPT,
	    STSEC_WHY_HOST_PKP, 1, 1 },
	{ "pins and stsec live", 1, "AB", NOW + DAY, NOW + DAY,
	    STSEC_EARLY_UNKNOWN, -1, STSEC_TLS_MAY, STSEC_TLS_ENCRYPT,
	    STSEC_WHY_HOST_STSEC, 1, 1 },
	{ "pins expired", 1, "AB", NOW - 1, 0, STSEC_EARLY_UNKNOWN, -1,
	    STSEC_TLS_MAY, STSEC_TLS_MAY, STSEC_WHY_NONE, 0, 0 },
	{ "expiry without pins is no pins", 1, "", NOW + DAY, 0,
	    STSEC_EARLY_UNKNOWN, -1, STSEC_TLS_MAY, STSEC_TLS_MAY,
	    STSEC_WHY_NONE, 0, 0 },
	{ "domain inherits", 0, "", 0, 0, 0, NOW + DAY, STSEC_TLS_MAY,
	    STSEC_TLS_ENCRYPT, STSEC_WHY_DOMAIN_STSEC, 1, 0 },
	{ "domain inherits, host 503", 1, "", 0, 0, STSEC_EARLY_REFUSED,
	    NOW + DAY, STSEC_TLS_MAY, STSEC_TLS_ENCRYPT,
	    STSEC_WHY_DOMAIN_STSEC, 0, 0 },
	{ "domain expired", 0, "", 0, 0, 0, NOW - 1, STSEC_TLS_MAY,
	    STSEC_TLS_MAY, STSEC_WHY_NONE, 0, 0 },
	{ "domain expired, encrypt", 0, "", 0, 0, 0, NOW - 1,
	    STSEC_TLS_ENCRYPT, STSEC_TLS_ENCRYPT, STSEC_WHY_CONFIG, 1, 0 },
};

static void
test_plan(void **state)
{
	struct stsec_policy_cfg cfg;
	struct stsec_host_rec h;
	struct stsec_domain_rec d;
	struct stsec_plan plan;
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(plan_cases) / sizeof(*plan_cases); i++) {
		const struct plan_case *c = &plan_cases[i];

		print_message("plan: %s\n", c->name);
		stsec_policy_cfg_default(&cfg);
		cfg.tls_level = c->cfg_level;
		h = host_of(c->pins, c->pkp_exp, c->stsec_exp, c->early);
		memset(&d, 0, sizeof(d));
		d.stsec_expires = c->domain_exp;
		stsec_policy_plan(c->has_host ? &h : NULL,
		    c->domain_exp >= 0 ? &d : NULL, NOW, &cfg, &plan);
		assert_int_equal(plan.level, c->level);
		assert_int_equal(plan.why, c->why);
		assert_int_equal(plan.starttls_first, c->first);
		assert_int_equal(plan.pinned, c->pinned);
	}
}

/* ------------------------------------------------------------------ */
/* no TLS                                                               */

static void
test_no_tls(void **state)
{
	static const enum stsec_tls_event evs[] = { STSEC_TLS_NOT_OFFERED,
	    STSEC_TLS_REFUSED, STSEC_TLS_HANDSHAKE_FAILED };
	struct stsec_plan plan;
	struct stsec_decision d;
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(evs) / sizeof(*evs); i++) {
		memset(&plan, 0, sizeof(plan));
		plan.level = STSEC_TLS_ENCRYPT;
		plan.why = STSEC_WHY_HOST_STSEC;
		stsec_policy_no_tls(&plan, evs[i], &d);
		assert_int_equal(d.verdict, STSEC_DEFER);
		assert_non_null(d.status);
		assert_string_equal(d.status, "4.7.4");
		assert_non_null(strstr(d.reason, "host-stsec"));
		assert_non_null(strstr(d.reason, stsec_tls_event_str(evs[i])));

		plan.level = STSEC_TLS_MAY;
		plan.why = STSEC_WHY_NONE;
		stsec_policy_no_tls(&plan, evs[i], &d);
		assert_int_equal(d.verdict, STSEC_PROCEED);
		assert_null(d.status);
	}
}

/* Stripping STARTTLS from a learned STSEC peer defers, end to end. */
static void
test_stripped_stsec_peer_defers(void **state)
{
	struct stsec_policy_cfg cfg;
	struct stsec_host_rec h = host_of("", 0, NOW + DAY, 0);
	struct stsec_plan plan;
	struct stsec_decision d;

	(void)state;
	stsec_policy_cfg_default(&cfg);
	stsec_policy_plan(&h, NULL, NOW, &cfg, &plan);
	stsec_policy_no_tls(&plan, STSEC_TLS_NOT_OFFERED, &d);
	assert_int_equal(d.verdict, STSEC_DEFER);
	assert_string_equal(d.status, "4.7.4");
	/* The same peer once the STSEC has expired: plaintext allowed. */
	stsec_policy_plan(&h, NULL, NOW + 2 * DAY, &cfg, &plan);
	stsec_policy_no_tls(&plan, STSEC_TLS_NOT_OFFERED, &d);
	assert_int_equal(d.verdict, STSEC_PROCEED);
}

/* ------------------------------------------------------------------ */
/* chain check                                                          */

struct chain_case {
	const char	*name;
	const char	*pins;
	int64_t		 pkp_exp;
	const char	*chain;		/* NULL: no chain */
	enum stsec_mode	 mode;
	enum stsec_verdict verdict;
	const char	*status;
	int		 authenticated, report_only;
};

static const struct chain_case chain_cases[] = {
	{ "unpinned", "", 0, "X", STSEC_MODE_ENFORCE, STSEC_PROCEED, NULL,
	    0, 0 },
	{ "leaf matches", "AB", NOW + DAY, "A", STSEC_MODE_ENFORCE,
	    STSEC_PROCEED, NULL, 1, 0 },
	{ "intermediate matches", "AB", NOW + DAY, "XB", STSEC_MODE_ENFORCE,
	    STSEC_PROCEED, NULL, 1, 0 },
	{ "backup key in use", "AB", NOW + DAY, "B", STSEC_MODE_ENFORCE,
	    STSEC_PROCEED, NULL, 1, 0 },
	{ "other key", "AB", NOW + DAY, "XY", STSEC_MODE_ENFORCE,
	    STSEC_DEFER, "4.7.5", 0, 0 },
	{ "no chain", "AB", NOW + DAY, NULL, STSEC_MODE_ENFORCE,
	    STSEC_DEFER, "4.7.5", 0, 0 },
	{ "other key, report mode", "AB", NOW + DAY, "X", STSEC_MODE_REPORT,
	    STSEC_PROCEED, NULL, 0, 1 },
	{ "match, report mode", "AB", NOW + DAY, "A", STSEC_MODE_REPORT,
	    STSEC_PROCEED, NULL, 1, 0 },
	{ "other key, pins expired", "AB", NOW - 1, "X", STSEC_MODE_ENFORCE,
	    STSEC_PROCEED, NULL, 0, 0 },
};

static void
test_check_chain(void **state)
{
	struct stsec_policy_cfg cfg;
	struct stsec_host_rec h;
	struct stsec_pinset chain;
	struct stsec_decision d;
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(chain_cases) / sizeof(*chain_cases); i++) {
		const struct chain_case *c = &chain_cases[i];

		print_message("chain: %s\n", c->name);
		stsec_policy_cfg_default(&cfg);
		cfg.pkp_mode = c->mode;
		h = host_of(c->pins, c->pkp_exp, 0, 0);
		set_of(c->chain, &chain);
		stsec_policy_check_chain(&h, c->chain ? &chain : NULL, NOW,
		    &cfg, &d);
		assert_int_equal(d.verdict, c->verdict);
		if (c->status == NULL)
			assert_null(d.status);
		else
			assert_string_equal(d.status, c->status);
		assert_int_equal(d.authenticated, c->authenticated);
		assert_int_equal(d.report_only, c->report_only);
		assert_true(d.reason[0] != '\0');
	}
}

/* ------------------------------------------------------------------ */
/* noting                                                               */

#define NONE	STSEC_KW_ABSENT
#define OK	STSEC_KW_VALID
#define BAD	STSEC_KW_INVALID

struct note_case {
	const char	*name;
	/* stored */
	const char	*pins;
	int64_t		 pkp_exp, stsec_exp;
	char		 last_pin;	/* 0: none */
	/* the EHLO inside TLS */
	enum stsec_kw_state pkp;
	const char	*pkp_pins;
	int64_t		 pkp_age;
	enum stsec_kw_state stsec;
	int64_t		 stsec_age;
	/* the connection */
	int		 in_tls;
	const char	*chain;
	int		 chain_ok;
	/* domain record: -1 none */
	int64_t		 dom_exp;
	const char	*dom_via;
	/* expected */
	unsigned	 changes;
	const char	*want_pins;
	int64_t		 want_pkp_exp, want_stsec_exp;
	int64_t		 want_dom_exp;
	const char	*want_dom_via;
};

#define H "mx.example.net"

static const struct note_case note_cases[] = {
	{ "first contact learns both", "", 0, 0, 0,
	    OK, "AB", 1000, OK, 2000, 1, "A", 1, -1, NULL,
	    STSEC_NOTED_PKP | STSEC_NOTED_STSEC, "AB", NOW + 1000,
	    NOW + 2000, -1, NULL },
	{ "pins in an intermediate count", "", 0, 0, 0,
	    OK, "IB", 1000, NONE, 0, 1, "AI", 1, -1, NULL,
	    STSEC_NOTED_PKP, "IB", NOW + 1000, 0, -1, NULL },
	{ "no backup pin", "", 0, 0, 0,
	    OK, "A", 1000, NONE, 0, 1, "A", 1, -1, NULL,
	    STSEC_PKP_NO_BACKUP, "", 0, 0, -1, NULL },
	{ "every pin in the chain", "", 0, 0, 0,
	    OK, "AI", 1000, NONE, 0, 1, "AI", 1, -1, NULL,
	    STSEC_PKP_NO_BACKUP, "", 0, 0, -1, NULL },
	{ "pins match nothing", "", 0, 0, 0,
	    OK, "BC", 1000, NONE, 0, 1, "A", 1, -1, NULL,
	    STSEC_PKP_NO_MATCH, "", 0, 0, -1, NULL },
	{ "refused set keeps the old one", "AB", NOW + 50, 0, 0,
	    OK, "CD", 1000, NONE, 0, 1, "A", 1, -1, NULL,
	    STSEC_PKP_NO_MATCH, "AB", NOW + 50, 0, -1, NULL },
	{ "valid set replaces the whole old set", "AB", NOW + 50, 0, 0,
	    OK, "AC", 1000, NONE, 0, 1, "A", 1, -1, NULL,
	    STSEC_NOTED_PKP, "AC", NOW + 1000, 0, -1, NULL },
	{ "PKP cap", "", 0, 0, 0,
	    OK, "AB", 9999999999LL, NONE, 0, 1, "A", 1, -1, NULL,
	    STSEC_NOTED_PKP, "AB", NOW + PKP_CAP, 0, -1, NULL },
	{ "STSEC cap", "", 0, 0, 0,
	    NONE, "", 0, OK, 9999999999LL, 1, "A", 1, -1, NULL,
	    STSEC_NOTED_STSEC, "", 0, NOW + STSEC_CAP, -1, NULL },
	{ "PKP MAX-AGE=0 forgets", "AB", NOW + 50, 0, 0,
	    OK, "", 0, NONE, 0, 1, "A", 1, -1, NULL,
	    STSEC_FORGOT_PKP, "", 0, 0, -1, NULL },
	{ "STSEC MAX-AGE=0 forgets", "", 0, NOW + 50, 0,
	    NONE, "", 0, OK, 0, 1, "A", 1, -1, NULL,
	    STSEC_FORGOT_STSEC, "", 0, 0, -1, NULL },
	{ "STSEC renewed", "", 0, NOW + 50, 0,
	    NONE, "", 0, OK, 3000, 1, "A", 1, -1, NULL,
	    STSEC_NOTED_STSEC, "", 0, NOW + 3000, -1, NULL },
	{ "absent keywords keep what is known", "AB", NOW + 50, NOW + 60, 0,
	    NONE, "", 0, NONE, 0, 1, "A", 1, -1, NULL,
	    0, "AB", NOW + 50, NOW + 60, -1, NULL },
	{ "plaintext EHLO is never noted", "", 0, 0, 0,
	    OK, "AB", 1000, OK, 2000, 0, NULL, 1, -1, NULL,
	    STSEC_NOT_NOTED, "", 0, 0, -1, NULL },
	{ "plaintext MAX-AGE=0 forgets nothing", "AB", NOW + 50, NOW + 60, 0,
	    OK, "", 0, OK, 0, 0, NULL, 1, NOW + 60, "mx2.example.net",
	    STSEC_NOT_NOTED, "AB", NOW + 50, NOW + 60, NOW + 60,
	    "mx2.example.net" },
	{ "failed pins: nothing noted", "AB", NOW + 50, 0, 0,
	    OK, "XY", 1000, OK, 2000, 1, "X", 0, -1, NULL,
	    STSEC_NOT_NOTED, "AB", NOW + 50, 0, -1, NULL },
	{ "malformed PKP ignored", "AB", NOW + 50, 0, 0,
	    BAD, "", 0, OK, 2000, 1, "A", 1, -1, NULL,
	    STSEC_PKP_BAD | STSEC_NOTED_STSEC, "AB", NOW + 50, NOW + 2000,
	    -1, NULL },
	{ "malformed STSEC ignored", "", 0, NOW + 60, 0,
	    OK, "AB", 1000, BAD, 0, 1, "A", 1, -1, NULL,
	    STSEC_STSEC_BAD | STSEC_NOTED_PKP, "AB", NOW + 1000, NOW + 60,
	    -1, NULL },
	{ "key change on unpinned host", "", 0, 0, 'Z',
	    NONE, "", 0, NONE, 0, 1, "A", 1, -1, NULL,
	    STSEC_KEY_CHANGE, "", 0, 0, -1, NULL },
	{ "same key: no key change", "", 0, 0, 'A',
	    NONE, "", 0, NONE, 0, 1, "A", 1, -1, NULL,
	    0, "", 0, 0, -1, NULL },
	{ "pinned host moves to backup: no key change", "AB", NOW + 50, 0,
	    'A', NONE, "", 0, NONE, 0, 1, "B", 1, -1, NULL,
	    0, "AB", NOW + 50, 0, -1, NULL },
	{ "domain learns from its MX", "", 0, 0, 0,
	    NONE, "", 0, OK, 2000, 1, "A", 1, 0, "",
	    STSEC_NOTED_STSEC | STSEC_NOTED_DOMAIN, "", 0, NOW + 2000,
	    NOW + 2000, H },
	{ "domain keeps a longer one from another MX", "", 0, 0, 0,
	    NONE, "", 0, OK, 2000, 1, "A", 1, NOW + 5000, "mx2.example.net",
	    STSEC_NOTED_STSEC, "", 0, NOW + 2000, NOW + 5000,
	    "mx2.example.net" },
	{ "domain renewed by a host with live STSEC", "", 0, NOW + 3000, 0,
	    NONE, "", 0, NONE, 0, 1, "A", 1, NOW + 10, H,
	    STSEC_NOTED_DOMAIN, "", 0, NOW + 3000, NOW + 3000, H },
	{ "host MAX-AGE=0 withdraws what it taught", "", 0, NOW + 50, 0,
	    NONE, "", 0, OK, 0, 1, "A", 1, NOW + 50, H,
	    STSEC_FORGOT_STSEC | STSEC_FORGOT_DOMAIN, "", 0, 0, 0, "" },
	{ "host MAX-AGE=0 leaves another MX's record", "", 0, NOW + 50, 0,
	    NONE, "", 0, OK, 0, 1, "A", 1, NOW + 50, "mx2.example.net",
	    STSEC_FORGOT_STSEC, "", 0, 0, NOW + 50, "mx2.example.net" },
	{ "PKP alone does not teach the domain", "", 0, 0, 0,
	    OK, "AB", 1000, NONE, 0, 1, "A", 1, 0, "",
	    STSEC_NOTED_PKP, "AB", NOW + 1000, 0, 0, "" },
};

static void
build_ehlo(const struct note_case *c, struct stsec_ehlo *e)
{
	stsec_ehlo_init(e);
	e->pkp = c->pkp;
	set_of(c->pkp_pins, &e->pkp_pins);
	e->pkp_max_age = c->pkp_age;
	e->pkp_has_max_age = c->pkp == OK;
	snprintf(e->pkp_why, sizeof(e->pkp_why), "bad pkp");
	e->stsec = c->stsec;
	e->stsec_max_age = c->stsec_age;
	e->stsec_has_max_age = c->stsec == OK;
	snprintf(e->stsec_why, sizeof(e->stsec_why), "bad stsec");
	e->finished = 1;
}

static void
run_note_case(const struct note_case *c)
{
	struct stsec_policy_cfg cfg;
	struct stsec_host_rec h;
	struct stsec_domain_rec d;
	struct stsec_ehlo e;
	struct stsec_pinset chain;
	struct stsec_note_in in;
	struct stsec_note_out out;

	stsec_policy_cfg_default(&cfg);
	h = host_of(c->pins, c->pkp_exp, c->stsec_exp, 0);
	if (c->last_pin != 0) {
		h.has_last_pin = 1;
		h.last_pin = pin_of(c->last_pin);
	}
	memset(&d, 0, sizeof(d));
	if (c->dom_exp >= 0) {
		d.stsec_expires = c->dom_exp;
		snprintf(d.via, sizeof(d.via), "%s", c->dom_via);
	}
	build_ehlo(c, &e);
	set_of(c->chain, &chain);
	memset(&in, 0, sizeof(in));
	in.in_tls = c->in_tls;
	in.ehlo = &e;
	in.chain = c->chain != NULL ? &chain : NULL;
	in.chain_ok = c->chain_ok;

	stsec_policy_note(&h, c->dom_exp >= 0 ? &d : NULL, H, &in, NOW, &cfg,
	    &out);

	assert_int_equal(out.changes, c->changes);
	assert_set(&h.pins, c->want_pins);
	assert_int_equal(h.pkp_expires, c->want_pkp_exp);
	assert_int_equal(h.stsec_expires, c->want_stsec_exp);
	assert_int_equal(h.last_seen, NOW);
	if (c->in_tls && c->chain != NULL) {
		assert_true(h.has_last_pin);
		assert_true(stsec_pin_equal(&h.last_pin, &chain.pin[0]));
	}
	if (c->dom_exp >= 0) {
		assert_int_equal(d.stsec_expires, c->want_dom_exp);
		assert_string_equal(d.via, c->want_dom_via);
	}
}

static void
test_note(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(note_cases) / sizeof(*note_cases); i++) {
		print_message("note: %s\n", note_cases[i].name);
		run_note_case(&note_cases[i]);
	}
}

static void
test_note_seen_times(void **state)
{
	struct stsec_policy_cfg cfg;
	struct stsec_host_rec h = host_of("", 0, 0, 0);
	struct stsec_note_in in;
	struct stsec_note_out out;

	(void)state;
	stsec_policy_cfg_default(&cfg);
	memset(&in, 0, sizeof(in));
	stsec_policy_note(&h, NULL, H, &in, NOW, &cfg, &out);
	assert_int_equal(h.first_seen, NOW);
	assert_int_equal(h.last_seen, NOW);
	assert_false(h.has_last_pin);	/* plaintext shows no key */
	stsec_policy_note(&h, NULL, H, &in, NOW + 10, &cfg, &out);
	assert_int_equal(h.first_seen, NOW);
	assert_int_equal(h.last_seen, NOW + 10);
}

/* An EHLO that never reached stsec_ehlo_finish() teaches nothing. */
static void
test_note_unfinished_ehlo(void **state)
{
	struct stsec_policy_cfg cfg;
	struct stsec_host_rec h = host_of("", 0, 0, 0);
	struct stsec_ehlo e;
	struct stsec_pinset chain;
	struct stsec_note_in in = { 1, &e, &chain, 1 };
	struct stsec_note_out out;

	(void)state;
	stsec_policy_cfg_default(&cfg);
	set_of("A", &chain);
	stsec_ehlo_init(&e);
	e.stsec = STSEC_KW_VALID;
	e.stsec_max_age = 100;
	e.stsec_has_max_age = 1;
	stsec_policy_note(&h, NULL, H, &in, NOW, &cfg, &out);
	assert_int_equal(h.stsec_expires, 0);
}

/* Through the real EHLO parser: both forms teach the same set. */
static void
test_note_from_ehlo_lines(void **state)
{
	struct stsec_policy_cfg cfg;
	struct stsec_pinset chain, pins;
	struct stsec_ehlo_lines lines;
	struct stsec_ehlo e;
	struct stsec_host_rec h;
	struct stsec_note_in in;
	struct stsec_note_out out;
	enum stsec_pkp_form f;
	size_t	i;

	(void)state;
	stsec_policy_cfg_default(&cfg);
	set_of("A", &chain);
	set_of("AB", &pins);
	for (f = STSEC_PKP_SINGLE; f <= STSEC_PKP_MULTI; f++) {
		assert_int_equal(stsec_ehlo_format_pkp(&pins, 259200, f,
		    &lines, NULL), 0);
		stsec_ehlo_init(&e);
		for (i = 0; i < lines.n; i++)
			assert_int_equal(stsec_ehlo_feed(&e, lines.line[i],
			    strlen(lines.line[i])), 1);
		assert_int_equal(stsec_ehlo_feed(&e, "STSEC MAX-AGE=31536000",
		    22), 1);
		assert_int_equal(stsec_ehlo_feed(&e, "8BITMIME", 8), 0);
		stsec_ehlo_finish(&e);
		h = host_of("", 0, 0, 0);
		memset(&in, 0, sizeof(in));
		in.in_tls = 1;
		in.ehlo = &e;
		in.chain = &chain;
		in.chain_ok = 1;
		stsec_policy_note(&h, NULL, H, &in, NOW, &cfg, &out);
		assert_int_equal(out.changes,
		    STSEC_NOTED_PKP | STSEC_NOTED_STSEC);
		assert_set(&h.pins, "AB");
		assert_int_equal(h.pkp_expires, NOW + 259200);
		assert_int_equal(h.stsec_expires, NOW + 31536000);
	}
}

static void
test_note_early(void **state)
{
	struct stsec_host_rec h = host_of("", 0, NOW + DAY, 0);
	struct stsec_policy_cfg cfg;
	struct stsec_plan plan;

	(void)state;
	stsec_policy_cfg_default(&cfg);
	stsec_policy_note_early(&h, 0);
	assert_int_equal(h.early, STSEC_EARLY_REFUSED);
	stsec_policy_plan(&h, NULL, NOW, &cfg, &plan);
	assert_false(plan.starttls_first);
	assert_int_equal(plan.level, STSEC_TLS_ENCRYPT);
	stsec_policy_note_early(&h, 1);
	assert_int_equal(h.early, STSEC_EARLY_ACCEPTED);
	stsec_policy_plan(&h, NULL, NOW, &cfg, &plan);
	assert_true(plan.starttls_first);
}

/* The whole story: learn, enforce, key swap, forget. */
static void
test_lifecycle(void **state)
{
	struct stsec_policy_cfg cfg;
	struct stsec_host_rec h = host_of("", 0, 0, 0);
	struct stsec_pinset chain, other;
	struct stsec_decision d;
	struct stsec_plan plan;
	struct stsec_note_in in;
	struct stsec_note_out out;
	struct stsec_ehlo e;

	(void)state;
	stsec_policy_cfg_default(&cfg);
	set_of("A", &chain);
	set_of("X", &other);
	stsec_ehlo_init(&e);
	e.pkp = STSEC_KW_VALID;
	set_of("AB", &e.pkp_pins);
	e.pkp_max_age = 3600;
	e.stsec = STSEC_KW_VALID;
	e.stsec_max_age = 7200;
	e.finished = 1;
	in = (struct stsec_note_in){ 1, &e, &chain, 1 };
	stsec_policy_note(&h, NULL, H, &in, NOW, &cfg, &out);

	stsec_policy_plan(&h, NULL, NOW + 60, &cfg, &plan);
	assert_true(plan.pinned);
	assert_true(plan.starttls_first);
	stsec_policy_check_chain(&h, &other, NOW + 60, &cfg, &d);
	assert_int_equal(d.verdict, STSEC_DEFER);
	stsec_policy_check_chain(&h, &chain, NOW + 60, &cfg, &d);
	assert_int_equal(d.verdict, STSEC_PROCEED);
	/* After the pins expire another key passes; STSEC still holds. */
	stsec_policy_check_chain(&h, &other, NOW + 3601, &cfg, &d);
	assert_int_equal(d.verdict, STSEC_PROCEED);
	stsec_policy_plan(&h, NULL, NOW + 3601, &cfg, &plan);
	assert_int_equal(plan.why, STSEC_WHY_HOST_STSEC);
	stsec_policy_plan(&h, NULL, NOW + 7201, &cfg, &plan);
	assert_int_equal(plan.why, STSEC_WHY_NONE);
}

static void
test_names(void **state)
{
	enum stsec_tls_level l;
	enum stsec_mode m;

	(void)state;
	assert_int_equal(stsec_tls_level_parse("encrypt", &l), 0);
	assert_int_equal(l, STSEC_TLS_ENCRYPT);
	assert_int_equal(stsec_tls_level_parse("none", &l), 0);
	assert_int_equal(l, STSEC_TLS_NONE);
	assert_int_equal(stsec_tls_level_parse("secure", &l), -1);
	assert_int_equal(stsec_mode_parse("report", &m), 0);
	assert_int_equal(m, STSEC_MODE_REPORT);
	assert_int_equal(stsec_mode_parse("", &m), -1);
	assert_string_equal(stsec_tls_level_str(STSEC_TLS_MAY), "may");
	assert_string_equal(stsec_mode_str(STSEC_MODE_ENFORCE), "enforce");
	assert_string_equal(stsec_why_str(STSEC_WHY_DOMAIN_STSEC),
	    "domain-stsec");
	assert_string_equal(stsec_verdict_str(STSEC_DEFER), "defer");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_no_tls),
		cmocka_unit_test(test_stripped_stsec_peer_defers),
		cmocka_unit_test(test_check_chain),
		cmocka_unit_test(test_note),
		cmocka_unit_test(test_note_seen_times),
		cmocka_unit_test(test_note_unfinished_ehlo),
		cmocka_unit_test(test_note_from_ehlo_lines),
		cmocka_unit_test(test_note_early),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
