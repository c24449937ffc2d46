/*
 * dns.h - DNS for delivery: MX, A and AAAA through libunbound,
 * asynchronous, inside the libevent loop.
 *
 *	dns_new()	a resolver: forwarders from /etc/resolv.conf, or the
 *			configured "ADDR[@PORT]" (tests start their own
 *			unbound on loopback)
 *	dns_free()	cancels every query in flight (no callbacks)
 *	dns_mx()	the delivery targets of a mail domain (RFC 5321
 *			5.1): MX hosts by preference (equal preferences in
 *			random order), each with its A and AAAA addresses;
 *			no MX: the domain itself (implicit MX); a null MX
 *			(RFC 7505): DNS_NULLMX
 *	dns_host()	the A and AAAA addresses of one host name
 *	dns_cancel()	forget a query: its callback will not run
 *	dns_literal()	an address literal as a one-host result, no query:
 *			1 when host is an IPv4 or IPv6 address, else 0
 *
 * The callback runs once, from the event loop, with the result; it may
 * start new queries or free the caller's object.  Addresses carry the
 * port given to dns_mx()/dns_host().
 */
#ifndef DNS_H
#define DNS_H

#include <sys/socket.h>

#include <stddef.h>

#define DNS_HOSTS_MAX	16	/* MX hosts kept */
#define DNS_ADDRS_MAX	8	/* addresses kept per host */
#define DNS_NAME_MAX	255

struct event_base;
struct dns;
struct dns_query;

enum dns_status {
	DNS_OK = 0,
	DNS_NXDOMAIN,	/* the domain does not exist: permanent */
	DNS_NODATA,	/* no MX and no address: permanent */
	DNS_NULLMX,	/* "MX 0 .": accepts no mail, RFC 7505 */
	DNS_TEMPFAIL	/* SERVFAIL, timeout, ...: try again later */
};

struct dns_addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
};

struct dns_host {
	char		name[DNS_NAME_MAX + 1];	/* lower-case, no dot */
	int		pref;
	size_t		naddr;
	struct dns_addr	addr[DNS_ADDRS_MAX];
};

struct dns_result {
	enum dns_status	status;
	int		implicit;	/* no MX: the domain's own address */
	int		secure;		/* every answer DNSSEC-validated */
	size_t		nhosts;
	struct dns_host	host[DNS_HOSTS_MAX];
	char		why[256];	/* for logs and DSNs */
};

typedef void dns_cb(const struct dns_result *res, void *arg);

struct dns *dns_new(struct event_base *base, const char *resolver,
	    char *err, size_t errlen);
void	dns_free(struct dns *d);
struct dns_query *dns_mx(struct dns *d, const char *domain, int port,
	    dns_cb *cb, void *arg);
struct dns_query *dns_host(struct dns *d, const char *host, int port,
	    dns_cb *cb, void *arg);
void	dns_cancel(struct dns_query *q);
const char *dns_status_str(enum dns_status s);
int	dns_literal(const char *host, int port, struct dns_result *out);

#endif
