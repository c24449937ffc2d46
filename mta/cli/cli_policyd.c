/*
 * cli_policyd.c - pinpost policyd: a socketmap server that turns the pin
 *	store into TLS policy for an unmodified Postfix.
 *
 * SYNOPSIS
 *	pinpost [-s store] policyd [-v] [-n name] [-c max] LISTEN
 *
 *	LISTEN	unix:PATH | inet:ADDR:PORT   (ADDR may be [IPv6])
 *
 * DESCRIPTION
 *	Postfix's smtp_tls_policy_maps = socketmap:LISTEN:NAME sends one
 *	netstring "NAME KEY" per lookup, KEY being the next-hop destination
 *	(a recipient domain, "[host]:port", ...), and reads one netstring
 *	back.  The answer comes from the pin store, opened read-only once
 *	(tdb locks across processes, so pinpostd may write it meanwhile):
 *
 *	"OK fingerprint match=HEX|HEX..."	live pins are known
 *	"OK encrypt"				live STSEC, no live pins
 *	"NOTFOUND "				nothing live
 *	"TEMP reason"				the store failed: Postfix
 *						defers (fail closed)
 *	"PERM reason"				an unknown map name
 *
 *	HEX is Postfix's public-key fingerprint with
 *	smtp_tls_fingerprint_digest = sha256: SHA-256 over the DER
 *	SubjectPublicKeyInfo, the very bytes of a PKP pin, written as
 *	upper-case hex pairs joined by ':'.
 *
 *	Keys: "[addr]" and "[addr]:port" are looked up as pinpostd stores
 *	address literals ("[addr]" for port 25); "[name]" and "[name]:port"
 *	as the host "name"; "name" and "name:port" as the host "name" and
 *	the domain "name" (an STSEC inherited by the domain, DESIGN 1.4,
 *	adds the pins of the host that taught it).  Keys starting with '.'
 *	(Postfix's parent-domain probes) and names that cannot be in the
 *	store are NOTFOUND.
 *
 *	One process, poll(2), non-blocking sockets; every buffer bounded:
 *	a request longer than REQ_MAX, or not a netstring, closes that
 *	connection.  SIGTERM / SIGINT stop it (a UNIX socket is removed).
 *
 * DIAGNOSTICS
 *	One line per lookup with -v ("key=K answer=..."); store errors and
 *	protocol errors always.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stsec.h"
#include "cli.h"
#include "log.h"

#define REQ_MAX		1024	/* netstring payload: "name key" */
#define REQ_BUF		(REQ_MAX + 8)	/* "1024:" + payload + "," */
#define REPLY_MAX	4096	/* 32 fingerprints of 95 octets fit */
#define CONN_MAX_DEFAULT 64
#define CONN_MAX_LIMIT	1000
#define IDLE_SECONDS	300
#define MAP_NAME_DEFAULT "pinpost"

struct conn {
	int		fd;
	time_t		last;
	size_t		inlen;
	char		in[REQ_BUF];
	size_t		outlen, outoff;
	char		out[REPLY_MAX + 16];
};

struct policyd {
	struct stsec_store *st;
	const char	*map;
	int		verbose;
	int		lfd;
	char		unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t		nconn, maxconn;
	struct conn	**conn;
};

static volatile sig_atomic_t policyd_stop;

static void
stop_cb(int sig)
{
	(void)sig;
	policyd_stop = 1;
}

/* cli_err() for functions that return -1 on failure. */
#define FAIL(...)	(cli_err(__VA_ARGS__), -1)

/* ------------------------------------------------------------------ */
/* answers								*/

/* The pins' fingerprints, "HEX|HEX", appended to buf at *off. */
static void
add_fingerprints(const struct stsec_pinset *pins, char *buf, size_t len,
    size_t *off)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t	i, k;

	for (i = 0; i < pins->n; i++) {
		if (*off + 3 * STSEC_PIN_LEN + 1 >= len)
			return;		/* cannot happen: REPLY_MAX fits 32 */
		if (buf[*off - 1] != '=')
			buf[(*off)++] = '|';
		for (k = 0; k < STSEC_PIN_LEN; k++) {
			unsigned char c = pins->pin[i].hash[k];

			if (k > 0)
				buf[(*off)++] = ':';
			buf[(*off)++] = hex[c >> 4];
			buf[(*off)++] = hex[c & 15];
		}
	}
	buf[*off] = '\0';
}

/*
 * The store names a key stands for: *host always, *domain ("" if none)
 * for an unbracketed key.  0, or -1 when the key cannot name a record.
 */
