/*
 * policy_build(): from the config's plain description (struct policy_src)
 * to the compiled, immutable struct policy.
 *
 * Like the rest of the config (relayd, nginx -t), the whole description
 * is checked and every problem reported, each as "FILE:LINE: message",
 * before the answer: a rule naming an unknown network, category or
 * schedule, a bad CIDR, regex, port, method, time range or time zone, a
 * list file that cannot be read.  One error and the build fails: a
 * reload then keeps the old policy.
 *
 * Order of work: time zones and schedules; category names (blocks, then
 * the category_dir folders, scanned); the destination index, sized from
 * the list files; the lists; the rules, whose dst_domain lists join the
 * same index; last, the index is frozen to its final size.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy_int.h"

#define PB_WARN_TTL	3600	/* an acknowledged warning lasts an hour */
#define PB_MSG_MAX	1024

static const char *const pb_cond_names[POLICY_NCOND + 1] = {
	[POLICY_C_NETWORK] = "network",
	[POLICY_C_SCHEME] = "scheme",
	[POLICY_C_PORT] = "port",
	[POLICY_C_METHOD] = "method",
	[POLICY_C_USER] = "user",
	[POLICY_C_SRC] = "src",
	[POLICY_C_GROUP] = "group",
	[POLICY_C_DST_DOMAIN] = "dst_domain",
	[POLICY_C_CATEGORY] = "category",
	[POLICY_C_SCHEDULE] = "schedule",
	[POLICY_C_URL_REGEX] = "url_regex",
	[POLICY_C_DST_IP] = "dst_ip",
	[POLICY_C_AUTH] = "auth",
};

static const char *const pb_action_names[] = {
	[POLICY_ALLOW] = "allow",
	[POLICY_BLOCK] = "block",
	[POLICY_WARN] = "warn",
	[POLICY_MONITOR] = "monitor",
};

static const char *const pb_auth_names[] = {
	[POLICY_AUTH_ANY] = "any",
	[POLICY_AUTH_REQUIRED] = "required",
	[POLICY_AUTH_NONE] = "none",
};

/* The state of one build. */
struct pb {
	struct policy		*p;
	const struct policy_src	*src;
	const char *const	*nets;
	size_t			 nnets;
	struct perr		 e;
	unsigned		 nexttag;	/* next dst_domain list tag */
	char			**catpath;	/* per category: domains */
	char			**caturl;	/* per category: urls */
	size_t			*ncatpath, *ncaturl;
	const char		**catfile;	/* where it was declared */
	int			*catline;
	const struct policy_category_src **catsrc;
	const struct tz		*systz;		/* /etc/localtime, once */
};

static void	 pb_msg(struct perr *, int, const char *, int, const char *,
		    va_list) __attribute__((format(printf, 5, 0)));

