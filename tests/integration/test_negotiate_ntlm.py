#!/usr/bin/python3
"""NTLM inside Negotiate, on a proxy that also does Kerberos (a negotiate
section whose keytab comes from a throwaway MIT KDC) and NTLM with the
hashfile backend.

(a) Raw NTLMSSP in `Proxy-Authorization: Negotiate` (Samba's ntlm_auth
    and python3-ntlm-auth, the latter with a MIC): the type 1 is answered
    as `Proxy-Authenticate: Negotiate <type 2>` with target info, the type
    3 signs the connection in as EXAMPLE\\alice ("auth":"ntlm" in the json
    log), later requests need no header; a wrong password is refused.
(b) SPNEGO-wrapped NTLMSSP from gss-ntlmssp: curl --proxy-negotiate -U :
    with GSS_MECH_CONFIG naming gssntlmssp_v1, NTLM_USER_FILE holding
    EXAMPLE:alice:password and no Kerberos ccache: the first token is a
    NegTokenInit whose only mech is NTLMSSP; the proxy answers with a
    NegTokenResp carrying the type 2; curl's second leg gets 200.
(c) A network with auth = {negotiate} only refuses NTLM inside Negotiate
    (raw and SPNEGO-wrapped): 407, Negotiate offered, the error log says
    "NTLM inside Negotiate is not offered".
"""

import base64
import os
import re
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers
from harness import hget, pattern
from spnego_util import NTLMSSP_OID, neg_values, offers, spnego_init_ntlm, \
    spnego_parse, spnego_resp_ntlm

REALM = "EXAMPLE.TEST"
HOST = harness.HOSTNAME
PW = "Secret123"
GSSNTLMSSP = "/usr/lib/x86_64-linux-gnu/gssntlmssp/gssntlmssp.so"


def neg_conf(keytab, hashfile, auth=("negotiate", "ntlm"), **more):
	conf = {"negotiate": {"keytab": keytab},
	    "ntlm": {"domain": "EXAMPLE", "backend": harness.Raw("hashfile"),
	    "hashfile": hashfile},
	    'network "lo"': {"src": ["127.0.0.0/8", "::1"],
	    "auth": [harness.Raw(a) for a in auth]}}
	conf.update(more)
	return conf


def start_proxy(t, kdc, **conf):
	"""A proxy with the KDC's krb5.conf and a private replay cache."""
	p = t.proxy(start=False, **conf)
	rc = os.path.join(t.tmpdir, "rcache%d" % p.n)
	os.makedirs(rc, mode=0o700, exist_ok=True)
	p.prefix = ["/usr/bin/env", "-u", "KRB5CCNAME", "-u", "KRB5_KTNAME",
	    "KRB5_CONFIG=" + kdc.krb5_conf, "KRB5_KDC_PROFILE=" + kdc.kdc_conf,
	    "KRB5RCACHEDIR=" + rc]
	return p.start()


def ntlm_type(b):
	"""The NTLMSSP message type of b, or None."""
	try:
		return nc.parse(b)["type"]
	except (ValueError, TypeError, struct.error):
		return None


def refusals(p, off, words, timeout=3.0):
	def get():
		return [l for l in p.errlog()[off:].splitlines()
		    if " info: " in l and any(w.lower() in l.lower() for w in words)]
	harness.wait_for(get, timeout)
	return get()


def new_lines(p, before, n, timeout=5.0):
	harness.wait_for(lambda: len(p.access_lines()) >= before + n, timeout)
	return p.access_lines()[before:]


# ---------------------------------------------------------------------------
# (a) raw NTLMSSP inside Negotiate.

