/*
 * smtp_data.h - the DATA body: streaming end-of-data detection and
 * dot-unstuffing (RFC 5321 4.1.1.4, 4.5.2), with the defences against
 * SMTP smuggling.  Pure: no I/O.
 *
 *	smtp_data_init()	before the first byte after "354"
 *	smtp_data_feed()	some received bytes; the message bytes out
 *	smtp_data_error()	after the end: the reply if the message must
 *				be refused, else NULL
 *	smtp_data_stuff()	the reverse, for a client: dot-stuffing
 *
 * End of data is CRLF "." CRLF and nothing else: "\n.\n", "\r.\r",
 * "\n.\r\n" and the like are not.  A bare CR or bare LF anywhere marks
 * the message to be refused (550 5.5.2) once its end is read, so the
 * session stays in sync and nothing ambiguous is ever passed on.  A line
 * over SMTP_TEXT_LINE_MAX octets (with CRLF) marks it 550 5.5.2 too, a
 * message over max_size 552 5.3.4; bytes past the limit are not output
 * but still read to the end.
 */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

struct smtp_status;

struct smtp_data {
	int		state;		/* private */
	size_t		line_len;	/* octets in the current line */
	uint64_t	size;		/* message octets output so far */
	uint64_t	max_size;	/* 0: no limit */
	int		bare_crlf;	/* a bare CR or LF was seen */
	int		long_line;
	int		too_big;
	int		done;		/* end of data read */
};

void	smtp_data_init(struct smtp_data *d, uint64_t max_size);
/*
 * Consumes up to len bytes of in; writes the unstuffed message (lines
 * with CRLF, the final CRLF "." CRLF removed but the CRLF ending the last
 * line kept) to out, which has room for at least len bytes; *outlen gets
 * the count.  Returns the number of input bytes consumed: all of them,
 * or fewer when the end of data was reached (d->done set; the rest of
 * the input is the next command, pipelined).
 */
size_t	smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
	    char *out, size_t *outlen);
const struct smtp_status *smtp_data_error(const struct smtp_data *d);

/*
 * Dot-stuffing for sending: copies in to out doubling a "." at the start
 * of a line; state carries across calls (init to 1: start of line).
 * out needs room for 2 * len.  Returns the bytes written.
 */
size_t	smtp_data_stuff(int *at_line_start, const char *in, size_t len,
	    char *out);

#endif
