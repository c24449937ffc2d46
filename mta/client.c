/*
 * client.c - one delivery attempt over SMTP; see client.h.
 *
 * STATES (enter_state() logs every change at debug)
 *	RESOLVE		waiting for DNS
 *	STORE		waiting for the host's store record
 *	CONNECT		TCP connect to one address
 *	TLS_CONNECT	TCP connect and TLS handshake (implicit TLS)
 *	GREETING	waiting for 220
 *	EARLY		STARTTLS sent right after the greeting
 *	EHLO, HELO	waiting for the reply (plaintext or inside TLS)
 *	STARTTLS	waiting for 220 to STARTTLS
 *	HANDSHAKE	TLS handshake
 *	TXN		MAIL / RCPT (/ DATA) replies, pipelined or not
 *	BODY		sending the message (DATA or BDAT), then its reply
 *	QUIT		QUIT sent; waiting for 221 or the close
 *	DONE		finished: every recipient has its result
 *
 *	One response handler per state picks the next state, as in
 *	OpenSMTPD's mta_session.c.  The per-host policy comes from
 *	libstsec: stsec_policy_plan() before connecting,
 *	stsec_policy_no_tls() when TLS cannot be had,
 *	stsec_policy_check_chain() after the handshake, and noting
 *	(pinstore_note) from the EHLO reply inside TLS only.
 *
 * LOGS
 *	One line per policy decision: "id=ID host=H policy=P pins-known=N
 *	chain=PIN,... verdict=V status=S reason=...".
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "client.h"
#include "conf.h"
#include "dns.h"
#include "log.h"
#include "pinstore.h"
#include "ctx.h"
#include "smtp_cmd.h"
#include "smtp_data.h"
#include "smtp_reply.h"
#include "stsec.h"
#include "tlscache.h"
#include "addr.h"

enum client_state {
	C_RESOLVE = 0,
	C_STORE,
	C_CONNECT,
	C_TLS_CONNECT,
	C_GREETING,
	C_EARLY,
	C_EHLO,
	C_HELO,
	C_STARTTLS,
	C_HANDSHAKE,
	C_TXN,
	C_BODY,
	C_QUIT,
	C_DONE
};

#define F_PIPELINING	0x01
#define F_SIZE		0x02
#define F_8BITMIME	0x04
#define F_SMTPUTF8	0x08
#define F_CHUNKING	0x10
#define F_STARTTLS	0x20

#define BODY_CHUNK	65536

struct client {
	const struct mta_ctx	*ctx;
	struct delivery		*d;
	const struct client_observer *obs;	/* or NULL */
	client_done_fn		*done;
	void			*done_arg;
	enum client_state	 state;
	struct dns_query	*dq;
	struct dns_result	 hosts;
	size_t			 host_i, addr_i;
	char			 key[STSEC_NAME_MAX + 8];	/* store key */
	char			 sni[STSEC_NAME_MAX + 1];
	const char		*dom;	/* domain for inheritance, or NULL */
	struct stsec_policy_cfg	 cfg;
	struct stsec_plan	 plan;
	struct stsec_host_rec	 hrec;
	struct bufferevent	*bev;
	int			 tls;
	int			 plain_retry;	/* may: handshake failed */
	unsigned		 feat;
	uint64_t		 size_limit;
	struct smtp_reply	 reply;
	struct stsec_pinset	 chain;
	int			 chain_ok;	/* passed the pins: may note */
	struct evbuffer		*obuf;		/* commands not yet sent */
	/* transaction */
	int			 txn_started;
	int			 pipelined;
	int			 mail_ok;
	size_t			 rcpt_sent, rcpt_read, accepted;
	int			 data_sent;	/* DATA in the pipeline */
	int			 bdat;
	int			 fd;
	struct smtp_out		 out;		/* line ends, dot-stuffing */
	int			 body_done;
	int			 quit_sent;	/* QUIT after the body */
	/* a failure to give every recipient without a result */
	int			 fail_code;
	char			 fail_status[16];
	char			 fail_reply[QUEUE_REPLY_MAX + 1];
	int			 jobs;		/* store jobs out */
	int			 aborted;
};

static void	client_read_cb(struct bufferevent *, void *);
static void	client_write_cb(struct bufferevent *, void *);
static void	client_event_cb(struct bufferevent *, short, void *);
static void	try_host(struct client *);
static void	try_addr(struct client *);
static void	client_finish(struct client *);

static const char *
cstate_str(enum client_state s)
{
	static const char *const names[] = { "resolve", "store", "connect",
	    "tls-connect", "greeting", "early-starttls", "ehlo", "helo",
	    "starttls", "handshake", "txn", "body", "quit", "done" };

	return (size_t)s < sizeof(names) / sizeof(*names) ? names[s] : "?";
}

static void
enter_state(struct client *c, enum client_state s)
{
	if (c->state == C_DONE)
		return;		/* no way back from the end */
	log_debug("id=%s host=%s state %s -> %s", c->d->id, c->key,
	    cstate_str(c->state), cstate_str(s));
	c->state = s;
}

/* What the session sees, for an observer (pinpost probe). */
#define OBSERVE(c, fn, ...) do {					\
	if ((c)->obs != NULL && (c)->obs->fn != NULL)			\
		(c)->obs->fn((c)->obs->arg, __VA_ARGS__);		\
} while (0)

/* ------------------------------------------------------------------ */
/* results                                                              */

/*
 * The failures the client finds itself (the server's own replies and the
 * policy's decisions carry their codes with them), in one table; a text
 * may take string arguments.
 */
enum client_fail {
	CF_TOO_BIG,
	CF_NO_SMTPUTF8,
	CF_READ_MSG,
	CF_NO_TLS_START,
	CF_GREETING,
	CF_CLOSED_STARTTLS,
	CF_LONG_REPLY,
	CF_BAD_REPLY,
	CF_CONNECT,
	CF_HANDSHAKE,
	CF_LOST,
	CF_NOMEM,
	CF_CONNECT_FAILED,
	CF_STOPPED,
	CF_STORE,
	CF_STORE_DOWN,
	CF_NO_DOMAIN,
	CF_NULL_MX,
	CF_DNS,
	CF_DNS_QUERY,
	CF_UNREACHABLE,
	CF_ABORTED,
};

