/*
 * The directory thread: the LDAP searches of the whole process, the
 * group lookups' and the ldap NTLM backend's.
 *
 * One thread with its own event_base owns the LDAP connections
 * (dir_conn.c), so that no worker ever waits for the directory, not even
 * for a TLS handshake inside libldap (ldaps:// or StartTLS: one blocking
 * call, bounded by `timeout`).  It keeps two: "ldap groups" for the group
 * lookups and "ldap" for the NTLM backend, each made when the config asks
 * for it, so that each keeps its own log lines, backoff and queue.
 *
 * Workers hand the thread fetches through its inbox (inbox.h); each fetch
 * becomes a job that runs the searches of group_mode and finishes the
 * fetch in the cache (gcache_complete), whose waiters then go back to
 * their workers.  The NTLM backend hands it tasks (struct dir_task,
 * dir.h) the same way; a task searches on the NTLM connection and posts
 * its answer back to its worker's inbox.
 *
 * The thread runs while the group lookups (auth_groups_start) or the
 * ldap NTLM backend (dir_thread_start) need it, started by whichever
 * needs it first; one thread serves both.  A separate thread for the
 * NTLM backend would not stall less: both connections go to the same
 * servers with the same TLS settings (one ldap section), so a server
 * that stalls one handshake stalls the other's too.
 *
 * group_mode (RFC 4511 searches, one connection, pipelined):
 *  - ad: the user (user_filter), then the groups whose member attribute
 *    holds the user's DN transitively, with Active Directory's in-chain
 *    matching rule (LDAP_MATCHING_RULE_IN_CHAIN, 1.2.840.113556.1.4.1941,
 *    MS-ADTS 3.1.1.3.4.4.3); and the primary group, which AD never lists
 *    in member: the group whose objectSid is the domain's SID and the
 *    user's primaryGroupID (MS-ADTS 3.1.1.1.6), with the groups it is
 *    nested in.  The server resolves nesting and loops itself.
 *  - memberof: the user's memberOf (OpenLDAP's memberof overlay), then
 *    each group's own memberOf, level by level.
 *  - member: groupOfNames (member), groupOfUniqueNames (uniqueMember)
 *    and posixGroup (memberUid, RFC 2307) searched by the user, then
 *    by each group found, level by level.
 * The walks stop after max_depth levels of nesting, never visit a group
 * twice (loops end there), and keep at most GDIR_GROUPS_MAX groups.
 *
 * The thread's state (struct gdir but inbox, up and the main thread's
 * part) is its own.  The main thread talks to it with messages through
 * the same inbox: a new config (new connections; the old ones finish
 * their jobs first) and stop.
 */
#include "config.h"

#include <sys/queue.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "dir.h"
#include "groups.h"
#include "inbox.h"
#include "proxy.h"		/* log_*() */

#define GDIR_GROUPS_MAX		4096	/* groups of one user, at most */
#define GDIR_OR_MAX		32	/* group DNs in one member search */
#define GDIR_SID_MAX		68	/* bytes of a SID (15 sub-authorities) */

enum gmsg_type {
	GM_RECONF,
	GM_STOP,
};

/* A message from the main thread. */
struct gmsg {
	struct inbox_item	 item;		/* first */
	struct gdir		*gd;
	enum gmsg_type		 type;
	struct config		*conf;		/* GM_RECONF: a reference */
};

/* A connection and the config it was made from. */
struct gconn {
	TAILQ_ENTRY(gconn)	 link;
	struct gdir		*gd;
	struct config		*conf;		/* a reference */
	struct dir_conn		*dc;
	int			 jobs;		/* running on it */
	int			 retired;	/* a newer config has its own */
};
TAILQ_HEAD(gconns, gconn);

struct gdir {
	pthread_t		 thread;
	struct event_base	*base;
	struct inbox		*inbox;		/* fetches, tasks, messages */
	struct gconns		 conns;		/* current ones, and retired */
	struct gconn		*cur;		/* the group lookups' */
	struct gconn		*ncur;		/* the NTLM backend's */
	int			 stopping;
	int			 up;		/* atomic: the last search got
						   an answer */
	time_t			 warned;	/* rate limit of error lines */

	/* the main thread's */
	int			 for_groups;	/* auth_groups_start() uses it */
	struct config		*sent;		/* the last config sent */
};

/*
 * The process's directory thread, or NULL.  Set and cleared by the main
 * thread only: started before the workers that need it get a config
 * that does, stopped after they are joined; workers read it (atomic).
 */
static struct gdir	*gdir_proc;

/* What a search of a job is for. */
enum gsearch_kind {
	GS_USER,	/* the user's entry */
	GS_INCHAIN,	/* ad: groups holding a DN, transitively */
	GS_PRIMARY,	/* ad: the primary group, by objectSid */
	GS_GROUP,	/* memberof: one group's cn and memberOf */
	GS_MEMBER,	/* member: groups holding DNs (or the uid) */
};

struct gjob;

struct gsearch {
	struct dir_search	 s;
	struct gjob		*job;
	enum gsearch_kind	 kind;
	size_t			 group;		/* GS_GROUP: which */
	char			*filter;
	char			*base;		/* when ours to free */
	int			 nentries;
};

