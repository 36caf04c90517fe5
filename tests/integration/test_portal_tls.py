#!/usr/bin/python3
"""The sign-in portal over TLS (issue 7: Entra ID takes only an https://
Reply URL, so the gateway serves its portal host in TLS itself).

A CA and a certificate for auth.example.test are made with openssl at
test time; the portal is https://auth.example.test:P2, with portal_listen
on 127.0.0.1:P2.  auth.example.test resolves nowhere, so a proxy that
tried to connect out for it could only fail.

Covered:
  - through the proxy: CONNECT auth.example.test:P2 (P2 not in
    connect_ports) -> 200 from the gateway, then TLS with our
    certificate (curl --cacert, no -k), ALPN http/1.1, the SP
    metadata served inside; the CONNECT logged NONE_NONE/200 HIER_NONE
    and both lines from the real client address; a keep-alive second
    request on the same TLS connection; TLS 1.2 accepted, TLS 1.1 refused;
  - the same directly on portal_listen (curl --resolve, --noproxy '*');
  - a ClientHello sent in the same write as the CONNECT (the handshake
    must start on bytes already buffered);
  - nothing inside a portal TLS connection is forwarded: an absolute-form
    GET for the origin and a nested CONNECT get 421 and the origin sees
    no connection;
  - the network is saml-only: a CONNECT to the origin needs a sign-in,
    the one to the portal does not;
  - a handshake with garbage (plain HTTP, a bad record) or a stalled one
    (header_timeout) closes the connection with an info log line, on
    portal_listen and after a CONNECT, and the gateway keeps serving;
  - -t errors at the option's FILE:LINE: a missing certificate, a key
    that does not match, a key others can read, an encrypted key, a
    certificate not naming the portal host, portal_listen without a
    certificate, a certificate for an http:// portal, a portal_listen
    address also in listen;
  - reload: the TLS listener survives a reload, a reload with a bad key
    keeps the running config (and the listener), a reload without
    portal_listen closes it and one with it opens it again;
  - when the portal's pages and the test IdP (saml_idp.py) are there: the
    whole SAML flow with the https portal, through the proxy, ending in a
    Secure cookie and the user on the next request.
"""

import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from saml_peer import IDP_HOST, IdpProc
from harness import Raw, hget, hget1, pattern

PORTAL_HOST = "auth.example.test"
SP_ENTITY = "https://proxy.example.test/iaproxy"
USER = "alice@example.test"


