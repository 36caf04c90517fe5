/*
 * libFuzzer target for the HTTP/1.1 head parser (proxy/h1_parse.c).
 *
 * The input is a head as it would arrive on a socket; one starting with
 * "HTTP/" is parsed as a response.  Besides looking for crashes and
 * out-of-bounds reads, it checks that parsing in one call and parsing a
 * growing buffer in pieces give the same answer, that everything the
 * parser returns points inside the head, and it runs the target, Host and
 * chunked parsers on what the head parser accepted.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"

#define NHDRS	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const methods[] = { NULL, "GET", "HEAD", "CONNECT" };

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

static int
in_head(const char *p, size_t n, const char *buf, size_t len)
{
	return (n == 0 || (p >= buf && p + n <= buf + len));
}

static int
parse(enum h1_kind kind, const char *rm, const char *buf, size_t len,
    size_t step, const struct h1_limits *lim, struct h1_msg *msg,
    struct h1_hdr *hdrs)
{
	struct h1_parser p;
	size_t n = 0;
	int rv = 0;

	memset(&p, 0, sizeof(p));
	memset(msg, 0, sizeof(*msg));
	msg->hdrs = hdrs;
	msg->hdrs_cap = NHDRS;
	if (step == 0)
		return (h1_parse_head(&p, kind, rm, buf, len, lim, msg));
	while (n < len) {
		n = len - n < step ? len : n + step;
		rv = h1_parse_head(&p, kind, rm, buf, n, lim, msg);
		REQUIRE(p.scanned <= n);
		if (rv != 0)
			break;
	}
	return (rv);
}

static void
check_same(int rv1, const struct h1_msg *a, int rv2, const struct h1_msg *b)
{
	size_t i;

	REQUIRE(rv1 == rv2);
	if (rv1 == -1) {
		REQUIRE(a->err_status == b->err_status);
		REQUIRE(a->err_reason != NULL && b->err_reason != NULL);
		REQUIRE(strcmp(a->err_reason, b->err_reason) == 0);
		return;
	}
	if (rv1 == 0)
		return;
	REQUIRE(a->body == b->body && a->flags == b->flags &&
	    a->nhdrs == b->nhdrs && a->status == b->status &&
	    a->version_minor == b->version_minor);
	REQUIRE(a->body != H1_BODY_LENGTH ||
	    a->content_length == b->content_length);
	for (i = 0; i < a->nhdrs; i++)
		REQUIRE(a->hdrs[i].name_len == b->hdrs[i].name_len &&
		    a->hdrs[i].value_len == b->hdrs[i].value_len);
}

static void
check_msg(enum h1_kind kind, const char *buf, size_t len, int rv,
    const struct h1_msg *msg)
{
	struct h1_target t;
	struct h1_chunked st;
	const char *why;
	size_t i;

	if (rv <= 0)
		return;
	REQUIRE((size_t)rv <= len);
	REQUIRE(msg->nhdrs <= NHDRS);
	for (i = 0; i < msg->nhdrs; i++) {
		const struct h1_hdr *h = &msg->hdrs[i];

		REQUIRE(h->name_len > 0);
		REQUIRE(in_head(h->name, h->name_len, buf, rv));
		REQUIRE(in_head(h->value, h->value_len, buf, rv));
		REQUIRE(h1_find_hdr(msg, "x") != h ||
		    (h->name_len == 1));
		(void)h1_list_has(h->value, h->value_len, "close");
	}
	if (kind == H1_REQUEST) {
		REQUIRE(msg->method_len > 0 && msg->target_len > 0);
		REQUIRE(in_head(msg->method, msg->method_len, buf, rv));
		REQUIRE(in_head(msg->target, msg->target_len, buf, rv));
		REQUIRE(in_head(msg->host, msg->host_len, buf, rv));
		REQUIRE(msg->body != H1_BODY_CLOSE);
		why = NULL;
		if (h1_parse_target(msg->method, msg->method_len, msg->target,
		    msg->target_len, &t, &why) == 0) {
			REQUIRE(in_head(t.host, t.host_len, msg->target,
			    msg->target_len));
			REQUIRE(t.path == NULL || t.path_len > 0);
			REQUIRE(t.form != H1_TARGET_AUTHORITY ||
			    (t.port >= 1 && t.port <= 65535));
			if (t.host != NULL && msg->host != NULL)
				(void)h1_host_matches(msg->host,
				    msg->host_len, t.host, t.host_len, t.port,
				    t.port);
		} else
			REQUIRE(why != NULL);
	} else {
		REQUIRE(msg->status >= 100 && msg->status <= 999);
		REQUIRE(in_head(msg->reason, msg->reason_len, buf, rv));
	}
	if (msg->body == H1_BODY_CHUNKED) {
		long n;

		memset(&st, 0, sizeof(st));
		n = h1_chunked_feed(&st, buf + rv, len - rv);
		REQUIRE(n == -1 || (size_t)n <= len - rv);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct h1_limits normal = { 8192, 4096, 50 };
	static const struct h1_limits tiny = { 160, 48, 4 };
	struct h1_hdr hdrs1[NHDRS], hdrs2[NHDRS];
	struct h1_msg m1, m2;
	const char *buf = (const char *)data;
	enum h1_kind kind;
	const char *rm;
	size_t step;
	int rv1, rv2;

	kind = size >= 5 && memcmp(buf, "HTTP/", 5) == 0 ? H1_RESPONSE :
	    H1_REQUEST;
	rm = methods[size % 4];
	step = size > 0 ? 1 + data[size - 1] % 17 : 1;

	rv1 = parse(kind, rm, buf, size, 0, &normal, &m1, hdrs1);
	check_msg(kind, buf, size, rv1, &m1);
	rv2 = parse(kind, rm, buf, size, step, &normal, &m2, hdrs2);
	check_same(rv1, &m1, rv2, &m2);

	rv1 = parse(kind, rm, buf, size, 0, &tiny, &m1, hdrs1);
	check_msg(kind, buf, size, rv1, &m1);
	REQUIRE(rv1 <= 160);
	rv2 = parse(kind, rm, buf, size, 1, &tiny, &m2, hdrs2);
	check_same(rv1, &m1, rv2, &m2);
	return (0);
}
