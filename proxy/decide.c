/*
 * The Internet Access policy on the data path: what the proxy knows of a
 * request, handed to policy_decide() (policy/eval.c), and what the answer
 * means for the client.
 *
 *   allow    go on (forward or tunnel)
 *   block    plain HTTP: a 403 block page naming the rule, the user and
 *            the URL, with an incident id that is also in the access log;
 *            CONNECT: a 403 with no body (a browser shows nothing from a
 *            proxy's answer to CONNECT anyway)
 *   warn     plain HTTP: a caution page whose "continue" link goes to the
 *            gateway's own /iaproxy/continue?t=TOKEN, which records the
 *            acknowledgement and redirects back; CONNECT: no page can be
 *            shown inside a tunnel, so it goes through and is logged as
 *            "warn-tunnel" (or "warn-continued" when acknowledged)
 *   monitor  never decides here (POLICY_RQ_MONITOR_GOES_ON): the first
 *            monitor rule that matched is logged with what it would have
 *            done, and the rules after it decide
 *
 * The decision is made with POLICY_RQ_PROXY, which `iaproxy explain` uses
 * too, so the two never disagree.
 *
 * Acknowledgements and continue tokens live in two bounded tables shared
 * by all workers, each under its own mutex (taken for a few hash probes;
 * never while doing I/O).  A full table forgets the entry closest to
 * expiry: the worst case is a caution page shown once more.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "proxy.h"

#define ACK_SLOTS	16384		/* buckets of the ack table */
#define ACK_WAYS	4		/* entries per bucket */
#define ACK_KEY_MAX	200		/* "identity\x1frule" */
#define TOKEN_SLOTS	4096		/* continue tokens at once */
#define TOKEN_TTL	900		/* s a caution page's link works */
#define TOKEN_LEN	32		/* hex digits (128 random bits) */
#define CONT_PATH	"/iaproxy/continue"

struct ack {
	time_t		 expires;	/* 0: free */
	char		 key[ACK_KEY_MAX];
};

struct token {
	time_t		 expires;	/* 0: free */
	long		 ttl;		/* of the acknowledgement */
	char		 id[TOKEN_LEN + 1];
	char		 key[ACK_KEY_MAX];
	char		*url;		/* where continue goes back to */
};

static pthread_mutex_t	 ack_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ack	 acks[ACK_SLOTS][ACK_WAYS];
static pthread_mutex_t	 token_lock = PTHREAD_MUTEX_INITIALIZER;
static struct token	 tokens[TOKEN_SLOTS];
static size_t		 token_next;	/* ring: the oldest is replaced */

/* Membership, asked of the user's cached groups by the evaluator. */
static int
decide_group_member(void *arg, const char *group)
{
	return auth_groups_has(arg, group);
}

/*
 * The request as the policy sees it.  Groups: no group lookups (no
 * directory configured) means known and empty; a lookup that could not
 * be answered (AUTH_GROUPS_NONE, directory_failure allow) means unknown,
 * which POLICY_RQ_GROUPS_FAIL_CLOSED turns into "blocks still block".
 */
static void
decide_fill(struct conn *c, struct policy_request *pr, const char *user)
{
	struct request			*r = c->req;
	const struct conf_network	*net;

	memset(pr, 0, sizeof(*pr));
	pr->user = user;
	if (user != NULL && r->groups_done) {
		if (r->groups_source == AUTH_GROUPS_NONE)
			pr->groups_unknown = 1;
		else if (r->groups != NULL) {
			pr->group_member = decide_group_member;
			pr->group_arg = r->groups;
		}
	}
	net = r->conf->nnetworks > 0 ? conf_network_for(r->conf,
	    &c->ss.sa) : NULL;
	pr->network = net != NULL ? net->name : NULL;
	pr->src = &c->ss.sa;
	pr->method = r->method;
	pr->scheme = r->is_connect ? POLICY_SCHEME_CONNECT :
	    POLICY_SCHEME_HTTP;
	pr->host = r->host;
	pr->port = r->port;
	pr->url = r->is_connect ? NULL : r->url;
	pr->now = r->start.tv_sec;
	pr->mode = POLICY_RQ_PROXY;
}

