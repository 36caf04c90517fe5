/*
 * SPNEGO token codec (RFC 4178) for HTTP Negotiate (RFC 4559).
 *
 * A Negotiate header carries one of: a GSS-API InitialContextToken
 * (RFC 2743 section 3.1, tag [APPLICATION 0]) holding either a SPNEGO
 * NegTokenInit or a bare Kerberos AP-REQ; a bare NegTokenResp on later
 * legs; or, from some clients, raw NTLMSSP.  This file tells them apart,
 * decodes the two SPNEGO messages the gateway reads and builds the one it
 * writes.
 *
 * Everything here is client input, so the DER reader is strict (X.690
 * section 10): one-octet tags, definite lengths in their shortest form
 * with at most four length octets, every element inside its parent,
 * nothing left over at any level, context tags in increasing order and
 * each at most once, well-formed OIDs.  That is what Windows, MIT and
 * Heimdal write; anything else is refused with a static reason.  The
 * parsers never allocate: results point into the caller's buffer.
 */

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "spnego.h"

/* Identifier octets (X.690 8.1.2): universal, application and context. */
#define DER_BITSTRING	0x03
#define DER_OCTETSTRING	0x04
#define DER_OID		0x06
#define DER_ENUMERATED	0x0a
#define DER_SEQUENCE	0x30	/* constructed */
#define DER_APP0	0x60	/* [APPLICATION 0], constructed */
#define DER_CTX(n)	(0xa0 | (n))	/* [n], constructed */

/* NegotiationToken CHOICE arms (RFC 4178 section 4.2). */
#define SPNEGO_TAG_INIT	DER_CTX(0)
#define SPNEGO_TAG_RESP	DER_CTX(1)

/* Field numbers of NegTokenInit (4.2.1) and NegTokenResp (4.2.2). */
#define INIT_MECHTYPES	0
#define INIT_REQFLAGS	1
#define INIT_MECHTOKEN	2
#define INIT_MIC	3
#define RESP_NEGSTATE	0
#define RESP_SUPPMECH	1
#define RESP_TOKEN	2
#define RESP_MIC	3

/* X.690 8.1.3.5: we take at most four length octets (4 GiB is plenty). */
#define DER_MAX_LENOCTETS	4

/*
 * Caps on what spnego_build_resp() encodes, so that every size sum stays
 * far from overflow and the total fits the int it returns.
 */
#define SPNEGO_BUILD_MAX	(INT_MAX / 4)

/* A window of DER still to read: [p, end). */
struct der {
	const uint8_t	*p;
	const uint8_t	*end;
};

/* OID contents octets (X.690 8.19), without tag and length. */
static const uint8_t oid_spnego[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02 };

static const struct {
	enum spnego_mech	 mech;
	const uint8_t		*oid;
	size_t			 len;
} spnego_mechs[] = {
	/* 1.2.840.113554.1.2.2 (RFC 4121) */
	{ SPNEGO_MECH_KRB5, (const uint8_t *)
	    "\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", 9 },
	/* 1.2.840.48018.1.2.2: 113554 cut to 16 bits by Windows 2000, kept */
	{ SPNEGO_MECH_MSKRB5, (const uint8_t *)
	    "\x2a\x86\x48\x82\xf7\x12\x01\x02\x02", 9 },
	/* 1.3.6.1.4.1.311.2.2.10 (MS-NLMP 1.9) */
	{ SPNEGO_MECH_NTLMSSP, (const uint8_t *)
	    "\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a", 10 },
};

static const uint8_t ntlmssp_sig[8] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P',
    0 };

static void
der_init(struct der *d, const uint8_t *buf, size_t len)
{
	d->p = buf;
	d->end = len == 0 ? buf : buf + len;
}

static int
der_empty(const struct der *d)
{
	return (d->p == d->end);
}

static size_t
der_left(const struct der *d)
{
	return ((size_t)(d->end - d->p));
}

