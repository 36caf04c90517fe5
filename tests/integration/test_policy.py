#!/usr/bin/python3
"""The Internet Access policy through the proxy, with real curl (issue 6).

Covered: the block page (403, text/html, X-Iaproxy-Error, the rule, the
URL HTML-escaped, an incident id that is also in the json access log and
as a note in the squid log); a blocked CONNECT (403, no body, logged);
warn: the caution page, its continue link (through the proxy to the
gateway's own /iaproxy/continue), then no caution within warn_ttl, and a
used link refused; monitor: allowed and logged with what it would have
done, and a block rule after it still blocks; schedules written relative
to now (UTC); a category from a list file and one from a category_dir
folder; not_ conditions; a dst_ip rule decided after DNS; auth = none: an
exempt destination passes a NTLM network with no sign-in while others get
407; groups from a real slapd: a group rule blocks alice and not bob.
Config errors from -t as FILE:LINE (unknown network, category, schedule,
bad regex, bad time range); a SIGHUP reload with one keeps the old rules.
And a table of (identity, request) -> decision checked through the proxy
AND through `iaproxy explain`, so the two cannot disagree.
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers

USERS = {"alice": "Alice-pw1", "bob": "B0b-pass!"}
GROUPS = "ou=groups," + peers.SUFFIX


def hm(t):
	return time.strftime("%H:%M", time.gmtime(t))


def policy_text(o):
	"""The policy of the main proxy; o is the origin (127.0.0.1:port)."""
	now = time.time()
	return """
category "gambling" { domains_file = {"gambling.txt"} }
category_dir = {"bl"}
schedule "now" { times = {"%s-%s"} timezone = "UTC" }
schedule "later" { times = {"%s-%s"} timezone = "UTC" }
rule "watch ads" { url_regex = {"/ads/"} action = monitor }
rule "ads block" { url_regex = {"/ads/block"} action = block }
rule "no gambling" { category = {gambling} action = block }
rule "adult" { category = {adult} action = block }
rule "sched now" { url_regex = {"/sched-now"} schedule = {now} action = block }
rule "sched later" { url_regex = {"/sched-later"} schedule = {later}
  action = block }
rule "careful" { url_regex = {"/risky"} action = warn  warn_ttl = 60 }
rule "bad tunnels" { scheme = {connect} dst_domain = {.bad.example}
  action = block }
rule "only get" { url_regex = {"/onlyget"} not_method = {GET} action = block }
rule "loopback by name" { dst_domain = {localhost} dst_ip = {"127.0.0.0/8"}
  action = block }
