#!/usr/bin/python3
"""Per-IP connection cap and the request head limits."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import get_req, pattern


def ask(p, o, extra="", path="/size/5"):
	resp, c = harness.raw_request(p.port, get_req(o.url(path), extra=extra))
	c.close()
	return resp.status if resp else None


def main(t):
	o = t.origin()
	p = t.proxy(max_conns_per_ip=3, max_headers=20, max_header_bytes=4096,
	    max_line_bytes=1024)

	# Three connections are fine and stay open (keep-alive).
	conns = []
	for i in range(3):
		c = harness.RawConn(p.port)
		c.send(get_req(o.url("/size/%d" % (i + 1))))
		r = c.response()
		t.eq(r and r.body, pattern(i + 1), "connection %d of 3 served" % (i + 1))
		conns.append(c)
	# The fourth gets 503 and is closed.
	c4 = harness.RawConn(p.port)
	c4.send(get_req(o.url("/size/4")))
	r = c4.response()
	t.eq(r and r.status, 503, "4th concurrent connection -> 503")
	if r:
		t.check(r.header("x-iaproxy-error") is not None, "503 carries X-Iaproxy-Error")
	t.check(c4.closed(2), "4th connection closed after the 503")
	c4.close()
	# The first three still work.
	conns[0].send(get_req(o.url("/size/6")))
	r = conns[0].response()
	t.eq(r and r.body, pattern(6), "existing connection still served at the cap")
	# After one closes, a new one is accepted.
	conns[1].close()
	ok = harness.wait_for(lambda: ask(p, o) == 200, 3, 0.2)
	t.check(ok, "new connection served after one closed")
	for c in conns:
		c.close()
	time.sleep(0.3)

	# max_headers = 20: 20 fields pass (Host + 19), 21+ refused.
	h19 = "".join("X-H%d: v\r\n" % i for i in range(19))
	t.eq(ask(p, o, h19), 200, "20 header fields accepted")
	h25 = "".join("X-H%d: v\r\n" % i for i in range(25))
	t.isin(ask(p, o, h25), (400, 431), "26 header fields refused")
	# max_header_bytes = 4096 (lines under max_line_bytes).
	small = "".join("X-B%d: %s\r\n" % (i, "v" * 500) for i in range(5))
	t.eq(ask(p, o, small), 200, "~2.6 kB head accepted")
	big = "".join("X-B%d: %s\r\n" % (i, "v" * 900) for i in range(6))
	t.eq(ask(p, o, big), 431, "~5.5 kB head -> 431")
	# max_line_bytes = 1024.
	t.eq(ask(p, o, "X-L: %s\r\n" % ("a" * 900)), 200, "900-byte header line accepted")
	t.isin(ask(p, o, "X-L: %s\r\n" % ("a" * 1100)), (400, 431),
	    "1100-byte header line refused")
	t.check(p.alive(), "proxy alive")
	p.stop()
	whole_proxy(t, o)


def whole_proxy(t, o):
	# max_connections = 5 over all addresses and both workers.
	p = t.proxy(max_connections=5, max_conns_per_ip=0, workers=2)
	held = []
	for i in range(5):
		c = harness.RawConn(p.port)
		c.send(get_req(o.url("/size/%d" % (i + 1))))
		r = c.response()
		t.eq(r and r.status, 200, "max_connections: connection %d of 5" %
		    (i + 1))
		held.append(c)
	over = []
	for i in range(3):
		c = harness.RawConn(p.port)
		c.send(get_req(o.url("/size/9")))
		r = c.response()
		t.eq(r and r.status, 503, "max_connections: one more (%d) -> 503" %
		    (i + 1))
		t.check(r is not None and "connection limit" in
		    (r.header("x-iaproxy-error") or ""), "503 says the proxy is "
		    "at its connection limit")
		t.check(r is not None and r.header("retry-after") == "5",
		    "503 carries Retry-After")
		t.check(c.closed(2), "the refused connection is closed")
		over.append(c)
	t.check("max_connections (5) reached" in p.errlog(),
	    "error log names max_connections")
	# Recovery: two let go, two new ones are served; then full again.
	held.pop().close()
	held.pop().close()
	ok = harness.wait_for(lambda: ask(p, o) == 200, 3, 0.1)
	t.check(ok, "max_connections: served again after some closed")
	new = []
	for i in range(2):
		c = harness.RawConn(p.port)
		c.send(get_req(o.url("/size/7")))
		r = c.response()
		t.eq(r and r.status, 200, "recovery: new connection %d" % (i + 1))
		new.append(c)
	t.eq(ask(p, o), 503, "full again -> 503")
	for c in held + over + new:
		c.close()
	t.check(harness.wait_for(lambda: ask(p, o) == 200, 3, 0.1),
	    "all let go: served")
	t.check(p.alive(), "proxy alive")


harness.run(main)