struct ggroup {
	char		*dn;		/* normalised */
	char		*cn;		/* NULL until known */
	int		 depth;		/* 1: the user's own groups */
};

/* One fetch being answered. */
struct gjob {
	struct gdir		*gd;
	struct gconn		*conn;
	const struct conf_ldap	*cl;
	struct gfetch		*fetch;
	int			 nusers;	/* entries for the user */
	char			*user_dn;
	char			*uid;		/* for posixGroup memberUid */
	uint8_t			 sid[GDIR_SID_MAX];
	size_t			 sidlen;
	long			 primary;	/* primaryGroupID, or -1 */
	char			*primary_dn;	/* ad: the primary group */
	struct ggroup		*g;
	size_t			 ng, capg;
	size_t			 level_start;	/* groups of the level being
						   walked: [level_start, ng) */
	int			 level;
	int			 pending;	/* searches in flight */
	int64_t			 deadline;	/* us: no new level after */
	int			 failed;
	const char		*why;		/* static */
	int			 truncated;
};

static char *attrs_ad[] = { "objectSid", "primaryGroupID", NULL };
static char *attrs_memberof[] = { "memberOf", NULL };
static char *attrs_member[] = { "uid", NULL };
static char *attrs_cn[] = { "cn", NULL };
static char *attrs_group[] = { "cn", "memberOf", NULL };

static void	 gdir_inbox_msg(struct inbox_item *);
static void	 gdir_discard_msg(struct inbox_item *);
static void	 gfetch_run(struct inbox_item *);
static void	 gfetch_discard(struct inbox_item *);
static void	 gjob_finish(struct gjob *);
static void	 gjob_search_done(struct dir_search *, enum dir_status, int,
		    const char *);
static void	 gjob_entry(struct dir_search *, LDAP *, LDAPMessage *);
static int	 gjob_search(struct gjob *, enum gsearch_kind, const char *base,
		    int scope, char *filter, char **attrs, size_t group);
static void	 gjob_next(struct gjob *);

/* Does conf's NTLM backend read the directory? */
static int
gdir_ntlm_enabled(const struct config *conf)
{
	return conf != NULL && conf->ntlm.backend == NTLM_BACKEND_LDAP &&
	    conf->ldap.enabled && conf->ldap.nuris > 0;
}

static int64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A connection from conf; who and what name it in log lines (dir.h). */
static struct gconn *
gconn_new(struct gdir *gd, const struct config *conf, const char *who,
    const char *what)
{
	struct gconn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->gd = gd;
	c->conf = conf_ref((struct config *)conf);
	if ((c->dc = dir_conn_new(gd->base, &c->conf->ldap, who, what)) ==
	    NULL) {
		conf_unref(c->conf);
		free(c);
		return NULL;
	}
	TAILQ_INSERT_HEAD(&gd->conns, c, link);
	return c;
}

/* Close c: its searches (if any) fail, their jobs finish. */
static void
gconn_free(struct gconn *c)
{
	TAILQ_REMOVE(&c->gd->conns, c, link);
	if (c->gd->cur == c)
		c->gd->cur = NULL;
	if (c->gd->ncur == c)
		c->gd->ncur = NULL;
	dir_conn_free(c->dc);
	conf_unref(c->conf);
	free(c);
}

/* From the event loop: a retired connection with no job left. */
static void
gconn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gconn	*c = arg;

	(void)fd;
	(void)what;
	if (c->jobs == 0)
		gconn_free(c);
}

/*
 * A job or task on c ended.  A retired connection goes with its last
 * one, from a fresh event: this runs inside its dir_conn's callbacks.
 */
static void
gconn_job_end(struct gconn *c)
{
	c->jobs--;
	if (c->retired && c->jobs == 0 && !c->gd->stopping)
		event_base_once(c->gd->base, -1, EV_TIMEOUT, gconn_free_cb, c,
		    NULL);
}

/* A newer config replaces c: it finishes what it runs, then closes. */
static void
gconn_retire(struct gconn *c)
{
	c->retired = 1;
	if (c->jobs == 0)
		gconn_free(c);
}

/*
 * The connections conf asks for (the directory thread, or before it
 * runs): the group lookups' when group_mode is set, the NTLM backend's
 * when it is ldap.  Each replaces the one of the older config, which
 * finishes its work first.  Out of memory, the old one stays.
 */
static void
gdir_apply(struct gdir *gd, const struct config *conf)
{
	struct gconn	*old, *c;

	old = gd->cur;
	c = NULL;
	if (auth_groups_enabled(conf) && (c = gconn_new(gd, conf,
	    "ldap groups", "group lookups use cached groups or fail")) ==
	    NULL)
		log_warnx("groups: cannot use the new config (out of memory); "
		    "keeping the old one");
	else {
		gd->cur = c;
		if (old != NULL)
			gconn_retire(old);
	}
	old = gd->ncur;
	c = NULL;
	if (gdir_ntlm_enabled(conf) && (c = gconn_new(gd, conf, "ldap",
	    "sign-in by ldap fails")) == NULL)
		log_warnx("ldap: cannot use the new config (out of memory); "
		    "keeping the old one");
	else {
		gd->ncur = c;
		if (old != NULL)
			gconn_retire(old);
	}
}

