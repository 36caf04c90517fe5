/*
 * ntlm_load: NTLM sign-in load through an HTTP proxy, for tests/bench/ntlm.
 *
 * usage: ntlm_load -x HOST:PORT -u URL [-U USER -D DOMAIN -P PASSWORD]
 *            [-c CONNS] [-d SECONDS | -n COUNT] [-k] [-a] [-w NAME]
 *
 *   -x   the proxy (IPv4 address and port)
 *   -u   absolute http:// URL asked through it (Host: from the URL)
 *   -U -D -P   the account (NTLMv2; the password is used only to make
 *        the NT hash at start)
 *   -c   concurrent connections (default 1)
 *   -d   run for SECONDS (default 10), or -n: stop after COUNT results
 *   -k   keep-alive: sign in once per connection, then GET after GET on
 *        it; the clock starts when every connection has signed in, and
 *        one result is one GET.  Without -k one result is one handshake
 *        on a new connection: type 1 -> 407 with type 2 -> type 3 -> 200,
 *        then close; its latency is from connect() to the end of the 200.
 *   -a   no sign-in at all (plain GETs; with -k for the no-auth rows)
 *   -w   workstation name sent in type 3 (default BENCH)
 *
 * Prints one line on stdout:
 *   NTLMLOAD mode=hs|ka conns=N ok=N fail=N duration_us=N p50_us=N
 *     p99_us=N max_us=N connect=N closed=N timeout=N status=N noauth=N
 *     proto=N reconnects=N
 * and the first few failures, one per line, on stderr.  A result is "ok"
 * only for a final 200; every other ending is a failure: connect (refused
 * or reset), closed (the proxy closed before a whole response), timeout
 * (no whole response in 10 s), status (a final answer other than 200, e.g.
 * 407 for a refused sign-in), noauth (the 407 to type 1 held no NTLM
 * challenge), proto (a response or challenge that does not parse).
 * Exit status 0 when it ran (whatever the failures), 2 on a usage error.
 *
 * The NTLMSSP messages are the client side of MS-NLMP: NEGOTIATE (2.2.1.1,
 * UNICODE and OEM offered), the CHALLENGE decoded with the project's own
 * decoder (auth/ntlm_msg.c), and an AUTHENTICATE (2.2.1.3) with an NTLMv2
 * response (3.3.2): NTProofStr = HMAC-MD5(NTOWFv2, server challenge ||
 * blob), the blob echoing the server's target info and its timestamp.
 * The NT hash and NTOWFv2 come from auth/ntlm_crypto.c, so this client and
 * the proxy's verifier share their MD4 and HMAC code; the DC and Samba's
 * ntlm_auth check the same messages independently.  No MIC is sent (as
 * curl), so the server checks the NTProofStr only.
 */

#define _GNU_SOURCE		/* memmem, strcasestr */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "ntlm.h"

#define NL_BUFSZ	65536	/* one response head, or a body's slice */
#define NL_REQSZ	8192
#define NL_TIMEOUT_NS	(10LL * 1000000000LL)
#define NL_MAXEV	256
#define NL_MAXREPORT	5	/* failures described on stderr */
#define NL_NEG_FLAGS	(NTLM_NEG_UNICODE | NTLM_NEG_OEM | \
	NTLM_REQUEST_TARGET | NTLM_NEG_NTLM | NTLM_NEG_ALWAYS_SIGN | \
	NTLM_NEG_ESS | NTLM_NEG_128 | NTLM_NEG_56)

enum nl_leg {
	NL_TYPE1,		/* type 1 sent, a 407 with type 2 expected */
	NL_TYPE3,		/* type 3 sent, the 200 expected */
	NL_GET			/* signed in (or no sign-in): plain GETs */
};

