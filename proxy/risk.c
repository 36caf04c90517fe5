/*
 * Risk rules: automatic account actions.
 *
 *	risk "malware hits" {
 *		when = {block}  category = {malware}
 *		count = 3  within = 600  action = signout
 *	}
 *
 * When one user collects `count` matching policy events within `within`
 * seconds, the gateway takes the action (sign out, disable, force a
 * password reset) through account_act(), the code behind the admin
 * socket's commands, and logs one line at warning level.
 *
 * Data path (workers): decide.c reports every final decision of a
 * signed-in user's request or CONNECT with risk_observe().  A request
 * with no identity is never counted: there is nobody to act on.  The
 * rules that could match (when, then category) are picked without a
 * lock; only when one does is the table locked.
 *
 * State: per user one entry holding, per rule (by name) that user has
 * matched, a ring of the times of the last `count` events.  An event
 * older than `within` falls out of the ring; the event that fills it
 * fires the rule and empties the ring, so no event ever counts towards
 * two firings.  The entries sit in one hash table bounded by
 * risk_max_users, under one mutex, with the least recently seen user
 * evicted first: an attacker who can sign in as many users can only make
 * the table forget the quietest of them.  Times are CLOCK_MONOTONIC, so
 * a clock step never opens or closes a window.
 *
 * Reload keeps the windows: they are found again by rule name, so a rule
 * that still exists keeps counting where it was (with its new `within`
 * applied to the events it holds).  A rule whose `count` changed starts
 * again from nothing for every user, and the windows of a rule that is
 * gone are never matched again and leave with their user's entry.
 *
 * Actions: account_act() is for the main thread only (it may do
 * synchronous LDAP), and workers never wait on I/O.  A firing is queued
 * (bounded) and an eventfd wakes the main thread's loop, which takes the
 * actions in order.  The main event_base has no libevent locks
 * (main.c), hence the eventfd rather than event_active() from a worker.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"

#define RISK_USER_MAX	256		/* bytes of a name we track */
#define RISK_QUEUE_MAX	1024		/* actions waiting for main */
#define RISK_CATS_MAX	2048		/* a host's category list */
#define RISK_BUCKETS_MIN 64
#define RISK_BUCKETS_MAX (1U << 20)

/*
 * One rule's recent events for one user: a ring that grows (doubling) up
 * to the rule's count as events come, so a rule with a large count costs
 * memory only for users who really collect many events.
 */
struct risk_win {
	char		*rule;		/* the rule's name */
	int		 count;		/* the rule's count it was made for */
	int		 size;		/* ring slots, <= count */
	int		 n;		/* events held */
	int		 head;		/* the oldest */
	int64_t		*t;		/* ms, CLOCK_MONOTONIC */
};

struct risk_user {
	struct risk_user	*hnext;		/* bucket chain */
	TAILQ_ENTRY(risk_user)	 lru;		/* least recent first */
	uint32_t		 hash;
	struct risk_win		*win;
	size_t			 nwin;
	char			 name[];	/* as first seen */
};

/* A firing, on its way to the main thread. */
struct risk_job {
	STAILQ_ENTRY(risk_job)	 link;
	struct config		*conf;		/* a reference */
	int			 action;	/* enum account_action */
	int			 directory;
	unsigned		 when;		/* the rule's RISK_WHEN_* */
	int			 count;
	int64_t			 span_ms;	/* first to last event */
	char			*rule;
	char			*user;
};

static struct {
	pthread_mutex_t		 lock;
	struct risk_user	**buckets;
	uint32_t		 nbuckets;	/* a power of two */
	size_t			 nusers;
	TAILQ_HEAD(, risk_user)	 lru;
	STAILQ_HEAD(, risk_job)	 jobs;
	size_t			 njobs;
	int			 efd;		/* -1 until risk_start */
	struct event		*ev;
	uint64_t		 fired;		/* atomic */
	uint64_t		 dropped;	/* atomic: the queue was full */
} rk = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.lru = TAILQ_HEAD_INITIALIZER(rk.lru),
	.jobs = STAILQ_HEAD_INITIALIZER(rk.jobs),
	.efd = -1,
};

