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

import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers

USERS = {"alice": "Passw0rd-alice", "bob": "B0b-Passw0rd",
    "svcproxy": "Svc-Pr0xy.Passw0rd"}
BASE = "DC=ad,DC=example,DC=test"
PROXY_NAME = "proxy.ad.example.test"
SAMBA_TOOL = "/usr/bin/samba-tool"
KINIT = "/usr/bin/kinit"


def tool(dc, *args):
	p = subprocess.run([SAMBA_TOOL] + list(args) + ["-s", dc.smbconf],
	    capture_output=True, text=True, timeout=120)
	if p.returncode != 0:
		raise RuntimeError("samba-tool %s: %s" % (" ".join(args),
		    (p.stdout + p.stderr)[-1500:]))
	return p.stdout


def secret_file(t, name, text):
	path = os.path.join(t.tmpdir, name)
	fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
	with os.fdopen(fd, "w") as f:
		f.write(text)
	return path


def final_record(p, off, timeout=5.0):
	def get():
		for l in p.access_lines()[off:]:
			try:
				r = json.loads(l)
			except ValueError:
				continue
			if r.get("status") != 407:
				return r
		return None
	return harness.wait_for(get, timeout) or {}


def ask(p, o, user, env=None):
	"""A signed-in request: NTLM as ADEXAMPLE\\user, or with env a
	Kerberos ticket; (status, groups or None, source, record)."""
	off = len(p.access_lines())
	if env is None:
		st = harness.curl(p, *nc.curl_ntlm_args(user, USERS.get(user,
		    "x"), domain="ADEXAMPLE"), o.url("/size/4")).status
	else:
		argv = [harness.CURL, "--noproxy", "", "-sS", "-o", "/dev/null",
		    "-w", "%{http_code}", "--proxy-negotiate", "-U", ":",
		    "--resolve", "%s:%d:127.0.0.1" % (PROXY_NAME, p.port),
		    "-x", "http://%s:%d" % (PROXY_NAME, p.port), o.url("/size/4")]
		r = subprocess.run(argv, capture_output=True, text=True,
		    env=env, timeout=60)
		st = int(r.stdout.strip() or 0)
	rec = final_record(p, off)
	g = rec.get("groups")
	return st, (set(g) if g is not None else None), \
	    rec.get("groups_source"), rec


def client_env(t, dc, user):
	"""A krb5.conf naming the DC's KDC, and a ccache with user's TGT."""
	conf = os.path.join(t.tmpdir, "krb5-ad.conf")
	with open(conf, "w") as f:
		f.write("[libdefaults]\n default_realm = %s\n"
		    " dns_lookup_kdc = false\n dns_lookup_realm = false\n"
		    " dns_canonicalize_hostname = false\n rdns = false\n"
		    "[realms]\n %s = {\n  kdc = %s\n }\n" % (dc.REALM, dc.REALM,
		    dc.ip))
	env = dict(os.environ)
	env["KRB5_CONFIG"] = conf
	env["KRB5CCNAME"] = "FILE:" + os.path.join(t.tmpdir, "cc-" + user)
	p = subprocess.run([KINIT, "%s@%s" % (user, dc.REALM)],
	    input=USERS[user] + "\n", capture_output=True, text=True, env=env,
	    timeout=30)
	if p.returncode != 0:
		raise RuntimeError("kinit %s: %s" % (user, p.stderr))
	return env


def admin_stats(path):
	c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	c.settimeout(5)
	c.connect(path)
	c.sendall(b"stats\nquit\n")
	buf = b""
	while not buf.endswith(b"ok bye\n"):
		d = c.recv(65536)
		if not d:
			break
		buf += d
	c.close()
	out = {}
	for l in buf.decode().splitlines():
		k, _, v = l.partition(" ")
		if v.isdigit():
			out[k] = int(v)
	return out


def main(t):
	why = peers.ad_dc_available()
	if why is not None:
		t.check(False, "an AD DC can run here", "(%s)" % why)
		return
	dc = peers.AdDc(t, USERS)
	dc.start()
	sys.stdout.write("# AD DC: provision %.1f s, ready %.1f s\n" %
	    (dc.timings["provision"], dc.timings["start"]))
	for g in ("Finance", "AllFinance", "Corp", "StaffAll"):
		tool(dc, "group", "add", g)
	tool(dc, "group", "addmembers", "Finance", "alice")
	tool(dc, "group", "addmembers", "AllFinance", "Finance")
	tool(dc, "group", "addmembers", "Corp", "AllFinance")
	tool(dc, "group", "addmembers", "StaffAll", "Domain Users")
	# For Kerberos: the proxy's service account and its keytab.
	tool(dc, "computer", "create", "PROXY",
	    "--service-principal-name=HTTP/" + PROXY_NAME)
	tool(dc, "user", "setpassword", "PROXY$",
	    "--newpassword=Pr0xy-Acc0unt.Pw-1")
	kt = os.path.join(t.tmpdir, "http.keytab")
	tool(dc, "domain", "exportkeytab", kt, "--principal=HTTP/" + PROXY_NAME)
	os.chmod(kt, 0o600)

	pw = secret_file(t, "bind.pw", USERS["svcproxy"] + "\n")
	hashes = secret_file(t, "ntlm.hashes", "".join(
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
	s = admin_stats(os.path.join(t.tmpdir, "admin1.sock"))
	t.eq((s.get("groups_searches"), s.get("groups_errors")), (3, 0),
	    "ad: one search per user, no error (referrals ignored)")

	# Kerberos from the DC's own KDC: alice@AD.EXAMPLE.TEST.
	try:
		env = client_env(t, dc, "alice")
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
