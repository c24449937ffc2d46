/*
 * local.h - local recipients: which domains are ours, which mailboxes
 * exist, and delivery of queued messages into their Maildirs.
 *
 *	local_is_domain()	is the domain in local_domains?
 *	local_mailbox()		does user@domain have a mailbox?  0 yes,
 *				-1 no (also for a user name that is not a
 *				safe directory name)
 *	local_schedule()	deliver the local recipients of a queued
 *				message (a worker job)
 *	local_scan()		schedule every queued message that still
 *				has local recipients (start, and a timer)
 *
 * Mailboxes are maildir_root/DOMAIN/USER/.  With `mailboxes` set only
 * those exist (their directories are created on first delivery);
 * otherwise a mailbox exists when its directory does.  Delivery marks
 * each recipient delivered in the envelope (atomic rewrite) and removes
 * the message once no recipient is pending.
 */
#ifndef LOCAL_H
#define LOCAL_H

#include <stddef.h>

struct conf;
struct mta_ctx;

int	local_is_domain(const struct conf *c, const char *domain);
int	local_mailbox(const struct conf *c, const char *user,
	    const char *domain, char *dir, size_t dirlen);
void	local_schedule(const struct mta_ctx *ctx, const char *id);
void	local_scan(const struct mta_ctx *ctx);

#endif