enum nl_body {
	NL_B_HEAD,		/* reading the head */
	NL_B_LENGTH,		/* Content-Length bytes left */
	NL_B_CHUNK_SIZE,	/* a chunk-size line */
	NL_B_CHUNK_DATA,	/* chunk bytes left */
	NL_B_CHUNK_CRLF,	/* the CRLF after chunk data */
	NL_B_TRAILER,		/* trailer lines up to an empty one */
	NL_B_EOF,		/* delimited by the close */
	NL_B_DONE
};

enum nl_fail {
	NL_F_CONNECT,
	NL_F_CLOSED,
	NL_F_TIMEOUT,
	NL_F_STATUS,
	NL_F_NOAUTH,
	NL_F_PROTO,
	NL_F_MAX
};

static const char *nl_fail_names[NL_F_MAX] = {
	"connect", "closed", "timeout", "status", "noauth", "proto"
};

struct nl_conn {
	int		 fd;
	int		 connecting;
	int		 restart;	/* failed: a new connection soon */
	enum nl_leg	 leg;
	int64_t		 t_start;	/* connect (handshake) or request */
	int64_t		 t_deadline;
	char		 out[NL_REQSZ];
	size_t		 outlen, outoff;
	char		 in[NL_BUFSZ];
	size_t		 inlen;
	enum nl_body	 body;
	uint64_t	 left;		/* body bytes left in this part */
	int		 status;
	int		 close_after;
	char		 type2[NTLM_MAX_B64 + 1];
};

/* Options. */
static struct sockaddr_in nl_proxy;
static const char	*nl_url, *nl_user = "", *nl_domain = "";
static const char	*nl_ws = "BENCH";
static char		 nl_host[256];
static int		 nl_nconns = 1, nl_keepalive, nl_noauth;
static int64_t		 nl_duration = 10LL * 1000000000LL;
static long		 nl_count;	/* -n: stop after so many results */

/* Secrets, made once. */
static uint8_t		 nl_ntowfv2[NTLM_HASH_LEN];
static char		 nl_type1_b64[128];

/* State and results. */
static struct nl_conn	*nl_conns;
static int		 nl_ep;
static int		 nl_measuring;	/* the clock runs */
static int		 nl_signed_in;	/* -k: connections past the handshake */
static int64_t		 nl_t0, nl_t1;
static long		 nl_ok, nl_fails[NL_F_MAX], nl_reconnects;
static int		 nl_reported;
static uint32_t		*nl_lat;	/* microseconds, one per ok */
static size_t		 nl_nlat, nl_latsz;

static int64_t
nl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

