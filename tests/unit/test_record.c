/*
 * test_record.c - names and the record encoding (ext/libstsec/record.c).
 *
 *	names		a table of good and bad names, normalized or refused
 *	round trips	host records with 0, 1 and 16 pins, with and without
 *			a last pin; domain records up to a 255-octet via
 *	layout		golden encodings pin the v1 byte layout
 *	malformed	every truncation, unknown version, wrong type,
 *			17 pins, bad early, bad has_last_pin, negative
 *			times, trailing octets; encoder refusals
 *	mutations	random damage never crashes; what decodes
 *			re-encodes to the same octets
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stsec.h"
#include "testutil.h"

#define HOST_V1_LEN(n)	(69 + 32 * (n))

/* ------------------------------------------------------------------ */
/* helpers								*/

static void
fill_pin(struct stsec_pin *p, unsigned seed)
{
	size_t	i;

	for (i = 0; i < STSEC_PIN_LEN; i++)
		p->hash[i] = (unsigned char)(seed * 31 + i);
}

static void
make_host(struct stsec_host_rec *r, size_t npins, int last_pin)
{
	size_t	i;

	memset(r, 0, sizeof(*r));
	r->pins.n = npins;
	for (i = 0; i < npins; i++)
		fill_pin(&r->pins.pin[i], (unsigned)i + 1);
	r->pkp_expires = npins ? 1700000000 + (int64_t)npins : 0;
	r->stsec_expires = 1800000000;
	r->early = (enum stsec_early)(npins % 3);
	r->first_seen = 1600000000;
	r->last_seen = INT64_MAX;
	r->has_last_pin = last_pin;
	if (last_pin)
		fill_pin(&r->last_pin, 99);
}

static void
assert_host_equal(const struct stsec_host_rec *a,
    const struct stsec_host_rec *b)
{
	size_t	i;

	assert_int_equal(a->pins.n, b->pins.n);
	for (i = 0; i < a->pins.n; i++)
		assert_memory_equal(a->pins.pin[i].hash, b->pins.pin[i].hash,
		    STSEC_PIN_LEN);
	assert_true(a->pkp_expires == b->pkp_expires);
	assert_true(a->stsec_expires == b->stsec_expires);
	assert_int_equal(a->early, b->early);
	assert_true(a->first_seen == b->first_seen);
	assert_true(a->last_seen == b->last_seen);
	assert_int_equal(a->has_last_pin, b->has_last_pin);
	assert_memory_equal(a->last_pin.hash, b->last_pin.hash, STSEC_PIN_LEN);
}

