#!/usr/bin/python3
"""Listening on [::1] and forwarding to an IPv6 origin."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import pattern


def main(t):
	o = t.origin()
	o6 = t.origin(host="::1")
	port = harness.free_port(harness.socket.AF_INET6)
	p = t.proxy(listen=["[::1]:%d" % port])
	px = "http://[::1]:%d" % port
	r = harness.curl(p, o.url("/size/100"), proxy_url=px)
	t.eq(r.rc, 0, "curl via [::1] exit code")
	t.eq((r.status, r.body), (200, pattern(100)), "request via the [::1] listener")
	r = harness.curl(p, o6.url("/size/200"), proxy_url=px)
	t.eq((r.status, r.body), (200, pattern(200)), "request to an IPv6 origin")
	r = harness.curl(p, o6.url("/echo"), proxy_url=px)
	t.contains(r.body.decode("latin-1"), o6.hostport, "Host [::1]:port forwarded")
	resp, c = harness.raw_request(port, "GET /proxy.pac HTTP/1.1\r\n"
	    "Host: [::1]:%d\r\n\r\n" % port, host="::1")
	t.eq(resp and resp.status, 200, "PAC via [::1]")
	if resp:
		t.contains(resp.body.decode("latin-1"),
		    "PROXY proxy.example.test:%d" % port, "PAC names the [::1] listener port")
	c.close()
	lines = p.wait_access_lines(3)
	t.check(len(lines) >= 2 and all(" ::1 " in l for l in lines[:2]),
	    "access log client is ::1", "(%r)" % lines[:2])
	t.check(not harness.port_open(port, "127.0.0.1"),
	    "nothing listens on 127.0.0.1 at that port")


harness.run(main)
