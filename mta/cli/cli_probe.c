/*
 * cli_probe.c - pinpost probe: what an SMTP server offers, its TLS, its
 * pins and STSEC, without sending mail (as Postfix's posttls-finger).
 *
 * SYNOPSIS
 *	pinpost probe [-v] [-f config] [-s store] [-a] [--early] [--json]
 *	    [--learn] [--implicit] [--port N] [--timeout SECS]
 *	    [--resolver ADDR[@PORT]] DESTINATION
 *
 * DESCRIPTION
 *	DESTINATION is a domain (its MX hosts, in order), [HOST] or
 *	[HOST]:PORT.  Each host is probed by the delivery client itself
 *	(mta/client.c in probe mode): greeting, [STARTTLS,] EHLO,
 *	STARTTLS, EHLO inside TLS, QUIT.  The first host that answers is
 *	shown, or every host with -a.  The store is only read, unless
 *	--learn notes what the EHLO inside TLS said, under the normal
 *	noting rules; without a store file a scratch one is used.  Exit
 *	status 0 when a host was probed, 1 on a DNS, connection or TLS
 *	failure, 2 on a usage error.  Output: cli_probe_out.c.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cli.h"
#include "cli_probe.h"
#include "client.h"
#include "conf.h"
#include "dns.h"
#include "log.h"
#include "pinstore.h"
#include "ctx.h"
#include "tls.h"
#include "worker.h"

struct probe_opts {
	const char	*conf_path;
	const char	*store;
	const char	*resolver;
	const char	*dest;
	int		 all, early, json, learn, implicit, verbose;
	long		 port, timeout;
};

struct probe_run {
	struct mta_ctx	 ctx;
	struct conf	 conf;
	char		 scratch[64];	/* a scratch store's directory */
	struct dns_result res;
	int		 port;		/* of the destination */
	int		 waiting;
};

static int
opt_num(const char *opt, const char *v, long hi, long *out)
{
	char	*end;

	*out = v != NULL ? strtol(v, &end, 10) : 0;
	if (v == NULL || *end != '\0' || *out < 1 || *out > hi) {
		(void)cli_err("%s: want a number from 1 to %ld", opt, hi);
		return -1;
	}
	return 0;
}

static int
probe_flag(const char *a, struct probe_opts *o)
{
	if (strcmp(a, "-a") == 0)
		o->all = 1;
	else if (strcmp(a, "--early") == 0)
		o->early = 1;
	else if (strcmp(a, "--json") == 0)
		o->json = 1;
	else if (strcmp(a, "--learn") == 0)
		o->learn = 1;
	else if (strcmp(a, "--implicit") == 0)
		o->implicit = 1;
	else if (strcmp(a, "-v") == 0)
		o->verbose = 1;
	else
		return 0;
	return 1;
}

/* Options with a value; 1 taken, 0 not one of them, -1 bad. */
static int
probe_valued(const char *a, const char *v, struct probe_opts *o)
{
	if (strcmp(a, "-f") == 0)
		o->conf_path = v;
	else if (strcmp(a, "-s") == 0)
		o->store = v;
	else if (strcmp(a, "--resolver") == 0)
		o->resolver = v;
	else if (strcmp(a, "--port") == 0)
		return opt_num(a, v, 65535, &o->port) == 0 ? 1 : -1;
	else if (strcmp(a, "--timeout") == 0)
		return opt_num(a, v, 3600, &o->timeout) == 0 ? 1 : -1;
	else
		return 0;
	return v != NULL ? 1 : -1;
}

static int
probe_parse(int argc, char **argv, struct probe_opts *o)
{
	int	i, r;

	for (i = 1; i < argc; i++) {
		if (probe_flag(argv[i], o))
			continue;
		r = probe_valued(argv[i], i + 1 < argc ? argv[i + 1] : NULL, o);
		if (r == -1)
			return cli_usage("probe");
		if (r == 1) {
			i++;
			continue;
		}
		if (argv[i][0] == '-' || o->dest != NULL)
			return cli_usage("probe");
		o->dest = argv[i];
	}
	return o->dest != NULL ? CLI_OK : cli_usage("probe");
}

/* ------------------------------------------------------------------ */
/* set-up                                                               */

