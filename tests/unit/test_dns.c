/*
 * test_dns.c - DNS for delivery (mta/dns.c) against a real unbound.
 *
 *	mx		order by preference, addresses and ports, IPv4 and
 *			IPv6 alternating, duplicates, the DNS_HOSTS_MAX cap,
 *			equal preferences seen in both orders
 *	kinds		implicit MX, null MX, NXDOMAIN, NODATA, hosts
 *			that do not exist or have no address, TEMPFAIL
 *			(all hosts, some hosts), names as given (case,
 *			dot, invalid)
 *	host		dns_host()
 *	lifetime	callbacks never run inside dns_mx(), exactly once;
 *			cancel and dns_free() at every stage; dns_free()
 *			and new queries inside a callback; libunbound's
 *			resolver process killed with a query out
 *
 * The group setup starts unbound -d on 127.0.0.1 and a free port, with
 * its own config in a tu_tmpdir(): static local data under "test.", a
 * refusing "fail.test." for temporary failures, and "." refused, so no
 * query ever leaves the machine (do-not-query-address makes sure).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "dns.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#include <pthread.h>
#include <sanitizer/lsan_interface.h>
#endif

#define WAIT_MS		3000	/* for one answer */
#define SHUFFLE_RUNS	40	/* one order in all: p = 2^-39 */
#define MANY		20	/* MX records of many.test */
#define CANCEL_STEPS	8

struct server {
	char	*dir;
	pid_t	 pid;
	int	 port;
	char	 resolver[64];
};

static struct server srv;

struct fx {
	struct event_base *base;
	struct dns	*d;
};

struct got {
	int		 calls;
	struct dns_result res;
	struct dns	*free_d;	/* dns_free() this in the callback */
	struct fx	*chain;		/* dns_host() in the callback */
	struct got	*chained;
};

#if defined(__SANITIZE_ADDRESS__)
/*
 * libunbound forks its resolver process inside ub_resolve_async(); the
 * heap that process leaves at its exit is libunbound's (it keeps the
 * queries cancelled with ub_cancel()), so LeakSanitizer looks only at
 * this process.  Valgrind: --child-silent-after-fork=yes.
 */
static void
lsan_child(void)
{
	__lsan_disable();
}
#endif

/* ------------------------------------------------------------------ */
/* the unbound server							*/

