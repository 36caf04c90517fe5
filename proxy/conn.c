/*
 * The client connection: accept, read and check a request head, decide
 * what it is for (the gateway's own pages, a CONNECT tunnel, or a request
 * to forward), and go round again for the next request on a keep-alive
 * connection.  Every state change goes through conn_set_state(), every
 * close through conn_close(), every error answer through conn_abort_http().
 *
 * Lifetime: a conn is freed only when its reference count drops to zero,
 * and then from a fresh event (never inside a callback that might still
 * use it).  Asynchronous work (DNS) holds a reference; callers of anything
 * that may close the connection check c->closing afterwards.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include "proxy.h"

#define MAX_HDRS	1000	/* the upper bound of max_headers in conf.c */

static void	conn_readcb(struct bufferevent *, void *);
static void	conn_writecb(struct bufferevent *, void *);
static void	conn_eventcb(struct bufferevent *, short, void *);
static void	conn_read_head(struct conn *);
static void	conn_first_readcb(evutil_socket_t, short, void *);
static int	conn_make_bev(struct conn *, evutil_socket_t);
static int	conn_prepare(struct conn *, const struct h1_msg *, size_t,
		    size_t);
static void	conn_serve_local(struct conn *, const struct h1_msg *,
		    const struct h1_target *);
static void	conn_local_body(struct conn *);

/* What a parsed request head turned out to be for. */
enum conn_action {
	ACT_DONE,	/* already answered (an error page) */
	ACT_LOCAL,	/* one of the gateway's own pages, in head_out */
	ACT_FORWARD,	/* plain HTTP to an origin */
	ACT_TUNNEL,	/* CONNECT */
	ACT_PENDING,	/* waiting for a sign-in backend (gate.c) */
	ACT_BODY,	/* the portal's ACS: read the form, then answer */
	ACT_PORTAL_TLS,	/* CONNECT to the portal, answered here in TLS */
};

static const char *conn_state_names[] = {
	"reading request head", "auth challenged", "authenticating",
	"resolving origin", "connecting to origin", "forwarding",
	"serving a page", "tunnelling", "closing",
};

static void
ms_to_tv(int ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static void
log_str(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_msg(lvl, fmt, ap);
	va_end(ap);
}

void
conn_log(struct conn *c, enum log_level lvl, const char *fmt, ...)
{
	char	 addr[INET6_ADDRSTRLEN] = "?", msg[1024];
	const void *a;
	va_list	 ap;

	if (!log_enabled(lvl))
		return;
	a = c->ss.sa.sa_family == AF_INET6 ? (const void *)&c->ss.sin6.sin6_addr :
	    (const void *)&c->ss.sin.sin_addr;
	inet_ntop(c->ss.sa.sa_family, a, addr, sizeof(addr));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The prefix is added here, once, so callers never format it. */
	log_str(lvl, "%s #%llu (%s): %s", addr, (unsigned long long)c->id,
	    c->action ? c->action : "-", msg);
}

void
conn_set_state(struct conn *c, enum conn_state s, const char *why)
{
	c->action = conn_state_names[s];
	if (c->state != s && log_enabled(LOG_LVL_DEBUG))
		conn_log(c, LOG_LVL_DEBUG, "%s -> %s: %s",
		    conn_state_names[c->state], conn_state_names[s], why);
	c->state = s;
}

void
conn_ref(struct conn *c)
{
	c->refs++;
}

static void
conn_free_deferred(evutil_socket_t fd, short what, void *arg)
{
	free(arg);
}

void
conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	/* Free from a fresh event: the caller's frame may still read c. */
	if (event_base_once(c->worker->base, -1, EV_TIMEOUT,
	    conn_free_deferred, c, NULL) == -1)
		free(c);
}

/* Client-side read/write timeouts for the current phase. */
static void
conn_timeouts(struct conn *c, int read_ms, int write_ms)
{
	struct timeval rtv, wtv;

	ms_to_tv(read_ms, &rtv);
	ms_to_tv(write_ms, &wtv);
	bufferevent_set_timeouts(c->bev, read_ms > 0 ? &rtv : NULL,
	    write_ms > 0 ? &wtv : NULL);
}

