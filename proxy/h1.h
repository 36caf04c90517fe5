/*
 * HTTP/1.1 message framing (RFC 9112): a pure, resumable parser of request
 * and response heads, and a chunked-body decoder.  No libevent, no
 * allocation: callers hand in bytes and a state struct, and get back
 * -1 (reject), 0 (need more bytes) or >0 (bytes consumed).  The connection
 * code in conn.c and forward.c drives these over its evbuffers.
 *
 * This header is included through proxy.h; it is separate only so that the
 * unit tests and fuzz targets can use the parser without libevent.
 */
#ifndef IAPROXY_H1_H
#define IAPROXY_H1_H

#include <stddef.h>
#include <stdint.h>

enum h1_kind {
	H1_REQUEST,
	H1_RESPONSE,
};

/* How the body that follows a head is delimited (RFC 9112 section 6.3). */
enum h1_body {
	H1_BODY_NONE,		/* no body at all */
	H1_BODY_LENGTH,		/* exactly content_length bytes */
	H1_BODY_CHUNKED,	/* chunked; decode with h1_chunked_feed() */
	H1_BODY_CLOSE,		/* until the sender closes (responses only) */
};

/* Limits enforced while scanning, before the end of the head is seen. */
struct h1_limits {
	size_t		 max_head_bytes;	/* whole head incl. final CRLF */
	size_t		 max_line_bytes;	/* one line, excluding CRLF */
	size_t		 max_headers;		/* header field lines */
};

/* A header field as it appears in the buffer (value trimmed of OWS). */
struct h1_hdr {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};

/* Flags derived from the head. */
#define H1F_CONN_CLOSE		0x0001	/* Connection: close */
#define H1F_CONN_KEEPALIVE	0x0002	/* Connection: keep-alive */
#define H1F_EXPECT_CONTINUE	0x0004	/* Expect: 100-continue */
#define H1F_HAS_HOST		0x0008	/* exactly one Host: field */
#define H1F_UPGRADE		0x0010	/* Upgrade: present */
#define H1F_PROXY_KEEPALIVE	0x0020	/* Proxy-Connection: keep-alive */

/*
 * A parsed head.  All pointers point into the caller's buffer, so they are
 * valid only while that buffer is.  hdrs is an array supplied by the caller
 * with room for hdrs_cap entries (at least limits->max_headers).
 */
struct h1_msg {
	/* request line */
	const char	*method;
	size_t		 method_len;
	const char	*target;
	size_t		 target_len;
	/* status line */
	int		 status;
	const char	*reason;
	size_t		 reason_len;

	int		 version_minor;	/* HTTP/1.0 -> 0, HTTP/1.1 -> 1 */
	struct h1_hdr	*hdrs;
	size_t		 nhdrs;
	size_t		 hdrs_cap;

	enum h1_body	 body;
	uint64_t	 content_length; /* when body == H1_BODY_LENGTH */
	unsigned	 flags;		 /* H1F_* */
	const char	*host;		 /* the Host field value, if any */
	size_t		 host_len;

	/* When a call returns -1: the status to answer with and why. */
	int		 err_status;	/* 400, 414, 431, 501, 505; 502 for
					   any bad response */
	const char	*err_reason;	/* static string, safe to log */
};

/*
 * Scanner state, zeroed before the first call for a new head.  It remembers
 * how far it has looked, so feeding a growing buffer costs O(new bytes).
 */
struct h1_parser {
	size_t		 scanned;	/* bytes already checked */
	size_t		 line_start;	/* offset of the current line */
	size_t		 nlines;	/* complete lines so far */
};

/*
 * Look for a complete head at the start of buf[0..len) and parse it into
 * msg.  kind says whether a request or a response is expected.  For a
 * response, req_method (may be NULL) is the method of the request it
 * answers: HEAD, and 2xx to CONNECT, have no body.
 *   >0  the head is complete and valid; the return value is its length in
 *       bytes, including the empty line that ends it.  msg is filled in.
 *    0  no complete head yet, and nothing seen so far breaks a rule or a
 *       limit: call again with the same buffer grown.
 *   -1  reject: msg->err_status and msg->err_reason say why.
 * Leading empty lines before a request line are skipped (RFC 9112 2.2) and
 * counted in the returned length.
 */
