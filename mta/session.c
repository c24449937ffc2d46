/*
 * session.c - one SMTP server session; see session.h.
 *
 * STATES
 *	CMD		reading command lines
 *	TLS_FLUSH	"220 Ready to start TLS" queued: wait until it is
 *			written, then wrap the connection in TLS
 *	TLS_ACCEPT	implicit TLS: the handshake, then the greeting
 *	HANDSHAKE	TLS handshake after STARTTLS
 *	DATA		reading a DATA body
 *	BDAT		reading a BDAT chunk
 *	BDAT_SKIP	reading and dropping the chunk of a refused BDAT
 *	COMMIT		the message is being made durable by the worker;
 *			input waits (reading is off)
 *	QUIT		the last reply is being written; then close
 *	DEAD		closed: freed once no worker job holds it
 *
 *	Two flags are not states: job (a worker job holds a pointer to the
 *	session, which may die meanwhile: DEAD with a job out) and shutdown
 *	(the server asked to stop, acted on at the next reply).
 *	Every change goes through enter_state(), which logs it at debug.
 *	A command table gives each verb a check (state, order; sends its
 *	own error reply) and a proceed (the work), as OpenSMTPD does.
 *
 * STARTTLS (CVE-2011-0411)
 *	Bytes pipelined after STARTTLS are discarded, whether they came
 *	with the command or before the 220 was written; after the
 *	handshake the EHLO name and all transaction state are forgotten.
 *	PKP and STSEC are advertised only on a TLS session, STARTTLS only
 *	before TLS.
 *
 * INPUT
 *	Command lines end with CRLF: a bare LF is refused (500 5.5.2), not
 *	taken as a line end, so the commands a lax front end and this
 *	server read are the same.  A message body, DATA or BDAT, with a
 *	bare CR or LF or a NUL is read to its end and refused (550 5.5.2,
 *	550 5.6.0).  Repeated recipients are accepted once per transaction.
 *	A message has a whole deadline: data_timeout plus one second per
 *	data_min_rate octets received (slowloris within the body).
 *
 * DURABILITY
 *	The message is streamed into the queue's tmp/ as it arrives; the
 *	final fsync/rename/fsync is a worker job, and 250 is sent from its
 *	completion.  A session that dies meanwhile is freed only when the
 *	job has come back.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "addr.h"
#include "conf.h"
#include "local.h"
#include "log.h"
#include "queue.h"
#include "ctx.h"
#include "session.h"
#include "smtp_cmd.h"
#include "smtp_data.h"
#include "smtp_reply.h"
#include "tls.h"
#include "worker.h"

enum session_state {
	S_CMD = 0,
	S_TLS_FLUSH,
	S_TLS_ACCEPT,
	S_HANDSHAKE,
	S_DATA,
	S_BDAT,
	S_BDAT_SKIP,
	S_COMMIT,
	S_QUIT,
	S_DEAD
};

struct session {
	const struct mta_ctx	*ctx;
	struct session_hooks	 hooks;	/* to the owner */
	char			 id[17];
	struct bufferevent	*bev;
	enum session_state	 state;
	struct sockaddr_storage	 ss;
	char			 addr[INET6_ADDRSTRLEN + 8];	/* [a]:p */
	int			 relay_ok;
	int			 tls;
	int			 helo_seen;
	int			 esmtp;
	char			 helo[SMTP_DOMAIN_MAX + 1];
	int			 errors;
	int			 skipping;	/* inside an overlong line */
	/* transaction */
	int			 in_mail;
	struct queue_env	 env;
	struct queue_msg	*msg;
	struct smtp_data	 data;
	int			 bdat;		/* BDAT used: no DATA now */
	uint64_t		 bdat_left;
	uint64_t		 bdat_octets;	/* the client's, so far */
	int			 bdat_last;
	const struct smtp_status *bdat_error;
	struct smtp_text	 bdat_text;	/* bare CR/LF, NUL, lines */
	struct event		*data_timer;	/* the message's deadline */
	int64_t			 data_deadline;	/* monotonic, microseconds */
	/* life */
	int			 job;		/* a worker job holds us */
	int			 shutdown;	/* server stopping */
	struct event		*linger;	/* QUIT: wait for the TLS
						   filter's socket to drain */
	int			 notified;	/* close_notify sent */
	struct event		*cmd_timer;	/* a whole command within
						   command_timeout */
	int			 linger_n;
};

/*
 * Every reply the session makes itself, in one table (the parser's own
 * are in mta/proto); a text may take string arguments.
 */
enum srv_reply {
	R_OK,
	R_SENDER_OK,
	R_RCPT_OK,
	R_QUEUED,
	R_CHUNK_OK,
	R_VRFY,
	R_HELP,
	R_BYE,
	R_TLS_GO,
	R_DATA_GO,
	R_TOO_MANY_ERRORS,
	R_TIMEOUT,
	R_SHUTDOWN,
	R_QUEUE_FAIL,
	R_LOCAL_ERROR,
	R_FORMAT_ERROR,
	R_TOO_MANY_RCPTS,
	R_TOO_BIG,
	R_SIZE_OVER,
	R_BAD_RCPT,
	R_NO_MAILBOX,
	R_RELAY_DENIED,
	R_NEED_EHLO,
	R_NESTED_MAIL,
	R_NEED_MAIL_RCPT,
	R_NEED_MAIL_DATA,
	R_NEED_RCPT_DATA,
	R_NEED_MAIL_BDAT,
	R_NEED_RCPT_BDAT,
	R_DATA_AFTER_BDAT,
	R_IN_TLS,
	R_NO_STARTTLS,
	R_TLS_IN_TXN,
	R_EXPN,
	R_AUTH,
	R_UNKNOWN,
	R_LINE_LONG,
	R_BARE_LF,
};

