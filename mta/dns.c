/*
 * dns.c - MX, A and AAAA lookups through libunbound, inside the libevent
 * loop; the interface is described in dns.h.
 *
 * PUBLIC FUNCTIONS
 *	dns_new(), dns_free(), dns_mx(), dns_host(), dns_cancel(),
 *	dns_status_str()
 *
 * DESIGN
 *	One ub_ctx per struct dns, asynchronous without threads
 *	(ub_ctx_async(ctx, 0): libunbound forks one resolver process on the
 *	first query, which keeps a copy of the caller's memory and file
 *	descriptors of that moment).  Its answer pipe, ub_fd(), is a
 *	persistent read event that calls ub_process(), which runs the
 *	lookup callbacks.  SIGPIPE must be ignored: libunbound writes to
 *	that process over a pipe.  Should the process die, every query
 *	then and later fails temporarily (make a new struct dns).
 *
 *	libunbound is a stub here: everything goes to the forwarders, and
 *	"test." too (RFC 6761 6.2), not to its built-in NXDOMAIN zone.
 *
 *	A query is a lookup of the MX, then the A and AAAA lookups of every
 *	kept host in parallel, then the result.  MX hosts are sorted by
 *	preference and, within one preference, by a random key (a uniform
 *	shuffle), duplicates dropped, at most DNS_HOSTS_MAX kept; a lone
 *	"MX 0 ." is a null MX, any other "." target is no host.  A host's
 *	addresses alternate IPv4 and IPv6, IPv4 first, at most
 *	DNS_ADDRS_MAX.  A host that does not exist or has no address is
 *	dropped; one whose lookups failed temporarily stays with naddr 0.
 *	dns_host() of a name that does not exist is DNS_NXDOMAIN.  Names
 *	are kept in lower case without the final dot; a name that cannot
 *	be one (empty labels, odd characters, too long) is DNS_NXDOMAIN,
 *	"NAME: invalid domain name".  secure is set when every answer used
 *	was DNSSEC-validated.
 *
 *	The result is never handed over from inside ub_process() or from
 *	dns_mx()/dns_host(): the query's event is made active and the
 *	callback runs from the loop, after which the query is freed, so the
 *	callback may start queries or call dns_free() (dns_cancel() of its
 *	own query is a no-op).  The same event is the query's deadline
 *	(DNS_TIMEOUT_SEC): lookups still out then fail temporarily.
 *
 *	dns_mx() and dns_host() return NULL only when the query cannot be
 *	made at all (memory, a port outside 0-65535); otherwise the callback
 *	runs exactly once unless the query is cancelled or the resolver
 *	freed first.
 *
 * DIAGNOSTICS
 *	dns_new() fails with one line in err, e.g. "resolver 1.2.3: ub_ctx_
 *	set_fwd: syntax error".  A result's why is one line naming the
 *	domain: "example.test: MX lookup: SERVFAIL", "example.test: null MX
 *	(RFC 7505)", "example.test: no MX host has an address".
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <unbound.h>

#include "dns.h"

#define DNS_TIMEOUT_SEC	30	/* a whole query, MX and addresses */
#define DNS_LABEL_MAX	63
#define DNS_WHY_MAX	128	/* one lookup's reason */

#define RR_A		1
#define RR_MX		15
#define RR_AAAA		28
#define RR_CLASS_IN	1

#define RCODE_FORMERR	1
#define RCODE_SERVFAIL	2
#define RCODE_NXDOMAIN	3
#define RCODE_NOTIMP	4
#define RCODE_REFUSED	5

#define LK_MX		(2 * DNS_HOSTS_MAX)	/* the MX lookup's index */
#define LK_MAX		(LK_MX + 1)

enum outcome {
	OUT_DATA,	/* an answer with records */
	OUT_NODATA,	/* the name exists, not the type */
	OUT_NXDOMAIN,
	OUT_TEMP	/* SERVFAIL, timeout, bogus, resolver failure */
};

struct lookup {
	struct dns_query *q;
	int		 id;		/* ub_resolve_async() id */
	int		 pending;
	int		 type;		/* RR_MX, RR_A, RR_AAAA */
	size_t		 host;		/* index into res.host */
};

