/*
 * cli_pins_json.c - pinpost pins export / import: the store as JSON.
 *
 * SYNOPSIS
 *	pinpost pins export [FILE]	(default: standard output)
 *	pinpost pins import [FILE]	(default: standard input)
 *
 * DESCRIPTION
 *	The document is
 *
 *	{ "format": "pinpost-pins", "version": 1,
 *	  "hosts":   { NAME: { "pins": [B64...], "pkp_expires": T,
 *	                "stsec_expires": T, "starttls_first": EARLY,
 *	                "first_seen": T, "last_seen": T,
 *	                "last_pin": B64 }, ... },
 *	  "domains": { NAME: { "stsec_expires": T, "noted": T,
 *	                "via": HOST }, ... } }
 *
 *	with T in seconds since the epoch and EARLY one of unknown,
 *	accepted, refused; last_pin is optional.  Import checks the whole
 *	document before it writes anything, and names the file, the JSON
 *	path and the problem of the first error.  Records of the same name
 *	are replaced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stsec.h"
#include "cli.h"
#include "cli_pins.h"

#define FORMAT_NAME	"pinpost-pins"
#define FORMAT_VERSION	1

/* ------------------------------------------------------------------ */
/* export                                                               */

static json_t *
pin_json(const struct stsec_pin *pin)
{
	char	b64[STSEC_PIN_B64_LEN + 1];

	stsec_pin_to_b64(pin, b64);
	return json_string(b64);
}

static json_t *
host_json(const struct stsec_host_rec *h)
{
	json_t	*o, *pins;
	size_t	 i;

	if ((pins = json_array()) == NULL)
		return NULL;
	for (i = 0; i < h->pins.n; i++)
		(void)json_array_append_new(pins, pin_json(&h->pins.pin[i]));
	o = json_pack("{s:o, s:I, s:I, s:s, s:I, s:I}", "pins", pins,
	    "pkp_expires", (json_int_t)h->pkp_expires,
	    "stsec_expires", (json_int_t)h->stsec_expires,
	    "starttls_first", stsec_early_str(h->early),
	    "first_seen", (json_int_t)h->first_seen,
	    "last_seen", (json_int_t)h->last_seen);
	if (o != NULL && h->has_last_pin)
		(void)json_object_set_new(o, "last_pin", pin_json(&h->last_pin));
	return o;
}

static json_t *
domain_json(const struct stsec_domain_rec *d)
{
	return json_pack("{s:I, s:I, s:s}",
	    "stsec_expires", (json_int_t)d->stsec_expires,
	    "noted", (json_int_t)d->noted, "via", d->via);
}

static int
export_cb(enum stsec_store_kind kind, const char *name, const void *rec,
    void *arg)
{
	json_t	*doc = arg, *v;

	if (kind == STSEC_STORE_HOST)
		v = host_json(rec);
	else
		v = domain_json(rec);
	if (v == NULL)
		return -1;
	return json_object_set_new(json_object_get(doc,
	    kind == STSEC_STORE_HOST ? "hosts" : "domains"), name, v);
}

static int
export_write(json_t *doc, const char *path)
{
	FILE	*fp = stdout;
	int	 rc = CLI_OK;

	if (path != NULL && (fp = fopen(path, "w")) == NULL)
		return cli_err("%s: cannot create: %m", path);
	if (json_dumpf(doc, fp, JSON_INDENT(2) | JSON_SORT_KEYS) == -1 ||
	    fputc('\n', fp) == EOF || fflush(fp) == EOF)
		rc = cli_err("%s: write failed: %m", path ? path : "stdout");
	if (path != NULL && fclose(fp) == EOF && rc == CLI_OK)
		rc = cli_err("%s: write failed: %m", path);
	return rc;
}

int
cli_pins_export(struct cli *cli, int argc, char **argv)
{
	struct stsec_error err;
	struct stsec_store *st;
	json_t	*doc;
	int	 rc;

	if (argc > 2)
		return cli_usage("pins");
	doc = json_pack("{s:s, s:i, s:{}, s:{}}", "format", FORMAT_NAME,
	    "version", FORMAT_VERSION, "hosts", "domains");
	if (doc == NULL)
		return cli_err("out of memory");
	if ((st = cli_pins_open(cli, STSEC_STORE_RDONLY)) == NULL) {
		json_decref(doc);
		return CLI_FAIL;
	}
	if (stsec_store_walk(st, export_cb, doc, &err) != 0)
		rc = cli_err("%s", err.msg);
	else
		rc = export_write(doc, argc == 2 ? argv[1] : NULL);
	stsec_store_close(st);
	json_decref(doc);
	return rc;
}

/* ------------------------------------------------------------------ */
/* import                                                               */

struct imp_host {
	char		name[STSEC_NAME_MAX + 1];
	struct stsec_host_rec rec;
};

