/*
 * A set of domain names keyed by suffix: "is this host, or a domain it
 * belongs to, in the set?" for dst_domain lists and categories of a
 * million names.
 *
 * Each entry carries two 32-bit values: one for the name itself only
 * ("example.com" in a dst_domain list) and one for the name and every
 * name below it (".example.com", or any category entry).  A lookup of
 * "a.b.example.com" walks the labels right to left and probes the hash
 * table once per label-aligned suffix -- "com", "example.com",
 * "b.example.com", "a.b.example.com" -- so its cost depends on the number
 * of labels of the host, not on the size of the set.  The hash is FNV-1a
 * run over the characters from the end of the name, so the hash of every
 * suffix falls out of one pass; a multiply-xorshift finaliser then
 * spreads it over the table.
 *
 * Memory: one arena holds the records (two values, a length byte, the
 * lower-case name and a NUL, 4-byte aligned) and an open-addressing table
 * of 8-byte slots (32 bits of the hash, to skip most string compares, and
 * the record's offset) at most 70% full while building and 60% once
 * frozen, linear probing.  A million names of ~16 characters take about
 * 40 MB.  Two filters spare most probes their cache miss: a bitmask of
 * the label counts present skips suffixes no entry could have (most
 * lists hold no bare TLD), and a frozen big set has a 1-byte-per-name
 * Bloom filter that stays in cache.  Big tables are offered to huge
 * pages, so a probe does not also miss the TLB.
 *
 * The set is filled once (policy_build) and read-only after, so lookups
 * need no lock.  The hash is not keyed: the set's contents come from the
 * administrator, and a client choosing host names can slow a lookup by at
 * most one probe sequence per label.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

#define DS_FNV_BASIS	0xcbf29ce484222325ULL
#define DS_FNV_PRIME	0x100000001b3ULL
#define DS_REC_HDR	9	/* val[2] and the length byte */
#define DS_GROW_NUM	7	/* grow beyond 7/10 full */
#define DS_GROW_DEN	10
#define DS_HUGE		((size_t)2 << 20)	/* x86-64 huge page */
#define DS_BLOOM_MIN	65536	/* entries before a filter pays */

struct ds_slot {
	uint32_t	 fp;	/* high half of the hash */
	uint32_t	 ref;	/* record offset / 4; 0: empty */
};

struct domainset {
	struct ds_slot	*slots;
	size_t		 nslots;
	size_t		 count;
	char		*arena;
	size_t		 used, cap;
	size_t		 slots_map;	/* bytes mapped, 0: from malloc */
	size_t		 arena_map;
	uint32_t	 labelmask;	/* bit n-1: an entry has n labels */
	uint64_t	*bloom;		/* frozen big sets: a filter */
	size_t		 nbloom;	/* words, a power of two */
	size_t		 bloom_map;
};

/* ASCII lower case only: host names are ASCII (RFC 5890 A-labels). */
static inline unsigned char
ds_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c);
}

static int	 ds_resize(struct domainset *, size_t);
static int	 ds_arena_move(struct domainset *, size_t);
static int	 ds_insert_slot(struct ds_slot *, size_t, uint64_t, uint32_t);

static inline uint64_t
ds_step(uint64_t h, unsigned char c)
{
	return ((h ^ c) * DS_FNV_PRIME);
}

/*
 * FNV-1a's low bits are weak for strings differing only at the end; one
 * xorshift-multiply round mixes every input bit into both halves.
 */
static inline uint64_t
ds_mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return (h);
}

/* Map the low half of the mixed hash onto [0, n) without a division. */
static inline size_t
ds_index(uint64_t m, size_t n)
{
	return ((size_t)(((m & 0xffffffffULL) * (uint64_t)n) >> 32));
}

static inline uint64_t
ds_hash(const char *name, size_t len)
{
	uint64_t	h = DS_FNV_BASIS;

	while (len-- > 0)
		h = ds_step(h, (unsigned char)name[len]);
	return (h);
}

static inline unsigned
ds_labelbit(unsigned labels)
{
	return (labels >= 32 ? 0x80000000u : 1u << (labels - 1));
}

