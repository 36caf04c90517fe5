#!/usr/bin/python3
"""Timeouts and upstream failures: slowloris, idle keep-alive, slow origin,
refused connect, unknown name, connect timeout, idle tunnel.

The connect timeout needs a destination that drops SYNs.  harness.SynDropper
makes one without privileges: a listener whose accept queue is full."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import get_req, pattern

HT = 2		# header_timeout
IDLE = 4	# client_idle_timeout
UP = 2		# upstream_timeout
CT = 2		# connect_timeout
TUN = 3		# tunnel_idle_timeout


def slowloris(t, p, o):
	data = get_req(o.url("/size/1")).encode()
	c = harness.RawConn(p.port, timeout=0.5)
	start = time.time()
	got = b""
	closed = False
	for i in range(len(data)):
		if time.time() - start > HT + 5:
			break
		try:
			c.sock.send(data[i:i + 1])
		except OSError:
			closed = True
			break
		try:
			d = c.sock.recv(4096)
			if not d:
				closed = True
				break
			got += d
			break
		except socket.timeout:
			pass
		except OSError:
			closed = True
			break
	el = time.time() - start
	if got:
		c.sock.settimeout(2)
		try:
			while True:
				d = c.sock.recv(4096)
				if not d:
					break
				got += d
		except OSError:
			pass
		closed = True
	t.check(closed, "slowloris: connection cut off", "(after %.1fs)" % el)
	t.between(el, HT - 0.5, HT + 1.5, "slowloris: cut off at header_timeout")
	if got:
		t.check(got.startswith(b"HTTP/1.1 408"), "slowloris: answer is a 408",
		    "(got %r)" % got[:60])
	c.close()


def idle(t, p, o):
	c = harness.RawConn(p.port)
	c.send(get_req(o.url("/size/2")))
	r = c.response()
	t.eq(r and r.body, pattern(2), "idle: first request answered")
	start = time.time()
	t.check(not c.closed(1.0), "idle: keep-alive connection still open after 1 s")
	closed = c.closed(IDLE + 2)
	el = time.time() - start
	t.check(closed, "idle: connection closed silently")
	t.between(el, min(HT, IDLE) - 0.5, IDLE + 1.5,
	    "idle: closed at client_idle_timeout")
	c.close()


def idle_fresh(t, p, o):
	c = harness.RawConn(p.port)
	start = time.time()
	closed = c.closed(HT + IDLE + 2)
	el = time.time() - start
	t.check(closed, "fresh silent connection closed without a response")
	t.between(el, HT - 0.5, max(HT, IDLE) + 1.5,
	    "fresh silent connection closed after the timeout")
	c.close()


def upstream(t, p, o):
	start = time.time()
	resp, c = harness.raw_request(p.port, get_req(o.url("/slow/8000")),
	    timeout=UP + 6)
	el = time.time() - start
	t.eq(resp and resp.status, 504, "slow origin -> 504")
	t.between(el, UP - 0.5, UP + 1.5, "504 at upstream_timeout")
	if resp:
		t.check(resp.header("x-iaproxy-error") is not None,
		    "504 carries X-Iaproxy-Error")
	c.close()


def refused(t, p, o):
	s, port = harness.closed_port()
	resp, c = harness.raw_request(p.port,
	    get_req("http://127.0.0.1:%d/x" % port), timeout=5)
	t.eq(resp and resp.status, 502, "connect refused -> 502")
	c.close()
	s.close()


def nxdomain(t, p, o):
	resp, c = harness.raw_request(p.port,
	    get_req("http://nonexistent.invalid/x"), timeout=8)
	t.eq(resp and resp.status, 502, "unresolvable name -> 502")
	if resp:
		t.contains(resp.body.decode("latin-1"), "proxy.example.test",
		    "error page names the hostname")
	c.close()


def connect_to(t, p, o):
	d = harness.SynDropper()
	if not t.check(d.verify(), "SYN-dropping destination really hangs"):
		d.close()
		return
	start = time.time()
	resp, c = harness.raw_request(p.port,
	    get_req("http://127.0.0.1:%d/x" % d.port), timeout=CT + 6)
	el = time.time() - start
	t.eq(resp and resp.status, 504, "connect timeout -> 504")
	t.between(el, CT - 0.5, CT + 1.5, "504 at connect_timeout")
	c.close()
	d.close()


def garbage(t, p, o):
	for path in ("/reset", "/garbage"):
		resp, c = harness.raw_request(p.port, get_req(o.url(path)))
		t.eq(resp and resp.status, 502, "origin %s -> 502" % path)
		c.close()


def tunnel(t, p, o):
	c = harness.RawConn(p.port, timeout=5)
	c.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (o.hostport, o.hostport))
	r = c.response(method="CONNECT")
	t.eq(r and r.status, 200, "tunnel: established")
	c.send(get_req("/size/3", host=o.hostport))
	r = c.response()
	t.eq(r and r.body, pattern(3), "tunnel: traffic passes")
	start = time.time()
	closed = c.closed(TUN + 4)
	el = time.time() - start
	t.check(closed, "tunnel: idle tunnel closed")
	t.between(el, TUN - 0.5, TUN + 1.5, "tunnel: closed at tunnel_idle_timeout")
	c.close()


def main(t):
	o = t.origin()
	p = t.proxy(header_timeout=HT, client_idle_timeout=IDLE,
	    upstream_timeout=UP, connect_timeout=CT, tunnel_idle_timeout=TUN,
	    connect_ports=[o.port])
	subs = [slowloris, idle, idle_fresh, upstream, refused, nxdomain,
	    connect_to, garbage, tunnel]
	th = []
	for f in subs:
		def wrap(f=f):
			try:
				f(t, p, o)
			except Exception as e:
				t.fail("%s: exception %r" % (f.__name__, e))
		x = threading.Thread(target=wrap)
		x.start()
		th.append(x)
	for x in th:
		x.join(60)
	t.check(p.alive(), "proxy still running")


harness.run(main)
