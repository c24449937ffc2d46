/*
 * worker.h - blocking work (fsync, rename, Maildir delivery) off the
 * event loop.
 *
 *	worker_new()	one thread, a FIFO of jobs, and an event on base
 *			through which finished jobs come back
 *	worker_submit()	run fn(arg) in the thread, then done(arg) in the
 *			event loop
 *	worker_busy()	jobs queued or running
 *	worker_free()	finish every queued job, run their done
 *			callbacks, stop the thread
 *
 * The event loop never waits on disk: a session that commits a message
 * submits the commit and answers 250 from its done callback.
 */
#ifndef WORKER_H
#define WORKER_H

#include <stddef.h>

struct event_base;
struct worker;

typedef void worker_fn(void *arg);

struct worker *worker_new(struct event_base *base);
int	worker_submit(struct worker *w, worker_fn *fn, worker_fn *done,
	    void *arg);
size_t	worker_busy(const struct worker *w);
void	worker_free(struct worker *w);

#endif
