/*
 * tlscache.h - the delivery client's TLS sessions, for resumption with
 * known peers.
 *
 *	tlscache_attach()	give a client SSL_CTX a cache of at most max
 *				sessions (external cache: OpenSSL's new
 *				session callback fills it)
 *	tlscache_detach()	free the cache of a context (before
 *				SSL_CTX_free)
 *	tlscache_offer()	on a new SSL for the peer KEY (SNI and
 *				address): tag it with KEY, and offer the
 *				stored session, if any, to resume.  A
 *				session is taken out of the cache: each is
 *				offered once (RFC 8446 C.4), and the server
 *				gives a new ticket on every connection
 *	tlscache_pins()		after the handshake: the keys the session was
 *				authenticated with.  On a resumed session
 *				these are the keys of the full handshake
 *				that made it (the resumed one shows none)
 *	tlscache_confirm()	the connection passed the pin check with
 *				those keys: its sessions may be kept
 *	tlscache_forget()	drop what is kept for KEY
 *
 * Only sessions of confirmed connections are kept: a session of a
 * handshake that failed the pins is never offered.  Sessions live in
 * memory only, bounded by max, the oldest stored dropped first; an
 * expired session (its ticket lifetime) is never offered.  The event
 * loop's thread is the only user.
 */
#ifndef TLSCACHE_H
#define TLSCACHE_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "stsec.h"

#define TLSCACHE_KEY_MAX	320

int	tlscache_attach(SSL_CTX *ctx, size_t max);
void	tlscache_detach(SSL_CTX *ctx);
/* 1: a session was offered; 0: none; -1: out of memory. */
int	tlscache_offer(SSL *ssl, const char *key);
/* 0 and *keys filled when the session resumed; -1 otherwise. */
int	tlscache_pins(SSL *ssl, struct stsec_pinset *keys);
void	tlscache_confirm(SSL *ssl, const struct stsec_pinset *keys);
void	tlscache_forget(SSL_CTX *ctx, const char *key);
/* Sessions kept now. */
size_t	tlscache_count(SSL_CTX *ctx);

#endif
