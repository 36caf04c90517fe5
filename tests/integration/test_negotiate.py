#!/usr/bin/python3
"""Kerberos sign-in (Negotiate, RFC 4559) against a throwaway MIT KDC
(peers.MitKdc), realm EXAMPLE.TEST, service HTTP/proxy.example.test.

curl --proxy-negotiate as alice: GET and CONNECT succeed with one request
(curl sends its token first), the responses carry the mutual-auth token,
the access log names alice@EXAMPLE.TEST (squid) and "auth":"negotiate"
(json); two URLs in one curl (a fresh token per request, one connection).
Refusals, each a 407 offering Negotiate and an info line "sign-in
refused: kerberos" with its reason: no ticket, a ticket for another
service, a stale kvno, a replayed token (also across workers and on a
signed-in connection, which it signs out), a token made an hour ahead
(faketime), garbage (bad base64, random bytes, truncated SPNEGO, a
NegTokenResp with no context, 40 KB).  Tokens from tests/tools/negtoken
on raw connections: SPNEGO and bare krb5, later requests on a signed-in
connection without a header.  Names: strip_realm, realm_map; a keytab
with two principals and no principal set (both names work);
`iaproxy -t` on a missing, world-readable or empty keytab and a
principal not in it (FILE:LINE); SIGHUP keeps Kerberos working; fifty
clients that hang up right after their token; many tokens in parallel;
accepting needs no KDC; Negotiate offered before NTLM; a network
without negotiate ignores a Kerberos token.  Never a token in the logs,
never Proxy-Authorization at the origin.
"""

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers
from harness import hget, hget1, pattern
from spnego_util import krb5_ap_rep, krb5_token, neg_token_resp, neg_values, \
    offers

REALM = "EXAMPLE.TEST"
HOST = harness.HOSTNAME			# proxy.example.test
ALICE = ("alice", "Alice-pw1")
USER = "alice@" + REALM
BUILDDIR = os.environ.get("IAPROXY_BUILDDIR") or \
    os.path.dirname(os.path.dirname(os.path.abspath(harness.IAPROXY)))
NEGTOKEN = os.path.join(BUILDDIR, "tests", "tools", "negtoken")
FAKETIME = "/usr/bin/faketime"

SENT = []		# every token we sent: none may appear in a log


# ---------------------------------------------------------------------------
# Kerberos side: tokens, curl, proxies with the KDC's environment.

class Krb:
	"""The KDC, the keytabs and alice's ccache of this test."""

	def __init__(self, t):
		self.t = t
		self.kdc = peers.MitKdc(t, REALM)
		self.kdc.addprinc(*ALICE)
		for h in ("proxy", "proxy2", "other", "stale"):
			self.kdc.addprinc_randkey("HTTP/%s.example.test" % h)
		self.keytab = self.kdc.ktadd("HTTP/" + HOST,
		    os.path.join(t.tmpdir, "http.keytab"))
		self.cc = self.kdc.kinit(ALICE[0], ALICE[1],
		    os.path.join(t.tmpdir, "alice.cc"))
		self.nocc = os.path.join(t.tmpdir, "no-such.cc")
		self.nrc = 0

	def env(self, cc=None, **more):
		return self.kdc.env(KRB5CCNAME="FILE:" + (cc or self.cc), **more)

	def tokens(self, n=1, service="HTTP@" + HOST, mech="spnego",
	    prefix=(), cc=None):
		"""n fresh base64 tokens from negtoken (a RuntimeError if it
		fails)."""
		argv = list(prefix) + [NEGTOKEN, "-n", str(n), "-m", mech, service]
		env = self.env(cc)
		if prefix:
			# faketime preloads itself before ASan's runtime (a
			# sanitizer build of negtoken); ASan may run second.
			env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + \
			    ":verify_asan_link_order=0"
		p = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE, timeout=60, text=True)
		toks = p.stdout.split()
		if p.returncode != 0 or len(toks) != n:
			raise RuntimeError("negtoken %s: exit %d, %d tokens: %s" %
			    (" ".join(argv[-5:]), p.returncode, len(toks),
			    p.stderr.strip()[-300:]))
		SENT.extend(toks)
		return toks

	def token(self, **kw):
		return self.tokens(1, **kw)[0]

	def proxy(self, start=True, **conf):
		"""t.proxy() run with KRB5_CONFIG and a private KRB5RCACHEDIR
		(the replay cache), without any ccache or KRB5_KTNAME: the keytab
		comes from the config only."""
		p = self.t.proxy(start=False, **conf)
		self.nrc += 1
		rc = os.path.join(self.t.tmpdir, "rcache%d" % self.nrc)
		os.makedirs(rc, mode=0o700, exist_ok=True)
		p.rcache = rc
		p.prefix = ["/usr/bin/env", "-u", "KRB5CCNAME", "-u", "KRB5_KTNAME",
		    "-u", "KRB5_CLIENT_KTNAME", "-u", "KRB5_TRACE",
		    "KRB5_CONFIG=" + self.kdc.krb5_conf,
		    "KRB5_KDC_PROFILE=" + self.kdc.kdc_conf,
		    "KRB5RCACHEDIR=" + rc]
		if start:
			p.start()
		return p

	def check_conf(self, path):
		"""iaproxy -t -c path in the KDC's environment: (rc, output)."""
		pr = subprocess.run([harness.IAPROXY, "-t", "-c", path],
		    stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20,
		    env=self.kdc.env(), stdin=subprocess.DEVNULL)
		return pr.returncode, (pr.stdout + pr.stderr).decode(
		    errors="replace")