/*
 * Read one element: identifier octet, length octets (X.690 8.1.3) and
 * contents.  On success *tag is the identifier, val spans the contents
 * and d has moved past the element.  A length that runs past the end of
 * d, whether the buffer or an enclosing element, reads as truncation.
 */
static int
der_tag_len(struct der *d, uint8_t *tag, struct der *val, const char **why)
{
	const uint8_t *p = d->p;
	size_t len, n, i;

	if (der_left(d) < 2) {
		*why = "SPNEGO: truncated";
		return (-1);
	}
	*tag = *p++;
	/* No SPNEGO type needs the high-tag-number form (8.1.2.4). */
	if ((*tag & 0x1f) == 0x1f) {
		*why = "SPNEGO: unsupported tag";
		return (-1);
	}
	len = *p++;
	if (len == 0x80) {
		/* 8.1.3.6: BER only; DER forbids it (10.1). */
		*why = "SPNEGO: indefinite length";
		return (-1);
	}
	if (len & 0x80) {
		n = len & 0x7f;
		if (n > DER_MAX_LENOCTETS) {
			*why = "SPNEGO: length too long";
			return (-1);
		}
		if ((size_t)(d->end - p) < n) {
			*why = "SPNEGO: truncated";
			return (-1);
		}
		for (len = 0, i = 0; i < n; i++)
			len = len << 8 | p[i];
		/*
		 * 10.1: the shortest form, so no leading zero octet and no
		 * long form for what fits the short one.  A second spelling
		 * of the same token is never needed and only helps hide
		 * things from whatever inspects tokens before us.
		 */
		if (p[0] == 0 || len < 0x80) {
			*why = "SPNEGO: non-minimal length";
			return (-1);
		}
		p += n;
	}
	if ((size_t)(d->end - p) < len) {
		*why = "SPNEGO: truncated";
		return (-1);
	}
	val->p = p;
	val->end = p + len;
	d->p = p + len;
	return (0);
}

/* Read one element that must carry the given tag, else fail with wrong. */
static int
der_expect(struct der *d, uint8_t want, struct der *val, const char *wrong,
    const char **why)
{
	uint8_t tag;

	if (der_tag_len(d, &tag, val, why) == -1)
		return (-1);
	if (tag != want) {
		*why = wrong;
		return (-1);
	}
	return (0);
}

/*
 * The contents of an explicitly tagged field (RFC 4178's module uses
 * EXPLICIT TAGS, section 4.2) are exactly one element of the given type.
 */
static int
der_inner(struct der *field, uint8_t want, struct der *val,
    const char *wrong, const char **why)
{
	if (der_expect(field, want, val, wrong, why) == -1)
		return (-1);
	if (!der_empty(field)) {
		*why = "SPNEGO: trailing bytes";
		return (-1);
	}
	return (0);
}

/*
 * Next field of a SEQUENCE whose members are all [n] EXPLICIT: 1 with
 * *num and val set, 0 at the end, -1 on error.  A SEQUENCE's components
 * come in declaration order (X.690 8.9.2), each at most once, and the
 * SPNEGO types number their fields in that order: so *last (start at -1)
 * enforces strictly increasing tags.
 */
static int
der_field(struct der *seq, int *last, int *num, struct der *val,
    const char **why)
{
	uint8_t tag;

	if (der_empty(seq))
		return (0);
	if (der_tag_len(seq, &tag, val, why) == -1)
		return (-1);
	if ((tag & 0xe0) != DER_CTX(0)) {
		*why = "SPNEGO: expected a context tag";
		return (-1);
	}
	*num = tag & 0x1f;
	if (*num == *last) {
		*why = "SPNEGO: duplicate field";
		return (-1);
	}
	if (*num < *last) {
		*why = "SPNEGO: fields out of order";
		return (-1);
	}
	*last = *num;
	return (1);
}

/*
 * An OID's contents (X.690 8.19.2): at least one subidentifier, each in
 * base 128 with the high bit on all octets but its last, and no leading
 * 0x80 octet (that would be a second spelling of the same number).
 */
