/*
 * worker.c - threads for blocking work; see worker.h.
 *
 * Each lane is a thread with a FIFO of jobs under the pool's mutex and a
 * condition variable of its own.  A thread runs its jobs in order and
 * moves each to the pool's "finished" list, then writes one byte to a
 * pipe whose read end is an event in the loop; the loop's callback runs
 * the done callbacks.  The loop thread is the only one that touches
 * libevent.  One mutex for the pool is enough: it is held for a list
 * operation, never across a job.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "worker.h"

struct job {
	worker_fn	*fn;
	worker_fn	*done;
	void		*arg;
	struct job	*next;
};

struct joblist {
	struct job	*head;
	struct job	*tail;
};

struct worker;

struct lane {
	struct worker	*w;
	pthread_t	 thread;
	pthread_cond_t	 cv;
	struct joblist	 todo;
	int		 started;
};

struct worker {
	pthread_mutex_t	 mu;
	struct lane	*lane;
	size_t		 nlane;
	struct joblist	 finished;
	size_t		 busy;		/* submitted, done not yet run */
	int		 stop;
	int		 pipe[2];
	struct event	*ev;
};

static void
joblist_push(struct joblist *l, struct job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct job *
joblist_pop(struct joblist *l)
{
	struct job *j = l->head;

	if (j != NULL && (l->head = j->next) == NULL)
		l->tail = NULL;
	return j;
}

static void *
worker_main(void *arg)
{
	struct lane *ln = arg;
	struct worker *w = ln->w;
	struct job *j;
	char	c = 1;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (ln->todo.head == NULL && !w->stop)
			pthread_cond_wait(&ln->cv, &w->mu);
		j = joblist_pop(&ln->todo);
		pthread_mutex_unlock(&w->mu);
		if (j == NULL)
			return NULL;		/* stop, and nothing left */
		j->fn(j->arg);
		pthread_mutex_lock(&w->mu);
		joblist_push(&w->finished, j);
		pthread_mutex_unlock(&w->mu);
		while (write(w->pipe[1], &c, 1) == -1 && errno == EINTR)
			;
	}
}

/* In the loop: run the done callbacks of finished jobs. */
static void
worker_drain(struct worker *w)
{
	struct joblist done;
	struct job *j;

	pthread_mutex_lock(&w->mu);
	done = w->finished;
	w->finished.head = w->finished.tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while ((j = joblist_pop(&done)) != NULL) {
		w->busy--;
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

static void
worker_pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	char	buf[256];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	worker_drain(arg);
}

static int
worker_pipe(struct worker *w)
{
	if (pipe(w->pipe) == -1)
		return -1;
	if (fcntl(w->pipe[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(w->pipe[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(w->pipe[1], F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	return 0;
}

/* Stops and joins the lanes that were started. */
static void
worker_stop(struct worker *w)
{
	size_t	i;

	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	for (i = 0; i < w->nlane; i++)
		if (w->lane[i].started)
			pthread_cond_signal(&w->lane[i].cv);
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < w->nlane; i++)
		if (w->lane[i].started) {
			(void)pthread_join(w->lane[i].thread, NULL);
			pthread_cond_destroy(&w->lane[i].cv);
			w->lane[i].started = 0;
		}
}

static int
worker_start(struct worker *w)
{
	struct lane *ln;
	size_t	i;

	for (i = 0; i < w->nlane; i++) {
		ln = &w->lane[i];
		ln->w = w;
		if (pthread_cond_init(&ln->cv, NULL) != 0)
			return -1;
		if (pthread_create(&ln->thread, NULL, worker_main, ln) != 0) {
			pthread_cond_destroy(&ln->cv);
			return -1;
		}
		ln->started = 1;
	}
	return 0;
}

static void
worker_release(struct worker *w)
{
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->pipe[0] != -1)
		close(w->pipe[0]);
	if (w->pipe[1] != -1)
		close(w->pipe[1]);
	free(w->lane);
	free(w);
}

struct worker *
worker_new(struct event_base *base, size_t lanes)
{
	struct worker *w;

	if (lanes < 1 || lanes > WORKER_LANES_MAX ||
	    (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->pipe[0] = w->pipe[1] = -1;
	w->nlane = lanes;
	if ((w->lane = calloc(lanes, sizeof(*w->lane))) == NULL ||
	    worker_pipe(w) == -1)
		goto fail;
	w->ev = event_new(base, w->pipe[0], EV_READ | EV_PERSIST,
	    worker_pipe_cb, w);
	if (w->ev == NULL || event_add(w->ev, NULL) == -1)
		goto fail;
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		goto fail;
	if (worker_start(w) == -1) {
		worker_stop(w);
		pthread_mutex_destroy(&w->mu);
		goto fail;
	}
	return w;
fail:
	worker_release(w);
	return NULL;
}

/* FNV-1a: the same key, the same lane. */
static size_t
worker_lane_of(const struct worker *w, const char *key)
{
	uint32_t h = 2166136261u;

	if (key == NULL)
		return 0;
	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % w->nlane;
}

int
worker_submit(struct worker *w, const char *key, worker_fn *fn,
    worker_fn *done, void *arg)
{
	struct lane *ln = &w->lane[worker_lane_of(w, key)];
	struct job *j;

	if (w->stop || (j = calloc(1, sizeof(*j))) == NULL)
		return -1;	/* stopping: the caller cleans up */
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->mu);
	joblist_push(&ln->todo, j);
	pthread_cond_signal(&ln->cv);
	pthread_mutex_unlock(&w->mu);
	w->busy++;
	return 0;
}

size_t
worker_busy(const struct worker *w)
{
	return w->busy;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	worker_stop(w);
	worker_drain(w);
	pthread_mutex_destroy(&w->mu);
	worker_release(w);
}
