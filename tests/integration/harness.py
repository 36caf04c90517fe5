"""Integration-test harness for iaproxy (plain python3 stdlib, no pytest).

A test file looks like:

	import harness

	def main(t):
		o = t.origin()
		p = t.proxy(connect_ports=[o.port])
		r = harness.curl(p, o.url("/size/10"))
		t.eq(r.status, 200, "GET through the proxy")

	harness.run(main)

harness.run() creates the Test (check counter, temp dir), runs main, turns an
exception into a failed check, stops every process the test started (by pid,
also from atexit and on SIGTERM/SIGINT) and prints "N passed, N failed" as the
last line.  The exit status is 1 when a check failed.

Environment: IAPROXY (the binary; default SRCDIR/proxy/iaproxy),
IAPROXY_SRCDIR, IAPROXY_TEST_OUT (where per-test temp dirs go; a temp dir is
removed when the test passes and kept when it fails).
"""

import atexit
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("IAPROXY_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
IAPROXY = os.environ.get("IAPROXY") or os.path.join(SRCDIR, "proxy", "iaproxy")
# iaproxyctl, beside the proxy binary.
IAPROXYCTL = os.path.join(os.path.dirname(IAPROXY), "iaproxyctl")
PYTHON = "/usr/bin/python3"
CURL = "/usr/bin/curl"
HOSTNAME = "proxy.example.test"
VERSION = "0.1.0"
VIA = "1.1 %s (iaproxy/%s)" % (HOSTNAME, VERSION)

PATTERN = bytes(range(256)) * 256	# origin.py's content: byte i = i % 256


def pattern(n):
	"""The first n bytes the origin's /size/N, /chunked/N, /close/N send."""
	q, r = divmod(n, len(PATTERN))
	return PATTERN * q + PATTERN[:r]


def pattern_sha256(n):
	h = hashlib.sha256()
	q, r = divmod(n, len(PATTERN))
	for _ in range(q):
		h.update(PATTERN)
	h.update(PATTERN[:r])
	return h.hexdigest()


# ---------------------------------------------------------------------------
# Processes: every child is registered and stopped by pid, whatever happens.

_procs = []
_procs_lock = threading.Lock()


def _register(p):
	with _procs_lock:
		_procs.append(p)


def _stop_proc(p, grace=3.0):
	if p.poll() is not None:
		return p.returncode
	try:
		p.send_signal(signal.SIGTERM)
	except ProcessLookupError:
		pass
	try:
		return p.wait(grace)
	except subprocess.TimeoutExpired:
		pass
	try:
		p.kill()
	except ProcessLookupError:
		pass
	try:
		return p.wait(5)
	except subprocess.TimeoutExpired:
		return None


_cleanups = []


def at_stop(fn):
	"""Run fn() when the test's processes are stopped (end of the test,
	exit or a signal), after them; for what is not a process we own
	(e.g. a network namespace).  Each fn runs once."""
	with _procs_lock:
		_cleanups.append(fn)


def stop_all():
	with _procs_lock:
		procs = list(_procs)
	for p in reversed(procs):
		_stop_proc(p)
	with _procs_lock:
		fns = list(_cleanups)
		del _cleanups[:]
	for fn in reversed(fns):
		try:
			fn()
		except Exception as e:
			sys.stdout.write("# cleanup failed: %r\n" % (e,))


atexit.register(stop_all)


def _on_signal(signum, frame):
	sys.stdout.write("FAIL: test killed by signal %d\n" % signum)
	stop_all()
	sys.stdout.write("0 passed, 1 failed\n")
	sys.stdout.flush()
	os._exit(1)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


# ---------------------------------------------------------------------------
# Small utilities.

def free_port(family=socket.AF_INET):
	"""A TCP port nobody listens on right now (bound and released).

	Picked below the kernel's ephemeral range (32768+ on Linux), so that
	outgoing connections made meanwhile cannot take it before the proxy
	binds it."""
	import random
	host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
	for _ in range(200):
		port = random.randrange(20000, 32000)
		s = socket.socket(family, socket.SOCK_STREAM)
		try:
			s.bind((host, port))
			return port
		except OSError:
			continue
		finally:
			s.close()
	raise RuntimeError("no free port")


def closed_port():
	"""A port where connect() is refused: bound but not listening."""
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	return s, s.getsockname()[1]


def wait_for(fn, timeout=5.0, interval=0.05):
	"""Poll fn() until it returns something true; return that or None."""
	end = time.time() + timeout
	while True:
		v = fn()
		if v:
			return v
		if time.time() >= end:
			return None
		time.sleep(interval)


def port_open(port, host="127.0.0.1"):
	fam = socket.AF_INET6 if ":" in host else socket.AF_INET
	s = socket.socket(fam, socket.SOCK_STREAM)
	s.settimeout(0.5)
	try:
		s.connect((host, port))
		return True
	except OSError:
		return False
	finally:
		s.close()


def hget(headers, name):
	"""All values of header name (case-insensitive), in order."""
	name = name.lower()
	return [v for k, v in headers if k.lower() == name]


def hget1(headers, name):
	"""The values of name joined with ", ", or None if absent."""
	v = hget(headers, name)
	return ", ".join(v) if v else None


class SynDropper:
	"""A destination whose SYNs are dropped, so connect() hangs.

	A listener with backlog 0 that never accepts: once its accept queue is
	full, Linux drops further SYNs (tcp_conn_request: "listen overflow"),
	so the next connect() neither succeeds nor is refused until its own
	timeout.  No iptables and no network namespace needed.
	"""

	def __init__(self):
		self.ls = socket.socket()
		self.ls.bind(("127.0.0.1", 0))
		self.ls.listen(0)
		self.port = self.ls.getsockname()[1]
		self.fill = []
		for _ in range(4):
			s = socket.socket()
			s.setblocking(False)
			try:
				s.connect(("127.0.0.1", self.port))
			except BlockingIOError:
				pass
			self.fill.append(s)
		time.sleep(0.2)

	def verify(self, timeout=1.0):
		"""True if a fresh connect() really hangs."""
		s = socket.socket()
		s.settimeout(timeout)
		try:
			s.connect(("127.0.0.1", self.port))
			return False
		except socket.timeout:
			return True
		except OSError:
			return False
		finally:
			s.close()

	def close(self):
		for s in self.fill:
			s.close()
		self.ls.close()


class TcpRelay:
	"""A TCP relay from a free loopback port (self.port) to
	127.0.0.1:upstream_port, one thread per connection and direction.
	What the server sends passes through server_data(), which a subclass
	overrides to delay or split it; what the client sends passes as is.

		class Slow(harness.TcpRelay):
			def server_data(self, n, data, dst):
				time.sleep(1)
				return data
	"""

	def __init__(self, upstream_port):
		self.up = upstream_port
		self.ls = socket.socket()
		self.ls.bind(("127.0.0.1", 0))
		self.ls.listen(8)
		self.port = self.ls.getsockname()[1]
		threading.Thread(target=self.run, daemon=True).start()

	def run(self):
		while True:
			try:
				c, _ = self.ls.accept()
			except OSError:
				return
			u = socket.create_connection(("127.0.0.1", self.up))
			threading.Thread(target=self.pump, args=(c, u, False),
			    daemon=True).start()
			threading.Thread(target=self.pump, args=(u, c, True),
			    daemon=True).start()

	def server_data(self, n, data, dst):
		"""The server's nth read (from 1) on a connection, data, about
		to go to dst: what to send on (it may send a part itself first)."""
		return data

	def pump(self, src, dst, from_server):
		n = 0
		try:
			while True:
				d = src.recv(65536)
				if not d:
					break
				n += 1
				if from_server:
					d = self.server_data(n, d, dst)
				dst.sendall(d)
		except OSError:
			pass
		for x in (src, dst):
			try:
				x.shutdown(2)
			except OSError:
				pass

	def close(self):
		self.ls.close()


# ---------------------------------------------------------------------------
# The test object: checks, temp dir, the processes it started.

class Test:
	def __init__(self, name):
		self.name = name
		self.passed = 0
		self.failed = 0
		self.lock = threading.Lock()
		out = os.environ.get("IAPROXY_TEST_OUT")
		if out:
			os.makedirs(out, exist_ok=True)
			self.tmpdir = tempfile.mkdtemp(prefix=name + ".", dir=out)
		else:
			self.tmpdir = tempfile.mkdtemp(prefix="iaproxy-" + name + ".")
		self.procs = []
		self.proxies = []
		self._cert = None

	# -- checks --
	def check(self, cond, msg, detail=""):
		"""Record one check; print "FAIL: test: msg detail" when cond is
		false (detail: the actual values, shown only on failure)."""
		with self.lock:
			if cond:
				self.passed += 1
				sys.stdout.write("ok: %s\n" % msg)
			else:
				self.failed += 1
				sys.stdout.write("FAIL: %s: %s %s\n" % (self.name, msg, detail))
			sys.stdout.flush()
		return bool(cond)

	def eq(self, actual, expected, msg):
		return self.check(actual == expected, msg, "(got %r, want %r)" %
		    (_short(actual), _short(expected)))

	def isin(self, actual, allowed, msg):
		return self.check(actual in allowed, msg,
		    "(got %r, want one of %r)" % (_short(actual), allowed))

	def contains(self, haystack, needle, msg):
		ok = haystack is not None and needle in haystack
		return self.check(ok, msg, "(%r not in %r)" %
		    (_short(needle), _short(haystack)))

	def not_contains(self, haystack, needle, msg):
		ok = haystack is not None and needle not in haystack
		return self.check(ok, msg, "(%r found in %r)" %
		    (_short(needle), _short(haystack)))

	def between(self, actual, lo, hi, msg):
		return self.check(lo <= actual <= hi, msg,
		    "(got %.2f, want %.2f..%.2f)" % (actual, lo, hi))

	def fail(self, msg):
		self.check(False, msg)

	def log(self, msg):
		with self.lock:
			sys.stdout.write("# %s\n" % msg)
			sys.stdout.flush()

	# -- files --
	def secret_file(self, name, text):
		"""text in a new file name in the temp dir, mode 0600 from the
		start (as the proxy wants its secrets); the path."""
		path = os.path.join(self.tmpdir, name)
		fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
		with os.fdopen(fd, "w") as f:
			f.write(text)
		return path

	# -- peers --
	def cert(self):
		"""A self-signed cert/key for 127.0.0.1, made with the openssl CLI."""
		if self._cert is None:
			c = os.path.join(self.tmpdir, "cert.pem")
			k = os.path.join(self.tmpdir, "key.pem")
			subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
			    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
			    "-keyout", k, "-out", c, "-days", "2",
			    "-subj", "/CN=127.0.0.1",
			    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
			    check=True, stdout=subprocess.DEVNULL,
			    stderr=subprocess.DEVNULL)
			self._cert = (c, k)
		return self._cert

	def origin(self, tls=False, host="127.0.0.1"):
		return Origin(self, tls=tls, host=host)

	def proxy(self, start=True, **conf):
		p = Proxy(self, **conf)
		self.proxies.append(p)
		if start:
			p.start()
		return p

	def spawn(self, argv, **kw):
		"""Start a child we own; it is stopped by pid at the end."""
		p = subprocess.Popen(argv, **kw)
		_register(p)
		self.procs.append(p)
		return p

	def done(self):
		stop_all()
		# A sanitizer build reports memory errors on the proxy's stderr.
		for px in self.proxies:
			log = px.errlog()
			found = [m for m in ("ERROR: AddressSanitizer",
			    "ERROR: LeakSanitizer", "runtime error:") if m in log]
			self.check(not found, "no sanitizer report in iaproxy%d.err"
			    % px.n, "(%s)" % ", ".join(found))
		if self.failed == 0 and self.passed > 0:
			shutil.rmtree(self.tmpdir, ignore_errors=True)
		else:
			sys.stdout.write("# files kept in %s\n" % self.tmpdir)
		sys.stdout.write("%d passed, %d failed\n" % (self.passed, self.failed))
		sys.stdout.flush()
		return 1 if self.failed or self.passed == 0 else 0


