/*
 * record.c - names and the versioned byte encoding of store records.
 *
 * FUNCTIONS
 *	stsec_name_normalize()		lower-case and check a host or domain
 *					name, or an address literal
 *	stsec_early_str()		"unknown", "accepted", "refused"
 *	stsec_record_encode_host()	struct stsec_host_rec -> octets
 *	stsec_record_decode_host()	octets -> struct stsec_host_rec
 *	stsec_record_encode_domain()	struct stsec_domain_rec -> octets
 *	stsec_record_decode_domain()	octets -> struct stsec_domain_rec
 *
 * ENCODING
 *	Every value starts with its format version, then a type octet;
 *	integers are big-endian, times are signed 64-bit and never negative.
 *
 *	host v1    [1]['H'][early][npins][pkp_expires][stsec_expires]
 *		   [first_seen][last_seen][has_last_pin][last_pin: 32]
 *		   [pins: npins * 32]		69 + 32 * npins octets
 *	domain v1  [1]['D'][stsec_expires][noted][via_len][via]
 *						19 + via_len octets
 *
 *	The encoder writes the current version only.  The decoders
 *	dispatch on the version octet, one function per format ever
 *	written, so a v2 adds a row to a table and keeps reading v1.
 *	A decoder checks every length before it reads, accepts only the
 *	exact length and fills the caller's struct only on success.  The
 *	encoder refuses what the decoder would refuse, so whatever is
 *	written can be read back.
 *
 * DIAGNOSTICS
 *	name "x": empty | too long | label too long | empty label |
 *	    character not allowed | bad address literal |
 *	    output buffer too small
 *	host record: truncated | N trailing octets | type 0xNN, not 'H' |
 *	    N pins, more than 16 | early value N out of range |
 *	    has_last_pin N, not 0 or 1 | last pin set without has_last_pin |
 *	    negative time
 *	host record format version N unknown
 *	domain record: truncated | N trailing octets | type 0xNN, not 'D' |
 *	    NUL in via | via not terminated | negative time
 *	domain record format version N unknown
 *	buffer too small: need N octets, have M
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "stsec.h"

#define NAME_DNS_MAX	253	/* RFC 1035, without the trailing dot */
#define LABEL_MAX	63
#define LITERAL_MAX	64	/* "IPv6:" and the longest IPv6 text */
#define ERRNAME_MAX	64	/* name shown in a message */

#define HOST_V1_FIXED	(4 + 4 * 8 + 1 + STSEC_PIN_LEN)
#define DOMAIN_V1_FIXED	(2 + 2 * 8 + 1)
#define TYPE_HOST	'H'
#define TYPE_DOMAIN	'D'

/* ------------------------------------------------------------------ */
/* names								*/

/* A printable, bounded copy of a name for a message. */
static void
name_for_msg(const char *in, char *out, size_t outlen)
{
	size_t	i;

	for (i = 0; i + 1 < outlen && in[i] != '\0'; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
}

static int
name_error(const char *in, const char *why, struct stsec_error *err)
{
	char	shown[ERRNAME_MAX + 1];

	name_for_msg(in, shown, sizeof(shown));
	return stsec_error_set(err, "name \"%s\": %s", shown, why);
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int
name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_' || c == '.';
}

/* ":1" to ":65535" after a literal, for a peer on another port. */
static int
port_ok(const char *p, size_t len)
{
	size_t	i;
	long	v = 0;

	if (len < 2 || len > 6 || p[0] != ':' || p[1] == '0')
		return 0;
	for (i = 1; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v <= 65535;
}

/*
 * "[192.0.2.1]", "[IPv6:2001:db8::1]" or "[2001:db8::1]", each with an
 * optional ":PORT" (a static route to a peer on a port other than 25).
 */
static int
literal_ok(const char *in, size_t len)
{
	char		inside[LITERAL_MAX + 1];
	unsigned char	addr[16];
	const char	*close = memchr(in, ']', len);
	size_t		n;

	if (close != NULL && (size_t)(close - in) + 1 < len) {
		if (!port_ok(close + 1, len - (size_t)(close - in) - 1))
			return 0;
		len = (size_t)(close - in) + 1;
	}
	if (len < 3 || in[len - 1] != ']')
		return 0;
	n = len - 2;
	if (n > LITERAL_MAX)
		return 0;
	memcpy(inside, in + 1, n);
	inside[n] = '\0';
	if (n > 5 && strncasecmp(inside, "ipv6:", 5) == 0)
		return inet_pton(AF_INET6, inside + 5, addr) == 1;
	return inet_pton(AF_INET, inside, addr) == 1 ||
	    inet_pton(AF_INET6, inside, addr) == 1;
}

/* Checks a lower-cased name without its trailing dot; NULL when good. */
static const char *
name_check(const char *s, size_t len)
{
	size_t	i, label = 0;

	if (len == 0)
		return "empty";
	if (len > NAME_DNS_MAX)
		return "too long";
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return "empty label";
			label = 0;
			continue;
		}
		if (!name_char_ok(s[i]))
			return "character not allowed";
		if (++label > LABEL_MAX)
			return "label too long";
	}
	return label == 0 ? "empty label" : NULL;
}

