#!/usr/bin/python3
"""SAML sign-in end to end (issue 7), with real curl and a cookie jar,
against the lasso test IdP of saml_idp.py (python3-lasso, xmlsec1).

The proxy runs in its own mount namespace with an /etc/hosts that names
idp.example.test (the IdP, 127.0.0.1:ephemeral), so it is reached through
the proxy like a real IdP; the portal auth.example.test:PROXYPORT is the
gateway itself.  The IdP verifies every AuthnRequest (RSA-SHA256, against
the SP metadata the gateway serves at /iaproxy/saml/metadata) and logs the
user in without a form.

Covered:
  - the IdP on its own first (saml_idp.py --selftest: a lasso SP and
    xmlsec1 check each mutation makes exactly its one defect);
  - the SP metadata served on the portal host, through the proxy and
    directly;
  - the flow: plain GET -> 302 portal login -> 302/303 IdP (signed
    AuthnRequest, short RelayState) -> form -> POST ACS -> 303 to the
    original URL with the session cookie (HttpOnly, Path=/, SameSite,
    no Domain, no Secure on an http portal) -> the origin's answer; a
    CONNECT from the same IP then passes and is logged as the user with
    auth "saml"; whoami by IP session and by the cookie alone (from
    another source address), not by another address without it; logout;
  - each rejection as its own check: 403 "sign-in failed", no session
    (whoami 401, a plain GET still 302), the log line naming the check,
    and neither the response nor the assertion in the log;
  - the accepted controls (re-signed; one AudienceRestriction with two
    Audiences);
  - replay of an accepted form, as it was and under a fresh RelayState,
    and an assertion ID reused in a fresh response to a fresh request
    (only the replay cache can catch that one);
  - login CSRF: a good form for a sign-in started from 127.0.0.1, posted
    from 127.0.0.2 with the same cookie jar, is refused ("started from
    another address"), binds neither address, and uses up its request;
  - a CONNECT without identity on a saml-only network: 403 "sign-in
    required"; with auth = {negotiate, ntlm, saml}: 407 whose HTML body
    links the portal;
  - open redirects (javascript:, //evil) end on whoami;
  - `iaproxy -t`: a metadata file with two IdPs, and a network naming
    saml with no saml section: FILE:LINE;
  - a second proxy with session_idle = 2, domain_map and
    groups_attribute: the log says EXAMPLE\\alice with the assertion's
    groups; the cookie refreshes an expired IP session without the IdP
  - the admin socket lists the IP session and signs it out.
"""

import base64
import html
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import peers
from saml_peer import IDP_HOST, IDP_PY, IdpProc
import ntlm_client as nc
from harness import Raw, hget, hget1, pattern

SP_ENTITY = "https://proxy.example.test/iaproxy"
PORTAL_HOST = "auth.example.test"
USER = "alice@example.test"
GROUPS = ["Staff", "VPN Users"]
GROUPS_ATTR = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"

# mutation -> what the proxy's log must name (regular expression, any
# case) on the "saml sign-in refused" line.
REJECT = [
	("expired", r"NotOnOrAfter|expired"),
	("expired_scd", r"NotOnOrAfter|expired|SubjectConfirmation"),
	("expired_cond", r"Conditions"),
	("notyet", r"NotBefore|not yet"),
	("audience", r"audience"),
	("audience_extra", r"audience"),
	("audience_none", r"audience"),
	("destination", r"destination"),
	("recipient", r"recipient"),
	("bearer", r"bearer|method|SubjectConfirmation"),
	("unsolicited", r"InResponseTo|unsolicited"),
	("inresponseto", r"InResponseTo"),
	("inresponseto_scd", r"InResponseTo"),
	("issuer", r"issuer|provider"),
	("unsigned", r"sign"),
	("untrusted_key", r"sign|key|certificate"),
	("altered", r"sign|digest"),
	("wrap_extra", r"assertion|wrap|sign"),
	("wrap_after", r"assertion|wrap|sign"),
	("wrap_extensions", r"assertion|wrap|sign"),
	("wrap_object", r"assertion|wrap|sign"),
	("wrap_response", r"assertion|response|wrap|sign"),
	("domain", r"domain|verified"),
	("dtd", r"DTD|DOCTYPE|entit"),
	("two_assertions", r"assertion"),
]


class Browser:
	"""curl through the proxy with one cookie jar, redirects followed by
	hand so that every step can be checked; iface picks the source
	address (127.0.0.x)."""

	seq = 0

	def __init__(self, t, p, iface=None):
		Browser.seq += 1
		self.t = t
		self.p = p
		self.jar = os.path.join(t.tmpdir, "jar%d" % Browser.seq)
		self.iface = iface

	def args(self, cookies=True):
		a = []
		if cookies:
			a += ["-b", self.jar, "-c", self.jar]
		if self.iface:
			a += ["--interface", self.iface]
		return a

	def get(self, url, *extra, cookies=True):
		return harness.curl(self.p, url, *(self.args(cookies) + list(extra)))

	def post_form(self, action, fields, cookies=True):
		a = []
		for k, v in fields.items():
			f = os.path.join(self.t.tmpdir, "field.%s.%s" % (k,
			    secrets.token_hex(4)))
			with open(f, "w") as fh:
				fh.write(v)
			a += ["--data-urlencode", "%s@%s" % (k, f)]
		return harness.curl(self.p, action, *(self.args(cookies) + a))

	def cookie(self):
		"""The iaproxy_session value in the jar, or None."""
		try:
			for l in open(self.jar):
				f = l.rstrip("\n").split("\t")
				if len(f) == 7 and f[5] == "iaproxy_session":
					return f[6]
		except FileNotFoundError:
			pass
		return None

	def forget(self):
		try:
			os.unlink(self.jar)
		except FileNotFoundError:
			pass


