/*
 * NTLMv2 crypto and the server-side verifier (MS-NLMP sections 3.3.2,
 * 3.4.5, 3.2.5.1.2).
 *
 * HMAC-MD5 comes from OpenSSL 3 (EVP_MAC, default provider).  MD4 (for
 * the NT hash) and RC4 (for KEY_EXCH) are implemented here, from RFC 1320
 * and the textbook RC4: in OpenSSL 3 both live only in the legacy
 * provider, and loading it would change which algorithms every other
 * OpenSSL user in the process (TLS to origins, libldap) can fetch, needs a
 * thread-safe one-time init in a threaded proxy, and fails on systems that
 * ship without legacy.so.  Both are short, have published test vectors
 * (checked in tests/unit/t_ntlm.c), and here only ever process a password
 * or a 16-byte key.
 *
 * ntlm_verify() follows Samba's ntlmssp_server_preauth/postauth order:
 * classify the response (anonymous, LM, NTLMv1 are refused), parse the
 * NTLMv2 blob, require the MIC if MsvAvFlags announces one, compare the
 * AV pairs we sent with those the client echoed, check the blob's
 * timestamp, then the NTProofStr, then the MIC.  The checks that need no
 * secret are also available alone as ntlm_verify_pre(), so the caller can
 * run them before an (asynchronous) NT hash lookup.  Secret comparisons
 * use CRYPTO_memcmp; key material is wiped with OPENSSL_cleanse.
 */

#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "ntlm.h"

/* NTLMv2_CLIENT_CHALLENGE (MS-NLMP 2.2.2.7) up to AvPairs. */
#define NTLM_BLOB_HDR		28
#define NTLM_V2_MIN		(NTLM_HASH_LEN + NTLM_BLOB_HDR + 4)
#define NTLM_V1_RESP_LEN	24
#define NTLM_TICKS		10000000ULL	/* FILETIME ticks a second */
#define NTLM_MAX_PASSWORD	256		/* code points */

struct ntlm_part {
	const uint8_t	*p;
	size_t		 n;
};

/* What ntlm_verify_pre() learned about the NTLMv2 blob. */
struct ntlm_blob {
	const uint8_t	*blob;		/* NtChallengeResponse after NTProofStr */
	size_t		 len;
	int		 want_mic;
	uint32_t	 t2_flags;
};

static uint32_t
ntlm_rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static uint64_t
ntlm_rd64(const uint8_t *p)
{
	return ((uint64_t)ntlm_rd32(p) | (uint64_t)ntlm_rd32(p + 4) << 32);
}

/* MD4 (RFC 1320). */
#define MD4_F(x, y, z)	(((x) & (y)) | (~(x) & (z)))
#define MD4_G(x, y, z)	(((x) & (y)) | ((x) & (z)) | ((y) & (z)))
#define MD4_H(x, y, z)	((x) ^ (y) ^ (z))
#define MD4_ROTL(x, s)	(((x) << (s)) | ((x) >> (32 - (s))))

