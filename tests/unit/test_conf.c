/*
 * test_conf.c - pinpost.conf: every type's good and bad values, every
 * bound's edges, the syntax (comments, continuations, duplicates, unknown
 * names, long lines), the "FILE:LINE: problem" diagnostics, the
 * print -> load round trip, conf_list_has() and conf_net_match().
 *
 * Each rule is a row of a table.  A row's text is written to a file in a
 * fresh directory; expected diagnostics start with that file's name.  The
 * bounds here are copied from the contract (conf.h, pinpost.conf(5)), not
 * from conf.c, so a changed bound fails a test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cmocka.h>

#include "conf.h"
#include "testutil.h"

static char	*dir;		/* per test group */
static char	 path[1024];	/* the last file written */

static int
group_setup(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	return dir == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	tu_rmrf(dir);
	free(dir);
	return 0;
}

/* len bytes of text into DIR/name; sets path */
static const char *
write_file(const char *name, const char *text, size_t len)
{
	FILE	*fp;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static int
load_text(const char *text, struct conf *c, char *err, size_t errlen)
{
	return conf_load(write_file("t.conf", text, strlen(text)), c, err,
	    errlen);
}

/* conf_print() of the whole struct; malloc'd */
static char *
print_all(const struct conf *c)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	conf_print(fp, c);
	assert_int_equal(ferror(fp), 0);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

/* what conf_print() writes after "name =" (without the space); malloc'd */
static char *
printed(const struct conf *c, const char *name)
{
	char	*all = print_all(c), *line, *save = NULL, *out = NULL;
	size_t	 n = strlen(name);

	for (line = strtok_r(all, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, name, n) != 0 || strncmp(line + n, " =", 2))
			continue;
		out = strdup(line[n + 2] == ' ' ? line + n + 3 : line + n + 2);
		break;
	}
	free(all);
	assert_non_null(out);
	return out;
}

/* ------------------------------------------------------------------ */
/* rows: text -> the value printed back, or text -> line and problem    */

struct good_row {
	const char	*text;
	const char	*name;
	const char	*want;		/* as conf_print() writes it */
};

struct bad_row {
	const char	*text;
	int		 line;
	const char	*msg;		/* after "FILE:LINE: " */
};

static int
run_good(size_t i, const struct good_row *r)
{
	char		 err[CONF_ERR_MAX] = "";
	struct conf	 c;
	char		*got;
	int		 bad;

	if (load_text(r->text, &c, err, sizeof(err)) != 0) {
		print_error("row %zu: \"%s\": %s\n", i, r->text, err);
		return 1;
	}
	got = printed(&c, r->name);
	if ((bad = strcmp(got, r->want) != 0))
		print_error("row %zu: \"%s\"\n   got: %s = %s\n  want: %s = "
		    "%s\n", i, r->text, r->name, got, r->name, r->want);
	free(got);
	conf_free(&c);
	return bad;
}

static int
run_bad(size_t i, const struct bad_row *r)
{
	char		 err[CONF_ERR_MAX] = "", want[CONF_ERR_MAX + 1024];
	struct conf	 c, zero;
	int		 rc;

	rc = load_text(r->text, &c, err, sizeof(err));
	(void)snprintf(want, sizeof(want), "%s:%d: %s", path, r->line, r->msg);
	memset(&zero, 0, sizeof(zero));
	if (rc == -1 && strcmp(err, want) == 0 &&
	    memcmp(&c, &zero, sizeof(c)) == 0)
		return 0;
	print_error("row %zu: \"%s\"\n   got: %d \"%s\"\n  want: -1 \"%s\"\n",
	    i, r->text, rc, err, want);
	if (rc == 0)
		conf_free(&c);
	return 1;
}

#define NROWS(t)	(sizeof(t) / sizeof((t)[0]))

static void
run_good_table(const struct good_row *rows, size_t n)
{
	size_t	 i;
	int	 fails = 0;

	for (i = 0; i < n; i++)
		fails += run_good(i, &rows[i]);
	assert_int_equal(fails, 0);
}

static void
run_bad_table(const struct bad_row *rows, size_t n)
{
	size_t	 i;
	int	 fails = 0;

	for (i = 0; i < n; i++)
		fails += run_bad(i, &rows[i]);
	assert_int_equal(fails, 0);
}

/* ------------------------------------------------------------------ */
/* defaults                                                             */

static void
assert_list(const struct conf_list *l, const char *const *want)
{
	size_t	 i;

	for (i = 0; want[i] != NULL; i++) {
		assert_true(i < l->n);
		assert_string_equal(l->v[i], want[i]);
	}
	assert_int_equal(l->n, i);
}