int
stsec_name_normalize(const char *in, char *out, size_t outlen,
    struct stsec_error *err)
{
	const char *why;
	size_t	len, i;

	if (in == NULL || out == NULL)
		return stsec_error_set(err, "name: NULL argument");
	len = strnlen(in, NAME_DNS_MAX + 2);
	if (len > NAME_DNS_MAX + 1)
		return name_error(in, "too long", err);
	if (len > 0 && in[0] == '[') {
		if (!literal_ok(in, len))
			return name_error(in, "bad address literal", err);
	} else if (len > 0 && in[len - 1] == '.')
		len--;
	if (len + 1 > outlen)
		return name_error(in, "output buffer too small", err);
	for (i = 0; i < len; i++)
		out[i] = lower(in[i]);
	out[len] = '\0';
	if (in[0] == '[')
		return 0;
	if ((why = name_check(out, len)) != NULL) {
		out[0] = '\0';
		return name_error(in, why, err);
	}
	return 0;
}

const char *
stsec_early_str(enum stsec_early e)
{
	switch (e) {
	case STSEC_EARLY_UNKNOWN:
		return "unknown";
	case STSEC_EARLY_ACCEPTED:
		return "accepted";
	case STSEC_EARLY_REFUSED:
		return "refused";
	}
	return "invalid";
}

/* ------------------------------------------------------------------ */
/* bounded writer and reader						*/

struct wr {
	unsigned char	*p;
	size_t		 len, off;
};

struct rd {
	const unsigned char *p;
	size_t		 len, off;
};

/* The caller has checked the total size; these only guard it. */
static void
wr_bytes(struct wr *w, const void *src, size_t n)
{
	if (n > w->len - w->off)
		return;
	memcpy(w->p + w->off, src, n);
	w->off += n;
}

static void
wr_u8(struct wr *w, unsigned v)
{
	unsigned char c = (unsigned char)v;

	wr_bytes(w, &c, 1);
}

static void
wr_i64(struct wr *w, int64_t v)
{
	unsigned char	b[8];
	uint64_t	u = (uint64_t)v;
	int		i;

	for (i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(u & 0xff);
		u >>= 8;
	}
	wr_bytes(w, b, sizeof(b));
}

static int
rd_bytes(struct rd *r, void *dst, size_t n)
{
	if (n > r->len - r->off)
		return -1;
	memcpy(dst, r->p + r->off, n);
	r->off += n;
	return 0;
}

static int
rd_u8(struct rd *r, unsigned *v)
{
	unsigned char c;

	if (rd_bytes(r, &c, 1) == -1)
		return -1;
	*v = c;
	return 0;
}

/* Above INT64_MAX is a negative time; -1 stands for it, refused later. */
static int
rd_time(struct rd *r, int64_t *v)
{
	unsigned char	b[8];
	uint64_t	u = 0;
	size_t		i;

	if (rd_bytes(r, b, sizeof(b)) == -1)
		return -1;
	for (i = 0; i < sizeof(b); i++)
		u = (u << 8) | b[i];
	*v = u > (uint64_t)INT64_MAX ? -1 : (int64_t)u;
	return 0;
}

static int
too_small(size_t need, size_t have, struct stsec_error *err)
{
	return stsec_error_set(err, "buffer too small: need %zu octets, "
	    "have %zu", need, have);
}

/* ------------------------------------------------------------------ */
/* host records								*/

