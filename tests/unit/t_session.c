/*
 * t_session: the IP sessions and the portal cookie (auth/session.c),
 * on a fake clock: binding, lookup, idle and absolute expiry, the flip
 * guard, signout, the bound on the table, address forms, and cookie
 * signing, verifying, tampering, expiry and signed-out-before.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "unit.h"
#include "auth.h"
#include "groups.h"

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		abort();
	return ss;
}

#define SA(ss)	((const struct sockaddr *)&(ss))

static struct conf_saml	conf;
static uint8_t		key[32] = "0123456789abcdef0123456789abcdef";
static const char	sid1[] = "00112233445566778899aabbccddeeff";
static const char	sid2[] = "ffeeddccbbaa99887766554433221100";

static void
t_bind_lookup(void)
{
	struct sockaddr_storage	 a = addr("192.0.2.10"), b = addr("192.0.2.11");
	struct session_info	 si;
	time_t			 retry, t0 = 1000000;

	session_reset(0);
	CHECK(session_lookup(&conf, SA(a), t0, &si) == 0, "empty table");
	CHECK(session_bind(&conf, SA(a), "alice@example.test", sid1, NULL, t0,
	    t0 + 86400, &retry) == SESSION_BOUND, "bind");
	CHECK(session_lookup(&conf, SA(a), t0 + 1, &si) == 1, "lookup");
	CHECK(strcmp(si.user, "alice@example.test") == 0, "user %s", si.user);
	CHECK(strcmp(si.sid, sid1) == 0, "sid");
	CHECK(si.addr[0] == '\0', "no address text on the hot path");
	session_info_clear(&si);
	CHECK(session_peek(&conf, SA(a), t0 + 1, &si) == 1 &&
	    strcmp(si.addr, "192.0.2.10") == 0, "addr %s", si.addr);
	CHECK(si.expires == t0 + conf.session_max, "expires capped at "
	    "session_max: %lld", (long long)si.expires);
	CHECK(si.groups == NULL, "no groups");
	session_info_clear(&si);
	CHECK(session_lookup(&conf, SA(b), t0 + 1, &si) == 0, "other address");
	CHECK(session_count() == 1, "count");
	CHECK(session_end(SA(a)) == 1, "logout");
	CHECK(session_lookup(&conf, SA(a), t0 + 2, &si) == 0, "gone");
	CHECK(session_end(SA(a)) == 0, "logout twice");
}

static void
t_expiry(void)
{
	struct sockaddr_storage	 a = addr("198.51.100.1");
	struct session_info	 si;
	time_t			 retry, t0 = 2000000, t;

	session_reset(0);
	/* idle: 600 s without a request ends it; each request restarts it */
	session_bind(&conf, SA(a), "bob", sid1, NULL, t0, t0 + 3600, &retry);
	CHECK(session_lookup(&conf, SA(a), t0 + 599, &si) == 1, "within idle");
	CHECK(session_lookup(&conf, SA(a), t0 + 1198, &si) == 1,
	    "idle restarted by the lookup");
	CHECK(session_peek(&conf, SA(a), t0 + 1797, &si) == 1, "peek");
	CHECK(session_lookup(&conf, SA(a), t0 + 1798, &si) == 0,
	    "idle over (peek did not restart it)");
	/* kept, idle, for the cookie of the same sign-in */
	{
		struct auth_groups *g;

		CHECK(session_groups_of(SA(a), sid1, t0 + 1800, &g) == 1,
		    "idle session still known to its sid");
		CHECK(session_groups_of(SA(a), sid2, t0 + 1800, &g) == 0,
		    "not to another sid");
	}
	/* absolute: past expires, whatever the use */
	session_bind(&conf, SA(a), "bob", sid1, NULL, t0, t0 + 3600, &retry);
	for (t = t0; t < t0 + 3600; t += 500)
		CHECK(session_lookup(&conf, SA(a), t, &si) == 1, "in use at %lld",
		    (long long)(t - t0));
	CHECK(session_lookup(&conf, SA(a), t0 + 3600, &si) == 0,
	    "absolute end");
	CHECK(session_count() == 0, "expired entry dropped on lookup");
	/* session_idle 0: no idle limit */
	conf.session_idle = 0;
	session_bind(&conf, SA(a), "bob", sid1, NULL, t0, t0 + 3600, &retry);
	CHECK(session_lookup(&conf, SA(a), t0 + 3599, &si) == 1, "no idle");
	conf.session_idle = 600;
}

