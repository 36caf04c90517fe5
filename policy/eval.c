/*
 * The decision: the first rule, in file order, whose conditions all hold.
 *
 * One function, ev_run(), makes every decision.  policy_decide() calls it
 * without a tracer and it stops at the first failed condition of each
 * rule and at the first matching rule; policy_explain() calls it with a
 * tracer and it also evaluates every condition of every rule, saying why
 * each holds or not.  The verdict of a rule is computed from the same
 * condition results either way, so what `iaproxy explain` prints is what
 * the data path does.  All text is built only when there is a tracer: a
 * decision formats nothing and allocates nothing.
 *
 * Each condition gives one of four answers (policy.h enum policy_result):
 * it holds, it does not, it cannot be told (the input is missing: the
 * user's groups are unknown, the regex hit its match limit), or it needs
 * the origin's address (dst_ip before DNS).  not_X turns "holds" and
 * "does not" around and keeps the other two.  A rule matches only when
 * every condition holds; one that does not makes the rule fail whatever
 * the others say; otherwise an unknown skips the rule (flagged in the
 * decision), and a pending dst_ip makes the whole decision wait: rules
 * after it cannot be tried before we know whether it matches.
 *
 * Per-request work is shared between rules: the host is normalised once
 * and walked through the destination index once (so a host costs the
 * same with 5 category rules as with one); a rule index then skips, when
 * deciding, every rule whose dst_domain or category list the host is not
 * in (ev_candidates); each directory group is asked about at most once.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy_int.h"

#define EV_URLHITS	32
#define EV_GMEMO	POLICY_GMEMO
#define EV_DETAIL	512

/* Which condition best says why a rule matched (higher wins). */
static const int ev_prio[POLICY_NCOND + 1] = {
	[POLICY_C_CATEGORY] = 13,
	[POLICY_C_DST_DOMAIN] = 12,
	[POLICY_C_URL_REGEX] = 11,
	[POLICY_C_DST_IP] = 10,
	[POLICY_C_SCHEDULE] = 9,
	[POLICY_C_GROUP] = 8,
	[POLICY_C_USER] = 7,
	[POLICY_C_SRC] = 6,
	[POLICY_C_NETWORK] = 5,
	[POLICY_C_PORT] = 4,
	[POLICY_C_METHOD] = 3,
	[POLICY_C_SCHEME] = 2,
	[POLICY_C_AUTH] = 1,
};

static const char *const ev_wday[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};

/* One condition's outcome, kept for the tracer. */
struct ev_rec {
	int			 cond;
	int			 neg;
	enum policy_result	 res;
	char			 detail[EV_DETAIL];
};

struct ev_ctx {
	const struct policy		*p;
	const struct policy_request	*req;
	int				 hostkind;	/* DS_*, -1: bad */
	size_t				 hostlen;
	const struct sockaddr		*dst;
	int				 dom_done, url_done, user_done;
	int				 glist_done;
	size_t				 ulen, acctlen;
	const char			*acct;		/* account part */
	size_t				 ndom, nurl;
	const char			*path;
	size_t				 pathlen;
	uint64_t			 gasked[EV_GMEMO / 64];
	uint64_t			 gin[EV_GMEMO / 64];
	/* What the last condition matched, and the best of the rule. */
	const char			*hit_value, *hit_match;
	int				 why, why_prio;
	const char			*why_value, *why_match;
	unsigned			 unknown;	/* POLICY_DF_* */
	int				 rule_blocks;	/* the rule blocks or
							   warns (fail closed) */
	char				*detail;	/* NULL: no tracer */
	size_t				 detaillen;
	char				 host[DS_NAME_MAX + 1];
	struct sockaddr_storage		 lit;
	struct ds_hit			 dom[DS_MAXHITS];
	struct url_hit			 url[EV_URLHITS];
};

static void	 ev_say(struct ev_ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Explain only: the words of the current condition. */
#define SAY(c, ...) do {						\
	if ((c)->detail != NULL)					\
		ev_say((c), __VA_ARGS__);				\
} while (0)

static void
ev_say(struct ev_ctx *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->detail, c->detaillen, fmt, ap);
	va_end(ap);
}

