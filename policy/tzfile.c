/*
 * Time zones for schedules, read from the system's TZif files (RFC 8536)
 * in /usr/share/zoneinfo.
 *
 * Why not localtime_r(): it converts in the zone named by the TZ
 * environment variable, process-wide.  Evaluating "08:00-18:00 in
 * Europe/Paris" and "in America/New_York" from worker threads would mean
 * setenv("TZ") + tzset() around each call, and setenv is not thread-safe
 * (POSIX: getenv/setenv may race, and glibc's tzset state is global).  So
 * each zone is loaded once, when the policy is built, into an immutable
 * table; a lookup is a binary search over its transitions (a few hundred)
 * and needs no lock, no environment and no system call.
 *
 * A TZif file lists the zone's transitions up to some year (2037 in
 * Debian's "fat" files; often much earlier in "slim" ones) and, in
 * version 2 and later, a footer: a POSIX TZ string (POSIX.1-2017 8.3,
 * with the RFC 8536 3.3.1 extensions) that gives the rule for every
 * later instant.  Both are read here.  Leap-second ("right/") zones are
 * refused: their timestamps do not count the POSIX way time() does.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_int.h"

#define TZ_FILE_MAX	(1 << 20)
#define TZ_HEAD_LEN	44
#define TZ_MAX_TIMES	(1 << 16)
#define TZ_MAX_TYPES	256	/* the index is one byte (RFC 8536 3.2) */
#define TZ_MAX_CHARS	1024
/* RFC 8536 3.2: utoff SHOULD be within [-89999, 93599]. */
#define TZ_OFF_MIN	(-89999)
#define TZ_OFF_MAX	93599
#define TZ_T_MAX	((int64_t)1 << 50)

struct tz_head {
	int		 version;
	uint32_t	 isut, isstd, leap, time, type, chars;
};

static const int tz_mdays[12] = {
	31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};
static const int tz_cum[12] = {
	0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334
};

static int64_t
tz_floordiv(int64_t a, int64_t b)
{
	int64_t	q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return (q);
}

static int64_t
tz_floormod(int64_t a, int64_t b)
{
	return (a - tz_floordiv(a, b) * b);
}

static int
tz_isleap(int64_t y)
{
	return ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
}

/* Leap years in [1, y): the Gregorian 4/100/400 rule, proleptic. */
static int64_t
tz_leaps_before(int64_t y)
{
	y--;
	return (tz_floordiv(y, 4) - tz_floordiv(y, 100) +
	    tz_floordiv(y, 400));
}

/*
 * Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12,
 * d 1..31): whole years at 365 days plus their leap days, then the days
 * of the year.
 */
int64_t
tz_days_from_civil(int64_t y, int m, int d)
{
	return ((y - 1970) * 365 + tz_leaps_before(y) - tz_leaps_before(1970) +
	    tz_cum[m - 1] + (m > 2 && tz_isleap(y)) + d - 1);
}

/* The inverse: the date of day days (days from 1970-01-01). */
void
tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t	yy, doy;
	int	mm, len;

	/* An estimate within a year or so, then exact steps. */
	yy = 1970 + tz_floordiv(days * 400, 146097);
	while (tz_days_from_civil(yy, 1, 1) > days)
		yy--;
	while (tz_days_from_civil(yy + 1, 1, 1) <= days)
		yy++;
	doy = days - tz_days_from_civil(yy, 1, 1);
	for (mm = 0; mm < 11; mm++) {
		len = tz_mdays[mm] + (mm == 1 && tz_isleap(yy));
		if (doy < len)
			break;
		doy -= len;
	}
	*y = yy;
	*m = mm + 1;
	*d = (int)doy + 1;
}

static uint32_t
tz_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static int64_t
tz_be64(const uint8_t *p)
{
	return ((int64_t)((uint64_t)tz_be32(p) << 32 | tz_be32(p + 4)));
}

static int
tz_read_head(const uint8_t *b, size_t len, struct tz_head *h)
{
	if (len < TZ_HEAD_LEN || memcmp(b, "TZif", 4) != 0)
		return (-1);
	h->version = b[4];
	h->isut = tz_be32(b + 20);
	h->isstd = tz_be32(b + 24);
	h->leap = tz_be32(b + 28);
	h->time = tz_be32(b + 32);
	h->type = tz_be32(b + 36);
	h->chars = tz_be32(b + 40);
	return (0);
}

