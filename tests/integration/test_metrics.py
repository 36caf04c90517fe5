#!/usr/bin/python3
"""/metrics (issue 9): the Prometheus text, from the admin socket's
`metrics` command and from the loopback admin listener (admin_listen,
bearer token from admin_token_file), parsed by a strict little parser
(every sample has a TYPE, valid names and labels, counters end in _total,
histogram buckets cumulative and ending in +Inf with _count equal to it,
no sample twice).  Counters move: an NTLM sign-in (challenge, success),
an NTLMv1 refusal (reason ntlmv1), allowed and blocked requests, a 407,
a CONNECT tunnel (bytes, duration histogram).  The listener: 401 with
WWW-Authenticate: Bearer without a token, with a wrong one (same length
too) and with a second Authorization; 404 elsewhere; POST /command
answers as the socket and logs "by tcp"; a huge head is refused and the
listener lives on; a reload with a new token file drops the old token.
The proxy port answers /metrics with its own page, never the metrics, and
-t refuses a non-loopback admin_listen.
"""

import json
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
import ntlm_client as nc

USERS = {"alice": "Alice-pw1"}
TOKEN = "t0ken-for-the-metrics-test-0123456789"

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|Inf|NaN)$")


class Expo:
	"""A parsed exposition: samples[(name, labels tuple)] = value, and
	errors (strings) for every rule the text breaks."""

	def __init__(self, text):
		self.samples = {}
		self.types = {}
		self.errors = []
		self.parse(text)

	def err(self, n, line, why):
		self.errors.append("line %d %r: %s" % (n, line[:100], why))

	def family(self, name):
		"""The TYPE'd family a sample name belongs to, or None."""
		if name in self.types:
			return name
		for suf in ("_bucket", "_sum", "_count"):
			if name.endswith(suf) and self.types.get(
			    name[:-len(suf)]) == "histogram":
				return name[:-len(suf)]
		return None

	def parse(self, text):
		if not text.endswith("\n"):
			self.errors.append("text does not end with a line feed")
		helps = set()
		for n, line in enumerate(text.split("\n")[:-1], 1):
			if line.startswith("#"):
				m = re.match(r"# (HELP|TYPE) (\S+) (.*)$", line)
				if not m:
					if line.startswith("# HELP") or \
					    line.startswith("# TYPE"):
						self.err(n, line, "bad HELP/TYPE")
					continue
				kind, name, rest = m.groups()
				if not NAME.match(name):
					self.err(n, line, "bad metric name")
				if kind == "TYPE":
					if name in self.types:
						self.err(n, line, "TYPE twice")
					if rest not in ("counter", "gauge",
					    "histogram", "summary", "untyped"):
						self.err(n, line, "unknown type")
					if any(k[0] == name or self.family(k[0]) ==
					    name for k in self.samples):
						self.err(n, line, "TYPE after samples")
					self.types[name] = rest
				else:
					if name in helps:
						self.err(n, line, "HELP twice")
					helps.add(name)
				continue
			if line.strip() == "":
				self.err(n, line, "empty line")
				continue
			m = re.match(r"([^{ ]+)(\{[^}]*\})? (\S+)( -?[0-9]+)?$", line)
			if not m:
				self.err(n, line, "not a sample line")
				continue
			name, lab, value = m.group(1), m.group(2), m.group(3)
			if not NAME.match(name):
				self.err(n, line, "bad metric name")
			if not name.startswith("iaproxy_"):
				self.err(n, line, "not an iaproxy_ name")
			labels = []
			if lab is not None:
				body = lab[1:-1]
				pos = 0
				while pos < len(body):
					lm = LABEL.match(body, pos)
					if not lm:
						self.err(n, line, "bad label")
						break
					labels.append((lm.group(1), lm.group(2)))
					pos = lm.end()
					if pos < len(body):
						if body[pos] != ",":
							self.err(n, line,
							    "bad label separator")
							break
						pos += 1
				if len(set(k for k, _ in labels)) != len(labels):
					self.err(n, line, "a label twice")
			if not FLOAT.match(value):
				self.err(n, line, "bad value")
				continue
			fam = self.family(name)
			if fam is None:
				self.err(n, line, "sample without a TYPE")
			elif self.types[fam] == "counter" and \
			    not name.endswith("_total"):
				self.err(n, line, "counter without _total")
			elif self.types[fam] == "histogram" and name == fam:
				self.err(n, line, "histogram sample without suffix")
			key = (name, tuple(sorted(labels)))
			if key in self.samples:
				self.err(n, line, "sample twice")
			v = float(value.replace("Inf", "inf"))
			if fam is not None and self.types[fam] == "counter" and \
			    v < 0:
				self.err(n, line, "negative counter")
			self.samples[key] = v
		self.check_histograms()

	def check_histograms(self):
		for fam, typ in self.types.items():
			if typ != "histogram":
				continue
			series = {}
			for (name, labels), v in self.samples.items():
				if name == fam + "_bucket":
					d = dict(labels)
					if "le" not in d:
						self.errors.append("%s: bucket without le"
						    % fam)
						continue
					rest = tuple(x for x in labels if x[0] != "le")
					series.setdefault(rest, []).append(
					    (float(d["le"].replace("Inf", "inf")),
					    d["le"], v))
			if not series:
				self.errors.append("%s: no buckets" % fam)
			for rest, bs in series.items():
				bs.sort()
				if bs[-1][1] != "+Inf":
					self.errors.append("%s%r: last bucket not +Inf"
					    % (fam, rest))
				if any(bs[i][2] > bs[i + 1][2] for i in
				    range(len(bs) - 1)):
					self.errors.append("%s%r: buckets not "
					    "cumulative" % (fam, rest))
				cnt = self.samples.get((fam + "_count", rest))
				if cnt is None or cnt != bs[-1][2]:
					self.errors.append("%s%r: _count %r != +Inf "
					    "bucket %r" % (fam, rest, cnt, bs[-1][2]))
				if (fam + "_sum", rest) not in self.samples:
					self.errors.append("%s%r: no _sum" % (fam,
					    rest))

	def get(self, name, **labels):
		return self.samples.get((name, tuple(sorted(labels.items()))))


