/*
 * fuzz_ehlo.c - libFuzzer harness for the PKP / STSEC EHLO keyword
 * parser, stsec_ehlo_feed() and stsec_ehlo_finish() (ext/libstsec/ehlo.c), and
 * the formatters.
 *
 * Input, read two ways:
 *   1. as EHLO keyword lines (the text after "250-"), separated by LF,
 *      each fed in an exact-size heap copy;
 *   2. as a pin set and MAX-AGEs to format: octet 0 the pin count (mod
 *      17) and the PKP form, then 5 octets PKP MAX-AGE, 5 octets STSEC
 *      MAX-AGE, then 32 octets per pin.
 *
 * Properties of 1: feed says 1 exactly for a PKP or STSEC line; after
 * finish each keyword is ABSENT, VALID or INVALID; a VALID PKP set has a
 * MAX-AGE and, unless MAX-AGE is 0, a pin, at most 16; an INVALID set
 * carries neither pins nor MAX-AGE (never partly applied) and says why;
 * a VALID set formatted again and parsed gives the same set back.
 * Property of 2 (round trip): format -> feed -> finish gives back
 * exactly the pins (in order) and MAX-AGEs formatted, in both forms
 * (the single-line form may refuse a set that does not fit 506 octets).
 */
#include <string.h>

#include "fuzz.h"
#include "stsec.h"

static int
is_kw(const char *line, size_t len)
{
	size_t	i = 0, k;
	char	w[8];

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	while (i < len && line[i] == ' ')
		i++;
	for (k = 0; i < len && line[i] != ' ' && k < sizeof(w) - 1; i++, k++)
		w[k] = (line[i] >= 'a' && line[i] <= 'z') ?
		    (char)(line[i] - 32) : line[i];
	w[k] = '\0';
	if (i < len && line[i] != ' ')
		return 0;	/* a longer word */
	return (k == 3 && memcmp(w, "PKP", 3) == 0) ||
	    (k == 5 && memcmp(w, "STSEC", 5) == 0);
}

static void
line_cb(const char *line, size_t len, void *arg)
{
	struct stsec_ehlo *e = arg;
	char	*c = malloc(len ? len : 1);
	int	 rc;

	if (c == NULL)
		abort();
	memcpy(c, line, len);
	rc = stsec_ehlo_feed(e, c, len);
	FUZZ_CHECK(rc == is_kw(c, len));
	free(c);
}

static void
check_state(enum stsec_kw_state st, int has_max_age, int64_t max_age,
    const char *why)
{
	FUZZ_CHECK(st == STSEC_KW_ABSENT || st == STSEC_KW_VALID ||
	    st == STSEC_KW_INVALID);
	FUZZ_CHECK(memchr(why, '\0', 128) != NULL);
	if (st == STSEC_KW_VALID) {
		FUZZ_CHECK(has_max_age);
		FUZZ_CHECK(max_age >= 0 && max_age <= STSEC_MAX_AGE_MAX);
	}
	if (st == STSEC_KW_INVALID) {
		FUZZ_CHECK(!has_max_age && max_age == 0);
		FUZZ_CHECK(why[0] != '\0');
	}
	if (st == STSEC_KW_ABSENT)
		FUZZ_CHECK(!has_max_age);
}

