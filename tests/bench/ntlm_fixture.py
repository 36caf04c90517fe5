#!/usr/bin/python3
"""The AD DC for tests/bench/ntlm: a Samba 4 domain controller in a network
namespace (tests/integration/peers.py, class AdDc), kept up while the
benchmark runs.

usage: ntlm_fixture.py [--group GROUP] [--logs DIR] USER=PASSWORD ...

Provisions and starts the DC with the given users, then prints on stdout,
one per line:

	REALM AD.EXAMPLE.TEST
	DOMAIN ADEXAMPLE
	RUNDIR /tmp/iadc.XXXX/run	(bind it on /run/samba for ntlm_auth)
	PRIVDIR /tmp/iadc.XXXX/...	(winbindd's privileged pipe directory)
	LOGDIR /tmp/iadc.XXXX/log	(log.wb-ADEXAMPLE: the NTLM audit lines)
	WINBINDD PID
	USER alice
	READY

and waits for a line (or end of file) on stdin; then, or on SIGTERM, SIGINT
or SIGHUP, it stops samba by pid and removes the namespace, the veth pair
and the DC's state (its logs are copied to DIR first, with --logs).  On a
setup error it prints "ERROR why" and exits 1, after the same teardown.

--group GROUP lets helpers that run as GROUP (Squid starts its ntlm_auth
helpers as user proxy) reach winbindd's privileged pipe, as Debian's
winbindd_priv group does for the system winbindd: the state directory
becomes traversable and the privileged directory group-owned by GROUP.
Only the DC's own temp dir changes; nothing of the system's.
"""

import grp
import os
import shutil
import signal
import stat
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness		# noqa: E402  (after the path change)
import peers		# noqa: E402


def say(*words):
	sys.stdout.write(" ".join(str(w) for w in words) + "\n")
	sys.stdout.flush()


def priv_dir(dc):
	"""winbindd's privileged pipe directory (winbindd made it at start,
	somewhere in the state dir: where depends on Samba's build)."""
	for root, dirs, _ in os.walk(dc.state):
		if "winbindd_privileged" in dirs:
			return os.path.join(root, "winbindd_privileged")
	raise RuntimeError("no winbindd_privileged under " + dc.state)


def grant(dc, group):
	"""Group GROUP may use the privileged pipe: o+x on every directory
	from the state dir down to it, the directory itself GROUP r-x."""
	gid = grp.getgrnam(group).gr_gid
	pd = priv_dir(dc)
	d = dc.state
	for part in os.path.relpath(os.path.dirname(pd), dc.state).split("/"):
		st = os.stat(d)
		os.chmod(d, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
		if part != ".":
			d = os.path.join(d, part)
	st = os.stat(d)
	os.chmod(d, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
	os.chown(pd, -1, gid)
	os.chmod(pd, 0o750)
	return pd


def main():
	args = sys.argv[1:]
	group = logs = None
	users = {}
	while args:
		a = args.pop(0)
		if a == "--group" and args:
			group = args.pop(0)
		elif a == "--logs" and args:
			logs = args.pop(0)
		elif "=" in a:
			u, pw = a.split("=", 1)
			users[u] = pw
		else:
			sys.stderr.write(__doc__)
			return 2
	if not users:
		sys.stderr.write(__doc__)
		return 2

	t = harness.Test("ntlm_bench_dc")
	done = [False]

	def teardown():
		if done[0]:
			return
		done[0] = True
		harness.stop_all()	# samba by pid, then dc.destroy()
		if logs:
			src = os.path.join(t.tmpdir, "dc-log")
			if os.path.isdir(src):
				shutil.copytree(src, logs, dirs_exist_ok=True)
		shutil.rmtree(t.tmpdir, ignore_errors=True)

	def on_signal(signum, frame):
		teardown()
		os._exit(128 + signum)

	# harness installs handlers that print test results; ours only clean.
	for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
		signal.signal(s, on_signal)
	try:
		why = peers.ad_dc_available()
		if why is not None:
			raise RuntimeError(why)
		dc = peers.AdDc(t, users)
		dc.start()
		pd = grant(dc, group) if group else priv_dir(dc)
		say("REALM", dc.REALM)
		say("DOMAIN", dc.DOMAIN)
		say("RUNDIR", dc.rundir)
		say("PRIVDIR", pd)
		say("LOGDIR", dc.logdir)
		say("WINBINDD", dc.winbindd_pid())
		say("TIMINGS", "provision=%.1f" % dc.timings.get("provision", 0),
		    "start=%.1f" % dc.timings.get("start", 0))
		for u in users:
			say("USER", u)
		say("READY")
		sys.stdin.readline()
	except Exception as e:
		say("ERROR", str(e).replace("\n", " ")[:1000])
		teardown()
		return 1
	teardown()
	say("BYE")
	return 0


if __name__ == "__main__":
	sys.exit(main())