def parser_selfcheck(t):
	"""The parser must be able to fail: broken texts are caught."""
	good = ("# HELP iaproxy_x_total X.\n# TYPE iaproxy_x_total counter\n"
	    "iaproxy_x_total{a=\"b\\\"c\"} 3\n"
	    "# TYPE iaproxy_h histogram\n"
	    "iaproxy_h_bucket{le=\"1\"} 1\niaproxy_h_bucket{le=\"+Inf\"} 2\n"
	    "iaproxy_h_sum 0.5\niaproxy_h_count 2\n")
	t.eq(Expo(good).errors, [], "parser: a good text passes")
	bad = {
	    "no TYPE": "iaproxy_y_total 1\n",
	    "counter name": "# TYPE iaproxy_c counter\niaproxy_c 1\n",
	    "label": "# TYPE iaproxy_g gauge\niaproxy_g{a=b} 1\n",
	    "not cumulative": good.replace("le=\"+Inf\"} 2", "le=\"+Inf\"} 0")
		.replace("_count 2", "_count 0"),
	    "no +Inf": good.replace("iaproxy_h_bucket{le=\"+Inf\"} 2\n", ""),
	    "count": good.replace("_count 2", "_count 3"),
	    "twice": good + "iaproxy_x_total{a=\"b\\\"c\"} 4\n",
	    "no final LF": good[:-1],
	}
	for what, text in bad.items():
		t.check(Expo(text).errors != [], "parser: catches %s" % what)


def http(port, method, path, token=None, body=None, extra="", raw=None,
    timeout=10):
	"""One request to the admin listener: (status, headers dict, body)."""
	if raw is None:
		h = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
		if token is not None:
			h += "Authorization: Bearer %s\r\n" % token
		if body is not None:
			h += "Content-Length: %d\r\n" % len(body)
		raw = (h + extra + "\r\n").encode() + (body or b"")
	s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
	try:
		s.sendall(raw)
		data = b""
		while True:
			try:
				d = s.recv(65536)
			except ConnectionResetError:
				break
			if not d:
				break
			data += d
	finally:
		s.close()
	head, _, rest = data.partition(b"\r\n\r\n")
	lines = head.decode("latin-1").split("\r\n")
	m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0] if lines else "")
	if not m:
		return None, {}, data
	hdrs = {}
	for l in lines[1:]:
		k, _, v = l.partition(":")
		hdrs[k.strip().lower()] = v.strip()
	return int(m.group(1)), hdrs, rest


