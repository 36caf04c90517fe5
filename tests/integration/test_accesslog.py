#!/usr/bin/python3
"""Access log: Squid native format, JSON format, SIGUSR1 reopen."""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import get_req, pattern

JSON_KEYS = {"time", "duration_ms", "client", "method", "url", "status",
    "result", "bytes_out", "bytes_in", "upstream", "content_type", "user",
    "auth", "reason"}


def traffic(t, p, o, ot):
	"""One of each: GET, POST, CONNECT, denied CONNECT, 400, PAC."""
	r = harness.curl(p, o.url("/size/512"))
	t.eq(r.body, pattern(512), "GET answered")
	r = harness.curl(p, "--data-binary", "x" * 1000, o.url("/echo"))
	t.eq(r.status, 200, "POST answered")
	r = harness.curl(p, "-k", ot.url("/size/4567"))
	t.eq(r.body, pattern(4567), "CONNECT answered")
	resp, c = harness.raw_request(p.port,
	    "CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n")
	t.eq(resp and resp.status, 403, "CONNECT :25 denied")
	c.close()
	resp, c = harness.raw_request(p.port, get_req(o.url("/x"),
	    extra="Content-Length: 1\r\nContent-Length: 2\r\n"))
	t.eq(resp and resp.status, 400, "bad request refused")
	c.close()
	return 5


def squid_format(t, o, ot):
	p = t.proxy(connect_ports=[ot.port])
	now = time.time()
	n = traffic(t, p, o, ot)
	lines = p.wait_access_lines(n)
	t.eq(len(lines), n, "squid: one line per request/tunnel")
	ts = r"(\d{10})\.\d{3} +(\d+) 127\.0\.0\.1 "
	pats = {
		"GET": ts + r"TCP_MISS/200 (\d+) GET http://127\.0\.0\.1:%d/size/512 - "
		    r"HIER_DIRECT/127\.0\.0\.1 application/octet-stream$" % o.port,
		"POST": ts + r"TCP_MISS/200 (\d+) POST http://127\.0\.0\.1:%d/echo - "
		    r"HIER_DIRECT/127\.0\.0\.1 application/json$" % o.port,
		"CONNECT": ts + r"TCP_TUNNEL/200 (\d+) CONNECT 127\.0\.0\.1:%d - "
		    r"HIER_DIRECT/127\.0\.0\.1 -$" % ot.port,
		"DENIED": ts + r"TCP_DENIED/403 (\d+) CONNECT 127\.0\.0\.1:25 - "
		    r"HIER_NONE/- \S+$",
		"400": ts + r"NONE_NONE/400 (\d+) \S+ \S+ - HIER_NONE/- text/html$",
	}
	for name, pat in pats.items():
		m = [re.match(pat, l) for l in lines]
		m = [x for x in m if x]
		if not t.eq(len(m), 1, "squid: %s line matches %s" % (name, pat)):
			t.log("lines: %r" % lines)
			continue
		stamp, dur, size = int(m[0].group(1)), int(m[0].group(2)), int(m[0].group(3))
		t.check(abs(stamp - now) < 60, "squid: %s timestamp is now" % name)
		t.check(dur < 10000, "squid: %s duration in ms" % name, "(%d)" % dur)
		if name == "GET":
			t.check(size >= 512, "squid: GET bytes include the body", "(%d)" % size)
		if name == "CONNECT":
			t.check(size >= 4567, "squid: CONNECT bytes", "(%d)" % size)

	# SIGUSR1 reopens: after a rename the next line goes to a new file.
	old = p.access_log + ".1"
	os.rename(p.access_log, old)
	p.reopen_logs()
	time.sleep(0.5)
	r = harness.curl(p, o.url("/size/33"))
	t.eq(r.body, pattern(33), "request after SIGUSR1")
	new = p.wait_access_lines(1)
	t.eq(len(new), 1, "SIGUSR1: new log file with the new line")
	t.check(new and "/size/33" in new[0], "SIGUSR1: it is the new request")
	t.eq(len(p.access_lines(old)), n, "SIGUSR1: renamed file got no more lines")
	t.check(p.alive(), "alive after SIGUSR1")
	p.stop()


