/*
 * The group cache and the directory thread.  Internal to auth/: other
 * folders use auth.h (auth_groups_*).
 *
 * Who owns what:
 *  - struct auth_groups (groups.c) is immutable once made and reference
 *    counted with atomics: any thread may hold and read one.
 *  - The cache (groups_cache.c) is one for the process, shared by every
 *    worker, under one mutex (gc->lock) that guards the entries, the LRU
 *    list, the fetches' waiter lists, entry<->fetch links and the
 *    counters; nothing is done under it but table work and malloc.
 *  - A fetch (one search for one user) is made under the lock by the
 *    worker whose lookup missed, handed to the directory thread through
 *    its inbox, and finished there (gcache_complete); its waiters are then
 *    posted back to the inboxes of the workers that wait.
 *  - A waiter belongs to its worker until it is queued on a fetch, to the
 *    cache while queued, to the finishing thread until posted, and to its
 *    worker again when done() runs there.
 */
#ifndef IAPROXY_AUTH_GROUPS_H
#define IAPROXY_AUTH_GROUPS_H

#include <sys/queue.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "inbox.h"
#include "state.h"

#define GROUPS_KEY_MAX	640	/* bytes of a normalised user name */

/* groups.c: the immutable group list. */
struct auth_group {
	const char	*cn;	/* the group's cn (or its RDN value) */
	const char	*dn;	/* normalised (ldap_dn_normalize) */
};

struct auth_groups {
	int		 refs;		/* atomic */
	int		 found;		/* the user is in the directory */
	size_t		 n;
	struct auth_group g[];		/* then the strings */
};

/*
 * A new list of n groups (cn[i], dn[i] copied), one reference held by the
 * caller; NULL when out of memory.
 */
struct auth_groups *groups_new(int found, size_t n, const char **cn,
	    const char **dn);

/* groups_cache.c */
enum gwaiter_state {
	GW_NEW,		/* the worker's, not queued */
	GW_WAITING,	/* on a fetch's list (the cache's) */
	GW_TAKEN,	/* answered: on its way back to the worker */
};

/* A worker's lookup that waits for a fetch. */
struct gwaiter {
	struct auth_pending	 base;		/* first: auth_cancel() */
	struct inbox_item	 item;		/* back to the worker */
	TAILQ_ENTRY(gwaiter)	 link;
	enum gwaiter_state	 state;		/* under the cache lock */
	struct gfetch		*fetch;		/* GW_WAITING: on its list */
	int			 cancelled;	/* the worker's thread only */
	struct inbox		*inbox;
	auth_groups_cb		 cb;
	void			*arg;
	/* The answer, set by whoever finished the fetch. */
	struct auth_groups	*groups;	/* a reference, or NULL */
	enum auth_groups_source	 source;
};
TAILQ_HEAD(gwaiters, gwaiter);

struct gentry;
struct gdir;

/* One search in flight for one user. */
struct gfetch {
	struct inbox_item	 item;		/* to the directory thread */
	struct gcache		*gc;
	struct gdir		*gd;		/* the thread it went to */
	struct gentry		*entry;		/* NULL once purged/evicted */
	char			*key;
	size_t			 keylen;
	int			 refresh;	/* ahead of expiry: none wait */
	int64_t			 started;	/* us, monotonic */
	struct gwaiters		 waiters;	/* under the cache lock */
};

/* Times of one lookup, in microseconds (from the caller's config). */
struct gcache_ttl {
	int64_t		 ttl;		/* a found user's answer is fresh */
	int64_t		 negative_ttl;	/* "no such user" is fresh */
	int64_t		 stale_ttl;	/* age up to which it may serve
					   while the directory is down */
	int64_t		 refresh_ahead;	/* refresh this long before expiry */
};

/* The counters (under the lock); see auth_groups_stats(). */
#define GCACHE_LAT_BUCKETS	40	/* log2 buckets of microseconds */
struct gcache_stats {
	uint64_t	 lookups;	/* every auth_groups_lookup() */
	uint64_t	 hits;		/* answered fresh from the cache */
	uint64_t	 misses;	/* had to wait for the directory */
	uint64_t	 coalesced;	/* misses that joined a search */
	uint64_t	 stale;		/* answered stale (directory down) */
	uint64_t	 failures;	/* answered with no groups at all */
	uint64_t	 refreshes;	/* searches started ahead of expiry */
	uint64_t	 searches;	/* fetches finished */
	uint64_t	 errors;	/* fetches that failed */
	uint64_t	 not_found;	/* fetches: no such user */
	uint64_t	 evictions;	/* entries dropped for room */
	uint64_t	 purged;	/* entries dropped by purge */
	uint64_t	 lat_count;	/* fetch latency, microseconds */
	uint64_t	 lat_sum;
	uint64_t	 lat_max;
	uint64_t	 lat_hist[GCACHE_LAT_BUCKETS];
};

