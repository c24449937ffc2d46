/*
 * cli.c - what every pinpost command shares: messages, the store's path,
 * times.  Below the commands and the dispatcher (pinpost.c), which only
 * dispatches.
 *
 * SYNOPSIS
 *	#include "cli.h"
 *
 *	void	cli_set_progname(const char *name);
 *	int	cli_err(const char *fmt, ...);
 *	const char *cli_store_path(const struct cli *cli);
 *	const char *cli_time_str(int64_t t, char *buf, size_t len);
 *
 * DESCRIPTION
 *	cli_err() writes "pinpost: message" on stderr, or the name that
 *	cli_set_progname() gave ("sendmail" in sendmail mode), and returns
 *	CLI_FAIL.  cli_store_path() is -s, else $PINPOST_STORE when not
 *	empty, else CLI_STORE_DEFAULT.  cli_time_str() is ISO 8601 UTC
 *	("2024-01-02T03:04:05Z"), or "@SECONDS" for a time gmtime() cannot
 *	take.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"

static const char *cli_progname = "pinpost";

void
cli_set_progname(const char *name)
{
	cli_progname = name;
}

int
cli_err(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", cli_progname);
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