static void *
gdir_main(void *arg)
{
	struct gdir	*gd = arg;
	struct gconn	*c;

	event_base_loop(gd->base, EVLOOP_NO_EXIT_ON_EMPTY);
	/* Stopping: what still runs fails now and is answered. */
	gd->stopping = 1;
	while ((c = TAILQ_FIRST(&gd->conns)) != NULL)
		gconn_free(c);
	inbox_free(gd->inbox);
	gd->inbox = NULL;
	return NULL;
}

/*
 * Start the thread with the connections conf asks for (main thread).
 * NULL on failure.
 */
static struct gdir *
gdir_new(const struct config *conf)
{
	struct gdir	*gd;
	struct gconn	*c;

	if ((gd = calloc(1, sizeof(*gd))) == NULL)
		return NULL;
	TAILQ_INIT(&gd->conns);
	if ((gd->base = event_base_new()) == NULL)
		goto fail;
	if ((gd->inbox = inbox_new(gd->base)) == NULL)
		goto fail;
	gdir_apply(gd, conf);
	if ((auth_groups_enabled(conf) && gd->cur == NULL) ||
	    (gdir_ntlm_enabled(conf) && gd->ncur == NULL))
		goto fail;
	gd->sent = conf_ref((struct config *)conf);
	if (pthread_create(&gd->thread, NULL, gdir_main, gd) != 0)
		goto fail;
	/* Workers see the thread only once it runs. */
	__atomic_store_n(&gdir_proc, gd, __ATOMIC_RELEASE);
	return gd;

 fail:
	while ((c = TAILQ_FIRST(&gd->conns)) != NULL)
		gconn_free(c);
	conf_unref(gd->sent);
	if (gd->inbox != NULL)
		inbox_free(gd->inbox);
	if (gd->base != NULL)
		event_base_free(gd->base);
	free(gd);
	return NULL;
}

static const char *
gdir_mode_name(const struct config *conf)
{
	return conf->ldap.group_mode == GROUP_MODE_AD ? "ad" :
	    conf->ldap.group_mode == GROUP_MODE_MEMBEROF ? "memberof" :
	    "member";
}

/*
 * The group lookups' start (groups.c).  The thread may run already, for
 * the NTLM backend: it then takes the group lookups too.  The fetches
 * name their cache (gfetch->gc): gc is not kept here.
 */
struct gdir *
gdir_start(struct gcache *gc, const struct config *conf)
{
	struct gdir	*gd;

	(void)gc;
	if ((gd = gdir_proc) != NULL) {
		gd->for_groups = 1;
		gdir_reconf(gd, conf);
		log_info("groups: group lookups on the directory thread "
		    "(group_mode %s, cache of %d users)", gdir_mode_name(conf),
		    conf->ldap.cache_size);
		return gd;
	}
	if ((gd = gdir_new(conf)) == NULL) {
		log_warnx("groups: cannot start the directory thread");
		return NULL;
	}
	gd->for_groups = 1;
	log_info("groups: directory thread started (group_mode %s, cache of "
	    "%d users)", gdir_mode_name(conf), conf->ldap.cache_size);
	return gd;
}

/* Post a message to the thread (main thread). */
static void
gdir_send(struct gdir *gd, enum gmsg_type type, const struct config *conf)
{
	struct gmsg	*m;

	/*
	 * The group lookups and the NTLM backend both hand the thread each
	 * new config: the second time it is the same one, and changes
	 * nothing (a new config would make new connections).
	 */
	if (type == GM_RECONF) {
		if (conf == gd->sent)
			return;
		conf_unref(gd->sent);
		gd->sent = conf_ref((struct config *)conf);
	}

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		log_warnx("groups: out of memory");
		return;
	}
	m->item.done = gdir_inbox_msg;
	m->item.discard = gdir_discard_msg;
	m->gd = gd;
	m->type = type;
	m->conf = conf_ref((struct config *)conf);
	inbox_expect(gd->inbox);
	inbox_post(gd->inbox, &m->item);
}

void
gdir_reconf(struct gdir *gd, const struct config *conf)
{
	gdir_send(gd, GM_RECONF, conf);
}

void
gdir_stop(struct gdir *gd)
{
	__atomic_store_n(&gdir_proc, NULL, __ATOMIC_RELEASE);
	gdir_send(gd, GM_STOP, NULL);
	pthread_join(gd->thread, NULL);
	event_base_free(gd->base);
	conf_unref(gd->sent);
	free(gd);
}

int
gdir_up(struct gdir *gd)
{
	return __atomic_load_n(&gd->up, __ATOMIC_RELAXED);
}

/* The thread: a message from the main thread. */
static void
gdir_inbox_msg(struct inbox_item *it)
{
	struct gmsg	*m = (struct gmsg *)it;
	struct gdir	*gd = m->gd;

	switch (m->type) {
	case GM_RECONF:
		/* New connections (none for what is off now). */
		gdir_apply(gd, m->conf);
		break;
	case GM_STOP:
		event_base_loopbreak(gd->base);
		break;
	}
	conf_unref(m->conf);
	free(m);
}

static void
gdir_discard_msg(struct inbox_item *it)
{
	struct gmsg	*m = (struct gmsg *)it;

	conf_unref(m->conf);
	free(m);
}

