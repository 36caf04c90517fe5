/*
 * Unit tests for the SPNEGO codec (auth/spnego.c, RFC 4178):
 *  - golden vectors recorded on this machine with MIT krb5 1.20 and
 *    gss-ntlmssp 1.2 (a throwaway KDC for EXAMPLE.TEST and an
 *    NTLM_USER_FILE, so nothing secret): a NegTokenInit offering krb5 and
 *    NTLMSSP with an AP-REQ, the acceptor's NegTokenResp with the AP-REP,
 *    a bare krb5 AP-REQ, and all four legs of an NTLMSSP-in-SPNEGO
 *    exchange (type 1 in a NegTokenInit, type 2 and type 3 in
 *    NegTokenResps, the last two with a mechListMIC);
 *  - a Windows-style NegTokenInit (MS-KRB5, krb5, NEGOEX, NTLMSSP);
 *  - classification of every kind of Negotiate token;
 *  - round trips: every NegTokenInit field combination, built here by an
 *    independent DER writer, parsed back; every NegTokenResp combination
 *    built by spnego_build_resp(), compared with the same writer and
 *    parsed back; the builder's size and argument limits;
 *  - refusals: a table of malformed tokens, each with the exact reason
 *    expected, and every truncation of every valid token here (parsed
 *    from an exact-size heap copy, so a sanitizer build catches any read
 *    past the end).
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spnego.h"
#include "unit.h"
#include "vectors_gssntlm.h"

#define BIG	(70 * 1024)	/* room for a token needing 3 length octets */

/* A DER writer for the tests, written apart from the one under test. */
struct blob {
	uint8_t	b[BIG + 256];
	size_t	n;
};

static struct blob tmp_ml, tmp_f, tmp_tok, tmp_want;
static uint8_t tmp_out[BIG + 256], big_token[BIG];

/* An exact-size heap copy, so that reading one byte too far is caught. */
static uint8_t *
dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n == 0 ? 1 : n);

	if (c == NULL)
		abort();
	if (n > 0)
		memcpy(c, p, n);
	return (c);
}

/* Hex to an exact-size heap buffer; free() it. */
static uint8_t *
hexdup(const char *hex, size_t *n)
{
	static uint8_t b[4096];

	*n = unit_unhex(hex, b, sizeof(b));
	return (dup_exact(b, *n));
}

static void
b_cat(struct blob *o, const uint8_t *p, size_t n)
{
	if (o->n + n > sizeof(o->b))
		abort();
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

/* Identifier plus shortest length (X.690 10.1), written the long way. */
static size_t
b_hdr(uint8_t *h, uint8_t tag, size_t n)
{
	h[0] = tag;
	if (n < 128) {
		h[1] = n;
		return (2);
	} else if (n < 256) {
		h[1] = 0x81;
		h[2] = n;
		return (3);
	} else if (n < 65536) {
		h[1] = 0x82;
		h[2] = n >> 8;
		h[3] = n & 0xff;
		return (4);
	}
	h[1] = 0x83;
	h[2] = n >> 16;
	h[3] = (n >> 8) & 0xff;
	h[4] = n & 0xff;
	return (5);
}

static void
b_tlv(struct blob *o, uint8_t tag, const uint8_t *v, size_t n)
{
	uint8_t h[8];

	b_cat(o, h, b_hdr(h, tag, n));
	b_cat(o, v, n);
}

/* o = tag { o } */
static void
b_wrap(struct blob *o, uint8_t tag)
{
	uint8_t h[8];
	size_t hl = b_hdr(h, tag, o->n);

	if (o->n + hl > sizeof(o->b))
		abort();
	memmove(o->b + hl, o->b, o->n);
	memcpy(o->b, h, hl);
	o->n += hl;
}

/* Append [num] { tag { v } }. */
static void
b_field(struct blob *o, int num, uint8_t tag, const uint8_t *v, size_t n)
{
	tmp_f.n = 0;
	b_tlv(&tmp_f, tag, v, n);
	b_wrap(&tmp_f, 0xa0 | num);
	b_cat(o, tmp_f.b, tmp_f.n);
}

/* OID contents of the mechanisms, as RFC 4121 and MS-NLMP spell them. */
static const uint8_t oid_krb5[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12,
    0x01, 0x02, 0x02 };
static const uint8_t oid_mskrb5[] = { 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12,
    0x01, 0x02, 0x02 };
static const uint8_t oid_ntlmssp[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82,
    0x37, 0x02, 0x02, 0x0a };
static const uint8_t oid_negoex[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82,
    0x37, 0x02, 0x02, 0x1e };
static const uint8_t oid_spnego[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02 };

static void
b_mech(struct blob *o, enum spnego_mech m)
{
	switch (m) {
	case SPNEGO_MECH_KRB5:
		b_tlv(o, 0x06, oid_krb5, sizeof(oid_krb5));
		break;
	case SPNEGO_MECH_MSKRB5:
		b_tlv(o, 0x06, oid_mskrb5, sizeof(oid_mskrb5));
		break;
	case SPNEGO_MECH_NTLMSSP:
		b_tlv(o, 0x06, oid_ntlmssp, sizeof(oid_ntlmssp));
		break;
	default:
		b_tlv(o, 0x06, oid_negoex, sizeof(oid_negoex));
		break;
	}
}

/*
 * A NegTokenInit in its InitialContextToken into tmp_tok; the
 * MechTypeList's DER is left in tmp_ml.  reqflags, tok and mic are
 * written when not 0/NULL.
 */
static void
mk_init(const enum spnego_mech *mechs, size_t nmechs, int reqflags,
    const uint8_t *tok, size_t toklen, const uint8_t *mic, size_t miclen)
{
	static const uint8_t flags[] = { 0x01, 0x60 };	/* mutualFlag, replayFlag */
	size_t i;

	tmp_ml.n = 0;
	for (i = 0; i < nmechs; i++)
		b_mech(&tmp_ml, mechs[i]);
	b_wrap(&tmp_ml, 0x30);

	tmp_tok.n = 0;
	b_tlv(&tmp_tok, 0xa0, tmp_ml.b, tmp_ml.n);
	if (reqflags)
		b_field(&tmp_tok, 1, 0x03, flags, sizeof(flags));
	if (tok != NULL)
		b_field(&tmp_tok, 2, 0x04, tok, toklen);
	if (mic != NULL)
		b_field(&tmp_tok, 3, 0x04, mic, miclen);
	b_wrap(&tmp_tok, 0x30);
	b_wrap(&tmp_tok, 0xa0);
	tmp_f.n = 0;
	b_tlv(&tmp_f, 0x06, oid_spnego, sizeof(oid_spnego));
	b_cat(&tmp_f, tmp_tok.b, tmp_tok.n);
	tmp_tok.n = 0;
	b_tlv(&tmp_tok, 0x60, tmp_f.b, tmp_f.n);
}

/* A NegTokenResp into tmp_want, by the test writer. */
static void
mk_resp(enum spnego_state st, enum spnego_mech mech, const uint8_t *tok,
    size_t toklen, const uint8_t *mic, size_t miclen)
{
	uint8_t s = (uint8_t)st;

	tmp_want.n = 0;
	if (st != SPNEGO_STATE_ABSENT)
		b_field(&tmp_want, 0, 0x0a, &s, 1);
	if (mech != SPNEGO_MECH_OTHER) {
		tmp_ml.n = 0;
		b_mech(&tmp_ml, mech);
		b_tlv(&tmp_want, 0xa1, tmp_ml.b, tmp_ml.n);
	}
	if (tok != NULL)
		b_field(&tmp_want, 2, 0x04, tok, toklen);
	if (mic != NULL)
		b_field(&tmp_want, 3, 0x04, mic, miclen);
	b_wrap(&tmp_want, 0x30);
	b_wrap(&tmp_want, 0xa1);
}

static int
inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
	return (p != NULL && p >= buf && p + n <= buf + len);
}

