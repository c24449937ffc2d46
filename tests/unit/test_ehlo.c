/*
 * test_ehlo.c - unit tests of ext/libstsec/ehlo.c: the PKP and STSEC keyword
 * grammar (DESIGN.md section 1.1), both PKP forms, formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "stsec.h"

#define P1	"d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="
#define P2	"LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
#define P43	"d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM"
#define PNC	"d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmN="	/* bad pad */
#define PBAD	"d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZW_M="	/* base64url */

#define MAX_LINES	4

/*
 * Each case is one EHLO reply: its keyword lines, then what both sets
 * must be after stsec_ehlo_finish().  A reason is a substring of the
 * *_why text, NULL when the set must be VALID or ABSENT.
 */
struct ehlo_case {
	const char		*lines[MAX_LINES];
	enum stsec_kw_state	 pkp;
	int64_t			 pkp_age;
	size_t			 npins;
	const char		*pkp_why;
	enum stsec_kw_state	 stsec;
	int64_t			 stsec_age;
	const char		*stsec_why;
};

#define A	STSEC_KW_ABSENT
#define V	STSEC_KW_VALID
#define I	STSEC_KW_INVALID

static const struct ehlo_case ehlo_cases[] = {
	/* the two forms, and the seed's example */
	{ { "PKP MAX-AGE=259200 PIN-SHA256=" P1 " PIN-SHA256=" P2 },
	    V, 259200, 2, NULL, A, 0, NULL },
	{ { "PKP PIN-SHA256=" P1, "PKP PIN-SHA256=" P2,
	    "PKP MAX-AGE=259200", "STSEC MAX-AGE=31536000" },
	    V, 259200, 2, NULL, V, 31536000, NULL },
	{ { "PKP MAX-AGE=7 PIN-SHA256=" P1, "PKP PIN-SHA256=" P2 },
	    V, 7, 2, NULL, A, 0, NULL },
	/* case-insensitive keyword and parameter names */
	{ { "pkp max-age=10 pin-sha256=" P1 }, V, 10, 1, NULL, A, 0, NULL },
	{ { "Pkp Max-Age=10 Pin-Sha256=" P1, "sTsEc mAx-aGe=3" },
	    V, 10, 1, NULL, V, 3, NULL },
	/* unknown parameters ignored */
	{ { "PKP FOO=bar MAX-AGE=5 X PIN-SHA256=" P1 " report-uri=x=y" },
	    V, 5, 1, NULL, A, 0, NULL },
	{ { "PKP PIN-SHA1=xyz PIN-SHA256X=abc MAX-AGEX=q MAX-AGE=5 "
	    "PIN-SHA256=" P1 }, V, 5, 1, NULL, A, 0, NULL },
	{ { "STSEC PIN-SHA256=junk MAX-AGE=5 INCLUDESUBDOMAINS" },
	    A, 0, 0, NULL, V, 5, NULL },
	/* runs of spaces */
	{ { "PKP   MAX-AGE=5    PIN-SHA256=" P1 "   " },
	    V, 5, 1, NULL, A, 0, NULL },
	{ { "  PKP MAX-AGE=5 PIN-SHA256=" P1, "STSEC    MAX-AGE=9  " },
	    V, 5, 1, NULL, V, 9, NULL },
	/* a caller that kept the CRLF */
	{ { "PKP MAX-AGE=5 PIN-SHA256=" P1 "\r\n" }, V, 5, 1, NULL, A, 0,
	    NULL },
	/* a repeated pin counts once */
	{ { "PKP MAX-AGE=5 PIN-SHA256=" P1 " PIN-SHA256=" P1,
	    "PKP PIN-SHA256=" P1 }, V, 5, 1, NULL, A, 0, NULL },
	/* bad pins */
	{ { "PKP MAX-AGE=5 PIN-SHA256=" P43 }, I, 0, 0,
	    "has 43 characters, want 44", A, 0, NULL },
	{ { "PKP MAX-AGE=5 PIN-SHA256=" P1 "A" }, I, 0, 0,
	    "has 45 characters", A, 0, NULL },
	{ { "PKP MAX-AGE=5 PIN-SHA256=" PBAD }, I, 0, 0, "not base64",
	    A, 0, NULL },
	{ { "PKP MAX-AGE=5 PIN-SHA256=" PNC }, I, 0, 0,
	    "not canonical base64", A, 0, NULL },
	{ { "PKP MAX-AGE=5 PIN-SHA256= " P1 }, I, 0, 0, "has 0 characters",
	    A, 0, NULL },
	{ { "PKP MAX-AGE=5 PIN-SHA256" }, I, 0, 0, "without a value",
	    A, 0, NULL },
	{ { "PKP PIN-SHA256=" P1, "PKP PIN-SHA256=" PNC, "PKP MAX-AGE=5" },
	    I, 0, 0, "not canonical", A, 0, NULL },
	/* MAX-AGE missing */
	{ { "PKP PIN-SHA256=" P1 }, I, 0, 0, "MAX-AGE missing", A, 0, NULL },
	{ { "PKP PIN-SHA256=" P1 " FOO=1" }, I, 0, 0, "MAX-AGE missing",
	    A, 0, NULL },
	{ { "STSEC FOO" }, A, 0, 0, NULL, I, 0, "MAX-AGE missing" },
	{ { "PKP MAX-AGE PIN-SHA256=" P1 }, I, 0, 0, "without a value",
	    A, 0, NULL },
	/* MAX-AGE twice: one line, across lines, even equal */
	{ { "PKP MAX-AGE=5 MAX-AGE=5 PIN-SHA256=" P1 }, I, 0, 0, "twice",
	    A, 0, NULL },
	{ { "PKP MAX-AGE=5 PIN-SHA256=" P1, "PKP MAX-AGE=5" }, I, 0, 0,
	    "twice", A, 0, NULL },
	{ { "PKP MAX-AGE=5 PIN-SHA256=" P1, "PKP MAX-AGE=6" }, I, 0, 0,
	    "twice", A, 0, NULL },
	{ { "STSEC MAX-AGE=5", "STSEC MAX-AGE=5" }, A, 0, 0, NULL,
	    I, 0, "twice" },
	{ { "STSEC MAX-AGE=5 max-age=5" }, A, 0, 0, NULL, I, 0, "twice" },
	/* MAX-AGE not 1*10DIGIT */
	{ { "PKP MAX-AGE= PIN-SHA256=" P1 }, I, 0, 0, "digits", A, 0, NULL },
	{ { "PKP MAX-AGE=+5 PIN-SHA256=" P1 }, I, 0, 0, "digits", A, 0, NULL },
	{ { "PKP MAX-AGE=-5 PIN-SHA256=" P1 }, I, 0, 0, "digits", A, 0, NULL },
	{ { "PKP MAX-AGE=5a PIN-SHA256=" P1 }, I, 0, 0, "digits", A, 0, NULL },
	{ { "PKP MAX-AGE=abc PIN-SHA256=" P1 }, I, 0, 0, "digits", A, 0,
	    NULL },
	{ { "PKP MAX-AGE=1.5 PIN-SHA256=" P1 }, I, 0, 0, "digits", A, 0,
	    NULL },
	{ { "PKP MAX-AGE=0x10 PIN-SHA256=" P1 }, I, 0, 0, "digits", A, 0,
	    NULL },
	{ { "PKP MAX-AGE=12345678901 PIN-SHA256=" P1 }, I, 0, 0, "digits",
	    A, 0, NULL },
	{ { "PKP MAX-AGE=00000000001 PIN-SHA256=" P1 }, I, 0, 0, "digits",
	    A, 0, NULL },
	{ { "STSEC MAX-AGE=99999999999999999999" }, A, 0, 0, NULL,
	    I, 0, "digits" },
	{ { "STSEC MAX-AGE=-1" }, A, 0, 0, NULL, I, 0, "digits" },
	{ { "STSEC MAX-AGE==5" }, A, 0, 0, NULL, I, 0, "digits" },
	{ { "PKP MAX-AGE=9999999999 PIN-SHA256=" P1 }, V, 9999999999LL, 1,
	    NULL, A, 0, NULL },
	{ { "PKP MAX-AGE=0000000001 PIN-SHA256=" P1 }, V, 1, 1, NULL,
	    A, 0, NULL },
	{ { "STSEC MAX-AGE=9999999999" }, A, 0, 0, NULL, V, 9999999999LL,
	    NULL },
	/* a keyword line without parameters */
	{ { "PKP" }, I, 0, 0, "without parameters", A, 0, NULL },
	{ { "PKP    " }, I, 0, 0, "without parameters", A, 0, NULL },
	{ { "STSEC" }, A, 0, 0, NULL, I, 0, "without parameters" },
	{ { "PKP MAX-AGE=5 PIN-SHA256=" P1, "PKP" }, I, 0, 0,
	    "without parameters", A, 0, NULL },
	/* pins and MAX-AGE */
	{ { "PKP MAX-AGE=5" }, I, 0, 0, "no pins", A, 0, NULL },
	{ { "PKP MAX-AGE=5 FOO" }, I, 0, 0, "no pins", A, 0, NULL },
	{ { "PKP MAX-AGE=0" }, V, 0, 0, NULL, A, 0, NULL },
	{ { "PKP MAX-AGE=0 PIN-SHA256=" P1 }, V, 0, 1, NULL, A, 0, NULL },
	{ { "STSEC MAX-AGE=0" }, A, 0, 0, NULL, V, 0, NULL },
	/* once INVALID stays INVALID, with the first reason */
	{ { "PKP MAX-AGE=x", "PKP PIN-SHA256=" PNC,
	    "PKP MAX-AGE=5 PIN-SHA256=" P1 }, I, 0, 0, "digits", A, 0, NULL },
	{ { "PKP PIN-SHA256=" P43 " MAX-AGE=x" }, I, 0, 0, "43 characters",
	    A, 0, NULL },
	{ { "STSEC", "STSEC MAX-AGE=5" }, A, 0, 0, NULL, I, 0,
	    "without parameters" },
	/* one keyword's failure leaves the other alone */
	{ { "PKP MAX-AGE=x PIN-SHA256=" P1, "STSEC MAX-AGE=5" }, I, 0, 0,
	    "digits", V, 5, NULL },
	{ { "PKP MAX-AGE=5 PIN-SHA256=" P1, "STSEC MAX-AGE=5 MAX-AGE=6" },
	    V, 5, 1, NULL, I, 0, "twice" },
	/* characters outside %d33-126 */
	{ { "PKP MAX-AGE=5 PIN-SHA256=" P1 " FOO\tBAR" }, I, 0, 0,
	    "bad character", A, 0, NULL },
	{ { "STSEC MAX-AGE=5 \x01" }, A, 0, 0, NULL, I, 0, "bad character" },
	{ { "STSEC MAX-AGE=5 caf\xc3\xa9" }, A, 0, 0, NULL, I, 0,
	    "bad character" },
	/* not our keywords */
	{ { "PKPX MAX-AGE=5 PIN-SHA256=" P1, "XPKP MAX-AGE=5",
	    "PKP-SHA256 MAX-AGE=5", "STSECX MAX-AGE=5" },
	    A, 0, 0, NULL, A, 0, NULL },
	{ { "PKP=1 MAX-AGE=5", "SIZE 35882577", "STARTTLS", "" },
	    A, 0, 0, NULL, A, 0, NULL },
	{ { "8BITMIME", "STS MAX-AGE=5", "STSEC\tMAX-AGE=5" },
	    A, 0, 0, NULL, A, 0, NULL },
};

