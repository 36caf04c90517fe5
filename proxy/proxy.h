/*
 * proxy/: the daemon.  One public header for the folder, with a section per
 * file.  Ownership rules:
 *  - a struct conn lives and dies on one worker thread;
 *  - the worker's struct config pointer is swapped only on that worker's
 *    thread (worker_config_changed); a request holds its own reference for
 *    as long as it runs, so reload never changes a request in flight;
 *  - the upstream pool and DNS cache are per worker and need no lock;
 *  - iplimit and the access-log fd are shared and say how in their section.
 */
#ifndef IAPROXY_PROXY_H
#define IAPROXY_PROXY_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>
#include <pthread.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/dns.h>

#include "conf.h"
#include "h1.h"
#include "auth.h"
#include "policy.h"

#define IAPROXY_NAME	"iaproxy"

struct worker;
struct conn;
struct request;
struct upstream;

/* log.c */
/*
 * The error log, on stderr (journald under systemd).  Levels follow
 * syslog.  Messages about one connection go through conn_log(), which adds
 * the client address, connection id and current action, so callers never
 * format that prefix themselves.
 */
enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
void	log_init(int debug);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_msg(enum log_level, const char *, va_list);
int	log_enabled(enum log_level);
__attribute__((noreturn)) void fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
/* Copy s into dst (size n), replacing controls and non-ASCII by '?'. */
void	log_sanitize(char *dst, size_t n, const char *s, size_t len);

/* hash.c */
/*
 * FNV-1a of len bytes: the bucket hash of the per-worker tables (DNS
 * cache, upstream pool) and the per-IP counts.  A flood of distinct keys
 * degrades a bucket, never correctness.
 */
uint32_t hash_bytes(const void *, size_t);

/* iplimit.c */
/*
 * Concurrent connections per client address, shared by all workers under
 * one mutex (taken once at accept and once at close).
 */
void	iplimit_init(void);
/* Count a new connection from sa; 0 if that would exceed cap (cap 0 = none). */
int	iplimit_acquire(const struct sockaddr *sa, int cap);
void	iplimit_release(const struct sockaddr *sa);
/* Count a client connection of the whole process; 0 past max. */
int	connlimit_acquire(int max);
void	connlimit_release(void);

/* selfaddr.c */
/*
 * Is sa one of the gateway's own listeners or its admin listener (its
 * address and port, or a wildcard listener's port on an address of this
 * machine)?  Never connect there: it would bring a client back in from
 * our own address, or reach the admin interface through the proxy.
 */
int	selfaddr_match(const struct config *, const struct sockaddr *);

/* accesslog.c */
/* What one access-log line says about a request or a tunnel. */
struct access_entry {
	struct timeval	 start;
	const struct sockaddr *client;
	const char	*method;	/* "-" when unknown */
	const char	*url;		/* sanitized here, not by the caller */
	const char	*result;	/* "TCP_MISS", "TCP_TUNNEL", "NONE_NONE" */
	int		 status;
	uint64_t	 bytes_out;	/* to the client */
	uint64_t	 bytes_in;	/* from the client */
	const char	*hier;		/* "HIER_DIRECT" or "HIER_NONE" */
	const char	*peer;		/* origin address or "-" */
	const char	*content_type;	/* or NULL */
	const char	*user;		/* or NULL */
	const char	*auth;		/* or NULL */
	const struct auth_groups *groups; /* the user's, or NULL */
	const char	*groups_source;	/* "ldap", "stale", "none", or
					   NULL: no group lookup */
	const char	*reason;	/* error reason or NULL */
	/* The policy's decision (decide.c); decision NULL: none made. */
	const char	*decision;	/* "allow", "block", "warn", ... */
	const char	*rule;		/* the deciding rule, "default" */
	const char	*policy_reason;	/* why, in words, or NULL */
	const char	*incident;	/* a block's incident id, or NULL */
	const char	*monitor;	/* what a monitor rule would do */
	const char	*monitor_rule;
	int		 tunnel;
	uint64_t	 tunnel_up;
	uint64_t	 tunnel_down;
};
/*
 * The access log is one fd shared by all workers; each worker formats lines
 * into its own buffer and writes whole lines with one write(2) on an
 * O_APPEND fd, so lines from different workers never interleave.
 * accesslog_open() is called by the main thread only.  It is safe while
 * workers write: a reopen dup2()s the new file onto the same fd number.
 * access_log = "syslog[:FACILITY]" (conf->access_syslog >= 0): each line
 * goes instead as one non-blocking datagram to conf->syslog_socket,
 * through one socket made by accesslog_open() and shared by the workers;
 * what syslog does not take is dropped and counted (metrics.c).
 * accesslog_write() also counts every request for metrics.c.
 */
