/*
 * The admin listener: an optional loopback TCP port (admin_listen) for
 * what cannot reach the admin socket, a Prometheus server above all.  It
 * speaks just enough HTTP/1.1 (RFC 9112) for that:
 *
 *	GET /metrics		200, the Prometheus text (metrics.c)
 *	POST /command		200, the admin socket's answer to the one
 *				command line in the body (admin_exec)
 *	anything else		404
 *
 * Every request must carry "Authorization: Bearer TOKEN" (RFC 6750 2.1)
 * with the token of admin_token_file, else 401 with WWW-Authenticate:
 * Bearer (RFC 6750 3).  The token is compared in constant time.  It is a
 * separate listener on the main thread's event loop, like the admin
 * socket: never a proxy port, which answers /metrics with its own 404.
 * Only loopback addresses may be configured (conf.c checks too): the
 * token travels in the clear.
 *
 * One request per connection: the answer ends with "Connection: close"
 * and the connection closes once it is written.  The head and the body
 * are bounded, and a client that sends neither in time is closed.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "proxy.h"

#define AH_CLIENTS_MAX	16		/* connections at once */
#define AH_HEAD_MAX	8192		/* bytes of a request head */
#define AH_BODY_MAX	2048		/* bytes of a /command body */
#define AH_TIMEOUT_SEC	10		/* the whole request, and the answer */

/* One connection to the admin listener. */
struct ah_client {
	TAILQ_ENTRY(ah_client)	 link;
	struct bufferevent	*bev;
	char			 peer[INET6_ADDRSTRLEN + 8];
	int			 answered;	/* close once written */
	int			 command;	/* POST /command: a body
						   follows */
	size_t			 headlen;	/* the head, CRLF CRLF in */
	size_t			 bodylen;	/* Content-Length */
};

static struct {
	struct event_base	*base;
	struct evconnlistener	*lev;
	char			*text;		/* "127.0.0.1:PORT" */
	char			*token;		/* secret: wiped when dropped */
	size_t			 token_len;
	TAILQ_HEAD(, ah_client)	 clients;
	int			 nclients;
} ah = { .clients = TAILQ_HEAD_INITIALIZER(ah.clients) };

/* The reason phrase; pages.c knows those the proxy itself sends. */
static const char *
ah_reason(int status)
{
	switch (status) {
	case 401:
		return "Unauthorized";
	case 411:
		return "Length Required";
	default:
		return pages_status_text(status);
	}
}

static void
ah_client_close(struct ah_client *cl)
{
	TAILQ_REMOVE(&ah.clients, cl, link);
	bufferevent_free(cl->bev);
	free(cl);
	ah.nclients--;
}

/*
 * Answer and close: status, its reason phrase, extra header lines (each
 * ending in CRLF, or NULL) and the body (moved from body, or NULL).
 */
static void
ah_answer(struct ah_client *cl, int status, const char *ctype,
    const char *extra, struct evbuffer *body)
{
	struct evbuffer	*out = bufferevent_get_output(cl->bev);
	size_t		 len = body != NULL ? evbuffer_get_length(body) : 0;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%s"
	    "Connection: close\r\n\r\n", status, ah_reason(status),
	    ctype, len, extra != NULL ? extra : "");
	if (body != NULL)
		evbuffer_add_buffer(out, body);
	cl->answered = 1;
	bufferevent_disable(cl->bev, EV_READ);
}

/* A short text answer (errors); needs no allocation of its own. */
static void
ah_text(struct ah_client *cl, int status, const char *extra, const char *msg)
{
	struct evbuffer	*out = bufferevent_get_output(cl->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nCache-Control: "
	    "no-store\r\n%sConnection: close\r\n\r\n%s\n", status,
	    ah_reason(status), strlen(msg) + 1, extra != NULL ? extra :
	    "", msg);
	cl->answered = 1;
	bufferevent_disable(cl->bev, EV_READ);
}

/*
 * Does the Authorization value carry our token?  "Bearer" is matched
 * without regard to case (an auth-scheme, RFC 9110 11.1), then one or
 * more spaces and the token (RFC 6750 2.1: b64token).  The compare takes
 * the same time wherever the first difference is (CRYPTO_memcmp); only a
 * length that differs answers sooner, and says nothing of the bytes.
 */