def openssl(*args):
	subprocess.run(["openssl"] + list(args), check=True,
	    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Pki:
	"""Every key and certificate of the test, made now."""

	def __init__(self, t):
		d = t.tmpdir
		j = lambda n: os.path.join(d, n)
		self.ca, self.ca_key = j("ca.crt"), j("ca.key")
		openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
		    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
		    self.ca_key, "-out", self.ca, "-days", "2", "-subj",
		    "/CN=iaproxy test CA", "-addext",
		    "basicConstraints=critical,CA:TRUE", "-addext",
		    "keyUsage=critical,keyCertSign")
		self.cert, self.key = self.leaf("portal", PORTAL_HOST)
		self.other_cert, self.other_key = self.leaf("other",
		    "other.example.test")
		# The portal's key, encrypted with a pass phrase.
		self.enc_key = j("portal-enc.key")
		openssl("pkey", "-in", self.key, "-out", self.enc_key,
		    "-aes256", "-passout", "pass:secret")
		os.chmod(self.enc_key, 0o600)
		# The SAML SP's own pair, and the cookie key.
		self.sp_key, self.sp_cert = j("sp.key"), j("sp.crt")
		openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes",
		    "-keyout", self.sp_key, "-out", self.sp_cert, "-days", "2",
		    "-subj", "/CN=proxy.example.test")
		os.chmod(self.sp_key, 0o600)
		self.cookie = t.secret_file("cookie.key", secrets.token_hex(32))
		# A minimal IdP: its metadata with a certificate of its own.
		ik, ic = j("idp.key"), j("idp.crt")
		openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes",
		    "-keyout", ik, "-out", ic, "-days", "2", "-subj", "/CN=idp")
		b64 = "".join(l for l in open(ic).read().splitlines()
		    if "-----" not in l)
		self.idp_md = j("idp-metadata.xml")
		with open(self.idp_md, "w") as f:
			f.write('<?xml version="1.0"?>\n'
			    '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:'
			    'SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/'
			    '09/xmldsig#" entityID="https://idp.example.test/saml">'
			    '<md:IDPSSODescriptor protocolSupportEnumeration="urn:'
			    'oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor '
			    'use="signing"><ds:KeyInfo><ds:X509Data><ds:X509'
			    'Certificate>%s</ds:X509Certificate></ds:X509Data>'
			    '</ds:KeyInfo></md:KeyDescriptor><md:SingleSignOn'
			    'Service Binding="urn:oasis:names:tc:SAML:2.0:bindings:'
			    'HTTP-Redirect" Location="http://127.0.0.1:9/sso"/>'
			    '</md:IDPSSODescriptor></md:EntityDescriptor>\n' % b64)

	def leaf(self, name, host):
		c = os.path.join(os.path.dirname(self.ca), name + ".crt")
		k = os.path.join(os.path.dirname(self.ca), name + ".key")
		openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
		    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", k,
		    "-out", c, "-days", "2", "-subj", "/CN=" + host, "-addext",
		    "subjectAltName=DNS:" + host, "-CA", self.ca, "-CAkey",
		    self.ca_key)
		os.chmod(k, 0o600)
		return c, k


def saml_section(pki, portal, idp_md=None, **more):
	s = {"idp_metadata": idp_md or pki.idp_md, "sp_entity_id": SP_ENTITY,
	    "sp_key": pki.sp_key, "sp_cert": pki.sp_cert, "portal": portal,
	    "cookie_key_file": pki.cookie, "verified_domains": ["example.test"],
	    "portal_cert": pki.cert, "portal_key": pki.key}
	s.update(more)
	return {k: v for k, v in s.items() if v is not None}


class Curl:
	"""One curl run: rc, the last head's status and headers, body, -v
	output."""

	def __init__(self, t, args, timeout=30):
		hf = os.path.join(t.tmpdir, "h.%s" % secrets.token_hex(4))
		argv = [harness.CURL, "-sS", "-v", "-D", hf] + list(args)
		try:
			p = subprocess.run(argv, capture_output=True,
			    timeout=timeout, stdin=subprocess.DEVNULL)
			self.rc, self.body = p.returncode, p.stdout
			self.err = p.stderr.decode(errors="replace")
		except subprocess.TimeoutExpired:
			self.rc, self.body, self.err = -1, b"", "curl timed out"
		heads = harness.curl_heads(hf)
		self.heads = heads
		final = [h for h in heads if h[0] >= 200]
		self.status, self.headers = final[-1] if final else (None, [])

	def __repr__(self):
		return "<curl rc=%d status=%r err=%r>" % (self.rc, self.status,
		    self.err.strip()[-300:])


def via_proxy(t, p, pki, url, *more, cookies=None):
	a = ["--noproxy", "", "-x", p.proxy_url(), "--cacert", pki.ca]
	if cookies:
		a += ["-b", cookies, "-c", cookies]
	return Curl(t, a + list(more) + [url])


def direct(t, pki, port, url, *more):
	return Curl(t, ["--noproxy", "*", "--resolve", "%s:%d:127.0.0.1" %
	    (PORTAL_HOST, port), "--cacert", pki.ca] + list(more) + [url])


