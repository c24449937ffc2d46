/*
 * test_smtp_data.c - the DATA body state machine (mta/proto/smtp_data.c).
 *
 *	bodies		a table of inputs: output, consumed, flags
 *	smuggling	"\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n" and the like
 *			never end the data, set bare_crlf, and the real end
 *			later does; pipelined input after it is not consumed
 *	splits		every two-piece split and byte-by-byte feeding
 *			give the same output, consumed count and flags
 *	limits		max_size exact and one over; 998 and 999 octets
 *	errors		smtp_data_error() for each flag
 *	nul		a NUL octet refuses the message (550 5.6.0)
 *	text		the BDAT checks: bare CR/LF across chunks, a CR
 *			ending the last chunk, NUL, 998/999 octets
 *	out		CRLF line ends and dot-stuffing for sending: a
 *			table, state across calls, random round trips, and
 *			no bare CR or LF ever emitted
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_cmd.h"
#include "smtp_data.h"

#define END	"\r\n.\r\n"
#define RT_ROUNDS	2000
#define RT_MAX		4096

struct run {
	char		*out;		/* malloc'd, the whole output */
	size_t		 outlen;
	size_t		 consumed;
	struct smtp_data d;
};

/* ------------------------------------------------------------------ */
/* helpers								*/

/*
 * Feeds in[0..len) in pieces: cuts[] are the piece lengths, the last
 * piece is the rest.  Each call gets an output buffer of exactly its
 * piece's length, on the heap, so ASan sees any write past it.
 */
static void
run_pieces(const char *in, size_t len, uint64_t max, const size_t *cuts,
    size_t ncuts, struct run *r)
{
	size_t	pos = 0, piece, n, outn, i = 0;
	char	*buf;

	r->out = malloc(len + 1);
	assert_non_null(r->out);
	r->outlen = 0;
	smtp_data_init(&r->d, max);
	while (pos < len && !r->d.done) {
		piece = i < ncuts ? cuts[i++] : len - pos;
		if (piece > len - pos)
			piece = len - pos;
		buf = malloc(piece ? piece : 1);
		assert_non_null(buf);
		n = smtp_data_feed(&r->d, in + pos, piece, buf, &outn);
		assert_true(n <= piece);
		assert_true(outn <= piece);
		memcpy(r->out + r->outlen, buf, outn);
		free(buf);
		r->outlen += outn;
		pos += n;
		if (n < piece)
			assert_true(r->d.done);
	}
	r->consumed = pos;
}

static void
run_whole(const char *in, size_t len, uint64_t max, struct run *r)
{
	run_pieces(in, len, max, NULL, 0, r);
}

static void
run_bytes(const char *in, size_t len, uint64_t max, struct run *r)
{
	size_t	*cuts = malloc((len ? len : 1) * sizeof(*cuts));
	size_t	i;

	assert_non_null(cuts);
	for (i = 0; i < len; i++)
		cuts[i] = 1;
	run_pieces(in, len, max, cuts, len, r);
	free(cuts);
}

static void
assert_same_run(const struct run *a, const struct run *b, const char *what,
    size_t k)
{
	if (a->outlen != b->outlen || a->consumed != b->consumed ||
	    memcmp(a->out, b->out, a->outlen) != 0 ||
	    a->d.done != b->d.done || a->d.bare_crlf != b->d.bare_crlf ||
	    a->d.long_line != b->d.long_line ||
	    a->d.too_big != b->d.too_big || a->d.size != b->d.size)
		fail_msg("%s at %zu differs from one piece", what, k);
}

/* ------------------------------------------------------------------ */
/* bodies								*/

#define F_DONE	1
#define F_BARE	2
#define F_LONG	4
#define F_BIG	8