/*
 * Zeroed memory for a big table or buffer (policy/ uses it for every
 * allocation that grows with the lists).  A lookup in a table of tens of
 * megabytes costs a TLB miss as well as a cache miss per probe with 4 KiB
 * pages; so regions of 2 MiB and more are mapped 2 MiB-aligned and
 * offered to transparent huge pages (madvise, as Debian's default THP
 * mode wants).  Being mappings, they go back to the system when freed: a
 * reload does not leave tens of megabytes in malloc's free lists (glibc
 * raises its mmap threshold after the first big free).  *mapped gets the
 * mapping's size, 0 for malloc memory.
 */
void *
ds_big_alloc(size_t len, size_t *mapped)
{
	char	*p, *a;
	size_t	 n, head;

	*mapped = 0;
	if (len < DS_HUGE)
		return (calloc(1, len));
	n = (len + DS_HUGE - 1) & ~(DS_HUGE - 1);
	p = mmap(NULL, n + DS_HUGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (calloc(1, len));
	a = (char *)(((uintptr_t)p + DS_HUGE - 1) & ~(uintptr_t)(DS_HUGE - 1));
	head = (size_t)(a - p);
	if (head > 0)
		munmap(p, head);
	if (DS_HUGE - head > 0)
		munmap(a + n, DS_HUGE - head);
#ifdef MADV_HUGEPAGE
	(void)madvise(a, n, MADV_HUGEPAGE);	/* only a hint */
#endif
	*mapped = n;
	return (a);
}

void
ds_big_free(void *p, size_t mapped)
{
	if (mapped != 0)
		munmap(p, mapped);
	else
		free(p);
}

/*
 * An empty set sized for about hint names.  NULL when out of memory.
 */
struct domainset *
domainset_new(size_t hint)
{
	struct domainset	*ds;
	size_t			 n;

	if ((ds = calloc(1, sizeof(*ds))) == NULL)
		return (NULL);
	n = hint * DS_GROW_DEN / DS_GROW_NUM + 1;
	if (n < 16)
		n = 16;
	ds->cap = hint * 28 + 64;
	if ((ds->slots = ds_big_alloc(n * sizeof(*ds->slots),
	    &ds->slots_map)) == NULL ||
	    (ds->arena = ds_big_alloc(ds->cap, &ds->arena_map)) == NULL) {
		if (ds->slots != NULL)
			ds_big_free(ds->slots, ds->slots_map);
		free(ds);
		return (NULL);
	}
	ds->nslots = n;
	/* Offset 0 is never a record: a zero ref marks an empty slot. */
	memset(ds->arena, 0, 4);
	ds->used = 4;
	return (ds);
}

void
domainset_free(struct domainset *ds)
{
	if (ds == NULL)
		return;
	ds_big_free(ds->slots, ds->slots_map);
	ds_big_free(ds->arena, ds->arena_map);
	ds_big_free(ds->bloom, ds->bloom_map);
	free(ds);
}

/*
 * Normalise a host name or list entry for the set: ASCII lower case, one
 * trailing dot dropped (the root label, RFC 1034 3.1), IP literals in
 * canonical form (an IPv6 one without its brackets, RFC 3986 3.2.2, as
 * inet_ntop writes it, so "2001:DB8:0::1" and "2001:db8::1" are one
 * entry).  Names must be 1..253 characters of letters, digits, '-' and
 * '_' (seen in real names though RFC 952 forbids it) in labels of 1..63
 * (RFC 1035 2.3.4); internationalised names must be in their A-label
 * (xn--) form, as they are on the wire (RFC 5890 2.3.2.1).  out holds at
 * least DS_NAME_MAX + 1 bytes.  Returns DS_NAME, DS_IPV4 or DS_IPV6, or
 * -1 if in is not a valid name.
 */
int
domainset_normalize(const char *in, size_t len, char *out, size_t *outlen)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	char		 buf[INET6_ADDRSTRLEN + 2];
	size_t		 i, label;
	int		 digits_dots;
	unsigned char	 c;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > DS_NAME_MAX)
		return (-1);
	if (in[0] == '[' || memchr(in, ':', len) != NULL) {
		if (in[0] == '[') {
			if (len < 3 || in[len - 1] != ']')
				return (-1);
			in++;
			len -= 2;
		}
		if (len >= sizeof(buf))
			return (-1);
		memcpy(buf, in, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1 ||
		    inet_ntop(AF_INET6, &a6, out, DS_NAME_MAX + 1) == NULL)
			return (-1);
		*outlen = strlen(out);
		return (DS_IPV6);
	}

	label = 0;
	digits_dots = 1;
	for (i = 0; i < len; i++) {
		c = ds_lower((unsigned char)in[i]);
		if (c == '.') {
			if (label == 0)
				return (-1);
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || c == '-' || c == '_') {
			digits_dots = 0;
			if (++label > 63)
				return (-1);
		} else if (c >= '0' && c <= '9') {
			if (++label > 63)
				return (-1);
		} else
			return (-1);
		out[i] = (char)c;
	}
	if (label == 0)
		return (-1);
	out[len] = '\0';
	*outlen = len;
	if (digits_dots && len < sizeof(buf) &&
	    inet_pton(AF_INET, out, &a4) == 1)
		return (DS_IPV4);
	return (DS_NAME);
}

