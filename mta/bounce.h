/*
 * bounce.h - delivery status notifications (RFC 3464) to the envelope
 * sender: failure (bounce) and delay notices.
 *
 *	bounce_queue()	write a multipart/report DSN about some recipients
 *			of a queued message into a new queued message, from
 *			<> to the original sender; BLOCKS (fsync): call it
 *			from the worker thread
 *	bounce_text()	the plain sentence a DSN gives for a status code
 *
 * Never for the null sender (returns 0 and queues nothing).  The report
 * has three parts: a human-readable text/plain part (what happened, per
 * recipient, with the last SMTP reply and, for PKP/STSEC policy failures,
 * a plain sentence), message/delivery-status (Reporting-MTA,
 * Arrival-Date, then per recipient Final-Recipient, Action, Status,
 * Remote-MTA, Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until for
 * delays), and text/rfc822-headers with the original headers.
 *
 * The new message is 7bit throughout (body_8bit = 0): original headers
 * that are not plain 7-bit lines go in quoted-printable.  Its envelope
 * has one recipient, the original sender, with local = sender_local
 * (the caller knows the local domains); smtputf8 is set when that
 * address is not ASCII.
 */
#ifndef BOUNCE_H
#define BOUNCE_H

#include <stddef.h>
#include <stdint.h>

struct queue;
struct queue_env;

enum bounce_kind {
	BOUNCE_FAILED = 0,	/* Action: failed */
	BOUNCE_DELAYED		/* Action: delayed */
};

/*
 * which[i] non-zero: report env->rcpt[i].  expires: when the message
 * will be given up (for delay notices).  hostname: this MTA's name
 * (letters, digits, '-' and '.').  On success *id gets the new
 * message's queue id ("" when nothing was queued: null sender, or no
 * recipient chosen in which); idlen must be at least QUEUE_ID_LEN + 1.
 */
int	bounce_queue(struct queue *q, const struct queue_env *env,
	    const unsigned char *which, enum bounce_kind kind,
	    int sender_local, const char *hostname, int64_t now,
	    int64_t expires, char id[], size_t idlen, char *err,
	    size_t errlen);
/* Never NULL: a generic sentence by class for codes it does not know. */
const char *bounce_text(const char *status);

#endif