static void
t_flip(void)
{
	struct sockaddr_storage	 a = addr("203.0.113.5");
	struct session_info	 si;
	time_t			 retry, t0 = 3000000;

	session_reset(0);
	/* flip_guard 60 */
	CHECK(session_bind(&conf, SA(a), "alice", sid1, NULL, t0, t0 + 3600,
	    &retry) == SESSION_BOUND, "alice");
	CHECK(session_bind(&conf, SA(a), "ALICE", sid2, NULL, t0 + 5, t0 + 3600,
	    &retry) == SESSION_BOUND, "the same user again is no flip");
	CHECK(session_bind(&conf, SA(a), "bob", sid1, NULL, t0 + 30, t0 + 3600,
	    &retry) == SESSION_FLIPPED, "bob within the guard: flipped");
	CHECK(retry == t0 + 90, "held until %lld", (long long)(retry - t0));
	CHECK(session_lookup(&conf, SA(a), t0 + 31, &si) == 0,
	    "the address lost its session");
	CHECK(session_bind(&conf, SA(a), "alice", sid1, NULL, t0 + 40,
	    t0 + 3600, &retry) == SESSION_HELD, "alice again: held");
	CHECK(session_bind(&conf, SA(a), "bob", sid1, NULL, t0 + 89, t0 + 3600,
	    &retry) == SESSION_HELD, "bob just before: held");
	CHECK(session_bind(&conf, SA(a), "bob", sid1, NULL, t0 + 90, t0 + 3600,
	    &retry) == SESSION_BOUND, "after the guard: bound");
	CHECK(session_lookup(&conf, SA(a), t0 + 91, &si) == 1 &&
	    strcmp(si.user, "bob") == 0, "bob's");
	/* a change of user after the guard is a plain replacement */
	CHECK(session_bind(&conf, SA(a), "carol", sid2, NULL, t0 + 200,
	    t0 + 3600, &retry) == SESSION_BOUND, "carol later: bound");
	CHECK(session_lookup(&conf, SA(a), t0 + 201, &si) == 1 &&
	    strcmp(si.user, "carol") == 0, "carol's");
	/* flip_guard 0: no guard */
	conf.flip_guard = 0;
	CHECK(session_bind(&conf, SA(a), "dave", sid2, NULL, t0 + 202,
	    t0 + 3600, &retry) == SESSION_BOUND, "no guard");
	conf.flip_guard = 60;
}

static void
t_signout_list(void)
{
	struct sockaddr_storage	 a = addr("192.0.2.1"), b = addr("192.0.2.2");
	struct sockaddr_storage	 c = addr("2001:db8::1");
	struct session_info	 si;
	time_t			 retry, t0 = 4000000;

	session_reset(0);
	session_bind(&conf, SA(a), "EXAMPLE\\alice", sid1, NULL, t0, t0 + 3600,
	    &retry);
	session_bind(&conf, SA(b), "alice@example.test", sid1, NULL, t0,
	    t0 + 3600, &retry);
	session_bind(&conf, SA(c), "bob@example.test", sid2, NULL, t0,
	    t0 + 3600, &retry);
	CHECK(session_signout("carol", t0 + 2) == 0, "nobody");
	CHECK(session_signout("alice", t0 + 2) == 2, "a bare name: any domain "
	    "or realm");
	CHECK(session_lookup(&conf, SA(a), t0 + 3, &si) == 0 &&
	    session_lookup(&conf, SA(b), t0 + 3, &si) == 0, "alice's gone");
	CHECK(session_lookup(&conf, SA(c), t0 + 3, &si) == 1, "bob's stays");
	session_info_clear(&si);
	CHECK(session_signout("bob@EXAMPLE.test", t0 + 4) == 1, "full name, "
	    "any case");
}

static void
count_cb(void *arg, const struct session_info *si)
{
	size_t *n = arg;

	(*n)++;
	CHECK(si->user[0] != '\0', "listed user");
}

