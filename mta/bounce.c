/*
 * bounce.c - delivery status notifications (RFC 3464); see bounce.h.
 *
 * PUBLIC FUNCTIONS
 *	bounce_queue(), bounce_text()
 *
 * THE MESSAGE
 *	From: Mail Delivery System <MAILER-DAEMON@HOST>, To: <SENDER>
 *	(a non-ASCII sender, which would need an 8-bit header, gets the
 *	empty group "undisclosed-recipients:;"), Subject, Date, Message-ID
 *	<NEWID@HOST>, Auto-Submitted: auto-replied (RFC 3834), MIME-Version
 *	and Content-Type: multipart/report; report-type=delivery-status
 *	with three parts: text/plain, message/delivery-status and
 *	text/rfc822-headers.  The envelope is from <> to the sender, with
 *	arrival = now, no client or helo.
 *
 *	The parts are built in memory first (each at most B_PART_MAX
 *	bytes), then the boundary "=_pinpost.NEWID" (".N" appended while
 *	it clashes) is chosen so that it occurs in none of them, then the
 *	message is written to the queue and committed.
 *
 * ENCODING
 *	CRLF line ends, every line at most 998 octets, 7bit throughout:
 *	- text we write is ASCII, wrapped at B_WRAP columns;
 *	- remote text (SMTP replies, host names) goes in as printable
 *	  ASCII: any other byte becomes '?';
 *	- an address that is printable ASCII goes in as it is ("rfc822;"
 *	  in the report); any other as RFC 6533 utf-8-addr-xtext
 *	  ("utf-8;", code points as \x{HEX}; bad UTF-8 as \x{FFFD}), cut
 *	  at B_XTEXT_MAX characters;
 *	- the original header is read up to the blank line that ends it,
 *	  at most B_HDR_MAX bytes (cut at the last whole line), every
 *	  line end made CRLF.  When every line is ASCII without NUL or CR
 *	  and at most 998 octets it goes in as 7bit, otherwise as
 *	  quoted-printable: 8-bit headers survive exactly and the report
 *	  can be relayed to any server, 8BITMIME or not.
 *
 * STATUS AND DIAGNOSTIC
 *	Status is the recipient's status; without one, the enhanced code
 *	of its last reply ("550 5.1.1 ..."; RFC 2034: same class); else
 *	X.0.0 from the reply's basic code; else 5.0.0 for a failure and
 *	4.0.0 for a delay.  A failure keeps the class it has: a message
 *	that expired after 4.7.5 deferrals is "Action: failed" with
 *	"Status: 4.7.5", and the text says why in plain words.
 *	Diagnostic-Code is "smtp; REPLY" when the last reply looks like an
 *	SMTP reply (three digits, 2xx to 5xx), else "x-pinpost; TEXT" (a
 *	local delivery error); none when there is no reply.  Remote-MTA,
 *	Last-Attempt-Date are given when known; Will-Retry-Until for
 *	delays.
 *
 * DIAGNOSTICS
 *	-1 with one line in err: "bounce: PROBLEM" for bad arguments
 *	("bad hostname", "id buffer too small"), "bounce ID: out of
 *	memory" or "... too large", "PATH: CALL: strerror" reading the
 *	original message, or what the queue reports.
 *
 * THREADS
 *	No static mutable state; one call uses its own buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "fsutil.h"
#include "queue.h"

#define B_HDR_MAX	(64 * 1024)	/* original header read */
#define B_PART_MAX	(8 * 1024 * 1024) /* one part, in memory */
#define B_LINE_MAX	998		/* RFC 5322 2.1.1 */
#define B_WRAP		72		/* our text */
#define B_QP_LINE	76		/* RFC 2045 6.7 */
#define B_XTEXT_MAX	900		/* an encoded address */
#define B_HOST_MAX	253
#define B_BOUNDARY_TRIES 1000
#define B_PATH_MAX	1024

/* A part being built: NUL-terminated, at most B_PART_MAX bytes. */
struct b_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 failed;
};