static void
assert_defaults(const struct conf *c)
{
	static const char *const none[] = { NULL };
	static const char *const listen[] = {
		"127.0.0.1:25", "[::1]:25", NULL
	};
	static const char *const localhost[] = { "localhost", NULL };
	static const char *const relay[] = { "127.0.0.0/8", "::1/128", NULL };

	assert_string_equal(c->user, "pinpost");
	assert_string_equal(c->spool_dir, "/var/spool/pinpost");
	assert_string_equal(c->store, "/var/lib/pinpost/pins.tdb");
	assert_string_equal(c->log, "syslog");
	assert_list(&c->listen, listen);
	assert_list(&c->listen_tls, none);
	assert_string_equal(c->tls_cert_file, "/etc/pinpost/cert.pem");
	assert_string_equal(c->tls_key_file, "/etc/pinpost/key.pem");
	assert_int_equal(c->pkp_enable, 1);
	assert_list(&c->pkp_backup_pins, none);
	assert_int_equal(c->pkp_max_age, 259200);
	assert_string_equal(c->pkp_format, "single");
	assert_int_equal(c->stsec_enable, 1);
	assert_int_equal(c->stsec_max_age, 31536000);
	assert_int_equal(c->message_size_limit, 10240000);
	assert_int_equal(c->recipient_limit, 1000);
	assert_int_equal(c->max_connections, 100);
	assert_int_equal(c->max_connections_per_ip, 10);
	assert_int_equal(c->max_errors, 10);
	assert_int_equal(c->command_timeout, 300);
	assert_int_equal(c->data_timeout, 180);
	assert_int_equal(c->data_min_rate, 500);
	assert_list(&c->local_domains, localhost);
	assert_string_equal(c->maildir_root, "/var/mail/pinpost");
	assert_list(&c->mailboxes, none);
	assert_list(&c->relay_networks, relay);
	assert_string_equal(c->tls_level, "may");
	assert_string_equal(c->pkp_mode, "enforce");
	assert_int_equal(c->pkp_cap, 5184000);
	assert_int_equal(c->stsec_cap, 31536000);
}

static void
test_defaults(void **state)
{
	struct conf	 c;
	char		 host[300], err[CONF_ERR_MAX] = "";

	(void)state;
	conf_defaults(&c);
	assert_defaults(&c);
	if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0')
		assert_string_equal(c.myhostname, host);
	else
		assert_string_equal(c.myhostname, "localhost");
	conf_free(&c);

	/* an empty file, or one of comments, is the defaults */
	assert_int_equal(load_text("", &c, err, sizeof(err)), 0);
	assert_defaults(&c);
	conf_free(&c);
	assert_int_equal(load_text("# nothing\n\n   \n", &c, err,
	    sizeof(err)), 0);
	assert_defaults(&c);
	conf_free(&c);
	conf_free(&c);		/* again: harmless */
}

/* ------------------------------------------------------------------ */
/* values                                                               */

static const struct good_row good_values[] = {
	/* BOOL */
	{ "pkp_enable = yes", "pkp_enable", "yes" },
	{ "pkp_enable = no", "pkp_enable", "no" },
	{ "pkp_enable = true", "pkp_enable", "yes" },
	{ "pkp_enable = false", "pkp_enable", "no" },
	{ "pkp_enable = 1", "pkp_enable", "yes" },
	{ "pkp_enable = 0", "pkp_enable", "no" },
	{ "pkp_enable = YES", "pkp_enable", "yes" },
	{ "stsec_enable = False", "stsec_enable", "no" },
	/* INT */
	{ "recipient_limit = 5000", "recipient_limit", "5000" },
	{ "recipient_limit = 00100", "recipient_limit", "100" },
	{ "max_errors = 3", "max_errors", "3" },
	/* DURATION: default unit s; s m h d, either case */
	{ "command_timeout = 10", "command_timeout", "10s" },
	{ "command_timeout = 10s", "command_timeout", "10s" },
	{ "command_timeout = 2m", "command_timeout", "120s" },
	{ "command_timeout = 1h", "command_timeout", "3600s" },
	{ "command_timeout = 1H", "command_timeout", "3600s" },
	{ "data_timeout = 3m", "data_timeout", "180s" },
	{ "pkp_max_age = 60d", "pkp_max_age", "5184000s" },
	{ "pkp_max_age = 0", "pkp_max_age", "0s" },
	{ "stsec_max_age = 365d", "stsec_max_age", "31536000s" },
	{ "pkp_cap = 0s", "pkp_cap", "0s" },
	{ "stsec_cap = 730d", "stsec_cap", "63072000s" },
	/* SIZE: bytes; k m, 1024-based, either case */
	{ "message_size_limit = 123456", "message_size_limit", "123456" },
	{ "message_size_limit = 64k", "message_size_limit", "65536" },
	{ "message_size_limit = 10m", "message_size_limit", "10485760" },
	{ "message_size_limit = 10M", "message_size_limit", "10485760" },
	{ "message_size_limit = 2048m", "message_size_limit", "2147483648" },
	{ "message_size_limit = 2097152K", "message_size_limit",
	    "2147483648" },
	/* ENUM: either case, printed as the word */
	{ "log = stderr", "log", "stderr" },
	{ "log = SYSLOG", "log", "syslog" },
	{ "pkp_format = multi", "pkp_format", "multi" },
	{ "tls_level = none", "tls_level", "none" },
	{ "tls_level = encrypt", "tls_level", "encrypt" },
	{ "tls_level = May", "tls_level", "may" },
	{ "pkp_mode = report", "pkp_mode", "report" },
	/* STRING */
	{ "user =", "user", "" },
	{ "user = mail", "user", "mail" },
	{ "myhostname = mx-1.Example.org", "myhostname", "mx-1.Example.org" },
	{ "tls_key_file = /a b/key.pem", "tls_key_file", "/a b/key.pem" },
	{ "tls_cert_file =", "tls_cert_file", "" },
	{ "spool_dir = spool", "spool_dir", "spool" },
	/* LIST */
	{ "listen =", "listen", "" },
	{ "listen = 0.0.0.0:2525", "listen", "0.0.0.0:2525" },
	{ "listen = [::]:587,127.0.0.1:1", "listen", "[::]:587, 127.0.0.1:1" },
	{ "listen = , 127.0.0.1:65535,,\t", "listen", "127.0.0.1:65535" },
	{ "listen = [2001:db8::1]:25", "listen", "[2001:db8::1]:25" },
	{ "listen = [::ffff:127.0.0.1]:25", "listen", "[::ffff:127.0.0.1]:25" },
	{ "listen_tls = [::1]:465 127.0.0.1:465", "listen_tls",
	    "[::1]:465, 127.0.0.1:465" },
	{ "local_domains = Example.ORG, LOCALHOST", "local_domains",
	    "example.org, localhost" },
	{ "local_domains =", "local_domains", "" },
	{ "mailboxes = Bob@Example.org, a@b", "mailboxes",
	    "bob@example.org, a@b" },
	{ "relay_networks = 10.0.0.0/8 192.168.1.1 0.0.0.0/0 10.1.2.3/32",
	    "relay_networks", "10.0.0.0/8, 192.168.1.1, 0.0.0.0/0, "
	    "10.1.2.3/32" },
	{ "relay_networks = ::/0, 2001:db8::/32 ::ffff:10.0.0.0/104 ::1",
	    "relay_networks", "::/0, 2001:db8::/32, ::ffff:10.0.0.0/104, ::1" },
	{ "relay_networks =", "relay_networks", "" },
	{ "pkp_backup_pins = AAA=,/etc/x.pem", "pkp_backup_pins",
	    "AAA=, /etc/x.pem" },
};