struct imp_domain {
	char		name[STSEC_NAME_MAX + 1];
	struct stsec_domain_rec rec;
};

struct imp {
	const char	*file;
	struct imp_host	*hosts;
	size_t		 nhosts;
	struct imp_domain *domains;
	size_t		 ndomains;
};

static int
imp_err(const struct imp *im, const char *where, const char *name,
    const char *what)
{
	return cli_err("%s: %s%s%s%s: %s", im->file, where,
	    name ? "[\"" : "", name ? name : "", name ? "\"]" : "", what);
}

static int
imp_time(const json_t *o, const char *key, int optional, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL && optional) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int
imp_pin(const json_t *v, struct stsec_pin *pin, struct stsec_error *err)
{
	if (!json_is_string(v))
		return stsec_error_set(err, "pin is not a string");
	return stsec_pin_from_b64(json_string_value(v),
	    json_string_length(v), pin, err);
}

static int
imp_keys_known(const json_t *o, const char *const *keys)
{
	const char *k;
	json_t	*v;
	size_t	 i;

	json_object_foreach((json_t *)o, k, v) {
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(keys[i], k) == 0)
				break;
		if (keys[i] == NULL)
			return -1;
	}
	return 0;
}

static int
imp_early(const json_t *v, enum stsec_early *out)
{
	enum stsec_early e;

	if (v == NULL) {
		*out = STSEC_EARLY_UNKNOWN;
		return 0;
	}
	for (e = STSEC_EARLY_UNKNOWN; e <= STSEC_EARLY_REFUSED; e++) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), stsec_early_str(e)) == 0) {
			*out = e;
			return 0;
		}
	}
	return -1;
}

static int
imp_host_pins(const json_t *o, struct stsec_host_rec *r,
    struct stsec_error *err)
{
	const json_t *pins = json_object_get(o, "pins");
	struct stsec_pin pin;
	json_t	*v;
	size_t	 i;

	if (pins == NULL)
		return 0;
	if (!json_is_array(pins))
		return stsec_error_set(err, "pins: not an array");
	json_array_foreach(pins, i, v) {
		if (imp_pin(v, &pin, err) == -1 ||
		    stsec_pinset_add(&r->pins, &pin, err) == -1)
			return stsec_error_set(err, "pins[%zu]: %.200s", i,
			    err->msg);
	}
	return 0;
}

static int
imp_host_rec(const json_t *o, struct stsec_host_rec *r,
    struct stsec_error *err)
{
	static const char *const keys[] = { "pins", "pkp_expires",
	    "stsec_expires", "starttls_first", "first_seen", "last_seen",
	    "last_pin", NULL };
	const json_t *lp;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return stsec_error_set(err, "not an object");
	if (imp_keys_known(o, keys) == -1)
		return stsec_error_set(err, "unknown field");
	if (imp_host_pins(o, r, err) == -1)
		return -1;
	if (imp_time(o, "pkp_expires", 1, &r->pkp_expires) == -1 ||
	    imp_time(o, "stsec_expires", 1, &r->stsec_expires) == -1 ||
	    imp_time(o, "first_seen", 1, &r->first_seen) == -1 ||
	    imp_time(o, "last_seen", 1, &r->last_seen) == -1)
		return stsec_error_set(err, "times must be integers >= 0");
	if (imp_early(json_object_get(o, "starttls_first"), &r->early) == -1)
		return stsec_error_set(err, "starttls_first: want unknown, "
		    "accepted or refused");
	if ((lp = json_object_get(o, "last_pin")) != NULL) {
		if (imp_pin(lp, &r->last_pin, err) == -1)
			return stsec_error_set(err, "last_pin: %.200s",
			    err->msg);
		r->has_last_pin = 1;
	}
	if (r->pins.n > 0 && r->pkp_expires == 0)
		return stsec_error_set(err, "pins without pkp_expires");
	return 0;
}

static int
imp_domain_rec(const json_t *o, struct stsec_domain_rec *r,
    struct stsec_error *err)
{
	static const char *const keys[] = { "stsec_expires", "noted", "via",
	    NULL };
	const json_t *via;
	char	tmp[STSEC_NAME_MAX + 1];

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return stsec_error_set(err, "not an object");
	if (imp_keys_known(o, keys) == -1)
		return stsec_error_set(err, "unknown field");
	if (imp_time(o, "stsec_expires", 0, &r->stsec_expires) == -1 ||
	    imp_time(o, "noted", 1, &r->noted) == -1)
		return stsec_error_set(err, "times must be integers >= 0");
	via = json_object_get(o, "via");
	if (via == NULL)
		return 0;
	if (!json_is_string(via) ||
	    stsec_name_normalize(json_string_value(via), tmp, sizeof(tmp),
	    err) == -1)
		return stsec_error_set(err, "via: not a host name");
	(void)snprintf(r->via, sizeof(r->via), "%s", tmp);
	return 0;
}

