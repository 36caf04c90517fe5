/*
 * HTTP/1.1 head parser (RFC 9112 sections 2-6, RFC 9110).
 *
 * h1_parse_head() works in two passes.  The scan pass runs over the bytes
 * as they arrive, remembering in struct h1_parser how far it got: it finds
 * line ends, rejects bare CR and control characters, and enforces the size
 * limits before any CRLF is seen, so a client cannot make us buffer more
 * than max_head_bytes.  Once the empty line that ends the head is found, the
 * parse pass walks the now bounded head once, splits the start line and the
 * fields, and decides the framing of the body.  Nothing here allocates:
 * everything points into the caller's buffer.
 *
 * This is a security boundary: a proxy that frames a message differently
 * from the next hop enables request smuggling, so every ambiguity in the
 * framing (RFC 9112 section 6, 11.2) is a rejection, not a guess.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "h1.h"

/* Used when the caller passes no limits. */
#define H1_DEF_HEAD_BYTES	65536
#define H1_DEF_LINE_BYTES	8192
#define H1_DEF_HEADERS		100

/* RFC 1035 2.3.4: a name is at most 255 octets. */
#define H1_MAX_HOST		255

/* Transfer-Encoding list summary (RFC 9112 section 6.1). */
struct h1_te {
	int		 present;
	int		 bad;		/* syntax error in the list */
	size_t		 ncodings;
	size_t		 nchunked;
	size_t		 nother;	/* codings we cannot decode */
	int		 last_chunked;
};

static const char h1_slash[] = "/";

/*
 * tchar (RFC 9110 section 5.6.2): "!" / "#" / "$" / "%" / "&" / "'" / "*"
 * / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
 */
static int
h1_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
h1_is_ctl(unsigned char c)
{
	return (c < 0x20 || c == 0x7f);
}

static int
h1_is_ows(unsigned char c)
{
	return (c == ' ' || c == '\t');
}

static int
h1_is_digit(unsigned char c)
{
	return (c >= '0' && c <= '9');
}

/*
 * Record a rejection.  Any fault in a response is the upstream server's,
 * so the client is answered 502 (RFC 9110 section 15.6.3) whatever the rule.
 */
static int
h1_fail(struct h1_msg *msg, enum h1_kind kind, int status, const char *why)
{
	msg->err_status = kind == H1_RESPONSE ? 502 : status;
	msg->err_reason = why;
	return (-1);
}

/* Case-insensitive comparison of a counted string with a C string. */
static int
h1_eq(const char *s, size_t n, const char *lit)
{
	return (strlen(lit) == n && strncasecmp(s, lit, n) == 0);
}

/*
 * Validate a host: a bracketed IPv6 literal (given here without the
 * brackets, checked with inet_pton) or a DNS name / IPv4 address.  RFC 3986
 * reg-name allows sub-delims and pct-encoding too, but nothing that
 * resolves through DNS uses them, and letting them through would only hand
 * odd bytes to the resolver and the policy matcher.
 */
static int
h1_valid_host(const char *h, size_t n, int ipv6, const char **why)
{
	char		 tmp[INET6_ADDRSTRLEN];
	struct in6_addr	 a6;
	size_t		 i;

	if (n == 0) {
		*why = "empty host";
		return (-1);
	}
	if (ipv6) {
		/* RFC 6874 zone ids and RFC 3986 IPvFuture are not taken. */
		if (n >= sizeof(tmp)) {
			*why = "invalid IPv6 literal";
			return (-1);
		}
		memcpy(tmp, h, n);
		tmp[n] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1) {
			*why = "invalid IPv6 literal";
			return (-1);
		}
		return (0);
	}
	if (n > H1_MAX_HOST) {
		*why = "host name too long";
		return (-1);
	}
	for (i = 0; i < n; i++) {
		unsigned char c = h[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    h1_is_digit(c) || c == '-' || c == '.' || c == '_')
			continue;
		*why = c == '@' ? "userinfo not allowed" :
		    "invalid character in host";
		return (-1);
	}
	return (0);
}

/*
 * Split "host[:port]" (RFC 3986 section 3.2.2-3.2.3, as used by Host and
 * by the authority of a target).  The port, when present, must be 1-65535;
 * an empty port ("host:") is refused even though RFC 3986 allows it, as
 * nobody legitimate sends it.  Brackets are removed from IPv6 literals.
 */
