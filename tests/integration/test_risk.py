#!/usr/bin/python3
"""Risk rules (issue 9): automatic account actions on policy events.

NTLM users from a hash file, a category with a blocked domain and
	risk "three blocks" { when = {block} category = {malware} count = 3
	    within = 600 action = signout }
through the proxy with real curl and raw NTLM connections (two workers):
alice's first two blocked requests change nothing visible (her live
CONNECT tunnel keeps working, nothing logged), allowed requests do not
count, the third ends her tunnel (the client sees the connection end)
and logs "risk rule three blocks: EXAMPLE\\alice had 3 block events in
N s: signout (ok...)"; bob's tunnel and requests are untouched, and his
own third block signs him out, not before.  Events already counted never
count again.  A monitor rule's matches count for when = {monitor}.  A
reload that keeps the rule (now action = disable, with state_dir in the
temp dir) keeps alice's window: one more block disables her, and her
next request gets 403 "account disabled" while bob's still go through;
iaproxyctl enable lets her back.  And `iaproxy -t` refuses a risk block
with an unknown category or a bad action with FILE:LINE.
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc

USERS = {"alice": "Alice-pw1", "bob": "B0b-pass!", "carol": "C4rol-pw"}
BLOCKED = "http://www.malware.test/x"

POLICY = """
category "malware" { domains = {"malware.test"} }
rule "watch" { url_regex = {"/watched/"} action = monitor }
rule "no malware" { category = {malware} action = block }
risk "three blocks" { when = {block} category = {malware} count = 3
  within = 600 action = %s }
risk "watched" { when = {monitor} count = 2 within = 600 action = signout }
"""


def signin_tunnel(t, p, o, user):
	"""A CONNECT tunnel to the origin, signed in as user; None if not."""
	return nc.signed_in(t, p.port, user, USERS[user], o.hostport,
	    "%s: tunnel signed in" % user)


def tunnel_ok(c, o, n):
	return nc.tunnel_ok(c, o.hostport, n)


def get(p, user, url):
	"""One request as user (curl, NTLM): the final status."""
	r = harness.curl(p, *nc.curl_ntlm_args(user, USERS[user]), url)
	return r.status


def risk_lines(p, who=None):
	"""The error log's risk-rule lines (of rule who, if given)."""
	return [l for l in p.errlog().splitlines() if
	    re.search(r" warning: risk rule %s" % (re.escape(who + ":") if who
	    else ""), l)]


def signout_checks(t, p, o):
	ta = signin_tunnel(t, p, o, "alice")
	tb = signin_tunnel(t, p, o, "bob")
	t.check(tunnel_ok(ta, o, 10) and tunnel_ok(tb, o, 11), "both tunnels "
	    "carry requests")

	# Two blocks, with allowed requests between: nothing visible.
	for i in (1, 2):
		t.eq(get(p, "alice", BLOCKED), 403, "alice: block %d is a 403" % i)
		t.eq(get(p, "alice", o.url("/size/5")), 200, "alice: an allowed "
		    "request after block %d" % i)
		time.sleep(0.3)
		t.check(tunnel_ok(ta, o, 20 + i), "after %d block%s alice's "
		    "tunnel still works" % (i, "s" if i > 1 else ""))
	t.eq(risk_lines(p), [], "no risk line after two blocks")
	# bob's own two blocks: his window, not alice's.
	for i in (1, 2):
		t.eq(get(p, "bob", BLOCKED), 403, "bob: block %d" % i)
	t.check(tunnel_ok(ta, o, 30), "bob's blocks do not count for alice")

	# The third: the tunnel ends, the action is logged.
	t.eq(get(p, "alice", BLOCKED), 403, "alice: block 3 is a 403")
	t.check(ta.closed(5), "the third block ends alice's live tunnel (the "
	    "client sees the connection end)")
	line = harness.wait_for(lambda: risk_lines(p, "three blocks"), 5)
	t.check(line and len(line) == 1 and re.search(r"warning: risk rule "
	    r"three blocks: EXAMPLE\\alice had 3 block events in \d+ s: "
	    r"signout \(ok", line[0]), "the risk line: rule, user, count, "
	    "action, ok", "(%r)" % (line,))
	t.check(tunnel_ok(tb, o, 31), "bob's tunnel is untouched")
	t.eq(get(p, "bob", o.url("/size/7")), 200, "bob's requests go through")
	t.eq(get(p, "alice", o.url("/size/8")), 200, "alice signs in again on "
	    "her next request")

	# Counted events never count again: two more do nothing.
	ta = signin_tunnel(t, p, o, "alice")
	for i in (4, 5):
		t.eq(get(p, "alice", BLOCKED), 403, "alice: block %d" % i)
	time.sleep(0.3)
	t.check(tunnel_ok(ta, o, 40), "blocks 4 and 5 do not fire again")
	t.eq(len(risk_lines(p, "three blocks")), 1, "still one risk line")

	# bob's own third block signs him out.
	t.eq(get(p, "bob", BLOCKED), 403, "bob: block 3")
	t.check(tb.closed(5), "bob's third block ends his tunnel")
	t.check(harness.wait_for(lambda: any("EXAMPLE\\bob had 3 block" in l
	    for l in risk_lines(p)), 5), "bob's risk line")
	t.check(tunnel_ok(ta, o, 41), "alice's tunnel stays open meanwhile")
	tb.close()
	return ta