static const char *const zone[] = {
	"mx.test. MX 10 a.mx.test.",
	"mx.test. MX 10 b.mx.test.",
	"mx.test. MX 20 c.mx.test.",
	"a.mx.test. A 127.0.0.1",
	"b.mx.test. AAAA ::1",
	"c.mx.test. A 127.0.0.2",
	"c.mx.test. AAAA ::1",
	"implicit.test. A 127.0.0.3",
	"nullmx.test. MX 0 .",
	"notnull.test. MX 10 .",
	"mixed.test. MX 0 .",
	"mixed.test. MX 20 a.mx.test.",
	"nodata.test. TXT \\\"nothing here\\\"",
	"dangling.test. MX 10 nohost.test.",
	"partial.test. MX 10 nohost.test.",
	"partial.test. MX 20 nodata.test.",
	"partial.test. MX 30 c.mx.test.",
	"halfbad.test. MX 10 x.fail.test.",
	"halfbad.test. MX 20 a.mx.test.",
	"allbad.test. MX 10 x.fail.test.",
	"allbad.test. MX 20 y.fail.test.",
	"dup.test. MX 20 a.mx.test.",
	"dup.test. MX 10 a.mx.test.",
	"upper.test. MX 10 A.MX.TEST.",
	"odd.test. MX 10 we\\.ird.test.",	/* a dot inside a label */
	"odd.test. MX 20 sp\\032ace.test.",
	"odd.test. MX 30 a.mx.test.",
	"we.ird.test. A 127.0.0.9",		/* a misread name */
	NULL
};

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t	 len = sizeof(sin);
	int		 u, t, port = -1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((u = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return -1;
	if (bind(u, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(u, (struct sockaddr *)&sin, &len) == 0 &&
	    (t = socket(AF_INET, SOCK_STREAM, 0)) != -1) {
		if (bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			port = ntohs(sin.sin_port);
		(void)close(t);
	}
	(void)close(u);
	return port;
}

static void
conf_zone(FILE *fp)
{
	int	i;

	fprintf(fp, "\tlocal-zone: \".\" refuse\n"
	    "\tlocal-zone: \"test.\" static\n"
	    "\tlocal-zone: \"fail.test.\" refuse\n");
	for (i = 0; zone[i] != NULL; i++)
		fprintf(fp, "\tlocal-data: \"%s\"\n", zone[i]);
	/* in reverse, so the order is the resolver's doing */
	for (i = MANY; i >= 1; i--)
		fprintf(fp,
		    "\tlocal-data: \"many.test. MX %d h%d.many.test.\"\n"
		    "\tlocal-data: \"h%d.many.test. A 127.0.1.%d\"\n",
		    i, i, i, i);
	for (i = 1; i <= 10; i++)
		fprintf(fp, "\tlocal-data: \"multi.test. A 127.0.2.%d\"\n"
		    "\tlocal-data: \"multi.test. AAAA ::%d\"\n", i, i);
}

static int
conf_write(const char *path)
{
	FILE	*fp;

	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	fprintf(fp, "server:\n\tverbosity: 1\n\tuse-syslog: no\n"
	    "\tlogfile: \"%s/unbound.log\"\n\tpidfile: \"%s/unbound.pid\"\n"
	    "\tdirectory: \"%s\"\n\tusername: \"\"\n\tchroot: \"\"\n"
	    "\tdo-daemonize: no\n\tinterface: 127.0.0.1\n\tport: %d\n"
	    "\tdo-ip6: no\n\tnum-threads: 1\n\tso-reuseport: no\n"
	    "\taccess-control: 127.0.0.0/8 allow\n"
	    "\tmodule-config: \"iterator\"\n"
	    "\tdo-not-query-address: 0.0.0.0/0\n"
	    "\tdo-not-query-address: ::/0\n",
	    srv.dir, srv.dir, srv.dir, srv.port);
	conf_zone(fp);
	fprintf(fp, "remote-control:\n\tcontrol-enable: no\n");
	return fclose(fp) == 0 ? 0 : -1;
}

static pid_t
server_spawn(const char *conf)
{
	char	out[1024];
	pid_t	pid;
	int	fd;

	(void)snprintf(out, sizeof(out), "%s/unbound.out", srv.dir);
	if ((pid = fork()) != 0)
		return pid;
	/* no unbound left behind by a test that crashes */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() == 1)
		_exit(127);
	if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1) {
		(void)dup2(fd, 1);
		(void)dup2(fd, 2);
	}
	(void)execl("/usr/sbin/unbound", "unbound", "-d", "-c", conf,
	    (char *)NULL);
	(void)execlp("unbound", "unbound", "-d", "-c", conf, (char *)NULL);
	_exit(127);
}

/* Up when its log says so; gone if it exited. */
static int
server_wait(void)
{
	struct timespec	ts = { 0, 20 * 1000 * 1000 };
	int		i, st;

	for (i = 0; i < 250; i++) {
		if (tu_sh("grep -q 'start of service' '%s/unbound.log' "
		    "2>/dev/null", srv.dir) == 0)
			return 0;
		if (waitpid(srv.pid, &st, WNOHANG) == srv.pid) {
			srv.pid = -1;
			break;
		}
		(void)nanosleep(&ts, NULL);
	}
	(void)tu_sh("cat '%s/unbound.out' '%s/unbound.log' >&2", srv.dir,
	    srv.dir);
	return -1;
}

static void
server_stop(void)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	int		i, st;

	if (srv.pid <= 0)
		return;
	(void)kill(srv.pid, SIGTERM);
	for (i = 0; i < 200; i++) {
		if (waitpid(srv.pid, &st, WNOHANG) == srv.pid)
			break;
		(void)nanosleep(&ts, NULL);
	}
	if (i == 200 && kill(srv.pid, SIGKILL) == 0)
		(void)waitpid(srv.pid, &st, 0);
	srv.pid = -1;
}