/* One report being made. */
struct b_dsn {
	const struct queue_env *env;
	const unsigned char *which;
	enum bounce_kind kind;
	const char	*host;
	int64_t		 now;
	int64_t		 expires;
	char		 newid[QUEUE_ID_LEN + 1];
	char		 boundary[64];
	const char	*hdr_cte;	/* of the headers part */
	struct b_buf	 text;
	struct b_buf	 report;
	struct b_buf	 headers;
};

/* The original header, as read. */
struct b_raw {
	char	*p;
	size_t	 len;
	int	 eof;			/* the whole message was read */
};

static const struct {
	const char	*status;
	const char	*text;
} b_texts[] = {
	{ "4.7.5", "The receiving server presented a key that did not match "
	    "the pins (PKP) it had published earlier, so the message was not "
	    "sent: either someone is interfering with the connection, or the "
	    "server changed its key without announcing a backup pin." },
	{ "4.7.4", "The receiving server had told us to always use TLS "
	    "(STSEC), but TLS could not be used on this connection, so the "
	    "message was not sent in plaintext." },
	{ "5.1.10", "The recipient's domain has declared that it accepts no "
	    "mail at all (a null MX record, RFC 7505)." },
	{ "5.1.2", "The recipient's domain does not exist." },
	{ "5.1.1", "The receiving server has no mailbox of that name." },
	{ "4.4.1", "No mail server of the recipient's domain answered." },
	{ "4.4.2", "The connection to the receiving server was lost before "
	    "the message had been accepted." },
	{ "4.4.3", "The mail servers of the recipient's domain could not be "
	    "looked up in the DNS (a temporary DNS failure)." },
	{ "4.4.7", "The message could not be delivered within the time the "
	    "mail system keeps trying." },
};

static const char *const b_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const b_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec"
};

