/*
 * cli_send.c - pinpost send: submit a message to the local pinpostd.
 *
 * SYNOPSIS
 *	pinpost send [-f config] [-S host:port] [-F sender] [-t] [-i]
 *	    [rcpt...]
 *
 * DESCRIPTION
 *	Reads a message from standard input (cli_msg.c), takes the
 *	recipients from the arguments and, with -t, from To:, Cc: and Bcc:
 *	(cli_addr.c), removes Bcc: and adds From: when there is none, then
 *	submits it over SMTP (cli_smtp.c) to -S or to the first `listen`
 *	address of the configuration: EHLO, MAIL FROM, RCPT TO for each
 *	recipient, DATA.  The message goes only when every recipient is
 *	accepted.  An address without "@" gets "@myhostname".
 *
 *	cli_send_run() does the work for pinpost send and for sendmail
 *	mode (cli_sendmail.c).
 *
 * EXIT STATUS (sysexits.h)
 *	EX_OK; EX_USAGE bad options or addresses; EX_DATAERR bad input (a
 *	line over 998 octets, over message_size_limit, no recipient in the
 *	header with -t, a bad address in it); EX_NOHOST unknown host;
 *	EX_UNAVAILABLE a 5xx reply; EX_TEMPFAIL a 4xx reply, no connection,
 *	a lost connection or a timeout; EX_PROTOCOL a malformed reply;
 *	EX_IOERR reading standard input; EX_CONFIG the configuration.
 *
 * DIAGNOSTICS
 *	"pinpost: HOST:PORT: COMMAND: REPLY", one line per reply line, for
 *	a refusal; the other messages name the file, option or header.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "cli_addr.h"
#include "cli_msg.h"
#include "cli_send.h"
#include "cli_smtp.h"
#include "conf.h"
#include "smtp_reply.h"

#define SEND_CONNECT_TIMEOUT	30
#define SEND_TIMEOUT		300	/* per reply; RFC 5321 4.5.3.2 */
#define SEND_NAME_MAX		128	/* -F full name, in From: */
#define SEND_HOST_MAX		256

struct send_ctx {
	const struct cli_send_opts *o;
	struct conf	 conf;
	char		 sender[CLI_ADDR_MAX + 1];
	struct cli_addrs rcpt;
	struct cli_msg	 msg;
	char		 server[SEND_HOST_MAX + 8];
	int		 ext_8bit;	/* EHLO keywords */
	int		 ext_utf8;
	int		 ext_size;
	int		 io_failed;	/* no QUIT on a broken connection */
	struct cli_smtp	 smtp;
	char		 err[CLI_SEND_ERR_MAX];
};

static int
send_usage(void)
{
	(void)cli_usage("send");
	return EX_USAGE;
}

int
cli_send_main(struct cli *cli, int argc, char **argv)
{
	struct cli_send_opts o = { CLI_CONF_DEFAULT, NULL, NULL, NULL, 0, 1,
	    NULL, 0 };
	int	ch;

	(void)cli;
	while ((ch = getopt(argc, argv, "f:S:F:tio:")) != -1) {
		switch (ch) {
		case 'f':
			o.conf_path = optarg;
			break;
		case 'S':
			o.server = optarg;
			break;
		case 'F':
			o.sender = optarg;
			break;
		case 't':
			o.extract = 1;
			break;
		case 'i':
			o.dot_ends = 0;
			break;
		case 'o':
			if (strcmp(optarg, "i") != 0)
				return send_usage();
			o.dot_ends = 0;
			break;
		default:
			return send_usage();
		}
	}
	o.rcpt = argv + optind;
	o.nrcpt = (size_t)(argc - optind);
	if (!o.extract && o.nrcpt == 0)
		return send_usage();
	return cli_send_run(&o);
}

/* ------------------------------------------------------------------ */
/* the envelope								*/

/* addr, or addr@myhostname when it has no "@", into buf. */
static int
qualified(const struct send_ctx *sc, const char *addr, char *buf,
    size_t len)
{
	int	n;

	if (addr[0] == '\0' || strchr(addr, '@') != NULL)
		n = snprintf(buf, len, "%s", addr);
	else
		n = snprintf(buf, len, "%s@%s", addr, sc->conf.myhostname);
	if (n < 0 || (size_t)n >= len) {
		cli_err("%s@%s: address too long", addr, sc->conf.myhostname);
		return -1;
	}
	return 0;
}

