/*
 * test_smtp_cmd.c - SMTP command lines (mta/proto/smtp_cmd.c).
 *
 *	good lines	a table: verb, then domain, path, arg, SIZE=, BODY=,
 *			SMTPUTF8, null path, BDAT size and LAST
 *	bad lines	a table: code, enhanced code, part of the text
 *	limits		line 510 / 511 octets, local part 64 / 65, path
 *			256 / 257, label 63 / 64, EHLO name 255 / 256
 *	names		smtp_verb_str() for every verb and out of range
 *	junk		random lines never crash and never leave an
 *			unterminated field
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_cmd.h"

#define F_SIZE	1
#define F_UTF8	2
#define F_NULL	4
#define F_LAST	8

#define JUNK_ROUNDS	50000

/* ------------------------------------------------------------------ */
/* good lines								*/

static const struct good_case {
	const char	*line;
	int		 utf8_ok;
	enum smtp_verb	 verb;
	const char	*want;	/* domain, path or arg, by verb */
	unsigned	 flags;
	uint64_t	 num;	/* SIZE= or the BDAT size */
	enum smtp_body	 body;
} good_cases[] = {
	{ "HELO mx.example.org", 0, SMTP_V_HELO, "mx.example.org", 0, 0, 0 },
	{ "helo x", 0, SMTP_V_HELO, "x", 0, 0, 0 },
	{ "EHLO [192.0.2.1]", 0, SMTP_V_EHLO, "[192.0.2.1]", 0, 0, 0 },
	{ "EHLO [IPv6:2001:db8::1]", 0, SMTP_V_EHLO, "[IPv6:2001:db8::1]",
	    0, 0, 0 },
	{ "eHlO   spaced  ", 0, SMTP_V_EHLO, "spaced", 0, 0, 0 },
	{ "EHLO odd_name!", 0, SMTP_V_EHLO, "odd_name!", 0, 0, 0 },
	{ "EHLO localhost", 1, SMTP_V_EHLO, "localhost", 0, 0, 0 },
	{ "MAIL FROM:<a@b.example>", 0, SMTP_V_MAIL, "a@b.example", 0, 0, 0 },
	{ "mail from:<a@b>", 0, SMTP_V_MAIL, "a@b", 0, 0, 0 },
	{ "Mail From:<A@B>", 0, SMTP_V_MAIL, "A@B", 0, 0, 0 },
	{ "MAIL FROM: <a@b>", 0, SMTP_V_MAIL, "a@b", 0, 0, 0 },
	{ "MAIL FROM:  <a@b>", 0, SMTP_V_MAIL, "a@b", 0, 0, 0 },
	{ "MAIL  FROM:<a@b>", 0, SMTP_V_MAIL, "a@b", 0, 0, 0 },
	{ "MAIL FROM:<>", 0, SMTP_V_MAIL, "", F_NULL, 0, 0 },
	{ "MAIL FROM:<> SIZE=0", 0, SMTP_V_MAIL, "", F_NULL | F_SIZE, 0, 0 },
	{ "MAIL FROM:<a@b> SIZE=12345 BODY=8BITMIME", 0, SMTP_V_MAIL, "a@b",
	    F_SIZE, 12345, SMTP_BODY_8BITMIME },
	{ "MAIL FROM:<a@b> body=7bit size=1", 0, SMTP_V_MAIL, "a@b",
	    F_SIZE, 1, SMTP_BODY_7BIT },
	{ "MAIL FROM:<a@b> BODY=8bitmime", 0, SMTP_V_MAIL, "a@b",
	    0, 0, SMTP_BODY_8BITMIME },
	{ "MAIL FROM:<a@b> SIZE=18446744073709551615", 0, SMTP_V_MAIL, "a@b",
	    F_SIZE, UINT64_MAX, 0 },
	{ "MAIL FROM:<a@b> SIZE=00000000000000000042", 0, SMTP_V_MAIL, "a@b",
	    F_SIZE, 42, 0 },
	{ "MAIL FROM:<a@b>  SIZE=1   SMTPUTF8  ", 0, SMTP_V_MAIL, "a@b",
	    F_SIZE | F_UTF8, 1, 0 },
	{ "MAIL FROM:<a@b> smtputf8", 0, SMTP_V_MAIL, "a@b", F_UTF8, 0, 0 },
	{ "MAIL FROM:<j\xc3\xb6rg@b> SMTPUTF8", 0, SMTP_V_MAIL,
	    "j\xc3\xb6rg@b", F_UTF8, 0, 0 },
	{ "MAIL FROM:<a@b\xc3\xbc" "cher.example> SMTPUTF8", 0, SMTP_V_MAIL,
	    "a@b\xc3\xbc" "cher.example", F_UTF8, 0, 0 },
	{ "MAIL FROM:<\xe2\x82\xac\xf0\x9f\x93\xa7@x> SMTPUTF8", 0,
	    SMTP_V_MAIL, "\xe2\x82\xac\xf0\x9f\x93\xa7@x", F_UTF8, 0, 0 },
	{ "MAIL FROM:<\"a b\"@c>", 0, SMTP_V_MAIL, "\"a b\"@c", 0, 0, 0 },
	{ "MAIL FROM:<\"a>b\"@c>", 0, SMTP_V_MAIL, "\"a>b\"@c", 0, 0, 0 },
	{ "MAIL FROM:<\"a\\\"b\"@c> SIZE=2", 0, SMTP_V_MAIL,
	    "\"a\\\"b\"@c", F_SIZE, 2, 0 },
	{ "MAIL FROM:<\"\"@c>", 0, SMTP_V_MAIL, "\"\"@c", 0, 0, 0 },
	{ "MAIL FROM:<\"a@b\"@c>", 0, SMTP_V_MAIL, "\"a@b\"@c", 0, 0, 0 },
	{ "MAIL FROM:<@r1.example,@r2.example:u@d.example>", 0, SMTP_V_MAIL,
	    "u@d.example", 0, 0, 0 },
	{ "MAIL FROM:<@r1:u@d>", 0, SMTP_V_MAIL, "u@d", 0, 0, 0 },
	{ "MAIL FROM:<u@[192.0.2.1]>", 0, SMTP_V_MAIL, "u@[192.0.2.1]",
	    0, 0, 0 },
	{ "MAIL FROM:<u@[IPv6:2001:db8::1]>", 0, SMTP_V_MAIL,
	    "u@[IPv6:2001:db8::1]", 0, 0, 0 },
	{ "MAIL FROM:<u@[ipv6:::ffff:192.0.2.1]>", 0, SMTP_V_MAIL,
	    "u@[ipv6:::ffff:192.0.2.1]", 0, 0, 0 },
	{ "MAIL FROM:<a.b+c!#$%&'*/=?^_`{|}~-@d-e.f0>", 0, SMTP_V_MAIL,
	    "a.b+c!#$%&'*/=?^_`{|}~-@d-e.f0", 0, 0, 0 },
	{ "MAIL FROM:<a@1.2.3.4>", 0, SMTP_V_MAIL, "a@1.2.3.4", 0, 0, 0 },
	{ "RCPT TO:<x@y>", 0, SMTP_V_RCPT, "x@y", 0, 0, 0 },
	{ "rcpt to: <x@y>", 0, SMTP_V_RCPT, "x@y", 0, 0, 0 },
	{ "RCPT TO:<postmaster>", 0, SMTP_V_RCPT, "postmaster", 0, 0, 0 },
	{ "RCPT TO:<PostMaster>", 0, SMTP_V_RCPT, "PostMaster", 0, 0, 0 },
	{ "RCPT TO:<postmaster@y>", 0, SMTP_V_RCPT, "postmaster@y", 0, 0, 0 },
	{ "RCPT TO:<j\xc3\xb6rg@b>", 1, SMTP_V_RCPT, "j\xc3\xb6rg@b", 0, 0, 0 },
	{ "RCPT TO:<@a:x@y>", 0, SMTP_V_RCPT, "x@y", 0, 0, 0 },
	{ "RCPT TO:<x@y>   ", 0, SMTP_V_RCPT, "x@y", 0, 0, 0 },
	{ "DATA", 0, SMTP_V_DATA, NULL, 0, 0, 0 },
	{ "data", 0, SMTP_V_DATA, NULL, 0, 0, 0 },
	{ "DATA ", 0, SMTP_V_DATA, NULL, 0, 0, 0 },
	{ "RSET", 0, SMTP_V_RSET, NULL, 0, 0, 0 },
	{ "QUIT", 0, SMTP_V_QUIT, NULL, 0, 0, 0 },
	{ "STARTTLS", 0, SMTP_V_STARTTLS, NULL, 0, 0, 0 },
	{ "starttls", 0, SMTP_V_STARTTLS, NULL, 0, 0, 0 },
	{ "NOOP", 0, SMTP_V_NOOP, "", 0, 0, 0 },
	{ "NOOP hello  world", 0, SMTP_V_NOOP, "hello  world", 0, 0, 0 },
	{ "HELP", 0, SMTP_V_HELP, "", 0, 0, 0 },
	{ "help MAIL", 0, SMTP_V_HELP, "MAIL", 0, 0, 0 },
	{ "VRFY user", 0, SMTP_V_VRFY, "user", 0, 0, 0 },
	{ "EXPN staff list", 0, SMTP_V_EXPN, "staff list", 0, 0, 0 },
	{ "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", 0, SMTP_V_AUTH,
	    "PLAIN dGVzdAB0ZXN0AHRlc3Q=", 0, 0, 0 },
	{ "BDAT 0 LAST", 0, SMTP_V_BDAT, NULL, F_LAST, 0, 0 },
	{ "BDAT 1000", 0, SMTP_V_BDAT, NULL, 0, 1000, 0 },
	{ "bdat 5 last", 0, SMTP_V_BDAT, NULL, F_LAST, 5, 0 },
	{ "BDAT 7  LAST ", 0, SMTP_V_BDAT, NULL, F_LAST, 7, 0 },
	{ "BDAT 18446744073709551615", 0, SMTP_V_BDAT, NULL, 0, UINT64_MAX,
	    0 },
	{ "BDAT 00000000000000000001 LAST", 0, SMTP_V_BDAT, NULL, F_LAST, 1,
	    0 },
};

