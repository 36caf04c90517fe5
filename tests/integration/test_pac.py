#!/usr/bin/python3
"""The PAC file at /proxy.pac and /wpad.dat, origin-form and absolute-form,
and the 404 page for anything else on the gateway."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness

CT = "application/x-ns-proxy-autoconfig"

# PAC helper functions, enough to run FindProxyForURL under node.
JS_STUB = r"""
const DNS = {"www.example.com": "93.184.216.34", "printer.lan": "192.168.5.5",
    "10.1.2.3": "10.1.2.3", "www.intranet.test": "10.9.9.9",
    "host.example": "198.51.100.7"};
function dnsResolve(h) { return DNS[h] || null; }
function isResolvable(h) { return dnsResolve(h) !== null; }
function ip4(s) { return s.split(".").reduce((a, b) => a * 256 + (+b), 0); }
function isInNet(h, pat, mask) {
  const ip = /^\d+\.\d+\.\d+\.\d+$/.test(h) ? h : dnsResolve(h);
  if (!ip) return false;
  const m = ip4(mask);
  return (ip4(ip) & m) >>> 0 === (ip4(pat) & m) >>> 0;
}
function isInNetEx(h, cidr) {
  const [net, len] = cidr.split("/");
  if (net.includes(":")) return false;
  const n = +len, mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  const ip = /^\d+\.\d+\.\d+\.\d+$/.test(h) ? h : dnsResolve(h);
  if (!ip) return false;
  return ((ip4(ip) & mask) >>> 0) === ((ip4(net) & mask) >>> 0);
}
function dnsDomainIs(h, d) { return h.length >= d.length && h.slice(-d.length) === d; }
function isPlainHostName(h) { return !h.includes("."); }
function localHostOrDomainIs(h, d) { return h === d || d.startsWith(h + "."); }
function shExpMatch(s, p) {
  const re = new RegExp("^" + p.replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
  return re.test(s);
}
function myIpAddress() { return "127.0.0.1"; }
function dnsDomainLevels(h) { return h.split(".").length - 1; }
function convert_addr(ip) { return ip4(ip); }
function weekdayRange() { return true; }
function dateRange() { return true; }
function timeRange() { return true; }
"""


def fetch(t, port, req, method="GET"):
	resp, c = harness.raw_request(port, req, method=method)
	c.close()
	return resp


def check_pac(t, resp, port, what):
	if not t.eq(resp and resp.status, 200, "%s: status" % what):
		return ""
	t.check((resp.header("content-type") or "").startswith(CT),
	    "%s: Content-Type" % what, "(got %r)" % resp.header("content-type"))
	body = resp.body.decode("latin-1")
	t.contains(body, "FindProxyForURL", "%s: defines FindProxyForURL" % what)
	t.contains(body, "PROXY proxy.example.test:%d" % port,
	    "%s: PROXY hostname:port of this listener" % what)
	t.contains(body, "DIRECT", "%s: has DIRECT" % what)
	t.contains(body, "intranet.test", "%s: direct domain .intranet.test" % what)
	t.contains(body, "host.example", "%s: direct host host.example" % what)
	t.contains(body, "10.0.0.0", "%s: direct network 10.0.0.0/8" % what)
	t.contains(body, "192.168.0.0", "%s: direct network 192.168.0.0/16" % what)
	t.check("255.0.0.0" in body or "10.0.0.0/8" in body,
	    "%s: 10.0.0.0/8 mask present" % what)
	return body


def run_pac(t, body, port):
	node = shutil.which("node") or shutil.which("nodejs")
	if not node:
		t.log("node not installed: PAC not evaluated")
		return
	cases = [("http://www.example.com/x", "www.example.com", "PROXY"),
	    ("http://www.intranet.test/", "www.intranet.test", "DIRECT"),
	    ("http://host.example/", "host.example", "DIRECT"),
	    ("http://10.1.2.3/", "10.1.2.3", "DIRECT"),
	    ("http://printer.lan/", "printer.lan", "DIRECT"),
	    ("http://unknown.example/", "unknown.example", "PROXY")]
	js = JS_STUB + body + "\nconsole.log(JSON.stringify([" + ",".join(
	    "FindProxyForURL(%s, %s)" % (json.dumps(u), json.dumps(h))
	    for u, h, _ in cases) + "]));\n"
	p = subprocess.run([node, "-e", js], capture_output=True, timeout=30)
	try:
		res = json.loads(p.stdout)
	except ValueError:
		t.fail("PAC evaluates under node: %r" % p.stderr[-300:])
		return
	for (u, h, want), got in zip(cases, res):
		if want == "PROXY":
			t.check(got.startswith("PROXY proxy.example.test:%d" % port),
			    "FindProxyForURL(%s) -> PROXY" % u, "(got %r)" % got)
		else:
			t.eq(got.strip(), "DIRECT", "FindProxyForURL(%s) -> DIRECT" % u)


def main(t):
	o = t.origin()
	p1, p2 = harness.free_port(), harness.free_port()
	p = t.proxy(listen=["127.0.0.1:%d" % p1, "127.0.0.1:%d" % p2],
	    pac={"direct_domains": [".intranet.test", "host.example"],
	    "direct_networks": ["10.0.0.0/8", "192.168.0.0/16", "fd00::/8"]})
	before = o.stats()

	for path in ("/proxy.pac", "/wpad.dat"):
		r = fetch(t, p1, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path, p1))
		body = check_pac(t, r, p1, "origin-form %s" % path)
		r = fetch(t, p2, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path, p2))
		check_pac(t, r, p2, "origin-form %s on the 2nd listener" % path)
		r = fetch(t, p1, "GET http://proxy.example.test:%d%s HTTP/1.1\r\n"
		    "Host: proxy.example.test:%d\r\n\r\n" % (p1, path, p1))
		check_pac(t, r, p1, "absolute-form hostname:port %s" % path)
		r = fetch(t, p1, "GET http://127.0.0.1:%d%s HTTP/1.1\r\n"
		    "Host: 127.0.0.1:%d\r\n\r\n" % (p1, path, p1))
		check_pac(t, r, p1, "absolute-form listen address %s" % path)
		r = fetch(t, p1, "HEAD %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
		    % (path, p1), method="HEAD")
		t.eq(r and (r.status, r.body), (200, b""), "HEAD %s" % path)
	run_pac(t, body, p1)

	# Other paths on the gateway: 404 page.
	for req in ("GET /nope HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % p1,
	    "GET http://proxy.example.test:%d/nope HTTP/1.1\r\n"
	    "Host: proxy.example.test:%d\r\n\r\n" % (p1, p1)):
		r = fetch(t, p1, req)
		t.eq(r and r.status, 404, "gateway 404 for %r" % req.split("\r\n")[0])
		if r:
			t.check((r.header("content-type") or "").startswith("text/html"),
			    "404 is an HTML page")
			t.contains(r.body.decode("latin-1"), "proxy.example.test",
			    "404 page names the hostname")
	after = o.stats()
	t.eq(after["requests"] - before["requests"], 0, "gateway pages never reach an origin")


harness.run(main)
