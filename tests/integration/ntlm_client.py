#!/usr/bin/python3
"""Drive real NTLM clients against iaproxy, and read what they send.

The clients (see shared/PEERS.md, "NTLM on the wire"):
  curl --proxy-ntlm        through harness.curl (curl_ntlm_args() below)
  Samba's ntlm_auth        NtlmAuthClient: --helper-protocol=ntlmssp-client-1
  python3-ntlm-auth        PyNtlmClient: this file run as a helper in a
                           subprocess with an OPENSSL_CONF that enables the
                           legacy provider (MD4)
Each client object gives type1() and type3(type2) (bytes, or None when the
client gives up); handshake() plays them over a harness.RawConn.

For checking the clients themselves (before blaming the proxy), this file
also decodes NTLMSSP messages (MS-NLMP 2.2.1), builds a CHALLENGE_MESSAGE
with target info, and verifies an NTLMv2 response and its MIC with a
pure-Python MD4 and RC4 (hashlib's md4 needs the legacy provider).

Run as `ntlm_client.py --pyntlm USER DOMAIN PASSWORD [COMPAT]` it is the
python3-ntlm-auth helper: it speaks ntlm_auth's ntlmssp-client-1 protocol
on stdin/stdout ("YR" -> "YR <type1>", "TT <type2>" -> "KK <type3>").
"""

import base64
import hashlib
import hmac
import os
import struct
import subprocess
import sys
import time

SIG = b"NTLMSSP\0"

# NegotiateFlags (MS-NLMP 2.2.2.5)
NEG_UNICODE = 0x00000001
NEG_OEM = 0x00000002
REQUEST_TARGET = 0x00000004
NEG_SIGN = 0x00000010
NEG_SEAL = 0x00000020
NEG_LM_KEY = 0x00000080
NEG_NTLM = 0x00000200
NEG_ANONYMOUS = 0x00000800
NEG_ALWAYS_SIGN = 0x00008000
TARGET_TYPE_DOMAIN = 0x00010000
NEG_ESS = 0x00080000
NEG_TARGET_INFO = 0x00800000
NEG_VERSION = 0x02000000
NEG_128 = 0x20000000
NEG_KEY_EXCH = 0x40000000
NEG_56 = 0x80000000

# AvId (MS-NLMP 2.2.2.1)
AV_EOL = 0
AV_NB_COMPUTER = 1
AV_NB_DOMAIN = 2
AV_DNS_COMPUTER = 3
AV_DNS_DOMAIN = 4
AV_FLAGS = 6
AV_TIMESTAMP = 7
AVFLAG_MIC = 0x2

MIC_OFFSET = 72		# 64-byte header + 8-byte VERSION
MIC_LEN = 16

NTLM_AUTH = "/usr/bin/ntlm_auth"
PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------
# Crypto needed to check a client's answer: MD4 (RFC 1320), RC4.

def _rol(v, s):
	v &= 0xffffffff
	return ((v << s) | (v >> (32 - s))) & 0xffffffff


def md4(msg):
	"""MD4 of msg (RFC 1320), without OpenSSL's legacy provider."""
	M = 0xffffffff
	n = len(msg)
	msg = msg + b"\x80" + b"\0" * ((55 - n) % 64) + struct.pack("<Q", n * 8)
	h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]
	r2 = (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)
	r3 = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)
	for off in range(0, len(msg), 64):
		X = struct.unpack("<16I", msg[off:off + 64])
		a, b, c, d = h
		for i in range(16):
			f = (b & c) | (~b & d)
			a, b, c, d = d, _rol(a + f + X[i], (3, 7, 11, 19)[i % 4]), b, c
		for i in range(16):
			g = (b & c) | (b & d) | (c & d)
			a, b, c, d = d, _rol(a + g + X[r2[i]] + 0x5a827999,
			    (3, 5, 9, 13)[i % 4]), b, c
		for i in range(16):
			hh = b ^ c ^ d
			a, b, c, d = d, _rol(a + hh + X[r3[i]] + 0x6ed9eba1,
			    (3, 9, 11, 15)[i % 4]), b, c
		h = [(x + y) & M for x, y in zip(h, (a, b, c, d))]
	return struct.pack("<4I", *h)


def rc4(key, data):
	S = list(range(256))
	j = 0
	for i in range(256):
		j = (j + S[i] + key[i % len(key)]) & 0xff
		S[i], S[j] = S[j], S[i]
	i = j = 0
	out = bytearray()
	for ch in data:
		i = (i + 1) & 0xff
		j = (j + S[i]) & 0xff
		S[i], S[j] = S[j], S[i]
		out.append(ch ^ S[(S[i] + S[j]) & 0xff])
	return bytes(out)


