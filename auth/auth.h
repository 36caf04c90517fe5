/*
 * auth/: who is on the other end of a client connection.  This is the
 * only header other folders include.
 *
 * NTLM (and NTLM inside Negotiate) authenticates a connection: the state of
 * a handshake lives in one struct auth_state per client connection, owned
 * by that connection's worker thread, created on demand and freed with the
 * connection.  Secrets (NT hashes) come from the config, which holds them
 * for as long as a request holds the config.
 */
#ifndef IAPROXY_AUTH_H
#define IAPROXY_AUTH_H

#include <stddef.h>

#include "conf.h"
#include "saml.h"
#include "session.h"

struct auth_state;
struct auth_pending;
struct auth_worker;
struct event_base;

enum auth_outcome {
	AUTH_CHALLENGE,		/* answer 407 with answer->header */
	AUTH_SUCCESS,		/* answer->user is who the client is */
	AUTH_REFUSED,		/* answer 407 offering a fresh start */
	AUTH_PENDING,		/* a backend was asked: wait for the callback */
};

struct auth_answer {
	char		 header[4200];	/* Proxy-Authenticate value, or "" */
	char		 user[600];	/* "DOMAIN\user", on success */
	const char	*mech;		/* "ntlm" or "negotiate" */
	const char	*reason;	/* why refused (static), for the log */
	char		 detail[300];	/* more on why (GSSAPI's words), or
					   "": never a secret */
	int		 unavailable;	/* refused because no backend could
					   answer: a 503, not a new prompt */
};

/* Called once when an AUTH_PENDING step is decided (worker's thread). */
typedef void (*auth_cb)(void *arg, enum auth_outcome,
	    const struct auth_answer *);

/* auth_ntlm.c */
/*
 * One step of an NTLM handshake on a connection: token is the base64
 * text after "NTLM".  *st is created on the first step.  When a
 * directory or domain controller must be asked, returns AUTH_PENDING
 * with *pending set, and cb(arg, ...) follows later on this thread,
 * unless auth_cancel(*pending) comes first.
 */
enum auth_outcome auth_ntlm_step(struct auth_state **st,
	    struct auth_worker *aw, const struct config *conf,
	    const char *token, size_t token_len,
	    struct auth_answer *answer, auth_cb cb, void *arg,
	    struct auth_pending **pending);
/* The step's callback will not come. */
void	auth_cancel(struct auth_pending *);
/* Also cancels a pending step. */
void	auth_state_free(struct auth_state *);

/* auth_negotiate.c */
/*
 * One step of Negotiate (RFC 4559): token is the base64 text after
 * "Negotiate".  Kerberos (bare or in SPNEGO) is accepted with GSSAPI on
 * the accept threads, so it always comes back AUTH_PENDING unless
 * refused at once; NTLMSSP (bare or in SPNEGO) goes to the NTLM code
 * when methods holds AUTH_NTLM, and is answered inside Negotiate.
 * methods are the AUTH_* bits the client's network allows.  As
 * auth_ntlm_step() otherwise.  On AUTH_SUCCESS answer->header may hold
 * a final token ("Negotiate ...") for the response.
 */
enum auth_outcome auth_negotiate_step(struct auth_state **st,
	    struct auth_worker *aw, const struct config *conf,
	    unsigned methods, const char *token, size_t token_len,
	    struct auth_answer *answer, auth_cb cb, void *arg,
	    struct auth_pending **pending);

/* auth_worker.c */
/* A worker's backends (directory connections, DC helpers). */
struct auth_worker *auth_worker_new(struct event_base *,
	    const struct config *);
/* A new config on this worker: backends are rebuilt from it when used. */
void	auth_worker_reconf(struct auth_worker *, const struct config *);
void	auth_worker_free(struct auth_worker *);

/* auth.c */
/*
 * Does the signed-in name cuser stand for want?  Equal without regard to
 * case, or want a bare name and cuser that name in a domain (DOM\want)
 * or realm (want@REALM): what signout, disable and the sessions list
 * mean by a user, for connections and IP sessions alike.
 */
int	auth_user_match(const char *cuser, const char *want);
/*
 * The ldap section's user_filter for the signed-in name user, with %u %d
 * %p %m filled in and escaped (RFC 4515): the filter that finds the
 * user's entry, as the group lookups do.  malloc'd; NULL when the name
 * cannot be mapped (or out of memory).
 */
