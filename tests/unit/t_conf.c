/*
 * Unit tests for conf/: the embedded default, every option with a good
 * value, the exact "FILE:LINE:" of each kind of error, include(), and the
 * CIDR parser and matcher.  Run under valgrind: every load, good or bad,
 * must free all it allocated.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "policy.h"
#include "unit.h"

static char	errbuf[4096];

/* Load text named name; NULL on failure with the messages in errbuf. */
static struct config *
load(const char *name, const char *text)
{
	return (conf_load(name, text, errbuf, sizeof(errbuf)));
}

/* Does text fail to load with a first message starting with prefix? */
static int
fails(const char *name, const char *text, const char *prefix)
{
	struct config	*c;

	if ((c = load(name, text)) != NULL) {
		conf_unref(c);
		snprintf(errbuf, sizeof(errbuf), "(loaded)");
		return (0);
	}
	return (strncmp(errbuf, prefix, strlen(prefix)) == 0);
}

/* Does err contain the line? */
static int
has_line(const char *err, const char *prefix)
{
	const char	*s = err;

	for (;;) {
		if (strncmp(s, prefix, strlen(prefix)) == 0)
			return (1);
		if ((s = strchr(s, '\n')) == NULL)
			return (0);
		s++;
	}
}

/* Write text to a new file under /tmp; returns its malloc'ed path. */
static char *
tmpfile_with(const char *text)
{
	char	 tmpl[] = "/tmp/t_conf.XXXXXX";
	int	 fd;
	size_t	 len = strlen(text);

	if ((fd = mkstemp(tmpl)) == -1) {
		perror("mkstemp");
		exit(2);
	}
	if (write(fd, text, len) != (ssize_t)len) {
		perror("write");
		exit(2);
	}
	close(fd);
	return (strdup(tmpl));
}

static struct sockaddr_storage ssbuf;

static const struct sockaddr *
sa4(const char *a)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ssbuf;

	memset(&ssbuf, 0, sizeof(ssbuf));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, a, &sin->sin_addr);
	return ((struct sockaddr *)&ssbuf);
}

static const struct sockaddr *
sa6(const char *a)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ssbuf;

	memset(&ssbuf, 0, sizeof(ssbuf));
	sin6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &sin6->sin6_addr);
	return ((struct sockaddr *)&ssbuf);
}

/* Parse block and match addr (v4 or v6 by the presence of ':'). */
static int
match(const char *block, const char *addr)
{
	struct cidr	c;

	if (cidr_parse(block, &c) == -1)
		return (-1);
	return (cidr_match(&c, strchr(addr, ':') ? sa6(addr) : sa4(addr)));
}

static void
test_default(void)
{
	struct config		*c;
	struct sockaddr_in	*sin;

	c = load("conf/iaproxy.conf", conf_default_text);
	CHECK(c != NULL, "default config: %s", errbuf);
	if (c == NULL)
		return;
	CHECK(strcmp(c->file, "conf/iaproxy.conf") == 0, "file %s", c->file);
	CHECK(c->refcnt == 1, "refcnt %d", c->refcnt);
	CHECK(c->nlisten == 1 && strcmp(c->listen[0].text,
	    "127.0.0.1:3128") == 0, "listen");
	sin = (struct sockaddr_in *)&c->listen[0].ss;
	CHECK(sin->sin_family == AF_INET && ntohs(sin->sin_port) == 3128 &&
	    ntohl(sin->sin_addr.s_addr) == 0x7f000001 &&
	    c->listen[0].sslen == sizeof(*sin), "listen sockaddr");
	CHECK(c->workers >= 1 && c->workers <= 64, "workers %d", c->workers);
	CHECK(c->hostname != NULL && strcmp(c->hostname,
	    "proxy.example.test") == 0, "hostname %s", c->hostname);
	CHECK(strcmp(c->access_log, "-") == 0, "access_log %s", c->access_log);
	CHECK(c->log_format == LOG_FORMAT_SQUID, "log_format");
	CHECK(c->nconnect_ports == 1 && c->connect_ports[0] == 443, "ports");
	CHECK(c->max_header_bytes == 131072 && c->max_line_bytes == 65536 &&
	    c->max_headers == 100 && c->max_conns_per_ip == 512, "limits");
	CHECK(c->header_timeout == 30000 && c->client_idle_timeout == 60000 &&
	    c->connect_timeout == 10000 && c->upstream_timeout == 120000 &&
	    c->tunnel_idle_timeout == 3600000 && c->shutdown_timeout == 30000 &&
	    c->upstream_idle_timeout == 30000, "timeouts in ms");
	CHECK(c->upstream_max_idle == 16 && c->dns_ttl == 60 &&
	    c->dns_negative_ttl == 10, "pool and dns");
	CHECK(c->pac_ndirect_domains == 0 && c->pac_ndirect_networks == 0,
	    "pac");
	CHECK(conf_connect_port_ok(c, 443) && !conf_connect_port_ok(c, 80) &&
	    !conf_connect_port_ok(c, 0), "connect_port_ok");
	CHECK(conf_ref(c) == c && c->refcnt == 2, "ref");
	conf_unref(c);
	CHECK(c->refcnt == 1, "unref");
	conf_unref(c);
	conf_unref(NULL);
}

static void
test_empty(void)
{
	struct config	*c;
	char		 host[256];

	/* Nothing set: the built-in defaults, hostname from the system. */
	c = load("empty.conf", "");
	CHECK(c != NULL, "empty config: %s", errbuf);
	if (c == NULL)
		return;
	gethostname(host, sizeof(host));
	CHECK(c->hostname != NULL && strcmp(c->hostname, host) == 0,
	    "hostname %s vs %s", c->hostname, host);
	CHECK(c->nlisten == 1 && c->upstream_timeout == 120000 &&
	    c->workers >= 1 && c->nconnect_ports == 1, "defaults");
	conf_unref(c);
}

static void
test_good(void)
{
	struct config		*c;
	struct sockaddr_in6	*sin6;
	struct sockaddr_in	*sin;
	const char		*text =
	    "# every option with a good value\n"
	    "listen = {\"0.0.0.0:8080\", \"[::1]:3129\", \"[::]:80\"}\n"
	    "workers = 3\n"
	    "hostname = \"gw-1.Example.test\"\n"
	    "access_log = \"/var/log/iaproxy/access.log\"\n"
	    "log_format = json\n"
	    "connect_ports = {443, 8443, 563}\n"
	    "max_header_bytes = 2048   max_line_bytes = 2048\n"
	    "max_headers = 8\n"
	    "max_conns_per_ip = 0\n"
	    "header_timeout = 0.5\n"
	    "client_idle_timeout = 1\n"
	    "connect_timeout = 2.25\n"
	    "upstream_timeout = 86400\n"
	    "tunnel_idle_timeout = 7\n"
	    "shutdown_timeout = 0\n"
	    "upstream_idle_timeout = 0.001\n"
	    "upstream_max_idle = 0\n"
	    "dns_ttl = 0\n"
	    "dns_negative_ttl = 3600\n"
	    "pac {\n"
	    "  direct_domains = {\".Intranet.example.test\", \"wiki\"}\n"
	    "  direct_networks = {\"10.1.2.3/8\", \"2001:db8::/32\", "
	    "\"192.0.2.1\"}\n"
	    "}\n";

	c = load("good.conf", text);
	CHECK(c != NULL, "good config: %s", errbuf);
	if (c == NULL)
		return;
	CHECK(c->nlisten == 3, "nlisten %zu", c->nlisten);
	sin = (struct sockaddr_in *)&c->listen[0].ss;
	CHECK(sin->sin_family == AF_INET && ntohs(sin->sin_port) == 8080 &&
	    sin->sin_addr.s_addr == INADDR_ANY, "0.0.0.0:8080");
	sin6 = (struct sockaddr_in6 *)&c->listen[1].ss;
	CHECK(sin6->sin6_family == AF_INET6 && ntohs(sin6->sin6_port) ==
	    3129 && IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) &&
	    c->listen[1].sslen == sizeof(*sin6), "[::1]:3129");
	CHECK(strcmp(c->listen[2].text, "[::]:80") == 0, "listen text");
	CHECK(c->workers == 3, "workers");
	CHECK(strcmp(c->hostname, "gw-1.Example.test") == 0, "hostname");
	CHECK(strcmp(c->access_log, "/var/log/iaproxy/access.log") == 0,
	    "access_log");
	CHECK(c->log_format == LOG_FORMAT_JSON, "json");
	CHECK(c->nconnect_ports == 3 && conf_connect_port_ok(c, 563) &&
	    conf_connect_port_ok(c, 8443) && !conf_connect_port_ok(c, 80),
	    "ports");
	CHECK(c->max_header_bytes == 2048 && c->max_line_bytes == 2048 &&
	    c->max_headers == 8 && c->max_conns_per_ip == 0, "limits");
	CHECK(c->header_timeout == 500 && c->client_idle_timeout == 1000 &&
	    c->connect_timeout == 2250 && c->upstream_timeout == 86400000 &&
	    c->tunnel_idle_timeout == 7000 && c->shutdown_timeout == 0 &&
	    c->upstream_idle_timeout == 1, "timeouts %d %d", c->header_timeout,
	    c->connect_timeout);
	CHECK(c->upstream_max_idle == 0 && c->dns_ttl == 0 &&
	    c->dns_negative_ttl == 3600, "pool and dns");
	CHECK(c->pac_ndirect_domains == 2 && strcmp(c->pac_direct_domains[0],
	    ".intranet.example.test") == 0 && strcmp(c->pac_direct_domains[1],
	    "wiki") == 0, "domains (lowercased)");
	CHECK(c->pac_ndirect_networks == 3 &&
	    c->pac_direct_networks[0].family == AF_INET &&
	    c->pac_direct_networks[0].prefix == 8 &&
	    c->pac_direct_networks[0].addr[1] == 0 &&
	    c->pac_direct_networks[1].family == AF_INET6 &&
	    c->pac_direct_networks[2].prefix == 32, "networks");
	conf_unref(c);

	/* A later assignment replaces; += appends; "010" is ten. */
	c = load("again.conf", "workers = 2\nworkers = 010\n"
	    "connect_ports = {1}\nconnect_ports += {2}\n"
	    "listen = {\"127.0.0.1:1\"} listen = {\"127.0.0.1:2\"}\n");
	CHECK(c != NULL && c->workers == 10 && c->nconnect_ports == 2 &&
	    c->connect_ports[1] == 2 && c->nlisten == 1 &&
	    strcmp(c->listen[0].text, "127.0.0.1:2") == 0, "reassign: %s",
	    c ? "" : errbuf);
	conf_unref(c);

	/* An empty connect_ports list refuses every CONNECT. */
	c = load("noports.conf", "connect_ports = {}\n");
	CHECK(c != NULL && c->nconnect_ports == 0 &&
	    !conf_connect_port_ok(c, 443), "no ports");
	conf_unref(c);
}

