/*
 * The ldap NTLM backend: the user's NT hash from the directory
 * (sambaNTPassword, or the attribute the config names), read with a
 * service account over one persistent connection for the process.
 *
 * Nothing here blocks a worker's event loop: the connection (failover,
 * StartTLS, bind, reconnect with backoff) and the searches are those of
 * dir_conn.c, on the directory thread (groups_dir.c), whose TLS
 * handshakes inside libldap may hold that thread for up to `timeout`.
 * The worker hands each lookup over as a task (struct dir_task, dir.h);
 * the task builds the filter and searches there, and its answer comes
 * back through the worker's inbox (inbox.h), where the callback runs.
 *
 * A request lives in two places in turn.  The worker's side (the
 * struct ntlm_ldap of its config) lists the requests asked and not yet
 * answered: its free answers them NTLM_BACKEND_DOWN (backend.h), and a
 * cancel takes one off; either way the answer, when it comes back, is
 * dropped.  The directory thread's side is the search; the request is
 * freed on the worker once back (or, the worker gone, by its inbox).
 *
 * Failures fail closed: a directory that cannot be reached, refuses our
 * bind, errs or does not answer within `timeout` gives
 * NTLM_BACKEND_DOWN, never a success.
 *
 * Secrets: the bind password lives in the config (conf.c wipes it); the
 * hash is copied into the request, then the result, and wiped in both.
 * Neither is ever logged.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldap.h>
#include <openssl/crypto.h>

#include "backend.h"
#include "dir.h"
#include "inbox.h"
#include "proxy.h"		/* log_*() */

struct ldap_req;
TAILQ_HEAD(ldap_reqs, ldap_req);

/* A worker's: the lookups it asked under one config. */
struct ntlm_ldap {
	struct ldap_reqs	 reqs;		/* asked, not answered */
};

/* One lookup.  base is first: backend.h's cancel contract. */
struct ldap_req {
	struct ntlm_backend_req	 base;
	struct dir_task		 task;		/* to the directory thread */
	struct inbox_item	 back;		/* and back to the worker */

	/* the worker's */
	TAILQ_ENTRY(ldap_req)	 link;		/* on nl->reqs while asked */
	struct ntlm_ldap	*nl;		/* NULL: answered or cancelled */
	ntlm_backend_cb		 cb;
	void			*arg;
	struct inbox		*inbox;		/* the worker's */
	int			 cancelled;	/* atomic: nobody waits */
	char			*user;		/* copies of the query's */
	char			*domain;

	/* the directory thread's, while it searches */
	const struct config	*conf;		/* the connection's */
	struct dir_search	 s;
	char			*filter;
	char			*attrs[2];	/* the hash attribute */
	int			 nentries;
	int			 have_hash;
	const char		*why;		/* the first entry's problem */

	/* the answer, made there and read here */
	enum ntlm_backend_status status;
	const char		*reason;	/* static */
	uint8_t			 hash[16];
};

static void	 req_run(struct dir_task *, struct dir_conn *,
		    const struct config *, const char *);
static void	 req_undelivered(struct dir_task *);
static void	 req_answer(struct ldap_req *, enum ntlm_backend_status,
		    const char *);
static void	 req_entry(struct dir_search *, LDAP *, LDAPMessage *);
static void	 req_done(struct dir_search *, enum dir_status, int,
		    const char *);
static void	 req_back(struct inbox_item *);
static void	 req_lost(struct inbox_item *);
static void	 req_free(struct ldap_req *);
static void	 req_cancel(struct ntlm_backend_req *);
static int	 hex16(const char *, size_t, uint8_t *);

/*
 * The directory thread, for the ldap backend of every worker (main
 * thread; see dir_thread_start() in dir.h).
 */
int
ntlm_ldap_start(const struct config *conf)
{
	return dir_thread_start(conf);
}

void
ntlm_ldap_stop(void)
{
	dir_thread_stop();
}

/*
 * Make the backend of one worker and config: a list of lookups, nothing
 * connected (the directory thread holds the connection).  Returns NULL
 * when out of memory or when conf has no ldap section.
 */
struct ntlm_ldap *
ntlm_ldap_new(const struct config *conf)
{
	struct ntlm_ldap	*nl;

	if (!conf->ldap.enabled || conf->ldap.nuris == 0)
		return NULL;
	if ((nl = calloc(1, sizeof(*nl))) == NULL)
		return NULL;
	TAILQ_INIT(&nl->reqs);
	return nl;
}

/*
 * Free the backend.  What it still had in flight is answered
 * NTLM_BACKEND_DOWN first (auth_worker_reconf replaces the backend with
 * the config; the handshakes fail closed and their clients start
 * again); the directory's answers to them are dropped when they come.
 */
