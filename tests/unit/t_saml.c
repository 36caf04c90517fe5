/*
 * Unit tests for the SAML service provider (auth/saml*.c, conf_saml.c):
 * the ACS form parser, strict base64, the return-URL rule, the DTD
 * refusal, xs:dateTime, the request and replay tables on a fake clock,
 * every check of saml_check_response() on hand-written documents, the
 * saml section of the config, and the whole ACS end to end (the client
 * address a sign-in is bound to included) with
 * Responses signed at test time by xmlsec1 (keys made by openssl in a
 * temporary directory), on a fixed clock.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "conf.h"
#include "saml.h"
#include "unit.h"

#define NOW		((time_t)1800000000)	/* 2027-01-15T08:00:00Z */
#define ACS		"https://auth.example.test/iaproxy/saml/acs"
#define SPID		"https://proxy.example.test/saml"
#define IDPID		"https://idp.example.test/"
#define REQID		"_req1"
#define CLIENT		"192.0.2.10"	/* the browser's address */
#define SHOW(s)		((s) != NULL ? (s) : "(none)")

static char	 dir[256];	/* the keys, metadata and configs */
static char	 errbuf[4096];

/* printf into a malloc'd string (the test's own: abort on failure). */
static char *
fmt(const char *f, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) == -1)
		abort();
	va_end(ap);
	return (s);
}

/* An xs:dateTime for NOW + off. */
static const char *
at(long off, char buf[32])
{
	time_t		t = NOW + off;
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return (buf);
}

static int
run(const char *cmd)
{
	int	rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return (rc);
}

static int
write_file(const char *path, const char *text, size_t len, int mode)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		return (-1);
	fwrite(text, 1, len, f);
	fclose(f);
	return (chmod(path, (mode_t)mode));
}

static char *
read_file(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf;
	long	 len;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len + 1);
	if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len)
		abort();
	buf[len] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)len;
	return (buf);
}

/* ------------------------------------------------------------------ */
/* The form, base64, return URLs, DTDs, times. */

static void
test_form(void)
{
	char	*r, *s, why[256], *big;

	CHECK(saml_form_parse("SAMLResponse=PHg%2B&RelayState=abc", 34, &r, &s,
	    why, sizeof(why)) == 0 && strcmp(r, "PHg+") == 0 &&
	    strcmp(s, "abc") == 0, "basic");
	free(r);
	free(s);
	CHECK(saml_form_parse("x=1&RelayState=a+b&SAMLResponse=q%2b%2F&y", 41,
	    &r, &s, why, sizeof(why)) == 0 && strcmp(r, "q+/") == 0 &&
	    strcmp(s, "a b") == 0, "plus, other fields, order");
	free(r);
	free(s);
	CHECK(saml_form_parse("SAMLResponse=a&SAMLResponse=b&RelayState=c",
	    42, &r, &s, why, sizeof(why)) == -1 && strstr(why, "twice") !=
	    NULL && r == NULL && s == NULL, "duplicate: %s", why);
	CHECK(saml_form_parse("SAMLResponse=a", 14, &r, &s, why,
	    sizeof(why)) == -1 && strstr(why, "RelayState") != NULL,
	    "missing RelayState: %s", why);
	CHECK(saml_form_parse("RelayState=a", 12, &r, &s, why,
	    sizeof(why)) == -1 && strstr(why, "SAMLResponse") != NULL,
	    "missing SAMLResponse: %s", why);
	CHECK(saml_form_parse("SAMLResponse=a%2&RelayState=b", 29, &r, &s,
	    why, sizeof(why)) == -1, "bad escape");
	CHECK(saml_form_parse("SAMLResponse=a%00&RelayState=b", 30, &r, &s,
	    why, sizeof(why)) == -1, "NUL escape");
	CHECK(saml_form_parse("SAMLResponse=a%zz&RelayState=b", 30, &r, &s,
	    why, sizeof(why)) == -1, "non-hex escape");
	CHECK(saml_form_parse("SAMLResponse=ab&RelayState=b%", 29, &r, &s,
	    why, sizeof(why)) == -1, "escape at end");
	/* The length is the caller's: no NUL needed, none read past. */
	CHECK(saml_form_parse("SAMLResponse=ab&RelayState=bXXXX", 28, &r,
	    &s, why, sizeof(why)) == 0 && strcmp(s, "b") == 0, "length");
	free(r);
	free(s);
	big = calloc(1, SAML_FORM_MAX + 2);
	memset(big, 'a', SAML_FORM_MAX + 1);
	memcpy(big, "SAMLResponse=", 13);
	CHECK(saml_form_parse(big, SAML_FORM_MAX + 1, &r, &s, why,
	    sizeof(why)) == -1 && strstr(why, "limit") != NULL, "too big");
	free(big);
}

static void
test_b64(void)
{
	unsigned char	*out;
	size_t		 len;

	CHECK(saml_b64_decode("PHg+", 4, &out, &len) == 0 && len == 3 &&
	    memcmp(out, "<x>", 3) == 0, "basic");
	free(out);
	CHECK(saml_b64_decode("YQ==", 4, &out, &len) == 0 && len == 1 &&
	    out[0] == 'a', "pad 2");
	free(out);
	CHECK(saml_b64_decode("YWI=", 4, &out, &len) == 0 && len == 2,
	    "pad 1");
	free(out);
	CHECK(saml_b64_decode("YWI", 3, &out, &len) == 0 && len == 2,
	    "no padding");
	free(out);
	CHECK(saml_b64_decode(" PH\r\ng+\t\n", 9, &out, &len) == 0 &&
	    len == 3, "white space");
	free(out);
	CHECK(saml_b64_decode("PHg+!", 5, &out, &len) == -1, "bad char");
	CHECK(saml_b64_decode("YQ==YQ==", 8, &out, &len) == -1,
	    "data after padding");
	CHECK(saml_b64_decode("YQ=", 3, &out, &len) == -1, "short padding");
	CHECK(saml_b64_decode("YR==", 4, &out, &len) == -1,
	    "non-canonical bits");
	CHECK(saml_b64_decode("Y", 1, &out, &len) == -1, "one char");
	CHECK(saml_b64_decode("", 0, &out, &len) == -1, "empty");
	CHECK(saml_b64_decode("PHg-", 4, &out, &len) == -1, "base64url");
}

