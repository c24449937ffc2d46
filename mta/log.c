/*
 * log.c - one line per event, to syslog or stderr; see log.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Set once at start, before any thread exists; read-only after. */
static struct {
	const char	*ident;
	int		 to_stderr;
	int		 debug;
} log_cfg = { "pinpostd", 1, 0 };

void
log_init(const char *ident, int to_stderr, int debug)
{
	log_cfg.ident = ident;
	log_cfg.to_stderr = to_stderr;
	log_cfg.debug = debug;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static void
log_vline(int pri, const char *level, const char *fmt, va_list ap)
{
	char	 line[LOG_LINE_MAX], stamp[32];
	struct timespec ts;
	struct tm tm;
	int	 n, m;

	if (!log_cfg.to_stderr) {
		vsyslog(pri, fmt, ap);
		return;
	}
	if (log_cfg.to_stderr == LOG_TO_STDERR_QUIET && pri > LOG_WARNING)
		return;
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		stamp[0] = '\0';
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld]: %s", stamp,
	    ts.tv_nsec / 1000000, log_cfg.ident, (long)getpid(), level);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_cfg.debug)
		return;
	va_start(ap, fmt);
	log_vline(LOG_DEBUG, "debug: ", fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}

const char *
log_text(const char *in, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t	i, o = 0;
	unsigned char c;

	if (outlen == 0)
		return "";
	for (i = 0; i < len && o + 5 < outlen; i++) {
		c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 0xf];
	}
	if (i < len && o + 3 < outlen) {
		out[o++] = '.';
		out[o++] = '.';
		out[o++] = '.';
	}
	out[o] = '\0';
	return out;
}