static void
ntlm_md4_block(uint32_t st[4], const uint8_t *blk)
{
	/* Round 2 and 3 word orders and the shifts of each round (3.4). */
	static const uint8_t o2[16] = { 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14,
	    3, 7, 11, 15 };
	static const uint8_t o3[16] = { 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13,
	    3, 11, 7, 15 };
	static const uint8_t s1[4] = { 3, 7, 11, 19 };
	static const uint8_t s2[4] = { 3, 5, 9, 13 };
	static const uint8_t s3[4] = { 3, 9, 11, 15 };
	uint32_t x[16], v[4], t;
	int i;

	for (i = 0; i < 16; i++)
		x[i] = ntlm_rd32(blk + 4 * i);
	memcpy(v, st, sizeof(v));
	/*
	 * Each step updates one of a, b, c, d in turn (a, d, c, b in the
	 * RFC's notation), so index the state by (4 - i) % 4.
	 */
	for (i = 0; i < 16; i++) {
		uint32_t *a = &v[(4 - i % 4) % 4];
		uint32_t b = v[(5 - i % 4) % 4], c = v[(6 - i % 4) % 4];
		uint32_t d = v[(7 - i % 4) % 4];

		t = *a + MD4_F(b, c, d) + x[i];
		*a = MD4_ROTL(t, s1[i % 4]);
	}
	for (i = 0; i < 16; i++) {
		uint32_t *a = &v[(4 - i % 4) % 4];
		uint32_t b = v[(5 - i % 4) % 4], c = v[(6 - i % 4) % 4];
		uint32_t d = v[(7 - i % 4) % 4];

		t = *a + MD4_G(b, c, d) + x[o2[i]] + 0x5a827999u;
		*a = MD4_ROTL(t, s2[i % 4]);
	}
	for (i = 0; i < 16; i++) {
		uint32_t *a = &v[(4 - i % 4) % 4];
		uint32_t b = v[(5 - i % 4) % 4], c = v[(6 - i % 4) % 4];
		uint32_t d = v[(7 - i % 4) % 4];

		t = *a + MD4_H(b, c, d) + x[o3[i]] + 0x6ed9eba1u;
		*a = MD4_ROTL(t, s3[i % 4]);
	}
	for (i = 0; i < 4; i++)
		st[i] += v[i];
	OPENSSL_cleanse(x, sizeof(x));
	OPENSSL_cleanse(v, sizeof(v));
}

/*
 * MD4 of len bytes at in into out (16 bytes).  Only for the NT hash
 * (MS-NLMP 3.3.1): MD4 is broken as a general-purpose hash.
 */
void
ntlm_md4(const uint8_t *in, size_t len, uint8_t *out)
{
	uint32_t st[4] = { 0x67452301u, 0xefcdab89u, 0x98badcfeu,
	    0x10325476u };
	uint8_t tail[128];
	uint64_t bits = (uint64_t)len * 8;
	size_t rest, tlen, i;

	for (; len >= 64; in += 64, len -= 64)
		ntlm_md4_block(st, in);
	/* Padding (3.1, 3.2): 0x80, zeros, the bit length little-endian. */
	rest = len;
	memset(tail, 0, sizeof(tail));
	if (rest > 0)
		memcpy(tail, in, rest);
	tail[rest] = 0x80;
	tlen = rest < 56 ? 64 : 128;
	for (i = 0; i < 8; i++)
		tail[tlen - 8 + i] = (bits >> (8 * i)) & 0xff;
	ntlm_md4_block(st, tail);
	if (tlen == 128)
		ntlm_md4_block(st, tail + 64);
	for (i = 0; i < 16; i++)
		out[i] = (st[i / 4] >> (8 * (i % 4))) & 0xff;
	OPENSSL_cleanse(tail, sizeof(tail));
	OPENSSL_cleanse(st, sizeof(st));
}

/*
 * RC4 of len bytes from in to out (which may be the same buffer) under
 * key (keylen bytes, 1..256).  Only for the KEY_EXCH session key
 * (MS-NLMP 3.1.5.1.2, 3.4.5.1).
 */
void
ntlm_rc4(const uint8_t *key, size_t keylen, const uint8_t *in, uint8_t *out,
    size_t len)
{
	uint8_t s[256], t;
	size_t k;
	unsigned int i, j;

	for (i = 0; i < 256; i++)
		s[i] = i;
	for (i = j = 0; i < 256; i++) {
		j = (j + s[i] + key[i % keylen]) & 0xff;
		t = s[i];
		s[i] = s[j];
		s[j] = t;
	}
	for (k = 0, i = j = 0; k < len; k++) {
		i = (i + 1) & 0xff;
		j = (j + s[i]) & 0xff;
		t = s[i];
		s[i] = s[j];
		s[j] = t;
		out[k] = in[k] ^ s[(s[i] + s[j]) & 0xff];
	}
	OPENSSL_cleanse(s, sizeof(s));
}