static int
der_oid_ok(const struct der *oid)
{
	const uint8_t *p;
	int first = 1;

	if (der_empty(oid) || (oid->end[-1] & 0x80))
		return (0);
	for (p = oid->p; p < oid->end; p++) {
		if (first && *p == 0x80)
			return (0);
		first = (*p & 0x80) == 0;
	}
	return (1);
}

/* Read an OBJECT IDENTIFIER element and check its encoding. */
static int
der_oid(struct der *d, struct der *oid, const char **why)
{
	if (der_expect(d, DER_OID, oid, "SPNEGO: expected an OID", why) == -1)
		return (-1);
	if (!der_oid_ok(oid)) {
		*why = "SPNEGO: bad OID";
		return (-1);
	}
	return (0);
}

static int
der_oid_is(const struct der *oid, const uint8_t *want, size_t len)
{
	return (der_left(oid) == len && memcmp(oid->p, want, len) == 0);
}

/* The mechanism a well-formed OID names; unknown ones are OTHER. */
static enum spnego_mech
der_oid_mech(const struct der *oid)
{
	size_t i;

	for (i = 0; i < sizeof(spnego_mechs) / sizeof(spnego_mechs[0]); i++)
		if (der_oid_is(oid, spnego_mechs[i].oid, spnego_mechs[i].len))
			return (spnego_mechs[i].mech);
	return (SPNEGO_MECH_OTHER);
}

/* Read an [n] { OCTET STRING } field's contents. */
static int
der_octets(struct der *field, const uint8_t **p, size_t *len,
    const char **why)
{
	struct der v;

	if (der_inner(field, DER_OCTETSTRING, &v,
	    "SPNEGO: expected an OCTET STRING", why) == -1)
		return (-1);
	/* Present but empty is still present: never NULL here. */
	*p = v.p;
	*len = der_left(&v);
	return (0);
}

/*
 * Classify a Negotiate token by its framing.  Only the outer header and
 * the first OID are looked at (the outer element must fit the buffer);
 * the parsers, or GSS-API for a bare AP-REQ, decide the rest.
 */
enum spnego_kind
spnego_classify(const uint8_t *buf, size_t len)
{
	struct der d, tok, oid;
	const char *why;
	uint8_t tag;

	if (buf == NULL || len == 0)
		return (SPNEGO_NOT);
	/*
	 * Not SPNEGO at all, yet Windows puts a bare NTLMSSP message under
	 * "Negotiate" when it skips SPNEGO (RFC 4559 does not describe it).
	 */
	if (len >= sizeof(ntlmssp_sig) &&
	    memcmp(buf, ntlmssp_sig, sizeof(ntlmssp_sig)) == 0)
		return (SPNEGO_RAW_NTLMSSP);
	/* Later legs are a bare NegotiationToken (RFC 4178 section 4.2). */
	if (buf[0] == SPNEGO_TAG_RESP)
		return (SPNEGO_RESP);
	if (buf[0] != DER_APP0)
		return (SPNEGO_NOT);

	/* RFC 2743 3.1: [APPLICATION 0] { thisMech OID, innerToken }. */
	der_init(&d, buf, len);
	if (der_tag_len(&d, &tag, &tok, &why) == -1 ||
	    der_oid(&tok, &oid, &why) == -1)
		return (SPNEGO_NOT);
	if (der_oid_is(&oid, oid_spnego, sizeof(oid_spnego)))
		return (SPNEGO_INIT);
	switch (der_oid_mech(&oid)) {
	case SPNEGO_MECH_KRB5:
	case SPNEGO_MECH_MSKRB5:
		/* RFC 4121 4.1: a bare krb5 AP-REQ, no SPNEGO around it. */
		return (SPNEGO_RAW_KRB5);
	default:
		return (SPNEGO_NOT);
	}
}

