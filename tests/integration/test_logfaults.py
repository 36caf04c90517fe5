#!/usr/bin/python3
"""The access log failing under the proxy: it keeps serving and says so.

- Disk full: the proxy runs in a private mount namespace whose log
  directory is a 64 KiB tmpfs (reached from here through
  /proc/PID/root); a filler file takes the space, requests still get
  200, the error log says "No space left on device" (once, not per
  line); space freed, lines are written again.
- Unwritable on reopen: the log is rotated away and a directory put in
  its place, then SIGUSR1: the reopen fails, the error log says so, the
  proxy keeps serving and keeps writing to the file it had.
- A log that cannot be opened at start: the proxy refuses to start and
  names the file (rather than run without the record it was asked
  to keep)."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness


def get(t, p, o, path):
	r = harness.curl(p, o.url(path))
	return r.status


def disk_full(t, o):
	logdir = os.path.join(t.tmpdir, "full")
	os.makedirs(logdir)
	p = t.proxy(start=False, access_log=os.path.join(logdir, "access.log"))
	p.prefix = ["/usr/bin/unshare", "-m", "/bin/sh", "-c",
	    'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"', logdir]
	p.start()
	inside = "/proc/%d/root%s" % (p.pid, logdir)
	log = os.path.join(inside, "access.log")
	t.eq(get(t, p, o, "/size/10"), 200, "disk full: a first request")
	t.check(harness.wait_for(lambda: os.path.exists(log) and
	    "/size/10" in open(log).read()), "disk full: logged while there "
	    "is room (on the proxy's own tmpfs)")
	# Take every byte that is left.
	filler = os.path.join(inside, "filler")
	fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
	try:
		while os.write(fd, b"x" * 512) > 0:
			pass
	except OSError:
		pass
	os.close(fd)
	st = [get(t, p, o, "/size/%d" % (20 + i)) for i in range(40)]
	t.eq(st, [200] * 40, "disk full: 40 requests still answered 200")
	err = p.errlog()
	t.check("access log write: No space left on device" in err,
	    "disk full: the error log says so", err[-300:])
	t.eq(err.count("No space left on device"), 1,
	    "disk full: said once, not once per line")
	os.unlink(filler)
	t.eq(get(t, p, o, "/size/77"), 200, "space freed: request")
	t.check(harness.wait_for(lambda: "/size/77" in open(log).read()),
	    "space freed: lines are written again")
	t.check(p.alive(), "disk full: proxy alive")
	p.stop()


def unwritable_reopen(t, o):
	p = t.proxy()
	t.eq(get(t, p, o, "/size/1"), 200, "reopen: a first request")
	rotated = p.access_log + ".1"
	harness.wait_for(lambda: len(p.access_lines()) >= 1)
	os.rename(p.access_log, rotated)
	os.mkdir(p.access_log)		# the path is a directory now
	off = len(p.errlog())
	p.reopen_logs()
	t.check(p.wait_errlog("access log %s" % p.access_log, since=off),
	    "reopen onto a directory: the error log names the file",
	    p.errlog()[off:][-300:])
	t.eq(get(t, p, o, "/size/2"), 200, "reopen failed: still serving")
	t.check(harness.wait_for(lambda: "/size/2" in
	    "\n".join(p.access_lines(rotated))),
	    "reopen failed: still writing to the file it had")
	t.check(p.alive(), "reopen failed: proxy alive")
	os.rmdir(p.access_log)
	p.reopen_logs()
	t.check(p.wait_errlog("reopened the access log", since=off),
	    "path usable again: reopened")
	t.eq(get(t, p, o, "/size/3"), 200, "after reopen: request")
	t.check(harness.wait_for(lambda: "/size/3" in
	    "\n".join(p.access_lines())), "after reopen: the new file")
	p.stop()


def unopenable_at_start(t):
	d = os.path.join(t.tmpdir, "nodir", "access.log")
	p = t.proxy(start=False, access_log=d)
	p.start(wait=False)
	t.check(harness.wait_for(lambda: p.proc.poll() is not None, 5),
	    "start with an unopenable access log: refuses to run")
	t.check(p.proc.poll() not in (None, 0), "... with a failure status")
	t.check(d in p.errlog(), "... naming the file", p.errlog()[-300:])


def main(t):
	o = t.origin()
	disk_full(t, o)
	unwritable_reopen(t, o)
	unopenable_at_start(t)


harness.run(main)
