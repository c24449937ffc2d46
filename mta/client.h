/*
 * client.h - one delivery attempt: an SMTP client session (RFC 5321)
 * that learns and enforces PKP and STSEC (DESIGN 1.3).
 *
 *	client_start()	resolve the route, then try each host and address
 *			in order until one takes the transaction; calls
 *			done() once with a result for every recipient
 *	client_abort()	the stop deadline: end it now
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

struct mta_ctx;
struct client;
struct smtp_reply;
struct ssl_st;
struct sockaddr;

struct delivery_rcpt {
	size_t		idx;		/* in the envelope */
	char		addr[QUEUE_ADDR_MAX + 1];
	int		code;		/* 0: no result; 2xx, 4xx, 5xx */
	char		status[16];	/* enhanced status code */
	char		reply[QUEUE_REPLY_MAX + 1];
};

/*
 * A probe (pinpost probe) runs the same session without mail: greeting,
 * [STARTTLS,] EHLO, STARTTLS, EHLO inside TLS, QUIT.  It notes into the
 * store only when asked (learn); what it sees goes to an observer.
 */
enum client_step {
	CLIENT_GREETING,	/* the 220 (or not) */
	CLIENT_EARLY,		/* the reply to STARTTLS right after it */
	CLIENT_EHLO,		/* an EHLO reply, in plaintext or in TLS */
	CLIENT_STARTTLS		/* the reply to STARTTLS after EHLO */
};

/*
 * What the session sees, in the order it sees it; every callback may be
 * NULL.  The pointers are valid for the call only.
 */
struct client_observer {
	void	(*host)(void *arg, const char *key);	/* a host is tried */
	void	(*addr)(void *arg, const struct sockaddr *sa);
	/* its store record (NULL: none) and the plan made from it */
	void	(*store)(void *arg, const struct stsec_host_rec *rec,
		    const struct stsec_plan *plan);
	void	(*reply)(void *arg, enum client_step step, int tls,
		    const struct smtp_reply *r);
	void	(*tls)(void *arg, struct ssl_st *ssl, long verify);
	void	(*pins)(void *arg, const struct stsec_decision *dec);
	void	(*keywords)(void *arg, const struct stsec_ehlo *e);
	void	(*fail)(void *arg, const char *reply);
	void	*arg;
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
	struct client	*client;	/* the session; NULL once done */
};

typedef void client_done_fn(struct delivery *d, void *arg);

/* NULL if it cannot start; else done() comes once, from the loop. */
struct client *client_start(const struct mta_ctx *ctx, struct delivery *d,
	    const struct client_observer *obs, client_done_fn *done,
	    void *arg);
/* Stop deadline: end it now (4.3.2), calling done() (none if done). */
void	client_abort(struct client *c);

#endif
