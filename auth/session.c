/*
 * IP sessions and the portal cookie (see session.h for who owns what).
 *
 * The table is keyed by the client address as 16 bytes: IPv6 as it is,
 * IPv4 in its IPv4-mapped IPv6 form (RFC 4291 section 2.5.5.2), so that a
 * dual-stack listener's "::ffff:192.0.2.1" and a plain IPv4 listener's
 * "192.0.2.1" are one client.  Buckets are chains, grown by doubling;
 * the hash is seeded at first use, so that the chains one sign-in after
 * another builds cannot be predicted.  Entries are on an LRU list: past
 * the bound the least recently used goes, and the tail is where a bind
 * sweeps entries past their absolute end.
 *
 * An entry whose user is NULL is an address held after a flip (a change
 * of user sooner than flip_guard after the last binding): no session,
 * and no new one until held_until.  An entry idle past session_idle is
 * not a session any more but is kept until its absolute end, so that the
 * portal cookie of the same sign-in can bind the address again with the
 * groups the assertion gave (session_groups_of).
 *
 * The cookie is stateless: everything it says is in it, under an
 * HMAC-SHA256 with the configured key.  What revokes a cookie early is
 * a per-user "signed out at" time (session_signout): a cookie issued at
 * or before it is refused.  Those records are bounded too; when they
 * overflow, every cookie issued until then is refused (fail closed).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth.h"
#include "groups.h"

#define SESSION_MIN_BUCKETS	1024
#define SESSION_MAX_BUCKETS	(1u << 21)
#define SESSION_SWEEP		16	/* tail entries a bind looks at */
#define SIGNOUT_MAX		65536	/* "signed out at" records */
#define COOKIE_MAC_B64		43	/* base64url of 32 bytes, no padding */
#define COOKIE_FUTURE_SKEW	300	/* an issue time this far ahead is
					   a clock jump, not ours: refused */

struct sentry {
	struct sentry		*hnext;		/* bucket chain */
	TAILQ_ENTRY(sentry)	 lru;		/* head: most recent */
	uint64_t		 hash;
	uint8_t			 addr[16];
	char			*user;		/* NULL: held after a flip;
						   ubuf or malloc'd */
	time_t			 expires;	/* absolute end */
	time_t			 last_used;
	char			 ubuf[48];	/* most names: one line less */
	char			 sid[SESSION_SID_LEN + 1];
	time_t			 since;		/* last bound */
	time_t			 held_until;	/* user NULL: free again */
	struct auth_groups	*groups;	/* a reference, or NULL */
};

struct signout {
	struct signout		*hnext;
	uint64_t		 hash;
	time_t			 at;
	char			 name[];	/* lower case */
};

static struct {
	pthread_mutex_t		 lock;
	int			 seeded;
	uint64_t		 seed[2];
	struct sentry		**buckets;
	size_t			 nbuckets;	/* a power of two, or 0 */
	size_t			 n;
	size_t			 max;		/* 0: SESSION_TABLE_MAX */
	TAILQ_HEAD(sentry_lru, sentry) lru;
	/* Signed-out users, in a fixed table of chains. */
	struct signout		*signouts[1024];
	size_t			 nsignouts;
	time_t			 signout_floor;	/* every cookie issued at or
						   before it is refused */
	time_t			 longest;	/* the longest session_max
						   seen: a record's life */
	int			 idle;		/* the last session_idle seen,
						   for session_list */
} st = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.lru = TAILQ_HEAD_INITIALIZER(st.lru),
};

/* Under the lock: seed the hash once (no predictable chains). */
static void
session_seed(void)
{
	if (st.seeded)
		return;
	if (RAND_bytes((unsigned char *)st.seed, sizeof(st.seed)) != 1) {
		/* Only chain lengths depend on it: a fixed seed still works. */
		st.seed[0] = 0x9e3779b97f4a7c15ULL;
		st.seed[1] = 0xc2b2ae3d27d4eb4fULL;
	}
	st.seeded = 1;
}

