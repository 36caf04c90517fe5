/*
 * libFuzzer target for the SPNEGO codec (auth/spnego.c).
 *
 * Every input is classified and goes through both parsers.  Besides
 * looking for out-of-bounds reads, it checks what auth_negotiate.c relies
 * on: a refusal always has a reason, whatever parses was classified as
 * that kind, every pointer lies inside the input, and what the parsers
 * return can be built back.  A NegTokenInit's fields answered in a
 * NegTokenResp parse back unchanged; a NegTokenResp is rebuilt from its
 * fields and, DER being one encoding per value (X.690 section 10), comes
 * out byte for byte the same unless it named a mechanism we do not know
 * (the builder cannot write those).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spnego.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)

/* Headers and the small fields of a NegTokenResp, with room to spare. */
#define RESP_OVERHEAD	64

static int
inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
	return (p != NULL && p >= buf && n <= len &&
	    (size_t)(p - buf) <= len - n);
}

/* p/n is absent (NULL, 0) or lies within buf. */
static int
field_ok(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
	return (p == NULL ? n == 0 : inside(p, n, buf, len));
}

static int
same(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	if (a == NULL || b == NULL)
		return (a == NULL && b == NULL && al == 0 && bl == 0);
	return (al == bl && (al == 0 || memcmp(a, b, al) == 0));
}

static void
check_mech(enum spnego_mech m)
{
	REQUIRE(m == SPNEGO_MECH_OTHER || m == SPNEGO_MECH_KRB5 ||
	    m == SPNEGO_MECH_MSKRB5 || m == SPNEGO_MECH_NTLMSSP);
}

/*
 * Build a NegTokenResp into a buffer of exactly the size needed (so ASan
 * sees any overrun), check one byte less is refused, and parse it back.
 */
static uint8_t *
build_and_parse(enum spnego_state st, enum spnego_mech mech,
    const uint8_t *tok, size_t toklen, const uint8_t *mic, size_t miclen,
    size_t room, struct spnego_resp *sr, int *outlen)
{
	uint8_t *out, *exact;
	const char *why = NULL;
	int l;

	out = malloc(room);
	REQUIRE(out != NULL);
	l = spnego_build_resp(st, mech, tok, toklen, mic, miclen, out, room);
	REQUIRE(l > 0 && (size_t)l <= room);
	REQUIRE(spnego_build_resp(st, mech, tok, toklen, mic, miclen, out,
	    (size_t)l - 1) == -1);
	exact = malloc((size_t)l);
	REQUIRE(exact != NULL);
	memcpy(exact, out, (size_t)l);
	free(out);
	REQUIRE(spnego_classify(exact, (size_t)l) == SPNEGO_RESP);
	REQUIRE(spnego_parse_resp(exact, (size_t)l, sr, &why) == 0);
	REQUIRE(field_ok(sr->response_token, sr->response_token_len, exact,
	    (size_t)l));
	REQUIRE(field_ok(sr->mic, sr->mic_len, exact, (size_t)l));
	*outlen = l;
	return (exact);
}

static void
fuzz_init(const uint8_t *data, size_t size, enum spnego_kind kind)
{
	struct spnego_init si;
	struct spnego_resp sr;
	const char *why = NULL;
	uint8_t *re;
	size_t i;
	int l;

	if (spnego_parse_init(data, size, &si, &why) == -1) {
		REQUIRE(why != NULL);
		return;
	}
	REQUIRE(kind == SPNEGO_INIT);
	REQUIRE(si.nmechs >= 1 && si.nmechs <= SPNEGO_MAX_MECHS);
	for (i = 0; i < si.nmechs; i++)
		check_mech(si.mechs[i]);
	REQUIRE(inside(si.mech_list, si.mech_list_len, data, size));
	REQUIRE(si.mech_list_len >= 2 && si.mech_list[0] == 0x30);
	REQUIRE(field_ok(si.mech_token, si.mech_token_len, data, size));
	REQUIRE(field_ok(si.mic, si.mic_len, data, size));

	/* Answer with what the client sent, as a gateway would echo. */
	re = build_and_parse(SPNEGO_ACCEPT_INCOMPLETE, si.mechs[0],
	    si.mech_token, si.mech_token_len, si.mic, si.mic_len,
	    size + RESP_OVERHEAD, &sr, &l);
	REQUIRE(sr.state == SPNEGO_ACCEPT_INCOMPLETE);
	REQUIRE(sr.has_supported_mech == (si.mechs[0] != SPNEGO_MECH_OTHER));
	REQUIRE(sr.supported_mech == si.mechs[0]);
	REQUIRE(same(sr.response_token, sr.response_token_len, si.mech_token,
	    si.mech_token_len));
	REQUIRE(same(sr.mic, sr.mic_len, si.mic, si.mic_len));
	free(re);
}

static void
fuzz_resp(const uint8_t *data, size_t size, enum spnego_kind kind)
{
	struct spnego_resp sr, sr2;
	const char *why = NULL;
	uint8_t *re;
	int l;

	if (spnego_parse_resp(data, size, &sr, &why) == -1) {
		REQUIRE(why != NULL);
		return;
	}
	REQUIRE(kind == SPNEGO_RESP);
	REQUIRE(sr.state >= SPNEGO_STATE_ABSENT &&
	    sr.state <= SPNEGO_REQUEST_MIC);
	check_mech(sr.supported_mech);
	REQUIRE(sr.has_supported_mech || sr.supported_mech ==
	    SPNEGO_MECH_OTHER);
	REQUIRE(field_ok(sr.response_token, sr.response_token_len, data,
	    size));
	REQUIRE(field_ok(sr.mic, sr.mic_len, data, size));

	re = build_and_parse(sr.state, sr.supported_mech, sr.response_token,
	    sr.response_token_len, sr.mic, sr.mic_len, size + RESP_OVERHEAD,
	    &sr2, &l);
	REQUIRE(sr2.state == sr.state);
	REQUIRE(sr2.supported_mech == sr.supported_mech);
	REQUIRE(same(sr2.response_token, sr2.response_token_len,
	    sr.response_token, sr.response_token_len));
	REQUIRE(same(sr2.mic, sr2.mic_len, sr.mic, sr.mic_len));
	/* Strict DER: one spelling, so the rebuild is the input. */
	if (!sr.has_supported_mech || sr.supported_mech != SPNEGO_MECH_OTHER)
		REQUIRE((size_t)l == size && memcmp(re, data, size) == 0);
	else
		REQUIRE((size_t)l < size);
	free(re);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum spnego_kind kind;

	kind = spnego_classify(data, size);
	REQUIRE(kind == SPNEGO_NOT || kind == SPNEGO_RAW_NTLMSSP ||
	    kind == SPNEGO_RAW_KRB5 || kind == SPNEGO_INIT ||
	    kind == SPNEGO_RESP);
	if (kind == SPNEGO_RAW_NTLMSSP)
		REQUIRE(size >= 8 && memcmp(data, "NTLMSSP", 8) == 0);
	if (kind == SPNEGO_INIT || kind == SPNEGO_RAW_KRB5)
		REQUIRE(size >= 2 && data[0] == 0x60);
	fuzz_init(data, size, kind);
	fuzz_resp(data, size, kind);
	return (0);
}
