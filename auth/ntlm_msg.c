/*
 * NTLMSSP wire format, server side (MS-NLMP section 2.2).
 *
 * Decodes the client's NEGOTIATE (type 1) and AUTHENTICATE (type 3)
 * messages and builds our CHALLENGE (type 2), plus the strict base64 the
 * HTTP headers carry them in (RFC 4559 section 4, MS-NTHT).  Everything a
 * client sends is hostile: every security buffer is checked against the
 * header size, the message length and a per-field cap before a byte of it
 * is read (the bug class of curl's CVE-2018-16890 and friends), names must
 * be valid UTF-16LE or UTF-8 without NUL or control characters, and the
 * decoders never allocate.  Verification lives in ntlm_crypto.c.
 */

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "ntlm.h"

static const uint8_t ntlm_sig[8] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0 };

/* Fixed header sizes, up to and excluding Version (MS-NLMP 2.2.1). */
#define NTLM_T1_HDR	32
#define NTLM_T1_MIN	16	/* Signature, MessageType, NegotiateFlags */
#define NTLM_T2_HDR	48
#define NTLM_T2_FULL	56	/* with Version */
#define NTLM_T3_HDR	64

/* Seconds from 1601-01-01 (FILETIME epoch) to 1970-01-01. */
#define NTLM_EPOCH_DELTA	11644473600LL

static const char ntlm_b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static uint16_t
ntlm_le16(const uint8_t *p)
{
	return ((uint16_t)(p[0] | (p[1] << 8)));
}

static uint32_t
ntlm_le32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static void
ntlm_put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void
ntlm_put32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

static int
ntlm_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

/*
 * Decode inlen bytes of base64 (RFC 4648 section 4) into out (outsz
 * bytes).  Strict: no whitespace, length a multiple of 4, '=' only as the
 * final one or two characters, the unused bits before the padding zero
 * (one canonical encoding per message, RFC 4648 section 3.5), nothing
 * empty and nothing that would not fit in outsz (which is all that bounds
 * it: a Kerberos ticket in Negotiate may be tens of KB).  Returns 0 and
 * sets *outlen, or -1.
 */
int
ntlm_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outsz,
    size_t *outlen)
{
	size_t i, j, n = 0, pad = 0;
	int v[4] = { 0, 0, 0, 0 };
	uint32_t w;

	*outlen = 0;
	if (inlen == 0 || inlen % 4 != 0)
		return (-1);
	if (in[inlen - 1] == '=')
		pad = in[inlen - 2] == '=' ? 2 : 1;
	if (inlen / 4 * 3 - pad > outsz)
		return (-1);
	for (i = 0; i < inlen; i += 4) {
		int last = i + 4 == inlen;

		for (j = 0; j < 4; j++) {
			if (last && j >= 4 - pad)
				v[j] = 0;
			else if ((v[j] = ntlm_b64val(in[i + j])) < 0)
				return (-1);
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		out[n++] = w >> 16;
		if (!last || pad < 2)
			out[n++] = (w >> 8) & 0xff;
		if (!last || pad < 1)
			out[n++] = w & 0xff;
	}
	/* Non-zero bits under the padding: a second spelling of the same bytes. */
	if ((pad == 1 && (v[2] & 0x03) != 0) ||
	    (pad == 2 && (v[1] & 0x0f) != 0))
		return (-1);
	*outlen = n;
	return (0);
}

/*
 * Encode len bytes as base64 into out, which must have room for
 * 4 * ceil(len / 3) + 1 bytes; the result is NUL-terminated.  Returns the
 * length written (without the NUL) or -1 if out is too small.
 */
int
ntlm_b64_encode(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	size_t i, n = 0;
	uint32_t w;

	if (len > NTLM_MAX_MSG || outsz < (len + 2) / 3 * 4 + 1)
		return (-1);
	for (i = 0; i < len; i += 3) {
		w = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			w |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			w |= in[i + 2];
		out[n++] = ntlm_b64chars[(w >> 18) & 0x3f];
		out[n++] = ntlm_b64chars[(w >> 12) & 0x3f];
		out[n++] = i + 1 < len ? ntlm_b64chars[(w >> 6) & 0x3f] : '=';
		out[n++] = i + 2 < len ? ntlm_b64chars[w & 0x3f] : '=';
	}
	out[n] = '\0';
	return ((int)n);
}

/*
 * One code point from strict UTF-8 (RFC 3629 section 4): no overlong
 * forms, no surrogates, nothing above U+10FFFF.  Returns the bytes used or
 * -1.
 */
static int
ntlm_utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint32_t c, min;
	size_t len, i;

	if (n == 0)
		return (-1);
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return (1);
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return (-1);
	if (n < len)
		return (-1);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (-1);
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return (-1);
	*cp = c;
	return ((int)len);
}

