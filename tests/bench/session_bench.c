/*
 * session_bench: the cost of an IP-session lookup, the gate's question
 * on every request from a network that signs in with SAML
 * (auth/session.c: session_lookup, session_info_clear included).
 *
 * usage: session_bench [NSESSIONS [LOOKUPS]]	(100000, 5000000)
 *
 * NSESSIONS addresses (IPv4, spread over a /8, and every eighth one
 * IPv6) are bound, then looked up in a shuffled order on one thread,
 * then on two threads at once (one mutex for the whole table), and a
 * miss (an address with no session) on one thread.  Prints "name value"
 * lines, nanoseconds per lookup; exits 1 when a lookup answers wrong.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"

static struct conf_saml		 conf;
static struct sockaddr_storage	*addrs;
static size_t			*order;
static size_t			 nsessions, nlookups;
static time_t			 t0 = 1700000000;

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
make_addr(size_t i, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (i % 8 == 7) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr.s6_addr[0] = 0x20;
		sin6->sin6_addr.s6_addr[1] = 0x01;
		sin6->sin6_addr.s6_addr[2] = 0x0d;
		sin6->sin6_addr.s6_addr[3] = 0xb8;
		memcpy(&sin6->sin6_addr.s6_addr[8], &i, sizeof(i));
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i * 7);
	}
}

/* Look up nlookups addresses from start in the shuffled order. */
static void *
run(void *arg)
{
	struct session_info	 si;
	size_t			 i, start = (size_t)arg, bad = 0;

	for (i = 0; i < nlookups; i++) {
		size_t k = order[(start + i) % nsessions];

		if (session_lookup(&conf, (const struct sockaddr *)&addrs[k],
		    t0 + 1, &si) != 1)
			bad++;
		session_info_clear(&si);
	}
	return (void *)bad;
}

int
main(int argc, char *argv[])
{
	struct session_info	 si;
	struct sockaddr_storage	 miss;
	pthread_t		 th[2];
	char			 user[64];
	size_t			 i, j, t, bad = 0;
	double			 s, e;
	time_t			 retry;
	void			*rv;

	nsessions = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	nlookups = argc > 2 ? strtoul(argv[2], NULL, 10) : 5000000;
	if (nsessions == 0 || nlookups == 0)
		return 2;
	conf.session_idle = 3600;
	conf.session_max = 36000;
	conf.flip_guard = 60;
	addrs = calloc(nsessions, sizeof(*addrs));
	order = calloc(nsessions, sizeof(*order));
	if (addrs == NULL || order == NULL)
		return 2;
	srandom(1);
	s = now_s();
	for (i = 0; i < nsessions; i++) {
		make_addr(i, &addrs[i]);
		snprintf(user, sizeof(user), "user%zu@example.test", i);
		if (session_bind(&conf, (struct sockaddr *)&addrs[i], user,
		    "00112233445566778899aabbccddeeff", NULL, t0, t0 + 36000,
		    &retry) != SESSION_BOUND)
			bad++;
		order[i] = i;
	}
	e = now_s();
	printf("sessions %zu\n", session_count());
	printf("bind_ns %.0f\n", (e - s) * 1e9 / nsessions);
	for (i = nsessions - 1; i > 0; i--) {
		j = (size_t)random() % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}

	s = now_s();
	bad += (size_t)run((void *)0);
	e = now_s();
	printf("lookup_ns_1thread %.1f\n", (e - s) * 1e9 / nlookups);

	s = now_s();
	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, run, (void *)(i * nsessions / 2));
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], &rv);
		bad += (size_t)rv;
	}
	e = now_s();
	/* Wall time over all lookups of both threads: the throughput cost. */
	printf("lookup_ns_2threads %.1f\n", (e - s) * 1e9 / (2 * nlookups));

	memset(&miss, 0, sizeof(miss));
	((struct sockaddr_in *)&miss)->sin_family = AF_INET;
	((struct sockaddr_in *)&miss)->sin_addr.s_addr = htonl(0xc0000201);
	s = now_s();
	for (i = 0; i < nlookups; i++)
		if (session_lookup(&conf, (struct sockaddr *)&miss, t0 + 1,
		    &si) != 0)
			bad++;
	e = now_s();
	printf("miss_ns %.1f\n", (e - s) * 1e9 / nlookups);
	printf("wrong %zu\n", bad);
	session_reset(0);
	free(addrs);
	free(order);
	return bad == 0 ? 0 : 1;
}
