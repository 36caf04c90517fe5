/*
 * A minimal unit-test harness: CHECK records a failure with file:line and
 * goes on; unit_done() prints "N passed, N failed" for the binary and
 * returns the exit status.  tests/run adds up the per-binary counts.
 */
#ifndef IAPROXY_UNIT_H
#define IAPROXY_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		unit_passed++;						\
	} else {							\
		unit_failed++;						\
		fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

static inline int
unit_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
