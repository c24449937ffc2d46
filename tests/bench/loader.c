/*
 * loader.c - the SMTP load generator of `make bench` for what
 * smtp-source cannot do: STARTTLS (and implicit TLS), TLS session
 * resumption, and handshake-only sessions.  It also speaks plaintext, so
 * its numbers can be checked against smtp-source's.
 *
 *	loader [-T plain|starttls|implicit] [-s SESSIONS] [-m MESSAGES]
 *	    [-d PER_CONN] [-l BYTES] [-H] [-R] [-t SECONDS] [-e EHLO]
 *	    [-f FROM] [-r RCPT] HOST:PORT
 *
 *	-s	sessions in parallel, one thread each (default 1)
 *	-m	messages in all (default 1); with -H, connections in all
 *	-d	messages per connection (default 1; 0: MESSAGES / SESSIONS,
 *		rounded up)
 *	-l	payload bytes of each message, in 78-octet lines (default 1024)
 *	-H	handshake mode: greeting, EHLO, STARTTLS, handshake, EHLO,
 *		QUIT - no message (implicit: handshake, greeting, EHLO, QUIT)
 *	-R	resume TLS sessions: each thread offers the session (ticket)
 *		of its previous connection
 *	-t	stop starting connections after SECONDS (then -m is a cap)
 *
 * Commands go in lock-step (no PIPELINING), as smtp-source sends them.
 * At the end it prints one line of JSON: wall time, messages, connections,
 * handshakes resumed, errors, and its own user and system CPU time (so a
 * run can show the loader was not the bottleneck).  Exit 1 if any error.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum mode { M_PLAIN, M_STARTTLS, M_IMPLICIT };

static struct {
	enum mode	 mode;
	int		 sessions;
	long		 messages;
	long		 per_conn;
	long		 size;
	int		 handshake_only;
	int		 resume;
	double		 seconds;
	const char	*ehlo;
	const char	*from;
	const char	*rcpt;
	struct sockaddr_in sa;
	SSL_CTX		*ctx;
	char		*body;
	size_t		 body_len;
	double		 deadline;
} opt = { .mode = M_PLAIN, .sessions = 1, .messages = 1, .per_conn = 1,
	  .size = 1024, .ehlo = "loader.bench.test",
	  .from = "sender@loader.bench.test", .rcpt = "alice@example.test" };

static atomic_long left;		/* messages (or connections) */
static atomic_long n_msgs, n_conns, n_resumed, n_errors;
static pthread_mutex_t errmu = PTHREAD_MUTEX_INITIALIZER;
static char first_error[256];

struct conn {
	int	 fd;
	SSL	*ssl;
	char	 buf[8192];
	size_t	 len;
	size_t	 off;
};

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fail(const char *what)
{
	atomic_fetch_add(&n_errors, 1);
	pthread_mutex_lock(&errmu);
	if (first_error[0] == '\0')
		(void)snprintf(first_error, sizeof(first_error), "%s", what);
	pthread_mutex_unlock(&errmu);
}

