/*
 * test_bounce.c - delivery status notifications (mta/bounce.c), on a
 * real queue.
 *
 *	failed		a message with three recipients (5.1.1 with a reply,
 *			a 4.7.5 policy failure, one delivered): only the two
 *			chosen are reported; the new envelope is from <> to
 *			the sender
 *	delayed		Action: delayed, Will-Retry-Until, Subject
 *	status		where Status and Diagnostic-Code come from when the
 *			recipient has no status; local delivery errors
 *	8bit		8-bit and overlong original header lines go in as
 *			quoted-printable and come back exactly; a non-ASCII
 *			sender and recipient; long replies and host names
 *	nothing		null sender, no recipient chosen: nothing queued
 *	arguments	bad host names, a small id buffer
 *	texts		bounce_text() for the policy and DNS codes
 *
 * Python's email package is the independent MIME oracle: a script
 * (written to the test's directory) parses the queued DSN and checks it
 * against a spec file the test writes.  The C side checks the octets:
 * CRLF only, 7-bit, lines of at most 998 octets.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounce.h"
#include "queue.h"
#include "testutil.h"

#define HOST		"mx.pinpost.test"
#define SENDER		"alice@origin.example"
#define ARRIVAL		INT64_C(1700000000)	/* Tue, 14 Nov 2023 22:13:20 */
#define NOW		(ARRIVAL + 5 * 86400)
#define EXPIRES		(ARRIVAL + 5 * 86400 + 3600)
#define LAST_TRY	(NOW - 600)

#define ORIG_HEADERS \
	"Received: from client.example ([192.0.2.1])\r\n" \
	"\tby mx.pinpost.test; Tue, 14 Nov 2023 22:13:20 +0000\r\n" \
	"From: Alice <" SENDER ">\r\n" \
	"To: Bob <bob@remote.example>\r\n" \
	"Subject: Original subject for the report\r\n" \
	"Message-ID: <orig-1@origin.example>\r\n"
#define ORIG_BODY	"Hello,\r\n\r\nthe body, never in a DSN.\r\n"

