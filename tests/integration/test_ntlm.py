#!/usr/bin/python3
"""NTLMv2 sign-in with the hashfile backend: curl --proxy-ntlm (GET, POST,
https through CONNECT) and the protocol rules over raw connections (407
without credentials, the challenge bound to its connection and used once,
expiry, interleaved connections, identity per connection), networks (403,
auth none, first match wins), /proxy.pac without sign-in, the hash file
(iaproxy -H, mode, reload) and what the error log says (reasons, never a
password or hash).  The raw type 1/type 3 messages come from Samba's
ntlm_auth (a real client); see ntlm_client.py."""

import hashlib
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
from harness import hget1, pattern

USERS = {"alice": "Secret123", "bob": "B0b-pass!"}
CAROL = ("carol", "Car0l-pw")
TTL = 3			# challenge_ttl of the main proxy, seconds


def make_hashfile(t, path, users):
	"""A hash file made with `iaproxy -H`, each line checked against the
	MD4 of the UTF-16LE password (a failed -H is recorded and replaced by
	the computed line, so the other checks still run)."""
	lines = []
	for u, pw in users:
		rc, out = nc.hash_line(harness.IAPROXY, u, pw)
		want = "%s:%s" % (u, nc.nt_hash(pw).hex())
		ok = rc == 0 and out.lower() == want.lower()
		t.check(ok, "iaproxy -H %s prints %s:NTHASH" % (u, u),
		    "(rc %r, got %r, want %r)" % (rc, out, want))
		lines.append(out if ok else want)
	return nc.write_hashfile(path, lines)


def new_lines(p, before, n, timeout=5.0):
	"""The access-log lines after the first `before`, once n are there."""
	harness.wait_for(lambda: len(p.access_lines()) >= before + n, timeout)
	return p.access_lines()[before:]


def info_since(p, off, words=None, timeout=3.0):
	"""The error-log lines at info written after offset off that say a
	sign-in was refused, and (if words) name one of words as the reason
	(case-insensitive).  The generic "407 ... sign-in required" line is
	not a reason."""
	def get():
		return [l for l in p.errlog()[off:].splitlines()
		    if " info: " in l and "refused" in l.lower() and
		    (not words or any(w.lower() in l.lower() for w in words))]
	harness.wait_for(get, timeout)
	return get()


def bare_ntlm(t, r, what):
	"""A fresh 407 with a bare `Proxy-Authenticate: NTLM`."""
	t.eq(r and r.status, 407, "%s: 407" % what)
	t.check(r is not None and "" in nc.challenges(r, "NTLM"),
	    "%s: Proxy-Authenticate: NTLM (no challenge)" % what,
	    "(got %r)" % (r and r.header("proxy-authenticate")))


def connect_count(stderr):
	"""How many TCP connections curl -v says it opened."""
	return len(re.findall(r"^\* +Connected to ", stderr, re.M))