/* A 64-bit mix (the MurmurHash3 finaliser) of the seeded words. */
static uint64_t
session_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t
session_hash_addr(const uint8_t a[16])
{
	uint64_t	x, y;

	memcpy(&x, a, 8);
	memcpy(&y, a + 8, 8);
	return session_mix(session_mix(x ^ st.seed[0]) ^ y ^ st.seed[1]);
}

static uint64_t
session_hash_name(const char *s, size_t len)
{
	uint64_t	h = st.seed[0];
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return session_mix(h ^ st.seed[1]);
}

/* The 16-byte key of sa; -1 for a family we do not know. */
static int
session_key(const struct sockaddr *sa, uint8_t key[16])
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
		return 0;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		memcpy(key, &sin6->sin6_addr, 16);
		return 0;
	default:
		return -1;
	}
}

/* The key as text: an IPv4-mapped address as plain IPv4. */
static void
session_key_text(const uint8_t key[16], char *buf, size_t len)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (memcmp(key, mapped, 12) == 0)
		inet_ntop(AF_INET, key + 12, buf, len);
	else
		inet_ntop(AF_INET6, key, buf, len);
}

int
session_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	uint8_t	key[16];

	/* Through the key: the table's notion of one client, as text. */
	if (session_key(sa, key) == -1 || len < INET6_ADDRSTRLEN) {
		if (len > 0)
			buf[0] = '\0';
		return -1;
	}
	session_key_text(key, buf, len);
	return 0;
}