int	accesslog_open(const char *path);
void	accesslog_close(void);
void	accesslog_write(struct worker *, const struct config *,
	    const struct access_entry *);
void	accesslog_flush(struct worker *);

/* pages.c */
/* The PAC file text for clients of the listener on port; into out. */
void	pages_pac(const struct config *, int port, struct evbuffer *out);
/*
 * The policy's pages (decide.c): a block page (cont NULL) or a caution
 * page with a continue link (cont, the link's URL), as a whole 403
 * response into out.  rule, user, url and reason are HTML-escaped.
 */
void	pages_policy(const struct config *, const char *rule,
	    const char *user, const char *url, const char *reason,
	    const char *incident, const char *cont, int keepalive,
	    struct evbuffer *out);
/*
 * A whole HTTP response (head and HTML body) for an error; extra, if not
 * NULL, is more header lines, each ending in CRLF.
 */
void	pages_error(const struct config *, int status, const char *reason,
	    const char *detail, const char *extra, int keepalive,
	    struct evbuffer *out);
const char *pages_status_text(int status);
/*
 * The page that sends a request with no identity to the sign-in portal
 * (gate.c): a whole response with status (302: with Location: login;
 * 407: extra holds the Proxy-Authenticate lines), its HTML body linking
 * to login and refreshing to it.
 */
void	pages_signin(const struct config *, int status, const char *login,
	    const char *extra, int keepalive, struct evbuffer *out);

/* portal.c */
/*
 * The SAML sign-in portal's pages (conf->saml; nothing when it has no
 * service provider).  Per request, on the connection's worker; the
 * sessions they make are auth/session.h's.
 */
/*
 * Does the portal answer this request: any path on the portal's host
 * (an absolute-form target, or an origin-form one whose Host names it),
 * or, when local (origin-form, or absolute-form naming the gateway
 * itself), a path under /iaproxy/?  Never /iaproxy/continue (decide.c).
 */
int	portal_route(const struct config *, const struct h1_msg *,
	    const struct h1_target *, int local);
/*
 * Is host:port (host lower-cased) reached before sign-in: the identity
 * provider's SSO host (GET or CONNECT), or the portal's host (CONNECT,
 * for an https portal)?  Why (static text, for a debug line) or NULL.
 */
const char *portal_exempt(const struct config *, const char *host, int port,
	    int is_connect);
/* "<portal>/iaproxy/login?url=<url, percent-encoded>", malloc'd, or NULL. */
char	*portal_login_url(const struct config *, const char *url);
/*
 * Answer a portal request: PORTAL_DONE when answered (c->req->head_out
 * holds the whole response, or an error page went out through
 * conn_abort_http), PORTAL_BODY when it is the ACS and its body
 * (Content-Length bytes, at most SAML_FORM_MAX) must be read first and
 * handed to portal_acs().  msg and t only during the call.
 */
#define PORTAL_DONE	0
#define PORTAL_BODY	1
int	portal_serve(struct conn *, const struct h1_msg *,
	    const struct h1_target *);
/*
 * The ACS's form (len bytes) arrived: verify it and answer into
 * c->req->head_out, or with conn_abort_http.
 */
void	portal_acs(struct conn *, const char *body, size_t len);

/* dns.c */
/*
 * Name resolution on the worker's evdns_base, with a small positive and
 * negative cache per worker.  The callback runs on the worker's thread:
 * err is 0 on success, an EVUTIL_EAI_* code otherwise.
 */
typedef void (*dns_cb)(int err, const struct sockaddr *, socklen_t, void *);
struct dns_req;
struct dns_cache;
struct dns_cache *dns_cache_new(void);
void	dns_cache_free(struct dns_cache *);
/*
 * Resolve host for port.  IP literals and cache hits answer at once: the
 * callback is called before dns_resolve returns, which then returns NULL.
 * Otherwise returns a handle for dns_cancel() (the callback is then never
 * called).
 */
struct dns_req *dns_resolve(struct worker *, const char *host, int port,
	    dns_cb cb, void *arg);
void	dns_cancel(struct dns_req *);

/* upstream.c */
/*
 * The per-worker pool of idle keep-alive connections to origins, keyed by
 * "host:port" as the client named it.  An idle connection that the origin
 * closes, or that sends anything, is dropped; so is one idle longer than
 * upstream_idle_timeout.
 */
struct upstream_pool;
struct upstream_pool *upstream_pool_new(struct worker *);
void	upstream_pool_free(struct upstream_pool *);
/* Take an idle connection for key, or NULL.  Its callbacks are cleared. */
struct bufferevent *upstream_pool_get(struct upstream_pool *, const char *key,
	    struct sockaddr_storage *peer, socklen_t *peerlen);
