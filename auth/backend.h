/*
 * NTLM backends: where the truth about a password lives.  Internal to
 * auth/ (auth_ntlm.c and the backend files include it).
 *
 * A hash backend (hashfile, ldap) returns the user's NT hash and the
 * handshake verifies NTProofStr itself; a pass-through backend (winbind)
 * hands the responses to a domain controller and returns its verdict and
 * the session key.  A backend that needs the network is asynchronous: it
 * calls back on the worker's thread, exactly once, unless the request was
 * cancelled first.  winbind runs on the worker's event_base (its helpers
 * answer through pipes); ldap runs on the directory thread (dir.h), since
 * libldap's TLS handshake blocks, and answers through the worker's inbox.
 */
#ifndef IAPROXY_AUTH_BACKEND_H
#define IAPROXY_AUTH_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"

/* What the handshake hands a backend. */
struct inbox;

struct ntlm_backend_query {
	const char	*user;		/* UTF-8, as the client sent it */
	const char	*domain;	/* UTF-8, may be "" */
	const char	*workstation;
	uint8_t		 challenge[8];	/* ours (pass-through needs it) */
	const uint8_t	*lm;		/* LmChallengeResponse */
	size_t		 lm_len;
	const uint8_t	*nt;		/* NtChallengeResponse */
	size_t		 nt_len;
};

enum ntlm_backend_status {
	NTLM_BACKEND_HASH,	/* nthash holds the user's NT hash */
	NTLM_BACKEND_VERIFIED,	/* the DC accepted the responses */
	NTLM_BACKEND_REFUSED,	/* unknown user, wrong password (reason) */
	NTLM_BACKEND_DOWN,	/* could not ask (reason); fail closed */
};

struct ntlm_backend_result {
	enum ntlm_backend_status status;
	uint8_t		 nthash[16];
	int		 have_session_key;
	uint8_t		 session_key[16];	/* from a pass-through */
	const char	*reason;		/* static, safe to log */
};

typedef void (*ntlm_backend_cb)(void *arg,
	    const struct ntlm_backend_result *);

/*
 * Per worker: the backends' connections and helper processes.  Created
 * and used on the worker's thread only; auth_worker_reconf() is called
 * there with each new config.
 */
struct auth_worker {
	struct event_base	*base;
	struct config		*conf;		/* a reference of its own */
	struct ntlm_ldap	*ldap;		/* ntlm_ldap.c, or NULL */
	struct ntlm_winbind	*winbind;	/* ntlm_winbind.c, or NULL */
	struct inbox		*inbox;		/* work of other threads comes
						   back here (inbox.h), or NULL */
};

/*
 * A backend call in flight.  Each backend embeds this as the first member
 * of its own request struct; cancel() frees the request and guarantees the
 * callback never comes.
 */
struct ntlm_backend_req {
	void	(*cancel)(struct ntlm_backend_req *);
};

/* auth_worker.c: the backend of aw's config, created on first use. */
struct ntlm_backend_req *auth_worker_ldap_lookup(struct auth_worker *,
	    const struct ntlm_backend_query *, ntlm_backend_cb, void *arg);
struct ntlm_backend_req *auth_worker_winbind_verify(struct auth_worker *,
	    const struct ntlm_backend_query *, ntlm_backend_cb, void *arg);

/*
 * Each backend's free() must first answer every request still in flight
 * with NTLM_BACKEND_DOWN (a reload replaces backends; nobody may wait
 * forever).
 */

/*
 * ntlm_ldap.c: the NT hash from the directory (sambaNTPassword).  The
 * searches run on the directory thread, for every worker.
 */
struct ntlm_ldap *ntlm_ldap_new(const struct config *);
void	ntlm_ldap_free(struct ntlm_ldap *);
/* Returns NULL when cb has already been called (e.g. no directory). */
struct ntlm_backend_req *ntlm_ldap_lookup(struct auth_worker *,
	    const struct ntlm_backend_query *, ntlm_backend_cb, void *arg);
/* ntlm_ldap_start() and ntlm_ldap_stop() are public: auth.h. */

/* ntlm_winbind.c: pass-through to a domain controller via ntlm_auth. */
struct ntlm_winbind *ntlm_winbind_new(struct event_base *,
	    const struct config *);
void	ntlm_winbind_free(struct ntlm_winbind *);
struct ntlm_backend_req *ntlm_winbind_verify(struct auth_worker *,
	    const struct ntlm_backend_query *, ntlm_backend_cb, void *arg);

#endif