static void
test_return_url(void)
{
	char	 long_url[2100];

	CHECK(saml_return_url_ok("http://www.example.test/a?b=c"), "http");
	CHECK(saml_return_url_ok("HTTPS://www.example.test"), "https");
	CHECK(saml_return_url_ok("https://[::1]:8443/x"), "v6");
	CHECK(!saml_return_url_ok("//evil.test/"), "scheme-relative");
	CHECK(!saml_return_url_ok("/local"), "relative");
	CHECK(!saml_return_url_ok("javascript:alert(1)"), "javascript");
	CHECK(!saml_return_url_ok("ftp://x.test/"), "ftp");
	CHECK(!saml_return_url_ok("https://"), "no host");
	CHECK(!saml_return_url_ok("https://:443/"), "port only");
	CHECK(!saml_return_url_ok("https://user@evil.test/"), "userinfo");
	CHECK(!saml_return_url_ok("https://good.test@evil.test/"),
	    "userinfo 2");
	CHECK(saml_return_url_ok("https://good.test/?u=a@b"),
	    "@ in the query is fine");
	CHECK(!saml_return_url_ok("https://a.test/\r\nSet-Cookie: x"), "CRLF");
	CHECK(!saml_return_url_ok("https://a.test/ b"), "space");
	CHECK(!saml_return_url_ok("https:\\\\evil.test"), "backslash");
	CHECK(!saml_return_url_ok(NULL), "NULL");
	memset(long_url, 'a', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	memcpy(long_url, "https://x.test/", 15);
	CHECK(!saml_return_url_ok(long_url), "too long");
	long_url[SAML_RETURN_URL_MAX] = '\0';
	CHECK(saml_return_url_ok(long_url), "at the limit");
}

static void
test_dtd(void)
{
	static const char	*doc1 = "<?xml version=\"1.0\"?><!DOCTYPE r "
				    "[<!ENTITY x \"y\">]><r>&x;</r>";
	static const char	*doc2 = "<r><!doctype></r>";
	char			 why[256];
	xmlDoc			*d;

	CHECK(saml_xml_refuse_dtd((const unsigned char *)doc1, strlen(doc1),
	    why, sizeof(why)) == -1 && strncmp(why, "DTD", 3) == 0, "%s",
	    why);
	CHECK(saml_xml_refuse_dtd((const unsigned char *)doc2, strlen(doc2),
	    why, sizeof(why)) == -1, "lower case");
	CHECK(saml_xml_refuse_dtd((const unsigned char *)"<r>&lt;!ENTITY</r>",
	    18, why, sizeof(why)) == 0, "escaped text is fine");
	/* The parser refuses it even past the byte scan. */
	d = saml_xml_parse((const unsigned char *)doc1, strlen(doc1), why,
	    sizeof(why));
	CHECK(d == NULL && strncmp(why, "DTD", 3) == 0, "parse: %s", why);
	if (d != NULL)
		xmlFreeDoc(d);
	d = saml_xml_parse((const unsigned char *)"<r>", 3, why, sizeof(why));
	CHECK(d == NULL && strncmp(why, "XML", 3) == 0, "not well-formed");
	d = saml_xml_parse((const unsigned char *)"<r/>", 4, why, sizeof(why));
	CHECK(d != NULL, "good");
	if (d != NULL)
		xmlFreeDoc(d);
}

static void
test_time(void)
{
	time_t	t;

	CHECK(saml_time_parse("2027-01-15T08:00:00Z", &t) == 0 && t == NOW,
	    "basic");
	CHECK(saml_time_parse("2027-01-15T08:00:00.123Z", &t) == 0 &&
	    t == NOW, "fraction");
	CHECK(saml_time_parse("2027-01-15T08:00:00", &t) == -1, "no zone");
	CHECK(saml_time_parse("2027-01-15T08:00:00+01:00", &t) == -1,
	    "offset");
	CHECK(saml_time_parse("2027-13-15T08:00:00Z", &t) == -1, "month");
	CHECK(saml_time_parse("2027-01-15 08:00:00Z", &t) == -1, "space");
	CHECK(saml_time_parse("", &t) == -1, "empty");
}

/* ------------------------------------------------------------------ */
/* The request and replay tables. */

static void
test_state(void)
{
	char	 id[SAML_ID_MAX], url[2048], tok[32], tok2[32];
	char	 cl[SAML_CLIENT_MAX], longcl[SAML_CLIENT_MAX + 1];
	size_t	 nreq, nrep;

	saml_state_reset(0, 0);
	CHECK(saml_relay_token(tok, sizeof(tok)) == 0 && strlen(tok) == 22 &&
	    strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == 22, "token %s", tok);
	CHECK(saml_relay_token(tok2, sizeof(tok2)) == 0 &&
	    strcmp(tok, tok2) != 0, "tokens differ");
	CHECK(saml_state_request_add(tok, "_id1", "http://a.test/", CLIENT,
	    NOW + 600, NOW) == 0, "add");
	CHECK(saml_state_request_add(tok, "_id2", "http://b.test/", CLIENT,
	    NOW + 600, NOW) == -1, "same token twice");
	CHECK(saml_state_request_take(tok2, NOW, id, sizeof(id), url,
	    sizeof(url), cl, sizeof(cl)) == -1, "unknown token");
	CHECK(saml_state_request_take(tok, NOW + 10, id, sizeof(id), url,
	    sizeof(url), cl, sizeof(cl)) == 0 && strcmp(id, "_id1") == 0 &&
	    strcmp(url, "http://a.test/") == 0 && strcmp(cl, CLIENT) == 0,
	    "take");
	CHECK(saml_state_request_take(tok, NOW + 10, id, sizeof(id), url,
	    sizeof(url), cl, sizeof(cl)) == -1, "once only");
	/* The client: none is "", and one too long is refused. */
	CHECK(saml_state_request_add("t-nocl", "_n", "http://a.test/", NULL,
	    NOW + 600, NOW) == 0 && saml_state_request_take("t-nocl", NOW, id,
	    sizeof(id), url, sizeof(url), cl, sizeof(cl)) == 0 &&
	    cl[0] == '\0', "no client: \"%s\"", cl);
	memset(longcl, '1', sizeof(longcl) - 1);
	longcl[sizeof(longcl) - 1] = '\0';
	CHECK(saml_state_request_add("t-long", "_l", "http://a.test/", longcl,
	    NOW + 600, NOW) == -1, "client too long");
	/* Expiry: gone at expires, and gone for good. */
	saml_state_request_add("t-exp", "_e", "http://a.test/", CLIENT,
	    NOW + 600, NOW);
	CHECK(saml_state_request_take("t-exp", NOW + 600, id, sizeof(id), url,
	    sizeof(url), cl, sizeof(cl)) == -1, "expired");
	CHECK(saml_state_request_take("t-exp", NOW, id, sizeof(id), url,
	    sizeof(url), cl, sizeof(cl)) == -1, "expired is used up");
	/* Bound: the oldest gives way. */
	saml_state_reset(3, 3);
	saml_state_request_add("t1", "_1", "http://a.test/", CLIENT, NOW + 600,
	    NOW);
	saml_state_request_add("t2", "_2", "http://a.test/", CLIENT, NOW + 600,
	    NOW);
	saml_state_request_add("t3", "_3", "http://a.test/", CLIENT, NOW + 600,
	    NOW);
	CHECK(saml_state_request_add("t4", "_4", "http://a.test/", CLIENT,
	    NOW + 600, NOW) == 0, "add past the bound");
	saml_state_counts(&nreq, &nrep);
	CHECK(nreq == 3, "bounded: %zu", nreq);
	CHECK(saml_state_request_take("t1", NOW, id, sizeof(id), url,
	    sizeof(url), cl, sizeof(cl)) == -1, "oldest dropped");
	CHECK(saml_state_request_take("t4", NOW, id, sizeof(id), url,
	    sizeof(url), cl, sizeof(cl)) == 0 && strcmp(id, "_4") == 0,
	    "newest kept");
	/* Purged by time when adding. */
	saml_state_reset(0, 0);
	saml_state_request_add("p1", "_1", "http://a.test/", CLIENT, NOW + 5,
	    NOW);
	saml_state_request_add("p2", "_2", "http://a.test/", CLIENT, NOW + 100,
	    NOW + 10);
	saml_state_counts(&nreq, &nrep);
	CHECK(nreq == 1, "purged: %zu", nreq);

	/* Replay cache. */
	saml_state_reset(0, 3);
	CHECK(saml_replay_add("_a1", NOW + 100, NOW) == 0, "new");
	CHECK(saml_replay_add("_a1", NOW + 100, NOW + 50) == 1, "replay");
	CHECK(saml_replay_add("_a2", NOW + 100, NOW) == 0, "second");
	CHECK(saml_replay_add("_a3", NOW + 100, NOW) == 0, "third");
	CHECK(saml_replay_add("_a4", NOW + 100, NOW) == -1,
	    "full of live IDs: refused");
	CHECK(saml_replay_add("_a1", NOW + 100, NOW) == 1,
	    "still remembered when full");
	CHECK(saml_replay_add("_a4", NOW + 300, NOW + 100) == 0,
	    "expired ones purged when full");
	CHECK(saml_replay_add("_a1", NOW + 300, NOW + 100) == 0,
	    "forgotten after keep_until");
	saml_state_reset(0, 0);
}

/* ------------------------------------------------------------------ */
/* saml_check_response on hand-written documents. */

/* What differs from a good Response; NULL fields take the default. */
struct resp {
	const char	*resp_id;
	const char	*assertion_id;
	const char	*destination;	/* "" leaves it out */
	const char	*in_response_to;	/* "" leaves it out */
	const char	*scd_in_response_to;
	const char	*recipient;
	const char	*method;
	const char	*issuer;
	const char	*name_id;
	const char	*audiences;	/* the AudienceRestriction elements */
	const char	*status;
	long		 cond_nb, cond_nooa, scd_nooa;	/* offsets from NOW */
	int		 sign_resp;	/* a Signature template on the root */
	int		 nosig_assertion;	/* none on the Assertion */
	const char	*resp_extra;	/* more children of the Response */
	const char	*assertion_extra;	/* and of the Assertion */
	const char	*sig_ref;	/* the Assertion's Reference URI */
};

#define SIGTMPL(ref) "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/" \
	"xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"" \
	"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod " \
	"Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>" \
	"<ds:Reference URI=\"" ref "\"><ds:Transforms><ds:Transform " \
	"Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature" \
	"\"/><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-" \
	"c14n#\"/></ds:Transforms><ds:DigestMethod Algorithm=\"http://www." \
	"w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue></ds:DigestValue>" \
	"</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:Signature" \
	"Value></ds:Signature>"

/* The Response XML for r (malloc'd). */
static char *
resp_xml(const struct resp *r)
{
	char	 t0[32], t1[32], t2[32], t3[32], *sa, *sr, *dst, *irt, *x;
	const char *rid = r->resp_id ? r->resp_id : "_r1";
	const char *aid = r->assertion_id ? r->assertion_id : "_a1";
	char	 ref[64];

	snprintf(ref, sizeof(ref), "#%s", aid);
	sr = r->sign_resp ? fmt(SIGTMPL("#%s"), rid) : strdup("");
	sa = !r->nosig_assertion ? fmt(SIGTMPL("%s"), r->sig_ref ? r->sig_ref :
	    ref) : strdup("");
	dst = r->destination && !*r->destination ? strdup("") :
	    fmt(" Destination=\"%s\"", r->destination ? r->destination : ACS);
	irt = r->in_response_to && !*r->in_response_to ? strdup("") :
	    fmt(" InResponseTo=\"%s\"", r->in_response_to ? r->in_response_to :
	    REQID);
	x = fmt("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\""
	    " xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"%s\" "
	    "Version=\"2.0\" IssueInstant=\"%s\"%s%s>"
	    "<saml:Issuer>%s</saml:Issuer>%s"
	    "<samlp:Status><samlp:StatusCode Value=\"%s\"/></samlp:Status>%s"
	    "<saml:Assertion ID=\"%s\" Version=\"2.0\" IssueInstant=\"%s\">"
	    "<saml:Issuer>%s</saml:Issuer>%s"
	    "<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:"
	    "nameid-format:emailAddress\">%s</saml:NameID>"
	    "<saml:SubjectConfirmation Method=\"%s\">"
	    "<saml:SubjectConfirmationData InResponseTo=\"%s\" Recipient=\"%s\""
	    " NotOnOrAfter=\"%s\"/></saml:SubjectConfirmation></saml:Subject>"
	    "<saml:Conditions NotBefore=\"%s\" NotOnOrAfter=\"%s\">%s"
	    "</saml:Conditions>"
	    "<saml:AuthnStatement AuthnInstant=\"%s\" SessionIndex=\"_s1\">"
	    "<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:"
	    "SAML:2.0:ac:classes:PasswordProtectedTransport"
	    "</saml:AuthnContextClassRef></saml:AuthnContext>"
	    "</saml:AuthnStatement>"
	    "<saml:AttributeStatement><saml:Attribute Name=\"groups\">"
	    "<saml:AttributeValue>Finance</saml:AttributeValue>"
	    "<saml:AttributeValue>Staff</saml:AttributeValue>"
	    "</saml:Attribute></saml:AttributeStatement>%s"
	    "</saml:Assertion></samlp:Response>\n",
	    rid, at(0, t0), dst, irt, r->issuer ? r->issuer : IDPID, sr,
	    r->status ? r->status : "urn:oasis:names:tc:SAML:2.0:status:Success",
	    r->resp_extra ? r->resp_extra : "", aid, t0,
	    r->issuer ? r->issuer : IDPID, sa,
	    r->name_id ? r->name_id : "alice@Example.test",
	    r->method ? r->method : "urn:oasis:names:tc:SAML:2.0:cm:bearer",
	    r->scd_in_response_to ? r->scd_in_response_to : REQID,
	    r->recipient ? r->recipient : ACS,
	    at(r->scd_nooa ? r->scd_nooa : 300, t1),
	    at(r->cond_nb ? r->cond_nb : -60, t2),
	    at(r->cond_nooa ? r->cond_nooa : 3600, t3),
	    r->audiences ? r->audiences : "<saml:AudienceRestriction>"
	    "<saml:Audience>" SPID "</saml:Audience></saml:AudienceRestriction>",
	    t0, r->assertion_extra ? r->assertion_extra : "");
	free(sa);
	free(sr);
	free(dst);
	free(irt);
	return (x);
}

static char *const	 domains[] = { "example.test", "corp.example" };

/* Run the checks on r; 0 or -1 with why. */
static int
check(const struct resp *r, const char *request_id, time_t now, char *why,
    size_t whylen, struct saml_facts *out)
{
	struct saml_expect	 e;
	struct saml_facts	 f;
	char			*x = resp_xml(r);
	xmlDoc			*d;
	int			 rc;

	memset(&e, 0, sizeof(e));
	e.acs_url = ACS;
	e.sp_entity_id = SPID;
	e.idp_entity_id = IDPID;
	e.request_id = request_id;
	e.verified_domains = domains;
	e.nverified_domains = 2;
	e.groups_attribute = "groups";
	e.clock_skew = 180;
	snprintf(why, whylen, "(none)");
	d = saml_xml_parse((unsigned char *)x, strlen(x), why, whylen);
	free(x);
	if (d == NULL)
		return (-1);
	rc = saml_check_response(d, &e, now, &f, why, whylen);
	xmlFreeDoc(d);
	if (out != NULL)
		*out = f;
	else if (rc == 0)
		saml_facts_clear(&f);
	return (rc);
}

/* Does r fail the checks with a message starting with prefix? */
static int
fails(const struct resp *r, const char *prefix, char *why, size_t whylen)
{
	return (check(r, REQID, NOW, why, whylen, NULL) == -1 &&
	    strncmp(why, prefix, strlen(prefix)) == 0);
}

#define RESP(...)	(&(struct resp){ __VA_ARGS__ })
#define FAILS(prefix, ...) do {						\
	char w_[256];							\
	CHECK(fails(RESP(__VA_ARGS__), prefix, w_, sizeof(w_)),		\
	    "want '%s', got '%s'", prefix, w_);				\
} while (0)