static void
test_errors(void)
{
	struct config	*c;

	CHECK(fails("e.conf", "workers = 1\nfoo = 2\n",
	    "e.conf:2: no such option 'foo'"), "unknown option: %s", errbuf);
	CHECK(fails("e.conf", "\n\nnosuch {\n}\n",
	    "e.conf:3: no such option 'nosuch'"), "unknown section: %s", errbuf);
	CHECK(fails("e.conf", "pac {\n  direct_domains = {}\n  bogus = 1\n}\n",
	    "e.conf:3: no such option 'bogus'"), "unknown in pac: %s", errbuf);
	CHECK(fails("e.conf", "workers = abc\n",
	    "e.conf:1: workers: 'abc' is not a number"), "not a number: %s",
	    errbuf);
	CHECK(fails("e.conf", "workers = 1.5\n",
	    "e.conf:1: workers: '1.5' is not a number"), "fraction: %s",
	    errbuf);
	CHECK(fails("e.conf", "workers = {1}\n",
	    "e.conf:1: unexpected token '{'"), "list for scalar: %s", errbuf);
	CHECK(fails("e.conf", "\nworkers = 65\n",
	    "e.conf:2: workers: 65 is out of range (0..64)"), "range: %s",
	    errbuf);
	CHECK(fails("e.conf", "max_headers = -1\n",
	    "e.conf:1: max_headers: -1 is out of range (8..1000)"),
	    "negative: %s", errbuf);
	CHECK(fails("e.conf", "dns_ttl = 99999999999999999999999\n",
	    "e.conf:1: dns_ttl: 99999999999999999999999 is out of range"),
	    "overflow: %s", errbuf);
	CHECK(fails("e.conf", "header_timeout = 0\n",
	    "e.conf:1: header_timeout: 0 is out of range (0.001..86400)"),
	    "timeout 0: %s", errbuf);
	CHECK(fails("e.conf", "shutdown_timeout = 3601\n",
	    "e.conf:1: shutdown_timeout: 3601 is out of range (0..3600)"),
	    "shutdown range: %s", errbuf);
	CHECK(fails("e.conf", "connect_timeout = 0.0005\n",
	    "e.conf:1: connect_timeout: '0.0005' is not a number of seconds"),
	    "sub-ms: %s", errbuf);
	CHECK(fails("e.conf", "connect_ports = {443,\n 0}\n",
	    "e.conf:2: connect_ports: 0 is out of range (1..65535)"),
	    "port 0: %s", errbuf);
	CHECK(fails("e.conf", "listen = {\"127.0.0.1\"}\n",
	    "e.conf:1: listen: '127.0.0.1' is not IPv4:port"), "no port: %s",
	    errbuf);
	CHECK(fails("e.conf", "listen = {\"127.0.0.1:65536\"}\n",
	    "e.conf:1: listen: '127.0.0.1:65536'"), "port range: %s", errbuf);
	CHECK(fails("e.conf", "listen = {\"::1:80\"}\n",
	    "e.conf:1: listen: '::1:80'"), "v6 no brackets: %s", errbuf);
	CHECK(fails("e.conf", "listen = {\"[::1]80\"}\n",
	    "e.conf:1: listen: '[::1]80'"), "v6 no colon: %s", errbuf);
	CHECK(fails("e.conf", "listen = {\"localhost:80\"}\n",
	    "e.conf:1: listen: 'localhost:80'"), "name: %s", errbuf);
	CHECK(fails("e.conf", "listen = {\"127.0.0.1:80\",\n\"127.0.0.1:80\"}\n",
	    "e.conf:2: listen: '127.0.0.1:80' is listed twice"), "dup: %s",
	    errbuf);
	CHECK(fails("e.conf", "listen = {}\n",
	    "e.conf: listen: at least one address is required"),
	    "no listen: %s", errbuf);
	CHECK(fails("e.conf", "pac {\n direct_networks = {\"10.0.0.0/8\",\n"
	    " \"10.0.0.0/33\"}\n}\n", "e.conf:3: direct_networks: "
	    "'10.0.0.0/33' is not an address or CIDR block"), "cidr: %s",
	    errbuf);
	CHECK(fails("e.conf", "pac { direct_domains = {\"a..b\"} }\n",
	    "e.conf:1: direct_domains: 'a..b' is not a host name"),
	    "domain: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"proxy_1.example\"\n",
	    "e.conf:1: hostname: 'proxy_1.example' is not a valid DNS name"),
	    "hostname: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"a.b.\"\n",
	    "e.conf:1: hostname: 'a.b.'"), "trailing dot: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"-a.b\"\n",
	    "e.conf:1: hostname: '-a.b'"), "leading dash: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"\"\n",
	    "e.conf:1: hostname: ''"), "empty hostname: %s", errbuf);
	CHECK(fails("e.conf", "access_log = \"\"\n",
	    "e.conf:1: access_log: empty file name"), "empty log: %s", errbuf);
	CHECK(fails("e.conf", "\n\nlog_format = xml\n",
	    "e.conf:3: log_format: 'xml' is not squid or json"),
	    "log_format: %s", errbuf);
	CHECK(fails("e.conf", "max_line_bytes = 4096\nmax_header_bytes = 2048\n",
	    "e.conf:1: max_line_bytes (4096) must not exceed max_header_bytes "
	    "(2048)"), "line > header: %s", errbuf);
	CHECK(fails("e.conf", "\nmax_header_bytes = 2048\n",
	    "e.conf:2: max_line_bytes (65536) must not exceed"),
	    "line > header, at the header: %s", errbuf);

	/* Syntax. */
	CHECK(fails("e.conf", "hostname = \"abc\nworkers = 1\n",
	    "e.conf:2: premature end of file"), "missing quote: %s", errbuf);
	CHECK(fails("e.conf", "pac {\n  direct_domains = {\"a\"}\n",
	    "e.conf:2: end of file inside section 'pac' (missing '}')"),
	    "missing brace: %s", errbuf);
	CHECK(fails("e.conf", "connect_ports = {443\n",
	    "e.conf:1: premature end of file"), "missing list brace: %s",
	    errbuf);
	CHECK(fails("e.conf", "workers = 1\n}\n",
	    "e.conf:2: unexpected closing brace"), "extra brace: %s", errbuf);
	CHECK(fails("e.conf", "pac\ndirect_domains = {}\n",
	    "e.conf:2: missing opening brace for section 'pac'"),
	    "missing open brace: %s", errbuf);
	CHECK(fails("e.conf", "workers 1\n",
	    "e.conf:1: missing equal sign after option 'workers'"),
	    "missing =: %s", errbuf);
	CHECK(fails("e.conf", "workers = 1 /* no end\n\n",
	    "e.conf:2: end of file inside a comment"), "comment: %s", errbuf);

	/* Every bad value is reported, not just the first. */
	c = load("m.conf", "workers = 99\nlog_format = xml\nhostname = \"a_b\"\n");
	CHECK(c == NULL && has_line(errbuf, "m.conf:1: workers") &&
	    has_line(errbuf, "m.conf:2: log_format") &&
	    has_line(errbuf, "m.conf:3: hostname"), "all errors: %s", errbuf);

	/* Control characters from the file never reach the terminal. */
	c = load("m.conf", "\"\\033[2Jfoo\" = 1\n");
	CHECK(c == NULL && strchr(errbuf, '\033') == NULL &&
	    has_line(errbuf, "m.conf:1: no such option '?[2Jfoo'"),
	    "sanitised: %s", errbuf);

	/* A small buffer gets a truncated, terminated message. */
	{
		char	small[8];

		memset(small, 'x', sizeof(small));
		c = conf_load("m.conf", "foo = 1\n", small, sizeof(small));
		CHECK(c == NULL && strcmp(small, "m.conf:") == 0, "small %s",
		    small);
	}

	/* A failed unterminated string must not leave the lexer astray. */
	c = load("after.conf", "workers = 4\n");
	CHECK(c != NULL && c->workers == 4, "after errors: %s",
	    c ? "" : errbuf);
	conf_unref(c);
}

static void
test_files(void)
{
	struct config	*c;
	char		*inc, *main1, *bad, *deep, *text;
	char		 expect[512];
	size_t		 len;

	/* Missing file. */
	c = load("/nonexistent/iaproxy.conf", NULL);
	CHECK(c == NULL && strcmp(errbuf, "/nonexistent/iaproxy.conf: cannot "
	    "open: No such file or directory") == 0, "missing: %s", errbuf);
	c = load("/tmp", NULL);
	CHECK(c == NULL && strncmp(errbuf, "/tmp: cannot open:", 18) == 0,
	    "directory: %s", errbuf);

	/* A file, including another by absolute path. */
	inc = tmpfile_with("dns_ttl = 7\npac { direct_domains = {\"inc\"} }\n");
	len = strlen(inc) + 64;
	text = malloc(len);
	snprintf(text, len, "workers = 2\ninclude(\"%s\")\nmax_headers = 9\n",
	    inc);
	main1 = tmpfile_with(text);
	c = load(main1, NULL);
	CHECK(c != NULL && c->workers == 2 && c->dns_ttl == 7 &&
	    c->max_headers == 9 && c->pac_ndirect_domains == 1 &&
	    strcmp(c->file, main1) == 0, "include: %s", c ? "" : errbuf);
	conf_unref(c);

	/* Relative include: from the including file's directory. */
	snprintf(text, len, "include(\"%s\")\n", strrchr(inc, '/') + 1);
	unlink(main1);
	free(main1);
	main1 = tmpfile_with(text);
	c = load(main1, NULL);
	CHECK(c != NULL && c->dns_ttl == 7, "relative include: %s",
	    c ? "" : errbuf);
	conf_unref(c);

	/* An error inside an included file names that file and line. */
	bad = tmpfile_with("workers = 1\n\nworkers = 100\n");
	snprintf(text, len, "include(\"%s\")\n", bad);
	c = load("top.conf", text);
	snprintf(expect, sizeof(expect), "%s:3: workers: 100 is out of range",
	    bad);
	CHECK(c == NULL && strncmp(errbuf, expect, strlen(expect)) == 0,
	    "error in include: %s", errbuf);

	/* A section may not stay open across the end of an included file. */
	unlink(bad);
	free(bad);
	bad = tmpfile_with("pac {\n direct_domains = {}\n");
	snprintf(text, len, "include(\"%s\")\npac { }\n", bad);
	c = load("top.conf", text);
	snprintf(expect, sizeof(expect), "%s:2: end of file inside section "
	    "'pac'", bad);
	CHECK(c == NULL && strncmp(errbuf, expect, strlen(expect)) == 0,
	    "open section in include: %s", errbuf);

	/* Missing include file. */
	CHECK(fails("top.conf", "\ninclude(\"/nonexistent/x.conf\")\n",
	    "top.conf:2: include: /nonexistent/x.conf: cannot open: No such "
	    "file or directory"), "missing include: %s", errbuf);
	CHECK(fails("top.conf", "include(\"/dev/null\")\n",
	    "top.conf:1: include: /dev/null: cannot open: not a regular file"),
	    "device include: %s", errbuf);
	CHECK(fails("top.conf", "include(\"a\", \"b\")\n",
	    "top.conf:1: include: takes exactly one file name"),
	    "include args: %s", errbuf);

	/* A file that includes itself stops at the nesting limit. */
	deep = tmpfile_with("");
	snprintf(text, len, "include(\"%s\")\n", deep);
	unlink(deep);
	{
		FILE	*fp = fopen(deep, "w");

		fputs(text, fp);
		fclose(fp);
	}
	c = load(deep, NULL);
	CHECK(c == NULL && strstr(errbuf, "include: nested more than 8 deep")
	    != NULL, "include loop: %s", errbuf);

	/* After all that, loads still work (no state left in libconfuse). */
	c = load("after.conf", "include(\"/nonexistent\")\n");
	conf_unref(c);
	c = load("after.conf", "workers = 4\n");
	CHECK(c != NULL && c->workers == 4, "after include errors: %s",
	    c ? "" : errbuf);
	conf_unref(c);

	unlink(deep);
	unlink(bad);
	unlink(main1);
	unlink(inc);
	free(deep);
	free(bad);
	free(main1);
	free(inc);
	free(text);
}