/* ---- golden vectors ---- */

/*
 * MIT krb5 1.20 initiator, credentials for both krb5 and gss-ntlmssp,
 * target HTTP@proxy.example.test: a NegTokenInit with mechTypes { krb5,
 * NTLMSSP } (MIT leaves out MS-KRB5) and an optimistic AP-REQ.
 */
static const char mit_init[] =
    "6082030d06062b0601050502a0820301308202fda019301706092a864886f712"
    "010202060a2b06010401823702020aa28202de048202da608202d606092a8648"
    "86f71201020201006e8202c5308202c1a003020105a10302010ea20703050020"
    "000000a38201d8618201d4308201d0a003020105a10e1b0c4558414d504c452e"
    "54455354a2253023a003020103a11c301a1b04485454501b1270726f78792e65"
    "78616d706c652e74657374a38201903082018ca003020112a103020102a28201"
    "7e0482017a1f70824382925fbada5fe4b9cbe0185990e317baca192c3044dca1"
    "b5c657dada3c69390474550a03dc74ed77beefacceb077ccf84318567f39dbb3"
    "a9f726290be277e19c8ac2190c7d91788a3997e1a17383e118ec19460a645a86"
    "a4556be33ee2633fd8e8cfc1121936c3c792d35763bc50b2d3cfc4a94ff8d826"
    "a516322b6715ccd967a96b38d6d6129914eab42d55eb977bdb9281448cc192ac"
    "532723efc2ec043431361c6c818cdc344abbe9926431635ccd9f0603d6f9ed32"
    "9533f6b7131a8cae31d6aeeccab9511d2274f41a09cbad722d01fb80fa7a1e30"
    "3bd1bd43c21b60cc180c8c3da348c323fe33a47fddbc9e4ff96a329ac8a624fb"
    "f11d28913a026855f48b87edb24dc31baa08ee17cf93fcf38cfe6f517cf1ef80"
    "f529207659a22839eb830db46ded233fbc63db6c69172cd028846b91dc7b0257"
    "e2ff9f60bdcc703f8119cd121131e1b8097d44311b1d5cd5a68f9185bbf8769c"
    "9bd3b6a7ff7219030898bd7516593c29e985ec5190d064046c15b60924894ca4"
    "81cf3081cca003020112a281c40481c1f7a1b85518f19903362a567bea7a3aa4"
    "c182b5b54cd912ab7bba4366ea0f81e859583a794e569f09b96fb607ffd78b1e"
    "809647eefc755f27e96f0a8c54fd379a0879dad7790da30c137beaabe235b316"
    "5b559e960b5cbcfa358788c4f9f74a02fdda1e6b0765b5e88aeef72c1dd96cb1"
    "4f6c3248114d744826fe98ac17e19a450c902ae1eb41841394bb1af2954dfe8e"
    "211d5528e4be3fa79f142c77270e51ca10c99a3f505fa6389837bec8fe0b3465"
    "ea4b1b7bfde7ba35fd69ce77ca88b4b537";

/* The MIT acceptor's answer: accept-completed, krb5, AP-REP (mutual). */
static const char mit_resp[] =
    "a181b73081b4a0030a0100a10b06092a864886f712010202a2819f04819c6081"
    "9906092a864886f71201020202006f8189308186a003020105a10302010fa27a"
    "3078a003020112a271046ffad05cd9cc0652ab0ddcfe55ea2d603310edb29620"
    "fbc1a1fb1db879c101ee9e179cef5b49893289dbeac20b88d1d65f82a6bfa319"
    "c2db7190d5cbc98cdd392695fccfd8030281252d632a987901814bfb89696876"
    "07c0092291a7c16363a680cd16adf39ba4e4340cd2a6d46dd326";

/* The same initiator with the krb5 mech: a bare AP-REQ (RFC 4121 4.1). */
static const char mit_krb5[] =
    "608202d606092a864886f71201020201006e8202c5308202c1a003020105a103"
    "02010ea20703050020000000a38201d8618201d4308201d0a003020105a10e1b"
    "0c4558414d504c452e54455354a2253023a003020103a11c301a1b0448545450"
    "1b1270726f78792e6578616d706c652e74657374a38201903082018ca0030201"
    "12a103020102a282017e0482017a1f70824382925fbada5fe4b9cbe0185990e3"
    "17baca192c3044dca1b5c657dada3c69390474550a03dc74ed77beefacceb077"
    "ccf84318567f39dbb3a9f726290be277e19c8ac2190c7d91788a3997e1a17383"
    "e118ec19460a645a86a4556be33ee2633fd8e8cfc1121936c3c792d35763bc50"
    "b2d3cfc4a94ff8d826a516322b6715ccd967a96b38d6d6129914eab42d55eb97"
    "7bdb9281448cc192ac532723efc2ec043431361c6c818cdc344abbe992643163"
    "5ccd9f0603d6f9ed329533f6b7131a8cae31d6aeeccab9511d2274f41a09cbad"
    "722d01fb80fa7a1e303bd1bd43c21b60cc180c8c3da348c323fe33a47fddbc9e"
    "4ff96a329ac8a624fbf11d28913a026855f48b87edb24dc31baa08ee17cf93fc"
    "f38cfe6f517cf1ef80f529207659a22839eb830db46ded233fbc63db6c69172c"
    "d028846b91dc7b0257e2ff9f60bdcc703f8119cd121131e1b8097d44311b1d5c"
    "d5a68f9185bbf8769c9bd3b6a7ff7219030898bd7516593c29e985ec5190d064"
    "046c15b60924894ca481cf3081cca003020112a281c40481c18602baeea68d96"
    "f6b1f2bbb19a07ee297750064f0eebfb0f1cce478293d6d4275e8b1de58feca2"
    "67fc97b2c2f21c17ba12a6e325470259fd94dfcee7b7abfbb5fb9af4286a8cd8"
    "0c3fb790f5640f634706681d0ee7ab5c8d9736d6249a77964ebf4aa040a048f9"
    "7924a4d11f46c9f168ede27f6be718d25c72c2eb80c3b43f1b766a91b4eaf2f8"
    "3140dcd2ee2f35ba782e23b55d261b33c60b16ff89538a9ca688ae40ca05806e"
    "b4fbb5d9c9d7dc5b3b2f38a883385c79c9ce255d9632ba3c4418";

/*
 * What Windows' SSPI Negotiate package sends (MS-SPNG): mechTypes
 * { MS-KRB5, krb5, NEGOEX, NTLMSSP } and an optimistic AP-REQ, here a
 * 15-byte stand-in with the right framing.
 */
