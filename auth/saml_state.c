/*
 * The SAML state that outlives a request and any config: the outstanding
 * AuthnRequests (RelayState token -> request ID, return URL, client
 * address, expiry) and the replay cache of assertion IDs.
 *
 * Both are process-wide tables shared by every worker, each under one
 * mutex held only for a hash lookup or insert (no I/O, no lasso), bounded
 * and purged by time.  Keys are compared in constant time once a bucket
 * is found: a RelayState token is a bearer secret until it is used.
 *
 * Why a request is taken once: the Web Browser SSO profile (SAML profiles
 * 4.1.4.5) wants the SP to refuse a second use of an assertion; tying
 * each Response to a request that can be answered once also makes an
 * unsolicited or replayed Response fail before the replay cache is even
 * asked.  The replay cache keeps an ID at least as long as the assertion
 * could be presented again (its NotOnOrAfter plus the skew) and at least
 * as long as the session it started (session_max): an assertion replayed
 * after its session ended would otherwise start a new one.
 */
#include "config.h"

#include <sys/queue.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "saml.h"

#define STATE_BUCKETS_REQ	16384
#define STATE_BUCKETS_REPLAY	65536
#define STATE_PURGE_STEP	64	/* expired entries dropped per add */

struct st_entry {
	struct st_entry		*hnext;
	TAILQ_ENTRY(st_entry)	 order;	/* insertion order */
	uint32_t		 hash;
	time_t			 expires;
	size_t			 keylen;
	char			*key;
	char			*id;		/* requests: the request ID */
	char			*url;		/* requests: the return URL */
	char			*client;	/* requests: the client address,
						   or NULL */
};

struct st_table {
	pthread_mutex_t		 mtx;
	struct st_entry		**buckets;	/* allocated on first use */
	size_t			 nbuckets;	/* a power of two */
	size_t			 count;
	size_t			 max;
	size_t			 defmax;
	TAILQ_HEAD(, st_entry)	 order;
};

static struct st_table st_req = {
	PTHREAD_MUTEX_INITIALIZER, NULL, STATE_BUCKETS_REQ, 0,
	SAML_REQUESTS_MAX, SAML_REQUESTS_MAX,
	TAILQ_HEAD_INITIALIZER(st_req.order)
};
static struct st_table st_replay = {
	PTHREAD_MUTEX_INITIALIZER, NULL, STATE_BUCKETS_REPLAY, 0,
	SAML_REPLAY_MAX, SAML_REPLAY_MAX,
	TAILQ_HEAD_INITIALIZER(st_replay.order)
};

static pthread_once_t	 st_seed_once = PTHREAD_ONCE_INIT;
static uint32_t		 st_seed;

static void
st_seed_init(void)
{
	/* Only spreads buckets; a failed RAND_bytes leaves a fixed seed. */
	if (RAND_bytes((unsigned char *)&st_seed, sizeof(st_seed)) != 1)
		st_seed = 0x5a17a5e5u;
}

/* FNV-1a, seeded per process: bucket spreading, not a MAC. */
static uint32_t
st_hash(const char *key, size_t len)
{
	uint32_t	h = 2166136261u ^ st_seed;

	while (len-- > 0)
		h = (h ^ (unsigned char)*key++) * 16777619u;
	return (h);
}

static void
st_entry_free(struct st_entry *e)
{
	if (e == NULL)
		return;
	if (e->key != NULL) {
		explicit_bzero(e->key, e->keylen);
		free(e->key);
	}
	free(e->id);
	free(e->url);
	free(e->client);
	free(e);
}

