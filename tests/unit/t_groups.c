/*
 * The group cache and the name-to-filter mapping, without a directory:
 * names as NTLM, Kerberos and SAML give them mapped to %u %d %p %m; the
 * filter values escaped as RFC 4515 asks (injection attempts, NUL,
 * bytes above 0x7f); the cache driven with a fake clock: hits, misses
 * queued and coalesced into one fetch, positive and negative TTLs,
 * refresh-ahead, stale-if-error, failures, LRU eviction, purge (exact,
 * bare name across domains, everyone, during a fetch), cancel; and the
 * immutable group list matched by cn or DN without regard to case.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "dir.h"
#include "groups.h"
#include "unit.h"

#define SEC	1000000LL

static char *
filter_for(const char *tmpl, const char *name, const struct config *conf)
{
	struct dir_names n;

	if (dir_names_parse(name, strlen(name), conf, &n) == -1)
		return NULL;
	return dir_filter_build(tmpl, &n);
}

static void
test_names(void)
{
	struct config		 c;
	struct conf_realm	 realm = { "EXAMPLE.TEST", "EXAMPLE" };
	struct dir_names	 n;
	char			 big[700];

	CHECK(dir_names_parse("EXAMPLE\\alice", 13, NULL, &n) == 0, "ntlm");
	CHECK(strcmp(n.u, "alice") == 0 && n.ulen == 5, "%%u %s", n.u);
	CHECK(strcmp(n.d, "EXAMPLE") == 0, "%%d %s", n.d);
	CHECK(strcmp(n.p, "alice@EXAMPLE") == 0, "%%p without realm %s", n.p);
	CHECK(strcmp(n.m, n.p) == 0, "%%m = %%p");

	CHECK(dir_names_parse("alice@EXAMPLE.TEST", 18, NULL, &n) == 0,
	    "kerberos");
	CHECK(strcmp(n.u, "alice") == 0 && strcmp(n.d, "EXAMPLE.TEST") == 0 &&
	    strcmp(n.p, "alice@EXAMPLE.TEST") == 0 &&
	    strcmp(n.m, "alice@EXAMPLE.TEST") == 0, "%s %s %s", n.u, n.d, n.p);
	/* A UPN whose user part holds '@': the last one splits. */
	CHECK(dir_names_parse("a@b@example.test", 16, NULL, &n) == 0 &&
	    strcmp(n.u, "a@b") == 0 && strcmp(n.d, "example.test") == 0,
	    "last @: %s %s", n.u, n.d);
	CHECK(dir_names_parse("alice", 5, NULL, &n) == 0 &&
	    strcmp(n.u, "alice") == 0 && n.dlen == 0 &&
	    strcmp(n.p, "alice") == 0, "bare name without realm: %s", n.p);
	CHECK(dir_names_parse("", 0, NULL, &n) == -1, "empty");
	CHECK(dir_names_parse("EXAMPLE\\", 8, NULL, &n) == -1, "no user");
	CHECK(dir_names_parse("alice@", 6, NULL, &n) == -1, "no realm");
	CHECK(dir_names_parse("@x", 2, NULL, &n) == -1, "no user before @");
	memset(big, 'a', sizeof(big));
	CHECK(dir_names_parse(big, sizeof(big), NULL, &n) == -1, "too long");

	/* The realm of a domain: base_dn's dc= parts, or realm_map. */
	memset(&c, 0, sizeof(c));
	c.ldap.enabled = 1;
	c.ldap.base_dn = "ou=people, DC=ad,dc=Example,dc=test";
	CHECK(dir_names_parse("ADEXAMPLE\\bob", 13, &c, &n) == 0 &&
	    strcmp(n.p, "bob@AD.EXAMPLE.TEST") == 0, "UPN suffix from base_dn: "
	    "%s", n.p);
	CHECK(dir_names_parse("bob", 3, &c, &n) == 0 &&
	    strcmp(n.p, "bob@AD.EXAMPLE.TEST") == 0, "a bare name too: %s",
	    n.p);
	c.negotiate.realms = &realm;
	c.negotiate.nrealms = 1;
	CHECK(dir_names_parse("example\\carol", 13, &c, &n) == 0 &&
	    strcmp(n.p, "carol@EXAMPLE.TEST") == 0, "realm_map backwards: %s",
	    n.p);
	CHECK(dir_names_split("dave", "EXAMPLE", &c, &n) == 0 &&
	    strcmp(n.u, "dave") == 0 && strcmp(n.d, "EXAMPLE") == 0 &&
	    strcmp(n.p, "dave@EXAMPLE.TEST") == 0, "split: %s", n.p);
	CHECK(dir_names_split("erin", "", NULL, &n) == 0 &&
	    strcmp(n.p, "erin") == 0 && n.dlen == 0, "split, no domain: %s",
	    n.p);
}

