/*
 * cli_pin.c - pinpost pin FILE...
 *
 *	Prints the SPKI SHA-256 pin (base64) of the certificate, public key,
 *	private key or CSR in each PEM file; with several files each line is
 *	"FILE PIN".  A file without a usable key fails the command.
 */
#include <stdio.h>

#include "stsec.h"
#include "cli.h"

int
cli_pin_main(struct cli *cli, int argc, char **argv)
{
	struct stsec_error err;
	struct stsec_pin pin;
	char	b64[STSEC_PIN_B64_LEN + 1];
	int	i, rc = CLI_OK;

	(void)cli;
	if (argc < 2)
		return cli_usage("pin");
	for (i = 1; i < argc; i++) {
		if (stsec_pin_from_file(argv[i], &pin, &err) == -1) {
			rc = cli_err("%s", err.msg);
			continue;
		}
		stsec_pin_to_b64(&pin, b64);
		if (argc > 2)
			printf("%s %s\n", argv[i], b64);
		else
			printf("%s\n", b64);
	}
	return rc;
}