class BioConn:
	"""TLS over a socket through ssl.MemoryBIO, so that the ClientHello
	can go out in the same write as the CONNECT; recv/sendall like a
	socket (for harness._Reader)."""

	def __init__(self, sock, ctx):
		self.sock = sock
		self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
		self.obj = ctx.wrap_bio(self.inc, self.out,
		    server_hostname=PORTAL_HOST)

	def hello(self):
		try:
			self.obj.do_handshake()
		except ssl.SSLWantReadError:
			pass
		return self.out.read()

	def flush(self):
		d = self.out.read()
		if d:
			self.sock.sendall(d)

	def feed(self):
		d = self.sock.recv(65536)
		if not d:
			self.inc.write_eof()
			return False
		self.inc.write(d)
		return True

	def handshake(self):
		while True:
			try:
				self.obj.do_handshake()
				self.flush()
				return
			except ssl.SSLWantReadError:
				self.flush()
				if not self.feed():
					raise EOFError("closed in the handshake")

	def sendall(self, data):
		self.obj.write(data)
		self.flush()

	def recv(self, n):
		while True:
			try:
				return self.obj.read(n)
			except ssl.SSLWantReadError:
				self.flush()
				if not self.feed():
					return b""
			except ssl.SSLZeroReturnError:
				return b""


def read_head(sock):
	"""The bytes of one response head, read byte by byte (nothing
	after it is taken from the socket)."""
	buf = b""
	while not buf.endswith(b"\r\n\r\n"):
		d = sock.recv(1)
		if not d:
			break
		buf += d
	return buf


def tls_ctx(pki):
	ctx = ssl.create_default_context(cafile=pki.ca)
	ctx.set_alpn_protocols(["http/1.1"])
	return ctx


def connect_tls(p, pki, early=False, port=None):
	"""A TLS session with the portal through a CONNECT (early: the
	ClientHello in the CONNECT's own write).  (conn, CONNECT's head)."""
	s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
	c = BioConn(s, tls_ctx(pki))
	req = ("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (PORTAL_HOST,
	    port, PORTAL_HOST, port)).encode()
	if early:
		s.sendall(req + c.hello())
	else:
		s.sendall(req)
	head = read_head(s)
	if not early:
		s.sendall(c.hello())
	c.handshake()
	return c, head


def request(conn, text, method="GET"):
	conn.sendall(text.encode("latin-1"))
	return harness.read_response(harness._Reader(conn), method)


def closes_within(sock, secs):
	"""Seconds until the peer closed sock (None if it did not within
	secs); what it sent is thrown away."""
	sock.settimeout(secs)
	t0 = time.time()
	try:
		while sock.recv(65536):
			pass
	except socket.timeout:
		return None
	except OSError:
		pass
	return time.time() - t0


# ---------------------------------------------------------------------------