static int
ah_token_ok(const char *v, size_t len)
{
	size_t i = 6;

	if (ah.token == NULL || len < 7 || strncasecmp(v, "Bearer", 6) != 0 ||
	    v[6] != ' ')
		return 0;
	while (i < len && v[i] == ' ')
		i++;
	while (len > i && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len - i != ah.token_len)
		return 0;
	return CRYPTO_memcmp(v + i, ah.token, ah.token_len) == 0;
}

/*
 * The request head (len bytes, CRLF CRLF at the end, NUL-terminated):
 * answered, or cl->command set when a POST /command body must follow.
 */
static void
ah_head(struct ah_client *cl, char *head, size_t len)
{
	char		*line, *next, *colon, *v, *method, *target, *version;
	const char	*auth = NULL;
	size_t		 auth_len = 0, vlen;
	long long	 clen = -1;
	int		 nauth = 0, expect = 0;

	if (strlen(head) != len) {
		ah_text(cl, 400, NULL, "bad request");
		return;
	}
	/* request-line = method SP request-target SP HTTP-version */
	next = strstr(head, "\r\n");
	*next = '\0';
	next += 2;
	method = head;
	if ((target = strchr(method, ' ')) == NULL ||
	    (version = strchr(target + 1, ' ')) == NULL ||
	    strchr(version + 1, ' ') != NULL) {
		ah_text(cl, 400, NULL, "bad request line");
		return;
	}
	*target++ = '\0';
	*version++ = '\0';
	if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") !=
	    0) {
		ah_text(cl, 505, NULL, "HTTP/1.1 only");
		return;
	}
	for (line = next; *line != '\0'; line = next) {
		if ((next = strstr(line, "\r\n")) == NULL)
			break;
		*next = '\0';
		next += 2;
		if (*line == '\0')
			break;
		/* No obs-fold, no space before the colon (RFC 9112 5). */
		if ((colon = strchr(line, ':')) == NULL || colon == line ||
		    *line == ' ' || *line == '\t' || colon[-1] == ' ' ||
		    colon[-1] == '\t') {
			ah_text(cl, 400, NULL, "bad header field");
			return;
		}
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		vlen = strlen(v);
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			v[--vlen] = '\0';
		if (strcasecmp(line, "Authorization") == 0) {
			auth = v;
			auth_len = vlen;
			nauth++;
		} else if (strcasecmp(line, "Content-Length") == 0) {
			char *end;

			if (clen != -1 || vlen == 0 || vlen > 9 ||
			    strspn(v, "0123456789") != vlen) {
				ah_text(cl, 400, NULL, "bad Content-Length");
				return;
			}
			clen = strtoll(v, &end, 10);
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			/* Our bodies are one short line: no chunks. */
			ah_text(cl, 411, NULL, "Content-Length required");
			return;
		} else if (strcasecmp(line, "Expect") == 0)
			expect = strcasecmp(v, "100-continue") == 0;
	}
	if (nauth != 1 || !ah_token_ok(auth, auth_len)) {
		char shown[64];

		/* Never the token; the method only as printable text. */
		log_sanitize(shown, sizeof(shown), method, strlen(method));
		log_info("admin listener: %s from %s refused: %s", shown,
		    cl->peer, nauth == 0 ? "no token" : "wrong token");
		ah_text(cl, 401, nauth == 0 ?
		    "WWW-Authenticate: Bearer realm=\"iaproxy\"\r\n" :
		    "WWW-Authenticate: Bearer realm=\"iaproxy\", "
		    "error=\"invalid_token\"\r\n", "unauthorized");
		return;
	}
	if (strcmp(target, "/metrics") == 0 && (strcmp(method, "GET") == 0 ||
	    strcmp(method, "HEAD") == 0) && clen <= 0) {
		struct evbuffer *b;

		if ((b = evbuffer_new()) == NULL) {
			ah_text(cl, 503, NULL, "out of memory");
			return;
		}
		metrics_text(b);
		if (strcmp(method, "HEAD") == 0) {
			/* The length of what GET would send, and no body. */
			struct evbuffer *out = bufferevent_get_output(cl->bev);

			evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n"
			    "Content-Type: text/plain; version=0.0.4; "
			    "charset=utf-8\r\nContent-Length: %zu\r\n"
			    "Connection: close\r\n\r\n",
			    evbuffer_get_length(b));
			cl->answered = 1;
			bufferevent_disable(cl->bev, EV_READ);
		} else
			ah_answer(cl, 200, "text/plain; version=0.0.4; "
			    "charset=utf-8", NULL, b);
		evbuffer_free(b);
		return;
	}
	if (strcmp(target, "/command") == 0 && strcmp(method, "POST") == 0) {
		if (clen < 0) {
			ah_text(cl, 411, NULL, "Content-Length required");
			return;
		}
		if (clen > AH_BODY_MAX) {
			ah_text(cl, 413, NULL, "one command line, please");
			return;
		}
		cl->command = 1;
		cl->bodylen = (size_t)clen;
		if (expect)
			evbuffer_add_printf(bufferevent_get_output(cl->bev),
			    "HTTP/1.1 100 Continue\r\n\r\n");
		return;
	}
	ah_text(cl, 404, NULL, "not found");
}

