/*
 * The configuration: libconfuse parses the file, the option table below
 * drives it, and conf_load() turns the result into an immutable, reference
 * counted struct config.
 *
 * Every option is described once, in conf_vars[]: its name, type, default
 * and bounds, and where it lands in struct config (Redis static_configs[],
 * nginx ngx_command_t).  From that table we build the libconfuse option
 * list, check each value as it is parsed and copy the result out.
 *
 * Values are checked in libconfuse value-parsing callbacks, one call per
 * value, while the lexer still knows the file and line; a bad value is
 * reported as "FILE:LINE: message" and parsing goes on, so `iaproxy -t`
 * shows every bad value at once.  Syntax errors stop the parse (libconfuse
 * cannot resynchronise).  Checks across options run after the parse.
 * (Not validate callbacks: libconfuse calls those for a list after every
 * element and again at its closing brace, and never for an empty list, so
 * each element would be checked, and reported, more than once.)
 *
 * Two libconfuse 3.3 gaps are closed here: a section left open at end of
 * file is accepted, and so is a comment left open; every file therefore
 * gets a sentinel line appended (conf_cb_eof).  And its cfg_include()
 * leaks and wedges its include stack after an error in an included file;
 * conf_include() parses included files itself.
 *
 * Sections come from conf_sections[]: pac, ntlm, ldap and negotiate (at
 * most one each; the ldap bind password file and the keytab are read at
 * every load) and the titled network blocks.  Checks on a section as a
 * whole run at its closing brace (a section's validate callback runs
 * once); the hash file
 * named by ntlm is read and checked as part of every load, so `-t`,
 * start-up and reload all see its errors as "HASHFILE:LINE: message",
 * and its bytes are wiped before they are freed.
 *
 * The policy's rule, category and schedule blocks (many of each, unique
 * names) are not in conf_vars[]: their options come from the policy
 * engine's condition names (conf_pol_opts), their values stay strings,
 * the line of each option is kept per block (conf_cb_pol), and the whole
 * policy is compiled by policy_build() at every load (conf_policy), its
 * errors reported at those lines.
 *
 * libconfuse keeps its lexer in globals and its callbacks carry no user
 * pointer, so the state of one load lives in conf_cur: conf_load() is not
 * reentrant and must only be called from one thread at a time (the main
 * thread: start-up, -t and SIGHUP reload).
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <confuse.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "policy.h"

#define CONF_MAX_INCLUDE	8	/* include() nesting depth */
#define CONF_MSG_MAX		512	/* one error message */
#define CONF_FILE_MAX		(4 << 20) /* bytes in one config file */
#define CONF_EOF_NAME		"__end_of_file__"
#define CONF_EOF_LINE		CONF_EOF_NAME " = 0\n"
#define CONF_NAME_MAX		64	/* a network's name */
#define NB_NAME_MAX		15	/* NetBIOS name, MS-NLMP 2.2.2.1 */
#define HASHFILE_MAX		(64 << 20) /* bytes in the hash file */
#define HASHFILE_NAME_MAX	256	/* bytes of a user or domain name */
#define DNS_NAME_MAX		253	/* RFC 1035 section 2.3.4, as text */
#define DNS_LABEL_MAX		63
#define LDAP_PASSWORD_MAX	1024	/* bytes in bind_password_file */
#define PRINCIPAL_MAX		256	/* bytes of a principal or realm */

/* How a value is written and checked, and where it goes. */
enum conf_vtype {
	CV_INT,		/* integer in [min, max] */
	CV_MSEC,	/* seconds in the file, "0.5" allowed; kept in ms */
	CV_PORTS,	/* list of TCP ports */
	CV_LISTEN,	/* list of "IPv4:port" / "[IPv6]:port" */
	CV_HOSTNAME,	/* one DNS name */
	CV_PATH,	/* a file name, or "-" */
	CV_LOGFMT,	/* squid | json */
	CV_DOMAINS,	/* list of "host" / ".suffix" */
	CV_CIDRS,	/* list of CIDR blocks */
	CV_NBNAME,	/* NetBIOS name, kept upper-cased */
	CV_FILE,	/* a file name (no "-") */
	CV_BACKEND,	/* hashfile | ldap | winbind */
	CV_AUTH,	/* list of none | ntlm | negotiate | saml */
	CV_URIS,	/* list of ldap://host[:port] / ldaps://... */
	CV_DN,		/* an LDAP DN: any text but controls, not empty */
	CV_FILTER,	/* an LDAP filter with %u (and %d) */
	CV_ATTR,	/* an LDAP attribute name (RFC 4512 descr) */
	CV_BOOL,	/* true | false (yes/no, on/off) */
	CV_PRINCIPAL,	/* a Kerberos principal name */
	CV_REALMS,	/* list of "REALM=DOMAIN" */
	CV_GROUPMODE,	/* none | ad | memberof | member */
	CV_DIRFAIL,	/* deny | allow */
	CV_SOCKET,	/* an absolute path fit for a UNIX socket */
	CV_ACTION,	/* allow | block | warn (default_action) */
	CV_TEXT,	/* one string: not empty, no control characters */
	CV_TEXTS,	/* a list of those */
	CV_ADMINLISTEN,	/* one loopback "IPv4:port" / "[::1]:port" */
	CV_RISKWHEN,	/* list of block | warn | monitor | allow */
	CV_ACCOUNT,	/* signout | disable | reset-password */
	CV_NAMES,	/* list of DNS names (no suffixes), lower-cased */
	CV_DOMMAP,	/* list of "dns.domain=NETBIOS" */
};

struct conf_var {
	const char	*name;
	enum conf_vtype	 type;
	const char	*section;	/* NULL: top level */
	long		 def;		/* numbers, in stored units (ms for */
	long		 min;		/*  CV_MSEC) */
	long		 max;
	const char	*sdef;		/* others, in libconfuse syntax */
	size_t		 off;		/* field in struct config (numbers, */
	size_t		 size;		/*  strings) and its size */
};

#define FIELD(f)	offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define SEC(n)		((n) * 1000L)
#define NOFIELD		0, 0

/*
 * THE option table.  The man page iaproxy.conf(5) documents each row;
 * keep the two in step.  Timeouts are written in seconds and kept in
 * milliseconds, so their bounds here are milliseconds.
 */
static const struct conf_var conf_vars[] = {
	{ "listen", CV_LISTEN, NULL, 0, 0, 0,
	    "{\"127.0.0.1:3128\"}", NOFIELD },
	{ "workers", CV_INT, NULL, 0, 0, 64, NULL, FIELD(workers) },
	{ "hostname", CV_HOSTNAME, NULL, 0, 0, 0, NULL, FIELD(hostname) },
	{ "access_log", CV_PATH, NULL, 0, 0, 0, "-", FIELD(access_log) },
	{ "log_format", CV_LOGFMT, NULL, LOG_FORMAT_SQUID, 0, 0, NULL,
	    FIELD(log_format) },
	{ "connect_ports", CV_PORTS, NULL, 0, 1, 65535, "{443}", NOFIELD },
	/* proxy/admin.c: purge and stats, never on the proxy port. */
	{ "admin_socket", CV_SOCKET, NULL, 0, 0, 0, NULL,
	    FIELD(admin_socket) },
	/*
	 * proxy/admin_http.c: the same commands and /metrics over HTTP on
	 * loopback, for a bearer of the token in admin_token_file.
	 */
	{ "admin_listen", CV_ADMINLISTEN, NULL, 0, 0, 0, NULL, NOFIELD },
	{ "admin_token_file", CV_FILE, NULL, 0, 0, 0, NULL,
	    FIELD(admin_token_file) },
	/* access_log = "syslog[:facility]" sends the lines here. */
	{ "syslog_socket", CV_SOCKET, NULL, 0, 0, 0, "/dev/log",
	    FIELD(syslog_socket) },
	/* The disabled-accounts list (proxy/account.c) lives here. */
	{ "state_dir", CV_FILE, NULL, 0, 0, 0, "/var/lib/iaproxy",
	    FIELD(state_dir) },
	/* Risk rules (proxy/risk.c): users whose events are counted. */
	{ "risk_max_users", CV_INT, NULL, 100000, 1, 10000000, NULL,
	    FIELD(risk_max_users) },

	{ "max_header_bytes", CV_INT, NULL, 131072, 1024, 1048576, NULL,
	    FIELD(max_header_bytes) },
	{ "max_line_bytes", CV_INT, NULL, 65536, 256, 1048576, NULL,
	    FIELD(max_line_bytes) },
	{ "max_headers", CV_INT, NULL, 100, 8, 1000, NULL,
	    FIELD(max_headers) },
	{ "max_conns_per_ip", CV_INT, NULL, 512, 0, 1000000, NULL,
	    FIELD(max_conns_per_ip) },
	/* 0: as many as the descriptor limit allows (conf_check). */
	{ "max_connections", CV_INT, NULL, 0, 0, 10000000, NULL,
	    FIELD(max_connections) },

	{ "header_timeout", CV_MSEC, NULL, SEC(30), 1, SEC(86400), NULL,
	    FIELD(header_timeout) },
	{ "client_idle_timeout", CV_MSEC, NULL, SEC(60), 1, SEC(86400), NULL,
	    FIELD(client_idle_timeout) },
	{ "connect_timeout", CV_MSEC, NULL, SEC(10), 1, SEC(86400), NULL,
	    FIELD(connect_timeout) },
	{ "upstream_timeout", CV_MSEC, NULL, SEC(120), 1, SEC(86400), NULL,
	    FIELD(upstream_timeout) },
	{ "tunnel_idle_timeout", CV_MSEC, NULL, SEC(3600), 1, SEC(86400), NULL,
	    FIELD(tunnel_idle_timeout) },
	{ "shutdown_timeout", CV_MSEC, NULL, SEC(30), 0, SEC(3600), NULL,
	    FIELD(shutdown_timeout) },
	{ "upstream_idle_timeout", CV_MSEC, NULL, SEC(30), 1, SEC(86400), NULL,
	    FIELD(upstream_idle_timeout) },

	{ "upstream_max_idle", CV_INT, NULL, 16, 0, 10000, NULL,
	    FIELD(upstream_max_idle) },
	{ "dns_ttl", CV_INT, NULL, 60, 0, 86400, NULL, FIELD(dns_ttl) },
	{ "dns_negative_ttl", CV_INT, NULL, 10, 0, 3600, NULL,
	    FIELD(dns_negative_ttl) },

	/* Both names of each list are merged (bypass_* is the newer). */
	{ "direct_domains", CV_DOMAINS, "pac", 0, 0, 0, NULL, NOFIELD },
	{ "direct_networks", CV_CIDRS, "pac", 0, 0, 0, NULL, NOFIELD },
	{ "bypass_domains", CV_DOMAINS, "pac", 0, 0, 0, NULL, NOFIELD },
	{ "bypass_networks", CV_CIDRS, "pac", 0, 0, 0, NULL, NOFIELD },

	/*
	 * The Internet Access policy: the rule, category and schedule
	 * blocks (conf_policy_*), and these top-level options.
	 */
	{ "default_action", CV_ACTION, NULL, POLICY_ALLOW, 0, 0, NULL,
	    FIELD(policy_default) },
	{ "warn_ttl", CV_INT, NULL, 3600, 1, 31536000, NULL,
	    FIELD(policy_warn_ttl) },
	{ "policy_timezone", CV_TEXT, NULL, 0, 0, 0, NULL,
	    FIELD(policy_timezone) },
	{ "category_dir", CV_TEXTS, NULL, 0, 0, 0, NULL, NOFIELD },

	/*
	 * NTLM sign-in.  MS-NLMP lets a server accept NTLMv2 timestamps up
	 * to 36 hours off (MaxLifetime); we default to 5 minutes, the
	 * Kerberos clock skew administrators already know.
	 */
	{ "domain", CV_NBNAME, "ntlm", 0, 0, 0, NULL, FIELD(ntlm.domain) },
	{ "dns_domain", CV_HOSTNAME, "ntlm", 0, 0, 0, NULL,
	    FIELD(ntlm.dns_domain) },
	{ "computer", CV_NBNAME, "ntlm", 0, 0, 0, NULL, FIELD(ntlm.computer) },
	{ "backend", CV_BACKEND, "ntlm", NTLM_BACKEND_HASHFILE, 0, 0, NULL,
	    FIELD(ntlm.backend) },
	{ "hashfile", CV_FILE, "ntlm", 0, 0, 0, NULL, FIELD(ntlm.hashfile) },
	{ "max_skew", CV_MSEC, "ntlm", SEC(300), 1, SEC(129600), NULL,
	    FIELD(ntlm.max_skew) },
	{ "challenge_ttl", CV_MSEC, "ntlm", SEC(60), 1, SEC(3600), NULL,
	    FIELD(ntlm.challenge_ttl) },
	/*
	 * backend winbind: pass-through to a domain controller through
	 * Samba's ntlm_auth helpers, a pool per worker (ntlm_winbind.c).
	 */
	{ "helper", CV_FILE, "ntlm", 0, 0, 0,
	    "/usr/bin/ntlm_auth --helper-protocol=ntlm-server-1",
	    FIELD(ntlm.helper) },
	{ "helpers", CV_INT, "ntlm", 4, 1, 64, NULL, FIELD(ntlm.helpers) },
	{ "helper_queue", CV_INT, "ntlm", 256, 0, 100000, NULL,
	    FIELD(ntlm.helper_queue) },
	{ "helper_timeout", CV_MSEC, "ntlm", SEC(10), 1, SEC(300), NULL,
	    FIELD(ntlm.helper_timeout) },

	/*
	 * The directory of the ldap NTLM backend.  The bind password is
	 * read from a file (never written in the config) at every load.
	 */
	{ "uri", CV_URIS, "ldap", 0, 0, 0, NULL, NOFIELD },
	{ "bind_dn", CV_DN, "ldap", 0, 0, 0, NULL, FIELD(ldap.bind_dn) },
	{ "bind_password_file", CV_FILE, "ldap", 0, 0, 0, NULL,
	    FIELD(ldap.bind_password_file) },
	{ "base_dn", CV_DN, "ldap", 0, 0, 0, NULL, FIELD(ldap.base_dn) },
	{ "user_filter", CV_FILTER, "ldap", 0, 0, 0, "(uid=%u)",
	    FIELD(ldap.user_filter) },
	{ "hash_attribute", CV_ATTR, "ldap", 0, 0, 0, "sambaNTPassword",
	    FIELD(ldap.hash_attribute) },
	{ "timeout", CV_MSEC, "ldap", SEC(5), 1, SEC(300), NULL,
	    FIELD(ldap.timeout) },
	{ "tls_ca_file", CV_FILE, "ldap", 0, 0, 0, NULL,
	    FIELD(ldap.tls_ca_file) },
	{ "starttls", CV_BOOL, "ldap", 0, 0, 1, NULL, FIELD(ldap.starttls) },
	/*
	 * Groups of signed-in users (auth/groups*.c), cached for all
	 * workers.  Times in seconds.  stale_ttl is the age up to which a
	 * cached answer still serves while the directory cannot be reached
	 * (stale-if-error); refresh_ahead starts a search that long before
	 * an answer in use expires, so busy users never wait for one.
	 */
	{ "group_mode", CV_GROUPMODE, "ldap", GROUP_MODE_NONE, 0, 0, NULL,
	    FIELD(ldap.group_mode) },
	{ "group_base_dn", CV_DN, "ldap", 0, 0, 0, NULL,
	    FIELD(ldap.group_base_dn) },
	{ "max_depth", CV_INT, "ldap", 8, 0, 64, NULL, FIELD(ldap.max_depth) },
	{ "cache_ttl", CV_INT, "ldap", 300, 0, 604800, NULL,
	    FIELD(ldap.cache_ttl) },
	{ "negative_ttl", CV_INT, "ldap", 60, 0, 86400, NULL,
	    FIELD(ldap.negative_ttl) },
	{ "stale_ttl", CV_INT, "ldap", 3600, 0, 2592000, NULL,
	    FIELD(ldap.stale_ttl) },
	{ "refresh_ahead", CV_INT, "ldap", 30, 0, 86400, NULL,
	    FIELD(ldap.refresh_ahead) },
	{ "cache_size", CV_INT, "ldap", 100000, 1, 10000000, NULL,
	    FIELD(ldap.cache_size) },
	{ "directory_failure", CV_DIRFAIL, "ldap", DIR_FAILURE_DENY, 0, 0,
	    NULL, FIELD(ldap.directory_failure) },

	/*
	 * Kerberos sign-in (Negotiate).  The keytab is read and the
	 * acceptor credential acquired at every load (conf_keytab.c).
	 * threads 0 is two per CPU: an accept is mostly CPU, but the
	 * replay cache is a file.
	 */
	{ "keytab", CV_FILE, "negotiate", 0, 0, 0, NULL,
	    FIELD(negotiate.keytab) },
	{ "principal", CV_PRINCIPAL, "negotiate", 0, 0, 0, NULL,
	    FIELD(negotiate.principal) },
	{ "strip_realm", CV_BOOL, "negotiate", 0, 0, 1, NULL,
	    FIELD(negotiate.strip_realm) },
	{ "realm_map", CV_REALMS, "negotiate", 0, 0, 0, NULL, NOFIELD },
	{ "threads", CV_INT, "negotiate", 0, 0, 64, NULL,
	    FIELD(negotiate.threads) },
	{ "queue", CV_INT, "negotiate", 1024, 1, 1000000, NULL,
	    FIELD(negotiate.queue) },

	/*
	 * SAML sign-in (auth/saml*.c, lasso).  The files are read and the
	 * service provider built at every load (conf_saml.c).  Times in
	 * seconds.
	 */
	{ "idp_metadata", CV_FILE, "saml", 0, 0, 0, NULL,
	    FIELD(saml.idp_metadata) },
	{ "sp_entity_id", CV_TEXT, "saml", 0, 0, 0, NULL,
	    FIELD(saml.sp_entity_id) },
	{ "sp_key", CV_FILE, "saml", 0, 0, 0, NULL, FIELD(saml.sp_key) },
	{ "sp_cert", CV_FILE, "saml", 0, 0, 0, NULL, FIELD(saml.sp_cert) },
	{ "portal", CV_TEXT, "saml", 0, 0, 0, NULL, FIELD(saml.portal) },
	{ "cookie_key_file", CV_FILE, "saml", 0, 0, 0, NULL,
	    FIELD(saml.cookie_key_file) },
	{ "clock_skew", CV_INT, "saml", 180, 0, 3600, NULL,
	    FIELD(saml.clock_skew) },
	{ "session_idle", CV_INT, "saml", 3600, 1, 2592000, NULL,
	    FIELD(saml.session_idle) },
	{ "session_max", CV_INT, "saml", 43200, 60, 2592000, NULL,
	    FIELD(saml.session_max) },
	{ "flip_guard", CV_INT, "saml", 60, 0, 86400, NULL,
	    FIELD(saml.flip_guard) },
	{ "verified_domains", CV_NAMES, "saml", 0, 0, 0, NULL, NOFIELD },
	{ "domain_map", CV_DOMMAP, "saml", 0, 0, 0, NULL, NOFIELD },
	{ "groups_attribute", CV_TEXT, "saml", 0, 0, 0, NULL,
	    FIELD(saml.groups_attribute) },
	/* The portal over TLS (conf_portal_tls.c, proxy/portal_tls.c). */
	{ "portal_cert", CV_FILE, "saml", 0, 0, 0, NULL,
	    FIELD(saml.portal_cert) },
	{ "portal_key", CV_FILE, "saml", 0, 0, 0, NULL,
	    FIELD(saml.portal_key) },
	{ "portal_listen", CV_LISTEN, "saml", 0, 0, 0, NULL, NOFIELD },

	/* network "name" { }: many, copied by conf_copy_networks(). */
	{ "src", CV_CIDRS, "network", 0, 0, 0, NULL, NOFIELD },
	{ "auth", CV_AUTH, "network", 0, 0, 0, NULL, NOFIELD },

	/* risk "name" { }: many, copied by conf_copy_risks(). */
	{ "when", CV_RISKWHEN, "risk", 0, 0, 0, NULL, NOFIELD },
	{ "category", CV_TEXTS, "risk", 0, 0, 0, NULL, NOFIELD },
	{ "count", CV_INT, "risk", 3, 1, 100000, NULL, NOFIELD },
	{ "within", CV_INT, "risk", 600, 1, 2592000, NULL, NOFIELD },
	{ "action", CV_ACCOUNT, "risk", ACCOUNT_SIGNOUT, 0, 0, NULL, NOFIELD },
	{ "directory", CV_BOOL, "risk", 0, 0, 1, NULL, NOFIELD },
};
#define CONF_NVARS	(sizeof(conf_vars) / sizeof(conf_vars[0]))

