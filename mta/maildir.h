/*
 * maildir.h - local delivery into a Maildir.
 *
 *	maildir_deliver()	copy a queued message into MAILBOX/tmp/,
 *				preceded by the given header lines, fsync,
 *				link or rename into MAILBOX/new/, fsync new/
 *	maildir_create()	make MAILBOX and its tmp/, new/, cur/
 *
 * The queue holds the wire form (CRLF); a Maildir file holds lines ending
 * in LF, as mail readers expect, so CRLF is written as LF.
 *
 * File names follow the Maildir convention: "TIME.MmicrosPpidQcount.host"
 * (unique per process; host with '/' and ':' escaped).
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stddef.h>

/*
 * prepend: header lines, each ending in CRLF (e.g. "Return-Path: <a@b>\r\n
 * Delivered-To: c@d\r\n"), or NULL.  msg_path: the queued message.
 * name_out (may be NULL) receives the delivered file's path.
 * Returns 0, or -1 with a message naming the file in err.
 */
int	maildir_deliver(const char *mailbox, const char *msg_path,
	    const char *prepend, const char *hostname, char *name_out,
	    size_t name_len, char *err, size_t errlen);
int	maildir_create(const char *mailbox, char *err, size_t errlen);

#endif