static struct sentry *
session_find(const uint8_t key[16], uint64_t h)
{
	struct sentry	*e;

	if (st.nbuckets == 0)
		return NULL;
	for (e = st.buckets[h & (st.nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && memcmp(e->addr, key, 16) == 0)
			return e;
	return NULL;
}

/* Forget a session's user and groups (the entry stays). */
static void
session_entry_clear(struct sentry *e)
{
	if (e->user != e->ubuf)
		free(e->user);
	e->user = NULL;
	auth_groups_unref(e->groups);
	e->groups = NULL;
	explicit_bzero(e->sid, sizeof(e->sid));
}

static void
session_remove(struct sentry *e)
{
	struct sentry	**pp;

	for (pp = &st.buckets[e->hash & (st.nbuckets - 1)]; *pp != e;
	    pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	TAILQ_REMOVE(&st.lru, e, lru);
	session_entry_clear(e);
	free(e);
	st.n--;
}

/* Double the buckets (a failure only leaves the chains longer). */
static void
session_grow(void)
{
	struct sentry	**nb, *e, *next;
	size_t		  n, i;

	n = st.nbuckets == 0 ? SESSION_MIN_BUCKETS : st.nbuckets * 2;
	if (n > SESSION_MAX_BUCKETS || (nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < st.nbuckets; i++)
		for (e = st.buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			e->hnext = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	free(st.buckets);
	st.buckets = nb;
	st.nbuckets = n;
}

/* Drop what is over at the cold end of the LRU list (lazy sweep). */
static void
session_sweep(time_t now)
{
	struct sentry	*e, *prev;
	int		 i;

	for (e = TAILQ_LAST(&st.lru, sentry_lru), i = 0; e != NULL &&
	    i < SESSION_SWEEP; e = prev, i++) {
		prev = TAILQ_PREV(e, sentry_lru, lru);
		if ((e->user != NULL && now >= e->expires) ||
		    (e->user == NULL && now >= e->held_until))
			session_remove(e);
	}
}

/* Idle past idle seconds (0: no idle limit)? */
static int
session_idle_over(int idle, const struct sentry *e, time_t now)
{
	return idle > 0 && now - e->last_used >= idle;
}

enum session_bind_result
session_bind(const struct conf_saml *s, const struct sockaddr *sa,
    const char *user, const char *sid, struct auth_groups *groups,
    time_t now, time_t expires, time_t *retry)
{
	struct sentry	*e;
	uint8_t		 key[16];
	uint64_t	 h;
	char		*u = NULL;
	size_t		 max, ulen = strlen(user);

	*retry = 0;
	if (session_key(sa, key) == -1 || strlen(user) >= SESSION_USER_MAX ||
	    strlen(sid) != SESSION_SID_LEN)
		return SESSION_NOMEM;
	if (s->session_max > 0 && expires > now + s->session_max)
		expires = now + s->session_max;
	/* Allocation outside the lock; most names fit the entry. */
	if (ulen >= sizeof(((struct sentry *)NULL)->ubuf) &&
	    (u = strdup(user)) == NULL)
		return SESSION_NOMEM;
	pthread_mutex_lock(&st.lock);
	session_seed();
	if (s->session_max > st.longest)
		st.longest = s->session_max;
	st.idle = s->session_idle;
	session_sweep(now);
	h = session_hash_addr(key);
	if ((e = session_find(key, h)) != NULL) {
		if (e->user == NULL && now < e->held_until) {
			*retry = e->held_until;
			pthread_mutex_unlock(&st.lock);
			free(u);
			return SESSION_HELD;
		}
		/*
		 * One user per address.  An address that changes users
		 * sooner than flip_guard after its last binding is shared
		 * (NAT, a terminal server) or being fought over: neither
		 * user may have it, since every request from it would be
		 * attributed to whoever signed in last.
		 */
		if (e->user != NULL && strcasecmp(e->user, user) != 0 &&
		    s->flip_guard > 0 && now - e->since < s->flip_guard) {
			session_entry_clear(e);
			e->held_until = now + s->flip_guard;
			*retry = e->held_until;
			pthread_mutex_unlock(&st.lock);
			free(u);
			return SESSION_FLIPPED;
		}
		session_entry_clear(e);
		TAILQ_REMOVE(&st.lru, e, lru);
	} else {
		max = st.max != 0 ? st.max : SESSION_TABLE_MAX;
		while (st.n >= max && !TAILQ_EMPTY(&st.lru))
			session_remove(TAILQ_LAST(&st.lru, sentry_lru));
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			pthread_mutex_unlock(&st.lock);
			free(u);
			return SESSION_NOMEM;
		}
		if (st.n >= st.nbuckets)
			session_grow();
		if (st.nbuckets == 0) {
			pthread_mutex_unlock(&st.lock);
			free(e);
			free(u);
			return SESSION_NOMEM;
		}
		memcpy(e->addr, key, 16);
		e->hash = h;
		e->hnext = st.buckets[h & (st.nbuckets - 1)];
		st.buckets[h & (st.nbuckets - 1)] = e;
		st.n++;
	}
	if (u == NULL) {
		memcpy(e->ubuf, user, ulen + 1);
		u = e->ubuf;
	}
	e->user = u;
	memcpy(e->sid, sid, SESSION_SID_LEN + 1);
	e->since = e->last_used = now;
	e->expires = expires;
	e->held_until = 0;
	e->groups = auth_groups_ref(groups);
	TAILQ_INSERT_HEAD(&st.lru, e, lru);
	pthread_mutex_unlock(&st.lock);
	return SESSION_BOUND;
}

/*
 * A copy of e into out, with a reference to its groups when ref, and the
 * address as text when text (inet_ntop costs as much as the rest of a
 * lookup: the gate does not need it).
 */
static void
session_copy(const struct sentry *e, struct session_info *out, int ref,
    int text)
{
	size_t	len = strlen(e->user);

	memcpy(out->user, e->user, len + 1);
	memcpy(out->sid, e->sid, sizeof(out->sid));
	if (text)
		session_key_text(e->addr, out->addr, sizeof(out->addr));
	else
		out->addr[0] = '\0';
	out->since = e->since;
	out->last_used = e->last_used;
	out->expires = e->expires;
	out->groups = ref ? auth_groups_ref(e->groups) : e->groups;
}

static int
session_get(const struct conf_saml *s, const struct sockaddr *sa,
    time_t now, struct session_info *out, int touch)
{
	struct sentry	*e;
	uint8_t		 key[16];

	out->groups = NULL;
	if (session_key(sa, key) == -1)
		return 0;
	pthread_mutex_lock(&st.lock);
	if (st.n == 0 || (e = session_find(key, session_hash_addr(key))) ==
	    NULL || e->user == NULL) {
		pthread_mutex_unlock(&st.lock);
		return 0;
	}
	if (now >= e->expires) {
		session_remove(e);
		pthread_mutex_unlock(&st.lock);
		return 0;
	}
	st.idle = s->session_idle;
	if (session_idle_over(s->session_idle, e, now)) {
		/* Kept for the cookie of the same sign-in (see above). */
		pthread_mutex_unlock(&st.lock);
		return 0;
	}
	/*
	 * The move to the head touches three more entries (cache misses
	 * that cost more than the rest of the lookup): once a second per
	 * session is enough for an LRU measured in seconds.
	 */
	if (touch && e->last_used != now) {
		e->last_used = now;
		if (e != TAILQ_FIRST(&st.lru)) {
			TAILQ_REMOVE(&st.lru, e, lru);
			TAILQ_INSERT_HEAD(&st.lru, e, lru);
		}
	}
	session_copy(e, out, 1, !touch);
	pthread_mutex_unlock(&st.lock);
	return 1;
}

int
session_lookup(const struct conf_saml *s, const struct sockaddr *sa,
    time_t now, struct session_info *out)
{
	return session_get(s, sa, now, out, 1);
}

int
session_peek(const struct conf_saml *s, const struct sockaddr *sa,
    time_t now, struct session_info *out)
{
	return session_get(s, sa, now, out, 0);
}

void
session_info_clear(struct session_info *out)
{
	auth_groups_unref(out->groups);
	out->groups = NULL;
}

int
session_groups_of(const struct sockaddr *sa, const char *sid, time_t now,
    struct auth_groups **groups)
{
	struct sentry	*e;
	uint8_t		 key[16];
	int		 rv = 0;

	*groups = NULL;
	if (session_key(sa, key) == -1 || strlen(sid) != SESSION_SID_LEN)
		return 0;
	pthread_mutex_lock(&st.lock);
	if (st.n > 0 && (e = session_find(key, session_hash_addr(key))) !=
	    NULL && e->user != NULL && now < e->expires &&
	    CRYPTO_memcmp(e->sid, sid, SESSION_SID_LEN) == 0) {
		*groups = auth_groups_ref(e->groups);
		rv = 1;
	}
	pthread_mutex_unlock(&st.lock);
	return rv;
}

int
session_end(const struct sockaddr *sa)
{
	struct sentry	*e;
	uint8_t		 key[16];
	int		 rv = 0;

	if (session_key(sa, key) == -1)
		return 0;
	pthread_mutex_lock(&st.lock);
	if (st.n > 0 && (e = session_find(key, session_hash_addr(key))) !=
	    NULL && e->user != NULL) {
		/* A hold after a flip stays: logging out does not lift it. */
		session_remove(e);
		rv = 1;
	}
	pthread_mutex_unlock(&st.lock);
	return rv;
}

/* Under the lock: the signed-out record of name[0..len), or NULL. */
static struct signout *
signout_find(const char *name, size_t len, time_t now)
{
	struct signout	**pp, *so;
	char		  low[SESSION_USER_MAX];
	uint64_t	  h;
	size_t		  i, nb = sizeof(st.signouts) / sizeof(st.signouts[0]);

	if (len >= sizeof(low))
		return NULL;
	for (i = 0; i < len; i++)
		low[i] = tolower((unsigned char)name[i]);
	low[len] = '\0';
	h = session_hash_name(low, len);
	for (pp = &st.signouts[h % nb]; (so = *pp) != NULL; ) {
		/* A record outlives every cookie it may refuse, no more. */
		if (st.longest > 0 && now - so->at > st.longest) {
			*pp = so->hnext;
			free(so);
			st.nsignouts--;
			continue;
		}
		if (so->hash == h && strcmp(so->name, low) == 0)
			return so;
		pp = &so->hnext;
	}
	return NULL;
}

/* Under the lock: user signed out at now. */
static void
signout_record(const char *user, time_t now)
{
	struct signout	*so, *next;
	size_t		 len = strlen(user), i, j;
	size_t		 nb = sizeof(st.signouts) / sizeof(st.signouts[0]);

	if (len >= SESSION_USER_MAX) {
		/* No cookie can name it; refuse everything older anyway. */
		st.signout_floor = now;
		return;
	}
	if ((so = signout_find(user, len, now)) != NULL) {
		so->at = now;
		return;
	}
	if (st.nsignouts >= SIGNOUT_MAX) {
		/*
		 * Too many to remember one by one: refuse every cookie
		 * issued until now instead.  Users then meet the identity
		 * provider once more; nobody keeps a revoked cookie.
		 */
		for (j = 0; j < nb; j++) {
			for (so = st.signouts[j]; so != NULL; so = next) {
				next = so->hnext;
				free(so);
			}
			st.signouts[j] = NULL;
		}
		st.nsignouts = 0;
		st.signout_floor = now;
		return;
	}
	if ((so = malloc(sizeof(*so) + len + 1)) == NULL) {
		st.signout_floor = now;		/* fail closed */
		return;
	}
	for (i = 0; i < len; i++)
		so->name[i] = tolower((unsigned char)user[i]);
	so->name[len] = '\0';
	so->at = now;
	so->hash = session_hash_name(so->name, len);
	so->hnext = st.signouts[so->hash % nb];
	st.signouts[so->hash % nb] = so;
	st.nsignouts++;
}

size_t
session_signout(const char *user, time_t now)
{
	struct sentry	*e, *next;
	size_t		 n = 0;

	pthread_mutex_lock(&st.lock);
	session_seed();
	for (e = TAILQ_FIRST(&st.lru); e != NULL; e = next) {
		next = TAILQ_NEXT(e, lru);
		if (e->user != NULL && auth_user_match(e->user, user)) {
			if (now < e->expires)
				n++;
			session_remove(e);
		}
	}
	signout_record(user, now);
	pthread_mutex_unlock(&st.lock);
	return n;
}

size_t
session_list(const char *user, time_t now,
    void (*cb)(void *, const struct session_info *), void *arg)
{
	struct sentry		*e;
	struct session_info	 info;
	size_t			 n = 0;

	pthread_mutex_lock(&st.lock);
	TAILQ_FOREACH(e, &st.lru, lru) {
		if (e->user == NULL || now >= e->expires ||
		    session_idle_over(st.idle, e, now) ||
		    (user != NULL && !auth_user_match(e->user, user)))
			continue;
		n++;
		/* No reference: the callee only reads, under the lock. */
		session_copy(e, &info, 0, 1);
		cb(arg, &info);
	}
	pthread_mutex_unlock(&st.lock);
	return n;
}

struct auth_groups *
session_groups_new(const char *const *names, size_t n)
{
	/* An assertion's groups are names only: the cn and the "DN". */
	return groups_new(1, n, (const char **)names, (const char **)names);
}

size_t
session_count(void)
{
	size_t	n;

	pthread_mutex_lock(&st.lock);
	n = st.n;
	pthread_mutex_unlock(&st.lock);
	return n;
}

void
session_reset(size_t max)
{
	struct signout	*so, *next;
	size_t		 j;

	pthread_mutex_lock(&st.lock);
	while (!TAILQ_EMPTY(&st.lru))
		session_remove(TAILQ_FIRST(&st.lru));
	free(st.buckets);
	st.buckets = NULL;
	st.nbuckets = 0;
	st.max = max;
	for (j = 0; j < sizeof(st.signouts) / sizeof(st.signouts[0]); j++) {
		for (so = st.signouts[j]; so != NULL; so = next) {
			next = so->hnext;
			free(so);
		}
		st.signouts[j] = NULL;
	}
	st.nsignouts = 0;
	st.signout_floor = 0;
	st.longest = 0;
	pthread_mutex_unlock(&st.lock);
}

/* The cookie. */

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding (RFC 4648 section 5); the length written. */
static size_t
b64url_encode(const uint8_t *in, size_t len, char *out)
{
	size_t		i, o = 0;
	uint32_t	v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

static int
b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decode base64url into out (room for outlen); the length, or -1. */
static long
b64url_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
	size_t		i, o = 0;
	uint32_t	v = 0;
	int		bits = 0, d;

	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++) {
		if ((d = b64url_val(in[i])) < 0)
			return -1;
		v = v << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (uint8_t)(v >> bits);
		}
	}
	return (long)o;
}

/* HMAC-SHA256 of text with the cookie key, base64url, into mac. */
static int
session_cookie_mac(const struct conf_saml *s, const char *text, size_t len,
    char mac[COOKIE_MAC_B64 + 1])
{
	uint8_t		md[EVP_MAX_MD_SIZE];
	unsigned	mdlen = 0;

	if (s->cookie_key == NULL || s->cookie_key_len == 0)
		return -1;
	if (HMAC(EVP_sha256(), s->cookie_key, (int)s->cookie_key_len,
	    (const unsigned char *)text, len, md, &mdlen) == NULL ||
	    mdlen != 32)
		return -1;
	b64url_encode(md, mdlen, mac);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

int
session_sid_new(char sid[SESSION_SID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t		  r[SESSION_SID_LEN / 2];
	size_t		  i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	for (i = 0; i < sizeof(r); i++) {
		sid[2 * i] = hex[r[i] >> 4];
		sid[2 * i + 1] = hex[r[i] & 15];
	}
	sid[SESSION_SID_LEN] = '\0';
	return 0;
}

int
session_cookie_make(const struct conf_saml *s, const char *user,
    const char *sid, time_t issued, time_t expires, char *out,
    size_t outlen)
{
	char	 u[(SESSION_USER_MAX * 4) / 3 + 4];
	char	 mac[COOKIE_MAC_B64 + 1];
	size_t	 len = strlen(user);
	int	 n;

	if (len >= SESSION_USER_MAX || strlen(sid) != SESSION_SID_LEN)
		return -1;
	b64url_encode((const uint8_t *)user, len, u);
	n = snprintf(out, outlen, "1.%s.%lld.%lld.%s", u, (long long)issued,
	    (long long)expires, sid);
	if (n < 0 || (size_t)n + 1 + COOKIE_MAC_B64 + 1 > outlen)
		return -1;
	if (session_cookie_mac(s, out, (size_t)n, mac) == -1)
		return -1;
	out[n] = '.';
	memcpy(out + n + 1, mac, COOKIE_MAC_B64 + 1);
	return 0;
}

/* A decimal time field [p, end): 0 and *t, or -1. */
static int
session_parse_time(const char *p, const char *end, time_t *t)
{
	long long	v = 0;

	if (p == end || end - p > 18)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	*t = (time_t)v;
	return 0;
}

/* Under the lock: did name[0..len) sign out at or after issued? */
static int
signout_covers(const char *name, size_t len, time_t issued, time_t now)
{
	struct signout	*so;

	so = signout_find(name, len, now);
	return so != NULL && issued <= so->at;
}

/* Under the lock: did the user sign out at or after issued? */
static int
session_signed_out(const char *user, time_t issued, time_t now)
{
	const char	*p;

	if (issued <= st.signout_floor)
		return 1;
	if (st.nsignouts == 0)
		return 0;
	if (signout_covers(user, strlen(user), issued, now))
		return 1;
	/* A bare-name signout covers the name in any domain or realm. */
	if ((p = strrchr(user, '\\')) != NULL &&
	    signout_covers(p + 1, strlen(p + 1), issued, now))
		return 1;
	if ((p = strchr(user, '@')) != NULL && p > user &&
	    signout_covers(user, (size_t)(p - user), issued, now))
		return 1;
	return 0;
}

int
session_cookie_check(const struct conf_saml *s, const char *value,
    size_t len, time_t now, struct session_cookie *out, const char **why)
{
	const char	*f[6], *end = value + len, *p;
	char		 text[SESSION_COOKIE_MAX], mac[COOKIE_MAC_B64 + 1];
	long		 ulen;
	size_t		 nf = 0, signedlen;
	int		 out_ok;

	memset(out, 0, sizeof(*out));
	*why = "malformed";
	if (len == 0 || len >= sizeof(text))
		return -1;
	/* Six dot-separated fields: version, user, issued, expires, sid, mac. */
	f[nf++] = value;
	for (p = value; p < end; p++)
		if (*p == '.') {
			if (nf == 6)
				return -1;
			f[nf++] = p + 1;
		}
	if (nf != 6 || f[1] - f[0] != 2 || f[0][0] != '1')
		return -1;
	signedlen = (size_t)(f[5] - 1 - value);
	/* The MAC first: nothing else of an unsigned value is believed. */
	memcpy(text, value, signedlen);
	text[signedlen] = '\0';
	if (session_cookie_mac(s, text, signedlen, mac) == -1) {
		*why = "no cookie key";
		return -1;
	}
	if ((size_t)(end - f[5]) != COOKIE_MAC_B64 ||
	    CRYPTO_memcmp(mac, f[5], COOKIE_MAC_B64) != 0) {
		OPENSSL_cleanse(mac, sizeof(mac));
		*why = "bad signature";
		return -1;
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	ulen = b64url_decode(f[1], (size_t)(f[2] - 1 - f[1]),
	    (uint8_t *)out->user, sizeof(out->user) - 1);
	if (ulen <= 0 || memchr(out->user, '\0', (size_t)ulen) != NULL ||
	    session_parse_time(f[2], f[3] - 1, &out->issued) == -1 ||
	    session_parse_time(f[3], f[4] - 1, &out->expires) == -1 ||
	    f[5] - 1 - f[4] != SESSION_SID_LEN) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->user[ulen] = '\0';
	memcpy(out->sid, f[4], SESSION_SID_LEN);
	out->sid[SESSION_SID_LEN] = '\0';
	if (now >= out->expires) {
		*why = "expired";
		memset(out, 0, sizeof(*out));
		return -1;
	}
	if (out->issued > now + COOKIE_FUTURE_SKEW) {
		*why = "issued in the future";
		memset(out, 0, sizeof(*out));
		return -1;
	}
	pthread_mutex_lock(&st.lock);
	session_seed();
	/* Signed-out records live as long as the cookies they refuse. */
	if (s->session_max > st.longest)
		st.longest = s->session_max;
	if (out->expires - out->issued > st.longest)
		st.longest = out->expires - out->issued;
	out_ok = !session_signed_out(out->user, out->issued, now);
	pthread_mutex_unlock(&st.lock);
	if (!out_ok) {
		*why = "the user signed out after it was issued";
		memset(out, 0, sizeof(*out));
		return -1;
	}
	*why = NULL;
	return 0;
}

int
session_cookie_find(const char *hdr, size_t len, const char *name,
    size_t n, const char **v, size_t *vlen)
{
	size_t	 i = 0, s, e, nl = strlen(name);

	while (i < len) {
		/* cookie-pair *( ";" SP cookie-pair ), leniently spaced */
		while (i < len && (hdr[i] == ' ' || hdr[i] == '\t' ||
		    hdr[i] == ';'))
			i++;
		s = i;
		while (i < len && hdr[i] != ';')
			i++;
		e = i;
		while (e > s && (hdr[e - 1] == ' ' || hdr[e - 1] == '\t'))
			e--;
		if (e - s > nl && hdr[s + nl] == '=' &&
		    memcmp(hdr + s, name, nl) == 0) {
			if (n-- == 0) {
				*v = hdr + s + nl + 1;
				*vlen = e - s - nl - 1;
				/* RFC 6265 allows a DQUOTEd value. */
				if (*vlen >= 2 && (*v)[0] == '"' &&
				    (*v)[*vlen - 1] == '"') {
					(*v)++;
					*vlen -= 2;
				}
				return 0;
			}
		}
	}
	return -1;
}