/* Feeds a line from an exact-size heap copy, so over-reads show. */
static int
feed_exact(struct stsec_ehlo *e, const char *line)
{
	size_t	 len = strlen(line);
	char	*copy = malloc(len == 0 ? 1 : len);
	int	 rc;

	assert_non_null(copy);
	memcpy(copy, line, len);
	rc = stsec_ehlo_feed(e, copy, len);
	free(copy);
	return rc;
}

/* 1 when the line's first word is PKP or STSEC: what feed returns. */
static int
is_keyword_line(const char *l)
{
	while (*l == ' ')
		l++;
	return (strncasecmp(l, "PKP", 3) == 0 &&
	    (l[3] == ' ' || l[3] == '\0' || l[3] == '\r')) ||
	    (strncasecmp(l, "STSEC", 5) == 0 && (l[5] == ' ' || l[5] == '\0'));
}

static void
check_why(size_t i, const char *what, const char *why, const char *want)
{
	if (want == NULL && why[0] != '\0')
		fail_msg("case %zu: %s why \"%s\", want none", i, what, why);
	if (want != NULL && strstr(why, want) == NULL)
		fail_msg("case %zu: %s why \"%s\", want \"%s\"", i, what, why,
		    want);
}

static void
check_case(size_t i, const struct ehlo_case *c, const struct stsec_ehlo *e)
{
	if (e->pkp != c->pkp || e->stsec != c->stsec)
		fail_msg("case %zu: pkp %s stsec %s (%s / %s), want %s %s", i,
		    stsec_kw_state_str(e->pkp), stsec_kw_state_str(e->stsec),
		    e->pkp_why, e->stsec_why, stsec_kw_state_str(c->pkp),
		    stsec_kw_state_str(c->stsec));
	if (e->pkp_max_age != c->pkp_age || e->pkp_pins.n != c->npins ||
	    e->stsec_max_age != c->stsec_age)
		fail_msg("case %zu: pkp max-age %lld pins %zu, stsec %lld",
		    i, (long long)e->pkp_max_age, e->pkp_pins.n,
		    (long long)e->stsec_max_age);
	check_why(i, "pkp", e->pkp_why, c->pkp_why);
	check_why(i, "stsec", e->stsec_why, c->stsec_why);
	if (c->pkp == V)
		assert_true(e->pkp_has_max_age);
	if (c->pkp == I)	/* nothing of a bad set survives */
		assert_false(e->pkp_has_max_age);
	assert_true(e->finished);
}