""" % (hm(now - 120), hm(now + 180), hm(now + 600), hm(now + 1200))


def write_lists(t):
	with open(os.path.join(t.tmpdir, "gambling.txt"), "w") as f:
		f.write("# a list\ncasino.test\n*.bet.test\n")
	d = os.path.join(t.tmpdir, "bl", "adult")
	os.makedirs(d, exist_ok=True)
	with open(os.path.join(d, "domains"), "w") as f:
		f.write("adult.test\n")
	with open(os.path.join(d, "urls"), "w") as f:
		f.write("free.test/xxx/\n")


def explain(t, p, url, method=None, user=None, groups=(), dst=None,
    src="127.0.0.1"):
	"""(action, rule) as `iaproxy explain` prints the decision."""
	argv = [harness.IAPROXY, "explain", "-c", p.conf_path, "--url", url,
	    "--src", src]
	if method:
		argv += ["--method", method]
	if user:
		argv += ["--user", user]
	for g in groups:
		argv += ["--group", g]
	if dst:
		argv += ["--dst-ip", dst]
	r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
	m = re.search(r"^decision: ([a-z-]+)(?: \([^)]*\))?(?: by #\d+ '([^']*)'"
	    r"|: no rule matched)", r.stdout, re.M)
	if r.returncode != 0 or m is None:
		t.fail("explain %s: rc %d: %s %s" % (url, r.returncode,
		    r.stdout[-500:], r.stderr[-500:]))
		return None, None, r.stdout
	return m.group(1), m.group(2) or "default", r.stdout


def last_record(p, off):
	recs = [r for r in p.access_records(off)]
	return recs[-1] if recs else {}


def connect_raw(p, hostport):
	r, c = harness.raw_request(p.port, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "\r\n" % (hostport, hostport), method="CONNECT")
	c.close()
	return r


def table_checks(t, p, o):
	"""Each row through the proxy and through explain."""
	ou = lambda x: o.url("/size/3?" + x)
	rows = [
		# (url, method, expected action, rule, status)
		("http://www.casino.test/", None, "block", "no gambling", 403),
		("http://x.bet.test/a", None, "block", "no gambling", 403),
		("http://x.adult.test/", None, "block", "adult", 403),
		("http://free.test/xxx/1.jpg", None, "block", "adult", 403),
		(ou("/ads/x"), None, "allow", "default", 200),
		(ou("/ads/block"), None, "block", "ads block", 403),
		(ou("/sched-now"), None, "block", "sched now", 403),
		(ou("/sched-later"), None, "allow", "default", 200),
		(ou("/onlyget"), "POST", "block", "only get", 403),
		(ou("/onlyget"), None, "allow", "default", 200),
		(ou("/plain"), None, "allow", "default", 200),
		("http://localhost:%d/size/3" % o.port, None, "block",
		    "loopback by name", 403),
	]
	for url, method, action, rule, status in rows:
		off = len(p.access_lines())
		args = ["-X", method, "-d", "x"] if method else []
		r = harness.curl(p, *args, url)
		t.eq(r.status, status, "proxy: %s %s -> %d" % (method or "GET",
		    url, status))
		rec = harness.wait_for(lambda: last_record(p, off), 5) or {}
		t.eq((rec.get("decision"), rec.get("rule")), (action, rule),
		    "proxy log: %s -> %s by %s" % (url, action, rule))
		dst = "127.0.0.1" if "localhost" in url else None
		a, ru, out = explain(t, p, url, method=method, dst=dst)
		t.check((a, ru) == (action, rule), "explain: %s -> %s by %s" %
		    (url, action, rule), out[-600:])
	# CONNECT: the same both ways.
	for hp, action, rule, status in [
	    ("www.bad.example:443", "block", "bad tunnels", 403),
	    ("www.casino.test:443", "block", "no gambling", 403)]:
		off = len(p.access_lines())
		r = connect_raw(p, hp)
		t.eq(r.status if r else None, status, "proxy: CONNECT %s" % hp)
		rec = harness.wait_for(lambda: last_record(p, off), 5) or {}
		t.eq((rec.get("decision"), rec.get("rule")), (action, rule),
		    "proxy log: CONNECT %s" % hp)
		a, ru, out = explain(t, p, "https://%s/" % hp.split(":")[0])
		t.check((a, ru) == (action, rule), "explain: CONNECT %s" % hp,
		    out)


def block_page_checks(t, p):
	off = len(p.access_lines())
	r = harness.curl(p, "http://www.casino.test/a?x=1&y=%22")
	t.eq(r.status, 403, "block page: 403")
	t.contains(harness.hget1(r.headers, "Content-Type") or "", "text/html",
	    "block page: text/html")
	t.contains(harness.hget1(r.headers, "X-Iaproxy-Error") or "",
	    "no gambling", "block page: X-Iaproxy-Error names the rule")
	body = r.body.decode(errors="replace")
	t.contains(body, "no gambling", "block page names the rule")
	t.contains(body, "http://www.casino.test/a?x=1&amp;y=%22",
	    "block page names the URL, HTML-escaped")
	t.contains(body, "(not signed in)", "block page: no user")
	m = re.search(r"Incident</th><td>([0-9a-f]{12})<", body)
	t.check(m is not None, "block page: an incident id", body[-400:])
	rec = harness.wait_for(lambda: last_record(p, off), 5) or {}
	t.eq(rec.get("incident"), m.group(1) if m else "?",
	    "the incident id is in the access log")
	t.contains(rec.get("policy_reason") or "", "gambling",
	    "log: the reason names the category")
	# CONNECT: 403 with no body.
	off = len(p.access_lines())
	r = connect_raw(p, "www.bad.example:443")
	t.check(r is not None and r.status == 403 and r.body in (b"", None)
	    and r.header("Content-Length") == "0",
	    "blocked CONNECT: 403, no body", repr(r))
	rec = harness.wait_for(lambda: last_record(p, off), 5) or {}
	t.check(rec.get("decision") == "block" and rec.get("incident"),
	    "blocked CONNECT logged with an incident", repr(rec))


def monitor_checks(t, p, o):
	off = len(p.access_lines())
	r = harness.curl(p, o.url("/size/3?/ads/x"))
	t.eq(r.status, 200, "monitor: allowed")
	rec = harness.wait_for(lambda: last_record(p, off), 5) or {}
	t.eq((rec.get("monitor"), rec.get("monitor_rule")),
	    ("block", "watch ads"), "monitor: logged as what it would do")
	off = len(p.access_lines())
	r = harness.curl(p, o.url("/size/3?/ads/block"))
	t.eq(r.status, 403, "monitor: a block rule after it still blocks")
	rec = harness.wait_for(lambda: last_record(p, off), 5) or {}
	t.eq(rec.get("monitor_rule"), "watch ads",
	    "monitor: noted on the blocked request too")


def warn_checks(t, p, o):
	url = o.url("/size/3?/risky/page")
	r = harness.curl(p, url)
	body = r.body.decode(errors="replace")
	t.eq(r.status, 403, "warn: caution page")
	m = re.search(r'href="(http://[^"]+/iaproxy/continue\?t=[0-9a-f]+)"',
	    body)
	t.check(m is not None, "warn: a continue link", body[-500:])
	if m is None:
		return
	link = m.group(1).replace("&amp;", "&")
	r = harness.curl(p, link)
	t.eq(r.status, 303, "continue: 303 back to the page")
	t.eq(harness.hget1(r.headers, "Location"), url,
	    "continue: Location is the page")
	off = len(p.access_lines())
	r = harness.curl(p, url)
	t.eq(r.status, 200, "warn: acknowledged, no caution within warn_ttl")
	rec = harness.wait_for(lambda: last_record(p, off), 5) or {}
	t.eq(rec.get("decision"), "warn-continued", "warn: logged continued")
	r = harness.curl(p, link)
	t.eq(r.status, 404, "continue: a link works once")


def config_error_checks(t, p):
	base = harness.conf_text(p.conf)
	cases = [
	    ('rule "a" {\n  network = {nowhere}\n  action = block\n}\n', 2,
		"unknown network 'nowhere'"),
	    ('rule "a" {\n  action = block\n  category = {nocat}\n}\n', 3,
		"unknown category 'nocat'"),
	    ('rule "a" {\n  schedule = {never}\n  action = block\n}\n', 2,
		"unknown schedule 'never'"),
	    ('rule "a" {\n  url_regex = {"a(b"}\n  action = block\n}\n', 2,
		"bad regex 'a(b'"),
	    ('schedule "s" {\n  times = {"18:00-25:00"}\n}\n', 2,
		"bad time range"),
	]
	nbase = base.count("\n")
	for i, (text, line, msg) in enumerate(cases):
		path = os.path.join(t.tmpdir, "bad%d.conf" % i)
		with open(path, "w") as f:
			f.write(base + text)
		r = subprocess.run([harness.IAPROXY, "-t", "-c", path],
		    capture_output=True, text=True, timeout=30)
		want = "%s:%d: " % (path, nbase + line)
		t.check(r.returncode != 0 and want in r.stderr and msg in r.stderr,
		    "-t: %s at %s" % (msg, want), r.stderr[-400:])


def reload_checks(t, p, o):
	good = open(p.conf_path).read()
	since = len(p.errlog())
	p.write_config(text=good + 'rule "x" { category = {nosuch} '
	    'action = allow }\nrule "y" { url_regex = {"("} action = allow }\n')
	p.reload()
	t.check(p.wait_errlog("nosuch", 10, since), "bad reload: logged",
	    p.errlog()[since:][-500:])
	r = harness.curl(p, "http://www.casino.test/")
	t.eq(r.status, 403, "bad reload: the old rules still decide")
	t.check(p.alive(), "bad reload: still running")
	p.write_config(text=good)


def exempt_checks(t, o):
	hashes = t.secret_file("ntlm.hashes", "".join("EXAMPLE\\%s:%s\n" %
	    (u, nc.nt_hash(pw).hex()) for u, pw in USERS.items()))
	p = t.proxy(start=False, log_format=harness.Raw("json"))
	p.conf["ntlm"] = {"domain": "EXAMPLE", "backend": harness.Raw(
	    "hashfile"), "hashfile": hashes}
	p.conf['network "lo"'] = {"src": ["127.0.0.0/8"],
	    "auth": [harness.Raw("ntlm")]}
	p.write_config(text=harness.conf_text(p.conf) +
	    'rule "updates" { url_regex = {"/update/"} auth = none '
	    'action = allow }\n'
	    'rule "signed" { auth = required url_regex = {"/signed"} '
	    'action = block }\n')
	p.start()
	r = harness.curl(p, o.url("/size/3?/update/x"))
	t.eq(r.status, 200, "auth = none: an exempt destination, no sign-in")
	r = harness.curl(p, o.url("/size/3?/other"))
	t.eq(r.status, 407, "auth = none: anything else must sign in")
	r = harness.curl(p, *nc.curl_ntlm_args("alice", USERS["alice"]),
	    o.url("/size/3?/other"))
	t.eq(r.status, 200, "signed in: allowed")
	r = harness.curl(p, *nc.curl_ntlm_args("alice", USERS["alice"]),
	    o.url("/size/3?/signed"))
	t.eq(r.status, 403, "auth = required rule matches a signed-in user")
	body = r.body.decode(errors="replace")
	t.contains(body, "alice", "block page names the user")
	p.stop()


def groups_checks(t, o):
	s = peers.GroupSlapd(t)
	for u, pw in USERS.items():
		s.add_user(u, nthash_hex=nc.nt_hash(pw).hex())
	s.start()
	s.add("dn: %s\nobjectClass: organizationalUnit\nou: groups\n" % GROUPS)
	s.add("dn: cn=finance,%s\nobjectClass: groupOfNames\ncn: finance\n"
	    "member: uid=alice,%s\n" % (GROUPS, peers.PEOPLE))
	s.add("dn: cn=staff,%s\nobjectClass: groupOfNames\ncn: staff\n"
	    "member: uid=alice,%s\nmember: uid=bob,%s\n" % (GROUPS,
	    peers.PEOPLE, peers.PEOPLE))
	pwf = t.secret_file("bind.pw", peers.PROXY_PW + "\n")
	hashes = t.secret_file("ntlm2.hashes", "".join("EXAMPLE\\%s:%s\n" %
	    (u, nc.nt_hash(pw).hex()) for u, pw in USERS.items()))
	p = t.proxy(start=False, log_format=harness.Raw("json"))
	p.conf["ntlm"] = {"domain": "EXAMPLE", "backend": harness.Raw(
	    "hashfile"), "hashfile": hashes}
	p.conf["ldap"] = {"uri": [s.uri], "bind_dn": peers.PROXY_DN,
	    "bind_password_file": pwf, "base_dn": peers.SUFFIX,
	    "user_filter": "(uid=%u)", "timeout": 2,
	    "group_mode": harness.Raw("memberof")}
	p.conf['network "lo"'] = {"src": ["127.0.0.0/8"],
	    "auth": [harness.Raw("ntlm")]}
	p.write_config(text=harness.conf_text(p.conf) +
	    'rule "finance only" {\n  group = {finance}\n'
	    '  url_regex = {"/fin"}\n  action = block\n}\n'
	    'rule "not staff" { not_group = {staff} url_regex = {"/staff"} '
	    'action = block }\n')
	p.start()
	for user, path, status, rule in [
	    ("alice", "/size/3?/fin", 403, "finance only"),
	    ("bob", "/size/3?/fin", 200, "default"),
	    ("bob", "/size/3?/staff", 200, "default"),
	    ("alice", "/size/3?/staff", 200, "default")]:
		off = len(p.access_lines())
		r = harness.curl(p, *nc.curl_ntlm_args(user, USERS[user]),
		    o.url(path))
		t.eq(r.status, status, "groups: %s %s -> %d" % (user, path,
		    status))
		rec = p.final_record(off)
		t.eq(rec.get("rule"), rule, "groups: %s %s by %s" % (user, path,
		    rule))
		groups = rec.get("groups") or []
		a, ru, out = explain(t, p, o.url(path), user=user, groups=groups)
		t.check(ru == rule, "explain with the directory's groups: %s %s" %
		    (user, path), out[-400:])
	p.stop()
	s.stop()


def pac_checks(t):
	"""bypass_* (and the older direct_*) lists and the gateway's own
	host go DIRECT; everything else to the gateway by name."""
	p = t.proxy(pac={"bypass_domains": [".intra.test"],
	    "direct_domains": ["old.test"],
	    "bypass_networks": ["10.0.0.0/8"]})
	p.start()
	r, _ = p.pac()
	body = r.body.decode() if r else ""
	t.contains(body, 'dnsDomainIs(host, ".intra.test")', "pac: bypass_domains")
	t.contains(body, 'host == "old.test"', "pac: direct_domains still work")
	t.contains(body, '"10.0.0.0", "255.0.0.0"', "pac: bypass_networks")
	t.contains(body, 'if (host == "%s")\n    return "DIRECT"' %
	    harness.HOSTNAME, "pac: the gateway's own host DIRECT")
	t.contains(body, 'return "PROXY %s:%d"' % (harness.HOSTNAME, p.port),
	    "pac: the rest to the gateway by name")
	p.stop()


def main(t):
	o = t.origin()
	write_lists(t)
	p = t.proxy(start=False, log_format=harness.Raw("json"))
	p.write_config(text=harness.conf_text(p.conf) + policy_text(o))
	p.start()
	block_page_checks(t, p)
	monitor_checks(t, p, o)
	warn_checks(t, p, o)
	table_checks(t, p, o)
	config_error_checks(t, p)
	reload_checks(t, p, o)
	# The squid log: the rule as a note after Squid's fields.
	q = t.proxy(start=False)
	q.write_config(text=harness.conf_text(q.conf) + policy_text(o))
	q.start()
	harness.curl(q, "http://www.casino.test/")
	lines = q.wait_access_lines(1)
	t.check(lines and re.search(r" rule=no%20gambling decision=block "
	    r"incident=[0-9a-f]{12}$", lines[-1]) is not None and
	    len(lines[-1].split()) >= 10, "squid log: rule note at the end",
	    repr(lines[-1:]))
	q.stop()
	pac_checks(t)
	exempt_checks(t, o)
	groups_checks(t, o)


harness.run(main)
