/*
 * cli_send.h - pinpost send and sendmail mode: what their files share.
 *
 *	cli_send_run()		submit one message (cli_send.c)
 *	cli_addr_*()		address lists (cli_addr.c)
 *	cli_msg_*()		the message read from stdin (cli_msg.c)
 *	cli_smtp_*()		a blocking SMTP client (cli_smtp.c)
 *
 * Functions returning an exit status use sysexits.h; others return -1
 * with one line in err.
 */
#ifndef CLI_SEND_H
#define CLI_SEND_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "smtp_cmd.h"
#include "smtp_reply.h"

#define CLI_ADDR_MAX	(SMTP_PATH_MAX - 2)	/* without the brackets */
#define CLI_SEND_ERR_MAX 512

/* What pinpost send and sendmail mode ask for. */
struct cli_send_opts {
	const char	*conf_path;
	const char	*server;	/* host:port; NULL: the first listen */
	const char	*sender;	/* NULL: user@myhostname */
	const char	*fullname;	/* for an added From:; may be NULL */
	int		 extract;	/* -t */
	int		 dot_ends;	/* no -i: a "." line ends the input */
	char		**rcpt;		/* command-line recipients */
	size_t		 nrcpt;
};

int	cli_send_run(const struct cli_send_opts *o);

/* A set of addresses, without duplicates; at most max of them. */
struct cli_addrs {
	char	**v;
	size_t	 n;
	size_t	 cap;
	size_t	 max;
};

int	cli_addr_parse(struct cli_addrs *a, const char *s, size_t len,
	    char *err, size_t errlen);
/* Exactly one address, or none ("" or "<>": out gets ""). */
int	cli_addr_one(const char *s, char *out, size_t outlen, char *err,
	    size_t errlen);
void	cli_addr_free(struct cli_addrs *a);

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

struct cli_smtp {
	int		 fd;
	char		 peer[280];	/* host:port, for messages */
	int		 timeout;	/* seconds per read or write */
	size_t		 rpos;
	size_t		 rlen;
	char		 rbuf[4096];
	struct smtp_reply reply;	/* the last reply read */
	char		 err[CLI_SEND_ERR_MAX];
};

/* EX_OK, EX_USAGE (bad host:port), EX_NOHOST or EX_TEMPFAIL. */
int	cli_smtp_connect(struct cli_smtp *c, const char *hostport,
	    int connect_timeout, int timeout);
/* EX_OK, EX_TEMPFAIL (I/O, timeout) or EX_PROTOCOL (bad reply). */
int	cli_smtp_read_reply(struct cli_smtp *c);
int	cli_smtp_write(struct cli_smtp *c, const void *buf, size_t len);
/* One command line (CRLF added), then its reply. */
int	cli_smtp_command(struct cli_smtp *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* The message dot-stuffed, then "." CRLF. */
int	cli_smtp_data(struct cli_smtp *c, const char *buf, size_t len);
void	cli_smtp_close(struct cli_smtp *c);

#endif
