#!/usr/bin/python3
"""iaproxy -t and -V: a good file passes, bad files fail with FILE:LINE:."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness

BASE = 'listen = {"127.0.0.1:3128"}\nhostname = "proxy.example.test"\n'

# (name, text after BASE, line of the error)
BAD = [
	("unknown option", "no_such_option = 5\n", 3),
	("bad integer value", "header_timeout = abc\n", 3),
	("bad log_format", "log_format = xml\n", 3),
	("missing include file", 'include("/nonexistent/iaproxy-missing.conf")\n', 3),
	("bad CIDR prefix", 'pac { direct_networks = {"10.0.0.0/33"} }\n', 3),
	("bad CIDR address", 'pac { direct_networks = {"10.0.300.0/8"} }\n', 3),
	("bad listen port", 'workers = 1\nlisten = {"127.0.0.1:99999"}\n', 4),
	("connect port out of range", "connect_ports = {70000}\n", 3),
	("syntax error", "workers = \n= 3\n", 4),
]


def run(args, timeout=10):
	p = subprocess.run([harness.IAPROXY] + args, capture_output=True,
	    timeout=timeout, stdin=subprocess.DEVNULL)
	return p.returncode, p.stdout.decode(errors="replace"), \
	    p.stderr.decode(errors="replace")


def main(t):
	rc, out, err = run(["-V"])
	t.eq(rc, 0, "-V exit code")
	t.contains(out + err, "iaproxy %s" % harness.VERSION, "-V prints the version")

	good = os.path.join(t.tmpdir, "good.conf")
	with open(good, "w") as f:
		f.write(BASE + 'log_format = json\nconnect_ports = {443, 8443}\n'
		    'header_timeout = 5\npac { direct_domains = {".intranet.test"} '
		    'direct_networks = {"10.0.0.0/8", "fd00::/8"} }\n')
	rc, out, err = run(["-t", "-c", good])
	t.eq(rc, 0, "-t on a good file exits 0")
	t.contains(err, "%s: configuration OK" % good, "-t prints FILE: configuration OK")

	# A good file that includes another.
	inc = os.path.join(t.tmpdir, "inc.conf")
	with open(inc, "w") as f:
		f.write("workers = 2\n")
	top = os.path.join(t.tmpdir, "top.conf")
	with open(top, "w") as f:
		f.write(BASE + 'include("%s")\n' % inc)
	rc, out, err = run(["-t", "-c", top])
	t.eq(rc, 0, "-t on a file with a good include exits 0", )

	for i, (name, text, line) in enumerate(BAD):
		path = os.path.join(t.tmpdir, "bad%d.conf" % i)
		with open(path, "w") as f:
			f.write(BASE + text)
		rc, out, err = run(["-t", "-c", path])
		t.check(rc != 0, "%s: -t exits non-zero" % name, "(exit %d)" % rc)
		t.contains(err, "%s:%d:" % (path, line), "%s: stderr names FILE:LINE" % name)
	# Without -t a bad file stops the start with the same message.
	path = os.path.join(t.tmpdir, "bad0.conf")
	rc, out, err = run(["-c", path])
	t.check(rc != 0, "start with a bad file exits non-zero", "(exit %d)" % rc)
	t.contains(err, "%s:3:" % path, "start with a bad file names FILE:LINE")
	# A config file that does not exist.
	rc, out, err = run(["-t", "-c", os.path.join(t.tmpdir, "absent.conf")])
	t.check(rc != 0, "-t on a missing file exits non-zero", "(exit %d)" % rc)
	t.contains(err, "absent.conf", "missing file named in the error")


harness.run(main)