static int
h1_split_hostport(const char *s, size_t n, const char **host,
    size_t *host_len, int *port, int *has_port, const char **why)
{
	const char	*rest, *end = s + n;
	size_t		 i, ndig;
	long		 v;
	int		 ipv6 = 0;

	*has_port = 0;
	*port = 0;
	if (memchr(s, '@', n) != NULL) {
		/* RFC 9110 section 4.2.4: userinfo is deprecated and a
		 * phishing vector; a proxy has no use for it. */
		*why = "userinfo not allowed";
		return (-1);
	}
	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (rb == NULL) {
			*why = "unterminated IPv6 literal";
			return (-1);
		}
		*host = s + 1;
		*host_len = rb - s - 1;
		rest = rb + 1;
		ipv6 = 1;
	} else {
		const char *colon = memchr(s, ':', n);

		*host = s;
		*host_len = colon != NULL ? (size_t)(colon - s) : n;
		rest = s + *host_len;
	}
	if (h1_valid_host(*host, *host_len, ipv6, why) == -1)
		return (-1);
	if (rest == end)
		return (0);
	if (*rest != ':') {
		*why = "invalid character after host";
		return (-1);
	}
	rest++;
	ndig = end - rest;
	if (ndig == 0 || ndig > 5) {
		*why = "invalid port";
		return (-1);
	}
	v = 0;
	for (i = 0; i < ndig; i++) {
		if (!h1_is_digit(rest[i])) {
			*why = "invalid port";
			return (-1);
		}
		v = v * 10 + (rest[i] - '0');
	}
	if (v < 1 || v > 65535) {
		*why = "invalid port";
		return (-1);
	}
	*port = (int)v;
	*has_port = 1;
	return (0);
}

/*
 * Parse one Content-Length field value into *cl.  RFC 9110 section 8.6:
 * 1*DIGIT, no sign, no whitespace inside.  A list of identical values
 * ("5, 5", as some intermediaries fold duplicate fields) is accepted as
 * that value; any element that differs from one already seen, in this or
 * an earlier field, is an error, as it leaves the body length ambiguous.
 * Values above INT64_MAX are refused so that callers may use off_t.
 */
static int
h1_parse_cl(const char *v, size_t n, int *seen, uint64_t *cl,
    const char **why)
{
	size_t		 i = 0, start;
	uint64_t	 val;

	for (;;) {
		while (i < n && h1_is_ows(v[i]))
			i++;
		start = i;
		val = 0;
		while (i < n && h1_is_digit(v[i])) {
			unsigned d = v[i] - '0';

			if (val > ((uint64_t)INT64_MAX - d) / 10) {
				*why = "Content-Length too large";
				return (-1);
			}
			val = val * 10 + d;
			i++;
		}
		if (i == start) {
			*why = "invalid Content-Length";
			return (-1);
		}
		if (*seen && val != *cl) {
			*why = "conflicting Content-Length values";
			return (-1);
		}
		*seen = 1;
		*cl = val;
		while (i < n && h1_is_ows(v[i]))
			i++;
		if (i == n)
			return (0);
		if (v[i] != ',') {
			*why = "invalid Content-Length";
			return (-1);
		}
		i++;
	}
}

/* Skip a quoted-string (RFC 9110 section 5.6.4) starting at v[*i] == '"'. */
static int
h1_skip_quoted(const char *v, size_t n, size_t *i)
{
	size_t	 j = *i + 1;

	while (j < n) {
		unsigned char c = v[j];

		if (c == '"') {
			*i = j + 1;
			return (0);
		}
		if (c == '\\') {
			if (j + 1 >= n || (h1_is_ctl(v[j + 1]) &&
			    v[j + 1] != '\t'))
				return (-1);
			j += 2;
			continue;
		}
		if (h1_is_ctl(c) && c != '\t')
			return (-1);
		j++;
	}
	return (-1);
}

/*
 * Add one Transfer-Encoding field value to the summary in te.  The codings
 * of several fields form one list in field order (RFC 9110 section 5.3).
 * transfer-coding = token *( OWS ";" OWS transfer-parameter ), and
 * transfer-parameter = token BWS "=" BWS ( token / quoted-string ).
 * Empty list elements are ignored (RFC 9110 section 5.6.1).  "chunked"
 * takes no parameters, so "chunked;x=y" counts as an unknown coding.
 */