static void
test_cidr(void)
{
	struct cidr	c;

	CHECK(cidr_parse("10.0.0.0/8", &c) == 0 && c.family == AF_INET &&
	    c.prefix == 8 && c.addr[0] == 10, "v4 block");
	CHECK(cidr_parse("10.1.2.3/8", &c) == 0 && c.addr[1] == 0 &&
	    c.addr[2] == 0 && c.addr[3] == 0, "host bits cleared");
	CHECK(cidr_parse("10.1.2.255/25", &c) == 0 && c.addr[3] == 128,
	    "partial byte masked");
	CHECK(cidr_parse("192.0.2.7", &c) == 0 && c.prefix == 32 &&
	    c.addr[3] == 7, "bare v4 is /32");
	CHECK(cidr_parse("2001:db8::1", &c) == 0 && c.family == AF_INET6 &&
	    c.prefix == 128 && c.addr[15] == 1, "bare v6 is /128");
	CHECK(cidr_parse("2001:db8:ffff::/33", &c) == 0 && c.addr[4] == 0x80 &&
	    c.addr[5] == 0, "v6 masked");
	CHECK(cidr_parse("0.0.0.0/0", &c) == 0 && c.prefix == 0, "/0");
	CHECK(cidr_parse("::/0", &c) == 0 && c.prefix == 0, "::/0");

	CHECK(cidr_parse("10.0.0.0/33", &c) == -1, "v4 prefix too long");
	CHECK(cidr_parse("::/129", &c) == -1, "v6 prefix too long");
	CHECK(cidr_parse("10.0.0.0/", &c) == -1, "empty prefix");
	CHECK(cidr_parse("10.0.0.0/-1", &c) == -1, "negative prefix");
	CHECK(cidr_parse("10.0.0.0/8x", &c) == -1, "junk prefix");
	CHECK(cidr_parse("10.0.0.0/0008", &c) == -1, "long prefix text");
	CHECK(cidr_parse("10.0.0/8", &c) == -1, "short v4");
	CHECK(cidr_parse("010.0.0.0/8", &c) == -1, "octal v4");
	CHECK(cidr_parse("256.0.0.0/8", &c) == -1, "byte > 255");
	CHECK(cidr_parse("fe80::1%eth0", &c) == -1, "zone");
	CHECK(cidr_parse("", &c) == -1 && cidr_parse("/8", &c) == -1 &&
	    cidr_parse("junk", &c) == -1 && cidr_parse(" 10.0.0.0/8", &c) ==
	    -1, "junk");

	CHECK(match("10.0.0.0/8", "10.255.1.2") == 1, "v4 in");
	CHECK(match("10.0.0.0/8", "11.0.0.1") == 0, "v4 out");
	CHECK(match("10.1.2.128/25", "10.1.2.200") == 1 &&
	    match("10.1.2.128/25", "10.1.2.127") == 0, "/25 edge");
	CHECK(match("192.0.2.7", "192.0.2.7") == 1 &&
	    match("192.0.2.7/32", "192.0.2.8") == 0, "/32");
	CHECK(match("0.0.0.0/0", "203.0.113.9") == 1, "v4 /0");
	CHECK(match("10.0.0.0/8", "::ffff:10.9.8.7") == 1, "mapped in");
	CHECK(match("10.0.0.0/8", "::ffff:11.9.8.7") == 0, "mapped out");
	CHECK(match("10.0.0.0/8", "::10.9.8.7") == 0, "compat is not mapped");
	CHECK(match("2001:db8::/32", "2001:db8:1::5") == 1 &&
	    match("2001:db8::/32", "2001:db9::5") == 0, "v6");
	CHECK(match("::1", "::1") == 1 && match("::1/128", "::2") == 0,
	    "/128");
	CHECK(match("2001:db8::/32", "10.0.0.1") == 0, "v4 vs v6 block");
	CHECK(match("::ffff:10.0.0.0/104", "10.1.1.1") == 1, "mapped block");
	CHECK(match("::/0", "2001:db8::1") == 1, "v6 /0");
	{
		struct sockaddr	sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_family = AF_UNIX;
		cidr_parse("0.0.0.0/0", &c);
		CHECK(cidr_match(&c, &sa) == 0, "other family");
	}
}

/* hex of 16 bytes, for comparing hashes with the vectors */


/* A file with text and mode; returns its malloc'ed path. */
static char *
hashfile_with(const char *text, mode_t mode)
{
	char	*path = tmpfile_with(text);

	if (chmod(path, mode) == -1) {
		perror("chmod");
		exit(2);
	}
	return (path);
}

/* snprintf into a malloc'ed buffer. */
static char *
fmt(const char *f, ...)
{
	char	*buf;
	va_list	 ap;
	int	 len;

	va_start(ap, f);
	len = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	if (len < 0 || (buf = malloc((size_t)len + 1)) == NULL) {
		perror("fmt");
		exit(2);
	}
	va_start(ap, f);
	vsnprintf(buf, (size_t)len + 1, f, ap);
	va_end(ap);
	return (buf);
}

/* Does loading text fail with a first message of exactly want + ...? */
static int
fails_f(const char *name, char *text, char *want)
{
	int	rc = fails(name, text, want);

	free(text);
	free(want);
	return (rc);
}

#define H_PASSWORD	"a4f49c406510bdcab6824ee7c30fd852"
#define H_EMPTY		"31d6cfe0d16ae931b73c59d7e0c089c0"

static void
test_ntlm_good(void)
{
	struct config		*c;
	const struct ntlm_user	*u;
	char			*hf, *text, *rel, *dir;

	hf = hashfile_with(
	    "# iaproxy hash file\n"
	    "\n"
	    "alice:" H_PASSWORD "\n"
	    "EXAMPLE\\bob:" H_EMPTY "\n"
	    "  Other\\Bob : 0123456789ABCDEF0123456789abcdef  \r\n"
	    "\tbob:ffffffffffffffffffffffffffffffff\n"
	    "   # indented comment\n"
	    "J\xc3\xb6rg:00000000000000000000000000000000", 0600);
	text = fmt(
	    "hostname = \"gw-1.example.test\"\n"
	    "ntlm {\n"
	    "  domain = \"example\"\n"
	    "  dns_domain = \"Example.TEST\"\n"
	    "  computer = \"proxy-1\"\n"
	    "  backend = hashfile\n"
	    "  hashfile = \"%s\"\n"
	    "  max_skew = 120\n"
	    "  challenge_ttl = 0.5\n"
	    "}\n"
	    "network \"office\" { src = {\"10.0.0.0/8\", \"::1\"} "
	    "auth = {ntlm} }\n"
	    "network \"guests\" {\n"
	    "  src = {\"0.0.0.0/0\", \"::/0\"}\n"
	    "  auth = {none}\n"
	    "}\n", hf);
	c = load("n.conf", text);
	free(text);
	CHECK(c != NULL, "ntlm config: %s", errbuf);
	if (c == NULL)
		goto out;
	CHECK(c->ntlm.enabled, "enabled");
	CHECK(strcmp(c->ntlm.domain, "EXAMPLE") == 0, "domain %s",
	    c->ntlm.domain);
	CHECK(strcmp(c->ntlm.dns_domain, "Example.TEST") == 0, "dns_domain %s",
	    c->ntlm.dns_domain);
	CHECK(strcmp(c->ntlm.computer, "PROXY-1") == 0, "computer %s",
	    c->ntlm.computer);
	CHECK(c->ntlm.backend == NTLM_BACKEND_HASHFILE, "backend");
	CHECK(strcmp(c->ntlm.hashfile, hf) == 0, "hashfile %s",
	    c->ntlm.hashfile);
	CHECK(c->ntlm.max_skew == 120000 && c->ntlm.challenge_ttl == 500,
	    "skew %d ttl %d", c->ntlm.max_skew, c->ntlm.challenge_ttl);
	CHECK(c->ntlm.nusers == 5, "nusers %zu", c->ntlm.nusers);
	CHECK(c->nnetworks == 2, "nnetworks %zu", c->nnetworks);
	CHECK(strcmp(c->networks[0].name, "office") == 0 &&
	    c->networks[0].nsrc == 2 && c->networks[0].auth == AUTH_NTLM &&
	    c->networks[0].src[1].family == AF_INET6, "office");
	CHECK(strcmp(c->networks[1].name, "guests") == 0 &&
	    c->networks[1].nsrc == 2 && c->networks[1].auth == AUTH_NONE,
	    "guests");

	/* Users: case-insensitive, a domain line beats an any-domain line. */
	u = conf_ntlm_user(c, "EXAMPLE", "ALICE");
	CHECK(u != NULL && u->domain == NULL && strcmp(u->user, "alice") == 0,
	    "alice in any domain");
	/* NT hash of "Password" (MS-NLMP 4.2.2.1.2). */
	CHECK(u != NULL && memcmp(u->nthash, "\xa4\xf4\x9c\x40\x65\x10\xbd"
	    "\xca\xb6\x82\x4e\xe7\xc3\x0f\xd8\x52", 16) == 0,
	    "alice's hash");
	u = conf_ntlm_user(c, "example", "Bob");
	CHECK(u != NULL && u->domain != NULL && strcmp(u->domain, "EXAMPLE") ==
	    0 && strcmp(u->user, "bob") == 0 && u->nthash[0] == 0x31,
	    "EXAMPLE\\bob");
	u = conf_ntlm_user(c, "OTHER", "BOB");
	CHECK(u != NULL && u->domain != NULL && strcmp(u->domain, "OTHER") ==
	    0 && strcmp(u->user, "Bob") == 0 && u->nthash[0] == 0x01 &&
	    u->nthash[15] == 0xef, "Other\\Bob (upper-cased domain, mixed hex)");
	u = conf_ntlm_user(c, "ELSEWHERE", "bob");
	CHECK(u != NULL && u->domain == NULL && u->nthash[0] == 0xff,
	    "bob in another domain: the any-domain line");
	u = conf_ntlm_user(c, NULL, "BOB");
	CHECK(u != NULL && u->domain == NULL, "bob without a domain");
	u = conf_ntlm_user(c, "", "alice");
	CHECK(u != NULL && u->domain == NULL, "empty domain");
	CHECK(conf_ntlm_user(c, "EXAMPLE", "carol") == NULL, "unknown user");
	CHECK(conf_ntlm_user(c, "EXAMPLE", "") == NULL, "empty user");
	CHECK(conf_ntlm_user(c, "EXAMPLE", NULL) == NULL, "NULL user");
	CHECK(conf_ntlm_user(c, "EXAMPLE", "ali") == NULL &&
	    conf_ntlm_user(c, "EXAMPLE", "alicea") == NULL, "prefixes");
	u = conf_ntlm_user(c, "x", "J\xc3\xb6rg");
	CHECK(u != NULL, "UTF-8 name");
	CHECK(conf_ntlm_user(c, "x", "j\xc3\xb6rg") != NULL,
	    "UTF-8 name, ASCII case folded");
	conf_unref(c);

	/* Defaults: dns_domain, computer from hostname, skew, ttl. */
	text = fmt("hostname = \"averyveryverylonghostname.example.test\"\n"
	    "ntlm { domain = \"Corp_1\" hashfile = \"%s\" }\n", hf);
	c = load("d.conf", text);
	free(text);
	CHECK(c != NULL, "ntlm defaults: %s", errbuf);
	if (c != NULL) {
		CHECK(strcmp(c->ntlm.domain, "CORP_1") == 0 &&
		    strcmp(c->ntlm.dns_domain, "corp_1") == 0, "dns default %s",
		    c->ntlm.dns_domain);
		CHECK(strcmp(c->ntlm.computer, "AVERYVERYVERYLO") == 0,
		    "computer default %s", c->ntlm.computer);
		CHECK(c->ntlm.max_skew == 300000 &&
		    c->ntlm.challenge_ttl == 60000 &&
		    c->ntlm.backend == NTLM_BACKEND_HASHFILE, "defaults");
		CHECK(c->nnetworks == 0 && conf_network_for(c,
		    sa4("10.0.0.1")) == NULL, "no networks");
		conf_unref(c);
	}

	/* A relative hashfile is taken from the config file's directory. */
	rel = tmpfile_with("");
	text = fmt("hostname = \"gw\"\nntlm { domain = \"X\" "
	    "hashfile = \"%s\" }\n", strrchr(hf, '/') + 1);
	unlink(rel);
	{
		FILE	*fp = fopen(rel, "w");

		fputs(text, fp);
		fclose(fp);
	}
	free(text);
	c = load(rel, NULL);
	CHECK(c != NULL && strcmp(c->ntlm.hashfile, hf) == 0 &&
	    c->ntlm.nusers == 5 && strcmp(c->ntlm.computer, "GW") == 0,
	    "relative hashfile: %s", c ? c->ntlm.hashfile : errbuf);
	conf_unref(c);
	unlink(rel);
	free(rel);

	/* Group may read it; a file of comments holds no users. */
	dir = hashfile_with("# nobody yet\n\n", 0640);
	text = fmt("ntlm { domain = \"X\" hashfile = \"%s\" }\n"
	    "hostname = \"gw\"\n", dir);
	c = load("e.conf", text);
	free(text);
	CHECK(c != NULL && c->ntlm.nusers == 0 && c->ntlm.users == NULL &&
	    conf_ntlm_user(c, "X", "alice") == NULL, "empty hash file: %s",
	    c ? "" : errbuf);
	conf_unref(c);
	unlink(dir);
	free(dir);

	/* The default config needs no sign-in. */
	c = load("conf/iaproxy.conf", conf_default_text);
	CHECK(c != NULL && c->nnetworks == 0 && !c->ntlm.enabled &&
	    c->ntlm.nusers == 0, "default: no sign-in");
	conf_unref(c);
 out:
	unlink(hf);
	free(hf);
}

