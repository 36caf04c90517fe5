#!/usr/bin/python3
"""NTLM sign-in with real clients other than curl: Samba's ntlm_auth
(NTLMv2; NTLMv1 as a negative client), python3-ntlm-auth (NTLMv2 with a
MIC; a tampered MIC; NTLMv1), raw NTLMSSP inside Negotiate, CONNECT,
user/domain matching of the hash file, malformed messages.

First the clients are checked against a challenge built here (no proxy),
so that a refusal by the proxy can be told from a broken client: each
message is decoded and the NTLMv2 response and MIC are verified in Python.
"""

import os
import re
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
from harness import pattern

PW = "Secret123"
DAVE = ("dave", "D4ve-secret")	# hash file line OTHER\dave: domain OTHER only


class FakeServer:
	"""A proxy stand-in for one curl run: 407 + a challenge built here,
	records the type 1 and type 3 curl sends, then answers 200."""

	def __init__(self, type2):
		self.type2 = type2
		self.msgs = []
		self.ls = socket.socket()
		self.ls.bind(("127.0.0.1", 0))
		self.ls.listen(4)
		self.ls.settimeout(10)
		self.port = self.ls.getsockname()[1]
		self.th = threading.Thread(target=self.serve, daemon=True)
		self.th.start()

	def serve(self):
		try:
			s, _ = self.ls.accept()
		except OSError:
			return
		s.settimeout(10)
		rd = harness._Reader(s)
		try:
			while True:
				head = []
				while True:
					l = rd.line()
					if not l:
						break
					head.append(l.decode("latin-1"))
				auth = [h.split(":", 1)[1].split() for h in head
				    if h.lower().startswith("proxy-authorization:")]
				m = nc.unb64(auth[0][1]) if auth else None
				if m:
					self.msgs.append(m)
				if m is None:
					s.sendall(b"HTTP/1.1 407 x\r\nProxy-Authenticate: "
					    b"NTLM\r\nContent-Length: 0\r\n\r\n")
				elif nc.parse(m)["type"] == 1:
					s.sendall(("HTTP/1.1 407 x\r\nProxy-Authenticate: NTLM "
					    "%s\r\nContent-Length: 0\r\n\r\n" % nc.b64(
					    self.type2)).encode())
				else:
					s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
					    b"\r\nok")
		except (EOFError, OSError, ValueError, IndexError):
			pass
		s.close()

	def close(self):
		self.ls.close()
		self.th.join(5)


