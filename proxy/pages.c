/*
 * The gateway's own pages: the PAC file browsers use to find the proxy, and
 * the small HTML error pages.  Everything here is built from the config and
 * from strings we chose ourselves; client-supplied text never reaches a
 * page unescaped.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "proxy.h"

const char *
pages_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 302: return "Found";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default:  return "Error";
	}
}

/* Append s with HTML metacharacters escaped. */
static void
html_escape(struct evbuffer *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': evbuffer_add(out, "&lt;", 4); break;
		case '>': evbuffer_add(out, "&gt;", 4); break;
		case '&': evbuffer_add(out, "&amp;", 5); break;
		case '"': evbuffer_add(out, "&quot;", 6); break;
		case '\'': evbuffer_add(out, "&#39;", 5); break;
		default:
			if ((unsigned char)*s >= 0x20 && *s != 0x7f)
				evbuffer_add(out, s, 1);
		}
	}
}

void
pages_error(const struct config *conf, int status, const char *reason,
    const char *detail, const char *extra, int keepalive,
    struct evbuffer *out)
{
	struct evbuffer	*body;
	const char	*text = pages_status_text(status);
	char		 hdrval[128];

	if ((body = evbuffer_new()) == NULL)
		return;
	evbuffer_add_printf(body, "<!DOCTYPE html>\n<html><head><meta "
	    "charset=\"utf-8\"><title>%d %s</title></head>\n<body>\n"
	    "<h1>%d %s</h1>\n<p>", status, text, status, text);
	html_escape(body, reason);
	evbuffer_add_printf(body, "</p>\n");
	if (detail != NULL && *detail != '\0') {
		evbuffer_add_printf(body, "<p>");
		html_escape(body, detail);
		evbuffer_add_printf(body, "</p>\n");
	}
	evbuffer_add_printf(body, "<hr><address>");
	html_escape(body, conf->hostname);
	evbuffer_add_printf(body, " (%s/%s)</address>\n</body></html>\n",
	    IAPROXY_NAME, PACKAGE_VERSION);

	/* The reason is one of our static strings; keep the header clean. */
	log_sanitize(hdrval, sizeof(hdrval), reason, strlen(reason));
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Iaproxy-Error: %s\r\n"
	    "%s%s"
	    "\r\n", status, text, evbuffer_get_length(body), hdrval,
	    extra ? extra : "", keepalive ? "" : "Connection: close\r\n");
	evbuffer_add_buffer(out, body);
	evbuffer_free(body);
}

/*
 * The way to the sign-in portal for a request with no identity: a 302
 * (plain HTTP, SAML only), or a 407 whose body is shown when the user
 * cancels the browser's password dialog (Negotiate or NTLM offered too).
 * Either way the page links to login and refreshes to it (HTML 4.01
 * meta refresh), so a browser that shows it lands in SAML sign-in.
 * login is ours (percent-encoded) but escaped anyway.
 */
void
pages_signin(const struct config *conf, int status, const char *login,
    const char *extra, int keepalive, struct evbuffer *out)
{
	struct evbuffer	*body;

	if ((body = evbuffer_new()) == NULL)
		return;
	evbuffer_add_printf(body, "<!DOCTYPE html>\n<html><head><meta "
	    "charset=\"utf-8\">\n<meta http-equiv=\"refresh\" "
	    "content=\"0; url=");
	html_escape(body, login);
	evbuffer_add_printf(body, "\">\n<title>Sign-in required</title>"
	    "</head>\n<body>\n<h1>Sign-in required</h1>\n<p>Sign in with "
	    "your organisation's account to use the web: <a href=\"");
	html_escape(body, login);
	evbuffer_add_printf(body, "\">sign in</a>.</p>\n<hr><address>");
	html_escape(body, conf->hostname);
	evbuffer_add_printf(body, " (%s/%s)</address>\n</body></html>\n",
	    IAPROXY_NAME, PACKAGE_VERSION);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Iaproxy-Error: sign-in required\r\n"
	    "%s%s%s%s%s"
	    "\r\n", status, pages_status_text(status),
	    evbuffer_get_length(body), status / 100 == 3 ? "Location: " : "",
	    status / 100 == 3 ? login : "", status / 100 == 3 ? "\r\n" : "",
	    extra ? extra : "", keepalive ? "" : "Connection: close\r\n");
	evbuffer_add_buffer(out, body);
	evbuffer_free(body);
}

/*
 * The policy's page: blocked (cont NULL) or a caution with a continue
 * link.  Every string that came from the request or the config is
 * escaped; the incident id and the link are ours.  403 either way, so a
 * script never takes the page for the content it asked for.
 */
