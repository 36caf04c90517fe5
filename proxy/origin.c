/*
 * Reaching the origin: a pooled keep-alive connection when there is one,
 * else an asynchronous DNS lookup and a non-blocking connect bounded by
 * connect_timeout.  The result comes back to the connection through one
 * callback, with the HTTP status to answer when it failed.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include "proxy.h"

static void	origin_resolved(int, const struct sockaddr *, socklen_t, void *);
static void	origin_eventcb(struct bufferevent *, short, void *);


static void
peer_text(struct request *r)
{
	const void *a;

	a = r->peer.ss_family == AF_INET6 ?
	    (const void *)&((struct sockaddr_in6 *)&r->peer)->sin6_addr :
	    (const void *)&((struct sockaddr_in *)&r->peer)->sin_addr;
	if (inet_ntop(r->peer.ss_family, a, r->peer_text,
	    sizeof(r->peer_text)) == NULL)
		r->peer_text[0] = '\0';
}

void
origin_connect(struct conn *c, int use_pool, origin_cb cb)
{
	struct request	*r = c->req;
	struct dns_req	*d;

	r->origin_cb = cb;
	/* A connection pinned to this client comes first, and alone. */
	if (use_pool && (c->up = pin_take(c, r->key, &r->peer,
	    &r->peerlen)) != NULL) {
		r->reused = 1;
		r->pin = 1;
		peer_text(r);
		/* A dst_ip rule decides on the address connected to. */
		if (decide_dst(c, (struct sockaddr *)&r->peer))
			cb(c, 1, 0, NULL);
		return;
	}
	if (use_pool && !r->pin && (c->up = upstream_pool_get(
	    c->worker->pool, r->key, &r->peer, &r->peerlen)) != NULL) {
		r->reused = 1;
		peer_text(r);
		if (decide_dst(c, (struct sockaddr *)&r->peer))
			cb(c, 1, 0, NULL);
		return;
	}
	r->reused = 0;
	conn_set_state(c, CONN_RESOLVING, r->host);
	/* The lookup holds a reference: the client may leave meanwhile. */
	conn_ref(c);
	d = dns_resolve(c->worker, r->host, r->port, origin_resolved, c);
	/* If it answered already, the request may be gone: don't touch it. */
	if (d != NULL)
		c->req->dns = d;
}

static void
origin_fail(struct conn *c, int status, const char *reason)
{
	c->req->origin_cb(c, 0, status, reason);
}

static void
origin_resolved(int err, const struct sockaddr *sa, socklen_t salen,
    void *arg)
{
	struct conn	*c = arg;
	struct request	*r = c->req;
	struct timeval	 tv;

	if (c->closing || r == NULL) {
		conn_unref(c);
		return;
	}
	r->dns = NULL;
	if (err != 0) {
		conn_log(c, LOG_LVL_INFO, "cannot resolve %s: %s", r->host,
		    evutil_gai_strerror(err));
		if (err == EVUTIL_EAI_AGAIN)
			origin_fail(c, 504, "the origin's name did not resolve "
			    "in time");
		else
			origin_fail(c, 502, "the origin's name does not "
			    "resolve");
		conn_unref(c);
		return;
	}
	memcpy(&r->peer, sa, salen);
	r->peerlen = salen;
	peer_text(r);
	if (selfaddr_match(r->conf, sa)) {
		conn_log(c, LOG_LVL_INFO, "%s:%d is this gateway's own "
		    "listener: refused", r->host, r->port);
		r->result = "TCP_DENIED";
		origin_fail(c, 403, "the gateway does not connect to itself");
		conn_unref(c);
		return;
	}
	/*
	 * The policy waited for this address (a dst_ip rule): decide on
	 * it, the one we connect to, so a name cannot point elsewhere
	 * between the check and the connect.  evdns gives one address;
	 * were there a fallback to another, it would be checked here too.
	 */
	if (!decide_dst(c, sa)) {
		conn_unref(c);
		return;
	}
	conn_set_state(c, CONN_CONNECTING, r->peer_text);
	c->up = bufferevent_socket_new(c->worker->base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->up == NULL) {
		origin_fail(c, 502, "out of memory");
		conn_unref(c);
		return;
	}
	/* libevent bounds the connect by the write timeout. */
	tv.tv_sec = r->conf->connect_timeout / 1000;
	tv.tv_usec = (r->conf->connect_timeout % 1000) * 1000;
	bufferevent_set_timeouts(c->up, NULL, &tv);
	relay_tune(c->up);
	bufferevent_setcb(c->up, NULL, NULL, origin_eventcb, c);
	if (bufferevent_socket_connect(c->up, (struct sockaddr *)&r->peer,
	    r->peerlen) == -1) {
		conn_log(c, LOG_LVL_INFO, "connect to %s:%d: %s",
		    r->peer_text, r->port, strerror(errno));
		bufferevent_free(c->up);
		c->up = NULL;
		origin_fail(c, 502, "cannot connect to the origin");
	}
	conn_unref(c);
}

static void
origin_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct request	*r = c->req;
	int		 one = 1, err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof(one));
		bufferevent_set_timeouts(bev, NULL, NULL);
		r->origin_cb(c, 1, 0, NULL);
		return;
	}
	bufferevent_free(c->up);
	c->up = NULL;
	if (what & BEV_EVENT_TIMEOUT) {
		conn_log(c, LOG_LVL_INFO, "connect to %s:%d timed out",
		    r->peer_text, r->port);
		origin_fail(c, 504, "the origin did not accept the connection "
		    "in time");
		return;
	}
	conn_log(c, LOG_LVL_INFO, "connect to %s:%d: %s", r->peer_text,
	    r->port, evutil_socket_error_to_string(err));
	origin_fail(c, 502, err == ECONNREFUSED ? "the origin refused the "
	    "connection" : "cannot connect to the origin");
}
