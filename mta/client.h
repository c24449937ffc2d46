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
};

typedef void client_done_fn(struct delivery *d, void *arg);

int	client_start(struct server *srv, struct delivery *d,
	    client_done_fn *done, void *arg);
/* Stop deadline: end every delivery now (4.3.2), calling done(). */
void	client_abort_all(struct server *srv);

#endif