static int
group_setup(void **state)
{
	char	conf[1024];

	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	if (pthread_atfork(NULL, NULL, lsan_child) != 0)
		return -1;
#endif
	/* as in pinpostd: libunbound writes to a pipe that may be closed */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -1;
	if ((srv.dir = tu_tmpdir()) == NULL || (srv.port = free_port()) < 0)
		return -1;
	(void)snprintf(conf, sizeof(conf), "%s/unbound.conf", srv.dir);
	(void)snprintf(srv.resolver, sizeof(srv.resolver), "127.0.0.1@%d",
	    srv.port);
	if (conf_write(conf) == -1 || (srv.pid = server_spawn(conf)) < 0 ||
	    server_wait() == -1) {
		server_stop();
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	server_stop();
	tu_rmrf(srv.dir);
	free(srv.dir);
	return 0;
}

/* ------------------------------------------------------------------ */
/* fixtures and helpers						*/

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char	err[256];

	if (fx == NULL || (fx->base = event_base_new()) == NULL) {
		free(fx);
		return -1;
	}
	if ((fx->d = dns_new(fx->base, srv.resolver, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "dns_new: %s\n", err);
		event_base_free(fx->base);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	dns_free(fx->d);
	event_base_free(fx->base);
	free(fx);
	return 0;
}

static void
got_cb(const struct dns_result *res, void *arg)
{
	struct got *g = arg;

	g->calls++;
	g->res = *res;
	if (g->free_d != NULL)
		dns_free(g->free_d);
	if (g->chain != NULL)
		assert_non_null(dns_host(g->chain->d, "a.mx.test", 25, got_cb,
		    g->chained));
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Runs the loop until *flag or ms pass; then what is ready, once more. */
static void
run(struct event_base *base, const int *flag, int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event	*ev;
	int		 expired = 0;

	assert_non_null(ev = evtimer_new(base, deadline_cb, &expired));
	assert_int_equal(evtimer_add(ev, &tv), 0);
	while ((flag == NULL || !*flag) && !expired)
		assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
	event_free(ev);
	assert_true(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
}

/* One query to its end: the callback runs later, and exactly once. */
static const struct dns_result *
ask(struct fx *fx, int mx, const char *name, int port, struct got *g)
{
	memset(g, 0, sizeof(*g));
	if (mx)
		assert_non_null(dns_mx(fx->d, name, port, got_cb, g));
	else
		assert_non_null(dns_host(fx->d, name, port, got_cb, g));
	assert_int_equal(g->calls, 0);
	run(fx->base, &g->calls, WAIT_MS);
	assert_int_equal(g->calls, 1);
	return &g->res;
}

static void
assert_status(const struct dns_result *r, enum dns_status s)
{
	if (r->status != s)
		fail_msg("status %s, want %s (%s)", dns_status_str(r->status),
		    dns_status_str(s), r->why);
}

static void
assert_addr(const struct dns_addr *a, const char *ip, int port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *sin6 =
	    (const struct sockaddr_in6 *)&a->ss;
	char	buf[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET) {
		assert_int_equal(a->len, sizeof(*sin));
		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf,
		    sizeof(buf)));
		assert_int_equal(ntohs(sin->sin_port), port);
	} else {
		assert_int_equal(a->ss.ss_family, AF_INET6);
		assert_int_equal(a->len, sizeof(*sin6));
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
		    sizeof(buf)));
		assert_int_equal(ntohs(sin6->sin6_port), port);
	}
	assert_string_equal(buf, ip);
}

static void
assert_host(const struct dns_host *h, const char *name, int pref,
    size_t naddr)
{
	assert_string_equal(h->name, name);
	assert_int_equal(h->pref, pref);
	assert_int_equal(h->naddr, naddr);
}

/* ------------------------------------------------------------------ */
/* MX									*/