void
conn_accept(struct worker *w, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, int local_port, int tls)
{
	struct config	*conf = w->conf;
	struct conn	*c;
	struct timeval	 tv;
	int		 one = 1, over = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->worker = w;
	c->fd = -1;
	c->id = ++w->next_conn_id;
	c->refs = 1;
	memcpy(&c->ss, sa, (size_t)socklen <= sizeof(c->ss) ?
	    (size_t)socklen : sizeof(c->ss));
	c->sslen = socklen;
	c->local_port = local_port;
	c->tls = tls;
	c->since = time(NULL);
	conn_set_state(c, CONN_READ_HDRS, "accepted");
	if (connlimit_acquire(conf->max_connections))
		c->connlimited = 1;
	else
		over = 2;
	if (over == 0 && conf->max_conns_per_ip > 0) {
		if (iplimit_acquire(sa, conf->max_conns_per_ip))
			c->iplimited = 1;
		else
			over = 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	TAILQ_INSERT_TAIL(&w->conns, c, entry);
	w->nconns++;
	if (over) {
		if (over == 2)
			conn_log(c, LOG_LVL_INFO, "max_connections (%d) reached",
			    conf->max_connections);
		else
			conn_log(c, LOG_LVL_INFO, "more than %d connections from "
			    "this address", conf->max_conns_per_ip);
		c->close_after = 1;
		if (conn_make_bev(c, fd) == -1)
			return;
		if (over == 2)
			conn_abort_http_hdrs(c, 503, "the proxy is at its "
			    "connection limit; try again shortly",
			    "Retry-After: 5\r\n");
		else
			conn_abort_http(c, 503, "too many connections from "
			    "your address");
		return;
	}
	/*
	 * Until its first byte, a connection is just an fd and one event:
	 * a browser's spare connections cost a few hundred bytes each.
	 * The bufferevent comes when there is something to read.
	 */
	c->fd = fd;
	c->ev_first = event_new(w->base, fd, EV_READ, conn_first_readcb, c);
	if (c->ev_first == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	ms_to_tv(conf->header_timeout, &tv);
	event_add(c->ev_first, &tv);
}

/* Give the connection its bufferevent; on failure it is closed. */
static int
conn_make_bev(struct conn *c, evutil_socket_t fd)
{
	c->bev = bufferevent_socket_new(c->worker->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		c->fd = fd;	/* conn_close closes it */
		conn_close(c, "out of memory");
		return -1;
	}
	c->fd = -1;
	relay_tune(c->bev);
	/*
	 * Input is bounded: a head may not exceed max_header_bytes, and
	 * pipelined requests wait here while the current one runs.
	 */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    c->worker->conf->max_header_bytes + 1);
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	return 0;
}

/* The first byte (or EOF, or the header timeout) of a new connection. */
static void
conn_first_readcb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct config	*conf = c->worker->conf;

	event_free(c->ev_first);
	c->ev_first = NULL;
	if (what & EV_TIMEOUT) {
		conn_close(c, "no request within header_timeout");
		return;
	}
	if (conn_make_bev(c, fd) == -1)
		return;
	conn_timeouts(c, conf->header_timeout, conf->client_idle_timeout);
	/* The fd is still readable: the bufferevent reads it next turn. */
	bufferevent_enable(c->bev, EV_READ);
	/* A portal_listen connection: TLS from its first byte. */
	if (c->tls == CONN_TLS_ACCEPT)
		(void)portal_tls_start(c);
}

void
conn_client_read(struct conn *c, int on)
{
	if (on)
		bufferevent_enable(c->bev, EV_READ);
	else
		bufferevent_disable(c->bev, EV_READ);
}

struct evbuffer *
conn_client_out(struct conn *c)
{
	return c->sink != NULL ? c->sink : bufferevent_get_output(c->bev);
}

size_t
conn_client_pending(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) +
	    (c->sink != NULL ? evbuffer_get_length(c->sink) : 0);
}