/* Give bev back; the pool owns it now (and may just free it). */
void	upstream_pool_put(struct upstream_pool *, const char *key,
	    struct bufferevent *bev, const struct sockaddr *peer,
	    socklen_t peerlen, const struct config *);
void	upstream_pool_drop_all(struct upstream_pool *);
size_t	upstream_pool_count(struct upstream_pool *);

/* splice.c */
/* One direction of a zero-copy relay: from -> pipe -> to. */
struct splicer {
	int		 from, to;
	int		 pipe[2];	/* -1 while not carrying data */
	size_t		 inpipe;	/* bytes in the pipe */
	uint64_t	 limit;		/* bytes left to move; UINT64_MAX: all */
	int		 eof;		/* from has ended its stream */
};
enum splice_result {
	SPLICE_WAIT_READ,	/* from has nothing now */
	SPLICE_WAIT_WRITE,	/* to cannot take more now */
	SPLICE_YIELD,		/* moved a burst; call again next turn */
	SPLICE_LIMIT,		/* limit bytes moved */
	SPLICE_EOF,		/* from ended and everything was passed on */
	SPLICE_ERROR,		/* errno says why */
};
void	splice_init(struct splicer *, int from, int to, uint64_t limit);
/* Move what can be moved now; *moved says how much reached `to`. */
int	splice_pump(struct worker *, struct splicer *, uint64_t *moved);
/* Give the pipe back (to the worker's free list when it is empty). */
void	splice_release(struct worker *, struct splicer *);
void	splice_pipes_free(struct worker *);
/*
 * Relaying a connection's sockets with splicers and raw events, while its
 * bufferevents sit disabled (they still own the descriptors).  Direction
 * 0 is client -> origin, 1 is origin -> client; dirs is a bit mask of the
 * directions in use.  run(c, i, 0) is called when direction i may move,
 * run(c, i, 1) when its wait timed out.
 */
struct splice_relay {
	struct conn	*conn;
	struct splicer	 dir[2];
	struct event	*rd[2], *wr[2];
	int		 used[2];
	int		 done[2];
	void		(*run)(struct conn *, int dir, int timed_out);
};
struct splice_relay *splice_relay_new(struct conn *, int cfd, int ufd,
	    int dirs, void (*run)(struct conn *, int, int));
void	splice_relay_free(struct worker *, struct splice_relay *);
/* Arm the event direction i needs after splice_pump returned res. */
void	splice_relay_wait(struct splice_relay *, int i, int res,
	    const struct timeval *read_timeout,
	    const struct timeval *write_timeout);

/* worker.c */
struct worker_listener {
	struct worker_listener	*next;
	struct worker		*worker;
	struct evconnlistener	*lev;
	char			*text;	/* the listen entry it came from */
	int			 port;
	int			 tls;	/* a portal_listen one (portal_tls.c) */
};
struct worker {
	int			 id;
	pthread_t		 thread;
	struct event_base	*base;
	struct evdns_base	*dns;
	struct dns_cache	*dns_cache;
	struct upstream_pool	*pool;
	struct splice_pipes	*pipes;		/* empty pipes for splice.c */
	struct evbuffer		*sink;		/* staging for direct writes */
	struct config		*conf;		/* current; this thread only */
	struct auth_worker	*auth;		/* sign-in backends */
	struct config		*next_conf;	/* handed over by main, locked */
	int			 notify_fd;	/* eventfd: main -> worker */
	struct event		*ev_mail;	/* reads notify_fd */
	int			 mail;		/* MAIL_*, under lock */
#define MAIL_RECONF	0x1	/* a new config (and listeners) */
#define MAIL_STOP	0x2	/* drain and exit */
#define MAIL_KILL	0x4	/* exit now */
#define MAIL_QUERY	0x8	/* answer q_kind (worker_query) */
	struct event		*ev_logflush;	/* low priority: write the log */
	TAILQ_HEAD(, conn)	 conns;
	size_t			 nconns;
	struct worker_listener	*listeners;
	int			 stopping;
	int			 exited;	/* atomic: the thread is done */
	uint64_t		 next_conn_id;
	char			*logbuf;
	size_t			 loglen, logcap;
	pthread_mutex_t		 lock;		/* mail, next_conf, pending_* */
	int			*pending_fds;	/* new listener sockets */
	char			**pending_texts;
	size_t			 npending;
	/* One admin query at a time (worker_query), under lock. */
	pthread_cond_t		 qcond;		/* an answer is in */
	int			 q_kind;	/* WQ_* */
	char			 q_user[256];	/* the user, or "" */
	uint64_t		 q_seq;		/* the question's number */
	uint64_t		 q_answered;	/* the last one answered */
	char			*q_out;		/* its lines (malloc) */
	size_t			 q_count;	/* and its count */
};
/* Start the thread with listening sockets fds (owned by it from now on). */
int	worker_start(struct worker *, int id, struct config *, int *fds,
	    char **texts, size_t nfds);
