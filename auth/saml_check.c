/*
 * The checks on a SAML Response that lasso leaves to us, and what comes
 * before lasso at the ACS: the form, base64, the DTD refusal.
 *
 * Everything here is a pure function of its input and a clock: no lasso,
 * no global state, so the unit tests and the fuzzer drive it with
 * hand-written documents.  Signature values are lasso's job
 * (saml_sp.c); what is checked here is everything around them that
 * makes a verified signature mean what we think it means (signature
 * wrapping: which element is signed, and is it the one we read), plus
 * the Web Browser SSO profile's rules (SAML profiles 4.1.4.3) that lasso
 * does not enforce when the LassoLogin that processes the Response is
 * not the one that sent the request: Destination, Recipient, the bearer
 * confirmation's time and InResponseTo, audience, and replay (the
 * latter in saml_state.c).  Mellon's am_validate_* are the model.
 *
 * Every rejection names its check in why, for the log.  Nothing from the
 * assertion goes into why but IDs and times.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "saml.h"

#define NS_SAMLP	"urn:oasis:names:tc:SAML:2.0:protocol"
#define NS_SAML		"urn:oasis:names:tc:SAML:2.0:assertion"
#define NS_DS		"http://www.w3.org/2000/09/xmldsig#"
#define CM_BEARER	"urn:oasis:names:tc:SAML:2.0:cm:bearer"
#define ST_SUCCESS	"urn:oasis:names:tc:SAML:2.0:status:Success"
#define SAML_GROUPS_MAX	1024	/* values of the groups attribute */
#define SAML_GROUP_LEN	512	/* bytes of one group name */
#define SAML_IDS_MAX	4096	/* ID attributes in one document */

static int	 check_is(const xmlNode *, const char *, const char *);
static xmlNode	*check_child(xmlNode *, const char *, const char *);
static size_t	 check_count(xmlNode *, const char *, const char *);
static int	 check_ids(xmlNode *, char **, size_t *, char *, size_t);
static int	 check_text_ok(const char *, size_t);
static int	 check_signatures(xmlNode *, xmlNode *, xmlNode *,
		    struct saml_facts *, char *, size_t);
static int	 check_time_attr(xmlNode *, const char *, time_t *, int,
		    const char *, char *, size_t);
static int	 check_bearer(xmlNode *, const struct saml_expect *, time_t,
		    time_t *, char *, size_t);
static int	 check_conditions(xmlNode *, const struct saml_expect *,
		    time_t, time_t *, char *, size_t);
static int	 check_name_id(xmlNode *, const struct saml_expect *,
		    struct saml_facts *, char *, size_t);
static int	 check_groups(xmlNode *, const char *, struct saml_facts *,
		    char *, size_t);
static int	 check_issuer(xmlNode *, const char *, int, const char *,
		    char *, size_t);
static int	 check_b64val(int);

void
saml_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list	ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* The value of one hex digit, or -1. */
static int
check_hex(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

char *
saml_form_value(const char *s, size_t len)
{
	char	*out, *o;
	size_t	 i;
	int	 hi, lo;

	if ((out = malloc(len + 1)) == NULL)
		return (NULL);
	for (i = 0, o = out; i < len; i++) {
		if (s[i] == '+')
			*o++ = ' ';
		else if (s[i] == '%') {
			if (i + 2 >= len || (hi = check_hex((unsigned char)
			    s[i + 1])) == -1 || (lo = check_hex((unsigned char)
			    s[i + 2])) == -1 || (hi == 0 && lo == 0))
				goto bad;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '\0')
			goto bad;
		else
			*o++ = s[i];
	}
	*o = '\0';
	return (out);
 bad:
	free(out);
	errno = EINVAL;
	return (NULL);
}

int
saml_form_parse(const char *body, size_t len, char **response, char **relay,
    char *why, size_t whylen)
{
	const char	*p = body, *end = body + len, *amp, *eq;
	char		**slot, *name = NULL;
	size_t		 nlen;

	*response = *relay = NULL;
	if (len > SAML_FORM_MAX) {
		saml_why(why, whylen, "form: body of %zu bytes is over the "
		    "limit (%d)", len, SAML_FORM_MAX);
		return (-1);
	}
	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		if ((name = saml_form_value(p, (size_t)(eq - p))) == NULL) {
			saml_why(why, whylen, "form: bad field name "
			    "encoding");
			goto fail;
		}
		nlen = strlen(name);
		slot = NULL;
		if (nlen == 12 && strcmp(name, "SAMLResponse") == 0)
			slot = response;
		else if (nlen == 10 && strcmp(name, "RelayState") == 0)
			slot = relay;
		if (slot != NULL) {
			if (*slot != NULL) {
				saml_why(why, whylen, "form: %s given twice",
				    name);
				goto fail;
			}
			if ((*slot = saml_form_value(eq < amp ? eq + 1 : eq,
			    eq < amp ? (size_t)(amp - eq - 1) : 0)) == NULL) {
				saml_why(why, whylen, "form: bad encoding of "
				    "%s", name);
				goto fail;
			}
		}
		free(name);
		name = NULL;
		p = amp < end ? amp + 1 : end;
	}
	if (*response == NULL || **response == '\0') {
		saml_why(why, whylen, "form: SAMLResponse is missing");
		goto fail;
	}
	if (*relay == NULL || **relay == '\0') {
		saml_why(why, whylen, "form: RelayState is missing "
		    "(unsolicited responses are not accepted)");
		goto fail;
	}
	return (0);
 fail:
	free(name);
	free(*response);
	free(*relay);
	*response = *relay = NULL;
	return (-1);
}