/*
 * A user name for a log line: printable ASCII as it is (a name's
 * backslash included, as the sign-in logs it), anything else '?'.
 */
static void
log_name(char *dst, size_t n, const char *s, size_t len)
{
	size_t	i, o = 0;

	for (i = 0; i < len && o + 1 < n; i++)
		dst[o++] = (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	dst[o] = '\0';
}

/*
 * Finish fetch f with groups (NULL: failed, why says) and post its
 * waiters.  Any thread (the directory thread, or a discard).
 */
static void
gfetch_finish(struct gcache *gc, struct gfetch *f, struct auth_groups *groups,
    int64_t stale_ttl, const char *why)
{
	struct gwaiters	 out;
	char		 user[128];
	long		 age;

	TAILQ_INIT(&out);
	log_name(user, sizeof(user), f->key, f->keylen);
	gcache_complete(gc, f, groups, mono_us(), stale_ttl, &out, &age);
	if (age >= 0)
		log_warnx("groups: %s; the cached groups of %s serve (stale, "
		    "%ld s old)", why != NULL ? why : "directory unreachable",
		    user, age);
	groups_deliver(&out);
}

void
gdir_dispatch(struct gdir *gd, struct gfetch *f)
{
	if (gd == NULL || gd->inbox == NULL) {
		gfetch_finish(f->gc, f, NULL, 0, "no directory thread");
		return;
	}
	f->item.done = gfetch_run;
	f->item.discard = gfetch_discard;
	f->gd = gd;
	inbox_expect(gd->inbox);
	inbox_post(gd->inbox, &f->item);
}

/* The thread is gone: the fetch fails (any thread). */
static void
gfetch_discard(struct inbox_item *it)
{
	struct gfetch	*f = (struct gfetch *)it;

	gfetch_finish(f->gc, f, NULL, 0, "directory thread stopped");
}

/* A name for log lines: at most 128 bytes, controls replaced. */
static void
gjob_user(const struct gjob *j, char *buf, size_t len)
{
	log_name(buf, len, j->fetch->key, j->fetch->keylen);
}

/* Log an error of the directory (not "unreachable") at most every 10 s. */
static void
gjob_warn(struct gjob *j, const char *what, int err)
{
	char	user[128];
	time_t	now = time(NULL);

	if (now - j->gd->warned < 10)
		return;
	j->gd->warned = now;
	gjob_user(j, user, sizeof(user));
	log_warnx("groups: %s: %s%s%s", user, what, err != 0 ? ": " : "",
	    err != 0 ? ldap_err2string(err) : "");
}

/* A DN in the one string form we compare (RFC 4514), malloc'ed. */
static char *
dn_norm(const char *dn)
{
	char	*out = NULL, *s;

	if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAP, &out,
	    LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || out == NULL)
		return strdup(dn);
	s = strdup(out);
	ldap_memfree(out);
	return s;
}

/* The value of a DN's first RDN ("Finance" of "cn=Finance,..."). */
static char *
dn_rdn_value(const char *dn)
{
	LDAPDN	 ldn = NULL;
	char	*s = NULL;

	if (ldap_str2dn(dn, &ldn, LDAP_DN_FORMAT_LDAP) == LDAP_SUCCESS &&
	    ldn != NULL && ldn[0] != NULL && ldn[0][0] != NULL)
		s = strndup(ldn[0][0]->la_value.bv_val,
		    ldn[0][0]->la_value.bv_len);
	if (ldn != NULL)
		ldap_dnfree(ldn);
	return s != NULL ? s : strdup(dn);
}

/* The group of normalised DN dn, or NULL. */
static struct ggroup *
gjob_group(struct gjob *j, const char *dn)
{
	size_t	i;

	for (i = 0; i < j->ng; i++)
		if (strcasecmp(j->g[i].dn, dn) == 0)
			return &j->g[i];
	return NULL;
}

/*
 * Add group dn (as the directory wrote it) at depth, with cn if known;
 * one already there is left alone (a loop, or two paths).  The group,
 * or NULL (known already, too many, or out of memory: failed set).
 */
static struct ggroup *
gjob_add(struct gjob *j, const char *dn, const char *cn, int depth)
{
	struct ggroup	*g, *ng;
	char		*norm;

	if ((norm = dn_norm(dn)) == NULL) {
		j->failed = 1;
		j->why = "out of memory";
		return NULL;
	}
	if ((g = gjob_group(j, norm)) != NULL) {
		free(norm);
		if (g->cn == NULL && cn != NULL)
			g->cn = strdup(cn);
		return NULL;
	}
	if (j->ng >= GDIR_GROUPS_MAX) {
		free(norm);
		if (!j->truncated)
			gjob_warn(j, "more than 4096 groups; the rest are "
			    "left out", 0);
		j->truncated = 1;
		return NULL;
	}
	if (j->ng == j->capg) {
		if ((ng = reallocarray(j->g, j->capg ? j->capg * 2 : 16,
		    sizeof(*ng))) == NULL) {
			free(norm);
			j->failed = 1;
			j->why = "out of memory";
			return NULL;
		}
		j->g = ng;
		j->capg = j->capg ? j->capg * 2 : 16;
	}
	g = &j->g[j->ng++];
	g->dn = norm;
	g->cn = cn != NULL ? strdup(cn) : NULL;
	g->depth = depth;
	return g;
}