/* "identity\x1frule": who acknowledged which rule's warning. */
static void
decide_ack_key(struct conn *c, const char *rule, char *key, size_t len)
{
	char	addr[INET6_ADDRSTRLEN];

	if (c->user != NULL)
		snprintf(key, len, "u:%s\x1f%s", c->user, rule);
	else {
		if (c->ss.sa.sa_family == AF_INET6)
			inet_ntop(AF_INET6, &c->ss.sin6.sin6_addr, addr,
			    sizeof(addr));
		else
			inet_ntop(AF_INET, &c->ss.sin.sin_addr, addr,
			    sizeof(addr));
		snprintf(key, len, "a:%s\x1f%s", addr, rule);
	}
}

/* Is the acknowledgement of key still valid? */
static int
decide_acked(const char *key, time_t now)
{
	struct ack	*b;
	int		 i, ok = 0;

	b = acks[hash_bytes(key, strlen(key)) % ACK_SLOTS];
	pthread_mutex_lock(&ack_lock);
	for (i = 0; i < ACK_WAYS; i++)
		if (b[i].expires > now && strcmp(b[i].key, key) == 0) {
			ok = 1;
			break;
		}
	pthread_mutex_unlock(&ack_lock);
	return ok;
}

/* Record an acknowledgement of key until now + ttl. */
static void
decide_ack(const char *key, time_t now, long ttl)
{
	struct ack	*b, *victim;
	int		 i;

	b = acks[hash_bytes(key, strlen(key)) % ACK_SLOTS];
	pthread_mutex_lock(&ack_lock);
	victim = &b[0];
	for (i = 0; i < ACK_WAYS; i++) {
		if (b[i].expires > now && strcmp(b[i].key, key) == 0) {
			victim = &b[i];
			break;
		}
		if (b[i].expires < victim->expires)
			victim = &b[i];
	}
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->expires = now + ttl;
	pthread_mutex_unlock(&ack_lock);
}

/* A one-time token for the continue link of a caution page. */
static int
decide_token_new(const char *key, const char *url, long ttl, time_t now,
    char *id)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 rnd[TOKEN_LEN / 2];
	struct token		*t;
	char			*u;
	size_t			 i;

	if ((u = strdup(url)) == NULL)
		return -1;
	arc4random_buf(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		id[2 * i] = hex[rnd[i] >> 4];
		id[2 * i + 1] = hex[rnd[i] & 0xf];
	}
	id[TOKEN_LEN] = '\0';
	pthread_mutex_lock(&token_lock);
	t = &tokens[token_next];
	token_next = (token_next + 1) % TOKEN_SLOTS;
	free(t->url);
	t->url = u;
	t->expires = now + TOKEN_TTL;
	t->ttl = ttl;
	memcpy(t->id, id, TOKEN_LEN + 1);
	snprintf(t->key, sizeof(t->key), "%s", key);
	pthread_mutex_unlock(&token_lock);
	return 0;
}

/*
 * Use up token id: record its acknowledgement and return the URL to go
 * back to (malloc'ed), or NULL when it is unknown, used or expired.
 */
static char *
decide_token_use(const char *id, time_t now)
{
	struct token	*t;
	char		*url = NULL, key[ACK_KEY_MAX];
	long		 ttl = 0;
	size_t		 i;

	pthread_mutex_lock(&token_lock);
	for (i = 0; i < TOKEN_SLOTS; i++) {
		t = &tokens[i];
		if (t->expires <= now || t->url == NULL ||
		    strcmp(t->id, id) != 0)
			continue;
		url = t->url;
		t->url = NULL;
		t->expires = 0;
		ttl = t->ttl;
		memcpy(key, t->key, sizeof(key));
		break;
	}
	pthread_mutex_unlock(&token_lock);
	if (url != NULL)
		decide_ack(key, now, ttl);
	return url;
}

