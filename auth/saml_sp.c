/*
 * The SAML 2.0 service provider on lasso: the provider built from the
 * saml section's files, our metadata, the AuthnRequest (HTTP-Redirect
 * binding, signed RSA-SHA256) and the assertion consumer service
 * (HTTP-POST binding).
 *
 * lasso verifies XML signatures and parses the protocol; the rest of the
 * ACS is ours, in this order, each step a rejection naming itself:
 *   the form and the RelayState (saml_check.c), strict base64, no DTD
 *   (a byte scan and a libxml2 parse that substitutes nothing), the
 *   outstanding request the RelayState names (taken once,
 *   saml_state.c), lasso with signature verification forced, our
 *   checks on the same bytes (saml_check_response), the assertion lasso
 *   read being the one we checked, and the replay cache.
 *
 * Locking: lasso objects and libxml2 documents are not shared between
 * threads, but a LassoServer is (its providers, keys and caches), so
 * every lasso call on a saml_sp holds sp->mtx.  The checks before lasso
 * run unlocked on the caller's own document.  Nothing here does I/O
 * except saml_sp_new() (the config load, on the main thread).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <lasso/lasso.h>
#include <lasso/id-ff/login.h>
#include <lasso/id-ff/profile.h>
#include <lasso/id-ff/server.h>
#include <lasso/xml/saml-2.0/samlp2_authn_request.h>
#include <lasso/xml/saml-2.0/samlp2_name_id_policy.h>
#include <lasso/xml/saml-2.0/samlp2_response.h>
#include <lasso/xml/saml-2.0/saml2_assertion.h>

#include "conf.h"
#include "saml.h"

#define SP_FILE_MAX	(1 << 20)	/* bytes of a key, cert or metadata */
#define NS_MD		"urn:oasis:names:tc:SAML:2.0:metadata"
#define NS_DSIG		"http://www.w3.org/2000/09/xmldsig#"
#define BIND_REDIRECT	"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
#define BIND_POST	"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
#define PROTO_SAML2	"urn:oasis:names:tc:SAML:2.0:protocol"
#define NIDF_EMAIL	"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
#define NIDF_UNSPEC	"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

struct saml_sp {
	pthread_mutex_t	 mtx;		/* around every lasso call */
	LassoServer	*server;
	char		*metadata;	/* ours, as handed to the IdP */
	size_t		 metadata_len;
	char		*idp_entity_id;
	char		 idp_host[256];	/* its SSO endpoint's */
	int		 idp_port;
};

static pthread_once_t	 sp_once = PTHREAD_ONCE_INIT;
static int		 sp_init_rc;

/*
 * lasso's warnings and criticals go nowhere: a forged response would
 * otherwise write a stderr line per try, and the reason we log is our
 * own (why).  DEBUG is deliberately not in the mask: a handler for it
 * makes GLib format every lasso debug message, about 3x the cost of a
 * verification.
 */
static void
sp_glog_drop(const gchar *domain, GLogLevelFlags level, const gchar *msg,
    gpointer arg)
{
}

/* Once per process: lasso (xmlsec, libxml2) and its log routing. */
static void
sp_init(void)
{
	g_log_set_handler("Lasso", G_LOG_LEVEL_WARNING |
	    G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO |
	    G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION, sp_glog_drop, NULL);
	sp_init_rc = lasso_init() == 0 ? 0 : -1;
}

/*
 * Read a whole file of at most SP_FILE_MAX bytes: a regular file; with
 * secret set, one that "other" cannot access.  The malloc'd,
 * NUL-terminated bytes, or NULL with why.
 */