def monitor_checks(t, p, o):
	tc = signin_tunnel(t, p, o, "carol")
	t.eq(get(p, "carol", o.url("/size/3?/watched/")), 200, "carol: a "
	    "monitored request goes through")
	time.sleep(0.3)
	t.check(tunnel_ok(tc, o, 12), "one monitored request: nothing yet")
	t.eq(get(p, "carol", o.url("/size/3?/watched/again")), 200, "carol: a "
	    "second monitored request")
	t.check(tc is not None and tc.closed(5), "two monitored requests: "
	    "carol's tunnel ends")
	line = harness.wait_for(lambda: risk_lines(p, "watched"), 5)
	t.check(line and "EXAMPLE\\carol had 2 monitor events" in line[0],
	    "the monitor rule's line", "(%r)" % (line,))
	if tc is not None:
		tc.close()


def disable_checks(t, p, o, ta):
	"""Reload with action = disable: alice's window (blocks 4 and 5) is
	kept, so one more block disables her."""
	p.write_config(text=harness.conf_text(p.conf) + POLICY % "disable")
	t.eq(p.admin("reload")[0], ["ok reloaded"], "reload: action = disable")
	t.eq(get(p, "alice", BLOCKED), 403, "alice: block 6")
	line = harness.wait_for(lambda: [l for l in risk_lines(p,
	    "three blocks") if ": disable (" in l], 5)
	t.check(line and re.search(r"EXAMPLE\\alice had 3 block events in "
	    r"\d+ s: disable \(ok", line[0]), "the window survived the "
	    "reload: the third of the window disables alice", "(%r)" % (line,))
	t.check(ta is None or ta.closed(5), "disable signs alice out too")
	r = harness.curl(p, *nc.curl_ntlm_args("alice", USERS["alice"]),
	    o.url("/size/9"))
	t.eq(r.status, 403, "alice, disabled: 403")
	said = r.body.decode(errors="replace") + str(r.headers)
	t.contains(said, "account disabled", "the page says: account disabled")
	t.eq(get(p, "bob", o.url("/size/6")), 200, "bob still goes through")
	t.check(os.path.exists(os.path.join(p.conf["state_dir"], "disabled")),
	    "the disabled list is in state_dir")
	rc, out, err = p.ctl("enable", "alice")
	t.eq(rc, 0, "iaproxyctl enable alice")
	t.eq(get(p, "alice", o.url("/size/9")), 200, "enabled: alice goes "
	    "through again")
	if ta is not None:
		ta.close()


def configcheck(t):
	"""iaproxy -t: a risk block's unknown category and bad action."""
	base = 'category "malware" { domains = {"malware.test"} }\n'
	cases = [
		('risk "r" { when = {block} category = {nosuch} count = 3 }\n',
		    "category 'nosuch'"),
		('risk "r" { when = {block} count = 3 action = explode }\n',
		    "explode"),
		('risk "r" { when = {sometimes} count = 3 }\n', "sometimes"),
	]
	for i, (block, word) in enumerate(cases):
		path = os.path.join(t.tmpdir, "bad%d.conf" % i)
		with open(path, "w") as f:
			f.write('listen = {"127.0.0.1:1"}\n' + base + "\n" + block)
		r = subprocess.run([harness.IAPROXY, "-t", "-c", path],
		    capture_output=True, text=True, timeout=30)
		t.check(r.returncode != 0 and "%s:4:" % path in r.stderr and
		    word in r.stderr, "-t: %s: FILE:LINE" % word,
		    "(rc %d: %r)" % (r.returncode, r.stderr[-400:]))
	path = os.path.join(t.tmpdir, "good.conf")
	with open(path, "w") as f:
		f.write('listen = {"127.0.0.1:1"}\n' + POLICY % "signout")
	r = subprocess.run([harness.IAPROXY, "-t", "-c", path],
	    capture_output=True, text=True, timeout=30)
	t.eq(r.returncode, 0, "-t: a good risk config passes (%s)" %
	    r.stderr.strip()[-200:])


def main(t):
	configcheck(t)
	o = t.origin()
	hf = nc.write_hashfile(os.path.join(t.tmpdir, "ntlm.hashes"),
	    ["%s:%s" % (u, nc.nt_hash(pw).hex()) for u, pw in USERS.items()])
	p = t.proxy(start=False, workers=2, connect_ports=[o.port],
	    admin_socket=os.path.join(t.tmpdir, "admin.sock"),
	    state_dir=os.path.join(t.tmpdir, "state"), **nc.ntlm_conf(hf))
	p.write_config(text=harness.conf_text(p.conf) + POLICY % "signout")
	p.start()
	ta = signout_checks(t, p, o)
	monitor_checks(t, p, o)
	disable_checks(t, p, o, ta)
	t.check(p.alive(), "proxy alive at the end")


harness.run(main)
