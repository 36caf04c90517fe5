/*
 * policy/ internals: the compiled matchers and the compiled policy.  Only
 * the files of policy/, the unit tests, the fuzzer and the benchmark
 * include this; every other folder goes through policy.h.
 *
 * Everything here is built once by policy_build() and read-only after,
 * so lookups need no lock.  The one piece of per-thread state is the
 * PCRE2 match data (urlre.c), kept in thread-specific storage.
 */
#ifndef IAPROXY_POLICY_INT_H
#define IAPROXY_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/socket.h>

#include "policy.h"

/* RFC 1035 2.3.4: 255 octets on the wire, 253 as dotted text. */
#define DS_NAME_MAX	253
/* A 253-octet name has at most 127 labels; a full match gives 2 hits. */
#define DS_MAXHITS	128

/* build.c: errors and warnings of a build */
struct perr {
	char		*buf;
	size_t		 len, used;
	int		 count;
	policy_warn_fn	 warn;
	void		*warn_arg;
};
void	perr_add(struct perr *, const char *file, int line, const char *fmt,
	    ...) __attribute__((format(printf, 4, 5)));
void	perr_warn(struct perr *, const char *file, int line, const char *fmt,
	    ...) __attribute__((format(printf, 4, 5)));

/* domainset.c: domain names keyed by suffix */
struct domainset;
struct ds_hit {
	uint32_t	 val;	/* the entry's value (nonzero) */
	uint32_t	 rec;	/* the entry, for domainset_name() */
	int		 exact;	/* 1: the exact value of the whole name */
};
#define DS_NAME		0	/* domainset_normalize: a DNS name */
#define DS_IPV4		1	/* an IPv4 literal */
#define DS_IPV6		2	/* an IPv6 literal (brackets removed) */
void		*ds_big_alloc(size_t len, size_t *mapped);
void		 ds_big_free(void *, size_t mapped);
struct domainset *domainset_new(size_t hint);
void		 domainset_free(struct domainset *);
int		 domainset_normalize(const char *in, size_t len, char *out,
		    size_t *outlen);
uint32_t	*domainset_value(struct domainset *, const char *name,
		    size_t len, int suffix);
int		 domainset_freeze(struct domainset *);
size_t		 domainset_match(const struct domainset *, const char *name,
		    size_t len, int exact_only, struct ds_hit *hits,
		    size_t maxhits);
const char	*domainset_name(const struct domainset *, uint32_t rec);
size_t		 domainset_count(const struct domainset *);
size_t		 domainset_memory(const struct domainset *);

/* tagset.c: interned sets of small integers (the values of the index) */
struct tagsets {
	size_t		 nwords;	/* 64-bit words per set */
	uint64_t	*bits;		/* set i at bits[i * nwords] */
	uint32_t	 n, cap;
	uint32_t	*slots;		/* intern table: set index + 1 */
	size_t		 nslots;
	uint32_t	 last_set, last_tag, last_res;	/* one-entry cache */
};
int		 tagsets_init(struct tagsets *, unsigned ntags);
void		 tagsets_free(struct tagsets *);
uint32_t	 tagsets_add(struct tagsets *, uint32_t set, unsigned tag);
static inline int
tagsets_has(const struct tagsets *ts, uint32_t set, unsigned tag)
{
	return ((ts->bits[(size_t)set * ts->nwords + tag / 64] >>
	    (tag % 64)) & 1);
}

/* category.c: the destination index and the list files */
struct url_item {
	uint32_t	 next;		/* index + 1 of the next, 0: end */
	uint32_t	 path;		/* offset in paths */
	uint32_t	 pathlen;
	uint32_t	 tag;
};
struct catindex {
	struct domainset *hosts;	/* value: a tagset */
	struct tagsets	 tags;
	struct domainset *urlhosts;	/* value: url_item index + 1 */
	struct url_item	*urls;
	size_t		 nurls, urlcap;
	char		*paths;
	size_t		 pathlen, pathcap;
};
struct url_hit {
	uint32_t	 item;		/* index in urls */
	uint32_t	 rec;		/* the host entry in urlhosts */
};
int		 catindex_init(struct catindex *, unsigned ntags, size_t hint);
void		 catindex_free(struct catindex *);
int		 catindex_add_domain(struct catindex *, const char *name,
		    size_t len, int suffix, unsigned tag);
int		 catindex_add_url(struct catindex *, const char *host,
		    size_t hostlen, const char *path, size_t pathlen,
		    unsigned tag);
int		 catindex_freeze(struct catindex *);
size_t		 catindex_match_urls(const struct catindex *,
		    const char *host, size_t hostlen, int exact_only,
		    const char *path, size_t pathlen, struct url_hit *hits,
		    size_t maxhits);
/* Parse one line of a list: 1 entry, 0 blank/comment, -1 bad (*why). */
int		 category_parse_domain(const char *line, size_t len,
		    char *out, size_t *outlen, const char **why);
int		 category_parse_url(const char *line, size_t len,
		    char *host, size_t *hostlen, const char **path,
		    size_t *pathlen, const char **why);
/* Load a list file into idx under tag; errors/warnings to e. */
int		 category_load(struct catindex *, const char *path, int urls,
		    unsigned tag, const char *catname, const char *file,
		    int line, struct perr *e, size_t *count);
/* The categories of a blacklist folder, sorted: name, has domains/urls. */
struct catdir_ent {
	char		*name;		/* "adult", "recreation/humor" */
	char		*domains;	/* path, or NULL */
	char		*urls;		/* path, or NULL */
};
int		 category_scan_dir(const char *dir, struct catdir_ent **out,
		    size_t *n, char *err, size_t errlen);
void		 category_free_dir(struct catdir_ent *, size_t);