static int64_t
risk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Names are case-insensitive (AD, and auth_user_match): hash lower. */
static uint32_t
risk_hash(const char *user, size_t len)
{
	char	low[RISK_USER_MAX];
	size_t	i;

	for (i = 0; i < len; i++)
		low[i] = (char)tolower((unsigned char)user[i]);
	return hash_bytes(low, len);
}

/* Is name one of the ", "-separated categories in list? */
static int
risk_cat_in(const char *list, const char *name)
{
	size_t		 nlen = strlen(name), len;
	const char	*p = list, *e;

	while (*p != '\0') {
		e = strstr(p, ", ");
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == nlen && memcmp(p, name, len) == 0)
			return 1;
		if (e == NULL)
			break;
		p = e + 2;
	}
	return 0;
}

/* Does rule r take this event (kinds, the host's categories cats)? */
static int
risk_rule_matches(const struct conf_risk *r, unsigned kinds,
    const char *cats)
{
	size_t	i;

	if ((r->when & kinds) == 0)
		return 0;
	if (r->ncategories == 0)
		return 1;
	if (cats == NULL || *cats == '\0')
		return 0;
	for (i = 0; i < r->ncategories; i++)
		if (risk_cat_in(cats, r->categories[i]))
			return 1;
	return 0;
}

static void
risk_user_free(struct risk_user *u)
{
	size_t	i;

	for (i = 0; i < u->nwin; i++) {
		free(u->win[i].rule);
		free(u->win[i].t);
	}
	free(u->win);
	free(u);
}

/* Unlink u from its bucket and the LRU list and free it.  Locked. */
static void
risk_user_drop(struct risk_user *u)
{
	struct risk_user **pp;

	for (pp = &rk.buckets[u->hash & (rk.nbuckets - 1)]; *pp != u;
	    pp = &(*pp)->hnext)
		;
	*pp = u->hnext;
	TAILQ_REMOVE(&rk.lru, u, lru);
	rk.nusers--;
	risk_user_free(u);
}

/*
 * Make room for max users: a bucket array to suit (grown, never shrunk,
 * so a reload to a smaller bound just evicts), then evict the least
 * recently seen until one more fits.  Locked.  -1 when out of memory.
 */
static int
risk_room(size_t max)
{
	struct risk_user	**nb, *u, *next;
	uint32_t		  want = RISK_BUCKETS_MIN, i;

	while (want < max && want < RISK_BUCKETS_MAX)
		want <<= 1;
	if (want > rk.nbuckets) {
		if ((nb = calloc(want, sizeof(*nb))) == NULL) {
			if (rk.buckets == NULL)
				return -1;
		} else {
			for (i = 0; i < rk.nbuckets; i++)
				for (u = rk.buckets[i]; u != NULL; u = next) {
					next = u->hnext;
					u->hnext = nb[u->hash & (want - 1)];
					nb[u->hash & (want - 1)] = u;
				}
			free(rk.buckets);
			rk.buckets = nb;
			rk.nbuckets = want;
		}
	}
	while (rk.nusers > 0 && rk.nusers >= max)
		risk_user_drop(TAILQ_FIRST(&rk.lru));
	return 0;
}

/* user's entry, made when create is set; marked most recent.  Locked. */
static struct risk_user *
risk_user_get(const char *user, size_t len, uint32_t h, size_t max,
    int create)
{
	struct risk_user	*u;

	for (u = rk.buckets != NULL ? rk.buckets[h & (rk.nbuckets - 1)] :
	    NULL; u != NULL; u = u->hnext)
		if (u->hash == h && strlen(u->name) == len &&
		    strncasecmp(u->name, user, len) == 0)
			break;
	if (u == NULL) {
		if (!create || risk_room(max) == -1 ||
		    (u = calloc(1, sizeof(*u) + len + 1)) == NULL)
			return NULL;
		memcpy(u->name, user, len);
		u->name[len] = '\0';
		u->hash = h;
		u->hnext = rk.buckets[h & (rk.nbuckets - 1)];
		rk.buckets[h & (rk.nbuckets - 1)] = u;
		rk.nusers++;
	} else
		TAILQ_REMOVE(&rk.lru, u, lru);
	TAILQ_INSERT_TAIL(&rk.lru, u, lru);
	return u;
}

