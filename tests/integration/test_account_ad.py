#!/usr/bin/python3
"""Account actions (issue 9) against a real Active Directory: the Samba 4
AD DC of peers.AdDc (in a network namespace), a simple bind on port 389
as a service account, user_filter (sAMAccountName=%u), NTLM with the
hashfile backend (so that the gateway's own refusal shows: the DC is not
asked at sign-in) and group_mode ad.

Covered: a service account without write rights (a plain user):
`disable alice --directory` fails with "insufficient access" naming
userAccountControl, and changes nothing (the attribute read back as
Administrator, the gateway list, her live tunnel); with a writer (a
member of Domain Admins): userAccountControl 512 -> 514 (ACCOUNTDISABLE),
the DC refuses alice (ntlm_auth through its winbindd, and kinit), the
gateway answers her 403 "account disabled", her live tunnel ends and
bob's keeps working; `enable alice --directory` clears the bit, and both
the DC and the gateway let her in again; `reset-password bob` sets
pwdLastSet to 0 and ends bob's live tunnel; the actions are logged with
the caller's uid and the old and new values."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers
from harness import pattern

USERS = {"alice": "Passw0rd-alice", "bob": "B0b-Passw0rd",
    "svcproxy": "Svc-Pr0xy.Passw0rd", "svcwriter": "Svc-Wr1ter.Passw0rd"}
BASE = "DC=ad,DC=example,DC=test"
DOM = "ADEXAMPLE"


def ad_attr(dc, user, name):
	"""The values of name on user's entry, read as Administrator."""
	p = subprocess.run([peers.LDAPSEARCH, "-x", "-LLL", "-o",
	    "ldif-wrap=no", "-H", "ldap://" + dc.ip, "-D",
	    "CN=Administrator,CN=Users," + BASE, "-w", dc.ADMINPASS, "-b", BASE,
	    "(sAMAccountName=%s)" % user, name], stdout=subprocess.PIPE,
	    stderr=subprocess.STDOUT, timeout=30,
	    env=dict(os.environ, LDAPNOINIT="1"))
	out = p.stdout.decode(errors="replace")
	return [l.split(": ", 1)[1] for l in out.splitlines()
	    if l.lower().startswith(name.lower() + ": ")]


def kinit_ok(dc, user, tmpdir):
	try:
		dc.kinit(user, USERS[user], tmpdir)
		return True
	except RuntimeError:
		return False


def signin(t, p, user, url, what):
	return nc.signed_in(t, p.port, user, USERS[user], url,
	    "%s: %s signed in" % (what, user), domain=DOM)


def tunnel_ok(c, o, n):
	return nc.tunnel_ok(c, o.hostport, n)


def get_as(p, o, user, n):
	return harness.curl(p, *nc.curl_ntlm_args(user, USERS[user],
	    domain=DOM), o.url("/size/%d" % n))