def connect_checks(t, p, pki, o, pport):
	portal = "https://%s:%d" % (PORTAL_HOST, pport)
	off = len(p.access_lines())
	r = via_proxy(t, p, pki, portal + "/iaproxy/saml/metadata",
	    "--http1.1")
	t.check(r.rc == 0 and r.status == 200, "CONNECT to the portal: TLS "
	    "with our certificate (verified against the test CA), a page "
	    "served inside", "(%r)" % r)
	t.check(any(h[0] == 200 for h in r.heads[:1]), "the CONNECT itself "
	    "got 200 although the port is not in connect_ports",
	    "(%r)" % r.heads[:1])
	t.contains(r.err, "ALPN: server accepted http/1.1", "ALPN http/1.1 "
	    "agreed")
	t.contains(r.body.decode(errors="replace"), "EntityDescriptor",
	    "the page inside is the gateway's own (the SP metadata)")
	lines = p.wait_access_lines(off + 2)[off:]
	cl = [l for l in lines if " CONNECT " in l]
	t.check(cl and "NONE_NONE/200" in cl[0] and "HIER_NONE" in cl[0] and
	    "%s:%d" % (PORTAL_HOST, pport) in cl[0], "the CONNECT is logged "
	    "NONE_NONE/200 HIER_NONE: answered here, nothing went out",
	    "(%r)" % lines)
	t.check(len(lines) >= 2 and all(l.split()[2] == "127.0.0.1"
	    for l in lines), "both lines carry the real client address",
	    "(%r)" % lines)

	r = via_proxy(t, p, pki, portal + "/iaproxy/saml/metadata")
	t.check(r.rc == 0 and r.status == 200 and b"EntityDescriptor" in
	    r.body and SP_ENTITY.encode() in r.body, "SP metadata over TLS "
	    "through a CONNECT", "(%r %r)" % (r, r.body[:120]))
	md = r.body

	# Keep-alive: two requests on one TLS connection.
	r = via_proxy(t, p, pki, portal + "/iaproxy/saml/metadata", "--next", "--noproxy",
	    "", "-x", p.proxy_url(), "--cacert", pki.ca, portal +
	    "/iaproxy/saml/metadata")
	t.check(r.rc == 0 and [h[0] for h in r.heads] == [200, 200, 200] and
	    "Re-using existing connection" in r.err, "two requests on one "
	    "TLS connection (keep-alive)", "(%r %r)" % (r, [h[0] for h in
	    r.heads]))

	r = via_proxy(t, p, pki, portal + "/iaproxy/saml/metadata", "--tlsv1.2",
	    "--tls-max", "1.2")
	t.check(r.rc == 0 and r.status == 200 and "TLSv1.2" in r.err,
	    "TLS 1.2 is accepted", "(%r)" % r)
	# openssl s_client offering TLS 1.1 only (SECLEVEL 0 lets it try),
	# straight to portal_listen: it cannot take a CONNECTed socket.
	eoff = len(p.errlog())
	sc = subprocess.run(["openssl", "s_client", "-connect",
	    "127.0.0.1:%d" % pport, "-tls1_1", "-cipher",
	    "DEFAULT@SECLEVEL=0", "-servername", PORTAL_HOST, "-CAfile",
	    pki.ca], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
	    stderr=subprocess.STDOUT, timeout=20)
	out = sc.stdout.decode(errors="replace")
	t.check(sc.returncode != 0 and "BEGIN CERTIFICATE" not in out,
	    "TLS 1.1 is refused", "(%r)" % out[-300:])
	t.check(p.wait_errlog("TLS handshake failed", 5, eoff), "the refused "
	    "TLS 1.1 handshake is logged")

	# The ClientHello in the CONNECT's own write.
	try:
		c, head = connect_tls(p, pki, early=True, port=pport)
		t.check(head.startswith(b"HTTP/1.1 200"), "early ClientHello: "
		    "the CONNECT gets 200", "(%r)" % head)
		rr = request(c, "GET /iaproxy/saml/metadata HTTP/1.1\r\nHost: %s\r\n"
		    "Connection: close\r\n\r\n" % PORTAL_HOST)
		t.eq(rr.status, 200, "early ClientHello: the handshake starts "
		    "on the buffered bytes and the request is served")
		c.sock.close()
	except Exception as x:
		t.fail("early ClientHello: %r" % (x,))

	# Nothing inside is forwarded.
	before = o.stats()["connections"]
	c, head = connect_tls(p, pki, port=pport)
	rr = request(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
	    (o.url("/size/10"), o.hostport))
	t.eq(rr.status, 421, "an absolute-form GET for the origin inside a "
	    "portal TLS connection: 421")
	c.sock.close()
	c, head = connect_tls(p, pki, port=pport)
	rr = request(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
	    (o.hostport, o.hostport), method="CONNECT")
	t.eq(rr.status, 421, "a CONNECT inside a portal TLS connection: 421")
	c.sock.close()
	time.sleep(0.3)
	t.eq(o.stats()["connections"], before, "the origin saw no connection "
	    "from a portal TLS connection")

	# The network is saml-only: a tunnel to anywhere else needs a
	# sign-in, the portal does not (checked above).
	rr, rc = harness.raw_request(p.port, "CONNECT %s HTTP/1.1\r\nHost: "
	    "%s\r\n\r\n" % (o.hostport, o.hostport), method="CONNECT")
	rc.close()
	t.check(rr is not None and rr.status in (403, 407), "control: a "
	    "CONNECT to the origin on this saml-only network needs a sign-in",
	    "(%r)" % rr)
	return md


