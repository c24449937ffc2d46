/*
 * test_pin.c - unit tests of ext/libstsec/pin.c.
 *
 * The group setup generates RSA-2048, EC P-256 and Ed25519 keys,
 * self-signed certificates, public key files and CSRs in a temporary
 * directory, once, and computes each key's pin with the openssl command
 * line: the oracle every file and every certificate must agree with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "stsec.h"
#include "testutil.h"

enum ident { ID_RSA, ID_EC, ID_ED, ID_N };

static const char *const id_name[ID_N] = { "rsa", "ec", "ed" };

struct fixture {
	char	*dir;
	char	*oracle[ID_N];	/* base64 pin, from the openssl CLI */
	X509	*cert[ID_N];
};

/* Run in the fixture directory; every command must succeed. */
static const char *const gen_cmds[] = {
	"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out rsa.p8",
	"openssl pkey -in rsa.p8 -traditional -out rsa.pkcs1",
	"openssl pkey -in rsa.p8 -pubout -out rsa.pub",
	"openssl rsa -in rsa.p8 -RSAPublicKey_out -out rsa.rsapub",
	"openssl req -x509 -new -key rsa.p8 -subj /CN=rsa -days 2 -out rsa.crt",
	"openssl req -new -key rsa.p8 -subj /CN=rsa -out rsa.csr",
	"openssl x509 -in rsa.crt -trustout -addtrust serverAuth "
	    "-out rsa.trusted",
	"sed 's/CERTIFICATE REQUEST/NEW CERTIFICATE REQUEST/' rsa.csr "
	    ">rsa.newcsr",
	"sed 's/CERTIFICATE/X509 CERTIFICATE/' rsa.crt >rsa.x509",
	"openssl ecparam -name prime256v1 -genkey -out ec.key",
	"openssl pkey -in ec.key -out ec.p8",
	"openssl pkey -in ec.key -pubout -out ec.pub",
	"openssl req -x509 -new -key ec.key -subj /CN=ec -days 2 -out ec.crt",
	"openssl req -new -key ec.key -subj /CN=ec -out ec.csr",
	"openssl genpkey -algorithm ED25519 -out ed.p8",
	"openssl pkey -in ed.p8 -pubout -out ed.pub",
	"openssl req -x509 -new -key ed.p8 -subj /CN=ed -days 2 -out ed.crt",
	"openssl req -new -key ed.p8 -subj /CN=ed -out ed.csr",
	"openssl pkey -in ec.key -aes128 -passout pass:secret -out enc.p8",
	"openssl pkey -in rsa.p8 -traditional -aes128 -passout pass:secret "
	    "-out enc.pkcs1",
	"cat ec.crt rsa.crt >chain.pem",
	"{ echo 'some text first'; cat ed.pub; } >text.pem",
	"openssl ecparam -name prime256v1 -out params.pem",
	"{ cat params.pem; printf -- '-----BEGIN FOO-----\\nAAAA\\n"
	    "-----END FOO-----\\n'; cat ec.pub; } >skip.pem",
	"printf 'this is not PEM\\n' >garbage",
	": >empty",
	"printf -- '-----BEGIN CERTIFICATE-----\\nAAAA\\n"
	    "-----END CERTIFICATE-----\\n' >baddata.crt",
	"printf -- '-----BEGIN CERTIFICATE REQUEST-----\\nMAMCAQA=\\n"
	    "-----END CERTIFICATE REQUEST-----\\n' >bad.csr",
	"printf -- '-----BEGIN PUBLIC KEY-----\\nMAA=\\n"
	    "-----END PUBLIC KEY-----\\n' >bad.pub",
	"printf -- '-----BEGIN CERTIFICATE-----\\n!!!!\\n"
	    "-----END CERTIFICATE-----\\n' >malformed.pem",
	"mkdir adir",
	"{ cat rsa.crt; head -c 1100000 /dev/zero; } >big",
};

