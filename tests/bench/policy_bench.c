/*
 * policy_bench: decisions per second of policy/ for a realistic policy,
 * in-process, on one core, and the load time of its category lists.
 *
 *   policy_bench [-d DOMAINS] [-t SECONDS] [-k]
 *
 * It writes five categories in the blacklist folder layout
 * (DIR/adult/domains, ...) into a mktemp -d directory: by default
 * 1,000,000 distinct synthetic names in all (adult 50%, gambling 20%,
 * ads 15%, social 10%, malware 5%), made of pronounceable labels under a
 * realistic mix of TLDs (.com half of them, country codes, .co.uk-style
 * second levels) with a "www." or other host label on a third; then it
 * builds a 50-rule policy over them (category blocks with group
 * exceptions, per-group and per-user destination lists, schedules in
 * Europe/Paris, CONNECT port rules, url_regex rules, network and source
 * rules, an auth = none exemption, one dst_ip rule last) and decides a
 * table of 16,384 pre-built requests in a loop for -t seconds (default 2)
 * per workload:
 *
 *   mixed     users with 3-8 groups of 40 (passed as a list); 70% of
 *             hosts from a pool of 10,000 popular sites, 30% from the
 *             categories (a subdomain half the time); GET, POST and
 *             CONNECT; times over a week; dst_ip given (the decision
 *             after DNS)
 *   pre-dns   the same requests without dst_ip (the first decision)
 *   callback  the mixed requests with groups asked one by one through
 *             group_member() (a strcasecmp scan of the user's groups, as
 *             auth_groups_has() does) instead of handed over as a list
 *   cold      every host a category entry drawn uniformly from the
 *             million: each lookup misses the CPU caches; most of these
 *             are then blocked by one of the first rules
 *
 * Output: one line per figure, then a markdown table.  Exit status 0 when
 * the goals hold (>= 1,000,000 decisions per CPU second on the mixed
 * workload: the rate of one core, whatever else the machine runs; lists
 * loaded in < 2 s), 1 otherwise, 2 on a setup error.
 */
#include "config.h"

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

#include "policy.h"

#define NREQ		16384
#define NPOP		10000
#define NUSERS		1000
#define NGROUPS		40
#define MAXG		8

static const char *const cats[] = { "adult", "gambling", "ads", "social",
    "malware" };
static const int cat_pct[] = { 50, 20, 15, 10, 5 };

static uint64_t	rng_s = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	/* xorshift64*: deterministic, so every run uses the same data. */
	rng_s ^= rng_s >> 12;
	rng_s ^= rng_s << 25;
	rng_s ^= rng_s >> 27;
	return (rng_s * 0x2545f4914f6cdd1dULL);
}

static unsigned
rnd(unsigned n)
{
	return ((unsigned)(rng() % n));
}

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* A pronounceable label of 4..13 letters, maybe with digits or a '-'. */
static size_t
label(char *out)
{
	static const char c[] = "bcdfghjklmnprstvwxz", v[] = "aeiouy";
	size_t	n = 0, want = 4 + rnd(10);

	while (n < want) {
		out[n++] = c[rnd(sizeof(c) - 1)];
		out[n++] = v[rnd(sizeof(v) - 1)];
	}
	if (rnd(10) == 0)
		n += (size_t)sprintf(out + n, "%u", rnd(100));
	else if (rnd(20) == 0) {
		out[n++] = '-';
		out[n++] = c[rnd(sizeof(c) - 1)];
		out[n++] = v[rnd(sizeof(v) - 1)];
	}
	out[n] = '\0';
	return (n);
}

static const char *
tld(void)
{
	static const char *const t[] = { "com", "net", "org", "de", "fr",
	    "ru", "info", "co.uk", "nl", "it", "es", "pl", "com.br", "biz",
	    "io", "xyz", "jp", "cn", "tv", "eu" };
	unsigned r = rnd(100);

	if (r < 50)
		return ("com");
	return (t[1 + rnd(sizeof(t) / sizeof(t[0]) - 1)]);
}

/* A registrable domain, with a host label in front a third of the time. */
static void
domain(char *out, size_t len)
{
	static const char *const h[] = { "www", "m", "cdn", "static", "img",
	    "api", "shop", "login" };
	char	a[32], b[32];

	label(a);
	if (rnd(3) == 0)
		snprintf(out, len, "%s.%s.%s", h[rnd(8)], a, tld());
	else if (rnd(8) == 0) {
		label(b);
		snprintf(out, len, "%s%s.%s", a, b, tld());
	} else
		snprintf(out, len, "%s.%s", a, tld());
}