static const char win_init[] =
    "6053"				/* [APPLICATION 0] */
    "06062b0601050502"			/*  thisMech 1.3.6.1.5.5.2 */
    "a049" "3047"			/*  negTokenInit [0] SEQUENCE */
    "a030" "302e"			/*   mechTypes [0] SEQUENCE OF */
    "06092a864882f712010202"		/*    1.2.840.48018.1.2.2 */
    "06092a864886f712010202"		/*    1.2.840.113554.1.2.2 */
    "060a2b06010401823702021e"		/*    1.3.6.1.4.1.311.2.2.30 */
    "060a2b06010401823702020a"		/*    1.3.6.1.4.1.311.2.2.10 */
    "a213" "0411"			/*   mechToken [2] OCTET STRING */
    "600f06092a864886f71201020201006e00";

static void
test_classify(void)
{
	static const struct {
		const char	*name;
		const char	*hex;
		enum spnego_kind kind;
	} t[] = {
		{ "empty", "", SPNEGO_NOT },
		{ "NTLMSSP signature alone", "4e544c4d53535000",
		    SPNEGO_RAW_NTLMSSP },
		{ "NTLMSSP NEGOTIATE start", "4e544c4d535350000100000007",
		    SPNEGO_RAW_NTLMSSP },
		{ "seven bytes of the signature", "4e544c4d535350",
		    SPNEGO_NOT },
		{ "signature without its NUL", "4e544c4d53535001",
		    SPNEGO_NOT },
		{ "base64 text", "546c524d545653545541", SPNEGO_NOT },
		{ "lone 0xa1", "a1", SPNEGO_RESP },
		{ "negTokenInit arm unframed", "a0023000", SPNEGO_NOT },
		{ "SEQUENCE", "30023000", SPNEGO_NOT },
		{ "krb5 framing", "600b06092a864886f712010202",
		    SPNEGO_RAW_KRB5 },
		{ "MS-KRB5 framing", "600b06092a864882f712010202",
		    SPNEGO_RAW_KRB5 },
		{ "SPNEGO framing", "600806062b0601050502", SPNEGO_INIT },
		{ "NTLMSSP OID framing", "600c060a2b06010401823702020a",
		    SPNEGO_NOT },
		{ "other OID framing", "600806062b0601050503", SPNEGO_NOT },
		{ "outer length past the end", "600906062b0601050502",
		    SPNEGO_NOT },
		{ "indefinite outer length", "608006062b06010505020000",
		    SPNEGO_NOT },
		{ "OID cut short", "600806062b06010505", SPNEGO_NOT },
		{ "first element not an OID", "60020400", SPNEGO_NOT },
		{ "malformed OID", "600406022b80", SPNEGO_NOT },
		{ "lone 0x60", "60", SPNEGO_NOT },
	};
	static const struct {
		const char	*name;
		const char	*hex;
		enum spnego_kind kind;
	} g[] = {
		{ "mit_init", mit_init, SPNEGO_INIT },
		{ "mit_resp", mit_resp, SPNEGO_RESP },
		{ "mit_krb5", mit_krb5, SPNEGO_RAW_KRB5 },
		{ "gssntlm_init", gssntlm_init, SPNEGO_INIT },
		{ "gssntlm_t2", gssntlm_t2, SPNEGO_RESP },
		{ "gssntlm_t3", gssntlm_t3, SPNEGO_RESP },
		{ "gssntlm_done", gssntlm_done, SPNEGO_RESP },
		{ "win_init", win_init, SPNEGO_INIT },
	};
	enum spnego_kind k;
	uint8_t *b;
	size_t i, n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		b = hexdup(t[i].hex, &n);
		k = spnego_classify(b, n);
		CHECK(k == t[i].kind, "classify %s: %d, want %d", t[i].name,
		    k, t[i].kind);
		free(b);
	}
	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		b = hexdup(g[i].hex, &n);
		k = spnego_classify(b, n);
		CHECK(k == g[i].kind, "classify %s: %d, want %d", g[i].name,
		    k, g[i].kind);
		free(b);
	}
	CHECK(spnego_classify(NULL, 0) == SPNEGO_NOT, "NULL");
}

/* Rebuild a parsed NegTokenResp and compare it with the original bytes. */
static int
rebuilds(const struct spnego_resp *sr, const uint8_t *buf, size_t n)
{
	int l;

	l = spnego_build_resp(sr->state, sr->supported_mech,
	    sr->response_token, sr->response_token_len, sr->mic, sr->mic_len,
	    tmp_out, sizeof(tmp_out));
	return (l >= 0 && (size_t)l == n && memcmp(tmp_out, buf, n) == 0);
}

static void
test_golden_mit(void)
{
	static const char ml[] =
	    "3017 06092a864886f712010202 060a2b06010401823702020a";
	uint8_t mlb[64], *b;
	struct spnego_init si;
	struct spnego_resp sr;
	const char *why;
	size_t n, mln;
	int r;

	mln = unit_unhex(ml, mlb, sizeof(mlb));

	b = hexdup(mit_init, &n);
	CHECK(n == 785, "mit_init length %zu", n);
	r = spnego_parse_init(b, n, &si, &why);
	CHECK(r == 0, "mit_init: %s", why);
	CHECK(si.nmechs == 2 && si.mechs[0] == SPNEGO_MECH_KRB5 &&
	    si.mechs[1] == SPNEGO_MECH_NTLMSSP, "mit_init mechs");
	CHECK(si.mech_list == b + 22 && si.mech_list_len == mln &&
	    memcmp(si.mech_list, mlb, mln) == 0, "mit_init mech_list");
	CHECK(si.mech_token == b + 55 && si.mech_token_len == 730 &&
	    spnego_classify(si.mech_token, si.mech_token_len) ==
	    SPNEGO_RAW_KRB5, "mit_init mech_token");
	CHECK(si.mic == NULL && si.mic_len == 0, "mit_init mic");
	r = spnego_parse_resp(b, n, &sr, &why);
	CHECK(r == -1 && strcmp(why, "SPNEGO: not a NegTokenResp") == 0,
	    "mit_init as a NegTokenResp");
	free(b);

	b = hexdup(mit_resp, &n);
	r = spnego_parse_resp(b, n, &sr, &why);
	CHECK(r == 0, "mit_resp: %s", why);
	CHECK(sr.state == SPNEGO_ACCEPT_COMPLETED, "mit_resp state %d",
	    sr.state);
	CHECK(sr.has_supported_mech && sr.supported_mech == SPNEGO_MECH_KRB5,
	    "mit_resp supportedMech");
	CHECK(sr.response_token == b + 30 && sr.response_token_len == 156 &&
	    spnego_classify(sr.response_token, sr.response_token_len) ==
	    SPNEGO_RAW_KRB5, "mit_resp responseToken");
	CHECK(sr.mic == NULL && sr.mic_len == 0, "mit_resp mic");
	CHECK(rebuilds(&sr, b, n), "mit_resp rebuilt");
	r = spnego_parse_init(b, n, &si, &why);
	CHECK(r == -1 && strcmp(why, "SPNEGO: not an InitialContextToken") ==
	    0, "mit_resp as a NegTokenInit");
	free(b);

	b = hexdup(mit_krb5, &n);
	r = spnego_parse_init(b, n, &si, &why);
	CHECK(r == -1 && strcmp(why, "SPNEGO: not the SPNEGO mechanism") ==
	    0, "mit_krb5 as a NegTokenInit: %s", r == 0 ? "accepted" : why);
	r = spnego_parse_resp(b, n, &sr, &why);
	CHECK(r == -1 && strcmp(why, "SPNEGO: not a NegTokenResp") == 0,
	    "mit_krb5 as a NegTokenResp");
	free(b);
}