static void
pb_msg(struct perr *e, int warn, const char *file, int line,
    const char *fmt, va_list ap)
{
	char	 msg[PB_MSG_MAX], full[PB_MSG_MAX + 256], *s;
	size_t	 len, room;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (file != NULL && line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s", file, line, msg);
	else if (file != NULL)
		snprintf(full, sizeof(full), "%s: %s", file, msg);
	else
		snprintf(full, sizeof(full), "%s", msg);
	/* Names come from files: no escape sequences to the terminal. */
	for (s = full; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	if (warn) {
		if (e->warn != NULL)
			e->warn(e->warn_arg, full);
		return;
	}
	e->count++;
	if (e->buf == NULL || e->len == 0 || e->used + 1 >= e->len)
		return;
	room = e->len - e->used;
	if (e->used > 0) {
		e->buf[e->used++] = '\n';
		room--;
	}
	len = strlen(full);
	if (len >= room)
		len = room - 1;
	memcpy(e->buf + e->used, full, len);
	e->used += len;
	e->buf[e->used] = '\0';
}

/*
 * An error at file:line (line 0: the file only; file NULL: neither),
 * appended to the build's message buffer.
 */
void
perr_add(struct perr *e, const char *file, int line, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	pb_msg(e, 0, file, line, fmt, ap);
	va_end(ap);
}

/* A warning: to the caller's warn function, if any; the build goes on. */
void
perr_warn(struct perr *e, const char *file, int line, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	pb_msg(e, 1, file, line, fmt, ap);
	va_end(ap);
}

/* "dst_domain", "not_dst_domain"... -- the config's option names. */
const char *
policy_cond_name(int cond)
{
	if (cond < 0 || cond > POLICY_C_AUTH)
		return ("?");
	return (pb_cond_names[cond]);
}

/* The condition named name (without "not_"), or -1. */
int
policy_cond_parse(const char *name)
{
	int	i;

	for (i = 0; i < POLICY_NCOND; i++)
		if (strcmp(name, pb_cond_names[i]) == 0)
			return (i);
	return (-1);
}

const char *
policy_action_name(enum policy_action a)
{
	if ((unsigned)a > POLICY_MONITOR)
		return ("?");
	return (pb_action_names[a]);
}

int
policy_action_parse(const char *s)
{
	int	i;

	for (i = 0; i <= POLICY_MONITOR; i++)
		if (strcasecmp(s, pb_action_names[i]) == 0)
			return (i);
	return (-1);
}

const char *
policy_auth_name(enum policy_auth a)
{
	if ((unsigned)a > POLICY_AUTH_NONE)
		return ("?");
	return (pb_auth_names[a]);
}

/* "required" or "none" (the config's values; "any" is the default). */
int
policy_auth_parse(const char *s)
{
	int	i;

	for (i = 0; i <= POLICY_AUTH_NONE; i++)
		if (strcasecmp(s, pb_auth_names[i]) == 0)
			return (i);
	return (-1);
}

/*
 * A path of a list file: absolute as is; relative to the directory of
 * the config file that names it (file), so that a config and its lists
 * move together.
 */
static char *
pb_path(const char *file, const char *path)
{
	const char	*slash;
	char		*out;

	if (path[0] == '/' || file == NULL ||
	    (slash = strrchr(file, '/')) == NULL)
		return (strdup(path));
	if (asprintf(&out, "%.*s/%s", (int)(slash - file), file, path) == -1)
		return (NULL);
	return (out);
}

static double
pb_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Join a list's values as "{a, b, c}" for messages and explain. */
static void
pb_join(const char *const *v, size_t n, char *buf, size_t len)
{
	size_t	i, used = 0;
	int	w;

	w = snprintf(buf, len, "{");
	used = w > 0 ? (size_t)w : 0;
	for (i = 0; i < n && used < len; i++) {
		w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
		    v[i] != NULL ? v[i] : "");
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used < len)
		snprintf(buf + used, len - used, "}");
}

/* Time zones are shared by name (NULL: the system's). */
static const struct tz *
pb_tz(struct pb *b, const char *name, const char *file, int line,
    const char *what)
{
	struct policy	*p = b->p;
	struct tz	*z, **nz;
	char		 err[512];
	size_t		 i;

	if (name == NULL && b->systz != NULL)
		return (b->systz);
	for (i = 0; name != NULL && i < p->ntzs; i++)
		if (p->tzs[i] != b->systz && strcmp(p->tzs[i]->name, name) ==
		    0)
			return (p->tzs[i]);
	if (tz_load(b->src->zoneinfo_dir, name, &z, err, sizeof(err)) == -1) {
		perr_add(&b->e, file, line, "%s: %s", what, err);
		return (NULL);
	}
	if ((nz = reallocarray(p->tzs, p->ntzs + 1, sizeof(*nz))) == NULL) {
		tz_free(z);
		perr_add(&b->e, file, line, "%s: out of memory", what);
		return (NULL);
	}
	p->tzs = nz;
	p->tzs[p->ntzs++] = z;
	if (name == NULL)
		b->systz = z;
	return (z);
}

static void
pb_schedules(struct pb *b)
{
	const struct policy_src	*src = b->src;
	struct policy		*p = b->p;
	char			 what[300], days[512], times[512];
	size_t			 i, j;

	if (src->nschedules == 0)
		return;
	if ((p->scheds = calloc(src->nschedules, sizeof(*p->scheds))) ==
	    NULL) {
		perr_add(&b->e, NULL, 0, "schedules: out of memory");
		return;
	}
	p->nscheds = src->nschedules;
	for (i = 0; i < src->nschedules; i++) {
		const struct policy_schedule_src *ss = &src->schedules[i];
		struct sched	*s = &p->scheds[i];
		const char	*zname;
		int		 line;

		s->line = ss->line;
		if ((s->name = strdup(ss->name != NULL ? ss->name : "")) ==
		    NULL || (s->file = strdup(ss->file != NULL ? ss->file :
		    "")) == NULL) {
			perr_add(&b->e, ss->file, ss->line, "out of memory");
			continue;
		}
		snprintf(what, sizeof(what), "schedule '%s'", s->name);
		if (s->name[0] == '\0')
			perr_add(&b->e, ss->file, ss->line, "schedule: the "
			    "name is empty");
		for (j = 0; j < i; j++)
			if (p->scheds[j].name != NULL &&
			    strcmp(p->scheds[j].name, s->name) == 0)
				perr_add(&b->e, ss->file, ss->line, "%s is "
				    "defined twice (first at %s:%d)", what,
				    p->scheds[j].file, p->scheds[j].line);

		line = ss->days.line > 0 ? ss->days.line : ss->line;
		for (j = 0; j < ss->days.n; j++)
			if (ss->days.v[j] == NULL ||
			    sched_parse_days(ss->days.v[j], &s->days) == -1)
				perr_add(&b->e, ss->file, line, "%s: bad day "
				    "'%s' (mon..sun, or a range like mon-fri)",
				    what, ss->days.v[j] != NULL ?
				    ss->days.v[j] : "");
		line = ss->times.line > 0 ? ss->times.line : ss->line;
		if (ss->times.n > 0 && (s->ranges = calloc(ss->times.n,
		    sizeof(*s->ranges))) == NULL) {
			perr_add(&b->e, ss->file, line, "out of memory");
			continue;
		}
		for (j = 0; j < ss->times.n; j++) {
			if (ss->times.v[j] != NULL && sched_parse_range(
			    ss->times.v[j], &s->ranges[s->nranges]) == 0) {
				s->nranges++;
				continue;
			}
			perr_add(&b->e, ss->file, line, "%s: bad time range "
			    "'%s' (HH:MM-HH:MM, e.g. 08:00-18:00 or "
			    "22:00-06:00; 00:00-24:00 for all day)", what,
			    ss->times.v[j] != NULL ? ss->times.v[j] : "");
		}

		zname = ss->timezone != NULL ? ss->timezone : src->timezone;
		s->tz = pb_tz(b, zname, ss->file, ss->line, what);

		/* "mon-fri 08:00-18:00 (Europe/Paris)" for explain. */
		pb_join(ss->days.v, ss->days.n, days, sizeof(days));
		pb_join(ss->times.v, ss->times.n, times, sizeof(times));
		if (asprintf(&s->text, "days %s times %s in %s",
		    ss->days.n ? days : "{every day}",
		    ss->times.n ? times : "{all day}",
		    s->tz != NULL ? s->tz->name : "?") == -1)
			s->text = NULL;
	}
}

/* Is name the name of category i < n? */
static int
pb_cat_find(const struct policy *p, const char *name)
{
	size_t	i;

	for (i = 0; i < p->ncats; i++)
		if (strcmp(p->cats[i].name, name) == 0)
			return ((int)i);
	return (-1);
}

/* Does some rule name category name (or not_category)? */
static int
pb_cat_used(const struct policy_src *src, const char *name)
{
	size_t	i, j;

	for (i = 0; i < src->nrules; i++) {
		const struct policy_rule_src *r = &src->rules[i];

		for (j = 0; j < r->cond[POLICY_C_CATEGORY].n; j++)
			if (r->cond[POLICY_C_CATEGORY].v[j] != NULL &&
			    strcmp(r->cond[POLICY_C_CATEGORY].v[j], name) == 0)
				return (1);
		for (j = 0; j < r->not_cond[POLICY_C_CATEGORY].n; j++)
			if (r->not_cond[POLICY_C_CATEGORY].v[j] != NULL &&
			    strcmp(r->not_cond[POLICY_C_CATEGORY].v[j],
			    name) == 0)
				return (1);
	}
	return (0);
}

/* Add a category (name owned by the caller); its index, or -1. */
static int
pb_cat_add(struct pb *b, const char *name, const char *file, int line)
{
	struct policy	*p = b->p;
	size_t		 n = p->ncats + 1;
	void		*np;

#define PB_GROW(f)	do {						\
	if ((np = reallocarray(f, n, sizeof(*(f)))) == NULL)		\
		goto nomem;						\
	f = np;								\
} while (0)
	PB_GROW(p->cats);
	PB_GROW(b->catpath);
	PB_GROW(b->caturl);
	PB_GROW(b->ncatpath);
	PB_GROW(b->ncaturl);
	PB_GROW(b->catfile);
	PB_GROW(b->catline);
	PB_GROW(b->catsrc);
#undef PB_GROW
	memset(&p->cats[n - 1], 0, sizeof(p->cats[0]));
	if ((p->cats[n - 1].name = strdup(name)) == NULL)
		goto nomem;
	b->catpath[n - 1] = b->caturl[n - 1] = NULL;
	b->ncatpath[n - 1] = b->ncaturl[n - 1] = 0;
	b->catfile[n - 1] = file;
	b->catline[n - 1] = line;
	b->catsrc[n - 1] = NULL;
	p->ncats = n;
	return ((int)n - 1);
 nomem:
	perr_add(&b->e, file, line, "category '%s': out of memory", name);
	return (-1);
}