/* The body of POST /command is in: run it as the admin socket would. */
static void
ah_command(struct ah_client *cl, const char *body, size_t len)
{
	struct evbuffer *b;

	if ((b = evbuffer_new()) == NULL) {
		ah_text(cl, 503, NULL, "out of memory");
		return;
	}
	/* The log says "by tcp": the peer's uid is unknown here. */
	admin_exec("tcp", body, len, b);
	ah_answer(cl, 200, "text/plain; charset=utf-8", NULL, b);
	evbuffer_free(b);
}

static void
ah_readcb(struct bufferevent *bev, void *arg)
{
	struct ah_client	*cl = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 end;
	char			*buf;
	size_t			 len;

	if (cl->answered)
		return;
	if (!cl->command) {
		/* Bounded before searching: a head without its end. */
		end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (end.pos == -1) {
			if (evbuffer_get_length(in) > AH_HEAD_MAX)
				ah_text(cl, 431, NULL,
				    "request head too large");
			return;
		}
		len = (size_t)end.pos + 4;
		if (len > AH_HEAD_MAX) {
			ah_text(cl, 431, NULL, "request head too large");
			return;
		}
		if ((buf = malloc(len + 1)) == NULL) {
			ah_text(cl, 503, NULL, "out of memory");
			return;
		}
		evbuffer_remove(in, buf, len);
		buf[len] = '\0';
		cl->headlen = len;
		ah_head(cl, buf, len);
		free(buf);
		if (!cl->command)
			return;
	}
	if (evbuffer_get_length(in) < cl->bodylen)
		return;
	len = cl->bodylen;
	if ((buf = malloc(len + 1)) == NULL) {
		ah_text(cl, 503, NULL, "out of memory");
		return;
	}
	evbuffer_remove(in, buf, len);
	buf[len] = '\0';
	cl->command = 0;
	ah_command(cl, buf, len);
	free(buf);
}

static void
ah_writecb(struct bufferevent *bev, void *arg)
{
	struct ah_client *cl = arg;

	if (cl->answered && evbuffer_get_length(bufferevent_get_output(bev)) ==
	    0)
		ah_client_close(cl);
}

static void
ah_eventcb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	/* EOF, an error or the deadline: nothing more will come. */
	ah_client_close(arg);
}

static void
ah_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ah_client	*cl;
	struct timeval		 tv = { AH_TIMEOUT_SEC, 0 };
	char			 addr[INET6_ADDRSTRLEN];
	const void		*a;

	(void)lev;
	(void)salen;
	(void)arg;
	if (ah.nclients >= AH_CLIENTS_MAX) {
		close(fd);
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL ||
	    (cl->bev = bufferevent_socket_new(ah.base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(cl);
		close(fd);
		return;
	}
	a = sa->sa_family == AF_INET6 ?
	    (const void *)&((struct sockaddr_in6 *)(void *)sa)->sin6_addr :
	    (const void *)&((struct sockaddr_in *)(void *)sa)->sin_addr;
	if (inet_ntop(sa->sa_family, a, addr, sizeof(addr)) == NULL)
		snprintf(addr, sizeof(addr), "?");
	snprintf(cl->peer, sizeof(cl->peer), "%s:%u", addr, (unsigned)ntohs(
	    sa->sa_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)(void *)sa)->sin6_port :
	    ((struct sockaddr_in *)(void *)sa)->sin_port));
	TAILQ_INSERT_TAIL(&ah.clients, cl, link);
	ah.nclients++;
	bufferevent_setcb(cl->bev, ah_readcb, ah_writecb, ah_eventcb, cl);
	bufferevent_set_timeouts(cl->bev, &tv, &tv);
	/* Read no further than a head and a body can be. */
	bufferevent_setwatermark(cl->bev, EV_READ, 0, AH_HEAD_MAX +
	    AH_BODY_MAX + 1);
	bufferevent_enable(cl->bev, EV_READ);
}

