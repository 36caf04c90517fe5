#!/usr/bin/python3
"""Request framing the proxy must refuse (RFC 9112, request smuggling):
each gets its error status, never reaches the origin, and the proxy keeps
serving good requests afterwards."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import pattern

B400 = (400,)


def cases(u, hp):
	"""(name, request bytes, allowed statuses); u is the /echo URL."""
	h = "POST %s HTTP/1.1\r\nHost: %s\r\n" % (u, hp)
	g = "GET %s HTTP/1.1\r\nHost: %s\r\n" % (u, hp)
	many = "".join("X-H%d: v\r\n" % i for i in range(40))
	big = "".join("X-B%d: %s\r\n" % (i, "v" * 900) for i in range(12))
	return [
		("CL and TE", h + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", B400),
		("TE and CL", h + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", B400),
		("duplicate differing CL", h + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", B400),
		("CL list differing", h + "Content-Length: 5, 6\r\n\r\nhello!", B400),
		("CL not a number", h + "Content-Length: abc\r\n\r\n", B400),
		("CL negative", h + "Content-Length: -1\r\n\r\n", B400),
		("CL with plus", h + "Content-Length: +5\r\n\r\nhello", B400),
		("CL overflow", h + "Content-Length: 99999999999999999999999\r\n\r\n", B400),
		("TE chunked not last", h + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", B400),
		("TE chunked twice", h + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", B400),
		("TE chunked in two fields", h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", B400),
		("TE gzip then chunked", h + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", (501,)),
		("TE gzip alone", h + "Transfer-Encoding: gzip\r\n\r\n", (400, 501)),
		("TE on HTTP/1.0", "POST %s HTTP/1.0\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % (u, hp), B400),
		("obs-fold", g + "X-Foo: a\r\n  b\r\n\r\n", B400),
		("obs-fold with tab", g + "X-Foo: a\r\n\tb\r\n\r\n", B400),
		("bare CR in value", g + "X-Foo: a\rb\r\n\r\n", B400),
		("bare CR line end", g + "X-Foo: a\rX-Bar: b\r\n\r\n", B400),
		("space before colon", g + "X-Foo : a\r\n\r\n", B400),
		("space in header name", g + "X Foo: a\r\n\r\n", B400),
		("paren in header name", g + "X(Foo): a\r\n\r\n", B400),
		("quote in header name", g + "X\"Foo: a\r\n\r\n", B400),
		("empty header name", g + ": a\r\n\r\n", B400),
		("no colon", g + "X-Foo a\r\n\r\n", B400),
		("NUL in value", g + "X-Foo: a\x00b\r\n\r\n", B400),
		("NUL in request line", "GET %s\x00 HTTP/1.1\r\nHost: %s\r\n\r\n" % (u, hp), B400),
		("over-long header line", g + "X-Long: " + "a" * 2000 + "\r\n\r\n", (400, 431)),
		("over-long request line", "GET %s?%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (u, "q" * 2000, hp), (400, 414, 431)),
		("too many headers", g + many + "\r\n", (400, 431)),
		("too large head", g + big + "\r\n", (431,)),
		("Host disagrees with URI", "GET %s HTTP/1.1\r\nHost: other.example:80\r\n\r\n" % u, B400),
		("missing Host on HTTP/1.1", "GET %s HTTP/1.1\r\nX-A: b\r\n\r\n" % u, B400),
		("two Host fields", g + "Host: %s\r\n\r\n" % hp, B400),
		("Host with two values", "GET %s HTTP/1.1\r\nHost: %s, %s\r\n\r\n" % (u, hp, hp), B400),
		("request line extra token", "GET %s HTTP/1.1 x\r\nHost: %s\r\n\r\n" % (u, hp), B400),
		("request line double space", "GET  %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (u, hp), B400),
		("bad version", "GET %s HTTP/x.y\r\nHost: %s\r\n\r\n" % (u, hp), (400, 505)),
		("lowercase version", "GET %s http/1.1\r\nHost: %s\r\n\r\n" % (u, hp), (400, 505)),
		("bad method chars", "G(T %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (u, hp), (400, 501)),
	]


# Bad chunked bodies: the head is fine, so a streaming proxy may already
# have sent it on; the origin must never see a complete request, and the
# client gets a 400 or a closed connection, never a 2xx.
def chunk_cases(u, hp):
	h = "POST %s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % (u, hp)
	return [
		("chunk size bad hex", h + "zz\r\nhello\r\n0\r\n\r\n"),
		("chunk size overflow", h + "ffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
		("chunk size negative", h + "-5\r\nhello\r\n0\r\n\r\n"),
		("chunk data longer than size", h + "3\r\nhello\r\n0\r\n\r\n"),
	]


def good(t, p, o, what):
	resp, c = harness.raw_request(p.port, harness.get_req(o.url("/size/9")))
	t.eq(resp and (resp.status, resp.body), (200, pattern(9)),
	    "good request served after %s" % what)
	c.close()


def main(t):
	o = t.origin()
	p = t.proxy(max_line_bytes=1024, max_headers=20, max_header_bytes=8192)
	good(t, p, o, "start")
	u = o.url("/echo")
	for name, data, allowed in cases(u, o.hostport):
		before = o.stats()
		resp, c = harness.raw_request(p.port, data.encode("latin-1"), timeout=5)
		status = resp.status if resp else None
		t.isin(status, allowed, "%s: status" % name)
		if resp:
			t.check(resp.header("x-iaproxy-error") is not None,
			    "%s: X-Iaproxy-Error header" % name, "(%r)" % resp.headers)
			t.check((resp.header("content-type") or "").startswith("text/html"),
			    "%s: HTML error page" % name)
		t.check(c.closed(3), "%s: connection closed after the error" % name)
		c.close()
		after = o.stats()
		t.eq((after["connections"] - before["connections"],
		    after["requests"] - before["requests"],
		    after["empty_connections"] - before["empty_connections"]),
		    (0, 0, 0), "%s: origin saw no connection and no request" % name)
		good(t, p, o, name)

	for name, data in chunk_cases(u, o.hostport):
		before = o.stats()
		resp, c = harness.raw_request(p.port, data.encode("latin-1"), timeout=5)
		status = resp.status if resp else None
		t.isin(status, (400, None), "%s: 400 or closed" % name)
		t.check(c.closed(3), "%s: connection closed" % name)
		c.close()
		harness.wait_for(lambda: False, 0.2)
		after = o.stats()
		t.eq(after["completed"] - before["completed"], 0,
		    "%s: origin saw no complete request" % name)
		good(t, p, o, name)

	# A bare LF ending a chunk-size line: refused, or accepted and the body
	# re-framed upstream (the strict origin answers 400 to a raw bare LF,
	# without our X-Iaproxy-Error header).
	before = o.stats()
	resp, c = harness.raw_request(p.port, "POST %s HTTP/1.1\r\nHost: %s\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n" %
	    (u, o.hostport))
	c.close()
	after = o.stats()
	if resp is not None and resp.status == 200:
		t.contains(resp.body.decode("latin-1"), '"body_len": 5',
		    "chunk bare LF accepted: body re-framed intact")
	else:
		t.check(resp is None or (resp.status == 400 and
		    resp.header("x-iaproxy-error") is not None),
		    "chunk bare LF: refused by the proxy (not passed raw to the origin)",
		    "(%r %r)" % (resp, resp and resp.headers))
		t.eq(after["completed"] - before["completed"], 0,
		    "chunk bare LF refused: origin saw no complete request")
	good(t, p, o, "chunk bare LF")

	# A bare LF as a line end: RFC 9112 2.2 lets a recipient accept it, but
	# then it must be a line end upstream too (CRLF), never a raw LF inside
	# a forwarded field.
	before = o.stats()
	resp, c = harness.raw_request(p.port, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "X-Foo: a\nX-Bar: b\r\n\r\n" % (u, o.hostport))
	c.close()
	heads = o.stats()["heads"][len(before["heads"]):]
	if resp is not None and resp.status == 200:
		t.eq(len(heads), 1, "bare LF accepted: one request upstream")
		t.check(heads and "X-Foo: a\r\nX-Bar: b\r\n" in heads[0],
		    "bare LF accepted: forwarded as two CRLF-terminated fields",
		    "(%r)" % heads)
		t.check(heads and "\n" not in heads[0].replace("\r\n", ""),
		    "bare LF accepted: no raw LF forwarded")
	else:
		t.eq(resp and resp.status, 400, "bare LF line end: 400 or accepted")
		t.eq(heads, [], "bare LF refused: origin saw nothing")
	good(t, p, o, "bare LF")

	# Smuggling attempt: a CL body hiding a second request must be treated
	# as body, so the origin sees exactly one request.
	before = o.stats()
	inner = harness.get_req(o.url("/size/1"))
	data = harness.get_req(u, method="POST",
	    extra="Content-Length: %d\r\n" % len(inner)) + inner
	c = harness.RawConn(p.port)
	c.send(data)
	r1 = c.response()
	t.eq(r1 and r1.status, 200, "CL body with a request inside: answered")
	c.settimeout(1)
	r2 = c.response()
	t.eq(r2, None, "CL body with a request inside: no second response")
	c.close()
	after = o.stats()
	t.eq(after["requests"] - before["requests"], 1,
	    "CL body with a request inside: origin saw one request")

	t.check(p.alive(), "proxy still running after all the bad requests")


harness.run(main)
