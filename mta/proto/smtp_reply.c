/*
 * smtp_reply.c - SMTP replies (RFC 5321 4.2): formatting for the server,
 * parsing for the client.
 *
 * FUNCTIONS
 *	smtp_reply_format()	code + lines into "250-a\r\n250 b\r\n"
 *	smtp_reply_init()	start reading one (multi-line) reply
 *	smtp_reply_feed()	one received line; says when the reply ends
 *	smtp_reply_text()	the text of line i, after "NNN-"/"NNN "
 *
 * DESCRIPTION
 *	smtp_reply_format() writes a NUL after the reply, so "fits" means
 *	the reply and its NUL; it refuses a code outside 200-599, no
 *	lines, a NULL line, and CR or LF in a line or in enh.
 *
 *	smtp_reply_feed() keeps the text of the first SMTP_REPLY_LINES_MAX
 *	lines, NUL-terminated, and counts the rest in dropped.  "NNN"
 *	alone is a last line with empty text.  A line fed after the last
 *	one is an error too: the caller must smtp_reply_init() again.
 *
 * DIAGNOSTICS
 *	smtp_reply_format() and smtp_reply_feed() return -1.
 */
#include <limits.h>
#include <string.h>

#include "smtp_reply.h"

#define CODE_LEN	3
#define CRLF_LEN	2

static int
has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Appends s[0..n) at buf + *pos; -1 if it does not fit with a NUL. */
static int
put(char *buf, size_t len, size_t *pos, const char *s, size_t n)
{
	if (len - *pos <= n)
		return -1;
	memcpy(buf + *pos, s, n);
	*pos += n;
	return 0;
}

static int
format_line(char *buf, size_t len, size_t *pos, int code, const char *enh,
    const char *text, int last)
{
	char	head[CODE_LEN + 1];
	size_t	start = *pos;

	head[0] = (char)('0' + code / 100);
	head[1] = (char)('0' + code / 10 % 10);
	head[2] = (char)('0' + code % 10);
	head[3] = last ? ' ' : '-';
	if (put(buf, len, pos, head, sizeof(head)) == -1)
		return -1;
	if (enh != NULL && (put(buf, len, pos, enh, strlen(enh)) == -1 ||
	    put(buf, len, pos, " ", 1) == -1))
		return -1;
	if (put(buf, len, pos, text, strlen(text)) == -1 ||
	    put(buf, len, pos, "\r\n", CRLF_LEN) == -1)
		return -1;
	return *pos - start > SMTP_REPLY_LINE_MAX ? -1 : 0;
}

int
smtp_reply_format(char *buf, size_t len, int code, const char *enh,
    const char *const *lines, size_t n)
{
	size_t	i, pos = 0;

	if (len == 0 || code < 200 || code > 599 || n == 0)
		return -1;
	if (enh != NULL && has_crlf(enh))
		return -1;
	for (i = 0; i < n; i++) {
		if (lines[i] == NULL || has_crlf(lines[i]))
			return -1;
		if (format_line(buf, len, &pos, code, enh, lines[i],
		    i + 1 == n) == -1)
			return -1;
	}
	if (pos > (size_t)INT_MAX)
		return -1;
	buf[pos] = '\0';
	return (int)pos;
}

void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* The code of a line, or -1: three digits, the first 2 to 5. */
static int
line_code(const char *line, size_t len)
{
	size_t	i;

	if (len < CODE_LEN || line[0] < '2' || line[0] > '5')
		return -1;
	for (i = 1; i < CODE_LEN; i++)
		if (line[i] < '0' || line[i] > '9')
			return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

int
smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len)
{
	int	code, last;
	size_t	tlen;

	if (r->done || len > SMTP_REPLY_LINE_MAX - CRLF_LEN)
		return -1;
	if ((code = line_code(line, len)) == -1)
		return -1;
	if (r->code != 0 && code != r->code)
		return -1;
	if (len == CODE_LEN || line[CODE_LEN] == ' ')
		last = 1;
	else if (line[CODE_LEN] == '-')
		last = 0;
	else
		return -1;
	r->code = code;
	if (r->nlines < SMTP_REPLY_LINES_MAX) {
		tlen = len > CODE_LEN ? len - CODE_LEN - 1 : 0;
		memcpy(r->line[r->nlines], line + len - tlen, tlen);
		r->line[r->nlines++][tlen] = '\0';
	} else
		r->dropped++;
	r->done = last;
	return last;
}

const char *
smtp_reply_text(const struct smtp_reply *r, size_t i)
{
	if (i >= r->nlines)
		return "";
	return r->line[i];
}