/* u's window for rule r (emptied if r's count changed on reload). */
static struct risk_win *
risk_win_get(struct risk_user *u, const struct conf_risk *r)
{
	struct risk_win	*w, *nw;
	size_t		 i;

	for (i = 0; i < u->nwin; i++)
		if (strcmp(u->win[i].rule, r->name) == 0)
			break;
	if (i == u->nwin) {
		nw = reallocarray(u->win, u->nwin + 1, sizeof(*nw));
		if (nw == NULL)
			return NULL;
		u->win = nw;
		w = &u->win[u->nwin];
		memset(w, 0, sizeof(*w));
		if ((w->rule = strdup(r->name)) == NULL)
			return NULL;
		w->count = r->count;
		u->nwin++;
	} else
		w = &u->win[i];
	if (w->count != r->count) {
		/* Three of five is not three of four: start over. */
		w->count = r->count;
		w->n = w->head = 0;
	}
	return w;
}

/* Room for one more event in w (w->n < w->count).  -1: out of memory. */
static int
risk_win_grow(struct risk_win *w)
{
	int64_t	*t;
	int	 size, i;

	if (w->n < w->size)
		return 0;
	size = w->size < 4 ? 4 : w->size * 2;
	if (size > w->count)
		size = w->count;
	if ((t = calloc(size, sizeof(*t))) == NULL)
		return -1;
	for (i = 0; i < w->n; i++)	/* unwrapped: the oldest first */
		t[i] = w->t[(w->head + i) % w->size];
	free(w->t);
	w->t = t;
	w->size = size;
	w->head = 0;
	return 0;
}

/*
 * One event at now in w for rule r: 1 when it completes the count (the
 * window is then emptied and *span the time its events took), 0 when
 * not, -1 when out of memory (the event is not counted).
 */
static int
risk_win_add(struct risk_win *w, const struct conf_risk *r, int64_t now,
    int64_t *span)
{
	int64_t	oldest = now - (int64_t)r->within * 1000;

	while (w->n > 0 && w->t[w->head] < oldest) {
		w->head = (w->head + 1) % w->size;
		w->n--;
	}
	if (risk_win_grow(w) == -1)
		return -1;
	w->t[(w->head + w->n) % w->size] = now;
	w->n++;
	if (w->n < w->count)
		return 0;
	*span = now - w->t[w->head];
	w->n = w->head = 0;
	return 1;
}

static void
risk_job_free(struct risk_job *j)
{
	if (j->conf != NULL)
		conf_unref(j->conf);
	free(j->rule);
	free(j->user);
	free(j);
}

static struct risk_job *
risk_job_new(struct config *conf, const struct conf_risk *r,
    const char *user, int64_t span)
{
	struct risk_job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	if ((j->rule = strdup(r->name)) == NULL ||
	    (j->user = strdup(user)) == NULL) {
		risk_job_free(j);
		return NULL;
	}
	j->conf = conf_ref(conf);
	j->action = r->action;
	j->directory = r->directory;
	j->when = r->when;
	j->count = r->count;
	j->span_ms = span;
	return j;
}

static const char *
risk_action_name(int action)
{
	switch (action) {
	case ACCOUNT_SIGNOUT:
		return "signout";
	case ACCOUNT_DISABLE:
		return "disable";
	case ACCOUNT_RESET_PASSWORD:
		return "reset-password";
	}
	return "?";
}

/* "block", "block/warn": what a rule counts, for the log. */
static void
risk_when_text(unsigned when, char *buf, size_t len)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} names[] = {
		{ RISK_WHEN_BLOCK, "block" },
		{ RISK_WHEN_WARN, "warn" },
		{ RISK_WHEN_MONITOR, "monitor" },
		{ RISK_WHEN_ALLOW, "allow" },
	};
	size_t	i, used = 0;
	int	n;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(when & names[i].bit) || used >= len)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? "/" : "",
		    names[i].name);
		if (n > 0)
			used += (size_t)n;
	}
}