struct addrs {		/* one host's addresses as they arrive */
	unsigned char	 v4[DNS_ADDRS_MAX][4];
	unsigned char	 v6[DNS_ADDRS_MAX][16];
	size_t		 n4, n6;
	int		 temp, nxdomain;
};

struct mx_rr {
	char		 name[DNS_NAME_MAX + 1];
	int		 pref;
	uint64_t	 key;		/* random: shuffles equal prefs */
};

struct dns_query {
	struct dns	*d;
	LIST_ENTRY(dns_query) entry;
	int		 linked;
	struct event	*ev;		/* deadline, then delivery */
	dns_cb		*cb;
	void		*arg;
	int		 port;
	int		 hostmode;	/* dns_host(): no MX */
	int		 done;		/* res final; ev delivers it */
	int		 in_cb;
	int		 nanswers;
	size_t		 npending;
	char		 name[DNS_NAME_MAX + 1];
	char		 tempwhy[DNS_WHY_MAX + DNS_NAME_MAX];
	struct lookup	 lk[LK_MAX];
	struct addrs	 addrs[DNS_HOSTS_MAX];
	struct dns_result res;
};

struct dns {
	struct event_base *base;
	struct ub_ctx	*ctx;
	struct event	*ev;		/* ub_fd() readable */
	int		 failed;	/* ub_process() failed: no resolver */
	uint64_t	 rng;
	LIST_HEAD(, dns_query) queries;
};

static void	lookup_done(struct lookup *, enum outcome, const char *,
		    const struct ub_result *);