/* A condition's values as "{a, b}" (explain only). */
static const char *
ev_list(const struct pol_cond *pc, char *buf, size_t len)
{
	size_t	i, used;
	int	w;

	used = (size_t)snprintf(buf, len, "{");
	for (i = 0; i < pc->nvals && used < len; i++) {
		w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
		    pc->vals[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used < len)
		snprintf(buf + used, len - used, "}");
	return (buf);
}

static void
ev_init(struct ev_ctx *c, const struct policy *p,
    const struct policy_request *req)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;

	c->p = p;
	c->req = req;
	c->dom_done = c->url_done = c->user_done = c->glist_done = 0;
	c->ndom = c->nurl = 0;
	c->path = NULL;
	c->pathlen = 0;
	memset(c->gasked, 0, sizeof(c->gasked));
	c->detail = NULL;
	c->hostkind = -1;
	c->hostlen = 0;
	c->host[0] = '\0';
	if (req->host != NULL)
		c->hostkind = domainset_normalize(req->host,
		    strnlen(req->host, DS_NAME_MAX + 3), c->host,
		    &c->hostlen);
	if (c->hostkind == -1) {
		c->hostlen = 0;
		c->host[0] = '\0';
	}

	/* An IP literal needs no DNS: dst_ip is known now. */
	c->dst = req->dst_ip;
	if (c->dst == NULL && c->hostkind == DS_IPV4) {
		memset(&c->lit, 0, sizeof(c->lit));
		sin = (struct sockaddr_in *)&c->lit;
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, c->host, &sin->sin_addr) == 1)
			c->dst = (struct sockaddr *)sin;
	} else if (c->dst == NULL && c->hostkind == DS_IPV6) {
		memset(&c->lit, 0, sizeof(c->lit));
		sin6 = (struct sockaddr_in6 *)&c->lit;
		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, c->host, &sin6->sin6_addr) == 1)
			c->dst = (struct sockaddr *)sin6;
	}
}

/* The host's entries in the destination index, once per request. */
static void
ev_domains(struct ev_ctx *c)
{
	if (c->dom_done)
		return;
	c->dom_done = 1;
	if (c->hostkind != -1)
		c->ndom = domainset_match(c->p->idx.hosts, c->host,
		    c->hostlen, c->hostkind != DS_NAME, c->dom, DS_MAXHITS);
}

/* The most specific entry of the host in list tag, or NULL. */
static const char *
ev_tag(struct ev_ctx *c, unsigned tag)
{
	size_t	i;

	ev_domains(c);
	for (i = c->ndom; i-- > 0;)
		if (tagsets_has(&c->p->idx.tags, c->dom[i].val, tag))
			return (domainset_name(c->p->idx.hosts,
			    c->dom[i].rec));
	return (NULL);
}

/* The path of the request URL: "/x?y" of "http://h/x?y". */
static void
ev_path(struct ev_ctx *c)
{
	const char	*u = c->req->url, *s;

	c->path = "";
	c->pathlen = 0;
	if (u == NULL)
		return;
	if (*u != '/') {
		if ((s = strstr(u, "://")) == NULL)
			return;
		if ((u = strchr(s + 3, '/')) == NULL) {
			/* RFC 9110 4.2.1: an empty path is "/". */
			c->path = "/";
			c->pathlen = 1;
			return;
		}
	}
	c->path = u;
	c->pathlen = strlen(u);
}

/* The URL-list entries covering the request, once per request. */
static void
ev_urls(struct ev_ctx *c)
{
	if (c->url_done)
		return;
	c->url_done = 1;
	if (c->hostkind == -1 || c->p->idx.nurls == 0)
		return;
	/* A CONNECT shows no path: only whole-host entries apply. */
	if (c->req->scheme == POLICY_SCHEME_HTTP)
		ev_path(c);
	else {
		c->path = "";
		c->pathlen = 0;
	}
	c->nurl = catindex_match_urls(&c->p->idx, c->host, c->hostlen,
	    c->hostkind != DS_NAME, c->path, c->pathlen, c->url,
	    EV_URLHITS);
}

/* Is the URL entry hit for category cat?  Its host entry, or NULL. */
static const char *
ev_url_cat(struct ev_ctx *c, unsigned cat, const char **path)
{
	const struct url_item	*it;
	size_t			 i;

	ev_urls(c);
	for (i = 0; i < c->nurl; i++) {
		it = &c->p->idx.urls[c->url[i].item];
		if (it->tag == cat) {
			*path = c->p->idx.paths + it->path;
			return (domainset_name(c->p->idx.urlhosts,
			    c->url[i].rec));
		}
	}
	return (NULL);
}

/* The user name's length and account part, once per request. */
static void
ev_user(struct ev_ctx *c)
{
	const char	*u = c->req->user, *s;

	if (c->user_done)
		return;
	c->user_done = 1;
	c->ulen = strlen(u);
	c->acct = NULL;
	if ((s = strrchr(u, '\\')) != NULL) {
		c->acct = s + 1;
		c->acctlen = c->ulen - (size_t)(s + 1 - u);
	} else if ((s = strrchr(u, '@')) != NULL) {
		c->acct = u;
		c->acctlen = (size_t)(s - u);
	}
}

