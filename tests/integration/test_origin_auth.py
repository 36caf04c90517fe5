#!/usr/bin/python3
"""Origin NTLM/Negotiate (WWW-Authenticate) authenticates the upstream
TCP connection: once a client has started such a handshake with an origin,
its upstream connection is pinned to that client, its later requests come
back to it, and no other client is ever given it from the shared pool."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import get_req


def main(t):
	o = t.origin()
	p = t.proxy(upstream_max_idle=8)

	a = harness.RawConn(p.port)
	# Leg 1: the origin asks for NTLM.
	a.send(get_req(o.url("/authn")))
	r = a.response()
	t.eq(r and r.status, 401, "origin challenges client A")
	t.eq(r and r.header("www-authenticate"), "NTLM",
	    "WWW-Authenticate passes through")
	# Leg 2 on the same client connection: must reach the same upstream.
	a.send(get_req(o.url("/echo")))
	r = a.response()
	conn_a = json.loads(r.body)["conn"] if r and r.status == 200 else None
	a.send(get_req(o.url("/authn"), extra="Authorization: NTLM dGVzdA==\r\n"))
	r = a.response()
	got = json.loads(r.body) if r and r.status == 200 else {}
	t.eq(r and r.status, 200, "client A authenticated at the origin")
	t.eq(got.get("conn"), conn_a, "A's requests keep to A's pinned "
	    "upstream connection")
	t.eq(got.get("auth"), "NTLM dGVzdA==", "Authorization (origin "
	    "credentials) is forwarded, unlike Proxy-Authorization")

	# Client B, meanwhile, must never get A's upstream connection.
	for i in range(3):
		b = harness.RawConn(p.port)
		b.send(get_req(o.url("/echo")))
		r = b.response()
		cb = json.loads(r.body)["conn"] if r and r.status == 200 else None
		t.check(cb is not None and cb != conn_a,
		    "client B (%d) is not given A's authenticated connection" %
		    i, "(A %r, B %r)" % (conn_a, cb))
		b.close()

	# A again: still on its own connection.
	a.send(get_req(o.url("/authn"), extra="Authorization: NTLM eA==\r\n"))
	r = a.response()
	got = json.loads(r.body) if r and r.status == 200 else {}
	t.eq(got.get("conn"), conn_a, "A still on its pinned connection")
	a.close()

	# After A leaves, its connection is closed, not pooled for others.
	n = o.stats()["connections"]
	c = harness.RawConn(p.port)
	c.send(get_req(o.url("/echo")))
	r = c.response()
	cc = json.loads(r.body)["conn"] if r and r.status == 200 else None
	t.check(cc is not None and cc != conn_a, "a pinned connection is not "
	    "handed on after its client left", "(A %r, C %r)" % (conn_a, cc))
	c.close()

	# Plain traffic still shares the pool: two clients in turn, one
	# upstream connection.
	ids = []
	for i in range(2):
		d = harness.RawConn(p.port)
		d.send(get_req(o.url("/echo")))
		r = d.response()
		ids.append(json.loads(r.body)["conn"] if r else None)
		d.close()
	t.check(ids[0] is not None and ids[0] == ids[1],
	    "ordinary requests still reuse pooled connections", ids)
	t.check(p.alive(), "proxy alive")


harness.run(main)
