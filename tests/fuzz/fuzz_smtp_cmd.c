/*
 * fuzz_smtp_cmd.c - libFuzzer harness for smtp_cmd_parse()
 * (mta/proto/smtp_cmd.c), the server's command-line parser.
 *
 * Input: octet 0 picks utf8_ok (its low bit); the rest is one command
 * line without CRLF, passed in an exact-size heap copy so that a read
 * one past the end is an ASan report.
 *
 * Properties: a success names a known verb and leaves every string of
 * struct smtp_cmd NUL-terminated inside its array; an error is a 4xx or
 * 5xx reply with an enhanced status code of the same class and a text
 * without CR or LF (a peer's parameter echoed in a reply must not be able
 * to add reply lines); the same line parses the same way twice.
 */
#include <string.h>

#include "fuzz.h"
#include "smtp_cmd.h"

static void
check_cmd(const struct smtp_cmd *c)
{
	FUZZ_CHECK(c->verb > SMTP_V_UNKNOWN && c->verb <= SMTP_V_AUTH);
	FUZZ_CHECK(memchr(c->domain, '\0', sizeof(c->domain)) != NULL);
	FUZZ_CHECK(memchr(c->path, '\0', sizeof(c->path)) != NULL);
	FUZZ_CHECK(memchr(c->arg, '\0', sizeof(c->arg)) != NULL);
	FUZZ_CHECK(smtp_verb_str(c->verb) != NULL);
	FUZZ_CHECK(c->body >= SMTP_BODY_NONE && c->body <= SMTP_BODY_BINARYMIME);
	if (c->null_path)
		FUZZ_CHECK(c->path[0] == '\0');
}

static void
check_err(const struct smtp_status *st)
{
	FUZZ_CHECK(st->code >= 400 && st->code <= 599);
	FUZZ_CHECK(st->enh != NULL && st->text != NULL);
	FUZZ_CHECK(st->enh[0] == '0' + st->code / 100);
	FUZZ_CHECK(strpbrk(st->text, "\r\n") == NULL);
	FUZZ_CHECK(strlen(st->text) < 400);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_cmd a, b;
	const struct smtp_status *ra, *rb;
	char	*line;
	int	 utf8_ok;

	if (size == 0)
		return 0;
	utf8_ok = data[0] & 1;
	size--;
	if ((line = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(line, data + 1, size);
	memset(&a, 0xa5, sizeof(a));	/* no reliance on a zeroed struct */
	memset(&b, 0x5a, sizeof(b));
	ra = smtp_cmd_parse(line, size, utf8_ok, &a);
	rb = smtp_cmd_parse(line, size, utf8_ok, &b);
	FUZZ_CHECK((ra == NULL) == (rb == NULL));
	if (ra == NULL) {
		check_cmd(&a);
		FUZZ_CHECK(a.verb == b.verb);
		FUZZ_CHECK(strcmp(a.domain, b.domain) == 0);
		FUZZ_CHECK(strcmp(a.path, b.path) == 0);
		FUZZ_CHECK(strcmp(a.arg, b.arg) == 0);
	} else {
		check_err(ra);
		check_err(rb);
		FUZZ_CHECK(ra->code == rb->code);
		FUZZ_CHECK(strcmp(ra->text, rb->text) == 0);
	}
	free(line);
	return 0;
}
