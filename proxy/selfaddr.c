/*
 * Is an origin address the gateway itself?  A CONNECT (or a request) to
 * one of our own listeners would come back in as a new client from the
 * gateway's own address: a client could launder its address that way,
 * out of a network that must sign in into one that need not.  So the
 * origin is refused when its port is a listener's port and its address
 * is that listener's address, or, for a wildcard listener, any address
 * of this machine.
 *
 * The machine's addresses (getifaddrs) are only looked at when the port
 * matches, and are kept per thread for a few seconds: no lock, and
 * nothing at all on the usual path (an origin on 80 or 443, a gateway on
 * 3128).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <ifaddrs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy.h"

#define SELF_CACHE_SECONDS	5

static __thread struct {
	time_t			 at;
	struct sockaddr_storage	*addrs;
	size_t			 n;
} self_cache;

/* The cache's array goes with its thread: a key whose destructor frees it. */
static pthread_key_t	self_key_free;
static pthread_once_t	self_once = PTHREAD_ONCE_INIT;

static void
self_free(void *p)
{
	free(p);
}

static void
self_key_init(void)
{
	(void)pthread_key_create(&self_key_free, self_free);
}

static int
self_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

/*
 * The address of sa as 16 bytes, IPv4 as IPv4-mapped IPv6, so that an
 * IPv4 origin meets a dual-stack listener; -1 for other families.
 */
static int
self_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	return -1;
}

static int
self_wildcard(const uint8_t key[16])
{
	static const uint8_t any6[16], any4[16] = { [10] = 0xff, [11] = 0xff };

	return memcmp(key, any6, 16) == 0 || memcmp(key, any4, 16) == 0;
}

/* Loopback (127/8, ::1) is always ours, whatever getifaddrs says. */
static int
self_loopback(const uint8_t key[16])
{
	static const uint8_t lo6[16] = { [15] = 1 };
	static const uint8_t v4map[12] = { [10] = 0xff, [11] = 0xff };

	return memcmp(key, lo6, 16) == 0 ||
	    (memcmp(key, v4map, 12) == 0 && key[12] == 127);
}

/* This machine's addresses, refreshed when older than a few seconds. */
static void
self_refresh(void)
{
	struct ifaddrs		*ifa, *i;
	struct sockaddr_storage	*a;
	size_t			 n = 0;
	time_t			 now = time(NULL);

	if (self_cache.addrs != NULL && now - self_cache.at <
	    SELF_CACHE_SECONDS)
		return;
	if (getifaddrs(&ifa) == -1)
		return;		/* keep what we had */
	for (i = ifa; i != NULL; i = i->ifa_next)
		n++;
	if ((a = calloc(n ? n : 1, sizeof(*a))) == NULL) {
		freeifaddrs(ifa);
		return;
	}
	n = 0;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			memcpy(&a[n++], i->ifa_addr, sizeof(struct sockaddr_in));
		else if (i->ifa_addr->sa_family == AF_INET6)
			memcpy(&a[n++], i->ifa_addr, sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifa);
	free(self_cache.addrs);
	pthread_once(&self_once, self_key_init);
	(void)pthread_setspecific(self_key_free, a);
	self_cache.addrs = a;
	self_cache.n = n;
	self_cache.at = now;
}

/* Is key one of this machine's addresses? */
static int
self_local(const uint8_t key[16])
{
	uint8_t	k[16];
	size_t	i;

	if (self_loopback(key))
		return 1;
	self_refresh();
	for (i = 0; i < self_cache.n; i++)
		if (self_key((struct sockaddr *)&self_cache.addrs[i], k) == 0 &&
		    memcmp(k, key, 16) == 0)
			return 1;
	return 0;
}

/*
 * The i-th address the gateway listens on: the proxy's listeners, the
 * portal's TLS listeners, then the admin listener; NULL past the end.
 * The last two count too: a tunnel into a portal listener would show
 * the gateway's own address as the client, and the proxy path must
 * never lead to the admin interface (DESIGN: security invariants).
 */
static const struct sockaddr *
self_listener(const struct config *conf, size_t i)
{
	if (i < conf->nlisten)
		return (const struct sockaddr *)&conf->listen[i].ss;
	i -= conf->nlisten;
	if (i < conf->saml.nportal_listen)
		return (const struct sockaddr *)&conf->saml.portal_listen[i].ss;
	i -= conf->saml.nportal_listen;
	if (i == 0 && conf->admin_listen != NULL)
		return (const struct sockaddr *)&conf->admin_listen->ss;
	return NULL;
}

int
selfaddr_match(const struct config *conf, const struct sockaddr *sa)
{
	const struct sockaddr	*l;
	uint8_t			 want[16], lkey[16];
	int			 port = self_port(sa);
	size_t			 i;

	if (port < 0 || self_key(sa, want) == -1)
		return 0;
	for (i = 0; (l = self_listener(conf, i)) != NULL; i++) {
		if (self_port(l) != port || self_key(l, lkey) == -1)
			continue;
		if (memcmp(lkey, want, 16) == 0)
			return 1;
		if (self_wildcard(lkey) && self_local(want))
			return 1;
	}
	return 0;
}
