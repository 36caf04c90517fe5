/*
 * loadlib: the HTTP side of the bench load clients; see loadlib.h.
 *
 * Results: one per whole final answer the client takes as good (ll_result)
 * or one per failure (ll_fail), each counted only while the clock runs
 * (ll_measuring).  A failed connection is closed and marked for a new one,
 * which the main loop starts: starting it from ll_fail itself would recurse
 * when connect() is refused at once.
 */

#define _GNU_SOURCE		/* memmem, strcasestr */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "loadlib.h"

#define LL_MAXEV	256
#define LL_MAXREPORT	5	/* failures described on stderr */
#define LL_WARM_NS	(30LL * 1000000000LL)

static const char *ll_fail_names[LL_F_MAX - 1] = {
	"connect", "closed", "timeout", "status", "proto"
};

/* Options. */
static struct sockaddr_in ll_proxy;
static const char	*ll_url;
static char		 ll_host[256];
int			 ll_nconns = 1;
int64_t			 ll_duration = 10LL * 1000000000LL;
long			 ll_count;	/* stop after so many results */

/* State and results. */
struct ll_conn		*ll_conns;
static int		 ll_ep;
int			 ll_measuring;	/* the clock runs */
int			 ll_signed_in;	/* connections past the sign-in */
int			 ll_exhausted;	/* every connection ran dry */
static int64_t		 ll_t0, ll_t1;
long			 ll_ok, ll_fails[LL_F_MAX], ll_reconnects;
static int		 ll_reported;
static uint32_t		*ll_lat;	/* microseconds, one per ok */
static size_t		 ll_nlat, ll_latsz;

static const char *
ll_fail_name(enum ll_fail why)
{
	return (why == LL_F_AUTH ? ll_client.auth_fail : ll_fail_names[why]);
}

/* The monotonic clock in nanoseconds. */
int64_t
ll_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

/* The message on stderr, after the client's name; exit status 2. */
void
ll_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ll_client.name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/*
 * The options every client has, from getopt: -x HOST:PORT (the proxy,
 * IPv4), -u URL, -c CONNS, -d SECONDS.  Returns 1 when ch was one of them,
 * 0 when it is the client's, -1 when its value is bad (the client's usage).
 */
int
ll_option(int ch, char *arg)
{
	char *colon, *ep;

	switch (ch) {
	case 'x':
		if ((colon = strrchr(arg, ':')) == NULL)
			return (-1);
		*colon = '\0';
		ll_proxy.sin_family = AF_INET;
		ll_proxy.sin_port = htons(atoi(colon + 1));
		if (inet_pton(AF_INET, arg, &ll_proxy.sin_addr) != 1)
			ll_die("bad proxy address %s", arg);
		return (1);
	case 'u':
		ll_url = arg;
		return (1);
	case 'c':
		ll_nconns = strtol(arg, &ep, 10);
		if (*ep != '\0' || ll_nconns < 1 || ll_nconns > 10000)
			return (-1);
		return (1);
	case 'd':
		ll_duration = (int64_t)(strtod(arg, NULL) * 1e9);
		return (1);
	}
	return (0);
}

/*
 * After the options: -1 when -x or -u is missing or -d is not positive
 * (the client's usage); else the Host from the URL, and SIGPIPE ignored
 * (a write to a connection the proxy closed is a failure, not an end).
 */
int
ll_setup(void)
{
	const char *h, *e;

	if (ll_url == NULL || ll_proxy.sin_family != AF_INET ||
	    ll_duration <= 0)
		return (-1);
	if (strncmp(ll_url, "http://", 7) != 0)
		ll_die("the URL must be http://HOST[:PORT]/PATH");
	h = ll_url + 7;
	e = strchr(h, '/');
	if (e == NULL)
		e = h + strlen(h);
	if (e == h || (size_t)(e - h) >= sizeof(ll_host))
		ll_die("bad host in %s", ll_url);
	memcpy(ll_host, h, e - h);
	ll_host[e - h] = '\0';
	signal(SIGPIPE, SIG_IGN);
	return (0);
}

