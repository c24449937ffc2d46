/*
 * worker.h - blocking work (fsync, rename, Maildir delivery) off the
 * event loop.
 *
 *	worker_new()	n threads ("lanes"), each with a FIFO of jobs, and
 *			one event on base through which finished jobs
 *			come back
 *	worker_submit()	run fn(arg) in a thread, then done(arg) in the
 *			event loop
 *	worker_busy()	jobs queued or running
 *	worker_free()	finish every queued job, run their done
 *			callbacks, stop the threads
 *
 * The event loop never waits on disk: a session that commits a message
 * submits the commit and answers 250 from its done callback.
 *
 * Jobs with the same key (a queue ID) run on the same lane, one after
 * another in the order they were submitted: the jobs of one message
 * (commit, local delivery, delivery results) read and rewrite its
 * envelope and must not interleave.  Jobs of different keys run side by
 * side, so their fsyncs overlap and the file system commits them in one
 * journal transaction instead of one after another.  A NULL key is lane
 * 0.  With n = 1 every job runs in submission order (the pin store: tdb
 * is not thread-safe).
 */
#ifndef WORKER_H
#define WORKER_H

#include <stddef.h>

struct event_base;
struct worker;

typedef void worker_fn(void *arg);

#define WORKER_LANES_MAX	64

/* 1 <= lanes <= WORKER_LANES_MAX. */
struct worker *worker_new(struct event_base *base, size_t lanes);
int	worker_submit(struct worker *w, const char *key, worker_fn *fn,
	    worker_fn *done, void *arg);
size_t	worker_busy(const struct worker *w);
void	worker_free(struct worker *w);

#endif