/* The oracle: parse argv[1] as MIME and check it against spec argv[2]. */
static const char oracle_py[] =
"import sys, email, email.policy, email.utils\n"
"path, specpath = sys.argv[1], sys.argv[2]\n"
"spec = {'rcpt': [], 'sentence': [], 'absent': [], 'hdrbytes': []}\n"
"for line in open(specpath, encoding='utf-8'):\n"
"    k, _, v = line.rstrip('\\n').partition(' ')\n"
"    if k in ('rcpt', 'sentence', 'absent', 'hdrbytes'):\n"
"        spec[k].append(v)\n"
"    else:\n"
"        spec[k] = v\n"
"def check(ok, what):\n"
"    if not ok:\n"
"        sys.exit('oracle: ' + what)\n"
"def stamp(h):\n"
"    return str(int(email.utils.parsedate_to_datetime(str(h)).timestamp()))\n"
"with open(path, 'rb') as f:\n"
"    raw = f.read()\n"
"    f.seek(0)\n"
"    m = email.message_from_binary_file(f, policy=email.policy.default)\n"
"host = spec['host']\n"
"check(not m.defects, 'defects %r' % m.defects)\n"
"check(m.get_content_type() == 'multipart/report', m.get_content_type())\n"
"check(m.get_param('report-type') == 'delivery-status', 'report-type')\n"
"check(len(m.get_boundary()) <= 70, 'boundary too long')\n"
"check(m['Auto-Submitted'] == 'auto-replied', 'Auto-Submitted')\n"
"check(m['MIME-Version'] == '1.0', 'MIME-Version')\n"
"check(m['From'].addresses[0].addr_spec == 'MAILER-DAEMON@' + host, 'From')\n"
"if spec['to'] == '-':\n"
"    check(str(m['To']) == 'undisclosed-recipients:;', 'To ' + str(m['To']))\n"
"else:\n"
"    check(m['To'].addresses[0].addr_spec == spec['to'], 'To')\n"
"subj = {'failed': 'Undelivered Mail Returned to Sender',\n"
"        'delayed': 'Delayed Mail (still being retried)'}[spec['kind']]\n"
"check(m['Subject'] == subj, 'Subject ' + str(m['Subject']))\n"
"check(m['Message-ID'] == '<%s@%s>' % (spec['newid'], host), 'Message-ID')\n"
"check(stamp(m['Date']) == spec['now'], 'Date ' + str(m['Date']))\n"
"parts = list(m.iter_parts())\n"
"check(len(parts) == 3, '%d parts' % len(parts))\n"
"for p in parts:\n"
"    check(not p.defects, 'part defects %r' % p.defects)\n"
"check(parts[0].get_content_type() == 'text/plain', 'part 1 type')\n"
"text = ' '.join(parts[0].get_content().split())\n"
"for s in spec['sentence']:\n"
"    check(s in text, 'text lacks: ' + s + '\\n' + text)\n"
"check(parts[1].get_content_type() == 'message/delivery-status', 'part 2')\n"
"blocks = parts[1].get_payload()\n"
"check(blocks[0]['Reporting-MTA'] == 'dns; ' + host, 'Reporting-MTA')\n"
"check(stamp(blocks[0]['Arrival-Date']) == spec['arrival'], 'Arrival')\n"
"check(len(blocks) == 1 + len(spec['rcpt']), '%d blocks' % len(blocks))\n"
"for b, want in zip(blocks[1:], spec['rcpt']):\n"
"    final, status, remote, diag, last = want.split('|')\n"
"    got = b['Final-Recipient']\n"
"    check(got == final, 'Final %s' % got)\n"
"    check(b['Action'] == spec['kind'], 'Action ' + str(b['Action']))\n"
"    check(b['Status'] == status, 'Status ' + str(b['Status']))\n"
"    got = b['Remote-MTA']\n"
"    check(got == ('dns; ' + remote if remote else None), 'Remote %s' % got)\n"
"    got = b['Diagnostic-Code']\n"
"    check(got == (diag or None), 'Diag %s' % got)\n"
"    got = b['Last-Attempt-Date']\n"
"    check((stamp(got) if got else '') == last, 'Last %s' % got)\n"
"    got = b['Will-Retry-Until']\n"
"    if spec['kind'] == 'delayed':\n"
"        check(got is not None and stamp(got) == spec['expires'], 'Until')\n"
"    else:\n"
"        check(got is None, 'Will-Retry-Until in a failure')\n"
"check(parts[2].get_content_type() == 'text/rfc822-headers', 'part 3')\n"
"check(parts[2]['Content-Transfer-Encoding'] == spec['cte'], 'cte')\n"
"# The binary parser reads through universal newlines: CRLF is LF.\n"
"hb = parts[2].get_payload(decode=True)\n"
"for h in spec['hdrbytes']:\n"
"    h = bytes.fromhex(h).replace(b'\\r\\n', b'\\n')\n"
"    check(h in hb, 'headers lack %r' % h)\n"
"check(b'\\n\\n' not in hb, 'headers part holds a body')\n"
"for a in spec['absent']:\n"
"    check(a.encode() not in raw, 'present: ' + a)\n";

struct fx {
	char		*dir;
	struct queue	*q;
	char		 err[QUEUE_ERR_MAX];
	char		 orig[QUEUE_ID_LEN + 1];	/* reported on */
	char		 dsn[QUEUE_ID_LEN + 1];		/* the report */
	FILE		*spec;
};

/* ------------------------------------------------------------------ */
/* fixtures and helpers							*/

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char	path[1024];

	if (fx == NULL || (fx->dir = tu_tmpdir()) == NULL) {
		free(fx);
		return -1;
	}
	if ((fx->q = queue_open(fx->dir, fx->err, sizeof(fx->err))) == NULL) {
		fprintf(stderr, "queue_open: %s\n", fx->err);
		tu_rmrf(fx->dir);
		free(fx->dir);
		free(fx);
		return -1;
	}
	(void)snprintf(path, sizeof(path), "%s/oracle.py", fx->dir);
	TU_WRITE(path, oracle_py, strlen(oracle_py));
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->spec != NULL)
		(void)fclose(fx->spec);
	queue_close(fx->q);
	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* An envelope from sender to the recipients in addrs (NULL-terminated). */