def nt_hash(password):
	"""MD4 of the UTF-16LE password (MS-NLMP 3.3.1 NTOWFv1)."""
	return md4(password.encode("utf-16-le"))


def _hmac_md5(key, data):
	return hmac.new(key, data, hashlib.md5).digest()


# ---------------------------------------------------------------------------
# NTLMSSP messages.

def b64(b):
	return base64.b64encode(b).decode("ascii")


def unb64(s):
	return base64.b64decode(s)


def _field(msg, off):
	"""A (len, maxlen, offset) security buffer at off: its bytes."""
	ln, _, o = struct.unpack_from("<HHI", msg, off)
	if o + ln > len(msg):
		raise ValueError("security buffer at %d runs past the message" % off)
	return msg[o:o + ln]


def parse_av(data):
	"""AV pairs -> list of (id, value bytes), EOL excluded."""
	out = []
	i = 0
	while i + 4 <= len(data):
		aid, ln = struct.unpack_from("<HH", data, i)
		i += 4
		if aid == AV_EOL:
			break
		out.append((aid, data[i:i + ln]))
		i += ln
	return out


def av_get(pairs, aid):
	for k, v in pairs:
		if k == aid:
			return v
	return None


def parse(msg):
	"""Decode an NTLMSSP message into a dict; ValueError if it is not one.

	Type 1: flags.  Type 2: flags, challenge, target_name, target_info
	(raw) and av (pairs).  Type 3: flags, lm, nt, domain, user,
	workstation (decoded as the UNICODE flag says), session_key, mic
	(bytes 72..88 when the VERSION flag is set), av (from the NTLMv2 blob,
	if the NT response is longer than 24 bytes)."""
	if len(msg) < 12 or msg[:8] != SIG:
		raise ValueError("no NTLMSSP signature")
	mtype = struct.unpack_from("<I", msg, 8)[0]
	d = {"type": mtype, "raw": msg}
	if mtype == 1:
		d["flags"] = struct.unpack_from("<I", msg, 12)[0]
	elif mtype == 2:
		d["target_name"] = _field(msg, 12)
		d["flags"] = struct.unpack_from("<I", msg, 20)[0]
		d["challenge"] = msg[24:32]
		d["target_info"] = _field(msg, 40) if len(msg) >= 48 else b""
		d["av"] = parse_av(d["target_info"])
	elif mtype == 3:
		d["lm"] = _field(msg, 12)
		d["nt"] = _field(msg, 20)
		flags = struct.unpack_from("<I", msg, 60)[0]
		d["flags"] = flags
		enc = "utf-16-le" if flags & NEG_UNICODE else "latin-1"
		d["domain"] = _field(msg, 28).decode(enc)
		d["user"] = _field(msg, 36).decode(enc)
		d["workstation"] = _field(msg, 44).decode(enc)
		d["session_key"] = _field(msg, 52)
		d["mic"] = None
		if flags & NEG_VERSION and len(msg) >= MIC_OFFSET + MIC_LEN:
			# The MIC is there only if the payload starts after it.
			first = min([struct.unpack_from("<I", msg, o + 4)[0]
			    for o in (12, 20, 28, 36, 44, 52)
			    if struct.unpack_from("<H", msg, o)[0] > 0] or [len(msg)])
			if first >= MIC_OFFSET + MIC_LEN:
				d["mic"] = msg[MIC_OFFSET:MIC_OFFSET + MIC_LEN]
		d["av"] = parse_av(d["nt"][44:]) if len(d["nt"]) > 24 else []
	else:
		raise ValueError("NTLMSSP message type %d" % mtype)
	return d


def _av_bytes(pairs):
	out = b""
	for aid, v in pairs:
		out += struct.pack("<HH", aid, len(v)) + v
	return out + struct.pack("<HH", AV_EOL, 0)


def filetime(t=None):
	"""Windows FILETIME (100 ns since 1601) of unix time t, 8 bytes LE."""
	if t is None:
		t = time.time()
	return struct.pack("<Q", int((t + 11644473600) * 10000000))