static int
conf_str(char **field, const char *v)
{
	char	*s;

	if (v == NULL)
		return 0;
	if ((s = strdup(v)) == NULL)
		return -1;
	free(*field);
	*field = s;
	return 0;
}

static int
probe_conf(struct probe_run *pr, const struct probe_opts *o)
{
	char	err[CONF_ERR_MAX];
	struct stat sb;
	const char *path = o->conf_path;

	if (path == NULL && stat(CLI_CONF_DEFAULT, &sb) == 0)
		path = CLI_CONF_DEFAULT;
	if (path != NULL && conf_load(path, &pr->conf, err, sizeof(err)) == -1)
		return cli_err("%s", err);
	if (path == NULL)
		conf_defaults(&pr->conf);
	if (o->timeout > 0)
		pr->conf.connect_timeout = pr->conf.smtp_timeout = o->timeout;
	if (conf_str(&pr->conf.store, o->store) == -1 ||
	    conf_str(&pr->conf.dns_resolver, o->resolver) == -1)
		return cli_err("out of memory");
	return CLI_OK;
}

/* Without --learn a missing store is not created: a scratch one is. */
static const char *
probe_store_path(struct probe_run *pr, const struct probe_opts *o,
    char *buf, size_t len)
{
	struct stat sb;

	if (o->learn || stat(pr->conf.store, &sb) == 0)
		return pr->conf.store;
	(void)snprintf(pr->scratch, sizeof(pr->scratch),
	    "/tmp/pinpost-probe.XXXXXX");
	if (mkdtemp(pr->scratch) == NULL) {
		pr->scratch[0] = '\0';
		return NULL;
	}
	(void)snprintf(buf, len, "%s/pins.tdb", pr->scratch);
	return buf;
}

static int
probe_setup(struct probe_run *pr, const struct probe_opts *o)
{
	struct mta_ctx *s = &pr->ctx;
	char	err[CONF_ERR_MAX], scratch[128];
	const char *store;

	s->conf = &pr->conf;
	tls_init();
	if ((s->base = event_base_new()) == NULL ||
	    (s->worker = worker_new(s->base, 1)) == NULL)
		return cli_err("cannot start the event loop");
	if ((s->dns = dns_new(s->base, pr->conf.dns_resolver, err,
	    sizeof(err))) == NULL ||
	    (s->client_ctx = tls_client_ctx_new(&pr->conf, err,
	    sizeof(err))) == NULL)
		return cli_err("%s", err);
	if ((store = probe_store_path(pr, o, scratch, sizeof(scratch))) ==
	    NULL)
		return cli_err("cannot make a scratch store: %s",
		    strerror(errno));
	if ((s->pins = pinstore_open(s->worker, store, err, sizeof(err))) ==
	    NULL)
		return cli_err("%s", err);
	return CLI_OK;
}

static void
probe_teardown(struct probe_run *pr)
{
	struct mta_ctx *s = &pr->ctx;
	char	path[128];

	worker_free(s->worker);
	pinstore_close(s->pins);
	dns_free(s->dns);
	tls_client_ctx_free(s->client_ctx);
	if (s->base != NULL)
		event_base_free(s->base);
	if (pr->scratch[0] != '\0') {
		(void)snprintf(path, sizeof(path), "%s/pins.tdb", pr->scratch);
		(void)unlink(path);
		(void)rmdir(pr->scratch);
	}
	conf_free(&pr->conf);
}

/* ------------------------------------------------------------------ */
/* resolving and probing                                                */

static void
probe_dns_cb(const struct dns_result *res, void *arg)
{
	struct probe_run *pr = arg;

	pr->res = *res;
	pr->waiting = 0;
	(void)event_base_loopbreak(pr->ctx.base);
}

/* "[host]:port", "[host]" or a domain into a route-like target. */
static int
probe_target(const char *dest, char *host, size_t len, int *port, int *mx)
{
	const char *close;
	size_t	n;

	*mx = dest[0] != '[';
	if (*mx) {
		if (strlen(dest) >= len)
			return -1;
		(void)snprintf(host, len, "%s", dest);
		return 0;
	}
	if ((close = strchr(dest, ']')) == NULL || (n = (size_t)(close -
	    dest - 1)) == 0 || n >= len)
		return -1;
	memcpy(host, dest + 1, n);
	host[n] = '\0';
	if (close[1] == ':')
		*port = atoi(close + 2);
	else if (close[1] != '\0')
		return -1;
	return *port > 0 && *port <= 65535 ? 0 : -1;
}


