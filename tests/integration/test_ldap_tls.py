#!/usr/bin/python3
"""The directory over TLS: a real slapd serving ldaps:// and StartTLS on
ldap://, with a throwaway CA and a server certificate it signed (made
here with the openssl CLI), and peers that stall the TLS handshake.

Covered: the ldap NTLM backend signs alice in over ldaps:// and over
StartTLS with tls_ca_file = the CA (curl --proxy-ntlm); with another CA
the sign-in is refused cleanly (a 503 "sign-in service unavailable", not
a password prompt) and the error log says why; the group lookups
(group_mode memberof) over ldaps:// put alice's groups in the json
access log; one proxy doing both runs one directory thread.  Reload:
a proxy started without any directory work starts the directory thread
when a reload makes the NTLM backend ldap, adds the group lookups on a
second reload, and keeps serving groups when a third turns the NTLM
backend back to the hash file.  A stalled TLS peer (a relay that takes
the proxy's connection and never answers its ClientHello, as the
ldaps:// URI; and one that passes the StartTLS request, then holds the
handshake): with one worker, while a sign-in waits on it, that worker
answers GET /proxy.pac within 0.5 s every time it is asked; the sign-in
ends with a 503 after about `timeout`; a second sign-in during the
backoff is refused at once.
"""

import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers

USERS = {"alice": "Secret123", "bob": "B0b-pass!"}
GROUPS = "ou=groups," + peers.SUFFIX
ALICE_GROUPS = {"staff", "finance", "everyone"}
TIMEOUT = 2		# the ldap section's timeout in the stall checks


# ---------------------------------------------------------------------------
# The fixture: a CA, a server certificate, slapd with ldaps:// too.

def openssl(*args):
	subprocess.run(["openssl"] + list(args), check=True,
	    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
	"""A throwaway CA (ca.pem) and a server certificate for 127.0.0.1
	signed by it (server.pem, server-key.pem); other.pem is a second CA
	that signed nothing here."""

	def __init__(self, t):
		d = os.path.join(t.tmpdir, "pki")
		os.makedirs(d, exist_ok=True)
		self.ca = os.path.join(d, "ca.pem")
		self.ca_key = os.path.join(d, "ca-key.pem")
		self.cert = os.path.join(d, "server.pem")
		self.key = os.path.join(d, "server-key.pem")
		self.other = os.path.join(d, "other.pem")
		ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
		    "-nodes"]
		for ca, key, cn in ((self.ca, self.ca_key, "iaproxy test CA"),
		    (self.other, os.path.join(d, "other-key.pem"), "other CA")):
			openssl("req", "-x509", *ec, "-keyout", key, "-out", ca,
			    "-days", "2", "-subj", "/CN=" + cn,
			    "-addext", "basicConstraints=critical,CA:TRUE",
			    "-addext", "keyUsage=critical,keyCertSign,cRLSign")
		csr = os.path.join(d, "server.csr")
		openssl("req", "-new", *ec, "-keyout", self.key, "-out", csr,
		    "-subj", "/CN=127.0.0.1")
		ext = os.path.join(d, "server.ext")
		with open(ext, "w") as f:
			f.write("basicConstraints=CA:FALSE\n"
			    "keyUsage=critical,digitalSignature\n"
			    "extendedKeyUsage=serverAuth\n"
			    "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
		openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
		    self.ca_key, "-CAcreateserial", "-out", self.cert, "-days",
		    "2", "-extfile", ext)


class TlsSlapd(peers.GroupSlapd):
	"""A GroupSlapd (memberof overlay, StartTLS on its ldap:// port) that
	also serves ldaps:// on a port of its own (self.tls_port)."""

	def __init__(self, t, pki):
		self.tls_port = harness.free_port()
		peers.GroupSlapd.__init__(self, t, tls=(pki.cert, pki.key))

	@property
	def ldaps_uri(self):
		return "ldaps://127.0.0.1:%d" % self.tls_port

	def start(self, timeout=10):
		if not self.loaded:
			self.load()
		log = open(self.logfile, "a")
		self.proc = self.t.spawn([peers.SLAPD, "-d", "stats", "-h",
		    "ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/" % (self.port,
		    self.tls_port), "-f", self.conf], stdout=log,
		    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
		ok = harness.wait_for(lambda: self.proc.poll() is not None or
		    (harness.port_open(self.port) and
		    harness.port_open(self.tls_port)), timeout)
		if not ok or self.proc.poll() is not None:
			raise RuntimeError("slapd did not start (exit %r): %s" %
			    (self.proc.poll(), self.log()[-2000:]))
		return self


def ldapsearch_tls(s, uri, ca, starttls=False):
	"""ldapsearch as the service DN over TLS, verifying against ca:
	(rc, output)."""
	argv = [peers.LDAPSEARCH, "-x", "-LLL", "-H", uri, "-b", peers.SUFFIX,
	    "-D", peers.PROXY_DN, "-w", peers.PROXY_PW]
	if starttls:
		argv.append("-ZZ")
	argv += ["(uid=alice)", "uid"]
	# Not LDAPNOINIT: it would also ignore the LDAPTLS_* variables.
	env = dict(os.environ, LDAPCONF="/dev/null", LDAPRC="no-such-ldaprc",
	    LDAPTLS_CACERT=ca, LDAPTLS_REQCERT="demand")
	env.pop("LDAPNOINIT", None)
	p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
	    timeout=20, env=env)
	return p.returncode, p.stdout.decode(errors="replace")


