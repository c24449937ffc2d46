/*
 * test_smtp_reply.c - SMTP replies (mta/proto/smtp_reply.c).
 *
 *	format		a table of code, enh and lines into wire text, and
 *			of refusals; line and buffer limits, exact fits
 *	feed		a table of received line sequences: what each
 *			returns, the code and the texts kept
 *	many lines	past SMTP_REPLY_LINES_MAX: kept and dropped
 *	round trip	format, split at CRLF, feed: the same texts
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_reply.h"

#define MAXL	4

/* ------------------------------------------------------------------ */
/* format								*/

static const struct format_case {
	int		 code;
	const char	*enh;
	const char	*lines[MAXL];
	size_t		 n;
	const char	*want;		/* NULL: -1 */
} format_cases[] = {
	{ 250, NULL, { "OK" }, 1, "250 OK\r\n" },
	{ 250, "2.0.0", { "OK" }, 1, "250 2.0.0 OK\r\n" },
	{ 250, NULL, { "mx.example", "PIPELINING", "SIZE 100" }, 3,
	    "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n" },
	{ 550, "5.7.1", { "a", "b" }, 2, "550-5.7.1 a\r\n550 5.7.1 b\r\n" },
	{ 354, NULL, { "End data with <CR><LF>.<CR><LF>" }, 1,
	    "354 End data with <CR><LF>.<CR><LF>\r\n" },
	{ 250, NULL, { "" }, 1, "250 \r\n" },
	{ 220, NULL, { "", "" }, 2, "220-\r\n220 \r\n" },
	{ 200, NULL, { "x" }, 1, "200 x\r\n" },
	{ 599, NULL, { "x" }, 1, "599 x\r\n" },
	{ 199, NULL, { "x" }, 1, NULL },
	{ 600, NULL, { "x" }, 1, NULL },
	{ 0, NULL, { "x" }, 1, NULL },
	{ -250, NULL, { "x" }, 1, NULL },
	{ 250, NULL, { "x" }, 0, NULL },
	{ 250, NULL, { "a\rb" }, 1, NULL },
	{ 250, NULL, { "a\nb" }, 1, NULL },
	{ 250, NULL, { "ok", "a\r\n250 b" }, 2, NULL },
	{ 250, "2.0.0\r\n", { "x" }, 1, NULL },
	{ 250, NULL, { "a", NULL }, 2, NULL },
};

static void
test_format(void **state)
{
	const struct format_case *c;
	char	buf[1024];
	size_t	i;
	int	n;

	(void)state;
	for (i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		c = &format_cases[i];
		n = smtp_reply_format(buf, sizeof(buf), c->code, c->enh,
		    c->lines, c->n);
		if (c->want == NULL && n != -1)
			fail_msg("format case %zu: %d, not -1", i, n);
		if (c->want == NULL)
			continue;
		if (n != (int)strlen(c->want) || strcmp(buf, c->want) != 0)
			fail_msg("format case %zu: %d \"%s\"", i, n,
			    n >= 0 ? buf : "");
	}
}

/* Every buffer size: -1 until the reply and its NUL fit, exactly. */
static void
test_format_fit(void **state)
{
	static const char *const lines[] = { "mx.example", "8BITMIME" };
	static const char want[] =
	    "250-2.0.0 mx.example\r\n250 2.0.0 8BITMIME\r\n";
	size_t	len;
	char	*buf;
	int	n;

	(void)state;
	for (len = 0; len <= sizeof(want) + 1; len++) {
		buf = malloc(len ? len : 1);
		assert_non_null(buf);
		n = smtp_reply_format(buf, len, 250, "2.0.0", lines, 2);
		if (len < sizeof(want))
			assert_int_equal(n, -1);
		else {
			assert_int_equal(n, sizeof(want) - 1);
			assert_string_equal(buf, want);
		}
		free(buf);
	}
}

/* A line is at most SMTP_REPLY_LINE_MAX octets with its CRLF. */
static void
test_format_line_max(void **state)
{
	char	text[SMTP_REPLY_LINE_MAX + 1], buf[2048];
	const char *lines[2] = { "first", text };
	size_t	max = SMTP_REPLY_LINE_MAX - 6;		/* "250 " CRLF */

	(void)state;
	memset(text, 't', max);
	text[max] = '\0';
	assert_int_equal(smtp_reply_format(buf, sizeof(buf), 250, NULL,
	    lines, 2), (int)(11 + SMTP_REPLY_LINE_MAX));
	text[max - 6] = '\0';				/* "5.5.4 " */
	assert_int_equal(smtp_reply_format(buf, sizeof(buf), 550, "5.5.4",
	    lines, 2), (int)(17 + SMTP_REPLY_LINE_MAX));
	text[max - 6] = 't';
	assert_int_equal(smtp_reply_format(buf, sizeof(buf), 550, "5.5.4",
	    lines, 2), -1);
	text[max] = 't';
	text[max + 1] = '\0';
	assert_int_equal(smtp_reply_format(buf, sizeof(buf), 250, NULL,
	    lines, 2), -1);
}

/* ------------------------------------------------------------------ */
/* feed									*/