def selfcheck(t):
	"""The clients, against a challenge made here."""
	chal = b"\x01\x23\x45\x67\x89\xab\xcd\xef"
	t2 = nc.build_challenge(chal)
	good = nc.nt_hash(PW)
	bad = nc.nt_hash("other")
	t.eq(nc.md4(b"abc").hex(), "a448017aaf21d8525fc10ae87aa6729d",
	    "self: MD4 test vector (RFC 1320)")

	# ntlm_auth, NTLMv2.
	c = nc.NtlmAuthClient("alice", "EXAMPLE", PW)
	t1 = c.type1()
	m1 = nc.parse(t1)
	t.check(m1["type"] == 1 and m1["flags"] & nc.NEG_UNICODE,
	    "self: ntlm_auth type 1 with NEGOTIATE_UNICODE",
	    "(flags %08x)" % m1["flags"])
	t3 = c.type3(t2)
	c.close()
	m3 = nc.parse(t3) if t3 else {"nt": b"", "user": None, "domain": None}
	t.check(len(m3["nt"]) > 24, "self: ntlm_auth NT response is NTLMv2",
	    "(%d bytes)" % len(m3["nt"]))
	t.eq((m3["user"], m3["domain"]), ("alice", "EXAMPLE"),
	    "self: ntlm_auth type 3 names EXAMPLE\\alice")
	t.eq(t3 and nc.verify_v2(t3, chal, good, t1, t2), (True, "ok"),
	    "self: ntlm_auth NTLMv2 response verifies")
	t.eq(t3 and nc.verify_v2(t3, chal, bad, t1, t2)[0], False,
	    "self: ...and not with another password")

	# ntlm_auth forced to NTLMv1.
	c = nc.NtlmAuthClient("alice", "EXAMPLE", PW,
	    options=["client ntlmv2 auth=no"])
	c.type1()
	t3 = c.type3(t2)
	c.close()
	t.eq(t3 and len(nc.parse(t3)["nt"]), 24,
	    "self: ntlm_auth 'client ntlmv2 auth=no' sends a 24-byte NT response")

	# python3-ntlm-auth, NTLMv2 with a MIC.
	c = nc.PyNtlmClient(t.tmpdir, "alice", "EXAMPLE", PW)
	t1 = c.type1()
	t.check(nc.parse(t1)["flags"] & nc.NEG_VERSION,
	    "self: python3-ntlm-auth type 1 sets NEGOTIATE_VERSION")
	t3 = c.type3(t2)
	c.close()
	if not t.check(t3 is not None, "self: python3-ntlm-auth answers",
	    "(%r %s)" % (c.lines, c.stderr()[-300:])):
		return
	m3 = nc.parse(t3)
	fl = nc.av_get(m3["av"], nc.AV_FLAGS)
	t.check(m3["mic"] is not None and fl and fl[0] & nc.AVFLAG_MIC,
	    "self: python3-ntlm-auth sends a MIC (MsvAvFlags 2)")
	t.eq(nc.verify_v2(t3, chal, good, t1, t2), (True, "ok"),
	    "self: python3-ntlm-auth NTLMv2 + MIC verify")
	t.eq(nc.verify_v2(nc.tamper_mic(t3), chal, good, t1, t2),
	    (False, "MIC mismatch"), "self: a tampered MIC fails to verify")
	c = nc.PyNtlmClient(t.tmpdir, "alice", "EXAMPLE", PW, compat=1)
	c.type1()
	t3 = c.type3(t2)
	c.close()
	t.eq(t3 and len(nc.parse(t3)["nt"]), 24,
	    "self: python3-ntlm-auth compat 1 sends NTLMv1")

	# curl: OEM strings, NTLMv2, on a stand-in server.
	fs = FakeServer(nc.build_challenge(chal, flags=nc.NEG_OEM |
	    nc.NEG_UNICODE | nc.REQUEST_TARGET | nc.NEG_NTLM |
	    nc.NEG_ALWAYS_SIGN | nc.NEG_ESS | nc.NEG_TARGET_INFO))
	r = harness.curl(None, *nc.curl_ntlm_args("alice", PW),
	    "http://127.0.0.1:9/x", proxy_url="http://127.0.0.1:%d" % fs.port,
	    timeout=15)
	fs.close()
	t.eq((r.status, r.body), (200, b"ok"), "self: curl finishes the "
	    "handshake with the stand-in")
	types = [nc.parse(m)["type"] for m in fs.msgs]
	t.eq(types, [1, 3], "self: curl sends type 1 then type 3")
	if types == [1, 3]:
		m3 = nc.parse(fs.msgs[1])
		t.check(len(m3["nt"]) > 24, "self: curl NT response is NTLMv2",
		    "(%d bytes)" % len(m3["nt"]))
		t.eq(nc.verify_v2(fs.msgs[1], chal, good)[0], True,
		    "self: curl NTLMv2 response verifies")


def signed_in(t, p, o, client, what, scheme="NTLM", path="/size/64",
    want_user="EXAMPLE\\alice"):
	"""A handshake on a new connection; checks 200, body and the logged
	user; returns the Exchange."""
	n0 = len(p.access_lines())
	c = harness.RawConn(p.port)
	x = nc.handshake(c, o.url(path), client, scheme)
	client.close()
	t.check(x.type2 is not None, "%s: 407 carries a %s challenge" %
	    (what, scheme), "(407: %r, Proxy-Authenticate %r)" % (x.r1, x.r1 and
	    x.r1.header("proxy-authenticate")))
	t.eq(x.r2 and (x.r2.status, x.r2.body), (200, pattern(int(path[6:]))),
	    "%s: 200 with the body" % what)
	c.close()
	harness.wait_for(lambda: len(p.access_lines()) >= n0 + 2, 5)
	if want_user is not None:
		ls = nc.lines_for(p.access_lines()[n0:], path)
		t.eq(ls and nc.squid_user(ls[-1]), want_user,
		    "%s: logged as %s" % (what, want_user))
	return x