static int
imp_hosts(struct imp *im, const json_t *hosts)
{
	struct stsec_error err;
	const char *name;
	json_t	*v;

	if (hosts == NULL)
		return CLI_OK;
	if (!json_is_object(hosts))
		return imp_err(im, "hosts", NULL, "not an object");
	im->hosts = calloc(json_object_size(hosts) + 1, sizeof(*im->hosts));
	if (im->hosts == NULL)
		return cli_err("out of memory");
	json_object_foreach((json_t *)hosts, name, v) {
		struct imp_host *h = &im->hosts[im->nhosts];

		if (stsec_name_normalize(name, h->name, sizeof(h->name),
		    &err) == -1 || imp_host_rec(v, &h->rec, &err) == -1)
			return imp_err(im, "hosts", name, err.msg);
		im->nhosts++;
	}
	return CLI_OK;
}

static int
imp_domains(struct imp *im, const json_t *domains)
{
	struct stsec_error err;
	const char *name;
	json_t	*v;

	if (domains == NULL)
		return CLI_OK;
	if (!json_is_object(domains))
		return imp_err(im, "domains", NULL, "not an object");
	im->domains = calloc(json_object_size(domains) + 1,
	    sizeof(*im->domains));
	if (im->domains == NULL)
		return cli_err("out of memory");
	json_object_foreach((json_t *)domains, name, v) {
		struct imp_domain *d = &im->domains[im->ndomains];

		if (stsec_name_normalize(name, d->name, sizeof(d->name),
		    &err) == -1 || imp_domain_rec(v, &d->rec, &err) == -1)
			return imp_err(im, "domains", name, err.msg);
		im->ndomains++;
	}
	return CLI_OK;
}

static int
imp_doc(struct imp *im, const json_t *doc)
{
	static const char *const keys[] = { "format", "version", "hosts",
	    "domains", NULL };
	const json_t *fmt, *ver;
	int	rc;

	if (!json_is_object(doc))
		return imp_err(im, "document", NULL, "not a JSON object");
	fmt = json_object_get(doc, "format");
	ver = json_object_get(doc, "version");
	if (!json_is_string(fmt) ||
	    strcmp(json_string_value(fmt), FORMAT_NAME) != 0)
		return imp_err(im, "format", NULL, "want \"" FORMAT_NAME "\"");
	if (!json_is_integer(ver) || json_integer_value(ver) != FORMAT_VERSION)
		return imp_err(im, "version", NULL, "unknown version");
	if (imp_keys_known(doc, keys) == -1)
		return imp_err(im, "document", NULL, "unknown field");
	if ((rc = imp_hosts(im, json_object_get(doc, "hosts"))) != CLI_OK)
		return rc;
	return imp_domains(im, json_object_get(doc, "domains"));
}

static int
imp_write(const struct imp *im, struct stsec_store *st)
{
	struct stsec_error err;
	size_t	i;

	for (i = 0; i < im->nhosts; i++)
		if (stsec_store_put_host(st, im->hosts[i].name,
		    &im->hosts[i].rec, &err) == -1)
			return cli_err("%s (%zu of %zu hosts written)", err.msg,
			    i, im->nhosts);
	for (i = 0; i < im->ndomains; i++)
		if (stsec_store_put_domain(st, im->domains[i].name,
		    &im->domains[i].rec, &err) == -1)
			return cli_err("%s (%zu of %zu domains written)",
			    err.msg, i, im->ndomains);
	printf("imported %zu hosts, %zu domains\n", im->nhosts, im->ndomains);
	return CLI_OK;
}

static json_t *
imp_load(const char *path, const char *label)
{
	json_error_t jerr;
	json_t	*doc;

	if (path == NULL)
		doc = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr);
	else
		doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		if (jerr.line > 0)
			(void)cli_err("%s:%d:%d: %s", label, jerr.line,
			    jerr.column, jerr.text);
		else
			(void)cli_err("%s: %s", label, jerr.text);
	}
	return doc;
}

int
cli_pins_import(struct cli *cli, int argc, char **argv)
{
	struct imp im;
	struct stsec_store *st;
	json_t	*doc;
	int	 rc;

	if (argc > 2)
		return cli_usage("pins");
	memset(&im, 0, sizeof(im));
	im.file = argc == 2 ? argv[1] : "stdin";
	if ((doc = imp_load(argc == 2 ? argv[1] : NULL, im.file)) == NULL)
		return CLI_FAIL;
	if ((rc = imp_doc(&im, doc)) == CLI_OK) {
		if ((st = cli_pins_open(cli, STSEC_STORE_CREATE)) == NULL)
			rc = CLI_FAIL;
		else {
			rc = imp_write(&im, st);
			stsec_store_close(st);
		}
	}
	json_decref(doc);
	free(im.hosts);
	free(im.domains);
	return rc;
}
