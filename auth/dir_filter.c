/*
 * From a signed-in name to an LDAP search filter; see dir.h.
 *
 * The names a sign-in gives differ by method: NTLM says "DOMAIN\user",
 * Kerberos "user@REALM" (or a mapped form: "user", "DOMAIN\user"), SAML
 * an email or a UPN.  The directory is searched with the administrator's
 * user_filter, in which %u, %d, %p and %m stand for the parts.  Every
 * value is escaped as RFC 4515 section 3 requires before it goes into
 * the filter, so a name such as "alice*)(uid=*" matches nothing but an
 * entry of that very name.  Nothing here does I/O.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "dir.h"

/* dst (size DIR_NAME_MAX) = s (len bytes); -1 when it does not fit. */
static int
dir_put(char *dst, size_t *dlen, const char *s, size_t len)
{
	if (len >= DIR_NAME_MAX)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	*dlen = len;
	return 0;
}

/*
 * The realm of users of NetBIOS domain dom (may be NULL): realm_map
 * read backwards, else base_dn's dc= components ("dc=ad,dc=example,
 * dc=test" is AD.EXAMPLE.TEST, Active Directory's default UPN suffix).
 * Into out (DIR_NAME_MAX); 0, or -1 when there is none.
 */
static int
dir_realm(const struct config *conf, const char *dom, size_t domlen,
    char *out)
{
	const char	*s;
	size_t		 i, n = 0;

	if (conf == NULL)
		return -1;
	for (i = 0; dom != NULL && i < conf->negotiate.nrealms; i++)
		if (strlen(conf->negotiate.realms[i].domain) == domlen &&
		    strncasecmp(conf->negotiate.realms[i].domain, dom,
		    domlen) == 0 && strlen(conf->negotiate.realms[i].realm) <
		    DIR_NAME_MAX) {
			strcpy(out, conf->negotiate.realms[i].realm);
			return 0;
		}
	if (!conf->ldap.enabled || conf->ldap.base_dn == NULL)
		return -1;
	/* Each RDN "dc=label" in order; anything else is skipped. */
	for (s = conf->ldap.base_dn; *s != '\0'; ) {
		while (*s == ' ' || *s == ',')
			s++;
		if (strncasecmp(s, "dc=", 3) == 0) {
			s += 3;
			if (n > 0 && n + 1 < DIR_NAME_MAX)
				out[n++] = '.';
			while (*s != '\0' && *s != ',' && n + 1 < DIR_NAME_MAX)
				out[n++] = (char)toupper((unsigned char)*s++);
		}
		while (*s != '\0' && *s != ',')
			s++;
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* %p and %m for user u in realm (NULL: none known), into n. */
static int
dir_upn(struct dir_names *n, const char *realm)
{
	size_t	rlen = realm != NULL ? strlen(realm) : 0;

	if (rlen == 0)
		return dir_put(n->p, &n->plen, n->u, n->ulen) == -1 ||
		    dir_put(n->m, &n->mlen, n->u, n->ulen) == -1 ? -1 : 0;
	if (n->ulen + 1 + rlen >= DIR_NAME_MAX)
		return -1;
	memcpy(n->p, n->u, n->ulen);
	n->p[n->ulen] = '@';
	memcpy(n->p + n->ulen + 1, realm, rlen);
	n->plen = n->ulen + 1 + rlen;
	n->p[n->plen] = '\0';
	memcpy(n->m, n->p, n->plen + 1);
	n->mlen = n->plen;
	return 0;
}

int
dir_names_parse(const char *name, size_t len, const struct config *conf,
    struct dir_names *n)
{
	const char	*bs, *at;
	char		 realm[DIR_NAME_MAX];

	memset(n, 0, sizeof(*n));
	bs = memchr(name, '\\', len);
	/* The last '@': a UPN's user part may itself hold one. */
	for (at = name + len; at > name && at[-1] != '@'; at--)
		;
	at = at > name ? at - 1 : NULL;
	if (bs != NULL) {
		/* NTLM: DOMAIN\user (MS-NLMP 3.2.5.1.2 names). */
		if (dir_put(n->d, &n->dlen, name, (size_t)(bs - name)) == -1 ||
		    dir_put(n->u, &n->ulen, bs + 1, len - (size_t)(bs - name) -
		    1) == -1 || n->ulen == 0)
			return -1;
		if (dir_realm(conf, n->d, n->dlen, realm) == -1)
			snprintf(realm, sizeof(realm), "%s", n->d);
		return dir_upn(n, realm);
	}
	if (at != NULL) {
		/* Kerberos principal, UPN or email: user@realm. */
		if (dir_put(n->u, &n->ulen, name, (size_t)(at - name)) == -1 ||
		    dir_put(n->d, &n->dlen, at + 1, len - (size_t)(at - name) -
		    1) == -1 || n->ulen == 0 || n->dlen == 0 ||
		    dir_put(n->p, &n->plen, name, len) == -1 ||
		    dir_put(n->m, &n->mlen, name, len) == -1)
			return -1;
		return 0;
	}
	if (dir_put(n->u, &n->ulen, name, len) == -1 || n->ulen == 0)
		return -1;
	return dir_upn(n, dir_realm(conf, NULL, 0, realm) == 0 ? realm : NULL);
}

int
dir_names_split(const char *user, const char *domain,
    const struct config *conf, struct dir_names *n)
{
	char	realm[DIR_NAME_MAX];

	memset(n, 0, sizeof(*n));
	if (domain == NULL)
		domain = "";
	if (dir_put(n->u, &n->ulen, user, strlen(user)) == -1 ||
	    dir_put(n->d, &n->dlen, domain, strlen(domain)) == -1)
		return -1;
	if (dir_realm(conf, n->dlen > 0 ? n->d : NULL, n->dlen, realm) == -1)
		snprintf(realm, sizeof(realm), "%s", n->d);
	return dir_upn(n, realm[0] != '\0' ? realm : NULL);
}

char *
dir_filter_escape(const char *val, size_t len)
{
	struct berval	 in, out;
	char		*s;

	in.bv_val = (char *)(uintptr_t)val;
	in.bv_len = len;
	memset(&out, 0, sizeof(out));
	if (ldap_bv2escaped_filter_value(&in, &out) != 0)
		return NULL;
	/* Ours to free(): libldap's allocator is not necessarily malloc. */
	s = strndup(out.bv_val != NULL ? out.bv_val : "", out.bv_len);
	ber_memfree(out.bv_val);
	return s;
}

char *
dir_filter_build(const char *tmpl, const struct dir_names *n)
{
	const char	*vals[4] = { n->u, n->d, n->p, n->m };
	size_t		 lens[4] = { n->ulen, n->dlen, n->plen, n->mlen };
	char		*esc[4] = { NULL, NULL, NULL, NULL };
	char		*out = NULL;
	const char	*s;
	size_t		 len = 0, k;
	int		 i;

	if ((out = malloc(DIR_FILTER_MAX)) == NULL)
		return NULL;
	for (s = tmpl; *s != '\0'; s++) {
		if (*s == '%' && s[1] != '\0' && strchr("udpm", s[1]) != NULL) {
			i = (int)(strchr("udpm", s[1]) - "udpm");
			if (esc[i] == NULL &&
			    (esc[i] = dir_filter_escape(vals[i], lens[i])) ==
			    NULL)
				goto fail;
			k = strlen(esc[i]);
			if (len + k >= DIR_FILTER_MAX)
				goto fail;
			memcpy(out + len, esc[i], k);
			len += k;
			s++;
			continue;
		}
		if (*s == '%' && s[1] == '%')
			s++;
		if (len + 1 >= DIR_FILTER_MAX)
			goto fail;
		out[len++] = *s;
	}
	out[len] = '\0';
	for (i = 0; i < 4; i++)
		free(esc[i]);
	return out;

 fail:
	for (i = 0; i < 4; i++)
		free(esc[i]);
	free(out);
	return NULL;
}

char *
auth_user_filter(const struct config *conf, const char *user)
{
	struct dir_names	names;

	if (dir_names_parse(user, strlen(user), conf, &names) == -1)
		return NULL;
	return dir_filter_build(conf->ldap.user_filter, &names);
}