int	h1_parse_head(struct h1_parser *p, enum h1_kind kind,
	    const char *req_method, const char *buf, size_t len,
	    const struct h1_limits *lim, struct h1_msg *msg);

/* Case-insensitive lookup of the first header named name; NULL if absent. */
const struct h1_hdr *h1_find_hdr(const struct h1_msg *msg, const char *name);

/* Does the comma-separated list in value contain token (case-insensitive)? */
int	h1_list_has(const char *value, size_t value_len, const char *token);

/* A request target split into parts (pointers into the target). */
enum h1_target_form {
	H1_TARGET_ORIGIN,	/* /path?query */
	H1_TARGET_ABSOLUTE,	/* http://host[:port]/path?query */
	H1_TARGET_AUTHORITY,	/* host:port (CONNECT only) */
	H1_TARGET_ASTERISK,	/* * (OPTIONS only) */
};
struct h1_target {
	enum h1_target_form form;
	const char	*scheme;	/* "http", lower case compare */
	size_t		 scheme_len;
	const char	*host;		/* without brackets for IPv6 */
	size_t		 host_len;
	int		 port;		/* explicit or the scheme default */
	int		 port_explicit;
	const char	*path;		/* origin-form part, "/" if empty */
	size_t		 path_len;
};

/*
 * Split a request target (RFC 9112 section 3.2) given the method.  CONNECT
 * takes authority-form only, with a port; other methods take origin-form,
 * absolute-form or, for OPTIONS, "*".  Hosts are checked against RFC 3986
 * reg-name / IPv4 / bracketed IPv6 syntax; userinfo ("user@host") is
 * rejected.  Returns 0, or -1 with *why set to a static reason.
 */
int	h1_parse_target(const char *method, size_t method_len,
	    const char *target, size_t target_len, struct h1_target *out,
	    const char **why);

/*
 * Compare a Host field value with a host and port from the target: equal
 * if the hosts match case-insensitively and the ports match, a missing
 * port in Host meaning default_port.  Returns 1 when they agree.
 */
int	h1_host_matches(const char *hostval, size_t hostval_len,
	    const char *host, size_t host_len, int port, int default_port);

/* Chunked body decoder state; zero it before the first call. */
struct h1_chunked {
	int		 state;		/* internal */
	uint64_t	 remaining;	/* data bytes left in this chunk */
	size_t		 line_len;	/* bytes of the current size/trailer line */
	size_t		 max_line;	/* cap on size and trailer lines; 0 = 4096 */
	size_t		 ntrailers;
	int		 done;		/* the last chunk and trailers were seen */
	const char	*err_reason;	/* static, when -1 is returned */
	/* Optional: called with each run of chunk data (to de-chunk). */
	void		(*on_data)(void *arg, const char *data, size_t len);
	void		*arg;
};

/*
 * Feed len bytes of a chunked body (RFC 9112 section 7.1), as they arrive.
 * The bytes are not changed: the proxy forwards them as they are, so this
 * only validates and finds where the body ends.  Returns the number of
 * bytes that belong to the body (all of len, unless the body ended inside
 * it, in which case st->done is set and the rest is the next message), or
 * -1 on a framing error (bad hex, size overflow, missing CRLF, over-long
 * line, bad extension or trailer syntax, bare CR or bare LF).  Unlike the
 * head parser, which re-serializes what it accepts, these bytes travel on
 * as they are, so line ends must be exactly CRLF: a bare LF that we and the
 * origin read differently is how chunked requests get smuggled.
 */
long	h1_chunked_feed(struct h1_chunked *st, const char *buf, size_t len);

#endif
