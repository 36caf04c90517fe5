#!/usr/bin/python3
"""Groups of signed-in users from a real OpenLDAP slapd (peers.GroupSlapd:
memberof overlay, anonymous search refused, a service DN), cached and
surviving an outage.

The directory: alice in staff, finance and loop-a; finance in all-finance;
all-finance and staff in everyone; loop-a and loop-b members of each other
(a loop); erin at the bottom of a chain d1 < d2 < d3 < d4; a
groupOfUniqueNames (uniq: alice) and a posixGroup (posix: bob); carol in
no group; dave not in the directory at all.

Covered: group_mode memberof finds direct and nested groups (the loop
ends), for NTLM- and Kerberos-signed-in users (peers.MitKdc: the same
person as alice@EXAMPLE.TEST), in the json access log ("groups",
"groups_source"); a user without groups and one not in the directory get
an empty list; max_depth bounds the walk; group_mode member finds
groupOfNames, groupOfUniqueNames and posixGroup, nested; injection
attempts ("alice*)(uid=*", "*") reach slapd escaped and match nothing.
The cache: many requests make one search (counted in slapd's stats log
and by the admin socket's counters); concurrent misses for one user are
coalesced into one search (a relay that delays the directory's answers
makes them concurrent); expiry makes a new search; refresh-ahead searches
before expiry while the user is answered from the cache.  The outage:
slapd stopped, cached users keep their groups marked stale (and the error
log says so), a new user gets a 503 (directory_failure deny) or goes on
without groups (allow); slapd started again, the same proxy recovers.
Purge over the admin socket (mode 0600; stats, help, errors, quit) makes
the next request search again and see a group change at once.  StartTLS
with the right CA works, with another CA fails closed.  A reload that
changes group_mode empties the cache.  No password in any log.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers

USERS = {"alice": "Alice-pw1", "bob": "B0b-pass!", "carol": "Car0l-pw",
    "dave": "Dave-pw1", "erin": "Erin-pw1", "alice*)(uid=*": "Inj-pw1",
    "*": "Star-pw1"}
REALM = "EXAMPLE.TEST"
HOST = harness.HOSTNAME
GROUPS = "ou=groups," + peers.SUFFIX

ALICE_MEMBEROF = {"staff", "finance", "all-finance", "everyone", "loop-a",
    "loop-b"}
BOB_MEMBEROF = {"staff", "everyone"}
ERIN_ALL = {"d1", "d2", "d3", "d4"}


def gdn(cn):
	return "cn=%s,%s" % (cn, GROUPS)


def udn(uid):
	return "uid=%s,%s" % (uid, peers.PEOPLE)


def populate(s):
	"""The groups, added online so that the overlay sets memberOf."""
	s.add("dn: %s\nobjectClass: organizationalUnit\nou: groups\n" % GROUPS)

	def gon(cn, members):
		return "dn: %s\nobjectClass: groupOfNames\ncn: %s\n%s" % (gdn(cn),
		    cn, "".join("member: %s\n" % m for m in members))
	s.add(gon("staff", [udn("alice"), udn("bob")]))
	s.add(gon("finance", [udn("alice")]))
	s.add(gon("all-finance", [gdn("finance")]))
	s.add(gon("everyone", [gdn("all-finance"), gdn("staff")]))
	s.add(gon("loop-a", [udn("alice")]))
	s.add(gon("loop-b", [gdn("loop-a")]))
	s.modify("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n" %
	    (gdn("loop-a"), gdn("loop-b")))
	s.add(gon("d1", [udn("erin")]))
	s.add(gon("d2", [gdn("d1")]))
	s.add(gon("d3", [gdn("d2")]))
	s.add(gon("d4", [gdn("d3")]))
	s.add("dn: %s\nobjectClass: groupOfUniqueNames\ncn: uniq\n"
	    "uniqueMember: %s\n" % (gdn("uniq"), udn("alice")))
	s.add("dn: %s\nobjectClass: posixGroup\ncn: posix\ngidNumber: 5000\n"
	    "memberUid: bob\n" % gdn("posix"))


class Env:
	"""What every proxy of this test shares."""

	def __init__(self, t, s, o):
		self.t = t
		self.s = s
		self.o = o
		self.pw = t.secret_file("bind.pw", peers.PROXY_PW + "\n")
		self.hashes = t.secret_file("ntlm.hashes", "".join(
		    "EXAMPLE\\%s:%s\n" % (u, nc.nt_hash(p).hex())
		    for u, p in USERS.items()))
		self.krb = None
		self.n = 0

	def proxy(self, uri=None, start=True, krb=False, **ldap):
		"""A proxy with NTLM (hash file) sign-in (and Kerberos with krb),
		json access log, an admin socket and group_mode memberof unless
		ldap says otherwise."""
		self.n += 1
		sec = {"uri": [uri or self.s.uri], "bind_dn": peers.PROXY_DN,
		    "bind_password_file": self.pw, "base_dn": peers.SUFFIX,
		    "user_filter": "(uid=%u)", "timeout": 2,
		    "group_mode": harness.Raw("memberof")}
		sec.update(ldap)
		auth = [harness.Raw("ntlm")]
		conf = {"log_format": harness.Raw("json"),
		    "admin_socket": os.path.join(self.t.tmpdir,
		    "admin%d.sock" % self.n),
		    "ntlm": {"domain": "EXAMPLE",
		    "backend": harness.Raw("hashfile"), "hashfile": self.hashes},
		    "ldap": sec}
		if krb:
			conf["negotiate"] = {"keytab": self.krb.keytab}
			auth = [harness.Raw("negotiate"), harness.Raw("ntlm")]
		conf['network "lo"'] = {"src": ["127.0.0.0/8"], "auth": auth}
		p = self.t.proxy(start=False, **conf)
		p.admin_path = conf["admin_socket"]
		if krb:
			rc = os.path.join(self.t.tmpdir, "rcache%d" % self.n)
			os.makedirs(rc, mode=0o700, exist_ok=True)
			p.prefix = ["/usr/bin/env", "-u", "KRB5CCNAME",
			    "KRB5_CONFIG=" + self.krb.kdc.krb5_conf,
			    "KRB5RCACHEDIR=" + rc]
		if start:
			p.start()
		return p


class Krb:
	def __init__(self, t):
		self.kdc = peers.MitKdc(t, REALM)
		self.kdc.addprinc("alice", USERS["alice"])
		self.kdc.addprinc_randkey("HTTP/" + HOST)
		self.keytab = self.kdc.ktadd("HTTP/" + HOST,
		    os.path.join(t.tmpdir, "http.keytab"))
		self.cc = self.kdc.kinit("alice", USERS["alice"],
		    os.path.join(t.tmpdir, "alice.cc"))


def ask(env, p, user, path="/size/3", krb=False):
	"""One signed-in request as user (NTLM, or Kerberos with krb):
	(status, groups as a set or None, groups_source, the record)."""
	off = len(p.access_lines())
	if krb:
		status = harness.curl_negotiate_status(p, HOST, env.o.url(path),
		    env.krb.kdc.env(KRB5CCNAME="FILE:" + env.krb.cc))
	else:
		status = harness.curl(p, *nc.curl_ntlm_args(user, USERS[user]),
		    env.o.url(path)).status
	rec = p.final_record(off)
	g = rec.get("groups")
	return status, (set(g) if g is not None else None), \
	    rec.get("groups_source"), rec


def searches(s, uid):
	return s.searches("(uid=%s)" % uid)


# ---------------------------------------------------------------------------

def parallel_bob(t, env, p, first):
	"""Ten curls signed in as bob at once, for /size/first and on; their
	status codes."""
	procs = []
	for i in range(10):
		argv = [harness.CURL, "--noproxy", "", "-x", p.proxy_url(), "-sS",
		    "-o", "/dev/null", "-w", "%{http_code}",
		    *nc.curl_ntlm_args("bob", USERS["bob"]),
		    env.o.url("/size/%d" % (first + i))]
		procs.append(t.spawn(argv, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE))
	return [pr.communicate(timeout=60)[0].decode().strip() for pr in procs]


def fixture_checks(t, s):
	rc, out = s.search("(uid=alice)", ["memberOf"], peers.PROXY_DN,
	    peers.PROXY_PW)
	t.check(rc == 0 and gdn("staff") in out and gdn("loop-a") in out,
	    "slapd: the overlay gives alice memberOf", "(%r)" % out[-300:])
	rc, out = s.search("(cn=finance)", ["memberOf"], peers.PROXY_DN,
	    peers.PROXY_PW)
	t.check(rc == 0 and gdn("all-finance") in out,
	    "slapd: groups get memberOf too (nesting)", "(%r)" % out[-300:])
	rc, out = s.search("(uid=alice)", ["memberOf"])
	t.check(rc != 0 and "memberOf" not in out,
	    "slapd: anonymous search refused", "(rc %d)" % rc)


def memberof_checks(t, env, p):
	st, g, src, rec = ask(env, p, "alice")
	t.eq(st, 200, "memberof: alice signed in and served")
	t.eq(g, ALICE_MEMBEROF, "memberof: alice's groups, nested and through "
	    "the loop")
	t.eq(src, "ldap", "memberof: groups_source ldap")
	t.eq((rec.get("user"), rec.get("auth")), ("EXAMPLE\\alice", "ntlm"),
	    "memberof: the record is alice's (ntlm)")
	st, g, src, _ = ask(env, p, "bob")
	t.eq((st, g, src), (200, BOB_MEMBEROF, "ldap"), "memberof: bob")
	st, g, src, _ = ask(env, p, "erin")
	t.eq((st, g), (200, ERIN_ALL), "memberof: erin's chain of four")
	st, g, src, _ = ask(env, p, "carol")
	t.eq((st, g, src), (200, set(), "ldap"),
	    "memberof: carol, in no group: an empty list")
	st, g, src, _ = ask(env, p, "dave")
	t.eq((st, g, src), (200, set(), "ldap"),
	    "memberof: dave, not in the directory: an empty list")
	# A request without sign-in has no group lookup.
	off = len(p.access_lines())
	p.pac()
	rec = p.final_record(off)
	t.check("groups" in rec and rec["groups"] is None and
	    rec["groups_source"] is None, "no sign-in: groups and "
	    "groups_source null", "(%r)" % rec)


def kerberos_checks(t, env, p):
	st, g, src, rec = ask(env, p, "alice", krb=True)
	t.eq(st, 200, "kerberos: alice@EXAMPLE.TEST served")
	t.eq((rec.get("user"), rec.get("auth")), ("alice@" + REALM,
	    "negotiate"), "kerberos: the record is alice@EXAMPLE.TEST's")
	t.eq((g, src), (ALICE_MEMBEROF, "ldap"),
	    "kerberos: the same groups as with NTLM (%u of alice@REALM)")


def injection_checks(t, env, p):
	before = env.s.log()
	st, g, src, rec = ask(env, p, "alice*)(uid=*")
	t.eq(st, 200, "injection: 'alice*)(uid=*' signs in (hash file)")
	t.eq((g, src), (set(), "ldap"),
	    "injection: 'alice*)(uid=*' gets no groups (not alice's)")
	st, g, src, rec = ask(env, p, "*")
	t.eq((st, g, src), (200, set(), "ldap"), "injection: '*' gets none")
	log = env.s.log()[len(before):]
	t.check('filter="(uid=alice\\2A\\29\\28uid=\\2A)"' in log,
	    "injection: slapd saw the name escaped (RFC 4515)",
	    "(%r)" % [l for l in log.splitlines() if "filter=" in l][-6:])
	t.check('filter="(uid=\\2A)"' in log,
	    "injection: slapd saw '*' escaped")
	t.check(log.count("nentries=0") >= 2,
	    "injection: the escaped searches found nothing")


def cache_checks(t, env, p):
	s = env.s
	n0 = searches(s, "alice")
	st0 = p.admin_stats()
	for i in range(8):
		st, g, src, _ = ask(env, p, "alice")
		if (st, g) != (200, ALICE_MEMBEROF):
			break
	t.eq((st, g), (200, ALICE_MEMBEROF), "cache: eight more requests "
	    "for alice answered with her groups")
	t.eq(searches(s, "alice"), n0, "cache: ... and no search in slapd's log")
	st1 = p.admin_stats()
	t.check(st1["groups_hits"] - st0["groups_hits"] >= 8 and
	    st1["groups_searches"] == st0["groups_searches"],
	    "cache: the counters say hits, no search",
	    "(%r -> %r)" % (st0, st1))
	# Parallel requests for one user: one search in all.
	p.admin("purge bob")
	nb = searches(s, "bob")
	codes = parallel_bob(t, env, p, 10)
	t.eq(codes, ["200"] * 10, "cache: ten parallel requests for bob")
	harness.wait_for(lambda: searches(s, "bob") > nb, 3)
	t.eq(searches(s, "bob") - nb, 1, "cache: ten parallel requests for a "
	    "purged user: one search")


class DelayRelay(harness.TcpRelay):
	"""A TCP relay to slapd that holds each of the directory's answers
	for delay seconds: lookups made meanwhile are concurrent for sure."""

	def __init__(self, upstream_port, delay):
		self.delay = delay
		harness.TcpRelay.__init__(self, upstream_port)

	def server_data(self, n, data, dst):
		time.sleep(self.delay)
		return data


def coalesce_checks(t, env):
	relay = DelayRelay(env.s.port, 1.0)
	p = env.proxy(uri="ldap://127.0.0.1:%d" % relay.port, timeout=10)
	# The connection first (bind through the relay), then the test.
	st, g, _, _ = ask(env, p, "carol")
	t.eq(st, 200, "coalescing: the slow directory answers")
	nb = searches(env.s, "bob")
	st0 = p.admin_stats()
	codes = parallel_bob(t, env, p, 20)
	t.eq(codes, ["200"] * 10, "coalescing: ten concurrent misses for bob "
	    "all served")
	harness.wait_for(lambda: searches(env.s, "bob") > nb, 3)
	st1 = p.admin_stats()
	t.eq(searches(env.s, "bob") - nb, 1, "coalescing: one search in "
	    "slapd's log")
	t.eq((st1["groups_misses"] - st0["groups_misses"],
	    st1["groups_coalesced"] - st0["groups_coalesced"]), (10, 9),
	    "coalescing: ten misses, nine joined the first one's search")
	t.check(st1["groups_latency_us_max"] >= 900000, "coalescing: the "
	    "latency counter saw the slow search", "(%r)" % st1)
	p.stop()
	relay.close()


def expiry_checks(t, env):
	# cache_ttl 3, refresh_ahead 1: fresh for 3 s, refreshed in use
	# during the last second (but not in the first half of its life).
	p = env.proxy(cache_ttl=3, refresh_ahead=1, stale_ttl=3600)
	s = env.s
	n0 = searches(s, "erin")
	t0 = time.time()
	st, g, src, _ = ask(env, p, "erin")
	t.eq((st, g, src), (200, ERIN_ALL, "ldap"), "expiry: erin")
	t.eq(searches(s, "erin") - n0, 1, "expiry: one search")
	st, g, src, _ = ask(env, p, "erin")
	t.eq(searches(s, "erin") - n0, 1, "expiry: fresh: no search")
	m0 = p.admin_stats()["groups_misses"]
	time.sleep(max(0, t0 + 2.3 - time.time()))
	st, g, src, rec = ask(env, p, "erin")
	t.eq((st, g, src), (200, ERIN_ALL, "ldap"), "refresh-ahead: answered "
	    "from the cache")
	t.check(harness.wait_for(lambda: searches(s, "erin") - n0 == 2, 3),
	    "refresh-ahead: a search in the background",
	    "(%d)" % (searches(s, "erin") - n0))
	st1 = p.admin_stats()
	t.eq((st1["groups_misses"] - m0, st1["groups_refreshes"]), (0, 1),
	    "refresh-ahead: no miss, one refresh")
	# Unused past its (refreshed) expiry: a miss and a new search.
	time.sleep(3.4)
	n1 = searches(s, "erin")
	st, g, src, _ = ask(env, p, "erin")
	t.eq((st, g, src), (200, ERIN_ALL, "ldap"), "expiry: erin again")
	t.eq(searches(s, "erin") - n1, 1, "expiry: expired: a new search")
	t.eq(p.admin_stats()["groups_misses"] - m0, 1, "expiry: counted as a miss")
	return p


def outage_checks(t, env, p):
	"""p: cache_ttl 3, stale_ttl 3600, erin and alice cached."""
	s = env.s
	pa = env.proxy(cache_ttl=3, directory_failure=harness.Raw("allow"))
	st, g, _, _ = ask(env, p, "alice")
	t.eq((st, g), (200, ALICE_MEMBEROF), "outage: alice cached first")
	s.stop()
	time.sleep(3.2)		# past cache_ttl
	off = len(p.errlog())
	st, g, src, _ = ask(env, p, "alice")
	t.eq((st, g, src), (200, ALICE_MEMBEROF, "stale"),
	    "slapd stopped: alice keeps her groups, marked stale")
	t.check(harness.wait_for(lambda: "stale" in p.errlog()[off:] and
	    "example\\alice" in p.errlog()[off:], 3),
	    "slapd stopped: the error log says the groups are stale",
	    "(%r)" % p.errlog()[off:][-400:])
	st, g, src, _ = ask(env, p, "erin")
	t.eq((st, g, src), (200, ERIN_ALL, "stale"),
	    "slapd stopped: erin too")
	off = len(p.errlog())
	t1 = time.time()
	st, g, src, rec = ask(env, p, "bob")
	t.eq(st, 503, "slapd stopped: bob, never looked up, gets a 503 "
	    "(directory_failure deny)")
	t.check(time.time() - t1 < 5, "slapd stopped: ... without a long wait",
	    "(%.1f s)" % (time.time() - t1))
	t.eq((rec.get("groups_source"), rec.get("result")), ("none",
	    "TCP_DENIED"), "slapd stopped: logged denied, groups_source none")
	t.check(harness.wait_for(lambda: "groups of EXAMPLE\\bob unknown" in
	    p.errlog()[off:], 3), "slapd stopped: the error log says why",
	    "(%r)" % p.errlog()[off:][-300:])
	r = harness.curl(p, *nc.curl_ntlm_args("bob", USERS["bob"]),
	    env.o.url("/size/3"))
	t.check(r.status == 503 and b"directory" in r.body,
	    "slapd stopped: the page says the directory cannot be reached",
	    "(%r)" % r.body[-300:])
	st, g, src, _ = ask(env, pa, "bob")
	t.eq((st, g, src), (200, set(), "none"), "slapd stopped: with "
	    "directory_failure allow, bob goes on without groups")
	t.check(p.alive() and pa.alive(), "slapd stopped: the proxies run")

	# Back: the same proxy recovers (reconnects after its backoff).
	s.start()
	ok = None
	end = time.time() + 30
	while time.time() < end:
		ok = ask(env, p, "bob")
		if ok[0] == 200:
			break
		time.sleep(0.5)
	t.eq((ok[0], ok[1], ok[2]), (200, BOB_MEMBEROF, "ldap"),
	    "slapd back: bob gets his groups, no restart")
	st, g, src, _ = ask(env, p, "alice")
	t.eq((st, g, src), (200, ALICE_MEMBEROF, "ldap"),
	    "slapd back: alice's groups are fresh again")
	pa.stop()


def purge_checks(t, env, p):
	s = env.s
	mode = os.stat(p.admin_path).st_mode & 0o777
	t.eq(oct(mode), oct(0o600), "admin socket: mode 0600")
	st, g, _, _ = ask(env, p, "alice")
	t.check("staff" in g, "purge: alice in staff (cached)")
	s.modify("dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n" %
	    (gdn("staff"), udn("alice")))
	st, g, _, _ = ask(env, p, "alice")
	t.check("staff" in g, "purge: the change is not seen while cached")
	n0 = searches(s, "alice")
	a = p.admin("purge EXAMPLE\\Alice")
	t.eq(a, [["ok 1"]], "admin: purge EXAMPLE\\Alice drops one entry")
	t.check(harness.wait_for(lambda: "admin: purge EXAMPLE\\Alice" in
	    p.errlog(), 3), "admin: the purge is logged")
	st, g, src, _ = ask(env, p, "alice")
	t.eq(searches(s, "alice") - n0, 1, "purge: the next request searches")
	t.eq((g, src), (ALICE_MEMBEROF - {"staff"}, "ldap"), "purge: staff is "
	    "gone at once (everyone stays, through all-finance)")
	s.modify("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n" %
	    (gdn("staff"), udn("alice")))
	# A bare name purges the Kerberos entry too.
	a = p.admin("purge alice", "purge nobody", "purge")
	t.eq(a[0][0].split()[0], "ok", "admin: purge alice")
	t.check(int(a[0][0].split()[1]) >= 1, "admin: a bare name drops "
	    "alice's entries in every domain and realm", "(%r)" % a)
	t.eq(a[1], ["ok 0"], "admin: purge of an unknown user: ok 0")
	t.check(a[2][0].startswith("error"), "admin: purge without a user "
	    "is an error", "(%r)" % a)
	st = p.admin_stats()
	t.check(st["groups_purged"] >= 2 and st["groups_lookups"] > 0 and
	    "groups_latency_us_p99" in st and st["groups_directory_up"] == 1,
	    "admin: stats counters", "(%r)" % st)
	a = p.admin("frobnicate", "help", "quit")
	t.check(a[0][0].startswith("error unknown command"), "admin: unknown "
	    "command", "(%r)" % a)
	t.check(any("purge USER" in l for l in a[1]) and a[1][-1] == "ok",
	    "admin: help")
	t.eq(a[2], ["ok bye"], "admin: quit")
	# The admin protocol is not on the proxy port.
	r, c = harness.raw_request(p.port, "stats\r\n\r\n")
	t.check(r is None or r.status == 400, "admin: 'stats' on the proxy "
	    "port is just a bad request", "(%r)" % r)
	c.close()
	st, g, _, _ = ask(env, p, "alice")
	t.check("staff" in g, "purge: alice back in staff after a purge")


def depth_checks(t, env):
	p = env.proxy(max_depth=2)
	st, g, _, _ = ask(env, p, "erin")
	t.eq(g, {"d1", "d2", "d3"}, "max_depth 2: two levels above erin's own")
	p.stop()
	p = env.proxy(max_depth=0)
	st, g, _, _ = ask(env, p, "alice")
	t.eq(g, {"staff", "finance", "loop-a"}, "max_depth 0: direct groups "
	    "only")
	p.stop()


def member_checks(t, env):
	p = env.proxy(group_mode=harness.Raw("member"))
	st, g, src, _ = ask(env, p, "alice")
	t.eq((st, g, src), (200, ALICE_MEMBEROF | {"uniq"}, "ldap"),
	    "member: alice: groupOfNames (nested, loop) and groupOfUniqueNames")
	st, g, src, _ = ask(env, p, "bob")
	t.eq(g, BOB_MEMBEROF | {"posix"}, "member: bob: and posixGroup by uid")
	p.stop()
	p = env.proxy(group_mode=harness.Raw("member"), max_depth=1)
	st, g, src, _ = ask(env, p, "erin")
	t.eq(g, {"d1", "d2"}, "member: max_depth 1")
	p.stop()


def starttls_checks(t, env, cert):
	p = env.proxy(starttls=True, tls_ca_file=cert[0])
	st, g, src, _ = ask(env, p, "bob")
	t.eq((st, g, src), (200, BOB_MEMBEROF, "ldap"),
	    "starttls: groups over StartTLS, the CA verified")
	t.contains(p.errlog(), "(StartTLS)", "starttls: the bind says so")
	t.check("STARTTLS" in env.s.log() or "oid=1.3.6.1.4.1.1466.20037" in
	    env.s.log(), "starttls: slapd saw the StartTLS request")
	p.stop()
	other = os.path.join(env.t.tmpdir, "other-ca.pem")
	key = os.path.join(env.t.tmpdir, "other-key.pem")
	subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
	    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
	    other, "-days", "2", "-subj", "/CN=other"], check=True,
	    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
	p = env.proxy(starttls=True, tls_ca_file=other)
	st, g, src, _ = ask(env, p, "bob")
	t.eq((st, src), (503, "none"), "starttls: a server the CA does not "
	    "vouch for is not used (fail closed)")
	t.check(harness.wait_for(lambda: "StartTLS handshake failed" in
	    p.errlog(), 3), "starttls: the error log says why",
	    "(%r)" % p.errlog()[-400:])
	p.stop()


def reload_checks(t, env, p):
	st, g, _, _ = ask(env, p, "alice")
	t.check("uniq" not in g, "reload: memberof mode first")
	off = len(p.errlog())
	p.write_config(ldap=dict(p.conf["ldap"],
	    group_mode=harness.Raw("member")))
	p.reload()
	t.check(harness.wait_for(lambda: "reloaded" in p.errlog()[off:], 5),
	    "reload: done")
	t.check("cached users forgotten" in p.errlog()[off:],
	    "reload: a new group_mode empties the cache")
	st, g, src, _ = ask(env, p, "alice")
	t.eq((st, "uniq" in g), (200, True), "reload: member mode now")
	# The admin socket survives a reload, and moves with its path.
	old = p.admin_path
	t.eq(p.admin("help")[0][-1], "ok", "reload: the admin socket stays")
	new = old + ".new"
	off = len(p.errlog())
	p.write_config(admin_socket=new)
	p.reload()
	t.check(harness.wait_for(lambda: "reloaded" in p.errlog()[off:], 5),
	    "reload: admin_socket moved")
	p.admin_path = new
	t.check(not os.path.exists(old) and os.path.exists(new) and
	    os.stat(new).st_mode & 0o777 == 0o600, "reload: the old socket "
	    "is gone, the new one is there (0600)")
	t.eq(p.admin("purge *")[0][0].split()[0], "ok", "reload: the new "
	    "socket answers")
	# group_mode none: no lookups, nulls in the log.
	off = len(p.errlog())
	p.write_config(ldap=dict(p.conf["ldap"],
	    group_mode=harness.Raw("none")))
	p.reload()
	harness.wait_for(lambda: "reloaded" in p.errlog()[off:], 5)
	st, g, src, rec = ask(env, p, "alice")
	t.eq((st, g, src), (200, None, None), "reload: group_mode none: no "
	    "group lookup")


def main(t):
	why = peers.available()
	if why is not None:
		t.log("slapd tests skipped: " + why)
		t.check(True, "skipped: " + why)
		return
	cert = t.cert()
	s = peers.GroupSlapd(t, tls=cert)
	for u in ("alice", "bob", "carol", "erin"):
		s.add_user(u)
	s.start()
	populate(s)
	fixture_checks(t, s)
	o = t.origin()
	env = Env(t, s, o)
	krb = peers.kdc_available() is None
	if krb:
		env.krb = Krb(t)
	else:
		t.log("no MIT KDC here: Kerberos users not covered")
	p = env.proxy(krb=krb)
	memberof_checks(t, env, p)
	if krb:
		kerberos_checks(t, env, p)
	injection_checks(t, env, p)
	cache_checks(t, env, p)
	coalesce_checks(t, env)
	depth_checks(t, env)
	member_checks(t, env)
	starttls_checks(t, env, cert)
	purge_checks(t, env, p)
	pe = expiry_checks(t, env)
	outage_checks(t, env, pe)
	reload_checks(t, env, p)
	for px in t.proxies:
		t.not_contains(px.errlog(), peers.PROXY_PW, "no bind password in "
		    "iaproxy%d's log" % px.n)
		for u, pw in USERS.items():
			if pw in px.errlog():
				t.fail("a user's password in iaproxy%d's log" % px.n)


harness.run(main)