/* The names of the categories, from blocks and folders. */
static void
pb_cat_names(struct pb *b)
{
	const struct policy_src	*src = b->src;
	struct policy		*p = b->p;
	struct catdir_ent	*de;
	char			 err[512];
	size_t			 i, j, nde;
	int			 k;

	for (i = 0; i < src->ncategories; i++) {
		const struct policy_category_src *cs = &src->categories[i];
		const char *name = cs->name != NULL ? cs->name : "";

		if (*name == '\0') {
			perr_add(&b->e, cs->file, cs->line, "category: the "
			    "name is empty");
			continue;
		}
		if ((k = pb_cat_find(p, name)) != -1) {
			perr_add(&b->e, cs->file, cs->line, "category '%s' is "
			    "defined twice (first at %s:%d)", name,
			    b->catfile[k], b->catline[k]);
			continue;
		}
		if (cs->domains_files.n + cs->urls_files.n +
		    cs->domains.n == 0)
			perr_add(&b->e, cs->file, cs->line, "category '%s': "
			    "nothing in it (domains_file, urls_file or "
			    "domains)", name);
		if ((k = pb_cat_add(b, name, cs->file, cs->line)) == -1)
			continue;
		b->catsrc[k] = cs;
	}
	for (i = 0; i < src->ncatdirs; i++) {
		const struct policy_catdir_src *cd = &src->catdirs[i];
		char *dir;

		if (cd->dir == NULL || (dir = pb_path(cd->file, cd->dir)) ==
		    NULL) {
			perr_add(&b->e, cd->file, cd->line, "category_dir: "
			    "out of memory");
			continue;
		}
		if (category_scan_dir(dir, &de, &nde, err, sizeof(err)) ==
		    -1) {
			perr_add(&b->e, cd->file, cd->line, "category_dir "
			    "'%s': %s", dir, err);
			free(dir);
			continue;
		}
		if (nde == 0)
			perr_warn(&b->e, cd->file, cd->line, "category_dir "
			    "'%s': no category folders (with a domains or "
			    "urls file) in it", dir);
		free(dir);
		for (j = 0; j < nde; j++) {
			if ((k = pb_cat_find(p, de[j].name)) != -1) {
				perr_add(&b->e, cd->file, cd->line,
				    "category '%s' of category_dir '%s' is "
				    "also defined at %s:%d", de[j].name,
				    cd->dir, b->catfile[k], b->catline[k]);
				continue;
			}
			if ((k = pb_cat_add(b, de[j].name, cd->file,
			    cd->line)) == -1)
				continue;
			/* The path moves over: de[j] gives it up. */
			if (de[j].domains != NULL) {
				b->catpath[k] = de[j].domains;
				b->ncatpath[k] = 1;
				de[j].domains = NULL;
			}
			if (de[j].urls != NULL) {
				b->caturl[k] = de[j].urls;
				b->ncaturl[k] = 1;
				de[j].urls = NULL;
			}
		}
		category_free_dir(de, nde);
	}
}