/* Unlink e from its bucket and the order list, and free it. */
static void
st_remove(struct st_table *t, struct st_entry *e)
{
	struct st_entry	**pp;

	for (pp = &t->buckets[e->hash & (t->nbuckets - 1)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	TAILQ_REMOVE(&t->order, e, order);
	t->count--;
	st_entry_free(e);
}

/*
 * Drop expired entries: from the oldest, at most step of them (the
 * request table's expiries grow with insertion order), or every one in
 * the table when all is set (when it is full).
 */
static void
st_purge(struct st_table *t, time_t now, size_t step, int all)
{
	struct st_entry	*e, *next;
	size_t		 n = 0;

	for (e = TAILQ_FIRST(&t->order); e != NULL; e = next) {
		next = TAILQ_NEXT(e, order);
		if (e->expires <= now)
			st_remove(t, e);
		else if (!all)
			break;
		if (!all && ++n >= step)
			break;
	}
}

/* The entry of key, or NULL.  Called locked. */
static struct st_entry *
st_find(struct st_table *t, const char *key, size_t len, uint32_t h)
{
	struct st_entry	*e;

	if (t->buckets == NULL)
		return (NULL);
	for (e = t->buckets[h & (t->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && e->keylen == len &&
		    CRYPTO_memcmp(e->key, key, len) == 0)
			return (e);
	return (NULL);
}

/* Insert e (key and hash set).  Called locked; 0 or -1. */
static int
st_insert(struct st_table *t, struct st_entry *e)
{
	size_t	b;

	if (t->buckets == NULL && (t->buckets = calloc(t->nbuckets,
	    sizeof(*t->buckets))) == NULL)
		return (-1);
	b = e->hash & (t->nbuckets - 1);
	e->hnext = t->buckets[b];
	t->buckets[b] = e;
	TAILQ_INSERT_TAIL(&t->order, e, order);
	t->count++;
	return (0);
}

int
saml_state_request_add(const char *token, const char *request_id,
    const char *return_url, const char *client, time_t expires, time_t now)
{
	struct st_table	*t = &st_req;
	struct st_entry	*e;
	int		 rc = -1;

	pthread_once(&st_seed_once, st_seed_init);
	if (client != NULL && strlen(client) >= SAML_CLIENT_MAX)
		return (-1);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (-1);
	e->keylen = strlen(token);
	e->hash = st_hash(token, e->keylen);
	e->expires = expires;
	if ((e->key = strdup(token)) == NULL ||
	    (e->id = strdup(request_id)) == NULL ||
	    (e->url = strdup(return_url)) == NULL ||
	    (client != NULL && (e->client = strdup(client)) == NULL)) {
		st_entry_free(e);
		return (-1);
	}
	pthread_mutex_lock(&t->mtx);
	st_purge(t, now, STATE_PURGE_STEP, 0);
	if (t->count >= t->max)
		st_purge(t, now, 0, 1);
	/* Still full: the oldest request gives way (see saml.h). */
	while (t->count >= t->max && !TAILQ_EMPTY(&t->order))
		st_remove(t, TAILQ_FIRST(&t->order));
	if (st_find(t, e->key, e->keylen, e->hash) == NULL &&
	    st_insert(t, e) == 0) {
		e = NULL;
		rc = 0;
	}
	pthread_mutex_unlock(&t->mtx);
	st_entry_free(e);
	return (rc);
}

int
saml_state_request_take(const char *token, time_t now, char *request_id,
    size_t idlen, char *return_url, size_t urllen, char *client,
    size_t clientlen)
{
	struct st_table	*t = &st_req;
	struct st_entry	*e;
	const char	*cl;
	size_t		 len = strlen(token);
	uint32_t	 h;
	int		 rc = -1;

	pthread_once(&st_seed_once, st_seed_init);
	h = st_hash(token, len);
	pthread_mutex_lock(&t->mtx);
	if ((e = st_find(t, token, len, h)) != NULL) {
		cl = e->client != NULL ? e->client : "";
		if (e->expires > now && strlen(e->id) < idlen &&
		    strlen(e->url) < urllen && strlen(cl) < clientlen) {
			memcpy(request_id, e->id, strlen(e->id) + 1);
			memcpy(return_url, e->url, strlen(e->url) + 1);
			memcpy(client, cl, strlen(cl) + 1);
			rc = 0;
		}
		/* Found is used up, whatever came of it. */
		st_remove(t, e);
	}
	pthread_mutex_unlock(&t->mtx);
	return (rc);
}

int
saml_replay_add(const char *assertion_id, time_t keep_until, time_t now)
{
	struct st_table	*t = &st_replay;
	struct st_entry	*e;
	int		 rc;

	pthread_once(&st_seed_once, st_seed_init);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (-1);
	e->keylen = strlen(assertion_id);
	e->hash = st_hash(assertion_id, e->keylen);
	e->expires = keep_until;
	if ((e->key = strdup(assertion_id)) == NULL) {
		st_entry_free(e);
		return (-1);
	}
	pthread_mutex_lock(&t->mtx);
	st_purge(t, now, STATE_PURGE_STEP, 0);
	if (st_find(t, e->key, e->keylen, e->hash) != NULL)
		rc = 1;
	else {
		if (t->count >= t->max)
			st_purge(t, now, 0, 1);
		/*
		 * Full of live IDs: forgetting one would let its assertion
		 * be replayed, so refuse the sign-in instead (fail closed).
		 */
		if (t->count >= t->max || st_insert(t, e) == -1)
			rc = -1;
		else {
			e = NULL;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&t->mtx);
	st_entry_free(e);
	return (rc);
}

static void
st_reset(struct st_table *t, size_t max)
{
	pthread_mutex_lock(&t->mtx);
	while (!TAILQ_EMPTY(&t->order))
		st_remove(t, TAILQ_FIRST(&t->order));
	t->max = max > 0 ? max : t->defmax;
	pthread_mutex_unlock(&t->mtx);
}

void
saml_state_reset(size_t max_requests, size_t max_replay)
{
	st_reset(&st_req, max_requests);
	st_reset(&st_replay, max_replay);
}

void
saml_state_counts(size_t *requests, size_t *replay)
{
	pthread_mutex_lock(&st_req.mtx);
	*requests = st_req.count;
	pthread_mutex_unlock(&st_req.mtx);
	pthread_mutex_lock(&st_replay.mtx);
	*replay = st_replay.count;
	pthread_mutex_unlock(&st_replay.mtx);
}
