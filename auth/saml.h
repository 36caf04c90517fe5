/*
 * auth/saml.h: the SAML 2.0 service provider (lasso) and the sign-in
 * sessions it leads to.  Included through auth.h.
 *
 * Ownership and locks:
 *  - struct saml_sp is built per config (conf_saml_load) and immutable
 *    after; lasso calls on it are serialised by its own mutex, since
 *    lasso and libxml2 keep per-object state.
 *  - The outstanding AuthnRequests, the assertion replay cache and the
 *    IP sessions outlive any config: process-wide tables in auth/, each
 *    under one mutex, bounded, with TTLs.
 */
#ifndef IAPROXY_SAML_H
#define IAPROXY_SAML_H

#include <stddef.h>
#include <time.h>

struct conf_saml;
struct saml_sp;
struct sockaddr;

/* saml_sp.c */
/*
 * Build the provider from s's files (SP key and certificate, IdP
 * metadata).  More than one IdP in the metadata is an error.  NULL with
 * a message in why.
 */
struct saml_sp	*saml_sp_new(const struct conf_saml *s, char *why,
		    size_t whylen);
void		 saml_sp_free(struct saml_sp *);
/* The SP metadata to hand the IdP (malloc'd XML, *len bytes). */
char		*saml_sp_metadata(struct saml_sp *, size_t *len);
/*
 * The IdP's SSO endpoint for HTTP-Redirect: its URL's host (lower-case)
 * and port, so the gateway lets browsers reach it before sign-in.
 */
int		 saml_sp_idp_sso(struct saml_sp *, char *host, size_t hostlen,
		    int *port);

/*
 * The client address a sign-in is bound to, as text (session_addr_text:
 * an IPv4-mapped IPv6 address written as plain IPv4), NUL included.
 */
#define SAML_CLIENT_MAX		64

/*
 * Start a sign-in for return_url (only an absolute http(s) URL; anything
 * else becomes the portal's own whoami page) from the client address
 * client (text, at most SAML_CLIENT_MAX bytes; NULL: none): a signed
 * (RSA-SHA256) AuthnRequest for the HTTP-Redirect binding.  The request
 * ID, the return URL and the client are remembered server-side for the
 * request's lifetime; RelayState is only a short random token naming
 * them.  0 and *redirect (malloc'd URL for Location), or -1 with why.
 */
int		 saml_login_start(struct saml_sp *, const struct conf_saml *,
		    const char *return_url, const char *client, time_t now,
		    char **redirect, char *why, size_t whylen);

/* Who a verified assertion names. */
struct saml_identity {
	char		 user[512];	/* NameID, or mapped DOMAIN\user */
	char		 name_id[512];	/* as the IdP sent it */
	char		 return_url[2048];	/* where to send the browser */
	char		**groups;	/* groups_attribute values, or NULL */
	size_t		 ngroups;
	time_t		 not_on_or_after;	/* the assertion's end */
};

/*
 * The ACS: body is the HTTP-POST binding's form (SAMLResponse and
 * RelayState, application/x-www-form-urlencoded), posted by the client
 * address client (text, as for saml_login_start).  The request the
 * RelayState names is used up by any attempt.  It must have been
 * started from the same address (the same IP address, whether written
 * as IPv4 or IPv4-mapped IPv6): a form for the attacker's own account,
 * posted by a victim's browser, must not bind the victim's address to
 * the attacker (login CSRF, session fixation).  NULL client: no such
 * check (tests).  Then verifies the signature (lasso) and every check
 * lasso leaves to us; 0 with *id filled, or -1 with why naming the
 * failed check (for the log; never the assertion itself).
 */
int		 saml_acs(struct saml_sp *, const struct conf_saml *,
		    const char *body, size_t len, const char *client,
		    time_t now, struct saml_identity *id, char *why,
		    size_t whylen);
void		 saml_identity_clear(struct saml_identity *);

/*
 * The layers under saml_acs(), public for the unit tests, the fuzzer and
 * the bench.  Nothing here calls lasso.
 */

/* saml_check.c */
#define SAML_FORM_MAX		(256 * 1024)	/* bytes of an ACS body */
#define SAML_RETURN_URL_MAX	2000
#define SAML_ID_MAX		256	/* bytes of an XML ID we keep */

/*
 * Parse the ACS body (application/x-www-form-urlencoded, HTML 4.01
 * 17.13.4): SAMLResponse and RelayState, both required, each at most
 * once, '+' and %XX decoded.  Other fields are ignored.  0 with both
 * malloc'd (NUL-terminated; the caller frees), or -1 with why.
 */
int		 saml_form_parse(const char *body, size_t len, char **response,
		    char **relay, char *why, size_t whylen);
/*
 * Decode one form or query value (HTML 4.01 17.13.4.1: '+' is a space,
 * %XX a byte) into a malloc'd string.  A bad escape or a NUL fails.
 */
char		*saml_form_value(const char *s, size_t len);
/* printf into why (whylen bytes; nothing when why is NULL). */
void		 saml_why(char *why, size_t whylen, const char *fmt, ...)
		    __attribute__((__format__(__printf__, 3, 4)));
/*
 * Strict base64 (RFC 4648 section 4): the alphabet, '=' padding only at
 * the end, and white space (which the POST binding's line breaks put
 * there) skipped; anything else fails.  0 with *out malloc'd (NUL-
 * terminated, *outlen bytes before the NUL), or -1.
 */