static char *
oracle_pin(const char *dir, const char *name)
{
	return tu_sh_out("openssl x509 -in '%s/%s.crt' -pubkey -noout | "
	    "openssl pkey -pubin -outform der | "
	    "openssl dgst -sha256 -binary | base64", dir, name);
}

static X509 *
load_cert(const char *dir, const char *name)
{
	char	path[512];
	FILE	*fp;
	X509	*x;

	(void)snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	(void)fclose(fp);
	return x;
}

static int
group_teardown(void **state)
{
	struct fixture	*f = *state;
	int		 i;

	if (f == NULL)
		return 0;
	for (i = 0; i < ID_N; i++) {
		free(f->oracle[i]);
		X509_free(f->cert[i]);
	}
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static int
group_setup(void **state)
{
	struct fixture	*f;
	size_t		 i;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	*state = f;
	if ((f->dir = tu_tmpdir()) == NULL)
		return -1;
	for (i = 0; i < sizeof(gen_cmds) / sizeof(gen_cmds[0]); i++)
		if (tu_sh("cd '%s' && %s 2>/dev/null", f->dir,
		    gen_cmds[i]) != 0) {
			fprintf(stderr, "setup failed: %s\n", gen_cmds[i]);
			return -1;
		}
	for (i = 0; i < ID_N; i++) {
		f->oracle[i] = oracle_pin(f->dir, id_name[i]);
		f->cert[i] = load_cert(f->dir, id_name[i]);
		if (f->oracle[i] == NULL ||
		    strlen(f->oracle[i]) != STSEC_PIN_B64_LEN ||
		    f->cert[i] == NULL)
			return -1;
	}
	return 0;
}

static void
pin_of_b64(const char *b64, struct stsec_pin *pin)
{
	struct stsec_error	err;

	assert_int_equal(stsec_pin_from_b64(b64, strlen(b64), pin, &err), 0);
}

/* ------------------------------------------------------------------ */

/* Every file that holds a key: which key, and its first PEM label. */
static const struct file_case {
	const char	*file;
	enum ident	 id;
	const char	*label;		/* must be in the file */
} file_cases[] = {
	{ "rsa.crt",	ID_RSA,	"CERTIFICATE" },
	{ "rsa.x509",	ID_RSA,	"X509 CERTIFICATE" },
	{ "rsa.trusted", ID_RSA, "TRUSTED CERTIFICATE" },
	{ "rsa.p8",	ID_RSA,	"PRIVATE KEY" },
	{ "rsa.pkcs1",	ID_RSA,	"RSA PRIVATE KEY" },
	{ "rsa.pub",	ID_RSA,	"PUBLIC KEY" },
	{ "rsa.rsapub",	ID_RSA,	"RSA PUBLIC KEY" },
	{ "rsa.csr",	ID_RSA,	"CERTIFICATE REQUEST" },
	{ "rsa.newcsr",	ID_RSA,	"NEW CERTIFICATE REQUEST" },
	{ "ec.crt",	ID_EC,	"CERTIFICATE" },
	{ "ec.key",	ID_EC,	"EC PARAMETERS" },	/* then EC PRIVATE KEY */
	{ "ec.key",	ID_EC,	"EC PRIVATE KEY" },
	{ "ec.p8",	ID_EC,	"PRIVATE KEY" },
	{ "ec.pub",	ID_EC,	"PUBLIC KEY" },
	{ "ec.csr",	ID_EC,	"CERTIFICATE REQUEST" },
	{ "ed.crt",	ID_ED,	"CERTIFICATE" },
	{ "ed.p8",	ID_ED,	"PRIVATE KEY" },
	{ "ed.pub",	ID_ED,	"PUBLIC KEY" },
	{ "ed.csr",	ID_ED,	"CERTIFICATE REQUEST" },
	{ "chain.pem",	ID_EC,	"CERTIFICATE" },	/* the first one counts */
	{ "text.pem",	ID_ED,	"PUBLIC KEY" },
	{ "skip.pem",	ID_EC,	"BEGIN FOO" },
};

static void
test_file_matches_oracle(void **state)
{
	struct fixture		*f = *state;
	const struct file_case	*c;
	struct stsec_pin	 pin;
	struct stsec_error	 err;
	char			 path[512], b64[STSEC_PIN_B64_LEN + 1];
	size_t			 i;

	for (i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
		c = &file_cases[i];
		(void)snprintf(path, sizeof(path), "%s/%s", f->dir, c->file);
		assert_int_equal(tu_sh("grep -q -- '%s' '%s'", c->label,
		    path), 0);
		memset(&err, 0, sizeof(err));
		if (stsec_pin_from_file(path, &pin, &err) != 0)
			fail_msg("%s: %s", c->file, err.msg);
		stsec_pin_to_b64(&pin, b64);
		if (strcmp(b64, f->oracle[c->id]) != 0)
			fail_msg("%s: pin %s, oracle %s", c->file, b64,
			    f->oracle[c->id]);
		assert_int_equal(ERR_peek_error(), 0);
	}
}

static const struct bad_file_case {
	const char	*file;
	const char	*want;		/* substring of the message */
} bad_file_cases[] = {
	{ "enc.p8",		"encrypted private key" },
	{ "enc.pkcs1",		"encrypted private key" },
	{ "no-such-file",	"cannot open: No such file" },
	{ "garbage",		"no certificate, key or CSR found" },
	{ "empty",		"no certificate, key or CSR found" },
	{ "params.pem",		"no certificate, key or CSR found" },
	{ "baddata.crt",	"bad certificate" },
	{ "bad.csr",		"bad CSR" },
	{ "bad.pub",		"bad public key" },
	{ "malformed.pem",	"malformed PEM" },
	{ "adir",		"not a regular file" },
	{ "/dev/null",		"not a regular file" },
	{ "big",		"larger than 1048576 octets" },
};

static void
test_file_errors(void **state)
{
	struct fixture		*f = *state;
	struct stsec_pin	 pin;
	struct stsec_error	 err;
	char			 path[512];
	size_t			 i;

	for (i = 0; i < sizeof(bad_file_cases) / sizeof(bad_file_cases[0]);
	    i++) {
		if (bad_file_cases[i].file[0] == '/')
			(void)snprintf(path, sizeof(path), "%s",
			    bad_file_cases[i].file);
		else
			(void)snprintf(path, sizeof(path), "%s/%s", f->dir,
			    bad_file_cases[i].file);
		memset(&err, 0, sizeof(err));
		if (stsec_pin_from_file(path, &pin, &err) != -1)
			fail_msg("%s: accepted", bad_file_cases[i].file);
		if (strstr(err.msg, bad_file_cases[i].want) == NULL ||
		    strstr(err.msg, path) == NULL)
			fail_msg("%s: message \"%s\", want \"%s\" and the path",
			    bad_file_cases[i].file, err.msg,
			    bad_file_cases[i].want);
		assert_int_equal(ERR_peek_error(), 0);
	}
	assert_int_equal(stsec_pin_from_file(NULL, &pin, NULL), -1);
}

static void
test_x509_and_pkey(void **state)
{
	struct fixture		*f = *state;
	struct stsec_pin	 pin, want;
	struct stsec_error	 err;
	X509			*empty;
	int			 i;

	for (i = 0; i < ID_N; i++) {
		pin_of_b64(f->oracle[i], &want);
		assert_int_equal(stsec_pin_from_x509(f->cert[i], &pin, &err),
		    0);
		assert_true(stsec_pin_equal(&pin, &want));
		assert_int_equal(stsec_pin_from_pkey(
		    X509_get0_pubkey(f->cert[i]), &pin, &err), 0);
		assert_true(stsec_pin_equal(&pin, &want));
	}
	assert_int_equal(stsec_pin_from_pkey(NULL, &pin, &err), -1);
	assert_int_equal(stsec_pin_from_x509(NULL, &pin, &err), -1);
	assert_non_null(empty = X509_new());
	assert_int_equal(stsec_pin_from_x509(empty, &pin, &err), -1);
	assert_non_null(strstr(err.msg, "without a usable public key"));
	X509_free(empty);
	ERR_clear_error();
}

/* ------------------------------------------------------------------ */

static const struct b64_case {
	const char	*s;
	size_t		 len;		/* 0: strlen(s) */
	const char	*want;		/* NULL: accepted */
} b64_cases[] = {
	{ "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=", 0, NULL },
	{ "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", 0, NULL },
	{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0, NULL },
	{ "//////////////////////////////////////////8=", 0, NULL },
	{ "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM", 0,
	    "has 43 characters, want 44" },
	{ "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM==", 0,
	    "has 45 characters, want 44" },
	{ "", 0, "has 0 characters, want 44" },
	{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", 0, "not base64" },
	{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0, "not base64" },
	{ "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWm*=", 0, "not base64" },
	{ "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZW-M=", 0, "not base64" },
	{ "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVo_WmM=", 0, "not base64" },
	{ "d6qzRu9zOECb90Uez27x ltNsj0e1Md7GkYYkVoZWmM=", 0, "not base64" },
	{ "d6qzRu9zOECb90Uez27x=ltNsj0e1Md7GkYYkVoZWmM=", 0, "not base64" },
	{ "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=\0", 44, NULL },
	{ "d6qzRu9zOECb90Uez27x\0ltNsj0e1Md7GkYYkVoZWmM=", 44, "not base64" },
	{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", 0,
	    "not canonical base64" },
	{ "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmN=", 0,
	    "not canonical base64" },
	{ "//////////////////////////////////////////9=", 0,
	    "not canonical base64" },
};

static void
test_b64_strict(void **state)
{
	const struct b64_case	*c;
	struct stsec_pin	 pin;
	struct stsec_error	 err;
	char			 back[STSEC_PIN_B64_LEN + 1];
	size_t			 i, len;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		c = &b64_cases[i];
		len = c->len != 0 ? c->len : strlen(c->s);
		memset(&err, 0, sizeof(err));
		rc = stsec_pin_from_b64(c->s, len, &pin, &err);
		if (c->want == NULL) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, err.msg);
			stsec_pin_to_b64(&pin, back);
			assert_memory_equal(back, c->s, STSEC_PIN_B64_LEN);
		} else if (rc != -1 || strstr(err.msg, c->want) == NULL) {
			fail_msg("case %zu: rc %d \"%s\", want \"%s\"", i, rc,
			    err.msg, c->want);
		}
	}
	assert_int_equal(stsec_pin_from_b64(NULL, 44, &pin, NULL), -1);
}