static const struct bad_row bad_values[] = {
	/* BOOL */
	{ "pkp_enable = maybe", 1, "pkp_enable: \"maybe\" is not yes or no" },
	{ "pkp_enable =", 1, "pkp_enable: \"\" is not yes or no" },
	{ "stsec_enable = 2", 1, "stsec_enable: \"2\" is not yes or no" },
	{ "stsec_enable = yess", 1, "stsec_enable: \"yess\" is not yes or no" },
	/* INT */
	{ "recipient_limit = 5", 1,
	    "recipient_limit: 5 is below the minimum 100" },
	{ "recipient_limit = -5", 1,
	    "recipient_limit: -5 is below the minimum 100" },
	{ "recipient_limit = 99999999999999999999999", 1,
	    "recipient_limit: 99999999999999999999999 is above the maximum "
	    "100000" },
	{ "recipient_limit = -99999999999999999999999", 1,
	    "recipient_limit: -99999999999999999999999 is below the minimum "
	    "100" },
	{ "recipient_limit = 1k", 1, "recipient_limit: \"1k\" is not a number" },
	{ "recipient_limit = 1 000", 1,
	    "recipient_limit: \"1 000\" is not a number" },
	{ "recipient_limit = +200", 1,
	    "recipient_limit: \"+200\" is not a number" },
	{ "recipient_limit = 0x100", 1,
	    "recipient_limit: \"0x100\" is not a number" },
	{ "recipient_limit =", 1, "recipient_limit: \"\" is not a number" },
	{ "recipient_limit = -", 1, "recipient_limit: \"-\" is not a number" },
	{ "max_errors = ten", 1, "max_errors: \"ten\" is not a number" },
	/* DURATION */
	{ "command_timeout = 9s", 1,
	    "command_timeout: 9s is below the minimum 10s" },
	{ "command_timeout = 61m", 1,
	    "command_timeout: 61m is above the maximum 3600s" },
	{ "data_timeout = 2h", 1,
	    "data_timeout: 2h is above the maximum 3600s" },
	{ "pkp_max_age = 61d", 1,
	    "pkp_max_age: 61d is above the maximum 5184000s" },
	{ "pkp_max_age = -1s", 1, "pkp_max_age: -1s is below the minimum 0s" },
	{ "stsec_max_age = 99999999999999999d", 1,
	    "stsec_max_age: 99999999999999999d is above the maximum "
	    "31536000s" },
	{ "command_timeout = 5x", 1,
	    "command_timeout: \"5x\" is not a duration" },
	{ "command_timeout = s", 1,
	    "command_timeout: \"s\" is not a duration" },
	{ "command_timeout = 10ss", 1,
	    "command_timeout: \"10ss\" is not a duration" },
	{ "command_timeout = 1.5m", 1,
	    "command_timeout: \"1.5m\" is not a duration" },
	{ "command_timeout = 1w", 1,
	    "command_timeout: \"1w\" is not a duration" },
	{ "data_timeout =", 1, "data_timeout: \"\" is not a duration" },
	/* SIZE */
	{ "message_size_limit = 12x", 1,
	    "message_size_limit: \"12x\" is not a size" },
	{ "message_size_limit = 10g", 1,
	    "message_size_limit: \"10g\" is not a size" },
	{ "message_size_limit = 10kb", 1,
	    "message_size_limit: \"10kb\" is not a size" },
	{ "message_size_limit = 10s", 1,
	    "message_size_limit: \"10s\" is not a size" },
	{ "message_size_limit = k", 1,
	    "message_size_limit: \"k\" is not a size" },
	{ "message_size_limit = 63k", 1,
	    "message_size_limit: 63k is below the minimum 65536" },
	{ "message_size_limit = 2049m", 1,
	    "message_size_limit: 2049m is above the maximum 2147483648" },
	{ "message_size_limit = 99999999999999999999m", 1,
	    "message_size_limit: 99999999999999999999m is above the maximum "
	    "2147483648" },
	/* ENUM */
	{ "log = file", 1, "log: \"file\" is not one of syslog, stderr" },
	{ "log =", 1, "log: \"\" is not one of syslog, stderr" },
	{ "pkp_format = double", 1,
	    "pkp_format: \"double\" is not one of single, multi" },
	{ "tls_level = required", 1,
	    "tls_level: \"required\" is not one of none, may, encrypt" },
	{ "pkp_mode = off", 1, "pkp_mode: \"off\" is not one of enforce, "
	    "report" },
	/* STRING */
	{ "myhostname =", 1, "myhostname: \"\" is not a host name" },
	{ "myhostname = mx example.org", 1,
	    "myhostname: \"mx example.org\" is not a host name" },
	{ "myhostname = mx/1", 1, "myhostname: \"mx/1\" is not a host name" },
	{ "spool_dir =", 1, "spool_dir: \"\" must not be empty" },
	{ "store =", 1, "store: \"\" must not be empty" },
	{ "maildir_root =", 1, "maildir_root: \"\" must not be empty" },
	/* LIST: listen, listen_tls */
	{ "listen = 1.2.3.4", 1, "listen: \"1.2.3.4\" is not ADDR:PORT" },
	{ "listen = 1.2.3.4:0", 1, "listen: \"1.2.3.4:0\" is not ADDR:PORT" },
	{ "listen = 1.2.3.4:65536", 1,
	    "listen: \"1.2.3.4:65536\" is not ADDR:PORT" },
	{ "listen = 1.2.3.4:", 1, "listen: \"1.2.3.4:\" is not ADDR:PORT" },
	{ "listen = 1.2.3.4:2x", 1, "listen: \"1.2.3.4:2x\" is not ADDR:PORT" },
	{ "listen = 1.2.3.4:+25", 1,
	    "listen: \"1.2.3.4:+25\" is not ADDR:PORT" },
	{ "listen = :25", 1, "listen: \":25\" is not ADDR:PORT" },
	{ "listen = ::1:25", 1, "listen: \"::1:25\" is not ADDR:PORT" },
	{ "listen = [::1]25", 1, "listen: \"[::1]25\" is not ADDR:PORT" },
	{ "listen = [::1]:", 1, "listen: \"[::1]:\" is not ADDR:PORT" },
	{ "listen = [::1:25", 1, "listen: \"[::1:25\" is not ADDR:PORT" },
	{ "listen = [::1]:99999999", 1,
	    "listen: \"[::1]:99999999\" is not ADDR:PORT" },
	{ "listen = [1.2.3.4]:25", 1,
	    "listen: \"[1.2.3.4]:25\" is not ADDR:PORT" },
	{ "listen = localhost:25", 1,
	    "listen: \"localhost:25\" is not ADDR:PORT" },
	{ "listen = 256.1.1.1:25", 1,
	    "listen: \"256.1.1.1:25\" is not ADDR:PORT" },
	{ "listen = 127.0.0.1:25, 1.2.3.4 [::1]:25", 1,
	    "listen: \"1.2.3.4\" is not ADDR:PORT" },
	{ "listen_tls = [::1]", 1, "listen_tls: \"[::1]\" is not ADDR:PORT" },
	/* LIST: relay_networks */
	{ "relay_networks = 10.0.0.0/33", 1, "relay_networks: \"10.0.0.0/33\" "
	    "is not a network (ADDR or ADDR/LEN)" },
	{ "relay_networks = ::/129", 1, "relay_networks: \"::/129\" "
	    "is not a network (ADDR or ADDR/LEN)" },
	{ "relay_networks = 10.0.0.0/", 1, "relay_networks: \"10.0.0.0/\" "
	    "is not a network (ADDR or ADDR/LEN)" },
	{ "relay_networks = 10.0.0.0/-1", 1, "relay_networks: \"10.0.0.0/-1\" "
	    "is not a network (ADDR or ADDR/LEN)" },
	{ "relay_networks = 10.0.0.0/8x", 1, "relay_networks: \"10.0.0.0/8x\" "
	    "is not a network (ADDR or ADDR/LEN)" },
	{ "relay_networks = 10.0.0/8", 1, "relay_networks: \"10.0.0/8\" "
	    "is not a network (ADDR or ADDR/LEN)" },
	{ "relay_networks = /8", 1, "relay_networks: \"/8\" "
	    "is not a network (ADDR or ADDR/LEN)" },
	{ "relay_networks = localhost", 1, "relay_networks: \"localhost\" "
	    "is not a network (ADDR or ADDR/LEN)" },
	{ "relay_networks = 10.0.0.1/8", 1,
	    "relay_networks: \"10.0.0.1/8\" has host bits set" },
	{ "relay_networks = 2001:db8::1/64", 1,
	    "relay_networks: \"2001:db8::1/64\" has host bits set" },
	{ "relay_networks = 0.0.0.1/0", 1,
	    "relay_networks: \"0.0.0.1/0\" has host bits set" },
	/* LIST: mailboxes, local_domains (shown as written) */
	{ "mailboxes = Bob", 1, "mailboxes: \"Bob\" is not user@domain" },
	{ "mailboxes = @example.org", 1,
	    "mailboxes: \"@example.org\" is not user@domain" },
	{ "mailboxes = bob@", 1, "mailboxes: \"bob@\" is not user@domain" },
	{ "mailboxes = a@b@c", 1, "mailboxes: \"a@b@c\" is not user@domain" },
	{ "local_domains = Bob@Example.org", 1,
	    "local_domains: \"Bob@Example.org\" is not a domain" },
	/* a value in a diagnostic: printable, at most 64 characters */
	{ "log = a\001b", 1, "log: \"a?b\" is not one of syslog, stderr" },
	{ "log = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxx", 1, "log: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxx...\" is not one of syslog, stderr" },
};