static void
make_env(struct queue_env *env, const char *sender, const char *const *addrs)
{
	memset(env, 0, sizeof(*env));
	env->arrival = ARRIVAL;
	(void)snprintf(env->sender, sizeof(env->sender), "%s", sender);
	(void)snprintf(env->client, sizeof(env->client), "[192.0.2.1]:4000");
	(void)snprintf(env->helo, sizeof(env->helo), "client.example");
	for (; *addrs != NULL; addrs++)
		if (queue_env_add_rcpt(env, *addrs, 0) == -1)
			fail_msg("add_rcpt %s", *addrs);
}

static void
set_rcpt(struct queue_rcpt *r, enum queue_rcpt_state st, const char *status,
    const char *remote, const char *reply, int64_t last)
{
	r->state = st;
	r->attempts = last > 0 ? 3 : 0;
	r->last_try = last;
	(void)snprintf(r->status, sizeof(r->status), "%s", status);
	(void)snprintf(r->remote, sizeof(r->remote), "%s", remote);
	(void)snprintf(r->last_reply, sizeof(r->last_reply), "%s", reply);
}

/* Queue data with env as the message to report on (fx->orig). */
static void
queue_orig(struct fx *fx, const char *data, size_t len,
    struct queue_env *env)
{
	struct queue_msg *m;

	if ((m = queue_msg_new(fx->q, fx->err, sizeof(fx->err))) == NULL ||
	    queue_msg_write(m, data, len, fx->err, sizeof(fx->err)) == -1)
		fail_msg("queue: %s", fx->err);
	if (queue_msg_commit(m, env, fx->err, sizeof(fx->err)) == -1)
		fail_msg("commit: %s", fx->err);
	memcpy(fx->orig, env->id, sizeof(fx->orig));
}

static void
bounce_ok(struct fx *fx, const struct queue_env *env,
    const unsigned char *which, enum bounce_kind kind, int local)
{
	if (bounce_queue(fx->q, env, which, kind, local, HOST, NOW, EXPIRES,
	    fx->dsn, sizeof(fx->dsn), fx->err, sizeof(fx->err)) == -1)
		fail_msg("bounce_queue: %s", fx->err);
	assert_int_equal(strlen(fx->dsn), QUEUE_ID_LEN);
	assert_string_not_equal(fx->dsn, fx->orig);
}

/* The report's envelope: from <> to sender, one recipient, 7bit. */
static void
dsn_env_is(struct fx *fx, const char *sender, int local, int utf8)
{
	struct queue_env got;

	if (queue_env_load(fx->q, fx->dsn, &got, fx->err,
	    sizeof(fx->err)) == -1)
		fail_msg("load: %s", fx->err);
	assert_string_equal(got.sender, "");
	assert_int_equal(got.nrcpt, 1);
	assert_string_equal(got.rcpt[0].addr, sender);
	assert_int_equal(got.rcpt[0].local, local);
	assert_int_equal(got.rcpt[0].state, QUEUE_RCPT_PENDING);
	assert_true(got.arrival == NOW);
	assert_int_equal(got.body_8bit, 0);
	assert_int_equal(got.smtputf8, utf8);
	assert_int_equal(got.warned, 0);
	queue_env_free(&got);
}

/* Every line ends in CRLF, holds at most 998 octets, all 7-bit, no NUL. */
static void
octets_ok(const char *path)
{
	FILE	*f = fopen(path, "rb");
	size_t	col = 0, line = 1;
	int	c, prev = 0;

	assert_non_null(f);
	while ((c = getc(f)) != EOF) {
		if (c == 0 || c >= 0x80)
			fail_msg("%s:%zu: octet %#x", path, line, c);
		if (c == '\n' && prev != '\r')
			fail_msg("%s:%zu: bare LF", path, line);
		if (prev == '\r' && c != '\n')
			fail_msg("%s:%zu: bare CR", path, line);
		if (c == '\n') {
			line++;
			col = 0;
		} else if (c != '\r' && ++col > 998)
			fail_msg("%s:%zu: line longer than 998", path, line);
		prev = c;
	}
	assert_int_equal(fclose(f), 0);
	if (prev != '\n')
		fail_msg("%s: no CRLF at the end", path);
}