def main(t):
	dc = peers.start_ad_dc(t, USERS)
	if dc is None:
		return
	dc.tool("group", "addmembers", "Domain Admins", "svcwriter")
	# winbindd answers before the DC's LDAP server does.
	t.check(harness.wait_for(lambda: ad_attr(dc, "alice",
	    "userAccountControl") != [], 60, interval=0.5), "ad: the DC's "
	    "LDAP server answers")
	rpw = t.secret_file("reader.pw", USERS["svcproxy"] + "\n")
	wpw = t.secret_file("writer.pw", USERS["svcwriter"] + "\n")
	hashes = t.secret_file("ntlm.hashes", "".join(
	    "%s\\%s:%s\n" % (DOM, u, nc.nt_hash(pw).hex())
	    for u, pw in USERS.items()))
	state = os.path.join(t.tmpdir, "state")
	o = t.origin()
	p = t.proxy(workers=2, connect_ports=[o.port],
	    admin_socket=os.path.join(t.tmpdir, "admin.sock"), state_dir=state,
	    ntlm={"domain": DOM, "backend": harness.Raw("hashfile"),
	    "hashfile": hashes},
	    ldap={"uri": ["ldap://%s" % dc.ip],
	    "bind_dn": "CN=svcproxy,CN=Users," + BASE,
	    "bind_password_file": rpw, "base_dn": BASE,
	    "user_filter": "(sAMAccountName=%u)",
	    "group_mode": harness.Raw("ad"), "timeout": 5},
	    **{'network "lo"': {"src": ["127.0.0.0/8"],
	    "auth": [harness.Raw("ntlm")]}})
	uac0 = ad_attr(dc, "alice", "userAccountControl")
	t.eq(uac0, ["512"], "ad: alice's userAccountControl is 512 (normal)")
	t.check(dc.check_password("alice", USERS["alice"]), "ad: the DC "
	    "accepts alice's password")

	# A service account without write rights: nothing changes.
	tun = signin(t, p, "alice", o.hostport, "read-only")
	rc, out, err = p.ctl("disable", "alice", "--directory")
	t.check(rc == 1 and "insufficient access" in err and
	    "userAccountControl" in err and "nothing was changed" in err,
	    "ad read-only: disable --directory refused, naming "
	    "userAccountControl", "(%d %r)" % (rc, err))
	t.eq(ad_attr(dc, "alice", "userAccountControl"), ["512"],
	    "ad read-only: userAccountControl unchanged")
	t.check(not os.path.exists(os.path.join(state, "disabled")),
	    "ad read-only: no gateway list written")
	t.check(tun is not None and tunnel_ok(tun, o, 11), "ad read-only: "
	    "alice's tunnel is left alone")
	rc, out, err = p.ctl("reset-password", "bob")
	t.check(rc == 1 and "insufficient access" in err and "pwdLastSet" in
	    err, "ad read-only: reset-password refused, naming pwdLastSet",
	    "(%d %r)" % (rc, err))
	if tun is not None:
		tun.close()

	# The writer.
	p.conf["ldap"]["bind_dn"] = "CN=svcwriter,CN=Users," + BASE
	p.conf["ldap"]["bind_password_file"] = wpw
	p.write_config()
	t.eq(p.admin("reload")[0], ["ok reloaded"], "ad: reload with the "
	    "writer account")
	tun_a = signin(t, p, "alice", o.hostport, "before disable")
	tun_b = signin(t, p, "bob", o.hostport, "before disable")
	off = len(p.errlog())
	rc, out, err = p.ctl("--json", "disable", "alice", "--directory")
	try:
		j = json.loads(out)
	except ValueError:
		j = {}
	t.check(rc == 0 and j.get("directory") == "ad" and
	    j.get("attribute") == "userAccountControl" and
	    (j.get("old"), j.get("new")) == ("512", "514") and
	    j.get("gateway") == "added" and j.get("closed") == 1,
	    "ad: disable alice --directory: userAccountControl 512 -> 514",
	    "(%d %r %r)" % (rc, out, err))
	t.eq(ad_attr(dc, "alice", "userAccountControl"), ["514"],
	    "ad: the ACCOUNTDISABLE bit is set in the directory")
	t.check(not dc.check_password("alice", USERS["alice"]), "ad: the DC "
	    "refuses alice now (ntlm_auth through winbindd)")
	t.check(not kinit_ok(dc, "alice", t.tmpdir), "ad: kinit alice fails")
	t.check(dc.check_password("bob", USERS["bob"]), "ad: the DC still "
	    "accepts bob")
	t.check(tun_a is not None and tun_a.closed(3), "ad: alice's live "
	    "tunnel ends")
	t.check(tun_b is not None and tunnel_ok(tun_b, o, 21), "ad: bob's "
	    "tunnel keeps working")
	r = get_as(p, o, "alice", 22)
	t.eq(r.status, 403, "ad: the gateway refuses alice (403)")
	t.contains(r.body.decode(errors="replace").lower(), "account disabled",
	    "ad: the page says account disabled")
	t.eq(get_as(p, o, "bob", 23).status, 200, "ad: bob signs in")
	t.check(harness.wait_for(lambda: ("account: disable alice by uid %d: "
	    "directory (ad) CN=alice,CN=Users,%s: userAccountControl 512 -> "
	    "514" % (os.getuid(), BASE)) in p.errlog()[off:], 3),
	    "ad: disable logged with the uid and the change",
	    "(%r)" % p.errlog()[off:][-600:])

	# enable: both let her in again.
	rc, out, err = p.ctl("enable", "alice", "--directory")
	t.check(rc == 0 and "userAccountControl: 514 -> 512" in out,
	    "ad: enable alice --directory: 514 -> 512", "(%r %r)" % (out, err))
	t.eq(ad_attr(dc, "alice", "userAccountControl"), ["512"],
	    "ad: the bit is cleared")
	t.check(dc.check_password("alice", USERS["alice"]), "ad: the DC "
	    "accepts alice again")
	t.check(kinit_ok(dc, "alice", t.tmpdir), "ad: kinit alice works again")
	r = get_as(p, o, "alice", 31)
	t.eq((r.status, r.body), (200, pattern(31)), "ad: the gateway lets "
	    "alice in again")

	# reset-password bob: pwdLastSet 0, his tunnel ends.
	off = len(p.errlog())
	rc, out, err = p.ctl("reset-password", "bob")
	t.check(rc == 0 and "pwdLastSet" in out, "ad: reset-password bob",
	    "(%r %r)" % (out, err))
	t.eq(ad_attr(dc, "bob", "pwdLastSet"), ["0"], "ad: pwdLastSet is 0")
	t.check(tun_b is not None and tun_b.closed(3), "ad: bob's live "
	    "tunnel ends")
	t.check(harness.wait_for(lambda: ("account: reset-password bob by uid "
	    "%d: directory (ad) CN=bob,CN=Users,%s: pwdLastSet " %
	    (os.getuid(), BASE)) in p.errlog()[off:], 3), "ad: reset-password "
	    "logged with the uid and the change",
	    "(%r)" % p.errlog()[off:][-600:])
	for c in (tun_a, tun_b):
		if c is not None:
			c.close()
	for pw in (USERS["svcproxy"], USERS["svcwriter"]):
		t.not_contains(p.errlog(), pw, "no bind password in the log")
	t.check(p.alive(), "proxy alive at the end")


harness.run(main)
