/*
 * smtp_data.c - the DATA body: end of data, dot-unstuffing and the SMTP
 * smuggling defences (RFC 5321 4.1.1.4, 4.5.2), one octet at a time.
 *
 * FUNCTIONS
 *	smtp_data_init()	before the first byte after "354"
 *	smtp_data_feed()	some received bytes; the message bytes out
 *	smtp_data_error()	after the end: the reply if the message must
 *				be refused, else NULL
 *	smtp_text_feed()	the same checks for BDAT chunks
 *	smtp_out_feed()		the reverse, for a client: CRLF line ends
 *				and dot-stuffing
 *
 * DESCRIPTION
 *	Every octet moves a small state machine, so input may be split
 *	anywhere, even one octet per call, with the same result.  A line
 *	starts only after CRLF (or at the start of the data): a bare LF
 *	does not start one, so "\n.\r\n" and "\r\n\n.\r\n" never end the
 *	data.  After a leading "." the CR is held back: with LF it is the
 *	end; without, it is a bare CR and is dropped (the message is
 *	refused anyway), which keeps the output no longer than the input.
 *
 *	Line lengths count message octets with CRLF, after unstuffing.
 *	Once the message reaches max_size, no more octets are output.
 *
 *	smtp_out_feed() never emits a bare CR or LF: each becomes CRLF,
 *	so every receiver, strict or lax about line ends, reads the same
 *	lines, and a "\r.\r" queued before these checks cannot end the
 *	data at a lax next hop.  A CR is answered at once with CRLF and an
 *	LF right after it is then skipped, so nothing is held back.
 *
 * DIAGNOSTICS
 *	552 5.3.4 Message too big
 *	550 5.5.2 Message contains bare CR or LF (see SMTP smuggling)
 *	550 5.6.0 Message contains NUL octets
 *	550 5.5.2 Message has a line longer than 998 octets
 */
#include <string.h>

#include "smtp_cmd.h"
#include "smtp_data.h"

enum data_state {
	DS_BOL,		/* at the start of a line */
	DS_TEXT,	/* inside a line */
	DS_CR,		/* inside a line, after CR (output) */
	DS_DOT,		/* after a leading "." (not output) */
	DS_DOT_CR,	/* after a leading "." CR (neither output) */
	DS_DONE
};

struct data_out {
	char	*buf;
	size_t	 n;
};

static const struct smtp_status st_too_big = { 552, "5.3.4",
    "Message too big" };
static const struct smtp_status st_bare = { 550, "5.5.2",
    "Message contains bare CR or LF (see SMTP smuggling)" };
static const struct smtp_status st_long = { 550, "5.5.2",
    "Message has a line longer than 998 octets" };
static const struct smtp_status st_nul = { 550, "5.6.0",
    "Message contains NUL octets" };

void
smtp_data_init(struct smtp_data *d, uint64_t max_size)
{
	d->state = DS_BOL;
	d->line_len = 0;
	d->size = 0;
	d->max_size = max_size;
	d->bare_crlf = 0;
	d->nul = 0;
	d->long_line = 0;
	d->too_big = 0;
	d->done = 0;
}

/* One more octet in a line (CRLF included); saturates past the limit. */
static void
line_octet(size_t *line_len, int *long_line)
{
	if (*line_len <= SMTP_TEXT_LINE_MAX)
		(*line_len)++;
	if (*line_len > SMTP_TEXT_LINE_MAX)
		*long_line = 1;
}

/* One octet of the message, counted against the line and size limits. */
static void
emit(struct smtp_data *d, struct data_out *o, unsigned char c)
{
	line_octet(&d->line_len, &d->long_line);
	if (c == '\0')
		d->nul = 1;
	if (d->too_big)
		return;
	if (d->max_size != 0 && d->size >= d->max_size) {
		d->too_big = 1;
		return;
	}
	o->buf[o->n++] = (char)c;
	d->size++;
}

static void
in_text(struct smtp_data *d, struct data_out *o, unsigned char c)
{
	emit(d, o, c);
	if (c == '\r')
		d->state = DS_CR;
	else {
		if (c == '\n')
			d->bare_crlf = 1;
		d->state = DS_TEXT;
	}
}