static const struct body_case {
	const char	*in;
	const char	*out;
	size_t		 consumed;	/* 0: all of in */
	unsigned	 flags;
	size_t		 in_len, out_len; /* 0: strlen() */
} body_cases[] = {
	{ "a\r\n.\r\n", "a\r\n", 0, F_DONE, 0, 0 },
	{ ".\r\n", "", 0, F_DONE, 0, 0 },		/* empty message */
	{ "\r\n.\r\n", "\r\n", 0, F_DONE, 0, 0 },
	{ "a\r\nb\r\n\r\nc\r\n.\r\n", "a\r\nb\r\n\r\nc\r\n", 0, F_DONE, 0, 0 },
	{ "..x\r\n.\r\n", ".x\r\n", 0, F_DONE, 0, 0 },
	{ ".x\r\n.\r\n", "x\r\n", 0, F_DONE, 0, 0 },
	{ "a\r\n..\r\n.\r\n", "a\r\n.\r\n", 0, F_DONE, 0, 0 },
	{ "a\r\n...\r\n.\r\n", "a\r\n..\r\n", 0, F_DONE, 0, 0 },
	{ "a\r\n. \r\n.\r\n", "a\r\n \r\n", 0, F_DONE, 0, 0 },
	{ "a.\r\n.\r\n", "a.\r\n", 0, F_DONE, 0, 0 },
	{ "a\r\nx.\r\n.\r\n", "a\r\nx.\r\n", 0, F_DONE, 0, 0 },
	{ "a\r\n.\r\nQUIT\r\n", "a\r\n", 6, F_DONE, 0, 0 },	/* pipelined */
	{ ".\r\nMAIL FROM:<a@b>\r\n", "", 3, F_DONE, 0, 0 },
	{ "a\r\n.\r\n.\r\n", "a\r\n", 6, F_DONE, 0, 0 },
	{ "a\r\n.", "a\r\n", 0, 0, 0, 0 },			/* not yet */
	{ "a\r\n.\r", "a\r\n", 0, 0, 0, 0 },
	{ "a\r\n", "a\r\n", 0, 0, 0, 0 },
	{ "", "", 0, 0, 0, 0 },
	{ "\xff\x80\x00x\r\n.\r\n", "\xff\x80\x00x\r\n", 0, F_DONE, 9, 6 },
	/* bare CR or LF: refused, but the real end is still found */
	{ "a\rb\r\n.\r\n", "a\rb\r\n", 0, F_DONE | F_BARE, 0, 0 },
	{ "a\nb\r\n.\r\n", "a\nb\r\n", 0, F_DONE | F_BARE, 0, 0 },
	{ "a\r\r\n.\r\n", "a\r\r\n", 0, F_DONE | F_BARE, 0, 0 },
	{ "a\r\n\r.\r\n.\r\n", "a\r\n\r.\r\n", 0, F_DONE | F_BARE, 0, 0 },
	{ ".\rx\r\n.\r\n", "x\r\n", 0, F_DONE | F_BARE, 0, 0 },
	{ ".\nx\r\n.\r\n", "\nx\r\n", 0, F_DONE | F_BARE, 0, 0 },
};

static size_t
case_in_len(const struct body_case *c)
{
	return c->in_len ? c->in_len : strlen(c->in);
}

static void
check_body(const struct body_case *c, size_t clen)
{
	struct run r;
	size_t	len = case_in_len(c);
	size_t	want = c->consumed ? c->consumed : len;
	size_t	olen = c->out_len ? c->out_len : strlen(c->out);

	run_whole(c->in, len, 0, &r);
	if (r.consumed != want || r.outlen != olen ||
	    memcmp(r.out, c->out, olen) != 0)
		fail_msg("case %zu: consumed %zu (want %zu), out %zu octets",
		    clen, r.consumed, want, r.outlen);
	assert_int_equal(r.d.done, !!(c->flags & F_DONE));
	assert_int_equal(r.d.bare_crlf, !!(c->flags & F_BARE));
	assert_int_equal(r.d.long_line, !!(c->flags & F_LONG));
	assert_int_equal(r.d.too_big, !!(c->flags & F_BIG));
	assert_true(r.d.size == r.outlen);
	free(r.out);
}

static void
test_bodies(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++)
		check_body(&body_cases[i], i);
}

static void
test_feed_after_done(void **state)
{
	struct smtp_data d;
	char	out[16];
	size_t	outlen = 99;

	(void)state;
	smtp_data_init(&d, 0);
	assert_int_equal(smtp_data_feed(&d, ".\r\nX", 4, out, &outlen), 3);
	assert_int_equal(outlen, 0);
	assert_int_equal(smtp_data_feed(&d, "X", 1, out, &outlen), 0);
	assert_int_equal(outlen, 0);
	assert_true(d.done);
}