/* From the main thread: hand a new config and listener sockets over. */
void	worker_reconfigure(struct worker *, struct config *, int *fds,
	    char **texts, size_t nfds);
void	worker_stop(struct worker *);
void	worker_kill(struct worker *);
void	worker_join(struct worker *);
/* A connection closed; the worker exits its loop when drained. */
void	worker_conn_gone(struct worker *);
/*
 * The admin socket's questions to a worker, asked from the main thread,
 * which waits up to timeout_ms for the answer (a worker runs only short
 * callbacks, so it answers within one turn of its loop):
 *  WQ_COUNT	*count: open client connections, *out ""
 *  WQ_SESSIONS	*out: one line per signed-in connection (of user, when
 *		not NULL): "USER\tMECH\tCLIENT\tSINCE\tIN\tOUT\tW.ID\n",
 *		at most WQ_SESSIONS_MAX; *count: how many matched
 *  WQ_SIGNOUT	close user's signed-in connections (tunnels too);
 *		*count: how many
 * user matches case-insensitively, and a bare name also matches it in
 * any domain (DOMAIN\name) or realm (name@REALM).  0 and *out (free it),
 * or -1 when the worker did not answer in time (it is gone or stuck).
 */
#define WQ_COUNT	0
#define WQ_SESSIONS	1
#define WQ_SIGNOUT	2
#define WQ_SESSIONS_MAX	1000
int	worker_query(struct worker *, int kind, const char *user,
	    int timeout_ms, char **out, size_t *count);

/* server.c */
/*
 * Process-wide state owned by the main thread: the config file path, the
 * workers, the listening sockets.  server_reload() is the only writer.
 */
int	server_start(const char *file, struct config *);
int	server_reload(void);
/*
 * The same, with the reason for a failure (the config errors as
 * FILE:LINE: lines, or what could not be done) into err.
 */
int	server_reload_err(char *err, size_t errlen);
/* For the admin socket's status: the facts, main thread only. */
struct server_info {
	const char	*file;		/* the config file's name */
	time_t		 started;	/* the process */
	time_t		 loaded;	/* the running config */
	int		 nworkers;
	struct worker	*workers;
};
void	server_info(struct server_info *);
void	server_reopen_logs(void);
void	server_shutdown(struct event_base *main_base);
void	server_join(void);
/* Open listening sockets for text ("ip:port"), one per worker, SO_REUSEPORT. */
int	server_listen_socket(const struct conf_listen *);

/* admin.c */
/*
 * The admin socket (admin_socket): a UNIX socket, mode 0600, on the main
 * thread's event loop; "status", "reload", "sessions [USER]", "signout
 * USER", "purge USER", "stats", "help", "quit", one per line (iaproxy(8),
 * iaproxyctl(8)).  All three from the main thread.  admin_start() fails
 * when a configured socket cannot be made; admin_reconf() keeps the old
 * socket when the new one cannot be.
 */
int	admin_start(struct event_base *, const struct config *);
void	admin_reconf(const struct config *);
void	admin_stop(void);

/* account.c */
/*
 * Account actions (issue 9): signout, disable, enable, reset-password.
 * The gateway's disabled list is one process-wide set of names, kept in
 * <state_dir>/disabled; the main thread alone changes it (and the file),
 * under a rwlock that every worker takes to read it.  Directory changes
 * (AD userAccountControl / pwdLastSet, OpenLDAP ppolicy
 * pwdAccountLockedTime / pwdReset) are made on the main thread with a
 * synchronous LDAP session bounded by ldap.timeout, never on a worker.
 *
 * account_start() loads the list (a read error is logged, never fatal)
 * and keeps a reference to conf for the admin commands; account_reconf()
 * takes the new config (and a new state_dir); account_stop() lets the
 * config go (the list stays in force while the workers drain).  All
 * three from the main thread.
 */
void	account_start(const struct config *);
void	account_reconf(const struct config *);
void	account_stop(void);
/*
 * Is user (a signed-in name) refused by the disabled list?  A listed
 * bare name covers it in any domain or realm (auth_user_match).  Any
 * thread; a lock-free test when the list is empty.
 */
int	account_disabled(const char *user);
/*
 * Sign user out everywhere (main thread): every worker closes user's
 * signed-in connections and tunnels (*closed), user's SAML IP sessions
 * end and older portal cookies are refused (*ipsessions), and the cached
 * groups go (*purged).  Returns how many workers did not answer.
 */
int	account_signout(const char *user, size_t *closed, size_t *ipsessions,
	    size_t *purged);
