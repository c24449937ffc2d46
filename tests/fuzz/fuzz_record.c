/*
 * fuzz_record.c - libFuzzer harness for the store record decoders,
 * stsec_record_decode_host() and stsec_record_decode_domain()
 * (ext/libstsec/record.c), and the encoders.
 *
 * Input: the octets of a stored value, given (in an exact-size heap
 * copy) to both decoders; and the same octets read as the fields of a
 * record to encode.
 *
 * Properties:
 *   - a decoder fails with a message or succeeds; on failure it leaves
 *     the caller's struct untouched;
 *   - decode -> encode -> decode is stable: a value that decodes encodes
 *     back to exactly the same octets (the decoders accept one encoding
 *     of each record), the re-encoding decodes to the same record, and a
 *     buffer one octet short is refused;
 *   - encode -> decode: a record the encoder accepts is read back equal
 *     (the encoder refuses what the decoder would refuse);
 *   - stsec_name_normalize(), which makes the store keys from peer names
 *     (the input as a C string): a name it accepts comes out lower-case,
 *     NUL-terminated, and normalizing it again changes nothing; a small
 *     output buffer is never overrun.
 */
#include <string.h>

#include "fuzz.h"
#include "stsec.h"

static void
host_equal(const struct stsec_host_rec *a, const struct stsec_host_rec *b)
{
	size_t	i;

	FUZZ_CHECK(a->pins.n == b->pins.n);
	for (i = 0; i < a->pins.n; i++)
		FUZZ_CHECK(stsec_pin_equal(&a->pins.pin[i], &b->pins.pin[i]));
	FUZZ_CHECK(a->pkp_expires == b->pkp_expires);
	FUZZ_CHECK(a->stsec_expires == b->stsec_expires);
	FUZZ_CHECK(a->early == b->early);
	FUZZ_CHECK(a->first_seen == b->first_seen);
	FUZZ_CHECK(a->last_seen == b->last_seen);
	FUZZ_CHECK(a->has_last_pin == b->has_last_pin);
	FUZZ_CHECK(stsec_pin_equal(&a->last_pin, &b->last_pin));
}

static void
domain_equal(const struct stsec_domain_rec *a,
    const struct stsec_domain_rec *b)
{
	FUZZ_CHECK(a->stsec_expires == b->stsec_expires);
	FUZZ_CHECK(a->noted == b->noted);
	FUZZ_CHECK(strcmp(a->via, b->via) == 0);
}

static void
decode_host(const unsigned char *buf, size_t len)
{
	static struct stsec_host_rec r, r2, canary;
	static unsigned char enc[STSEC_HOST_REC_MAX + 1];
	struct stsec_error err;
	int	n;

	memset(&canary, 0x3c, sizeof(canary));
	r = canary;
	err.msg[0] = '\0';
	if (stsec_record_decode_host(buf, len, &r, &err) == -1) {
		FUZZ_CHECK(memcmp(&r, &canary, sizeof(r)) == 0);
		FUZZ_CHECK(err.msg[0] != '\0');
		return;
	}
	FUZZ_CHECK(len <= STSEC_HOST_REC_MAX);
	n = stsec_record_encode_host(&r, enc, sizeof(enc), &err);
	FUZZ_CHECK(n == (int)len);
	FUZZ_CHECK(memcmp(enc, buf, len) == 0);
	FUZZ_CHECK(stsec_record_encode_host(&r, enc, len - 1, &err) == -1);
	FUZZ_CHECK(stsec_record_decode_host(enc, len, &r2, &err) == 0);
	host_equal(&r, &r2);
}

static void
decode_domain(const unsigned char *buf, size_t len)
{
	static struct stsec_domain_rec r, r2, canary;
	static unsigned char enc[STSEC_DOMAIN_REC_MAX + 1];
	struct stsec_error err;
	int	n;

	memset(&canary, 0x3c, sizeof(canary));
	r = canary;
	err.msg[0] = '\0';
	if (stsec_record_decode_domain(buf, len, &r, &err) == -1) {
		FUZZ_CHECK(memcmp(&r, &canary, sizeof(r)) == 0);
		FUZZ_CHECK(err.msg[0] != '\0');
		return;
	}
	FUZZ_CHECK(len <= STSEC_DOMAIN_REC_MAX);
	FUZZ_CHECK(memchr(r.via, '\0', sizeof(r.via)) != NULL);
	n = stsec_record_encode_domain(&r, enc, sizeof(enc), &err);
	FUZZ_CHECK(n == (int)len);
	FUZZ_CHECK(memcmp(enc, buf, len) == 0);
	FUZZ_CHECK(stsec_record_encode_domain(&r, enc, len - 1, &err) == -1);
	FUZZ_CHECK(stsec_record_decode_domain(enc, len, &r2, &err) == 0);
	domain_equal(&r, &r2);
}

