/*
 * conf.c - pinpost.conf: every parameter is one row of a table.
 *
 * SYNOPSIS
 *	#include "conf.h"
 *
 *	void	conf_defaults(struct conf *c);
 *	int	conf_load(const char *path, struct conf *c,
 *		    char *err, size_t errlen);
 *	void	conf_free(struct conf *c);
 *	void	conf_print(FILE *fp, const struct conf *c);
 *	int	conf_list_has(const struct conf_list *l, const char *word);
 *	int	conf_net_match(const struct conf_list *nets,
 *		    const struct sockaddr *sa);
 *
 * DESCRIPTION
 *	conf_params[] holds, per parameter: its name (the struct conf field
 *	of the same name), its type, the field's offset, its default as text
 *	and its bounds.  Defaults and file values go through one parser, so
 *	a default outside its own bounds aborts the first conf_defaults().
 *
 *	conf_defaults() overwrites *c without freeing what it held.
 *	conf_load() reads the defaults, then the file.  On success (0) the
 *	caller owns *c and frees it with conf_free().  On failure (-1) *c is
 *	all zero, nothing is left allocated and err holds one line.
 *	conf_free() may be called again, or on an all-zero struct conf.
 *
 *	conf_print() writes every parameter in table order as
 *	"name = value" (a value longer than a line on continuation lines);
 *	read back, it gives the same struct conf.  The caller checks
 *	ferror(fp).
 *
 *	conf_net_match() compares addresses as IPv6: an IPv4 address a.b.c.d,
 *	in a network or from a client, is ::ffff:a.b.c.d and an IPv4 prefix
 *	length n is 96 + n.  So an IPv4-mapped client matches IPv4 networks
 *	(and ::/0 matches every client).  Other address families never match.
 *
 * DIAGNOSTICS
 *	FILE: cannot open: REASON
 *	FILE: read error: REASON
 *	FILE:LINE: line too long (more than 4096 characters)
 *	FILE:LINE: NUL character
 *	FILE:LINE: expected name = value
 *	FILE:LINE: unknown parameter "NAME"
 *	FILE:LINE: duplicate parameter "NAME"
 *	FILE:LINE: continuation line without a parameter
 *	FILE:LINE: value too long (more than 65536 characters)
 *	FILE:LINE: NAME: "VALUE" is not a number (a duration, a size, ...)
 *	FILE:LINE: NAME: VALUE is below the minimum MIN
 *	FILE:LINE: NAME: VALUE is above the maximum MAX
 *	FILE:LINE: out of memory
 *	LINE is where the parameter's name is, also for a continued value.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "route.h"
#include "stsec.h"
#include "worker.h"

#define CONF_LINE_MAX	4096	/* physical line, without its newline */
#define CONF_VALUE_MAX	65536	/* value with its continuations joined */
#define CONF_QUOTE_MAX	64	/* value text shown in a diagnostic */
#define CONF_HOST_MAX	255	/* DNS name, RFC 1035 2.3.4 */
#define CONF_LIST_SEP	", \t\r\n\f\v"

enum conf_type {
	CONF_STRING, CONF_BOOL, CONF_INT, CONF_DURATION, CONF_SIZE,
	CONF_LIST, CONF_ENUM
};

/* Checks a STRING value or one LIST item; may lower-case it in place.
 * NULL if good, else the problem ("is not ADDR:PORT"). */
typedef const char *conf_check_fn(char *s);

struct conf_param {
	const char	*name;
	enum conf_type	 type;
	size_t		 off;
	const char	*def;		/* NULL: computed (myhostname) */
	int64_t		 min, max;	/* INT, DURATION, SIZE */
	const char *const *words;	/* ENUM, NULL-terminated */
	conf_check_fn	*check;		/* STRING, LIST; may be NULL */
	const char	*sep;		/* LIST item separators; NULL:
					   commas and white space */
};

struct conf_unit {
	char		 suffix;
	int64_t		 mult;
};

struct conf_ctx {
	const char	*path;
	size_t		 line;		/* 0: the file as a whole */
	char		*err;
	size_t		 errlen;
	int		 oom;
};

/* an address as IPv6 (IPv4 mapped) and a prefix length 0..128 */
struct conf_net {
	unsigned char	 a[16];
	unsigned	 bits;
};

static conf_check_fn conf_check_hostname, conf_check_nonempty;
static conf_check_fn conf_check_hostport, conf_check_domain;
static conf_check_fn conf_check_mailbox, conf_check_net;
static conf_check_fn conf_check_route, conf_check_resolver;

