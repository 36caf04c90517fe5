/*
 * Forwarding one plain-HTTP request: rewrite the head for the origin,
 * stream the request body, read the response head, rewrite it for the
 * client, stream the response body, and hand the origin connection back
 * to the pool when HTTP/1.1 allows its reuse.
 *
 * Bodies are never buffered whole.  Each direction moves what the other
 * side's output can take; past RELAY_HIGH_WATER the reading side is paused
 * until the writing side drains to half of that (le-proxy's scheme).
 * Chunked bodies pass through unchanged: h1_chunked_feed() only finds
 * where they end, so a smuggled second message can never ride along.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

#define MAX_RESP_HDRS	1000
/* A body this long or longer is spliced (socket to socket, no copies). */
#define SPLICE_MIN_BODY	(64 * 1024)

static void	forward_connected(struct conn *, int, int, const char *);
static void	up_readcb(struct bufferevent *, void *);
static void	up_writecb(struct bufferevent *, void *);
static void	up_eventcb(struct bufferevent *, short, void *);
static void	forward_relay_response(struct conn *);
static void	forward_response_done(struct conn *);
static void	forward_splice_start(struct conn *);

/* Headers that describe one hop and never travel on (RFC 9110 7.6.1). */
static const char *hop_headers[] = {
	"connection", "proxy-connection", "keep-alive", "te", "trailer",
	"upgrade", "proxy-authorization", "proxy-authenticate", NULL
};

/*
 * Identity headers a client may send hoping an origin takes them for
 * the gateway's word (the names other gateways and sign-in proxies use
 * to pass a user on).  The gateway vouches for nobody in a header, so a
 * client's own never travel on: an origin behind us that trusts one
 * would otherwise believe whatever the client wrote.
 */
static const char *identity_headers[] = {
	"x-authenticated-user", "x-authenticated-groups", "x-forwarded-user",
	"x-forwarded-email", "x-forwarded-groups", "x-forwarded-preferred-"
	"username", "x-remote-user", "remote-user", "x-remote-group",
	"x-auth-request-user", "x-auth-request-email", "x-auth-request-groups",
	"x-auth-request-preferred-username", "x-iaproxy-user",
	"x-iaproxy-groups", NULL
};

/* Is h a name of list (lower case)? */
static int
name_in(const char **list, const struct h1_hdr *h)
{
	size_t	i;

	for (i = 0; list[i] != NULL; i++)
		if (h->name_len == strlen(list[i]) &&
		    strncasecmp(h->name, list[i], h->name_len) == 0)
			return 1;
	return 0;
}

/* Is the token tok (length n) in the comma-separated list v? */
static int
list_has_n(const char *v, size_t vlen, const char *tok, size_t n)
{
	size_t	 i = 0, s, e;

	while (i < vlen) {
		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < vlen && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == n && strncasecmp(v + s, tok, n) == 0)
			return 1;
	}
	return 0;
}

/*
 * Should this header stop here?  The fixed hop-by-hop set, plus every
 * field the sender listed in Connection (RFC 9110 7.6.1).
 */
static int
is_hop_by_hop(const struct h1_msg *msg, const struct h1_hdr *h)
{
	size_t	 i;

	if (name_in(hop_headers, h))
		return 1;
	for (i = 0; i < msg->nhdrs; i++) {
		const struct h1_hdr *c = &msg->hdrs[i];

		if (c->name_len == 10 &&
		    strncasecmp(c->name, "connection", 10) == 0 &&
		    list_has_n(c->value, c->value_len, h->name, h->name_len))
			return 1;
	}
	return 0;
}

#define COPY_SKIP_TE	0x1	/* less Transfer-Encoding (de-chunking) */
#define COPY_REQUEST	0x2	/* a request: less identity headers */

/* Copy the end-to-end headers of msg into out. */
static void
copy_headers(const struct h1_msg *msg, struct evbuffer *out, int how)
{
	size_t	 i;

	for (i = 0; i < msg->nhdrs; i++) {
		const struct h1_hdr *h = &msg->hdrs[i];

		if (is_hop_by_hop(msg, h))
			continue;
		if ((how & COPY_REQUEST) && name_in(identity_headers, h))
			continue;
		if ((how & COPY_SKIP_TE) && h->name_len == 17 &&
		    strncasecmp(h->name, "transfer-encoding", 17) == 0)
			continue;
		evbuffer_add(out, h->name, h->name_len);
		evbuffer_add(out, ": ", 2);
		evbuffer_add(out, h->value, h->value_len);
		evbuffer_add(out, "\r\n", 2);
	}
}