static void
test_mx_order(void **state)
{
	const struct dns_result *r;
	const struct dns_host *a, *b;
	struct got g;

	r = ask(*state, 1, "mx.test", 25, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->implicit, 0);
	assert_int_equal(r->secure, 0);		/* no trust anchor */
	assert_int_equal(r->nhosts, 3);
	a = &r->host[r->host[0].name[0] == 'a' ? 0 : 1];
	b = &r->host[r->host[0].name[0] == 'a' ? 1 : 0];
	assert_host(a, "a.mx.test", 10, 1);
	assert_addr(&a->addr[0], "127.0.0.1", 25);
	assert_host(b, "b.mx.test", 10, 1);
	assert_addr(&b->addr[0], "::1", 25);
	/* IPv4 first, then IPv6 */
	assert_host(&r->host[2], "c.mx.test", 20, 2);
	assert_addr(&r->host[2].addr[0], "127.0.0.2", 25);
	assert_addr(&r->host[2].addr[1], "::1", 25);
	assert_non_null(strstr(r->why, "mx.test"));
}

static void
test_mx_shuffle(void **state)
{
	const struct dns_result *r;
	struct got g;
	int	i, afirst = 0, bfirst = 0;

	for (i = 0; i < SHUFFLE_RUNS && (afirst == 0 || bfirst == 0); i++) {
		r = ask(*state, 1, "mx.test", 25, &g);
		assert_status(r, DNS_OK);
		assert_int_equal(r->nhosts, 3);
		assert_string_equal(r->host[2].name, "c.mx.test");
		if (strcmp(r->host[0].name, "a.mx.test") == 0)
			afirst++;
		else {
			assert_string_equal(r->host[0].name, "b.mx.test");
			bfirst++;
		}
	}
	assert_true(afirst > 0);
	assert_true(bfirst > 0);
}

static void
test_mx_many(void **state)
{
	const struct dns_result *r;
	struct got g;
	char	name[64], ip[32];
	int	i;

	r = ask(*state, 1, "many.test", 2525, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->nhosts, DNS_HOSTS_MAX);
	for (i = 0; i < DNS_HOSTS_MAX; i++) {
		(void)snprintf(name, sizeof(name), "h%d.many.test", i + 1);
		(void)snprintf(ip, sizeof(ip), "127.0.1.%d", i + 1);
		assert_host(&r->host[i], name, i + 1, 1);
		assert_addr(&r->host[i].addr[0], ip, 2525);
	}
}

static void
test_mx_dup_and_case(void **state)
{
	const struct dns_result *r;
	struct got g;

	r = ask(*state, 1, "dup.test", 25, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->host[0], "a.mx.test", 10, 1);

	/* names that text cannot hold are no hosts */
	r = ask(*state, 1, "odd.test", 25, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->host[0], "a.mx.test", 30, 1);

	r = ask(*state, 1, "UPPER.Test.", 25, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->host[0], "a.mx.test", 10, 1);
	assert_non_null(strstr(r->why, "upper.test"));
}

/* ------------------------------------------------------------------ */
/* kinds of answers							*/

static void
test_implicit(void **state)
{
	const struct dns_result *r;
	struct got g;

	r = ask(*state, 1, "implicit.test", 2525, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->implicit, 1);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->host[0], "implicit.test", 0, 1);
	assert_addr(&r->host[0].addr[0], "127.0.0.3", 2525);
}

static void
test_nullmx(void **state)
{
	const struct dns_result *r;
	struct got g;

	r = ask(*state, 1, "nullmx.test", 25, &g);
	assert_status(r, DNS_NULLMX);
	assert_int_equal(r->nhosts, 0);
	assert_string_equal(r->why, "nullmx.test: null MX (RFC 7505)");

	/* not alone, or not preference 0: "." is no host, nothing more */
	r = ask(*state, 1, "mixed.test", 25, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->host[0], "a.mx.test", 20, 1);
	r = ask(*state, 1, "notnull.test", 25, &g);
	assert_status(r, DNS_NODATA);
}

static void
test_nxdomain(void **state)
{
	const struct dns_result *r;
	struct got g;

	r = ask(*state, 1, "nosuch.test", 25, &g);
	assert_status(r, DNS_NXDOMAIN);
	assert_int_equal(r->nhosts, 0);
	assert_string_equal(r->why, "nosuch.test: MX lookup: NXDOMAIN");
}

