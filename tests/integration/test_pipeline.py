#!/usr/bin/python3
"""Pipelining: requests sent in one write are answered in order."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import get_req, pattern


def main(t):
	o = t.origin()
	p = t.proxy()
	body = b"0123456789" * 30
	data = (get_req(o.url("/size/11")).encode() +
	    get_req(o.url("/echo"), method="POST",
	    extra="Content-Length: %d\r\n" % len(body)).encode() + body +
	    get_req(o.url("/chunked/2000")).encode())
	c = harness.RawConn(p.port)
	c.send(data)
	r1 = c.response()
	r2 = c.response(method="POST")
	r3 = c.response()
	t.eq(r1 and (r1.status, r1.body), (200, pattern(11)), "1st pipelined response")
	t.eq(r2 and r2.status, 200, "2nd pipelined response (POST) status")
	if r2:
		try:
			e = json.loads(r2.body)
		except ValueError:
			e = {}
		t.eq((e.get("method"), e.get("body_len")), ("POST", len(body)),
		    "2nd pipelined response is the POST echo with its body")
	t.eq(r3 and (r3.status, r3.body), (200, pattern(2000)), "3rd pipelined response")
	# The connection is still good for a 4th request.
	c.send(get_req(o.url("/size/4")))
	r4 = c.response()
	t.eq(r4 and r4.body, pattern(4), "request after the pipeline")
	c.close()

	# Pipeline split at odd places: byte by byte in a few writes.
	c = harness.RawConn(p.port)
	data = (get_req(o.url("/size/1")) + get_req(o.url("/size/2"))).encode()
	for i in range(0, len(data), 7):
		c.send(data[i:i + 7])
	r1 = c.response()
	r2 = c.response()
	t.eq(r1 and r1.body, pattern(1), "split pipeline 1st")
	t.eq(r2 and r2.body, pattern(2), "split pipeline 2nd")
	c.close()

	# Five GETs to a slow and fast mix: order kept.
	c = harness.RawConn(p.port, timeout=10)
	c.send(get_req(o.url("/slow/300")) + get_req(o.url("/size/6")) +
	    get_req(o.url("/slow/100")) + get_req(o.url("/size/8")))
	got = []
	for _ in range(4):
		r = c.response()
		got.append(r.body if r else None)
	t.eq(got, [b"slow\n", pattern(6), b"slow\n", pattern(8)],
	    "slow/fast pipeline answered in order")
	c.close()


harness.run(main)