static char	**entries;	/* every category entry, for the requests */
static size_t	 nentries;

/* The names written so far (by a 64-bit hash), so that all are distinct. */
static uint64_t	*seen;
static size_t	 nseen;

static int
first_time(const char *name)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	h |= 1;
	for (i = (size_t)(h >> 20) & (nseen - 1); seen[i] != 0;
	    i = (i + 1) & (nseen - 1))
		if (seen[i] == h)
			return (0);
	seen[i] = h;
	return (1);
}

static int
write_lists(const char *dir, size_t total)
{
	char	 path[512], name[128];
	FILE	*f;
	size_t	 i, j, n;

	if ((entries = calloc(total, sizeof(*entries))) == NULL)
		return (-1);
	for (nseen = 1024; nseen < total * 2; nseen *= 2)
		;
	if ((seen = calloc(nseen, sizeof(*seen))) == NULL)
		return (-1);
	for (i = 0; i < sizeof(cats) / sizeof(cats[0]); i++) {
		snprintf(path, sizeof(path), "%s/bl/%s", dir, cats[i]);
		if (mkdir(path, 0755) == -1)
			return (-1);
		snprintf(path, sizeof(path), "%s/bl/%s/domains", dir, cats[i]);
		if ((f = fopen(path, "w")) == NULL)
			return (-1);
		fprintf(f, "# synthetic %s list for policy_bench\n", cats[i]);
		n = total * (size_t)cat_pct[i] / 100;
		for (j = 0; j < n; j++) {
			do
				domain(name, sizeof(name));
			while (!first_time(name));
			fprintf(f, "%s\n", name);
			if (nentries < total)
				entries[nentries++] = strdup(name);
		}
		fclose(f);
	}
	free(seen);
	/* A few URL entries too, as the real lists have. */
	snprintf(path, sizeof(path), "%s/bl/ads/urls", dir);
	if ((f = fopen(path, "w")) == NULL)
		return (-1);
	for (j = 0; j < 10000; j++) {
		domain(name, sizeof(name));
		fprintf(f, "%s/ads/%u\n", name, rnd(100));
	}
	fclose(f);
	return (0);
}

/* The 50 rules.  Strings are static or leaked on purpose (one build). */
#define L(...) { (const char *const []){ __VA_ARGS__ },		\
	sizeof((const char *const []){ __VA_ARGS__ }) / sizeof(char *), 0 }

static char	*groupnames[NGROUPS];
static char	*popular[NPOP];

static const char *const *
pick_domains(size_t n, int suffix)
{
	const char	**v = calloc(n, sizeof(*v));
	char		  b[160];
	size_t		  i;

	for (i = 0; i < n; i++) {
		snprintf(b, sizeof(b), "%s%s", suffix ? "." : "",
		    popular[rnd(NPOP)]);
		v[i] = strdup(b);
	}
	return (v);
}