static void
test_golden_ntlmssp(void)
{
	static const enum spnego_mech ntlm[] = { SPNEGO_MECH_NTLMSSP };
	struct spnego_init si;
	struct spnego_resp sr;
	const char *why;
	uint8_t *b;
	size_t n;
	int r;

	b = hexdup(gssntlm_init, &n);
	r = spnego_parse_init(b, n, &si, &why);
	CHECK(r == 0, "gssntlm_init: %s", why);
	CHECK(si.nmechs == 1 && si.mechs[0] == SPNEGO_MECH_NTLMSSP,
	    "gssntlm_init mechs");
	CHECK(si.mech_list == b + 16 && si.mech_list_len == 14 &&
	    si.mech_list[0] == 0x30, "gssntlm_init mech_list");
	CHECK(si.mech_token == b + 34 && si.mech_token_len == 40 &&
	    spnego_classify(si.mech_token, si.mech_token_len) ==
	    SPNEGO_RAW_NTLMSSP && si.mech_token[8] == 1,
	    "gssntlm_init mech_token");
	CHECK(si.mic == NULL, "gssntlm_init mic");
	/* The test's DER writer agrees with gss-ntlmssp byte for byte. */
	if (r == 0) {
		mk_init(ntlm, 1, 0, si.mech_token, si.mech_token_len, NULL, 0);
		CHECK(tmp_tok.n == n && memcmp(tmp_tok.b, b, n) == 0,
		    "gssntlm_init rebuilt by the test writer");
	}
	free(b);

	b = hexdup(gssntlm_t2, &n);
	r = spnego_parse_resp(b, n, &sr, &why);
	CHECK(r == 0, "gssntlm_t2: %s", why);
	CHECK(sr.state == SPNEGO_ACCEPT_INCOMPLETE, "gssntlm_t2 state");
	CHECK(sr.has_supported_mech &&
	    sr.supported_mech == SPNEGO_MECH_NTLMSSP, "gssntlm_t2 mech");
	CHECK(sr.response_token_len == 126 && sr.response_token != NULL &&
	    spnego_classify(sr.response_token, sr.response_token_len) ==
	    SPNEGO_RAW_NTLMSSP && sr.response_token[8] == 2,
	    "gssntlm_t2 CHALLENGE");
	CHECK(sr.mic == NULL, "gssntlm_t2 mic");
	CHECK(rebuilds(&sr, b, n), "gssntlm_t2 rebuilt");
	free(b);

	b = hexdup(gssntlm_t3, &n);
	r = spnego_parse_resp(b, n, &sr, &why);
	CHECK(r == 0, "gssntlm_t3: %s", why);
	CHECK(sr.state == SPNEGO_ACCEPT_INCOMPLETE, "gssntlm_t3 state");
	CHECK(!sr.has_supported_mech &&
	    sr.supported_mech == SPNEGO_MECH_OTHER, "gssntlm_t3 mech");
	CHECK(sr.response_token == b + 21 && sr.response_token_len == 296 &&
	    sr.response_token[8] == 3, "gssntlm_t3 AUTHENTICATE");
	/* NTLMSSP_MESSAGE_SIGNATURE (MS-NLMP 2.2.2.9.1): version 1 */
	CHECK(sr.mic == b + n - 16 && sr.mic_len == 16 && sr.mic[0] == 1,
	    "gssntlm_t3 mechListMIC");
	CHECK(rebuilds(&sr, b, n), "gssntlm_t3 rebuilt");
	free(b);

	b = hexdup(gssntlm_done, &n);
	r = spnego_parse_resp(b, n, &sr, &why);
	CHECK(r == 0, "gssntlm_done: %s", why);
	CHECK(sr.state == SPNEGO_ACCEPT_COMPLETED && !sr.has_supported_mech &&
	    sr.response_token == NULL && sr.response_token_len == 0,
	    "gssntlm_done fields");
	CHECK(sr.mic == b + n - 16 && sr.mic_len == 16 && sr.mic[0] == 1,
	    "gssntlm_done mechListMIC");
	CHECK(rebuilds(&sr, b, n), "gssntlm_done rebuilt");
	free(b);
}

static void
test_windows(void)
{
	struct spnego_init si;
	const char *why;
	uint8_t *b;
	size_t n;
	int r;

	b = hexdup(win_init, &n);
	r = spnego_parse_init(b, n, &si, &why);
	CHECK(r == 0, "win_init: %s", why);
	CHECK(si.nmechs == 4 && si.mechs[0] == SPNEGO_MECH_MSKRB5 &&
	    si.mechs[1] == SPNEGO_MECH_KRB5 &&
	    si.mechs[2] == SPNEGO_MECH_OTHER &&
	    si.mechs[3] == SPNEGO_MECH_NTLMSSP, "win_init mechs");
	CHECK(si.mech_list == b + 16 && si.mech_list_len == 48,
	    "win_init mech_list");
	CHECK(si.mech_token == b + n - 17 && si.mech_token_len == 17 &&
	    spnego_classify(si.mech_token, si.mech_token_len) ==
	    SPNEGO_RAW_KRB5, "win_init mech_token");
	CHECK(si.mic == NULL, "win_init mic");
	free(b);
}

/* What parsing tmp_tok should give; NULL if it does, else what differs. */
static const char *
init_mismatch(const enum spnego_mech *mechs, size_t nmechs,
    const uint8_t *tok, size_t toklen, const uint8_t *mic, size_t miclen)
{
	struct spnego_init si;
	const char *why, *bad = NULL;
	uint8_t *b;
	size_t i, n = tmp_tok.n;

	b = dup_exact(tmp_tok.b, n);
	if (spnego_parse_init(b, n, &si, &why) == -1)
		bad = why;
	else if (si.nmechs != (nmechs < SPNEGO_MAX_MECHS ? nmechs :
	    SPNEGO_MAX_MECHS))
		bad = "nmechs";
	else if (!inside(si.mech_list, si.mech_list_len, b, n) ||
	    si.mech_list_len != tmp_ml.n ||
	    memcmp(si.mech_list, tmp_ml.b, tmp_ml.n) != 0)
		bad = "mech_list";
	else if (tok == NULL ? si.mech_token != NULL ||
	    si.mech_token_len != 0 :
	    !inside(si.mech_token, si.mech_token_len, b, n) ||
	    si.mech_token_len != toklen ||
	    memcmp(si.mech_token, tok, toklen) != 0)
		bad = "mech_token";
	else if (mic == NULL ? si.mic != NULL || si.mic_len != 0 :
	    !inside(si.mic, si.mic_len, b, n) || si.mic_len != miclen ||
	    memcmp(si.mic, mic, miclen) != 0)
		bad = "mic";
	for (i = 0; bad == NULL && i < si.nmechs; i++)
		if (si.mechs[i] != mechs[i])
			bad = "mechs";
	free(b);
	return (bad);
}