static void
test_good_values(void **state)
{
	(void)state;
	run_good_table(good_values, NROWS(good_values));
}

static void
test_bad_values(void **state)
{
	(void)state;
	run_bad_table(bad_values, NROWS(bad_values));
}

/* ------------------------------------------------------------------ */
/* bounds: min-1 fails, min and max are good, max+1 fails               */

struct bound_row {
	const char	*name;
	char		 kind;		/* i: INT, d: DURATION, s: SIZE */
	long long	 min, max;
};

static const struct bound_row bound_rows[] = {
	{ "pkp_max_age", 'd', 0, 5184000 },
	{ "stsec_max_age", 'd', 0, 31536000 },
	{ "message_size_limit", 's', 65536, 2147483648LL },
	{ "recipient_limit", 'i', 100, 100000 },
	{ "max_connections", 'i', 1, 100000 },
	{ "max_connections_per_ip", 'i', 1, 100000 },
	{ "max_errors", 'i', 1, 1000 },
	{ "command_timeout", 'd', 10, 3600 },
	{ "data_timeout", 'd', 10, 3600 },
	{ "data_min_rate", 'i', 1, 1000000000 },
	{ "pkp_cap", 'd', 0, 31536000 },
	{ "stsec_cap", 'd', 0, 63072000 },
};