def refused(t, p, o, client, what, reason=None, type3_hook=None):
	"""A handshake that must end in a fresh 407 with a reason at info."""
	off = len(p.errlog())
	before = o.stats()["requests"]
	c = harness.RawConn(p.port)
	x = nc.handshake(c, o.url("/size/5"), client, type3_hook=type3_hook)
	client.close()
	t.check(x.type3 is not None, "%s: the client answered the challenge" % what,
	    "(407 %r, lines %r)" % (x.r1, getattr(client, "lines", None)))
	t.eq(x.r2 and x.r2.status, 407, "%s: refused with 407" % what)
	t.check(x.r2 is not None and "" in nc.challenges(x.r2, "NTLM"),
	    "%s: fresh Proxy-Authenticate: NTLM" % what)
	c.close()
	t.eq(o.stats()["requests"], before, "%s: origin saw nothing" % what)
	info = lambda: [l for l in p.errlog()[off:].splitlines()
	    if " info: " in l and "refused" in l.lower() and (reason is None
	    or any(r.lower() in l.lower() for r in reason))]
	t.check(harness.wait_for(info, 3), "%s: reason logged at info%s" % (what,
	    " naming %s" % " or ".join(reason) if reason else ""),
	    "(error log since: %r)" % p.errlog()[off:][-400:])
	return x


