/*
 * smtp_cmd.c - SMTP command lines: RFC 5321 4.1.1 and 4.1.2, with SIZE
 * (RFC 1870), BODY= (RFC 6152), SMTPUTF8 (RFC 6531) and BDAT (RFC 3030).
 *
 * FUNCTIONS
 *	smtp_cmd_parse()	one command line (no CRLF) into a struct
 *				smtp_cmd; NULL, or the reply to send
 *	smtp_verb_str()		the verb's name, for logs
 *
 * DESCRIPTION
 *	The whole line is checked first: length, then control octets.
 *	Trailing spaces are ignored, and so are extra spaces between
 *	words.  The verb is looked up in one table; each verb has a
 *	parse function and its own "Syntax:" reply.
 *
 *	MAIL FROM: and RCPT TO: are case-insensitive and may be followed
 *	by spaces before the "<" (real clients send "MAIL FROM: <a@b>"),
 *	but the angle brackets are required.  A source route
 *	("<@a,@b:user@d>") is checked and dropped.  The local part is a
 *	dot-string or a quoted-string of at most 64 octets; the domain is
 *	LDH labels of at most 63 octets, or [IPv4] or [IPv6:...], at most
 *	255 octets; the path with its brackets at most 256.  Non-ASCII
 *	octets must be well-formed UTF-8 and are allowed in atoms, quoted
 *	strings and labels only under SMTPUTF8.  RCPT TO:<postmaster> is
 *	the only mailbox without a domain.  RCPT takes no parameters.
 *
 * DIAGNOSTICS
 *	500 5.5.6 Line too long
 *	500 5.5.2 Control character in command
 *	500 5.5.1 Empty command | Unknown command
 *	501 5.5.4 Syntax: <usage of the verb> | Hostname too long |
 *	    Syntax: MAIL parameter | SIZE= value is not a number |
 *	    SIZE= value too large | BODY= value must be 7BIT or 8BITMIME |
 *	    SMTPUTF8 takes no value | Duplicate MAIL parameter: NAME
 *	555 5.5.4 Unknown MAIL parameter: NAME | Unknown RCPT parameter:
 *	    NAME | BODY=BINARYMIME not supported
 *	501 5.1.7 Bad sender address syntax | Sender address too long
 *	553 5.1.3 Bad recipient address syntax | Recipient address too long
 *	553 5.6.7 Non-ASCII address requires SMTPUTF8
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp_cmd.h"

#define LABEL_MAX	63
#define NUM_DIGITS_MAX	20	/* RFC 1870 size-value, RFC 3030 */
#define IPV6_TEXT_MAX	45	/* INET6_ADDRSTRLEN without the NUL */
#define NAME_SHOW_MAX	32	/* of a peer's parameter, in a reply */

struct verb_def;
typedef const struct smtp_status *(*verb_parse_fn)(const struct verb_def *,
    const char *, size_t, int, struct smtp_cmd *);

struct verb_def {
	const char			*name;
	enum smtp_verb			 verb;
	verb_parse_fn			 parse;
	const struct smtp_status	*syntax;
};

/* What differs between the paths of MAIL and RCPT. */
struct path_kind {
	const char			*prefix;	/* "FROM:" */
	const char			*unknown_param;
	const struct smtp_status	*syntax;
	const struct smtp_status	*bad;
	const struct smtp_status	*too_long;
	int				 null_ok;
	int				 postmaster_ok;
};

enum num_result { NUM_OK, NUM_NOT_NUMBER, NUM_TOO_LARGE };

#define SYNTAX(var, text) \
	static const struct smtp_status var = { 501, "5.5.4", "Syntax: " text }

SYNTAX(syn_helo, "HELO hostname");
SYNTAX(syn_ehlo, "EHLO hostname");
SYNTAX(syn_mail, "MAIL FROM:<address>");
SYNTAX(syn_rcpt, "RCPT TO:<address>");
SYNTAX(syn_data, "DATA takes no argument");
SYNTAX(syn_bdat, "BDAT size [LAST]");
SYNTAX(syn_rset, "RSET takes no argument");
SYNTAX(syn_quit, "QUIT takes no argument");
SYNTAX(syn_starttls, "STARTTLS takes no argument");
SYNTAX(syn_vrfy, "VRFY address");
SYNTAX(syn_expn, "EXPN list");
SYNTAX(syn_auth, "AUTH mechanism [initial-response]");
SYNTAX(syn_param, "MAIL parameter");

static const struct smtp_status st_too_long = { 500, "5.5.6",
    "Line too long" };
