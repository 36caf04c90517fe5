"""Real peers for integration tests, started and stopped by the test.

Slapd: a throwaway OpenLDAP server on a free loopback port, with its own
slapd.conf and database in the test's temp dir (see shared/PEERS.md,
"OpenLDAP slapd on loopback").  Schemas core, cosine, inetorgperson, nis
and Samba's samba.schema (package samba) for sambaNTPassword.  The ACL
gives the service DN cn=proxy,dc=example,dc=test read access to
sambaNTPassword and nobody else; anonymous binds and searches are refused.
slapd runs in the foreground (-d stats) with its log in slapd.log, and is
stopped by pid.

	s = peers.Slapd(t)
	s.add_user("alice", nthash_hex="...")
	s.start()
	... s.log() ...
	s.stop(); s.start()	# same port, same data

MitKdc: a throwaway MIT Kerberos KDC on a free loopback port with its own
krb5.conf and kdc.conf (tests point clients and the proxy at them with
env()); AdDc: a Samba 4 AD domain controller in a network namespace.
"""

import os
import re
import subprocess
import sys
import time

import harness

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
LDAPSEARCH = "/usr/bin/ldapsearch"
SCHEMA_DIR = "/etc/ldap/schema"
SAMBA_SCHEMAS = ("/usr/share/doc/samba/examples/LDAP/samba.schema",)

SUFFIX = "dc=example,dc=test"
ADMIN_DN = "cn=admin," + SUFFIX
ADMIN_PW = "admin-pw-not-for-the-proxy"
PROXY_DN = "cn=proxy," + SUFFIX
PROXY_PW = "Pr0xy-service-pw"
PEOPLE = "ou=people," + SUFFIX


def samba_schema():
	"""Where samba.schema is: the documented place, else wherever the
	samba package put it (dpkg -L); None when it is not installed."""
	for p in SAMBA_SCHEMAS:
		if os.path.exists(p):
			return p
	try:
		out = subprocess.run(["dpkg", "-L", "samba"], stdout=subprocess.PIPE,
		    stderr=subprocess.DEVNULL, timeout=10).stdout.decode()
	except (OSError, subprocess.TimeoutExpired):
		return None
	for l in out.splitlines():
		if l.endswith("/samba.schema") and os.path.exists(l):
			return l
	return None


def available():
	"""Why slapd tests cannot run here, or None when they can."""
	for p in (SLAPD, SLAPADD, LDAPSEARCH):
		if not os.access(p, os.X_OK):
			return "%s missing (install slapd ldap-utils)" % p
	if samba_schema() is None:
		return "samba.schema missing (install samba)"
	return None


def _tail(path, n=2000):
	"""The last n characters of the file at path (all with None); "" when
	there is no such file."""
	try:
		with open(path, errors="replace") as f:
			s = f.read()
	except FileNotFoundError:
		return ""
	return s if n is None else s[-n:]


class _LoopbackServer:
	"""What Slapd and MitKdc share: a process of ours (self.proc) serving
	a loopback port (self.port), its log in self.logfile."""

	def stop(self):
		"""SIGTERM by pid; wait until the port is closed."""
		if self.proc is None:
			return None
		rc = harness._stop_proc(self.proc)
		harness.wait_for(lambda: not harness.port_open(self.port), 5)
		self.proc = None
		return rc

	def log(self):
		"""The whole log so far ("" before there is one)."""
		return _tail(self.logfile, None)