static int
run_bound(const struct bound_row *b, long long v)
{
	const char	*unit = b->kind == 'd' ? "s" : "";
	char		 text[128], want[128], msg[256];
	struct good_row	 g = { text, b->name, want };
	struct bad_row	 r = { text, 1, msg };

	(void)snprintf(text, sizeof(text), "%s = %lld", b->name, v);
	(void)snprintf(want, sizeof(want), "%lld%s", v, unit);
	if (v < b->min)
		(void)snprintf(msg, sizeof(msg), "%s: %lld is below the "
		    "minimum %lld%s", b->name, v, b->min, unit);
	else if (v > b->max)
		(void)snprintf(msg, sizeof(msg), "%s: %lld is above the "
		    "maximum %lld%s", b->name, v, b->max, unit);
	else
		return run_good(0, &g);
	return run_bad(0, &r);
}

static void
test_bounds(void **state)
{
	const struct bound_row	*b;
	size_t			 i;
	int			 fails = 0;

	(void)state;
	for (i = 0; i < NROWS(bound_rows); i++) {
		b = &bound_rows[i];
		fails += run_bound(b, b->min - 1);
		fails += run_bound(b, b->min);
		fails += run_bound(b, b->max);
		fails += run_bound(b, b->max + 1);
	}
	assert_int_equal(fails, 0);
}

/* ------------------------------------------------------------------ */
/* syntax                                                               */

static const struct good_row good_syntax[] = {
	{ "user=bob", "user", "bob" },
	{ "user   =    bob   \t", "user", "bob" },
	{ "user = bob\r\n", "user", "bob" },
	{ "user = a#b", "user", "a#b" },
	{ "user = a = b", "user", "a = b" },
	{ "# comment\n\n   # indented comment\nuser = bob\n", "user", "bob" },
	{ "local_domains = a.org,\n  b.org\n\tc.org\n", "local_domains",
	    "a.org, b.org, c.org" },
	{ "local_domains = a.org\n# between\n\n  b.org\n", "local_domains",
	    "a.org, b.org" },
	{ "local_domains = a.org\n    # indented, between\n  b.org\n",
	    "local_domains", "a.org, b.org" },
	{ "local_domains =\n  a.org\n", "local_domains", "a.org" },
	{ "user = a\n  b\n\t c\n", "user", "a b c" },
	{ "recipient_limit =\n  200\n", "recipient_limit", "200" },
	{ "pkp_enable = no\nuser = x", "pkp_enable", "no" },
	{ "user = x\npkp_enable = no", "pkp_enable", "no" },
	{ "user = x\r\npkp_enable = no\r\n", "pkp_enable", "no" },
};

static const struct bad_row bad_syntax[] = {
	{ "foo = bar", 1, "unknown parameter \"foo\"" },
	{ "User = bob", 1, "unknown parameter \"User\"" },
	{ "# c\n\nfoo = 1\n", 3, "unknown parameter \"foo\"" },
	{ "user = x\r\nfoo = 1\r\n", 2, "unknown parameter \"foo\"" },
	{ "user = a\nuser = b", 2, "duplicate parameter \"user\"" },
	{ "user = a\n# c\n\nspool_dir = /x\nuser = a\n", 5,
	    "duplicate parameter \"user\"" },
	{ "just words", 1, "expected name = value" },
	{ "= value", 1, "expected name = value" },
	{ "two words = x", 1, "expected name = value" },
	{ "user = ok\nnot a setting\n", 2, "expected name = value" },
	{ "  continued", 1, "continuation line without a parameter" },
	{ "# c\n\n  continued\n", 3, "continuation line without a parameter" },
	/* a continued value's problem is reported at its name's line */
	{ "recipient_limit = 100\n  200\n", 1,
	    "recipient_limit: \"100 200\" is not a number" },
	{ "user = a\n\n# x\nrecipient_limit =\n  5\n", 4,
	    "recipient_limit: 5 is below the minimum 100" },
	/* the first problem wins */
	{ "recipient_limit = 5\nfoo = 1\n", 1,
	    "recipient_limit: 5 is below the minimum 100" },
	{ "user = ok\nlisten = 1.2.3.4", 2,
	    "listen: \"1.2.3.4\" is not ADDR:PORT" },
};

static void
test_good_syntax(void **state)
{
	(void)state;
	run_good_table(good_syntax, NROWS(good_syntax));
}

static void
test_bad_syntax(void **state)
{
	(void)state;
	run_bad_table(bad_syntax, NROWS(bad_syntax));
}

/* "user = " and n - 7 more characters: a line of n characters */
static char *
long_line(const char *before, size_t n, const char *after)
{
	size_t	 b = strlen(before), a = strlen(after);
	char	*s = malloc(b + n + a + 1);

	assert_non_null(s);
	memcpy(s, before, b);
	memcpy(s + b, "user = ", 7);
	memset(s + b + 7, 'x', n - 7);
	memcpy(s + b + n, after, a + 1);
	return s;
}