static const char *
good_field(const struct smtp_cmd *c)
{
	switch (c->verb) {
	case SMTP_V_HELO:
	case SMTP_V_EHLO:
		return c->domain;
	case SMTP_V_MAIL:
	case SMTP_V_RCPT:
		return c->path;
	default:
		return c->arg;
	}
}

static void
check_good(const struct good_case *g)
{
	const struct smtp_status *st;
	struct smtp_cmd c;
	uint64_t num;

	st = smtp_cmd_parse(g->line, strlen(g->line), g->utf8_ok, &c);
	if (st != NULL)
		fail_msg("\"%s\": %d %s %s", g->line, st->code, st->enh,
		    st->text);
	if (c.verb != g->verb)
		fail_msg("\"%s\": verb %s", g->line, smtp_verb_str(c.verb));
	if (g->want != NULL && strcmp(good_field(&c), g->want) != 0)
		fail_msg("\"%s\": got \"%s\"", g->line, good_field(&c));
	num = g->verb == SMTP_V_BDAT ? c.chunk_size : c.size;
	if (num != g->num || c.has_size != !!(g->flags & F_SIZE) ||
	    c.smtputf8 != !!(g->flags & F_UTF8) ||
	    c.null_path != !!(g->flags & F_NULL) ||
	    c.last != !!(g->flags & F_LAST) || c.body != g->body)
		fail_msg("\"%s\": parameters differ", g->line);
}