static struct policy *
build(const char *dir, double *secs)
{
	static struct policy_rule_src	r[50];
	static struct policy_schedule_src s[2];
	static struct policy_catdir_src	cd;
	static const char *const nets[] = { "office", "vpn", "guest" };
	struct policy_src		src;
	struct policy			*p;
	char				 err[8192], cf[512], nm[64];
	size_t				 i, k = 0;
	double				 t0;

	snprintf(cf, sizeof(cf), "%s/iaproxy.conf", dir);
	cd = (struct policy_catdir_src){ strdup("bl"), strdup(cf), 1 };
	s[0] = (struct policy_schedule_src){ .name = "office-hours",
	    .file = strdup(cf), .line = 2, .days = L("mon-fri"),
	    .times = L("08:00-12:00", "13:30-18:00"),
	    .timezone = "Europe/Paris" };
	s[1] = (struct policy_schedule_src){ .name = "night", .file =
	    strdup(cf), .line = 3, .times = L("22:00-06:00"),
	    .timezone = "Europe/Paris" };
	memset(r, 0, sizeof(r));
	for (i = 0; i < 50; i++) {
		snprintf(nm, sizeof(nm), "rule%zu", i + 1);
		r[i].name = strdup(nm);
		r[i].file = strdup(cf);
		r[i].line = 10 + (int)i;
		r[i].action = POLICY_ALLOW;
		r[i].warn_ttl = -1;
	}
	/* 1: updates need no sign-in. */
	r[k].auth = POLICY_AUTH_NONE;
	r[k++].cond[POLICY_C_DST_DOMAIN] = (struct policy_list)L(
	    ".windowsupdate.com", ".update.microsoft.com", ".apple.com",
	    ".ubuntu.com", ".debian.org");
	/* 2: malware for everyone. */
	r[k].action = POLICY_BLOCK;
	r[k++].cond[POLICY_C_CATEGORY] = (struct policy_list)L("malware");
	/* 3: SSH and other tunnels. */
	r[k].action = POLICY_BLOCK;
	r[k].cond[POLICY_C_SCHEME] = (struct policy_list)L("connect");
	r[k++].not_cond[POLICY_C_PORT] = (struct policy_list)L("443", "8443");
	/* 4: adult, except for the security team. */
	r[k].action = POLICY_BLOCK;
	r[k].cond[POLICY_C_CATEGORY] = (struct policy_list)L("adult");
	r[k++].not_cond[POLICY_C_GROUP] = (struct policy_list)L("g0");
	/* 5: gambling, off the guest network too. */
	r[k].action = POLICY_BLOCK;
	r[k++].cond[POLICY_C_CATEGORY] = (struct policy_list)L("gambling");
	/* 6: executables, except IT. */
	r[k].action = POLICY_BLOCK;
	r[k].cond[POLICY_C_URL_REGEX] = (struct policy_list)L(
	    "(?i)\\.(exe|msi|scr|bat)$");
	r[k++].not_cond[POLICY_C_GROUP] = (struct policy_list)L("g1", "g2");
	/* 7: social in office hours: warn. */
	r[k].action = POLICY_WARN;
	r[k].cond[POLICY_C_CATEGORY] = (struct policy_list)L("social");
	r[k++].cond[POLICY_C_SCHEDULE] = (struct policy_list)L("office-hours");
	/* 8: ads: monitor. */
	r[k].action = POLICY_MONITOR;
	r[k++].cond[POLICY_C_CATEGORY] = (struct policy_list)L("ads");
	/* 9: uploads from the guest network. */
	r[k].action = POLICY_BLOCK;
	r[k].cond[POLICY_C_NETWORK] = (struct policy_list)L("guest");
	r[k++].cond[POLICY_C_METHOD] = (struct policy_list)L("POST", "PUT");
	/* 10-29: per-group destination lists. */
	for (i = 0; i < 20; i++, k++) {
		r[k].action = i % 3 == 0 ? POLICY_BLOCK : POLICY_ALLOW;
		r[k].cond[POLICY_C_GROUP] = (struct policy_list){
		    (const char *const *)&groupnames[i + 3], 2, 0 };
		r[k].cond[POLICY_C_DST_DOMAIN] = (struct policy_list){
		    pick_domains(5 + i, (int)(i & 1)), 5 + i, 0 };
	}
	/* 30-39: per-user rules. */
	for (i = 0; i < 10; i++, k++) {
		char	**u = calloc(3, sizeof(*u));

		asprintf(&u[0], "EXAMPLE\\user%zu", i * 7);
		asprintf(&u[1], "user%zu", i * 7 + 1);
		asprintf(&u[2], "user%zu@EXAMPLE.TEST", i * 7 + 2);
		r[k].action = POLICY_BLOCK;
		r[k].cond[POLICY_C_USER] = (struct policy_list){
		    (const char *const *)u, 3, 0 };
		r[k].cond[POLICY_C_DST_DOMAIN] = (struct policy_list){
		    pick_domains(3, 1), 3, 0 };
	}
	/* 40-44: source and network rules. */
	for (i = 0; i < 5; i++, k++) {
		char	**c = calloc(2, sizeof(*c));

		asprintf(&c[0], "10.%zu.0.0/16", i * 10);
		asprintf(&c[1], "2001:db8:%zu::/48", i);
		r[k].action = POLICY_BLOCK;
		r[k].cond[POLICY_C_SRC] = (struct policy_list){
		    (const char *const *)c, 2, 0 };
		r[k].cond[POLICY_C_DST_DOMAIN] = (struct policy_list){
		    pick_domains(4, 1), 4, 0 };
	}
	/* 45: the VPN at night: CONNECT only. */
	r[k].action = POLICY_BLOCK;
	r[k].cond[POLICY_C_NETWORK] = (struct policy_list)L("vpn");
	r[k].cond[POLICY_C_SCHEDULE] = (struct policy_list)L("night");
	r[k++].cond[POLICY_C_SCHEME] = (struct policy_list)L("http");
	/* 46: streaming URLs for non-members. */
	r[k].action = POLICY_BLOCK;
	r[k].cond[POLICY_C_URL_REGEX] = (struct policy_list)L(
	    "^http://[^/]*video[^/]*/", "/stream/[0-9]+");
	r[k++].not_cond[POLICY_C_GROUP] = (struct policy_list)L("g5");
	/* 47: sign-in required for the rest of the office. */
	r[k].auth = POLICY_AUTH_REQUIRED;
	r[k].action = POLICY_ALLOW;
	r[k].cond[POLICY_C_NETWORK] = (struct policy_list)L("office");
	r[k++].cond[POLICY_C_GROUP] = (struct policy_list)L("g6", "g7");
	/* 48: odd ports on plain HTTP. */
	r[k].action = POLICY_BLOCK;
	r[k].cond[POLICY_C_SCHEME] = (struct policy_list)L("http");
	r[k++].not_cond[POLICY_C_PORT] = (struct policy_list)L("80", "8080",
	    "8000-8099");
	/* 49: guests: warn on everything uncategorised. */
	r[k].action = POLICY_WARN;
	r[k++].cond[POLICY_C_NETWORK] = (struct policy_list)L("guest");
	/* 50: private addresses after DNS. */
	r[k].action = POLICY_BLOCK;
	r[k++].cond[POLICY_C_DST_IP] = (struct policy_list)L("10.0.0.0/8",
	    "172.16.0.0/12", "192.168.0.0/16", "fc00::/7");

	memset(&src, 0, sizeof(src));
	src.rules = r;
	src.nrules = k;
	src.catdirs = &cd;
	src.ncatdirs = 1;
	src.schedules = s;
	src.nschedules = 2;
	src.default_action = POLICY_ALLOW;
	t0 = now_s();
	p = policy_build(&src, nets, 3, err, sizeof(err));
	*secs = now_s() - t0;
	if (p == NULL)
		fprintf(stderr, "policy_build:\n%s\n", err);
	return (p);
}