def build_challenge(challenge=None, domain="EXAMPLE", computer="PROXY",
    dns_domain="example.test", flags=None, timestamp=True):
	"""A CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) with target info, as a server
	sends it: used only to exercise the clients without the proxy."""
	if challenge is None:
		challenge = os.urandom(8)
	if flags is None:
		flags = (NEG_UNICODE | REQUEST_TARGET | NEG_NTLM | NEG_ALWAYS_SIGN |
		    TARGET_TYPE_DOMAIN | NEG_ESS | NEG_TARGET_INFO | NEG_VERSION |
		    NEG_128 | NEG_KEY_EXCH | NEG_56 | NEG_SIGN | NEG_SEAL)
	u = lambda s: s.encode("utf-16-le")
	pairs = [(AV_NB_DOMAIN, u(domain)), (AV_NB_COMPUTER, u(computer)),
	    (AV_DNS_DOMAIN, u(dns_domain)),
	    (AV_DNS_COMPUTER, u(computer.lower() + "." + dns_domain))]
	if timestamp:
		pairs.append((AV_TIMESTAMP, filetime()))
	ti = _av_bytes(pairs)
	tn = u(domain)
	off = 56
	return (SIG + struct.pack("<I", 2) +
	    struct.pack("<HHI", len(tn), len(tn), off) +
	    struct.pack("<I", flags) + challenge + b"\0" * 8 +
	    struct.pack("<HHI", len(ti), len(ti), off + len(tn)) +
	    bytes([10, 0]) + struct.pack("<H", 19041) + b"\0\0\0\x0f" + tn + ti)


def verify_v2(type3, server_challenge, nthash, type1=None, type2=None):
	"""Check an NTLMv2 AUTHENTICATE message like a server would.

	Returns (True, "ok") or (False, reason).  The MIC is checked when the
	blob's MsvAvFlags says it is present and type1/type2 are given."""
	m = parse(type3)
	if len(m["nt"]) <= 24:
		return False, "not NTLMv2 (NT response %d bytes)" % len(m["nt"])
	ntowf = _hmac_md5(nthash, (m["user"].upper() + m["domain"])
	    .encode("utf-16-le"))
	proof, blob = m["nt"][:16], m["nt"][16:]
	if _hmac_md5(ntowf, server_challenge + blob) != proof:
		return False, "NTProofStr mismatch"
	flags_av = av_get(m["av"], AV_FLAGS)
	if flags_av and struct.unpack("<I", flags_av)[0] & AVFLAG_MIC:
		if type1 is None or type2 is None:
			return True, "ok (MIC not checked)"
		if m["mic"] is None:
			return False, "MsvAvFlags says MIC but there is none"
		kek = _hmac_md5(ntowf, proof)
		if m["flags"] & NEG_KEY_EXCH and len(m["session_key"]) == 16:
			key = rc4(kek, m["session_key"])
		else:
			key = kek
		zeroed = (type3[:MIC_OFFSET] + b"\0" * MIC_LEN +
		    type3[MIC_OFFSET + MIC_LEN:])
		if _hmac_md5(key, type1 + type2 + zeroed) != m["mic"]:
			return False, "MIC mismatch"
	return True, "ok"


def tamper_mic(type3):
	"""type3 with its MIC bytes flipped (MIC_OFFSET..+16)."""
	b = bytearray(type3)
	for i in range(MIC_OFFSET, MIC_OFFSET + MIC_LEN):
		b[i] ^= 0x5a
	return bytes(b)


# ---------------------------------------------------------------------------
# Clients.

class NtlmAuthClient:
	"""Samba's ntlm_auth --helper-protocol=ntlmssp-client-1 (one process per
	handshake).  options: extra --option= strings, e.g.
	"client ntlmv2 auth=no" for 24-byte NTLMv1 responses."""

	name = "ntlm_auth"

	def __init__(self, user, domain, password, options=(), timeout=10):
		argv = [NTLM_AUTH, "--helper-protocol=ntlmssp-client-1",
		    "--username=" + user, "--password=" + password,
		    "--configfile=/dev/null"]
		if domain is not None:
			argv.append("--domain=" + domain)
		for o in options:
			argv.append("--option=" + o)
		self.argv = argv
		self.timeout = timeout
		self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
		    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
		self.lines = []

	def _ask(self, line):
		self.proc.stdin.write((line + "\n").encode())
		self.proc.stdin.flush()
		out = self.proc.stdout.readline().decode().strip()
		self.lines.append((line, out))
		return out

	def type1(self):
		out = self._ask("YR")
		if not out.startswith("YR "):
			raise RuntimeError("%s: YR answered %r" % (self.name, out))
		return unb64(out[3:])

	def type3(self, type2):
		"""The AUTHENTICATE message for type2, or None on "AF"/"BH"."""
		out = self._ask("TT " + b64(type2))
		if out.startswith("KK "):
			return unb64(out[3:])
		if out.startswith("AF ") and len(out) > 3:
			# ntlm_auth's ntlmssp-client-1 says "AF <blob>" when the
			# handshake is complete on its side: that is a type 3 too.
			try:
				return unb64(out[3:]) if parse(unb64(out[3:]))["type"] == 3 \
				    else None
			except ValueError:
				return None
		return None

	def close(self):
		if self.proc.poll() is None:
			try:
				self.proc.stdin.close()
			except OSError:
				pass
			try:
				self.proc.wait(2)
			except subprocess.TimeoutExpired:
				self.proc.kill()
				self.proc.wait(2)
		for f in (self.proc.stdout, self.proc.stderr):
			try:
				f.close()
			except OSError:
				pass


