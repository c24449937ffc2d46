/*
 * pinpost.c - the pinpost command: dispatch and shared helpers.
 *
 * SYNOPSIS
 *	pinpost [-s store] command [args...]
 *
 * DESCRIPTION
 *	A table maps each command to its main function.  Exit status: 0 on
 *	success, 1 when the command failed (a one-line message on stderr
 *	names the file or record and the problem), 2 on a usage error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct cli_cmd {
	const char	*name;
	int		(*main)(struct cli *, int, char **);
	const char	*usage;
};

static const struct cli_cmd cli_cmds[] = {
	{ "pin", cli_pin_main, "pin FILE...              print the SPKI pin "
	    "of a certificate, key or CSR" },
	{ "pins", cli_pins_main, "pins list|show|forget|add|export|import  "
	    "the pin/policy store" },
	{ "check", cli_check_main, "check [-f config]        check pinpostd's "
	    "configuration and PKP self-check" },
};

static int
usage(void)
{
	size_t	i;

	fprintf(stderr, "usage: pinpost [-s store] command [args...]\n");
	for (i = 0; i < sizeof(cli_cmds) / sizeof(*cli_cmds); i++)
		fprintf(stderr, "       pinpost %s\n", cli_cmds[i].usage);
	return CLI_USAGE;
}

int
cli_err(const char *fmt, ...)
{
	va_list	ap;

	fputs("pinpost: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

const char *
cli_store_path(const struct cli *cli)
{
	const char *env;

	if (cli->store_path != NULL)
		return cli->store_path;
	env = getenv("PINPOST_STORE");
	if (env != NULL && *env != '\0')
		return env;
	return CLI_STORE_DEFAULT;
}

const char *
cli_time_str(int64_t t, char *buf, size_t len)
{
	time_t	tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, len, "@%lld", (long long)t);
	return buf;
}

int
main(int argc, char **argv)
{
	struct cli cli = { NULL };
	size_t	i;
	int	ch;

	while ((ch = getopt(argc, argv, "+s:h")) != -1) {
		switch (ch) {
		case 's':
			cli.store_path = optarg;
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage();
	for (i = 0; i < sizeof(cli_cmds) / sizeof(*cli_cmds); i++) {
		if (strcmp(argv[0], cli_cmds[i].name) == 0) {
			optind = 1;	/* commands parse their own options */
			return cli_cmds[i].main(&cli, argc, argv);
		}
	}
	cli_err("unknown command: %s", argv[0]);
	return usage();
}
