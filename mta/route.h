/*
 * route.h - where mail for a domain goes: a static route from the
 * `route` parameter, else the domain's MX hosts.
 *
 *	route_parse()	one `route` entry: "DOMAIN NEXTHOP [TLS_LEVEL]"
 *	route_for()	the route for a recipient domain
 *
 * DOMAIN is a domain name or "*" (every domain without its own route: a
 * smarthost).  NEXTHOP is "[ADDR]:PORT" or "[HOST]:PORT" (that address or
 * host's addresses, no MX lookup; PORT defaults to relay_port), or a bare
 * "HOST" (the MX hosts of HOST, as for a domain).  TLS_LEVEL (none, may,
 * encrypt) overrides tls_level for the route.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include "stsec.h"

struct conf;

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
void	route_for(const struct conf *c, const char *domain, struct route *out);

#endif
