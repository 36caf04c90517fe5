/*
 * libFuzzer target for the NTLMSSP decoders (auth/ntlm_msg.c) and the
 * pre-hash half of the verifier (auth/ntlm_crypto.c).
 *
 * Every input goes through the NEGOTIATE and AUTHENTICATE decoders, the
 * AV-pair walkers and, read as text, the base64 decoder.  Besides looking
 * for out-of-bounds reads, it checks what the rest of the proxy relies
 * on: decoded pointers lie inside the message, names are NUL-terminated
 * UTF-8 within their caps, a CHALLENGE built for any NEGOTIATE decodes
 * back with well-formed AV pairs, base64 is canonical (what decodes
 * re-encodes to the same text) and round-trips, and the verifier returns
 * a known verdict for any AUTHENTICATE, never OK for a forged one.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntlm.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

static const uint8_t chal[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
    0xef };
static const struct ntlm_target target = { "EXAMPLE", "PROXY",
    "example.test", "proxy.example.test" };
/* The NT hash of "Password" (MS-NLMP 4.2.2.1.2). */
static const uint8_t nthash[16] = { 0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10,
    0xbd, 0xca, 0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f, 0xd8, 0x52 };

static int
inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
	return (n == 0 || (p >= buf && p + n <= buf + len));
}

static void
check_name(const char *s)
{
	size_t n = strnlen(s, NTLM_MAX_NAME_UTF8 + 1);
	size_t i;

	REQUIRE(n <= NTLM_MAX_NAME_UTF8);
	for (i = 0; i < n; i++)
		REQUIRE((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void
fuzz_negotiate(const uint8_t *data, size_t size)
{
	struct ntlm_negotiate n;
	struct ntlm_challenge c;
	uint8_t t2[NTLM_MAX_CHALLENGE_MSG];
	const char *why = NULL;
	size_t l;

	if (ntlm_decode_negotiate(data, size, &n, &why) == -1) {
		REQUIRE(why != NULL);
		return;
	}
	check_name(n.domain);
	check_name(n.workstation);
	REQUIRE(ntlm_build_challenge(n.flags, chal, 1, &target, t2,
	    sizeof(t2), &l) == 0);
	REQUIRE(ntlm_decode_challenge(t2, l, &c) == 0);
	REQUIRE(c.flags == ntlm_challenge_flags(n.flags));
	REQUIRE(!!(c.flags & NTLM_NEG_UNICODE) != !!(c.flags & NTLM_NEG_OEM));
	REQUIRE(ntlm_av_check(c.target_info, c.target_info_len) == 0);
}

static void
fuzz_authenticate(const uint8_t *data, size_t size, const uint8_t *t2,
    size_t t2len)
{
	struct ntlm_authenticate a;
	struct ntlm_expect e;
	enum ntlm_verdict pre, v;
	const char *why = NULL;

	if (ntlm_decode_authenticate(data, size, &a, &why) == -1) {
		REQUIRE(why != NULL);
		return;
	}
	REQUIRE(a.raw == data && a.rawlen == size);
	REQUIRE(inside(a.lm, a.lm_len, data, size) &&
	    a.lm_len <= NTLM_MAX_LM_RESP);
	REQUIRE(inside(a.nt, a.nt_len, data, size) &&
	    a.nt_len <= NTLM_MAX_NT_RESP);
	REQUIRE(inside(a.enc_key, a.enc_key_len, data, size) &&
	    a.enc_key_len <= NTLM_MAX_SESSION_KEY);
	REQUIRE(!a.has_mic || (a.mic == data + NTLM_MIC_OFFSET &&
	    size >= NTLM_MIC_OFFSET + NTLM_MIC_LEN));
	check_name(a.user);
	check_name(a.domain);
	check_name(a.workstation);

	memset(&e, 0, sizeof(e));
	memcpy(e.challenge, chal, sizeof(chal));
	e.type1 = data;		/* any bytes will do for the MIC input */
	e.type1_len = size < 40 ? size : 40;
	e.type2 = t2;
	e.type2_len = t2len;
	e.now = 0;
	e.skew = 300;
	pre = ntlm_verify_pre(&a, &e);
	v = ntlm_verify(&a, &e, nthash);
	REQUIRE(v >= NTLM_OK && v <= NTLM_ERR_INTERNAL);
	REQUIRE(v != NTLM_ERR_INTERNAL);
	/* The hash-free checks decide alike in both. */
	REQUIRE(pre == NTLM_OK ? (v == NTLM_OK || v == NTLM_ERR_BAD_PROOF ||
	    v == NTLM_ERR_BAD_MIC) : v == pre);
}

static void
fuzz_b64(const uint8_t *data, size_t size)
{
	static uint8_t out[NTLM_MAX_MSG];
	static char enc[NTLM_MAX_B64 + 1];
	size_t n;
	int l;

	if (ntlm_b64_decode((const char *)data, size, out, sizeof(out),
	    &n) == 0) {
		/* Strict means canonical: one spelling per byte string. */
		l = ntlm_b64_encode(out, n, enc, sizeof(enc));
		REQUIRE(l >= 0 && (size_t)l == size &&
		    memcmp(enc, data, size) == 0);
	}
	if (size <= NTLM_MAX_MSG) {
		l = ntlm_b64_encode(data, size, enc, sizeof(enc));
		REQUIRE(l >= 0);
		if (size > 0) {
			REQUIRE(ntlm_b64_decode(enc, l, out, sizeof(out),
			    &n) == 0);
			REQUIRE(n == size && memcmp(out, data, size) == 0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t t2[NTLM_MAX_CHALLENGE_MSG];
	static size_t t2len;
	const uint8_t *v;
	size_t vl;

	/* The CHALLENGE every AUTHENTICATE is checked against. */
	if (t2len == 0)
		REQUIRE(ntlm_build_challenge(NTLM_NEG_UNICODE |
		    NTLM_NEG_KEY_EXCH, chal, 0, &target, t2, sizeof(t2),
		    &t2len) == 0);

	fuzz_negotiate(data, size);
	fuzz_authenticate(data, size, t2, t2len);
	fuzz_b64(data, size);
	if (ntlm_av_check(data, size) == 0)
		REQUIRE(ntlm_av_find(data, size, NTLM_AV_EOL, &v, &vl) == -1);
	if (ntlm_av_find(data, size, NTLM_AV_NB_DOMAIN, &v, &vl) == 0)
		REQUIRE(inside(v, vl, data, size));
	return (0);
}