static void
test_checks(void)
{
	struct saml_facts	 f;
	char			 why[256];
	int			 rc;

	rc = check(RESP(.name_id = NULL), REQID, NOW, why, sizeof(why), &f);
	CHECK(rc == 0, "good response: %s", why);
	if (rc == 0) {
		CHECK(strcmp(f.assertion_id, "_a1") == 0, "id");
		CHECK(strcmp(f.name_id, "alice@Example.test") == 0, "nameid");
		CHECK(f.assertion_signed && !f.response_signed, "signed");
		CHECK(f.not_on_or_after == NOW + 3600, "end");
		CHECK(f.ngroups == 2 && strcmp(f.groups[0], "Finance") == 0 &&
		    strcmp(f.groups[1], "Staff") == 0, "groups");
		saml_facts_clear(&f);
	}
	CHECK(check(RESP(.nosig_assertion = 1, .sign_resp = 1), REQID, NOW,
	    why, sizeof(why), NULL) == 0, "response signed only: %s", why);

	/* Audience. */
	CHECK(check(RESP(.audiences = "<saml:AudienceRestriction><saml:Audience>"
	    "https://other.test/</saml:Audience><saml:Audience>" SPID
	    "</saml:Audience></saml:AudienceRestriction>"), REQID, NOW, why,
	    sizeof(why), NULL) == 0, "several audiences, one us: %s", why);
	FAILS("Audience", .audiences = "<saml:AudienceRestriction>"
	    "<saml:Audience>https://other.test/</saml:Audience>"
	    "<saml:Audience>https://third.test/</saml:Audience>"
	    "</saml:AudienceRestriction>");
	FAILS("Audience", .audiences = "<saml:AudienceRestriction>"
	    "<saml:Audience>" SPID "</saml:Audience></saml:AudienceRestriction>"
	    "<saml:AudienceRestriction><saml:Audience>https://other.test/"
	    "</saml:Audience></saml:AudienceRestriction>");
	FAILS("Audience: no AudienceRestriction", .audiences = "");
	FAILS("Audience", .audiences = "<saml:AudienceRestriction>"
	    "<saml:Audience>" SPID "/</saml:Audience>"
	    "</saml:AudienceRestriction>");
	FAILS("Conditions: unknown", .audiences = "<saml:AudienceRestriction>"
	    "<saml:Audience>" SPID "</saml:Audience></saml:AudienceRestriction>"
	    "<saml:Condition/>");

	/* Assertions: count, place, encryption, wrapping. */
	FAILS("Assertion: 2", .resp_extra = "<saml:Assertion ID=\"_a2\" "
	    "Version=\"2.0\"/>");
	FAILS("Assertion: 2", .assertion_extra = "<saml:Advice>"
	    "<saml:Assertion ID=\"_a2\" Version=\"2.0\"/></saml:Advice>");
	FAILS("Assertion: 2", .resp_extra = "<samlp:Extensions>"
	    "<saml:Assertion ID=\"_a2\" Version=\"2.0\"/></samlp:Extensions>");
	FAILS("Assertion: encrypted assertions are not supported",
	    .resp_extra = "<saml:EncryptedAssertion/>");
	FAILS("Response: more than one", .resp_extra = "<samlp:Extensions>"
	    "<samlp:Response/></samlp:Extensions>");
	FAILS("signature: the Assertion's Signature refers to another",
	    .sig_ref = "#_r1");
	FAILS("signature: the Assertion's Signature refers to another",
	    .sig_ref = "");
	FAILS("signature: two elements with one ID", .resp_id = "_a1");
	FAILS("signature: neither", .nosig_assertion = 1);
	FAILS("signature: a Signature outside", .resp_extra =
	    "<samlp:Extensions>" SIGTMPL("#_a1") "</samlp:Extensions>");

	/* Destination, Recipient, bearer, issuer, status. */
	FAILS("Destination", .destination = "https://evil.test/acs");
	FAILS("Destination", .destination = "");
	FAILS("Recipient", .recipient = "https://evil.test/acs");
	FAILS("SubjectConfirmation: no bearer", .method =
	    "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key");
	FAILS("Issuer", .issuer = "https://evil-idp.test/");
	FAILS("Status", .status = "urn:oasis:names:tc:SAML:2.0:status:Requester");

	/* InResponseTo. */
	FAILS("InResponseTo", .in_response_to = "_other");
	FAILS("InResponseTo", .scd_in_response_to = "_other");
	FAILS("InResponseTo: unsolicited", .in_response_to = "");
	CHECK(check(RESP(.name_id = NULL), NULL, NOW, why, sizeof(why),
	    NULL) == -1 && strstr(why, "InResponseTo") != NULL,
	    "no outstanding request: %s", why);

	/* Time windows, with the 180 s skew. */
	FAILS("Conditions NotOnOrAfter", .cond_nooa = -181);
	CHECK(check(RESP(.cond_nooa = -179), REQID, NOW, why, sizeof(why),
	    NULL) == 0, "expired within the skew: %s", why);
	FAILS("Conditions NotBefore", .cond_nb = 181);
	CHECK(check(RESP(.cond_nb = 179), REQID, NOW, why, sizeof(why),
	    NULL) == 0, "early within the skew: %s", why);
	FAILS("SubjectConfirmationData NotOnOrAfter", .scd_nooa = -180);

	/* NameID and verified_domains: exact, case-insensitive, no suffix. */
	CHECK(check(RESP(.name_id = "bob@CORP.example"), REQID, NOW, why,
	    sizeof(why), NULL) == 0, "second domain: %s", why);
	FAILS("NameID: domain", .name_id = "mallory@evil.test");
	FAILS("NameID: domain", .name_id = "mallory@sub.example.test");
	FAILS("NameID: domain", .name_id = "mallory@example.test.evil.test");
	FAILS("NameID: not user@domain", .name_id = "alice");
	FAILS("NameID: not user@domain", .name_id = "a@b@example.test");
	FAILS("NameID: not user@domain", .name_id = "@example.test");
	FAILS("NameID: empty", .name_id = "");
	/* A comment splits the text node (CVE-2017-11427 and friends):
	   we read the whole text, which names an unverified domain. */
	FAILS("NameID: domain",
	    .name_id = "alice@example.test<!---->.evil.test");
}