/*
 * A pre-built request, compact: in the proxy the request being decided
 * was just parsed and sits in cache, so the table of them should not
 * sweep the cache the policy's index lives in.  16k of these and their
 * strings take about 3 MB.
 */
struct breq {
	struct policy_request	 r;
	struct sockaddr_in	 src, dst;
};

static char	*pool;		/* the requests' host and URL strings */
static size_t	 poolused, poolcap;

static const char *
pooled(const char *s)
{
	size_t	 n = strlen(s) + 1;
	char	*p;

	if (poolused + n > poolcap) {
		poolcap = poolcap == 0 ? 1 << 20 : poolcap * 2;
		if ((pool = realloc(pool, poolcap)) == NULL)
			abort();
	}
	p = pool + poolused;
	memcpy(p, s, n);
	poolused += n;
	return (p);
}

/*
 * Membership as the proxy will ask it (auth_groups_has(): a scan of the
 * user's groups with strcasecmp).
 */
struct ugroups {
	const char	**g;
	size_t		  n;
};

static int
member(void *arg, const char *name)
{
	const struct ugroups	*ug = arg;
	size_t			 i;

	for (i = 0; i < ug->n; i++)
		if (strcasecmp(ug->g[i], name) == 0)
			return (1);
	return (0);
}

static struct ugroups	 ugs[NUSERS];
static const char *const *ugroups[NUSERS];
static size_t		 nugroups[NUSERS];
static char		*unames[NUSERS];

