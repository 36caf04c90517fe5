/*
 * The ldap NTLM backend: the user's NT hash from the directory
 * (sambaNTPassword, or the attribute the config names), read with a
 * service account over one persistent connection per worker.
 *
 * Nothing here blocks the worker's event loop.  The connection is made
 * with LDAP_OPT_CONNECT_ASYNC (ldap_initialize does not connect; the TCP
 * connect happens inside the first ldap_sasl_bind, which with the option
 * returns LDAP_X_CONNECTING instead of waiting): we wait for the socket
 * to become writable and call it again.  The bind and every search are
 * sent with the asynchronous calls and their answers collected with
 * ldap_result() and a zero timeout when libevent says the socket
 * (LDAP_OPT_DESC) is readable.  Several searches share the connection
 * and are told apart by message id.
 *
 * Failures fail closed: a directory that cannot be reached, refuses our
 * bind, errs or does not answer within `timeout` gives
 * NTLM_BACKEND_DOWN, never a success.  The URIs are tried in order
 * (failover); after a whole round failed we wait before the next round
 * (doubling, 1 s to 10 s).  Lookups that arrive while the connection is
 * being made wait in a bounded queue, each with its own deadline.
 *
 * Secrets: the bind password lives in the config (conf.c wipes it); the
 * hash is copied into the result and wiped here.  Neither is ever
 * logged.  ldaps:// verifies the server against tls_ca_file (or the
 * system's CAs); note that libldap runs the TLS handshake inside the
 * call that completes the connect.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/time.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ldap.h>
#include <openssl/crypto.h>

#include "backend.h"
#include "proxy.h"		/* log_*() */

#define LDAP_QUEUE_MAX		1024	/* lookups waiting for a connection */
#define LDAP_BACKOFF_MIN	1000	/* ms before the second round */
#define LDAP_BACKOFF_MAX	10000	/* ms, the longest wait */
#define LDAP_FILTER_MAX		4096	/* bytes of one search filter */
#define LDAP_QUEUE_WAIT_MAX	600000	/* ms a lookup waits for a connection */

enum ldap_state {
	LS_IDLE,	/* no connection, none being made */
	LS_CONNECTING,	/* TCP connect in progress (LDAP_X_CONNECTING) */
	LS_BINDING,	/* bind sent, waiting for its result */
	LS_UP,		/* bound: searches go out at once */
	LS_BACKOFF,	/* a round failed; waiting before the next */
};

struct ldap_req;
TAILQ_HEAD(ldap_reqs, ldap_req);

struct ntlm_ldap {
	struct event_base	*base;
	const struct config	*conf;		/* the worker holds the ref */
	LDAP			*ld;
	enum ldap_state		 state;
	size_t			 uri;		/* index being tried */
	size_t			 tried;		/* URIs tried in this round */
	int			 bind_msgid;
	int			 backoff;	/* ms; 0 after a good bind */
	struct event		*ev_io;		/* the LDAP socket */
	struct event		*ev_timer;	/* connect/bind deadline, backoff */
	struct ldap_reqs	 queue;		/* waiting for LS_UP */
	size_t			 nqueue;
	struct ldap_reqs	 sent;		/* searches on the wire */
	int			 was_up;	/* for logging transitions once */
};

/* One lookup.  base is first: backend.h's cancel contract. */
struct ldap_req {
	struct ntlm_backend_req	 base;
	struct ntlm_ldap	*nl;
	TAILQ_ENTRY(ldap_req)	 entry;
	struct ldap_reqs	*list;		/* queue or sent */
	int			 msgid;
	char			*filter;
	struct event		*timer;
	ntlm_backend_cb		 cb;
	void			*arg;
	int			 nentries;
	int			 have_hash;
	uint8_t			 hash[16];
	const char		*why;		/* the first entry's problem */
	const char		*down;		/* answer DOWN with this, soon */
};