/* MechTypeList ::= SEQUENCE OF MechType (RFC 4178 section 4.1). */
static int
spnego_mechtypes(struct der *field, struct spnego_init *si, const char **why)
{
	struct der list, oid;
	const uint8_t *start = field->p;

	if (der_inner(field, DER_SEQUENCE, &list,
	    "SPNEGO: expected a SEQUENCE", why) == -1)
		return (-1);
	/* The mechListMIC covers the DER of this SEQUENCE (section 5). */
	si->mech_list = start;
	si->mech_list_len = (size_t)(field->p - start);
	if (der_empty(&list)) {
		*why = "SPNEGO: mechTypes empty";
		return (-1);
	}
	while (!der_empty(&list)) {
		/* Every OID is checked, even those past what we keep. */
		if (der_oid(&list, &oid, why) == -1)
			return (-1);
		if (si->nmechs < SPNEGO_MAX_MECHS)
			si->mechs[si->nmechs++] = der_oid_mech(&oid);
	}
	return (0);
}

/*
 * reqFlags ContextFlags (a BIT STRING): RFC 4178 4.2.1 says to ignore it,
 * but it must still be a BIT STRING (X.690 8.6.2: an initial octet giving
 * 0..7 unused bits, which must be 0 when there are no further octets).
 */
static int
spnego_reqflags(struct der *field, const char **why)
{
	struct der bits;

	if (der_inner(field, DER_BITSTRING, &bits, "SPNEGO: bad reqFlags",
	    why) == -1)
		return (-1);
	if (der_empty(&bits) || bits.p[0] > 7 ||
	    (der_left(&bits) == 1 && bits.p[0] != 0)) {
		*why = "SPNEGO: bad reqFlags";
		return (-1);
	}
	return (0);
}

/*
 * Parse a whole InitialContextToken holding a NegTokenInit (RFC 2743
 * section 3.1, RFC 4178 section 4.2.1) from buf[0..len).  Fills *si with
 * pointers into buf.  Returns 0, or -1 with *why set to a static reason.
 */
int
spnego_parse_init(const uint8_t *buf, size_t len, struct spnego_init *si,
    const char **why)
{
	struct der d, tok, oid, choice, seq, field;
	int last = -1, num, r;

	memset(si, 0, sizeof(*si));
	*why = NULL;
	if (buf == NULL || len == 0) {
		*why = "SPNEGO: truncated";
		return (-1);
	}
	der_init(&d, buf, len);
	if (der_expect(&d, DER_APP0, &tok,
	    "SPNEGO: not an InitialContextToken", why) == -1)
		return (-1);
	/* The header gives the token's length: the buffer holds just that. */
	if (!der_empty(&d)) {
		*why = "SPNEGO: trailing bytes";
		return (-1);
	}
	if (der_oid(&tok, &oid, why) == -1)
		return (-1);
	if (!der_oid_is(&oid, oid_spnego, sizeof(oid_spnego))) {
		*why = "SPNEGO: not the SPNEGO mechanism";
		return (-1);
	}
	/* A client starts with the negTokenInit arm (4.2). */
	if (der_inner(&tok, SPNEGO_TAG_INIT, &choice,
	    "SPNEGO: not a NegTokenInit", why) == -1)
		return (-1);
	if (der_inner(&choice, DER_SEQUENCE, &seq,
	    "SPNEGO: expected a SEQUENCE", why) == -1)
		return (-1);

	/*
	 * Fields [0]..[3] of 4.2.1.  MS-SPNG's NegTokenInit2 (negHints [3],
	 * mechListMIC [4]) only ever flows from server to client, so a [4]
	 * here is as unknown as any other extension.
	 */
	while ((r = der_field(&seq, &last, &num, &field, why)) == 1) {
		switch (num) {
		case INIT_MECHTYPES:
			if (spnego_mechtypes(&field, si, why) == -1)
				return (-1);
			break;
		case INIT_REQFLAGS:
			if (spnego_reqflags(&field, why) == -1)
				return (-1);
			break;
		case INIT_MECHTOKEN:
			if (der_octets(&field, &si->mech_token,
			    &si->mech_token_len, why) == -1)
				return (-1);
			break;
		case INIT_MIC:
			if (der_octets(&field, &si->mic, &si->mic_len,
			    why) == -1)
				return (-1);
			break;
		default:
			*why = "SPNEGO: unknown field";
			return (-1);
		}
	}
	if (r == -1)
		return (-1);
	/* Not OPTIONAL; fields only ascend, so it could only have been first. */
	if (si->mech_list == NULL) {
		*why = "SPNEGO: mechTypes missing";
		return (-1);
	}
	return (0);
}