static void
test_long_lines(void **state)
{
	char		 err[CONF_ERR_MAX] = "", want[CONF_ERR_MAX + 1024];
	struct conf	 c;
	char		*text;

	(void)state;
	text = long_line("", 4096, "\n");
	assert_int_equal(load_text(text, &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.user), 4096 - 7);
	conf_free(&c);
	free(text);

	text = long_line("", 4096, "");		/* no newline at the end */
	assert_int_equal(load_text(text, &c, err, sizeof(err)), 0);
	conf_free(&c);
	free(text);

	text = long_line("# a\n\n", 4097, "\n");
	assert_int_equal(load_text(text, &c, err, sizeof(err)), -1);
	(void)snprintf(want, sizeof(want), "%s:3: line too long (more than "
	    "4096 characters)", path);
	assert_string_equal(err, want);
	free(text);
}

/* pkp_backup_pins = A, then n continuation lines " xxx...": each adds
 * a separator and 4095 characters to the value */
static char *
long_value(size_t n)
{
	char	*s = malloc(32 + n * 4098), *p;
	size_t	 i;

	assert_non_null(s);
	p = s + sprintf(s, "pkp_backup_pins = A\n");
	for (i = 0; i < n; i++) {
		*p++ = ' ';
		memset(p, 'x', 4095);
		p += 4095;
		*p++ = '\n';
	}
	*p = '\0';
	return s;
}

static void
test_long_value(void **state)
{
	char		 err[CONF_ERR_MAX] = "", want[CONF_ERR_MAX + 1024];
	struct conf	 c;
	char		*text;

	(void)state;
	/* 1 + 15 * (1 + 4095) = 61441: good */
	text = long_value(15);
	assert_int_equal(load_text(text, &c, err, sizeof(err)), 0);
	assert_int_equal(c.pkp_backup_pins.n, 16);
	conf_free(&c);
	free(text);

	/* the 16th continuation (line 17) makes 65537 */
	text = long_value(16);
	assert_int_equal(load_text(text, &c, err, sizeof(err)), -1);
	(void)snprintf(want, sizeof(want), "%s:17: value too long (more than "
	    "65536 characters)", path);
	assert_string_equal(err, want);
	free(text);
}

static void
test_nul(void **state)
{
	static const char text[] = "user = a\nuser\0x = b\n";
	char		 err[CONF_ERR_MAX] = "", want[CONF_ERR_MAX + 1024];
	struct conf	 c;

	(void)state;
	write_file("nul.conf", text, sizeof(text) - 1);
	assert_int_equal(conf_load(path, &c, err, sizeof(err)), -1);
	(void)snprintf(want, sizeof(want), "%s:2: NUL character", path);
	assert_string_equal(err, want);
}

/* ------------------------------------------------------------------ */
/* files, and what a failure leaves                                     */

static void
test_open_errors(void **state)
{
	char		 p[1100], err[CONF_ERR_MAX] = "";
	char		 want[CONF_ERR_MAX + 1200];
	struct conf	 c, zero;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	(void)snprintf(p, sizeof(p), "%s/missing.conf", dir);
	assert_int_equal(conf_load(p, &c, err, sizeof(err)), -1);
	(void)snprintf(want, sizeof(want), "%s: cannot open: %s", p,
	    strerror(ENOENT));
	assert_string_equal(err, want);
	assert_memory_equal(&c, &zero, sizeof(c));

	assert_int_equal(conf_load(dir, &c, err, sizeof(err)), -1);
	(void)snprintf(want, sizeof(want), "%s: read error: %s", dir,
	    strerror(EISDIR));
	assert_string_equal(err, want);
	assert_memory_equal(&c, &zero, sizeof(c));

	if (geteuid() != 0) {		/* root reads anything */
		write_file("noperm.conf", "user = x\n", 9);
		assert_int_equal(chmod(path, 0), 0);
		assert_int_equal(conf_load(path, &c, err, sizeof(err)), -1);
		(void)snprintf(want, sizeof(want), "%s: cannot open: %s",
		    path, strerror(EACCES));
		assert_string_equal(err, want);
	}
}