/* Append cp as UTF-8 to out[*n], leaving room for a NUL. */
static int
ntlm_utf8_put(uint32_t cp, char *out, size_t outsz, size_t *n)
{
	uint8_t b[4];
	size_t len;

	if (cp < 0x80) {
		b[0] = cp;
		len = 1;
	} else if (cp < 0x800) {
		b[0] = 0xc0 | (cp >> 6);
		b[1] = 0x80 | (cp & 0x3f);
		len = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | (cp >> 12);
		b[1] = 0x80 | ((cp >> 6) & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		len = 3;
	} else {
		b[0] = 0xf0 | (cp >> 18);
		b[1] = 0x80 | ((cp >> 12) & 0x3f);
		b[2] = 0x80 | ((cp >> 6) & 0x3f);
		b[3] = 0x80 | (cp & 0x3f);
		len = 4;
	}
	if (*n + len + 1 > outsz)
		return (-1);
	memcpy(out + *n, b, len);
	*n += len;
	return (0);
}

/*
 * Names (user, domain, workstation) never hold NUL or control characters:
 * Windows forbids them in account names, and refusing them here keeps
 * log lines and LDAP filters built from a name one line and one value.
 */
static int
ntlm_name_char_ok(uint32_t cp)
{
	return (cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp <= 0x9f));
}

/* UTF-16LE name -> NUL-terminated UTF-8, rejecting unpaired surrogates. */
static int
ntlm_name_from_utf16(const uint8_t *p, size_t len, char *out, size_t outsz)
{
	size_t i, n = 0;
	uint32_t cp, lo;

	out[0] = '\0';
	if (len % 2 != 0)
		return (-1);
	for (i = 0; i < len; i += 2) {
		cp = ntlm_le16(p + i);
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (i + 4 > len)
				return (-1);
			lo = ntlm_le16(p + i + 2);
			if (lo < 0xdc00 || lo > 0xdfff)
				return (-1);
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i += 2;
		} else if (cp >= 0xdc00 && cp <= 0xdfff)
			return (-1);
		if (!ntlm_name_char_ok(cp) || ntlm_utf8_put(cp, out, outsz,
		    &n) == -1)
			return (-1);
	}
	out[n] = '\0';
	return (0);
}

/*
 * OEM name -> UTF-8.  The OEM code page is the client's and unknown to
 * us; curl on Linux sends what the user typed, which is UTF-8, so that is
 * what we accept (ASCII being the common case).  Anything else is refused
 * rather than guessed at.
 */
static int
ntlm_name_from_oem(const uint8_t *p, size_t len, char *out, size_t outsz)
{
	size_t i = 0, n = 0;
	uint32_t cp;
	int k;

	out[0] = '\0';
	while (i < len) {
		if ((k = ntlm_utf8_next(p + i, len - i, &cp)) == -1)
			return (-1);
		if (!ntlm_name_char_ok(cp) || ntlm_utf8_put(cp, out, outsz,
		    &n) == -1)
			return (-1);
		i += k;
	}
	out[n] = '\0';
	return (0);
}