static size_t
pb_fsize(const char *path)
{
	struct stat	st;

	return (stat(path, &st) == 0 ? (size_t)st.st_size : 0);
}

/* Load one file of category k into the index. */
static void
pb_cat_file(struct pb *b, int k, const char *path, int urls, int line)
{
	struct pol_category	*c = &b->p->cats[k];
	size_t			 n;

	if (category_load(&b->p->idx, path, urls, (unsigned)k, c->name,
	    b->catfile[k], line, &b->e, &n) == 0) {
		if (urls)
			c->nurls += n;
		else
			c->ndomains += n;
	}
}

/*
 * Load the categories: every block's files and inline names, and the
 * folder categories some rule names (the others stay known, so a typo
 * in a rule is still caught, but cost nothing).
 */
static void
pb_cat_load(struct pb *b)
{
	struct policy	*p = b->p;
	char		*path, name[DS_NAME_MAX + 1];
	const char	*why;
	size_t		 i, j, len;
	int		 line;

	for (i = 0; i < p->ncats; i++) {
		const struct policy_category_src *cs = b->catsrc[i];
		struct pol_category *c = &p->cats[i];

		if (cs == NULL) {
			if (!pb_cat_used(b->src, c->name))
				continue;
			c->loaded = 1;
			if (b->catpath[i] != NULL)
				pb_cat_file(b, (int)i, b->catpath[i], 0,
				    b->catline[i]);
			if (b->caturl[i] != NULL)
				pb_cat_file(b, (int)i, b->caturl[i], 1,
				    b->catline[i]);
			continue;
		}
		c->loaded = 1;
		line = cs->domains_files.line ? cs->domains_files.line :
		    cs->line;
		for (j = 0; j < cs->domains_files.n; j++) {
			if (cs->domains_files.v[j] == NULL ||
			    (path = pb_path(cs->file,
			    cs->domains_files.v[j])) == NULL)
				continue;
			pb_cat_file(b, (int)i, path, 0, line);
			free(path);
		}
		line = cs->urls_files.line ? cs->urls_files.line : cs->line;
		for (j = 0; j < cs->urls_files.n; j++) {
			if (cs->urls_files.v[j] == NULL ||
			    (path = pb_path(cs->file, cs->urls_files.v[j])) ==
			    NULL)
				continue;
			pb_cat_file(b, (int)i, path, 1, line);
			free(path);
		}
		line = cs->domains.line ? cs->domains.line : cs->line;
		for (j = 0; j < cs->domains.n; j++) {
			const char *v = cs->domains.v[j];

			if (v == NULL || category_parse_domain(v, strlen(v),
			    name, &len, &why) != 1) {
				perr_add(&b->e, cs->file, line, "category "
				    "'%s': bad domain '%s'", c->name,
				    v != NULL ? v : "");
				continue;
			}
			if (catindex_add_domain(&p->idx, name, len, 1,
			    (unsigned)i) == -1)
				perr_add(&b->e, cs->file, line, "category "
				    "'%s': out of memory", c->name);
			else
				c->ndomains++;
		}
	}
}

/* About how many names the lists hold, to size the index once. */
static size_t
pb_cat_hint(struct pb *b)
{
	size_t	i, j, bytes = 0;
	char	*path;

	for (i = 0; i < b->p->ncats; i++) {
		const struct policy_category_src *cs = b->catsrc[i];

		if (cs == NULL) {
			if (b->catpath[i] != NULL &&
			    pb_cat_used(b->src, b->p->cats[i].name))
				bytes += pb_fsize(b->catpath[i]);
			continue;
		}
		bytes += cs->domains.n * 16;
		for (j = 0; j < cs->domains_files.n; j++) {
			if (cs->domains_files.v[j] == NULL ||
			    (path = pb_path(cs->file,
			    cs->domains_files.v[j])) == NULL)
				continue;
			bytes += pb_fsize(path);
			free(path);
		}
	}
	/* Real lists average 15-20 bytes a line. */
	return (bytes / 16 + 64);
}

/* FNV-1a of the ASCII lower case of s: the group table's hash. */
uint32_t
policy_group_hash(const char *s)
{
	uint32_t	h = 2166136261u;
	unsigned char	c;

	for (; (c = (unsigned char)*s) != '\0'; s++)
		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 16777619u;
	return (h);
}

/*
 * A hash table of the group names, so that a request's list of groups
 * (hundreds for some AD users) is matched in one pass.  Only for as many
 * groups as a request remembers (POLICY_GMEMO).
 */
