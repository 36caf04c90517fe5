/*
 * The error log: one line per message on stderr, prefixed with a
 * timestamp and level.  Under systemd stderr goes to the journal.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <pthread.h>

#include "proxy.h"

static int log_debug_on;

void
log_init(int debug)
{
	log_debug_on = debug;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

int
log_enabled(enum log_level lvl)
{
	return lvl != LOG_LVL_DEBUG || log_debug_on;
}

void
log_msg(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	char		 line[2048], ts[32];
	struct timeval	 tv;
	struct tm	 tm;
	int		 n;

	if (!log_enabled(lvl))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* One fprintf per line so lines from workers never interleave. */
	fprintf(stderr, "%s.%03dZ %s: %s\n", ts, (int)(tv.tv_usec / 1000),
	    names[lvl], line);
}

#define LOG_FN(fn, lvl)						\
void									\
fn(const char *fmt, ...)						\
{									\
	va_list ap;							\
	va_start(ap, fmt);						\
	log_msg(lvl, fmt, ap);						\
	va_end(ap);							\
}
LOG_FN(log_warnx, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

void
log_warn(const char *fmt, ...)
{
	char	 buf[1024];
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", buf, strerror(saved));
}

void
fatal(const char *fmt, ...)
{
	char	 buf[1024];
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fatal: %s: %s\n", buf, strerror(saved));
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "fatal: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void
log_sanitize(char *dst, size_t n, const char *s, size_t len)
{
	size_t	 i, o = 0;

	if (n == 0)
		return;
	/* Client bytes could forge log lines or terminal escapes. */
	for (i = 0; i < len && o + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[o++] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
		    ? '?' : (char)c;
	}
	dst[o] = '\0';
}
