/*
 * saml_bench: ACS verifications per second of the SAML service provider
 * (auth/saml*.c on lasso), in-process, on one core.
 *
 *   saml_bench [-t SECONDS] [-n RESPONSES]
 *
 * It makes an SP and an IdP key pair (openssl req, RSA-2048) and the IdP
 * metadata in a mktemp -d directory, loads a config with a saml section
 * through conf_load() as the daemon does, and signs Responses with the
 * IdP key using xmlsec1 (RSA-SHA256, exclusive c14n, the Assertion
 * signed as Entra does by default, or the Response as well).  Then:
 *
 *   verify     one signed Response through everything saml_acs() does
 *              after the form: base64, the DTD refusal and libxml2 parse,
 *              lasso's signature check, our checks -- but the replay
 *              cache, so the same Response can be verified again
 *              (saml_acs_response(), a PROXY_TESTING seam), for -t
 *              seconds (default 3); assertion signed, then both signed
 *   acs        RESPONSES distinct Responses (default 50), each answering
 *              its own outstanding request, through saml_acs() itself:
 *              the form, the RelayState and its client address, the
 *              replay cache, all of it
 *   start      saml_login_start(): a signed AuthnRequest redirect
 *
 * The cost of the IP-session lookup each request pays after sign-in is
 * measured by the portal engineer's tests/bench/session_bench, not here.
 * Times are CPU time of the process (one thread) and wall clock.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "saml.h"

#define NOW	((time_t)1800000000)	/* 2027-01-15T08:00:00Z */
#define SPID	"https://proxy.example.test/saml"
#define IDPID	"https://idp.example.test/"
#define CLIENT	"192.0.2.10"	/* the browser, at the login and the ACS */

static char	dir[64];

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

