/*
 * cli.h - the pinpost command line: shared declarations.
 *
 *	cli_pin_main()		pinpost pin FILE...
 *	cli_pins_main()		pinpost pins list|show|forget|add|export|import
 *	cli_check_main()	pinpost check [-f config]
 *	cli_err()		"pinpost: message" on stderr; returns CLI_FAIL
 *	cli_store_path()	-s, else $PINPOST_STORE, else the default
 *	cli_time_str()		a time as ISO 8601 UTC
 */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>

#define CLI_OK		0
#define CLI_FAIL	1	/* the command failed; a message says why */
#define CLI_USAGE	2	/* bad command line */

#define CLI_STORE_DEFAULT	"/var/lib/pinpost/pins.tdb"

struct cli {
	const char	*store_path;	/* -s; NULL: environment or default */
};

int	cli_pin_main(struct cli *cli, int argc, char **argv);
int	cli_pins_main(struct cli *cli, int argc, char **argv);
int	cli_check_main(struct cli *cli, int argc, char **argv);

int	cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *cli_store_path(const struct cli *cli);
/* buf of at least 32 bytes. */
const char *cli_time_str(int64_t t, char *buf, size_t len);

#endif