static const struct smtp_status client_fails[] = {
	[CF_TOO_BIG] = { 552, "5.3.4",
	    "message is larger than %s accepts (%s)" },
	[CF_NO_SMTPUTF8] = { 553, "5.6.7",
	    "%s does not support SMTPUTF8, which the message needs" },
	[CF_READ_MSG] = { 451, "4.3.0", "cannot read the queued message: %s" },
	[CF_NO_TLS_START] = { 451, "4.7.0", "%s: cannot start TLS" },
	[CF_GREETING] = { 451, "4.4.0", "%s greeted with: %s" },
	[CF_CLOSED_STARTTLS] = { 451, "4.4.2",
	    "%s closed the connection in reply to STARTTLS: %s" },
	[CF_LONG_REPLY] = { 451, "4.5.0", "%s: reply line too long" },
	[CF_BAD_REPLY] = { 451, "4.5.0", "%s: malformed reply" },
	[CF_CONNECT] = { 451, "4.4.1", "%s: %s" },
	[CF_HANDSHAKE] = { 451, "4.7.0", "TLS handshake failed: %s" },
	[CF_LOST] = { 451, "4.4.2", "%s: %s in state %s" },
	[CF_NOMEM] = { 451, "4.3.0", "out of memory" },
	[CF_CONNECT_FAILED] = { 451, "4.4.1", "%s: connect failed" },
	[CF_STOPPED] = { 451, "4.3.2", "delivery stopped (shutdown)" },
	[CF_STORE] = { 451, "4.3.0", "pin store: %s" },
	[CF_STORE_DOWN] = { 451, "4.3.0", "pin store unavailable" },
	[CF_NO_DOMAIN] = { 550, "5.1.2", "%s" },
	[CF_NULL_MX] = { 556, "5.1.10", "%s" },
	[CF_DNS] = { 451, "4.4.3", "%s" },
	[CF_DNS_QUERY] = { 451, "4.4.3", "%s: DNS query failed" },
	[CF_UNREACHABLE] = { 451, "4.4.1", "no host of %s could be reached" },
	[CF_ABORTED] = { 451, "4.3.2", "%s: delivery stopped (shutdown)" },
};