static void
test_network_for(void)
{
	struct config			*c;
	const struct conf_network	*n;

	c = load("n.conf",
	    "network \"a\" { src = {\"10.1.0.0/16\"} auth = {none} }\n"
	    "network \"b\" { src = {\"10.0.0.0/8\", \"2001:db8::/32\"} "
	    "auth = {none} }\n"
	    "network \"c\" { src = {\"::1\", \"127.0.0.1\"} auth = {none} }\n"
	    "network \"d\" { src = {\"::ffff:192.0.2.0/120\"} auth = {none} }\n");
	CHECK(c != NULL, "networks: %s", errbuf);
	if (c == NULL)
		return;
	n = conf_network_for(c, sa4("10.1.2.3"));
	CHECK(n != NULL && strcmp(n->name, "a") == 0, "first match wins");
	n = conf_network_for(c, sa4("10.2.0.1"));
	CHECK(n != NULL && strcmp(n->name, "b") == 0, "second");
	n = conf_network_for(c, sa6("::ffff:10.1.0.5"));
	CHECK(n != NULL && strcmp(n->name, "a") == 0, "mapped v4");
	n = conf_network_for(c, sa6("::ffff:10.200.0.5"));
	CHECK(n != NULL && strcmp(n->name, "b") == 0, "mapped v4, b");
	n = conf_network_for(c, sa6("2001:db8:1::5"));
	CHECK(n != NULL && strcmp(n->name, "b") == 0, "v6");
	n = conf_network_for(c, sa6("::1"));
	CHECK(n != NULL && strcmp(n->name, "c") == 0, "::1");
	n = conf_network_for(c, sa4("127.0.0.1"));
	CHECK(n != NULL && strcmp(n->name, "c") == 0, "127.0.0.1");
	n = conf_network_for(c, sa4("192.0.2.9"));
	CHECK(n != NULL && strcmp(n->name, "d") == 0, "v4 in mapped block");
	CHECK(conf_network_for(c, sa4("198.51.100.1")) == NULL, "no match v4");
	CHECK(conf_network_for(c, sa6("2001:db9::1")) == NULL, "no match v6");
	CHECK(conf_network_for(c, sa6("::ffff:198.51.100.1")) == NULL,
	    "no match mapped");
	CHECK(conf_network_for(c, sa4("127.0.0.2")) == NULL, "host route");
	conf_unref(c);
}

