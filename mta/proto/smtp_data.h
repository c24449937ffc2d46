/*
 * smtp_data.h - the DATA body: streaming end-of-data detection and
 * dot-unstuffing (RFC 5321 4.1.1.4, 4.5.2), with the defences against
 * SMTP smuggling.  Pure: no I/O.
 *
 *	smtp_data_init()	before the first byte after "354"
 *	smtp_data_feed()	some received bytes; the message bytes out
 *	smtp_data_error()	after the end: the reply if the message must
 *				be refused, else NULL
 *	smtp_out_init(), smtp_out_feed()
 *				the reverse, for a client: line ends made
 *				CRLF, and dot-stuffing for DATA
 *	smtp_text_init(), smtp_text_feed(), smtp_text_error()
 *				the same checks for a BDAT body, which has
 *				no dots and no end marker
 *
 * End of data is CRLF "." CRLF and nothing else: "\n.\n", "\r.\r",
 * "\n.\r\n" and the like are not.  A bare CR or bare LF anywhere marks
 * the message to be refused (550 5.5.2) once its end is read, so the
 * session stays in sync and nothing ambiguous is ever passed on; so does
 * a NUL octet (550 5.6.0: RFC 5322 and RFC 6152 forbid it and BINARYMIME
 * is not offered).  A line
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
	int		nul;		/* a NUL octet was seen */
	int		long_line;
	int		too_big;
	int		done;		/* end of data read */
};

/* A BDAT body, chunk after chunk: the checks of DATA without the dots. */
struct smtp_text {
	size_t		line_len;
	int		cr;		/* the last octet was CR */
	int		bare_crlf;
	int		nul;
	int		long_line;
};

/* What a client sends: every line end CRLF; dots stuffed for DATA. */
struct smtp_out {
	int		stuff;		/* DATA: double a leading "." */
	int		bol;		/* at the start of a line */
	int		cr;		/* the last input octet was CR */
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

void	smtp_text_init(struct smtp_text *t);
void	smtp_text_feed(struct smtp_text *t, const char *in, size_t len);
/* After the last chunk: the reply if the message must be refused. */
const struct smtp_status *smtp_text_error(const struct smtp_text *t);

/*
 * For sending: copies in to out making every line end CRLF (a bare LF
 * or a bare CR becomes CRLF, so no receiver can read a line end other
 * than the sender meant: SMTP smuggling) and, with stuff, doubling a "."
 * at the start of a line.  State carries across calls.  out needs room
 * for 2 * len; out may be NULL to count only.  Returns the bytes written.
 * After the last byte, o->bol tells whether the output ends a line.
 */
void	smtp_out_init(struct smtp_out *o, int stuff);
size_t	smtp_out_feed(struct smtp_out *o, const char *in, size_t len,
	    char *out);

#endif