static int
key_names(const char *key, char *host, char *domain, size_t len)
{
	struct stsec_error err;
	char	tmp[STSEC_NAME_MAX + 8];
	const char *close, *colon;
	size_t	n;

	domain[0] = '\0';
	if (key[0] == '\0' || key[0] == '.' || strlen(key) >= sizeof(tmp))
		return -1;
	if (key[0] == '[') {
		/* an address literal: stored with its port, none for 25 */
		if ((close = strchr(key, ']')) == NULL)
			return -1;
		n = (size_t)(close - key) + 1;
		if (strcmp(close + 1, ":25") == 0 || close[1] == '\0')
			(void)snprintf(tmp, sizeof(tmp), "%.*s", (int)n, key);
		else
			(void)snprintf(tmp, sizeof(tmp), "%s", key);
		if (stsec_name_normalize(tmp, host, len, &err) == 0)
			return 0;
		/* "[name]" or "[name]:port": the host, no MX lookup */
		(void)snprintf(tmp, sizeof(tmp), "%.*s", (int)n - 2, key + 1);
		return stsec_name_normalize(tmp, host, len, &err);
	}
	colon = strrchr(key, ':');
	n = colon != NULL ? (size_t)(colon - key) : strlen(key);
	(void)snprintf(tmp, sizeof(tmp), "%.*s", (int)n, key);
	if (stsec_name_normalize(tmp, host, len, &err) == -1)
		return -1;
	(void)snprintf(domain, len, "%s", host);
	return 0;
}

/*
 * The reply payload for one key, into reply.  Returns 0, or -1 on a
 * store error (reply then holds the TEMP answer).
 */
static int
policyd_answer(struct stsec_store *st, const char *key, char *reply,
    size_t len)
{
	struct stsec_error err;
	struct stsec_host_rec h, via;
	struct stsec_domain_rec d;
	struct stsec_pinset pins;
	char	host[STSEC_NAME_MAX + 1], domain[STSEC_NAME_MAX + 1];
	int64_t	now = (int64_t)time(NULL);
	int	hf = 0, df = 0, vf = 0, stsec = 0;
	size_t	i, off;

	if (key_names(key, host, domain, sizeof(host)) == -1) {
		(void)snprintf(reply, len, "NOTFOUND ");
		return 0;
	}
	if ((hf = stsec_store_get_host(st, host, &h, &err)) == -1 ||
	    (domain[0] != '\0' &&
	    (df = stsec_store_get_domain(st, domain, &d, &err)) == -1))
		goto temp;
	if (df == 1 && stsec_domain_live(&d, now) && d.via[0] != '\0' &&
	    strcmp(d.via, host) != 0 &&
	    (vf = stsec_store_get_host(st, d.via, &via, &err)) == -1)
		goto temp;

	stsec_pinset_clear(&pins);
	if (hf == 1 && stsec_host_pkp_live(&h, now))
		pins = h.pins;
	if (vf == 1 && stsec_host_pkp_live(&via, now))
		for (i = 0; i < via.pins.n; i++)
			(void)stsec_pinset_add(&pins, &via.pins.pin[i], NULL);
	stsec = (hf == 1 && stsec_host_stsec_live(&h, now)) ||
	    (df == 1 && stsec_domain_live(&d, now));

	if (pins.n > 0) {
		off = (size_t)snprintf(reply, len, "OK fingerprint match=");
		add_fingerprints(&pins, reply, len, &off);
	} else if (stsec)
		(void)snprintf(reply, len, "OK encrypt");
	else
		(void)snprintf(reply, len, "NOTFOUND ");
	return 0;
temp:
	(void)snprintf(reply, len, "TEMP pin store: %s", err.msg);
	return -1;
}

/* ------------------------------------------------------------------ */
/* the protocol								*/

static void
conn_reply(struct conn *c, const char *payload)
{
	int	n;

	n = snprintf(c->out, sizeof(c->out), "%zu:%s,", strlen(payload),
	    payload);
	if (n < 0 || (size_t)n >= sizeof(c->out))
		abort();	/* REPLY_MAX bounds every payload */
	c->outlen = (size_t)n;
	c->outoff = 0;
}

/*
 * One complete netstring at the start of c->in?  1 and *pstart, *plen
 * when so, 0 when more input is needed, -1 when it cannot be one.
 */
static int
netstring_parse(const struct conn *c, size_t *pstart, size_t *plen)
{
	size_t	i, v = 0;

	for (i = 0; i < c->inlen && isdigit((unsigned char)c->in[i]); i++) {
		v = v * 10 + (size_t)(c->in[i] - '0');
		if (v > REQ_MAX || i >= 4)
			return -1;
	}
	if (i == c->inlen)
		return 0;
	if (i == 0 || c->in[i] != ':')
		return -1;
	if (c->inlen < i + 1 + v + 1)
		return 0;
	if (c->in[i + 1 + v] != ',')
		return -1;
	*pstart = i + 1;
	*plen = v;
	return 1;
}