static void
test_network_errors(void)
{
	struct config	*c;
	char		*inc, *text, *want;

	CHECK(fails("e.conf", "network {\n}\n",
	    "e.conf:1: missing title for section 'network'"), "untitled: %s",
	    errbuf);
	CHECK(fails("e.conf", "network \"\" { src = {\"::1\"} auth = {none} }\n",
	    "e.conf:1: network '': the name must be 1 to 64 characters"),
	    "empty name: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" { src = {\"::1\"} auth = {none} }\n"
	    "network \"a\" { src = {\"::2\"} auth = {none} }\n",
	    "e.conf:2: network 'a' is defined twice"), "duplicate: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" {\n  auth = {none}\n}\n",
	    "e.conf:3: network 'a': src is required"), "no src: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" {\n  src = {}\n  auth = {none}\n}\n",
	    "e.conf:4: network 'a': src is required"), "empty src: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" {\n  src = {\"10.0.0.0/8\",\n"
	    "    \"10.0.0.0/33\"}\n  auth = {none}\n}\n",
	    "e.conf:3: src: '10.0.0.0/33' is not an address or CIDR block"),
	    "bad src: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" { src = {\"::1\"} }\n",
	    "e.conf:1: network 'a': auth is required"), "no auth: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" { src = {\"::1\"} auth = {} }\n",
	    "e.conf:1: network 'a': auth is required"), "empty auth: %s",
	    errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" hashfile = \"/x\" }\n"
	    "network \"a\" {\n src = {\"::1\"}\n auth = {none, ntlm}\n}\n",
	    "e.conf:5: network 'a': auth none cannot be combined"),
	    "none not alone: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" {\n src = {\"::1\"}\n"
	    " auth = {negotiate}\n}\n",
	    "e.conf:4: network 'a' uses negotiate but there is no negotiate "
	    "section"), "negotiate: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" { src = {\"::1\"} auth = {saml} }\n",
	    "e.conf:1: network 'a' uses saml but there is no saml section"),
	    "saml: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" { src = {\"::1\"} auth = {basic} }\n",
	    "e.conf:1: auth: 'basic' is not none, ntlm, negotiate or saml"),
	    "unknown method: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" { src = {\"::1\"} auth = {\"ntlm\"} "
	    "}\nnetwork \"office\" {\n src = {\"10.0.0.0/8\"}\n auth = {ntlm}\n}\n",
	    "e.conf:1: network 'a' uses ntlm but there is no ntlm section"),
	    "ntlm without section: %s", errbuf);
	CHECK(has_line(errbuf, "e.conf:5: network 'office' uses ntlm but there "
	    "is no ntlm section"), "second one too: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" { src = {\"::1\"} auth = {none}\n"
	    "  bogus = 1 }\n", "e.conf:2: no such option 'bogus'"),
	    "unknown option: %s", errbuf);
	CHECK(fails("e.conf", "network \"a\" {\n src = {\"::1\"}\n",
	    "e.conf:2: end of file inside section 'network'"), "open: %s",
	    errbuf);

	/* A network closed in an included file is reported there. */
	inc = tmpfile_with("\nnetwork \"inc\" {\n auth = {none}\n}\n");
	text = fmt("workers = 1\ninclude(\"%s\")\n", inc);
	want = fmt("%s:4: network 'inc': src is required", inc);
	CHECK(fails_f("top.conf", text, want), "in include: %s", errbuf);
	text = fmt("ntlm {\n include(\"%s\")\n}\n", inc);
	c = load("top.conf", text);
	free(text);
	CHECK(c == NULL, "network inside ntlm refused: %s", errbuf);
	unlink(inc);
	free(inc);
}

/* backend winbind with /bin/sh standing in for ntlm_auth. */
static void
test_ntlm_winbind_ok(void)
{
	struct config	*c;

	c = load("w.conf", "hostname = \"gw\"\nntlm { domain = \"ad\" "
	    "backend = winbind\n helper = \"/bin/sh  -c  cat\"\n"
	    " helpers = 2 helper_queue = 0 helper_timeout = 1.5 }\n");
	CHECK(c != NULL, "winbind config: %s", errbuf);
	if (c == NULL)
		return;
	CHECK(c->ntlm.backend == NTLM_BACKEND_WINBIND, "backend %d",
	    c->ntlm.backend);
	CHECK(c->ntlm.hashfile == NULL && c->ntlm.nusers == 0, "no hash file");
	CHECK(c->ntlm.helper_argv != NULL &&
	    strcmp(c->ntlm.helper_argv[0], "/bin/sh") == 0 &&
	    strcmp(c->ntlm.helper_argv[1], "-c") == 0 &&
	    strcmp(c->ntlm.helper_argv[2], "cat") == 0 &&
	    c->ntlm.helper_argv[3] == NULL, "helper argv split on spaces");
	CHECK(c->ntlm.helpers == 2 && c->ntlm.helper_queue == 0 &&
	    c->ntlm.helper_timeout == 1500, "helpers %d queue %d timeout %d",
	    c->ntlm.helpers, c->ntlm.helper_queue, c->ntlm.helper_timeout);
	conf_unref(c);
}

static void
test_ntlm_errors(void)
{
	char		*hf, *text, *want;
	const char	*bad;

	CHECK(fails("e.conf", "ntlm {\n  hashfile = \"/x\"\n}\n",
	    "e.conf:3: ntlm: domain is required"), "no domain: %s", errbuf);
	CHECK(fails("e.conf", "ntlm {\n  domain = \"EXAMPLE\"\n}\n",
	    "e.conf:3: ntlm: hashfile is required with backend hashfile"),
	    "no hashfile: %s", errbuf);
	CHECK(fails("e.conf", "ntlm {\n}\n", "e.conf:2: ntlm: domain is "
	    "required"), "empty section: %s", errbuf);
	CHECK(has_line(errbuf, "e.conf:2: ntlm: hashfile is required"),
	    "both: %s", errbuf);
	CHECK(fails("e.conf", "ntlm {\n domain = \"EXAMPLE-DOMAIN-16\"\n"
	    " hashfile = \"/x\"\n}\n", "e.conf:2: domain: 'EXAMPLE-DOMAIN-16' "
	    "is not a NetBIOS name (1 to 15 letters, digits, '-', '_' or '.')"),
	    "long domain: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"A B\" hashfile = \"/x\" }\n",
	    "e.conf:1: domain: 'A B' is not a NetBIOS name"), "space: %s",
	    errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"\" hashfile = \"/x\" }\n",
	    "e.conf:1: domain: '' is not a NetBIOS name"), "empty: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"A\\\\B\" hashfile = \"/x\" }\n",
	    "e.conf:1: domain: 'A\\B' is not a NetBIOS name"), "backslash: %s",
	    errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" hashfile = \"/x\"\n"
	    " computer = \"pc*1\" }\n",
	    "e.conf:2: computer: 'pc*1' is not a NetBIOS name"), "computer: %s",
	    errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" hashfile = \"/x\"\n"
	    " dns_domain = \"a..b\" }\n",
	    "e.conf:2: dns_domain: 'a..b' is not a valid DNS name"),
	    "dns_domain: %s", errbuf);
	CHECK(fails("e.conf", "ntlm {\n domain = \"X\"\n backend = ldap\n}\n",
	    "e.conf:3: ntlm backend ldap needs an ldap section"), "ldap: %s",
	    errbuf);
	/* backend winbind: the helper's program must be there. */
	CHECK(fails("e.conf", "ntlm { domain = \"X\" backend = winbind\n"
	    " helper = \"/nonexistent/ntlm_auth --x\" }\n",
	    "e.conf:2: ntlm helper '/nonexistent/ntlm_auth --x': No such file "
	    "or directory"), "winbind helper missing: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" backend = winbind\n"
	    " helper = \"ntlm_auth\" }\n",
	    "e.conf:2: ntlm helper 'ntlm_auth': the program must be an "
	    "absolute path"), "winbind helper relative: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" backend = winbind\n"
	    " helper = \"/etc/passwd\" }\n",
	    "e.conf:2: ntlm helper '/etc/passwd': not executable"),
	    "winbind helper not executable: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" backend = winbind\n"
	    " helper = \"/tmp\" }\n",
	    "e.conf:2: ntlm helper '/tmp': not a regular file"),
	    "winbind helper directory: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" backend = winbind\n"
	    " helper = \"   \" }\n",
	    "e.conf:2: ntlm helper '   ': no program"),
	    "winbind helper blank: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" backend = winbind\n"
	    " helpers = 0 }\n", "e.conf:2: helpers: 0 is out of range (1..64)"),
	    "helpers: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" backend = winbind\n"
	    " helper_queue = -1 }\n",
	    "e.conf:2: helper_queue: -1 is out of range (0..100000)"),
	    "helper_queue: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" backend = winbind\n"
	    " helper_timeout = 301 }\n",
	    "e.conf:2: helper_timeout: 301 is out of range (0.001..300)"),
	    "helper_timeout: %s", errbuf);
	test_ntlm_winbind_ok();
	CHECK(fails("e.conf", "ntlm { domain = \"X\" backend = files }\n",
	    "e.conf:1: backend: 'files' is not hashfile, ldap or winbind"),
	    "unknown backend: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" hashfile = \"\" }\n",
	    "e.conf:1: hashfile: empty file name"), "empty hashfile: %s",
	    errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" hashfile = \"/x\"\n"
	    " max_skew = 0 }\n",
	    "e.conf:2: max_skew: 0 is out of range (0.001..129600)"),
	    "max_skew: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" hashfile = \"/x\"\n"
	    " challenge_ttl = 3601 }\n",
	    "e.conf:2: challenge_ttl: 3601 is out of range (0.001..3600)"),
	    "challenge_ttl: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" realm = \"Y\" }\n",
	    "e.conf:1: no such option 'realm'"), "unknown option: %s", errbuf);
	CHECK(fails("e.conf", "ntlm { domain = \"X\" hashfile = \"/x\" }\n\n"
	    "ntlm {\n domain = \"Y\" hashfile = \"/x\" }\n",
	    "e.conf:4: ntlm: section given twice (first ended at e.conf:1)"),
	    "twice: %s", errbuf);
	CHECK(fails("e.conf", "max_skew = 5\n",
	    "e.conf:1: no such option 'max_skew'"), "not top level: %s", errbuf);

	/* The hash file itself: reported at the hashfile option. */
	CHECK(fails("e.conf", "hostname = \"gw\"\nntlm {\n domain = \"X\"\n"
	    " hashfile = \"/nonexistent/h\"\n}\n", "e.conf:4: ntlm hashfile "
	    "/nonexistent/h: cannot open: No such file or directory"),
	    "missing: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"gw\"\nntlm { domain = \"X\" "
	    "hashfile = \"/tmp\" }\n",
	    "e.conf:2: ntlm hashfile /tmp: not a regular file"),
	    "directory: %s", errbuf);
	hf = hashfile_with("alice:" H_PASSWORD "\n", 0644);
	text = fmt("hostname = \"gw\"\nntlm {\n domain = \"X\"\n"
	    " hashfile = \"%s\"\n}\n", hf);
	want = fmt("e.conf:4: ntlm hashfile %s: others have access to it "
	    "(mode 0644); chmod o-rwx it", hf);
	CHECK(fails_f("e.conf", text, want), "world-readable: %s", errbuf);
	chmod(hf, 0602);
	text = fmt("hostname = \"gw\"\nntlm { domain = \"X\" hashfile = \"%s\" "
	    "}\n", hf);
	want = fmt("e.conf:2: ntlm hashfile %s: others have access to it "
	    "(mode 0602)", hf);
	CHECK(fails_f("e.conf", text, want), "world-writable: %s", errbuf);
	unlink(hf);
	free(hf);

	/* Bad lines: HASHFILE:LINE, every one, and never the hash. */
	{
		static const struct {
			const char	*text;
			int		 line;
			const char	*msg;
		} cases[] = {
			{ "alice " H_PASSWORD "\n", 1,
			    "missing ':' between the user and the NT hash" },
			{ "# c\nalice:" H_PASSWORD "0\n", 2,
			    "the NT hash must be 32 hex digits" },
			{ "alice:a4f49c406510bdcab6824ee7c30fd85\n", 1,
			    "the NT hash must be 32 hex digits" },
			{ "\n\nalice:g4f49c406510bdcab6824ee7c30fd852\n", 3,
			    "the NT hash must be 32 hex digits" },
			{ "alice:\n", 1, "the NT hash must be 32 hex digits" },
			{ ":" H_PASSWORD "\n", 1, "empty user name" },
			{ "X\\:" H_PASSWORD "\n", 1, "empty user name" },
			{ "\\bob:" H_PASSWORD "\n", 1,
			    "empty domain before '\\'" },
			{ "A\\B\\c:" H_PASSWORD "\n", 1,
			    "more than one '\\' in the user name" },
			{ "al\x01ice:" H_PASSWORD "\n", 1,
			    "control character in the user name" },
			{ "x:" H_PASSWORD "\nEXAMPLE\\Bob:" H_PASSWORD "\n"
			    "example\\bob:" H_EMPTY "\n", 3,
			    "duplicate user 'EXAMPLE\\bob' (also on line 2)" },
			{ "bob:" H_PASSWORD "\nx:" H_PASSWORD "\nBOB:" H_EMPTY
			    "\n", 3, "duplicate user 'BOB' (also on line 1)" },
		};
		size_t	i;

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			hf = hashfile_with(cases[i].text, 0600);
			text = fmt("hostname = \"gw\"\nntlm { domain = \"X\" "
			    "hashfile = \"%s\" }\n", hf);
			want = fmt("%s:%d: %s", hf, cases[i].line,
			    cases[i].msg);
			CHECK(fails("e.conf", text, want) &&
			    strcmp(errbuf, want) == 0, "case %zu: %s", i,
			    errbuf);
			CHECK(strstr(errbuf, "a4f49c") == NULL &&
			    strstr(errbuf, "31d6cf") == NULL,
			    "case %zu: hash in message: %s", i, errbuf);
			free(text);
			free(want);
			unlink(hf);
			free(hf);
		}
	}

	/* Every bad line is reported, not just the first; and a NUL. */
	hf = hashfile_with("a " H_PASSWORD "\nb:" H_PASSWORD "\n:" H_EMPTY
	    "\n", 0600);
	text = fmt("hostname = \"gw\"\nntlm { domain = \"X\" hashfile = \"%s\" "
	    "}\n", hf);
	want = fmt("%s:3: empty user name", hf);
	bad = want;
	CHECK(fails("e.conf", text, hf) && has_line(errbuf, bad),
	    "all lines: %s", errbuf);
	free(text);
	free(want);
	unlink(hf);
	{
		FILE	*fp = fopen(hf, "w");

		fwrite("a:" H_PASSWORD "\nb\0:" H_EMPTY "\n", 1, 71, fp);
		fclose(fp);
		chmod(hf, 0600);
	}
	text = fmt("hostname = \"gw\"\nntlm { domain = \"X\" hashfile = \"%s\" "
	    "}\n", hf);
	want = fmt("%s:2: contains a NUL byte", hf);
	CHECK(fails_f("e.conf", text, want), "NUL: %s", errbuf);
	unlink(hf);
	free(hf);
}

/*
 * The ldap section: a good one (defaults, URI list, relative password
 * file, the password without its newline), and each error at its line;
 * the password never appears in a message.
 */
