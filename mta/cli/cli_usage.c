/*
 * cli_usage.c - the usage texts of pinpost and its commands (pinpost.1).
 *
 * DESCRIPTION
 *	One entry per command: its synopsis, printed on stderr after a
 *	usage error, and what --help adds to it on stdout (the options and
 *	what the command does).  The entry named NULL is pinpost itself,
 *	"sendmail" is sendmail mode.  Keep both true to pinpost.1.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct cli_usage_text {
	const char	*cmd;		/* NULL: pinpost itself */
	const char	*synopsis;
	const char	*more;		/* --help only */
};

static const struct cli_usage_text cli_usage_texts[] = {
	{ NULL,
	    "usage: pinpost [-s store] command [args...]\n"
	    "       pinpost [command] --help\n"
	    "commands:\n"
	    "  pin FILE...                the SPKI pin of a certificate, key "
	    "or CSR\n"
	    "  pins list|show|forget|add|export|import\n"
	    "                             the pin/policy store\n"
	    "  check [-f config]          pinpostd's configuration and PKP "
	    "self-check\n"
	    "  probe [options] DESTINATION\n"
	    "                             a server's TLS, pins, PKP/STSEC and "
	    "the verdict\n"
	    "                             the delivery client would reach\n"
	    "  queue [-f config] list|show ID|delete ID|flush [ID]\n"
	    "                             the mail queue\n"
	    "  send [options] [rcpt...]   submit a message from stdin over "
	    "SMTP\n"
	    "  policyd [options] unix:PATH|inet:ADDR:PORT\n"
	    "                             TLS policy for Postfix (socketmap)\n",
	    "options:\n"
	    "  -s store     the pin/policy store; default $PINPOST_STORE, "
	    "else\n"
	    "               " CLI_STORE_DEFAULT "\n"
	    "  -h, --help   this text; pinpost COMMAND --help: that command's "
	    "usage\n"
	    "Called as \"sendmail\" (a link to pinpost), pinpost is sendmail "
	    "(sendmail --help).\n"
	    "See pinpost(1).\n" },
	{ "pin",
	    "usage: pinpost pin FILE...\n",
	    "Prints the SPKI SHA-256 pin, in base64, of the first certificate, "
	    "public key,\n"
	    "unencrypted private key or CSR in each PEM file; with several "
	    "files each\n"
	    "line is \"FILE PIN\".\n" },
	{ "pins",
	    "usage: pinpost [-s store] pins list\n"
	    "       pinpost [-s store] pins show NAME\n"
	    "       pinpost [-s store] pins forget NAME\n"
	    "       pinpost [-s store] pins add HOST [--pin B64]... "
	    "[--max-age N] [--stsec N]\n"
	    "       pinpost [-s store] pins export [FILE]\n"
	    "       pinpost [-s store] pins import [FILE]\n",
	    "  list         every host and domain record, one line each\n"
	    "  show NAME    every field of the host and domain record NAME\n"
	    "  forget NAME  remove the host and domain record NAME\n"
	    "  add HOST     set the pin set (--pin, once per pin, with "
	    "--max-age in\n"
	    "               seconds; --max-age 0 removes the pins) and/or the "
	    "STSEC\n"
	    "               lifetime (--stsec, seconds; 0 removes it)\n"
	    "  export       the whole store as JSON (to stdout by default)\n"
	    "  import       such JSON (from stdin by default), checked whole "
	    "before\n"
	    "               anything is written\n"
	    "The store: -s, else $PINPOST_STORE, else " CLI_STORE_DEFAULT ".\n" },
	{ "check",
	    "usage: pinpost check [-f config]\n",
	    "Checks a pinpostd configuration (default " CLI_CONF_DEFAULT "):\n"
	    "it loads, the certificate and key load, and the PKP self-check "
	    "passes or\n"
	    "says why not; the same verdict as pinpostd -n.  Exit 0 when the\n"
	    "configuration is usable, 1 when it is not.\n" },
	{ "probe",
	    "usage: pinpost probe [-v] [-f config] [-s store] [-a] [--early] "
	    "[--json] [--learn]\n"
	    "           [--implicit] [--port N] [--timeout SECS] "
	    "[--resolver ADDR[@PORT]] DESTINATION\n",
	    "DESTINATION is a domain (its MX hosts), [host] or [host]:port.\n"
	    "  -a              every host, not only the first that answers\n"
	    "  --early         STARTTLS right after the greeting\n"
	    "  --json          one JSON object per host instead of text\n"
	    "  --learn         note what the EHLO inside TLS says into the "
	    "store\n"
	    "  --implicit      TLS from the first byte (port 465 style)\n"
	    "  --port N        the port for MX hosts (default relay_port)\n"
	    "  --timeout SECS  the connect and reply timeout\n"
	    "  --resolver ADDR[@PORT]  the DNS resolver (default "
	    "dns_resolver)\n"
	    "  -f config       the configuration (default " CLI_CONF_DEFAULT
	    " if it exists)\n"
	    "  -s store        the store (default: the configuration's)\n"
	    "  -v              also print the delivery client's log lines\n"
	    "Exit 0 when a host was probed, 1 on a DNS, connection or TLS "
	    "failure.\n" },
	{ "queue",
	    "usage: pinpost queue [-f config] list\n"
	    "       pinpost queue [-f config] show ID\n"
	    "       pinpost queue [-f config] delete ID\n"
	    "       pinpost queue [-f config] flush [ID]\n",
	    "  list         one line per queued message, per-recipient state\n"
	    "  show ID      the envelope and the message's header\n"
	    "  delete ID    remove the message, without a bounce\n"
	    "  flush [ID]   ask the running pinpostd to retry it (or every "
	    "message) now\n"
	    "  -f config    for spool_dir (default " CLI_CONF_DEFAULT ")\n" },
	{ "send",
	    "usage: pinpost send [-f config] [-S host:port] [-F sender] [-t] "
	    "[-i|-oi] [rcpt...]\n",
	    "Submits a message from stdin over SMTP to the local pinpostd.\n"
	    "  -f config     the configuration (default " CLI_CONF_DEFAULT ")\n"
	    "  -S host:port  the server instead of the first listen address\n"
	    "  -F sender     the envelope sender (default user@myhostname; '' "
	    "or '<>':\n"
	    "                the null sender)\n"
	    "  -t            also take the recipients from To:, Cc: and Bcc:\n"
	    "  -i, -oi       a line holding only a dot does not end the input\n"
	    "Exit status: sysexits.h codes (64 usage, 69 refused, 75 try again "
	    "later, ...).\n" },
	{ "policyd",
	    "usage: pinpost [-s store] policyd [-v] [-n name] [-c max] "
	    "unix:PATH|inet:ADDR:PORT\n",
	    "A socketmap server giving Postfix's smtp_tls_policy_maps the "
	    "store's TLS\n"
	    "policy; runs in the foreground until SIGTERM or SIGINT.\n"
	    "  -n name   the map name (default pinpost)\n"
	    "  -c max    the most open connections (default 64)\n"
	    "  -v        log one line per lookup (stderr)\n" },
	{ "sendmail",
	    "usage: sendmail [-t] [-i] [-oi] [-f sender] [-F fullname] "
	    "[-C config] [-bm] [-odi] [-odb] [rcpt...]\n",
	    "pinpost called as \"sendmail\": pinpost send with sendmail's "
	    "options.\n"
	    "  -t            also take the recipients from To:, Cc: and Bcc:\n"
	    "  -i, -oi       a line holding only a dot does not end the input\n"
	    "  -f sender     the envelope sender (also -r)\n"
	    "  -F fullname   the name in an added From: field\n"
	    "  -C config     the configuration (default " CLI_CONF_DEFAULT ")\n"
	    "  -bm, -odi, -odb  accepted; the message is always handed to "
	    "pinpostd at once\n"
	    "Exit status: sysexits.h codes (64 usage, 69 refused, 75 try again "
	    "later, ...).\n" },
};

static const struct cli_usage_text *
usage_find(const char *cmd)
{
	size_t	i;

	for (i = 1; i < sizeof(cli_usage_texts) / sizeof(*cli_usage_texts);
	    i++)
		if (cmd != NULL && strcmp(cmd, cli_usage_texts[i].cmd) == 0)
			return &cli_usage_texts[i];
	return &cli_usage_texts[0];
}

int
cli_usage(const char *cmd)
{
	(void)fputs(usage_find(cmd)->synopsis, stderr);
	return CLI_USAGE;
}

int
cli_help(const char *cmd)
{
	const struct cli_usage_text *u = usage_find(cmd);

	if (fputs(u->synopsis, stdout) == EOF || fputs(u->more, stdout) == EOF ||
	    fflush(stdout) == EOF)
		return cli_err("--help: cannot write to stdout");
	return CLI_OK;
}

int
cli_wants_help(int argc, char **argv)
{
	int	i;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}
