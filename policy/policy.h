/*
 * policy/: the Internet Access policy.  Rules say who (user, group), from
 * where (network, source address), to what (domain, address, port,
 * method, scheme, URL, category) and when (schedule) a request is
 * allowed, blocked, warned about or monitored.
 *
 * The config hands over a plain description (struct policy_src, filled
 * from whatever parser read the file) and policy_build() compiles it into
 * a struct policy: every name resolved, every CIDR, regex, time range and
 * time zone parsed, every category file loaded into one hash index.  The
 * compiled policy is immutable, so any number of worker threads may call
 * policy_decide() on it at once without a lock; its owner (the config)
 * frees it with policy_free() once no request uses it any more.  The one
 * per-thread state is PCRE2's match block, made on a thread's first
 * url_regex and freed when the thread exits.
 *
 * Nothing here touches the event loop or libconfuse: the evaluator is a
 * pure function of (policy, request, time), which is what lets `iaproxy
 * explain` and the tests run exactly the code the data path runs.
 *
 * Rule language, as the config is expected to expose it:
 *   rule "name" { COND = {v, ...}  not_COND = {v, ...}  action = ... }
 * Rules are tried in file order and the first whose conditions all hold
 * decides; when none does the default action applies.  Conditions in one
 * rule are ANDed, the values of one condition are ORed, and not_COND
 * means "none of these values".  A rule may carry both COND and not_COND
 * ("dst_domain = {.example.com} not_dst_domain = {.www.example.com}").
 * Other rule options: action = allow | block | warn | monitor;
 * monitor_action (what a monitor rule would do; block by default);
 * warn_ttl (how long a warning's acknowledgement lasts); auth = required
 * (only signed-in requests) | none (a sign-in exemption).
 *
 * Where an input is absent: a request not signed in is no user and in no
 * group, so user/group do not hold and not_user/not_group do.  A user
 * whose groups the directory could not give (groups_unknown) neither
 * holds nor fails group or not_group: the rule is skipped, the decision
 * says so (POLICY_DF_GROUPS_UNKNOWN), and `explain` shows it.  dst_ip
 * before DNS: see policy_decide().
 */
#ifndef IAPROXY_POLICY_H
#define IAPROXY_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/socket.h>

enum policy_action {
	POLICY_ALLOW,
	POLICY_BLOCK,		/* HTTP: 403 block page; CONNECT: 403 */
	POLICY_WARN,		/* HTTP: caution page with a continue link */
	POLICY_MONITOR,		/* allowed, logged as what the rule would do */
};

/*
 * `auth`: AUTH_REQUIRED rules match signed-in requests only; AUTH_NONE
 * rules are sign-in exemptions (policy_auth_exempt) and may not test the
 * user or groups, since an exempt request has neither.
 */
enum policy_auth {
	POLICY_AUTH_ANY,	/* not set: signed in or not */
	POLICY_AUTH_REQUIRED,
	POLICY_AUTH_NONE,
};

enum policy_scheme {
	POLICY_SCHEME_HTTP,	/* absolute-form request, RFC 9112 3.2.2 */
	POLICY_SCHEME_CONNECT,	/* authority-form tunnel, RFC 9110 9.3.6 */
};

/*
 * The list conditions of a rule, in the order the evaluator tries them:
 * integer and short string compares first; then the destination lists
 * (one hash walk per request, shared by every rule, then a bit test per
 * rule); addresses, users and groups (a group may mean a call into the
 * directory cache); the clock; regexes; and dst_ip last because it may
 * not be known before DNS.  The values are text, as written in the
 * config; policy_build() parses them:
 *   network     names of network blocks
 *   scheme      http | connect
 *   port        443, or a range 8000-8999
 *   method      GET, POST, ... (compared case-sensitively, RFC 9110 9.1;
 *               the config's values are upper-cased)
 *   dst_domain  "example.com" (that name only), ".example.com" (it and
 *               every name below it)
 *   category    category names
 *   src         CIDR blocks of the client address
 *   user        "alice" (any domain), "EXAMPLE\alice", "alice@EXAMPLE.TEST"
 *   group       directory group names (cn or DN), case-insensitive
 *   schedule    schedule names
 *   url_regex   PCRE2 patterns on the URL (CONNECT: "host:port")
 *   dst_ip      CIDR blocks of the origin's address (after DNS)
 */