def direct_checks(t, p, pki, pport, md):
	portal = "https://%s:%d" % (PORTAL_HOST, pport)
	r = direct(t, pki, pport, portal + "/iaproxy/saml/metadata")
	t.check(r.rc == 0 and r.status == 200 and (md is None or
	    r.body == md), "SP metadata directly on portal_listen (TLS), "
	    "the same as through the proxy", "(%r)" % r)
	r = direct(t, pki, pport, portal + "/iaproxy/saml/metadata")
	t.check(r.rc == 0 and r.status == 200 and "ALPN: server accepted "
	    "http/1.1" in r.err, "portal_listen: TLS, ALPN http/1.1, a page",
	    "(%r)" % r)
	# The last answer before a close is encrypted but maybe not yet
	# sent when the connection closes: it must still arrive, every time.
	for what, get in (("directly", lambda: direct(t, pki, pport, portal +
	    "/iaproxy/saml/metadata", "-H", "Connection: close")),
	    ("through a CONNECT", lambda: via_proxy(t, p, pki, portal +
	    "/iaproxy/saml/metadata", "-H", "Connection: close"))):
		got = [get() for _ in range(20)]
		bad = [r for r in got if r.rc != 0 or r.status != 200 or
		    (md is not None and r.body != md)]
		t.check(not bad, "Connection: close %s: all 20 answers arrive "
		    "whole" % what, "(%d bad: %r)" % (len(bad), bad[:1]))


def garbage_checks(t, p, pki, pport):
	cases = [
		("plain HTTP on portal_listen", pport, None,
		    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		("a bad record on portal_listen", pport, None,
		    b"\x16\x03\x01\x00\x05hello" + b"\x00" * 64),
		("plain HTTP after a CONNECT", p.port, pport,
		    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	]
	for what, port, cport, junk in cases:
		off = len(p.errlog())
		s = socket.create_connection(("127.0.0.1", port), timeout=10)
		if cport:
			s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: x\r\n\r\n" %
			    (PORTAL_HOST, cport)).encode())
			head = read_head(s)
			t.check(head.startswith(b"HTTP/1.1 200"), "%s: 200 first"
			    % what, "(%r)" % head)
		s.sendall(junk)
		took = closes_within(s, 5)
		s.close()
		t.check(took is not None and took < 2, "%s: closed at once" %
		    what, "(%r)" % took)
		t.check(p.wait_errlog("TLS handshake failed", 3, off),
		    "%s: logged \"TLS handshake failed\"" % what,
		    "(%r)" % p.errlog()[off:][-300:])
	# Stalled: half a record header, then nothing (header_timeout 2).
	for what, port, cport in (("portal_listen", pport, None),
	    ("after a CONNECT", p.port, pport)):
		off = len(p.errlog())
		s = socket.create_connection(("127.0.0.1", port), timeout=10)
		if cport:
			s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: x\r\n\r\n" %
			    (PORTAL_HOST, cport)).encode())
			read_head(s)
		s.sendall(b"\x16\x03\x01\x02")
		took = closes_within(s, 8)
		s.close()
		t.check(took is not None and 1.5 < took < 5, "stalled handshake "
		    "%s: closed after header_timeout" % what, "(%r)" % took)
		t.check(p.wait_errlog("TLS handshake not complete within "
		    "header_timeout", 3, off), "stalled handshake %s: logged" %
		    what)
	r = direct(t, pki, pport, "https://%s:%d/iaproxy/saml/metadata" %
	    (PORTAL_HOST, pport))
	t.check(r.rc == 0 and r.status == 200 and p.alive(), "the gateway "
	    "still serves the portal after the bad handshakes", "(%r)" % r)