static void
test_b64_round_trip(void **state)
{
	struct stsec_pin	 a, b;
	char			 s[STSEC_PIN_B64_LEN + 1];
	int			 i, j;

	(void)state;
	for (i = 0; i < 256; i++) {
		for (j = 0; j < STSEC_PIN_LEN; j++)
			a.hash[j] = (unsigned char)(i * 31 + j * 7 + (i ^ j));
		memset(s, 'x', sizeof(s));
		stsec_pin_to_b64(&a, s);
		assert_int_equal(strlen(s), STSEC_PIN_B64_LEN);
		assert_int_equal(stsec_pin_from_b64(s, strlen(s), &b, NULL),
		    0);
		assert_true(stsec_pin_equal(&a, &b));
	}
}

/* ------------------------------------------------------------------ */

static void
make_pin(struct stsec_pin *p, int seed)
{
	memset(p->hash, 0, sizeof(p->hash));
	p->hash[0] = (unsigned char)seed;
	p->hash[31] = (unsigned char)(seed >> 8);
}

static void
test_pinset_add(void **state)
{
	struct stsec_pinset	a;
	struct stsec_pin	p;
	struct stsec_error	err;
	int			i;

	(void)state;
	stsec_pinset_clear(&a);
	assert_int_equal(a.n, 0);
	for (i = 0; i < STSEC_MAX_PINS; i++) {
		make_pin(&p, i);
		assert_int_equal(stsec_pinset_add(&a, &p, &err), 0);
		assert_int_equal(stsec_pinset_add(&a, &p, &err), 0);
		assert_int_equal(a.n, (size_t)i + 1);
	}
	make_pin(&p, 3);
	assert_int_equal(stsec_pinset_add(&a, &p, &err), 0);	/* dedupe */
	assert_int_equal(a.n, STSEC_MAX_PINS);
	make_pin(&p, 256);
	assert_false(stsec_pinset_contains(&a, &p));
	assert_int_equal(stsec_pinset_add(&a, &p, &err), -1);
	assert_string_equal(err.msg, "pin set full (16)");
	assert_int_equal(a.n, STSEC_MAX_PINS);
	assert_int_equal(stsec_pinset_add(&a, &p, NULL), -1);
}