static void
test_ldap(void)
{
	struct config	*c;
	char		*pw, *text, *want, *rel, *dir;
	size_t		 i;
	static const struct {
		const char	*opt;	/* one line inside ldap { } */
		const char	*msg;	/* after "l.conf:3: " */
	} bad[] = {
		{ "uri = {\"http://dc1\"}", "uri: 'http://dc1' is not "
		    "ldap://host[:port] or ldaps://host[:port]" },
		{ "uri = {\"ldap://dc1:0\"}", "uri: 'ldap://dc1:0' is not" },
		{ "uri = {\"ldap://dc1:70000\"}", "uri: 'ldap://dc1:70000'" },
		{ "uri = {\"ldap://dc1/dc=x\"}", "uri: 'ldap://dc1/dc=x'" },
		{ "uri = {\"ldap://[::1\"}", "uri: 'ldap://[::1' is not" },
		{ "uri = {\"ldap://\"}", "uri: 'ldap://' is not" },
		{ "bind_dn = \"\"", "bind_dn: must be a DN" },
		{ "base_dn = \"dc=a\tb\"", "base_dn: must be a DN" },
		{ "user_filter = \"uid=%u\"", "user_filter: 'uid=%u': must "
		    "start with '(' and end with ')'" },
		{ "user_filter = \"(uid=alice)\"", "user_filter: "
		    "'(uid=alice)': must contain %u, %p or %m (the user)" },
		{ "user_filter = \"(uid=%s)\"", "user_filter: '(uid=%s)': "
		    "only %u, %d, %p, %m and %% may follow '%'" },
		{ "user_filter = \"(uid=%u))(b=1)\"", "user_filter: "
		    "'(uid=%u))(b=1)': more than one filter" },
		{ "user_filter = \"(uid=%u)(cn=%u)\"", "user_filter: "
		    "'(uid=%u)(cn=%u)': more than one filter" },
		{ "user_filter = \"((uid=%u)\"", "user_filter: "
		    "'((uid=%u)': unbalanced parentheses" },
		{ "hash_attribute = \"samba NT\"", "hash_attribute: "
		    "'samba NT' is not an attribute name" },
		{ "hash_attribute = \"1..2\"", "hash_attribute: '1..2'" },
		{ "timeout = 0", "timeout: 0 is out of range (0.001..300)" },
		{ "timeout = 301", "timeout: 301 is out of range" },
		{ "tls_ca_file = \"/nonexistent/ca.pem\"", "ldap tls_ca_file "
		    "/nonexistent/ca.pem: No such file or directory" },
		{ "tls_ca_file = \"/tmp\"", "ldap tls_ca_file /tmp: not a "
		    "regular file" },
	};

	pw = hashfile_with("S3cret-bind\n", 0640);
	text = fmt("hostname = \"gw\"\n"
	    "ntlm { domain = \"X\" backend = ldap }\n"
	    "ldap {\n"
	    "  uri = {\"ldap://127.0.0.1:3389\", \"ldaps://dc2.example.test\","
	    " \"ldap://[::1]:389/\"}\n"
	    "  bind_dn = \"cn=proxy,dc=example,dc=test\"\n"
	    "  bind_password_file = \"%s\"\n"
	    "  base_dn = \"dc=example,dc=test\"\n"
	    "}\n", pw);
	c = load("l.conf", text);
	free(text);
	CHECK(c != NULL, "ldap config: %s", errbuf);
	if (c != NULL) {
		CHECK(c->ldap.enabled && c->ntlm.backend == NTLM_BACKEND_LDAP,
		    "enabled, backend ldap");
		CHECK(c->ldap.nuris == 3 && strcmp(c->ldap.uri_list,
		    "ldap://127.0.0.1:3389 ldaps://dc2.example.test "
		    "ldap://[::1]:389/") == 0, "uri list %s", c->ldap.uri_list);
		CHECK(strcmp(c->ldap.bind_dn, "cn=proxy,dc=example,dc=test") ==
		    0 && strcmp(c->ldap.base_dn, "dc=example,dc=test") == 0,
		    "dns");
		CHECK(c->ldap.bind_password_len == 11 &&
		    strcmp(c->ldap.bind_password, "S3cret-bind") == 0,
		    "password without its newline");
		CHECK(strcmp(c->ldap.user_filter, "(uid=%u)") == 0 &&
		    strcmp(c->ldap.hash_attribute, "sambaNTPassword") == 0 &&
		    c->ldap.timeout == 5000 && c->ldap.tls_ca_file == NULL,
		    "defaults");
		conf_unref(c);
	}

	/* Options set; a relative password file; CR LF; %d and %%. */
	rel = tmpfile_with("");
	dir = hashfile_with("pw with spaces\r\nsecond line\n", 0600);
	text = fmt("hostname = \"gw\"\nldap { uri = {\"ldap://dc1\"} "
	    "bind_dn = \"cn=p\" base_dn = \"o=x\"\n"
	    "bind_password_file = \"%s\"\n"
	    "user_filter = \"(&(objectClass=user)(sAMAccountName=%%u)"
	    "(d=%%d)(p=100%%%%))\"\n hash_attribute = \"1.2.3.4\" "
	    "timeout = 0.25 }\n", strrchr(dir, '/') + 1);
	{
		FILE	*fp = fopen(rel, "w");

		fputs(text, fp);
		fclose(fp);
	}
	free(text);
	c = load(rel, NULL);
	CHECK(c != NULL, "ldap options: %s", errbuf);
	if (c != NULL) {
		CHECK(strcmp(c->ldap.bind_password_file, dir) == 0 &&
		    strcmp(c->ldap.bind_password, "pw with spaces") == 0,
		    "relative file %s, first line", c->ldap.bind_password_file);
		CHECK(c->ldap.timeout == 250 && strcmp(c->ldap.hash_attribute,
		    "1.2.3.4") == 0 && !c->ntlm.enabled, "options");
		conf_unref(c);
	}
	unlink(rel);
	free(rel);
	unlink(dir);
	free(dir);

	/* Each bad option, at its line. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = fmt("hostname = \"gw\"\nldap { uri = {\"ldap://a\"}\n"
		    "%s\nbind_dn = \"cn=p\" base_dn = \"o=x\" "
		    "bind_password_file = \"%s\" }\n", bad[i].opt, pw);
		want = fmt("l.conf:3: %s", bad[i].msg);
		CHECK(fails_f("l.conf", text, want), "case %zu: %s", i, errbuf);
	}

	/* The section's shape, at its closing brace. */
	CHECK(fails("l.conf", "ldap {\n}\n", "l.conf:2: ldap: uri is "
	    "required") && has_line(errbuf, "l.conf:2: ldap: base_dn is "
	    "required") && has_line(errbuf, "l.conf:2: ldap: bind_dn is "
	    "required") && has_line(errbuf, "l.conf:2: ldap: "
	    "bind_password_file is required"), "required: %s", errbuf);
	text = fmt("ldap { uri = {\"ldap://a\"} bind_dn = \"cn=p\" "
	    "base_dn = \"o=x\" bind_password_file = \"%s\" }\n"
	    "ldap { uri = {\"ldap://b\"} }\n", pw);
	CHECK(fails_f("l.conf", text, strdup("l.conf:2: ldap: section given "
	    "twice (first ended at l.conf:1)")), "twice: %s", errbuf);

	/* The password file: mode, empty, missing; never the password. */
	chmod(pw, 0604);
	text = fmt("hostname = \"gw\"\nldap { uri = {\"ldap://a\"} "
	    "bind_dn = \"cn=p\" base_dn = \"o=x\"\n"
	    "bind_password_file = \"%s\" }\n", pw);
	want = fmt("l.conf:3: ldap bind_password_file %s: others have access "
	    "to it (mode 0604); chmod o-rwx it", pw);
	CHECK(fails("l.conf", text, want) && strcmp(errbuf, want) == 0,
	    "mode: %s", errbuf);
	CHECK(strstr(errbuf, "S3cret") == NULL, "no password in %s", errbuf);
	free(want);
	chmod(pw, 0600);
	truncate(pw, 0);
	want = fmt("l.conf:3: ldap bind_password_file %s: empty", pw);
	CHECK(fails_f("l.conf", strdup(text), want), "empty: %s", errbuf);
	{
		FILE	*fp = fopen(pw, "w");

		fputs("\n", fp);
		fclose(fp);
	}
	want = fmt("l.conf:3: ldap bind_password_file %s: empty", pw);
	CHECK(fails_f("l.conf", strdup(text), want), "newline only: %s",
	    errbuf);
	unlink(pw);
	want = fmt("l.conf:3: ldap bind_password_file %s: cannot open: No "
	    "such file", pw);
	CHECK(fails_f("l.conf", text, want), "missing: %s", errbuf);
	free(pw);

	/* backend ldap needs the section; the section alone is fine. */
	CHECK(fails("l.conf", "ntlm { domain = \"X\"\n backend = ldap }\n"
	    "hostname = \"gw\"\n", "l.conf:2: ntlm backend ldap needs an "
	    "ldap section"), "needs section: %s", errbuf);
}

/*
 * A keytab (MIT's FILE format, version 0x502) holding one AES256 key of
 * service/host@REALM, written by hand so the test needs no KDC.
 */
static char *
keytab_with(const char *service, const char *host, const char *realm,
    mode_t mode)
{
	unsigned char	 buf[512], *e = buf;
	const char	*parts[3] = { realm, service, host };
	size_t		 i, len;
	char		 tmpl[] = "/tmp/t_conf_kt.XXXXXX";
	int		 fd;

	*e++ = 0x05;
	*e++ = 0x02;
	e += 4;				/* entry size, below */
	*e++ = 0;
	*e++ = 2;			/* components, realm not counted */
	for (i = 0; i < 3; i++) {
		len = strlen(parts[i]);
		*e++ = (unsigned char)(len >> 8);
		*e++ = (unsigned char)len;
		memcpy(e, parts[i], len);
		e += len;
	}
	memcpy(e, "\0\0\0\3", 4);	/* KRB5_NT_SRV_HST */
	e += 4;
	memcpy(e, "\x5f\x00\x00\x00", 4);	/* timestamp */
	e += 4;
	*e++ = 2;			/* kvno */
	*e++ = 0;
	*e++ = 18;			/* aes256-cts-hmac-sha1-96 */
	*e++ = 0;
	*e++ = 32;
	memset(e, 0x11, 32);
	e += 32;
	len = (size_t)(e - buf) - 6;
	buf[2] = buf[3] = 0;
	buf[4] = (unsigned char)(len >> 8);
	buf[5] = (unsigned char)len;
	if ((fd = mkstemp(tmpl)) == -1 || fchmod(fd, mode) == -1 ||
	    write(fd, buf, (size_t)(e - buf)) != e - buf) {
		perror("keytab");
		exit(2);
	}
	close(fd);
	return (strdup(tmpl));
}

static void
test_negotiate(void)
{
	struct config	*c;
	char		*kt, *kt644, *empty, *text;

	kt = keytab_with("HTTP", "proxy.example.test", "EXAMPLE.TEST", 0600);
	kt644 = keytab_with("HTTP", "proxy.example.test", "EXAMPLE.TEST",
	    0644);
	empty = hashfile_with("", 0600);

	text = fmt("negotiate {\n keytab = \"%s\"\n"
	    " strip_realm = yes\n realm_map = {\"EXAMPLE.TEST=example\"}\n"
	    " threads = 3\n}\nnetwork \"o\" { src = {\"::1\"} "
	    "auth = {negotiate, ntlm} }\nntlm { domain = \"E\" "
	    "backend = winbind }\n", kt);
	c = load("n.conf", text);
	free(text);
	CHECK(c != NULL, "good negotiate: %s", errbuf);
	if (c != NULL) {
		CHECK(c->negotiate.enabled && c->negotiate.cred != NULL,
		    "credential acquired");
		CHECK(c->negotiate.strip_realm == 1, "strip_realm yes");
		CHECK(c->negotiate.threads == 3, "threads %d",
		    c->negotiate.threads);
		CHECK(c->negotiate.queue == 1024, "queue default %d",
		    c->negotiate.queue);
		CHECK(c->negotiate.nrealms == 1 && strcmp(
		    c->negotiate.realms[0].realm, "EXAMPLE.TEST") == 0 &&
		    strcmp(c->negotiate.realms[0].domain, "EXAMPLE") == 0,
		    "realm_map");
		CHECK(c->networks[0].auth == (AUTH_NEGOTIATE | AUTH_NTLM),
		    "auth bits %x", c->networks[0].auth);
		conf_unref(c);
	}
	text = fmt("negotiate { keytab = \"%s\" principal = "
	    "\"HTTP/proxy.example.test@EXAMPLE.TEST\" }\n", kt);
	c = load("n.conf", text);
	free(text);
	CHECK(c != NULL && c->negotiate.threads >= 2 &&
	    c->negotiate.strip_realm == 0, "named principal: %s", errbuf);
	if (c != NULL)
		conf_unref(c);

	CHECK(fails("n.conf", "negotiate {\n threads = 2\n}\n",
	    "n.conf:3: negotiate: keytab is required"), "no keytab: %s",
	    errbuf);
	CHECK(fails_f("n.conf", fmt("negotiate {\n keytab = \"%s\"\n "
	    "principal = \"HTTP/other.example.test@EXAMPLE.TEST\"\n}\n", kt),
	    fmt("n.conf:2: negotiate keytab %s: holds no key of "
	    "HTTP/other.example.test@EXAMPLE.TEST (it has keys of "
	    "HTTP/proxy.example.test@EXAMPLE.TEST)", kt)),
	    "principal not in keytab: %s", errbuf);
	CHECK(fails_f("n.conf", fmt("negotiate {\n keytab = \"%s\"\n}\n",
	    kt644), fmt("n.conf:2: negotiate keytab %s: others have access "
	    "to it (mode 0644); chmod o-rwx it", kt644)),
	    "world-readable keytab: %s", errbuf);
	CHECK(fails("n.conf", "negotiate {\n keytab = \"/nonexistent/kt\"\n"
	    "}\n", "n.conf:2: negotiate keytab /nonexistent/kt: cannot open: "
	    "No such file"), "missing keytab: %s", errbuf);
	CHECK(fails_f("n.conf", fmt("negotiate {\n keytab = \"%s\"\n}\n",
	    empty), fmt("n.conf:2: negotiate keytab %s: ", empty)),
	    "empty keytab: %s", errbuf);
	CHECK(fails_f("n.conf", fmt("negotiate { keytab = \"%s\"\n"
	    " strip_realm = maybe }\n", kt), strdup("n.conf:2: strip_realm: "
	    "'maybe' is not true or false")), "bad bool: %s", errbuf);
	CHECK(fails_f("n.conf", fmt("negotiate { keytab = \"%s\"\n"
	    " realm_map = {\"EXAMPLE.TEST\"} }\n", kt), strdup("n.conf:2: "
	    "realm_map: 'EXAMPLE.TEST' is not REALM=DOMAIN")),
	    "bad realm_map: %s", errbuf);
	CHECK(fails_f("n.conf", fmt("negotiate { keytab = \"%s\"\n"
	    " realm_map = {\"R=NOT A NAME\"} }\n", kt), strdup("n.conf:2: "
	    "realm_map: 'R=NOT A NAME' is not REALM=DOMAIN")),
	    "bad realm_map domain: %s", errbuf);
	CHECK(fails_f("n.conf", fmt("negotiate { keytab = \"%s\"\n"
	    " principal = \"HTTP/a b\" }\n", kt), strdup("n.conf:2: "
	    "principal: 'HTTP/a b' is not a Kerberos principal")),
	    "bad principal: %s", errbuf);
	CHECK(fails_f("n.conf", fmt("negotiate { keytab = \"%s\" }\n"
	    "negotiate { keytab = \"%s\" }\n", kt, kt), strdup("n.conf:2: "
	    "negotiate: section given twice")), "twice: %s", errbuf);
	unlink(kt);
	unlink(kt644);
	unlink(empty);
	free(kt);
	free(kt644);
	free(empty);
}

