/*
 * session.h - one SMTP server session (RFC 5321, with STARTTLS, PKP and
 * STSEC): a state machine on a libevent bufferevent.
 *
 *	session_new()		a connection was accepted: greet (or start
 *				implicit TLS)
 *	session_shutdown()	the owner stops: 421 now, or after the commit
 *				in progress
 *	session_abort()		the stop deadline passed: close (a session
 *				whose commit is running still waits for it)
 *	session_addr()		the client's address
 *
 * The session reads the shared context (ctx.h) and tells its owner what
 * happened through the hooks: queued() once a message is durable (its
 * local and remote recipients, for delivery), gone() when the session
 * is freed (the last call it makes).  The owner keeps its own list.
 */
#ifndef SESSION_H
#define SESSION_H

#include <sys/socket.h>

#include <stdint.h>

#include <event2/util.h>

struct mta_ctx;
struct session;

struct session_hooks {
	void	(*queued)(void *arg, const char *id, int local, int remote);
	void	(*gone)(void *arg);
	void	*arg;
};

struct session *session_new(const struct mta_ctx *ctx, uint64_t id,
	    evutil_socket_t fd, const struct sockaddr *sa, socklen_t salen,
	    int implicit_tls, const struct session_hooks *hooks);
void	session_shutdown(struct session *s);
void	session_abort(struct session *s);
const struct sockaddr *session_addr(const struct session *s);

#endif