/* Bytes of a data block with times of tsz bytes (RFC 8536 3.2). */
static size_t
tz_block_len(const struct tz_head *h, size_t tsz)
{
	return ((size_t)h->time * tsz + h->time + (size_t)h->type * 6 +
	    h->chars + (size_t)h->leap * (tsz + 4) + h->isstd + h->isut);
}

/* A zone abbreviation: 3+ letters, or <...> of letters, digits, + and -. */
static const char *
tz_rule_name(const char *s, char *out, size_t outlen)
{
	const char	*b;
	size_t		 n;

	if (*s == '<') {
		for (b = ++s; *s != '>'; s++)
			if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' &&
			    *s <= 'z') || (*s >= '0' && *s <= '9') ||
			    *s == '+' || *s == '-'))
				return (NULL);
		n = (size_t)(s - b);
		s++;
	} else {
		for (b = s; (*s >= 'A' && *s <= 'Z') || (*s >= 'a' &&
		    *s <= 'z'); s++)
			;
		n = (size_t)(s - b);
	}
	if (n < 3)
		return (NULL);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, b, n);
	out[n] = '\0';
	return (s);
}

static const char *
tz_rule_num(const char *s, int min, int max, int *out)
{
	int	v = 0, nd = 0;

	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		if (++nd > 3)
			return (NULL);
	}
	if (nd == 0 || v < min || v > max)
		return (NULL);
	*out = v;
	return (s);
}

/* [+-]hh[:mm[:ss]], hours up to maxh; seconds into *secs. */
static const char *
tz_rule_hms(const char *s, int maxh, int32_t *secs)
{
	int	sign = 1, h, m = 0, sec = 0;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if ((s = tz_rule_num(s, 0, maxh, &h)) == NULL)
		return (NULL);
	if (*s == ':' && (s = tz_rule_num(s + 1, 0, 59, &m)) != NULL &&
	    *s == ':')
		s = tz_rule_num(s + 1, 0, 59, &sec);
	if (s == NULL)
		return (NULL);
	*secs = sign * (h * 3600 + m * 60 + sec);
	return (s);
}

/* Jn, n or Mm.w.d, then an optional /time (RFC 8536 3.3.1: -167..167h). */
static const char *
tz_rule_date(const char *s, struct tz_date *d)
{
	memset(d, 0, sizeof(*d));
	if (*s == 'J') {
		d->kind = 'J';
		s = tz_rule_num(s + 1, 1, 365, &d->n);
	} else if (*s == 'M') {
		d->kind = 'M';
		if ((s = tz_rule_num(s + 1, 1, 12, &d->m)) == NULL ||
		    *s != '.' ||
		    (s = tz_rule_num(s + 1, 1, 5, &d->w)) == NULL ||
		    *s != '.')
			return (NULL);
		s = tz_rule_num(s + 1, 0, 6, &d->d);
	} else {
		d->kind = 'n';
		s = tz_rule_num(s, 0, 365, &d->n);
	}
	if (s == NULL)
		return (NULL);
	d->secs = 7200;		/* POSIX: 02:00:00 when not given */
	if (*s == '/')
		s = tz_rule_hms(s + 1, 167, &d->secs);
	return (s);
}

/*
 * Parse a POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3") into r.  The
 * offsets are written west-positive; r holds them east-positive, as
 * TZif does.  Returns 0, or -1 on a syntax error.
 */