/*
 * The group options of the ldap section and admin_socket: defaults (no
 * group lookups), every option set, %p and %m filters, and each error at
 * its line.
 */
static void
test_groups(void)
{
	struct config	*c;
	char		*pw, *text, *want;
	size_t		 i;
	static const struct {
		const char	*opt;	/* one line inside ldap { } */
		const char	*msg;	/* after "g.conf:3: " */
	} bad[] = {
		{ "group_mode = nested", "group_mode: 'nested' is not none, ad, "
		    "memberof or member" },
		{ "directory_failure = maybe", "directory_failure: 'maybe' is "
		    "not deny or allow" },
		{ "starttls = sometimes", "starttls: 'sometimes' is not true or "
		    "false" },
		{ "max_depth = 65", "max_depth: 65 is out of range (0..64)" },
		{ "cache_ttl = -1", "cache_ttl: -1 is out of range" },
		{ "negative_ttl = 86401", "negative_ttl: 86401 is out of range" },
		{ "cache_size = 0", "cache_size: 0 is out of range "
		    "(1..10000000)" },
		{ "refresh_ahead = x", "refresh_ahead: 'x' is not a number" },
		{ "group_base_dn = \"\"", "group_base_dn: must be a DN" },
		{ "stale_ttl = 100", "ldap stale_ttl (100) must be 0 (never "
		    "serve stale groups) or at least cache_ttl (300)" },
		{ "user_filter = \"(cn=%d)\"", "user_filter: '(cn=%d)': must "
		    "contain %u, %p or %m (the user)" },
	};

	pw = hashfile_with("S3cret-bind\n", 0600);
	/* Defaults: no group lookups, so older configs mean what they did. */
	text = fmt("hostname = \"gw\"\nldap { uri = {\"ldap://a\"} "
	    "bind_dn = \"cn=p\" base_dn = \"dc=example,dc=test\" "
	    "bind_password_file = \"%s\" }\n", pw);
	c = load("g.conf", text);
	free(text);
	CHECK(c != NULL, "defaults: %s", errbuf);
	if (c != NULL) {
		CHECK(c->ldap.group_mode == GROUP_MODE_NONE && !c->ldap.starttls &&
		    c->ldap.max_depth == 8 && c->ldap.cache_ttl == 300 &&
		    c->ldap.negative_ttl == 60 && c->ldap.stale_ttl == 3600 &&
		    c->ldap.refresh_ahead == 30 && c->ldap.cache_size == 100000 &&
		    c->ldap.directory_failure == DIR_FAILURE_DENY,
		    "group defaults");
		CHECK(strcmp(c->ldap.group_base_dn, "dc=example,dc=test") == 0,
		    "group_base_dn defaults to base_dn");
		CHECK(c->admin_socket == NULL, "no admin socket");
		conf_unref(c);
	}

	/* Everything set; a UPN filter; stale_ttl 0 (never stale). */
	text = fmt("hostname = \"gw\"\nadmin_socket = \"/run/iaproxy/a.sock\"\n"
	    "ldap { uri = {\"ldap://a\", \"ldap://b\"} bind_dn = \"cn=p\" "
	    "base_dn = \"dc=ad,dc=test\" bind_password_file = \"%s\"\n"
	    "user_filter = \"(|(userPrincipalName=%%p)(mail=%%m))\"\n"
	    "group_mode = ad group_base_dn = \"ou=groups,dc=ad,dc=test\"\n"
	    "max_depth = 0 cache_ttl = 20 negative_ttl = 5 stale_ttl = 0\n"
	    "refresh_ahead = 0 cache_size = 7 directory_failure = allow\n"
	    "starttls = true }\n", pw);
	c = load("g.conf", text);
	free(text);
	CHECK(c != NULL, "all set: %s", errbuf);
	if (c != NULL) {
		CHECK(c->ldap.group_mode == GROUP_MODE_AD && c->ldap.starttls &&
		    c->ldap.max_depth == 0 && c->ldap.cache_ttl == 20 &&
		    c->ldap.negative_ttl == 5 && c->ldap.stale_ttl == 0 &&
		    c->ldap.refresh_ahead == 0 && c->ldap.cache_size == 7 &&
		    c->ldap.directory_failure == DIR_FAILURE_ALLOW, "values");
		CHECK(strcmp(c->ldap.group_base_dn, "ou=groups,dc=ad,dc=test") ==
		    0, "group_base_dn");
		CHECK(c->admin_socket != NULL && strcmp(c->admin_socket,
		    "/run/iaproxy/a.sock") == 0, "admin_socket");
		conf_unref(c);
	}
	for (i = 0; i < 3; i++) {
		static const char *modes[3] = { "memberof", "member", "none" };
		static const int want_mode[3] = { GROUP_MODE_MEMBEROF,
		    GROUP_MODE_MEMBER, GROUP_MODE_NONE };

		text = fmt("hostname = \"gw\"\nldap { uri = {\"ldap://a\"} "
		    "bind_dn = \"cn=p\" base_dn = \"o=x\" group_mode = %s "
		    "bind_password_file = \"%s\" }\n", modes[i], pw);
		c = load("g.conf", text);
		free(text);
		CHECK(c != NULL && c->ldap.group_mode == want_mode[i],
		    "group_mode %s: %s", modes[i], errbuf);
		conf_unref(c);
	}

	/* Each bad option, at its line. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = fmt("hostname = \"gw\"\nldap { uri = {\"ldap://a\"}\n"
		    "%s\nbind_dn = \"cn=p\" base_dn = \"o=x\" "
		    "bind_password_file = \"%s\" }\n", bad[i].opt, pw);
		want = fmt("g.conf:3: %s", bad[i].msg);
		CHECK(fails_f("g.conf", text, want), "case %zu: %s", i, errbuf);
	}
	/* StartTLS inside ldaps:// would be TLS twice. */
	text = fmt("hostname = \"gw\"\nldap { uri = {\"ldap://a\", "
	    "\"ldaps://b\"}\nstarttls = yes\nbind_dn = \"cn=p\" "
	    "base_dn = \"o=x\" bind_password_file = \"%s\" }\n", pw);
	CHECK(fails_f("g.conf", text, strdup("g.conf:3: ldap starttls cannot "
	    "be used with ldaps://b (ldaps:// is TLS already)")), "starttls: "
	    "%s", errbuf);
	/* admin_socket: absolute and short enough for sun_path. */
	CHECK(fails("g.conf", "hostname = \"gw\"\nadmin_socket = \"admin.sock\"\n",
	    "g.conf:2: admin_socket: 'admin.sock' must be an absolute path"),
	    "relative admin_socket: %s", errbuf);
	text = fmt("hostname = \"gw\"\nadmin_socket = \"/%0120d\"\n", 0);
	CHECK(fails_f("g.conf", text, strdup("g.conf:2: admin_socket: '/")),
	    "long admin_socket: %s", errbuf);
	unlink(pw);
	free(pw);
}

/* Decide a plain GET of url for user (may be NULL) under c's policy. */
static const char *
decide_get(const struct config *c, const char *user, const char *host,
    const char *url, struct policy_decision *d)
{
	struct policy_request	 req;

	memset(&req, 0, sizeof(req));
	req.user = user;
	req.method = "GET";
	req.scheme = POLICY_SCHEME_HTTP;
	req.host = host;
	req.port = 80;
	req.url = url;
	req.src = sa4("10.1.2.3");
	req.network = "office";
	req.now = 1774864800;	/* Mon 2026-03-30 10:00 UTC */
	req.mode = POLICY_RQ_PROXY;
	policy_decide(c->policy, &req, d);
	return (d->rule_name);
}

