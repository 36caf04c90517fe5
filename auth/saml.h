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
 * Start a sign-in for return_url (only an absolute http(s) URL; anything
 * else becomes the portal's own whoami page): a signed (RSA-SHA256)
 * AuthnRequest for the HTTP-Redirect binding.  The request ID and the
 * return URL are remembered server-side for the request's lifetime;
 * RelayState is only a short random token naming them.  0 and
 * *redirect (malloc'd URL for Location), or -1 with why.
 */
int		 saml_login_start(struct saml_sp *, const struct conf_saml *,
		    const char *return_url, time_t now, char **redirect,
		    char *why, size_t whylen);

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
 * RelayState, application/x-www-form-urlencoded).  Verifies the
 * signature (lasso) and every check lasso leaves to us; 0 with *id
 * filled, or -1 with why naming the failed check (for the log; never
 * the assertion itself).
 */
int		 saml_acs(struct saml_sp *, const struct conf_saml *,
		    const char *body, size_t len, time_t now,
		    struct saml_identity *id, char *why, size_t whylen);
void		 saml_identity_clear(struct saml_identity *);

#endif