static int
ntlm_hmac_parts(const uint8_t *key, size_t keylen, const struct ntlm_part *pt,
    size_t npt, uint8_t *out)
{
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	size_t i, outl = 0;
	int rv = -1;

	if ((mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL)) == NULL)
		return (-1);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"MD5", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, key, keylen, params) != 1)
		goto done;
	for (i = 0; i < npt; i++)
		if (pt[i].n > 0 && EVP_MAC_update(ctx, pt[i].p, pt[i].n) != 1)
			goto done;
	if (EVP_MAC_final(ctx, out, &outl, NTLM_HASH_LEN) == 1 &&
	    outl == NTLM_HASH_LEN)
		rv = 0;
done:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return (rv);
}

/*
 * HMAC-MD5 (RFC 2104) under key of d1 || d2 (d2 may be NULL with l2 0)
 * into out (16 bytes).  Returns 0, or -1 if OpenSSL fails.
 */
int
ntlm_hmac_md5(const uint8_t *key, size_t keylen, const uint8_t *d1,
    size_t l1, const uint8_t *d2, size_t l2, uint8_t *out)
{
	struct ntlm_part pt[2];

	pt[0].p = d1;
	pt[0].n = l1;
	pt[1].p = d2;
	pt[1].n = l2;
	return (ntlm_hmac_parts(key, keylen, pt, 2, out));
}

/*
 * NT hash (NTOWFv1, MS-NLMP 3.3.1): MD4 of the UTF-16LE password, into
 * out (16 bytes).  password is NUL-terminated UTF-8.  For tests and for
 * back ends that store passwords; returns 0, or -1 on invalid UTF-8 or a
 * password over 256 code points.
 */
int
ntlm_nt_hash(const char *password, uint8_t *out)
{
	uint8_t u[NTLM_MAX_PASSWORD * 4];
	size_t n;
	int rv = -1;

	if (ntlm_utf8_to_utf16le(password, 0, u, sizeof(u), &n) == 0) {
		ntlm_md4(u, n, out);
		rv = 0;
	}
	OPENSSL_cleanse(u, sizeof(u));
	return (rv);
}

/*
 * NTOWFv2 (MS-NLMP 3.3.2) = HMAC-MD5(NT hash, UTF-16LE(UPPER(user) ||
 * domain)), into out (16 bytes).  user and domain are NUL-terminated
 * UTF-8, as the decoder produced them.  Returns 0 or -1.
 */
int
ntlm_ntowfv2(const uint8_t *nthash, const char *user, const char *domain,
    uint8_t *out)
{
	uint8_t u[NTLM_MAX_NAME_UTF8 * 2], d[NTLM_MAX_NAME_UTF8 * 2];
	size_t ul, dl;

	if (ntlm_utf8_to_utf16le(user, 1, u, sizeof(u), &ul) == -1 ||
	    ntlm_utf8_to_utf16le(domain, 0, d, sizeof(d), &dl) == -1)
		return (-1);
	return (ntlm_hmac_md5(nthash, NTLM_HASH_LEN, u, ul, d, dl, out));
}

/*
 * Every check that needs no secret (see the top of this file), against
 * the CHALLENGE we sent (e->type2).  Fills *b for ntlm_verify().
 */
