/*
 * fuzz_smtp_data.c - libFuzzer harness for the DATA decoder,
 * smtp_data_feed() (mta/proto/smtp_data.c), and the sending side,
 * smtp_out_feed().
 *
 * Input: octets 0..3 seed the chunking and pick max_size (0: none, or a
 * small limit so the size check is reached); the rest is what a client
 * sends after "354".
 *
 * Properties:
 *   - the input fed whole and fed in pseudo-random chunks (down to one
 *     octet per call) gives the same output, the same octets consumed
 *     and the same verdict: the state machine does not depend on how
 *     TCP split the stream;
 *   - the output is never longer than the input, and never over
 *     max_size; what is not consumed exists only after the end of data;
 *   - round trip: the input made into a well-formed message (lines cut
 *     at LF, CR dropped, NUL made "0", at most 998 octets, CRLF ends),
 *     dot-stuffed with smtp_out_feed() and ended with ".\r\n", decodes
 *     to exactly that message, with no error, consuming everything;
 *   - any input at all, sent through smtp_out_feed() as DATA, decodes
 *     with no bare CR or LF to what smtp_out_feed() gives for BDAT (the
 *     same lines, unstuffed), and the BDAT form passes smtp_text_feed()'s
 *     bare CR/LF check: the client never emits a bare line end.
 */
#include <string.h>

#include "fuzz.h"
#include "smtp_cmd.h"
#include "smtp_data.h"

struct result {
	char			*out;
	size_t			 outlen;
	size_t			 consumed;
	struct smtp_data	 d;
};

static uint32_t
next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/* Feeds in[0..len) in chunks (chunk 0: whole) into r->out. */
static void
run(const char *in, size_t len, uint64_t max_size, uint32_t seed,
    struct result *r)
{
	size_t	off = 0, n, got, used;

	smtp_data_init(&r->d, max_size);
	r->outlen = 0;
	r->consumed = 0;
	while (off < len && !r->d.done) {
		n = len - off;
		if (seed != 0) {
			n = 1 + next_rand(&seed) % 17;
			if (n > len - off)
				n = len - off;
		}
		used = smtp_data_feed(&r->d, in + off, n, r->out + r->outlen,
		    &got);
		FUZZ_CHECK(used <= n && got <= used);
		if (used < n)
			FUZZ_CHECK(r->d.done);
		off += used;
		r->outlen += got;
	}
	r->consumed = off;
}

static void
same(const struct result *a, const struct result *b)
{
	FUZZ_CHECK(a->outlen == b->outlen);
	FUZZ_CHECK(memcmp(a->out, b->out, a->outlen) == 0);
	FUZZ_CHECK(a->consumed == b->consumed);
	FUZZ_CHECK(a->d.done == b->d.done);
	FUZZ_CHECK(smtp_data_error(&a->d) == smtp_data_error(&b->d));
}

/* The input as a well-formed message: CRLF lines of <= 998 octets. */
static size_t
make_message(const char *in, size_t len, char *msg)
{
	size_t	i, n = 0, col = 0;

	for (i = 0; i < len; i++) {
		if (in[i] == '\r')
			continue;
		if (in[i] == '\n' || col == SMTP_TEXT_LINE_MAX - 2) {
			msg[n++] = '\r';
			msg[n++] = '\n';
			col = 0;
			if (in[i] == '\n')
				continue;
		}
		msg[n++] = in[i] == '\0' ? '0' : in[i];	/* NUL: refused */
		col++;
	}
	if (n > 0 && col > 0) {
		msg[n++] = '\r';
		msg[n++] = '\n';
	}
	return n;
}