/* ------------------------------------------------------------------ */
/* smuggling								*/

static const char *const smuggle_cases[] = {
	"a\r\n\n.\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<v@x>\r\n",
	"a\n.\n",
	"a\r.\r",
	"a\r\n.\n",
	"a\n.\r\n",
	"a\r.\r\n",
	"a\n.\nMAIL FROM:<evil@example.org>\n",
	"a\r\n.\rMAIL FROM:<evil@example.org>\r\n",
	"a\r\n.\r.\r\n",
	"\n.\r\n",
	".\n",
	".\rQUIT\r\n",
	".\r.\r\n",
	"\r.\r\n",
	"a\r\n\r\n.\n",
	"a\r\n\n.\n\r\n",
};

static void
test_smuggling(void **state)
{
	char	buf[256];
	struct run r;
	size_t	i, len;

	(void)state;
	for (i = 0; i < sizeof(smuggle_cases) / sizeof(smuggle_cases[0]);
	    i++) {
		/* Alone: no end, everything consumed, marked. */
		len = strlen(smuggle_cases[i]);
		run_whole(smuggle_cases[i], len, 0, &r);
		if (r.d.done || r.consumed != len || !r.d.bare_crlf)
			fail_msg("smuggle case %zu ended or was not marked", i);
		free(r.out);
		/* The real end later does end it, and no further. */
		(void)strcpy(buf, smuggle_cases[i]);
		(void)strcat(buf, END "NOOP\r\n");
		run_whole(buf, strlen(buf), 0, &r);
		if (!r.d.done || r.consumed != len + strlen(END) ||
		    !r.d.bare_crlf)
			fail_msg("smuggle case %zu: real end not found", i);
		assert_non_null(smtp_data_error(&r.d));
		assert_int_equal(smtp_data_error(&r.d)->code, 550);
		free(r.out);
	}
}

/* ------------------------------------------------------------------ */
/* splits								*/

static void
check_splits(const char *in, size_t len, uint64_t max)
{
	struct run whole, r;
	size_t	k, cut;

	run_whole(in, len, max, &whole);
	for (k = 0; k <= len; k++) {
		cut = k;
		run_pieces(in, len, max, &cut, 1, &r);
		assert_same_run(&whole, &r, "split", k);
		free(r.out);
	}
	run_bytes(in, len, max, &r);
	assert_same_run(&whole, &r, "byte by byte", 0);
	free(r.out);
	free(whole.out);
}

static void
test_splits(void **state)
{
	static const char sample[] =
	    "From: a@b\r\nSubject: dots\r\n\r\n..leading\r\n.\r\n"
	    "...\r\nx.\r\n.y\r\n\r\n\r\n.." END "MAIL FROM:<x@y>\r\n";
	size_t	i;
	char	big[3000];

	(void)state;
	check_splits(sample, sizeof(sample) - 1, 0);
	check_splits(sample, sizeof(sample) - 1, 20);	/* too_big */
	for (i = 0; i < sizeof(smuggle_cases) / sizeof(smuggle_cases[0]);
	    i++)
		check_splits(smuggle_cases[i], strlen(smuggle_cases[i]), 0);
	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++)
		check_splits(body_cases[i].in, case_in_len(&body_cases[i]), 0);
	memset(big, 'x', 1200);				/* long_line */
	memcpy(big + 1200, END, sizeof(END));
	check_splits(big, strlen(big), 0);
}

/* ------------------------------------------------------------------ */
/* limits								*/

static void
test_size_limit(void **state)
{
	/* 11 octets out: "abc\r\n.d\r\n\r\n" */
	static const char msg[] = "abc\r\n..d\r\n" END;
	struct run r;

	(void)state;
	run_whole(msg, sizeof(msg) - 1, 11, &r);
	assert_int_equal(r.outlen, 11);
	assert_false(r.d.too_big);
	assert_null(smtp_data_error(&r.d));
	free(r.out);
	run_whole(msg, sizeof(msg) - 1, 10, &r);
	assert_true(r.d.too_big);
	assert_true(r.d.done);
	assert_int_equal(r.consumed, sizeof(msg) - 1);
	assert_int_equal(r.outlen, 10);
	assert_true(r.d.size == 10);
	assert_memory_equal(r.out, "abc\r\n.d\r\n\r", 10);
	assert_int_equal(smtp_data_error(&r.d)->code, 552);
	assert_string_equal(smtp_data_error(&r.d)->enh, "5.3.4");
	free(r.out);
	run_whole(msg, sizeof(msg) - 1, 1, &r);
	assert_true(r.d.too_big);
	assert_int_equal(r.outlen, 1);
	free(r.out);
}