static void
test_good(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++)
		check_good(&good_cases[i]);
}

/* ------------------------------------------------------------------ */
/* bad lines								*/

static const struct bad_case {
	const char	*line;
	size_t		 len;		/* 0: strlen() */
	int		 utf8_ok;
	int		 code;
	const char	*enh;
	const char	*why;		/* part of the text */
} bad_cases[] = {
	/* the line */
	{ "", 0, 0, 500, "5.5.1", "Empty" },
	{ "   ", 0, 0, 500, "5.5.1", "Empty" },
	{ " QUIT", 0, 0, 500, "5.5.1", "Unknown command" },
	{ "FOO", 0, 0, 500, "5.5.1", "Unknown command" },
	{ "MAILFROM:<a@b>", 0, 0, 500, "5.5.1", "Unknown command" },
	{ "QUITX", 0, 0, 500, "5.5.1", "Unknown command" },
	{ "HELOx y", 0, 0, 500, "5.5.1", "Unknown command" },
	{ "\xc3\xa9HLO x", 0, 0, 500, "5.5.1", "Unknown command" },
	{ "NOOP\0", 5, 0, 500, "5.5.2", "Control" },
	{ "\0", 1, 0, 500, "5.5.2", "Control" },
	{ "NOOP\tx", 0, 0, 500, "5.5.2", "Control" },
	{ "MAIL\tFROM:<a@b>", 0, 0, 500, "5.5.2", "Control" },
	{ "NOOP \x7f", 0, 0, 500, "5.5.2", "Control" },
	{ "NOOP \x01", 0, 0, 500, "5.5.2", "Control" },
	{ "QUIT\r", 0, 0, 500, "5.5.2", "Control" },
	{ "QUIT\n", 0, 0, 500, "5.5.2", "Control" },
	{ "RCPT TO:<a@b\x1b>", 0, 0, 500, "5.5.2", "Control" },
	/* HELO, EHLO */
	{ "HELO", 0, 0, 501, "5.5.4", "Syntax: HELO hostname" },
	{ "EHLO", 0, 0, 501, "5.5.4", "Syntax: EHLO hostname" },
	{ "EHLO ", 0, 0, 501, "5.5.4", "Syntax: EHLO hostname" },
	{ "EHLO a b", 0, 0, 501, "5.5.4", "Syntax: EHLO" },
	{ "EHLO caf\xc3\xa9", 0, 1, 501, "5.5.4", "Syntax: EHLO" },
	/* MAIL: the shape */
	{ "MAIL", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:<address>" },
	{ "MAIL TO:<a@b>", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:" },
	{ "MAIL FROM:a@b", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:" },
	{ "MAIL FROM:", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:" },
	{ "MAIL FROM:<a@b", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:" },
	{ "MAIL FROM :<a@b>", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:" },
	{ "MAIL FROM<a@b>", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:" },
	{ "MAIL FROM:<a@b>x", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:" },
	{ "MAIL FROM:<a@b>SIZE=1", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:" },
	{ "MAIL FROM:<\"a@b>", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:" },
	{ "MAIL FROM:<a@b>>", 0, 0, 501, "5.5.4", "Syntax: MAIL FROM:" },
	/* MAIL: the address */
	{ "MAIL FROM:<a>", 0, 0, 501, "5.1.7", "Bad sender address" },
	{ "MAIL FROM:<postmaster>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<@b>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a..b@c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<.a@c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a.@c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a b@c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a<b@c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a(b)@c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@b@c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@b..c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@.b>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@b.>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@-b.c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@b-.c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@b_c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[1.2.3]>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[1.2.3.4.5]>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[256.1.1.1]>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[1.2.3.1234]>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[1.2.3.4>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[]>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[IPv6:zz::1]>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[IPv6:1.2.3.4]>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[IPv6:]>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[::1]>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<a@[tag:content]>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<\"a\\\xc3\xa9\"@c> SMTPUTF8", 0, 0, 501, "5.1.7",
	    "Bad sender" },
	{ "MAIL FROM:<\"a\"b@c>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<@a,b:x@y>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<@a:>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<@:x@y>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<@a,:x@y>", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<@a x@y>", 0, 0, 501, "5.1.7", "Bad sender" },
	/* MAIL: UTF-8 */
	{ "MAIL FROM:<j\xc3\xb6rg@b>", 0, 0, 553, "5.6.7", "SMTPUTF8" },
	{ "MAIL FROM:<j\xc3\xb6rg@b>", 0, 1, 553, "5.6.7", "SMTPUTF8" },
	{ "MAIL FROM:<a@b\xc3\xbc.c> SIZE=1", 0, 0, 553, "5.6.7", "SMTPUTF8" },
	{ "MAIL FROM:<j\xffrg@b> SMTPUTF8", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<j\xc3@b> SMTPUTF8", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<j\xc3\xc3@b> SMTPUTF8", 0, 0, 501, "5.1.7",
	    "Bad sender" },
	{ "MAIL FROM:<\xc0\xaf@b> SMTPUTF8", 0, 0, 501, "5.1.7", "Bad sender" },
	{ "MAIL FROM:<\xe0\x80\xaf@b> SMTPUTF8", 0, 0, 501, "5.1.7",
	    "Bad sender" },
	{ "MAIL FROM:<\xed\xa0\x80@b> SMTPUTF8", 0, 0, 501, "5.1.7",
	    "Bad sender" },
	{ "MAIL FROM:<\xf4\x90\x80\x80@b> SMTPUTF8", 0, 0, 501, "5.1.7",
	    "Bad sender" },
	{ "MAIL FROM:<\xf8\x88\x80\x80\x80@b> SMTPUTF8", 0, 0, 501, "5.1.7",
	    "Bad sender" },
	{ "MAIL FROM:<\x80@b> SMTPUTF8", 0, 0, 501, "5.1.7", "Bad sender" },
	/* MAIL: parameters */
	{ "MAIL FROM:<a@b> SIZE=abc", 0, 0, 501, "5.5.4", "is not a number" },
	{ "MAIL FROM:<a@b> SIZE=-1", 0, 0, 501, "5.5.4", "SIZE= value is not" },
	{ "MAIL FROM:<a@b> SIZE=1k", 0, 0, 501, "5.5.4", "SIZE= value is not" },
	{ "MAIL FROM:<a@b> SIZE=", 0, 0, 501, "5.5.4", "SIZE= value is not" },
	{ "MAIL FROM:<a@b> SIZE", 0, 0, 501, "5.5.4", "SIZE= value is not" },
	{ "MAIL FROM:<a@b> SIZE=18446744073709551616", 0, 0, 501, "5.5.4",
	    "SIZE= value too large" },
	{ "MAIL FROM:<a@b> SIZE=99999999999999999999", 0, 0, 501, "5.5.4",
	    "SIZE= value too large" },
	{ "MAIL FROM:<a@b> SIZE=000000000000000000001", 0, 0, 501, "5.5.4",
	    "SIZE= value too large" },
	{ "MAIL FROM:<a@b> SIZE=1 SIZE=2", 0, 0, 501, "5.5.4",
	    "Duplicate MAIL parameter: SIZE" },
	{ "MAIL FROM:<a@b> size=1 Size=1", 0, 0, 501, "5.5.4",
	    "Duplicate MAIL parameter: Size" },
	{ "MAIL FROM:<a@b> SMTPUTF8 SMTPUTF8", 0, 0, 501, "5.5.4",
	    "Duplicate MAIL parameter: SMTPUTF8" },
	{ "MAIL FROM:<a@b> BODY=7BIT BODY=7BIT", 0, 0, 501, "5.5.4",
	    "Duplicate" },
	{ "MAIL FROM:<a@b> BODY=BINARYMIME", 0, 0, 555, "5.5.4",
	    "BINARYMIME not supported" },
	{ "MAIL FROM:<a@b> BODY=9BIT", 0, 0, 501, "5.5.4", "BODY= value" },
	{ "MAIL FROM:<a@b> BODY", 0, 0, 501, "5.5.4", "BODY= value" },
	{ "MAIL FROM:<a@b> BODY=", 0, 0, 501, "5.5.4", "BODY= value" },
	{ "MAIL FROM:<a@b> SMTPUTF8=yes", 0, 0, 501, "5.5.4",
	    "SMTPUTF8 takes no value" },
	{ "MAIL FROM:<a@b> SMTPUTF8=", 0, 0, 501, "5.5.4",
	    "SMTPUTF8 takes no value" },
	{ "MAIL FROM:<a@b> FOO=bar", 0, 0, 555, "5.5.4",
	    "Unknown MAIL parameter: FOO" },
	{ "MAIL FROM:<a@b> SIZE=1 X-Foo", 0, 0, 555, "5.5.4",
	    "Unknown MAIL parameter: X-Foo" },
	{ "MAIL FROM:<a@b> AUTH=<>", 0, 0, 555, "5.5.4",
	    "Unknown MAIL parameter: AUTH" },
	{ "MAIL FROM:<a@b> RET=HDRS", 0, 0, 555, "5.5.4",
	    "Unknown MAIL parameter: RET" },
	{ "MAIL FROM:<a@b> "
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJ=1", 0, 0, 555,
	    "5.5.4", "parameter: ABCDEFGHIJKLMNOPQRSTUVWXYZ012345" },
	{ "MAIL FROM:<a@b> =x", 0, 0, 501, "5.5.4", "Syntax: MAIL parameter" },
	{ "MAIL FROM:<a@b> -X", 0, 0, 501, "5.5.4", "Syntax: MAIL parameter" },
	{ "MAIL FROM:<a@b> S_Z=1", 0, 0, 501, "5.5.4", "Syntax: MAIL param" },
	{ "MAIL FROM:<a@b> SIZE=1=2", 0, 0, 501, "5.5.4", "Syntax: MAIL" },
	{ "MAIL FROM:<a@b> SIZE=1\xc3\xa9", 0, 0, 501, "5.5.4",
	    "Syntax: MAIL param" },
	/* RCPT */
	{ "RCPT", 0, 0, 501, "5.5.4", "Syntax: RCPT TO:<address>" },
	{ "RCPT FROM:<x@y>", 0, 0, 501, "5.5.4", "Syntax: RCPT TO:" },
	{ "RCPT TO:x@y", 0, 0, 501, "5.5.4", "Syntax: RCPT TO:" },
	{ "RCPT TO:<x@y", 0, 0, 501, "5.5.4", "Syntax: RCPT TO:" },
	{ "RCPT TO:<>", 0, 0, 553, "5.1.3", "Bad recipient address" },
	{ "RCPT TO:<a>", 0, 0, 553, "5.1.3", "Bad recipient" },
	{ "RCPT TO:<postmasters>", 0, 0, 553, "5.1.3", "Bad recipient" },
	{ "RCPT TO:<a@b..c>", 0, 0, 553, "5.1.3", "Bad recipient" },
	{ "RCPT TO:<j\xc3\xb6rg@b>", 0, 0, 553, "5.6.7", "SMTPUTF8" },
	{ "RCPT TO:<x@b\xc3\xbc>", 0, 0, 553, "5.6.7", "SMTPUTF8" },
	{ "RCPT TO:<j\xc3@b>", 0, 1, 553, "5.1.3", "Bad recipient" },
	{ "RCPT TO:<x@y> NOTIFY=NEVER", 0, 0, 555, "5.5.4",
	    "Unknown RCPT parameter: NOTIFY" },
	{ "RCPT TO:<x@y> SIZE=1", 0, 0, 555, "5.5.4",
	    "Unknown RCPT parameter: SIZE" },
	{ "RCPT TO:<x@y> SMTPUTF8", 0, 1, 555, "5.5.4",
	    "Unknown RCPT parameter: SMTPUTF8" },
	/* the verbs without an argument */
	{ "DATA x", 0, 0, 501, "5.5.4", "Syntax: DATA" },
	{ "RSET x", 0, 0, 501, "5.5.4", "Syntax: RSET" },
	{ "QUIT now", 0, 0, 501, "5.5.4", "Syntax: QUIT" },
	{ "STARTTLS x", 0, 0, 501, "5.5.4", "Syntax: STARTTLS" },
	/* the verbs that need one */
	{ "VRFY", 0, 0, 501, "5.5.4", "Syntax: VRFY" },
	{ "EXPN  ", 0, 0, 501, "5.5.4", "Syntax: EXPN" },
	{ "AUTH", 0, 0, 501, "5.5.4", "Syntax: AUTH" },
	/* BDAT */
	{ "BDAT", 0, 0, 501, "5.5.4", "Syntax: BDAT size [LAST]" },
	{ "BDAT x", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
	{ "BDAT LAST", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
	{ "BDAT -1", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
	{ "BDAT +1", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
	{ "BDAT 1 LASTX", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
	{ "BDAT 1 LAST x", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
	{ "BDAT 1 2", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
	{ "BDAT 1x", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
	{ "BDAT 18446744073709551616", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
	{ "BDAT 123456789012345678901", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
	{ "BDAT 000000000000000000001", 0, 0, 501, "5.5.4", "Syntax: BDAT" },
};

static void
check_bad(const struct bad_case *b)
{
	const struct smtp_status *st;
	struct smtp_cmd c;
	size_t	len = b->len ? b->len : strlen(b->line);

	st = smtp_cmd_parse(b->line, len, b->utf8_ok, &c);
	if (st == NULL)
		fail_msg("\"%s\": accepted", b->line);
	if (st->code != b->code || strcmp(st->enh, b->enh) != 0 ||
	    strstr(st->text, b->why) == NULL)
		fail_msg("\"%s\": got %d %s %s, want %d %s ...%s...", b->line,
		    st->code, st->enh, st->text, b->code, b->enh, b->why);
}

static void
test_bad(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		check_bad(&bad_cases[i]);
}

/* The reply naming a parameter lives in the struct smtp_cmd. */
static void
test_reply_in_cmd(void **state)
{
	static const char line[] = "MAIL FROM:<a@b> XYZ=1";
	const struct smtp_status *st;
	struct smtp_cmd c;

	(void)state;
	st = smtp_cmd_parse(line, sizeof(line) - 1, 0, &c);
	assert_ptr_equal(st, &c.err);
	assert_string_equal(st->text, "Unknown MAIL parameter: XYZ");
	/* A fixed reply does not. */
	st = smtp_cmd_parse("FOO", 3, 0, &c);
	assert_non_null(st);
	assert_ptr_not_equal(st, &c.err);
}

/* ------------------------------------------------------------------ */
/* limits								*/

static const struct smtp_status *
parse_str(const char *s, int utf8_ok, struct smtp_cmd *c)
{
	return smtp_cmd_parse(s, strlen(s), utf8_ok, c);
}

static void
test_line_length(void **state)
{
	char	line[SMTP_CMD_LINE_MAX + 8];
	const struct smtp_status *st;
	struct smtp_cmd c;

	(void)state;
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', sizeof(line) - 5);
	assert_null(smtp_cmd_parse(line, 510, 0, &c));
	assert_int_equal(strlen(c.arg), 505);
	st = smtp_cmd_parse(line, 511, 0, &c);
	assert_non_null(st);
	assert_int_equal(st->code, 500);
	assert_string_equal(st->enh, "5.5.6");
	/* Length first: control octets in an overlong line do not matter. */
	line[100] = '\0';
	st = smtp_cmd_parse(line, 511, 0, &c);
	assert_string_equal(st->enh, "5.5.6");
}

/* "<local@domain>" with a local part of l octets, labels of up to lab. */
static void
make_path(char *buf, const char *cmd, size_t l, size_t dlen, size_t lab)
{
	size_t	n = strlen(cmd), i;

	memcpy(buf, cmd, n);
	buf[n++] = '<';
	memset(buf + n, 'l', l);
	n += l;
	buf[n++] = '@';
	for (i = 0; i < dlen; i++)
		buf[n++] = (i % (lab + 1) == lab) ? '.' : 'd';
	buf[n++] = '>';
	buf[n] = '\0';
}

static void
expect(const char *line, int code, const char *enh)
{
	struct smtp_cmd c;
	const struct smtp_status *st = parse_str(line, 0, &c);

	if (code == 0 && st != NULL)
		fail_msg("\"%.40s...\": %d %s", line, st->code, st->text);
	if (code != 0 && (st == NULL || st->code != code ||
	    strcmp(st->enh, enh) != 0))
		fail_msg("\"%.40s...\": not %d %s", line, code, enh);
}

static void
test_path_limits(void **state)
{
	char	line[SMTP_CMD_LINE_MAX];
	struct smtp_cmd c;

	(void)state;
	make_path(line, "MAIL FROM:", 64, 10, 63);
	expect(line, 0, NULL);
	make_path(line, "MAIL FROM:", 65, 10, 63);
	expect(line, 501, "5.1.7");
	/* 64 + 1 + 189 + 2 = 256 with the brackets */
	make_path(line, "MAIL FROM:", 64, 189, 63);
	expect(line, 0, NULL);
	assert_null(parse_str(line, 0, &c));
	assert_int_equal(strlen(c.path), 254);
	make_path(line, "MAIL FROM:", 64, 190, 63);
	expect(line, 501, "5.1.7");
	make_path(line, "RCPT TO:", 64, 189, 63);
	expect(line, 0, NULL);
	make_path(line, "RCPT TO:", 64, 190, 63);
	expect(line, 553, "5.1.3");
	make_path(line, "RCPT TO:", 1, 100, 64);	/* a 64-octet label */
	expect(line, 553, "5.1.3");
	make_path(line, "RCPT TO:", 1, 64, 63);		/* 63, then 0 */
	expect(line, 553, "5.1.3");
}

static void
test_helo_limits(void **state)
{
	char	line[SMTP_CMD_LINE_MAX];
	struct smtp_cmd c;

	(void)state;
	memcpy(line, "EHLO ", 5);
	memset(line + 5, 'h', 255);
	line[260] = '\0';
	assert_null(parse_str(line, 0, &c));
	assert_int_equal(strlen(c.domain), 255);
	line[260] = 'h';
	line[261] = '\0';
	expect(line, 501, "5.5.4");
	assert_string_equal(parse_str(line, 0, &c)->text, "Hostname too long");
}

/* ------------------------------------------------------------------ */
/* names and junk							*/

static void
test_verb_str(void **state)
{
	static const char *const names[] = {
		"UNKNOWN", "HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT",
		"RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP", "STARTTLS",
		"AUTH"
	};
	struct smtp_cmd c;
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_string_equal(smtp_verb_str((enum smtp_verb)i), names[i]);
		if (i == 0)
			continue;
		/* Every name parses back to its verb (args may be wrong). */
		(void)parse_str(names[i], 0, &c);
		assert_int_equal(c.verb, i);
	}
	assert_string_equal(smtp_verb_str((enum smtp_verb)99), "?");
}

static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_junk(void **state)
{
	static const char *const heads[] = {
		"MAIL FROM:<", "RCPT TO:<", "EHLO ", "BDAT ", "NOOP ",
		"MAIL FROM:<a@b> "
	};
	static const char alpha[] = "<>@.:,\"\\[]= aZ9-\xc3\xa9\x80IPv6SIZE";
	char	line[SMTP_CMD_LINE_MAX];
	struct smtp_cmd c;
	uint32_t seed = 6531;
	size_t	i, n, k, len, good = 0;

	(void)state;
	for (i = 0; i < JUNK_ROUNDS; i++) {
		k = xorshift(&seed) % (sizeof(heads) / sizeof(heads[0]));
		n = strlen(heads[k]);
		memcpy(line, heads[k], n);
		for (len = xorshift(&seed) % 60; len > 0; len--)
			line[n++] =
			    alpha[xorshift(&seed) % (sizeof(alpha) - 1)];
		if (smtp_cmd_parse(line, n, (int)(i & 1), &c) != NULL)
			continue;
		assert_true(strlen(c.path) <= SMTP_PATH_MAX - 2);
		assert_true(strlen(c.domain) <= SMTP_DOMAIN_MAX);
		assert_true(strlen(c.arg) < sizeof(c.arg));
		good++;
	}
	assert_true(good > JUNK_ROUNDS / 20);	/* not all refused */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_reply_in_cmd),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_path_limits),
		cmocka_unit_test(test_helo_limits),
		cmocka_unit_test(test_verb_str),
		cmocka_unit_test(test_junk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
