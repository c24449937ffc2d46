/*
 * fuzz_smtp_reply.c - libFuzzer harness for the client's reply parser,
 * smtp_reply_feed() (mta/proto/smtp_reply.c), and smtp_reply_format().
 *
 * Input: reply lines separated by LF (a CR before it dropped), fed one by
 * one, each in an exact-size heap copy, until the parser says the reply
 * is complete or malformed; then the rest is fed to check that nothing
 * more is taken.
 *
 * Properties: feed returns -1, 0 or 1; after 1 (or -1) the reply takes no
 * more lines; the code is 200..599 and every kept text NUL-terminated;
 * at most SMTP_REPLY_LINES_MAX lines kept, the rest counted as dropped.
 * Round trip: a complete reply with no dropped lines, formatted again
 * with smtp_reply_format() and fed to a fresh parser, gives the same
 * code and texts.
 */
#include <string.h>

#include "fuzz.h"
#include "smtp_reply.h"

struct state {
	struct smtp_reply	r;
	int			last;	/* last result: 0 going on */
	size_t			fed;
};

static int
feed_copy(struct smtp_reply *r, const char *line, size_t len)
{
	char	*c = malloc(len ? len : 1);
	int	 rc;

	if (c == NULL)
		abort();
	memcpy(c, line, len);
	rc = smtp_reply_feed(r, c, len);
	free(c);
	return rc;
}

static void
line_cb(const char *line, size_t len, void *arg)
{
	struct state *s = arg;
	int	rc;

	rc = feed_copy(&s->r, line, len);
	FUZZ_CHECK(rc == -1 || rc == 0 || rc == 1);
	if (s->last == 1)
		FUZZ_CHECK(rc == -1);
	if (s->last == 0)
		s->last = rc;
	s->fed++;
}

static void
round_trip(const struct smtp_reply *r)
{
	static struct smtp_reply again;
	static char buf[SMTP_REPLY_LINES_MAX * (SMTP_REPLY_LINE_MAX + 8)];
	const char *lines[SMTP_REPLY_LINES_MAX];
	char	*p, *eol;
	size_t	 i;
	int	 n, rc = 0;

	for (i = 0; i < r->nlines; i++)
		lines[i] = smtp_reply_text(r, i);
	n = smtp_reply_format(buf, sizeof(buf), r->code, NULL, lines,
	    r->nlines);
	if (n < 0)
		return;		/* a text with CR in it: not formattable */
	smtp_reply_init(&again);
	for (p = buf; p < buf + n; p = eol + 2) {
		eol = strstr(p, "\r\n");
		FUZZ_CHECK(eol != NULL);
		FUZZ_CHECK(rc == 0);
		rc = smtp_reply_feed(&again, p, (size_t)(eol - p));
		FUZZ_CHECK(rc >= 0);
	}
	FUZZ_CHECK(rc == 1 && again.done);
	FUZZ_CHECK(again.code == r->code && again.nlines == r->nlines);
	for (i = 0; i < r->nlines; i++)
		FUZZ_CHECK(strcmp(smtp_reply_text(&again, i),
		    smtp_reply_text(r, i)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state s;
	size_t	i;

	memset(&s, 0, sizeof(s));
	smtp_reply_init(&s.r);
	fuzz_lines(data, size, line_cb, &s);
	FUZZ_CHECK(s.r.nlines <= SMTP_REPLY_LINES_MAX);
	for (i = 0; i < s.r.nlines; i++)
		FUZZ_CHECK(memchr(s.r.line[i], '\0', SMTP_REPLY_LINE_MAX));
	FUZZ_CHECK(smtp_reply_text(&s.r, s.r.nlines)[0] == '\0');
	if (s.r.code != 0)
		FUZZ_CHECK(s.r.code >= 200 && s.r.code <= 599);
	if (s.last == 1) {
		FUZZ_CHECK(s.r.done);
		if (s.r.dropped == 0)
			round_trip(&s.r);
	}
	return 0;
}