def curl_checks(t, p, o, ot):
	alice = nc.curl_ntlm_args("alice", USERS["alice"])

	# GET: 407 then 200 on one connection, the body, the user logged.
	n0 = len(p.access_lines())
	r = harness.curl(p, "-v", *alice, o.url("/size/1234"))
	t.eq(r.rc, 0, "curl NTLM GET exit code")
	t.eq(r.status, 200, "curl NTLM GET status")
	t.eq(r.body, pattern(1234), "curl NTLM GET body")
	t.eq([h[0] for h in r.heads], [407, 200], "curl NTLM GET: 407 then 200")
	t.eq(connect_count(r.stderr), 1, "curl NTLM GET: one connection")
	pa = [v.split()[0] for v in harness.hget(r.heads[0][1] if r.heads
	    else [], "proxy-authenticate")]
	t.check("NTLM" in pa, "curl NTLM GET: the 407 offers NTLM", "(%r)" % pa)
	ls = nc.lines_for(new_lines(p, n0, 2), "/size/1234")
	t.eq([nc.squid_result(l) for l in ls],
	    ["TCP_DENIED/407", "TCP_MISS/200"], "GET logged: 407 then 200")
	t.eq(ls and nc.squid_user(ls[-1]), "EXAMPLE\\alice",
	    "GET 200 logged with user EXAMPLE\\alice")

	# POST with a body: the body arrives whole, no Proxy-Authorization.
	body = bytes((i * 13) % 251 for i in range(50000))
	bf = os.path.join(t.tmpdir, "post.bin")
	with open(bf, "wb") as f:
		f.write(body)
	n0 = len(p.access_lines())
	r = harness.curl(p, "-v", *alice, "--data-binary", "@" + bf,
	    o.url("/echo"))
	t.eq(r.status, 200, "curl NTLM POST status")
	t.eq(connect_count(r.stderr), 1, "curl NTLM POST: one connection")
	try:
		e = json.loads(r.body)
	except ValueError:
		e = {"headers": [], "method": None, "body_len": None,
		    "body_sha256": None}
	t.eq(e["method"], "POST", "origin saw the POST")
	t.eq(e["body_len"], len(body), "POST body length at the origin")
	t.eq(e["body_sha256"], hashlib.sha256(body).hexdigest(),
	    "POST body sha256 at the origin")
	t.eq(hget1(e["headers"], "proxy-authorization"), None,
	    "origin never saw Proxy-Authorization (POST)")
	ls = nc.lines_for(new_lines(p, n0, 2), "/echo")
	t.eq(ls and nc.squid_user(ls[-1]), "EXAMPLE\\alice",
	    "POST logged with user EXAMPLE\\alice")
	t.eq(ls and nc.squid_result(ls[-1]), "TCP_MISS/200", "POST logged 200")

	# https through CONNECT: 407, 200 (tunnel), 200 (origin) on one
	# connection; the tunnel logged with the user.
	before = ot.stats()["requests"]
	n0 = len(p.access_lines())
	r = harness.curl(p, "-v", "-k", *alice, ot.url("/size/4321"))
	t.eq(r.status, 200, "curl NTLM https status")
	t.eq(r.body, pattern(4321), "curl NTLM https body")
	t.eq([h[0] for h in r.heads], [407, 200, 200],
	    "curl NTLM https: 407, tunnel 200, origin 200")
	t.eq(connect_count(r.stderr), 1, "curl NTLM https: one connection")
	t.eq(ot.stats()["requests"] - before, 1, "TLS origin saw one request")
	ls = [l for l in new_lines(p, n0, 2) if " CONNECT " in l]
	t.eq([nc.squid_result(l) for l in ls],
	    ["TCP_DENIED/407", "TCP_TUNNEL/200"], "CONNECT logged: 407, tunnel")
	t.eq(ls and nc.squid_user(ls[-1]), "EXAMPLE\\alice",
	    "tunnel logged with user EXAMPLE\\alice")

	# Wrong password, unknown user: 407 in the end, a reason logged.
	for who, pw, what, why in (("alice", "Wrong-Pass9", "wrong password",
	    "password"), ("mallory", "Secret123", "unknown user", "unknown")):
		off = len(p.errlog())
		before = o.stats()["requests"]
		r = harness.curl(p, *nc.curl_ntlm_args(who, pw), o.url("/size/5"))
		t.eq(r.status, 407, "curl NTLM %s: 407" % what)
		t.eq(o.stats()["requests"], before, "%s: origin saw nothing" % what)
		t.check(info_since(p, off, [why]), "%s: reason (%s) logged at info"
		    % (what, why),
		    "(error log tail %r)" % p.errlog()[off:][-300:])


