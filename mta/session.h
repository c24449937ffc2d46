/*
 * session.h - one SMTP server session (RFC 5321, with STARTTLS, PKP and
 * STSEC): a state machine on a libevent bufferevent.
 *
 *	session_new()		a connection was accepted: greet (or start
 *				implicit TLS)
 *	session_shutdown_all()	the server stops: 421 to every session now,
 *				or after the commit in progress
 *	session_abort_all()	the stop deadline passed: close the rest (a
 *				session whose commit is running still waits
 *				for it)
 *	session_count_addr()	sessions from one client address
 *	session_addr()		the client's address
 */
#ifndef SESSION_H
#define SESSION_H

#include <sys/socket.h>

#include <event2/util.h>

struct server;
struct session;

struct session *session_new(struct server *srv, evutil_socket_t fd,
	    const struct sockaddr *sa, socklen_t salen, int implicit_tls);
void	session_shutdown_all(struct server *srv);
void	session_abort_all(struct server *srv);
size_t	session_count_addr(const struct server *srv, const struct sockaddr *sa);
const struct sockaddr *session_addr(const struct session *s);

#endif