static void
test_filters(void)
{
	struct dir_names n;
	char		*f;

	f = filter_for("(uid=%u)", "EXAMPLE\\alice", NULL);
	CHECK(f != NULL && strcmp(f, "(uid=alice)") == 0, "%s", f);
	free(f);
	f = filter_for("(&(sAMAccountName=%u)(dom=%d))", "EXAMPLE\\alice", NULL);
	CHECK(f != NULL && strcmp(f, "(&(sAMAccountName=alice)(dom=EXAMPLE))")
	    == 0, "%s", f);
	free(f);
	f = filter_for("(userPrincipalName=%p)", "alice@EXAMPLE.TEST", NULL);
	CHECK(f != NULL && strcmp(f, "(userPrincipalName=alice@EXAMPLE.TEST)")
	    == 0, "%s", f);
	free(f);
	f = filter_for("(mail=%m)", "alice@example.test", NULL);
	CHECK(f != NULL && strcmp(f, "(mail=alice@example.test)") == 0, "%s",
	    f);
	free(f);
	f = filter_for("(cn=100%%)(uid=%u)", "bob", NULL);
	CHECK(f != NULL && strcmp(f, "(cn=100%)(uid=bob)") == 0, "%%%%: %s", f);
	free(f);

	/* Injection attempts match nothing but themselves (RFC 4515 3). */
	f = filter_for("(uid=%u)", "EXAMPLE\\alice*)(uid=*", NULL);
	CHECK(f != NULL && strcmp(f, "(uid=alice\\2A\\29\\28uid=\\2A)") == 0,
	    "%s", f);
	free(f);
	f = filter_for("(uid=%u)", "*", NULL);
	CHECK(f != NULL && strcmp(f, "(uid=\\2A)") == 0, "%s", f);
	free(f);
	f = filter_for("(uid=%u)", "a\\b\\c", NULL);
	/* The first '\' splits DOMAIN\user; the user's own is escaped. */
	CHECK(f != NULL && strcmp(f, "(uid=b\\5Cc)") == 0, "%s", f);
	free(f);
	f = filter_for("(uid=%u)", "caf\xc3\xa9", NULL);
	CHECK(f != NULL && strcmp(f, "(uid=caf\\C3\\A9)") == 0, "%s", f);
	free(f);
	f = filter_for("(&(uid=%u)(objectClass=*))", "x)(|(uid=*", NULL);
	CHECK(f != NULL && strstr(f, "(|") == NULL, "no new filter: %s", f);
	free(f);

	/* A NUL inside a value is escaped too, not a string end. */
	CHECK(dir_names_parse("ali\0ce", 6, NULL, &n) == 0 && n.ulen == 6,
	    "a counted name keeps its NUL");
	f = dir_filter_build("(uid=%u)", &n);
	CHECK(f != NULL && strcmp(f, "(uid=ali\\00ce)") == 0, "%s", f);
	free(f);
	f = dir_filter_escape("\0", 1);
	CHECK(f != NULL && strcmp(f, "\\00") == 0, "%s", f);
	free(f);

	/* Too long a filter: refused, not cut. */
	memset(&n, 0, sizeof(n));
	memset(n.u, '*', DIR_NAME_MAX - 1);
	n.ulen = DIR_NAME_MAX - 1;
	f = dir_filter_build("(|(uid=%u)(cn=%u)(sn=%u))", &n);
	CHECK(f == NULL, "a filter over %d bytes is refused", DIR_FILTER_MAX);
	free(f);
}

