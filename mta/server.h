/*
 * server.h - pinpostd's listeners and the state its sessions share.
 *
 *	server_new()		the shared state (config, TLS, queue, worker)
 *	server_listen()		bind every listen / listen_tls address (as
 *				root, before privileges are dropped)
 *	server_start()		start accepting; local delivery of what the
 *				queue holds
 *	server_reload()		SIGHUP: new config and certificates, or keep
 *				the old ones and log why
 *	server_stop()		SIGTERM: stop accepting, let commits finish,
 *				421 to the rest; the loop ends when all is done
 *	server_flush()		SIGUSR1: the runner retries what
 *				`pinpost queue flush` marked
 *	server_free()
 *
 * The server owns the shared context (ctx.h) and its objects, its
 * listeners, the list of its sessions and the runner; the engines below
 * it take the context and report back through callbacks (session_hooks,
 * the runner's idle), so nothing below includes this header.
 */
#ifndef SERVER_H
#define SERVER_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

struct event_base;
struct evconnlistener;
struct event;
struct conf;
struct tls_server;
struct worker;
struct runner;
struct server_conn;

#define SERVER_LISTEN_MAX	16

LIST_HEAD(server_conns, server_conn);

struct server {
	struct mta_ctx		 ctx;		/* what the engines share */
	const char		*conf_path;
	struct evconnlistener	*lis[SERVER_LISTEN_MAX];
	int			 lis_tls[SERVER_LISTEN_MAX];
	size_t			 nlis;
	struct server_conns	 conns;		/* one per session */
	size_t			 nsessions;
	uint64_t		 next_id;
	struct event		*local_timer;
	struct worker		*store_worker;	/* the store's own thread */
	struct runner		*runner;
	struct event		*stop_timer;	/* SIGTERM deadline */
};

struct server *server_new(struct event_base *base, const char *conf_path,
	    struct conf *conf, struct tls_server *tls, char *err, size_t errlen);
int	server_listen(struct server *srv, char *err, size_t errlen);
int	server_start(struct server *srv, char *err, size_t errlen);
void	server_reload(struct server *srv);
void	server_stop(struct server *srv);
void	server_flush(struct server *srv);
void	server_free(struct server *srv);

#endif