int
tz_parse_rule(const char *s, struct tz_rule *r)
{
	int32_t	off;

	memset(r, 0, sizeof(*r));
	if ((s = tz_rule_name(s, r->std_abbr, sizeof(r->std_abbr))) == NULL ||
	    (s = tz_rule_hms(s, 24, &off)) == NULL)
		return (-1);
	r->std_off = -off;
	if (*s == '\0')
		return (0);
	if ((s = tz_rule_name(s, r->dst_abbr, sizeof(r->dst_abbr))) == NULL)
		return (-1);
	r->has_dst = 1;
	r->dst_off = r->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if ((s = tz_rule_hms(s, 24, &off)) == NULL)
			return (-1);
		r->dst_off = -off;
	}
	if (*s == '\0') {
		/*
		 * No rule: POSIX leaves it to the implementation; glibc and
		 * tzcode use the US rule of 2007 (second Sunday in March to
		 * first Sunday in November, 02:00).
		 */
		r->start = (struct tz_date){ 'M', 0, 3, 2, 0, 7200 };
		r->end = (struct tz_date){ 'M', 0, 11, 1, 0, 7200 };
		return (0);
	}
	if (*s != ',' || (s = tz_rule_date(s + 1, &r->start)) == NULL ||
	    *s != ',' || (s = tz_rule_date(s + 1, &r->end)) == NULL ||
	    *s != '\0')
		return (-1);
	return (0);
}

/* Local seconds (from 1970-01-01 00:00 local) of date d in year y. */
static int64_t
tz_rule_when(const struct tz_date *d, int64_t y)
{
	int64_t	day, first;
	int	len;

	switch (d->kind) {
	case 'J':
		/* Jn counts 1..365 and never Feb 29. */
		day = tz_days_from_civil(y, 1, 1) + d->n - 1 +
		    (tz_isleap(y) && d->n >= 60);
		break;
	case 'n':
		day = tz_days_from_civil(y, 1, 1) + d->n;
		break;
	default:
		/* Day d (0 Sunday) of week w (5: the last) of month m. */
		first = tz_days_from_civil(y, d->m, 1);
		day = first + tz_floormod(d->d - tz_floormod(first + 4, 7),
		    7) + 7 * (d->w - 1);
		len = tz_mdays[d->m - 1] + (d->m == 2 && tz_isleap(y));
		while (day >= first + len)
			day -= 7;
		break;
	}
	return (day * 86400 + d->secs);
}

static void
tz_rule_lookup(const struct tz_rule *r, int64_t t, struct tz_local *lt)
{
	int64_t	y, s, e;
	int	m, d, dst;

	if (!r->has_dst) {
		lt->off = r->std_off;
		lt->isdst = 0;
		lt->abbr = r->std_abbr;
		return;
	}
	tz_civil_from_days(tz_floordiv(t + r->std_off, 86400), &y, &m, &d);
	/* Start is given in standard time, end in daylight time. */
	s = tz_rule_when(&r->start, y) - r->std_off;
	e = tz_rule_when(&r->end, y) - r->dst_off;
	if (s < e)
		dst = t >= s && t < e;
	else		/* southern hemisphere: DST spans the new year */
		dst = !(t >= e && t < s);
	lt->off = dst ? r->dst_off : r->std_off;
	lt->isdst = dst;
	lt->abbr = dst ? r->dst_abbr : r->std_abbr;
}

/*
 * The offset from UTC, DST flag and abbreviation of zone z at t (seconds
 * since the epoch, POSIX).  Never fails: a zone that loaded has a type
 * for every instant.
 */
void
tz_lookup(const struct tz *z, int64_t t, struct tz_local *lt)
{
	size_t	lo, hi, mid, type;

	/* Keep the date arithmetic far from overflow (+-30 million years). */
	if (t > TZ_T_MAX)
		t = TZ_T_MAX;
	else if (t < -TZ_T_MAX)
		t = -TZ_T_MAX;
	if (z->ntrans == 0 || t > z->trans[z->ntrans - 1]) {
		/* RFC 8536 3.3: the footer covers what follows the data. */
		if (z->has_rule) {
			tz_rule_lookup(&z->rule, t, lt);
			return;
		}
		type = z->ntrans == 0 ? 0 : z->tidx[z->ntrans - 1];
	} else if (t < z->trans[0]) {
		/* RFC 8536 3.2: before the first transition, type 0. */
		type = 0;
	} else {
		for (lo = 0, hi = z->ntrans; lo < hi;) {
			mid = lo + (hi - lo) / 2;
			if (z->trans[mid] <= t)
				lo = mid + 1;
			else
				hi = mid;
		}
		type = z->tidx[lo - 1];
	}
	lt->off = z->toff[type];
	lt->isdst = z->tdst[type];
	lt->abbr = z->abbrs + z->tabbr[type];
}

