/*
 * cli_addr.h - RFC 5322 address lists into bare addresses, for pinpost
 * send (cli_addr.c).
 *
 *	cli_addr_parse()	append the addresses of one address list
 *	cli_addr_one()		exactly one address, or none (<>)
 *	cli_addr_free()		free a set
 *
 * They return -1 with one line in err.
 */
#ifndef CLI_ADDR_H
#define CLI_ADDR_H

#include <stddef.h>

#include "smtp_cmd.h"

#define CLI_ADDR_MAX	(SMTP_PATH_MAX - 2)	/* without the brackets */

/* A set of addresses, without duplicates; at most max of them. */
struct cli_addrs {
	char	**v;
	size_t	 n;
	size_t	 cap;
	size_t	 max;
};

int	cli_addr_parse(struct cli_addrs *a, const char *s, size_t len,
	    char *err, size_t errlen);
/* Exactly one address, or none ("" or "<>": out gets ""). */
int	cli_addr_one(const char *s, char *out, size_t outlen, char *err,
	    size_t errlen);
void	cli_addr_free(struct cli_addrs *a);

#endif
