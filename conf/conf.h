/*
 * conf/: the configuration, parsed by libconfuse and validated as a whole.
 *
 * A struct config is immutable once conf_load() returns it and is shared by
 * reference count: every worker and every request in flight holds a
 * reference (conf_ref) and drops it when done (conf_unref).  Reload builds a
 * complete new config; the old one lives until its last holder lets go.
 * Nothing here touches the event loop.
 */
#ifndef IAPROXY_CONF_H
#define IAPROXY_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A CIDR block, IPv4 or IPv6; addresses are kept in network byte order. */
struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* masked to prefix */
	int		 prefix;
};

/* One listening address from `listen`. */
struct conf_listen {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			*text;	/* as written, e.g. "127.0.0.1:3128" */
};

enum log_format {
	LOG_FORMAT_SQUID,
	LOG_FORMAT_JSON,
};

/* Sign-in methods a network allows (`auth = {...}`), as bits. */
enum auth_method {
	AUTH_NONE	= 0x1,	/* no sign-in; only ever alone */
	AUTH_NTLM	= 0x2,
	AUTH_NEGOTIATE	= 0x4,	/* Kerberos (and NTLM inside it, with ntlm) */
	AUTH_SAML	= 0x8,	/* an IP session from a SAML sign-in */
};

/* A client network: `network "name" { src = {...} auth = {...} }`. */
struct conf_network {
	char		*name;
	struct cidr	*src;		/* at least one */
	size_t		 nsrc;
	unsigned	 auth;		/* AUTH_* bits, never 0 */
};

/* Where NTLM verification gets the users' NT hashes. */
enum ntlm_backend {
	NTLM_BACKEND_HASHFILE,
	NTLM_BACKEND_LDAP,		/* sambaNTPassword; needs ldap { } */
	NTLM_BACKEND_WINBIND,		/* pass-through via ntlm_auth helpers */
};

/* One line of the hash file: [DOMAIN\]user:NTHASH. */
struct ntlm_user {
	char		*domain;	/* NULL: any domain; upper-cased */
	char		*user;		/* as written */
	uint8_t		 nthash[16];	/* secret: wiped on free */
};

/* The `ntlm { }` section; enabled is 0 when the file has none. */
struct conf_ntlm {
	int		 enabled;
	char		*domain;	/* NetBIOS, upper-cased, 1..15 chars */
	char		*dns_domain;	/* default: domain lower-cased */
	char		*computer;	/* NetBIOS, upper-cased, 1..15 chars */
	int		 backend;	/* enum ntlm_backend */
	char		*hashfile;	/* resolved path, or NULL */
	struct ntlm_user *users;	/* sorted; see conf_ntlm_user() */
	size_t		 nusers;
	int		 max_skew;	/* ms; NTLMv2 timestamp vs now */
	int		 challenge_ttl;	/* ms a challenge stays valid */
	/* backend winbind (auth/ntlm_winbind.c) */
	char		*helper;	/* the command line, as written */
	char		**helper_argv;	/* split on spaces, NULL-terminated */
	int		 helpers;	/* processes per worker, 1..64 */
	int		 helper_queue;	/* sign-ins waiting per worker */
	int		 helper_timeout;	/* ms for one answer (and in queue) */
};

/* How the groups of a user are found (`group_mode`, auth/groups_dir.c). */
enum ldap_group_mode {
	GROUP_MODE_NONE,	/* no group lookups */
	GROUP_MODE_AD,		/* in-chain rule + primary group (AD) */
	GROUP_MODE_MEMBEROF,	/* memberOf, walked up (OpenLDAP overlay) */
	GROUP_MODE_MEMBER,	/* groups searched by member/memberUid */
};

/* What a request gets when its groups cannot be known at all. */
enum ldap_dir_failure {
	DIR_FAILURE_DENY,	/* a 503 page: the directory is down */
	DIR_FAILURE_ALLOW,	/* go on, with unknown (no) groups */
};

/*
 * The `ldap { }` section: the directory the ldap NTLM backend reads the
 * users' NT hashes from (sambaNTPassword), as a service account, and
 * where the groups of signed-in users come from (group_mode).
 */
