/*
 * Unit tests for conf/: the embedded default, every option with a good
 * value, the exact "FILE:LINE:" of each kind of error, include(), and the
 * CIDR parser and matcher.  Run under valgrind: every load, good or bad,
 * must free all it allocated.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
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
	CHECK(fails("e.conf", "\n\nntlm {\n}\n",
	    "e.conf:3: no such option 'ntlm'"), "unknown section: %s", errbuf);
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

int
main(void)
{
	test_default();
	test_empty();
	test_good();
	test_errors();
	test_files();
	test_cidr();
	return unit_done("t_conf");
}
