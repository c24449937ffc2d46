/*
 * pinstore.h - the PKP/STSEC store for the delivery side, off the event
 * loop.
 *
 *	pinstore_open()		open (or create) the TDB store at start
 *	pinstore_close()
 *	pinstore_get()		read the host record and, when domain is
 *				not NULL, the domain record
 *	pinstore_note()		apply what a TLS session showed
 *				(stsec_policy_note) in one transaction
 *	pinstore_early()	remember the answer to STARTTLS-first
 *
 * Every access is a worker job: tdb transactions fsync, and tdb is not
 * thread-safe, so the worker thread is the only one that touches it.
 * Callbacks run in the event loop.  A store that cannot be read fails
 * closed: the caller defers.
 */
#ifndef PINSTORE_H
#define PINSTORE_H

#include "stsec.h"

struct worker;
struct pinstore;

struct pinstore_view {
	int			ok;	/* 0: the store failed; see err */
	int			host_found;
	struct stsec_host_rec	host;
	int			domain_found;
	struct stsec_domain_rec	domain;
	char			err[STSEC_ERROR_MAX];
};

typedef void pinstore_get_cb(const struct pinstore_view *v, void *arg);
typedef void pinstore_note_cb(const struct stsec_note_out *out, int ok,
	    void *arg);

struct pinstore *pinstore_open(struct worker *w, const char *path,
	    char *err, size_t errlen);
void	pinstore_close(struct pinstore *ps);
int	pinstore_get(struct pinstore *ps, const char *host,
	    const char *domain, pinstore_get_cb *cb, void *arg);
/* ehlo and chain are copied; cb may be NULL. */
int	pinstore_note(struct pinstore *ps, const char *host,
	    const char *domain, int in_tls, const struct stsec_ehlo *ehlo,
	    const struct stsec_pinset *chain, int chain_ok,
	    const struct stsec_policy_cfg *cfg, pinstore_note_cb *cb,
	    void *arg);
int	pinstore_early(struct pinstore *ps, const char *host, int accepted);

#endif