static char *
sp_slurp(const char *opt, const char *path, int secret, size_t *lenp,
    char *why, size_t whylen)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	/* O_NONBLOCK: a FIFO must not hang a reload. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		saml_why(why, whylen, "%s %s: cannot open: %s", opt, path,
		    strerror(errno));
		return (NULL);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		saml_why(why, whylen, "%s %s: not a regular file", opt, path);
		goto fail;
	}
	if (secret && (st.st_mode & S_IRWXO)) {
		saml_why(why, whylen, "%s %s: others have access to it (mode "
		    "%04o); chmod o-rwx it", opt, path,
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size > SP_FILE_MAX) {
		saml_why(why, whylen, "%s %s: larger than %d bytes", opt, path,
		    SP_FILE_MAX);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		saml_why(why, whylen, "%s: out of memory", opt);
		goto fail;
	}
	while (len < (size_t)st.st_size) {
		r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			saml_why(why, whylen, "%s %s: read failed%s%s", opt,
			    path, r == 0 ? "" : ": ", r == 0 ? "" :
			    strerror(errno));
			goto fail;
		}
		len += (size_t)r;
	}
	if (len == 0) {
		saml_why(why, whylen, "%s %s: empty file", opt, path);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*lenp = len;
	return (buf);
 fail:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return (NULL);
}

/* Append s to the growing buffer *b, XML-escaped when esc is set. */
static int
sp_append(char **b, size_t *len, size_t *cap, const char *s, int esc)
{
	const char	*rep;
	char		 one[2] = { 0, 0 }, *nb;
	size_t		 rl;

	for (; *s != '\0'; s++) {
		rep = one;
		one[0] = *s;
		if (esc) {
			switch (*s) {
			case '&': rep = "&amp;"; break;
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '"': rep = "&quot;"; break;
			case '\'': rep = "&apos;"; break;
			}
		}
		rl = strlen(rep);
		if (*len + rl + 1 > *cap) {
			if ((nb = realloc(*b, *cap * 2 + rl + 64)) == NULL)
				return (-1);
			*b = nb;
			*cap = *cap * 2 + rl + 64;
		}
		memcpy(*b + *len, rep, rl);
		*len += rl;
		(*b)[*len] = '\0';
	}
	return (0);
}

/*
 * Our metadata (SAML metadata 2.4.4): an SPSSODescriptor that signs its
 * requests and wants signed assertions, our signing certificate, the
 * NameID formats we can use (an email address or UPN; unspecified lets
 * Entra send its default, the UPN) and the one ACS, HTTP-POST.
 */
static char *
sp_make_metadata(const struct conf_saml *s, X509 *cert, size_t *lenp)
{
	unsigned char	*der = NULL, *p;
	char		*b64 = NULL, *md = NULL;
	size_t		 len = 0, cap = 2048;
	int		 dlen, ok;

	if ((dlen = i2d_X509(cert, NULL)) <= 0 ||
	    (der = malloc((size_t)dlen)) == NULL)
		return (NULL);
	p = der;
	i2d_X509(cert, &p);
	if ((b64 = malloc(((size_t)dlen + 2) / 3 * 4 + 1)) == NULL)
		goto done;
	EVP_EncodeBlock((unsigned char *)b64, der, dlen);
	if ((md = malloc(cap)) == NULL)
		goto done;
	md[0] = '\0';
	ok = sp_append(&md, &len, &cap, "<?xml version=\"1.0\" encoding=\""
	    "UTF-8\"?>\n<md:EntityDescriptor xmlns:md=\"" NS_MD "\" "
	    "xmlns:ds=\"" NS_DSIG "\" entityID=\"", 0) == 0 &&
	    sp_append(&md, &len, &cap, s->sp_entity_id, 1) == 0 &&
	    sp_append(&md, &len, &cap, "\">\n  <md:SPSSODescriptor "
	    "AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" "
	    "protocolSupportEnumeration=\"" PROTO_SAML2 "\">\n"
	    "    <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data>"
	    "<ds:X509Certificate>", 0) == 0 &&
	    sp_append(&md, &len, &cap, b64, 0) == 0 &&
	    sp_append(&md, &len, &cap, "</ds:X509Certificate></ds:X509Data>"
	    "</ds:KeyInfo></md:KeyDescriptor>\n"
	    "    <md:NameIDFormat>" NIDF_EMAIL "</md:NameIDFormat>\n"
	    "    <md:NameIDFormat>" NIDF_UNSPEC "</md:NameIDFormat>\n"
	    "    <md:AssertionConsumerService Binding=\"" BIND_POST "\" "
	    "Location=\"", 0) == 0 &&
	    sp_append(&md, &len, &cap, s->acs_url, 1) == 0 &&
	    sp_append(&md, &len, &cap, "\" index=\"0\" isDefault=\"true\"/>"
	    "\n  </md:SPSSODescriptor>\n</md:EntityDescriptor>\n", 0) == 0;
	if (!ok) {
		free(md);
		md = NULL;
	} else
		*lenp = len;
 done:
	free(der);
	free(b64);
	return (md);
}