void
pages_policy(const struct config *conf, const char *rule, const char *user,
    const char *url, const char *reason, const char *incident,
    const char *cont, int keepalive, struct evbuffer *out)
{
	struct evbuffer	*body;
	char		 hdrval[160], rl[128];
	const char	*title = cont != NULL ? "Caution" : "Access blocked";

	if ((body = evbuffer_new()) == NULL)
		return;
	evbuffer_add_printf(body, "<!DOCTYPE html>\n<html><head><meta "
	    "charset=\"utf-8\"><title>%s</title></head>\n<body>\n"
	    "<h1>%s</h1>\n<p>", title, title);
	if (cont != NULL)
		evbuffer_add_printf(body, "The page you asked for is covered "
		    "by the Internet access policy. You may go on if your "
		    "work needs it; your choice is recorded.");
	else
		evbuffer_add_printf(body, "The Internet access policy does "
		    "not allow this page.");
	evbuffer_add_printf(body, "</p>\n<table>\n<tr><th>URL</th><td>");
	html_escape(body, url != NULL ? url : "-");
	evbuffer_add_printf(body, "</td></tr>\n<tr><th>User</th><td>");
	html_escape(body, user != NULL ? user : "(not signed in)");
	evbuffer_add_printf(body, "</td></tr>\n<tr><th>Rule</th><td>");
	html_escape(body, rule);
	evbuffer_add_printf(body, "</td></tr>\n");
	if (reason != NULL && *reason != '\0') {
		evbuffer_add_printf(body, "<tr><th>Reason</th><td>");
		html_escape(body, reason);
		evbuffer_add_printf(body, "</td></tr>\n");
	}
	if (incident != NULL)
		evbuffer_add_printf(body, "<tr><th>Incident</th><td>%s</td>"
		    "</tr>\n", incident);
	evbuffer_add_printf(body, "</table>\n");
	if (cont != NULL) {
		evbuffer_add_printf(body, "<p><a href=\"");
		html_escape(body, cont);
		evbuffer_add_printf(body, "\">Continue to the page</a></p>\n");
	} else if (incident != NULL)
		evbuffer_add_printf(body, "<p>If you think this is a mistake, "
		    "tell your administrator the incident id.</p>\n");
	evbuffer_add_printf(body, "<hr><address>");
	html_escape(body, conf->hostname);
	evbuffer_add_printf(body, " (%s/%s)</address>\n</body></html>\n",
	    IAPROXY_NAME, PACKAGE_VERSION);

	log_sanitize(rl, sizeof(rl), rule, strlen(rule));
	snprintf(hdrval, sizeof(hdrval), "%s by rule '%s'", cont != NULL ?
	    "warned" : "blocked", rl);
	evbuffer_add_printf(out, "HTTP/1.1 403 Forbidden\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Iaproxy-Error: %s\r\n"
	    "%s%s%s"
	    "%s\r\n", evbuffer_get_length(body), hdrval,
	    incident != NULL ? "X-Iaproxy-Incident: " : "",
	    incident != NULL ? incident : "", incident != NULL ? "\r\n" : "",
	    keepalive ? "" : "Connection: close\r\n");
	evbuffer_add_buffer(out, body);
	evbuffer_free(body);
}

void
pages_pac(const struct config *conf, int port, struct evbuffer *out)
{
	char	 addr[INET6_ADDRSTRLEN], mask[INET6_ADDRSTRLEN];
	size_t	 i;

	/*
	 * The proxy is named by hostname, not address: Kerberos builds the
	 * SPN from the name the browser used.
	 */
	evbuffer_add_printf(out, "// Generated by %s for %s\n"
	    "function FindProxyForURL(url, host) {\n"
	    "  if (isPlainHostName(host))\n    return \"DIRECT\";\n",
	    IAPROXY_NAME, conf->hostname);
	/*
	 * The gateway's own pages (the continue links of caution pages,
	 * and the sign-in portal when there is one) are reached directly:
	 * the listener serves them to a browser as an origin server.
	 */
	evbuffer_add_printf(out, "  if (host == \"%s\")\n"
	    "    return \"DIRECT\";\n", conf->hostname);
	for (i = 0; i < conf->pac_ndirect_domains; i++) {
		const char *d = conf->pac_direct_domains[i];

		if (d[0] == '.')
			evbuffer_add_printf(out, "  if (dnsDomainIs(host, \"%s\")"
			    " || host == \"%s\")\n    return \"DIRECT\";\n",
			    d, d + 1);
		else
			evbuffer_add_printf(out, "  if (host == \"%s\")\n"
			    "    return \"DIRECT\";\n", d);
	}
	if (conf->pac_ndirect_networks > 0)
		evbuffer_add_printf(out, "  var ip = isResolvable(host) ? "
		    "dnsResolve(host) : \"\";\n");
	for (i = 0; i < conf->pac_ndirect_networks; i++) {
		const struct cidr *c = &conf->pac_direct_networks[i];
		uint8_t		 m[16];
		int		 b;

		if (c->family != AF_INET) {
			/* Classic PAC has no IPv6 test; isInNetEx does. */
			inet_ntop(AF_INET6, c->addr, addr, sizeof(addr));
			evbuffer_add_printf(out, "  if (typeof isInNetEx == "
			    "\"function\" && isInNetEx(host, \"%s/%d\"))\n"
			    "    return \"DIRECT\";\n", addr, c->prefix);
			continue;
		}
		memset(m, 0, sizeof(m));
		for (b = 0; b < c->prefix; b++)
			m[b / 8] |= 0x80 >> (b % 8);
		inet_ntop(AF_INET, c->addr, addr, sizeof(addr));
		inet_ntop(AF_INET, m, mask, sizeof(mask));
		evbuffer_add_printf(out, "  if (ip != \"\" && isInNet(ip, "
		    "\"%s\", \"%s\"))\n    return \"DIRECT\";\n", addr, mask);
	}
	evbuffer_add_printf(out, "  return \"PROXY %s:%d\";\n}\n",
	    conf->hostname, port);
}
