#!/usr/bin/python3
"""Forwarding loops: a Via naming our hostname is refused with 403."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import VIA, get_req, pattern


def main(t):
	o = t.origin()
	p = t.proxy()
	before = o.stats()
	for via in (VIA, "1.1 proxy.example.test", "1.0 a.example, " + VIA,
	    "1.1 PROXY.EXAMPLE.TEST (iaproxy/0.1.0)"):
		resp, c = harness.raw_request(p.port, get_req(o.url("/size/5"),
		    extra="Via: %s\r\n" % via))
		t.eq(resp and resp.status, 403, "Via %r -> 403" % via)
		if resp:
			t.contains(resp.body.decode("latin-1").lower(), "loop",
			    "403 page says loop")
			t.check(resp.header("x-iaproxy-error") is not None,
			    "loop 403 carries X-Iaproxy-Error")
		c.close()
	# Two Via fields, ours in the second.
	resp, c = harness.raw_request(p.port, get_req(o.url("/size/5"),
	    extra="Via: 1.0 a.example\r\nVia: %s\r\n" % VIA))
	t.eq(resp and resp.status, 403, "second Via field naming us -> 403")
	c.close()
	after = o.stats()
	t.eq(after["requests"] - before["requests"], 0, "looping requests never forwarded")

	# Other proxies' Via pass.
	for via in ("1.1 other.example", "1.1 proxy.example.test.other",
	    "1.1 x.proxy.example.test"):
		resp, c = harness.raw_request(p.port, get_req(o.url("/size/5"),
		    extra="Via: %s\r\n" % via))
		t.eq(resp and (resp.status, resp.body), (200, pattern(5)),
		    "Via %r is not a loop" % via)
		c.close()

	# A real loop: a request to ourselves through ourselves by a name that is
	# not one of our gateway names (localhost:PORT).
	resp, c = harness.raw_request(p.port, get_req(
	    "http://localhost:%d/size/5" % p.port), timeout=10)
	t.isin(resp and resp.status, (403, 404), "request looping through the proxy stopped")
	c.close()
	t.check(p.alive(), "proxy alive")
	p.stop()
	self_connect(t, o)


def connect_status(port, target):
	resp, c = harness.raw_request(port, "CONNECT %s HTTP/1.1\r\nHost: %s"
	    "\r\n\r\n" % (target, target), "CONNECT")
	c.close()
	return resp and resp.status


def local_addresses():
	"""This machine's IPv4 addresses other than loopback."""
	import subprocess
	out = subprocess.run(["/usr/sbin/ip", "-4", "-o", "addr"],
	    capture_output=True, text=True).stdout
	return [l.split()[3].split("/")[0] for l in out.splitlines()
	    if " lo " not in l]


def self_connect(t, o):
	# CONNECT to our own listener would bring the client back in from
	# the gateway's address (laundering its own): refused, even when the
	# port is allowed, by any name or address of this machine.
	port = harness.free_port()
	p = t.proxy(listen=["0.0.0.0:%d" % port],
	    connect_ports=[443, port, o.port])
	for target in ("127.0.0.1:%d" % port, "localhost:%d" % port,
	    "127.0.0.2:%d" % port) + tuple("%s:%d" % (a, port)
	    for a in local_addresses()[:2]):
		t.eq(connect_status(p.port, target), 403,
		    "CONNECT to the gateway's own listener (%s) -> 403" % target)
	t.check("own listener: refused" in p.errlog(),
	    "refusal logged as the gateway's own listener")
	# Other ports on the same addresses are ordinary origins.
	t.eq(connect_status(p.port, "127.0.0.1:%d" % o.port), 200,
	    "CONNECT to another port of this machine still works")
	t.check(p.alive(), "proxy alive")


harness.run(main)