/*
 * Does rule value v (vlen bytes) name the user?  "EXAMPLE\alice" and
 * "alice@EXAMPLE.TEST" must match the whole name; a bare "alice" matches
 * alice of any domain (the account part: after '\', before '@').
 * Case-insensitive, as account names are in AD and in Kerberos realms'
 * user parts as the directory stores them.
 */
static int
ev_user_match(struct ev_ctx *c, const char *v, size_t vlen)
{
	ev_user(c);
	if (vlen == c->ulen && strcasecmp(v, c->req->user) == 0)
		return (1);
	if (c->acct == NULL || vlen != c->acctlen ||
	    memchr(v, '\\', vlen) != NULL || memchr(v, '@', vlen) != NULL)
		return (0);
	return (strncasecmp(v, c->acct, vlen) == 0);
}

/*
 * The request's list of groups against the policy's group table, in one
 * pass: afterwards every group the policy names is answered.
 */
static void
ev_group_list(struct ev_ctx *c)
{
	const struct policy		*p = c->p;
	const struct policy_request	*req = c->req;
	const char			*g;
	size_t				 i, j;
	uint32_t			 id;

	c->glist_done = 1;
	memset(c->gin, 0, sizeof(c->gin));
	for (i = 0; i < req->ngroups; i++) {
		if ((g = req->groups[i]) == NULL)
			continue;
		j = policy_group_hash(g) & (p->nghash - 1);
		for (; p->ghash[j] != 0; j = (j + 1) & (p->nghash - 1)) {
			id = p->ghash[j] - 1;
			if (strcasecmp(p->groups[id], g) == 0) {
				c->gin[id / 64] |= 1ULL << (id % 64);
				break;
			}
		}
	}
}

/* Is the user in group id?  Asked once per request and group. */
static int
ev_in_group(struct ev_ctx *c, uint32_t id)
{
	const struct policy_request	*req = c->req;
	const char			*name = c->p->groups[id];
	uint64_t			 bit = 1ULL << (id % 64);
	size_t				 i;
	int				 in = 0;

	if (req->group_member == NULL && c->p->nghash > 0) {
		if (!c->glist_done)
			ev_group_list(c);
		return ((c->gin[id / 64] & bit) != 0);
	}
	if (id < EV_GMEMO && (c->gasked[id / 64] & bit))
		return ((c->gin[id / 64] & bit) != 0);
	if (req->group_member != NULL)
		in = req->group_member(req->group_arg, name) > 0;
	else
		for (i = 0; i < req->ngroups && !in; i++)
			in = req->groups[i] != NULL &&
			    (req->groups[i][0] | 0x20) == (name[0] | 0x20) &&
			    strcasecmp(req->groups[i], name) == 0;
	if (id < EV_GMEMO) {
		c->gasked[id / 64] |= bit;
		if (in)
			c->gin[id / 64] |= bit;
		else
			c->gin[id / 64] &= ~bit;
	}
	return (in);
}

/*
 * The loaded categories of the host, for explain: "news, sports" into
 * buf (len > 0); returns how many.
 */
static size_t
ev_cats(struct ev_ctx *c, char *buf, size_t len)
{
	size_t		 i, used = 0, n = 0;
	const char	*path;
	int		 w;

	buf[0] = '\0';
	for (i = 0; i < c->p->ncats; i++) {
		if (!c->p->cats[i].loaded)
			continue;
		if (ev_tag(c, (unsigned)i) == NULL && (c->p->cats[i].nurls ==
		    0 || ev_url_cat(c, (unsigned)i, &path) == NULL))
			continue;
		n++;
		if (used >= len)
			continue;
		w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
		    c->p->cats[i].name);
		if (w > 0)
			used += (size_t)w;
	}
	return (n);
}

/* "Mon 2026-03-30 10:00 CEST" of local seconds. */
static void
ev_localtime(int64_t local, const char *abbr, char *buf, size_t len)
{
	int64_t	day, y;
	int	m, d, min;

	day = local / 86400 - (local % 86400 < 0);
	min = (int)((local - day * 86400) / 60);
	tz_civil_from_days(day, &y, &m, &d);
	snprintf(buf, len, "%s %04lld-%02d-%02d %02d:%02d %s",
	    ev_wday[((day % 7) + 7 + 4) % 7], (long long)y, m, d, min / 60,
	    min % 60, abbr);
}

/*
 * Whether the request meets the positive form of condition pc.  On a
 * match, c->hit_value (the rule's value) and c->hit_match (the list entry)
 * say what matched.  With a tracer, the words go to c->detail.
 */