/* The 6-bit value of a base64 character (RFC 4648 table 1), or -1. */
static int
check_b64val(int c)
{
	static const char	 alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*p;

	if (c == '\0' || (p = strchr(alphabet, c)) == NULL)
		return (-1);
	return ((int)(p - alphabet));
}

int
saml_b64_decode(const char *in, size_t inlen, unsigned char **out,
    size_t *outlen)
{
	unsigned char	*buf;
	uint32_t	 acc = 0;
	size_t		 i, n = 0, nchar = 0, npad = 0;
	int		 v;

	*out = NULL;
	*outlen = 0;
	if ((buf = malloc(inlen / 4 * 3 + 4)) == NULL)
		return (-1);
	for (i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];

		/* The POST binding's form may wrap lines (bindings 3.5.4). */
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			npad++;
			continue;
		}
		/* Nothing but white space after the padding. */
		if (npad > 0 || (v = check_b64val(c)) == -1)
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		if (++nchar % 4 == 0) {
			buf[n++] = (unsigned char)(acc >> 16);
			buf[n++] = (unsigned char)(acc >> 8);
			buf[n++] = (unsigned char)acc;
			acc = 0;
		}
	}
	/* Padding, when given, completes the last group exactly. */
	switch (nchar % 4) {
	case 0:
		if (npad != 0)
			goto bad;
		break;
	case 1:
		goto bad;
	case 2:
		if ((npad != 0 && npad != 2) || (acc & 0xf) != 0)
			goto bad;
		buf[n++] = (unsigned char)(acc >> 4);
		break;
	case 3:
		if ((npad != 0 && npad != 1) || (acc & 0x3) != 0)
			goto bad;
		buf[n++] = (unsigned char)(acc >> 10);
		buf[n++] = (unsigned char)(acc >> 2);
		break;
	}
	if (n == 0)
		goto bad;
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return (0);
 bad:
	free(buf);
	return (-1);
}

int
saml_relay_token(char *out, size_t outlen)
{
	static const char	 b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char		 rnd[16];
	uint32_t		 acc = 0;
	size_t			 i, n = 0, bits = 0;

	if (outlen < 23 || RAND_bytes(rnd, sizeof(rnd)) != 1)
		return (-1);
	for (i = 0; i < sizeof(rnd); i++) {
		acc = acc << 8 | rnd[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = b64url[(acc >> bits) & 0x3f];
		}
	}
	if (bits > 0)
		out[n++] = b64url[(acc << (6 - bits)) & 0x3f];
	out[n] = '\0';
	return (0);
}

int
saml_return_url_ok(const char *url)
{
	const char	*p, *auth, *aend;
	size_t		 len, i;

	if (url == NULL || (len = strlen(url)) > SAML_RETURN_URL_MAX)
		return (0);
	/* No controls, spaces or bytes a header could be split with. */
	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f ||
		    url[i] == '\\')
			return (0);
	if (strncasecmp(url, "http://", 7) == 0)
		auth = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		auth = url + 8;
	else
		return (0);
	aend = auth + strcspn(auth, "/?#");
	if (aend == auth)
		return (0);
	/* user info (RFC 3986 3.2.1) names one host and goes to another. */
	for (p = auth; p < aend; p++)
		if (*p == '@')
			return (0);
	/* A host, not just a port. */
	if (*auth == ':')
		return (0);
	return (1);
}