static void
handle_request(struct policyd *p, struct conn *c, const char *req)
{
	char	reply[REPLY_MAX], safe[REQ_MAX * 4 + 1];
	const char *sp = strchr(req, ' ');
	size_t	nlen = sp != NULL ? (size_t)(sp - req) : strlen(req);

	if (nlen != strlen(p->map) || strncmp(req, p->map, nlen) != 0) {
		(void)log_text(req, nlen, safe, sizeof(safe));
		log_warn("policyd unknown-map name=\"%s\"", safe);
		(void)snprintf(reply, sizeof(reply), "PERM unknown map name; "
		    "this server answers \"%s\"", p->map);
	} else if (policyd_answer(p->st, sp != NULL ? sp + 1 : "", reply,
	    sizeof(reply)) == -1) {
		(void)log_text(sp + 1, strlen(sp + 1), safe, sizeof(safe));
		log_warn("policyd key=%s answer=\"%s\"", safe, reply);
	} else if (p->verbose) {
		(void)log_text(sp ? sp + 1 : "", sp ? strlen(sp + 1) : 0,
		    safe, sizeof(safe));
		log_info("policyd key=%s answer=\"%s\"", safe, reply);
	}
	conn_reply(c, reply);
}

/* Answers the complete requests in c->in; -1 on a protocol error. */
static int
conn_input(struct policyd *p, struct conn *c)
{
	char	req[REQ_MAX + 1];
	size_t	start, len, used;
	int	r;

	while (c->outlen == 0 && (r = netstring_parse(c, &start, &len)) != 0) {
		if (r == -1) {
			log_warn("policyd fd=%d closed: not a netstring or "
			    "longer than %d octets", c->fd, REQ_MAX);
			return -1;
		}
		memcpy(req, c->in + start, len);
		req[len] = '\0';
		if (memchr(req, '\0', len) != NULL) {
			log_warn("policyd fd=%d closed: NUL in request", c->fd);
			return -1;
		}
		used = start + len + 1;
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
		handle_request(p, c, req);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* sockets								*/

static int
set_nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int
listen_unix(struct policyd *p, const char *path)
{
	struct sockaddr_un sun;
	struct stat sb;
	int	fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return FAIL("policyd: %s: socket path too long", path);
	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return FAIL("policyd: socket: %s", strerror(errno));
	/* a socket left by a previous run, not a live one, nor a file */
	if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			return FAIL("policyd: %s: in use by a running "
			    "server", path);
		}
		(void)unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)cli_err("policyd: bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* Postfix's smtp runs as its own user; pins are not secret */
	(void)chmod(path, 0666);
	(void)snprintf(p->unix_path, sizeof(p->unix_path), "%s", path);
	return fd;
}

static int
listen_inet(const char *spec)
{
	struct addrinfo hints, *res = NULL;
	char	host[256];
	const char *colon = strrchr(spec, ':');
	size_t	n;
	int	fd, on = 1, rc;

	if (colon == NULL || colon == spec || colon[1] == '\0')
		return FAIL("policyd: inet:%s: want inet:ADDR:PORT", spec);
	n = (size_t)(colon - spec);
	if (spec[0] == '[' && n >= 2 && spec[n - 1] == ']')
		(void)snprintf(host, sizeof(host), "%.*s", (int)n - 2, spec + 1);
	else
		(void)snprintf(host, sizeof(host), "%.*s", (int)n, spec);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		return FAIL("policyd: inet:%s: %s", spec, gai_strerror(rc));
	if ((fd = socket(res->ai_family, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		(void)cli_err("policyd: inet:%s: %s", spec, strerror(errno));
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int
policyd_listen(struct policyd *p, const char *spec)
{
	int	fd;

	if (strncmp(spec, "unix:", 5) == 0)
		fd = listen_unix(p, spec + 5);
	else if (strncmp(spec, "inet:", 5) == 0)
		fd = listen_inet(spec + 5);
	else
		return FAIL("policyd: %s: want unix:PATH or "
		    "inet:ADDR:PORT", spec);
	if (fd == -1)
		return -1;
	if (listen(fd, 64) == -1 || set_nonblock(fd) == -1) {
		(void)cli_err("policyd: listen %s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	p->lfd = fd;
	return 0;
}

static void
conn_close(struct policyd *p, size_t i)
{
	close(p->conn[i]->fd);
	free(p->conn[i]);
	p->conn[i] = p->conn[--p->nconn];
}

static void
accept_one(struct policyd *p)
{
	struct conn *c;
	int	fd, on = 1;

	if ((fd = accept(p->lfd, NULL, NULL)) == -1)
		return;		/* EAGAIN, ECONNABORTED, EMFILE: next time */
	if (p->nconn >= p->maxconn || set_nonblock(fd) == -1 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("policyd refused a connection: %zu open, max %zu",
		    p->nconn, p->maxconn);
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	c->fd = fd;
	c->last = time(NULL);
	p->conn[p->nconn++] = c;
}

/* Reads and writes what poll said is ready; -1: close the connection. */
static int
conn_io(struct policyd *p, struct conn *c, short revents)
{
	ssize_t	n;

	if (revents & (POLLERR | POLLNVAL))
		return -1;
	if (c->outlen > 0 && (revents & POLLOUT)) {
		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0 && (c->outoff += (size_t)n) == c->outlen)
			c->outlen = c->outoff = 0;
	}
	if (revents & (POLLIN | POLLHUP)) {
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n > 0)
			c->inlen += (size_t)n;
		c->last = time(NULL);
	}
	if (conn_input(p, c) == -1)
		return -1;
	/* a full buffer that is no netstring was refused above */
	return 0;
}

static int
policyd_loop(struct policyd *p)
{
	struct pollfd *pfd;
	size_t	i, n;
	time_t	now;

	if ((pfd = calloc(p->maxconn + 1, sizeof(*pfd))) == NULL)
		return cli_err("policyd: out of memory");
	while (!policyd_stop) {
		pfd[0].fd = p->lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < p->nconn; i++) {
			pfd[i + 1].fd = p->conn[i]->fd;
			/* one request at a time: read again once answered */
			pfd[i + 1].events = p->conn[i]->outlen > 0 ? POLLOUT :
			    POLLIN;
			pfd[i + 1].revents = 0;
		}
		n = p->nconn;
		if (poll(pfd, n + 1, 1000) == -1) {
			if (errno == EINTR)
				continue;
			free(pfd);
			return cli_err("policyd: poll: %s", strerror(errno));
		}
		now = time(NULL);
		/* backwards: conn_close() moves the last entry into i */
		for (i = n; i-- > 0; ) {
			if (conn_io(p, p->conn[i], pfd[i + 1].revents) == -1 ||
			    now - p->conn[i]->last > IDLE_SECONDS)
				conn_close(p, i);
		}
		if (pfd[0].revents & POLLIN)
			accept_one(p);
	}
	free(pfd);
	return CLI_OK;
}

int
cli_policyd_main(struct cli *cli, int argc, char **argv)
{
	struct policyd p;
	struct stsec_error err;
	struct sigaction sa;
	char	*end;
	long	v;
	int	ch, rc;

	memset(&p, 0, sizeof(p));
	p.map = MAP_NAME_DEFAULT;
	p.maxconn = CONN_MAX_DEFAULT;
	p.lfd = -1;
	while ((ch = getopt(argc, argv, "vn:c:")) != -1) {
		switch (ch) {
		case 'v':
			p.verbose = 1;
			break;
		case 'n':
			if (optarg[0] == '\0' || strchr(optarg, ' ') != NULL)
				return cli_usage("policyd");
			p.map = optarg;
			break;
		case 'c':
			v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 1 || v > CONN_MAX_LIMIT)
				return cli_usage("policyd");
			p.maxconn = (size_t)v;
			break;
		default:
			return cli_usage("policyd");
		}
	}
	if (argc - optind != 1)
		return cli_usage("policyd");
	log_init("pinpost-policyd", 1, p.verbose);
	if ((p.conn = calloc(p.maxconn, sizeof(*p.conn))) == NULL)
		return cli_err("policyd: out of memory");
	if ((p.st = stsec_store_open(cli_store_path(cli), STSEC_STORE_RDONLY,
	    &err)) == NULL) {
		free(p.conn);
		return cli_err("policyd: %s", err.msg);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stop_cb;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	if (policyd_listen(&p, argv[optind]) == -1) {
		stsec_store_close(p.st);
		free(p.conn);
		return CLI_FAIL;
	}
	log_info("policyd ready listen=%s map=%s store=%s", argv[optind],
	    p.map, stsec_store_path(p.st));
	rc = policyd_loop(&p);
	while (p.nconn > 0)
		conn_close(&p, p.nconn - 1);
	close(p.lfd);
	if (p.unix_path[0] != '\0')
		(void)unlink(p.unix_path);
	stsec_store_close(p.st);
	free(p.conn);
	log_info("policyd stopped");
	return rc;
}
