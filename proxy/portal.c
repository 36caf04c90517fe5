/*
 * The SAML sign-in portal: the gateway's own pages under /iaproxy/ on the
 * portal host (saml { portal }), whether a browser asks the listener
 * directly (origin-form) or through the proxy (absolute-form naming the
 * portal's host and port; never forwarded).
 *
 *	/iaproxy/login?url=URL	  a valid portal cookie binds the address
 *				  again (303 to URL); else an AuthnRequest
 *				  (SAML bindings 3.4, HTTP-Redirect): 303
 *				  to the identity provider
 *	/iaproxy/saml/acs	  the HTTP-POST binding (bindings 3.5): the
 *				  Response is verified (saml_acs; only
 *				  from the address that went to login),
 *				  the address bound, the cookie set, 303
 *				  to where the sign-in started
 *	/iaproxy/saml/metadata	  the SP metadata (SAML metadata 2.4.4)
 *	/iaproxy/whoami		  the identity, by cookie or address
 *	/iaproxy/logout		  the address's session and the cookie end
 *
 * Everything answered here is Cache-Control: no-store: the answers name
 * a user and a shared cache must never hand them to another.  Nothing of
 * an assertion, a cookie or the key reaches a log; client strings that
 * do (user names) are sanitised first.
 *
 * The ACS is the only page with a request body: portal_serve() checks
 * its framing (Content-Length, at most SAML_FORM_MAX) and conn.c reads
 * it whole before portal_acs().
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "proxy.h"

#define PORTAL_PREFIX		"/iaproxy/"
#define PORTAL_PREFIX_LEN	9

/* Is the saml section usable (a provider was built from it)? */
static int
portal_enabled(const struct config *conf)
{
	return conf->saml.enabled && conf->saml.sp != NULL &&
	    conf->saml.portal != NULL;
}

/* Is host:port (the target's, or a Host field's) the portal's? */
static int
portal_host_is(const struct conf_saml *s, const char *host, size_t len,
    int port)
{
	return s->portal_host != NULL && port == s->portal_port &&
	    len == strlen(s->portal_host) &&
	    strncasecmp(host, s->portal_host, len) == 0;
}

int
portal_route(const struct config *conf, const struct h1_msg *msg,
    const struct h1_target *t, int local)
{
	const struct conf_saml *s = &conf->saml;
	int	on_host, ours;

	if (!portal_enabled(conf) || t->form == H1_TARGET_AUTHORITY ||
	    t->form == H1_TARGET_ASTERISK)
		return 0;
	/* A caution page's continue link is decide.c's, wherever it is. */
	if (t->path_len >= 17 && memcmp(t->path, "/iaproxy/continue", 17) == 0)
		return 0;
	ours = t->path_len >= PORTAL_PREFIX_LEN &&
	    memcmp(t->path, PORTAL_PREFIX, PORTAL_PREFIX_LEN) == 0;
	if (t->form == H1_TARGET_ABSOLUTE)
		on_host = portal_host_is(s, t->host, t->host_len, t->port);
	else
		on_host = (msg->flags & H1F_HAS_HOST) &&
		    h1_host_matches(msg->host, msg->host_len, s->portal_host,
		    strlen(s->portal_host), s->portal_port, s->portal_https ?
		    443 : 80);
	/*
	 * The portal's host is ours whole (never forwarded); on the
	 * gateway's own name the portal has just its paths.
	 */
	return on_host || (local && ours);
}

const char *
portal_exempt(const struct config *conf, const char *host, int port,
    int is_connect)
{
	const struct conf_saml *s = &conf->saml;

	if (!portal_enabled(conf) || host == NULL)
		return NULL;
	/*
	 * The browser must reach the identity provider before it can sign
	 * in (SAML profiles 4.1.3: the user agent carries the request and
	 * the response), so its SSO host is never behind the sign-in.
	 */
	if (s->idp_host != NULL && port == s->idp_port &&
	    strcasecmp(host, s->idp_host) == 0)
		return "the identity provider's host";
	/* An https portal is reached through a tunnel. */
	if (is_connect && s->portal_host != NULL && port == s->portal_port &&
	    strcasecmp(host, s->portal_host) == 0)
		return "the sign-in portal's host";
	return NULL;
}