int
saml_xml_refuse_dtd(const unsigned char *xml, size_t len, char *why,
    size_t whylen)
{
	static const char *const	 bad[] = { "<!DOCTYPE", "<!ENTITY" };
	size_t				 i, j, k, blen;

	for (i = 0; i < len; i++) {
		if (xml[i] != '<')
			continue;
		for (k = 0; k < 2; k++) {
			blen = strlen(bad[k]);
			if (len - i < blen)
				continue;
			for (j = 1; j < blen; j++)
				if (toupper(xml[i + j]) != bad[k][j])
					break;
			if (j == blen) {
				saml_why(why, whylen, "DTD: the response "
				    "holds a document type or entity "
				    "declaration");
				return (-1);
			}
		}
	}
	return (0);
}

xmlDoc *
saml_xml_parse(const unsigned char *xml, size_t len, char *why,
    size_t whylen)
{
	xmlDoc	*doc;

	if (len > INT_MAX) {
		saml_why(why, whylen, "XML: too large");
		return (NULL);
	}
	/*
	 * No XML_PARSE_NOENT (which would substitute entities), no
	 * DTDLOAD/DTDATTR, no network; XML_PARSE_NONET on top.  NOBLANKS is
	 * not used: white space is part of what was signed.
	 */
	doc = xmlReadMemory((const char *)xml, (int)len, "saml.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	    XML_PARSE_NOCDATA);
	if (doc == NULL) {
		saml_why(why, whylen, "XML: the response is not well-formed");
		return (NULL);
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		xmlFreeDoc(doc);
		saml_why(why, whylen, "DTD: the response has a document type "
		    "declaration");
		return (NULL);
	}
	if (xmlDocGetRootElement(doc) == NULL) {
		xmlFreeDoc(doc);
		saml_why(why, whylen, "XML: no root element");
		return (NULL);
	}
	return (doc);
}

int
saml_time_parse(const char *text, time_t *out)
{
	struct tm	 tm;
	const char	*s = text;
	int		 v[6], i, w;
	static const int widths[6] = { 4, 2, 2, 2, 2, 2 };
	static const char seps[6] = { '-', '-', 'T', ':', ':', '\0' };

	if (text == NULL)
		return (-1);
	for (i = 0; i < 6; i++) {
		v[i] = 0;
		for (w = 0; w < widths[i]; w++, s++) {
			if (*s < '0' || *s > '9')
				return (-1);
			v[i] = v[i] * 10 + (*s - '0');
		}
		if (seps[i] != '\0' && *s++ != seps[i])
			return (-1);
	}
	/* Fractions of a second are allowed and dropped. */
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return (-1);
		while (*s >= '0' && *s <= '9')
			s++;
	}
	/* SAML core 1.3.3: UTC, written with "Z", no other zone. */
	if (s[0] != 'Z' || s[1] != '\0')
		return (-1);
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 ||
	    v[3] > 23 || v[4] > 59 || v[5] > 60)
		return (-1);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	*out = timegm(&tm);
	return (0);
}

/* Is n the element ns:name? */
static int
check_is(const xmlNode *n, const char *ns, const char *name)
{
	return (n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    n->ns->href != NULL && strcmp((const char *)n->name, name) == 0 &&
	    strcmp((const char *)n->ns->href, ns) == 0);
}

/* The first child element ns:name of n, or NULL. */
static xmlNode *
check_child(xmlNode *n, const char *ns, const char *name)
{
	xmlNode	*c;

	for (c = n->children; c != NULL; c = c->next)
		if (check_is(c, ns, name))
			return (c);
	return (NULL);
}

/* How many ns:name elements are at or under n, anywhere. */
static size_t
check_count(xmlNode *n, const char *ns, const char *name)
{
	size_t	 count = 0;
	xmlNode	*c;

	for (c = n; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (check_is(c, ns, name))
			count++;
		if (c->children != NULL)
			count += check_count(c->children, ns, name);
	}
	return (count);
}

