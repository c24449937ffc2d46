/*
 * tls.c - the server's TLS context and its PKP / STSEC advertisement;
 * see tls.h.
 *
 * The pin set is computed, never typed in: the pin of the served key,
 * plus the backup pins from pkp_backup_pins, each a base64 pin or a PEM
 * file (public key, private key, certificate or CSR).  libstsec's
 * stsec_server_check() decides whether the set may be advertised.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "conf.h"
#include "log.h"
#include "tls.h"
#include "tlscache.h"

/*
 * Sessions the delivery client keeps for resumption: one per peer (host
 * and address), a few KiB each with the peer's chain.
 */
#define TLS_CLIENT_SESSIONS	1000

struct tls_server {
	SSL_CTX			*ctx;
	struct stsec_pinset	 pins;		/* advertised */
	struct stsec_ehlo_lines	 pkp;
	int			 pkp_ok;
	char			 stsec[64];
	int			 stsec_ok;
	char			 verdict[384];
};

#define TLS_CIPHERS	"HIGH:!aNULL:!eNULL:!EXPORT:!DES:!3DES:!RC4:!MD5:!PSK:!SRP"

void
tls_init(void)
{
	(void)OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, NULL);
}

static const char *
ssl_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		(void)snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static SSL_CTX *
ctx_new(const struct conf *c, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	char	 e[256];

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		(void)snprintf(err, errlen, "SSL_CTX_new: %s",
		    ssl_errstr(e, sizeof(e)));
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS) != 1) {
		(void)snprintf(err, errlen, "TLS settings: %s",
		    ssl_errstr(e, sizeof(e)));
		goto fail;
	}
	(void)SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_RENEGOTIATION);
	(void)SSL_CTX_set_session_id_context(ctx, (const unsigned char *)
	    "pinpostd", 8);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert_file) != 1) {
		(void)snprintf(err, errlen, "%s: cannot load certificate "
		    "chain: %s", c->tls_cert_file, ssl_errstr(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key_file,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		(void)snprintf(err, errlen, "%s: cannot load private key, or "
		    "it does not match %s: %s", c->tls_key_file,
		    c->tls_cert_file, ssl_errstr(e, sizeof(e)));
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* A backup entry: a base64 pin, else a PEM file. */
static int
backup_pin(const char *entry, struct stsec_pin *pin, struct stsec_error *err)
{
	if (strlen(entry) == STSEC_PIN_B64_LEN &&
	    stsec_pin_from_b64(entry, STSEC_PIN_B64_LEN, pin, NULL) == 0)
		return 0;
	if (entry[0] != '/' && entry[0] != '.')
		return stsec_error_set(err, "pkp_backup_pins: \"%s\" is "
		    "neither a base64 pin nor a file path", entry);
	return stsec_pin_from_file(entry, pin, err);
}

static int
served_pins(SSL_CTX *ctx, struct stsec_pinset *served,
    struct stsec_error *err)
{
	struct stsec_pin pin;
	X509	*leaf = SSL_CTX_get0_certificate(ctx);

	stsec_pinset_clear(served);
	if (leaf == NULL)
		return stsec_error_set(err, "no served certificate");
	if (stsec_pin_from_x509(leaf, &pin, err) == -1)
		return -1;
	return stsec_pinset_add(served, &pin, err);
}

static int
pkp_setup(struct tls_server *ts, const struct conf *c,
    struct stsec_error *err)
{
	struct stsec_pinset served, backups;
	struct stsec_pin pin;
	enum stsec_pkp_form form = STSEC_PKP_SINGLE;
	size_t	i;

	if (served_pins(ts->ctx, &served, err) == -1)
		return -1;
	stsec_pinset_clear(&backups);
	for (i = 0; i < c->pkp_backup_pins.n; i++)
		if (backup_pin(c->pkp_backup_pins.v[i], &pin, err) == -1 ||
		    stsec_pinset_add(&backups, &pin, err) == -1)
			return -1;
	if (stsec_server_check(&served, &backups, c->pkp_max_age,
	    STSEC_PKP_CAP_DEFAULT, &ts->pins, err) == -1)
		return -1;
	(void)stsec_pkp_form_parse(c->pkp_format, &form);
	return stsec_ehlo_format_pkp(&ts->pins, c->pkp_max_age, form,
	    &ts->pkp, err);
}

static void
advert_setup(struct tls_server *ts, const struct conf *c)
{
	struct stsec_error err;
	char	pin[STSEC_PIN_B64_LEN + 1], why[STSEC_ERROR_MAX * 2];

	if (!c->pkp_enable)
		(void)snprintf(ts->verdict, sizeof(ts->verdict),
		    "pkp=off");
	else if (pkp_setup(ts, c, &err) == -1)
		(void)snprintf(ts->verdict, sizeof(ts->verdict),
		    "pkp=not-advertised reason=\"%s\"", log_text(err.msg,
		    strlen(err.msg), why, sizeof(why)));
	else {
		ts->pkp_ok = 1;
		stsec_pin_to_b64(&ts->pins.pin[0], pin);
		(void)snprintf(ts->verdict, sizeof(ts->verdict),
		    "pkp=advertised pins=%zu served=%s max-age=%lld form=%s",
		    ts->pins.n, pin, (long long)c->pkp_max_age,
		    c->pkp_format);
	}
	if (c->stsec_enable && stsec_ehlo_format_stsec(c->stsec_max_age,
	    ts->stsec, sizeof(ts->stsec), &err) == 0)
		ts->stsec_ok = 1;
}

struct tls_server *
tls_server_new(const struct conf *c, char *err, size_t errlen)
{
	struct tls_server *ts;

	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((ts->ctx = ctx_new(c, err, errlen)) == NULL) {
		free(ts);
		return NULL;
	}
	advert_setup(ts, c);
	return ts;
}

void
tls_server_free(struct tls_server *ts)
{
	if (ts == NULL)
		return;
	SSL_CTX_free(ts->ctx);
	free(ts);
}

SSL_CTX *
tls_server_ctx(const struct tls_server *ts)
{
	return ts->ctx;
}

const struct stsec_ehlo_lines *
tls_server_pkp(const struct tls_server *ts)
{
	return ts->pkp_ok ? &ts->pkp : NULL;
}

const char *
tls_server_stsec(const struct tls_server *ts)
{
	return ts->stsec_ok ? ts->stsec : NULL;
}

const char *
tls_server_verdict(const struct tls_server *ts)
{
	return ts->verdict;
}

const struct stsec_pinset *
tls_server_pins(const struct tls_server *ts)
{
	return ts->pkp_ok ? &ts->pins : NULL;
}

const char *
tls_session_info(SSL *ssl, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%s cipher=%s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
	return buf;
}

SSL_CTX *
tls_client_ctx_new(const struct conf *c, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	char	 e[256];
	int	 ok;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		(void)snprintf(err, errlen, "SSL_CTX_new: %s",
		    ssl_errstr(e, sizeof(e)));
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS) != 1) {
		(void)snprintf(err, errlen, "TLS client settings: %s",
		    ssl_errstr(e, sizeof(e)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Opportunistic (RFC 7435): verify for the log, never abort on it. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (c->tls_ca_file[0] != '\0')
		ok = SSL_CTX_load_verify_locations(ctx, c->tls_ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		(void)snprintf(err, errlen, "%s: cannot load CA certificates: "
		    "%s", c->tls_ca_file[0] ? c->tls_ca_file : "default paths",
		    ssl_errstr(e, sizeof(e)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (tlscache_attach(ctx, TLS_CLIENT_SESSIONS) == -1) {
		(void)snprintf(err, errlen, "TLS client session cache: out of "
		    "memory");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void
tls_client_ctx_free(SSL_CTX *ctx)
{
	tlscache_detach(ctx);
	SSL_CTX_free(ctx);
}
