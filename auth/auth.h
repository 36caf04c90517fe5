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

enum auth_outcome {
	AUTH_CHALLENGE,		/* answer 407 with answer->header */
	AUTH_SUCCESS,		/* answer->user is who the client is */
	AUTH_REFUSED,		/* answer 407 offering a fresh start */
};

struct auth_answer {
	char		 header[4200];	/* Proxy-Authenticate value, or "" */
	char		 user[600];	/* "DOMAIN\user", on success */
	const char	*mech;		/* "ntlm" */
	const char	*reason;	/* why refused (static), for the log */
};

/* auth_ntlm.c */
/*
 * One step of an NTLM handshake on a connection.  scheme is "NTLM" or
 * "Negotiate" (raw NTLMSSP inside Negotiate is answered inside
 * Negotiate), token the base64 text after it.  *st is created on the first
 * step.  hostname is our DNS name, for the target information.
 */
enum auth_outcome auth_ntlm_step(struct auth_state **st,
	    const struct config *conf, const char *scheme, const char *token,
	    size_t token_len, struct auth_answer *answer);
void	auth_state_free(struct auth_state *);

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
