/*
 * tls.h - TLS for pinpostd: the server context and what it advertises.
 *
 *	tls_init()		OpenSSL start-up, once
 *	tls_server_new()	load the certificate chain and key, build the
 *				SSL_CTX (TLS 1.2+, no anonymous suites,
 *				tickets on), compute the served pin, read
 *				the backup pins, run the PKP self-check and
 *				format the PKP / STSEC EHLO lines
 *	tls_server_free()
 *	tls_server_ctx()	the SSL_CTX for new sessions
 *	tls_server_pkp()	the PKP lines to advertise, or NULL when PKP
 *				is off or failed the self-check
 *	tls_server_stsec()	the STSEC line, or NULL when off
 *	tls_server_verdict()	the self-check's one-line verdict
 *	tls_session_info()	"version=TLSv1.3 cipher=..." of a session
 *	tls_client_ctx_new()	the delivery side's SSL_CTX: TLS 1.2+, the
 *				chain verified against tls_ca_file (or the
 *				system's CAs) for the log, never fatal by
 *				itself: pins and STSEC authenticate a peer;
 *				it keeps sessions for resumption
 *				(tlscache.h)
 *	tls_client_ctx_free()	that context and its sessions
 *
 * A failed self-check is not an error: the server runs and advertises no
 * PKP, and the verdict says why.  A certificate or key that cannot be
 * loaded is an error.
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "stsec.h"

struct conf;
struct tls_server;

void	tls_init(void);
struct tls_server *tls_server_new(const struct conf *c, char *err,
	    size_t errlen);
void	tls_server_free(struct tls_server *ts);
SSL_CTX	*tls_server_ctx(const struct tls_server *ts);
const struct stsec_ehlo_lines *tls_server_pkp(const struct tls_server *ts);
const char *tls_server_stsec(const struct tls_server *ts);
const char *tls_server_verdict(const struct tls_server *ts);
const struct stsec_pinset *tls_server_pins(const struct tls_server *ts);
const char *tls_session_info(SSL *ssl, char *buf, size_t len);
SSL_CTX	*tls_client_ctx_new(const struct conf *c, char *err, size_t errlen);
void	tls_client_ctx_free(SSL_CTX *ctx);

#endif