def _short(v, n=160):
	"""v, cut to n characters or bytes for a failure message."""
	if isinstance(v, (str, bytes)) and len(v) > n:
		return v[:n] + ("..." if isinstance(v, str) else b"...")
	return v


def run(main):
	"""Run main(t) as a test and exit with its status."""
	name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
	t = Test(name)
	try:
		main(t)
	except Exception as e:
		t.log(traceback.format_exc().replace("\n", "\n# "))
		t.fail("exception: %s: %s" % (type(e).__name__,
		    str(e).replace("\n", " ")[:300]))
	finally:
		rc = t.done()
	sys.exit(rc)


# ---------------------------------------------------------------------------
# The origin server (origin.py) as a child process.

class Origin:
	def __init__(self, t, tls=False, host="127.0.0.1"):
		self.t = t
		self.tls = tls
		self.host = host
		pf = tempfile.mktemp(prefix="origin-port.", dir=t.tmpdir)
		argv = [PYTHON, os.path.join(HERE, "origin.py"), "--host", host,
		    "--port", "0", "--port-file", pf]
		if tls:
			argv += ["--tls"] + list(t.cert())
		self.errfile = pf + ".err"
		self.proc = t.spawn(argv, stdout=subprocess.DEVNULL,
		    stderr=open(self.errfile, "w"))
		ok = wait_for(lambda: os.path.exists(pf) or
		    self.proc.poll() is not None, 10)
		if not ok or self.proc.poll() is not None:
			raise RuntimeError("origin.py did not start: " +
			    open(self.errfile).read())
		self.port = int(open(pf).read())

	@property
	def hostport(self):
		h = "[%s]" % self.host if ":" in self.host else self.host
		return "%s:%d" % (h, self.port)

	def url(self, path="/"):
		return "%s://%s%s" % ("https" if self.tls else "http",
		    self.hostport, path)

	def stats(self):
		"""The origin's counters, fetched directly (not through a proxy)."""
		fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
		s = socket.create_connection((self.host, self.port), timeout=5)
		try:
			if self.tls:
				ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
				ctx.check_hostname = False
				ctx.verify_mode = ssl.CERT_NONE
				s = ctx.wrap_socket(s)
			s.sendall(b"GET /__stats HTTP/1.1\r\nHost: x\r\n"
			    b"Connection: close\r\n\r\n")
			r = read_response(_Reader(s))
			return json.loads(r.body)
		finally:
			s.close()

	def stop(self):
		return _stop_proc(self.proc)