def neg_conf(keytab, auth=("negotiate",), network="lo", hashfile=None,
    **neg):
	"""Proxy keywords: a negotiate section (keytab + neg), one network
	for loopback with auth (bare words), and an ntlm section (hashfile
	backend) when hashfile is given."""
	sec = {"keytab": keytab}
	sec.update(neg)
	conf = {"negotiate": sec}
	if hashfile is not None:
		conf["ntlm"] = {"domain": "EXAMPLE",
		    "backend": harness.Raw("hashfile"), "hashfile": hashfile}
	conf['network "%s"' % network] = {"src": ["127.0.0.0/8", "::1"],
	    "auth": [harness.Raw(a) for a in auth]}
	return conf


def kcurl(k, p, *args, host=HOST, cc=None, timeout=60):
	"""curl --proxy-negotiate -U : through p, reaching it by the name
	host (the SPN is HTTP/host), with alice's ccache (or cc).  Like
	harness.curl: a CurlResult with the final status and every head."""
	hf = os.path.join(p.t.tmpdir, "kcurl-head.%d" % time.monotonic_ns())
	argv = [harness.CURL, "--noproxy", "", "-sS", "-D", hf,
	    "--proxy-negotiate", "-U", ":",
	    "--resolve", "%s:%d:127.0.0.1" % (host, p.port),
	    "-x", "http://%s:%d" % (host, p.port)] + list(args)
	try:
		pr = subprocess.run(argv, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE, timeout=timeout, env=k.env(cc))
		rc, out, err = pr.returncode, pr.stdout, \
		    pr.stderr.decode(errors="replace")
	except subprocess.TimeoutExpired as e:
		rc, out, err = -1, e.stdout or b"", "curl timed out"
	heads = harness.curl_heads(hf)
	for m in re.finditer(r"Proxy-Authorization: Negotiate (\S+)", err):
		SENT.append(m.group(1))
	final = [h for h in heads if h[0] >= 200]
	status, headers = final[-1] if final else (None, [])
	return harness.CurlResult(rc, status, headers, out, err, heads, None)


def neg_request(url, token=None, extra=""):
	"""A request head (CONNECT when url has no scheme) with
	`Proxy-Authorization: Negotiate token` (token: base64 text)."""
	if token is not None:
		extra = "Proxy-Authorization: Negotiate %s\r\n" % token + extra
	return nc.request(url, extra=extra)


def connect_count(stderr):
	return len(re.findall(r"^\* +Connected to ", stderr, re.M))


# ---------------------------------------------------------------------------
# The acceptor's answer (RFC 4178 4.2.2, RFC 4121 4.1).

def mutual_ok(b64tok, spnego=True):
	"""(ok, why): b64tok is the acceptor's final mutual-auth token."""
	try:
		tok = base64.b64decode(b64tok, validate=True)
	except ValueError:
		return False, "not base64"
	if not spnego:
		return krb5_ap_rep(tok), "bare krb5 AP-REP"
	d = neg_token_resp(tok)
	if d is None:
		return False, "not a NegTokenResp (first byte %#x)" % tok[0]
	if d.get("negState") not in (0, None):
		return False, "negState %r, not accept-completed" % d.get("negState")
	if not krb5_ap_rep(d.get("responseToken", b"")):
		return False, "responseToken is not a krb5 AP-REP"
	return True, "ok"


# ---------------------------------------------------------------------------
# Logs.

def new_lines(p, before, n, timeout=5.0):
	harness.wait_for(lambda: len(p.access_lines()) >= before + n, timeout)
	return p.access_lines()[before:]


def refusals(p, off, words=None, timeout=3.0):
	"""Error-log lines at info after offset off saying "sign-in refused:
	kerberos", and (if words) naming one of words (case-insensitive)."""
	def get():
		return [l for l in p.errlog()[off:].splitlines()
		    if " info: " in l and "sign-in refused: kerberos" in l and
		    (not words or any(w.lower() in l.lower() for w in words))]
	harness.wait_for(get, timeout)
	return get()


def tail(p, off):
	return p.errlog()[off:][-400:]


# ---------------------------------------------------------------------------
# The checks.