static void __attribute__((noreturn))
nl_usage(void)
{
	fprintf(stderr, "usage: ntlm_load -x HOST:PORT -u URL [-U USER -D "
	    "DOMAIN -P PASSWORD]\n\t[-c CONNS] [-d SECONDS | -n COUNT] [-k] "
	    "[-a] [-w NAME]\n");
	exit(2);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
nl_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ntlm_load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
nl_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void
nl_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

/* A security buffer (MS-NLMP 2.2.1: Len, MaxLen, Offset) at hdr. */
static void
nl_secbuf(uint8_t *hdr, size_t len, size_t off)
{
	nl_le16(hdr, len);
	nl_le16(hdr + 2, len);
	nl_le32(hdr + 4, off);
}

/*
 * The NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1): no domain, no workstation, so
 * both security buffers are empty and the message is 32 bytes.
 */
static void
nl_make_type1(void)
{
	uint8_t m[32];

	memset(m, 0, sizeof(m));
	memcpy(m, "NTLMSSP", 8);
	nl_le32(m + 8, 1);
	nl_le32(m + 12, NL_NEG_FLAGS);
	nl_secbuf(m + 16, 0, sizeof(m));
	nl_secbuf(m + 24, 0, sizeof(m));
	if (ntlm_b64_encode(m, sizeof(m), nl_type1_b64,
	    sizeof(nl_type1_b64)) == -1)
		nl_die("base64 of type 1");
}

/* name as the challenge asked: UTF-16LE with UNICODE, else OEM (ASCII). */
static int
nl_put_name(const char *name, int unicode, uint8_t *out, size_t outsz,
    size_t *len)
{
	size_t n;

	if (unicode)
		return (ntlm_utf8_to_utf16le(name, 0, out, outsz, len));
	if ((n = strlen(name)) > outsz)
		return (-1);
	memcpy(out, name, n);
	*len = n;
	return (0);
}

/*
 * The AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) answering the base64 type 2
 * in t2, base64 into out.  NTLMv2 (3.3.2): the blob (2.2.2.7) holds the
 * server's timestamp when its target info has one (else ours), a random
 * client challenge and the target info as received.  With a server
 * timestamp the LM response is 24 zero bytes (3.1.5.1.2), else LMv2.
 * Returns 0, or -1 when the challenge does not parse.
 */
static int
nl_make_type3(const char *t2, char *out, size_t outsz)
{
	static uint8_t	 msg[NTLM_MAX_MSG], t2raw[NTLM_MAX_MSG];
	uint8_t		 blob[NTLM_MAX_MSG], proof[NTLM_HASH_LEN];
	uint8_t		 lm[24], cc[8];
	struct ntlm_challenge c;
	const uint8_t	*ts;
	size_t		 t2len, tslen, bloblen, off, dl, ul, wl;
	uint64_t	 now;
	int		 unicode, i;

	if (ntlm_b64_decode(t2, strlen(t2), t2raw, sizeof(t2raw),
	    &t2len) == -1 || ntlm_decode_challenge(t2raw, t2len, &c) == -1 ||
	    c.target_info_len == 0 ||
	    c.target_info_len > sizeof(blob) - 64 ||
	    ntlm_av_check(c.target_info, c.target_info_len) == -1)
		return (-1);
	if (RAND_bytes(cc, sizeof(cc)) != 1)
		return (-1);

	memset(blob, 0, 32);
	blob[0] = 1;		/* RespType */
	blob[1] = 1;		/* HiRespType */
	if (ntlm_av_find(c.target_info, c.target_info_len, NTLM_AV_TIMESTAMP,
	    &ts, &tslen) == 0 && tslen == 8) {
		memcpy(blob + 8, ts, 8);
		memset(lm, 0, sizeof(lm));
	} else {
		now = ntlm_filetime(time(NULL));
		for (i = 0; i < 8; i++)
			blob[8 + i] = (now >> (8 * i)) & 0xff;
		ts = NULL;
	}
	memcpy(blob + 16, cc, 8);
	memcpy(blob + 28, c.target_info, c.target_info_len);
	bloblen = 28 + c.target_info_len;
	memset(blob + bloblen, 0, 4);
	bloblen += 4;

	if (ntlm_hmac_md5(nl_ntowfv2, sizeof(nl_ntowfv2), c.challenge,
	    NTLM_CHALLENGE_LEN, blob, bloblen, proof) == -1)
		return (-1);
	if (ts == NULL) {
		if (ntlm_hmac_md5(nl_ntowfv2, sizeof(nl_ntowfv2), c.challenge,
		    NTLM_CHALLENGE_LEN, cc, sizeof(cc), lm) == -1)
			return (-1);
		memcpy(lm + 16, cc, 8);
	}

	/* Header (64 bytes, no Version, no MIC), then the payload. */
	unicode = (c.flags & NTLM_NEG_UNICODE) != 0;
	memset(msg, 0, 64);
	memcpy(msg, "NTLMSSP", 8);
	nl_le32(msg + 8, 3);
	off = 64;
	if (nl_put_name(nl_domain, unicode, msg + off, 512, &dl) == -1)
		return (-1);
	nl_secbuf(msg + 28, dl, off);
	off += dl;
	if (nl_put_name(nl_user, unicode, msg + off, 512, &ul) == -1)
		return (-1);
	nl_secbuf(msg + 36, ul, off);
	off += ul;
	if (nl_put_name(nl_ws, unicode, msg + off, 512, &wl) == -1)
		return (-1);
	nl_secbuf(msg + 44, wl, off);
	off += wl;
	memcpy(msg + off, lm, sizeof(lm));
	nl_secbuf(msg + 12, sizeof(lm), off);
	off += sizeof(lm);
	if (off + sizeof(proof) + bloblen > sizeof(msg))
		return (-1);
	memcpy(msg + off, proof, sizeof(proof));
	memcpy(msg + off + sizeof(proof), blob, bloblen);
	nl_secbuf(msg + 20, sizeof(proof) + bloblen, off);
	off += sizeof(proof) + bloblen;
	nl_secbuf(msg + 52, 0, off);	/* no session key: no KEY_EXCH */
	nl_le32(msg + 60, c.flags & NL_NEG_FLAGS & ~(unicode ?
	    NTLM_NEG_OEM : NTLM_NEG_UNICODE));
	return (ntlm_b64_encode(msg, off, out, outsz) == -1 ? -1 : 0);
}

static void
nl_record(int64_t ns)
{
	uint32_t *p;

	if (nl_nlat == nl_latsz) {
		nl_latsz = nl_latsz ? nl_latsz * 2 : 65536;
		if ((p = realloc(nl_lat, nl_latsz * sizeof(*p))) == NULL)
			nl_die("out of memory");
		nl_lat = p;
	}
	nl_lat[nl_nlat++] = ns / 1000 > UINT32_MAX ? UINT32_MAX : ns / 1000;
}

static void nl_start(struct nl_conn *);

/* Results so far, good and bad. */
static long
nl_total(void)
{
	long t = nl_ok;
	int i;

	for (i = 0; i < NL_F_MAX; i++)
		t += nl_fails[i];
	return (t);
}

static void
nl_close(struct nl_conn *c)
{
	if (c->fd != -1) {
		epoll_ctl(nl_ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
}

/*
 * One result that is not a 200: counted (while measuring), and the
 * connection replaced by a new one from the main loop (not from here: a
 * refused connect would recurse).
 */
static void __attribute__((format(printf, 3, 4)))
nl_fail(struct nl_conn *c, enum nl_fail why, const char *fmt, ...)
{
	va_list ap;

	if (nl_measuring) {
		nl_fails[why]++;
		if (nl_reported++ < NL_MAXREPORT) {
			fprintf(stderr, "ntlm_load: conn %d %s: %s: ",
			    (int)(c - nl_conns), c->leg == NL_TYPE1 ?
			    "type 1" : c->leg == NL_TYPE3 ? "type 3" : "GET",
			    nl_fail_names[why]);
			va_start(ap, fmt);
			vfprintf(stderr, fmt, ap);
			va_end(ap);
			fputc('\n', stderr);
		}
	}
	if (c->leg == NL_GET && !nl_noauth && nl_keepalive)
		nl_signed_in--;
	nl_close(c);
	c->restart = 1;
}

static void
nl_want(struct nl_conn *c, uint32_t ev)
{
	struct epoll_event e;

	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(nl_ep, EPOLL_CTL_MOD, c->fd, &e) == -1)
		nl_die("epoll_ctl: %s", strerror(errno));
}

/* Queue a request; auth is the Proxy-Authorization value or NULL. */
static void
nl_request(struct nl_conn *c, const char *auth)
{
	int n;

	n = snprintf(c->out, sizeof(c->out), "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n%s%s%s\r\n", nl_url, nl_host,
	    auth ? "Proxy-Authorization: NTLM " : "", auth ? auth : "",
	    auth ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(c->out))
		nl_die("request too long");
	c->outlen = n;
	c->outoff = 0;
	c->inlen = 0;
	c->body = NL_B_HEAD;
	c->status = 0;
	c->close_after = 0;
	c->type2[0] = '\0';
	c->t_deadline = nl_now() + NL_TIMEOUT_NS;
	if (!c->connecting)
		nl_want(c, EPOLLOUT);
}

/* A new connection; the first request is queued for when it is up. */
static void
nl_start(struct nl_conn *c)
{
	struct epoll_event e;
	int one = 1;

	c->restart = 0;
	if (nl_count > 0 && nl_measuring && nl_total() >= nl_count)
		return;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1)
		nl_die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t_start = nl_now();
	c->connecting = 1;
	e.events = EPOLLOUT;
	e.data.ptr = c;
	if (epoll_ctl(nl_ep, EPOLL_CTL_ADD, c->fd, &e) == -1)
		nl_die("epoll_ctl: %s", strerror(errno));
	if (nl_noauth) {
		c->leg = NL_GET;
		nl_request(c, NULL);
	} else {
		c->leg = NL_TYPE1;
		nl_request(c, nl_type1_b64);
	}
	if (connect(c->fd, (struct sockaddr *)&nl_proxy,
	    sizeof(nl_proxy)) == -1 && errno != EINPROGRESS)
		nl_fail(c, NL_F_CONNECT, "%s", strerror(errno));
}

/* The header line h (NUL-terminated, no CRLF) of a response head. */
static int
nl_header(struct nl_conn *c, char *h)
{
	char *v;

	if ((v = strchr(h, ':')) == NULL)
		return (-1);
	*v++ = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	if (strcasecmp(h, "Content-Length") == 0) {
		if (c->body != NL_B_CHUNK_SIZE) {
			c->body = NL_B_LENGTH;
			c->left = strtoull(v, NULL, 10);
		}
	} else if (strcasecmp(h, "Transfer-Encoding") == 0) {
		if (strcasestr(v, "chunked") != NULL)
			c->body = NL_B_CHUNK_SIZE;
	} else if (strcasecmp(h, "Connection") == 0 ||
	    strcasecmp(h, "Proxy-Connection") == 0) {
		if (strcasestr(v, "close") != NULL)
			c->close_after = 1;
	} else if (strcasecmp(h, "Proxy-Authenticate") == 0) {
		if (strncasecmp(v, "NTLM ", 5) == 0 &&
		    strlen(v + 5) < sizeof(c->type2))
			strcpy(c->type2, v + 5);
	}
	return (0);
}

/* Parse the head at c->in (ends at hend, just past the blank line). */
static int
nl_head(struct nl_conn *c, char *hend)
{
	char *line, *eol;

	hend[-2] = '\0';
	line = c->in;
	if ((eol = strstr(line, "\r\n")) != NULL)
		*eol = '\0';
	if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12 ||
	    !isdigit((unsigned char)line[9]))
		return (-1);
	c->status = atoi(line + 9);
	if (line[7] == '0')
		c->close_after = 1;	/* HTTP/1.0: assume close */
	c->body = NL_B_EOF;
	while (eol != NULL) {
		line = eol + 2;
		if ((eol = strstr(line, "\r\n")) != NULL)
			*eol = '\0';
		if (*line != '\0' && nl_header(c, line) == -1)
			return (-1);
	}
	if (c->status == 204 || c->status == 304 ||
	    (c->body == NL_B_LENGTH && c->left == 0))
		c->body = NL_B_DONE;
	if (c->status >= 100 && c->status < 200)
		return (-1);		/* nothing here sends interim answers */
	return (0);
}