def location(r):
	return hget1(r.headers, "Location") if r.status else None


def parse_form(body):
	"""(action, {name: value}) of the IdP's auto-post page."""
	text = body.decode("utf-8", "replace")
	m = re.search(r'<form[^>]*action="([^"]*)"', text)
	fields = {html.unescape(k): html.unescape(v) for k, v in re.findall(
	    r'<input type="hidden" name="([^"]*)" value="([^"]*)"', text)}
	return (html.unescape(m.group(1)) if m else None), fields


class Env:
	"""What every part of the test shares."""

	def __init__(self, t, o, idp, p):
		self.t, self.o, self.idp, self.p = t, o, idp, p
		self.portal = "http://%s:%d" % (PORTAL_HOST, p.port)
		self.acs = self.portal + "/iaproxy/saml/acs"


def to_form(t, e, b, url, what, quiet=False):
	"""Plain GET url with no identity -> 302 portal -> redirect to the
	IdP -> the IdP's form.  (action, fields, idp url) or None; with quiet
	only failures are checks."""
	def ck(cond, msg, detail=""):
		if quiet and cond:
			return True
		return t.check(cond, "%s: %s" % (what, msg), detail)

	r = b.get(url)
	loc = location(r)
	want = e.portal + "/iaproxy/login?url="
	if not ck(r.status == 302 and loc and loc.startswith(want),
	    "plain GET with no identity -> 302 to the portal's login",
	    "(%r %r)" % (r, loc)):
		return None
	q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
	ck(q.get("url") == [url], "the login link carries the URL, encoded",
	    "(%r)" % loc)
	return login_to_form(t, e, b, loc, what, quiet)


def login_to_form(t, e, b, login_url, what, quiet=False):
	def ck(cond, msg, detail=""):
		if quiet and cond:
			return True
		return t.check(cond, "%s: %s" % (what, msg), detail)

	r = b.get(login_url)
	loc = location(r)
	if not ck(r.status in (302, 303) and loc and loc.startswith(
	    e.idp.sso + "?"), "portal login -> redirect to the IdP's SSO",
	    "(%r %r %r)" % (r, loc, r.body[:200])):
		return None
	q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
	rs = q.get("RelayState", [""])[0]
	ck(len(q.get("SAMLRequest", [])) == 1 and q.get("SigAlg") ==
	    [RSA_SHA256] and len(q.get("Signature", [])) == 1,
	    "the AuthnRequest is signed for HTTP-Redirect with RSA-SHA256",
	    "(%r)" % sorted(q))
	ck(0 < len(rs) <= 80 and "example" not in rs and "http" not in rs,
	    "RelayState is a short opaque token (bindings 3.4.3)",
	    "(%r)" % rs)
	ck(hget1(r.headers, "Cache-Control") == "no-store",
	    "portal answers carry Cache-Control: no-store",
	    "(%r)" % hget1(r.headers, "Cache-Control"))
	n = len(e.idp.events())
	r = b.get(loc)
	ev = e.idp.events()[n:]
	if not ck(r.status == 200 and ev and ev[-1]["ok"], "the IdP "
	    "verified the AuthnRequest and answered its form (through the "
	    "proxy, no sign-in needed for the IdP host)", "(%r %r %r)" % (
	    r, ev, r.body[:300])):
		return None
	action, fields = parse_form(r.body)
	ck(action == e.acs and set(fields) == {"SAMLResponse", "RelayState"}
	    and fields["RelayState"] == rs, "the form posts SAMLResponse and "
	    "the RelayState to our ACS", "(%r %r)" % (action, sorted(fields)))
	return action, fields, loc


def whoami(b, e, cookies=True):
	r = b.get(e.portal + "/iaproxy/whoami", cookies=cookies)
	first = r.body.decode("utf-8", "replace").split("\n")[0].strip()
	return r.status, first


def cookie_checks(t, r, what, session_max=43200):
	sc = [v for v in hget(r.headers, "Set-Cookie") if
	    v.startswith("iaproxy_session=")]
	if not t.eq(len(sc), 1, "%s: one iaproxy_session Set-Cookie" % what):
		return
	attrs = [a.strip().lower() for a in sc[0].split(";")[1:]]
	t.check("httponly" in attrs, "%s: cookie HttpOnly" % what, sc[0])
	t.check("path=/" in attrs, "%s: cookie Path=/" % what, sc[0])
	t.check(not any(a.startswith("domain") for a in attrs),
	    "%s: cookie host-only (no Domain)" % what, sc[0])
	t.check("samesite=lax" in attrs, "%s: cookie SameSite=Lax" % what,
	    sc[0])
	t.check("secure" not in attrs, "%s: no Secure on an http portal" %
	    what, sc[0])
	t.check("max-age=%d" % session_max in attrs, "%s: cookie Max-Age = "
	    "session_max" % what, sc[0])
	val = sc[0].split(";")[0].split("=", 1)[1]
	t.not_contains(val, USER, "%s: the cookie value is not just the user"
	    % what)


def refused_lines(p, off):
	"""The reasons (after "sign-in refused:") logged after offset off."""
	return [l.split("sign-in refused", 1)[1].lstrip(": ") for l in
	    p.errlog()[off:].splitlines() if "sign-in refused" in l]