static enum ntlm_verdict
ntlm_verify_blob(const struct ntlm_authenticate *a,
    const struct ntlm_expect *e, struct ntlm_blob *b)
{
	struct ntlm_challenge c;
	const uint8_t *av, *sv, *cv, *fl;
	size_t avlen, pos, slen, clen, fllen;
	uint64_t ts, diff;
	uint16_t id;

	memset(b, 0, sizeof(*b));
	if (a == NULL || e == NULL || e->type2 == NULL ||
	    ntlm_decode_challenge(e->type2, e->type2_len, &c) == -1 ||
	    CRYPTO_memcmp(c.challenge, e->challenge, NTLM_CHALLENGE_LEN) != 0 ||
	    (c.target_info_len > 0 &&
	    ntlm_av_check(c.target_info, c.target_info_len) == -1))
		return (NTLM_ERR_INTERNAL);
	b->t2_flags = c.flags;

	/*
	 * Anonymous (MS-NLMP 3.2.5.1.2, 3.3.x): an empty user name, with
	 * empty responses or LM = Z(1).  An empty name with responses is
	 * refused the same way: there is no account to check them against.
	 */
	if (a->user[0] == '\0')
		return (NTLM_ERR_ANONYMOUS);
	if (a->nt_len == 0) {
		if (a->lm_len == 0 || (a->lm_len == 1 && a->lm[0] == 0))
			return (NTLM_ERR_ANONYMOUS);
		return (NTLM_ERR_LM_ONLY);
	}
	/* 24 bytes is NTLMv1, or NTLM2 session response if ESS (2.2.2.6). */
	if (a->nt_len == NTLM_V1_RESP_LEN)
		return (NTLM_ERR_NTLMV1);
	if (a->nt_len < NTLM_V2_MIN)
		return (NTLM_ERR_MALFORMED_BLOB);

	/* NTLMv2_CLIENT_CHALLENGE (2.2.2.7): RespType and HiRespType are 1. */
	b->blob = a->nt + NTLM_HASH_LEN;
	b->len = a->nt_len - NTLM_HASH_LEN;
	if (b->blob[0] != 1 || b->blob[1] != 1)
		return (NTLM_ERR_MALFORMED_BLOB);
	ts = ntlm_rd64(b->blob + 8);
	av = b->blob + NTLM_BLOB_HDR;
	avlen = b->len - NTLM_BLOB_HDR;
	if (ntlm_av_check(av, avlen) == -1)
		return (NTLM_ERR_MALFORMED_BLOB);

	/* MsvAvFlags bit 0x2: the MIC is there and must be checked (3.1.5.1.2). */
	if (ntlm_av_find(av, avlen, NTLM_AV_FLAGS, &fl, &fllen) == 0 &&
	    (ntlm_rd32(fl) & NTLM_AVFLAG_MIC)) {
		if (!a->has_mic)
			return (NTLM_ERR_BAD_MIC);
		b->want_mic = 1;
	}

	/*
	 * Every AV pair we sent but EOL must come back unchanged, as Samba
	 * checks: the names (the client authenticated to this server, not
	 * one it relays for) and MsvAvTimestamp (this challenge, not an
	 * old one).  The client may add pairs of its own.
	 */
	for (pos = 0; pos + 4 <= c.target_info_len; pos += 4 + slen) {
		id = c.target_info[pos] | c.target_info[pos + 1] << 8;
		slen = c.target_info[pos + 2] | c.target_info[pos + 3] << 8;
		sv = c.target_info + pos + 4;
		if (id == NTLM_AV_EOL)
			break;
		if (ntlm_av_find(av, avlen, id, &cv, &clen) == -1 ||
		    clen != slen || memcmp(cv, sv, slen) != 0)
			return (NTLM_ERR_TARGET_INFO_MISMATCH);
	}

	/*
	 * The blob's own timestamp (3.3.2 "Time") bounds how long a captured
	 * response stays useful; MS-NLMP leaves the window to the server.
	 */
	diff = ts > e->now ? ts - e->now : e->now - ts;
	if (diff / NTLM_TICKS > e->skew)
		return (NTLM_ERR_TIME_SKEW);
	return (NTLM_OK);
}

/*
 * The checks of ntlm_verify() that need no password hash: our challenge
 * (e->challenge must be the one inside e->type2, else NTLM_ERR_INTERNAL),
 * the response class, the NTLMv2 blob, MIC presence, echoed AV pairs and
 * the timestamp window.  Run it before looking up the user's NT hash;
 * ntlm_verify() repeats it.  Returns NTLM_OK or the reason for refusal.
 */