void
conn_sink_begin(struct conn *c)
{
	/*
	 * Only an empty output may be overtaken by a direct write, and
	 * never on a TLS connection: the socket carries records there.
	 */
	if (c->bev != NULL && c->sink == NULL && c->tls == CONN_TLS_NONE &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		c->sink = c->worker->sink;
}

void
conn_sink_end(struct conn *c)
{
	struct evbuffer	*sink = c->sink;

	if (sink == NULL)
		return;
	c->sink = NULL;
	if (c->closing || c->bev == NULL) {
		evbuffer_drain(sink, evbuffer_get_length(sink));
		return;
	}
	if (evbuffer_get_length(sink) == 0)
		return;
	/*
	 * Most answers fit the socket buffer: one write(2) now saves the
	 * epoll round trip (add EV_WRITE, wait, write, delete EV_WRITE) that
	 * going through the bufferevent's output costs.  Errors are left for
	 * the bufferevent to find with the rest.
	 */
	(void)evbuffer_write(sink, bufferevent_getfd(c->bev));
	if (evbuffer_get_length(sink) > 0) {
		evbuffer_add_buffer(bufferevent_get_output(c->bev), sink);
		return;
	}
	/* Drained at once: do what the write callback would have done. */
	if (c->state == CONN_CLOSING)
		conn_close(c, "done");
	else if (c->state == CONN_FORWARD)
		forward_client_drained(c);
}

void
conn_bytes(const struct conn *c, uint64_t *in, uint64_t *out)
{
	const struct request *r = c->req;

	*in = c->bytes_in_done;
	*out = c->bytes_out_done;
	if (r != NULL) {
		/* A live tunnel adds its counts to bytes_* only at its end. */
		*in += r->bytes_in + r->tunnel_up;
		*out += r->bytes_out + r->tunnel_down;
	}
}

void
conn_write_client(struct conn *c, struct evbuffer *buf)
{
	if (c->req != NULL)
		c->req->bytes_out += evbuffer_get_length(buf);
	evbuffer_add_buffer(conn_client_out(c), buf);
}

/* Log the request, if there is one, and forget it. */
static void
conn_request_log_free(struct conn *c, int aborted)
{
	struct request		*r = c->req;
	struct access_entry	 e;
	char			 result[32];

	if (r == NULL)
		return;
	c->req = NULL;
	if (r->is_connect) {
		/*
		 * A tunnel's payload counts as its bytes, however it ended
		 * (by itself, or closed by signout or shutdown), as Squid
		 * counts it.
		 */
		r->bytes_in += r->tunnel_up;
		r->bytes_out += r->tunnel_down;
	}
	c->bytes_in_done += r->bytes_in;
	c->bytes_out_done += r->bytes_out;
	memset(&e, 0, sizeof(e));
	e.start = r->start;
	e.client = &c->ss.sa;
	e.method = r->method ? r->method : "-";
	e.url = r->url ? r->url : "-";
	snprintf(result, sizeof(result), "%s%s", r->result ? r->result :
	    "NONE_NONE", aborted ? "_ABORTED" : "");
	e.result = result;
	e.status = r->status;
	e.bytes_out = r->bytes_out;
	e.bytes_in = r->bytes_in;
	e.hier = r->peer_text[0] ? "HIER_DIRECT" : "HIER_NONE";
	e.peer = r->peer_text[0] ? r->peer_text : NULL;
	e.content_type = r->content_type;
	e.reason = r->reason;
	e.user = c->user;
	e.auth = c->user != NULL ? c->auth_mech : NULL;
	e.groups = r->groups;
	e.groups_source = !r->groups_done ? NULL :
	    r->groups_source == AUTH_GROUPS_SAML ? "saml" :
	    auth_groups_source_name(r->groups_source);
	if (r->decided) {
		const struct policy_decision *d = &r->decision;

		e.decision = r->decision_text != NULL ? r->decision_text :
		    policy_action_name(d->action);
		e.rule = d->rule_name;
		e.policy_reason = r->policy_why[0] != '\0' ? r->policy_why :
		    NULL;
		e.incident = r->incident[0] != '\0' ? r->incident : NULL;
		if (d->monitor_rule >= 0) {
			e.monitor = policy_action_name(d->monitored);
			e.monitor_rule = d->monitor_name;
		}
	}
	e.tunnel = r->is_connect;
	e.tunnel_up = r->tunnel_up;
	e.tunnel_down = r->tunnel_down;
	accesslog_write(c->worker, r->conf, &e);
	/*
	 * An IP session names the user of one request at a time (gate.c
	 * asks again on the next one): expiry and signout apply at once.
	 */
	if (c->auth_mech != NULL && strcmp(c->auth_mech, "saml") == 0) {
		free(c->user);
		c->user = NULL;
		c->auth_mech = NULL;
	}

	tunnel_splice_free(c, r);
	if (r->dns != NULL) {
		/* A cancelled lookup never calls back: drop its reference. */
		dns_cancel(r->dns);
		conn_unref(c);
	}
	if (r->head_out != NULL)
		evbuffer_free(r->head_out);
	free(r->method);
	free(r->url);
	free(r->host);
	free(r->content_type);
	free(r->auth_reply);
	auth_groups_unref(r->groups);
	conf_unref(r->conf);
	free(r);
}

void
conn_close(struct conn *c, const char *reason)
{
	struct worker *w = c->worker;

	if (c->closing)
		return;
	c->closing = 1;
	conn_log(c, LOG_LVL_DEBUG, "close: %s", reason);
	conn_set_state(c, CONN_CLOSING, reason);
	if (c->req != NULL && c->req->status == 0 && c->req->reason == NULL)
		c->req->reason = reason;
	conn_request_log_free(c, 1);
	if (c->up != NULL) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	pin_drop(c);
	if (c->ev_first != NULL)
		event_free(c->ev_first);
	c->ev_first = NULL;
	if (c->bev != NULL && c->tls != CONN_TLS_NONE)
		portal_tls_close(c);	/* lets encrypted bytes out first */
	else if (c->bev != NULL)
		bufferevent_free(c->bev);
	else if (c->fd != -1)
		close(c->fd);
	c->bev = NULL;
	c->fd = -1;
	if (c->iplimited)
		iplimit_release(&c->ss.sa);
	if (c->connlimited)
		connlimit_release();
	if (c->auth_pending != NULL) {
		/* auth_state_free() cancels it; drop the reference it held. */
		c->auth_pending = NULL;
		conn_unref(c);
	}
	gate_conn_closed(c);
	auth_state_free(c->auth);
	c->auth = NULL;
	free(c->user);
	c->user = NULL;
	TAILQ_REMOVE(&w->conns, c, entry);
	w->nconns--;
	conn_unref(c);
	worker_conn_gone(w);
}

/*
 * Let the origin side of the current request go: a lookup in flight
 * (and the reference it held) and the upstream connection, which is not
 * reused (it may be halfway through something).
 */
void
conn_drop_origin(struct conn *c)
{
	struct request *r = c->req;

	if (r->dns != NULL) {
		dns_cancel(r->dns);
		r->dns = NULL;
		conn_unref(c);
	}
	if (c->up != NULL) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
}

/* Start a request record: the config it runs under and the clock. */
static struct request *
conn_request_new(struct conn *c)
{
	struct request *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->conf = conf_ref(c->worker->conf);
	gettimeofday(&r->start, NULL);
	r->result = "NONE_NONE";
	c->req = r;
	return r;
}

void
conn_abort_http(struct conn *c, int status, const char *reason)
{
	conn_abort_http_hdrs(c, status, reason, NULL);
}

void
conn_abort_http_hdrs(struct conn *c, int status, const char *reason,
    const char *extra)
{
	struct request	*r = c->req;
	struct evbuffer	*out;
	int		 keepalive;

	if (c->closing)
		return;
	if (r == NULL && (r = conn_request_new(c)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	if (r->resp_head_sent) {
		/* Too late for a page: the client already has a head. */
		conn_close(c, reason);
		return;
	}
	conn_drop_origin(c);
	r->status = status;
	r->reason = reason;
	if (r->result == NULL || strcmp(r->result, "TCP_DENIED") != 0)
		r->result = "NONE_NONE";
	/*
	 * Keep the connection only when its framing is still certain: the
	 * request was read whole and the client wants keep-alive.  After a
	 * framing error nothing that follows can be trusted (RFC 9112 9.6).
	 */
	keepalive = !c->close_after && r->req_keepalive && r->req_body_done &&
	    status != 400 && status != 408 && status != 431 && status != 414 &&
	    status != 505 && status != 501;
	if (!keepalive)
		c->close_after = 1;
	if (status >= 500)
		conn_log(c, LOG_LVL_INFO, "%d: %s", status, reason);
	else
		conn_log(c, LOG_LVL_INFO, "%d (client): %s", status, reason);
	if ((out = evbuffer_new()) != NULL) {
		pages_error(r->conf, status, reason, r->url, extra, keepalive,
		    out);
		r->content_type = strdup("text/html");
		conn_write_client(c, out);
		evbuffer_free(out);
	}
	conn_request_done(c);
}

void
conn_request_done(struct conn *c)
{
	struct worker *w = c->worker;

	if (c->closing)
		return;
	conn_request_log_free(c, 0);
	if (c->up != NULL) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	memset(&c->parser, 0, sizeof(c->parser));
	c->head_started = 0;
	c->nrequests++;
	if (c->close_after || c->client_eof || w->stopping) {
		conn_set_state(c, CONN_CLOSING, "request done, not keep-alive");
		bufferevent_disable(c->bev, EV_READ);
		if (conn_client_pending(c) == 0)
			conn_close(c, "done");
		else	/* conn_writecb closes once the output has drained */
			conn_timeouts(c, 0, w->conf->client_idle_timeout);
		return;
	}
	conn_set_state(c, CONN_READ_HDRS, "keep-alive");
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	conn_timeouts(c, w->conf->client_idle_timeout,
	    w->conf->client_idle_timeout);
	bufferevent_enable(c->bev, EV_READ);
	/* A pipelined request may be waiting; read it from a fresh event. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

void
conn_drain(struct conn *c)
{
	if (c->state == CONN_READ_HDRS && !c->head_started)
		conn_close(c, "shutting down");
	else
		c->close_after = 1;
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	switch (c->state) {
	case CONN_READ_HDRS:
		conn_read_head(c);
		break;
	case CONN_FORWARD:
		forward_client_readable(c);
		break;
	case CONN_LOCAL:
		if (c->req != NULL && !c->req->req_body_done)
			conn_local_body(c);
		break;
	default:
		/* Input waits while another phase runs (pipelining). */
		break;
	}
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_close(c, "done");
	else if (c->state == CONN_FORWARD)
		forward_client_drained(c);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (c->tls != CONN_TLS_NONE && portal_tls_event(c, what))
		return;
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->state == CONN_READ_HDRS && c->head_started) {
			conn_log(c, LOG_LVL_INFO, "request head not complete "
			    "within header_timeout");
			c->close_after = 1;
			conn_abort_http(c, 408, "request head timeout");
			return;
		}
		conn_close(c, c->state == CONN_READ_HDRS ?
		    "idle timeout" : "client timeout");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->client_eof = 1;
		if (c->state == CONN_READ_HDRS && !c->head_started) {
			conn_close(c, "client closed");
			return;
		}
		if (c->state == CONN_FORWARD) {
			forward_client_eof(c);
			return;
		}
		if (c->state == CONN_READ_HDRS || (c->state == CONN_LOCAL &&
		    c->req != NULL && !c->req->req_body_done)) {
			conn_close(c, "client closed mid-request");
			return;
		}
		/* A half-closed client still gets its answer. */
		return;
	}
	conn_close(c, "client connection error");
}