/* A 403 with no body: the answer to a blocked CONNECT. */
static void
decide_answer_connect(struct conn *c, int keepalive)
{
	struct request	*r = c->req;
	struct evbuffer	*out;
	char		 rule[128];

	log_sanitize(rule, sizeof(rule), r->decision.rule_name,
	    strlen(r->decision.rule_name));
	if ((out = evbuffer_new()) == NULL)
		return;
	evbuffer_add_printf(out, "HTTP/1.1 403 Forbidden\r\n"
	    "Content-Length: 0\r\n"
	    "X-Iaproxy-Error: blocked by rule '%s' (incident %s)\r\n"
	    "%s\r\n", rule, r->incident, keepalive ? "" :
	    "Connection: close\r\n");
	conn_write_client(c, out);
	evbuffer_free(out);
}

/*
 * Answer a blocked or warned request ourselves, then end it as
 * conn_abort_http does.  cont: the caution page's continue link.
 */
static void
decide_answer(struct conn *c, const char *cont)
{
	struct request	*r = c->req;
	struct evbuffer	*out;
	int		 keepalive;

	conn_drop_origin(c);
	r->status = 403;
	r->result = "TCP_DENIED";
	r->reason = r->policy_why;
	/* A body we did not read makes the framing uncertain: close. */
	keepalive = !c->close_after && r->req_keepalive && r->req_body_done &&
	    !r->is_connect;
	if (!keepalive)
		c->close_after = 1;
	conn_log(c, LOG_LVL_INFO, "403 (policy): %s by rule '%s'%s%s",
	    cont != NULL ? "warned" : "blocked", r->decision.rule_name,
	    r->incident[0] != '\0' ? ", incident " : "", r->incident);
	if (r->is_connect)
		decide_answer_connect(c, keepalive);
	else if ((out = evbuffer_new()) != NULL) {
		pages_policy(r->conf, r->decision.rule_name, c->user, r->url,
		    r->policy_why, r->incident[0] != '\0' ? r->incident : NULL,
		    cont, keepalive, out);
		free(r->content_type);
		r->content_type = strdup("text/html");
		conn_write_client(c, out);
		evbuffer_free(out);
	}
	conn_request_done(c);
}

/*
 * The decision is final: feed the risk rules (risk.c) with what it was,
 * plus "monitor" when a monitor rule matched on the way.  Only a
 * signed-in user's requests count; risk_observe() ignores the rest.
 */
static void
decide_risk(struct conn *c, unsigned kind)
{
	struct request	*r = c->req;

	if (r->decision.monitor_rule >= 0)
		kind |= RISK_WHEN_MONITOR;
	if (kind != 0)
		risk_observe(r->conf, c->user, kind, r->host);
}

/*
 * Act on r->decision: GATE_PASS to go on, GATE_ANSWERED when a page (or
 * a 403) was sent.
 */
static int
decide_act(struct conn *c)
{
	struct request		*r = c->req;
	struct policy_decision	*d = &r->decision;
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 rnd[6];
	char			 key[ACK_KEY_MAX], id[TOKEN_LEN + 1];
	char			 cont[512];
	size_t			 i;

	policy_reason(d, r->policy_why, sizeof(r->policy_why));
	switch (d->action) {
	case POLICY_BLOCK:
		r->decision_text = "block";
		arc4random_buf(rnd, sizeof(rnd));
		for (i = 0; i < sizeof(rnd); i++) {
			r->incident[2 * i] = hex[rnd[i] >> 4];
			r->incident[2 * i + 1] = hex[rnd[i] & 0xf];
		}
		r->incident[2 * sizeof(rnd)] = '\0';
		decide_risk(c, RISK_WHEN_BLOCK);
		decide_answer(c, NULL);
		return GATE_ANSWERED;
	case POLICY_WARN:
		decide_ack_key(c, d->rule_name, key, sizeof(key));
		if (decide_acked(key, r->start.tv_sec)) {
			/* Counted once, when the warning was given. */
			r->decision_text = "warn-continued";
			decide_risk(c, 0);
			return GATE_PASS;
		}
		decide_risk(c, RISK_WHEN_WARN);
		if (r->is_connect) {
			/* No page can be shown inside a tunnel. */
			r->decision_text = "warn-tunnel";
			conn_log(c, LOG_LVL_INFO, "warn by rule '%s' not shown "
			    "in a tunnel: let through", d->rule_name);
			return GATE_PASS;
		}
		r->decision_text = "warn";
		if (decide_token_new(key, r->url, d->warn_ttl,
		    r->start.tv_sec, id) == -1) {
			conn_close(c, "out of memory");
			return GATE_ANSWERED;
		}
		snprintf(cont, sizeof(cont), "http://%s:%d" CONT_PATH "?t=%s",
		    r->conf->hostname, c->local_port, id);
		decide_answer(c, cont);
		return GATE_ANSWERED;
	case POLICY_ALLOW:
	case POLICY_MONITOR:
	default:
		r->decision_text = "allow";
		decide_risk(c, RISK_WHEN_ALLOW);
		return GATE_PASS;
	}
}

