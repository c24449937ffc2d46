/*
 * cli_probe.h - pinpost probe: shared between its two files.
 *
 *	probe_print()	one host's report, as text or as one JSON object
 *	probe_verdict()	what the enforcing client would do today
 */
#ifndef CLI_PROBE_H
#define CLI_PROBE_H

#include <stdio.h>

struct probe_report;

void	probe_print(const struct probe_report *r, int json, FILE *fp);
const char *probe_verdict(const struct probe_report *r, char *buf,
	    size_t len);

#endif