static void
t_list(void)
{
	struct sockaddr_storage	 a = addr("192.0.2.1"), b = addr("192.0.2.2");
	time_t			 retry, t0 = 4500000;
	size_t			 seen = 0;

	session_reset(0);
	session_bind(&conf, SA(a), "alice", sid1, NULL, t0, t0 + 3600, &retry);
	session_bind(&conf, SA(b), "bob", sid2, NULL, t0 - 700, t0 + 3600,
	    &retry);
	CHECK(session_list(NULL, t0, count_cb, &seen) == 1 && seen == 1,
	    "idle bob is not listed");
	seen = 0;
	CHECK(session_list("ALICE", t0, count_cb, &seen) == 1, "alice");
	CHECK(session_list("bob", t0, count_cb, &seen) == 0, "bob idle");
}

static void
t_address_forms(void)
{
	struct sockaddr_storage	 v4 = addr("192.0.2.77");
	struct sockaddr_storage	 mapped = addr("::ffff:192.0.2.77");
	struct sockaddr_storage	 v6 = addr("2001:db8::77"), v6b = addr("2001:db8::78");
	struct session_info	 si;
	time_t			 retry, t0 = 5000000;

	session_reset(0);
	session_bind(&conf, SA(mapped), "alice", sid1, NULL, t0, t0 + 3600,
	    &retry);
	CHECK(session_peek(&conf, SA(v4), t0, &si) == 1, "mapped = IPv4");
	CHECK(strcmp(si.addr, "192.0.2.77") == 0, "shown as IPv4: %s", si.addr);
	session_bind(&conf, SA(v6), "bob", sid2, NULL, t0, t0 + 3600, &retry);
	CHECK(session_peek(&conf, SA(v6), t0, &si) == 1 &&
	    strcmp(si.user, "bob") == 0 && strcmp(si.addr, "2001:db8::77") ==
	    0, "IPv6");
	CHECK(session_lookup(&conf, SA(v6b), t0, &si) == 0, "the next address");
	CHECK(session_count() == 2, "two entries");
}

/* session_addr_text: the text a SAML sign-in is bound to. */
static void
t_addr_text(void)
{
	struct sockaddr_storage	 v4 = addr("192.0.2.77");
	struct sockaddr_storage	 mapped = addr("::ffff:192.0.2.77");
	struct sockaddr_storage	 v6 = addr("2001:DB8:0::77");
	struct sockaddr_storage	 other;
	char			 buf[64], small[8];

	CHECK(session_addr_text(SA(v4), buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "192.0.2.77") == 0, "IPv4: %s", buf);
	CHECK(session_addr_text(SA(mapped), buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "192.0.2.77") == 0, "IPv4-mapped as IPv4: %s", buf);
	CHECK(session_addr_text(SA(v6), buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "2001:db8::77") == 0, "IPv6: %s", buf);
	memset(&other, 0, sizeof(other));
	other.ss_family = AF_UNIX;
	CHECK(session_addr_text(SA(other), buf, sizeof(buf)) == -1 &&
	    buf[0] == '\0', "another family");
	CHECK(session_addr_text(SA(v4), small, sizeof(small)) == -1 &&
	    small[0] == '\0', "a buffer too small");
}

static void
t_bound_groups(void)
{
	struct sockaddr_storage	 a;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a;
	struct session_info	 si;
	struct auth_groups	*g, *g2;
	const char		*names[] = { "Finance", "Staff" };
	time_t			 retry, t0 = 6000000;
	uint32_t		 i;

	session_reset(100);
	memset(&a, 0, sizeof(a));
	sin->sin_family = AF_INET;
	for (i = 0; i < 150; i++) {
		sin->sin_addr.s_addr = htonl(0x0a000000 + i);
		session_bind(&conf, SA(a), "u", sid1, NULL, t0 + i, t0 + 3600,
		    &retry);
	}
	CHECK(session_count() == 100, "bounded: %zu", session_count());
	sin->sin_addr.s_addr = htonl(0x0a000000 + 10);
	CHECK(session_lookup(&conf, SA(a), t0 + 200, &si) == 0,
	    "the least recently used went");
	sin->sin_addr.s_addr = htonl(0x0a000000 + 149);
	CHECK(session_lookup(&conf, SA(a), t0 + 200, &si) == 1, "recent stays");
	session_info_clear(&si);

	/* groups: the session holds its own reference */
	session_reset(0);
	g = groups_new(1, 2, names, names);
	session_bind(&conf, SA(a), "alice", sid1, g, t0, t0 + 3600, &retry);
	auth_groups_unref(g);
	CHECK(session_lookup(&conf, SA(a), t0 + 1, &si) == 1 &&
	    si.groups != NULL && auth_groups_has(si.groups, "finance"),
	    "groups from the session");
	session_info_clear(&si);
	session_info_clear(&si);
	CHECK(session_groups_of(SA(a), sid1, t0 + 2, &g2) == 1 && g2 != NULL &&
	    auth_groups_count(g2) == 2, "groups of the sid");
	auth_groups_unref(g2);
	session_reset(0);
}

