/*
 * server.c - the server side of PKP: the self-check of the pin set.
 *
 *	stsec_server_check()	may this pin set be advertised?
 *
 * A server that advertises pins its senders cannot satisfy after a key
 * change locks them out for MAX-AGE (HPKP's "pin suicide"), so the set
 * must hold the served key and at least one backup key that is not
 * served (RFC 7469 section 4.3).  Advertising no PKP is always safe.
 */
#include <inttypes.h>

#include "stsec.h"

static int
check_age(int64_t max_age, int64_t cap, struct stsec_error *err)
{
	if (max_age < 0 || max_age > STSEC_MAX_AGE_MAX)
		return stsec_error_set(err, "PKP MAX-AGE %" PRId64
		    " out of range", max_age);
	if (max_age > cap)
		return stsec_error_set(err, "PKP MAX-AGE %" PRId64 " above "
		    "the cap %" PRId64 " senders apply", max_age, cap);
	return 0;
}

int
stsec_server_check(const struct stsec_pinset *served,
    const struct stsec_pinset *backups, int64_t max_age, int64_t cap,
    struct stsec_pinset *advertise, struct stsec_error *err)
{
	size_t	i, nbackup = 0;

	stsec_pinset_clear(advertise);
	if (check_age(max_age, cap, err) == -1)
		return -1;
	if (served == NULL || served->n == 0)
		return stsec_error_set(err, "no pin of a served key");
	*advertise = *served;
	for (i = 0; backups != NULL && i < backups->n; i++) {
		if (stsec_pinset_contains(served, &backups->pin[i]))
			continue;	/* a served key is no backup */
		if (stsec_pinset_add(advertise, &backups->pin[i], err) == -1) {
			stsec_pinset_clear(advertise);
			return stsec_error_set(err, "more than %d pins",
			    STSEC_MAX_PINS);
		}
		nbackup++;
	}
	if (nbackup == 0 && max_age > 0) {
		stsec_pinset_clear(advertise);
		return stsec_error_set(err, "no backup pin (a key that is "
		    "not served): advertising only the served key would "
		    "lock senders out at the next key change");
	}
	return 0;
}