# ---------------------------------------------------------------------------
# The proxy under test.

class Raw:
	"""A config value written as is (no quotes), e.g. Raw("squid")."""

	def __init__(self, text):
		self.text = text


def conf_value(v):
	if isinstance(v, Raw):
		return v.text
	if isinstance(v, bool):
		return "true" if v else "false"
	if isinstance(v, int):
		return str(v)
	if isinstance(v, (list, tuple)):
		return "{" + ", ".join(conf_value(x) for x in v) + "}"
	return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def conf_text(conf):
	out = []
	for k, v in conf.items():
		if v is None:
			continue
		if isinstance(v, dict):
			out.append("%s {" % k)
			for k2, v2 in v.items():
				out.append("  %s = %s" % (k2, conf_value(v2)))
			out.append("}")
		else:
			out.append("%s = %s" % (k, conf_value(v)))
	return "\n".join(out) + "\n"


class Proxy:
	"""iaproxy -c FILE, with a config built from keyword arguments.

	The base config listens on a free port of 127.0.0.1, runs one worker,
	names itself proxy.example.test and logs to files in the temp dir.
	Any keyword overrides or adds an option; a dict value is a section;
	a value of None removes the option.  Raw("x") is written unquoted.
	"""

	seq = 0

	def __init__(self, t, **conf):
		Proxy.seq += 1
		self.t = t
		self.n = Proxy.seq
		self.port = free_port()
		self.conf_path = os.path.join(t.tmpdir, "iaproxy%d.conf" % self.n)
		self.errlog_path = os.path.join(t.tmpdir, "iaproxy%d.err" % self.n)
		self.stdout_path = os.path.join(t.tmpdir, "iaproxy%d.out" % self.n)
		self.access_log = os.path.join(t.tmpdir, "access%d.log" % self.n)
		self.base = {
			"listen": ["127.0.0.1:%d" % self.port],
			"workers": 1,
			"hostname": HOSTNAME,
			"access_log": self.access_log,
			"log_format": Raw("squid"),
			"connect_ports": [443],
			# Never the machine's /var/lib/iaproxy (disable writes).
			"state_dir": os.path.join(t.tmpdir, "state%d" % self.n),
		}
		self.conf = dict(self.base)
		self.conf.update(conf)
		# A test passing its own listen list: port is the first one's.
		self.port = int(self.conf["listen"][0].rsplit(":", 1)[1])
		self.proc = None
		# argv put before the proxy's own (e.g. ["unshare", "-m", ...]);
		# it must exec the proxy, so that the pid stays the proxy's.
		self.prefix = []
		self.write_config()

	def write_config(self, text=None, **changes):
		"""Rewrite the config file: changes merged in, or text verbatim."""
		self.conf.update(changes)
		if text is None:
			text = conf_text(self.conf)
		with open(self.conf_path + ".tmp", "w") as f:
			f.write(text)
		os.rename(self.conf_path + ".tmp", self.conf_path)
		return text

	def start(self, wait=True):
		self.proc = self.t.spawn(self.prefix + [IAPROXY, "-c",
		    self.conf_path],
		    stdout=open(self.stdout_path, "w"),
		    stderr=open(self.errlog_path, "w"), stdin=subprocess.DEVNULL)
		if wait:
			self.wait_ready()
		return self

	def wait_ready(self, timeout=10):
		host = self.listen_host()
		ok = wait_for(lambda: self.proc.poll() is not None or
		    port_open(self.port, host), timeout)
		if not ok or self.proc.poll() is not None:
			raise RuntimeError("proxy did not start (exit %r): %s" %
			    (self.proc.poll(), self.errlog()[-2000:]))

	def listen_host(self):
		first = self.conf["listen"][0]
		h = first.rsplit(":", 1)[0]
		return h.strip("[]")

	@property
	def pid(self):
		return self.proc.pid

	def alive(self):
		return self.proc is not None and self.proc.poll() is None

	def signal(self, sig):
		self.proc.send_signal(sig)

	def reload(self):
		self.signal(signal.SIGHUP)

	def reopen_logs(self):
		self.signal(signal.SIGUSR1)

	def stop(self, grace=10.0):
		"""SIGTERM, wait up to grace seconds, then SIGKILL; the exit code."""
		if self.proc is None:
			return None
		return _stop_proc(self.proc, grace)

	def errlog(self):
		try:
			with open(self.errlog_path, errors="replace") as f:
				return f.read()
		except FileNotFoundError:
			return ""

	def wait_errlog(self, text, timeout=5.0, since=0):
		"""Wait until text appears in the error log after offset since."""
		return wait_for(lambda: text in self.errlog()[since:], timeout)

	def access_lines(self, path=None):
		try:
			with open(path or self.access_log, errors="replace") as f:
				return [l.rstrip("\n") for l in f if l.strip()]
		except FileNotFoundError:
			return []

	def wait_access_lines(self, n, timeout=5.0, path=None):
		"""Wait until the access log has at least n lines; return them."""
		wait_for(lambda: len(self.access_lines(path)) >= n, timeout)
		return self.access_lines(path)

	def access_records(self, off=0):
		"""The access-log lines after line off (log_format json) as
		dicts; a line that is not JSON is left out."""
		out = []
		for l in self.access_lines()[off:]:
			try:
				out.append(json.loads(l))
			except ValueError:
				pass
		return out

	def final_record(self, off, timeout=5.0):
		"""The first access-log record after line off that is not a 407,
		waiting up to timeout for it; {} if none came."""
		def get():
			for r in self.access_records(off):
				if r.get("status") != 407:
					return r
			return None
		return wait_for(get, timeout) or {}

	def wait_json_records(self, n, timeout=5.0):
		"""Wait for n access-log lines (log_format json); each parsed,
		a failed check for a line that is not JSON."""
		recs = []
		for l in self.wait_access_lines(n, timeout):
			try:
				recs.append(json.loads(l))
			except ValueError:
				self.t.fail("json log line is not JSON: %r" % l)
		return recs

	def admin(self, *cmds, timeout=5.0):
		"""Send commands to the admin socket (the config's admin_socket);
		the answer lines of each (the last "ok ..." or "error ...")."""
		c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		c.settimeout(timeout)
		c.connect(self.conf["admin_socket"])
		c.sendall("".join(x + "\n" for x in cmds).encode())
		buf = b""
		answers = []
		cur = []
		while len(answers) < len(cmds):
			while b"\n" not in buf:
				d = c.recv(65536)
				if not d:
					c.close()
					return answers + ([cur] if cur else [])
				buf += d
			line, buf = buf.split(b"\n", 1)
			line = line.decode()
			cur.append(line)
			if line.startswith("ok") or line.startswith("error"):
				answers.append(cur)
				cur = []
		c.close()
		return answers

	def ctl(self, *args, timeout=30):
		"""iaproxyctl -s ADMIN_SOCKET args...: (exit code, stdout,
		stderr)."""
		r = subprocess.run([IAPROXYCTL, "-s", self.conf["admin_socket"]] +
		    list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE, timeout=timeout)
		return (r.returncode, r.stdout.decode(errors="replace"),
		    r.stderr.decode(errors="replace"))

	def admin_stats(self):
		"""The counters of the admin socket's stats: name -> number."""
		out = {}
		for l in self.admin("stats")[0][:-1]:
			k, v = l.split(" ", 1)
			out[k] = int(v)
		return out

	def pac(self):
		"""GET /proxy.pac on a new connection (closed after): (Response
		or None, seconds it took)."""
		t0 = time.time()
		r, c = raw_request(self.port, "GET /proxy.pac HTTP/1.1\r\n"
		    "Host: 127.0.0.1:%d\r\n\r\n" % self.port)
		took = time.time() - t0
		c.close()
		return r, took

	def proxy_url(self):
		return "http://127.0.0.1:%d" % self.port