static int
send_sender(struct send_ctx *sc)
{
	struct passwd *pw;
	const char *s = sc->o->sender;
	char	buf[sizeof(sc->sender)];

	if (s == NULL) {
		if ((pw = getpwuid(getuid())) == NULL) {
			cli_err("cannot find the name of user %ld; give the "
			    "sender", (long)getuid());
			return EX_USAGE;
		}
		s = pw->pw_name;
	}
	if (cli_addr_one(s, sc->sender, sizeof(sc->sender), sc->err,
	    sizeof(sc->err)) == -1) {
		cli_err("sender: %s", sc->err);
		return EX_USAGE;
	}
	if (qualified(sc, sc->sender, buf, sizeof(buf)) == -1)
		return EX_USAGE;
	memcpy(sc->sender, buf, sizeof(buf));
	return EX_OK;
}

/* s for a message: at most len - 1 octets, control octets as '?'. */
static const char *
printable(const char *s, char *buf, size_t len)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static int
send_args(struct send_ctx *sc)
{
	char	show[64];
	const char *a;
	size_t	i;

	for (i = 0; i < sc->o->nrcpt; i++) {
		a = sc->o->rcpt[i];
		if (cli_addr_parse(&sc->rcpt, a, strlen(a), sc->err,
		    sizeof(sc->err)) == -1) {
			cli_err("recipient %s: %s", printable(a, show,
			    sizeof(show)), sc->err);
			return EX_USAGE;
		}
	}
	return EX_OK;
}

/* -t: To:, Cc:, Bcc: into the recipients; Bcc: removed anyway. */
static int
send_header(struct send_ctx *sc, int *has_from)
{
	struct cli_msg *m = &sc->msg;
	struct cli_field f;
	size_t	pos = 0;
	int	bcc, rcpt;

	*has_from = 0;
	while (cli_msg_field(m, &pos, &f)) {
		bcc = cli_msg_field_is(m, &f, "Bcc");
		rcpt = bcc || cli_msg_field_is(m, &f, "To") ||
		    cli_msg_field_is(m, &f, "Cc");
		if (cli_msg_field_is(m, &f, "From"))
			*has_from = 1;
		if (sc->o->extract && rcpt && cli_addr_parse(&sc->rcpt,
		    m->buf + f.val, f.end - f.val, sc->err,
		    sizeof(sc->err)) == -1) {
			cli_err("stdin: %.*s: %s", (int)f.name_len,
			    m->buf + f.start, sc->err);
			return EX_DATAERR;
		}
		if (bcc) {
			cli_msg_cut(m, &f);
			pos = f.start;
		}
	}
	return EX_OK;
}