/* Start the spec file for the oracle. */
static void
spec_begin(struct fx *fx, const char *kind, const char *to, const char *cte)
{
	char	path[1024];

	(void)snprintf(path, sizeof(path), "%s/spec", fx->dir);
	assert_non_null(fx->spec = fopen(path, "w"));
	fprintf(fx->spec, "host %s\nkind %s\nto %s\ncte %s\nnow %lld\n"
	    "arrival %lld\nexpires %lld\nnewid %s\n", HOST, kind, to, cte,
	    (long long)NOW, (long long)ARRIVAL, (long long)EXPIRES, fx->dsn);
}

static void
spec(struct fx *fx, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vfprintf(fx->spec, fmt, ap);
	va_end(ap);
	(void)fputc('\n', fx->spec);
}

/* Raw bytes the headers part must hold once decoded. */
static void
spec_hdrbytes(struct fx *fx, const char *s)
{
	fprintf(fx->spec, "hdrbytes ");
	for (; *s != '\0'; s++)
		fprintf(fx->spec, "%02x", (unsigned char)*s);
	fprintf(fx->spec, "\n");
}

/* Run the oracle on the report; check the octets. */
static void
oracle_ok(struct fx *fx)
{
	char	path[1024];
	int	rc;

	assert_int_equal(fclose(fx->spec), 0);
	fx->spec = NULL;
	assert_int_equal(queue_msg_path(fx->q, fx->dsn, path, sizeof(path)),
	    0);
	octets_ok(path);
	rc = tu_sh("/usr/bin/python3 '%s/oracle.py' '%s' '%s/spec'", fx->dir,
	    path, fx->dir);
	if (rc != 0) {
		(void)tu_sh("cat '%s' >&2", path);
		fail_msg("oracle: exit %d", rc);
	}
}

/* ------------------------------------------------------------------ */
/* tests								*/

static const char *const three[] = {
	"bob@remote.example", "dave@pinned.example", "carol@fine.example",
	NULL
};

static void
test_failed(void **state)
{
	struct fx *fx = *state;
	struct queue_env env;
	static const unsigned char which[] = { 1, 1, 0 };

	make_env(&env, SENDER, three);
	set_rcpt(&env.rcpt[0], QUEUE_RCPT_FAILED, "5.1.1", "mx1.remote.example",
	    "550 5.1.1 <bob@remote.example>: no such user", LAST_TRY);
	set_rcpt(&env.rcpt[1], QUEUE_RCPT_FAILED, "4.7.5", "mx.pinned.example",
	    "", LAST_TRY + 60);
	set_rcpt(&env.rcpt[2], QUEUE_RCPT_DELIVERED, "2.0.0", "mx.fine.example",
	    "250 2.0.0 ok", LAST_TRY);
	queue_orig(fx, ORIG_HEADERS "\r\n" ORIG_BODY,
	    strlen(ORIG_HEADERS "\r\n" ORIG_BODY), &env);
	bounce_ok(fx, &env, which, BOUNCE_FAILED, 1);
	(void)snprintf(fx->err, sizeof(fx->err), "%s/queue", fx->dir);
	assert_int_equal(tu_count_entries(fx->err), 4);
	dsn_env_is(fx, SENDER, 1, 0);
	spec_begin(fx, "failed", SENDER, "7bit");
	spec(fx, "rcpt rfc822; bob@remote.example|5.1.1|mx1.remote.example|"
	    "smtp; 550 5.1.1 <bob@remote.example>: no such user|%lld",
	    (long long)LAST_TRY);
	spec(fx, "rcpt rfc822; dave@pinned.example|4.7.5|mx.pinned.example||"
	    "%lld", (long long)(LAST_TRY + 60));
	spec(fx, "sentence %s", bounce_text("4.7.5"));
	spec(fx, "sentence %s", bounce_text("5.1.1"));
	spec(fx, "sentence Its last reply: 550 5.1.1 <bob@remote.example>: no "
	    "such user");
	spec_hdrbytes(fx, "Subject: Original subject for the report\r\n");
	spec_hdrbytes(fx, "\tby mx.pinpost.test; Tue, 14 Nov 2023");
	spec(fx, "absent carol@");
	spec(fx, "absent mx.fine.example");
	spec(fx, "absent never in a DSN");
	oracle_ok(fx);
	queue_env_free(&env);
}