/* A message of one line of n octets of c, then CRLF and the end. */
static void
run_line(size_t n, const char *lead, struct run *r)
{
	char	*buf = malloc(n + 16);
	size_t	l = strlen(lead);

	assert_non_null(buf);
	memcpy(buf, lead, l);
	memset(buf + l, 'x', n);
	memcpy(buf + l + n, END, sizeof(END));
	run_whole(buf, l + n + strlen(END), 0, r);
	free(buf);
	assert_true(r->d.done);
}

static void
test_line_limit(void **state)
{
	struct run r;

	(void)state;
	run_line(998, "", &r);
	assert_false(r.d.long_line);
	assert_null(smtp_data_error(&r.d));
	free(r.out);
	run_line(999, "", &r);
	assert_true(r.d.long_line);
	assert_int_equal(smtp_data_error(&r.d)->code, 550);
	assert_string_equal(smtp_data_error(&r.d)->enh, "5.5.2");
	free(r.out);
	/* Counted after unstuffing: 999 sent, 998 in the message. */
	run_line(997, "..", &r);
	assert_false(r.d.long_line);
	free(r.out);
	run_line(998, "..", &r);
	assert_true(r.d.long_line);
	free(r.out);
	/* Many short lines never add up. */
	run_line(100000, "", &r);
	assert_true(r.d.long_line);
	free(r.out);
}

static void
test_many_lines(void **state)
{
	char	*buf = malloc(12 * 1000 + 16);
	struct run r;
	size_t	i;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < 1000; i++)
		memcpy(buf + i * 12, "0123456789\r\n", 12);
	memcpy(buf + 12000, ".\r\n", 4);
	run_whole(buf, 12003, 0, &r);
	assert_true(r.d.done);
	assert_false(r.d.long_line);
	assert_int_equal(r.outlen, 12000);
	free(r.out);
	free(buf);
}

/* ------------------------------------------------------------------ */
/* errors								*/

static const struct error_case {
	int		 too_big, bare, long_line;
	int		 code;		/* 0: NULL */
	const char	*enh;
	const char	*text;
} error_cases[] = {
	{ 0, 0, 0, 0, NULL, NULL },
	{ 1, 0, 0, 552, "5.3.4", "too big" },
	{ 1, 1, 1, 552, "5.3.4", "too big" },
	{ 0, 1, 0, 550, "5.5.2", "bare CR or LF" },
	{ 0, 1, 1, 550, "5.5.2", "bare CR or LF" },
	{ 0, 0, 1, 550, "5.5.2", "longer than 998" },
};

static void
test_errors(void **state)
{
	const struct smtp_status *st;
	struct smtp_data d;
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		smtp_data_init(&d, 0);
		d.too_big = error_cases[i].too_big;
		d.bare_crlf = error_cases[i].bare;
		d.long_line = error_cases[i].long_line;
		st = smtp_data_error(&d);
		if (error_cases[i].code == 0) {
			assert_null(st);
			continue;
		}
		assert_non_null(st);
		assert_int_equal(st->code, error_cases[i].code);
		assert_string_equal(st->enh, error_cases[i].enh);
		assert_non_null(strstr(st->text, error_cases[i].text));
	}
}

/* ------------------------------------------------------------------ */
/* stuffing								*/

