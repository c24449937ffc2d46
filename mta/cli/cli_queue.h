/*
 * cli_queue.h - pinpost queue: what cli_queue.c and cli_queue_flush.c
 * share.
 *
 *	cli_queue_flush()	flush [ID]: marker file, then SIGUSR1
 *	cli_queue_has()		is ID a queued message? (prints why not)
 *	cli_queue_id_ok()	is ID well formed (20 hex digits)?
 */
#ifndef CLI_QUEUE_H
#define CLI_QUEUE_H

/* id NULL: every message.  CLI_OK or CLI_FAIL. */
int	cli_queue_flush(const char *spool, const char *id);
/* 0, or -1 with the message printed. */
int	cli_queue_has(const char *spool, const char *id);
int	cli_queue_id_ok(const char *id);

#endif