enum ntlm_verdict
ntlm_verify_pre(const struct ntlm_authenticate *a, const struct ntlm_expect *e)
{
	struct ntlm_blob b;

	return (ntlm_verify_blob(a, e, &b));
}

/*
 * The MIC (3.1.5.1.2, 3.2.5.1.2), given the SessionBaseKey, which for
 * NTLMv2 is the KeyExchangeKey (3.4.5.1); with KEY_EXCH negotiated the
 * client chose the ExportedSessionKey and sent it RC4-encrypted under it.
 */
int
ntlm_exported_key(const struct ntlm_authenticate *a, uint32_t t2_flags,
    const uint8_t *base, uint8_t *exported)
{
	if ((a->flags & NTLM_NEG_KEY_EXCH) && (t2_flags & NTLM_NEG_KEY_EXCH)) {
		if (a->enc_key_len != NTLM_HASH_LEN)
			return (-1);
		ntlm_rc4(base, NTLM_HASH_LEN, a->enc_key, exported,
		    NTLM_HASH_LEN);
	} else
		memcpy(exported, base, NTLM_HASH_LEN);
	return (0);
}

static enum ntlm_verdict
ntlm_check_mic(const struct ntlm_authenticate *a, const struct ntlm_expect *e,
    const struct ntlm_blob *b, const uint8_t *base)
{
	static const uint8_t zero_mic[NTLM_MIC_LEN];
	struct ntlm_part pt[5];
	uint8_t exported[NTLM_HASH_LEN], mic[NTLM_HASH_LEN];
	enum ntlm_verdict v = NTLM_ERR_BAD_MIC;

	if (e->type1 == NULL || e->type1_len == 0)
		return (v);
	if (ntlm_exported_key(a, b->t2_flags, base, exported) == -1)
		return (v);
	pt[0].p = e->type1;
	pt[0].n = e->type1_len;
	pt[1].p = e->type2;
	pt[1].n = e->type2_len;
	pt[2].p = a->raw;
	pt[2].n = NTLM_MIC_OFFSET;
	pt[3].p = zero_mic;
	pt[3].n = NTLM_MIC_LEN;
	pt[4].p = a->raw + NTLM_MIC_OFFSET + NTLM_MIC_LEN;
	pt[4].n = a->rawlen - NTLM_MIC_OFFSET - NTLM_MIC_LEN;
	if (ntlm_hmac_parts(exported, sizeof(exported), pt, 5, mic) == -1)
		v = NTLM_ERR_INTERNAL;
	else if (CRYPTO_memcmp(mic, a->mic, NTLM_MIC_LEN) == 0)
		v = NTLM_OK;
	OPENSSL_cleanse(exported, sizeof(exported));
	OPENSSL_cleanse(mic, sizeof(mic));
	return (v);
}

/*
 * After a domain controller verified NTProofStr (pass-through), check
 * the MIC with the SessionBaseKey it returned.  NTLM_OK when the client
 * announced no MIC.
 */
enum ntlm_verdict
ntlm_verify_mic(const struct ntlm_authenticate *a,
    const struct ntlm_expect *e, const uint8_t *session_base_key)
{
	struct ntlm_blob	b;
	enum ntlm_verdict	v;

	if ((v = ntlm_verify_blob(a, e, &b)) != NTLM_OK)
		return (v);
	if (!b.want_mic)
		return (NTLM_OK);
	if (session_base_key == NULL)
		return (NTLM_ERR_BAD_MIC);
	return (ntlm_check_mic(a, e, &b, session_base_key));
}