def no_secrets_in_log(t, e, fields, what):
	"""Neither the SAMLResponse nor the assertion reach a log."""
	logs = e.p.errlog() + "\n".join(e.p.access_lines())
	resp = fields["SAMLResponse"]
	xml = base64.b64decode(resp).decode("utf-8", "replace")
	sv = re.search(r"SignatureValue>\s*([^<\s]{40})", xml)
	leaks = [s for s in (resp[:40], resp[-40:], "<saml:Assertion",
	    "SignatureValue", sv.group(1) if sv else None) if s and s in logs]
	t.check(not leaks, "%s: neither the response nor the assertion in "
	    "the logs" % what, "(%r)" % leaks)


# ---------------------------------------------------------------------------

def metadata_checks(t, e, sp_cert):
	b = Browser(t, e.p)
	r = b.get(e.portal + "/iaproxy/saml/metadata")
	t.eq(r.status, 200, "SP metadata through the proxy: 200")
	t.check((hget1(r.headers, "Content-Type") or "").startswith(
	    "application/samlmetadata+xml"), "SP metadata content type",
	    "(%r)" % hget1(r.headers, "Content-Type"))
	md = r.body
	try:
		from lxml import etree
		root = etree.fromstring(md)
		ns = {"md": MD_NS, "ds": "http://www.w3.org/2000/09/xmldsig#"}
		sp = root.xpath("//md:SPSSODescriptor", namespaces=ns)
		acs = root.xpath("//md:SPSSODescriptor/md:AssertionConsumerService"
		    "/@Location", namespaces=ns)
		certs = ["".join(c.split()) for c in root.xpath(
		    "//md:KeyDescriptor[not(@use) or @use='signing']"
		    "//ds:X509Certificate/text()", namespaces=ns)]
		t.eq(root.get("entityID"), SP_ENTITY, "SP metadata entityID")
		t.check(sp and sp[0].get("AuthnRequestsSigned") == "true" and
		    sp[0].get("WantAssertionsSigned") == "true",
		    "SP metadata: AuthnRequestsSigned, WantAssertionsSigned")
		t.eq(acs, [e.acs], "SP metadata: the ACS is <portal>/iaproxy/"
		    "saml/acs")
		mine = "".join(l for l in open(sp_cert).read().splitlines()
		    if "-----" not in l)
		t.check(mine in certs, "SP metadata: our signing certificate")
	except Exception as x:
		t.fail("SP metadata parses: %r %r" % (x, md[:200]))
	# Directly on the listener (origin-form, Host = the portal).
	rr, c = harness.raw_request(e.p.port, "GET /iaproxy/saml/metadata "
	    "HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (PORTAL_HOST, e.p.port))
	c.close()
	t.check(rr is not None and rr.status == 200 and rr.body == md,
	    "SP metadata directly from the listener: the same", "(%r)" % rr)
	if r.status == 200:
		with open(e.idp.sp_md, "wb") as f:
			f.write(md)
	return r.status == 200


def main_flow(t, e):
	"""The whole sign-in; the accepted form (for the replay check)."""
	o, p = e.o, e.p
	b = Browser(t, p)
	url = o.url("/size/10")
	e.idp.control(user=USER, mutate="none", groups=[])
	off = len(p.errlog())
	aoff = len(p.access_lines())
	got = to_form(t, e, b, url, "flow")
	if got is None:
		return None
	time.sleep(0.2)
	txt = p.errlog()[off:] + "\n".join(p.access_lines()[aoff:])
	t.contains(txt, "sign-in required", "flow: the redirect is logged as "
	    "\"sign-in required\"")
	action, fields, _ = got
	r = b.post_form(action, fields)
	t.eq(r.status, 303, "flow: ACS answers 303")
	t.eq(location(r), url, "flow: back to the original URL")
	t.eq(hget1(r.headers, "Cache-Control"), "no-store", "flow: ACS "
	    "answer not cached")
	cookie_checks(t, r, "flow")
	r = b.get(url)
	t.eq((r.status, r.body), (200, pattern(10)), "flow: the origin's "
	    "answer once signed in")
	rec = [x for x in p.access_records(aoff) if x.get("url") == url and
	    x.get("status") == 200]
	t.check(rec and rec[-1].get("user") == USER and
	    rec[-1].get("auth") == "saml", "flow: the GET is logged as the "
	    "user, auth saml", "(%r)" % rec[-1:])
	# A CONNECT from the same IP: no cookie can reach it, the IP session
	# does.
	aoff = len(p.access_lines())
	r = b.get(o.url("/size/33"), "-p")
	t.eq((r.status, r.body), (200, pattern(33)), "flow: a CONNECT tunnel "
	    "from the same IP goes through")
	recs = harness.wait_for(lambda: [x for x in p.access_records(aoff)
	    if x.get("method") == "CONNECT"], 5) or []
	t.check(recs and recs[0].get("user") == USER and
	    recs[0].get("auth") == "saml" and recs[0].get("status") == 200,
	    "flow: the CONNECT is attributed to the user, auth saml, in the "
	    "json access log", "(%r)" % recs[:1])
	t.eq(whoami(b, e), (200, USER), "flow: whoami names the user")
	# Another source address: its own IP has no session...
	b2 = Browser(t, p, iface="127.0.0.2")
	t.eq(whoami(b2, e)[0], 401, "flow: whoami from 127.0.0.2 without the "
	    "cookie: 401")
	r = b2.get(url)
	t.eq(r.status, 302, "flow: a plain GET from 127.0.0.2 is not signed in "
	    "(the session is 127.0.0.1's)")
	# ... but the cookie alone says who it is.
	b2.jar = b.jar
	t.eq(whoami(b2, e), (200, USER), "flow: whoami with the cookie alone "
	    "(from 127.0.0.2)")
	t.check(b.cookie() is not None, "flow: the cookie is in the jar for "
	    "the portal host")
	# The portal reached directly (not through the proxy), cookie only.
	r = subprocess.run([harness.CURL, "--noproxy", "*", "-sS", "-b", b.jar,
	    "--interface", "127.0.0.3", "--resolve", "%s:%d:127.0.0.1" % (
	    PORTAL_HOST, p.port), e.portal + "/iaproxy/whoami"],
	    capture_output=True, timeout=30)
	t.eq(r.stdout.decode(errors="replace").split("\n")[0].strip(), USER,
	    "flow: whoami straight to the listener, by the cookie")
	t.eq(e.idp.last().get("SAMLResponse"), fields["SAMLResponse"],
	    "flow: the IdP's /last has the form posted (for replays)")
	no_secrets_in_log(t, e, fields, "flow")
	logout(t, e, b, "flow")
	return fields


def logout(t, e, b, what):
	r = b.get(e.portal + "/iaproxy/logout")
	t.eq(r.status, 200, "%s: logout 200" % what)
	sc = [v for v in hget(r.headers, "Set-Cookie") if
	    v.startswith("iaproxy_session=")]
	t.check(sc and "max-age=0" in sc[0].lower(), "%s: logout clears the "
	    "cookie (Max-Age=0)" % what, "(%r)" % sc)
	t.eq(whoami(b, e)[0], 401, "%s: whoami after logout: 401" % what)
	r = b.get(e.o.url("/size/5"))
	t.eq(r.status, 302, "%s: a plain GET after logout: 302 again" % what)


def refused(t, e, b, fields, what, pattern_re, form_action=None):
	"""POST fields to the ACS: 403, no session, the log names the check."""
	p = e.p
	off = len(p.errlog())
	r = b.post_form(form_action or e.acs, fields)
	t.eq(r.status, 403, "%s: ACS answers 403" % what)
	t.check(b"sign-in failed" in r.body.lower(), "%s: the page says "
	    "sign-in failed" % what, "(%r)" % r.body[:200])
	t.check(not [v for v in hget(r.headers, "Set-Cookie") if
	    v.startswith("iaproxy_session=") and "max-age=0" not in v.lower()],
	    "%s: no session cookie" % what)
	t.eq(whoami(b, e)[0], 401, "%s: no session (whoami 401)" % what)
	r2 = b.get(e.o.url("/size/7"))
	t.eq(r2.status, 302, "%s: a plain GET still gets 302" % what)
	lines = harness.wait_for(lambda: refused_lines(p, off), 3) or []
	t.check(lines and re.search(pattern_re, lines[0], re.I),
	    "%s: the log line names the check (/%s/)" % (what, pattern_re),
	    "(%r)" % (lines[:2] or p.errlog()[off:][-400:]))
	return lines


def rejection_checks(t, e, accepted):
	p, idp = e.p, e.idp
	for mut, rx in REJECT:
		idp.control(user=USER, mutate=mut, groups=[])
		b = Browser(t, p)
		got = to_form(t, e, b, e.o.url("/size/9"), mut, quiet=True)
		if got is None:
			continue
		action, fields, _ = got
		refused(t, e, b, fields, mut, rx, action)
		no_secrets_in_log(t, e, fields, mut)
	idp.control(mutate="none")

	# Replay of the form accepted in the main flow, as it was.
	if accepted is not None:
		b = Browser(t, p)
		refused(t, e, b, accepted, "replay", r"replay|seen|used|"
		    r"InResponseTo|RelayState|unsolicited|unknown")
		# The same response under a fresh, outstanding RelayState.
		got = to_form(t, e, b, e.o.url("/size/9"), "replay2", quiet=True)
		if got is not None:
			f = dict(accepted, RelayState=got[1]["RelayState"])
			refused(t, e, b, f, "replay under a fresh RelayState",
			    r"replay|seen|InResponseTo")

	# The controls that must pass: re-signed by xmlsec1, and one
	# AudienceRestriction with two Audiences (SAML core 2.5.1.4: any of
	# them may name us; lasso alone would drop it).
	for mut in ("resigned", "audience_multi_ok"):
		idp.control(mutate=mut)
		b = Browser(t, p)
		got = to_form(t, e, b, e.o.url("/size/8"), mut, quiet=True)
		if got is None:
			continue
		off = len(p.errlog())
		r = b.post_form(got[0], got[1])
		t.check(r.status == 303 and location(r) == e.o.url("/size/8"),
		    "%s: accepted (303 to the URL)" % mut, "(%r %r)" % (r,
		    refused_lines(p, off)))
		t.eq(whoami(b, e), (200, USER), "%s: signed in" % mut)
		logout(t, e, b, mut)
	# A fresh response to a fresh request, whose assertion ID is the
	# one just accepted: only the assertion-ID replay cache catches it.
	idp.control(mutate="reuse_id")
	b = Browser(t, p)
	got = to_form(t, e, b, e.o.url("/size/9"), "reuse_id", quiet=True)
	if got is not None:
		refused(t, e, b, got[1], "assertion ID seen before",
		    r"replay|seen|already", got[0])
	idp.control(mutate="none")


def other_address_checks(t, e):
	"""Login CSRF / session fixation: the IdP's form for a sign-in started
	from one address, posted from another (an attacker's own form, made
	to be posted by a victim's browser), signs nobody in."""
	p = e.p
	e.idp.control(user=USER, mutate="none", groups=[])
	b = Browser(t, p)
	got = to_form(t, e, b, e.o.url("/size/6"), "other address", quiet=True)
	if got is None:
		return
	action, fields, _ = got
	victim = Browser(t, p, iface="127.0.0.2")
	victim.jar = b.jar
	off = len(p.errlog())
	lines = refused(t, e, victim, fields, "posted from another address",
	    r"the sign-in was started from another address \(127\.0\.0\.1\)",
	    action)
	t.check([l for l in p.errlog()[off:].splitlines() if "sign-in "
	    "refused" in l and "127.0.0.2" in l], "posted from another "
	    "address: the refusal is logged for 127.0.0.2", "(%r)" % lines[:1])
	t.eq(whoami(b, e)[0], 401, "posted from another address: no session "
	    "for 127.0.0.1 either")
	r = b.get(e.o.url("/size/7"))
	t.eq(r.status, 302, "posted from another address: a plain GET from "
	    "127.0.0.1 still gets 302")
	# The attempt used the request up: not even its own address can
	# finish it now.
	refused(t, e, b, fields, "then posted from the address that started "
	    "it", r"unsolicited|InResponseTo", action)
	no_secrets_in_log(t, e, fields, "posted from another address")


def open_redirect_checks(t, e):
	for bad in ("javascript:alert(1)", "//evil.test/x",
	    "http://user@evil.test/", "ftp://evil.test/"):
		b = Browser(t, e.p)
		login = e.portal + "/iaproxy/login?url=" + urllib.parse.quote(bad,
		    safe="")
		got = login_to_form(t, e, b, login, "redirect %s" % bad,
		    quiet=True)
		if got is None:
			continue
		r = b.post_form(got[0], got[1])
		t.eq((r.status, location(r)), (303, e.portal + "/iaproxy/whoami"),
		    "open redirect %r: the ACS sends to whoami" % bad)
		# With the cookie, the login page does not go elsewhere either.
		r = b.get(login)
		t.eq((r.status, location(r)), (303, e.portal + "/iaproxy/whoami"),
		    "open redirect %r with the cookie: whoami" % bad)
		b.get(e.portal + "/iaproxy/logout")


def connect_checks(t, e):
	"""No identity on a saml-only network: CONNECT gets 403."""
	aoff = len(e.p.access_lines())
	r, c = harness.raw_request(e.p.port, "CONNECT %s HTTP/1.1\r\n"
	    "Host: %s\r\n\r\n" % (e.o.hostport, e.o.hostport), method="CONNECT")
	c.close()
	t.check(r is not None and r.status == 403, "CONNECT with no identity "
	    "on a saml-only network: 403", "(%r)" % r)
	t.check(r is not None and b"sign-in required" in r.body and
	    e.portal.encode() + b"/iaproxy/login" in r.body, "the 403 says "
	    "sign-in required and names the portal", "(%r)" % (r and r.body[:300]))
	recs = harness.wait_for(lambda: [x for x in e.p.access_records(aoff)
	    if x.get("method") == "CONNECT"], 3) or []
	t.check(recs and recs[0].get("status") == 403 and "sign-in required"
	    in str(recs[0].get("reason")) + e.p.errlog(), "the refused CONNECT "
	    "is logged as sign-in required", "(%r)" % recs[:1])
	# The IdP's host is reachable before sign-in (GET and CONNECT).
	r, c = harness.raw_request(e.p.port, "CONNECT %s:%d HTTP/1.1\r\n"
	    "Host: %s:%d\r\n\r\n" % (IDP_HOST, e.idp.port, IDP_HOST,
	    e.idp.port), method="CONNECT")
	ok = r is not None and r.status == 200
	if ok:
		c.send("GET /metadata HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (IDP_HOST,
		    e.idp.port))
		r2 = c.response()
		ok = r2 is not None and r2.status == 200
	c.close()
	t.check(ok, "the IdP's host takes a CONNECT without sign-in",
	    "(%r)" % r)
	if e.idp.port not in e.p.conf["connect_ports"]:
		t.fail("test bug: the IdP port must be a connect port")


