#!/usr/bin/python3
"""workers = 2: many parallel clients, all served."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import pattern

N = 50


def main(t):
	o = t.origin()
	p = t.proxy(workers=2)
	res = [None] * N

	def one(i):
		res[i] = harness.curl(p, o.url("/size/%d" % (1000 + i * 997)),
		    o.url("/chunked/%d" % (500 + i)))

	th = [threading.Thread(target=one, args=(i,)) for i in range(N)]
	for x in th:
		x.start()
	for x in th:
		x.join(120)
	ok = sum(1 for i, r in enumerate(res) if r is not None and r.rc == 0 and
	    [h[0] for h in r.heads] == [200, 200] and
	    r.body == pattern(1000 + i * 997) + pattern(500 + i))
	t.eq(ok, N, "all %d parallel clients served correctly" % N)
	bad = [r for r in res if r is None or r.rc != 0]
	t.eq(bad[:3], [], "no curl errors")
	lines = p.wait_access_lines(2 * N)
	t.eq(len(lines), 2 * N, "access log has a line per request")
	try:
		nthreads = len(os.listdir("/proc/%d/task" % p.pid))
	except OSError:
		nthreads = 0
	t.check(nthreads >= 2, "the process runs at least 2 threads", "(%d)" % nthreads)


harness.run(main)