static void
test_delayed(void **state)
{
	struct fx *fx = *state;
	struct queue_env env;
	static const unsigned char which[] = { 0, 1, 1 };
	char	**ids;
	size_t	n;

	make_env(&env, SENDER, three);
	set_rcpt(&env.rcpt[1], QUEUE_RCPT_PENDING, "4.7.4", "mx.pinned.example",
	    "", LAST_TRY);
	set_rcpt(&env.rcpt[2], QUEUE_RCPT_PENDING, "4.4.1", "", "", LAST_TRY);
	/* A message that is only a header. */
	queue_orig(fx, ORIG_HEADERS, strlen(ORIG_HEADERS), &env);
	bounce_ok(fx, &env, which, BOUNCE_DELAYED, 0);
	dsn_env_is(fx, SENDER, 0, 0);
	assert_int_equal(queue_list(fx->q, &ids, &n, fx->err, sizeof(fx->err)),
	    0);
	assert_int_equal(n, 2);
	queue_list_free(ids, n);
	spec_begin(fx, "delayed", SENDER, "7bit");
	spec(fx, "rcpt rfc822; dave@pinned.example|4.7.4|mx.pinned.example||"
	    "%lld", (long long)LAST_TRY);
	spec(fx, "rcpt rfc822; carol@fine.example|4.4.1|||%lld",
	    (long long)LAST_TRY);
	spec(fx, "sentence %s", bounce_text("4.7.4"));
	spec(fx, "sentence %s", bounce_text("4.4.1"));
	spec(fx, "sentence keep trying until Sun, 19 Nov 2023 23:13:20 +0000");
	spec_hdrbytes(fx, "Message-ID: <orig-1@origin.example>\r\n");
	spec(fx, "absent rfc822; bob@");
	oracle_ok(fx);
	queue_env_free(&env);
}

/* Status and Diagnostic-Code without a recorded status. */
static void
test_status_sources(void **state)
{
	static const char *const addrs[] = { "a@x.example", "b@x.example",
	    "c@x.example", "d@x.example", "e@x.example", NULL };
	static const unsigned char which[] = { 1, 1, 1, 1, 1 };
	struct fx *fx = *state;
	struct queue_env env;

	make_env(&env, SENDER, addrs);
	set_rcpt(&env.rcpt[0], QUEUE_RCPT_FAILED, "", "mx.x.example",
	    "550 5.7.1 relaying denied", 0);
	set_rcpt(&env.rcpt[1], QUEUE_RCPT_FAILED, "", "mx.x.example",
	    "554 no thanks", 0);
	set_rcpt(&env.rcpt[2], QUEUE_RCPT_FAILED, "", "", "", 0);
	set_rcpt(&env.rcpt[3], QUEUE_RCPT_FAILED, "", "",
	    "maildir: disk full", 0);
	/* A 5xx reply with a 4.x.x code: RFC 2034 wants the same class. */
	set_rcpt(&env.rcpt[4], QUEUE_RCPT_FAILED, "", "[192.0.2.9]",
	    "550 4.2.2 \tfull\x01", 0);
	queue_orig(fx, ORIG_HEADERS "\r\n", strlen(ORIG_HEADERS "\r\n"), &env);
	bounce_ok(fx, &env, which, BOUNCE_FAILED, 0);
	spec_begin(fx, "failed", SENDER, "7bit");
	spec(fx, "rcpt rfc822; a@x.example|5.7.1|mx.x.example|smtp; 550 5.7.1 "
	    "relaying denied|");
	spec(fx, "rcpt rfc822; b@x.example|5.0.0|mx.x.example|smtp; 554 no "
	    "thanks|");
	spec(fx, "rcpt rfc822; c@x.example|5.0.0|||");
	spec(fx, "rcpt rfc822; d@x.example|5.0.0||x-pinpost; maildir: disk "
	    "full|");
	spec(fx, "rcpt rfc822; e@x.example|5.0.0|[192.0.2.9]|smtp; 550 4.2.2  "
	    "full?|");
	spec(fx, "sentence Error: maildir: disk full");
	oracle_ok(fx);
	queue_env_free(&env);
}

