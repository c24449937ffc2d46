/*
 * test_worker.c - the disk threads (mta/worker.c), with real threads and
 * a real event loop.
 *
 *	order		jobs of one key run one after another, in the order
 *			submitted; every done callback runs once, in the loop
 *	overlap		jobs of different keys run side by side: two jobs
 *			that each wait for the other finish only when they
 *			are on two lanes at once
 *	one lane	with one lane every job runs in submission order,
 *			whatever its key
 *	bounds		0 and more than WORKER_LANES_MAX lanes are refused
 *	free		worker_free() finishes queued jobs and runs their
 *			done callbacks
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>

#include "worker.h"

#define NKEYS	6
#define PERKEY	40

struct log {
	pthread_mutex_t	 mu;
	int		 seq[NKEYS][PERKEY];	/* order each key's jobs ran */
	int		 n[NKEYS];
	int		 done;
	int		 done_twice;
	int		 order[NKEYS * PERKEY];	/* global run order */
	int		 norder;
};

struct tjob {
	struct log	*log;
	int		 key, i;
	int		 done;
	char		 name[16];
};

static void
tjob_run(void *arg)
{
	struct tjob *j = arg;
	struct timespec ts = { 0, 20000 };	/* let lanes interleave */

	nanosleep(&ts, NULL);
	pthread_mutex_lock(&j->log->mu);
	j->log->seq[j->key][j->log->n[j->key]++] = j->i;
	j->log->order[j->log->norder++] = j->key * PERKEY + j->i;
	pthread_mutex_unlock(&j->log->mu);
}

static void
tjob_done(void *arg)
{
	struct tjob *j = arg;

	if (j->done++)
		j->log->done_twice++;
	j->log->done++;
}

static void
run_until(struct event_base *base, const struct worker *w)
{
	while (worker_busy(w) > 0)
		assert_int_not_equal(event_base_loop(base, EVLOOP_ONCE), -1);
}

static struct tjob *
submit_all(struct worker *w, struct log *log)
{
	struct tjob *jobs = calloc(NKEYS * PERKEY, sizeof(*jobs));
	int	i, k;

	assert_non_null(jobs);
	/* interleaved: key 0 job 0, key 1 job 0, ... */
	for (i = 0; i < PERKEY; i++)
		for (k = 0; k < NKEYS; k++) {
			struct tjob *j = &jobs[k * PERKEY + i];

			j->log = log;
			j->key = k;
			j->i = i;
			(void)snprintf(j->name, sizeof(j->name), "ID%04dX", k);
			assert_int_equal(worker_submit(w, j->name, tjob_run,
			    tjob_done, j), 0);
		}
	return jobs;
}

static void
test_order(void **state)
{
	struct event_base *base = event_base_new();
	struct worker *w;
	struct log log;
	struct tjob *jobs;
	int	k, i;

	(void)state;
	memset(&log, 0, sizeof(log));
	assert_int_equal(pthread_mutex_init(&log.mu, NULL), 0);
	assert_non_null(base);
	assert_non_null(w = worker_new(base, 4));
	jobs = submit_all(w, &log);
	run_until(base, w);
	assert_int_equal(log.done, NKEYS * PERKEY);
	assert_int_equal(log.done_twice, 0);
	for (k = 0; k < NKEYS; k++) {
		assert_int_equal(log.n[k], PERKEY);
		for (i = 0; i < PERKEY; i++)
			assert_int_equal(log.seq[k][i], i);
	}
	worker_free(w);
	free(jobs);
	event_base_free(base);
	pthread_mutex_destroy(&log.mu);
}

/* Two jobs that each wait for the other: only lanes side by side end. */
struct meet {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 arrived;
	int		 met;
};

static void
meet_run(void *arg)
{
	struct meet *m = arg;
	struct timespec until;

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &until), 0);
	until.tv_sec += 5;
	pthread_mutex_lock(&m->mu);
	m->arrived++;
	pthread_cond_broadcast(&m->cv);
	while (m->arrived < 2)
		if (pthread_cond_timedwait(&m->cv, &m->mu, &until) != 0)
			break;
	if (m->arrived >= 2)
		m->met++;
	pthread_mutex_unlock(&m->mu);
}

static void
test_overlap(void **state)
{
	struct event_base *base = event_base_new();
	struct worker *w;
	struct meet m;
	/*
	 * FNV-1a puts "A" on lane 0 and "B" on lane 1 of two: the hashes'
	 * last bits are those of 0xc5 ^ 0x41 and 0xc5 ^ 0x42 (times an odd
	 * prime).
	 */
	const char *a = "A", *b = "B";

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(pthread_mutex_init(&m.mu, NULL), 0);
	assert_int_equal(pthread_cond_init(&m.cv, NULL), 0);
	assert_non_null(w = worker_new(base, 2));
	assert_int_equal(worker_submit(w, a, meet_run, NULL, &m), 0);
	assert_int_equal(worker_submit(w, b, meet_run, NULL, &m), 0);
	run_until(base, w);
	assert_int_equal(m.met, 2);
	worker_free(w);
	event_base_free(base);
	pthread_cond_destroy(&m.cv);
	pthread_mutex_destroy(&m.mu);
}

static void
test_one_lane(void **state)
{
	struct event_base *base = event_base_new();
	struct worker *w;
	struct log log;
	struct tjob *jobs;
	int	n;

	(void)state;
	memset(&log, 0, sizeof(log));
	assert_int_equal(pthread_mutex_init(&log.mu, NULL), 0);
	assert_non_null(w = worker_new(base, 1));
	jobs = submit_all(w, &log);
	run_until(base, w);
	for (n = 0; n < NKEYS * PERKEY; n++)	/* i-major, then key */
		assert_int_equal(log.order[n],
		    (n % NKEYS) * PERKEY + n / NKEYS);
	worker_free(w);
	free(jobs);
	event_base_free(base);
	pthread_mutex_destroy(&log.mu);
}

static void
test_bounds(void **state)
{
	struct event_base *base = event_base_new();
	struct worker *w;

	(void)state;
	assert_null(worker_new(base, 0));
	assert_null(worker_new(base, WORKER_LANES_MAX + 1));
	assert_non_null(w = worker_new(base, WORKER_LANES_MAX));
	worker_free(w);
	event_base_free(base);
}

static void
test_free_finishes(void **state)
{
	struct event_base *base = event_base_new();
	struct worker *w;
	struct log log;
	struct tjob *jobs;

	(void)state;
	memset(&log, 0, sizeof(log));
	assert_int_equal(pthread_mutex_init(&log.mu, NULL), 0);
	assert_non_null(w = worker_new(base, 3));
	jobs = submit_all(w, &log);
	worker_free(w);		/* no loop run: free drains */
	assert_int_equal(log.norder, NKEYS * PERKEY);
	assert_int_equal(log.done, NKEYS * PERKEY);
	free(jobs);
	event_base_free(base);
	pthread_mutex_destroy(&log.mu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_one_lane),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_free_finishes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