char *
portal_login_url(const struct config *conf, const char *url)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char		*out, *o;
	size_t		 len;

	if (conf->saml.portal == NULL)
		return NULL;
	len = strlen(conf->saml.portal) + sizeof("/iaproxy/login?url=") +
	    (url != NULL ? 3 * strlen(url) : 0);
	if ((out = malloc(len)) == NULL)
		return NULL;
	o = out + snprintf(out, len, "%s/iaproxy/login?url=",
	    conf->saml.portal);
	/* Everything but RFC 3986 unreserved characters is escaped. */
	for (p = (const unsigned char *)url; p != NULL && *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			*o++ = (char)*p;
		else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/*
 * A whole response of ours into c->req->head_out: status, content type,
 * extra header lines (each ending in CRLF, or NULL) and the body (left
 * out for HEAD).
 */
static void
portal_reply(struct conn *c, int status, const char *ctype,
    const char *extra, const char *body, size_t len)
{
	struct request	*r = c->req;

	if (r->head_out == NULL && (r->head_out = evbuffer_new()) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	if (!r->req_keepalive)
		c->close_after = 1;
	evbuffer_add_printf(r->head_out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "%s%s\r\n", status, pages_status_text(status), ctype, len,
	    extra != NULL ? extra : "", c->close_after ? "Connection: close\r\n" :
	    "");
	if (!r->is_head && len > 0)
		evbuffer_add(r->head_out, body, len);
	r->status = status;
	free(r->content_type);
	r->content_type = strdup(ctype);
}

/* A 303 to url (ours, or checked) with extra header lines. */
static void
portal_see_other(struct conn *c, const char *url, const char *extra)
{
	char	*hdrs;

	if (asprintf(&hdrs, "Location: %s\r\n%s", url, extra != NULL ? extra :
	    "") == -1) {
		conn_close(c, "out of memory");
		return;
	}
	portal_reply(c, 303, "text/plain; charset=utf-8", hdrs, "", 0);
	free(hdrs);
}

/*
 * The Set-Cookie line for value (NULL: the cookie's removal).  Host-only
 * (no Domain: RFC 6265 5.3 step 6), HttpOnly, SameSite=Lax (sent on the
 * top-level GET that comes back to /iaproxy/login, not on cross-site
 * subrequests), Secure when the portal is https.  Max-Age is the cookie's
 * whole life, session_max, which the value's own expiry repeats.
 */
static int
portal_cookie_hdr(const struct conf_saml *s, const char *value, char *buf,
    size_t len)
{
	int	n;

	n = snprintf(buf, len, "Set-Cookie: %s=%s; Max-Age=%d; Path=/; "
	    "HttpOnly; SameSite=Lax%s\r\n", SESSION_COOKIE_NAME,
	    value != NULL ? value : "", value != NULL ? s->session_max : 0,
	    s->portal_https ? "; Secure" : "");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * The first portal cookie of the request that verifies: 1 with *ck, 0
 * when none does (each refusal logged at debug, never the value).
 */
static int
portal_cookie(struct conn *c, const struct h1_msg *msg, time_t now,
    struct session_cookie *ck)
{
	const struct conf_saml	*s = &c->req->conf->saml;
	const char		*v, *why;
	size_t			 i, n, vlen;

	for (i = 0; i < msg->nhdrs; i++) {
		const struct h1_hdr *h = &msg->hdrs[i];

		if (h->name_len != 6 || strncasecmp(h->name, "Cookie", 6) != 0)
			continue;
		for (n = 0; session_cookie_find(h->value, h->value_len,
		    SESSION_COOKIE_NAME, n, &v, &vlen) == 0; n++) {
			if (session_cookie_check(s, v, vlen, now, ck, &why) == 0)
				return 1;
			conn_log(c, LOG_LVL_DEBUG, "portal cookie refused: %s",
			    why);
		}
	}
	return 0;
}

/* The raw value of query parameter name in path, or NULL (and *len). */
static const char *
portal_query(const char *path, size_t plen, const char *name, size_t *len)
{
	const char	*q, *end = path + plen, *e;
	size_t		 nl = strlen(name);

	if ((q = memchr(path, '?', plen)) == NULL)
		return NULL;
	for (q++; q < end; q = e + 1) {
		if ((e = memchr(q, '&', (size_t)(end - q))) == NULL)
			e = end;
		if ((size_t)(e - q) > nl && q[nl] == '=' &&
		    memcmp(q, name, nl) == 0) {
			*len = (size_t)(e - q) - nl - 1;
			return q + nl + 1;
		}
	}
	return NULL;
}

/* name, sanitised for a log line. */
static const char *
portal_shown(const char *name, char *buf, size_t len)
{
	log_sanitize(buf, len, name, strlen(name));
	return buf;
}

/* "<portal>/iaproxy/whoami": where a sign-in with nowhere to go ends. */
static char *
portal_whoami_url(const struct conf_saml *s)
{
	char	*u;

	if (asprintf(&u, "%s/iaproxy/whoami", s->portal) == -1)
		return NULL;
	return u;
}

/*
 * Bind c's address to user after a sign-in (ACS) or a cookie refresh:
 * 0, or -1 when the request was answered (the address is held after a
 * flip, or out of memory).
 */
static int
portal_bind(struct conn *c, const char *user, const char *sid,
    struct auth_groups *groups, time_t now, time_t expires, const char *how)
{
	const struct conf_saml	*s = &c->req->conf->saml;
	enum session_bind_result res;
	time_t			 retry;
	char			 shown[256];

	res = session_bind(s, &c->ss.sa, user, sid, groups, now, expires,
	    &retry);
	switch (res) {
	case SESSION_BOUND:
		conn_log(c, LOG_LVL_INFO, "signed in as %s (saml, %s): the "
		    "address is bound until %lld", portal_shown(user, shown,
		    sizeof(shown)), how, (long long)expires);
		return 0;
	case SESSION_FLIPPED:
	case SESSION_HELD:
		/*
		 * Two users on one address within flip_guard: NAT or a
		 * shared machine, where an IP session would give one user's
		 * rights to the other.  Nobody gets the address for now.
		 */
		conn_log(c, LOG_LVL_INFO, "address flipped between users: "
		    "%s (%s) not bound; the address is held for %lld s",
		    portal_shown(user, shown, sizeof(shown)), how,
		    (long long)(retry - now));
		c->req->result = "TCP_DENIED";
		conn_abort_http(c, 403, "this address was just signed in by "
		    "another user: sign-in is paused for it, try again later");
		return -1;
	default:
		conn_close(c, "out of memory");
		return -1;
	}
}

/* GET /iaproxy/login?url=URL */
static void
portal_login(struct conn *c, const struct h1_msg *msg,
    const struct h1_target *t)
{
	struct request		*r = c->req;
	const struct conf_saml	*s = &r->conf->saml;
	struct session_cookie	 ck;
	struct auth_groups	*groups = NULL;
	const char		*raw;
	char			*url = NULL, *to = NULL, *redirect = NULL;
	char			 why[256], client[SAML_CLIENT_MAX];
	size_t			 rawlen;
	time_t			 now = r->start.tv_sec;
	int			 rc;

	if ((raw = portal_query(t->path, t->path_len, "url", &rawlen)) != NULL &&
	    (url = saml_form_value(raw, rawlen)) == NULL)
		conn_log(c, LOG_LVL_INFO, "portal login: a malformed url "
		    "parameter (ignored)");
	/*
	 * A valid cookie is a sign-in within session_max: bind the address
	 * again without the identity provider (an idle session, a new
	 * address).  The assertion's groups are not in the cookie: with
	 * groups_attribute they must come from the same sign-in's session
	 * on this address, else the identity provider is asked again.
	 */
	if (portal_cookie(c, msg, now, &ck) && (s->groups_attribute == NULL ||
	    session_groups_of(&c->ss.sa, ck.sid, now, &groups))) {
		if (url != NULL && saml_return_url_ok(url))
			to = url;
		else if ((to = portal_whoami_url(s)) == NULL) {
			auth_groups_unref(groups);
			free(url);
			conn_close(c, "out of memory");
			return;
		}
		if (portal_bind(c, ck.user, ck.sid, groups, now, ck.expires,
		    "cookie") == 0)
			portal_see_other(c, to, NULL);
		auth_groups_unref(groups);
		if (to != url)
			free(to);
		free(url);
		explicit_bzero(&ck, sizeof(ck));
		return;
	}
	explicit_bzero(&ck, sizeof(ck));
	/*
	 * The request remembers who asked for it: only this address may
	 * post its answer to the ACS (login CSRF; see saml_acs).
	 */
	if (session_addr_text(&c->ss.sa, client, sizeof(client)) == -1) {
		snprintf(why, sizeof(why), "the client's address is not IPv4 "
		    "or IPv6");
		rc = -1;
	} else
		rc = saml_login_start(s->sp, s, url, client, now, &redirect,
		    why, sizeof(why));
	if (rc == -1) {
		char	shown[256];

		conn_log(c, LOG_LVL_WARN, "saml sign-in could not start: %s",
		    portal_shown(why, shown, sizeof(shown)));
		free(url);
		conn_abort_http(c, 503, "sign-in is unavailable; try again "
		    "shortly");
		return;
	}
	free(url);
	conn_log(c, LOG_LVL_DEBUG, "saml sign-in started: sent to the "
	    "identity provider");
	portal_see_other(c, redirect, NULL);
	free(redirect);
}

void
portal_acs(struct conn *c, const char *body, size_t len)
{
	struct request		*r = c->req;
	const struct conf_saml	*s = &r->conf->saml;
	struct saml_identity	 id;
	struct auth_groups	*groups = NULL;
	char			 why[512], shown[512], sid[SESSION_SID_LEN + 1];
	char			 cookie[SESSION_COOKIE_MAX], hdr[SESSION_COOKIE_MAX +
				    128];
	char			 client[SAML_CLIENT_MAX];
	char			*to = NULL;
	time_t			 now = time(NULL), expires;
	int			 rc;

	memset(&id, 0, sizeof(id));
	/* Written as at the login, so the same machine matches. */
	if (session_addr_text(&c->ss.sa, client, sizeof(client)) == -1) {
		snprintf(why, sizeof(why), "the client's address is not IPv4 "
		    "or IPv6");
		rc = -1;
	} else
		rc = saml_acs(s->sp, s, body, len, client, now, &id, why,
		    sizeof(why));
	if (rc == -1) {
		/* why names the check; the page says nothing of it. */
		conn_log(c, LOG_LVL_INFO, "saml sign-in refused: %s",
		    portal_shown(why, shown, sizeof(shown)));
		saml_identity_clear(&id);
		metrics_signin("saml", METRICS_SIGNIN_REFUSED, why, 0);
		r->result = "TCP_DENIED";
		conn_abort_http(c, 403, "sign-in failed");
		return;
	}
	if (s->groups_attribute != NULL && id.ngroups > 0 &&
	    (groups = session_groups_new((const char *const *)id.groups,
	    id.ngroups)) == NULL)
		goto oom;
	expires = now + s->session_max;
	if (session_sid_new(sid) == -1 ||
	    session_cookie_make(s, id.user, sid, now, expires, cookie,
	    sizeof(cookie)) == -1 ||
	    portal_cookie_hdr(s, cookie, hdr, sizeof(hdr)) == -1) {
		conn_log(c, LOG_LVL_WARN, "saml sign-in: no session cookie "
		    "could be made");
		goto oom;
	}
	if (portal_bind(c, id.user, sid, groups, now, expires, "assertion") ==
	    -1) {
		metrics_signin("saml", METRICS_SIGNIN_REFUSED, "address held",
		    0);
		goto done;
	}
	metrics_signin("saml", METRICS_SIGNIN_SUCCESS, NULL, 0);
	if (saml_return_url_ok(id.return_url))
		portal_see_other(c, id.return_url, hdr);
	else if ((to = portal_whoami_url(s)) != NULL)
		portal_see_other(c, to, hdr);
	else
		conn_close(c, "out of memory");
	goto done;
 oom:
	conn_abort_http(c, 500, "the sign-in could not be completed");
 done:
	free(to);
	auth_groups_unref(groups);
	explicit_bzero(cookie, sizeof(cookie));
	explicit_bzero(hdr, sizeof(hdr));
	explicit_bzero(sid, sizeof(sid));
	saml_identity_clear(&id);
}

/* GET /iaproxy/saml/metadata */
static void
portal_metadata(struct conn *c)
{
	const struct conf_saml	*s = &c->req->conf->saml;
	char			*md;
	size_t			 len;

	if ((md = saml_sp_metadata(s->sp, &len)) == NULL) {
		conn_abort_http(c, 500, "the metadata could not be made");
		return;
	}
	portal_reply(c, 200, "application/samlmetadata+xml", NULL, md, len);
	free(md);
}

/* GET /iaproxy/whoami: the cookie's identity, else the address's. */
static void
portal_whoami(struct conn *c, const struct h1_msg *msg)
{
	struct request		*r = c->req;
	const struct conf_saml	*s = &r->conf->saml;
	struct session_cookie	 ck;
	struct session_info	 si;
	char			*text = NULL;
	time_t			 now = r->start.tv_sec, until;
	int			 n;

	if (portal_cookie(c, msg, now, &ck))
		n = asprintf(&text, "%s\nmechanism: saml\nsession: cookie\n"
		    "expires: %lld\n", ck.user, (long long)ck.expires);
	else if (session_peek(s, &c->ss.sa, now, &si)) {
		until = s->session_idle > 0 && si.last_used + s->session_idle <
		    si.expires ? si.last_used + s->session_idle : si.expires;
		n = asprintf(&text, "%s\nmechanism: saml\nsession: address "
		    "%s\nexpires: %lld\n", si.user, si.addr, (long long)until);
		session_info_clear(&si);
	} else {
		explicit_bzero(&ck, sizeof(ck));
		portal_reply(c, 401, "text/plain; charset=utf-8", NULL,
		    "not signed in\n", 14);
		return;
	}
	explicit_bzero(&ck, sizeof(ck));
	if (n == -1) {
		conn_close(c, "out of memory");
		return;
	}
	portal_reply(c, 200, "text/plain; charset=utf-8", NULL, text,
	    strlen(text));
	free(text);
}

/* /iaproxy/logout: the address's session and this browser's cookie. */
static void
portal_logout(struct conn *c)
{
	const struct conf_saml	*s = &c->req->conf->saml;
	static const char	 page[] = "<!DOCTYPE html>\n<html><head><meta "
	    "charset=\"utf-8\"><title>Signed out</title></head>\n<body>\n"
	    "<h1>Signed out</h1>\n<p>You are signed out of the web gateway."
	    "</p>\n</body></html>\n";
	char			 hdr[256];

	if (session_end(&c->ss.sa))
		conn_log(c, LOG_LVL_INFO, "signed out (portal logout)");
	if (portal_cookie_hdr(s, NULL, hdr, sizeof(hdr)) == -1)
		hdr[0] = '\0';
	portal_reply(c, 200, "text/html; charset=utf-8", hdr, page,
	    sizeof(page) - 1);
}

/* Does the path (query excluded) equal want? */
static int
portal_is(const struct h1_target *t, const char *want)
{
	size_t	len = strlen(want);

	return t->path_len >= len && memcmp(t->path, want, len) == 0 &&
	    (t->path_len == len || t->path[len] == '?');
}

int
portal_serve(struct conn *c, const struct h1_msg *msg,
    const struct h1_target *t)
{
	struct request		*r = c->req;
	const struct h1_hdr	*ct;
	int			 get, post;
	char			*login;

	get = (msg->method_len == 3 && memcmp(msg->method, "GET", 3) == 0) ||
	    r->is_head;
	post = msg->method_len == 4 && memcmp(msg->method, "POST", 4) == 0;
	if (portal_is(t, "/iaproxy/saml/acs")) {
		if (!post) {
			conn_abort_http_hdrs(c, 405, "the ACS takes POST "
			    "(SAML bindings 3.5)", "Allow: POST\r\n");
			return PORTAL_DONE;
		}
		if (msg->body == H1_BODY_CHUNKED) {
			c->close_after = 1;
			conn_abort_http(c, 411, "the ACS takes a form with a "
			    "Content-Length");
			return PORTAL_DONE;
		}
		if (msg->body != H1_BODY_LENGTH || msg->content_length == 0) {
			conn_abort_http(c, 400, "the ACS takes a form");
			return PORTAL_DONE;
		}
		if (msg->content_length > SAML_FORM_MAX) {
			c->close_after = 1;
			conn_abort_http(c, 413, "the form is too large");
			return PORTAL_DONE;
		}
		ct = h1_find_hdr(msg, "Content-Type");
		if (ct == NULL || ct->value_len < 33 || strncasecmp(ct->value,
		    "application/x-www-form-urlencoded", 33) != 0 ||
		    (ct->value_len > 33 && ct->value[33] != ';' &&
		    ct->value[33] != ' ')) {
			c->close_after = 1;
			conn_abort_http(c, 415, "the ACS takes application/"
			    "x-www-form-urlencoded");
			return PORTAL_DONE;
		}
		return PORTAL_BODY;
	}
	/* Our other pages take no body; skipping one is not worth it. */
	if (!r->req_body_done)
		c->close_after = 1;
	if (portal_is(t, "/iaproxy/login") && get)
		portal_login(c, msg, t);
	else if (portal_is(t, "/iaproxy/saml/metadata") && get)
		portal_metadata(c);
	else if (portal_is(t, "/iaproxy/whoami") && get)
		portal_whoami(c, msg);
	else if (portal_is(t, "/iaproxy/logout") && (get || post))
		portal_logout(c);
	else if ((portal_is(t, "/iaproxy/login") || portal_is(t,
	    "/iaproxy/saml/metadata") || portal_is(t, "/iaproxy/whoami")) &&
	    !get)
		conn_abort_http_hdrs(c, 405, "this page takes GET",
		    "Allow: GET, HEAD\r\n");
	else if (t->path_len == 1 && get) {
		/* The portal's root: the sign-in, back to whoami. */
		if ((login = portal_login_url(r->conf, NULL)) == NULL) {
			conn_close(c, "out of memory");
			return PORTAL_DONE;
		}
		login[strlen(login) - 5] = '\0';	/* no "?url=" */
		portal_see_other(c, login, NULL);
		free(login);
	} else
		conn_abort_http(c, 404, "no such page on this gateway");
	return PORTAL_DONE;
}