/* An attribute without namespace as a string (free with xmlFree). */
static char *
check_attr(xmlNode *n, const char *name)
{
	return ((char *)xmlGetNoNsProp(n, (const xmlChar *)name));
}

/* Printable (no control characters) and not empty? */
static int
check_text_ok(const char *s, size_t max)
{
	size_t	i;

	if (s == NULL || *s == '\0')
		return (0);
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return (0);
	return (i < max);
}

/*
 * Every ID attribute in the document, which must be unique: XML
 * Signature resolves "#ID" by ID, and with two elements of one ID the
 * verifier and we could read different ones.
 */
static int
check_ids(xmlNode *n, char **ids, size_t *nids, char *why, size_t whylen)
{
	xmlNode	*c;
	xmlAttr	*a;
	char	*v;
	size_t	 i;

	for (c = n; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		for (a = c->properties; a != NULL; a = a->next) {
			if (a->ns != NULL || strcmp((const char *)a->name,
			    "ID") != 0)
				continue;
			if ((v = (char *)xmlNodeGetContent((xmlNode *)a)) ==
			    NULL)
				return (-1);
			for (i = 0; i < *nids; i++)
				if (strcmp(ids[i], v) == 0) {
					xmlFree(v);
					saml_why(why, whylen, "signature: "
					    "two elements with one ID");
					return (-1);
				}
			if (*nids == SAML_IDS_MAX) {
				xmlFree(v);
				saml_why(why, whylen, "XML: too many IDs");
				return (-1);
			}
			ids[(*nids)++] = v;
		}
		if (c->children != NULL &&
		    check_ids(c->children, ids, nids, why, whylen) == -1)
			return (-1);
	}
	return (0);
}

/*
 * Signature wrapping.  Every ds:Signature must sit directly in the
 * Response or the Assertion and carry one Reference whose URI is "#" and
 * its parent's ID (SAML core 5.4.2: enveloped, referring to the ID of
 * the element it signs).  So what lasso verified is exactly the element
 * we read below, and at least one of the two is signed.
 */
static int
check_signatures(xmlNode *root, xmlNode *resp, xmlNode *assertion,
    struct saml_facts *f, char *why, size_t whylen)
{
	size_t	 total, found = 0;
	xmlNode	*parents[2] = { resp, assertion }, *sig, *si, *ref, *c;
	char	*id, *uri;
	int	 i, nref, ok;

	total = check_count(root, NS_DS, "Signature");
	for (i = 0; i < 2; i++) {
		for (sig = parents[i]->children; sig != NULL;
		    sig = sig->next) {
			if (!check_is(sig, NS_DS, "Signature"))
				continue;
			found++;
			if ((si = check_child(sig, NS_DS, "SignedInfo")) ==
			    NULL) {
				saml_why(why, whylen, "signature: no "
				    "SignedInfo");
				return (-1);
			}
			nref = 0;
			ref = NULL;
			for (c = si->children; c != NULL; c = c->next)
				if (check_is(c, NS_DS, "Reference")) {
					nref++;
					ref = c;
				}
			if (nref != 1) {
				saml_why(why, whylen, "signature: %d "
				    "References, not one", nref);
				return (-1);
			}
			id = check_attr(parents[i], "ID");
			uri = check_attr(ref, "URI");
			ok = id != NULL && uri != NULL && uri[0] == '#' &&
			    strcmp(uri + 1, id) == 0;
			xmlFree(id);
			xmlFree(uri);
			if (!ok) {
				saml_why(why, whylen, "signature: the %s's "
				    "Signature refers to another element",
				    i == 0 ? "Response" : "Assertion");
				return (-1);
			}
			if (i == 0)
				f->response_signed = 1;
			else
				f->assertion_signed = 1;
		}
	}
	if (found != total) {
		saml_why(why, whylen, "signature: a Signature outside the "
		    "Response and the Assertion");
		return (-1);
	}
	if (found == 0) {
		saml_why(why, whylen, "signature: neither the Response nor "
		    "the Assertion is signed");
		return (-1);
	}
	return (0);
}

/*
 * A time attribute of n: when required and missing, or malformed, an
 * error naming what.  *t is 0 when absent.
 */
