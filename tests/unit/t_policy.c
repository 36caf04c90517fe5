/*
 * Unit tests for policy/:
 *  - matchers: domainset (exact and suffix entries, case, trailing dot,
 *    label boundaries, xn-- labels, IP literals, 100k names), tagsets,
 *    cidrset (IPv4, IPv6, mapped, merged ranges, and random addresses
 *    against conf_cidr.c's cidr_match), time zones (every instant of a
 *    random sample against glibc's localtime_r in a dozen zones, the DST
 *    change instants of Europe/Paris and America/New_York, the footer
 *    rule past 2037, a "slim" zone compiled by zic), schedules (days,
 *    ranges across midnight, DST change days), url_regex (CONNECT
 *    subject, case, the match limit);
 *  - category lists: domains and urls files, comments, wildcards, bad
 *    lines (warnings), the blacklist folder layout with nested folders;
 *  - the rule language: a table of (identity, request) -> decision over
 *    a 15-rule policy, every condition and its not_ form, unknown
 *    groups, dst_ip before and after DNS, the sign-in exemption,
 *    monitor and warn; each row decided by policy_decide() and by
 *    policy_explain()/policy_explain_text(), which must agree;
 *  - build errors: every kind, all reported at once as FILE:LINE.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "policy.h"
#include "policy_int.h"
#include "unit.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))
/* A struct policy_list of string literals. */
#define LIST(...) { (const char *const []){ __VA_ARGS__ },		\
	sizeof((const char *const []){ __VA_ARGS__ }) / sizeof(char *), 0 }

static char	tmpdir[128];
static char	conffile[256];
static char	warnbuf[8192];

static void
warn_cb(void *arg, const char *msg)
{
	size_t	used = strlen(warnbuf);

	(void)arg;
	snprintf(warnbuf + used, sizeof(warnbuf) - used, "%s\n", msg);
}

/* Write tmpdir/rel, making its folders. */
static void
put_file(const char *rel, const char *text)
{
	char	 path[512], *s;
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	for (s = path + strlen(tmpdir) + 1; (s = strchr(s, '/')) != NULL;
	    s++) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static const struct sockaddr *
addr(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
			abort();
	} else {
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
			abort();
	}
	return ((struct sockaddr *)ss);
}

static time_t
utc(int y, int m, int d, int hh, int mm, int ss)
{
	return ((time_t)(tz_days_from_civil(y, m, d) * 86400 + hh * 3600 +
	    mm * 60 + ss));
}

/* --- domainset ---------------------------------------------------- */

static int
ds_has(struct domainset *ds, const char *host, uint32_t *exact,
    uint32_t *suffix)
{
	struct ds_hit	 h[DS_MAXHITS];
	char		 n[DS_NAME_MAX + 1];
	size_t		 len, nh, i;
	int		 k;

	*exact = *suffix = 0;
	if ((k = domainset_normalize(host, strlen(host), n, &len)) == -1)
		return (-1);
	nh = domainset_match(ds, n, len, k != DS_NAME, h, N(h));
	for (i = 0; i < nh; i++) {
		if (h[i].exact)
			*exact = h[i].val;
		else
			*suffix = h[i].val;
	}
	return ((int)nh);
}

static void
add(struct domainset *ds, const char *name, int suffix, uint32_t v)
{
	char	 n[DS_NAME_MAX + 1];
	size_t	 len;
	uint32_t *p;

	if (domainset_normalize(name, strlen(name), n, &len) == -1)
		abort();
	p = domainset_value(ds, n, len, suffix);
	if (p == NULL)
		abort();
	*p = v;
}

static void
t_domainset(void)
{
	static const struct {
		const char	*in, *out;
		int		 kind;
	} norm[] = {
		{ "WWW.Example.COM.", "www.example.com", DS_NAME },
		{ "example.com", "example.com", DS_NAME },
		{ "XN--BCHER-KVA.example", "xn--bcher-kva.example", DS_NAME },
		{ "_dmarc.example", "_dmarc.example", DS_NAME },
		{ "a-b.c", "a-b.c", DS_NAME },
		{ "10.1.2.3", "10.1.2.3", DS_IPV4 },
		{ "1.2.3", "1.2.3", DS_NAME },
		{ "[2001:DB8:0::1]", "2001:db8::1", DS_IPV6 },
		{ "2001:db8::1", "2001:db8::1", DS_IPV6 },
		{ "", NULL, -1 },
		{ ".", NULL, -1 },
		{ "a..b", NULL, -1 },
		{ ".a", NULL, -1 },
		{ "a.b..", NULL, -1 },
		{ "a b", NULL, -1 },
		{ "caf\xc3\xa9.example", NULL, -1 },
		{ "[::1", NULL, -1 },
		{ "[zz::1]", NULL, -1 },
		{ "a:b", NULL, -1 },
		{ "ex*ample.com", NULL, -1 },
	};
	struct domainset	*ds;
	char			 out[DS_NAME_MAX + 1], big[400], name[64];
	size_t			 i, len;
	uint32_t		 e, s;
	int			 k, miss;

	for (i = 0; i < N(norm); i++) {
		k = domainset_normalize(norm[i].in, strlen(norm[i].in), out,
		    &len);
		CHECK(k == norm[i].kind, "normalize '%s': %d", norm[i].in, k);
		if (k != -1 && norm[i].out != NULL)
			CHECK(strcmp(out, norm[i].out) == 0 &&
			    len == strlen(out), "normalize '%s': '%s'",
			    norm[i].in, out);
	}
	/* RFC 1035 2.3.4: 63 per label, 253 in all. */
	memset(big, 'a', sizeof(big));
	CHECK(domainset_normalize(big, 63, out, &len) == DS_NAME, "63");
	CHECK(domainset_normalize(big, 64, out, &len) == -1, "64");
	for (i = 63; i < 253; i += 64)
		big[i] = '.';
	CHECK(domainset_normalize(big, 253, out, &len) == DS_NAME, "253");
	big[253] = '.';
	CHECK(domainset_normalize(big, 254, out, &len) == DS_NAME,
	    "253 and the root dot");
	big[253] = 'a';
	CHECK(domainset_normalize(big, 254, out, &len) == -1, "254");

	ds = domainset_new(4);
	add(ds, "example.com", 0, 1);		/* that name only */
	add(ds, "example.org", 1, 2);		/* and below */
	add(ds, "Mixed.Example.NET.", 1, 3);
	add(ds, "xn--bcher-kva.example", 1, 4);
	add(ds, "10.1.2.3", 0, 5);
	add(ds, "2001:db8::1", 0, 6);
	add(ds, "com", 1, 7);			/* a bare TLD */
	add(ds, "deep.a.b.c.d.e.f.g.example", 1, 8);
	/* One name with both kinds of value. */
	add(ds, "both.test", 0, 9);
	add(ds, "both.test", 1, 10);

	CHECK(ds_has(ds, "example.com", &e, &s) >= 1 && e == 1, "exact");
	CHECK(ds_has(ds, "www.example.com", &e, &s) >= 0 && e == 0,
	    "exact does not cover www");
	CHECK(s == 7, "but com does: %u", s);
	CHECK(ds_has(ds, "EXAMPLE.COM.", &e, &s) >= 1 && e == 1,
	    "case and trailing dot");
	CHECK(ds_has(ds, "example.org", &e, &s) == 1 && s == 2 && e == 0,
	    "suffix covers itself");
	CHECK(ds_has(ds, "a.b.c.example.org", &e, &s) == 1 && s == 2,
	    "suffix covers below");
	CHECK(ds_has(ds, "badexample.org", &e, &s) == 0,
	    "labels, not characters");
	CHECK(ds_has(ds, "org", &e, &s) == 0, "not the parent");
	CHECK(ds_has(ds, "www.mixed.example.net", &e, &s) == 1 && s == 3,
	    "entries are lower-cased");
	CHECK(ds_has(ds, "WWW.XN--BCHER-KVA.EXAMPLE", &e, &s) == 1 && s == 4,
	    "punycode labels");
	CHECK(ds_has(ds, "10.1.2.3", &e, &s) == 1 && e == 5, "IPv4 literal");
	CHECK(ds_has(ds, "2.3", &e, &s) == 0, "no suffix walk on numbers");
	CHECK(ds_has(ds, "[2001:DB8::0:1]", &e, &s) == 1 && e == 6,
	    "IPv6 literal, canonical");
	CHECK(ds_has(ds, "x.deep.a.b.c.d.e.f.g.example", &e, &s) == 1 &&
	    s == 8, "nine labels");
	CHECK(ds_has(ds, "both.test", &e, &s) == 2 && e == 9 && s == 10,
	    "both values");
	CHECK(ds_has(ds, "x.both.test", &e, &s) == 1 && e == 0 && s == 10,
	    "suffix value only below");

	/* Many names: all found, through growth and the final resize. */
	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "host%zu.zone%zu.example", i,
		    i % 97);
		add(ds, name, 1, (uint32_t)i + 100);
	}
	for (k = 0; k < 2; k++) {
		for (miss = 0, i = 0; i < 100000; i++) {
			snprintf(name, sizeof(name), "x.host%zu.zone%zu."
			    "example", i, i % 97);
			if (ds_has(ds, name, &e, &s) != 1 || s != i + 100)
				miss++;
			snprintf(name, sizeof(name), "host%zu.zone%zu.example",
			    i, i % 97 + 1);
			if (ds_has(ds, name, &e, &s) != 0)
				miss++;
		}
		CHECK(miss == 0, "100k names, pass %d: %d wrong", k, miss);
		CHECK(domainset_count(ds) == 100000 + 9, "count %zu",
		    domainset_count(ds));
		domainset_freeze(ds);
	}
	domainset_free(ds);
}

static void
t_tagsets(void)
{
	struct tagsets	ts;
	uint32_t	a, b, c, d;

	CHECK(tagsets_init(&ts, 130) == 0, "init");
	a = tagsets_add(&ts, 0, 3);
	b = tagsets_add(&ts, a, 129);
	c = tagsets_add(&ts, tagsets_add(&ts, 0, 129), 3);
	d = tagsets_add(&ts, b, 3);
	CHECK(a != 0 && b != a && b == c && d == b, "interned: %u %u %u %u",
	    a, b, c, d);
	CHECK(tagsets_has(&ts, b, 3) && tagsets_has(&ts, b, 129) &&
	    !tagsets_has(&ts, b, 4) && !tagsets_has(&ts, 0, 3), "members");
	CHECK(tagsets_add(&ts, 0, 200) == UINT32_MAX, "tag out of range");
	tagsets_free(&ts);
}

