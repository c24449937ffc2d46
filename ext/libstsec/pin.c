/*
 * pin.c - SPKI SHA-256 pins: computing them, pin sets, chain matching.
 *
 *	stsec_pin_from_pkey()	SHA-256 over the DER SubjectPublicKeyInfo
 *	stsec_pin_from_x509()	the pin of a certificate's key
 *	stsec_pin_from_file()	the pin of the first certificate, public key,
 *				unencrypted private key or CSR in a PEM file
 *	stsec_pin_to_b64()	base64 (44 characters)
 *	stsec_pin_from_b64()	strict, canonical base64 to a pin
 *	stsec_pin_equal()	1 when two pins are the same
 *	stsec_pinset_clear()	empty a set
 *	stsec_pinset_add()	add a pin unless present
 *	stsec_pinset_contains()	1 when a pin is in a set
 *	stsec_pinset_common()	how many pins of one set are in another
 *	stsec_pinset_from_chain() the pins of a peer chain, leaf first
 *	stsec_pin_match_chain()	does a key of a chain match a pin of a set
 *
 * DIAGNOSTICS
 *	Functions that can fail return -1 and leave a one-line message in
 *	the struct stsec_error; file errors name the file.  OpenSSL errors
 *	raised here are popped again, so the caller's error queue is left
 *	as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "stsec.h"

/* A PEM file larger than this holds no key we want. */
#define PIN_FILE_MAX	(1024 * 1024)

enum pem_type {
	PEM_T_CERT,
	PEM_T_TRUSTED,
	PEM_T_PUBKEY,
	PEM_T_RSA_PUBKEY,
	PEM_T_PRIVKEY,
	PEM_T_RSA_PRIVKEY,
	PEM_T_EC_PRIVKEY,
	PEM_T_ENCRYPTED,
	PEM_T_CSR
};

static const struct pem_kind {
	const char	*name;
	enum pem_type	 type;
	const char	*what;
} pem_kinds[] = {
	{ "CERTIFICATE",		PEM_T_CERT,		"certificate" },
	{ "X509 CERTIFICATE",		PEM_T_CERT,		"certificate" },
	{ "TRUSTED CERTIFICATE",	PEM_T_TRUSTED,		"certificate" },
	{ "PUBLIC KEY",			PEM_T_PUBKEY,		"public key" },
	{ "RSA PUBLIC KEY",		PEM_T_RSA_PUBKEY,	"public key" },
	{ "PRIVATE KEY",		PEM_T_PRIVKEY,		"private key" },
	{ "RSA PRIVATE KEY",		PEM_T_RSA_PRIVKEY,	"private key" },
	{ "EC PRIVATE KEY",		PEM_T_EC_PRIVKEY,	"private key" },
	{ "ENCRYPTED PRIVATE KEY",	PEM_T_ENCRYPTED,	"private key" },
	{ "CERTIFICATE REQUEST",	PEM_T_CSR,		"CSR" },
	{ "NEW CERTIFICATE REQUEST",	PEM_T_CSR,		"CSR" },
};

/* ------------------------------------------------------------------ */
/* pin sets                                                            */

int
stsec_pin_equal(const struct stsec_pin *a, const struct stsec_pin *b)
{
	return memcmp(a->hash, b->hash, STSEC_PIN_LEN) == 0;
}

void
stsec_pinset_clear(struct stsec_pinset *set)
{
	memset(set, 0, sizeof(*set));
}

int
stsec_pinset_contains(const struct stsec_pinset *set,
    const struct stsec_pin *pin)
{
	size_t	i;

	for (i = 0; i < set->n && i < STSEC_MAX_PINS; i++)
		if (stsec_pin_equal(&set->pin[i], pin))
			return 1;
	return 0;
}

int
stsec_pinset_add(struct stsec_pinset *set, const struct stsec_pin *pin,
    struct stsec_error *err)
{
	if (stsec_pinset_contains(set, pin))
		return 0;
	if (set->n >= STSEC_MAX_PINS)
		return stsec_error_set(err, "pin set full (%d)",
		    STSEC_MAX_PINS);
	set->pin[set->n++] = *pin;
	return 0;
}

