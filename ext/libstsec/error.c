/*
 * error.c - the error value every libstsec function that can fail fills.
 *
 *	stsec_error_set()	format a one-line message; returns -1
 */
#include <stdarg.h>
#include <stdio.h>

#include "stsec.h"

int
stsec_error_set(struct stsec_error *err, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}