static void
test_roundtrip_init(void)
{
	static const enum spnego_mech mechs[] = { SPNEGO_MECH_MSKRB5,
	    SPNEGO_MECH_KRB5, SPNEGO_MECH_OTHER, SPNEGO_MECH_NTLMSSP };
	static const size_t sizes[] = { 0, 1, 127, 128, 255, 256, 65535,
	    65536 };
	const size_t nsizes = sizeof(sizes) / sizeof(sizes[0]);
	const uint8_t *tok, *mic;
	const char *bad;
	size_t s, nm, toklen, miclen;
	int mask;

	for (mask = 0; mask < 8; mask++) {
		for (s = 0; s < nsizes; s++) {
			/* Sizes matter only with a token or a MIC. */
			if ((mask & 6) == 0 && s > 0)
				break;
			nm = 1 + (mask + s) % 4;
			toklen = sizes[s];
			miclen = sizes[(s + 3) % nsizes];
			tok = mask & 2 ? big_token : NULL;
			mic = mask & 4 ? big_token + 1 : NULL;
			mk_init(mechs, nm, mask & 1, tok, toklen, mic, miclen);
			bad = init_mismatch(mechs, nm, tok, toklen, mic,
			    miclen);
			CHECK(bad == NULL, "init round trip: mechs %zu, "
			    "reqFlags %d, token %zd, mic %zd: %s", nm, mask & 1,
			    tok ? (ssize_t)toklen : -1,
			    mic ? (ssize_t)miclen : -1, bad);
		}
	}
}

/* More mechanisms than kept: the first SPNEGO_MAX_MECHS, in order. */
static void
test_max_mechs(void)
{
	enum spnego_mech mechs[SPNEGO_MAX_MECHS + 4];
	const char *bad;
	size_t i;

	for (i = 0; i < SPNEGO_MAX_MECHS + 4; i++)
		mechs[i] = (enum spnego_mech)((i * 3 + 1) % 4);
	mk_init(mechs, SPNEGO_MAX_MECHS + 4, 0, NULL, 0, NULL, 0);
	bad = init_mismatch(mechs, SPNEGO_MAX_MECHS + 4, NULL, 0, NULL, 0);
	CHECK(bad == NULL, "%d mechs: %s", SPNEGO_MAX_MECHS + 4, bad);
	mk_init(mechs, SPNEGO_MAX_MECHS, 0, NULL, 0, NULL, 0);
	bad = init_mismatch(mechs, SPNEGO_MAX_MECHS, NULL, 0, NULL, 0);
	CHECK(bad == NULL, "%d mechs: %s", SPNEGO_MAX_MECHS, bad);
}

static void
test_roundtrip_resp(void)
{
	static const enum spnego_state states[] = { SPNEGO_STATE_ABSENT,
	    SPNEGO_ACCEPT_COMPLETED, SPNEGO_ACCEPT_INCOMPLETE, SPNEGO_REJECT,
	    SPNEGO_REQUEST_MIC };
	static const enum spnego_mech mechs[] = { SPNEGO_MECH_OTHER,
	    SPNEGO_MECH_KRB5, SPNEGO_MECH_MSKRB5, SPNEGO_MECH_NTLMSSP };
	static const ssize_t toks[] = { -1, 0, 40, 127, 128, 300, 65536 };
	static const ssize_t mics[] = { -1, 0, 16 };
	struct spnego_resp sr;
	const uint8_t *tok, *mic;
	const char *why, *bad;
	size_t si, mi, ti, ci, toklen, miclen;
	uint8_t *b;
	int l;

	for (si = 0; si < sizeof(states) / sizeof(states[0]); si++)
	for (mi = 0; mi < sizeof(mechs) / sizeof(mechs[0]); mi++)
	for (ti = 0; ti < sizeof(toks) / sizeof(toks[0]); ti++)
	for (ci = 0; ci < sizeof(mics) / sizeof(mics[0]); ci++) {
		tok = toks[ti] < 0 ? NULL : big_token;
		toklen = toks[ti] < 0 ? 0 : (size_t)toks[ti];
		mic = mics[ci] < 0 ? NULL : big_token + 7;
		miclen = mics[ci] < 0 ? 0 : (size_t)mics[ci];
		l = spnego_build_resp(states[si], mechs[mi], tok, toklen, mic,
		    miclen, tmp_out, sizeof(tmp_out));
		mk_resp(states[si], mechs[mi], tok, toklen, mic, miclen);
		bad = NULL;
		if (l < 0 || (size_t)l != tmp_want.n ||
		    memcmp(tmp_out, tmp_want.b, tmp_want.n) != 0)
			bad = "built bytes";
		else if (spnego_build_resp(states[si], mechs[mi], tok, toklen,
		    mic, miclen, tmp_out, (size_t)l - 1) != -1)
			bad = "built into a buffer one byte short";
		if (bad == NULL) {
			b = dup_exact(tmp_want.b, tmp_want.n);
			if (spnego_parse_resp(b, tmp_want.n, &sr, &why) == -1)
				bad = why;
			else if (sr.state != states[si])
				bad = "state";
			else if (sr.has_supported_mech !=
			    (mechs[mi] != SPNEGO_MECH_OTHER) ||
			    sr.supported_mech != mechs[mi])
				bad = "supported_mech";
			else if (tok == NULL ? sr.response_token != NULL ||
			    sr.response_token_len != 0 :
			    !inside(sr.response_token, toklen, b, tmp_want.n) ||
			    sr.response_token_len != toklen ||
			    memcmp(sr.response_token, tok, toklen) != 0)
				bad = "response_token";
			else if (mic == NULL ? sr.mic != NULL ||
			    sr.mic_len != 0 :
			    !inside(sr.mic, miclen, b, tmp_want.n) ||
			    sr.mic_len != miclen ||
			    memcmp(sr.mic, mic, miclen) != 0)
				bad = "mic";
			free(b);
		}
		CHECK(bad == NULL, "resp round trip: state %d, mech %d, "
		    "token %zd, mic %zd: %s", states[si], mechs[mi], toks[ti],
		    mics[ci], bad);
	}
}

