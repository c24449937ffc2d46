/*
 * cli_msg.h - the message pinpost send reads from standard input, and
 * its header fields (cli_msg.c).
 *
 *	cli_msg_read()		read and normalize the message
 *	cli_msg_field()		walk the header fields
 *	cli_msg_field_is()	is a field of that name (case-blind)?
 *	cli_msg_cut()		remove a field (Bcc:)
 *	cli_msg_prepend()	add a field at the top (From:)
 *	cli_msg_free()
 */
#ifndef CLI_MSG_H
#define CLI_MSG_H

#include <stddef.h>
#include <stdio.h>

/* The message: lines end in CRLF, not dot-stuffed. */
struct cli_msg {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* the most octets read */
	int	 eightbit;	/* an octet over 127 */
};

/* A header field: [start, end) with its CRLFs; value at val. */
struct cli_field {
	size_t	start;
	size_t	end;
	size_t	name_len;
	size_t	val;
};

/* EX_OK, EX_DATAERR (line or message too long) or EX_IOERR. */
int	cli_msg_read(struct cli_msg *m, FILE *in, int dot_ends, char *err,
	    size_t errlen);
/* The next field of the header from *pos: 1, or 0 after the last. */
int	cli_msg_field(const struct cli_msg *m, size_t *pos,
	    struct cli_field *f);
int	cli_msg_field_is(const struct cli_msg *m, const struct cli_field *f,
	    const char *name);
void	cli_msg_cut(struct cli_msg *m, const struct cli_field *f);
/* Inserts text (with its CRLF) at the start; -1 out of memory. */
int	cli_msg_prepend(struct cli_msg *m, const char *text, size_t len);
void	cli_msg_free(struct cli_msg *m);

#endif