/* ------------------------------------------------------------------ */
/* The saml section and the ACS end to end, with xmlsec1 signatures. */

static char *
idp_metadata(const char *certfile, const char *entity)
{
	char	*pem = read_file(certfile, NULL), *b, *e, *body, *x;

	b = strstr(pem, "-----BEGIN CERTIFICATE-----") + 27;
	e = strstr(b, "-----END");
	body = strndup(b, (size_t)(e - b));
	x = fmt("<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:"
	    "metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" "
	    "entityID=\"%s\"><md:IDPSSODescriptor WantAuthnRequestsSigned="
	    "\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:"
	    "protocol\"><md:KeyDescriptor use=\"signing\"><ds:KeyInfo>"
	    "<ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate>"
	    "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
	    "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:"
	    "bindings:HTTP-Redirect\" Location=\"https://IdP.example.test:8443/"
	    "sso\"/></md:IDPSSODescriptor></md:EntityDescriptor>", entity, body);
	free(pem);
	free(body);
	return (x);
}

static int
setup_files(void)
{
	char	*cmd, *md, *md2, *two, *crt;

	snprintf(dir, sizeof(dir), "/tmp/t_saml.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return (-1);
	cmd = fmt("cd %s && for k in sp idp evil other; do openssl req -x509 "
	    "-newkey rsa:2048 -nodes -keyout $k.key -out $k.crt -days 3650 "
	    "-subj /CN=$k >/dev/null 2>&1 || exit 1; done && chmod 600 *.key "
	    "&& head -c 32 /dev/urandom > cookie.key && chmod 600 cookie.key "
	    "&& head -c 31 /dev/urandom > short.key && chmod 600 short.key "
	    "&& cp cookie.key open.key && chmod 644 open.key sp.key.pub 2>/dev/null;"
	    " cp sp.key sp-open.key && chmod 644 sp-open.key", dir);
	if (run(cmd) != 0)
		return (-1);
	free(cmd);
	crt = fmt("%s/idp.crt", dir);
	md = idp_metadata(crt, IDPID);
	free(crt);
	crt = fmt("%s/other.crt", dir);
	md2 = idp_metadata(crt, "https://idp2.test/");
	free(crt);
	cmd = fmt("%s/idp.xml", dir);
	write_file(cmd, md, strlen(md), 0644);
	free(cmd);
	/* Two IdPs in one file. */
	two = fmt("<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:"
	    "2.0:metadata\">%s%s</md:EntitiesDescriptor>", md, md2);
	cmd = fmt("%s/two.xml", dir);
	write_file(cmd, two, strlen(two), 0644);
	free(cmd);
	free(two);
	/* One IdP inside an EntitiesDescriptor is fine. */
	two = fmt("<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:"
	    "2.0:metadata\">%s</md:EntitiesDescriptor>", md);
	cmd = fmt("%s/one.xml", dir);
	write_file(cmd, two, strlen(two), 0644);
	free(cmd);
	free(two);
	cmd = fmt("%s/none.xml", dir);
	two = strdup("<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:"
	    "SAML:2.0:metadata\" entityID=\"x\"/>");
	write_file(cmd, two, strlen(two), 0644);
	free(two);
	free(cmd);
	free(md);
	free(md2);
	return (0);
}

/* A config with a saml section; extra lines go inside it. */
static char *
saml_conf(const char *extra)
{
	return (fmt("network \"n\" { src = {\"0.0.0.0/0\"} auth = {saml} }\n"
	    "saml {\n"
	    "  idp_metadata = \"%s/idp.xml\"\n"
	    "  sp_entity_id = \"" SPID "\"\n"
	    "  sp_key = \"%s/sp.key\"\n"
	    "  sp_cert = \"%s/sp.crt\"\n"
	    "  portal = \"https://Auth.example.test/\"\n"
	    "  cookie_key_file = \"%s/cookie.key\"\n"
	    "  verified_domains = {\"Example.test\", \"corp.example\"}\n"
	    "  domain_map = {\"example.test=example\"}\n"
	    "  groups_attribute = \"groups\"\n"
	    "%s}\n", dir, dir, dir, dir, extra));
}

/* Load text with one option's value replaced. */
static struct config *
load_with(const char *opt, const char *value)
{
	char		*text = saml_conf(""), *p, *e, *t2;
	struct config	*c;

	if (opt != NULL && (p = strstr(text, opt)) != NULL) {
		e = strchr(p, '\n');
		*p = '\0';
		t2 = fmt("%s%s = %s%s", text, opt, value, e);
		free(text);
		text = t2;
	} else if (opt != NULL) {
		/* Not in the base text: add it before the closing brace. */
		p = strrchr(text, '}');
		*p = '\0';
		t2 = fmt("%s  %s = %s\n}\n", text, opt, value);
		free(text);
		text = t2;
	}
	c = conf_load("s.conf", text, errbuf, sizeof(errbuf));
	free(text);
	return (c);
}

static int
load_fails(const char *opt, const char *value, const char *want)
{
	struct config	*c = load_with(opt, value);

	if (c != NULL) {
		conf_unref(c);
		snprintf(errbuf, sizeof(errbuf), "(loaded)");
		return (0);
	}
	return (strstr(errbuf, want) != NULL);
}

static void
test_conf(void)
{
	struct config	*c;
	char		*v, *text;

	c = load_with(NULL, NULL);
	CHECK(c != NULL, "good saml section: %s", errbuf);
	if (c != NULL) {
		CHECK(c->saml.enabled && c->saml.sp != NULL, "enabled");
		CHECK(strcmp(c->saml.portal, "https://Auth.example.test") == 0,
		    "portal %s", c->saml.portal);
		CHECK(strcmp(c->saml.portal_host, "auth.example.test") == 0 &&
		    c->saml.portal_port == 443 && c->saml.portal_https,
		    "portal host");
		CHECK(strcmp(c->saml.acs_url,
		    "https://Auth.example.test/iaproxy/saml/acs") == 0, "acs");
		CHECK(c->saml.cookie_key_len == 32, "cookie key");
		CHECK(c->saml.clock_skew == 180 && c->saml.session_idle ==
		    3600 && c->saml.session_max == 43200 &&
		    c->saml.flip_guard == 60, "defaults");
		CHECK(c->saml.nverified_domains == 2 && strcmp(
		    c->saml.verified_domains[0], "example.test") == 0,
		    "domains lower-cased");
		CHECK(c->saml.ndomain_map == 1 && strcmp(
		    c->saml.domain_map[0].realm, "example.test") == 0 &&
		    strcmp(c->saml.domain_map[0].domain, "EXAMPLE") == 0,
		    "domain_map");
		CHECK(c->saml.idp_host != NULL && strcmp(c->saml.idp_host,
		    "idp.example.test") == 0 && c->saml.idp_port == 8443,
		    "idp sso host");
		CHECK(c->networks[0].auth == AUTH_SAML, "auth saml");
		conf_unref(c);
	}
	c = load_with("portal", "\"http://a.test:8080\"");
	CHECK(c != NULL && c->saml.portal_port == 8080 &&
	    !c->saml.portal_https && strcmp(c->saml.acs_url,
	    "http://a.test:8080/iaproxy/saml/acs") == 0, "http portal: %s",
	    errbuf);
	if (c != NULL)
		conf_unref(c);

	CHECK(load_fails("portal", "\"https://a.test/path\"",
	    "s.conf:7: saml portal"), "portal path: %s", errbuf);
	CHECK(load_fails("portal", "\"https://u@a.test\"", "s.conf:7:"),
	    "portal userinfo: %s", errbuf);
	CHECK(load_fails("portal", "\"ftp://a.test\"", "s.conf:7:"),
	    "portal scheme: %s", errbuf);
	CHECK(load_fails("portal", "\"https://a.test:0\"", "s.conf:7:"),
	    "portal port: %s", errbuf);
	v = fmt("\"%s/two.xml\"", dir);
	CHECK(load_fails("idp_metadata", v, "s.conf:3: saml idp_metadata: two "
	    "identity providers configured at once"), "two IdPs: %s", errbuf);
	free(v);
	v = fmt("\"%s/none.xml\"", dir);
	CHECK(load_fails("idp_metadata", v, "s.conf:3: saml idp_metadata: no "
	    "identity provider"), "no IdP: %s", errbuf);
	free(v);
	v = fmt("\"%s/one.xml\"", dir);
	c = load_with("idp_metadata", v);
	CHECK(c != NULL, "one IdP in EntitiesDescriptor: %s", errbuf);
	if (c != NULL)
		conf_unref(c);
	free(v);
	v = fmt("\"%s/missing.xml\"", dir);
	CHECK(load_fails("idp_metadata", v, "s.conf:3: saml idp_metadata"),
	    "missing metadata: %s", errbuf);
	free(v);
	v = fmt("\"%s/sp.crt\"", dir);
	CHECK(load_fails("idp_metadata", v, "s.conf:3: saml idp_metadata"),
	    "metadata not XML: %s", errbuf);
	free(v);
	v = fmt("\"%s/idp.key\"", dir);
	CHECK(load_fails("sp_key", v, "s.conf:5: saml sp_key"),
	    "key does not match cert: %s", errbuf);
	free(v);
	v = fmt("\"%s/sp-open.key\"", dir);
	CHECK(load_fails("sp_key", v, "others have access"),
	    "readable key: %s", errbuf);
	free(v);
	v = fmt("\"%s/idp.xml\"", dir);
	CHECK(load_fails("sp_cert", v, "s.conf:6: saml sp_cert"),
	    "cert not PEM: %s", errbuf);
	free(v);
	v = fmt("\"%s/short.key\"", dir);
	CHECK(load_fails("cookie_key_file", v, "s.conf:8: saml "
	    "cookie_key_file"), "short cookie key: %s", errbuf);
	free(v);
	v = fmt("\"%s/open.key\"", dir);
	CHECK(load_fails("cookie_key_file", v, "others have access"),
	    "readable cookie key: %s", errbuf);
	free(v);
	CHECK(load_fails("verified_domains", "{\".example.test\"}",
	    "s.conf:9: verified_domains"), "suffix domain: %s", errbuf);
	CHECK(load_fails("verified_domains", "{}", "verified_domains is "
	    "required"), "no domains: %s", errbuf);
	CHECK(load_fails("domain_map", "{\"example.test\"}",
	    "s.conf:10: domain_map"), "bad map: %s", errbuf);
	CHECK(load_fails("sp_entity_id", "\"\"", "s.conf:4: sp_entity_id"),
	    "empty entity: %s", errbuf);
	CHECK(load_fails("session_max", "100", "session_max"),
	    "max < idle: %s", errbuf);
	CHECK(load_fails("clock_skew", "-1", "clock_skew"), "skew: %s",
	    errbuf);

	/* Required options, and saml without a section. */
	text = fmt("saml {\n  sp_entity_id = \"x\"\n}\n");
	c = conf_load("r.conf", text, errbuf, sizeof(errbuf));
	CHECK(c == NULL && strstr(errbuf, "r.conf:3: saml: idp_metadata is "
	    "required") != NULL && strstr(errbuf, "cookie_key_file is "
	    "required") != NULL, "required: %s", errbuf);
	free(text);
	c = conf_load("n.conf", "network \"a\" { src = {\"::1\"} auth = {saml} "
	    "}\n", errbuf, sizeof(errbuf));
	CHECK(c == NULL && strcmp(errbuf, "n.conf:1: network 'a' uses saml "
	    "but there is no saml section") == 0, "no section: %s", errbuf);
	v = saml_conf("");
	text = fmt("%ssaml { }\n", v);
	free(v);
	c = conf_load("d.conf", text, errbuf, sizeof(errbuf));
	CHECK(c == NULL && strstr(errbuf, "section given twice") != NULL,
	    "twice: %s", errbuf);
	free(text);
}

/* ------------------------------------------------------------------ */

/* Sign the Signature templates of xml with key (xmlsec1); malloc'd. */
static char *
sign(const char *xml, const char *key, int assertion, int response)
{
	char	*in = fmt("%s/in.xml", dir), *out = fmt("%s/out.xml", dir);
	char	*cmd, *res, *cur = strdup(xml);
	int	 pass;

	for (pass = 0; pass < 2; pass++) {
		if ((pass == 0 && !assertion) || (pass == 1 && !response))
			continue;
		write_file(in, cur, strlen(cur), 0600);
		cmd = fmt("xmlsec1 --sign --privkey-pem %s/%s.key "
		    "--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion "
		    "--id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response "
		    "--node-xpath \"/*/%s*[local-name()='Signature']\" "
		    "--output %s %s", dir, key, pass == 0 ?
		    "*[local-name()='Assertion']/" : "", out, in);
		if (run(cmd) != 0)
			abort();
		free(cmd);
		free(cur);
		cur = read_file(out, NULL);
	}
	res = cur;
	free(in);
	free(out);
	return (res);
}

/* The ACS form for xml with RelayState relay (malloc'd). */
static char *
form(const char *xml, const char *relay)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789+/";
	size_t		 len = strlen(xml), i, o = 0;
	char		*enc = malloc(len / 3 * 4 * 3 + 64), *res;
	const unsigned char *x = (const unsigned char *)xml;
	uint32_t	 v;
	char		 q[4];
	int		 k, n;

	for (i = 0; i < len; i += 3) {
		v = (uint32_t)x[i] << 16;
		n = 2;
		if (i + 1 < len) {
			v |= (uint32_t)x[i + 1] << 8;
			n = 3;
		}
		if (i + 2 < len) {
			v |= x[i + 2];
			n = 4;
		}
		for (k = 0; k < 4; k++) {
			q[k] = k < n ? b64[(v >> (18 - 6 * k)) & 63] : '=';
			/* Form-encode: '+' '/' '=' as %XX. */
			if (q[k] == '+')
				o += (size_t)sprintf(enc + o, "%%2B");
			else if (q[k] == '/')
				o += (size_t)sprintf(enc + o, "%%2F");
			else if (q[k] == '=')
				o += (size_t)sprintf(enc + o, "%%3D");
			else
				enc[o++] = q[k];
		}
	}
	enc[o] = '\0';
	res = fmt("SAMLResponse=%s&RelayState=%s", enc, relay);
	free(enc);
	return (res);
}