static void
test_ehlo_table(void **state)
{
	const struct ehlo_case	*c;
	struct stsec_ehlo	 e;
	size_t			 i, j;

	(void)state;
	for (i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
		c = &ehlo_cases[i];
		stsec_ehlo_init(&e);
		for (j = 0; j < MAX_LINES && c->lines[j] != NULL; j++)
			if (feed_exact(&e, c->lines[j]) !=
			    is_keyword_line(c->lines[j]))
				fail_msg("case %zu line %zu: feed return", i,
				    j);
		stsec_ehlo_finish(&e);
		check_case(i, c, &e);
	}
}

static void
test_ehlo_init(void **state)
{
	struct stsec_ehlo	e;

	(void)state;
	memset(&e, 0x5a, sizeof(e));
	stsec_ehlo_init(&e);
	assert_int_equal(e.pkp, STSEC_KW_ABSENT);
	assert_int_equal(e.stsec, STSEC_KW_ABSENT);
	assert_int_equal(e.pkp_pins.n, 0);
	assert_false(e.pkp_has_max_age);
	assert_false(e.stsec_has_max_age);
	assert_false(e.finished);
	assert_int_equal(stsec_ehlo_feed(&e, NULL, 0), 0);
	stsec_ehlo_finish(&e);
	assert_int_equal(e.pkp, STSEC_KW_ABSENT);
	assert_int_equal(e.stsec, STSEC_KW_ABSENT);
}