def raw_checks(t, p, o):
	url = o.url("/size/10")

	# No credentials: 407, bare NTLM, an HTML body with Content-Length,
	# the connection stays open for the next request.
	before = o.stats()["requests"]
	n0 = len(p.access_lines())
	c = harness.RawConn(p.port)
	c.send(nc.request(url))
	r = c.response()
	bare_ntlm(t, r, "no credentials")
	if r:
		cl = r.header("content-length")
		t.check(cl is not None and cl.isdigit() and int(cl) == len(r.body)
		    and len(r.body) > 0, "407 body has a Content-Length",
		    "(Content-Length %r, body %d bytes)" % (cl, len(r.body)))
		t.contains((r.header("content-type") or "").lower(), "text/html",
		    "407 body is HTML")
	c.send(nc.request(url))
	r = c.response()
	t.eq(r and r.status, 407, "connection kept open after the 407: "
	    "second request answered 407")
	c.close()
	t.eq(o.stats()["requests"], before, "no credentials: origin saw nothing")
	ls = new_lines(p, n0, 2)
	t.eq([nc.squid_result(l) for l in ls], ["TCP_DENIED/407"] * 2,
	    "407s logged as TCP_DENIED/407")

	# A full handshake; later requests on that connection need no header
	# and carry the user; the origin never sees Proxy-Authorization.
	n0 = len(p.access_lines())
	c = harness.RawConn(p.port)
	cl = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
	x = nc.handshake(c, o.url("/echo?leg=3"), cl)
	cl.close()
	t.check(x.type2 is not None, "type 1 answered with a type 2 challenge",
	    "(407 %r, Proxy-Authenticate %r)" % (x.r1, x.r1 and
	    x.r1.header("proxy-authenticate")))
	if x.type2 is not None:
		m = nc.parse(x.type2)
		t.check(m["target_info"] and
		    nc.av_get(m["av"], nc.AV_NB_DOMAIN) == "EXAMPLE".encode(
		    "utf-16-le"), "challenge carries target info with EXAMPLE")
		t.check(m["flags"] & nc.NEG_TARGET_INFO,
		    "challenge sets NEGOTIATE_TARGET_INFO")
	t.eq(x.status, 200, "raw handshake (ntlm_auth): 200")
	if x.r2 is not None and x.r2.status == 200:
		e = json.loads(x.r2.body)
		t.eq(hget1(e["headers"], "proxy-authorization"), None,
		    "origin never saw Proxy-Authorization (raw)")
	for i in (1, 2):
		c.send(nc.request(o.url("/size/%d" % (100 + i))))
		r = c.response()
		t.eq(r and (r.status, r.body), (200, pattern(100 + i)),
		    "authenticated connection: request %d without header" % i)
	# The type 3 again on its own connection: its challenge is used.
	if x.type3 is not None:
		off = len(p.errlog())
		c.send(nc.request(o.url("/size/103"), x.type3))
		bare_ntlm(t, c.response(), "type 3 replayed on its connection")
		t.check(info_since(p, off, ["challenge"]),
		    "type 3 replayed on its connection: reason (challenge) logged")
	c.close()
	ls = new_lines(p, n0, 4)
	for path in ("/echo?leg=3", "/size/101", "/size/102"):
		l = nc.lines_for(ls, path)
		t.eq(l and nc.squid_user(l[-1]), "EXAMPLE\\alice",
		    "%s logged with EXAMPLE\\alice" % path)
	saved_type3 = x.type3

	# That type 3 again on a new connection: no challenge here -> 407.
	if saved_type3:
		off = len(p.errlog())
		before = o.stats()["requests"]
		r, c = harness.raw_request(p.port, nc.request(url, saved_type3))
		bare_ntlm(t, r, "type 3 on a new connection")
		c.close()
		t.eq(o.stats()["requests"], before,
		    "type 3 on a new connection: origin saw nothing")
		t.check(info_since(p, off, ["challenge"]), "type 3 on a new "
		    "connection: reason (challenge) logged")

	# A challenge belongs to its connection: A's answer sent on B (which
	# has its own challenge) is refused, and A can still use it.
	a = harness.RawConn(p.port)
	b = harness.RawConn(p.port)
	ca = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
	cb = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
	a.send(nc.request(url, ca.type1()))
	b.send(nc.request(url, cb.type1()))
	ta = nc.type2_of(a.response())
	tb = nc.type2_of(b.response())
	t.check(ta and tb and nc.parse(ta)["challenge"] !=
	    nc.parse(tb)["challenge"], "two connections get different challenges")
	if ta and tb:
		t3a = ca.type3(ta)
		off = len(p.errlog())
		b.send(nc.request(url, t3a))
		r = b.response()
		bare_ntlm(t, r, "A's type 3 on B")
		t.check(info_since(p, off), "A's type 3 on B: refusal logged")
		a.send(nc.request(url, t3a))
		r = a.response()
		t.eq(r and r.status, 200, "A's type 3 on A still accepted")
	ca.close()
	cb.close()
	a.close()
	b.close()

	# A challenge is used once: a wrong answer consumes it, the right
	# answer to the same challenge is then refused; a new type 1 gets a
	# new challenge that works on the same connection.
	c = harness.RawConn(p.port)
	good = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
	bad = nc.NtlmAuthClient("alice", "EXAMPLE", "not-the-password")
	c.send(nc.request(url, bad.type1()))
	t2 = nc.type2_of(c.response())
	good.type1()
	if t2:
		off = len(p.errlog())
		c.send(nc.request(url, bad.type3(t2)))
		r = c.response()
		bare_ntlm(t, r, "wrong password (raw)")
		t.check(info_since(p, off, ["password"]),
		    "wrong password (raw): reason logged")
		off = len(p.errlog())
		c.send(nc.request(url, good.type3(t2)))
		r = c.response()
		bare_ntlm(t, r, "right answer to a used challenge")
		t.check(info_since(p, off, ["challenge"]),
		    "used challenge: reason (challenge) logged")
	else:
		t.fail("no challenge for the challenge-reuse check")
	good.close()
	bad.close()
	cl = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
	x = nc.handshake(c, url, cl)
	cl.close()
	t.check(x.type2 and t2 and nc.parse(x.type2)["challenge"] !=
	    nc.parse(t2)["challenge"], "a new type 1 gets a new challenge")
	t.eq(x.status, 200, "same connection signs in after two refusals")
	c.close()

	# Re-sending type 1 gives a new challenge: the answer to the old one
	# is then refused.
	c = harness.RawConn(p.port)
	old = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
	c.send(nc.request(url, old.type1()))
	t2old = nc.type2_of(c.response())
	other = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
	c.send(nc.request(url, other.type1()))
	t2new = nc.type2_of(c.response())
	other.close()
	if t2old and t2new:
		off = len(p.errlog())
		c.send(nc.request(url, old.type3(t2old)))
		bare_ntlm(t, c.response(), "answer to a superseded challenge")
		t.check(info_since(p, off), "superseded challenge: refusal logged")
	else:
		t.fail("no challenges for the superseded-challenge check")
	old.close()
	c.close()

	# An expired challenge (challenge_ttl) is refused.
	c = harness.RawConn(p.port, timeout=TTL + 5)
	cl = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
	c.send(nc.request(url, cl.type1()))
	t2 = nc.type2_of(c.response())
	if t2:
		t3 = cl.type3(t2)
		time.sleep(TTL + 1)
		off = len(p.errlog())
		c.send(nc.request(url, t3))
		bare_ntlm(t, c.response(), "answer after challenge_ttl")
		t.check(info_since(p, off, ["expired"]),
		    "expired challenge: reason (expired) logged")
	else:
		t.fail("no challenge for the expiry check")
	cl.close()
	c.close()

	# Interleaved: A and B challenged, A answers as alice, B as bob; each
	# connection keeps its own identity, a third one has none.
	n0 = len(p.access_lines())
	a = harness.RawConn(p.port)
	b = harness.RawConn(p.port)
	ca = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
	cb = nc.NtlmAuthClient("bob", "EXAMPLE", USERS["bob"])
	a.send(nc.request(o.url("/size/11"), ca.type1()))
	b.send(nc.request(o.url("/size/22"), cb.type1()))
	ta = nc.type2_of(a.response())
	tb = nc.type2_of(b.response())
	got = []
	if ta and tb:
		a.send(nc.request(o.url("/size/11"), ca.type3(ta)))
		b.send(nc.request(o.url("/size/22"), cb.type3(tb)))
		ra, rb = a.response(), b.response()
		t.eq(ra and ra.status, 200, "interleaved: A (alice) 200")
		t.eq(rb and rb.status, 200, "interleaved: B (bob) 200")
		b.send(nc.request(o.url("/size/222")))
		a.send(nc.request(o.url("/size/111")))
		got = [b.response(), a.response()]
		t.eq([x and x.status for x in got], [200, 200],
		    "interleaved: later requests without header on A and B")
	else:
		t.fail("interleaved: no challenges")
	r, c3 = harness.raw_request(p.port, nc.request(o.url("/size/33")))
	bare_ntlm(t, r, "interleaved: a third connection")
	for s in (a, b, c3):
		s.close()
	ca.close()
	cb.close()
	ls = new_lines(p, n0, 9)
	for path, user in (("/size/11", "alice"), ("/size/22", "bob"),
	    ("/size/111", "alice"), ("/size/222", "bob")):
		l = [x for x in nc.lines_for(ls, path) if x.split()[6].endswith(path)]
		t.eq(l and nc.squid_user(l[-1]), "EXAMPLE\\" + user,
		    "interleaved: %s logged as %s" % (path, user))
	l = nc.lines_for(ls, "/size/33")
	t.eq(l and (nc.squid_result(l[-1]), nc.squid_user(l[-1])),
	    ("TCP_DENIED/407", "-"), "interleaved: third connection 407, no user")

	# The gateway's own pages need no sign-in.
	for path in ("/proxy.pac", "/wpad.dat"):
		r, c = harness.raw_request(p.port, "GET %s HTTP/1.1\r\n"
		    "Host: 127.0.0.1:%d\r\n\r\n" % (path, p.port))
		t.eq(r and r.status, 200, "%s served without sign-in" % path)
		t.contains(r and r.body, b"FindProxyForURL",
		    "%s is the PAC file" % path)
		c.close()