static void
test_nodata(void **state)
{
	static const char *const names[] = {
		"nodata.test",		/* no MX, no address */
		"dangling.test",	/* its one MX host does not exist */
		"notnull.test",		/* "MX 10 ." */
		NULL
	};
	const struct dns_result *r;
	struct got g;
	int	i;

	for (i = 0; names[i] != NULL; i++) {
		r = ask(*state, 1, names[i], 25, &g);
		assert_status(r, DNS_NODATA);
		assert_int_equal(r->nhosts, 0);
		assert_int_equal(strncmp(r->why, names[i], strlen(names[i])),
		    0);
	}
}

/* Hosts that do not exist or have no address are dropped. */
static void
test_partial(void **state)
{
	const struct dns_result *r;
	struct got g;

	r = ask(*state, 1, "partial.test", 25, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->host[0], "c.mx.test", 30, 2);
}

static void
test_tempfail(void **state)
{
	const struct dns_result *r;
	struct got g;

	r = ask(*state, 1, "fail.test", 25, &g);
	assert_status(r, DNS_TEMPFAIL);
	assert_int_equal(r->nhosts, 0);
	assert_int_equal(strncmp(r->why, "fail.test: MX lookup: ", 22), 0);

	r = ask(*state, 1, "allbad.test", 25, &g);
	assert_status(r, DNS_TEMPFAIL);
	assert_int_equal(r->nhosts, 0);
	assert_non_null(strstr(r->why, "fail.test"));

	/* one host failed for now: kept without address for the caller */
	r = ask(*state, 1, "halfbad.test", 25, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->nhosts, 2);
	assert_host(&r->host[0], "x.fail.test", 10, 0);
	assert_host(&r->host[1], "a.mx.test", 20, 1);
	assert_addr(&r->host[1].addr[0], "127.0.0.1", 25);
}

static void
test_invalid_names(void **state)
{
	static const char *const names[] = {
		"", ".", "..", "a..test", ".a.test", "a b.test", "a\n.test",
		"\xc3\xa9.test", "a/b.test", NULL
	};
	const struct dns_result *r;
	struct got g;
	char	long_label[80], long_name[300];
	int	i;

	for (i = 0; names[i] != NULL; i++) {
		r = ask(*state, i % 2, names[i], 25, &g);
		assert_status(r, DNS_NXDOMAIN);
		assert_non_null(strstr(r->why, "invalid domain name"));
		assert_null(strchr(r->why, '\n'));
	}
	memset(long_label, 'a', 64);
	(void)strcpy(long_label + 64, ".test");
	r = ask(*state, 1, long_label, 25, &g);
	assert_status(r, DNS_NXDOMAIN);
	for (i = 0; i < 256; i += 2)
		memcpy(long_name + i, "a.", 2);
	long_name[255] = '\0';	/* 255 characters */
	r = ask(*state, 1, long_name, 25, &g);
	assert_status(r, DNS_NXDOMAIN);
	assert_non_null(strstr(r->why, "invalid domain name"));
	long_name[254] = '\0';	/* 253 and the dot: a name, asked for */
	r = ask(*state, 1, long_name, 25, &g);
	assert_null(strstr(r->why, "invalid"));
}

/* ------------------------------------------------------------------ */
/* dns_host								*/

static void
test_host(void **state)
{
	const struct dns_result *r;
	struct got g;

	r = ask(*state, 0, "c.mx.test.", 465, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->implicit, 0);
	assert_int_equal(r->nhosts, 1);
	assert_host(&r->host[0], "c.mx.test", 0, 2);
	assert_addr(&r->host[0].addr[0], "127.0.0.2", 465);
	assert_addr(&r->host[0].addr[1], "::1", 465);

	/* a host is not a mail domain: no MX lookup */
	r = ask(*state, 0, "mx.test", 25, &g);
	assert_status(r, DNS_NODATA);
	r = ask(*state, 0, "nosuch.test", 25, &g);
	assert_status(r, DNS_NXDOMAIN);
	r = ask(*state, 0, "x.fail.test", 25, &g);
	assert_status(r, DNS_TEMPFAIL);
	assert_non_null(strstr(r->why, "x.fail.test: A"));
}

