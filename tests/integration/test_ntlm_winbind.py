#!/usr/bin/python3
"""NTLMv2 sign-in with the winbind backend against a real Active Directory
domain controller: Samba 4 provisioned once for this file in a network
namespace (peers.AdDc), its winbindd asked by the proxy's
`ntlm_auth --helper-protocol=ntlm-server-1` helpers.  The proxy runs in a
private mount namespace where /run/samba is the DC's run dir (ntlm_auth
only knows the compiled-in socket path).

Covered: curl --proxy-ntlm GET and https through CONNECT (access log
ADEXAMPLE\\alice), Samba's ntlm_auth as a client (UNICODE, 232-byte
NTLMv2), wrong password and unknown user refused with the DC's verdict,
NTLMv1 refused (by our own check, before any DC), 20 parallel handshakes
through 2 helpers, a helper killed by pid and replaced, a stalled
winbindd (SIGSTOP): the proxy still answers /proxy.pac at once, the
sign-in finishes after SIGCONT, or is refused at helper_timeout and its
helper replaced; helper_queue = 1 under a burst: clean 503s, no hang; the
DC stopped: refusals, no hang."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc
import peers
from harness import pattern

USERS = {"alice": "Passw0rd-alice", "bob": "B0b-Passw0rd"}
DOM = "ADEXAMPLE"
HELPER = "/usr/bin/ntlm_auth --helper-protocol=ntlm-server-1 " \
    "--configfile=/dev/null"


def winbind_conf(**ntlm):
	sec = {"domain": DOM, "backend": harness.Raw("winbind"),
	    "helper": HELPER}
	sec.update(ntlm)
	return {"ntlm": sec, 'network "lo"': {"src": ["127.0.0.0/8"],
	    "auth": [harness.Raw("ntlm")]}}


def alice_args(pw=None, user="alice"):
	return nc.curl_ntlm_args(user, pw or USERS.get(user, "x"), DOM)


def info_since(p, off, words, timeout=5.0):
	"""Error-log lines at info after offset off saying a sign-in was
	refused for one of words."""
	def get():
		return [l for l in p.errlog()[off:].splitlines()
		    if " info: " in l and "refused" in l.lower() and
		    any(w.lower() in l.lower() for w in words)]
	harness.wait_for(get, timeout)
	return get()


def helpers_of(p):
	"""pids of the proxy's ntlm_auth children (not zombies)."""
	out = []
	for d in os.listdir("/proc"):
		if not d.isdigit():
			continue
		try:
			with open("/proc/%s/stat" % d) as f:
				st = f.read()
			exe = os.readlink("/proc/%s/exe" % d)
		except OSError:
			continue
		f = st[st.rindex(")") + 2:].split()
		if int(f[1]) == p.pid and f[0] != "Z" and \
		    exe.endswith("/ntlm_auth"):
			out.append(int(d))
	return out


def parallel(n, fn):
	"""Run fn(i) in n threads at once; the results in order."""
	res = [None] * n
	go = threading.Event()

	def run(i):
		go.wait()
		try:
			res[i] = fn(i)
		except Exception as e:
			res[i] = e
	th = [threading.Thread(target=run, args=(i,)) for i in range(n)]
	for x in th:
		x.start()
	go.set()
	for x in th:
		x.join(120)
	return res