/*
 * Do action to user, exactly as the admin commands do, on the main
 * thread: with directory, disable changes the directory first and the
 * gateway list only when that worked; reset-password always needs the
 * directory; disable and reset-password then sign user out, as signout
 * does.  who names the caller in the log ("uid 0", "risk rule NAME").
 * 0, or -1 with nothing changed; msg (NUL-terminated, truncated to
 * msglen) says what was done or why not.
 */
int	account_act(const struct config *, enum account_action,
	    const char *user, int directory, const char *who, char *msg,
	    size_t msglen);
/*
 * The admin socket's "disable USER [--directory]", "enable USER
 * [--directory]" and "reset-password USER" (cmd, and arg the rest of the
 * line): answers into out (NAME VALUE lines, then "ok SUMMARY" or
 * "error CMD: WHY") and returns 1; 0 when cmd is none of these.
 */
int	account_command(const char *cmd, const char *arg, const char *who,
	    struct evbuffer *out);
/*
 * One command line (len bytes; a trailing CR LF is ignored) answered
 * into out exactly as on the socket, logged as by who ("tcp"): for the
 * TCP listener (admin_http.c).  Main thread.  -1 when the line is not
 * one command line (an "error" line is answered).
 */
int	admin_exec(const char *who, const char *line, size_t len,
	    struct evbuffer *out);

/* admin_http.c */
/*
 * The optional loopback TCP admin listener (admin_listen): minimal
 * HTTP/1.1, one request per connection, every request with
 * "Authorization: Bearer <admin_token_file's token>": GET /metrics, POST
 * /command (one admin command line as the body).  On the main thread's
 * event loop, like the admin socket, and never a proxy port.  As
 * admin_start/admin_reconf/admin_stop: admin_http_start() fails when a
 * configured listener cannot be made; admin_http_reconf() keeps the old
 * one (and its token) when the new one cannot be.
 */
int	admin_http_start(struct event_base *, const struct config *);
void	admin_http_reconf(const struct config *);
void	admin_http_stop(void);

/* metrics.c */
/*
 * Process-wide counters for /metrics (Prometheus text format 0.0.4).
 * Any thread may count: each thread adds to a block of its own (made on
 * its first count and kept for the life of the process), and a reader
 * sums the blocks, so a worker never waits for or bounces a cache line
 * with another.  Requests and tunnels are observed in one place only,
 * accesslog_write(), which runs once for each of them.
 */
/* A finished request or tunnel (from accesslog_write); d its duration. */
void	metrics_request(const struct access_entry *, const struct timeval *d);
/* Sign-in results (metrics_signin). */
enum metrics_signin_result {
	METRICS_SIGNIN_SUCCESS,
	METRICS_SIGNIN_CHALLENGE,	/* a handshake step answered 407 */
	METRICS_SIGNIN_REFUSED,
};
/*
 * A sign-in step's outcome: mech "ntlm", "negotiate" or "saml" (others
 * count as "other"); reason, for a refusal, the static reason text the
 * auth code gave (classified here: "ntlmv1", "bad_password", ...), or
 * NULL; unavailable when no backend could answer.
 */
void	metrics_signin(const char *mech, enum metrics_signin_result,
	    const char *reason, int unavailable);
/*
 * The same for a Negotiate or NTLM step's outcome (gate.c): the
 * mechanism is the one that proved the identity on success (NTLM inside
 * Negotiate counts as ntlm), else the scheme the answer is in.
 */
void	metrics_signin_answer(enum auth_outcome, const struct auth_answer *);
/* An access-log datagram syslog did not take (accesslog.c). */
void	metrics_syslog_dropped(void);
/* The class metrics_signin counts a refusal reason under. */
const char *metrics_refusal_class(const char *reason, int unavailable);
/*
 * The whole exposition into out: the counters, and gauges read now
 * (connections from the workers, helper queues, the groups cache).
 * Main thread (it asks the workers, as the admin socket's status does).
 */
void	metrics_text(struct evbuffer *out);

/* conn.c */
enum conn_state {
	CONN_READ_HDRS,		/* waiting for (the rest of) a request head */
	CONN_AUTH_CHALLENGED,	/* reserved for sign-in */
	CONN_AUTH_PENDING,	/* reserved for sign-in */
	CONN_RESOLVING,		/* DNS lookup of the origin */
	CONN_CONNECTING,	/* TCP connect to the origin */
	CONN_FORWARD,		/* request/response relay */
	CONN_LOCAL,		/* writing a page of our own */
	CONN_TUNNEL,		/* CONNECT established */
	CONN_CLOSING,		/* flushing, then close */
};

