/*
 * ehlo.c - the PKP and STSEC EHLO keywords: parsing and formatting.
 *
 *	stsec_ehlo_init()	start on a new EHLO reply
 *	stsec_ehlo_feed()	one keyword line of the reply
 *	stsec_ehlo_finish()	the checks that need the whole reply
 *	stsec_kw_state_str()	"absent", "valid", "invalid"
 *	stsec_max_age_parse()	a MAX-AGE value: 1*10DIGIT
 *	stsec_ehlo_format_pkp()	a server's PKP lines (single or multi form)
 *	stsec_ehlo_format_stsec() "STSEC MAX-AGE=n"
 *	stsec_pkp_form_str()	"single", "multi"
 *	stsec_pkp_form_parse()	the reverse; 0, or -1 on an unknown name
 *
 * DESCRIPTION
 *	Grammar: DESIGN.md section 1.1.  Keywords and parameter names are
 *	case-insensitive; unknown parameters are ignored.  Every PKP line
 *	of one reply adds to one set, so the single-line and the
 *	multi-line forms parse alike.  A malformed line makes its
 *	keyword's whole set INVALID, for the rest of the reply, and the
 *	first reason is kept in pkp_why / stsec_why; an INVALID set
 *	carries no pins and no MAX-AGE, so nothing of it can be applied.
 *
 * DIAGNOSTICS
 *	The format functions return -1 with a message in the struct
 *	stsec_error.  Parsing never fails; it records INVALID and why.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stsec.h"

#define KW_PKP		"PKP"
#define KW_STSEC	"STSEC"
#define P_PIN		"PIN-SHA256"
#define P_MAX_AGE	"MAX-AGE"
#define MAX_AGE_DIGITS	10

/* One keyword's half of struct stsec_ehlo, so both share one parser. */
struct kw {
	const char		*name;
	enum stsec_kw_state	*state;
	struct stsec_pinset	*pins;	/* NULL: the keyword has none */
	int64_t			*max_age;
	int			*has_max_age;
	char			*why;
	size_t			 whylen;
};

static void
kw_pkp(struct stsec_ehlo *e, struct kw *k)
{
	k->name = KW_PKP;
	k->state = &e->pkp;
	k->pins = &e->pkp_pins;
	k->max_age = &e->pkp_max_age;
	k->has_max_age = &e->pkp_has_max_age;
	k->why = e->pkp_why;
	k->whylen = sizeof(e->pkp_why);
}

static void
kw_stsec(struct stsec_ehlo *e, struct kw *k)
{
	k->name = KW_STSEC;
	k->state = &e->stsec;
	k->pins = NULL;
	k->max_age = &e->stsec_max_age;
	k->has_max_age = &e->stsec_has_max_age;
	k->why = e->stsec_why;
	k->whylen = sizeof(e->stsec_why);
}

/* The first reason stays; what was parsed is dropped, never applied. */
static void
kw_invalid(struct kw *k, const char *why)
{
	if (*k->state == STSEC_KW_INVALID)
		return;
	*k->state = STSEC_KW_INVALID;
	(void)snprintf(k->why, k->whylen, "%s: %s", k->name, why);
	if (k->pins != NULL)
		stsec_pinset_clear(k->pins);
	*k->max_age = 0;
	*k->has_max_age = 0;
}

/* ASCII case-insensitive: s[0..len) equals the upper-case word w. */
static int
word_eq(const char *s, size_t len, const char *w)
{
	size_t	i;
	char	c;

	if (len != strlen(w))
		return 0;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != w[i])
			return 0;
	}
	return 1;
}

