#!/usr/bin/python3
"""Account actions (issue 9) against a real OpenLDAP slapd with the
ppolicy overlay (peers.PpolicySlapd): NTLM sign-in with the ldap backend
(sambaNTPassword), an admin socket, iaproxyctl.

Covered: a service account without write rights: `disable alice
--directory` and `reset-password bob` fail with "insufficient access"
and change nothing (not the directory, not the gateway list, not the
live tunnels); with the writer account: `disable alice --directory`
locks her in the directory (pwdAccountLockedTime 000001010000Z, her
ldapwhoami fails) and at the gateway (403 "account disabled" on her next
sign-in, "refused: account disabled" in the log), ends her live tunnel
while bob's keeps working and bob signs in; the list is a file in
state_dir (made 0700) and survives a restart of the gateway; `enable
alice --directory` restores both; `reset-password bob` sets pwdReset
TRUE (read back as the rootdn) and ends bob's live tunnel; a temporary
ppolicy lockout becomes the permanent lock (delete and add in one
modify) and enable removes it; a gateway-only
disable (no --directory) leaves the directory alone and covers
EXAMPLE\\name; every action is logged with the caller's uid and the
attribute's old and new values; iaproxyctl's text, --json and usage
errors."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers
from harness import pattern

USERS = {"alice": "Secret123", "bob": "B0b-pass!", "carol": "C4rol-pw",
    "dave": "D4ve-pw"}
LOCKED = "000001010000Z"


def signin(t, p, user, url, what):
	"""A RawConn with user signed in on url (nc.signed_in), or None."""
	return nc.signed_in(t, p.port, user, USERS[user], url,
	    "%s: %s signed in" % (what, user))


def tunnel_ok(c, o, n):
	return nc.tunnel_ok(c, o.hostport, n)


def get_as(p, o, user, n):
	"""curl --proxy-ntlm GET /size/n as user: the CurlResult."""
	return harness.curl(p, *nc.curl_ntlm_args(user, USERS[user]),
	    o.url("/size/%d" % n))


def list_file(state):
	try:
		with open(os.path.join(state, "disabled")) as f:
			return [l.strip() for l in f if l.strip() and
			    not l.startswith("#")]
	except FileNotFoundError:
		return None


def make_proxy(t, s, o, state, pwfile, writer):
	ldap = {"uri": [s.uri], "bind_dn": peers.WRITER_DN if writer else
	    peers.PROXY_DN, "bind_password_file": pwfile,
	    "base_dn": peers.SUFFIX, "user_filter": "(uid=%u)", "timeout": 3}
	return t.proxy(start=False, workers=2, connect_ports=[o.port],
	    admin_socket=os.path.join(t.tmpdir, "admin.sock"), state_dir=state,
	    ntlm={"domain": "EXAMPLE", "backend": harness.Raw("ldap")},
	    ldap=ldap, **{'network "lo"': {"src": ["127.0.0.0/8"],
	    "auth": [harness.Raw("ntlm")]}})


def fixture_checks(t, s):
	rc, out = s.whoami("alice")
	t.check(rc == 0 and "uid=alice" in out, "slapd: alice binds",
	    "(%d %r)" % (rc, out))
	t.eq(s.attr("alice", "pwdAccountLockedTime"), [], "slapd: alice is "
	    "not locked")
	# The reader may not write; the writer may (checked by the proxy).
	rc, out = s.search("(uid=alice)", ["sambaNTPassword"], peers.WRITER_DN,
	    peers.WRITER_PW)
	t.check(rc == 0 and "sambaNTPassword" in out, "slapd: the writer "
	    "reads the NT hash", "(%r)" % out[-200:])


def readonly_checks(t, s, p, o, state):
	"""The reader account: the directory refuses, nothing changes."""
	tun = signin(t, p, "alice", o.hostport, "read-only")
	off = len(p.errlog())
	rc, out, err = p.ctl("disable", "alice", "--directory")
	t.eq(rc, 1, "read-only: disable --directory exits 1")
	t.contains(err, "insufficient access", "read-only: disable says "
	    "insufficient access")
	t.contains(err, "needs write rights on pwdAccountLockedTime",
	    "read-only: and which right is missing")
	t.contains(err, "nothing was changed", "read-only: and that nothing "
	    "changed")
	t.eq(s.attr("alice", "pwdAccountLockedTime"), [], "read-only: the "
	    "directory is unchanged")
	t.eq(list_file(state), None, "read-only: no gateway list was written")
	r = get_as(p, o, "alice", 21)
	t.eq(r.status, 200, "read-only: alice still signs in at the gateway")
	t.check(tun is not None and tunnel_ok(tun, o, 22), "read-only: "
	    "alice's live tunnel is left alone")
	rc, out, err = p.ctl("reset-password", "bob")
	t.check(rc == 1 and "insufficient access" in err and "pwdReset" in err,
	    "read-only: reset-password bob refused, naming pwdReset",
	    "(%d %r)" % (rc, err))
	t.eq(s.attr("bob", "pwdReset"), [], "read-only: pwdReset unchanged")
	t.check(harness.wait_for(lambda: "account: disable alice by uid %d "
	    "failed" % os.getuid() in p.errlog()[off:], 3), "read-only: the "
	    "failure is logged with the uid", "(%r)" % p.errlog()[off:][-600:])
	if tun is not None:
		tun.close()


def disable_checks(t, s, p, o, state):
	ka = signin(t, p, "alice", o.url("/size/5"), "before disable")
	tun_a = signin(t, p, "alice", o.hostport, "before disable")
	tun_b = signin(t, p, "bob", o.hostport, "before disable")
	if None in (ka, tun_a, tun_b):
		return None
	t.check(tunnel_ok(tun_a, o, 31) and tunnel_ok(tun_b, o, 32),
	    "both tunnels carry requests")
	off = len(p.errlog())
	rc, out, err = p.ctl("disable", "alice", "--directory")
	t.eq(rc, 0, "disable alice --directory: exit 0")
	t.contains(out, "alice disabled in the directory and at the gateway",
	    "iaproxyctl disable: says what")
	t.contains(out, "pwdAccountLockedTime: - -> " + LOCKED,
	    "iaproxyctl disable: the attribute, old and new")
	# The directory.
	t.eq(s.attr("alice", "pwdAccountLockedTime"), [LOCKED],
	    "directory: pwdAccountLockedTime is the permanent lock")
	rc2, w = s.whoami("alice")
	t.check(rc2 != 0, "directory: alice's bind now fails (ppolicy lock)",
	    "(%d %r)" % (rc2, w))
	rc2, w = s.whoami("bob")
	t.eq(rc2, 0, "directory: bob still binds")
	# Her live connections end; bob's tunnel goes on.
	t.check(ka.closed(3), "disable: alice's keep-alive connection ends")
	t.check(tun_a.closed(3), "disable: alice's live tunnel ends")
	t.check(tunnel_ok(tun_b, o, 33), "disable: bob's tunnel keeps working")
	# The gateway refuses her next sign-in with a clear page.
	r = get_as(p, o, "alice", 34)
	t.eq(r.status, 403, "gateway: alice's next sign-in gets a 403")
	t.contains(r.body.decode(errors="replace").lower(), "account disabled",
	    "gateway: the page says account disabled")
	t.check(harness.wait_for(lambda: "refused: account disabled" in
	    p.errlog()[off:], 3), "gateway: logged 'refused: account "
	    "disabled'")
	c = harness.RawConn(p.port)
	cl = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
	x = nc.handshake(c, o.url("/size/35"), cl)
	cl.close()
	t.eq(x.status, 403, "gateway: a raw NTLM handshake as alice ends in "
	    "403")
	t.check(c.closed(3), "gateway: the refused connection is closed")
	c.close()
	r = get_as(p, o, "bob", 36)
	t.eq((r.status, r.body), (200, pattern(36)), "gateway: bob unaffected")
	# The list file.
	t.eq(list_file(state), ["alice"], "state_dir/disabled lists alice")
	t.eq(os.stat(state).st_mode & 0o777, 0o700, "state_dir made 0700")
	t.check(harness.wait_for(lambda: ("account: disable alice by uid %d: "
	    "directory (openldap) uid=alice,ou=people,%s: pwdAccountLockedTime "
	    "- -> %s" % (os.getuid(), peers.SUFFIX, LOCKED)) in
	    p.errlog()[off:], 3), "disable is logged with the uid and the "
	    "change", "(%r)" % p.errlog()[off:][-800:])
	t.contains(p.errlog()[off:], "gateway list: added", "the log says the "
	    "gateway list changed")
	# Again: already so, still ok.
	rc, out, err = p.ctl("--json", "disable", "alice", "--directory")
	try:
		j = json.loads(out)
	except ValueError:
		j = {}
	t.check(rc == 0 and j.get("ok") is True and j.get("gateway") ==
	    "already" and j.get("directory") == "openldap" and
	    j.get("closed") == 0 and "attribute" not in j,
	    "iaproxyctl --json disable again: already so", "(%r)" % out)
	ka.close()
	tun_a.close()
	return tun_b


def restart_checks(t, s, p, o, state):
	p.stop()
	# A hand-edited file: a bad line is skipped (and said), not fatal.
	with open(os.path.join(state, "disabled"), "a") as f:
		f.write("not a name\n")
	p.start()
	t.contains(p.errlog(), "disabled:4: not a user name, skipped",
	    "after a restart: a bad line of the list is logged and skipped")
	r = get_as(p, o, "alice", 41)
	t.eq(r.status, 403, "after a restart: alice is still refused")
	t.contains(p.errlog(), "1 disabled account", "after a restart: the "
	    "list was loaded")
	r = get_as(p, o, "bob", 42)
	t.eq(r.status, 200, "after a restart: bob signs in")


def enable_checks(t, s, p, o, state):
	off = len(p.errlog())
	rc, out, err = p.ctl("enable", "alice", "--directory")
	t.eq(rc, 0, "enable alice --directory: exit 0")
	t.contains(out, "pwdAccountLockedTime: %s -> -" % LOCKED,
	    "iaproxyctl enable: the attribute, old and new")
	t.eq(s.attr("alice", "pwdAccountLockedTime"), [], "enable: the lock "
	    "is gone from the directory")
	rc2, w = s.whoami("alice")
	t.eq(rc2, 0, "enable: alice binds to the directory again")
	r = get_as(p, o, "alice", 51)
	t.eq((r.status, r.body), (200, pattern(51)), "enable: alice signs in "
	    "at the gateway again")
	t.eq(list_file(state), [], "enable: the list file is empty")
	t.check(harness.wait_for(lambda: ("account: enable alice by uid %d: "
	    "directory (openldap) uid=alice,ou=people,%s: pwdAccountLockedTime "
	    "%s -> -" % (os.getuid(), peers.SUFFIX, LOCKED)) in
	    p.errlog()[off:], 3), "enable is logged with the uid and the "
	    "change", "(%r)" % p.errlog()[off:][-800:])


def reset_checks(t, s, p, o):
	tun_b = signin(t, p, "bob", o.hostport, "before reset")
	tun_a = signin(t, p, "alice", o.hostport, "before reset")
	if None in (tun_a, tun_b):
		return
	off = len(p.errlog())
	rc, out, err = p.ctl("--json", "reset-password", "bob")
	try:
		j = json.loads(out)
	except ValueError:
		j = {}
	t.check(rc == 0 and j.get("ok") is True and j.get("attribute") ==
	    "pwdReset" and j.get("new") == "TRUE" and j.get("closed") == 1 and
	    j.get("user") == "bob", "iaproxyctl --json reset-password bob",
	    "(%r %r)" % (out, err))
	t.eq(s.attr("bob", "pwdReset"), ["TRUE"], "reset-password: pwdReset "
	    "TRUE in the directory (read as the rootdn)")
	t.check(tun_b.closed(3), "reset-password: bob's live tunnel ends")
	t.check(tunnel_ok(tun_a, o, 61), "reset-password: alice's tunnel "
	    "keeps working")
	t.check(harness.wait_for(lambda: ("account: reset-password bob by uid "
	    "%d: directory (openldap) uid=bob,ou=people,%s: pwdReset - -> "
	    "TRUE" % (os.getuid(), peers.SUFFIX)) in p.errlog()[off:], 3),
	    "reset-password is logged with the uid and the change",
	    "(%r)" % p.errlog()[off:][-800:])
	tun_a.close()
	tun_b.close()


def gateway_only_checks(t, s, p, o, state):
	"""disable without --directory; a bare name covers EXAMPLE\\carol."""
	rc, out, err = p.ctl("--json", "disable", "carol")
	try:
		j = json.loads(out)
	except ValueError:
		j = {}
	t.check(rc == 0 and j.get("directory") == "none" and
	    j.get("gateway") == "added", "iaproxyctl --json disable carol "
	    "(gateway only)", "(%r)" % out)
	rc2, w = s.whoami("carol")
	t.eq(rc2, 0, "gateway only: the directory is left alone")
	r = get_as(p, o, "carol", 71)
	t.eq(r.status, 403, "gateway only: EXAMPLE\\carol refused")
	t.eq(list_file(state), ["carol"], "gateway only: the list file")
	rc, out, err = p.ctl("enable", "EXAMPLE\\carol")
	t.eq(rc, 0, "enable EXAMPLE\\carol lifts the bare entry")
	r = get_as(p, o, "carol", 72)
	t.eq(r.status, 200, "gateway only: carol signs in again")
	# Usage errors and the protocol's own.
	for args in (["disable"], ["enable"], ["reset-password"],
	    ["reset-password", "bob", "--directory"],
	    ["disable", "alice", "--frobnicate"], ["disable", "a", "b"]):
		rc, out, err = p.ctl(*args)
		t.eq(rc, 2, "iaproxyctl %s: usage, exit 2" % " ".join(args))
	a = p.admin("disable", "disable alice --nope", "disable *",
	    "reset-password bob --directory")
	t.check(len(a) == 4 and all(x[-1].startswith("error") for x in a),
	    "admin socket: malformed account commands are errors", "(%r)" % a)
	a = p.admin("help")[0]
	t.check(any(l.startswith("disable USER") for l in a) and
	    any(l.startswith("reset-password USER") for l in a),
	    "help lists disable and reset-password", "(%r)" % a)
	rc, out, err = p.ctl("disable", "nobody-here", "--directory")
	t.check(rc == 1 and "no such user in the directory" in err and
	    list_file(state) == [], "disable --directory of an unknown user: "
	    "an error, the list unchanged", "(%d %r)" % (rc, err))


def lockout_checks(t, s, p):
	"""A temporary ppolicy lockout (pwdMaxFailure bad binds) becomes the
	permanent lock: the old value is deleted and the new one added in
	one modify; enable removes it."""
	for _ in range(6):
		s.whoami("dave", "wrong-password")
	old = s.attr("dave", "pwdAccountLockedTime")
	t.check(len(old) == 1 and old[0] != LOCKED, "slapd: dave is locked "
	    "out for a while after bad binds", "(%r)" % old)
	rc, out, err = p.ctl("--json", "disable", "dave", "--directory")
	try:
		j = json.loads(out)
	except ValueError:
		j = {}
	t.check(rc == 0 and old and j.get("old") == old[0] and
	    j.get("new") == LOCKED, "disable dave: the temporary lock "
	    "becomes the permanent one", "(%r %r)" % (out, err))
	t.eq(s.attr("dave", "pwdAccountLockedTime"), [LOCKED], "directory: "
	    "dave's lock is permanent")
	rc, out, err = p.ctl("enable", "dave", "--directory")
	t.eq((rc, s.attr("dave", "pwdAccountLockedTime")), (0, []),
	    "enable dave: no lock left")
	rc, w = s.whoami("dave")
	t.eq(rc, 0, "directory: dave binds again")


def main(t):
	why = peers.available()
	if why is not None:
		t.log("slapd tests skipped: " + why)
		t.check(True, "skipped: " + why)
		return
	s = peers.PpolicySlapd(t, memberof=False)
	for u, pw in USERS.items():
		s.add_user(u, nthash_hex=nc.nt_hash(pw).hex())
	s.start()
	fixture_checks(t, s)
	o = t.origin()
	state = os.path.join(t.tmpdir, "state")
	rpw = t.secret_file("reader.pw", peers.PROXY_PW)
	wpw = t.secret_file("writer.pw", peers.WRITER_PW)
	p = make_proxy(t, s, o, state, rpw, writer=False)
	p.start()
	r = get_as(p, o, "alice", 11)
	t.eq((r.status, r.body), (200, pattern(11)), "alice signs in (ldap "
	    "backend)")
	readonly_checks(t, s, p, o, state)
	# The writer account, by a reload.
	p.conf["ldap"]["bind_dn"] = peers.WRITER_DN
	p.conf["ldap"]["bind_password_file"] = wpw
	p.write_config()
	t.eq(p.admin("reload")[0], ["ok reloaded"], "reload with the writer "
	    "account")
	tun_b = disable_checks(t, s, p, o, state)
	if tun_b is not None:
		tun_b.close()
	restart_checks(t, s, p, o, state)
	enable_checks(t, s, p, o, state)
	reset_checks(t, s, p, o)
	gateway_only_checks(t, s, p, o, state)
	lockout_checks(t, s, p)
	t.not_contains(p.errlog(), peers.WRITER_PW, "no password in the log")
	t.check(p.alive(), "proxy alive at the end")


harness.run(main)