def network_checks(t, o, hf):
	# Networks that do not hold 127.0.0.1: 403, nothing forwarded.
	p = t.proxy(**nc.ntlm_conf(hf, src=["10.0.0.0/8"], network="far"))
	before = o.stats()["requests"]
	for extra in ([], nc.curl_ntlm_args("alice", USERS["alice"])):
		r = harness.curl(p, *extra, o.url("/size/10"))
		t.eq(r.status, 403, "address in no network: 403%s" %
		    (" (with NTLM)" if extra else ""))
		t.contains(r.body.decode("latin-1") + repr(r.headers),
		    "not allowed", "403 says the address is not allowed")
	t.eq(o.stats()["requests"], before, "403: origin saw nothing")
	p.stop()

	# First match wins: an auth-none network before an ntlm one.
	conf = nc.ntlm_conf(hf, src=["127.0.0.0/8"], network="lo")
	open_net = {'network "open"': {"src": ["127.0.0.1/32"],
	    "auth": [harness.Raw("none")]}}
	open_net.update(conf)
	p = t.proxy(**open_net)
	r = harness.curl(p, o.url("/size/10"))
	t.eq((r.status, r.body), (200, pattern(10)),
	    "network with auth none (first match): no sign-in")
	l = p.wait_access_lines(1)
	t.eq(l and nc.squid_user(l[-1]), "-", "auth none: no user logged")
	p.stop()

	# A hash file readable by others is refused (-t).
	loose = os.path.join(t.tmpdir, "loose.hashes")
	nc.write_hashfile(loose, ["alice:" + nc.nt_hash("x").hex()], 0o644)
	p = t.proxy(start=False, **nc.ntlm_conf(loose))
	pr = subprocess.run([harness.IAPROXY, "-t", "-c", p.conf_path],
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
	err = pr.stdout.decode(errors="replace") + pr.stderr.decode(errors="replace")
	t.check(pr.returncode != 0, "hash file mode 0644 refused by -t",
	    "(exit %d, %r)" % (pr.returncode, err[-300:]))
	t.contains(err, loose, "the refusal names the hash file")


def reload_checks(t, p, o, hf):
	carol = nc.curl_ntlm_args(*CAROL)
	r = harness.curl(p, *carol, o.url("/size/7"))
	t.eq(r.status, 407, "carol not in the hash file yet: 407")
	users = list(USERS.items()) + [CAROL]
	make_hashfile(t, hf, users)
	n = p.errlog().count("reloaded")
	p.reload()
	t.check(harness.wait_for(lambda: p.errlog().count("reloaded") > n, 5),
	    "\"reloaded\" logged after SIGHUP", "(%r)" % p.errlog()[-300:])
	n0 = len(p.access_lines())
	r = harness.curl(p, *carol, o.url("/size/7"))
	t.eq((r.status, r.body), (200, pattern(7)),
	    "carol signs in after the reload")
	ls = nc.lines_for(new_lines(p, n0, 2), "/size/7")
	t.eq(ls and nc.squid_user(ls[-1]), "EXAMPLE\\carol",
	    "carol logged as EXAMPLE\\carol")
	r = harness.curl(p, *nc.curl_ntlm_args("alice", USERS["alice"]),
	    o.url("/size/8"))
	t.eq(r.status, 200, "alice still signs in after the reload")


def main(t):
	o = t.origin()
	ot = t.origin(tls=True)
	hf = make_hashfile(t, os.path.join(t.tmpdir, "ntlm.hashes"),
	    list(USERS.items()))
	t.eq(os.stat(hf).st_mode & 0o777, 0o600, "hash file mode 0600")
	p = t.proxy(connect_ports=[ot.port],
	    **nc.ntlm_conf(hf, challenge_ttl=TTL))

	curl_checks(t, p, o, ot)
	raw_checks(t, p, o)
	reload_checks(t, p, o, hf)
	network_checks(t, o, hf)

	# Never a Proxy-Authorization at an origin; never a secret logged.
	heads = "\n".join(o.stats()["heads"] + ot.stats()["heads"]).lower()
	t.not_contains(heads, "proxy-authorization",
	    "no origin request head carried Proxy-Authorization")
	t.check(o.stats()["requests"] > 10, "the origin did serve requests")
	log = "\n".join(px.errlog() for px in t.proxies).lower()
	secrets = []
	for u, pw in list(USERS.items()) + [CAROL, ("alice", "Wrong-Pass9"),
	    ("alice", "not-the-password")]:
		secrets += [pw.lower(), nc.nt_hash(pw).hex()]
	t.eq([s for s in secrets if s in log], [],
	    "no password or NT hash in the error log")


harness.run(main)