static void
gjob_free(struct gjob *j)
{
	size_t	i;

	for (i = 0; i < j->ng; i++) {
		free(j->g[i].dn);
		free(j->g[i].cn);
	}
	free(j->g);
	free(j->user_dn);
	free(j->uid);
	free(j->primary_dn);
	free(j);
}

/* A dir_search's gsearch. */
static struct gsearch *
gsearch_of(struct dir_search *s)
{
	return (struct gsearch *)((char *)s - offsetof(struct gsearch, s));
}

/*
 * Start a search for j.  filter is malloc'ed and becomes the search's
 * (freed here on failure); base is copied.  0, or -1 with j failed.
 */
static int
gjob_search(struct gjob *j, enum gsearch_kind kind, const char *base,
    int scope, char *filter, char **attrs, size_t group)
{
	struct gsearch	*gs;

	if (filter == NULL || (gs = calloc(1, sizeof(*gs))) == NULL) {
		free(filter);
		j->failed = 1;
		j->why = "out of memory";
		return -1;
	}
	if ((gs->base = strdup(base)) == NULL) {
		free(filter);
		free(gs);
		j->failed = 1;
		j->why = "out of memory";
		return -1;
	}
	gs->job = j;
	gs->kind = kind;
	gs->group = group;
	gs->filter = filter;
	gs->s.base = gs->base;
	gs->s.scope = scope;
	gs->s.filter = filter;
	gs->s.attrs = attrs;
	/* The user: one entry is the answer, a second makes it ambiguous. */
	gs->s.sizelimit = kind == GS_USER ? 2 : 0;
	gs->s.entry = gjob_entry;
	gs->s.done = gjob_search_done;
	if (dir_search_start(j->conn->dc, &gs->s) == -1) {
		free(gs->filter);
		free(gs->base);
		free(gs);
		j->failed = 1;
		j->why = "directory busy (too many searches waiting)";
		return -1;
	}
	j->pending++;
	return 0;
}

/* The first value of attr as a string, malloc'ed, or NULL. */
static char *
entry_value(LDAP *ld, LDAPMessage *msg, const char *attr)
{
	struct berval	**vals;
	char		*s = NULL;

	if ((vals = ldap_get_values_len(ld, msg, attr)) == NULL)
		return NULL;
	if (vals[0] != NULL)
		s = strndup(vals[0]->bv_val, vals[0]->bv_len);
	ldap_value_free_len(vals);
	return s;
}

/* Add every value of attr (group DNs) at depth. */
static void
entry_groups(struct gjob *j, LDAP *ld, LDAPMessage *msg, const char *attr,
    int depth)
{
	struct berval	**vals;
	char		*dn;
	size_t		 i;

	if ((vals = ldap_get_values_len(ld, msg, attr)) == NULL)
		return;
	for (i = 0; vals[i] != NULL && !j->failed; i++) {
		if ((dn = strndup(vals[i]->bv_val, vals[i]->bv_len)) == NULL) {
			j->failed = 1;
			j->why = "out of memory";
			break;
		}
		gjob_add(j, dn, NULL, depth);
		free(dn);
	}
	ldap_value_free_len(vals);
}

/* The user's entry: its DN and what group_mode needs of it. */
static void
gjob_user_entry(struct gjob *j, LDAP *ld, LDAPMessage *msg)
{
	struct berval	**vals;
	char		*dn, *s;

	if (++j->nusers > 1)
		return;
	if ((dn = ldap_get_dn(ld, msg)) == NULL)
		return;
	j->user_dn = dn_norm(dn);
	ldap_memfree(dn);
	switch (j->cl->group_mode) {
	case GROUP_MODE_AD:
		vals = ldap_get_values_len(ld, msg, "objectSid");
		/* revision 1, n sub-authorities, 6 bytes authority, 4n. */
		if (vals != NULL && vals[0] != NULL &&
		    vals[0]->bv_len >= 12 && vals[0]->bv_len <= GDIR_SID_MAX &&
		    (size_t)vals[0]->bv_len == 8 + 4 *
		    (size_t)(uint8_t)vals[0]->bv_val[1]) {
			memcpy(j->sid, vals[0]->bv_val, vals[0]->bv_len);
			j->sidlen = vals[0]->bv_len;
		}
		if (vals != NULL)
			ldap_value_free_len(vals);
		if ((s = entry_value(ld, msg, "primaryGroupID")) != NULL) {
			j->primary = strtol(s, NULL, 10);
			free(s);
		}
		break;
	case GROUP_MODE_MEMBEROF:
		entry_groups(j, ld, msg, "memberOf", 1);
		break;
	default:
		j->uid = entry_value(ld, msg, "uid");
		break;
	}
}