static const struct smtp_status srv_replies[] = {
	[R_OK] = { 250, "2.0.0", "Ok" },
	[R_SENDER_OK] = { 250, "2.1.0", "Ok" },
	[R_RCPT_OK] = { 250, "2.1.5", "Ok" },
	[R_QUEUED] = { 250, "2.0.0", "Ok: queued as %s" },
	[R_CHUNK_OK] = { 250, "2.0.0", "%s octets received" },
	[R_VRFY] = { 252, "2.5.0",
	    "Cannot VRFY user, but will accept message" },
	[R_HELP] = { 214, "2.0.0",
	    "See RFC 5321; pinpost speaks ESMTP with STARTTLS, PKP and STSEC" },
	[R_BYE] = { 221, "2.0.0", "Bye" },
	[R_TLS_GO] = { 220, "2.0.0", "Ready to start TLS" },
	[R_DATA_GO] = { 354, "2.0.0", "End data with <CR><LF>.<CR><LF>" },
	[R_TOO_MANY_ERRORS] = { 421, "4.7.0", "%s Too many errors" },
	[R_TIMEOUT] = { 421, "4.4.2", "%s Timeout, closing connection" },
	[R_SHUTDOWN] = { 421, "4.3.2", "%s Service shutting down" },
	[R_QUEUE_FAIL] = { 451, "4.3.0",
	    "Queue write failed; try again later" },
	[R_LOCAL_ERROR] = { 451, "4.3.0", "Local error; try again later" },
	[R_FORMAT_ERROR] = { 451, "4.3.0",
	    "Local error formatting the reply" },
	[R_TOO_MANY_RCPTS] = { 452, "4.5.3", "Too many recipients" },
	[R_TOO_BIG] = { 552, "5.3.4", "Message too big" },
	[R_SIZE_OVER] = { 552, "5.3.4", "Message size exceeds the limit" },
	[R_BAD_RCPT] = { 553, "5.1.3", "Bad recipient address syntax" },
	[R_NO_MAILBOX] = { 550, "5.1.1", "No such mailbox here" },
	[R_RELAY_DENIED] = { 554, "5.7.1", "Relay access denied" },
	[R_NEED_EHLO] = { 503, "5.5.1", "Send EHLO first" },
	[R_NESTED_MAIL] = { 503, "5.5.1", "Nested MAIL command" },
	[R_NEED_MAIL_RCPT] = { 503, "5.5.1", "Need MAIL before RCPT" },
	[R_NEED_MAIL_DATA] = { 503, "5.5.1", "Need MAIL before DATA" },
	[R_NEED_RCPT_DATA] = { 503, "5.5.1", "Need RCPT before DATA" },
	[R_NEED_MAIL_BDAT] = { 503, "5.5.1", "Need MAIL before BDAT" },
	[R_NEED_RCPT_BDAT] = { 503, "5.5.1", "Need RCPT before BDAT" },
	[R_DATA_AFTER_BDAT] = { 503, "5.5.1", "DATA after BDAT" },
	[R_IN_TLS] = { 503, "5.5.1", "Already in TLS" },
	[R_NO_STARTTLS] = { 502, "5.5.1", "STARTTLS not offered" },
	[R_TLS_IN_TXN] = { 503, "5.5.1", "MAIL transaction in progress" },
	[R_EXPN] = { 502, "5.5.1", "EXPN not supported" },
	[R_AUTH] = { 502, "5.5.1", "AUTH not supported" },
	[R_UNKNOWN] = { 500, "5.5.1", "Command not recognized" },
	[R_LINE_LONG] = { 500, "5.5.6", "Line too long" },
	[R_BARE_LF] = { 500, "5.5.2",
	    "Bare LF in command; lines end with CRLF" },
};

#define ADVERTISE_TLS(s)	(!(s)->tls && (s)->ctx->tls != NULL && \
				    (s)->ctx->conf->starttls_enable)
#define ADVERTISE_PKP(s)	((s)->tls && (s)->ctx->tls != NULL && \
				    tls_server_pkp((s)->ctx->tls) != NULL)
#define ADVERTISE_STSEC(s)	((s)->tls && (s)->ctx->tls != NULL && \
				    tls_server_stsec((s)->ctx->tls) != NULL)

static void	session_read_cb(struct bufferevent *, void *);
static void	session_write_cb(struct bufferevent *, void *);
static void	session_event_cb(struct bufferevent *, short, void *);
static void	session_process(struct session *);
static void	session_close(struct session *, const char *);
static void	session_quit(struct session *);
static void	session_reap(struct session *);
static void	quit_flushed(struct session *);

static const char *
state_str(enum session_state st)
{
	static const char *const names[] = { "cmd", "tls-flush",
	    "tls-accept", "handshake", "data", "bdat", "bdat-skip", "commit",
	    "quit", "dead" };

	return (size_t)st < sizeof(names) / sizeof(*names) ? names[st] : "?";
}

static void	cmd_deadline(struct session *);
static void	data_deadline_start(struct session *);
static void	data_deadline_credit(struct session *, size_t);

static void
enter_state(struct session *s, enum session_state st)
{
	if (s->state == S_DEAD)
		return;		/* no way back from a close */
	log_debug("%s state %s -> %s", s->id, state_str(s->state),
	    state_str(st));
	s->state = st;
	if (st == S_CMD)
		cmd_deadline(s);
	else if (st == S_DATA || st == S_BDAT || st == S_BDAT_SKIP)
		data_deadline_start(s);
}

/* ------------------------------------------------------------------ */
/* replies                                                              */

static void
reply_text(struct session *s, int code, const char *enh, const char *text)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	if (evbuffer_add_printf(out, "%d %s %s\r\n", code, enh, text) == -1)
		log_warn("%s cannot queue reply", s->id);
	if (code >= 400)
		log_info("%s reply=\"%d %s %s\"", s->id, code, enh, text);
}

static void
reply_status(struct session *s, const struct smtp_status *st)
{
	reply_text(s, st->code, st->enh, st->text);
}

/* A reply of the table; its text may take string arguments. */
static void
reply(struct session *s, enum srv_reply r, ...)
{
	const struct smtp_status *st = &srv_replies[r];
	char	text[SMTP_REPLY_LINE_MAX - 16];
	va_list	ap;

	va_start(ap, r);
	(void)vsnprintf(text, sizeof(text), st->text, ap);
	va_end(ap);
	reply_text(s, st->code, st->enh, text);
}