def mixed_checks(t, e, sp_files):
	"""auth = {negotiate, ntlm, saml}: 407 with a page to the portal."""
	kt = os.path.join(t.tmpdir, "http.keytab")
	r = subprocess.run(["ktutil"], input="addent -password -p "
	    "HTTP/proxy.example.test@EXAMPLE.TEST -k 1 -e "
	    "aes256-cts-hmac-sha1-96\nKeytab-pw1\nwkt %s\nquit\n" % kt,
	    capture_output=True, text=True)
	os.chmod(kt, 0o600)
	hf = nc.write_hashfile(os.path.join(t.tmpdir, "ntlm.hashes"),
	    ["bob:" + nc.nt_hash("B0b-pass!").hex()])
	p3 = t.proxy(start=False, connect_ports=[443, e.o.port],
	    log_format=Raw("json"))
	portal = "http://%s:%d" % (PORTAL_HOST, p3.port)
	p3.write_config(**{
	    "negotiate": {"keytab": kt},
	    "ntlm": {"domain": "EXAMPLE", "backend": Raw("hashfile"),
	    "hashfile": hf},
	    "saml": saml_section(sp_files, e.idp, portal),
	    'network "home"': {"src": ["127.0.0.0/8"], "auth": [
	    Raw("negotiate"), Raw("ntlm"), Raw("saml")]}})
	try:
		p3.start()
	except RuntimeError as x:
		t.fail("mixed proxy starts: %s" % str(x).strip()[-500:])
		return
	url = e.o.url("/size/4")
	r = harness.curl(p3, url)
	t.eq(r.status, 407, "negotiate+ntlm+saml: a plain GET gets 407")
	ch = " ".join(hget(r.headers, "Proxy-Authenticate"))
	t.check("Negotiate" in ch and "NTLM" in ch, "the 407 offers "
	    "Negotiate and NTLM", "(%r)" % ch)
	body = r.body.decode("utf-8", "replace")
	link = portal + "/iaproxy/login?url=" + urllib.parse.quote(url, safe="")
	t.check((hget1(r.headers, "Content-Type") or "").startswith(
	    "text/html"), "the 407 body is HTML")
	t.check(html.unescape(body).find(portal + "/iaproxy/login?url=") >= 0,
	    "the 407 page links the portal's login", "(%r)" % body[:400])
	t.check(re.search(r'http-equiv="?refresh', body, re.I) is not None,
	    "the 407 page has a meta refresh to the portal", "(%r)" %
	    body[:400])
	m = re.search(r'<a href="([^"]*)"', body)
	got = html.unescape(m.group(1)) if m else ""
	q = urllib.parse.parse_qs(urllib.parse.urlsplit(got).query)
	t.check(got.startswith(portal + "/iaproxy/login?") and
	    q.get("url") == [url], "the 407 page's link returns to the URL "
	    "asked", "(%r, want %r in %r)" % (got, link, body[:400]))
	r, c = harness.raw_request(p3.port, "CONNECT %s HTTP/1.1\r\nHost: %s"
	    "\r\n\r\n" % (e.o.hostport, e.o.hostport), method="CONNECT")
	c.close()
	t.check(r is not None and r.status == 407, "negotiate+ntlm+saml: a "
	    "CONNECT with no identity gets 407", "(%r)" % r)
	p3.stop()