static const struct smtp_status st_control = { 500, "5.5.2",
    "Control character in command" };
static const struct smtp_status st_empty = { 500, "5.5.1",
    "Empty command" };
static const struct smtp_status st_unknown = { 500, "5.5.1",
    "Unknown command" };
static const struct smtp_status st_host_long = { 501, "5.5.4",
    "Hostname too long" };
static const struct smtp_status st_size_nan = { 501, "5.5.4",
    "SIZE= value is not a number" };
static const struct smtp_status st_size_big = { 501, "5.5.4",
    "SIZE= value too large" };
static const struct smtp_status st_body_bad = { 501, "5.5.4",
    "BODY= value must be 7BIT or 8BITMIME" };
static const struct smtp_status st_body_binary = { 555, "5.5.4",
    "BODY=BINARYMIME not supported" };
static const struct smtp_status st_utf8_value = { 501, "5.5.4",
    "SMTPUTF8 takes no value" };
static const struct smtp_status st_need_utf8 = { 553, "5.6.7",
    "Non-ASCII address requires SMTPUTF8" };
static const struct smtp_status st_bad_sender = { 501, "5.1.7",
    "Bad sender address syntax" };
static const struct smtp_status st_long_sender = { 501, "5.1.7",
    "Sender address too long" };
static const struct smtp_status st_bad_rcpt = { 553, "5.1.3",
    "Bad recipient address syntax" };
static const struct smtp_status st_long_rcpt = { 553, "5.1.3",
    "Recipient address too long" };

static const struct path_kind mail_kind = {
	"FROM:", "Unknown MAIL parameter", &syn_mail, &st_bad_sender,
	&st_long_sender, 1, 0
};
static const struct path_kind rcpt_kind = {
	"TO:", "Unknown RCPT parameter", &syn_rcpt, &st_bad_rcpt,
	&st_long_rcpt, 0, 1
};

static const char *const verb_names[] = {
	"UNKNOWN", "HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET",
	"NOOP", "QUIT", "VRFY", "EXPN", "HELP", "STARTTLS", "AUTH"
};

/* ------------------------------------------------------------------ */
/* octets and small tokens						*/

static int
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

static int
is_atext(unsigned char c)
{
	return is_alnum(c) || c >= 0x80 ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
is_qtext(unsigned char c)
{
	return (c >= 32 && c <= 126 && c != '"' && c != '\\') || c >= 0x80;
}

static int
has_8bit(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* Length of the UTF-8 sequence at s, or 0 if it is not well-formed. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t	len, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;			/* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;			/* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;			/* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;			/* past U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static int
utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t	i, k;

	for (i = 0; i < n; i += k)
		if ((k = utf8_seq_len(u + i, n - i)) == 0)
			return 0;
	return 1;
}

/* 1*20DIGIT that fits in 64 bits. */
static enum num_result
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t	i;
	unsigned d;

	if (n == 0)
		return NUM_NOT_NUMBER;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return NUM_NOT_NUMBER;
	if (n > NUM_DIGITS_MAX)
		return NUM_TOO_LARGE;
	for (i = 0; i < n; i++) {
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return NUM_TOO_LARGE;
		v = v * 10 + d;
	}
	*out = v;
	return NUM_OK;
}

static int
word_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* A reply naming the peer's parameter, built in out. */
static const struct smtp_status *
cmd_fail(struct smtp_cmd *out, int code, const char *what,
    const char *name, size_t nlen)
{
	int	r;

	if (nlen > NAME_SHOW_MAX)
		nlen = NAME_SHOW_MAX;
	r = snprintf(out->err_text, sizeof(out->err_text), "%s: %.*s",
	    what, (int)nlen, name);
	if (r < 0)
		(void)strcpy(out->err_text, "Bad parameter");
	out->err.code = code;
	out->err.enh = "5.5.4";
	out->err.text = out->err_text;
	return &out->err;
}

/* ------------------------------------------------------------------ */
/* domains and address literals						*/

static int
ipv4_ok(const char *s, size_t n)
{
	size_t	i = 0, digits;
	unsigned part, v;

	for (part = 0; part < 4; part++) {
		if (part > 0 && (i >= n || s[i++] != '.'))
			return 0;
		for (digits = 0, v = 0; i < n && s[i] >= '0' && s[i] <= '9';
		    i++, digits++)
			v = v * 10 + (unsigned)(s[i] - '0');
		if (digits == 0 || digits > 3 || v > 255)
			return 0;
	}
	return i == n;
}

static int
literal_ok(const char *s, size_t n)
{
	char	buf[IPV6_TEXT_MAX + 1];
	unsigned char addr[16];

	if (n < 2 || s[0] != '[' || s[n - 1] != ']')
		return 0;
	s++;
	n -= 2;
	if (n < 5 || strncasecmp(s, "IPv6:", 5) != 0)
		return ipv4_ok(s, n);
	s += 5;
	n -= 5;
	if (n == 0 || n > IPV6_TEXT_MAX)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, addr) == 1;
}

