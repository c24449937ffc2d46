/*
 * cli_smtp.h - a small blocking SMTP client for pinpost send
 * (cli_smtp.c).
 *
 *	cli_smtp_connect()	resolve HOST:PORT or [ADDR]:PORT, connect
 *	cli_smtp_read_reply()	one reply into c->reply (smtp_reply.h)
 *	cli_smtp_write()	bytes out
 *	cli_smtp_command()	a command line, then its reply
 *	cli_smtp_data()		the message, dot-stuffed, and "." CRLF
 *	cli_smtp_close()
 *
 * Functions returning an exit status use sysexits.h; the reason of a
 * failure is one line in c->err.
 */
#ifndef CLI_SMTP_H
#define CLI_SMTP_H

#include <stddef.h>

#include "smtp_reply.h"

#define CLI_SMTP_ERR_MAX 512

struct cli_smtp {
	int		 fd;
	char		 peer[280];	/* host:port, for messages */
	int		 timeout;	/* seconds per read or write */
	size_t		 rpos;
	size_t		 rlen;
	char		 rbuf[4096];
	struct smtp_reply reply;	/* the last reply read */
	char		 err[CLI_SMTP_ERR_MAX];
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
