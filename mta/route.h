/*
 * route.h - where mail for a domain goes: a static route from the
 * `route` parameter, else the domain's MX hosts.
 *
 *	route_parse()	one `route` entry: "DOMAIN NEXTHOP [TLS_LEVEL]"
 *	route_lookup()	the route for a recipient domain among the entries
 *
 * route sits below conf: it takes the entries as an array of strings (a
 * struct conf_list's v and n), and conf_load() checks each `route` entry
 * with route_parse(), so conf depends on route and never the reverse.
 *
 * DOMAIN is a domain name or "*" (every domain without its own route: a
 * smarthost).  NEXTHOP is "[ADDR]:PORT" or "[HOST]:PORT" (that address or
 * host's addresses, no MX lookup; PORT defaults to relay_port), or a bare
 * "HOST" (the MX hosts of HOST, as for a domain).  TLS_LEVEL (none, may,
 * encrypt) overrides tls_level for the route.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>

#include "stsec.h"

struct route {
	char			domain[STSEC_NAME_MAX + 1];
	char			host[STSEC_NAME_MAX + 1];	/* no brackets */
	int			port;		/* 0: relay_port */
	int			mx;		/* look up MX of host */
	int			is_static;	/* from `route` */
	int			has_level;
	enum stsec_tls_level	level;
};

/* NULL on success, else what is wrong (for "FILE:LINE: route: ..."). */
const char *route_parse(const char *entry, struct route *r);
/*
 * The route of the first entry for domain (case-blind), else of the
 * first "*" entry, else the MX hosts of domain.  An entry route_parse()
 * refuses is skipped (conf_load() refused it first).
 */
void	route_lookup(char *const *entries, size_t n, const char *domain,
	    struct route *out);

#endif