/* 8-bit and overlong header lines; non-ASCII addresses; long values. */
static void
test_8bit(void **state)
{
	static const char *const addrs[] = {
		"j\xc3\xb6rg+x=y@b\xc3\xbc.example", "bad\xff@x.example", NULL
	};
	static const unsigned char which[] = { 1, 1 };
	struct fx *fx = *state;
	struct queue_env env;
	char	*msg, reply[QUEUE_REPLY_MAX + 1], remote[QUEUE_HOST_MAX + 1];
	size_t	len, cap = 8192;

	make_env(&env, "s\xc3\xa9nder@origin.example", addrs);
	(void)snprintf(reply, sizeof(reply), "451 4.4.2 %0501d", 0);
	memset(remote, 'h', QUEUE_HOST_MAX);
	remote[QUEUE_HOST_MAX] = '\0';
	set_rcpt(&env.rcpt[0], QUEUE_RCPT_FAILED, "4.4.2", remote, reply,
	    LAST_TRY);
	set_rcpt(&env.rcpt[1], QUEUE_RCPT_FAILED, "5.1.10", "", "", 0);
	assert_non_null(msg = malloc(cap));
	len = (size_t)snprintf(msg, cap, "Subject: Gr\xc3\xbc\xc3\x9f" "e = "
	    "\"x\" \r\nX-Long: %01990d\r\nX-Bare: a\rb\nX-Tab: \t\r\n\r\n"
	    "body\r\n", 7);
	queue_orig(fx, msg, len, &env);
	bounce_ok(fx, &env, which, BOUNCE_FAILED, 0);
	dsn_env_is(fx, "s\xc3\xa9nder@origin.example", 0, 1);
	spec_begin(fx, "failed", "-", "quoted-printable");
	spec(fx, "rcpt utf-8; j\\x{F6}rg\\x{2B}x\\x{3D}y@b\\x{FC}.example|"
	    "4.4.2|%s|smtp; %s|%lld", remote, reply, (long long)LAST_TRY);
	spec(fx, "rcpt utf-8; bad\\x{FFFD}@x.example|5.1.10|||");
	spec(fx, "sentence %s", bounce_text("5.1.10"));
	spec_hdrbytes(fx, "Subject: Gr\xc3\xbc\xc3\x9f" "e = \"x\" \r\n");
	(void)snprintf(msg, cap, "X-Long: %01990d\r\nX-Bare: a\rb\r\n"
	    "X-Tab: \t\r\n", 7);
	spec_hdrbytes(fx, msg);
	oracle_ok(fx);
	free(msg);
	queue_env_free(&env);
}