static int
c_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t	w;

		if (c->ssl != NULL) {
			int	r = SSL_write(c->ssl, p, (int)(n > 65536 ? 65536 :
			    n));

			if (r <= 0)
				return -1;
			w = r;
		} else if ((w = write(c->fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
c_fill(struct conn *c)
{
	ssize_t	r;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof(c->buf))
		return -1;
	if (c->ssl != NULL) {
		int	n = SSL_read(c->ssl, c->buf + c->len,
		    (int)(sizeof(c->buf) - c->len));

		r = n > 0 ? n : -1;
	} else {
		do
			r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		while (r == -1 && errno == EINTR);
	}
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	return 0;
}

/* One reply (all its lines); returns its code, -1 on EOF or garbage. */
static int
c_reply(struct conn *c)
{
	for (;;) {
		char	*nl;
		size_t	 n;

		while ((nl = memchr(c->buf + c->off, '\n', c->len - c->off)) ==
		    NULL)
			if (c_fill(c) == -1)
				return -1;
		n = (size_t)(nl - (c->buf + c->off)) + 1;
		if (n < 5) {
			c->off += n;
			return -1;
		}
		if (c->buf[c->off + 3] == ' ') {
			int	code = atoi(c->buf + c->off);

			c->off += n;
			return code;
		}
		c->off += n;
	}
}

static int
c_cmd(struct conn *c, const char *line, int want)
{
	char	buf[512];
	int	code, n;

	n = snprintf(buf, sizeof(buf), "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof(buf) || c_write(c, buf, (size_t)n) ==
	    -1)
		return -1;
	code = c_reply(c);
	return code == want ? 0 : -1;
}

static int
c_tls(struct conn *c, SSL_SESSION **sess)
{
	if ((c->ssl = SSL_new(opt.ctx)) == NULL)
		return -1;
	(void)SSL_set_tlsext_host_name(c->ssl, "mx.bench.test");
	if (opt.resume && *sess != NULL)
		(void)SSL_set_session(c->ssl, *sess);
	if (SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1)
		return -1;
	if (SSL_session_reused(c->ssl))
		atomic_fetch_add(&n_resumed, 1);
	return 0;
}

static int
send_message(struct conn *c, long seq)
{
	char	line[512];
	int	n;

	(void)snprintf(line, sizeof(line), "MAIL FROM:<%s>", opt.from);
	if (c_cmd(c, line, 250) == -1)
		return -1;
	(void)snprintf(line, sizeof(line), "RCPT TO:<%s>", opt.rcpt);
	if (c_cmd(c, line, 250) == -1 || c_cmd(c, "DATA", 354) == -1)
		return -1;
	n = snprintf(line, sizeof(line), "From: <%s>\r\nTo: <%s>\r\n"
	    "Subject: bench %ld\r\nMessage-ID: <%ld.%ld@loader.bench.test>\r\n"
	    "\r\n", opt.from, opt.rcpt, seq, seq, (long)getpid());
	if (c_write(c, line, (size_t)n) == -1 ||
	    c_write(c, opt.body, opt.body_len) == -1 ||
	    c_write(c, ".\r\n", 3) == -1 || c_reply(c) != 250)
		return -1;
	atomic_fetch_add(&n_msgs, 1);
	return 0;
}

/* One connection; returns 0, or -1 after an error. */
static int
one_conn(SSL_SESSION **sess)
{
	struct conn c;
	char	ehlo[300];
	int	one = 1, rc = -1;
	long	i, mine;

	memset(&c, 0, sizeof(c));
	(void)snprintf(ehlo, sizeof(ehlo), "EHLO %s", opt.ehlo);
	if ((c.fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	(void)setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c.fd, (struct sockaddr *)&opt.sa, sizeof(opt.sa)) == -1) {
		fail("connect");
		goto out;
	}
	atomic_fetch_add(&n_conns, 1);
	if (opt.mode == M_IMPLICIT && c_tls(&c, sess) == -1) {
		fail("implicit TLS handshake");
		goto out;
	}
	if (c_reply(&c) != 220 || c_cmd(&c, ehlo, 250) == -1) {
		fail("greeting or EHLO");
		goto out;
	}
	if (opt.mode == M_STARTTLS) {
		if (c_cmd(&c, "STARTTLS", 220) == -1 || c.off != c.len ||
		    c_tls(&c, sess) == -1 || c_cmd(&c, ehlo, 250) == -1) {
			fail("STARTTLS");
			goto out;
		}
	}
	if (opt.handshake_only)
		mine = 0;
	else {
		/* claim this connection's messages */
		long	want = opt.per_conn;

		mine = 0;
		while (mine < want && atomic_fetch_sub(&left, 1) > 0)
			mine++;
		if (mine < want)
			atomic_fetch_add(&left, 1);
	}
	for (i = 0; i < mine; i++)
		if (send_message(&c, atomic_load(&n_msgs)) == -1) {
			fail("message refused or connection lost");
			goto out;
		}
	if (c_cmd(&c, "QUIT", 221) == -1) {
		fail("QUIT");
		goto out;
	}
	rc = 0;
out:
	if (c.ssl != NULL) {
		if (rc == 0) {
			if (opt.resume) {
				SSL_SESSION *s = SSL_get1_session(c.ssl);

				if (s != NULL) {
					SSL_SESSION_free(*sess);
					*sess = s;
				}
			}
			(void)SSL_shutdown(c.ssl);
		}
		SSL_free(c.ssl);
	}
	(void)close(c.fd);
	return rc;
}

static void *
thread_main(void *arg)
{
	SSL_SESSION *sess = NULL;

	(void)arg;
	for (;;) {
		if (opt.deadline > 0 && now() >= opt.deadline)
			break;
		if (opt.handshake_only) {
			if (atomic_fetch_sub(&left, 1) <= 0)
				break;
		} else if (atomic_load(&left) <= 0)
			break;
		if (one_conn(&sess) == -1)
			break;
	}
	SSL_SESSION_free(sess);
	return NULL;
}

static char *
make_body(long size, size_t *len)
{
	static const char pat[] =
	    "The quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuvwxyz";
	char	*b = malloc((size_t)size + 80);
	size_t	 n = 0;

	if (b == NULL)
		return NULL;
	while ((long)n < size) {
		size_t	k = (size_t)size - n < 76 ? (size_t)size - n : 76;

		memcpy(b + n, pat, k);
		n += k;
		memcpy(b + n, "\r\n", 2);
		n += 2;
	}
	*len = n;
	return b;
}

static void
usage(void)
{
	(void)fprintf(stderr, "usage: loader [-T plain|starttls|implicit] "
	    "[-s sessions] [-m messages] [-d per-conn] [-l bytes] [-H] [-R] "
	    "[-t seconds] [-e ehlo] [-f from] [-r rcpt] HOST:PORT\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct rusage ru;
	pthread_t *th;
	double	 t0, t1;
	char	*host, *port;
	int	 ch, i;

	while ((ch = getopt(argc, argv, "T:s:m:d:l:HRt:e:f:r:")) != -1) {
		switch (ch) {
		case 'T':
			if (strcmp(optarg, "plain") == 0)
				opt.mode = M_PLAIN;
			else if (strcmp(optarg, "starttls") == 0)
				opt.mode = M_STARTTLS;
			else if (strcmp(optarg, "implicit") == 0)
				opt.mode = M_IMPLICIT;
			else
				usage();
			break;
		case 's': opt.sessions = atoi(optarg); break;
		case 'm': opt.messages = atol(optarg); break;
		case 'd': opt.per_conn = atol(optarg); break;
		case 'l': opt.size = atol(optarg); break;
		case 'H': opt.handshake_only = 1; break;
		case 'R': opt.resume = 1; break;
		case 't': opt.seconds = atof(optarg); break;
		case 'e': opt.ehlo = optarg; break;
		case 'f': opt.from = optarg; break;
		case 'r': opt.rcpt = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || opt.sessions < 1 || opt.messages < 1 ||
	    opt.size < 0)
		usage();
	host = argv[optind];
	if ((port = strrchr(host, ':')) == NULL)
		usage();
	*port++ = '\0';
	opt.sa.sin_family = AF_INET;
	opt.sa.sin_port = htons((unsigned short)atoi(port));
	if (inet_pton(AF_INET, host, &opt.sa.sin_addr) != 1)
		usage();
	if ((opt.body = make_body(opt.size, &opt.body_len)) == NULL)
		return 1;
	if (opt.mode != M_PLAIN) {
		if ((opt.ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			return 1;
		(void)SSL_CTX_set_min_proto_version(opt.ctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(opt.ctx, SSL_VERIFY_NONE, NULL);
		/* sessions kept by the threads, not by a shared cache */
		(void)SSL_CTX_set_session_cache_mode(opt.ctx,
		    SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	}
	if (opt.per_conn <= 0)
		opt.per_conn = (opt.messages + opt.sessions - 1) / opt.sessions;
	atomic_store(&left, opt.messages);
	if ((th = calloc((size_t)opt.sessions, sizeof(*th))) == NULL)
		return 1;
	t0 = now();
	if (opt.seconds > 0)
		opt.deadline = t0 + opt.seconds;
	for (i = 0; i < opt.sessions; i++)
		if (pthread_create(&th[i], NULL, thread_main, NULL) != 0)
			return 1;
	for (i = 0; i < opt.sessions; i++)
		(void)pthread_join(th[i], NULL);
	t1 = now();
	(void)getrusage(RUSAGE_SELF, &ru);
	printf("{\"wall\": %.6f, \"msgs\": %ld, \"conns\": %ld, "
	    "\"resumed\": %ld, \"errors\": %ld, \"utime\": %.6f, "
	    "\"stime\": %.6f, \"first_error\": \"%s\"}\n", t1 - t0,
	    atomic_load(&n_msgs), atomic_load(&n_conns),
	    atomic_load(&n_resumed), atomic_load(&n_errors),
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
	    first_error);
	SSL_CTX_free(opt.ctx);
	free(opt.body);
	free(th);
	return atomic_load(&n_errors) ? 1 : 0;
}
