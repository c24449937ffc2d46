/*
 * ehlo_verdict.c - what libstsec makes of EHLO keyword lines.
 *
 * Reads EHLO reply keyword lines (the text after "250-" / "250 ") from
 * standard input; an empty line ends one reply.  For each reply prints
 *
 *	pkp=STATE pins=N pkp-max-age=N stsec=STATE stsec-max-age=N
 *
 * STATE being absent, valid or invalid, as stsec_ehlo_finish() leaves
 * it.  The draft's checks compare the grammar's verdict on the examples
 * and on the must-fail lines with the library's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stsec.h"

static void
report(struct stsec_ehlo *e)
{
	stsec_ehlo_finish(e);
	printf("pkp=%s pins=%zu pkp-max-age=%" PRId64 " stsec=%s "
	    "stsec-max-age=%" PRId64 "\n", stsec_kw_state_str(e->pkp),
	    e->pkp_pins.n, e->pkp_max_age, stsec_kw_state_str(e->stsec),
	    e->stsec_max_age);
	stsec_ehlo_init(e);
}

int
main(void)
{
	struct stsec_ehlo e;
	char	line[4096];
	size_t	len;
	int	any = 0;

	stsec_ehlo_init(&e);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (len == 0) {
			if (any)
				report(&e);
			any = 0;
			continue;
		}
		(void)stsec_ehlo_feed(&e, line, len);
		any = 1;
	}
	if (any)
		report(&e);
	return 0;
}