def raw_checks(t, p, o):
	for mk in (lambda: nc.NtlmAuthClient("alice", "EXAMPLE", PW),
	    lambda: nc.PyNtlmClient(t.tmpdir, "alice", "EXAMPLE", PW)):
		cl = mk()
		what = "raw NTLMSSP in Negotiate (%s)" % cl.name
		n0 = len(p.access_lines())
		c = harness.RawConn(p.port)
		x = nc.handshake(c, o.url("/size/64"), cl, scheme="Negotiate")
		cl.close()
		t.eq(x.r1 and x.r1.status, 407, "%s: type 1 answered 407" % what)
		t.check(x.type2 is not None, "%s: answered as Proxy-Authenticate: "
		    "Negotiate <type 2>" % what, "(%r)" % (x.r1 and
		    hget(x.r1.headers, "proxy-authenticate")))
		t.check(x.r1 is not None and not [v for v in
		    nc.challenges(x.r1, "NTLM") if v], "%s: no NTLM challenge "
		    "line beside it" % what)
		if x.type2 is not None:
			m = nc.parse(x.type2)
			t.check(m["flags"] & nc.NEG_TARGET_INFO and
			    nc.av_get(m["av"], nc.AV_NB_DOMAIN) ==
			    "EXAMPLE".encode("utf-16-le"),
			    "%s: the type 2 carries target info" % what)
		t.eq(x.r2 and (x.r2.status, x.r2.body), (200, pattern(64)),
		    "%s: type 3 -> 200" % what)
		if x.type3 is not None and cl.name == "python3-ntlm-auth":
			t.check(nc.parse(x.type3)["mic"] is not None,
			    "%s: its type 3 had a MIC (over the raw messages)" % what)
		c.send(nc.request(o.url("/size/65")))
		r = c.response()
		t.eq(r and r.status, 200, "%s: later request needs no header" % what)
		c.close()
		ls = nc.lines_for(new_lines(p, n0, 3), "/size/6")
		t.eq([nc.squid_user(l) for l in ls if nc.squid_result(l) ==
		    "TCP_MISS/200"], ["EXAMPLE\\alice"] * 2,
		    "%s: logged as EXAMPLE\\alice" % what)

	# Wrong password: 407 with a fresh offer.
	cl = nc.NtlmAuthClient("alice", "EXAMPLE", "not-the-password")
	off = len(p.errlog())
	c = harness.RawConn(p.port)
	x = nc.handshake(c, o.url("/size/66"), cl, scheme="Negotiate")
	cl.close()
	c.close()
	t.eq(x.r2 and x.r2.status, 407, "raw NTLMSSP in Negotiate, wrong "
	    "password: 407")
	t.check(x.r2 is not None and "" in neg_values(x.r2.headers),
	    "wrong password: Negotiate offered again")
	t.check(refusals(p, off, ["password"]), "wrong password: reason logged")


# ---------------------------------------------------------------------------
# (b) gss-ntlmssp through SPNEGO, driven by curl.

def gss_ntlmssp_files(t):
	mech = os.path.join(t.tmpdir, "gss-mech.conf")
	with open(mech, "w") as f:
		f.write("gssntlmssp_v1\t1.3.6.1.4.1.311.2.2.10\t%s\n" % GSSNTLMSSP)
	users = t.secret_file("ntlm-users", "EXAMPLE:alice:%s\n" % PW)
	return mech, users


def ntlmssp_curl(t, kdc, p, mech, users, *args):
	"""curl --proxy-negotiate -U : -v with gss-ntlmssp and no ccache;
	(CurlResult, [tokens curl sent], [tokens in 407s])."""
	hf = os.path.join(t.tmpdir, "curl-head.%d" % time.monotonic_ns())
	env = kdc.env(KRB5CCNAME="FILE:" + os.path.join(t.tmpdir, "none.cc"),
	    GSS_MECH_CONFIG=mech, NTLM_USER_FILE=users)
	argv = [harness.CURL, "--noproxy", "", "-sS", "-v", "-D", hf,
	    "--proxy-negotiate", "-U", ":",
	    "--resolve", "%s:%d:127.0.0.1" % (HOST, p.port),
	    "-x", "http://%s:%d" % (HOST, p.port)] + list(args)
	pr = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
	    timeout=60, env=env)
	err = pr.stderr.decode(errors="replace")
	heads = harness.curl_heads(hf)
	final = [h for h in heads if h[0] >= 200]
	status, headers = final[-1] if final else (None, [])
	r = harness.CurlResult(pr.returncode, status, headers, pr.stdout, err,
	    heads, None)
	sent = re.findall(r"^> Proxy-Authorization: Negotiate (\S+)", err, re.M)
	got = re.findall(r"^< Proxy-Authenticate: Negotiate (\S+)", err, re.M)
	return r, sent, got