static void
t_cookie(void)
{
	struct session_cookie	 ck;
	const char		*why;
	char			 v[SESSION_COOKIE_MAX], w[SESSION_COOKIE_MAX];
	char			 x[SESSION_COOKIE_MAX + 2], longuser[600];
	time_t			 t0 = 7000000;
	size_t			 i;

	session_reset(0);
	CHECK(session_cookie_make(&conf, "EXAMPLE\\alice", sid1, t0, t0 + 3600,
	    v, sizeof(v)) == 0, "make");
	for (i = 0; v[i] != '\0'; i++)
		CHECK(v[i] > 0x20 && v[i] < 0x7f && v[i] != ';' && v[i] != ',' &&
		    v[i] != '"' && v[i] != '\\', "cookie-octet at %zu", i);
	CHECK(session_cookie_check(&conf, v, strlen(v), t0 + 10, &ck, &why) ==
	    0, "verify: %s", why ? why : "");
	CHECK(strcmp(ck.user, "EXAMPLE\\alice") == 0 && strcmp(ck.sid, sid1) ==
	    0 && ck.issued == t0 && ck.expires == t0 + 3600, "fields");
	CHECK(session_cookie_check(&conf, v, strlen(v), t0 + 3600, &ck, &why) ==
	    -1 && strcmp(why, "expired") == 0, "expired");
	/* every byte changed, in turn, breaks it */
	for (i = 0; v[i] != '\0'; i++) {
		memcpy(w, v, sizeof(w));
		w[i] = w[i] == 'A' ? 'B' : 'A';
		CHECK(session_cookie_check(&conf, w, strlen(w), t0 + 10, &ck,
		    &why) == -1, "tampered at %zu", i);
	}
	CHECK(session_cookie_check(&conf, v, strlen(v) - 1, t0 + 10, &ck,
	    &why) == -1, "truncated");
	snprintf(x, sizeof(x), "%s.", v);
	CHECK(session_cookie_check(&conf, x, strlen(x), t0 + 10, &ck, &why) ==
	    -1, "a field more");
	CHECK(session_cookie_check(&conf, "", 0, t0, &ck, &why) == -1, "empty");
	/* another key refuses it */
	key[0] ^= 1;
	CHECK(session_cookie_check(&conf, v, strlen(v), t0 + 10, &ck, &why) ==
	    -1 && strcmp(why, "bad signature") == 0, "other key");
	key[0] ^= 1;
	/* signed out: cookies issued until then are refused, later ones not */
	CHECK(session_signout("alice", t0 + 20) == 0, "signout");
	CHECK(session_cookie_check(&conf, v, strlen(v), t0 + 30, &ck, &why) ==
	    -1, "signed out after issue");
	session_cookie_make(&conf, "EXAMPLE\\alice", sid2, t0 + 21, t0 + 3600,
	    w, sizeof(w));
	CHECK(session_cookie_check(&conf, w, strlen(w), t0 + 30, &ck, &why) ==
	    0, "issued after the signout");
	session_cookie_make(&conf, "alice@example.test", sid2, t0 + 19,
	    t0 + 3600, w, sizeof(w));
	CHECK(session_cookie_check(&conf, w, strlen(w), t0 + 30, &ck, &why) ==
	    -1, "bare-name signout covers the realm form");
	session_cookie_make(&conf, "bob@example.test", sid2, t0 + 19,
	    t0 + 3600, w, sizeof(w));
	CHECK(session_cookie_check(&conf, w, strlen(w), t0 + 30, &ck, &why) ==
	    0, "bob unaffected");
	/* far in the future: not ours */
	session_cookie_make(&conf, "bob", sid2, t0 + 10000, t0 + 20000, w,
	    sizeof(w));
	CHECK(session_cookie_check(&conf, w, strlen(w), t0, &ck, &why) == -1,
	    "issued in the future");
	/* user names at the limit */
	memset(longuser, 'x', sizeof(longuser));
	longuser[SESSION_USER_MAX - 1] = '\0';
	CHECK(session_cookie_make(&conf, longuser, sid1, t0, t0 + 10, w,
	    sizeof(w)) == 0, "511-byte user");
	CHECK(session_cookie_check(&conf, w, strlen(w), t0, &ck, &why) == 0 &&
	    strlen(ck.user) == SESSION_USER_MAX - 1, "511-byte user verifies");
	longuser[SESSION_USER_MAX - 1] = 'x';
	longuser[SESSION_USER_MAX] = '\0';
	CHECK(session_cookie_make(&conf, longuser, sid1, t0, t0 + 10, w,
	    sizeof(w)) == -1, "512-byte user refused");
	CHECK(session_cookie_make(&conf, "a", sid1, t0, t0 + 10, w, 40) == -1,
	    "too small a buffer");
	/* no key: nothing is signed or believed */
	conf.cookie_key_len = 0;
	CHECK(session_cookie_make(&conf, "a", sid1, t0, t0 + 10, w,
	    sizeof(w)) == -1, "no key");
	CHECK(session_cookie_check(&conf, v, strlen(v), t0 + 10, &ck, &why) ==
	    -1, "no key, no cookie");
	conf.cookie_key_len = sizeof(key);
}