static void
h1_parse_te(const char *v, size_t n, struct h1_te *te)
{
	size_t	 i = 0, start, toklen;
	int	 params;

	te->present = 1;
	while (i < n) {
		if (v[i] == ',' || h1_is_ows(v[i])) {
			i++;
			continue;
		}
		start = i;
		while (i < n && h1_is_tchar(v[i]))
			i++;
		toklen = i - start;
		if (toklen == 0)
			goto bad;
		params = 0;
		while (i < n && h1_is_ows(v[i]))
			i++;
		while (i < n && v[i] == ';') {
			params = 1;
			i++;
			while (i < n && h1_is_ows(v[i]))
				i++;
			if (i == n || !h1_is_tchar(v[i]))
				goto bad;
			while (i < n && h1_is_tchar(v[i]))
				i++;
			while (i < n && h1_is_ows(v[i]))
				i++;
			if (i == n || v[i] != '=')
				goto bad;
			i++;
			while (i < n && h1_is_ows(v[i]))
				i++;
			if (i < n && v[i] == '"') {
				if (h1_skip_quoted(v, n, &i) == -1)
					goto bad;
			} else {
				if (i == n || !h1_is_tchar(v[i]))
					goto bad;
				while (i < n && h1_is_tchar(v[i]))
					i++;
			}
			while (i < n && h1_is_ows(v[i]))
				i++;
		}
		if (i < n && v[i] != ',')
			goto bad;
		te->ncodings++;
		if (!params && h1_eq(v + start, toklen, "chunked")) {
			te->nchunked++;
			te->last_chunked = 1;
		} else {
			te->nother++;
			te->last_chunked = 0;
		}
	}
	return;
 bad:
	te->bad = 1;
}

/*
 * HTTP-version = HTTP-name "/" DIGIT "." DIGIT (RFC 9112 section 2.3),
 * case-sensitive.  Returns 0 with *minor set for 1.0 and 1.1, -2 for a
 * well-formed but other version (505), -1 for anything else.
 */
static int
h1_parse_version(const char *s, size_t n, int *minor)
{
	if (n != 8 || memcmp(s, "HTTP/", 5) != 0 || !h1_is_digit(s[5]) ||
	    s[6] != '.' || !h1_is_digit(s[7]))
		return (-1);
	if (s[5] != '1' || (s[7] != '0' && s[7] != '1'))
		return (-2);
	*minor = s[7] - '0';
	return (0);
}

/*
 * request-line = method SP request-target SP HTTP-version (RFC 9112
 * section 3), with exactly one SP between the parts: tolerating runs of
 * whitespace (as section 3 permits) is how parsers come to disagree on
 * where the target ends.
 */
static int
h1_parse_reqline(const char *s, size_t n, struct h1_msg *msg)
{
	size_t	 i = 0, t;
	int	 rv;

	while (i < n && h1_is_tchar(s[i]))
		i++;
	if (i == 0 || i == n || s[i] != ' ')
		return (h1_fail(msg, H1_REQUEST, 400, "invalid method"));
	msg->method = s;
	msg->method_len = i;
	t = ++i;
	while (i < n && s[i] != ' ') {
		unsigned char c = s[i];

		/* RFC 9112 section 3.2: no whitespace or controls; a URI
		 * is ASCII (RFC 3986), so obs-text has no business here. */
		if (c <= 0x20 || c >= 0x7f)
			return (h1_fail(msg, H1_REQUEST, 400,
			    "invalid character in request target"));
		i++;
	}
	if (i == t)
		return (h1_fail(msg, H1_REQUEST, 400, "empty request target"));
	if (i == n)
		return (h1_fail(msg, H1_REQUEST, 400, "missing HTTP version"));
	msg->target = s + t;
	msg->target_len = i - t;
	i++;
	rv = h1_parse_version(s + i, n - i, &msg->version_minor);
	if (rv == -2)
		return (h1_fail(msg, H1_REQUEST, 505,
		    "HTTP version not supported"));
	if (rv == -1)
		return (h1_fail(msg, H1_REQUEST, 400, "invalid HTTP version"));
	return (0);
}

