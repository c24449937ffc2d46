/*
 * cli_addr.c - RFC 5322 address lists into bare addresses, for
 * pinpost send: To:, Cc:, Bcc: with -t, and the recipients and the
 * sender given on the command line.
 *
 * FUNCTIONS
 *	cli_addr_parse()	append the addresses of one address list
 *	cli_addr_one()		exactly one address, or none (<>)
 *	cli_addr_free()		free a set
 *
 * DESCRIPTION
 *	A lenient parser, bounded in what it keeps: each address at most
 *	CLI_ADDR_MAX octets, a set at most its max addresses.  It knows
 *	mailboxes ("Name <a@b>", "a@b (comment)", a bare "a@b"), groups
 *	("team: a@b, c@d;"; "undisclosed-recipients:;" adds nothing),
 *	quoted strings (a comma, colon or angle bracket inside one is text),
 *	comments (nested, with quoted pairs), domain literals "[...]" and
 *	obsolete routes ("<@relay:a@b>", the route is dropped).
 *
 *	White space outside quotes is folding and is removed from an
 *	address; two words with no "<...>" ("John Smith") are an error, not
 *	a guess.  A control character (CR, LF, ...) is never accepted, so an
 *	address cannot smuggle a second SMTP command.  Duplicates are
 *	dropped (the domain compared case-blind, the local part exactly).
 *
 * DIAGNOSTICS
 *	-1 with one line in err: "unbalanced quote", "unbalanced comment",
 *	"unbalanced <" or "[", "address too long: ...", "too many
 *	recipients (max N)", "'TEXT' is not an address", "one address
 *	expected".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_addr.h"

#define ADDR_NEST_MAX	32	/* nested comments */
#define ADDR_SHOW	64	/* octets of bad input quoted in a message */

/* "'TEXT' what" (TEXT shortened, control octets as '?'), or "what". */
static int
addr_err(char *err, size_t errlen, const char *what, const char *s,
    size_t n)
{
	char	show[ADDR_SHOW + 1];
	size_t	i;

	if (s == NULL) {
		(void)snprintf(err, errlen, "%s", what);
		return -1;
	}
	for (i = 0; i < n && i < ADDR_SHOW; i++)
		show[i] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? '?' :
		    s[i];
	show[i] = '\0';
	(void)snprintf(err, errlen, "'%s%s' %s", show, n > ADDR_SHOW ? "..." :
	    "", what);
	return -1;
}

/* s[*i] is '"': move past the closing quote. */
static int
skip_quoted(const char *s, size_t len, size_t *i)
{
	size_t	j;

	for (j = *i + 1; j < len; j++) {
		if (s[j] == '\\')
			j++;
		else if (s[j] == '"') {
			*i = j + 1;
			return 0;
		}
	}
	return -1;
}

/* s[*i] is '(': move past the matching ')'. */
static int
skip_comment(const char *s, size_t len, size_t *i)
{
	size_t	j, depth = 0;

	for (j = *i; j < len; j++) {
		if (s[j] == '\\')
			j++;
		else if (s[j] == '(' && ++depth > ADDR_NEST_MAX)
			return -1;
		else if (s[j] == ')' && --depth == 0) {
			*i = j + 1;
			return 0;
		}
	}
	return -1;
}

/* s[*i] is '[' or '<': move past the closing ']' or '>'. */
static int
skip_bracket(const char *s, size_t len, size_t *i, char close)
{
	size_t	j;

	for (j = *i + 1; j < len; j++) {
		if (s[j] == '\\')
			j++;
		else if (s[j] == '"' && close == '>') {
			if (skip_quoted(s, len, &j) == -1)
				return -1;
			j--;
		} else if (s[j] == close) {
			*i = j + 1;
			return 0;
		}
	}
	return -1;
}

/* If s[*i] opens a quoted string, comment, literal or angle address,
 * move past it and return 1; 0 if it does not; -1 if it is unbalanced. */
