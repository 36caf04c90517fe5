/*
 * Unit tests for the HTTP/1.1 head parser (proxy/h1_parse.c): a golden
 * table of heads with the expected outcome, each also fed byte by byte
 * and in odd-sized pieces; limits hit with no CRLF in sight; request
 * target forms; Host matching.  The smuggling cases follow the spirit of
 * HAProxy's reg-tests http_transfer_encoding.vtc and
 * h1_request_target_validation.vtc.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"
#include "unit.h"

#define NHDRS	32

enum want { OK, ERR };

struct hcase {
	const char	*name;
	enum h1_kind	 kind;
	const char	*req_method;	/* for responses */
	const char	*in;
	enum want	 want;
	int		 status;	/* err_status for ERR */
	enum h1_body	 body;		/* for OK */
	uint64_t	 cl;
	unsigned	 flags;		/* exact flags for OK */
	size_t		 headlen;	/* 0: the whole input */
};

#define RQ	H1_REQUEST
#define RS	H1_RESPONSE
#define NONE	H1_BODY_NONE
#define LEN	H1_BODY_LENGTH
#define CHK	H1_BODY_CHUNKED
#define CLOSE	H1_BODY_CLOSE
#define HOST	H1F_HAS_HOST

static const struct hcase cases[] = {
	/* Valid requests. */
	{ "GET absolute-form", RQ, NULL,
	  "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  OK, 0, NONE, 0, HOST, 0 },
	{ "GET origin-form", RQ, NULL,
	  "GET /index.html?a=b HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
	  OK, 0, NONE, 0, HOST, 0 },
	{ "CONNECT", RQ, NULL,
	  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	  OK, 0, NONE, 0, HOST, 0 },
	{ "CONNECT without Host", RQ, NULL,
	  "CONNECT example.com:443 HTTP/1.1\r\nUser-Agent: x\r\n\r\n",
	  OK, 0, NONE, 0, 0, 0 },
	{ "CONNECT with Content-Length: 0", RQ, NULL,
	  "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 0\r\n\r\n",
	  OK, 0, NONE, 0, HOST, 0 },
	{ "POST with Content-Length", RQ, NULL,
	  "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	  OK, 0, LEN, 5, HOST, 48 },
	{ "POST chunked", RQ, NULL,
	  "POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	  OK, 0, CHK, 0, HOST, 0 },
	{ "chunked case-insensitive, empty list elements", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , Chunked ,\r\n\r\n",
	  OK, 0, CHK, 0, HOST, 0 },
	{ "TE: trailers does not matter", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	  "TE: trailers, gzip\r\n\r\n",
	  OK, 0, CHK, 0, HOST, 0 },
	{ "HTTP/1.0 without Host", RQ, NULL,
	  "GET / HTTP/1.0\r\n\r\n", OK, 0, NONE, 0, 0, 0 },
	{ "HTTP/1.0 with Content-Length", RQ, NULL,
	  "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", OK, 0, LEN, 3, 0, 0 },
	{ "leading CRLFs", RQ, NULL,
	  "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", OK, 0, NONE, 0, HOST, 0 },
	{ "leading bare LF", RQ, NULL,
	  "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", OK, 0, NONE, 0, HOST, 0 },
	{ "LF-only lines", RQ, NULL,
	  "GET / HTTP/1.1\nHost: a\nContent-Length: 2\n\nxx",
	  OK, 0, LEN, 2, HOST, 42 },
	{ "mixed CRLF and LF", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\n\r\n", OK, 0, NONE, 0, HOST, 0 },
	{ "Connection: close", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	  OK, 0, NONE, 0, HOST | H1F_CONN_CLOSE, 0 },
	{ "Connection tokens over two fields", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Keep-Alive\r\n"
	  "connection: bar,CLOSE\r\n\r\n",
	  OK, 0, NONE, 0, HOST | H1F_CONN_CLOSE | H1F_CONN_KEEPALIVE, 0 },
	{ "Connection: closed is not close", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n",
	  OK, 0, NONE, 0, HOST, 0 },
	{ "Proxy-Connection: keep-alive", RQ, NULL,
	  "GET http://a/ HTTP/1.0\r\nProxy-Connection: Keep-Alive\r\n\r\n",
	  OK, 0, NONE, 0, H1F_PROXY_KEEPALIVE, 0 },
	{ "Expect: 100-continue", RQ, NULL,
	  "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	  "Content-Length: 1\r\n\r\n",
	  OK, 0, LEN, 1, HOST | H1F_EXPECT_CONTINUE, 0 },
	{ "Expect ignored in HTTP/1.0", RQ, NULL,
	  "PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
	  OK, 0, NONE, 0, 0, 0 },
	{ "Upgrade", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
	  "Connection: Upgrade\r\n\r\n",
	  OK, 0, NONE, 0, HOST | H1F_UPGRADE, 0 },
	{ "identical duplicate Content-Length", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n"
	  "Content-Length: 7\r\n\r\n", OK, 0, LEN, 7, HOST, 0 },
	{ "Content-Length list of identical values", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7 , 07\r\n\r\n",
	  OK, 0, LEN, 7, HOST, 0 },
	{ "Content-Length: 0", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	  OK, 0, LEN, 0, HOST, 0 },
	{ "Content-Length: INT64_MAX", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\n"
	  "Content-Length: 9223372036854775807\r\n\r\n",
	  OK, 0, LEN, INT64_MAX, HOST, 0 },
	{ "empty Host", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost:\r\n\r\n", OK, 0, NONE, 0, HOST, 0 },
	{ "IPv6 Host", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", OK, 0, NONE, 0, HOST, 0 },
	{ "obs-text and HTAB in a value", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nX-Y: \xc3\xa9t\xc3\xa9\tx\r\n\r\n",
	  OK, 0, NONE, 0, HOST, 0 },
	{ "OPTIONS *", RQ, NULL,
	  "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", OK, 0, NONE, 0, HOST, 0 },

	/* Request line rejections. */
	{ "bare CR in request line", RQ, NULL,
	  "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "bare CR in a field", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "bare CR before the final LF", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "NUL in a value", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", ERR, 400, NONE, 0, 0, 35 },
	{ "control character in a value", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "DEL in a value", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fz\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "double SP in request line", RQ, NULL,
	  "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "SP before version doubled", RQ, NULL,
	  "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "HTAB as separator", RQ, NULL,
	  "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "leading SP before method", RQ, NULL,
	  " GET / HTTP/1.1\r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "trailing SP after version", RQ, NULL,
	  "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "space inside target", RQ, NULL,
	  "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "non-ASCII target", RQ, NULL,
	  "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "lower-case version", RQ, NULL,
	  "GET / http/1.1\r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "HTTP/2.0", RQ, NULL,
	  "GET / HTTP/2.0\r\nHost: a\r\n\r\n", ERR, 505, NONE, 0, 0, 0 },
	{ "HTTP/1.2", RQ, NULL,
	  "GET / HTTP/1.2\r\nHost: a\r\n\r\n", ERR, 505, NONE, 0, 0, 0 },
	{ "HTTP/1.10", RQ, NULL,
	  "GET / HTTP/1.10\r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "HTTP/0.9 request", RQ, NULL, "GET /\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "invalid method", RQ, NULL,
	  "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },

	/* Field rejections. */
	{ "space before colon", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost : a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "HTAB before colon", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 3\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "space inside a name", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "obs-fold", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "obs-fold with HTAB", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tz\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "whitespace before the first field", RQ, NULL,
	  "GET / HTTP/1.1\r\n Host: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "field without colon", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "empty field name", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "duplicate Host", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "missing Host in HTTP/1.1", RQ, NULL,
	  "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "Host with userinfo", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "Host with bad port", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "Host with a list", RQ, NULL,
	  "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },

	/* Framing rejections (http_transfer_encoding.vtc). */
	{ "TE and CL (smuggling)", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Length: 31\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
	  ERR, 400, NONE, 0, 0, 0 },
	{ "CL then TE", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "TE in HTTP/1.0", RQ, NULL,
	  "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  ERR, 400, NONE, 0, 0, 0 },
	{ "chunked, chunked", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked"
	  "\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "chunked twice over two fields", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "chunked, gzip, chunked", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\n"
	  "Transfer-Encoding: chunked, gzip, chunked\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "chunked, gzip", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip"
	  "\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "chunked then gzip in a second field", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: gzip\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "gzip alone", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	  ERR, 400, NONE, 0, 0, 0 },
	{ "gzip, chunked (unsupported)", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked"
	  "\r\n\r\n", ERR, 501, NONE, 0, 0, 0 },
	{ "gzip then chunked over two fields", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", ERR, 501, NONE, 0, 0, 0 },
	{ "chunked with a parameter", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1"
	  "\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "xchunked", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
	  ERR, 400, NONE, 0, 0, 0 },
	{ "empty Transfer-Encoding", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "Transfer-Encoding with junk", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
	  ERR, 400, NONE, 0, 0, 0 },
	{ "differing Content-Length fields", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "differing Content-Length list", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
	  ERR, 400, NONE, 0, 0, 0 },
	{ "negative Content-Length", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "signed Content-Length", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "hex Content-Length", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
	  ERR, 400, NONE, 0, 0, 0 },
	{ "Content-Length with junk", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "Content-Length with inner space", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n",
	  ERR, 400, NONE, 0, 0, 0 },
	{ "empty Content-Length", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "Content-Length trailing comma", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "Content-Length 2^63", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\n"
	  "Content-Length: 9223372036854775808\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "Content-Length 2^64+", RQ, NULL,
	  "POST / HTTP/1.1\r\nHost: a\r\n"
	  "Content-Length: 99999999999999999999999\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },
	{ "CONNECT with a body", RQ, NULL,
	  "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 5\r\n\r\n",
	  ERR, 400, NONE, 0, 0, 0 },
	{ "CONNECT chunked", RQ, NULL,
	  "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", ERR, 400, NONE, 0, 0, 0 },

	/* Responses. */
	{ "200 with Content-Length", RS, "GET",
	  "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", OK, 0, LEN, 10, 0, 0 },
	{ "200 chunked", RS, "GET",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  OK, 0, CHK, 0, 0, 47 },
	{ "200 close-delimited", RS, "GET",
	  "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", OK, 0, CLOSE, 0, 0, 0 },
	{ "200 without reason", RS, "GET",
	  "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", OK, 0, LEN, 0, 0, 0 },
	{ "200 with empty reason", RS, NULL,
	  "HTTP/1.0 200 \r\nContent-Length: 0\r\n\r\n", OK, 0, LEN, 0, 0, 0 },
	{ "204 ignores Content-Length", RS, "GET",
	  "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
	  OK, 0, NONE, 0, 0, 0 },
	{ "304 ignores Content-Length", RS, "GET",
	  "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
	  OK, 0, NONE, 0, 0, 0 },
	{ "100 Continue", RS, "POST",
	  "HTTP/1.1 100 Continue\r\n\r\n", OK, 0, NONE, 0, 0, 0 },
	{ "101 Switching Protocols", RS, "GET",
	  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	  "Connection: upgrade\r\n\r\n", OK, 0, NONE, 0, H1F_UPGRADE, 0 },
	{ "response to HEAD", RS, "HEAD",
	  "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", OK, 0, NONE, 0, 0, 0 },
	{ "chunked response to HEAD", RS, "HEAD",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  OK, 0, NONE, 0, 0, 0 },
	{ "2xx to CONNECT", RS, "CONNECT",
	  "HTTP/1.1 200 Connection established\r\n\r\n", OK, 0, NONE, 0, 0, 0 },
	{ "407 to CONNECT has a body", RS, "CONNECT",
	  "HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", OK, 0, LEN, 3, 0, 0 },
	{ "Connection: close in a response", RS, "GET",
	  "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
	  OK, 0, CLOSE, 0, H1F_CONN_CLOSE, 0 },
	{ "response TE gzip is close-delimited", RS, "GET",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	  OK, 0, CLOSE, 0, 0, 0 },
	{ "response TE chunked, gzip is close-delimited", RS, "GET",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	  OK, 0, CLOSE, 0, 0, 0 },
	{ "response TE gzip, chunked", RS, "GET",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	  OK, 0, CHK, 0, 0, 0 },
	{ "HTTP/1.0 response with TE: never reused", RS, "GET",
	  "HTTP/1.0 200 Ok\r\nTransfer-Encoding: chunked\r\n\r\n",
	  OK, 0, CHK, 0, H1F_CONN_CLOSE, 0 },
	{ "response chunked, chunked", RS, "GET",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
	  ERR, 502, NONE, 0, 0, 0 },
	{ "response chunked, gzip, chunked", RS, "GET",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n",
	  ERR, 502, NONE, 0, 0, 0 },
	{ "response splitting via TE and CL", RS, "GET",
	  "HTTP/1.1 200 Ok\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Length: 30\r\n\r\n0\r\n\r\nResponse splitting attach",
	  ERR, 502, NONE, 0, 0, 0 },
	{ "response differing Content-Length", RS, "GET",
	  "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	  ERR, 502, NONE, 0, 0, 0 },
	{ "response obs-fold", RS, "GET",
	  "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", ERR, 502, NONE, 0, 0, 0 },
	{ "response space before colon", RS, "GET",
	  "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n", ERR, 502, NONE, 0, 0, 0 },
	{ "response bare CR", RS, "GET",
	  "HTTP/1.1 200 OK\rX: y\r\n\r\n", ERR, 502, NONE, 0, 0, 0 },
	{ "two-digit status", RS, "GET",
	  "HTTP/1.1 20 OK\r\n\r\n", ERR, 502, NONE, 0, 0, 0 },
	{ "four-digit status", RS, "GET",
	  "HTTP/1.1 2000 OK\r\n\r\n", ERR, 502, NONE, 0, 0, 0 },
	{ "status below 100", RS, "GET",
	  "HTTP/1.1 099 Odd\r\n\r\n", ERR, 502, NONE, 0, 0, 0 },
	{ "HTTP/2 status line", RS, "GET",
	  "HTTP/2 200 OK\r\n\r\n", ERR, 502, NONE, 0, 0, 0 },
	{ "ICY status line", RS, "GET",
	  "ICY 200 OK\r\n\r\n", ERR, 502, NONE, 0, 0, 0 },
	{ "double SP in status line", RS, "GET",
	  "HTTP/1.1  200 OK\r\n\r\n", ERR, 502, NONE, 0, 0, 0 },
	{ "empty line before status line", RS, "GET",
	  "\r\nHTTP/1.1 200 OK\r\n\r\n", ERR, 502, NONE, 0, 0, 0 },
};

static const struct h1_limits lim = { 4096, 1024, 20 };

/* Parse in one call, with a buffer of exactly len bytes. */
static int
parse_once(const struct hcase *c, size_t len, struct h1_msg *msg,
    struct h1_hdr *hdrs, char **bufp)
{
	struct h1_parser p;
	char *b = malloc(len ? len : 1);

	memcpy(b, c->in, len);
	memset(&p, 0, sizeof(p));
	memset(msg, 0, sizeof(*msg));
	msg->hdrs = hdrs;
	msg->hdrs_cap = NHDRS;
	*bufp = b;
	return (h1_parse_head(&p, c->kind, c->req_method, b, len, &lim, msg));
}

/*
 * Feed prefixes of the input, growing by step (each time in a fresh
 * buffer of exactly that size, so ASan sees any read past len), and
 * return the first non-zero result.
 */
static int
parse_growing(const struct hcase *c, size_t len, size_t step,
    struct h1_msg *msg, struct h1_hdr *hdrs, size_t *at)
{
	struct h1_parser p;
	size_t n = 0;
	int rv = 0;

	memset(&p, 0, sizeof(p));
	memset(msg, 0, sizeof(*msg));
	msg->hdrs = hdrs;
	msg->hdrs_cap = NHDRS;
	while (n < len) {
		char *b;

		n = n + step > len ? len : n + step;
		b = malloc(n);
		memcpy(b, c->in, n);
		rv = h1_parse_head(&p, c->kind, c->req_method, b, n, &lim, msg);
		free(b);
		if (rv != 0)
			break;
	}
	*at = n;
	return (rv);
}

static void
test_table(void)
{
	struct h1_hdr hdrs[NHDRS];
	struct h1_msg msg;
	size_t i, n, headlen, step, at;
	char *b;
	int rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hcase *c = &cases[i];

		/* Inputs with a NUL give their length in headlen. */
		n = c->want == ERR && c->headlen ? c->headlen : strlen(c->in);
		headlen = c->want == OK && c->headlen ? c->headlen : n;
		rv = parse_once(c, n, &msg, hdrs, &b);
		if (c->want == OK) {
			CHECK(rv == (int)headlen, "%s: got %d (%d %s), want %zu",
			    c->name, rv, msg.err_status,
			    msg.err_reason ? msg.err_reason : "", headlen);
			if (rv > 0) {
				CHECK(msg.body == c->body, "%s: body %d want %d",
				    c->name, msg.body, c->body);
				CHECK(msg.body != LEN ||
				    msg.content_length == c->cl,
				    "%s: content_length %llu", c->name,
				    (unsigned long long)msg.content_length);
				CHECK(msg.flags == c->flags,
				    "%s: flags %#x want %#x", c->name,
				    msg.flags, c->flags);
			}
		} else {
			CHECK(rv == -1 && msg.err_status == c->status,
			    "%s: got %d status %d, want -1 status %d", c->name,
			    rv, msg.err_status, c->status);
			CHECK(rv != -1 || msg.err_reason != NULL,
			    "%s: no reason", c->name);
		}
		free(b);

		/* Every prefix shorter than the head must say "more". */
		if (c->want == OK) {
			for (at = 0; at < headlen; at++) {
				rv = parse_once(c, at, &msg, hdrs, &b);
				free(b);
				if (rv != 0)
					break;
			}
			CHECK(at == headlen, "%s: prefix %zu gave %d",
			    c->name, at, rv);
		}

		/* Incremental feeding must agree with the one-shot parse. */
		for (step = 1; step <= 7; step += 3) {
			rv = parse_growing(c, n, step, &msg, hdrs, &at);
			if (c->want == OK)
				CHECK(rv == (int)headlen && msg.body == c->body &&
				    msg.flags == c->flags,
				    "%s: step %zu: got %d", c->name, step, rv);
			else
				CHECK(rv == -1 && msg.err_status == c->status,
				    "%s: step %zu: got %d status %d", c->name,
				    step, rv, msg.err_status);
		}
	}
}

/* Fields, values and the start line are split where they should be. */
static void
test_fields(void)
{
	const char *in = "\r\nPOST http://x.test/a?b HTTP/1.1\r\n"
	    "Host:   x.test  \r\nX-Empty:\r\nX-Tab:\t v1 \t\r\n"
	    "content-length:3\r\n\r\nabc";
	struct h1_hdr hdrs[NHDRS];
	struct h1_msg msg;
	struct h1_parser p;
	const struct h1_hdr *h;
	int rv;

	memset(&p, 0, sizeof(p));
	memset(&msg, 0, sizeof(msg));
	msg.hdrs = hdrs;
	msg.hdrs_cap = NHDRS;
	rv = h1_parse_head(&p, H1_REQUEST, NULL, in, strlen(in), &lim, &msg);
	CHECK(rv == (int)strlen(in) - 3, "fields: rv %d", rv);
	CHECK(msg.method_len == 4 && memcmp(msg.method, "POST", 4) == 0,
	    "method");
	CHECK(msg.target_len == 17 &&
	    memcmp(msg.target, "http://x.test/a?b", 17) == 0, "target");
	CHECK(msg.version_minor == 1, "minor");
	CHECK(msg.nhdrs == 4, "nhdrs %zu", msg.nhdrs);
	CHECK(msg.host_len == 6 && memcmp(msg.host, "x.test", 6) == 0,
	    "host trimmed");
	h = h1_find_hdr(&msg, "x-empty");
	CHECK(h != NULL && h->value_len == 0, "empty value");
	h = h1_find_hdr(&msg, "X-TAB");
	CHECK(h != NULL && h->value_len == 2 && memcmp(h->value, "v1", 2) == 0,
	    "OWS trimmed");
	h = h1_find_hdr(&msg, "Content-Length");
	CHECK(h != NULL && h->name_len == 14 && h->value_len == 1, "cl field");
	CHECK(h1_find_hdr(&msg, "Content") == NULL, "prefix is not a match");
	CHECK(msg.body == H1_BODY_LENGTH && msg.content_length == 3, "cl");

	in = "HTTP/1.1 404 Not Found Here\r\nA: b\r\n\r\n";
	memset(&p, 0, sizeof(p));
	rv = h1_parse_head(&p, H1_RESPONSE, "GET", in, strlen(in), &lim, &msg);
	CHECK(rv == (int)strlen(in), "response rv %d", rv);
	CHECK(msg.status == 404 && msg.reason_len == 14 &&
	    memcmp(msg.reason, "Not Found Here", 14) == 0, "reason");
	CHECK(msg.nhdrs == 1 && msg.body == H1_BODY_CLOSE, "response fields");
}

/* Check one feed of a growing buffer against an expected outcome. */
static int
feed(struct h1_parser *p, enum h1_kind kind, const char *buf, size_t len,
    const struct h1_limits *l, struct h1_msg *msg)
{
	char *b = malloc(len ? len : 1);
	int rv;

	memcpy(b, buf, len);
	rv = h1_parse_head(p, kind, NULL, b, len, l, msg);
	free(b);
	return (rv);
}

/* Limits hold as the bytes arrive, before any CRLF. */
static void
test_limits(void)
{
	static char big[20000];
	static struct h1_hdr hdrs[1000];
	struct h1_limits l = { 1000, 100, 5 };
	struct h1_msg msg;
	struct h1_parser p;
	size_t n;
	int rv;

	memset(&msg, 0, sizeof(msg));
	msg.hdrs = hdrs;
	msg.hdrs_cap = 1000;

	/* A request line that never ends. */
	memset(&p, 0, sizeof(p));
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', sizeof(big) - 5);
	for (n = 1, rv = 0; n <= 200 && rv == 0; n++)
		rv = feed(&p, H1_REQUEST, big, n, &l, &msg);
	CHECK(rv == -1 && msg.err_status == 414 && n - 1 == 101,
	    "long request line: rv %d status %d at %zu", rv, msg.err_status,
	    n - 1);

	/* The same in one large read. */
	memset(&p, 0, sizeof(p));
	rv = feed(&p, H1_REQUEST, big, sizeof(big), &l, &msg);
	CHECK(rv == -1 && msg.err_status == 414, "long line at once");

	/* A request line of exactly max_line bytes is fine. */
	memset(&p, 0, sizeof(p));
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', 100 - 14);
	memcpy(big + 100 - 9, " HTTP/1.0\r\n\r\n", 13);
	rv = feed(&p, H1_REQUEST, big, 104, &l, &msg);
	CHECK(rv == 104, "line at the limit: %d (%d %s)", rv, msg.err_status,
	    msg.err_reason);
	memset(&p, 0, sizeof(p));
	memmove(big + 6, big + 5, 110);
	rv = feed(&p, H1_REQUEST, big, 105, &l, &msg);
	CHECK(rv == -1 && msg.err_status == 414, "line over the limit");

	/* A header line that never ends. */
	memset(&p, 0, sizeof(p));
	n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'b', 200);
	rv = feed(&p, H1_REQUEST, big, n + 50, &l, &msg);
	CHECK(rv == 0, "header line so far: %d", rv);
	CHECK(p.scanned == n + 50, "scanned %zu", p.scanned);
	rv = feed(&p, H1_REQUEST, big, n + 200, &l, &msg);
	CHECK(rv == -1 && msg.err_status == 431, "long header line: %d %d",
	    rv, msg.err_status);

	/* Too many fields, noticed at the first byte of the sixth. */
	memset(&p, 0, sizeof(p));
	n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n"
	    "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n");
	rv = feed(&p, H1_REQUEST, big, n, &l, &msg);
	CHECK(rv == 0, "five fields so far");
	memset(&p, 0, sizeof(p));
	memcpy(big + n, "\r\n", 2);
	rv = feed(&p, H1_REQUEST, big, n + 2, &l, &msg);
	CHECK(rv == (int)n + 2 && msg.nhdrs == 5, "five fields: %d", rv);
	memset(&p, 0, sizeof(p));
	memcpy(big + n, "E", 1);
	rv = feed(&p, H1_REQUEST, big, n, &l, &msg);
	CHECK(rv == 0, "five fields, resumed");
	rv = feed(&p, H1_REQUEST, big, n + 1, &l, &msg);
	CHECK(rv == -1 && msg.err_status == 431, "sixth field: %d %d", rv,
	    msg.err_status);

	/* hdrs_cap below max_headers also bounds the count. */
	memset(&p, 0, sizeof(p));
	msg.hdrs_cap = 2;
	memcpy(big + n, "\r\n", 2);
	rv = feed(&p, H1_REQUEST, big, n + 2, &l, &msg);
	CHECK(rv == -1 && msg.err_status == 431, "hdrs_cap");
	msg.hdrs_cap = 1000;

	/* The whole head, with many short lines and no end. */
	memset(&p, 0, sizeof(p));
	l.max_headers = 1000;
	n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
	while (n < sizeof(big) - 10)
		n += snprintf(big + n, sizeof(big) - n, "X: y\r\n");
	for (n = 1, rv = 0; n < sizeof(big) && rv == 0; n += 37)
		rv = feed(&p, H1_REQUEST, big, n, &l, &msg);
	CHECK(rv == -1 && msg.err_status == 431 && n - 37 <= 1037,
	    "head too large: %d %d at %zu", rv, msg.err_status, n);

	/* A head of exactly max_head_bytes passes; one byte more fails. */
	n = snprintf(big, sizeof(big), "GET / HTTP/1.0\r\n");
	while (n < 916)
		n += snprintf(big + n, sizeof(big) - n, "X: y\r\n");
	memcpy(big + n, "Y: ", 3);
	memset(big + n + 3, 'z', 77);
	memcpy(big + n + 80, "\r\n\r\n", 4);
	n += 84;
	memset(&p, 0, sizeof(p));
	rv = feed(&p, H1_REQUEST, big, n, &l, &msg);
	CHECK(n == 1000 && rv == 1000, "head at the limit: %zu %d %s", n, rv,
	    msg.err_reason);
	memmove(big + 1, big, n);
	big[0] = '\n';
	memset(&p, 0, sizeof(p));
	rv = feed(&p, H1_REQUEST, big, n + 1, &l, &msg);
	CHECK(rv == -1 && msg.err_status == 431, "head over the limit");

	/* Endless empty lines before the request line. */
	memset(&p, 0, sizeof(p));
	for (n = 0; n < 3000; n += 2)
		memcpy(big + n, "\r\n", 2);
	rv = feed(&p, H1_REQUEST, big, 3000, &l, &msg);
	CHECK(rv == -1 && msg.err_status == 431, "endless CRLF");

	/* A response over the limits is the server's fault. */
	memset(&p, 0, sizeof(p));
	memcpy(big, "HTTP/1.1 200 ", 13);
	memset(big + 13, 'x', 500);
	rv = feed(&p, H1_RESPONSE, big, 513, &l, &msg);
	CHECK(rv == -1 && msg.err_status == 502, "long status line");

	/* A CR at the end of the buffer waits for the next byte. */
	memset(&p, 0, sizeof(p));
	rv = feed(&p, H1_REQUEST, "GET / HTTP/1.1\r", 15, &l, &msg);
	CHECK(rv == 0 && p.scanned == 14, "CR at end: %d %zu", rv, p.scanned);
	rv = feed(&p, H1_REQUEST, "GET / HTTP/1.1\rX", 16, &l, &msg);
	CHECK(rv == -1 && msg.err_status == 400, "CR then X");

	/* No limits given: defaults apply. */
	memset(&p, 0, sizeof(p));
	rv = h1_parse_head(&p, H1_REQUEST, NULL, "GET / HTTP/1.0\r\n\r\n", 18,
	    NULL, &msg);
	CHECK(rv == 18, "NULL limits");
}

static void
test_list(void)
{
	CHECK(h1_list_has("close", 5, "close"), "single");
	CHECK(h1_list_has(" a , CLOSE ,b", 13, "close"), "middle");
	CHECK(h1_list_has(",,close,,", 9, "close"), "empty elements");
	CHECK(!h1_list_has("closed", 6, "close"), "longer");
	CHECK(!h1_list_has("clos", 4, "close"), "shorter");
	CHECK(!h1_list_has("", 0, "close"), "empty");
	CHECK(!h1_list_has("close;x", 7, "close"), "parameter");
	CHECK(h1_list_has("keep-alive, Upgrade", 19, "upgrade"), "last");
}

struct tcase {
	const char	*method;
	const char	*target;
	int		 ok;
	enum h1_target_form form;
	const char	*host;
	int		 port;
	int		 explicit;
	const char	*path;
};

#define TBAD(m, t)	{ m, t, 0, H1_TARGET_ORIGIN, NULL, 0, 0, NULL }

static const struct tcase tcases[] = {
	{ "GET", "/", 1, H1_TARGET_ORIGIN, NULL, 0, 0, "/" },
	{ "GET", "/a/b?c=d|e^{f}[g]%zz", 1, H1_TARGET_ORIGIN, NULL, 0, 0,
	  "/a/b?c=d|e^{f}[g]%zz" },
	{ "GET", "//double", 1, H1_TARGET_ORIGIN, NULL, 0, 0, "//double" },
	{ "GET", "http://example.com", 1, H1_TARGET_ABSOLUTE, "example.com",
	  80, 0, "/" },
	{ "GET", "http://example.com/", 1, H1_TARGET_ABSOLUTE, "example.com",
	  80, 0, "/" },
	{ "GET", "HTTP://Example.COM:8080/x?y", 1, H1_TARGET_ABSOLUTE,
	  "Example.COM", 8080, 1, "/x?y" },
	{ "POST", "https://example.com/p", 1, H1_TARGET_ABSOLUTE,
	  "example.com", 443, 0, "/p" },
	{ "GET", "https://example.com:443/", 1, H1_TARGET_ABSOLUTE,
	  "example.com", 443, 1, "/" },
	{ "GET", "http://[::1]:3128/", 1, H1_TARGET_ABSOLUTE, "::1", 3128, 1,
	  "/" },
	{ "GET", "http://[2001:db8::1]", 1, H1_TARGET_ABSOLUTE, "2001:db8::1",
	  80, 0, "/" },
	{ "GET", "http://192.0.2.1/", 1, H1_TARGET_ABSOLUTE, "192.0.2.1", 80,
	  0, "/" },
	{ "GET", "http://under_score.example./", 1, H1_TARGET_ABSOLUTE,
	  "under_score.example.", 80, 0, "/" },
	{ "OPTIONS", "*", 1, H1_TARGET_ASTERISK, NULL, 0, 0, NULL },
	{ "OPTIONS", "/", 1, H1_TARGET_ORIGIN, NULL, 0, 0, "/" },
	{ "OPTIONS", "http://haproxy.org", 1, H1_TARGET_ABSOLUTE,
	  "haproxy.org", 80, 0, "/" },
	{ "CONNECT", "example.com:443", 1, H1_TARGET_AUTHORITY, "example.com",
	  443, 1, NULL },
	{ "CONNECT", "haproxy.org:80", 1, H1_TARGET_AUTHORITY, "haproxy.org",
	  80, 1, NULL },
	{ "CONNECT", "[::1]:443", 1, H1_TARGET_AUTHORITY, "::1", 443, 1, NULL },
	{ "CONNECT", "a-b.c:65535", 1, H1_TARGET_AUTHORITY, "a-b.c", 65535, 1,
	  NULL },
	{ "CONNECT", "a:1", 1, H1_TARGET_AUTHORITY, "a", 1, 1, NULL },

	/* h1_request_target_validation.vtc */
	TBAD("OPTIONS", "*/test"),
	TBAD("GET", "*"),
	TBAD("CONNECT", "haproxy.org"),
	TBAD("CONNECT", "/"),
	TBAD("CONNECT", "http://haproxy.org:80"),
	TBAD("CONNECT", "*"),
	TBAD("GET", "haproxy.org:80"),
	TBAD("GET", "admin"),
	TBAD("GET", "admin/a/b"),
	/* h1_authority_fragment_char.vtc: '#' is refused outright. */
	TBAD("GET", "http://hostname#frag"),
	TBAD("GET", "http://hostname/abc#frag"),
	TBAD("GET", "/a#b"),
	/* Userinfo, hosts, ports, schemes. */
	TBAD("GET", "http://user:pw@example.com/"),
	TBAD("GET", "http://@example.com/"),
	TBAD("GET", "http://example.com@evil.test/"),
	TBAD("CONNECT", "user@example.com:443"),
	TBAD("GET", "http:///path"),
	TBAD("GET", "http://"),
	TBAD("GET", "http://:80/"),
	TBAD("GET", "http://example.com:/"),
	TBAD("GET", "http://example.com:0/"),
	TBAD("GET", "http://example.com:65536/"),
	TBAD("GET", "http://example.com:123456/"),
	TBAD("GET", "http://example.com:8a/"),
	TBAD("GET", "http://example.com:-1/"),
	TBAD("GET", "http://ex%41mple.com/"),
	TBAD("GET", "http://exa!mple.com/"),
	TBAD("GET", "http://[::1/"),
	TBAD("GET", "http://[zz::1]/"),
	TBAD("GET", "http://[::1]x/"),
	TBAD("GET", "http://[fe80::1%25eth0]/"),
	TBAD("GET", "http://[v1.abc]/"),
	TBAD("GET", "http://::1/"),
	TBAD("GET", "http://example.com?q=1"),
	TBAD("GET", "ftp://example.com/"),
	TBAD("GET", "1http://example.com/"),
	TBAD("GET", "http:/example.com/"),
	TBAD("GET", "http:example.com/"),
	TBAD("GET", ""),
	TBAD("GET", "/a b"),
	TBAD("GET", "/a\tb"),
	TBAD("GET", "/\xc3\xa9"),
	TBAD("GET", "/a\x7f"),
	TBAD("CONNECT", "example.com:0"),
	TBAD("CONNECT", "example.com:99999"),
	TBAD("CONNECT", "example.com:"),
	TBAD("CONNECT", "example.com:443/x"),
	TBAD("CONNECT", "[::1]"),
	TBAD("CONNECT", ":443"),
	TBAD("connect", "example.com:443"),
};

static void
test_targets(void)
{
	struct h1_target t;
	const char *why;
	size_t i;
	int rv;

	for (i = 0; i < sizeof(tcases) / sizeof(tcases[0]); i++) {
		const struct tcase *c = &tcases[i];

		why = NULL;
		rv = h1_parse_target(c->method, strlen(c->method), c->target,
		    strlen(c->target), &t, &why);
		if (!c->ok) {
			CHECK(rv == -1 && why != NULL, "%s %s: accepted",
			    c->method, c->target);
			continue;
		}
		CHECK(rv == 0, "%s %s: %s", c->method, c->target, why);
		if (rv != 0)
			continue;
		CHECK(t.form == c->form, "%s %s: form %d", c->method,
		    c->target, t.form);
		if (c->host != NULL)
			CHECK(t.host_len == strlen(c->host) &&
			    memcmp(t.host, c->host, t.host_len) == 0 &&
			    t.port == c->port &&
			    t.port_explicit == c->explicit,
			    "%s %s: host %.*s port %d", c->method, c->target,
			    (int)t.host_len, t.host, t.port);
		if (c->path != NULL)
			CHECK(t.path_len == strlen(c->path) &&
			    memcmp(t.path, c->path, t.path_len) == 0,
			    "%s %s: path %.*s", c->method, c->target,
			    (int)t.path_len, t.path);
		else
			CHECK(t.path == NULL, "%s %s: path", c->method,
			    c->target);
	}

	rv = h1_parse_target("GET", 3, "HTTPS://a.test", 14, &t, &why);
	CHECK(rv == 0 && t.scheme_len == 5 &&
	    memcmp(t.scheme, "HTTPS", 5) == 0 && t.port == 443, "scheme");
}

struct mcase {
	const char	*hostval;
	const char	*host;
	int		 port;
	int		 defport;
	int		 want;
};

static const struct mcase mcases[] = {
	{ "example.com", "example.com", 80, 80, 1 },
	{ "Example.COM", "example.com", 80, 80, 1 },
	{ "example.com:80", "example.com", 80, 80, 1 },
	{ "example.com:8080", "example.com", 8080, 80, 1 },
	{ "example.com:8080", "example.com", 80, 80, 0 },
	{ "example.com", "example.com", 8080, 80, 0 },
	{ "example.com", "example.com", 443, 443, 1 },
	{ "[::1]:443", "::1", 443, 80, 1 },
	{ "[::1]", "::1", 443, 443, 1 },
	{ "[::1]", "::2", 443, 443, 0 },
	{ "example.org", "example.com", 80, 80, 0 },
	{ "example", "example.com", 80, 80, 0 },
	{ "example.com.evil", "example.com", 80, 80, 0 },
	{ "u@example.com", "example.com", 80, 80, 0 },
	{ "example.com:", "example.com", 80, 80, 0 },
	{ "", "example.com", 80, 80, 0 },
};

static void
test_host_matches(void)
{
	size_t i;

	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		const struct mcase *c = &mcases[i];
		int rv = h1_host_matches(c->hostval, strlen(c->hostval),
		    c->host, strlen(c->host), c->port, c->defport);

		CHECK(rv == c->want, "match %s vs %s:%d: %d", c->hostval,
		    c->host, c->port, rv);
	}
}

int
main(void)
{
	test_table();
	test_fields();
	test_limits();
	test_list();
	test_targets();
	test_host_matches();
	return (unit_done("t_h1"));
}