static void
pb_group_table(struct pb *b)
{
	struct policy	*p = b->p;
	size_t		 n = 16, i, j;

	if (p->ngroups == 0 || p->ngroups > POLICY_GMEMO)
		return;
	while (n < p->ngroups * 2)
		n *= 2;
	if ((p->ghash = calloc(n, sizeof(*p->ghash))) == NULL)
		return;		/* the slower path still works */
	for (i = 0; i < p->ngroups; i++) {
		j = policy_group_hash(p->groups[i]) & (n - 1);
		while (p->ghash[j] != 0)
			j = (j + 1) & (n - 1);
		p->ghash[j] = (uint32_t)i + 1;
	}
	p->nghash = n;
}

/* The id of group name in the policy's group table, added if new. */
static int
pb_group(struct pb *b, const char *name, uint32_t *id)
{
	struct policy	*p = b->p;
	char		**ng;
	size_t		 i;

	for (i = 0; i < p->ngroups; i++)
		if (strcasecmp(p->groups[i], name) == 0) {
			*id = (uint32_t)i;
			return (0);
		}
	if ((ng = reallocarray(p->groups, p->ngroups + 1, sizeof(*ng))) ==
	    NULL)
		return (-1);
	p->groups = ng;
	if ((p->groups[p->ngroups] = strdup(name)) == NULL)
		return (-1);
	*id = (uint32_t)p->ngroups++;
	return (0);
}

/* RFC 9110 5.6.2 tchar. */
static int
pb_tchar(int c)
{
	return (isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) !=
	    NULL));
}

/* "443" or "8000-8999" into lo..hi. */
static int
pb_port(const char *s, uint16_t *lo, uint16_t *hi)
{
	char		*end;
	unsigned long	 a, b;

	if (!isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	a = strtoul(s, &end, 10);
	if (errno != 0 || a == 0 || a > 65535)
		return (-1);
	b = a;
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return (-1);
		b = strtoul(end + 1, &end, 10);
		if (errno != 0 || b < a || b > 65535)
			return (-1);
	}
	if (*end != '\0')
		return (-1);
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return (0);
}