def describe(tokens):
	"""What each SPNEGO token is, for the report on the wire."""
	out = []
	for b in tokens:
		try:
			raw = base64.b64decode(b)
		except ValueError:
			out.append("not base64")
			continue
		d = spnego_parse(raw)
		if d is None:
			out.append("raw NTLMSSP type %r" % ntlm_type(raw) if
			    raw[:8] == nc.SIG else "unknown %s" % raw[:8].hex())
			continue
		inner = d.get("mechToken") or d.get("responseToken") or b""
		out.append("%s mechs=%s state=%r ntlm=%r mic=%s" % (d["kind"],
		    [m.hex() for m in d.get("mechTypes", [])], d.get("negState"),
		    ntlm_type(inner), "mechListMIC" in d))
	return out


def spnego_checks(t, kdc, p, o, mech, users):
	n0 = len(p.access_lines())
	r, sent, got = ntlmssp_curl(t, kdc, p, mech, users, o.url("/size/77"))
	t.log("gss-ntlmssp on the wire: sent %s; 407 offers %s; heads %s" %
	    (describe(sent), describe(got), [h[0] for h in r.heads]))
	first = spnego_parse(base64.b64decode(sent[0])) if sent else None
	t.check(first is not None and first["kind"] == "init" and
	    first.get("mechTypes", [None])[0] == NTLMSSP_OID and
	    ntlm_type(first.get("mechToken", b"")) == 1,
	    "gss-ntlmssp: first token is a NegTokenInit, NTLMSSP first, "
	    "with a type 1", "(%s)" % describe(sent[:1]))
	resp = spnego_parse(base64.b64decode(got[0])) if got else None
	t.check(resp is not None and resp["kind"] == "resp" and
	    resp.get("negState") == 1 and
	    resp.get("supportedMech") == NTLMSSP_OID and
	    ntlm_type(resp.get("responseToken", b"")) == 2,
	    "the 407 answers with a NegTokenResp (accept-incomplete, NTLMSSP) "
	    "carrying the type 2", "(%s)" % describe(got[:1]))
	if resp is not None and ntlm_type(resp.get("responseToken", b"")) == 2:
		m = nc.parse(resp["responseToken"])
		t.check(nc.av_get(m["av"], nc.AV_NB_DOMAIN) ==
		    "EXAMPLE".encode("utf-16-le"), "the wrapped type 2 carries "
		    "target info")
		# SPNEGO asks its mechanism for integrity (for the mechListMIC,
		# RFC 4178 section 5), so gss-ntlmssp's type 1 requests
		# NEGOTIATE_SIGN and it gives up ("A required Negotiate flag
		# was not provided") on a challenge that does not grant it
		# (MS-NLMP 2.2.2.5, 3.2.5.1.1).
		t1 = nc.parse(first["mechToken"]) if first and \
		    ntlm_type(first.get("mechToken", b"")) == 1 else None
		if t1 is not None and t1["flags"] & nc.NEG_SIGN:
			t.check(m["flags"] & nc.NEG_SIGN, "the wrapped type 2 grants "
			    "NEGOTIATE_SIGN, which gss-ntlmssp's type 1 requested",
			    "(type 1 flags %08x, type 2 flags %08x)" % (t1["flags"],
			    m["flags"]))
	gerr = re.findall(r"gss_init_sec_context\(\) failed: ([^\n]*)", r.stderr)
	t.eq(gerr, [], "curl's GSSAPI (gss-ntlmssp) accepted the proxy's answer")
	second = spnego_parse(base64.b64decode(sent[1])) if len(sent) > 1 \
	    else None
	t.check(second is not None and second["kind"] == "resp" and
	    ntlm_type(second.get("responseToken", b"")) == 3,
	    "gss-ntlmssp: second token is a NegTokenResp with the type 3",
	    "(%s)" % describe(sent[1:2]))
	t.eq((r.status, r.body == pattern(77)), (200, True),
	    "gss-ntlmssp via curl --proxy-negotiate: 200 with the body") or \
	    t.log("curl stderr: %s" % r.stderr[-1500:])
	t.eq([h[0] for h in r.heads], [407, 200],
	    "gss-ntlmssp: 407 (type 2) then 200")
	ls = nc.lines_for(new_lines(p, n0, 2), "/size/77")
	t.eq(ls and (nc.squid_result(ls[-1]), nc.squid_user(ls[-1])),
	    ("TCP_MISS/200", "EXAMPLE\\alice"),
	    "gss-ntlmssp: logged 200 as EXAMPLE\\alice")
	# The 200 carries the last leg: accept-completed with our own
	# mechListMIC (RFC 4178 5), which gss-ntlmssp's MIC asked for.
	fin = [v for v in neg_values(r.headers) if v]
	last = spnego_parse(base64.b64decode(fin[-1])) if fin else None
	t.check(last is not None and last["kind"] == "resp" and
	    last.get("negState") == 0 and len(last.get("mechListMIC", b"")) ==
	    16 and last.get("mechListMIC", b"")[:4] == b"\x01\0\0\0",
	    "gss-ntlmssp: the 200 carries accept-completed with a 16-byte "
	    "NTLM mechListMIC", "(%s)" % describe(fin))

	# Wrong password in the user file: refused.
	bad = t.secret_file("ntlm-users-bad",
	    "EXAMPLE:alice:not-the-password\n")
	r, sent, got = ntlmssp_curl(t, kdc, p, mech, bad, o.url("/size/78"))
	t.eq(r.status, 407, "gss-ntlmssp with a wrong password: 407")


