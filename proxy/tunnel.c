/*
 * CONNECT tunnels: after the port check and the connect, "200 Connection
 * established" and then raw bytes both ways.  Each direction pauses its
 * reader when the other side's output passes RELAY_HIGH_WATER.  A
 * half-close is passed on: when one side ends its stream, the other side's
 * write half is shut down once everything before the EOF has been sent,
 * and the tunnel ends when both directions have ended.
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "proxy.h"

static void	tunnel_connected(struct conn *, int, int, const char *);
static void	tunnel_readcb(struct bufferevent *, void *);
static void	tunnel_writecb(struct bufferevent *, void *);
static void	tunnel_eventcb(struct bufferevent *, short, void *);
static int	tunnel_splice_start(struct conn *, const char *, size_t);
static void	tunnel_end(struct conn *, const char *);


void
tunnel_start(struct conn *c)
{
	struct request	*r = c->req;

	if (!conf_connect_port_ok(r->conf, r->port)) {
		r->result = "TCP_DENIED";
		conn_log(c, LOG_LVL_INFO, "CONNECT to port %d refused", r->port);
		conn_abort_http(c, 403, "CONNECT to this port is not allowed");
		return;
	}
	/* Early bytes (a TLS ClientHello) wait in the input until connected. */
	conn_client_read(c, 0);
	origin_connect(c, 0, tunnel_connected);
}

static void
tunnel_timeouts(struct conn *c)
{
	struct timeval tv;
	int ms = c->req->conf->tunnel_idle_timeout;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_set_timeouts(c->up, &tv, NULL);
}

static void
tunnel_connected(struct conn *c, int ok, int status, const char *reason)
{
	struct request	*r = c->req;
	char		 established[4500];
	size_t		 elen;
	int		 rc;

	if (!ok) {
		c->close_after = 1;
		conn_abort_http(c, status, reason);
		return;
	}
	/* A final Negotiate token (mutual auth) rides on the 200. */
	rc = snprintf(established, sizeof(established), "HTTP/1.1 200 "
	    "Connection established\r\n%s\r\n", r->auth_reply != NULL ?
	    r->auth_reply : "");
	if (rc < 0 || (size_t)rc >= sizeof(established))
		rc = snprintf(established, sizeof(established), "HTTP/1.1 200 "
		    "Connection established\r\n\r\n");
	elen = (size_t)rc;
	r->result = "TCP_TUNNEL";
	r->status = 200;
	conn_set_state(c, CONN_TUNNEL, r->key);
	c->close_after = 1;	/* a tunnel is the connection's last use */
	gettimeofday(&r->tunnel_active, NULL);
	rc = tunnel_splice_start(c, established, elen);
	if (rc == 0)
		return;
	/* Not spliceable (bytes already buffered): relay through evbuffers. */
	if (rc < 0) {
		bufferevent_write(c->bev, established, elen);
		r->bytes_out += elen;
	}
	gettimeofday(&r->tunnel_active, NULL);
	bufferevent_setcb(c->bev, tunnel_readcb, tunnel_writecb,
	    tunnel_eventcb, c);
	bufferevent_setcb(c->up, tunnel_readcb, tunnel_writecb,
	    tunnel_eventcb, c);
	tunnel_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	bufferevent_enable(c->up, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		tunnel_readcb(c->bev, c);
}

static struct bufferevent *
tunnel_other(struct conn *c, struct bufferevent *bev)
{
	return bev == c->bev ? c->up : c->bev;
}

void
tunnel_splice_free(struct conn *c, struct request *r)
{
	if (r == NULL)
		return;
	if (r->tunnel_idle != NULL)
		event_free(r->tunnel_idle);
	r->tunnel_idle = NULL;
	splice_relay_free(c->worker, r->splice);
	r->splice = NULL;
}

/* Both directions ended (or one failed): log the tunnel and close. */
static void
tunnel_end(struct conn *c, const char *why)
{
	struct request *r = c->req;

	tunnel_splice_free(c, r);
	conn_request_done(c);
	if (!c->closing)
		conn_close(c, why);
}

static void
tunnel_readcb(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct request		*r = c->req;
	struct bufferevent	*dst = tunnel_other(c, bev);
	uint64_t		 n;

	if (dst == NULL)
		return;
	n = relay_move(bev, bufferevent_get_output(dst), UINT64_MAX);
	if (bev == c->bev)
		r->tunnel_up += n;
	else
		r->tunnel_down += n;
	gettimeofday(&r->tunnel_active, NULL);
	if (relay_dst_full(dst)) {
		/* Pause this side until dst drains (tunnel_writecb). */
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(dst, EV_WRITE, RELAY_HIGH_WATER / 2, 0);
	}
}

/* Each side's write half, once it has sent everything after a peer EOF. */
static int
tunnel_flush_shutdown(struct conn *c, struct bufferevent *bev, int peer_eof)
{
	if (!peer_eof ||
	    evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return 0;
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	return 1;
}

static void
tunnel_writecb(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct request		*r = c->req;
	struct bufferevent	*src = tunnel_other(c, bev);
	int			 src_eof;

	src_eof = bev == c->bev ? r->up_eof : c->client_eof;
	if (src_eof) {
		if (tunnel_flush_shutdown(c, bev, 1) && r->up_eof &&
		    c->client_eof &&
		    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
		    evbuffer_get_length(bufferevent_get_output(c->up)) == 0)
			tunnel_end(c, "tunnel closed by both sides");
		return;
	}
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(src, EV_READ);
}

static void
tunnel_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn		*c = arg;
	struct request		*r = c->req;
	struct bufferevent	*dst = tunnel_other(c, bev);
	struct timeval		 now, idle;
	int			 ms;

	if (what & BEV_EVENT_TIMEOUT) {
		/* Idle means neither direction moved; one quiet side is fine. */
		gettimeofday(&now, NULL);
		timersub(&now, &r->tunnel_active, &idle);
		ms = idle.tv_sec * 1000 + idle.tv_usec / 1000;
		if (ms + 10 < r->conf->tunnel_idle_timeout) {
			struct timeval left;

			/* Wait only for what is left of the idle period. */
			ms = r->conf->tunnel_idle_timeout - ms;
			left.tv_sec = ms / 1000;
			left.tv_usec = (ms % 1000) * 1000;
			bufferevent_set_timeouts(bev, &left, NULL);
			bufferevent_enable(bev, EV_READ);
			return;
		}
		tunnel_end(c, "tunnel idle timeout");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Pass everything read so far, then the half-close. */
		tunnel_readcb(bev, c);
		if (bev == c->bev)
			c->client_eof = 1;
		else
			r->up_eof = 1;
		bufferevent_disable(bev, EV_READ);
		tunnel_flush_shutdown(c, dst, 1);
		if (c->client_eof && r->up_eof &&
		    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
		    evbuffer_get_length(bufferevent_get_output(c->up)) == 0)
			tunnel_end(c, "tunnel closed by both sides");
		return;
	}
	tunnel_end(c, bev == c->bev ? "client connection error" :
	    "origin connection error");
}

/* Direction i (0 up, 1 down) may move: move, then wait for what it needs. */
static void
tunnel_splice_run(struct conn *c, int i, int timed_out)
{
	struct request		*r = c->req;
	struct splice_relay	*sr = r->splice;
	uint64_t		 moved;
	int			 res;

	res = splice_pump(c->worker, &sr->dir[i], &moved);
	if (moved > 0) {
		if (i == 0)
			r->tunnel_up += moved;
		else
			r->tunnel_down += moved;
		gettimeofday(&r->tunnel_active, NULL);
	}
	splice_relay_wait(sr, i, res, NULL, NULL);
	switch (res) {
	case SPLICE_EOF:
		/* Pass the half-close on; the other way may go on. */
		shutdown(sr->dir[i].to, SHUT_WR);
		sr->done[i] = 1;
		if (sr->done[0] && sr->done[1])
			tunnel_end(c, "tunnel closed by both sides");
		break;
	case SPLICE_ERROR:
		tunnel_end(c, i == 0 ? "tunnel: client side failed" :
		    "tunnel: origin side failed");
		break;
	default:
		break;
	}
}

static void
tunnel_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*c = arg;
	struct request		*r = c->req;
	struct timeval		 now, idle, left;
	int			 ms;

	gettimeofday(&now, NULL);
	timersub(&now, &r->tunnel_active, &idle);
	ms = idle.tv_sec * 1000 + idle.tv_usec / 1000;
	if (ms + 10 >= r->conf->tunnel_idle_timeout) {
		tunnel_end(c, "tunnel idle timeout");
		return;
	}
	ms = r->conf->tunnel_idle_timeout - ms;
	left.tv_sec = ms / 1000;
	left.tv_usec = (ms % 1000) * 1000;
	evtimer_add(r->tunnel_idle, &left);
}