def configcheck(t, pki, portal, pport, lport):
	"""-t: FILE:LINE of the option at fault."""
	def conf_file(name, **saml):
		conf = {"listen": ["127.0.0.1:%d" % lport], "workers": 1,
		    "hostname": harness.HOSTNAME, "access_log": "/dev/null",
		    "saml": saml_section(pki, saml.pop("portal", portal),
		    **saml)}
		text = harness.conf_text(conf)
		path = os.path.join(t.tmpdir, name + ".conf")
		with open(path, "w") as f:
			f.write(text)
		return path, text

	def line_of(text, opt):
		for i, l in enumerate(text.splitlines(), 1):
			if l.strip().startswith(opt + " ="):
				return i
		return -1

	def run(path):
		r = subprocess.run([harness.IAPROXY, "-t", "-c", path],
		    capture_output=True, text=True, timeout=30,
		    stdin=subprocess.DEVNULL)
		return r.returncode, r.stderr + r.stdout

	path, text = conf_file("good", portal_listen=["127.0.0.1:%d" % pport])
	rc, out = run(path)
	t.check(rc == 0, "-t: the good config passes", "(%d %r)" % (rc, out))
	loose = os.path.join(t.tmpdir, "loose.key")
	with open(pki.key) as f, open(loose, "w") as g:
		g.write(f.read())
	os.chmod(loose, 0o644)
	bad = [
		("a missing certificate", "portal_cert", r"cannot open",
		    dict(portal_cert=os.path.join(t.tmpdir, "absent.crt"))),
		("a key that does not match", "portal_key", r"does not match",
		    dict(portal_key=pki.other_key)),
		("a key others can read", "portal_key", r"others have access",
		    dict(portal_key=loose)),
		("an encrypted key", "portal_key", r"encrypted",
		    dict(portal_key=pki.enc_key)),
		("a certificate for another name", "portal_cert",
		    r"does not name " + PORTAL_HOST,
		    dict(portal_cert=pki.other_cert,
		    portal_key=pki.other_key)),
		("portal_listen without a certificate", "portal_listen",
		    r"needs portal_cert", dict(portal_cert=None, portal_key=None,
		    portal_listen=["127.0.0.1:%d" % pport])),
		("a certificate for an http:// portal", "portal_cert",
		    r"not https", dict(portal="http://%s:%d" % (PORTAL_HOST,
		    pport))),
		("portal_listen also in listen", "portal_listen",
		    r"also a plain listen",
		    dict(portal_listen=["127.0.0.1:%d" % lport])),
	]
	for i, (what, opt, want, saml) in enumerate(bad):
		path, text = conf_file("bad%d" % i, **saml)
		rc, out = run(path)
		line = line_of(text, opt)
		t.check(rc != 0, "-t: %s: exits non-zero" % what, "(%d)" % rc)
		t.check(re.search(r"%s:%d: .*%s" % (re.escape(path), line, want),
		    out) is not None, "-t: %s: %s:LINE of %s, saying why" % (what,
		    os.path.basename(path), opt), "(%r)" % out[-400:])


