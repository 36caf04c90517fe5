/*
 * libFuzzer target for the parsers of policy/ that read files: category
 * lists (domains and urls lines, into a real index), TZif time zone files
 * and POSIX TZ strings (RFC 8536), and schedule days and time ranges.
 *
 * The first byte picks the parser, the rest is its input:
 *   'd'  a domains list: every entry the parser accepts must then be
 *        found in the index, under its own name and below it
 *   'u'  a urls list: every entry must be found for its host and path
 *   'z'  a TZif file: if it loads, lookups at instants across 1800..2400
 *        must give offsets within a day and a non-NULL abbreviation
 *   'r'  a POSIX TZ string, then the same lookups through a zone with
 *        no transitions
 *   's'  schedule values (lines: days or HH:MM-HH:MM ranges), then
 *        matches over a week
 * Anything else: the input goes to all of them in turn.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

static void
fz_domains(const char *buf, size_t len, int urls)
{
	struct catindex	 idx;
	struct ds_hit	 h[DS_MAXHITS];
	struct url_hit	 uh[8];
	char		 name[DS_NAME_MAX + 1], below[DS_NAME_MAX + 8];
	const char	*p, *end = buf + len, *nl, *why, *path;
	size_t		 n, plen, nh, i;
	int		 rv, found;

	if (catindex_init(&idx, 3, 16) == -1)
		return;
	for (p = buf; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (urls)
			rv = category_parse_url(p, (size_t)(nl - p), name, &n,
			    &path, &plen, &why);
		else
			rv = category_parse_domain(p, (size_t)(nl - p), name,
			    &n, &why);
		if (rv == -1)
			REQUIRE(why != NULL);
		if (rv != 1)
			continue;
		REQUIRE(n > 0 && n <= DS_NAME_MAX && strlen(name) == n);
		if (urls) {
			REQUIRE(plen == 0 || (path >= p && path + plen <= nl));
			if (catindex_add_url(&idx, name, n, path, plen, 2) ==
			    -1)
				break;
			nh = catindex_match_urls(&idx, name, n, 1, path, plen,
			    uh, 8);
			for (found = 0, i = 0; i < nh; i++)
				found |= idx.urls[uh[i].item].tag == 2;
			REQUIRE(found);
			continue;
		}
		if (catindex_add_domain(&idx, name, n, 1, 1) == -1)
			break;
		/* The entry covers itself and every name below it. */
		nh = domainset_match(idx.hosts, name, n, 0, h, DS_MAXHITS);
		for (found = 0, i = 0; i < nh; i++)
			found |= tagsets_has(&idx.tags, h[i].val, 1);
		REQUIRE(found);
		if (n + 2 <= DS_NAME_MAX && strchr(name, ':') == NULL) {
			below[0] = 'x';
			below[1] = '.';
			memcpy(below + 2, name, n + 1);
			nh = domainset_match(idx.hosts, below, n + 2, 0, h,
			    DS_MAXHITS);
			for (found = 0, i = 0; i < nh; i++)
				found |= tagsets_has(&idx.tags, h[i].val, 1);
			REQUIRE(found);
		}
	}
	catindex_freeze(&idx);
	catindex_free(&idx);
}

static void
fz_lookups(const struct tz *z)
{
	struct tz_local	lt;
	int64_t		t;

	/* 1800 .. 2400, about every 97 days, plus the extremes. */
	for (t = -5364662400LL; t < 13569465600LL; t += 8380800 + 3607) {
		tz_lookup(z, t, &lt);
		REQUIRE(lt.off > -86400 * 2 && lt.off < 86400 * 2);
		REQUIRE(lt.abbr != NULL);
	}
	tz_lookup(z, INT64_MAX, &lt);
	tz_lookup(z, INT64_MIN, &lt);
}

static void
fz_tzif(const uint8_t *buf, size_t len)
{
	struct tz	*z;
	char		 err[200];

	if ((z = calloc(1, sizeof(*z))) == NULL)
		return;
	if (tz_parse(buf, len, z, err, sizeof(err)) == 0)
		fz_lookups(z);
	else
		REQUIRE(err[0] != '\0');
	tz_free(z);
}

static void
fz_rule(const char *s)
{
	struct tz	z;
	int64_t		y;
	int		m, d;

	memset(&z, 0, sizeof(z));
	if (tz_parse_rule(s, &z.rule) == -1)
		return;
	z.has_rule = 1;
	fz_lookups(&z);
	tz_civil_from_days(tz_days_from_civil(2024, 2, 29), &y, &m, &d);
	REQUIRE(y == 2024 && m == 2 && d == 29);
}

static void
fz_sched(const char *buf, size_t len)
{
	struct sched		 s;
	struct sched_range	 r[16];
	struct tz		 z;
	struct tz_local		 lt;
	char			 line[64];
	const char		*p, *end = buf + len, *nl;
	int64_t			 local;
	time_t			 t;

	memset(&s, 0, sizeof(s));
	memset(&z, 0, sizeof(z));
	tz_parse_rule("CET-1CEST,M3.5.0,M10.5.0/3", &z.rule);
	z.has_rule = 1;
	s.tz = &z;
	s.ranges = r;
	for (p = buf; p < end && s.nranges < 16; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) >= sizeof(line))
			continue;
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (sched_parse_range(line, &r[s.nranges]) == 0) {
			REQUIRE(r[s.nranges].start < 1440 &&
			    r[s.nranges].end <= 1440 &&
			    r[s.nranges].start != r[s.nranges].end);
			s.nranges++;
		} else
			(void)sched_parse_days(line, &s.days);
	}
	REQUIRE(s.days < 0x80);
	for (t = 1775000000; t < 1775000000 + 8 * 86400; t += 1799) {
		(void)sched_match(&s, t, &lt, &local);
		REQUIRE(local - t == lt.off);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*text;
	int	 which;

	if (size < 1 || size > 65536)
		return (0);
	which = data[0];
	data++;
	size--;
	if ((text = malloc(size + 1)) == NULL)
		return (0);
	memcpy(text, data, size);
	text[size] = '\0';
	switch (which) {
	case 'd':
		fz_domains(text, size, 0);
		break;
	case 'u':
		fz_domains(text, size, 1);
		break;
	case 'z':
		fz_tzif(data, size);
		break;
	case 'r':
		fz_rule(text);
		break;
	case 's':
		fz_sched(text, size);
		break;
	default:
		fz_domains(text, size, 0);
		fz_domains(text, size, 1);
		fz_tzif(data, size);
		fz_rule(text);
		fz_sched(text, size);
		break;
	}
	free(text);
	return (0);
}
