#!/usr/bin/python3
"""Kerberos sign-in against a real Active Directory: the Samba 4 AD DC of
peers.AdDc (in a network namespace) holds the proxy's service account
PROXY$ with the SPN HTTP/proxy.ad.example.test; its keytab is exported
from the DC (samba-tool domain exportkeytab), the user's ticket comes
from the DC's own KDC, and curl --proxy-negotiate presents it.  AD
tickets carry an MS-PAC, which MIT's acceptor must take in its stride.

Covered: GET and CONNECT signed in as the AD user, named the way NTLM
names the same person (realm_map: ADEXAMPLE\\alice); the mutual-auth
token on the response; a second user; a ticket for a service the keytab
does not hold refused, with GSSAPI's reason in the error log; the proxy
never contacts the KDC itself (it runs on 127.0.0.1 only, the KDC is in
the namespace)."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import peers

USERS = {"alice": "Passw0rd-alice", "bob": "B0b-Passw0rd"}
PROXY_NAME = "proxy.ad.example.test"
OTHER_NAME = "other.ad.example.test"


def neg_curl(p, env, name, *args):
	"""curl --proxy-negotiate through p, reached as name; (status,
	headers of the final response, stderr)."""
	hf = os.path.join(p.t.tmpdir, "heads.txt")
	argv = ["/usr/bin/curl", "--noproxy", "", "-sS", "-D", hf,
	    "-o", "/dev/null", "--proxy-negotiate", "-U", ":",
	    "--resolve", "%s:%d:127.0.0.1" % (name, p.port),
	    "-x", "http://%s:%d" % (name, p.port)] + list(args)
	r = subprocess.run(argv, capture_output=True, text=True, env=env,
	    timeout=60)
	heads = harness.curl_heads(hf)
	final = [h for h in heads if h[0] >= 200]
	st, hd = final[-1] if final else (None, [])
	return st, hd, heads, r.stderr


def main(t):
	dc = peers.start_ad_dc(t, USERS)
	if dc is None:
		return

	# The proxy's service account and its keytab, from the DC.
	dc.tool("computer", "create", "PROXY",
	    "--service-principal-name=HTTP/" + PROXY_NAME)
	dc.tool("user", "setpassword", "PROXY$",
	    "--newpassword=Pr0xy-Acc0unt.Pw-1")
	dc.tool("computer", "create", "OTHER",
	    "--service-principal-name=HTTP/" + OTHER_NAME)
	dc.tool("user", "setpassword", "OTHER$",
	    "--newpassword=0ther-Acc0unt.Pw-1")
	kt = os.path.join(t.tmpdir, "http.keytab")
	dc.tool("domain", "exportkeytab", kt,
	    "--principal=HTTP/" + PROXY_NAME)
	os.chmod(kt, 0o600)
	t.check(os.path.getsize(kt) > 0, "keytab exported from the DC")

	alice = dc.kinit("alice", USERS["alice"], t.tmpdir)
	bob = dc.kinit("bob", USERS["bob"], t.tmpdir)
	rc = os.path.join(t.tmpdir, "rcache")
	os.makedirs(rc, exist_ok=True)
	os.environ["KRB5RCACHEDIR"] = rc

	o = t.origin()
	ot = t.origin(tls=True)
	p = t.proxy(hostname=PROXY_NAME, connect_ports=[ot.port],
	    negotiate={"keytab": kt,
	    "realm_map": ["%s=%s" % (dc.REALM, dc.DOMAIN)]},
	    **{'network "lo"': {"src": ["127.0.0.0/8"],
	    "auth": [harness.Raw("negotiate")]}})

	n0 = len(p.access_lines())
	st, hd, heads, err = neg_curl(p, alice, PROXY_NAME, o.url("/size/77"))
	t.eq(st, 200, "AD ticket: GET through the proxy (%s)" % err[-300:])
	lines = p.wait_access_lines(n0 + 1)[n0:]
	t.check(any("ADEXAMPLE\\alice" in l and "/size/77" in l
	    for l in lines), "logged as ADEXAMPLE\\alice", repr(lines[-2:]))
	auth = harness.hget1(hd, "Proxy-Authenticate") or ""
	t.check(auth.startswith("Negotiate ") and len(auth) > 20,
	    "mutual-auth token on the response", auth[:60])
	t.check("signed in as ADEXAMPLE\\alice (negotiate)" in p.errlog(),
	    "error log: signed in through Kerberos")

	st, hd, heads, err = neg_curl(p, alice, PROXY_NAME, "-k",
	    ot.url("/size/1000"))
	t.eq(st, 200, "AD ticket: https through CONNECT (%s)" % err[-300:])

	st, hd, heads, err = neg_curl(p, bob, PROXY_NAME, o.url("/size/5"))
	t.eq(st, 200, "a second AD user")
	t.check("signed in as ADEXAMPLE\\bob (negotiate)" in p.errlog(),
	    "bob signed in as ADEXAMPLE\\bob")

	# A ticket for a service whose key the proxy does not hold.
	off = len(p.errlog())
	st, hd, heads, err = neg_curl(p, alice, OTHER_NAME, o.url("/size/5"))
	t.eq(st, 407, "ticket for HTTP/%s refused" % OTHER_NAME)
	t.check(p.wait_errlog("sign-in refused: kerberos:", since=off),
	    "refusal logged with GSSAPI's words",
	    p.errlog()[off:][-400:])
	t.check("YII" not in p.errlog(), "no token in the error log")


harness.run(main)