/* Only len octets count, whatever follows them. */
static void
test_ehlo_feed_len(void **state)
{
	const char		*l = "PKP MAX-AGE=5 PIN-SHA256=" P1 "XYZ MAX-AGE=7";
	struct stsec_ehlo	 e;

	(void)state;
	stsec_ehlo_init(&e);
	assert_int_equal(stsec_ehlo_feed(&e, l, strlen(l) - 13), 1);
	stsec_ehlo_finish(&e);
	assert_int_equal(e.pkp, STSEC_KW_VALID);
	assert_int_equal(e.pkp_max_age, 5);
	assert_int_equal(e.pkp_pins.n, 1);
	stsec_ehlo_init(&e);
	assert_int_equal(stsec_ehlo_feed(&e, "PKPX", 3), 1);
	stsec_ehlo_finish(&e);
	assert_int_equal(e.pkp, STSEC_KW_INVALID);
}

/* ------------------------------------------------------------------ */

/* The i-th of a series of distinct pins. */
static void
make_pin(size_t i, struct stsec_pin *p)
{
	size_t	j;

	for (j = 0; j < STSEC_PIN_LEN; j++)
		p->hash[j] = (unsigned char)(i * 37 + j * 11 + 3);
}

static void
make_pins(struct stsec_pinset *set, size_t n)
{
	struct stsec_pin	p;
	size_t			i;

	stsec_pinset_clear(set);
	for (i = 0; i < n; i++) {
		make_pin(i, &p);
		assert_int_equal(stsec_pinset_add(set, &p, NULL), 0);
	}
	assert_int_equal(set->n, n);
}

