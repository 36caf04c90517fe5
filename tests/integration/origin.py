#!/usr/bin/python3
"""A small threaded HTTP/1.1 origin server for the integration tests.

Written on raw sockets (not http.server) so the framing of every answer is
under our control: Content-Length, chunked, close-delimited, junk, resets.

Usage: origin.py [--host H] [--port N] [--port-file F] [--tls CERT KEY]

Endpoints (any method; HEAD gets the head only):
  /size/N      N bytes of the deterministic pattern (byte i = i % 256)
  /chunked/N   the same N bytes, chunked
  /close/N     the same N bytes, no length, delimited by closing
  /echo        JSON: method, path, version, headers (list of pairs), body_len,
               body_sha256, body_framing, expect, sent_100
  /slow/MS     waits MS ms, then answers "slow\\n"
  /status/N    answers status N
  /authn       401 WWW-Authenticate: NTLM until "Authorization: NTLM x",
               then 200 with JSON {conn, auth}: connection-bound auth
  /short/N     promises N bytes (Content-Length), sends N/2, then closes
  /reset       closes the socket (RST) without answering
  /garbage     answers bytes that are not HTTP, then closes
  /headers     answers with hop-by-hop headers that a proxy must strip
  /__stats     JSON counters (not counted itself): connections, open (now),
               requests, completed, heads (the raw head of each request,
               latin-1)
A query "?linger=MS" on any request makes the origin close the connection
if no further request starts within MS ms (a pooled connection going stale).

A connection is counted when its first request head arrives and that
request is not /__stats, so a peek at the stats does not disturb them.
Connections closed before a complete head are counted in "empty_connections".
"""

import argparse
import hashlib
import json
import os
import socket
import ssl
import sys
import threading
import time

PATTERN = bytes(range(256)) * 256	# 64 KiB, period 256
BIG = PATTERN + PATTERN[:256]		# any 64 KiB window at any rotation

lock = threading.Lock()
stats = {"connections": 0, "open": 0, "empty_connections": 0, "requests": 0,
         "completed": 0, "heads": []}


class BadRequest(Exception):
	pass


conn_ids = iter(range(1, 1 << 30))


class Conn:
	def __init__(self, sock):
		self.sock = sock
		with lock:
			self.id = next(conn_ids)	# which TCP connection
		self.buf = b""
		self.counted = False	# in stats["connections"]
		self.stats_only = False	# served /__stats and nothing else
		self.linger = None	# ?linger=MS: idle wait before closing

	def fill(self):
		d = self.sock.recv(65536)
		if not d:
			raise EOFError()
		self.buf += d

	def read_head(self):
		while True:
			i = self.buf.find(b"\r\n\r\n")
			if i >= 0:
				head = self.buf[:i + 4]
				self.buf = self.buf[i + 4:]
				return head
			if len(self.buf) > 1 << 20:
				raise BadRequest("head too large")
			self.fill()

	def read_exact(self, n):
		out = []
		while n > 0:
			if not self.buf:
				self.fill()
			k = min(n, len(self.buf))
			out.append(self.buf[:k])
			self.buf = self.buf[k:]
			n -= k
		return b"".join(out)

	def read_line(self):
		while True:
			i = self.buf.find(b"\r\n")
			if i >= 0:
				line = self.buf[:i]
				self.buf = self.buf[i + 2:]
				return line
			if len(self.buf) > 65536:
				raise BadRequest("line too long")
			self.fill()

	def read_chunked(self, h):
		while True:
			line = self.read_line().split(b";")[0].strip()
			try:
				n = int(line, 16)
			except ValueError:
				raise BadRequest("bad chunk size")
			if n == 0:
				while self.read_line() != b"":
					pass
				return
			h.update(self.read_exact(n))
			if self.read_line() != b"":
				raise BadRequest("bad chunk end")
			self.body_len += n

	def send(self, data):
		self.sock.sendall(data)


def parse_head(head):
	lines = head.decode("latin-1").split("\r\n")
	parts = lines[0].split(" ")
	if len(parts) != 3:
		raise BadRequest("bad request line")
	method, target, version = parts
	headers = []
	for l in lines[1:]:
		if not l:
			continue
		if ":" not in l:
			raise BadRequest("bad header")
		k, v = l.split(":", 1)
		headers.append((k, v.strip()))
	return method, target, version, headers


def hget(headers, name):
	name = name.lower()
	vals = [v for k, v in headers if k.lower() == name]
	return ", ".join(vals) if vals else None


