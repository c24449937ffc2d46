/*
 * pinpostd.c - the pinpost mail server: start-up, privileges, signals.
 *
 * SYNOPSIS
 *	pinpostd [-dnv] [-f config]
 *
 * DESCRIPTION
 *	Reads the configuration, loads the certificate and key and runs the
 *	PKP self-check, binds the listeners, then (as root) prepares the
 *	spool and Maildir root for the configured user and drops to it.
 *	One libevent loop serves every session; blocking disk work goes to
 *	one worker thread.  SIGTERM / SIGINT stop cleanly: no new sessions,
 *	commits in progress finish and are answered, the rest get 421.
 *	SIGHUP reloads the configuration and certificates.
 *
 *	-d	stay in the foreground and log to stderr
 *	-n	check the configuration, print the PKP self-check verdict,
 *		exit (0: configuration usable)
 *	-v	log debug lines too (state changes, commands)
 *	-f	configuration file (default /etc/pinpost/pinpost.conf)
 *	-h, --help  the usage on stdout, exit 0
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "check.h"
#include "conf.h"
#include "log.h"
#include "server.h"
#include "tls.h"

#define CONF_DEFAULT	"/etc/pinpost/pinpost.conf"

#define USAGE	"usage: pinpostd [-dnv] [-f config]\n"

/* A bad command line: the synopsis on stderr, exit 2. */
static void
usage(void)
{
	(void)fputs(USAGE, stderr);
	exit(2);
}

/* -h, --help: the synopsis and the options on stdout (pinpostd.8). */
static int
help(void)
{
	if (fputs(USAGE
	    "  -d          stay in the foreground and log to standard error\n"
	    "  -n          check the configuration and the certificate and "
	    "key, print the\n"
	    "              PKP self-check verdict and exit (0: usable, 1: "
	    "not)\n"
	    "  -v          also log debug lines: every state change and "
	    "command verb\n"
	    "  -f config   the configuration file (default " CONF_DEFAULT
	    ")\n"
	    "  -h, --help  this text\n"
	    "Signals: SIGTERM, SIGINT stop; SIGHUP reloads; SIGUSR1 retries "
	    "what\n"
	    "spool_dir/flush/ names (pinpost queue flush).\n"
	    "See pinpostd(8) and pinpost.conf(5).\n", stdout) == EOF ||
	    fflush(stdout) == EOF) {
		fprintf(stderr, "pinpostd: --help: cannot write to stdout\n");
		return 1;
	}
	return 0;
}

/* The directory part of path, for the store's directory. */
static void
dir_of(const char *path, char *buf, size_t len)
{
	char	*slash;

	(void)snprintf(buf, len, "%s", path);
	if ((slash = strrchr(buf, '/')) != NULL && slash != buf)
		*slash = '\0';
	else
		(void)snprintf(buf, len, ".");
}

/* mkdir -p, then give the directory to uid:gid when we are root. */
static void
prepare_dir(const char *path, uid_t uid, gid_t gid, int chown_it)
{
	char	buf[4096], *p;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		log_fatal("%s: path too long", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			log_fatal("%s: cannot create: %s", buf,
			    strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0700) == -1 && errno != EEXIST)
		log_fatal("%s: cannot create: %s", buf, strerror(errno));
	if (chown_it && chown(buf, uid, gid) == -1)
		log_fatal("%s: cannot chown: %s", buf, strerror(errno));
}

static void
drop_privileges(const struct conf *c)
{
	struct passwd *pw;
	int	root = geteuid() == 0;

	char	store_dir[4096];

	dir_of(c->store, store_dir, sizeof(store_dir));
	if (c->user[0] == '\0' || !root) {
		prepare_dir(c->spool_dir, 0, 0, 0);
		prepare_dir(c->maildir_root, 0, 0, 0);
		prepare_dir(store_dir, 0, 0, 0);
		if (root)
			log_warn("user is empty: running as root");
		return;
	}
	if ((pw = getpwnam(c->user)) == NULL)
		log_fatal("user %s: no such user", c->user);
	prepare_dir(c->spool_dir, pw->pw_uid, pw->pw_gid, 1);
	prepare_dir(c->maildir_root, pw->pw_uid, pw->pw_gid, 1);
	prepare_dir(store_dir, pw->pw_uid, pw->pw_gid, 1);
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		log_fatal("cannot drop privileges to %s: %s", c->user,
		    strerror(errno));
	if (setuid(0) != -1)
		log_fatal("privileges not dropped");
	log_info("running as %s uid=%ld", c->user, (long)pw->pw_uid);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	if (sig == SIGHUP) {
		log_info("SIGHUP: reloading");
		server_reload(srv);
		return;
	}
	if (sig == SIGUSR1) {
		server_flush(srv);
		return;
	}
	log_info("signal %d: stopping", (int)sig);
	server_stop(srv);
}

static struct event *
add_signal(struct event_base *base, int sig, struct server *srv)
{
	struct event *ev = evsignal_new(base, sig, signal_cb, srv);

	if (ev == NULL || event_add(ev, NULL) == -1)
		log_fatal("cannot catch signal %d", sig);
	return ev;
}

