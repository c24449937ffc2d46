/*
 * cli_send.h - pinpost send and sendmail mode: the submission of one
 * message (cli_send.c), built of cli_addr.h, cli_msg.h and cli_smtp.h.
 *
 *	cli_send_run()		submit one message
 *
 * It returns an exit status of sysexits.h.
 */
#ifndef CLI_SEND_H
#define CLI_SEND_H

#include <stddef.h>

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

#endif
