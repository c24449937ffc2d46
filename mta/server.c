/*
 * server.c - pinpostd's listeners, connection limits, reload and
 * shutdown; see server.h.
 *
 * Connection caps are enforced at accept: over max_connections, or over
 * max_connections_per_ip for one client address, the connection gets
 * "421 4.7.0" and is closed at once, without a session.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "addr.h"
#include "conf.h"
#include "dns.h"
#include "local.h"
#include "log.h"
#include "pinstore.h"
#include "queue.h"
#include "runner.h"
#include "server.h"
#include "session.h"
#include "tls.h"
#include "worker.h"

#define LISTEN_BACKLOG	1024
#define LOCAL_SCAN_SECS	60
#define STOP_DEADLINE_SECS 10	/* then sessions still flushing are cut */

struct server *
server_new(struct event_base *base, const char *conf_path, struct conf *conf,
    struct tls_server *tls, char *err, size_t errlen)
{
	struct server *srv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->ctx.base = base;
	srv->conf_path = conf_path;
	srv->ctx.conf = conf;
	srv->ctx.tls = tls;
	LIST_INIT(&srv->conns);
	return srv;
}

/* ------------------------------------------------------------------ */
/* sessions: the server's list, and the hooks they call                 */

struct server_conn {
	LIST_ENTRY(server_conn)	 entry;
	struct server		*srv;
	struct session		*s;
};

static void	server_check_done(struct server *);

static void
conn_queued(void *arg, const char *id, int local, int remote)
{
	struct server_conn *n = arg;

	if (local)
		local_schedule(&n->srv->ctx, id);
	if (remote)
		runner_kick(n->srv->runner);
}

static void
conn_gone(void *arg)
{
	struct server_conn *n = arg;
	struct server *srv = n->srv;

	LIST_REMOVE(n, entry);
	free(n);
	srv->nsessions--;
	server_check_done(srv);
}

static size_t
conns_from(const struct server *srv, const struct sockaddr *sa)
{
	const struct server_conn *n;
	size_t	k = 0;

	LIST_FOREACH(n, &srv->conns, entry)
		if (addr_same_host(session_addr(n->s), sa))
			k++;
	return k;
}

static int
conn_new(struct server *srv, evutil_socket_t fd, const struct sockaddr *sa,
    socklen_t salen, int tls)
{
	struct server_conn *n;
	struct session_hooks hooks = { conn_queued, conn_gone, NULL };

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -1;
	n->srv = srv;
	hooks.arg = n;
	n->s = session_new(&srv->ctx, srv->next_id++, fd, sa, salen, tls,
	    &hooks);
	if (n->s == NULL) {
		free(n);
		return -1;
	}
	LIST_INSERT_HEAD(&srv->conns, n, entry);
	srv->nsessions++;
	return 0;
}

/* Each call may free its session, and with it the node. */
static void
conns_each(struct server *srv, void (*fn)(struct session *))
{
	struct server_conn *n, *next;

	for (n = LIST_FIRST(&srv->conns); n != NULL; n = next) {
		next = LIST_NEXT(n, entry);
		fn(n->s);
	}
}

/* "1.2.3.4:25" or "[::1]:25" into a sockaddr. */
static int
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char	host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	long	port;
	size_t	hl;

	if (colon == NULL || (hl = (size_t)(colon - s)) >= sizeof(host))
		return -1;
	port = strtol(colon + 1, NULL, 10);
	if (port < 1 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 ? 0 : -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	*len = sizeof(*in);
	return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? 0 : -1;
}

