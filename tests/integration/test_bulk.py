#!/usr/bin/python3
"""Bulk transfers, where the proxy relays socket to socket (splice): a slow
reader gets every byte and keeps its connection, an origin that stops short
or a client that leaves mid-body never hurts the next request, tunnels pass
half-closes and large uploads both ways, and big uploads are streamed."""

import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import get_req, pattern


class Echo:
	"""A TCP server that echoes, counts, and half-closes after EOF."""

	def __init__(self):
		self.sock = socket.socket()
		self.sock.bind(("127.0.0.1", 0))
		self.sock.listen(8)
		self.port = self.sock.getsockname()[1]
		self.received = []
		threading.Thread(target=self.run, daemon=True).start()

	def run(self):
		while True:
			try:
				c, _ = self.sock.accept()
			except OSError:
				return
			threading.Thread(target=self.serve, args=(c,),
			    daemon=True).start()

	def serve(self, c):
		n = 0
		h = hashlib.sha256()
		while True:
			d = c.recv(65536)
			if not d:
				break
			n += len(d)
			h.update(d)
			if n <= 64:
				c.sendall(d)	# echo only small talk (one packet)
		self.received.append((n, h.hexdigest()))
		c.sendall(b"got %d\n" % n)
		c.shutdown(socket.SHUT_WR)
		c.close()


def read_n(sock, n, delay=0.0, chunk=65536):
	got = b""
	while len(got) < n:
		d = sock.recv(min(chunk, n - len(got)))
		if not d:
			break
		got += d
		if delay:
			time.sleep(delay)
	return got


def read_all(sock):
	got = b""
	while True:
		try:
			d = sock.recv(65536)
		except ConnectionError:
			break
		if not d:
			break
		got += d
	return got


def main(t):
	o = t.origin()
	echo = Echo()
	p = t.proxy(connect_ports=[echo.port], upstream_max_idle=4)

	# A slow reader of a long Content-Length body (spliced), then more on
	# the same connection.
	n = 4 * 1024 * 1024
	c = harness.RawConn(p.port, timeout=20)
	c.send(get_req(o.url("/size/%d" % n)))
	head = b""
	while b"\r\n\r\n" not in head:
		head += c.sock.recv(1)
	t.check(head.startswith(b"HTTP/1.1 200"), "slow reader: 200", head[:40])
	body = read_n(c.sock, n, delay=0.002, chunk=32768)
	t.eq(len(body), n, "slow reader: every byte")
	t.check(body == pattern(n), "slow reader: bytes intact")
	c.send(get_req(o.url("/size/11")))
	r = c.response()
	t.eq(r and r.body, pattern(11), "keep-alive after a spliced body")
	c.close()

	# The origin stops short: the client sees the connection end early.
	c = harness.RawConn(p.port, timeout=10)
	c.send(get_req(o.url("/short/%d" % (2 * 1024 * 1024))))
	got = read_all(c.sock)
	c.close()
	body = got.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in got else b""
	t.check(got.startswith(b"HTTP/1.1 200"), "short origin: head relayed")
	t.eq(len(body), 1024 * 1024, "short origin: what came was relayed, "
	    "then the connection closed")
	t.eq(harness.curl(p, o.url("/size/12")).body, pattern(12),
	    "next request after a short origin")

	# The client leaves in the middle of a long body.
	c = harness.RawConn(p.port, timeout=10)
	c.send(get_req(o.url("/size/%d" % (64 * 1024 * 1024))))
	read_n(c.sock, 300000)
	c.close()
	time.sleep(0.3)
	t.eq(harness.curl(p, o.url("/size/13")).body, pattern(13),
	    "next request after a client left mid-body")
	lines = p.wait_access_lines(3, timeout=5)
	t.check(any("_ABORTED/200" in l and "/size/%d" % (64 * 1024 * 1024) in l
	    for l in p.access_lines()), "aborted download logged as _ABORTED",
	    p.access_lines()[-3:])

	# A tunnel: small talk both ways, then the client half-closes and
	# still reads the origin's last words.
	c = harness.RawConn(p.port, timeout=10)
	hp = "127.0.0.1:%d" % echo.port
	c.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (hp, hp))
	r = c.response(method="CONNECT")
	t.eq(r and r.status, 200, "tunnel to the echo server")
	c.send(b"ping")
	t.eq(read_n(c.sock, 4), b"ping", "tunnel: echoed")
	c.shutdown_write()
	t.eq(read_all(c.sock), b"got 4\n", "tunnel: the origin's answer after "
	    "our half-close, then EOF")
	c.close()

	# A 30 MB upload through a tunnel.
	n = 30 * 1024 * 1024
	data = os.urandom(1024 * 1024) * 30
	c = harness.RawConn(p.port, timeout=30)
	c.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (hp, hp))
	r = c.response(method="CONNECT")
	t.eq(r and r.status, 200, "second tunnel")
	c.sock.sendall(data)
	c.shutdown_write()
	rest = read_all(c.sock)
	c.close()
	t.eq(rest, b"got %d\n" % n, "30 MB upload through a tunnel arrives "
	    "whole, and the answer after our half-close")
	t.check(any(x == (n, hashlib.sha256(data).hexdigest())
	    for x in echo.received), "30 MB upload intact at the origin")

	# A 40 MB POST is streamed to the origin (not buffered whole).
	n = 40 * 1024 * 1024
	body = pattern(1 << 20) * 40
	r = harness.curl(p, o.url("/echo"), "--data-binary", "@-",
	    "-H", "Content-Type: application/octet-stream", input=body,
	    timeout=60)
	t.eq(r.status, 200, "40 MB POST status")
	t.contains(r.body.decode(errors="replace"),
	    hashlib.sha256(body).hexdigest(), "40 MB POST arrives intact")
	rss = int([l.split()[1] for l in open("/proc/%d/status" % p.pid)
	    if l.startswith("VmRSS")][0])
	if "libasan" in open("/proc/%d/maps" % p.pid).read():
		# ASan's shadow memory and quarantine make RSS meaningless.
		t.log("sanitizer build: RSS bound not checked (%d kB)" % rss)
	else:
		t.check(rss < 32 * 1024, "proxy RSS stays small after bulk "
		    "transfers", "%d kB" % rss)
	t.check(p.alive(), "proxy alive")


harness.run(main)