# ---------------------------------------------------------------------------
# curl.

class CurlResult:
	def __init__(self, rc, status, headers, body, stderr, heads, info):
		self.rc = rc
		self.status = status
		self.headers = headers
		self.body = body
		self.stderr = stderr
		self.heads = heads	# every head received, interim ones too
		self.info = info	# the -w output

	def __iter__(self):
		return iter((self.rc, self.status, self.headers, self.body))

	def __repr__(self):
		return "<curl rc=%d status=%r err=%r>" % (self.rc, self.status,
		    self.stderr.strip()[:200])


def parse_heads(text):
	"""Split curl -D output into heads: [(status, [(k, v)...]), ...]."""
	heads = []
	cur = None
	for line in text.split("\r\n"):
		if line.startswith("HTTP/"):
			parts = line.split(" ", 2)
			cur = (int(parts[1]), [])
			heads.append(cur)
		elif line and cur is not None and ":" in line:
			k, v = line.split(":", 1)
			cur[1].append((k.strip(), v.strip()))
	return heads


def curl_heads(path):
	"""The response heads curl wrote with -D path, as parse_heads()
	gives them ([] when it wrote none); the file is removed, so that the
	next curl with the same path cannot be read for this one."""
	try:
		with open(path, encoding="latin-1", newline="") as f:
			heads = parse_heads(f.read())
		os.unlink(path)
	except FileNotFoundError:
		heads = []
	return heads