static void
assert_err_has(const struct stsec_error *e, const char *what)
{
	if (strstr(e->msg, what) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", e->msg, what);
}

static size_t
enc_host(const struct stsec_host_rec *r, unsigned char *buf, size_t len)
{
	struct stsec_error e;
	int	n;

	n = stsec_record_encode_host(r, buf, len, &e);
	if (n < 0)
		fail_msg("encode: %s", e.msg);
	return (size_t)n;
}

static size_t
enc_domain(const struct stsec_domain_rec *r, unsigned char *buf, size_t len)
{
	struct stsec_error e;
	int	n;

	n = stsec_record_encode_domain(r, buf, len, &e);
	if (n < 0)
		fail_msg("encode: %s", e.msg);
	return (size_t)n;
}

/* Decodes a heap copy of exactly len octets, so ASan sees overreads. */
static int
dec_host(const unsigned char *buf, size_t len, struct stsec_host_rec *r,
    struct stsec_error *e)
{
	unsigned char *copy = malloc(len ? len : 1);
	int	ret;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	ret = stsec_record_decode_host(copy, len, r, e);
	free(copy);
	return ret;
}

static int
dec_domain(const unsigned char *buf, size_t len, struct stsec_domain_rec *r,
    struct stsec_error *e)
{
	unsigned char *copy = malloc(len ? len : 1);
	int	ret;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	ret = stsec_record_decode_domain(copy, len, r, e);
	free(copy);
	return ret;
}

/* ------------------------------------------------------------------ */
/* names								*/

static char long_label[80], name253[300], name254[300], name_huge[1100];

static void
make_long_names(void)
{
	size_t	i;

	memset(long_label, 'a', 64);		/* 64: one too many */
	long_label[64] = '\0';
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	for (i = 0; i < 253; i++)
		name253[i] = (i % 64 == 63) ? '.' : 'b';
	name253[253] = '\0';
	memcpy(name254, name253, 253);
	memcpy(name254 + 253, "c", 2);
	memset(name_huge, 'x', sizeof(name_huge) - 1);
}

static const struct name_case {
	const char	*in;
	const char	*out;	/* NULL: refused */
	const char	*why;	/* part of the error */
} name_cases[] = {
	{ "example.net", "example.net", NULL },
	{ "Example.NET.", "example.net", NULL },
	{ "MX1.example.net", "mx1.example.net", NULL },
	{ "a", "a", NULL },
	{ "a.", "a", NULL },
	{ "mx_1.ex-ample.org", "mx_1.ex-ample.org", NULL },
	{ "192.0.2.1", "192.0.2.1", NULL },
	{ "[127.0.0.1]", "[127.0.0.1]", NULL },
	{ "[IPv6:::1]", "[ipv6:::1]", NULL },
	{ "[127.0.0.1]:2526", "[127.0.0.1]:2526", NULL },
	{ "[::1]:65535", "[::1]:65535", NULL },
	{ "[ipv6:2001:DB8::1]", "[ipv6:2001:db8::1]", NULL },
	{ "[::1]", "[::1]", NULL },
	{ "[2001:db8::ffff:192.0.2.1]", "[2001:db8::ffff:192.0.2.1]", NULL },
	{ "", NULL, "empty" },
	{ ".", NULL, "empty" },
	{ "..", NULL, "empty label" },
	{ "a..b", NULL, "empty label" },
	{ ".a", NULL, "empty label" },
	{ "a..", NULL, "empty label" },
	{ "exa mple.net", NULL, "not allowed" },
	{ "ex*ample.net", NULL, "not allowed" },
	{ "ex\tample", NULL, "not allowed" },
	{ "caf\xc3\xa9.example", NULL, "not allowed" },
	{ "a/b", NULL, "not allowed" },
	{ "[127.0.0.1", NULL, "address literal" },
	{ "[127.0.0.1].", NULL, "address literal" },
	{ "[127.0.0.1]:", NULL, "address literal" },
	{ "[127.0.0.1]:0", NULL, "address literal" },
	{ "[127.0.0.1]:65536", NULL, "address literal" },
	{ "[127.0.0.1]:25x", NULL, "address literal" },
	{ "[127.0.0.1]x", NULL, "address literal" },
	{ "[1.2.3]", NULL, "address literal" },
	{ "[256.1.1.1]", NULL, "address literal" },
	{ "[IPv6:1.2.3.4]", NULL, "address literal" },
	{ "[IPv6:]", NULL, "address literal" },
	{ "[]", NULL, "address literal" },
	{ "[", NULL, "address literal" },
	{ "[example.net]", NULL, "address literal" },
	{ "[::1]x", NULL, "address literal" },
};

static void
check_name(const char *in, const char *want, const char *why)
{
	struct stsec_error e = { "" };
	char	out[STSEC_NAME_MAX + 1];
	int	r;

	r = stsec_name_normalize(in, out, sizeof(out), &e);
	if (want != NULL && r != 0)
		fail_msg("\"%.40s\" refused: %s", in, e.msg);
	if (want != NULL && strcmp(out, want) != 0)
		fail_msg("\"%.40s\" -> \"%s\", want \"%s\"", in, out, want);
	if (want == NULL && r != -1)
		fail_msg("\"%.40s\" accepted as \"%s\"", in, out);
	if (why != NULL)
		assert_err_has(&e, why);
}

static void
test_names(void **state)
{
	char	dotted[300];
	size_t	i;

	(void)state;
	make_long_names();
	for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++)
		check_name(name_cases[i].in, name_cases[i].out,
		    name_cases[i].why);
	check_name(long_label + 1, long_label + 1, NULL);	/* 63 */
	check_name(long_label, NULL, "label too long");
	check_name(name253, name253, NULL);
	memcpy(dotted, name253, 253);
	memcpy(dotted + 253, ".", 2);
	check_name(dotted, name253, NULL);
	check_name(name254, NULL, "too long");
	check_name(name_huge, NULL, "too long");
}