/* Format pins + max ages, parse them back, compare. */
static void
round_trip(const struct stsec_pinset *pins, int64_t pkp_age,
    int64_t stsec_age, enum stsec_pkp_form form)
{
	static struct stsec_ehlo_lines lines;
	struct stsec_ehlo e;
	struct stsec_error err;
	char	sline[STSEC_EHLO_LINE_MAX + 1];
	size_t	i;
	int	fmt;

	fmt = stsec_ehlo_format_pkp(pins, pkp_age, form, &lines, &err);
	if (pins->n == 0 && pkp_age != 0)
		FUZZ_CHECK(fmt == -1);
	if (form == STSEC_PKP_MULTI && (pins->n > 0 || pkp_age == 0))
		FUZZ_CHECK(fmt == 0);
	if (form == STSEC_PKP_SINGLE && pins->n > 0 && pins->n <= 8)
		FUZZ_CHECK(fmt == 0);
	FUZZ_CHECK(stsec_ehlo_format_stsec(stsec_age, sline, sizeof(sline),
	    &err) == 0);
	stsec_ehlo_init(&e);
	FUZZ_CHECK(stsec_ehlo_feed(&e, "SIZE 35882577", 13) == 0);
	if (fmt == 0)
		for (i = 0; i < lines.n; i++) {
			FUZZ_CHECK(strlen(lines.line[i]) <=
			    STSEC_EHLO_LINE_MAX);
			FUZZ_CHECK(stsec_ehlo_feed(&e, lines.line[i],
			    strlen(lines.line[i])) == 1);
		}
	FUZZ_CHECK(stsec_ehlo_feed(&e, sline, strlen(sline)) == 1);
	stsec_ehlo_finish(&e);
	FUZZ_CHECK(e.stsec == STSEC_KW_VALID && e.stsec_max_age == stsec_age);
	if (fmt != 0) {
		FUZZ_CHECK(e.pkp == STSEC_KW_ABSENT);
		return;
	}
	FUZZ_CHECK(e.pkp == STSEC_KW_VALID);
	FUZZ_CHECK(e.pkp_max_age == pkp_age);
	FUZZ_CHECK(e.pkp_pins.n == pins->n);
	for (i = 0; i < pins->n; i++)
		FUZZ_CHECK(stsec_pin_equal(&e.pkp_pins.pin[i], &pins->pin[i]));
}

static int64_t
age_of(const uint8_t *p)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < 5; i++)
		v = v << 8 | p[i];
	if (p[0] & 0x80)	/* often a small one */
		v &= 0xffffff;
	return (int64_t)(v % ((uint64_t)STSEC_MAX_AGE_MAX + 1));
}

static void
from_bytes(const uint8_t *data, size_t size)
{
	struct stsec_pinset pins;
	struct stsec_pin pin;
	struct stsec_error err;
	size_t	n, i;

	if (size < 11)
		return;
	n = data[0] % (STSEC_MAX_PINS + 1);
	stsec_pinset_clear(&pins);
	for (i = 0; i < n && 11 + (i + 1) * STSEC_PIN_LEN <= size; i++) {
		memcpy(pin.hash, data + 11 + i * STSEC_PIN_LEN,
		    STSEC_PIN_LEN);
		FUZZ_CHECK(stsec_pinset_add(&pins, &pin, &err) == 0);
	}
	round_trip(&pins, age_of(data + 1), age_of(data + 6),
	    (data[0] & 0x80) ? STSEC_PKP_MULTI : STSEC_PKP_SINGLE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stsec_ehlo e;

	stsec_ehlo_init(&e);
	fuzz_lines(data, size, line_cb, &e);
	stsec_ehlo_finish(&e);
	FUZZ_CHECK(e.finished);
	check_state(e.pkp, e.pkp_has_max_age, e.pkp_max_age, e.pkp_why);
	check_state(e.stsec, e.stsec_has_max_age, e.stsec_max_age,
	    e.stsec_why);
	FUZZ_CHECK(e.pkp_pins.n <= STSEC_MAX_PINS);
	if (e.pkp != STSEC_KW_VALID)
		FUZZ_CHECK(e.pkp_pins.n == 0);
	else if (e.pkp_max_age > 0)
		FUZZ_CHECK(e.pkp_pins.n > 0);
	/* a valid parse formats back to itself */
	if (e.pkp == STSEC_KW_VALID && e.stsec == STSEC_KW_VALID) {
		round_trip(&e.pkp_pins, e.pkp_max_age, e.stsec_max_age,
		    STSEC_PKP_SINGLE);
		round_trip(&e.pkp_pins, e.pkp_max_age, e.stsec_max_age,
		    STSEC_PKP_MULTI);
	}
	from_bytes(data, size);
	return 0;
}