/* Compile one condition list of a rule into pc. */
static void
pb_cond(struct pb *b, const struct policy_rule_src *rs, const char *rname,
    int kind, int neg, const struct policy_list *l, struct pol_cond *pc)
{
	struct policy	*p = b->p;
	const char	*file = rs->file, *v;
	char		 opt[32], err[300], name[DS_NAME_MAX + 1], *s;
	size_t		 i, j, len;
	int		 line = l->line > 0 ? l->line : rs->line, k, rv;

	snprintf(opt, sizeof(opt), "%s%s", neg ? "not_" : "",
	    pb_cond_names[kind]);
	pc->kind = (uint8_t)kind;
	pc->neg = (uint8_t)neg;
	if ((pc->vals = calloc(l->n, sizeof(*pc->vals))) == NULL ||
	    (pc->lens = calloc(l->n, sizeof(*pc->lens))) == NULL)
		goto nomem;
	for (i = 0; i < l->n; i++) {
		v = l->v[i] != NULL ? l->v[i] : "";
		if (strlen(v) > 1024) {
			perr_add(&b->e, file, line, "rule '%s': %s: value "
			    "longer than 1024 bytes", rname, opt);
			v = "";
		}
		if ((pc->vals[i] = strdup(v)) == NULL)
			goto nomem;
		pc->lens[i] = (uint16_t)strlen(v);
		pc->nvals++;
		if (*v == '\0')
			perr_add(&b->e, file, line, "rule '%s': %s: empty "
			    "value", rname, opt);
	}

	switch (kind) {
	case POLICY_C_NETWORK:
		for (i = 0; i < l->n; i++) {
			for (j = 0; j < b->nnets; j++)
				if (strcmp(pc->vals[i], b->nets[j]) == 0)
					break;
			if (j == b->nnets && *pc->vals[i] != '\0')
				perr_add(&b->e, file, line, "rule '%s': %s: "
				    "unknown network '%s' (no network block "
				    "of that name)", rname, opt, pc->vals[i]);
		}
		break;
	case POLICY_C_SCHEME:
		for (i = 0; i < l->n; i++) {
			if (strcasecmp(pc->vals[i], "http") == 0)
				pc->u.schemes |= 1u << POLICY_SCHEME_HTTP;
			else if (strcasecmp(pc->vals[i], "connect") == 0)
				pc->u.schemes |= 1u << POLICY_SCHEME_CONNECT;
			else if (strcasecmp(pc->vals[i], "https") == 0)
				perr_add(&b->e, file, line, "rule '%s': %s: "
				    "'https': HTTPS reaches a proxy as a "
				    "CONNECT tunnel: write connect", rname,
				    opt);
			else if (*pc->vals[i] != '\0')
				perr_add(&b->e, file, line, "rule '%s': %s: "
				    "unknown scheme '%s' (http or connect)",
				    rname, opt, pc->vals[i]);
		}
		break;
	case POLICY_C_PORT:
		if ((pc->u.ports.lo = calloc(l->n, sizeof(uint16_t))) ==
		    NULL || (pc->u.ports.hi = calloc(l->n,
		    sizeof(uint16_t))) == NULL)
			goto nomem;
		for (i = 0; i < l->n; i++)
			if (pb_port(pc->vals[i], &pc->u.ports.lo[i],
			    &pc->u.ports.hi[i]) == -1)
				perr_add(&b->e, file, line, "rule '%s': %s: "
				    "bad port '%s' (1-65535, or a range like "
				    "8000-8999)", rname, opt, pc->vals[i]);
		break;
	case POLICY_C_METHOD:
		for (i = 0; i < l->n; i++) {
			for (s = pc->vals[i]; *s != '\0'; s++) {
				if (!pb_tchar((unsigned char)*s))
					break;
				*s = (char)toupper((unsigned char)*s);
			}
			if (*s != '\0')
				perr_add(&b->e, file, line, "rule '%s': %s: "
				    "bad method '%s' (a token, RFC 9110 9.1)",
				    rname, opt, l->v[i]);
		}
		break;
	case POLICY_C_USER:
		break;
	case POLICY_C_SRC:
	case POLICY_C_DST_IP:
		if ((pc->u.cidrs = cidrset_new()) == NULL)
			goto nomem;
		for (i = 0; i < l->n; i++) {
			rv = cidrset_add(pc->u.cidrs, pc->vals[i]);
			if (rv == -2)
				goto nomem;
			if (rv == -1)
				perr_add(&b->e, file, line, "rule '%s': %s: "
				    "bad address block '%s' (like 10.0.0.0/8 "
				    "or 2001:db8::/32)", rname, opt,
				    pc->vals[i]);
		}
		if (cidrset_freeze(pc->u.cidrs) == -1)
			goto nomem;
		break;
	case POLICY_C_GROUP:
		if ((pc->u.ids = calloc(l->n, sizeof(uint32_t))) == NULL)
			goto nomem;
		for (i = 0; i < l->n; i++)
			if (pb_group(b, pc->vals[i], &pc->u.ids[i]) == -1)
				goto nomem;
		break;
	case POLICY_C_DST_DOMAIN:
		pc->u.tag = b->nexttag++;
		for (i = 0; i < l->n; i++) {
			v = pc->vals[i];
			k = *v == '.';
			if (*v == '\0')
				continue;
			if (domainset_normalize(v + k, strlen(v + k), name,
			    &len) == -1) {
				perr_add(&b->e, file, line, "rule '%s': %s: "
				    "bad domain '%s' (example.com for that "
				    "name, .example.com for it and all below"
				    ")", rname, opt, v);
				continue;
			}
			if (catindex_add_domain(&p->idx, name, len, k,
			    pc->u.tag) == -1)
				goto nomem;
		}
		break;
	case POLICY_C_CATEGORY:
		if ((pc->u.ids = calloc(l->n, sizeof(uint32_t))) == NULL)
			goto nomem;
		for (i = 0; i < l->n; i++) {
			if ((k = pb_cat_find(p, pc->vals[i])) == -1) {
				if (*pc->vals[i] != '\0')
					perr_add(&b->e, file, line, "rule "
					    "'%s': %s: unknown category '%s'",
					    rname, opt, pc->vals[i]);
				continue;
			}
			pc->u.ids[i] = (uint32_t)k;
		}
		break;
	case POLICY_C_SCHEDULE:
		if ((pc->u.ids = calloc(l->n, sizeof(uint32_t))) == NULL)
			goto nomem;
		for (i = 0; i < l->n; i++) {
			for (j = 0; j < p->nscheds; j++)
				if (p->scheds[j].name != NULL &&
				    strcmp(p->scheds[j].name, pc->vals[i]) == 0)
					break;
			if (j == p->nscheds) {
				if (*pc->vals[i] != '\0')
					perr_add(&b->e, file, line, "rule "
					    "'%s': %s: unknown schedule '%s'",
					    rname, opt, pc->vals[i]);
				continue;
			}
			pc->u.ids[i] = (uint32_t)j;
		}
		break;
	case POLICY_C_URL_REGEX:
		if ((pc->u.re = calloc(l->n, sizeof(*pc->u.re))) == NULL)
			goto nomem;
		for (i = 0; i < l->n; i++)
			if ((pc->u.re[i] = urlre_compile(pc->vals[i], err,
			    sizeof(err))) == NULL)
				perr_add(&b->e, file, line, "rule '%s': %s: "
				    "bad regex '%s': %s", rname, opt,
				    pc->vals[i], err);
		break;
	}
	return;
 nomem:
	perr_add(&b->e, file, line, "rule '%s': %s: out of memory", rname,
	    opt);
}