static int
host_valid(const struct stsec_host_rec *r, struct stsec_error *err)
{
	static const unsigned char zero[STSEC_PIN_LEN];

	if (r->pins.n > STSEC_MAX_PINS)
		return stsec_error_set(err, "host record: %zu pins, more "
		    "than %d", r->pins.n, STSEC_MAX_PINS);
	if ((unsigned)r->early > STSEC_EARLY_REFUSED)
		return stsec_error_set(err, "host record: early value %d "
		    "out of range", (int)r->early);
	if (r->has_last_pin != 0 && r->has_last_pin != 1)
		return stsec_error_set(err, "host record: has_last_pin %d, "
		    "not 0 or 1", r->has_last_pin);
	if (!r->has_last_pin && memcmp(r->last_pin.hash, zero,
	    sizeof(zero)) != 0)
		return stsec_error_set(err, "host record: last pin set "
		    "without has_last_pin");
	if (r->pkp_expires < 0 || r->stsec_expires < 0 ||
	    r->first_seen < 0 || r->last_seen < 0)
		return stsec_error_set(err, "host record: negative time");
	return 0;
}

int
stsec_record_encode_host(const struct stsec_host_rec *r,
    unsigned char *buf, size_t len, struct stsec_error *err)
{
	struct wr	w = { buf, len, 0 };
	size_t		need, i;

	if (host_valid(r, err) == -1)
		return -1;
	need = HOST_V1_FIXED + r->pins.n * STSEC_PIN_LEN;
	if (buf == NULL || len < need)
		return too_small(need, buf == NULL ? 0 : len, err);
	wr_u8(&w, STSEC_RECORD_VERSION);
	wr_u8(&w, TYPE_HOST);
	wr_u8(&w, (unsigned)r->early);
	wr_u8(&w, (unsigned)r->pins.n);
	wr_i64(&w, r->pkp_expires);
	wr_i64(&w, r->stsec_expires);
	wr_i64(&w, r->first_seen);
	wr_i64(&w, r->last_seen);
	wr_u8(&w, (unsigned)r->has_last_pin);
	wr_bytes(&w, r->last_pin.hash, STSEC_PIN_LEN);
	for (i = 0; i < r->pins.n; i++)
		wr_bytes(&w, r->pins.pin[i].hash, STSEC_PIN_LEN);
	return (int)w.off;
}

/* Reads the fields of v1 in order; lengths were checked by the caller. */
static int
host_read_v1(struct rd *rd, struct stsec_host_rec *r)
{
	unsigned	type, early, npins, has;
	size_t		i;

	if (rd_u8(rd, &type) == -1 || rd_u8(rd, &early) == -1 ||
	    rd_u8(rd, &npins) == -1)
		return -1;
	r->early = (enum stsec_early)early;
	r->pins.n = npins;
	if (rd_time(rd, &r->pkp_expires) == -1 ||
	    rd_time(rd, &r->stsec_expires) == -1 ||
	    rd_time(rd, &r->first_seen) == -1 ||
	    rd_time(rd, &r->last_seen) == -1 || rd_u8(rd, &has) == -1 ||
	    rd_bytes(rd, r->last_pin.hash, STSEC_PIN_LEN) == -1)
		return -1;
	r->has_last_pin = (int)has;
	for (i = 0; i < npins && i < STSEC_MAX_PINS; i++)
		if (rd_bytes(rd, r->pins.pin[i].hash, STSEC_PIN_LEN) == -1)
			return -1;
	return 0;
}

static int
host_decode_v1(const unsigned char *buf, size_t len,
    struct stsec_host_rec *r, struct stsec_error *err)
{
	struct rd	rd = { buf, len, 0 };
	size_t		npins, need;

	if (len >= 2 && buf[1] != TYPE_HOST)
		return stsec_error_set(err, "host record: type 0x%02x, "
		    "not 'H'", buf[1]);
	if (len < HOST_V1_FIXED)
		return stsec_error_set(err, "host record: truncated "
		    "(%zu octets)", len);
	npins = buf[3];
	if (npins > STSEC_MAX_PINS)
		return stsec_error_set(err, "host record: %zu pins, more "
		    "than %d", npins, STSEC_MAX_PINS);
	need = HOST_V1_FIXED + npins * STSEC_PIN_LEN;
	if (len < need)
		return stsec_error_set(err, "host record: truncated "
		    "(%zu of %zu octets)", len, need);
	if (len > need)
		return stsec_error_set(err, "host record: %zu trailing "
		    "octets", len - need);
	rd.off = 1;	/* past the version */
	if (host_read_v1(&rd, r) == -1 || rd.off != len)
		return stsec_error_set(err, "host record: truncated "
		    "(%zu octets)", len);
	return host_valid(r, err);
}

typedef int host_decoder(const unsigned char *, size_t,
    struct stsec_host_rec *, struct stsec_error *);
typedef int domain_decoder(const unsigned char *, size_t,
    struct stsec_domain_rec *, struct stsec_error *);

