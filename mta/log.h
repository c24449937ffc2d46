/*
 * log.h - one line per event, "key=value" fields, to syslog or stderr.
 *
 *	log_init()	where lines go: syslog (mail facility) or stderr
 *			(LOG_TO_STDERR_QUIET: only warnings, for commands)
 *	log_info()	an event
 *	log_warn()	something wrong that pinpostd survives
 *	log_debug()	only with log_init(..., debug = 1)
 *	log_fatal()	a start-up or environment failure: log, exit(1)
 *	log_text()	peer text made safe for a log field: printable
 *			ASCII kept, anything else as \xNN, cut at a bound
 *
 * Lines start with the session or queue id where there is one; values
 * that may contain spaces are quoted by the caller ("reply=\"%s\"").
 * Safe to call from any thread (one write(2) or syslog(3) per line).
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

#define LOG_LINE_MAX	2048
#define LOG_TO_STDERR_QUIET	2	/* to_stderr: warnings only */

void	log_init(const char *ident, int to_stderr, int debug);
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
const char *log_text(const char *in, size_t len, char *out, size_t outlen);

#endif
