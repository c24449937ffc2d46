/*
 * cli_smtp.c - a small blocking SMTP client for pinpost send: one
 * socket, one command at a time, a timeout on every read and write.
 *
 * FUNCTIONS
 *	cli_smtp_connect()	resolve HOST:PORT or [ADDR]:PORT, connect
 *	cli_smtp_read_reply()	one reply into c->reply (smtp_reply.h)
 *	cli_smtp_write()	bytes out
 *	cli_smtp_command()	a command line, then its reply
 *	cli_smtp_data()		the message, dot-stuffed, and "." CRLF
 *	cli_smtp_close()
 *
 * DESCRIPTION
 *	connect() runs non-blocking under poll() so that it too times out;
 *	afterwards the socket is blocking with SO_RCVTIMEO and SO_SNDTIMEO.
 *	Every address of the host is tried in turn.  Replies are read line
 *	by line, LF or CRLF ended, at most SMTP_REPLY_LINE_MAX octets each.
 *	SIGPIPE is avoided with MSG_NOSIGNAL.
 *
 * DIAGNOSTICS
 *	In c->err, naming the peer: "HOST:PORT: bad address (use
 *	host:port or [addr]:port)", "HOST: REASON" (getaddrinfo),
 *	"HOST:PORT: connect: REASON", "HOST:PORT: read: REASON", "HOST:PORT:
 *	timeout waiting for a reply", "HOST:PORT: connection closed",
 *	"HOST:PORT: malformed reply line", "HOST:PORT: write: REASON".
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli_smtp.h"
#include "smtp_cmd.h"
#include "smtp_data.h"

#define SMTP_CHUNK	4096

static int
smtp_fail(struct cli_smtp *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
smtp_fail(struct cli_smtp *c, int rc, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(c->err, sizeof(c->err), "%s: ", c->peer);
	if (n < 0 || (size_t)n >= sizeof(c->err))
		return rc;
	va_start(ap, fmt);
	(void)vsnprintf(c->err + n, sizeof(c->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

/* "host:port", "[addr]:port" into host and port. */
static int
split_hostport(const char *s, char *host, size_t hlen, char *port,
    size_t plen)
{
	const char *colon = strrchr(s, ':');
	size_t	n;

	if (colon == NULL || colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) >= plen)
		return -1;
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= hlen || memchr(s, '[', n) != NULL ||
	    memchr(s, ']', n) != NULL)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	(void)snprintf(port, plen, "%s", colon + 1);
	return 0;
}

static int
set_timeouts(int fd, int seconds)
{
	struct timeval tv = { seconds, 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		return -1;
	return 0;
}

/* connect() with a timeout; the socket is left blocking, with timeout
 * on every read and write.  -1: errno. */
static int
connect_timed(int fd, const struct addrinfo *ai, int seconds, int timeout)
{
	struct pollfd pfd = { fd, POLLOUT, 0 };
	int	flags, rc, soerr = 0;
	socklen_t len = sizeof(soerr);

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS)
			return -1;
		while ((rc = poll(&pfd, 1, seconds * 1000)) == -1 &&
		    errno == EINTR)
			;
		if (rc == 0)
			errno = ETIMEDOUT;
		if (rc <= 0)
			return -1;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
			return -1;
		if (soerr != 0) {
			errno = soerr;
			return -1;
		}
	}
	if (fcntl(fd, F_SETFL, flags) == -1 || set_timeouts(fd, timeout) == -1)
		return -1;
	return 0;
}

static int
try_addrs(struct cli_smtp *c, const struct addrinfo *res, int seconds)
{
	const struct addrinfo *ai;
	int	fd, saved = ECONNREFUSED;

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (connect_timed(fd, ai, seconds, c->timeout) == 0) {
			c->fd = fd;
			return EX_OK;
		}
		saved = errno;
		(void)close(fd);
	}
	return smtp_fail(c, EX_TEMPFAIL, "connect: %s", strerror(saved));
}