static void
pb_rules(struct pb *b)
{
	const struct policy_src	*src = b->src;
	struct policy		*p = b->p;
	size_t			 i, j, n;
	int			 k, neg;

	if (src->nrules == 0)
		return;
	if ((p->rules = calloc(src->nrules, sizeof(*p->rules))) == NULL) {
		perr_add(&b->e, NULL, 0, "rules: out of memory");
		return;
	}
	p->nrules = src->nrules;
	for (i = 0; i < src->nrules; i++) {
		const struct policy_rule_src *rs = &src->rules[i];
		struct pol_rule	*r = &p->rules[i];
		const char	*rname = rs->name != NULL ? rs->name : "";

		if ((r->name = strdup(rname)) == NULL ||
		    (r->file = strdup(rs->file != NULL ? rs->file : "")) ==
		    NULL) {
			perr_add(&b->e, rs->file, rs->line, "out of memory");
			continue;
		}
		r->line = rs->line;
		if (*rname == '\0')
			perr_add(&b->e, rs->file, rs->line, "rule: the name "
			    "is empty");
		for (j = 0; j < i; j++)
			if (p->rules[j].name != NULL &&
			    strcmp(p->rules[j].name, rname) == 0) {
				perr_add(&b->e, rs->file, rs->line, "rule '%s'"
				    " is defined twice (first at %s:%d): names "
				    "must be unique, the log reports them",
				    rname, p->rules[j].file, p->rules[j].line);
				break;
			}

		r->action = rs->action;
		if ((unsigned)rs->action > POLICY_MONITOR)
			perr_add(&b->e, rs->file, rs->line, "rule '%s': bad "
			    "action", rname);
		r->monitor_action = POLICY_BLOCK;
		if (rs->monitor_set) {
			if (rs->action != POLICY_MONITOR)
				perr_add(&b->e, rs->file, rs->line, "rule "
				    "'%s': monitor_action needs action = "
				    "monitor", rname);
			else if (rs->monitor_action == POLICY_MONITOR ||
			    (unsigned)rs->monitor_action > POLICY_MONITOR)
				perr_add(&b->e, rs->file, rs->line, "rule "
				    "'%s': monitor_action must be allow, block "
				    "or warn", rname);
			else
				r->monitor_action = rs->monitor_action;
		}
		r->auth = rs->auth;
		if ((unsigned)rs->auth > POLICY_AUTH_NONE)
			perr_add(&b->e, rs->file, rs->line, "rule '%s': bad "
			    "auth", rname);
		if (rs->auth == POLICY_AUTH_NONE &&
		    (rs->cond[POLICY_C_USER].n > 0 ||
		    rs->cond[POLICY_C_GROUP].n > 0 ||
		    rs->not_cond[POLICY_C_USER].n > 0 ||
		    rs->not_cond[POLICY_C_GROUP].n > 0))
			perr_add(&b->e, rs->file, rs->line, "rule '%s': auth = "
			    "none cannot test user or group: a request let "
			    "through without sign-in has neither", rname);
		if (rs->warn_ttl > 86400 * 365)
			perr_add(&b->e, rs->file, rs->line, "rule '%s': "
			    "warn_ttl must be at most a year", rname);
		r->warn_ttl = rs->warn_ttl <= 0 ? p->warn_ttl : rs->warn_ttl;

		for (n = 0, k = 0; k < POLICY_NCOND; k++)
			n += (rs->cond[k].n > 0) + (rs->not_cond[k].n > 0);
		if (n > 0 && (r->conds = calloc(n, sizeof(*r->conds))) ==
		    NULL) {
			perr_add(&b->e, rs->file, rs->line, "out of memory");
			continue;
		}
		for (k = 0; k < POLICY_NCOND; k++) {
			for (neg = 0; neg <= 1; neg++) {
				const struct policy_list *l = neg ?
				    &rs->not_cond[k] : &rs->cond[k];

				if (l->n == 0)
					continue;
				pb_cond(b, rs, rname, k, neg, l,
				    &r->conds[r->nconds++]);
				if (k == POLICY_C_DST_IP)
					p->needs_dst_ip = 1;
			}
		}
	}
}

/*
 * The rule index (see struct policy): which rules a host's list entries
 * make worth trying.  Built after the rules and the frozen index; left
 * off (nrw 0) for huge policies or when out of memory, which only costs
 * speed.
 */
static void
pb_ruleidx(struct pb *b)
{
	struct policy	*p = b->p;
	size_t		 nrw = (p->nrules + 63) / 64, i, j, k, w;
	const struct tagsets *ts = &p->idx.tags;
	int		 keyed = 0;

	if (p->nrules == 0 || nrw > POLICY_RULEIDX_MAXW)
		return;
	if ((p->always = calloc(nrw, 8)) == NULL ||
	    (p->tagrules = calloc((size_t)p->ntags * nrw + 1, 8)) == NULL ||
	    (p->setrules = calloc((size_t)ts->n * nrw + 1, 8)) == NULL)
		goto fail;
	for (i = 0; i < p->nrules; i++) {
		const struct pol_rule *r = &p->rules[i];
		const struct pol_cond *key = NULL;

		for (j = 0; j < r->nconds; j++) {
			const struct pol_cond *pc = &r->conds[j];

			if (pc->neg)
				continue;
			if (pc->kind == POLICY_C_DST_DOMAIN) {
				key = pc;
				break;
			}
			if (pc->kind == POLICY_C_CATEGORY && key == NULL)
				key = pc;
		}
		if (key == NULL) {
			p->always[i / 64] |= 1ULL << (i % 64);
			continue;
		}
		keyed = 1;
		if (key->kind == POLICY_C_DST_DOMAIN)
			p->tagrules[key->u.tag * nrw + i / 64] |=
			    1ULL << (i % 64);
		else
			for (j = 0; j < key->nvals; j++)
				p->tagrules[key->u.ids[j] * nrw + i / 64] |=
				    1ULL << (i % 64);
	}
	if (!keyed)
		goto fail;
	for (k = 1; k < ts->n; k++)
		for (j = 0; j < p->ntags; j++)
			if (tagsets_has(ts, (uint32_t)k, (unsigned)j))
				for (w = 0; w < nrw; w++)
					p->setrules[k * nrw + w] |=
					    p->tagrules[j * nrw + w];
	p->nrw = nrw;
	return;
 fail:
	free(p->always);
	free(p->tagrules);
	free(p->setrules);
	p->always = p->tagrules = p->setrules = NULL;
}

/*
 * Compile src into a policy (see policy.h).  network_names are the names
 * a rule's network condition may use.
 */