def populate(s):
	s.add("dn: %s\nobjectClass: organizationalUnit\nou: groups\n" % GROUPS)

	def gon(cn, members):
		return "dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n%s" % (
		    cn, GROUPS, cn, "".join("member: %s\n" % m for m in members))
	alice = "uid=alice," + peers.PEOPLE
	bob = "uid=bob," + peers.PEOPLE
	s.add(gon("staff", [alice, bob]))
	s.add(gon("finance", [alice]))
	s.add(gon("everyone", ["cn=staff," + GROUPS]))


# ---------------------------------------------------------------------------
# Stalled TLS peers.

class StallTls:
	"""A loopback listener that takes every connection and reads what
	comes (a TLS ClientHello) but never answers; the connections stay
	open until close().  got is set when the first bytes arrived."""

	def __init__(self):
		self.ls = socket.socket()
		self.ls.bind(("127.0.0.1", 0))
		self.ls.listen(8)
		self.port = self.ls.getsockname()[1]
		self.got = threading.Event()
		self.conns = []
		threading.Thread(target=self.run, daemon=True).start()

	@property
	def uri(self):
		return "ldaps://127.0.0.1:%d" % self.port

	def run(self):
		while True:
			try:
				c, _ = self.ls.accept()
			except OSError:
				return
			self.conns.append(c)
			threading.Thread(target=self.drain, args=(c,),
			    daemon=True).start()

	def drain(self, c):
		try:
			while True:
				d = c.recv(65536)
				if not d:
					return
				self.got.set()
		except OSError:
			pass

	def close(self):
		self.ls.close()
		for c in self.conns:
			try:
				c.close()
			except OSError:
				pass


class StallStartTls(StallTls):
	"""A relay to slapd's ldap:// port that passes the StartTLS request
	and its answer, then holds everything the client sends next (its
	ClientHello) and sends nothing more: the handshake after StartTLS
	stalls.  got is set when the ClientHello is held."""

	def __init__(self, upstream_port):
		self.up = upstream_port
		StallTls.__init__(self)

	@property
	def uri(self):
		return "ldap://127.0.0.1:%d" % self.port

	def drain(self, c):
		try:
			u = socket.create_connection(("127.0.0.1", self.up))
		except OSError:
			c.close()
			return
		self.conns.append(u)
		try:
			# The StartTLS extended request (RFC 4511 4.14.1), then
			# slapd's answer: passed on.
			d = c.recv(65536)
			if not d:
				return
			u.sendall(d)
			d = u.recv(65536)
			if not d:
				return
			c.sendall(d)
			# The ClientHello: held, unanswered.
			while True:
				d = c.recv(65536)
				if not d:
					return
				self.got.set()
		except OSError:
			pass


# ---------------------------------------------------------------------------
# Proxies.

class Env:
	def __init__(self, t, s, pki, o):
		self.t = t
		self.s = s
		self.pki = pki
		self.o = o
		self.pw = t.secret_file("bind.pw", peers.PROXY_PW + "\n")
		self.hashes = t.secret_file("ntlm.hashes", "".join(
		    "EXAMPLE\\%s:%s\n" % (u, nc.nt_hash(p).hex())
		    for u, p in USERS.items()))

	def ldap(self, uri, **more):
		sec = {"uri": [uri], "bind_dn": peers.PROXY_DN,
		    "bind_password_file": self.pw, "base_dn": peers.SUFFIX,
		    "user_filter": "(uid=%u)", "timeout": TIMEOUT,
		    "tls_ca_file": self.pki.ca}
		sec.update(more)
		return sec

	def conf(self, backend, ldap, json=False):
		c = {"ntlm": {"domain": "EXAMPLE", "backend": harness.Raw(backend),
		    "hashfile": self.hashes}, "ldap": ldap,
		    'network "lo"': {"src": ["127.0.0.0/8"],
		    "auth": [harness.Raw("ntlm")]}}
		if json:
			c["log_format"] = harness.Raw("json")
		return c

	def proxy(self, backend, uri, json=False, **ldap):
		return self.t.proxy(**self.conf(backend, self.ldap(uri, **ldap),
		    json))


