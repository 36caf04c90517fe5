#!/usr/bin/python3
"""SIGTERM: stop accepting at once, drain, exit 0 within shutdown_timeout."""

import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import get_req, pattern

SHUT = 3


def refused(port):
	s = socket.socket()
	s.settimeout(0.5)
	try:
		s.connect(("127.0.0.1", port))
		return False
	except ConnectionRefusedError:
		return True
	except OSError:
		return False
	finally:
		s.close()


def main(t):
	o = t.origin()
	p = t.proxy(shutdown_timeout=SHUT, connect_ports=[o.port])

	tun = harness.RawConn(p.port, timeout=SHUT + 5)
	tun.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (o.hostport, o.hostport))
	r = tun.response(method="CONNECT")
	t.eq(r and r.status, 200, "tunnel open")
	# A request in flight when the signal arrives is still answered.
	slow = harness.RawConn(p.port, timeout=SHUT + 5)
	slow.send(get_req(o.url("/slow/1000")))
	time.sleep(0.2)

	start = time.time()
	p.signal(signal.SIGTERM)
	t.check(harness.wait_for(lambda: refused(p.port), 1.0, 0.05),
	    "new connections refused within 1 s of SIGTERM")
	r = slow.response()
	t.eq(r and (r.status, r.body), (200, b"slow\n"), "in-flight request finished")
	tun.send(get_req("/size/5", host=o.hostport))
	r = tun.response()
	t.eq(r and r.body, pattern(5), "open tunnel still works while draining")
	try:
		rc = p.proc.wait(SHUT + 2 - (time.time() - start) + 0.01)
	except Exception:
		rc = None
	el = time.time() - start
	t.check(rc is not None, "exited within shutdown_timeout + 2 s", "(%.1fs)" % el)
	t.eq(rc, 0, "exit code 0")
	t.check(el >= SHUT - 1.0, "waited for the open tunnel before exiting",
	    "(%.1fs)" % el)
	t.check(tun.closed(1), "tunnel closed at exit")
	tun.close()
	slow.close()

	# An idle proxy exits at once.
	p2 = t.proxy(shutdown_timeout=SHUT)
	r = harness.curl(p2, o.url("/size/3"))
	t.eq(r.body, pattern(3), "second proxy serves")
	start = time.time()
	p2.signal(signal.SIGTERM)
	try:
		rc = p2.proc.wait(SHUT + 2)
	except Exception:
		rc = None
	el = time.time() - start
	t.eq(rc, 0, "idle proxy: exit code 0")
	t.check(el < 1.5, "idle proxy exits at once", "(%.1fs)" % el)


harness.run(main)