/*
 * Start a sign-in from client, then read its request ID back out of the
 * state (taking it) and put it back: what a real IdP would answer.
 */
static int
start(struct config *c, const char *ret, const char *client, char *relay,
    char *reqid, char **loc)
{
	char	 why[256], url[2048], cl[SAML_CLIENT_MAX], *p, *e;

	if (saml_login_start(c->saml.sp, &c->saml, ret, client, NOW, loc, why,
	    sizeof(why)) == -1) {
		fprintf(stderr, "login_start: %s\n", why);
		return (-1);
	}
	if ((p = strstr(*loc, "RelayState=")) == NULL)
		return (-1);
	p += 11;
	e = p + strcspn(p, "&");
	snprintf(relay, 64, "%.*s", (int)(e - p), p);
	if (saml_state_request_take(relay, NOW, reqid, SAML_ID_MAX, url,
	    sizeof(url), cl, sizeof(cl)) == -1)
		return (-1);
	if (strcmp(cl, client != NULL ? client : "") != 0) {
		fprintf(stderr, "start: client %s kept as %s\n", SHOW(client),
		    cl);
		return (-1);
	}
	return (saml_state_request_add(relay, reqid, url, client, NOW + 600,
	    NOW));
}

/*
 * Start a sign-in from client started, and post a Response built from r
 * (InResponseTo set), signed by key, from client posted.  In *relayp (if
 * not NULL) the RelayState, and *bodyp (if not NULL) the form posted
 * (malloc'd).
 */
