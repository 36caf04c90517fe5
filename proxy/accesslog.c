/*
 * The access log: one line per request or tunnel, in Squid's native format
 * (so existing log tools work) or as JSON.  Each worker formats into its
 * own buffer; the buffer is written by a low-priority event, which runs
 * once the worker has nothing more urgent to do: under load many lines go
 * out in one write(2), when idle each line goes out at once.
 *
 * With access_log = "syslog[:FACILITY]" each line goes instead as one
 * datagram to the local syslog socket (syslog_socket, /dev/log), so that
 * it can be shipped to a SIEM.  See accesslog_syslog_flush().
 *
 * Every request and tunnel passes through accesslog_write() exactly once,
 * so it is also where metrics.c observes them.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "proxy.h"

#define ACCESSLOG_FLUSH_AT	(64 * 1024)
#define ACCESSLOG_GROUPS_MAX	4096	/* bytes of the json groups list */

/* Room for "<PRI>Mmm dd hh:mm:ss iaproxy[PID]: ". */
#define SYSLOG_HDR_MAX		64
#define SYSLOG_BATCH		64	/* datagrams per sendmmsg(2) */

static int accesslog_fd = -1;
/*
 * The syslog datagram socket: one for the process, unconnected.  Made by
 * the main thread (accesslog_open) before any worker can need it, and
 * only closed at exit.  Datagrams are atomic, so workers share it
 * without a lock.
 */
static int accesslog_syslog_fd = -1;

/* Is path the access_log value that means syslog ("syslog[:FACILITY]")? */
static int
accesslog_is_syslog(const char *path)
{
	return strncmp(path, "syslog", 6) == 0 && (path[6] == '\0' ||
	    path[6] == ':');
}