/*
 * status-line = HTTP-version SP status-code SP [ reason-phrase ]
 * (RFC 9112 section 4).  Some servers omit the SP after the code when the
 * reason is empty; that is harmless, so it is tolerated.
 */
static int
h1_parse_statusline(const char *s, size_t n, struct h1_msg *msg)
{
	int	 code;

	if (n < 12 || h1_parse_version(s, 8, &msg->version_minor) != 0 ||
	    s[8] != ' ')
		return (h1_fail(msg, H1_RESPONSE, 502, "invalid status line"));
	if (!h1_is_digit(s[9]) || !h1_is_digit(s[10]) || !h1_is_digit(s[11]))
		return (h1_fail(msg, H1_RESPONSE, 502, "invalid status code"));
	code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	/* RFC 9110 section 15: codes are 100-599, but a client must
	 * handle any three digits by class; below 100 is meaningless. */
	if (code < 100)
		return (h1_fail(msg, H1_RESPONSE, 502, "invalid status code"));
	if (n > 12 && s[12] != ' ')
		return (h1_fail(msg, H1_RESPONSE, 502, "invalid status line"));
	msg->status = code;
	msg->reason = n > 13 ? s + 13 : s + n;
	msg->reason_len = n > 13 ? n - 13 : 0;
	return (0);
}

/*
 * field-line = field-name ":" OWS field-value OWS (RFC 9112 section 5).
 * The scan pass already refused controls other than HTAB and lines that
 * start with whitespace (obs-fold).
 */
static int
h1_parse_field(const char *s, size_t n, enum h1_kind kind, struct h1_hdr *h,
    struct h1_msg *msg)
{
	size_t	 i = 0, vs, ve;

	while (i < n && h1_is_tchar(s[i]))
		i++;
	if (i == n)
		return (h1_fail(msg, kind, 400, "missing colon in header"));
	if (h1_is_ows(s[i])) {
		size_t j = i;

		while (j < n && h1_is_ows(s[j]))
			j++;
		/* RFC 9112 section 5.1: MUST reject, as some parsers
		 * would take "Content-Length :" for Content-Length. */
		if (j < n && s[j] == ':')
			return (h1_fail(msg, kind, 400, "space before colon"));
		return (h1_fail(msg, kind, 400, "invalid header name"));
	}
	if (s[i] != ':' || i == 0)
		return (h1_fail(msg, kind, 400, "invalid header name"));
	h->name = s;
	h->name_len = i;
	vs = i + 1;
	ve = n;
	while (vs < ve && h1_is_ows(s[vs]))
		vs++;
	while (ve > vs && h1_is_ows(s[ve - 1]))
		ve--;
	h->value = s + vs;
	h->value_len = ve - vs;
	return (0);
}

/* Find the end of the line at pos; the scan pass guarantees there is one. */
static size_t
h1_next_line(const char *buf, size_t end, size_t pos, size_t *eol)
{
	const char	*lf = memchr(buf + pos, '\n', end - pos);
	size_t		 e = lf != NULL ? (size_t)(lf - buf) : end;

	*eol = (e > pos && buf[e - 1] == '\r') ? e - 1 : e;
	return (e + 1);
}

/*
 * Decide how the body is delimited (RFC 9112 section 6.3) and check the
 * framing fields for ambiguity.
 */