/* Consume body bytes in c->in; returns 0 (need more), 1 (done), -1. */
static int
nl_body(struct nl_conn *c)
{
	size_t pos = 0, n;
	char *eol, *end;

	for (;;) {
		switch (c->body) {
		case NL_B_DONE:
			memmove(c->in, c->in + pos, c->inlen - pos);
			c->inlen -= pos;
			return (1);
		case NL_B_EOF:
			pos = c->inlen;		/* ends at the close */
			goto keep;
		case NL_B_LENGTH:
		case NL_B_CHUNK_DATA:
			n = c->inlen - pos;
			if (n > c->left)
				n = c->left;
			pos += n;
			c->left -= n;
			if (c->left > 0)
				goto keep;
			c->body = c->body == NL_B_LENGTH ? NL_B_DONE :
			    NL_B_CHUNK_CRLF;
			break;
		case NL_B_CHUNK_CRLF:
			if (c->inlen - pos < 2)
				goto keep;
			if (memcmp(c->in + pos, "\r\n", 2) != 0)
				return (-1);
			pos += 2;
			c->body = NL_B_CHUNK_SIZE;
			break;
		case NL_B_CHUNK_SIZE:
		case NL_B_TRAILER:
			eol = memmem(c->in + pos, c->inlen - pos, "\r\n", 2);
			if (eol == NULL) {
				if (c->inlen - pos > 1024)
					return (-1);
				goto keep;
			}
			if (c->body == NL_B_TRAILER) {
				if (eol == c->in + pos)
					c->body = NL_B_DONE;
				pos = eol + 2 - c->in;
				break;
			}
			c->left = strtoull(c->in + pos, &end, 16);
			if (end == c->in + pos)
				return (-1);
			pos = eol + 2 - c->in;
			c->body = c->left == 0 ? NL_B_TRAILER :
			    NL_B_CHUNK_DATA;
			break;
		default:
			return (-1);
		}
	}
keep:
	memmove(c->in, c->in + pos, c->inlen - pos);
	c->inlen -= pos;
	return (0);
}