def json_format(t, o, ot):
	p = t.proxy(connect_ports=[ot.port], log_format=harness.Raw("json"))
	now = time.time()
	n = traffic(t, p, o, ot)
	lines = p.wait_access_lines(n)
	t.eq(len(lines), n, "json: one line per request/tunnel")
	recs = []
	for l in lines:
		try:
			recs.append(json.loads(l))
		except ValueError:
			t.fail("json: line is not JSON: %r" % l)
	for r in recs:
		t.check(JSON_KEYS <= set(r), "json: all keys present",
		    "(missing %r)" % (JSON_KEYS - set(r)))

	def one(pred, what):
		m = [r for r in recs if pred(r)]
		t.eq(len(m), 1, "json: one %s record" % what)
		return m[0] if m else {}

	g = one(lambda r: r.get("method") == "GET", "GET")
	if g:
		t.eq(g.get("url"), o.url("/size/512"), "json GET url")
		t.eq(g.get("status"), 200, "json GET status (a number)")
		t.eq(g.get("result"), "TCP_MISS", "json GET result")
		t.eq(g.get("client"), "127.0.0.1", "json GET client")
		t.check(isinstance(g.get("time"), float) and abs(g["time"] - now) < 60,
		    "json GET time is a float epoch", "(%r)" % g.get("time"))
		t.check(isinstance(g.get("duration_ms"), (int, float)) and
		    0 <= g["duration_ms"] < 10000, "json GET duration_ms")
		t.check(isinstance(g.get("bytes_out"), int) and g["bytes_out"] >= 512,
		    "json GET bytes_out", "(%r)" % g.get("bytes_out"))
		t.check(isinstance(g.get("bytes_in"), int) and g["bytes_in"] > 0,
		    "json GET bytes_in", "(%r)" % g.get("bytes_in"))
		t.contains(str(g.get("upstream")), "127.0.0.1", "json GET upstream")
		t.eq(g.get("content_type"), "application/octet-stream", "json GET content_type")
		t.eq((g.get("user"), g.get("auth"), g.get("reason")), (None, None, None),
		    "json GET user/auth/reason null")
	pr = one(lambda r: r.get("method") == "POST", "POST")
	if pr:
		t.check(isinstance(pr.get("bytes_in"), int) and pr["bytes_in"] >= 1000,
		    "json POST bytes_in counts the body", "(%r)" % pr.get("bytes_in"))
	c = one(lambda r: r.get("method") == "CONNECT" and r.get("status") == 200,
	    "CONNECT")
	if c:
		t.eq(c.get("result"), "TCP_TUNNEL", "json CONNECT result")
		t.eq(c.get("url"), "127.0.0.1:%d" % ot.port, "json CONNECT url")
		t.check(isinstance(c.get("tunnel_up"), int) and c["tunnel_up"] > 0,
		    "json CONNECT tunnel_up", "(%r)" % c.get("tunnel_up"))
		t.check(isinstance(c.get("tunnel_down"), int) and c["tunnel_down"] >= 4567,
		    "json CONNECT tunnel_down", "(%r)" % c.get("tunnel_down"))
	d = one(lambda r: r.get("status") == 403, "denied CONNECT")
	if d:
		t.eq(d.get("result"), "TCP_DENIED", "json denied result")
		t.check(isinstance(d.get("reason"), str) and d["reason"],
		    "json denied reason set", "(%r)" % d.get("reason"))
	e = one(lambda r: r.get("status") == 400, "400")
	if e:
		t.eq(e.get("result"), "NONE_NONE", "json 400 result")
		t.check(isinstance(e.get("reason"), str) and e["reason"],
		    "json 400 reason set", "(%r)" % e.get("reason"))
	p.stop()


def main(t):
	o = t.origin()
	ot = t.origin(tls=True)
	squid_format(t, o, ot)
	json_format(t, o, ot)


harness.run(main)