static void
ll_record(int64_t ns)
{
	uint32_t *p;

	if (ll_nlat == ll_latsz) {
		ll_latsz = ll_latsz ? ll_latsz * 2 : 65536;
		if ((p = realloc(ll_lat, ll_latsz * sizeof(*p))) == NULL)
			ll_die("out of memory");
		ll_lat = p;
	}
	ll_lat[ll_nlat++] = ns / 1000 > UINT32_MAX ? UINT32_MAX : ns / 1000;
}

/* Results so far, good and bad. */
long
ll_total(void)
{
	long t = ll_ok;
	int i;

	for (i = 0; i < LL_F_MAX; i++)
		t += ll_fails[i];
	return (t);
}

/* Connections still at work (a client's start() may leave one closed). */
static int
ll_active(void)
{
	int i, n = 0;

	for (i = 0; i < ll_nconns; i++)
		if (ll_conns[i].fd != -1 || ll_conns[i].restart)
			n++;
	return (n);
}

/* Close c's socket (if open); it no longer counts as signed in. */
void
ll_close(struct ll_conn *c)
{
	if (c->fd != -1) {
		epoll_ctl(ll_ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	if (c->signed_in) {
		c->signed_in = 0;
		ll_signed_in--;
	}
}

/* Close c and start a new connection in its place now. */
void
ll_restart(struct ll_conn *c)
{
	ll_close(c);
	ll_client.start(c);
}

/*
 * The proxy ended a good connection (Connection: close after a good
 * answer): a new one, signed in again; counted, not a failure.
 */
void
ll_reconnect(struct ll_conn *c)
{
	if (ll_measuring)
		ll_reconnects++;
	ll_restart(c);
}

/* c has signed in: GETs without a header follow on it. */
void
ll_sign_in(struct ll_conn *c)
{
	if (!c->signed_in) {
		c->signed_in = 1;
		ll_signed_in++;
	}
}

/* One good result on c at now: counted, its latency kept, while measuring. */
void
ll_result(struct ll_conn *c, int64_t now)
{
	if (ll_measuring) {
		ll_ok++;
		ll_record(now - c->t_start);
	}
}

/*
 * One result that is not good: counted (while measuring, the first few
 * described on stderr), and the connection replaced by a new one from the
 * main loop.
 */
void
ll_fail(struct ll_conn *c, enum ll_fail why, const char *fmt, ...)
{
	va_list ap;

	if (ll_measuring) {
		ll_fails[why]++;
		if (ll_reported++ < LL_MAXREPORT) {
			fprintf(stderr, "%s: conn %d %s: %s: ", ll_client.name,
			    (int)(c - ll_conns), ll_client.legs[c->leg],
			    ll_fail_name(why));
			va_start(ap, fmt);
			vfprintf(stderr, fmt, ap);
			va_end(ap);
			fputc('\n', stderr);
		}
	}
	ll_close(c);
	c->restart = 1;
}

/* Watch c's socket for ev: op EPOLL_CTL_ADD the first time, then MOD. */
static void
ll_want(struct ll_conn *c, int op, uint32_t ev)
{
	struct epoll_event e;

	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(ll_ep, op, c->fd, &e) == -1)
		ll_die("epoll_ctl: %s", strerror(errno));
}

/*
 * A new socket for c, watched for the end of its connect; the clock of its
 * first result starts here.  The client then queues the first request
 * (ll_request) and calls ll_connect.
 */
void
ll_open(struct ll_conn *c)
{
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1)
		ll_die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t_start = ll_now();
	c->connecting = 1;
	ll_want(c, EPOLL_CTL_ADD, EPOLLOUT);
}

/* Connect c's socket to the proxy; the request goes out once it is up. */
void
ll_connect(struct ll_conn *c)
{
	if (connect(c->fd, (struct sockaddr *)&ll_proxy,
	    sizeof(ll_proxy)) == -1 && errno != EINPROGRESS)
		ll_fail(c, LL_F_CONNECT, "%s", strerror(errno));
}

