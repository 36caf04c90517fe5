/*
 * The directory (LDAP): one asynchronous connection, how a signed-in
 * name becomes a search filter, and the directory thread that owns the
 * connections.  Internal to auth/: the group lookups (groups_dir.c) and
 * the ldap NTLM backend (ntlm_ldap.c, through dir_thread_submit()) both
 * search on the directory thread, never on a worker's event_base.
 *
 * A struct dir_conn belongs to the thread whose event_base it was made
 * on; nothing in it is locked.  It holds one LDAP handle at a time: the
 * URIs of the config are tried in order (failover), bound with a simple
 * bind as the service account, with StartTLS first when configured;
 * after a whole round failed it waits (1 s, doubling to 10 s) before the
 * next.  Searches are sent with ldap_search_ext() and their answers
 * collected with ldap_result() and a zero timeout when libevent says the
 * socket (LDAP_OPT_DESC) is readable, so nothing waits for the network
 * except, inside libldap, a TLS handshake (ldaps:// or StartTLS), which
 * is bounded by the timeout.  That wait is why every dir_conn lives on
 * the directory thread: it holds up that thread alone, never a worker
 * and the connections on it.
 */
#ifndef IAPROXY_AUTH_DIR_H
#define IAPROXY_AUTH_DIR_H

#include <sys/queue.h>
#include <stddef.h>

#include <ldap.h>
#include <event2/event.h>

#include "conf.h"
#include "inbox.h"

/* dir_filter.c */
#define DIR_NAME_MAX	600	/* bytes of one mapped name, NUL included */
#define DIR_FILTER_MAX	4096	/* bytes of one search filter */

/*
 * A signed-in name split up for a user_filter: %u the user, %d its
 * domain or realm, %p user@REALM (a UPN), %m a mail address.  Each
 * value is counted (it may hold a NUL: the escaping must see it).
 */
struct dir_names {
	char	 u[DIR_NAME_MAX];
	size_t	 ulen;
	char	 d[DIR_NAME_MAX];
	size_t	 dlen;
	char	 p[DIR_NAME_MAX];
	size_t	 plen;
	char	 m[DIR_NAME_MAX];
	size_t	 mlen;
};

/*
 * Split name, as a sign-in gives it, into names:
 *   "DOMAIN\user"  u=user d=DOMAIN p=m=user@REALM
 *   "user@realm"   u=user d=realm  p=m=user@realm (Kerberos, a UPN, SAML)
 *   "user"         u=user d=""     p=m=user@REALM
 * REALM is the realm realm_map gives DOMAIN (negotiate section), else
 * the DNS domain of base_dn's dc= components upper-cased (AD's default
 * UPN suffix), else DOMAIN (or nothing: p=m=user).  conf may be NULL.
 * -1 when a part is too long or empty.
 */
int	 dir_names_parse(const char *name, size_t len,
	    const struct config *conf, struct dir_names *);
/* The same from an NTLM user and domain (already split). */
int	 dir_names_split(const char *user, const char *domain,
	    const struct config *conf, struct dir_names *);
/*
 * The filter for names from template tmpl (user_filter): each %u %d %p
 * %m replaced by its value escaped as RFC 4515 3 asks (libldap's
 * ldap_bv2escaped_filter_value: '*', '(', ')', '\', NUL and bytes above
 * 0x7f become \XX), %% by '%'.  malloc'ed; NULL when too long (more
 * than DIR_FILTER_MAX) or out of memory.
 */
char	*dir_filter_build(const char *tmpl, const struct dir_names *);
/* One value escaped for a filter (as above), malloc'ed, or NULL. */
char	*dir_filter_escape(const char *val, size_t len);

/* dir_conn.c */
struct dir_conn;
struct dir_search;

/* How a search ended (done callback). */
enum dir_status {
	DIR_OK,		/* the server answered; err is its result code */
	DIR_DOWN,	/* no answer: unreachable, timed out (why says) */
};

/*
 * One search.  The caller embeds it (anywhere) and fills the first part;
 * entry() is called for each entry of the answer and done() once at the
 * end, both on the connection's thread, unless dir_search_cancel() comes
 * first.  The strings and attrs must live until then.
 */
