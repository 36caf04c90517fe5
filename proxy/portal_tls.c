/*
 * The sign-in portal over TLS.  Entra ID and Okta post the assertion only
 * to an https:// ACS, and a browser reaches the portal host either through
 * the proxy (a CONNECT to the portal's host:port) or directly (a
 * portal_listen address).  Both end the same way: the gateway is the TLS
 * server on the client connection, with the portal's own certificate
 * (saml portal_cert, conf/conf_portal_tls.c), and what the browser sends
 * inside is served by the portal's pages alone.
 *
 * The TLS layer is a libevent OpenSSL filter over the connection's socket
 * bufferevent, with the connection's own callbacks: the request parser
 * and everything after it read and write the filter as they would the
 * socket.  Three things differ and are held to here and in conn.c:
 *  - nothing on such a connection is ever forwarded or tunnelled (conn.c
 *    answers anything but the gateway's own pages with 421), so no
 *    sign-in is asked for and no policy applies;
 *  - the socket is never written around the filter (no direct writes,
 *    no splice: those belong to forwarding, which never happens here);
 *  - the handshake is bounded by header_timeout, and a failed or stalled
 *    one closes the connection with a log line at info.
 * The client address stays the connection's: the CONNECT came from the
 * browser itself, so an IP session made at the ACS binds the right
 * address.
 *
 * A CONNECT to the portal is answered whatever connect_ports says: no
 * connection leaves the gateway for it, which is what that list guards.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <event2/bufferevent_ssl.h>

#include "proxy.h"

int
portal_tls_connect_wanted(const struct config *conf, const char *host,
    int port)
{
	const struct conf_saml *s = &conf->saml;

	return s->enabled && s->portal_https && s->portal_ssl_ctx != NULL &&
	    s->portal_host != NULL && port == s->portal_port &&
	    strcasecmp(host, s->portal_host) == 0;
}

void
portal_tls_connect(struct conn *c)
{
	static const char	 ok[] = "HTTP/1.1 200 Connection established"
	    "\r\n\r\n";
	struct request		*r = c->req;

	/*
	 * Squid logs a CONNECT it terminates itself as NONE_NONE/200: the
	 * request was answered here and went nowhere (HIER_NONE).
	 */
	r->status = 200;
	r->result = "NONE_NONE";
	conn_log(c, LOG_LVL_DEBUG, "CONNECT %s: the sign-in portal, served "
	    "here over TLS", r->key);
	if (bufferevent_write(c->bev, ok, sizeof(ok) - 1) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	r->bytes_out += sizeof(ok) - 1;
	if (portal_tls_start(c) == -1)
		return;
	/*
	 * Log the CONNECT and wait for the first request, now through TLS.
	 * conn_request_done() sets the keep-alive timeouts; the handshake
	 * gets header_timeout instead, as a new connection would.
	 */
	conn_request_done(c);
	if (!c->closing && c->state == CONN_READ_HDRS) {
		struct timeval rtv, wtv;
		int ms = c->worker->conf->header_timeout;
		int wms = c->worker->conf->client_idle_timeout;

		rtv.tv_sec = ms / 1000;
		rtv.tv_usec = (ms % 1000) * 1000;
		wtv.tv_sec = wms / 1000;
		wtv.tv_usec = (wms % 1000) * 1000;
		bufferevent_set_timeouts(c->bev, &rtv, &wtv);
	}
}