/* Is sa a loopback address (127/8, ::1, or ::ffff:127.x)? */
static int
ah_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in6	*s6;
	const uint8_t			*b;

	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family != AF_INET6)
		return 0;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
		return 1;
	b = s6->sin6_addr.s6_addr;
	return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && b[12] == 127;
}

/* Forget the token, wiping it. */
static void
ah_token_drop(void)
{
	if (ah.token != NULL) {
		OPENSSL_cleanse(ah.token, ah.token_len);
		free(ah.token);
	}
	ah.token = NULL;
	ah.token_len = 0;
}

/* Take conf's token (a copy: the config may go while we listen). */
static int
ah_token_take(const struct config *conf)
{
	char *t;

	if (conf->admin_token == NULL || conf->admin_token_len == 0)
		return -1;
	if ((t = malloc(conf->admin_token_len)) == NULL)
		return -1;
	memcpy(t, conf->admin_token, conf->admin_token_len);
	ah_token_drop();
	ah.token = t;
	ah.token_len = conf->admin_token_len;
	return 0;
}

/*
 * Listen as conf says (none: close) instead of what is open now; the new
 * listener first, so a failure keeps the old one and its token.
 */
static int
ah_listen(const struct config *conf)
{
	const struct conf_listen	*l = conf != NULL ? conf->admin_listen :
					    NULL;
	struct evconnlistener		*lev = NULL;
	char				*text = NULL;

	if (l != NULL) {
		if (!ah_loopback((const struct sockaddr *)&l->ss)) {
			log_warnx("admin_listen %s: not a loopback address; "
			    "the admin listener takes 127.0.0.1 or [::1] only",
			    l->text);
			return -1;
		}
		if (conf->admin_token == NULL || conf->admin_token_len == 0) {
			log_warnx("admin_listen %s: no admin token", l->text);
			return -1;
		}
		if ((text = strdup(l->text)) == NULL)
			return -1;
		if ((lev = evconnlistener_new_bind(ah.base, ah_accept, NULL,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
		    LEV_OPT_REUSEABLE, 16, (const struct sockaddr *)&l->ss,
		    (int)l->sslen)) == NULL) {
			log_warn("admin listener %s", l->text);
			free(text);
			return -1;
		}
		if (ah_token_take(conf) == -1) {
			evconnlistener_free(lev);
			free(text);
			return -1;
		}
		log_info("admin listener on %s", l->text);
	} else
		ah_token_drop();
	if (ah.lev != NULL)
		evconnlistener_free(ah.lev);
	free(ah.text);
	ah.lev = lev;
	ah.text = text;
	return 0;
}

int
admin_http_start(struct event_base *base, const struct config *conf)
{
	ah.base = base;
	if (conf->admin_listen == NULL)
		return 0;
	return ah_listen(conf);
}

void
admin_http_reconf(const struct config *conf)
{
	const struct conf_listen *l = conf->admin_listen;

	if (ah.base == NULL)
		return;
	if (l != NULL && ah.text != NULL && strcmp(l->text, ah.text) == 0) {
		/* The same address: keep the socket, take the new token. */
		if (ah_token_take(conf) == -1)
			log_warnx("reload: the admin listener keeps its token");
		return;
	}
	if (l == NULL && ah.lev == NULL)
		return;
	if (ah_listen(conf) == -1)
		log_warnx("reload: the admin listener stays %s",
		    ah.text != NULL ? ah.text : "closed");
}

void
admin_http_stop(void)
{
	if (ah.lev != NULL)
		evconnlistener_free(ah.lev);
	ah.lev = NULL;
	free(ah.text);
	ah.text = NULL;
	ah_token_drop();
	while (!TAILQ_EMPTY(&ah.clients))
		ah_client_close(TAILQ_FIRST(&ah.clients));
}