def saml_section(sp_files, idp, portal, **more):
	key, crt, ck = sp_files
	s = {"idp_metadata": idp.metadata, "sp_entity_id": SP_ENTITY,
	    "sp_key": key, "sp_cert": crt, "portal": portal,
	    "cookie_key_file": ck, "verified_domains": ["example.test"]}
	s.update(more)
	return s


def configcheck(t, e, sp_files):
	"""-t: FILE:LINE for two IdPs in the metadata, and for a network
	naming saml with no saml section."""
	md = open(e.idp.metadata).read()
	body = md.split("?>", 1)[1]
	two = body.replace("https://idp.example.test/saml",
	    "https://idp2.example.test/saml")
	both = '<?xml version="1.0"?>\n<md:EntitiesDescriptor xmlns:md="%s">' \
	    '%s%s</md:EntitiesDescriptor>\n' % (MD_NS, body, two)
	path = os.path.join(t.tmpdir, "two-idps.xml")
	with open(path, "w") as f:
		f.write(both)

	def run(conf, name):
		cp = os.path.join(t.tmpdir, name)
		text = harness.conf_text(conf)
		with open(cp, "w") as f:
			f.write(text)
		r = subprocess.run([harness.IAPROXY, "-t", "-c", cp],
		    capture_output=True, text=True, timeout=30)
		return cp, text, r

	base = {"listen": ["127.0.0.1:%d" % harness.free_port()],
	    "hostname": harness.HOSTNAME, "access_log": "-"}
	conf = dict(base)
	conf["saml"] = saml_section(sp_files, e.idp, e.portal)
	conf['network "home"'] = {"src": ["127.0.0.0/8"], "auth": [Raw("saml")]}
	cp, text, r = run(conf, "good.conf")
	t.eq(r.returncode, 0, "-t: the test's saml config is valid",
	    ) or t.log(r.stderr[-500:])
	conf["saml"] = saml_section(sp_files, e.idp, e.portal,
	    idp_metadata=path)
	cp, text, r = run(conf, "two-idps.conf")
	line = [i + 1 for i, l in enumerate(text.splitlines())
	    if "idp_metadata" in l][0]
	out = r.stdout + r.stderr
	t.check(r.returncode != 0, "-t: metadata with two IdPs is an error",
	    "(%r)" % out[-300:])
	t.check("%s:%d:" % (cp, line) in out and re.search(r"identity "
	    r"provider|IdP", out, re.I), "-t: two IdPs reported as FILE:LINE "
	    "at idp_metadata", "(%r, want %s:%d)" % (out[-300:], cp, line))
	conf = dict(base)
	conf['network "home"'] = {"src": ["127.0.0.0/8"], "auth": [Raw("saml")]}
	cp, text, r = run(conf, "nosaml.conf")
	line = [i + 1 for i, l in enumerate(text.splitlines())
	    if l.startswith("network")][0]
	out = r.stdout + r.stderr
	t.check(r.returncode != 0 and re.search(r"%s:\d+:" % re.escape(cp),
	    out) and "saml" in out, "-t: a network naming saml with no saml "
	    "section: FILE:LINE", "(%r, network at line %d)" % (out[-300:],
	    line))