int
portal_tls_start(struct conn *c)
{
	const struct config	*conf = c->worker->conf;
	struct bufferevent	*sock = c->bev, *tls;
	bufferevent_data_cb	 rcb, wcb;
	bufferevent_event_cb	 ecb;
	void			*arg;
	struct timeval		 rtv, wtv;
	SSL			*ssl;

	/*
	 * The running config's certificate: a reload that removed it
	 * leaves a portal_listen socket of the old one draining.
	 */
	if (conf->saml.portal_ssl_ctx == NULL) {
		conn_log(c, LOG_LVL_INFO, "no portal certificate in the "
		    "running config: cannot speak TLS");
		conn_close(c, "no portal certificate");
		return -1;
	}
	if ((ssl = SSL_new(conf->saml.portal_ssl_ctx)) == NULL) {
		ERR_clear_error();
		conn_close(c, "out of memory");
		return -1;
	}
	bufferevent_getcb(sock, &rcb, &wcb, &ecb, &arg);
	/* The filter's timeouts count from now on, not the socket's. */
	bufferevent_set_timeouts(sock, NULL, NULL);
	tls = bufferevent_openssl_filter_new(c->worker->base, sock, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		/* The socket is still c's to close (ssl is libevent's). */
		conn_close(c, "out of memory");
		return -1;
	}
	/*
	 * From here the filter owns the socket's bufferevent (freeing it
	 * frees both).  A client that closes without close_notify ends the
	 * stream as an EOF: every request is framed by its own head, so a
	 * truncation attack has nothing to cut (RFC 8446 6.1 leaves that to
	 * the application).
	 */
	c->bev = tls;
	c->tls = CONN_TLS_HANDSHAKE;
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	bufferevent_setwatermark(tls, EV_READ, 0, conf->max_header_bytes + 1);
	bufferevent_setcb(tls, rcb, wcb, ecb, arg);
	rtv.tv_sec = conf->header_timeout / 1000;
	rtv.tv_usec = (conf->header_timeout % 1000) * 1000;
	wtv.tv_sec = conf->client_idle_timeout / 1000;
	wtv.tv_usec = (conf->client_idle_timeout % 1000) * 1000;
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	bufferevent_set_timeouts(tls, &rtv, &wtv);
	/*
	 * A ClientHello that came with the CONNECT (or with the first
	 * read) is already in the socket's input: no new read will
	 * announce it, so start the handshake on it now.
	 */
	if (evbuffer_get_length(bufferevent_get_input(sock)) > 0)
		bufferevent_trigger(sock, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
		    BEV_TRIG_DEFER_CALLBACKS);
	return 0;
}

/* What went wrong in the TLS layer, in OpenSSL's words, into buf. */
static void
portal_tls_error(struct conn *c, char *buf, size_t len)
{
	unsigned long	 e, found = 0;
	int		 err = EVUTIL_SOCKET_ERROR(), any = 0;

	/*
	 * libevent queues OpenSSL's errors and, besides them, the bare
	 * SSL_get_error() code (no library): name the first real one.
	 */
	while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
		any = 1;
		if (found == 0 && ERR_GET_LIB(e) != 0)
			found = e;
	}
	if (found != 0)
		ERR_error_string_n(found, buf, len);
	else if (any)
		snprintf(buf, len, "TLS protocol error");
	else if (err != 0)
		snprintf(buf, len, "%s", evutil_socket_error_to_string(err));
	else
		snprintf(buf, len, "connection closed");
}

