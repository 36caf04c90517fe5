/*
 * The groups of signed-in users: the public side (auth.h) of the group
 * cache (groups_cache.c) and the directory thread (groups_dir.c).
 *
 * A worker asks auth_groups_lookup() for every request of a signed-in
 * user.  A hit is answered on the worker's thread from the shared cache.
 * A miss queues a waiter on the user's fetch; the directory thread
 * searches, and the answer comes back to the worker through its inbox
 * (inbox.h), where the waiter's callback runs.  A connection that goes
 * away meanwhile cancels its waiter (auth_cancel); one answer already on
 * its way is then just dropped when it arrives.
 */
#include "config.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ldap.h>

#include "auth.h"
#include "backend.h"
#include "groups.h"
#include "inbox.h"
#include "proxy.h"		/* log_*() */

/*
 * Made by the main thread before the workers start (or before they get
 * the config that asks for groups), freed after they are joined: the
 * workers only read the pointers.
 */
static struct gcache	*groups_cache;
static struct gdir	*groups_dir;
static struct config	*groups_conf;	/* the main thread's, for reloads */

static void	 gwaiter_done(struct inbox_item *);
static void	 gwaiter_discard(struct inbox_item *);
static void	 gwaiter_cancel(struct auth_pending *);

/* Microseconds of the monotonic clock (vDSO: no system call). */
static int64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct auth_groups *
groups_new(int found, size_t n, const char **cn, const char **dn)
{
	struct auth_groups	*g;
	size_t			 i, len = 0;
	char			*p;

	for (i = 0; i < n; i++)
		len += strlen(cn[i]) + strlen(dn[i]) + 2;
	if ((g = malloc(sizeof(*g) + n * sizeof(g->g[0]) + len)) == NULL)
		return NULL;
	g->refs = 1;
	g->found = found;
	g->n = n;
	p = (char *)&g->g[n];
	for (i = 0; i < n; i++) {
		g->g[i].cn = p;
		p = stpcpy(p, cn[i]) + 1;
		g->g[i].dn = p;
		p = stpcpy(p, dn[i]) + 1;
	}
	return g;
}

struct auth_groups *
auth_groups_ref(struct auth_groups *g)
{
	if (g != NULL)
		__atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
	return g;
}

void
auth_groups_unref(struct auth_groups *g)
{
	if (g != NULL && __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) ==
	    0)
		free(g);
}

size_t
auth_groups_count(const struct auth_groups *g)
{
	return g != NULL ? g->n : 0;
}

const char *
auth_groups_cn(const struct auth_groups *g, size_t i)
{
	return g != NULL && i < g->n ? g->g[i].cn : NULL;
}

const char *
auth_groups_dn(const struct auth_groups *g, size_t i)
{
	return g != NULL && i < g->n ? g->g[i].dn : NULL;
}

int
auth_groups_found(const struct auth_groups *g)
{
	return g != NULL && g->found;
}

const char *
auth_groups_source_name(enum auth_groups_source s)
{
	switch (s) {
	case AUTH_GROUPS_LDAP:
		return "ldap";
	case AUTH_GROUPS_STALE:
		return "stale";
	default:
		return "none";
	}
}