static struct auth_groups *
mk(int found, const char *cn1, const char *dn1)
{
	const char *cn[1] = { cn1 }, *dn[1] = { dn1 };

	return groups_new(found, cn1 != NULL ? 1 : 0, cn, dn);
}

static void
test_groups_list(void)
{
	const char		*cn[3] = { "Finance", "staff", "Domain Users" };
	const char		*dn[3] = { "cn=Finance,ou=groups,dc=example,dc=test",
				    "cn=staff,ou=groups,dc=example,dc=test",
				    "cn=Domain Users,cn=Users,dc=ad,dc=test" };
	struct auth_groups	*g = groups_new(1, 3, cn, dn);

	CHECK(auth_groups_count(g) == 3, "three");
	CHECK(auth_groups_has(g, "finance"), "cn, other case");
	CHECK(auth_groups_has(g, "STAFF"), "cn upper");
	CHECK(auth_groups_has(g, "domain users"), "cn with a space");
	CHECK(auth_groups_has(g, "CN=Finance,OU=Groups,DC=example,DC=test"),
	    "DN, other case");
	CHECK(auth_groups_has(g, "cn=staff, ou=groups, dc=example, dc=test"),
	    "DN with spaces after commas");
	CHECK(!auth_groups_has(g, "fin"), "no prefix match");
	CHECK(!auth_groups_has(g, "cn=staff,ou=other,dc=example,dc=test"),
	    "another DN");
	CHECK(!auth_groups_has(g, "cn=nope,,"), "a bad DN");
	CHECK(!auth_groups_has(NULL, "staff"), "no groups");
	CHECK(auth_groups_found(g), "found");
	CHECK(strcmp(auth_groups_cn(g, 1), "staff") == 0, "cn 1");
	CHECK(auth_groups_cn(g, 3) == NULL, "out of range");
	CHECK(auth_groups_ref(g) == g, "ref");
	auth_groups_unref(g);
	auth_groups_unref(g);
	CHECK(strcmp(auth_groups_source_name(AUTH_GROUPS_STALE), "stale") == 0,
	    "source name");
}

static void
wait_init(struct gwaiter *w)
{
	memset(w, 0, sizeof(*w));
	w->state = GW_NEW;
}

static size_t
count_out(struct gwaiters *out)
{
	struct gwaiter	*w;
	size_t		 n = 0;

	TAILQ_FOREACH(w, out, link)
		n++;
	return n;
}

/* Release the answers of the waiters in out. */
static void
drain(struct gwaiters *out)
{
	struct gwaiter	*w;

	while ((w = TAILQ_FIRST(out)) != NULL) {
		TAILQ_REMOVE(out, w, link);
		auth_groups_unref(w->groups);
		w->groups = NULL;
	}
}