static void
test_build_limits(void)
{
	uint8_t out[128];
	size_t k, i, need;
	int l, untouched;

	l = spnego_build_resp(SPNEGO_ACCEPT_INCOMPLETE, SPNEGO_MECH_NTLMSSP,
	    big_token, 40, big_token, 16, out, sizeof(out));
	CHECK(l == 2 + 2 + 5 + 14 + 44 + 20, "built %d bytes", l);
	need = l > 0 ? (size_t)l : 0;
	/* Nothing is written unless the whole token fits. */
	for (k = 0, untouched = 1; k < need && untouched; k++) {
		memset(out, 0xee, sizeof(out));
		l = spnego_build_resp(SPNEGO_ACCEPT_INCOMPLETE,
		    SPNEGO_MECH_NTLMSSP, big_token, 40, big_token, 16, out, k);
		for (i = 0; i < sizeof(out); i++)
			if (out[i] != 0xee)
				untouched = 0;
		if (l != -1)
			untouched = 0;
	}
	CHECK(need > 0 && untouched, "built into %zu bytes", k - 1);
	l = spnego_build_resp(SPNEGO_ACCEPT_INCOMPLETE, SPNEGO_MECH_NTLMSSP,
	    big_token, 40, big_token, 16, out, need);
	CHECK(need > 0 && l == (int)need, "exact fit: %d", l);

	l = spnego_build_resp(SPNEGO_STATE_ABSENT, SPNEGO_MECH_OTHER, NULL,
	    0, NULL, 0, out, sizeof(out));
	CHECK(l == 4 && memcmp(out, "\xa1\x02\x30\x00", 4) == 0,
	    "empty NegTokenResp: %d", l);
	CHECK(spnego_build_resp((enum spnego_state)4, SPNEGO_MECH_OTHER,
	    NULL, 0, NULL, 0, out, sizeof(out)) == -1, "negState 4");
	CHECK(spnego_build_resp((enum spnego_state)-2, SPNEGO_MECH_OTHER,
	    NULL, 0, NULL, 0, out, sizeof(out)) == -1, "negState -2");
	CHECK(spnego_build_resp(SPNEGO_REJECT, (enum spnego_mech)99, NULL,
	    0, NULL, 0, out, sizeof(out)) == -1, "mech 99");
	CHECK(spnego_build_resp(SPNEGO_REJECT, SPNEGO_MECH_OTHER, NULL, 0,
	    NULL, 0, NULL, 64) == -1, "NULL out");
	CHECK(spnego_build_resp(SPNEGO_REJECT, SPNEGO_MECH_OTHER, big_token,
	    SIZE_MAX, NULL, 0, tmp_out, sizeof(tmp_out)) == -1,
	    "SIZE_MAX token");
	CHECK(spnego_build_resp(SPNEGO_REJECT, SPNEGO_MECH_OTHER, NULL, 0,
	    big_token, SIZE_MAX / 2, tmp_out, sizeof(tmp_out)) == -1,
	    "huge mic");
	/* Lengths of lengths: 1, 2 and 3 octets, written minimal. */
	l = spnego_build_resp(SPNEGO_STATE_ABSENT, SPNEGO_MECH_OTHER,
	    big_token, 65536, NULL, 0, tmp_out, sizeof(tmp_out));
	CHECK(l == 65536 + 5 + 5 + 5 + 5 && tmp_out[0] == 0xa1 &&
	    tmp_out[1] == 0x83 && tmp_out[2] == 0x01 && tmp_out[3] == 0x00 &&
	    tmp_out[4] == 0x0f, "64 KiB token: %d", l);
}

/* Valid if unusual: accepted. */
static void
test_accept(void)
{
	struct spnego_init si;
	struct spnego_resp sr;
	const char *why;
	uint8_t *b;
	size_t n;
	int r;

	b = hexdup("a1023000", &n);
	r = spnego_parse_resp(b, n, &sr, &why);
	CHECK(r == 0 && sr.state == SPNEGO_STATE_ABSENT &&
	    !sr.has_supported_mech && sr.response_token == NULL &&
	    sr.mic == NULL, "empty NegTokenResp");
	free(b);

	/* An unknown supportedMech is there, just not one of ours. */
	b = hexdup("a10c300aa10806062b0601050502", &n);
	r = spnego_parse_resp(b, n, &sr, &why);
	CHECK(r == 0 && sr.has_supported_mech &&
	    sr.supported_mech == SPNEGO_MECH_OTHER, "unknown supportedMech");
	free(b);

	/* reqFlags with no bits, then a mechListMIC and no mechToken. */
	b = hexdup("602806062b0601050502a01e301ca00e300c060a2b06010401823702"
	    "020aa1030301 00a305040300 0102", &n);
	r = spnego_parse_init(b, n, &si, &why);
	CHECK(r == 0 && si.nmechs == 1 && si.mech_token == NULL &&
	    si.mic_len == 3 && si.mic == b + n - 3,
	    "reqFlags without bits: %s", r == 0 ? "fields" : why);
	free(b);
}

/* Malformed tokens, each with the exact reason it must be refused for. */
struct bad {
	const char	*name;
	const char	*hex;
	const char	*why;
};

