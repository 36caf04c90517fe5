/*
 * groups_bench: the group cache's two costs, through the public API
 * (auth_groups_lookup) with the real directory thread and a real
 * directory (tests/bench/groups sets up slapd and the config).
 *
 * usage: groups_bench CONFIG PREFIX NUSERS HITS
 *
 *  - misses: the cache emptied, PREFIX0 .. PREFIX<NUSERS-1> looked up
 *    with 1, then 16, then 64 lookups in flight (one worker's event loop
 *    waiting for the answers through its inbox): lookups per second;
 *  - hits: HITS lookups of cached users (cycling over all of them, so
 *    the table is not a single hot line) on one thread, then on two at
 *    once (one mutex for the whole cache): nanoseconds per lookup,
 *    auth_groups_unref included.
 *
 * Prints "name value" lines; exits 1 when an answer is wrong (not from
 * the directory, no groups) or a hit was not a hit.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "auth.h"
#include "proxy.h"

struct run {
	const struct config	*conf;
	struct auth_worker	*aw;
	char			**names;
	size_t			 n;
	size_t			 next, done, inflight, window;
	size_t			 bad, groups;
};

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void	issue(struct run *);

static void
answered(void *arg, struct auth_groups *g, enum auth_groups_source src)
{
	struct run	*r = arg;

	if (src != AUTH_GROUPS_LDAP || auth_groups_count(g) == 0)
		r->bad++;
	r->groups += auth_groups_count(g);
	auth_groups_unref(g);
	r->inflight--;
	r->done++;
	issue(r);
}

/* Keep r->window lookups in flight. */
static void
issue(struct run *r)
{
	struct auth_groups	*g;
	struct auth_pending	*p;
	enum auth_groups_source	 src;

	while (r->inflight < r->window && r->next < r->n) {
		if (auth_groups_lookup(r->aw, r->conf, r->names[r->next++], &g,
		    &src, answered, r, &p) == AUTH_PENDING) {
			r->inflight++;
			continue;
		}
		/* A hit (or no answer at all) where a miss was wanted. */
		r->bad++;
		auth_groups_unref(g);
		r->done++;
	}
}

static double
misses(struct run *r, struct event_base *base, size_t window)
{
	double	 t0;

	auth_groups_purge("*");
	r->next = r->done = r->inflight = r->bad = r->groups = 0;
	r->window = window;
	t0 = now_s();
	issue(r);
	while (r->done < r->n)
		event_base_loop(base, EVLOOP_ONCE);
	return now_s() - t0;
}

struct hitrun {
	struct run	*r;
	size_t		 hits;
	size_t		 start;
	size_t		 bad;
	double		 secs;
};

static void *
hits(void *arg)
{
	struct hitrun		*h = arg;
	struct auth_groups	*g;
	struct auth_pending	*p;
	enum auth_groups_source	 src;
	size_t			 i, k = h->start;
	double			 t0 = now_s();

	for (i = 0; i < h->hits; i++) {
		if (auth_groups_lookup(h->r->aw, h->r->conf, h->r->names[k], &g,
		    &src, answered, h->r, &p) != AUTH_SUCCESS ||
		    src != AUTH_GROUPS_LDAP)
			h->bad++;
		auth_groups_unref(g);
		if (++k == h->r->n)
			k = 0;
	}
	h->secs = now_s() - t0;
	return NULL;
}

int
main(int argc, char *argv[])
{
	static const size_t	 windows[] = { 1, 16, 64 };
	struct config		*conf;
	struct event_base	*base;
	struct run		 r;
	struct hitrun		 h[2];
	pthread_t		 th[2];
	char			 err[4096], stats[4096];
	size_t			 i, w, nhits;
	double			 secs;
	int			 rc = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: groups_bench CONFIG PREFIX NUSERS "
		    "HITS\n");
		return 2;
	}
	log_init(0);
	if ((conf = conf_load(argv[1], NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	memset(&r, 0, sizeof(r));
	r.conf = conf;
	r.n = strtoul(argv[3], NULL, 10);
	nhits = strtoul(argv[4], NULL, 10);
	if ((r.names = calloc(r.n, sizeof(char *))) == NULL)
		return 2;
	for (i = 0; i < r.n; i++)
		if (asprintf(&r.names[i], "%s%zu", argv[2], i) == -1)
			return 2;
	if (auth_groups_start(conf) == -1 || (base = event_base_new()) ==
	    NULL || (r.aw = auth_worker_new(base, conf)) == NULL) {
		fprintf(stderr, "cannot start\n");
		return 2;
	}
	/* A first lookup connects and binds: not part of any figure. */
	r.n = 1;
	misses(&r, base, 1);
	r.n = strtoul(argv[3], NULL, 10);

	for (w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
		secs = misses(&r, base, windows[w]);
		printf("miss_lookups_per_s_inflight_%zu %.0f\n", windows[w],
		    r.n / secs);
		printf("miss_groups_per_user_inflight_%zu %.1f\n", windows[w],
		    (double)r.groups / r.n);
		if (r.bad > 0) {
			printf("miss_bad_answers_inflight_%zu %zu\n", windows[w],
			    r.bad);
			rc = 1;
		}
	}
	fflush(stdout);

	/* Every user cached now (the last pass): hits only. */
	memset(h, 0, sizeof(h));
	h[0].r = &r;
	h[0].hits = nhits;
	hits(&h[0]);
	printf("hit_ns_per_lookup_1_thread %.1f\n", h[0].secs * 1e9 / nhits);
	if (h[0].bad > 0) {
		printf("hit_not_a_hit_1_thread %zu\n", h[0].bad);
		rc = 1;
	}
	for (i = 0; i < 2; i++) {
		h[i].r = &r;
		h[i].hits = nhits;
		h[i].start = i * r.n / 2;
		h[i].bad = 0;
		pthread_create(&th[i], NULL, hits, &h[i]);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("hit_ns_per_lookup_2_threads %.1f\n", (h[0].secs + h[1].secs) /
	    2 * 1e9 / nhits);
	printf("hit_lookups_per_s_2_threads %.0f\n", 2.0 * nhits /
	    (h[0].secs > h[1].secs ? h[0].secs : h[1].secs));
	if (h[0].bad + h[1].bad > 0) {
		printf("hit_not_a_hit %zu\n", h[0].bad + h[1].bad);
		rc = 1;
	}
	auth_groups_stats(stats, sizeof(stats));
	fputs(stats, stdout);
	auth_worker_free(r.aw);
	auth_groups_stop();
	event_base_free(base);
	for (i = 0; i < r.n; i++)
		free(r.names[i]);
	free(r.names);
	conf_unref(conf);
	return rc;
}
