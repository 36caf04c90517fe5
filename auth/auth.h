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
	const char	*mech;		/* "ntlm" */
	const char	*reason;	/* why refused (static), for the log */
	int		 unavailable;	/* refused because no backend could
					   answer: a 503, not a new prompt */
};

/* Called once when an AUTH_PENDING step is decided (worker's thread). */
typedef void (*auth_cb)(void *arg, enum auth_outcome,
	    const struct auth_answer *);

/* auth_ntlm.c */
/*
 * One step of an NTLM handshake on a connection.  scheme is "NTLM" or
 * "Negotiate" (raw NTLMSSP inside Negotiate is answered inside
 * Negotiate), token the base64 text after it.  *st is created on the first
 * step.  When a directory or domain controller must be asked, returns
 * AUTH_PENDING with *pending set, and cb(arg, ...) follows later, unless
 * auth_cancel(*pending) comes first.
 */
enum auth_outcome auth_ntlm_step(struct auth_state **st,
	    struct auth_worker *aw, const struct config *conf,
	    const char *scheme, const char *token, size_t token_len,
	    struct auth_answer *answer, auth_cb cb, void *arg,
	    struct auth_pending **pending);
void	auth_cancel(struct auth_pending *);
/* Also cancels a pending step. */
void	auth_state_free(struct auth_state *);

/* auth_worker.c */
/* A worker's backends (directory connections, DC helpers). */
struct auth_worker *auth_worker_new(struct event_base *,
	    const struct config *);
/* A new config on this worker: backends are rebuilt from it when used. */
void	auth_worker_reconf(struct auth_worker *, const struct config *);
void	auth_worker_free(struct auth_worker *);

/* auth.c */
/* The NT hash of a UTF-8 password (MD4 of UTF-16LE); -1 if not UTF-8. */
int	auth_nt_hash(const char *password, unsigned char out[16]);
/*
 * Parse a Proxy-Authorization value into its scheme and token (pointers
 * into value).  Returns -1 when it is not "scheme SP token".
 */
int	auth_split(const char *value, size_t len, const char **scheme,
	    size_t *scheme_len, const char **token, size_t *token_len);

#endif