static int
check_time_attr(xmlNode *n, const char *attr, time_t *t, int required,
    const char *what, char *why, size_t whylen)
{
	char	*v;
	int	 rc = 0;

	*t = 0;
	if ((v = check_attr(n, attr)) == NULL) {
		if (!required)
			return (0);
		saml_why(why, whylen, "%s: %s is missing", what, attr);
		return (-1);
	}
	if (saml_time_parse(v, t) == -1 || *t == 0) {
		saml_why(why, whylen, "%s: %s is not a UTC time", what, attr);
		rc = -1;
	}
	xmlFree(v);
	return (rc);
}

/* Is attribute attr of n exactly want?  (Missing: no.) */
static int
check_attr_is(xmlNode *n, const char *attr, const char *want)
{
	char	*v = check_attr(n, attr);
	int	 ok;

	ok = v != NULL && want != NULL && strcmp(v, want) == 0;
	xmlFree(v);
	return (ok);
}

/*
 * The Issuer (SAML core 2.2.5) of the Response (optional there, profiles
 * 4.1.4.2) or the Assertion (required): the IdP's entity ID, and if a
 * Format is given, the entity format.
 */
static int
check_issuer(xmlNode *parent, const char *idp, int required,
    const char *what, char *why, size_t whylen)
{
	xmlNode	*iss = check_child(parent, NS_SAML, "Issuer");
	char	*v, *fmt;
	int	 ok;

	if (iss == NULL) {
		if (!required)
			return (0);
		saml_why(why, whylen, "Issuer: the %s has none", what);
		return (-1);
	}
	fmt = check_attr(iss, "Format");
	ok = fmt == NULL || strcmp(fmt,
	    "urn:oasis:names:tc:SAML:2.0:nameid-format:entity") == 0;
	xmlFree(fmt);
	v = (char *)xmlNodeGetContent(iss);
	ok = ok && v != NULL && idp != NULL && strcmp(v, idp) == 0;
	xmlFree(v);
	if (!ok) {
		saml_why(why, whylen, "Issuer: the %s was not issued by the "
		    "configured identity provider", what);
		return (-1);
	}
	return (0);
}

/*
 * The bearer SubjectConfirmation (profiles 4.1.4.2): at least one, and
 * each bearer one must have SubjectConfirmationData whose Recipient is
 * our ACS, NotOnOrAfter in the future (with the skew), NotBefore (which
 * the profile forbids, but tolerate) in the past, and InResponseTo our
 * outstanding request.  *end is the earliest NotOnOrAfter.
 */
static int
check_bearer(xmlNode *subject, const struct saml_expect *e, time_t now,
    time_t *end, char *why, size_t whylen)
{
	xmlNode	*sc, *scd;
	time_t	 nooa, nb;
	int	 nbearer = 0;

	for (sc = subject->children; sc != NULL; sc = sc->next) {
		if (!check_is(sc, NS_SAML, "SubjectConfirmation"))
			continue;
		if (!check_attr_is(sc, "Method", CM_BEARER))
			continue;
		nbearer++;
		if ((scd = check_child(sc, NS_SAML,
		    "SubjectConfirmationData")) == NULL) {
			saml_why(why, whylen, "SubjectConfirmation: no "
			    "SubjectConfirmationData");
			return (-1);
		}
		if (!check_attr_is(scd, "Recipient", e->acs_url)) {
			saml_why(why, whylen, "Recipient: the bearer "
			    "confirmation is not for our ACS URL");
			return (-1);
		}
		if (check_time_attr(scd, "NotOnOrAfter", &nooa, 1,
		    "SubjectConfirmationData", why, whylen) == -1 ||
		    check_time_attr(scd, "NotBefore", &nb, 0,
		    "SubjectConfirmationData", why, whylen) == -1)
			return (-1);
		if (now - e->clock_skew >= nooa) {
			saml_why(why, whylen, "SubjectConfirmationData "
			    "NotOnOrAfter: the confirmation has expired");
			return (-1);
		}
		if (nb != 0 && now + e->clock_skew < nb) {
			saml_why(why, whylen, "SubjectConfirmationData "
			    "NotBefore: the confirmation is not valid yet");
			return (-1);
		}
		if (e->request_id == NULL) {
			saml_why(why, whylen, "InResponseTo: unsolicited "
			    "response (no outstanding request)");
			return (-1);
		}
		if (!check_attr_is(scd, "InResponseTo", e->request_id)) {
			saml_why(why, whylen, "InResponseTo: the "
			    "confirmation does not answer our request");
			return (-1);
		}
		if (*end == 0 || nooa < *end)
			*end = nooa;
	}
	if (nbearer == 0) {
		saml_why(why, whylen, "SubjectConfirmation: no bearer "
		    "confirmation");
		return (-1);
	}
	return (0);
}

