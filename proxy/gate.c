/*
 * The sign-in gate between a parsed request and its forwarding: which
 * client network the connection comes from, whether that network needs a
 * sign-in, and the 407 handshake when it does.  An identity belongs to the
 * connection it was proven on (NTLM authenticates connections, MS-NLMP
 * 3.2.5): it is kept in struct conn and never reaches another connection.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

/* The Proxy-Authenticate lines a network offers (RFC 9110 11.7.1). */
static const char *
gate_offers(unsigned methods)
{
	/* Negotiate first when it exists: browsers take the first they can. */
	if (methods & AUTH_NTLM)
		return "Proxy-Authenticate: NTLM\r\n";
	return "";
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

	switch (out) {
	case AUTH_SUCCESS:
		free(c->user);
		if ((c->user = strdup(ans->user)) == NULL) {
			conn_close(c, "out of memory");
			return 0;
		}
		c->auth_mech = ans->mech;
		c->req->result = "TCP_MISS";
		conn_log(c, LOG_LVL_INFO, "signed in as %s (%s)", c->user,
		    ans->mech);
		return 1;
	case AUTH_CHALLENGE:
		snprintf(extra, sizeof(extra), "Proxy-Authenticate: %s\r\n",
		    ans->header);
		conn_abort_http_hdrs(c, 407, "sign-in in progress", extra);
		return 0;
	default:
		/* The reason is ours (static); names stay out of it. */
		conn_log(c, LOG_LVL_INFO, "sign-in refused: %s", ans->reason);
		if (ans->unavailable) {
			/* The directory or DC did not answer: say so. */
			conn_abort_http_hdrs(c, 503, "the sign-in service is "
			    "unavailable; try again shortly",
			    "Retry-After: 5\r\n");
			return 0;
		}
		snprintf(extra, sizeof(extra), "Proxy-Authenticate: %s\r\n",
		    ans->header);
		conn_abort_http_hdrs(c, 407, "sign-in refused", extra);
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
	    c->state == CONN_AUTH_PENDING && gate_outcome(c, out, ans)) {
		if (c->req->is_connect)
			tunnel_start(c);
		else
			forward_start(c);
	}
	conn_unref(c);
}

int
gate_check(struct conn *c, const struct h1_msg *msg, size_t headlen,
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
	for (i = 0; i < msg->nhdrs; i++)
		if (msg->hdrs[i].name_len == 19 && strncasecmp(
		    msg->hdrs[i].name, "Proxy-Authorization", 19) == 0) {
			pa = &msg->hdrs[i];
			break;
		}
	/* A signed-in connection needs nothing more (browsers send none). */
	if (pa == NULL && c->user != NULL)
		return GATE_PASS;
	r->result = "TCP_DENIED";
	if (pa == NULL) {
		gate_skip_body(c, headlen, inlen);
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
	if (!(net->auth & AUTH_NTLM) || (strcasecmp(schemebuf, "NTLM") != 0 &&
	    strcasecmp(schemebuf, "Negotiate") != 0)) {
		conn_log(c, LOG_LVL_INFO, "sign-in refused: scheme %s is not "
		    "offered here", strcasecmp(schemebuf, "Basic") == 0 ?
		    "Basic" : "(other)");
		gate_skip_body(c, headlen, inlen);
		conn_abort_http_hdrs(c, 407, "this sign-in scheme is not "
		    "accepted", gate_offers(net->auth));
		return GATE_ANSWERED;
	}
	/* Answer in the scheme the client used (NTLMSSP inside Negotiate). */
	snprintf(schemebuf, sizeof(schemebuf), "%s",
	    strcasecmp(schemebuf, "NTLM") == 0 ? "NTLM" : "Negotiate");
	out = auth_ntlm_step(&c->auth, c->worker->auth, conf, schemebuf, token,
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