void
ntlm_ldap_free(struct ntlm_ldap *nl)
{
	struct ntlm_backend_result	 res;
	struct ldap_req			*r;

	if (nl == NULL)
		return;
	/* One at a time: a callback may cancel another of the list. */
	while ((r = TAILQ_FIRST(&nl->reqs)) != NULL) {
		TAILQ_REMOVE(&nl->reqs, r, link);
		r->nl = NULL;
		__atomic_store_n(&r->cancelled, 1, __ATOMIC_RELAXED);
		memset(&res, 0, sizeof(res));
		res.status = NTLM_BACKEND_DOWN;
		res.reason = "directory connection closed";
		r->cb(r->arg, &res);
	}
	free(nl);
}

/*
 * Look up the NT hash of q->user (in q->domain) in the directory.  The
 * answer comes to cb on the worker's thread, exactly once, unless the
 * returned request is cancelled first.  Returns NULL when cb has already
 * been called (out of memory, no ldap section, no directory thread).
 */
struct ntlm_backend_req *
ntlm_ldap_lookup(struct auth_worker *aw, const struct ntlm_backend_query *q,
    ntlm_backend_cb cb, void *arg)
{
	struct ntlm_backend_result	 res;
	struct ntlm_ldap		*nl;
	struct ldap_req			*r;
	const char			*why = "directory unreachable";

	if (aw->ldap == NULL)
		aw->ldap = ntlm_ldap_new(aw->conf);
	if ((nl = aw->ldap) == NULL)
		goto fail;
	if (aw->inbox == NULL && (aw->inbox = inbox_new(aw->base)) == NULL) {
		why = "out of memory";
		goto fail;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->user = strdup(q->user)) == NULL ||
	    (r->domain = strdup(q->domain)) == NULL) {
		if (r != NULL)
			req_free(r);
		why = "out of memory";
		goto fail;
	}
	r->base.cancel = req_cancel;
	r->task.run = req_run;
	r->task.discard = req_undelivered;
	r->back.done = req_back;
	r->back.discard = req_lost;
	r->cb = cb;
	r->arg = arg;
	r->inbox = aw->inbox;
	/*
	 * Listed before it goes: its answer may be back in our inbox before
	 * dir_thread_submit() returns (it runs only from our event loop).
	 */
	TAILQ_INSERT_TAIL(&nl->reqs, r, link);
	r->nl = nl;
	if (dir_thread_submit(&r->task, aw->inbox) == -1) {
		TAILQ_REMOVE(&nl->reqs, r, link);
		req_free(r);
		why = "directory unreachable (no directory thread)";
		goto fail;
	}
	return &r->base;

 fail:
	memset(&res, 0, sizeof(res));
	res.status = NTLM_BACKEND_DOWN;
	res.reason = why;
	cb(arg, &res);
	return NULL;
}

/*
 * The directory thread: search for r on dc, made from conf (NULL: no
 * connection, why says why).  The filter comes from the connection's
 * config: %u %d %p %m, escaped (RFC 4515), so "*)(uid=*" matches
 * itself only.
 */
static void
req_run(struct dir_task *t, struct dir_conn *dc, const struct config *conf,
    const char *why)
{
	struct ldap_req		*r = (struct ldap_req *)((char *)t -
				    offsetof(struct ldap_req, task));
	struct dir_names	 names;

	if (dc == NULL) {
		req_answer(r, NTLM_BACKEND_DOWN, why);
		return;
	}
	/* Nobody waits (cancelled, or its backend freed): no search. */
	if (__atomic_load_n(&r->cancelled, __ATOMIC_RELAXED)) {
		req_answer(r, NTLM_BACKEND_DOWN, "cancelled");
		return;
	}
	r->conf = conf;
	if (dir_names_split(r->user, r->domain, conf, &names) == -1 ||
	    (r->filter = dir_filter_build(conf->ldap.user_filter,
	    &names)) == NULL) {
		req_answer(r, NTLM_BACKEND_DOWN, "cannot build the directory "
		    "search");
		return;
	}
	r->attrs[0] = conf->ldap.hash_attribute;
	r->attrs[1] = NULL;
	r->s.base = conf->ldap.base_dn;
	r->s.scope = LDAP_SCOPE_SUBTREE;
	r->s.filter = r->filter;
	r->s.attrs = r->attrs;
	/* One entry is the answer, a second makes it ambiguous. */
	r->s.sizelimit = 2;
	r->s.entry = req_entry;
	r->s.done = req_done;
	if (dir_search_start(dc, &r->s) == -1)
		req_answer(r, NTLM_BACKEND_DOWN, "directory unreachable (too "
		    "many lookups waiting)");
}