static void
make_reqs(struct breq *q, size_t n, int cold)
{
	static const char *const nets[] = { "office", "vpn", "guest" };
	struct sockaddr_in	*sin;
	size_t			 i, hoff;
	unsigned		 u, r;
	time_t			 base = 1774854000;	/* Mon 2026-03-30 */
	char			 host[160], url[256];

	/* Strings first, pointers after: the pool moves as it grows. */
	poolused = 0;
	for (i = 0; i < n; i++) {
		struct policy_request *pr = &q[i].r;

		memset(pr, 0, sizeof(*pr));
		u = rnd(NUSERS);
		pr->user = rnd(20) == 0 ? NULL : unames[u];
		pr->groups = ugroups[u];
		pr->ngroups = nugroups[u];
		pr->group_arg = &ugs[u];
		pr->network = nets[rnd(10) < 7 ? 0 : rnd(3)];
		sin = &q[i].src;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(0x0a000000u | (rnd(60) << 16) |
		    rnd(65536));
		pr->src = (struct sockaddr *)sin;
		sin = &q[i].dst;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(rnd(20) == 0 ? 0xc0a80101u :
		    0x5db8d822u + rnd(1 << 20));
		pr->dst_ip = (struct sockaddr *)sin;
		pr->now = base + (time_t)rnd(7 * 86400);

		if (cold)
			snprintf(host, sizeof(host), "%s",
			    entries[rng() % nentries]);
		else if (rnd(10) < 7)
			snprintf(host, sizeof(host), "%s%s",
			    rnd(2) ? "www." : "", popular[rnd(NPOP)]);
		else
			snprintf(host, sizeof(host), "%s%s",
			    rnd(2) ? "img." : "", entries[rng() % nentries]);
		r = rnd(100);
		if (r < 35) {
			pr->scheme = POLICY_SCHEME_CONNECT;
			pr->method = "CONNECT";
			pr->port = rnd(50) == 0 ? 22 : 443;
			snprintf(url, sizeof(url), "%s:%d", host, pr->port);
		} else {
			pr->scheme = POLICY_SCHEME_HTTP;
			pr->method = r < 90 ? "GET" : "POST";
			pr->port = rnd(30) == 0 ? 8081 : 80;
			snprintf(url, sizeof(url), "http://%s/%s/%u%s", host,
			    r % 3 == 0 ? "static" : "page", rnd(100000),
			    rnd(40) == 0 ? ".exe" : rnd(4) == 0 ? ".html" :
			    "");
		}
		/* Offsets for now (see above). */
		hoff = (size_t)(pooled(host) - pool);
		pr->host = (const char *)(uintptr_t)hoff;
		pr->url = (const char *)(uintptr_t)(pooled(url) - pool);
	}
	for (i = 0; i < n; i++) {
		q[i].r.host = pool + (uintptr_t)q[i].r.host;
		q[i].r.url = pool + (uintptr_t)q[i].r.url;
	}
}

static double
cpu_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/*
 * Decide the table over and over for secs of wall time.  Returns
 * decisions per second of this thread's CPU time: on a shared machine
 * that is the rate of one core, whatever else runs; *wall gets the
 * rate per second of wall time.
 */
static double
run(const struct policy *p, struct breq *q, size_t n, double secs,
    int predns, unsigned long *counts, double *wall)
{
	struct policy_decision	 d;
	struct policy_request	 r;
	double			 t0 = now_s(), c0 = cpu_s(), t;
	unsigned long		 done = 0;
	size_t			 i;

	for (;;) {
		for (i = 0; i < n; i++) {
			r = q[i].r;
			if (predns == 1)
				r.dst_ip = NULL;
			if (predns == 2)
				r.group_member = member;
			if (policy_decide(p, &r, &d) == POLICY_NEED_DST_IP)
				counts[4]++;
			else
				counts[d.action]++;
		}
		done += n;
		if ((t = now_s() - t0) >= secs) {
			*wall = (double)done / t;
			return ((double)done / (cpu_s() - c0));
		}
	}
}