static enum policy_result
ev_cond(struct ev_ctx *c, const struct pol_cond *pc)
{
	const struct policy_request	*req = c->req;
	const struct policy		*p = c->p;
	char				 lb[256], tb[320], sb[300];
	const char			*s, *path;
	size_t				 i, slen;
	int				 rv, err;
	struct tz_local			 lt;
	int64_t				 local;

	switch (pc->kind) {
	case POLICY_C_NETWORK:
		if (req->network == NULL) {
			SAY(c, "the client is in no network block");
			return (POLICY_R_NOMATCH);
		}
		for (i = 0; i < pc->nvals; i++)
			if (strcmp(pc->vals[i], req->network) == 0) {
				c->hit_value = pc->vals[i];
				SAY(c, "client network '%s' is in %s",
				    req->network, ev_list(pc, lb, sizeof(lb)));
				return (POLICY_R_MATCH);
			}
		SAY(c, "client network '%s' is not in %s", req->network,
		    ev_list(pc, lb, sizeof(lb)));
		return (POLICY_R_NOMATCH);

	case POLICY_C_SCHEME:
		s = req->scheme == POLICY_SCHEME_CONNECT ? "connect" : "http";
		if (pc->u.schemes & (1u << req->scheme)) {
			c->hit_value = s;
			SAY(c, "scheme %s is in %s", s,
			    ev_list(pc, lb, sizeof(lb)));
			return (POLICY_R_MATCH);
		}
		SAY(c, "scheme %s is not in %s", s,
		    ev_list(pc, lb, sizeof(lb)));
		return (POLICY_R_NOMATCH);

	case POLICY_C_PORT:
		for (i = 0; i < pc->nvals; i++)
			if (req->port >= pc->u.ports.lo[i] &&
			    req->port <= pc->u.ports.hi[i]) {
				c->hit_value = pc->vals[i];
				SAY(c, "port %d is in %s", req->port,
				    ev_list(pc, lb, sizeof(lb)));
				return (POLICY_R_MATCH);
			}
		SAY(c, "port %d is not in %s", req->port,
		    ev_list(pc, lb, sizeof(lb)));
		return (POLICY_R_NOMATCH);

	case POLICY_C_METHOD:
		if (req->method == NULL) {
			c->unknown |= POLICY_DF_UNKNOWN;
			SAY(c, "no method given");
			return (POLICY_R_UNKNOWN);
		}
		for (i = 0; i < pc->nvals; i++)
			if (strcmp(pc->vals[i], req->method) == 0) {
				c->hit_value = pc->vals[i];
				SAY(c, "method %s is in %s", req->method,
				    ev_list(pc, lb, sizeof(lb)));
				return (POLICY_R_MATCH);
			}
		SAY(c, "method %s is not in %s", req->method,
		    ev_list(pc, lb, sizeof(lb)));
		return (POLICY_R_NOMATCH);

	case POLICY_C_USER:
		if (req->user == NULL) {
			SAY(c, "not signed in: no user");
			return (POLICY_R_NOMATCH);
		}
		for (i = 0; i < pc->nvals; i++)
			if (ev_user_match(c, pc->vals[i], pc->lens[i])) {
				c->hit_value = pc->vals[i];
				SAY(c, "user '%s' is '%s'", req->user,
				    pc->vals[i]);
				return (POLICY_R_MATCH);
			}
		SAY(c, "user '%s' is none of %s", req->user,
		    ev_list(pc, lb, sizeof(lb)));
		return (POLICY_R_NOMATCH);

	case POLICY_C_SRC:
	case POLICY_C_DST_IP:
		if (pc->kind == POLICY_C_SRC ? req->src == NULL :
		    c->dst == NULL) {
			if (pc->kind == POLICY_C_DST_IP) {
				SAY(c, "the origin's address is not known "
				    "before DNS");
				return (POLICY_R_PENDING);
			}
			c->unknown |= POLICY_DF_UNKNOWN;
			SAY(c, "no client address given");
			return (POLICY_R_UNKNOWN);
		}
		{
			const struct sockaddr *sa = pc->kind == POLICY_C_SRC ?
			    req->src : c->dst;
			char a[INET6_ADDRSTRLEN] = "?";

			if (c->detail != NULL) {
				if (sa->sa_family == AF_INET)
					inet_ntop(AF_INET, &((const struct
					    sockaddr_in *)(const void *)sa)->
					    sin_addr, a, sizeof(a));
				else if (sa->sa_family == AF_INET6)
					inet_ntop(AF_INET6, &((const struct
					    sockaddr_in6 *)(const void *)sa)->
					    sin6_addr, a, sizeof(a));
			}
			if (cidrset_match(pc->u.cidrs, sa)) {
				c->hit_value = cidrset_which(pc->u.cidrs, sa);
				SAY(c, "%s address %s is in %s",
				    pc->kind == POLICY_C_SRC ? "client" :
				    "origin", a, c->hit_value != NULL ?
				    c->hit_value : "the list");
				return (POLICY_R_MATCH);
			}
			SAY(c, "%s address %s is not in %s",
			    pc->kind == POLICY_C_SRC ? "client" : "origin", a,
			    ev_list(pc, lb, sizeof(lb)));
			return (POLICY_R_NOMATCH);
		}

	case POLICY_C_GROUP:
		if (req->user == NULL) {
			SAY(c, "not signed in: in no group");
			return (POLICY_R_NOMATCH);
		}
		if (req->groups_unknown &&
		    (req->mode & POLICY_RQ_GROUPS_FAIL_CLOSED)) {
			/*
			 * Fail closed: count the condition (after its not_)
			 * as holding in a rule that blocks or warns, as
			 * failing in one that lets through.
			 */
			c->unknown |= POLICY_DF_GROUPS_UNKNOWN;
			SAY(c, "the groups of '%s' are unknown (the directory "
			    "did not answer): counted as %s, since this rule "
			    "%s (fail closed)", req->user, c->rule_blocks ?
			    "holding" : "failing", c->rule_blocks ?
			    "blocks or warns" : "lets through");
			return ((c->rule_blocks != 0) != (pc->neg != 0) ?
			    POLICY_R_MATCH : POLICY_R_NOMATCH);
		}
		if (req->groups_unknown) {
			c->unknown |= POLICY_DF_GROUPS_UNKNOWN;
			SAY(c, "the groups of '%s' are unknown (the directory "
			    "did not answer): a rule testing groups does not "
			    "match", req->user);
			return (POLICY_R_UNKNOWN);
		}
		for (i = 0; i < pc->nvals; i++)
			if (ev_in_group(c, pc->u.ids[i])) {
				c->hit_value = pc->vals[i];
				SAY(c, "'%s' is in group '%s'", req->user,
				    pc->vals[i]);
				return (POLICY_R_MATCH);
			}
		SAY(c, "'%s' is in none of %s", req->user,
		    ev_list(pc, lb, sizeof(lb)));
		return (POLICY_R_NOMATCH);

	case POLICY_C_DST_DOMAIN:
		if (c->hostkind == -1) {
			SAY(c, "host '%.100s' is not a valid name",
			    req->host != NULL ? req->host : "");
			return (POLICY_R_NOMATCH);
		}
		if ((s = ev_tag(c, pc->u.tag)) != NULL) {
			c->hit_value = s;
			SAY(c, "'%s' matches '%s' of %s", c->host, s,
			    ev_list(pc, lb, sizeof(lb)));
			return (POLICY_R_MATCH);
		}
		SAY(c, "'%s' is not in %s", c->host,
		    ev_list(pc, lb, sizeof(lb)));
		return (POLICY_R_NOMATCH);

	case POLICY_C_CATEGORY:
		if (c->hostkind == -1) {
			SAY(c, "host '%.100s' is not a valid name",
			    req->host != NULL ? req->host : "");
			return (POLICY_R_NOMATCH);
		}
		for (i = 0; i < pc->nvals; i++) {
			const struct pol_category *cat =
			    &p->cats[pc->u.ids[i]];

			if ((s = ev_tag(c, pc->u.ids[i])) != NULL) {
				c->hit_value = cat->name;
				c->hit_match = s;
				SAY(c, "'%s' is in category '%s' (entry %s)",
				    c->host, cat->name, s);
				return (POLICY_R_MATCH);
			}
			if (cat->nurls > 0 && (s = ev_url_cat(c,
			    pc->u.ids[i], &path)) != NULL) {
				c->hit_value = cat->name;
				c->hit_match = s;
				SAY(c, "'%s%.200s' is in category '%s' (url "
				    "entry %s%s)", c->host, c->path, cat->name,
				    s, path);
				return (POLICY_R_MATCH);
			}
		}
		if (c->detail != NULL) {
			ev_cats(c, tb, sizeof(tb));
			SAY(c, "'%s' is in none of %s (its categories: %s)",
			    c->host, ev_list(pc, lb, sizeof(lb)),
			    tb[0] != '\0' ? tb : "none");
		}
		return (POLICY_R_NOMATCH);

	case POLICY_C_SCHEDULE:
		for (i = 0; i < pc->nvals; i++) {
			const struct sched *sc = &p->scheds[pc->u.ids[i]];

			rv = sched_match(sc, req->now, &lt, &local);
			if (c->detail != NULL)
				ev_localtime(local, lt.abbr, tb, sizeof(tb));
			if (rv) {
				c->hit_value = sc->name;
				SAY(c, "%s is in schedule '%s' (%s)", tb,
				    sc->name, sc->text != NULL ? sc->text :
				    "");
				return (POLICY_R_MATCH);
			}
			if (pc->nvals == 1)
				SAY(c, "%s is not in schedule '%s' (%s)", tb,
				    sc->name, sc->text != NULL ? sc->text :
				    "");
		}
		if (pc->nvals > 1)
			SAY(c, "the time is in none of %s",
			    ev_list(pc, lb, sizeof(lb)));
		return (POLICY_R_NOMATCH);

	case POLICY_C_URL_REGEX:
		/* RFC 9110 9.3.6: all a CONNECT shows is host:port. */
		if (req->scheme == POLICY_SCHEME_CONNECT) {
			if (req->host == NULL)
				return (POLICY_R_NOMATCH);
			rv = snprintf(sb, sizeof(sb), "%s:%d", req->host,
			    req->port);
			if (rv < 0 || (size_t)rv >= sizeof(sb)) {
				SAY(c, "host too long");
				return (POLICY_R_NOMATCH);
			}
			s = sb;
			slen = (size_t)rv;
		} else if ((s = req->url) == NULL) {
			c->unknown |= POLICY_DF_UNKNOWN;
			SAY(c, "no URL given");
			return (POLICY_R_UNKNOWN);
		} else
			slen = strlen(s);
		for (err = 0, i = 0; i < pc->nvals; i++) {
			if (pc->u.re[i] == NULL)
				continue;
			rv = urlre_match(pc->u.re[i], s, slen);
			if (rv == 1) {
				c->hit_value = pc->vals[i];
				SAY(c, "'%.200s' matches '%s'", s,
				    pc->vals[i]);
				return (POLICY_R_MATCH);
			}
			if (rv == -1)
				err = 1;
		}
		if (err) {
			c->unknown |= POLICY_DF_UNKNOWN;
			SAY(c, "'%.200s': a regex of %s hit its match limit "
			    "and could not tell", s, ev_list(pc, lb,
			    sizeof(lb)));
			return (POLICY_R_UNKNOWN);
		}
		SAY(c, "'%.200s' matches none of %s", s,
		    ev_list(pc, lb, sizeof(lb)));
		return (POLICY_R_NOMATCH);
	}
	return (POLICY_R_NOMATCH);
}