/*
 * Upper case for NTOWFv2 (MS-NLMP 3.3.2 uppercases the user name).
 * Windows uses its own table; this covers ASCII, Latin-1, Latin
 * Extended-A, Greek and Cyrillic, where nearly all account names live.
 * A code point outside them is left alone, which at worst makes a valid
 * login fail, never a wrong one pass.
 */
static uint32_t
ntlm_upper(uint32_t c)
{
	if (c >= 'a' && c <= 'z')
		return (c - 0x20);
	if (c < 0xe0)
		return (c);
	if (c <= 0xfe)
		return (c == 0xf7 ? c : c - 0x20);
	if (c == 0xff)
		return (0x178);
	if (c >= 0x100 && c <= 0x137)
		return (c == 0x131 ? c : c & ~1u);
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
		return ((c & 1) ? c : c - 1);
	if (c >= 0x14a && c <= 0x177)
		return (c & ~1u);
	if (c >= 0x3b1 && c <= 0x3cb && c != 0x3c2)
		return (c - 0x20);
	if (c >= 0x430 && c <= 0x44f)
		return (c - 0x20);
	if (c >= 0x450 && c <= 0x45f)
		return (c - 0x50);
	return (c);
}

/*
 * NUL-terminated UTF-8 s -> UTF-16LE in out (outsz bytes), upper-cased
 * if upper is set.  Returns 0 and sets *outlen, or -1 on invalid UTF-8 or
 * lack of room.
 */
int
ntlm_utf8_to_utf16le(const char *s, int upper, uint8_t *out, size_t outsz,
    size_t *outlen)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t len = strlen(s), i = 0, n = 0;
	uint32_t cp;
	int k;

	*outlen = 0;
	while (i < len) {
		if ((k = ntlm_utf8_next(p + i, len - i, &cp)) == -1)
			return (-1);
		i += k;
		if (upper)
			cp = ntlm_upper(cp);
		if (cp >= 0x10000) {
			if (n + 4 > outsz)
				return (-1);
			cp -= 0x10000;
			ntlm_put16(out + n, 0xd800 + (cp >> 10));
			ntlm_put16(out + n + 2, 0xdc00 + (cp & 0x3ff));
			n += 4;
		} else {
			if (n + 2 > outsz)
				return (-1);
			ntlm_put16(out + n, cp);
			n += 2;
		}
	}
	*outlen = n;
	return (0);
}

/*
 * One security buffer (MS-NLMP 2.2.1: Len, MaxLen, BufferOffset) found at
 * msg[at].  MaxLen is ignored as the spec says.  An empty buffer may have
 * any offset (clients put 0 or the end of the header there); a non-empty
 * one must lie after the fixed header hdr and inside the message, and be
 * at most cap bytes.  *minoff tracks where the payload starts.
 */
static int
ntlm_secbuf(const uint8_t *msg, size_t len, size_t at, size_t hdr, size_t cap,
    const uint8_t **p, size_t *n, size_t *minoff, const char **why)
{
	uint32_t l, off;

	l = ntlm_le16(msg + at);
	off = ntlm_le32(msg + at + 4);
	*p = NULL;
	*n = 0;
	if (l == 0)
		return (0);
	if (l > cap) {
		*why = "security buffer too long";
		return (-1);
	}
	if (off < hdr) {
		*why = "security buffer overlaps the header";
		return (-1);
	}
	if ((uint64_t)off + l > len) {
		*why = "security buffer past the end";
		return (-1);
	}
	*p = msg + off;
	*n = l;
	if (off < *minoff)
		*minoff = off;
	return (0);
}