OPENSSL_LEGACY_CONF = """\
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
"""


def openssl_legacy_conf(tmpdir):
	"""Write an OPENSSL_CONF enabling the default and legacy providers."""
	path = os.path.join(tmpdir, "openssl-legacy.cnf")
	if not os.path.exists(path):
		with open(path, "w") as f:
			f.write(OPENSSL_LEGACY_CONF)
	return path


class PyNtlmClient(NtlmAuthClient):
	"""python3-ntlm-auth's NtlmContext in a subprocess (this file with
	--pyntlm), so that only it sees the OPENSSL_CONF with the legacy
	provider.  compat: ntlm_auth's ntlm_compatibility (3 = NTLMv2 only,
	1 = NTLMv1 with ESS, 0 = LM and NTLMv1)."""

	name = "python3-ntlm-auth"

	def __init__(self, tmpdir, user, domain, password, compat=3, timeout=10):
		env = dict(os.environ)
		env["OPENSSL_CONF"] = openssl_legacy_conf(tmpdir)
		self.argv = [PYTHON, os.path.join(HERE, "ntlm_client.py"),
		    "--pyntlm", user, domain or "", password, str(compat)]
		self.timeout = timeout
		self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
		    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
		self.lines = []

	def stderr(self):
		try:
			return self.proc.stderr.read().decode(errors="replace")
		except (OSError, ValueError):
			return ""


def _pyntlm_helper(user, domain, password, compat):
	"""The --pyntlm helper loop (runs in the child)."""
	from ntlm_auth.ntlm import NtlmContext
	ctx = NtlmContext(user, password, domain=domain or None,
	    workstation="WS1", ntlm_compatibility=compat)
	for line in sys.stdin:
		line = line.strip()
		try:
			if line == "YR":
				out = "YR " + b64(ctx.step())
			elif line.startswith("TT "):
				out = "KK " + b64(ctx.step(unb64(line[3:])))
			else:
				out = "BH unknown request"
		except Exception as e:
			out = "BH %s: %s" % (type(e).__name__, e)
		sys.stdout.write(out + "\n")
		sys.stdout.flush()


def curl_ntlm_args(user, password, domain="EXAMPLE"):
	"""curl arguments for NTLM to the proxy."""
	u = "%s\\%s" % (domain, user) if domain else user
	return ["--proxy-ntlm", "--proxy-user", "%s:%s" % (u, password)]


# ---------------------------------------------------------------------------
# Exchanges with the proxy over a raw connection.

def auth_line(scheme, msg):
	return "Proxy-Authorization: %s %s\r\n" % (scheme, b64(msg))


def request(url, auth=None, scheme="NTLM", method="GET", body=b"",
    extra=""):
	"""A request head (+ body) for url; auth: an NTLMSSP message or None.
	url "host:port" (no scheme) makes a CONNECT."""
	hdr = extra
	if auth is not None:
		hdr += auth_line(scheme, auth)
	if "://" not in url:
		return ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" %
		    (url, url, hdr)).encode("latin-1")
	if body or method in ("POST", "PUT"):
		hdr += "Content-Length: %d\r\n" % len(body)
	host = url.split("/")[2]
	return ("%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" %
	    (method, url, host, hdr)).encode("latin-1") + body


def challenges(resp, scheme="NTLM"):
	"""The Proxy-Authenticate values of resp for scheme: the bare scheme
	is "", a challenge is its base64 text."""
	out = []
	if resp is None:
		return out
	for k, v in resp.headers:
		if k.lower() != "proxy-authenticate":
			continue
		for part in v.split(","):
			part = part.strip()
			w = part.split(None, 1)
			if w and w[0].lower() == scheme.lower():
				out.append(w[1].strip() if len(w) > 1 else "")
	return out