static int
h1_framing(enum h1_kind kind, const char *req_method, struct h1_msg *msg,
    const struct h1_te *te, int cl_seen)
{
	if (kind == H1_REQUEST) {
		int connect = msg->method_len == 7 &&
		    memcmp(msg->method, "CONNECT", 7) == 0;

		if (te->present) {
			/* RFC 9112 section 6.1: TE in HTTP/1.0 means the
			 * framing is faulty; a 1.0 hop would not decode. */
			if (msg->version_minor == 0)
				return (h1_fail(msg, kind, 400,
				    "Transfer-Encoding in HTTP/1.0 request"));
			/* Section 6.3 item 3: the classic smuggling vector;
			 * we reject rather than drop Content-Length. */
			if (cl_seen)
				return (h1_fail(msg, kind, 400,
				    "both Transfer-Encoding and Content-Length"));
			if (te->bad || te->ncodings == 0)
				return (h1_fail(msg, kind, 400,
				    "invalid Transfer-Encoding"));
			if (te->nchunked > 1)
				return (h1_fail(msg, kind, 400,
				    "chunked applied more than once"));
			/* Section 6.3 item 4: length undeterminable. */
			if (!te->last_chunked)
				return (h1_fail(msg, kind, 400,
				    "chunked is not the final transfer-coding"));
			/* Section 6.1: a coding we do not understand. */
			if (te->nother > 0)
				return (h1_fail(msg, kind, 501,
				    "unsupported transfer-coding"));
			if (connect)
				return (h1_fail(msg, kind, 400,
				    "CONNECT request with a body"));
			msg->body = H1_BODY_CHUNKED;
		} else if (cl_seen) {
			/* RFC 9110 section 9.3.6: CONNECT has no content;
			 * a zero length is what some clients send. */
			if (connect && msg->content_length != 0)
				return (h1_fail(msg, kind, 400,
				    "CONNECT request with a body"));
			msg->body = connect ? H1_BODY_NONE : H1_BODY_LENGTH;
		} else
			msg->body = H1_BODY_NONE;
		return (0);
	}

	if (te->present) {
		if (cl_seen)
			return (h1_fail(msg, kind, 502,
			    "both Transfer-Encoding and Content-Length"));
		if (te->bad || te->ncodings == 0)
			return (h1_fail(msg, kind, 502,
			    "invalid Transfer-Encoding"));
		if (te->nchunked > 1)
			return (h1_fail(msg, kind, 502,
			    "chunked applied more than once"));
		/* Section 6.3 item 4: in a response, a final coding other
		 * than chunked means the body runs until close. */
		msg->body = te->last_chunked ? H1_BODY_CHUNKED : H1_BODY_CLOSE;
		/* Section 6.1: TE in an HTTP/1.0 message means faulty
		 * framing: decode it, but never reuse the connection. */
		if (msg->version_minor == 0)
			msg->flags |= H1F_CONN_CLOSE;
	} else if (cl_seen)
		msg->body = H1_BODY_LENGTH;
	else
		msg->body = H1_BODY_CLOSE;

	/* Section 6.3 items 1-2: these never have content, whatever the
	 * framing fields say. */
	if ((msg->status >= 100 && msg->status < 200) || msg->status == 204 ||
	    msg->status == 304)
		msg->body = H1_BODY_NONE;
	if (req_method != NULL && strcmp(req_method, "HEAD") == 0)
		msg->body = H1_BODY_NONE;
	if (req_method != NULL && strcmp(req_method, "CONNECT") == 0 &&
	    msg->status >= 200 && msg->status < 300)
		msg->body = H1_BODY_NONE;
	return (0);
}

/*
 * Second pass, over a complete head buf[0..end): split the start line and
 * the fields, then derive framing and flags.
 */