static void
test_failure_leaves_nothing(void **state)
{
	static const char text[] =
	    "myhostname = mx.example.org\n"
	    "listen = 127.0.0.1:2525, [::1]:2525\n"
	    "mailboxes = a@example.org b@example.org\n"
	    "log = stderr\n"
	    "relay_networks = 10.0.0.0/8\n"
	    "local_domains = example.org, 192.0.2.1/33 bob@x\n";
	char		 err[CONF_ERR_MAX] = "", small[16];
	struct conf	 c, zero;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	memset(&c, 0xa5, sizeof(c));		/* not zero to begin with */
	assert_int_equal(load_text(text, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":6: local_domains: \"bob@x\""));
	assert_memory_equal(&c, &zero, sizeof(c));
	conf_free(&c);				/* harmless */

	/* no room, or little room, for the diagnostic */
	assert_int_equal(load_text(text, &c, NULL, 0), -1);
	assert_int_equal(load_text(text, &c, small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(&c, &zero, sizeof(c));
}

/* ------------------------------------------------------------------ */
/* print -> load gives the same struct                                  */

static void
assert_list_equal(const struct conf_list *a, const struct conf_list *b)
{
	size_t	 i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_string_equal(a->v[i], b->v[i]);
}

static void
assert_conf_equal(const struct conf *a, const struct conf *b)
{
	assert_string_equal(a->myhostname, b->myhostname);
	assert_string_equal(a->user, b->user);
	assert_string_equal(a->spool_dir, b->spool_dir);
	assert_string_equal(a->store, b->store);
	assert_string_equal(a->log, b->log);
	assert_list_equal(&a->listen, &b->listen);
	assert_list_equal(&a->listen_tls, &b->listen_tls);
	assert_string_equal(a->tls_cert_file, b->tls_cert_file);
	assert_string_equal(a->tls_key_file, b->tls_key_file);
	assert_int_equal(a->pkp_enable, b->pkp_enable);
	assert_list_equal(&a->pkp_backup_pins, &b->pkp_backup_pins);
	assert_int_equal(a->pkp_max_age, b->pkp_max_age);
	assert_string_equal(a->pkp_format, b->pkp_format);
	assert_int_equal(a->stsec_enable, b->stsec_enable);
	assert_int_equal(a->stsec_max_age, b->stsec_max_age);
	assert_int_equal(a->message_size_limit, b->message_size_limit);
	assert_int_equal(a->recipient_limit, b->recipient_limit);
	assert_int_equal(a->max_connections, b->max_connections);
	assert_int_equal(a->max_connections_per_ip, b->max_connections_per_ip);
	assert_int_equal(a->max_errors, b->max_errors);
	assert_int_equal(a->command_timeout, b->command_timeout);
	assert_int_equal(a->data_timeout, b->data_timeout);
	assert_int_equal(a->data_min_rate, b->data_min_rate);
	assert_list_equal(&a->local_domains, &b->local_domains);
	assert_string_equal(a->maildir_root, b->maildir_root);
	assert_list_equal(&a->mailboxes, &b->mailboxes);
	assert_list_equal(&a->relay_networks, &b->relay_networks);
	assert_string_equal(a->tls_level, b->tls_level);
	assert_string_equal(a->pkp_mode, b->pkp_mode);
	assert_int_equal(a->pkp_cap, b->pkp_cap);
	assert_int_equal(a->stsec_cap, b->stsec_cap);
}

/* print a, load that back, compare */
static void
round_trip(const struct conf *a)
{
	char		 err[CONF_ERR_MAX] = "";
	char		*text = print_all(a), *again;
	struct conf	 b;

	if (load_text(text, &b, err, sizeof(err)) != 0)
		fail_msg("%s\n%s", err, text);
	assert_conf_equal(a, &b);
	again = print_all(&b);
	assert_string_equal(text, again);
	free(again);
	free(text);
	conf_free(&b);
}

static const char every_param[] =
    "myhostname = mx.example.org\n"
    "user =\n"
    "spool_dir = /tmp/spool\n"
    "store = /tmp/pins.tdb\n"
    "log = stderr\n"
    "listen = 0.0.0.0:2525 [::]:2525\n"
    "listen_tls = 127.0.0.1:465\n"
    "tls_cert_file = /tmp/c.pem\n"
    "tls_key_file =\n"
    "pkp_enable = no\n"
    "pkp_backup_pins = AAAA=, /etc/pinpost/backup.csr\n"
    "pkp_max_age = 1d\n"
    "pkp_format = multi\n"
    "stsec_enable = false\n"
    "stsec_max_age = 0\n"
    "message_size_limit = 20m\n"
    "recipient_limit = 100\n"
    "max_connections = 7\n"
    "max_connections_per_ip = 3\n"
    "max_errors = 1\n"
    "command_timeout = 10m\n"
    "data_timeout = 1h\n"
    "local_domains = Example.org,\n"
    "    example.net\n"
    "maildir_root = /tmp/mail\n"
    "mailboxes = a@example.org B@Example.NET\n"
    "relay_networks = 10.0.0.0/8 2001:db8::/32\n"
    "tls_level = encrypt\n"
    "pkp_mode = report\n"
    "pkp_cap = 0\n"
    "stsec_cap = 730d\n";

static void
test_round_trip(void **state)
{
	char		 err[CONF_ERR_MAX] = "";
	struct conf	 c;

	(void)state;
	conf_defaults(&c);
	round_trip(&c);
	conf_free(&c);

	assert_int_equal(load_text(every_param, &c, err, sizeof(err)), 0);
	assert_string_equal(c.myhostname, "mx.example.org");
	assert_string_equal(c.user, "");
	assert_string_equal(c.tls_key_file, "");
	assert_int_equal(c.pkp_enable, 0);
	assert_int_equal(c.stsec_enable, 0);
	assert_int_equal(c.pkp_max_age, 86400);
	assert_int_equal(c.message_size_limit, 20 * 1024 * 1024);
	assert_int_equal(c.command_timeout, 600);
	assert_int_equal(c.data_timeout, 3600);
	assert_int_equal(c.stsec_cap, 63072000);
	assert_string_equal(c.local_domains.v[1], "example.net");
	assert_string_equal(c.mailboxes.v[1], "b@example.net");
	round_trip(&c);
	conf_free(&c);
}

/* ------------------------------------------------------------------ */
/* conf_list_has                                                        */

struct has_row {
	const char	*list;		/* local_domains = */
	const char	*word;
	int		 want;
};

static const struct has_row has_rows[] = {
	{ "Example.org, localhost", "example.org", 1 },
	{ "Example.org, localhost", "EXAMPLE.ORG", 1 },
	{ "Example.org, localhost", "LocalHost", 1 },
	{ "Example.org, localhost", "example", 0 },
	{ "Example.org, localhost", "example.org.", 0 },
	{ "Example.org, localhost", "", 0 },
	{ "Example.org, localhost", NULL, 0 },
	{ "", "localhost", 0 },
};

static void
test_list_has(void **state)
{
	char		 err[CONF_ERR_MAX] = "", text[256];
	struct conf	 c;
	size_t		 i;
	int		 fails = 0, got;

	(void)state;
	for (i = 0; i < NROWS(has_rows); i++) {
		(void)snprintf(text, sizeof(text), "local_domains = %s\n",
		    has_rows[i].list);
		assert_int_equal(load_text(text, &c, err, sizeof(err)), 0);
		got = conf_list_has(&c.local_domains, has_rows[i].word);
		if (got != has_rows[i].want) {
			print_error("row %zu: %s has %s: %d\n", i,
			    has_rows[i].list, has_rows[i].word ?
			    has_rows[i].word : "(null)", got);
			fails++;
		}
		conf_free(&c);
	}
	assert_int_equal(conf_list_has(NULL, "x"), 0);
	assert_int_equal(fails, 0);
}

/* ------------------------------------------------------------------ */
/* conf_net_match                                                       */

struct net_row {
	const char	*nets;		/* relay_networks = */
	const char	*addr;
	int		 want;
};

#define DEF_NETS	"127.0.0.0/8, ::1/128"
#define MIX_NETS	"10.1.2.3 192.168.0.0/16 2001:db8::/32"

static const struct net_row net_rows[] = {
	{ DEF_NETS, "127.0.0.1", 1 },
	{ DEF_NETS, "127.255.255.255", 1 },
	{ DEF_NETS, "126.255.255.255", 0 },
	{ DEF_NETS, "128.0.0.1", 0 },
	{ DEF_NETS, "::ffff:127.0.0.1", 1 },	/* mapped matches IPv4 */
	{ DEF_NETS, "::ffff:128.0.0.1", 0 },
	{ DEF_NETS, "::1", 1 },
	{ DEF_NETS, "::2", 0 },
	{ DEF_NETS, "::", 0 },
	{ DEF_NETS, "::127.0.0.1", 0 },		/* compatible is not mapped */
	{ MIX_NETS, "10.1.2.3", 1 },		/* no length: /32 */
	{ MIX_NETS, "10.1.2.4", 0 },
	{ MIX_NETS, "::ffff:10.1.2.3", 1 },
	{ MIX_NETS, "192.168.255.1", 1 },
	{ MIX_NETS, "192.169.0.1", 0 },
	{ MIX_NETS, "2001:db8:ffff::1", 1 },
	{ MIX_NETS, "2001:db9::1", 0 },
	{ MIX_NETS, "127.0.0.1", 0 },
	{ "10.1.2.3/32", "10.1.2.3", 1 },
	{ "10.1.2.3/32", "10.1.2.2", 0 },
	{ "192.168.1.2/31", "192.168.1.3", 1 },
	{ "192.168.1.2/31", "192.168.1.4", 0 },
	{ "192.168.1.2/31", "192.168.1.1", 0 },
	{ "0.0.0.0/0", "1.2.3.4", 1 },
	{ "0.0.0.0/0", "255.255.255.255", 1 },
	{ "0.0.0.0/0", "::ffff:1.2.3.4", 1 },
	{ "0.0.0.0/0", "::1", 0 },
	{ "0.0.0.0/0", "2001:db8::1", 0 },
	{ "::/0", "2001:db8::1", 1 },
	{ "::/0", "::", 1 },
	{ "::/0", "1.2.3.4", 1 },		/* documented: ::/0 is all */
	{ "2001:db8::1/128", "2001:db8::1", 1 },
	{ "2001:db8::1/128", "2001:db8::2", 0 },
	{ "2001:db8::/33", "2001:db8:7fff::1", 1 },
	{ "2001:db8::/33", "2001:db8:8000::1", 0 },
	{ "::ffff:10.0.0.0/104", "10.9.9.9", 1 },
	{ "::ffff:10.0.0.0/104", "11.0.0.1", 0 },
	{ "", "127.0.0.1", 0 },
	{ "", "::1", 0 },
};

/* addr as a sockaddr_in or sockaddr_in6 */
static void
make_sa(const char *addr, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(25);
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(25);
}

static int
run_net(size_t i, const struct net_row *r)
{
	char			 err[CONF_ERR_MAX] = "", text[256];
	struct sockaddr_storage	 ss;
	struct conf		 c;
	int			 got;

	(void)snprintf(text, sizeof(text), "relay_networks = %s\n", r->nets);
	if (load_text(text, &c, err, sizeof(err)) != 0) {
		print_error("row %zu: %s\n", i, err);
		return 1;
	}
	make_sa(r->addr, &ss);
	got = conf_net_match(&c.relay_networks, (struct sockaddr *)&ss);
	conf_free(&c);
	if (got == r->want)
		return 0;
	print_error("row %zu: %s in [%s]: got %d, want %d\n", i, r->addr,
	    r->nets, got, r->want);
	return 1;
}

static void
test_net_match(void **state)
{
	struct sockaddr_un	 sun;
	struct conf		 c;
	size_t			 i;
	int			 fails = 0;

	(void)state;
	for (i = 0; i < NROWS(net_rows); i++)
		fails += run_net(i, &net_rows[i]);
	assert_int_equal(fails, 0);

	/* other families and NULLs never match */
	conf_defaults(&c);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(conf_net_match(&c.relay_networks,
	    (struct sockaddr *)&sun), 0);
	assert_int_equal(conf_net_match(&c.relay_networks, NULL), 0);
	assert_int_equal(conf_net_match(NULL, (struct sockaddr *)&sun), 0);
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good_values),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_good_syntax),
		cmocka_unit_test(test_bad_syntax),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_long_value),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_failure_leaves_nothing),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_list_has),
		cmocka_unit_test(test_net_match),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