/* spool_dir/pinpostd.pid: how `pinpost queue flush` finds us. */
static void
write_pidfile(const struct conf *c)
{
	char	path[4096], tmp[4200], flush[4200];
	FILE	*fp;

	(void)snprintf(flush, sizeof(flush), "%s/flush", c->spool_dir);
	if (mkdir(flush, 0700) == -1 && errno != EEXIST)
		log_warn("%s: %s", flush, strerror(errno));
	(void)snprintf(path, sizeof(path), "%s/pinpostd.pid", c->spool_dir);
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* Written whole, then renamed: a reader never sees half a pid. */
	if ((fp = fopen(tmp, "w")) == NULL) {
		log_warn("%s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(fp, "%ld\n", (long)getpid());
	if (fclose(fp) == EOF || rename(tmp, path) == -1)
		log_warn("%s: %s", path, strerror(errno));
}

static void
remove_pidfile(const struct conf *c)
{
	char	path[4096];

	(void)snprintf(path, sizeof(path), "%s/pinpostd.pid", c->spool_dir);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("%s: %s", path, strerror(errno));
}

/* Descriptors for max_connections: raise the soft limit to the hard. */
static void
raise_nofile(const struct conf *c)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			return;
	}
	/* a session takes one descriptor; the rest is queue, store, DNS */
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)c->max_connections + 64 > rl.rlim_cur)
		log_warn("max_connections %lld does not fit the descriptor "
		    "limit %llu", (long long)c->max_connections,
		    (unsigned long long)rl.rlim_cur);
}

static void
run(struct server *srv, int foreground)
{
	struct event *sigs[5];
	char	err[CONF_ERR_MAX];
	size_t	i;

	raise_nofile(srv->ctx.conf);
	if (server_listen(srv, err, sizeof(err)) == -1)
		log_fatal("%s", err);
	if (!foreground) {
		if (daemon(0, 0) == -1)
			log_fatal("daemon: %s", strerror(errno));
		if (event_reinit(srv->ctx.base) == -1)
			log_fatal("event_reinit failed");
	}
	drop_privileges(srv->ctx.conf);
	sigs[0] = add_signal(srv->ctx.base, SIGTERM, srv);
	sigs[1] = add_signal(srv->ctx.base, SIGINT, srv);
	sigs[2] = add_signal(srv->ctx.base, SIGHUP, srv);
	sigs[3] = add_signal(srv->ctx.base, SIGUSR1, srv);
	sigs[4] = NULL;
	if (server_start(srv, err, sizeof(err)) == -1)
		log_fatal("%s", err);
	write_pidfile(srv->ctx.conf);
	log_info("started %s", tls_server_verdict(srv->ctx.tls));
	if (event_base_dispatch(srv->ctx.base) == -1)
		log_warn("event loop failed");
	for (i = 0; sigs[i] != NULL; i++)
		event_free(sigs[i]);
	remove_pidfile(srv->ctx.conf);
	log_info("stopped");
}

int
main(int argc, char **argv)
{
	const char *path = CONF_DEFAULT;
	struct conf *c;
	struct tls_server *ts;
	struct event_base *base;
	struct server *srv;
	char	err[CONF_ERR_MAX];
	int	ch, foreground = 0, check = 0, debug = 0, at_help;

	/* --help is not a getopt option: stop at it among the options */
	while (!(at_help = optind < argc &&
	    strcmp(argv[optind], "--help") == 0) &&
	    (ch = getopt(argc, argv, "df:hnv")) != -1) {
		switch (ch) {
		case 'h':
			return help();
		case 'd':
			foreground = 1;
			break;
		case 'v':
			debug = 1;
			break;
		case 'f':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		default:
			usage();
		}
	}
	if (at_help)
		return help();
	if (optind != argc)
		usage();
	if (check)
		return check_config(path, stdout, stderr);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return 1;
	if (conf_load(path, c, err, sizeof(err)) == -1) {
		fprintf(stderr, "pinpostd: %s\n", err);
		free(c);
		return 1;
	}
	log_init("pinpostd", foreground || strcmp(c->log, "stderr") == 0,
	    debug);
	(void)signal(SIGPIPE, SIG_IGN);
	tls_init();
	if ((ts = tls_server_new(c, err, sizeof(err))) == NULL) {
		fprintf(stderr, "pinpostd: %s\n", err);
		conf_free(c);
		free(c);
		return 1;
	}
	if ((base = event_base_new()) == NULL)
		log_fatal("event_base_new failed");
	if ((srv = server_new(base, path, c, ts, err, sizeof(err))) == NULL)
		log_fatal("%s", err);
	if (tls_server_pkp(ts) == NULL)
		log_warn("%s", tls_server_verdict(ts));
	run(srv, foreground);
	c = srv->ctx.conf;		/* a reload may have replaced it */
	server_free(srv);
	event_base_free(base);
	conf_free(c);
	free(c);
	return 0;
}