static int
post_from(struct config *c, const char *started, const char *posted,
    struct resp *r, const char *key, int sa, int sr, const char *tamper_from,
    const char *tamper_to, char **bodyp, struct saml_identity *id, char *why,
    size_t whylen)
{
	char	 relay[64], reqid[SAML_ID_MAX], *loc, *x, *s, *body, *p;
	int	 rc;

	if (start(c, "https://www.example.test/page?a=1", started, relay,
	    reqid, &loc) == -1)
		return (-2);
	free(loc);
	r->in_response_to = r->in_response_to ? r->in_response_to : reqid;
	r->scd_in_response_to = r->scd_in_response_to ?
	    r->scd_in_response_to : reqid;
	r->destination = r->destination ? r->destination : c->saml.acs_url;
	r->recipient = r->recipient ? r->recipient : c->saml.acs_url;
	r->nosig_assertion = !sa;
	r->sign_resp = sr;
	x = resp_xml(r);
	s = key != NULL ? sign(x, key, sa, sr) : strdup(x);
	free(x);
	if (tamper_from != NULL && (p = strstr(s, tamper_from)) != NULL) {
		*p = '\0';
		x = fmt("%s%s%s", s, tamper_to, p + strlen(tamper_from));
		free(s);
		s = x;
	}
	body = form(s, relay);
	free(s);
	rc = saml_acs(c->saml.sp, &c->saml, body, strlen(body), posted, NOW,
	    id, why, whylen);
	if (bodyp != NULL)
		*bodyp = body;
	else
		free(body);
	return (rc);
}