/* Is n the metadata element name? */
static int
sp_is(const xmlNode *n, const char *name)
{
	return (n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, NS_MD) == 0 &&
	    strcmp((const char *)n->name, name) == 0);
}

/* Collect the EntityDescriptors holding an IDPSSODescriptor, anywhere. */
static void
sp_find_idps(xmlNode *n, xmlNode **found, size_t *nfound)
{
	xmlNode	*c;

	for (; n != NULL; n = n->next) {
		if (sp_is(n, "EntityDescriptor")) {
			for (c = n->children; c != NULL; c = c->next)
				if (sp_is(c, "IDPSSODescriptor")) {
					if (*nfound < 2)
						found[*nfound] = n;
					(*nfound)++;
					break;
				}
		} else if (sp_is(n, "EntitiesDescriptor"))
			sp_find_idps(n->children, found, nfound);
	}
}

/*
 * The host and port of an http(s) URL, lower-cased; 0 or -1.  The IdP's
 * SSO endpoint must be reachable before sign-in, so the gateway needs it
 * by name.
 */
static int
sp_url_host(const char *url, char *host, size_t hostlen, int *port)
{
	const char	*h, *e, *colon;
	size_t		 len, i;
	long		 p;
	char		*end;

	if (strncasecmp(url, "https://", 8) == 0) {
		h = url + 8;
		*port = 443;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		h = url + 7;
		*port = 80;
	} else
		return (-1);
	e = h + strcspn(h, "/?#");
	if (memchr(h, '@', (size_t)(e - h)) != NULL)
		return (-1);
	if (*h == '[') {
		if ((colon = memchr(h, ']', (size_t)(e - h))) == NULL)
			return (-1);
		len = (size_t)(colon - h - 1);
		h++;
		colon++;
		if (colon < e && *colon != ':')
			return (-1);
	} else {
		colon = memchr(h, ':', (size_t)(e - h));
		len = (size_t)((colon != NULL ? colon : e) - h);
	}
	if (colon != NULL && colon < e && *colon == ':') {
		p = strtol(colon + 1, &end, 10);
		if (end != e || p < 1 || p > 65535)
			return (-1);
		*port = (int)p;
	}
	if (len == 0 || len >= hostlen)
		return (-1);
	for (i = 0; i < len; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[len] = '\0';
	return (0);
}

/*
 * Read the IdP's EntityDescriptor: exactly one IdP in the file, its
 * entityID, the HTTP-Redirect SSO endpoint and a signing certificate
 * (without one lasso could verify nothing).  The descriptor alone goes
 * to lasso as *one (malloc'd XML).
 */
static int
sp_idp_metadata(struct saml_sp *sp, const char *buf, size_t len,
    char **one, char *why, size_t whylen)
{
	xmlDoc		*doc = NULL, *nd = NULL;
	xmlNode		*found[2], *idp, *sso, *c, *kd;
	xmlChar		*dump = NULL, *v;
	size_t		 nfound = 0;
	int		 dlen, rc = -1, haskey = 0;
	char		 sub[256];

	*one = NULL;
	if (saml_xml_refuse_dtd((const unsigned char *)buf, len, sub,
	    sizeof(sub)) == -1 || (doc = saml_xml_parse((const unsigned
	    char *)buf, len, sub, sizeof(sub))) == NULL) {
		saml_why(why, whylen, "idp_metadata: %s", sub);
		return (-1);
	}
	sp_find_idps(xmlDocGetRootElement(doc), found, &nfound);
	if (nfound == 0) {
		saml_why(why, whylen, "idp_metadata: no identity provider (an "
		    "EntityDescriptor with an IDPSSODescriptor) in the file");
		goto done;
	}
	if (nfound > 1) {
		saml_why(why, whylen, "idp_metadata: two identity providers "
		    "configured at once (%zu in the file; keep one)", nfound);
		goto done;
	}
	idp = found[0];
	if ((v = xmlGetNoNsProp(idp, (const xmlChar *)"entityID")) == NULL ||
	    *v == '\0') {
		xmlFree(v);
		saml_why(why, whylen, "idp_metadata: the IdP has no entityID");
		goto done;
	}
	sp->idp_entity_id = strdup((char *)v);
	xmlFree(v);
	if (sp->idp_entity_id == NULL)
		goto nomem;
	for (sso = idp->children; sso != NULL; sso = sso->next)
		if (sp_is(sso, "IDPSSODescriptor"))
			break;
	for (kd = sso->children; kd != NULL; kd = kd->next) {
		if (!sp_is(kd, "KeyDescriptor"))
			continue;
		v = xmlGetNoNsProp(kd, (const xmlChar *)"use");
		if (v == NULL || strcmp((char *)v, "signing") == 0)
			haskey = 1;
		xmlFree(v);
	}
	if (!haskey) {
		saml_why(why, whylen, "idp_metadata: the IdP has no signing "
		    "key (KeyDescriptor)");
		goto done;
	}
	sp->idp_port = 0;
	for (c = sso->children; c != NULL; c = c->next) {
		if (!sp_is(c, "SingleSignOnService"))
			continue;
		v = xmlGetNoNsProp(c, (const xmlChar *)"Binding");
		if (v == NULL || strcmp((char *)v, BIND_REDIRECT) != 0) {
			xmlFree(v);
			continue;
		}
		xmlFree(v);
		v = xmlGetNoNsProp(c, (const xmlChar *)"Location");
		if (v == NULL || sp_url_host((char *)v, sp->idp_host,
		    sizeof(sp->idp_host), &sp->idp_port) == -1) {
			xmlFree(v);
			saml_why(why, whylen, "idp_metadata: the IdP's "
			    "HTTP-Redirect SingleSignOnService Location is not "
			    "an http(s) URL");
			goto done;
		}
		xmlFree(v);
		break;
	}
	if (sp->idp_port == 0) {
		saml_why(why, whylen, "idp_metadata: the IdP has no "
		    "SingleSignOnService with the HTTP-Redirect binding");
		goto done;
	}
	/* The one descriptor as its own document, namespaces and all. */
	if ((nd = xmlNewDoc((const xmlChar *)"1.0")) == NULL ||
	    (c = xmlDocCopyNode(idp, nd, 1)) == NULL)
		goto nomem;
	xmlDocSetRootElement(nd, c);
	xmlReconciliateNs(nd, c);
	xmlDocDumpMemory(nd, &dump, &dlen);
	if (dump == NULL || (*one = strdup((char *)dump)) == NULL)
		goto nomem;
	rc = 0;
	goto done;
 nomem:
	saml_why(why, whylen, "idp_metadata: out of memory");
 done:
	xmlFree(dump);
	if (nd != NULL)
		xmlFreeDoc(nd);
	xmlFreeDoc(doc);
	return (rc);
}

struct saml_sp *
saml_sp_new(const struct conf_saml *s, char *why, size_t whylen)
{
	struct saml_sp	*sp;
	char		*key = NULL, *cert = NULL, *idp = NULL, *one = NULL;
	size_t		 klen = 0, clen = 0, ilen = 0;
	BIO		*bio;
	EVP_PKEY	*pk = NULL;
	X509		*x = NULL;
	lasso_error_t	 lrc;

	pthread_once(&sp_once, sp_init);
	if (sp_init_rc == -1) {
		saml_why(why, whylen, "sp_key: lasso failed to initialise");
		return (NULL);
	}
	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		saml_why(why, whylen, "sp_key: out of memory");
		return (NULL);
	}
	pthread_mutex_init(&sp->mtx, NULL);
	if ((key = sp_slurp("sp_key", s->sp_key, 1, &klen, why,
	    whylen)) == NULL || (cert = sp_slurp("sp_cert", s->sp_cert, 0,
	    &clen, why, whylen)) == NULL || (idp = sp_slurp("idp_metadata",
	    s->idp_metadata, 0, &ilen, why, whylen)) == NULL)
		goto fail;

	/* Parse both PEMs ourselves: lasso's errors say little. */
	if ((bio = BIO_new_mem_buf(key, (int)klen)) == NULL)
		goto nomem;
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (pk == NULL) {
		saml_why(why, whylen, "sp_key %s: not a PEM private key (or "
		    "encrypted)", s->sp_key);
		goto fail;
	}
	/* AuthnRequests are signed RSA-SHA256 (SAML bindings 3.4.4.1). */
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		saml_why(why, whylen, "sp_key %s: not an RSA key", s->sp_key);
		goto fail;
	}
	if ((bio = BIO_new_mem_buf(cert, (int)clen)) == NULL)
		goto nomem;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL) {
		saml_why(why, whylen, "sp_cert %s: not a PEM certificate",
		    s->sp_cert);
		goto fail;
	}
	if (X509_check_private_key(x, pk) != 1) {
		saml_why(why, whylen, "sp_key %s: does not match sp_cert %s",
		    s->sp_key, s->sp_cert);
		goto fail;
	}
	if ((sp->metadata = sp_make_metadata(s, x, &sp->metadata_len)) ==
	    NULL)
		goto nomem;
	if (sp_idp_metadata(sp, idp, ilen, &one, why, whylen) == -1)
		goto fail;

	/*
	 * No certificate for lasso: the HTTP-Redirect binding signs the
	 * query (bindings 3.4.4.1) and carries no KeyInfo, and lasso
	 * 2.8 with xmlsec 1.2.37 leaks a BIO each time it loads a
	 * certificate given as text (it tries it as a file name first).
	 * Our metadata carries the certificate for the IdP.
	 */
	sp->server = lasso_server_new_from_buffers(sp->metadata, key, NULL,
	    NULL);
	if (sp->server == NULL) {
		saml_why(why, whylen, "sp_key: lasso refused our key, "
		    "certificate or metadata");
		goto fail;
	}
	/* lasso's default is RSA-SHA1. */
	sp->server->signature_method = LASSO_SIGNATURE_METHOD_RSA_SHA256;
	lrc = lasso_server_add_provider_from_buffer(sp->server,
	    LASSO_PROVIDER_ROLE_IDP, one, NULL, NULL);
	if (lrc != 0 || g_hash_table_lookup(sp->server->providers,
	    sp->idp_entity_id) == NULL) {
		saml_why(why, whylen, "idp_metadata %s: lasso refused it: %s",
		    s->idp_metadata, lrc != 0 ? lasso_strerror(lrc) :
		    "entityID not registered");
		goto fail;
	}
	goto done;
 nomem:
	saml_why(why, whylen, "sp_key: out of memory");
 fail:
	saml_sp_free(sp);
	sp = NULL;
 done:
	if (key != NULL) {
		explicit_bzero(key, klen);
		free(key);
	}
	free(cert);
	free(idp);
	free(one);
	EVP_PKEY_free(pk);
	X509_free(x);
	return (sp);
}

