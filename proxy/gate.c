/*
 * The sign-in gate between a parsed request and its forwarding: which
 * client network the connection comes from, whether that network needs a
 * sign-in, and the 407 handshake when it does.  An identity belongs to the
 * connection it was proven on (NTLM authenticates connections, MS-NLMP
 * 3.2.5): it is kept in struct conn and never reaches another connection.
 * Then, when the config looks groups up, the signed-in user's groups for
 * each request (the shared cache, or the directory thread: a pending
 * lookup holds a reference to the connection and is cancelled when it
 * closes; see gate_conn_closed).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

static int	gate_signin(struct conn *, const struct h1_msg *, size_t,
		    size_t);
static int	gate_saml(struct conn *);
static void	gate_to_portal(struct conn *, const struct conf_network *);
static int	gate_groups(struct conn *, size_t, size_t);
static void	gate_go_on(struct conn *);
static void	gate_start(struct conn *);
static int	gate_disabled(struct conn *, size_t, size_t);

/*
 * The Proxy-Authenticate lines a network offers (RFC 9110 11.7.1), one
 * per scheme.  Negotiate first: browsers take the first they can, and
 * Kerberos is the one that needs no password at all.
 */
static const char *
gate_offers(unsigned methods)
{
	if ((methods & AUTH_NEGOTIATE) && (methods & AUTH_NTLM))
		return "Proxy-Authenticate: Negotiate\r\n"
		    "Proxy-Authenticate: NTLM\r\n";
	if (methods & AUTH_NEGOTIATE)
		return "Proxy-Authenticate: Negotiate\r\n";
	if (methods & AUTH_NTLM)
		return "Proxy-Authenticate: NTLM\r\n";
	return "";
}

/* The methods the connection's network offers (the config may differ). */
static unsigned
gate_methods(struct conn *c)
{
	const struct conf_network *net;

	net = conf_network_for(c->req->conf, &c->ss.sa);
	return net != NULL ? net->auth : 0;
}

/*
 * A 407 or 403 answers a request whose body may still be on its way.  If
 * the whole body is already buffered it is skipped, so the connection (and
 * the handshake bound to it) survives; otherwise the connection must close.
 */
static void
gate_skip_body(struct conn *c, size_t headlen, size_t inlen)
{
	struct request *r = c->req;

	if (r->req_body_done)
		return;
	if (r->req_body == H1_BODY_LENGTH && r->req_remaining <=
	    inlen - headlen) {
		c->discard = (size_t)r->req_remaining;
		r->req_body_done = 1;
	}
}

/*
 * Act on a handshake step: 1 if the request may go on (signed in), 0 if
 * it was answered with a 407.
 */
static int
gate_outcome(struct conn *c, enum auth_outcome out,
    const struct auth_answer *ans)
{
	char extra[4300];

	metrics_signin_answer(out, ans);
	switch (out) {
	case AUTH_SUCCESS:
		free(c->user);
		if ((c->user = strdup(ans->user)) == NULL) {
			conn_close(c, "out of memory");
			return 0;
		}
		c->auth_mech = ans->mech;
		c->req->result = "TCP_MISS";
		/* A final token (mutual auth) rides on the response. */
		free(c->req->auth_reply);
		c->req->auth_reply = NULL;
		if (ans->header[0] != '\0' && asprintf(&c->req->auth_reply,
		    "Proxy-Authenticate: %s\r\n", ans->header) == -1) {
			c->req->auth_reply = NULL;
			conn_close(c, "out of memory");
			return 0;
		}
		conn_log(c, LOG_LVL_INFO, "signed in as %s (%s)", c->user,
		    ans->mech);
		return 1;
	case AUTH_CHALLENGE:
		snprintf(extra, sizeof(extra), "Proxy-Authenticate: %s\r\n",
		    ans->header);
		conn_abort_http_hdrs(c, 407, "sign-in in progress", extra);
		return 0;
	default:
		/*
		 * The reason is ours (static), the detail GSSAPI's words:
		 * names and tokens stay out of both.  A refused token signs
		 * the connection out: whoever sent it is not proven now.
		 */
		conn_log(c, LOG_LVL_INFO, "sign-in refused: %s%s%s",
		    ans->detail[0] != '\0' ? ans->detail : ans->reason,
		    ans->detail[0] != '\0' ? "; " : "",
		    ans->detail[0] != '\0' ? ans->reason : "");
		free(c->user);
		c->user = NULL;
		c->auth_mech = NULL;
		if (ans->unavailable) {
			/* The directory or DC did not answer: say so. */
			conn_abort_http_hdrs(c, 503, "the sign-in service is "
			    "unavailable; try again shortly",
			    "Retry-After: 5\r\n");
			return 0;
		}
		conn_abort_http_hdrs(c, 407, "sign-in refused",
		    gate_offers(gate_methods(c)));
		return 0;
	}
}