static void
test_pinset_common(void **state)
{
	struct stsec_pinset	a, b;
	struct stsec_pin	p;
	int			i;

	(void)state;
	stsec_pinset_clear(&a);
	for (i = 0; i < STSEC_MAX_PINS; i++) {
		make_pin(&p, i);
		assert_int_equal(stsec_pinset_add(&a, &p, NULL), 0);
	}
	stsec_pinset_clear(&b);
	assert_int_equal(stsec_pinset_common(&a, &b), 0);
	for (i = 10; i < 20; i++) {
		make_pin(&p, i);
		assert_int_equal(stsec_pinset_add(&b, &p, NULL), 0);
	}
	assert_int_equal(stsec_pinset_common(&a, &b), 6);
	assert_int_equal(stsec_pinset_common(&b, &a), 6);
	make_pin(&p, 15);
	assert_true(stsec_pinset_contains(&a, &p));
	assert_true(stsec_pinset_contains(&b, &p));
	make_pin(&p, 9);
	assert_false(stsec_pinset_contains(&b, &p));
	stsec_pinset_clear(&a);
	assert_int_equal(a.n, 0);
	assert_false(stsec_pinset_contains(&a, &p));
}

/* ------------------------------------------------------------------ */

/* A chain of the fixture's certificates (not owned: sk_X509_free only). */
static STACK_OF(X509) *
chain_of(struct fixture *f, const enum ident *ids, size_t n)
{
	STACK_OF(X509)	*sk;
	size_t		 i;

	assert_non_null(sk = sk_X509_new_null());
	for (i = 0; i < n; i++)
		assert_true(sk_X509_push(sk, f->cert[ids[i]]) > 0);
	return sk;
}

