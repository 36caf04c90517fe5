/*
 * Concurrent connections per client address.  One table for the process,
 * under one mutex: it is touched only at accept and close, so contention
 * is low, and a per-worker table would let a client multiply its share by
 * the number of workers.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

#define IPLIMIT_BUCKETS	4096

struct ipcount {
	struct ipcount	*next;
	uint8_t		 addr[16];
	int		 count;
};

static pthread_mutex_t	 ip_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ipcount	*ip_table[IPLIMIT_BUCKETS];
static int		 conn_count;	/* all clients; atomic */

void
iplimit_init(void)
{
}

/* Reduce an address to 16 bytes; IPv4 as IPv4-mapped IPv6. */
static void
ip_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

static unsigned
ip_hash(const uint8_t key[16])
{
	return hash_bytes(key, 16) % IPLIMIT_BUCKETS;
}

int
iplimit_acquire(const struct sockaddr *sa, int cap)
{
	uint8_t		 key[16];
	struct ipcount	*e, **slot;
	int		 ok = 1;

	ip_key(sa, key);
	slot = &ip_table[ip_hash(key)];
	pthread_mutex_lock(&ip_lock);
	for (e = *slot; e != NULL; e = e->next)
		if (memcmp(e->addr, key, 16) == 0)
			break;
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			pthread_mutex_unlock(&ip_lock);
			return 0;
		}
		memcpy(e->addr, key, 16);
		e->next = *slot;
		*slot = e;
	}
	if (cap > 0 && e->count >= cap)
		ok = 0;
	else
		e->count++;
	pthread_mutex_unlock(&ip_lock);
	return ok;
}

void
iplimit_release(const struct sockaddr *sa)
{
	uint8_t		 key[16];
	struct ipcount	*e, **pp;

	ip_key(sa, key);
	pthread_mutex_lock(&ip_lock);
	for (pp = &ip_table[ip_hash(key)]; (e = *pp) != NULL; pp = &e->next) {
		if (memcmp(e->addr, key, 16) != 0)
			continue;
		if (--e->count <= 0) {
			*pp = e->next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&ip_lock);
}

/*
 * The process's client connections against max_connections: one
 * atomic counter, so a worker never waits for another to accept.
 */
int
connlimit_acquire(int max)
{
	if (__atomic_add_fetch(&conn_count, 1, __ATOMIC_RELAXED) <= max)
		return 1;
	__atomic_sub_fetch(&conn_count, 1, __ATOMIC_RELAXED);
	return 0;
}

void
connlimit_release(void)
{
	__atomic_sub_fetch(&conn_count, 1, __ATOMIC_RELAXED);
}