/* A backend answered a pending handshake step. */
static void
gate_auth_done(void *arg, enum auth_outcome out,
    const struct auth_answer *ans)
{
	struct conn *c = arg;

	c->auth_pending = NULL;
	if (!c->closing && c->req != NULL &&
	    c->state == CONN_AUTH_PENDING && gate_outcome(c, out, ans))
		gate_go_on(c);
	conn_unref(c);
}

/*
 * A SAML network, no credentials: the client address's IP session
 * (auth/session.h), asked on every request so that its expiry and a
 * signout apply at once, even on keep-alive connections; or the way to
 * the identity provider, which must be open before sign-in.  1 to go on
 * (c->user set for this request only, or exempt), 0 to send the client
 * to the portal.
 */
static int
gate_saml(struct conn *c)
{
	struct request		*r = c->req;
	struct session_info	 si;
	const char		*why;

	if (!r->conf->saml.enabled)
		return 0;
	if (session_lookup(&r->conf->saml, &c->ss.sa, r->start.tv_sec, &si)) {
		if ((c->user = strdup(si.user)) == NULL) {
			session_info_clear(&si);
			return 0;
		}
		c->auth_mech = "saml";
		if (si.groups != NULL) {
			/* The assertion's groups: no directory to ask. */
			auth_groups_unref(r->groups);
			r->groups = si.groups;
			si.groups = NULL;
			r->groups_source = AUTH_GROUPS_SAML;
			r->groups_done = 1;
		}
		session_info_clear(&si);
		r->result = "TCP_MISS";
		return 1;
	}
	/* GET (HEAD) or CONNECT: what a browser needs to reach the IdP. */
	if ((r->is_connect || strcmp(r->method, "GET") == 0 ||
	    strcmp(r->method, "HEAD") == 0) && (why = portal_exempt(r->conf,
	    r->host, r->port, r->is_connect)) != NULL) {
		conn_log(c, LOG_LVL_DEBUG, "%s:%d is %s: no sign-in needed",
		    r->host, r->port, why);
		return 1;
	}
	return 0;
}

/*
 * No identity in a SAML network: send the browser to the portal.  Only a
 * plain-HTTP answer can do that; a browser shows no answer to CONNECT but
 * 200 and 407.  So: plain HTTP gets a 302 to the login page, or, when
 * Negotiate or NTLM are offered too, a 407 whose page (shown when the
 * user cancels the password dialog) refreshes to it; CONNECT gets that
 * 407 too, or else a 403 naming the portal.
 */