/*
 * Queue a GET of the URL on c; auth is the token of a Proxy-Authorization
 * header in the client's scheme, or NULL for none.  Its deadline starts
 * now.
 */
void
ll_request(struct ll_conn *c, const char *auth)
{
	int n;

	n = snprintf(c->out, sizeof(c->out), "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n%s%s%s%s%s\r\n", ll_url, ll_host,
	    auth ? "Proxy-Authorization: " : "", auth ? ll_client.scheme : "",
	    auth ? " " : "", auth ? auth : "", auth ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(c->out))
		ll_die("request too long");
	c->outlen = n;
	c->outoff = 0;
	c->inlen = 0;
	c->body = LL_B_HEAD;
	c->status = 0;
	c->close_after = 0;
	c->auth[0] = '\0';
	c->t_deadline = ll_now() + LL_TIMEOUT_NS;
	if (!c->connecting)
		ll_want(c, EPOLL_CTL_MOD, EPOLLOUT);
}

/* The header line h (NUL-terminated, no CRLF) of a response head. */
static int
ll_header(struct ll_conn *c, char *h)
{
	size_t slen = strlen(ll_client.scheme), tlen;
	char *v;

	if ((v = strchr(h, ':')) == NULL)
		return (-1);
	*v++ = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	if (strcasecmp(h, "Content-Length") == 0) {
		if (c->body != LL_B_CHUNK_SIZE) {
			c->body = LL_B_LENGTH;
			c->left = strtoull(v, NULL, 10);
		}
	} else if (strcasecmp(h, "Transfer-Encoding") == 0) {
		if (strcasestr(v, "chunked") != NULL)
			c->body = LL_B_CHUNK_SIZE;
	} else if (strcasecmp(h, "Connection") == 0 ||
	    strcasecmp(h, "Proxy-Connection") == 0) {
		if (strcasestr(v, "close") != NULL)
			c->close_after = 1;
	} else if (strcasecmp(h, "Proxy-Authenticate") == 0) {
		/*
		 * The client's scheme with a token: a challenge (NTLM type
		 * 2) or a mutual-auth token (RFC 4559 section 5).
		 */
		if (strncasecmp(v, ll_client.scheme, slen) == 0 &&
		    v[slen] == ' ' && (tlen = strlen(v + slen + 1)) <=
		    ll_client.auth_max && tlen < sizeof(c->auth))
			memcpy(c->auth, v + slen + 1, tlen + 1);
	}
	return (0);
}

/* Parse the head at c->in (ends at hend, just past the blank line). */
static int
ll_head(struct ll_conn *c, char *hend)
{
	char *line, *eol;

	hend[-2] = '\0';
	line = c->in;
	if ((eol = strstr(line, "\r\n")) != NULL)
		*eol = '\0';
	if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12 ||
	    !isdigit((unsigned char)line[9]))
		return (-1);
	c->status = atoi(line + 9);
	if (line[7] == '0')
		c->close_after = 1;	/* HTTP/1.0: assume close */
	c->body = LL_B_EOF;
	while (eol != NULL) {
		line = eol + 2;
		if ((eol = strstr(line, "\r\n")) != NULL)
			*eol = '\0';
		if (*line != '\0' && ll_header(c, line) == -1)
			return (-1);
	}
	if (c->status == 204 || c->status == 304 ||
	    (c->body == LL_B_LENGTH && c->left == 0))
		c->body = LL_B_DONE;
	if (c->status >= 100 && c->status < 200)
		return (-1);		/* nothing here sends interim answers */
	return (0);
}

