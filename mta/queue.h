/*
 * queue.h - the durable mail queue: one message, two files.
 *
 *	SPOOL/tmp/ID.msg, ID.env	being written
 *	SPOOL/queue/ID.msg		the message (headers and body), never
 *					changed once queued
 *	SPOOL/queue/ID.env		the envelope and per-recipient delivery
 *					state; rewritten atomically (write tmp,
 *					fsync, rename, fsync the directory)
 *
 * A message is queued when ID.env appears in queue/: commit writes and
 * fsyncs both files in tmp/, renames ID.msg and then ID.env into queue/
 * and fsyncs queue/.  Only then may the server answer 250.  A crash at
 * any instant leaves either nothing queued (an ID.msg without ID.env in
 * queue/ is an orphan, removed by queue_recover()) or the whole message.
 *
 *	queue_open()		check/create SPOOL/tmp and SPOOL/queue
 *	queue_close()
 *	queue_recover()		at start: remove tmp/ leftovers and orphans
 *	queue_msg_new()		a new message in tmp/, with a fresh ID
 *	queue_msg_write()	append message bytes (buffered)
 *	queue_msg_commit()	fsync + rename + fsync dir: BLOCKS, call it
 *				off the event loop
 *	queue_msg_abort()	drop a message being written
 *	queue_env_load()	read ID.env
 *	queue_env_save()	atomic rewrite of ID.env
 *	queue_msg_path()	path of queue/ID.msg, for delivery
 *	queue_remove()		remove a message (env first, then msg);
 *				durable: fsync the directory too (an
 *				operator's delete; a delivered message
 *				needs no fsync: undone by a crash, it is
 *				delivered again, never lost)
 *	queue_list()		the IDs in queue/, sorted
 *
 * The envelope file format is versioned (see queue.c): save writes the
 * current version, load reads it and every earlier one.
 *
 * Errors: -1 (or NULL) with a one-line message naming the file in err.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define QUEUE_ID_LEN	20		/* hex characters */
#define QUEUE_ADDR_MAX	256		/* a path, without brackets */
#define QUEUE_REPLY_MAX	512
#define QUEUE_RCPT_MAX	1000		/* recipients per message */
#define QUEUE_ERR_MAX	256
#define QUEUE_STATUS_MAX 15		/* "5.999.999" fits */
#define QUEUE_HOST_MAX	255		/* a DNS name, no dot at the end */

enum queue_rcpt_state {
	QUEUE_RCPT_PENDING = 0,	/* to be delivered */
	QUEUE_RCPT_DELIVERED,
	QUEUE_RCPT_FAILED	/* permanently: bounced */
};

struct queue_rcpt {
	char		addr[QUEUE_ADDR_MAX + 1];
	enum queue_rcpt_state state;
	int		local;		/* for a local mailbox */
	int		attempts;
	int64_t		next_try;	/* 0: now */
	char		last_reply[QUEUE_REPLY_MAX + 1];	/* "" if none */
	/*
	 * The last attempt: when, its RFC 3463 status code ("4.7.5") and
	 * the remote MTA's host name (printable ASCII, no space); 0 or ""
	 * if none.  Save refuses anything else.
	 */
	int64_t		last_try;
	char		status[QUEUE_STATUS_MAX + 1];
	char		remote[QUEUE_HOST_MAX + 1];
};

struct queue_env {
	char		id[QUEUE_ID_LEN + 1];
	int64_t		arrival;
	char		sender[QUEUE_ADDR_MAX + 1];	/* "" for <> */
	char		client[128];	/* "[addr]:port" of the sender host */
	char		helo[256];
	int		body_8bit;	/* BODY=8BITMIME */
	int		smtputf8;
	int		warned;		/* a delay notice was sent */
	size_t		nrcpt;
	struct queue_rcpt *rcpt;	/* nrcpt entries, malloc'd */
};

struct queue;
struct queue_msg;

struct queue *queue_open(const char *spool, char *err, size_t errlen);
void	queue_close(struct queue *q);
int	queue_recover(struct queue *q, char *err, size_t errlen);

struct queue_msg *queue_msg_new(struct queue *q, char *err, size_t errlen);
const char *queue_msg_id(const struct queue_msg *m);
int	queue_msg_write(struct queue_msg *m, const void *buf, size_t len,
	    char *err, size_t errlen);
uint64_t queue_msg_size(const struct queue_msg *m);
/* env->id is set from m; the message is freed whatever the outcome. */
int	queue_msg_commit(struct queue_msg *m, struct queue_env *env,
	    char *err, size_t errlen);
void	queue_msg_abort(struct queue_msg *m);

int	queue_env_load(struct queue *q, const char *id, struct queue_env *env,
	    char *err, size_t errlen);
int	queue_env_save(struct queue *q, const struct queue_env *env,
	    char *err, size_t errlen);
void	queue_env_free(struct queue_env *env);
/* Adds a recipient (realloc); -1 past QUEUE_RCPT_MAX. */
int	queue_env_add_rcpt(struct queue_env *env, const char *addr, int local);

int	queue_msg_path(const struct queue *q, const char *id, char *buf,
	    size_t len);
int	queue_remove(struct queue *q, const char *id, int durable, char *err,
	    size_t errlen);
/* *ids: malloc'd array of malloc'd strings; queue_list_free() frees. */
int	queue_list(struct queue *q, char ***ids, size_t *n, char *err,
	    size_t errlen);
void	queue_list_free(char **ids, size_t n);
/* "pending", "delivered", "failed"; NULL for a value out of range. */
const char *queue_rcpt_state_str(enum queue_rcpt_state s);

#endif