static void
test_host_addrs_max(void **state)
{
	const struct dns_result *r;
	struct got g;
	size_t	i;

	r = ask(*state, 0, "multi.test", 25, &g);
	assert_status(r, DNS_OK);
	assert_int_equal(r->host[0].naddr, DNS_ADDRS_MAX);
	for (i = 0; i < DNS_ADDRS_MAX; i++)
		assert_int_equal(r->host[0].addr[i].ss.ss_family,
		    i % 2 == 0 ? AF_INET : AF_INET6);
}

/* ------------------------------------------------------------------ */
/* lifetime								*/

/* Cancelled after 0, 1, 2, ... turns of the loop: MX out, addresses out. */
static void
test_cancel(void **state)
{
	struct fx	*fx = *state;
	struct dns_query *q;
	struct got	 g[CANCEL_STEPS], now, sentinel;
	int		 k, j, gone[CANCEL_STEPS];

	for (k = 0; k < CANCEL_STEPS; k++) {
		memset(&g[k], 0, sizeof(g[k]));
		assert_non_null(q = dns_mx(fx->d, "mx.test", 25, got_cb,
		    &g[k]));
		for (j = 0; j < k && g[k].calls == 0; j++)
			assert_true(event_base_loop(fx->base, EVLOOP_ONCE) >=
			    0);
		if ((gone[k] = g[k].calls == 0))
			dns_cancel(q);
	}
	/* answered at once, not yet delivered */
	memset(&now, 0, sizeof(now));
	assert_non_null(q = dns_mx(fx->d, "bad..name", 25, got_cb, &now));
	dns_cancel(q);
	(void)ask(fx, 0, "a.mx.test", 25, &sentinel);
	run(fx->base, NULL, 200);
	assert_int_equal(now.calls, 0);
	for (k = 0; k < CANCEL_STEPS; k++)
		assert_int_equal(g[k].calls, gone[k] ? 0 : 1);
	assert_true(gone[0]);	/* later stages depend on timing */
	dns_cancel(NULL);
}

static void
test_free_in_flight(void **state)
{
	struct fx	*fx = *state;
	struct got	 g[3];
	char		 err[256];
	int		 k, j, before[3];

	for (k = 0; k < 4; k++) {
		memset(g, 0, sizeof(g));
		assert_non_null(dns_mx(fx->d, "mx.test", 25, got_cb, &g[0]));
		assert_non_null(dns_mx(fx->d, "bad..name", 25, got_cb,
		    &g[1]));
		assert_non_null(dns_host(fx->d, "c.mx.test", 25, got_cb,
		    &g[2]));
		for (j = 0; j < k; j++)
			assert_true(event_base_loop(fx->base,
			    EVLOOP_ONCE | EVLOOP_NONBLOCK) >= 0);
		for (j = 0; j < 3; j++)
			before[j] = g[j].calls;
		dns_free(fx->d);
		fx->d = NULL;
		run(fx->base, NULL, 100);
		for (j = 0; j < 3; j++)
			assert_int_equal(g[j].calls, before[j]);
		if (k == 0)
			assert_int_equal(before[0] + before[1] + before[2], 0);
		assert_non_null(fx->d = dns_new(fx->base, srv.resolver, err,
		    sizeof(err)));
	}
}

static void
test_callback_frees_and_asks(void **state)
{
	struct fx	*fx = *state;
	struct got	 g1, g2, g3;

	/* a new query from inside a callback */
	memset(&g2, 0, sizeof(g2));
	memset(&g1, 0, sizeof(g1));
	g1.chain = fx;
	g1.chained = &g2;
	assert_non_null(dns_mx(fx->d, "implicit.test", 25, got_cb, &g1));
	run(fx->base, &g2.calls, WAIT_MS);
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g2.calls, 1);
	assert_status(&g2.res, DNS_OK);

	/* dns_free() inside a callback, with another query out */
	memset(&g1, 0, sizeof(g1));
	memset(&g3, 0, sizeof(g3));
	g1.free_d = fx->d;
	assert_non_null(dns_mx(fx->d, "bad..name", 25, got_cb, &g1));
	assert_non_null(dns_mx(fx->d, "mx.test", 25, got_cb, &g3));
	run(fx->base, &g1.calls, WAIT_MS);
	fx->d = NULL;
	run(fx->base, NULL, 100);
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g3.calls, 0);
}