static double
cpu_now(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

static double
wall_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static char *
slurp(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 len;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	if ((buf = malloc((size_t)len + 1)) == NULL ||
	    fread(buf, 1, (size_t)len, f) != (size_t)len)
		abort();
	buf[len] = '\0';
	fclose(f);
	return (buf);
}

static void
spew(const char *path, const char *text, int mode)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

static const char *
at(long off, char buf[32])
{
	time_t		t = NOW + off;
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return (buf);
}

#define SIG(id) "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/" \
	"xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"" \
	"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod " \
	"Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>" \
	"<ds:Reference URI=\"#" id "\"><ds:Transforms><ds:Transform " \
	"Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature" \
	"\"/><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-" \
	"c14n#\"/></ds:Transforms><ds:DigestMethod Algorithm=\"http://www." \
	"w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue></ds:DigestValue>" \
	"</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:Signature" \
	"Value></ds:Signature>"

/* A signed Response (base64) answering reqid, assertion aid. */
static char *
response(const char *acs, const char *reqid, const char *aid, int both)
{
	char	 t0[32], t1[32], t2[32], t3[32], *x, *cmd, *b64, *rsig, *cmd2;
	char	*in = fmt("%s/in.xml", dir), *o = fmt("%s/out.xml", dir);
	char	*o2 = fmt("%s/out2.xml", dir), *b = fmt("%s/b64", dir);

	rsig = both ? fmt(SIG("_r%s"), aid) : strdup("");
	cmd2 = both ? fmt("xmlsec1 --sign --privkey-pem %s/idp.key --id-attr:ID "
	    "urn:oasis:names:tc:SAML:2.0:protocol:Response --node-xpath "
	    "\"/*/*[local-name()='Signature']\" --output %s %s &&", dir, o2, o) :
	    strdup("");
	x = fmt("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:"
	    "protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
	    "ID=\"_r%s\" Version=\"2.0\" IssueInstant=\"%s\" Destination=\"%s\" "
	    "InResponseTo=\"%s\"><saml:Issuer>" IDPID "</saml:Issuer>%s"
	    "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:"
	    "2.0:status:Success\"/></samlp:Status>"
	    "<saml:Assertion ID=\"%s\" Version=\"2.0\" IssueInstant=\"%s\">"
	    "<saml:Issuer>" IDPID "</saml:Issuer>" SIG("%s")
	    "<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:"
	    "nameid-format:emailAddress\">alice@example.test</saml:NameID>"
	    "<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:"
	    "cm:bearer\"><saml:SubjectConfirmationData InResponseTo=\"%s\" "
	    "Recipient=\"%s\" NotOnOrAfter=\"%s\"/></saml:SubjectConfirmation>"
	    "</saml:Subject><saml:Conditions NotBefore=\"%s\" NotOnOrAfter="
	    "\"%s\"><saml:AudienceRestriction><saml:Audience>" SPID
	    "</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
	    "<saml:AuthnStatement AuthnInstant=\"%s\" SessionIndex=\"_s1\">"
	    "<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:"
	    "SAML:2.0:ac:classes:PasswordProtectedTransport"
	    "</saml:AuthnContextClassRef></saml:AuthnContext>"
	    "</saml:AuthnStatement><saml:AttributeStatement><saml:Attribute "
	    "Name=\"groups\"><saml:AttributeValue>Staff</saml:AttributeValue>"
	    "<saml:AttributeValue>Finance</saml:AttributeValue>"
	    "</saml:Attribute></saml:AttributeStatement></saml:Assertion>"
	    "</samlp:Response>", aid, at(0, t0), acs, reqid,
	    rsig, aid, t0, aid, reqid, acs,
	    at(300, t1), at(-60, t2), at(3600, t3), t0);
	spew(in, x, 0600);
	cmd = fmt("xmlsec1 --sign --privkey-pem %s/idp.key --id-attr:ID "
	    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion --id-attr:ID "
	    "urn:oasis:names:tc:SAML:2.0:protocol:Response --node-xpath "
	    "\"/*/*[local-name()='Assertion']/*[local-name()='Signature']\" "
	    "--output %s %s && %s base64 -w 76 %s > %s", dir, o, in, cmd2,
	    both ? o2 : o, b);
	if (system(cmd) != 0) {
		fprintf(stderr, "xmlsec1 failed: %s\n", cmd);
		exit(2);
	}
	b64 = slurp(b);
	free(rsig);
	free(cmd2);
	free(x);
	free(cmd);
	free(in);
	free(o);
	free(o2);
	free(b);
	return (b64);
}

/* The form body for a base64 Response (%-encoding + / = and newlines). */
static char *
form(const char *b64, const char *relay)
{
	size_t	 i, o = 0;
	char	*enc = malloc(strlen(b64) * 3 + 1), *res;

	for (i = 0; b64[i] != '\0'; i++) {
		if (strchr("+/=\n", b64[i]) != NULL)
			o += (size_t)sprintf(enc + o, "%%%02X",
			    (unsigned char)b64[i]);
		else
			enc[o++] = b64[i];
	}
	enc[o] = '\0';
	res = fmt("SAMLResponse=%s&RelayState=%s", enc, relay);
	free(enc);
	return (res);
}

static void
usage(void)
{
	fprintf(stderr, "usage: saml_bench [-t SECONDS] [-n RESPONSES]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct config		*c;
	struct saml_identity	 id;
	char			 err[4096], why[512], tok[32], rid[32], aid[32];
	char			*cmd, *pem, *b, *e, *md, *text, *one, *two;
	char			**bodies, *loc;
	double			 secs = 3, c0, w0, cpu1, wall1, cpu2, wall2;
	double			 cpu3, wall3, cpu4, wall4;
	long			 n1 = 0, n2 = 0, n4 = 0;
	int			 ch, nresp = 50, i, bad = 0;

	while ((ch = getopt(argc, argv, "t:n:")) != -1) {
		switch (ch) {
		case 't':
			secs = atof(optarg);
			break;
		case 'n':
			nresp = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (secs <= 0 || nresp < 1)
		usage();

	snprintf(dir, sizeof(dir), "/tmp/saml_bench.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return (2);
	cmd = fmt("cd %s && for k in sp idp; do openssl req -x509 -newkey "
	    "rsa:2048 -nodes -keyout $k.key -out $k.crt -days 3650 -subj "
	    "/CN=$k >/dev/null 2>&1 || exit 1; done && chmod 600 *.key && "
	    "head -c 32 /dev/urandom > cookie.key && chmod 600 cookie.key", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "openssl failed\n");
		return (2);
	}
	free(cmd);
	cmd = fmt("%s/idp.crt", dir);
	pem = slurp(cmd);
	free(cmd);
	b = strstr(pem, "-----BEGIN CERTIFICATE-----") + 27;
	e = strstr(b, "-----END");
	*e = '\0';
	md = fmt("<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:"
	    "metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" "
	    "entityID=\"" IDPID "\"><md:IDPSSODescriptor "
	    "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol"
	    "\"><md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data>"
	    "<ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data>"
	    "</ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="
	    "\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location="
	    "\"https://idp.example.test/sso\"/></md:IDPSSODescriptor>"
	    "</md:EntityDescriptor>\n", b);
	cmd = fmt("%s/idp.xml", dir);
	spew(cmd, md, 0644);
	free(cmd);
	free(md);
	free(pem);
	text = fmt("network \"n\" { src = {\"0.0.0.0/0\"} auth = {saml} }\n"
	    "saml {\n idp_metadata = \"%s/idp.xml\"\n sp_entity_id = \"" SPID
	    "\"\n sp_key = \"%s/sp.key\"\n sp_cert = \"%s/sp.crt\"\n portal = "
	    "\"https://auth.example.test\"\n cookie_key_file = "
	    "\"%s/cookie.key\"\n verified_domains = {\"example.test\"}\n "
	    "domain_map = {\"example.test=EXAMPLE\"}\n groups_attribute = "
	    "\"groups\"\n}\n", dir, dir, dir, dir);
	if ((c = conf_load("bench.conf", text, err, sizeof(err))) == NULL) {
		fprintf(stderr, "config: %s\n", err);
		return (2);
	}
	free(text);

	/* verify: one Response again and again, no replay cache. */
	one = response(c->saml.acs_url, "_req", "_bench1", 0);
	two = response(c->saml.acs_url, "_req", "_bench2", 1);
	printf("Response: %zu bytes of base64, RSA-2048, RSA-SHA256\n",
	    strlen(one));
	c0 = cpu_now();
	w0 = wall_now();
	do {
		if (saml_acs_response(c->saml.sp, &c->saml, one, strlen(one),
		    "_req", NOW, 0, &id, why, sizeof(why)) != 0) {
			fprintf(stderr, "verify failed: %s\n", why);
			return (1);
		}
		saml_identity_clear(&id);
		n1++;
	} while (wall_now() - w0 < secs);
	cpu1 = cpu_now() - c0;
	wall1 = wall_now() - w0;
	c0 = cpu_now();
	w0 = wall_now();
	do {
		if (saml_acs_response(c->saml.sp, &c->saml, two, strlen(two),
		    "_req", NOW, 0, &id, why, sizeof(why)) != 0) {
			fprintf(stderr, "verify (both signed) failed: %s\n", why);
			return (1);
		}
		saml_identity_clear(&id);
		n2++;
	} while (wall_now() - w0 < secs);
	cpu2 = cpu_now() - c0;
	wall2 = wall_now() - w0;

	/* acs: distinct Responses through saml_acs() itself. */
	printf("signing %d distinct Responses with xmlsec1 ...\n", nresp);
	bodies = calloc((size_t)nresp, sizeof(char *));
	for (i = 0; i < nresp; i++) {
		snprintf(tok, sizeof(tok), "benchtoken%06d", i);
		snprintf(rid, sizeof(rid), "_req%06d", i);
		snprintf(aid, sizeof(aid), "_as%06d", i);
		saml_state_request_add(tok, rid, "https://www.example.test/",
		    CLIENT, NOW + 600, NOW);
		b = response(c->saml.acs_url, rid, aid, 0);
		bodies[i] = form(b, tok);
		free(b);
	}
	c0 = cpu_now();
	w0 = wall_now();
	for (i = 0; i < nresp; i++) {
		if (saml_acs(c->saml.sp, &c->saml, bodies[i],
		    strlen(bodies[i]), CLIENT, NOW, &id, why,
		    sizeof(why)) != 0) {
			fprintf(stderr, "acs %d: %s\n", i, why);
			bad++;
		} else
			saml_identity_clear(&id);
	}
	cpu3 = cpu_now() - c0;
	wall3 = wall_now() - w0;
	/* And every one again: each must be refused (used RelayState). */
	for (i = 0; i < nresp; i++) {
		if (saml_acs(c->saml.sp, &c->saml, bodies[i],
		    strlen(bodies[i]), CLIENT, NOW, &id, why,
		    sizeof(why)) == 0) {
			fprintf(stderr, "acs %d accepted twice\n", i);
			bad++;
			saml_identity_clear(&id);
		}
		free(bodies[i]);
	}
	free(bodies);

	/* start: signed AuthnRequests. */
	c0 = cpu_now();
	w0 = wall_now();
	do {
		if (saml_login_start(c->saml.sp, &c->saml,
		    "https://www.example.test/", CLIENT, NOW, &loc, why,
		    sizeof(why)) != 0) {
			fprintf(stderr, "start: %s\n", why);
			return (1);
		}
		free(loc);
		n4++;
	} while (wall_now() - w0 < secs / 3);
	cpu4 = cpu_now() - c0;
	wall4 = wall_now() - w0;

	printf("ACS verifications per CPU second (wall-clock rate in "
	    "brackets):\n");
	printf("verify, assertion signed:  %.0f/s [%.0f/s] (%.0f us each)\n",
	    n1 / cpu1, n1 / wall1, cpu1 / n1 * 1e6);
	printf("verify, both signed:       %.0f/s [%.0f/s] (%.0f us each)\n",
	    n2 / cpu2, n2 / wall2, cpu2 / n2 * 1e6);
	printf("saml_acs, %d distinct:     %.0f/s [%.0f/s] (%.0f us each), "
	    "%d refused\n", nresp, nresp / cpu3, nresp / wall3,
	    cpu3 / nresp * 1e6, bad);
	printf("AuthnRequest redirects:    %.0f/s [%.0f/s] (%.0f us each)\n",
	    n4 / cpu4, n4 / wall4, cpu4 / n4 * 1e6);
	printf("IP-session lookup per request: measured by "
	    "tests/bench/session_bench (the portal's), not here\n");
	printf("\n| figure | value | goal |\n|---|---|---|\n");
	printf("| ACS verifications/s, one core (lasso + checks) | %.0f | "
	    "> 500 |\n", n1 / cpu1);
	printf("| saml_acs end to end, per sign-in | %.2f ms | < 5 ms |\n",
	    cpu3 / nresp * 1e3);

	conf_unref(c);
	cmd = fmt("rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
	free(one);
	free(two);
	return (bad == 0 && n1 / cpu1 > 500 ? 0 : 1);
}
