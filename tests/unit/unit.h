/*
 * A minimal unit-test harness: CHECK records a failure with file:line and
 * goes on; unit_done() prints "N passed, N failed" for the binary and
 * returns the exit status.  tests/run adds up the per-binary counts.
 */
#ifndef IAPROXY_UNIT_H
#define IAPROXY_UNIT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * The hex digits of s (spaces between them skipped) as bytes into out;
 * the count.  A vector longer than outsz is the test's own bug: abort.
 */
static inline size_t
unit_unhex(const char *s, uint8_t *out, size_t outsz)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *s != '\0'; s++) {
		if (*s == ' ')
			continue;
		v = *s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10;
		if (hi < 0)
			hi = v;
		else {
			if (n == outsz)
				abort();
			out[n++] = hi << 4 | v;
			hi = -1;
		}
	}
	return (n);
}

static inline int
unit_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