/* One entry of one of j's searches. */
static void
gjob_entry(struct dir_search *s, LDAP *ld, LDAPMessage *msg)
{
	struct gsearch	*gs = gsearch_of(s);
	struct gjob	*j = gs->job;
	struct ggroup	*g;
	char		*dn, *cn;
	int		 depth;

	gs->nentries++;
	if (j->failed)
		return;
	if (gs->kind == GS_USER) {
		gjob_user_entry(j, ld, msg);
		return;
	}
	if (gs->kind == GS_GROUP) {
		/* memberof: the group read for its cn and its own groups. */
		g = &j->g[gs->group];
		depth = g->depth;
		if (g->cn == NULL)
			g->cn = entry_value(ld, msg, "cn");
		if (depth <= j->cl->max_depth)
			entry_groups(j, ld, msg, "memberOf", depth + 1);
		return;
	}
	if ((dn = ldap_get_dn(ld, msg)) == NULL)
		return;
	cn = entry_value(ld, msg, "cn");
	gjob_add(j, dn, cn, gs->kind == GS_MEMBER ? (int)gs->group : 1);
	if (gs->kind == GS_PRIMARY && j->primary_dn == NULL) {
		/* Its own parents come next (gjob_next). */
		j->primary_dn = dn_norm(dn);
	}
	free(cn);
	ldap_memfree(dn);
}

/* A search of j ended. */
static void
gjob_search_done(struct dir_search *s, enum dir_status st, int err,
    const char *why)
{
	struct gsearch	*gs = gsearch_of(s);
	struct gjob	*j = gs->job;
	int		 ok = 1;

	j->pending--;
	if (st == DIR_DOWN) {
		__atomic_store_n(&j->gd->up, 0, __ATOMIC_RELAXED);
		if (!j->failed) {
			j->failed = 1;
			j->why = why;
		}
	} else {
		__atomic_store_n(&j->gd->up, 1, __ATOMIC_RELAXED);
		switch (gs->kind) {
		case GS_USER:
			if (j->nusers > 1 || (err == LDAP_SIZELIMIT_EXCEEDED &&
			    j->nusers > 0)) {
				gjob_warn(j, "more than one entry matches "
				    "user_filter", 0);
				ok = 0;
				if (!j->failed)
					j->why = "ambiguous user";
			} else if (err != LDAP_SUCCESS) {
				gjob_warn(j, "the user search failed", err);
				ok = 0;
				if (!j->failed)
					j->why = "directory search failed";
			}
			break;
		case GS_GROUP:
			/* A memberOf naming a group that is gone, or hidden. */
			if (err != LDAP_SUCCESS && err != LDAP_NO_SUCH_OBJECT) {
				gjob_warn(j, "reading a group failed", err);
				ok = 0;
			}
			break;
		default:
			/* AD: continuation references (referrals are off). */
			if (err != LDAP_SUCCESS && err != LDAP_REFERRAL) {
				gjob_warn(j, "the group search failed", err);
				ok = 0;
			}
			break;
		}
		if (!ok && !j->failed) {
			j->failed = 1;
			if (j->why == NULL)
				j->why = "directory search failed";
		}
	}
	free(gs->filter);
	free(gs->base);
	free(gs);
	if (j->pending == 0)
		gjob_next(j);
}