def signin(env, p, user="alice", path="/size/5"):
	return harness.curl(p, *nc.curl_ntlm_args(user, USERS[user]),
	    env.o.url(path))


def ask_groups(env, p, user="alice", path="/size/3"):
	"""One NTLM-signed-in request (json log): (status, groups as a set
	or None, groups_source)."""
	off = len(p.access_lines())
	r = signin(env, p, user, path)
	rec = p.final_record(off)
	g = rec.get("groups")
	return r.status, (set(g) if g is not None else None), \
	    rec.get("groups_source")


def refusal_lines(p, off, word):
	return [l for l in p.errlog()[off:].splitlines()
	    if "refused" in l.lower() and word.lower() in l.lower()]


# ---------------------------------------------------------------------------

def fixture_checks(t, s, pki):
	rc, out = ldapsearch_tls(s, s.ldaps_uri, pki.ca)
	t.check(rc == 0 and "uid=alice" in out, "slapd: ldaps:// with the CA "
	    "verified (ldapsearch)", "(rc %d, %r)" % (rc, out[-300:]))
	rc, out = ldapsearch_tls(s, s.uri, pki.ca, starttls=True)
	t.check(rc == 0 and "uid=alice" in out, "slapd: StartTLS with the CA "
	    "verified (ldapsearch -ZZ)", "(rc %d, %r)" % (rc, out[-300:]))
	rc, out = ldapsearch_tls(s, s.ldaps_uri, pki.other)
	t.check(rc != 0, "slapd: ldaps:// with another CA fails to verify",
	    "(rc %d, %r)" % (rc, out[-300:]))


def ntlm_checks(t, env):
	s = env.s

	# ldaps:// with the right CA.
	p = env.proxy("ldap", s.ldaps_uri)
	r = signin(env, p)
	t.eq(r.status, 200, "ldaps: alice signs in (NTLM backend ldap)")
	t.eq([h[0] for h in r.heads], [407, 200], "ldaps: 407 then 200")
	t.check(harness.wait_for(lambda: "bound to %s" % s.ldaps_uri in
	    p.errlog(), 3), "ldaps: the error log says the backend bound over "
	    "ldaps://", "(%r)" % p.errlog()[-400:])
	t.check("directory thread started" in p.errlog(), "ldaps: the "
	    "backend's searches run on the directory thread")
	r = signin(env, p, "bob")
	t.eq(r.status, 200, "ldaps: bob too, on the same connection")
	off = len(p.errlog())
	r = harness.curl(p, *nc.curl_ntlm_args("alice", "Wrong-Pass9"),
	    env.o.url("/size/5"))
	t.eq(r.status, 407, "ldaps: a wrong password is refused (407)")
	t.check(harness.wait_for(lambda: refusal_lines(p, off, "password"), 3),
	    "ldaps: the refusal is logged")
	p.stop()

	# StartTLS on ldap:// with the right CA.
	p = env.proxy("ldap", s.uri, starttls=True)
	r = signin(env, p)
	t.eq(r.status, 200, "starttls: alice signs in (NTLM backend ldap)")
	t.check(harness.wait_for(lambda: "(StartTLS)" in p.errlog(), 3),
	    "starttls: the bind line says StartTLS", "(%r)" % p.errlog()[-400:])
	p.stop()

	# ldaps:// with a CA that did not sign the server's certificate.
	p = env.proxy("ldap", s.ldaps_uri, tls_ca_file=env.pki.other)
	off = len(p.errlog())
	before = env.o.stats()["requests"]
	t0 = time.time()
	r = signin(env, p)
	took = time.time() - t0
	t.eq(r.status, 503, "ldaps, wrong CA: sign-in refused with a 503 "
	    "(fail closed, no password prompt)")
	t.check(b"sign-in service is unavailable" in r.body,
	    "ldaps, wrong CA: the page says the sign-in service is "
	    "unavailable", "(%r)" % r.body[:300])
	t.eq(env.o.stats()["requests"], before, "ldaps, wrong CA: the origin "
	    "saw nothing")
	t.check(took < TIMEOUT + 3, "ldaps, wrong CA: answered without a long "
	    "wait", "(%.1f s)" % took)
	t.check(harness.wait_for(lambda: [l for l in
	    p.errlog()[off:].splitlines() if "ldap:" in l and
	    "directory unreachable" in l and "TLS" in l and "tls_ca_file" in l],
	    3), "ldaps, wrong CA: the error log says the TLS handshake failed "
	    "and points at tls_ca_file", "(%r)" % p.errlog()[off:][-600:])
	for l in p.errlog()[off:].splitlines():
		if "ldap:" in l and "directory unreachable" in l:
			t.log("wrong CA: " + l)
	t.check(refusal_lines(p, off, "directory unreachable"),
	    "ldaps, wrong CA: the refusal gives its reason",
	    "(%r)" % p.errlog()[off:][-600:])
	t.check(p.alive(), "ldaps, wrong CA: the proxy runs on")
	p.stop()

	# StartTLS with the wrong CA.
	p = env.proxy("ldap", s.uri, starttls=True, tls_ca_file=env.pki.other)
	r = signin(env, p)
	t.eq(r.status, 503, "starttls, wrong CA: sign-in refused with a 503")
	t.check(harness.wait_for(lambda: "StartTLS handshake failed" in
	    p.errlog(), 3), "starttls, wrong CA: the error log says why",
	    "(%r)" % p.errlog()[-400:])
	p.stop()