/* Our Via entry (RFC 9110 7.6.3): the protocol we received, our name. */
static void
add_via(struct evbuffer *out, int minor, const char *hostname)
{
	static const char tail[] = " (" IAPROXY_NAME "/" PACKAGE_VERSION ")\r\n";

	evbuffer_add(out, minor ? "Via: 1.1 " : "Via: 1.0 ", 9);
	evbuffer_add(out, hostname, strlen(hostname));
	evbuffer_add(out, tail, sizeof(tail) - 1);
}

int
forward_build_head(struct conn *c, const struct h1_msg *msg,
    const struct h1_target *t)
{
	struct request	*r = c->req;
	struct evbuffer	*out;

	if ((out = evbuffer_new()) == NULL)
		return -1;
	/* Origin NTLM/Negotiate binds the upstream connection to us. */
	if (pin_wanted(msg, "Authorization"))
		r->pin = 1;
	/* A proxy speaks its own version upstream (RFC 9110 6.2). */
	evbuffer_add(out, msg->method, msg->method_len);
	evbuffer_add(out, " ", 1);
	evbuffer_add(out, t->path, t->path_len);
	evbuffer_add(out, " HTTP/1.1\r\n", 11);
	copy_headers(msg, out, COPY_REQUEST);
	if (!(msg->flags & H1F_HAS_HOST)) {
		if (t->port_explicit)
			evbuffer_add_printf(out, "Host: %s%s%s:%d\r\n",
			    memchr(r->host, ':', strlen(r->host)) ? "[" : "",
			    r->host, memchr(r->host, ':', strlen(r->host)) ?
			    "]" : "", t->port);
		else
			evbuffer_add_printf(out, "Host: %s\r\n", r->host);
	}
	add_via(out, r->client_minor, r->conf->hostname);
	evbuffer_add(out, "\r\n", 2);
	r->head_out = out;
	return 0;
}

void
forward_start(struct conn *c)
{
	struct config *conf = c->req->conf;
	struct timeval tv;

	/*
	 * The client has client_idle_timeout to send its body and to read
	 * the answer; once the request is whole it may wait quietly.
	 * Reading stays on: a client that leaves is noticed, and pipelined
	 * requests queue only up to the read high-water mark.
	 */
	tv.tv_sec = conf->client_idle_timeout / 1000;
	tv.tv_usec = (conf->client_idle_timeout % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, c->req->req_body_done ? NULL : &tv,
	    &tv);
	origin_connect(c, 1, forward_connected);
}

static void
up_timeouts(struct conn *c)
{
	struct request	*r = c->req;
	struct timeval	 tv;

	tv.tv_sec = r->conf->upstream_timeout / 1000;
	tv.tv_usec = (r->conf->upstream_timeout % 1000) * 1000;
	/*
	 * The origin's silence counts only once it has the whole request:
	 * a long upload is bounded by the client's timeouts instead.
	 */
	bufferevent_set_timeouts(c->up, r->req_body_done ? &tv : NULL, &tv);
}

static void
forward_connected(struct conn *c, int ok, int status, const char *reason)
{
	struct request	*r = c->req;
	struct evbuffer	*out;
	const char	*head;
	size_t		 len;
	ssize_t		 n;

	if (!ok) {
		conn_abort_http(c, status, reason);
		return;
	}
	r->result = "TCP_MISS";
	conn_set_state(c, CONN_FORWARD, r->reused ? "reused origin "
	    "connection" : "connected");
	bufferevent_setcb(c->up, up_readcb, up_writecb, up_eventcb, c);
	up_timeouts(c);
	/*
	 * Keep head_out: a stale pooled connection means sending it again.
	 * The head goes out with one write(2) when it can, sparing the
	 * EV_WRITE round trip; what does not fit, or an error, is left to
	 * the bufferevent.
	 */
	out = bufferevent_get_output(c->up);
	len = evbuffer_get_length(r->head_out);
	head = (const char *)evbuffer_pullup(r->head_out, -1);
	n = 0;
	if (evbuffer_get_length(out) == 0)
		n = send(bufferevent_getfd(c->up), head, len, MSG_NOSIGNAL);
	if (n < 0)
		n = 0;
	if ((size_t)n < len)
		evbuffer_add(out, head + n, len - n);
	/* EV_WRITE is on from creation; enabling it again costs a syscall. */
	bufferevent_enable(c->up, EV_READ);
	if (!r->req_body_done)
		forward_client_readable(c);
}

