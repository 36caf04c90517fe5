/*
 * CIDR blocks: parsing "10.0.0.0/8" or "2001:db8::/32" and matching client
 * addresses against them.  Used by the config (pac direct_networks) and by
 * whatever else needs an address set; no allocation, no libevent.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "conf.h"

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" and some slack. */
#define CIDR_TEXT_MAX	64

static int	cidr_prefix_equal(const uint8_t *, const uint8_t *, int);
static void	cidr_mask(uint8_t *, int, int);

/*
 * Parse text as "ADDRESS" or "ADDRESS/PREFIX" into out.  ADDRESS is dotted
 * IPv4 or textual IPv6 (RFC 4291 section 2.2; no zone index), PREFIX a
 * decimal 0..32 or 0..128.  A bare address is a host route (/32, /128).
 * Host bits below the prefix are cleared, so "10.1.2.3/8" is 10.0.0.0/8:
 * what an administrator means when he writes a block from one of its
 * addresses (RFC 4632 section 3.1 writes prefixes with the host bits zero).
 * Returns 0 on success, -1 on any syntax error; out is only written on
 * success.
 */
int
cidr_parse(const char *text, struct cidr *out)
{
	char		 buf[CIDR_TEXT_MAX];
	const char	*slash, *p;
	struct cidr	 c;
	size_t		 alen;
	int		 maxprefix, prefix;

	if (text == NULL || out == NULL)
		return (-1);
	slash = strchr(text, '/');
	alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(buf))
		return (-1);
	memcpy(buf, text, alen);
	buf[alen] = '\0';

	memset(&c, 0, sizeof(c));
	if (strchr(buf, ':') != NULL) {
		c.family = AF_INET6;
		maxprefix = 128;
	} else {
		c.family = AF_INET;
		maxprefix = 32;
	}
	/* inet_pton is strict: no octal, no short IPv4 forms, no zones. */
	if (inet_pton(c.family, buf, c.addr) != 1)
		return (-1);

	if (slash == NULL)
		prefix = maxprefix;
	else {
		p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return (-1);
		prefix = 0;
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return (-1);
			prefix = prefix * 10 + (*p - '0');
		}
		if (prefix > maxprefix)
			return (-1);
	}
	c.prefix = prefix;
	cidr_mask(c.addr, c.family == AF_INET ? 4 : 16, prefix);
	*out = c;
	return (0);
}

/*
 * Does the socket address sa fall inside c?  An IPv4 client reached over
 * an IPv6 socket shows up as ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2); it
 * is matched as the IPv4 address it is, so "10.0.0.0/8" covers both
 * 10.1.2.3 and ::ffff:10.1.2.3.  An IPv6 block is compared with the mapped
 * form of an IPv4 address, so "::ffff:10.0.0.0/104" and "::/0" cover it
 * too.  Returns 1 on a match, 0 otherwise (also for other families).
 */
int
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	uint8_t				 a4[4], a6[16];
	int				 have4 = 0;

	if (c == NULL || sa == NULL)
		return (0);
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		memcpy(a4, &sin->sin_addr, 4);
		have4 = 1;
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(a4, &sin6->sin6_addr.s6_addr[12], 4);
			have4 = 1;
		} else {
			memcpy(a6, &sin6->sin6_addr, 16);
		}
		break;
	default:
		return (0);
	}

	if (c->family == AF_INET)
		return (have4 && cidr_prefix_equal(c->addr, a4, c->prefix));
	if (c->family != AF_INET6)
		return (0);
	if (have4) {
		/* The mapped form ::ffff:a.b.c.d. */
		memset(a6, 0, 10);
		a6[10] = a6[11] = 0xff;
		memcpy(a6 + 12, a4, 4);
	}
	return (cidr_prefix_equal(c->addr, a6, c->prefix));
}

/* Are the first prefix bits of a and b the same? */
static int
cidr_prefix_equal(const uint8_t *a, const uint8_t *b, int prefix)
{
	int	bytes = prefix / 8, bits = prefix % 8;
	uint8_t	mask;

	if (memcmp(a, b, bytes) != 0)
		return (0);
	if (bits == 0)
		return (1);
	mask = (uint8_t)(0xff << (8 - bits));
	return ((a[bytes] & mask) == (b[bytes] & mask));
}

/* Clear every bit of addr (len bytes) after the first prefix bits. */
static void
cidr_mask(uint8_t *addr, int len, int prefix)
{
	int	i;

	for (i = 0; i < len; i++) {
		if (prefix >= 8)
			prefix -= 8;
		else {
			addr[i] &= (uint8_t)(0xff << (8 - prefix));
			prefix = 0;
		}
	}
}