/* A whole response arrived: decide, then the next request or connection. */
static void
nl_response(struct nl_conn *c)
{
	char t3[NTLM_MAX_B64 + 1];
	int64_t now = nl_now();

	switch (c->leg) {
	case NL_TYPE1:
		if (c->status != 407) {
			nl_fail(c, NL_F_STATUS, "%d to type 1", c->status);
			return;
		}
		if (c->type2[0] == '\0') {
			nl_fail(c, NL_F_NOAUTH, "407 without an NTLM challenge");
			return;
		}
		if (c->close_after) {
			nl_fail(c, NL_F_CLOSED, "407 with Connection: close");
			return;
		}
		if (nl_make_type3(c->type2, t3, sizeof(t3)) == -1) {
			nl_fail(c, NL_F_PROTO, "challenge does not parse");
			return;
		}
		c->leg = NL_TYPE3;
		nl_request(c, t3);
		return;
	case NL_TYPE3:
		if (c->status != 200) {
			nl_fail(c, NL_F_STATUS, "%d to type 3", c->status);
			return;
		}
		if (!nl_keepalive) {
			if (nl_measuring) {
				nl_ok++;
				nl_record(now - c->t_start);
			}
			nl_close(c);
			nl_start(c);
			return;
		}
		nl_signed_in++;
		c->leg = NL_GET;
		break;
	case NL_GET:
		if (c->status != 200) {
			nl_fail(c, NL_F_STATUS, "%d to a GET", c->status);
			return;
		}
		if (nl_measuring) {
			nl_ok++;
			nl_record(now - c->t_start);
		}
		if (!nl_keepalive) {	/* -a without -k: new conn each */
			nl_close(c);
			nl_start(c);
			return;
		}
		break;
	}
	if (c->close_after) {
		/* The proxy ended a good connection: a new one, signed in
		 * again; counted, not a failure. */
		if (nl_measuring)
			nl_reconnects++;
		if (!nl_noauth)
			nl_signed_in--;
		nl_close(c);
		nl_start(c);
		return;
	}
	c->t_start = now;
	nl_request(c, NULL);
}

