/*
 * worker.c - one thread for blocking work; see worker.h.
 *
 * Jobs wait in a FIFO under a mutex.  The thread runs them in order and
 * moves each to a "finished" list, then writes one byte to a pipe whose
 * read end is an event in the loop; the loop's callback runs the done
 * callbacks.  The loop thread is the only one that touches libevent.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

struct worker {
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct joblist	 todo;
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
	struct worker *w = arg;
	struct job *j;
	char	c = 1;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->todo.head == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		j = joblist_pop(&w->todo);
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

struct worker *
worker_new(struct event_base *base)
{
	struct worker *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->pipe[0] = w->pipe[1] = -1;
	if (worker_pipe(w) == -1)
		goto fail;
	w->ev = event_new(base, w->pipe[0], EV_READ | EV_PERSIST,
	    worker_pipe_cb, w);
	if (w->ev == NULL || event_add(w->ev, NULL) == -1)
		goto fail;
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&w->cv, NULL) != 0 ||
	    pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		goto fail;
	}
	return w;
fail:
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->pipe[0] != -1)
		close(w->pipe[0]);
	if (w->pipe[1] != -1)
		close(w->pipe[1]);
	free(w);
	return NULL;
}

int
worker_submit(struct worker *w, worker_fn *fn, worker_fn *done, void *arg)
{
	struct job *j;

	if (w->stop || (j = calloc(1, sizeof(*j))) == NULL)
		return -1;	/* stopping: the caller cleans up */
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->mu);
	joblist_push(&w->todo, j);
	pthread_cond_signal(&w->cv);
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
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	(void)pthread_join(w->thread, NULL);
	worker_drain(w);
	event_free(w->ev);
	close(w->pipe[0]);
	close(w->pipe[1]);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