static void
round_trip(const char *in, size_t len, uint32_t seed)
{
	struct result r;
	char	*msg, *wire;
	size_t	 mlen, wlen;
	struct smtp_out o;

	msg = malloc(3 * len + 3);
	wire = malloc(6 * len + 8);
	r.out = malloc(6 * len + 8);
	if (msg == NULL || wire == NULL || r.out == NULL)
		abort();
	mlen = make_message(in, len, msg);
	smtp_out_init(&o, 1);
	wlen = smtp_out_feed(&o, msg, mlen, wire);
	FUZZ_CHECK(wlen >= mlen && wlen <= 2 * mlen);
	memcpy(wire + wlen, ".\r\n", 3);
	wlen += 3;
	run(wire, wlen, 0, seed, &r);
	FUZZ_CHECK(r.d.done);
	FUZZ_CHECK(r.consumed == wlen);
	FUZZ_CHECK(smtp_data_error(&r.d) == NULL);
	FUZZ_CHECK(r.outlen == mlen);
	FUZZ_CHECK(memcmp(r.out, msg, mlen) == 0);
	free(msg);
	free(wire);
	free(r.out);
}

/* Raw input out as DATA and as BDAT: the same lines, no bare line end. */
static void
out_clean(const char *in, size_t len, uint32_t seed)
{
	struct result r;
	struct smtp_out o;
	struct smtp_text t;
	char	*data, *bdat;
	size_t	 dlen, blen;

	data = malloc(2 * len + 8);
	bdat = malloc(2 * len + 8);
	r.out = malloc(2 * len + 8);
	if (data == NULL || bdat == NULL || r.out == NULL)
		abort();
	smtp_out_init(&o, 1);
	dlen = smtp_out_feed(&o, in, len, data);
	FUZZ_CHECK(dlen <= 2 * len);
	if (!o.bol) {
		memcpy(data + dlen, "\r\n", 2);
		dlen += 2;
	}
	memcpy(data + dlen, ".\r\n", 3);
	dlen += 3;
	smtp_out_init(&o, 0);
	blen = smtp_out_feed(&o, in, len, bdat);
	FUZZ_CHECK(blen == smtp_out_feed(&(struct smtp_out){ 0, 1, 0 }, in,
	    len, NULL));
	smtp_text_init(&t);
	smtp_text_feed(&t, bdat, blen);
	FUZZ_CHECK(!t.bare_crlf && !t.cr);
	if (!o.bol) {
		memcpy(bdat + blen, "\r\n", 2);
		blen += 2;
	}
	run(data, dlen, 0, seed, &r);
	FUZZ_CHECK(r.d.done && r.consumed == dlen && !r.d.bare_crlf);
	FUZZ_CHECK(r.outlen == blen && memcmp(r.out, bdat, blen) == 0);
	free(data);
	free(bdat);
	free(r.out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole, split, bytes;
	uint64_t max_size;
	uint32_t seed;
	const char *in;
	size_t	len;

	if (size < 4)
		return 0;
	seed = (uint32_t)data[0] | (uint32_t)data[1] << 8 |
	    (uint32_t)data[2] << 16;
	seed |= 1;
	max_size = (data[3] & 0x80) ? (uint64_t)(data[3] & 0x7f) * 8 : 0;
	in = (const char *)data + 4;
	len = size - 4;
	whole.out = malloc(len + 1);
	split.out = malloc(len + 1);
	bytes.out = malloc(len + 1);
	if (whole.out == NULL || split.out == NULL || bytes.out == NULL)
		abort();
	run(in, len, max_size, 0, &whole);
	run(in, len, max_size, seed, &split);
	same(&whole, &split);
	FUZZ_CHECK(whole.outlen <= whole.consumed);
	if (max_size != 0)
		FUZZ_CHECK(whole.outlen <= max_size);
	if (whole.consumed < len)
		FUZZ_CHECK(whole.d.done);
	/* one octet per call: the worst split TCP can make */
	{
		size_t	i, got;

		smtp_data_init(&bytes.d, max_size);
		bytes.outlen = 0;
		for (i = 0; i < len && !bytes.d.done; i++) {
			FUZZ_CHECK(smtp_data_feed(&bytes.d, in + i, 1,
			    bytes.out + bytes.outlen, &got) == 1);
			bytes.outlen += got;
		}
		bytes.consumed = i;
		same(&whole, &bytes);
	}
	free(whole.out);
	free(split.out);
	free(bytes.out);
	if (len <= 8192) {
		round_trip(in, len, seed);
		out_clean(in, len, seed);
	}
	return 0;
}
