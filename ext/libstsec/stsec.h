/*
 * stsec.h - libstsec, the PKP / STSEC SMTP extension as a library.
 *
 * SYNOPSIS
 *	#include "stsec.h"
 *
 * DESCRIPTION
 *	libstsec implements the two EHLO keywords pinpost specifies:
 *	PKP (public-key pins, the HPKP model) and STSEC (strict transport
 *	security, the HSTS model).  Any MTA can link it:
 *
 *	pin	SPKI SHA-256 pins of certificates, keys and CSRs; pin sets;
 *		matching a peer chain against a pin set.
 *	ehlo	parsing PKP / STSEC EHLO lines (both forms) and formatting
 *		them for a server.
 *	server	the server's self-check of the pin set it advertises.
 *	policy	the noting and enforcement rules, as pure functions of
 *		(stored record, observation, now, configuration).
 *	record	the versioned byte encoding of host and domain records.
 *	store	the TDB-backed store of those records.
 *
 *	The library has no globals, never logs and never exits.  Functions
 *	that can fail return -1 (or NULL) and, when the caller passes a
 *	struct stsec_error, leave a one-line message in it for the log.
 *	All times are seconds since the epoch (int64_t).
 *
 *	One public header on purpose, not one per module: an MTA that
 *	takes the extension (ext/patches/ does it for Postfix) includes
 *	one file and links one archive, and the modules' types are one
 *	vocabulary (a policy decision takes a host record of record.c, a
 *	pin set of pin.c and an observation of ehlo.c), so split headers
 *	would all include each other.  Each module has its own section
 *	below, headed by its name.
 */
#ifndef STSEC_H
#define STSEC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define STSEC_PIN_LEN		32	/* SHA-256 */
#define STSEC_PIN_B64_LEN	44	/* base64 of 32 octets, with padding */
#define STSEC_MAX_PINS		16	/* pins in a set; certificates in a chain */
#define STSEC_NAME_MAX		255	/* host or domain name, octets */
#define STSEC_ERROR_MAX		256

#define STSEC_PKP_CAP_DEFAULT	5184000	/* 60 days, RFC 7469 section 4.1 */
#define STSEC_STSEC_CAP_DEFAULT	31536000	/* one year */
#define STSEC_MAX_AGE_MAX	9999999999LL	/* 1*10DIGIT */

/* RFC 5321 reply line: 512 octets with "250-" and CRLF. */
#define STSEC_EHLO_LINE_MAX	506

struct stsec_error {
	char	msg[STSEC_ERROR_MAX];
};