#define TZ_ERR(...) do {						\
	snprintf(err, errlen, __VA_ARGS__);				\
	return (-1);							\
} while (0)

/*
 * Parse the TZif file in buf (len bytes) into z (its name is the
 * caller's).  Everything is checked against RFC 8536 section 3 before
 * use: a truncated or inconsistent file is refused with a message in err.
 * Returns 0 or -1; on -1, tz_free(z) releases what was allocated.
 */
int
tz_parse(const uint8_t *buf, size_t len, struct tz *z, char *err,
    size_t errlen)
{
	struct tz_head	 h;
	const uint8_t	*p, *end = buf + len;
	size_t		 tsz = 4, i, blen;
	const char	*nl;
	char		 footer[256];

	if (tz_read_head(buf, len, &h) == -1)
		TZ_ERR("not a TZif file");
	p = buf + TZ_HEAD_LEN;
	if (h.version != 0) {
		if (h.version < '2')
			TZ_ERR("unknown TZif version");
		/* Skip the 32-bit block: the 64-bit one follows. */
		blen = tz_block_len(&h, 4);
		if (h.time > TZ_MAX_TIMES || h.type > TZ_MAX_TYPES ||
		    h.chars > TZ_MAX_CHARS || h.leap > TZ_MAX_TIMES ||
		    blen > (size_t)(end - p))
			TZ_ERR("truncated TZif file");
		p += blen;
		if (tz_read_head(p, (size_t)(end - p), &h) == -1)
			TZ_ERR("bad second TZif header");
		p += TZ_HEAD_LEN;
		tsz = 8;
	}
	if (h.type == 0 || h.type > TZ_MAX_TYPES || h.chars == 0 ||
	    h.chars > TZ_MAX_CHARS || h.time > TZ_MAX_TIMES ||
	    (h.isstd != 0 && h.isstd != h.type) ||
	    (h.isut != 0 && h.isut != h.type))
		TZ_ERR("inconsistent TZif counts");
	if (h.leap != 0)
		TZ_ERR("leap-second zones (right/...) are not supported");
	if (tz_block_len(&h, tsz) > (size_t)(end - p))
		TZ_ERR("truncated TZif file");

	z->ntrans = h.time;
	z->ntypes = h.type;
	z->nabbrs = h.chars;
	if ((z->trans = calloc(h.time + 1, sizeof(*z->trans))) == NULL ||
	    (z->tidx = calloc(h.time + 1, 1)) == NULL ||
	    (z->toff = calloc(h.type, sizeof(*z->toff))) == NULL ||
	    (z->tdst = calloc(h.type, 1)) == NULL ||
	    (z->tabbr = calloc(h.type, 1)) == NULL ||
	    (z->abbrs = calloc(h.chars + 1, 1)) == NULL)
		TZ_ERR("out of memory");
	for (i = 0; i < h.time; i++, p += tsz) {
		z->trans[i] = tsz == 8 ? tz_be64(p) : (int32_t)tz_be32(p);
		if (i > 0 && z->trans[i] <= z->trans[i - 1])
			TZ_ERR("transition times out of order");
	}
	for (i = 0; i < h.time; i++, p++) {
		if (*p >= h.type)
			TZ_ERR("transition to an unknown type");
		z->tidx[i] = *p;
	}
	for (i = 0; i < h.type; i++, p += 6) {
		int32_t	off = (int32_t)tz_be32(p);

		if (off < TZ_OFF_MIN || off > TZ_OFF_MAX || p[4] > 1 ||
		    p[5] >= h.chars)
			TZ_ERR("bad local time type");
		z->toff[i] = off;
		z->tdst[i] = p[4];
		z->tabbr[i] = p[5];
	}
	memcpy(z->abbrs, p, h.chars);	/* NUL added by calloc(+1) */
	p += h.chars + h.isstd + h.isut;

	if (tsz == 8) {
		/* RFC 8536 3.3: "\n" TZ-string "\n" (may be empty). */
		if (p >= end || *p != '\n')
			TZ_ERR("missing TZif footer");
		p++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    (size_t)(nl - (const char *)p) >= sizeof(footer))
			TZ_ERR("bad TZif footer");
		memcpy(footer, p, (size_t)(nl - (const char *)p));
		footer[nl - (const char *)p] = '\0';
		if (footer[0] != '\0') {
			if (tz_parse_rule(footer, &z->rule) == -1)
				TZ_ERR("bad TZ string in footer: '%s'", footer);
			z->has_rule = 1;
		}
	}
	return (0);
}