def group_checks(t, env):
	s = env.s
	p = env.proxy("hashfile", s.ldaps_uri, json=True,
	    group_mode=harness.Raw("memberof"))
	st, g, src = ask_groups(env, p)
	t.eq((st, g, src), (200, ALICE_GROUPS, "ldap"), "groups over ldaps://: "
	    "alice's groups (nested) in the json access log")
	st, g, src = ask_groups(env, p, "bob")
	t.eq((st, g, src), (200, {"staff", "everyone"}, "ldap"),
	    "groups over ldaps://: bob's")
	t.check("bound to %s" % s.ldaps_uri in p.errlog(), "groups over "
	    "ldaps://: bound over ldaps://", "(%r)" % p.errlog()[-400:])
	p.stop()

	# Both on one proxy: one directory thread, two connections.
	p = env.proxy("ldap", s.ldaps_uri, json=True,
	    group_mode=harness.Raw("memberof"))
	st, g, src = ask_groups(env, p)
	t.eq((st, g, src), (200, ALICE_GROUPS, "ldap"), "ldap backend and "
	    "groups over ldaps://: alice signed in, with her groups")
	log = p.errlog()
	t.eq(log.count("directory thread started"), 1, "ldap backend and "
	    "groups: one directory thread for both")
	t.check("ldap: bound to" in log and "ldap groups: bound to" in log,
	    "ldap backend and groups: each has its connection",
	    "(%r)" % log[-600:])
	p.stop()


def reload_checks(t, env):
	s = env.s
	# No directory work at all: no thread.
	p = t.proxy(**env.conf("hashfile", env.ldap(s.ldaps_uri), json=True))
	r = signin(env, p)
	t.eq(r.status, 200, "reload: the hash file signs alice in first")
	t.check("directory thread" not in p.errlog(), "reload: no directory "
	    "thread while nothing needs one", "(%r)" % p.errlog()[-400:])

	def reload(what):
		n = p.errlog().count("reloaded")
		p.reload()
		t.check(harness.wait_for(lambda: p.errlog().count("reloaded") > n,
		    5), "reload: %s: done" % what, "(%r)" % p.errlog()[-400:])

	# The backend becomes ldap: the thread starts on the reload.
	p.write_config(ntlm=dict(p.conf["ntlm"], backend=harness.Raw("ldap")))
	off = len(p.errlog())
	reload("backend ldap")
	t.check("ldap: directory thread started" in p.errlog()[off:],
	    "reload: backend ldap starts the directory thread",
	    "(%r)" % p.errlog()[off:][-400:])
	st, g, src = ask_groups(env, p)
	t.eq((st, g, src), (200, None, None), "reload: backend ldap: alice "
	    "signs in over ldaps://, no groups yet")
	t.check(harness.wait_for(lambda: "ldap: bound to %s" % s.ldaps_uri in
	    p.errlog()[off:], 3), "reload: backend ldap: bound over ldaps://")

	# The group lookups join the running thread.
	p.write_config(ldap=dict(p.conf["ldap"],
	    group_mode=harness.Raw("memberof")))
	off = len(p.errlog())
	reload("group_mode memberof")
	st, g, src = ask_groups(env, p)
	t.eq((st, g, src), (200, ALICE_GROUPS, "ldap"), "reload: groups on: "
	    "alice signs in (ldap) and has her groups")
	t.check("directory thread started" not in p.errlog()[off:],
	    "reload: groups on: the running thread takes them",
	    "(%r)" % p.errlog()[off:][-400:])

	# The backend back to the hash file: groups go on, from the thread.
	p.write_config(ntlm=dict(p.conf["ntlm"],
	    backend=harness.Raw("hashfile")))
	reload("backend hashfile")
	st, g, src = ask_groups(env, p, "bob")
	t.eq((st, g, src), (200, {"staff", "everyone"}, "ldap"), "reload: "
	    "backend hashfile: bob signs in (hash file), groups still "
	    "from the directory")
	t.check(p.alive(), "reload: the proxy runs on")
	t.eq(p.stop(), 0, "reload: a clean stop (the thread joined)")