static const struct bad bad_init[] = {
	{ "indefinite outer length",
	    "608006062b0601050502a0223020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d53535000010000000000",
	    "SPNEGO: indefinite length" },
	{ "indefinite mechTypes length",
	    "601e06062b0601050502a0143012a0103080060a2b06010401823702"
	    "020a0000",
	    "SPNEGO: indefinite length" },
	{ "five length octets",
	    "6085000000002c06062b0601050502a0223020a00e300c060a2b0601"
	    "0401823702020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: length too long" },
	{ "length form 0xff",
	    "60ff06062b0601050502a0223020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: length too long" },
	{ "outer length 0x81 for a short form",
	    "60812c06062b0601050502a0223020a00e300c060a2b060104018237"
	    "02020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: non-minimal length" },
	{ "outer length with a leading zero octet",
	    "6082002c06062b0601050502a0223020a00e300c060a2b0601040182"
	    "3702020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: non-minimal length" },
	{ "mechToken length 0x82 0x00 0x80 (128 zero bytes)",
	    "6081a506062b0601050502a0819a308197a00e300c060a2b06010401"
	    "823702020aa2818404820080"
	    "00000000000000000000000000000000000000000000000000000000"
	    "00000000000000000000000000000000000000000000000000000000"
	    "00000000000000000000000000000000000000000000000000000000"
	    "00000000000000000000000000000000000000000000000000000000"
	    "00000000000000000000000000000000",
	    "SPNEGO: non-minimal length" },
	{ "mechToken length 0x82 0x00 0x0c",
	    "602e06062b0601050502a0243022a00e300c060a2b06010401823702"
	    "020aa2100482000c4e544c4d5353500001000000",
	    "SPNEGO: non-minimal length" },
	{ "outer length one past the end",
	    "602d06062b0601050502a0223020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: truncated" },
	{ "length octets cut short",
	    "608201",
	    "SPNEGO: truncated" },
	{ "tag only",
	    "60",
	    "SPNEGO: truncated" },
	{ "trailing byte after the token",
	    "602c06062b0601050502a0223020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d535350000100000000",
	    "SPNEGO: trailing bytes" },
	{ "trailing byte inside [APPLICATION 0]",
	    "602d06062b0601050502a0223020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d535350000100000000",
	    "SPNEGO: trailing bytes" },
	{ "trailing byte inside negTokenInit [0]",
	    "602d06062b0601050502a0233020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d535350000100000000",
	    "SPNEGO: trailing bytes" },
	{ "trailing byte inside mechTypes [0]",
	    "602d06062b0601050502a0233021a00f300c060a2b06010401823702"
	    "020a00a20e040c4e544c4d5353500001000000",
	    "SPNEGO: trailing bytes" },
	{ "trailing byte inside mechToken [2]",
	    "602d06062b0601050502a0233021a00e300c060a2b06010401823702"
	    "020aa20f040c4e544c4d535350000100000000",
	    "SPNEGO: trailing bytes" },
	{ "mechToken longer than its [2]",
	    "602406062b0601050502a01a3018a00e300c060a2b06010401823702"
	    "020aa20604104e544c4d",
	    "SPNEGO: truncated" },
	{ "mechTypes SEQUENCE longer than its [0]",
	    "602c06062b0601050502a0223020a00e300d060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: truncated" },
	{ "duplicate mechToken",
	    "603c06062b0601050502a0323030a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000a20e040c4e544c4d5353"
	    "500001000000",
	    "SPNEGO: duplicate field" },
	{ "duplicate mechTypes",
	    "602b06062b0601050502a021301fa00e300c060a2b06010401823702"
	    "020aa00d300b06092a864886f712010202",
	    "SPNEGO: duplicate field" },
	{ "mechToken before reqFlags",
	    "603206062b0601050502a0283026a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000a10403020000",
	    "SPNEGO: fields out of order" },
	{ "mechListMIC before mechToken",
	    "604006062b0601050502a0363034a00e300c060a2b06010401823702"
	    "020aa3120410000102030405060708090a0b0c0d0e0fa20e040c4e54"
	    "4c4d5353500001000000",
	    "SPNEGO: fields out of order" },
	{ "no mechTypes",
	    "601c06062b0601050502a0123010a20e040c4e544c4d535350000100"
	    "0000",
	    "SPNEGO: mechTypes missing" },
	{ "empty NegTokenInit",
	    "600c06062b0601050502a0023000",
	    "SPNEGO: mechTypes missing" },
	{ "empty mechTypes",
	    "602006062b0601050502a0163014a0023000a20e040c4e544c4d5353"
	    "500001000000",
	    "SPNEGO: mechTypes empty" },
	{ "mech OID with a leading 0x80 octet",
	    "601d06062b0601050502a0133011a00f300d060b2b06010401808237"
	    "02020a",
	    "SPNEGO: bad OID" },
	{ "mech OID ends inside a subidentifier",
	    "601406062b0601050502a00a3008a006300406022b86",
	    "SPNEGO: bad OID" },
	{ "empty mech OID",
	    "601206062b0601050502a0083006a00430020600",
	    "SPNEGO: bad OID" },
	{ "thisMech OID with a leading 0x80 octet",
	    "602d06072b060105800502a0223020a00e300c060a2b060104018237"
	    "02020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: bad OID" },
	{ "mech not an OID",
	    "601806062b0601050502a00e300ca00a300804062b0601050502",
	    "SPNEGO: expected an OID" },
	{ "thisMech not an OID",
	    "602c04062b0601050502a0223020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: expected an OID" },
	{ "mechTypes a SET",
	    "601c06062b0601050502a0123010a00e310c060a2b06010401823702"
	    "020a",
	    "SPNEGO: expected a SEQUENCE" },
	{ "negTokenInit a SET",
	    "602c06062b0601050502a0223120a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: expected a SEQUENCE" },
	{ "bare krb5 framing",
	    "602f06092a864886f712010202a0223020a00e300c060a2b06010401"
	    "823702020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: not the SPNEGO mechanism" },
	{ "ntlmssp framing",
	    "6030060a2b06010401823702020aa0223020a00e300c060a2b060104"
	    "01823702020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: not the SPNEGO mechanism" },
	{ "negTokenResp inside [APPLICATION 0]",
	    "602c06062b0601050502a1223020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: not a NegTokenInit" },
	{ "SEQUENCE instead of [APPLICATION 0]",
	    "302c06062b0601050502a0223020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: not an InitialContextToken" },
	{ "[APPLICATION 0] primitive",
	    "402c06062b0601050502a0223020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: not an InitialContextToken" },
	{ "mechToken a SEQUENCE",
	    "602c06062b0601050502a0223020a00e300c060a2b06010401823702"
	    "020aa20e300c4e544c4d5353500001000000",
	    "SPNEGO: expected an OCTET STRING" },
	{ "mechToken a constructed OCTET STRING",
	    "602e06062b0601050502a0243022a00e300c060a2b06010401823702"
	    "020aa210240e040c4e544c4d5353500001000000",
	    "SPNEGO: expected an OCTET STRING" },
	{ "mechListMIC with a primitive [3]",
	    "602e06062b0601050502a0243022a00e300c060a2b06010401823702"
	    "020a8310000102030405060708090a0b0c0d0e0f",
	    "SPNEGO: expected a context tag" },
	{ "universal element among the fields",
	    "602a06062b0601050502a020301ea00e300c060a2b06010401823702"
	    "020a040c4e544c4d5353500001000000",
	    "SPNEGO: expected a context tag" },
	{ "unknown field [4]",
	    "603006062b0601050502a0263024a00e300c060a2b06010401823702"
	    "020aa4120410000102030405060708090a0b0c0d0e0f",
	    "SPNEGO: unknown field" },
	{ "negHints [3] of NegTokenInit2",
	    "604806062b0601050502a03e303ca00e300c060a2b06010401823702"
	    "020aa32a3028a0261b246e6f745f646566696e65645f696e5f524643"
	    "3431373840706c656173655f69676e6f7265",
	    "SPNEGO: expected an OCTET STRING" },
	{ "high-tag-number field",
	    "603106062b0601050502a0273025a00e300c060a2b06010401823702"
	    "020abf04120410000102030405060708090a0b0c0d0e0f",
	    "SPNEGO: unsupported tag" },
	{ "reqFlags an INTEGER",
	    "602106062b0601050502a0173015a00e300c060a2b06010401823702"
	    "020aa103020100",
	    "SPNEGO: bad reqFlags" },
	{ "reqFlags with 8 unused bits",
	    "602206062b0601050502a0183016a00e300c060a2b06010401823702"
	    "020aa10403020800",
	    "SPNEGO: bad reqFlags" },
	{ "reqFlags without its initial octet",
	    "602006062b0601050502a0163014a00e300c060a2b06010401823702"
	    "020aa1020300",
	    "SPNEGO: bad reqFlags" },
	{ "reqFlags unused bits but no bits",
	    "602106062b0601050502a0173015a00e300c060a2b06010401823702"
	    "020aa103030107",
	    "SPNEGO: bad reqFlags" },
	{ "17th mech malformed",
	    "6081d806062b0601050502a081cd3081caa081c73081c4060a2b0601"
	    "0401823702020a060a2b06010401823702020a060a2b060104018237"
	    "02020a060a2b06010401823702020a060a2b06010401823702020a06"
	    "0a2b06010401823702020a060a2b06010401823702020a060a2b0601"
	    "0401823702020a060a2b06010401823702020a060a2b060104018237"
	    "02020a060a2b06010401823702020a060a2b06010401823702020a06"
	    "0a2b06010401823702020a060a2b06010401823702020a060a2b0601"
	    "0401823702020a060a2b06010401823702020a06022b80",
	    "SPNEGO: bad OID" },
};