/*
 * Conditions (SAML core 2.5): the time window with the skew, at least
 * one AudienceRestriction and every one naming us among its Audiences
 * (2.5.1.4: each restriction must be met; lasso drops a restriction
 * with several audiences, so the XML is read here), and nothing we do
 * not know (2.5.1.5: an unknown condition makes the assertion
 * Indeterminate, which we treat as invalid: fail closed).
 */
static int
check_conditions(xmlNode *assertion, const struct saml_expect *e,
    time_t now, time_t *end, char *why, size_t whylen)
{
	xmlNode	*cond, *c, *a;
	time_t	 nb, nooa;
	char	*v;
	int	 nrestr = 0, ours, ncond = 0;

	for (c = assertion->children; c != NULL; c = c->next)
		if (check_is(c, NS_SAML, "Conditions"))
			ncond++;
	if (ncond != 1 || (cond = check_child(assertion, NS_SAML,
	    "Conditions")) == NULL) {
		saml_why(why, whylen, "Conditions: %s", ncond == 0 ?
		    "missing (the profile requires an AudienceRestriction)" :
		    "given more than once");
		return (-1);
	}
	if (check_time_attr(cond, "NotBefore", &nb, 0, "Conditions", why,
	    whylen) == -1 || check_time_attr(cond, "NotOnOrAfter", &nooa, 0,
	    "Conditions", why, whylen) == -1)
		return (-1);
	if (nb != 0 && now + e->clock_skew < nb) {
		saml_why(why, whylen, "Conditions NotBefore: the assertion "
		    "is not valid yet");
		return (-1);
	}
	if (nooa != 0 && now - e->clock_skew >= nooa) {
		saml_why(why, whylen, "Conditions NotOnOrAfter: the "
		    "assertion has expired");
		return (-1);
	}
	*end = nooa;
	for (c = cond->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (check_is(c, NS_SAML, "OneTimeUse") ||
		    check_is(c, NS_SAML, "ProxyRestriction"))
			continue;	/* met: one use, and we pass it on
					   to nobody */
		if (!check_is(c, NS_SAML, "AudienceRestriction")) {
			saml_why(why, whylen, "Conditions: unknown "
			    "condition");
			return (-1);
		}
		nrestr++;
		ours = 0;
		for (a = c->children; a != NULL; a = a->next) {
			if (!check_is(a, NS_SAML, "Audience"))
				continue;
			v = (char *)xmlNodeGetContent(a);
			if (v != NULL && strcmp(v, e->sp_entity_id) == 0)
				ours = 1;
			xmlFree(v);
		}
		if (!ours) {
			saml_why(why, whylen, "Audience: an "
			    "AudienceRestriction does not name us");
			return (-1);
		}
	}
	if (nrestr == 0) {
		saml_why(why, whylen, "Audience: no AudienceRestriction");
		return (-1);
	}
	return (0);
}

/*
 * The NameID, and its domain among verified_domains, exactly: the IdP
 * may only vouch for the organisation's own domains (a tenant could
 * otherwise assert alice@othercompany.example).
 */
static int
check_name_id(xmlNode *subject, const struct saml_expect *e,
    struct saml_facts *f, char *why, size_t whylen)
{
	xmlNode	*n;
	char	*v, *at, dom[256];
	size_t	 i, len;
	int	 nn = 0;