static long
rss_kb(void)
{
	FILE	*f = fopen("/proc/self/status", "r");
	char	 line[256];
	long	 kb = -1;

	if (f == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return (kb);
}

int
main(int argc, char *argv[])
{
	struct policy		*p;
	struct policy_stats	 st;
	struct breq		*q;
	char			 dir[] = "/tmp/policy_bench.XXXXXX", path[600];
	size_t			 total = 1000000, i, j;
	double			 secs = 2, build_s, mixed, predns, cold;
	double			 w1, w2, w3, w4, cb;
	unsigned long		 c1[5] = { 0 }, c2[5] = { 0 }, c3[5] = { 0 };
	unsigned long		 c4[5] = { 0 };
	long			 rss0, rss1;
	int			 ch, keep = 0, ok;

	while ((ch = getopt(argc, argv, "d:t:k")) != -1) {
		switch (ch) {
		case 'd':
			total = strtoul(optarg, NULL, 10);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'k':
			keep = 1;
			break;
		default:
			fprintf(stderr, "usage: policy_bench [-d DOMAINS] "
			    "[-t SECONDS] [-k]\n");
			return (2);
		}
	}
	if (total == 0 || mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return (2);
	}
	snprintf(path, sizeof(path), "%s/bl", dir);
	mkdir(path, 0755);
	for (i = 0; i < NGROUPS; i++)
		asprintf(&groupnames[i], "g%zu", i);
	for (i = 0; i < NPOP; i++) {
		char b[128];

		domain(b, sizeof(b));
		popular[i] = strdup(b);
	}
	for (i = 0; i < NUSERS; i++) {
		const char **g = calloc(MAXG, sizeof(*g));

		nugroups[i] = 3 + rnd(6);
		for (j = 0; j < nugroups[i]; j++)
			g[j] = groupnames[rnd(NGROUPS)];
		ugroups[i] = g;
		ugs[i].g = g;
		ugs[i].n = nugroups[i];
		asprintf(&unames[i], "EXAMPLE\\user%zu", i);
	}
	printf("writing %zu names in 5 categories to %s/bl ...\n", total,
	    dir);
	if (write_lists(dir, total) == -1) {
		perror("write_lists");
		return (2);
	}

	rss0 = rss_kb();
	if ((p = build(dir, &build_s)) == NULL)
		return (2);
	rss1 = rss_kb();
	policy_get_stats(p, &st);
	printf("policy: %zu rules, %zu categories, %zu names indexed, %zu "
	    "urls\n", st.rules, st.categories, st.domains, st.urls);
	printf("load: lists %.3f s, whole build %.3f s, index %.1f MB, RSS "
	    "+%.1f MB\n", st.load_seconds, build_s, st.memory / 1e6,
	    (rss1 - rss0) / 1e3);

	if ((q = calloc(NREQ, sizeof(*q))) == NULL)
		return (2);
	make_reqs(q, NREQ, 0);
	mixed = run(p, q, NREQ, secs, 0, c1, &w1);
	predns = run(p, q, NREQ, secs, 1, c2, &w2);
	cb = run(p, q, NREQ, secs, 2, c4, &w4);
	make_reqs(q, NREQ, 1);
	cold = run(p, q, NREQ, secs, 0, c3, &w3);
	printf("decisions per CPU second (wall-clock rate in brackets):\n");
	printf("mixed:   %.0f/s [%.0f/s] (%.0f ns each); allow %lu block "
	    "%lu warn %lu monitor %lu\n", mixed, w1, 1e9 / mixed, c1[0],
	    c1[1], c1[2], c1[3]);
	printf("pre-dns: %.0f/s [%.0f/s] (%.0f ns each); %.0f%% wait for "
	    "DNS\n", predns, w2, 1e9 / predns, 100.0 * (double)c2[4] /
	    (double)(c2[0] + c2[1] + c2[2] + c2[3] + c2[4]));
	printf("groups by callback: %.0f/s [%.0f/s] (%.0f ns each)\n", cb,
	    w4, 1e9 / cb);
	printf("cold:    %.0f/s [%.0f/s] (%.0f ns each); block %.0f%%\n",
	    cold, w3, 1e9 / cold, 100.0 * (double)c3[1] / (double)(c3[0] +
	    c3[1] + c3[2] + c3[3] + c3[4]));

	ok = mixed >= 1e6 && st.load_seconds < 2.0;
	printf("\n| figure | value | goal |\n|---|---|---|\n");
	printf("| category load, %zu names | %.2f s | < 2 s |\n", st.domains,
	    st.load_seconds);
	printf("| index memory | %.0f MB | |\n", st.memory / 1e6);
	printf("| decisions per CPU second, mixed (after DNS) | %.2f M | "
	    ">= 1 M |\n", mixed / 1e6);
	printf("| decisions per CPU second, mixed, before DNS | %.2f M | |\n",
	    predns / 1e6);
	printf("| decisions per CPU second, mixed, groups by callback | "
	    "%.2f M | |\n", cb / 1e6);
	printf("| decisions per CPU second, cold hosts | %.2f M | |\n",
	    cold / 1e6);

	policy_free(p);
	if (!keep) {
		snprintf(path, sizeof(path), "rm -rf '%s'", dir);
		if (system(path) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	} else
		printf("kept %s\n", dir);
	return (ok ? 0 : 1);
}