/* A filter value for binary bytes: every byte as \XX (RFC 4515 3). */
static char *
escape_binary(const uint8_t *b, size_t len)
{
	char	*s;
	size_t	 i;

	if ((s = malloc(3 * len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		snprintf(s + 3 * i, 4, "\\%02x", b[i]);
	s[3 * len] = '\0';
	return s;
}

/* "(&(objectClass=group)(member:<in-chain>:=DN))", malloc'ed. */
static char *
filter_in_chain(const char *dn)
{
	char	*esc, *f = NULL;

	if ((esc = dir_filter_escape(dn, strlen(dn))) == NULL)
		return NULL;
	if (asprintf(&f, "(&(objectClass=group)"
	    "(member:1.2.840.113556.1.4.1941:=%s))", esc) == -1)
		f = NULL;
	free(esc);
	return f;
}

/* ad: the primary group by its SID, the domain's SID + the RID. */
static char *
filter_primary(struct gjob *j)
{
	uint8_t	 sid[GDIR_SID_MAX];
	char	*esc, *f = NULL;
	uint32_t rid = (uint32_t)j->primary;

	memcpy(sid, j->sid, j->sidlen);
	/* The last sub-authority is the user's RID: the group's instead. */
	sid[j->sidlen - 4] = rid & 0xff;
	sid[j->sidlen - 3] = (rid >> 8) & 0xff;
	sid[j->sidlen - 2] = (rid >> 16) & 0xff;
	sid[j->sidlen - 1] = (rid >> 24) & 0xff;
	if ((esc = escape_binary(sid, j->sidlen)) == NULL)
		return NULL;
	if (asprintf(&f, "(objectSid=%s)", esc) == -1)
		f = NULL;
	free(esc);
	return f;
}

/*
 * member: groups holding any of the DNs of groups [from, to) (or, for
 * the user, its DN and uid), as member, uniqueMember or memberUid.
 */
static char *
filter_member(struct gjob *j, size_t from, size_t to, int user)
{
	char	*f, *esc;
	size_t	 cap = 64, len, i, n;

	if ((f = malloc(cap)) == NULL)
		return NULL;
	len = (size_t)snprintf(f, cap, "(|");
	for (i = from; user ? i < from + 2 : i < to; i++) {
		const char *v = user ? (i == from ? j->user_dn : j->uid) :
		    j->g[i].dn;
		char *part = NULL;

		if (v == NULL)
			continue;
		if ((esc = dir_filter_escape(v, strlen(v))) == NULL)
			goto fail;
		if (user && i > from)
			n = (size_t)asprintf(&part, "(&(objectClass=posixGroup)"
			    "(memberUid=%s))", esc);
		else
			n = (size_t)asprintf(&part,
			    "(&(objectClass=groupOfNames)(member=%s))"
			    "(&(objectClass=groupOfUniqueNames)"
			    "(uniqueMember=%s))", esc, esc);
		free(esc);
		if (n == (size_t)-1)
			goto fail;
		if (len + n + 2 > cap) {
			char *nf;

			while (len + n + 2 > cap)
				cap *= 2;
			if ((nf = realloc(f, cap)) == NULL) {
				free(part);
				goto fail;
			}
			f = nf;
		}
		memcpy(f + len, part, n);
		len += n;
		free(part);
	}
	f[len++] = ')';
	f[len] = '\0';
	return f;

 fail:
	free(f);
	return NULL;
}

/* Start the searches of the next level of nesting, if any is due. */
static void
gjob_walk(struct gjob *j)
{
	size_t	from = j->level_start, to = j->ng, i, k;
	int	depth;

	j->level_start = to;
	if (from >= to)
		return;
	if (j->cl->group_mode == GROUP_MODE_MEMBEROF) {
		for (i = from; i < to && !j->failed; i++)
			(void)gjob_search(j, GS_GROUP, j->g[i].dn,
			    LDAP_SCOPE_BASE, strdup("(objectClass=*)"),
			    attrs_group, i);
		return;
	}
	/* member: the parents of this level, when nesting goes on. */
	depth = j->g[from].depth;
	if (depth > j->cl->max_depth)
		return;
	for (i = from; i < to && !j->failed; i += GDIR_OR_MAX) {
		k = i + GDIR_OR_MAX < to ? i + GDIR_OR_MAX : to;
		(void)gjob_search(j, GS_MEMBER, j->cl->group_base_dn,
		    LDAP_SCOPE_SUBTREE, filter_member(j, i, k, 0), attrs_cn,
		    (size_t)depth + 1);
	}
}

/* Every search of the last step ended: the next step, or the answer. */
static void
gjob_next(struct gjob *j)
{
	if (j->failed || j->gd->stopping) {
		gjob_finish(j);
		return;
	}
	/*
	 * Each search has `timeout`; a walk of many levels may not add
	 * them up: a request waits for its groups at most 3 x timeout.
	 */
	if (mono_us() > j->deadline) {
		gjob_warn(j, "the group search takes too long (3 x timeout); "
		    "given up", 0);
		j->failed = 1;
		j->why = "directory too slow";
		gjob_finish(j);
		return;
	}
	if (j->level == 0) {
		/* The user search ended. */
		j->level = 1;
		if (j->nusers == 0 || j->user_dn == NULL) {
			gjob_finish(j);		/* no such user */
			return;
		}
		switch (j->cl->group_mode) {
		case GROUP_MODE_AD:
			(void)gjob_search(j, GS_INCHAIN, j->cl->group_base_dn,
			    LDAP_SCOPE_SUBTREE, filter_in_chain(j->user_dn),
			    attrs_cn, 1);
			if (j->sidlen > 0 && j->primary > 0 &&
			    j->primary <= 0x7fffffffL)
				(void)gjob_search(j, GS_PRIMARY,
				    j->cl->group_base_dn, LDAP_SCOPE_SUBTREE,
				    filter_primary(j), attrs_cn, 1);
			break;
		case GROUP_MODE_MEMBEROF:
			gjob_walk(j);
			break;
		default:
			(void)gjob_search(j, GS_MEMBER, j->cl->group_base_dn,
			    LDAP_SCOPE_SUBTREE, filter_member(j, 0, 0, 1),
			    attrs_cn, 1);
			break;
		}
	} else if (j->cl->group_mode == GROUP_MODE_AD) {
		/*
		 * The primary group was found: the groups it is nested in
		 * are the user's too (the in-chain rule does not see them).
		 */
		if (j->level == 1 && j->primary_dn != NULL) {
			j->level = 2;
			(void)gjob_search(j, GS_INCHAIN, j->cl->group_base_dn,
			    LDAP_SCOPE_SUBTREE, filter_in_chain(j->primary_dn),
			    attrs_cn, 1);
		}
	} else
		gjob_walk(j);
	if (j->pending == 0)
		gjob_finish(j);
}

/* The answer: the groups found (or the failure) to the cache. */
static void
gjob_finish(struct gjob *j)
{
	struct gconn		*c = j->conn;
	struct auth_groups	*groups = NULL;
	const char		**cn = NULL, **dn = NULL;
	char			**rdn = NULL;
	const char		*why = j->why;
	size_t			 i;

	if (!j->failed) {
		cn = calloc(j->ng + 1, sizeof(*cn));
		dn = calloc(j->ng + 1, sizeof(*dn));
		rdn = calloc(j->ng + 1, sizeof(*rdn));
		for (i = 0; cn != NULL && dn != NULL && rdn != NULL &&
		    i < j->ng; i++) {
			dn[i] = j->g[i].dn;
			if ((cn[i] = j->g[i].cn) == NULL)
				cn[i] = rdn[i] = dn_rdn_value(j->g[i].dn);
			if (cn[i] == NULL)
				break;
		}
		if (cn != NULL && dn != NULL && rdn != NULL && i == j->ng)
			groups = groups_new(j->nusers > 0, j->ng, cn, dn);
		for (i = 0; rdn != NULL && i < j->ng; i++)
			free(rdn[i]);
		free(rdn);
		free(cn);
		free(dn);
		if (groups == NULL)
			why = "out of memory";
		else if (log_enabled(LOG_LVL_DEBUG)) {
			char user[128];

			gjob_user(j, user, sizeof(user));
			log_debug("groups: %s: %s, %zu groups", user,
			    j->nusers > 0 ? "found" : "not in the directory",
			    j->ng);
		}
	}
	gfetch_finish(j->fetch->gc, j->fetch, groups,
	    (int64_t)c->conf->ldap.stale_ttl * 1000000, why);
	gconn_job_end(c);
	gjob_free(j);
}

/* The thread: a fetch to answer. */
static void
gfetch_run(struct inbox_item *it)
{
	struct gfetch		*f = (struct gfetch *)it;
	struct gdir		*gd = f->gd;
	struct gconn		*c = gd->cur;
	struct dir_names	 names;
	struct gjob		*j;
	char			**attrs;

	if (gd->stopping || c == NULL) {
		gfetch_finish(f->gc, f, NULL, 0, gd->stopping ?
		    "directory thread stopping" : "group lookups are off");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		gfetch_finish(f->gc, f, NULL, (int64_t)c->conf->ldap.stale_ttl *
		    1000000, "out of memory");
		return;
	}
	j->gd = gd;
	j->conn = c;
	j->cl = &c->conf->ldap;
	j->fetch = f;
	j->primary = -1;
	j->deadline = mono_us() + 3 * (int64_t)j->cl->timeout * 1000;
	c->jobs++;
	switch (j->cl->group_mode) {
	case GROUP_MODE_AD:
		attrs = attrs_ad;
		break;
	case GROUP_MODE_MEMBEROF:
		attrs = attrs_memberof;
		break;
	default:
		attrs = attrs_member;
		break;
	}
	/* %u %d %p %m from the name, escaped (RFC 4515 3). */
	if (dir_names_parse(f->key, f->keylen, c->conf, &names) == -1) {
		j->failed = 1;
		j->why = "the user name cannot be searched for";
		gjob_finish(j);
		return;
	}
	if (gjob_search(j, GS_USER, j->cl->base_dn, LDAP_SCOPE_SUBTREE,
	    dir_filter_build(j->cl->user_filter, &names), attrs, 0) == -1)
		gjob_finish(j);
}

/*
 * The ldap NTLM backend's side of the thread.
 */

/* The thread: a task to run on the NTLM connection. */
static void
dtask_run(struct inbox_item *it)
{
	struct dir_task	*t = (struct dir_task *)it;
	struct gdir	*gd = t->gd;
	struct gconn	*c = gd->ncur;

	t->conn = NULL;
	if (gd->stopping || c == NULL) {
		/*
		 * Stopping, or a reload turned the backend off and this
		 * worker has not got that config yet: fail closed.
		 */
		t->run(t, NULL, NULL, gd->stopping ? "directory thread "
		    "stopping" : "the ldap NTLM backend is off");
		return;
	}
	t->conn = c;
	c->jobs++;
	t->run(t, c->dc, c->conf, NULL);
}

/* The thread is gone: the task answers without it (any thread). */
static void
dtask_discard(struct inbox_item *it)
{
	struct dir_task	*t = (struct dir_task *)it;

	t->discard(t);
}

int
dir_thread_submit(struct dir_task *t, struct inbox *reply)
{
	struct gdir	*gd = __atomic_load_n(&gdir_proc, __ATOMIC_ACQUIRE);

	if (gd == NULL)
		return -1;
	t->item.done = dtask_run;
	t->item.discard = dtask_discard;
	t->gd = gd;
	t->conn = NULL;
	/* Both promises first: the answer may be back before we return. */
	inbox_expect(reply);
	inbox_expect(gd->inbox);
	inbox_post(gd->inbox, &t->item);
	return 0;
}

void
dir_task_end(struct dir_task *t)
{
	struct gconn	*c = t->conn;

	t->conn = NULL;
	if (c != NULL)
		gconn_job_end(c);
}

int
dir_thread_start(const struct config *conf)
{
	struct gdir	*gd;

	if ((gd = gdir_proc) != NULL) {
		/* Running (for either): the config decides its connections. */
		gdir_reconf(gd, conf);
		return 0;
	}
	if (!gdir_ntlm_enabled(conf))
		return 0;
	if (gdir_new(conf) == NULL) {
		log_warnx("ldap: cannot start the directory thread");
		return -1;
	}
	log_info("ldap: directory thread started (the ldap NTLM backend "
	    "searches there)");
	return 0;
}

void
dir_thread_stop(void)
{
	struct gdir	*gd = gdir_proc;

	/* The group lookups' stop stops it when they use it too. */
	if (gd != NULL && !gd->for_groups)
		gdir_stop(gd);
}
