/*
 * smtp_data.c - the DATA body: end of data, dot-unstuffing and the SMTP
 * smuggling defences (RFC 5321 4.1.1.4, 4.5.2), one octet at a time.
 *
 * FUNCTIONS
 *	smtp_data_init()	before the first byte after "354"
 *	smtp_data_feed()	some received bytes; the message bytes out
 *	smtp_data_error()	after the end: the reply if the message must
 *				be refused, else NULL
 *	smtp_data_stuff()	the reverse, for a client: dot-stuffing
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
 *	smtp_data_stuff() doubles a "." after every LF, bare or not, so a
 *	server that takes LF for an end of line cannot be fooled either.
 *
 * DIAGNOSTICS
 *	552 5.3.4 Message too big
 *	550 5.5.2 Message contains bare CR or LF (see SMTP smuggling)
 *	550 5.5.2 Message has a line longer than 998 octets
 */
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

void
smtp_data_init(struct smtp_data *d, uint64_t max_size)
{
	d->state = DS_BOL;
	d->line_len = 0;
	d->size = 0;
	d->max_size = max_size;
	d->bare_crlf = 0;
	d->long_line = 0;
	d->too_big = 0;
	d->done = 0;
}

/* One octet of the message, counted against the line and size limits. */
static void
emit(struct smtp_data *d, struct data_out *o, unsigned char c)
{
	if (d->line_len <= SMTP_TEXT_LINE_MAX)
		d->line_len++;
	if (d->line_len > SMTP_TEXT_LINE_MAX)
		d->long_line = 1;
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

const struct smtp_status *
smtp_data_error(const struct smtp_data *d)
{
	if (d->too_big)
		return &st_too_big;
	if (d->bare_crlf)
		return &st_bare;
	if (d->long_line)
		return &st_long;
	return NULL;
}

size_t
smtp_data_stuff(int *at_line_start, const char *in, size_t len, char *out)
{
	size_t	i, n = 0;

	for (i = 0; i < len; i++) {
		if (*at_line_start && in[i] == '.')
			out[n++] = '.';
		out[n++] = in[i];
		*at_line_start = in[i] == '\n';
	}
	return n;
}