/* See proxy.h. */
int
decide_request(struct conn *c)
{
	struct request		*r = c->req;
	struct policy_request	 pr;

	if (!r->decided) {
		decide_fill(c, &pr, c->user);
		r->decided = 1;
		if (policy_decide(r->conf->policy, &pr, &r->decision) ==
		    POLICY_NEED_DST_IP) {
			/* A rule tests dst_ip: decide once DNS answered. */
			r->dst_pending = 1;
			r->decision_text = "pending";
			return GATE_PASS;
		}
	}
	return decide_act(c);
}

/* See proxy.h. */
int
decide_exempt(struct conn *c)
{
	struct request		*r = c->req;
	struct policy_request	 pr;
	struct policy_decision	 d;

	decide_fill(c, &pr, NULL);
	if (!policy_auth_exempt(r->conf->policy, &pr, &d))
		return 0;
	r->decision = d;
	r->decided = 1;
	conn_log(c, LOG_LVL_DEBUG, "no sign-in: rule '%s' (auth = none)",
	    d.rule_name);
	return 1;
}

/* See proxy.h. */
int
decide_dst(struct conn *c, const struct sockaddr *sa)
{
	struct request		*r = c->req;
	struct policy_request	 pr;

	if (!r->dst_pending)
		return 1;
	decide_fill(c, &pr, c->user);
	pr.dst_ip = sa;
	r->dst_pending = 0;
	policy_decide(r->conf->policy, &pr, &r->decision);
	return decide_act(c) == GATE_PASS;
}

/* See proxy.h. */
void
decide_continue(struct conn *c, const char *query, size_t len,
    struct evbuffer *out)
{
	struct request	*r = c->req;
	char		 id[TOKEN_LEN + 1], *url;

	/* "t=TOKEN", nothing else. */
	if (len != 2 + TOKEN_LEN || memcmp(query, "t=", 2) != 0 ||
	    strspn(query + 2, "0123456789abcdef") < TOKEN_LEN) {
		conn_abort_http(c, 404, "no such page on this gateway");
		return;
	}
	memcpy(id, query + 2, TOKEN_LEN);
	id[TOKEN_LEN] = '\0';
	if ((url = decide_token_use(id, r->start.tv_sec)) == NULL) {
		conn_abort_http(c, 404, "this continue link has expired or was "
		    "used already: load the page again");
		return;
	}
	/*
	 * 303 (RFC 9110 15.4.4): a GET of the page the warning was about.
	 * The URL is the request target as the client sent it, which the
	 * parser checked holds no controls or spaces.
	 */
	evbuffer_add_printf(out, "HTTP/1.1 303 See Other\r\n"
	    "Location: %s\r\n"
	    "Content-Length: 0\r\n"
	    "Cache-Control: no-store\r\n%s\r\n", url,
	    r->req_keepalive && !c->close_after ? "" : "Connection: close\r\n");
	r->status = 303;
	free(url);
}
