/*
 * The PAC file generated from config: the proxy named by hostname and the
 * listener's port, DIRECT for the configured domains and networks, and
 * nothing for a config that has none.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proxy.h"
#include "unit.h"

static char *
pac_for(const char *conftext, int port)
{
	struct config	*conf;
	struct evbuffer	*out;
	char		 err[2048], *s;
	size_t		 len;

	conf = conf_load("t_pac.conf", conftext, err, sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "config: %s\n", err);
		return NULL;
	}
	out = evbuffer_new();
	pages_pac(conf, port, out);
	len = evbuffer_get_length(out);
	s = malloc(len + 1);
	evbuffer_remove(out, s, len);
	s[len] = '\0';
	evbuffer_free(out);
	conf_unref(conf);
	return s;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

int
main(void)
{
	char *pac;

	pac = pac_for("hostname = \"gw.corp.test\"\n", 3128);
	CHECK(pac != NULL, "minimal config loads");
	if (pac != NULL) {
		CHECK(strstr(pac, "function FindProxyForURL(url, host)") != NULL,
		    "%s", pac);
		CHECK(strstr(pac, "return \"PROXY gw.corp.test:3128\";") != NULL,
		    "%s", pac);
		CHECK(count(pac, "DIRECT") == 2, "only plain host names and "
		    "the gateway itself go direct: %s", pac);
		CHECK(strstr(pac, "if (host == \"gw.corp.test\")\n"
		    "    return \"DIRECT\";") != NULL, "the gateway's own host "
		    "(its pages) goes direct: %s", pac);
		CHECK(strstr(pac, "isInNet") == NULL, "%s", pac);
		free(pac);
	}

	pac = pac_for("hostname = \"gw.corp.test\"\n"
	    "pac {\n"
	    "  direct_domains = {\".intranet.corp.test\", \"wiki.corp.test\"}\n"
	    "  direct_networks = {\"10.0.0.0/8\", \"192.168.1.0/24\", "
	    "\"fd00::/8\"}\n"
	    "}\n", 8080);
	CHECK(pac != NULL, "pac section loads");
	if (pac != NULL) {
		CHECK(strstr(pac, "PROXY gw.corp.test:8080") != NULL,
		    "the listener's port: %s", pac);
		CHECK(strstr(pac, "dnsDomainIs(host, \".intranet.corp.test\")")
		    != NULL, "suffix domain: %s", pac);
		CHECK(strstr(pac, "host == \"intranet.corp.test\"") != NULL,
		    "the suffix's own name goes direct too: %s", pac);
		CHECK(strstr(pac, "host == \"wiki.corp.test\"") != NULL,
		    "exact host: %s", pac);
		CHECK(strstr(pac, "dnsDomainIs(host, \"wiki") == NULL,
		    "an exact host is not a suffix: %s", pac);
		CHECK(strstr(pac, "isInNet(ip, \"10.0.0.0\", \"255.0.0.0\")")
		    != NULL, "v4 network with mask: %s", pac);
		CHECK(strstr(pac, "isInNet(ip, \"192.168.1.0\", "
		    "\"255.255.255.0\")") != NULL, "%s", pac);
		CHECK(strstr(pac, "isInNetEx(host, \"fd00::/8\")") != NULL,
		    "v6 network through isInNetEx: %s", pac);
		CHECK(count(pac, "return \"DIRECT\"") == 7, "seven DIRECT "
		    "branches (six bypasses and the gateway): %s", pac);
		free(pac);
	}
	return unit_done("t_pac");
}