enum policy_cond {
	POLICY_C_NETWORK,
	POLICY_C_SCHEME,
	POLICY_C_PORT,
	POLICY_C_METHOD,
	POLICY_C_DST_DOMAIN,
	POLICY_C_CATEGORY,
	POLICY_C_SRC,
	POLICY_C_USER,
	POLICY_C_GROUP,
	POLICY_C_SCHEDULE,
	POLICY_C_URL_REGEX,
	POLICY_C_DST_IP,
	POLICY_NCOND,
	POLICY_C_AUTH = POLICY_NCOND	/* in traces and reasons only */
};

/* A list of values as written; line 0 means "the rule's line". */
struct policy_list {
	const char *const	*v;
	size_t			 n;
	int			 line;
};

struct policy_rule_src {
	const char		*name;
	const char		*file;
	int			 line;
	enum policy_action	 action;
	enum policy_action	 monitor_action; /* action = monitor: what it
						   would do (block if unset) */
	int			 monitor_set;	/* monitor_action was given */
	enum policy_auth	 auth;
	long			 warn_ttl;	/* seconds; <= 0: the default */
	struct policy_list	 cond[POLICY_NCOND];
	struct policy_list	 not_cond[POLICY_NCOND];
};

/*
 * category "name" { domains_file = ...  urls_file = ...  domains = ... }
 * Paths are relative to the directory of file.  A domains file holds one
 * name per line ('#' starts a comment, "*.x" and ".x" mean x) and every
 * entry covers the name and all names below it; a urls file holds
 * "host/path" prefixes (a path can only match plain HTTP: a CONNECT
 * shows the host alone).
 */
struct policy_category_src {
	const char		*name;
	const char		*file;
	int			 line;
	struct policy_list	 domains_files;
	struct policy_list	 urls_files;
	struct policy_list	 domains;	/* inline entries */
};

/*
 * category_dir = DIR: the blacklist layout (UT1, Shalla and the like):
 * every folder below DIR holding a `domains` and/or `urls` file is a
 * category named by its path below DIR ("adult", "recreation/humor").
 * Only the categories some rule names are loaded.
 */
struct policy_catdir_src {
	const char		*dir;
	const char		*file;
	int			 line;
};

/*
 * schedule "office" { days = {mon-fri}  times = {"08:00-18:00"}
 *   timezone = "Europe/Paris" }
 * days: mon..sun (or full names), ranges "mon-fri"; none = every day.
 * times: "HH:MM-HH:MM", end exclusive, "24:00" allowed as an end; a range
 * whose end is not after its start crosses midnight and belongs to the
 * day it starts on ("fri 22:00-06:00" is Friday night until Saturday
 * 06:00).  None = all day.  Local wall-clock time of the zone.
 */
struct policy_schedule_src {
	const char		*name;
	const char		*file;
	int			 line;
	struct policy_list	 days;
	struct policy_list	 times;
	const char		*timezone;	/* IANA name, NULL: default */
};

/* A message that does not stop the build (skipped lines of a list). */
typedef void (*policy_warn_fn)(void *arg, const char *msg);

struct policy_src {
	const struct policy_rule_src	*rules;
	size_t				 nrules;
	const struct policy_category_src *categories;
	size_t				 ncategories;
	const struct policy_catdir_src	*catdirs;
	size_t				 ncatdirs;
	const struct policy_schedule_src *schedules;
	size_t				 nschedules;
	enum policy_action		 default_action;
	long				 warn_ttl;	/* <= 0: 3600 s */
	/* Schedules' default zone; NULL: the system's (/etc/localtime). */
	const char			*timezone;
	/* Where zones are read; NULL: /usr/share/zoneinfo. */
	const char			*zoneinfo_dir;
	policy_warn_fn			 warn;		/* may be NULL */
	void				*warn_arg;
};

struct policy;

/*
 * What the proxy knows about a request.  Only host is required; the
 * strings are only read during the call.  Groups: when groups_unknown
 * is set (the directory could not answer), a rule with a group or
 * not_group condition does not match, and the decision says so
 * (POLICY_DF_GROUPS_UNKNOWN).  Otherwise membership is asked of
 * group_member() when set (once per group name a rule reaches), else
 * looked up in groups[] (cn and DN strings alike; matched in one pass
 * through a hash of the policy's group names, the better choice for
 * users in hundreds of groups).  With user NULL the request is
 * unauthenticated: it is in no group, is no user, and auth = required
 * rules do not match it.  host may be in any case, with a trailing dot,
 * or an IP literal (IPv6 with or without brackets); url is the absolute
 * URI of a plain HTTP request as received, ignored for CONNECT.
 */
