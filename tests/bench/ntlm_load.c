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
 *
 * The HTTP side (connections, response framing, timeouts, latencies and
 * the start of the NTLMLOAD line) is loadlib.c, shared with neg_load.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "ntlm.h"
#include "loadlib.h"

#define NL_NEG_FLAGS	(NTLM_NEG_UNICODE | NTLM_NEG_OEM | \
	NTLM_REQUEST_TARGET | NTLM_NEG_NTLM | NTLM_NEG_ALWAYS_SIGN | \
	NTLM_NEG_ESS | NTLM_NEG_128 | NTLM_NEG_56)

enum nl_leg {
	NL_TYPE1,		/* type 1 sent, a 407 with type 2 expected */
	NL_TYPE3,		/* type 3 sent, the 200 expected */
	NL_GET			/* signed in (or no sign-in): plain GETs */
};

/* Options (the common ones are loadlib's). */
static const char	*nl_user = "", *nl_domain = "";
static const char	*nl_ws = "BENCH";
static int		 nl_keepalive, nl_noauth;

/* Secrets, made once. */
static uint8_t		 nl_ntowfv2[NTLM_HASH_LEN];
static char		 nl_type1_b64[128];

static void __attribute__((noreturn))
nl_usage(void)
{
	fprintf(stderr, "usage: ntlm_load -x HOST:PORT -u URL [-U USER -D "
	    "DOMAIN -P PASSWORD]\n\t[-c CONNS] [-d SECONDS | -n COUNT] [-k] "
	    "[-a] [-w NAME]\n");
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
		ll_die("base64 of type 1");
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
/* A new connection; the first request is queued for when it is up. */
static void
nl_start(struct ll_conn *c)
{
	if (ll_count > 0 && ll_measuring && ll_total() >= ll_count)
		return;
	ll_open(c);
	if (nl_noauth) {
		c->leg = NL_GET;
		ll_request(c, NULL);
	} else {
		c->leg = NL_TYPE1;
		ll_request(c, nl_type1_b64);
	}
	ll_connect(c);
}

/* A whole response arrived: decide, then the next request or connection. */
static void
nl_response(struct ll_conn *c)
{
	char t3[NTLM_MAX_B64 + 1];
	int64_t now = ll_now();

	switch (c->leg) {
	case NL_TYPE1:
		if (c->status != 407) {
			ll_fail(c, LL_F_STATUS, "%d to type 1", c->status);
			return;
		}
		if (c->auth[0] == '\0') {
			ll_fail(c, LL_F_AUTH, "407 without an NTLM challenge");
			return;
		}
		if (c->close_after) {
			ll_fail(c, LL_F_CLOSED, "407 with Connection: close");
			return;
		}
		if (nl_make_type3(c->auth, t3, sizeof(t3)) == -1) {
			ll_fail(c, LL_F_PROTO, "challenge does not parse");
			return;
		}
		c->leg = NL_TYPE3;
		ll_request(c, t3);
		return;
	case NL_TYPE3:
		if (c->status != 200) {
			ll_fail(c, LL_F_STATUS, "%d to type 3", c->status);
			return;
		}
		if (!nl_keepalive) {
			ll_result(c, now);
			ll_restart(c);
			return;
		}
		ll_sign_in(c);
		c->leg = NL_GET;
		break;
	case NL_GET:
		if (c->status != 200) {
			ll_fail(c, LL_F_STATUS, "%d to a GET", c->status);
			return;
		}
		ll_result(c, now);
		if (!nl_keepalive) {	/* -a without -k: new conn each */
			ll_restart(c);
			return;
		}
		break;
	}
	if (c->close_after) {
		ll_reconnect(c);
		return;
	}
	c->t_start = now;
	ll_request(c, NULL);
}

static const char *const nl_legs[] = {
	[NL_TYPE1] = "type 1", [NL_TYPE3] = "type 3", [NL_GET] = "GET"
};

const struct ll_client ll_client = {
	.name = "ntlm_load",
	.scheme = "NTLM",
	.auth_max = NTLM_MAX_B64,
	.auth_fail = "noauth",
	.legs = nl_legs,
	.start = nl_start,
	.response = nl_response
};

/* The order of the failure counts on the NTLMLOAD line. */
static const enum ll_fail nl_fail_order[LL_F_MAX] = {
	LL_F_CONNECT, LL_F_CLOSED, LL_F_TIMEOUT, LL_F_STATUS, LL_F_AUTH,
	LL_F_PROTO
};

int
main(int argc, char *argv[])
{
	uint8_t nthash[NTLM_HASH_LEN];
	const char *password = "";
	int ch;

	while ((ch = getopt(argc, argv, "x:u:U:D:P:c:d:n:kaw:")) != -1) {
		switch (ll_option(ch, optarg)) {
		case 1:
			continue;
		case -1:
			nl_usage();
		}
		switch (ch) {
		case 'U':
			nl_user = optarg;
			break;
		case 'D':
			nl_domain = optarg;
			break;
		case 'P':
			password = optarg;
			break;
		case 'n':
			ll_count = strtol(optarg, NULL, 10);
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
	if (ll_setup() == -1)
		nl_usage();
	if (!nl_noauth && (*nl_user == '\0' || *password == '\0'))
		ll_die("-U and -P are needed (or -a)");

	if (!nl_noauth) {
		if (ntlm_nt_hash(password, nthash) == -1 ||
		    ntlm_ntowfv2(nthash, nl_user, nl_domain, nl_ntowfv2) == -1)
			ll_die("cannot hash the password");
		nl_make_type1();
	}

	/*
	 * Keep-alive with sign-in: the clock starts once every connection
	 * has signed in, so the rows compare GETs only.  Everything else
	 * measures from the first connect.
	 */
	ll_run(nl_keepalive && !nl_noauth);
	ll_summary("NTLMLOAD", nl_keepalive ? "ka" : "hs", nl_fail_order);
	printf("\n");
	return (0);
}