def pac_time(p):
	"""Seconds /proxy.pac took on a fresh connection, and its status."""
	t0 = time.time()
	c = harness.RawConn(p.port, timeout=10)
	c.send(b"GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	r = c.response()
	c.close()
	return time.time() - t0, r.status


def basics(t, dc, p, o, ot):
	# GET: 407, then 200 with the DC's verdict; logged as ADEXAMPLE\alice.
	n0 = len(p.access_lines())
	r = harness.curl(p, "-v", *alice_args(), o.url("/size/1234"))
	t.eq(r.status, 200, "curl NTLM GET through the DC: 200")
	t.eq(r.body, pattern(1234), "curl NTLM GET body")
	t.eq([h[0] for h in r.heads], [407, 200], "GET: 407 then 200")
	ls = nc.lines_for(p.wait_access_lines(n0 + 2)[n0:], "/size/1234")
	t.eq(ls and nc.squid_user(ls[-1]), DOM + "\\alice",
	    "GET logged with user ADEXAMPLE\\alice")
	t.check("signed in as ADEXAMPLE\\alice" in p.errlog(),
	    "error log: signed in as ADEXAMPLE\\alice")
	# The DC itself saw it: its audit names the user and NTLMv2.
	t.check(harness.wait_for(lambda: "alice" in dc.log() and
	    "NTLMv2" in dc.log(), 5), "DC audit log shows alice's NTLMv2 "
	    "sign-in")

	# https through CONNECT on one connection.
	n0 = len(p.access_lines())
	r = harness.curl(p, "-v", "-k", *alice_args(), ot.url("/size/4321"))
	t.eq(r.status, 200, "curl NTLM https via CONNECT: 200")
	t.eq(r.body, pattern(4321), "https body")
	t.eq([h[0] for h in r.heads], [407, 200, 200],
	    "CONNECT: 407, tunnel 200, origin 200")
	ls = [l for l in p.wait_access_lines(n0 + 2)[n0:] if " CONNECT " in l]
	t.eq([nc.squid_result(l) for l in ls], ["TCP_DENIED/407",
	    "TCP_TUNNEL/200"], "CONNECT logged: 407, tunnel")
	t.eq(ls and nc.squid_user(ls[-1]), DOM + "\\alice",
	    "tunnel logged with user ADEXAMPLE\\alice")

	# bob, with Samba's own client (UNICODE strings, 232-byte NTLMv2).
	c = harness.RawConn(p.port)
	cl = nc.NtlmAuthClient("bob", DOM, USERS["bob"])
	x = nc.handshake(c, o.url("/size/10"), cl)
	cl.close()
	c.close()
	t.eq(x.status, 200, "ntlm_auth client (UNICODE NTLMv2) as bob: 200")
	t.check(x.type3 is not None and len(nc.parse(x.type3)["nt"]) > 24,
	    "that was an NTLMv2 response", "(%r)" % (x.type3 and
	    len(nc.parse(x.type3)["nt"])))

	# A MIC (python3-ntlm-auth, as Windows and Chromium send): the DC
	# checks NTProofStr, we check the MIC with the session key it returns.
	c = harness.RawConn(p.port)
	cl = nc.PyNtlmClient(t.tmpdir, "alice", DOM, USERS["alice"])
	x = nc.handshake(c, o.url("/size/11"), cl)
	cl.close()
	c.close()
	t.check(x.type3 is not None and nc.parse(x.type3)["mic"] is not None,
	    "python3-ntlm-auth sent a MIC")
	t.eq(x.status, 200, "NTLMv2 with a MIC through the DC: 200")
	off = len(p.errlog())
	c = harness.RawConn(p.port)
	cl = nc.PyNtlmClient(t.tmpdir, "alice", DOM, USERS["alice"])
	x = nc.handshake(c, o.url("/size/12"), cl, type3_hook=nc.tamper_mic)
	cl.close()
	c.close()
	t.eq(x.status, 407, "a tampered MIC is refused though the DC "
	    "accepts the proof")
	t.check(info_since(p, off, ["MIC"]), "the MIC refusal is logged")

	# Refusals: the DC's verdict, logged as our own words.
	for user, pw, what, why in (
	    ("alice", "Wrong-Passw0rd", "wrong password", "wrong password"),
	    ("mallory", "Whatever-1", "unknown user", "unknown user")):
		off = len(p.errlog())
		r = harness.curl(p, *alice_args(pw, user), o.url("/size/10"))
		t.eq(r.status, 407, "%s: 407 in the end" % what)
		t.check(info_since(p, off, [why]), "%s: logged as '%s'" %
		    (what, why), "(%s)" % p.errlog()[off:][-600:])
		t.check(pw not in p.errlog(), "%s: password not logged" % what)

	# NTLMv1 (24-byte responses): refused by the proxy, no DC asked.
	off = len(p.errlog())
	c = harness.RawConn(p.port)
	cl = nc.NtlmAuthClient("alice", DOM, USERS["alice"],
	    options=["client ntlmv2 auth=no"])
	x = nc.handshake(c, o.url("/size/10"), cl)
	cl.close()
	c.close()
	t.check(x.type3 is not None and len(nc.parse(x.type3)["nt"]) == 24,
	    "the v1 client sent a 24-byte response")
	t.eq(x.status, 407, "NTLMv1 refused: 407")
	t.check(info_since(p, off, ["NTLMv1"]), "NTLMv1: logged as such")


def queueing(t, dc, p, o):
	# 20 handshakes at once, 2 helpers: they queue, all succeed.
	n0 = len(p.access_lines())
	t0 = time.time()
	res = parallel(20, lambda i: harness.curl(p, *alice_args(),
	    o.url("/size/%d" % (100 + i))))
	dt = time.time() - t0
	st = [getattr(r, "status", r) for r in res]
	t.eq(st, [200] * 20, "20 parallel sign-ins through 2 helpers: all 200")
	t.check(len(helpers_of(p)) <= 2, "at most 2 helpers",
	    "(%r)" % helpers_of(p))
	ls = p.wait_access_lines(n0 + 40)[n0:]
	t.eq(len([l for l in ls if nc.squid_user(l) == DOM + "\\alice"]), 20,
	    "20 requests logged as ADEXAMPLE\\alice")
	t.check("too many" not in p.errlog(), "none refused for the queue")
	sys.stdout.write("# 20 parallel sign-ins: %.2f s\n" % dt)

	# A helper killed by pid: replaced, and the next sign-ins work.
	hs = helpers_of(p)
	t.check(len(hs) >= 1, "helpers are running", "(%r)" % hs)
	if hs:
		off = len(p.errlog())
		os.kill(hs[0], signal.SIGKILL)
		t.check(p.wait_errlog("exited; restarting it", 5, off),
		    "killed helper noticed")
		for i in range(3):
			r = harness.curl(p, *alice_args(), o.url("/size/7"))
			t.eq(r.status, 200, "sign-in %d after a helper was killed"
			    % (i + 1))
		t.check(hs[0] not in helpers_of(p), "the killed helper is gone "
		    "(reaped)")


def stalls(t, dc, p, o):
	# winbindd stalled: sign-ins wait, the proxy answers everything else.
	wb = dc.winbindd_pid()
	os.kill(wb, signal.SIGSTOP)
	try:
		out = {}
		th = threading.Thread(target=lambda: out.setdefault("r",
		    harness.curl(p, *alice_args(), o.url("/size/55"))))
		th.start()
		time.sleep(0.8)
		t.check(th.is_alive(), "sign-in waits while winbindd is stopped")
		dt, st = pac_time(p)
		t.eq(st, 200, "/proxy.pac during a stalled sign-in")
		t.check(dt < 0.5, "/proxy.pac answered at once (%.3f s)" % dt)
		r = harness.curl(p, o.url("/size/1"))
		t.eq(r.status, 407, "a new client gets its 407 at once")
	finally:
		os.kill(wb, signal.SIGCONT)
	th.join(30)
	t.eq(out.get("r") and out["r"].status, 200,
	    "the stalled sign-in completes after SIGCONT")

	# Stalled past helper_timeout (3 s): refused, helper killed, replaced.
	off = len(p.errlog())
	os.kill(wb, signal.SIGSTOP)
	try:
		t0 = time.time()
		r = harness.curl(p, *alice_args(), o.url("/size/56"))
		dt = time.time() - t0
	finally:
		os.kill(wb, signal.SIGCONT)
	t.eq(r.status, 503, "sign-in past helper_timeout: 503")
	t.check(2.5 < dt < 8, "refused after about helper_timeout (%.1f s)" % dt)
	t.check("did not answer in 3000 ms; killing it" in p.errlog()[off:],
	    "the hung helper was killed")
	r = harness.curl(p, *alice_args(), o.url("/size/57"))
	t.eq(r.status, 200, "next sign-in after the timeout: 200")


def queue_full(t, dc, o):
	# helpers = 1, helper_queue = 1, a burst while the DC is stalled:
	# one in flight, one waiting, the rest refused at once (clean 503s).
	p = t.proxy(start=False, **winbind_conf(helpers=1, helper_queue=1,
	    helper_timeout=10))
	p.prefix = dc.mount_prefix()
	p.start()
	r = harness.curl(p, *alice_args(), o.url("/size/1"))
	t.eq(r.status, 200, "queue-1 proxy works")
	wb = dc.winbindd_pid()
	os.kill(wb, signal.SIGSTOP)
	res = [None] * 8
	try:
		def one(i):
			res[i] = harness.curl(p, *alice_args(), o.url("/size/%d" %
			    (200 + i)), timeout=30)
		th = [threading.Thread(target=one, args=(i,)) for i in range(8)]
		for x in th:
			x.start()
			time.sleep(0.05)
		harness.wait_for(lambda: sum(1 for x in res if x is not None)
		    >= 6, 10)
		done_early = [x.status for x in res if x is not None]
	finally:
		os.kill(wb, signal.SIGCONT)
	for x in th:
		x.join(30)
	st = [x.status if x is not None else None for x in res]
	t.check(len(done_early) == 6, "6 of 8 refused at once while 2 wait",
	    "(%r)" % done_early)
	t.check(all(s == 503 for s in done_early), "those are 503s",
	    "(%r)" % done_early)
	t.eq(sorted(st, key=str), [200, 200] + [503] * 6,
	    "after SIGCONT: 2 signed in, 6 refused, none hung")
	t.check("too many sign-ins waiting" in p.errlog(),
	    "refusals logged as 'too many sign-ins waiting'")
	p.stop()


def dc_down(t, dc, p, o):
	dc.stop()
	off = len(p.errlog())
	t0 = time.time()
	r = harness.curl(p, *alice_args(), o.url("/size/9"), timeout=30)
	dt = time.time() - t0
	t.eq(r.status, 503, "DC stopped: sign-in refused with a 503")
	t.check(dt < 5, "refused without a hang (%.1f s)" % dt)
	t.check(info_since(p, off, ["domain controller", "helper"]),
	    "DC stopped: a reason logged", "(%s)" % p.errlog()[off:][-600:])
	dt, st = pac_time(p)
	t.eq(st, 200, "proxy still serves /proxy.pac with the DC down")


def main(t):
	dc = peers.start_ad_dc(t, USERS)
	if dc is None:
		return
	o = t.origin()
	ot = t.origin(tls=True)
	p = t.proxy(start=False, connect_ports=[ot.port],
	    **winbind_conf(helpers=2,
	    helper_timeout=3))
	p.prefix = dc.mount_prefix()
	p.start()
	basics(t, dc, p, o, ot)
	queueing(t, dc, p, o)
	stalls(t, dc, p, o)
	queue_full(t, dc, o)
	dc_down(t, dc, p, o)
	# Nothing secret in the error log: no NT response or session key.
	log = p.errlog()
	t.check("NT-Response" not in log and "User-Session-Key" not in log,
	    "no helper protocol lines in the error log")


harness.run(main)