static enum policy_result
ev_auth(struct ev_ctx *c, const struct pol_rule *r)
{
	if (r->auth == POLICY_AUTH_NONE) {
		c->hit_value = "none";
		SAY(c, "auth = none: a sign-in exemption");
		return (POLICY_R_MATCH);
	}
	if (c->req->user == NULL) {
		SAY(c, "auth = required: not signed in");
		return (POLICY_R_NOMATCH);
	}
	c->hit_value = "required";
	SAY(c, "auth = required: signed in as '%s'", c->req->user);
	return (POLICY_R_MATCH);
}

/*
 * One rule: its verdict from its conditions' answers.  Without recs
 * (deciding) it stops at the first condition that fails; with recs
 * (explaining) it runs them all and records each.
 */
static enum policy_result
ev_rule(struct ev_ctx *c, const struct pol_rule *r, struct ev_rec *recs,
    size_t *nrec)
{
	enum policy_result	 res;
	size_t			 i, n = 0;
	int			 nomatch = 0, unknown = 0, pending = 0, kind;
	int			 neg;

	c->why = -1;
	c->why_prio = 0;
	c->why_value = c->why_match = NULL;
	c->unknown = 0;
	kind = r->action == POLICY_MONITOR ? (int)r->monitor_action :
	    (int)r->action;
	c->rule_blocks = kind == POLICY_BLOCK || kind == POLICY_WARN;
	for (i = 0; i <= r->nconds; i++) {
		/* The auth pseudo-condition first: the cheapest. */
		if (i == 0 && r->auth == POLICY_AUTH_ANY)
			continue;
		kind = i == 0 ? POLICY_C_AUTH : r->conds[i - 1].kind;
		neg = i == 0 ? 0 : r->conds[i - 1].neg;
		c->hit_value = c->hit_match = NULL;
		if (recs != NULL) {
			c->detail = recs[n].detail;
			c->detaillen = sizeof(recs[n].detail);
			recs[n].detail[0] = '\0';
		}
		res = i == 0 ? ev_auth(c, r) : ev_cond(c, &r->conds[i - 1]);
		if (neg && res == POLICY_R_MATCH)
			res = POLICY_R_NOMATCH;
		else if (neg && res == POLICY_R_NOMATCH)
			res = POLICY_R_MATCH;
		else if (res == POLICY_R_MATCH && ev_prio[kind] > c->why_prio) {
			c->why = kind;
			c->why_prio = ev_prio[kind];
			c->why_value = c->hit_value;
			c->why_match = c->hit_match;
		}
		if (recs != NULL) {
			recs[n].cond = kind;
			recs[n].neg = neg;
			recs[n++].res = res;
		}
		if (res == POLICY_R_NOMATCH) {
			nomatch = 1;
			if (recs == NULL)
				break;
		} else if (res == POLICY_R_UNKNOWN)
			unknown = 1;
		else if (res == POLICY_R_PENDING)
			pending = 1;
	}
	c->detail = NULL;
	if (nrec != NULL)
		*nrec = n;
	if (nomatch)
		return (POLICY_R_NOMATCH);
	if (unknown)
		return (POLICY_R_UNKNOWN);
	if (pending)
		return (POLICY_R_PENDING);
	return (POLICY_R_MATCH);
}