static const struct stuff_case {
	const char	*in;
	int		 stuff;		/* DATA (1) or BDAT (0) */
	const char	*out;
	int		 end;		/* bol after */
} stuff_cases[] = {
	{ "", 1, "", 1 },
	{ ".", 1, "..", 0 },
	{ ".", 0, ".", 0 },
	{ "a\r\n.b\r\n", 1, "a\r\n..b\r\n", 1 },
	{ "a.b", 1, "a.b", 0 },
	{ "..\r\n.", 1, "...\r\n..", 0 },
	{ "a\n.b", 1, "a\r\n..b", 0 },		/* a bare LF ends a line */
	{ "a\r.b", 1, "a\r\n..b", 0 },		/* and so does a bare CR */
	{ ".\r\n", 1, "..\r\n", 1 },
	{ "x\r", 1, "x\r\n", 1 },
	{ "\r\r\n", 0, "\r\n\r\n", 1 },
	{ "\n\r", 0, "\r\n\r\n", 1 },
	{ "\r.\r", 0, "\r\n.\r\n", 1 },		/* BDAT: no stuffing */
	{ "outer\n.\nMAIL", 1, "outer\r\n..\r\nMAIL", 0 },
	{ "a\r\n\n.\r\n", 1, "a\r\n\r\n..\r\n", 1 },
};

static void
test_stuff_table(void **state)
{
	struct smtp_out o;
	char	out[64];
	size_t	i, n;

	(void)state;
	for (i = 0; i < sizeof(stuff_cases) / sizeof(stuff_cases[0]); i++) {
		smtp_out_init(&o, stuff_cases[i].stuff);
		n = smtp_out_feed(&o, stuff_cases[i].in,
		    strlen(stuff_cases[i].in), out);
		if (n != strlen(stuff_cases[i].out) ||
		    memcmp(out, stuff_cases[i].out, n) != 0)
			fail_msg("stuff case %zu", i);
		assert_int_equal(o.bol, stuff_cases[i].end);
		smtp_out_init(&o, stuff_cases[i].stuff);
		assert_int_equal(smtp_out_feed(&o, stuff_cases[i].in,
		    strlen(stuff_cases[i].in), NULL), n);	/* counting */
	}
}

static void
test_stuff_across_calls(void **state)
{
	const char *in = "a\r\n.b\r\n..\r\n.\r\r\n.\r";
	const char *want = "a\r\n..b\r\n...\r\n..\r\n\r\n..\r\n";
	struct smtp_out o;
	char	out[64], two[2];
	size_t	i, k, n = 0;

	(void)state;
	smtp_out_init(&o, 1);
	for (i = 0; i < strlen(in); i++) {
		k = smtp_out_feed(&o, in + i, 1, two);
		memcpy(out + n, two, k);
		n += k;
	}
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	/* The same through one call. */
	smtp_out_init(&o, 1);
	n = smtp_out_feed(&o, in, strlen(in), out);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
}

/* The BDAT checks, chunk by chunk. */
static const struct text_case {
	const char	*chunk[3];
	int		 code;		/* 0: accepted */
	const char	*enh;
} text_cases[] = {
	{ { "a\r\nb\r\n", NULL, NULL }, 0, NULL },
	{ { "a\r", "\nb\r\n", NULL }, 0, NULL },	/* CRLF split */
	{ { "outer\n.\nMAIL FROM:<e@x>\r\n", NULL, NULL }, 550, "5.5.2" },
	{ { "also \r.\r\n", NULL, NULL }, 550, "5.5.2" },
	{ { "a\r\n", "b\r", NULL }, 550, "5.5.2" },	/* CR at the end */
	{ { "a\r", "b\r\n", NULL }, 550, "5.5.2" },
	{ { "a\r\n", "\n", NULL }, 550, "5.5.2" },
	{ { "", NULL, NULL }, 0, NULL },
	{ { "no line end", NULL, NULL }, 0, NULL },
};

static void
test_text(void **state)
{
	const struct smtp_status *st;
	struct smtp_text t;
	size_t	i, k, len;

	(void)state;
	for (i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
		smtp_text_init(&t);
		for (k = 0; k < 3 && text_cases[i].chunk[k] != NULL; k++) {
			len = strlen(text_cases[i].chunk[k]);
			smtp_text_feed(&t, text_cases[i].chunk[k], len);
		}
		st = smtp_text_error(&t);
		if (text_cases[i].code == 0) {
			if (st != NULL)
				fail_msg("text case %zu: %s", i, st->text);
			continue;
		}
		if (st == NULL)
			fail_msg("text case %zu accepted", i);
		assert_int_equal(st->code, text_cases[i].code);
		assert_string_equal(st->enh, text_cases[i].enh);
	}
}