static int
skip_unit(const char *s, size_t len, size_t *i, char *err, size_t errlen)
{
	int	rc;

	switch (s[*i]) {
	case '"':
		rc = skip_quoted(s, len, i);
		return rc == 0 ? 1 : addr_err(err, errlen, "unbalanced quote",
		    NULL, 0);
	case '(':
		rc = skip_comment(s, len, i);
		return rc == 0 ? 1 : addr_err(err, errlen, "unbalanced comment",
		    NULL, 0);
	case '[':
	case '<':
		rc = skip_bracket(s, len, i, s[*i] == '[' ? ']' : '>');
		return rc == 0 ? 1 : addr_err(err, errlen, s[*i] == '[' ?
		    "unbalanced [" : "unbalanced <", NULL, 0);
	default:
		return 0;
	}
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Appends s[0..n) to out; -1 past CLI_ADDR_MAX. */
static int
put(char *out, size_t *olen, const char *s, size_t n)
{
	if (*olen + n > CLI_ADDR_MAX)
		return -1;
	memcpy(out + *olen, s, n);
	*olen += n;
	out[*olen] = '\0';
	return 0;
}

static int
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int
has_ctl(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (is_ctl((unsigned char)s[i]))
			return 1;
	return 0;
}

/* Does out[0..olen) end in a word (not after "." or "@")? */
static int
word_end(const char *out, size_t olen)
{
	return olen > 0 && out[olen - 1] != '.' && out[olen - 1] != '@';
}

/* One octet of an addr-spec outside quotes and comments. */
static int
clean_octet(const char *s, size_t i, char *out, size_t *olen, int *gap)
{
	unsigned char c = (unsigned char)s[i];

	if (is_ctl(c) || strchr("<>,;:\\()[]\"", c) != NULL)
		return -1;
	if (*gap && c != '.' && c != '@' && word_end(out, *olen))
		return -1;
	*gap = 0;
	return put(out, olen, s + i, 1);
}

/*
 * An addr-spec from s[0..n): comments and folding removed, quoted
 * strings kept as they are.  out has CLI_ADDR_MAX + 1 octets.
 */
static int
clean_addr(const char *s, size_t n, char *out, char *err, size_t errlen)
{
	size_t	i = 0, j, olen = 0;
	int	gap = 0;

	out[0] = '\0';
	while (i < n) {
		if (s[i] == '(' || is_wsp(s[i])) {
			if (s[i] != '(')
				i++;
			else if (skip_comment(s, n, &i) == -1)
				return addr_err(err, errlen,
				    "unbalanced comment", NULL, 0);
			gap = olen > 0;
			continue;
		}
		if (s[i] == '"' || s[i] == '[') {
			j = i;
			if (skip_unit(s, n, &j, err, errlen) == -1)
				return -1;
			if ((gap && word_end(out, olen)) ||
			    has_ctl(s + i, j - i) ||
			    put(out, &olen, s + i, j - i) == -1)
				return addr_err(err, errlen,
				    "is not an address", s, n);
			i = j;
			gap = 0;
			continue;
		}
		if (clean_octet(s, i, out, &olen, &gap) == -1)
			return addr_err(err, errlen, olen >= CLI_ADDR_MAX ?
			    "address too long" : "is not an address", s, n);
		i++;
	}
	return 0;
}

static int
same_addr(const char *a, const char *b)
{
	const char *da = strrchr(a, '@'), *db = strrchr(b, '@');
	size_t	la = da ? (size_t)(da - a) : strlen(a);
	size_t	lb = db ? (size_t)(db - b) : strlen(b);

	if (la != lb || memcmp(a, b, la) != 0 || (da == NULL) != (db == NULL))
		return 0;
	return da == NULL || strcasecmp(da, db) == 0;
}

static int
add_addr(struct cli_addrs *a, const char *addr, char *err, size_t errlen)
{
	char	**v;
	size_t	i, cap;

	for (i = 0; i < a->n; i++)
		if (same_addr(a->v[i], addr))
			return 0;
	if (a->n >= a->max) {
		(void)snprintf(err, errlen, "too many recipients (max %zu)",
		    a->max);
		return -1;
	}
	if (a->n == a->cap) {
		cap = a->cap > 0 ? a->cap * 2 : 8;
		if ((v = realloc(a->v, cap * sizeof(*v))) == NULL)
			return addr_err(err, errlen, "out of memory", NULL, 0);
		a->v = v;
		a->cap = cap;
	}
	if ((a->v[a->n] = strdup(addr)) == NULL)
		return addr_err(err, errlen, "out of memory", NULL, 0);
	a->n++;
	return 0;
}

/* The inside of <...>: an obsolete route "@a,@b:" is dropped. */
static void
angle_inside(const char *s, size_t n, size_t *start, size_t *len)
{
	size_t	i = 1, k = 0;

	while (i < n - 1 && is_wsp(s[i]))
		i++;
	if (s[i] == '@') {
		for (k = i; k < n - 1 && s[k] != ':'; k++)
			;
		if (k < n - 1)
			i = k + 1;
	}
	*start = i;
	*len = n - 1 - i;
}

/* One mailbox (an item between separators): its address, if any. */
static int
addr_item(struct cli_addrs *a, const char *s, size_t n, char *err,
    size_t errlen)
{
	char	out[CLI_ADDR_MAX + 1];
	size_t	i = 0, j, start, len;
	int	rc;

	while (i < n) {
		j = i;
		if ((rc = skip_unit(s, n, &j, err, errlen)) == -1)
			return -1;
		if (rc == 1 && s[i] == '<') {
			angle_inside(s + i, j - i, &start, &len);
			s += i + start;
			n = len;
			break;
		}
		i = rc == 1 ? j : i + 1;
	}
	if (clean_addr(s, n, out, err, errlen) == -1)
		return -1;
	if (out[0] == '\0')
		return 0;	/* an empty item or group, or <> */
	return add_addr(a, out, err, errlen);
}

int
cli_addr_parse(struct cli_addrs *a, const char *s, size_t len, char *err,
    size_t errlen)
{
	size_t	i = 0, start = 0;
	int	rc;

	for (;;) {
		if (i == len || s[i] == ',' || s[i] == ';') {
			if (addr_item(a, s + start, i - start, err,
			    errlen) == -1)
				return -1;
			if (i == len)
				return 0;
			start = ++i;
		} else if (s[i] == ':') {
			/* a group: its display name is dropped */
			start = ++i;
		} else if ((rc = skip_unit(s, len, &i, err, errlen)) == -1)
			return -1;
		else if (rc == 0)
			i++;
	}
}

int
cli_addr_one(const char *s, char *out, size_t outlen, char *err,
    size_t errlen)
{
	struct cli_addrs a = { NULL, 0, 0, 2 };
	int	rc = -1;

	if (cli_addr_parse(&a, s, strlen(s), err, errlen) == -1)
		goto done;
	if (a.n > 1) {
		(void)addr_err(err, errlen, "one address expected", NULL, 0);
		goto done;
	}
	if ((size_t)snprintf(out, outlen, "%s", a.n == 1 ? a.v[0] : "") >=
	    outlen) {
		(void)addr_err(err, errlen, "address too long", s, strlen(s));
		goto done;
	}
	rc = 0;
done:
	cli_addr_free(&a);
	return rc;
}

void
cli_addr_free(struct cli_addrs *a)
{
	size_t	i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}