struct policy_request {
	const char		*user;		/* as signed in, or NULL */
	int			(*group_member)(void *arg, const char *group);
	void			*group_arg;
	const char *const	*groups;
	size_t			 ngroups;
	int			 groups_unknown;
	const char		*network;	/* client's network, or NULL */
	const struct sockaddr	*src;		/* client address */
	const char		*method;	/* "GET", "CONNECT", ... */
	enum policy_scheme	 scheme;
	const char		*host;		/* name or IP literal */
	int			 port;
	const char		*url;		/* absolute URL, or NULL */
	const struct sockaddr	*dst_ip;	/* origin, NULL before DNS */
	time_t			 now;
	unsigned		 mode;		/* POLICY_RQ_* */
};

/*
 * How the data path (and `iaproxy explain`, which must agree with it)
 * wants a request decided; 0 is the engine's plain first-match reading.
 *
 * POLICY_RQ_MONITOR_GOES_ON: a matching monitor rule does not decide.
 * Its would-be action is noted in the decision (monitor_rule, monitored;
 * the first such rule only) and the rules after it are tried, so a
 * monitor rule placed before a block rule never lets through what the
 * block rule stops.  The decision's action is then never MONITOR.
 *
 * POLICY_RQ_GROUPS_FAIL_CLOSED: when groups_unknown, a group or
 * not_group condition is counted as holding in a rule whose action (or,
 * for monitor, monitor_action) is block or warn, and as failing in any
 * other rule: with the directory down a group exception never opens
 * what it guards, and a group block still blocks.  The decision carries
 * POLICY_DF_GROUPS_UNKNOWN whenever such a guess decided it.
 */
#define POLICY_RQ_MONITOR_GOES_ON	0x01
#define POLICY_RQ_GROUPS_FAIL_CLOSED	0x02
#define POLICY_RQ_PROXY		(POLICY_RQ_MONITOR_GOES_ON | \
				 POLICY_RQ_GROUPS_FAIL_CLOSED)

/* Flags of a decision. */
#define POLICY_DF_GROUPS_UNKNOWN 0x01	/* a group rule was skipped: the
					   user's groups were unknown */
#define POLICY_DF_UNKNOWN	0x02	/* a rule was skipped for lack of an
					   input (no src, no URL, regex
					   limit) */
#define POLICY_DF_PENDING	0x04	/* a rule needs dst_ip: decide again
					   after DNS */

struct policy_decision {
	enum policy_action	 action;
	enum policy_action	 monitored;	/* for MONITOR: what the rule
						   would have done */
	int			 rule;		/* index in file order, -1: the
						   default action */
	const char		*rule_name;	/* "default" for the default */
	const char		*file;		/* where the rule is, or NULL */
	int			 line;
	long			 warn_ttl;	/* for WARN: seconds */
	unsigned		 flags;		/* POLICY_DF_* */
	/*
	 * The condition that best says why (category, then dst_domain,
	 * url_regex, dst_ip, ...), for the block page and the log; format
	 * with policy_reason().  Pointers into the policy.
	 */
	int			 why;		/* enum policy_cond, or -1 */
	const char		*why_value;	/* the rule's value that held */
	const char		*why_match;	/* list entry that matched */
	/*
	 * POLICY_RQ_MONITOR_GOES_ON: the first monitor rule that matched
	 * (-1: none), its name, and in `monitored` what it would have done.
	 */
	int			 monitor_rule;
	const char		*monitor_name;
};

/* What policy_decide() returns. */
#define POLICY_DECIDED		0
#define POLICY_NEED_DST_IP	1

/* One step of an explanation (policy_explain). */
enum policy_trace_kind {
	POLICY_T_RULE,		/* a rule: result, then its conditions */
	POLICY_T_COND,		/* one condition of that rule */
	POLICY_T_DECISION,	/* last: the decision */
};

enum policy_result {
	POLICY_R_MATCH,		/* condition holds / rule matches */
	POLICY_R_NOMATCH,
	POLICY_R_UNKNOWN,	/* an input is missing: the rule is skipped */
	POLICY_R_PENDING,	/* needs dst_ip (DNS) */
};