size_t
stsec_pinset_common(const struct stsec_pinset *a,
    const struct stsec_pinset *b)
{
	size_t	i, n = 0;

	for (i = 0; i < a->n && i < STSEC_MAX_PINS; i++)
		if (stsec_pinset_contains(b, &a->pin[i]))
			n++;
	return n;
}

/* ------------------------------------------------------------------ */
/* pins of keys and certificates                                       */

int
stsec_pin_from_pkey(const EVP_PKEY *pkey, struct stsec_pin *out,
    struct stsec_error *err)
{
	unsigned char	*der = NULL;
	unsigned int	 mdlen = 0;
	int		 len, ok;

	if (pkey == NULL)
		return stsec_error_set(err, "no public key");
	len = i2d_PUBKEY(pkey, &der);
	if (len <= 0 || der == NULL)
		return stsec_error_set(err,
		    "cannot encode the public key (unsupported type?)");
	ok = EVP_Digest(der, (size_t)len, out->hash, &mdlen, EVP_sha256(),
	    NULL);
	OPENSSL_free(der);
	if (ok != 1 || mdlen != STSEC_PIN_LEN)
		return stsec_error_set(err, "SHA-256 failed");
	return 0;
}

int
stsec_pin_from_x509(const X509 *cert, struct stsec_pin *out,
    struct stsec_error *err)
{
	const EVP_PKEY	*pkey;

	if (cert == NULL)
		return stsec_error_set(err, "no certificate");
	pkey = X509_get0_pubkey(cert);
	if (pkey == NULL)
		return stsec_error_set(err,
		    "certificate without a usable public key");
	return stsec_pin_from_pkey(pkey, out, err);
}

/* ------------------------------------------------------------------ */
/* PEM files                                                           */

static const struct pem_kind *
pem_kind_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(pem_kinds) / sizeof(pem_kinds[0]); i++)
		if (strcmp(pem_kinds[i].name, name) == 0)
			return &pem_kinds[i];
	return NULL;
}

static EVP_PKEY *
pem_decode_cert(const unsigned char **pp, long len, int trusted)
{
	X509		*x;
	EVP_PKEY	*pkey;

	x = trusted ? d2i_X509_AUX(NULL, pp, len) : d2i_X509(NULL, pp, len);
	if (x == NULL)
		return NULL;
	pkey = X509_get_pubkey(x);
	X509_free(x);
	return pkey;
}

static EVP_PKEY *
pem_decode_csr(const unsigned char **pp, long len)
{
	X509_REQ	*req;
	EVP_PKEY	*pkey;

	req = d2i_X509_REQ(NULL, pp, len);
	if (req == NULL)
		return NULL;
	pkey = X509_REQ_get_pubkey(req);
	X509_REQ_free(req);
	return pkey;
}

