/*
 * Asynchronous name resolution with a per-worker cache.  evdns does the
 * lookups (never getaddrinfo(3), which blocks); the cache keeps the first
 * address of each answer for dns_ttl seconds and a failure for
 * dns_negative_ttl seconds, so a busy origin costs one query a minute and a
 * mistyped name cannot make us hammer the resolver.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "proxy.h"

#define DNS_BUCKETS	1024
#define DNS_MAX_ENTRIES	8192

struct dns_entry {
	struct dns_entry	*next;
	char			*host;
	time_t			 expires;
	int			 err;		/* 0, or the cached failure */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
};

struct dns_cache {
	struct dns_entry	*bucket[DNS_BUCKETS];
	size_t			 nentries;
};

struct dns_req {
	struct worker		*worker;
	struct evdns_getaddrinfo_request *gai;
	char			*host;
	int			 port;
	dns_cb			 cb;
	void			*arg;
	int			 cancelled;
};

struct dns_cache *
dns_cache_new(void)
{
	return calloc(1, sizeof(struct dns_cache));
}

static void
dns_entry_free(struct dns_entry *e)
{
	free(e->host);
	free(e);
}

void
dns_cache_free(struct dns_cache *dc)
{
	struct dns_entry *e, *next;
	size_t		  i;

	if (dc == NULL)
		return;
	for (i = 0; i < DNS_BUCKETS; i++)
		for (e = dc->bucket[i]; e != NULL; e = next) {
			next = e->next;
			dns_entry_free(e);
		}
	free(dc);
}

static unsigned
dns_hash(const char *s)
{
	return hash_bytes(s, strlen(s)) % DNS_BUCKETS;
}

static void
set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Look up a fresh entry; drop a stale one on the way. */
static struct dns_entry *
dns_cache_find(struct dns_cache *dc, const char *host, time_t now)
{
	struct dns_entry **pp, *e;

	for (pp = &dc->bucket[dns_hash(host)]; (e = *pp) != NULL;
	    pp = &e->next) {
		if (strcmp(e->host, host) != 0)
			continue;
		if (e->expires > now)
			return e;
		*pp = e->next;
		dns_entry_free(e);
		dc->nentries--;
		return NULL;
	}
	return NULL;
}

static void
dns_cache_add(struct dns_cache *dc, const char *host, int err,
    const struct sockaddr *sa, socklen_t salen, int ttl, time_t now)
{
	struct dns_entry *e;
	unsigned	  b;
	size_t		  i;

	if (ttl <= 0)
		return;
	if (dc->nentries >= DNS_MAX_ENTRIES) {
		/* Full: forget everything rather than track recency. */
		for (i = 0; i < DNS_BUCKETS; i++) {
			while ((e = dc->bucket[i]) != NULL) {
				dc->bucket[i] = e->next;
				dns_entry_free(e);
			}
		}
		dc->nentries = 0;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->host = strdup(host)) == NULL) {
		free(e);
		return;
	}
	e->err = err;
	e->expires = now + ttl;
	if (sa != NULL && salen <= sizeof(e->ss)) {
		memcpy(&e->ss, sa, salen);
		e->sslen = salen;
	}
	b = dns_hash(host);
	e->next = dc->bucket[b];
	dc->bucket[b] = e;
	dc->nentries++;
}

/* Prefer an IPv4 answer: most origins are reachable over it. */
static const struct evutil_addrinfo *
pick_addr(const struct evutil_addrinfo *ai)
{
	const struct evutil_addrinfo *p;

	for (p = ai; p != NULL; p = p->ai_next)
		if (p->ai_family == AF_INET)
			return p;
	return ai;
}

static void
dns_done(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct dns_req	*r = arg;
	struct worker	*w = r->worker;
	const struct evutil_addrinfo *p = NULL;
	struct sockaddr_storage ss;
	socklen_t	 sslen = 0;
	time_t		 now = time(NULL);

	if (err == EVUTIL_EAI_CANCEL || r->cancelled) {
		if (ai)
			evutil_freeaddrinfo(ai);
		free(r->host);
		free(r);
		return;
	}
	if (err == 0 && (p = pick_addr(ai)) != NULL &&
	    p->ai_addrlen <= sizeof(ss)) {
		memcpy(&ss, p->ai_addr, p->ai_addrlen);
		sslen = p->ai_addrlen;
		dns_cache_add(w->dns_cache, r->host, 0, p->ai_addr,
		    p->ai_addrlen, w->conf->dns_ttl, now);
	} else {
		if (err == 0)
			err = EVUTIL_EAI_NONAME;
		/* Timeouts are not cached: the next try may well work. */
		if (err != EVUTIL_EAI_AGAIN)
			dns_cache_add(w->dns_cache, r->host, err, NULL, 0,
			    w->conf->dns_negative_ttl, now);
	}
	if (ai)
		evutil_freeaddrinfo(ai);
	if (err == 0)
		set_port(&ss, r->port);
	r->cb(err, err == 0 ? (struct sockaddr *)&ss : NULL, sslen, r->arg);
	free(r->host);
	free(r);
}

struct dns_req *
dns_resolve(struct worker *w, const char *host, int port, dns_cb cb,
    void *arg)
{
	struct evutil_addrinfo	 hints;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct dns_entry	*e;
	struct dns_req		*r;
	struct evdns_getaddrinfo_request *gai;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		cb(0, (struct sockaddr *)sin, sizeof(*sin), arg);
		return NULL;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		cb(0, (struct sockaddr *)sin6, sizeof(*sin6), arg);
		return NULL;
	}
	if ((e = dns_cache_find(w->dns_cache, host, time(NULL))) != NULL) {
		if (e->err) {
			cb(e->err, NULL, 0, arg);
			return NULL;
		}
		memcpy(&ss, &e->ss, e->sslen);
		set_port(&ss, port);
		cb(0, (struct sockaddr *)&ss, e->sslen, arg);
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->host = strdup(host)) == NULL) {
		free(r);
		cb(EVUTIL_EAI_MEMORY, NULL, 0, arg);
		return NULL;
	}
	r->worker = w;
	r->port = port;
	r->cb = cb;
	r->arg = arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/*
	 * The callback may run inside this call (hosts file, errors) and
	 * free r: then evdns returns NULL and r must not be touched.
	 */
	gai = evdns_getaddrinfo(w->dns, host, NULL, &hints, dns_done, r);
	if (gai == NULL)
		return NULL;
	r->gai = gai;
	return r;
}

void
dns_cancel(struct dns_req *r)
{
	if (r == NULL)
		return;
	/* dns_done frees r when evdns reports the cancellation. */
	r->cancelled = 1;
	evdns_getaddrinfo_cancel(r->gai);
}