	for (n = subject->children; n != NULL; n = n->next)
		if (check_is(n, NS_SAML, "NameID"))
			nn++;
	if (check_child(subject, NS_SAML, "EncryptedID") != NULL) {
		saml_why(why, whylen, "NameID: encrypted identifiers are not "
		    "supported");
		return (-1);
	}
	if (nn != 1) {
		saml_why(why, whylen, "NameID: %s", nn == 0 ? "missing" :
		    "more than one");
		return (-1);
	}
	n = check_child(subject, NS_SAML, "NameID");
	v = (char *)xmlNodeGetContent(n);
	if (v == NULL || !check_text_ok(v, sizeof(f->name_id)) ||
	    strchr(v, ' ') != NULL) {
		xmlFree(v);
		saml_why(why, whylen, "NameID: empty, too long or holding "
		    "spaces or control characters");
		return (-1);
	}
	snprintf(f->name_id, sizeof(f->name_id), "%s", v);
	xmlFree(v);
	at = strchr(f->name_id, '@');
	if (at == NULL || at == f->name_id || strchr(at + 1, '@') != NULL ||
	    (len = strlen(at + 1)) == 0 || len >= sizeof(dom)) {
		saml_why(why, whylen, "NameID: not user@domain, so its "
		    "domain cannot be verified");
		return (-1);
	}
	for (i = 0; i <= len; i++)
		dom[i] = (char)tolower((unsigned char)at[1 + i]);
	for (i = 0; i < e->nverified_domains; i++)
		if (strcmp(dom, e->verified_domains[i]) == 0)
			return (0);
	saml_why(why, whylen, "NameID: domain %.200s is not among "
	    "verified_domains", dom);
	return (-1);
}

/* The values of the groups attribute, in every AttributeStatement. */
static int
check_groups(xmlNode *assertion, const char *name, struct saml_facts *f,
    char *why, size_t whylen)
{
	xmlNode	*st, *at, *val;
	char	*v, **g;

	if (name == NULL)
		return (0);
	for (st = assertion->children; st != NULL; st = st->next) {
		if (!check_is(st, NS_SAML, "AttributeStatement"))
			continue;
		for (at = st->children; at != NULL; at = at->next) {
			if (!check_is(at, NS_SAML, "Attribute") ||
			    !check_attr_is(at, "Name", name))
				continue;
			for (val = at->children; val != NULL;
			    val = val->next) {
				if (!check_is(val, NS_SAML, "AttributeValue"))
					continue;
				v = (char *)xmlNodeGetContent(val);
				/* A value we cannot use is dropped, not
				   trusted: a group only ever adds rights. */
				if (v == NULL || !check_text_ok(v,
				    SAML_GROUP_LEN)) {
					xmlFree(v);
					continue;
				}
				if (f->ngroups == SAML_GROUPS_MAX) {
					xmlFree(v);
					saml_why(why, whylen, "groups: more "
					    "than %d values", SAML_GROUPS_MAX);
					return (-1);
				}
				g = reallocarray(f->groups, f->ngroups + 1,
				    sizeof(char *));
				if (g == NULL || (g[f->ngroups] =
				    strdup(v)) == NULL) {
					if (g != NULL)
						f->groups = g;
					xmlFree(v);
					saml_why(why, whylen, "out of memory");
					return (-1);
				}
				f->groups = g;
				f->ngroups++;
				xmlFree(v);
			}
		}
	}
	return (0);
}

int
saml_check_response(xmlDoc *doc, const struct saml_expect *e, time_t now,
    struct saml_facts *f, char *why, size_t whylen)
{
	xmlNode	*root, *assertion, *subject, *st, *sc;
	char	**ids = NULL, *v;
	size_t	 nids = 0, i, n;
	time_t	 cend = 0, bend = 0, t;
	int	 rc = -1, ok;

	memset(f, 0, sizeof(*f));
	root = xmlDocGetRootElement(doc);
	if (!check_is(root, NS_SAMLP, "Response")) {
		saml_why(why, whylen, "Response: the root is not a "
		    "samlp:Response");
		goto done;
	}
	if (check_count(root, NS_SAMLP, "Response") != 1) {
		saml_why(why, whylen, "Response: more than one Response in "
		    "the document");
		goto done;
	}
	if (check_count(root, NS_SAML, "EncryptedAssertion") != 0) {
		saml_why(why, whylen, "Assertion: encrypted assertions are "
		    "not supported");
		goto done;
	}
	if ((n = check_count(root, NS_SAML, "Assertion")) != 1) {
		saml_why(why, whylen, "Assertion: %zu assertions in the "
		    "document, not exactly one", n);
		goto done;
	}
	if ((assertion = check_child(root, NS_SAML, "Assertion")) == NULL) {
		saml_why(why, whylen, "Assertion: not a child of the "
		    "Response");
		goto done;
	}
	if ((ids = calloc(SAML_IDS_MAX, sizeof(char *))) == NULL) {
		saml_why(why, whylen, "out of memory");
		goto done;
	}
	if (check_ids(root, ids, &nids, why, whylen) == -1 ||
	    check_signatures(root, root, assertion, f, why, whylen) == -1)
		goto done;