/*
 * The sections, with their libconfuse flags.  ntlm has no default
 * instance, so that "no ntlm section" can be told from an empty one.
 * network titles must be unique: libconfuse would otherwise merge two
 * blocks of the same name silently.
 */
static const struct conf_section {
	const char	*name;
	int		 flags;
} conf_sections[] = {
	{ "pac", CFGF_NONE },
	{ "ntlm", CFGF_NODEFAULT },
	{ "ldap", CFGF_NODEFAULT },
	{ "negotiate", CFGF_NODEFAULT },
	{ "saml", CFGF_NODEFAULT },
	{ "network", CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES },
	{ "risk", CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES },
};
#define CONF_NSECTIONS	(sizeof(conf_sections) / sizeof(conf_sections[0]))

/*
 * The policy blocks (policy/policy.h has the language): rule "name" { },
 * category "name" { } and schedule "name" { }.  A rule's options come
 * from the engine's condition names, each also as not_NAME, so a new
 * condition needs no change here.  Every value is a string (a list for
 * conditions); the engine parses and checks them at policy_build(),
 * which gets the line of each option to report errors at.
 */
#define CONF_POL_MAXOPTS	(2 * POLICY_NCOND + 8)
static const char *const conf_rule_opts[] = {
	"action", "monitor_action", "auth", "warn_ttl"
};
static const char *const conf_cat_lists[] = {
	"domains_file", "urls_file", "domains"
};
static const char *const conf_sched_lists[] = { "days", "times" };

/* Where an option was last set, for messages about it after the parse. */
struct conf_where {
	char		*file;
	int		 line;
};

/*
 * Where a section ended.  libconfuse keeps no line for where a section
 * began; checks on a whole section report its closing brace.
 */
struct conf_secend {
	const cfg_t	*sec;
	struct conf_where at;
};

/*
 * Where a value of a rule, category or schedule block was given: those
 * blocks are many, so the lines are kept per (block, option) rather
 * than in where[].  file indexes conf_parse.pfiles.
 */
struct conf_pwhere {
	const cfg_t	*sec;
	const char	*opt;		/* libconfuse's copy of the name */
	int		 file;
	int		 line;
};

/* The end of a rule, category or schedule block. */
struct conf_pend {
	const cfg_t	*sec;
	int		 file;
	int		 line;
};

/* The state of one conf_load(), reached from the libconfuse callbacks. */
struct conf_parse {
	const char	*file;		/* as given to conf_load() */
	char		*err;
	size_t		 errlen;
	size_t		 errused;
	int		 nerrors;
	int		 depth;		/* include() nesting */
	const char	*curfile;	/* file being read now */
	int		 eofseen;	/* read the sentinel (conf_cb_eof) */
	int		 eofline;	/* its line in the file being read */
	struct conf_where where[CONF_NVARS];
	struct conf_secend ntlm_end;	/* the ntlm section, if any */
	struct conf_secend ldap_end;	/* the ldap section, if any */
	struct conf_secend neg_end;	/* the negotiate section, if any */
	struct conf_secend saml_end;	/* the saml section, if any */
	struct conf_secend *net_end;	/* each network, in file order */
	size_t		 nnet_end;
	struct conf_secend *risk_end;	/* each risk block, in file order */
	size_t		 nrisk_end;
	const char	*curbuf;	/* text being parsed (conf_parse_buf) */
	char		**pfiles;	/* file names the policy blocks cite */
	size_t		 npfiles;
	struct conf_pwhere *pw;		/* policy values, in parse order */
	size_t		 npw, pwcap;
	struct conf_pend *pend;		/* policy blocks' closing braces */
	size_t		 npend;
};

static struct conf_parse *conf_cur;

static void	 conf_err(struct conf_parse *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));
static void	 conf_errat(struct conf_parse *, const struct conf_var *,
		    const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));
static void	 conf_errfunc(cfg_t *, const char *, va_list);
static const char *conf_filename(cfg_t *);
static const char *conf_line_word(struct conf_parse *, int);
static const struct conf_var *conf_var_find(const char *, const char *);
static const struct conf_var *conf_var_of(cfg_t *, cfg_opt_t *);
static void	 conf_note(cfg_t *, const struct conf_var *);
static int	 conf_number(const char *, int, long *);
static const char *conf_fmt_num(const struct conf_var *, long, char *,
		    size_t);