/*
 * No /etc/localtime (a minimal container): UTC, as the C library does
 * with TZ unset and no such file.
 */
static int
tz_utc(struct tz **out, char *err, size_t errlen)
{
	struct tz	*z;

	if ((z = calloc(1, sizeof(*z))) == NULL ||
	    (z->name = strdup("UTC")) == NULL) {
		free(z);
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	(void)tz_parse_rule("UTC0", &z->rule);
	z->has_rule = 1;
	*out = z;
	return (0);
}

/* A zone name must stay inside the zoneinfo folder. */
static int
tz_name_ok(const char *name)
{
	const char	*s;

	if (*name == '\0' || *name == '/' || strlen(name) > 200)
		return (0);
	for (s = name; *s != '\0'; s++) {
		if ((*s == '.' && (s == name || s[-1] == '/')))
			return (0);	/* "..", ".hidden" */
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '/' || *s == '_' ||
		    *s == '-' || *s == '+' || *s == '.'))
			return (0);
	}
	return (1);
}

/*
 * Load zone name (an IANA name: "Europe/Paris", "UTC") from dir (NULL:
 * /usr/share/zoneinfo), or the system's zone (/etc/localtime; UTC if
 * there is none) for a NULL name.  Returns 0 with *out (free with
 * tz_free), or -1 with a message in err.
 */
int
tz_load(const char *dir, const char *name, struct tz **out, char *err,
    size_t errlen)
{
	char		 path[PATH_MAX], link[PATH_MAX], why[160];
	const char	*shown, *s;
	struct stat	 st;
	uint8_t		*buf = NULL;
	struct tz	*z;
	ssize_t		 r;
	size_t		 got = 0;
	int		 fd;

	if (dir == NULL)
		dir = "/usr/share/zoneinfo";
	if (name == NULL) {
		snprintf(path, sizeof(path), "/etc/localtime");
		shown = "localtime";
		/* Name it as the link does: ".../zoneinfo/Europe/Paris". */
		if ((r = readlink(path, link, sizeof(link) - 1)) > 0) {
			link[r] = '\0';
			if ((s = strstr(link, "zoneinfo/")) != NULL)
				shown = s + 9;
		}
	} else {
		if (!tz_name_ok(name)) {
			snprintf(err, errlen, "invalid time zone name '%s'",
			    name);
			return (-1);
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
		    sizeof(path)) {
			snprintf(err, errlen, "time zone name too long");
			return (-1);
		}
		shown = name;
	}

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && name == NULL)
			return (tz_utc(out, err, errlen));
		if (errno == ENOENT && name != NULL)
			snprintf(err, errlen, "unknown time zone '%s' (no %s)",
			    name, path);
		else
			snprintf(err, errlen, "time zone '%s': %s: %s", shown,
			    path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > TZ_FILE_MAX || (buf = malloc((size_t)st.st_size +
	    1)) == NULL) {
		snprintf(err, errlen, "time zone '%s': %s: not a time zone "
		    "file", shown, path);
		close(fd);
		return (-1);
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if ((z = calloc(1, sizeof(*z))) == NULL ||
	    (z->name = strdup(shown)) == NULL) {
		free(z);
		free(buf);
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	if (tz_parse(buf, got, z, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "time zone '%s': %s: %s", shown, path,
		    why);
		free(buf);
		tz_free(z);
		return (-1);
	}
	free(buf);
	*out = z;
	return (0);
}

void
tz_free(struct tz *z)
{
	if (z == NULL)
		return;
	free(z->name);
	free(z->trans);
	free(z->tidx);
	free(z->toff);
	free(z->tdst);
	free(z->tabbr);
	free(z->abbrs);
	free(z);
}