static void
in_cr(struct smtp_data *d, struct data_out *o, unsigned char c)
{
	if (c != '\n') {
		d->bare_crlf = 1;
		in_text(d, o, c);
		return;
	}
	emit(d, o, c);
	d->line_len = 0;
	d->state = DS_BOL;
}

static void
in_dot(struct smtp_data *d, struct data_out *o, unsigned char c)
{
	if (c == '\r')
		d->state = DS_DOT_CR;
	else
		in_text(d, o, c);	/* the leading dot was stuffing */
}

static void
in_dot_cr(struct smtp_data *d, struct data_out *o, unsigned char c)
{
	if (c == '\n') {
		d->state = DS_DONE;
		d->done = 1;
		return;
	}
	d->bare_crlf = 1;		/* the held-back CR is dropped */
	in_text(d, o, c);
}

static void
data_octet(struct smtp_data *d, struct data_out *o, unsigned char c)
{
	switch (d->state) {
	case DS_BOL:
		if (c == '.')
			d->state = DS_DOT;
		else
			in_text(d, o, c);
		break;
	case DS_TEXT:
		in_text(d, o, c);
		break;
	case DS_CR:
		in_cr(d, o, c);
		break;
	case DS_DOT:
		in_dot(d, o, c);
		break;
	case DS_DOT_CR:
		in_dot_cr(d, o, c);
		break;
	default:
		break;
	}
}

size_t
smtp_data_feed(struct smtp_data *d, const char *in, size_t len, char *out,
    size_t *outlen)
{
	struct data_out o = { out, 0 };
	size_t	i;

	for (i = 0; i < len && !d->done; i++)
		data_octet(d, &o, (unsigned char)in[i]);
	*outlen = o.n;
	return i;
}

/* The refusal the flags call for, in one order for DATA and BDAT. */
static const struct smtp_status *
text_error(int bare_crlf, int nul, int long_line)
{
	if (bare_crlf)
		return &st_bare;
	if (nul)
		return &st_nul;
	if (long_line)
		return &st_long;
	return NULL;
}

const struct smtp_status *
smtp_data_error(const struct smtp_data *d)
{
	if (d->too_big)
		return &st_too_big;
	return text_error(d->bare_crlf, d->nul, d->long_line);
}

void
smtp_text_init(struct smtp_text *t)
{
	memset(t, 0, sizeof(*t));
}

static void
text_octet(struct smtp_text *t, unsigned char c)
{
	if (t->cr && c != '\n')
		t->bare_crlf = 1;
	else if (!t->cr && c == '\n')
		t->bare_crlf = 1;
	if (c == '\0')
		t->nul = 1;
	line_octet(&t->line_len, &t->long_line);
	if (c == '\n')
		t->line_len = 0;
	t->cr = c == '\r';
}

void
smtp_text_feed(struct smtp_text *t, const char *in, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		text_octet(t, (unsigned char)in[i]);
}

const struct smtp_status *
smtp_text_error(const struct smtp_text *t)
{
	/* A CR as the very last octet has no LF: bare too. */
	return text_error(t->bare_crlf || t->cr, t->nul, t->long_line);
}

void
smtp_out_init(struct smtp_out *o, int stuff)
{
	o->stuff = stuff;
	o->bol = 1;
	o->cr = 0;
}

static size_t
out_put(char *out, size_t n, const char *s, size_t len)
{
	if (out != NULL)
		memcpy(out + n, s, len);
	return n + len;
}

size_t
smtp_out_feed(struct smtp_out *o, const char *in, size_t len, char *out)
{
	size_t	i, n = 0;
	int	after_cr;

	for (i = 0; i < len; i++) {
		after_cr = o->cr;
		o->cr = in[i] == '\r';
		if (in[i] == '\n' && after_cr)
			continue;	/* CRLF: already written at the CR */
		if (in[i] == '\r' || in[i] == '\n') {
			n = out_put(out, n, "\r\n", 2);
			o->bol = 1;
			continue;
		}
		if (o->bol && o->stuff && in[i] == '.')
			n = out_put(out, n, ".", 1);
		n = out_put(out, n, in + i, 1);
		o->bol = 0;
	}
	return n;
}
