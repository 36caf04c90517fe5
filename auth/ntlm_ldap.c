/*
 * The ldap NTLM backend: the user's NT hash from the directory
 * (sambaNTPassword, or the attribute the config names), read with a
 * service account over one persistent connection per worker.
 *
 * Nothing here blocks the worker's event loop: the connection (failover,
 * StartTLS, bind, reconnect with backoff) and the searches are those of
 * dir_conn.c, on the worker's event_base.
 *
 * Failures fail closed: a directory that cannot be reached, refuses our
 * bind, errs or does not answer within `timeout` gives
 * NTLM_BACKEND_DOWN, never a success.
 *
 * Secrets: the bind password lives in the config (conf.c wipes it); the
 * hash is copied into the result and wiped here.  Neither is ever
 * logged.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldap.h>
#include <openssl/crypto.h>

#include "backend.h"
#include "dir.h"
#include "proxy.h"		/* log_*() */

struct ntlm_ldap {
	const struct config	*conf;		/* the worker holds the ref */
	struct dir_conn		*dc;
	char			*attrs[2];	/* the hash attribute */
};

/* One lookup.  base is first: backend.h's cancel contract. */
struct ldap_req {
	struct ntlm_backend_req	 base;
	struct dir_search	 s;
	struct ntlm_ldap	*nl;
	char			*filter;
	ntlm_backend_cb		 cb;
	void			*arg;
	int			 nentries;
	int			 have_hash;
	uint8_t			 hash[16];
	const char		*why;		/* the first entry's problem */
};

static void	 req_entry(struct dir_search *, LDAP *, LDAPMessage *);
static void	 req_done(struct dir_search *, enum dir_status, int,
		    const char *);
static void	 req_free(struct ldap_req *);
static void	 req_cancel(struct ntlm_backend_req *);
static int	 hex16(const char *, size_t, uint8_t *);

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
	if ((nl = calloc(1, sizeof(*nl))) == NULL)
		return NULL;
	nl->conf = conf;
	nl->attrs[0] = conf->ldap.hash_attribute;
	nl->attrs[1] = NULL;
	if ((nl->dc = dir_conn_new(base, &conf->ldap, "ldap",
	    "sign-in by ldap fails")) == NULL) {
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
	dir_conn_free(nl->dc);
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
	struct dir_names		 names;
	const char			*why = "directory unreachable";

	if (aw->ldap == NULL)
		aw->ldap = ntlm_ldap_new(aw->base, aw->conf);
	if ((nl = aw->ldap) == NULL)
		goto fail;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		why = "out of memory";
		goto fail;
	}
	r->base.cancel = req_cancel;
	r->nl = nl;
	r->cb = cb;
	r->arg = arg;
	/* %u %d %p %m, escaped (RFC 4515): "*)(uid=*" matches itself only. */
	if (dir_names_split(q->user, q->domain, nl->conf, &names) == -1 ||
	    (r->filter = dir_filter_build(nl->conf->ldap.user_filter,
	    &names)) == NULL) {
		free(r);
		why = "cannot build the directory search";
		goto fail;
	}
	r->s.base = nl->conf->ldap.base_dn;
	r->s.scope = LDAP_SCOPE_SUBTREE;
	r->s.filter = r->filter;
	r->s.attrs = nl->attrs;
	/* One entry is the answer, a second makes it ambiguous. */
	r->s.sizelimit = 2;
	r->s.entry = req_entry;
	r->s.done = req_done;
	if (dir_search_start(nl->dc, &r->s) == -1) {
		free(r->filter);
		free(r);
		why = "directory unreachable (too many lookups waiting)";
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
	vals = ldap_get_values_len(ld, msg, r->nl->conf->ldap.hash_attribute);
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
 * The search ended: answer r and free it.  The result lives on our
 * stack; the hash in it is wiped after the callback.
 */
static void
req_done(struct dir_search *s, enum dir_status st, int err, const char *why)
{
	struct ldap_req			*r = (struct ldap_req *)((char *)s -
					    offsetof(struct ldap_req, s));
	struct ntlm_backend_result	 res;
	ntlm_backend_cb			 cb = r->cb;
	void				*arg = r->arg;

	memset(&res, 0, sizeof(res));
	if (st == DIR_DOWN) {
		res.status = NTLM_BACKEND_DOWN;
		res.reason = why;
	} else if (r->nentries > 1 || (err == LDAP_SIZELIMIT_EXCEEDED &&
	    r->nentries > 0)) {
		res.status = NTLM_BACKEND_REFUSED;
		res.reason = "ambiguous user";
	} else if (err != LDAP_SUCCESS) {
		log_warnx("ldap: search under %s failed: %s",
		    r->nl->conf->ldap.base_dn, ldap_err2string(err));
		res.status = NTLM_BACKEND_DOWN;
		res.reason = "directory search failed";
	} else if (r->nentries == 0) {
		res.status = NTLM_BACKEND_REFUSED;
		res.reason = "unknown user";
	} else if (!r->have_hash) {
		res.status = NTLM_BACKEND_REFUSED;
		res.reason = r->why;
	} else {
		res.status = NTLM_BACKEND_HASH;
		memcpy(res.nthash, r->hash, sizeof(res.nthash));
	}
	req_free(r);
	cb(arg, &res);
	OPENSSL_cleanse(&res, sizeof(res));
}

static void
req_free(struct ldap_req *r)
{
	free(r->filter);
	OPENSSL_cleanse(r->hash, sizeof(r->hash));
	free(r);
}

/* backend.h: forget r; its callback never comes. */
static void
req_cancel(struct ntlm_backend_req *b)
{
	struct ldap_req	*r = (struct ldap_req *)b;

	dir_search_cancel(&r->s);
	req_free(r);
}