def scripted_spnego(t, p, o, mic, path):
	"""Samba's ntlm_auth as the NTLM client, wrapped in SPNEGO here:
	NegTokenInit(type 1) -> 407 with the type 2 in a NegTokenResp ->
	NegTokenResp(type 3, mic).  The final response."""
	cl = nc.NtlmAuthClient("alice", "EXAMPLE", PW)
	c = harness.RawConn(p.port)
	c.send(nc.request(o.url(path), spnego_init_ntlm(cl.type1()),
	    "Negotiate"))
	r1 = c.response()
	vals = [v for v in neg_values(r1.headers) if v] if r1 else []
	r2 = None
	if r1 is not None and r1.status == 407 and vals:
		resp = spnego_parse(base64.b64decode(vals[0]))
		type3 = cl.type3(resp.get("responseToken", b"")) if resp else None
		if type3 is not None:
			c.send(nc.request(o.url(path), spnego_resp_ntlm(type3, mic),
			    "Negotiate"))
			r2 = c.response()
	cl.close()
	c.close()
	return r2


def mic_checks(t, p, o):
	# No mechListMIC from the client (its NTLM has no session
	# signing): signed in; a wrong one: refused, whatever the password.
	r = scripted_spnego(t, p, o, None, "/size/90")
	t.eq(r and r.status, 200, "SPNEGO NTLM without a client mechListMIC: "
	    "200")
	off = len(p.errlog())
	r = scripted_spnego(t, p, o, b"\x01\0\0\0" + os.urandom(8) +
	    b"\0\0\0\0", "/size/91")
	t.eq(r and r.status, 407, "SPNEGO NTLM with a forged mechListMIC: 407")
	t.check(refusals(p, off, ["mechListMIC does not verify"]),
	    "forged mechListMIC: reason logged")
	off = len(p.errlog())
	r = scripted_spnego(t, p, o, b"\x01" * 7, "/size/92")
	t.eq(r and r.status, 407, "SPNEGO NTLM with a 7-byte mechListMIC: 407")
	t.check(refusals(p, off, ["not an NTLM signature"]),
	    "short mechListMIC: reason logged")


# ---------------------------------------------------------------------------
# (c) a network that offers negotiate but not ntlm.

