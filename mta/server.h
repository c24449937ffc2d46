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
 *	server_free()
 *	server_session_gone()	a session tells the server it is freed
 *	server_check_done()	stopping, and nothing left: end the loop
 */
#ifndef SERVER_H
#define SERVER_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evconnlistener;
struct event;
struct conf;
struct tls_server;
struct queue;
struct worker;
struct session;
struct dns;
struct pinstore;
struct runner;
struct ssl_ctx_st;

#define SERVER_LISTEN_MAX	16

LIST_HEAD(session_list, session);
LIST_HEAD(client_list, client);

struct server {
	struct event_base	*base;
	struct conf		*conf;
	const char		*conf_path;
	struct tls_server	*tls;
	struct queue		*queue;
	struct worker		*worker;
	struct evconnlistener	*lis[SERVER_LISTEN_MAX];
	int			 lis_tls[SERVER_LISTEN_MAX];
	size_t			 nlis;
	struct session_list	 sessions;
	size_t			 nsessions;
	uint64_t		 next_id;
	int			 stopping;
	struct event		*local_timer;
	/* delivery */
	struct dns		*dns;
	struct pinstore		*pins;
	struct worker		*store_worker;	/* the store's own thread */
	struct ssl_ctx_st	*client_ctx;
	struct runner		*runner;
	struct client_list	 clients;	/* deliveries in flight */
	struct event		*stop_timer;	/* SIGTERM deadline */
};

struct server *server_new(struct event_base *base, const char *conf_path,
	    struct conf *conf, struct tls_server *tls, char *err, size_t errlen);
int	server_listen(struct server *srv, char *err, size_t errlen);
int	server_start(struct server *srv, char *err, size_t errlen);
void	server_reload(struct server *srv);
void	server_stop(struct server *srv);
void	server_free(struct server *srv);
void	server_session_gone(struct server *srv);
void	server_check_done(struct server *srv);

#endif