/* The key of one DER object of a known type; NULL if it will not decode. */
static EVP_PKEY *
pem_decode(enum pem_type type, const unsigned char *der, long len)
{
	const unsigned char	*p = der;
	EVP_PKEY		*pkey = NULL;

	switch (type) {
	case PEM_T_CERT:
	case PEM_T_TRUSTED:
		pkey = pem_decode_cert(&p, len, type == PEM_T_TRUSTED);
		break;
	case PEM_T_PUBKEY:
		pkey = d2i_PUBKEY(NULL, &p, len);
		break;
	case PEM_T_RSA_PUBKEY:
		pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
		break;
	case PEM_T_PRIVKEY:
		pkey = d2i_AutoPrivateKey(NULL, &p, len);
		break;
	case PEM_T_RSA_PRIVKEY:
		pkey = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
		break;
	case PEM_T_EC_PRIVKEY:
		pkey = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, len);
		break;
	case PEM_T_CSR:
		pkey = pem_decode_csr(&p, len);
		break;
	case PEM_T_ENCRYPTED:
		break;
	}
	if (pkey != NULL && p != der + len) {	/* trailing garbage */
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

/*
 * One PEM block: 1 and the pin when it holds a key, 0 when it is some
 * other kind of block, -1 on a key-bearing block that is unusable.
 */
static int
pem_block_pin(const char *path, const char *name, const char *header,
    const unsigned char *der, long len, struct stsec_pin *out,
    struct stsec_error *err)
{
	const struct pem_kind	*k;
	EVP_PKEY		*pkey;
	int			 rc;

	if ((k = pem_kind_find(name)) == NULL)
		return 0;
	/* PKCS#8 encryption, or a traditional "Proc-Type: 4,ENCRYPTED" */
	if (k->type == PEM_T_ENCRYPTED ||
	    (header != NULL && strstr(header, "ENCRYPTED") != NULL))
		return stsec_error_set(err, "%s: encrypted private key "
		    "(give the certificate, public key or CSR instead)", path);
	if ((pkey = pem_decode(k->type, der, len)) == NULL)
		return stsec_error_set(err, "%s: bad %s", path, k->what);
	rc = stsec_pin_from_pkey(pkey, out, err);
	EVP_PKEY_free(pkey);
	if (rc == -1)
		return stsec_error_set(err, "%s: %s: cannot compute pin",
		    path, k->what);
	return 1;
}

/* Why PEM_read_bio() stopped: the end of the file, or a broken block. */
static int
pem_read_error(const char *path, struct stsec_error *err)
{
	unsigned long	e = ERR_peek_last_error();

	if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
		return stsec_error_set(err,
		    "%s: no certificate, key or CSR found", path);
	return stsec_error_set(err, "%s: malformed PEM", path);
}

static int
pem_scan(BIO *bio, const char *path, struct stsec_pin *out,
    struct stsec_error *err)
{
	char		*name, *header;
	unsigned char	*data;
	long		 len;
	int		 rc;

	for (;;) {
		name = header = NULL;
		data = NULL;
		len = 0;
		if (PEM_read_bio(bio, &name, &header, &data, &len) != 1)
			return pem_read_error(path, err);
		rc = pem_block_pin(path, name, header, data, len, out, err);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (rc != 0)
			return rc == 1 ? 0 : -1;
	}
}

static FILE *
pin_file_open(const char *path, struct stsec_error *err)
{
	FILE		*fp;
	struct stat	 st;

	if ((fp = fopen(path, "rb")) == NULL) {
		(void)stsec_error_set(err, "%s: cannot open: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == -1)
		(void)stsec_error_set(err, "%s: cannot stat: %s", path,
		    strerror(errno));
	else if (!S_ISREG(st.st_mode))
		(void)stsec_error_set(err, "%s: not a regular file", path);
	else if (st.st_size > PIN_FILE_MAX)
		(void)stsec_error_set(err, "%s: larger than %d octets", path,
		    PIN_FILE_MAX);
	else
		return fp;
	(void)fclose(fp);
	return NULL;
}

int
stsec_pin_from_file(const char *path, struct stsec_pin *out,
    struct stsec_error *err)
{
	FILE	*fp;
	BIO	*bio;
	int	 rc;

	if (path == NULL)
		return stsec_error_set(err, "no file name");
	if ((fp = pin_file_open(path, err)) == NULL)
		return -1;
	/* Its return value says whether the queue was empty, not failure. */
	(void)ERR_set_mark();
	if ((bio = BIO_new_fp(fp, BIO_CLOSE)) == NULL) {
		(void)fclose(fp);
		(void)ERR_pop_to_mark();
		return stsec_error_set(err, "%s: out of memory", path);
	}
	rc = pem_scan(bio, path, out, err);
	BIO_free(bio);
	(void)ERR_pop_to_mark();
	return rc;
}

/* ------------------------------------------------------------------ */
/* base64                                                              */

static int
b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

void
stsec_pin_to_b64(const struct stsec_pin *pin,
    char out[STSEC_PIN_B64_LEN + 1])
{
	(void)EVP_EncodeBlock((unsigned char *)out, pin->hash, STSEC_PIN_LEN);
	out[STSEC_PIN_B64_LEN] = '\0';
}

int
stsec_pin_from_b64(const char *s, size_t len, struct stsec_pin *out,
    struct stsec_error *err)
{
	unsigned char	 raw[STSEC_PIN_B64_LEN];	/* 33 used */
	char		 again[STSEC_PIN_B64_LEN + 1];
	struct stsec_pin pin;
	size_t		 i;

	if (s == NULL || len != STSEC_PIN_B64_LEN)
		return stsec_error_set(err, "PIN-SHA256 value has %zu "
		    "characters, want %d", s == NULL ? 0 : len,
		    STSEC_PIN_B64_LEN);
	for (i = 0; i < STSEC_PIN_B64_LEN - 1; i++)
		if (!b64_char((unsigned char)s[i]))
			return stsec_error_set(err, "PIN-SHA256 value is "
			    "not base64");
	if (s[STSEC_PIN_B64_LEN - 1] != '=')
		return stsec_error_set(err, "PIN-SHA256 value is not base64 "
		    "of %d octets (want one '=' at the end)", STSEC_PIN_LEN);
	if (EVP_DecodeBlock(raw, (const unsigned char *)s,
	    STSEC_PIN_B64_LEN) != STSEC_PIN_LEN + 1)
		return stsec_error_set(err, "PIN-SHA256 value is not base64");
	memcpy(pin.hash, raw, STSEC_PIN_LEN);
	stsec_pin_to_b64(&pin, again);
	if (memcmp(again, s, STSEC_PIN_B64_LEN) != 0)
		return stsec_error_set(err, "PIN-SHA256 value is not "
		    "canonical base64");
	*out = pin;
	return 0;
}

/* ------------------------------------------------------------------ */
/* chains                                                              */

static int
chain_count(STACK_OF(X509) *chain, struct stsec_error *err)
{
	int	n;

	if (chain == NULL)
		return 0;
	n = sk_X509_num(chain);
	if (n < 0)
		return stsec_error_set(err, "bad certificate chain");
	if (n > STSEC_MAX_PINS)
		return stsec_error_set(err, "certificate chain of %d, at "
		    "most %d", n, STSEC_MAX_PINS);
	return n;
}

static int
chain_pin(STACK_OF(X509) *chain, int i, struct stsec_pin *pin,
    struct stsec_error *err)
{
	struct stsec_error	e;

	if (stsec_pin_from_x509(sk_X509_value(chain, i), pin, &e) == -1)
		return stsec_error_set(err, "chain certificate %d: %s", i,
		    e.msg);
	return 0;
}

int
stsec_pinset_from_chain(STACK_OF(X509) *chain, struct stsec_pinset *out,
    struct stsec_error *err)
{
	struct stsec_pin	pin;
	int			i, n;

	stsec_pinset_clear(out);
	if ((n = chain_count(chain, err)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (chain_pin(chain, i, &pin, err) == -1 ||
		    stsec_pinset_add(out, &pin, err) == -1) {
			stsec_pinset_clear(out);
			return -1;
		}
	}
	return 0;
}

int
stsec_pin_match_chain(const struct stsec_pinset *pins,
    STACK_OF(X509) *chain, int *index, struct stsec_error *err)
{
	struct stsec_pin	pin;
	int			i, n;

	if (index != NULL)
		*index = -1;
	if (pins == NULL)
		return stsec_error_set(err, "no pin set");
	if ((n = chain_count(chain, err)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (chain_pin(chain, i, &pin, err) == -1)
			return -1;
		if (stsec_pinset_contains(pins, &pin)) {
			if (index != NULL)
				*index = i;
			return 1;
		}
	}
	return 0;
}