/* Post from the address that started the sign-in. */
static int
post(struct config *c, struct resp *r, const char *key, int sa, int sr,
    const char *tamper_from, const char *tamper_to,
    struct saml_identity *id, char *why, size_t whylen)
{
	return (post_from(c, CLIENT, CLIENT, r, key, sa, sr, tamper_from,
	    tamper_to, NULL, id, why, whylen));
}

#define POST_FAILS(want, key, sa, sr, from, to, ...) do {		\
	struct saml_identity id_;					\
	char w_[512];							\
	int rc_ = post(c, &(struct resp){ __VA_ARGS__ }, key, sa, sr,	\
	    from, to, &id_, w_, sizeof(w_));				\
	CHECK(rc_ == -1 && strstr(w_, want) != NULL,			\
	    "want '%s', got %d '%s'", want, rc_, rc_ == 0 ? id_.user : w_); \
	if (rc_ == 0)							\
		saml_identity_clear(&id_);				\
} while (0)

#define ANOTHER	"the sign-in was started from another address"

/*
 * The client address a sign-in is bound to (login CSRF): a good Response
 * posted from another address than the one that went to the login is
 * refused and uses up its request; the same address is accepted however
 * it is written.
 */
static void
test_acs_client(struct config *c)
{
	static const struct {
		const char	*started, *posted, *aid;
		int		 ok;
	} cases[] = {
		{ CLIENT, CLIENT, "_c1", 1 },
		{ CLIENT, "192.0.2.11", "_c2", 0 },
		/* A dual-stack listener's form of the same IPv4 address. */
		{ CLIENT, "::ffff:" CLIENT, "_c3", 1 },
		{ "::ffff:" CLIENT, CLIENT, "_c4", 1 },
		{ "::ffff:" CLIENT, "::ffff:192.0.2.11", "_c5", 0 },
		{ "2001:db8::1", "2001:DB8:0::1", "_c6", 1 },
		{ "2001:db8::1", "2001:db8::2", "_c7", 0 },
		/* IPv4 and an IPv6 address ending in the same bytes. */
		{ CLIENT, "::" CLIENT, "_c8", 0 },
		/* Started without an address: no address matches it. */
		{ NULL, CLIENT, "_c9", 0 },
	};
	struct saml_identity	 id;
	char			 why[512], *body;
	size_t			 i, nreq0, nreq, nrep;
	int			 rc;

	saml_state_counts(&nreq0, &nrep);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = NULL;
		rc = post_from(c, cases[i].started, cases[i].posted,
		    &(struct resp){ .assertion_id = cases[i].aid }, "idp", 1, 0,
		    NULL, NULL, &body, &id, why, sizeof(why));
		if (cases[i].ok)
			CHECK(rc == 0, "from %s, posted from %s: accepted: %s",
			    SHOW(cases[i].started), cases[i].posted, why);
		else
			CHECK(rc == -1 && strncmp(why, ANOTHER,
			    strlen(ANOTHER)) == 0, "from %s, posted from %s: "
			    "refused, got %d '%s'", SHOW(cases[i].started),
			    cases[i].posted, rc, rc == 0 ? id.user : why);
		if (rc == 0)
			saml_identity_clear(&id);
		/* Used up either way: the same form again is unsolicited. */
		if (body != NULL) {
			rc = saml_acs(c->saml.sp, &c->saml, body, strlen(body),
			    cases[i].started, NOW, &id, why, sizeof(why));
			CHECK(rc == -1 && strstr(why, "unsolicited") != NULL,
			    "from %s, posted from %s: the request is used up: "
			    "%s", SHOW(cases[i].started), cases[i].posted, why);
			free(body);
		}
	}
	/* The refusal names where the sign-in started. */
	rc = post_from(c, CLIENT, "198.51.100.7", &(struct resp){
	    .assertion_id = "_c10" }, "idp", 1, 0, NULL, NULL, NULL, &id, why,
	    sizeof(why));
	CHECK(rc == -1 && strstr(why, "(" CLIENT ")") != NULL, "why: %s", why);
	/* No client at the ACS: no check (the bench's seam). */
	rc = post_from(c, CLIENT, NULL, &(struct resp){ .assertion_id =
	    "_c11" }, "idp", 1, 0, NULL, NULL, NULL, &id, why, sizeof(why));
	CHECK(rc == 0, "no client at the ACS: accepted: %s", why);
	if (rc == 0)
		saml_identity_clear(&id);
	/* Every request above was taken, refused or not. */
	saml_state_counts(&nreq, &nrep);
	CHECK(nreq == nreq0, "no request left outstanding: %zu, was %zu",
	    nreq, nreq0);
}