/* Feed chunked bytes from in to the decoder; how many belong to the body. */
static long
chunked_span(struct h1_chunked *st, struct evbuffer *in)
{
	struct evbuffer_iovec	 v[16];
	long			 total = 0, n;
	int			 nv, i;

	nv = evbuffer_peek(in, -1, NULL, v, 16);
	if (nv > 16)
		nv = 16;
	for (i = 0; i < nv && !st->done; i++) {
		n = h1_chunked_feed(st, v[i].iov_base, v[i].iov_len);
		if (n < 0)
			return -1;
		total += n;
	}
	return total;
}

void
forward_client_readable(struct conn *c)
{
	struct request	*r = c->req;
	struct evbuffer	*in;
	uint64_t	 moved;
	long		 n;

	if (r == NULL || c->up == NULL || r->req_body_done ||
	    c->state != CONN_FORWARD)
		return;
	in = bufferevent_get_input(c->bev);
	while (!r->req_body_done && evbuffer_get_length(in) > 0) {
		if (relay_dst_full(c->up)) {
			/* up_writecb resumes us when the origin catches up. */
			conn_client_read(c, 0);
			bufferevent_setwatermark(c->up, EV_WRITE,
			    RELAY_HIGH_WATER / 2, 0);
			return;
		}
		if (r->req_body == H1_BODY_LENGTH) {
			moved = relay_move(c->bev, bufferevent_get_output(c->up),
			    r->req_remaining);
			r->req_remaining -= moved;
			if (r->req_remaining == 0)
				r->req_body_done = 1;
		} else {
			if ((n = chunked_span(&r->req_chunk, in)) < 0) {
				conn_log(c, LOG_LVL_INFO, "bad chunked request "
				    "body: %s", r->req_chunk.err_reason ?
				    r->req_chunk.err_reason : "?");
				c->close_after = 1;
				conn_abort_http(c, 400, "bad chunked framing in "
				    "the request body");
				return;
			}
			moved = relay_move(c->bev, bufferevent_get_output(c->up),
			    (uint64_t)n);
			if (r->req_chunk.done)
				r->req_body_done = 1;
		}
		r->bytes_in += moved;
		r->req_body_sent += moved;
		if (moved == 0)
			break;
	}
	if (r->req_body_done) {
		struct timeval tv;

		/* Anything after the body is the next request: it waits. */
		tv.tv_sec = r->conf->client_idle_timeout / 1000;
		tv.tv_usec = (r->conf->client_idle_timeout % 1000) * 1000;
		bufferevent_set_timeouts(c->bev, NULL, &tv);
		up_timeouts(c);
	}
}

void
forward_client_drained(struct conn *c)
{
	struct request *r = c->req;

	if (r == NULL || c->up == NULL || !r->resp_head_sent)
		return;
	if (r->splice_wanted) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			forward_splice_start(c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->up, EV_READ);
	forward_relay_response(c);
}

void
forward_client_eof(struct conn *c)
{
	struct request *r = c->req;

	if (r != NULL && !r->req_body_done) {
		conn_close(c, "client closed before the request body ended");
		return;
	}
	/* A half-close after a whole request still deserves the answer. */
	c->close_after = 1;
}

static void
up_writecb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct request	*r = c->req;

	if (r == NULL || r->req_body_done)
		return;
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	conn_client_read(c, 1);
	forward_client_readable(c);
}