static int
probe_resolve(struct probe_run *pr, const struct probe_opts *o)
{
	char	host[STSEC_NAME_MAX + 1];
	int	port = o->port ? (int)o->port : (int)pr->conf.relay_port, mx;

	if (probe_target(o->dest, host, sizeof(host), &port, &mx) == -1)
		return cli_err("%s: not a domain, [HOST] or [HOST]:PORT",
		    o->dest);
	pr->port = port;
	if (!mx && dns_literal(host, port, &pr->res))
		return CLI_OK;
	pr->waiting = 1;
	if ((mx ? dns_mx(pr->ctx.dns, host, port, probe_dns_cb, pr) :
	    dns_host(pr->ctx.dns, host, port, probe_dns_cb, pr)) == NULL)
		return cli_err("%s: DNS query failed", host);
	while (pr->waiting)
		(void)event_base_loop(pr->ctx.base, EVLOOP_ONCE);
	if (pr->res.status != DNS_OK)
		return cli_err("%s: %s (%s)", host,
		    dns_status_str(pr->res.status), pr->res.why);
	return CLI_OK;
}

static void
probe_done_cb(struct delivery *d, void *arg)
{
	struct probe_run *pr = arg;

	(void)d;
	pr->waiting = 0;
	(void)event_base_loopbreak(pr->ctx.base);
}

/* One host: the delivery client in probe mode. */
static int
probe_host(struct probe_run *pr, const struct probe_opts *o, size_t i,
    struct probe_report *rep)
{
	struct dns_result one;
	struct delivery d;
	struct client_observer obs;

	memset(&d, 0, sizeof(d));
	memset(rep, 0, sizeof(*rep));
	one = pr->res;
	one.host[0] = pr->res.host[i];
	one.nhosts = 1;
	(void)snprintf(d.id, sizeof(d.id), "probe");
	d.probe = 1;
	d.probe_early = o->early;
	d.probe_learn = o->learn;
	d.probe_implicit = o->implicit;
	d.probe_hosts = &one;
	probe_observer(&obs, rep);
	d.route.is_static = 1;
	d.route.port = pr->port;
	pr->waiting = 1;
	if (client_start(&pr->ctx, &d, &obs, probe_done_cb, pr) == NULL)
		return cli_err("out of memory");
	while (pr->waiting)
		(void)event_base_loop(pr->ctx.base, EVLOOP_ONCE);
	return rep->error[0] == '\0' ? CLI_OK : CLI_FAIL;
}

static int
probe_all(struct probe_run *pr, const struct probe_opts *o)
{
	struct probe_report *rep;
	size_t	i;
	int	rc = CLI_FAIL, r;

	if ((rep = calloc(1, sizeof(*rep))) == NULL)
		return cli_err("out of memory");
	for (i = 0; i < pr->res.nhosts; i++) {
		if (pr->res.host[i].naddr == 0)
			continue;
		r = probe_host(pr, o, i, rep);
		probe_print(rep, o->json, stdout);
		if (r != CLI_OK)
			(void)cli_err("%s: %s", rep->host, rep->error);
		else
			rc = CLI_OK;
		if (r == CLI_OK && !o->all)
			break;
	}
	free(rep);
	return rc;
}

int
cli_probe_main(struct cli *cli, int argc, char **argv)
{
	struct probe_opts o;
	struct probe_run *pr;
	int	rc;

	memset(&o, 0, sizeof(o));
	o.store = cli->store_path;
	if ((rc = probe_parse(argc, argv, &o)) != CLI_OK)
		return rc;
	if ((pr = calloc(1, sizeof(*pr))) == NULL)
		return cli_err("out of memory");
	log_init("pinpost", o.verbose ? 1 : LOG_TO_STDERR_QUIET, o.verbose);
	if ((rc = probe_conf(pr, &o)) == CLI_OK &&
	    (rc = probe_setup(pr, &o)) == CLI_OK &&
	    (rc = probe_resolve(pr, &o)) == CLI_OK)
		rc = probe_all(pr, &o);
	probe_teardown(pr);
	free(pr);
	return rc;
}