/* The buffer's first bytes are not the end of the head yet: keep waiting. */
static void
conn_head_wait(struct conn *c)
{
	struct timeval	now, left;
	int		ms;

	gettimeofday(&now, NULL);
	if (!timercmp(&now, &c->head_deadline, <)) {
		c->close_after = 1;
		conn_abort_http(c, 408, "request head timeout");
		return;
	}
	/* Slowloris: the deadline is absolute, not reset by each byte. */
	timersub(&c->head_deadline, &now, &left);
	ms = left.tv_sec * 1000 + left.tv_usec / 1000 + 1;
	conn_timeouts(c, ms, c->worker->conf->client_idle_timeout);
}

static void
conn_read_head(struct conn *c)
{
	struct config	*conf = c->worker->conf;
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct h1_hdr	 hdrs[MAX_HDRS];
	struct h1_limits lim;
	struct h1_msg	 msg;
	size_t		 len, n;
	const char	*buf;
	int		 r, act;

	if ((len = evbuffer_get_length(in)) == 0)
		return;
	if (!c->head_started) {
		struct timeval now, tmo;

		c->head_started = 1;
		gettimeofday(&now, NULL);
		ms_to_tv(conf->header_timeout, &tmo);
		timeradd(&now, &tmo, &c->head_deadline);
	}
	lim.max_head_bytes = conf->max_header_bytes;
	lim.max_line_bytes = conf->max_line_bytes;
	lim.max_headers = conf->max_headers < MAX_HDRS ? conf->max_headers :
	    MAX_HDRS;
	/* One byte past the limit is enough for the parser to refuse. */
	n = len < lim.max_head_bytes + 1 ? len : lim.max_head_bytes + 1;
	if ((buf = (const char *)evbuffer_pullup(in, n)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	memset(&msg, 0, sizeof(msg));
	msg.hdrs = hdrs;
	msg.hdrs_cap = lim.max_headers;
	r = h1_parse_head(&c->parser, H1_REQUEST, NULL, buf, n, &lim, &msg);
	if (r == 0) {
		conn_head_wait(c);
		return;
	}
	if (r < 0) {
		c->close_after = 1;
		conn_abort_http(c, msg.err_status ? msg.err_status : 400,
		    msg.err_reason ? msg.err_reason : "malformed request");
		return;
	}
	/*
	 * Everything the request needs from the head is copied out by
	 * conn_prepare(); only then is the head drained, so the body that
	 * follows it is what forward.c and tunnel.c see first.
	 */
	act = conn_prepare(c, &msg, (size_t)r, len);
	if (c->closing)
		return;
	/* A refused request's buffered body is skipped with its head. */
	evbuffer_drain(in, (size_t)r + c->discard);
	c->discard = 0;
	switch (act) {
	case ACT_LOCAL:
		conn_set_state(c, CONN_LOCAL, "own page");
		conn_write_client(c, c->req->head_out);
		conn_request_done(c);
		break;
	case ACT_FORWARD:
		forward_start(c);
		break;
	case ACT_TUNNEL:
		tunnel_start(c);
		break;
	case ACT_PORTAL_TLS:
		portal_tls_connect(c);
		break;
	case ACT_BODY:
		conn_set_state(c, CONN_LOCAL, "reading the sign-in form");
		conn_local_body(c);
		break;
	case ACT_PENDING:
		/* gate.c goes on when the backend answers; no read timeout. */
		conn_set_state(c, CONN_AUTH_PENDING, "asking the sign-in "
		    "backend");
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		break;
	default:
		break;
	}
}

/* Does a Via field list name hostname as a receiver (a forwarding loop)? */
static int
via_names_us(const char *v, size_t len, const char *hostname)
{
	size_t	 i = 0, s, hl = strlen(hostname);

	while (i < len) {
		/* received-protocol, then RWS, then received-by */
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		while (i < len && v[i] != ' ' && v[i] != '\t' && v[i] != ',')
			i++;
		while (i < len && (v[i] == ' ' || v[i] == '\t'))
			i++;
		s = i;
		while (i < len && v[i] != ' ' && v[i] != '\t' && v[i] != ',' &&
		    v[i] != ':')
			i++;
		if (i - s == hl && strncasecmp(v + s, hostname, hl) == 0)
			return 1;
		/* skip the rest of this element, comment included */
		while (i < len && v[i] != ',') {
			if (v[i] == '(') {
				while (i < len && v[i] != ')')
					i++;
			}
			i++;
		}
	}
	return 0;
}

/* Is this absolute-form target the gateway itself? */
static int
conn_target_is_self(struct conn *c, const struct h1_target *t)
{
	const struct config	*conf = c->worker->conf;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 addr[INET6_ADDRSTRLEN];
	const void		*a;

	if (t->port != c->local_port)
		return 0;
	if (t->host_len == strlen(conf->hostname) &&
	    strncasecmp(t->host, conf->hostname, t->host_len) == 0)
		return 1;
	/* An address literal naming the socket the client came in on. */
	if (getsockname(bufferevent_getfd(c->bev), (struct sockaddr *)&ss,
	    &sslen) == -1)
		return 0;
	a = ss.ss_family == AF_INET6 ?
	    (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr :
	    (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
	if (inet_ntop(ss.ss_family, a, addr, sizeof(addr)) == NULL)
		return 0;
	return t->host_len == strlen(addr) &&
	    strncasecmp(t->host, addr, t->host_len) == 0;
}

static char *
strndup_lower(const char *s, size_t len)
{
	char	*p;
	size_t	 i;

	if ((p = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		p[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i];
	p[len] = '\0';
	return p;
}

static int
conn_prepare(struct conn *c, const struct h1_msg *msg, size_t headlen,
    size_t inlen)
{
	struct config	*conf = c->worker->conf;
	struct request	*r;
	struct h1_target t;
	const char	*why = NULL;
	size_t		 i;
	int		 act;

	if ((r = conn_request_new(c)) == NULL) {
		conn_close(c, "out of memory");
		return ACT_DONE;
	}
	r->method = strndup(msg->method, msg->method_len);
	r->url = strndup(msg->target, msg->target_len);
	if (r->method == NULL || r->url == NULL) {
		conn_close(c, "out of memory");
		return ACT_DONE;
	}
	r->bytes_in = headlen;
	r->client_minor = msg->version_minor;
	/* RFC 9112 9.3: 1.1 persists unless "close"; 1.0 only if asked. */
	if (msg->version_minor >= 1)
		r->req_keepalive = !(msg->flags & H1F_CONN_CLOSE);
	else
		r->req_keepalive = !(msg->flags & H1F_CONN_CLOSE) &&
		    (msg->flags & (H1F_CONN_KEEPALIVE | H1F_PROXY_KEEPALIVE));
	r->req_body = msg->body;
	r->req_remaining = msg->content_length;
	r->req_body_done = msg->body == H1_BODY_NONE ||
	    (msg->body == H1_BODY_LENGTH && msg->content_length == 0);
	r->is_head = msg->method_len == 4 && memcmp(msg->method, "HEAD", 4) == 0;
	r->expect_continue = (msg->flags & H1F_EXPECT_CONTINUE) != 0;

	if (h1_parse_target(msg->method, msg->method_len, msg->target,
	    msg->target_len, &t, &why) == -1) {
		c->close_after = 1;
		conn_abort_http(c, 400, why ? why : "bad request target");
		return ACT_DONE;
	}
	for (i = 0; i < msg->nhdrs; i++) {
		const struct h1_hdr *h = &msg->hdrs[i];

		if (h->name_len == 3 && strncasecmp(h->name, "Via", 3) == 0 &&
		    via_names_us(h->value, h->value_len, conf->hostname)) {
			r->result = "TCP_DENIED";
			conn_abort_http(c, 403, "forwarding loop detected");
			return ACT_DONE;
		}
	}
	/* The sign-in portal (portal.c): no sign-in, never forwarded. */
	if (portal_route(conf, msg, &t, t.form == H1_TARGET_ORIGIN ||
	    (t.form == H1_TARGET_ABSOLUTE && conn_target_is_self(c, &t)))) {
		act = portal_serve(c, msg, &t) == PORTAL_BODY ? ACT_BODY :
		    ACT_LOCAL;
		return c->closing || c->req == NULL ? ACT_DONE : act;
	}
	if (t.form == H1_TARGET_ORIGIN || t.form == H1_TARGET_ASTERISK ||
	    (t.form == H1_TARGET_ABSOLUTE && conn_target_is_self(c, &t))) {
		conn_serve_local(c, msg, &t);
		return c->closing || c->req == NULL ? ACT_DONE : ACT_LOCAL;
	}
	if (c->tls != CONN_TLS_NONE) {
		/*
		 * A portal TLS connection (portal_tls.c) is the gateway's own
		 * end: nothing on it is forwarded or tunnelled, ever.
		 */
		conn_abort_http(c, 421, "this connection serves only the "
		    "sign-in portal");
		return ACT_DONE;
	}
	if (t.form == H1_TARGET_ABSOLUTE && (t.scheme_len != 4 ||
	    strncasecmp(t.scheme, "http", 4) != 0)) {
		conn_abort_http(c, 501, "only http:// URLs can be forwarded; "
		    "https goes through CONNECT");
		return ACT_DONE;
	}
	if (t.form == H1_TARGET_ABSOLUTE && (msg->flags & H1F_HAS_HOST) &&
	    !h1_host_matches(msg->host, msg->host_len, t.host, t.host_len,
	    t.port, 80)) {
		/* Two authorities in one request: refuse the ambiguity. */
		c->close_after = 1;
		conn_abort_http(c, 400, "Host header disagrees with the "
		    "request URI");
		return ACT_DONE;
	}
	if ((r->host = strndup_lower(t.host, t.host_len)) == NULL) {
		conn_close(c, "out of memory");
		return ACT_DONE;
	}
	r->port = t.port;
	snprintf(r->key, sizeof(r->key), "%s:%d", r->host, r->port);
	if (t.form == H1_TARGET_AUTHORITY &&
	    portal_tls_connect_wanted(conf, r->host, r->port)) {
		/* The portal in TLS, answered here: no tunnel, no sign-in. */
		r->is_connect = 1;
		return ACT_PORTAL_TLS;
	}
	if (t.form == H1_TARGET_AUTHORITY) {
		r->is_connect = 1;
		act = ACT_TUNNEL;
	} else if (forward_build_head(c, msg, &t) == -1) {
		conn_close(c, "out of memory");
		return ACT_DONE;
	} else
		act = ACT_FORWARD;
	/* Who is asking, last: everything above answers without sign-in. */
	switch (gate_check(c, msg, headlen, inlen)) {
	case GATE_PASS:
		return act;
	case GATE_PENDING:
		return ACT_PENDING;
	default:
		return ACT_DONE;
	}
}

static void
conn_serve_local(struct conn *c, const struct h1_msg *msg,
    const struct h1_target *t)
{
	struct request	*r = c->req;
	struct evbuffer	*body;
	int		 get, head;

	get = msg->method_len == 3 && memcmp(msg->method, "GET", 3) == 0;
	head = r->is_head;
	if (t->form == H1_TARGET_ASTERISK) {
		/* OPTIONS * asks about the server itself (RFC 9110 9.3.7). */
		if ((r->head_out = evbuffer_new()) == NULL)
			goto oom;
		evbuffer_add_printf(r->head_out, "HTTP/1.1 200 OK\r\n"
		    "Allow: GET, HEAD, OPTIONS, CONNECT\r\n"
		    "Content-Length: 0\r\n\r\n");
		r->status = 200;
		return;
	}
	if (!r->req_body_done) {
		/* Our pages take no body; skipping one is not worth it. */
		c->close_after = 1;
	}
	if ((t->path_len == 10 && memcmp(t->path, "/proxy.pac", 10) == 0) ||
	    (t->path_len == 9 && memcmp(t->path, "/wpad.dat", 9) == 0)) {
		if (!get && !head) {
			conn_abort_http(c, 405, "the PAC file takes GET");
			return;
		}
		if ((r->head_out = evbuffer_new()) == NULL ||
		    (body = evbuffer_new()) == NULL)
			goto oom;
		pages_pac(r->conf, c->local_port, body);
		evbuffer_add_printf(r->head_out, "HTTP/1.1 200 OK\r\n"
		    "Content-Type: application/x-ns-proxy-autoconfig\r\n"
		    "Content-Length: %zu\r\n"
		    "Cache-Control: max-age=300\r\n%s\r\n",
		    evbuffer_get_length(body),
		    r->req_keepalive && !c->close_after ? "" :
		    "Connection: close\r\n");
		if (!head)
			evbuffer_add_buffer(r->head_out, body);
		evbuffer_free(body);
		r->status = 200;
		r->content_type = strdup("application/x-ns-proxy-autoconfig");
		if (!r->req_keepalive)
			c->close_after = 1;
		return;
	}
	if (t->path_len > 18 && memcmp(t->path, "/iaproxy/continue?", 18) ==
	    0) {
		/* A caution page's continue link (decide.c). */
		if (!get) {
			conn_abort_http(c, 405, "the continue link takes GET");
			return;
		}
		if ((r->head_out = evbuffer_new()) == NULL)
			goto oom;
		decide_continue(c, t->path + 18, t->path_len - 18,
		    r->head_out);
		if (c->req != NULL && !r->req_keepalive)
			c->close_after = 1;
		return;
	}
	conn_abort_http(c, 404, "no such page on this gateway");
	return;
oom:
	conn_close(c, "out of memory");
}

/*
 * The portal ACS's form (portal.c): wait for all of its Content-Length
 * bytes (at most SAML_FORM_MAX, checked by portal_serve, so the input
 * may hold that much for now), then hand it over and answer.  The head
 * is drained already.
 */
static void
conn_local_body(struct conn *c)
{
	struct request	*r = c->req;
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	size_t		 need = (size_t)r->req_remaining;
	char		*body;

	if (evbuffer_get_length(in) < need) {
		/* A client waiting for 100 (RFC 9110 10.1.1) gets it. */
		if (r->expect_continue) {
			r->expect_continue = 0;
			evbuffer_add_printf(bufferevent_get_output(c->bev),
			    "HTTP/1.1 100 Continue\r\n\r\n");
		}
		bufferevent_setwatermark(c->bev, EV_READ, 0, need);
		conn_timeouts(c, r->conf->header_timeout,
		    r->conf->client_idle_timeout);
		bufferevent_enable(c->bev, EV_READ);
		return;
	}
	if ((body = malloc(need + 1)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	evbuffer_remove(in, body, need);
	body[need] = '\0';
	r->bytes_in += need;
	r->req_remaining = 0;
	r->req_body_done = 1;
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    c->worker->conf->max_header_bytes + 1);
	portal_acs(c, body, need);
	/* The form is a bearer credential until its assertion is spent. */
	explicit_bzero(body, need);
	free(body);
	if (c->closing || c->req == NULL || c->req->head_out == NULL)
		return;
	conn_write_client(c, c->req->head_out);
	conn_request_done(c);
}

uint64_t
relay_move(struct bufferevent *src, struct evbuffer *dst, uint64_t max)
{
	struct evbuffer	*in = bufferevent_get_input(src);
	size_t		 len = evbuffer_get_length(in);

	if (len > max)
		len = (size_t)max;
	if (len == 0)
		return 0;
	/* evbuffer_remove_buffer moves whole chains without copying. */
	return (uint64_t)evbuffer_remove_buffer(in, dst, len);
}

void
relay_tune(struct bufferevent *bev)
{
	/*
	 * libevent moves at most 16 KiB per read(2)/write(2) by default;
	 * bulk transfers want far fewer system calls.  Reads are still
	 * sized to what the socket holds, so small requests stay small.
	 */
	bufferevent_set_max_single_read(bev, RELAY_HIGH_WATER / 2);
	bufferevent_set_max_single_write(bev, RELAY_HIGH_WATER / 2);
}

int
relay_dst_full(struct bufferevent *dst)
{
	return evbuffer_get_length(bufferevent_get_output(dst)) >=
	    RELAY_HIGH_WATER;
}