def stall_checks(t, env, stall, what):
	"""A sign-in whose directory never finishes its TLS handshake, on a
	proxy with one worker: that worker keeps answering."""
	ldap = env.ldap(stall.uri, starttls=what == "starttls")
	p = t.proxy(workers=1, **env.conf("ldap", ldap))
	off = len(p.errlog())
	res = {}

	def go():
		t0 = time.time()
		res["r"] = signin(env, p)
		res["took"] = time.time() - t0
	th = threading.Thread(target=go)
	th.start()
	t.check(stall.got.wait(10), "%s stall: the proxy's ClientHello "
	    "reached the stalling peer" % what)
	worst = 0.0
	answered = 0
	bad = []
	while th.is_alive():
		r, took = p.pac()
		if r is None or r.status != 200 or b"FindProxyForURL" not in \
		    r.body:
			bad.append(r and r.status)
		worst = max(worst, took)
		answered += 1
		time.sleep(0.05)
		if answered > 400:
			break
	th.join(30)
	# Known down (waiting 1 s before the next round): the next sign-in,
	# at once, is refused at once.
	t0 = time.time()
	r2 = signin(env, p)
	took2 = time.time() - t0
	t.check(answered >= 5 and not bad, "%s stall: the PAC file is served "
	    "all along (%d times) while the sign-in waits" % (what, answered),
	    "(%r)" % bad)
	t.check(worst < 0.5, "%s stall: the same worker answers within 0.5 s "
	    "every time (it never froze)" % what, "(worst %.2f s)" % worst)
	r = res.get("r")
	t.eq(r and r.status, 503, "%s stall: the sign-in ends with a 503" %
	    what)
	t.between(res.get("took", 0), TIMEOUT * 0.8, TIMEOUT + 2.5,
	    "%s stall: after about `timeout` (%d s)" % (what, TIMEOUT))
	t.check(harness.wait_for(lambda: [l for l in
	    p.errlog()[off:].splitlines() if "ldap:" in l and
	    "directory unreachable" in l], 3), "%s stall: the error log says "
	    "the directory is unreachable" % what,
	    "(%r)" % p.errlog()[off:][-500:])
	for l in p.errlog()[off:].splitlines():
		if "ldap:" in l and "directory unreachable" in l:
			t.log("%s stall: %s" % (what, l))
	t.eq(r2.status, 503, "%s stall: during the backoff, the next sign-in "
	    "is refused" % what)
	t.check(took2 < 1.0, "%s stall: at once, not after another handshake" %
	    what, "(%.2f s)" % took2)
	t.check(p.alive(), "%s stall: the proxy runs on" % what)
	p.stop()


def main(t):
	why = peers.available()
	if why is not None:
		t.log("slapd tests skipped: " + why)
		t.check(True, "skipped: " + why)
		return
	pki = Pki(t)
	s = TlsSlapd(t, pki)
	for u, pw in USERS.items():
		s.add_user(u, nc.nt_hash(pw).hex())
	s.start()
	populate(s)
	fixture_checks(t, s, pki)
	o = t.origin()
	env = Env(t, s, pki, o)

	ntlm_checks(t, env)
	group_checks(t, env)
	reload_checks(t, env)
	stall = StallTls()
	stall_checks(t, env, stall, "ldaps")
	stall.close()
	stall = StallStartTls(s.port)
	stall_checks(t, env, stall, "starttls")
	stall.close()

	for px in t.proxies:
		log = px.errlog()
		t.not_contains(log, peers.PROXY_PW, "no bind password in "
		    "iaproxy%d's log" % px.n)
		for u, pw in USERS.items():
			if pw in log or nc.nt_hash(pw).hex() in log.lower():
				t.fail("a password or NT hash in iaproxy%d's log" %
				    px.n)


harness.run(main)