/* One PKP line with MAX-AGE and n distinct pins (no length limit). */
static void
feed_pins(struct stsec_ehlo *e, size_t n, const char *max_age)
{
	struct stsec_pin	p;
	char			line[2048], b64[STSEC_PIN_B64_LEN + 1];
	size_t			i, used;

	used = (size_t)snprintf(line, sizeof(line), "PKP MAX-AGE=%s",
	    max_age);
	for (i = 0; i < n; i++) {
		make_pin(i, &p);
		stsec_pin_to_b64(&p, b64);
		used += (size_t)snprintf(line + used, sizeof(line) - used,
		    " PIN-SHA256=%s", b64);
	}
	assert_int_equal(stsec_ehlo_feed(e, line, strlen(line)), 1);
}

static void
test_ehlo_pin_limit(void **state)
{
	struct stsec_ehlo	e;
	char			line[128], b64[STSEC_PIN_B64_LEN + 1];
	struct stsec_pin	p;

	(void)state;
	stsec_ehlo_init(&e);
	feed_pins(&e, STSEC_MAX_PINS, "60");
	stsec_ehlo_finish(&e);
	assert_int_equal(e.pkp, STSEC_KW_VALID);
	assert_int_equal(e.pkp_pins.n, STSEC_MAX_PINS);

	stsec_ehlo_init(&e);
	feed_pins(&e, STSEC_MAX_PINS + 1, "60");
	stsec_ehlo_finish(&e);
	assert_int_equal(e.pkp, STSEC_KW_INVALID);
	assert_non_null(strstr(e.pkp_why, "more than 16 pins"));
	assert_int_equal(e.pkp_pins.n, 0);

	/* 16 on one line and a 17th on another */
	stsec_ehlo_init(&e);
	feed_pins(&e, STSEC_MAX_PINS, "60");
	memset(p.hash, 0xee, sizeof(p.hash));
	stsec_pin_to_b64(&p, b64);
	(void)snprintf(line, sizeof(line), "pkp pin-sha256=%s", b64);
	assert_int_equal(stsec_ehlo_feed(&e, line, strlen(line)), 1);
	stsec_ehlo_finish(&e);
	assert_int_equal(e.pkp, STSEC_KW_INVALID);
	assert_non_null(strstr(e.pkp_why, "more than 16 pins"));
}

/* ------------------------------------------------------------------ */

static void
round_trip(size_t npins, int64_t max_age, enum stsec_pkp_form form)
{
	struct stsec_pinset	 set;
	struct stsec_ehlo_lines	 out;
	struct stsec_ehlo	 e;
	struct stsec_error	 err;
	size_t			 i, len;

	make_pins(&set, npins);
	if (stsec_ehlo_format_pkp(&set, max_age, form, &out, &err) != 0)
		fail_msg("%zu pins %s: %s", npins, stsec_pkp_form_str(form),
		    err.msg);
	assert_int_equal(out.n, form == STSEC_PKP_SINGLE ? 1 : npins + 1);
	stsec_ehlo_init(&e);
	for (i = 0; i < out.n; i++) {
		len = strlen(out.line[i]);
		assert_true(len <= STSEC_EHLO_LINE_MAX);
		assert_null(strstr(out.line[i], "  "));
		assert_int_equal(stsec_ehlo_feed(&e, out.line[i], len), 1);
	}
	stsec_ehlo_finish(&e);
	if (e.pkp != STSEC_KW_VALID)
		fail_msg("%zu pins %s: %s", npins, stsec_pkp_form_str(form),
		    e.pkp_why);
	assert_int_equal(e.pkp_max_age, max_age);
	assert_int_equal(e.pkp_pins.n, npins);
	for (i = 0; i < npins; i++)
		assert_true(stsec_pin_equal(&e.pkp_pins.pin[i], &set.pin[i]));
	assert_int_equal(e.stsec, STSEC_KW_ABSENT);
}

