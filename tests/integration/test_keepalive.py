#!/usr/bin/python3
"""Keep-alive on both sides: N requests from one curl command use one client
connection and one upstream connection, and log N access-log lines."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import pattern

N = 10


def main(t):
	o = t.origin()
	p = t.proxy()
	before = o.stats()
	urls = [o.url("/size/%d" % (100 + i)) for i in range(N)]
	r = harness.curl(p, "-w", "%{num_connects}\\n", *urls)
	t.eq(r.rc, 0, "curl exit code")
	t.eq(len(r.heads), N, "curl got N responses")
	t.eq([h[0] for h in r.heads], [200] * N, "all N answered 200")
	# -w output follows each body: "<body>N\n"; num_connects is 1 then 0s.
	expect = b"".join(pattern(100 + i) + (b"1\n" if i == 0 else b"0\n")
	    for i in range(N))
	t.eq(r.body, expect, "bodies in order, one client connection (num_connects 1,0,0..)")
	after = o.stats()
	t.eq(after["requests"] - before["requests"], N, "origin saw N requests")
	t.eq(after["connections"] - before["connections"], 1,
	    "origin saw 1 connection for N requests")
	lines = p.wait_access_lines(N)
	got = [l for l in lines if "/size/" in l]
	t.eq(len(got), N, "access log has N request lines")
	t.eq(len(lines), N, "access log has nothing but the N lines")

	# A second client reuses the pooled upstream connection.
	r = harness.curl(p, o.url("/size/5"))
	t.eq(r.body, pattern(5), "second client body")
	t.eq(o.stats()["connections"] - before["connections"], 1,
	    "idle upstream connection reused by the next client")

	# The origin closes an idle pooled connection: the next request must
	# not fail on the stale connection.
	r = harness.curl(p, o.url("/size/7?linger=200"))
	t.eq(r.body, pattern(7), "request before the origin drops the idle connection")
	time.sleep(0.6)
	r = harness.curl(p, o.url("/size/8"))
	t.eq((r.status, r.body), (200, pattern(8)),
	    "request after the origin closed the pooled connection")

	# Connection: close from the client is honoured.
	c = harness.RawConn(p.port)
	c.send(harness.get_req(o.url("/size/3"), extra="Connection: close\r\n"))
	resp = c.response()
	t.eq(resp and resp.body, pattern(3), "Connection: close request answered")
	t.check(c.closed(3), "proxy closes after Connection: close")
	c.close()


	# The pool: at most upstream_max_idle idle connections per origin, each
	# closed after upstream_idle_timeout.
	o2 = t.origin()
	p2 = t.proxy(upstream_max_idle=2, upstream_idle_timeout=1, workers=1)
	res = []

	def one(i):
		res.append(harness.curl(p2, o2.url("/slow/400")).status)

	th = [threading.Thread(target=one, args=(i,)) for i in range(4)]
	for x in th:
		x.start()
	for x in th:
		x.join(30)
	t.eq(res, [200] * 4, "4 parallel slow requests")
	t.eq(o2.stats()["connections"], 4, "4 upstream connections used")
	harness.wait_for(lambda: o2.stats()["open"] <= 2, 0.8, 0.05)
	t.eq(o2.stats()["open"], 2, "upstream_max_idle = 2 connections kept idle")
	t.check(harness.wait_for(lambda: o2.stats()["open"] == 0, 2.5, 0.1),
	    "idle upstream connections closed after upstream_idle_timeout",
	    "(open %d)" % o2.stats()["open"])


harness.run(main)