static void
ev_set(struct policy_decision *d, const struct policy *p, int i,
    const struct ev_ctx *c)
{
	const struct pol_rule	*r = &p->rules[i];

	d->action = r->action;
	if (d->monitor_rule < 0)
		d->monitored = r->action == POLICY_MONITOR ?
		    r->monitor_action : r->action;
	d->rule = i;
	d->rule_name = r->name;
	d->file = r->file;
	d->line = r->line;
	d->warn_ttl = r->warn_ttl;
	d->why = c->why;
	d->why_value = c->why_value;
	d->why_match = c->why_match;
}

/*
 * The rules worth trying for this request, as a bitmap (nrw words): the
 * unkeyed ones and those keyed by a list the host is in.  Every other
 * rule has a positive dst_domain or category condition the host fails,
 * so it cannot match -- skipping it changes no verdict and no flag (a
 * rule that fails a condition is "no match" whatever its others say).
 * With a policy of mostly per-site rules this turns 50 rule tests into a
 * handful.
 */
static void
ev_candidates(struct ev_ctx *c, uint64_t *cand)
{
	const struct policy	*p = c->p;
	const uint64_t		*m;
	size_t			 i, w, nrw = p->nrw;

	memcpy(cand, p->always, nrw * 8);
	ev_domains(c);
	for (i = 0; i < c->ndom; i++) {
		m = p->setrules + (size_t)c->dom[i].val * nrw;
		for (w = 0; w < nrw; w++)
			cand[w] |= m[w];
	}
	if (p->idx.nurls == 0)
		return;
	ev_urls(c);
	for (i = 0; i < c->nurl; i++) {
		m = p->tagrules + (size_t)p->idx.urls[c->url[i].item].tag * nrw;
		for (w = 0; w < nrw; w++)
			cand[w] |= m[w];
	}
}