/*
 * Find a normalised name (len bytes) in the set, adding it if absent, and
 * return its value for the name alone (suffix 0) or for the name and
 * every name below it (suffix 1); 0 means "no value".  The pointer is
 * valid until the next call (the arena may move).  NULL when out of
 * memory.
 */
uint32_t *
domainset_value(struct domainset *ds, const char *name, size_t len,
    int suffix)
{
	uint64_t	 m;
	size_t		 i, need, labels;
	uint32_t	 fp, ref;
	char		*rec;

	if (len == 0 || len > DS_NAME_MAX)
		return (NULL);
	m = ds_mix(ds_hash(name, len));
	fp = (uint32_t)(m >> 32);
	for (i = ds_index(m, ds->nslots);; i = i + 1 == ds->nslots ? 0 :
	    i + 1) {
		if (ds->slots[i].ref == 0)
			break;
		if (ds->slots[i].fp != fp)
			continue;
		rec = ds->arena + (size_t)ds->slots[i].ref * 4;
		if ((unsigned char)rec[8] == len &&
		    memcmp(rec + DS_REC_HDR, name, len) == 0)
			return ((uint32_t *)(void *)rec + (suffix ? 1 : 0));
	}

	if (ds->bloom != NULL) {
		/* Adding after a freeze: the filter would miss the name. */
		ds_big_free(ds->bloom, ds->bloom_map);
		ds->bloom = NULL;
		ds->nbloom = 0;
	}
	if ((ds->count + 1) * DS_GROW_DEN > ds->nslots * DS_GROW_NUM) {
		if (ds_resize(ds, ds->nslots * 2) == -1)
			return (NULL);
	}
	need = (DS_REC_HDR + len + 1 + 3) & ~(size_t)3;
	if (ds->used + need > ds->cap) {
		size_t	ncap = ds->cap * 2;

		while (ds->used + need > ncap)
			ncap *= 2;
		if (ncap / 4 > UINT32_MAX || ds_arena_move(ds, ncap) == -1)
			return (NULL);
	}
	rec = ds->arena + ds->used;
	memset(rec, 0, need);
	rec[8] = (char)len;
	memcpy(rec + DS_REC_HDR, name, len);
	ref = (uint32_t)(ds->used / 4);
	ds->used += need;
	ds_insert_slot(ds->slots, ds->nslots, m, ref);
	ds->count++;

	for (labels = 1, i = 0; i < len; i++)
		if (name[i] == '.')
			labels++;
	ds->labelmask |= ds_labelbit((unsigned)labels);
	return ((uint32_t *)(void *)rec + (suffix ? 1 : 0));
}