/*
 * A user or rule name for the log: controls, '"' and non-ASCII become
 * '?' as in log_sanitize(), but a backslash stays, so that the line
 * names DOMAIN\user as the admin commands take it.
 */
static void
risk_printable(char *dst, size_t n, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < n; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >=
		    0x7f || s[i] == '"' ? '?' : s[i];
	dst[i] = '\0';
}

/* The main thread: take the queued actions, in order. */
static void
risk_run_jobs(evutil_socket_t fd, short what, void *arg)
{
	STAILQ_HEAD(, risk_job)	 batch = STAILQ_HEAD_INITIALIZER(batch);
	struct risk_job		*j;
	uint64_t		 v;
	int64_t			 secs;
	char			 who[300], msg[512], rule[128], user[RISK_USER_MAX];
	char			 kinds[64], smsg[512];
	int			 rc;

	(void)what;
	(void)arg;
	if (fd != -1)
		(void)read(fd, &v, sizeof(v));	/* EAGAIN: nothing to clear */
	pthread_mutex_lock(&rk.lock);
	STAILQ_CONCAT(&batch, &rk.jobs);
	rk.njobs = 0;
	pthread_mutex_unlock(&rk.lock);
	while ((j = STAILQ_FIRST(&batch)) != NULL) {
		STAILQ_REMOVE_HEAD(&batch, link);
		risk_printable(rule, sizeof(rule), j->rule);
		risk_printable(user, sizeof(user), j->user);
		snprintf(who, sizeof(who), "risk rule %s", rule);
		msg[0] = '\0';
		rc = account_act(j->conf, (enum account_action)j->action,
		    j->user, j->directory, who, msg, sizeof(msg));
		risk_printable(smsg, sizeof(smsg), msg);
		risk_when_text(j->when, kinds, sizeof(kinds));
		if (rc != 0 && smsg[0] == '\0')
			snprintf(smsg, sizeof(smsg), "no reason given");
		/* Rounded up: "in 1 s" means within a second. */
		secs = (j->span_ms + 999) / 1000;
		log_warnx("risk rule %s: %s had %d %s events in %lld s: %s "
		    "(%s%s%s)", rule, user, j->count, kinds,
		    (long long)(secs > 0 ? secs : 1),
		    risk_action_name(j->action), rc == 0 ? "ok" : "error",
		    smsg[0] != '\0' ? ": " : "", smsg);
		risk_job_free(j);
	}
}

