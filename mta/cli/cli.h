/*
 * cli.h - the pinpost command line: what its files share.  The floor
 * below the commands: cli.c and cli_usage.c implement it, the commands
 * use it, and pinpost.c (the dispatcher, above them all) only
 * dispatches.
 *
 * The commands' entry points, defined each in its command's file and
 * called only by pinpost.c (declared here so that each file sees its
 * own prototype):
 *	cli_pin_main()		pinpost pin FILE...
 *	cli_pins_main()		pinpost pins list|show|forget|add|export|import
 *	cli_check_main()	pinpost check [-f config]
 *	cli_probe_main()	pinpost probe [options] DESTINATION
 *	cli_queue_main()	pinpost queue [-f config] list|show|delete|flush
 *	cli_policyd_main()	pinpost policyd: socketmap server for Postfix's
 *				smtp_tls_policy_maps
 *	cli_send_main()		pinpost send [-f config] [-S host:port] ...
 *	cli_sendmail_main()	run as "sendmail": sendmail's options
 *
 * Usage texts (cli_usage.c):
 *	cli_usage()		a command's synopsis on stderr; returns
 *				CLI_USAGE
 *	cli_help()		--help: its synopsis and options on stdout
 *	cli_wants_help()	whether --help is among the arguments
 *
 * Helpers (cli.c):
 *	cli_set_progname()	the name cli_err() writes ("sendmail" in
 *				sendmail mode; "pinpost" by default)
 *	cli_err()		"pinpost: message" on stderr; returns CLI_FAIL
 *	cli_store_path()	-s, else $PINPOST_STORE, else the default
 *	cli_time_str()		a time as ISO 8601 UTC
 */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdint.h>

#define CLI_OK		0
#define CLI_FAIL	1	/* the command failed; a message says why */
#define CLI_USAGE	2	/* bad command line */

#define CLI_STORE_DEFAULT	"/var/lib/pinpost/pins.tdb"
#define CLI_CONF_DEFAULT	"/etc/pinpost/pinpost.conf"

struct cli {
	const char	*store_path;	/* -s; NULL: environment or default */
};

int	cli_pin_main(struct cli *cli, int argc, char **argv);
int	cli_pins_main(struct cli *cli, int argc, char **argv);
int	cli_check_main(struct cli *cli, int argc, char **argv);
int	cli_probe_main(struct cli *cli, int argc, char **argv);
int	cli_queue_main(struct cli *cli, int argc, char **argv);
int	cli_policyd_main(struct cli *cli, int argc, char **argv);
/* These two exit with sysexits.h codes (EX_USAGE, EX_TEMPFAIL, ...). */
int	cli_send_main(struct cli *cli, int argc, char **argv);
int	cli_sendmail_main(int argc, char **argv);

/* cmd: a command's name, "sendmail", or NULL for pinpost itself. */
int	cli_usage(const char *cmd);
/* CLI_OK, or CLI_FAIL when stdout cannot be written. */
int	cli_help(const char *cmd);
/* 1 when an argument before any "--" is "--help". */
int	cli_wants_help(int argc, char **argv);

void	cli_set_progname(const char *name);
int	cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *cli_store_path(const struct cli *cli);
/* buf of at least 32 bytes. */
const char *cli_time_str(int64_t t, char *buf, size_t len);

#endif