void
saml_sp_free(struct saml_sp *sp)
{
	if (sp == NULL)
		return;
	if (sp->server != NULL)
		g_object_unref(sp->server);
	free(sp->metadata);
	free(sp->idp_entity_id);
	pthread_mutex_destroy(&sp->mtx);
	free(sp);
}

char *
saml_sp_metadata(struct saml_sp *sp, size_t *len)
{
	char	*md;

	if ((md = malloc(sp->metadata_len + 1)) == NULL)
		return (NULL);
	memcpy(md, sp->metadata, sp->metadata_len + 1);
	*len = sp->metadata_len;
	return (md);
}

int
saml_sp_idp_sso(struct saml_sp *sp, char *host, size_t hostlen, int *port)
{
	if (strlen(sp->idp_host) >= hostlen)
		return (-1);
	memcpy(host, sp->idp_host, strlen(sp->idp_host) + 1);
	*port = sp->idp_port;
	return (0);
}

int
saml_login_start(struct saml_sp *sp, const struct conf_saml *s,
    const char *return_url, const char *client, time_t now, char **redirect,
    char *why, size_t whylen)
{
	LassoLogin		*login;
	LassoProfile		*prof;
	LassoSamlp2AuthnRequest	*req;
	char			 token[32], url[SAML_RETURN_URL_MAX + 64];
	char			*id = NULL, *loc = NULL;
	lasso_error_t		 lrc;
	int			 rc = -1;

	*redirect = NULL;
	/* No open redirect (mellon am_check_url): see saml_return_url_ok. */
	if (return_url != NULL && saml_return_url_ok(return_url))
		snprintf(url, sizeof(url), "%s", return_url);
	else
		snprintf(url, sizeof(url), "%s/iaproxy/whoami", s->portal);
	if (saml_relay_token(token, sizeof(token)) == -1) {
		saml_why(why, whylen, "no random bytes for the RelayState");
		return (-1);
	}

	pthread_mutex_lock(&sp->mtx);
	if ((login = lasso_login_new(sp->server)) == NULL) {
		pthread_mutex_unlock(&sp->mtx);
		saml_why(why, whylen, "lasso: out of memory");
		return (-1);
	}
	prof = LASSO_PROFILE(login);
	lrc = lasso_login_init_authn_request(login, sp->idp_entity_id,
	    LASSO_HTTP_METHOD_REDIRECT);
	if (lrc != 0) {
		saml_why(why, whylen, "AuthnRequest: %s", lasso_strerror(lrc));
		goto done;
	}
	req = LASSO_SAMLP2_AUTHN_REQUEST(prof->request);
	/*
	 * Let the IdP create the user's identifier (core 3.4.1.1) in the
	 * format it is configured for: Entra's default is the UPN, Okta's
	 * the email; both are user@domain, which is what we check.
	 */
	if (req->NameIDPolicy != NULL) {
		g_free(req->NameIDPolicy->Format);
		req->NameIDPolicy->Format = g_strdup(NIDF_UNSPEC);
		req->NameIDPolicy->AllowCreate = TRUE;
	}
	req->ForceAuthn = FALSE;
	req->IsPassive = FALSE;
	g_free(req->ProtocolBinding);
	req->ProtocolBinding = g_strdup(BIND_POST);
	g_free(req->AssertionConsumerServiceURL);
	req->AssertionConsumerServiceURL = g_strdup(s->acs_url);
	req->AssertionConsumerServiceIndex = -1;
	g_free(prof->msg_relayState);
	prof->msg_relayState = g_strdup(token);
	if ((lrc = lasso_login_build_authn_request_msg(login)) != 0 ||
	    prof->msg_url == NULL) {
		saml_why(why, whylen, "AuthnRequest: %s", lrc != 0 ?
		    lasso_strerror(lrc) : "no URL");
		goto done;
	}
	if (LASSO_SAMLP2_REQUEST_ABSTRACT(req)->ID == NULL ||
	    (id = strdup(LASSO_SAMLP2_REQUEST_ABSTRACT(req)->ID)) == NULL ||
	    (loc = strdup(prof->msg_url)) == NULL) {
		saml_why(why, whylen, "AuthnRequest: out of memory");
		goto done;
	}
	rc = 0;
 done:
	g_object_unref(login);
	pthread_mutex_unlock(&sp->mtx);
	if (rc == 0 && saml_state_request_add(token, id, url, client,
	    now + SAML_REQUEST_TTL, now) == -1) {
		saml_why(why, whylen, "AuthnRequest: cannot remember the "
		    "request");
		rc = -1;
	}
	free(id);
	if (rc == 0)
		*redirect = loc;
	else
		free(loc);
	explicit_bzero(token, sizeof(token));
	return (rc);
}