static void
test_text_line_limit(void **state)
{
	char	line[1001];
	struct smtp_text t;

	(void)state;
	memset(line, 'x', 998);
	memcpy(line + 998, "\r\n", 2);
	smtp_text_init(&t);
	smtp_text_feed(&t, line, 500);
	smtp_text_feed(&t, line + 500, 500);	/* 998 + CRLF */
	assert_null(smtp_text_error(&t));
	memset(line, 'x', 999);
	memcpy(line + 999, "\r\n", 2);
	smtp_text_init(&t);
	smtp_text_feed(&t, line, 1001);
	assert_non_null(smtp_text_error(&t));
	assert_string_equal(smtp_text_error(&t)->enh, "5.5.2");
}

/* A NUL in DATA: the message is read to its end, then refused. */
static void
test_nul(void **state)
{
	static const char msg[] = "a\0b\r\n" END;
	struct run r;

	(void)state;
	run_whole(msg, sizeof(msg) - 1, 0, &r);
	assert_true(r.d.done);
	assert_true(r.d.nul);
	assert_int_equal(smtp_data_error(&r.d)->code, 550);
	assert_string_equal(smtp_data_error(&r.d)->enh, "5.6.0");
	free(r.out);
}

static void
test_text_nul(void **state)
{
	struct smtp_text t;

	(void)state;
	smtp_text_init(&t);
	smtp_text_feed(&t, "a\0b\r\n", 5);
	assert_non_null(smtp_text_error(&t));
	assert_int_equal(smtp_text_error(&t)->code, 550);
	assert_string_equal(smtp_text_error(&t)->enh, "5.6.0");
}

static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Random CRLF lines, many starting with dots; no trailing CRLF. */
static size_t
random_message(char *buf, size_t cap, uint32_t *seed)
{
	static const char alpha[] = "ab. .\t:<>@";
	size_t	n = 0, lines = xorshift(seed) % 12, i, len, dots;

	for (i = 0; i < lines && n + 80 < cap; i++) {
		if (i > 0) {
			memcpy(buf + n, "\r\n", 2);
			n += 2;
		}
		for (dots = xorshift(seed) % 4; dots > 0; dots--)
			buf[n++] = '.';
		for (len = xorshift(seed) % 40; len > 0; len--)
			buf[n++] = alpha[xorshift(seed) % (sizeof(alpha) - 1)];
	}
	return n;
}

/* Stuffs msg in random pieces, appends the end, feeds it in pieces. */
static void
round_trip(const char *msg, size_t n, uint32_t *seed)
{
	char	wire[2 * RT_MAX + 8], want[RT_MAX + 2];
	size_t	w = 0, pos = 0, piece, cuts[4];
	struct run r;
	struct smtp_out o;

	smtp_out_init(&o, 1);
	while (pos < n) {
		piece = 1 + xorshift(seed) % (n - pos);
		w += smtp_out_feed(&o, msg + pos, piece, wire + w);
		pos += piece;
	}
	memcpy(wire + w, END, strlen(END));
	w += strlen(END);
	for (pos = 0; pos < 4; pos++)
		cuts[pos] = xorshift(seed) % (w + 1);
	run_pieces(wire, w, 0, cuts, 4, &r);
	memcpy(want, msg, n);
	memcpy(want + n, "\r\n", 2);
	assert_true(r.d.done);
	assert_int_equal(r.consumed, w);
	assert_int_equal(r.outlen, n + 2);
	assert_memory_equal(r.out, want, n + 2);
	assert_null(smtp_data_error(&r.d));
	free(r.out);
}

static void
test_round_trip(void **state)
{
	char	msg[RT_MAX];
	uint32_t seed = 5321;
	size_t	i, n;

	(void)state;
	round_trip("", 0, &seed);
	round_trip(".", 1, &seed);
	round_trip("..\r\n.\r\n", 7, &seed);	/* ends in CRLF: one more */
	for (i = 0; i < RT_ROUNDS; i++) {
		n = random_message(msg, sizeof(msg), &seed);
		round_trip(msg, n, &seed);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_feed_after_done),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_splits),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_many_lines),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_stuff_table),
		cmocka_unit_test(test_stuff_across_calls),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_text_line_limit),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_text_nul),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