def second_proxy_checks(t, e, sp_files, hosts_prefix):
	"""session_idle = 2, domain_map, groups_attribute."""
	idp = e.idp
	p2 = t.proxy(start=False, connect_ports=[443, e.o.port, idp.port],
	    log_format=Raw("json"))
	portal = "http://%s:%d" % (PORTAL_HOST, p2.port)

	def conf(idle):
		p2.write_config(**{"saml": saml_section(sp_files, idp, portal,
		    session_idle=idle, domain_map=["example.test=EXAMPLE"],
		    groups_attribute=GROUPS_ATTR),
		    'network "home"': {"src": ["127.0.0.0/8"],
		    "auth": [Raw("saml")]}})
	idle = 2
	conf(idle)
	p2.prefix = hosts_prefix
	try:
		p2.start()
	except RuntimeError as x:
		t.fail("second proxy starts with session_idle = 2: %s" %
		    str(x).strip()[-300:])
		return
	e2 = Env(t, e.o, idp, p2)
	b = Browser(t, p2)
	r = b.get(portal + "/iaproxy/saml/metadata")
	if not t.eq(r.status, 200, "p2: SP metadata"):
		return
	with open(idp.sp_md, "wb") as f:
		f.write(r.body)
	idp.control(user=USER, mutate="none", groups=GROUPS,
	    groups_attribute=GROUPS_ATTR)
	url = e.o.url("/size/21")
	got = to_form(t, e2, b, url, "p2", quiet=True)
	if got is None:
		return
	r = b.post_form(got[0], got[1])
	t.eq((r.status, location(r)), (303, url), "p2: signed in")
	aoff = len(p2.access_lines())
	r = b.get(url)
	t.eq(r.status, 200, "p2: signed-in GET")
	recs = [x for x in p2.access_records(aoff) if x.get("url") == url]
	rec = recs[-1] if recs else {}
	t.eq(rec.get("user"), "EXAMPLE\\alice", "domain_map: the log says "
	    "EXAMPLE\\alice")
	t.eq(rec.get("auth"), "saml", "p2: auth saml")
	t.eq(sorted(rec.get("groups") or []), sorted(GROUPS), "groups_attribute:"
	    " the assertion's groups in the log")
	t.eq(rec.get("groups_source"), "saml", "groups_source saml")
	t.eq(whoami(b, e2), (200, "EXAMPLE\\alice"), "p2: whoami says the "
	    "mapped user")
	# Wait out session_idle: the IP session ends, the cookie stays.
	time.sleep(idle + 1.5)
	r = b.get(url)
	t.eq(r.status, 302, "session_idle: the IP session expired (302)")
	n = len(idp.events())
	login = portal + "/iaproxy/login?url=" + urllib.parse.quote(url, safe="")
	r = b.get(login)
	t.eq((r.status, location(r)), (303, url), "the cookie refreshes the IP "
	    "session: 303 to the URL")
	t.eq(len(idp.events()), n, "... without the IdP")
	r = b.get(url)
	t.eq((r.status, r.body), (200, pattern(21)), "after the refresh the "
	    "IP session works again")
	p2.stop()
	# Back to the main proxy's SP metadata.
	with open(idp.sp_md + ".main", "rb") as f:
		md = f.read()
	with open(idp.sp_md, "wb") as f:
		f.write(md)
	idp.control(groups=[])