/*
 * user from the NameID: "alice@example.test" with domain_map
 * "example.test=EXAMPLE" becomes "EXAMPLE\alice", so one policy names a
 * user whether Kerberos, NTLM or SAML signed them in; else the NameID.
 */
static void
sp_map_user(const struct conf_saml *s, const char *nameid, char *user,
    size_t len)
{
	if (conf_realm_map(s->domain_map, s->ndomain_map, nameid, user,
	    len) != 1)
		snprintf(user, len, "%s", nameid);
}

/*
 * The decoded Response through lasso and our checks; the identity is
 * filled but for return_url.  check_replay 0 skips the replay cache.
 */
static int
sp_verify(struct saml_sp *sp, const struct conf_saml *s, const char *b64,
    size_t b64len, const char *request_id, time_t now, int check_replay,
    struct saml_identity *id, char *why, size_t whylen)
{
	struct saml_expect	 e;
	struct saml_facts	 f;
	LassoLogin		*login = NULL;
	LassoSamlp2Response	*resp;
	LassoSaml2Assertion	*a;
	unsigned char		*xml = NULL;
	xmlDoc			*doc = NULL;
	char			*msg = NULL;
	size_t			 xlen, i;
	time_t			 keep;
	lasso_error_t		 lrc;
	int			 rc = -1, ok, r, sigst;