/* From: [NAME] <sender>, the name a quoted string without controls. */
static int
send_add_from(struct send_ctx *sc)
{
	char	name[2 * SEND_NAME_MAX + 3], line[sizeof(name) +
		    CLI_ADDR_MAX + 16];
	const char *s = sc->o->fullname;
	size_t	n = 0, i;
	int	len;

	for (i = 0; s != NULL && s[i] != '\0' && i < SEND_NAME_MAX; i++) {
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			continue;
		if (n == 0)
			name[n++] = '"';
		if (s[i] == '"' || s[i] == '\\')
			name[n++] = '\\';
		name[n++] = s[i];
	}
	if (n > 0)
		memcpy(name + n, "\" ", 3);
	else
		name[0] = '\0';
	len = snprintf(line, sizeof(line), "From: %s<%s>\r\n", name,
	    sc->sender);
	if (len < 0 || (size_t)len >= sizeof(line) ||
	    cli_msg_prepend(&sc->msg, line, (size_t)len) == -1) {
		cli_err("stdin: cannot add From: (out of memory)");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* preparing								*/

static int
send_recipients(struct send_ctx *sc)
{
	char	buf[CLI_ADDR_MAX + 1], *p;
	size_t	i;

	if (sc->rcpt.n == 0) {
		cli_err(sc->o->extract ? "stdin: no recipient in To:, Cc: or "
		    "Bcc:" : "no recipient");
		return sc->o->extract ? EX_DATAERR : EX_USAGE;
	}
	for (i = 0; i < sc->rcpt.n; i++) {
		if (strchr(sc->rcpt.v[i], '@') != NULL)
			continue;
		if (qualified(sc, sc->rcpt.v[i], buf, sizeof(buf)) == -1)
			return EX_USAGE;
		if ((p = strdup(buf)) == NULL) {
			cli_err("out of memory");
			return EX_OSERR;
		}
		free(sc->rcpt.v[i]);
		sc->rcpt.v[i] = p;
	}
	return EX_OK;
}

/* -S, else the first listen address; a wildcard means this host. */
static int
send_server(struct send_ctx *sc)
{
	const char *s = sc->o->server;

	if (s == NULL) {
		if (sc->conf.listen.n == 0) {
			cli_err("%s: no listen address; use -S host:port",
			    sc->o->conf_path);
			return EX_CONFIG;
		}
		s = sc->conf.listen.v[0];
		if (strncmp(s, "0.0.0.0:", 8) == 0) {
			(void)snprintf(sc->server, sizeof(sc->server),
			    "127.0.0.1%s", s + 7);
			return EX_OK;
		}
		if (strncmp(s, "[::]:", 5) == 0) {
			(void)snprintf(sc->server, sizeof(sc->server),
			    "[::1]%s", s + 4);
			return EX_OK;
		}
	}
	if ((size_t)snprintf(sc->server, sizeof(sc->server), "%s", s) >=
	    sizeof(sc->server)) {
		cli_err("%.64s...: server address too long", s);
		return EX_USAGE;
	}
	return EX_OK;
}

static int
send_prepare(struct send_ctx *sc)
{
	int	rc, has_from;

	if (conf_load(sc->o->conf_path, &sc->conf, sc->err,
	    sizeof(sc->err)) == -1) {
		cli_err("%s", sc->err);
		return EX_CONFIG;
	}
	sc->rcpt.max = (size_t)sc->conf.recipient_limit;
	sc->msg.max = (size_t)sc->conf.message_size_limit;
	if ((rc = send_server(sc)) != EX_OK || (rc = send_sender(sc)) !=
	    EX_OK || (rc = send_args(sc)) != EX_OK)
		return rc;
	if ((rc = cli_msg_read(&sc->msg, stdin, sc->o->dot_ends, sc->err,
	    sizeof(sc->err))) != EX_OK) {
		cli_err("%s", sc->err);
		return rc;
	}
	if ((rc = send_header(sc, &has_from)) != EX_OK ||
	    (rc = send_recipients(sc)) != EX_OK)
		return rc;
	if (!has_from && sc->sender[0] != '\0' && send_add_from(sc) == -1)
		return EX_DATAERR;
	return EX_OK;
}

/* ------------------------------------------------------------------ */
/* the SMTP session							*/

static void
print_reply(const struct send_ctx *sc, const char *what)
{
	const struct smtp_reply *r = &sc->smtp.reply;
	char	text[SMTP_REPLY_LINE_MAX];
	size_t	i;

	for (i = 0; i < r->nlines; i++)
		cli_err("%s: %s: %d%c%s", sc->server, what, r->code,
		    i + 1 < r->nlines ? '-' : ' ', printable(smtp_reply_text(r,
		    i), text, sizeof(text)));
}

/* rc from cli_smtp_*(); then is the reply of class want (2, 3)? */
static int
send_step(struct send_ctx *sc, int rc, int want, const char *what)
{
	if (rc != EX_OK) {
		sc->io_failed = 1;
		cli_err("%s", sc->smtp.err);
		return rc;
	}
	if (sc->smtp.reply.code / 100 == want)
		return EX_OK;
	print_reply(sc, what);
	return sc->smtp.reply.code / 100 == 4 ? EX_TEMPFAIL : EX_UNAVAILABLE;
}

static int
word_is(const char *line, const char *kw)
{
	size_t	n = strlen(kw);

	return strncasecmp(line, kw, n) == 0 &&
	    (line[n] == '\0' || line[n] == ' ');
}

/* EHLO, or HELO if EHLO is refused; notes the keywords we use. */
static int
send_ehlo(struct send_ctx *sc)
{
	char	host[SEND_HOST_MAX];
	const char *t, *name = sc->conf.myhostname;
	size_t	i;
	int	rc;

	if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0' &&
	    memchr(host, '\0', sizeof(host)) != NULL &&
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-.") == strlen(host))
		name = host;
	rc = cli_smtp_command(&sc->smtp, "EHLO %s", name);
	if (rc == EX_OK && sc->smtp.reply.code / 100 == 5)
		return send_step(sc, cli_smtp_command(&sc->smtp, "HELO %s",
		    name), 2, "HELO");
	if ((rc = send_step(sc, rc, 2, "EHLO")) != EX_OK)
		return rc;
	for (i = 1; i < sc->smtp.reply.nlines; i++) {
		t = smtp_reply_text(&sc->smtp.reply, i);
		sc->ext_8bit |= word_is(t, "8BITMIME");
		sc->ext_utf8 |= word_is(t, "SMTPUTF8");
		sc->ext_size |= word_is(t, "SIZE");
	}
	return EX_OK;
}

static int
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 127)
			return 1;
	return 0;
}