def curl(proxy, *urls_and_args, timeout=60, proxy_url=None, input=None):
	"""Run /usr/bin/curl through proxy; return a CurlResult.

	Extra curl arguments are passed as they are; status and headers are
	those of the final response of the last transfer, body is everything
	written to stdout.
	"""
	hf = tempfile.mktemp(prefix="curl-head.", dir=proxy.t.tmpdir
	    if hasattr(proxy, "t") else None)
	px = proxy_url or proxy.proxy_url()
	argv = [CURL, "--noproxy", "", "-x", px, "-sS", "-D", hf] + \
	    list(urls_and_args)
	try:
		p = subprocess.run(argv, input=input, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE, timeout=timeout)
		rc, out, err = p.returncode, p.stdout, p.stderr.decode(errors="replace")
	except subprocess.TimeoutExpired as e:
		rc, out, err = -1, e.stdout or b"", "curl timed out"
	heads = curl_heads(hf)
	final = [h for h in heads if h[0] >= 200 or h[0] == 101]
	status, headers = (final[-1] if final else (None, []))
	info = None
	return CurlResult(rc, status, headers, out, err, heads, info)


def curl_negotiate_status(proxy, name, url, env, timeout=60):
	"""curl --proxy-negotiate -U : for url through proxy, reached by the
	name the SPN is made from (resolved to 127.0.0.1), with env's
	Kerberos settings (KRB5CCNAME, KRB5_CONFIG); the final status, 0 for
	none."""
	argv = [CURL, "--noproxy", "", "-sS", "-o", "/dev/null",
	    "-w", "%{http_code}", "--proxy-negotiate", "-U", ":",
	    "--resolve", "%s:%d:127.0.0.1" % (name, proxy.port),
	    "-x", "http://%s:%d" % (name, proxy.port), url]
	r = subprocess.run(argv, capture_output=True, text=True, env=env,
	    timeout=timeout)
	return int(r.stdout.strip() or 0)


