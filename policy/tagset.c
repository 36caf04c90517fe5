/*
 * Interned sets of small integers ("tags"): the value of an entry of the
 * destination index is the set of lists it belongs to (category 3,
 * rule 7's dst_domain list, ...).  Most names are in one list, so a
 * policy has few distinct sets however many names it indexes; each is
 * stored once, as a bitmap, and named by a 32-bit index.  Set 0 is the
 * empty set.  Filled while building, read-only after.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

static uint64_t	 tagsets_hash(const uint64_t *, size_t);
static int	 tagsets_grow_table(struct tagsets *);

/*
 * Room for sets of tags 0..ntags-1, holding the empty set.  -1 when out
 * of memory.
 */
int
tagsets_init(struct tagsets *ts, unsigned ntags)
{
	memset(ts, 0, sizeof(*ts));
	ts->nwords = ntags / 64 + 1;
	ts->cap = 16;
	ts->nslots = 64;
	if ((ts->bits = calloc(ts->cap, ts->nwords * sizeof(uint64_t))) ==
	    NULL || (ts->slots = calloc(ts->nslots, sizeof(uint32_t))) ==
	    NULL) {
		free(ts->bits);
		ts->bits = NULL;
		return (-1);
	}
	ts->n = 1;
	ts->last_set = UINT32_MAX;
	return (0);
}

void
tagsets_free(struct tagsets *ts)
{
	free(ts->bits);
	free(ts->slots);
	memset(ts, 0, sizeof(*ts));
}

static uint64_t
tagsets_hash(const uint64_t *w, size_t n)
{
	uint64_t	h = 0x9e3779b97f4a7c15ULL;

	while (n-- > 0) {
		h ^= *w++;
		h *= 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	return (h);
}

/* Double the intern table and re-enter every set. */
static int
tagsets_grow_table(struct tagsets *ts)
{
	uint32_t	*ns;
	size_t		 n = ts->nslots * 2, i, j;

	if ((ns = calloc(n, sizeof(*ns))) == NULL)
		return (-1);
	for (i = 1; i < ts->n; i++) {
		j = tagsets_hash(ts->bits + i * ts->nwords, ts->nwords) &
		    (n - 1);
		while (ns[j] != 0)
			j = (j + 1) & (n - 1);
		ns[j] = (uint32_t)i + 1;
	}
	free(ts->slots);
	ts->slots = ns;
	ts->nslots = n;
	return (0);
}

/*
 * The set set + {tag}: an existing set if one is equal, else a new one.
 * UINT32_MAX when out of memory.  Adding a category's names one after
 * another asks the same question a million times, hence the one-entry
 * cache.
 */
uint32_t
tagsets_add(struct tagsets *ts, uint32_t set, unsigned tag)
{
	uint64_t	 tmp[64], *w = tmp, *nb;
	size_t		 j, nw = ts->nwords;
	uint32_t	 id;

	if (tag / 64 >= nw || set >= ts->n)
		return (UINT32_MAX);
	if (tagsets_has(ts, set, tag))
		return (set);
	if (set == ts->last_set && tag == ts->last_tag)
		return (ts->last_res);
	if (nw > sizeof(tmp) / sizeof(tmp[0]) &&
	    (w = malloc(nw * sizeof(*w))) == NULL)
		return (UINT32_MAX);
	memcpy(w, ts->bits + (size_t)set * nw, nw * sizeof(*w));
	w[tag / 64] |= 1ULL << (tag % 64);

	j = tagsets_hash(w, nw) & (ts->nslots - 1);
	for (; ts->slots[j] != 0; j = (j + 1) & (ts->nslots - 1)) {
		id = ts->slots[j] - 1;
		if (memcmp(ts->bits + (size_t)id * nw, w, nw * sizeof(*w)) ==
		    0)
			goto done;
	}
	/* A new set: keep the intern table at most half full. */
	if ((size_t)(ts->n + 1) * 2 > ts->nslots) {
		if (tagsets_grow_table(ts) == -1) {
			id = UINT32_MAX;
			goto out;
		}
		j = tagsets_hash(w, nw) & (ts->nslots - 1);
		while (ts->slots[j] != 0)
			j = (j + 1) & (ts->nslots - 1);
	}
	if (ts->n == ts->cap) {
		if (ts->cap >= UINT32_MAX / 2 || (nb = realloc(ts->bits,
		    (size_t)ts->cap * 2 * nw * sizeof(*nb))) == NULL) {
			id = UINT32_MAX;
			goto out;
		}
		ts->bits = nb;
		ts->cap *= 2;
	}
	id = ts->n++;
	memcpy(ts->bits + (size_t)id * nw, w, nw * sizeof(*w));
	ts->slots[j] = id + 1;
 done:
	ts->last_set = set;
	ts->last_tag = tag;
	ts->last_res = id;
 out:
	if (w != tmp)
		free(w);
	return (id);
}