struct conf_ldap {
	int		 enabled;
	char		**uris;		/* "ldap://h:p" / "ldaps://h", in order */
	size_t		 nuris;
	char		*uri_list;	/* the same, space separated */
	char		*bind_dn;
	char		*bind_password_file;	/* resolved path */
	char		*bind_password;	/* secret: wiped on free */
	size_t		 bind_password_len;
	char		*base_dn;
	char		*user_filter;	/* %u user, %d domain, %p user@REALM,
					   %m mail (RFC 4515 escaped) */
	char		*hash_attribute;
	int		 timeout;	/* ms: connect, bind and each search */
	char		*tls_ca_file;	/* or NULL: the system's CAs */
	int		 starttls;	/* StartTLS (RFC 4511 4.14) on ldap:// */
	/* Groups of signed-in users, cached (auth/groups*.c). */
	int		 group_mode;	/* enum ldap_group_mode */
	char		*group_base_dn;	/* resolved: base_dn when not set */
	int		 max_depth;	/* nesting levels walked */
	int		 cache_ttl;	/* seconds an answer is fresh */
	int		 negative_ttl;	/* seconds "no such user" is kept */
	int		 stale_ttl;	/* seconds an answer may serve while
					   the directory is down; 0: never */
	int		 refresh_ahead;	/* seconds before expiry to refresh */
	int		 cache_size;	/* users in the cache */
	int		 directory_failure; /* enum ldap_dir_failure */
};

/* realm_map: a Kerberos realm and the NetBIOS domain its users are in. */
struct conf_realm {
	char		*realm;		/* as written (realms are case-exact) */
	char		*domain;	/* upper-cased */
};

/*
 * The `negotiate { }` section: Kerberos through GSSAPI with a keytab.
 * The acceptor credential is acquired once per config (conf_keytab.c)
 * and shared by every accept thread; MIT krb5 credentials are safe to
 * use from several threads at once.
 */
struct conf_negotiate {
	int		 enabled;
	char		*keytab;	/* resolved path */
	char		*principal;	/* or NULL: any key in the keytab */
	int		 strip_realm;
	struct conf_realm *realms;	/* realm_map, in file order */
	size_t		 nrealms;
	int		 threads;	/* accept threads, resolved: 2..64 */
	int		 queue;		/* tokens waiting for a thread */
	void		*cred;		/* gss_cred_id_t, or NULL */
	char		 kt_name[64];	/* "MEMORY:..." the cred reads */
	void		*kt_ctx;	/* krb5_context holding kt_mem */
	void		*kt_mem;	/* krb5_keytab: open while we live */
};

/*
 * The `saml { }` section: a SAML 2.0 service provider for one identity
 * provider (auth/saml*.c, lasso).  conf_saml_load() reads the files and
 * builds the provider (sp) at every load, so -t reports bad metadata,
 * keys or two IdPs with FILE:LINE.  Sign-in state that must outlive a
 * reload (outstanding requests, the replay cache, IP sessions) is not
 * here: auth/ owns it.
 */
struct conf_saml {
	int		 enabled;
	char		*idp_metadata;	/* resolved path */
	char		*sp_entity_id;
	char		*sp_key;	/* resolved paths (PEM) */
	char		*sp_cert;
	char		*portal;	/* base URL, no trailing '/' */
	char		*portal_host;	/* its host, lower-cased */
	int		 portal_port;	/* explicit, or 80 / 443 */
	int		 portal_https;
	char		*acs_url;	/* portal + "/iaproxy/saml/acs" */
	char		*cookie_key_file;	/* resolved path */
	uint8_t		*cookie_key;	/* secret: wiped on free */
	size_t		 cookie_key_len;
	int		 clock_skew;	/* seconds */
	int		 session_idle;	/* seconds */
	int		 session_max;	/* seconds */
	int		 flip_guard;	/* seconds: an IP that changes user
					   sooner than this loses its session */
	char		**verified_domains;	/* lower-cased */
	size_t		 nverified_domains;
	struct conf_realm *domain_map;	/* "example.test=EXAMPLE" */
	size_t		 ndomain_map;
	char		*groups_attribute;	/* or NULL: the directory */
	char		*idp_host;	/* the IdP's SSO host (from the
					   metadata): reached without sign-in */
	int		 idp_port;
	void		*sp;		/* struct saml_sp *, auth/saml.h */
	/*
	 * The portal over TLS (proxy/portal_tls.c): a CONNECT to the portal
	 * host is answered by the gateway itself with this certificate, and
	 * portal_listen takes browsers that reach the portal directly.
	 */
	char		*portal_cert;	/* resolved paths (PEM), or NULL */
	char		*portal_key;
	struct conf_listen *portal_listen;	/* TLS listeners, or NULL */
	size_t		 nportal_listen;
	void		*portal_ssl_ctx;	/* SSL_CTX *, built at load */
};