/* A client error: counted; too many end the session. */
static void
reply_error_status(struct session *s, const struct smtp_status *st)
{
	reply_status(s, st);
	if (++s->errors >= s->ctx->conf->max_errors) {
		reply(s, R_TOO_MANY_ERRORS, s->ctx->conf->myhostname);
		log_info("%s close reason=\"too many errors\"", s->id);
		session_quit(s);
	}
}

static void
reply_error(struct session *s, enum srv_reply r)
{
	reply_error_status(s, &srv_replies[r]);
}

/* ------------------------------------------------------------------ */
/* transaction                                                          */

static void	data_deadline_stop(struct session *);

static void
txn_reset(struct session *s)
{
	data_deadline_stop(s);
	if (s->msg != NULL)
		queue_msg_abort(s->msg);
	s->msg = NULL;
	queue_env_free(&s->env);
	memset(&s->env, 0, sizeof(s->env));
	s->in_mail = 0;
	s->bdat = 0;
	s->bdat_left = 0;
	s->bdat_octets = 0;
	s->bdat_last = 0;
	s->bdat_error = NULL;
}

static int
msg_printf(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
msg_printf(struct session *s, const char *fmt, ...)
{
	char	buf[2048], err[QUEUE_ERR_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	if (queue_msg_write(s->msg, buf, (size_t)n, err, sizeof(err)) == -1) {
		log_warn("%s %s", s->id, err);
		return -1;
	}
	return 0;
}

static int
msg_received(struct session *s)
{
	char	date[64], info[128] = "";
	time_t	now = time(NULL);
	struct tm tm;
	SSL	*ssl = bufferevent_openssl_get_ssl(s->bev);

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		return -1;
	if (ssl != NULL) {
		char t[96];

		(void)snprintf(info, sizeof(info), "\r\n\t(%s)",
		    tls_session_info(ssl, t, sizeof(t)));
	}
	return msg_printf(s, "Received: from %s (%s)\r\n\tby %s (pinpost) "
	    "with %s%s id %s%s%s%s%s;\r\n\t%s\r\n", s->helo, s->addr,
	    s->ctx->conf->myhostname, s->esmtp ? "ESMTP" : "SMTP",
	    s->tls ? "S" : "", queue_msg_id(s->msg), info,
	    s->env.nrcpt == 1 ? "\r\n\tfor <" : "",
	    s->env.nrcpt == 1 ? s->env.rcpt[0].addr : "",
	    s->env.nrcpt == 1 ? ">" : "", date);
}

/* Opens the queue file and writes the Received: header. */
static int
msg_begin(struct session *s)
{
	char	err[QUEUE_ERR_MAX];

	s->msg = queue_msg_new(s->ctx->queue, err, sizeof(err));
	if (s->msg == NULL) {
		log_warn("%s %s", s->id, err);
		return -1;
	}
	if (msg_received(s) == -1) {
		queue_msg_abort(s->msg);
		s->msg = NULL;
		return -1;
	}
	return 0;
}

struct commit_job {
	struct session		*s;
	struct queue_msg	*msg;
	struct queue_env	 env;
	struct queue		*queue;
	int			 rc;
	int			 local;		/* has local recipients */
	int			 remote;	/* has recipients to relay */
	char			 err[QUEUE_ERR_MAX];
};

static void
commit_run(void *arg)
{
	struct commit_job *j = arg;

	j->rc = queue_msg_commit(j->msg, &j->env, j->err, sizeof(j->err));
}

static void
commit_done(void *arg)
{
	struct commit_job *j = arg;
	struct session *s = j->s;

	s->job = 0;
	if (j->rc == 0) {
		log_info("%s id=%s from=<%s> nrcpt=%zu status=queued", s->id,
		    j->env.id, j->env.sender, j->env.nrcpt);
		s->hooks.queued(s->hooks.arg, j->env.id, j->local, j->remote);
	} else
		log_warn("%s commit failed: %s", s->id, j->err);
	if (s->state != S_DEAD) {
		if (j->rc == 0)
			reply(s, R_QUEUED, j->env.id);
		else
			reply(s, R_QUEUE_FAIL);
	}
	queue_env_free(&j->env);
	free(j);
	if (s->state != S_DEAD) {
		enter_state(s, S_CMD);
		if (s->shutdown)
			session_quit(s);
		else {
			(void)bufferevent_enable(s->bev, EV_READ);
			session_process(s);
		}
	}
	session_reap(s);
}

static void
commit_start(struct session *s)
{
	struct commit_job *j;
	size_t	i;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto fail;
	j->s = s;
	j->msg = s->msg;
	j->env = s->env;
	for (i = 0; i < j->env.nrcpt; i++) {
		j->local |= j->env.rcpt[i].local;
		j->remote |= !j->env.rcpt[i].local;
	}
	if (worker_submit(s->ctx->worker, queue_msg_id(j->msg), commit_run,
	    commit_done, j) == -1) {
		free(j);
		goto fail;
	}
	s->msg = NULL;
	memset(&s->env, 0, sizeof(s->env));
	txn_reset(s);
	s->job = 1;
	enter_state(s, S_COMMIT);
	(void)bufferevent_disable(s->bev, EV_READ);
	return;
fail:
	txn_reset(s);
	reply(s, R_LOCAL_ERROR);
}

/* ------------------------------------------------------------------ */
/* recipients                                                           */

static int
rcpt_domain(const char *addr, char *domain, size_t len, char *user,
    size_t ulen)
{
	const char *at = strrchr(addr, '@');
	size_t	i, n;

	if (at == NULL)
		return -1;
	n = (size_t)(at - addr);
	if (n >= ulen || strlen(at + 1) >= len)
		return -1;
	for (i = 0; i < n; i++)
		user[i] = (char)tolower((unsigned char)addr[i]);
	user[n] = '\0';
	for (i = 0; at[1 + i] != '\0'; i++)
		domain[i] = (char)tolower((unsigned char)at[1 + i]);
	domain[i] = '\0';
	return 0;
}

static void
lower(char *p)
{
	for (; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* The same mailbox: local parts as written, domains in any case. */
static int
rcpt_same(const char *a, const char *b)
{
	const char *aa = strrchr(a, '@'), *ba = strrchr(b, '@');

	if (aa == NULL || ba == NULL || aa - a != ba - b)
		return 0;
	return memcmp(a, b, (size_t)(aa - a)) == 0 &&
	    strcasecmp(aa, ba) == 0;
}

static int
rcpt_known(const struct session *s, const char *addr)
{
	size_t	i;

	for (i = 0; i < s->env.nrcpt; i++)
		if (rcpt_same(s->env.rcpt[i].addr, addr))
			return 1;
	return 0;
}

/* RCPT after the checks: local mailbox, relay, or refusal. */
static void
rcpt_accept(struct session *s, const char *path)
{
	char	addr[QUEUE_ADDR_MAX + 1], user[SMTP_LOCAL_MAX + 1];
	char	domain[SMTP_DOMAIN_MAX + 1];
	int	local;

	if (strchr(path, '@') == NULL)	/* <postmaster>, RFC 5321 4.5.1 */
		(void)snprintf(addr, sizeof(addr), "postmaster@%s",
		    s->ctx->conf->local_domains.n > 0 ?
		    s->ctx->conf->local_domains.v[0] : "localhost");
	else
		(void)snprintf(addr, sizeof(addr), "%s", path);
	if (rcpt_domain(addr, domain, sizeof(domain), user,
	    sizeof(user)) == -1) {
		reply_error(s, R_BAD_RCPT);
		return;
	}
	local = local_is_domain(s->ctx->conf, domain);
	if (local && local_mailbox(s->ctx->conf, user, domain, NULL, 0) != 0) {
		reply_error(s, R_NO_MAILBOX);
		return;
	}
	if (local)
		lower(addr);	/* the mailbox's own spelling */
	if (!local && !s->relay_ok) {
		reply_error(s, R_RELAY_DENIED);
		return;
	}
	if (rcpt_known(s, addr)) {
		/* Once per transaction, as Postfix's cleanup does. */
		log_debug("%s duplicate recipient <%s>", s->id, addr);
		reply(s, R_RCPT_OK);
		return;
	}
	if (queue_env_add_rcpt(&s->env, addr, local) == -1) {
		reply(s, R_TOO_MANY_RCPTS);
		return;
	}
	reply(s, R_RCPT_OK);
}

/* ------------------------------------------------------------------ */
/* commands                                                             */

struct session_cmd {
	enum smtp_verb	verb;
	int		(*check)(struct session *, const struct smtp_cmd *);
	void		(*proceed)(struct session *, const struct smtp_cmd *);
};

static int
check_any(struct session *s, const struct smtp_cmd *c)
{
	(void)s;
	(void)c;
	return 0;
}

static int
check_helo_seen(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	if (s->helo_seen)
		return 0;
	reply_error(s, R_NEED_EHLO);
	return -1;
}

static int
check_mail(struct session *s, const struct smtp_cmd *c)
{
	if (check_helo_seen(s, c) == -1)
		return -1;
	if (s->in_mail) {
		reply_error(s, R_NESTED_MAIL);
		return -1;
	}
	if (c->has_size && c->size > s->ctx->conf->message_size_limit) {
		reply_error(s, R_SIZE_OVER);
		return -1;
	}
	return 0;
}

static int
check_rcpt(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	if (!s->in_mail) {
		reply_error(s, R_NEED_MAIL_RCPT);
		return -1;
	}
	if ((int64_t)s->env.nrcpt >= s->ctx->conf->recipient_limit) {
		reply(s, R_TOO_MANY_RCPTS);
		return -1;
	}
	return 0;
}

static int
check_data(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	if (!s->in_mail || s->env.nrcpt == 0) {
		reply_error(s, s->in_mail ? R_NEED_RCPT_DATA :
		    R_NEED_MAIL_DATA);
		return -1;
	}
	if (s->bdat) {
		reply_error(s, R_DATA_AFTER_BDAT);
		return -1;
	}
	return 0;
}

static int
check_starttls(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	if (s->tls) {
		reply_error(s, R_IN_TLS);
		return -1;
	}
	if (s->ctx->tls == NULL || !s->ctx->conf->starttls_enable) {
		reply_error(s, R_NO_STARTTLS);
		return -1;
	}
	if (s->in_mail) {
		reply_error(s, R_TLS_IN_TXN);
		return -1;
	}
	return 0;
}

static void
ehlo_lines(struct session *s, const char **lines, size_t *n, char *size,
    size_t sizelen)
{
	const struct stsec_ehlo_lines *pkp;
	size_t	i;

	(void)snprintf(size, sizelen, "SIZE %" PRIu64,
	    s->ctx->conf->message_size_limit);
	lines[(*n)++] = "PIPELINING";
	lines[(*n)++] = size;
	lines[(*n)++] = "8BITMIME";
	lines[(*n)++] = "ENHANCEDSTATUSCODES";
	lines[(*n)++] = "CHUNKING";
	lines[(*n)++] = "SMTPUTF8";
	if (ADVERTISE_TLS(s))
		lines[(*n)++] = "STARTTLS";
	if (ADVERTISE_PKP(s)) {
		pkp = tls_server_pkp(s->ctx->tls);
		for (i = 0; i < pkp->n; i++)
			lines[(*n)++] = pkp->line[i];
	}
	if (ADVERTISE_STSEC(s))
		lines[(*n)++] = tls_server_stsec(s->ctx->tls);
}

static void
proceed_ehlo(struct session *s, const struct smtp_cmd *c)
{
	const char *lines[8 + STSEC_MAX_PINS + 4];
	char	first[SMTP_REPLY_LINE_MAX], size[32];
	char	buf[SMTP_REPLY_LINE_MAX * (8 + STSEC_MAX_PINS + 4)];
	size_t	n = 0;
	int	len;

	txn_reset(s);
	(void)snprintf(s->helo, sizeof(s->helo), "%s", c->domain);
	s->helo_seen = 1;
	s->esmtp = c->verb == SMTP_V_EHLO;
	(void)snprintf(first, sizeof(first), "%s Hello %s",
	    s->ctx->conf->myhostname, c->domain);
	lines[n++] = first;
	if (s->esmtp)
		ehlo_lines(s, lines, &n, size, sizeof(size));
	len = smtp_reply_format(buf, sizeof(buf), 250, NULL, lines, n);
	if (len < 0 || evbuffer_add(bufferevent_get_output(s->bev), buf,
	    (size_t)len) == -1)
		reply(s, R_FORMAT_ERROR);
}

static void
proceed_mail(struct session *s, const struct smtp_cmd *c)
{
	txn_reset(s);
	s->in_mail = 1;
	(void)snprintf(s->env.sender, sizeof(s->env.sender), "%s", c->path);
	(void)snprintf(s->env.client, sizeof(s->env.client), "%s", s->addr);
	(void)snprintf(s->env.helo, sizeof(s->env.helo), "%s", s->helo);
	s->env.arrival = (int64_t)time(NULL);
	s->env.body_8bit = c->body == SMTP_BODY_8BITMIME;
	s->env.smtputf8 = c->smtputf8;
	reply(s, R_SENDER_OK);
}

static void
proceed_rcpt(struct session *s, const struct smtp_cmd *c)
{
	rcpt_accept(s, c->path);
}

static void
proceed_data(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	if (msg_begin(s) == -1) {
		reply(s, R_LOCAL_ERROR);
		return;
	}
	smtp_data_init(&s->data, s->ctx->conf->message_size_limit);
	enter_state(s, S_DATA);
	reply(s, R_DATA_GO);
}

static int
check_bdat(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	if (!s->in_mail || s->env.nrcpt == 0) {
		reply_error(s, s->in_mail ? R_NEED_RCPT_BDAT :
		    R_NEED_MAIL_BDAT);
		return -1;
	}
	if (!s->bdat && msg_begin(s) == -1) {
		reply(s, R_LOCAL_ERROR);
		return -1;
	}
	return 0;
}

static void
proceed_bdat(struct session *s, const struct smtp_cmd *c)
{
	if (!s->bdat)
		smtp_text_init(&s->bdat_text);
	s->bdat = 1;
	s->bdat_left = c->chunk_size;
	s->bdat_last = c->last;
	enter_state(s, S_BDAT);
}

/*
 * A refused BDAT still carries its chunk: read and drop those octets, or
 * they would be taken for commands (RFC 3030 section 2).
 */
static void
bdat_skip(struct session *s, const struct smtp_cmd *c)
{
	if (s->state == S_DEAD || s->state == S_QUIT || c->chunk_size == 0)
		return;
	s->bdat_left = c->chunk_size;
	enter_state(s, S_BDAT_SKIP);
}

static void
proceed_rset(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	txn_reset(s);
	reply(s, R_OK);
}

static void
proceed_noop(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	reply(s, R_OK);
}

static void
proceed_quit(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	reply(s, R_BYE);
	session_quit(s);
}

static void
proceed_vrfy(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	reply(s, R_VRFY);
}

static void
proceed_expn(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	reply(s, R_EXPN);
}

static void
proceed_help(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	reply(s, R_HELP);
}

static void
proceed_auth(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	reply_error(s, R_AUTH);
}

static void
proceed_starttls(struct session *s, const struct smtp_cmd *c)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t	left = evbuffer_get_length(in);

	(void)c;
	if (left > 0) {
		log_info("%s discarded=%zu reason=\"input pipelined after "
		    "STARTTLS\"", s->id, left);
		(void)evbuffer_drain(in, left);
	}
	reply(s, R_TLS_GO);
	enter_state(s, S_TLS_FLUSH);
	(void)bufferevent_disable(s->bev, EV_READ);
}

static const struct session_cmd session_cmds[] = {
	{ SMTP_V_HELO,		check_any,		proceed_ehlo },
	{ SMTP_V_EHLO,		check_any,		proceed_ehlo },
	{ SMTP_V_MAIL,		check_mail,		proceed_mail },
	{ SMTP_V_RCPT,		check_rcpt,		proceed_rcpt },
	{ SMTP_V_DATA,		check_data,		proceed_data },
	{ SMTP_V_BDAT,		check_bdat,		proceed_bdat },
	{ SMTP_V_RSET,		check_any,		proceed_rset },
	{ SMTP_V_NOOP,		check_any,		proceed_noop },
	{ SMTP_V_QUIT,		check_any,		proceed_quit },
	{ SMTP_V_VRFY,		check_any,		proceed_vrfy },
	{ SMTP_V_EXPN,		check_any,		proceed_expn },
	{ SMTP_V_HELP,		check_any,		proceed_help },
	{ SMTP_V_AUTH,		check_any,		proceed_auth },
	{ SMTP_V_STARTTLS,	check_starttls,		proceed_starttls },
};

static void
session_command(struct session *s, const char *line, size_t len)
{
	const struct smtp_status *st;
	struct smtp_cmd cmd;
	size_t	i;

	st = smtp_cmd_parse(line, len, s->env.smtputf8, &cmd);
	if (st != NULL) {
		reply_error_status(s, st);
		return;
	}
	log_debug("%s command=%s", s->id, smtp_verb_str(cmd.verb));
	for (i = 0; i < sizeof(session_cmds) / sizeof(*session_cmds); i++) {
		if (session_cmds[i].verb != cmd.verb)
			continue;
		if (session_cmds[i].check(s, &cmd) == 0)
			session_cmds[i].proceed(s, &cmd);
		else if (cmd.verb == SMTP_V_BDAT)
			bdat_skip(s, &cmd);
		return;
	}
	reply_error(s, R_UNKNOWN);
}

/* ------------------------------------------------------------------ */
/* input                                                                */

/*
 * One command line from the input, or 0 when none is complete.  An
 * overlong line is skipped to its end and answered, so the session stays
 * in sync (Postfix does the same).
 */
static int
read_command(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_ptr p;
	char	line[SMTP_CMD_LINE_MAX + 1];
	size_t	len, eol_len = 0;

	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (p.pos == -1) {
		len = evbuffer_get_length(in);
		if (len > SMTP_CMD_LINE_MAX) {
			(void)evbuffer_drain(in, len);
			s->skipping = 1;
		}
		return 0;
	}
	len = (size_t)p.pos;
	if (s->skipping || len > SMTP_CMD_LINE_MAX - 2) {
		(void)evbuffer_drain(in, len + eol_len);
		s->skipping = 0;
		reply_error(s, R_LINE_LONG);
		return 1;
	}
	if (eol_len != 2) {
		/* Not a line end in SMTP (RFC 5321 2.3.8): not run. */
		(void)evbuffer_drain(in, len + eol_len);
		reply_error(s, R_BARE_LF);
		return 1;
	}
	if (evbuffer_remove(in, line, len) != (int)len ||
	    evbuffer_drain(in, eol_len) == -1) {
		session_close(s, "input buffer error");
		return 1;
	}
	line[len] = '\0';
	cmd_deadline(s);	/* the next command has its own deadline */
	session_command(s, line, len);
	return 1;
}

static void
data_finish(struct session *s)
{
	const struct smtp_status *st = smtp_data_error(&s->data);

	if (st != NULL) {
		log_info("%s message refused: %s", s->id, st->text);
		txn_reset(s);
		enter_state(s, S_CMD);
		reply_status(s, st);
		return;
	}
	commit_start(s);
}

static int
read_data(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	char	buf[16384], out[16384], err[QUEUE_ERR_MAX];
	size_t	n, used, outlen;
	int	got;

	got = evbuffer_copyout(in, buf, sizeof(buf));
	if (got <= 0)
		return 0;
	n = (size_t)got;
	used = smtp_data_feed(&s->data, buf, n, out, &outlen);
	(void)evbuffer_drain(in, used);
	data_deadline_credit(s, used);
	if (outlen > 0 && s->msg != NULL &&
	    queue_msg_write(s->msg, out, outlen, err, sizeof(err)) == -1) {
		log_warn("%s %s", s->id, err);
		queue_msg_abort(s->msg);
		s->msg = NULL;
	}
	if (!s->data.done)
		return 1;
	if (s->msg == NULL) {
		txn_reset(s);
		enter_state(s, S_CMD);
		reply_status(s, &srv_replies[R_QUEUE_FAIL]);
		return 1;
	}
	data_finish(s);
	return 1;
}

static void
bdat_chunk_done(struct session *s)
{
	uint64_t size;
	int	skipped = s->state == S_BDAT_SKIP;

	enter_state(s, S_CMD);
	if (skipped) {
		if (!s->bdat)
			data_deadline_stop(s);
		return;
	}
	size = s->bdat_octets;
	if (s->bdat_error == NULL && s->bdat_last)
		s->bdat_error = smtp_text_error(&s->bdat_text);
	if (s->bdat_error != NULL) {
		log_info("%s message refused: %s", s->id, s->bdat_error->text);
		reply_status(s, s->bdat_error);
		txn_reset(s);
		return;
	}
	if (!s->bdat_last) {
		char	n[24];

		(void)snprintf(n, sizeof(n), "%" PRIu64, size);
		reply(s, R_CHUNK_OK, n);
		return;
	}
	commit_start(s);
}

static void
bdat_write(struct session *s, const char *buf, size_t n)
{
	char	err[QUEUE_ERR_MAX];

	if (s->bdat_error != NULL)
		return;
	smtp_text_feed(&s->bdat_text, buf, n);
	if (s->bdat_octets + n > s->ctx->conf->message_size_limit) {
		s->bdat_error = &srv_replies[R_TOO_BIG];
		return;
	}
	s->bdat_octets += n;
	if (queue_msg_write(s->msg, buf, n, err, sizeof(err)) == -1) {
		log_warn("%s %s", s->id, err);
		s->bdat_error = &srv_replies[R_QUEUE_FAIL];
	}
}

static int
read_bdat(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	char	buf[16384];
	size_t	n = evbuffer_get_length(in);

	if (n > s->bdat_left)
		n = (size_t)s->bdat_left;
	if (n > sizeof(buf))
		n = sizeof(buf);
	if (n > 0) {
		if (evbuffer_remove(in, buf, n) != (int)n)
			return 0;
		s->bdat_left -= n;
		data_deadline_credit(s, n);
		if (s->state == S_BDAT)
			bdat_write(s, buf, n);
	}
	if (s->bdat_left == 0) {
		bdat_chunk_done(s);
		return 1;
	}
	return n > 0;
}

/* Runs what the input holds, as far as the state allows. */
static void
session_process(struct session *s)
{
	int	more = 1;

	while (more && s->state != S_DEAD) {
		switch (s->state) {
		case S_CMD:
			more = read_command(s);
			break;
		case S_DATA:
			more = read_data(s);
			break;
		case S_BDAT:
		case S_BDAT_SKIP:
			more = read_bdat(s);
			break;
		default:
			more = 0;
			break;
		}
	}
}

/* ------------------------------------------------------------------ */
/* TLS                                                                  */

static void
session_timeouts(struct session *s)
{
	const struct conf *c = s->ctx->conf;
	struct timeval rd = { (time_t)c->command_timeout, 0 };
	struct timeval wr = { (time_t)c->command_timeout, 0 };

	if (s->state == S_DATA || s->state == S_BDAT ||
	    s->state == S_BDAT_SKIP)
		rd.tv_sec = (time_t)c->data_timeout;
	(void)bufferevent_set_timeouts(s->bev, &rd, &wr);
}

static void
session_bev_setup(struct session *s)
{
	bufferevent_setcb(s->bev, session_read_cb, session_write_cb,
	    session_event_cb, s);
	session_timeouts(s);
	(void)bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* The 220 is written: wrap the connection in TLS. */
static void
starttls_upgrade(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct bufferevent *tbev;
	SSL	*ssl;
	size_t	left = evbuffer_get_length(in);

	if (left > 0) {
		log_info("%s discarded=%zu reason=\"input before TLS "
		    "handshake\"", s->id, left);
		(void)evbuffer_drain(in, left);
	}
	if ((ssl = SSL_new(tls_server_ctx(s->ctx->tls))) == NULL) {
		session_close(s, "SSL_new failed");
		return;
	}
	tbev = bufferevent_openssl_filter_new(s->ctx->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (tbev == NULL) {
		SSL_free(ssl);
		session_close(s, "cannot start TLS");
		return;
	}
	s->bev = tbev;
	bufferevent_openssl_set_allow_dirty_shutdown(tbev, 1);
	enter_state(s, S_HANDSHAKE);
	session_bev_setup(s);
}

static void
greet(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	/* RFC 5321 4.2: the domain first; no enhanced code (RFC 2034). */
	if (evbuffer_add_printf(out, "220 %s ESMTP pinpost\r\n",
	    s->ctx->conf->myhostname) == -1)
		log_warn("%s cannot queue the greeting", s->id);
}

static void
tls_ready(struct session *s)
{
	char	info[128];
	SSL	*ssl = bufferevent_openssl_get_ssl(s->bev);
	int	implicit = s->state == S_TLS_ACCEPT;

	/* Forget everything said in plaintext (RFC 3207 section 4.2). */
	txn_reset(s);
	s->helo_seen = 0;
	s->esmtp = 0;
	s->helo[0] = '\0';
	s->tls = 1;
	log_info("%s tls=%s", s->id, tls_session_info(ssl, info,
	    sizeof(info)));
	enter_state(s, S_CMD);
	if (implicit)
		greet(s);
}

/* ------------------------------------------------------------------ */
/* callbacks                                                            */

static void
session_read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	session_process(s);
	if (s->state != S_DEAD)
		session_timeouts(s);
	session_reap(s);
}

/*
 * Output still on its way: with a STARTTLS filter, the write callback
 * comes when the filter's buffer is empty, not the socket's.
 */
static int
output_pending(struct session *s)
{
	struct bufferevent *u = bufferevent_get_underlying(s->bev);

	return evbuffer_get_length(bufferevent_get_output(s->bev)) > 0 ||
	    (u != NULL && evbuffer_get_length(bufferevent_get_output(u)) > 0);
}

#define LINGER_MS	10
#define LINGER_MAX	200	/* 2 s, then close anyway */

static void
linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct timeval tv = { 0, LINGER_MS * 1000 };

	(void)fd;
	(void)what;
	if (++s->linger_n >= LINGER_MAX)
		session_close(s, NULL);
	else if (output_pending(s)) {
		if (evtimer_add(s->linger, &tv) == -1)
			session_close(s, NULL);
	} else
		quit_flushed(s);	/* close_notify, or the close */
	session_reap(s);
}

static void
quit_flushed(struct session *s)
{
	struct timeval tv = { 0, LINGER_MS * 1000 };
	SSL	*ssl = bufferevent_openssl_get_ssl(s->bev);

	/* The last reply is out: end TLS with close_notify, then wait. */
	if (ssl != NULL && !s->notified && !output_pending(s)) {
		s->notified = 1;
		ERR_clear_error();
		(void)SSL_shutdown(ssl);
	}
	if (!output_pending(s)) {
		session_close(s, NULL);
		return;
	}
	if (s->linger == NULL &&
	    (s->linger = evtimer_new(s->ctx->base, linger_cb, s)) == NULL) {
		session_close(s, NULL);
		return;
	}
	if (evtimer_add(s->linger, &tv) == -1)
		session_close(s, NULL);
}

static void
session_write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (s->state == S_TLS_FLUSH)
		starttls_upgrade(s);
	else if (s->state == S_QUIT)
		quit_flushed(s);
	session_reap(s);
}

static void
log_ssl_errors(struct session *s)
{
	unsigned long e;
	char	buf[256];

	while ((e = bufferevent_get_openssl_error(s->bev)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_info("%s tls-error=\"%s\"", s->id, buf);
	}
}

static void	session_timeout(struct session *);

/*
 * RFC 5321 4.5.3.2.7: a whole command within command_timeout.  The
 * bufferevent's read timeout restarts with every byte, so a client
 * that trickles one byte at a time (slowloris) needs this deadline.
 */
static void
cmd_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->state == S_CMD && s->state != S_DEAD)
		session_timeout(s);
	session_reap(s);
}

static void
cmd_deadline(struct session *s)
{
	struct timeval tv = { (time_t)s->ctx->conf->command_timeout, 0 };

	if (s->cmd_timer == NULL &&
	    (s->cmd_timer = evtimer_new(s->ctx->base, cmd_timer_cb, s)) == NULL)
		return;		/* the read timeout still applies */
	(void)evtimer_add(s->cmd_timer, &tv);
}

/* Microseconds on the monotonic clock. */
static int64_t
now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
data_phase(const struct session *s)
{
	return s->state == S_DATA || s->state == S_BDAT ||
	    s->state == S_BDAT_SKIP || (s->state == S_CMD && s->bdat);
}

static void
data_timer_arm(struct session *s, int64_t us)
{
	struct timeval tv = { (time_t)(us / 1000000),
	    (suseconds_t)(us % 1000000) };

	(void)evtimer_add(s->data_timer, &tv);
}

/*
 * The whole message within data_timeout plus data_min_rate's share of
 * what came (Postfix's smtpd_min_data_rate): the per-read timeout
 * restarts with every octet, this deadline does not.
 */
static void
data_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int64_t	left;

	(void)fd;
	(void)what;
	if (s->state == S_DEAD || !data_phase(s))
		return;
	if ((left = s->data_deadline - now_us()) > 0)
		data_timer_arm(s, left);
	else
		session_timeout(s);
	session_reap(s);
}