/* Remember why this host failed; the last one is what recipients get. */
static void
set_fail(struct client *c, int code, const char *status, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
set_fail(struct client *c, int code, const char *status, const char *fmt,
    ...)
{
	va_list	ap;

	c->fail_code = code;
	(void)snprintf(c->fail_status, sizeof(c->fail_status), "%s", status);
	va_start(ap, fmt);
	(void)vsnprintf(c->fail_reply, sizeof(c->fail_reply), fmt, ap);
	va_end(ap);
	OBSERVE(c, fail, c->fail_reply);
}

static void
fail(struct client *c, enum client_fail f, ...)
{
	const struct smtp_status *t = &client_fails[f];
	char	text[QUEUE_REPLY_MAX + 1];
	va_list	ap;

	va_start(ap, f);
	(void)vsnprintf(text, sizeof(text), t->text, ap);
	va_end(ap);
	set_fail(c, t->code, t->enh, "%d %s %s", t->code, t->enh, text);
}

static void
rcpt_result(struct delivery_rcpt *r, int code, const char *status,
    const char *reply)
{
	r->code = code;
	(void)snprintf(r->status, sizeof(r->status), "%s", status);
	(void)snprintf(r->reply, sizeof(r->reply), "%s", reply);
}

/* The enhanced status code in a reply text, or a default by class. */
static void
reply_status(const struct smtp_reply *r, char *out, size_t len)
{
	const char *t = smtp_reply_text(r, r->nlines ? r->nlines - 1 : 0);
	unsigned a, b, e;
	int	n = 0;

	if (t != NULL && sscanf(t, "%1u.%3u.%3u%n", &a, &b, &e, &n) == 3 &&
	    n > 0 && (t[n] == ' ' || t[n] == '\0') && a == (unsigned)r->code /
	    100) {
		(void)snprintf(out, len, "%u.%u.%u", a, b, e);
		return;
	}
	(void)snprintf(out, len, "%d.0.0", r->code / 100);
}

/* "CODE text" of the reply's last line, for the envelope and DSNs. */
static void
reply_line(const struct smtp_reply *r, char *out, size_t len)
{
	(void)snprintf(out, len, "%d %s", r->code,
	    smtp_reply_text(r, r->nlines ? r->nlines - 1 : 0));
}

/* ------------------------------------------------------------------ */
/* output                                                               */

static void
send_line(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Commands collect in obuf and go out together from out_flush(), at the
 * end of each callback: a pipelined group is one write, one TLS record
 * (RFC 2920: servers may tell a group apart from lock-step commands).
 */
static void
send_line(struct client *c, const char *fmt, ...)
{
	char	line[SMTP_REPLY_LINE_MAX + 3];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		log_warn("id=%s command too long", c->d->id);
		return;
	}
	memcpy(line + n, "\r\n", 2);
	if (evbuffer_add(c->obuf, line, (size_t)n + 2) == -1)
		log_warn("id=%s cannot queue a command", c->d->id);
}

static void
out_flush(struct client *c)
{
	if (c->bev == NULL || evbuffer_get_length(c->obuf) == 0)
		return;
	if (evbuffer_pullup(c->obuf, -1) == NULL ||
	    evbuffer_add_buffer(bufferevent_get_output(c->bev), c->obuf) == -1)
		log_warn("id=%s cannot send commands", c->d->id);
}

static void
conn_close(struct client *c)
{
	/* Commands never meant for the next connection. */
	(void)evbuffer_drain(c->obuf, evbuffer_get_length(c->obuf));
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

static void
send_quit(struct client *c)
{
	send_line(c, "QUIT");
	enter_state(c, C_QUIT);
}

/* This host is done with (failure set); on to the next. */
static void
next_host(struct client *c)
{
	conn_close(c);
	c->host_i++;
	c->addr_i = 0;
	c->plain_retry = 0;
	try_host(c);
}

static void
next_addr(struct client *c)
{
	conn_close(c);
	c->addr_i++;
	try_addr(c);
}

/* ------------------------------------------------------------------ */
/* policy                                                               */

static void
log_decision(struct client *c, const char *stage,
    const struct stsec_decision *dec)
{
	char	pins[STSEC_MAX_PINS * (STSEC_PIN_B64_LEN + 1) + 1] = "";
	char	b64[STSEC_PIN_B64_LEN + 1];
	size_t	i, o = 0;

	for (i = 0; i < c->chain.n && o + sizeof(b64) + 1 < sizeof(pins);
	    i++) {
		stsec_pin_to_b64(&c->chain.pin[i], b64);
		o += (size_t)snprintf(pins + o, sizeof(pins) - o, "%s%s",
		    i ? "," : "", b64);
	}
	log_info("id=%s host=%s stage=%s policy=%s level=%s pins-known=%zu "
	    "chain=%s verdict=%s%s status=%s reason=\"%s\"", c->d->id, c->key,
	    stage, stsec_why_str(c->plan.why),
	    stsec_tls_level_str(c->plan.level),
	    stsec_host_pkp_live(&c->hrec, time(NULL)) ? c->hrec.pins.n : 0,
	    pins[0] ? pins : "-", stsec_verdict_str(dec->verdict),
	    dec->report_only ? " report-only" : "",
	    dec->status != NULL ? dec->status : "-", dec->reason);
}

/* TLS could not be had: defer (and try the next host) or go plaintext. */
static int
no_tls(struct client *c, enum stsec_tls_event ev)
{
	struct stsec_decision dec;

	stsec_policy_no_tls(&c->plan, ev, &dec);
	log_decision(c, "no-tls", &dec);
	if (dec.verdict == STSEC_PROCEED)
		return 0;
	set_fail(c, 451, dec.status, "451 %s %s: %s", dec.status, c->key,
	    dec.reason);
	return -1;
}

/* ------------------------------------------------------------------ */
/* the transaction                                                      */

static uint64_t msg_size(const struct client *);
static void	body_begin(struct client *);

static const char *
mail_params(struct client *c, char *buf, size_t len)
{
	buf[0] = '\0';
	if (c->feat & F_SIZE)
		(void)snprintf(buf, len, " SIZE=%" PRIu64, msg_size(c));
	if ((c->feat & F_8BITMIME) && c->d->body_8bit)
		(void)strncat(buf, " BODY=8BITMIME", len - strlen(buf) - 1);
	if ((c->feat & F_SMTPUTF8) && c->d->smtputf8)
		(void)strncat(buf, " SMTPUTF8", len - strlen(buf) - 1);
	return buf;
}

static uint64_t
msg_size(const struct client *c)
{
	int	fd;
	off_t	end;

	if ((fd = open(c->d->msg_path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	end = lseek(fd, 0, SEEK_END);
	close(fd);
	return end > 0 ? (uint64_t)end : 0;
}

/* Checks that need no round trip: SIZE and SMTPUTF8. */
static int
txn_precheck(struct client *c)
{
	char	n[24];

	if ((c->feat & F_SIZE) && c->size_limit > 0 &&
	    msg_size(c) > c->size_limit) {
		(void)snprintf(n, sizeof(n), "%" PRIu64, c->size_limit);
		fail(c, CF_TOO_BIG, c->key, n);
		return -1;
	}
	if (c->d->smtputf8 && !(c->feat & F_SMTPUTF8)) {
		fail(c, CF_NO_SMTPUTF8, c->key);
		return -1;
	}
	return 0;
}

static void
txn_begin(struct client *c)
{
	char	params[64];
	size_t	i;

	if (txn_precheck(c) == -1) {
		send_quit(c);
		return;
	}
	c->txn_started = 1;
	c->pipelined = (c->feat & F_PIPELINING) != 0;
	c->bdat = (c->feat & F_CHUNKING) != 0;
	send_line(c, "MAIL FROM:<%s>%s", c->d->sender,
	    mail_params(c, params, sizeof(params)));
	if (c->pipelined) {
		for (i = 0; i < c->d->nrcpt; i++)
			send_line(c, "RCPT TO:<%s>", c->d->rcpt[i].addr);
		c->rcpt_sent = c->d->nrcpt;
		if (!c->bdat) {
			send_line(c, "DATA");
			c->data_sent = 1;
		}
	}
	enter_state(c, C_TXN);
	/*
	 * PIPELINING and CHUNKING: BDAT LAST with the body (and QUIT) in the
	 * same group as MAIL and RCPT (RFC 3030 section 4.2): the server
	 * reads the chunk whatever it answers, so nothing in the body can
	 * be taken for a command.  One round trip for the transaction.
	 */
	if (c->pipelined && c->bdat) {
		c->data_sent = 1;
		body_begin(c);
	}
}

/*
 * The octets BDAT will send: the file with every line end made CRLF
 * (a message queued before bare CR/LF were refused may hold some).
 */
static int
body_size(struct client *c, uint64_t *size)
{
	struct smtp_out o;
	char	in[BODY_CHUNK];
	ssize_t	n;

	smtp_out_init(&o, 0);
	*size = 0;
	while ((n = read(c->fd, in, sizeof(in))) > 0)
		*size += smtp_out_feed(&o, in, (size_t)n, NULL);
	if (n < 0 || lseek(c->fd, 0, SEEK_SET) == -1)
		return -1;
	return 0;
}

static void
body_begin(struct client *c)
{
	uint64_t size = 0;

	if ((c->fd = open(c->d->msg_path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (c->bdat && body_size(c, &size) == -1)) {
		fail(c, CF_READ_MSG, strerror(errno));
		send_quit(c);
		return;
	}
	smtp_out_init(&c->out, !c->bdat);
	c->body_done = 0;
	if (c->bdat)
		send_line(c, "BDAT %" PRIu64 " LAST", size);
	out_flush(c);			/* the commands before the body */
	if (c->state != C_TXN)		/* pipelined BDAT: replies to come */
		enter_state(c, C_BODY);
	client_write_cb(c->bev, c);
}

/*
 * After the body: with PIPELINING, QUIT goes in the same group (RFC 2920
 * section 3.1 lets QUIT end a group), so its 221 comes with the reply
 * to the message and the connection ends without a round trip more.
 */
static void
body_end(struct client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	c->body_done = 1;
	close(c->fd);
	c->fd = -1;
	if (!c->bdat)
		(void)evbuffer_add_printf(out, "%s.\r\n", c->out.bol ? "" :
		    "\r\n");
	if (c->pipelined) {
		(void)evbuffer_add(out, "QUIT\r\n", 6);
		c->quit_sent = 1;
	}
}

/* The reply to the message is in: QUIT, unless it went with the body. */
static void
after_body(struct client *c)
{
	if (c->quit_sent)
		enter_state(c, C_QUIT);
	else
		send_quit(c);
}

/* Feeds the message while the output has room; then the terminator. */
static void
body_feed(struct client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char	in[BODY_CHUNK], st[2 * BODY_CHUNK];
	ssize_t	n;
	size_t	m;

	if (c->body_done || evbuffer_get_length(out) >= BODY_CHUNK)
		return;
	n = read(c->fd, in, sizeof(in));
	if (n < 0) {
		fail(c, CF_READ_MSG, strerror(errno));
		conn_close(c);
		client_finish(c);
		return;
	}
	if (n > 0) {
		m = smtp_out_feed(&c->out, in, (size_t)n, st);
		(void)evbuffer_add(out, st, m);
		return;
	}
	body_end(c);
}

/* Every accepted recipient gets the final reply. */
static void
txn_final(struct client *c, const struct smtp_reply *r)
{
	char	status[16], line[QUEUE_REPLY_MAX + 1];
	size_t	i;

	reply_status(r, status, sizeof(status));
	reply_line(r, line, sizeof(line));
	for (i = 0; i < c->d->nrcpt; i++)
		if (c->d->rcpt[i].code == 250)	/* accepted by RCPT */
			rcpt_result(&c->d->rcpt[i], r->code / 100 == 2 ? 250 :
			    r->code, r->code / 100 == 2 ? "2.0.0" : status,
			    line);
	if (r->code / 100 != 2)
		return;
	log_info("id=%s host=%s status=sent accepted=%zu reply=\"%s\"",
	    c->d->id, c->key, c->accepted, line);
	c->accepted = 0;
}

/* A recipient refused by RCPT: its own result now. */
static void
txn_rcpt(struct client *c, const struct smtp_reply *r)
{
	struct delivery_rcpt *rc = &c->d->rcpt[c->rcpt_read++];
	char	status[16], line[QUEUE_REPLY_MAX + 1];

	reply_status(r, status, sizeof(status));
	reply_line(r, line, sizeof(line));
	if (r->code / 100 == 2) {
		rc->code = 250;		/* provisional: the DATA reply decides */
		c->accepted++;
		return;
	}
	rcpt_result(rc, r->code, status, line);
}

/* The server's reply, as it stands, is the failure (4xx or 5xx). */
static void
fail_with_reply(struct client *c, const struct smtp_reply *r)
{
	char	status[16], line[QUEUE_REPLY_MAX + 1];

	reply_status(r, status, sizeof(status));
	reply_line(r, line, sizeof(line));
	set_fail(c, r->code, status, "%s", line);
}

/* MAIL refused: every recipient gets that reply. */
static void
txn_mail_refused(struct client *c, const struct smtp_reply *r)
{
	fail_with_reply(c, r);
}

static void
on_mail_reply(struct client *c, const struct smtp_reply *r)
{
	if (r->code / 100 == 2) {
		c->mail_ok = 1;
		if (!c->pipelined) {
			send_line(c, "RCPT TO:<%s>", c->d->rcpt[0].addr);
			c->rcpt_sent = 1;
		}
		return;
	}
	c->mail_ok = -1;
	txn_mail_refused(c, r);
	if (!c->pipelined)
		send_quit(c);	/* pipelined: the other replies come first */
}

/* Every RCPT answered: on to DATA or BDAT, or give up. */
static void
after_rcpts(struct client *c)
{
	if (c->data_sent)
		return;		/* pipelined DATA: its reply comes next */
	if (c->mail_ok != 1 || c->accepted == 0) {
		send_quit(c);
		return;
	}
	if (c->bdat) {
		body_begin(c);
		return;
	}
	send_line(c, "DATA");
	c->data_sent = 1;
}

static void
on_rcpt_reply(struct client *c, const struct smtp_reply *r)
{
	if (c->mail_ok == 1)
		txn_rcpt(c, r);
	else
		c->rcpt_read++;
	if (!c->pipelined && c->mail_ok == 1 && c->rcpt_sent < c->d->nrcpt) {
		send_line(c, "RCPT TO:<%s>", c->d->rcpt[c->rcpt_sent++].addr);
		return;
	}
	if (c->rcpt_read == c->rcpt_sent)
		after_rcpts(c);
}

static void
on_data_reply(struct client *c, const struct smtp_reply *r)
{
	if (c->bdat) {			/* the reply to a pipelined BDAT */
		if (c->mail_ok == 1 && c->accepted > 0)
			txn_final(c, r);
		after_body(c);
		return;
	}
	if (r->code == 354 && c->mail_ok == 1 && c->accepted > 0) {
		body_begin(c);
		return;
	}
	if (r->code == 354) {		/* nobody to send to: end it empty */
		(void)evbuffer_add(bufferevent_get_output(c->bev), ".\r\n", 3);
		c->data_sent = 2;
		return;
	}
	if (c->data_sent != 2 && c->mail_ok == 1 && c->accepted > 0)
		txn_final(c, r);	/* DATA refused */
	send_quit(c);
}

/* The replies of the transaction, one at a time, in order. */
static void
on_txn(struct client *c, const struct smtp_reply *r)
{
	if (c->mail_ok == 0)
		on_mail_reply(c, r);
	else if (c->rcpt_read < c->rcpt_sent)
		on_rcpt_reply(c, r);
	else
		on_data_reply(c, r);
}

/* ------------------------------------------------------------------ */
/* TLS                                                                  */

/*
 * A TLS session for the current address, with SNI, and the session
 * kept from this peer's last connection offered for resumption (the
 * peer: the store key and the address, so that a ticket goes back only
 * to the server that issued it).
 */
static SSL *
client_ssl(struct client *c)
{
	const struct dns_host *h = &c->hosts.host[c->host_i];
	char	peer[TLSCACHE_KEY_MAX + 1], a[INET6_ADDRSTRLEN + 8];
	SSL	*ssl;

	if ((ssl = SSL_new(c->ctx->client_ctx)) == NULL)
		return NULL;
	if (c->sni[0] != '\0') {
		(void)SSL_set_tlsext_host_name(ssl, c->sni);
		(void)SSL_set1_host(ssl, c->sni);
	}
	(void)snprintf(peer, sizeof(peer), "%s %s", c->key, addr_format(
	    (const struct sockaddr *)&h->addr[c->addr_i].ss, a, sizeof(a)));
	if (tlscache_offer(ssl, peer) == -1) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static void
start_tls(struct client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct bufferevent *tbev;
	SSL	*ssl;
	size_t	left = evbuffer_get_length(in);

	/* Response injection: nothing before the handshake is believed. */
	if (left > 0) {
		log_info("id=%s host=%s discarded=%zu reason=\"bytes after 220 "
		    "to STARTTLS\"", c->d->id, c->key, left);
		(void)evbuffer_drain(in, left);
	}
	if ((ssl = client_ssl(c)) == NULL)
		goto fail;
	tbev = bufferevent_openssl_filter_new(c->ctx->base, c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (tbev == NULL) {
		SSL_free(ssl);
		goto fail;
	}
	c->bev = tbev;
	bufferevent_openssl_set_allow_dirty_shutdown(tbev, 1);
	bufferevent_setcb(tbev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	(void)bufferevent_enable(tbev, EV_READ | EV_WRITE);
	enter_state(c, C_HANDSHAKE);
	return;
fail:
	fail(c, CF_NO_TLS_START, c->key);
	next_host(c);
}

/*
 * The keys pins are checked against.  The peer may append any public
 * certificate to its chain, so an unverified chain counts for its leaf
 * key only (as DANE-EE does); a chain that PKIX-validated counts whole
 * (the verified chain, up to the trust anchor), as in HPKP.
 */
static int
trusted_keys(SSL *ssl, long vr, struct stsec_pinset *out,
    struct stsec_error *err)
{
	STACK_OF(X509) *chain;
	X509	*leaf;
	struct stsec_pin pin;

	stsec_pinset_clear(out);
	if (vr == X509_V_OK && (chain = SSL_get0_verified_chain(ssl)) != NULL)
		return stsec_pinset_from_chain(chain, out, err);
	if ((leaf = SSL_get0_peer_certificate(ssl)) == NULL)
		return stsec_error_set(err, "no peer certificate");
	if (stsec_pin_from_x509(leaf, &pin, err) == -1)
		return -1;
	return stsec_pinset_add(out, &pin, err);
}

static void
tls_ready(struct client *c, int implicit)
{
	struct stsec_error err;
	struct stsec_decision dec;
	SSL	*ssl = bufferevent_openssl_get_ssl(c->bev);
	long	vr = SSL_get_verify_result(ssl);
	int	resumed = 0;

	c->tls = 1;
	if (tlscache_pins(ssl, &c->chain) == 0)
		resumed = 1;	/* the keys of the handshake that made it */
	else if (trusted_keys(ssl, vr, &c->chain, &err) == -1) {
		stsec_pinset_clear(&c->chain);
		log_info("id=%s host=%s chain: %s", c->d->id, c->key, err.msg);
	}
	log_info("id=%s host=%s tls=%s cipher=%s pkix=%s resumed=%s",
	    c->d->id, c->key, SSL_get_version(ssl), SSL_get_cipher_name(ssl),
	    vr == X509_V_OK ? "verified" : X509_verify_cert_error_string(vr),
	    resumed ? "yes" : "no");
	OBSERVE(c, tls, ssl, vr);
	stsec_policy_check_chain(&c->hrec, &c->chain, (int64_t)time(NULL),
	    &c->cfg, &dec);
	log_decision(c, "pins", &dec);
	OBSERVE(c, pins, &dec);
	if (dec.verdict == STSEC_PROCEED && !dec.report_only &&
	    !c->d->probe)
		tlscache_confirm(ssl, &c->chain);
	if (implicit) {			/* implicit TLS: the greeting next */
		c->chain_ok = dec.verdict == STSEC_PROCEED && !dec.report_only;
		enter_state(c, C_GREETING);
		return;
	}
	if (dec.verdict == STSEC_DEFER && !c->d->probe) {
		set_fail(c, 451, dec.status, "451 %s %s: %s", dec.status,
		    c->key, dec.reason);
		next_host(c);		/* no EHLO, no mail on this session */
		return;
	}
	c->chain_ok = dec.verdict == STSEC_PROCEED && !dec.report_only;
	send_line(c, "EHLO %s", c->ctx->conf->myhostname);
	enter_state(c, C_EHLO);
}

/* ------------------------------------------------------------------ */
/* replies by state                                                     */

static void
parse_features(struct client *c, const struct smtp_reply *r)
{
	static const struct { const char *kw; unsigned f; } kws[] = {
		{ "PIPELINING", F_PIPELINING }, { "SIZE", F_SIZE },
		{ "8BITMIME", F_8BITMIME }, { "SMTPUTF8", F_SMTPUTF8 },
		{ "CHUNKING", F_CHUNKING }, { "STARTTLS", F_STARTTLS },
	};
	const char *t;
	size_t	i, k, n;

	/* Features announced before TLS are forgotten after it. */
	c->feat = 0;
	c->size_limit = 0;
	for (i = 1; i < r->nlines; i++) {
		t = smtp_reply_text(r, i);
		for (k = 0; k < sizeof(kws) / sizeof(*kws); k++) {
			n = strlen(kws[k].kw);
			if (strncasecmp(t, kws[k].kw, n) == 0 &&
			    (t[n] == '\0' || t[n] == ' '))
				c->feat |= kws[k].f;
		}
		if (strncasecmp(t, "SIZE ", 5) == 0)
			c->size_limit = strtoull(t + 5, NULL, 10);
	}
}

/* What noting changed, logged when the store has it (c may be gone). */
static void
note_log_cb(const struct stsec_note_out *out, int ok, void *arg)
{
	char	*who = arg;

	if (who == NULL)
		return;
	if (ok && out->changes != 0)
		log_info("%s noted=0x%x%s reason=\"%s\"", who, out->changes,
		    out->changes & STSEC_KEY_CHANGE ? " key-change=yes" : "",
		    out->reason);
	free(who);
}

static char *
note_log_arg(const struct client *c)
{
	char	buf[STSEC_NAME_MAX + 64];

	(void)snprintf(buf, sizeof(buf), "id=%s host=%s", c->d->id, c->key);
	return strdup(buf);
}

static void
note_tls_ehlo(struct client *c, const struct smtp_reply *r)
{
	struct stsec_ehlo e;
	size_t	i;

	stsec_ehlo_init(&e);
	for (i = 1; i < r->nlines; i++)
		(void)stsec_ehlo_feed(&e, smtp_reply_text(r, i),
		    strlen(smtp_reply_text(r, i)));
	stsec_ehlo_finish(&e);
	OBSERVE(c, keywords, &e);
	if (c->d->probe && !c->d->probe_learn)
		return;
	log_info("id=%s host=%s pkp=%s stsec=%s%s%s", c->d->id, c->key,
	    stsec_kw_state_str(e.pkp), stsec_kw_state_str(e.stsec),
	    e.pkp == STSEC_KW_INVALID ? " why=" : "",
	    e.pkp == STSEC_KW_INVALID ? e.pkp_why : "");
	if (pinstore_note(c->ctx->pins, c->key, c->dom, 1, &e, &c->chain,
	    c->chain_ok, &c->cfg, note_log_cb, note_log_arg(c)) == -1)
		log_warn("id=%s host=%s cannot note the EHLO", c->d->id,
		    c->key);
}

/* A probe: record the EHLO, then STARTTLS if it can, else QUIT. */
static void
probe_ehlo(struct client *c, const struct smtp_reply *r)
{
	if (r->code / 100 != 2) {
		set_fail(c, r->code, "5.5.0", "EHLO refused: %d", r->code);
		send_quit(c);
		return;
	}
	parse_features(c, r);
	if (c->tls) {
		note_tls_ehlo(c, r);
		send_quit(c);
	} else if (c->feat & F_STARTTLS) {
		send_line(c, "STARTTLS");
		enter_state(c, C_STARTTLS);
	} else
		send_quit(c);
}

static void
on_ehlo(struct client *c, const struct smtp_reply *r)
{
	OBSERVE(c, reply, CLIENT_EHLO, c->tls, r);
	if (c->d->probe) {
		probe_ehlo(c, r);
		return;
	}
	if (r->code / 100 != 2) {
		if (!c->tls && c->plan.level < STSEC_TLS_ENCRYPT) {
			send_line(c, "HELO %s", c->ctx->conf->myhostname);
			enter_state(c, C_HELO);
			return;
		}
		if (c->tls || no_tls(c, STSEC_TLS_NOT_OFFERED) == -1) {
			if (c->tls)
				fail_with_reply(c, r);	/* the server's words */
			send_quit(c);
			return;
		}
	}
	parse_features(c, r);
	if (c->tls) {
		note_tls_ehlo(c, r);
		txn_begin(c);
		return;
	}
	if ((c->feat & F_STARTTLS) && c->plan.level >= STSEC_TLS_MAY &&
	    !c->plain_retry) {
		send_line(c, "STARTTLS");
		enter_state(c, C_STARTTLS);
		return;
	}
	if (c->plan.level >= STSEC_TLS_MAY &&
	    no_tls(c, STSEC_TLS_NOT_OFFERED) == -1) {
		send_quit(c);
		return;
	}
	txn_begin(c);
}

static void
on_greeting(struct client *c, const struct smtp_reply *r)
{
	char	line[QUEUE_REPLY_MAX + 1];

	OBSERVE(c, reply, CLIENT_GREETING, c->tls, r);
	if (r->code != 220) {
		reply_line(r, line, sizeof(line));
		fail(c, CF_GREETING, c->key, line);
		send_quit(c);
		return;
	}
	if (!c->tls && (c->plan.starttls_first || c->d->probe_early) &&
	    !c->plain_retry) {
		send_line(c, "STARTTLS");
		enter_state(c, C_EARLY);
		return;
	}
	send_line(c, "EHLO %s", c->ctx->conf->myhostname);
	enter_state(c, C_EHLO);
}

/*
 * 221 or 421 to STARTTLS: the server is closing the connection (RFC
 * 5321 3.8), so nothing more is said on it, in plaintext least of all.
 * The next host, or the failure for this attempt.  Returns 1 if so.
 */
static int
starttls_closing(struct client *c, const struct smtp_reply *r)
{
	char	line[QUEUE_REPLY_MAX + 1];

	if (r->code != 221 && r->code != 421)
		return 0;
	reply_line(r, line, sizeof(line));
	log_info("id=%s host=%s starttls=closing reply=\"%s\"", c->d->id,
	    c->key, line);
	if (c->d->probe || no_tls(c, STSEC_TLS_REFUSED) == 0) {
		/* TLS not required: still a failure of this host. */
		if (r->code == 421)
			fail_with_reply(c, r);
		else
			fail(c, CF_CLOSED_STARTTLS, c->key, line);
	}
	if (c->d->probe) {
		conn_close(c);
		client_finish(c);
	} else
		next_host(c);
	return 1;
}

static void
on_early(struct client *c, const struct smtp_reply *r)
{
	int	note = !c->d->probe || c->d->probe_learn;

	OBSERVE(c, reply, CLIENT_EARLY, c->tls, r);
	if (starttls_closing(c, r))
		return;
	if (r->code == 220) {
		if (note && c->hrec.early != STSEC_EARLY_ACCEPTED)
			(void)pinstore_early(c->ctx->pins, c->key, 1);
		start_tls(c);
		return;
	}
	log_info("id=%s host=%s early-starttls=refused code=%d; EHLO first",
	    c->d->id, c->key, r->code);
	/* 503 is "EHLO first" (Exim, OpenSMTPD); other answers may heal. */
	if (note && r->code == 503)
		(void)pinstore_early(c->ctx->pins, c->key, 0);
	send_line(c, "EHLO %s", c->ctx->conf->myhostname);
	enter_state(c, C_EHLO);
}

static void
on_starttls(struct client *c, const struct smtp_reply *r)
{
	OBSERVE(c, reply, CLIENT_STARTTLS, c->tls, r);
	if (starttls_closing(c, r))
		return;
	if (r->code == 220) {
		start_tls(c);
		return;
	}
	if (c->d->probe) {
		send_quit(c);
		return;
	}
	if (no_tls(c, STSEC_TLS_REFUSED) == -1) {
		send_quit(c);
		return;
	}
	txn_begin(c);
}

static void
on_reply(struct client *c, const struct smtp_reply *r)
{
	switch (c->state) {
	case C_GREETING:
		on_greeting(c, r);
		break;
	case C_EARLY:
		on_early(c, r);
		break;
	case C_EHLO:
		on_ehlo(c, r);
		break;
	case C_HELO:
		if (r->code / 100 == 2)
			txn_begin(c);
		else
			send_quit(c);
		break;
	case C_STARTTLS:
		on_starttls(c, r);
		break;
	case C_TXN:
		on_txn(c, r);
		break;
	case C_BODY:
		txn_final(c, r);
		after_body(c);
		break;
	case C_QUIT:
		conn_close(c);
		client_finish(c);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* input                                                                */

static int
read_reply_line(struct client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t	len;
	char	*line;
	int	r;

	line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > SMTP_REPLY_LINE_MAX * 4) {
			fail(c, CF_LONG_REPLY, c->key);
			conn_close(c);
			client_finish(c);
			return -1;
		}
		return 0;
	}
	r = smtp_reply_feed(&c->reply, line, len);
	free(line);
	if (r == -1) {
		fail(c, CF_BAD_REPLY, c->key);
		conn_close(c);
		client_finish(c);
		return -1;
	}
	return r == 1 ? 1 : 2;
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct smtp_reply *r;
	int	got;

	(void)bev;
	while (c->bev != NULL && c->state != C_DONE) {
		got = read_reply_line(c);
		if (got <= 0)
			return;
		if (got == 2)
			continue;
		if ((r = malloc(sizeof(*r))) == NULL)
			return;
		*r = c->reply;
		smtp_reply_init(&c->reply);
		on_reply(c, r);
		free(r);
		out_flush(c);
		/* After 220 to STARTTLS the input was dropped, not read. */
		if (c->state == C_HANDSHAKE)
			return;
	}
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (c->fd != -1 && c->bev != NULL)
		body_feed(c);
}

static void
on_connected(struct client *c)
{
	struct timeval tv = { (time_t)c->ctx->conf->smtp_timeout, 0 };
	int	one = 1;

	(void)setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one));
	(void)bufferevent_set_timeouts(c->bev, &tv, &tv);
	log_debug("id=%s host=%s connected", c->d->id, c->key);
	enter_state(c, C_GREETING);
}

static void
on_conn_error(struct client *c, short what)
{
	unsigned long e;
	char	buf[256] = "";

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	if (c->state == C_CONNECT || c->state == C_TLS_CONNECT) {
		fail(c, CF_CONNECT, c->key, what & BEV_EVENT_TIMEOUT ?
		    "connect timed out" : "connection refused");
		next_addr(c);
		return;
	}
	if (c->state == C_HANDSHAKE) {
		log_info("id=%s host=%s handshake failed: %s", c->d->id,
		    c->key, buf[0] ? buf : what & BEV_EVENT_TIMEOUT ?
		    "timeout" : "connection closed");
		if (c->d->probe) {	/* a probe reports it; no retry */
			fail(c, CF_HANDSHAKE, buf[0] ? buf :
			    what & BEV_EVENT_TIMEOUT ? "timeout" :
			    "connection closed");
			conn_close(c);
			client_finish(c);
			return;
		}
		if (no_tls(c, STSEC_TLS_HANDSHAKE_FAILED) == -1) {
			next_host(c);
			return;
		}
		c->plain_retry = 1;	/* may: the same address, plaintext */
		conn_close(c);
		try_addr(c);
		return;
	}
	if (c->state == C_QUIT) {
		conn_close(c);
		client_finish(c);
		return;
	}
	fail(c, CF_LOST, c->key, what & BEV_EVENT_TIMEOUT ? "timeout" :
	    "connection lost", cstate_str(c->state));
	if (c->txn_started) {
		conn_close(c);
		client_finish(c);
	} else
		next_host(c);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == C_TLS_CONNECT) {
			on_connected(c);
			tls_ready(c, 1);
		} else if (c->state == C_HANDSHAKE)
			tls_ready(c, 0);
		else
			on_connected(c);
		out_flush(c);
		return;
	}
	on_conn_error(c, what);
}

/* ------------------------------------------------------------------ */
/* hosts and addresses                                                  */


/* A plain socket, or for implicit TLS one that handshakes first. */
static struct bufferevent *
conn_bev(struct client *c)
{
	struct bufferevent *bev;
	int	opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
	SSL	*ssl;

	if (!c->d->probe_implicit)
		return bufferevent_socket_new(c->ctx->base, -1, opts);
	if ((ssl = client_ssl(c)) == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(c->ctx->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, opts);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static void
try_addr(struct client *c)
{
	struct dns_host *h = &c->hosts.host[c->host_i];
	struct timeval tv = { (time_t)c->ctx->conf->connect_timeout, 0 };

	if (c->addr_i >= h->naddr) {
		next_host(c);
		return;
	}
	c->tls = 0;
	c->feat = 0;
	c->mail_ok = 0;
	smtp_reply_init(&c->reply);
	c->bev = conn_bev(c);
	if (c->bev == NULL) {
		fail(c, CF_NOMEM);
		client_finish(c);
		return;
	}
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	(void)bufferevent_set_timeouts(c->bev, &tv, &tv);
	(void)bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	enter_state(c, c->d->probe_implicit ? C_TLS_CONNECT : C_CONNECT);
	OBSERVE(c, addr, (const struct sockaddr *)&h->addr[c->addr_i].ss);
	if (bufferevent_socket_connect(c->bev,
	    (struct sockaddr *)&h->addr[c->addr_i].ss,
	    (int)h->addr[c->addr_i].len) == -1) {
		fail(c, CF_CONNECT_FAILED, c->key);
		next_addr(c);
	}
}

static void
store_cb(const struct pinstore_view *v, void *arg)
{
	struct client *c = arg;

	c->jobs--;
	if (c->ctx->stopping) {
		fail(c, CF_STOPPED);
		client_finish(c);
		return;
	}
	if (!v->ok) {
		/* A failed policy lookup fails closed. */
		fail(c, CF_STORE, v->err);
		next_host(c);
		return;
	}
	memset(&c->hrec, 0, sizeof(c->hrec));
	if (v->host_found)
		c->hrec = v->host;
	stsec_policy_plan(v->host_found ? &v->host : NULL,
	    v->domain_found ? &v->domain : NULL, (int64_t)time(NULL),
	    &c->cfg, &c->plan);
	c->chain_ok = 0;
	OBSERVE(c, store, v->host_found ? &c->hrec : NULL, &c->plan);
	log_debug("id=%s host=%s plan level=%s why=%s first=%d pinned=%d",
	    c->d->id, c->key, stsec_tls_level_str(c->plan.level),
	    stsec_why_str(c->plan.why), c->plan.starttls_first,
	    c->plan.pinned);
	try_addr(c);
}

/* The store key: the MX host name, or "[addr]" / "[addr]:port". */
static void
host_key(struct client *c, const struct dns_host *h)
{
	const struct route *r = &c->d->route;
	int	port = r->port ? r->port : (int)c->ctx->conf->relay_port;

	if (h->name[0] != '[' ) {
		(void)snprintf(c->key, sizeof(c->key), "%s", h->name);
		(void)snprintf(c->sni, sizeof(c->sni), "%s", h->name);
		return;
	}
	c->sni[0] = '\0';
	if (port == 25)
		(void)snprintf(c->key, sizeof(c->key), "%s", h->name);
	else
		(void)snprintf(c->key, sizeof(c->key), "%s:%d", h->name, port);
}

static void
try_host(struct client *c)
{
	struct dns_host *h;

	while (c->host_i < c->hosts.nhosts &&
	    c->hosts.host[c->host_i].naddr == 0)
		c->host_i++;
	if (c->host_i >= c->hosts.nhosts) {
		client_finish(c);
		return;
	}
	h = &c->hosts.host[c->host_i];
	host_key(c, h);
	OBSERVE(c, host, c->key);
	(void)snprintf(c->d->remote, sizeof(c->d->remote), "%s", c->key);
	enter_state(c, C_STORE);
	c->jobs++;
	if (pinstore_get(c->ctx->pins, c->key, c->dom, store_cb, c) == -1) {
		c->jobs--;
		fail(c, CF_STORE_DOWN);
		client_finish(c);
	}
}

static void
dns_fail(struct client *c, const struct dns_result *res)
{
	switch (res->status) {
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		fail(c, CF_NO_DOMAIN, res->why);
		break;
	case DNS_NULLMX:
		fail(c, CF_NULL_MX, res->why);
		break;
	default:
		fail(c, CF_DNS, res->why);
		break;
	}
}

static void
dns_cb_fn(const struct dns_result *res, void *arg)
{
	struct client *c = arg;

	c->dq = NULL;
	if (res->status != DNS_OK) {
		dns_fail(c, res);
		client_finish(c);
		return;
	}
	c->hosts = *res;
	/* Inheritance applies to the MX hosts of the recipient domain. */
	c->dom = c->d->route.mx && !c->d->route.is_static ? c->d->domain :
	    NULL;
	try_host(c);
}


static void
client_resolve(struct client *c)
{
	const struct route *r = &c->d->route;
	int	port = r->port ? r->port : (int)c->ctx->conf->relay_port;

	enter_state(c, C_RESOLVE);
	if (c->d->probe_hosts != NULL) {
		c->hosts = *c->d->probe_hosts;
		try_host(c);
		return;
	}
	/* A literal next hop needs no DNS. */
	if (!r->mx && dns_literal(r->host, port, &c->hosts)) {
		try_host(c);
		return;
	}
	c->dq = r->mx ? dns_mx(c->ctx->dns, r->host, port, dns_cb_fn, c) :
	    dns_host(c->ctx->dns, r->host, port, dns_cb_fn, c);
	if (c->dq == NULL) {
		fail(c, CF_DNS_QUERY, r->host);
		client_finish(c);
	}
}

/* ------------------------------------------------------------------ */
/* start and finish                                                     */

/* From a fresh stack: done() may free the delivery, and we free c. */
static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	(void)what;
	c->d->client = NULL;
	c->done(c->d, c->done_arg);
	evbuffer_free(c->obuf);
	free(c);
}

static void
client_finish(struct client *c)
{
	size_t	i;

	if (c->state == C_DONE)
		return;
	/* A probe that got to QUIT ran its course: no failure. */
	if (c->fail_code == 0 && !(c->d->probe && c->state == C_QUIT))
		fail(c, CF_UNREACHABLE, c->d->route.host);
	enter_state(c, C_DONE);
	for (i = 0; i < c->d->nrcpt; i++) {
		struct delivery_rcpt *r = &c->d->rcpt[i];

		if (r->code == 0 || (r->code == 250 && r->status[0] == '\0'))
			rcpt_result(r, c->fail_code, c->fail_status,
			    c->fail_reply);
	}
	conn_close(c);
	if (c->dq != NULL)
		dns_cancel(c->dq);
	c->dq = NULL;
	if (c->aborted || event_base_once(c->ctx->base, -1, EV_TIMEOUT,
	    finish_cb, c, NULL) == -1)
		finish_cb(-1, 0, c);
}

void
client_abort(struct client *c)
{
	if (c->state == C_DONE || c->jobs > 0)
		return;		/* on its way out already */
	fail(c, CF_ABORTED, c->key);
	c->aborted = 1;
	client_finish(c);
}

struct client *
client_start(const struct mta_ctx *ctx, struct delivery *d,
    const struct client_observer *obs, client_done_fn *done, void *arg)
{
	struct client *c;
	const struct conf *cf = ctx->conf;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->obuf = evbuffer_new()) == NULL) {
		free(c);
		return NULL;
	}
	c->ctx = ctx;
	c->obs = obs;
	c->d = d;
	d->client = c;
	c->done = done;
	c->done_arg = arg;
	c->fd = -1;
	stsec_policy_cfg_default(&c->cfg);
	c->cfg.pkp_cap = cf->pkp_cap;
	c->cfg.stsec_cap = cf->stsec_cap;
	(void)stsec_mode_parse(cf->pkp_mode, &c->cfg.pkp_mode);
	(void)stsec_tls_level_parse(cf->tls_level, &c->cfg.tls_level);
	if (d->route.has_level)
		c->cfg.tls_level = d->route.level;
	client_resolve(c);
	return c;
}
