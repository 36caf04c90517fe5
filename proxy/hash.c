/*
 * The one hash function of the daemon's lookup tables (DNS cache,
 * upstream pool, per-IP counts): FNV-1a, small and good enough for bucket
 * spreading.  Not for anything an attacker must not predict.
 */
#include "config.h"

#include "proxy.h"

uint32_t
hash_bytes(const void *p, size_t len)
{
	const unsigned char	*b = p;
	uint32_t		 h = 2166136261u;

	while (len-- > 0)
		h = (h ^ *b++) * 16777619u;
	return h;
}