static void
gate_to_portal(struct conn *c, const struct conf_network *net)
{
	struct request	*r = c->req;
	struct evbuffer	*out;
	char		*url = NULL, *login = NULL, reason[512], port[8] = "";
	int		 status, keepalive, other, v6;

	other = (net->auth & (AUTH_NEGOTIATE | AUTH_NTLM)) != 0;
	/* A tunnel's URL is a guess: the site's https root. */
	v6 = strchr(r->host, ':') != NULL;
	if (r->port != 443)
		snprintf(port, sizeof(port), ":%d", r->port);
	if (r->is_connect && asprintf(&url, "https://%s%s%s%s/", v6 ? "[" : "",
	    r->host, v6 ? "]" : "", port) == -1)
		url = NULL;
	if ((r->is_connect && url == NULL) || (login = portal_login_url(r->conf,
	    r->is_connect ? url : r->url)) == NULL) {
		free(url);
		conn_close(c, "out of memory");
		return;
	}
	free(url);
	if (r->is_connect && !other) {
		snprintf(reason, sizeof(reason), "sign-in required: open "
		    "%s/iaproxy/login in your browser", r->conf->saml.portal);
		free(login);
		conn_abort_http(c, 403, reason);
		return;
	}
	status = other ? 407 : 302;
	conn_drop_origin(c);
	r->status = status;
	r->reason = "sign-in required";
	keepalive = !c->close_after && r->req_keepalive && r->req_body_done;
	if (!keepalive)
		c->close_after = 1;
	conn_log(c, LOG_LVL_INFO, "sign-in required: %d to the portal",
	    status);
	if ((out = evbuffer_new()) != NULL) {
		pages_signin(r->conf, status, login, other ?
		    gate_offers(net->auth) : NULL, keepalive, out);
		free(r->content_type);
		r->content_type = strdup("text/html");
		conn_write_client(c, out);
		evbuffer_free(out);
	}
	free(login);
	conn_request_done(c);
}

/* Who the client is: the network's sign-in (see gate_check). */
static int
gate_signin(struct conn *c, const struct h1_msg *msg, size_t headlen,
    size_t inlen)
{
	struct request		*r = c->req;
	const struct config	*conf = r->conf;
	const struct conf_network *net;
	const struct h1_hdr	*pa = NULL;
	struct auth_answer	 ans;
	struct auth_pending	*pending = NULL;
	enum auth_outcome	 out;
	const char		*scheme, *token;
	size_t			 slen, tlen, i;
	char			 schemebuf[16];
	int			 negotiate;

	/* No network blocks: nobody signs in (the default config). */
	if (conf->nnetworks == 0)
		return GATE_PASS;
	if ((net = conf_network_for(conf, &c->ss.sa)) == NULL) {
		/* Never an open relay: unknown addresses are refused. */
		r->result = "TCP_DENIED";
		gate_skip_body(c, headlen, inlen);
		conn_abort_http(c, 403, "your address is not allowed to use "
		    "this proxy");
		return GATE_ANSWERED;
	}
	if (net->auth & AUTH_NONE)
		return GATE_PASS;
	/* An IP session's user was the last request's only (conn.c). */
	if (c->auth_mech != NULL && strcmp(c->auth_mech, "saml") == 0) {
		free(c->user);
		c->user = NULL;
		c->auth_mech = NULL;
	}
	for (i = 0; i < msg->nhdrs; i++)
		if (msg->hdrs[i].name_len == 19 && strncasecmp(
		    msg->hdrs[i].name, "Proxy-Authorization", 19) == 0) {
			pa = &msg->hdrs[i];
			break;
		}
	/* Credentials for a scheme the network does not offer: none. */
	if (pa != NULL && !(net->auth & (AUTH_NEGOTIATE | AUTH_NTLM)))
		pa = NULL;
	/*
	 * A signed-in connection needs nothing more (browsers send none):
	 * a Negotiate or NTLM identity wins over an IP session.
	 */
	if (pa == NULL && c->user != NULL)
		return GATE_PASS;
	if (pa == NULL && (net->auth & AUTH_SAML) && gate_saml(c))
		return GATE_PASS;
	/*
	 * An auth = none rule lets this request through unauthenticated
	 * (update services that cannot sign in): ask before challenging.
	 */
	if (pa == NULL && decide_exempt(c))
		return GATE_PASS;
	r->result = "TCP_DENIED";
	if (pa == NULL) {
		gate_skip_body(c, headlen, inlen);
		if (net->auth & AUTH_SAML)
			gate_to_portal(c, net);
		else
			conn_abort_http_hdrs(c, 407, "sign-in required",
			    gate_offers(net->auth));
		return GATE_ANSWERED;
	}
	if (auth_split(pa->value, pa->value_len, &scheme, &slen, &token,
	    &tlen) == -1 || slen >= sizeof(schemebuf)) {
		conn_log(c, LOG_LVL_INFO, "sign-in refused: malformed "
		    "Proxy-Authorization");
		gate_skip_body(c, headlen, inlen);
		conn_abort_http_hdrs(c, 407, "malformed credentials",
		    gate_offers(net->auth));
		return GATE_ANSWERED;
	}
	memcpy(schemebuf, scheme, slen);
	schemebuf[slen] = '\0';
	/* Negotiate carries NTLM too: auth_negotiate_step() tells them apart. */
	negotiate = strcasecmp(schemebuf, "Negotiate") == 0;
	if (negotiate ? !(net->auth & (AUTH_NEGOTIATE | AUTH_NTLM)) :
	    (!(net->auth & AUTH_NTLM) || strcasecmp(schemebuf, "NTLM") != 0)) {
		conn_log(c, LOG_LVL_INFO, "sign-in refused: scheme %s is not "
		    "offered here", strcasecmp(schemebuf, "Basic") == 0 ?
		    "Basic" : "(other)");
		gate_skip_body(c, headlen, inlen);
		conn_abort_http_hdrs(c, 407, "this sign-in scheme is not "
		    "accepted", gate_offers(net->auth));
		return GATE_ANSWERED;
	}
	if (negotiate)
		out = auth_negotiate_step(&c->auth, c->worker->auth, conf,
		    net->auth, token, tlen, &ans, gate_auth_done, c, &pending);
	else
		out = auth_ntlm_step(&c->auth, c->worker->auth, conf, token,
		    tlen, &ans, gate_auth_done, c, &pending);
	if (out == AUTH_PENDING) {
		/* The backend's answer comes to gate_auth_done(). */
		c->auth_pending = pending;
		conn_ref(c);
		return GATE_PENDING;
	}
	if (out != AUTH_SUCCESS)
		gate_skip_body(c, headlen, inlen);
	return gate_outcome(c, out, &ans) ? GATE_PASS : GATE_ANSWERED;
}