int
cli_smtp_connect(struct cli_smtp *c, const char *hostport,
    int connect_timeout, int timeout)
{
	struct addrinfo hints, *res = NULL;
	char	host[256], port[8];
	int	rc;

	c->fd = -1;
	c->timeout = timeout;
	c->rpos = c->rlen = 0;
	(void)snprintf(c->peer, sizeof(c->peer), "%s", hostport);
	if (split_hostport(hostport, host, sizeof(host), port,
	    sizeof(port)) == -1)
		return smtp_fail(c, EX_USAGE, "bad address (use host:port or "
		    "[addr]:port)");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return smtp_fail(c, rc == EAI_AGAIN ? EX_TEMPFAIL : EX_NOHOST,
		    "%s", gai_strerror(rc));
	rc = try_addrs(c, res, connect_timeout);
	freeaddrinfo(res);
	return rc;
}

/* Fills rbuf; EX_OK, or EX_TEMPFAIL on EOF, error or timeout. */
static int
smtp_fill(struct cli_smtp *c)
{
	ssize_t	n;

	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	while ((n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen,
	    0)) == -1 && errno == EINTR)
		;
	if (n == 0)
		return smtp_fail(c, EX_TEMPFAIL, "connection closed");
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return smtp_fail(c, EX_TEMPFAIL, "timeout waiting for a reply");
	if (n == -1)
		return smtp_fail(c, EX_TEMPFAIL, "read: %s", strerror(errno));
	c->rlen += (size_t)n;
	return EX_OK;
}

/* One line without its (CR)LF: *line and *len point into rbuf. */
static int
smtp_line(struct cli_smtp *c, const char **line, size_t *len)
{
	char	*lf;
	int	rc;

	while ((lf = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos)) ==
	    NULL) {
		if (c->rlen - c->rpos >= SMTP_REPLY_LINE_MAX)
			return smtp_fail(c, EX_PROTOCOL, "reply line too long");
		if ((rc = smtp_fill(c)) != EX_OK)
			return rc;
	}
	*line = c->rbuf + c->rpos;
	*len = (size_t)(lf - *line);
	c->rpos += *len + 1;
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	return EX_OK;
}

/* A bad line for a message: at most 64 octets, control octets as '?'. */
static void
show_line(const char *line, size_t len, char *out, size_t outlen)
{
	size_t	i;

	for (i = 0; i < len && i + 1 < outlen; i++)
		out[i] = (unsigned char)line[i] < ' ' || line[i] == 0x7f ?
		    '?' : line[i];
	out[i] = '\0';
}

int
cli_smtp_read_reply(struct cli_smtp *c)
{
	const char *line = NULL;
	char	bad[65];
	size_t	len = 0;
	int	rc;

	smtp_reply_init(&c->reply);
	do {
		if ((rc = smtp_line(c, &line, &len)) != EX_OK)
			return rc;
		if ((rc = smtp_reply_feed(&c->reply, line, len)) == -1) {
			show_line(line, len, bad, sizeof(bad));
			return smtp_fail(c, EX_PROTOCOL, "malformed reply line "
			    "'%s'", bad);
		}
	} while (rc == 0);
	return EX_OK;
}

int
cli_smtp_write(struct cli_smtp *c, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t	n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return smtp_fail(c, EX_TEMPFAIL, "write: timeout");
		if (n == -1)
			return smtp_fail(c, EX_TEMPFAIL, "write: %s",
			    strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return EX_OK;
}

int
cli_smtp_command(struct cli_smtp *c, const char *fmt, ...)
{
	char	line[SMTP_CMD_LINE_MAX + 1];
	va_list	ap;
	int	n, rc;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return smtp_fail(c, EX_DATAERR, "command too long");
	memcpy(line + n, "\r\n", 2);
	if ((rc = cli_smtp_write(c, line, (size_t)n + 2)) != EX_OK)
		return rc;
	return cli_smtp_read_reply(c);
}

int
cli_smtp_data(struct cli_smtp *c, const char *buf, size_t len)
{
	struct smtp_out o;
	char	out[2 * SMTP_CHUNK];
	size_t	i, n, k;
	int	rc;

	smtp_out_init(&o, 1);
	for (i = 0; i < len; i += n) {
		n = len - i < SMTP_CHUNK ? len - i : SMTP_CHUNK;
		k = smtp_out_feed(&o, buf + i, n, out);
		if ((rc = cli_smtp_write(c, out, k)) != EX_OK)
			return rc;
	}
	return o.bol ? cli_smtp_write(c, ".\r\n", 3) :
	    cli_smtp_write(c, "\r\n.\r\n", 5);
}

void
cli_smtp_close(struct cli_smtp *c)
{
	if (c->fd != -1)
		(void)close(c->fd);
	c->fd = -1;
}