/* Per-request state; freed when the request ends so idle conns stay small. */
struct request {
	struct config		*conf;		/* the config it started under */
	struct timeval		 start;
	char			*method;
	char			*url;		/* for the log */
	char			*host;		/* origin host (lower case) */
	int			 port;
	char			 key[300];	/* "host:port" for the pool */
	enum h1_body		 req_body;
	uint64_t		 req_remaining;	/* CL bytes left to relay */
	struct h1_chunked	 req_chunk;
	int			 req_body_done;
	int			 req_keepalive;	/* client wants keep-alive */
	int			 client_minor;	/* HTTP/1.x of the client */
	int			 is_head;
	int			 is_connect;
	int			 expect_continue;
	struct evbuffer		*head_out;	/* rewritten head, until sent */
	int			 retried;	/* a reused upstream failed once */
	uint64_t		 req_body_sent;	/* body bytes given to the origin */
	int			 reused;	/* upstream came from the pool */
	int			 pin;		/* origin auth binds the upstream */
	char			*auth_reply;	/* "Proxy-Authenticate: ..\r\n"
						   for the response, or NULL */
	/* The user's groups (gate.c), for the policy and the log. */
	struct auth_groups	*groups;	/* a reference, or NULL */
	enum auth_groups_source	 groups_source;
	int			 groups_done;	/* a lookup answered */
	/* The policy's decision (decide.c), for the response and the log. */
	struct policy_decision	 decision;
	int			 decided;	/* decision holds */
	int			 dst_pending;	/* decide again after DNS */
	const char		*decision_text;	/* for the log */
	char			 incident[16];	/* a block's id, or "" */
	char			 policy_why[256]; /* policy_reason() */

	enum h1_body		 resp_body;
	uint64_t		 resp_remaining;
	struct h1_chunked	 resp_chunk;
	int			 resp_head_sent;
	int			 resp_done;
	int			 resp_keepalive; /* origin allows reuse */
	int			 dechunk;	/* chunked origin, HTTP/1.0 client */
	int			 splice_wanted;	/* splice once the client drains */
	int			 status;
	char			*content_type;
	struct h1_parser	 resp_parser;

	struct dns_req		*dns;
	void			(*origin_cb)(struct conn *, int, int,
				    const char *);
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 peer_text[64];

	uint64_t		 bytes_out;
	uint64_t		 bytes_in;
	uint64_t		 tunnel_up, tunnel_down;
	struct timeval		 tunnel_active;	/* last byte either way */
	int			 up_eof;	/* the origin ended its stream */
	struct splice_relay	*splice;	/* zero-copy relay, when on */
	struct event		*tunnel_idle;	/* idle timer in splice mode */
	const char		*result;
	const char		*reason;
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct worker		*worker;
	uint64_t		 id;
	enum conn_state		 state;
	const char		*action;	/* what it is doing, for logs */
	int			 refs;		/* async work in flight + 1 */
	int			 closing;
	union {
		struct sockaddr		sa;
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
	}			 ss;		/* the client's address */
	socklen_t		 sslen;
	int			 local_port;	/* of the listener */
	evutil_socket_t		 fd;		/* until bev exists, else -1 */
	struct event		*ev_first;	/* waits for the first byte */
	struct bufferevent	*bev;		/* client side */
	struct bufferevent	*up;		/* origin side */
	struct evbuffer		*sink;		/* see conn_sink_begin() */
	struct request		*req;		/* NULL between requests */
	struct h1_parser	 parser;
	struct timeval		 head_deadline;	/* header_timeout */
	int			 head_started;	/* a byte of a head arrived */
	int			 client_eof;
	int			 close_after;	/* no keep-alive after this one */
	int			 iplimited;	/* counted in iplimit */
	int			 connlimited;	/* counted in connlimit */
	struct auth_state	*auth;		/* a sign-in handshake, if any */
	char			*user;		/* who signed in on it, or NULL */
	const char		*auth_mech;	/* and how ("ntlm") */
	struct auth_pending	*auth_pending;	/* a backend is deciding */
	struct auth_pending	*groups_pending; /* the directory is asked */
	struct pin		*pinned;	/* origin bound to us (pin.c) */
	size_t			 discard;	/* body bytes to skip after a 407 */
	int			 tls;		/* CONN_TLS_*: the portal over TLS
						   (portal_tls.c) */
	unsigned		 nrequests;
	time_t			 since;		/* accepted (epoch) */
	uint64_t		 bytes_in_done;	/* of finished requests */
	uint64_t		 bytes_out_done;
};

/* tls: CONN_TLS_ACCEPT for a portal_listen socket (portal_tls.c), else 0. */
void	conn_accept(struct worker *, evutil_socket_t, struct sockaddr *,
	    int socklen, int local_port, int tls);
void	conn_set_state(struct conn *, enum conn_state, const char *why);
void	conn_close(struct conn *, const char *reason);
/* Answer with an error page, log the request, then close (or keep-alive). */
void	conn_abort_http(struct conn *, int status, const char *reason);
/* The same with extra header lines (each ending in CRLF). */
void	conn_abort_http_hdrs(struct conn *, int status, const char *reason,
	    const char *extra);