static void
data_deadline_start(struct session *s)
{
	int64_t	us = s->ctx->conf->data_timeout * 1000000;

	if (s->data_timer == NULL && (s->data_timer = evtimer_new(s->ctx->base,
	    data_timer_cb, s)) == NULL)
		return;		/* the read timeout still applies */
	if (evtimer_pending(s->data_timer, NULL))
		return;		/* a later BDAT chunk: the same deadline */
	s->data_deadline = now_us() + us;
	data_timer_arm(s, us);
}

static void
data_deadline_credit(struct session *s, size_t n)
{
	s->data_deadline += (int64_t)n * 1000000 /
	    s->ctx->conf->data_min_rate;
}

static void
data_deadline_stop(struct session *s)
{
	if (s->data_timer != NULL)
		(void)evtimer_del(s->data_timer);
}

static void
session_timeout(struct session *s)
{
	log_info("%s timeout state=%s", s->id, state_str(s->state));
	if (s->state == S_HANDSHAKE || s->state == S_TLS_ACCEPT ||
	    s->state == S_TLS_FLUSH) {
		session_close(s, "timeout");	/* no reply can get through */
		return;
	}
	reply(s, R_TIMEOUT, s->ctx->conf->myhostname);
	session_quit(s);
}

static void
session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		tls_ready(s);
	else {
		log_ssl_errors(s);
		if ((what & BEV_EVENT_TIMEOUT) && s->state != S_QUIT)
			session_timeout(s);
		else if ((what & BEV_EVENT_TIMEOUT) &&
		    (what & BEV_EVENT_READING))
			;	/* QUIT: the last reply is still going out */
		else if ((what & BEV_EVENT_EOF) && s->state == S_QUIT &&
		    s->linger_n == 0)
			quit_flushed(s);	/* the 221 still goes out */
		else
			session_close(s, what & BEV_EVENT_EOF ?
			    "disconnected" : what & BEV_EVENT_TIMEOUT ?
			    "timeout" : "connection error");
	}
	session_reap(s);
}

