#!/usr/bin/python3
"""SIGHUP and the listening sockets: an address added to `listen` starts
accepting, one removed stops (its open connections carry on), and an address
that cannot be bound fails the whole reload with the old config kept."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import get_req, pattern


def count(p, text):
	return p.errlog().count(text)


def get_on(port, o, n):
	resp, c = harness.raw_request(port, get_req(o.url("/size/%d" % n)))
	c.close()
	return resp and (resp.status, resp.body)


def main(t):
	o = t.origin()
	p = t.proxy()
	a = "127.0.0.1:%d" % p.port
	port2 = harness.free_port()
	b = "127.0.0.1:%d" % port2
	t.check(not harness.port_open(port2), "second port closed at first")

	# Add a listener.
	n = count(p, "reloaded")
	p.write_config(listen=[a, b])
	p.reload()
	t.check(harness.wait_for(lambda: count(p, "reloaded") > n, 5),
	    "reload adding a listener logged")
	t.check(harness.wait_for(lambda: harness.port_open(port2), 5),
	    "added listener accepts")
	t.eq(get_on(port2, o, 9), (200, pattern(9)), "request on the added port")
	t.eq(get_on(p.port, o, 8), (200, pattern(8)), "first port still served")

	# A keep-alive connection on the port about to go away.
	kept = harness.RawConn(port2)
	kept.send(get_req(o.url("/size/5")))
	r = kept.response()
	t.eq(r and r.body, pattern(5), "keep-alive connection on the second port")

	# Remove it again.
	n = count(p, "reloaded")
	p.write_config(listen=[a])
	p.reload()
	t.check(harness.wait_for(lambda: count(p, "reloaded") > n, 5),
	    "reload removing a listener logged")
	t.check(harness.wait_for(lambda: not harness.port_open(port2), 5),
	    "removed listener no longer accepts")
	kept.send(get_req(o.url("/size/6")))
	r = kept.response()
	t.eq(r and r.body, pattern(6),
	    "a connection accepted on a removed listener carries on")
	kept.close()
	t.eq(get_on(p.port, o, 7), (200, pattern(7)), "first port still served")

	# An address somebody else holds: the reload fails as a whole.
	squatter = socket.socket()
	squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	port3 = harness.free_port()
	squatter.bind(("127.0.0.1", port3))
	squatter.listen(1)
	n = count(p, "reload failed")
	p.write_config(listen=[a, "127.0.0.1:%d" % port3],
	    connect_ports=[443, o.port])
	p.reload()
	t.check(harness.wait_for(lambda: count(p, "reload failed") > n, 5),
	    "reload with an address in use fails")
	t.contains(p.errlog(), "cannot listen on 127.0.0.1:%d" % port3,
	    "the error names the address")
	resp, c = harness.raw_request(p.port, "CONNECT %s HTTP/1.1\r\nHost: %s"
	    "\r\n\r\n" % (o.hostport, o.hostport), method="CONNECT")
	c.close()
	t.eq(resp and resp.status, 403,
	    "the failed reload changed nothing (connect_ports kept)")
	t.eq(get_on(p.port, o, 4), (200, pattern(4)), "still serving")
	squatter.close()

	# A second iaproxy on the same address must not start (SO_REUSEPORT
	# would otherwise let it take half the connections silently).
	q = t.proxy(start=False, listen=[a])
	q.start(wait=False)
	t.check(harness.wait_for(lambda: not q.alive(), 5),
	    "a second instance on a busy address exits")
	t.check(q.proc.returncode not in (None, 0), "with a failure status",
	    q.proc.returncode)
	t.contains(q.errlog(), "cannot listen on %s" % a,
	    "and says which address is taken")
	t.eq(get_on(p.port, o, 3), (200, pattern(3)),
	    "the first instance still serves")
	t.check(p.alive(), "proxy alive")


harness.run(main)
