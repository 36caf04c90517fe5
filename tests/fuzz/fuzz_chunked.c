/*
 * libFuzzer target for the chunked decoder (proxy/h1_chunked.c).
 *
 * The input is the body as it would follow a head.  It is decoded in one
 * call and again in pieces whose size comes from the input; both must
 * agree on the error, the end and the byte count, whatever the slicing.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

static long
decode(const char *buf, size_t len, size_t step, size_t max_line,
    struct h1_chunked *st)
{
	size_t off = 0, n;
	long rv, total = 0;

	memset(st, 0, sizeof(*st));
	st->max_line = max_line;
	while (off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		rv = h1_chunked_feed(st, buf + off, n);
		if (rv == -1) {
			REQUIRE(st->err_reason != NULL);
			REQUIRE(h1_chunked_feed(st, buf, len) == -1);
			return (-1);
		}
		REQUIRE(rv >= 0 && (size_t)rv <= n);
		total += rv;
		if (st->done) {
			REQUIRE(h1_chunked_feed(st, buf, len) == 0);
			return (total);
		}
		REQUIRE((size_t)rv == n);
		off += n;
	}
	return (total);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h1_chunked a, b;
	const char *buf = (const char *)data;
	size_t max_line, step;
	long r1, r2;

	max_line = size % 3 == 0 ? 0 : 8 + size % 61;
	step = size > 0 ? 1 + data[0] % 7 : 1;

	r1 = decode(buf, size, 0, max_line, &a);
	r2 = decode(buf, size, step, max_line, &b);
	REQUIRE(r1 == r2);
	REQUIRE(a.done == b.done);
	if (r1 >= 0 && !a.done)
		REQUIRE((size_t)r1 == size);
	if (r1 == -1)
		REQUIRE(strcmp(a.err_reason, b.err_reason) == 0);
	else
		REQUIRE(a.remaining == b.remaining &&
		    a.ntrailers == b.ntrailers);
	return (0);
}