/* ------------------------------------------------------------------ */
/* life                                                                 */

static void
session_free(struct session *s)
{
	struct session_hooks hooks = s->hooks;

	txn_reset(s);
	if (s->linger != NULL)
		event_free(s->linger);
	if (s->cmd_timer != NULL)
		event_free(s->cmd_timer);
	if (s->data_timer != NULL)
		event_free(s->data_timer);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	free(s);
	hooks.gone(hooks.arg);
}

/*
 * Frees are deferred: callbacks only mark the session dead, and each
 * top-level callback ends here, after the stack has unwound.  A session
 * with a worker job out waits for commit_done().
 */
static void
session_reap(struct session *s)
{
	if (s->state == S_DEAD && !s->job)
		session_free(s);
}

static void
session_close(struct session *s, const char *why)
{
	if (s->state == S_DEAD)
		return;
	if (why != NULL)
		log_info("%s close reason=\"%s\" state=%s", s->id, why,
		    state_str(s->state));
	log_info("%s disconnect from=%s", s->id, s->addr);
	enter_state(s, S_DEAD);
	(void)bufferevent_disable(s->bev, EV_READ | EV_WRITE);
}

/* The last reply is queued: close once it is written. */
static void
session_quit(struct session *s)
{
	enter_state(s, S_QUIT);
	(void)bufferevent_disable(s->bev, EV_READ);
	(void)bufferevent_enable(s->bev, EV_WRITE);
	/* The TLS filter may have moved the reply on already. */
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		quit_flushed(s);
}

