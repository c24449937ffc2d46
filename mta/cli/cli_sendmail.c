/*
 * cli_sendmail.c - sendmail compatibility: run as "sendmail" (a link
 * to pinpost), pinpost behaves as pinpost send with sendmail's options.
 *
 * SYNOPSIS
 *	sendmail [-t] [-i] [-oi] [-f sender] [-r sender] [-F fullname]
 *	    [-C config] [-bm] [-odi] [-odb] [rcpt...]
 *
 * DESCRIPTION
 *	-f (and its old synonym -r) is the envelope sender here, not the
 *	configuration, which is -C.  -F names the sender in the From: field
 *	that is added when the message has none.  -bm (deliver mail, the
 *	default), -odi and -odb (delivery mode) are accepted and change
 *	nothing: the message is always handed to pinpostd at once.  Any
 *	other option is a usage error (EX_USAGE), never silently ignored.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "cli_send.h"

static int
sm_usage(void)
{
	(void)cli_usage("sendmail");
	return EX_USAGE;
}

/* -oVALUE: i, di or db. */
static int
sm_option(struct cli_send_opts *o, const char *v)
{
	if (strcmp(v, "i") == 0) {
		o->dot_ends = 0;
		return 0;
	}
	if (strcmp(v, "di") == 0 || strcmp(v, "db") == 0)
		return 0;
	fprintf(stderr, "sendmail: unsupported option -o%s\n", v);
	return -1;
}

/* -bVALUE: only m. */
static int
sm_mode(const char *v)
{
	if (strcmp(v, "m") == 0)
		return 0;
	fprintf(stderr, "sendmail: unsupported mode -b%s\n", v);
	return -1;
}

int
cli_sendmail_main(int argc, char **argv)
{
	struct cli_send_opts o = { CLI_CONF_DEFAULT, NULL, NULL, NULL, 0, 1,
	    NULL, 0 };
	int	ch;

	while ((ch = getopt(argc, argv, "tiC:f:r:F:o:b:")) != -1) {
		switch (ch) {
		case 't':
			o.extract = 1;
			break;
		case 'i':
			o.dot_ends = 0;
			break;
		case 'C':
			o.conf_path = optarg;
			break;
		case 'f':
		case 'r':
			o.sender = optarg;
			break;
		case 'F':
			o.fullname = optarg;
			break;
		case 'o':
			if (sm_option(&o, optarg) == -1)
				return sm_usage();
			break;
		case 'b':
			if (sm_mode(optarg) == -1)
				return sm_usage();
			break;
		default:
			return sm_usage();
		}
	}
	o.rcpt = argv + optind;
	o.nrcpt = (size_t)(argc - optind);
	if (!o.extract && o.nrcpt == 0)
		return sm_usage();
	return cli_send_run(&o);
}