def main(t):
	selfcheck(t)

	o = t.origin()
	hf = os.path.join(t.tmpdir, "ntlm.hashes")
	lines = []
	for u, pw in (("alice", PW), ("bob", "B0b-pass!")):
		rc, out = nc.hash_line(harness.IAPROXY, u, pw)
		want = "%s:%s" % (u, nc.nt_hash(pw).hex())
		t.check(rc == 0 and out.lower() == want.lower(),
		    "iaproxy -H %s" % u, "(rc %r, %r)" % (rc, out))
		lines.append(want)
	lines.append("OTHER\\%s:%s" % (DAVE[0], nc.nt_hash(DAVE[1]).hex().upper()))
	nc.write_hashfile(hf, lines)
	p = t.proxy(connect_ports=[o.port], **nc.ntlm_conf(hf))

	# ntlm_auth, NTLMv2: signed in; the proxy's challenge is sound and
	# what was accepted really is NTLMv2.
	x = signed_in(t, p, o, nc.NtlmAuthClient("alice", "EXAMPLE", PW),
	    "ntlm_auth")
	if x.type2 is not None:
		m2 = nc.parse(x.type2)
		t.check(nc.av_get(m2["av"], nc.AV_TIMESTAMP) is not None,
		    "challenge target info has a timestamp (clients add a MIC)")
		t.check(m2["flags"] & nc.NEG_UNICODE, "challenge is UNICODE "
		    "for a UNICODE client", "(flags %08x)" % m2["flags"])
	if x.type3 is not None:
		t.eq(nc.verify_v2(x.type3, nc.parse(x.type2)["challenge"],
		    nc.nt_hash(PW))[0], True, "accepted ntlm_auth answer is NTLMv2")

	# Names: domain upper-cased in the log, user as sent, matched
	# case-insensitively; a DOMAIN\user line only for that domain.
	signed_in(t, p, o, nc.NtlmAuthClient("alice", "example", PW),
	    "domain sent lower-case", path="/size/65")
	signed_in(t, p, o, nc.NtlmAuthClient("ALICE", "EXAMPLE", PW),
	    "user sent upper-case", path="/size/66", want_user="EXAMPLE\\ALICE")
	signed_in(t, p, o, nc.NtlmAuthClient(DAVE[0], "OTHER", DAVE[1]),
	    "OTHER\\dave line, domain OTHER", path="/size/67",
	    want_user="OTHER\\dave")
	refused(t, p, o, nc.NtlmAuthClient(DAVE[0], "EXAMPLE", DAVE[1]),
	    "OTHER\\dave line, domain EXAMPLE")

	# Negatives with ntlm_auth.
	refused(t, p, o, nc.NtlmAuthClient("alice", "EXAMPLE", PW,
	    options=["client ntlmv2 auth=no"]), "ntlm_auth NTLMv1",
	    reason=["v1"])
	refused(t, p, o, nc.NtlmAuthClient("alice", "EXAMPLE", "Secret124"),
	    "ntlm_auth wrong password", reason=["password"])
	refused(t, p, o, nc.NtlmAuthClient("zoe", "EXAMPLE", PW),
	    "ntlm_auth unknown user", reason=["unknown"])

	# python3-ntlm-auth: NTLMv2 with a MIC; then the MIC tampered; v1.
	x = signed_in(t, p, o, nc.PyNtlmClient(t.tmpdir, "alice", "EXAMPLE",
	    PW), "python3-ntlm-auth", path="/size/68")
	if x.type3 is not None:
		t.check(nc.parse(x.type3)["mic"] is not None,
		    "python3-ntlm-auth's accepted type 3 carried a MIC")
		t.eq(nc.verify_v2(x.type3, nc.parse(x.type2)["challenge"],
		    nc.nt_hash(PW), x.type1, x.type2), (True, "ok"),
		    "python3-ntlm-auth's MIC verifies here too")
	refused(t, p, o, nc.PyNtlmClient(t.tmpdir, "alice", "EXAMPLE", PW),
	    "python3-ntlm-auth tampered MIC", reason=["MIC"],
	    type3_hook=nc.tamper_mic)
	refused(t, p, o, nc.PyNtlmClient(t.tmpdir, "alice", "EXAMPLE", PW,
	    compat=1), "python3-ntlm-auth NTLMv1", reason=["v1"])

	# Raw NTLMSSP inside Negotiate: answered inside Negotiate.
	for cl in (nc.NtlmAuthClient("alice", "EXAMPLE", PW),
	    nc.PyNtlmClient(t.tmpdir, "alice", "EXAMPLE", PW)):
		x = signed_in(t, p, o, cl, "Negotiate/%s" % cl.name, "Negotiate",
		    path="/size/69")

	# CONNECT: the handshake on the CONNECT itself, then the tunnel.
	c = harness.RawConn(p.port)
	cl = nc.NtlmAuthClient("alice", "EXAMPLE", PW)
	x = nc.handshake(c, o.hostport, cl)
	cl.close()
	t.eq(x.r1 and x.r1.status, 407, "CONNECT: type 1 answered 407")
	t.eq(x.status, 200, "CONNECT: type 3 opens the tunnel")
	if x.status == 200:
		c.send(harness.get_req("/size/70", host=o.hostport))
		r = c.response()
		t.eq(r and r.body, pattern(70), "request through the tunnel")
	c.close()

	# Malformed: not base64, a cut type 3, a type 2 sent by the client.
	full = x.type3 or b""
	for what, hdr in (("not base64", "Proxy-Authorization: NTLM %%%%\r\n"),
	    ("cut type 3", nc.auth_line("NTLM", full[:40])),
	    ("type 2 from a client", nc.auth_line("NTLM",
	    nc.build_challenge()))):
		off = len(p.errlog())
		c = harness.RawConn(p.port)
		cl = nc.NtlmAuthClient("alice", "EXAMPLE", PW)
		c.send(nc.request(o.url("/size/5"), cl.type1()))
		c.response()
		cl.close()
		c.send(nc.request(o.url("/size/5"), extra=hdr))
		r = c.response()
		t.eq(r and r.status, 407, "malformed (%s): 407" % what)
		t.check(harness.wait_for(lambda: re.search(r" info: .*refused\W+\w",
		    p.errlog()[off:]), 3), "malformed (%s): reason logged" % what)
		c.close()

	# JSON access log: "user" and "auth":"ntlm"; a 407 has no user.
	pj = t.proxy(log_format=harness.Raw("json"), **nc.ntlm_conf(hf))
	signed_in(t, pj, o, nc.NtlmAuthClient("alice", "EXAMPLE", PW),
	    "json log", path="/size/71", want_user=None)
	recs = pj.wait_json_records(2)
	ok = [r for r in recs if r.get("status") == 200]
	t.eq(ok and (ok[-1].get("user"), ok[-1].get("auth")),
	    ("EXAMPLE\\alice", "ntlm"), "json log: user and auth of the 200")
	den = [r for r in recs if r.get("status") == 407]
	t.check(den and den[0].get("user") in (None, "", "-"),
	    "json log: the 407 has no user", "(%r)" % den)

	log = p.errlog().lower()
	bad = [s for s in (PW.lower(), "secret124", DAVE[1].lower(),
	    nc.nt_hash(PW).hex(), nc.nt_hash(DAVE[1]).hex()) if s in log]
	t.eq(bad, [], "no password or NT hash in the error log")
	t.not_contains("\n".join(o.stats()["heads"]).lower(),
	    "proxy-authorization", "origin never saw Proxy-Authorization")


harness.run(main)
