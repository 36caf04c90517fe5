#!/usr/bin/python3
"""NTLMv2 sign-in with the ldap backend against a real OpenLDAP slapd
(peers.Slapd): the NT hash comes from sambaNTPassword, read by the
proxy's service account over one asynchronous connection per worker.

curl --proxy-ntlm GET and CONNECT for alice; wrong password, unknown user,
an entry without sambaNTPassword, one whose value is not a hash, two
entries for one name: refused with their reasons; the directory's log
shows the proxy bound as the service DN and searched with escaped names
(a name with filter metacharacters matches nothing); the directory
stopped: sign-in refused (fail closed, "directory unreachable" in the
error log) while the proxy still serves other things (the PAC file);
the directory back: sign-in works again without a restart of the proxy;
twenty handshakes in parallel all succeed.  The slapd fixture's own ACL
is checked too (anonymous refused, only the service DN reads the hash).
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers
from harness import pattern

USERS = {"alice": "Secret123", "bob": "B0b-pass!"}


def nthash_hex(t, user, password):
	"""The NT hash as `iaproxy -H` prints it (checked against MD4)."""
	rc, out = nc.hash_line(harness.IAPROXY, user, password)
	want = nc.nt_hash(password).hex()
	got = out.split(":", 1)[1] if rc == 0 and ":" in out else None
	t.check(got is not None and got.lower() == want,
	    "iaproxy -H %s gives the NT hash" % user, "(%r)" % out)
	return want


def refusals_since(p, off, words, timeout=5.0):
	"""Error-log lines after off saying a sign-in was refused for one of
	words (case-insensitive)."""
	def get():
		return [l for l in p.errlog()[off:].splitlines()
		    if "refused" in l.lower() and
		    any(w.lower() in l.lower() for w in words)]
	harness.wait_for(get, timeout)
	return get()


def fixture_checks(t, s):
	"""The directory is what the proxy must cope with: no anonymous
	access, and only the service account can read the hash."""
	rc, out = s.search("(uid=alice)", ["sambaNTPassword"])
	t.check(rc != 0 and "sambaNTPassword" not in out,
	    "slapd: anonymous search refused", "(rc %d, %r)" % (rc, out[-200:]))
	rc, out = s.search("(uid=alice)", ["sambaNTPassword"],
	    "uid=bob,ou=people," + peers.SUFFIX, "bob-ldap-pw")
	t.check(rc == 0 and "uid=alice" in out and
	    "sambaNTPassword" not in out,
	    "slapd: another user cannot read sambaNTPassword", "(%r)" % out)
	rc, out = s.search("(uid=alice)", ["sambaNTPassword"], peers.PROXY_DN,
	    peers.PROXY_PW)
	t.check(rc == 0 and nc.nt_hash(USERS["alice"]).hex().upper() in out,
	    "slapd: the service DN reads alice's sambaNTPassword",
	    "(%r)" % out[-200:])


def signin_checks(t, s, p, o, ot, log_off):
	alice = nc.curl_ntlm_args("alice", USERS["alice"])

	# GET and CONNECT for alice: 407 then success, user logged.
	n0 = len(p.access_lines())
	r = harness.curl(p, *alice, o.url("/size/1234"))
	t.eq((r.status, r.body == pattern(1234)), (200, True),
	    "ldap: curl NTLM GET as alice")
	t.eq([h[0] for h in r.heads], [407, 200], "ldap: GET 407 then 200")
	harness.wait_for(lambda: len(p.access_lines()) >= n0 + 2, 5)
	ls = nc.lines_for(p.access_lines()[n0:], "/size/1234")
	t.eq(ls and nc.squid_user(ls[-1]), "EXAMPLE\\alice",
	    "ldap: GET logged as EXAMPLE\\alice")
	r = harness.curl(p, "-k", *alice, ot.url("/size/4321"))
	t.eq((r.status, r.body == pattern(4321)), (200, True),
	    "ldap: curl NTLM https (CONNECT) as alice")
	t.eq([h[0] for h in r.heads], [407, 200, 200],
	    "ldap: CONNECT 407, tunnel 200, origin 200")
	r = harness.curl(p, *nc.curl_ntlm_args("bob", USERS["bob"]),
	    o.url("/size/5"))
	t.eq(r.status, 200, "ldap: bob signs in too")

	# Refusals, each with its reason, the origin untouched.
	cases = (
	    ("alice", "Wrong-Pass9", "wrong password", ["password"]),
	    ("mallory", "Secret123", "unknown user", ["unknown user"]),
	    ("carol", "Car0l-pw", "entry without sambaNTPassword",
		["no NT hash"]),
	    ("dave", "Dave-pw1", "sambaNTPassword not a hash",
		["no NT hash"]),
	    ("twin", "Twin-pw1", "two entries with one uid",
		["ambiguous"]),
	    # RFC 4515 escaping: unescaped, "ali*" would find alice's entry
	    # and her password would sign in a user who does not exist.
	    ("ali*", "Secret123", "wildcard in the user name",
		["unknown user"]),
	    ("*)(uid=*", "Secret123", "filter injection in the user name",
		["unknown user"]),
	    ("*", "Secret123", "a bare '*' as the user name",
		["unknown user"]),
	)
	for who, pw, what, why in cases:
		off = len(p.errlog())
		before = o.stats()["requests"]
		r = harness.curl(p, *nc.curl_ntlm_args(who, pw), o.url("/size/5"))
		t.eq(r.status, 407, "ldap: %s: 407" % what)
		t.eq(o.stats()["requests"], before, "ldap: %s: origin saw "
		    "nothing" % what)
		t.check(refusals_since(p, off, why), "ldap: %s: reason (%s) "
		    "logged" % (what, why[0]),
		    "(log tail %r)" % p.errlog()[off:][-300:])

	# What the directory saw (after the fixture checks' own binds): our
	# service account, escaped filters.
	log = s.log()[log_off:]
	t.contains(log, 'BIND dn="%s" method=128' % peers.PROXY_DN,
	    "slapd log: the proxy bound as the service DN")
	t.check('filter="(uid=ali\\2A)"' in log,
	    "slapd log: '*' reached the directory escaped (ali\\2A)",
	    "(%r)" % [l for l in log.splitlines() if "filter=" in l][-8:])
	t.check('filter="(uid=\\2A\\29\\28uid=\\2A)"' in log,
	    "slapd log: '*)(uid=*' reached the directory escaped",
	    "(%r)" % [l for l in log.splitlines() if "filter=" in l][-8:])
	t.check("nentries=0" in log, "slapd log: the escaped searches found "
	    "nothing")
	t.check("BIND anonymous" not in log and 'BIND dn=""' not in log,
	    "slapd log: the proxy never bound anonymously")


def outage_checks(t, s, p, o):
	alice = nc.curl_ntlm_args("alice", USERS["alice"])

	s.stop()
	off = len(p.errlog())
	before = o.stats()["requests"]
	t0 = time.time()
	r = harness.curl(p, *alice, o.url("/size/6"))
	took = time.time() - t0
	t.eq(r.status, 503, "directory down: sign-in refused (fail closed) "
	    "with a 503, not a new password prompt")
	t.eq(o.stats()["requests"], before, "directory down: origin saw "
	    "nothing")
	t.check(took < 8, "directory down: the answer comes without a long "
	    "wait", "(%.1f s)" % took)
	t.check(refusals_since(p, off, ["directory unreachable"]),
	    "directory down: the refusal says the directory is unreachable",
	    "(log tail %r)" % p.errlog()[off:][-400:])
	t.check(harness.wait_for(lambda: "directory unreachable" in
	    "\n".join(l for l in p.errlog()[off:].splitlines()
	    if "ldap:" in l), 5),
	    "directory down: the ldap backend logs that the directory is "
	    "unreachable")
	# Other things are served meanwhile.
	r2, _ = p.pac()
	t.check(r2 is not None and r2.status == 200 and
	    b"FindProxyForURL" in r2.body, "directory down: PAC still served")
	t.check(p.alive(), "directory down: the proxy is still running")

	# Back: sign-in works again, on the proxy that kept running.
	s.start()
	ok = False
	end = time.time() + 30
	while time.time() < end:
		r = harness.curl(p, *alice, o.url("/size/7"))
		if r.status == 200:
			ok = True
			break
		time.sleep(0.5)
	t.check(ok, "directory back: sign-in works again (reconnected)",
	    "(last status %r)" % r.status)
	t.eq(r.body, pattern(7), "directory back: the body")


def parallel_checks(t, p, o, n=20):
	procs = []
	hfs = []
	for i in range(n):
		user = "alice" if i % 2 == 0 else "bob"
		argv = [harness.CURL, "--noproxy", "", "-x", p.proxy_url(), "-sS",
		    "-o", "/dev/null", "-w", "%{http_code}",
		    *nc.curl_ntlm_args(user, USERS[user]),
		    o.url("/size/%d" % (300 + i))]
		procs.append(t.spawn(argv, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE))
	codes = []
	for pr in procs:
		try:
			out, _ = pr.communicate(timeout=60)
			codes.append(out.decode().strip())
		except subprocess.TimeoutExpired:
			pr.kill()
			codes.append("timeout")
	t.eq(codes, ["200"] * n, "%d handshakes in parallel all succeed" % n)


def ldap_proxy(t, s, pwfile, uris, **more):
	"""A proxy whose ntlm backend is ldap, with uris."""
	ldap = {"uri": uris, "bind_dn": peers.PROXY_DN,
	    "bind_password_file": pwfile, "base_dn": peers.SUFFIX,
	    "user_filter": "(uid=%u)", "timeout": 2}
	ldap.update(more.pop("ldap", {}))
	conf = {"ntlm": {"domain": "EXAMPLE", "backend": harness.Raw("ldap")},
	    "ldap": ldap, 'network "lo"': {"src": ["127.0.0.0/8"],
	    "auth": [harness.Raw("ntlm")]}}
	conf.update(more)
	return t.proxy(**conf)


def failover_checks(t, s, o, pwfile):
	alice = nc.curl_ntlm_args("alice", USERS["alice"])

	# The first server's connect hangs (SYNs dropped): the worker keeps
	# serving while it waits, and after `timeout` the next URI answers.
	sd = harness.SynDropper()
	if not sd.verify():
		t.log("SYN dropper does not hang connects here; skipped")
	else:
		p = ldap_proxy(t, s, pwfile, ["ldap://127.0.0.1:%d" % sd.port,
		    s.uri], ldap={"timeout": 1})
		import threading
		res = {}

		def signin():
			res["r"] = harness.curl(p, *alice, o.url("/size/9"))
		th = threading.Thread(target=signin)
		t0 = time.time()
		th.start()
		time.sleep(0.3)
		r, pac = p.pac()
		t.check(r is not None and r.status == 200 and pac < 0.5,
		    "connect to the first directory hangs: the worker still "
		    "answers at once", "(%.2f s)" % pac)
		th.join(30)
		took = time.time() - t0
		t.eq(res.get("r") and res["r"].status, 200,
		    "failover: the second URI signs alice in")
		t.between(took, 0.8, 6, "failover: after about one timeout")
		p.stop()
		sd.close()

	# A refused port first: straight to the next.
	sock, closed = harness.closed_port()
	p = ldap_proxy(t, s, pwfile, ["ldap://127.0.0.1:%d" % closed, s.uri])
	r = harness.curl(p, *alice, o.url("/size/9"))
	t.eq(r.status, 200, "failover: refused first URI, second signs in")
	sock.close()

	# Reload: a new connection from the new config; sign-in still works.
	n = p.errlog().count("reloaded")
	p.reload()
	harness.wait_for(lambda: p.errlog().count("reloaded") > n, 5)
	r = harness.curl(p, *alice, o.url("/size/9"))
	t.eq(r.status, 200, "after a reload: sign-in via ldap works")
	p.stop()

	# A wrong service password: the bind fails, sign-in fails closed.
	bad = t.secret_file("bad.pw", "not-the-service-password\n")
	p = ldap_proxy(t, s, bad, [s.uri])
	r = harness.curl(p, *alice, o.url("/size/9"))
	t.eq(r.status, 503, "wrong bind password: sign-in refused (503)")
	t.check(harness.wait_for(lambda: "service account refused" in
	    p.errlog(), 5), "wrong bind password: the bind refusal is logged",
	    "(%r)" % p.errlog()[-300:])
	t.not_contains(p.errlog(), "not-the-service-password",
	    "wrong bind password: the password is not logged")
	p.stop()


class StallRelay(harness.TcpRelay):
	"""A TCP relay to slapd that stalls the directory's second answer
	(the first after the bind: a search result) after its first 5 bytes,
	for `stall` seconds.  slapd still answers; only the timing changes."""

	def __init__(self, upstream_port, stall=3.0):
		import threading
		self.stall = stall
		self.stalling = threading.Event()
		harness.TcpRelay.__init__(self, upstream_port)

	def server_data(self, n, data, dst):
		if n == 2 and len(data) > 5:
			dst.sendall(data[:5])	# half a BER message
			self.stalling.set()
			time.sleep(self.stall)
			data = data[5:]
		return data


def stall_checks(t, s, o, pwfile):
	"""A directory reply that stops mid-message must not hold the worker
	(one worker here: a blocked read would delay every other client)."""
	import threading
	relay = StallRelay(s.port)
	p = ldap_proxy(t, s, pwfile, ["ldap://127.0.0.1:%d" % relay.port],
	    ldap={"timeout": 10})
	res = {}

	def signin():
		res["r"] = harness.curl(p, *nc.curl_ntlm_args("alice",
		    USERS["alice"]), o.url("/size/5"))
	th = threading.Thread(target=signin)
	th.start()
	t.check(relay.stalling.wait(10), "the relay holds back half of the "
	    "directory's search answer")
	time.sleep(0.3)
	r, took = p.pac()
	t.check(r is not None and r.status == 200 and took < 0.5,
	    "half an LDAP message in: the worker still answers at once",
	    "(%.2f s)" % took)
	th.join(30)
	t.eq(res.get("r") and res["r"].status, 200,
	    "the stalled answer completes and alice signs in")
	p.stop()
	relay.close()


def main(t):
	why = peers.available()
	if why is not None:
		t.fail("cannot run: " + why)
		return
	hashes = {u: nthash_hex(t, u, pw) for u, pw in USERS.items()}
	s = peers.Slapd(t)
	s.add_user("alice", hashes["alice"])
	s.add_user("bob", hashes["bob"])
	s.add_user("carol")			# no sambaNTPassword
	s.add_user("dave", "NO PASSWORDXXXXXXXXXXXXXXXXXXXXX")
	s.add_user("twin", nc.nt_hash("Twin-pw1").hex(), ou="people")
	s.add_user("twin", nc.nt_hash("Twin-pw1").hex(), ou="staff")
	s.start()
	fixture_checks(t, s)
	log_off = len(s.log())

	pwfile = t.secret_file("bind.pw", peers.PROXY_PW + "\n")

	o = t.origin()
	ot = t.origin(tls=True)
	p = ldap_proxy(t, s, pwfile, [s.uri], workers=2,
	    connect_ports=[ot.port])

	signin_checks(t, s, p, o, ot, log_off)
	parallel_checks(t, p, o)
	outage_checks(t, s, p, o)
	failover_checks(t, s, o, pwfile)
	stall_checks(t, s, o, pwfile)

	# Never a secret in the proxy's log.
	log = p.errlog().lower()
	secrets = [peers.PROXY_PW.lower()]
	for u, pw in USERS.items():
		secrets += [pw.lower(), nc.nt_hash(pw).hex()]
	t.eq([x for x in secrets if x in log], [],
	    "no password, bind password or NT hash in the error log")


harness.run(main)