/*
 * The directory thread is gone (any thread): r never ran; it goes back
 * DOWN.
 */
static void
req_undelivered(struct dir_task *t)
{
	struct ldap_req	*r = (struct ldap_req *)((char *)t -
			    offsetof(struct ldap_req, task));

	r->status = NTLM_BACKEND_DOWN;
	r->reason = "directory unreachable (directory thread stopped)";
	inbox_post(r->inbox, &r->back);
}

/*
 * The directory thread: r's answer is made (the hash, if any, is in
 * r->hash); let go of the connection and send r back to its worker.
 */
static void
req_answer(struct ldap_req *r, enum ntlm_backend_status st, const char *why)
{
	r->status = st;
	r->reason = why;
	r->conf = NULL;
	free(r->filter);
	r->filter = NULL;
	dir_task_end(&r->task);
	inbox_post(r->inbox, &r->back);
}

/* A search entry for r: count it, and take the hash of the first. */
static void
req_entry(struct dir_search *s, LDAP *ld, LDAPMessage *msg)
{
	struct ldap_req	*r = (struct ldap_req *)((char *)s -
			    offsetof(struct ldap_req, s));
	struct berval	**vals;

	if (++r->nentries > 1)
		return;
	r->why = "no NT hash for this user";
	vals = ldap_get_values_len(ld, msg, r->conf->ldap.hash_attribute);
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

/* The directory thread: the search ended; r's answer goes back. */
static void
req_done(struct dir_search *s, enum dir_status st, int err, const char *why)
{
	struct ldap_req	*r = (struct ldap_req *)((char *)s -
			    offsetof(struct ldap_req, s));

	if (st == DIR_DOWN)
		req_answer(r, NTLM_BACKEND_DOWN, why);
	else if (r->nentries > 1 || (err == LDAP_SIZELIMIT_EXCEEDED &&
	    r->nentries > 0))
		req_answer(r, NTLM_BACKEND_REFUSED, "ambiguous user");
	else if (err != LDAP_SUCCESS) {
		log_warnx("ldap: search under %s failed: %s",
		    r->conf->ldap.base_dn, ldap_err2string(err));
		req_answer(r, NTLM_BACKEND_DOWN, "directory search failed");
	} else if (r->nentries == 0)
		req_answer(r, NTLM_BACKEND_REFUSED, "unknown user");
	else if (!r->have_hash)
		req_answer(r, NTLM_BACKEND_REFUSED, r->why);
	else
		req_answer(r, NTLM_BACKEND_HASH, NULL);
}

/*
 * The worker's thread: r is back.  Unless its backend answered it
 * already or it was cancelled, its callback gets the answer; the result
 * lives on our stack and the hash in it is wiped after the callback.
 */
static void
req_back(struct inbox_item *it)
{
	struct ldap_req			*r = (struct ldap_req *)((char *)it -
					    offsetof(struct ldap_req, back));
	struct ntlm_backend_result	 res;
	ntlm_backend_cb			 cb = r->cb;
	void				*arg = r->arg;

	if (r->nl == NULL) {
		req_free(r);
		return;
	}
	TAILQ_REMOVE(&r->nl->reqs, r, link);
	r->nl = NULL;
	memset(&res, 0, sizeof(res));
	res.status = r->status;
	res.reason = r->reason;
	if (r->status == NTLM_BACKEND_HASH)
		memcpy(res.nthash, r->hash, sizeof(res.nthash));
	req_free(r);
	cb(arg, &res);
	OPENSSL_cleanse(&res, sizeof(res));
}

/* The worker is gone (any thread): nobody to tell. */
static void
req_lost(struct inbox_item *it)
{
	req_free((struct ldap_req *)((char *)it -
	    offsetof(struct ldap_req, back)));
}

static void
req_free(struct ldap_req *r)
{
	free(r->filter);
	free(r->user);
	free(r->domain);
	OPENSSL_cleanse(r->hash, sizeof(r->hash));
	free(r);
}

/*
 * backend.h: forget r; its callback never comes.  The request itself is
 * the directory thread's until it is back, and freed then.
 */
static void
req_cancel(struct ntlm_backend_req *b)
{
	struct ldap_req	*r = (struct ldap_req *)b;

	if (r->nl != NULL) {
		TAILQ_REMOVE(&r->nl->reqs, r, link);
		r->nl = NULL;
	}
	__atomic_store_n(&r->cancelled, 1, __ATOMIC_RELAXED);
}
