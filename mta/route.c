/*
 * route.c - static routes and the MX default; see route.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "route.h"

/* Copies the next space-separated word of *s into w; 0 when none. */
static size_t
next_word(const char **s, char *w, size_t wlen)
{
	const char *p = *s;
	size_t	n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	while (*p != '\0' && *p != ' ' && *p != '\t') {
		if (n + 1 < wlen)
			w[n] = (char)tolower((unsigned char)*p);
		n++;
		p++;
	}
	*s = p;
	if (n >= wlen)
		return (size_t)-1;
	w[n] = '\0';
	return n;
}

static const char *
parse_nexthop(const char *w, struct route *r)
{
	const char *close;
	char	*end;
	long	port;
	size_t	n;

	if (w[0] != '[') {
		if (strchr(w, ':') != NULL || strlen(w) >= sizeof(r->host))
			return "a bare next hop is a host name (MX lookup); "
			    "use [HOST]:PORT for a port";
		memcpy(r->host, w, strlen(w) + 1);	/* length checked */
		r->mx = 1;
		return NULL;
	}
	if ((close = strchr(w, ']')) == NULL || (n = (size_t)(close - w - 1))
	    == 0 || n >= sizeof(r->host))
		return "next hop is not [HOST] or [HOST]:PORT";
	memcpy(r->host, w + 1, n);
	r->host[n] = '\0';
	if (close[1] == '\0')
		return NULL;
	if (close[1] != ':')
		return "next hop is not [HOST] or [HOST]:PORT";
	port = strtol(close + 2, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return "bad port";
	r->port = (int)port;
	return NULL;
}

const char *
route_parse(const char *entry, struct route *r)
{
	char	w[STSEC_NAME_MAX + 8];
	const char *p = entry, *why;

	memset(r, 0, sizeof(*r));
	r->is_static = 1;
	if (next_word(&p, r->domain, sizeof(r->domain)) == 0 ||
	    next_word(&p, w, sizeof(w)) == 0)
		return "want DOMAIN NEXTHOP [TLS_LEVEL]";
	if (strcmp(r->domain, "*") != 0 &&
	    strspn(r->domain, "abcdefghijklmnopqrstuvwxyz0123456789.-_") !=
	    strlen(r->domain))
		return "DOMAIN is not a domain name or *";
	if ((why = parse_nexthop(w, r)) != NULL)
		return why;
	switch (next_word(&p, w, sizeof(w))) {
	case 0:
		return NULL;
	case (size_t)-1:
		return "bad TLS level";
	}
	if (stsec_tls_level_parse(w, &r->level) == -1)
		return "TLS level is none, may or encrypt";
	r->has_level = 1;
	if (next_word(&p, w, sizeof(w)) != 0)
		return "want DOMAIN NEXTHOP [TLS_LEVEL]";
	return NULL;
}

void
route_lookup(char *const *entries, size_t n, const char *domain,
    struct route *out)
{
	struct route r, any;
	size_t	i;
	int	have_any = 0;

	for (i = 0; i < n; i++) {
		if (route_parse(entries[i], &r) != NULL)
			continue;	/* conf_load checked them */
		if (strcasecmp(r.domain, domain) == 0) {
			*out = r;
			return;
		}
		if (!have_any && strcmp(r.domain, "*") == 0) {
			any = r;
			have_any = 1;
		}
	}
	if (have_any) {
		*out = any;
		return;
	}
	memset(out, 0, sizeof(*out));
	(void)snprintf(out->domain, sizeof(out->domain), "%s", domain);
	(void)snprintf(out->host, sizeof(out->host), "%s", domain);
	out->mx = 1;
}
