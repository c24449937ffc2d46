/*
 * smtp_cmd.h - SMTP command lines: parsing (RFC 5321 section 4.1, with
 * the ESMTP parameters pinpost supports).  Pure: no I/O.
 *
 *	smtp_cmd_parse()	one command line (without CRLF) into a
 *				struct smtp_cmd; NULL, or the reply to send
 *	smtp_verb_str()		the verb's name, for logs
 *
 * A parse error is returned as a const struct smtp_status (code,
 * enhanced status code, text) that the server sends as it is.
 */
#ifndef SMTP_CMD_H
#define SMTP_CMD_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_CMD_LINE_MAX	512	/* with CRLF, RFC 5321 4.5.3.1.4 */
#define SMTP_TEXT_LINE_MAX	1000	/* with CRLF, 4.5.3.1.6 */
#define SMTP_PATH_MAX		256	/* 4.5.3.1.3, with the brackets */
#define SMTP_DOMAIN_MAX		255	/* 4.5.3.1.2 */
#define SMTP_LOCAL_MAX		64	/* 4.5.3.1.1 */

struct smtp_status {
	int		 code;		/* 501 */
	const char	*enh;		/* "5.5.4" */
	const char	*text;		/* "Syntax: MAIL FROM:<address>" */
};

enum smtp_verb {
	SMTP_V_UNKNOWN = 0,
	SMTP_V_HELO,
	SMTP_V_EHLO,
	SMTP_V_MAIL,
	SMTP_V_RCPT,
	SMTP_V_DATA,
	SMTP_V_BDAT,
	SMTP_V_RSET,
	SMTP_V_NOOP,
	SMTP_V_QUIT,
	SMTP_V_VRFY,
	SMTP_V_EXPN,
	SMTP_V_HELP,
	SMTP_V_STARTTLS,
	SMTP_V_AUTH
};

enum smtp_body {
	SMTP_BODY_NONE = 0,	/* no BODY= given */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME
};

struct smtp_cmd {
	enum smtp_verb	verb;
	/* HELO / EHLO: the client's name or address literal */
	char		domain[SMTP_DOMAIN_MAX + 1];
	/* MAIL / RCPT: the path without angle brackets; "" for <> */
	char		path[SMTP_PATH_MAX + 1];
	int		null_path;	/* MAIL FROM:<> */
	int		has_size;	/* MAIL ... SIZE=n */
	uint64_t	size;
	enum smtp_body	body;		/* MAIL ... BODY= */
	int		smtputf8;	/* MAIL ... SMTPUTF8 */
	/* BDAT */
	uint64_t	chunk_size;
	int		last;		/* BDAT n LAST */
	/* VRFY / EXPN / HELP / NOOP / AUTH: the rest of the line */
	char		arg[SMTP_CMD_LINE_MAX];
	/* a reply that names the peer's parameter is built here */
	struct smtp_status err;
	char		err_text[80];
};

/*
 * Parses line[0..len), which has no CRLF.  Verbs are case-insensitive.
 * Returns NULL on success, or the error reply: 500 5.5.1 unknown
 * command, 501 5.5.4 syntax (with a text naming what is wrong), 555
 * 5.5.4 unknown MAIL/RCPT parameter, 553 5.1.3 / 501 5.1.7 bad address,
 * 500 5.5.6 line too long (len > SMTP_CMD_LINE_MAX - 2), 500 5.5.2 NUL
 * or other control bytes.  Non-ASCII in a path is accepted only with
 * SMTPUTF8 (MAIL) or when utf8_ok (RCPT, after MAIL ... SMTPUTF8).
 * The reply may point to out->err, so it lives as long as *out.
 */
const struct smtp_status *smtp_cmd_parse(const char *line, size_t len,
	    int utf8_ok, struct smtp_cmd *out);

const char *smtp_verb_str(enum smtp_verb v);

#endif