def scrape_tcp(t, port, what):
	st, h, body = http(port, "GET", "/metrics", TOKEN)
	t.eq(st, 200, "%s: GET /metrics with the token: 200" % what)
	t.eq(h.get("content-type", "").split(";")[0], "text/plain",
	    "%s: text/plain" % what)
	t.contains(h.get("content-type", ""), "version=0.0.4",
	    "%s: version=0.0.4" % what)
	t.eq(int(h.get("content-length", -1)), len(body), "%s: Content-Length"
	    % what)
	return Expo(body.decode())


def scrape_socket(t, p, what):
	a = p.admin("metrics", timeout=10)[0]
	t.eq(a[-1], "ok", "%s: metrics on the socket ends with ok" % what)
	return Expo("".join(l + "\n" for l in a[:-1]))


def delta(a, b, name, **labels):
	return (b.get(name, **labels) or 0) - (a.get(name, **labels) or 0)


def signin(t, p, url, user, what):
	return nc.signed_in(t, p.port, user, USERS[user], url,
	    "%s: signed in" % what)


def main(t):
	parser_selfcheck(t)
	o = t.origin()
	hf = os.path.join(t.tmpdir, "ntlm.hashes")
	rc, line = nc.hash_line(harness.IAPROXY, "alice", USERS["alice"])
	t.eq(rc, 0, "hash line for alice")
	nc.write_hashfile(hf, [line])
	tok = t.secret_file("admin.token", TOKEN + "\n")
	aport = harness.free_port()
	conf = nc.ntlm_conf(hf)
	conf.update({
	    "admin_socket": os.path.join(t.tmpdir, "admin.sock"),
	    "admin_listen": "127.0.0.1:%d" % aport,
	    "admin_token_file": tok,
	    "connect_ports": [o.port],
	    "workers": 2,
	    'rule "casino"': {"dst_domain": ["casino.test"],
		"action": harness.Raw("block")},
	})
	p = t.proxy(**conf)
	t.check(harness.wait_for(lambda: harness.port_open(aport)),
	    "the admin listener listens")

	e0 = scrape_socket(t, p, "socket")
	t.eq(e0.errors, [], "socket text parses strictly")
	e1 = scrape_tcp(t, aport, "tcp")
	t.eq(e1.errors, [], "tcp text parses strictly")
	# iaproxyctl metrics: the same text, and as one JSON string.
	rc, out, err = p.ctl("metrics")
	t.check(rc == 0, "iaproxyctl metrics: exit 0", err)
	t.eq(Expo(out).errors, [], "iaproxyctl metrics parses strictly")
	t.check("# TYPE iaproxy_requests_total counter" in out,
	    "iaproxyctl metrics: the exposition text", out[:200])
	rc, out, err = p.ctl("--json", "metrics")
	try:
		j = json.loads(out)
	except ValueError:
		j = {}
	t.check(rc == 0 and j.get("ok") is True and Expo(j.get("metrics",
	    "")).errors == [] and "iaproxy_requests_total" in j.get(
	    "metrics", ""), "iaproxyctl --json metrics: the text in JSON",
	    out[:200])
	for name, typ in (("iaproxy_requests_total", "counter"),
	    ("iaproxy_signins_total", "counter"),
	    ("iaproxy_signin_refusals_total", "counter"),
	    ("iaproxy_request_duration_seconds", "histogram"),
	    ("iaproxy_connections_open", "gauge"),
	    ("iaproxy_helper_queue_depth", "gauge"),
	    ("iaproxy_groups_cache_hits_total", "counter"),
	    ("iaproxy_groups_cache_misses_total", "counter"),
	    ("iaproxy_groups_cache_stale_total", "counter"),
	    ("iaproxy_groups_directory_errors_total", "counter"),
	    ("iaproxy_client_sent_bytes_total", "counter"),
	    ("iaproxy_client_received_bytes_total", "counter"),
	    ("iaproxy_syslog_dropped_total", "counter")):
		t.eq(e1.types.get(name), typ, "%s is a %s" % (name, typ))
	t.eq(e1.get("iaproxy_helper_queue_depth", helper="winbind"), 0.0,
	    "winbind queue depth 0")
	t.eq(e1.get("iaproxy_helper_queue_depth", helper="gssapi"), 0.0,
	    "gssapi queue depth 0")
	t.eq(e1.get("iaproxy_workers"), 2.0, "workers 2")

	# Traffic: a 407, a sign-in with an allowed and a blocked request on
	# it, an NTLMv1 refusal, a tunnel.
	r, c0 = harness.raw_request(p.port, harness.get_req(o.url("/size/7")))
	t.eq(r and r.status, 407, "no credentials: 407")
	c0.close()
	c = signin(t, p, o.url("/size/1000"), "alice", "keep-alive")
	live = scrape_tcp(t, aport, "tcp, a connection open")
	t.check((live.get("iaproxy_connections_open") or 0) >= 1,
	    "connections_open counts the open one",
	    "(%r)" % live.get("iaproxy_connections_open"))
	c.send(harness.get_req(o.url("/size/2000")))
	r = c.response()
	t.eq(r and (r.status, len(r.body)), (200, 2000), "allowed request")
	c.send(harness.get_req("http://casino.test/x"))
	r = c.response()
	t.eq(r and r.status, 403, "blocked request: 403")
	c.close()
	cv1 = harness.RawConn(p.port)
	cl = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"],
	    options=["client ntlmv2 auth=no"])
	x = nc.handshake(cv1, o.url("/size/5"), cl)
	cl.close()
	cv1.close()
	t.eq(x.r2 and x.r2.status, 407, "NTLMv1: refused with 407")
	tun = signin(t, p, o.hostport, "alice", "tunnel")
	tun.send("GET /size/3000 HTTP/1.1\r\nHost: %s\r\n\r\n" % o.hostport)
	r = tun.response()
	t.eq(r and (r.status, len(r.body)), (200, 3000), "through the tunnel")
	tun.close()

	def moved():
		e = scrape_socket(t, p, "socket, after")
		return e if delta(e0, e, "iaproxy_requests_total", kind="tunnel",
		    decision="allow") >= 1 else None
	e2 = harness.wait_for(moved, 5) or scrape_socket(t, p, "socket, late")
	t.eq(e2.errors, [], "after traffic: text parses strictly")
	d = lambda name, **l: delta(e0, e2, name, **l)
	t.check(d("iaproxy_requests_total", kind="http", decision="allow") >= 2,
	    "requests allow moved", "(%r)" % d("iaproxy_requests_total",
	    kind="http", decision="allow"))
	t.eq(d("iaproxy_requests_total", kind="http", decision="block"), 1,
	    "requests block +1")
	t.check(d("iaproxy_requests_total", kind="http", decision="none") >= 3,
	    "requests with no decision (407s) moved")
	t.eq(d("iaproxy_requests_total", kind="tunnel", decision="allow"), 1,
	    "tunnels allow +1")
	t.eq(d("iaproxy_requests_total", kind="tunnel", decision="block"), 0,
	    "tunnels block +0")
	t.check(d("iaproxy_responses_total", kind="http", code="4xx") >= 4,
	    "4xx responses moved")
	t.check(d("iaproxy_responses_total", kind="http", code="2xx") >= 2,
	    "2xx responses moved")
	t.check(d("iaproxy_signins_total", mechanism="ntlm", result="success")
	    >= 2, "ntlm sign-in success moved")
	t.check(d("iaproxy_signins_total", mechanism="ntlm",
	    result="challenge") >= 3, "ntlm challenges moved")
	t.eq(d("iaproxy_signins_total", mechanism="ntlm", result="refused"), 1,
	    "ntlm refused +1")
	t.eq(d("iaproxy_signin_refusals_total", mechanism="ntlm",
	    reason="ntlmv1"), 1, "ntlm refusal reason ntlmv1 +1")
	t.eq(d("iaproxy_signin_refusals_total", mechanism="ntlm",
	    reason="bad_password"), 0, "no bad_password refusal")
	t.eq(d("iaproxy_signins_total", mechanism="negotiate",
	    result="success"), 0, "no negotiate sign-in")
	t.check(d("iaproxy_client_sent_bytes_total", kind="http") >= 3000,
	    "http bytes sent moved", "(%r)" % d("iaproxy_client_sent_bytes_total",
	    kind="http"))
	t.check(d("iaproxy_client_sent_bytes_total", kind="tunnel") >= 3000,
	    "tunnel bytes down moved")
	t.check(d("iaproxy_client_received_bytes_total", kind="tunnel") >= 30,
	    "tunnel bytes up moved")
	t.check(d("iaproxy_tunnel_bytes_total", direction="down") >= 3000,
	    "tunnel payload down moved")
	up = len("GET /size/3000 HTTP/1.1\r\nHost: %s\r\n\r\n" % o.hostport)
	t.eq(d("iaproxy_tunnel_bytes_total", direction="up"), up,
	    "tunnel payload up: exactly the request sent in it")
	n_http = sum(d("iaproxy_requests_total", kind="http", decision=x)
	    for x in ("allow", "block", "warn", "monitor", "none"))
	t.eq(d("iaproxy_request_duration_seconds_count", kind="http"), n_http,
	    "http duration count = http requests")
	# The CONNECT's 407 leg of the handshake counts as a tunnel too.
	n_tun = sum(d("iaproxy_requests_total", kind="tunnel", decision=x)
	    for x in ("allow", "block", "warn", "monitor", "none"))
	t.eq(n_tun, 2, "tunnel kind: the 407 leg and the tunnel")
	t.eq(d("iaproxy_request_duration_seconds_count", kind="tunnel"), n_tun,
	    "tunnel duration count = tunnel requests")
	t.check(d("iaproxy_request_duration_seconds_sum", kind="http") > 0,
	    "http duration sum moved")

	# The listener: tokens.
	st, h, _ = http(aport, "GET", "/metrics")
	t.eq(st, 401, "no token: 401")
	t.check(h.get("www-authenticate", "").startswith("Bearer"),
	    "401 has WWW-Authenticate: Bearer", "(%r)" % h)
	st, h, body = http(aport, "GET", "/metrics", "x" + TOKEN[1:])
	t.eq(st, 401, "wrong token (same length): 401")
	t.contains(h.get("www-authenticate", ""), "invalid_token",
	    "wrong token: error=invalid_token")
	t.not_contains(body.decode(), "iaproxy_", "401 has no metrics")
	st, _, _ = http(aport, "GET", "/metrics", TOKEN + "x")
	t.eq(st, 401, "longer token: 401")
	st, _, _ = http(aport, "GET", "/metrics", TOKEN[:-1])
	t.eq(st, 401, "shorter token: 401")
	st, _, _ = http(aport, "GET", "/metrics", extra="Authorization: Basic "
	    "YWRtaW46YWRtaW4=\r\n")
	t.eq(st, 401, "Basic credentials: 401")
	st, _, _ = http(aport, "GET", "/metrics", TOKEN, extra="Authorization: "
	    "Bearer %s\r\n" % TOKEN)
	t.eq(st, 401, "two Authorization fields: 401")
	st, _, _ = http(aport, "GET", "/metrics", raw=("GET /metrics HTTP/1.1"
	    "\r\nauthorization: bearer %s\r\n\r\n" % TOKEN).encode())
	t.eq(st, 200, "scheme and field name case-insensitive: 200")
	st, _, _ = http(aport, "GET", "/other", TOKEN)
	t.eq(st, 404, "GET /other: 404")
	st, _, _ = http(aport, "GET", "/other")
	t.eq(st, 401, "GET /other without a token: 401 first")
	st, _, _ = http(aport, "DELETE", "/metrics", TOKEN)
	t.eq(st, 404, "DELETE /metrics: 404")
	st, _, _ = http(aport, "GET", "/metrics", raw=b"GET /metrics HTTP/1.1\r\n"
	    b"X: " + b"a" * 20000 + b"\r\n\r\n")
	t.eq(st, 431, "a huge head: 431")
	st, _, body = http(aport, "GET", "/metrics", raw=b"junk\r\n\r\n")
	t.eq(st, 400, "junk: 400")

	# POST /command: the socket's answer, logged "by tcp".
	st, _, body = http(aport, "POST", "/command", TOKEN, body=b"status\n")
	t.eq(st, 200, "POST /command status: 200")
	b = body.decode()
	t.check(b.endswith("ok\n") and "workers 2\n" in b and p.conf_path in b,
	    "POST /command status: the socket's answer", "(%r)" % b[:300])
	st, _, body = http(aport, "POST", "/command", TOKEN,
	    body=b"signout zed\r\n")
	t.eq((st, body), (200, b"ok 0\n"), "POST /command signout: ok 0")
	t.check(harness.wait_for(lambda: "signout zed by tcp" in p.errlog(), 3),
	    "the tcp command is logged by tcp")
	st, _, body = http(aport, "POST", "/command", TOKEN, body=b"metrics")
	e3 = Expo(body.decode().rsplit("ok\n", 1)[0])
	t.check(st == 200 and body.endswith(b"\nok\n") and not e3.errors,
	    "POST /command metrics: the text and ok", "(%r)" % e3.errors[:3])
	st, _, body = http(aport, "POST", "/command", TOKEN,
	    body=b"status\nreload\n")
	t.eq(st, 200, "two lines: answered")
	t.contains(body.decode(), "error", "two lines: an error, not two "
	    "commands")
	st, _, _ = http(aport, "POST", "/command", body=b"reload\n")
	t.eq(st, 401, "POST /command without a token: 401")
	t.not_contains(p.errlog(), TOKEN, "the token is never logged")
	st, _, _ = http(aport, "POST", "/command", TOKEN, body=b"x" * 5000)
	t.eq(st, 413, "a big body: 413")
	# A slow client does not stop the main thread for others.
	slow = socket.create_connection(("127.0.0.1", aport))
	slow.sendall(b"GET /metrics HTTP/1.1\r\n")
	st, _, _ = http(aport, "GET", "/metrics", TOKEN)
	t.eq(st, 200, "a half-sent request does not block another")
	slow.close()

	# The proxy port is not the admin listener.
	r, c1 = harness.raw_request(p.port, "GET /metrics HTTP/1.1\r\nHost: "
	    "127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n\r\n" % (p.port, TOKEN))
	t.check(r is not None and r.status == 404 and b"# TYPE" not in r.body,
	    "GET /metrics on the proxy port: 404, no metrics", "(%r)" % r)
	c1.close()
	r, c1 = harness.raw_request(p.port, "GET http://127.0.0.1:%d/metrics "
	    "HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (p.port, p.port))
	t.check(r is not None and r.status != 200 and b"# TYPE" not in r.body,
	    "absolute /metrics of the proxy itself: not the metrics",
	    "(%r)" % r)
	c1.close()
	# Nor does the proxy path lead to the admin listener (signed in).
	for url in ("http://127.0.0.1:%d/metrics" % aport,
	    "http://localhost:%d/metrics" % aport, "127.0.0.1:%d" % aport):
		c1 = harness.RawConn(p.port)
		cl = nc.NtlmAuthClient("alice", "EXAMPLE", USERS["alice"])
		x = nc.handshake(c1, url, cl)
		cl.close()
		t.check(x.status == 403 and b"# TYPE" not in x.r2.body,
		    "%s through the proxy, signed in: 403, never the admin "
		    "listener" % url,
		    "(%r)" % x)
		c1.close()

	# A reload with a new token: the old one stops working at once.
	tok2 = "second-token-abcdefghijklmnop"
	with open(tok, "w") as f:
		f.write(tok2 + "\n")
	a = p.admin("reload")[0]
	t.eq(a[-1], "ok reloaded", "reload with a new token")
	st, _, _ = http(aport, "GET", "/metrics", TOKEN)
	t.eq(st, 401, "after reload: the old token 401")
	st, _, _ = http(aport, "GET", "/metrics", tok2)
	t.eq(st, 200, "after reload: the new token 200")

	# -t: only loopback, and a token is required.
	bad = harness.conf_text(dict(p.conf, admin_listen="0.0.0.0:%d" % aport))
	path = os.path.join(t.tmpdir, "bad.conf")
	with open(path, "w") as f:
		f.write(bad)
	r = subprocess.run([harness.IAPROXY, "-t", "-c", path],
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
	t.check(r.returncode != 0 and b"admin_listen" in r.stderr,
	    "-t refuses admin_listen 0.0.0.0", "(%r)" % r.stderr[-300:])
	nt = dict(p.conf)
	del nt["admin_token_file"]
	with open(path, "w") as f:
		f.write(harness.conf_text(nt))
	r = subprocess.run([harness.IAPROXY, "-t", "-c", path],
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
	t.check(r.returncode != 0 and b"admin_token_file" in r.stderr,
	    "-t wants admin_token_file with admin_listen",
	    "(%r)" % r.stderr[-300:])
	t.check(p.alive(), "the proxy is still running")


harness.run(main)