static int
ntlm_check_head(const uint8_t *msg, size_t len, size_t min, uint32_t type,
    const char **why)
{
	if (len < min) {
		*why = "message too short";
		return (-1);
	}
	if (len > NTLM_MAX_MSG) {
		*why = "message too long";
		return (-1);
	}
	if (memcmp(msg, ntlm_sig, sizeof(ntlm_sig)) != 0) {
		*why = "bad signature";
		return (-1);
	}
	if (ntlm_le32(msg + 8) != type) {
		*why = "wrong message type";
		return (-1);
	}
	return (0);
}

/*
 * Decode a NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1) of len bytes into *out.
 * The 16-byte form without the domain and workstation fields that old
 * clients send is accepted; anything between 16 and 32 bytes is not.  The
 * optional names are OEM.  Returns 0, or -1 with a static reason in *why.
 */
int
ntlm_decode_negotiate(const uint8_t *msg, size_t len,
    struct ntlm_negotiate *out, const char **why)
{
	const uint8_t *dom, *wks;
	size_t domlen, wkslen, minoff = len;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	memset(out, 0, sizeof(*out));
	if (ntlm_check_head(msg, len, NTLM_T1_MIN, 1, why) == -1)
		return (-1);
	out->flags = ntlm_le32(msg + 12);
	if (len == NTLM_T1_MIN)
		return (0);
	if (len < NTLM_T1_HDR) {
		*why = "message truncated";
		return (-1);
	}
	if (ntlm_secbuf(msg, len, 16, NTLM_T1_HDR, NTLM_MAX_NAME, &dom,
	    &domlen, &minoff, why) == -1 ||
	    ntlm_secbuf(msg, len, 24, NTLM_T1_HDR, NTLM_MAX_NAME, &wks,
	    &wkslen, &minoff, why) == -1)
		return (-1);
	if ((out->flags & NTLM_NEG_VERSION) && minoff >= NTLM_T1_HDR + 8) {
		out->has_version = 1;
		memcpy(out->version, msg + NTLM_T1_HDR, 8);
	}
	if (ntlm_name_from_oem(dom, domlen, out->domain,
	    sizeof(out->domain)) == -1 ||
	    ntlm_name_from_oem(wks, wkslen, out->workstation,
	    sizeof(out->workstation)) == -1) {
		*why = "invalid name";
		return (-1);
	}
	return (0);
}

/*
 * Decode an AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) of len bytes into
 * *out; out's byte pointers then point into msg.  Names are UTF-16LE if
 * the message's own flags say NEGOTIATE_UNICODE, else OEM (curl sends OEM
 * without the UNICODE flag).  The MIC, when there is one, sits at a fixed
 * offset after Version (2.2.1.3); has_mic only says there is room for it
 * before the payload, and the verifier decides from MsvAvFlags whether it
 * must be there.  Returns 0, or -1 with a static reason in *why.
 */
int
ntlm_decode_authenticate(const uint8_t *msg, size_t len,
    struct ntlm_authenticate *out, const char **why)
{
	const uint8_t *dom, *usr, *wks;
	size_t domlen, usrlen, wkslen, minoff = len;
	const char *dummy;
	int rv;