def curl_sha256(proxy, url, *args, timeout=120):
	"""Download url through proxy with curl; (rc, size, sha256 hex)."""
	argv = [CURL, "--noproxy", "", "-x", proxy.proxy_url(), "-sS", "-o", "-"] + \
	    list(args) + [url]
	p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
	_register(p)
	h = hashlib.sha256()
	n = 0
	end = time.time() + timeout
	while True:
		d = p.stdout.read(1 << 20)
		if not d:
			break
		h.update(d)
		n += len(d)
		if time.time() > end:
			p.kill()
			break
	try:
		rc = p.wait(10)
	except subprocess.TimeoutExpired:
		p.kill()
		rc = -1
	return rc, n, h.hexdigest()


# ---------------------------------------------------------------------------
# Raw sockets.

class Response:
	def __init__(self, version, status, reason, headers, body, raw_head):
		self.version = version
		self.status = status
		self.reason = reason
		self.headers = headers
		self.body = body
		self.raw_head = raw_head

	def header(self, name):
		return hget1(self.headers, name)

	def __repr__(self):
		return "<%s %r %r>" % (self.version, self.status, self.reason)


class _Reader:
	def __init__(self, sock):
		self.sock = sock
		self.buf = b""
		self.eof = False

	def fill(self):
		if self.eof:
			raise EOFError()
		d = self.sock.recv(65536)
		if not d:
			self.eof = True
			raise EOFError()
		self.buf += d

	def line(self):
		while b"\r\n" not in self.buf:
			self.fill()
		i = self.buf.index(b"\r\n")
		l, self.buf = self.buf[:i], self.buf[i + 2:]
		return l

	def exact(self, n):
		while len(self.buf) < n:
			self.fill()
		d, self.buf = self.buf[:n], self.buf[n:]
		return d

	def rest(self):
		try:
			while True:
				self.fill()
		except EOFError:
			pass
		d, self.buf = self.buf, b""
		return d