/* Sets err->msg (if err is not NULL) and returns -1. */
int	stsec_error_set(struct stsec_error *err, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------ */
/* pin: SPKI SHA-256 pins                                              */

struct stsec_pin {
	unsigned char	hash[STSEC_PIN_LEN];
};

struct stsec_pinset {
	size_t		n;
	struct stsec_pin pin[STSEC_MAX_PINS];
};

/* SHA-256 over the DER SubjectPublicKeyInfo. */
int	stsec_pin_from_pkey(const EVP_PKEY *pkey, struct stsec_pin *out,
	    struct stsec_error *err);
int	stsec_pin_from_x509(const X509 *cert, struct stsec_pin *out,
	    struct stsec_error *err);

/*
 * The pin of the first key-bearing PEM object in a file: a certificate,
 * a public key, an unencrypted private key or a CSR.  Other PEM blocks
 * (EC PARAMETERS, say) are skipped.
 */
int	stsec_pin_from_file(const char *path, struct stsec_pin *out,
	    struct stsec_error *err);

/* out receives STSEC_PIN_B64_LEN characters and a NUL. */
void	stsec_pin_to_b64(const struct stsec_pin *pin,
	    char out[STSEC_PIN_B64_LEN + 1]);

/* Strict: exactly 44 characters of canonical RFC 4648 base64. */
int	stsec_pin_from_b64(const char *s, size_t len, struct stsec_pin *out,
	    struct stsec_error *err);

int	stsec_pin_equal(const struct stsec_pin *a, const struct stsec_pin *b);

void	stsec_pinset_clear(struct stsec_pinset *set);
/* Adds pin unless present; -1 when the set is full. */
int	stsec_pinset_add(struct stsec_pinset *set, const struct stsec_pin *pin,
	    struct stsec_error *err);
int	stsec_pinset_contains(const struct stsec_pinset *set,
	    const struct stsec_pin *pin);
/* Number of pins of a that are also in b. */
size_t	stsec_pinset_common(const struct stsec_pinset *a,
	    const struct stsec_pinset *b);

/*
 * The pins of every certificate of a peer chain, leaf first (a pin that
 * repeats is kept once).  -1 on a chain with more than STSEC_MAX_PINS
 * certificates or a certificate without a usable key.
 */
int	stsec_pinset_from_chain(STACK_OF(X509) *chain, struct stsec_pinset *out,
	    struct stsec_error *err);

/*
 * 1 when a key of the chain matches a pin of the set, 0 when none does,
 * -1 on error.  *index (if not NULL) receives the position in the chain
 * of the first certificate that matched.
 */
int	stsec_pin_match_chain(const struct stsec_pinset *pins,
	    STACK_OF(X509) *chain, int *index, struct stsec_error *err);

/* ------------------------------------------------------------------ */
/* ehlo: the PKP and STSEC keywords                                    */

enum stsec_kw_state {
	STSEC_KW_ABSENT = 0,	/* keyword not in the reply */
	STSEC_KW_VALID,
	STSEC_KW_INVALID	/* malformed: ignored as a whole */
};

/*
 * Accumulates the PKP and STSEC lines of one EHLO reply.  Feed every
 * reply line's text (after "250-" or "250 "), then call
 * stsec_ehlo_finish().  A set is valid only when every line of it was.
 */
struct stsec_ehlo {
	enum stsec_kw_state pkp;
	struct stsec_pinset pkp_pins;
	int64_t		pkp_max_age;
	int		pkp_has_max_age;
	char		pkp_why[128];	/* why pkp is INVALID */

	enum stsec_kw_state stsec;
	int64_t		stsec_max_age;
	int		stsec_has_max_age;
	char		stsec_why[128];	/* why stsec is INVALID */

	int		finished;
};

void	stsec_ehlo_init(struct stsec_ehlo *e);
/*
 * One EHLO keyword line, without status code or CRLF.  Returns 1 when
 * the line was a PKP or STSEC line (whatever its validity), else 0.
 */
int	stsec_ehlo_feed(struct stsec_ehlo *e, const char *line, size_t len);
/* Applies the checks that need the whole reply (MAX-AGE present). */
void	stsec_ehlo_finish(struct stsec_ehlo *e);

const char *stsec_kw_state_str(enum stsec_kw_state s);

/* A MAX-AGE value, 1*10DIGIT: 0, or -1 on anything else. */
int	stsec_max_age_parse(const char *s, size_t len, int64_t *out);

enum stsec_pkp_form {
	STSEC_PKP_SINGLE = 0,	/* PKP MAX-AGE=n PIN-SHA256=a PIN-SHA256=b */
	STSEC_PKP_MULTI		/* one PKP line per pin, then PKP MAX-AGE=n */
};

struct stsec_ehlo_lines {
	size_t	n;
	char	line[STSEC_MAX_PINS + 1][STSEC_EHLO_LINE_MAX + 1];
};

/*
 * The server's PKP keyword lines.  -1 if a line would exceed
 * STSEC_EHLO_LINE_MAX (about 8 pins fit the single-line form), if the
 * set is empty (allowed with max_age 0 alone: "PKP MAX-AGE=0" retires the
 * pins), or if max_age is out of range.
 */
int	stsec_ehlo_format_pkp(const struct stsec_pinset *pins, int64_t max_age,
	    enum stsec_pkp_form form, struct stsec_ehlo_lines *out,
	    struct stsec_error *err);
/* "STSEC MAX-AGE=n" into buf. */
int	stsec_ehlo_format_stsec(int64_t max_age, char *buf, size_t len,
	    struct stsec_error *err);

const char *stsec_pkp_form_str(enum stsec_pkp_form f);
int	stsec_pkp_form_parse(const char *s, enum stsec_pkp_form *out);

/* ------------------------------------------------------------------ */
/* server: what a server may advertise                                 */

/*
 * The server's self-check (DESIGN 1.2), run at start and reload.  served:
 * the pins of the keys the server presents; backups: the configured
 * backup pins.  On success *advertise is served + backups (what PKP
 * carries) and 0 is returned.  -1, with the reason, when there is no
 * served pin, no backup pin outside the served keys (a set without one
 * locks senders out at the next key change), too many pins, or max_age
 * above cap.  max_age 0 (retiring the pins) needs no backup.
 */
int	stsec_server_check(const struct stsec_pinset *served,
	    const struct stsec_pinset *backups, int64_t max_age, int64_t cap,
	    struct stsec_pinset *advertise, struct stsec_error *err);

/* ------------------------------------------------------------------ */
/* records                                                             */

enum stsec_early {
	STSEC_EARLY_UNKNOWN = 0,	/* never tried STARTTLS before EHLO */
	STSEC_EARLY_ACCEPTED,		/* 220 to STARTTLS after the greeting */
	STSEC_EARLY_REFUSED		/* 503 to it: send EHLO first */
};

/* What the store knows of one peer (MX host name). */
struct stsec_host_rec {
	struct stsec_pinset pins;
	int64_t		pkp_expires;	/* 0: no pins */
	int64_t		stsec_expires;	/* 0: no STSEC */
	enum stsec_early early;
	int64_t		first_seen;
	int64_t		last_seen;
	int		has_last_pin;
	struct stsec_pin last_pin;	/* leaf SPKI pin of the last TLS session */
};

/* "A host of this domain's MX set had STSEC until T." */
struct stsec_domain_rec {
	int64_t		stsec_expires;
	int64_t		noted;		/* when */
	char		via[STSEC_NAME_MAX + 1];	/* the host that taught it */
};

const char *stsec_early_str(enum stsec_early e);

/*
 * Lower-cases, strips one trailing dot and checks a host or domain name
 * (letters, digits, '-', '_', '.', or an address literal in brackets,
 * optionally with ":PORT" for a peer reached on another port).
 */
int	stsec_name_normalize(const char *in, char *out, size_t outlen,
	    struct stsec_error *err);

#define STSEC_RECORD_VERSION	1
#define STSEC_HOST_REC_MAX	(4 + 6 * 8 + 1 + STSEC_PIN_LEN * (STSEC_MAX_PINS + 1))
#define STSEC_DOMAIN_REC_MAX	(4 + 2 * 8 + 1 + STSEC_NAME_MAX)

/* Encode into buf; returns the length used, or -1 if buf is too small. */
int	stsec_record_encode_host(const struct stsec_host_rec *r,
	    unsigned char *buf, size_t len, struct stsec_error *err);
int	stsec_record_decode_host(const unsigned char *buf, size_t len,
	    struct stsec_host_rec *r, struct stsec_error *err);
int	stsec_record_encode_domain(const struct stsec_domain_rec *r,
	    unsigned char *buf, size_t len, struct stsec_error *err);
int	stsec_record_decode_domain(const unsigned char *buf, size_t len,
	    struct stsec_domain_rec *r, struct stsec_error *err);

/* ------------------------------------------------------------------ */
/* policy: noting and enforcement                                      */

enum stsec_tls_level {		/* ordered: "required" is a comparison */
	STSEC_TLS_NONE = 0,
	STSEC_TLS_MAY,
	STSEC_TLS_ENCRYPT
};

enum stsec_mode {
	STSEC_MODE_ENFORCE = 0,
	STSEC_MODE_REPORT	/* log what enforcement would do, deliver */
};

struct stsec_policy_cfg {
	int64_t		pkp_cap;	/* MAX-AGE caps, seconds */
	int64_t		stsec_cap;
	enum stsec_mode	pkp_mode;
	enum stsec_tls_level tls_level;	/* configured floor for this route */
};

void	stsec_policy_cfg_default(struct stsec_policy_cfg *cfg);
const char *stsec_tls_level_str(enum stsec_tls_level l);
int	stsec_tls_level_parse(const char *s, enum stsec_tls_level *out);
const char *stsec_mode_str(enum stsec_mode m);
int	stsec_mode_parse(const char *s, enum stsec_mode *out);

/* Why TLS is required for a connection. */
enum stsec_why {
	STSEC_WHY_NONE = 0,	/* it is not */
	STSEC_WHY_CONFIG,	/* tls_level = encrypt */
	STSEC_WHY_HOST_STSEC,	/* the host's STSEC is live */
	STSEC_WHY_HOST_PKP,	/* the host's pins are live */
	STSEC_WHY_DOMAIN_STSEC	/* inherited from another MX of the domain */
};
const char *stsec_why_str(enum stsec_why w);

/* Before connecting: what this connection must do. */
struct stsec_plan {
	enum stsec_tls_level level;	/* effective level */
	enum stsec_why	why;
	int		starttls_first;	/* STARTTLS right after the greeting */
	int		pinned;		/* live pins: check the chain */
};

/*
 * host and domain may be NULL (nothing known).  Expired entries count
 * as absent.
 */
void	stsec_policy_plan(const struct stsec_host_rec *host,
	    const struct stsec_domain_rec *domain, int64_t now,
	    const struct stsec_policy_cfg *cfg, struct stsec_plan *out);

enum stsec_verdict {
	STSEC_PROCEED = 0,	/* go on with this connection */
	STSEC_DEFER		/* 4xx: keep the message queued */
};
const char *stsec_verdict_str(enum stsec_verdict v);

struct stsec_decision {
	enum stsec_verdict verdict;
	const char	*status;	/* enhanced status code when DEFER */
	int		authenticated;	/* a chain key matched a live pin */
	int		report_only;	/* enforcement would have deferred */
	char		reason[256];
};

enum stsec_tls_event {
	STSEC_TLS_NOT_OFFERED = 0,	/* no STARTTLS in the EHLO reply */
	STSEC_TLS_REFUSED,		/* STARTTLS answered other than 220 */
	STSEC_TLS_HANDSHAKE_FAILED
};
const char *stsec_tls_event_str(enum stsec_tls_event e);

/* TLS could not be had: defer (4.7.4) or go on in plaintext. */
void	stsec_policy_no_tls(const struct stsec_plan *plan,
	    enum stsec_tls_event ev, struct stsec_decision *out);

/*
 * After the handshake, before any EHLO: do the keys the caller trusts
 * satisfy the live pins?  Pass the leaf's pin for a chain that did not
 * validate (a peer may append any public certificate to its chain), or
 * the pins of the whole verified chain (stsec_pinset_from_chain on
 * SSL_get0_verified_chain) when it did.
 * A mismatch defers with 4.7.5, or proceeds with report_only set.
 */
void	stsec_policy_check_chain(const struct stsec_host_rec *host,
	    const struct stsec_pinset *chain, int64_t now,
	    const struct stsec_policy_cfg *cfg, struct stsec_decision *out);

/* What one connection showed, for noting. */
struct stsec_note_in {
	int		in_tls;		/* the EHLO reply came inside TLS */
	const struct stsec_ehlo *ehlo;	/* finished; NULL: none */
	const struct stsec_pinset *chain;	/* leaf first; NULL: none */
	int		chain_ok;	/* stsec_policy_check_chain() gave
					   PROCEED and not report_only */
};

/* Bits of stsec_note_out.changes */
#define STSEC_NOTED_STSEC	0x001	/* STSEC learned or renewed */
#define STSEC_FORGOT_STSEC	0x002	/* MAX-AGE=0 */
#define STSEC_NOTED_PKP		0x004	/* pin set learned or replaced */
#define STSEC_FORGOT_PKP	0x008	/* MAX-AGE=0 */
#define STSEC_PKP_NO_MATCH	0x010	/* refused: no pin matches the chain */
#define STSEC_PKP_NO_BACKUP	0x020	/* refused: every pin is in the chain */
#define STSEC_PKP_BAD	0x040	/* malformed PKP ignored */
#define STSEC_STSEC_BAD	0x080	/* malformed STSEC ignored */
#define STSEC_KEY_CHANGE	0x100	/* unpinned host shows a new leaf key */
#define STSEC_NOTED_DOMAIN	0x200	/* domain record set or renewed */
#define STSEC_FORGOT_DOMAIN	0x400	/* domain record removed */
#define STSEC_NOT_NOTED		0x800	/* plaintext or failed pins: nothing */

struct stsec_note_out {
	unsigned	changes;
	char		reason[256];	/* one line for the log */
};

/*
 * Applies what a connection showed to the host record (and, when the
 * host was reached as an MX of a domain, to that domain's record, which
 * may be NULL).  Both are updated in place; seen times always, policy
 * only from an EHLO inside TLS on a connection whose chain was accepted.
 */
void	stsec_policy_note(struct stsec_host_rec *host,
	    struct stsec_domain_rec *domain, const char *host_name,
	    const struct stsec_note_in *in, int64_t now,
	    const struct stsec_policy_cfg *cfg, struct stsec_note_out *out);

/* The peer's answer to STARTTLS sent right after the greeting. */
void	stsec_policy_note_early(struct stsec_host_rec *host, int accepted);

/* Live parts of a record at time now. */
int	stsec_host_stsec_live(const struct stsec_host_rec *h, int64_t now);
int	stsec_host_pkp_live(const struct stsec_host_rec *h, int64_t now);
int	stsec_domain_live(const struct stsec_domain_rec *d, int64_t now);

/* ------------------------------------------------------------------ */
/* store: the TDB file                                                 */

struct stsec_store;

#define STSEC_STORE_CREATE	0x1	/* create the file if missing */
#define STSEC_STORE_RDONLY	0x2

/*
 * Opens (or creates) a store.  Fails with a clear message on a file that
 * is not a tdb, fails tdb_check, has no or an unknown version key.
 */
struct stsec_store *stsec_store_open(const char *path, int flags,
	    struct stsec_error *err);
void	stsec_store_close(struct stsec_store *st);
const char *stsec_store_path(const struct stsec_store *st);

/* 1 found, 0 not found, -1 error (a malformed record is an error). */
int	stsec_store_get_host(struct stsec_store *st, const char *name,
	    struct stsec_host_rec *out, struct stsec_error *err);
int	stsec_store_get_domain(struct stsec_store *st, const char *name,
	    struct stsec_domain_rec *out, struct stsec_error *err);
/* Each in its own transaction. */
int	stsec_store_put_host(struct stsec_store *st, const char *name,
	    const struct stsec_host_rec *r, struct stsec_error *err);
int	stsec_store_put_domain(struct stsec_store *st, const char *name,
	    const struct stsec_domain_rec *r, struct stsec_error *err);
/* 1 removed, 0 was not there, -1 error. */
int	stsec_store_forget_host(struct stsec_store *st, const char *name,
	    struct stsec_error *err);
int	stsec_store_forget_domain(struct stsec_store *st, const char *name,
	    struct stsec_error *err);

/*
 * Read-modify-write of one host record and, when domain is not NULL, one
 * domain record, in one transaction.  fn receives the current records
 * (zeroed when not found, with *_found saying which) and returns a mask
 * of STSEC_STORE_WRITE_* telling what to write back, or -1 to cancel.
 */
#define STSEC_STORE_WRITE_HOST		0x1
#define STSEC_STORE_WRITE_DOMAIN	0x2
#define STSEC_STORE_DELETE_DOMAIN	0x4

typedef int stsec_store_update_fn(struct stsec_host_rec *host, int host_found,
	    struct stsec_domain_rec *domain, int domain_found, void *arg);

int	stsec_store_update(struct stsec_store *st, const char *host,
	    const char *domain, stsec_store_update_fn *fn, void *arg,
	    struct stsec_error *err);

enum stsec_store_kind {
	STSEC_STORE_HOST = 0,
	STSEC_STORE_DOMAIN
};

/*
 * Calls fn for every record, in no particular order.  rec points to a
 * struct stsec_host_rec or struct stsec_domain_rec by kind.  A non-zero
 * return from fn stops the walk and is returned.
 */
typedef int stsec_store_walk_fn(enum stsec_store_kind kind, const char *name,
	    const void *rec, void *arg);

int	stsec_store_walk(struct stsec_store *st, stsec_store_walk_fn *fn,
	    void *arg, struct stsec_error *err);

#endif /* STSEC_H */