/*
 * Every decision and every explanation.  fn NULL: decide (stop early,
 * format nothing).  fn set: evaluate every condition of every rule and
 * report each, the rules after the deciding one marked `after`.
 */
static int
ev_run(const struct policy *p, const struct policy_request *req,
    struct policy_decision *d, policy_trace_fn fn, void *arg)
{
	struct ev_ctx		 c;
	struct ev_rec		*recs = NULL;
	struct policy_trace	 t;
	enum policy_result	 res;
	uint64_t		 cand[POLICY_RULEIDX_MAXW];
	size_t			 i, j, nrec = 0;
	int			 decided = 0, rv = POLICY_DECIDED, idx;

	memset(d, 0, sizeof(*d));
	d->action = d->monitored = p->default_action;
	d->rule = -1;
	d->rule_name = "default";
	d->warn_ttl = p->warn_ttl;
	d->why = -1;
	d->monitor_rule = -1;
	if (fn != NULL && (recs = calloc(POLICY_NCOND * 2 + 1,
	    sizeof(*recs))) == NULL)
		fn = NULL;	/* out of memory: still decide */

	ev_init(&c, p, req);
	/* Deciding: skip the rules the index rules out.  Explaining: all. */
	if ((idx = fn == NULL && p->nrw > 0))
		ev_candidates(&c, cand);
	for (i = 0; i < p->nrules; i++) {
		const struct pol_rule *r = &p->rules[i];

		if (decided && fn == NULL)
			break;
		if (idx && ((cand[i / 64] >> (i % 64)) & 1) == 0)
			continue;
		res = ev_rule(&c, r, recs, &nrec);
		if (fn != NULL) {
			memset(&t, 0, sizeof(t));
			t.kind = POLICY_T_RULE;
			t.rule = (int)i;
			t.name = r->name;
			t.file = r->file;
			t.line = r->line;
			t.result = res;
			t.after = decided;
			t.cond = -1;
			fn(arg, &t);
			t.kind = POLICY_T_COND;
			for (j = 0; j < nrec; j++) {
				t.cond = recs[j].cond;
				t.negated = recs[j].neg;
				t.result = recs[j].res;
				t.detail = recs[j].detail;
				fn(arg, &t);
			}
		}
		if (decided)
			continue;
		switch (res) {
		case POLICY_R_MATCH:
			if (req->mode & POLICY_RQ_GROUPS_FAIL_CLOSED)
				d->flags |= c.unknown;
			if ((req->mode & POLICY_RQ_MONITOR_GOES_ON) &&
			    r->action == POLICY_MONITOR) {
				/* Noted, not decided: the rules go on. */
				if (d->monitor_rule < 0) {
					d->monitor_rule = (int)i;
					d->monitor_name = r->name;
					d->monitored = r->monitor_action;
				}
				break;
			}
			ev_set(d, p, (int)i, &c);
			decided = 1;
			break;
		case POLICY_R_PENDING:
			/* Nothing after this rule can be tried yet. */
			ev_set(d, p, (int)i, &c);
			d->flags |= POLICY_DF_PENDING;
			rv = POLICY_NEED_DST_IP;
			decided = 1;
			break;
		case POLICY_R_UNKNOWN:
			d->flags |= c.unknown;
			break;
		case POLICY_R_NOMATCH:
			break;
		}
	}
	if (fn != NULL) {
		memset(&t, 0, sizeof(t));
		t.kind = POLICY_T_DECISION;
		t.rule = d->rule;
		t.name = d->rule_name;
		t.file = d->file;
		t.line = d->line;
		t.result = rv == POLICY_NEED_DST_IP ? POLICY_R_PENDING :
		    POLICY_R_MATCH;
		t.cond = -1;
		t.decision = d;
		fn(arg, &t);
	}
	free(recs);
	return (rv);
}