int		 saml_b64_decode(const char *in, size_t inlen,
		    unsigned char **out, size_t *outlen);
/* 16 random bytes as base64url without padding (22 chars): 0 or -1. */
int		 saml_relay_token(char *out, size_t outlen);
/*
 * Is url fit to send a browser to after sign-in: an absolute http:// or
 * https:// URL with a host, no user info, no white space or control
 * characters, at most SAML_RETURN_URL_MAX bytes?  1 or 0.
 */
int		 saml_return_url_ok(const char *url);
/*
 * Refuse any document type declaration before any parser sees the
 * bytes: "<!DOCTYPE" and "<!ENTITY" in any case (XXE and entity
 * expansion; SAML never needs a DTD).  0, or -1 with why.
 */
int		 saml_xml_refuse_dtd(const unsigned char *xml, size_t len,
		    char *why, size_t whylen);
struct _xmlDoc;
/*
 * Parse xml with libxml2 without the network, entity substitution or
 * DTD loading, and refuse a document that has an internal or external
 * subset anyway.  The doc (free with xmlFreeDoc) or NULL with why.
 */
struct _xmlDoc	*saml_xml_parse(const unsigned char *xml, size_t len,
		    char *why, size_t whylen);
/* An xs:dateTime in UTC (SAML core 1.3.3) to time_t: 0 or -1. */
int		 saml_time_parse(const char *text, time_t *out);

/* What the checks hold the Response to. */
struct saml_expect {
	const char	*acs_url;	/* Destination and Recipient */
	const char	*sp_entity_id;	/* the Audience */
	const char	*idp_entity_id;	/* the Issuer */
	const char	*request_id;	/* InResponseTo; NULL: unsolicited */
	char *const	*verified_domains;	/* lower-cased */
	size_t		 nverified_domains;
	const char	*groups_attribute;	/* or NULL */
	int		 clock_skew;	/* seconds */
};

/* What the checks found in a Response that passed them. */
struct saml_facts {
	char		 assertion_id[SAML_ID_MAX];
	char		 name_id[512];
	time_t		 not_on_or_after;	/* Conditions' (or the
						   confirmation's) end */
	int		 response_signed;	/* a Signature on the root */
	int		 assertion_signed;	/* one on the Assertion */
	char		**groups;	/* groups_attribute values */
	size_t		 ngroups;
};

/*
 * The checks lasso leaves to us, on the parsed Response (saml_xml_parse):
 * one Response, exactly one Assertion (no EncryptedAssertion), unique
 * IDs, every Signature on the Response or the Assertion and referring to
 * its parent, Destination, Issuer, status, the bearer confirmation
 * (Recipient, time, InResponseTo), Conditions (time, every
 * AudienceRestriction naming us, nothing unknown), the NameID and its
 * domain among the verified ones, groups.  It does not verify signature
 * values (lasso does).  0 with *f filled (saml_facts_clear), or -1 with
 * why naming the failed check.
 */
int		 saml_check_response(struct _xmlDoc *,
		    const struct saml_expect *, time_t now,
		    struct saml_facts *f, char *why, size_t whylen);
void		 saml_facts_clear(struct saml_facts *);

/* saml_state.c */
#define SAML_REQUEST_TTL	600	/* seconds an AuthnRequest waits */
#define SAML_REQUESTS_MAX	65536	/* outstanding at once */
#define SAML_REPLAY_MAX		262144	/* assertion IDs remembered */

/*
 * Remember an outstanding AuthnRequest, started from client address
 * client (text, shorter than SAML_CLIENT_MAX; NULL: none), under its
 * RelayState token until expires.  When the table is full the oldest
 * request is dropped (a flood of sign-in starts must not lock everyone
 * out for good).  0 or -1 (out of memory, a token already in use, a
 * client too long).
 */
int		 saml_state_request_add(const char *token,
		    const char *request_id, const char *return_url,
		    const char *client, time_t expires, time_t now);
/*
 * Take (and forget: once only) the request token names, if it has not
 * expired.  0 with the request ID, the return URL and the client ("" when
 * it was added without one) copied out, -1 if there is no such request.
 */
int		 saml_state_request_take(const char *token, time_t now,
		    char *request_id, size_t idlen, char *return_url,
		    size_t urllen, char *client, size_t clientlen);
/*
 * Record an assertion ID until keep_until.  0 if it was new, 1 if it was
 * seen before (a replay), -1 if the cache is full of live entries (fail
 * closed) or out of memory.
 */
int		 saml_replay_add(const char *assertion_id, time_t keep_until,
		    time_t now);
/* Forget everything, and set the bounds (0: the defaults).  Tests. */
void		 saml_state_reset(size_t max_requests, size_t max_replay);
/* Entries held now, for tests and status. */
void		 saml_state_counts(size_t *requests, size_t *replay);

#ifdef PROXY_TESTING
/*
 * The ACS after the form and the RelayState: the decoded checks and the
 * signature for a SAMLResponse (base64) answering request_id, without
 * the replay cache when check_replay is 0.  For the bench, which
 * verifies one response many times.
 */
int		 saml_acs_response(struct saml_sp *, const struct conf_saml *,
		    const char *b64, size_t len, const char *request_id,
		    time_t now, int check_replay, struct saml_identity *id,
		    char *why, size_t whylen);
#endif

#endif