static void
nl_readable(struct nl_conn *c)
{
	char *hend;
	ssize_t n;
	int r;

	for (;;) {
		if (c->inlen == sizeof(c->in)) {
			nl_fail(c, NL_F_PROTO, "response head too long");
			return;
		}
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (c->body == NL_B_EOF) {
				c->close_after = 1;
				nl_response(c);
			} else
				nl_fail(c, NL_F_CLOSED, "%s after %zu bytes "
				    "(status %d)", n == 0 ? "closed" :
				    strerror(errno), c->inlen, c->status);
			return;
		}
		c->inlen += n;
		if (c->body == NL_B_HEAD) {
			c->in[c->inlen < sizeof(c->in) ? c->inlen :
			    sizeof(c->in) - 1] = '\0';
			hend = memmem(c->in, c->inlen, "\r\n\r\n", 4);
			if (hend == NULL)
				continue;
			hend += 4;
			r = hend - c->in;
			if (nl_head(c, hend) == -1) {
				nl_fail(c, NL_F_PROTO, "bad response head");
				return;
			}
			memmove(c->in, hend, c->inlen - r);
			c->inlen -= r;
		}
		if ((r = nl_body(c)) == -1) {
			nl_fail(c, NL_F_PROTO, "bad body framing");
			return;
		}
		if (r == 1) {
			if (c->inlen > 0) {
				nl_fail(c, NL_F_PROTO, "bytes after the response");
				return;
			}
			nl_response(c);
			return;
		}
	}
}