/* negState ENUMERATED (4.2.2): one contents octet, 0..3. */
static int
spnego_negstate(struct der *field, enum spnego_state *state,
    const char **why)
{
	struct der v;

	if (der_inner(field, DER_ENUMERATED, &v, "SPNEGO: bad negState",
	    why) == -1)
		return (-1);
	if (der_left(&v) != 1 || v.p[0] > SPNEGO_REQUEST_MIC) {
		*why = "SPNEGO: bad negState";
		return (-1);
	}
	*state = (enum spnego_state)v.p[0];
	return (0);
}

/*
 * Parse a whole NegTokenResp (RFC 4178 section 4.2.2), the bare [1] arm
 * of NegotiationToken, from buf[0..len).  Fills *sr with pointers into
 * buf; absent fields read as SPNEGO_STATE_ABSENT, has_supported_mech 0,
 * NULL.  Returns 0, or -1 with *why set to a static reason.
 */
int
spnego_parse_resp(const uint8_t *buf, size_t len, struct spnego_resp *sr,
    const char **why)
{
	struct der d, choice, seq, field, oid;
	int last = -1, num, r;

	memset(sr, 0, sizeof(*sr));
	sr->state = SPNEGO_STATE_ABSENT;
	sr->supported_mech = SPNEGO_MECH_OTHER;
	*why = NULL;
	if (buf == NULL || len == 0) {
		*why = "SPNEGO: truncated";
		return (-1);
	}
	der_init(&d, buf, len);
	if (der_expect(&d, SPNEGO_TAG_RESP, &choice,
	    "SPNEGO: not a NegTokenResp", why) == -1)
		return (-1);
	if (!der_empty(&d)) {
		*why = "SPNEGO: trailing bytes";
		return (-1);
	}
	if (der_inner(&choice, DER_SEQUENCE, &seq,
	    "SPNEGO: expected a SEQUENCE", why) == -1)
		return (-1);

	/* Every field is OPTIONAL; which ones a leg needs is the caller's. */
	while ((r = der_field(&seq, &last, &num, &field, why)) == 1) {
		switch (num) {
		case RESP_NEGSTATE:
			if (spnego_negstate(&field, &sr->state, why) == -1)
				return (-1);
			break;
		case RESP_SUPPMECH:
			if (der_oid(&field, &oid, why) == -1)
				return (-1);
			if (!der_empty(&field)) {
				*why = "SPNEGO: trailing bytes";
				return (-1);
			}
			sr->supported_mech = der_oid_mech(&oid);
			sr->has_supported_mech = 1;
			break;
		case RESP_TOKEN:
			if (der_octets(&field, &sr->response_token,
			    &sr->response_token_len, why) == -1)
				return (-1);
			break;
		case RESP_MIC:
			if (der_octets(&field, &sr->mic, &sr->mic_len,
			    why) == -1)
				return (-1);
			break;
		default:
			*why = "SPNEGO: unknown field";
			return (-1);
		}
	}
	return (r);
}

/* Octets in the shortest length encoding of n (X.690 8.1.3, 10.1). */
static size_t
der_len_size(size_t n)
{
	size_t s = 1;

	if (n < 0x80)
		return (1);
	while (n > 0) {
		s++;
		n >>= 8;
	}
	return (s);
}