/* The policy blocks: rules, categories, schedules, and their errors. */
static void
test_policy(void)
{
	struct config		*c;
	struct policy_decision	 d;
	char			*lst, *text;

	/* No rule at all: a policy that lets everything through. */
	c = load("p.conf", "hostname = \"gw\"\n");
	CHECK(c != NULL && c->policy != NULL && policy_nrules(c->policy) ==
	    0, "empty policy: %s", errbuf);
	if (c != NULL) {
		decide_get(c, NULL, "x.test", "http://x.test/", &d);
		CHECK(d.action == POLICY_ALLOW && d.rule == -1, "allow all");
		conf_unref(c);
	}

	lst = tmpfile_with("# gambling\nbet.test\n*.casino.test\n");
	text = fmt("hostname = \"gw\"\n"
	    "network \"office\" { src = {\"10.0.0.0/8\"} auth = {none} }\n"
	    "category \"gambling\" { domains_file = {\"%s\"} }\n"
	    "schedule \"always\" { days = {mon-sun} times = {00:00-24:00}\n"
	    "  timezone = \"UTC\" }\n"
	    "warn_ttl = 60\n"
	    "rule \"watch\" { dst_domain = {.casino.test} action = monitor }\n"
	    "rule \"no gambling\" {\n  category = {gambling}\n"
	    "  not_user = {boss}\n  schedule = {always}\n  action = block\n}\n"
	    "rule \"careful\" { url_regex = {\"/risky\"} action = warn "
	    "warn_ttl = 30 }\n"
	    "rule \"updates\" { dst_domain = {upd.test} auth = none "
	    "action = allow }\n"
	    "default_action = allow\n", lst);
	c = load("p.conf", text);
	CHECK(c != NULL, "policy loads: %s", errbuf);
	if (c != NULL) {
		CHECK(policy_nrules(c->policy) == 4, "4 rules");
		CHECK(strcmp(decide_get(c, "alice", "www.bet.test",
		    "http://www.bet.test/", &d), "no gambling") == 0 &&
		    d.action == POLICY_BLOCK && d.line == 9,
		    "category block at line 9: %s %d", d.rule_name, d.line);
		CHECK(strcmp(decide_get(c, "boss", "bet.test",
		    "http://bet.test/", &d), "default") == 0, "not_user");
		/* monitor goes on: the block rule after it still blocks. */
		decide_get(c, "alice", "a.casino.test", "http://a.casino.test/",
		    &d);
		CHECK(d.action == POLICY_BLOCK && d.monitor_rule == 0 &&
		    strcmp(d.rule_name, "no gambling") == 0,
		    "monitor then block: %s", d.rule_name);
		decide_get(c, "alice", "x.test", "http://x.test/risky", &d);
		CHECK(d.action == POLICY_WARN && d.warn_ttl == 30, "warn %d %ld",
		    d.action, d.warn_ttl);
		conf_unref(c);
	}
	free(text);

	/* Errors: each at the line of the value that is wrong. */
	CHECK(fails("e.conf", "hostname = \"gw\"\nrule \"a\" {\n"
	    "  network = {nowhere}\n  action = block\n}\n",
	    "e.conf:3: rule 'a': network: unknown network 'nowhere'"),
	    "unknown network: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"gw\"\nrule \"a\" {\n"
	    "  action = block\n  category = {nocat}\n}\n",
	    "e.conf:4: rule 'a': category: unknown category 'nocat'"),
	    "unknown category: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"gw\"\nrule \"a\" {\n"
	    "  schedule = {never}  action = block\n}\n",
	    "e.conf:3: rule 'a': schedule: unknown schedule 'never'"),
	    "unknown schedule: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"gw\"\n\nrule \"a\" {\n"
	    "  url_regex = {\"a(b\"}  action = block\n}\n",
	    "e.conf:4: rule 'a': url_regex: bad regex 'a(b'"),
	    "bad regex: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"gw\"\nschedule \"s\" {\n"
	    "  times = {\"18:00-25:00\"}\n}\n",
	    "e.conf:3: schedule 's': bad time range '18:00-25:00'"),
	    "bad time range: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"gw\"\nrule \"a\" {\n"
	    "  dst_domain = {x.test}\n}\n",
	    "e.conf:4: rule 'a': action is required"), "no action: %s",
	    errbuf);
	CHECK(fails("e.conf", "hostname = \"gw\"\nrule \"a\" { action = "
	    "deny }\n", "e.conf:2: rule 'a': action: 'deny' is not allow"),
	    "bad action: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"gw\"\nrule \"a\" { action = allow }\n"
	    "rule \"a\" { action = block }\n",
	    "e.conf:3: rule 'a' is defined twice"), "duplicate rule: %s",
	    errbuf);
	CHECK(fails("e.conf", "hostname = \"gw\"\ndefault_action = monitor\n",
	    "e.conf:2: default_action: 'monitor' is not allow, block or warn"),
	    "default monitor: %s", errbuf);
	CHECK(fails("e.conf", "hostname = \"gw\"\ncategory \"c\" {\n"
	    "  domains_file = {\"/nonexistent/list\"}\n}\n",
	    "e.conf:3: "), "missing list file: %s", errbuf);
	/* The other errors of the file come out too. */
	c = load("e.conf", "hostname = \"gw\"\nmax_line_bytes = 200000\n"
	    "rule \"a\" { network = {x} action = block }\n");
	CHECK(c == NULL && has_line(errbuf, "e.conf:3: rule 'a': network") &&
	    has_line(errbuf, "e.conf:2: max_line_bytes"), "both: %s", errbuf);
	unlink(lst);
	free(lst);

	/* pac: bypass_* and direct_* are one list. */
	c = load("p.conf", "hostname = \"gw\"\npac { direct_domains = "
	    "{\".a.test\"} bypass_domains = {\"b.test\"}\n"
	    "bypass_networks = {\"10.0.0.0/8\"} direct_networks = "
	    "{\"192.168.0.0/16\"} }\n");
	CHECK(c != NULL && c->pac_ndirect_domains == 2 &&
	    c->pac_ndirect_networks == 2, "pac bypass merged: %s", errbuf);
	if (c != NULL)
		conf_unref(c);
}

/*
 * The admin listener (loopback only, with a secret token file), access_log
 * to syslog, state_dir, and the risk blocks: values, defaults, and the
 * errors with their lines.
 */
static void
test_admin_risk(void)
{
	struct config	*c;
	char		*tok, *text;

	c = load("d.conf", "");
	CHECK(c != NULL, "empty: %s", errbuf);
	if (c != NULL) {
		CHECK(c->admin_listen == NULL, "no admin listener");
		CHECK(c->access_syslog == -1, "no syslog");
		CHECK(strcmp(c->state_dir, "/var/lib/iaproxy") == 0,
		    "state_dir default %s", c->state_dir);
		CHECK(strcmp(c->syslog_socket, "/dev/log") == 0,
		    "syslog_socket default");
		CHECK(c->nrisks == 0 && c->risk_max_users == 100000,
		    "no risk rules");
		conf_unref(c);
	}
	tok = hashfile_with("0123456789abcdef0123\n", 0600);
	text = fmt("admin_listen = \"127.0.0.1:9911\"\n"
	    "admin_token_file = \"%s\"\naccess_log = \"syslog:local4\"\n"
	    "state_dir = \"/tmp/x\"\n"
	    "category \"malware\" { domains = {\"bad.test\"} }\n"
	    "risk \"three\" { when = blocked  category = {malware}\n"
	    "  count = 3  within = 600  action = signout }\n"
	    "risk \"two\" { when = {block, monitor}  action = reset-password\n"
	    "  directory = true }\n", tok);
	c = load("a.conf", text);
	CHECK(c != NULL, "admin and risk: %s", errbuf);
	if (c != NULL) {
		CHECK(c->admin_listen != NULL && strcmp(c->admin_listen->text,
		    "127.0.0.1:9911") == 0, "admin_listen");
		CHECK(c->admin_token_len == 20 && memcmp(c->admin_token,
		    "0123456789abcdef0123", 20) == 0, "token read, no newline");
		CHECK(c->access_syslog == LOG_LOCAL4, "syslog facility");
		CHECK(c->nrisks == 2, "two risk rules");
		if (c->nrisks == 2) {
			CHECK(strcmp(c->risks[0].name, "three") == 0 &&
			    c->risks[0].when == RISK_WHEN_BLOCK &&
			    c->risks[0].ncategories == 1 &&
			    strcmp(c->risks[0].categories[0], "malware") == 0 &&
			    c->risks[0].count == 3 && c->risks[0].within == 600 &&
			    c->risks[0].action == ACCOUNT_SIGNOUT &&
			    !c->risks[0].directory, "first risk rule");
			CHECK(c->risks[1].when == (RISK_WHEN_BLOCK |
			    RISK_WHEN_MONITOR) && c->risks[1].action ==
			    ACCOUNT_RESET_PASSWORD && c->risks[1].directory &&
			    c->risks[1].count == 3 && c->risks[1].within == 600,
			    "second risk rule, defaults");
		}
		conf_unref(c);
	}
	free(text);
	c = load("e.conf", "access_log = \"syslog\"\n");
	CHECK(c != NULL && c->access_syslog == LOG_DAEMON, "syslog: daemon");
	if (c != NULL)
		conf_unref(c);
	CHECK(fails("e.conf", "\naccess_log = \"syslog:kern\"\n",
	    "e.conf:2: access_log: 'syslog:kern': the syslog facility"),
	    "bad facility: %s", errbuf);
	CHECK(fails("e.conf", "admin_listen = \"0.0.0.0:9911\"\n",
	    "e.conf:1: admin_listen: '0.0.0.0:9911' is not a loopback"),
	    "not loopback: %s", errbuf);
	CHECK(fails("e.conf", "\nadmin_listen = \"127.0.0.1:9911\"\n",
	    "e.conf:2: admin_listen: needs admin_token_file"),
	    "no token: %s", errbuf);
	text = fmt("admin_token_file = \"%s\"\n", tok);
	CHECK(fails("e.conf", text, "e.conf:1: admin_token_file: set, but"),
	    "token without listener: %s", errbuf);
	free(text);
	chmod(tok, 0604);
	text = fmt("admin_listen = \"[::1]:9911\"\n\nadmin_token_file = "
	    "\"%s\"\n", tok);
	CHECK(fails("e.conf", text, "e.conf:3: admin_token_file ") &&
	    strstr(errbuf, "others have access") != NULL,
	    "token readable by others: %s", errbuf);
	free(text);
	unlink(tok);
	free(tok);
	tok = hashfile_with("short\n", 0600);
	text = fmt("admin_listen = \"[::1]:9911\"\nadmin_token_file = "
	    "\"%s\"\n", tok);
	CHECK(fails("e.conf", text, "e.conf:2: admin_token_file ") &&
	    strstr(errbuf, "at least 16 bytes") != NULL, "short token: %s",
	    errbuf);
	free(text);
	unlink(tok);
	free(tok);
	CHECK(fails("e.conf", "risk \"r\" {\n  when = {sometimes}\n}\n",
	    "e.conf:2: when: 'sometimes' is not block, warn, monitor or "
	    "allow"), "bad when: %s", errbuf);
	CHECK(fails("e.conf", "risk \"r\" { when = block\n  action = nuke }\n",
	    "e.conf:2: action: 'nuke' is not signout, disable or "
	    "reset-password"), "bad action: %s", errbuf);
	CHECK(fails("e.conf", "risk \"r\" {\n  count = 3\n}\n",
	    "e.conf:3: risk 'r': when is required"), "no when: %s", errbuf);
	CHECK(fails("e.conf", "risk \"r\" { when = block\n  count = 0 }\n",
	    "e.conf:2: count: 0 is out of range (1..100000)"), "count 0: %s",
	    errbuf);
	CHECK(fails("e.conf", "risk \"r\" { when = block directory = true\n}\n",
	    "e.conf:2: risk 'r': directory = true needs action"),
	    "signout in the directory: %s", errbuf);
	CHECK(fails("e.conf", "\nrisk \"r\" { when = block\n"
	    "  category = {nosuch} }\n",
	    "e.conf:3: risk 'r': category 'nosuch' is not known"),
	    "unknown category: %s", errbuf);
	CHECK(fails("e.conf", "risk \"r\" { when = block }\n"
	    "risk \"r\" { when = warn }\n", "e.conf:2: "),
	    "two risk blocks of one name: %s", errbuf);
}

int
main(void)
{
	test_default();
	test_empty();
	test_good();
	test_errors();
	test_files();
	test_cidr();
	test_ntlm_good();
	test_network_for();
	test_network_errors();
	test_ntlm_errors();
	test_ldap();
	test_negotiate();
	test_groups();
	test_policy();
	test_admin_risk();
	return unit_done("t_conf");
}
