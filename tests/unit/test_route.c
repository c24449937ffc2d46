/*
 * test_route.c - static routes and the MX default (mta/route.c).
 *
 *	parse		a table of `route` entries: the route each gives, or
 *			that it is refused
 *	lookup		the entry for a domain (case-blind, first wins), the
 *			"*" entry, the MX default, refused entries skipped
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "route.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* parse								*/

static const struct parse_case {
	const char	*entry;
	int		 ok;
	const char	*domain, *host;
	int		 port, mx, has_level;
	enum stsec_tls_level level;
} parse_cases[] = {
	{ "example.com [192.0.2.1]:2525", 1, "example.com", "192.0.2.1",
	    2525, 0, 0, STSEC_TLS_NONE },
	{ "example.com [mx.example.net]", 1, "example.com", "mx.example.net",
	    0, 0, 0, STSEC_TLS_NONE },
	{ "example.com relay.example.net", 1, "example.com",
	    "relay.example.net", 0, 1, 0, STSEC_TLS_NONE },
	{ "* [::1]:25 encrypt", 1, "*", "::1", 25, 0, 1, STSEC_TLS_ENCRYPT },
	{ "Example.COM [192.0.2.1]:25 MAY", 1, "example.com", "192.0.2.1",
	    25, 0, 1, STSEC_TLS_MAY },
	{ "  a.example\t[192.0.2.1]:1  none  ", 1, "a.example", "192.0.2.1",
	    1, 0, 1, STSEC_TLS_NONE },
	{ "", 0, NULL, NULL, 0, 0, 0, STSEC_TLS_NONE },
	{ "example.com", 0, NULL, NULL, 0, 0, 0, STSEC_TLS_NONE },
	{ "exa$mple.com [192.0.2.1]", 0, NULL, NULL, 0, 0, 0,
	    STSEC_TLS_NONE },
	{ "example.com host:25", 0, NULL, NULL, 0, 0, 0, STSEC_TLS_NONE },
	{ "example.com [192.0.2.1", 0, NULL, NULL, 0, 0, 0, STSEC_TLS_NONE },
	{ "example.com []:25", 0, NULL, NULL, 0, 0, 0, STSEC_TLS_NONE },
	{ "example.com [192.0.2.1]25", 0, NULL, NULL, 0, 0, 0,
	    STSEC_TLS_NONE },
	{ "example.com [192.0.2.1]:0", 0, NULL, NULL, 0, 0, 0,
	    STSEC_TLS_NONE },
	{ "example.com [192.0.2.1]:65536", 0, NULL, NULL, 0, 0, 0,
	    STSEC_TLS_NONE },
	{ "example.com [192.0.2.1]:25x", 0, NULL, NULL, 0, 0, 0,
	    STSEC_TLS_NONE },
	{ "example.com [192.0.2.1]:25 secure", 0, NULL, NULL, 0, 0, 0,
	    STSEC_TLS_NONE },
	{ "example.com [192.0.2.1]:25 may extra", 0, NULL, NULL, 0, 0, 0,
	    STSEC_TLS_NONE },
};

static void
test_parse(void **state)
{
	struct route r;
	const char *why;
	size_t	i;

	(void)state;
	for (i = 0; i < N(parse_cases); i++) {
		const struct parse_case *t = &parse_cases[i];

		why = route_parse(t->entry, &r);
		if (!t->ok) {
			if (why == NULL)
				fail_msg("accepted: \"%s\"", t->entry);
			continue;
		}
		if (why != NULL)
			fail_msg("refused: \"%s\": %s", t->entry, why);
		assert_string_equal(r.domain, t->domain);
		assert_string_equal(r.host, t->host);
		assert_int_equal(r.port, t->port);
		assert_int_equal(r.mx, t->mx);
		assert_int_equal(r.is_static, 1);
		assert_int_equal(r.has_level, t->has_level);
		if (t->has_level)
			assert_int_equal(r.level, t->level);
	}
}

/* ------------------------------------------------------------------ */
/* lookup								*/

static char *const lookup_entries[] = {
	"bad entry",				/* refused: skipped */
	"* [192.0.2.9]:2525",			/* the smarthost */
	"example.com [192.0.2.1]:25 encrypt",
	"EXAMPLE.com [192.0.2.2]:25",		/* a second one: not used */
	"* [192.0.2.10]",			/* a second "*": not used */
	"mx.test relay.example.net",
};

static const struct lookup_case {
	const char	*domain;
	const char	*want_domain, *want_host;
	int		 port, mx, is_static, has_level;
} lookup_cases[] = {
	{ "example.com", "example.com", "192.0.2.1", 25, 0, 1, 1 },
	{ "Example.COM", "example.com", "192.0.2.1", 25, 0, 1, 1 },
	{ "mx.test", "mx.test", "relay.example.net", 0, 1, 1, 0 },
	{ "other.org", "*", "192.0.2.9", 2525, 0, 1, 0 },
	{ "sub.example.com", "*", "192.0.2.9", 2525, 0, 1, 0 },
};

static void
assert_route(const struct route *r, const char *domain, const char *host,
    int port, int mx, int is_static, int has_level)
{
	assert_string_equal(r->domain, domain);
	assert_string_equal(r->host, host);
	assert_int_equal(r->port, port);
	assert_int_equal(r->mx, mx);
	assert_int_equal(r->is_static, is_static);
	assert_int_equal(r->has_level, has_level);
}

static void
test_lookup(void **state)
{
	struct route r;
	size_t	i;

	(void)state;
	for (i = 0; i < N(lookup_cases); i++) {
		const struct lookup_case *t = &lookup_cases[i];

		memset(&r, 0xa5, sizeof(r));
		route_lookup(lookup_entries, N(lookup_entries), t->domain, &r);
		assert_route(&r, t->want_domain, t->want_host, t->port, t->mx,
		    t->is_static, t->has_level);
	}
	route_lookup(lookup_entries, N(lookup_entries), "example.com", &r);
	assert_int_equal(r.level, STSEC_TLS_ENCRYPT);
}

/* Without a route for it, nor "*": the MX hosts of the domain itself. */
static void
test_lookup_mx_default(void **state)
{
	static char *const some[] = { "example.com [192.0.2.1]:25" };
	struct route r;

	(void)state;
	memset(&r, 0xa5, sizeof(r));
	route_lookup(NULL, 0, "Example.ORG", &r);
	assert_route(&r, "Example.ORG", "Example.ORG", 0, 1, 0, 0);
	memset(&r, 0xa5, sizeof(r));
	route_lookup(some, N(some), "example.org", &r);
	assert_route(&r, "example.org", "example.org", 0, 1, 0, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_lookup_mx_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