	if (why == NULL)
		why = &dummy;
	memset(out, 0, sizeof(*out));
	if (ntlm_check_head(msg, len, NTLM_T3_HDR, 3, why) == -1)
		return (-1);
	out->raw = msg;
	out->rawlen = len;
	out->flags = ntlm_le32(msg + 60);
	out->unicode = (out->flags & NTLM_NEG_UNICODE) != 0;
	if (ntlm_secbuf(msg, len, 12, NTLM_T3_HDR, NTLM_MAX_LM_RESP,
	    &out->lm, &out->lm_len, &minoff, why) == -1 ||
	    ntlm_secbuf(msg, len, 20, NTLM_T3_HDR, NTLM_MAX_NT_RESP,
	    &out->nt, &out->nt_len, &minoff, why) == -1 ||
	    ntlm_secbuf(msg, len, 28, NTLM_T3_HDR, NTLM_MAX_NAME,
	    &dom, &domlen, &minoff, why) == -1 ||
	    ntlm_secbuf(msg, len, 36, NTLM_T3_HDR, NTLM_MAX_NAME,
	    &usr, &usrlen, &minoff, why) == -1 ||
	    ntlm_secbuf(msg, len, 44, NTLM_T3_HDR, NTLM_MAX_NAME,
	    &wks, &wkslen, &minoff, why) == -1 ||
	    ntlm_secbuf(msg, len, 52, NTLM_T3_HDR, NTLM_MAX_SESSION_KEY,
	    &out->enc_key, &out->enc_key_len, &minoff, why) == -1)
		return (-1);
	if ((out->flags & NTLM_NEG_VERSION) && minoff >= NTLM_T3_HDR + 8) {
		out->has_version = 1;
		memcpy(out->version, msg + NTLM_T3_HDR, 8);
	}
	if (minoff >= NTLM_MIC_OFFSET + NTLM_MIC_LEN) {
		out->has_mic = 1;
		out->mic = msg + NTLM_MIC_OFFSET;
	}
	if (out->unicode)
		rv = ntlm_name_from_utf16(dom, domlen, out->domain,
		    sizeof(out->domain)) == -1 ||
		    ntlm_name_from_utf16(usr, usrlen, out->user,
		    sizeof(out->user)) == -1 ||
		    ntlm_name_from_utf16(wks, wkslen, out->workstation,
		    sizeof(out->workstation)) == -1;
	else
		rv = ntlm_name_from_oem(dom, domlen, out->domain,
		    sizeof(out->domain)) == -1 ||
		    ntlm_name_from_oem(usr, usrlen, out->user,
		    sizeof(out->user)) == -1 ||
		    ntlm_name_from_oem(wks, wkslen, out->workstation,
		    sizeof(out->workstation)) == -1;
	if (rv) {
		*why = "invalid name";
		return (-1);
	}
	return (0);
}

/*
 * Decode a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).  The verifier uses it to
 * read back what we sent, so only the flags, the challenge and
 * TargetInfo are extracted.  Returns 0 or -1.
 */
int
ntlm_decode_challenge(const uint8_t *msg, size_t len,
    struct ntlm_challenge *out)
{
	size_t minoff = len;
	const char *why;

	memset(out, 0, sizeof(*out));
	if (ntlm_check_head(msg, len, NTLM_T2_HDR, 2, &why) == -1)
		return (-1);
	out->flags = ntlm_le32(msg + 20);
	memcpy(out->challenge, msg + 24, NTLM_CHALLENGE_LEN);
	return (ntlm_secbuf(msg, len, 40, NTLM_T2_HDR, NTLM_MAX_MSG,
	    &out->target_info, &out->target_info_len, &minoff, &why));
}

/*
 * The flags of our CHALLENGE, answering the client's NEGOTIATE flags
 * (MS-NLMP 3.2.5.1.1 and 2.2.2.5): UNICODE if asked, else OEM; always
 * REQUEST_TARGET with TARGET_TYPE_DOMAIN, NTLM, ALWAYS_SIGN, TARGET_INFO
 * (NTLMv2 needs the AV pairs) and VERSION; EXTENDED_SESSIONSECURITY, 128,
 * 56 and KEY_EXCH only when the client asked for them.  SIGN and SEAL are
 * never granted: HTTP authentication uses no session security.
 */