static int
label_ok(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > LABEL_MAX)
		return 0;
	if (s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '-' &&
		    (unsigned char)s[i] < 0x80)
			return 0;
	return 1;
}

static int
domain_ok(const char *s, size_t n)
{
	const char *dot;

	if (n == 0 || n > SMTP_DOMAIN_MAX)
		return 0;
	if (s[0] == '[')
		return literal_ok(s, n);
	while ((dot = memchr(s, '.', n)) != NULL) {
		if (!label_ok(s, (size_t)(dot - s)))
			return 0;
		n -= (size_t)(dot - s) + 1;
		s = dot + 1;
	}
	return label_ok(s, n);
}

/* ------------------------------------------------------------------ */
/* paths								*/

/* Length of the local part at s, or 0 if it is malformed. */
static size_t
local_len(const char *s, size_t n)
{
	size_t	i = 0, atom;

	if (n > 0 && s[0] == '"') {
		for (i = 1; i < n; i++) {
			if (s[i] == '"')
				return i + 1;
			if (s[i] == '\\' && i + 1 < n && s[i + 1] >= 32 &&
			    s[i + 1] <= 126)
				i++;
			else if (!is_qtext((unsigned char)s[i]))
				return 0;
		}
		return 0;
	}
	for (;;) {
		for (atom = 0; i < n && is_atext((unsigned char)s[i]); i++)
			atom++;
		if (atom == 0)
			return 0;
		if (i >= n || s[i] != '.')
			return i;
		i++;
	}
}

/* Skips a source route "@a,@b:"; the offset after it, 0 if malformed. */
static size_t
route_len(const char *s, size_t n)
{
	size_t	i = 0, j;

	for (;;) {
		if (i >= n || s[i] != '@')
			return 0;
		for (j = ++i; j < n && s[j] != ',' && s[j] != ':'; j++)
			;
		if (j >= n || !domain_ok(s + i, j - i))
			return 0;
		i = j + 1;
		if (s[j] == ':')
			return i;
	}
}

static int
mailbox_ok(const struct path_kind *k, const char *s, size_t n)
{
	size_t	l;

	if (k->postmaster_ok && word_is(s, n, "postmaster"))
		return 1;
	if ((l = local_len(s, n)) == 0 || l > SMTP_LOCAL_MAX)
		return 0;
	if (l >= n || s[l] != '@')
		return 0;
	return domain_ok(s + l + 1, n - l - 1);
}

/* p[0..n) is "<...>"; checks it and copies the mailbox to out->path. */
static const struct smtp_status *
path_parse(const struct path_kind *k, const char *p, size_t n,
    int utf8, struct smtp_cmd *out)
{
	size_t	r = 0;

	if (n > SMTP_PATH_MAX)
		return k->too_long;
	p++;
	n -= 2;
	if (n == 0) {
		if (!k->null_ok)
			return k->bad;
		out->null_path = 1;
		return NULL;
	}
	if (has_8bit(p, n)) {
		if (!utf8)
			return &st_need_utf8;
		if (!utf8_valid(p, n))
			return k->bad;
	}
	if (p[0] == '@' && (r = route_len(p, n)) == 0)
		return k->bad;
	if (!mailbox_ok(k, p + r, n - r))
		return k->bad;
	memcpy(out->path, p + r, n - r);
	out->path[n - r] = '\0';
	return NULL;
}

/*
 * Finds "PREFIX: <...>" at s: *start at the "<", *end after the ">".
 * A ">" inside a quoted local part does not end the path.
 */
