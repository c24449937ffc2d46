/*
 * check.h - "is this configuration usable?", for pinpostd -n and
 * pinpost check alike.
 *
 *	check_config()	load the file, the certificate and key, run the
 *			PKP self-check; print the verdict to out.  Returns
 *			0 when the configuration is usable (PKP may still
 *			be refused: the verdict says so), 1 with a
 *			"FILE:LINE: problem" line on err when it is not.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>

int	check_config(const char *path, FILE *out, FILE *err);

#endif
