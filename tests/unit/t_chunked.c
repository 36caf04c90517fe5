/*
 * Unit tests for the chunked decoder (proxy/h1_chunked.c).  Every body in
 * the table is also fed split at every byte boundary and one byte at a
 * time, since the decoder must give the same answer however the network
 * slices the stream.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"
#include "unit.h"

struct ccase {
	const char	*name;
	const char	*in;
	size_t		 len;
	long		 want;		/* bytes of body, or -1 */
	int		 done;		/* want done when want >= 0 */
	const char	*why;		/* err_reason to expect, or NULL */
};

/* Inputs are string literals, some with a NUL inside: sizeof, not strlen. */
#define GOOD(n, s)		{ n, s, sizeof(s) - 1, sizeof(s) - 1, 1, NULL }
#define GOODN(n, s, w)		{ n, s, sizeof(s) - 1, w, 1, NULL }
#define PART(n, s)		{ n, s, sizeof(s) - 1, sizeof(s) - 1, 0, NULL }
#define BAD(n, s)		{ n, s, sizeof(s) - 1, -1, 0, NULL }
#define BADW(n, s, w)		{ n, s, sizeof(s) - 1, -1, 0, w }

static const struct ccase cases[] = {
	GOOD("last chunk only", "0\r\n\r\n"),
	GOOD("one chunk", "5\r\nhello\r\n0\r\n\r\n"),
	GOOD("two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
	GOOD("hex digits both cases",
	    "A\r\n0123456789\r\na\r\n0123456789\r\n1F\r\n"
	    "0123456789012345678901234567890\r\n0\r\n\r\n"),
	GOOD("leading zeros", "0005\r\nhello\r\n000\r\n\r\n"),
	GOOD("extensions", "5;name=value\r\nhello\r\n0;last\r\n\r\n"),
	GOOD("extension BWS and quoted value",
	    "5 ; a = \"b;c\\\"d\" ;e\t;f=g\r\nhello\r\n0\r\n\r\n"),
	GOOD("extension quoted value with obs-text",
	    "5;a=\"\xc3\xa9\"\r\nhello\r\n0\r\n\r\n"),
	GOOD("trailers", "0\r\nX-Sum: abc\r\nY:\r\nZ: a\tb \xff\r\n\r\n"),
	GOOD("whitespace after size", "5  \r\nhello\r\n0\t\r\n\r\n"),
	GOOD("data that looks like framing",
	    "7\r\n0\r\n\r\nab\r\n0\r\n\r\n"),
	GOOD("data with NUL and CR",
	    "4\r\n\0\r\r\0\r\n0\r\n\r\n"),
	GOODN("pipelined request after the body",
	    "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 15),
	GOODN("pipelined after trailers",
	    "0\r\nA: b\r\n\r\n0\r\n\r\n", 11),
	PART("incomplete data", "5\r\nhel"),
	PART("incomplete trailers", "0\r\nX: y\r\n"),
	PART("largest size", "7fffffffffffffff\r\nabc"),
	PART("size line not ended", "5;a=b"),

	BADW("bad hex", "g\r\nx\r\n0\r\n\r\n", "invalid chunk size"),
	BAD("empty size line", "\r\n0\r\n\r\n"),
	BAD("leading space", " 5\r\nhello\r\n0\r\n\r\n"),
	BAD("negative size", "-5\r\nhello\r\n0\r\n\r\n"),
	BAD("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"),
	BAD("space inside size", "5 5\r\nhello\r\n0\r\n\r\n"),
	BAD("size then junk", "5z\r\nhello\r\n0\r\n\r\n"),
	BADW("size 2^63", "8000000000000000\r\n", "chunk size too large"),
	BADW("size 2^64", "10000000000000000\r\n", "chunk size too large"),
	BAD("size with many digits", "ffffffffffffffffffff\r\n"),
	/* Chunked bytes travel on unchanged: every line end must be CRLF. */
	BADW("bare LF after size", "5\nhello\r\n0\r\n\r\n",
	    "bare LF in chunked framing"),
	BADW("bare LF after extension", "5;a\nhello\r\n0\r\n\r\n",
	    "bare LF in chunked framing"),
	BADW("bare LF after data", "5\r\nhello\n0\r\n\r\n",
	    "bare LF in chunked framing"),
	BADW("bare LF after a trailer", "0\r\nX: y\n\r\n",
	    "bare LF in chunked framing"),
	BADW("bare LF as the final line", "0\r\n\n",
	    "bare LF in chunked framing"),
	BADW("missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n",
	    "missing CRLF after chunk data"),
	BADW("data longer than size", "5\r\nhello0\r\n\r\n",
	    "missing CRLF after chunk data"),
	BADW("CR then junk after data", "5\r\nhello\rX0\r\n\r\n",
	    "missing CRLF after chunk data"),
	BADW("bare CR after size", "5\rhello\r\n0\r\n\r\n", "bare CR"),
	BADW("bare CR at the end", "0\r\n\r\r\n", "bare CR"),
	BADW("bare CR in a trailer", "0\r\nX: a\rb\r\n\r\n", "bare CR"),
	BAD("bare CR in an extension", "5;a\rb\r\nhello\r\n0\r\n\r\n"),
	BAD("empty extension name", "5;\r\nhello\r\n0\r\n\r\n"),
	BAD("extension without name", "5;=x\r\nhello\r\n0\r\n\r\n"),
	BAD("extension without value", "5;a=\r\nhello\r\n0\r\n\r\n"),
	BAD("unterminated quoted value", "5;a=\"b\r\nhello\r\n0\r\n\r\n"),
	BAD("two tokens in a value", "5;a=b c\r\nhello\r\n0\r\n\r\n"),
	BAD("control in an extension", "5;a\x01\r\nhello\r\n0\r\n\r\n"),
	BAD("junk after quoted value", "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n"),
	BAD("NUL in the size line", "5\0\r\nhello\r\n0\r\n\r\n"),
	BAD("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n"),
	BADW("trailer space before colon", "0\r\nX : a\r\n\r\n",
	    "space before colon in trailer"),
	BAD("trailer without colon", "0\r\nX\r\n\r\n"),
	BAD("trailer with empty name", "0\r\n: a\r\n\r\n"),
	BAD("trailer with NUL", "0\r\nX: a\0b\r\n\r\n"),
	BAD("trailer with DEL", "0\r\nX: a\x7f\r\n\r\n"),
};

/* Feed buf in pieces of at most step bytes (0: split once at split). */
static long
feed_split(const char *in, size_t len, size_t split, size_t step,
    struct h1_chunked *st)
{
	size_t off = 0, n;
	long rv, total = 0;

	memset(st, 0, sizeof(*st));
	while (off < len) {
		char *b;

		if (step == 0)
			n = off < split ? split - off : len - off;
		else
			n = len - off < step ? len - off : step;
		/* An exact-size copy, so ASan sees any read past n. */
		b = malloc(n ? n : 1);
		memcpy(b, in + off, n);
		rv = h1_chunked_feed(st, b, n);
		free(b);
		if (rv == -1)
			return (-1);
		if (rv < 0 || (size_t)rv > n)
			return (-2);
		total += rv;
		if (st->done) {
			/* The rest is the next message: feeding it must
			 * take nothing. */
			if (off + n < len &&
			    h1_chunked_feed(st, in + off + n, len - off - n) != 0)
				return (-2);
			return (total);
		}
		if ((size_t)rv != n)
			return (-2);	/* took less without being done */
		off += n;
	}
	return (total);
}

static void
test_table(void)
{
	struct h1_chunked st;
	size_t i, len, k, step;
	long rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ccase *c = &cases[i];

		len = c->len;
		rv = feed_split(c->in, len, len, 0, &st);
		CHECK(rv == c->want, "%s: got %ld want %ld (%s)", c->name, rv,
		    c->want, st.err_reason ? st.err_reason : "");
		if (c->want >= 0)
			CHECK(st.done == c->done, "%s: done %d", c->name,
			    st.done);
		else {
			CHECK(st.err_reason != NULL, "%s: no reason", c->name);
			if (c->why != NULL && st.err_reason != NULL)
				CHECK(strcmp(st.err_reason, c->why) == 0,
				    "%s: reason %s", c->name, st.err_reason);
			/* An error sticks. */
			CHECK(h1_chunked_feed(&st, "0\r\n\r\n", 5) == -1,
			    "%s: error not sticky", c->name);
		}

		for (k = 0; k <= len; k++) {
			rv = feed_split(c->in, len, k, 0, &st);
			CHECK(rv == c->want && (c->want < 0 ||
			    st.done == c->done),
			    "%s: split at %zu: got %ld", c->name, k, rv);
		}
		for (step = 1; step <= 3; step++) {
			rv = feed_split(c->in, len, 0, step, &st);
			CHECK(rv == c->want && (c->want < 0 ||
			    st.done == c->done),
			    "%s: step %zu: got %ld", c->name, step, rv);
		}
	}
}

static void
test_state(void)
{
	struct h1_chunked st;
	static char big[10000];
	size_t n;
	long rv;
	int i;

	/* remaining tracks the data still due. */
	memset(&st, 0, sizeof(st));
	rv = h1_chunked_feed(&st, "1a\r\nabc", 7);
	CHECK(rv == 7 && st.remaining == 23 && !st.done, "remaining %llu",
	    (unsigned long long)st.remaining);
	rv = h1_chunked_feed(&st, "", 0);
	CHECK(rv == 0 && !st.done, "empty feed");

	/* Done: nothing more is taken. */
	memset(&st, 0, sizeof(st));
	rv = h1_chunked_feed(&st, "0\r\n\r\n", 5);
	CHECK(rv == 5 && st.done, "done");
	CHECK(h1_chunked_feed(&st, "0\r\n\r\n", 5) == 0, "after done");

	/* A size line that never ends, with the default cap of 4096. */
	memset(&st, 0, sizeof(st));
	memset(big, '0', sizeof(big));
	rv = h1_chunked_feed(&st, big, 4096);
	CHECK(rv == 4096, "4096 zeros: %ld", rv);
	rv = h1_chunked_feed(&st, big, 1);
	CHECK(rv == -1 && strcmp(st.err_reason, "chunk size line too long") == 0,
	    "4097 zeros: %ld", rv);

	/* A long extension, against a configured cap. */
	memset(&st, 0, sizeof(st));
	st.max_line = 16;
	rv = h1_chunked_feed(&st, "5;abcdefghijklmn\r\nhello\r\n", 25);
	CHECK(rv == 25, "16-byte line: %ld", rv);
	rv = h1_chunked_feed(&st, "5;abcdefghijklmno\r\n", 19);
	CHECK(rv == -1, "17-byte line");

	/* A trailer line that never ends. */
	memset(&st, 0, sizeof(st));
	st.max_line = 100;
	n = snprintf(big, sizeof(big), "0\r\nX: ");
	memset(big + n, 'v', 200);
	rv = h1_chunked_feed(&st, big, n + 200);
	CHECK(rv == -1 && strcmp(st.err_reason, "trailer line too long") == 0,
	    "long trailer");

	/* Too many trailer fields. */
	memset(&st, 0, sizeof(st));
	n = snprintf(big, sizeof(big), "0\r\n");
	for (i = 0; i < 100; i++)
		n += snprintf(big + n, sizeof(big) - n, "T: %d\r\n", i);
	rv = h1_chunked_feed(&st, big, n);
	CHECK(rv == (long)n && st.ntrailers == 100, "100 trailers");
	rv = h1_chunked_feed(&st, "U: x\r\n", 6);
	CHECK(rv == -1, "101 trailers");

	/* Large chunks stream through without per-byte work. */
	memset(&st, 0, sizeof(st));
	rv = h1_chunked_feed(&st, "2710\r\n", 6);
	CHECK(rv == 6 && st.remaining == 10000, "0x2710");
	memset(big, 'x', sizeof(big));
	rv = h1_chunked_feed(&st, big, sizeof(big));
	CHECK(rv == (long)sizeof(big) && st.remaining == 0, "10000 bytes");
	rv = h1_chunked_feed(&st, "\r\n0\r\n\r\nNEXT", 11);
	CHECK(rv == 7 && st.done, "end after big chunk: %ld", rv);
}

/* on_data: the data runs, in order, are the de-chunked body. */
struct collect {
	char	 buf[256];
	size_t	 len;
};

static void
collect_data(void *arg, const char *p, size_t n)
{
	struct collect *c = arg;

	if (c->len + n <= sizeof(c->buf)) {
		memcpy(c->buf + c->len, p, n);
		c->len += n;
	}
}

static void
test_on_data(void)
{
	static const char body[] =
	    "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nT: x\r\n\r\nNEXT";
	struct h1_chunked	 st;
	struct collect		 c;
	size_t			 split, i;
	long			 a, b;

	for (split = 0; split <= sizeof(body) - 1; split++) {
		memset(&st, 0, sizeof(st));
		memset(&c, 0, sizeof(c));
		st.on_data = collect_data;
		st.arg = &c;
		a = h1_chunked_feed(&st, body, split);
		b = st.done ? 0 : h1_chunked_feed(&st, body + split,
		    sizeof(body) - 1 - split);
		CHECK(st.done && a >= 0 && b >= 0 &&
		    (size_t)(a + b) == sizeof(body) - 1 - 4,
		    "on_data split %zu: %ld + %ld", split, a, b);
		CHECK(c.len == 11 && memcmp(c.buf, "hello world", 11) == 0, "on_data split %zu: got %zu bytes '%.*s'", split,
		    c.len, (int)c.len, c.buf);
	}
	/* Byte by byte gives the same body. */
	memset(&st, 0, sizeof(st));
	memset(&c, 0, sizeof(c));
	st.on_data = collect_data;
	st.arg = &c;
	for (i = 0; i < sizeof(body) - 1 && !st.done; i++)
		h1_chunked_feed(&st, body + i, 1);
	CHECK(c.len == 11 && memcmp(c.buf, "hello world", 11) == 0,
	    "on_data byte by byte: '%.*s'", (int)c.len, c.buf);
}

int
main(void)
{
	test_table();
	test_state();
	test_on_data();
	return (unit_done("t_chunked"));
}
