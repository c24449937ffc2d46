/*
 * client.h - one delivery attempt: an SMTP client session (RFC 5321)
 * that learns and enforces PKP and STSEC (DESIGN 1.3).
 *
 *	client_start()	resolve the route, then try each host and address
 *			in order until one takes the transaction; calls
 *			done() once with a result for every recipient
 *
 * Per host: read its store record (and the recipient domain's, when the
 * host was found as an MX of it), plan (stsec_policy_plan), connect,
 * STARTTLS right after the greeting when TLS is required (503: EHLO
 * first, remembered), opportunistic STARTTLS otherwise.  Bytes that
 * arrive after "220 Ready to start TLS" and before the handshake are
 * discarded.  After the handshake the chain's pins are checked before
 * any EHLO; the EHLO reply inside TLS is noted into the store.  A policy
 * failure defers with 4.7.4 / 4.7.5 and tries the next host; nothing is
 * ever sent in plaintext to a peer that requires TLS.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "queue.h"
#include "route.h"

struct server;

struct delivery_rcpt {
	size_t		idx;		/* in the envelope */
	char		addr[QUEUE_ADDR_MAX + 1];
	int		code;		/* 0: no result; 2xx, 4xx, 5xx */
	char		status[16];	/* enhanced status code */
	char		reply[QUEUE_REPLY_MAX + 1];
};

/*
 * A probe (pinpost probe) runs the same session without mail: greeting,
 * [STARTTLS,] EHLO, STARTTLS, EHLO inside TLS, QUIT, and records what it
 * saw.  It notes into the store only when asked (learn).
 */
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

struct delivery {
	char		id[QUEUE_ID_LEN + 1];
	char		sender[QUEUE_ADDR_MAX + 1];
	int		body_8bit;
	int		smtputf8;
	char		domain[STSEC_NAME_MAX + 1];	/* recipient domain */
	struct route	route;
	char		msg_path[4096];
	size_t		nrcpt;
	struct delivery_rcpt *rcpt;
	char		remote[STSEC_NAME_MAX + 8];	/* last host tried */
	/* probe mode: nrcpt is 0 */
	int		probe;
	int		probe_early;	/* STARTTLS right after the greeting */
	int		probe_learn;	/* note what the EHLO in TLS says */
	int		probe_implicit;	/* TLS from the first byte */
	const struct dns_result *probe_hosts;	/* resolved already */
	struct probe_report *report;	/* one per host tried */
	size_t		nreport;
};

typedef void client_done_fn(struct delivery *d, void *arg);

int	client_start(struct server *srv, struct delivery *d,
	    client_done_fn *done, void *arg);
/* Stop deadline: end every delivery now (4.3.2), calling done(). */
void	client_abort_all(struct server *srv);

#endif