uint32_t
ntlm_challenge_flags(uint32_t client)
{
	uint32_t f;

	f = NTLM_REQUEST_TARGET | NTLM_NEG_NTLM | NTLM_NEG_ALWAYS_SIGN |
	    NTLM_TARGET_TYPE_DOMAIN | NTLM_NEG_TARGET_INFO | NTLM_NEG_VERSION;
	f |= (client & NTLM_NEG_UNICODE) ? NTLM_NEG_UNICODE : NTLM_NEG_OEM;
	f |= client & (NTLM_NEG_ESS | NTLM_NEG_128 | NTLM_NEG_56 |
	    NTLM_NEG_KEY_EXCH);
	/*
	 * SIGN and SEAL as asked: HTTP signs nothing, but NTLM inside
	 * SPNEGO signs the mechanism list (RFC 4178 5), and gss-ntlmssp
	 * gives up on a server that refuses SIGN.
	 */
	f |= client & (NTLM_NEG_SIGN | NTLM_NEG_SEAL);
	return (f);
}

/* Append one AV_PAIR holding name as UTF-16LE (AV values always are). */
static int
ntlm_put_av_name(uint8_t *out, size_t outsz, size_t *n, uint16_t id,
    const char *name)
{
	size_t l;

	if (*n + 4 > outsz)
		return (-1);
	if (ntlm_utf8_to_utf16le(name, 0, out + *n + 4, outsz - *n - 4,
	    &l) == -1 || l > NTLM_MAX_NAME)
		return (-1);
	ntlm_put16(out + *n, id);
	ntlm_put16(out + *n + 2, l);
	*n += 4 + l;
	return (0);
}

/*
 * Build our CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) into out (outsz bytes,
 * NTLM_MAX_CHALLENGE_MSG is always enough) and set *outlen.  client_flags
 * are the NEGOTIATE's flags; chal is the caller's 8 random bytes (it owns
 * their single use and expiry); filetime goes into MsvAvTimestamp, which
 * tells the client to send a MIC and lets us check the echo.  The NetBIOS
 * names are required (2.2.2.1 says both MUST be present); empty DNS
 * names are left out.  TargetName is the NetBIOS domain, in UTF-16LE or,
 * for an OEM client, as its UTF-8 bytes.  Returns 0, or -1 on a bad or
 * too long name or a short buffer.
 */
int
ntlm_build_challenge(uint32_t client_flags, const uint8_t *chal,
    uint64_t filetime, const struct ntlm_target *t, uint8_t *out,
    size_t outsz, size_t *outlen)
{
	uint32_t flags = ntlm_challenge_flags(client_flags);
	size_t n = NTLM_T2_FULL, tn, ti;
	int i;

	*outlen = 0;
	if (t->nb_domain == NULL || t->nb_computer == NULL ||
	    t->dns_domain == NULL || t->dns_computer == NULL ||
	    t->nb_domain[0] == '\0' || t->nb_computer[0] == '\0' ||
	    outsz < NTLM_T2_FULL)
		return (-1);
	memset(out, 0, NTLM_T2_FULL);
	memcpy(out, ntlm_sig, sizeof(ntlm_sig));
	ntlm_put32(out + 8, 2);

	/* TargetName. */
	if (flags & NTLM_NEG_UNICODE) {
		if (ntlm_utf8_to_utf16le(t->nb_domain, 0, out + n, outsz - n,
		    &tn) == -1)
			return (-1);
	} else {
		tn = strlen(t->nb_domain);
		if (tn > outsz - n)
			return (-1);
		memcpy(out + n, t->nb_domain, tn);
	}
	if (tn > NTLM_MAX_NAME)
		return (-1);
	ntlm_put16(out + 12, tn);
	ntlm_put16(out + 14, tn);
	ntlm_put32(out + 16, n);
	n += tn;

	ntlm_put32(out + 20, flags);
	memcpy(out + 24, chal, NTLM_CHALLENGE_LEN);
	/* 32..39 Reserved, zero. */

	/* TargetInfo (2.2.2.1), in the order Windows servers send it. */
	ti = n;
	if (ntlm_put_av_name(out, outsz, &n, NTLM_AV_NB_DOMAIN,
	    t->nb_domain) == -1 ||
	    ntlm_put_av_name(out, outsz, &n, NTLM_AV_NB_COMPUTER,
	    t->nb_computer) == -1)
		return (-1);
	if (t->dns_domain[0] != '\0' && ntlm_put_av_name(out, outsz, &n,
	    NTLM_AV_DNS_DOMAIN, t->dns_domain) == -1)
		return (-1);
	if (t->dns_computer[0] != '\0' && ntlm_put_av_name(out, outsz, &n,
	    NTLM_AV_DNS_COMPUTER, t->dns_computer) == -1)
		return (-1);
	if (n + 12 + 4 > outsz)
		return (-1);
	ntlm_put16(out + n, NTLM_AV_TIMESTAMP);
	ntlm_put16(out + n + 2, 8);
	for (i = 0; i < 8; i++)
		out[n + 4 + i] = (filetime >> (8 * i)) & 0xff;
	n += 12;
	ntlm_put32(out + n, 0);		/* MsvAvEOL, length 0 */
	n += 4;
	ntlm_put16(out + 40, n - ti);
	ntlm_put16(out + 42, n - ti);
	ntlm_put32(out + 44, ti);

	/*
	 * Version (2.2.2.10): informational only; 10.0, build 0, NTLM
	 * revision 15 (NTLMSSP_REVISION_W2K3), the one that has MICs.
	 */
	out[48] = 10;
	out[49] = 0;
	out[55] = 15;
	*outlen = n;
	return (0);
}