static void
pinset_of(struct fixture *f, enum ident id, struct stsec_pinset *set)
{
	struct stsec_pin	p;

	stsec_pinset_clear(set);
	pin_of_b64(f->oracle[id], &p);
	assert_int_equal(stsec_pinset_add(set, &p, NULL), 0);
}

static const struct match_case {
	enum ident	pin;		/* the set holds this key's pin */
	int		want;
	int		index;
} match_cases[] = {
	{ ID_RSA,	1,	0 },
	{ ID_EC,	1,	1 },
	{ ID_ED,	0,	-1 },
};

static void
test_match_chain(void **state)
{
	static const enum ident	 ids[] = { ID_RSA, ID_EC };
	struct fixture		*f = *state;
	STACK_OF(X509)		*sk = chain_of(f, ids, 2);
	struct stsec_pinset	 set;
	struct stsec_error	 err;
	size_t			 i;
	int			 idx;

	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		pinset_of(f, match_cases[i].pin, &set);
		idx = 42;
		assert_int_equal(stsec_pin_match_chain(&set, sk, &idx, &err),
		    match_cases[i].want);
		assert_int_equal(idx, match_cases[i].index);
		assert_int_equal(stsec_pin_match_chain(&set, sk, NULL, &err),
		    match_cases[i].want);
	}
	pinset_of(f, ID_ED, &set);
	assert_int_equal(stsec_pin_match_chain(&set, NULL, &idx, &err), 0);
	assert_int_equal(idx, -1);
	sk_X509_free(sk);
}

