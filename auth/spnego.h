/*
 * SPNEGO (RFC 4178) as HTTP Negotiate carries it (RFC 4559): just enough
 * DER to tell what a client sent and to answer NTLMSSP inside it.
 * Internal to auth/.
 *
 * The parsers are pure: they take the decoded token bytes, never
 * allocate, and leave pointers into the caller's buffer.  They accept
 * DER as Windows, MIT and Heimdal write it: definite lengths only (at
 * most four length octets), every length inside its parent, nothing
 * left over.  Anything else is refused with a static reason.
 */
#ifndef IAPROXY_AUTH_SPNEGO_H
#define IAPROXY_AUTH_SPNEGO_H

#include <stddef.h>
#include <stdint.h>

#define SPNEGO_MAX_MECHS	16	/* mechanisms kept from a MechTypeList */

/* What the first bytes of a Negotiate token say it is. */
enum spnego_kind {
	SPNEGO_NOT,		/* none of the below */
	SPNEGO_RAW_NTLMSSP,	/* "NTLMSSP\0...": bare NTLMSSP */
	SPNEGO_RAW_KRB5,	/* 0x60, a Kerberos mech OID: a bare AP-REQ */
	SPNEGO_INIT,		/* 0x60, the SPNEGO OID: a NegTokenInit */
	SPNEGO_RESP,		/* 0xa1: a NegTokenResp (a later leg) */
};

/* The mechanisms the gateway tells apart (RFC 4178 MechType). */
enum spnego_mech {
	SPNEGO_MECH_OTHER,	/* any other OID */
	SPNEGO_MECH_KRB5,	/* 1.2.840.113554.1.2.2 */
	SPNEGO_MECH_MSKRB5,	/* 1.2.840.48018.1.2.2 (Windows' alias) */
	SPNEGO_MECH_NTLMSSP,	/* 1.3.6.1.4.1.311.2.2.10 */
};

/* negState (RFC 4178 4.2.2). */
enum spnego_state {
	SPNEGO_STATE_ABSENT = -1,
	SPNEGO_ACCEPT_COMPLETED = 0,
	SPNEGO_ACCEPT_INCOMPLETE = 1,
	SPNEGO_REJECT = 2,
	SPNEGO_REQUEST_MIC = 3,
};

/* A NegTokenInit, inside its GSS-API InitialContextToken framing. */
struct spnego_init {
	enum spnego_mech mechs[SPNEGO_MAX_MECHS];	/* client's order */
	size_t		 nmechs;	/* kept (at most SPNEGO_MAX_MECHS) */
	const uint8_t	*mech_list;	/* DER of the MechTypeList, tag and */
	size_t		 mech_list_len;	/*  length included (the MIC input) */
	const uint8_t	*mech_token;	/* optimistic token, or NULL */
	size_t		 mech_token_len;
	const uint8_t	*mic;		/* mechListMIC, or NULL */
	size_t		 mic_len;
};

/* A NegTokenResp. */
struct spnego_resp {
	enum spnego_state state;
	enum spnego_mech supported_mech;	/* OTHER when absent */
	int		 has_supported_mech;
	const uint8_t	*response_token;	/* or NULL */
	size_t		 response_token_len;
	const uint8_t	*mic;			/* mechListMIC, or NULL */
	size_t		 mic_len;
};

/* From the first bytes only; a full parse still decides. */
enum spnego_kind spnego_classify(const uint8_t *, size_t);
/* Parse a whole SPNEGO_INIT token.  0, or -1 with *why set. */
int	spnego_parse_init(const uint8_t *, size_t, struct spnego_init *,
	    const char **why);
/* Parse a whole SPNEGO_RESP token.  0, or -1 with *why set. */
int	spnego_parse_resp(const uint8_t *, size_t, struct spnego_resp *,
	    const char **why);
/*
 * Write a NegTokenResp ([1] SEQUENCE) into out: negState (left out for
 * SPNEGO_STATE_ABSENT); supportedMech
 * unless mech is SPNEGO_MECH_OTHER; responseToken and mechListMIC when
 * not NULL.  Returns the length written, or -1 if it does not fit.
 */
int	spnego_build_resp(enum spnego_state, enum spnego_mech,
	    const uint8_t *token, size_t token_len, const uint8_t *mic,
	    size_t mic_len, uint8_t *out, size_t outlen);

#endif