/* See proxy.h. */
void
risk_observe(struct config *conf, const char *user, unsigned kinds,
    const char *host)
{
	STAILQ_HEAD(, risk_job)	 fired = STAILQ_HEAD_INITIALIZER(fired);
	const struct conf_risk	*r;
	struct risk_user	*u;
	struct risk_win		*w;
	struct risk_job		*j;
	char			 cats[RISK_CATS_MAX], name[RISK_USER_MAX];
	const char		*catp = NULL;
	size_t			 i, len, dropped = 0;
	int64_t			 now, span;
	uint32_t		 h;
	int			 any = 0, needcats = 0, failed = 0, rc;
	uint64_t		 one = 1;

	if (conf == NULL || conf->nrisks == 0 || user == NULL ||
	    (len = strlen(user)) == 0)
		return;
	/* Longer names cannot be acted on (worker_query carries 255). */
	if (len >= RISK_USER_MAX)
		return;
	for (i = 0; i < conf->nrisks; i++)
		if (conf->risks[i].when & kinds) {
			any = 1;
			if (conf->risks[i].ncategories > 0)
				needcats = 1;
		}
	if (!any)
		return;
	/*
	 * The host's categories as the policy knows them (whole-host
	 * lists: a CONNECT has no path), looked up once for every rule.
	 */
	if (needcats && host != NULL && conf->policy != NULL &&
	    policy_host_categories(conf->policy, host, cats,
	    sizeof(cats)) > 0)
		catp = cats;
	any = 0;
	for (i = 0; i < conf->nrisks; i++)
		if (risk_rule_matches(&conf->risks[i], kinds, catp))
			any = 1;
	if (!any)
		return;

	h = risk_hash(user, len);
	now = risk_now_ms();
	pthread_mutex_lock(&rk.lock);
	u = risk_user_get(user, len, h, conf->risk_max_users > 0 ?
	    (size_t)conf->risk_max_users : 1, 1);
	for (i = 0; u != NULL && i < conf->nrisks; i++) {
		r = &conf->risks[i];
		if (r->count < 1 || !risk_rule_matches(r, kinds, catp))
			continue;
		if ((w = risk_win_get(u, r)) == NULL ||
		    (rc = risk_win_add(w, r, now, &span)) == -1) {
			failed = 1;
			continue;
		}
		if (rc == 0)
			continue;
		__atomic_add_fetch(&rk.fired, 1, __ATOMIC_RELAXED);
		if (rk.njobs >= RISK_QUEUE_MAX ||
		    (j = risk_job_new(conf, r, u->name, span)) == NULL) {
			dropped++;
			continue;
		}
		STAILQ_INSERT_TAIL(&fired, j, link);
		rk.njobs++;
	}
	if (!STAILQ_EMPTY(&fired)) {
		STAILQ_CONCAT(&rk.jobs, &fired);
		/* Wake main; before risk_start, risk_start looks itself. */
		if (rk.efd != -1)
			(void)write(rk.efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&rk.lock);
	if (u == NULL || failed)
		log_warnx("risk: out of memory: an event of a user was not "
		    "counted");
	if (dropped > 0) {
		__atomic_add_fetch(&rk.dropped, dropped, __ATOMIC_RELAXED);
		risk_printable(name, sizeof(name), user);
		log_warnx("risk: %zu action%s for %s dropped: %d already wait "
		    "for the main thread", dropped, dropped == 1 ? "" : "s",
		    name, RISK_QUEUE_MAX);
	}
}

/* See proxy.h. */
int
risk_start(struct event_base *base)
{
	int	efd;
	int	pending;

	if ((efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("risk: eventfd");
		return -1;
	}
	if ((rk.ev = event_new(base, efd, EV_READ | EV_PERSIST,
	    risk_run_jobs, NULL)) == NULL || event_add(rk.ev, NULL) == -1) {
		log_warnx("risk: cannot watch the action queue");
		if (rk.ev != NULL)
			event_free(rk.ev);
		rk.ev = NULL;
		close(efd);
		return -1;
	}
	pthread_mutex_lock(&rk.lock);
	rk.efd = efd;
	pending = !STAILQ_EMPTY(&rk.jobs);
	pthread_mutex_unlock(&rk.lock);
	/* Fired before the main loop existed: run them on its first turn. */
	if (pending)
		event_active(rk.ev, EV_READ, 0);
	return 0;
}

/* See proxy.h. */
void
risk_stop(void)
{
	struct risk_job		*j;
	struct risk_user	*u;
	size_t			 n = 0;
	int			 efd;

	if (rk.ev != NULL) {
		event_free(rk.ev);
		rk.ev = NULL;
	}
	pthread_mutex_lock(&rk.lock);
	efd = rk.efd;
	rk.efd = -1;
	while ((j = STAILQ_FIRST(&rk.jobs)) != NULL) {
		STAILQ_REMOVE_HEAD(&rk.jobs, link);
		risk_job_free(j);
		n++;
	}
	rk.njobs = 0;
	while ((u = TAILQ_FIRST(&rk.lru)) != NULL)
		risk_user_drop(u);
	free(rk.buckets);
	rk.buckets = NULL;
	rk.nbuckets = 0;
	pthread_mutex_unlock(&rk.lock);
	if (efd != -1)
		close(efd);
	if (n > 0)
		log_warnx("risk: %zu action%s not taken: the gateway stopped "
		    "first", n, n == 1 ? "" : "s");
}

/* See proxy.h. */
uint64_t
risk_fired_total(void)
{
	return __atomic_load_n(&rk.fired, __ATOMIC_RELAXED);
}

/* See proxy.h. */
size_t
risk_users(void)
{
	size_t	n;

	pthread_mutex_lock(&rk.lock);
	n = rk.nusers;
	pthread_mutex_unlock(&rk.lock);
	return n;
}