/*
 * Verify the NTLMv2 AUTHENTICATE a (from ntlm_decode_authenticate()) for
 * the exchange described by e, given nthash, the 16-byte NT hash of the
 * account a->user names (the caller looked it up; it is not kept).
 * Returns NTLM_OK only if the NTProofStr proves knowledge of the password
 * for this challenge and, when the client announced a MIC, the MIC over
 * e->type1 || e->type2 || a->raw (MIC zeroed) is right.
 */
enum ntlm_verdict
ntlm_verify(const struct ntlm_authenticate *a, const struct ntlm_expect *e,
    const uint8_t *nthash)
{
	return (ntlm_verify_key(a, e, nthash, NULL));
}

/*
 * ntlm_verify(), and on NTLM_OK the SessionBaseKey into base_out when it
 * is not NULL (for signing after the handshake, e.g. SPNEGO's
 * mechListMIC).
 */
enum ntlm_verdict
ntlm_verify_key(const struct ntlm_authenticate *a, const struct ntlm_expect *e,
    const uint8_t *nthash, uint8_t *base_out)
{
	struct ntlm_blob b;
	uint8_t k[NTLM_HASH_LEN], proof[NTLM_HASH_LEN];
	uint8_t base[NTLM_HASH_LEN];
	char domup[NTLM_MAX_NAME_UTF8 + 1];
	enum ntlm_verdict v;
	size_t i;

	if ((v = ntlm_verify_blob(a, e, &b)) != NTLM_OK)
		return (v);
	if (nthash == NULL)
		return (NTLM_ERR_INTERNAL);

	/* NTProofStr = HMAC-MD5(NTOWFv2, ServerChallenge || temp) (3.3.2). */
	v = NTLM_ERR_INTERNAL;
	if (ntlm_ntowfv2(nthash, a->user, a->domain, k) == -1 ||
	    ntlm_hmac_md5(k, sizeof(k), e->challenge, NTLM_CHALLENGE_LEN,
	    b.blob, b.len, proof) == -1)
		goto done;
	if (CRYPTO_memcmp(proof, a->nt, NTLM_HASH_LEN) != 0) {
		/*
		 * Some clients compute NTOWFv2 over the upper-cased domain
		 * while sending it as typed; Samba's ntlm_check tries that too.
		 */
		for (i = 0; a->domain[i] != '\0'; i++)
			domup[i] = a->domain[i] >= 'a' && a->domain[i] <= 'z' ?
			    a->domain[i] - 0x20 : a->domain[i];
		domup[i] = '\0';
		v = NTLM_ERR_BAD_PROOF;
		if (strcmp(domup, a->domain) == 0)
			goto done;
		if (ntlm_ntowfv2(nthash, a->user, domup, k) == -1 ||
		    ntlm_hmac_md5(k, sizeof(k), e->challenge,
		    NTLM_CHALLENGE_LEN, b.blob, b.len, proof) == -1) {
			v = NTLM_ERR_INTERNAL;
			goto done;
		}
		if (CRYPTO_memcmp(proof, a->nt, NTLM_HASH_LEN) != 0)
			goto done;
	}
	if (!b.want_mic && base_out == NULL) {
		v = NTLM_OK;
		goto done;
	}
	/* For NTLMv2 SessionBaseKey = HMAC-MD5(NTOWFv2, NTProofStr). */
	if (ntlm_hmac_md5(k, sizeof(k), proof, sizeof(proof), NULL, 0,
	    base) == -1) {
		v = NTLM_ERR_INTERNAL;
		goto done;
	}
	v = b.want_mic ? ntlm_check_mic(a, e, &b, base) : NTLM_OK;
	if (v == NTLM_OK && base_out != NULL)
		memcpy(base_out, base, NTLM_HASH_LEN);
done:
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(proof, sizeof(proof));
	OPENSSL_cleanse(base, sizeof(base));
	return (v);
}

