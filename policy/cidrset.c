/*
 * Sets of IPv4 and IPv6 blocks (src, dst_ip): the blocks are parsed by
 * conf/conf_cidr.c's cidr_parse(), so a rule accepts exactly what the
 * rest of the config does, and compiled into sorted, merged address
 * ranges searched by bisection, so a set of a thousand blocks costs ten
 * comparisons.
 *
 * The matching rules are cidr_match()'s: an IPv4 client reached over an
 * IPv6 socket (::ffff:a.b.c.d, RFC 4291 2.5.5.2) is the IPv4 address it
 * carries, and an IPv6 block that covers part of ::ffff:0:0/96 covers
 * those IPv4 addresses too ("::/0" is everyone).  To get that with one
 * lookup, the mapped part of every IPv6 block is copied into the IPv4
 * ranges when the set is frozen.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "policy_int.h"

struct u128 {
	uint64_t	 hi, lo;
};

struct r4 {
	uint32_t	 lo, hi;
};

struct r6 {
	struct u128	 lo, hi;
};

struct cidrset {
	struct cidr	*blocks;
	char		**texts;
	size_t		 n, cap;
	struct r4	*v4;
	size_t		 n4;
	struct r6	*v6;
	size_t		 n6;
};

static int	 r4_cmp(const void *, const void *);
static int	 r6_cmp(const void *, const void *);

struct cidrset *
cidrset_new(void)
{
	return (calloc(1, sizeof(struct cidrset)));
}

void
cidrset_free(struct cidrset *cs)
{
	size_t	i;

	if (cs == NULL)
		return;
	for (i = 0; i < cs->n; i++)
		free(cs->texts[i]);
	free(cs->texts);
	free(cs->blocks);
	free(cs->v4);
	free(cs->v6);
	free(cs);
}

/*
 * Add the block text ("10.0.0.0/8", "2001:db8::/32", a bare address).
 * Returns 0, -1 on a syntax error, -2 when out of memory.
 */
int
cidrset_add(struct cidrset *cs, const char *text)
{
	struct cidr	 c;
	void		*p;
	size_t		 ncap;

	if (cidr_parse(text, &c) == -1)
		return (-1);
	if (cs->n == cs->cap) {
		ncap = cs->cap == 0 ? 4 : cs->cap * 2;
		if ((p = realloc(cs->blocks, ncap * sizeof(*cs->blocks))) ==
		    NULL)
			return (-2);
		cs->blocks = p;
		if ((p = realloc(cs->texts, ncap * sizeof(*cs->texts))) ==
		    NULL)
			return (-2);
		cs->texts = p;
		cs->cap = ncap;
	}
	if ((cs->texts[cs->n] = strdup(text)) == NULL)
		return (-2);
	cs->blocks[cs->n++] = c;
	return (0);
}

static struct u128
u128_load(const uint8_t *b)
{
	struct u128	v = { 0, 0 };
	int		i;

	for (i = 0; i < 8; i++)
		v.hi = v.hi << 8 | b[i];
	for (i = 8; i < 16; i++)
		v.lo = v.lo << 8 | b[i];
	return (v);
}

static int
u128_cmp(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return (a.hi < b.hi ? -1 : 1);
	if (a.lo != b.lo)
		return (a.lo < b.lo ? -1 : 1);
	return (0);
}

/* a + 1, saturating at the top (the caller never needs the wrap). */
static struct u128
u128_inc(struct u128 a)
{
	if (++a.lo == 0 && ++a.hi == 0)
		a.hi = a.lo = UINT64_MAX;
	return (a);
}

/* The last address of a block: its address with the host bits set. */
static struct u128
u128_last(struct u128 a, int prefix)
{
	if (prefix == 0) {
		a.hi = a.lo = UINT64_MAX;
	} else if (prefix <= 64) {
		a.hi |= prefix == 64 ? 0 : UINT64_MAX >> prefix;
		a.lo = UINT64_MAX;
	} else if (prefix < 128)
		a.lo |= UINT64_MAX >> (prefix - 64);
	return (a);
}

static int
r4_cmp(const void *a, const void *b)
{
	const struct r4	*x = a, *y = b;

	return (x->lo < y->lo ? -1 : x->lo > y->lo);
}

static int
r6_cmp(const void *a, const void *b)
{
	return (u128_cmp(((const struct r6 *)a)->lo,
	    ((const struct r6 *)b)->lo));
}

/*
 * Compile the blocks into ranges.  Returns 0, or -1 when out of memory
 * (the set then matches nothing).
 */