static void
nl_writable(struct nl_conn *c)
{
	ssize_t n;
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->connecting) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			nl_fail(c, NL_F_CONNECT, "%s", strerror(err));
			return;
		}
		c->connecting = 0;
	}
	while (c->outoff < c->outlen) {
		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			nl_fail(c, NL_F_CLOSED, "write: %s", strerror(errno));
			return;
		}
		c->outoff += n;
	}
	nl_want(c, EPOLLIN);
}

static int
nl_cmp32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

static uint32_t
nl_pct(double p)
{
	size_t i;

	if (nl_nlat == 0)
		return (0);
	i = (size_t)(p / 100.0 * nl_nlat);
	return (nl_lat[i >= nl_nlat ? nl_nlat - 1 : i]);
}

static void
nl_parse_url(void)
{
	const char *h, *e;

	if (strncmp(nl_url, "http://", 7) != 0)
		nl_die("the URL must be http://HOST[:PORT]/PATH");
	h = nl_url + 7;
	e = strchr(h, '/');
	if (e == NULL)
		e = h + strlen(h);
	if (e == h || (size_t)(e - h) >= sizeof(nl_host))
		nl_die("bad host in %s", nl_url);
	memcpy(nl_host, h, e - h);
	nl_host[e - h] = '\0';
}