def read_response(rd, method="GET", skip_interim=True):
	"""Read one response from a _Reader; EOFError if none (or cut short)."""
	while True:
		head = []
		while True:
			l = rd.line()
			if l == b"":
				break
			head.append(l)
		status_line = head[0].decode("latin-1")
		parts = status_line.split(" ", 2)
		version, status = parts[0], int(parts[1])
		reason = parts[2] if len(parts) > 2 else ""
		headers = []
		for l in head[1:]:
			k, v = l.decode("latin-1").split(":", 1)
			headers.append((k.strip(), v.strip()))
		raw_head = b"\r\n".join(head) + b"\r\n\r\n"
		if 100 <= status < 200 and status != 101 and skip_interim:
			continue
		break
	te = hget1(headers, "transfer-encoding")
	cl = hget1(headers, "content-length")
	if method == "HEAD" or status in (204, 304) or 100 <= status < 200 or \
	    (method == "CONNECT" and 200 <= status < 300):
		body = b""
	elif te is not None and "chunked" in te.lower():
		parts = []
		while True:
			n = int(rd.line().split(b";")[0].strip(), 16)
			if n == 0:
				while rd.line() != b"":
					pass
				break
			parts.append(rd.exact(n))
			if rd.line() != b"":
				raise ValueError("bad chunk framing in response")
		body = b"".join(parts)
	elif cl is not None:
		body = rd.exact(int(cl.split(",")[0]))
	else:
		body = rd.rest()
	return Response(version, status, reason, headers, body, raw_head)