	memset(&f, 0, sizeof(f));
	if (saml_b64_decode(b64, b64len, &xml, &xlen) == -1) {
		saml_why(why, whylen, "base64: SAMLResponse is not base64");
		return (-1);
	}
	/* No DTD, twice: as bytes, then as libxml2 sees the document. */
	if (saml_xml_refuse_dtd(xml, xlen, why, whylen) == -1 ||
	    (doc = saml_xml_parse(xml, xlen, why, whylen)) == NULL)
		goto done;

	/* lasso takes the base64 text; give it ours, NUL-terminated. */
	if ((msg = strndup(b64, b64len)) == NULL) {
		saml_why(why, whylen, "out of memory");
		goto done;
	}
	pthread_mutex_lock(&sp->mtx);
	if ((login = lasso_login_new(sp->server)) == NULL) {
		pthread_mutex_unlock(&sp->mtx);
		saml_why(why, whylen, "lasso: out of memory");
		goto done;
	}
	/*
	 * Signatures.  FORCE would make lasso demand a signed Response, but
	 * Entra signs only the Assertion by default.  With MAYBE, lasso
	 * verifies the Response's signature when there is one (its result
	 * in signature_status) and, when the Response's is missing or bad,
	 * requires a valid signature on each Assertion or fails.  On top:
	 * a Response that carries a Signature must have verified (below),
	 * and saml_check_response() requires a Signature on the Response
	 * or the Assertion, referring to it.
	 */
	lasso_profile_set_signature_verify_hint(LASSO_PROFILE(login),
	    LASSO_PROFILE_SIGNATURE_VERIFY_HINT_MAYBE);
	lrc = lasso_login_process_authn_response_msg(login, msg);
	sigst = LASSO_PROFILE(login)->signature_status;
	ok = lrc == 0 &&
	    LASSO_IS_SAMLP2_RESPONSE(LASSO_PROFILE(login)->response);
	if (!ok) {
		saml_why(why, whylen, "signature: lasso refused the response: "
		    "%s", lrc != 0 ? lasso_strerror(lrc) : "not a Response");
		pthread_mutex_unlock(&sp->mtx);
		goto done;
	}
	/*
	 * The assertion lasso verified must be the one we check: same ID
	 * (IDs are unique in the document, saml_check_response), and only
	 * one.
	 */
	resp = LASSO_SAMLP2_RESPONSE(LASSO_PROFILE(login)->response);
	a = resp->Assertion != NULL && resp->Assertion->next == NULL &&
	    LASSO_IS_SAML2_ASSERTION(resp->Assertion->data) ?
	    LASSO_SAML2_ASSERTION(resp->Assertion->data) : NULL;
	memset(&e, 0, sizeof(e));
	e.acs_url = s->acs_url;
	e.sp_entity_id = s->sp_entity_id;
	e.idp_entity_id = sp->idp_entity_id;
	e.request_id = request_id;
	e.verified_domains = s->verified_domains;
	e.nverified_domains = s->nverified_domains;
	e.groups_attribute = s->groups_attribute;
	e.clock_skew = s->clock_skew;
	r = saml_check_response(doc, &e, now, &f, why, whylen);
	if (r == 0 && f.response_signed && sigst != 0) {
		saml_why(why, whylen, "signature: the Response's signature "
		    "does not verify: %s", lasso_strerror(sigst));
		r = -1;
	} else if (r == 0 && !f.response_signed && !f.assertion_signed) {
		saml_why(why, whylen, "signature: nothing is signed");
		r = -1;
	}
	if (r == 0 && (a == NULL || a->ID == NULL ||
	    strcmp(a->ID, f.assertion_id) != 0)) {
		saml_why(why, whylen, "signature: the assertion lasso verified "
		    "is not the one in the document");
		r = -1;
	}
	pthread_mutex_unlock(&sp->mtx);
	if (r == -1)
		goto done;