/* What a risk rule counts (`when`), as bits. */
enum risk_when {
	RISK_WHEN_BLOCK		= 0x1,
	RISK_WHEN_WARN		= 0x2,
	RISK_WHEN_MONITOR	= 0x4,	/* a monitor rule's would-be action */
	RISK_WHEN_ALLOW		= 0x8,
};

/* What the gateway does to an account (admin commands, risk rules). */
enum account_action {
	ACCOUNT_SIGNOUT,
	ACCOUNT_DISABLE,
	ACCOUNT_RESET_PASSWORD,
};

/*
 * `risk "name" { when category count within action directory }`: when a
 * user collects count matching policy events within `within` seconds,
 * the gateway takes the action (proxy/risk.c).
 */
struct conf_risk {
	char		*name;
	unsigned	 when;		/* RISK_WHEN_* bits, never 0 */
	char		**categories;	/* any of these; none: any request */
	size_t		 ncategories;
	int		 count;
	int		 within;	/* seconds */
	int		 action;	/* enum account_action */
	int		 directory;	/* disable / reset in the directory
					   too (reset always is) */
};

struct config {
	int		 refcnt;	/* atomic; see conf_ref() */
	char		*file;		/* path it came from, for messages */

	struct conf_listen *listen;
	size_t		 nlisten;
	int		 workers;	/* resolved: never 0 here */
	char		*hostname;	/* Via, error pages, PAC, SPN host */
	char		*access_log;	/* path, or "-" for stdout */
	char		*admin_socket;	/* UNIX socket path, or NULL */
	struct conf_listen *admin_listen; /* loopback TCP, or NULL */
	char		*admin_token_file;	/* resolved path */
	char		*admin_token;	/* secret: wiped on free */
	size_t		 admin_token_len;
	int		 access_syslog;	/* access_log = "syslog[:facility]":
					   the facility, else -1 */
	char		*syslog_socket;	/* where syslog datagrams go */
	char		*state_dir;	/* what survives a restart */
	enum log_format	 log_format;
	int		*connect_ports;
	size_t		 nconnect_ports;

	/* Limits on what a client may send (STYLE 12). */
	size_t		 max_header_bytes;	/* whole request head */
	size_t		 max_line_bytes;	/* one line of it */
	size_t		 max_headers;		/* header field count */
	int		 max_conns_per_ip;	/* 0 = no cap */
	int		 max_connections;	/* clients at once, resolved */

	/* Timeouts, in milliseconds. */
	int		 header_timeout;	/* first byte to end of head */
	int		 client_idle_timeout;	/* keep-alive between requests */
	int		 connect_timeout;	/* TCP connect to the origin */
	int		 upstream_timeout;	/* origin silent this long */
	int		 tunnel_idle_timeout;	/* CONNECT with no traffic */
	int		 shutdown_timeout;	/* SIGTERM drain */

	/* The per-worker pool of idle origin connections. */
	int		 upstream_idle_timeout;	/* ms */
	int		 upstream_max_idle;	/* per origin host:port */

	/* Resolver cache, seconds. */
	int		 dns_ttl;
	int		 dns_negative_ttl;

	/*
	 * PAC file: who goes DIRECT (pac { bypass_domains bypass_networks },
	 * or their older names direct_domains and direct_networks: both
	 * lists are merged).
	 */
	char		**pac_direct_domains;	/* ".example.com" or "host" */
	size_t		 pac_ndirect_domains;
	struct cidr	*pac_direct_networks;
	size_t		 pac_ndirect_networks;

	/*
	 * Client networks in file order.  None at all: nobody signs in.
	 * Otherwise a client in none of them is refused.
	 */
	struct conf_network *networks;
	size_t		 nnetworks;
	struct conf_ntlm ntlm;
	struct conf_ldap ldap;
	struct conf_negotiate negotiate;
	struct conf_saml saml;
	struct conf_risk *risks;	/* in file order */
	size_t		 nrisks;
	int		 risk_max_users;	/* users tracked at once */