class RawConn:
	"""A client connection we write bytes to and read responses from."""

	def __init__(self, port, host="127.0.0.1", timeout=5.0):
		fam = socket.AF_INET6 if ":" in host else socket.AF_INET
		self.sock = socket.socket(fam, socket.SOCK_STREAM)
		self.sock.settimeout(timeout)
		self.sock.connect((host, port))
		self.rd = _Reader(self.sock)

	def send(self, data):
		if isinstance(data, str):
			data = data.encode("latin-1")
		self.sock.sendall(data)

	def settimeout(self, t):
		self.sock.settimeout(t)

	def response(self, method="GET", skip_interim=True):
		"""The next response, or None if the peer closed (or reset) first
		or nothing came within the timeout (then self.timed_out is set)."""
		self.timed_out = False
		try:
			return read_response(self.rd, method, skip_interim)
		except (EOFError, ConnectionError):
			return None
		except socket.timeout:
			self.timed_out = True
			return None

	def closed(self, timeout=2.0):
		"""True if the peer closes (EOF or RST) within timeout, with no
		further bytes."""
		self.sock.settimeout(timeout)
		if self.rd.buf:
			return False
		try:
			d = self.sock.recv(4096)
			if d:
				self.rd.buf += d
				return False
			return True
		except ConnectionError:
			return True
		except socket.timeout:
			return False

	def shutdown_write(self):
		self.sock.shutdown(socket.SHUT_WR)

	def close(self):
		try:
			self.sock.close()
		except OSError:
			pass


def raw_request(port, data, method="GET", timeout=5.0, host="127.0.0.1"):
	"""Send data on a new connection; (Response or None, RawConn)."""
	c = RawConn(port, host, timeout)
	c.send(data)
	return c.response(method), c


def get_req(url, host=None, extra="", version="HTTP/1.1", method="GET"):
	"""A request head for absolute-form url with a matching Host."""
	if host is None:
		host = url.split("/")[2]
	return "%s %s %s\r\nHost: %s\r\n%s\r\n" % (method, url, version, host, extra)