/* A UDP socket on loopback that never answers; its port in *port. */
static int
black_hole(int *port)
{
	struct sockaddr_in sin;
	socklen_t	 len = sizeof(sin);
	int		 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_DGRAM, 0)) != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Our one child that is not the unbound server: libunbound's process. */
static pid_t
resolver_child(void)
{
	struct dirent	*de;
	DIR		*dir;
	FILE		*fp;
	char		 path[300], buf[512], *p;
	int		 ppid;
	pid_t		 found = -1;

	assert_non_null(dir = opendir("/proc"));
	while ((de = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    atoi(de->d_name) == srv.pid)
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/stat",
		    de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), fp);
		(void)fclose(fp);
		if (p != NULL && (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == getpid()) {
			assert_int_equal(found, -1);
			found = atoi(de->d_name);
		}
	}
	assert_int_equal(closedir(dir), 0);
	return found;
}

/*
 * libunbound's process dies with a query out (to a server that never
 * answers): the query fails for now, and so does every later one.
 */
static void
test_resolver_dies(void **state)
{
	struct fx	*fx = *state;
	struct dns	*d;
	struct got	 g, later;
	char		 resolver[64], err[256];
	int		 hole, port;
	pid_t		 pid;

	hole = black_hole(&port);
	(void)snprintf(resolver, sizeof(resolver), "127.0.0.1@%d", port);
	assert_non_null(d = dns_new(fx->base, resolver, err, sizeof(err)));
	memset(&g, 0, sizeof(g));
	assert_non_null(dns_mx(d, "mx.test", 25, got_cb, &g));
	assert_true((pid = resolver_child()) > 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	run(fx->base, &g.calls, WAIT_MS);
	assert_int_equal(g.calls, 1);
	assert_status(&g.res, DNS_TEMPFAIL);
	assert_int_equal(strncmp(g.res.why, "mx.test: MX lookup: ", 20), 0);

	memset(&later, 0, sizeof(later));
	assert_non_null(dns_host(d, "a.mx.test", 25, got_cb, &later));
	assert_int_equal(later.calls, 0);
	run(fx->base, &later.calls, WAIT_MS);
	assert_status(&later.res, DNS_TEMPFAIL);
	dns_free(d);		/* reaps the dead process */
	assert_int_equal(close(hole), 0);
}

static void
test_new_and_misc(void **state)
{
	struct fx	*fx = *state;
	struct dns	*d;
	struct got	 g;
	char		 err[256];

	/* the system resolver: configured, never asked */
	assert_non_null(d = dns_new(fx->base, "", err, sizeof(err)));
	dns_free(d);
	err[0] = '\0';
	assert_null(dns_new(fx->base, "no-such-address", err, sizeof(err)));
	assert_non_null(strstr(err, "no-such-address"));
	assert_non_null(strstr(err, "ub_ctx_set_fwd"));

	assert_null(dns_mx(fx->d, "mx.test", -1, got_cb, &g));
	assert_null(dns_host(fx->d, "mx.test", 65536, got_cb, &g));
	assert_string_equal(dns_status_str(DNS_OK), "ok");
	assert_string_equal(dns_status_str(DNS_NXDOMAIN), "nxdomain");
	assert_string_equal(dns_status_str(DNS_NODATA), "nodata");
	assert_string_equal(dns_status_str(DNS_NULLMX), "nullmx");
	assert_string_equal(dns_status_str(DNS_TEMPFAIL), "tempfail");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mx_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mx_shuffle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mx_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mx_dup_and_case, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_implicit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nullmx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nxdomain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nodata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tempfail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_invalid_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_addrs_max, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_in_flight, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_callback_frees_and_asks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolver_dies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_new_and_misc, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
