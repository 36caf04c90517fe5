#!/usr/bin/python3
"""The admin socket and iaproxyctl: status (its fields), reload (ok, and a
broken file answered with FILE:LINE while the old config stays), sessions
(signed-in NTLM users, all and one user's), signout (alice's keep-alive
connection and live CONNECT tunnel end at once, bob's tunnel goes on, the
action is logged with the caller's uid), iaproxyctl's text and --json
output and exit codes, the socket's mode and that the admin protocol is
not spoken on the proxy port."""

import json
import os
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
from harness import pattern

USERS = {"alice": "Secret123", "bob": "B0b-pass!"}


def signin(t, p, o, user, url, what):
	"""A RawConn with user signed in on url (nc.signed_in), or None."""
	return nc.signed_in(t, p.port, user, USERS[user], url,
	    "%s: %s signed in" % (what, user))


def tunnel_get(c, o, n):
	"""GET /size/n through an established tunnel c: the Response."""
	c.send("GET /size/%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (n, o.hostport))
	return c.response()


def sessions(p, user=None):
	"""The admin socket's sessions: (lines as field lists, last line)."""
	a = p.admin("sessions" + (" " + user if user else ""))[0]
	return [l.split("\t") for l in a[:-1]], a[-1]


def status(p):
	a = p.admin("status")[0]
	return dict(l.split(" ", 1) for l in a[:-1]), a[-1]


def status_checks(t, p):
	st, last = status(p)
	t.eq(last, "ok", "status: ok")
	t.check(st.get("version", "") != "", "status: version", "(%r)" % st)
	t.check(st.get("uptime", "x").isdigit() and int(st["uptime"]) < 600,
	    "status: uptime in seconds", "(%r)" % st)
	t.eq(st.get("workers"), "2", "status: workers")
	t.check(st.get("connections", "x").isdigit(), "status: connections",
	    "(%r)" % st)
	t.eq(st.get("config"), p.conf_path, "status: config file")
	t.check(abs(int(st.get("loaded", "0")) - time.time()) < 600,
	    "status: loaded (epoch)", "(%r)" % st)
	# Open client connections are counted across the workers.
	cs = [harness.RawConn(p.port) for _ in range(3)]
	for c in cs:
		c.send("GET /proxy.pac HTTP/1.1\r\nHost: x\r\n\r\n")
		c.response()
	st2, _ = status(p)
	t.check(int(st2.get("connections", 0)) >= 3, "status: connections "
	    "counts open keep-alive connections", "(%r)" % st2)
	for c in cs:
		c.close()

	# iaproxyctl: text and --json.
	rc, out, err = p.ctl("status")
	t.eq(rc, 0, "iaproxyctl status: exit 0")
	t.contains(out, p.conf_path, "iaproxyctl status names the config")
	t.check("workers" in out and "uptime" in out, "iaproxyctl status: "
	    "text", "(%r)" % out)
	rc, out, err = p.ctl("--json", "status")
	try:
		j = json.loads(out)
	except ValueError:
		j = {}
	t.eq(rc, 0, "iaproxyctl --json status: exit 0")
	t.check((j.get("workers"), j.get("config")) == (2, p.conf_path),
	    "iaproxyctl --json status: an object", "(%r)" % out)
	t.check(isinstance(j.get("uptime"), int) and
	    isinstance(j.get("loaded"), int) and "version" in j,
	    "iaproxyctl --json status: numbers are numbers", "(%r)" % out)


def socket_checks(t, p):
	mode = os.stat(p.conf["admin_socket"]).st_mode
	t.check(stat.S_ISSOCK(mode), "admin socket is a socket")
	t.eq(mode & 0o777, 0o600, "admin socket mode 0600")
	for cmd in ("status", "signout alice", "sessions"):
		r, c = harness.raw_request(p.port, cmd + "\r\n\r\n")
		t.check(r is None or r.status == 400, "admin: '%s' on the proxy "
		    "port is just a bad request" % cmd, "(%r)" % r)
		c.close()


def ctl_usage_checks(t, p):
	for args in ([], ["frobnicate"], ["signout"], ["sessions", "--user"],
	    ["status", "extra"], ["-x", "status"]):
		rc, out, err = p.ctl(*args)
		t.eq(rc, 2, "iaproxyctl %s: usage, exit 2" % " ".join(args))
	r = harness.subprocess.run([harness.IAPROXYCTL, "-s", os.path.join(
	    t.tmpdir, "nothing.sock"), "status"], stdout=harness.subprocess.PIPE,
	    stderr=harness.subprocess.PIPE, timeout=10)
	t.eq(r.returncode, 1, "iaproxyctl: no socket, exit 1")
	t.contains(r.stderr.decode(), "nothing.sock", "iaproxyctl: no socket "
	    "names it")


def session_checks(t, p, o):
	lines, last = sessions(p)
	t.eq((lines, last), ([], "ok 0"), "sessions: none before a sign-in")
	ka = signin(t, p, o, "alice", o.url("/size/3"), "keep-alive")
	tun_a = signin(t, p, o, "alice", o.hostport, "tunnel")
	tun_b = signin(t, p, o, "bob", o.hostport, "tunnel")
	if None in (ka, tun_a, tun_b):
		return
	r = tunnel_get(tun_a, o, 11)
	t.eq(r and (r.status, r.body), (200, pattern(11)), "alice's tunnel "
	    "carries a request")
	r = tunnel_get(tun_b, o, 12)
	t.eq(r and (r.status, r.body), (200, pattern(12)), "bob's tunnel "
	    "carries a request")

	lines, last = sessions(p)
	t.eq(last, "ok 3", "sessions: three signed-in connections")
	users = sorted(l[0] for l in lines)
	t.eq(users, ["EXAMPLE\\alice", "EXAMPLE\\alice", "EXAMPLE\\bob"],
	    "sessions: the users")
	t.check(all(len(l) == 7 and l[1] == "ntlm" and l[2] == "127.0.0.1" and
	    abs(int(l[3]) - time.time()) < 120 for l in lines),
	    "sessions: mechanism, client, since", "(%r)" % lines)
	t.check(all(int(l[4]) > 0 and int(l[5]) > 0 for l in lines),
	    "sessions: bytes in and out so far (live tunnels too)",
	    "(%r)" % lines)
	tl = [l for l in lines if l[0] == "EXAMPLE\\bob"]
	t.check(tl and int(tl[0][5]) >= 12, "sessions: a live tunnel's "
	    "bytes count", "(%r)" % tl)
	lines, last = sessions(p, "alice")
	t.eq((sorted(l[0] for l in lines), last), (["EXAMPLE\\alice"] * 2,
	    "ok 2"), "sessions alice: a bare name matches EXAMPLE\\alice")
	lines, last = sessions(p, "example\\BOB")
	t.eq(([l[0] for l in lines], last), (["EXAMPLE\\bob"], "ok 1"),
	    "sessions EXAMPLE\\bob: case-insensitive")
	lines, last = sessions(p, "carol")
	t.eq((lines, last), ([], "ok 0"), "sessions carol: none")

	# iaproxyctl sessions: text and --json, with --user.
	rc, out, err = p.ctl("sessions")
	t.eq(rc, 0, "iaproxyctl sessions: exit 0")
	t.check(out.count("EXAMPLE\\alice") == 2 and "EXAMPLE\\bob" in out and
	    "ntlm" in out and "USER" in out, "iaproxyctl sessions: a table",
	    "(%r)" % out)
	rc, out, err = p.ctl("--json", "sessions", "--user", "alice")
	try:
		j = json.loads(out)
	except ValueError:
		j = None
	t.check(isinstance(j, list) and len(j) == 2 and all(
	    s["user"] == "EXAMPLE\\alice" and s["mechanism"] == "ntlm" and
	    s["client"] == "127.0.0.1" and isinstance(s["since"], int) and
	    s["bytes_in"] > 0 and s["bytes_out"] > 0 for s in j),
	    "iaproxyctl --json sessions --user alice: an array of objects",
	    "(%r)" % out)
	rc, out, err = p.ctl("--json", "sessions")
	try:
		j = json.loads(out)
	except ValueError:
		j = None
	t.check(isinstance(j, list) and len(j) == 3, "iaproxyctl --json "
	    "sessions: all three", "(%r)" % out)

	# signout alice: both of hers end at once; bob's tunnel goes on.
	off = len(p.errlog())
	rc, out, err = p.ctl("signout", "alice")
	t.check(rc == 0, "iaproxyctl signout alice: exit 0", "(%r)" % err)
	t.contains(out, "2 connections closed", "iaproxyctl signout: says how "
	    "many")
	t.check(ka.closed(3), "signout: alice's keep-alive connection ends")
	t.check(tun_a.closed(3), "signout: alice's CONNECT tunnel ends (the "
	    "client sees the connection end)")
	r = tunnel_get(tun_b, o, 13)
	t.eq(r and (r.status, r.body), (200, pattern(13)), "signout: bob's "
	    "tunnel stays open and keeps working")
	# The ended tunnel's line counts its payload (a response of 11
	# bytes and its head went down it), as a tunnel that ends by itself.
	def alice_tunnel():
		for l in p.access_lines():
			f = l.split()
			if len(f) >= 8 and f[5] == "CONNECT" and \
			    f[7] == "EXAMPLE\\alice" and f[3].endswith("/200"):
				return f
		return None
	f = harness.wait_for(alice_tunnel, 3)
	t.check(f is not None and int(f[4]) > 39 + 11 + 30, "signout: the "
	    "closed tunnel's access-log line counts its payload bytes",
	    "(%r)" % f)
	lines, last = sessions(p)
	t.eq(([l[0] for l in lines], last), (["EXAMPLE\\bob"], "ok 1"),
	    "sessions after signout: only bob")
	t.check(harness.wait_for(lambda: "admin: signout alice by uid %d" %
	    os.getuid() in p.errlog()[off:], 3), "signout is logged with the "
	    "caller's uid", "(%r)" % p.errlog()[off:][-800:])
	t.check("2 connections closed" in p.errlog()[off:], "signout log "
	    "says what changed")
	rc, out, err = p.ctl("--json", "signout", "alice")
	try:
		j = json.loads(out)
	except ValueError:
		j = {}
	t.check((rc, j.get("closed"), j.get("user")) == (0, 0, "alice"),
	    "iaproxyctl --json signout again: nothing left", "(%r)" % out)
	a = p.admin("signout", "signout *")
	t.check(a[0][-1].startswith("error") and a[1][-1].startswith("error"),
	    "signout without a user or with * is an error", "(%r)" % a)
	# She signs in again on the next connection.
	again = signin(t, p, o, "alice", o.url("/size/4"), "after signout")
	if again is not None:
		again.close()
	ka.close()
	tun_a.close()
	return tun_b


def reload_checks(t, p, o, tun_b):
	st0, _ = status(p)
	time.sleep(1.1)
	good = p.write_config()
	a = p.admin("reload")[0]
	t.eq(a, ["ok reloaded"], "reload: ok")
	st1, _ = status(p)
	t.check(int(st1["loaded"]) > int(st0["loaded"]), "reload: status "
	    "shows the new load time", "(%r %r)" % (st0, st1))
	t.check("admin: reload by uid %d" % os.getuid() in p.errlog(),
	    "reload is logged with the caller's uid")
	rc, out, err = p.ctl("reload")
	t.eq((rc, out.strip()), (0, "reloaded"), "iaproxyctl reload: exit 0")

	# A broken file: FILE:LINE in the answer; the old config stays.
	bad_line = good.count("\n") + 2
	p.write_config(text=good + "\nno_such_option = 1\n")
	st1, _ = status(p)
	a = p.admin("reload")[0]
	t.check(a[-1].startswith("error"), "reload of a broken file: error",
	    "(%r)" % a)
	t.check(any(l.startswith("%s:%d:" % (p.conf_path, bad_line))
	    for l in a[:-1]), "reload: the answer names FILE:LINE", "(%r)" % a)
	rc, out, err = p.ctl("reload")
	t.eq(rc, 1, "iaproxyctl reload of a broken file: exit 1")
	t.contains(err, "%s:%d:" % (p.conf_path, bad_line), "iaproxyctl "
	    "reload prints FILE:LINE")
	rc, out, err = p.ctl("--json", "reload")
	try:
		j = json.loads(out)
	except ValueError:
		j = {}
	t.check(rc == 1 and j.get("ok") is False and any("%s:%d:" %
	    (p.conf_path, bad_line) in d for d in j.get("details", [])),
	    "iaproxyctl --json reload: the errors", "(%r)" % out)
	st2, _ = status(p)
	t.eq(st2["loaded"], st1["loaded"], "reload failed: the old config "
	    "stays loaded")
	t.check(p.alive(), "proxy alive after a bad reload")
	r = harness.curl(p, *nc.curl_ntlm_args("bob", USERS["bob"]),
	    o.url("/size/9"))
	t.eq((r.status, r.body), (200, pattern(9)), "the old config still "
	    "serves")
	if tun_b is not None:
		r = tunnel_get(tun_b, o, 14)
		t.eq(r and (r.status, r.body), (200, pattern(14)), "reloads "
		    "leave bob's tunnel alone")
	p.write_config(text=good)
	t.eq(p.admin("reload")[0], ["ok reloaded"], "reload of the fixed file")


def misc_checks(t, p):
	rc, out, err = p.ctl("--json", "stats")
	try:
		j = json.loads(out)
	except ValueError:
		j = None
	t.check(rc == 0 and isinstance(j, dict), "iaproxyctl --json stats: "
	    "an object", "(%r %r)" % (out, err))
	rc, out, err = p.ctl("purge", "alice")
	t.eq(rc, 0, "iaproxyctl purge alice: exit 0")
	t.contains(out, "dropped", "iaproxyctl purge: says what")
	rc, out, err = p.ctl("--json", "purge", "alice")
	try:
		j = json.loads(out)
	except ValueError:
		j = {}
	t.check((rc, j.get("ok"), j.get("purged")) == (0, True, 0),
	    "iaproxyctl --json purge", "(%r)" % out)
	a = p.admin("help")[0]
	t.check(any(l.startswith("signout") for l in a) and a[-1] == "ok",
	    "help lists signout")


def main(t):
	o = t.origin()
	hf = nc.write_hashfile(os.path.join(t.tmpdir, "ntlm.hashes"),
	    ["%s:%s" % (u, nc.nt_hash(pw).hex()) for u, pw in USERS.items()])
	sock = os.path.join(t.tmpdir, "admin.sock")
	p = t.proxy(workers=2, connect_ports=[o.port], admin_socket=sock,
	    **nc.ntlm_conf(hf))
	status_checks(t, p)
	socket_checks(t, p)
	ctl_usage_checks(t, p)
	tun_b = session_checks(t, p, o)
	reload_checks(t, p, o, tun_b)
	misc_checks(t, p)
	if tun_b is not None:
		tun_b.close()
	t.check(p.alive(), "proxy alive at the end")


harness.run(main)