/*
 * Check a list of AV pairs (MS-NLMP 2.2.2.1) of len bytes: every pair
 * inside the buffer, terminated by MsvAvEOL of length 0, no known AvId
 * twice, MsvAvFlags 4 bytes and MsvAvTimestamp 8.  Bytes after the EOL
 * are allowed (clients pad the NTLMv2 blob with Z(4), 3.3.2).  Returns 0
 * or -1.
 */
int
ntlm_av_check(const uint8_t *ti, size_t len)
{
	uint32_t seen = 0;
	size_t pos = 0;
	uint16_t id, l;

	while (pos + 4 <= len) {
		id = ntlm_le16(ti + pos);
		l = ntlm_le16(ti + pos + 2);
		if (pos + 4 + l > len)
			return (-1);
		if (id == NTLM_AV_EOL)
			return (l == 0 ? 0 : -1);
		if (id <= NTLM_AV_MAX) {
			if (seen & (1u << id))
				return (-1);
			seen |= 1u << id;
		}
		if ((id == NTLM_AV_FLAGS && l != 4) ||
		    (id == NTLM_AV_TIMESTAMP && l != 8))
			return (-1);
		pos += 4 + l;
	}
	return (-1);
}

/*
 * Find AvId id in the AV pairs ti (len bytes), stopping at MsvAvEOL.  Sets
 * *val and *vlen and returns 0, or returns -1 if absent.  Bounds-safe on
 * any input; run ntlm_av_check() first to reject malformed lists.
 */
int
ntlm_av_find(const uint8_t *ti, size_t len, uint16_t id,
    const uint8_t **val, size_t *vlen)
{
	size_t pos = 0;
	uint16_t cid, l;

	*val = NULL;
	*vlen = 0;
	while (pos + 4 <= len) {
		cid = ntlm_le16(ti + pos);
		l = ntlm_le16(ti + pos + 2);
		if (pos + 4 + l > len || cid == NTLM_AV_EOL)
			return (-1);
		if (cid == id) {
			*val = ti + pos + 4;
			*vlen = l;
			return (0);
		}
		pos += 4 + l;
	}
	return (-1);
}

/* Unix time -> FILETIME (100 ns ticks since 1601-01-01, MS-DTYP 2.3.3). */
uint64_t
ntlm_filetime(time_t t)
{
	if ((long long)t < -NTLM_EPOCH_DELTA)
		return (0);
	return (((uint64_t)((long long)t + NTLM_EPOCH_DELTA)) * 10000000ULL);
}
