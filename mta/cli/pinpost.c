/*
 * pinpost.c - the pinpost command: dispatch only (what the commands
 * share is in cli.c, their usage texts in cli_usage.c).
 *
 * SYNOPSIS
 *	pinpost [-s store] command [args...]
 *	sendmail [options] [rcpt...]	(a link to pinpost)
 *
 * DESCRIPTION
 *	A table maps each command to its main function.  Exit status: 0 on
 *	success, 1 when the command failed (a one-line message on stderr
 *	names the file or record and the problem), 2 on a usage error;
 *	send, and sendmail mode, exit with sysexits.h codes instead.
 *	Called by a name whose last component is "sendmail", pinpost is
 *	sendmail (cli_sendmail.c).  --help (or -h before the command)
 *	prints the usage on stdout and exits 0: pinpost's, or that of the
 *	command among whose arguments it is (cli_usage.c).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct cli_cmd {
	const char	*name;
	int		(*main)(struct cli *, int, char **);
};

/* Their usage texts are in cli_usage.c. */
static const struct cli_cmd cli_cmds[] = {
	{ "pin", cli_pin_main },
	{ "pins", cli_pins_main },
	{ "check", cli_check_main },
	{ "probe", cli_probe_main },
	{ "queue", cli_queue_main },
	{ "policyd", cli_policyd_main },
	{ "send", cli_send_main },
};

/* --help among pinpost's own options (before the command). */
static int
top_help(int argc, char **argv)
{
	int	i;

	for (i = 1; i < argc && argv[i][0] == '-' &&
	    strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0)
			return 1;
		if (strcmp(argv[i], "-s") == 0)
			i++;	/* its value */
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct cli cli = { NULL };
	const char *base;
	size_t	i;
	int	ch;

	base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	base = base != NULL ? base + 1 : argc > 0 ? argv[0] : "";
	if (strcmp(base, "sendmail") == 0) {
		cli_set_progname("sendmail");
		if (argc > 1 && cli_wants_help(argc - 1, argv + 1))
			return cli_help("sendmail");
		return cli_sendmail_main(argc, argv);
	}
	if (top_help(argc, argv))
		return cli_help(NULL);
	while ((ch = getopt(argc, argv, "+s:h")) != -1) {
		switch (ch) {
		case 's':
			cli.store_path = optarg;
			break;
		case 'h':
			return cli_help(NULL);
		default:
			return cli_usage(NULL);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cli_usage(NULL);
	for (i = 0; i < sizeof(cli_cmds) / sizeof(*cli_cmds); i++) {
		if (strcmp(argv[0], cli_cmds[i].name) != 0)
			continue;
		if (cli_wants_help(argc - 1, argv + 1))
			return cli_help(argv[0]);
		optind = 1;	/* commands parse their own options */
		return cli_cmds[i].main(&cli, argc, argv);
	}
	cli_err("unknown command: %s", argv[0]);
	return cli_usage(NULL);
}