int
stsec_max_age_parse(const char *s, size_t len, int64_t *out)
{
	int64_t	v = 0;
	size_t	i;

	if (len == 0 || len > MAX_AGE_DIGITS)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static void
param_max_age(struct kw *k, const char *v, size_t vlen)
{
	int64_t	age;

	if (*k->has_max_age) {
		kw_invalid(k, "MAX-AGE given twice");
		return;
	}
	if (stsec_max_age_parse(v, vlen, &age) == -1) {
		kw_invalid(k, "MAX-AGE is not 1 to 10 digits");
		return;
	}
	*k->max_age = age;
	*k->has_max_age = 1;
}

static void
param_pin(struct kw *k, const char *v, size_t vlen)
{
	struct stsec_pin	pin;
	struct stsec_error	err;

	if (stsec_pin_from_b64(v, vlen, &pin, &err) == -1) {
		kw_invalid(k, err.msg);
		return;
	}
	if (stsec_pinset_add(k->pins, &pin, &err) == -1)
		kw_invalid(k, "more than 16 pins");
}

/* One SP-separated parameter of a keyword line. */
static void
kw_param(struct kw *k, const char *p, size_t len)
{
	const char	*eq;
	size_t		 nlen, i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 33 || (unsigned char)p[i] > 126) {
			kw_invalid(k, "bad character in a parameter");
			return;
		}
	eq = memchr(p, '=', len);
	nlen = eq == NULL ? len : (size_t)(eq - p);
	if (word_eq(p, nlen, P_MAX_AGE)) {
		if (eq == NULL)
			kw_invalid(k, "MAX-AGE without a value");
		else
			param_max_age(k, eq + 1, len - nlen - 1);
	} else if (k->pins != NULL && word_eq(p, nlen, P_PIN)) {
		if (eq == NULL)
			kw_invalid(k, "PIN-SHA256 without a value");
		else
			param_pin(k, eq + 1, len - nlen - 1);
	}
	/* anything else: other-param, ignored */
}

/* Length of the token at s (up to SP or end). */
static size_t
token_len(const char *s, size_t len)
{
	const char	*sp = memchr(s, ' ', len);

	return sp == NULL ? len : (size_t)(sp - s);
}

/* The parameters after the keyword: [p, p + len). */
static void
kw_line(struct kw *k, const char *p, size_t len)
{
	size_t	tl;
	int	nparams = 0;

	if (*k->state == STSEC_KW_ABSENT)
		*k->state = STSEC_KW_VALID;
	while (len > 0 && *k->state != STSEC_KW_INVALID) {
		if (*p == ' ') {
			p++;
			len--;
			continue;
		}
		tl = token_len(p, len);
		kw_param(k, p, tl);
		nparams++;
		p += tl;
		len -= tl;
	}
	if (nparams == 0)
		kw_invalid(k, "keyword without parameters");
}

void
stsec_ehlo_init(struct stsec_ehlo *e)
{
	memset(e, 0, sizeof(*e));
	e->pkp = STSEC_KW_ABSENT;
	e->stsec = STSEC_KW_ABSENT;
	stsec_pinset_clear(&e->pkp_pins);
}

int
stsec_ehlo_feed(struct stsec_ehlo *e, const char *line, size_t len)
{
	struct kw	k;
	size_t		kl;

	if (line == NULL)
		return 0;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;		/* tolerate a caller that kept the CRLF */
	while (len > 0 && *line == ' ') {
		line++;
		len--;
	}
	kl = token_len(line, len);
	if (word_eq(line, kl, KW_PKP))
		kw_pkp(e, &k);
	else if (word_eq(line, kl, KW_STSEC))
		kw_stsec(e, &k);
	else
		return 0;
	kw_line(&k, line + kl, len - kl);
	return 1;
}

static void
kw_finish(struct kw *k)
{
	if (*k->state != STSEC_KW_VALID)
		return;
	if (!*k->has_max_age)
		kw_invalid(k, "MAX-AGE missing");
	else if (k->pins != NULL && k->pins->n == 0 && *k->max_age > 0)
		kw_invalid(k, "no pins");
}

void
stsec_ehlo_finish(struct stsec_ehlo *e)
{
	struct kw	k;

	kw_pkp(e, &k);
	kw_finish(&k);
	kw_stsec(e, &k);
	kw_finish(&k);
	e->finished = 1;
}

const char *
stsec_kw_state_str(enum stsec_kw_state s)
{
	switch (s) {
	case STSEC_KW_ABSENT:
		return "absent";
	case STSEC_KW_VALID:
		return "valid";
	case STSEC_KW_INVALID:
		return "invalid";
	}
	return "unknown";
}

/* ------------------------------------------------------------------ */
/* formatting                                                          */

static int
check_max_age(int64_t max_age, struct stsec_error *err)
{
	if (max_age < 0 || max_age > STSEC_MAX_AGE_MAX)
		return stsec_error_set(err, "MAX-AGE %" PRId64 " out of range "
		    "0..%lld", max_age, STSEC_MAX_AGE_MAX);
	return 0;
}

