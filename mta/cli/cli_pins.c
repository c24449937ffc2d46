/*
 * cli_pins.c - pinpost pins: the pin/policy store from the command line.
 *
 * SYNOPSIS
 *	pinpost [-s store] pins list
 *	pinpost [-s store] pins show NAME
 *	pinpost [-s store] pins forget NAME
 *	pinpost [-s store] pins add HOST [--pin B64]... [--max-age N]
 *	    [--stsec N]
 *	pinpost [-s store] pins export [FILE]
 *	pinpost [-s store] pins import [FILE]
 *
 * DESCRIPTION
 *	list prints one line per record; show prints every field of the
 *	host and domain records of NAME; forget removes them; add sets the
 *	pins (with their MAX-AGE) and/or the STSEC MAX-AGE of a host, from
 *	now, keeping its audit fields.  export and import: cli_pins_json.c.
 *	Reading commands open the store read-only and never create it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stsec.h"
#include "cli.h"
#include "cli_pins.h"

struct stsec_store *
cli_pins_open(const struct cli *cli, int flags)
{
	struct stsec_error err;
	struct stsec_store *st;

	st = stsec_store_open(cli_store_path(cli), flags, &err);
	if (st == NULL)
		(void)cli_err("%s", err.msg);
	return st;
}

static const char *
until_str(int64_t expires, int64_t now, char *buf, size_t len)
{
	char	t[32];

	if (expires == 0)
		(void)snprintf(buf, len, "none");
	else
		(void)snprintf(buf, len, "%s%s", expires > now ? "" : "expired:",
		    cli_time_str(expires, t, sizeof(t)));
	return buf;
}

static int
list_cb(enum stsec_store_kind kind, const char *name, const void *rec,
    void *arg)
{
	int64_t	now = *(const int64_t *)arg;
	char	a[48], b[48], c[32];

	if (kind == STSEC_STORE_DOMAIN) {
		const struct stsec_domain_rec *d = rec;

		printf("domain %s stsec=%s via=%s\n", name,
		    until_str(d->stsec_expires, now, a, sizeof(a)), d->via);
		return 0;
	}
	const struct stsec_host_rec *h = rec;
	printf("host %s pins=%zu pkp=%s stsec=%s starttls-first=%s "
	    "last-seen=%s\n", name, h->pins.n,
	    until_str(h->pkp_expires, now, a, sizeof(a)),
	    until_str(h->stsec_expires, now, b, sizeof(b)),
	    stsec_early_str(h->early),
	    h->last_seen ? cli_time_str(h->last_seen, c, sizeof(c)) : "never");
	return 0;
}

static int
pins_list(struct cli *cli, int argc, char **argv)
{
	struct stsec_error err;
	struct stsec_store *st;
	int64_t	now = (int64_t)time(NULL);
	int	rc = CLI_OK;

	(void)argv;
	if (argc != 1)
		return cli_usage("pins");
	if ((st = cli_pins_open(cli, STSEC_STORE_RDONLY)) == NULL)
		return CLI_FAIL;
	if (stsec_store_walk(st, list_cb, &now, &err) != 0)
		rc = cli_err("%s", err.msg);
	stsec_store_close(st);
	return rc;
}

static void
show_host(const char *name, const struct stsec_host_rec *h, int64_t now)
{
	char	b64[STSEC_PIN_B64_LEN + 1], a[48];
	size_t	i;

	printf("host:           %s\n", name);
	printf("pkp:            %s\n", until_str(h->pkp_expires, now, a,
	    sizeof(a)));
	for (i = 0; i < h->pins.n; i++) {
		stsec_pin_to_b64(&h->pins.pin[i], b64);
		printf("pin-sha256:     %s\n", b64);
	}
	printf("stsec:          %s\n", until_str(h->stsec_expires, now, a,
	    sizeof(a)));
	printf("starttls-first: %s\n", stsec_early_str(h->early));
	printf("first-seen:     %s\n", h->first_seen ?
	    cli_time_str(h->first_seen, a, sizeof(a)) : "never");
	printf("last-seen:      %s\n", h->last_seen ?
	    cli_time_str(h->last_seen, a, sizeof(a)) : "never");
	if (h->has_last_pin) {
		stsec_pin_to_b64(&h->last_pin, b64);
		printf("last-pin:       %s\n", b64);
	}
}

static void
show_domain(const char *name, const struct stsec_domain_rec *d, int64_t now)
{
	char	a[48];

	printf("domain:         %s\n", name);
	printf("stsec:          %s\n", until_str(d->stsec_expires, now, a,
	    sizeof(a)));
	printf("noted:          %s\n", cli_time_str(d->noted, a, sizeof(a)));
	printf("via:            %s\n", d->via);
}

static int
pins_show(struct cli *cli, int argc, char **argv)
{
	struct stsec_error err;
	struct stsec_store *st;
	struct stsec_host_rec h;
	struct stsec_domain_rec d;
	int64_t	now = (int64_t)time(NULL);
	int	hf, df, rc = CLI_OK;

	if (argc != 2)
		return cli_usage("pins");
	if ((st = cli_pins_open(cli, STSEC_STORE_RDONLY)) == NULL)
		return CLI_FAIL;
	if ((hf = stsec_store_get_host(st, argv[1], &h, &err)) == -1 ||
	    (df = stsec_store_get_domain(st, argv[1], &d, &err)) == -1)
		rc = cli_err("%s", err.msg);
	else if (!hf && !df)
		rc = cli_err("%s: no record for %s", stsec_store_path(st),
		    argv[1]);
	else {
		if (hf)
			show_host(argv[1], &h, now);
		if (hf && df)
			printf("\n");
		if (df)
			show_domain(argv[1], &d, now);
	}
	stsec_store_close(st);
	return rc;
}

static int
pins_forget(struct cli *cli, int argc, char **argv)
{
	struct stsec_error err;
	struct stsec_store *st;
	int	hf, df, rc = CLI_OK;

	if (argc != 2)
		return cli_usage("pins");
	if ((st = cli_pins_open(cli, 0)) == NULL)
		return CLI_FAIL;
	if ((hf = stsec_store_forget_host(st, argv[1], &err)) == -1 ||
	    (df = stsec_store_forget_domain(st, argv[1], &err)) == -1)
		rc = cli_err("%s", err.msg);
	else if (!hf && !df)
		rc = cli_err("%s: no record for %s", stsec_store_path(st),
		    argv[1]);
	else
		printf("forgot %s%s%s\n", hf ? "host " : "",
		    hf && df ? "and domain " : df ? "domain " : "", argv[1]);
	stsec_store_close(st);
	return rc;
}

struct add_req {
	struct stsec_pinset pins;
	int64_t		max_age;	/* -1: not given */
	int64_t		stsec;		/* -1: not given */
	int64_t		now;
};