static int
send_mail(struct send_ctx *sc)
{
	char	size[32] = "", what[CLI_ADDR_MAX + 16];
	int	utf8 = has_8bit(sc->sender);
	size_t	i;

	for (i = 0; i < sc->rcpt.n; i++)
		utf8 |= has_8bit(sc->rcpt.v[i]);
	if (sc->ext_size)
		(void)snprintf(size, sizeof(size), " SIZE=%zu", sc->msg.len);
	(void)snprintf(what, sizeof(what), "MAIL FROM:<%s>", sc->sender);
	return send_step(sc, cli_smtp_command(&sc->smtp, "MAIL FROM:<%s>%s%s%s",
	    sc->sender, size, sc->msg.eightbit && sc->ext_8bit ?
	    " BODY=8BITMIME" : "", utf8 && sc->ext_utf8 ? " SMTPUTF8" : ""),
	    2, what);
}

/* Every recipient, each refusal shown; the worst one decides. */
static int
send_rcpts(struct send_ctx *sc)
{
	char	what[CLI_ADDR_MAX + 16];
	size_t	i;
	int	rc, worst = EX_OK;

	for (i = 0; i < sc->rcpt.n; i++) {
		(void)snprintf(what, sizeof(what), "RCPT TO:<%s>",
		    sc->rcpt.v[i]);
		rc = send_step(sc, cli_smtp_command(&sc->smtp, "RCPT TO:<%s>",
		    sc->rcpt.v[i]), 2, what);
		if (sc->io_failed)
			return rc;
		if (rc != EX_OK && worst != EX_UNAVAILABLE)
			worst = rc;
	}
	return worst;
}

static int
send_dialog(struct send_ctx *sc)
{
	int	rc;

	if ((rc = send_step(sc, cli_smtp_read_reply(&sc->smtp), 2,
	    "greeting")) != EX_OK ||
	    (rc = send_ehlo(sc)) != EX_OK ||
	    (rc = send_mail(sc)) != EX_OK ||
	    (rc = send_rcpts(sc)) != EX_OK ||
	    (rc = send_step(sc, cli_smtp_command(&sc->smtp, "DATA"), 3,
	    "DATA")) != EX_OK)
		return rc;
	rc = cli_smtp_data(&sc->smtp, sc->msg.buf, sc->msg.len);
	if (rc == EX_OK)
		rc = cli_smtp_read_reply(&sc->smtp);
	return send_step(sc, rc, 2, "end of data");
}

static int
send_session(struct send_ctx *sc)
{
	int	rc;

	rc = cli_smtp_connect(&sc->smtp, sc->server, SEND_CONNECT_TIMEOUT,
	    SEND_TIMEOUT);
	if (rc != EX_OK) {
		cli_err("%s", sc->smtp.err);
		return rc;
	}
	rc = send_dialog(sc);
	if (!sc->io_failed)
		(void)cli_smtp_command(&sc->smtp, "QUIT");
	cli_smtp_close(&sc->smtp);
	return rc;
}

int
cli_send_run(const struct cli_send_opts *o)
{
	struct send_ctx *sc;
	int	rc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		cli_err("out of memory");
		return EX_OSERR;
	}
	sc->o = o;
	sc->smtp.fd = -1;
	rc = send_prepare(sc);
	if (rc == EX_OK)
		rc = send_session(sc);
	cli_msg_free(&sc->msg);
	cli_addr_free(&sc->rcpt);
	conf_free(&sc->conf);
	free(sc);
	return rc;
}