int
accesslog_open(const char *path)
{
	int fd;

	if (accesslog_is_syslog(path)) {
		/*
		 * Not connected: each sendto(2) names the socket, so a
		 * syslog daemon that restarts (a new socket at the same
		 * path) is found again by the next line, with no reconnect
		 * logic and no state shared between workers.
		 */
		if (accesslog_syslog_fd == -1 && (accesslog_syslog_fd =
		    socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0)) == -1) {
			log_warn("access log to syslog: socket");
			return -1;
		}
		return 0;
	}
	if (strcmp(path, "-") == 0)
		fd = dup(STDOUT_FILENO);
	else
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("access log %s", path);
		return -1;
	}
	if (accesslog_fd == -1) {
		accesslog_fd = fd;
		return 0;
	}
	/*
	 * Workers keep writing to the same fd number; dup2 swaps the file
	 * under it atomically, so a reopen needs no lock and loses no line.
	 */
	if (dup2(fd, accesslog_fd) == -1) {
		log_warn("access log %s: dup2", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void
accesslog_close(void)
{
	if (accesslog_fd != -1)
		close(accesslog_fd);
	accesslog_fd = -1;
	if (accesslog_syslog_fd != -1)
		close(accesslog_syslog_fd);
	accesslog_syslog_fd = -1;
}

/*
 * The RFC 3164 (4.1) header of a line: "<PRI>TIMESTAMP TAG[PID]: ", PRI
 * the facility and severity info, TIMESTAMP "Mmm dd hh:mm:ss" in local
 * time.  No HOSTNAME: on the local socket the syslog daemon adds it, as
 * for glibc's syslog(3).  The timestamp is formatted once per second per
 * thread (localtime_r takes a process-wide lock).  The length written.
 */
static size_t
syslog_header(char *p, int facility, time_t now)
{
	static __thread time_t	 cached = -1;
	static __thread char	 stamp[20];
	static pid_t		 pid;
	struct tm		 tm;
	int			 n;

	if (now != cached) {
		if (localtime_r(&now, &tm) == NULL ||
		    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm) == 0)
			snprintf(stamp, sizeof(stamp), "Jan  1 00:00:00");
		cached = now;
	}
	if (pid == 0)
		pid = getpid();
	n = snprintf(p, SYSLOG_HDR_MAX, "<%d>%s %s[%ld]: ",
	    (facility & LOG_FACMASK) | LOG_INFO, stamp, IAPROXY_NAME,
	    (long)pid);
	return n > 0 && n < SYSLOG_HDR_MAX ? (size_t)n : 0;
}

static void
addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a;

	if (sa == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	a = sa->sa_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	if (inet_ntop(sa->sa_family, a, buf, len) == NULL)
		snprintf(buf, len, "-");
}

/* Write v in decimal, zero-padded to width digits; returns the end. */
static char *
put_u64(char *q, uint64_t v, int width)
{
	char	 tmp[24];
	int	 n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	while (n < width)
		tmp[n++] = '0';
	while (n > 0)
		*q++ = tmp[--n];
	return q;
}

/* Write v in decimal, right-aligned in width columns (Squid's %6tr). */
static char *
put_padded(char *q, uint64_t v, int width)
{
	char	 tmp[24], *e = put_u64(tmp, v, 0);
	int	 n = (int)(e - tmp);

	for (; n < width; width--)
		*q++ = ' ';
	memcpy(q, tmp, e - tmp);
	return q + (e - tmp);
}

/* Write up to three strings (NULL ones skipped); returns the end. */
static char *
put_str(char *q, const char *a, const char *b, const char *c)
{
	size_t n;

	if (a != NULL) {
		n = strlen(a);
		memcpy(q, a, n);
		q += n;
	}
	if (b != NULL) {
		n = strlen(b);
		memcpy(q, b, n);
		q += n;
	}
	if (c != NULL) {
		n = strlen(c);
		memcpy(q, c, n);
		q += n;
	}
	return q;
}

/* Make room for at least need more bytes in the worker's buffer. */
static int
logbuf_reserve(struct worker *w, size_t need)
{
	char	*p;
	size_t	 cap;

	if (w->loglen + need <= w->logcap)
		return 0;
	cap = w->logcap ? w->logcap : 8192;
	while (cap < w->loglen + need)
		cap *= 2;
	if ((p = realloc(w->logbuf, cap)) == NULL)
		return -1;
	w->logbuf = p;
	w->logcap = cap;
	return 0;
}

/*
 * Copy a client-supplied value into a log field: controls and non-ASCII
 * become '?', so no one can forge lines or terminal escapes.  For JSON,
 * quote and backslash are escaped; for Squid's space-separated format, a
 * space is written %20 (as Squid does for user names).
 */
static void
log_field(char *dst, size_t n, const char *s, size_t len, int json)
{
	size_t	 i, o = 0;

	for (i = 0; i < len && o + 4 < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f)
			dst[o++] = '?';
		else if (json && (c == '"' || c == '\\')) {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (!json && c == ' ') {
			memcpy(dst + o, "%20", 3);
			o += 3;
		} else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

/*
 * The json "groups" and "groups_source" members: the cn of each group,
 * escaped, as many as fit in n bytes (then "groups_truncated":true), or
 * nulls when no lookup was made.
 */
static void
json_groups(char *out, size_t n, const struct access_entry *e)
{
	char	 one[300];
	size_t	 i, len, k, count = auth_groups_count(e->groups);
	int	 cut = 0;

	if (e->groups_source == NULL) {
		snprintf(out, n, ",\"groups\":null,\"groups_source\":null");
		return;
	}
	len = (size_t)snprintf(out, n, ",\"groups\":[");
	for (i = 0; i < count; i++) {
		const char *cn = auth_groups_cn(e->groups, i);

		log_field(one, sizeof(one), cn, strlen(cn), 1);
		k = strlen(one);
		/* Room for this, a comma, and what closes the line. */
		if (len + k + 4 + 64 >= n) {
			cut = 1;
			break;
		}
		len += (size_t)snprintf(out + len, n - len, "%s\"%s\"",
		    i > 0 ? "," : "", one);
	}
	snprintf(out + len, n - len, "],\"groups_source\":\"%s\"%s",
	    e->groups_source, cut ? ",\"groups_truncated\":true" : "");
}

/* A JSON string value, or null. */
static int
json_str(char *out, size_t n, const char *s)
{
	if (s == NULL || n < 3)
		return snprintf(out, n, "null");
	out[0] = '"';
	log_field(out + 1, n - 2, s, strlen(s), 1);
	strcat(out, "\"");
	return (int)strlen(out);
}

void
accesslog_write(struct worker *w, const struct config *conf,
    const struct access_entry *e)
{
	struct timeval	 now, d;
	char		 client[INET6_ADDRSTRLEN], url[2048], method[64];
	char		 user[1024], mime[128], *p;
	long		 ms;
	int		 n, json;
	size_t		 room, hdr = 0;

	gettimeofday(&now, NULL);
	timersub(&now, &e->start, &d);
	/* Counted whether or not a log is written. */
	metrics_request(e, &d);
	if (conf->access_syslog < 0 ? accesslog_fd == -1 :
	    accesslog_syslog_fd == -1)
		return;
	ms = d.tv_sec * 1000 + d.tv_usec / 1000;
	addr_text(e->client, client, sizeof(client));
	json = conf->log_format == LOG_FORMAT_JSON;
	log_field(url, sizeof(url), e->url ? e->url : "-",
	    strlen(e->url ? e->url : "-"), json);
	log_field(method, sizeof(method), e->method ? e->method : "-",
	    strlen(e->method ? e->method : "-"), json);
	log_field(user, sizeof(user), e->user ? e->user : "-",
	    strlen(e->user ? e->user : "-"), json);
	/* Squid's %mt: the media type alone, so the field has no spaces. */
	log_sanitize(mime, sizeof(mime), e->content_type ? e->content_type :
	    "-", strcspn(e->content_type ? e->content_type : "-", "; \t"));
	room = sizeof(url) + sizeof(user) + 2048 + ACCESSLOG_GROUPS_MAX;
	if (logbuf_reserve(w, room + SYSLOG_HDR_MAX) == -1)
		return;
	p = w->logbuf + w->loglen;
	/*
	 * A syslog line starts with its header, and so with '<', which
	 * neither format starts a line with: the flush tells them apart by
	 * that, even across a reload that changes access_log.
	 */
	if (conf->access_syslog >= 0 && (hdr = syslog_header(p,
	    conf->access_syslog, now.tv_sec)) == 0)
		return;
	p += hdr;
	if (conf->log_format == LOG_FORMAT_SQUID) {
		/*
		 * %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %un %Sh/%<a %mt,
		 * by hand: one line per request made snprintf a hot spot.
		 */
		char *q = p;

		q = put_u64(q, (uint64_t)now.tv_sec, 0);
		*q++ = '.';
		q = put_u64(q, (uint64_t)(now.tv_usec / 1000), 3);
		*q++ = ' ';
		q = put_padded(q, (uint64_t)ms, 6);
		q = put_str(q, " ", client, " ");
		q = put_str(q, e->result, "/", NULL);
		q = put_u64(q, (uint64_t)e->status, 3);
		*q++ = ' ';
		q = put_u64(q, e->bytes_out, 0);
		q = put_str(q, " ", method, " ");
		q = put_str(q, url, " ", user);
		q = put_str(q, " ", e->hier, "/");
		q = put_str(q, e->peer ? e->peer : "-", " ", mime);
		/*
		 * The policy's rule as a note after Squid's fields (so Squid
		 * log tools, which read the first ten, still parse it).
		 * Written only when the config has rules.
		 */
		if (e->rule != NULL && e->decision != NULL &&
		    policy_nrules(conf->policy) > 0) {
			char note[300];

			log_field(note, sizeof(note), e->rule,
			    strlen(e->rule), 0);
			q = put_str(q, " rule=", note, " decision=");
			q = put_str(q, e->decision, NULL, NULL);
			if (e->incident != NULL)
				q = put_str(q, " incident=", e->incident, NULL);
			if (e->monitor_rule != NULL) {
				log_field(note, sizeof(note), e->monitor_rule,
				    strlen(e->monitor_rule), 0);
				q = put_str(q, " monitor=", note, ":");
				q = put_str(q, e->monitor, NULL, NULL);
			}
		}
		*q++ = '\n';
		n = (int)(q - p);
	} else {
		char ua[300], ct[300], rs[300], gr[ACCESSLOG_GROUPS_MAX];

		json_str(ua, sizeof(ua), e->user);
		json_str(ct, sizeof(ct), e->content_type);
		json_str(rs, sizeof(rs), e->reason);
		json_groups(gr, sizeof(gr), e);
		n = snprintf(p, room, "{\"time\":%lld.%03d,\"duration_ms\":%ld,"
		    "\"client\":\"%s\",\"method\":\"%s\",\"url\":\"%s\","
		    "\"status\":%d,\"result\":\"%s\",\"bytes_out\":%" PRIu64
		    ",\"bytes_in\":%" PRIu64 ",\"upstream\":%s%s%s,"
		    "\"content_type\":%s,\"user\":%s,\"auth\":%s%s%s,"
		    "\"reason\":%s%s",
		    (long long)now.tv_sec, (int)(now.tv_usec / 1000), ms,
		    client, method, url, e->status, e->result, e->bytes_out,
		    e->bytes_in, e->peer ? "\"" : "", e->peer ? e->peer : "null",
		    e->peer ? "\"" : "", ct, ua, e->auth ? "\"" : "",
		    e->auth ? e->auth : "null", e->auth ? "\"" : "", rs, gr);
		if (n > 0 && (size_t)n < room) {
			char dc[32], ru[300], pr[600], mo[32], mr[300];

			json_str(dc, sizeof(dc), e->decision);
			json_str(ru, sizeof(ru), e->rule);
			json_str(pr, sizeof(pr), e->policy_reason);
			json_str(mo, sizeof(mo), e->monitor);
			json_str(mr, sizeof(mr), e->monitor_rule);
			n += snprintf(p + n, room - n, ",\"decision\":%s,"
			    "\"rule\":%s,\"policy_reason\":%s,\"incident\":"
			    "%s%s%s,\"monitor\":%s,\"monitor_rule\":%s", dc, ru,
			    pr, e->incident ? "\"" : "", e->incident ?
			    e->incident : "null", e->incident ? "\"" : "", mo,
			    mr);
		}
		if (n > 0 && (size_t)n < room && e->tunnel)
			n += snprintf(p + n, room - n, ",\"tunnel_up\":%" PRIu64
			    ",\"tunnel_down\":%" PRIu64, e->tunnel_up,
			    e->tunnel_down);
		if (n > 0 && (size_t)n < room)
			n += snprintf(p + n, room - n, "}\n");
	}
	if (n <= 0 || (size_t)n >= room)
		return;
	w->loglen += hdr + n;
	if (w->loglen >= ACCESSLOG_FLUSH_AT)
		accesslog_flush(w);
	else if (w->ev_logflush != NULL)
		event_active(w->ev_logflush, EV_TIMEOUT, 0);
}

/*
 * Send the syslog lines of buf (each "<PRI>...\n", len bytes in all) as
 * one datagram each, without the LF, up to SYSLOG_BATCH per sendmmsg(2).
 * Never waits: the socket is non-blocking, and a datagram the daemon
 * cannot take now (its queue full: EAGAIN; no daemon: ENOENT,
 * ECONNREFUSED) is dropped and counted (iaproxy_syslog_dropped_total),
 * never kept to block the worker or grow without bound.
 */
static void
accesslog_syslog_flush(const struct config *conf, const char *buf,
    size_t len)
{
	static time_t		 warned;	/* racy, only for the log */
	time_t			 now;
	struct sockaddr_un	 sun;
	struct mmsghdr		 msgs[SYSLOG_BATCH];
	struct iovec		 iov[SYSLOG_BATCH];
	const char		*path, *nl;
	size_t			 off = 0, k, i, sent;
	int			 r;

	path = conf != NULL && conf->syslog_socket != NULL ?
	    conf->syslog_socket : "/dev/log";
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		path = "/dev/log";
	memcpy(sun.sun_path, path, strlen(path) + 1);
	while (off < len) {
		memset(msgs, 0, sizeof(msgs));
		for (k = 0; k < SYSLOG_BATCH && off < len; k++) {
			if ((nl = memchr(buf + off, '\n', len - off)) == NULL)
				nl = buf + len;
			iov[k].iov_base = (void *)(uintptr_t)(buf + off);
			iov[k].iov_len = (size_t)(nl - (buf + off));
			msgs[k].msg_hdr.msg_name = &sun;
			msgs[k].msg_hdr.msg_namelen = sizeof(sun);
			msgs[k].msg_hdr.msg_iov = &iov[k];
			msgs[k].msg_hdr.msg_iovlen = 1;
			off = (size_t)(nl - buf) + 1;
		}
		for (i = 0; i < k; i += sent) {
			r = sendmmsg(accesslog_syslog_fd, msgs + i,
			    (unsigned)(k - i), MSG_DONTWAIT | MSG_NOSIGNAL);
			if (r == -1 && errno == EINTR) {
				sent = 0;
				continue;
			}
			if (r <= 0) {
				/*
				 * What failed for one fails for the rest of
				 * the batch: drop them all now.  Said at
				 * most once a minute, so that a syslog
				 * that is down cannot flood the error log.
				 */
				now = time(NULL);
				if (now - warned >= 60) {
					warned = now;
					log_warnx("access log to syslog %s: "
					    "%s; lines are dropped (counted in "
					    "iaproxy_syslog_dropped_total)",
					    path, strerror(errno));
				}
				for (; i < k; i++)
					metrics_syslog_dropped();
				break;
			}
			sent = (size_t)r;
		}
	}
}

void
accesslog_flush(struct worker *w)
{
	size_t		 off = 0, end;
	ssize_t		 n;
	const char	*buf = w->logbuf, *nl;
	static int warned;

	while (off < w->loglen) {
		/* A run of syslog lines, or a run of file lines. */
		int syslog_run = buf[off] == '<';

		for (end = off; end < w->loglen && (buf[end] == '<') ==
		    syslog_run; end = (size_t)(nl - buf) + 1)
			if ((nl = memchr(buf + end, '\n', w->loglen - end)) ==
			    NULL)
				nl = buf + w->loglen - 1;
		if (syslog_run) {
			if (accesslog_syslog_fd != -1)
				accesslog_syslog_flush(w->conf, buf + off,
				    end - off);
			off = end;
			continue;
		}
		while (off < end && accesslog_fd != -1) {
			n = write(accesslog_fd, buf + off, end - off);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				/*
				 * Keep serving; a full disk must not stop
				 * the proxy.
				 */
				if (!warned++)
					log_warn("access log write");
				break;
			}
			off += n;
			warned = 0;
		}
		off = end;
	}
	w->loglen = 0;
}