/* Bytes of a whole element with n contents octets. */
static size_t
der_tlv_size(size_t n)
{
	return (1 + der_len_size(n) + n);
}

/* Write an identifier and the shortest length; returns the bytes used. */
static size_t
der_put_hdr(uint8_t *out, uint8_t tag, size_t n)
{
	size_t ls = der_len_size(n), i;

	out[0] = tag;
	if (ls == 1) {
		out[1] = (uint8_t)n;
		return (2);
	}
	out[1] = 0x80 | (uint8_t)(ls - 1);
	for (i = ls - 1; i > 0; i--) {
		out[1 + i] = n & 0xff;
		n >>= 8;
	}
	return (1 + ls);
}

/* Write [num] { tag contents } for contents of n octets. */
static size_t
der_put_field(uint8_t *out, int num, uint8_t tag, const uint8_t *v, size_t n)
{
	size_t off;

	off = der_put_hdr(out, (uint8_t)DER_CTX(num), der_tlv_size(n));
	off += der_put_hdr(out + off, tag, n);
	if (n > 0)
		memcpy(out + off, v, n);
	return (off + n);
}

/*
 * Write a NegTokenResp (RFC 4178 section 4.2.2) into out[0..outlen):
 * negState unless state is SPNEGO_STATE_ABSENT; supportedMech unless
 * mech is SPNEGO_MECH_OTHER; responseToken and mechListMIC when not NULL
 * (an empty one is written as an empty OCTET STRING).  Returns the length
 * written, or -1 if it does not fit or an argument is out of range.
 */
int
spnego_build_resp(enum spnego_state state, enum spnego_mech mech,
    const uint8_t *token, size_t token_len, const uint8_t *mic,
    size_t mic_len, uint8_t *out, size_t outlen)
{
	const uint8_t *oid = NULL;
	size_t oidlen = 0, seqlen = 0, total, off, i;
	uint8_t st;

	if (state < SPNEGO_STATE_ABSENT || state > SPNEGO_REQUEST_MIC)
		return (-1);
	if (mech != SPNEGO_MECH_OTHER) {
		for (i = 0; i < sizeof(spnego_mechs) / sizeof(spnego_mechs[0]);
		    i++)
			if (spnego_mechs[i].mech == mech) {
				oid = spnego_mechs[i].oid;
				oidlen = spnego_mechs[i].len;
			}
		if (oid == NULL)
			return (-1);
	}
	if ((token != NULL && token_len > SPNEGO_BUILD_MAX) ||
	    (mic != NULL && mic_len > SPNEGO_BUILD_MAX))
		return (-1);

	/* Sizes first: DER puts every length before its contents. */
	if (state != SPNEGO_STATE_ABSENT)
		seqlen += der_tlv_size(der_tlv_size(1));
	if (oid != NULL)
		seqlen += der_tlv_size(der_tlv_size(oidlen));
	if (token != NULL)
		seqlen += der_tlv_size(der_tlv_size(token_len));
	if (mic != NULL)
		seqlen += der_tlv_size(der_tlv_size(mic_len));
	total = der_tlv_size(der_tlv_size(seqlen));
	if (out == NULL || total > outlen)
		return (-1);

	off = der_put_hdr(out, SPNEGO_TAG_RESP, der_tlv_size(seqlen));
	off += der_put_hdr(out + off, DER_SEQUENCE, seqlen);
	if (state != SPNEGO_STATE_ABSENT) {
		st = (uint8_t)state;
		off += der_put_field(out + off, RESP_NEGSTATE, DER_ENUMERATED,
		    &st, 1);
	}
	if (oid != NULL)
		off += der_put_field(out + off, RESP_SUPPMECH, DER_OID, oid,
		    oidlen);
	if (token != NULL)
		off += der_put_field(out + off, RESP_TOKEN, DER_OCTETSTRING,
		    token, token_len);
	if (mic != NULL)
		off += der_put_field(out + off, RESP_MIC, DER_OCTETSTRING,
		    mic, mic_len);
	return ((int)off);
}