static void	 ldap_connect_round(struct ntlm_ldap *);
static void	 ldap_try_uri(struct ntlm_ldap *);
static void	 ldap_bind_step(struct ntlm_ldap *);
static void	 ldap_disconnect(struct ntlm_ldap *);
static void	 ldap_failed(struct ntlm_ldap *, const char *);
static void	 ldap_conn_lost(struct ntlm_ldap *, const char *, int);
static void	 ldap_io_cb(evutil_socket_t, short, void *);
static void	 ldap_timer_cb(evutil_socket_t, short, void *);
static void	 ldap_read(struct ntlm_ldap *);
static void	 ldap_handle(struct ntlm_ldap *, LDAPMessage *);
static void	 ldap_handle_bind(struct ntlm_ldap *, LDAPMessage *);
static void	 ldap_send(struct ldap_req *);
static void	 ldap_flush_queue(struct ntlm_ldap *);
static void	 req_entry(struct ldap_req *, LDAPMessage *);
static void	 req_finish(struct ldap_req *, enum ntlm_backend_status,
		    const char *);
static void	 req_unlink(struct ldap_req *);
static void	 req_free(struct ldap_req *);
static void	 req_cancel(struct ntlm_backend_req *);
static void	 req_timeout_cb(evutil_socket_t, short, void *);
static void	 req_fail_soon(struct ldap_req *, const char *);
static void	 fail_list(struct ntlm_ldap *, struct ldap_reqs *,
		    const char *);
static char	*build_filter(const char *, const char *, const char *);
static int	 hex16(const char *, size_t, uint8_t *);
static void	 ms_tv(int, struct timeval *);

static pthread_once_t	 ldap_once = PTHREAD_ONCE_INIT;

/*
 * libldap sets up its global options (reading ldap.conf) on first use;
 * workers make their handles at the same time, so do that once, first.
 */
static void
ldap_global_init(void)
{
	int	v;

	ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &v);
}