int
cidrset_freeze(struct cidrset *cs)
{
	/* ::ffff:0.0.0.0 .. ::ffff:255.255.255.255 */
	const struct u128 mlo = { 0, 0x0000ffff00000000ULL };
	const struct u128 mhi = { 0, 0x0000ffffffffffffULL };
	struct u128	 lo, hi;
	size_t		 i, j;
	uint32_t	 a;

	free(cs->v4);
	free(cs->v6);
	cs->v4 = NULL;
	cs->v6 = NULL;
	cs->n4 = cs->n6 = 0;
	if (cs->n == 0)
		return (0);
	if ((cs->v4 = calloc(cs->n, sizeof(*cs->v4))) == NULL ||
	    (cs->v6 = calloc(cs->n, sizeof(*cs->v6))) == NULL)
		return (-1);
	for (i = 0; i < cs->n; i++) {
		const struct cidr *c = &cs->blocks[i];

		if (c->family == AF_INET) {
			a = (uint32_t)c->addr[0] << 24 |
			    (uint32_t)c->addr[1] << 16 |
			    (uint32_t)c->addr[2] << 8 | c->addr[3];
			cs->v4[cs->n4].lo = a;
			/* (A shift by 32 is undefined, hence the cases.) */
			cs->v4[cs->n4++].hi = c->prefix == 0 ? UINT32_MAX :
			    c->prefix >= 32 ? a : a | (UINT32_MAX >> c->prefix);
			continue;
		}
		lo = u128_load(c->addr);
		hi = u128_last(lo, c->prefix);
		cs->v6[cs->n6].lo = lo;
		cs->v6[cs->n6++].hi = hi;
		/* The part of the block inside ::ffff:0:0/96. */
		if (u128_cmp(hi, mlo) < 0 || u128_cmp(lo, mhi) > 0)
			continue;
		if (u128_cmp(lo, mlo) < 0)
			lo = mlo;
		if (u128_cmp(hi, mhi) > 0)
			hi = mhi;
		cs->v4[cs->n4].lo = (uint32_t)lo.lo;
		cs->v4[cs->n4++].hi = (uint32_t)hi.lo;
	}

	/* Sort, then merge overlapping and adjacent ranges. */
	qsort(cs->v4, cs->n4, sizeof(*cs->v4), r4_cmp);
	for (i = 0, j = 0; i < cs->n4; i++) {
		if (j > 0 && (cs->v4[j - 1].hi == UINT32_MAX ||
		    cs->v4[i].lo <= cs->v4[j - 1].hi + 1)) {
			if (cs->v4[i].hi > cs->v4[j - 1].hi)
				cs->v4[j - 1].hi = cs->v4[i].hi;
		} else
			cs->v4[j++] = cs->v4[i];
	}
	cs->n4 = j;
	qsort(cs->v6, cs->n6, sizeof(*cs->v6), r6_cmp);
	for (i = 0, j = 0; i < cs->n6; i++) {
		if (j > 0 && u128_cmp(cs->v6[i].lo,
		    u128_inc(cs->v6[j - 1].hi)) <= 0) {
			if (u128_cmp(cs->v6[i].hi, cs->v6[j - 1].hi) > 0)
				cs->v6[j - 1].hi = cs->v6[i].hi;
		} else
			cs->v6[j++] = cs->v6[i];
	}
	cs->n6 = j;
	return (0);
}

/*
 * Is the address sa in the set?  1 or 0 (also for other families and
 * NULL).
 */
int
cidrset_match(const struct cidrset *cs, const struct sockaddr *sa)
{
	const struct sockaddr_in6	*sin6;
	const uint8_t			*b;
	struct u128			 a6;
	uint32_t			 a4;
	size_t				 lo, hi, mid;

	if (cs == NULL || sa == NULL)
		return (0);
	if (sa->sa_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
		goto v4;
	}
	if (sa->sa_family != AF_INET6)
		return (0);
	sin6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		b = &sin6->sin6_addr.s6_addr[12];
		goto v4;
	}
	a6 = u128_load(sin6->sin6_addr.s6_addr);
	/* The last range starting at or below a6. */
	for (lo = 0, hi = cs->n6; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (u128_cmp(cs->v6[mid].lo, a6) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo > 0 && u128_cmp(a6, cs->v6[lo - 1].hi) <= 0);
 v4:
	a4 = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	for (lo = 0, hi = cs->n4; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (cs->v4[mid].lo <= a4)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo > 0 && a4 <= cs->v4[lo - 1].hi);
}

/*
 * The first block, as written, that holds sa (for explain, which says
 * which one); NULL if none.
 */
const char *
cidrset_which(const struct cidrset *cs, const struct sockaddr *sa)
{
	size_t	i;

	if (cs == NULL)
		return (NULL);
	for (i = 0; i < cs->n; i++)
		if (cidr_match(&cs->blocks[i], sa))
			return (cs->texts[i]);
	return (NULL);
}