def fixture_checks(t, k):
	kdc = k.kdc
	t.check(sum(kdc.timings.values()) < 2.0, "MIT KDC set up in < 2 s",
	    "(%r)" % kdc.timings)
	kt = kdc.klist(keytab=k.keytab)
	t.contains(kt, "HTTP/proxy.example.test@EXAMPLE.TEST",
	    "keytab holds HTTP/proxy.example.test")
	t.eq(os.stat(k.keytab).st_mode & 0o777, 0o600, "keytab mode 0600")
	t.contains(kdc.klist(k.cc), "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST",
	    "kinit alice: a TGT in the ccache")
	try:
		tok = base64.b64decode(k.token())
		t.check(tok[:1] == b"\x60" and b"\x2b\x06\x01\x05\x05\x02" in
		    tok[:12], "negtoken: an SPNEGO NegTokenInit", "(%r)" % tok[:16])
		tok = base64.b64decode(k.token(mech="krb5"))
		t.check(krb5_token(tok, b"\x01\x00", 0x6e),
		    "negtoken -m krb5: a krb5 AP-REQ", "(%r)" % tok[:20])
		toks = k.tokens(5)
		t.eq(len(set(toks)), 5, "negtoken -n 5: five different tokens")
	except RuntimeError as e:
		t.fail("negtoken: %s" % e)
	t.contains(kdc.klist(k.cc), "HTTP/proxy.example.test@EXAMPLE.TEST",
	    "klist: the service ticket is in the ccache")
	pr = subprocess.run([NEGTOKEN, "HTTP@" + HOST], env=k.env(k.nocc),
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
	t.check(pr.returncode == 1 and pr.stdout == "" and
	    "credentials" in pr.stderr.lower(),
	    "negtoken without a ccache: exit 1 and the GSS reason",
	    "(exit %d, %r)" % (pr.returncode, pr.stderr))


def curl_checks(t, k, p, o, ot):
	# GET: one request (curl sends its token first), 200, the body, the
	# mutual-auth token, alice in the log, no header at the origin.
	n0 = len(p.access_lines())
	r = kcurl(k, p, "-v", o.url("/echo?neg=get"))
	t.eq((r.rc, r.status), (0, 200), "curl Negotiate GET: 200") or \
	    t.log("curl stderr: %s" % r.stderr[-600:])
	t.eq([h[0] for h in r.heads], [200], "curl Negotiate GET: no 407 first")
	t.contains(r.stderr, "Proxy-Authorization: Negotiate ",
	    "curl sent a Negotiate token")
	e = {}
	try:
		e = json.loads(r.body)
	except ValueError:
		pass
	t.check(str(e.get("path")).endswith("/echo?neg=get"),
	    "the origin got the request", "(%r)" % e.get("path"))
	t.eq(hget1(e.get("headers", []), "proxy-authorization"), None,
	    "origin never saw Proxy-Authorization")
	neg = neg_values(r.headers)
	ok, why = mutual_ok(neg[0]) if neg and neg[0] else (False, "none")
	t.check(ok, "GET 200 carries Proxy-Authenticate: Negotiate <mutual "
	    "token>", "(%s; %r)" % (why, hget(r.headers, "proxy-authenticate")))
	ls = nc.lines_for(new_lines(p, n0, 1), "/echo?neg=get")
	t.eq(ls and (nc.squid_result(ls[-1]), nc.squid_user(ls[-1])),
	    ("TCP_MISS/200", USER), "GET logged 200 with user alice@EXAMPLE.TEST")

	# Two URLs in one curl: a fresh token with each request on one
	# keep-alive connection; both pass.
	n0 = len(p.access_lines())
	r = kcurl(k, p, "-v", o.url("/size/21"), o.url("/size/22"))
	t.eq([h[0] for h in r.heads], [200, 200], "curl two URLs: 200, 200")
	t.eq(r.body, pattern(21) + pattern(22), "curl two URLs: both bodies")
	t.eq(connect_count(r.stderr), 1, "curl two URLs: one connection")
	t.eq(r.stderr.count("Proxy-Authorization: Negotiate "), 2,
	    "curl two URLs: a token with each request")
	ls = new_lines(p, n0, 2)
	for path in ("/size/21", "/size/22"):
		l = nc.lines_for(ls, path)
		t.eq(l and nc.squid_user(l[-1]), USER, "%s logged as alice" % path)

	# https through CONNECT: the tunnel's 200 carries the mutual token.
	before = ot.stats()["requests"]
	n0 = len(p.access_lines())
	r = kcurl(k, p, "-v", "-k", ot.url("/size/4321"))
	t.eq((r.status, r.body == pattern(4321)), (200, True),
	    "curl Negotiate https through CONNECT")
	t.eq([h[0] for h in r.heads], [200, 200],
	    "CONNECT: tunnel 200 then origin 200, no 407")
	t.eq(ot.stats()["requests"] - before, 1, "TLS origin saw one request")
	neg = neg_values(r.heads[0][1]) if r.heads else []
	ok, why = mutual_ok(neg[0]) if neg and neg[0] else (False, "none")
	t.check(ok, "CONNECT 200 carries Proxy-Authenticate: Negotiate "
	    "<mutual token>", "(%s; %r)" % (why, r.heads[:1]))
	ls = [l for l in new_lines(p, n0, 1) if " CONNECT " in l]
	t.eq(ls and (nc.squid_result(ls[-1]), nc.squid_user(ls[-1])),
	    ("TCP_TUNNEL/200", USER), "tunnel logged with alice@EXAMPLE.TEST")

	# No ticket: 407 offering a bare Negotiate; the origin sees nothing.
	before = o.stats()["requests"]
	r = kcurl(k, p, o.url("/size/5"), cc=k.nocc)
	t.eq(r.status, 407, "no ticket: 407")
	t.check("" in neg_values(r.headers), "no ticket: the 407 offers "
	    "Negotiate", "(%r)" % hget(r.headers, "proxy-authenticate"))
	t.eq(o.stats()["requests"], before, "no ticket: origin saw nothing")

	# A ticket for another service (HTTP/other.example.test is in the
	# KDC, not in the keytab).
	off = len(p.errlog())
	before = o.stats()["requests"]
	r = kcurl(k, p, "-v", o.url("/size/6"), host="other.example.test")
	t.contains(r.stderr, "Proxy-Authorization: Negotiate ",
	    "other service: curl did send a token")
	t.eq(r.status, 407, "ticket for another service: 407")
	t.check("" in neg_values(r.headers), "other service: 407 offers "
	    "Negotiate again", "(%r)" % hget(r.headers, "proxy-authenticate"))
	t.eq(o.stats()["requests"], before, "other service: origin saw nothing")
	t.check(refusals(p, off), "other service: \"sign-in refused: "
	    "kerberos\" at info", "(%r)" % tail(p, off))


def raw_checks(t, k, p, o):
	url = o.url("/size/10")

	# No header: 407 with a bare Negotiate and nothing else.
	r, c = harness.raw_request(p.port, neg_request(url))
	t.eq(r and r.status, 407, "raw, no header: 407")
	t.eq(r and offers(r.headers), ["Negotiate"],
	    "network {negotiate}: only Negotiate offered")
	t.eq(r and neg_values(r.headers), [""], "the offer is a bare Negotiate")
	c.close()

	# A negtoken token: 200 with the mutual token; later requests on
	# that connection need no header and carry alice; a new token on
	# it is verified again; a replayed one is refused and signs the
	# connection out.
	n0 = len(p.access_lines())
	tok = k.token()
	c = harness.RawConn(p.port)
	c.send(neg_request(o.url("/size/31"), tok))
	r = c.response()
	t.eq(r and (r.status, r.body), (200, pattern(31)),
	    "raw SPNEGO token: 200")
	neg = neg_values(r.headers) if r else []
	ok, why = mutual_ok(neg[0]) if neg and neg[0] else (False, "none")
	t.check(ok, "raw SPNEGO: mutual token in the 200", "(%s)" % why)
	c.send(neg_request(o.url("/size/32")))
	r = c.response()
	t.eq(r and r.status, 200, "signed-in connection: no header needed")
	c.send(neg_request(o.url("/size/33"), k.token()))
	r = c.response()
	t.eq(r and r.status, 200, "signed-in connection: a new token passes")
	ls = new_lines(p, n0, 3)
	for path in ("/size/31", "/size/32", "/size/33"):
		l = nc.lines_for(ls, path)
		t.eq(l and nc.squid_user(l[-1]), USER, "raw %s logged as alice"
		    % path)
	off = len(p.errlog())
	c.send(neg_request(o.url("/size/34"), tok))
	r = c.response()
	t.eq(r and r.status, 407, "signed-in connection: a replayed token -> 407")
	t.check(refusals(p, off, ["replay"]), "replay on a signed-in "
	    "connection: reason (replay) logged", "(%r)" % tail(p, off))
	c.send(neg_request(o.url("/size/35")))
	r = c.response()
	t.eq(r and r.status, 407, "the refused token signed the connection out")
	c.close()

	# Bare krb5 (RFC 4121) token, answered with a bare AP-REP.
	r, c = harness.raw_request(p.port, neg_request(o.url("/size/36"),
	    k.token(mech="krb5")))
	t.eq(r and r.status, 200, "raw bare krb5 token: 200")
	neg = neg_values(r.headers) if r else []
	ok, why = mutual_ok(neg[0], spnego=False) if neg and neg[0] else \
	    (False, "none")
	t.check(ok, "bare krb5: the 200 carries an AP-REP", "(%s)" % why)
	c.close()

	# CONNECT with a token on a raw connection.
	r, c = harness.raw_request(p.port, neg_request("127.0.0.1:%d" %
	    p.tls_port, k.token()), method="CONNECT")
	t.eq(r and r.status, 200, "raw CONNECT with a token: 200")
	neg = neg_values(r.headers) if r else []
	t.check(neg and neg[0] and mutual_ok(neg[0])[0],
	    "raw CONNECT: mutual token in the 200", "(%r)" % neg)
	c.close()

	# Replay: one token on two new connections: 200, then 407.
	tok = k.token()
	r1, c1 = harness.raw_request(p.port, neg_request(url, tok))
	c1.close()
	off = len(p.errlog())
	r2, c2 = harness.raw_request(p.port, neg_request(url, tok))
	c2.close()
	t.eq((r1 and r1.status, r2 and r2.status), (200, 407),
	    "one token on two connections: 200, then 407")
	t.check(r2 is not None and "" in neg_values(r2.headers),
	    "replay: the 407 offers Negotiate")
	t.check(refusals(p, off, ["replay"]), "replay: reason (replay) logged",
	    "(%r)" % tail(p, off))

	# Clock skew: a token made an hour ahead (the service ticket is
	# already in the ccache, so negtoken needs no KDC under faketime).
	if not os.access(FAKETIME, os.X_OK):
		t.fail("faketime missing (install the faketime package)")
	else:
		k.kdc.kvno("HTTP/" + HOST, k.cc)
		off = len(p.errlog())
		try:
			tok = k.token(prefix=[FAKETIME, "-f", "+1h"])
			r, c = harness.raw_request(p.port, neg_request(url, tok))
			c.close()
			t.eq(r and r.status, 407, "token from 1 h ahead: 407")
			t.check(refusals(p, off, ["skew"]), "clock skew: reason "
			    "(skew) logged", "(%r)" % tail(p, off))
		except RuntimeError as e:
			t.fail("negtoken under faketime: %s" % e)

	# Garbage: each a 407, the connection still usable (a second
	# request on it gets an answer), the proxy still serves.
	good = base64.b64decode(k.token())
	cases = [
		("bad base64", "!!!not*base64$$$"),
		("random bytes", base64.b64encode(os.urandom(96)).decode()),
		("truncated SPNEGO", base64.b64encode(good[:40]).decode()),
		("SPNEGO cut in the AP-REQ",
		    base64.b64encode(good[:len(good) // 2]).decode()),
		("NegTokenResp with no context",
		    base64.b64encode(bytes.fromhex("a1073005a0030a0101")).decode()),
		("empty NegTokenInit",
		    base64.b64encode(bytes.fromhex("600806062b0601050502")).decode()),
		("huge 40 KB token",
		    base64.b64encode(os.urandom(30000)).decode()),
	]
	for what, tok in cases:
		c = harness.RawConn(p.port)
		c.send(neg_request(url, tok))
		r = c.response()
		t.eq(r and r.status, 407, "garbage (%s): 407" % what)
		t.check(r is not None and "" in neg_values(r.headers),
		    "garbage (%s): Negotiate offered again" % what)
		c.send(neg_request(url))
		r = c.response()
		t.eq(r and r.status, 407, "garbage (%s): connection still usable"
		    % what)
		c.close()
	t.check(p.alive(), "proxy alive after the garbage")
	r, c = harness.raw_request(p.port, neg_request(url, k.token()))
	t.eq(r and r.status, 200, "after the garbage a good token passes")
	c.close()


def replay_workers_checks(t, k, o):
	"""Two workers share the replay cache: one token on eight new
	connections (spread over both) passes once."""
	p = k.proxy(workers=2, **neg_conf(k.keytab))
	tok = k.token()
	got = []
	for _ in range(8):
		r, c = harness.raw_request(p.port, neg_request(o.url("/size/9"),
		    tok))
		got.append(r and r.status)
		c.close()
	t.eq(got, [200] + [407] * 7,
	    "workers=2: one token on 8 connections passes once")
	p.stop()


def hangup_checks(t, k, p, o):
	"""Fifty clients that close right after sending their token (the
	accept runs on a thread meanwhile), then a normal request."""
	toks = k.tokens(50)
	off = len(p.errlog())
	for tok in toks:
		c = harness.RawConn(p.port)
		c.send(neg_request(o.url("/size/8"), tok))
		c.close()
	time.sleep(0.5)
	t.check(p.alive(), "50 hang-ups after the token: proxy alive")
	r = kcurl(k, p, o.url("/size/12"))
	t.eq((r.status, r.body), (200, pattern(12)),
	    "after 50 hang-ups a normal request works")
	errs = [l for l in p.errlog()[off:].splitlines() if " error: " in l]
	t.eq(errs[:3], [], "the hang-ups logged nothing at error level")


def parallel_checks(t, k, p, o, n=40):
	"""n connections at once, each with its own token: all pass."""
	toks = k.tokens(n)
	res = [None] * n

	def one(i):
		try:
			r, c = harness.raw_request(p.port, neg_request(
			    o.url("/size/%d" % (200 + i)), toks[i]), timeout=20)
			res[i] = r and (r.status, r.body == pattern(200 + i))
			c.close()
		except OSError as e:
			res[i] = repr(e)
	ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
	for th in ths:
		th.start()
	for th in ths:
		th.join(30)
	bad = [(i, x) for i, x in enumerate(res) if x != (200, True)]
	t.eq(bad, [], "%d tokens in parallel all pass" % n)


def names_checks(t, k, o):
	# strip_realm: "alice".
	p = k.proxy(**neg_conf(k.keytab, strip_realm=True))
	r = kcurl(k, p, o.url("/size/41"))
	t.eq(r.status, 200, "strip_realm: 200")
	l = nc.lines_for(p.wait_access_lines(1), "/size/41")
	t.eq(l and nc.squid_user(l[-1]), "alice", "strip_realm: logged as alice")
	p.stop()

	# realm_map: "EXAMPLE\alice", and it wins over strip_realm.
	p = k.proxy(**neg_conf(k.keytab, strip_realm=True,
	    realm_map=["OTHER.TEST=OTHER", "EXAMPLE.TEST=EXAMPLE"]))
	r = kcurl(k, p, o.url("/size/42"))
	t.eq(r.status, 200, "realm_map: 200")
	l = nc.lines_for(p.wait_access_lines(1), "/size/42")
	t.eq(l and nc.squid_user(l[-1]), "EXAMPLE\\alice",
	    "realm_map EXAMPLE.TEST=EXAMPLE: logged as EXAMPLE\\alice")
	p.stop()

	# A realm_map without our realm leaves the name alone.
	p = k.proxy(**neg_conf(k.keytab, realm_map=["OTHER.TEST=OTHER"]))
	r = kcurl(k, p, o.url("/size/43"))
	l = nc.lines_for(p.wait_access_lines(1), "/size/43")
	t.eq(l and (r.status, nc.squid_user(l[-1])), (200, USER),
	    "realm_map without EXAMPLE.TEST: alice@EXAMPLE.TEST")
	p.stop()

	# json: "user" and "auth":"negotiate"; the 407 has no user.
	p = k.proxy(log_format=harness.Raw("json"), **neg_conf(k.keytab))
	r = kcurl(k, p, o.url("/size/44"))
	t.eq(r.status, 200, "json proxy: 200")
	r = kcurl(k, p, o.url("/size/45"), cc=k.nocc)
	t.eq(r.status, 407, "json proxy: no ticket 407")
	recs = p.wait_json_records(2)
	ok = [x for x in recs if x.get("status") == 200]
	t.eq(ok and (ok[-1].get("user"), ok[-1].get("auth")),
	    (USER, "negotiate"), "json: user alice@EXAMPLE.TEST, auth negotiate")
	den = [x for x in recs if x.get("status") == 407]
	t.check(den and den[-1].get("user") in (None, "", "-"),
	    "json: the 407 has no user", "(%r)" % den)
	p.stop()


def two_principal_checks(t, k, o):
	"""hostname differs from both names, principal unset, the keytab
	holds HTTP/proxy and HTTP/proxy2: clients using either name pass."""
	kt2 = os.path.join(t.tmpdir, "two.keytab")
	k.kdc.ktadd("HTTP/proxy.example.test", kt2)
	k.kdc.ktadd("HTTP/proxy2.example.test", kt2)
	ktl = k.kdc.klist(keytab=kt2)
	t.check("HTTP/proxy.example.test@" in ktl and
	    "HTTP/proxy2.example.test@" in ktl, "two.keytab holds both names")
	p = k.proxy(hostname="gateway.example.test", **neg_conf(kt2))
	for i, host in enumerate(("proxy.example.test", "proxy2.example.test")):
		r = kcurl(k, p, o.url("/size/%d" % (50 + i)), host=host)
		t.eq(r.status, 200, "two principals, no principal set: %s works"
		    % host)
	ls = p.wait_access_lines(2)
	t.eq([nc.squid_user(l) for l in ls if nc.squid_result(l) ==
	    "TCP_MISS/200"], [USER, USER], "two principals: both logged as alice")
	p.stop()

	# principal set (without @REALM: the default realm): only that one.
	p = k.proxy(hostname="gateway.example.test",
	    **neg_conf(kt2, principal="HTTP/proxy2.example.test"))
	r = kcurl(k, p, o.url("/size/52"), host="proxy2.example.test")
	t.eq(r.status, 200, "principal HTTP/proxy2 (default realm): its name "
	    "works")
	off = len(p.errlog())
	r = kcurl(k, p, o.url("/size/53"), host="proxy.example.test")
	t.eq(r.status, 407, "principal HTTP/proxy2: a ticket for HTTP/proxy "
	    "is refused")
	t.check(refusals(p, off), "principal HTTP/proxy2: refusal logged",
	    "(%r)" % tail(p, off))
	p.stop()


def kvno_checks(t, k, o):
	"""A keytab made before the key changed (randkey bumps the kvno):
	tickets now carry kvno 2, the keytab only has 1."""
	kt = os.path.join(t.tmpdir, "stale.keytab")
	k.kdc.ktadd("HTTP/stale.example.test", kt)
	k.kdc.randkey("HTTP/stale.example.test")
	t.eq(k.kdc.kvno_of("HTTP/stale.example.test"), 2,
	    "randkey bumped the kvno to 2")
	p = k.proxy(**neg_conf(kt))
	off = len(p.errlog())
	r = kcurl(k, p, "-v", o.url("/size/60"), host="stale.example.test")
	t.contains(r.stderr, "Proxy-Authorization: Negotiate ",
	    "stale kvno: curl did send a token")
	t.eq(r.status, 407, "ticket with kvno 2, keytab kvno 1: 407")
	t.check(refusals(p, off, ["kvno", "key version", "cannot find key",
	    "keytab"]), "stale kvno: reason (key version) logged",
	    "(%r)" % tail(p, off))
	p.stop()


def configcheck_checks(t, k):
	"""iaproxy -t on bad negotiate sections: exit 1, FILE:LINE:."""
	def conf_with(keytab, **neg):
		px = k.proxy(start=False, **neg_conf(keytab, **neg))
		text = open(px.conf_path).read().splitlines()
		lines = {opt: i + 1 for i, l in enumerate(text) for opt in
		    ("keytab", "principal") if l.strip().startswith(opt + " =")}
		return px.conf_path, lines

	path, lines = conf_with(k.keytab,
	    principal="HTTP/proxy.example.test@EXAMPLE.TEST")
	rc, out = k.check_conf(path)
	t.eq(rc, 0, "-t: a good negotiate section passes") or t.log(out)

	missing = os.path.join(t.tmpdir, "missing.keytab")
	loose = os.path.join(t.tmpdir, "loose.keytab")
	with open(k.keytab, "rb") as f:
		data = f.read()
	with open(loose, "wb") as f:
		f.write(data)
	os.chmod(loose, 0o644)
	empty = os.path.join(t.tmpdir, "empty.keytab")
	open(empty, "w").close()
	os.chmod(empty, 0o600)
	cases = [
		("missing keytab", missing, {}, "keytab", missing),
		("world-readable keytab (0644)", loose, {}, "keytab", loose),
		("empty keytab", empty, {}, "keytab", empty),
		("principal not in the keytab", k.keytab,
		    {"principal": "HTTP/nothere.example.test@EXAMPLE.TEST"},
		    ("principal", "keytab"), "nothere"),
	]
	for what, kt, neg, opts, needle in cases:
		path, lines = conf_with(kt, **neg)
		rc, out = k.check_conf(path)
		t.eq(rc, 1, "-t, %s: exit 1" % what) or t.log(out)
		m = re.search(re.escape(path) + r":(\d+):", out)
		want = [lines.get(o) for o in ((opts,) if isinstance(opts, str)
		    else opts)]
		t.check(m and int(m.group(1)) in want, "-t, %s: FILE:LINE: at "
		    "the %s line" % (what, "/".join([opts] if isinstance(opts,
		    str) else opts)), "(want line %r; %r)" % (want, out[-300:]))
		t.contains(out, needle, "-t, %s: the message names %s" %
		    (what, os.path.basename(needle)))


def network_checks(t, k, o, hf):
	# negotiate and ntlm: Negotiate offered first, then NTLM; Kerberos
	# works there too; a refused token gets both offers again.
	p = k.proxy(**neg_conf(k.keytab, auth=("negotiate", "ntlm"),
	    hashfile=hf))
	r, c = harness.raw_request(p.port, neg_request(o.url("/size/70")))
	t.eq(r and r.status, 407, "{negotiate, ntlm}: 407 without a header")
	t.eq(r and offers(r.headers), ["Negotiate", "NTLM"],
	    "{negotiate, ntlm}: Negotiate offered first, then NTLM")
	c.close()
	r = kcurl(k, p, o.url("/size/71"))
	t.eq(r.status, 200, "{negotiate, ntlm}: Kerberos sign-in works")
	l = nc.lines_for(p.wait_access_lines(2), "/size/71")
	t.eq(l and nc.squid_user(l[-1]), USER,
	    "{negotiate, ntlm}: logged as alice@EXAMPLE.TEST")
	tok = k.token()
	r, c = harness.raw_request(p.port, neg_request(o.url("/size/72"), tok))
	c.close()
	off = len(p.errlog())
	r, c = harness.raw_request(p.port, neg_request(o.url("/size/72"), tok))
	t.eq(r and (r.status, offers(r.headers)), (407, ["Negotiate", "NTLM"]),
	    "{negotiate, ntlm}: a refused (replayed) token gets 407 with both "
	    "offers, Negotiate first")
	t.check(refusals(p, off, ["replay"]), "{negotiate, ntlm}: the replay "
	    "is logged", "(%r)" % tail(p, off))
	c.close()
	p.stop()

	# A negotiate section, but the network offers only ntlm: a Kerberos
	# token signs nobody in, and only NTLM is offered.
	p = k.proxy(**neg_conf(k.keytab, auth=("ntlm",), hashfile=hf))
	before = o.stats()["requests"]
	r, c = harness.raw_request(p.port, neg_request(o.url("/size/73"),
	    k.token()))
	t.eq(r and r.status, 407, "{ntlm} only: a Kerberos token gets 407")
	t.eq(r and offers(r.headers), ["NTLM"], "{ntlm} only: only NTLM offered")
	c.close()
	t.check(harness.wait_for(lambda: [l for l in p.errlog().splitlines()
	    if " info: " in l and "sign-in refused" in l], 3),
	    "{ntlm} only: the refusal is logged", "(%r)" % p.errlog()[-300:])
	t.eq(o.stats()["requests"], before, "{ntlm} only: origin saw nothing")
	p.stop()


def reload_checks(t, k, p, o):
	n = p.errlog().count("reloaded")
	p.reload()
	t.check(harness.wait_for(lambda: p.errlog().count("reloaded") > n, 5),
	    "SIGHUP: \"reloaded\" logged", "(%r)" % p.errlog()[-300:])
	r = kcurl(k, p, o.url("/size/80"))
	t.eq(r.status, 200, "after SIGHUP Kerberos sign-in still works")

	# A reload that changes the negotiate section takes effect.
	p.write_config(negotiate=dict(p.conf["negotiate"], strip_realm=True))
	n = p.errlog().count("reloaded")
	p.reload()
	t.check(harness.wait_for(lambda: p.errlog().count("reloaded") > n, 5),
	    "SIGHUP with strip_realm: \"reloaded\" logged")
	n0 = len(p.access_lines())
	r = kcurl(k, p, o.url("/size/81"))
	l = nc.lines_for(new_lines(p, n0, 1), "/size/81")
	t.eq(l and (r.status, nc.squid_user(l[-1])), (200, "alice"),
	    "after a reload with strip_realm = true: logged as alice")

	# A reload to a keytab that is not there fails and keeps the old one.
	p.write_config(negotiate=dict(p.conf["negotiate"],
	    keytab=os.path.join(t.tmpdir, "gone.keytab")))
	n = p.errlog().count("reload failed")
	p.reload()
	t.check(harness.wait_for(lambda: p.errlog().count("reload failed") > n,
	    5), "SIGHUP with a missing keytab: \"reload failed\"",
	    "(%r)" % p.errlog()[-300:])
	r = kcurl(k, p, o.url("/size/82"))
	t.eq(r.status, 200, "a failed reload keeps Kerberos working")
	p.write_config(negotiate=dict(p.conf["negotiate"], keytab=k.keytab,
	    strip_realm=False))
	n = p.errlog().count("reloaded")
	p.reload()
	t.check(harness.wait_for(lambda: p.errlog().count("reloaded") > n, 5),
	    "SIGHUP back to the first keytab: \"reloaded\"")


def no_kdc_checks(t, k, p, o):
	"""Accepting needs only the keytab: with the KDC stopped, a token
	made from the cached service ticket still passes."""
	toks = k.tokens(1)
	k.kdc.stop()
	r, c = harness.raw_request(p.port, neg_request(o.url("/size/90"),
	    toks[0]))
	t.eq(r and r.status, 200, "KDC stopped: a token still passes")
	c.close()


def main(t):
	why = peers.kdc_available()
	if why is not None:
		t.fail("cannot run: " + why)
		return
	if not os.access(NEGTOKEN, os.X_OK):
		t.fail("cannot run: %s not built (make tests/tools/negtoken, or "
		    "make check)" % NEGTOKEN)
		return
	k = Krb(t)
	fixture_checks(t, k)

	o = t.origin()
	ot = t.origin(tls=True)
	p = k.proxy(connect_ports=[ot.port], **neg_conf(k.keytab,
	    principal="HTTP/proxy.example.test@EXAMPLE.TEST", threads=2))
	p.tls_port = ot.port

	curl_checks(t, k, p, o, ot)
	raw_checks(t, k, p, o)
	replay_workers_checks(t, k, o)
	hangup_checks(t, k, p, o)
	parallel_checks(t, k, p, o)
	names_checks(t, k, o)
	two_principal_checks(t, k, o)
	kvno_checks(t, k, o)
	configcheck_checks(t, k)
	hf = nc.write_hashfile(os.path.join(t.tmpdir, "ntlm.hashes"),
	    ["alice:" + nc.nt_hash("Secret123").hex()])
	network_checks(t, k, o, hf)
	reload_checks(t, k, p, o)
	no_kdc_checks(t, k, p, o)

	# Never a token in a log; never Proxy-Authorization at an origin.
	logs = "\n".join(px.errlog() for px in t.proxies)
	logs += "\n".join("\n".join(px.access_lines()) for px in t.proxies)
	leaked = [s[:20] for s in set(SENT) if len(s) >= 24 and
	    s[8:48] in logs]
	t.eq(leaked, [], "no Negotiate token in the error or access logs")
	heads = "\n".join(o.stats()["heads"] + ot.stats()["heads"]).lower()
	t.not_contains(heads, "proxy-authorization",
	    "no origin request head carried Proxy-Authorization")


harness.run(main)