/*
 * Enter splice mode: answer 200 straight on the socket and hand both
 * descriptors to splicers.  Returns 0 in splice mode; otherwise the
 * caller relays through the bufferevents: -1 when nothing was sent yet,
 * 1 when the answer is already on its way.
 */
static int
tunnel_splice_start(struct conn *c, const char *answer, size_t len)
{
	struct request		*r = c->req;
	struct splice_relay	*sr;
	struct timeval		 tv;
	ssize_t			 n;

	/* Buffered bytes (early client data) would be overtaken: no splice. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) != 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) != 0 ||
	    evbuffer_get_length(bufferevent_get_input(c->up)) != 0)
		return -1;
	sr = splice_relay_new(c, bufferevent_getfd(c->bev),
	    bufferevent_getfd(c->up), 3, tunnel_splice_run);
	if (sr == NULL)
		return -1;
	if ((r->tunnel_idle = evtimer_new(c->worker->base, tunnel_idle_cb,
	    c)) == NULL) {
		splice_relay_free(c->worker, sr);
		return -1;
	}
	n = send(bufferevent_getfd(c->bev), answer, len, MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		/* A fresh socket takes 39 bytes whole; if not, go slow. */
		splice_relay_free(c->worker, sr);
		event_free(r->tunnel_idle);
		r->tunnel_idle = NULL;
		if (n <= 0)
			return -1;
		r->bytes_out += n;
		bufferevent_write(c->bev, answer + n, len - n);
		r->bytes_out += len - n;
		return 1;
	}
	r->bytes_out += len;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_disable(c->up, EV_READ | EV_WRITE);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_set_timeouts(c->up, NULL, NULL);
	r->splice = sr;
	event_add(sr->rd[0], NULL);
	event_add(sr->rd[1], NULL);
	tv.tv_sec = r->conf->tunnel_idle_timeout / 1000;
	tv.tv_usec = (r->conf->tunnel_idle_timeout % 1000) * 1000;
	evtimer_add(r->tunnel_idle, &tv);
	return 0;
}
