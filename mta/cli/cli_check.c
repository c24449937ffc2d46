/*
 * cli_check.c - pinpost check [-f config]
 *
 *	The same verdict as pinpostd -n: the configuration loads, the
 *	certificate and key load, and whether PKP passes the self-check.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cli.h"

int
cli_check_main(struct cli *cli, int argc, char **argv)
{
	const char *path = CLI_CONF_DEFAULT;

	(void)cli;
	if (argc == 3 && strcmp(argv[1], "-f") == 0)
		path = argv[2];
	else if (argc != 1)
		return cli_usage("check");
	return check_config(path, stdout, stderr) == 0 ? CLI_OK : CLI_FAIL;
}