static void
test_name_buffer(void **state)
{
	struct stsec_error e;
	char	out[16];

	(void)state;
	assert_int_equal(stsec_name_normalize("example.net", out, 11, &e), -1);
	assert_err_has(&e, "buffer too small");
	assert_int_equal(stsec_name_normalize("example.net", out, 12, &e), 0);
	assert_string_equal(out, "example.net");
	assert_int_equal(stsec_name_normalize("Example.NET.", out, 12, NULL),
	    0);
	assert_int_equal(stsec_name_normalize(NULL, out, 12, &e), -1);
}

static void
test_early_str(void **state)
{
	(void)state;
	assert_string_equal(stsec_early_str(STSEC_EARLY_UNKNOWN), "unknown");
	assert_string_equal(stsec_early_str(STSEC_EARLY_ACCEPTED), "accepted");
	assert_string_equal(stsec_early_str(STSEC_EARLY_REFUSED), "refused");
	assert_string_equal(stsec_early_str((enum stsec_early)7), "invalid");
}

/* ------------------------------------------------------------------ */
/* round trips and layout						*/

static const struct host_case {
	size_t	npins;
	int	last_pin;
} host_cases[] = {
	{ 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 }, { 2, 1 },
	{ STSEC_MAX_PINS, 0 }, { STSEC_MAX_PINS, 1 },
};

static void
test_host_round_trip(void **state)
{
	unsigned char	buf[STSEC_HOST_REC_MAX];
	struct stsec_host_rec in, out;
	struct stsec_error e;
	size_t	i, n;

	(void)state;
	for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
		make_host(&in, host_cases[i].npins, host_cases[i].last_pin);
		n = enc_host(&in, buf, sizeof(buf));
		assert_int_equal(n, HOST_V1_LEN(host_cases[i].npins));
		assert_int_equal(buf[0], STSEC_RECORD_VERSION);
		assert_int_equal(buf[1], 'H');
		memset(&out, 0xee, sizeof(out));
		if (dec_host(buf, n, &out, &e) != 0)
			fail_msg("case %zu: %s", i, e.msg);
		assert_host_equal(&in, &out);
	}
}

static void
test_host_max_fits(void **state)
{
	unsigned char	buf[HOST_V1_LEN(STSEC_MAX_PINS)];
	struct stsec_host_rec r;

	(void)state;
	assert_true(HOST_V1_LEN(STSEC_MAX_PINS) <= STSEC_HOST_REC_MAX);
	make_host(&r, STSEC_MAX_PINS, 1);
	assert_int_equal(enc_host(&r, buf, sizeof(buf)), sizeof(buf));
}