static const struct smtp_status *
path_locate(const struct path_kind *k, const char *s, size_t n,
    size_t *start, size_t *end)
{
	size_t	i, plen = strlen(k->prefix);
	int	quoted = 0;

	if (n < plen || strncasecmp(s, k->prefix, plen) != 0)
		return k->syntax;
	for (i = plen; i < n && s[i] == ' '; i++)
		;
	if (i >= n || s[i] != '<')
		return k->syntax;
	*start = i;
	for (i++; i < n; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (s[i] == '\\' && quoted)
			i++;
		else if (s[i] == '>' && !quoted)
			break;
	}
	if (i >= n || (i + 1 < n && s[i + 1] != ' '))
		return k->syntax;
	*end = i + 1;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* MAIL and RCPT parameters						*/

static const struct smtp_status *
param_size(const char *v, size_t n, int has_v, struct smtp_cmd *out)
{
	switch (has_v ? parse_u64(v, n, &out->size) : NUM_NOT_NUMBER) {
	case NUM_OK:
		out->has_size = 1;
		return NULL;
	case NUM_TOO_LARGE:
		return &st_size_big;
	default:
		return &st_size_nan;
	}
}

static const struct smtp_status *
param_body(const char *v, size_t n, int has_v, struct smtp_cmd *out)
{
	if (has_v && word_is(v, n, "7BIT"))
		out->body = SMTP_BODY_7BIT;
	else if (has_v && word_is(v, n, "8BITMIME"))
		out->body = SMTP_BODY_8BITMIME;
	else if (has_v && word_is(v, n, "BINARYMIME"))
		return &st_body_binary;	/* CHUNKING is not advertised */
	else
		return &st_body_bad;
	return NULL;
}

static const struct smtp_status *
param_smtputf8(const char *v, size_t n, int has_v, struct smtp_cmd *out)
{
	(void)v;
	(void)n;
	if (has_v)
		return &st_utf8_value;
	out->smtputf8 = 1;
	return NULL;
}

static const struct mail_param {
	const char	*name;
	const struct smtp_status *(*set)(const char *, size_t, int,
	    struct smtp_cmd *);
} mail_params[] = {
	{ "SIZE", param_size },
	{ "BODY", param_body },
	{ "SMTPUTF8", param_smtputf8 },
};
#define N_MAIL_PARAMS	(sizeof(mail_params) / sizeof(mail_params[0]))

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static int
keyword_ok(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* esmtp-value = 1*(%d33-60 / %d62-126); empty is left to the setter. */
static int
value_ok(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (s[i] < 33 || s[i] > 126 || s[i] == '=')
			return 0;
	return 1;
}

/* One "KEYWORD[=value]"; seen has a bit per parameter already given. */
static const struct smtp_status *
param_one(const struct path_kind *k, const char *s, size_t n,
    unsigned *seen, struct smtp_cmd *out)
{
	const char *eq = memchr(s, '=', n);
	size_t	klen = eq ? (size_t)(eq - s) : n, i;

	if (!keyword_ok(s, klen))
		return &syn_param;
	for (i = 0; k == &mail_kind && i < N_MAIL_PARAMS; i++)
		if (word_is(s, klen, mail_params[i].name))
			break;
	if (k != &mail_kind || i == N_MAIL_PARAMS)
		return cmd_fail(out, 555, k->unknown_param, s, klen);
	if (*seen & (1u << i))
		return cmd_fail(out, 501, "Duplicate MAIL parameter", s, klen);
	*seen |= 1u << i;
	if (eq != NULL && !value_ok(eq + 1, n - klen - 1))
		return &syn_param;
	return mail_params[i].set(eq ? eq + 1 : NULL, eq ? n - klen - 1 : 0,
	    eq != NULL, out);
}

static const struct smtp_status *
params_parse(const struct path_kind *k, const char *s, size_t n,
    struct smtp_cmd *out)
{
	const struct smtp_status *st;
	unsigned seen = 0;
	size_t	i = 0, j;

	while (i < n) {
		if (s[i] == ' ') {
			i++;
			continue;
		}
		for (j = i; j < n && s[j] != ' '; j++)
			;
		if ((st = param_one(k, s + i, j - i, &seen, out)) != NULL)
			return st;
		i = j;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* the verbs								*/

static const struct smtp_status *
parse_path_cmd(const struct path_kind *k, const char *s, size_t n,
    int utf8_ok, struct smtp_cmd *out)
{
	const struct smtp_status *st;
	size_t	start = 0, end = 0;

	if ((st = path_locate(k, s, n, &start, &end)) != NULL)
		return st;
	/* Parameters first: SMTPUTF8 on this line allows a UTF-8 path. */
	if ((st = params_parse(k, s + end, n - end, out)) != NULL)
		return st;
	if (k == &mail_kind)
		utf8_ok = out->smtputf8;
	return path_parse(k, s + start, end - start, utf8_ok, out);
}

static const struct smtp_status *
parse_mail(const struct verb_def *v, const char *s, size_t n, int utf8_ok,
    struct smtp_cmd *out)
{
	(void)v;
	return parse_path_cmd(&mail_kind, s, n, utf8_ok, out);
}

static const struct smtp_status *
parse_rcpt(const struct verb_def *v, const char *s, size_t n, int utf8_ok,
    struct smtp_cmd *out)
{
	(void)v;
	return parse_path_cmd(&rcpt_kind, s, n, utf8_ok, out);
}

/* Any printable ASCII token: real clients send odd names. */
static const struct smtp_status *
parse_helo(const struct verb_def *v, const char *s, size_t n, int utf8_ok,
    struct smtp_cmd *out)
{
	size_t	i;

	(void)utf8_ok;
	if (n == 0)
		return v->syntax;
	for (i = 0; i < n; i++)
		if (s[i] < 33 || s[i] > 126)
			return v->syntax;
	if (n > SMTP_DOMAIN_MAX)
		return &st_host_long;
	memcpy(out->domain, s, n);
	out->domain[n] = '\0';
	return NULL;
}

static const struct smtp_status *
parse_bdat(const struct verb_def *v, const char *s, size_t n, int utf8_ok,
    struct smtp_cmd *out)
{
	size_t	i, j;

	(void)utf8_ok;
	for (i = 0; i < n && s[i] != ' '; i++)
		;
	if (parse_u64(s, i, &out->chunk_size) != NUM_OK)
		return v->syntax;
	for (j = i; j < n && s[j] == ' '; j++)
		;
	if (j == n)
		return NULL;
	if (!word_is(s + j, n - j, "LAST"))
		return v->syntax;
	out->last = 1;
	return NULL;
}

static const struct smtp_status *
parse_noarg(const struct verb_def *v, const char *s, size_t n, int utf8_ok,
    struct smtp_cmd *out)
{
	(void)s;
	(void)utf8_ok;
	(void)out;
	return n == 0 ? NULL : v->syntax;
}

/* The rest of the line, for NOOP and HELP, and if not empty for the rest. */
static const struct smtp_status *
parse_arg(const struct verb_def *v, const char *s, size_t n, int utf8_ok,
    struct smtp_cmd *out)
{
	(void)utf8_ok;
	if (n == 0 && v->syntax != NULL)
		return v->syntax;
	memcpy(out->arg, s, n);
	out->arg[n] = '\0';
	return NULL;
}

static const struct verb_def verbs[] = {
	{ "HELO", SMTP_V_HELO, parse_helo, &syn_helo },
	{ "EHLO", SMTP_V_EHLO, parse_helo, &syn_ehlo },
	{ "MAIL", SMTP_V_MAIL, parse_mail, &syn_mail },
	{ "RCPT", SMTP_V_RCPT, parse_rcpt, &syn_rcpt },
	{ "DATA", SMTP_V_DATA, parse_noarg, &syn_data },
	{ "BDAT", SMTP_V_BDAT, parse_bdat, &syn_bdat },
	{ "RSET", SMTP_V_RSET, parse_noarg, &syn_rset },
	{ "NOOP", SMTP_V_NOOP, parse_arg, NULL },
	{ "QUIT", SMTP_V_QUIT, parse_noarg, &syn_quit },
	{ "VRFY", SMTP_V_VRFY, parse_arg, &syn_vrfy },
	{ "EXPN", SMTP_V_EXPN, parse_arg, &syn_expn },
	{ "HELP", SMTP_V_HELP, parse_arg, NULL },
	{ "STARTTLS", SMTP_V_STARTTLS, parse_noarg, &syn_starttls },
	{ "AUTH", SMTP_V_AUTH, parse_arg, &syn_auth },
};

/* ------------------------------------------------------------------ */
/* public								*/

const struct smtp_status *
smtp_cmd_parse(const char *line, size_t len, int utf8_ok,
    struct smtp_cmd *out)
{
	size_t	i, vlen;

	memset(out, 0, sizeof(*out));
	if (len > SMTP_CMD_LINE_MAX - 2)
		return &st_too_long;
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 32 || line[i] == 127)
			return &st_control;
	while (len > 0 && line[len - 1] == ' ')
		len--;
	if (len == 0)
		return &st_empty;
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (word_is(line, vlen, verbs[i].name))
			break;
	if (i == sizeof(verbs) / sizeof(verbs[0]))
		return &st_unknown;
	out->verb = verbs[i].verb;
	while (vlen < len && line[vlen] == ' ')
		vlen++;
	return verbs[i].parse(&verbs[i], line + vlen, len - vlen, utf8_ok,
	    out);
}

const char *
smtp_verb_str(enum smtp_verb v)
{
	if ((unsigned)v >= sizeof(verb_names) / sizeof(verb_names[0]))
		return "?";
	return verb_names[v];
}
