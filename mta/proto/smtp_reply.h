/*
 * smtp_reply.h - SMTP replies: formatting for the server, parsing for the
 * client (RFC 5321 section 4.2).  Pure: no I/O.
 *
 *	smtp_reply_format()	code + lines into "250-a\r\n250 b\r\n"
 *	smtp_reply_init()	start reading one (multi-line) reply
 *	smtp_reply_feed()	one received line; says when the reply ends
 *	smtp_reply_text()	the text of line i, after "NNN-"/"NNN "
 */
#ifndef SMTP_REPLY_H
#define SMTP_REPLY_H

#include <stddef.h>

#define SMTP_REPLY_LINE_MAX	512	/* with CRLF, RFC 5321 4.5.3.1.5 */
#define SMTP_REPLY_LINES_MAX	64	/* lines kept of one reply */

/*
 * Writes one reply of n text lines into buf: every line "CODE-" but the
 * last "CODE ", each ending in CRLF; when enh is not NULL each line's
 * text starts with "ENH ".  Returns the length, or -1 if it does not fit
 * or a line would exceed SMTP_REPLY_LINE_MAX or holds CR or LF.
 */
int	smtp_reply_format(char *buf, size_t len, int code, const char *enh,
	    const char *const *lines, size_t n);

struct smtp_reply {
	int	code;			/* 0 until the first line */
	size_t	nlines;
	int	done;			/* the last line ("NNN ") was read */
	char	line[SMTP_REPLY_LINES_MAX][SMTP_REPLY_LINE_MAX];
	size_t	dropped;		/* lines past SMTP_REPLY_LINES_MAX */
};

void	smtp_reply_init(struct smtp_reply *r);
/*
 * One received line without CRLF.  Returns 1 when the reply is complete,
 * 0 when more lines follow, -1 on a malformed line (no 3-digit code,
 * code not 2xx-5xx, code differs from the first line, separator other
 * than '-' or ' ' or end of line, line too long): a protocol error.
 */
int	smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len);
/* Text of line i after the code and separator (may be ""). */
const char *smtp_reply_text(const struct smtp_reply *r, size_t i);

#endif