static int
h1_parse_lines(enum h1_kind kind, const char *req_method, const char *buf,
    size_t end, struct h1_msg *msg)
{
	struct h1_te	 te;
	struct h1_hdr	*h;
	size_t		 ls, pos = 0, eol, nhost = 0;
	int		 cl_seen = 0, rv;
	const char	*why;

	memset(&te, 0, sizeof(te));

	/* RFC 9112 section 2.2: empty lines before the request line. */
	while (kind == H1_REQUEST && pos < end &&
	    (buf[pos] == '\r' || buf[pos] == '\n'))
		pos++;

	ls = pos;
	pos = h1_next_line(buf, end, pos, &eol);
	if (kind == H1_REQUEST)
		rv = h1_parse_reqline(buf + ls, eol - ls, msg);
	else
		rv = h1_parse_statusline(buf + ls, eol - ls, msg);
	if (rv == -1)
		return (-1);

	for (;;) {
		ls = pos;
		pos = h1_next_line(buf, end, pos, &eol);
		if (eol == ls)
			break;		/* the empty line ending the head */
		if (msg->nhdrs >= msg->hdrs_cap)
			return (h1_fail(msg, kind, 431,
			    "too many header fields"));
		h = &msg->hdrs[msg->nhdrs];
		if (h1_parse_field(buf + ls, eol - ls, kind, h, msg) == -1)
			return (-1);
		msg->nhdrs++;

		if (h1_eq(h->name, h->name_len, "content-length")) {
			if (h1_parse_cl(h->value, h->value_len, &cl_seen,
			    &msg->content_length, &why) == -1)
				return (h1_fail(msg, kind, 400, why));
		} else if (h1_eq(h->name, h->name_len, "transfer-encoding"))
			h1_parse_te(h->value, h->value_len, &te);
		else if (h1_eq(h->name, h->name_len, "connection")) {
			/* RFC 9110 section 7.6.1: a list, maybe in several
			 * fields. */
			if (h1_list_has(h->value, h->value_len, "close"))
				msg->flags |= H1F_CONN_CLOSE;
			if (h1_list_has(h->value, h->value_len, "keep-alive"))
				msg->flags |= H1F_CONN_KEEPALIVE;
		} else if (kind == H1_REQUEST &&
		    h1_eq(h->name, h->name_len, "proxy-connection")) {
			if (h1_list_has(h->value, h->value_len, "keep-alive"))
				msg->flags |= H1F_PROXY_KEEPALIVE;
		} else if (kind == H1_REQUEST &&
		    h1_eq(h->name, h->name_len, "host")) {
			nhost++;
			msg->host = h->value;
			msg->host_len = h->value_len;
		} else if (kind == H1_REQUEST &&
		    h1_eq(h->name, h->name_len, "expect")) {
			/* RFC 9110 section 10.1.1: ignored in HTTP/1.0. */
			if (msg->version_minor >= 1 &&
			    h1_list_has(h->value, h->value_len,
			    "100-continue"))
				msg->flags |= H1F_EXPECT_CONTINUE;
		} else if (h1_eq(h->name, h->name_len, "upgrade")) {
			/* RFC 9110 section 7.8: ignored in HTTP/1.0. */
			if (msg->version_minor >= 1)
				msg->flags |= H1F_UPGRADE;
		}
	}

	if (kind == H1_REQUEST) {
		int port, has_port;
		const char *hh;
		size_t hl;

		/* RFC 9112 section 3.2: 400 for more than one Host, for an
		 * invalid one, and for none in HTTP/1.1.  CONNECT carries
		 * its authority in the target, and some clients leave Host
		 * out, so it is let through there. */
		if (nhost > 1)
			return (h1_fail(msg, kind, 400, "duplicate Host"));
		if (nhost == 1) {
			/* An empty Host is valid when the target has no
			 * authority (RFC 9112 section 3.2). */
			if (msg->host_len > 0 && h1_split_hostport(msg->host,
			    msg->host_len, &hh, &hl, &port, &has_port,
			    &why) == -1)
				return (h1_fail(msg, kind, 400,
				    "invalid Host"));
			msg->flags |= H1F_HAS_HOST;
		} else if (msg->version_minor >= 1 && !(msg->method_len == 7 &&
		    memcmp(msg->method, "CONNECT", 7) == 0))
			return (h1_fail(msg, kind, 400, "missing Host"));
	}
	return (h1_framing(kind, req_method, msg, &te, cl_seen));
}

/*
 * Parse a request or response head; see h1.h for the contract.  The scan
 * loop below is the only part that runs on every call, and it resumes
 * where the previous call stopped.
 */
int
h1_parse_head(struct h1_parser *p, enum h1_kind kind, const char *req_method,
    const char *buf, size_t len, const struct h1_limits *lim,
    struct h1_msg *msg)
{
	size_t		 i, next, max_head, max_line, max_hdrs;
	struct h1_hdr	*hdrs = msg->hdrs;
	size_t		 cap = msg->hdrs_cap;
	unsigned char	 c;

	if (lim != NULL) {
		max_head = lim->max_head_bytes;
		max_line = lim->max_line_bytes;
		max_hdrs = lim->max_headers;
	} else {
		max_head = H1_DEF_HEAD_BYTES;
		max_line = H1_DEF_LINE_BYTES;
		max_hdrs = H1_DEF_HEADERS;
	}
	/* The length is returned as an int. */
	if (max_head > INT_MAX)
		max_head = INT_MAX;
	if (hdrs == NULL)
		cap = 0;
	if (max_hdrs > cap)
		max_hdrs = cap;

	memset(msg, 0, sizeof(*msg));
	msg->hdrs = hdrs;
	msg->hdrs_cap = cap;