	/* The Response (SAML core 3.2.2, profiles 4.1.4.2). */
	if (!check_attr_is(root, "Version", "2.0") ||
	    !check_attr_is(assertion, "Version", "2.0")) {
		saml_why(why, whylen, "Version: not SAML 2.0");
		goto done;
	}
	/*
	 * Bindings 3.5.5.2: a signed message carries Destination, and it
	 * must be where it was received.  Entra and Okta always send it.
	 */
	if (!check_attr_is(root, "Destination", e->acs_url)) {
		saml_why(why, whylen, "Destination: the Response is not for "
		    "our ACS URL");
		goto done;
	}
	if ((v = check_attr(root, "InResponseTo")) != NULL) {
		ok = e->request_id != NULL && strcmp(v, e->request_id) == 0;
		xmlFree(v);
		if (!ok) {
			saml_why(why, whylen, "InResponseTo: the Response "
			    "does not answer our request");
			goto done;
		}
	} else {
		saml_why(why, whylen, "InResponseTo: unsolicited response "
		    "(the Response answers no request)");
		goto done;
	}
	if ((st = check_child(root, NS_SAMLP, "Status")) == NULL ||
	    (st = check_child(st, NS_SAMLP, "StatusCode")) == NULL ||
	    !check_attr_is(st, "Value", ST_SUCCESS)) {
		saml_why(why, whylen, "Status: not Success");
		goto done;
	}
	if (check_issuer(root, e->idp_entity_id, 0, "Response", why,
	    whylen) == -1 || check_issuer(assertion, e->idp_entity_id, 1,
	    "Assertion", why, whylen) == -1)
		goto done;

	/* The Assertion. */
	v = check_attr(assertion, "ID");
	ok = v != NULL && check_text_ok(v, sizeof(f->assertion_id));
	if (ok)
		snprintf(f->assertion_id, sizeof(f->assertion_id), "%s", v);
	xmlFree(v);
	if (!ok) {
		saml_why(why, whylen, "Assertion: no usable ID");
		goto done;
	}
	if (check_time_attr(assertion, "IssueInstant", &t, 1, "Assertion",
	    why, whylen) == -1)
		goto done;
	if (t > now + e->clock_skew) {
		saml_why(why, whylen, "Assertion IssueInstant: issued in the "
		    "future");
		goto done;
	}
	n = 0;
	for (subject = assertion->children; subject != NULL;
	    subject = subject->next)
		if (check_is(subject, NS_SAML, "Subject"))
			n++;
	if (n != 1 || (subject = check_child(assertion, NS_SAML,
	    "Subject")) == NULL) {
		saml_why(why, whylen, "Subject: %s", n == 0 ? "missing" :
		    "more than one");
		goto done;
	}
	if (check_bearer(subject, e, now, &bend, why, whylen) == -1 ||
	    check_conditions(assertion, e, now, &cend, why, whylen) == -1)
		goto done;
	/* Profiles 4.1.4.2: at least one AuthnStatement. */
	if ((sc = check_child(assertion, NS_SAML, "AuthnStatement")) ==
	    NULL) {
		saml_why(why, whylen, "AuthnStatement: missing");
		goto done;
	}
	if (check_time_attr(sc, "SessionNotOnOrAfter", &t, 0,
	    "AuthnStatement", why, whylen) == -1)
		goto done;
	if (t != 0 && now - e->clock_skew >= t) {
		saml_why(why, whylen, "AuthnStatement SessionNotOnOrAfter: "
		    "the IdP's session has ended");
		goto done;
	}
	if (check_name_id(subject, e, f, why, whylen) == -1 ||
	    check_groups(assertion, e->groups_attribute, f, why,
	    whylen) == -1)
		goto done;
	f->not_on_or_after = cend != 0 ? cend : bend;
	rc = 0;
 done:
	if (ids != NULL) {
		for (i = 0; i < nids; i++)
			xmlFree(ids[i]);
		free(ids);
	}
	if (rc == -1)
		saml_facts_clear(f);
	return (rc);
}

void
saml_facts_clear(struct saml_facts *f)
{
	size_t	i;

	for (i = 0; i < f->ngroups; i++)
		free(f->groups[i]);
	free(f->groups);
	explicit_bzero(f, sizeof(*f));
}