static const struct feed_case {
	const char	*lines[MAXL];
	int		 ret[MAXL];	/* what each feed returns */
	int		 code;		/* after the last */
	const char	*texts[MAXL];	/* kept texts, if all went well */
} feed_cases[] = {
	{ { "250 OK" }, { 1 }, 250, { "OK" } },
	{ { "250-mx", "250-PIPELINING", "250 SIZE" }, { 0, 0, 1 }, 250,
	    { "mx", "PIPELINING", "SIZE" } },
	{ { "220" }, { 1 }, 220, { "" } },
	{ { "250-", "250 x" }, { 0, 1 }, 250, { "", "x" } },
	{ { "550-5.1.1 no", "550 5.1.1 such user" }, { 0, 1 }, 550,
	    { "5.1.1 no", "5.1.1 such user" } },
	{ { "421 4.3.2 bye " }, { 1 }, 421, { "4.3.2 bye " } },
	{ { "599 x" }, { 1 }, 599, { "x" } },
	{ { "250 a-b c" }, { 1 }, 250, { "a-b c" } },
	{ { "250-a", "251 b" }, { 0, -1 }, 250, { NULL } },
	{ { "250-a", "25" }, { 0, -1 }, 250, { NULL } },
	{ { "25" }, { -1 }, 0, { NULL } },
	{ { "" }, { -1 }, 0, { NULL } },
	{ { "2x0 a" }, { -1 }, 0, { NULL } },
	{ { "25x a" }, { -1 }, 0, { NULL } },
	{ { "150 a" }, { -1 }, 0, { NULL } },
	{ { "600 a" }, { -1 }, 0, { NULL } },
	{ { "050 a" }, { -1 }, 0, { NULL } },
	{ { "250_a" }, { -1 }, 0, { NULL } },
	{ { "250a" }, { -1 }, 0, { NULL } },
	{ { "abc" }, { -1 }, 0, { NULL } },
	{ { " 250 a" }, { -1 }, 0, { NULL } },
	{ { "250 a", "250 b" }, { 1, -1 }, 250, { NULL } },
	{ { "250-a", "250-b", "250-c", "250 d" }, { 0, 0, 0, 1 }, 250,
	    { "a", "b", "c", "d" } },
};

static void
check_feed(const struct feed_case *c, size_t k)
{
	struct smtp_reply r;
	size_t	i;
	int	ret, ok = 1;

	smtp_reply_init(&r);
	for (i = 0; i < MAXL && c->lines[i] != NULL; i++) {
		ret = smtp_reply_feed(&r, c->lines[i], strlen(c->lines[i]));
		if (ret != c->ret[i])
			fail_msg("feed case %zu line %zu: %d", k, i, ret);
		ok = ok && ret != -1;
	}
	assert_int_equal(r.code, c->code);
	if (!ok)
		return;
	assert_int_equal(r.nlines, i);
	assert_true(r.done);
	assert_int_equal(r.dropped, 0);
	for (i = 0; i < r.nlines; i++)
		assert_string_equal(smtp_reply_text(&r, i), c->texts[i]);
	assert_string_equal(smtp_reply_text(&r, r.nlines), "");
}

static void
test_feed(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(feed_cases) / sizeof(feed_cases[0]); i++)
		check_feed(&feed_cases[i], i);
}

static void
test_feed_line_max(void **state)
{
	char	line[SMTP_REPLY_LINE_MAX];
	struct smtp_reply r;

	(void)state;
	memcpy(line, "250 ", 4);
	memset(line + 4, 'x', sizeof(line) - 4);
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_feed(&r, line, SMTP_REPLY_LINE_MAX - 2), 1);
	assert_int_equal(strlen(smtp_reply_text(&r, 0)),
	    SMTP_REPLY_LINE_MAX - 6);
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_feed(&r, line, SMTP_REPLY_LINE_MAX - 1),
	    -1);
}

static void
test_many_lines(void **state)
{
	struct smtp_reply r;
	char	line[16];
	size_t	i;

	(void)state;
	smtp_reply_init(&r);
	for (i = 0; i < 70; i++) {
		memcpy(line, "250-", 4);
		line[4] = (char)('A' + i % 26);
		assert_int_equal(smtp_reply_feed(&r, line, 5), 0);
	}
	assert_int_equal(smtp_reply_feed(&r, "250 end", 7), 1);
	assert_int_equal(r.nlines, SMTP_REPLY_LINES_MAX);
	assert_int_equal(r.dropped, 71 - SMTP_REPLY_LINES_MAX);
	assert_string_equal(smtp_reply_text(&r, 63), "L");
	assert_string_equal(smtp_reply_text(&r, 64), "");
	/* Even a dropped line must carry the same code. */
	smtp_reply_init(&r);
	for (i = 0; i < 70; i++)
		assert_int_equal(smtp_reply_feed(&r, "250-x", 5), 0);
	assert_int_equal(smtp_reply_feed(&r, "251 x", 5), -1);
}

/* ------------------------------------------------------------------ */
/* round trip								*/

static void
test_round_trip(void **state)
{
	static const char *const lines[] = {
		"mx.example.org Hello", "PIPELINING", "SIZE 10485760",
		"8BITMIME", "SMTPUTF8", "STARTTLS", ""
	};
	char	buf[1024];
	struct smtp_reply r;
	const char *p, *crlf;
	size_t	n, i;
	int	len, ret = 0;

	(void)state;
	for (n = 1; n <= sizeof(lines) / sizeof(lines[0]); n++) {
		len = smtp_reply_format(buf, sizeof(buf), 250, NULL, lines, n);
		assert_true(len > 0);
		smtp_reply_init(&r);
		for (p = buf; (crlf = strstr(p, "\r\n")) != NULL; p = crlf + 2)
			ret = smtp_reply_feed(&r, p, (size_t)(crlf - p));
		assert_int_equal(p - buf, len);
		assert_int_equal(ret, 1);
		assert_int_equal(r.code, 250);
		assert_int_equal(r.nlines, n);
		for (i = 0; i < n; i++)
			assert_string_equal(smtp_reply_text(&r, i), lines[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_fit),
		cmocka_unit_test(test_format_line_max),
		cmocka_unit_test(test_feed),
		cmocka_unit_test(test_feed_line_max),
		cmocka_unit_test(test_many_lines),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