def reload_checks(t, p, pki, pport):
	portal = "https://%s:%d" % (PORTAL_HOST, pport)
	url = portal + "/iaproxy/saml/metadata"
	good = dict(p.conf)
	off = len(p.errlog())
	p.reload()
	t.check(p.wait_errlog("reloaded", 5, off), "reload: done")
	r = direct(t, pki, pport, url)
	t.check(r.rc == 0 and r.status == 200, "reload: portal_listen still "
	    "serves TLS", "(%r)" % r)
	# A bad key: the old config (and its certificate) stay.
	loose = os.path.join(t.tmpdir, "loose2.key")
	with open(pki.key) as f, open(loose, "w") as g:
		g.write(f.read())
	os.chmod(loose, 0o644)
	s = dict(good["saml"])
	s["portal_key"] = loose
	off = len(p.errlog())
	p.write_config(saml=s)
	p.reload()
	t.check(p.wait_errlog("reload failed", 5, off), "reload with a key "
	    "others can read: refused")
	t.contains(p.errlog()[off:], "others have access", "reload: the "
	    "error says why")
	r = direct(t, pki, pport, url)
	t.check(r.rc == 0 and r.status == 200, "reload refused: the portal "
	    "still serves TLS with the running config", "(%r)" % r)
	r = via_proxy(t, p, pki, url)
	t.check(r.rc == 0 and r.status == 200, "reload refused: CONNECT to "
	    "the portal still answered in TLS", "(%r)" % r)
	# Without portal_listen: the listener goes; with it, it comes back.
	s = dict(good["saml"])
	del s["portal_listen"]
	off = len(p.errlog())
	p.write_config(saml=s)
	p.reload()
	p.wait_errlog("reloaded", 5, off)
	gone = harness.wait_for(lambda: not harness.port_open(pport), 5)
	t.check(gone, "reload without portal_listen: the TLS listener closes")
	r = via_proxy(t, p, pki, url)
	t.check(r.rc == 0 and r.status == 200, "... and the CONNECT path "
	    "still serves the portal", "(%r)" % r)
	off = len(p.errlog())
	p.write_config(saml=good["saml"])
	p.reload()
	p.wait_errlog("reloaded", 5, off)
	r = direct(t, pki, pport, url)
	t.check(r.rc == 0 and r.status == 200, "reload with portal_listen "
	    "again: the TLS listener is back", "(%r)" % r)


# ---------------------------------------------------------------------------
# The whole sign-in with an https portal, against saml_idp.py.

def form_of(body):
	import html
	text = body.decode("utf-8", "replace")
	m = re.search(r'<form[^>]*action="([^"]*)"', text)
	fields = {html.unescape(k): html.unescape(v) for k, v in re.findall(
	    r'<input type="hidden" name="([^"]*)" value="([^"]*)"', text)}
	return (html.unescape(m.group(1)) if m else None), fields