/* Null sender, nothing chosen: 0, id "", nothing queued. */
static void
test_nothing(void **state)
{
	struct fx *fx = *state;
	struct queue_env env;
	static const unsigned char none[] = { 0, 0, 0 }, all[] = { 1, 1, 1 };

	make_env(&env, "", three);
	queue_orig(fx, ORIG_HEADERS, strlen(ORIG_HEADERS), &env);
	(void)snprintf(fx->dsn, sizeof(fx->dsn), "junk");
	assert_int_equal(bounce_queue(fx->q, &env, all, BOUNCE_FAILED, 0, HOST,
	    NOW, EXPIRES, fx->dsn, sizeof(fx->dsn), fx->err,
	    sizeof(fx->err)), 0);
	assert_string_equal(fx->dsn, "");
	(void)snprintf(env.sender, sizeof(env.sender), "%s", SENDER);
	(void)snprintf(fx->dsn, sizeof(fx->dsn), "junk");
	assert_int_equal(bounce_queue(fx->q, &env, none, BOUNCE_DELAYED, 0,
	    HOST, NOW, EXPIRES, fx->dsn, sizeof(fx->dsn), fx->err,
	    sizeof(fx->err)), 0);
	assert_string_equal(fx->dsn, "");
	assert_int_equal(tu_count_entries(fx->dir), 3);
	(void)snprintf(fx->err, sizeof(fx->err), "%s/queue", fx->dir);
	assert_int_equal(tu_count_entries(fx->err), 2);
	queue_env_free(&env);
}

static void
test_arguments(void **state)
{
	static const char *const bad[] = { "", "mx test", "a@b", "mx\r\n.x",
	    "m\xc3\xa9x" };
	static const unsigned char all[] = { 1, 1, 1 };
	struct fx *fx = *state;
	struct queue_env env;
	char	path[1024];
	size_t	i;

	make_env(&env, SENDER, three);
	queue_orig(fx, ORIG_HEADERS, strlen(ORIG_HEADERS), &env);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bounce_queue(fx->q, &env, all, BOUNCE_FAILED,
		    0, bad[i], NOW, EXPIRES, fx->dsn, sizeof(fx->dsn), fx->err,
		    sizeof(fx->err)), -1);
		assert_non_null(strstr(fx->err, "bad hostname"));
	}
	assert_int_equal(bounce_queue(fx->q, &env, all, BOUNCE_FAILED, 0, HOST,
	    NOW, EXPIRES, fx->dsn, QUEUE_ID_LEN, fx->err, sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "id buffer too small"));
	/* The original message is gone: an error naming it, nothing left. */
	assert_int_equal(queue_msg_path(fx->q, fx->orig, path, sizeof(path)),
	    0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(bounce_queue(fx->q, &env, all, BOUNCE_FAILED, 0, HOST,
	    NOW, EXPIRES, fx->dsn, sizeof(fx->dsn), fx->err,
	    sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, path));
	assert_string_equal(fx->dsn, "");
	(void)snprintf(path, sizeof(path), "%s/queue", fx->dir);
	assert_int_equal(tu_count_entries(path), 1);
	(void)snprintf(path, sizeof(path), "%s/tmp", fx->dir);
	assert_int_equal(tu_count_entries(path), 0);
	queue_env_free(&env);
}

static void
test_texts(void **state)
{
	static const struct {
		const char *status, *has;
	} t[] = {
		{ "4.7.5", "pins (PKP)" },
		{ "4.7.5", "without announcing a backup pin" },
		{ "4.7.4", "(STSEC)" },
		{ "4.7.4", "not sent in plaintext" },
		{ "5.1.10", "null MX" },
		{ "5.1.2", "does not exist" },
		{ "4.4.1", "answered" },
		{ "4.4.2", "connection" },
		{ "4.4.3", "DNS" },
		{ "4.9.9", "temporary" },
		{ "5.9.9", "refused" },
		{ "", "could not tell" },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strstr(bounce_text(t[i].status), t[i].has) == NULL)
			fail_msg("bounce_text(\"%s\") = \"%s\" lacks \"%s\"",
			    t[i].status, bounce_text(t[i].status), t[i].has);
	assert_non_null(bounce_text(NULL));
	assert_string_not_equal(bounce_text("4.7.5"), bounce_text("5.7.5"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_failed),
		T(test_delayed),
		T(test_status_sources),
		T(test_8bit),
		T(test_nothing),
		T(test_arguments),
		cmocka_unit_test(test_texts),
#undef T
	};
	struct stat sb;

	if (getenv("TMPDIR") == NULL && stat("/dev/shm", &sb) == 0 &&
	    S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0 &&
	    setenv("TMPDIR", "/dev/shm", 0) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