/* A reader of fields from the input, zeros past its end. */
struct src {
	const uint8_t	*p;
	size_t		 n;
};

static uint64_t
take(struct src *s, size_t k)
{
	uint64_t v = 0;

	while (k-- > 0) {
		v = v << 8 | (s->n > 0 ? *s->p : 0);
		if (s->n > 0) {
			s->p++;
			s->n--;
		}
	}
	return v;
}

static void
encode_host(const uint8_t *data, size_t size)
{
	static struct stsec_host_rec r, back;
	static unsigned char enc[STSEC_HOST_REC_MAX];
	struct stsec_error err;
	struct src s = { data, size };
	size_t	i, k;
	int	n;

	memset(&r, 0, sizeof(r));
	r.pins.n = take(&s, 1) % (STSEC_MAX_PINS + 2);
	r.early = (enum stsec_early)(take(&s, 1) % 4);
	r.pkp_expires = (int64_t)take(&s, 8);
	r.stsec_expires = (int64_t)take(&s, 8);
	r.first_seen = (int64_t)take(&s, 8);
	r.last_seen = (int64_t)take(&s, 8);
	r.has_last_pin = (int)(take(&s, 1) % 3);
	for (i = 0; i < STSEC_PIN_LEN; i++)
		r.last_pin.hash[i] = (unsigned char)take(&s, 1);
	for (i = 0; i < r.pins.n && i < STSEC_MAX_PINS; i++)
		for (k = 0; k < STSEC_PIN_LEN; k++)
			r.pins.pin[i].hash[k] = (unsigned char)take(&s, 1);
	if ((n = stsec_record_encode_host(&r, enc, sizeof(enc), &err)) < 0)
		return;
	FUZZ_CHECK(r.pins.n <= STSEC_MAX_PINS);
	FUZZ_CHECK(stsec_record_decode_host(enc, (size_t)n, &back, &err) == 0);
	host_equal(&r, &back);
}

static void
encode_domain(const uint8_t *data, size_t size)
{
	static struct stsec_domain_rec r, back;
	static unsigned char enc[STSEC_DOMAIN_REC_MAX];
	struct stsec_error err;
	struct src s = { data, size };
	size_t	vl;
	int	n;

	memset(&r, 0, sizeof(r));
	r.stsec_expires = (int64_t)take(&s, 8);
	r.noted = (int64_t)take(&s, 8);
	vl = s.n < STSEC_NAME_MAX ? s.n : STSEC_NAME_MAX;
	memcpy(r.via, s.p, vl);		/* a NUL inside ends it early */
	if ((n = stsec_record_encode_domain(&r, enc, sizeof(enc), &err)) < 0)
		return;
	FUZZ_CHECK(stsec_record_decode_domain(enc, (size_t)n, &back, &err)
	    == 0);
	domain_equal(&r, &back);
}

static void
names(const uint8_t *data, size_t size)
{
	static char out[STSEC_NAME_MAX + 2], again[STSEC_NAME_MAX + 2];
	struct stsec_error err;
	char	*in = malloc(size + 1), *small;
	size_t	i;

	if (in == NULL)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	if (stsec_name_normalize(in, out, sizeof(out), &err) == 0) {
		FUZZ_CHECK(strlen(out) <= STSEC_NAME_MAX);
		for (i = 0; out[i] != '\0'; i++)
			FUZZ_CHECK(!(out[i] >= 'A' && out[i] <= 'Z'));
		FUZZ_CHECK(stsec_name_normalize(out, again, sizeof(again),
		    &err) == 0);
		FUZZ_CHECK(strcmp(out, again) == 0);
	}
	if ((small = malloc(8)) == NULL)
		abort();
	(void)stsec_name_normalize(in, small, 8, &err);
	free(small);
	free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf = malloc(size ? size : 1);

	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	decode_host(buf, size);
	decode_domain(buf, size);
	free(buf);
	encode_host(data, size);
	encode_domain(data, size);
	names(data, size);
	return 0;
}
