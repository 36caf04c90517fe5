/*
 * The per-worker pool of idle keep-alive connections to origins.  A
 * connection is reused only by the worker that opened it, so the pool
 * needs no lock.  Keys are "host:port" as the client named them: two names
 * for one address are two pools, which is what HTTP/1.1 reuse allows.
 *
 * While idle, a connection's read callback is watching: any byte or EOF
 * from the origin means it cannot be reused (RFC 9112 9.3: the origin may
 * close an idle connection at any time), so it is dropped at once.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proxy.h"

#define POOL_BUCKETS	1024

struct idle_conn {
	TAILQ_ENTRY(idle_conn)	 entry;	/* in its origin, newest first */
	struct pool_origin	*origin;
	struct upstream_pool	*pool;
	struct bufferevent	*bev;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
};

struct pool_origin {
	struct pool_origin	*next;
	char			*key;
	TAILQ_HEAD(idle_list, idle_conn) idle;
	int			 count;
};

struct upstream_pool {
	struct worker		*worker;
	struct pool_origin	*bucket[POOL_BUCKETS];
	size_t			 total;
};

struct upstream_pool *
upstream_pool_new(struct worker *w)
{
	struct upstream_pool *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->worker = w;
	return p;
}

static unsigned
pool_hash(const char *s)
{
	return hash_bytes(s, strlen(s)) % POOL_BUCKETS;
}

static struct pool_origin *
pool_find(struct upstream_pool *p, const char *key, int create)
{
	struct pool_origin *o;
	unsigned	    b = pool_hash(key);

	for (o = p->bucket[b]; o != NULL; o = o->next)
		if (strcmp(o->key, key) == 0)
			return o;
	if (!create)
		return NULL;
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->key = strdup(key)) == NULL) {
		free(o);
		return NULL;
	}
	TAILQ_INIT(&o->idle);
	o->next = p->bucket[b];
	p->bucket[b] = o;
	return o;
}

/* Forget an origin with no idle connections left. */
static void
pool_origin_gc(struct upstream_pool *p, struct pool_origin *o)
{
	struct pool_origin **pp;

	if (o->count > 0)
		return;
	for (pp = &p->bucket[pool_hash(o->key)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	free(o->key);
	free(o);
}

static void
idle_remove(struct upstream_pool *p, struct idle_conn *ic)
{
	struct pool_origin *o = ic->origin;

	TAILQ_REMOVE(&o->idle, ic, entry);
	o->count--;
	p->total--;
	pool_origin_gc(p, o);
}

static void
idle_drop(struct upstream_pool *p, struct idle_conn *ic)
{
	idle_remove(p, ic);
	bufferevent_free(ic->bev);
	free(ic);
}

/* Anything from an idle origin (data, EOF, error, timeout) ends it. */
static void
idle_readcb(struct bufferevent *bev, void *arg)
{
	struct idle_conn *ic = arg;

	idle_drop(ic->pool, ic);
}

static void
idle_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct idle_conn *ic = arg;

	idle_drop(ic->pool, ic);
}

struct bufferevent *
upstream_pool_get(struct upstream_pool *p, const char *key,
    struct sockaddr_storage *peer, socklen_t *peerlen)
{
	struct pool_origin	*o;
	struct idle_conn	*ic;
	struct bufferevent	*bev;

	if ((o = pool_find(p, key, 0)) == NULL ||
	    (ic = TAILQ_FIRST(&o->idle)) == NULL)
		return NULL;
	bev = ic->bev;
	memcpy(peer, &ic->peer, ic->peerlen);
	*peerlen = ic->peerlen;
	idle_remove(p, ic);
	free(ic);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(bev, NULL, NULL);
	return bev;
}

void
upstream_pool_put(struct upstream_pool *p, const char *key,
    struct bufferevent *bev, const struct sockaddr *peer, socklen_t peerlen,
    const struct config *conf)
{
	struct pool_origin	*o;
	struct idle_conn	*ic, *oldest;
	struct timeval		 tv;

	/* Leftover bytes would be read as the next response: never reuse. */
	if (conf->upstream_max_idle <= 0 ||
	    evbuffer_get_length(bufferevent_get_input(bev)) != 0 ||
	    (o = pool_find(p, key, 1)) == NULL ||
	    (ic = calloc(1, sizeof(*ic))) == NULL) {
		bufferevent_free(bev);
		return;
	}
	ic->origin = o;
	ic->pool = p;
	ic->bev = bev;
	if (peerlen <= sizeof(ic->peer)) {
		memcpy(&ic->peer, peer, peerlen);
		ic->peerlen = peerlen;
	}
	/* Newest first: the least idle connection is the least likely closed. */
	TAILQ_INSERT_HEAD(&o->idle, ic, entry);
	o->count++;
	p->total++;
	while (o->count > conf->upstream_max_idle &&
	    (oldest = TAILQ_LAST(&o->idle, idle_list)) != NULL)
		idle_drop(p, oldest);

	tv.tv_sec = conf->upstream_idle_timeout / 1000;
	tv.tv_usec = (conf->upstream_idle_timeout % 1000) * 1000;
	bufferevent_setcb(bev, idle_readcb, NULL, idle_eventcb, ic);
	bufferevent_set_timeouts(bev, &tv, NULL);
	bufferevent_enable(bev, EV_READ);
}

void
upstream_pool_drop_all(struct upstream_pool *p)
{
	struct pool_origin *o;
	size_t		    i;

	/* Origins in the table always hold a connection; the last drop frees it. */
	for (i = 0; i < POOL_BUCKETS; i++)
		while ((o = p->bucket[i]) != NULL)
			idle_drop(p, TAILQ_FIRST(&o->idle));
}

size_t
upstream_pool_count(struct upstream_pool *p)
{
	return p->total;
}

void
upstream_pool_free(struct upstream_pool *p)
{
	if (p == NULL)
		return;
	upstream_pool_drop_all(p);
	free(p);
}
