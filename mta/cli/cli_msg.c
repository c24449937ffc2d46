/*
 * cli_msg.c - the message pinpost send reads from standard input, and
 * its header fields.
 *
 * FUNCTIONS
 *	cli_msg_read()		read and normalize the message
 *	cli_msg_field()		walk the header fields
 *	cli_msg_field_is()	is a field of that name (case-blind)?
 *	cli_msg_cut()		remove a field (Bcc:)
 *	cli_msg_prepend()	add a field at the top (From:)
 *	cli_msg_free()
 *
 * DESCRIPTION
 *	Every line is stored ending in CRLF: a bare LF becomes CRLF, a CR
 *	before LF is kept as part of that CRLF, and a CR not followed by LF
 *	is dropped (the server would refuse the whole message for it, see
 *	SMTP smuggling).  A last line without its end gets CRLF.  When
 *	dot_ends is set a line holding only "." ends the input, as it does
 *	for sendmail without -i; the rest of the input is not read.
 *
 *	The header is the fields from the top: a field is NAME ":" with
 *	NAME printable ASCII and no space, and continues over the lines
 *	that start with a space or a tab.  The header ends at the first
 *	line that is neither (normally the empty line).
 *
 * DIAGNOSTICS
 *	stdin: read error: REASON		EX_IOERR
 *	stdin: line N is longer than 998 octets	EX_DATAERR
 *	stdin: message larger than N octets	EX_DATAERR
 *	stdin: out of memory			EX_IOERR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "cli_msg.h"
#include "smtp_cmd.h"

#define MSG_LINE_MAX	(SMTP_TEXT_LINE_MAX - 2)	/* without CRLF */
#define MSG_CHUNK	8192
#define MSG_CAP_MIN	(64 * 1024)

struct msg_rd {
	struct cli_msg	*m;
	int		 dot_ends;
	int		 cr;		/* a CR is held back */
	int		 done;		/* the "." line was read */
	size_t		 line;		/* where the current line starts */
	size_t		 lineno;
	char		*err;
	size_t		 errlen;
};

static int
msg_grow(struct cli_msg *m, size_t need)
{
	size_t	cap = m->cap > 0 ? m->cap : MSG_CAP_MIN;
	char	*p;

	while (cap - m->len < need) {
		if (cap > (size_t)-1 / 2)
			return -1;
		cap *= 2;
	}
	if (cap == m->cap)
		return 0;
	if ((p = realloc(m->buf, cap)) == NULL)
		return -1;
	m->buf = p;
	m->cap = cap;
	return 0;
}

static int
rd_put(struct msg_rd *rd, const char *s, size_t n)
{
	struct cli_msg *m = rd->m;

	if (n > m->max || m->len > m->max - n) {
		(void)snprintf(rd->err, rd->errlen, "stdin: message larger "
		    "than %zu octets", m->max);
		return EX_DATAERR;
	}
	if (m->cap - m->len < n && msg_grow(m, n) == -1) {
		(void)snprintf(rd->err, rd->errlen, "stdin: out of memory");
		return EX_IOERR;
	}
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	return EX_OK;
}

/* The end of a line: the "." line, or CRLF. */
static int
rd_eol(struct msg_rd *rd)
{
	struct cli_msg *m = rd->m;
	int	rc;

	if (rd->dot_ends && m->len - rd->line == 1 && m->buf[rd->line] == '.') {
		m->len = rd->line;
		rd->done = 1;
		return EX_OK;
	}
	if ((rc = rd_put(rd, "\r\n", 2)) != EX_OK)
		return rc;
	rd->line = m->len;
	rd->lineno++;
	return EX_OK;
}

static int
rd_octet(struct msg_rd *rd, char c)
{
	if (rd->cr) {
		rd->cr = 0;
		if (c == '\n')
			return rd_eol(rd);
		/* a bare CR: dropped */
	}
	if (c == '\r') {
		rd->cr = 1;
		return EX_OK;
	}
	if (c == '\n')
		return rd_eol(rd);
	if (rd->m->len - rd->line >= MSG_LINE_MAX) {
		(void)snprintf(rd->err, rd->errlen, "stdin: line %zu is longer "
		    "than %d octets", rd->lineno, MSG_LINE_MAX);
		return EX_DATAERR;
	}
	if ((unsigned char)c > 127)
		rd->m->eightbit = 1;
	return rd_put(rd, &c, 1);
}

int
cli_msg_read(struct cli_msg *m, FILE *in, int dot_ends, char *err,
    size_t errlen)
{
	struct msg_rd rd = { m, dot_ends, 0, 0, 0, 1, err, errlen };
	char	chunk[MSG_CHUNK];
	size_t	i, n;
	int	rc = EX_OK;

	while (rc == EX_OK && !rd.done &&
	    (n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		for (i = 0; i < n && rc == EX_OK && !rd.done; i++)
			rc = rd_octet(&rd, chunk[i]);
	if (rc != EX_OK || rd.done)
		return rc;
	if (ferror(in)) {
		(void)snprintf(err, errlen, "stdin: read error: %s",
		    strerror(errno));
		return EX_IOERR;
	}
	if (m->len > rd.line)
		return rd_eol(&rd);
	return EX_OK;
}

/* Where the line holding p ends: after its LF (or at the end). */
static size_t
line_end(const struct cli_msg *m, size_t p)
{
	const char *lf = memchr(m->buf + p, '\n', m->len - p);

	return lf == NULL ? m->len : (size_t)(lf - m->buf) + 1;
}

int
cli_msg_field(const struct cli_msg *m, size_t *pos, struct cli_field *f)
{
	size_t	p = *pos, n, e;
	unsigned char c;

	for (n = p; n < m->len; n++) {
		c = (unsigned char)m->buf[n];
		if (c <= ' ' || c >= 127 || c == ':')
			break;
	}
	if (n == p || n >= m->len || m->buf[n] != ':')
		return 0;
	e = line_end(m, n);
	while (e < m->len && (m->buf[e] == ' ' || m->buf[e] == '\t'))
		e = line_end(m, e);
	f->start = p;
	f->end = e;
	f->name_len = n - p;
	f->val = n + 1;
	*pos = e;
	return 1;
}

int
cli_msg_field_is(const struct cli_msg *m, const struct cli_field *f,
    const char *name)
{
	return f->name_len == strlen(name) &&
	    strncasecmp(m->buf + f->start, name, f->name_len) == 0;
}

void
cli_msg_cut(struct cli_msg *m, const struct cli_field *f)
{
	memmove(m->buf + f->start, m->buf + f->end, m->len - f->end);
	m->len -= f->end - f->start;
}

int
cli_msg_prepend(struct cli_msg *m, const char *text, size_t len)
{
	if (m->cap - m->len < len && msg_grow(m, len) == -1)
		return -1;
	if (m->len > 0)
		memmove(m->buf + len, m->buf, m->len);
	memcpy(m->buf, text, len);
	m->len += len;
	return 0;
}

void
cli_msg_free(struct cli_msg *m)
{
	free(m->buf);
	m->buf = NULL;
	m->len = m->cap = 0;
}