/* Move the arena to a region of cap bytes (growing, or trimming). */
static int
ds_arena_move(struct domainset *ds, size_t cap)
{
	char	*na;
	size_t	 map;

	if ((na = ds_big_alloc(cap, &map)) == NULL)
		return (-1);
	memcpy(na, ds->arena, ds->used);
	ds_big_free(ds->arena, ds->arena_map);
	ds->arena = na;
	ds->arena_map = map;
	ds->cap = cap;
	return (0);
}

/* Put ref in the first free slot from m's home. */
static int
ds_insert_slot(struct ds_slot *slots, size_t n, uint64_t m, uint32_t ref)
{
	size_t	i;

	for (i = ds_index(m, n); slots[i].ref != 0; i = i + 1 == n ? 0 :
	    i + 1)
		;
	slots[i].fp = (uint32_t)(m >> 32);
	slots[i].ref = ref;
	return (0);
}

/* Rehash every record into a table of n slots. */
static int
ds_resize(struct domainset *ds, size_t n)
{
	struct ds_slot	*ns;
	size_t		 i, map;
	const char	*rec;

	if (n < ds->count + 1)
		return (-1);
	if ((ns = ds_big_alloc(n * sizeof(*ns), &map)) == NULL)
		return (-1);
	for (i = 0; i < ds->nslots; i++) {
		if (ds->slots[i].ref == 0)
			continue;
		rec = ds->arena + (size_t)ds->slots[i].ref * 4;
		ds_insert_slot(ns, n, ds_mix(ds_hash(rec + DS_REC_HDR,
		    (unsigned char)rec[8])), ds->slots[i].ref);
	}
	ds_big_free(ds->slots, ds->slots_map);
	ds->slots = ns;
	ds->slots_map = map;
	ds->nslots = n;
	return (0);
}

/* The filter word and its two bits for mixed hash m. */
static inline size_t
ds_bloom_word(const struct domainset *ds, uint64_t m)
{
	return ((size_t)(((m >> 32) * (uint64_t)ds->nbloom) >> 32));
}

static inline uint64_t
ds_bloom_bits(uint64_t m)
{
	return (1ULL << (m & 63) | 1ULL << ((m >> 6) & 63));
}

/*
 * A blocked Bloom filter over the entries, both bits of a name in one
 * 64-bit word, about 8 bits per entry: 1 MiB for a million names, which
 * stays in the CPU's cache where the table (tens of MiB) cannot.  Most
 * probes are for names that are not there ("com", "example.com" of a
 * host in no list); the filter answers 95% of those without touching the
 * table.  Built only for big sets, and only after the last add.
 */
static void
ds_bloom_build(struct domainset *ds)
{
	size_t		 n = 1, i;
	const char	*rec;
	uint64_t	 m;

	ds_big_free(ds->bloom, ds->bloom_map);
	ds->bloom = NULL;
	ds->nbloom = 0;
	if (ds->count < DS_BLOOM_MIN)
		return;
	while (n < ds->count / 8)
		n *= 2;
	if ((ds->bloom = ds_big_alloc(n * sizeof(uint64_t), &ds->bloom_map))
	    == NULL)
		return;
	ds->nbloom = n;
	for (i = 0; i < ds->nslots; i++) {
		if (ds->slots[i].ref == 0)
			continue;
		rec = ds->arena + (size_t)ds->slots[i].ref * 4;
		m = ds_mix(ds_hash(rec + DS_REC_HDR, (unsigned char)rec[8]));
		ds->bloom[ds_bloom_word(ds, m)] |= ds_bloom_bits(m);
	}
}

/*
 * Done adding: size the table for its final count (60% full: an absent
 * name then costs about 3.6 slots, mostly in one cache line), build the
 * filter, and give back the arena's slack.  -1 when out of memory (the
 * set stays usable).
 */
int
domainset_freeze(struct domainset *ds)
{
	size_t	 n;

	n = ds->count * 5 / 3 + 1;
	if (n < 16)
		n = 16;
	if (n != ds->nslots && ds_resize(ds, n) == -1)
		return (-1);
	ds_bloom_build(ds);
	/* A failed move only keeps the slack. */
	if (ds->used < ds->cap)
		(void)ds_arena_move(ds, ds->used);
	return (0);
}