static void
test_acs(void)
{
	struct config		*c;
	struct saml_identity	 id;
	char			 why[512], relay[64], reqid[SAML_ID_MAX];
	char			*loc, *md, *x, *s, *body;
	size_t			 len;
	int			 rc;

	saml_state_reset(0, 0);
	if ((c = load_with(NULL, NULL)) == NULL) {
		CHECK(0, "config: %s", errbuf);
		return;
	}
	md = saml_sp_metadata(c->saml.sp, &len);
	CHECK(md != NULL && strstr(md, "entityID=\"" SPID "\"") != NULL &&
	    strstr(md, "AuthnRequestsSigned=\"true\"") != NULL &&
	    strstr(md, "WantAssertionsSigned=\"true\"") != NULL &&
	    strstr(md, "use=\"signing\"") != NULL &&
	    strstr(md, "bindings:HTTP-POST\" Location=\"https://Auth.example."
	    "test/iaproxy/saml/acs\"") != NULL && strlen(md) == len,
	    "metadata");
	free(md);

	/* The AuthnRequest. */
	rc = saml_login_start(c->saml.sp, &c->saml, "https://www.example.test/"
	    "x", CLIENT, NOW, &loc, why, sizeof(why));
	CHECK(rc == 0, "login start: %s", why);
	if (rc == 0) {
		CHECK(strncmp(loc, "https://IdP.example.test:8443/sso?", 34) ==
		    0, "to the IdP: %.60s", loc);
		CHECK(strstr(loc, "SAMLRequest=") != NULL &&
		    strstr(loc, "RelayState=") != NULL &&
		    strstr(loc, "Signature=") != NULL, "signed redirect");
		CHECK(strstr(loc, "SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2F"
		    "xmldsig-more%23rsa-sha256") != NULL, "RSA-SHA256: %s", loc);
		free(loc);
	}
	/* A bad return URL becomes the portal's whoami page. */
	if (start(c, "javascript:alert(1)", CLIENT, relay, reqid, &loc) == 0) {
		char url[2048], id2[SAML_ID_MAX], cl[SAML_CLIENT_MAX];

		free(loc);
		CHECK(saml_state_request_take(relay, NOW, id2, sizeof(id2), url,
		    sizeof(url), cl, sizeof(cl)) == 0 && strcmp(url,
		    "https://Auth.example.test/iaproxy/whoami") == 0 &&
		    strcmp(cl, CLIENT) == 0, "whoami: %s (%s)", url, cl);
	} else
		CHECK(0, "start");

	/* Good, assertion signed. */
	rc = post(c, &(struct resp){ 0 }, "idp", 1, 0, NULL, NULL, &id, why,
	    sizeof(why));
	CHECK(rc == 0, "good response: %s", why);
	if (rc == 0) {
		CHECK(strcmp(id.user, "EXAMPLE\\alice") == 0, "user %s", id.user);
		CHECK(strcmp(id.name_id, "alice@Example.test") == 0, "nameid");
		CHECK(strcmp(id.return_url, "https://www.example.test/page?a=1")
		    == 0, "return url");
		CHECK(id.ngroups == 2, "groups");
		CHECK(id.not_on_or_after == NOW + 3600, "end");
		saml_identity_clear(&id);
	}
	/* Response signed only, both signed; an unmapped domain. */
	rc = post(c, &(struct resp){ .assertion_id = "_a2", .name_id =
	    "bob@corp.example" }, "idp", 0, 1, NULL, NULL, &id, why,
	    sizeof(why));
	CHECK(rc == 0 && strcmp(id.user, "bob@corp.example") == 0,
	    "response signed: %s", why);
	if (rc == 0)
		saml_identity_clear(&id);
	rc = post(c, &(struct resp){ .assertion_id = "_a3" }, "idp", 1, 1,
	    NULL, NULL, &id, why, sizeof(why));
	CHECK(rc == 0, "both signed: %s", why);
	if (rc == 0)
		saml_identity_clear(&id);

	/* Replay: the same assertion ID again, on a fresh request. */
	POST_FAILS("replay", "idp", 1, 0, NULL, NULL, .assertion_id = "_a3");

	/* Signatures. */
	POST_FAILS("signature", NULL, 1, 0, NULL, NULL, .assertion_id = "_u1");
	POST_FAILS("signature", NULL, 0, 0, NULL, NULL, .assertion_id = "_u2");
	POST_FAILS("signature", "evil", 1, 0, NULL, NULL, .assertion_id =
	    "_e1");
	POST_FAILS("signature", "evil", 0, 1, NULL, NULL, .assertion_id =
	    "_e2");
	POST_FAILS("signature", "idp", 1, 0, "alice@Example.test",
	    "root@Example.test", .assertion_id = "_t1");
	POST_FAILS("signature", "idp", 0, 1, "alice@Example.test",
	    "root@Example.test", .assertion_id = "_t2");
	/*
	 * Wrapping: a forged assertion next to the signed one, and one in
	 * Extensions of a signed Response.  lasso refuses both already
	 * (the forged one is unsigned; the Response's digest changed); the
	 * same documents fail our own checks in test_checks().
	 */
	POST_FAILS("", "idp", 1, 0, "<saml:Assertion ID=\"_w1\"",
	    "<saml:Assertion ID=\"_evil\" Version=\"2.0\"><saml:Issuer>"
	    IDPID "</saml:Issuer></saml:Assertion><saml:Assertion ID=\"_w1\"",
	    .assertion_id = "_w1");
	POST_FAILS("signature", "idp", 0, 1, "<samlp:Status>",
	    "<samlp:Extensions><saml:Assertion ID=\"_evil\"/>"
	    "</samlp:Extensions><samlp:Status>", .assertion_id = "_w2");

	/* What lasso leaves to us, on properly signed responses. */
	POST_FAILS("Destination", "idp", 1, 0, NULL, NULL, .assertion_id =
	    "_d1", .destination = "https://evil.test/acs");
	POST_FAILS("Recipient", "idp", 1, 0, NULL, NULL, .assertion_id =
	    "_d2", .recipient = "https://evil.test/acs");
	POST_FAILS("Audience", "idp", 1, 0, NULL, NULL, .assertion_id = "_d3",
	    .audiences = "<saml:AudienceRestriction><saml:Audience>https://"
	    "other.test/</saml:Audience><saml:Audience>https://third.test/"
	    "</saml:Audience></saml:AudienceRestriction>");
	POST_FAILS("InResponseTo", "idp", 1, 0, NULL, NULL, .assertion_id =
	    "_d4", .in_response_to = "_nope", .scd_in_response_to = "_nope");
	POST_FAILS("Conditions NotOnOrAfter", "idp", 1, 0, NULL, NULL,
	    .assertion_id = "_d5", .cond_nooa = -600);
	POST_FAILS("SubjectConfirmationData NotOnOrAfter", "idp", 1, 0, NULL,
	    NULL, .assertion_id = "_d9", .scd_nooa = -600);
	POST_FAILS("NotBefore", "idp", 1, 0, NULL, NULL, .assertion_id =
	    "_d6", .cond_nb = 600);
	POST_FAILS("NameID: domain", "idp", 1, 0, NULL, NULL, .assertion_id =
	    "_d7", .name_id = "eve@evil.test");
	POST_FAILS("DTD", "idp", 1, 0, "<samlp:Response", "<!DOCTYPE r>"
	    "<samlp:Response", .assertion_id = "_d8");

	/* Unsolicited: a signed response with no RelayState we know. */
	x = resp_xml(&(struct resp){ .assertion_id =
	    "_x1", .destination = c->saml.acs_url, .recipient =
	    c->saml.acs_url });
	s = sign(x, "idp", 1, 0);
	body = form(s, "AAAAAAAAAAAAAAAAAAAAAA");
	rc = saml_acs(c->saml.sp, &c->saml, body, strlen(body), CLIENT, NOW,
	    &id, why, sizeof(why));
	CHECK(rc == -1 && strstr(why, "unsolicited") != NULL, "unsolicited: "
	    "%s", why);
	free(x);
	free(s);
	free(body);
	CHECK(saml_acs(c->saml.sp, &c->saml, "SAMLResponse=%%%", 16, CLIENT,
	    NOW, &id, why, sizeof(why)) == -1 && strncmp(why, "form", 4) == 0,
	    "bad form: %s", why);

	test_acs_client(c);
	conf_unref(c);
	saml_state_reset(0, 0);
}

int
main(void)
{
	char	*cmd;

	test_form();
	test_b64();
	test_return_url();
	test_dtd();
	test_time();
	test_state();
	test_checks();
	if (setup_files() == 0) {
		test_conf();
		test_acs();
	} else
		CHECK(0, "cannot make keys in %s (openssl, xmlsec1?)", dir);
	cmd = fmt("rm -rf %s", dir);
	if (dir[0] != '\0')
		system(cmd);
	free(cmd);
	return (unit_done("t_saml"));
}