struct policy *
policy_build(const struct policy_src *src, const char *const *network_names,
    size_t nnetworks, char *err, size_t errlen)
{
	struct pb	 b;
	struct policy	*p;
	size_t		 i, ntags;
	double		 t0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&b, 0, sizeof(b));
	b.src = src;
	b.nets = network_names;
	b.nnets = nnetworks;
	b.e.buf = err;
	b.e.len = errlen;
	b.e.warn = src->warn;
	b.e.warn_arg = src->warn_arg;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		perr_add(&b.e, NULL, 0, "policy: out of memory");
		return (NULL);
	}
	b.p = p;

	p->default_action = src->default_action;
	if (src->default_action != POLICY_ALLOW &&
	    src->default_action != POLICY_BLOCK &&
	    src->default_action != POLICY_WARN)
		perr_add(&b.e, NULL, 0, "default action must be allow, block "
		    "or warn");
	p->warn_ttl = src->warn_ttl > 0 ? src->warn_ttl : PB_WARN_TTL;

	pb_schedules(&b);
	pb_cat_names(&b);

	/* Tags: the categories, then every rule's dst_domain lists. */
	ntags = p->ncats;
	for (i = 0; i < src->nrules; i++)
		ntags += (src->rules[i].cond[POLICY_C_DST_DOMAIN].n > 0) +
		    (src->rules[i].not_cond[POLICY_C_DST_DOMAIN].n > 0);
	b.nexttag = (unsigned)p->ncats;
	t0 = pb_now();
	if (catindex_init(&p->idx, (unsigned)ntags, pb_cat_hint(&b)) == -1) {
		perr_add(&b.e, NULL, 0, "policy index: out of memory");
		goto done;
	}
	pb_cat_load(&b);
	p->load_seconds = pb_now() - t0;
	pb_rules(&b);
	if (catindex_freeze(&p->idx) == -1)
		perr_add(&b.e, NULL, 0, "policy index: out of memory");
	p->ntags = (unsigned)ntags;
	if (b.e.count == 0) {
		pb_ruleidx(&b);
		pb_group_table(&b);
	}
	p->load_seconds = pb_now() - t0;

 done:
	for (i = 0; i < p->ncats; i++) {
		free(b.catpath != NULL ? b.catpath[i] : NULL);
		free(b.caturl != NULL ? b.caturl[i] : NULL);
	}
	free(b.catpath);
	free(b.caturl);
	free(b.ncatpath);
	free(b.ncaturl);
	free(b.catfile);
	free(b.catline);
	free(b.catsrc);
	if (b.e.count > 0) {
		policy_free(p);
		return (NULL);
	}
	return (p);
}

static void
pb_free_cond(struct pol_cond *c)
{
	size_t	i;

	switch (c->kind) {
	case POLICY_C_SRC:
	case POLICY_C_DST_IP:
		cidrset_free(c->u.cidrs);
		break;
	case POLICY_C_PORT:
		free(c->u.ports.lo);
		free(c->u.ports.hi);
		break;
	case POLICY_C_GROUP:
	case POLICY_C_CATEGORY:
	case POLICY_C_SCHEDULE:
		free(c->u.ids);
		break;
	case POLICY_C_URL_REGEX:
		if (c->u.re != NULL)
			for (i = 0; i < c->nvals; i++)
				urlre_free(c->u.re[i]);
		free(c->u.re);
		break;
	}
	for (i = 0; i < c->nvals; i++)
		free(c->vals[i]);
	free(c->vals);
	free(c->lens);
}

/* Free a policy and everything it holds.  NULL is fine. */
void
policy_free(struct policy *p)
{
	size_t	i, j;

	if (p == NULL)
		return;
	for (i = 0; i < p->nrules; i++) {
		for (j = 0; j < p->rules[i].nconds; j++)
			pb_free_cond(&p->rules[i].conds[j]);
		free(p->rules[i].conds);
		free(p->rules[i].name);
		free(p->rules[i].file);
	}
	free(p->rules);
	for (i = 0; i < p->ncats; i++)
		free(p->cats[i].name);
	free(p->cats);
	catindex_free(&p->idx);
	for (i = 0; i < p->nscheds; i++) {
		free(p->scheds[i].name);
		free(p->scheds[i].file);
		free(p->scheds[i].ranges);
		free(p->scheds[i].text);
	}
	free(p->scheds);
	for (i = 0; i < p->ntzs; i++)
		tz_free(p->tzs[i]);
	free(p->tzs);
	for (i = 0; i < p->ngroups; i++)
		free(p->groups[i]);
	free(p->groups);
	free(p->ghash);
	free(p->always);
	free(p->tagrules);
	free(p->setrules);
	free(p);
}

int
policy_needs_dst_ip(const struct policy *p)
{
	return (p->needs_dst_ip);
}

size_t
policy_nrules(const struct policy *p)
{
	return (p->nrules);
}

void
policy_get_stats(const struct policy *p, struct policy_stats *st)
{
	size_t	i;

	memset(st, 0, sizeof(*st));
	st->rules = p->nrules;
	for (i = 0; i < p->ncats; i++)
		st->categories += p->cats[i].loaded;
	st->domains = domainset_count(p->idx.hosts);
	st->urls = p->idx.nurls;
	st->memory = domainset_memory(p->idx.hosts) +
	    domainset_memory(p->idx.urlhosts) +
	    (size_t)p->idx.tags.cap * p->idx.tags.nwords * 8 +
	    p->idx.urlcap * sizeof(struct url_item) + p->idx.pathcap;
	st->load_seconds = p->load_seconds;
}