	if (check_replay) {
		keep = f.not_on_or_after + s->clock_skew;
		if (keep < now + s->session_max)
			keep = now + s->session_max;
		r = saml_replay_add(f.assertion_id, keep, now);
		if (r != 0) {
			saml_why(why, whylen, r == 1 ? "replay: assertion %.100s "
			    "was used before" : "replay: the replay cache is "
			    "full (%.100s refused)", f.assertion_id);
			goto done;
		}
	}
	snprintf(id->name_id, sizeof(id->name_id), "%s", f.name_id);
	sp_map_user(s, f.name_id, id->user, sizeof(id->user));
	id->not_on_or_after = f.not_on_or_after;
	id->groups = f.groups;
	id->ngroups = f.ngroups;
	f.groups = NULL;
	f.ngroups = 0;
	rc = 0;
 done:
	if (login != NULL) {
		pthread_mutex_lock(&sp->mtx);
		g_object_unref(login);
		pthread_mutex_unlock(&sp->mtx);
	}
	if (doc != NULL)
		xmlFreeDoc(doc);
	if (xml != NULL) {
		explicit_bzero(xml, xlen);
		free(xml);
	}
	free(msg);
	for (i = 0; i < f.ngroups; i++)
		free(f.groups[i]);
	free(f.groups);
	return (rc);
}