/* Build the client-bound head from the origin's final response. */
static void
forward_response_head(struct conn *c, const struct h1_msg *msg)
{
	struct request	*r = c->req;
	struct evbuffer	*out;
	const struct h1_hdr *ct;
	char		 status[] = "HTTP/1.1 000 ";
	int		 ka;

	r->status = msg->status;
	r->resp_body = msg->body;
	if (msg->status == 401 && pin_wanted(msg, "WWW-Authenticate"))
		r->pin = 1;
	r->resp_remaining = msg->content_length;
	if (msg->version_minor >= 1)
		r->resp_keepalive = !(msg->flags & H1F_CONN_CLOSE);
	else
		r->resp_keepalive = (msg->flags & H1F_CONN_KEEPALIVE) != 0;
	if (msg->body == H1_BODY_CLOSE)
		r->resp_keepalive = 0;
	if ((ct = h1_find_hdr(msg, "Content-Type")) != NULL)
		r->content_type = strndup(ct->value, ct->value_len < 200 ?
		    ct->value_len : 200);

	/*
	 * HTTP/1.0 cannot read chunked: such a client gets the data alone,
	 * delimited by closing the connection (RFC 9112 6.3, 7).
	 */
	r->dechunk = r->client_minor == 0 && msg->body == H1_BODY_CHUNKED;
	ka = r->req_keepalive && !c->close_after && !c->client_eof &&
	    !c->worker->stopping && msg->body != H1_BODY_CLOSE && !r->dechunk;
	if ((out = evbuffer_new()) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	/* No printf on the hot path: status is three digits (h1_parse.c). */
	status[9] = '0' + msg->status / 100 % 10;
	status[10] = '0' + msg->status / 10 % 10;
	status[11] = '0' + msg->status % 10;
	evbuffer_add(out, status, sizeof(status) - 1);
	evbuffer_add(out, msg->reason, msg->reason_len);
	evbuffer_add(out, "\r\n", 2);
	copy_headers(msg, out, r->dechunk ? COPY_SKIP_TE : 0);
	if (!ka) {
		c->close_after = 1;
		evbuffer_add(out, "Connection: close\r\n", 19);
	} else if (r->client_minor == 0)
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	add_via(out, msg->version_minor, r->conf->hostname);
	/* A final Negotiate token (mutual auth, RFC 4559 5). */
	if (r->auth_reply != NULL)
		evbuffer_add(out, r->auth_reply, strlen(r->auth_reply));
	evbuffer_add(out, "\r\n", 2);
	conn_write_client(c, out);
	evbuffer_free(out);
	r->resp_head_sent = 1;
	evbuffer_free(r->head_out);
	r->head_out = NULL;
}

static void	up_read(struct bufferevent *, struct conn *);

/* The origin sent something: relay it, writing to the client directly. */
static void
up_readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	conn_ref(c);
	conn_sink_begin(c);
	up_read(bev, c);
	conn_sink_end(c);
	conn_unref(c);
}

static void
up_read(struct bufferevent *bev, struct conn *c)
{
	struct request	*r = c->req;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct h1_hdr	 hdrs[MAX_RESP_HDRS];
	struct h1_limits lim;
	struct h1_msg	 msg;
	const char	*buf;
	size_t		 len, n;
	int		 hl;

	while (!r->resp_head_sent) {
		if ((len = evbuffer_get_length(in)) == 0)
			return;
		lim.max_head_bytes = r->conf->max_header_bytes;
		lim.max_line_bytes = r->conf->max_line_bytes;
		lim.max_headers = MAX_RESP_HDRS;
		n = len < lim.max_head_bytes + 1 ? len : lim.max_head_bytes + 1;
		buf = (const char *)evbuffer_pullup(in, n);
		memset(&msg, 0, sizeof(msg));
		msg.hdrs = hdrs;
		msg.hdrs_cap = MAX_RESP_HDRS;
		hl = h1_parse_head(&r->resp_parser, H1_RESPONSE, r->method,
		    buf, n, &lim, &msg);
		if (hl == 0)
			return;
		if (hl < 0) {
			conn_log(c, LOG_LVL_INFO, "bad response from %s: %s",
			    r->key, msg.err_reason ? msg.err_reason : "?");
			c->close_after = 1;
			conn_abort_http(c, 502, "the origin sent an invalid "
			    "response");
			return;
		}
		if (msg.status >= 100 && msg.status < 200) {
			/* We never ask for protocol switches: 101 is bogus. */
			if (msg.status == 101) {
				c->close_after = 1;
				conn_abort_http(c, 502, "the origin switched "
				    "protocols unasked");
				return;
			}
			/* Interim answers (100 Continue) go to 1.1 clients. */
			if (r->client_minor >= 1) {
				struct evbuffer *o = evbuffer_new();

				if (o != NULL) {
					evbuffer_add_printf(o, "HTTP/1.1 %d %s"
					    "\r\n\r\n", msg.status, msg.status
					    == 100 ? "Continue" : "Information");
					conn_write_client(c, o);
					evbuffer_free(o);
				}
			}
			evbuffer_drain(in, (size_t)hl);
			memset(&r->resp_parser, 0, sizeof(r->resp_parser));
			continue;
		}
		forward_response_head(c, &msg);
		if (c->closing)
			return;
		evbuffer_drain(in, (size_t)hl);
	}
	forward_relay_response(c);
}