static const struct {
	unsigned	version;
	host_decoder	*decode;
} host_decoders[] = {
	{ 1, host_decode_v1 },
};

int
stsec_record_decode_host(const unsigned char *buf, size_t len,
    struct stsec_host_rec *r, struct stsec_error *err)
{
	struct stsec_host_rec tmp;
	size_t	i;

	if (buf == NULL || len == 0)
		return stsec_error_set(err, "host record: empty");
	for (i = 0; i < sizeof(host_decoders) / sizeof(host_decoders[0]);
	    i++) {
		if (host_decoders[i].version != buf[0])
			continue;
		memset(&tmp, 0, sizeof(tmp));
		if (host_decoders[i].decode(buf, len, &tmp, err) == -1)
			return -1;
		*r = tmp;
		return 0;
	}
	return stsec_error_set(err, "host record format version %u unknown",
	    buf[0]);
}

/* ------------------------------------------------------------------ */
/* domain records							*/

static int
domain_valid(const struct stsec_domain_rec *r, size_t *vialen,
    struct stsec_error *err)
{
	*vialen = strnlen(r->via, sizeof(r->via));
	if (*vialen > STSEC_NAME_MAX)
		return stsec_error_set(err, "domain record: via not "
		    "terminated");
	if (r->stsec_expires < 0 || r->noted < 0)
		return stsec_error_set(err, "domain record: negative time");
	return 0;
}

int
stsec_record_encode_domain(const struct stsec_domain_rec *r,
    unsigned char *buf, size_t len, struct stsec_error *err)
{
	struct wr	w = { buf, len, 0 };
	size_t		vialen, need;

	if (domain_valid(r, &vialen, err) == -1)
		return -1;
	need = DOMAIN_V1_FIXED + vialen;
	if (buf == NULL || len < need)
		return too_small(need, buf == NULL ? 0 : len, err);
	wr_u8(&w, STSEC_RECORD_VERSION);
	wr_u8(&w, TYPE_DOMAIN);
	wr_i64(&w, r->stsec_expires);
	wr_i64(&w, r->noted);
	wr_u8(&w, (unsigned)vialen);
	wr_bytes(&w, r->via, vialen);
	return (int)w.off;
}

static int
domain_decode_v1(const unsigned char *buf, size_t len,
    struct stsec_domain_rec *r, struct stsec_error *err)
{
	struct rd	rd = { buf, len, 2 };	/* past version and type */
	size_t		vialen, need;

	if (len >= 2 && buf[1] != TYPE_DOMAIN)
		return stsec_error_set(err, "domain record: type 0x%02x, "
		    "not 'D'", buf[1]);
	if (len < DOMAIN_V1_FIXED)
		return stsec_error_set(err, "domain record: truncated "
		    "(%zu octets)", len);
	vialen = buf[DOMAIN_V1_FIXED - 1];
	need = DOMAIN_V1_FIXED + vialen;
	if (len < need)
		return stsec_error_set(err, "domain record: truncated "
		    "(%zu of %zu octets)", len, need);
	if (len > need)
		return stsec_error_set(err, "domain record: %zu trailing "
		    "octets", len - need);
	if (memchr(buf + DOMAIN_V1_FIXED, '\0', vialen) != NULL)
		return stsec_error_set(err, "domain record: NUL in via");
	if (rd_time(&rd, &r->stsec_expires) == -1 ||
	    rd_time(&rd, &r->noted) == -1)
		return stsec_error_set(err, "domain record: truncated "
		    "(%zu octets)", len);
	memcpy(r->via, buf + DOMAIN_V1_FIXED, vialen);
	r->via[vialen] = '\0';
	return domain_valid(r, &vialen, err);
}

static const struct {
	unsigned	version;
	domain_decoder	*decode;
} domain_decoders[] = {
	{ 1, domain_decode_v1 },
};

int
stsec_record_decode_domain(const unsigned char *buf, size_t len,
    struct stsec_domain_rec *r, struct stsec_error *err)
{
	struct stsec_domain_rec tmp;
	size_t	i;

	if (buf == NULL || len == 0)
		return stsec_error_set(err, "domain record: empty");
	for (i = 0; i < sizeof(domain_decoders) / sizeof(domain_decoders[0]);
	    i++) {
		if (domain_decoders[i].version != buf[0])
			continue;
		memset(&tmp, 0, sizeof(tmp));
		if (domain_decoders[i].decode(buf, len, &tmp, err) == -1)
			return -1;
		*r = tmp;
		return 0;
	}
	return stsec_error_set(err, "domain record format version %u "
	    "unknown", buf[0]);
}