/*
 * The 16 bytes of the address text a, IPv4 in its IPv4-mapped IPv6 form
 * (RFC 4291 section 2.5.5.2) as session.c keys it: 0, or -1 when a is
 * not an IP address.
 */
static int
sp_client_key(const char *a, unsigned char key[16])
{
	struct in_addr	v4;

	if (inet_pton(AF_INET, a, &v4) == 1) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &v4, 4);
		return (0);
	}
	return (inet_pton(AF_INET6, a, key) == 1 ? 0 : -1);
}

/*
 * Did the form come from the address the sign-in started from?  Compared
 * as addresses, so that "192.0.2.1" and "::ffff:192.0.2.1" (a plain and
 * a dual-stack listener) are one machine even if a caller did not write
 * them alike; anything else (a request added without a client is "")
 * only as the same text.
 */
static int
sp_same_client(const char *started, const char *posted)
{
	unsigned char	a[16], b[16];

	if (sp_client_key(started, a) == 0 && sp_client_key(posted, b) == 0)
		return (memcmp(a, b, sizeof(a)) == 0);
	return (strcmp(started, posted) == 0);
}

int
saml_acs(struct saml_sp *sp, const struct conf_saml *s, const char *body,
    size_t len, const char *client, time_t now, struct saml_identity *id,
    char *why, size_t whylen)
{
	char	*response = NULL, *relay = NULL;
	char	 reqid[SAML_ID_MAX], started[SAML_CLIENT_MAX];
	int	 rc = -1;

	memset(id, 0, sizeof(*id));
	if (saml_form_parse(body, len, &response, &relay, why, whylen) == -1)
		return (-1);
	/*
	 * The request is taken (used up) before lasso: a second Response
	 * for it, or a race of two, finds nothing.
	 */
	if (strlen(relay) > 64 || saml_state_request_take(relay, now, reqid,
	    sizeof(reqid), id->return_url, sizeof(id->return_url), started,
	    sizeof(started)) == -1) {
		saml_why(why, whylen, "InResponseTo: unsolicited response (the "
		    "RelayState names no outstanding request)");
		goto done;
	}
	/*
	 * A valid form for the attacker's own account, posted by a victim's
	 * browser (login CSRF), would bind the victim's address to the
	 * attacker: only the address that asked for the sign-in may finish
	 * it.  Checked before lasso: such a form is not worth verifying, and
	 * its request is used up all the same.
	 */
	if (client != NULL && !sp_same_client(started, client)) {
		saml_why(why, whylen, "the sign-in was started from another "
		    "address (%s)", started[0] != '\0' ? started : "none");
		goto done;
	}
	rc = sp_verify(sp, s, response, strlen(response), reqid, now, 1, id,
	    why, whylen);
 done:
	if (rc == -1)
		saml_identity_clear(id);
	free(response);
	free(relay);
	return (rc);
}

#ifdef PROXY_TESTING
int
saml_acs_response(struct saml_sp *sp, const struct conf_saml *s,
    const char *b64, size_t len, const char *request_id, time_t now,
    int check_replay, struct saml_identity *id, char *why, size_t whylen)
{
	memset(id, 0, sizeof(*id));
	if (sp_verify(sp, s, b64, len, request_id, now, check_replay, id,
	    why, whylen) == -1) {
		saml_identity_clear(id);
		return (-1);
	}
	return (0);
}
#endif

void
saml_identity_clear(struct saml_identity *id)
{
	size_t	i;

	for (i = 0; i < id->ngroups; i++)
		free(id->groups[i]);
	free(id->groups);
	explicit_bzero(id, sizeof(*id));
}