struct gcache;

/* What gcache_lookup() did. */
enum gcache_res {
	GC_HIT,		/* *gp and *src are the answer */
	GC_MISS,	/* no waiter given: call again with one */
	GC_QUEUED,	/* the waiter is on a fetch */
};

/* A cache of at most max users (resized by gcache_set_max). */
struct gcache	*gcache_new(size_t max);
/* Every entry goes; fetches in flight are detached (still answered). */
void	 gcache_free(struct gcache *);
void	 gcache_set_max(struct gcache *, size_t max);
/*
 * Look key (normalised) up at time now.  A fresh answer is a hit: *gp
 * gets a reference and *src AUTH_GROUPS_LDAP; when the answer is due for
 * refresh-ahead and no search runs yet, *fetchp is set to a new refresh
 * fetch.  Otherwise, without w: GC_MISS.  With w: w is queued on the
 * user's fetch (a new one, then in *fetchp, or the one already running:
 * coalesced) and GC_QUEUED is returned; or a hit, as above, if one came
 * meanwhile.  A new fetch must be handed to gcache_dispatch's caller's
 * directory.  -1 when out of memory (w not queued).
 */
int	 gcache_lookup(struct gcache *, const char *key, size_t keylen,
	    int64_t now, const struct gcache_ttl *, struct auth_groups **gp,
	    enum auth_groups_source *src, struct gwaiter *w,
	    struct gfetch **fetchp);
/*
 * Finish f at time now: groups (a reference the cache takes; NULL when
 * the search failed) becomes the user's answer and every waiter's, or,
 * on failure, the waiters get the cached answer while younger than
 * stale_ttl (AUTH_GROUPS_STALE) or nothing (AUTH_GROUPS_NONE).  The
 * waiters, answered, are moved to *out for the caller to post; f is
 * freed.  *stale_age is set (seconds, else -1) when stale answers were
 * given and this entry has not said so in the last minute, so that the
 * caller logs it once, not per request.
 */
void	 gcache_complete(struct gcache *, struct gfetch *f,
	    struct auth_groups *groups, int64_t now, int64_t stale_ttl,
	    struct gwaiters *out, long *stale_age);
/*
 * The worker gives up w (its thread).  1 when w was still queued and is
 * the caller's again; 0 when it is already answered (on its way back).
 */
int	 gcache_cancel(struct gcache *, struct gwaiter *w);
/*
 * Drop the entries of user: the one of that normalised name and, for a
 * bare name ("alice"), those of that user in any domain or realm
 * ("EXAMPLE\alice", "alice@EXAMPLE.TEST"); "*" drops all.  Searches in
 * flight still answer their waiters but their answer is not kept.
 * Returns how many entries went.
 */
size_t	 gcache_purge(struct gcache *, const char *user);
/* The counters, and the number of entries and fetches now. */
void	 gcache_stats(struct gcache *, struct gcache_stats *,
	    size_t *entries, size_t *fetches);
/* The cache's name for a user: ASCII lower case; 0 or -1 (too long). */
int	 gcache_key(const char *user, char *key, size_t *keylen);

/*
 * groups_dir.c: the directory thread, which the ldap NTLM backend uses
 * too (dir.h: dir_thread_start).
 */
/*
 * Start the thread for conf, or, when it runs already (for the NTLM
 * backend), give it the group lookups too (main thread); NULL on
 * failure.  The fetches name their cache: the thread keeps none.
 */
struct gdir	*gdir_start(struct gcache *, const struct config *);
/* A new config for the thread (main thread); the same one again is no-op. */
void	 gdir_reconf(struct gdir *, const struct config *);
/*
 * Stop and join the thread, whoever uses it (main thread, the workers
 * joined); fetches and NTLM searches still running fail.
 */
void	 gdir_stop(struct gdir *);
/* Hand f to the thread (any thread); finished there, or failed here. */
void	 gdir_dispatch(struct gdir *, struct gfetch *);
/* Post the answered waiters in list to their workers (any thread). */
void	 groups_deliver(struct gwaiters *);
/* 1 when the directory thread's connection is bound. */
int	 gdir_up(struct gdir *);

#endif
