/*
 * ctx.h - what the protocol engines share: the narrow context that the
 * server session (session.c), the delivery client (client.c), the queue
 * runner (runner.c) and local delivery (local.c) take.
 *
 * It sits on the floor below them: it names only lower modules (conf,
 * tls, queue, worker, dns, pinstore) and says nothing of listeners,
 * session lists or the runner, which belong to the server above.  The
 * engines read it; its owner (server.c in pinpostd, cli_probe.c in
 * `pinpost probe`) fills it, keeps every object in it alive while any
 * engine runs, and alone writes it: conf and tls are replaced on reload,
 * stopping is set on SIGTERM.  What an engine has to tell its owner goes
 * through callbacks it was given (session_hooks, runner_new's idle, the
 * client's done and observer), never through this struct.
 */
#ifndef CTX_H
#define CTX_H

struct event_base;
struct conf;
struct tls_server;
struct queue;
struct worker;
struct dns;
struct pinstore;
struct ssl_ctx_st;

struct mta_ctx {
	struct event_base	*base;
	struct conf		*conf;		/* replaced on reload */
	struct tls_server	*tls;		/* server side; NULL: none */
	struct queue		*queue;
	struct worker		*worker;	/* blocking disk work */
	struct dns		*dns;
	struct pinstore		*pins;		/* the pin/policy store */
	struct ssl_ctx_st	*client_ctx;	/* TLS for delivery */
	int			 stopping;	/* SIGTERM: start nothing new */
};

#endif