static void
test_format_round_trip(void **state)
{
	static const size_t	npins[] = { 1, 2, 8 };
	static const int64_t	ages[] = { 0, 1, 259200, STSEC_MAX_AGE_MAX };
	size_t			i, j;

	(void)state;
	for (i = 0; i < sizeof(npins) / sizeof(npins[0]); i++)
		for (j = 0; j < sizeof(ages) / sizeof(ages[0]); j++) {
			round_trip(npins[i], ages[j], STSEC_PKP_SINGLE);
			round_trip(npins[i], ages[j], STSEC_PKP_MULTI);
		}
	round_trip(9, STSEC_MAX_AGE_MAX, STSEC_PKP_MULTI);
	round_trip(STSEC_MAX_PINS, 5184000, STSEC_PKP_MULTI);
}

static void
test_format_pkp_text(void **state)
{
	struct stsec_pinset	 set;
	struct stsec_ehlo_lines	 out;
	struct stsec_pin	 p1, p2;

	(void)state;
	assert_int_equal(stsec_pin_from_b64(P1, 44, &p1, NULL), 0);
	assert_int_equal(stsec_pin_from_b64(P2, 44, &p2, NULL), 0);
	stsec_pinset_clear(&set);
	assert_int_equal(stsec_pinset_add(&set, &p1, NULL), 0);
	assert_int_equal(stsec_pinset_add(&set, &p2, NULL), 0);
	assert_int_equal(stsec_ehlo_format_pkp(&set, 259200,
	    STSEC_PKP_SINGLE, &out, NULL), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.line[0], "PKP MAX-AGE=259200 PIN-SHA256="
	    P1 " PIN-SHA256=" P2);
	assert_int_equal(stsec_ehlo_format_pkp(&set, 259200,
	    STSEC_PKP_MULTI, &out, NULL), 0);
	assert_int_equal(out.n, 3);
	assert_string_equal(out.line[0], "PKP PIN-SHA256=" P1);
	assert_string_equal(out.line[1], "PKP PIN-SHA256=" P2);
	assert_string_equal(out.line[2], "PKP MAX-AGE=259200");
}

static void
test_format_pkp_errors(void **state)
{
	struct stsec_pinset	 set;
	struct stsec_ehlo_lines	 out;
	struct stsec_error	 err;

	(void)state;
	make_pins(&set, 9);
	assert_int_equal(stsec_ehlo_format_pkp(&set, 60, STSEC_PKP_SINGLE,
	    &out, &err), -1);
	assert_non_null(strstr(err.msg, "multi-line form"));
	assert_int_equal(out.n, 0);
	make_pins(&set, 8);
	assert_int_equal(stsec_ehlo_format_pkp(&set, STSEC_MAX_AGE_MAX,
	    STSEC_PKP_SINGLE, &out, &err), 0);
	assert_true(strlen(out.line[0]) <= STSEC_EHLO_LINE_MAX);

	assert_int_equal(stsec_ehlo_format_pkp(&set, -1, STSEC_PKP_MULTI,
	    &out, &err), -1);
	assert_non_null(strstr(err.msg, "out of range"));
	assert_int_equal(stsec_ehlo_format_pkp(&set, STSEC_MAX_AGE_MAX + 1,
	    STSEC_PKP_SINGLE, &out, &err), -1);
	stsec_pinset_clear(&set);
	assert_int_equal(stsec_ehlo_format_pkp(&set, 60, STSEC_PKP_SINGLE,
	    &out, &err), -1);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(stsec_ehlo_format_pkp(NULL, 60, STSEC_PKP_MULTI,
	    &out, NULL), -1);
	assert_int_equal(stsec_ehlo_format_pkp(&set, 60,
	    (enum stsec_pkp_form)7, &out, NULL), -1);
}