/* Consume body bytes in c->in; returns 0 (need more), 1 (done), -1. */
static int
ll_body(struct ll_conn *c)
{
	size_t pos = 0, n;
	char *eol, *end;

	for (;;) {
		switch (c->body) {
		case LL_B_DONE:
			memmove(c->in, c->in + pos, c->inlen - pos);
			c->inlen -= pos;
			return (1);
		case LL_B_EOF:
			pos = c->inlen;		/* ends at the close */
			goto keep;
		case LL_B_LENGTH:
		case LL_B_CHUNK_DATA:
			n = c->inlen - pos;
			if (n > c->left)
				n = c->left;
			pos += n;
			c->left -= n;
			if (c->left > 0)
				goto keep;
			c->body = c->body == LL_B_LENGTH ? LL_B_DONE :
			    LL_B_CHUNK_CRLF;
			break;
		case LL_B_CHUNK_CRLF:
			if (c->inlen - pos < 2)
				goto keep;
			if (memcmp(c->in + pos, "\r\n", 2) != 0)
				return (-1);
			pos += 2;
			c->body = LL_B_CHUNK_SIZE;
			break;
		case LL_B_CHUNK_SIZE:
		case LL_B_TRAILER:
			eol = memmem(c->in + pos, c->inlen - pos, "\r\n", 2);
			if (eol == NULL) {
				if (c->inlen - pos > 1024)
					return (-1);
				goto keep;
			}
			if (c->body == LL_B_TRAILER) {
				if (eol == c->in + pos)
					c->body = LL_B_DONE;
				pos = eol + 2 - c->in;
				break;
			}
			c->left = strtoull(c->in + pos, &end, 16);
			if (end == c->in + pos)
				return (-1);
			pos = eol + 2 - c->in;
			c->body = c->left == 0 ? LL_B_TRAILER :
			    LL_B_CHUNK_DATA;
			break;
		default:
			return (-1);
		}
	}
keep:
	memmove(c->in, c->in + pos, c->inlen - pos);
	c->inlen -= pos;
	return (0);
}

static void
ll_readable(struct ll_conn *c)
{
	char *hend;
	ssize_t n;
	int r;

	for (;;) {
		if (c->inlen == sizeof(c->in)) {
			ll_fail(c, LL_F_PROTO, "response head too long");
			return;
		}
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (c->body == LL_B_EOF) {
				c->close_after = 1;
				ll_client.response(c);
			} else
				ll_fail(c, LL_F_CLOSED, "%s after %zu bytes "
				    "(status %d)", n == 0 ? "closed" :
				    strerror(errno), c->inlen, c->status);
			return;
		}
		c->inlen += n;
		if (c->body == LL_B_HEAD) {
			c->in[c->inlen < sizeof(c->in) ? c->inlen :
			    sizeof(c->in) - 1] = '\0';
			hend = memmem(c->in, c->inlen, "\r\n\r\n", 4);
			if (hend == NULL)
				continue;
			hend += 4;
			r = hend - c->in;
			if (ll_head(c, hend) == -1) {
				ll_fail(c, LL_F_PROTO, "bad response head");
				return;
			}
			memmove(c->in, hend, c->inlen - r);
			c->inlen -= r;
		}
		if ((r = ll_body(c)) == -1) {
			ll_fail(c, LL_F_PROTO, "bad body framing");
			return;
		}
		if (r == 1) {
			if (c->inlen > 0) {
				ll_fail(c, LL_F_PROTO, "bytes after the "
				    "response");
				return;
			}
			ll_client.response(c);
			return;
		}
	}
}

static void
ll_writable(struct ll_conn *c)
{
	ssize_t n;
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->connecting) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			ll_fail(c, LL_F_CONNECT, "%s", strerror(err));
			return;
		}
		c->connecting = 0;
	}
	while (c->outoff < c->outlen) {
		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			ll_fail(c, LL_F_CLOSED, "write: %s", strerror(errno));
			return;
		}
		c->outoff += n;
	}
	ll_want(c, EPOLL_CTL_MOD, EPOLLIN);
}

static int
ll_cmp32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

static uint32_t
ll_pct(double p)
{
	size_t i;

	if (ll_nlat == 0)
		return (0);
	i = (size_t)(p / 100.0 * ll_nlat);
	return (ll_lat[i >= ll_nlat ? ll_nlat - 1 : i]);
}

