#!/usr/bin/python3
"""Plain forwarding: methods, bodies, framing, Via, hop-by-hop headers,
Expect: 100-continue, status codes."""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import VIA, hget, hget1, pattern

HOP_REQ = ["x-foo", "keep-alive", "te", "trailer", "upgrade",
    "proxy-connection", "proxy-authorization"]
HOP_RESP = ["x-hop", "keep-alive", "proxy-authenticate", "trailer", "upgrade"]


def echo_of(t, r, what):
	"""The origin's /echo JSON from a curl result or a Response."""
	try:
		return json.loads(r.body)
	except (ValueError, TypeError):
		t.fail("%s: /echo answer is not JSON: %r" % (what, r.body[:200]))
		return {"headers": [], "method": None, "path": None,
		    "version": None, "body_len": None, "body_sha256": None,
		    "expect": None, "sent_100": None}


def main(t):
	o = t.origin()
	p = t.proxy()
	hp = o.hostport

	# GET: body, Via on the response, origin-form upstream with Host kept.
	r = harness.curl(p, o.url("/size/1000"))
	t.eq(r.rc, 0, "GET curl exit code")
	t.eq(r.status, 200, "GET status")
	t.eq(r.body, pattern(1000), "GET body")
	t.contains(hget1(r.headers, "via"), VIA, "GET response carries our Via")

	r = harness.curl(p, o.url("/echo?a=1"))
	e = echo_of(t, r, "GET /echo")
	t.eq(e["method"], "GET", "origin saw method GET")
	t.eq(e["path"], "/echo?a=1", "origin saw origin-form target with query")
	t.eq(e["version"], "HTTP/1.1", "origin saw HTTP/1.1")
	t.eq(hget1(e["headers"], "host"), hp, "Host kept")
	t.eq(hget1(e["headers"], "via"), VIA, "Via added upstream")

	# Via appended to an existing one.
	r = harness.curl(p, o.url("/echo"), "-H", "Via: 1.0 other.example")
	e = echo_of(t, r, "Via append")
	via = hget1(e["headers"], "via") or ""
	t.check(via.replace(" ,", ",").startswith("1.0 other.example") and
	    via.endswith(VIA), "our Via appended after the existing one",
	    "(got %r)" % via)

	# HEAD: headers only.
	r = harness.curl(p, "-I", o.url("/size/1000"))
	t.eq(r.status, 200, "HEAD status")
	t.eq(hget1(r.headers, "content-length"), "1000", "HEAD Content-Length relayed")
	# No body after a HEAD response: the next response on the same
	# connection must start right after the head.
	c = harness.RawConn(p.port)
	c.send(harness.get_req(o.url("/size/1000"), method="HEAD") +
	    harness.get_req(o.url("/size/7")))
	r1 = c.response(method="HEAD")
	r2 = c.response()
	t.eq(r1 and r1.status, 200, "raw HEAD status")
	t.eq(r2 and (r2.status, r2.body), (200, pattern(7)),
	    "response after HEAD parsed right (HEAD sent no body)")
	c.close()

	# POST with Content-Length.
	body = bytes((i * 7) % 251 for i in range(100000))
	bf = os.path.join(t.tmpdir, "body.bin")
	with open(bf, "wb") as f:
		f.write(body)
	sha = hashlib.sha256(body).hexdigest()
	r = harness.curl(p, "--data-binary", "@" + bf, o.url("/echo"))
	e = echo_of(t, r, "POST CL")
	t.eq(r.status, 200, "POST Content-Length status")
	t.eq(e["method"], "POST", "origin saw POST")
	t.eq(e["body_len"], len(body), "POST Content-Length body length")
	t.eq(e["body_sha256"], sha, "POST Content-Length body sha256")

	r = harness.curl(p, "-d", "a=1&b=2", o.url("/echo"))
	e = echo_of(t, r, "POST -d")
	t.eq(e["body_len"], 7, "POST -d body length")

	# POST chunked: the origin gets the same bytes, however framed.
	r = harness.curl(p, "--data-binary", "@" + bf, "-H",
	    "Transfer-Encoding: chunked", "-H", "Expect:", o.url("/echo"))
	e = echo_of(t, r, "POST chunked")
	t.eq(r.status, 200, "POST chunked status")
	t.eq(e["body_len"], len(body), "POST chunked body length")
	t.eq(e["body_sha256"], sha, "POST chunked body sha256")
	t.isin(e["body_framing"], ("chunked", "content-length"),
	    "POST chunked forwarded with framing")

	# 200 MB download, checked by sha256.
	n = 200 * 1024 * 1024
	rc, size, dsha = harness.curl_sha256(p, o.url("/size/%d" % n))
	t.eq(rc, 0, "200 MB download curl exit code")
	t.eq(size, n, "200 MB download size")
	t.eq(dsha, harness.pattern_sha256(n), "200 MB download sha256")

	# close-delimited and chunked origin responses.
	r = harness.curl(p, o.url("/close/300000"))
	t.eq(r.status, 200, "close-delimited status")
	t.eq(r.body, pattern(300000), "close-delimited body")
	r = harness.curl(p, o.url("/chunked/300000"))
	t.eq(r.status, 200, "chunked status")
	t.eq(r.body, pattern(300000), "chunked body")
	# Same over a raw keep-alive connection: both framings must leave the
	# connection usable or close it cleanly after a complete body.
	c = harness.RawConn(p.port)
	c.send(harness.get_req(o.url("/close/5000")))
	resp = c.response()
	t.eq(resp and resp.body, pattern(5000), "raw close-delimited body complete")
	c.close()
	c = harness.RawConn(p.port)
	c.send(harness.get_req(o.url("/chunked/5000")) +
	    harness.get_req(o.url("/size/10")))
	r1 = c.response()
	r2 = c.response()
	t.eq(r1 and r1.body, pattern(5000), "raw chunked body")
	t.eq(r2 and r2.body, pattern(10), "request after a chunked response")
	c.close()

	# HTTP/1.0 client: answered, connection closed, upstream still HTTP/1.1.
	r = harness.curl(p, "-0", o.url("/size/100"))
	t.eq(r.status, 200, "HTTP/1.0 client status")
	t.eq(r.body, pattern(100), "HTTP/1.0 client body")
	resp, c = harness.raw_request(p.port, "GET %s HTTP/1.0\r\n\r\n" %
	    o.url("/echo"))
	t.eq(resp and resp.status, 200, "raw HTTP/1.0 without Host status")
	if resp:
		e = json.loads(resp.body)
		t.eq(e["version"], "HTTP/1.1", "HTTP/1.0 request forwarded as HTTP/1.1")
	t.check(c.closed(3), "HTTP/1.0 connection closed after the response")
	c.close()

	# Hop-by-hop request headers stripped, incl. Proxy-Authorization.
	r = harness.curl(p, o.url("/echo"),
	    "-H", "Connection: X-Foo", "-H", "X-Foo: bar",
	    "-H", "Keep-Alive: timeout=300", "-H", "TE: trailers",
	    "-H", "Trailer: X-T", "-H", "Upgrade: h2c",
	    "-H", "Proxy-Connection: keep-alive",
	    "-H", "Proxy-Authorization: Basic dXNlcjpwYXNz",
	    "-H", "X-Normal: yes")
	e = echo_of(t, r, "hop-by-hop request")
	names = [k.lower() for k, v in e["headers"]]
	for h in HOP_REQ:
		t.check(h not in names, "hop-by-hop request header %s not forwarded" % h,
		    "(origin got %r)" % e["headers"])
	conn = (hget1(e["headers"], "connection") or "").lower()
	t.not_contains(conn, "x-foo", "Connection option x-foo not forwarded")
	t.eq(hget1(e["headers"], "x-normal"), "yes", "end-to-end header forwarded")
	# Proxy-Authorization never reaches the origin, on a raw request too.
	resp, c = harness.raw_request(p.port, harness.get_req(o.url("/echo"),
	    extra="Proxy-Authorization: Negotiate abcdef\r\n"
	    "Connection: close\r\n"))
	raw_heads = "".join(o.stats()["heads"])
	t.not_contains(raw_heads.lower(), "proxy-authorization",
	    "Proxy-Authorization in no head the origin ever received")
	c.close()

	# A client's identity headers never reach the origin (it could take
	# them for the gateway's word); other X- headers do.
	ident = ("X-Authenticated-User", "X-Forwarded-User", "X-Remote-User",
	    "Remote-User", "X-Auth-Request-User", "X-Authenticated-Groups",
	    "X-Forwarded-Groups", "X-Auth-Request-Email", "X-Iaproxy-User")
	args = []
	for h in ident:
		args += ["-H", "%s: admin" % h]
	r = harness.curl(p, o.url("/echo"), "-H", "X-Custom-User: kept", *args)
	e = echo_of(t, r, "identity headers")
	names = [k.lower() for k, v in e["headers"]]
	t.eq([h for h in ident if h.lower() in names], [],
	    "client-sent identity headers not forwarded")
	t.eq(hget1(e["headers"], "x-custom-user"), "kept",
	    "other X- headers forwarded")

	# Hop-by-hop response headers stripped.
	r = harness.curl(p, o.url("/headers"))
	t.eq(r.status, 200, "/headers status")
	names = [k.lower() for k, v in r.headers]
	for h in HOP_RESP:
		t.check(h not in names, "hop-by-hop response header %s stripped" % h,
		    "(client got %r)" % r.headers)
	t.not_contains((hget1(r.headers, "connection") or "").lower(), "x-hop",
	    "Connection: X-Hop not relayed")
	t.eq(hget1(r.headers, "x-normal"), "kept", "end-to-end response header kept")
	t.contains(hget1(r.headers, "via"), VIA, "Via on relayed response")

	# Expect: 100-continue round trip on a raw socket: the 100 arrives
	# before we send the body.
	body = b"x" * 5000
	c = harness.RawConn(p.port, timeout=5)
	c.send(harness.get_req(o.url("/echo"), method="POST",
	    extra="Content-Length: %d\r\nExpect: 100-continue\r\n" % len(body)))
	interim = c.response(method="POST", skip_interim=False)
	t.eq(interim and interim.status, 100, "100 Continue relayed before the body")
	c.send(body)
	final = c.response(method="POST")
	t.eq(final and final.status, 200, "final response after 100 Continue")
	if final:
		e = json.loads(final.body)
		t.eq(e["expect"], True, "Expect forwarded to the origin")
		t.eq(e["sent_100"], True, "origin sent 100 Continue")
		t.eq(e["body_len"], len(body), "body after 100 Continue complete")
	c.close()

	# Status codes relayed.
	for code in (201, 204, 301, 304, 404, 418, 500, 503):
		r = harness.curl(p, o.url("/status/%d" % code))
		t.eq(r.status, code, "status %d relayed" % code)
	r = harness.curl(p, o.url("/status/404"))
	t.eq(r.body, b"status 404\n", "404 body from the origin relayed")

	# https:// in absolute-form (not CONNECT) is not supported.
	resp, c = harness.raw_request(p.port,
	    "GET https://127.0.0.1:%d/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
	    % (o.port, o.port))
	t.eq(resp and resp.status, 501, "https:// absolute-form -> 501")
	c.close()


harness.run(main)