static void	finish(struct dns_query *, enum dns_status, const char *,
		    ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* names								*/

static int
name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/*
 * A text name to lower case without the trailing dot: labels of 1 to 63
 * letters, digits, '-' or '_', 253 characters at most.
 */
static int
name_norm(const char *in, char *out, size_t outlen)
{
	size_t	len = strlen(in), i, label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX - 2 || len >= outlen)
		return -1;
	for (i = 0; i < len; i++) {
		out[i] = (char)lower((unsigned char)in[i]);
		if (out[i] == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (!name_char_ok((unsigned char)out[i]) ||
		    ++label > DNS_LABEL_MAX)
			return -1;
	}
	out[len] = '\0';
	return label == 0 ? -1 : 0;
}

/* A name for a why line: printable, bounded. */
static void
name_safe(const char *in, char *out, size_t outlen)
{
	size_t	i;

	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++)
		out[i] = in[i] > ' ' && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

/*
 * An uncompressed wire-format name that fills p[0..len) exactly, as text
 * ("" for the root).  Compression pointers and odd characters are
 * refused: libunbound hands rdata names uncompressed.
 */
static int
name_wire(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t	i = 0, o = 0, l, k;

	if (len == 0 || len > DNS_NAME_MAX || outlen == 0)
		return -1;
	while ((l = p[i++]) != 0) {
		if (l > DNS_LABEL_MAX || l >= len - i ||
		    o + (o != 0) + l + 1 > outlen)
			return -1;
		if (o != 0)
			out[o++] = '.';
		for (k = 0; k < l; k++) {
			out[o] = (char)lower(p[i++]);
			if (!name_char_ok((unsigned char)out[o++]))
				return -1;
		}
	}
	if (i != len)
		return -1;
	out[o] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* answers								*/

static const char *
rcode_str(int rcode, char *buf, size_t len)
{
	switch (rcode) {
	case RCODE_FORMERR:	return "FORMERR";
	case RCODE_SERVFAIL:	return "SERVFAIL";
	case RCODE_NXDOMAIN:	return "NXDOMAIN";
	case RCODE_NOTIMP:	return "NOTIMP";
	case RCODE_REFUSED:	return "REFUSED";
	}
	(void)snprintf(buf, len, "rcode %d", rcode);
	return buf;
}

static enum outcome
classify(int err, const struct ub_result *r, char *why, size_t len)
{
	char	buf[32];

	if (err != 0 || r == NULL) {
		(void)snprintf(why, len, "%s", ub_strerror(err));
		return OUT_TEMP;
	}
	if (r->bogus) {
		(void)snprintf(why, len, "DNSSEC validation failed");
		return OUT_TEMP;
	}
	if (r->nxdomain || r->rcode == RCODE_NXDOMAIN) {
		(void)snprintf(why, len, "NXDOMAIN");
		return OUT_NXDOMAIN;
	}
	if (r->rcode != 0) {
		(void)snprintf(why, len, "%s", rcode_str(r->rcode, buf,
		    sizeof(buf)));
		return OUT_TEMP;
	}
	(void)snprintf(why, len, "no data");
	return r->havedata && r->data[0] != NULL ? OUT_DATA : OUT_NODATA;
}

static const char *
type_str(int type)
{
	return type == RR_MX ? "MX" : type == RR_A ? "A" : "AAAA";
}

/* ------------------------------------------------------------------ */
/* lookups								*/

static void
lookup_cb(void *arg, int err, struct ub_result *r)
{
	struct lookup	*lk = arg;
	struct dns_query *q = lk->q;
	char		 why[DNS_WHY_MAX];
	enum outcome	 o;

	lk->pending = 0;
	q->npending--;
	q->nanswers++;
	if (r == NULL || !r->secure)
		q->res.secure = 0;
	o = classify(err, r, why, sizeof(why));
	lookup_done(lk, o, why, o == OUT_DATA ? r : NULL);
	ub_resolve_free(r);
}

/* Returns 0 or a libunbound error; counted as pending before the call. */
static int
lookup_start(struct dns_query *q, struct lookup *lk, int type, size_t host)
{
	const char	*name = q->res.host[host].name;
	int		 rc;

	if (type == RR_MX)
		name = q->name;
	lk->q = q;
	lk->type = type;
	lk->host = host;
	if (q->d->failed != 0)
		return q->d->failed;
	lk->pending = 1;
	q->npending++;
	rc = ub_resolve_async(q->d->ctx, name, type, RR_CLASS_IN, lk,
	    lookup_cb, &lk->id);
	if (rc != 0) {
		lk->pending = 0;
		q->npending--;
	}
	return rc;
}

/*
 * After ub_cancel() no callback comes, whatever it returns: the query
 * has left libunbound's table either way.  With the resolver process
 * gone no answer can come, and its pipe is not written to.
 */
static void
lookup_cancel(struct dns_query *q, struct lookup *lk)
{
	if (q->d->failed == 0)
		(void)ub_cancel(q->d->ctx, lk->id);
	lk->pending = 0;
	q->npending--;
}

/* Lookups still out end as temporary failures: timeout, no resolver. */
static void
lookups_fail(struct dns_query *q, const char *why)
{
	size_t	i;

	for (i = 0; i < LK_MAX && !q->done; i++) {
		if (!q->lk[i].pending)
			continue;
		lookup_cancel(q, &q->lk[i]);
		q->res.secure = 0;
		lookup_done(&q->lk[i], OUT_TEMP, why, NULL);
	}
}

static void
lookups_cancel(struct dns_query *q)
{
	size_t	i;

	for (i = 0; i < LK_MAX; i++)
		if (q->lk[i].pending)
			lookup_cancel(q, &q->lk[i]);
}

/* ------------------------------------------------------------------ */
/* addresses								*/

static void
addrs_add(struct addrs *a, int type, const struct ub_result *r)
{
	size_t	i, k;

	for (i = 0; r->data[i] != NULL; i++) {
		if (type == RR_A && r->len[i] == 4 && a->n4 < DNS_ADDRS_MAX) {
			for (k = 0; k < a->n4 &&
			    memcmp(a->v4[k], r->data[i], 4) != 0; k++)
				continue;
			if (k == a->n4)
				memcpy(a->v4[a->n4++], r->data[i], 4);
		} else if (type == RR_AAAA && r->len[i] == 16 &&
		    a->n6 < DNS_ADDRS_MAX) {
			for (k = 0; k < a->n6 &&
			    memcmp(a->v6[k], r->data[i], 16) != 0; k++)
				continue;
			if (k == a->n6)
				memcpy(a->v6[a->n6++], r->data[i], 16);
		}
	}
}

static void
addr_put4(struct dns_host *h, const unsigned char *ip, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&h->addr[h->naddr].ss;

	memset(&h->addr[h->naddr], 0, sizeof(h->addr[h->naddr]));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	memcpy(&sin->sin_addr, ip, 4);
	h->addr[h->naddr++].len = sizeof(*sin);
}

static void
addr_put6(struct dns_host *h, const unsigned char *ip, int port)
{
	struct sockaddr_in6 *sin6 =
	    (struct sockaddr_in6 *)&h->addr[h->naddr].ss;

	memset(&h->addr[h->naddr], 0, sizeof(h->addr[h->naddr]));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	memcpy(&sin6->sin6_addr, ip, 16);
	h->addr[h->naddr++].len = sizeof(*sin6);
}

/* IPv4 and IPv6 alternate, so neither family can crowd out the other. */
static void
addrs_merge(struct dns_host *h, const struct addrs *a, int port)
{
	size_t	k;

	h->naddr = 0;
	for (k = 0; k < DNS_ADDRS_MAX; k++) {
		if (k < a->n4 && h->naddr < DNS_ADDRS_MAX)
			addr_put4(h, a->v4[k], port);
		if (k < a->n6 && h->naddr < DNS_ADDRS_MAX)
			addr_put6(h, a->v6[k], port);
	}
}

/* Keeps hosts with addresses and hosts that failed temporarily. */
static void
addrs_finish(struct dns_query *q)
{
	struct dns_result *res = &q->res;
	size_t		 i, n = 0, naddr = 0, ntemp = 0;

	for (i = 0; i < res->nhosts; i++) {
		addrs_merge(&res->host[i], &q->addrs[i], q->port);
		if (res->host[i].naddr == 0 &&
		    (q->addrs[i].nxdomain || !q->addrs[i].temp))
			continue;
		naddr += res->host[i].naddr > 0;
		ntemp += res->host[i].naddr == 0;
		if (n != i)
			res->host[n] = res->host[i];
		n++;
	}
	res->nhosts = n;
	if (naddr > 0 && ntemp > 0)
		finish(q, DNS_OK, "%s: %zu hosts, %zu without address (%s)",
		    q->name, n, ntemp, q->tempwhy);
	else if (naddr > 0)
		finish(q, DNS_OK, "%s: %zu host%s", q->name, n,
		    n == 1 ? "" : "s");
	else if (ntemp > 0)
		finish(q, DNS_TEMPFAIL, "%s: no address: %s", q->name,
		    q->tempwhy);
	else if (q->hostmode && q->addrs[0].nxdomain)
		finish(q, DNS_NXDOMAIN, "%s: A lookup: NXDOMAIN", q->name);
	else
		finish(q, DNS_NODATA, "%s: %s", q->name, q->hostmode ?
		    "no address" : q->res.implicit ? "no MX and no address" :
		    "no MX host has an address");
}

static void
addr_done(struct lookup *lk, enum outcome o, const char *why,
    const struct ub_result *r)
{
	struct dns_query *q = lk->q;
	struct addrs	*a = &q->addrs[lk->host];

	if (o == OUT_DATA)
		addrs_add(a, lk->type, r);
	else if (o == OUT_NXDOMAIN)
		a->nxdomain = 1;
	else if (o == OUT_TEMP) {
		a->temp = 1;
		if (q->tempwhy[0] == '\0')
			(void)snprintf(q->tempwhy, sizeof(q->tempwhy),
			    "%s: %s lookup: %s", q->res.host[lk->host].name,
			    type_str(lk->type), why);
	}
	if (q->npending == 0)
		addrs_finish(q);
}

/* A and AAAA of every host in parallel; a failed start is temporary. */
static void
addrs_start(struct dns_query *q)
{
	size_t	i, t;
	int	type, rc;

	q->npending++;		/* hold: no result while starting */
	for (i = 0; i < q->res.nhosts; i++)
		for (t = 0; t < 2; t++) {
			type = t == 0 ? RR_A : RR_AAAA;
			rc = lookup_start(q, &q->lk[2 * i + t], type, i);
			if (rc != 0)
				addr_done(&q->lk[2 * i + t], OUT_TEMP,
				    ub_strerror(rc), NULL);
		}
	if (--q->npending == 0)
		addrs_finish(q);
}

/* ------------------------------------------------------------------ */
/* MX									*/

static uint64_t
rng_next(struct dns *d)
{
	uint64_t x = d->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	d->rng = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct mx_rr *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return 0;
}

/* The well-formed MX records; *null for a lone "MX 0 .". */
static size_t
mx_parse(struct dns *d, const struct ub_result *r, struct mx_rr *mx,
    int *null)
{
	const unsigned char *p;
	size_t	 i, n = 0;

	*null = 0;
	for (i = 0; r->data[i] != NULL; i++) {
		p = (const unsigned char *)r->data[i];
		if (r->len[i] < 3 || name_wire(p + 2, (size_t)r->len[i] - 2,
		    mx[n].name, sizeof(mx[n].name)) == -1)
			continue;
		mx[n].pref = p[0] << 8 | p[1];
		if (mx[n].name[0] == '\0') {
			*null = r->data[1] == NULL && mx[n].pref == 0;
			continue;	/* no host: "." */
		}
		mx[n++].key = rng_next(d);
	}
	return n;
}

/* Best preference first, duplicates dropped, at most DNS_HOSTS_MAX. */
static void
mx_hosts(struct dns_query *q, struct mx_rr *mx, size_t n)
{
	struct dns_result *res = &q->res;
	size_t		 i, k;

	qsort(mx, n, sizeof(*mx), mx_cmp);
	for (i = 0; i < n && res->nhosts < DNS_HOSTS_MAX; i++) {
		for (k = 0; k < res->nhosts &&
		    strcmp(res->host[k].name, mx[i].name) != 0; k++)
			continue;
		if (k < res->nhosts)
			continue;
		memcpy(res->host[k].name, mx[i].name, sizeof(mx[i].name));
		res->host[k].pref = mx[i].pref;
		res->nhosts++;
	}
}

static void
mx_answer(struct dns_query *q, const struct ub_result *r)
{
	struct mx_rr	*mx;
	size_t		 n;
	int		 null;

	for (n = 0; r->data[n] != NULL; n++)
		continue;
	if ((mx = calloc(n, sizeof(*mx))) == NULL) {
		finish(q, DNS_TEMPFAIL, "%s: MX lookup: out of memory",
		    q->name);
		return;
	}
	n = mx_parse(q->d, r, mx, &null);
	mx_hosts(q, mx, n);
	free(mx);
	if (null)
		finish(q, DNS_NULLMX, "%s: null MX (RFC 7505)", q->name);
	else if (q->res.nhosts == 0)
		finish(q, DNS_NODATA, "%s: no valid MX host", q->name);
	else
		addrs_start(q);
}

/* No MX: the domain is its own mail host (RFC 5321 5.1). */
static void
mx_implicit(struct dns_query *q)
{
	q->res.implicit = 1;
	q->res.nhosts = 1;
	q->res.host[0].pref = 0;
	memcpy(q->res.host[0].name, q->name, sizeof(q->name));
	addrs_start(q);
}

static void
mx_done(struct dns_query *q, enum outcome o, const char *why,
    const struct ub_result *r)
{
	switch (o) {
	case OUT_TEMP:
		finish(q, DNS_TEMPFAIL, "%s: MX lookup: %s", q->name, why);
		break;
	case OUT_NXDOMAIN:
		finish(q, DNS_NXDOMAIN, "%s: MX lookup: NXDOMAIN", q->name);
		break;
	case OUT_NODATA:
		mx_implicit(q);
		break;
	case OUT_DATA:
		mx_answer(q, r);
		break;
	}
}

static void
lookup_done(struct lookup *lk, enum outcome o, const char *why,
    const struct ub_result *r)
{
	if (lk->type == RR_MX)
		mx_done(lk->q, o, why, r);
	else
		addr_done(lk, o, why, r);
}

/* ------------------------------------------------------------------ */
/* queries								*/

static void
q_unlink(struct dns_query *q)
{
	if (q->linked) {
		LIST_REMOVE(q, entry);
		q->linked = 0;
	}
}

/* A delivered query has no lookup out, so this needs no q->d then. */
static void
q_free(struct dns_query *q)
{
	if (q->npending > 0)
		lookups_cancel(q);
	q_unlink(q);
	event_free(q->ev);
	free(q);
}

static void
finish(struct dns_query *q, enum dns_status status, const char *fmt, ...)
{
	va_list	ap;

	if (q->done)
		abort();
	q->done = 1;
	q->res.status = status;
	if (status != DNS_OK)
		q->res.nhosts = 0;
	if (q->nanswers == 0)
		q->res.secure = 0;
	va_start(ap, fmt);
	(void)vsnprintf(q->res.why, sizeof(q->res.why), fmt, ap);
	va_end(ap);
	if (event_del(q->ev) == -1)
		abort();
	event_active(q->ev, EV_TIMEOUT, 0);
}

static void
q_deliver(struct dns_query *q)
{
	q_unlink(q);
	q->in_cb = 1;
	q->cb(&q->res, q->arg);
	q_free(q);
}

/* The deadline, or (q->done) the delivery of the result. */
static void
q_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	(void)fd;
	(void)what;
	if (!q->done)
		lookups_fail(q, "timeout");
	if (!q->done)
		abort();
	q_deliver(q);
}

static struct dns_query *
q_new(struct dns *d, const char *name, int port, dns_cb *cb, void *arg)
{
	struct dns_query *q;
	struct timeval	 tv = { DNS_TIMEOUT_SEC, 0 };
	char		 shown[64];

	if (port < 0 || port > 65535 || (q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if ((q->ev = event_new(d->base, -1, 0, q_ev_cb, q)) == NULL ||
	    event_add(q->ev, &tv) == -1) {
		if (q->ev != NULL)
			event_free(q->ev);
		free(q);
		return NULL;
	}
	q->d = d;
	q->cb = cb;
	q->arg = arg;
	q->port = port;
	q->res.secure = 1;
	LIST_INSERT_HEAD(&d->queries, q, entry);
	q->linked = 1;
	if (name_norm(name, q->name, sizeof(q->name)) == -1) {
		name_safe(name, shown, sizeof(shown));
		finish(q, DNS_NXDOMAIN, "%s%s: invalid domain name", shown,
		    strlen(name) >= sizeof(shown) ? "..." : "");
	}
	return q;
}

struct dns_query *
dns_mx(struct dns *d, const char *domain, int port, dns_cb *cb, void *arg)
{
	struct dns_query *q;
	int		 rc;

	if ((q = q_new(d, domain, port, cb, arg)) == NULL || q->done)
		return q;
	if ((rc = lookup_start(q, &q->lk[LK_MX], RR_MX, 0)) != 0)
		finish(q, DNS_TEMPFAIL, "%s: MX lookup: %s", q->name,
		    ub_strerror(rc));
	return q;
}

struct dns_query *
dns_host(struct dns *d, const char *host, int port, dns_cb *cb, void *arg)
{
	struct dns_query *q;

	if ((q = q_new(d, host, port, cb, arg)) == NULL || q->done)
		return q;
	q->hostmode = 1;
	q->res.nhosts = 1;
	memcpy(q->res.host[0].name, q->name, sizeof(q->name));
	addrs_start(q);
	return q;
}

/* A query in its own callback is freed when the callback returns. */
void
dns_cancel(struct dns_query *q)
{
	if (q != NULL && !q->in_cb)
		q_free(q);
}

/* ------------------------------------------------------------------ */
/* the resolver							*/

/* libunbound is gone (its pipe broke): every query fails, now and later. */
static void
dns_ub_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns	 *d = arg;
	struct dns_query *q;
	int		  rc;

	(void)fd;
	(void)what;
	if ((rc = ub_process(d->ctx)) == 0)
		return;
	d->failed = rc;
	if (event_del(d->ev) == -1)
		abort();
	LIST_FOREACH(q, &d->queries, entry)
		if (!q->done)
			lookups_fail(q, ub_strerror(rc));
}

static void
rng_seed(struct dns *d)
{
	struct timespec	ts;

	if (getrandom(&d->rng, sizeof(d->rng), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(d->rng)) {
		if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
			ts.tv_nsec = 0;
		d->rng = (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
	}
	if (d->rng == 0)
		d->rng = UINT64_C(0x9e3779b97f4a7c15);
}

static int
dns_err(char *err, size_t errlen, const char *resolver, const char *call,
    int rc)
{
	if (err != NULL && errlen > 0)
		(void)snprintf(err, errlen, "resolver %s: %s: %s",
		    *resolver != '\0' ? resolver : "/etc/resolv.conf", call,
		    ub_strerror(rc));
	return -1;
}

static int
dns_setup(struct dns *d, const char *resolver, char *err, size_t errlen)
{
	int	rc;

	if ((rc = ub_ctx_async(d->ctx, 0)) != 0)
		return dns_err(err, errlen, resolver, "ub_ctx_async", rc);
	/*
	 * As a stub, send "test." names to the forwarder (RFC 6761 6.2,
	 * item 3) instead of libunbound's built-in NXDOMAIN zone.  A
	 * transparent zone, because "nodefault" is misparsed when set
	 * through ub_ctx_set_option() (libunbound 1.17).
	 */
	if ((rc = ub_ctx_set_option(d->ctx, "local-zone:",
	    "test. transparent")) != 0)
		return dns_err(err, errlen, resolver, "ub_ctx_set_option", rc);
	if (*resolver != '\0') {
		if ((rc = ub_ctx_set_fwd(d->ctx, resolver)) != 0)
			return dns_err(err, errlen, resolver,
			    "ub_ctx_set_fwd", rc);
		return 0;
	}
	if ((rc = ub_ctx_resolvconf(d->ctx, "/etc/resolv.conf")) != 0)
		return dns_err(err, errlen, resolver, "ub_ctx_resolvconf",
		    rc);
	if ((rc = ub_ctx_hosts(d->ctx, "/etc/hosts")) != 0)
		return dns_err(err, errlen, resolver, "ub_ctx_hosts", rc);
	return 0;
}

static int
dns_event(struct dns *d, const char *resolver, char *err, size_t errlen)
{
	int	fd;

	if ((fd = ub_fd(d->ctx)) == -1)
		return dns_err(err, errlen, resolver, "ub_fd", UB_PIPE);
	if ((d->ev = event_new(d->base, fd, EV_READ | EV_PERSIST, dns_ub_cb,
	    d)) == NULL || event_add(d->ev, NULL) == -1)
		return dns_err(err, errlen, resolver, "event_add", UB_NOMEM);
	return 0;
}

struct dns *
dns_new(struct event_base *base, const char *resolver, char *err,
    size_t errlen)
{
	struct dns	*d;

	if (resolver == NULL)
		resolver = "";
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->ctx = ub_ctx_create()) == NULL) {
		free(d);
		(void)dns_err(err, errlen, resolver, "ub_ctx_create",
		    UB_NOMEM);
		return NULL;
	}
	d->base = base;
	LIST_INIT(&d->queries);
	rng_seed(d);
	if (dns_setup(d, resolver, err, errlen) == -1 ||
	    dns_event(d, resolver, err, errlen) == -1) {
		dns_free(d);
		return NULL;
	}
	return d;
}

void
dns_free(struct dns *d)
{
	struct dns_query *q;

	if (d == NULL)
		return;
	while ((q = LIST_FIRST(&d->queries)) != NULL)
		q_free(q);
	if (d->ev != NULL)
		event_free(d->ev);
	ub_ctx_delete(d->ctx);
	free(d);
}

const char *
dns_status_str(enum dns_status s)
{
	switch (s) {
	case DNS_OK:		return "ok";
	case DNS_NXDOMAIN:	return "nxdomain";
	case DNS_NODATA:	return "nodata";
	case DNS_NULLMX:	return "nullmx";
	case DNS_TEMPFAIL:	return "tempfail";
	}
	return "unknown";
}

int
dns_literal(const char *host, int port, struct dns_result *out)
{
	struct dns_host *h = &out->host[0];
	struct sockaddr_in *in = (struct sockaddr_in *)&h->addr[0].ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&h->addr[0].ss;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		h->addr[0].len = sizeof(*in);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		h->addr[0].len = sizeof(*in6);
	} else
		return 0;
	/* an address is at most INET6_ADDRSTRLEN: the brackets fit */
	(void)snprintf(h->name, sizeof(h->name), "[%.*s]",
	    (int)sizeof(h->name) - 3, host);
	h->naddr = 1;
	out->nhosts = 1;
	return 1;
}