static void b_fmt(struct b_buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------ */
/* status codes and their text						*/

/* 1 to 3 digits at s: how many, or 0. */
static size_t
b_digits(const char *s)
{
	size_t	n = strspn(s, "0123456789");

	return n <= 3 ? n : 0;
}

/* The length of the RFC 3463 status code at s, or 0 if there is none. */
static size_t
b_code_len(const char *s)
{
	size_t	a, b;

	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	if ((a = b_digits(s + 2)) == 0 || s[2 + a] != '.' ||
	    (b = b_digits(s + 3 + a)) == 0)
		return 0;
	return 3 + a + b;
}

/* "NNN " or "NNN-" or "NNN" alone, 2xx to 5xx: an SMTP reply. */
static int
b_is_reply(const char *r)
{
	return r[0] >= '2' && r[0] <= '5' && r[1] >= '0' && r[1] <= '9' &&
	    r[2] >= '0' && r[2] <= '9' &&
	    (r[3] == ' ' || r[3] == '-' || r[3] == '\0');
}

/* The status code to report for r (see STATUS AND DIAGNOSTIC above). */
static void
b_status(const struct queue_rcpt *r, enum bounce_kind kind, char *out,
    size_t len)
{
	const char *p = r->last_reply + 4;
	size_t	n;

	if ((n = b_code_len(r->status)) > 0 && r->status[n] == '\0') {
		(void)snprintf(out, len, "%s", r->status);
		return;
	}
	if (b_is_reply(r->last_reply) && r->last_reply[3] != '\0' &&
	    (n = b_code_len(p)) > 0 && (p[n] == ' ' || p[n] == '\0') &&
	    p[0] == r->last_reply[0]) {
		(void)snprintf(out, len, "%.*s", (int)n, p);
		return;
	}
	if (b_is_reply(r->last_reply) && (r->last_reply[0] == '4' ||
	    r->last_reply[0] == '5'))
		(void)snprintf(out, len, "%c.0.0", r->last_reply[0]);
	else
		(void)snprintf(out, len, "%s", kind == BOUNCE_FAILED ?
		    "5.0.0" : "4.0.0");
}

const char *
bounce_text(const char *status)
{
	size_t	i;

	if (status == NULL)
		status = "";
	for (i = 0; i < sizeof(b_texts) / sizeof(b_texts[0]); i++)
		if (strcmp(status, b_texts[i].status) == 0)
			return b_texts[i].text;
	switch (status[0]) {
	case '2':
		return "The message was delivered.";
	case '4':
		return "A temporary problem prevented delivery.";
	case '5':
		return "The receiving side refused the message, and trying "
		    "again would not help.";
	}
	return "The mail system could not tell why delivery failed.";
}

/* ------------------------------------------------------------------ */
/* building text							*/

static int
b_reserve(struct b_buf *b, size_t more)
{
	size_t	cap;
	char	*p;

	if (b->failed || more > B_PART_MAX - b->len) {
		b->failed = 1;
		return -1;
	}
	if (b->len + more + 1 <= b->cap)
		return 0;
	for (cap = b->cap > 0 ? b->cap : 4096; cap < b->len + more + 1;)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->failed = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void
b_add(struct b_buf *b, const char *s, size_t n)
{
	if (b_reserve(b, n) == -1)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
b_str(struct b_buf *b, const char *s)
{
	b_add(b, s, strlen(s));
}

static void
b_fmt(struct b_buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || b_reserve(b, (size_t)n) == -1) {
		b->failed = 1;
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Remote text as printable ASCII: any other byte becomes '?'. */
static void
b_clean(struct b_buf *b, const char *s)
{
	char	c;

	for (; *s != '\0'; s++) {
		c = *s == '\t' ? ' ' : *s;
		if (c < ' ' || c > '~')
			c = '?';
		b_add(b, &c, 1);
	}
}

/* 1 if s is printable ASCII (spaces allowed). */
static int
b_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < ' ' || *s > '~')
			return 0;
	return 1;
}

/* Word-wrap text at B_WRAP columns, each line after indent; CRLF. */
static void
b_wrap(struct b_buf *b, const char *indent, const char *text)
{
	size_t	ilen = strlen(indent), col = 0, w;

	while (*text != '\0') {
		text += strspn(text, " ");
		if ((w = strcspn(text, " ")) == 0)
			break;
		if (col > 0 && col + 1 + w > B_WRAP) {
			b_str(b, "\r\n");
			col = 0;
		}
		if (col == 0) {
			b_str(b, indent);
			col = ilen;
		} else {
			b_str(b, " ");
			col++;
		}
		b_add(b, text, w);
		col += w;
		text += w;
	}
	if (col > 0)
		b_str(b, "\r\n");
}

/* ------------------------------------------------------------------ */
/* dates and addresses							*/

/* RFC 5322 3.3 date-time in UTC; -1 if t cannot be one. */
static int
b_date(char *buf, size_t len, int64_t t)
{
	struct tm tm;
	time_t	tt = (time_t)t;
	int	n;

	if (t < 0 || (int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    tm.tm_year > 9999 - 1900 || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11)
		return -1;
	n = snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    b_days[tm.tm_wday], tm.tm_mday, b_months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* "NAME: DATE" and CRLF, when t is a time (t > 0). */
static void
b_date_field(struct b_buf *b, const char *name, int64_t t)
{
	char	date[64];

	if (t > 0 && b_date(date, sizeof(date), t) == 0)
		b_fmt(b, "%s: %s\r\n", name, date);
}

/* One UTF-8 sequence at s: its length; a bad one is U+FFFD, length 1. */
static size_t
b_utf8(const unsigned char *s, uint32_t *cp)
{
	size_t	 n, i;
	uint32_t c = s[0], min;

	*cp = 0xfffd;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		min = 0x10000;
	} else
		return 1;
	c &= 0x7fu >> n;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 1;
	*cp = c;
	return n;
}

/* RFC 6533 utf-8-addr-xtext, at most B_XTEXT_MAX characters. */
static void
b_xtext(struct b_buf *b, const char *addr)
{
	const unsigned char *s = (const unsigned char *)addr;
	char	 piece[16];
	size_t	 out = 0;
	uint32_t cp;
	int	 n;

	while (*s != '\0') {
		s += b_utf8(s, &cp);
		if (cp > 0x20 && cp < 0x7f && cp != '+' && cp != '=' &&
		    cp != '\\')
			n = snprintf(piece, sizeof(piece), "%c", (int)cp);
		else
			n = snprintf(piece, sizeof(piece), "\\x{%" PRIX32 "}",
			    cp);
		if (n < 0 || out + (size_t)n > B_XTEXT_MAX)
			break;
		b_add(b, piece, (size_t)n);
		out += (size_t)n;
	}
}

/* An address in the report: "rfc822; ADDR" or "utf-8; XTEXT". */
static void
b_addr_field(struct b_buf *b, const char *name, const char *addr)
{
	if (b_printable(addr)) {
		b_fmt(b, "%s: rfc822; %s\r\n", name, addr);
		return;
	}
	b_fmt(b, "%s: utf-8; ", name);
	b_xtext(b, addr);
	b_str(b, "\r\n");
}

/* An address in our text: as it is, or as xtext. */
static void
b_addr_text(struct b_buf *b, const char *addr)
{
	if (b_printable(addr))
		b_str(b, addr);
	else
		b_xtext(b, addr);
}

/* ------------------------------------------------------------------ */
/* the human-readable part						*/

static void
b_text_intro(struct b_dsn *d)
{
	char	arrived[64], until[64], para[1024];

	if (b_date(arrived, sizeof(arrived), d->env->arrival) == -1)
		(void)snprintf(arrived, sizeof(arrived), "(unknown date)");
	if (b_date(until, sizeof(until), d->expires) == -1)
		(void)snprintf(until, sizeof(until), "(unknown date)");
	b_fmt(&d->text, "This is the mail system at %s.\r\n\r\n", d->host);
	if (d->kind == BOUNCE_FAILED)
		(void)snprintf(para, sizeof(para), "Your message of %s could "
		    "not be delivered to the recipients listed below, and the "
		    "mail system has stopped trying. The reason for each is "
		    "given below; the headers of your message are attached.",
		    arrived);
	else
		(void)snprintf(para, sizeof(para), "Your message of %s has "
		    "not yet been delivered to the recipients listed below. "
		    "This is only a warning: the mail system will keep trying "
		    "until %s, and you do not need to send the message again. "
		    "If it still cannot be delivered by then, you will be "
		    "told.",
		    arrived, until);
	b_wrap(&d->text, "", para);
}

static void
b_text_rcpt(struct b_dsn *d, const struct queue_rcpt *r)
{
	char	status[QUEUE_STATUS_MAX + 1];

	b_status(r, d->kind, status, sizeof(status));
	b_str(&d->text, "\r\n<");
	b_addr_text(&d->text, r->addr);
	b_str(&d->text, ">\r\n");
	b_wrap(&d->text, "    ", bounce_text(status));
	b_fmt(&d->text, "    Status: %s\r\n", status);
	if (r->remote[0] != '\0') {
		b_str(&d->text, "    Receiving server: ");
		b_clean(&d->text, r->remote);
		b_str(&d->text, "\r\n");
	}
	if (r->last_reply[0] != '\0') {
		b_str(&d->text, b_is_reply(r->last_reply) ?
		    "    Its last reply: " : "    Error: ");
		b_clean(&d->text, r->last_reply);
		b_str(&d->text, "\r\n");
	}
}

/* ------------------------------------------------------------------ */
/* the delivery-status part (RFC 3464 2.2, 2.3)				*/

static void
b_report_msg(struct b_dsn *d)
{
	b_fmt(&d->report, "Reporting-MTA: dns; %s\r\n", d->host);
	if (d->env->helo[0] != '\0') {
		b_str(&d->report, "Received-From-MTA: dns; ");
		b_clean(&d->report, d->env->helo);
		b_str(&d->report, "\r\n");
	}
	b_date_field(&d->report, "Arrival-Date", d->env->arrival);
}

static void
b_report_rcpt(struct b_dsn *d, const struct queue_rcpt *r)
{
	char	status[QUEUE_STATUS_MAX + 1];

	b_status(r, d->kind, status, sizeof(status));
	b_str(&d->report, "\r\n");
	b_addr_field(&d->report, "Final-Recipient", r->addr);
	b_fmt(&d->report, "Action: %s\r\nStatus: %s\r\n",
	    d->kind == BOUNCE_FAILED ? "failed" : "delayed", status);
	if (r->remote[0] != '\0') {
		b_str(&d->report, "Remote-MTA: dns; ");
		b_clean(&d->report, r->remote);
		b_str(&d->report, "\r\n");
	}
	if (r->last_reply[0] != '\0') {
		b_str(&d->report, b_is_reply(r->last_reply) ?
		    "Diagnostic-Code: smtp; " : "Diagnostic-Code: x-pinpost; ");
		b_clean(&d->report, r->last_reply);
		b_str(&d->report, "\r\n");
	}
	b_date_field(&d->report, "Last-Attempt-Date", r->last_try);
	if (d->kind == BOUNCE_DELAYED)
		b_date_field(&d->report, "Will-Retry-Until", d->expires);
}

/* ------------------------------------------------------------------ */
/* the original header							*/

/* Up to B_HDR_MAX bytes of queue/ID.msg. */
static int
b_read_raw(struct queue *q, const char *id, struct b_raw *raw, char *err,
    size_t errlen)
{
	char	path[B_PATH_MAX];
	ssize_t	n = 1;
	int	fd, rc = 0;

	if (queue_msg_path(q, id, path, sizeof(path)) == -1)
		return fsu_err(err, errlen, "bounce: bad queue ID '%.32s'", id);
	if ((raw->p = malloc(B_HDR_MAX)) == NULL)
		return fsu_err(err, errlen, "%s: out of memory", path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return fsu_syserr(err, errlen, path, "open");
	while (raw->len < B_HDR_MAX && n != 0) {
		n = read(fd, raw->p + raw->len, B_HDR_MAX - raw->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = fsu_syserr(err, errlen, path, "read");
			break;
		}
		raw->len += (size_t)n;
	}
	raw->eof = n == 0;
	if (close(fd) == -1 && rc == 0)
		rc = fsu_syserr(err, errlen, path, "close");
	return rc;
}

/* 1 if the line can go in as it is (7bit): ASCII, no NUL or CR. */
static int
b_line_7bit(const char *s, size_t n)
{
	size_t	i;

	if (n > B_LINE_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == '\0' || s[i] == '\r' || (s[i] & 0x80) != 0)
			return 0;
	return 1;
}

/* One line, quoted-printable (RFC 2045 6.7), soft breaks at 76. */
static void
b_qp_line(struct b_buf *b, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char	enc[3];
	size_t	i, col = 0, w;

	for (i = 0; i < n; i++) {
		if ((s[i] >= 33 && s[i] <= 126 && s[i] != '=') ||
		    ((s[i] == ' ' || s[i] == '\t') && i + 1 < n)) {
			enc[0] = (char)s[i];
			w = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[s[i] >> 4];
			enc[2] = hex[s[i] & 0x0f];
			w = 3;
		}
		if (col + w > B_QP_LINE - 1) {
			b_str(b, "=\r\n");
			col = 0;
		}
		b_add(b, enc, w);
		col += w;
	}
	b_str(b, "\r\n");
}

/*
 * The next header line of raw at *off (LF or CRLF ends it; the CR is
 * not part of it): 1 and the line, or 0 at the end of the header (a
 * blank line, the end of what was read, or a line cut by B_HDR_MAX).
 */
static int
b_next_line(const struct b_raw *raw, size_t *off, const char **line,
    size_t *n)
{
	const char *p = raw->p + *off, *end = raw->p + raw->len, *nl;

	if (p >= end)
		return 0;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
		if (!raw->eof)
			return 0;
		nl = end;
	}
	*line = p;
	*n = (size_t)(nl - p);
	*off += *n + (nl < end);
	if (*n > 0 && p[*n - 1] == '\r' && nl < end)
		(*n)--;
	return *n > 0;
}

/* The headers part: 7bit when every line allows it, else QP. */
static void
b_headers_part(struct b_dsn *d, const struct b_raw *raw)
{
	const char *line;
	size_t	off = 0, n;
	int	qp = 0;

	while (b_next_line(raw, &off, &line, &n))
		if (!b_line_7bit(line, n))
			qp = 1;
	d->hdr_cte = qp ? "quoted-printable" : "7bit";
	off = 0;
	while (b_next_line(raw, &off, &line, &n)) {
		if (qp)
			b_qp_line(&d->headers, (const unsigned char *)line, n);
		else {
			b_add(&d->headers, line, n);
			b_str(&d->headers, "\r\n");
		}
	}
	b_str(&d->headers, "");
}

/* ------------------------------------------------------------------ */
/* the message								*/

static int
b_build(struct b_dsn *d, struct queue *q, char *err, size_t errlen)
{
	struct b_raw raw = { NULL, 0, 0 };
	size_t	i;

	b_text_intro(d);
	b_report_msg(d);
	for (i = 0; i < d->env->nrcpt; i++) {
		if (!d->which[i])
			continue;
		b_text_rcpt(d, &d->env->rcpt[i]);
		b_report_rcpt(d, &d->env->rcpt[i]);
	}
	if (b_read_raw(q, d->env->id, &raw, err, errlen) == -1) {
		free(raw.p);
		return -1;
	}
	b_headers_part(d, &raw);
	free(raw.p);
	if (d->text.failed || d->report.failed || d->headers.failed)
		return fsu_err(err, errlen, "bounce %s: out of memory or a "
		    "part larger than %d bytes", d->newid, B_PART_MAX);
	return 0;
}

/* A boundary that occurs in no part (RFC 2046 5.1.1: at most 70). */
static int
b_boundary(struct b_dsn *d, char *err, size_t errlen)
{
	int	i;

	for (i = 0; i < B_BOUNDARY_TRIES; i++) {
		if (i == 0)
			(void)snprintf(d->boundary, sizeof(d->boundary),
			    "=_pinpost.%s", d->newid);
		else
			(void)snprintf(d->boundary, sizeof(d->boundary),
			    "=_pinpost.%s.%d", d->newid, i);
		if (strstr(d->text.p, d->boundary) == NULL &&
		    strstr(d->report.p, d->boundary) == NULL &&
		    strstr(d->headers.p, d->boundary) == NULL)
			return 0;
	}
	return fsu_err(err, errlen, "bounce %s: no MIME boundary found",
	    d->newid);
}

static void
b_head(struct b_dsn *d, struct b_buf *h)
{
	char	date[64];

	if (b_date(date, sizeof(date), d->now) == -1) {
		h->failed = 1;
		return;
	}
	b_fmt(h, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", d->host);
	if (b_printable(d->env->sender))
		b_fmt(h, "To: <%s>\r\n", d->env->sender);
	else
		b_str(h, "To: undisclosed-recipients:;\r\n");
	b_fmt(h, "Subject: %s\r\n", d->kind == BOUNCE_FAILED ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)");
	b_fmt(h, "Date: %s\r\nMessage-ID: <%s@%s>\r\n", date, d->newid,
	    d->host);
	b_str(h, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
	b_fmt(h, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n"
	    "This is a MIME-formatted delivery status notification.\r\n",
	    d->boundary);
}

/* The part headers of the three parts, each after its delimiter. */
static void
b_part_head(const struct b_dsn *d, int part, struct b_buf *h)
{
	b_fmt(h, "\r\n--%s\r\n", d->boundary);
	if (part == 0)
		b_str(h, "Content-Type: text/plain; charset=us-ascii\r\n"
		    "Content-Transfer-Encoding: 7bit\r\n"
		    "Content-Description: Notification\r\n\r\n");
	else if (part == 1)
		b_str(h, "Content-Type: message/delivery-status\r\n"
		    "Content-Description: Delivery report\r\n\r\n");
	else
		b_fmt(h, "Content-Type: text/rfc822-headers\r\n"
		    "Content-Transfer-Encoding: %s\r\n"
		    "Content-Description: Headers of your message\r\n\r\n",
		    d->hdr_cte);
}

/* Write b to the message and empty it. */
static int
b_flush(struct b_dsn *d, struct b_buf *b, struct queue_msg *m, char *err,
    size_t errlen)
{
	if (b->failed)
		return fsu_err(err, errlen, "bounce %s: out of memory or a bad "
		    "date", d->newid);
	if (queue_msg_write(m, b->p, b->len, err, errlen) == -1)
		return -1;
	b->len = 0;
	return 0;
}

/* The header, then each part after its delimiter and part header. */
static int
b_write(struct b_dsn *d, struct queue_msg *m, char *err, size_t errlen)
{
	struct b_buf *part[3] = { &d->text, &d->report, &d->headers };
	struct b_buf h = { NULL, 0, 0, 0 };
	int	i, rc;

	b_head(d, &h);
	rc = b_flush(d, &h, m, err, errlen);
	for (i = 0; i < 3 && rc == 0; i++) {
		b_part_head(d, i, &h);
		if ((rc = b_flush(d, &h, m, err, errlen)) == 0)
			rc = b_flush(d, part[i], m, err, errlen);
	}
	if (rc == 0) {
		b_fmt(&h, "\r\n--%s--\r\n", d->boundary);
		rc = b_flush(d, &h, m, err, errlen);
	}
	free(h.p);
	return rc;
}

/* The envelope: from <> to the sender; commit (frees m). */
static int
b_commit(struct b_dsn *d, struct queue_msg *m, int sender_local,
    char *err, size_t errlen)
{
	struct queue_env ne;
	int	rc;

	memset(&ne, 0, sizeof(ne));
	ne.arrival = d->now;
	ne.smtputf8 = !b_printable(d->env->sender);
	if (queue_env_add_rcpt(&ne, d->env->sender, sender_local) == -1) {
		queue_msg_abort(m);
		return fsu_err(err, errlen, "bounce %s: cannot add recipient",
		    d->newid);
	}
	rc = queue_msg_commit(m, &ne, err, errlen);
	queue_env_free(&ne);
	return rc;
}

/* ------------------------------------------------------------------ */
/* bounce_queue()							*/

/* A host name we can put after '@' and in "dns;": LDH and dots. */
static int
b_host_ok(const char *h)
{
	static const char ldh[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.";
	size_t	n = strlen(h);

	return n > 0 && n <= B_HOST_MAX && strspn(h, ldh) == n;
}

/* -1 bad, 0 nothing to report, 1 go on. */
static int
b_check(const struct queue_env *env, const unsigned char *which,
    enum bounce_kind kind, const char *hostname, size_t idlen, char *err,
    size_t errlen)
{
	size_t	i;

	if (env == NULL || which == NULL || hostname == NULL ||
	    (kind != BOUNCE_FAILED && kind != BOUNCE_DELAYED))
		return fsu_err(err, errlen, "bounce: bad arguments");
	if (idlen < QUEUE_ID_LEN + 1)
		return fsu_err(err, errlen, "bounce: id buffer too small");
	if (!b_host_ok(hostname))
		return fsu_err(err, errlen, "bounce: bad hostname '%.64s'",
		    hostname);
	if (env->sender[0] == '\0' || env->rcpt == NULL)
		return 0;
	for (i = 0; i < env->nrcpt; i++)
		if (which[i])
			return 1;
	return 0;
}

static void
b_dsn_free(struct b_dsn *d)
{
	free(d->text.p);
	free(d->report.p);
	free(d->headers.p);
}

int
bounce_queue(struct queue *q, const struct queue_env *env,
    const unsigned char *which, enum bounce_kind kind, int sender_local,
    const char *hostname, int64_t now, int64_t expires, char id[],
    size_t idlen, char *err, size_t errlen)
{
	struct queue_msg *m;
	struct b_dsn d;
	int	rc;

	if (idlen > 0)
		id[0] = '\0';
	if ((rc = b_check(env, which, kind, hostname, idlen, err,
	    errlen)) <= 0)
		return rc;
	memset(&d, 0, sizeof(d));
	d.env = env;
	d.which = which;
	d.kind = kind;
	d.host = hostname;
	d.now = now;
	d.expires = expires;
	if ((m = queue_msg_new(q, err, errlen)) == NULL)
		return -1;
	(void)snprintf(d.newid, sizeof(d.newid), "%s", queue_msg_id(m));
	if (b_build(&d, q, err, errlen) == -1 ||
	    b_boundary(&d, err, errlen) == -1 ||
	    b_write(&d, m, err, errlen) == -1) {
		queue_msg_abort(m);
		rc = -1;
	} else if ((rc = b_commit(&d, m, sender_local, err, errlen)) == 0)
		(void)snprintf(id, idlen, "%s", d.newid);
	b_dsn_free(&d);
	return rc;
}