class Slapd(_LoopbackServer):
	def __init__(self, t, port=None):
		self.t = t
		self.dir = os.path.join(t.tmpdir, "slapd")
		self.db = os.path.join(self.dir, "db")
		os.makedirs(self.db, exist_ok=True)
		self.port = port or harness.free_port()
		self.conf = os.path.join(self.dir, "slapd.conf")
		self.logfile = os.path.join(self.dir, "slapd.log")
		self.proc = None
		self.entries = []
		self.loaded = False
		self._write_conf()

	@property
	def uri(self):
		return "ldap://127.0.0.1:%d" % self.port

	def _write_conf(self):
		inc = ["%s/%s.schema" % (SCHEMA_DIR, s) for s in
		    ("core", "cosine", "inetorgperson", "nis")]
		inc.append(samba_schema())
		text = "".join("include %s\n" % i for i in inc)
		text += """
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
disallow bind_anon
require authc

database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "{admin}"
rootpw {adminpw}
directory {db}

# The NT hash is a password equivalent: the proxy's service account
# reads it, nobody else (not even the user it belongs to).
access to attrs=userPassword
	by anonymous auth
	by * none
access to attrs=sambaNTPassword,sambaLMPassword
	by dn.exact="{proxy}" read
	by * none
access to *
	by dn.exact="{proxy}" read
	by anonymous auth
	by users read
	by * none
""".format(d=self.dir, suffix=SUFFIX, admin=ADMIN_DN, adminpw=ADMIN_PW,
		    db=self.db, proxy=PROXY_DN)
		with open(self.conf, "w") as f:
			f.write(text)

	def add_user(self, uid, nthash_hex=None, ou="people", sid_rid=None):
		"""An inetOrgPerson (+ sambaSamAccount) uid=UID,ou=OU; with
		nthash_hex its sambaNTPassword (upper-cased, as Samba writes)."""
		rid = sid_rid or (1000 + len(self.entries))
		e = ["dn: uid=%s,ou=%s,%s" % (uid, ou, SUFFIX),
		    "objectClass: inetOrgPerson", "objectClass: sambaSamAccount",
		    "uid: %s" % uid, "cn: %s" % uid, "sn: %s" % uid,
		    "userPassword: %s-ldap-pw" % uid,
		    "sambaSID: S-1-5-21-1111-2222-3333-%d" % rid]
		if nthash_hex is not None:
			e.append("sambaNTPassword: %s" % nthash_hex.upper())
		self.entries.append((ou, "\n".join(e)))

	def _ldif(self):
		ous = []
		for ou, _ in self.entries:
			if ou not in ous:
				ous.append(ou)
		if "people" not in ous:
			ous.insert(0, "people")
		out = ["dn: %s\nobjectClass: dcObject\nobjectClass: organization\n"
		    "dc: example\no: Example" % SUFFIX,
		    "dn: %s\nobjectClass: organizationalRole\n"
		    "objectClass: simpleSecurityObject\ncn: proxy\n"
		    "userPassword: %s" % (PROXY_DN, PROXY_PW)]
		for ou in ous:
			out.append("dn: ou=%s,%s\nobjectClass: organizationalUnit\n"
			    "ou: %s" % (ou, SUFFIX, ou))
		out += [e for _, e in self.entries]
		return "\n\n".join(out) + "\n"

	def load(self):
		"""slapadd the entries (offline, before the first start)."""
		path = os.path.join(self.dir, "data.ldif")
		with open(path, "w") as f:
			f.write(self._ldif())
		p = subprocess.run([SLAPADD, "-f", self.conf, "-l", path],
		    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
		if p.returncode != 0:
			raise RuntimeError("slapadd failed: " +
			    p.stdout.decode(errors="replace")[-2000:])
		self.loaded = True

	def start(self, timeout=10):
		if not self.loaded:
			self.load()
		log = open(self.logfile, "a")
		# -d stats: foreground (the pid is ours) and the stats log on
		# stderr; -h: only this loopback port.
		self.proc = self.t.spawn([SLAPD, "-d", "stats", "-h",
		    "ldap://127.0.0.1:%d/" % self.port, "-f", self.conf],
		    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
		ok = harness.wait_for(lambda: self.proc.poll() is not None or
		    harness.port_open(self.port), timeout)
		if not ok or self.proc.poll() is not None:
			raise RuntimeError("slapd did not start (exit %r): %s" %
			    (self.proc.poll(), self.log()[-2000:]))
		return self

	def search(self, filt, attrs=(), bind_dn=None, password=None,
	    base=SUFFIX):
		"""ldapsearch -x (simple bind, or anonymous); (rc, output)."""
		argv = [LDAPSEARCH, "-x", "-LLL", "-o", "ldif-wrap=no", "-H",
		    self.uri, "-b", base]
		if bind_dn is not None:
			argv += ["-D", bind_dn, "-w", password]
		argv += [filt] + list(attrs)
		env = dict(os.environ, LDAPNOINIT="1")
		p = subprocess.run(argv, stdout=subprocess.PIPE,
		    stderr=subprocess.STDOUT, timeout=20, env=env)
		return p.returncode, p.stdout.decode(errors="replace")


# ---------------------------------------------------------------------------
# A Samba 4 Active Directory domain controller in a network namespace
# (shared/PEERS.md, "Samba 4 AD DC inside a network namespace").

SAMBA = "/usr/sbin/samba"
SAMBA_TOOL = "/usr/bin/samba-tool"
NTLM_AUTH = "/usr/bin/ntlm_auth"
IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "/sbin/ip"


def ad_dc_available():
	"""None if an AD DC can be provisioned here, else why not."""
	for f in (SAMBA, SAMBA_TOOL, NTLM_AUTH, IP, "/usr/bin/unshare",
	    "/usr/share/samba/setup/ad-schema"):
		if not os.path.exists(f):
			return "%s is missing (packages samba, samba-ad-dc, " \
			    "samba-ad-provision, winbind, iproute2)" % f
	if os.geteuid() != 0:
		return "not root (network namespaces need it)"
	return None


class AdDc:
	"""Realm AD.EXAMPLE.TEST, NetBIOS domain ADEXAMPLE, host dc1, users
	from `users` (name -> password), provisioned into a short temp dir
	under /tmp (unix socket paths are limited) and run by `samba -F`
	inside a network namespace iaproxy-dc-PID, reached over a veth pair
	10.99.X.1 (host) / 10.99.X.2 (DC).  The DC's winbindd serves NTLM
	pass-through; ntlm_auth finds it only at the compiled-in
	/run/samba/winbindd, so whatever talks to it runs under
	mount_prefix(): a private mount namespace with the DC's run dir on
	/run/samba.  Everything is removed at the end of the test (also on
	failure or a signal): the processes by pid, the namespace, the veth
	and the state (its logs are copied into the test's temp dir first).

		dc = peers.AdDc(t, {"alice": "Passw0rd-alice"})
		dc.start()	# or: dc = peers.start_ad_dc(t, users)
		p = t.proxy(...); p.prefix = dc.mount_prefix(); p.start()
		dc.tool("group", "add", "Finance")	# samba-tool
		env = dc.kinit("alice", "Passw0rd-alice", t.tmpdir)
	"""

	REALM = "AD.EXAMPLE.TEST"
	DOMAIN = "ADEXAMPLE"
	ADMINPASS = "Adm1n-Pass.W0rd"

	def __init__(self, t, users):
		self.t = t
		self.users = dict(users)
		pid = os.getpid()
		self.ns = "iaproxy-dc-%d" % pid
		self.veth = "iadc%dh" % (pid % 10000000)	# <= 15 characters
		self.peer = "iadc%dd" % (pid % 10000000)
		self.subnet = self._free_subnet(pid)
		self.host_ip = "10.99.%d.1" % self.subnet
		self.ip = "10.99.%d.2" % self.subnet
		self.state = tempfile_dir()
		self.rundir = os.path.join(self.state, "run")
		self.logdir = os.path.join(self.state, "log")
		self.smbconf = os.path.join(self.state, "etc", "smb.conf")
		self.proc = None
		self.timings = {}
		self._net = False
		harness.at_stop(self.destroy)

	@staticmethod
	def _free_subnet(pid):
		out = subprocess.run([IP, "-4", "-o", "addr"], capture_output=True,
		    text=True).stdout
		for i in range(254):
			x = (pid + i) % 254 + 1
			if (" 10.99.%d." % x) not in out:
				return x
		raise RuntimeError("no free 10.99.X.0/24 subnet")

	def _run(self, argv, ns=False, timeout=120):
		if ns:
			argv = [IP, "netns", "exec", self.ns] + argv
		p = subprocess.run(argv, capture_output=True, text=True,
		    timeout=timeout)
		if p.returncode != 0:
			raise RuntimeError("%s failed (%d): %s" % (" ".join(argv),
			    p.returncode, (p.stdout + p.stderr)[-2000:]))
		return p.stdout

	def provision(self):
		"""samba-tool domain provision and the users (about 5 s)."""
		t0 = time.time()
		os.makedirs(os.path.join(self.state, "etc"), exist_ok=True)
		empty = os.path.join(self.state, "empty.conf")
		open(empty, "w").close()
		self._run([SAMBA_TOOL, "domain", "provision", "-s", empty,
		    "--targetdir=" + self.state, "--realm=" + self.REALM,
		    "--domain=" + self.DOMAIN, "--server-role=dc",
		    "--dns-backend=SAMBA_INTERNAL", "--host-name=dc1",
		    "--host-ip=" + self.ip, "--adminpass=" + self.ADMINPASS])
		os.makedirs(self.rundir, exist_ok=True)
		os.makedirs(self.logdir, exist_ok=True)
		with open(self.smbconf) as f:
			lines = [l for l in f.read().splitlines()
			    if "dns forwarder" not in l]
		i = lines.index("[global]") + 1
		lines[i:i] = [
			"\tinterfaces = %s/24 lo" % self.ip,
			"\tbind interfaces only = yes",
			"\tldap server require strong auth = no",
			"\tpid directory = " + self.rundir,
			"\twinbindd socket directory = " +
			    os.path.join(self.rundir, "winbindd"),
			"\tncalrpc dir = " + os.path.join(self.rundir, "ncalrpc"),
			"\tlog file = " + os.path.join(self.logdir, "log.%m"),
			"\tlog level = 1 auth_audit:3",
			"\tntlm auth = ntlmv2-only",
		]
		with open(self.smbconf, "w") as f:
			f.write("\n".join(lines) + "\n")
		for u, pw in self.users.items():
			self._run([SAMBA_TOOL, "user", "create", u, pw, "-s",
			    self.smbconf])
		self.timings["provision"] = time.time() - t0

	def _net_up(self):
		self._net = True
		self._run([IP, "netns", "add", self.ns])
		self._run([IP, "link", "add", self.veth, "type", "veth", "peer",
		    "name", self.peer])
		self._run([IP, "link", "set", self.peer, "netns", self.ns])
		self._run([IP, "addr", "add", self.host_ip + "/24", "dev",
		    self.veth])
		self._run([IP, "link", "set", self.veth, "up"])
		self._run([IP, "addr", "add", self.ip + "/24", "dev", self.peer],
		    ns=True)
		self._run([IP, "link", "set", self.peer, "up"], ns=True)
		self._run([IP, "link", "set", "lo", "up"], ns=True)

	def start(self, timeout=90):
		"""Provision (first time), then run samba -F in the namespace and
		wait until it verifies a user's password through winbindd."""
		t0 = time.time()
		if not os.path.exists(self.smbconf):
			self.provision()
		if not self._net:
			self._net_up()
		os.makedirs("/run/samba", exist_ok=True)
		self.out = open(os.path.join(self.logdir, "samba.out"), "a")
		self.proc = self.t.spawn([IP, "netns", "exec", self.ns, SAMBA,
		    "-F", "-s", self.smbconf], stdout=self.out,
		    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
		u, pw = next(iter(self.users.items()))
		ok = harness.wait_for(lambda: self.proc.poll() is not None or
		    self.check_password(u, pw), timeout, interval=0.3)
		if not ok or self.proc.poll() is not None:
			raise RuntimeError("the AD DC did not start (exit %r): %s"
			    % (self.proc.poll(), self.log("samba.out")[-3000:]))
		self.timings["start"] = time.time() - t0
		return self

	def mount_prefix(self):
		"""argv that runs a command in a private mount namespace where
		/run/samba is the DC's run dir (then execs it: same pid)."""
		return ["/usr/bin/unshare", "-m", "/bin/sh", "-c",
		    'mount --bind "$0" /run/samba && exec "$@"', self.rundir]

	def check_password(self, user, password):
		"""Plain-text check through ntlm_auth ntlm-server-1: True/False."""
		req = "Username: %s\nNT-Domain: %s\nPassword: %s\n.\n" % (user,
		    self.DOMAIN, password)
		try:
			p = subprocess.run(self.mount_prefix() + [NTLM_AUTH,
			    "--helper-protocol=ntlm-server-1",
			    "--configfile=/dev/null"], input=req,
			    capture_output=True, text=True, timeout=15)
		except subprocess.TimeoutExpired:
			return False
		return "Authenticated: Yes" in p.stdout

	def winbindd_pid(self):
		with open(os.path.join(self.rundir, "winbindd.pid")) as f:
			return int(f.read().split()[0])

	def _leftovers(self):
		"""pids of processes still running with our state dir in their
		command line (samba's smbd and winbindd children)."""
		pids = []
		for d in os.listdir("/proc"):
			if not d.isdigit() or int(d) == os.getpid():
				continue
			try:
				with open("/proc/%s/cmdline" % d, "rb") as f:
					cmd = f.read()
				with open("/proc/%s/stat" % d) as f:
					st = f.read()
			except OSError:
				continue
			if self.state.encode() in cmd and \
			    st[st.rindex(")") + 2] != "Z":
				pids.append(int(d))
		return pids

	def stop(self):
		"""Stop samba (SIGTERM by pid) and wait for its children; the
		namespace stays."""
		if self.proc is not None:
			harness._stop_proc(self.proc, grace=5)
			self.proc = None
			if not harness.wait_for(lambda: not self._leftovers(), 5):
				for pid in self._leftovers():
					try:
						os.kill(pid, 9)
					except OSError:
						pass

	def log(self, name="log.wb-ADEXAMPLE"):
		return _tail(os.path.join(self.logdir, name), None)

	def tool(self, *args):
		"""samba-tool ARGS on the DC's smb.conf (it runs outside the
		namespace, on the state dir); its output.  Raises RuntimeError
		when it fails."""
		return self._run([SAMBA_TOOL] + list(args) + ["-s", self.smbconf])

	def kinit(self, user, password, tmpdir):
		"""user's TGT from the DC's KDC: a krb5.conf naming the KDC
		(tmpdir/krb5-ad.conf) and the ccache tmpdir/cc-USER.  Returns the
		environment for Kerberos clients (os.environ with KRB5_CONFIG and
		KRB5CCNAME); raises RuntimeError when kinit fails."""
		conf = os.path.join(tmpdir, "krb5-ad.conf")
		with open(conf, "w") as f:
			f.write("[libdefaults]\n default_realm = %s\n"
			    " dns_lookup_kdc = false\n dns_lookup_realm = false\n"
			    " dns_canonicalize_hostname = false\n rdns = false\n"
			    "[realms]\n %s = {\n  kdc = %s\n }\n" % (self.REALM,
			    self.REALM, self.ip))
		env = dict(os.environ)
		env["KRB5_CONFIG"] = conf
		env["KRB5CCNAME"] = "FILE:" + os.path.join(tmpdir, "cc-" + user)
		p = subprocess.run([KINIT, "%s@%s" % (user, self.REALM)],
		    input=password + "\n", capture_output=True, text=True,
		    env=env, timeout=30)
		if p.returncode != 0:
			raise RuntimeError("kinit %s: %s" % (user, p.stderr))
		return env

	def destroy(self):
		"""Everything away: samba, netns, veth, the state dir."""
		import shutil
		self.stop()
		if self._net:
			subprocess.run([IP, "netns", "del", self.ns],
			    capture_output=True)
			subprocess.run([IP, "link", "del", self.veth],
			    capture_output=True)
			self._net = False
		if os.path.isdir(self.logdir) and os.path.isdir(self.t.tmpdir):
			shutil.copytree(self.logdir, os.path.join(self.t.tmpdir,
			    "dc-log"), dirs_exist_ok=True)
		shutil.rmtree(self.state, ignore_errors=True)


def start_ad_dc(t, users):
	"""An AdDc with users (name -> password), started, its timings on
	stdout; None, after one failed check saying why, when an AD DC
	cannot run here."""
	why = ad_dc_available()
	if why is not None:
		t.check(False, "an AD DC can run here", "(%s)" % why)
		return None
	dc = AdDc(t, users)
	dc.start()
	sys.stdout.write("# AD DC: provision %.1f s, ready %.1f s\n" %
	    (dc.timings["provision"], dc.timings["start"]))
	return dc


def tempfile_dir():
	import tempfile
	return tempfile.mkdtemp(prefix="iadc.", dir="/tmp")


# ---------------------------------------------------------------------------
# A throwaway MIT Kerberos KDC on loopback (shared/PEERS.md, "MIT KDC on
# loopback").

KRB5KDC = "/usr/sbin/krb5kdc"
KDB5_UTIL = "/usr/sbin/kdb5_util"
KADMIN_LOCAL = "/usr/sbin/kadmin.local"
KINIT = "/usr/bin/kinit"
KLIST = "/usr/bin/klist"
KVNO = "/usr/bin/kvno"


def kdc_available():
	"""Why an MIT KDC cannot run here, or None when it can."""
	for p in (KRB5KDC, KDB5_UTIL, KADMIN_LOCAL):
		if not os.access(p, os.X_OK):
			return "%s missing (install krb5-kdc krb5-admin-server)" % p
	for p in (KINIT, KLIST, KVNO):
		if not os.access(p, os.X_OK):
			return "%s missing (install krb5-user)" % p
	return None


def _free_tcp_udp_port():
	"""A port free for both TCP and UDP on 127.0.0.1 (the KDC takes both)."""
	import socket
	for _ in range(50):
		port = harness.free_port()
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		try:
			s.bind(("127.0.0.1", port))
			return port
		except OSError:
			continue
		finally:
			s.close()
	raise RuntimeError("no port free for both TCP and UDP")


class MitKdc(_LoopbackServer):
	"""An MIT KDC for realm (default EXAMPLE.TEST) on a free loopback port,
	everything in t.tmpdir/kdc: its own krb5.conf and kdc.conf (never
	/etc/krb5.conf), the database, the stash, the logs.  The constructor
	creates the database and starts `krb5kdc -n` (foreground, so the pid
	is ours; stopped by pid at the end of the test).  Setup takes well
	under a second.

	krb5.conf turns off everything that would make a test depend on this
	machine's DNS or clock sync: no DNS lookups of KDC or realm, no
	hostname canonicalisation, no reverse DNS (the SPN is built from the
	name as typed), kdc_timesync off (so a client under faketime really
	is off by that much), TCP only, and default ccache and keytab inside
	the dir (an accident never touches /tmp/krb5cc_0 or /etc/krb5.keytab).

		kdc = peers.MitKdc(t)
		kdc.addprinc("alice", "Alice-pw1")
		kdc.addprinc_randkey("HTTP/proxy.example.test")
		kdc.ktadd("HTTP/proxy.example.test", keytab)
		cc = kdc.kinit("alice", "Alice-pw1", path)
		subprocess.run([...], env=kdc.env(KRB5CCNAME="FILE:" + cc))
	"""

	MASTER_PW = "kdc-master-pw-not-a-secret"

	def __init__(self, t, realm="EXAMPLE.TEST", port=None, start=True):
		self.t = t
		self.realm = realm
		self.dir = os.path.join(t.tmpdir, "kdc")
		os.makedirs(self.dir, exist_ok=True)
		self.port = port or _free_tcp_udp_port()
		self.krb5_conf = os.path.join(self.dir, "krb5.conf")
		self.kdc_conf = os.path.join(self.dir, "kdc.conf")
		self.logfile = os.path.join(self.dir, "kdc.log")
		self.outfile = os.path.join(self.dir, "krb5kdc.out")
		self.proc = None
		self.timings = {}
		t0 = time.time()
		self._write_confs()
		self._create()
		self.timings["create"] = time.time() - t0
		if start:
			self.start()

	def _write_confs(self):
		d = self.dir
		domain = self.realm.lower()
		with open(self.krb5_conf, "w") as f:
			f.write("""[libdefaults]
	default_realm = {realm}
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	kdc_timesync = 0
	udp_preference_limit = 1
	default_ccache_name = FILE:{d}/ccache.default
	default_keytab_name = FILE:{d}/default.keytab
	default_client_keytab_name = FILE:{d}/client.keytab

[realms]
	{realm} = {{
		kdc = 127.0.0.1:{port}
		admin_server = 127.0.0.1:{port}
	}}

[domain_realm]
	.{domain} = {realm}
	{domain} = {realm}

[logging]
	default = FILE:{d}/krb5lib.log
""".format(realm=self.realm, d=d, port=self.port, domain=domain))
		with open(self.kdc_conf, "w") as f:
			f.write("""[kdcdefaults]
	kdc_listen = 127.0.0.1:{port}
	kdc_tcp_listen = 127.0.0.1:{port}

[realms]
	{realm} = {{
		database_name = {d}/principal
		key_stash_file = {d}/stash
		acl_file = {d}/kadm5.acl
		dict_file = {d}/kadm5.dict
		max_life = 10h 0m 0s
		max_renewable_life = 1d 0h 0m 0s
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	}}

[logging]
	kdc = FILE:{d}/kdc.log
	admin_server = FILE:{d}/kadmin.log
	default = FILE:{d}/krb5lib.log
""".format(realm=self.realm, d=d, port=self.port))
		for name in ("kadm5.acl", "kadm5.dict"):
			open(os.path.join(d, name), "w").close()

	def env(self, **more):
		"""os.environ plus KRB5_CONFIG and KRB5_KDC_PROFILE (and more,
		e.g. KRB5CCNAME="FILE:..."): for kadmin, kinit, curl, negtoken
		and the proxy."""
		e = dict(os.environ)
		for k in ("KRB5CCNAME", "KRB5_KTNAME", "KRB5_CLIENT_KTNAME",
		    "KRB5_TRACE"):
			e.pop(k, None)
		e["KRB5_CONFIG"] = self.krb5_conf
		e["KRB5_KDC_PROFILE"] = self.kdc_conf
		e.update(more)
		return e

	def _run(self, argv, input=None, env=None, check=True, timeout=20):
		p = subprocess.run(argv, input=input, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE, env=env or self.env(),
		    timeout=timeout, text=True)
		if check and p.returncode != 0:
			raise RuntimeError("%s failed (%d): %s" % (" ".join(argv),
			    p.returncode, (p.stdout + p.stderr)[-2000:]))
		return p

	def _create(self):
		self._run([KDB5_UTIL, "-r", self.realm, "create", "-s", "-P",
		    self.MASTER_PW])

	def kadmin(self, query):
		"""kadmin.local -q QUERY; its output.  kadmin.local exits 0 even
		when the query fails, so its error line ("add_principal: ...
		while creating ...") is what raises."""
		p = self._run([KADMIN_LOCAL, "-r", self.realm, "-q", query])
		for l in p.stderr.splitlines():
			if re.match(r"^[a-z_.]+: .* while ", l):
				raise RuntimeError("kadmin.local -q %r: %s" % (query, l))
		return p.stdout

	@staticmethod
	def _q(s):
		if '"' in s or "\n" in s:
			raise ValueError("no quotes or newlines in kadmin arguments")
		return '"%s"' % s

	def addprinc(self, name, password):
		"""A principal with a password (a user)."""
		self.kadmin("addprinc -pw %s %s" % (self._q(password), self._q(name)))

	def addprinc_randkey(self, name):
		"""A principal with a random key (a service)."""
		self.kadmin("addprinc -randkey %s" % self._q(name))

	def ktadd(self, principal, keytab_path, norandkey=True):
		"""Add principal's keys to keytab_path (created if need be, mode
		0600).  norandkey keeps the kvno (and the key) as it is."""
		self.kadmin("ktadd %s-k %s %s" % ("-norandkey " if norandkey else "",
		    self._q(keytab_path), self._q(principal)))
		os.chmod(keytab_path, 0o600)
		return keytab_path

	def randkey(self, name):
		"""A new random key for name: its kvno goes up by one, so a
		keytab made before no longer holds the key tickets use."""
		self.kadmin("cpw -randkey %s" % self._q(name))

	def getprinc(self, name):
		return self.kadmin("getprinc %s" % self._q(name))

	def kvno_of(self, name):
		"""The principal's current key version number, from the database."""
		m = re.search(r"Key: vno (\d+)", self.getprinc(name))
		return int(m.group(1)) if m else None

	def kinit(self, user, password, ccache_path):
		"""echo PASSWORD | kinit USER into FILE:ccache_path; the path."""
		self._run([KINIT, user], input=password + "\n",
		    env=self.env(KRB5CCNAME="FILE:" + ccache_path))
		return ccache_path

	def kvno(self, service, ccache_path, check=True):
		"""`kvno SERVICE` with that ccache: fetches the service ticket
		into it (so later tokens need no KDC).  The CompletedProcess."""
		return self._run([KVNO, service], check=check,
		    env=self.env(KRB5CCNAME="FILE:" + ccache_path))

	def klist(self, ccache_path=None, keytab=None):
		"""klist of a ccache, or klist -kt of a keytab: the text."""
		if keytab is not None:
			argv = [KLIST, "-k", "-t", keytab]
		else:
			argv = [KLIST, "-c", "FILE:" + ccache_path]
		p = self._run(argv, check=False)
		return p.stdout + p.stderr

	def start(self, timeout=10):
		out = open(self.outfile, "a")
		self.proc = self.t.spawn([KRB5KDC, "-n", "-r", self.realm],
		    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
		    env=self.env())
		t0 = time.time()
		ok = harness.wait_for(lambda: self.proc.poll() is not None or
		    harness.port_open(self.port), timeout, interval=0.02)
		if not ok or self.proc.poll() is not None:
			raise RuntimeError("krb5kdc did not start (exit %r): %s %s" %
			    (self.proc.poll(), _tail(self.outfile), _tail(self.logfile)))
		self.timings["start"] = time.time() - t0
		return self


# ---------------------------------------------------------------------------
# OpenLDAP with groups: the memberof overlay, and StartTLS on request.

LDAPMODIFY = "/usr/bin/ldapmodify"


class GroupSlapd(Slapd):
	"""A Slapd (same schemas, ACL, service DN and stats log) with the
	memberof overlay: a group (groupOfNames) added or changed while
	slapd runs sets memberOf on its members, users and groups alike
	(so nesting can be walked up).  slapadd does not run overlays, so
	groups go in with add() after start().  With tls=(cert, key) slapd
	also offers StartTLS on its ldap:// port.

		s = peers.GroupSlapd(t, tls=t.cert())
		s.add_user("alice", nthash_hex=...)
		s.start()
		s.add("dn: cn=staff,ou=groups,dc=example,dc=test\\n...")
	"""

	def __init__(self, t, port=None, memberof=True, tls=None):
		self.memberof = memberof
		self.tls = tls
		Slapd.__init__(self, t, port)

	def _write_conf(self):
		Slapd._write_conf(self)
		with open(self.conf) as f:
			text = f.read()
		if self.tls is not None:
			text = text.replace("pidfile ", "TLSCertificateFile %s\n"
			    "TLSCertificateKeyFile %s\npidfile " % tuple(self.tls), 1)
		# The indexes a directory serving these lookups would have.
		text = text.replace("directory %s\n" % self.db, "directory %s\n"
		    "index objectClass,uid,cn,member,uniqueMember,memberUid eq\n"
		    % self.db, 1)
		if self.memberof:
			text = text.replace("moduleload back_mdb\n",
			    "moduleload back_mdb\nmoduleload memberof\n", 1)
			text += ("\noverlay memberof\n"
			    "memberof-group-oc groupOfNames\n"
			    "memberof-member-ad member\n"
			    "memberof-memberof-ad memberOf\n"
			    "memberof-refint TRUE\n")
		with open(self.conf, "w") as f:
			f.write(text)

	def modify(self, ldif, add=False):
		"""ldapmodify (with add: -a) as the rootdn, on the running
		server; raises on failure."""
		argv = [LDAPMODIFY, "-x", "-H", self.uri, "-D", ADMIN_DN, "-w",
		    ADMIN_PW] + (["-a"] if add else [])
		env = dict(os.environ, LDAPNOINIT="1")
		p = subprocess.run(argv, input=ldif.encode(), stdout=subprocess.PIPE,
		    stderr=subprocess.STDOUT, timeout=30, env=env)
		if p.returncode != 0:
			raise RuntimeError("ldapmodify failed: " +
			    p.stdout.decode(errors="replace")[-1500:])

	def add(self, ldif):
		self.modify(ldif, add=True)

	def searches(self, filt):
		"""How many searches with exactly this filter the log shows."""
		return self.log().count('filter="%s"' % filt)


# ---------------------------------------------------------------------------
# OpenLDAP with the ppolicy overlay (account actions, issue 9).

WRITER_DN = "cn=proxyadmin," + SUFFIX
WRITER_PW = "Wr1ter-service-pw"
POLICY_DN = "cn=default,ou=policies," + SUFFIX
LDAPWHOAMI = "/usr/bin/ldapwhoami"


class PpolicySlapd(GroupSlapd):
	"""A GroupSlapd with the ppolicy overlay (OpenLDAP 2.5: the schema
	comes with the module) and a default policy that locks accounts out
	(pwdLockout TRUE), so pwdAccountLockedTime and pwdReset mean what
	draft-behera-ldap-password-policy says.  Two service accounts:
	PROXY_DN reads (the NT hash too) and may write nothing; WRITER_DN
	reads the same and may also write pwdAccountLockedTime and pwdReset
	of the people entries (what iaproxyctl disable/enable/reset-password
	need).

		s = peers.PpolicySlapd(t)
		s.add_user("alice", nthash_hex=...)
		s.start()
		s.whoami("alice")	# (rc, output) of ldapwhoami as alice
		s.attr("alice", "pwdAccountLockedTime")	# read as the rootdn
	"""

	def _write_conf(self):
		GroupSlapd._write_conf(self)
		with open(self.conf) as f:
			text = f.read()
		text = text.replace("moduleload back_mdb\n",
		    "moduleload back_mdb\nmoduleload ppolicy\n", 1)
		# The writer reads what the reader reads (the NT hash too).
		text = text.replace('\tby dn.exact="%s" read\n' % PROXY_DN,
		    '\tby dn.exact="%s" read\n\tby dn.exact="%s" read\n' %
		    (PROXY_DN, WRITER_DN))
		# First match wins: the lock and reset attributes of people.
		text = text.replace("access to attrs=userPassword\n",
		    'access to dn.subtree="%s" attrs=pwdAccountLockedTime,'
		    'pwdReset\n\tby dn.exact="%s" write\n\tby dn.exact="%s" read\n'
		    '\tby * none\naccess to attrs=userPassword\n' %
		    (PEOPLE, WRITER_DN, PROXY_DN), 1)
		text += ("\noverlay ppolicy\nppolicy_default \"%s\"\n" %
		    POLICY_DN)
		with open(self.conf, "w") as f:
			f.write(text)

	def _ldif(self):
		return Slapd._ldif(self) + "\n" + "\n\n".join([
		    "dn: %s\nobjectClass: organizationalRole\n"
		    "objectClass: simpleSecurityObject\ncn: proxyadmin\n"
		    "userPassword: %s" % (WRITER_DN, WRITER_PW),
		    "dn: ou=policies,%s\nobjectClass: organizationalUnit\n"
		    "ou: policies" % SUFFIX,
		    "dn: %s\nobjectClass: organizationalRole\n"
		    "objectClass: pwdPolicy\ncn: default\n"
		    "pwdAttribute: userPassword\npwdLockout: TRUE\n"
		    "pwdMaxFailure: 5\npwdLockoutDuration: 300" % POLICY_DN]) + "\n"

	def user_dn(self, uid):
		return "uid=%s,%s" % (uid, PEOPLE)

	def whoami(self, uid, password=None):
		"""ldapwhoami as uid (simple bind with its userPassword,
		uid-ldap-pw): (exit code, output)."""
		env = dict(os.environ, LDAPNOINIT="1")
		p = subprocess.run([LDAPWHOAMI, "-x", "-H", self.uri, "-D",
		    self.user_dn(uid), "-w", password or "%s-ldap-pw" % uid],
		    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20,
		    env=env)
		return p.returncode, p.stdout.decode(errors="replace")

	def attr(self, uid, name):
		"""The values of attribute name of uid's entry (operational ones
		too), read as the rootdn: a list."""
		rc, out = self.search("(objectClass=*)", [name], ADMIN_DN,
		    ADMIN_PW, base=self.user_dn(uid))
		return [l.split(": ", 1)[1] for l in out.splitlines()
		    if l.lower().startswith(name.lower() + ": ")]