	/* A buffer that shrank is not the one we were scanning: start over. */
	if (p->scanned > len || p->line_start > p->scanned)
		memset(p, 0, sizeof(*p));

	for (i = p->scanned; i < len; ) {
		if (i >= max_head)
			return (h1_fail(msg, kind, 431, "head too large"));
		c = buf[i];
		if (c == '\r' || c == '\n') {
			if (c == '\r') {
				/* Need the next byte to tell CRLF from a
				 * bare CR. */
				if (i + 1 == len)
					break;
				/* RFC 9112 section 2.2: a bare CR is either
				 * rejected or made SP; only rejection keeps
				 * us in step with every other parser. */
				if (buf[i + 1] != '\n')
					return (h1_fail(msg, kind, 400,
					    "bare CR"));
				next = i + 2;
				if (next > max_head)
					return (h1_fail(msg, kind, 431,
					    "head too large"));
			} else {
				/* RFC 9112 section 2.2: a recipient MAY take
				 * a bare LF as a line terminator. */
				next = i + 1;
			}
			if (i == p->line_start) {
				if (p->nlines > 0) {
					p->scanned = next;
					if (h1_parse_lines(kind, req_method,
					    buf, next, msg) == -1)
						return (-1);
					return ((int)next);
				}
				/* An empty line before the start line:
				 * skipped for requests (section 2.2); no
				 * such leniency is owed to a server. */
				if (kind == H1_RESPONSE)
					return (h1_fail(msg, kind, 502,
					    "empty line before status line"));
			} else
				p->nlines++;
			p->line_start = next;
			i = next;
			continue;
		}
		/* RFC 9110 section 5.5: CTLs other than HTAB are invalid
		 * anywhere in a head; NUL is the dangerous one. */
		if (h1_is_ctl(c) && c != '\t')
			return (h1_fail(msg, kind, 400, c == '\0' ?
			    "NUL in head" : "control character in head"));
		if (i == p->line_start && p->nlines > 0) {
			/* RFC 9112 sections 2.2 and 5.2: whitespace after
			 * the start line, and obs-fold, must be rejected
			 * (or, for responses, may be; we do). */
			if (h1_is_ows(c))
				return (h1_fail(msg, kind, 400, p->nlines == 1 ?
				    "whitespace before first header" :
				    "obs-fold"));
			if (p->nlines - 1 >= max_hdrs)
				return (h1_fail(msg, kind, 431,
				    "too many header fields"));
		}
		if (i - p->line_start >= max_line) {
			if (p->nlines == 0)
				return (h1_fail(msg, kind, 414,
				    "request line too long"));
			return (h1_fail(msg, kind, 431,
			    "header line too long"));
		}
		i++;
	}
	p->scanned = i;
	return (0);
}

/*
 * Return the first field named name (case-insensitive), or NULL.
 */
const struct h1_hdr *
h1_find_hdr(const struct h1_msg *msg, const char *name)
{
	size_t	 i;

	for (i = 0; i < msg->nhdrs; i++)
		if (h1_eq(msg->hdrs[i].name, msg->hdrs[i].name_len, name))
			return (&msg->hdrs[i]);
	return (NULL);
}

/*
 * Does the list value (RFC 9110 section 5.6.1: elements separated by
 * commas with OWS around them) hold an element equal to token, ignoring
 * case?  Elements with parameters (";...") do not match.
 */
int
h1_list_has(const char *value, size_t value_len, const char *token)
{
	size_t	 i = 0, s, e;

	while (i < value_len) {
		while (i < value_len && (value[i] == ',' ||
		    h1_is_ows(value[i])))
			i++;
		s = i;
		while (i < value_len && value[i] != ',')
			i++;
		e = i;
		while (e > s && h1_is_ows(value[e - 1]))
			e--;
		if (e > s && h1_eq(value + s, e - s, token))
			return (1);
	}
	return (0);
}

/*
 * Split a request target; see h1.h.  The path and query of origin- and
 * absolute-form are checked only for what cannot be forwarded safely:
 * controls, whitespace, non-ASCII and '#' (a fragment is never sent,
 * RFC 9110 section 4.2.5, and parsers disagree about it).  Browsers send
 * '|', '^', '{', '}', '[', ']' and a stray '%' unescaped (the WHATWG URL
 * standard), so RFC 3986's stricter set would break real sites.
 */
