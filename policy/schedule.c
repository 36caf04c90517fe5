/*
 * Schedules: weekdays and times of day, in a time zone.
 *
 * A schedule holds at `now` when the local wall-clock time of its zone
 * falls on one of its days and inside one of its ranges.  Wall-clock
 * time is what people mean by "08:00-18:00": on the day DST starts, the
 * hour that does not exist simply never comes, and on the day it ends the
 * repeated hour counts twice.  A range that crosses midnight
 * ("22:00-06:00") belongs to the day it starts on, so "fri 22:00-06:00"
 * covers Friday night into Saturday morning, and not Friday 00:00-06:00.
 * Ranges are [start, end): "08:00-18:00" holds at 17:59, not at 18:00.
 *
 * The clock is an input (now), never read here: the proxy passes the
 * request's time and tests and `iaproxy explain --time` pass any other.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy_int.h"

static const char *const sched_day_names[7][2] = {
	{ "sun", "sunday" }, { "mon", "monday" }, { "tue", "tuesday" },
	{ "wed", "wednesday" }, { "thu", "thursday" }, { "fri", "friday" },
	{ "sat", "saturday" },
};

static int
sched_day(const char *s, size_t len)
{
	int	i;

	for (i = 0; i < 7; i++) {
		if ((strlen(sched_day_names[i][0]) == len &&
		    strncasecmp(s, sched_day_names[i][0], len) == 0) ||
		    (strlen(sched_day_names[i][1]) == len &&
		    strncasecmp(s, sched_day_names[i][1], len) == 0))
			return (i);
	}
	return (-1);
}

/*
 * One value of `days`: a day ("mon", "Monday") or a range of days
 * ("mon-fri"; "fri-mon" wraps over the weekend), ORed into *days (bit 0
 * Sunday).  Returns 0, or -1 if s is neither.
 */
int
sched_parse_days(const char *s, uint8_t *days)
{
	const char	*dash;
	int		 a, b;

	if ((dash = strchr(s, '-')) == NULL) {
		if ((a = sched_day(s, strlen(s))) == -1)
			return (-1);
		*days |= (uint8_t)(1 << a);
		return (0);
	}
	if ((a = sched_day(s, (size_t)(dash - s))) == -1 ||
	    (b = sched_day(dash + 1, strlen(dash + 1))) == -1)
		return (-1);
	for (;;) {
		*days |= (uint8_t)(1 << a);
		if (a == b)
			break;
		a = (a + 1) % 7;
	}
	return (0);
}

/* "H:MM" or "HH:MM" into minutes; 24:00 only when end. */
static const char *
sched_hhmm(const char *s, int end, int *min)
{
	int	h = 0, m, nd = 0;

	while (*s >= '0' && *s <= '9' && nd < 2) {
		h = h * 10 + (*s++ - '0');
		nd++;
	}
	if (nd == 0 || *s++ != ':')
		return (NULL);
	if (s[0] < '0' || s[0] > '5' || s[1] < '0' || s[1] > '9')
		return (NULL);
	m = (s[0] - '0') * 10 + (s[1] - '0');
	s += 2;
	if (h > 24 || (h == 24 && (!end || m != 0)))
		return (NULL);
	*min = h * 60 + m;
	return (s);
}

/*
 * One value of `times`: "HH:MM-HH:MM".  An end at or before the start
 * crosses midnight; the same start and end is refused (empty, or all
 * day?  "00:00-24:00" says all day).  Returns 0, or -1.
 */
int
sched_parse_range(const char *s, struct sched_range *r)
{
	int	a, b;

	if ((s = sched_hhmm(s, 0, &a)) == NULL || *s++ != '-' ||
	    (s = sched_hhmm(s, 1, &b)) == NULL || *s != '\0')
		return (-1);
	if (a == b)
		return (-1);
	r->start = (uint16_t)a;
	r->end = (uint16_t)b;
	return (0);
}

/*
 * Does s hold at now?  Also gives the local time type (*lt) and the local
 * time in seconds from 1970-01-01 00:00 local (*local), for explain.
 * Returns 1 or 0.
 */
int
sched_match(const struct sched *s, time_t now, struct tz_local *lt,
    int64_t *local)
{
	int64_t		 t, day;
	unsigned	 days, wd, prev, min;
	size_t		 i;

	tz_lookup(s->tz, (int64_t)now, lt);
	t = (int64_t)now + lt->off;
	*local = t;
	day = t / 86400 - (t % 86400 < 0);
	min = (unsigned)((t - day * 86400) / 60);
	/* 1970-01-01 was a Thursday (4). */
	wd = (unsigned)(((day % 7) + 7 + 4) % 7);
	prev = (wd + 6) % 7;
	days = s->days != 0 ? s->days : 0x7f;

	if (s->nranges == 0)
		return ((days >> wd) & 1);
	for (i = 0; i < s->nranges; i++) {
		const struct sched_range *r = &s->ranges[i];

		if (r->start < r->end) {
			if (((days >> wd) & 1) && min >= r->start &&
			    min < r->end)
				return (1);
		} else if ((((days >> wd) & 1) && min >= r->start) ||
		    (((days >> prev) & 1) && min < r->end))
			return (1);
	}
	return (0);
}