int
gate_check(struct conn *c, const struct h1_msg *msg, size_t headlen,
    size_t inlen)
{
	int	rv;

	if ((rv = gate_signin(c, msg, headlen, inlen)) != GATE_PASS)
		return rv;
	if (gate_disabled(c, headlen, inlen))
		return GATE_ANSWERED;
	if ((rv = gate_groups(c, headlen, inlen)) != GATE_PASS)
		return rv;
	/* Who and which groups are known: the policy decides. */
	return decide_request(c);
}

/* After a pending step: the policy, then forward or tunnel. */
static void
gate_start(struct conn *c)
{
	if (decide_request(c) != GATE_PASS)
		return;
	if (c->req->is_connect)
		tunnel_start(c);
	else
		forward_start(c);
}

/*
 * The user's groups are known (or known to be unknown): keep them on the
 * request for the policy and the log.  1 to go on; 0 when the request
 * was answered, because nothing is known of them and directory_failure
 * says deny.  Takes the reference g.
 */
static int
gate_groups_apply(struct conn *c, struct auth_groups *g,
    enum auth_groups_source src, size_t headlen, size_t inlen)
{
	struct request	*r = c->req;

	auth_groups_unref(r->groups);
	r->groups = g;
	r->groups_source = src;
	r->groups_done = 1;
	if (src != AUTH_GROUPS_NONE)
		return 1;
	if (r->conf->ldap.directory_failure == DIR_FAILURE_ALLOW) {
		conn_log(c, LOG_LVL_INFO, "groups of %s unknown (the directory "
		    "cannot be reached and nothing is cached): going on "
		    "without groups (directory_failure allow)", c->user);
		return 1;
	}
	/*
	 * Fail closed, and say why: a 503, not a 403, since nothing was
	 * decided about the user (the directory is down) and a retry soon
	 * may well pass; the sign-in path answers the same way.
	 */
	conn_log(c, LOG_LVL_INFO, "groups of %s unknown (the directory cannot "
	    "be reached and nothing is cached): refused (directory_failure "
	    "deny)", c->user);
	r->result = "TCP_DENIED";
	if (inlen > 0)
		gate_skip_body(c, headlen, inlen);
	conn_abort_http_hdrs(c, 503, "your group memberships cannot be "
	    "checked: the directory cannot be reached; try again shortly",
	    "Retry-After: 5\r\n");
	return 0;
}

