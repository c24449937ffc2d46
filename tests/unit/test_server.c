/*
 * test_server.c - the server's PKP self-check (DESIGN 1.2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stsec.h"

static void
set_of(const char *letters, struct stsec_pinset *set)
{
	struct stsec_pin p;

	stsec_pinset_clear(set);
	for (; *letters != '\0'; letters++) {
		memset(p.hash, (unsigned char)*letters, sizeof(p.hash));
		assert_int_equal(stsec_pinset_add(set, &p, NULL), 0);
	}
}

struct check_case {
	const char	*name;
	const char	*served, *backups;
	int64_t		 max_age, cap;
	int		 rc;
	size_t		 advertised;	/* pins in the set on success */
	const char	*why;		/* substring of the error */
};

static const struct check_case cases[] = {
	{ "served + backup", "A", "B", 259200, 5184000, 0, 2, NULL },
	{ "two backups", "A", "BC", 259200, 5184000, 0, 3, NULL },
	{ "two served keys + backup", "AX", "B", 60, 5184000, 0, 3, NULL },
	{ "no backup", "A", "", 259200, 5184000, -1, 0, "no backup pin" },
	{ "backup is the served key", "A", "A", 259200, 5184000, -1, 0,
	    "no backup pin" },
	{ "no served key", "", "B", 259200, 5184000, -1, 0, "served" },
	{ "max-age above cap", "A", "B", 5184001, 5184000, -1, 0, "cap" },
	{ "max-age = cap", "A", "B", 5184000, 5184000, 0, 2, NULL },
	{ "negative max-age", "A", "B", -1, 5184000, -1, 0, "range" },
	{ "retiring needs no backup", "A", "", 0, 5184000, 0, 1, NULL },
	{ "too many pins", "A", "BCDEFGHIJKLMNOPQ", 60, 5184000, -1, 0,
	    "more than 16" },
	{ "sixteen pins", "A", "BCDEFGHIJKLMNOP", 60, 5184000, 0, 16, NULL },
};

static void
test_check(void **state)
{
	struct stsec_pinset served, backups, adv;
	struct stsec_error err;
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const struct check_case *c = &cases[i];

		print_message("check: %s\n", c->name);
		set_of(c->served, &served);
		set_of(c->backups, &backups);
		memset(&err, 0, sizeof(err));
		assert_int_equal(stsec_server_check(&served, &backups,
		    c->max_age, c->cap, &adv, &err), c->rc);
		if (c->rc == 0) {
			assert_int_equal(adv.n, c->advertised);
			assert_int_equal(stsec_pinset_common(&served, &adv),
			    served.n);
		} else {
			assert_int_equal(adv.n, 0);
			assert_non_null(strstr(err.msg, c->why));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