static const char *const conf_log_words[] = { "syslog", "stderr", NULL };
static const char *const conf_format_words[] = { "single", "multi", NULL };
static const char *const conf_level_words[] = {
	"none", "may", "encrypt", NULL
};
static const char *const conf_mode_words[] = { "enforce", "report", NULL };

/*
 * A duration default from a number macro: CONF_SECONDS(STSEC_PKP_CAP_DEFAULT)
 * is "5184000s".  So the MAX-AGE caps are libstsec's, defined once (the
 * macro must stay a plain number: a default that does not parse aborts
 * the first conf_defaults()).
 */
#define CONF_STR(x)	#x
#define CONF_SECONDS(x)	CONF_STR(x) "s"

/* The field's offset; a compile error if it is not of type t. */
#define CONF_OFF(f, t)	_Generic(((struct conf *)0)->f, \
			    t: offsetof(struct conf, f))
#define P_STR(f, d, chk) \
	{ #f, CONF_STRING, CONF_OFF(f, char *), d, 0, 0, NULL, chk, NULL }
#define P_BOOL(f, d) \
	{ #f, CONF_BOOL, CONF_OFF(f, int), d, 0, 1, NULL, NULL, NULL }
#define P_INT(f, d, lo, hi) \
	{ #f, CONF_INT, CONF_OFF(f, int64_t), d, lo, hi, NULL, NULL, NULL }
#define P_DUR(f, d, lo, hi) \
	{ #f, CONF_DURATION, CONF_OFF(f, int64_t), d, lo, hi, NULL, NULL, \
	    NULL }
#define P_SIZE(f, d, lo, hi) \
	{ #f, CONF_SIZE, CONF_OFF(f, uint64_t), d, lo, hi, NULL, NULL, NULL }
#define P_LIST(f, d, chk) \
	{ #f, CONF_LIST, CONF_OFF(f, struct conf_list), d, 0, 0, NULL, chk, \
	    NULL }
/* A list whose items hold spaces: separated by commas only. */
#define P_CLIST(f, d, chk) \
	{ #f, CONF_LIST, CONF_OFF(f, struct conf_list), d, 0, 0, NULL, chk, \
	    "," }
#define P_ENUM(f, d, w) \
	{ #f, CONF_ENUM, CONF_OFF(f, char *), d, 0, 0, w, NULL, NULL }

static const struct conf_param conf_params[] = {
	P_STR(myhostname, NULL, conf_check_hostname),
	P_STR(user, "pinpost", NULL),
	P_STR(spool_dir, "/var/spool/pinpost", conf_check_nonempty),
	P_INT(queue_workers, "8", 1, WORKER_LANES_MAX),
	P_STR(store, "/var/lib/pinpost/pins.tdb", conf_check_nonempty),
	P_ENUM(log, "syslog", conf_log_words),
	P_LIST(listen, "127.0.0.1:25, [::1]:25", conf_check_hostport),
	P_LIST(listen_tls, "", conf_check_hostport),
	P_STR(tls_cert_file, "/etc/pinpost/cert.pem", NULL),
	P_STR(tls_key_file, "/etc/pinpost/key.pem", NULL),
	P_BOOL(starttls_enable, "yes"),
	P_BOOL(pkp_enable, "yes"),
	P_LIST(pkp_backup_pins, "", NULL),
	/* the server advertises no more than a sender keeps by default */
	P_DUR(pkp_max_age, "259200s", 0, STSEC_PKP_CAP_DEFAULT),
	P_ENUM(pkp_format, "single", conf_format_words),
	P_BOOL(stsec_enable, "yes"),
	P_DUR(stsec_max_age, "31536000s", 0, STSEC_STSEC_CAP_DEFAULT),
	/* RFC 5321 4.5.3.1.7: at least 64k must be accepted */
	P_SIZE(message_size_limit, "10240000", 65536, INT64_C(2147483648)),
	P_INT(recipient_limit, "1000", 100, 100000),
	P_INT(max_connections, "100", 1, 100000),
	P_INT(max_connections_per_ip, "10", 1, 100000),
	P_INT(max_errors, "10", 1, 1000),
	P_DUR(command_timeout, "300s", 10, 3600),
	P_DUR(data_timeout, "180s", 10, 3600),
	P_INT(data_min_rate, "500", 1, 1000000000),
	P_LIST(local_domains, "localhost", conf_check_domain),
	P_STR(maildir_root, "/var/mail/pinpost", conf_check_nonempty),
	P_LIST(mailboxes, "", conf_check_mailbox),
	P_LIST(relay_networks, "127.0.0.0/8, ::1/128", conf_check_net),
	P_ENUM(tls_level, "may", conf_level_words),
	P_ENUM(pkp_mode, "enforce", conf_mode_words),
	P_DUR(pkp_cap, CONF_SECONDS(STSEC_PKP_CAP_DEFAULT), 0, 31536000),
	P_DUR(stsec_cap, CONF_SECONDS(STSEC_STSEC_CAP_DEFAULT), 0, 63072000),
	/* delivery */
	P_CLIST(route, "", conf_check_route),
	P_INT(relay_port, "25", 1, 65535),
	P_STR(dns_resolver, "", conf_check_resolver),
	P_STR(tls_ca_file, "", NULL),
	P_DUR(queue_run_interval, "60s", 1, 3600),
	P_DUR(retry_min, "300s", 1, 86400),
	P_DUR(retry_max, "4h", 1, 604800),
	P_DUR(queue_lifetime, "5d", 1, 8640000),
	P_DUR(delay_warning, "4h", 0, 8640000),
	P_INT(delivery_concurrency, "20", 1, 1000),
	P_INT(destination_concurrency, "5", 1, 100),
	P_DUR(connect_timeout, "30s", 1, 600),
	P_DUR(smtp_timeout, "300s", 1, 3600),
};

#define CONF_NPARAMS	(sizeof(conf_params) / sizeof(conf_params[0]))

static const struct conf_unit conf_units_int[] = { { '\0', 0 } };
static const struct conf_unit conf_units_duration[] = {
	{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { '\0', 0 }
};
static const struct conf_unit conf_units_size[] = {
	{ 'k', 1024 }, { 'm', 1024 * 1024 }, { '\0', 0 }
};

/* ------------------------------------------------------------------ */
/* diagnostics                                                          */

static int conf_err(struct conf_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "FILE:LINE: ..." into ctx->err; always -1. */
static int
conf_err(struct conf_ctx *ctx, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (ctx->err == NULL || ctx->errlen == 0)
		return -1;
	if (ctx->line > 0)
		n = snprintf(ctx->err, ctx->errlen, "%s:%zu: ", ctx->path,
		    ctx->line);
	else
		n = snprintf(ctx->err, ctx->errlen, "%s: ", ctx->path);
	if (n < 0 || (size_t)n >= ctx->errlen)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
conf_oom(struct conf_ctx *ctx)
{
	ctx->oom = 1;
	return conf_err(ctx, "out of memory");
}

/* Value text fit for a one-line diagnostic: printable, shortened. */
static const char *
conf_quote(const char *s, char *buf, size_t cap)
{
	size_t	 n = 0;

	for (; *s != '\0' && n + 4 < cap; s++)
		buf[n++] = isprint((unsigned char)*s) ? *s : '?';
	if (*s != '\0') {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* "NAME: "VALUE" PROBLEM"; -1 */
static int
conf_bad(struct conf_ctx *ctx, const struct conf_param *p, const char *val,
    const char *problem)
{
	char	 q[CONF_QUOTE_MAX + 4];

	return conf_err(ctx, "%s: \"%s\" %s", p->name,
	    conf_quote(val, q, sizeof(q)), problem);
}

/* ------------------------------------------------------------------ */
/* checks of STRING values and LIST items                               */

static void
conf_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static const char *
conf_check_nonempty(char *s)
{
	return *s == '\0' ? "must not be empty" : NULL;
}

static const char *
conf_check_hostname(char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > CONF_HOST_MAX ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") != n)
		return "is not a host name";
	return NULL;
}

/* "1".."65535", digits only */
static int
conf_port_ok(const char *s)
{
	size_t	 n = strlen(s);
	long	 v;

	if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
		return 0;
	v = strtol(s, NULL, 10);
	return v >= 1 && v <= 65535;
}

/* "a.b.c.d:port" or "[v6]:port" */
static const char *
conf_check_hostport(char *s)
{
	char		 addr[INET6_ADDRSTRLEN + 1];
	unsigned char	 bin[16];
	const char	*port, *end;
	int		 af = AF_INET6;

	if (*s == '[') {
		if ((end = strstr(s, "]:")) == NULL)
			return "is not ADDR:PORT";
		port = end + 2;
		s++;
	} else {
		if ((end = strchr(s, ':')) == NULL || strchr(end + 1, ':'))
			return "is not ADDR:PORT";
		port = end + 1;
		af = AF_INET;
	}
	if ((size_t)(end - s) >= sizeof(addr))
		return "is not ADDR:PORT";
	memcpy(addr, s, (size_t)(end - s));
	addr[end - s] = '\0';
	if (inet_pton(af, addr, bin) != 1 || !conf_port_ok(port))
		return "is not ADDR:PORT";
	return NULL;
}

static const char *
conf_check_domain(char *s)
{
	if (strchr(s, '@') != NULL)
		return "is not a domain";
	conf_lower(s);
	return NULL;
}

static const char *
conf_check_mailbox(char *s)
{
	char	*at = strchr(s, '@');

	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
		return "is not user@domain";
	conf_lower(s);
	return NULL;
}

/* "addr" or "addr/len", IPv4 or IPv6: 0, or -1 if it is not that */
static int
conf_net_parse(const char *s, struct conf_net *n)
{
	char		 addr[INET6_ADDRSTRLEN + 1];
	const char	*slash = strchr(s, '/');
	size_t		 alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned	 off = 0, max = 128;

	if (alen >= sizeof(addr))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	memset(n->a, 0, sizeof(n->a));
	if (inet_pton(AF_INET, addr, n->a + 12) == 1) {
		n->a[10] = n->a[11] = 0xff;
		off = 96;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, n->a) != 1)
		return -1;
	n->bits = off + max;
	if (slash == NULL)
		return 0;
	alen = strlen(slash + 1);
	if (alen == 0 || alen > 3 || strspn(slash + 1, "0123456789") != alen ||
	    (unsigned)atoi(slash + 1) > max)
		return -1;
	n->bits = off + (unsigned)atoi(slash + 1);
	return 0;
}

/* do the first n->bits bits of a equal those of the network? */
static int
conf_net_contains(const struct conf_net *n, const unsigned char *a)
{
	unsigned	 full = n->bits / 8, rest = n->bits % 8;
	unsigned char	 mask;

	if (memcmp(n->a, a, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (n->a[full] & mask) == (a[full] & mask);
}

static const char *
conf_check_net(char *s)
{
	struct conf_net	 n;
	unsigned	 i;

	if (conf_net_parse(s, &n) < 0)
		return "is not a network (ADDR or ADDR/LEN)";
	/* 10.1.2.3/8 is a typo more often than a wish to relay for 10/8 */
	for (i = n.bits; i < 128; i++)
		if (n.a[i / 8] & (0x80 >> (i % 8)))
			return "has host bits set";
	return NULL;
}

static const char *
conf_check_route(char *s)
{
	struct route r;
	const char *why;
	char	*p;

	for (p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	why = route_parse(s, &r);
	return why;
}

/* "" (the system's resolvers), or ADDR or ADDR@PORT. */
static const char *
conf_check_resolver(char *s)
{
	unsigned char buf[16];
	char	addr[INET6_ADDRSTRLEN];
	char	*at = strchr(s, '@'), *end;
	size_t	n = at != NULL ? (size_t)(at - s) : strlen(s);
	long	port;

	if (*s == '\0')
		return NULL;
	if (n >= sizeof(addr))
		return "is not ADDR or ADDR@PORT";
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, buf) != 1 &&
	    inet_pton(AF_INET6, addr, buf) != 1)
		return "is not ADDR or ADDR@PORT";
	if (at != NULL) {
		port = strtol(at + 1, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535)
			return "has a bad port";
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* values: text -> field                                                */

static void *
conf_field(struct conf *c, const struct conf_param *p)
{
	return (char *)c + p->off;
}

static const void *
conf_cfield(const struct conf *c, const struct conf_param *p)
{
	return (const char *)c + p->off;
}

static void
conf_list_free(struct conf_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
conf_set_string(const struct conf_param *p, const char *val, char **field,
    struct conf_ctx *ctx)
{
	char		*s;
	const char	*problem;

	if ((s = strdup(val)) == NULL)
		return conf_oom(ctx);
	if (p->check != NULL && (problem = p->check(s)) != NULL) {
		free(s);
		return conf_bad(ctx, p, val, problem);
	}
	free(*field);
	*field = s;
	return 0;
}

static int
conf_set_bool(const struct conf_param *p, const char *val, int *field,
    struct conf_ctx *ctx)
{
	if (strcasecmp(val, "yes") == 0 || strcasecmp(val, "true") == 0 ||
	    strcmp(val, "1") == 0)
		*field = 1;
	else if (strcasecmp(val, "no") == 0 || strcasecmp(val, "false") == 0 ||
	    strcmp(val, "0") == 0)
		*field = 0;
	else
		return conf_bad(ctx, p, val, "is not yes or no");
	return 0;
}

static int
conf_set_enum(const struct conf_param *p, const char *val, char **field,
    struct conf_ctx *ctx)
{
	char	 words[128] = "is not one of ";
	char	*s;
	size_t	 i;

	for (i = 0; p->words[i] != NULL; i++) {
		if (strcasecmp(val, p->words[i]) != 0)
			continue;
		if ((s = strdup(p->words[i])) == NULL)
			return conf_oom(ctx);
		free(*field);
		*field = s;
		return 0;
	}
	for (i = 0; p->words[i] != NULL; i++) {
		if (i > 0)
			(void)strncat(words, ", ",
			    sizeof(words) - strlen(words) - 1);
		(void)strncat(words, p->words[i],
		    sizeof(words) - strlen(words) - 1);
	}
	return conf_bad(ctx, p, val, words);
}

static const struct conf_unit *
conf_units(enum conf_type t)
{
	if (t == CONF_DURATION)
		return conf_units_duration;
	if (t == CONF_SIZE)
		return conf_units_size;
	return conf_units_int;
}

/* "[-]DIGITS[UNIT]", saturating at +-INT64_MAX: 0, or -1 */
static int
conf_parse_num(const char *s, const struct conf_unit *u, int64_t *out)
{
	const uint64_t	 sat = INT64_MAX;
	uint64_t	 v = 0;
	int		 neg = (*s == '-');

	s += neg;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		v = v > sat / 10 ? sat : v * 10 + (uint64_t)(*s - '0');
		if (v > sat)
			v = sat;
	}
	if (*s != '\0') {
		while (u->mult != 0 && u->suffix != tolower((unsigned char)*s))
			u++;
		if (u->mult == 0 || s[1] != '\0')
			return -1;
		v = v > sat / (uint64_t)u->mult ? sat : v * (uint64_t)u->mult;
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* a number as conf_print() writes it: durations in seconds with "s" */
static const char *
conf_fmt_num(const struct conf_param *p, int64_t v, char *buf, size_t cap)
{
	(void)snprintf(buf, cap, "%lld%s", (long long)v,
	    p->type == CONF_DURATION ? "s" : "");
	return buf;
}

static int
conf_set_num(const struct conf_param *p, const char *val, void *field,
    struct conf_ctx *ctx)
{
	static const char *const what[] = {
		[CONF_INT] = "is not a number",
		[CONF_DURATION] = "is not a duration",
		[CONF_SIZE] = "is not a size",
	};
	char	 q[CONF_QUOTE_MAX + 4], lim[32];
	int64_t	 v;

	if (conf_parse_num(val, conf_units(p->type), &v) < 0)
		return conf_bad(ctx, p, val, what[p->type]);
	if (v < p->min || v > p->max)
		return conf_err(ctx, "%s: %s is %s %s", p->name,
		    conf_quote(val, q, sizeof(q)), v < p->min ?
		    "below the minimum" : "above the maximum",
		    conf_fmt_num(p, v < p->min ? p->min : p->max, lim,
		    sizeof(lim)));
	if (p->type == CONF_SIZE)
		*(uint64_t *)field = (uint64_t)v;
	else
		*(int64_t *)field = v;
	return 0;
}

static int
conf_list_add(struct conf_list *l, const char *item)
{
	char	**v;

	if ((l->n & (l->n - 1)) == 0) {		/* 0, 1, 2, 4, ...: grow */
		v = realloc(l->v, (l->n ? l->n * 2 : 1) * sizeof(*v));
		if (v == NULL)
			return -1;
		l->v = v;
	}
	if ((l->v[l->n] = strdup(item)) == NULL)
		return -1;
	l->n++;
	return 0;
}

/* Leading and trailing white space off, in place. */
static char *
conf_trim(char *s)
{
	size_t	n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int
conf_set_list(const struct conf_param *p, const char *val,
    struct conf_list *field, struct conf_ctx *ctx)
{
	struct conf_list l = { 0, NULL };
	char		*copy, *tok, *save = NULL;
	const char	*sep;
	const char	*problem;
	int		 rc = 0;

	if ((copy = strdup(val)) == NULL)
		return conf_oom(ctx);
	sep = p->sep != NULL ? p->sep : CONF_LIST_SEP;
	for (tok = strtok_r(copy, sep, &save); tok != NULL;
	    tok = strtok_r(NULL, sep, &save)) {
		tok = conf_trim(tok);
		if (*tok == '\0')
			continue;
		if (p->check != NULL && (problem = p->check(tok)) != NULL)
			rc = conf_bad(ctx, p, tok, problem);
		else if (conf_list_add(&l, tok) < 0)
			rc = conf_oom(ctx);
		if (rc < 0)
			break;
	}
	free(copy);
	if (rc < 0) {
		conf_list_free(&l);
		return -1;
	}
	conf_list_free(field);
	*field = l;
	return 0;
}

/* Parse val into p's field of c; on failure the field is unchanged. */
static int
conf_set(const struct conf_param *p, const char *val, struct conf *c,
    struct conf_ctx *ctx)
{
	void	*f = conf_field(c, p);

	switch (p->type) {
	case CONF_STRING:
		return conf_set_string(p, val, f, ctx);
	case CONF_BOOL:
		return conf_set_bool(p, val, f, ctx);
	case CONF_INT:
	case CONF_DURATION:
	case CONF_SIZE:
		return conf_set_num(p, val, f, ctx);
	case CONF_LIST:
		return conf_set_list(p, val, f, ctx);
	case CONF_ENUM:
		return conf_set_enum(p, val, f, ctx);
	}
	abort();
}

/* ------------------------------------------------------------------ */
/* defaults                                                             */

/* gethostname(), or "localhost" if that fails or is no host name */
static const char *
conf_hostname(char *buf, size_t cap)
{
	if (gethostname(buf, cap - 1) != 0)
		return "localhost";
	buf[cap - 1] = '\0';
	if (conf_check_hostname(buf) != NULL)
		return "localhost";
	return buf;
}

/* 0, or -1 out of memory (err set, c freed); a bad default aborts. */
static int
conf_set_defaults(struct conf *c, char *err, size_t errlen)
{
	char		 host[CONF_HOST_MAX + 2], buf[CONF_ERR_MAX];
	struct conf_ctx	 ctx = { "(defaults)", 0, buf, sizeof(buf), 0 };
	const char	*def;
	size_t		 i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < CONF_NPARAMS; i++) {
		def = conf_params[i].def;
		if (def == NULL)
			def = conf_hostname(host, sizeof(host));
		if (conf_set(&conf_params[i], def, c, &ctx) == 0)
			continue;
		if (!ctx.oom) {
			(void)fprintf(stderr, "conf: bad default: %s\n", buf);
			abort();
		}
		conf_free(c);
		if (err != NULL && errlen > 0)
			(void)snprintf(err, errlen, "%s", buf);
		return -1;
	}
	return 0;
}

void
conf_defaults(struct conf *c)
{
	char	 err[CONF_ERR_MAX];

	if (conf_set_defaults(c, err, sizeof(err)) < 0) {
		(void)fprintf(stderr, "conf: %s\n", err);
		abort();
	}
}

/* ------------------------------------------------------------------ */
/* the file                                                             */

/* a "name = value" line being read; continuations append to val */
struct conf_lstate {
	const struct conf_param *p;	/* NULL: none */
	size_t		 line;		/* where its name was */
	char		*val;		/* CONF_VALUE_MAX + 1 bytes */
	size_t		 len;
	unsigned char	 seen[CONF_NPARAMS];
};

/* One line, without its newline: 1, 0 at the end, -1 on error. */
static int
conf_read_line(FILE *fp, char *buf, size_t cap, struct conf_ctx *ctx)
{
	size_t	 n = 0;
	int	 ch;

	ctx->line++;
	while ((ch = getc(fp)) != EOF && ch != '\n') {
		if (ch == '\0')
			return conf_err(ctx, "NUL character");
		if (n + 1 >= cap)
			return conf_err(ctx, "line too long (more than %d "
			    "characters)", CONF_LINE_MAX);
		buf[n++] = (char)ch;
	}
	if (ferror(fp)) {
		ctx->line = 0;
		return conf_err(ctx, "read error: %s", strerror(errno));
	}
	buf[n] = '\0';
	return ch == EOF && n == 0 ? 0 : 1;
}

static const struct conf_param *
conf_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < CONF_NPARAMS; i++)
		if (strcmp(conf_params[i].name, name) == 0)
			return &conf_params[i];
	return NULL;
}

/* Apply the pending "name = value", if any. */
static int
conf_flush(struct conf_lstate *ls, struct conf *c, struct conf_ctx *ctx)
{
	size_t	 line = ctx->line;
	int	 rc;

	if (ls->p == NULL)
		return 0;
	ctx->line = ls->line;
	ls->val[ls->len] = '\0';
	rc = conf_set(ls->p, ls->val, c, ctx);
	ctx->line = line;
	ls->p = NULL;
	ls->len = 0;
	return rc;
}

static int
conf_append(struct conf_lstate *ls, const char *s, struct conf_ctx *ctx)
{
	size_t	 n = strlen(s), sep = ls->len > 0 && n > 0;

	if (ls->len + sep + n > CONF_VALUE_MAX)
		return conf_err(ctx, "value too long (more than %d characters)",
		    CONF_VALUE_MAX);
	if (sep)
		ls->val[ls->len++] = ' ';
	memcpy(ls->val + ls->len, s, n);
	ls->len += n;
	return 0;
}

/* "name = value" (s has no leading or trailing white space) */
static int
conf_begin(struct conf_lstate *ls, char *s, struct conf_ctx *ctx)
{
	char			 q[CONF_QUOTE_MAX + 4];
	char			*eq = strchr(s, '='), *end, *val;
	const struct conf_param	*p;

	if (eq == NULL)
		return conf_err(ctx, "expected name = value");
	for (val = eq + 1; isspace((unsigned char)*val); val++)
		;
	for (end = eq; end > s && isspace((unsigned char)end[-1]); end--)
		;
	*end = '\0';
	if (*s == '\0' || s + strcspn(s, " \t\v\f\r") != end)
		return conf_err(ctx, "expected name = value");
	if ((p = conf_find(s)) == NULL)
		return conf_err(ctx, "unknown parameter \"%s\"",
		    conf_quote(s, q, sizeof(q)));
	if (ls->seen[p - conf_params]++)
		return conf_err(ctx, "duplicate parameter \"%s\"", p->name);
	ls->p = p;
	ls->line = ctx->line;
	return conf_append(ls, val, ctx);
}

static int
conf_line(char *buf, struct conf_lstate *ls, struct conf *c,
    struct conf_ctx *ctx)
{
	char	*s = buf, *e = buf + strlen(buf);

	while (e > buf && isspace((unsigned char)e[-1]))
		*--e = '\0';
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	if (s != buf) {
		if (ls->p == NULL)
			return conf_err(ctx, "continuation line without a "
			    "parameter");
		return conf_append(ls, s, ctx);
	}
	if (conf_flush(ls, c, ctx) < 0)
		return -1;
	return conf_begin(ls, s, ctx);
}

static int
conf_parse_file(FILE *fp, struct conf *c, struct conf_ctx *ctx)
{
	char			 buf[CONF_LINE_MAX + 1];
	struct conf_lstate	 ls;
	int			 rc;

	memset(&ls, 0, sizeof(ls));
	if ((ls.val = malloc(CONF_VALUE_MAX + 1)) == NULL)
		return conf_oom(ctx);
	while ((rc = conf_read_line(fp, buf, sizeof(buf), ctx)) > 0)
		if ((rc = conf_line(buf, &ls, c, ctx)) < 0)
			break;
	if (rc == 0)
		rc = conf_flush(&ls, c, ctx);
	free(ls.val);
	return rc;
}

int
conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	struct conf_ctx	 ctx = { path, 0, err, errlen, 0 };
	struct conf	 tmp;
	FILE		*fp;
	int		 rc;

	memset(c, 0, sizeof(*c));
	if (conf_set_defaults(&tmp, err, errlen) < 0)
		return -1;
	if ((fp = fopen(path, "r")) == NULL) {
		conf_free(&tmp);
		return conf_err(&ctx, "cannot open: %s", strerror(errno));
	}
	rc = conf_parse_file(fp, &tmp, &ctx);
	if (fclose(fp) != 0 && rc == 0) {
		ctx.line = 0;
		rc = conf_err(&ctx, "read error: %s", strerror(errno));
	}
	if (rc < 0) {
		conf_free(&tmp);
		return -1;
	}
	*c = tmp;
	return 0;
}

void
conf_free(struct conf *c)
{
	size_t	 i;

	for (i = 0; i < CONF_NPARAMS; i++) {
		switch (conf_params[i].type) {
		case CONF_STRING:
		case CONF_ENUM:
			free(*(char **)conf_field(c, &conf_params[i]));
			break;
		case CONF_LIST:
			conf_list_free(conf_field(c, &conf_params[i]));
			break;
		default:
			break;
		}
	}
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------------ */
/* output and queries                                                   */

/*
 * A value too long for one line is printed as continuation lines of at
 * most CONF_LINE_MAX characters, so that what conf_print() writes always
 * reads back: a value longer than a line can only have come from
 * continuation lines, and it is cut again where conf_append() joined it
 * (the first part goes right after "name=", where it was, and a
 * continuation line never starts with '#', which makes it a comment).
 */
#define CONF_CONT_MAX	(CONF_LINE_MAX - 1)	/* after the leading tab */

/* " = a, b"; when that is too long, the items on tab-indented lines
 * (the line break separates two items as well as a comma does), an item
 * starting with '#' after a comma (lists ignore empty words). */
static void
conf_print_list(FILE *fp, size_t used, const struct conf_list *l)
{
	size_t	 i, n, total = 0, line = CONF_LINE_MAX;

	for (i = 0; i < l->n; i++)
		total += strlen(l->v[i]) + (i ? 2 : 1);
	(void)fputs(" =", fp);
	if (used + 2 + total <= CONF_LINE_MAX) {
		for (i = 0; i < l->n; i++)
			(void)fprintf(fp, "%s%s", i ? ", " : " ", l->v[i]);
		return;
	}
	for (i = 0; i < l->n; i++) {
		n = strlen(l->v[i]);
		if (line + 2 + n <= CONF_LINE_MAX) {
			(void)fprintf(fp, ", %s", l->v[i]);
			line += 2 + n;
			continue;
		}
		line = (l->v[i][0] == '#' ? 2 : 1) + n;
		(void)fprintf(fp, "\n\t%s%s", l->v[i][0] == '#' ? "," : "",
		    l->v[i]);
	}
}

/* s[i] is a space that conf_append() could have put between two lines. */
static int
conf_cut_ok(const char *s, size_t i)
{
	return s[i] == ' ' && !isspace((unsigned char)s[i - 1]) &&
	    !isspace((unsigned char)s[i + 1]) && s[i + 1] != '#';
}

/* The length of the longest head of s (len characters, NUL-terminated),
 * at most max, that ends at a cut (all of s if it fits); 0: none. */
static size_t
conf_cut(const char *s, size_t len, size_t max)
{
	size_t	 i;

	if (len <= max)
		return len;
	for (i = max; i > 0; i--)
		if (conf_cut_ok(s, i))
			return i;
	return 0;
}

/* " = value", or "=" and the value cut over continuation lines. */
static void
conf_print_string(FILE *fp, size_t used, const char *s)
{
	size_t	 len = s == NULL ? 0 : strlen(s), n;

	if (len == 0 || used + 3 + len <= CONF_LINE_MAX) {
		(void)fprintf(fp, " =%s%s", len ? " " : "", len ? s : "");
		return;
	}
	n = conf_cut(s, len, CONF_LINE_MAX - used - 1);
	(void)fprintf(fp, "=%.*s", (int)n, s);
	while (len > n) {
		if (n > 0)
			n++;		/* the space at the cut */
		s += n;
		len -= n;
		if ((n = conf_cut(s, len, CONF_CONT_MAX)) == 0)
			n = len;	/* cannot be cut: never read from a file */
		(void)fprintf(fp, "\n\t%.*s", (int)n, s);
	}
}

static void
conf_print_one(FILE *fp, const struct conf *c, const struct conf_param *p)
{
	const void	*f = conf_cfield(c, p);
	const char	*s = NULL;
	char		 num[32];

	(void)fputs(p->name, fp);
	switch (p->type) {
	case CONF_STRING:
	case CONF_ENUM:
		s = *(char *const *)f;
		break;
	case CONF_BOOL:
		s = *(const int *)f ? "yes" : "no";
		break;
	case CONF_INT:
	case CONF_DURATION:
		s = conf_fmt_num(p, *(const int64_t *)f, num, sizeof(num));
		break;
	case CONF_SIZE:
		s = conf_fmt_num(p, (int64_t)*(const uint64_t *)f, num,
		    sizeof(num));
		break;
	case CONF_LIST:
		conf_print_list(fp, strlen(p->name), f);
		break;
	}
	if (p->type != CONF_LIST)
		conf_print_string(fp, strlen(p->name), s);
	(void)fputc('\n', fp);
}

void
conf_print(FILE *fp, const struct conf *c)
{
	size_t	 i;

	for (i = 0; i < CONF_NPARAMS; i++)
		conf_print_one(fp, c, &conf_params[i]);
}

int
conf_list_has(const struct conf_list *l, const char *word)
{
	size_t	 i;

	if (l == NULL || word == NULL)
		return 0;
	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], word) == 0)
			return 1;
	return 0;
}

/* the address of sa as IPv6 (IPv4 mapped): 0, or -1 for other families */
static int
conf_sa_addr(const struct sockaddr *sa, unsigned char a[16])
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;

	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &sin.sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(&sin6, sa, sizeof(sin6));
		memcpy(a, &sin6.sin6_addr, 16);
		return 0;
	}
	return -1;
}

int
conf_net_match(const struct conf_list *nets, const struct sockaddr *sa)
{
	struct conf_net	 n;
	unsigned char	 a[16];
	size_t		 i;

	if (nets == NULL || sa == NULL || conf_sa_addr(sa, a) < 0)
		return 0;
	for (i = 0; i < nets->n; i++)
		if (conf_net_parse(nets->v[i], &n) == 0 &&
		    conf_net_contains(&n, a))
			return 1;
	return 0;
}