/* Probe for one suffix (m: its mixed hash); the record's offset / 4, or 0. */
static inline uint32_t
ds_probe(const struct domainset *ds, const char *s, size_t len, uint64_t m)
{
	uint32_t	 fp = (uint32_t)(m >> 32);
	size_t		 i;
	const char	*rec;

	for (i = ds_index(m, ds->nslots); ds->slots[i].ref != 0;
	    i = i + 1 == ds->nslots ? 0 : i + 1) {
		if (ds->slots[i].fp != fp)
			continue;
		rec = ds->arena + (size_t)ds->slots[i].ref * 4;
		if ((unsigned char)rec[8] == len &&
		    memcmp(rec + DS_REC_HDR, s, len) == 0)
			return (ds->slots[i].ref);
	}
	return (0);
}

/*
 * The entries covering a normalised name: for every label-aligned suffix
 * in the set, its suffix value, and for the whole name its exact value
 * too (values of 0 are left out).  Hits come least specific first
 * ("com" before "example.com").  exact_only looks up the whole name only
 * (IP literals have no parent domains).  Returns the number of hits
 * stored, at most maxhits (DS_MAXHITS always suffices).
 */
size_t
domainset_match(const struct domainset *ds, const char *name, size_t len,
    int exact_only, struct ds_hit *hits, size_t maxhits)
{
	uint64_t	 h = DS_FNV_BASIS, m[DS_MAXHITS];
	uint16_t	 at[DS_MAXHITS];
	size_t		 i = len, n = 0, np = 0, k;
	unsigned	 labels = 0;
	uint32_t	 ref;
	const uint32_t	*val;

	if (ds == NULL || ds->count == 0 || len == 0 || len > DS_NAME_MAX)
		return (0);
	/*
	 * First the hashes of every suffix worth a probe, prefetching their
	 * home slots: in a table of millions each probe is a cache miss,
	 * and issued together they overlap instead of queueing.
	 */
	while (i > 0) {
		i--;
		h = ds_step(h, (unsigned char)name[i]);
		if (i > 0 && name[i - 1] != '.')
			continue;
		labels++;
		if (exact_only && i > 0)
			continue;
		if ((ds->labelmask & ds_labelbit(labels)) == 0)
			continue;
		m[np] = ds_mix(h);
		if (ds->bloom != NULL && (ds->bloom[ds_bloom_word(ds, m[np])] &
		    ds_bloom_bits(m[np])) != ds_bloom_bits(m[np]))
			continue;
		at[np] = (uint16_t)i;
		__builtin_prefetch(&ds->slots[ds_index(m[np], ds->nslots)]);
		np++;
	}
	for (k = 0; k < np; k++) {
		i = at[k];
		if ((ref = ds_probe(ds, name + i, len - i, m[k])) == 0)
			continue;
		val = (const uint32_t *)(const void *)(ds->arena +
		    (size_t)ref * 4);
		if (val[1] != 0 && n < maxhits) {
			hits[n].val = val[1];
			hits[n].rec = ref;
			hits[n++].exact = 0;
		}
		if (i == 0 && val[0] != 0 && n < maxhits) {
			hits[n].val = val[0];
			hits[n].rec = ref;
			hits[n++].exact = 1;
		}
	}
	return (n);
}

/* The name of a hit's record (lower case, NUL terminated). */
const char *
domainset_name(const struct domainset *ds, uint32_t rec)
{
	return (ds->arena + (size_t)rec * 4 + DS_REC_HDR);
}

size_t
domainset_count(const struct domainset *ds)
{
	return (ds == NULL ? 0 : ds->count);
}

/* Bytes held: the table and the arena. */
size_t
domainset_memory(const struct domainset *ds)
{
	if (ds == NULL)
		return (0);
	return (sizeof(*ds) + ds->nslots * sizeof(struct ds_slot) + ds->cap +
	    ds->nbloom * sizeof(uint64_t));
}