def directory_checks(t, e, sp_files, hosts_prefix):
	"""Groups of a SAML user from the directory: a real slapd, the user
	found by the NameID as mail (user_filter (mail=%m)), nested groups
	through memberOf."""
	idp = e.idp
	s = peers.GroupSlapd(t)
	s.add_user("alice")
	s.start()
	people = "ou=people," + peers.SUFFIX
	s.modify("dn: uid=alice,%s\nchangetype: modify\nadd: mail\n"
	    "mail: %s\n" % (people, USER))
	s.add("dn: ou=groups,%s\nobjectClass: organizationalUnit\n"
	    "ou: groups\n" % peers.SUFFIX)
	s.add("dn: cn=staff,ou=groups,%s\nobjectClass: groupOfNames\n"
	    "cn: staff\nmember: uid=alice,%s\n" % (peers.SUFFIX, people))
	s.add("dn: cn=everyone,ou=groups,%s\nobjectClass: groupOfNames\n"
	    "cn: everyone\nmember: cn=staff,ou=groups,%s\n" % (peers.SUFFIX,
	    peers.SUFFIX))
	pw = t.secret_file("bind.pw", peers.PROXY_PW + "\n")
	p4 = t.proxy(start=False, connect_ports=[443, e.o.port, idp.port],
	    log_format=Raw("json"))
	portal = "http://%s:%d" % (PORTAL_HOST, p4.port)
	p4.write_config(**{"saml": saml_section(sp_files, idp, portal),
	    "ldap": {"uri": [s.uri], "bind_dn": peers.PROXY_DN,
	    "bind_password_file": pw, "base_dn": peers.SUFFIX,
	    "user_filter": "(mail=%m)", "group_mode": Raw("memberof")},
	    'network "home"': {"src": ["127.0.0.0/8"], "auth": [Raw("saml")]}})
	p4.prefix = hosts_prefix
	try:
		p4.start()
	except RuntimeError as x:
		t.fail("directory proxy starts: %s" % str(x).strip()[-300:])
		return
	e4 = Env(t, e.o, idp, p4)
	b = Browser(t, p4)
	r = b.get(portal + "/iaproxy/saml/metadata")
	if not t.eq(r.status, 200, "p4: SP metadata"):
		return
	with open(idp.sp_md, "wb") as f:
		f.write(r.body)
	idp.control(user=USER, mutate="none", groups=[])
	url = e.o.url("/size/22")
	got = to_form(t, e4, b, url, "p4", quiet=True)
	if got is None:
		return
	r = b.post_form(got[0], got[1])
	t.eq((r.status, location(r)), (303, url), "p4: signed in")
	aoff = len(p4.access_lines())
	r = b.get(url)
	t.eq((r.status, r.body), (200, pattern(22)), "p4: signed-in GET")
	recs = [x for x in p4.access_records(aoff) if x.get("url") == url]
	rec = recs[-1] if recs else {}
	t.eq((rec.get("user"), rec.get("auth")), (USER, "saml"),
	    "p4: the request is the SAML user's")
	t.eq(sorted(rec.get("groups") or []), ["everyone", "staff"],
	    "groups of a SAML user from the directory (by mail, nested)")
	t.eq(rec.get("groups_source"), "ldap", "p4: groups_source ldap")
	t.check(s.searches("(mail=%s)" % USER) >= 1, "the directory was "
	    "searched by the NameID as mail")
	p4.stop()
	with open(idp.sp_md + ".main", "rb") as f:
		md = f.read()
	with open(idp.sp_md, "wb") as f:
		f.write(md)


