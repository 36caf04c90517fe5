/*
 * The group cache: one table for every worker, under one mutex; see
 * groups.h for who owns what.
 *
 * A lookup that finds a fresh answer is a hit: a hash, a compare, a move
 * to the head of the LRU list and an atomic reference, all under the
 * lock and with no allocation.  A miss queues the worker's waiter on the
 * user's fetch, making the fetch when there is none yet, so that any
 * number of concurrent misses for one user cost one directory search
 * (coalescing).  An answer in use is searched again refresh_ahead before
 * it expires, without anyone waiting for it.  When a search fails (the
 * directory is down), the last answer still serves for up to stale_ttl
 * after it was fetched (stale-if-error), and only a user with no answer
 * at all gets none.  The table holds at most `max` users; the least
 * recently used goes first.  Times come from the caller (microseconds
 * of a monotonic clock), so that tests can drive the clock.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "groups.h"
#include "proxy.h"		/* hash_bytes() */

#define GCACHE_MIN_BUCKETS	1024
#define GCACHE_MAX_BUCKETS	(1u << 24)
#define GCACHE_STALE_LOG_US	(60 * 1000000LL)	/* say "stale" once */

struct gentry {
	struct gentry		*hnext;		/* bucket chain */
	TAILQ_ENTRY(gentry)	 lru;		/* head: most recent */
	uint32_t		 hash;
	char			*key;
	size_t			 keylen;
	struct auth_groups	*groups;	/* last answer, or NULL */
	int64_t			 fetched;	/* when groups came */
	int64_t			 stale_logged;	/* when "stale" was said */
	struct gfetch		*fetch;		/* running, or NULL */
};

struct gcache {
	pthread_mutex_t		 lock;
	struct gentry		**buckets;
	size_t			 nbuckets;	/* a power of two */
	size_t			 n;
	size_t			 max;
	size_t			 nfetches;
	TAILQ_HEAD(gentry_list, gentry) lru;
	struct gcache_stats	 st;
};

int
gcache_key(const char *user, char *key, size_t *keylen)
{
	size_t	i;

	for (i = 0; user[i] != '\0'; i++) {
		if (i + 1 >= GROUPS_KEY_MAX)
			return -1;
		key[i] = user[i] >= 'A' && user[i] <= 'Z' ? user[i] + 32 :
		    user[i];
	}
	key[i] = '\0';
	*keylen = i;
	return i > 0 ? 0 : -1;
}

struct gcache *
gcache_new(size_t max)
{
	struct gcache	*gc;

	if ((gc = calloc(1, sizeof(*gc))) == NULL)
		return NULL;
	gc->nbuckets = GCACHE_MIN_BUCKETS;
	if ((gc->buckets = calloc(gc->nbuckets, sizeof(*gc->buckets))) ==
	    NULL) {
		free(gc);
		return NULL;
	}
	gc->max = max > 0 ? max : 1;
	TAILQ_INIT(&gc->lru);
	pthread_mutex_init(&gc->lock, NULL);
	return gc;
}

