#!/usr/bin/python3
"""Groups from a real Active Directory: the Samba 4 AD DC of peers.AdDc
(in a network namespace), group_mode ad, a service account with a simple
bind on port 389, subtree searches from the domain root (which return
referrals; they are not followed).

The domain: Finance holds alice; AllFinance holds Finance; Corp holds
AllFinance (three levels); StaffAll holds Domain Users, the primary group
of every user, which AD lists in no member attribute (and which AD itself
puts in BUILTIN\\Users).

Covered: alice (NTLM, hash file) gets Finance, AllFinance and Corp
(nested, through the in-chain matching rule) and Domain Users (the
primary group, by objectSid = domain SID + primaryGroupID) with what it
is nested in (StaffAll, Users); bob gets the primary group's only; a
Kerberos ticket from the DC's KDC signs alice in as alice@AD.EXAMPLE.TEST
and gets the same groups; user_filter (userPrincipalName=%p) finds
ADEXAMPLE\\alice by the UPN suffix taken from base_dn; an unknown user
gets no groups; the access log's groups_source is ldap; one search per
user (counters on the admin socket).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers

USERS = {"alice": "Passw0rd-alice", "bob": "B0b-Passw0rd",
    "svcproxy": "Svc-Pr0xy.Passw0rd"}
BASE = "DC=ad,DC=example,DC=test"
PROXY_NAME = "proxy.ad.example.test"


def ask(p, o, user, env=None):
	"""A signed-in request: NTLM as ADEXAMPLE\\user, or with env a
	Kerberos ticket; (status, groups or None, source, record)."""
	off = len(p.access_lines())
	if env is None:
		st = harness.curl(p, *nc.curl_ntlm_args(user, USERS.get(user,
		    "x"), domain="ADEXAMPLE"), o.url("/size/4")).status
	else:
		st = harness.curl_negotiate_status(p, PROXY_NAME,
		    o.url("/size/4"), env)
	rec = p.final_record(off)
	g = rec.get("groups")
	return st, (set(g) if g is not None else None), \
	    rec.get("groups_source"), rec


def main(t):
	dc = peers.start_ad_dc(t, USERS)
	if dc is None:
		return
	for g in ("Finance", "AllFinance", "Corp", "StaffAll"):
		dc.tool("group", "add", g)
	dc.tool("group", "addmembers", "Finance", "alice")
	dc.tool("group", "addmembers", "AllFinance", "Finance")
	dc.tool("group", "addmembers", "Corp", "AllFinance")
	dc.tool("group", "addmembers", "StaffAll", "Domain Users")
	# For Kerberos: the proxy's service account and its keytab.
	dc.tool("computer", "create", "PROXY",
	    "--service-principal-name=HTTP/" + PROXY_NAME)
	dc.tool("user", "setpassword", "PROXY$",
	    "--newpassword=Pr0xy-Acc0unt.Pw-1")
	kt = os.path.join(t.tmpdir, "http.keytab")
	dc.tool("domain", "exportkeytab", kt, "--principal=HTTP/" + PROXY_NAME)
	os.chmod(kt, 0o600)

	pw = t.secret_file("bind.pw", USERS["svcproxy"] + "\n")
	hashes = t.secret_file("ntlm.hashes", "".join(
	    "ADEXAMPLE\\%s:%s\n" % (u, nc.nt_hash(p).hex())
	    for u, p in USERS.items()) + "ADEXAMPLE\\nobody:%s\n" %
	    nc.nt_hash("x").hex())
	rc = os.path.join(t.tmpdir, "rcache")
	os.makedirs(rc, exist_ok=True)
	o = t.origin()

	def proxy(n, **ldap):
		sec = {"uri": ["ldap://%s" % dc.ip],
		    "bind_dn": "CN=svcproxy,CN=Users," + BASE,
		    "bind_password_file": pw, "base_dn": BASE,
		    "user_filter": "(sAMAccountName=%u)",
		    "group_mode": harness.Raw("ad"), "timeout": 5}
		sec.update(ldap)
		p = t.proxy(start=False, hostname=PROXY_NAME,
		    log_format=harness.Raw("json"),
		    admin_socket=os.path.join(t.tmpdir, "admin%d.sock" % n),
		    ntlm={"domain": "ADEXAMPLE",
		    "backend": harness.Raw("hashfile"), "hashfile": hashes},
		    negotiate={"keytab": kt}, ldap=sec,
		    **{'network "lo"': {"src": ["127.0.0.0/8"],
		    "auth": [harness.Raw("negotiate"), harness.Raw("ntlm")]}})
		p.prefix = ["/usr/bin/env", "KRB5RCACHEDIR=" + rc]
		p.start()
		return p

	p = proxy(1)
	st, g, src, rec = ask(p, o, "alice")
	t.eq(st, 200, "ad: alice signed in (NTLM) and served")
	t.eq(src, "ldap", "ad: groups_source ldap")
	t.check(g is not None and {"Finance", "AllFinance", "Corp"} <= g,
	    "ad: alice's nested groups (three levels, in-chain rule)",
	    "(%r)" % g)
	t.check(g is not None and "Domain Users" in g,
	    "ad: alice's primary group, Domain Users", "(%r)" % g)
	t.check(g is not None and {"StaffAll", "Users"} <= g,
	    "ad: the groups the primary group is nested in (StaffAll, "
	    "BUILTIN\\Users)", "(%r)" % g)
	st, g, src, rec = ask(p, o, "bob")
	t.eq((st, src), (200, "ldap"), "ad: bob")
	t.check(g is not None and "Domain Users" in g and "StaffAll" in g and
	    not g & {"Finance", "AllFinance", "Corp"},
	    "ad: bob: the primary group's, none of alice's", "(%r)" % g)
	st, g, src, rec = ask(p, o, "nobody")
	t.eq((st, g, src), (200, set(), "ldap"), "ad: a user the directory "
	    "does not know: no groups")
	for i in range(5):
		ask(p, o, "alice")
	s = p.admin_stats()
	t.eq((s.get("groups_searches"), s.get("groups_errors")), (3, 0),
	    "ad: one search per user, no error (referrals ignored)")

	# Kerberos from the DC's own KDC: alice@AD.EXAMPLE.TEST.
	try:
		env = dc.kinit("alice", USERS["alice"], t.tmpdir)
	except RuntimeError as e:
		env = None
		t.fail("kinit alice: %s" % e)
	if env is not None:
		st, g, src, rec = ask(p, o, "alice", env=env)
		t.eq((st, rec.get("user")), (200, "alice@" + dc.REALM),
		    "ad: a Kerberos ticket signs alice in as alice@%s" % dc.REALM)
		t.check(g is not None and {"Finance", "AllFinance", "Corp",
		    "Domain Users"} <= g, "ad: ... with the same groups",
		    "(%r)" % g)
	p.stop()

	# The UPN: %p of ADEXAMPLE\alice is alice@AD.EXAMPLE.TEST (base_dn).
	p = proxy(2, user_filter="(userPrincipalName=%p)")
	st, g, src, rec = ask(p, o, "alice")
	t.check(st == 200 and g is not None and {"Finance", "Domain Users"} <=
	    g, "ad: user_filter (userPrincipalName=%p) finds alice by UPN",
	    "(%r %r)" % (st, g))
	p.stop()
	for px in t.proxies:
		t.not_contains(px.errlog(), USERS["svcproxy"], "no bind password "
		    "in iaproxy%d's log" % px.n)


harness.run(main)