def admin_checks(t, e):
	p = e.p
	b = Browser(t, p)
	e.idp.control(user=USER, mutate="none")
	got = to_form(t, e, b, e.o.url("/size/3"), "admin", quiet=True)
	if got is None:
		return
	r = b.post_form(got[0], got[1])
	if not t.eq(r.status, 303, "admin: signed in"):
		return
	a = p.admin("sessions")[0]
	rows = [l.split("\t") for l in a[:-1]]
	t.check([x for x in rows if len(x) >= 3 and x[0] == USER and
	    x[1] == "saml" and x[2] == "127.0.0.1"], "admin sessions lists the "
	    "IP session (user, saml, client)", "(%r)" % a)
	a = p.admin("signout " + USER)[0]
	t.check(a and a[-1].startswith("ok"), "admin signout of the SAML user",
	    "(%r)" % a)
	t.eq(whoami(b, e, cookies=False)[0], 401, "after signout: no IP "
	    "session")
	t.eq(whoami(b, e)[0], 401, "after signout: the older cookie is "
	    "refused too")
	# The sign-ins are counted: successes, and every refused Response.
	m = {}
	for l in p.admin("metrics")[0][:-1]:
		mm = re.match(r'iaproxy_signins_total\{mechanism="saml",'
		    r'result="(\w+)"\} (\d+)$', l)
		if mm:
			m[mm.group(1)] = int(mm.group(2))
	t.check(m.get("success", 0) >= 2 and m.get("refused", 0) >= len(
	    REJECT), "metrics count the SAML sign-ins and refusals", "(%r)" % m)
	# A disabled user is refused whatever signed them in.
	a = p.admin("disable " + USER)[0]
	t.check(a and a[-1].startswith("ok"), "admin disable of the SAML user",
	    "(%r)" % a)
	got = to_form(t, e, b, e.o.url("/size/3"), "disabled", quiet=True)
	if got is not None:
		b.post_form(got[0], got[1])
		r = b.get(e.o.url("/size/3"))
		t.check(r.status == 403 and b"disabled" in r.body, "a disabled "
		    "user signed in by SAML is refused (account disabled)",
		    "(%r)" % r)
	a = p.admin("enable " + USER)[0]
	t.check(a and a[-1].startswith("ok"), "admin enable", "(%r)" % a)


def main(t):
	# The IdP checks itself first: if it is wrong, nothing below means
	# anything.
	st = subprocess.run([harness.PYTHON, IDP_PY, "--selftest",
	    os.path.join(t.tmpdir, "selftest")], capture_output=True,
	    text=True, timeout=240)
	last = st.stdout.strip().splitlines()[-1:] or [""]
	t.check(st.returncode == 0 and last[0].endswith(" 0 failed"),
	    "the test IdP passes its self-test (lasso SP, xmlsec1)",
	    "(%r %r)" % (last, [l for l in st.stdout.splitlines()
	    if l.startswith("FAIL")][:5] or st.stderr[-500:]))

	o = t.origin()
	idp = IdpProc(t)
	# SP key and certificate, cookie key: made now, never kept.
	key = os.path.join(t.tmpdir, "sp.key")
	crt = os.path.join(t.tmpdir, "sp.crt")
	subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
	    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj",
	    "/CN=proxy.example.test"], check=True, stdout=subprocess.DEVNULL,
	    stderr=subprocess.DEVNULL)
	os.chmod(key, 0o600)
	ck = t.secret_file("cookie.key", secrets.token_hex(32))
	sp_files = (key, crt, ck)

	# The proxy's own /etc/hosts names the IdP (a private mount
	# namespace: nothing changes for the rest of the machine).
	hosts = os.path.join(t.tmpdir, "hosts")
	with open(hosts, "w") as f:
		f.write("127.0.0.1 localhost %s\n::1 localhost\n" % IDP_HOST)
	prefix = ["/usr/bin/unshare", "-m", "/bin/sh", "-c",
	    'mount --bind "$0" /etc/hosts && exec "$@"', hosts]

	sock = os.path.join(t.tmpdir, "admin.sock")
	p = t.proxy(start=False, connect_ports=[443, o.port, idp.port],
	    log_format=Raw("json"), admin_socket=sock)
	e = Env(t, o, idp, p)
	p.write_config(**{"saml": saml_section(sp_files, idp, e.portal),
	    'network "home"': {"src": ["127.0.0.0/8"], "auth": [Raw("saml")]}})
	p.prefix = prefix
	configcheck(t, e, sp_files)
	try:
		p.start()
	except RuntimeError as x:
		t.fail("the proxy starts with a saml section: %s" %
		    str(x).strip()[-800:])
		return
	if not metadata_checks(t, e, crt):
		return
	with open(idp.sp_md, "rb") as f, open(idp.sp_md + ".main", "wb") as g:
		g.write(f.read())
	idp.control(sp_metadata_file=idp.sp_md)

	accepted = main_flow(t, e)
	connect_checks(t, e)
	rejection_checks(t, e, accepted)
	other_address_checks(t, e)
	open_redirect_checks(t, e)
	mixed_checks(t, e, sp_files)
	second_proxy_checks(t, e, sp_files, prefix)
	directory_checks(t, e, sp_files, prefix)
	admin_checks(t, e)
	t.check(p.alive(), "the proxy is still running")


harness.run(main)