int
auth_groups_has(const struct auth_groups *g, const char *name)
{
	char		*norm = NULL;
	size_t		 i;
	int		 found = 0;

	if (g == NULL)
		return 0;
	for (i = 0; i < g->n; i++)
		if (strcasecmp(g->g[i].cn, name) == 0 ||
		    strcasecmp(g->g[i].dn, name) == 0)
			return 1;
	/*
	 * A DN written with other spacing ("cn=x, dc=y"): compare it in
	 * the form the directory thread stored (RFC 4514 string form).
	 */
	if (strchr(name, '=') == NULL)
		return 0;
	if (ldap_dn_normalize(name, LDAP_DN_FORMAT_LDAP, &norm,
	    LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || norm == NULL)
		return 0;
	for (i = 0; i < g->n && !found; i++)
		found = strcasecmp(g->g[i].dn, norm) == 0;
	ldap_memfree(norm);
	return found;
}

int
auth_groups_enabled(const struct config *conf)
{
	return conf != NULL && conf->ldap.enabled &&
	    conf->ldap.group_mode != GROUP_MODE_NONE;
}

/* The TTLs of conf in microseconds. */
static void
groups_ttl(const struct config *conf, struct gcache_ttl *t)
{
	t->ttl = (int64_t)conf->ldap.cache_ttl * 1000000;
	t->negative_ttl = (int64_t)conf->ldap.negative_ttl * 1000000;
	t->stale_ttl = (int64_t)conf->ldap.stale_ttl * 1000000;
	t->refresh_ahead = (int64_t)conf->ldap.refresh_ahead * 1000000;
}

enum auth_outcome
auth_groups_lookup(struct auth_worker *aw, const struct config *conf,
    const char *user, struct auth_groups **groups,
    enum auth_groups_source *source, auth_groups_cb cb, void *arg,
    struct auth_pending **pending)
{
	struct gcache		*gc = __atomic_load_n(&groups_cache,
				    __ATOMIC_ACQUIRE);
	struct gcache_ttl	 t;
	struct gfetch		*fetch = NULL;
	struct gwaiter		*w;
	char			 key[GROUPS_KEY_MAX];
	size_t			 keylen;
	int64_t			 now;
	int			 r;

	*groups = NULL;
	*source = AUTH_GROUPS_NONE;
	*pending = NULL;
	if (gc == NULL || gcache_key(user, key, &keylen) == -1)
		return AUTH_SUCCESS;	/* unknown groups: the caller decides */
	groups_ttl(conf, &t);
	now = mono_us();
	r = gcache_lookup(gc, key, keylen, now, &t, groups, source, NULL,
	    &fetch);
	if (r == GC_HIT) {
		if (fetch != NULL)
			gdir_dispatch(groups_dir, fetch);
		return AUTH_SUCCESS;
	}
	if (r == -1)
		return AUTH_SUCCESS;
	/* A miss: wait for the directory thread, through our inbox. */
	if (aw->inbox == NULL && (aw->inbox = inbox_new(aw->base)) == NULL)
		return AUTH_SUCCESS;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return AUTH_SUCCESS;
	w->base.cancel = gwaiter_cancel;
	w->item.done = gwaiter_done;
	w->item.discard = gwaiter_discard;
	w->state = GW_NEW;
	w->inbox = aw->inbox;
	w->cb = cb;
	w->arg = arg;
	/* Promised before anyone can post it (the inbox is ours, alive). */
	inbox_expect(w->inbox);
	r = gcache_lookup(gc, key, keylen, now, &t, groups, source, w, &fetch);
	if (fetch != NULL)
		gdir_dispatch(groups_dir, fetch);
	if (r == GC_QUEUED) {
		*pending = &w->base;
		return AUTH_PENDING;
	}
	/* A hit after all (or no memory): the promise is kept, unused. */
	w->cancelled = 1;
	inbox_post(w->inbox, &w->item);
	return AUTH_SUCCESS;
}

/* The worker's thread: the answer is back. */
static void
gwaiter_done(struct inbox_item *it)
{
	struct gwaiter	*w = (struct gwaiter *)((char *)it -
			    offsetof(struct gwaiter, item));

	if (w->cancelled)
		auth_groups_unref(w->groups);
	else
		w->cb(w->arg, w->groups, w->source);
	free(w);
}

/* The worker is gone: nobody to tell. */
static void
gwaiter_discard(struct inbox_item *it)
{
	struct gwaiter	*w = (struct gwaiter *)((char *)it -
			    offsetof(struct gwaiter, item));

	auth_groups_unref(w->groups);
	free(w);
}

/* auth_cancel(): the connection no longer waits (worker's thread). */
static void
gwaiter_cancel(struct auth_pending *p)
{
	struct gwaiter	*w = (struct gwaiter *)p;

	w->cancelled = 1;
	/*
	 * Still queued: it is ours again, and its inbox promise is kept by
	 * posting it to ourselves (done() frees it).  Else the answer is
	 * on its way and done() will drop it.
	 */
	if (gcache_cancel(groups_cache, w))
		inbox_post(w->inbox, &w->item);
}

void
groups_deliver(struct gwaiters *list)
{
	struct gwaiter	*w;

	while ((w = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, w, link);
		inbox_post(w->inbox, &w->item);
	}
}

/* Does the change from o to n change what a search finds? */
static int
groups_search_changed(const struct config *o, const struct config *n)
{
	const struct conf_ldap	*a = &o->ldap, *b = &n->ldap;
	size_t			 i;

	if (a->group_mode != b->group_mode || a->max_depth != b->max_depth ||
	    strcmp(a->base_dn, b->base_dn) != 0 ||
	    strcmp(a->group_base_dn, b->group_base_dn) != 0 ||
	    strcmp(a->user_filter, b->user_filter) != 0 ||
	    a->nuris != b->nuris)
		return 1;
	for (i = 0; i < a->nuris; i++)
		if (strcmp(a->uris[i], b->uris[i]) != 0)
			return 1;
	return 0;
}

int
auth_groups_start(const struct config *conf)
{
	struct gcache	*gc;
	size_t		 n;

	if (!auth_groups_enabled(conf)) {
		/*
		 * The thread stays (idle, its connection closed) if it runs:
		 * a reload may want it back.
		 */
		if (groups_cache != NULL) {
			n = gcache_purge(groups_cache, "*");
			if (n > 0)
				log_info("groups: group_mode none: %zu cached "
				    "users forgotten", n);
			gdir_reconf(groups_dir, conf);
		}
		conf_unref(groups_conf);
		groups_conf = NULL;
		return 0;
	}
	if (groups_cache == NULL) {
		if ((gc = gcache_new((size_t)conf->ldap.cache_size)) == NULL)
			return -1;
		if ((groups_dir = gdir_start(gc, conf)) == NULL) {
			gcache_free(gc);
			return -1;
		}
		/* Workers see the cache only with the thread behind it. */
		__atomic_store_n(&groups_cache, gc, __ATOMIC_RELEASE);
	} else {
		gcache_set_max(groups_cache, (size_t)conf->ldap.cache_size);
		if (groups_conf != NULL &&
		    groups_search_changed(groups_conf, conf)) {
			n = gcache_purge(groups_cache, "*");
			log_info("groups: the directory search changed: %zu "
			    "cached users forgotten", n);
		}
		gdir_reconf(groups_dir, conf);
	}
	conf_unref(groups_conf);
	groups_conf = conf_ref((struct config *)conf);
	return 0;
}

void
auth_groups_stop(void)
{
	if (groups_dir != NULL)
		gdir_stop(groups_dir);
	groups_dir = NULL;
	gcache_free(groups_cache);
	groups_cache = NULL;
	conf_unref(groups_conf);
	groups_conf = NULL;
}

size_t
auth_groups_purge(const char *user)
{
	if (groups_cache == NULL)
		return 0;
	return gcache_purge(groups_cache, user);
}

/* The latency below which a share q of the searches finished (us). */
static uint64_t
lat_quantile(const struct gcache_stats *st, double q)
{
	uint64_t	 want, seen = 0;
	int		 b;

	if (st->lat_count == 0)
		return 0;
	want = (uint64_t)((double)st->lat_count * q);
	if (want == 0)
		want = 1;
	for (b = 0; b < GCACHE_LAT_BUCKETS; b++) {
		seen += st->lat_hist[b];
		if (seen >= want)	/* the bucket's upper bound */
			return b == 0 ? 1 : (uint64_t)1 << (b + 1);
	}
	return st->lat_max;
}

size_t
auth_groups_stats(char *buf, size_t len)
{
	struct gcache_stats	 st;
	size_t			 entries = 0, fetches = 0;
	int			 n;

	memset(&st, 0, sizeof(st));
	if (groups_cache != NULL)
		gcache_stats(groups_cache, &st, &entries, &fetches);
	n = snprintf(buf, len,
	    "groups_enabled %d\n"
	    "groups_directory_up %d\n"
	    "groups_entries %zu\n"
	    "groups_searches_running %zu\n"
	    "groups_lookups %llu\n"
	    "groups_hits %llu\n"
	    "groups_misses %llu\n"
	    "groups_coalesced %llu\n"
	    "groups_stale %llu\n"
	    "groups_failures %llu\n"
	    "groups_refreshes %llu\n"
	    "groups_searches %llu\n"
	    "groups_errors %llu\n"
	    "groups_not_found %llu\n"
	    "groups_evictions %llu\n"
	    "groups_purged %llu\n"
	    "groups_latency_us_count %llu\n"
	    "groups_latency_us_sum %llu\n"
	    "groups_latency_us_max %llu\n"
	    "groups_latency_us_p50 %llu\n"
	    "groups_latency_us_p99 %llu\n",
	    groups_cache != NULL && groups_conf != NULL,
	    groups_dir != NULL && gdir_up(groups_dir), entries, fetches,
	    (unsigned long long)st.lookups, (unsigned long long)st.hits,
	    (unsigned long long)st.misses, (unsigned long long)st.coalesced,
	    (unsigned long long)st.stale, (unsigned long long)st.failures,
	    (unsigned long long)st.refreshes,
	    (unsigned long long)st.searches, (unsigned long long)st.errors,
	    (unsigned long long)st.not_found,
	    (unsigned long long)st.evictions, (unsigned long long)st.purged,
	    (unsigned long long)st.lat_count, (unsigned long long)st.lat_sum,
	    (unsigned long long)st.lat_max,
	    (unsigned long long)lat_quantile(&st, 0.5),
	    (unsigned long long)lat_quantile(&st, 0.99));
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}