/*
 * The signature of one message after the handshake (MS-NLMP 3.4.4.2,
 * extended session security): HMAC-MD5 under the direction's signing
 * key over the sequence number and the message, its first 8 bytes
 * RC4-encrypted under the direction's sealing key when KEY_EXCH was
 * negotiated.  Only the first message of a direction is signed here
 * (a fresh RC4 state): SPNEGO's mechListMIC is exactly that.  sig gets
 * the 16-byte NTLMSSP_MESSAGE_SIGNATURE.  0, or -1.
 */
int
ntlm_sign(const uint8_t *exported, uint32_t flags, int from_server,
    uint32_t seq, const uint8_t *msg, size_t len, uint8_t *sig)
{
	/* 3.4.5.2 and 3.4.5.3; each magic constant ends in its NUL. */
	static const char c2s_sign[] =
	    "session key to client-to-server signing key magic constant";
	static const char s2c_sign[] =
	    "session key to server-to-client signing key magic constant";
	static const char c2s_seal[] =
	    "session key to client-to-server sealing key magic constant";
	static const char s2c_seal[] =
	    "session key to server-to-client sealing key magic constant";
	const char	*sign_magic = from_server ? s2c_sign : c2s_sign;
	const char	*seal_magic = from_server ? s2c_seal : c2s_seal;
	uint8_t		 key[NTLM_HASH_LEN], mac[NTLM_HASH_LEN], seqle[4];
	uint8_t		 buf[NTLM_HASH_LEN + sizeof(c2s_seal)];
	size_t		 klen;
	int		 rc = -1;

	seqle[0] = seq & 0xff;
	seqle[1] = (seq >> 8) & 0xff;
	seqle[2] = (seq >> 16) & 0xff;
	seqle[3] = (seq >> 24) & 0xff;
	memcpy(buf, exported, NTLM_HASH_LEN);
	memcpy(buf + NTLM_HASH_LEN, sign_magic, sizeof(c2s_sign));
	if (EVP_Digest(buf, NTLM_HASH_LEN + sizeof(c2s_sign), key, NULL,
	    EVP_md5(), NULL) != 1 ||
	    ntlm_hmac_md5(key, sizeof(key), seqle, 4, msg, len, mac) == -1)
		goto done;
	if (flags & NTLM_NEG_KEY_EXCH) {
		/* The sealing key is weakened to the negotiated strength. */
		klen = (flags & NTLM_NEG_128) ? 16 : (flags & NTLM_NEG_56) ?
		    7 : 5;
		memcpy(buf + klen, seal_magic, sizeof(c2s_seal));
		if (EVP_Digest(buf, klen + sizeof(c2s_seal), key, NULL,
		    EVP_md5(), NULL) != 1)
			goto done;
		ntlm_rc4(key, sizeof(key), mac, mac, 8);
	}
	sig[0] = 1;
	sig[1] = sig[2] = sig[3] = 0;
	memcpy(sig + 4, mac, 8);
	memcpy(sig + 12, seqle, 4);
	rc = 0;
 done:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(mac, sizeof(mac));
	return (rc);
}

/* A short, log-safe name for a verdict. */
const char *
ntlm_verdict_str(enum ntlm_verdict v)
{
	switch (v) {
	case NTLM_OK:
		return ("ok");
	case NTLM_ERR_MALFORMED_BLOB:
		return ("malformed NTLMv2 response");
	case NTLM_ERR_NTLMV1:
		return ("NTLMv1 response refused");
	case NTLM_ERR_LM_ONLY:
		return ("LM-only response refused");
	case NTLM_ERR_ANONYMOUS:
		return ("anonymous logon refused");
	case NTLM_ERR_TIME_SKEW:
		return ("response timestamp outside the allowed skew");
	case NTLM_ERR_TARGET_INFO_MISMATCH:
		return ("echoed target info differs from the challenge");
	case NTLM_ERR_BAD_PROOF:
		return ("wrong password");
	case NTLM_ERR_BAD_MIC:
		return ("bad or missing MIC");
	case NTLM_ERR_INTERNAL:
		return ("internal error");
	}
	return ("unknown");
}