struct policy_trace {
	enum policy_trace_kind	 kind;
	int			 rule;		/* index, -1: default */
	const char		*name;
	const char		*file;
	int			 line;
	enum policy_result	 result;
	int			 after;		/* tried after the decision:
						   not reached */
	int			 cond;		/* POLICY_T_COND: which */
	int			 negated;	/* the not_ form */
	const char		*detail;	/* why, in words */
	const struct policy_decision *decision;	/* POLICY_T_DECISION */
};

typedef void (*policy_trace_fn)(void *arg, const struct policy_trace *);

/* build.c */
/*
 * Compile src.  network_names are the names of the config's network
 * blocks, which rules may name.  On success returns the policy (free with
 * policy_free); on failure NULL, with every problem found written to err
 * as "FILE:LINE: message" lines (newline separated, NUL terminated,
 * truncated to errlen).  Category files are read here: the caller runs it
 * off the event loop (at start, or in the reload path).
 */
struct policy	*policy_build(const struct policy_src *src,
		    const char *const *network_names, size_t nnetworks,
		    char *err, size_t errlen);
void		 policy_free(struct policy *);
/* Does some rule test dst_ip, so that a decision may wait for DNS? */
int		 policy_needs_dst_ip(const struct policy *);
size_t		 policy_nrules(const struct policy *);

/* Figures for the log after a load, and for the benchmark. */
struct policy_stats {
	size_t		 rules;
	size_t		 categories;		/* loaded */
	size_t		 domains;		/* distinct names indexed */
	size_t		 urls;			/* url entries */
	size_t		 memory;		/* bytes of the index */
	double		 load_seconds;		/* reading the lists */
};
void		 policy_get_stats(const struct policy *, struct policy_stats *);

/* Names for the config parser and the log. */
const char	*policy_cond_name(int cond);	/* "dst_domain", "auth" */
int		 policy_cond_parse(const char *name); /* -1: unknown */
const char	*policy_action_name(enum policy_action);
int		 policy_action_parse(const char *);	/* -1: unknown */
const char	*policy_auth_name(enum policy_auth);
int		 policy_auth_parse(const char *);	/* -1: unknown */

/* eval.c */
/*
 * Decide req under p: the first rule in file order whose conditions all
 * hold.  Fills *d and returns POLICY_DECIDED, or POLICY_NEED_DST_IP when
 * the first rule that could match tests dst_ip and req->dst_ip is NULL
 * (the host is a name not yet resolved): resolve, then decide again with
 * dst_ip set.  Rules before that one have already failed without DNS,
 * so a host blocked by name is refused before any DNS query.  Any thread;
 * no allocation.
 */
int		 policy_decide(const struct policy *p,
		    const struct policy_request *req,
		    struct policy_decision *d);
/*
 * The sign-in exemption: decide req as if unauthenticated (its user and
 * groups are ignored) and return 1 when the deciding rule is an
 * `auth = none` rule, so the proxy lets the request through without a
 * sign-in, under *d.  0 otherwise, also when the decision waits for DNS
 * (sign in first; decide after).
 */
int		 policy_auth_exempt(const struct policy *p,
		    const struct policy_request *req,
		    struct policy_decision *d);
/*
 * The same decision as policy_decide() (the same code: decide is explain
 * without a tracer), reported step by step to fn: each rule in order
 * with every condition's result and why, the rules after the deciding one
 * too (marked after), then the decision.  Returns as policy_decide().
 */
int		 policy_explain(const struct policy *p,
		    const struct policy_request *req,
		    struct policy_decision *d, policy_trace_fn fn, void *arg);
/* The reason of a decision in words: "category 'gambling' (bet365.com)". */
size_t		 policy_reason(const struct policy_decision *, char *buf,
		    size_t len);
/*
 * The categories host belongs to, comma separated, into buf (for
 * explain and the block page).  Returns the number of categories.
 */
size_t		 policy_host_categories(const struct policy *,
		    const char *host, char *buf, size_t len);
/* Is the category called name loaded (some rule or risk can match it)? */
int		 policy_category_loaded(const struct policy *,
		    const char *name);

/* explain.c */
/*
 * policy_explain() as text, the form `iaproxy explain` prints: a line
 * per rule, an indented line per condition, the decision last.  Returns
 * as policy_decide(); buf is always NUL terminated, truncated to len.
 */
int		 policy_explain_text(const struct policy *p,
		    const struct policy_request *req,
		    struct policy_decision *d, char *buf, size_t len);

#endif
