/*
 * check.c - the configuration check shared by pinpostd -n and
 * pinpost check; see check.h.
 */
#include <stdlib.h>

#include "check.h"
#include "conf.h"
#include "tls.h"

int
check_config(const char *path, FILE *out, FILE *err)
{
	struct conf c;
	struct tls_server *ts;
	char	msg[CONF_ERR_MAX];

	if (conf_load(path, &c, msg, sizeof(msg)) == -1) {
		fprintf(err, "%s\n", msg);
		return 1;
	}
	tls_init();
	if ((ts = tls_server_new(&c, msg, sizeof(msg))) == NULL) {
		fprintf(err, "%s\n", msg);
		conf_free(&c);
		return 1;
	}
	fprintf(out, "%s: configuration ok\n", path);
	fprintf(out, "tls: cert=%s key=%s\n", c.tls_cert_file, c.tls_key_file);
	fprintf(out, "%s\n", tls_server_verdict(ts));
	fprintf(out, "stsec=%s\n", tls_server_stsec(ts) != NULL ?
	    tls_server_stsec(ts) : "off");
	tls_server_free(ts);
	conf_free(&c);
	return 0;
}
