/*
 * What is common to every sign-in scheme: reading the credentials header.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "ntlm.h"
#include "state.h"

struct auth_state *
auth_state_new(void)
{
	struct auth_state *st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->gss_ctx = GSS_C_NO_CONTEXT;
	return st;
}

void
auth_answer_clear(struct auth_answer *a)
{
	a->header[0] = a->user[0] = a->detail[0] = '\0';
	a->mech = NULL;
	a->reason = NULL;
	a->unavailable = 0;
}

int
auth_split(const char *v, size_t len, const char **scheme, size_t *slen,
    const char **token, size_t *tlen)
{
	size_t i = 0, s;

	/* credentials = auth-scheme [ 1*SP token68 ] (RFC 9110 11.4) */
	while (i < len && v[i] != ' ')
		i++;
	if (i == 0 || i == len)
		return -1;
	*scheme = v;
	*slen = i;
	while (i < len && v[i] == ' ')
		i++;
	s = i;
	while (i < len && v[i] != ' ' && v[i] != '\t')
		i++;
	if (i == s || i != len)
		return -1;
	*token = v + s;
	*tlen = len - s;
	return 0;
}

int
auth_nt_hash(const char *password, unsigned char out[16])
{
	return ntlm_nt_hash(password, out);
}

int
auth_user_match(const char *cuser, const char *want)
{
	const char	*p;
	size_t		 n;

	if (strcasecmp(cuser, want) == 0)
		return 1;
	/* A bare name: the same account in any domain or realm. */
	if (*want == '\0' || strpbrk(want, "\\@") != NULL)
		return 0;
	if ((p = strrchr(cuser, '\\')) != NULL && strcasecmp(p + 1, want) == 0)
		return 1;
	n = strlen(want);
	return strncasecmp(cuser, want, n) == 0 && cuser[n] == '@';
}