/* cidrset.c: sets of IPv4/IPv6 blocks */
struct cidrset;
struct cidrset	*cidrset_new(void);
void		 cidrset_free(struct cidrset *);
int		 cidrset_add(struct cidrset *, const char *text);
int		 cidrset_freeze(struct cidrset *);
int		 cidrset_match(const struct cidrset *, const struct sockaddr *);
/* The block (as written) that contains sa, for explain; NULL if none. */
const char	*cidrset_which(const struct cidrset *, const struct sockaddr *);

/* tzfile.c: time zones from TZif files (RFC 8536) */
struct tz_date {
	char		 kind;		/* 'J' (Jn), 'n' (n), 'M' (Mm.w.d) */
	int		 n, m, w, d;
	int32_t		 secs;		/* local time of day, may exceed 24h */
};
struct tz_rule {
	int32_t		 std_off, dst_off;	/* seconds east of UTC */
	int		 has_dst;
	struct tz_date	 start, end;
	char		 std_abbr[16], dst_abbr[16];
};
struct tz {
	char		*name;
	int64_t		*trans;
	uint8_t		*tidx;
	size_t		 ntrans;
	int32_t		*toff;
	uint8_t		*tdst;
	uint8_t		*tabbr;		/* offset in abbrs */
	size_t		 ntypes;
	char		*abbrs;
	size_t		 nabbrs;
	int		 has_rule;
	struct tz_rule	 rule;
};
struct tz_local {
	int32_t		 off;		/* seconds east of UTC */
	int		 isdst;
	const char	*abbr;
};
int		 tz_load(const char *dir, const char *name, struct tz **out,
		    char *err, size_t errlen);
int		 tz_parse(const uint8_t *buf, size_t len, struct tz *,
		    char *err, size_t errlen);
int		 tz_parse_rule(const char *s, struct tz_rule *);
void		 tz_free(struct tz *);
void		 tz_lookup(const struct tz *, int64_t t, struct tz_local *);
int64_t		 tz_days_from_civil(int64_t y, int m, int d);
void		 tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* schedule.c: weekdays and time ranges in a time zone */
struct sched_range {
	uint16_t	 start, end;	/* minutes; end <= start: past 0:00 */
};
struct sched {
	char		*name;
	char		*file;
	int		 line;
	uint8_t		 days;		/* bit 0 Sunday .. bit 6 Saturday */
	struct sched_range *ranges;
	size_t		 nranges;
	const struct tz	*tz;		/* owned by the policy */
	char		*text;		/* "mon-fri 08:00-18:00", for explain */
};
int		 sched_parse_days(const char *, uint8_t *days);
int		 sched_parse_range(const char *, struct sched_range *);
/* Local time of now in s's zone and whether s holds then. */
int		 sched_match(const struct sched *, time_t now,
		    struct tz_local *lt, int64_t *local);

/* urlre.c: PCRE2 patterns on URLs */
struct urlre;
struct urlre	*urlre_compile(const char *pattern, char *err, size_t errlen);
void		 urlre_free(struct urlre *);
/* 1 match, 0 no match, -1 error (match limit, out of memory). */
int		 urlre_match(const struct urlre *, const char *subj,
		    size_t len);

/* The compiled policy. */
struct pol_cond {
	uint8_t		 kind;		/* enum policy_cond */
	uint8_t		 neg;
	char		**vals;		/* as written (methods upper-cased) */
	uint16_t	*lens;		/* their lengths */
	size_t		 nvals;
	union {
		uint32_t	 tag;		/* dst_domain: its index tag */
		unsigned	 schemes;	/* bit per enum policy_scheme */
		struct cidrset	*cidrs;		/* src, dst_ip */
		struct {
			uint16_t	*lo, *hi;
		} ports;
		uint32_t	*ids;		/* category, schedule, group */
		struct urlre	**re;
	} u;
};

struct pol_rule {
	char		*name;
	char		*file;
	int		 line;
	enum policy_action action, monitor_action;
	enum policy_auth auth;
	long		 warn_ttl;
	struct pol_cond	*conds;		/* sorted by kind */
	size_t		 nconds;
};

struct pol_category {
	char		*name;
	int		 loaded;
	size_t		 ndomains, nurls;
};

struct policy {
	struct pol_rule	*rules;
	size_t		 nrules;
	enum policy_action default_action;
	long		 warn_ttl;
	int		 needs_dst_ip;

	struct pol_category *cats;
	size_t		 ncats;
	struct catindex	 idx;		/* tags: categories, then dst_domain
					   lists */
	struct sched	*scheds;
	size_t		 nscheds;
	struct tz	**tzs;
	size_t		 ntzs;
	char		**groups;	/* distinct group names of all rules */
	size_t		 ngroups;
	uint32_t	*ghash;		/* their ids + 1, by lower-case hash */
	size_t		 nghash;	/* a power of two, or 0 */
	double		 load_seconds;

	/*
	 * Rule index (eval.c): a rule with a positive dst_domain or
	 * category condition can only match a host found under that list.
	 * Bitmaps of nrw words over the rules: the rules keyed by nothing
	 * (always tried), those keyed by each tag, and the union of those
	 * for each tagset of the index.  nrw 0: no index, try every rule.
	 */
	size_t		 nrw;
	uint64_t	*always;
	uint64_t	*tagrules;	/* ntags * nrw */
	uint64_t	*setrules;	/* idx.tags.n * nrw */
	unsigned	 ntags;
};

/* build.c */
#define POLICY_RULEIDX_MAXW	64	/* index up to 4096 rules */
#define POLICY_GMEMO		256	/* groups remembered per request */
uint32_t	 policy_group_hash(const char *);

#endif