int
h1_parse_target(const char *method, size_t method_len, const char *target,
    size_t target_len, struct h1_target *out, const char **why)
{
	const char	*auth, *end = target + target_len, *pe;
	size_t		 i, slen;
	int		 port, has_port;

	memset(out, 0, sizeof(*out));
	if (target_len == 0) {
		*why = "empty request target";
		return (-1);
	}
	for (i = 0; i < target_len; i++) {
		unsigned char c = target[i];

		if (c <= 0x20 || c >= 0x7f) {
			*why = "invalid character in request target";
			return (-1);
		}
		if (c == '#') {
			*why = "fragment in request target";
			return (-1);
		}
	}

	/* RFC 9112 section 3.2.3: CONNECT takes authority-form only, and
	 * the port is required (RFC 9110 section 9.3.6). */
	if (method_len == 7 && memcmp(method, "CONNECT", 7) == 0) {
		out->form = H1_TARGET_AUTHORITY;
		if (h1_split_hostport(target, target_len, &out->host,
		    &out->host_len, &out->port, &has_port, why) == -1)
			return (-1);
		if (!has_port) {
			*why = "CONNECT target without port";
			return (-1);
		}
		out->port_explicit = 1;
		return (0);
	}

	/* Section 3.2.4: asterisk-form is for OPTIONS alone. */
	if (target[0] == '*') {
		if (target_len != 1 || method_len != 7 ||
		    memcmp(method, "OPTIONS", 7) != 0) {
			*why = "asterisk-form only valid for OPTIONS";
			return (-1);
		}
		out->form = H1_TARGET_ASTERISK;
		return (0);
	}

	if (target[0] == '/') {
		out->form = H1_TARGET_ORIGIN;
		out->path = target;
		out->path_len = target_len;
		return (0);
	}

	/* Section 3.2.2, absolute-form: scheme "://" authority path-abempty
	 * [ "?" query ].  Scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ),
	 * case-insensitive (RFC 3986 section 3.1). */
	for (slen = 0; slen < target_len; slen++) {
		unsigned char c = target[slen];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (slen > 0 && (h1_is_digit(c) || c == '+' || c == '-' ||
		    c == '.')))
			continue;
		break;
	}
	if (slen == 0 || target_len - slen < 3 ||
	    memcmp(target + slen, "://", 3) != 0) {
		*why = "invalid request target";
		return (-1);
	}
	out->form = H1_TARGET_ABSOLUTE;
	out->scheme = target;
	out->scheme_len = slen;
	if (h1_eq(target, slen, "http"))
		out->port = 80;
	else if (h1_eq(target, slen, "https"))
		out->port = 443;
	else {
		*why = "unsupported URI scheme";
		return (-1);
	}
	auth = target + slen + 3;
	for (pe = auth; pe < end && *pe != '/' && *pe != '?'; pe++)
		;
	if (h1_split_hostport(auth, pe - auth, &out->host, &out->host_len,
	    &port, &has_port, why) == -1)
		return (-1);
	if (has_port) {
		out->port = port;
		out->port_explicit = 1;
	}
	if (pe == end) {
		/* RFC 9112 section 3.2.1: an empty path is sent as "/". */
		out->path = h1_slash;
		out->path_len = 1;
	} else if (*pe == '?') {
		/*
		 * "http://host?q" would have to become "/?q", which is not
		 * a substring of the target; clients normalise to
		 * "http://host/?q", so this is refused, not rewritten.
		 */
		*why = "query without path in request target";
		return (-1);
	} else {
		out->path = pe;
		out->path_len = end - pe;
	}
	return (0);
}

/*
 * Compare a Host value with the host and port of a target; see h1.h.  An
 * invalid Host value never matches.
 */
int
h1_host_matches(const char *hostval, size_t hostval_len, const char *host,
    size_t host_len, int port, int default_port)
{
	const char	*h, *why;
	size_t		 hl;
	int		 p, has_port;

	if (h1_split_hostport(hostval, hostval_len, &h, &hl, &p, &has_port,
	    &why) == -1)
		return (0);
	if (!has_port)
		p = default_port;
	if (hl != host_len || strncasecmp(h, host, hl) != 0)
		return (0);
	return (p == port);
}