/*
 * The run: ll_nconns connections, each started by the client, until -d
 * has passed, ll_count results are in (when set), or no connection is left
 * at work (ll_exhausted).  With warmup the clock starts only once every
 * connection has signed in (at most 30 s), so the results are the GETs
 * after the sign-in; else it starts at the first connect.  Then the
 * latencies are sorted for ll_summary.
 */
void
ll_run(int warmup)
{
	struct epoll_event evs[LL_MAXEV];
	struct ll_conn *c;
	int64_t now, end = 0, lastscan = 0, warm_end;
	int i, n;

	if ((ll_ep = epoll_create1(0)) == -1)
		ll_die("epoll_create1: %s", strerror(errno));
	if ((ll_conns = calloc(ll_nconns, sizeof(*ll_conns))) == NULL)
		ll_die("out of memory");

	ll_measuring = !warmup;
	for (i = 0; i < ll_nconns; i++) {
		ll_conns[i].fd = -1;
		ll_conns[i].tok = -1;
		ll_client.start(&ll_conns[i]);
	}
	now = ll_now();
	warm_end = now + LL_WARM_NS;
	if (ll_measuring) {
		ll_t0 = now;
		end = ll_t0 + ll_duration;
	}
	for (;;) {
		n = epoll_wait(ll_ep, evs, LL_MAXEV, 50);
		if (n == -1 && errno != EINTR)
			ll_die("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			if (c->fd == -1)
				continue;
			if (c->connecting || c->outoff < c->outlen)
				ll_writable(c);
			else
				ll_readable(c);
		}
		for (i = 0; i < ll_nconns; i++)
			if (ll_conns[i].restart) {
				ll_conns[i].restart = 0;
				ll_client.start(&ll_conns[i]);
			}
		now = ll_now();
		if (!ll_measuring) {
			if (ll_signed_in < ll_nconns && now < warm_end &&
			    ll_active() > 0)
				continue;
			if (ll_signed_in < ll_nconns)
				fprintf(stderr, "%s: only %d of %d "
				    "connections signed in%s\n", ll_client.name,
				    ll_signed_in, ll_nconns, now >= warm_end ?
				    " after 30 s" : "");
			ll_measuring = 1;
			ll_t0 = now;
			end = ll_t0 + ll_duration;
		}
		if (ll_count > 0 ? ll_total() >= ll_count : now >= end)
			break;
		if (ll_active() == 0) {
			ll_exhausted = 1;
			break;
		}
		if (now - lastscan >= 100000000LL) {
			lastscan = now;
			for (i = 0; i < ll_nconns; i++) {
				c = &ll_conns[i];
				if (c->fd != -1 && now > c->t_deadline)
					ll_fail(c, LL_F_TIMEOUT, "no answer "
					    "in 10 s");
			}
		}
	}
	ll_t1 = ll_now();
	for (i = 0; i < ll_nconns; i++)
		if (ll_conns[i].fd != -1)
			close(ll_conns[i].fd);
	qsort(ll_lat, ll_nlat, sizeof(*ll_lat), ll_cmp32);
}

/*
 * The start of the summary line on stdout, after ll_run: "TAG mode=MODE
 * conns= ok= fail= duration_us= p50_us= p99_us= max_us=", each failure
 * count NAME=N in the order given (LL_F_MAX of them), and reconnects=;
 * the client adds its own fields and the newline.
 */
void
ll_summary(const char *tag, const char *mode, const enum ll_fail *order)
{
	int i;

	printf("%s mode=%s conns=%d ok=%ld fail=%ld duration_us=%lld "
	    "p50_us=%u p99_us=%u max_us=%u", tag, mode, ll_nconns, ll_ok,
	    ll_total() - ll_ok, (long long)((ll_t1 - ll_t0) / 1000),
	    ll_pct(50), ll_pct(99), ll_nlat ? ll_lat[ll_nlat - 1] : 0);
	for (i = 0; i < LL_F_MAX; i++)
		printf(" %s=%ld", ll_fail_name(order[i]), ll_fails[order[i]]);
	printf(" reconnects=%ld", ll_reconnects);
}