def not_offered_checks(t, kdc, keytab, hf, o, mech, users):
	p = start_proxy(t, kdc, **neg_conf(keytab, hf, auth=("negotiate",)))
	before = o.stats()["requests"]

	off = len(p.errlog())
	cl = nc.NtlmAuthClient("alice", "EXAMPLE", PW)
	c = harness.RawConn(p.port)
	c.send(nc.request(o.url("/size/80"), cl.type1(), "Negotiate"))
	r = c.response()
	cl.close()
	t.eq(r and r.status, 407, "{negotiate} only, raw NTLMSSP type 1: 407")
	t.eq(r and neg_values(r.headers), [""], "{negotiate} only: a bare "
	    "Negotiate offered, no type 2")
	t.eq(r and offers(r.headers), ["Negotiate"], "{negotiate} only: NTLM "
	    "not offered")
	t.check(refusals(p, off, ["NTLM inside Negotiate is not offered"]),
	    "{negotiate} only: \"NTLM inside Negotiate is not offered\" logged",
	    "(%r)" % p.errlog()[off:][-300:])
	c.send(nc.request(o.url("/size/81")))
	r = c.response()
	t.eq(r and r.status, 407, "{negotiate} only: connection still usable")
	c.close()

	off = len(p.errlog())
	r, sent, got = ntlmssp_curl(t, kdc, p, mech, users, o.url("/size/82"))
	t.eq(r.status, 407, "{negotiate} only, gss-ntlmssp via SPNEGO: 407")
	t.check(refusals(p, off, ["NTLM inside Negotiate is not offered"]),
	    "{negotiate} only, SPNEGO-wrapped: reason logged",
	    "(%r)" % p.errlog()[off:][-300:])
	t.eq(o.stats()["requests"], before, "{negotiate} only: origin saw "
	    "nothing")
	p.stop()


def json_checks(t, kdc, keytab, hf, o):
	p = start_proxy(t, kdc, log_format=harness.Raw("json"),
	    **neg_conf(keytab, hf))
	cl = nc.NtlmAuthClient("alice", "EXAMPLE", PW)
	c = harness.RawConn(p.port)
	x = nc.handshake(c, o.url("/size/90"), cl, scheme="Negotiate")
	cl.close()
	c.close()
	t.eq(x.status, 200, "json proxy: NTLM in Negotiate 200")
	recs = p.wait_json_records(2)
	ok = [r for r in recs if r.get("status") == 200]
	t.eq(ok and (ok[-1].get("user"), ok[-1].get("auth")),
	    ("EXAMPLE\\alice", "ntlm"), "json: NTLM inside Negotiate logs "
	    "\"auth\":\"ntlm\"")
	p.stop()


def main(t):
	why = peers.kdc_available()
	if why is not None:
		t.fail("cannot run: " + why)
		return
	if not os.path.exists(GSSNTLMSSP):
		t.fail("cannot run: %s missing (install gss-ntlmssp)" % GSSNTLMSSP)
		return
	kdc = peers.MitKdc(t, REALM)
	kdc.addprinc_randkey("HTTP/" + HOST)
	keytab = kdc.ktadd("HTTP/" + HOST, os.path.join(t.tmpdir, "http.keytab"))
	hf = nc.write_hashfile(os.path.join(t.tmpdir, "ntlm.hashes"),
	    ["alice:" + nc.nt_hash(PW).hex()])
	mech, users = gss_ntlmssp_files(t)
	o = t.origin()

	p = start_proxy(t, kdc, **neg_conf(keytab, hf))
	r, c = harness.raw_request(p.port, nc.request(o.url("/size/1")))
	t.eq(r and offers(r.headers), ["Negotiate", "NTLM"],
	    "{negotiate, ntlm}: Negotiate offered first, then NTLM")
	c.close()
	raw_checks(t, p, o)
	spnego_checks(t, kdc, p, o, mech, users)
	mic_checks(t, p, o)
	not_offered_checks(t, kdc, keytab, hf, o, mech, users)
	json_checks(t, kdc, keytab, hf, o)

	log = "\n".join(px.errlog() for px in t.proxies).lower()
	t.eq([s for s in (PW.lower(), nc.nt_hash(PW).hex()) if s in log], [],
	    "no password or NT hash in the error log")
	t.check(p.alive(), "proxy alive at the end")


harness.run(main)
