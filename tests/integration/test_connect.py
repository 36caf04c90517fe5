#!/usr/bin/python3
"""CONNECT: tunnels to allowed ports, 403 elsewhere, half-close."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import get_req, pattern


def main(t):
	ot = t.origin(tls=True)
	o = t.origin()
	# A listener on a port CONNECT is not allowed to: it must see nothing.
	trap = socket.socket()
	trap.bind(("127.0.0.1", 0))
	trap.listen(8)
	trap.setblocking(False)
	trap_port = trap.getsockname()[1]
	p = t.proxy(connect_ports=[443, ot.port, o.port])

	# curl https:// through the proxy (CONNECT + TLS to the origin).
	r = harness.curl(p, "-k", ot.url("/size/5000"))
	t.eq(r.rc, 0, "curl https via CONNECT exit code")
	t.eq(r.status, 200, "https via CONNECT status")
	t.eq(r.body, pattern(5000), "https via CONNECT body")
	t.eq([h[0] for h in r.heads][:1], [200], "CONNECT answered 200")
	r = harness.curl(p, "-k", ot.url("/size/3000000"))
	t.eq(r.body, pattern(3000000), "3 MB through the tunnel")
	t.eq(ot.stats()["requests"], 2, "TLS origin saw both requests")

	# The exact CONNECT answer.
	c = harness.RawConn(p.port)
	c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" %
	    (o.port, o.port))
	head = b""
	while b"\r\n\r\n" not in head:
		d = c.sock.recv(1)
		if not d:
			break
		head += d
	t.check(head.startswith(b"HTTP/1.1 200 "), "CONNECT status line",
	    "(got %r)" % head)
	# Raw HTTP through the tunnel, then half-close: the whole answer still
	# arrives and then the tunnel closes.
	c.send(get_req("/size/20000", host=o.hostport).replace(
	    "GET /size/20000", "GET /size/20000", 1))
	c.shutdown_write()
	r = c.response()
	t.eq(r and r.body, pattern(20000), "response through the tunnel after half-close")
	t.check(c.closed(5), "tunnel closed after both sides finished")
	c.close()

	# CONNECT to a port not in connect_ports: 403, nothing connected.
	for port in (25, trap_port):
		resp, c = harness.raw_request(p.port,
		    "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
		    % (port, port), method="GET")
		t.eq(resp and resp.status, 403, "CONNECT to port %d -> 403" %
		    (25 if port == 25 else 0))
		if resp:
			t.check(resp.header("x-iaproxy-error") is not None,
			    "403 carries X-Iaproxy-Error")
		c.close()
	try:
		s, _ = trap.accept()
		s.close()
		t.fail("denied CONNECT opened a connection to the destination")
	except BlockingIOError:
		t.check(True, "denied CONNECT opened no connection")
	trap.close()

	# Tunnel keeps working in both directions with a larger exchange.
	c = harness.RawConn(p.port)
	c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" %
	    (o.port, o.port))
	r = c.response(method="CONNECT")
	t.eq(r and r.status, 200, "second CONNECT 200")
	big = os.urandom(300000)
	c.send(("POST /echo HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
	    % (o.hostport, len(big))).encode() + big)
	r = c.response()
	import hashlib
	import json
	ok = False
	if r:
		e = json.loads(r.body)
		ok = e["body_sha256"] == hashlib.sha256(big).hexdigest()
	t.check(ok, "300 kB upload through the tunnel arrives intact")
	c.close()


harness.run(main)