static void
test_cache(void)
{
	struct gcache		*gc = gcache_new(3);
	struct gcache_ttl	 t = { 300 * SEC, 60 * SEC, 3600 * SEC, 30 * SEC };
	struct gcache_stats	 st;
	struct gwaiter		 w1, w2, w3;
	struct gwaiters		 out;
	struct gfetch		*f, *f2;
	struct auth_groups	*g;
	enum auth_groups_source	 src;
	size_t			 entries, fetches;
	long			 age;
	int64_t			 now = 1000 * SEC;
	int			 r;

	TAILQ_INIT(&out);
	/* A miss without a waiter asks for one; nothing is made. */
	r = gcache_lookup(gc, "example\\alice", 13, now, &t, &g, &src, NULL, &f);
	CHECK(r == GC_MISS && f == NULL, "first lookup misses (%d)", r);

	/* Three concurrent misses: one fetch, two coalesced. */
	wait_init(&w1);
	wait_init(&w2);
	wait_init(&w3);
	r = gcache_lookup(gc, "example\\alice", 13, now, &t, &g, &src, &w1, &f);
	CHECK(r == GC_QUEUED && f != NULL, "queued with a new fetch");
	r = gcache_lookup(gc, "example\\alice", 13, now, &t, &g, &src, &w2, &f2);
	CHECK(r == GC_QUEUED && f2 == NULL, "coalesced: no second fetch");
	r = gcache_lookup(gc, "example\\alice", 13, now, &t, &g, &src, &w3, &f2);
	CHECK(r == GC_QUEUED && f2 == NULL, "coalesced again");
	CHECK(w2.state == GW_WAITING && w2.fetch == f, "waiting on f");
	/* One gives up (its connection closed). */
	CHECK(gcache_cancel(gc, &w3) == 1 && w3.state == GW_NEW, "cancel");
	CHECK(gcache_cancel(gc, &w3) == 0, "cancel twice");
	gcache_complete(gc, f, mk(1, "staff", "cn=staff,dc=x"), now + 5000,
	    t.stale_ttl, &out, &age);
	CHECK(count_out(&out) == 2, "two answered, not the cancelled one");
	CHECK(w1.groups != NULL && w1.source == AUTH_GROUPS_LDAP &&
	    auth_groups_has(w1.groups, "staff"), "the answer");
	CHECK(w1.groups == w2.groups, "one list for both");
	CHECK(w1.state == GW_TAKEN && age == -1, "taken, no stale");
	drain(&out);

	/* Hits until cache_ttl, counted. */
	r = gcache_lookup(gc, "example\\alice", 13, now + 10 * SEC, &t, &g,
	    &src, NULL, &f);
	CHECK(r == GC_HIT && src == AUTH_GROUPS_LDAP && f == NULL &&
	    auth_groups_has(g, "STAFF"), "hit");
	auth_groups_unref(g);
	/* Refresh-ahead: in the last 30 s, once. */
	r = gcache_lookup(gc, "example\\alice", 13, now + 280 * SEC, &t, &g,
	    &src, NULL, &f);
	CHECK(r == GC_HIT && f != NULL && f->refresh, "refresh-ahead fetch");
	auth_groups_unref(g);
	r = gcache_lookup(gc, "example\\alice", 13, now + 281 * SEC, &t, &g,
	    &src, NULL, &f2);
	CHECK(r == GC_HIT && f2 == NULL, "one refresh at a time");
	auth_groups_unref(g);
	/* The refresh fails (directory down): still fresh till expiry. */
	gcache_complete(gc, f, NULL, now + 282 * SEC, t.stale_ttl, &out, &age);
	CHECK(count_out(&out) == 0, "nobody waited for the refresh");
	r = gcache_lookup(gc, "example\\alice", 13, now + 290 * SEC, &t, &g,
	    &src, NULL, &f);
	CHECK(r == GC_HIT, "still a hit after a failed refresh");
	auth_groups_unref(g);
	if (f != NULL)		/* a new refresh: succeed it */
		gcache_complete(gc, f, mk(1, "staff", "cn=staff,dc=x"),
		    now + 290 * SEC, t.stale_ttl, &out, &age);
	now += 290 * SEC;

	/* Expired: a miss; the directory is down: stale, said once. */
	r = gcache_lookup(gc, "example\\alice", 13, now + 400 * SEC, &t, &g,
	    &src, NULL, &f);
	CHECK(r == GC_MISS, "expired: a miss");
	wait_init(&w1);
	r = gcache_lookup(gc, "example\\alice", 13, now + 400 * SEC, &t, &g,
	    &src, &w1, &f);
	CHECK(r == GC_QUEUED && f != NULL, "expired: fetch");
	gcache_complete(gc, f, NULL, now + 400 * SEC, t.stale_ttl, &out, &age);
	CHECK(w1.source == AUTH_GROUPS_STALE && auth_groups_has(w1.groups,
	    "staff"), "stale-if-error");
	CHECK(age == 400, "stale said with its age (%ld)", age);
	drain(&out);
	wait_init(&w1);
	r = gcache_lookup(gc, "example\\alice", 13, now + 401 * SEC, &t, &g,
	    &src, &w1, &f);
	gcache_complete(gc, f, NULL, now + 401 * SEC, t.stale_ttl, &out, &age);
	CHECK(w1.source == AUTH_GROUPS_STALE && age == -1,
	    "stale again, not said again within a minute");
	drain(&out);
	/* Older than stale_ttl: nothing. */
	wait_init(&w1);
	r = gcache_lookup(gc, "example\\alice", 13, now + 3601 * SEC, &t, &g,
	    &src, &w1, &f);
	gcache_complete(gc, f, NULL, now + 3601 * SEC, t.stale_ttl, &out, &age);
	CHECK(w1.source == AUTH_GROUPS_NONE && w1.groups == NULL,
	    "past stale_ttl: no groups");
	drain(&out);

	/* A user never answered for: NONE, and no entry kept. */
	gcache_stats(gc, &st, &entries, &fetches);
	CHECK(entries == 1, "one entry (%zu)", entries);
	wait_init(&w1);
	r = gcache_lookup(gc, "bob", 3, now, &t, &g, &src, &w1, &f);
	gcache_complete(gc, f, NULL, now, t.stale_ttl, &out, &age);
	CHECK(w1.source == AUTH_GROUPS_NONE, "unknown, directory down");
	drain(&out);
	gcache_stats(gc, &st, &entries, &fetches);
	CHECK(entries == 1 && fetches == 0, "no entry for bob (%zu)", entries);

	/* Negative answers live negative_ttl. */
	wait_init(&w1);
	r = gcache_lookup(gc, "nobody", 6, now, &t, &g, &src, &w1, &f);
	gcache_complete(gc, f, mk(0, NULL, NULL), now, t.stale_ttl, &out, &age);
	CHECK(w1.source == AUTH_GROUPS_LDAP && !auth_groups_found(w1.groups) &&
	    auth_groups_count(w1.groups) == 0, "not in the directory");
	drain(&out);
	r = gcache_lookup(gc, "nobody", 6, now + 59 * SEC, &t, &g, &src, NULL,
	    &f);
	CHECK(r == GC_HIT, "negative hit");
	auth_groups_unref(g);
	if (f != NULL)
		gcache_complete(gc, f, mk(0, NULL, NULL), now + 59 * SEC,
		    t.stale_ttl, &out, &age);
	r = gcache_lookup(gc, "nobody", 6, now + 200 * SEC, &t, &g, &src, NULL,
	    &f);
	CHECK(r == GC_MISS, "negative expired");

	gcache_stats(gc, &st, &entries, &fetches);
	CHECK(st.coalesced == 2 && st.stale == 2 && st.failures == 2 &&
	    st.refreshes >= 1 && st.not_found >= 1 && st.lat_count > 0,
	    "counters: coalesced %llu stale %llu failures %llu",
	    (unsigned long long)st.coalesced, (unsigned long long)st.stale,
	    (unsigned long long)st.failures);
	gcache_free(gc);
}

