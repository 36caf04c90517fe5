/*
 * What is common to every sign-in scheme: reading the credentials header.
 */
#include "config.h"

#include <string.h>

#include "auth.h"
#include "ntlm.h"

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