def flow_checks(t, pki, o):
	idp = IdpProc(t)
	pport = harness.free_port()
	portal = "https://%s:%d" % (PORTAL_HOST, pport)
	hosts = os.path.join(t.tmpdir, "hosts")
	with open(hosts, "w") as f:
		f.write("127.0.0.1 localhost %s\n::1 localhost\n" % IDP_HOST)
	p = t.proxy(start=False, connect_ports=[443, o.port, idp.port, pport],
	    log_format=Raw("json"))
	p.write_config(**{"saml": saml_section(pki, portal,
	    idp_md=idp.metadata, portal_listen=["127.0.0.1:%d" % pport]),
	    'network "home"': {"src": ["127.0.0.0/8"],
	    "auth": [Raw("saml")]}})
	p.prefix = ["/usr/bin/unshare", "-m", "/bin/sh", "-c",
	    'mount --bind "$0" /etc/hosts && exec "$@"', hosts]
	try:
		p.start()
	except RuntimeError as x:
		t.fail("flow: the proxy starts: %s" % str(x)[-500:])
		return
	r = via_proxy(t, p, pki, portal + "/iaproxy/saml/metadata")
	if not t.check(r.rc == 0 and r.status == 200, "flow: SP metadata "
	    "over TLS", "(%r)" % r):
		return
	with open(idp.sp_md, "wb") as f:
		f.write(r.body)
	t.contains(r.body.decode(errors="replace"), portal +
	    "/iaproxy/saml/acs", "flow: the metadata's ACS is the https one")
	idp.control(user=USER, mutate="none", groups=[],
	    sp_metadata_file=idp.sp_md)
	jar = os.path.join(t.tmpdir, "jar")
	url = o.url("/size/10")
	r = via_proxy(t, p, pki, url, cookies=jar)
	loc = hget1(r.headers, "Location") or ""
	if not t.check(r.status == 302 and loc.startswith(portal +
	    "/iaproxy/login?url="), "flow: a plain GET -> 302 to the https "
	    "portal", "(%r %r)" % (r, loc)):
		return
	r = via_proxy(t, p, pki, loc, cookies=jar)
	loc = hget1(r.headers, "Location") or ""
	if not t.check(r.rc == 0 and r.status in (302, 303) and
	    loc.startswith(idp.sso + "?"), "flow: the portal's login over TLS "
	    "-> the IdP", "(%r %r)" % (r, loc)):
		return
	r = via_proxy(t, p, pki, loc, cookies=jar)
	action, fields = form_of(r.body)
	if not t.check(r.status == 200 and action == portal +
	    "/iaproxy/saml/acs", "flow: the IdP's form posts to the https "
	    "ACS", "(%r %r)" % (r, action)):
		return
	a = []
	for k, v in fields.items():
		fp = os.path.join(t.tmpdir, "field." + k)
		with open(fp, "w") as fh:
			fh.write(v)
		a += ["--data-urlencode", "%s@%s" % (k, fp)]
	r = via_proxy(t, p, pki, action, *a, cookies=jar)
	t.eq(r.status, 303, "flow: the ACS over TLS answers 303")
	t.eq(hget1(r.headers, "Location"), url, "flow: back to the URL asked")
	sc = [v for v in hget(r.headers, "Set-Cookie")
	    if v.startswith("iaproxy_session=")]
	t.check(len(sc) == 1 and "secure" in [x.strip().lower() for x in
	    sc[0].split(";")[1:]], "flow: the session cookie is Secure on an "
	    "https portal", "(%r)" % sc)
	aoff = len(p.access_lines())
	r = via_proxy(t, p, pki, url, cookies=jar)
	t.eq((r.status, r.body), (200, pattern(10)), "flow: signed in, the "
	    "origin answers")
	rec = [x for x in p.access_records(aoff) if x.get("url") == url]
	t.check(rec and rec[-1].get("user") == USER and rec[-1].get("auth") ==
	    "saml", "flow: the request is the user's (auth saml): the IP "
	    "session bound the address the TLS portal saw", "(%r)" % rec[-1:])
	r = via_proxy(t, p, pki, portal + "/iaproxy/whoami", cookies=jar)
	t.check(r.status == 200 and r.body.decode(errors="replace").split(
	    "\n")[0].strip() == USER, "flow: whoami over TLS names the user",
	    "(%r %r)" % (r, r.body[:100]))
	# Signed in, a tunnel by address into the portal's own TLS listener
	# is refused: it would reach the portal from the gateway's address.
	r, c = harness.raw_request(p.port, "CONNECT 127.0.0.1:%d HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\n\r\n" % (pport, pport))
	t.check(r is not None and r.status == 403, "flow: CONNECT to the "
	    "portal_listen address through the proxy: 403 (never a tunnel "
	    "into the gateway itself)", "(%r)" % r)
	c.close()
	p.stop()


def main(t):
	pki = Pki(t)
	o = t.origin()
	pport = harness.free_port()
	portal = "https://%s:%d" % (PORTAL_HOST, pport)
	p = t.proxy(start=False, header_timeout=2, connect_ports=[443, o.port])
	configcheck(t, pki, portal, pport, p.port)
	p.write_config(**{"saml": saml_section(pki, portal,
	    portal_listen=["127.0.0.1:%d" % pport]),
	    'network "home"': {"src": ["127.0.0.0/8"], "auth": [Raw("saml")]}})
	try:
		p.start()
	except RuntimeError as x:
		t.fail("the proxy starts with portal_cert, portal_key and "
		    "portal_listen: %s" % str(x)[-800:])
		return
	t.contains(p.errlog(), "listening on 127.0.0.1:%d (the sign-in "
	    "portal, TLS)" % pport, "the TLS listener is announced")
	md = connect_checks(t, p, pki, o, pport)
	direct_checks(t, p, pki, pport, md if md and md.startswith(b"<") else
	    None)
	garbage_checks(t, p, pki, pport)
	reload_checks(t, p, pki, pport)
	t.check(p.alive(), "the proxy is still running")
	p.stop()
	flow_checks(t, pki, o)


harness.run(main)
