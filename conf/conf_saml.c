/*
 * The saml section's files and derived values, read at every load (-t,
 * start-up and reload) like the keytab: the portal URL taken apart, the
 * cookie key (a secret: a regular file "other" cannot access), and the
 * service provider itself (auth/saml_sp.c: key, certificate, the IdP's
 * metadata), so a bad key, a key that does not match its certificate or
 * metadata naming two IdPs fails the load and keeps the old config.
 *
 * Every message starts with the name of the option it is about
 * ("sp_key /etc/...: ..."): conf.c reports it at that option's
 * FILE:LINE.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "saml.h"

#define COOKIE_KEY_MIN	32	/* bytes: HMAC-SHA256 wants its size */
#define COOKIE_KEY_MAX	4096
#define PORTAL_ACS	"/iaproxy/saml/acs"

static void	 cs_why(char *, size_t, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));

static void
cs_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/*
 * portal: "http://host[:port]" or "https://host[:port]", a DNS name, an
 * IPv4 address or a bracketed IPv6 one, no user info, path, query or
 * fragment (a single trailing '/' is dropped).  The ACS, the login and
 * the whoami pages all hang off it, and the browser must see one host.
 */
static int
cs_portal(struct conf_saml *s, char *why, size_t whylen)
{
	char		*p = s->portal, *h, *e, *end;
	size_t		 len, i;
	long		 port;

	len = strlen(p);
	if (len > 0 && p[len - 1] == '/')
		p[--len] = '\0';
	if (strncasecmp(p, "https://", 8) == 0) {
		s->portal_https = 1;
		s->portal_port = 443;
		h = p + 8;
	} else if (strncasecmp(p, "http://", 7) == 0) {
		s->portal_https = 0;
		s->portal_port = 80;
		h = p + 7;
	} else
		goto bad;
	if (strpbrk(h, "/?#@ \\") != NULL)
		goto bad;
	if (*h == '[') {
		if ((e = strchr(h, ']')) == NULL || e == h + 1)
			goto bad;
		len = (size_t)(e - h + 1);
		e++;
	} else {
		e = h + strcspn(h, ":");
		len = (size_t)(e - h);
		for (i = 0; i < len; i++)
			if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
			    h[i] != '.')
				goto bad;
	}
	if (len == 0 || len > 253)
		goto bad;
	if (*e == ':') {
		port = strtol(e + 1, &end, 10);
		if (e[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
			goto bad;
		s->portal_port = (int)port;
	} else if (*e != '\0')
		goto bad;
	if ((s->portal_host = strndup(h, len)) == NULL)
		goto nomem;
	for (i = 0; i < len; i++)
		s->portal_host[i] = (char)tolower((unsigned char)
		    s->portal_host[i]);
	if (asprintf(&s->acs_url, "%s%s", s->portal, PORTAL_ACS) == -1) {
		s->acs_url = NULL;
		goto nomem;
	}
	return (0);
 bad:
	cs_why(why, whylen, "portal '%s' is not http(s)://host[:port] with "
	    "no path, query or user info", s->portal);
	return (-1);
 nomem:
	cs_why(why, whylen, "portal: out of memory");
	return (-1);
}

/*
 * The cookie key, read whole: a regular file others cannot access, of
 * COOKIE_KEY_MIN to COOKIE_KEY_MAX bytes (its bytes, not text).  The
 * copy lives in s->cookie_key, wiped by conf_saml_free().
 */
static int
cs_cookie_key(struct conf_saml *s, char *why, size_t whylen)
{
	struct stat	 st;
	uint8_t		 buf[COOKIE_KEY_MAX + 1];
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd, rc = -1;

	if ((fd = open(s->cookie_key_file, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		cs_why(why, whylen, "cookie_key_file %s: cannot open: %s",
		    s->cookie_key_file, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		cs_why(why, whylen, "cookie_key_file %s: not a regular file",
		    s->cookie_key_file);
		goto done;
	}
	if (st.st_mode & S_IRWXO) {
		cs_why(why, whylen, "cookie_key_file %s: others have access "
		    "to it (mode %04o); chmod o-rwx it", s->cookie_key_file,
		    (unsigned)(st.st_mode & 07777));
		goto done;
	}
	while (len < sizeof(buf)) {
		if ((r = read(fd, buf + len, sizeof(buf) - len)) == -1) {
			if (errno == EINTR)
				continue;
			cs_why(why, whylen, "cookie_key_file %s: %s",
			    s->cookie_key_file, strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len < COOKIE_KEY_MIN || len > COOKIE_KEY_MAX) {
		cs_why(why, whylen, "cookie_key_file %s: must hold %d to %d "
		    "bytes (has %s%zu); e.g. head -c 32 /dev/urandom",
		    s->cookie_key_file, COOKIE_KEY_MIN, COOKIE_KEY_MAX,
		    len > COOKIE_KEY_MAX ? "more than " : "",
		    len > COOKIE_KEY_MAX ? (size_t)COOKIE_KEY_MAX : len);
		goto done;
	}
	if ((s->cookie_key = malloc(len)) == NULL) {
		cs_why(why, whylen, "cookie_key_file: out of memory");
		goto done;
	}
	memcpy(s->cookie_key, buf, len);
	s->cookie_key_len = len;
	rc = 0;
 done:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return (rc);
}

int
conf_saml_load(struct conf_saml *s, char *why, size_t whylen)
{
	struct saml_sp	*sp;
	char		 host[256];
	int		 port;

	if (s->idp_metadata == NULL || s->sp_entity_id == NULL ||
	    s->sp_key == NULL || s->sp_cert == NULL || s->portal == NULL ||
	    s->cookie_key_file == NULL) {
		cs_why(why, whylen, "saml: idp_metadata, sp_entity_id, "
		    "sp_key, sp_cert, portal and cookie_key_file are "
		    "required");
		return (-1);
	}
	if (s->nverified_domains == 0) {
		cs_why(why, whylen, "verified_domains: at least one domain is "
		    "required (the domains the IdP may vouch for)");
		return (-1);
	}
	if (s->session_max < s->session_idle) {
		cs_why(why, whylen, "session_max (%d) must be at least "
		    "session_idle (%d)", s->session_max, s->session_idle);
		return (-1);
	}
	if (cs_portal(s, why, whylen) == -1 ||
	    cs_cookie_key(s, why, whylen) == -1)
		return (-1);
	if ((sp = saml_sp_new(s, why, whylen)) == NULL)
		return (-1);
	s->sp = sp;
	if (saml_sp_idp_sso(sp, host, sizeof(host), &port) == -1 ||
	    (s->idp_host = strdup(host)) == NULL) {
		cs_why(why, whylen, "idp_metadata: out of memory");
		return (-1);
	}
	s->idp_port = port;
	return (0);
}

void
conf_saml_free(struct conf_saml *s)
{
	size_t	i;

	saml_sp_free(s->sp);
	s->sp = NULL;
	free(s->idp_metadata);
	free(s->sp_entity_id);
	free(s->sp_key);
	free(s->sp_cert);
	free(s->portal);
	free(s->portal_host);
	free(s->acs_url);
	free(s->cookie_key_file);
	if (s->cookie_key != NULL) {
		explicit_bzero(s->cookie_key, s->cookie_key_len);
		free(s->cookie_key);
	}
	for (i = 0; i < s->nverified_domains; i++)
		free(s->verified_domains[i]);
	free(s->verified_domains);
	for (i = 0; i < s->ndomain_map; i++) {
		free(s->domain_map[i].realm);
		free(s->domain_map[i].domain);
	}
	free(s->domain_map);
	free(s->groups_attribute);
	free(s->idp_host);
	/* Only ours: the portal's TLS fields are freed by their owner. */
	s->idp_metadata = s->sp_entity_id = s->sp_key = s->sp_cert = NULL;
	s->portal = s->portal_host = s->acs_url = s->cookie_key_file = NULL;
	s->groups_attribute = s->idp_host = NULL;
	s->cookie_key = NULL;
	s->verified_domains = NULL;
	s->domain_map = NULL;
	s->cookie_key_len = s->nverified_domains = s->ndomain_map = 0;
}