/* Pins the v1 host layout: the store's files depend on it. */
static void
test_host_golden(void **state)
{
	static const unsigned char want[] = {
		1, 'H', 2, 1,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0, 0, 0, 0, 0, 0, 0, 0x10,
		0, 0, 0, 0, 0, 0, 0x01, 0x00,
		0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		1,
		[37] = 0xaa, [68] = 0xaa,
		[69] = 0x55, [100] = 0x55,
	};
	unsigned char	buf[STSEC_HOST_REC_MAX];
	struct stsec_host_rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.early = STSEC_EARLY_REFUSED;
	r.pins.n = 1;
	r.pins.pin[0].hash[0] = r.pins.pin[0].hash[31] = 0x55;
	r.pkp_expires = 0x0102030405060708LL;
	r.stsec_expires = 0x10;
	r.first_seen = 0x100;
	r.last_seen = INT64_MAX;
	r.has_last_pin = 1;
	r.last_pin.hash[0] = r.last_pin.hash[31] = 0xaa;
	assert_int_equal(enc_host(&r, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void
test_domain_round_trip(void **state)
{
	static const char *const vias[] = { "", "mx.example.net", NULL };
	unsigned char	buf[STSEC_DOMAIN_REC_MAX];
	struct stsec_domain_rec in, out;
	struct stsec_error e;
	size_t	i, n;

	(void)state;
	for (i = 0; i < 3; i++) {
		memset(&in, 0, sizeof(in));
		in.stsec_expires = 1800000000 + (int64_t)i;
		in.noted = 1700000000;
		if (vias[i] != NULL)
			strcpy(in.via, vias[i]);
		else
			memset(in.via, 'v', STSEC_NAME_MAX);	/* longest */
		n = enc_domain(&in, buf, sizeof(buf));
		assert_int_equal(n, 19 + strlen(in.via));
		memset(&out, 0xee, sizeof(out));
		if (dec_domain(buf, n, &out, &e) != 0)
			fail_msg("case %zu: %s", i, e.msg);
		assert_true(out.stsec_expires == in.stsec_expires);
		assert_true(out.noted == in.noted);
		assert_string_equal(out.via, in.via);
	}
}

static void
test_domain_golden(void **state)
{
	static const unsigned char want[] = {
		1, 'D',
		0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0x2a,
		4, 'm', 'x', '.', 'a',
	};
	unsigned char	buf[STSEC_DOMAIN_REC_MAX];
	struct stsec_domain_rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.stsec_expires = 1700000000;
	r.noted = 42;
	strcpy(r.via, "mx.a");
	assert_int_equal(enc_domain(&r, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

/* ------------------------------------------------------------------ */
/* malformed input							*/

static void
test_host_truncations(void **state)
{
	unsigned char	buf[STSEC_HOST_REC_MAX];
	struct stsec_host_rec in, out, sentinel;
	struct stsec_error e;
	size_t	i, n, len;

	(void)state;
	memset(&sentinel, 0x5a, sizeof(sentinel));
	for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
		make_host(&in, host_cases[i].npins, host_cases[i].last_pin);
		n = enc_host(&in, buf, sizeof(buf));
		for (len = 0; len < n; len++) {
			out = sentinel;
			if (dec_host(buf, len, &out, &e) != -1)
				fail_msg("%zu pins: %zu of %zu octets "
				    "decoded", host_cases[i].npins, len, n);
			assert_err_has(&e, len ? "truncated" : "empty");
			assert_memory_equal(&out, &sentinel, sizeof(out));
		}
	}
	assert_int_equal(stsec_record_decode_host(NULL, 0, &out, &e), -1);
}

static void
test_domain_truncations(void **state)
{
	unsigned char	buf[STSEC_DOMAIN_REC_MAX];
	struct stsec_domain_rec in, out;
	struct stsec_error e;
	size_t	n, len;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.stsec_expires = 5;
	memset(in.via, 'q', STSEC_NAME_MAX);
	n = enc_domain(&in, buf, sizeof(buf));
	for (len = 0; len < n; len++) {
		memset(&out, 0x5a, sizeof(out));
		if (dec_domain(buf, len, &out, &e) != -1)
			fail_msg("%zu of %zu octets decoded", len, n);
		assert_err_has(&e, len ? "truncated" : "empty");
		assert_int_equal((unsigned char)out.via[0], 0x5a);
	}
}

/* One change to a valid host encoding (16 pins, last pin) per row. */
static const struct host_damage {
	size_t		 at;		/* offset to set */
	int		 value;		/* -1: none */
	int		 extra;		/* octets appended */
	const char	*why;
} host_damage[] = {
	{ 0, 2, 0, "record format version 2 unknown" },
	{ 0, 0, 0, "record format version 0 unknown" },
	{ 0, 255, 0, "record format version 255 unknown" },
	{ 1, 'D', 0, "type 0x44" },
	{ 1, 0, 0, "type 0x00" },
	{ 3, 17, 32, "17 pins" },
	{ 3, 255, 0, "255 pins" },
	{ 3, 15, 0, "trailing" },
	{ 2, 3, 0, "early value 3" },
	{ 2, 255, 0, "early value 255" },
	{ 36, 2, 0, "has_last_pin 2" },
	{ 4, 0x80, 0, "negative time" },
	{ 12, 0xff, 0, "negative time" },
	{ 20, 0x80, 0, "negative time" },
	{ 28, 0x80, 0, "negative time" },
	{ 0, -1, 1, "1 trailing" },
	{ 0, -1, 32, "32 trailing" },
};

static void
test_host_damage(void **state)
{
	unsigned char	buf[STSEC_HOST_REC_MAX + 64];
	struct stsec_host_rec in, out;
	struct stsec_error e;
	size_t	i, n;

	(void)state;
	make_host(&in, STSEC_MAX_PINS, 1);
	for (i = 0; i < sizeof(host_damage) / sizeof(host_damage[0]); i++) {
		memset(buf, 0, sizeof(buf));
		n = enc_host(&in, buf, sizeof(buf));
		if (host_damage[i].value >= 0)
			buf[host_damage[i].at] =
			    (unsigned char)host_damage[i].value;
		n += (size_t)host_damage[i].extra;
		if (dec_host(buf, n, &out, &e) != -1)
			fail_msg("row %zu decoded", i);
		assert_err_has(&e, host_damage[i].why);
	}
}

static void
test_host_last_pin_without_flag(void **state)
{
	unsigned char	buf[STSEC_HOST_REC_MAX];
	struct stsec_host_rec in, out;
	struct stsec_error e;
	size_t	n;

	(void)state;
	make_host(&in, 1, 0);
	n = enc_host(&in, buf, sizeof(buf));
	buf[37 + 5] = 1;	/* a byte of the absent last pin */
	assert_int_equal(dec_host(buf, n, &out, &e), -1);
	assert_err_has(&e, "last pin");
	in.last_pin.hash[5] = 1;
	assert_int_equal(stsec_record_encode_host(&in, buf, sizeof(buf), &e),
	    -1);
}

static const struct domain_damage {
	size_t		 at;
	int		 value;
	int		 extra;
	const char	*why;
} domain_damage[] = {
	{ 0, 9, 0, "record format version 9 unknown" },
	{ 1, 'H', 0, "type 0x48" },
	{ 2, 0x80, 0, "negative time" },
	{ 10, 0x80, 0, "negative time" },
	{ 18, 5, 0, "truncated" },
	{ 18, 3, 0, "1 trailing" },
	{ 20, 0, 0, "NUL in via" },
	{ 0, -1, 3, "3 trailing" },
};

static void
test_domain_damage(void **state)
{
	unsigned char	buf[STSEC_DOMAIN_REC_MAX + 8];
	struct stsec_domain_rec in, out;
	struct stsec_error e;
	size_t	i, n;

	(void)state;
	memset(&in, 0, sizeof(in));
	strcpy(in.via, "mx.a");
	for (i = 0; i < sizeof(domain_damage) / sizeof(domain_damage[0]);
	    i++) {
		memset(buf, 0, sizeof(buf));
		n = enc_domain(&in, buf, sizeof(buf));
		if (domain_damage[i].value >= 0)
			buf[domain_damage[i].at] =
			    (unsigned char)domain_damage[i].value;
		n += (size_t)domain_damage[i].extra;
		if (dec_domain(buf, n, &out, &e) != -1)
			fail_msg("row %zu decoded", i);
		assert_err_has(&e, domain_damage[i].why);
	}
}

static void
test_cross_type(void **state)
{
	unsigned char	hbuf[STSEC_HOST_REC_MAX], dbuf[STSEC_DOMAIN_REC_MAX];
	struct stsec_host_rec h;
	struct stsec_domain_rec d;
	struct stsec_error e;
	size_t	hn, dn;

	(void)state;
	make_host(&h, 0, 0);
	hn = enc_host(&h, hbuf, sizeof(hbuf));
	memset(&d, 0, sizeof(d));
	strcpy(d.via, "a");
	dn = enc_domain(&d, dbuf, sizeof(dbuf));
	assert_int_equal(dec_domain(hbuf, hn, &d, &e), -1);
	assert_int_equal(dec_host(dbuf, dn, &h, &e), -1);
}

/* ------------------------------------------------------------------ */
/* the encoder								*/

static void
test_encode_too_small(void **state)
{
	unsigned char	buf[STSEC_HOST_REC_MAX];
	struct stsec_host_rec h;
	struct stsec_domain_rec d;
	struct stsec_error e;
	size_t	len, need;

	(void)state;
	make_host(&h, 3, 1);
	need = HOST_V1_LEN(3);
	for (len = 0; len < need; len++) {
		assert_int_equal(stsec_record_encode_host(&h, buf, len, &e),
		    -1);
		assert_err_has(&e, "buffer too small");
	}
	assert_int_equal(stsec_record_encode_host(&h, buf, need, &e), need);
	assert_int_equal(stsec_record_encode_host(&h, NULL, 0, &e), -1);
	memset(&d, 0, sizeof(d));
	strcpy(d.via, "mx.example");
	for (len = 0; len < 19 + 10; len++)
		assert_int_equal(stsec_record_encode_domain(&d, buf, len, &e),
		    -1);
	assert_int_equal(stsec_record_encode_domain(&d, buf, 29, &e), 29);
}

static void
test_encode_refuses(void **state)
{
	unsigned char	buf[STSEC_HOST_REC_MAX];
	struct stsec_host_rec h;
	struct stsec_domain_rec d;
	struct stsec_error e;

	(void)state;
	make_host(&h, 1, 1);
	h.pins.n = STSEC_MAX_PINS + 1;
	assert_int_equal(stsec_record_encode_host(&h, buf, sizeof(buf), &e),
	    -1);
	make_host(&h, 1, 1);
	h.early = (enum stsec_early)3;
	assert_int_equal(stsec_record_encode_host(&h, buf, sizeof(buf), &e),
	    -1);
	make_host(&h, 1, 1);
	h.has_last_pin = 2;
	assert_int_equal(stsec_record_encode_host(&h, buf, sizeof(buf), &e),
	    -1);
	make_host(&h, 1, 1);
	h.first_seen = -1;
	assert_int_equal(stsec_record_encode_host(&h, buf, sizeof(buf), &e),
	    -1);
	memset(&d, 0, sizeof(d));
	d.noted = -5;
	assert_int_equal(stsec_record_encode_domain(&d, buf, sizeof(buf), &e),
	    -1);
	memset(&d, 'x', sizeof(d));	/* via not terminated */
	d.noted = d.stsec_expires = 0;
	assert_int_equal(stsec_record_encode_domain(&d, buf, sizeof(buf), &e),
	    -1);
}

/* ------------------------------------------------------------------ */
/* random damage							*/

static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Damages a copy of buf[0..n) into out; returns the new length. */
static size_t
mutate(const unsigned char *buf, size_t n, unsigned char *out, size_t cap,
    uint32_t *seed)
{
	size_t	len = n, k, i;

	memcpy(out, buf, n);
	memset(out + n, 0, cap - n);
	k = 1 + xorshift(seed) % 3;
	for (i = 0; i < k; i++) {
		if (xorshift(seed) % 8 == 0)
			len = xorshift(seed) % cap;
		else if (len > 0)
			out[xorshift(seed) % len] =
			    (unsigned char)xorshift(seed);
	}
	return len;
}

static void
test_mutations(void **state)
{
	unsigned char	buf[STSEC_HOST_REC_MAX], m[STSEC_HOST_REC_MAX],
			again[STSEC_HOST_REC_MAX];
	struct stsec_host_rec in, out;
	struct stsec_error e;
	uint32_t seed = 20240601;
	size_t	round, n, len;

	(void)state;
	for (round = 0; round < 20000; round++) {
		make_host(&in, round % (STSEC_MAX_PINS + 1), (int)(round & 1));
		n = enc_host(&in, buf, sizeof(buf));
		len = mutate(buf, n, m, sizeof(m), &seed);
		if (dec_host(m, len, &out, &e) == -1)
			continue;
		/* What decodes is canonical: it re-encodes to itself. */
		assert_int_equal(enc_host(&out, again, sizeof(again)), len);
		assert_memory_equal(again, m, len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_name_buffer),
		cmocka_unit_test(test_early_str),
		cmocka_unit_test(test_host_round_trip),
		cmocka_unit_test(test_host_max_fits),
		cmocka_unit_test(test_host_golden),
		cmocka_unit_test(test_domain_round_trip),
		cmocka_unit_test(test_domain_golden),
		cmocka_unit_test(test_host_truncations),
		cmocka_unit_test(test_domain_truncations),
		cmocka_unit_test(test_host_damage),
		cmocka_unit_test(test_host_last_pin_without_flag),
		cmocka_unit_test(test_domain_damage),
		cmocka_unit_test(test_cross_type),
		cmocka_unit_test(test_encode_too_small),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