def response(status, headers, body=b"", head_only=False, reason=None):
	reasons = {200: "OK", 204: "No Content", 304: "Not Modified",
	    400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
	r = reason or reasons.get(status, "Status")
	out = ["HTTP/1.1 %d %s" % (status, r)]
	for k, v in headers:
		out.append("%s: %s" % (k, v))
	data = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
	if not head_only:
		data += body
	return data


def handle(conn):
	"""Serve one request; return False when the connection must close."""
	head = conn.read_head()
	method, target, version, headers = parse_head(head)
	path = target
	if path.startswith("http://") or path.startswith("https://"):
		path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
	is_stats = path == "/__stats"
	if "linger=" in target:
		conn.linger = int(target.split("linger=")[1].split("&")[0]) / 1000.0
	if is_stats:
		conn.stats_only = not conn.counted
	else:
		with lock:
			if not conn.counted:
				stats["connections"] += 1
				stats["open"] += 1
				conn.counted = True
			stats["requests"] += 1
			stats["heads"].append(head.decode("latin-1"))
	conn_hdr = (hget(headers, "connection") or "").lower()
	keep = version == "HTTP/1.1" and "close" not in conn_hdr
	if version == "HTTP/1.0" and "keep-alive" in conn_hdr:
		keep = True

	# The body: Expect first (RFC 9110 10.1.1), then the framing.
	expect = hget(headers, "expect")
	sent_100 = False
	te = hget(headers, "transfer-encoding")
	cl = hget(headers, "content-length")
	has_body = te is not None or (cl is not None and int(cl) > 0)
	if expect and expect.lower() == "100-continue" and has_body:
		conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
		sent_100 = True
	h = hashlib.sha256()
	conn.body_len = 0
	framing = "none"
	if te is not None:
		if te.lower().split(",")[-1].strip() != "chunked":
			raise BadRequest("unsupported transfer-encoding")
		framing = "chunked"
		conn.read_chunked(h)
	elif cl is not None:
		framing = "content-length"
		n = int(cl)
		while n > 0:
			d = conn.read_exact(min(n, 65536))
			h.update(d)
			n -= len(d)
			conn.body_len += len(d)
	if not is_stats:
		with lock:
			stats["completed"] += 1

	ho = method == "HEAD"
	seg = path.split("?")[0].strip("/").split("/")
	ka = [] if keep else [("Connection", "close")]
	if seg[0] == "__stats":
		with lock:
			body = json.dumps(stats).encode()
		conn.send(response(200, [("Content-Type", "application/json"),
		    ("Content-Length", len(body))] + ka, body, ho))
	elif seg[0] == "size" and len(seg) == 2:
		n = int(seg[1])
		conn.send(response(200, [("Content-Type", "application/octet-stream"),
		    ("Content-Length", n)] + ka, b"", True))
		if not ho:
			off = 0
			while off < n:
				k = min(len(PATTERN), n - off)
				conn.send(PATTERN[:k])
				off += k
	elif seg[0] == "authn":
		# Connection-based auth (NTLM-like): 401 until the request
		# carries "Authorization: NTLM ..."; then 200 naming the
		# connection, which is what such a scheme authenticates.
		auth = hget(headers, "authorization") or ""
		if not auth.startswith("NTLM "):
			body = b"who are you?"
			conn.send(response(401, [("WWW-Authenticate", "NTLM"),
			    ("Content-Length", len(body))] + ka, body, ho))
		else:
			body = json.dumps({"conn": conn.id, "auth": auth}).encode()
			conn.send(response(200, [("Content-Type",
			    "application/json"), ("Content-Length", len(body))] +
			    ka, body, ho))
	elif seg[0] == "short" and len(seg) == 2:
		# Promises N bytes, sends half of them, then closes.
		n = int(seg[1])
		conn.send(response(200, [("Content-Type", "application/octet-stream"),
		    ("Content-Length", n)], b"", True))
		off = 0
		while off < n // 2:
			k = min(len(PATTERN), n // 2 - off)
			conn.send(PATTERN[:k])
			off += k
		return False
	elif seg[0] == "chunked" and len(seg) == 2:
		n = int(seg[1])
		conn.send(response(200, [("Content-Type", "application/octet-stream"),
		    ("Transfer-Encoding", "chunked")] + ka, b"", True))
		if not ho:
			off = 0
			i = 0
			while off < n:
				# varying chunk sizes, content still byte j = j % 256
				k = min(1000 + (i * 997) % 7000, n - off)
				rot = off % 256
				conn.send(b"%x\r\n" % k + BIG[rot:rot + k] + b"\r\n")
				off += k
				i += 1
			conn.send(b"0\r\n\r\n")
	elif seg[0] == "close" and len(seg) == 2:
		n = int(seg[1])
		conn.send(response(200, [("Content-Type", "application/octet-stream"),
		    ("Connection", "close")], b"", True))
		if not ho:
			off = 0
			while off < n:
				k = min(len(PATTERN), n - off)
				conn.send(PATTERN[:k])
				off += k
		return False
	elif seg[0] == "echo":
		body = json.dumps({"method": method, "path": target,
		    "version": version, "headers": headers,
		    "body_len": conn.body_len, "body_sha256": h.hexdigest(),
		    "body_framing": framing, "expect": expect is not None,
		    "sent_100": sent_100, "conn": conn.id}).encode()
		conn.send(response(200, [("Content-Type", "application/json"),
		    ("Content-Length", len(body))] + ka, body, ho))
	elif seg[0] == "slow" and len(seg) == 2:
		time.sleep(int(seg[1]) / 1000.0)
		body = b"slow\n"
		conn.send(response(200, [("Content-Type", "text/plain"),
		    ("Content-Length", len(body))] + ka, body, ho))
	elif seg[0] == "status" and len(seg) == 2:
		n = int(seg[1])
		if n in (204, 304) or n < 200:
			conn.send(response(n, ka))
		else:
			body = b"status %d\n" % n
			conn.send(response(n, [("Content-Type", "text/plain"),
			    ("Content-Length", len(body))] + ka, body, ho))
	elif seg[0] == "reset":
		conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
		    b"\x01\x00\x00\x00\x00\x00\x00\x00")
		return False
	elif seg[0] == "garbage":
		conn.send(b"this is not HTTP at all\r\n\x00\x01\x02\r\n\r\n")
		return False
	elif seg[0] == "headers":
		body = b"headers\n"
		conn.send(response(200, [("Content-Type", "text/plain"),
		    ("Content-Length", len(body)), ("Connection", "X-Hop"),
		    ("X-Hop", "1"), ("Keep-Alive", "timeout=5"),
		    ("Proxy-Authenticate", "Basic realm=\"x\""), ("Trailer", "X"),
		    ("Upgrade", "foo"), ("X-Normal", "kept")] + ka, body, ho))
	else:
		body = b"not found\n"
		conn.send(response(404, [("Content-Type", "text/plain"),
		    ("Content-Length", len(body))] + ka, body, ho))
	return keep


def serve(sock, tlsctx):
	conn = None
	try:
		if tlsctx is not None:
			sock.settimeout(10)
			sock = tlsctx.wrap_socket(sock, server_side=True)
			sock.settimeout(None)
		conn = Conn(sock)
		while handle(conn):
			if conn.linger is not None:
				# the next request must start within linger seconds
				sock.settimeout(conn.linger)
				try:
					conn.fill()
				except socket.timeout:
					break
				sock.settimeout(None)
	except EOFError:
		pass
	except (BadRequest, ValueError) as e:
		try:
			sock.sendall(response(400, [("Content-Length", 0),
			    ("Connection", "close")]))
		except OSError:
			pass
		sys.stderr.write("origin: bad request: %s\n" % e)
	except (OSError, ssl.SSLError):
		pass
	finally:
		if conn is not None and conn.counted:
			with lock:
				stats["open"] -= 1
		if conn is None or not (conn.counted or conn.stats_only):
			with lock:
				stats["empty_connections"] += 1
		try:
			sock.close()
		except OSError:
			pass


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("--host", default="127.0.0.1")
	ap.add_argument("--port", type=int, default=0)
	ap.add_argument("--port-file")
	ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
	a = ap.parse_args()

	fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
	ls = socket.socket(fam, socket.SOCK_STREAM)
	ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	ls.bind((a.host, a.port))
	ls.listen(256)
	tlsctx = None
	if a.tls:
		tlsctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		tlsctx.load_cert_chain(a.tls[0], a.tls[1])
	port = ls.getsockname()[1]
	if a.port_file:
		tmp = a.port_file + ".tmp"
		with open(tmp, "w") as f:
			f.write("%d\n" % port)
		os.rename(tmp, a.port_file)
	while True:
		s, _ = ls.accept()
		s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
		threading.Thread(target=serve, args=(s, tlsctx), daemon=True).start()


if __name__ == "__main__":
	main()