/* Put key in gc with an answer, at now. */
static void
put(struct gcache *gc, const char *key, int64_t now)
{
	struct gcache_ttl	 t = { 300 * SEC, 60 * SEC, 3600 * SEC, 0 };
	struct gwaiter		 w;
	struct gwaiters		 out;
	struct gfetch		*f;
	struct auth_groups	*g;
	enum auth_groups_source	 src;
	long			 age;

	TAILQ_INIT(&out);
	wait_init(&w);
	if (gcache_lookup(gc, key, strlen(key), now, &t, &g, &src, &w, &f) ==
	    GC_QUEUED && f != NULL)
		gcache_complete(gc, f, mk(1, "g", "cn=g"), now, t.stale_ttl,
		    &out, &age);
	drain(&out);
}

static int
cached(struct gcache *gc, const char *key, int64_t now)
{
	struct gcache_ttl	 t = { 300 * SEC, 60 * SEC, 3600 * SEC, 0 };
	struct gfetch		*f;
	struct auth_groups	*g;
	enum auth_groups_source	 src;

	if (gcache_lookup(gc, key, strlen(key), now, &t, &g, &src, NULL, &f) !=
	    GC_HIT)
		return 0;
	auth_groups_unref(g);
	return 1;
}

static void
test_lru_purge(void)
{
	struct gcache		*gc = gcache_new(3);
	struct gcache_ttl	 t = { 300 * SEC, 60 * SEC, 3600 * SEC, 0 };
	struct gcache_stats	 st;
	struct gwaiter		 w;
	struct gwaiters		 out;
	struct gfetch		*f;
	struct auth_groups	*g;
	enum auth_groups_source	 src;
	size_t			 entries, fetches;
	long			 age;
	char			 key[GROUPS_KEY_MAX], big[800];
	size_t			 klen;

	TAILQ_INIT(&out);
	put(gc, "a", 1);
	put(gc, "b", 2);
	put(gc, "c", 3);
	CHECK(cached(gc, "a", 4), "a used: most recent now");
	put(gc, "d", 5);
	CHECK(!cached(gc, "b", 6), "b, the least recently used, evicted");
	CHECK(cached(gc, "a", 6) && cached(gc, "c", 6) && cached(gc, "d", 6),
	    "the others stay");
	gcache_stats(gc, &st, &entries, &fetches);
	CHECK(st.evictions == 1 && entries == 3, "evictions %llu entries %zu",
	    (unsigned long long)st.evictions, entries);
	gcache_set_max(gc, 2);
	gcache_stats(gc, &st, &entries, &fetches);
	CHECK(entries == 2, "shrunk to 2 (%zu)", entries);
	gcache_set_max(gc, 10);

	/* Purge: exact names, a bare name in every domain, everyone. */
	gcache_purge(gc, "*");
	put(gc, "example\\alice", 1);
	put(gc, "alice@example.test", 1);
	put(gc, "alicex", 1);
	put(gc, "bob", 1);
	CHECK(gcache_purge(gc, "EXAMPLE\\Alice") == 1, "exact, any case");
	CHECK(cached(gc, "alice@example.test", 2), "the realm's stays");
	put(gc, "example\\alice", 1);
	CHECK(gcache_purge(gc, "ALICE") == 2, "bare: every domain and realm");
	CHECK(cached(gc, "alicex", 2) && cached(gc, "bob", 2),
	    "others stay");
	CHECK(gcache_purge(gc, "nobody") == 0, "nothing to purge");
	CHECK(gcache_purge(gc, "*") == 2, "everyone");

	/* A purge during a fetch: its answer is given, not kept. */
	wait_init(&w);
	CHECK(gcache_lookup(gc, "carol", 5, 10, &t, &g, &src, &w, &f) ==
	    GC_QUEUED && f != NULL, "carol fetch");
	CHECK(gcache_purge(gc, "carol") == 1, "purged while searching");
	gcache_complete(gc, f, mk(1, "g", "cn=g"), 11, t.stale_ttl, &out, &age);
	CHECK(w.source == AUTH_GROUPS_LDAP, "the waiter is answered");
	drain(&out);
	CHECK(!cached(gc, "carol", 12), "but the answer is not cached");
	/* So is eviction during a fetch. */
	gcache_set_max(gc, 1);
	wait_init(&w);
	gcache_lookup(gc, "dan", 3, 10, &t, &g, &src, &w, &f);
	put(gc, "erin", 10);
	gcache_complete(gc, f, mk(1, "g", "cn=g"), 11, t.stale_ttl, &out, &age);
	CHECK(count_out(&out) == 1 && w.groups != NULL, "evicted: answered");
	drain(&out);

	/* Keys: ASCII lower case, bounded. */
	CHECK(gcache_key("EXAMPLE\\Alice", key, &klen) == 0 &&
	    strcmp(key, "example\\alice") == 0 && klen == 13, "key %s", key);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(gcache_key(big, key, &klen) == -1, "too long a name");
	CHECK(gcache_key("", key, &klen) == -1, "empty");
	gcache_free(gc);
}

int
main(void)
{
	test_names();
	test_filters();
	test_groups_list();
	test_cache();
	test_lru_purge();
	return unit_done("t_groups");
}