/* De-chunking for an HTTP/1.0 client: each data run goes out as is. */
static void
dechunk_data(void *arg, const char *data, size_t len)
{
	struct conn *c = arg;

	evbuffer_add(conn_client_out(c), data, len);
	c->req->bytes_out += len;
}

static void
forward_relay_response(struct conn *c)
{
	struct request	*r = c->req;
	struct evbuffer	*in;
	uint64_t	 moved;
	long		 n;

	if (r == NULL || c->up == NULL)
		return;
	in = bufferevent_get_input(c->up);
	while (!r->resp_done) {
		if (r->resp_body == H1_BODY_NONE ||
		    (r->resp_body == H1_BODY_LENGTH && r->resp_remaining == 0)) {
			r->resp_done = 1;
			break;
		}
		if (evbuffer_get_length(in) == 0)
			return;
		if (conn_client_pending(c) >= RELAY_HIGH_WATER) {
			/* conn_writecb -> forward_client_drained resumes. */
			bufferevent_disable(c->up, EV_READ);
			bufferevent_setwatermark(c->bev, EV_WRITE,
			    RELAY_HIGH_WATER / 2, 0);
			return;
		}
		switch (r->resp_body) {
		case H1_BODY_LENGTH:
			moved = relay_move(c->up, conn_client_out(c),
			    r->resp_remaining);
			r->resp_remaining -= moved;
			r->bytes_out += moved;
			if (r->resp_remaining == 0) {
				r->resp_done = 1;
				break;
			}
			/*
			 * A long body goes socket to socket once what is
			 * buffered has reached the client, so order holds.
			 */
			if (r->resp_remaining >= SPLICE_MIN_BODY &&
			    r->req_body_done && !r->dechunk &&
			    evbuffer_get_length(in) == 0) {
				bufferevent_disable(c->up, EV_READ);
				r->splice_wanted = 1;
				if (conn_client_pending(c) == 0)
					forward_splice_start(c);
				else
					bufferevent_setwatermark(c->bev,
					    EV_WRITE, 0, 0);
				return;
			}
			break;
		case H1_BODY_CHUNKED:
			if (r->dechunk) {
				r->resp_chunk.on_data = dechunk_data;
				r->resp_chunk.arg = c;
			}
			if ((n = chunked_span(&r->resp_chunk, in)) < 0) {
				conn_log(c, LOG_LVL_INFO, "bad chunked response "
				    "from %s: %s", r->key,
				    r->resp_chunk.err_reason ?
				    r->resp_chunk.err_reason : "?");
				conn_close(c, "bad chunked framing from the "
				    "origin");
				return;
			}
			if (r->dechunk) {
				/* on_data already copied the data out. */
				evbuffer_drain(in, (size_t)n);
				moved = (uint64_t)n;
			} else {
				moved = relay_move(c->up, conn_client_out(c),
				    (uint64_t)n);
				r->bytes_out += moved;
			}
			if (r->resp_chunk.done)
				r->resp_done = 1;
			break;
		default:	/* H1_BODY_CLOSE: everything until EOF */
			moved = relay_move(c->up, conn_client_out(c), UINT64_MAX);
			r->bytes_out += moved;
			break;
		}
		if (moved == 0 && !r->resp_done)
			return;
	}
	forward_response_done(c);
}

static void
forward_response_done(struct conn *c)
{
	struct request	*r = c->req;
	struct worker	*w = c->worker;

	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (!r->req_body_done)
		c->close_after = 1;	/* the rest of its body is unread */
	if (r->resp_keepalive && r->req_body_done && !w->stopping &&
	    evbuffer_get_length(bufferevent_get_input(c->up)) == 0) {
		if (r->pin && !c->close_after)
			pin_keep(c, c->up, r->key, (struct sockaddr *)&r->peer,
			    r->peerlen);
		else if (r->pin)
			bufferevent_free(c->up);	/* never to the pool */
		else
			upstream_pool_put(w->pool, r->key, c->up,
			    (struct sockaddr *)&r->peer, r->peerlen, r->conf);
	} else
		bufferevent_free(c->up);
	c->up = NULL;
	conn_request_done(c);
}

