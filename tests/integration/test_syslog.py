#!/usr/bin/python3
"""access_log = "syslog[:FACILITY]" (issue 9): every access-log line goes
as one RFC 3164-style datagram "<PRI>Mmm dd hh:mm:ss iaproxy[PID]: LINE"
to syslog_socket, a unix datagram socket the test binds itself.  Checked:
the PRI (facility local3 / daemon, severity info), the timestamp, the pid,
one datagram per request or tunnel with no line feed, the JSON and squid
formats; a reload switching format and facility; with no socket at all
the requests go on at full speed and the lines are counted in
iaproxy_syslog_dropped_total (a warning logged once, not per line), and
when the socket comes back at the same path the lines reach it again; a
receiver that does not read (queue full) does not slow requests either;
-t refuses an unknown facility.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness

LINE = re.compile(r"^<(\d+)>([A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:"
    r"[0-9]{2}) iaproxy\[([0-9]+)\]: (.*)$", re.S)
LOCAL3, DAEMON, INFO = 19, 3, 6


class Receiver:
	"""A unix datagram socket at path, like /dev/log."""

	def __init__(self, path):
		self.path = path
		if os.path.exists(path):
			os.unlink(path)
		self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
		self.s.bind(path)

	def get(self, n, timeout=5.0):
		"""Up to n datagrams (bytes) within timeout."""
		out = []
		end = time.time() + timeout
		while len(out) < n and time.time() < end:
			self.s.settimeout(max(0.01, end - time.time()))
			try:
				out.append(self.s.recv(1 << 20))
			except socket.timeout:
				break
		return out

	def drain(self):
		out = []
		self.s.settimeout(0)
		while True:
			try:
				out.append(self.s.recv(1 << 20))
			except (BlockingIOError, socket.timeout):
				return out

	def close(self):
		self.s.close()
		if os.path.exists(self.path):
			os.unlink(self.path)


def parse(d):
	m = LINE.match(d.decode("utf-8", "replace"))
	if not m:
		return None
	return int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)


def stamp_ok(stamp):
	"""Is "Mmm dd hh:mm:ss" (local time) within two minutes of now?"""
	now = time.time()
	for year in (time.localtime(now).tm_year, time.localtime(now).tm_year -
	    1):
		try:
			tm = time.strptime("%d %s" % (year, stamp), "%Y %b %d %H:%M:%S")
		except ValueError:
			return False
		if abs(time.mktime(tm) - now) < 120:
			return True
	return False


def dropped(p):
	for l in p.admin("metrics")[0]:
		if l.startswith("iaproxy_syslog_dropped_total "):
			return int(l.split()[1])
	return None


def timed_gets(p, urls):
	"""curl each url; (statuses, seconds taken)."""
	t0 = time.time()
	st = [harness.curl(p, u).status for u in urls]
	return st, time.time() - t0


def main(t):
	o = t.origin()
	sock = os.path.join(t.tmpdir, "log.sock")
	rx = Receiver(sock)
	p = t.proxy(access_log="syslog:local3", syslog_socket=sock,
	    log_format=harness.Raw("json"), connect_ports=[o.port],
	    admin_socket=os.path.join(t.tmpdir, "admin.sock"))

	# JSON lines, local3.info.
	for n in (10, 20, 30):
		r = harness.curl(p, o.url("/size/%d" % n))
		t.eq(r.status, 200, "GET /size/%d" % n)
	ds = rx.get(3)
	t.eq(len(ds), 3, "three requests, three datagrams")
	recs = []
	for d in ds:
		x = parse(d)
		t.check(x is not None, "datagram is <PRI>TIMESTAMP iaproxy[PID]: "
		    "LINE", "(%r)" % d[:120])
		if x is None:
			continue
		pri, stamp, pid, line = x
		t.eq(pri, LOCAL3 * 8 + INFO, "PRI is local3.info")
		t.check(stamp_ok(stamp), "timestamp is now, local time",
		    "(%r)" % stamp)
		t.eq(pid, p.pid, "the pid is the proxy's")
		t.check(not d.endswith(b"\n"), "no line feed in the datagram")
		try:
			recs.append(json.loads(line))
		except ValueError:
			t.fail("the line is JSON: %r" % line[:200])
	t.eq(sorted(r.get("url", "").rsplit("/", 1)[-1] for r in recs),
	    ["10", "20", "30"], "the JSON lines name the requests")
	t.check(all(r.get("status") == 200 and r.get("bytes_out", 0) > 0 for r
	    in recs), "status and bytes in the JSON lines")
	t.check(not os.path.exists(os.path.join(t.tmpdir, "syslog")) and
	    not os.path.exists("syslog"), "no file called syslog was made")

	# A tunnel is one line too, when it ends.
	c = harness.RawConn(p.port)
	c.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (o.hostport,
	    o.hostport))
	r = c.response("CONNECT")
	t.eq(r and r.status, 200, "CONNECT: 200")
	c.send("GET /size/40 HTTP/1.1\r\nHost: %s\r\n\r\n" % o.hostport)
	r = c.response()
	t.eq(r and r.status, 200, "GET in the tunnel")
	c.close()
	ds = rx.get(1)
	x = parse(ds[0]) if ds else None
	j = json.loads(x[3]) if x else {}
	t.check(j.get("method") == "CONNECT" and j.get("tunnel_down", 0) > 40,
	    "the tunnel's line, with its bytes", "(%r)" % ds)

	# Reload: squid format, facility daemon.
	p.write_config(access_log="syslog", log_format=harness.Raw("squid"))
	a = p.admin("reload")[0]
	t.eq(a[-1], "ok reloaded", "reload to squid format, daemon")
	r = harness.curl(p, o.url("/size/50"))
	t.eq(r.status, 200, "GET after the reload")
	ds = rx.get(1)
	x = parse(ds[0]) if ds else None
	t.check(x is not None and x[0] == DAEMON * 8 + INFO, "PRI is "
	    "daemon.info after the reload", "(%r)" % ds)
	f = x[3].split() if x else []
	t.check(len(f) >= 10 and f[3] == "TCP_MISS/200" and f[6].endswith(
	    "/size/50"), "a squid line", "(%r)" % f)

	# No socket: requests go on, the lines are counted as dropped.
	d0 = dropped(p)
	t.check(d0 is not None, "iaproxy_syslog_dropped_total is exposed")
	rx.close()
	off = len(p.errlog())
	st, took = timed_gets(p, [o.url("/size/%d" % (60 + i)) for i in range(5)])
	t.eq(st, [200] * 5, "no syslog socket: requests still answered")
	t.check(took < 10, "and quickly", "(%.1fs)" % took)
	t.check(harness.wait_for(lambda: (dropped(p) or 0) - (d0 or 0) >= 5, 3),
	    "five lines counted as dropped", "(%r -> %r)" % (d0, dropped(p)))
	warns = p.errlog()[off:].count("access log to syslog")
	t.check(1 <= warns <= 2, "the loss is logged once, not per line",
	    "(%d warnings)" % warns)

	# The socket comes back at the same path: lines reach it again.
	rx = Receiver(sock)
	r = harness.curl(p, o.url("/size/70"))
	t.eq(r.status, 200, "GET once the socket is back")
	ds = rx.get(1)
	x = parse(ds[0]) if ds else None
	t.check(x is not None and "/size/70" in x[3], "the line reaches the "
	    "new socket", "(%r)" % ds)

	# A receiver that does not read: its queue fills, nobody waits.
	d1 = dropped(p)
	c = harness.RawConn(p.port)
	t0 = time.time()
	ok = 0
	for i in range(60):
		c.send(harness.get_req(o.url("/size/%d" % (100 + i))))
		r = c.response()
		ok += r is not None and r.status == 200
	took = time.time() - t0
	c.close()
	t.eq(ok, 60, "60 requests answered while syslog does not read")
	t.check(took < 15, "without waiting for syslog", "(%.1fs)" % took)
	t.check(harness.wait_for(lambda: (dropped(p) or 0) > (d1 or 0), 3),
	    "lines beyond the full queue are counted as dropped",
	    "(%r -> %r)" % (d1, dropped(p)))
	got = rx.drain()
	t.check(0 < len(got) < 60, "what the queue held arrived, the rest "
	    "was dropped", "(%d datagrams)" % len(got))
	t.eq(len(got) + (dropped(p) - d1), 60, "every line either arrived or "
	    "was counted as dropped")
	r = harness.curl(p, o.url("/size/200"))
	ds = rx.get(1)
	t.check(ds and "/size/200" in ds[0].decode(), "after draining, lines "
	    "arrive again", "(%r)" % ds)
	rx.close()
	t.check(p.alive(), "the proxy is still running")

	# -t: an unknown facility is a config error with FILE:LINE.
	path = os.path.join(t.tmpdir, "bad.conf")
	with open(path, "w") as fh:
		fh.write(harness.conf_text(dict(p.conf, access_log="syslog:bogus")))
	r = subprocess.run([harness.IAPROXY, "-t", "-c", path],
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
	t.check(r.returncode != 0 and re.search(rb"bad\.conf:\d+:.*facility",
	    r.stderr), "-t: syslog:bogus refused with FILE:LINE",
	    "(%r)" % r.stderr[-300:])


harness.run(main)