/* --- cidrset ------------------------------------------------------ */

static void
t_cidrset(void)
{
	static const char *const blocks[] = {
		"10.0.0.0/8", "192.168.1.0/24", "192.168.2.0/24",
		"172.16.5.4", "2001:db8::/32", "::ffff:100.64.0.0/106",
		"fe80::/10", "0.0.0.0/32",
	};
	static const struct {
		const char	*a;
		int		 in;
	} t[] = {
		{ "10.255.255.255", 1 }, { "11.0.0.0", 0 },
		{ "192.168.1.77", 1 }, { "192.168.2.255", 1 },
		{ "192.168.3.0", 0 }, { "172.16.5.4", 1 },
		{ "172.16.5.5", 0 }, { "::ffff:10.1.2.3", 1 },
		{ "::ffff:11.1.2.3", 0 }, { "2001:db8:ffff::1", 1 },
		{ "2001:db9::1", 0 }, { "100.64.1.1", 1 },
		{ "100.127.255.255", 1 }, { "100.128.0.0", 0 },
		{ "fe80::1", 1 }, { "::1", 0 }, { "0.0.0.0", 1 },
		{ "0.0.0.1", 0 },
	};
	struct cidrset		*cs, *all4, *all6;
	struct sockaddr_storage	 ss;
	struct cidr		 c[N(blocks)];
	const struct sockaddr	*sa;
	size_t			 i, j;
	int			 bad = 0, want;
	unsigned		 seed = 1;
	char			 text[64];

	cs = cidrset_new();
	for (i = 0; i < N(blocks); i++) {
		CHECK(cidrset_add(cs, blocks[i]) == 0, "%s", blocks[i]);
		cidr_parse(blocks[i], &c[i]);
	}
	CHECK(cidrset_add(cs, "10.0.0.0/33") == -1, "/33");
	CHECK(cidrset_add(cs, "10.0.0") == -1, "short");
	CHECK(cidrset_add(cs, "fe80::1%eth0") == -1, "zone");
	cidrset_freeze(cs);
	for (i = 0; i < N(t); i++)
		CHECK(cidrset_match(cs, addr(t[i].a, &ss)) == t[i].in,
		    "%s", t[i].a);
	CHECK(strcmp(cidrset_which(cs, addr("192.168.2.3", &ss)),
	    "192.168.2.0/24") == 0, "which");

	/* Random addresses, near the blocks: the same as cidr_match. */
	for (i = 0; i < 20000; i++) {
		seed = seed * 1103515245 + 12345;
		j = (seed >> 16) % N(t);
		snprintf(text, sizeof(text), "%s", t[j].a);
		sa = addr(text, &ss);
		if (sa->sa_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_addr.s_addr ^=
			    htonl((seed >> 3) & 0x1ffff);
		else
			((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr[
			    (seed >> 4) % 16] ^= (uint8_t)(seed >> 9);
		for (want = 0, j = 0; j < N(blocks); j++)
			want |= cidr_match(&c[j], sa);
		if (cidrset_match(cs, sa) != want)
			bad++;
	}
	CHECK(bad == 0, "random vs cidr_match: %d differ", bad);
	cidrset_free(cs);

	/* ::/0 is everyone, 0.0.0.0/0 only IPv4 (as cidr_match). */
	all6 = cidrset_new();
	cidrset_add(all6, "::/0");
	cidrset_freeze(all6);
	all4 = cidrset_new();
	cidrset_add(all4, "0.0.0.0/0");
	cidrset_freeze(all4);
	CHECK(cidrset_match(all6, addr("192.0.2.1", &ss)), "::/0 v4");
	CHECK(cidrset_match(all6, addr("2001:db8::1", &ss)), "::/0 v6");
	CHECK(cidrset_match(all4, addr("::ffff:192.0.2.1", &ss)), "0/0 mapped");
	CHECK(!cidrset_match(all4, addr("2001:db8::1", &ss)), "0/0 not v6");
	CHECK(!cidrset_match(all4, NULL), "NULL");
	cidrset_free(all4);
	cidrset_free(all6);
}

/* --- time zones and schedules -------------------------------------- */

static struct tz *
zone(const char *dir, const char *name)
{
	struct tz	*z = NULL;
	char		 err[256];

	if (tz_load(dir, name, &z, err, sizeof(err)) == -1) {
		CHECK(0, "tz_load %s: %s", name, err);
		return (NULL);
	}
	return (z);
}

/* Compare zone z with glibc (TZ=tzenv) at n instants around [lo, hi]. */
static int
tz_vs_libc(struct tz *z, const char *tzenv, int64_t lo, int64_t hi, int n)
{
	struct tz_local	 lt;
	struct tm	 tm;
	time_t		 t;
	uint64_t	 x = 88172645463325252ULL;
	int		 i, bad = 0;

	setenv("TZ", tzenv, 1);
	tzset();
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t = (time_t)(lo + (int64_t)(x % (uint64_t)(hi - lo)));
		if (localtime_r(&t, &tm) == NULL)
			continue;
		tz_lookup(z, t, &lt);
		if (lt.off != tm.tm_gmtoff || lt.isdst != (tm.tm_isdst > 0) ||
		    strcmp(lt.abbr, tm.tm_zone) != 0) {
			if (bad++ < 3)
				fprintf(stderr, "%s at %lld: ours %d %d %s, "
				    "libc %ld %d %s\n", tzenv, (long long)t,
				    lt.off, lt.isdst, lt.abbr, tm.tm_gmtoff,
				    tm.tm_isdst, tm.tm_zone);
		}
	}
	return (bad);
}

static void
t_tz(void)
{
	static const char *const zones[] = {
		"Europe/Paris", "America/New_York", "Australia/Sydney",
		"Asia/Kolkata", "Europe/Dublin", "America/Sao_Paulo",
		"Pacific/Chatham", "Africa/Casablanca", "UTC",
		"America/St_Johns", "Asia/Tehran", "Pacific/Apia",
		"Europe/London", "America/Santiago",
	};
	struct tz	*z;
	struct tz_rule	 r;
	struct tz_local	 lt;
	char		 env[300], cmd[600], err[256];
	size_t		 i;
	int		 bad;
	int64_t		 y;
	int		 m, d;

	/* Civil dates. */
	CHECK(tz_days_from_civil(1970, 1, 1) == 0, "epoch");
	CHECK(tz_days_from_civil(2000, 3, 1) == 11017, "2000-03-01");
	CHECK(tz_days_from_civil(1969, 12, 31) == -1, "1969-12-31");
	CHECK(tz_days_from_civil(1900, 3, 1) == -25508, "1900-03-01");
	tz_civil_from_days(tz_days_from_civil(2024, 2, 29), &y, &m, &d);
	CHECK(y == 2024 && m == 2 && d == 29, "leap day");
	tz_civil_from_days(tz_days_from_civil(1600, 12, 31), &y, &m, &d);
	CHECK(y == 1600 && m == 12 && d == 31, "1600");

	/* POSIX TZ strings (RFC 8536 3.3). */
	CHECK(tz_parse_rule("CET-1CEST,M3.5.0,M10.5.0/3", &r) == 0 &&
	    r.std_off == 3600 && r.dst_off == 7200 && r.has_dst &&
	    r.start.kind == 'M' && r.start.m == 3 && r.start.w == 5 &&
	    r.end.secs == 3 * 3600, "CET");
	CHECK(tz_parse_rule("<+0330>-3:30", &r) == 0 && r.std_off == 12600 &&
	    !r.has_dst && strcmp(r.std_abbr, "+0330") == 0, "<+0330>");
	CHECK(tz_parse_rule("EST5EDT", &r) == 0 && r.std_off == -18000 &&
	    r.dst_off == -14400 && r.start.m == 3 && r.end.m == 11,
	    "EST5EDT: the US default rule");
	CHECK(tz_parse_rule("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", &r) == 0 &&
	    r.start.secs == -7200, "negative rule time (RFC 8536 3.3.1)");
	CHECK(tz_parse_rule("XXX3EDT4,J1/0,J365/25", &r) == 0 &&
	    r.end.kind == 'J' && r.end.n == 365 && r.end.secs == 25 * 3600,
	    "all-year DST form");
	CHECK(tz_parse_rule("AB1", &r) == -1, "short name");
	CHECK(tz_parse_rule("CET-1CEST,M13.5.0,M10.5.0", &r) == -1,
	    "month 13");
	CHECK(tz_parse_rule("CET-1CEST,M3.5.0", &r) == -1, "one date");
	CHECK(tz_parse_rule("CET-25", &r) == -1, "offset over 24h");
	CHECK(tz_parse_rule("CET-1x", &r) == -1, "trailing junk");

	/* Every zone against glibc, 1901..2242 (2^33). */
	for (i = 0; i < N(zones); i++) {
		if ((z = zone(NULL, zones[i])) == NULL)
			continue;
		bad = tz_vs_libc(z, zones[i], -((int64_t)1 << 31) + 1,
		    (int64_t)1 << 33, 20000);
		CHECK(bad == 0, "%s: %d instants differ from glibc", zones[i],
		    bad);
		tz_free(z);
	}

	/* DST change instants (EU: 01:00 UTC; US: 02:00 local). */
	if ((z = zone(NULL, "Europe/Paris")) != NULL) {
		tz_lookup(z, utc(2026, 3, 29, 0, 59, 59), &lt);
		CHECK(lt.off == 3600 && !lt.isdst, "Paris before spring");
		tz_lookup(z, utc(2026, 3, 29, 1, 0, 0), &lt);
		CHECK(lt.off == 7200 && lt.isdst &&
		    strcmp(lt.abbr, "CEST") == 0, "Paris spring forward");
		tz_lookup(z, utc(2026, 10, 25, 0, 59, 59), &lt);
		CHECK(lt.off == 7200, "Paris before autumn");
		tz_lookup(z, utc(2026, 10, 25, 1, 0, 0), &lt);
		CHECK(lt.off == 3600, "Paris fall back");
		/* Past the last transition of the file: the footer. */
		tz_lookup(z, utc(2100, 7, 1, 12, 0, 0), &lt);
		CHECK(lt.off == 7200 && lt.isdst, "Paris 2100 summer");
		tz_lookup(z, utc(2100, 12, 1, 12, 0, 0), &lt);
		CHECK(lt.off == 3600 && !lt.isdst, "Paris 2100 winter");
		tz_free(z);
	}
	if ((z = zone(NULL, "America/New_York")) != NULL) {
		tz_lookup(z, utc(2026, 3, 8, 6, 59, 59), &lt);
		CHECK(lt.off == -18000, "NY before spring");
		tz_lookup(z, utc(2026, 3, 8, 7, 0, 0), &lt);
		CHECK(lt.off == -14400 && strcmp(lt.abbr, "EDT") == 0,
		    "NY spring forward");
		tz_lookup(z, utc(2026, 11, 1, 5, 59, 59), &lt);
		CHECK(lt.off == -14400, "NY before autumn");
		tz_lookup(z, utc(2026, 11, 1, 6, 0, 0), &lt);
		CHECK(lt.off == -18000, "NY fall back");
		tz_free(z);
	}

	/* A slim zone (transitions stop early; the footer does the rest). */
	put_file("zsrc/slim", "Rule T 1981 max - Mar lastSun 1:00u 1:00 S\n"
	    "Rule T 1996 max - Oct lastSun 1:00u 0 -\n"
	    "Zone Test/Slim 1:00 T CE%sT\n"
	    "Zone Test/South -3:00 - <-03>\n");
	snprintf(cmd, sizeof(cmd), "zic -b slim -d %s/zi %s/zsrc/slim "
	    "2>/dev/null", tmpdir, tmpdir);
	if (system(cmd) == 0) {
		snprintf(env, sizeof(env), "%s/zi", tmpdir);
		if ((z = zone(env, "Test/Slim")) != NULL) {
			CHECK(z->has_rule && z->ntrans < 40, "slim: %zu "
			    "transitions", z->ntrans);
			snprintf(env, sizeof(env), ":%s/zi/Test/Slim", tmpdir);
			bad = tz_vs_libc(z, env, 0, (int64_t)1 << 33, 20000);
			CHECK(bad == 0, "slim zone: %d differ", bad);
			tz_free(z);
		}
	} else
		printf("t_policy: zic not available, slim zone test "
		    "skipped\n");

	/* Names that would leave the zoneinfo folder, and missing ones. */
	CHECK(tz_load(NULL, "../../etc/passwd", &z, err, sizeof(err)) == -1 &&
	    strstr(err, "invalid time zone name") != NULL, "..: %s", err);
	CHECK(tz_load(NULL, "/etc/passwd", &z, err, sizeof(err)) == -1,
	    "absolute");
	CHECK(tz_load(NULL, "Mars/Olympus", &z, err, sizeof(err)) == -1 &&
	    strstr(err, "unknown time zone 'Mars/Olympus'") != NULL, "%s",
	    err);
	CHECK(tz_load(NULL, "zone.tab", &z, err, sizeof(err)) == -1 &&
	    strstr(err, "not a TZif") != NULL, "zone.tab: %s", err);
	if ((z = zone(NULL, NULL)) != NULL) {
		CHECK(z->name[0] != '\0', "system zone '%s'", z->name);
		tz_free(z);
	}
	unsetenv("TZ");
	tzset();
}

static void
t_schedule(void)
{
	struct sched		 s;
	struct sched_range	 r[4];
	struct tz		*paris, *utcz, *ny;
	struct tz_local		 lt;
	int64_t			 local;
	uint8_t			 days;

	days = 0;
	CHECK(sched_parse_days("mon-fri", &days) == 0 && days == 0x3e,
	    "mon-fri %x", days);
	days = 0;
	CHECK(sched_parse_days("fri-mon", &days) == 0 && days == 0x63,
	    "fri-mon wraps %x", days);
	days = 0;
	CHECK(sched_parse_days("Sunday", &days) == 0 && days == 1, "Sunday");
	CHECK(sched_parse_days("funday", &days) == -1, "funday");
	CHECK(sched_parse_days("mon-", &days) == -1, "mon-");
	CHECK(sched_parse_range("08:00-18:00", &r[0]) == 0 &&
	    r[0].start == 480 && r[0].end == 1080, "08-18");
	CHECK(sched_parse_range("8:30-24:00", &r[0]) == 0 &&
	    r[0].start == 510 && r[0].end == 1440, "8:30-24:00");
	CHECK(sched_parse_range("22:00-06:00", &r[0]) == 0 &&
	    r[0].start == 1320 && r[0].end == 360, "crossing");
	CHECK(sched_parse_range("24:00-06:00", &r[0]) == -1, "24 as start");
	CHECK(sched_parse_range("25:00-26:00", &r[0]) == -1, "25h");
	CHECK(sched_parse_range("08:60-09:00", &r[0]) == -1, "60 min");
	CHECK(sched_parse_range("08:00-08:00", &r[0]) == -1, "empty");
	CHECK(sched_parse_range("08:00", &r[0]) == -1, "no end");
	CHECK(sched_parse_range("08:00-18:00x", &r[0]) == -1, "junk");
	CHECK(sched_parse_range("8-18", &r[0]) == -1, "no minutes");

	if ((paris = zone(NULL, "Europe/Paris")) == NULL ||
	    (utcz = zone(NULL, "UTC")) == NULL ||
	    (ny = zone(NULL, "America/New_York")) == NULL)
		return;
	memset(&s, 0, sizeof(s));
	s.ranges = r;

	/* Friday night 22:00-06:00 UTC belongs to Friday. */
	s.tz = utcz;
	s.days = 1 << 5;
	sched_parse_range("22:00-06:00", &r[0]);
	s.nranges = 1;
	/* 2026-04-03 is a Friday. */
	CHECK(!sched_match(&s, utc(2026, 4, 3, 21, 59, 0), &lt, &local),
	    "fri 21:59");
	CHECK(sched_match(&s, utc(2026, 4, 3, 22, 0, 0), &lt, &local),
	    "fri 22:00");
	CHECK(sched_match(&s, utc(2026, 4, 4, 5, 59, 0), &lt, &local),
	    "sat 05:59 (friday's night)");
	CHECK(!sched_match(&s, utc(2026, 4, 4, 6, 0, 0), &lt, &local),
	    "sat 06:00");
	CHECK(!sched_match(&s, utc(2026, 4, 3, 3, 0, 0), &lt, &local),
	    "fri 03:00 is thursday's night");
	CHECK(!sched_match(&s, utc(2026, 4, 4, 22, 30, 0), &lt, &local),
	    "sat 22:30");

	/* No ranges: whole days; no days: every day. */
	s.nranges = 0;
	s.days = 1 << 0 | 1 << 6;
	CHECK(sched_match(&s, utc(2026, 4, 4, 0, 0, 0), &lt, &local) &&
	    sched_match(&s, utc(2026, 4, 5, 23, 59, 59), &lt, &local) &&
	    !sched_match(&s, utc(2026, 4, 6, 0, 0, 0), &lt, &local),
	    "weekend");
	s.days = 0;
	sched_parse_range("09:00-10:00", &r[0]);
	s.nranges = 1;
	CHECK(sched_match(&s, utc(2026, 4, 8, 9, 30, 0), &lt, &local),
	    "every day");

	/* Office hours in Paris, across the DST change of 2026-03-29. */
	s.tz = paris;
	s.days = 0x3e;
	sched_parse_range("08:00-18:00", &r[0]);
	/* Friday 27 March, CET: 08:00 local = 07:00 UTC. */
	CHECK(!sched_match(&s, utc(2026, 3, 27, 6, 59, 0), &lt, &local),
	    "CET 07:59");
	CHECK(sched_match(&s, utc(2026, 3, 27, 7, 0, 0), &lt, &local) &&
	    lt.off == 3600, "CET 08:00");
	/* Monday 30 March, CEST: 08:00 local = 06:00 UTC. */
	CHECK(sched_match(&s, utc(2026, 3, 30, 6, 0, 0), &lt, &local) &&
	    lt.off == 7200, "CEST 08:00");
	CHECK(!sched_match(&s, utc(2026, 3, 30, 16, 0, 0), &lt, &local),
	    "CEST 18:00");
	/* On the change day (a Sunday) the 02:00-03:00 hour never comes. */
	s.days = 0;
	sched_parse_range("02:00-03:00", &r[0]);
	CHECK(!sched_match(&s, utc(2026, 3, 29, 0, 59, 59), &lt, &local),
	    "01:59:59 CET");
	CHECK(!sched_match(&s, utc(2026, 3, 29, 1, 0, 0), &lt, &local),
	    "03:00 CEST, right after 01:59:59 CET");
	/* And in October it comes twice. */
	CHECK(sched_match(&s, utc(2026, 10, 25, 0, 30, 0), &lt, &local) &&
	    lt.isdst, "02:30 CEST");
	CHECK(sched_match(&s, utc(2026, 10, 25, 1, 30, 0), &lt, &local) &&
	    !lt.isdst, "02:30 CET");
	/* New York: 09:00-17:00 local on its change day (2026-03-08). */
	s.tz = ny;
	sched_parse_range("09:00-17:00", &r[0]);
	CHECK(sched_match(&s, utc(2026, 3, 8, 13, 0, 0), &lt, &local),
	    "NY 09:00 EDT");
	CHECK(!sched_match(&s, utc(2026, 3, 7, 13, 0, 0), &lt, &local),
	    "NY 08:00 EST the day before");
	tz_free(paris);
	tz_free(utcz);
	tz_free(ny);
}

/* --- url_regex ----------------------------------------------------- */

static void
t_urlre(void)
{
	struct urlre	*re;
	char		 err[256], subj[64];

	CHECK(urlre_compile("(unclosed", err, sizeof(err)) == NULL &&
	    strstr(err, "offset") != NULL, "bad: %s", err);
	CHECK(urlre_compile("(*UTF)x", err, sizeof(err)) == NULL,
	    "UTF refused");
	re = urlre_compile("^http://[^/]+/.*\\.exe$", err, sizeof(err));
	CHECK(re != NULL && urlre_match(re, "http://a.test/b/c.exe", 21) == 1,
	    "exe");
	CHECK(re != NULL && urlre_match(re, "http://a.test/b/c.EXE", 21) == 0,
	    "case-sensitive");
	urlre_free(re);
	re = urlre_compile("(?i)\\.exe$", err, sizeof(err));
	CHECK(re != NULL && urlre_match(re, "http://a.test/C.EXE", 19) == 1,
	    "(?i)");
	CHECK(re != NULL && urlre_match(re, "http://a.test/\xff.exe", 19) ==
	    1, "bytes, not UTF-8");
	urlre_free(re);
	/* Catastrophic backtracking stops at the match limit. */
	re = urlre_compile("^(a+)+$", err, sizeof(err));
	memset(subj, 'a', 40);
	subj[40] = '!';
	CHECK(re != NULL && urlre_match(re, subj, 41) == -1, "match limit");
	urlre_free(re);
}

/* --- categories ---------------------------------------------------- */

static void
t_category_lines(void)
{
	char		 out[DS_NAME_MAX + 1];
	const char	*why, *path;
	size_t		 len, plen;

	CHECK(category_parse_domain("  Example.COM  # c", 18, out, &len,
	    &why) == 1 && strcmp(out, "example.com") == 0, "trim");
	CHECK(category_parse_domain("*.ads.test\r", 11, out, &len, &why) ==
	    1 && strcmp(out, "ads.test") == 0, "wildcard");
	CHECK(category_parse_domain(".x.test", 7, out, &len, &why) == 1 &&
	    strcmp(out, "x.test") == 0, "leading dot");
	CHECK(category_parse_domain("# only a comment", 16, out, &len,
	    &why) == 0, "comment");
	CHECK(category_parse_domain("   ", 3, out, &len, &why) == 0, "blank");
	CHECK(category_parse_domain("two words", 9, out, &len, &why) == -1,
	    "two words");
	CHECK(category_parse_domain("caf\xc3\xa9.test", 10, out, &len,
	    &why) == -1 && strstr(why, "xn--") != NULL, "UTF-8: %s", why);
	CHECK(category_parse_domain("a..b", 4, out, &len, &why) == -1, "..");
	CHECK(category_parse_url("http://Ads.Example:8080/Banner/x?y=1", 36,
	    out, &len, &path, &plen, &why) == 1 &&
	    strcmp(out, "ads.example") == 0 && plen == 13 &&
	    strncmp(path, "/Banner/x?y=1", 13) == 0, "url");
	CHECK(category_parse_url("tracker.test/", 13, out, &len, &path,
	    &plen, &why) == 1 && plen == 0, "host/");
	CHECK(category_parse_url("bad host/x", 10, out, &len, &path, &plen,
	    &why) == -1, "bad url");
}

/* A policy whose decide and explain must agree on req. */
static int
decide2(const struct policy *p, const struct policy_request *req,
    struct policy_decision *d, char *text, size_t tlen)
{
	struct policy_decision	 e, f;
	int			 rv, rv2, rv3;

	rv = policy_decide(p, req, d);
	rv2 = policy_explain_text(p, req, &e, text, tlen);
	rv3 = policy_explain(p, req, &f, NULL, NULL);
	CHECK(rv == rv2 && rv == rv3 && d->action == e.action &&
	    d->rule == e.rule && d->flags == e.flags &&
	    d->monitored == e.monitored && d->why == e.why &&
	    d->why_value == e.why_value && f.rule == d->rule,
	    "decide and explain differ: %d/%d rule %d/%d flags %x/%x\n%s",
	    rv, rv2, d->rule, e.rule, d->flags, e.flags, text);
	return (rv);
}

/* --- the rule table ------------------------------------------------ */

struct row {
	const char	*user;
	const char	*groups;	/* comma separated; "?" unknown */
	const char	*network;
	const char	*src;
	const char	*method;	/* NULL: GET, or CONNECT for ':' */
	const char	*target;	/* URL, or host:port for CONNECT */
	const char	*dst;
	time_t		 now;
	int		 rv;
	enum policy_action action;
	const char	*rule;
	unsigned	 flags;
};

/* Fill req from a row; the strings live in buf. */
static void
row_req(const struct row *w, struct policy_request *req,
    const char **groups, char *buf, size_t blen,
    struct sockaddr_storage *src, struct sockaddr_storage *dst)
{
	char	*s, *h, *colon;
	size_t	 n = 0;

	memset(req, 0, sizeof(*req));
	req->user = w->user;
	snprintf(buf, blen, "%s", w->groups != NULL ? w->groups : "");
	if (strcmp(buf, "?") == 0)
		req->groups_unknown = 1;
	else
		for (s = strtok(buf, ","); s != NULL && n < 8;
		    s = strtok(NULL, ","))
			groups[n++] = s;
	req->groups = groups;
	req->ngroups = n;
	req->network = w->network;
	req->src = addr(w->src != NULL ? w->src : "192.0.2.10", src);
	req->dst_ip = w->dst != NULL ? addr(w->dst, dst) : NULL;
	req->now = w->now != 0 ? w->now : utc(2026, 3, 30, 10, 0, 0);
	h = buf + blen / 2;		/* strtok cut the groups up */
	if (strncmp(w->target, "http://", 7) == 0) {
		req->scheme = POLICY_SCHEME_HTTP;
		req->method = w->method != NULL ? w->method : "GET";
		req->url = w->target;
		snprintf(h, blen / 2, "%s", w->target + 7);
		h[strcspn(h, "/")] = '\0';
		req->port = 80;
		if (h[0] != '[' && (colon = strrchr(h, ':')) != NULL) {
			*colon = '\0';
			req->port = atoi(colon + 1);
		}
		if (h[0] == '[') {
			h++;
			h[strcspn(h, "]")] = '\0';
		}
	} else {
		req->scheme = POLICY_SCHEME_CONNECT;
		req->method = "CONNECT";
		req->url = w->target;
		snprintf(h, blen / 2, "%s", w->target);
		colon = strrchr(h, ':');
		*colon = '\0';
		req->port = atoi(colon + 1);
	}
	req->host = h;
}

static void
run_rows(const struct policy *p, const struct row *rows, size_t n,
    const char *what)
{
	struct policy_request	 req;
	struct policy_decision	 d;
	struct sockaddr_storage	 src, dst;
	const char		*groups[8];
	char			 buf[1024], text[16384];
	size_t			 i;
	int			 rv;

	for (i = 0; i < n; i++) {
		const struct row *w = &rows[i];

		row_req(w, &req, groups, buf, sizeof(buf), &src, &dst);
		rv = decide2(p, &req, &d, text, sizeof(text));
		CHECK(rv == w->rv && d.action == w->action &&
		    strcmp(d.rule_name, w->rule) == 0 &&
		    (d.flags & ~POLICY_DF_PENDING) == w->flags,
		    "%s row %zu (%s %s): got rv %d %s by '%s' flags %x, "
		    "want rv %d %s by '%s' flags %x\n%s", what, i,
		    w->user != NULL ? w->user : "-", w->target, rv,
		    policy_action_name(d.action), d.rule_name, d.flags,
		    w->rv, policy_action_name(w->action), w->rule, w->flags,
		    text);
	}
}

#define D	POLICY_DECIDED
#define P	POLICY_NEED_DST_IP
#define ALLOW	POLICY_ALLOW
#define BLOCK	POLICY_BLOCK
#define WARN	POLICY_WARN
#define MON	POLICY_MONITOR
#define GU	POLICY_DF_GROUPS_UNKNOWN

static void
t_rules(void)
{
	static const char *const nets[] = { "office", "lab", "home" };
	struct policy_rule_src		 r[15];
	struct policy_category_src	 cats[2];
	struct policy_catdir_src	 cd[1];
	struct policy_schedule_src	 sch[3];
	struct policy_src		 src;
	struct policy			*p;
	struct policy_decision		 d;
	struct policy_request		 req;
	struct policy_stats		 st;
	struct sockaddr_storage		 ss, ds;
	char				 err[4096], text[16384], buf[256];
	size_t				 i;
	time_t				 mon10 = utc(2026, 3, 30, 10, 0, 0);
	time_t				 mon1730 = utc(2026, 3, 30, 17, 30, 0);
	time_t				 tue2330 = utc(2026, 3, 31, 23, 30, 0);
	time_t				 wed0559 = utc(2026, 4, 1, 5, 59, 0);
	time_t				 wed0600 = utc(2026, 4, 1, 6, 0, 0);

	put_file("lists/gambling", "# gambling\nbet365.com\n*.casino.example"
	    "\n.poker.test\n\nBAD LINE HERE\ncaf\xc3\xa9.example\n"
	    "xn--caf-dma.example  # cafe\n");
	put_file("lists/ads.urls", "ads.example/banner\nhttp://tracker.test\n"
	    "cdn.example/ads/\n");
	put_file("bl/adult/domains", "adult.example\nporn.test\n");
	put_file("bl/adult/urls", "free.example/xxx\n");
	put_file("bl/recreation/humor/domains", "humor.example\n");
	put_file("bl/social/domains", "social.test\n");
	put_file("bl/README", "not a category\n");

	memset(cats, 0, sizeof(cats));
	cats[0] = (struct policy_category_src){ .name = "gambling",
	    .file = conffile, .line = 3,
	    .domains_files = LIST("lists/gambling") };
	cats[1] = (struct policy_category_src){ .name = "ads",
	    .file = conffile, .line = 4, .urls_files = LIST("lists/ads.urls"),
	    .domains = LIST("adserver.test") };
	cd[0] = (struct policy_catdir_src){ "bl", conffile, 5 };
	sch[0] = (struct policy_schedule_src){ .name = "office",
	    .file = conffile, .line = 6, .days = LIST("mon-fri"),
	    .times = LIST("08:00-18:00"), .timezone = "Europe/Paris" };
	sch[1] = (struct policy_schedule_src){ .name = "night",
	    .file = conffile, .line = 7, .times = LIST("22:00-06:00"),
	    .timezone = "UTC" };
	sch[2] = (struct policy_schedule_src){ .name = "weekend",
	    .file = conffile, .line = 8, .days = LIST("sat", "sun"),
	    .timezone = "UTC" };

	memset(r, 0, sizeof(r));
	for (i = 0; i < N(r); i++) {
		r[i].file = conffile;
		r[i].line = 20 + (int)i;
		r[i].action = POLICY_BLOCK;
		r[i].warn_ttl = -1;
	}
	r[0].name = "updates";
	r[0].auth = POLICY_AUTH_NONE;
	r[0].action = POLICY_ALLOW;
	r[0].cond[POLICY_C_DST_DOMAIN] = (struct policy_list)LIST(
	    ".windowsupdate.com", "update.example");
	r[1].name = "intranet-admins-only";
	r[1].cond[POLICY_C_DST_DOMAIN] = (struct policy_list)LIST(
	    ".intra.example");
	r[1].not_cond[POLICY_C_GROUP] = (struct policy_list)LIST("Admins");
	r[2].name = "finance";
	r[2].action = POLICY_ALLOW;
	r[2].cond[POLICY_C_GROUP] = (struct policy_list)LIST("Finance");
	r[2].cond[POLICY_C_DST_DOMAIN] = (struct policy_list)LIST(
	    ".bank.example");
	r[3].name = "bank-others";
	r[3].cond[POLICY_C_DST_DOMAIN] = (struct policy_list)LIST(
	    ".bank.example");
	r[4].name = "no-gambling";
	r[4].cond[POLICY_C_CATEGORY] = (struct policy_list)LIST("gambling");
	r[5].name = "adult";
	r[5].cond[POLICY_C_CATEGORY] = (struct policy_list)LIST("adult",
	    "recreation/humor");
	r[5].not_cond[POLICY_C_NETWORK] = (struct policy_list)LIST("lab");
	r[6].name = "ads-monitor";
	r[6].action = POLICY_MONITOR;
	r[6].cond[POLICY_C_CATEGORY] = (struct policy_list)LIST("ads");
	r[7].name = "social-warn";
	r[7].action = POLICY_WARN;
	r[7].warn_ttl = 600;
	r[7].cond[POLICY_C_DST_DOMAIN] = (struct policy_list)LIST(
	    ".social.example");
	r[7].cond[POLICY_C_SCHEDULE] = (struct policy_list)LIST("office");
	r[8].name = "ssh-tunnel";
	r[8].cond[POLICY_C_SCHEME] = (struct policy_list)LIST("connect");
	r[8].not_cond[POLICY_C_PORT] = (struct policy_list)LIST("443",
	    "8443-8444");
	r[9].name = "post-upload";
	r[9].cond[POLICY_C_METHOD] = (struct policy_list)LIST("POST", "put");
	r[9].cond[POLICY_C_URL_REGEX] = (struct policy_list)LIST(
	    "^http://upload\\.example/");
	r[10].name = "lab-only";
	r[10].action = POLICY_ALLOW;
	r[10].cond[POLICY_C_NETWORK] = (struct policy_list)LIST("lab");
	r[10].cond[POLICY_C_SRC] = (struct policy_list)LIST("10.9.0.0/16");
	r[11].name = "alice-rule";
	r[11].action = POLICY_ALLOW;
	r[11].auth = POLICY_AUTH_REQUIRED;
	r[11].cond[POLICY_C_USER] = (struct policy_list)LIST("alice");
	r[11].cond[POLICY_C_DST_DOMAIN] = (struct policy_list)LIST(
	    "alice.example");
	r[12].name = "carol-deny";
	r[12].cond[POLICY_C_USER] = (struct policy_list)LIST(
	    "EXAMPLE\\carol");
	r[13].name = "night";
	r[13].cond[POLICY_C_SCHEDULE] = (struct policy_list)LIST("night");
	r[13].not_cond[POLICY_C_USER] = (struct policy_list)LIST("bob");
	r[14].name = "internal-ips";
	r[14].cond[POLICY_C_DST_IP] = (struct policy_list)LIST(
	    "192.168.0.0/16", "fd00::/8");

	memset(&src, 0, sizeof(src));
	src.rules = r;
	src.nrules = N(r);
	src.categories = cats;
	src.ncategories = N(cats);
	src.catdirs = cd;
	src.ncatdirs = 1;
	src.schedules = sch;
	src.nschedules = N(sch);
	src.default_action = POLICY_ALLOW;
	src.warn = warn_cb;
	warnbuf[0] = '\0';
	p = policy_build(&src, nets, N(nets), err, sizeof(err));
	CHECK(p != NULL, "build: %s", err);
	if (p == NULL)
		return;
	CHECK(strstr(warnbuf, "/lists/gambling:6: category 'gambling': "
	    "line skipped: not a valid domain name") == NULL &&
	    strstr(warnbuf, "/lists/gambling:6: category 'gambling': line "
	    "skipped: more than one word") != NULL, "warnings:\n%s", warnbuf);
	CHECK(strstr(warnbuf, "/lists/gambling:7: category 'gambling': "
	    "line skipped: not ASCII") != NULL, "IDN warning:\n%s", warnbuf);
	CHECK(policy_needs_dst_ip(p), "needs dst_ip");
	policy_get_stats(p, &st);
	/* gambling 4, ads 1 (+3 urls), adult 2 (+1), humor 1, rules 8. */
	CHECK(st.categories == 4, "loaded %zu (social is not used)",
	    st.categories);
	CHECK(st.urls == 4, "urls %zu", st.urls);
	CHECK(policy_host_categories(p, "www.bet365.com", buf, sizeof(buf)) ==
	    1 && strcmp(buf, "gambling") == 0, "host categories '%s'", buf);
	CHECK(policy_host_categories(p, "social.test", buf, sizeof(buf)) == 0,
	    "social not loaded");

	{
		/* Automatic: the times are computed. */
		const struct row rows[] = {
		/* user groups net src method target dst now rv act rule fl */
		{ NULL, NULL, "home", NULL, NULL,
		  "http://download.windowsupdate.com/x", NULL, 0, D, ALLOW,
		  "updates", 0 },
		{ "alice", "Staff", "office", NULL, NULL,
		  "http://wiki.intra.example/", NULL, 0, D, BLOCK,
		  "intranet-admins-only", 0 },
		{ "dave", "Admins", "office", NULL, NULL,
		  "http://wiki.intra.example/", NULL, 0, P, BLOCK,
		  "internal-ips", 0 },
		{ "dave", "Admins", "office", NULL, NULL,
		  "http://wiki.intra.example/", "10.1.1.1", 0, D, ALLOW,
		  "default", 0 },
		{ "bob", "Staff,Finance", "office", NULL, NULL,
		  "http://online.bank.example/", NULL, 0, D, ALLOW,
		  "finance", 0 },
		{ "alice", "Staff", "office", NULL, NULL,
		  "http://online.bank.example/", NULL, 0, D, BLOCK,
		  "bank-others", 0 },
		/* Unknown groups: the group rules are skipped. */
		{ "bob", "?", "office", NULL, NULL,
		  "http://online.bank.example/", NULL, 0, D, BLOCK,
		  "bank-others", GU },
		{ "bob", "?", "office", NULL, NULL,
		  "http://wiki.intra.example/", "10.1.1.1", 0, D, ALLOW,
		  "default", GU },
		/* Not signed in: in no group, so not_group holds. */
		{ NULL, NULL, "office", NULL, NULL,
		  "http://wiki.intra.example/", NULL, 0, D, BLOCK,
		  "intranet-admins-only", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://www.bet365.com/",
		  NULL, 0, D, BLOCK, "no-gambling", 0 },
		{ NULL, NULL, "office", NULL, NULL, "sub.casino.example:443",
		  NULL, 0, D, BLOCK, "no-gambling", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://POKER.test./",
		  NULL, 0, D, BLOCK, "no-gambling", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://notpoker.test/",
		  "8.8.8.8", 0, D, ALLOW, "default", 0 },
		{ NULL, NULL, "office", NULL, NULL,
		  "http://xn--caf-dma.example/", NULL, 0, D, BLOCK,
		  "no-gambling", 0 },
		{ "eve", "", "office", NULL, NULL,
		  "http://www.porn.test/", NULL, 0, D, BLOCK, "adult", 0 },
		{ "eve", "", "lab", "10.9.1.1", NULL,
		  "http://www.porn.test/", NULL, 0, D, ALLOW, "lab-only", 0 },
		{ "eve", "", "office", NULL, NULL,
		  "http://jokes.humor.example/", NULL, 0, D, BLOCK, "adult",
		  0 },
		{ "eve", "", "office", NULL, NULL,
		  "http://free.example/xxx/1.jpg", NULL, 0, D, BLOCK, "adult",
		  0 },
		{ "eve", "", "office", NULL, NULL,
		  "http://free.example/xxxy", "1.1.1.1", 0, D, ALLOW,
		  "default", 0 },
		{ NULL, NULL, "office", NULL, NULL,
		  "http://ads.example/banner/1.gif", NULL, 0, D, MON,
		  "ads-monitor", 0 },
		{ NULL, NULL, "office", NULL, NULL,
		  "http://ads.example/bannerx", "1.1.1.1", 0, D, ALLOW,
		  "default", 0 },
		{ NULL, NULL, "office", NULL, NULL, "ads.example:443",
		  "1.1.1.1", 0, D, ALLOW, "default", 0 },
		{ NULL, NULL, "office", NULL, NULL, "x.tracker.test:443",
		  NULL, 0, D, MON, "ads-monitor", 0 },
		{ NULL, NULL, "office", NULL, NULL,
		  "http://www.cdn.example/ads/x.js", NULL, 0, D, MON,
		  "ads-monitor", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://adserver.test/",
		  NULL, 0, D, MON, "ads-monitor", 0 },
		{ "eve", "", "office", NULL, NULL,
		  "http://www.social.example/", NULL, mon10, D, WARN,
		  "social-warn", 0 },
		{ "eve", "", "office", NULL, NULL,
		  "http://www.social.example/", "1.1.1.1", mon1730, D, ALLOW,
		  "default", 0 },
		{ NULL, NULL, "office", NULL, NULL, "ssh.example:22", NULL, 0,
		  D, BLOCK, "ssh-tunnel", 0 },
		{ NULL, NULL, "office", NULL, NULL, "ssh.example:8444",
		  "1.1.1.1", 0, D, ALLOW, "default", 0 },
		{ NULL, NULL, "office", NULL, "POST",
		  "http://upload.example/f", NULL, 0, D, BLOCK, "post-upload",
		  0 },
		{ NULL, NULL, "office", NULL, "PUT",
		  "http://upload.example/f", NULL, 0, D, BLOCK, "post-upload",
		  0 },
		{ NULL, NULL, "office", NULL, "put",
		  "http://upload.example/f", "1.1.1.1", 0, D, ALLOW,
		  "default", 0 },
		{ NULL, NULL, "office", NULL, "GET",
		  "http://upload.example/f", "1.1.1.1", 0, D, ALLOW,
		  "default", 0 },
		{ "alice", "", "office", NULL, NULL, "http://alice.example/",
		  NULL, 0, D, ALLOW, "alice-rule", 0 },
		{ "EXAMPLE\\alice", "", "office", NULL, NULL,
		  "http://alice.example/", NULL, 0, D, ALLOW, "alice-rule",
		  0 },
		{ "Alice@EXAMPLE.TEST", "", "office", NULL, NULL,
		  "http://alice.example/", NULL, 0, D, ALLOW, "alice-rule",
		  0 },
		{ "malice", "", "office", NULL, NULL, "http://alice.example/",
		  "1.1.1.1", 0, D, ALLOW, "default", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://alice.example/",
		  "1.1.1.1", 0, D, ALLOW, "default", 0 },
		{ "OTHER\\carol", "", "office", NULL, NULL,
		  "http://x.example/", "1.1.1.1", 0, D, ALLOW, "default", 0 },
		{ "example\\CAROL", "", "office", NULL, NULL,
		  "http://x.example/", NULL, 0, D, BLOCK, "carol-deny", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://news.example/",
		  NULL, tue2330, D, BLOCK, "night", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://news.example/",
		  NULL, wed0559, D, BLOCK, "night", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://news.example/",
		  "1.1.1.1", wed0600, D, ALLOW, "default", 0 },
		{ "bob", "", "office", NULL, NULL, "http://news.example/",
		  "1.1.1.1", tue2330, D, ALLOW, "default", 0 },
		/* IP literals need no DNS. */
		{ NULL, NULL, "office", NULL, NULL, "http://192.168.1.10/",
		  NULL, 0, D, BLOCK, "internal-ips", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://[fd00::1]:8080/",
		  NULL, 0, D, BLOCK, "internal-ips", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://10.0.0.1/",
		  NULL, 0, D, ALLOW, "default", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://nas.example/",
		  "192.168.5.5", 0, D, BLOCK, "internal-ips", 0 },
		{ NULL, NULL, "office", NULL, NULL, "nas.example:443",
		  "::ffff:192.168.1.1", 0, D, BLOCK, "internal-ips", 0 },
		{ NULL, NULL, "office", NULL, NULL, "http://nas.example/",
		  NULL, 0, P, BLOCK, "internal-ips", 0 },
		};

		run_rows(p, rows, N(rows), "rules");
	}

	/* Monitor and warn details, the reason. */
	{
		struct row w = { NULL, NULL, "office", NULL, NULL,
		    "http://ads.example/banner/1.gif", NULL, 0, 0, 0, "", 0 };
		const char *groups[8];
		char rb[1024];

		row_req(&w, &req, groups, rb, sizeof(rb), &ss, &ds);
		policy_decide(p, &req, &d);
		CHECK(d.action == POLICY_MONITOR &&
		    d.monitored == POLICY_BLOCK, "monitor");
		policy_reason(&d, buf, sizeof(buf));
		CHECK(strcmp(buf, "category 'ads' (ads.example)") == 0,
		    "reason '%s'", buf);

		w.target = "http://www.social.example/";
		row_req(&w, &req, groups, rb, sizeof(rb), &ss, &ds);
		policy_decide(p, &req, &d);
		CHECK(d.action == POLICY_WARN && d.warn_ttl == 600,
		    "warn ttl %ld", d.warn_ttl);

		w.target = "http://www.bet365.com/";
		row_req(&w, &req, groups, rb, sizeof(rb), &ss, &ds);
		policy_decide(p, &req, &d);
		policy_reason(&d, buf, sizeof(buf));
		CHECK(strcmp(buf, "category 'gambling' (bet365.com)") == 0,
		    "reason '%s'", buf);
		CHECK(d.file == conffile || strcmp(d.file, conffile) == 0,
		    "file");
		CHECK(d.line == 24, "line %d", d.line);
		policy_explain_text(p, &req, &d, text, sizeof(text));
		CHECK(strstr(text, "#5 'no-gambling' (") != NULL &&
		    strstr(text, "MATCH -> block") != NULL &&
		    strstr(text, "+ category         'www.bet365.com' is in "
		    "category 'gambling' (entry bet365.com)") != NULL &&
		    strstr(text, "#15 'internal-ips'") != NULL &&
		    strstr(text, "decision: block by #5 'no-gambling'") !=
		    NULL, "explain text:\n%s", text);

		/* Groups unknown: explain says so. */
		w.user = "bob";
		w.groups = "?";
		w.target = "http://online.bank.example/";
		row_req(&w, &req, groups, rb, sizeof(rb), &ss, &ds);
		policy_explain_text(p, &req, &d, text, sizeof(text));
		CHECK(strstr(text, "? group") != NULL &&
		    strstr(text, "are unknown") != NULL &&
		    strstr(text, "note: rules testing groups were skipped") !=
		    NULL, "unknown groups text:\n%s", text);

		/* A decision waiting for DNS. */
		w.user = NULL;
		w.groups = NULL;
		w.target = "http://nas.example/";
		row_req(&w, &req, groups, rb, sizeof(rb), &ss, &ds);
		CHECK(policy_explain_text(p, &req, &d, text, sizeof(text)) ==
		    POLICY_NEED_DST_IP && strstr(text, "waits for DNS") !=
		    NULL, "pending text:\n%s", text);
	}

	/* The sign-in exemption. */
	{
		struct row w = { "alice", "Finance", "home", NULL, NULL,
		    "http://download.windowsupdate.com/x", NULL, 0, 0, 0, "",
		    0 };
		const char *groups[8];
		char rb[1024];

		row_req(&w, &req, groups, rb, sizeof(rb), &ss, &ds);
		CHECK(policy_auth_exempt(p, &req, &d) == 1 && d.rule == 0 &&
		    d.action == POLICY_ALLOW, "updates are exempt");
		w.target = "http://www.bet365.com/";
		row_req(&w, &req, groups, rb, sizeof(rb), &ss, &ds);
		CHECK(policy_auth_exempt(p, &req, &d) == 0 &&
		    d.action == POLICY_BLOCK, "gambling is not exempt");
		w.target = "http://nas.example/";
		row_req(&w, &req, groups, rb, sizeof(rb), &ss, &ds);
		CHECK(policy_auth_exempt(p, &req, &d) == 0, "pending: sign in");
	}
	policy_free(p);
}

/* --- every condition, both ways ------------------------------------ */

/* A request row of a negation case (no expectations yet). */
#define NR(u, g, net, src, meth, target, dst, ...)			\
	{ u, g, net, src, meth, target, dst, __VA_ARGS__ + 0, 0, 0, NULL, 0 }

struct negcase {
	int		 kind;
	const char	*value;
	const struct row a;	/* meets value */
	const struct row b;	/* does not */
};

static void
t_negation(void)
{
	static const char *const nets[] = { "office", "lab" };
	static const struct negcase cases[] = {
	{ POLICY_C_NETWORK, "office",
	  NR(NULL, NULL, "office", NULL, NULL, "http://x.test/", "1.1.1.1"),
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test/", "1.1.1.1") },
	{ POLICY_C_SCHEME, "connect",
	  NR(NULL, NULL, NULL, NULL, NULL, "x.test:443", "1.1.1.1"),
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test/", "1.1.1.1") },
	{ POLICY_C_PORT, "8000-8999",
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test:8080/", "1.1.1.1"),
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test/", "1.1.1.1") },
	{ POLICY_C_METHOD, "post",
	  NR(NULL, NULL, NULL, NULL, "POST", "http://x.test/", "1.1.1.1"),
	  NR(NULL, NULL, NULL, NULL, "GET", "http://x.test/", "1.1.1.1") },
	{ POLICY_C_USER, "alice",
	  NR("alice", "", NULL, NULL, NULL, "http://x.test/", "1.1.1.1"),
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test/", "1.1.1.1") },
	{ POLICY_C_SRC, "10.0.0.0/8",
	  NR(NULL, NULL, NULL, "10.1.2.3", NULL, "http://x.test/", "1.1.1.1"),
	  NR(NULL, NULL, NULL, "::1", NULL, "http://x.test/", "1.1.1.1") },
	{ POLICY_C_GROUP, "Finance",
	  NR("bob", "x,FINANCE", NULL, NULL, NULL, "http://x.test/",
	    "1.1.1.1"),
	  NR("bob", "Staff", NULL, NULL, NULL, "http://x.test/", "1.1.1.1") },
	{ POLICY_C_DST_DOMAIN, ".example.com",
	  NR(NULL, NULL, NULL, NULL, NULL, "http://a.example.com/", "1.1.1.1"),
	  NR(NULL, NULL, NULL, NULL, NULL, "http://example.net/", "1.1.1.1") },
	{ POLICY_C_CATEGORY, "gambling",
	  NR(NULL, NULL, NULL, NULL, NULL, "bet365.com:443", "1.1.1.1"),
	  NR(NULL, NULL, NULL, NULL, NULL, "bet366.com:443", "1.1.1.1") },
	{ POLICY_C_SCHEDULE, "weekend",
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test/", "1.1.1.1",
	    1775304000 /* Sat 2026-04-04 12:00 UTC */),
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test/", "1.1.1.1",
	    1775476800 /* Mon 2026-04-06 12:00 UTC */) },
	{ POLICY_C_URL_REGEX, "\\.exe$",
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test/a.exe", "1.1.1.1"),
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test/a.html",
	    "1.1.1.1") },
	{ POLICY_C_DST_IP, "192.0.2.0/24",
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test/", "192.0.2.9"),
	  NR(NULL, NULL, NULL, NULL, NULL, "http://x.test/", "::1") },
	};
	struct policy_rule_src		 r;
	struct policy_category_src	 cat;
	struct policy_schedule_src	 sch;
	struct policy_src		 src;
	struct policy			*p;
	struct row			 rows[2];
	char				 err[2048], rn[64];
	const char *const		*v;
	size_t				 i;
	int				 neg;

	cat = (struct policy_category_src){ .name = "gambling",
	    .file = conffile, .line = 1, .domains = LIST("bet365.com") };
	sch = (struct policy_schedule_src){ .name = "weekend",
	    .file = conffile, .line = 2, .days = LIST("sat-sun"),
	    .timezone = "UTC" };
	for (i = 0; i < N(cases); i++) {
		for (neg = 0; neg <= 1; neg++) {
			memset(&r, 0, sizeof(r));
			snprintf(rn, sizeof(rn), "%s%s", neg ? "not_" : "",
			    policy_cond_name(cases[i].kind));
			r.name = rn;
			r.file = conffile;
			r.line = 10;
			r.action = POLICY_BLOCK;
			v = &cases[i].value;
			if (neg)
				r.not_cond[cases[i].kind] =
				    (struct policy_list){ v, 1, 0 };
			else
				r.cond[cases[i].kind] =
				    (struct policy_list){ v, 1, 0 };
			memset(&src, 0, sizeof(src));
			src.rules = &r;
			src.nrules = 1;
			src.categories = &cat;
			src.ncategories = 1;
			src.schedules = &sch;
			src.nschedules = 1;
			src.default_action = POLICY_ALLOW;
			p = policy_build(&src, nets, N(nets), err,
			    sizeof(err));
			CHECK(p != NULL, "%s: %s", rn, err);
			if (p == NULL)
				continue;
			rows[0] = cases[i].a;
			rows[1] = cases[i].b;
			rows[0].rv = rows[1].rv = POLICY_DECIDED;
			rows[0].action = neg ? POLICY_ALLOW : POLICY_BLOCK;
			rows[0].rule = neg ? "default" : rn;
			rows[1].action = neg ? POLICY_BLOCK : POLICY_ALLOW;
			rows[1].rule = neg ? rn : "default";
			run_rows(p, rows, 2, rn);

			/* Unknown groups skip both forms. */
			if (cases[i].kind == POLICY_C_GROUP) {
				rows[0].groups = "?";
				rows[0].action = POLICY_ALLOW;
				rows[0].rule = "default";
				rows[0].flags = POLICY_DF_GROUPS_UNKNOWN;
				run_rows(p, rows, 1, "unknown groups");
			}
			/* Before DNS both forms wait. */
			if (cases[i].kind == POLICY_C_DST_IP) {
				rows[0].dst = NULL;
				rows[0].rv = POLICY_NEED_DST_IP;
				rows[0].action = POLICY_BLOCK;
				rows[0].rule = rn;
				run_rows(p, rows, 1, "pending");
			}
			policy_free(p);
		}
	}
}

/* A group callback (as the proxy's auth_groups_has) and the memo. */
static int	group_calls;

static int
group_cb(void *arg, const char *g)
{
	group_calls++;
	return (strcasecmp(g, (const char *)arg) == 0);
}

static void
t_groups_cb(void)
{
	struct policy_rule_src	 r[3];
	struct policy_src	 src;
	struct policy		*p;
	struct policy_request	 req;
	struct policy_decision	 d;
	char			 err[1024];
	size_t			 i;

	memset(r, 0, sizeof(r));
	for (i = 0; i < 3; i++) {
		r[i].file = conffile;
		r[i].line = (int)i + 1;
		r[i].action = POLICY_ALLOW;
	}
	/* url_regex is tried after group, so the groups are asked. */
	r[0].name = "a";
	r[0].cond[POLICY_C_GROUP] = (struct policy_list)LIST("Sales", "HR");
	r[0].cond[POLICY_C_URL_REGEX] = (struct policy_list)LIST("^a");
	r[1].name = "b";
	r[1].cond[POLICY_C_GROUP] = (struct policy_list)LIST("hr", "sales");
	r[1].cond[POLICY_C_URL_REGEX] = (struct policy_list)LIST("^b");
	r[2].name = "c";
	r[2].cond[POLICY_C_GROUP] = (struct policy_list)LIST("IT");
	memset(&src, 0, sizeof(src));
	src.rules = r;
	src.nrules = 3;
	src.default_action = POLICY_BLOCK;
	p = policy_build(&src, NULL, 0, err, sizeof(err));
	CHECK(p != NULL, "%s", err);
	if (p == NULL)
		return;
	memset(&req, 0, sizeof(req));
	req.user = "u";
	req.group_member = group_cb;
	req.group_arg = "it";
	req.host = "x.test";
	req.url = "http://x.test/";
	req.port = 80;
	req.method = "GET";
	group_calls = 0;
	policy_decide(p, &req, &d);
	CHECK(d.rule == 2 && group_calls == 3, "rule %d, %d calls (each "
	    "group asked once)", d.rule, group_calls);
	/* The same through a list (the policy's hash table of groups). */
	{
		const char *g[] = { "Staff", "it", "Users" };

		req.group_member = NULL;
		req.groups = g;
		req.ngroups = 3;
		policy_decide(p, &req, &d);
		CHECK(d.rule == 2, "list: rule %d", d.rule);
		g[1] = "hR";
		req.url = "abc";
		policy_decide(p, &req, &d);
		CHECK(d.rule == 0, "list: rule %d", d.rule);
		req.ngroups = 1;
		policy_decide(p, &req, &d);
		CHECK(d.rule == -1, "list: rule %d", d.rule);
	}
	policy_free(p);
}

/*
 * Random policies and requests: policy_decide() (the rule index, early
 * exits, the per-request memos) must agree with policy_explain() (every
 * rule, every condition) on every pair.
 */
static void
t_random(void)
{
	static const char *const doms[] = { "a.test", ".a.test", "b.test",
	    ".example", "x.example", "1.2.3.4", "c.a.test" };
	static const char *const hosts[] = { "a.test", "www.a.test",
	    "c.a.test", "b.test", "x.b.test", "example", "x.example",
	    "y.x.example", "1.2.3.4", "zz.test" };
	static const char *const grp[] = { "g0", "g1", "g2", "G3" };
	static const char *const usr[] = { "u0", "EX\\u1", "u2@R" };
	static const char *const requsr[] = { "u0", "EX\\u1", "ex\\u0",
	    "u2@R", "u2@S", "u3" };
	static const char *const catn[] = { "c0", "c1", "c2" };
	static const char *const ports[] = { "80", "443", "8000-8100" };
	static const char *const sch[] = { "http", "connect" };
	static const char *const meth[] = { "GET", "POST" };
	static const char *const nets[] = { "n0", "n1" };
	static const char *const srcs[] = { "10.0.0.0/8", "::/0",
	    "192.0.2.0/24" };
	static const char *const res[] = { "a\\.test", "^http://x", ":443$" };
	static const char *const dips[] = { "10.0.0.0/8", "2001:db8::/32" };
	static const char *const schn[] = { "s0" };
	static const struct {
		const char *const *v;
		size_t n;
	} vocab[POLICY_NCOND] = {
		[POLICY_C_NETWORK] = { nets, 2 },
		[POLICY_C_SCHEME] = { sch, 2 },
		[POLICY_C_PORT] = { ports, 3 },
		[POLICY_C_METHOD] = { meth, 2 },
		[POLICY_C_DST_DOMAIN] = { doms, 7 },
		[POLICY_C_CATEGORY] = { catn, 3 },
		[POLICY_C_SRC] = { srcs, 3 },
		[POLICY_C_USER] = { usr, 3 },
		[POLICY_C_GROUP] = { grp, 4 },
		[POLICY_C_SCHEDULE] = { schn, 1 },
		[POLICY_C_URL_REGEX] = { res, 3 },
		[POLICY_C_DST_IP] = { dips, 2 },
	};
	static const char *vals[200][POLICY_NCOND * 2][2];
	struct policy_rule_src		 r[200];
	struct policy_category_src	 c[3];
	struct policy_schedule_src	 sc;
	struct policy_src		 src;
	struct policy			*p;
	struct policy_request		 req;
	struct policy_decision		 d, e;
	struct sockaddr_storage		 ss, ds;
	const char			*g[4];
	char				 err[2048], names[200][24], url[128];
	unsigned			 seed = 7;
	size_t				 i, j, k, n, round, bad = 0;
	int				 kind, rv, rv2;

#define RND(n)	((seed = seed * 1103515245 + 12345) >> 16) % (n)
	c[0] = (struct policy_category_src){ .name = "c0", .file = conffile,
	    .line = 1, .domains = LIST("a.test", "x.example") };
	c[1] = (struct policy_category_src){ .name = "c1", .file = conffile,
	    .line = 1, .domains = LIST("b.test") };
	c[2] = (struct policy_category_src){ .name = "c2", .file = conffile,
	    .line = 1, .domains = LIST("example", "1.2.3.4") };
	sc = (struct policy_schedule_src){ .name = "s0", .file = conffile,
	    .line = 2, .days = LIST("mon-wed"), .timezone = "UTC" };
	for (round = 0; round < 20; round++) {
		memset(r, 0, sizeof(r));
		n = 20 + RND(180);
		for (i = 0; i < n; i++) {
			snprintf(names[i], sizeof(names[i]), "r%zu", i);
			r[i].name = names[i];
			r[i].file = conffile;
			r[i].line = (int)i + 10;
			r[i].action = (enum policy_action)RND(4);
			r[i].auth = RND(6) == 0 ? POLICY_AUTH_REQUIRED :
			    POLICY_AUTH_ANY;
			for (j = 0, k = 1 + RND(3); j < k; j++) {
				int neg = RND(4) == 0;
				struct policy_list *l;
				size_t nv = 1 + RND(2), x;

				kind = (int)RND(POLICY_NCOND);
				l = neg ? &r[i].not_cond[kind] :
				    &r[i].cond[kind];
				for (x = 0; x < nv; x++)
					vals[i][kind * 2 + neg][x] =
					    vocab[kind].v[RND(vocab[kind].n)];
				l->v = vals[i][kind * 2 + neg];
				l->n = nv;
			}
		}
		memset(&src, 0, sizeof(src));
		src.rules = r;
		src.nrules = n;
		src.categories = c;
		src.ncategories = 3;
		src.schedules = &sc;
		src.nschedules = 1;
		src.default_action = (enum policy_action)RND(3);
		p = policy_build(&src, nets, 2, err, sizeof(err));
		CHECK(p != NULL, "random build: %s", err);
		if (p == NULL)
			continue;
		for (i = 0; i < 500; i++) {
			memset(&req, 0, sizeof(req));
			req.host = hosts[RND(N(hosts))];
			req.scheme = (enum policy_scheme)RND(2);
			req.port = req.scheme == POLICY_SCHEME_CONNECT ?
			    (RND(2) ? 443 : 22) : (RND(2) ? 80 : 8080);
			req.method = req.scheme == POLICY_SCHEME_CONNECT ?
			    "CONNECT" : meth[RND(2)];
			snprintf(url, sizeof(url), req.scheme ==
			    POLICY_SCHEME_CONNECT ? "%s:%d" :
			    "http://%s:%d/p", req.host, req.port);
			req.url = url;
			req.user = RND(4) == 0 ? NULL : requsr[RND(N(requsr))];
			for (j = 0, k = RND(4); j < k; j++)
				g[j] = grp[RND(4)];
			req.groups = g;
			req.ngroups = k;
			req.groups_unknown = RND(8) == 0;
			req.network = RND(3) == 0 ? NULL : nets[RND(2)];
			req.src = RND(10) == 0 ? NULL : addr(RND(2) ?
			    "10.1.2.3" : "2001:db8::5", &ss);
			req.dst_ip = RND(3) == 0 ? NULL : addr(RND(2) ?
			    "10.9.9.9" : "198.51.100.7", &ds);
			req.now = (time_t)(1775000000 + RND(7) * 86400);
			rv = policy_decide(p, &req, &d);
			rv2 = policy_explain(p, &req, &e, NULL, NULL);
			if (rv != rv2 || d.rule != e.rule ||
			    d.action != e.action || d.flags != e.flags ||
			    d.why != e.why)
				bad++;
			/* A tracer that collects nothing changes nothing. */
			policy_explain_text(p, &req, &e, err, 64);
			if (rv != (int)(e.flags & POLICY_DF_PENDING ? 1 : 0) ||
			    d.rule != e.rule || d.flags != e.flags)
				bad++;
		}
		policy_free(p);
	}
	CHECK(bad == 0, "random: %zu decisions differ from explain", bad);
#undef RND
}

/* --- build errors -------------------------------------------------- */

static void
t_errors(void)
{
	static const char *const nets[] = { "office" };
	struct policy_rule_src		 r[14];
	struct policy_schedule_src	 s[4];
	struct policy_category_src	 c[3];
	struct policy_catdir_src	 cd[1];
	struct policy_src		 src;
	struct policy			*p;
	char				 err[8192], want[1024];
	size_t				 i, lines;
	const char			*e;
	static const struct {
		int		 line;
		const char	*msg;
	} errs[] = {
		{ 10, "rule 'r10': network: unknown network 'nowhere' (no "
		    "network block of that name)" },
		{ 11, "rule 'r11': category: unknown category 'nocat'" },
		{ 12, "rule 'r12': not_schedule: unknown schedule 'nosched'" },
		{ 13, "rule 'r13': url_regex: bad regex '(unclosed': missing "
		    "closing parenthesis at offset 9" },
		{ 14, "rule 'r14': src: bad address block '10.0.0.0/33'" },
		{ 15, "rule 'r15': not_dst_ip: bad address block '300.1.1.1'" },
		{ 16, "rule 'r16': port: bad port '0'" },
		{ 16, "rule 'r16': port: bad port '70000'" },
		{ 16, "rule 'r16': port: bad port '9-1'" },
		{ 17, "rule 'r17': method: bad method 'GE T'" },
		{ 18, "rule 'r18': scheme: 'https': HTTPS reaches a proxy as "
		    "a CONNECT tunnel: write connect" },
		{ 18, "rule 'r18': scheme: unknown scheme 'ftp'" },
		{ 50, "rule 'r19': dst_domain: bad domain 'bad..domain'" },
		{ 20, "rule 'r20': auth = none cannot test user or group" },
		{ 21, "rule 'r10' is defined twice (first at " },
		{ 22, "rule 'r22': monitor_action needs action = monitor" },
		{ 23, "rule 'r23': category: empty value" },
		{ 30, "schedule 's1': bad time range '25:00-26:00'" },
		{ 31, "schedule 's2': unknown time zone 'Mars/Olympus'" },
		{ 32, "schedule 's3': bad day 'funday'" },
		{ 33, "schedule 's4': invalid time zone name '../etc/passwd'" },
		{ 40, "category 'c1': cannot read domains list '" },
		{ 41, "category 'c2': nothing in it" },
		{ 42, "category 'c3': bad domain 'not a domain'" },
		{ 45, "category_dir '" },
	};

	memset(r, 0, sizeof(r));
	memset(s, 0, sizeof(s));
	memset(c, 0, sizeof(c));
	for (i = 0; i < N(r); i++) {
		r[i].file = conffile;
		r[i].action = POLICY_BLOCK;
	}
	r[0] = (struct policy_rule_src){ .name = "r10", .line = 10,
	    .cond[POLICY_C_NETWORK] = LIST("nowhere", "office") };
	r[1] = (struct policy_rule_src){ .name = "r11", .line = 11,
	    .cond[POLICY_C_CATEGORY] = LIST("nocat") };
	r[2] = (struct policy_rule_src){ .name = "r12", .line = 12,
	    .not_cond[POLICY_C_SCHEDULE] = LIST("nosched") };
	r[3] = (struct policy_rule_src){ .name = "r13", .line = 13,
	    .cond[POLICY_C_URL_REGEX] = LIST("(unclosed") };
	r[4] = (struct policy_rule_src){ .name = "r14", .line = 14,
	    .cond[POLICY_C_SRC] = LIST("10.0.0.0/33") };
	r[5] = (struct policy_rule_src){ .name = "r15", .line = 15,
	    .not_cond[POLICY_C_DST_IP] = LIST("300.1.1.1") };
	r[6] = (struct policy_rule_src){ .name = "r16", .line = 16,
	    .cond[POLICY_C_PORT] = LIST("0", "70000", "9-1", "10-20") };
	r[7] = (struct policy_rule_src){ .name = "r17", .line = 17,
	    .cond[POLICY_C_METHOD] = LIST("GE T") };
	r[8] = (struct policy_rule_src){ .name = "r18", .line = 18,
	    .cond[POLICY_C_SCHEME] = LIST("https", "ftp") };
	r[9] = (struct policy_rule_src){ .name = "r19", .line = 19,
	    .cond[POLICY_C_DST_DOMAIN] = { (const char *const []){
	    "bad..domain" }, 1, 50 } };
	r[10] = (struct policy_rule_src){ .name = "r20", .line = 20,
	    .auth = POLICY_AUTH_NONE, .cond[POLICY_C_GROUP] = LIST("x") };
	r[11] = (struct policy_rule_src){ .name = "r10", .line = 21 };
	r[12] = (struct policy_rule_src){ .name = "r22", .line = 22,
	    .monitor_set = 1, .monitor_action = POLICY_BLOCK };
	r[13] = (struct policy_rule_src){ .name = "r23", .line = 23,
	    .cond[POLICY_C_CATEGORY] = LIST("") };
	for (i = 0; i < N(r); i++)
		r[i].file = conffile;
	s[0] = (struct policy_schedule_src){ .name = "s1", .file = conffile,
	    .line = 30, .times = LIST("25:00-26:00"), .timezone = "UTC" };
	s[1] = (struct policy_schedule_src){ .name = "s2", .file = conffile,
	    .line = 31, .timezone = "Mars/Olympus" };
	s[2] = (struct policy_schedule_src){ .name = "s3", .file = conffile,
	    .line = 32, .days = LIST("funday"), .timezone = "UTC" };
	s[3] = (struct policy_schedule_src){ .name = "s4", .file = conffile,
	    .line = 33, .timezone = "../etc/passwd" };
	c[0] = (struct policy_category_src){ .name = "c1", .file = conffile,
	    .line = 40, .domains_files = LIST("missing.txt") };
	c[1] = (struct policy_category_src){ .name = "c2", .file = conffile,
	    .line = 41 };
	c[2] = (struct policy_category_src){ .name = "c3", .file = conffile,
	    .line = 42, .domains = LIST("not a domain") };
	cd[0] = (struct policy_catdir_src){ "nodir", conffile, 45 };

	memset(&src, 0, sizeof(src));
	src.rules = r;
	src.nrules = N(r);
	src.schedules = s;
	src.nschedules = N(s);
	src.categories = c;
	src.ncategories = N(c);
	src.catdirs = cd;
	src.ncatdirs = 1;
	src.default_action = POLICY_ALLOW;
	p = policy_build(&src, nets, N(nets), err, sizeof(err));
	CHECK(p == NULL, "a bad policy builds");
	policy_free(p);
	for (i = 0; i < N(errs); i++) {
		snprintf(want, sizeof(want), "%s:%d: %s", conffile,
		    errs[i].line, errs[i].msg);
		CHECK(strstr(err, want) != NULL, "missing '%s' in:\n%s", want,
		    err);
	}
	for (lines = 1, e = err; (e = strchr(e, '\n')) != NULL; e++)
		lines++;
	CHECK(lines == N(errs), "%zu errors, want %zu:\n%s", lines, N(errs),
	    err);

	/* A good policy from a category_dir with nothing used loads. */
	memset(&src, 0, sizeof(src));
	cd[0] = (struct policy_catdir_src){ "bl", conffile, 1 };
	src.catdirs = cd;
	src.ncatdirs = 1;
	p = policy_build(&src, NULL, 0, err, sizeof(err));
	CHECK(p != NULL && err[0] == '\0', "empty policy: %s", err);
	policy_free(p);

	/* A category both in a block and a folder. */
	c[0] = (struct policy_category_src){ .name = "adult",
	    .file = conffile, .line = 60, .domains = LIST("x.test") };
	src.categories = c;
	src.ncategories = 1;
	p = policy_build(&src, NULL, 0, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:1: category 'adult' of category_dir "
	    "'bl' is also defined at %s:60", conffile, conffile);
	CHECK(p == NULL && strstr(err, want) != NULL, "twice: %s", err);
	policy_free(p);

	/* Truncation keeps the buffer terminated. */
	src.ncategories = 1;
	p = policy_build(&src, NULL, 0, err, 10);
	CHECK(p == NULL && strlen(err) == 9, "truncated '%s'", err);
}

static void
cleanup(void)
{
	char	cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/t_policy.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return (2);
	}
	snprintf(conffile, sizeof(conffile), "%s/iaproxy.conf", tmpdir);

	t_domainset();
	t_tagsets();
	t_cidrset();
	t_tz();
	t_schedule();
	t_urlre();
	t_category_lines();
	t_rules();
	t_negation();
	t_groups_cb();
	t_random();
	t_errors();
	cleanup();
	return (unit_done("t_policy"));
}