/* "PKP MAX-AGE=0" alone retires the pins, in both forms. */
static void
test_format_pkp_retire(void **state)
{
	struct stsec_pinset	 set;
	struct stsec_ehlo_lines	 out;
	struct stsec_ehlo	 e;
	enum stsec_pkp_form	 f;

	(void)state;
	stsec_pinset_clear(&set);
	for (f = STSEC_PKP_SINGLE; f <= STSEC_PKP_MULTI; f++) {
		assert_int_equal(stsec_ehlo_format_pkp(&set, 0, f, &out,
		    NULL), 0);
		assert_int_equal(out.n, 1);
		assert_string_equal(out.line[0], "PKP MAX-AGE=0");
		stsec_ehlo_init(&e);
		assert_int_equal(stsec_ehlo_feed(&e, out.line[0],
		    strlen(out.line[0])), 1);
		stsec_ehlo_finish(&e);
		assert_int_equal(e.pkp, STSEC_KW_VALID);
		assert_int_equal(e.pkp_max_age, 0);
	}
	assert_int_equal(stsec_ehlo_format_pkp(NULL, 0, STSEC_PKP_SINGLE,
	    &out, NULL), 0);
}

static void
test_format_stsec(void **state)
{
	struct stsec_ehlo	e;
	struct stsec_error	err;
	char			buf[64];

	(void)state;
	assert_int_equal(stsec_ehlo_format_stsec(31536000, buf, sizeof(buf),
	    &err), 0);
	assert_string_equal(buf, "STSEC MAX-AGE=31536000");
	stsec_ehlo_init(&e);
	assert_int_equal(stsec_ehlo_feed(&e, buf, strlen(buf)), 1);
	stsec_ehlo_finish(&e);
	assert_int_equal(e.stsec, STSEC_KW_VALID);
	assert_int_equal(e.stsec_max_age, 31536000);
	assert_int_equal(stsec_ehlo_format_stsec(0, buf, sizeof(buf), &err),
	    0);
	assert_string_equal(buf, "STSEC MAX-AGE=0");
	assert_int_equal(stsec_ehlo_format_stsec(STSEC_MAX_AGE_MAX, buf,
	    sizeof(buf), &err), 0);
	assert_string_equal(buf, "STSEC MAX-AGE=9999999999");
	assert_int_equal(stsec_ehlo_format_stsec(-1, buf, sizeof(buf), &err),
	    -1);
	assert_int_equal(stsec_ehlo_format_stsec(STSEC_MAX_AGE_MAX + 1, buf,
	    sizeof(buf), &err), -1);
	assert_int_equal(stsec_ehlo_format_stsec(31536000, buf, 22, &err),
	    -1);
	assert_int_equal(stsec_ehlo_format_stsec(31536000, buf, 23, &err),
	    0);
	assert_int_equal(stsec_ehlo_format_stsec(5, NULL, 0, NULL), -1);
}

static void
test_strings(void **state)
{
	enum stsec_pkp_form	f = STSEC_PKP_MULTI;

	(void)state;
	assert_string_equal(stsec_kw_state_str(STSEC_KW_ABSENT), "absent");
	assert_string_equal(stsec_kw_state_str(STSEC_KW_VALID), "valid");
	assert_string_equal(stsec_kw_state_str(STSEC_KW_INVALID), "invalid");
	assert_string_equal(stsec_pkp_form_str(STSEC_PKP_SINGLE), "single");
	assert_string_equal(stsec_pkp_form_str(STSEC_PKP_MULTI), "multi");
	assert_int_equal(stsec_pkp_form_parse("single", &f), 0);
	assert_int_equal(f, STSEC_PKP_SINGLE);
	assert_int_equal(stsec_pkp_form_parse("multi", &f), 0);
	assert_int_equal(f, STSEC_PKP_MULTI);
	assert_int_equal(stsec_pkp_form_parse("both", &f), -1);
	assert_int_equal(stsec_pkp_form_parse("", &f), -1);
	assert_int_equal(stsec_pkp_form_parse(NULL, &f), -1);
	assert_int_equal(f, STSEC_PKP_MULTI);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ehlo_init),
		cmocka_unit_test(test_ehlo_table),
		cmocka_unit_test(test_ehlo_feed_len),
		cmocka_unit_test(test_ehlo_pin_limit),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_format_pkp_text),
		cmocka_unit_test(test_format_pkp_errors),
		cmocka_unit_test(test_format_pkp_retire),
		cmocka_unit_test(test_format_stsec),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
