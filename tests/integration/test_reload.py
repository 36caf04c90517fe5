#!/usr/bin/python3
"""SIGHUP: a changed config takes effect, a broken one is refused with
FILE:LINE and the old one kept, and reloading under load loses nothing."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import get_req, pattern


def connect_status(p, hp):
	resp, c = harness.raw_request(p.port,
	    "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (hp, hp), method="CONNECT")
	c.close()
	return resp.status if resp else None


def count(p, text):
	return p.errlog().count(text)


def main(t):
	o = t.origin()
	o2 = t.origin()
	p = t.proxy(connect_ports=[o.port])
	t.eq(connect_status(p, o2.hostport), 403, "before reload: CONNECT to o2 denied")
	t.eq(connect_status(p, o.hostport), 200, "before reload: CONNECT to o allowed")

	# A good change takes effect.
	n = count(p, "reloaded")
	good = p.write_config(connect_ports=[o.port, o2.port])
	p.reload()
	t.check(harness.wait_for(lambda: count(p, "reloaded") > n, 5),
	    "\"reloaded\" logged", "(error log: %r)" % p.errlog()[-500:])
	t.eq(connect_status(p, o2.hostport), 200, "after reload: CONNECT to o2 allowed")

	# A broken file is refused; the error names FILE:LINE; the old config stays.
	bad_line = good.count("\n") + 2
	p.write_config(text=good + "\nno_such_option = 1\n")
	n = count(p, "reload failed")
	p.reload()
	t.check(harness.wait_for(lambda: count(p, "reload failed") > n, 5),
	    "\"reload failed\" logged", "(error log: %r)" % p.errlog()[-500:])
	t.contains(p.errlog(), "%s:%d:" % (p.conf_path, bad_line),
	    "reload error names FILE:LINE")
	t.check(p.alive(), "proxy alive after a bad reload")
	t.eq(connect_status(p, o2.hostport), 200, "bad reload kept the old config")
	r = harness.curl(p, o.url("/size/10"))
	t.eq(r.body, pattern(10), "forwarding works after a bad reload")
	# A value error (not just an unknown name) too.
	p.write_config(text=good.replace("connect_ports", "header_timeout = \"x\"\nconnect_ports"))
	n = count(p, "reload failed")
	p.reload()
	t.check(harness.wait_for(lambda: count(p, "reload failed") > n, 5),
	    "bad value: \"reload failed\" logged")
	t.eq(connect_status(p, o2.hostport), 200, "bad value reload kept the old config")
	p.write_config(text=good)

	# Reload under load: 4 keep-alive connections x 500 requests and an open
	# tunnel while 5 SIGHUPs arrive.
	N, C = 500, 4
	fails = []
	done = [0]
	lock = threading.Lock()

	def load(k):
		c = harness.RawConn(p.port, timeout=10)
		for i in range(N):
			path = "/size/%d" % (100 + (i + k) % 50)
			try:
				c.send(get_req(o.url(path)))
				r = c.response()
			except OSError as e:
				r = None
			ok = r is not None and r.status == 200 and \
			    r.body == pattern(100 + (i + k) % 50)
			with lock:
				if ok:
					done[0] += 1
				else:
					fails.append("conn %d req %d: %r" % (k, i, r))
			if not ok:
				# carry on with a new connection to count the rest
				c.close()
				c = harness.RawConn(p.port, timeout=10)
		c.close()

	tun = harness.RawConn(p.port, timeout=10)
	tun.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (o.hostport, o.hostport))
	r = tun.response(method="CONNECT")
	t.eq(r and r.status, 200, "tunnel open before the reloads")
	th = [threading.Thread(target=load, args=(k,)) for k in range(C)]
	n = count(p, "reloaded")
	for x in th:
		x.start()
	tun_ok = 0
	for i in range(5):
		time.sleep(0.25)
		p.write_config(text=good.replace("connect_ports",
		    "upstream_timeout = %d\nconnect_ports" % (100 + i)))
		p.reload()
		tun.send(get_req("/size/%d" % (i + 1), host=o.hostport))
		r = tun.response()
		if r is not None and r.body == pattern(i + 1):
			tun_ok += 1
	for x in th:
		x.join(120)
	t.eq(fails[:3], [], "no failed request during reloads")
	t.eq(done[0], N * C, "all requests answered during reloads")
	t.check(harness.wait_for(lambda: count(p, "reloaded") >= n + 5, 5),
	    "5 reloads logged", "(%d)" % (count(p, "reloaded") - n))
	t.eq(tun_ok, 5, "tunnel works during the reloads")
	tun.send(get_req("/size/77", host=o.hostport))
	r = tun.response()
	t.eq(r and r.body, pattern(77), "tunnel still works after the reloads")
	tun.close()
	t.check(p.alive(), "proxy alive after the reloads")


harness.run(main)