char	*auth_user_filter(const struct config *, const char *user);
/* The NT hash of a UTF-8 password (MD4 of UTF-16LE); -1 if not UTF-8. */
int	auth_nt_hash(const char *password, unsigned char out[16]);
/*
 * Parse a Proxy-Authorization value into its scheme and token (pointers
 * into value).  Returns -1 when it is not "scheme SP token".
 */
int	auth_split(const char *value, size_t len, const char **scheme,
	    size_t *scheme_len, const char **token, size_t *token_len);

/* groups.c: the directory groups of signed-in users (group_mode) */
/*
 * A user's groups as the directory gave them, nested ones included:
 * immutable and reference counted, so that a request may keep one for
 * as long as it runs, whatever the cache does meanwhile.  Any thread.
 */
struct auth_groups;

/* Where a lookup's answer came from (json access log "groups_source"). */
enum auth_groups_source {
	AUTH_GROUPS_NONE,	/* unknown: the directory could not be asked
				   and nothing usable was cached */
	AUTH_GROUPS_LDAP,	/* the directory's, fresh (within cache_ttl) */
	AUTH_GROUPS_STALE,	/* cached past cache_ttl, the directory being
				   unreachable (within stale_ttl) */
	AUTH_GROUPS_SAML,	/* the assertion's groups_attribute, kept
				   with the IP session (session.h) */
};

/*
 * Called once when a pending lookup is answered, on the worker's
 * thread: groups is a reference for the callee (NULL with
 * AUTH_GROUPS_NONE).
 */
typedef void (*auth_groups_cb)(void *arg, struct auth_groups *groups,
	    enum auth_groups_source);

/* Does conf look groups up (an ldap section with group_mode)? */
int	auth_groups_enabled(const struct config *);
/*
 * The groups of user (the name a sign-in gave: "DOMAIN\user",
 * "user@REALM", ...) under conf, from the shared cache: AUTH_SUCCESS
 * with *groups (a reference, or NULL) and *source set at once on a hit
 * (well under a microsecond); else AUTH_PENDING with *pending set, and
 * cb(arg, ...) follows on this worker's thread unless
 * auth_cancel(*pending) comes first.  cb never runs inside this call.
 */
enum auth_outcome auth_groups_lookup(struct auth_worker *,
	    const struct config *, const char *user,
	    struct auth_groups **groups, enum auth_groups_source *source,
	    auth_groups_cb cb, void *arg, struct auth_pending **pending);
/*
 * Is the user in group name (a cn, or a full DN), compared without
 * regard to case?  0 for NULL groups.
 */
int	auth_groups_has(const struct auth_groups *, const char *name);
/* How many groups; the cn and DN of the i-th. */
size_t	auth_groups_count(const struct auth_groups *);
const char *auth_groups_cn(const struct auth_groups *, size_t i);
const char *auth_groups_dn(const struct auth_groups *, size_t i);
/* Is the user in the directory at all (an empty list says no)? */
int	auth_groups_found(const struct auth_groups *);
struct auth_groups *auth_groups_ref(struct auth_groups *);
void	auth_groups_unref(struct auth_groups *);
/* "ldap", "stale" or "none". */
const char *auth_groups_source_name(enum auth_groups_source);
/*
 * The directory thread and the cache, from the main thread: start them
 * when conf looks groups up (at start, before the workers) or hand them
 * a reloaded config (before the workers get it).  -1 when they cannot
 * start.  A changed search (base, filter, mode, depth) empties the
 * cache.  auth_groups_stop() after the workers are joined.
 */
int	auth_groups_start(const struct config *);
/*
 * The same for the NTLM ldap backend (ntlm_ldap.c): start the directory
 * thread when conf's NTLM backend is ldap, or hand it conf; -1 when it
 * cannot start.  ntlm_ldap_stop() after the workers are joined.
 */
int	ntlm_ldap_start(const struct config *);
void	ntlm_ldap_stop(void);
void	auth_groups_stop(void);
/*
 * Forget user's cached groups now (a group change, a dismissal): the
 * entry of that name and, for a bare name, of that user in every domain
 * and realm; "*" forgets everyone.  How many entries went.  Any thread.
 */
size_t	auth_groups_purge(const char *user);
/*
 * The counters as "groups_NAME VALUE" lines into buf (admin socket
 * "stats"); the length written.
 */
size_t	auth_groups_stats(char *buf, size_t len);

/* gss_pool.c, ntlm_winbind.c: queue depths for /metrics, any thread */
/* Kerberos accepts waiting for a GSSAPI accept thread. */
size_t	auth_gss_queued(void);
/* NTLM sign-ins waiting for a winbind helper, all workers together. */
size_t	auth_winbind_queued(void);

#endif