static void
test_pinset_from_chain(void **state)
{
	static const enum ident	 ids[] = { ID_EC, ID_RSA, ID_EC, ID_ED };
	struct fixture		*f = *state;
	STACK_OF(X509)		*sk = chain_of(f, ids, 4);
	struct stsec_pinset	 set;
	struct stsec_pin	 p;
	struct stsec_error	 err;

	assert_int_equal(stsec_pinset_from_chain(sk, &set, &err), 0);
	assert_int_equal(set.n, 3);
	pin_of_b64(f->oracle[ID_EC], &p);
	assert_true(stsec_pin_equal(&set.pin[0], &p));	/* leaf first */
	pin_of_b64(f->oracle[ID_RSA], &p);
	assert_true(stsec_pin_equal(&set.pin[1], &p));
	pin_of_b64(f->oracle[ID_ED], &p);
	assert_true(stsec_pin_equal(&set.pin[2], &p));
	sk_X509_free(sk);

	assert_int_equal(stsec_pinset_from_chain(NULL, &set, &err), 0);
	assert_int_equal(set.n, 0);
}

static void
test_chain_errors(void **state)
{
	struct fixture		*f = *state;
	STACK_OF(X509)		*sk;
	struct stsec_pinset	 set;
	struct stsec_error	 err;
	X509			*empty;
	int			 i, idx;

	assert_non_null(sk = sk_X509_new_null());
	for (i = 0; i < STSEC_MAX_PINS + 1; i++)
		assert_true(sk_X509_push(sk, f->cert[ID_RSA]) > 0);
	assert_int_equal(stsec_pinset_from_chain(sk, &set, &err), -1);
	assert_non_null(strstr(err.msg, "17"));
	assert_int_equal(set.n, 0);
	pinset_of(f, ID_RSA, &set);
	assert_int_equal(stsec_pin_match_chain(&set, sk, &idx, &err), -1);
	(void)sk_X509_pop(sk);	/* 16 is the limit: allowed */
	assert_int_equal(stsec_pinset_from_chain(sk, &set, &err), 0);
	assert_int_equal(set.n, 1);
	sk_X509_free(sk);

	assert_non_null(empty = X509_new());
	assert_non_null(sk = sk_X509_new_null());
	assert_true(sk_X509_push(sk, f->cert[ID_EC]) > 0);
	assert_true(sk_X509_push(sk, empty) > 0);
	assert_int_equal(stsec_pinset_from_chain(sk, &set, &err), -1);
	assert_non_null(strstr(err.msg, "certificate 1"));
	assert_int_equal(set.n, 0);
	pinset_of(f, ID_RSA, &set);
	assert_int_equal(stsec_pin_match_chain(&set, sk, &idx, &err), -1);
	pinset_of(f, ID_EC, &set);	/* the leaf matches before the bad one */
	assert_int_equal(stsec_pin_match_chain(&set, sk, &idx, &err), 1);
	assert_int_equal(idx, 0);
	sk_X509_free(sk);
	X509_free(empty);
	ERR_clear_error();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinset_add),
		cmocka_unit_test(test_pinset_common),
		cmocka_unit_test(test_b64_strict),
		cmocka_unit_test(test_b64_round_trip),
		cmocka_unit_test(test_file_matches_oracle),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_x509_and_pkey),
		cmocka_unit_test(test_match_chain),
		cmocka_unit_test(test_pinset_from_chain),
		cmocka_unit_test(test_chain_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
