/*
 * The sign-in state of one client connection, shared by the NTLM and
 * Negotiate code.  Internal to auth/.
 *
 * A struct auth_state belongs to its connection's worker thread.  At
 * most one step is in flight at a time (st->pending): an NTLM backend
 * call or a Kerberos accept on the GSSAPI threads.  A Kerberos context
 * that needs another leg is kept here between requests; while an accept
 * runs, the context is the job's and st->gss_ctx is empty.
 */
#ifndef IAPROXY_AUTH_STATE_H
#define IAPROXY_AUTH_STATE_H

#include <stdint.h>
#include <sys/time.h>

#include <gssapi/gssapi.h>

#include "auth.h"
#include "ntlm.h"

/*
 * A step in flight.  Each kind embeds this first; cancel() makes sure
 * the step's callback never comes and frees what it can.
 */
struct auth_pending {
	void	(*cancel)(struct auth_pending *);
};

/* How NTLMSSP travels, and so how its answers are written. */
enum ntlm_frame {
	NTLM_FRAME_NTLM,	/* "NTLM <base64 NTLMSSP>" */
	NTLM_FRAME_RAW,		/* "Negotiate <base64 NTLMSSP>" */
	NTLM_FRAME_SPNEGO,	/* "Negotiate <base64 SPNEGO>" (RFC 4178) */
};

struct auth_state {
	struct auth_pending *pending;	/* a step in flight, or NULL */

	/* NTLM (auth_ntlm.c) */
	int		 have_challenge;
	enum ntlm_frame	 frame;		/* how the challenge went out */
	uint8_t		 challenge[NTLM_CHALLENGE_LEN];
	struct timeval	 issued;
	uint8_t		*type1;		/* raw NEGOTIATE, for the MIC */
	size_t		 type1_len;
	uint8_t		*type2;		/* raw CHALLENGE as sent */
	size_t		 type2_len;
	/* NTLM inside SPNEGO: what its mechListMIC covers and says */
	uint8_t		*mech_list;	/* DER MechTypeList of the init */
	size_t		 mech_list_len;
	int		 have_peer_mic;
	uint8_t		 peer_mic[16];	/* the client's, on the last leg */

	/* Kerberos (auth_negotiate.c): a context waiting for a next leg */
	gss_ctx_id_t	 gss_ctx;
};

/* auth.c */
struct auth_state *auth_state_new(void);
void	auth_answer_clear(struct auth_answer *);

/* auth_ntlm.c */
/*
 * One NTLMSSP message (decoded), answered in frame.  As auth_ntlm_step()
 * otherwise; st must exist.
 */
enum auth_outcome ntlm_step(struct auth_state *, struct auth_worker *,
	    const struct config *, enum ntlm_frame, const uint8_t *msg,
	    size_t len, struct auth_answer *, auth_cb, void *arg,
	    struct auth_pending **);
/* Forget the NTLM handshake (wipes the challenge and messages). */
void	ntlm_state_forget(struct auth_state *);
/* "Negotiate <base64>" / "NTLM <base64>" of bytes into a->header. */
int	auth_answer_token(struct auth_answer *, const char *scheme,
	    const uint8_t *, size_t);

/* auth_negotiate.c */
void	negotiate_state_forget(struct auth_state *);

#endif