static void
up_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct request	*r = c->req;

	if (what & BEV_EVENT_TIMEOUT) {
		conn_log(c, LOG_LVL_INFO, "origin %s timed out", r->key);
		if (!r->resp_head_sent)
			conn_abort_http(c, 504, "the origin did not answer in "
			    "time");
		else
			conn_close(c, "origin timed out mid-response");
		return;
	}
	if ((what & BEV_EVENT_EOF) && r->resp_head_sent &&
	    r->resp_body == H1_BODY_CLOSE) {
		/* Close-delimited: EOF is the end of the body (RFC 9112 6.3). */
		forward_relay_response(c);
		if (!c->closing && c->req == r && !r->resp_done) {
			r->resp_done = 1;
			forward_response_done(c);
		}
		return;
	}
	if (r->resp_head_sent) {
		conn_close(c, "origin closed mid-response");
		return;
	}
	/*
	 * A pooled connection the origin closed just as we reused it: the
	 * request never reached it, so send it once more on a fresh one
	 * (RFC 9112 9.3.1), unless body bytes have already gone.
	 */
	if (r->reused && !r->retried && r->req_body_sent == 0 &&
	    evbuffer_get_length(bufferevent_get_input(bev)) == 0) {
		conn_log(c, LOG_LVL_DEBUG, "pooled connection to %s was "
		    "closed; retrying", r->key);
		r->retried = 1;
		bufferevent_free(c->up);
		c->up = NULL;
		memset(&r->resp_parser, 0, sizeof(r->resp_parser));
		origin_connect(c, 0, forward_connected);
		return;
	}
	conn_log(c, LOG_LVL_INFO, "origin %s closed without answering", r->key);
	c->close_after = 1;
	conn_abort_http(c, 502, (what & BEV_EVENT_ERROR) ? "the connection to "
	    "the origin failed" : "the origin closed the connection without "
	    "answering");
}

/* The spliced body moved on, ended, or waited too long. */
static void
forward_splice_run(struct conn *c, int i, int timed_out)
{
	struct request	*r = c->req;
	uint64_t	 moved;
	struct timeval	 rtv, wtv;
	int		 res;

	if (timed_out) {
		conn_log(c, LOG_LVL_INFO, "origin %s or client stalled "
		    "mid-body", r->key);
		conn_close(c, "body relay timed out");
		return;
	}
	res = splice_pump(c->worker, &r->splice->dir[1], &moved);
	r->bytes_out += moved;
	r->resp_remaining -= moved;
	rtv.tv_sec = r->conf->upstream_timeout / 1000;
	rtv.tv_usec = (r->conf->upstream_timeout % 1000) * 1000;
	wtv.tv_sec = r->conf->client_idle_timeout / 1000;
	wtv.tv_usec = (r->conf->client_idle_timeout % 1000) * 1000;
	splice_relay_wait(r->splice, 1, res, &rtv, &wtv);
	switch (res) {
	case SPLICE_LIMIT:
		/* Back to the bufferevents for what follows. */
		splice_relay_free(c->worker, r->splice);
		r->splice = NULL;
		r->splice_wanted = 0;
		bufferevent_enable(c->bev, EV_WRITE);
		bufferevent_enable(c->up, EV_WRITE);
		r->resp_done = 1;
		forward_response_done(c);
		break;
	case SPLICE_EOF:
		conn_close(c, "origin closed mid-response");
		break;
	case SPLICE_ERROR:
		conn_close(c, "body relay failed");
		break;
	default:
		break;
	}
}

static void
forward_splice_start(struct conn *c)
{
	struct request		*r = c->req;
	struct splice_relay	*sr;

	sr = splice_relay_new(c, bufferevent_getfd(c->bev),
	    bufferevent_getfd(c->up), 2, forward_splice_run);
	if (sr == NULL) {
		/* No pipe to be had: the evbuffer path still works. */
		r->splice_wanted = 0;
		bufferevent_enable(c->up, EV_READ);
		return;
	}
	sr->dir[1].limit = r->resp_remaining;
	bufferevent_disable(c->bev, EV_WRITE);
	bufferevent_disable(c->up, EV_READ | EV_WRITE);
	r->splice = sr;
	forward_splice_run(c, 1, 0);
}