static int
add_update_cb(struct stsec_host_rec *h, int found, struct stsec_domain_rec *d,
    int dfound, void *arg)
{
	const struct add_req *req = arg;

	(void)found;
	(void)d;
	(void)dfound;
	if (req->max_age >= 0) {
		h->pins = req->pins;
		h->pkp_expires = req->max_age ? req->now + req->max_age : 0;
		if (req->max_age == 0)
			stsec_pinset_clear(&h->pins);
	}
	if (req->stsec >= 0)
		h->stsec_expires = req->stsec ? req->now + req->stsec : 0;
	return STSEC_STORE_WRITE_HOST;
}

static int
add_age(const char *opt, const char *val, int64_t *out)
{
	if (stsec_max_age_parse(val, strlen(val), out) == -1) {
		(void)cli_err("%s %s: want 1 to 10 digits", opt, val);
		return -1;
	}
	return 0;
}

static int
add_parse(int argc, char **argv, struct add_req *req)
{
	struct stsec_error err;
	struct stsec_pin pin;
	int	i;

	for (i = 2; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (val == NULL)
			return cli_err("%s: missing value", opt);
		i++;
		if (strcmp(opt, "--pin") == 0) {
			if (stsec_pin_from_b64(val, strlen(val), &pin, &err) ==
			    -1 || stsec_pinset_add(&req->pins, &pin, &err) == -1)
				return cli_err("--pin %s: %s", val, err.msg);
		} else if (strcmp(opt, "--max-age") == 0) {
			if (add_age(opt, val, &req->max_age) == -1)
				return CLI_FAIL;
		} else if (strcmp(opt, "--stsec") == 0) {
			if (add_age(opt, val, &req->stsec) == -1)
				return CLI_FAIL;
		} else
			return cli_err("pins add: unknown option %s", opt);
	}
	return CLI_OK;
}

static int
add_check(const struct add_req *req)
{
	if (req->pins.n > 0 && req->max_age < 0)
		return cli_err("pins add: --pin needs --max-age");
	if (req->pins.n == 0 && req->max_age > 0)
		return cli_err("pins add: --max-age above 0 needs --pin");
	if (req->max_age < 0 && req->stsec < 0)
		return cli_err("pins add: give --pin and --max-age, or --stsec");
	return CLI_OK;
}

static int
pins_add(struct cli *cli, int argc, char **argv)
{
	struct stsec_error err;
	struct stsec_store *st;
	struct add_req req;
	int	rc;

	if (argc < 2)
		return cli_usage("pins");
	memset(&req, 0, sizeof(req));
	req.max_age = req.stsec = -1;
	req.now = (int64_t)time(NULL);
	if ((rc = add_parse(argc, argv, &req)) != CLI_OK ||
	    (rc = add_check(&req)) != CLI_OK)
		return rc;
	if ((st = cli_pins_open(cli, STSEC_STORE_CREATE)) == NULL)
		return CLI_FAIL;
	if (stsec_store_update(st, argv[1], NULL, add_update_cb, &req,
	    &err) == -1)
		rc = cli_err("%s", err.msg);
	stsec_store_close(st);
	return rc;
}

static const struct {
	const char	*name;
	int		(*fn)(struct cli *, int, char **);
} pins_cmds[] = {
	{ "list", pins_list },
	{ "show", pins_show },
	{ "forget", pins_forget },
	{ "add", pins_add },
	{ "export", cli_pins_export },
	{ "import", cli_pins_import },
};

int
cli_pins_main(struct cli *cli, int argc, char **argv)
{
	size_t	i;

	if (argc >= 3 && strcmp(argv[1], "-s") == 0) {
		cli->store_path = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2)
		return cli_usage("pins");
	for (i = 0; i < sizeof(pins_cmds) / sizeof(*pins_cmds); i++)
		if (strcmp(argv[1], pins_cmds[i].name) == 0)
			return pins_cmds[i].fn(cli, argc - 1, argv + 1);
	(void)cli_err("pins: unknown command: %s", argv[1]);
	return cli_usage("pins");
}