/* The server is stopping: 421 now, or after the commit or the flush. */
void
session_shutdown(struct session *s)
{
	s->shutdown = 1;
	/* Else commit_done() or the flush ends it. */
	if (!s->job && s->state != S_QUIT && s->state != S_DEAD) {
		txn_reset(s);
		reply(s, R_SHUTDOWN, s->ctx->conf->myhostname);
		session_quit(s);
	}
	session_reap(s);
}

/* The stop deadline passed: drop it, even if it is still flushing. */
void
session_abort(struct session *s)
{
	session_close(s, "shutdown deadline");
	session_reap(s);
}

const struct sockaddr *
session_addr(const struct session *s)
{
	return (const struct sockaddr *)&s->ss;
}


static struct bufferevent *
session_bev_new(struct session *s, evutil_socket_t fd, int implicit_tls)
{
	struct bufferevent *bev;
	SSL	*ssl;
	int	opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

	if (!implicit_tls)
		return bufferevent_socket_new(s->ctx->base, fd, opts);
	if ((ssl = SSL_new(tls_server_ctx(s->ctx->tls))) == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(s->ctx->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, opts);
	if (bev == NULL)
		SSL_free(ssl);
	else
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

struct session *
session_new(const struct mta_ctx *ctx, uint64_t id, evutil_socket_t fd,
    const struct sockaddr *sa, socklen_t salen, int implicit_tls,
    const struct session_hooks *hooks)
{
	struct session *s;
	int	one = 1;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->ctx = ctx;
	s->hooks = *hooks;
	(void)snprintf(s->id, sizeof(s->id), "%016" PRIx64, id);
	memcpy(&s->ss, sa, salen < sizeof(s->ss) ? salen : sizeof(s->ss));
	(void)addr_format(sa, s->addr, sizeof(s->addr));
	s->relay_ok = conf_net_match(&ctx->conf->relay_networks, sa) == 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((s->bev = session_bev_new(s, fd, implicit_tls)) == NULL) {
		free(s);
		return NULL;
	}
	log_info("%s connect from=%s%s", s->id, s->addr,
	    implicit_tls ? " tls=implicit" : "");
	if (implicit_tls) {
		enter_state(s, S_TLS_ACCEPT);	/* then the greeting */
	} else {
		greet(s);
		cmd_deadline(s);
	}
	session_bev_setup(s);
	return s;
}