struct dir_search {
	const char	*base;
	int		 scope;		/* LDAP_SCOPE_* */
	const char	*filter;
	char		**attrs;	/* NULL-terminated, or NULL: all */
	int		 sizelimit;	/* 0: the server's */
	void		(*entry)(struct dir_search *, LDAP *, LDAPMessage *);
	void		(*done)(struct dir_search *, enum dir_status, int err,
			    const char *why);

	/* the connection's */
	struct dir_conn	*dc;
	TAILQ_ENTRY(dir_search) link;
	int		 where;		/* 0 nowhere, 1 queued, 2 sent */
	int		 msgid;
	struct event	*timer;
	const char	*down;		/* answer DOWN with this, soon */
};

/*
 * A connection to the directory of cl (which must outlive it) on base,
 * not connected yet: the first search connects.  who names it in log
 * lines ("ldap", "ldap groups"); what says in them what fails while the
 * directory is unreachable ("sign-in by ldap fails").  NULL when out of
 * memory.
 */
struct dir_conn *dir_conn_new(struct event_base *, const struct conf_ldap *cl,
	    const char *who, const char *what);
/*
 * Close and free; every search still in flight gets done(DIR_DOWN)
 * first.  A done() may not start a search on this connection.
 */
void	 dir_conn_free(struct dir_conn *);
/*
 * Start s: sent at once when the connection is up, else queued while it
 * is being made.  While the directory is known to be unreachable
 * (waiting between rounds) s fails at once, from the event loop.  done()
 * never runs inside this call.  -1 when the queue is full (done() will
 * not be called).
 */
int	 dir_search_start(struct dir_conn *, struct dir_search *);
/* Forget s (abandoned on the wire, RFC 4511 4.11); done() never comes. */
void	 dir_search_cancel(struct dir_search *);
/* 1 when bound and ready, else 0 (for counters and the admin socket). */
int	 dir_conn_is_up(const struct dir_conn *);

/* groups_dir.c: the directory thread, for the ldap NTLM backend. */
struct gdir;
struct gconn;

/*
 * Work for the connection the directory thread keeps for the ldap NTLM
 * backend ("ldap" in log lines).  The sender (a worker) embeds it, sets
 * run and discard, and hands it over with dir_thread_submit().  run()
 * follows on the directory thread with that connection and the config
 * it was made from (the newest whose NTLM backend is ldap), or with dc
 * and conf NULL and why saying why there is none.  Whichever it was,
 * the task calls dir_task_end() once when it no longer uses dc (a
 * connection replaced by a reload closes after its last task), then
 * answers its sender (an item posted to the inbox it named).  discard()
 * is called instead of run(), on any thread, when the directory thread
 * has gone.  The task belongs to the directory thread from the submit
 * until it posts its answer.
 */
struct dir_task {
	struct inbox_item	 item;		/* first: the thread's inbox */
	void			(*run)(struct dir_task *, struct dir_conn *,
				    const struct config *, const char *why);
	void			(*discard)(struct dir_task *);

	/* the directory thread's */
	struct gdir		*gd;
	struct gconn		*conn;
};

/*
 * Start the directory thread for conf when its NTLM backend is ldap, or
 * hand a running thread conf (main thread: at start before the workers,
 * on reload before they get conf).  A running thread keeps running
 * (with its NTLM connection closed) when conf needs it no more: a
 * reload may want it back.  -1 when it cannot start.
 */
int	 dir_thread_start(const struct config *);
/*
 * The NTLM backend no longer needs the thread (main thread, the workers
 * joined): it stops unless the group lookups still use it (they stop
 * it then, auth_groups_stop()).
 */
void	 dir_thread_stop(void);
/*
 * Hand t to the directory thread (a worker's thread).  An item is
 * promised to reply (inbox_expect): t's answer, which t posts there.
 * -1 when no directory thread runs: nothing was called or promised.
 */
int	 dir_thread_submit(struct dir_task *t, struct inbox *reply);
/* The directory thread: t is done with its connection. */
void	 dir_task_end(struct dir_task *t);

#endif