/* Appends to a line; -1 if the line would exceed STSEC_EHLO_LINE_MAX. */
static int
line_add(char *line, size_t *used, const char *s)
{
	size_t	n = strlen(s);

	if (*used + n > STSEC_EHLO_LINE_MAX)
		return -1;
	memcpy(line + *used, s, n + 1);
	*used += n;
	return 0;
}

static int
format_single(const struct stsec_pinset *pins, int64_t max_age,
    struct stsec_ehlo_lines *out, struct stsec_error *err)
{
	char	buf[64], b64[STSEC_PIN_B64_LEN + 1];
	size_t	i, used = 0;

	(void)snprintf(buf, sizeof(buf), KW_PKP " " P_MAX_AGE "=%" PRId64,
	    max_age);
	out->line[0][0] = '\0';
	if (line_add(out->line[0], &used, buf) == -1)
		return stsec_error_set(err, "PKP line too long");
	for (i = 0; i < pins->n; i++) {
		stsec_pin_to_b64(&pins->pin[i], b64);
		(void)snprintf(buf, sizeof(buf), " " P_PIN "=%s", b64);
		if (line_add(out->line[0], &used, buf) == -1)
			return stsec_error_set(err, "%zu pins do not fit one "
			    "PKP line of %d octets; use the multi-line form",
			    pins->n, STSEC_EHLO_LINE_MAX);
	}
	out->n = 1;
	return 0;
}

static void
format_multi(const struct stsec_pinset *pins, int64_t max_age,
    struct stsec_ehlo_lines *out)
{
	char	b64[STSEC_PIN_B64_LEN + 1];
	size_t	i;

	for (i = 0; i < pins->n; i++) {
		stsec_pin_to_b64(&pins->pin[i], b64);
		(void)snprintf(out->line[i], sizeof(out->line[i]),
		    KW_PKP " " P_PIN "=%s", b64);
	}
	(void)snprintf(out->line[i], sizeof(out->line[i]),
	    KW_PKP " " P_MAX_AGE "=%" PRId64, max_age);
	out->n = pins->n + 1;
}

int
stsec_ehlo_format_pkp(const struct stsec_pinset *pins, int64_t max_age,
    enum stsec_pkp_form form, struct stsec_ehlo_lines *out,
    struct stsec_error *err)
{
	static const struct stsec_pinset none;

	memset(out, 0, sizeof(*out));
	if (pins == NULL)
		pins = &none;
	/* An empty set is only "PKP MAX-AGE=0": the server retires its pins. */
	if (pins->n == 0 && max_age != 0)
		return stsec_error_set(err, "empty pin set");
	if (pins->n > STSEC_MAX_PINS)
		return stsec_error_set(err, "more than %d pins",
		    STSEC_MAX_PINS);
	if (check_max_age(max_age, err) == -1)
		return -1;
	switch (form) {
	case STSEC_PKP_SINGLE:
		if (format_single(pins, max_age, out, err) == -1) {
			memset(out, 0, sizeof(*out));
			return -1;
		}
		return 0;
	case STSEC_PKP_MULTI:
		format_multi(pins, max_age, out);
		return 0;
	}
	return stsec_error_set(err, "unknown PKP form %d", (int)form);
}

int
stsec_ehlo_format_stsec(int64_t max_age, char *buf, size_t len,
    struct stsec_error *err)
{
	int	n;

	if (check_max_age(max_age, err) == -1)
		return -1;
	if (buf == NULL || len == 0)
		return stsec_error_set(err, "no buffer");
	n = snprintf(buf, len, KW_STSEC " " P_MAX_AGE "=%" PRId64, max_age);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return stsec_error_set(err, "STSEC line does not fit %zu "
		    "octets", len);
	}
	return 0;
}

const char *
stsec_pkp_form_str(enum stsec_pkp_form f)
{
	switch (f) {
	case STSEC_PKP_SINGLE:
		return "single";
	case STSEC_PKP_MULTI:
		return "multi";
	}
	return "unknown";
}

int
stsec_pkp_form_parse(const char *s, enum stsec_pkp_form *out)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "single") == 0)
		*out = STSEC_PKP_SINGLE;
	else if (strcmp(s, "multi") == 0)
		*out = STSEC_PKP_MULTI;
	else
		return -1;
	return 0;
}