static void
ms_tv(int ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/*
 * Make the backend of one worker.  Nothing is connected yet: the first
 * lookup does that.  Returns NULL when out of memory or when conf has no
 * ldap section.
 */
struct ntlm_ldap *
ntlm_ldap_new(struct event_base *base, const struct config *conf)
{
	struct ntlm_ldap	*nl;

	if (!conf->ldap.enabled || conf->ldap.nuris == 0)
		return NULL;
	pthread_once(&ldap_once, ldap_global_init);
	if ((nl = calloc(1, sizeof(*nl))) == NULL)
		return NULL;
	nl->base = base;
	nl->conf = conf;
	nl->state = LS_IDLE;
	nl->bind_msgid = -1;
	TAILQ_INIT(&nl->queue);
	TAILQ_INIT(&nl->sent);
	if ((nl->ev_timer = evtimer_new(base, ldap_timer_cb, nl)) == NULL) {
		free(nl);
		return NULL;
	}
	return nl;
}

/*
 * Close the connection and free the backend.  What it still had in
 * flight is answered NTLM_BACKEND_DOWN first (auth_worker_reconf
 * replaces the backend with the config; the handshakes fail closed and
 * their clients start again).
 */
void
ntlm_ldap_free(struct ntlm_ldap *nl)
{
	if (nl == NULL)
		return;
	fail_list(nl, &nl->queue, "directory connection closed");
	fail_list(nl, &nl->sent, "directory connection closed");
	ldap_disconnect(nl);
	event_free(nl->ev_timer);
	free(nl);
}

/*
 * Look up the NT hash of q->user (in q->domain) in the directory.  The
 * answer comes to cb on the worker's thread, exactly once, unless the
 * returned request is cancelled first.  Returns NULL when cb has already
 * been called (out of memory, queue full, no ldap section).
 */
struct ntlm_backend_req *
ntlm_ldap_lookup(struct auth_worker *aw, const struct ntlm_backend_query *q,
    ntlm_backend_cb cb, void *arg)
{
	struct ntlm_backend_result	 res;
	struct ntlm_ldap		*nl;
	struct ldap_req			*r;
	struct timeval			 tv;
	const char			*why = "directory unreachable";
	long				 wait;

	if (aw->ldap == NULL)
		aw->ldap = ntlm_ldap_new(aw->base, aw->conf);
	if ((nl = aw->ldap) == NULL)
		goto fail;
	if (nl->nqueue >= LDAP_QUEUE_MAX) {
		why = "directory unreachable (too many lookups waiting)";
		goto fail;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		why = "out of memory";
		goto fail;
	}
	r->base.cancel = req_cancel;
	r->nl = nl;
	r->cb = cb;
	r->arg = arg;
	r->msgid = -1;
	if ((r->filter = build_filter(nl->conf->ldap.user_filter, q->user,
	    q->domain != NULL ? q->domain : "")) == NULL ||
	    (r->timer = evtimer_new(nl->base, req_timeout_cb, r)) == NULL) {
		free(r->filter);
		free(r);
		why = "cannot build the directory search";
		goto fail;
	}
	/*
	 * Waiting for a connection may take a round over every URI, each
	 * with its own connect deadline, before the search's own: so long.
	 * The search gets `timeout` afresh when it is sent (ldap_send).
	 */
	wait = (long)nl->conf->ldap.timeout * (long)(nl->conf->ldap.nuris + 1);
	ms_tv(wait > LDAP_QUEUE_WAIT_MAX ? LDAP_QUEUE_WAIT_MAX : (int)wait, &tv);
	evtimer_add(r->timer, &tv);

	TAILQ_INSERT_TAIL(&nl->queue, r, entry);
	r->list = &nl->queue;
	nl->nqueue++;
	switch (nl->state) {
	case LS_UP:
		ldap_flush_queue(nl);
		break;
	case LS_IDLE:
		ldap_connect_round(nl);
		break;
	default:
		break;		/* sent when the connection is up */
	}
	/*
	 * A connect refused at once fails the queue inside this call; those
	 * answers are deferred to the event loop (req_fail_soon), so cb
	 * never runs before the caller has r.
	 */
	return &r->base;

 fail:
	memset(&res, 0, sizeof(res));
	res.status = NTLM_BACKEND_DOWN;
	res.reason = why;
	cb(arg, &res);
	return NULL;
}

/* Start a round over the URIs, from the first (the preferred server). */
static void
ldap_connect_round(struct ntlm_ldap *nl)
{
	nl->uri = 0;
	nl->tried = 0;
	ldap_try_uri(nl);
}

/*
 * Try nl->uri: a fresh LDAP handle (libldap keeps state per handle that a
 * failed connection would leave behind), options, then the bind.
 */
static void
ldap_try_uri(struct ntlm_ldap *nl)
{
	const struct conf_ldap	*cl = &nl->conf->ldap;
	const char		*uri = cl->uris[nl->uri];
	struct timeval		 tv;
	int			 rc, v;

	ldap_disconnect(nl);
	nl->tried++;
	nl->state = LS_CONNECTING;
	if ((rc = ldap_initialize(&nl->ld, uri)) != LDAP_SUCCESS) {
		nl->ld = NULL;
		ldap_failed(nl, ldap_err2string(rc));
		return;
	}
	v = LDAP_VERSION3;
	ldap_set_option(nl->ld, LDAP_OPT_PROTOCOL_VERSION, &v);
	/* A referral would take the service password to another server. */
	ldap_set_option(nl->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	ldap_set_option(nl->ld, LDAP_OPT_CONNECT_ASYNC, LDAP_OPT_ON);
	ms_tv(cl->timeout, &tv);
	ldap_set_option(nl->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	if (strncmp(uri, "ldaps://", 8) == 0 || cl->tls_ca_file != NULL) {
		/* RFC 4513 3.1.3: verify the server's identity, always. */
		v = LDAP_OPT_X_TLS_DEMAND;
		ldap_set_option(nl->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &v);
		if (cl->tls_ca_file != NULL)
			ldap_set_option(nl->ld, LDAP_OPT_X_TLS_CACERTFILE,
			    cl->tls_ca_file);
		v = 0;
		ldap_set_option(nl->ld, LDAP_OPT_X_TLS_NEWCTX, &v);
	}
	/* The connect and bind must be done within timeout. */
	evtimer_add(nl->ev_timer, &tv);
	ldap_bind_step(nl);
}

/*
 * Send the bind, or find out the connect is still in progress.  Called
 * once from ldap_try_uri() and again each time the socket becomes
 * writable while LDAP_X_CONNECTING.
 */
static void
ldap_bind_step(struct ntlm_ldap *nl)
{
	const struct conf_ldap	*cl = &nl->conf->ldap;
	struct berval		 cred;
	int			 rc, fd = -1;

	cred.bv_val = cl->bind_password;
	cred.bv_len = cl->bind_password_len;
	rc = ldap_sasl_bind(nl->ld, cl->bind_dn, LDAP_SASL_SIMPLE, &cred,
	    NULL, NULL, &nl->bind_msgid);
	if (rc != LDAP_SUCCESS && rc != LDAP_X_CONNECTING) {
		ldap_failed(nl, ldap_err2string(rc));
		return;
	}
	if (ldap_get_option(nl->ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS ||
	    fd < 0) {
		ldap_failed(nl, "no socket");
		return;
	}
	if (nl->ev_io != NULL) {
		event_free(nl->ev_io);
		nl->ev_io = NULL;
	}
	if (rc == LDAP_X_CONNECTING) {
		nl->ev_io = event_new(nl->base, fd, EV_WRITE, ldap_io_cb, nl);
	} else {
		int fl;

		/*
		 * Connected, bind sent.  libldap turns a socket back to
		 * blocking once its connect is done.  liblber stops at a
		 * short read, so a reply stalled mid-message is survived
		 * today (test_ntlm_ldap's stall relay); non-blocking makes
		 * sure no later read() on an empty socket can ever hold
		 * the worker.
		 */
		if ((fl = fcntl(fd, F_GETFL)) != -1)
			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		nl->state = LS_BINDING;
		nl->ev_io = event_new(nl->base, fd, EV_READ | EV_PERSIST,
		    ldap_io_cb, nl);
	}
	if (nl->ev_io == NULL || event_add(nl->ev_io, NULL) == -1)
		ldap_failed(nl, "out of memory");
}

/* Drop the handle and its events; the queue is left alone. */
static void
ldap_disconnect(struct ntlm_ldap *nl)
{
	struct ldap_req	*r;

	if (nl->ev_io != NULL) {
		event_free(nl->ev_io);
		nl->ev_io = NULL;
	}
	evtimer_del(nl->ev_timer);
	/* Searches on a dropped connection have no answer coming. */
	TAILQ_FOREACH(r, &nl->sent, entry)
		r->msgid = -1;
	if (nl->ld != NULL) {
		ldap_unbind_ext(nl->ld, NULL, NULL);
		nl->ld = NULL;
	}
	nl->bind_msgid = -1;
	nl->state = LS_IDLE;
}

/*
 * Connecting to (or binding at) the current URI failed: try the next
 * one; after the last, log, answer what waits DOWN (nothing will come
 * for it before the next round) and wait before trying again.
 */
static void
ldap_failed(struct ntlm_ldap *nl, const char *why)
{
	const struct conf_ldap	*cl = &nl->conf->ldap;
	struct ldap_req		*r;
	char			 uri[256];
	struct timeval		 tv;

	log_sanitize(uri, sizeof(uri), cl->uris[nl->uri],
	    strlen(cl->uris[nl->uri]));
	ldap_disconnect(nl);
	if (nl->tried < cl->nuris) {
		log_info("ldap: %s: %s; trying the next server", uri, why);
		nl->uri++;
		ldap_try_uri(nl);
		return;
	}
	nl->backoff = nl->backoff == 0 ? LDAP_BACKOFF_MIN :
	    nl->backoff * 2 > LDAP_BACKOFF_MAX ? LDAP_BACKOFF_MAX :
	    nl->backoff * 2;
	log_warnx("ldap: directory unreachable (%s: %s); sign-in by ldap "
	    "fails until it answers; next try in %d s", uri, why,
	    nl->backoff / 1000);
	nl->was_up = 0;
	nl->state = LS_BACKOFF;
	ms_tv(nl->backoff, &tv);
	evtimer_add(nl->ev_timer, &tv);
	TAILQ_FOREACH(r, &nl->queue, entry)
		req_fail_soon(r, "directory unreachable");
}

/*
 * An established connection broke (the server closed it, or an error
 * on the socket).  Searches on it fail; the queue gets a new round at
 * once, since a server that closed an idle connection is usually fine.
 */
static void
ldap_conn_lost(struct ntlm_ldap *nl, const char *why, int err)
{
	struct ldap_req	*r;

	if (nl->state == LS_UP)
		log_info("ldap: connection to %s lost: %s", nl->conf->ldap.uris[
		    nl->uri], err ? ldap_err2string(err) : why);
	ldap_disconnect(nl);
	TAILQ_FOREACH(r, &nl->sent, entry)
		req_fail_soon(r, "directory unreachable");
	if (!TAILQ_EMPTY(&nl->queue))
		ldap_connect_round(nl);
}

/* The socket is writable (connect done) or readable (answers). */
static void
ldap_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ntlm_ldap	*nl = arg;

	if (nl->state == LS_CONNECTING)
		ldap_bind_step(nl);
	else
		ldap_read(nl);
}

/* The connect/bind deadline, or the end of a backoff. */
static void
ldap_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ntlm_ldap	*nl = arg;

	switch (nl->state) {
	case LS_CONNECTING:
	case LS_BINDING:
		ldap_failed(nl, "no answer in time");
		break;
	case LS_BACKOFF:
		nl->state = LS_IDLE;
		if (!TAILQ_EMPTY(&nl->queue))
			ldap_connect_round(nl);
		break;
	default:
		break;
	}
}

/*
 * Collect every answer already here, one message at a time and without
 * waiting (zero timeout).  A callback may queue a new lookup, or cancel
 * one: each message is matched by id against the lists as they are now.
 */
static void
ldap_read(struct ntlm_ldap *nl)
{
	struct timeval	 zero = { 0, 0 };
	LDAPMessage	*msg;
	LDAP		*ld = nl->ld;
	int		 rc, err = 0;

	/* Until none is left, or the handling dropped this connection. */
	while (ld != NULL && nl->ld == ld) {
		msg = NULL;
		rc = ldap_result(nl->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &zero,
		    &msg);
		if (rc == 0)
			return;
		if (rc == -1) {
			ldap_get_option(nl->ld, LDAP_OPT_RESULT_CODE, &err);
			if (nl->state == LS_BINDING)
				ldap_failed(nl, ldap_err2string(err));
			else
				ldap_conn_lost(nl, NULL, err);
			return;
		}
		ldap_handle(nl, msg);
		ldap_msgfree(msg);
	}
}

/* One message from the server. */
static void
ldap_handle(struct ntlm_ldap *nl, LDAPMessage *msg)
{
	struct ldap_req	*r;
	int		 id = ldap_msgid(msg), type = ldap_msgtype(msg);
	int		 err = LDAP_OTHER;

	if (nl->state == LS_BINDING && id == nl->bind_msgid) {
		ldap_handle_bind(nl, msg);
		return;
	}
	/* A Notice of Disconnection (RFC 4511 4.4.1) has message id 0. */
	if (id == 0 && type == LDAP_RES_EXTENDED) {
		ldap_conn_lost(nl, "the server is closing the connection", 0);
		return;
	}
	TAILQ_FOREACH(r, &nl->sent, entry)
		if (r->msgid == id)
			break;
	if (r == NULL)
		return;		/* cancelled or timed out: abandoned */
	switch (type) {
	case LDAP_RES_SEARCH_ENTRY:
		req_entry(r, msg);
		break;
	case LDAP_RES_SEARCH_REFERENCE:
		break;		/* referrals are off: never followed */
	case LDAP_RES_SEARCH_RESULT:
		if (ldap_parse_result(nl->ld, msg, &err, NULL, NULL, NULL,
		    NULL, 0) != LDAP_SUCCESS)
			err = LDAP_OTHER;
		if (r->nentries > 1 || (err == LDAP_SIZELIMIT_EXCEEDED &&
		    r->nentries > 0))
			req_finish(r, NTLM_BACKEND_REFUSED, "ambiguous user");
		else if (err != LDAP_SUCCESS) {
			log_warnx("ldap: search under %s failed: %s",
			    nl->conf->ldap.base_dn, ldap_err2string(err));
			req_finish(r, NTLM_BACKEND_DOWN,
			    "directory search failed");
		} else if (r->nentries == 0)
			req_finish(r, NTLM_BACKEND_REFUSED, "unknown user");
		else if (!r->have_hash)
			req_finish(r, NTLM_BACKEND_REFUSED, r->why);
		else
			req_finish(r, NTLM_BACKEND_HASH, NULL);
		break;
	default:
		req_finish(r, NTLM_BACKEND_DOWN, "unexpected directory answer");
		break;
	}
}

/* The bind's answer: up, or (wrong service password) a failed try. */
static void
ldap_handle_bind(struct ntlm_ldap *nl, LDAPMessage *msg)
{
	char	 why[128];
	int	 err = LDAP_OTHER;

	if (ldap_parse_result(nl->ld, msg, &err, NULL, NULL, NULL, NULL, 0) !=
	    LDAP_SUCCESS)
		err = LDAP_OTHER;
	if (err != LDAP_SUCCESS) {
		/* The DN is config, not secret; the password never shows. */
		snprintf(why, sizeof(why), "bind as the service account "
		    "refused: %s", ldap_err2string(err));
		ldap_failed(nl, why);
		return;
	}
	evtimer_del(nl->ev_timer);
	nl->state = LS_UP;
	nl->bind_msgid = -1;
	nl->backoff = 0;
	if (!nl->was_up)
		log_info("ldap: bound to %s as %s", nl->conf->ldap.uris[nl->uri],
		    nl->conf->ldap.bind_dn);
	nl->was_up = 1;
	ldap_flush_queue(nl);
}

/* Send everything queued (the connection is up). */
static void
ldap_flush_queue(struct ntlm_ldap *nl)
{
	struct ldap_req	*r;

	while (nl->state == LS_UP && (r = TAILQ_FIRST(&nl->queue)) != NULL)
		ldap_send(r);
}

/* Move r from the queue to the wire. */
static void
ldap_send(struct ldap_req *r)
{
	struct ntlm_ldap	*nl = r->nl;
	const struct conf_ldap	*cl = &nl->conf->ldap;
	char			*attrs[2];
	struct timeval		 tv;
	int			 rc;

	req_unlink(r);
	TAILQ_INSERT_TAIL(&nl->sent, r, entry);
	r->list = &nl->sent;
	attrs[0] = cl->hash_attribute;
	attrs[1] = NULL;
	/*
	 * libldap sends tv as the server's time limit (whole seconds, at
	 * least one); our own deadline is r->timer.  sizelimit 2: one entry
	 * is the answer, a second makes it ambiguous.
	 */
	ms_tv(cl->timeout, &tv);
	evtimer_del(r->timer);
	evtimer_add(r->timer, &tv);
	rc = ldap_search_ext(nl->ld, cl->base_dn, LDAP_SCOPE_SUBTREE,
	    r->filter, attrs, 0, NULL, NULL, &tv, 2, &r->msgid);
	if (rc != LDAP_SUCCESS) {
		r->msgid = -1;
		ldap_conn_lost(nl, NULL, rc);
	}
}

/* A search entry for r: count it, and take the hash of the first. */
static void
req_entry(struct ldap_req *r, LDAPMessage *msg)
{
	struct berval	**vals;

	if (++r->nentries > 1)
		return;
	r->why = "no NT hash for this user";
	vals = ldap_get_values_len(r->nl->ld, msg,
	    r->nl->conf->ldap.hash_attribute);
	if (vals == NULL)
		return;
	/* SINGLE-VALUE in samba.schema: more than one is not a hash. */
	if (vals[0] != NULL && vals[1] == NULL &&
	    hex16(vals[0]->bv_val, vals[0]->bv_len, r->hash) == 0)
		r->have_hash = 1;
	if (vals[0] != NULL)
		OPENSSL_cleanse(vals[0]->bv_val, vals[0]->bv_len);
	ldap_value_free_len(vals);
}

/* 32 hex digits (either case) into 16 bytes; 0, or -1. */
static int
hex16(const char *s, size_t len, uint8_t *out)
{
	size_t	i;
	int	hi, lo;

	if (len != 32)
		return -1;
	for (i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')))
			return -1;
	for (i = 0; i < 16; i++) {
		hi = s[2 * i];
		lo = s[2 * i + 1];
		hi = hi <= '9' ? hi - '0' : (hi | 0x20) - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : (lo | 0x20) - 'a' + 10;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/*
 * The filter for one user: the template with %u and %d replaced by the
 * user and domain, escaped as RFC 4515 3 asks (ldap_bv2escaped_filter_
 * value escapes '*', '(', ')', '\', NUL and bytes above 0x7f), so a name
 * like "*)(uid=*" matches nothing but itself.  NULL when too long or out
 * of memory.
 */
static char *
build_filter(const char *tmpl, const char *user, const char *domain)
{
	struct berval	 in, esc[2];
	char		*out;
	const char	*s;
	size_t		 len = 0, n;
	int		 i;

	memset(esc, 0, sizeof(esc));
	for (i = 0; i < 2; i++) {
		in.bv_val = (char *)(uintptr_t)(i == 0 ? user : domain);
		in.bv_len = strlen(in.bv_val);
		if (ldap_bv2escaped_filter_value(&in, &esc[i]) != 0)
			goto fail;
	}
	if ((out = malloc(LDAP_FILTER_MAX)) == NULL)
		goto fail;
	for (s = tmpl; *s != '\0'; s++) {
		if (*s == '%' && (s[1] == 'u' || s[1] == 'd')) {
			i = s[1] == 'u' ? 0 : 1;
			n = esc[i].bv_len;
			if (len + n >= LDAP_FILTER_MAX)
				goto toolong;
			memcpy(out + len, esc[i].bv_val, n);
			len += n;
			s++;
			continue;
		}
		if (*s == '%' && s[1] == '%')
			s++;
		if (len + 1 >= LDAP_FILTER_MAX)
			goto toolong;
		out[len++] = *s;
	}
	out[len] = '\0';
	ber_memfree(esc[0].bv_val);
	ber_memfree(esc[1].bv_val);
	return out;

 toolong:
	free(out);
 fail:
	ber_memfree(esc[0].bv_val);
	ber_memfree(esc[1].bv_val);
	return NULL;
}

/* Take r off whichever list holds it. */
static void
req_unlink(struct ldap_req *r)
{
	if (r->list == NULL)
		return;
	TAILQ_REMOVE(r->list, r, entry);
	if (r->list == &r->nl->queue)
		r->nl->nqueue--;
	r->list = NULL;
}

static void
req_free(struct ldap_req *r)
{
	req_unlink(r);
	if (r->timer != NULL)
		event_free(r->timer);
	free(r->filter);
	OPENSSL_cleanse(r->hash, sizeof(r->hash));
	free(r);
}

/*
 * Answer r and free it.  The result lives on our stack; the hash in it is
 * wiped after the callback.
 */
static void
req_finish(struct ldap_req *r, enum ntlm_backend_status st, const char *why)
{
	struct ntlm_backend_result	 res;
	ntlm_backend_cb			 cb = r->cb;
	void				*arg = r->arg;

	memset(&res, 0, sizeof(res));
	res.status = st;
	res.reason = why;
	if (st == NTLM_BACKEND_HASH)
		memcpy(res.nthash, r->hash, sizeof(res.nthash));
	if (r->msgid != -1 && r->nl->ld != NULL && r->list == &r->nl->sent &&
	    st != NTLM_BACKEND_HASH && st != NTLM_BACKEND_REFUSED)
		ldap_abandon_ext(r->nl->ld, r->msgid, NULL, NULL);
	req_free(r);
	cb(arg, &res);
	OPENSSL_cleanse(&res, sizeof(res));
}

/* backend.h: forget r; its callback never comes. */
static void
req_cancel(struct ntlm_backend_req *b)
{
	struct ldap_req	*r = (struct ldap_req *)b;

	/* RFC 4511 4.11: tell the server to stop working on it. */
	if (r->list == &r->nl->sent && r->msgid != -1 && r->nl->ld != NULL)
		ldap_abandon_ext(r->nl->ld, r->msgid, NULL, NULL);
	req_free(r);
}

/*
 * r's deadline: the directory did not answer in time (or, for a lookup
 * still queued after a failed round, is unreachable).
 */
static void
req_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ldap_req	*r = arg;

	if (r->down != NULL)
		req_finish(r, NTLM_BACKEND_DOWN, r->down);
	else if (r->list == &r->nl->sent)
		req_finish(r, NTLM_BACKEND_DOWN, "directory did not answer in "
		    "time");
	else
		req_finish(r, NTLM_BACKEND_DOWN, "directory unreachable");
}

/*
 * Answer r DOWN from the event loop (its timer, due now), not from the
 * call that found the failure: that call may be ntlm_ldap_lookup()
 * itself, or a loop over the lists.  Its message id is gone with the
 * connection.
 */
static void
req_fail_soon(struct ldap_req *r, const char *why)
{
	struct timeval	tv = { 0, 0 };

	r->msgid = -1;
	r->down = why;
	evtimer_del(r->timer);
	evtimer_add(r->timer, &tv);
}

/*
 * Answer every request on list DOWN.  One at a time from the head: a
 * callback may cancel another request on the same list.
 */
static void
fail_list(struct ntlm_ldap *nl, struct ldap_reqs *list, const char *why)
{
	struct ldap_req	*r;

	while ((r = TAILQ_FIRST(list)) != NULL) {
		r->msgid = -1;
		req_finish(r, NTLM_BACKEND_DOWN, why);
	}
}