	/*
	 * The Internet Access policy (rule, category and schedule blocks,
	 * policy/policy.h), compiled at every load; never NULL in a loaded
	 * config.  With no rule at all it lets everything through (or does
	 * what default_action says).  Immutable: any worker decides on it
	 * without a lock while it holds the config.
	 */
	struct policy	*policy;
	int		 policy_default;	/* enum policy_action */
	int		 policy_warn_ttl;	/* seconds */
	char		*policy_timezone;	/* or NULL: the system's */
	char		**category_dirs;
	size_t		 ncategory_dirs;
};

/* conf.c */
/*
 * Parse and validate FILE.  On success returns a config with one reference
 * held by the caller.  On failure returns NULL and writes one message per
 * problem, "FILE:LINE: message", into err (NUL-terminated, truncated to
 * errlen).  If text is not NULL it is parsed instead of reading FILE, and
 * FILE only names it in messages (the embedded default config).
 */
struct config	*conf_load(const char *file, const char *text, char *err,
		    size_t errlen);
struct config	*conf_ref(struct config *);
void		 conf_unref(struct config *);
/* Is port in connect_ports? */
int		 conf_connect_port_ok(const struct config *, int port);
/* The network the address belongs to (first match in file order), or NULL. */
const struct conf_network *conf_network_for(const struct config *,
		    const struct sockaddr *);
/*
 * Find the hash-file entry for user in domain (case-insensitive; entries
 * without a domain match any); NULL if none.
 */
const struct ntlm_user *conf_ntlm_user(const struct config *,
		    const char *domain, const char *user);

/*
 * "user@REALM" through a realm_map or domain_map (realm compared without
 * regard to case) into out as "DOMAIN\user": 1 when mapped, 0 when no
 * entry names the realm (out untouched), -1 when out is too small.
 */
int		 conf_realm_map(const struct conf_realm *, size_t n,
		    const char *name, char *out, size_t outlen);

/* conf_keytab.c */
/*
 * Check the keytab of c->negotiate (a secret: not for others to read)
 * and acquire the acceptor credential from it into c->negotiate.cred.
 * 0, or -1 with a message (no file:line) in why.
 */
int		 conf_keytab_load(struct conf_negotiate *, char *why,
		    size_t whylen);
void		 conf_keytab_free(struct conf_negotiate *);
/* GSSAPI's text for a major and minor status, "major: minor", in buf. */
void		 conf_gss_status(unsigned major, unsigned minor, char *buf,
		    size_t len);

/* conf_saml.c */
/*
 * Read the saml section's files (metadata, key, certificate, cookie key)
 * and build the service provider into s->sp.  0, or -1 with a message
 * (no file:line) in why.
 */
int		 conf_saml_load(struct conf_saml *, char *why, size_t whylen);
void		 conf_saml_free(struct conf_saml *);

/* conf_portal_tls.c */
/*
 * The saml section's portal over TLS, after conf_saml_load: check
 * portal_cert, portal_key and portal_listen against each other and the
 * portal URL (https only; no address also in listen), then build
 * c->saml.portal_ssl_ctx (an SSL_CTX for proxy/portal_tls.c) from
 * portal_cert (PEM chain, leaf first, naming portal_host) and
 * portal_key (PEM, unencrypted, a secret: a regular file others cannot
 * read).  Nothing to do (0) without them.  0, or -1 with a message (no
 * file:line) in why and in *opt the option at fault.
 */
int		 conf_portal_tls_load(struct config *, const char **opt,
		    char *why, size_t whylen);
/* Free the portal's TLS fields of s (the context, paths, listeners). */
void		 conf_portal_tls_free(struct conf_saml *);

/* conf_cidr.c */
/* Parse "10.0.0.0/8", "::1" (host route) and the like; 0 on success. */
int		 cidr_parse(const char *text, struct cidr *out);
/* Does the address sa fall in c?  IPv4-mapped IPv6 matches IPv4 blocks. */
int		 cidr_match(const struct cidr *c, const struct sockaddr *sa);

/* default_conf.c (generated from conf/iaproxy.conf at build time) */
extern const char conf_default_text[];

#endif
