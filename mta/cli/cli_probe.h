/*
 * cli_probe.h - pinpost probe: shared between its two files.
 *
 *	probe_observer() the delivery client's observer that fills a report
 *			(cli_probe_see.c)
 *	probe_print()	one host's report, as text or as one JSON object
 *	probe_verdict()	what the enforcing client would do today
 *			(cli_probe_out.c)
 */
#ifndef CLI_PROBE_H
#define CLI_PROBE_H

#include <stdio.h>

#include "client.h"
#include "stsec.h"

/* What one host showed: filled by the delivery client's observer. */
#define PROBE_LINES	40
#define PROBE_LINE_MAX	512

struct probe_cert {
	char		subject[256];
	char		issuer[256];
	char		not_before[32];
	char		not_after[32];
	struct stsec_pin pin;
};

struct probe_report {
	char		host[STSEC_NAME_MAX + 8];	/* the store key */
	char		addr[64];			/* [a]:port */
	char		greeting[PROBE_LINE_MAX];
	int		early_code;	/* reply to STARTTLS-first; 0: none */
	size_t		nplain;
	char		plain[PROBE_LINES][PROBE_LINE_MAX];	/* EHLO */
	int		starttls_code;	/* 0: not sent */
	int		tls;
	char		tls_version[32];
	char		cipher[64];
	char		group[64];
	char		pkix[128];
	size_t		ncert;
	struct probe_cert cert[STSEC_MAX_PINS];
	size_t		ntls;
	char		tlsl[PROBE_LINES][PROBE_LINE_MAX];	/* EHLO in TLS */
	struct stsec_ehlo ehlo;		/* parsed from the EHLO in TLS */
	int		store_found;
	struct stsec_host_rec store;	/* what the store knew before */
	struct stsec_plan plan;
	struct stsec_decision chain;	/* the pin check, had it enforced */
	char		error[PROBE_LINE_MAX];	/* "" if the session ran */
};

void	probe_observer(struct client_observer *obs, struct probe_report *r);

void	probe_print(const struct probe_report *r, int json, FILE *fp);
const char *probe_verdict(const struct probe_report *r, char *buf,
	    size_t len);

#endif