static const struct bad bad_resp[] = {
	{ "indefinite length",
	    "a1803023a0030a0101a10c060a2b06010401823702020aa20e040c4e"
	    "544c4d53535000010000000000",
	    "SPNEGO: indefinite length" },
	{ "five length octets",
	    "a18500000000253023a0030a0101a10c060a2b06010401823702020a"
	    "a20e040c4e544c4d5353500001000000",
	    "SPNEGO: length too long" },
	{ "length 0x81 for a short form",
	    "a181253023a0030a0101a10c060a2b06010401823702020aa20e040c"
	    "4e544c4d5353500001000000",
	    "SPNEGO: non-minimal length" },
	{ "length past the end",
	    "a1263023a0030a0101a10c060a2b06010401823702020aa20e040c4e"
	    "544c4d5353500001000000",
	    "SPNEGO: truncated" },
	{ "empty choice",
	    "a100",
	    "SPNEGO: truncated" },
	{ "trailing byte after the token",
	    "a1253023a0030a0101a10c060a2b06010401823702020aa20e040c4e"
	    "544c4d535350000100000000",
	    "SPNEGO: trailing bytes" },
	{ "trailing byte inside [1]",
	    "a1263023a0030a0101a10c060a2b06010401823702020aa20e040c4e"
	    "544c4d535350000100000000",
	    "SPNEGO: trailing bytes" },
	{ "negState 4",
	    "a1073005a0030a0104",
	    "SPNEGO: bad negState" },
	{ "negState 0xff",
	    "a1073005a0030a01ff",
	    "SPNEGO: bad negState" },
	{ "negState two octets",
	    "a1083006a0040a020001",
	    "SPNEGO: bad negState" },
	{ "negState empty",
	    "a1063004a0020a00",
	    "SPNEGO: bad negState" },
	{ "negState an INTEGER",
	    "a1073005a003020100",
	    "SPNEGO: bad negState" },
	{ "negState with a trailing byte",
	    "a1083006a0040a010000",
	    "SPNEGO: trailing bytes" },
	{ "supportedMech not an OID",
	    "a110300ea10c040a2b06010401823702020a",
	    "SPNEGO: expected an OID" },
	{ "supportedMech with a leading 0x80 octet",
	    "a111300fa10d060b2b0601040180823702020a",
	    "SPNEGO: bad OID" },
	{ "supportedMech with a trailing byte",
	    "a111300fa10d060a2b06010401823702020a00",
	    "SPNEGO: trailing bytes" },
	{ "supportedMech before negState",
	    "a1153013a10c060a2b06010401823702020aa0030a0101",
	    "SPNEGO: fields out of order" },
	{ "negState twice",
	    "a10c300aa0030a0101a0030a0101",
	    "SPNEGO: duplicate field" },
	{ "mechListMIC twice",
	    "a12a3028a3120410000102030405060708090a0b0c0d0e0fa3120410"
	    "000102030405060708090a0b0c0d0e0f",
	    "SPNEGO: duplicate field" },
	{ "unknown field [4]",
	    "a11b3019a0030a0100a4120410000102030405060708090a0b0c0d0e"
	    "0f",
	    "SPNEGO: unknown field" },
	{ "responseToken a BIT STRING",
	    "a1133011a20f030d004e544c4d5353500001000000",
	    "SPNEGO: expected an OCTET STRING" },
	{ "mechListMIC an INTEGER",
	    "a1073005a303020101",
	    "SPNEGO: expected an OCTET STRING" },
	{ "responseToken longer than its [2]",
	    "a1123010a20e04204e544c4d5353500001000000",
	    "SPNEGO: truncated" },
	{ "negTokenInit arm",
	    "a0253023a0030a0101a10c060a2b06010401823702020aa20e040c4e"
	    "544c4d5353500001000000",
	    "SPNEGO: not a NegTokenResp" },
	{ "InitialContextToken",
	    "602c06062b0601050502a0223020a00e300c060a2b06010401823702"
	    "020aa20e040c4e544c4d5353500001000000",
	    "SPNEGO: not a NegTokenResp" },
	{ "NegTokenResp a SET",
	    "a1253123a0030a0101a10c060a2b06010401823702020aa20e040c4e"
	    "544c4d5353500001000000",
	    "SPNEGO: expected a SEQUENCE" },
	{ "primitive [2]",
	    "a110300e820c4e544c4d5353500001000000",
	    "SPNEGO: expected a context tag" },
};

static void
run_bad(const struct bad *t, size_t nt, int init)
{
	struct spnego_init si;
	struct spnego_resp sr;
	const char *why;
	uint8_t *b;
	size_t i, n;
	int r;

	for (i = 0; i < nt; i++) {
		b = hexdup(t[i].hex, &n);
		why = NULL;
		if (init)
			r = spnego_parse_init(b, n, &si, &why);
		else
			r = spnego_parse_resp(b, n, &sr, &why);
		CHECK(r == -1 && why != NULL && strcmp(why, t[i].why) == 0,
		    "%s %s: %s, want %s", init ? "init" : "resp", t[i].name,
		    r == 0 ? "accepted" : why, t[i].why);
		(void)spnego_classify(b, n);
		free(b);
	}
}

/*
 * Every proper prefix of a valid token must be refused, from a buffer of
 * exactly that size; one byte more is trailing garbage.
 */
static void
truncations(const char *name, const uint8_t *tok, size_t n, int init)
{
	struct spnego_init si;
	struct spnego_resp sr;
	const char *why, *want = NULL;
	uint8_t *b;
	size_t k, first = 0;
	int r, bad = 0;

	for (k = 0; k < n; k++) {
		b = dup_exact(tok, k);
		why = NULL;
		r = spnego_parse_init(b, k, &si, &why);
		if (r != -1 || why == NULL)
			bad++;
		why = NULL;
		r = spnego_parse_resp(b, k, &sr, &why);
		if (r != -1 || why == NULL)
			bad++;
		(void)spnego_classify(b, k);
		if (bad > 0 && first == 0)
			first = k + 1;
		free(b);
	}
	CHECK(bad == 0, "%s: %d prefixes accepted, the first %zu bytes",
	    name, bad, first - 1);

	b = malloc(n + 1);
	if (b == NULL)
		abort();
	memcpy(b, tok, n);
	b[n] = 0;
	why = NULL;
	if (init)
		r = spnego_parse_init(b, n + 1, &si, &why);
	else
		r = spnego_parse_resp(b, n + 1, &sr, &why);
	want = "SPNEGO: trailing bytes";
	CHECK(r == -1 && why != NULL && strcmp(why, want) == 0,
	    "%s plus a byte: %s", name, r == 0 ? "accepted" : why);
	/* The whole token itself parses: the prefixes failed for a reason. */
	if (init)
		r = spnego_parse_init(b, n, &si, &why);
	else
		r = spnego_parse_resp(b, n, &sr, &why);
	CHECK(r == 0, "%s: %s", name, why);
	free(b);
}

static void
test_truncation(void)
{
	static const struct {
		const char	*name;
		const char	*hex;
		int		 init;
	} g[] = {
		{ "mit_init", mit_init, 1 },
		{ "mit_resp", mit_resp, 0 },
		{ "gssntlm_init", gssntlm_init, 1 },
		{ "gssntlm_t2", gssntlm_t2, 0 },
		{ "gssntlm_t3", gssntlm_t3, 0 },
		{ "gssntlm_done", gssntlm_done, 0 },
		{ "win_init", win_init, 1 },
	};
	static const enum spnego_mech mechs[] = { SPNEGO_MECH_KRB5,
	    SPNEGO_MECH_NTLMSSP };
	uint8_t *b;
	size_t i, n;
	int l;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		b = hexdup(g[i].hex, &n);
		truncations(g[i].name, b, n, g[i].init);
		free(b);
	}
	/* Every field, with one-, two- and three-octet lengths. */
	mk_init(mechs, 2, 1, big_token, 300, big_token, 16);
	truncations("built init", tmp_tok.b, tmp_tok.n, 1);
	l = spnego_build_resp(SPNEGO_REQUEST_MIC, SPNEGO_MECH_MSKRB5,
	    big_token, 200, big_token, 16, tmp_out, sizeof(tmp_out));
	CHECK(l > 0, "build");
	if (l > 0)
		truncations("built resp", tmp_out, (size_t)l, 0);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(big_token); i++)
		big_token[i] = (uint8_t)(i * 7 + 1);
	test_classify();
	test_golden_mit();
	test_golden_ntlmssp();
	test_windows();
	test_roundtrip_init();
	test_max_mechs();
	test_roundtrip_resp();
	test_build_limits();
	test_accept();
	run_bad(bad_init, sizeof(bad_init) / sizeof(bad_init[0]), 1);
	run_bad(bad_resp, sizeof(bad_resp) / sizeof(bad_resp[0]), 0);
	test_truncation();
	return (unit_done("t_spnego"));
}