/* Past 65536 signed-out users: every older cookie is refused (fail closed). */
static void
t_signout_overflow(void)
{
	struct session_cookie	 ck;
	const char		*why;
	char			 v[SESSION_COOKIE_MAX], w[SESSION_COOKIE_MAX];
	char			 name[32];
	time_t			 t0 = 8000000;
	int			 i;

	session_reset(0);
	session_cookie_make(&conf, "zoe", sid1, t0, t0 + 3600, v, sizeof(v));
	for (i = 0; i < 65536; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		session_signout(name, t0 + 1);
	}
	CHECK(session_cookie_check(&conf, v, strlen(v), t0 + 2, &ck, &why) ==
	    0, "65536 records: zoe unaffected");
	session_signout("one-more", t0 + 2);
	CHECK(session_cookie_check(&conf, v, strlen(v), t0 + 3, &ck, &why) ==
	    -1, "one more: every older cookie refused");
	session_cookie_make(&conf, "zoe", sid1, t0 + 3, t0 + 3600, w, sizeof(w));
	CHECK(session_cookie_check(&conf, w, strlen(w), t0 + 4, &ck, &why) ==
	    0, "a newer cookie is fine");
	session_reset(0);
}

static void
t_cookie_find(void)
{
	const char	*h = "a=1; iaproxy_session=X.Y; b=2;iaproxy_session=\"Z\"";
	const char	*v;
	size_t		 vlen;

	CHECK(session_cookie_find(h, strlen(h), "iaproxy_session", 0, &v,
	    &vlen) == 0 && vlen == 3 && memcmp(v, "X.Y", 3) == 0, "first");
	CHECK(session_cookie_find(h, strlen(h), "iaproxy_session", 1, &v,
	    &vlen) == 0 && vlen == 1 && *v == 'Z', "second, quoted");
	CHECK(session_cookie_find(h, strlen(h), "iaproxy_session", 2, &v,
	    &vlen) == -1, "no third");
	CHECK(session_cookie_find("xiaproxy_session=1", 18, "iaproxy_session",
	    0, &v, &vlen) == -1, "not a prefix match");
	CHECK(session_cookie_find("iaproxy_session", 15, "iaproxy_session",
	    0, &v, &vlen) == -1, "no value");
}

int
main(void)
{
	conf.enabled = 1;
	conf.cookie_key = key;
	conf.cookie_key_len = sizeof(key);
	conf.session_idle = 600;
	conf.session_max = 3600;
	conf.flip_guard = 60;
	t_bind_lookup();
	t_expiry();
	t_flip();
	t_signout_list();
	t_list();
	t_address_forms();
	t_addr_text();
	t_bound_groups();
	t_cookie();
	t_signout_overflow();
	t_cookie_find();
	session_reset(0);
	return unit_done("t_session");
}
