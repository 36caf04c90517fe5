"""The test identity provider (saml_idp.py) as a child of a test: started
on an ephemeral port of 127.0.0.1, stopped by pid with the test's other
processes, driven through its control endpoint."""

import json
import os
import subprocess
import urllib.request

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
IDP_PY = os.path.join(HERE, "saml_idp.py")
IDP_HOST = "idp.example.test"


class IdpProc:
	"""saml_idp.py as a child of the test, stopped by pid."""

	def __init__(self, t):
		self.t = t
		self.dir = os.path.join(t.tmpdir, "idp")
		os.makedirs(self.dir)
		pf = os.path.join(self.dir, "port")
		self.errfile = os.path.join(t.tmpdir, "idp.err")
		self.sp_md = os.path.join(self.dir, "sp-metadata.xml")
		self.proc = t.spawn([harness.PYTHON, IDP_PY, "--dir", self.dir,
		    "--port-file", pf, "--name", IDP_HOST, "--sp-metadata",
		    self.sp_md], stdout=subprocess.DEVNULL,
		    stderr=open(self.errfile, "w"), stdin=subprocess.DEVNULL)
		ok = harness.wait_for(lambda: os.path.exists(pf) or
		    self.proc.poll() is not None, 20)
		if not ok or self.proc.poll() is not None:
			raise RuntimeError("saml_idp.py did not start: " +
			    open(self.errfile).read()[-2000:])
		self.port = int(open(pf).read())
		self.metadata = os.path.join(self.dir, "idp-metadata.xml")
		self.sso = "http://%s:%d/sso" % (IDP_HOST, self.port)
		self.opener = urllib.request.build_opener(
		    urllib.request.ProxyHandler({}))

	def _http(self, path, data=None):
		r = self.opener.open("http://127.0.0.1:%d%s" % (self.port, path),
		    data=data, timeout=30)
		return json.loads(r.read())

	def control(self, **kw):
		return self._http("/control", json.dumps(kw).encode())

	def last(self):
		return self._http("/last")

	def events(self):
		return self._http("/events")

	def log(self):
		return open(self.errfile, errors="replace").read()