/* See policy.h. */
int
policy_decide(const struct policy *p, const struct policy_request *req,
    struct policy_decision *d)
{
	return (ev_run(p, req, d, NULL, NULL));
}

/* See policy.h. */
int
policy_explain(const struct policy *p, const struct policy_request *req,
    struct policy_decision *d, policy_trace_fn fn, void *arg)
{
	return (ev_run(p, req, d, fn, arg));
}

/*
 * See policy.h.  The request is decided as it stands before any sign-in:
 * no user, so no groups; rules testing identity do not match it.
 */
int
policy_auth_exempt(const struct policy *p, const struct policy_request *req,
    struct policy_decision *d)
{
	struct policy_request	anon = *req;

	anon.user = NULL;
	anon.group_member = NULL;
	anon.group_arg = NULL;
	anon.groups = NULL;
	anon.ngroups = 0;
	anon.groups_unknown = 0;
	if (ev_run(p, &anon, d, NULL, NULL) != POLICY_DECIDED)
		return (0);
	return (d->rule >= 0 && p->rules[d->rule].auth == POLICY_AUTH_NONE);
}

/* See policy.h. */
size_t
policy_reason(const struct policy_decision *d, char *buf, size_t len)
{
	const char	*v = d->why_value != NULL ? d->why_value : "";
	int		 n;

	if (d->flags & POLICY_DF_PENDING)
		n = snprintf(buf, len, "waiting for DNS (rule tests dst_ip)");
	else if (d->rule < 0)
		n = snprintf(buf, len, "no rule matched: default action");
	else if (d->why < 0)
		n = snprintf(buf, len, "rule matches every request");
	else if (d->why == POLICY_C_CATEGORY && d->why_match != NULL)
		n = snprintf(buf, len, "category '%s' (%s)", v, d->why_match);
	else if (d->why == POLICY_C_AUTH)
		n = snprintf(buf, len, "auth %s", v);
	else
		n = snprintf(buf, len, "%s '%s'", policy_cond_name(d->why), v);
	if (n < 0)
		n = 0;
	return ((size_t)n >= len && len > 0 ? len - 1 : (size_t)n);
}

/* See policy.h. */
size_t
policy_host_categories(const struct policy *p, const char *host, char *buf,
    size_t len)
{
	struct policy_request	 req;
	struct ev_ctx		 c;
	char			 dummy[1];

	memset(&req, 0, sizeof(req));
	req.host = host;
	req.scheme = POLICY_SCHEME_CONNECT;	/* no path: whole hosts only */
	ev_init(&c, p, &req);
	if (buf == NULL || len == 0)
		return (ev_cats(&c, dummy, sizeof(dummy)));
	return (ev_cats(&c, buf, len));
}

int
policy_category_loaded(const struct policy *p, const char *name)
{
	size_t	i;

	for (i = 0; i < p->ncats; i++)
		if (p->cats[i].loaded && strcmp(p->cats[i].name, name) == 0)
			return (1);
	return (0);
}