static int
bind_one(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int	fd, one = 1;

	if (parse_listen(addr, &ss, &len) == -1) {
		(void)snprintf(err, errlen, "listen: bad address %s", addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		(void)snprintf(err, errlen, "listen on %s: %s", addr,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

static void
refuse(evutil_socket_t fd, const char *why)
{
	static const char msg[] = "421 4.7.0 Too many connections, try "
	    "again later\r\n";

	(void)!write(fd, msg, sizeof(msg) - 1);
	close(fd);
	log_info("refused connection reason=\"%s\"", why);
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct server *srv = arg;
	size_t	i;
	int	tls = 0;

	for (i = 0; i < srv->nlis; i++)
		if (srv->lis[i] == lis)
			tls = srv->lis_tls[i];
	if (srv->ctx.stopping) {
		close(fd);
		return;
	}
	if ((int64_t)srv->nsessions >= srv->ctx.conf->max_connections) {
		refuse(fd, "max_connections");
		return;
	}
	if ((int64_t)conns_from(srv, sa) >=
	    srv->ctx.conf->max_connections_per_ip) {
		refuse(fd, "max_connections_per_ip");
		return;
	}
	if (conn_new(srv, fd, sa, (socklen_t)salen, tls) == -1) {
		log_warn("cannot start a session: out of memory");
		close(fd);
	}
}

/*
 * accept() failed: out of descriptors (EMFILE, ENFILE) would fail again
 * at once and spin, so the listeners rest a second; other errors are
 * logged once per occurrence.
 */
static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	size_t	i;

	(void)fd;
	(void)what;
	if (srv->ctx.stopping)
		return;
	for (i = 0; i < srv->nlis; i++)
		(void)evconnlistener_enable(srv->lis[i]);
}

static void
accept_error_cb(struct evconnlistener *lis, void *arg)
{
	struct server *srv = arg;
	int	e = EVUTIL_SOCKET_ERROR();
	size_t	i;
	struct timeval tv = { 1, 0 };

	(void)lis;
	if (e != EMFILE && e != ENFILE) {
		log_warn("accept: %s", strerror(e));
		return;
	}
	log_warn("accept: %s; not accepting for 1s", strerror(e));
	for (i = 0; i < srv->nlis; i++)
		(void)evconnlistener_disable(srv->lis[i]);
	(void)event_base_once(srv->ctx.base, -1, EV_TIMEOUT, resume_cb, srv, &tv);
}

static int
listen_list(struct server *srv, const struct conf_list *l, int tls,
    char *err, size_t errlen)
{
	struct evconnlistener *lis;
	size_t	i;
	int	fd;

	for (i = 0; i < l->n; i++) {
		if (srv->nlis >= SERVER_LISTEN_MAX) {
			(void)snprintf(err, errlen, "more than %d listeners",
			    SERVER_LISTEN_MAX);
			return -1;
		}
		if ((fd = bind_one(l->v[i], err, errlen)) == -1)
			return -1;
		lis = evconnlistener_new(srv->ctx.base, accept_cb, srv,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
		    LEV_OPT_DISABLED, -1, fd);
		if (lis != NULL)
			evconnlistener_set_error_cb(lis, accept_error_cb);
		if (lis == NULL) {
			close(fd);
			(void)snprintf(err, errlen, "listener for %s failed",
			    l->v[i]);
			return -1;
		}
		srv->lis_tls[srv->nlis] = tls;
		srv->lis[srv->nlis++] = lis;
		log_info("listening on %s%s", l->v[i], tls ? " tls=implicit" :
		    "");
	}
	return 0;
}

int
server_listen(struct server *srv, char *err, size_t errlen)
{
	if (listen_list(srv, &srv->ctx.conf->listen, 0, err, errlen) == -1 ||
	    listen_list(srv, &srv->ctx.conf->listen_tls, 1, err, errlen) == -1)
		return -1;
	if (srv->ctx.conf->listen_tls.n > 0 && srv->ctx.tls == NULL) {
		(void)snprintf(err, errlen, "listen_tls needs TLS");
		return -1;
	}
	return 0;
}

static void
local_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	if (!srv->ctx.stopping && worker_busy(srv->ctx.worker) == 0)
		local_scan(&srv->ctx);
}

static void
runner_idle(void *arg)
{
	server_check_done(arg);
}

/* The sending side: DNS, the client TLS context, the store, the runner. */
static int
delivery_start(struct server *srv, char *err, size_t errlen)
{
	srv->ctx.dns = dns_new(srv->ctx.base, srv->ctx.conf->dns_resolver, err, errlen);
	if (srv->ctx.dns == NULL)
		return -1;
	if ((srv->ctx.client_ctx = tls_client_ctx_new(srv->ctx.conf, err,
	    errlen)) == NULL)
		return -1;
	/*
	 * The store has a thread of its own: a store locked by another
	 * process must not hold up the commits behind every 250.
	 */
	if ((srv->store_worker = worker_new(srv->ctx.base, 1)) == NULL) {
		(void)snprintf(err, errlen, "cannot start the store thread");
		return -1;
	}
	srv->ctx.pins = pinstore_open(srv->store_worker, srv->ctx.conf->store, err,
	    errlen);
	if (srv->ctx.pins == NULL)
		return -1;
	if ((srv->runner = runner_new(&srv->ctx, runner_idle, srv)) == NULL) {
		(void)snprintf(err, errlen, "cannot start the queue runner");
		return -1;
	}
	return 0;
}

int
server_start(struct server *srv, char *err, size_t errlen)
{
	struct timeval tv = { LOCAL_SCAN_SECS, 0 };
	size_t	i;

	srv->ctx.queue = queue_open(srv->ctx.conf->spool_dir, err, errlen);
	if (srv->ctx.queue == NULL)
		return -1;
	if (queue_recover(srv->ctx.queue, err, errlen) == -1)
		log_warn("queue: %s", err);
	if ((srv->ctx.worker = worker_new(srv->ctx.base,
	    (size_t)srv->ctx.conf->queue_workers)) == NULL) {
		(void)snprintf(err, errlen, "cannot start the worker thread");
		return -1;
	}
	if (delivery_start(srv, err, errlen) == -1)
		return -1;
	srv->local_timer = event_new(srv->ctx.base, -1, EV_PERSIST,
	    local_timer_cb, srv);
	if (srv->local_timer == NULL ||
	    event_add(srv->local_timer, &tv) == -1) {
		(void)snprintf(err, errlen, "cannot start the queue timer");
		return -1;
	}
	for (i = 0; i < srv->nlis; i++)
		if (evconnlistener_enable(srv->lis[i]) == -1) {
			(void)snprintf(err, errlen, "cannot accept");
			return -1;
		}
	local_scan(&srv->ctx);
	return 0;
}

void
server_reload(struct server *srv)
{
	struct conf *c;
	struct tls_server *ts;
	char	err[CONF_ERR_MAX];

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	if (conf_load(srv->conf_path, c, err, sizeof(err)) == -1) {
		log_warn("reload: %s; keeping the running configuration", err);
		free(c);
		return;
	}
	if ((ts = tls_server_new(c, err, sizeof(err))) == NULL) {
		log_warn("reload: %s; keeping the running configuration", err);
		conf_free(c);
		free(c);
		return;
	}
	tls_server_free(srv->ctx.tls);
	srv->ctx.tls = ts;
	conf_free(srv->ctx.conf);
	free(srv->ctx.conf);
	srv->ctx.conf = c;
	log_info("reloaded %s %s (listeners, user and spool_dir change "
	    "only on restart)", srv->conf_path, tls_server_verdict(ts));
}

static void
server_check_done(struct server *srv)
{
	if (srv->ctx.stopping && srv->nsessions == 0 &&
	    runner_busy(srv->runner) == 0)
		(void)event_base_loopexit(srv->ctx.base, NULL);
}

static void
stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	log_info("stop deadline: closing %zu sessions, %zu deliveries",
	    srv->nsessions, runner_busy(srv->runner));
	conns_each(srv, session_abort);
	runner_abort(srv->runner);
}

void
server_stop(struct server *srv)
{
	struct timeval tv = { STOP_DEADLINE_SECS, 0 };
	size_t	i;

	if (srv->ctx.stopping)
		return;
	srv->ctx.stopping = 1;
	log_info("stopping: %zu sessions", srv->nsessions);
	for (i = 0; i < srv->nlis; i++)
		(void)evconnlistener_disable(srv->lis[i]);
	if (srv->local_timer != NULL)
		(void)event_del(srv->local_timer);
	srv->stop_timer = evtimer_new(srv->ctx.base, stop_timer_cb, srv);
	if (srv->stop_timer != NULL)
		(void)evtimer_add(srv->stop_timer, &tv);
	conns_each(srv, session_shutdown);
	server_check_done(srv);
}

void
server_flush(struct server *srv)
{
	runner_flush(srv->runner);
}

void
server_free(struct server *srv)
{
	size_t	i;

	if (srv == NULL)
		return;
	worker_free(srv->ctx.worker);	/* finishes queued deliveries */
	worker_free(srv->store_worker);
	runner_free(srv->runner);
	pinstore_close(srv->ctx.pins);
	dns_free(srv->ctx.dns);
	tls_client_ctx_free(srv->ctx.client_ctx);
	for (i = 0; i < srv->nlis; i++)
		evconnlistener_free(srv->lis[i]);
	if (srv->local_timer != NULL)
		event_free(srv->local_timer);
	if (srv->stop_timer != NULL)
		event_free(srv->stop_timer);
	queue_close(srv->ctx.queue);
	tls_server_free(srv->ctx.tls);
	free(srv);
}
