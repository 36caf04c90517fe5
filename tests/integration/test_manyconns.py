#!/usr/bin/python3
"""Ten thousand connections at once (issue: load held).

- 10,000 idle connections (connected, nothing sent) are all held open
  without an error on either side while a normal request still gets
  its answer at once; when the client lets them go, the proxy's
  descriptors come back to where they were.
- 10,000 slowloris connections (a request head at one byte a second)
  are all closed at header_timeout (408 or a silent close, never
  earlier than the timeout and none left hanging), while a normal
  request still gets through; afterwards the descriptors are back.

The test raises its own descriptor limit (the proxy inherits it)."""

import os
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness

N = 10000


def raise_nofile():
	soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
	want = 4 * N
	try:
		resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
	except (ValueError, OSError):
		resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
	return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def nfds(pid):
	try:
		return len(os.listdir("/proc/%d/fd" % pid))
	except OSError:
		return -1


def open_many(port, n):
	"""n connected sockets (non-blocking), paced so that the listen
	backlog never overflows into SYN cookies."""
	socks, failed = [], 0
	for i in range(n):
		s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		s.setblocking(False)
		try:
			s.connect(("127.0.0.1", port))
		except BlockingIOError:
			pass
		except OSError:
			failed += 1
			s.close()
			continue
		socks.append(s)
		if i % 500 == 499:
			time.sleep(0.05)
	# Wait until every connect finished.
	sel = selectors.DefaultSelector()
	for s in socks:
		sel.register(s, selectors.EVENT_WRITE)
	pending = len(socks)
	deadline = time.time() + 30
	while pending and time.time() < deadline:
		for key, _ in sel.select(1):
			s = key.fileobj
			if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
				failed += 1
			sel.unregister(s)
			pending -= 1
	sel.close()
	return socks, failed + pending


def closed_by_peer(socks, timeout):
	"""How many of socks the other side closed (EOF or a response then
	EOF, or a reset) within timeout seconds; the rest stay open."""
	sel = selectors.DefaultSelector()
	for s in socks:
		sel.register(s, selectors.EVENT_READ)
	closed = 0
	deadline = time.time() + timeout
	while time.time() < deadline and closed < len(socks):
		for key, _ in sel.select(0.2):
			s = key.fileobj
			try:
				data = s.recv(4096)
			except (BlockingIOError, InterruptedError):
				continue
			except OSError:
				data = b""
			if not data:
				sel.unregister(s)
				closed += 1
	sel.close()
	return closed


def idle_hold(t, o):
	p = t.proxy(max_conns_per_ip=0, max_connections=N + 100,
	    header_timeout=60, client_idle_timeout=60, workers=2)
	base = nfds(p.pid)
	socks, failed = open_many(p.port, N)
	t.eq((len(socks), failed), (N, 0), "%d idle connections opened" % N)
	# base may count a descriptor that was only passing through (a
	# log flush, a resolver socket): allow two.
	t.check(harness.wait_for(lambda: nfds(p.pid) >= base + N - 2, 10),
	    "the proxy holds all of them (%d descriptors, %d before)" %
	    (nfds(p.pid), base))
	t0 = time.time()
	r = harness.curl(p, o.url("/size/100"))
	dt = time.time() - t0
	t.eq(r.status, 200, "a request while %d are held" % N)
	t.check(dt < 2, "answered at once (%.2f s)" % dt)
	t.eq(closed_by_peer(socks, 2), 0, "none of the idle ones was closed")
	for s in socks:
		s.close()
	t.check(harness.wait_for(lambda: nfds(p.pid) <= base + 2, 15),
	    "all let go: descriptors back to %d (now %d)" % (base,
	    nfds(p.pid)))
	t.check(p.alive(), "proxy alive")
	p.stop()


def slowloris(t, o):
	timeout = 4
	p = t.proxy(max_conns_per_ip=0, max_connections=N + 100,
	    header_timeout=timeout, workers=2)
	base = nfds(p.pid)
	socks, failed = open_many(p.port, N)
	t0 = time.time()
	t.eq((len(socks), failed), (N, 0), "%d slowloris connections" % N)
	head = b"GET " + o.url("/size/1").encode() + b" HTTP/1.1\r\nHost: x\r\n"
	early, closed, sent = 0, 0, 0
	live = list(socks)
	i = 0
	mid_status = None
	while live and time.time() - t0 < timeout + 6:
		byte = head[i % len(head):i % len(head) + 1]
		i += 1
		still = []
		for s in live:
			try:
				s.send(byte)
				sent += 1
				still.append(s)
			except (BlockingIOError, InterruptedError):
				still.append(s)
			except OSError:
				closed += 1
				if time.time() - t0 < timeout - 0.5:
					early += 1
		live = still
		if i == 2:
			r = harness.curl(p, o.url("/size/5"))
			mid_status = r.status
		time.sleep(1)
	# A send can succeed after the close (the RST comes later): count
	# what the proxy closed by reading.
	closed_read = closed_by_peer(live, 3)
	t.eq(mid_status, 200, "a normal request during the slowloris")
	t.eq(early, 0, "no slowloris connection closed before header_timeout")
	t.eq(closed + closed_read, N, "every slowloris connection closed "
	    "within header_timeout + a few seconds (%d by send, %d by read)" %
	    (closed, closed_read))
	for s in socks:
		s.close()
	t.check(harness.wait_for(lambda: nfds(p.pid) <= base + 2, 15),
	    "descriptors back to %d (now %d)" % (base, nfds(p.pid)))
	t.check(p.alive(), "proxy alive")
	p.stop()


def main(t):
	lim = raise_nofile()
	if lim < N + 500:
		t.fail("descriptor limit %d is below %d" % (lim, N + 500))
		return
	o = t.origin()
	idle_hold(t, o)
	slowloris(t, o)


harness.run(main)