static int	 conf_cb_num(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_cb_str(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_cb_logfmt(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_cb_backend(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_cb_auth(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_cb_groupmode(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_cb_dirfail(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_cb_action(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_cb_riskwhen(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_cb_account(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_end_risk(cfg_t *, cfg_opt_t *);
static int	 conf_copy_risks(struct conf_parse *, struct config *, cfg_t *);
static void	 conf_check_admin(struct conf_parse *, struct config *);
static void	 conf_check_risks(struct conf_parse *, struct config *);
static int	 conf_syslog_facility(const char *);
static int	 conf_socket_path_ok(const char *);
static int	 conf_secend_set(struct conf_secend *, cfg_t *, const cfg_t *);
static int	 conf_end_ntlm(cfg_t *, cfg_opt_t *);
static cfg_t	*conf_end_titled(cfg_t *, cfg_opt_t *, const char *,
		    struct conf_secend **, size_t *);
static int	 conf_end_network(cfg_t *, cfg_opt_t *);
static int	 conf_end_ldap(cfg_t *, cfg_opt_t *);
static int	 conf_end_negotiate(cfg_t *, cfg_opt_t *);
static int	 conf_cb_bool(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_realm_parse(const char *, struct conf_realm *);
static void	 conf_check_negotiate(struct conf_parse *, struct config *);
static int	 conf_end_saml(cfg_t *, cfg_opt_t *);
static int	 conf_dommap_parse(const char *, struct conf_realm *);
static void	 conf_check_saml(struct conf_parse *, struct config *);
static void	 conf_check_portal_tls(struct conf_parse *, struct config *);
static int	 conf_ldap_uri_ok(const char *);
static const char *conf_ldap_filter_err(const char *);
static int	 conf_ldap_attr_ok(const char *);
static void	 conf_check_ldap(struct conf_parse *, struct config *);
static void	 conf_check_groups(struct conf_parse *, struct config *);
static void	 conf_ldap_password_load(struct conf_parse *, struct config *);
static int	 conf_nbname_ok(const char *);
static int	 conf_dns_name_ok(const char *);
static int	 conf_listen_parse(const char *, struct conf_listen *);
static char	*conf_slurp(const char *, int);
static const char *conf_slurp_error(int);
static char	*conf_with_eof(const char *);
static int	 conf_parse_buf(struct conf_parse *, cfg_t *, const char *);
static int	 conf_cb_eof(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_include(cfg_t *, cfg_opt_t *, int, const char **);
static char	*conf_include_path(const char *, const char *);
static void	 conf_opt_init(cfg_opt_t *, const struct conf_var *);
static void	 conf_opt_func(cfg_opt_t *, const char *, cfg_func_t);
static void	 conf_opt_eof(cfg_opt_t *);
static cfg_t	*conf_cfg_init(void);
static int	 conf_parse_input(struct conf_parse *, cfg_t *, const char *,
		    const char *);
static int	 conf_copy(struct conf_parse *, struct config *, cfg_t *);
static int	 conf_copy_var(struct config *, const struct conf_var *,
		    cfg_opt_t *);
static int	 conf_copy_networks(struct conf_parse *, struct config *,
		    cfg_t *);
static int	 conf_check(struct conf_parse *, struct config *);
static void	 conf_check_ntlm(struct conf_parse *, struct config *);
static void	 conf_hashfile_load(struct conf_parse *, struct config *);
static void	 conf_check_winbind(struct conf_parse *, struct config *);
static int	 conf_hashfile_line(struct conf_parse *, const char *, int,
		    char *, struct ntlm_user *);
static int	 conf_user_cmp(const void *, const void *);
static int	 conf_hashent_cmp(const void *, const void *);
static int	 conf_casecmp(const char *, const char *);
static void	 conf_parse_free(struct conf_parse *);
static void	 conf_free(struct config *);
static int	 conf_pfile(struct conf_parse *, const char *);
static int	 conf_cb_pol(cfg_t *, cfg_opt_t *, const char *, void *);
static int	 conf_pol_end(cfg_t *, cfg_opt_t *, const char *);
static int	 conf_end_rule(cfg_t *, cfg_opt_t *);
static int	 conf_end_category(cfg_t *, cfg_opt_t *);
static int	 conf_end_schedule(cfg_t *, cfg_opt_t *);
static size_t	 conf_pol_opts(cfg_opt_t *, const char *);
static const struct conf_pwhere *conf_pw_find(struct conf_parse *,
		    const cfg_t *, const char *);
static int	 conf_pol_line(struct conf_parse *, const cfg_t *,
		    const char *, const char **);
static int	 conf_pol_list(struct conf_parse *, cfg_t *, const char *,
		    struct policy_list *);
static int	 conf_policy(struct conf_parse *, struct config *, cfg_t *);

/*
 * Append one message to the caller's buffer, newline separated.  Control
 * characters (from the file, echoed in messages) become '?', so `-t` cannot
 * be made to write escape sequences to a terminal.
 */
static void
conf_err(struct conf_parse *p, const char *fmt, ...)
{
	char	 msg[CONF_MSG_MAX];
	char	*s;
	va_list	 ap;
	size_t	 len, room;

	p->nerrors++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (s = msg; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';

	if (p->err == NULL || p->errlen == 0 || p->errused + 1 >= p->errlen)
		return;
	room = p->errlen - p->errused;
	if (p->errused > 0) {
		p->err[p->errused++] = '\n';
		room--;
	}
	len = strlen(msg);
	if (len >= room)
		len = room - 1;
	memcpy(p->err + p->errused, msg, len);
	p->errused += len;
	p->err[p->errused] = '\0';
}

/* A message about option v, at the place it was set if we know it. */
static void
conf_errat(struct conf_parse *p, const struct conf_var *v, const char *fmt,
    ...)
{
	char			 msg[CONF_MSG_MAX];
	va_list			 ap;
	const struct conf_where	*w = &p->where[v - conf_vars];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->file != NULL && w->line > 0)
		conf_err(p, "%s:%d: %s", w->file, w->line, msg);
	else
		conf_err(p, "%s: %s", p->file, msg);
}

/*
 * libconfuse's error function: its own syntax errors and ours from the
 * value callbacks (cfg_error) all come out as "FILE:LINE: message".
 */
static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct conf_parse	*p = conf_cur;
	char			 msg[CONF_MSG_MAX], title[CONF_MSG_MAX];
	int			 line;

	if (p == NULL)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	line = cfg != NULL ? cfg->line : 0;
	/*
	 * CFGF_NO_TITLE_DUPES.  libconfuse does not say which kind of
	 * block; the line it stands on does ("rule \"x\" {").
	 */
	if (strncmp(msg, "found duplicate title ", 22) == 0) {
		snprintf(title, sizeof(title), "%s", msg + 22);
		snprintf(msg, sizeof(msg), "%s %.400s is defined twice",
		    conf_line_word(p, line), title);
	}
	/*
	 * At end of input libconfuse is on our sentinel line (or past it):
	 * say the file's last line, and call the sentinel what it is.
	 */
	if (p->eofline > 0 && line >= p->eofline) {
		line = p->eofline > 1 ? p->eofline - 1 : 1;
		if (strcmp(msg, "unexpected token '" CONF_EOF_NAME "'") == 0)
			snprintf(msg, sizeof(msg), "premature end of file");
	}
	if (line > 0)
		conf_err(p, "%s:%d: %s", conf_filename(cfg), line, msg);
	else
		conf_err(p, "%s: %s", conf_filename(cfg), msg);
}

/*
 * The kind of titled block ("network", "rule", "category", "schedule")
 * that starts on line of the text being parsed; "network" if none does.
 */
static const char *
conf_line_word(struct conf_parse *p, int line)
{
	static const char *const kinds[] = {
		"rule", "category", "schedule", "network"
	};
	const char	*s = p->curbuf;
	size_t		 i, n;

	for (; s != NULL && line > 1; line--)
		if ((s = strchr(s, '\n')) != NULL)
			s++;
	if (s == NULL)
		return ("network");
	s += strspn(s, " \t");
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		n = strlen(kinds[i]);
		if (strncmp(s, kinds[i], n) == 0 &&
		    (s[n] == ' ' || s[n] == '\t' || s[n] == '"'))
			return (kinds[i]);
	}
	return ("network");
}

/*
 * The name of the file cfg is reading.  A section made by cfg_init (pac)
 * has no file name of its own, so fall back on the file being read.
 */
static const char *
conf_filename(cfg_t *cfg)
{
	if (cfg != NULL && cfg->filename != NULL)
		return (cfg->filename);
	if (conf_cur != NULL && conf_cur->curfile != NULL)
		return (conf_cur->curfile);
	return (conf_cur != NULL ? conf_cur->file : "(config)");
}

/* The row for option name in section sec (NULL: the top level). */
static const struct conf_var *
conf_var_find(const char *sec, const char *name)
{
	const struct conf_var	*v;
	size_t			 i;

	for (i = 0; i < CONF_NVARS; i++) {
		v = &conf_vars[i];
		if (strcmp(v->name, name) != 0)
			continue;
		if (sec == NULL ? v->section == NULL :
		    v->section != NULL && strcmp(v->section, sec) == 0)
			return (v);
	}
	return (NULL);
}

/* The row for opt as seen by a callback on section cfg. */
static const struct conf_var *
conf_var_of(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*sec = cfg != NULL ? cfg_name(cfg) : NULL;

	if (sec != NULL && strcmp(sec, "root") == 0)
		sec = NULL;
	return (conf_var_find(sec, opt->name));
}

/* Remember where v was set: checks across options report that line. */
static void
conf_note(cfg_t *cfg, const struct conf_var *v)
{
	struct conf_where	*w;
	const char		*file;

	if (conf_cur == NULL || conf_cur->curfile == NULL || cfg->line <= 0)
		return;		/* a built-in default */
	file = conf_filename(cfg);
	w = &conf_cur->where[v - conf_vars];
	if (w->file == NULL || strcmp(w->file, file) != 0) {
		free(w->file);
		w->file = strdup(file);
	}
	w->line = cfg->line;
}

/*
 * Parse a decimal number: digits, and with frac (seconds kept as ms) up to
 * three decimals.  A leading '-' is accepted so that "-1" is reported as
 * out of range rather than as not a number.  No octal, no hex, no
 * exponents: "010" is ten.  Returns 0 and *out (in ms when frac), or -1.
 * Numbers too large for a long come back as LONG_MAX / LONG_MIN, which is
 * out of every range.
 */
static int
conf_number(const char *s, int frac, long *out)
{
	long	v = 0, f = 0;
	int	neg = 0, ndig = 0, nfrac = 0, big = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; *s >= '0' && *s <= '9'; s++, ndig++) {
		if (v > (LONG_MAX - 9) / 10 / 1000)
			big = 1;
		else
			v = v * 10 + (*s - '0');
	}
	if (ndig == 0)
		return (-1);
	if (*s == '.' && frac) {
		for (s++; *s >= '0' && *s <= '9'; s++, nfrac++) {
			if (nfrac >= 3)
				return (-1);
			f = f * 10 + (*s - '0');
		}
		if (nfrac == 0)
			return (-1);
	}
	if (*s != '\0')
		return (-1);
	if (big)
		v = LONG_MAX;
	else if (frac) {
		for (; nfrac < 3; nfrac++)
			f *= 10;
		v = v * 1000 + f;
	}
	*out = neg ? (v == LONG_MAX ? LONG_MIN : -v) : v;
	return (0);
}

/* A bound of v for messages: seconds for CV_MSEC ("0.5"), else as is. */
static const char *
conf_fmt_num(const struct conf_var *v, long n, char *buf, size_t len)
{
	char	*e;

	if (v->type != CV_MSEC) {
		snprintf(buf, len, "%ld", n);
		return (buf);
	}
	snprintf(buf, len, "%ld.%03ld", n / 1000, n % 1000);
	e = buf + strlen(buf);
	while (e[-1] == '0')
		*--e = '\0';
	if (e[-1] == '.')
		e[-1] = '\0';
	return (buf);
}

/* Value callback for integers, seconds and ports. */
static int
conf_cb_num(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	const struct conf_var	*v = conf_var_of(cfg, opt);
	char			 lo[32], hi[32];
	long			 n;

	if (v == NULL || value == NULL)
		return (-1);
	conf_note(cfg, v);
	*(long *)result = v->def;
	if (conf_number(value, v->type == CV_MSEC, &n) == -1) {
		cfg_error(cfg, "%s: '%s' is not %s", v->name, value,
		    v->type == CV_MSEC ? "a number of seconds" : "a number");
		return (0);	/* reported; go on to find more */
	}
	if (n < v->min || n > v->max) {
		cfg_error(cfg, "%s: %s is out of range (%s..%s)", v->name,
		    value, conf_fmt_num(v, v->min, lo, sizeof(lo)),
		    conf_fmt_num(v, v->max, hi, sizeof(hi)));
		return (0);
	}
	*(long *)result = n;
	return (0);
}

/* Value callback for string options and string lists. */
static int
conf_cb_str(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	const struct conf_var	*v = conf_var_of(cfg, opt);
	struct conf_listen	 l;
	struct cidr		 c;
	unsigned int		 i;
	const char		*s;

	if (v == NULL || value == NULL)
		return (-1);
	conf_note(cfg, v);
	*(const char **)result = value;

	switch (v->type) {
	case CV_LISTEN:
		if (conf_listen_parse(value, &l) == -1) {
			cfg_error(cfg, "%s: '%s' is not IPv4:port or "
			    "[IPv6]:port (port 1..65535)", v->name, value);
			break;
		}
		/*
		 * The value being parsed is already in the list, with no
		 * string yet; compare with the ones before it.
		 */
		for (i = 0; i < opt->nvalues; i++) {
			s = opt->values[i]->string;
			if (s != NULL && strcmp(s, value) == 0) {
				cfg_error(cfg, "%s: '%s' is listed twice",
				    v->name, value);
				break;
			}
		}
		break;
	case CV_HOSTNAME:
		if (!conf_dns_name_ok(value))
			cfg_error(cfg, "%s: '%s' is not a valid DNS name",
			    v->name, value);
		break;
	case CV_ADMINLISTEN:
		/*
		 * The admin listener must never face the network: loopback
		 * only, whatever the token (DESIGN: admin endpoints are never
		 * reachable through the proxy path, nor from elsewhere).
		 */
		if (conf_listen_parse(value, &l) == -1)
			cfg_error(cfg, "%s: '%s' is not IPv4:port or "
			    "[IPv6]:port (port 1..65535)", v->name, value);
		else if (!(l.ss.ss_family == AF_INET &&
		    ((const uint8_t *)&((struct sockaddr_in *)&l.ss)->
		    sin_addr)[0] == 127) && !(l.ss.ss_family == AF_INET6 &&
		    IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&l.ss)->
		    sin6_addr)))
			cfg_error(cfg, "%s: '%s' is not a loopback address "
			    "(127.0.0.0/8 or [::1]): the admin listener is "
			    "never reachable from the network", v->name, value);
		break;
	case CV_PATH:
		if (*value == '\0')
			cfg_error(cfg, "%s: empty file name (use \"-\" for "
			    "standard output)", v->name);
		break;
	case CV_FILE:
		if (*value == '\0')
			cfg_error(cfg, "%s: empty file name", v->name);
		break;
	case CV_NBNAME:
		if (!conf_nbname_ok(value))
			cfg_error(cfg, "%s: '%s' is not a NetBIOS name (1 to "
			    "%d letters, digits, '-', '_' or '.')", v->name,
			    value, NB_NAME_MAX);
		break;
	case CV_DOMAINS:
		s = value[0] == '.' ? value + 1 : value;
		if (!conf_dns_name_ok(s))
			cfg_error(cfg, "%s: '%s' is not a host name or "
			    ".domain suffix", v->name, value);
		break;
	case CV_CIDRS:
		if (cidr_parse(value, &c) == -1)
			cfg_error(cfg, "%s: '%s' is not an address or CIDR "
			    "block", v->name, value);
		break;
	case CV_URIS:
		if (!conf_ldap_uri_ok(value))
			cfg_error(cfg, "%s: '%s' is not ldap://host[:port] or "
			    "ldaps://host[:port]", v->name, value);
		break;
	case CV_TEXT:
	case CV_TEXTS:
		for (s = value; *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 || *s == 0x7f)
				break;
		if (*value == '\0' || *s != '\0')
			cfg_error(cfg, "%s: must not be empty nor hold control "
			    "characters", v->name);
		break;
	case CV_DN:
		for (s = value; *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 || *s == 0x7f)
				break;
		if (*value == '\0' || *s != '\0')
			cfg_error(cfg, "%s: must be a DN, not empty and without "
			    "control characters", v->name);
		break;
	case CV_FILTER:
		if ((s = conf_ldap_filter_err(value)) != NULL)
			cfg_error(cfg, "%s: '%s': %s", v->name, value, s);
		break;
	case CV_ATTR:
		if (!conf_ldap_attr_ok(value))
			cfg_error(cfg, "%s: '%s' is not an attribute name",
			    v->name, value);
		break;
	case CV_PRINCIPAL:
		for (s = value; *s != '\0'; s++)
			if ((unsigned char)*s <= 0x20 || *s == 0x7f)
				break;
		if (*value == '\0' || *s != '\0' || strlen(value) >
		    PRINCIPAL_MAX || value[0] == '@' || strchr(value, '@') !=
		    strrchr(value, '@'))
			cfg_error(cfg, "%s: '%s' is not a Kerberos principal "
			    "(service/host[@REALM], no spaces)", v->name, value);
		break;
	case CV_NAMES:
		if (!conf_dns_name_ok(value))
			cfg_error(cfg, "%s: '%s' is not a DNS domain name",
			    v->name, value);
		break;
	case CV_DOMMAP:
		if (conf_dommap_parse(value, NULL) == -1)
			cfg_error(cfg, "%s: '%s' is not dns.domain=DOMAIN (a "
			    "DNS domain, '=', a NetBIOS domain name)", v->name,
			    value);
		break;
	case CV_REALMS:
		if (conf_realm_parse(value, NULL) == -1)
			cfg_error(cfg, "%s: '%s' is not REALM=DOMAIN (a realm, "
			    "'=', a NetBIOS domain name)", v->name, value);
		break;
	case CV_SOCKET:
		if (!conf_socket_path_ok(value))
			cfg_error(cfg, "%s: '%s' must be an absolute path of "
			    "at most %zu bytes, without control characters",
			    v->name, value, sizeof(((struct sockaddr_un *)0)->
			    sun_path) - 1);
		break;
	default:
		break;
	}
	return (0);
}

/* A bare word from a fixed set, and the number it stands for. */
struct conf_word {
	const char	*word;
	long		 value;
};
#define CONF_WORD_NOT_YET	(-1L)	/* known, but not built yet */

/*
 * Parse a bare word of words[] into *result.  Anything else is an error
 * listing what is accepted (expect), and *result becomes bad.
 */
static int
conf_word(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result,
    const struct conf_word *words, long bad, const char *expect)
{
	const struct conf_var	*v = conf_var_of(cfg, opt);
	const struct conf_word	*w;

	if (v == NULL || value == NULL)
		return (-1);
	conf_note(cfg, v);
	*(long *)result = bad;
	for (w = words; w->word != NULL; w++) {
		if (strcmp(value, w->word) != 0)
			continue;
		if (w->value == CONF_WORD_NOT_YET)
			cfg_error(cfg, "%s method '%s' is not available yet",
			    v->name, value);
		else
			*(long *)result = w->value;
		return (0);
	}
	cfg_error(cfg, "%s: '%s' is not %s", v->name, value, expect);
	return (0);
}

static int
conf_cb_logfmt(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct conf_word words[] = {
		{ "squid", LOG_FORMAT_SQUID }, { "json", LOG_FORMAT_JSON },
		{ NULL, 0 }
	};
	const struct conf_var *v = conf_var_of(cfg, opt);

	return (conf_word(cfg, opt, value, result, words, v ? v->def : 0,
	    "squid or json"));
}

/* true / false, and the other spellings libconfuse knows for them. */
static int
conf_cb_bool(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct conf_word words[] = {
		{ "true", 1 }, { "yes", 1 }, { "on", 1 },
		{ "false", 0 }, { "no", 0 }, { "off", 0 },
		{ NULL, 0 }
	};
	const struct conf_var *v = conf_var_of(cfg, opt);

	return (conf_word(cfg, opt, value, result, words, v ? v->def : 0,
	    "true or false"));
}

/*
 * "REALM=DOMAIN" of realm_map into out (when not NULL): a realm of
 * printable characters without spaces, and a NetBIOS domain name.
 */
static int
conf_realm_parse(const char *text, struct conf_realm *out)
{
	const char	*eq = strchr(text, '='), *s;
	char		 dom[NB_NAME_MAX + 1], *d;
	size_t		 rlen;

	if (eq == NULL || (rlen = (size_t)(eq - text)) == 0 ||
	    rlen > PRINCIPAL_MAX || strlen(eq + 1) > NB_NAME_MAX)
		return (-1);
	for (s = text; s < eq; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '@')
			return (-1);
	snprintf(dom, sizeof(dom), "%s", eq + 1);
	if (!conf_nbname_ok(dom))
		return (-1);
	if (out == NULL)
		return (0);
	if ((out->realm = strndup(text, rlen)) == NULL ||
	    (out->domain = strdup(dom)) == NULL) {
		free(out->realm);
		out->realm = NULL;
		return (-1);
	}
	for (d = out->domain; *d != '\0'; d++)
		*d = (char)toupper((unsigned char)*d);
	return (0);
}

static int
conf_cb_backend(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct conf_word words[] = {
		{ "hashfile", NTLM_BACKEND_HASHFILE },
		{ "ldap", NTLM_BACKEND_LDAP },
		{ "winbind", NTLM_BACKEND_WINBIND },
		{ NULL, 0 }
	};
	const struct conf_var *v = conf_var_of(cfg, opt);

	return (conf_word(cfg, opt, value, result, words, v ? v->def : 0,
	    "hashfile, ldap or winbind"));
}

/* One word of a network's auth list, kept as its AUTH_* bit (0: bad). */
static int
conf_cb_auth(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct conf_word words[] = {
		{ "none", AUTH_NONE }, { "ntlm", AUTH_NTLM },
		{ "negotiate", AUTH_NEGOTIATE }, { "saml", AUTH_SAML },
		{ NULL, 0 }
	};

	return (conf_word(cfg, opt, value, result, words, 0,
	    "none, ntlm, negotiate or saml"));
}

/* One word of a risk rule's when list, kept as its RISK_WHEN_* bit. */
static int
conf_cb_riskwhen(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct conf_word words[] = {
		{ "block", RISK_WHEN_BLOCK }, { "blocked", RISK_WHEN_BLOCK },
		{ "warn", RISK_WHEN_WARN }, { "warned", RISK_WHEN_WARN },
		{ "monitor", RISK_WHEN_MONITOR },
		{ "monitored", RISK_WHEN_MONITOR },
		{ "allow", RISK_WHEN_ALLOW }, { "allowed", RISK_WHEN_ALLOW },
		{ NULL, 0 }
	};

	return (conf_word(cfg, opt, value, result, words, 0,
	    "block, warn, monitor or allow"));
}

/* A risk rule's action on the account. */
static int
conf_cb_account(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct conf_word words[] = {
		{ "signout", ACCOUNT_SIGNOUT }, { "disable", ACCOUNT_DISABLE },
		{ "reset-password", ACCOUNT_RESET_PASSWORD },
		{ "reset_password", ACCOUNT_RESET_PASSWORD },
		{ NULL, 0 }
	};

	return (conf_word(cfg, opt, value, result, words, -1,
	    "signout, disable or reset-password"));
}

/* group_mode: how the groups of a user are found. */
static int
conf_cb_groupmode(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	static const struct conf_word words[] = {
		{ "none", GROUP_MODE_NONE }, { "ad", GROUP_MODE_AD },
		{ "memberof", GROUP_MODE_MEMBEROF },
		{ "member", GROUP_MODE_MEMBER },
		{ NULL, 0 }
	};

	return (conf_word(cfg, opt, value, result, words, GROUP_MODE_NONE,
	    "none, ad, memberof or member"));
}

/* directory_failure: deny or allow a request whose groups are unknown. */
static int
conf_cb_dirfail(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct conf_word words[] = {
		{ "deny", DIR_FAILURE_DENY }, { "allow", DIR_FAILURE_ALLOW },
		{ NULL, 0 }
	};

	return (conf_word(cfg, opt, value, result, words, DIR_FAILURE_DENY,
	    "deny or allow"));
}

/*
 * default_action: what a request no rule matches gets.  monitor is a
 * rule's action only (it logs what a rule would do).
 */
static int
conf_cb_action(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct conf_word words[] = {
		{ "allow", POLICY_ALLOW }, { "block", POLICY_BLOCK },
		{ "warn", POLICY_WARN },
		{ NULL, 0 }
	};

	return (conf_word(cfg, opt, value, result, words, POLICY_ALLOW,
	    "allow, block or warn"));
}

/*
 * A path bind(2) can take for a UNIX socket: absolute (the daemon's cwd
 * is nobody's business), shorter than sun_path, no control characters.
 */
static int
conf_socket_path_ok(const char *s)
{
	const char	*c;

	if (s[0] != '/' || strlen(s) >= sizeof(((struct sockaddr_un *)0)->
	    sun_path) || s[strlen(s) - 1] == '/')
		return (0);
	for (c = s; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return (0);
	return (1);
}

/* Remember where the section that just closed ended (conf_end_*). */
static int
conf_secend_set(struct conf_secend *e, cfg_t *parent, const cfg_t *sec)
{
	free(e->at.file);
	e->sec = sec;
	e->at.line = parent->line;
	e->at.file = strdup(conf_filename(parent));
	return (e->at.file == NULL ? -1 : 0);
}

/*
 * The start of a single section's closing-brace check: the section, and
 * an error if one was given before (libconfuse would silently keep only
 * the last).  Returns 1 to go on, 0 after a duplicate, -1 on failure.
 */
static int
conf_end_once(struct conf_parse *p, cfg_t *cfg, cfg_opt_t *opt,
    struct conf_secend *end, const char *name, cfg_t **secp)
{
	cfg_t *sec;

	if (p == NULL || (sec = cfg_opt_getnsec(opt, 0)) == NULL)
		return (-1);
	if (end->at.line > 0) {
		conf_err(p, "%s:%d: %s: section given twice (first ended at "
		    "%s:%d)", conf_filename(cfg), cfg->line, name, end->at.file,
		    end->at.line);
		return (0);
	}
	if (conf_secend_set(end, cfg, sec) == -1) {
		cfg_error(cfg, "out of memory");
		return (-1);
	}
	*secp = sec;
	return (1);
}

/*
 * Called by libconfuse at the closing brace of an ntlm section (a
 * section validate callback runs once, unlike a list's): the checks on
 * the section as a whole, reported at that brace.  A second section
 * would silently replace the first, so it is an error.
 */
static int
conf_end_ntlm(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_parse	*p = conf_cur;
	cfg_t			*sec;
	const char		*file = conf_filename(cfg);
	int			 rc;

	if ((rc = conf_end_once(p, cfg, opt, &p->ntlm_end, "ntlm",
	    &sec)) <= 0)
		return (rc);
	if (cfg_getstr(sec, "domain") == NULL)
		conf_err(p, "%s:%d: ntlm: domain is required", file,
		    cfg->line);
	if (cfg_getint(sec, "backend") == NTLM_BACKEND_HASHFILE &&
	    cfg_getstr(sec, "hashfile") == NULL)
		conf_err(p, "%s:%d: ntlm: hashfile is required with backend "
		    "hashfile", file, cfg->line);
	return (0);
}

/*
 * The closing brace of one block of a titled, repeated section (network,
 * risk): where it ended is appended to *ends (checks after the parse
 * report there), and the title is checked, since it shows in logs and
 * messages: short and plain.  The block, or NULL (out of memory).
 */
static cfg_t *
conf_end_titled(cfg_t *cfg, cfg_opt_t *opt, const char *kind,
    struct conf_secend **ends, size_t *nends)
{
	struct conf_parse	*p = conf_cur;
	struct conf_secend	*e;
	cfg_t			*sec;
	const char		*name, *s;
	unsigned int		 n;

	n = cfg_opt_size(opt);
	if (n == 0 || (sec = cfg_opt_getnsec(opt, n - 1)) == NULL)
		return (NULL);
	if ((e = reallocarray(*ends, *nends + 1, sizeof(*e))) == NULL) {
		cfg_error(cfg, "out of memory");
		return (NULL);
	}
	*ends = e;
	e = &e[*nends];
	memset(e, 0, sizeof(*e));
	if (conf_secend_set(e, cfg, sec) == -1) {
		cfg_error(cfg, "out of memory");
		return (NULL);
	}
	(*nends)++;

	name = cfg_title(sec) != NULL ? cfg_title(sec) : "";
	for (s = name; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			break;
	if (*name == '\0' || *s != '\0' || strlen(name) > CONF_NAME_MAX)
		conf_err(p, "%s:%d: %s '%s': the name must be 1 to %d "
		    "characters, none of them control characters",
		    conf_filename(cfg), cfg->line, kind, name, CONF_NAME_MAX);
	return (sec);
}

/*
 * Called by libconfuse at the closing brace of each network section: its
 * name, a non-empty src and a non-empty auth list with "none" alone.
 * Whether an ntlm section exists is only known at the end of the file
 * (conf_check), so the place is kept for that.
 */
static int
conf_end_network(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_parse	*p = conf_cur;
	cfg_t			*sec;
	const char		*file = conf_filename(cfg), *name;
	unsigned int		 i;
	unsigned		 bits = 0;

	if (p == NULL || (sec = conf_end_titled(cfg, opt, "network", &p->net_end,
	    &p->nnet_end)) == NULL)
		return (-1);
	name = cfg_title(sec) != NULL ? cfg_title(sec) : "";
	if (cfg_size(sec, "src") == 0)
		conf_err(p, "%s:%d: network '%s': src is required (one or more "
		    "address blocks)", file, cfg->line, name);
	if (cfg_size(sec, "auth") == 0)
		conf_err(p, "%s:%d: network '%s': auth is required (none, "
		    "ntlm, negotiate or saml)", file, cfg->line, name);
	for (i = 0; i < cfg_size(sec, "auth"); i++)
		bits |= (unsigned)cfg_getnint(sec, "auth", i);
	if ((bits & AUTH_NONE) && (bits & ~(unsigned)AUTH_NONE))
		conf_err(p, "%s:%d: network '%s': auth none cannot be combined "
		    "with other methods", file, cfg->line, name);
	return (0);
}

/*
 * Called by libconfuse at the closing brace of the ldap section: at most
 * one, and the options without which no search can be made.  A bind
 * needs both a DN and a password: an empty password would make a simple
 * bind "unauthenticated" (RFC 4513 5.1.2), which some servers accept
 * as anonymous.
 */
static int
conf_end_ldap(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_parse	*p = conf_cur;
	cfg_t			*sec;
	const char		*file = conf_filename(cfg);
	int			 rc;

	if ((rc = conf_end_once(p, cfg, opt, &p->ldap_end, "ldap",
	    &sec)) <= 0)
		return (rc);
	if (cfg_size(sec, "uri") == 0)
		conf_err(p, "%s:%d: ldap: uri is required (one or more "
		    "ldap:// or ldaps:// URIs)", file, cfg->line);
	if (cfg_getstr(sec, "base_dn") == NULL)
		conf_err(p, "%s:%d: ldap: base_dn is required", file,
		    cfg->line);
	if (cfg_getstr(sec, "bind_dn") == NULL)
		conf_err(p, "%s:%d: ldap: bind_dn is required (the service "
		    "account)", file, cfg->line);
	if (cfg_getstr(sec, "bind_password_file") == NULL)
		conf_err(p, "%s:%d: ldap: bind_password_file is required",
		    file, cfg->line);
	return (0);
}

/*
 * Called by libconfuse at the closing brace of the negotiate section:
 * at most one, and a keytab.
 */
static int
conf_end_negotiate(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_parse	*p = conf_cur;
	cfg_t			*sec;
	int			 rc;

	if ((rc = conf_end_once(p, cfg, opt, &p->neg_end, "negotiate",
	    &sec)) <= 0)
		return (rc);
	if (cfg_getstr(sec, "keytab") == NULL)
		conf_err(p, "%s:%d: negotiate: keytab is required (the "
		    "service keys of HTTP/%s)", conf_filename(cfg), cfg->line,
		    "<proxy name>");
	return (0);
}

/*
 * Called by libconfuse at the closing brace of the saml section: at most
 * one, and the options without which there is no service provider.
 */
static int
conf_end_saml(cfg_t *cfg, cfg_opt_t *opt)
{
	static const char *const req[] = { "idp_metadata", "sp_entity_id",
	    "sp_key", "sp_cert", "portal", "cookie_key_file" };
	struct conf_parse	*p = conf_cur;
	cfg_t			*sec;
	size_t			 i;
	int			 rc;

	if ((rc = conf_end_once(p, cfg, opt, &p->saml_end, "saml",
	    &sec)) <= 0)
		return (rc);
	for (i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		if (cfg_getstr(sec, req[i]) == NULL)
			conf_err(p, "%s:%d: saml: %s is required",
			    conf_filename(cfg), cfg->line, req[i]);
	if (cfg_size(sec, "verified_domains") == 0)
		conf_err(p, "%s:%d: saml: verified_domains is required (the "
		    "DNS domains the identity provider may vouch for)",
		    conf_filename(cfg), cfg->line);
	return (0);
}

/*
 * "example.test=EXAMPLE" of saml's domain_map into out (when not NULL):
 * a DNS domain (kept lower-cased: names compare without case, RFC 4343)
 * and a NetBIOS domain (upper-cased), as realm_map keeps them.
 */
static int
conf_dommap_parse(const char *text, struct conf_realm *out)
{
	const char	*eq = strchr(text, '=');
	char		 dns[DNS_NAME_MAX + 1], dom[NB_NAME_MAX + 1], *d;
	size_t		 dlen;

	if (eq == NULL || (dlen = (size_t)(eq - text)) == 0 ||
	    dlen > DNS_NAME_MAX || strlen(eq + 1) > NB_NAME_MAX)
		return (-1);
	memcpy(dns, text, dlen);
	dns[dlen] = '\0';
	snprintf(dom, sizeof(dom), "%s", eq + 1);
	if (!conf_dns_name_ok(dns) || !conf_nbname_ok(dom))
		return (-1);
	if (out == NULL)
		return (0);
	if ((out->realm = strdup(dns)) == NULL ||
	    (out->domain = strdup(dom)) == NULL) {
		free(out->realm);
		out->realm = NULL;
		return (-1);
	}
	for (d = out->realm; *d != '\0'; d++)
		*d = (char)tolower((unsigned char)*d);
	for (d = out->domain; *d != '\0'; d++)
		*d = (char)toupper((unsigned char)*d);
	return (0);
}

/*
 * A NetBIOS domain or computer name as we accept it: 1 to 15 letters,
 * digits, '-', '_' and '.' (the names go into the CHALLENGE message's
 * target info, MS-NLMP 2.2.2.1, and Windows refuses most punctuation in
 * them).
 */
static int
conf_nbname_ok(const char *s)
{
	size_t	len;

	for (len = 0; s[len] != '\0'; len++)
		if (!isascii((unsigned char)s[len]) ||
		    !(isalnum((unsigned char)s[len]) || s[len] == '-' ||
		    s[len] == '_' || s[len] == '.'))
			return (0);
	return (len >= 1 && len <= NB_NAME_MAX);
}

/*
 * A host name as RFC 1123 section 2.1 allows it: labels of letters,
 * digits and '-', not starting or ending with '-', 1..63 characters, at
 * most 253 in all, no empty label (so no leading, trailing or double dot).
 */
static int
conf_dns_name_ok(const char *s)
{
	size_t	len = 0, label = 0;

	for (; *s != '\0'; s++, len++) {
		if (*s == '.') {
			if (label == 0 || s[-1] == '-')
				return (0);
			label = 0;
			continue;
		}
		if (!isascii((unsigned char)*s) ||
		    !(isalnum((unsigned char)*s) || *s == '-'))
			return (0);
		if (*s == '-' && label == 0)
			return (0);
		if (++label > DNS_LABEL_MAX)
			return (0);
	}
	if (label == 0 || s[-1] == '-' || len > DNS_NAME_MAX)
		return (0);
	return (1);
}

/*
 * An LDAP URI as the ldap section takes it (RFC 4516 without the DN and
 * the rest, which would mean nothing here): "ldap://" or "ldaps://", a
 * host name, IPv4 address or [IPv6] address, an optional port and an
 * optional trailing "/".
 */
static int
conf_ldap_uri_ok(const char *uri)
{
	struct in6_addr	 a6;
	char		 host[DNS_NAME_MAX + 1];
	const char	*s, *e;
	size_t		 n;
	long		 port = 0;

	if (strncmp(uri, "ldap://", 7) == 0)
		s = uri + 7;
	else if (strncmp(uri, "ldaps://", 8) == 0)
		s = uri + 8;
	else
		return (0);
	if (*s == '[') {
		if ((e = strchr(s, ']')) == NULL ||
		    (n = (size_t)(e - s - 1)) == 0 || n >= sizeof(host))
			return (0);
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return (0);
		s = e + 1;
	} else {
		n = strcspn(s, ":/");
		if (n == 0 || n >= sizeof(host))
			return (0);
		memcpy(host, s, n);
		host[n] = '\0';
		/* Digits and dots are a host name too: 127.0.0.1 passes. */
		if (!conf_dns_name_ok(host))
			return (0);
		s += n;
	}
	if (*s == ':') {
		for (n = 0, s++; *s >= '0' && *s <= '9'; s++, n++)
			if ((port = port * 10 + (*s - '0')) > 65535)
				return (0);
		if (n == 0 || port == 0)
			return (0);
	}
	if (*s == '/')
		s++;
	return (*s == '\0');
}

/*
 * What is wrong with an LDAP search filter template, or NULL: it must be
 * one parenthesised filter (RFC 4515 section 3) with balanced
 * parentheses, and its only '%' escapes are %u (the user name), %d (the
 * domain or realm), %p (user@REALM, a UPN), %m (a mail address) and %%
 * (a '%').  Without one of %u, %p or %m every user would be the same
 * entry.
 */
static const char *
conf_ldap_filter_err(const char *f)
{
	const char	*s;
	int		 depth = 0, have_u = 0;

	if (f[0] != '(' || f[strlen(f) - 1] != ')')
		return ("must start with '(' and end with ')'");
	for (s = f; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return ("control character");
		if (*s == '(')
			depth++;
		else if (*s == ')' && --depth < 0)
			return ("unbalanced parentheses");
		else if (*s == ')' && depth == 0 && s[1] != '\0')
			return ("more than one filter (wrap them in (&...))");
		else if (*s == '%') {
			s++;
			if (*s == 'u' || *s == 'p' || *s == 'm')
				have_u = 1;
			else if (*s != 'd' && *s != '%')
				return ("only %u, %d, %p, %m and %% may follow "
				    "'%'");
		}
	}
	if (depth != 0)
		return ("unbalanced parentheses");
	if (!have_u)
		return ("must contain %u, %p or %m (the user)");
	return (NULL);
}

/* An attribute description as RFC 4512 1.4 names it: descr or an OID. */
static int
conf_ldap_attr_ok(const char *a)
{
	const char	*s;

	if (isalpha((unsigned char)a[0])) {
		for (s = a; *s != '\0'; s++)
			if (!isascii((unsigned char)*s) ||
			    !(isalnum((unsigned char)*s) || *s == '-'))
				return (0);
		return (s - a <= 128);
	}
	/* numericoid: digits separated by single dots. */
	for (s = a; *s != '\0'; s++)
		if (!(isdigit((unsigned char)*s) || (*s == '.' && s > a &&
		    s[-1] != '.' && s[1] != '\0')))
			return (0);
	return (s > a && s - a <= 128);
}

/*
 * Parse "a.b.c.d:port" or "[v6]:port" into l->ss (l->text untouched).
 * "0.0.0.0:P" and "[::]:P" are the wildcards.  Returns 0 or -1.
 */
static int
conf_listen_parse(const char *text, struct conf_listen *l)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	char			 host[INET6_ADDRSTRLEN];
	const char		*colon, *end, *p;
	size_t			 hlen;
	long			 port = 0;
	int			 v6 = 0;

	memset(&l->ss, 0, sizeof(l->ss));
	if (text[0] == '[') {
		v6 = 1;
		if ((end = strchr(text, ']')) == NULL || end[1] != ':')
			return (-1);
		colon = end + 1;
		text++;
		hlen = (size_t)(end - text);
	} else {
		if ((colon = strrchr(text, ':')) == NULL)
			return (-1);
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return (-1);
	memcpy(host, text, hlen);
	host[hlen] = '\0';

	p = colon + 1;
	if (*p == '\0' || strlen(p) > 5)
		return (-1);
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return (-1);
		port = port * 10 + (*p - '0');
	}
	if (port < 1 || port > 65535)
		return (-1);

	if (v6) {
		sin6 = (struct sockaddr_in6 *)&l->ss;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return (-1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		l->sslen = sizeof(*sin6);
	} else {
		sin = (struct sockaddr_in *)&l->ss;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return (-1);
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		l->sslen = sizeof(*sin);
	}
	return (0);
}

/*
 * Read all of path into memory, with the end-of-file sentinel appended
 * (see conf_cb_eof).  With regular, refuse anything but a regular file:
 * an include of a FIFO or a device must not hang a reload.  Returns a
 * malloc'ed string, or NULL with errno set (EFBIG: larger than
 * CONF_FILE_MAX, EINVAL: contains a NUL byte, ENODEV: not regular).
 */
static char *
conf_slurp(const char *path, int regular)
{
	struct stat	 st;
	FILE		*fp;
	char		*buf = NULL, *nbuf;
	size_t		 len = 0, size = 0, n;
	int		 serrno;

	if ((fp = fopen(path, "r")) == NULL)
		return (NULL);
	if (fstat(fileno(fp), &st) == -1)
		goto fail;
	if (regular && !S_ISREG(st.st_mode)) {
		errno = ENODEV;
		goto fail;
	}
	for (;;) {
		if (size - len < 4096) {
			if (size >= CONF_FILE_MAX) {
				errno = EFBIG;
				goto fail;
			}
			size = size == 0 ? 8192 : size * 2;
			if ((nbuf = realloc(buf, size + 1)) == NULL)
				goto fail;
			buf = nbuf;
		}
		n = fread(buf + len, 1, size - len, fp);
		len += n;
		if (n == 0) {
			if (ferror(fp))
				goto fail;	/* errno from read(2) */
			break;
		}
	}
	fclose(fp);
	if (len > CONF_FILE_MAX) {
		free(buf);
		errno = EFBIG;
		return (NULL);
	}
	if (memchr(buf, '\0', len) != NULL) {
		free(buf);
		errno = EINVAL;
		return (NULL);
	}
	buf[len] = '\0';
	nbuf = conf_with_eof(buf);
	serrno = errno;
	free(buf);
	errno = serrno;
	return (nbuf);

 fail:
	serrno = errno;
	fclose(fp);
	free(buf);
	errno = serrno;
	return (NULL);
}

/* Why conf_slurp() failed, from its errno. */
static const char *
conf_slurp_error(int e)
{
	switch (e) {
	case ENODEV:
		return ("not a regular file");
	case EINVAL:
		return ("contains a NUL byte");
	case EFBIG:
		return ("larger than 4 MiB");
	default:
		return (strerror(e));
	}
}

/* text, a newline if it lacks one, and the sentinel line; malloc'ed. */
static char *
conf_with_eof(const char *text)
{
	size_t	 len = strlen(text), elen = strlen(CONF_EOF_LINE);
	char	*buf;
	int	 nl = len > 0 && text[len - 1] != '\n';

	if ((buf = malloc(len + nl + elen + 1)) == NULL)
		return (NULL);
	memcpy(buf, text, len);
	if (nl)
		buf[len++] = '\n';
	memcpy(buf + len, CONF_EOF_LINE, elen + 1);
	return (buf);
}

/*
 * Parse the string buf (from conf_with_eof) into cfg.  If the parse ends
 * without reading the sentinel, the file ended inside a comment.
 */
static int
conf_parse_buf(struct conf_parse *p, cfg_t *cfg, const char *buf)
{
	FILE		*fp;
	const char	*s, *savebuf = p->curbuf;
	int		 rc, saveseen = p->eofseen, saveline = p->eofline;

	if ((fp = fmemopen((void *)(uintptr_t)buf, strlen(buf), "r")) == NULL) {
		cfg_error(cfg, "out of memory");
		return (-1);
	}
	/* The sentinel line ends the buffer: its number is the \n count. */
	p->eofline = 0;
	for (s = buf; (s = strchr(s, '\n')) != NULL; s++)
		p->eofline++;
	p->eofseen = 0;
	p->curbuf = buf;
	rc = cfg_parse_fp(cfg, fp) == CFG_SUCCESS ? 0 : -1;
	p->curbuf = savebuf;
	fclose(fp);
	if (rc == 0 && !p->eofseen) {
		conf_err(p, "%s:%d: end of file inside a comment",
		    conf_filename(cfg), p->eofline > 1 ? p->eofline - 1 : 1);
		rc = -1;
	}
	p->eofseen = saveseen;
	p->eofline = saveline;
	return (rc);
}

/*
 * The sentinel appended to every file.  libconfuse ends a section quietly
 * at end of file, so "pac {" with no "}" would pass; the sentinel is read
 * at the level the file ended at, and anywhere but the top level it means
 * a brace is missing.  Reported at the last line of the file.
 */
static int
conf_cb_eof(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	*(long *)result = 0;
	conf_cur->eofseen = 1;
	if (strcmp(cfg_name(cfg), "root") != 0)
		conf_err(conf_cur, "%s:%d: end of file inside section '%s' "
		    "(missing '}')", conf_filename(cfg), conf_cur->eofline > 1 ?
		    conf_cur->eofline - 1 : 1, cfg_name(cfg));
	return (0);
}

/*
 * include("file"): parse another file in place, into the current section.
 * libconfuse's own cfg_include() switches files inside the lexer and, on
 * an error in the included file, leaves its include stack behind (the
 * FILE and a name leak, and after ten such reloads every include fails).
 * Parsing the file with a nested cfg_parse_fp() keeps all of that on our
 * stack.  A relative name is taken from the including file's directory
 * (as nginx does from its prefix), not from the daemon's cwd.  The file
 * must be complete in itself: no section may start in one file and end
 * in another.
 */
static int
conf_include(cfg_t *cfg, cfg_opt_t *opt, int argc, const char **argv)
{
	struct conf_parse	*p = conf_cur;
	const char		*savecur;
	char			*path, *savefile, *buf;
	int			 saveline, rc;

	if (p == NULL)
		return (-1);
	if (argc != 1) {
		cfg_error(cfg, "include: takes exactly one file name");
		return (-1);
	}
	if (p->depth >= CONF_MAX_INCLUDE) {
		cfg_error(cfg, "include: nested more than %d deep",
		    CONF_MAX_INCLUDE);
		return (-1);
	}
	if ((path = conf_include_path(conf_filename(cfg), argv[0])) == NULL) {
		cfg_error(cfg, "include: out of memory");
		return (-1);
	}
	if ((buf = conf_slurp(path, 1)) == NULL) {
		cfg_error(cfg, "include: %s: cannot open: %s", path,
		    conf_slurp_error(errno));
		free(path);
		return (-1);
	}

	savefile = cfg->filename;
	saveline = cfg->line;
	savecur = p->curfile;
	cfg->filename = path;
	p->curfile = path;
	p->depth++;
	rc = conf_parse_buf(p, cfg, buf);
	p->depth--;
	cfg->filename = savefile;
	cfg->line = saveline;
	p->curfile = savecur;
	free(buf);
	free(path);
	return (rc);
}

/* name relative to the directory of from; malloc'ed, NULL on ENOMEM. */
static char *
conf_include_path(const char *from, const char *name)
{
	const char	*slash;
	char		*path;
	size_t		 dlen;

	if (name[0] == '/' || from == NULL ||
	    (slash = strrchr(from, '/')) == NULL)
		return (strdup(name));
	dlen = (size_t)(slash - from) + 1;
	if ((path = malloc(dlen + strlen(name) + 1)) == NULL)
		return (NULL);
	memcpy(path, from, dlen);
	strcpy(path + dlen, name);
	return (path);
}

/* Fill one libconfuse option from its table row. */
static void
conf_opt_init(cfg_opt_t *o, const struct conf_var *v)
{
	memset(o, 0, sizeof(*o));
	o->name = v->name;
	o->flags = CFGF_NONE;
	switch (v->type) {
	case CV_INT:
	case CV_MSEC:
		o->type = CFGT_INT;
		o->def.number = v->def;
		o->parsecb = conf_cb_num;
		break;
	case CV_PORTS:
		o->type = CFGT_INT;
		o->flags = CFGF_LIST;
		o->def.parsed = (char *)v->sdef;
		o->parsecb = conf_cb_num;
		break;
	case CV_LOGFMT:
		o->type = CFGT_INT;
		o->def.number = v->def;
		o->parsecb = conf_cb_logfmt;
		break;
	case CV_BACKEND:
		o->type = CFGT_INT;
		o->def.number = v->def;
		o->parsecb = conf_cb_backend;
		break;
	case CV_AUTH:
		o->type = CFGT_INT;
		o->flags = CFGF_LIST;
		o->parsecb = conf_cb_auth;
		break;
	case CV_RISKWHEN:
		o->type = CFGT_INT;
		o->flags = CFGF_LIST;
		o->parsecb = conf_cb_riskwhen;
		break;
	case CV_ACCOUNT:
		o->type = CFGT_INT;
		o->def.number = v->def;
		o->parsecb = conf_cb_account;
		break;
	case CV_BOOL:
		o->type = CFGT_INT;
		o->def.number = v->def;
		o->parsecb = conf_cb_bool;
		break;
	case CV_GROUPMODE:
		o->type = CFGT_INT;
		o->def.number = v->def;
		o->parsecb = conf_cb_groupmode;
		break;
	case CV_DIRFAIL:
		o->type = CFGT_INT;
		o->def.number = v->def;
		o->parsecb = conf_cb_dirfail;
		break;
	case CV_ACTION:
		o->type = CFGT_INT;
		o->def.number = v->def;
		o->parsecb = conf_cb_action;
		break;
	case CV_HOSTNAME:
	case CV_PATH:
	case CV_NBNAME:
	case CV_FILE:
	case CV_DN:
	case CV_FILTER:
	case CV_ATTR:
	case CV_PRINCIPAL:
	case CV_SOCKET:
	case CV_TEXT:
	case CV_ADMINLISTEN:
		o->type = CFGT_STR;
		o->def.string = v->sdef;
		o->parsecb = conf_cb_str;
		break;
	case CV_LISTEN:
	case CV_DOMAINS:
	case CV_CIDRS:
	case CV_URIS:
	case CV_REALMS:
	case CV_TEXTS:
	case CV_NAMES:
	case CV_DOMMAP:
		o->type = CFGT_STR;
		o->flags = CFGF_LIST;
		o->def.parsed = (char *)v->sdef;
		o->parsecb = conf_cb_str;
		break;
	}
}

static void
conf_opt_func(cfg_opt_t *o, const char *name, cfg_func_t func)
{
	memset(o, 0, sizeof(*o));
	o->name = name;
	o->type = CFGT_FUNC;
	o->func = func;
}

/* The end-of-file sentinel, known at every level (conf_cb_eof). */
static void
conf_opt_eof(cfg_opt_t *o)
{
	memset(o, 0, sizeof(*o));
	o->name = CONF_EOF_NAME;
	o->type = CFGT_INT;
	o->parsecb = conf_cb_eof;
}

/*
 * Build the libconfuse option lists from conf_vars[] and conf_sections[]
 * and initialise a cfg_t.  Every section knows include() and the
 * end-of-file sentinel; ntlm and network get their closing checks.
 */
static cfg_t *
conf_cfg_init(void)
{
	static const char *const pols[] = { "rule", "category", "schedule" };
	cfg_opt_t	 top[CONF_NVARS + CONF_NSECTIONS + 3 + 3];
	cfg_opt_t	 sub[CONF_NSECTIONS][CONF_NVARS + 3];
	cfg_opt_t	 psub[3][CONF_POL_MAXOPTS];
	size_t		 i, j, n, ntop = 0;
	cfg_t		*cfg;

	for (i = 0; i < CONF_NVARS; i++)
		if (conf_vars[i].section == NULL)
			conf_opt_init(&top[ntop++], &conf_vars[i]);
	for (j = 0; j < CONF_NSECTIONS; j++) {
		n = 0;
		for (i = 0; i < CONF_NVARS; i++)
			if (conf_vars[i].section != NULL &&
			    strcmp(conf_vars[i].section,
			    conf_sections[j].name) == 0)
				conf_opt_init(&sub[j][n++], &conf_vars[i]);
		conf_opt_func(&sub[j][n++], "include", conf_include);
		conf_opt_eof(&sub[j][n++]);
		memset(&sub[j][n], 0, sizeof(sub[j][n]));

		memset(&top[ntop], 0, sizeof(top[ntop]));
		top[ntop].name = conf_sections[j].name;
		top[ntop].type = CFGT_SEC;
		top[ntop].flags = conf_sections[j].flags;
		top[ntop++].subopts = sub[j];
	}
	/* The policy blocks: many of each, in file order, unique names. */
	for (j = 0; j < 3; j++) {
		n = conf_pol_opts(psub[j], pols[j]);
		conf_opt_func(&psub[j][n++], "include", conf_include);
		conf_opt_eof(&psub[j][n++]);
		memset(&psub[j][n], 0, sizeof(psub[j][n]));
		memset(&top[ntop], 0, sizeof(top[ntop]));
		top[ntop].name = pols[j];
		top[ntop].type = CFGT_SEC;
		top[ntop].flags = CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES;
		top[ntop++].subopts = psub[j];
	}
	conf_opt_func(&top[ntop++], "include", conf_include);
	conf_opt_eof(&top[ntop++]);
	memset(&top[ntop], 0, sizeof(top[ntop]));

	/* cfg_init copies the arrays; ours may go out of scope. */
	if ((cfg = cfg_init(top, CFGF_NONE)) == NULL)
		return (NULL);
	cfg_set_error_function(cfg, conf_errfunc);
	cfg_set_validate_func(cfg, "ntlm", conf_end_ntlm);
	cfg_set_validate_func(cfg, "network", conf_end_network);
	cfg_set_validate_func(cfg, "risk", conf_end_risk);
	cfg_set_validate_func(cfg, "ldap", conf_end_ldap);
	cfg_set_validate_func(cfg, "negotiate", conf_end_negotiate);
	cfg_set_validate_func(cfg, "saml", conf_end_saml);
	cfg_set_validate_func(cfg, "rule", conf_end_rule);
	cfg_set_validate_func(cfg, "category", conf_end_category);
	cfg_set_validate_func(cfg, "schedule", conf_end_schedule);
	return (cfg);
}

/* Run libconfuse over the file, or over text named file. */
static int
conf_parse_input(struct conf_parse *p, cfg_t *cfg, const char *file,
    const char *text)
{
	char	*buf;
	int	 rc;

	if (text != NULL)
		buf = conf_with_eof(text);
	else
		buf = conf_slurp(file, 0);
	if (buf == NULL) {
		conf_err(p, "%s: cannot open: %s", file,
		    conf_slurp_error(errno));
		return (-1);
	}
	free(cfg->filename);
	if ((cfg->filename = strdup(file)) == NULL) {
		free(buf);
		conf_err(p, "%s: out of memory", file);
		return (-1);
	}
	p->curfile = cfg->filename;
	rc = conf_parse_buf(p, cfg, buf);
	p->curfile = NULL;
	free(buf);
	if (rc == -1) {
		if (p->nerrors == 0)
			conf_err(p, "%s: parse error", file);
		return (-1);
	}
	return (p->nerrors == 0 ? 0 : -1);
}

/* Copy one parsed option into c.  0, or -1 when out of memory. */
static int
conf_copy_var(struct config *c, const struct conf_var *v, cfg_opt_t *o)
{
	unsigned int	 i, n = cfg_opt_size(o);
	char		*base = (char *)c, *s, **pp;
	struct cidr	*cp;
	struct conf_listen **lp;
	size_t		*np;
	long		 num;

	switch (v->type) {
	case CV_INT:
	case CV_MSEC:
	case CV_LOGFMT:
	case CV_BACKEND:
	case CV_BOOL:
	case CV_GROUPMODE:
	case CV_DIRFAIL:
	case CV_ACTION:
		num = cfg_opt_getnint(o, 0);
		if (v->type == CV_LOGFMT)
			c->log_format = (enum log_format)num;
		else if (v->size == sizeof(size_t))
			*(size_t *)(base + v->off) = (size_t)num;
		else
			*(int *)(base + v->off) = (int)num;
		break;
	case CV_PORTS:
		if (n > 0 && (c->connect_ports = calloc(n, sizeof(int))) ==
		    NULL)
			return (-1);
		for (i = 0; i < n; i++)
			c->connect_ports[i] = (int)cfg_opt_getnint(o, i);
		c->nconnect_ports = n;
		break;
	case CV_LISTEN:
		/* listen, or saml's portal_listen (the portal in TLS). */
		lp = v->section == NULL ? &c->listen : &c->saml.portal_listen;
		np = v->section == NULL ? &c->nlisten :
		    &c->saml.nportal_listen;
		if (n > 0 && (*lp = calloc(n, sizeof(**lp))) == NULL)
			return (-1);
		for (i = 0; i < n; i++) {
			s = cfg_opt_getnstr(o, i);
			if (conf_listen_parse(s, &(*lp)[i]) == -1)
				return (-1);	/* checked while parsing */
			if (((*lp)[i].text = strdup(s)) == NULL)
				return (-1);
			*np = i + 1;
		}
		break;
	case CV_HOSTNAME:
	case CV_PATH:
	case CV_FILE:
	case CV_NBNAME:
	case CV_DN:
	case CV_FILTER:
	case CV_ATTR:
	case CV_PRINCIPAL:
	case CV_SOCKET:
	case CV_TEXT:
		/* Unset (NULL) stays NULL: conf_check fills defaults. */
		if ((s = cfg_opt_getnstr(o, 0)) == NULL)
			break;
		if ((s = strdup(s)) == NULL)
			return (-1);
		*(char **)(base + v->off) = s;
		if (v->type == CV_NBNAME)
			for (; *s != '\0'; s++)
				*s = (char)toupper((unsigned char)*s);
		break;
	case CV_AUTH:
	case CV_RISKWHEN:
	case CV_ACCOUNT:
		break;		/* conf_copy_networks(), conf_copy_risks() */
	case CV_ADMINLISTEN:
		if ((s = cfg_opt_getnstr(o, 0)) == NULL)
			break;
		if ((c->admin_listen = calloc(1, sizeof(*c->admin_listen))) ==
		    NULL)
			return (-1);
		if (conf_listen_parse(s, c->admin_listen) == -1)
			return (-1);	/* checked while parsing */
		if ((c->admin_listen->text = strdup(s)) == NULL)
			return (-1);
		break;
	case CV_DOMAINS:
		/* Two option names feed the list: append. */
		if (n > 0 && (pp = reallocarray(c->pac_direct_domains,
		    c->pac_ndirect_domains + n, sizeof(char *))) == NULL)
			return (-1);
		if (n > 0)
			c->pac_direct_domains = pp;
		for (i = 0; i < n; i++) {
			/* DNS names compare without case (RFC 4343). */
			if ((s = strdup(cfg_opt_getnstr(o, i))) == NULL)
				return (-1);
			c->pac_direct_domains[c->pac_ndirect_domains++] = s;
			for (; *s != '\0'; s++)
				*s = (char)tolower((unsigned char)*s);
		}
		break;
	case CV_CIDRS:
		if (n > 0 && (cp = reallocarray(c->pac_direct_networks,
		    c->pac_ndirect_networks + n, sizeof(struct cidr))) == NULL)
			return (-1);
		if (n > 0)
			c->pac_direct_networks = cp;
		for (i = 0; i < n; i++)
			if (cidr_parse(cfg_opt_getnstr(o, i),
			    &c->pac_direct_networks[c->pac_ndirect_networks++])
			    == -1)
				return (-1);
		break;
	case CV_TEXTS:
		if (n > 0 && (c->category_dirs = calloc(n, sizeof(char *))) ==
		    NULL)
			return (-1);
		for (i = 0; i < n; i++) {
			if ((c->category_dirs[i] = strdup(cfg_opt_getnstr(o,
			    i))) == NULL)
				return (-1);
			c->ncategory_dirs = i + 1;
		}
		break;
	case CV_URIS:
		if (n > 0 && (c->ldap.uris = calloc(n, sizeof(char *))) ==
		    NULL)
			return (-1);
		for (i = 0; i < n; i++) {
			if ((c->ldap.uris[i] = strdup(cfg_opt_getnstr(o, i))) ==
			    NULL)
				return (-1);
			c->ldap.nuris = i + 1;
		}
		break;
	case CV_REALMS:
		if (n > 0 && (c->negotiate.realms = calloc(n,
		    sizeof(struct conf_realm))) == NULL)
			return (-1);
		for (i = 0; i < n; i++) {
			if (conf_realm_parse(cfg_opt_getnstr(o, i),
			    &c->negotiate.realms[i]) == -1)
				return (-1);	/* checked while parsing */
			c->negotiate.nrealms = i + 1;
		}
		break;
	case CV_NAMES:		/* saml verified_domains */
		if (n > 0 && (c->saml.verified_domains = calloc(n,
		    sizeof(char *))) == NULL)
			return (-1);
		for (i = 0; i < n; i++) {
			if ((s = strdup(cfg_opt_getnstr(o, i))) == NULL)
				return (-1);
			c->saml.verified_domains[i] = s;
			c->saml.nverified_domains = i + 1;
			for (; *s != '\0'; s++)
				*s = (char)tolower((unsigned char)*s);
		}
		break;
	case CV_DOMMAP:		/* saml domain_map */
		if (n > 0 && (c->saml.domain_map = calloc(n,
		    sizeof(struct conf_realm))) == NULL)
			return (-1);
		for (i = 0; i < n; i++) {
			if (conf_dommap_parse(cfg_opt_getnstr(o, i),
			    &c->saml.domain_map[i]) == -1)
				return (-1);	/* checked while parsing */
			c->saml.ndomain_map = i + 1;
		}
		break;
	}
	return (0);
}

/* Copy every option of the table out of the parsed cfg into c. */
static int
conf_copy(struct conf_parse *p, struct config *c, cfg_t *cfg)
{
	const struct conf_var	*v;
	cfg_t			*sec;
	cfg_opt_t		*o;
	size_t			 i;

	c->ntlm.enabled = cfg_size(cfg, "ntlm") > 0;
	c->ldap.enabled = cfg_size(cfg, "ldap") > 0;
	c->negotiate.enabled = cfg_size(cfg, "negotiate") > 0;
	c->saml.enabled = cfg_size(cfg, "saml") > 0;
	for (i = 0; i < CONF_NVARS; i++) {
		v = &conf_vars[i];
		if (v->section != NULL && (strcmp(v->section, "network") ==
		    0 || strcmp(v->section, "risk") == 0))
			continue;	/* conf_copy_networks(), _risks() */
		if (v->section != NULL && strcmp(v->section, "ntlm") == 0 &&
		    !c->ntlm.enabled)
			continue;	/* no section, no values */
		if (v->section != NULL && strcmp(v->section, "ldap") == 0 &&
		    !c->ldap.enabled)
			continue;
		if (v->section != NULL && strcmp(v->section, "negotiate") ==
		    0 && !c->negotiate.enabled)
			continue;
		if (v->section != NULL && strcmp(v->section, "saml") == 0 &&
		    !c->saml.enabled)
			continue;
		sec = v->section != NULL ? cfg_getsec(cfg, v->section) : cfg;
		if (sec == NULL || (o = cfg_getopt(sec, v->name)) == NULL ||
		    conf_copy_var(c, v, o) == -1) {
			conf_err(p, "%s: %s: out of memory", p->file, v->name);
			return (-1);
		}
	}
	if (conf_copy_networks(p, c, cfg) == -1)
		return (-1);
	return (conf_copy_risks(p, c, cfg));
}

/*
 * Copy the network sections, in file order.  Their values were checked
 * while parsing and their shape at each closing brace (conf_end_network).
 */
static int
conf_copy_networks(struct conf_parse *p, struct config *c, cfg_t *cfg)
{
	struct conf_network	*n;
	cfg_t			*sec;
	unsigned int		 i, j, nnet = cfg_size(cfg, "network");

	if (nnet == 0)
		return (0);
	if ((c->networks = calloc(nnet, sizeof(*c->networks))) == NULL)
		goto nomem;
	for (i = 0; i < nnet; i++) {
		sec = cfg_getnsec(cfg, "network", i);
		n = &c->networks[i];
		c->nnetworks = i + 1;
		if ((n->name = strdup(cfg_title(sec))) == NULL)
			goto nomem;
		n->nsrc = cfg_size(sec, "src");
		if ((n->src = calloc(n->nsrc, sizeof(*n->src))) == NULL)
			goto nomem;
		for (j = 0; j < n->nsrc; j++)
			if (cidr_parse(cfg_getnstr(sec, "src", j),
			    &n->src[j]) == -1)
				goto nomem;	/* checked while parsing */
		for (j = 0; j < cfg_size(sec, "auth"); j++)
			n->auth |= (unsigned)cfg_getnint(sec, "auth", j);
	}
	return (0);

 nomem:
	conf_err(p, "%s: network: out of memory", p->file);
	return (-1);
}

/* A hash-file line while the file is read: the entry and where it was. */
struct conf_hashent {
	struct ntlm_user u;
	int		 line;
};

/* Checks across options, and defaults that depend on the machine. */
static int
conf_check(struct conf_parse *p, struct config *c)
{
	const struct conf_var	*vl, *vh;
	struct rlimit		 rl;
	char			 host[256];
	long			 ncpu;
	size_t			 i;
	int			 errs = p->nerrors;

	if (c->nlisten == 0)
		conf_errat(p, conf_var_find(NULL, "listen"),
		    "listen: at least one address is required");
	vl = conf_var_find(NULL, "max_line_bytes");
	vh = conf_var_find(NULL, "max_header_bytes");
	if (c->max_line_bytes > c->max_header_bytes)
		conf_errat(p, p->where[vl - conf_vars].line > 0 ? vl : vh,
		    "max_line_bytes (%zu) must not exceed max_header_bytes "
		    "(%zu)", c->max_line_bytes, c->max_header_bytes);

	/*
	 * Each client connection may hold an origin connection too; keep
	 * some descriptors for listeners, logs, DNS and the directory.
	 * Past the limit a client gets a 503 at once, rather than accept()
	 * failing with EMFILE, which answers nobody.
	 */
	if (c->max_connections == 0) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
		    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 20000100)
			c->max_connections = 10000000;
		else
			c->max_connections = rl.rlim_cur > 228 ?
			    (int)(rl.rlim_cur - 100) / 2 : 64;
	}

	if (c->workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
	}

	if (c->hostname == NULL) {
		if (gethostname(host, sizeof(host)) == -1) {
			conf_err(p, "%s: hostname: not set, and gethostname "
			    "failed: %s", p->file, strerror(errno));
		} else {
			host[sizeof(host) - 1] = '\0';
			if (!conf_dns_name_ok(host))
				conf_err(p, "%s: hostname: not set, and the "
				    "system name '%s' is not a valid DNS name",
				    p->file, host);
			else if ((c->hostname = strdup(host)) == NULL)
				conf_err(p, "%s: out of memory", p->file);
		}
	}

	if (c->ntlm.enabled)
		conf_check_ntlm(p, c);
	if (c->ldap.enabled)
		conf_check_ldap(p, c);
	if (c->ntlm.enabled && c->ntlm.backend == NTLM_BACKEND_LDAP &&
	    !c->ldap.enabled)
		conf_errat(p, conf_var_find("ntlm", "backend"),
		    "ntlm backend ldap needs an ldap section");
	if (c->negotiate.enabled)
		conf_check_negotiate(p, c);
	conf_check_admin(p, c);
	if (c->saml.enabled)
		conf_check_saml(p, c);
	if (c->saml.enabled)
		conf_check_portal_tls(p, c);
	/* Closing braces were noted in file order, as the sections are. */
	for (i = 0; i < c->nnetworks && i < p->nnet_end; i++) {
		if ((c->networks[i].auth & AUTH_NTLM) && !c->ntlm.enabled)
			conf_err(p, "%s:%d: network '%s' uses ntlm but there is "
			    "no ntlm section", p->net_end[i].at.file,
			    p->net_end[i].at.line, c->networks[i].name);
		if ((c->networks[i].auth & AUTH_NEGOTIATE) &&
		    !c->negotiate.enabled)
			conf_err(p, "%s:%d: network '%s' uses negotiate but "
			    "there is no negotiate section",
			    p->net_end[i].at.file, p->net_end[i].at.line,
			    c->networks[i].name);
		if ((c->networks[i].auth & AUTH_SAML) && !c->saml.enabled)
			conf_err(p, "%s:%d: network '%s' uses saml but there is "
			    "no saml section", p->net_end[i].at.file,
			    p->net_end[i].at.line, c->networks[i].name);
	}
	return (p->nerrors == errs ? 0 : -1);
}

/*
 * Called by libconfuse at the closing brace of each risk block: a plain
 * name, something to count (when) and an action.  Where it ended is
 * kept for the checks that need the whole file (conf_check_risks).
 */
static int
conf_end_risk(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_parse	*p = conf_cur;
	cfg_t			*sec;
	const char		*file = conf_filename(cfg), *name;
	unsigned int		 i;

	if (p == NULL || (sec = conf_end_titled(cfg, opt, "risk", &p->risk_end,
	    &p->nrisk_end)) == NULL)
		return (-1);
	name = cfg_title(sec) != NULL ? cfg_title(sec) : "";
	if (cfg_size(sec, "when") == 0)
		conf_err(p, "%s:%d: risk '%s': when is required (block, warn, "
		    "monitor or allow)", file, cfg->line, name);
	for (i = 0; i < cfg_size(sec, "when"); i++)
		if (cfg_getnint(sec, "when", i) == 0)
			return (0);	/* reported by conf_cb_riskwhen */
	if (cfg_getint(sec, "action") < 0)
		return (0);		/* reported by conf_cb_account */
	if (cfg_getint(sec, "action") == ACCOUNT_SIGNOUT &&
	    cfg_getint(sec, "directory"))
		conf_err(p, "%s:%d: risk '%s': directory = true needs action "
		    "disable or reset-password (a sign-out changes nothing in "
		    "the directory)", file, cfg->line, name);
	return (0);
}

/* Copy the risk blocks, in file order (their shape: conf_end_risk). */
static int
conf_copy_risks(struct conf_parse *p, struct config *c, cfg_t *cfg)
{
	struct conf_risk	*r;
	cfg_t			*sec;
	unsigned int		 i, j, n = cfg_size(cfg, "risk");

	if (n == 0)
		return (0);
	if ((c->risks = calloc(n, sizeof(*c->risks))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		sec = cfg_getnsec(cfg, "risk", i);
		r = &c->risks[i];
		c->nrisks = i + 1;
		if ((r->name = strdup(cfg_title(sec))) == NULL)
			goto nomem;
		for (j = 0; j < cfg_size(sec, "when"); j++)
			r->when |= (unsigned)cfg_getnint(sec, "when", j);
		r->count = (int)cfg_getint(sec, "count");
		r->within = (int)cfg_getint(sec, "within");
		r->action = (int)cfg_getint(sec, "action");
		r->directory = (int)cfg_getint(sec, "directory");
		if (cfg_size(sec, "category") > 0 && (r->categories = calloc(
		    cfg_size(sec, "category"), sizeof(char *))) == NULL)
			goto nomem;
		for (j = 0; j < cfg_size(sec, "category"); j++) {
			if ((r->categories[j] = strdup(cfg_getnstr(sec,
			    "category", j))) == NULL)
				goto nomem;
			r->ncategories = j + 1;
		}
	}
	return (0);

 nomem:
	conf_err(p, "%s: risk: out of memory", p->file);
	return (-1);
}

/*
 * A risk rule's categories must be loaded by the policy (a category
 * block, or a category_dir category some rule names), or the rule could
 * never fire: say so rather than count nothing.
 */
static void
conf_check_risks(struct conf_parse *p, struct config *c)
{
	const struct conf_secend	*e;
	size_t				 i, j;

	for (i = 0; i < c->nrisks && i < p->nrisk_end; i++) {
		e = &p->risk_end[i];
		for (j = 0; j < c->risks[i].ncategories; j++)
			if (c->policy == NULL || !policy_category_loaded(
			    c->policy, c->risks[i].categories[j]))
				conf_err(p, "%s:%d: risk '%s': category '%s' is "
				    "not known (define it with a category "
				    "block, or name it in a rule when it comes "
				    "from category_dir)", e->at.file,
				    e->at.line, c->risks[i].name,
				    c->risks[i].categories[j]);
	}
}

/* The facility of access_log = "syslog:NAME"; -1 if NAME is not one. */
static int
conf_syslog_facility(const char *name)
{
	static const struct {
		const char	*name;
		int		 facility;
	} fac[] = {
		{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
		{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
		{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	};
	size_t	i;

	for (i = 0; i < sizeof(fac) / sizeof(fac[0]); i++)
		if (strcmp(name, fac[i].name) == 0)
			return (fac[i].facility);
	return (-1);
}

/*
 * The admin listener needs its token (a secret file, like the bind
 * password: not readable by others, one line of at least 16 bytes), and
 * access_log = "syslog[:facility]" picks syslog over a file.  A file
 * really called "syslog" is still reachable as "./syslog".
 */
static void
conf_check_admin(struct conf_parse *p, struct config *c)
{
	const struct conf_var	*v;
	const struct conf_where	*w;
	const char		*file, *why = NULL;
	struct stat		 st;
	char			 buf[4098];
	size_t			 len = 0;
	ssize_t			 r;
	int			 fd, line;

	c->access_syslog = -1;
	if (c->access_log != NULL && strncmp(c->access_log, "syslog", 6) ==
	    0 && (c->access_log[6] == '\0' || c->access_log[6] == ':')) {
		c->access_syslog = c->access_log[6] == '\0' ? LOG_DAEMON :
		    conf_syslog_facility(c->access_log + 7);
		if (c->access_syslog == -1)
			conf_errat(p, conf_var_find(NULL, "access_log"),
			    "access_log: '%s': the syslog facility must be "
			    "daemon, user or local0..local7", c->access_log);
	}
	v = conf_var_find(NULL, "admin_token_file");
	w = &p->where[v - conf_vars];
	if (c->admin_listen == NULL) {
		if (c->admin_token_file != NULL)
			conf_errat(p, v, "admin_token_file: set, but there is "
			    "no admin_listen to use it");
		return;
	}
	if (c->admin_token_file == NULL) {
		conf_errat(p, conf_var_find(NULL, "admin_listen"),
		    "admin_listen: needs admin_token_file (the bearer token "
		    "clients must present)");
		return;
	}
	file = w->file != NULL ? w->file : p->file;
	line = w->line > 0 ? w->line : 1;
	/* O_NONBLOCK: opening a FIFO must not hang a reload. */
	if ((fd = open(c->admin_token_file, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		conf_err(p, "%s:%d: admin_token_file %s: cannot open: %s",
		    file, line, c->admin_token_file, strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_mode & S_IRWXO)
		why = "others have access to it; chmod o-rwx it";
	while (why == NULL && len < sizeof(buf)) {
		if ((r = read(fd, buf + len, sizeof(buf) - len)) == -1) {
			if (errno == EINTR)
				continue;
			why = strerror(errno);
		} else if (r == 0)
			break;
		else
			len += (size_t)r;
	}
	close(fd);
	if (why == NULL) {
		if (memchr(buf, '\n', len) != NULL)
			len = (size_t)((char *)memchr(buf, '\n', len) - buf);
		if (len > 0 && buf[len - 1] == '\r')
			len--;
		if (len < 16)
			why = "the token must be at least 16 bytes";
		else if (len > 4096)
			why = "the token must be at most 4096 bytes";
		else if (memchr(buf, '\0', len) != NULL)
			why = "contains a NUL byte";
	}
	if (why == NULL && (c->admin_token = malloc(len + 1)) == NULL)
		why = "out of memory";
	if (why != NULL) {
		conf_err(p, "%s:%d: admin_token_file %s: %s", file, line,
		    c->admin_token_file, why);
	} else {
		memcpy(c->admin_token, buf, len);
		c->admin_token[len] = '\0';
		c->admin_token_len = len;
	}
	explicit_bzero(buf, sizeof(buf));
}

/*
 * ntlm defaults that depend on other options, then the hash file.  The
 * section's own shape was checked at its closing brace (conf_end_ntlm).
 */
static void
conf_check_ntlm(struct conf_parse *p, struct config *c)
{
	const struct conf_var	*v = conf_var_find("ntlm", "hashfile");
	const struct conf_where	*w = &p->where[v - conf_vars];
	struct conf_ntlm	*n = &c->ntlm;
	char			*s;
	size_t			 len;

	if (n->domain == NULL)
		return;		/* reported by conf_end_ntlm */
	if (n->dns_domain == NULL) {
		if ((n->dns_domain = strdup(n->domain)) == NULL)
			goto nomem;
		for (s = n->dns_domain; *s != '\0'; s++)
			*s = (char)tolower((unsigned char)*s);
	}
	/*
	 * The NetBIOS computer name Windows derives from a host name: its
	 * first label, upper-cased, cut to 15 characters.
	 */
	if (n->computer == NULL && c->hostname != NULL) {
		len = strcspn(c->hostname, ".");
		if (len > NB_NAME_MAX)
			len = NB_NAME_MAX;
		if ((n->computer = strndup(c->hostname, len)) == NULL)
			goto nomem;
		for (s = n->computer; *s != '\0'; s++)
			*s = (char)toupper((unsigned char)*s);
	}

	if (n->backend == NTLM_BACKEND_WINBIND)
		conf_check_winbind(p, c);
	if (n->backend != NTLM_BACKEND_HASHFILE || n->hashfile == NULL)
		return;
	/* Relative to the file that names it, as include() does. */
	if (n->hashfile[0] != '/' && w->file != NULL) {
		if ((s = conf_include_path(w->file, n->hashfile)) == NULL)
			goto nomem;
		free(n->hashfile);
		n->hashfile = s;
	}
	conf_hashfile_load(p, c);
	return;

 nomem:
	conf_err(p, "%s: ntlm: out of memory", p->file);
}

/*
 * The negotiate section after the parse: the thread count for this
 * machine, the keytab path relative to the file naming it, then the
 * keytab itself (conf_keytab.c), whose errors are reported at its line.
 */
static void
conf_check_negotiate(struct conf_parse *p, struct config *c)
{
	const struct conf_var	*v = conf_var_find("negotiate", "keytab");
	const struct conf_where	*w = &p->where[v - conf_vars];
	struct conf_negotiate	*n = &c->negotiate;
	char			 why[CONF_MSG_MAX];
	char			*s;
	long			 ncpu;

	if (n->threads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		n->threads = ncpu < 1 ? 2 : ncpu > 32 ? 64 : 2 * (int)ncpu;
	}
	if (n->keytab == NULL)
		return;		/* reported by conf_end_negotiate */
	if (n->keytab[0] != '/' && w->file != NULL) {
		if ((s = conf_include_path(w->file, n->keytab)) == NULL) {
			conf_err(p, "%s: negotiate: out of memory", p->file);
			return;
		}
		free(n->keytab);
		n->keytab = s;
	}
	if (conf_keytab_load(n, why, sizeof(why)) == -1)
		conf_errat(p, v, "negotiate keytab %s: %s", n->keytab, why);
}

/*
 * The saml section after the parse: file names relative to the file
 * naming them, then the files and the service provider (conf_saml.c).
 * Its messages start with the option they are about, and are reported
 * at that option's line (else at the section's closing brace).
 */
static void
conf_check_saml(struct conf_parse *p, struct config *c)
{
	static const char *const files[] = { "idp_metadata", "sp_key",
	    "sp_cert", "cookie_key_file" };
	struct conf_saml	*sm = &c->saml;
	char			**fields[4], why[CONF_MSG_MAX], opt[32], *s;
	const struct conf_var	*v;
	const struct conf_where	*w;
	size_t			 i, n;

	fields[0] = &sm->idp_metadata;
	fields[1] = &sm->sp_key;
	fields[2] = &sm->sp_cert;
	fields[3] = &sm->cookie_key_file;
	for (i = 0; i < 4; i++) {
		v = conf_var_find("saml", files[i]);
		w = &p->where[v - conf_vars];
		if (*fields[i] == NULL)
			return;		/* reported by conf_end_saml */
		if ((*fields[i])[0] == '/' || w->file == NULL)
			continue;
		if ((s = conf_include_path(w->file, *fields[i])) == NULL) {
			conf_err(p, "%s: saml: out of memory", p->file);
			return;
		}
		free(*fields[i]);
		*fields[i] = s;
	}
	if (sm->sp_entity_id == NULL || sm->portal == NULL ||
	    sm->nverified_domains == 0)
		return;		/* reported by conf_end_saml */
	if (conf_saml_load(sm, why, sizeof(why)) == 0)
		return;
	n = strspn(why, "abcdefghijklmnopqrstuvwxyz_");
	snprintf(opt, sizeof(opt), "%.*s", (int)(n < sizeof(opt) ? n : 0),
	    why);
	if ((v = conf_var_find("saml", opt)) != NULL &&
	    p->where[v - conf_vars].line > 0)
		conf_errat(p, v, "saml %s", why);
	else if (p->saml_end.at.file != NULL)
		conf_err(p, "%s:%d: saml %s", p->saml_end.at.file,
		    p->saml_end.at.line, why);
	else
		conf_err(p, "%s: saml %s", p->file, why);
}

/*
 * saml's portal_cert, portal_key and portal_listen, once the portal URL
 * is known (conf_check_saml): the file names relative to the file naming
 * them, then the TLS context (conf_portal_tls.c), whose errors are
 * reported at the line of the option at fault.
 */
static void
conf_check_portal_tls(struct conf_parse *p, struct config *c)
{
	static const char *const files[] = { "portal_cert", "portal_key" };
	char			**fields[2], why[CONF_MSG_MAX], *s;
	const struct conf_var	*v;
	const struct conf_where	*w;
	const char		*opt;
	size_t			 i;

	if (c->saml.portal_host == NULL)
		return;		/* the portal itself was reported */
	fields[0] = &c->saml.portal_cert;
	fields[1] = &c->saml.portal_key;
	for (i = 0; i < 2; i++) {
		v = conf_var_find("saml", files[i]);
		w = &p->where[v - conf_vars];
		if (*fields[i] == NULL || (*fields[i])[0] == '/' ||
		    w->file == NULL)
			continue;
		if ((s = conf_include_path(w->file, *fields[i])) == NULL) {
			conf_err(p, "%s: saml: out of memory", p->file);
			return;
		}
		free(*fields[i]);
		*fields[i] = s;
	}
	if (conf_portal_tls_load(c, &opt, why, sizeof(why)) == 0)
		return;
	conf_errat(p, conf_var_find("saml", opt), "saml %s: %s", opt, why);
}

/*
 * The ldap section after the parse: the URI list as libldap takes it
 * (space separated, tried in order), file names relative to the file
 * that names them, and the bind password.  The section's own shape was
 * checked at its closing brace (conf_end_ldap).
 */
static void
conf_check_ldap(struct conf_parse *p, struct config *c)
{
	const struct conf_var	*v;
	const struct conf_where	*w;
	struct conf_ldap	*l = &c->ldap;
	struct stat		 st;
	char			**fields[2], *s;
	const char		*why;
	size_t			 i, len = 0;

	for (i = 0; i < l->nuris; i++)
		len += strlen(l->uris[i]) + 1;
	if (l->nuris > 0) {
		if ((l->uri_list = malloc(len)) == NULL)
			goto nomem;
		l->uri_list[0] = '\0';
		for (i = 0; i < l->nuris; i++) {
			if (i > 0)
				strcat(l->uri_list, " ");
			strcat(l->uri_list, l->uris[i]);
		}
	}
	fields[0] = &l->bind_password_file;
	fields[1] = &l->tls_ca_file;
	for (i = 0; i < 2; i++) {
		v = conf_var_find("ldap", i == 0 ? "bind_password_file" :
		    "tls_ca_file");
		w = &p->where[v - conf_vars];
		if (*fields[i] == NULL || (*fields[i])[0] == '/' ||
		    w->file == NULL)
			continue;
		if ((s = conf_include_path(w->file, *fields[i])) == NULL)
			goto nomem;
		free(*fields[i]);
		*fields[i] = s;
	}
	if (l->tls_ca_file != NULL) {
		why = NULL;
		if (stat(l->tls_ca_file, &st) == -1)
			why = strerror(errno);
		else if (!S_ISREG(st.st_mode))
			why = "not a regular file";
		if (why != NULL)
			conf_errat(p, conf_var_find("ldap", "tls_ca_file"),
			    "ldap tls_ca_file %s: %s", l->tls_ca_file, why);
	}
	conf_check_groups(p, c);
	if (l->bind_password_file != NULL)
		conf_ldap_password_load(p, c);
	return;

 nomem:
	conf_err(p, "%s: ldap: out of memory", p->file);
}

/*
 * The group options of the ldap section: the group search base defaults
 * to base_dn, a stale answer is older than a fresh one by definition,
 * and StartTLS on an ldaps:// connection would be TLS inside TLS.
 */
static void
conf_check_groups(struct conf_parse *p, struct config *c)
{
	struct conf_ldap	*l = &c->ldap;
	size_t			 i;

	if (l->group_base_dn == NULL && l->base_dn != NULL &&
	    (l->group_base_dn = strdup(l->base_dn)) == NULL) {
		conf_err(p, "%s: ldap: out of memory", p->file);
		return;
	}
	if (l->stale_ttl > 0 && l->stale_ttl < l->cache_ttl)
		conf_errat(p, conf_var_find("ldap", "stale_ttl"),
		    "ldap stale_ttl (%d) must be 0 (never serve stale "
		    "groups) or at least cache_ttl (%d)", l->stale_ttl,
		    l->cache_ttl);
	for (i = 0; l->starttls && i < l->nuris; i++)
		if (strncmp(l->uris[i], "ldaps://", 8) == 0) {
			conf_errat(p, conf_var_find("ldap", "starttls"),
			    "ldap starttls cannot be used with %s (ldaps:// "
			    "is TLS already)", l->uris[i]);
			break;
		}
}

/*
 * Read the service account's password from bind_password_file: a regular
 * file that "other" cannot read, write or search, holding the password
 * on its first line (a final newline, and CR before it, are not part of
 * it).  The password lands in a malloc'ed buffer that conf_free() wipes;
 * every other copy is wiped here.  It never appears in a message.
 */
static void
conf_ldap_password_load(struct conf_parse *p, struct config *c)
{
	const struct conf_var	*v = conf_var_find("ldap",
				    "bind_password_file");
	const struct conf_where	*w = &p->where[v - conf_vars];
	struct conf_ldap	*l = &c->ldap;
	const char		*path = l->bind_password_file, *file;
	const char		*why = NULL;
	struct stat		 st;
	char			 buf[LDAP_PASSWORD_MAX + 2];
	size_t			 len = 0;
	ssize_t			 r;
	int			 fd, wline;

	file = w->file != NULL ? w->file : p->file;
	wline = w->line > 0 ? w->line : 1;
	/* O_NONBLOCK: opening a FIFO must not hang a reload. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		conf_err(p, "%s:%d: ldap bind_password_file %s: cannot open: "
		    "%s", file, wline, path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_mode & S_IRWXO) {
		conf_err(p, "%s:%d: ldap bind_password_file %s: others have "
		    "access to it (mode %04o); chmod o-rwx it", file, wline,
		    path, (unsigned)(st.st_mode & 07777));
		goto done;
	}
	while (why == NULL && len < sizeof(buf)) {
		if ((r = read(fd, buf + len, sizeof(buf) - len)) == -1) {
			if (errno == EINTR)
				continue;
			why = strerror(errno);
		} else if (r == 0)
			break;
		else
			len += (size_t)r;
	}
	if (why == NULL) {
		/* The first line; a trailing CR LF or LF is not ours. */
		if (memchr(buf, '\n', len) != NULL)
			len = (size_t)((char *)memchr(buf, '\n', len) - buf);
		if (len > 0 && buf[len - 1] == '\r')
			len--;
		if (len > LDAP_PASSWORD_MAX)
			why = "longer than 1024 bytes";
		else if (len == 0)
			why = "empty (an empty password would bind as "
			    "anonymous)";
		else if (memchr(buf, '\0', len) != NULL)
			why = "contains a NUL byte";
	}
	if (why != NULL) {
		conf_err(p, "%s:%d: ldap bind_password_file %s: %s", file,
		    wline, path, why);
		goto done;
	}
	if ((l->bind_password = malloc(len + 1)) == NULL) {
		conf_err(p, "%s: ldap: out of memory", p->file);
		goto done;
	}
	memcpy(l->bind_password, buf, len);
	l->bind_password[len] = '\0';
	l->bind_password_len = len;
 done:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
}

/*
 * Read the hash file into c->ntlm.users, sorted for conf_ntlm_user().
 * It holds password equivalents: it must be a regular file that "other"
 * cannot read, write or search (as relayd and sshd demand of key files),
 * and every copy of its bytes is wiped before it is freed.  Each bad line
 * is reported as "HASHFILE:LINE: message", never with the hash in it.
 */
static void
conf_hashfile_load(struct conf_parse *p, struct config *c)
{
	const struct conf_var	*v = conf_var_find("ntlm", "hashfile");
	const struct conf_where	*w = &p->where[v - conf_vars];
	const char		*path = c->ntlm.hashfile, *file, *why = NULL;
	struct conf_hashent	*ents = NULL;
	struct stat		 st;
	char			*buf = NULL, *line, *nl, extra;
	size_t			 size = 0, len = 0, nlines, nents = 0, i;
	ssize_t			 r;
	int			 fd, lineno, rc, errs = p->nerrors, wline;

	file = w->file != NULL ? w->file : p->file;
	wline = w->line > 0 ? w->line : 1;
	/* O_NONBLOCK: opening a FIFO must not hang a reload. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		conf_err(p, "%s:%d: ntlm hashfile %s: cannot open: %s", file,
		    wline, path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_mode & S_IRWXO) {
		conf_err(p, "%s:%d: ntlm hashfile %s: others have access to it "
		    "(mode %04o); chmod o-rwx it", file, wline, path,
		    (unsigned)(st.st_mode & 07777));
		goto done;
	} else if (st.st_size > HASHFILE_MAX)
		why = "larger than 64 MiB";
	else if ((buf = malloc((size = (size_t)st.st_size) + 1)) == NULL)
		why = "out of memory";
	if (why != NULL) {
		conf_err(p, "%s:%d: ntlm hashfile %s: %s", file, wline, path,
		    why);
		goto done;
	}
	/* Read exactly the size fstat gave: no realloc leaves copies. */
	while (len < size) {
		if ((r = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			conf_err(p, "%s:%d: ntlm hashfile %s: read: %s", file,
			    wline, path, strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len != size || read(fd, &extra, 1) > 0) {
		explicit_bzero(&extra, sizeof(extra));
		conf_err(p, "%s:%d: ntlm hashfile %s: changed while being "
		    "read", file, wline, path);
		goto done;
	}
	buf[len] = '\0';

	nlines = 1;
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n')
			nlines++;
		else if (buf[i] == '\0') {
			conf_err(p, "%s:%zu: contains a NUL byte", path, nlines);
			goto done;
		}
	}
	if ((ents = calloc(nlines, sizeof(*ents))) == NULL) {
		conf_err(p, "%s: out of memory", path);
		goto done;
	}
	for (line = buf, lineno = 1; line != NULL; line = nl, lineno++) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		rc = conf_hashfile_line(p, path, lineno, line,
		    &ents[nents].u);
		if (rc == 1)
			ents[nents++].line = lineno;
	}
	if (p->nerrors != errs)
		goto done;

	/* Sorted by (domain, user) and then line: duplicates are adjacent. */
	qsort(ents, nents, sizeof(*ents), conf_hashent_cmp);
	for (i = 1; i < nents; i++)
		if (conf_user_cmp(&ents[i - 1].u, &ents[i].u) == 0)
			conf_err(p, "%s:%d: duplicate user '%s%s%s' (also on "
			    "line %d)", path, ents[i].line, ents[i].u.domain ?
			    ents[i].u.domain : "", ents[i].u.domain ? "\\" : "",
			    ents[i].u.user, ents[i - 1].line);
	if (p->nerrors != errs)
		goto done;
	if (nents > 0 && (c->ntlm.users = calloc(nents,
	    sizeof(*c->ntlm.users))) == NULL) {
		conf_err(p, "%s: out of memory", path);
		goto done;
	}
	for (i = 0; i < nents; i++)
		c->ntlm.users[i] = ents[i].u;
	c->ntlm.nusers = nents;
	nents = 0;		/* the strings belong to c now */

 done:
	for (i = 0; i < nents; i++) {
		free(ents[i].u.domain);
		free(ents[i].u.user);
	}
	if (ents != NULL) {
		explicit_bzero(ents, nlines * sizeof(*ents));
		free(ents);
	}
	if (buf != NULL) {
		explicit_bzero(buf, size + 1);
		free(buf);
	}
	close(fd);
}

/*
 * One line of the hash file, NUL-terminated in place: "user:NTHASH" or
 * "DOMAIN\user:NTHASH", blanks around the fields and a CR before the
 * newline allowed, '#' comments and blank lines skipped.  Fills out
 * (strings malloc'ed) and returns 1, 0 for nothing, -1 after reporting
 * an error at path:lineno.
 */
static int
conf_hashfile_line(struct conf_parse *p, const char *path, int lineno,
    char *line, struct ntlm_user *out)
{
	const char	*why = NULL;
	char		*s = line, *e, *colon, *hash, *dom = NULL, *user;
	int		 i, hi, lo;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	if (*s == '\0' || *s == '#')
		return (0);

	if ((colon = strchr(s, ':')) == NULL) {
		why = "missing ':' between the user and the NT hash";
		goto bad;
	}
	*colon = '\0';
	for (e = colon; e > s && (e[-1] == ' ' || e[-1] == '\t'); )
		*--e = '\0';
	for (hash = colon + 1; *hash == ' ' || *hash == '\t'; hash++)
		;
	user = s;
	if ((e = strchr(s, '\\')) != NULL) {
		dom = s;
		*e = '\0';
		user = e + 1;
	}
	if (dom != NULL && *dom == '\0')
		why = "empty domain before '\\'";
	else if (*user == '\0')
		why = "empty user name";
	else if (strchr(user, '\\') != NULL)
		why = "more than one '\\' in the user name";
	else if (strlen(user) > HASHFILE_NAME_MAX ||
	    (dom != NULL && strlen(dom) > HASHFILE_NAME_MAX))
		why = "user or domain name longer than 256 bytes";
	if (why != NULL)
		goto bad;
	for (i = 0; i < 2; i++)
		for (e = i == 0 ? user : dom; e != NULL && *e != '\0'; e++)
			if ((unsigned char)*e < 0x20 || *e == 0x7f) {
				why = "control character in the user name";
				goto bad;
			}
	if (strlen(hash) != 32 || strspn(hash, "0123456789abcdefABCDEF") !=
	    32) {
		why = "the NT hash must be 32 hex digits";
		goto bad;
	}

	for (i = 0; i < 16; i++) {
		hi = hash[2 * i];
		lo = hash[2 * i + 1];
		hi = hi <= '9' ? hi - '0' : (hi | 0x20) - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : (lo | 0x20) - 'a' + 10;
		out->nthash[i] = (uint8_t)(hi << 4 | lo);
	}
	out->domain = NULL;
	if ((out->user = strdup(user)) == NULL ||
	    (dom != NULL && (out->domain = strdup(dom)) == NULL)) {
		free(out->user);
		explicit_bzero(out, sizeof(*out));
		why = "out of memory";
		goto bad;
	}
	/* The client's domain is compared without case; store it upper. */
	for (e = out->domain; e != NULL && *e != '\0'; e++)
		*e = (char)toupper((unsigned char)*e);
	return (1);

 bad:
	conf_err(p, "%s:%d: %s", path, lineno, why);
	return (-1);
}

/*
 * ASCII case-insensitive compare, independent of the locale: user and
 * domain names are matched as Windows does for ASCII (bytes above 0x7f
 * compare as they are).
 */
static int
conf_casecmp(const char *a, const char *b)
{
	int	ca, cb;

	for (;; a++, b++) {
		ca = (unsigned char)*a;
		cb = (unsigned char)*b;
		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb || ca == 0)
			return (ca - cb);
	}
}

/*
 * backend winbind: split the helper command line on spaces (no quoting:
 * ntlm_auth's options need none) into helper_argv, and check that its
 * program is an absolute path to an executable regular file, so that a
 * typo fails at -t and reload rather than at the first sign-in.
 */
static void
conf_check_winbind(struct conf_parse *p, struct config *c)
{
	const struct conf_var	*v = conf_var_find("ntlm", "helper");
	struct conf_ntlm	*n = &c->ntlm;
	struct stat		 st;
	const char		*why = NULL;
	char			*s, *tok, *save = NULL;
	size_t			 nargs = 0;

	if (p->where[v - conf_vars].line <= 0)
		v = conf_var_find("ntlm", "backend");	/* the default */
	if (n->helper == NULL || (s = strdup(n->helper)) == NULL)
		goto nomem;
	/* At most one argument per two bytes, and the NULL. */
	if ((n->helper_argv = calloc(strlen(s) / 2 + 2,
	    sizeof(char *))) == NULL) {
		free(s);
		goto nomem;
	}
	for (tok = strtok_r(s, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		if ((n->helper_argv[nargs] = strdup(tok)) == NULL) {
			free(s);
			goto nomem;
		}
		nargs++;
	}
	free(s);
	if (nargs == 0)
		why = "no program";
	else if (n->helper_argv[0][0] != '/')
		why = "the program must be an absolute path";
	else if (stat(n->helper_argv[0], &st) == -1)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (access(n->helper_argv[0], X_OK) == -1)
		why = "not executable";
	if (why != NULL)
		conf_errat(p, v, "ntlm helper '%s': %s", n->helper, why);
	return;

 nomem:
	conf_err(p, "%s: ntlm: out of memory", p->file);
}

/* Order of c->ntlm.users: no domain first, then domain, then user. */
static int
conf_user_cmp(const void *va, const void *vb)
{
	const struct ntlm_user	*a = va, *b = vb;
	int			 r;

	if ((a->domain == NULL) != (b->domain == NULL))
		return (a->domain == NULL ? -1 : 1);
	if (a->domain != NULL && (r = conf_casecmp(a->domain, b->domain)) != 0)
		return (r);
	return (conf_casecmp(a->user, b->user));
}

/* conf_user_cmp, then file order. */
static int
conf_hashent_cmp(const void *va, const void *vb)
{
	const struct conf_hashent	*a = va, *b = vb;
	int				 r;

	if ((r = conf_user_cmp(&a->u, &b->u)) != 0)
		return (r);
	return (a->line < b->line ? -1 : a->line > b->line);
}

/*
 * Parse and validate file, or text named file; see conf.h.  The returned
 * config holds one reference; give it back with conf_unref().  Not
 * reentrant (libconfuse's lexer is global): call from one thread.
 */
struct config *
conf_load(const char *file, const char *text, char *err, size_t errlen)
{
	struct conf_parse	 p;
	struct config		*c = NULL;
	cfg_t			*cfg = NULL;
	int			 rc;

	memset(&p, 0, sizeof(p));
	p.file = file != NULL ? file : "(config)";
	p.err = err;
	p.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	conf_cur = &p;

	/* Lists with defaults are parsed by cfg_init: set conf_cur first. */
	if ((cfg = conf_cfg_init()) == NULL) {
		conf_err(&p, "%s: out of memory", p.file);
		goto fail;
	}
	if (conf_parse_input(&p, cfg, p.file, text) == -1)
		goto fail;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->file = strdup(p.file)) == NULL) {
		conf_err(&p, "%s: out of memory", p.file);
		goto fail;
	}
	c->refcnt = 1;
	if (conf_copy(&p, c, cfg) == -1)
		goto fail;
	/* Both, so that -t shows the policy's errors with the others. */
	rc = conf_check(&p, c);
	if (conf_policy(&p, c, cfg) == -1)
		goto fail;
	/* Risk rules name categories: the policy says which are loaded. */
	conf_check_risks(&p, c);
	if (rc == -1 || p.nerrors > 0)
		goto fail;

	cfg_free(cfg);
	conf_parse_free(&p);
	conf_cur = NULL;
	return (c);

 fail:
	if (c != NULL)
		conf_free(c);
	if (cfg != NULL)
		cfg_free(cfg);
	conf_parse_free(&p);
	conf_cur = NULL;
	return (NULL);
}

/* The index of file in p->pfiles, added if new; -1 when out of memory. */
static int
conf_pfile(struct conf_parse *p, const char *file)
{
	char	**f;
	size_t	  i;

	for (i = p->npfiles; i > 0; i--)
		if (strcmp(p->pfiles[i - 1], file) == 0)
			return ((int)i - 1);
	if ((f = reallocarray(p->pfiles, p->npfiles + 1, sizeof(*f))) == NULL)
		return (-1);
	p->pfiles = f;
	if ((f[p->npfiles] = strdup(file)) == NULL)
		return (-1);
	return ((int)p->npfiles++);
}

/*
 * Fill opts with the options of policy block kind ("rule", "category",
 * "schedule"); returns how many.  Names live in static storage: cfg_init
 * copies them anyway.
 */
static size_t
conf_pol_opts(cfg_opt_t *opts, const char *kind)
{
	static char	 notnames[POLICY_NCOND][40];
	size_t		 i, n = 0;

	if (strcmp(kind, "rule") == 0) {
		for (i = 0; i < POLICY_NCOND; i++) {
			memset(&opts[n], 0, sizeof(opts[n]));
			opts[n].name = policy_cond_name((int)i);
			opts[n].type = CFGT_STR;
			opts[n].flags = CFGF_LIST;
			opts[n++].parsecb = conf_cb_pol;
			snprintf(notnames[i], sizeof(notnames[i]), "not_%s",
			    policy_cond_name((int)i));
			memset(&opts[n], 0, sizeof(opts[n]));
			opts[n].name = notnames[i];
			opts[n].type = CFGT_STR;
			opts[n].flags = CFGF_LIST;
			opts[n++].parsecb = conf_cb_pol;
		}
		for (i = 0; i < sizeof(conf_rule_opts) /
		    sizeof(conf_rule_opts[0]); i++) {
			memset(&opts[n], 0, sizeof(opts[n]));
			opts[n].name = conf_rule_opts[i];
			opts[n].type = CFGT_STR;
			opts[n++].parsecb = conf_cb_pol;
		}
	} else if (strcmp(kind, "category") == 0) {
		for (i = 0; i < sizeof(conf_cat_lists) /
		    sizeof(conf_cat_lists[0]); i++) {
			memset(&opts[n], 0, sizeof(opts[n]));
			opts[n].name = conf_cat_lists[i];
			opts[n].type = CFGT_STR;
			opts[n].flags = CFGF_LIST;
			opts[n++].parsecb = conf_cb_pol;
		}
	} else {
		for (i = 0; i < sizeof(conf_sched_lists) /
		    sizeof(conf_sched_lists[0]); i++) {
			memset(&opts[n], 0, sizeof(opts[n]));
			opts[n].name = conf_sched_lists[i];
			opts[n].type = CFGT_STR;
			opts[n].flags = CFGF_LIST;
			opts[n++].parsecb = conf_cb_pol;
		}
		memset(&opts[n], 0, sizeof(opts[n]));
		opts[n].name = "timezone";
		opts[n].type = CFGT_STR;
		opts[n++].parsecb = conf_cb_pol;
	}
	return (n);
}

/*
 * Value callback of the policy blocks: remember the line of the option's
 * first value (policy_build reports its errors there) and check the
 * words that are not lists: action, monitor_action, auth, warn_ttl.
 */
static int
conf_cb_pol(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	struct conf_parse	*p = conf_cur;
	struct conf_pwhere	*w;
	const char		*title = cfg_title(cfg) ? cfg_title(cfg) : "";
	long			 n;
	size_t			 cap;
	int			 f;

	if (p == NULL || value == NULL)
		return (-1);
	*(const char **)result = value;
	if (conf_pw_find(p, cfg, opt->name) == NULL && cfg->line > 0) {
		if (p->npw == p->pwcap) {
			cap = p->pwcap ? p->pwcap * 2 : 64;
			if ((w = reallocarray(p->pw, cap, sizeof(*w))) ==
			    NULL) {
				cfg_error(cfg, "out of memory");
				return (-1);
			}
			p->pw = w;
			p->pwcap = cap;
		}
		if ((f = conf_pfile(p, conf_filename(cfg))) == -1) {
			cfg_error(cfg, "out of memory");
			return (-1);
		}
		w = &p->pw[p->npw++];
		w->sec = cfg;
		w->opt = opt->name;
		w->file = f;
		w->line = cfg->line;
	}

	if (strcmp(opt->name, "action") == 0 ||
	    strcmp(opt->name, "monitor_action") == 0) {
		if (policy_action_parse(value) == -1)
			cfg_error(cfg, "rule '%s': %s: '%s' is not allow, "
			    "block, warn or monitor", title, opt->name, value);
		else if (strcmp(opt->name, "monitor_action") == 0 &&
		    policy_action_parse(value) == POLICY_MONITOR)
			cfg_error(cfg, "rule '%s': monitor_action: '%s': "
			    "what the rule would do is allow, block or warn",
			    title, value);
	} else if (strcmp(opt->name, "auth") == 0 &&
	    strcmp(cfg_name(cfg), "rule") == 0) {
		if (policy_auth_parse(value) == -1 ||
		    policy_auth_parse(value) == POLICY_AUTH_ANY)
			cfg_error(cfg, "rule '%s': auth: '%s' is not required "
			    "or none", title, value);
	} else if (strcmp(opt->name, "warn_ttl") == 0) {
		if (conf_number(value, 0, &n) == -1 || n < 1 || n > 31536000)
			cfg_error(cfg, "rule '%s': warn_ttl: '%s' is not a "
			    "number of seconds from 1 to 31536000", title,
			    value);
	}
	return (0);
}

/* Where option opt of block sec was first given, or NULL. */
static const struct conf_pwhere *
conf_pw_find(struct conf_parse *p, const cfg_t *sec, const char *opt)
{
	size_t	i;

	for (i = p->npw; i > 0; i--)
		if (p->pw[i - 1].sec == sec &&
		    strcmp(p->pw[i - 1].opt, opt) == 0)
			return (&p->pw[i - 1]);
	return (NULL);
}

/*
 * The line of option opt of block sec (opt NULL: of the block itself,
 * its first option's line, else its closing brace); *file gets the file.
 * 0 when not known.
 */
static int
conf_pol_line(struct conf_parse *p, const cfg_t *sec, const char *opt,
    const char **file)
{
	const struct conf_pwhere	*w = NULL;
	size_t				 i;

	if (opt != NULL)
		w = conf_pw_find(p, sec, opt);
	else
		for (i = 0; i < p->npw && w == NULL; i++)
			if (p->pw[i].sec == sec)
				w = &p->pw[i];
	if (w != NULL) {
		*file = p->pfiles[w->file];
		return (w->line);
	}
	for (i = 0; i < p->npend; i++)
		if (p->pend[i].sec == sec) {
			*file = p->pfiles[p->pend[i].file];
			return (opt == NULL ? p->pend[i].line : 0);
		}
	*file = p->file;
	return (0);
}

/*
 * The closing brace of a policy block (its validate callback, run once):
 * note where it is, check its name and, for a rule, that it has an
 * action.  0, or -1 out of memory.
 */
static int
conf_pol_end(cfg_t *cfg, cfg_opt_t *opt, const char *kind)
{
	struct conf_parse	*p = conf_cur;
	struct conf_pend	*e;
	cfg_t			*sec;
	const char		*name, *s;
	unsigned int		 n = cfg_opt_size(opt);
	int			 f;

	if (p == NULL || n == 0 || (sec = cfg_opt_getnsec(opt, n - 1)) == NULL)
		return (-1);
	if ((e = reallocarray(p->pend, p->npend + 1, sizeof(*e))) == NULL) {
		cfg_error(cfg, "out of memory");
		return (-1);
	}
	p->pend = e;
	if ((f = conf_pfile(p, conf_filename(cfg))) == -1) {
		cfg_error(cfg, "out of memory");
		return (-1);
	}
	e = &p->pend[p->npend++];
	e->sec = sec;
	e->file = f;
	e->line = cfg->line;

	/* Names show in the log, on block pages and in explain. */
	name = cfg_title(sec) != NULL ? cfg_title(sec) : "";
	for (s = name; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			break;
	if (*name == '\0' || *s != '\0' || strlen(name) > CONF_NAME_MAX)
		conf_err(p, "%s:%d: %s '%s': the name must be 1 to %d "
		    "characters, none of them control characters",
		    conf_filename(cfg), cfg->line, kind, name, CONF_NAME_MAX);
	if (strcmp(kind, "rule") == 0 && cfg_getstr(sec, "action") == NULL)
		conf_err(p, "%s:%d: rule '%s': action is required (allow, "
		    "block, warn or monitor)", conf_filename(cfg), cfg->line,
		    name);
	return (0);
}

static int
conf_end_rule(cfg_t *cfg, cfg_opt_t *opt)
{
	return (conf_pol_end(cfg, opt, "rule"));
}

static int
conf_end_category(cfg_t *cfg, cfg_opt_t *opt)
{
	return (conf_pol_end(cfg, opt, "category"));
}

static int
conf_end_schedule(cfg_t *cfg, cfg_opt_t *opt)
{
	return (conf_pol_end(cfg, opt, "schedule"));
}

/*
 * The values of list option opt of block sec into l (pointers into the
 * parsed cfg, which outlives the build).  0, or -1 out of memory.
 */
static int
conf_pol_list(struct conf_parse *p, cfg_t *sec, const char *opt,
    struct policy_list *l)
{
	const char	**v, *file;
	unsigned int	  i, n = cfg_size(sec, opt);

	memset(l, 0, sizeof(*l));
	if (n == 0)
		return (0);
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return (-1);
	for (i = 0; i < n; i++)
		v[i] = cfg_getnstr(sec, opt, i);
	l->v = v;
	l->n = n;
	l->line = conf_pol_line(p, sec, opt, &file);
	return (0);
}

/* A build warning (a skipped line of a list): say it, load anyway. */
static void
conf_pol_warn(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "iaproxy: warning: %s\n", msg);
}

/*
 * Compile the policy blocks into c->policy with policy_build(): every
 * name, CIDR, regex, time and zone checked, the category lists read.
 * Each problem becomes one "FILE:LINE: message" of this load.
 */
static int
conf_policy(struct conf_parse *p, struct config *c, cfg_t *cfg)
{
	struct policy_src		 src;
	struct policy_rule_src		*rs = NULL;
	struct policy_category_src	*cs = NULL;
	struct policy_schedule_src	*ss = NULL;
	struct policy_catdir_src	*cd = NULL;
	const char			**nets = NULL, *file, *v;
	char				*err = NULL, *line, *nl;
	cfg_t				*sec;
	size_t				 i, j, nr, nc, ns, nd;
	long				 num;
	int				 rc = -1, vline;

	memset(&src, 0, sizeof(src));
	nr = cfg_size(cfg, "rule");
	nc = cfg_size(cfg, "category");
	ns = cfg_size(cfg, "schedule");
	nd = c->ncategory_dirs;
	if ((nr > 0 && (rs = calloc(nr, sizeof(*rs))) == NULL) ||
	    (nc > 0 && (cs = calloc(nc, sizeof(*cs))) == NULL) ||
	    (ns > 0 && (ss = calloc(ns, sizeof(*ss))) == NULL) ||
	    (nd > 0 && (cd = calloc(nd, sizeof(*cd))) == NULL) ||
	    (c->nnetworks > 0 && (nets = calloc(c->nnetworks,
	    sizeof(*nets))) == NULL) || (err = malloc(16384)) == NULL)
		goto nomem;

	for (i = 0; i < nr; i++) {
		sec = cfg_getnsec(cfg, "rule", i);
		rs[i].name = cfg_title(sec);
		rs[i].line = conf_pol_line(p, sec, NULL, &rs[i].file);
		for (j = 0; j < POLICY_NCOND; j++) {
			char nn[48];

			snprintf(nn, sizeof(nn), "not_%s",
			    policy_cond_name((int)j));
			if (conf_pol_list(p, sec, policy_cond_name((int)j),
			    &rs[i].cond[j]) == -1 ||
			    conf_pol_list(p, sec, nn, &rs[i].not_cond[j]) == -1)
				goto nomem;
		}
		if ((v = cfg_getstr(sec, "action")) != NULL &&
		    policy_action_parse(v) != -1)
			rs[i].action = (enum policy_action)
			    policy_action_parse(v);
		if ((v = cfg_getstr(sec, "monitor_action")) != NULL &&
		    policy_action_parse(v) != -1) {
			rs[i].monitor_action = (enum policy_action)
			    policy_action_parse(v);
			rs[i].monitor_set = 1;
		}
		if ((v = cfg_getstr(sec, "auth")) != NULL &&
		    policy_auth_parse(v) != -1)
			rs[i].auth = (enum policy_auth)policy_auth_parse(v);
		if ((v = cfg_getstr(sec, "warn_ttl")) != NULL &&
		    conf_number(v, 0, &num) == 0)
			rs[i].warn_ttl = num;
	}
	for (i = 0; i < nc; i++) {
		sec = cfg_getnsec(cfg, "category", i);
		cs[i].name = cfg_title(sec);
		cs[i].line = conf_pol_line(p, sec, NULL, &cs[i].file);
		if (conf_pol_list(p, sec, "domains_file",
		    &cs[i].domains_files) == -1 ||
		    conf_pol_list(p, sec, "urls_file", &cs[i].urls_files) ==
		    -1 || conf_pol_list(p, sec, "domains", &cs[i].domains) ==
		    -1)
			goto nomem;
	}
	for (i = 0; i < ns; i++) {
		sec = cfg_getnsec(cfg, "schedule", i);
		ss[i].name = cfg_title(sec);
		ss[i].line = conf_pol_line(p, sec, NULL, &ss[i].file);
		if (conf_pol_list(p, sec, "days", &ss[i].days) == -1 ||
		    conf_pol_list(p, sec, "times", &ss[i].times) == -1)
			goto nomem;
		ss[i].timezone = cfg_getstr(sec, "timezone");
		/* A bad zone is reported at the timezone line. */
		if (ss[i].timezone != NULL && (vline = conf_pol_line(p, sec,
		    "timezone", &file)) > 0)
			ss[i].line = vline;
	}
	for (i = 0; i < nd; i++) {
		const struct conf_var *vd = conf_var_find(NULL,
		    "category_dir");

		cd[i].dir = c->category_dirs[i];
		cd[i].file = p->where[vd - conf_vars].file != NULL ?
		    p->where[vd - conf_vars].file : p->file;
		cd[i].line = p->where[vd - conf_vars].line;
	}
	for (i = 0; i < c->nnetworks; i++)
		nets[i] = c->networks[i].name;

	src.rules = rs;
	src.nrules = nr;
	src.categories = cs;
	src.ncategories = nc;
	src.catdirs = cd;
	src.ncatdirs = nd;
	src.schedules = ss;
	src.nschedules = ns;
	src.default_action = (enum policy_action)c->policy_default;
	src.warn_ttl = c->policy_warn_ttl;
	src.timezone = c->policy_timezone;
	src.warn = conf_pol_warn;

	err[0] = '\0';
	c->policy = policy_build(&src, nets, c->nnetworks, err, 16384);
	if (c->policy == NULL) {
		/* One conf message per line of the build's report. */
		for (line = err; line != NULL && *line != '\0'; line = nl) {
			if ((nl = strchr(line, '\n')) != NULL)
				*nl++ = '\0';
			conf_err(p, "%s", line);
		}
		if (err[0] == '\0')
			conf_err(p, "%s: policy: out of memory", p->file);
	} else
		rc = 0;
	goto done;

 nomem:
	conf_err(p, "%s: policy: out of memory", p->file);
 done:
	for (i = 0; i < nr; i++)
		for (j = 0; j < POLICY_NCOND; j++) {
			free((void *)(uintptr_t)rs[i].cond[j].v);
			free((void *)(uintptr_t)rs[i].not_cond[j].v);
		}
	for (i = 0; i < nc; i++) {
		free((void *)(uintptr_t)cs[i].domains_files.v);
		free((void *)(uintptr_t)cs[i].urls_files.v);
		free((void *)(uintptr_t)cs[i].domains.v);
	}
	for (i = 0; i < ns; i++) {
		free((void *)(uintptr_t)ss[i].days.v);
		free((void *)(uintptr_t)ss[i].times.v);
	}
	free(rs);
	free(cs);
	free(ss);
	free(cd);
	free(nets);
	free(err);
	return (rc);
}

/* What one load kept on the side: where options and sections were. */
static void
conf_parse_free(struct conf_parse *p)
{
	size_t	i;

	for (i = 0; i < CONF_NVARS; i++)
		free(p->where[i].file);
	free(p->ntlm_end.at.file);
	free(p->ldap_end.at.file);
	free(p->neg_end.at.file);
	free(p->saml_end.at.file);
	for (i = 0; i < p->nnet_end; i++)
		free(p->net_end[i].at.file);
	free(p->net_end);
	for (i = 0; i < p->nrisk_end; i++)
		free(p->risk_end[i].at.file);
	free(p->risk_end);
	for (i = 0; i < p->npfiles; i++)
		free(p->pfiles[i]);
	free(p->pfiles);
	free(p->pw);
	free(p->pend);
}

/*
 * Take one more reference to c (a worker or a request that will use it);
 * returns c.  Safe from any thread.
 */
struct config *
conf_ref(struct config *c)
{
	if (c != NULL)
		__atomic_add_fetch(&c->refcnt, 1, __ATOMIC_RELAXED);
	return (c);
}

/*
 * Drop one reference; the last one frees the config.  Safe from any
 * thread.  The release/acquire pair orders every holder's reads of the
 * config before the free.
 */
void
conf_unref(struct config *c)
{
	if (c == NULL)
		return;
	if (__atomic_sub_fetch(&c->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
		conf_free(c);
}

static void
conf_free(struct config *c)
{
	size_t	i, j;

	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i].text);
	free(c->listen);
	for (i = 0; i < c->pac_ndirect_domains; i++)
		free(c->pac_direct_domains[i]);
	free(c->pac_direct_domains);
	free(c->pac_direct_networks);
	for (i = 0; i < c->nnetworks; i++) {
		free(c->networks[i].name);
		free(c->networks[i].src);
	}
	free(c->networks);
	free(c->ntlm.domain);
	free(c->ntlm.dns_domain);
	free(c->ntlm.computer);
	free(c->ntlm.hashfile);
	free(c->ntlm.helper);
	for (i = 0; c->ntlm.helper_argv != NULL &&
	    c->ntlm.helper_argv[i] != NULL; i++)
		free(c->ntlm.helper_argv[i]);
	free(c->ntlm.helper_argv);
	for (i = 0; i < c->ntlm.nusers; i++) {
		free(c->ntlm.users[i].domain);
		free(c->ntlm.users[i].user);
	}
	if (c->ntlm.users != NULL) {
		/* The NT hashes are password equivalents. */
		explicit_bzero(c->ntlm.users, c->ntlm.nusers *
		    sizeof(*c->ntlm.users));
		free(c->ntlm.users);
	}
	for (i = 0; i < c->ldap.nuris; i++)
		free(c->ldap.uris[i]);
	free(c->ldap.uris);
	free(c->ldap.uri_list);
	free(c->ldap.bind_dn);
	free(c->ldap.bind_password_file);
	if (c->ldap.bind_password != NULL) {
		explicit_bzero(c->ldap.bind_password,
		    c->ldap.bind_password_len);
		free(c->ldap.bind_password);
	}
	free(c->ldap.base_dn);
	free(c->ldap.user_filter);
	free(c->ldap.hash_attribute);
	free(c->ldap.tls_ca_file);
	free(c->ldap.group_base_dn);
	conf_keytab_free(&c->negotiate);
	free(c->negotiate.keytab);
	free(c->negotiate.principal);
	for (i = 0; i < c->negotiate.nrealms; i++) {
		free(c->negotiate.realms[i].realm);
		free(c->negotiate.realms[i].domain);
	}
	free(c->negotiate.realms);
	conf_saml_free(&c->saml);
	conf_portal_tls_free(&c->saml);
	policy_free(c->policy);
	free(c->policy_timezone);
	for (i = 0; i < c->ncategory_dirs; i++)
		free(c->category_dirs[i]);
	free(c->category_dirs);
	free(c->connect_ports);
	free(c->access_log);
	free(c->admin_socket);
	if (c->admin_listen != NULL)
		free(c->admin_listen->text);
	free(c->admin_listen);
	free(c->admin_token_file);
	if (c->admin_token != NULL) {
		explicit_bzero(c->admin_token, c->admin_token_len);
		free(c->admin_token);
	}
	free(c->syslog_socket);
	free(c->state_dir);
	for (i = 0; i < c->nrisks; i++) {
		free(c->risks[i].name);
		for (j = 0; j < c->risks[i].ncategories; j++)
			free(c->risks[i].categories[j]);
		free(c->risks[i].categories);
	}
	free(c->risks);
	free(c->hostname);
	free(c->file);
	free(c);
}

/* Is port one of connect_ports, the ports CONNECT may reach?  1 or 0. */
int
conf_connect_port_ok(const struct config *c, int port)
{
	size_t	i;

	for (i = 0; i < c->nconnect_ports; i++)
		if (c->connect_ports[i] == port)
			return (1);
	return (0);
}

/*
 * The network the client address sa belongs to: the first network, in
 * file order, with a src block that holds it (cidr_match: IPv4-mapped
 * IPv6 addresses match IPv4 blocks).  NULL when none does, including
 * when there are no networks at all; the caller tells the two apart by
 * c->nnetworks.
 */
const struct conf_network *
conf_network_for(const struct config *c, const struct sockaddr *sa)
{
	const struct conf_network	*n;
	size_t				 i, j;

	for (i = 0; i < c->nnetworks; i++) {
		n = &c->networks[i];
		for (j = 0; j < n->nsrc; j++)
			if (cidr_match(&n->src[j], sa))
				return (n);
	}
	return (NULL);
}

/*
 * The hash-file entry for user in domain, both compared without regard
 * to ASCII case.  A line written with that domain wins over one written
 * without a domain (which matches any); domain NULL or "" matches only
 * the latter.  NULL if there is no such entry, or no hash file.  The
 * entry lives as long as c.
 */
const struct ntlm_user *
conf_ntlm_user(const struct config *c, const char *domain, const char *user)
{
	struct ntlm_user	 key;
	const struct ntlm_user	*u;

	if (user == NULL || c->ntlm.nusers == 0)
		return (NULL);
	memset(&key, 0, sizeof(key));
	key.user = (char *)(uintptr_t)user;
	if (domain != NULL && *domain != '\0') {
		key.domain = (char *)(uintptr_t)domain;
		if ((u = bsearch(&key, c->ntlm.users, c->ntlm.nusers,
		    sizeof(key), conf_user_cmp)) != NULL)
			return (u);
	}
	key.domain = NULL;
	return (bsearch(&key, c->ntlm.users, c->ntlm.nusers, sizeof(key),
	    conf_user_cmp));
}

int
conf_realm_map(const struct conf_realm *map, size_t n, const char *name,
    char *out, size_t outlen)
{
	const char	*at = strrchr(name, '@');
	size_t		 i;
	int		 len;

	for (i = 0; at != NULL && i < n; i++)
		if (strcasecmp(map[i].realm, at + 1) == 0) {
			len = snprintf(out, outlen, "%s\\%.*s",
			    map[i].domain, (int)(at - name), name);
			return (len < 0 || (size_t)len >= outlen ? -1 : 1);
		}
	return (0);
}