int
portal_tls_event(struct conn *c, short what)
{
	SSL		*ssl;
	const unsigned char *alpn = NULL;
	unsigned	 alpnlen = 0;
	char		 why[256];

	if (what & BEV_EVENT_CONNECTED) {
		if (c->tls != CONN_TLS_HANDSHAKE)
			return 1;
		c->tls = CONN_TLS_OPEN;
		if (log_enabled(LOG_LVL_DEBUG) &&
		    (ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL) {
			SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
			conn_log(c, LOG_LVL_DEBUG, "TLS handshake done: %s, %s"
			    "%s%.*s", SSL_get_version(ssl),
			    SSL_get_cipher_name(ssl), alpnlen ? ", ALPN " : "",
			    (int)alpnlen, alpn != NULL ? (const char *)alpn :
			    "");
		}
		return 1;
	}
	/*
	 * libevent may deliver CONNECTED after the first request was read:
	 * a finished handshake is an open session whatever came first.
	 */
	if (c->tls == CONN_TLS_HANDSHAKE &&
	    (ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL &&
	    SSL_is_init_finished(ssl))
		c->tls = CONN_TLS_OPEN;
	if (c->tls != CONN_TLS_HANDSHAKE) {
		/* An open session: conn.c closes as for any client. */
		if ((what & BEV_EVENT_ERROR) && log_enabled(LOG_LVL_DEBUG)) {
			portal_tls_error(c, why, sizeof(why));
			conn_log(c, LOG_LVL_DEBUG, "TLS: %s", why);
		}
		return 0;
	}
	/* The handshake did not finish: say why, at info (a client fault). */
	if (what & BEV_EVENT_TIMEOUT) {
		conn_log(c, LOG_LVL_INFO, "TLS handshake not complete within "
		    "header_timeout");
		conn_close(c, "TLS handshake timeout");
	} else if (what & BEV_EVENT_EOF) {
		conn_log(c, LOG_LVL_INFO, "TLS handshake failed: the client "
		    "closed the connection");
		conn_close(c, "TLS handshake failed");
	} else {
		portal_tls_error(c, why, sizeof(why));
		conn_log(c, LOG_LVL_INFO, "TLS handshake failed: %s", why);
		conn_close(c, "TLS handshake failed");
	}
	return 1;
}

/*
 * A closed portal connection whose last TLS records are still on their
 * way out: what the filter encrypted sits in the socket's bufferevent,
 * and freeing the filter now would throw it away with the socket (a
 * "Connection: close" answer would never arrive).  It lingers, owned by
 * nobody but this, until the socket's output is empty, the client goes,
 * or PORTAL_TLS_LINGER_MS pass.
 */
#define PORTAL_TLS_LINGER_MS	5000
struct portal_tls_linger {
	struct bufferevent	*tls;	/* owns the socket's bufferevent */
	struct event		*done;	/* ends it, from a fresh callback */
};

static void
portal_tls_linger_end(evutil_socket_t fd, short what, void *arg)
{
	struct portal_tls_linger *l = arg;

	bufferevent_free(l->tls);
	event_free(l->done);
	free(l);
}

/* The socket's output changed: all sent (nothing left to encrypt)? */
static void
portal_tls_linger_out(struct evbuffer *out, const struct evbuffer_cb_info *i,
    void *arg)
{
	struct portal_tls_linger *l = arg;

	if (evbuffer_get_length(out) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(l->tls)) == 0)
		event_active(l->done, EV_TIMEOUT, 1);
}

/* The client went (or failed): nothing more can be delivered. */
static void
portal_tls_linger_event(struct bufferevent *bev, short what, void *arg)
{
	struct portal_tls_linger *l = arg;

	/* A late "handshake done" (see portal_tls_event) is no end. */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		event_active(l->done, EV_TIMEOUT, 1);
}

void
portal_tls_close(struct conn *c)
{
	struct bufferevent		*tls = c->bev, *sock;
	struct portal_tls_linger	*l;
	struct evbuffer			*out;
	struct timeval			 tv;
	SSL				*ssl;

	c->bev = NULL;
	sock = c->tls >= CONN_TLS_HANDSHAKE ? bufferevent_get_underlying(tls) :
	    NULL;
	if (sock == NULL) {
		bufferevent_free(tls);	/* no TLS on it yet */
		return;
	}
	bufferevent_disable(tls, EV_READ);
	out = bufferevent_get_output(sock);
	/*
	 * close_notify (RFC 8446 6.1) once everything before it is
	 * encrypted: then the client knows the end is the real end.
	 */
	if ((ssl = bufferevent_openssl_get_ssl(tls)) != NULL &&
	    SSL_is_init_finished(ssl) &&
	    evbuffer_get_length(bufferevent_get_output(tls)) == 0) {
		(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
	if ((evbuffer_get_length(out) == 0 && evbuffer_get_length(
	    bufferevent_get_output(tls)) == 0) ||
	    (l = calloc(1, sizeof(*l))) == NULL) {
		bufferevent_free(tls);
		return;
	}
	l->tls = tls;
	if ((l->done = evtimer_new(c->worker->base, portal_tls_linger_end,
	    l)) == NULL || evbuffer_add_cb(out, portal_tls_linger_out, l) ==
	    NULL) {
		if (l->done != NULL)
			event_free(l->done);
		free(l);
		bufferevent_free(tls);
		return;
	}
	bufferevent_setcb(tls, NULL, NULL, portal_tls_linger_event, l);
	bufferevent_set_timeouts(tls, NULL, NULL);
	tv.tv_sec = PORTAL_TLS_LINGER_MS / 1000;
	tv.tv_usec = (PORTAL_TLS_LINGER_MS % 1000) * 1000;
	evtimer_add(l->done, &tv);
}

size_t
portal_tls_listen_count(const struct config *conf)
{
	return conf->nlisten + conf->saml.nportal_listen;
}

const struct conf_listen *
portal_tls_listen_nth(const struct config *conf, size_t i, char *key,
    size_t keylen)
{
	const struct conf_listen *l;

	if (i < conf->nlisten) {
		l = &conf->listen[i];
		snprintf(key, keylen, "%s", l->text);
	} else {
		l = &conf->saml.portal_listen[i - conf->nlisten];
		snprintf(key, keylen, "%s%s", PORTAL_TLS_LISTEN_PREFIX,
		    l->text);
	}
	return l;
}