/* Unlink e from the table and free it (the lock is held). */
static void
gentry_remove(struct gcache *gc, struct gentry *e)
{
	struct gentry	**pp;

	for (pp = &gc->buckets[e->hash & (gc->nbuckets - 1)]; *pp != e;
	    pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	TAILQ_REMOVE(&gc->lru, e, lru);
	gc->n--;
	/* A search still running answers its waiters, keeps nothing. */
	if (e->fetch != NULL)
		e->fetch->entry = NULL;
	auth_groups_unref(e->groups);
	free(e->key);
	free(e);
}

void
gcache_free(struct gcache *gc)
{
	struct gentry	*e;

	if (gc == NULL)
		return;
	while ((e = TAILQ_FIRST(&gc->lru)) != NULL)
		gentry_remove(gc, e);
	pthread_mutex_destroy(&gc->lock);
	free(gc->buckets);
	free(gc);
}

void
gcache_set_max(struct gcache *gc, size_t max)
{
	pthread_mutex_lock(&gc->lock);
	gc->max = max > 0 ? max : 1;
	while (gc->n > gc->max) {
		gentry_remove(gc, TAILQ_LAST(&gc->lru, gentry_list));
		gc->st.evictions++;
	}
	pthread_mutex_unlock(&gc->lock);
}

static struct gentry *
gentry_find(struct gcache *gc, const char *key, size_t keylen, uint32_t h)
{
	struct gentry	*e;

	for (e = gc->buckets[h & (gc->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && e->keylen == keylen &&
		    memcmp(e->key, key, keylen) == 0)
			return e;
	return NULL;
}

/* Twice the buckets when the table is as full as it is wide. */
static void
gcache_grow(struct gcache *gc)
{
	struct gentry	**nb, *e, *next;
	size_t		 i, nn = gc->nbuckets * 2;

	if (gc->n < gc->nbuckets || nn > GCACHE_MAX_BUCKETS ||
	    (nb = calloc(nn, sizeof(*nb))) == NULL)
		return;		/* longer chains, never wrong answers */
	for (i = 0; i < gc->nbuckets; i++)
		for (e = gc->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			e->hnext = nb[e->hash & (nn - 1)];
			nb[e->hash & (nn - 1)] = e;
		}
	free(gc->buckets);
	gc->buckets = nb;
	gc->nbuckets = nn;
}

/* A new entry for key at the head, making room first (lock held). */
static struct gentry *
gentry_new(struct gcache *gc, const char *key, size_t keylen, uint32_t h)
{
	struct gentry	*e;

	while (gc->n >= gc->max && !TAILQ_EMPTY(&gc->lru)) {
		gentry_remove(gc, TAILQ_LAST(&gc->lru, gentry_list));
		gc->st.evictions++;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	if ((e->key = malloc(keylen + 1)) == NULL) {
		free(e);
		return NULL;
	}
	memcpy(e->key, key, keylen);
	e->key[keylen] = '\0';
	e->keylen = keylen;
	e->hash = h;
	e->stale_logged = INT64_MIN / 2;
	gcache_grow(gc);
	e->hnext = gc->buckets[h & (gc->nbuckets - 1)];
	gc->buckets[h & (gc->nbuckets - 1)] = e;
	TAILQ_INSERT_HEAD(&gc->lru, e, lru);
	gc->n++;
	return e;
}

/* A fetch for e (lock held); NULL when out of memory. */
static struct gfetch *
gfetch_new(struct gcache *gc, struct gentry *e, int64_t now, int refresh)
{
	struct gfetch	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if ((f->key = malloc(e->keylen + 1)) == NULL) {
		free(f);
		return NULL;
	}
	memcpy(f->key, e->key, e->keylen + 1);
	f->keylen = e->keylen;
	f->gc = gc;
	f->entry = e;
	f->refresh = refresh;
	f->started = now;
	TAILQ_INIT(&f->waiters);
	e->fetch = f;
	gc->nfetches++;
	return f;
}

int
gcache_lookup(struct gcache *gc, const char *key, size_t keylen, int64_t now,
    const struct gcache_ttl *t, struct auth_groups **gp,
    enum auth_groups_source *src, struct gwaiter *w, struct gfetch **fetchp)
{
	struct gentry	*e;
	int64_t		 ttl, age;
	uint32_t	 h = hash_bytes(key, keylen);

	*fetchp = NULL;
	pthread_mutex_lock(&gc->lock);
	e = gentry_find(gc, key, keylen, h);
	if (e != NULL && e->groups != NULL) {
		ttl = e->groups->found ? t->ttl : t->negative_ttl;
		age = now - e->fetched;
		if (age < ttl) {
			if (TAILQ_FIRST(&gc->lru) != e) {
				TAILQ_REMOVE(&gc->lru, e, lru);
				TAILQ_INSERT_HEAD(&gc->lru, e, lru);
			}
			*gp = auth_groups_ref(e->groups);
			*src = AUTH_GROUPS_LDAP;
			gc->st.lookups++;
			gc->st.hits++;
			/*
			 * Refresh-ahead: in its last refresh_ahead seconds
			 * (but never in the first half of its life), a used
			 * answer is searched again, so that busy users never
			 * wait for an expiry.
			 */
			if (e->fetch == NULL && t->refresh_ahead > 0 &&
			    age >= ttl - t->refresh_ahead && age >= ttl / 2 &&
			    (*fetchp = gfetch_new(gc, e, now, 1)) != NULL)
				gc->st.refreshes++;
			pthread_mutex_unlock(&gc->lock);
			return GC_HIT;
		}
	}
	if (w == NULL) {
		pthread_mutex_unlock(&gc->lock);
		return GC_MISS;
	}
	if (e == NULL && (e = gentry_new(gc, key, keylen, h)) == NULL)
		goto nomem;
	if (e->fetch != NULL)
		gc->st.coalesced++;
	else if ((*fetchp = gfetch_new(gc, e, now, 0)) == NULL) {
		if (e->groups == NULL)
			gentry_remove(gc, e);
		goto nomem;
	}
	w->state = GW_WAITING;
	w->fetch = e->fetch;
	TAILQ_INSERT_TAIL(&e->fetch->waiters, w, link);
	gc->st.lookups++;
	gc->st.misses++;
	pthread_mutex_unlock(&gc->lock);
	return GC_QUEUED;

 nomem:
	pthread_mutex_unlock(&gc->lock);
	return -1;
}

/* The log2 bucket of a latency in microseconds. */
static int
lat_bucket(uint64_t us)
{
	int	b = 0;

	while (us > 1 && b < GCACHE_LAT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

void
gcache_complete(struct gcache *gc, struct gfetch *f,
    struct auth_groups *groups, int64_t now, int64_t stale_ttl,
    struct gwaiters *out, long *stale_age)
{
	struct gentry	*e;
	struct gwaiter	*w;
	uint64_t	 lat;
	int		 stale = 0;

	*stale_age = -1;
	pthread_mutex_lock(&gc->lock);
	e = f->entry;
	if (e != NULL)
		e->fetch = NULL;
	gc->nfetches--;
	gc->st.searches++;
	lat = now > f->started ? (uint64_t)(now - f->started) : 0;
	gc->st.lat_count++;
	gc->st.lat_sum += lat;
	if (lat > gc->st.lat_max)
		gc->st.lat_max = lat;
	gc->st.lat_hist[lat_bucket(lat)]++;
	if (groups != NULL) {
		if (!groups->found)
			gc->st.not_found++;
		if (e != NULL) {
			auth_groups_unref(e->groups);
			e->groups = auth_groups_ref(groups);
			e->fetched = now;
		}
	} else
		gc->st.errors++;
	while ((w = TAILQ_FIRST(&f->waiters)) != NULL) {
		TAILQ_REMOVE(&f->waiters, w, link);
		w->state = GW_TAKEN;
		w->fetch = NULL;
		if (groups != NULL) {
			w->groups = auth_groups_ref(groups);
			w->source = AUTH_GROUPS_LDAP;
		} else if (e != NULL && e->groups != NULL &&
		    now - e->fetched < stale_ttl) {
			/* Stale-if-error: the directory cannot answer. */
			w->groups = auth_groups_ref(e->groups);
			w->source = AUTH_GROUPS_STALE;
			gc->st.stale++;
			stale = 1;
		} else {
			w->groups = NULL;
			w->source = AUTH_GROUPS_NONE;
			gc->st.failures++;
		}
		TAILQ_INSERT_TAIL(out, w, link);
	}
	if (stale && now - e->stale_logged >= GCACHE_STALE_LOG_US) {
		e->stale_logged = now;
		*stale_age = (long)((now - e->fetched) / 1000000);
	}
	/* Nothing to keep for a user the directory never answered for. */
	if (groups == NULL && e != NULL && e->groups == NULL)
		gentry_remove(gc, e);
	pthread_mutex_unlock(&gc->lock);
	auth_groups_unref(groups);	/* the caller's; the entry has its own */
	free(f->key);
	free(f);
}

int
gcache_cancel(struct gcache *gc, struct gwaiter *w)
{
	int	mine = 0;

	pthread_mutex_lock(&gc->lock);
	if (w->state == GW_WAITING) {
		TAILQ_REMOVE(&w->fetch->waiters, w, link);
		w->fetch = NULL;
		w->state = GW_NEW;
		mine = 1;
	}
	pthread_mutex_unlock(&gc->lock);
	return mine;
}

/* The user part of a key: after '\', else before the last '@'. */
static void
key_user(const char *key, size_t len, const char **u, size_t *ulen)
{
	const char	*bs = memchr(key, '\\', len), *at;

	if (bs != NULL) {
		*u = bs + 1;
		*ulen = len - (size_t)(bs + 1 - key);
		return;
	}
	for (at = key + len; at > key && at[-1] != '@'; at--)
		;
	*u = key;
	*ulen = at > key ? (size_t)(at - 1 - key) : len;
}

size_t
gcache_purge(struct gcache *gc, const char *user)
{
	struct gentry	*e, *next;
	char		 key[GROUPS_KEY_MAX];
	const char	*eu;
	size_t		 keylen, eulen, n = 0;
	int		 all, bare;

	all = strcmp(user, "*") == 0;
	if (!all && gcache_key(user, key, &keylen) == -1)
		return 0;
	bare = !all && memchr(key, '\\', keylen) == NULL &&
	    memchr(key, '@', keylen) == NULL;
	pthread_mutex_lock(&gc->lock);
	for (e = TAILQ_FIRST(&gc->lru); e != NULL; e = next) {
		next = TAILQ_NEXT(e, lru);
		if (!all && !(e->keylen == keylen &&
		    memcmp(e->key, key, keylen) == 0)) {
			if (!bare)
				continue;
			key_user(e->key, e->keylen, &eu, &eulen);
			if (eulen != keylen || memcmp(eu, key, keylen) != 0)
				continue;
		}
		gentry_remove(gc, e);
		gc->st.purged++;
		n++;
	}
	pthread_mutex_unlock(&gc->lock);
	return n;
}

void
gcache_stats(struct gcache *gc, struct gcache_stats *st, size_t *entries,
    size_t *fetches)
{
	pthread_mutex_lock(&gc->lock);
	*st = gc->st;
	*entries = gc->n;
	*fetches = gc->nfetches;
	pthread_mutex_unlock(&gc->lock);
}