/* The current request is over: log it, then read the next or close. */
void	conn_request_done(struct conn *);
/* Cancel the request's DNS lookup and free its upstream connection. */
void	conn_drop_origin(struct conn *);
void	conn_log(struct conn *, enum log_level, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	conn_ref(struct conn *);
void	conn_unref(struct conn *);
/* Drain: close now if idle, else after the current request. */
void	conn_drain(struct conn *);
/* Read events on the client between phases (pipelining backpressure). */
void	conn_client_read(struct conn *, int on);
void	conn_write_client(struct conn *, struct evbuffer *);
/*
 * Where bytes for the client go now: the bufferevent's output, or, between
 * conn_sink_begin() and conn_sink_end(), the worker's staging buffer that
 * conn_sink_end() writes straight to the socket.
 */
struct evbuffer *conn_client_out(struct conn *);
size_t	conn_client_pending(struct conn *);
void	conn_sink_begin(struct conn *);
void	conn_sink_end(struct conn *);
/* Bytes from and to the client so far, the current request included. */
void	conn_bytes(const struct conn *, uint64_t *in, uint64_t *out);

/* gate.c */
/*
 * Sign-in for a parsed request, then the signed-in user's groups when the
 * config looks them up: GATE_PASS to go on, GATE_ANSWERED when it was
 * answered (403 for an unknown network, 407 for a handshake step or a
 * refusal, 503 when the groups cannot be known and directory_failure is
 * deny), GATE_PENDING when a backend or the directory was asked: the
 * request then goes on (forward_start or tunnel_start) or is answered
 * when it replies.  The groups land in req->groups.
 * headlen is the head's size, inlen what the input holds (head included).
 */
#define GATE_ANSWERED	0
#define GATE_PASS	1
#define GATE_PENDING	2
int	gate_check(struct conn *, const struct h1_msg *, size_t headlen,
	    size_t inlen);
/*
 * The connection closes: a group lookup it waits for is cancelled and
 * the reference it held dropped (conn_close).
 */
void	gate_conn_closed(struct conn *);

/* decide.c */
/*
 * The Internet Access policy on the data path.  decide_request() runs
 * after sign-in and groups: GATE_PASS to go on (allowed, or the decision
 * waits for the origin's address: r->dst_pending), GATE_ANSWERED when a
 * block or caution page (or a bodiless 403 for CONNECT) was sent.
 * decide_exempt() runs before a sign-in challenge: 1 when an auth = none
 * rule lets the request through unauthenticated (its decision is kept).
 * decide_dst() decides again on the address actually connected to: 1 to
 * connect, 0 when answered.  decide_continue() serves the caution page's
 * /iaproxy/continue link (a whole response into out).
 *
 * Acknowledged warnings are kept per (user, or client address when
 * nobody signed in) and rule for warn_ttl, in one bounded table shared by
 * every worker under a mutex, as are the one-time continue tokens.
 */
int	decide_request(struct conn *);
int	decide_exempt(struct conn *);
int	decide_dst(struct conn *, const struct sockaddr *);
void	decide_continue(struct conn *, const char *query, size_t len,
	    struct evbuffer *out);

/* risk.c */
/*
 * Risk rules (risk sections): per signed-in user, sliding windows of
 * matching policy events; when a rule's count is reached within its
 * window the rule's account action runs on the main thread through
 * account_act() and one warning line is logged.  The table is bounded by
 * risk_max_users (least recently seen first out), shared by all workers
 * under one mutex taken only for an event some rule matches.  Windows
 * survive a reload for the rules that keep their name and count.
 *
 * risk_observe(): from a worker, for the final decision of a request or
 * CONNECT: kinds are RISK_WHEN_* bits (the decision's, plus
 * RISK_WHEN_MONITOR when a monitor rule matched), host the origin's (for
 * the rules' categories).  Nothing happens for a NULL or empty user.
 * conf is referenced, not kept, except by a queued action.
 * risk_start() (main thread, with its event_base) makes the queue's
 * wake-up; actions fired before it run on the loop's first turn; -1 on
 * failure.  risk_stop() (main thread, workers gone) drops what is left.
 * risk_fired_total(): rules fired since start (for /metrics; any
 * thread); risk_users(): users tracked now.
 */
void	 risk_observe(struct config *, const char *user, unsigned kinds,
	    const char *host);
int	 risk_start(struct event_base *);
void	 risk_stop(void);
uint64_t risk_fired_total(void);
size_t	 risk_users(void);

/* explain.c */
/* `iaproxy explain ...` (argv[0] "explain"): the exit status. */
int	explain_main(int argc, char *argv[]);

/* forward.c */
/* Build the origin-bound head (req->head_out) from the client's. */
int	forward_build_head(struct conn *, const struct h1_msg *,
	    const struct h1_target *);
/* Connect to the origin (or reuse a pooled connection) and relay. */
void	forward_start(struct conn *);
/* More request-body bytes may be in the client's input. */
void	forward_client_readable(struct conn *);
/* The client's output drained below the low-water mark. */
void	forward_client_drained(struct conn *);
void	forward_client_eof(struct conn *);

/* pin.c */
/* Does msg have a field (e.g. "WWW-Authenticate") naming NTLM/Negotiate? */
int	pin_wanted(const struct h1_msg *, const char *field);
/* Bind an idle origin connection to client c (replacing any other). */
void	pin_keep(struct conn *c, struct bufferevent *up, const char *key,
	    const struct sockaddr *peer, socklen_t peerlen);
/* c's pinned connection if it goes to key, else NULL. */
struct bufferevent *pin_take(struct conn *, const char *key,
	    struct sockaddr_storage *peer, socklen_t *peerlen);
void	pin_drop(struct conn *);

/* tunnel.c */
/* CONNECT: check the port, connect, answer 200 and relay raw bytes. */
void	tunnel_start(struct conn *);
/* Free the splice-mode state of the connection's tunnel, if any. */
void	tunnel_splice_free(struct conn *, struct request *);

/* portal_tls.c */
/*
 * The sign-in portal over TLS (saml { portal_cert portal_key
 * portal_listen }), with the config's portal_ssl_ctx: a CONNECT to the
 * portal's https host:port is answered 200 by the gateway, which then
 * speaks TLS as the server on the client connection; a portal_listen
 * socket's connections start in TLS.  Either way the connection then
 * carries origin-form requests that only the gateway's own pages answer
 * (conn_serve_local): nothing on it is ever forwarded or tunnelled, and
 * it needs no sign-in.  Its client address is the real client's.
 */
#define CONN_TLS_NONE		0
#define CONN_TLS_ACCEPT		1	/* accepted on portal_listen */
#define CONN_TLS_HANDSHAKE	2	/* the server handshake runs */
#define CONN_TLS_OPEN		3	/* requests are read through TLS */
/* How a portal_listen socket is named to workers: this, then the text. */
#define PORTAL_TLS_LISTEN_PREFIX "tls "
/* Is host:port (host lower-cased) the portal the gateway answers in TLS? */
int	portal_tls_connect_wanted(const struct config *, const char *host,
	    int port);
/*
 * c's request is a CONNECT that portal_tls_connect_wanted(): answer 200,
 * log it, and start the TLS server on the connection (or close it).
 */
void	portal_tls_connect(struct conn *);
/*
 * Put TLS (the server side, the running config's certificate) between
 * c and its client: c->bev becomes a TLS filter over the socket's
 * bufferevent, with the same callbacks, and header_timeout bounds the
 * handshake.  0, or -1 when c was closed.
 */
int	portal_tls_start(struct conn *);
/*
 * conn.c's event callback, first: the handshake's outcome.  1 when the
 * event was the TLS layer's (handled; c may be closed: a failed or stalled
 * handshake closes it with a log line), 0 for conn.c to handle.
 */
int	portal_tls_event(struct conn *, short what);
/*
 * conn_close() frees c->bev through this: what TLS already encrypted
 * (the last answer, close_notify) still reaches the client, from a
 * bufferevent that lingers on its own, bounded in time.  c->bev is NULL
 * after.
 */
void	portal_tls_close(struct conn *);
/*
 * Every listening address of conf, portal_listen included, by index i
 * below portal_tls_listen_count(): the address, and in key the name
 * workers and reloads know its socket by (PORTAL_TLS_LISTEN_PREFIX
 * before a TLS one's text).
 */
size_t	portal_tls_listen_count(const struct config *);
const struct conf_listen *portal_tls_listen_nth(const struct config *,
	    size_t i, char *key, size_t keylen);

/* origin.c */
/*
 * Get a connection to req->host:req->port into c->up: from the pool when
 * use_pool is set, else resolve and connect.  cb runs once, possibly
 * before origin_connect returns; on failure status and reason say what to
 * answer (502, 504).
 */
typedef void (*origin_cb)(struct conn *, int ok, int status,
	    const char *reason);
void	origin_connect(struct conn *, int use_pool, origin_cb);

/* shared helpers in conn.c */
/* Relay with backpressure: move what fits from src input to dst output. */
#define RELAY_HIGH_WATER	(256 * 1024)
uint64_t relay_move(struct bufferevent *src, struct evbuffer *dst,
	    uint64_t max);
int	relay_dst_full(struct bufferevent *dst);
/* Raise libevent's per-syscall read/write sizes for relaying. */
void	relay_tune(struct bufferevent *);

#endif