def type2_of(resp, scheme="NTLM"):
	"""The CHALLENGE_MESSAGE in resp's Proxy-Authenticate, or None."""
	for c in challenges(resp, scheme):
		if c:
			try:
				m = unb64(c)
				if parse(m)["type"] == 2:
					return m
			except (ValueError, TypeError):
				pass
	return None


class Exchange:
	"""What handshake() saw: r1 (answer to type 1), type1, type2, type3,
	r2 (answer to type 3; None if not sent or no answer)."""

	def __init__(self):
		self.r1 = self.r2 = None
		self.type1 = self.type2 = self.type3 = None

	@property
	def status(self):
		return self.r2.status if self.r2 is not None else None


def handshake(conn, url, client, scheme="NTLM", method="GET", body=b"",
    type3_hook=None):
	"""Type 1 -> 407 with a type 2 -> type 3 with the real request, on
	conn (a harness.RawConn).  type3_hook(bytes) -> bytes may alter the
	type 3 before it is sent.  Returns an Exchange."""
	x = Exchange()
	rm = "CONNECT" if "://" not in url else method
	x.type1 = client.type1()
	conn.send(request(url, x.type1, scheme, method if rm != "CONNECT"
	    else "GET"))
	x.r1 = conn.response(rm)
	x.type2 = type2_of(x.r1, scheme)
	if x.type2 is None:
		return x
	x.type3 = client.type3(x.type2)
	if x.type3 is None:
		return x
	if type3_hook is not None:
		x.type3 = type3_hook(x.type3)
	conn.send(request(url, x.type3, scheme, method, body))
	x.r2 = conn.response(rm)
	return x


# ---------------------------------------------------------------------------
# Config, hash file, logs.

def hash_line(iaproxy, user, password):
	"""`iaproxy -H user` with password on stdin: its stdout line."""
	p = subprocess.run([iaproxy, "-H", user], input=(password + "\n").encode(),
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
	return p.returncode, p.stdout.decode(errors="replace").strip()


def write_hashfile(path, lines, mode=0o600):
	"""Write lines to path atomically with mode."""
	tmp = path + ".tmp"
	fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
	with os.fdopen(fd, "w") as f:
		f.write("# iaproxy test hash file\n\n")
		for l in lines:
			f.write(l + "\n")
	os.chmod(tmp, mode)
	os.rename(tmp, path)
	return path


def ntlm_conf(hashfile, src=("127.0.0.0/8", "::1"), auth=("ntlm",),
    network="lo", **ntlm):
	"""Proxy keyword arguments for an ntlm section (domain EXAMPLE, the
	hashfile backend) and one network block (auth methods as bare words).
	Extra keywords go into the ntlm section (e.g. challenge_ttl=3)."""
	import harness
	sec = {"domain": "EXAMPLE", "backend": harness.Raw("hashfile"),
	    "hashfile": hashfile}
	sec.update(ntlm)
	return {"ntlm": sec, 'network "%s"' % network: {"src": list(src),
	    "auth": [harness.Raw(a) for a in auth]}}


def squid_user(line):
	"""Field 8 (user) of a squid-format access log line."""
	f = line.split()
	return f[7] if len(f) > 7 else None


def squid_result(line):
	f = line.split()
	return f[3] if len(f) > 3 else None


def lines_for(lines, needle):
	"""The access-log lines whose URL field (7th) contains needle."""
	return [l for l in lines if len(l.split()) > 6 and needle in l.split()[6]]


if __name__ == "__main__":
	if len(sys.argv) >= 5 and sys.argv[1] == "--pyntlm":
		_pyntlm_helper(sys.argv[2], sys.argv[3], sys.argv[4],
		    int(sys.argv[5]) if len(sys.argv) > 5 else 3)
		sys.exit(0)
	sys.stderr.write(__doc__)
	sys.exit(2)


def signed_in(t, port, user, password, url, what, domain="EXAMPLE"):
	"""A harness.RawConn to port signed in as user by an NTLM handshake
	on url (a host:port makes it a CONNECT tunnel), checked as the step
	what; None if that failed."""
	import harness
	c = harness.RawConn(port)
	cl = NtlmAuthClient(user, domain, password)
	x = handshake(c, url, cl)
	cl.close()
	t.eq(x.status, 200, what)
	if x.status != 200:
		c.close()
		return None
	return c


def tunnel_ok(c, hostport, n):
	"""Does the tunnel c to the test origin at hostport still carry a
	request (GET /size/n answered with its body)?"""
	import harness
	if c is None:
		return False
	try:
		c.send("GET /size/%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (n, hostport))
		r = c.response()
	except OSError:
		return False
	return r is not None and (r.status, r.body) == (200, harness.pattern(n))