int
main(int argc, char *argv[])
{
	struct epoll_event evs[NL_MAXEV];
	uint8_t nthash[NTLM_HASH_LEN];
	const char *password = "";
	char *colon, *ep;
	int64_t now, end = 0, lastscan = 0, warm_end;
	long total;
	int ch, i, n;

	while ((ch = getopt(argc, argv, "x:u:U:D:P:c:d:n:kaw:")) != -1) {
		switch (ch) {
		case 'x':
			if ((colon = strrchr(optarg, ':')) == NULL)
				nl_usage();
			*colon = '\0';
			nl_proxy.sin_family = AF_INET;
			nl_proxy.sin_port = htons(atoi(colon + 1));
			if (inet_pton(AF_INET, optarg,
			    &nl_proxy.sin_addr) != 1)
				nl_die("bad proxy address %s", optarg);
			break;
		case 'u':
			nl_url = optarg;
			break;
		case 'U':
			nl_user = optarg;
			break;
		case 'D':
			nl_domain = optarg;
			break;
		case 'P':
			password = optarg;
			break;
		case 'c':
			nl_nconns = strtol(optarg, &ep, 10);
			if (*ep != '\0' || nl_nconns < 1 || nl_nconns > 10000)
				nl_usage();
			break;
		case 'd':
			nl_duration = (int64_t)(strtod(optarg, NULL) * 1e9);
			break;
		case 'n':
			nl_count = strtol(optarg, NULL, 10);
			break;
		case 'k':
			nl_keepalive = 1;
			break;
		case 'a':
			nl_noauth = 1;
			break;
		case 'w':
			nl_ws = optarg;
			break;
		default:
			nl_usage();
		}
	}
	if (nl_url == NULL || nl_proxy.sin_family != AF_INET ||
	    nl_duration <= 0)
		nl_usage();
	if (!nl_noauth && (*nl_user == '\0' || *password == '\0'))
		nl_die("-U and -P are needed (or -a)");
	nl_parse_url();
	signal(SIGPIPE, SIG_IGN);

	if (!nl_noauth) {
		if (ntlm_nt_hash(password, nthash) == -1 ||
		    ntlm_ntowfv2(nthash, nl_user, nl_domain, nl_ntowfv2) == -1)
			nl_die("cannot hash the password");
		nl_make_type1();
	}

	if ((nl_ep = epoll_create1(0)) == -1)
		nl_die("epoll_create1: %s", strerror(errno));
	if ((nl_conns = calloc(nl_nconns, sizeof(*nl_conns))) == NULL)
		nl_die("out of memory");

	/*
	 * Keep-alive with sign-in: the clock starts once every connection
	 * has signed in (at most 30 s), so the rows compare GETs only.
	 * Everything else measures from the first connect.
	 */
	nl_measuring = !(nl_keepalive && !nl_noauth);
	for (i = 0; i < nl_nconns; i++) {
		nl_conns[i].fd = -1;
		nl_start(&nl_conns[i]);
	}
	now = nl_now();
	warm_end = now + 30LL * 1000000000LL;
	if (nl_measuring) {
		nl_t0 = now;
		end = nl_t0 + nl_duration;
	}
	for (;;) {
		n = epoll_wait(nl_ep, evs, NL_MAXEV, 50);
		if (n == -1 && errno != EINTR)
			nl_die("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			struct nl_conn *c = evs[i].data.ptr;

			if (c->fd == -1)
				continue;
			if (c->connecting || c->outoff < c->outlen)
				nl_writable(c);
			else
				nl_readable(c);
		}
		for (i = 0; i < nl_nconns; i++)
			if (nl_conns[i].restart)
				nl_start(&nl_conns[i]);
		now = nl_now();
		if (!nl_measuring) {
			if (nl_signed_in < nl_nconns && now < warm_end)
				continue;
			if (nl_signed_in < nl_nconns)
				fprintf(stderr, "ntlm_load: only %d of %d "
				    "connections signed in after 30 s\n",
				    nl_signed_in, nl_nconns);
			nl_measuring = 1;
			nl_t0 = now;
			end = nl_t0 + nl_duration;
		}
		total = nl_total();
		if (nl_count > 0 ? total >= nl_count : now >= end)
			break;
		if (now - lastscan >= 100000000LL) {
			lastscan = now;
			for (i = 0; i < nl_nconns; i++) {
				struct nl_conn *c = &nl_conns[i];

				if (c->fd != -1 && now > c->t_deadline)
					nl_fail(c, NL_F_TIMEOUT, "no answer "
					    "in 10 s");
			}
		}
	}
	nl_t1 = nl_now();
	for (i = 0; i < nl_nconns; i++)
		if (nl_conns[i].fd != -1)
			close(nl_conns[i].fd);

	qsort(nl_lat, nl_nlat, sizeof(*nl_lat), nl_cmp32);
	total = nl_total() - nl_ok;
	printf("NTLMLOAD mode=%s conns=%d ok=%ld fail=%ld duration_us=%lld "
	    "p50_us=%u p99_us=%u max_us=%u", nl_keepalive ? "ka" : "hs",
	    nl_nconns, nl_ok, total, (long long)((nl_t1 - nl_t0) / 1000),
	    nl_pct(50), nl_pct(99), nl_nlat ? nl_lat[nl_nlat - 1] : 0);
	for (i = 0; i < NL_F_MAX; i++)
		printf(" %s=%ld", nl_fail_names[i], nl_fails[i]);
	printf(" reconnects=%ld\n", nl_reconnects);
	return (0);
}