/* The directory answered a pending group lookup (worker's thread). */
static void
gate_groups_done(void *arg, struct auth_groups *g,
    enum auth_groups_source src)
{
	struct conn *c = arg;

	c->groups_pending = NULL;
	if (!c->closing && c->req != NULL && c->state == CONN_AUTH_PENDING) {
		if (gate_groups_apply(c, g, src, 0, 0))
			gate_start(c);
	} else
		auth_groups_unref(g);
	conn_unref(c);
}

/*
 * A signed-in user's groups, when the config looks them up: on every
 * request, so that a purge or a group change applies to keep-alive
 * connections too (a hit costs well under a microsecond).  GATE_PASS,
 * GATE_PENDING (gate_groups_done goes on) or GATE_ANSWERED.  headlen
 * and inlen as for gate_check (0: the head is gone already).
 */
static int
gate_groups(struct conn *c, size_t headlen, size_t inlen)
{
	struct request		*r = c->req;
	struct auth_groups	*g;
	struct auth_pending	*pending;
	enum auth_groups_source	 src;

	if (c->user == NULL || !auth_groups_enabled(r->conf) ||
	    (r->groups_done && r->groups_source == AUTH_GROUPS_SAML))
		return GATE_PASS;
	if (auth_groups_lookup(c->worker->auth, r->conf, c->user, &g, &src,
	    gate_groups_done, c, &pending) == AUTH_PENDING) {
		c->groups_pending = pending;
		conn_ref(c);
		return GATE_PENDING;
	}
	return gate_groups_apply(c, g, src, headlen, inlen) ? GATE_PASS :
	    GATE_ANSWERED;
}

/* A sign-in backend said yes: the groups, then the request goes on. */
static void
gate_go_on(struct conn *c)
{
	if (gate_disabled(c, 0, 0))
		return;
	if (gate_groups(c, 0, 0) != GATE_PASS)
		return;		/* pending (state unchanged), or answered */
	gate_start(c);
}

/*
 * A disabled account (iaproxyctl disable, account.c) is refused as soon
 * as the user is known, whatever proved it (Negotiate, NTLM, a session):
 * 403 with a page that says so, and the connection closes after it with
 * its identity dropped, so that nothing else rides on it.  1 when
 * answered.  On every request, not only at sign-in: a keep-alive
 * connection signed in before the disable is refused too (the list
 * lookup is a lock-free test while it is empty).
 */
static int
gate_disabled(struct conn *c, size_t headlen, size_t inlen)
{
	if (c->user == NULL || !account_disabled(c->user))
		return 0;
	conn_log(c, LOG_LVL_INFO, "refused: account disabled (%s)", c->user);
	c->req->result = "TCP_DENIED";
	c->close_after = 1;
	if (inlen > 0)
		gate_skip_body(c, headlen, inlen);
	/* The access log line still names who was refused. */
	conn_abort_http(c, 403, "account disabled: this account has been "
	    "disabled by the administrator");
	if (!c->closing) {	/* c is freed later, never in this frame */
		free(c->user);
		c->user = NULL;
		c->auth_mech = NULL;
	}
	return 1;
}

void
gate_conn_closed(struct conn *c)
{
	if (c->groups_pending == NULL)
		return;
	/* Its callback will not come: drop the reference it held. */
	auth_cancel(c->groups_pending);
	c->groups_pending = NULL;
	conn_unref(c);
}
