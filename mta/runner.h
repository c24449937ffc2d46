/*
 * runner.h - the queue runner: picks queued messages whose remote
 * recipients are due, groups them by recipient domain, and delivers
 * with bounded concurrency (total and per destination); retries with
 * exponential backoff, gives up after queue_lifetime with a bounce, and
 * sends one delay notice after delay_warning.
 *
 *	runner_new()	start it: a scan now and every queue_run_interval
 *	runner_kick()	scan soon (a message was queued, a delivery ended)
 *	runner_flush()	SIGUSR1 from `pinpost queue flush`: read the
 *			markers in spool_dir/flush/ (ID, or ALL) and retry
 *			those messages now
 *	runner_abort()	the stop deadline: end every delivery now
 *	runner_busy()	deliveries in flight
 *	runner_free()
 *
 * Local recipients are local.c's; the runner only delivers to other
 * servers.  One delivery per message at a time, so envelope updates
 * never race.
 */
#ifndef RUNNER_H
#define RUNNER_H

#include <stddef.h>

struct mta_ctx;
struct runner;

/* idle(arg) after each delivery is over (the owner may be stopping). */
struct runner *runner_new(const struct mta_ctx *ctx, void (*idle)(void *),
	    void *arg);
void	runner_kick(struct runner *r);
void	runner_flush(struct runner *r);
void	runner_abort(struct runner *r);
size_t	runner_busy(const struct runner *r);
void	runner_free(struct runner *r);

#endif
