/*
 * Unit tests for the NTLMSSP server pieces (auth/ntlm_msg.c,
 * auth/ntlm_crypto.c):
 *  - known answers: MD4 (RFC 1320 A.5), RC4, and MS-NLMP 4.2.2 / 4.2.4
 *    (NT hash, NTOWFv2, LMv2, NTProofStr, SessionBaseKey, the encrypted
 *    session key, and the whole 4.2.4.3 AUTHENTICATE verified end to end);
 *  - real clients: exchanges recorded from Samba's ntlm_auth, curl and
 *    python3-ntlm-auth against CHALLENGE messages built by
 *    ntlm_build_challenge() (fixed challenge 0123456789abcdef, fixed
 *    timestamp), verified with the known passwords;
 *  - refusals: NTLMv1 (with and without ESS), LM only, anonymous, wrong
 *    password, time skew, MIC and AV-pair tampering, and a table of
 *    malformed messages (truncated, offsets past the end or into the
 *    header, huge lengths, bad signature/type, bad names);
 *  - strict base64 and the CHALLENGE builder.
 * Synthetic AUTHENTICATE messages come from a small NTLMv2 client written
 * here (mk_t3), so each refusal can be provoked alone.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntlm.h"
#include "spnego.h"
#include "unit.h"
#include "vectors_gssntlm.h"

#define BUFSZ	NTLM_MAX_MSG

/* MsvAvTimestamp of every recorded exchange (this machine's clock, 2026). */
#define REC_FT	134403791390000000ULL
#define SKEW	300

static const uint8_t chal[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
    0xef };

static const struct ntlm_target target = { "EXAMPLE", "PROXY",
    "example.test", "proxy.example.test" };

static int
eqhex(const uint8_t *p, const char *hex)
{
	uint8_t b[256];
	size_t n = unit_unhex(hex, b, sizeof(b));

	return (memcmp(p, b, n) == 0);
}

static size_t
b64(const char *s, uint8_t *out)
{
	size_t n = 0;

	if (ntlm_b64_decode(s, strlen(s), out, BUFSZ, &n) == -1)
		return (0);
	return (n);
}

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/* ---- MS-NLMP 4.2 ---- */

/* 4.2.4.3 CHALLENGE_MESSAGE (TargetName length 3 is in the spec). */
static const char spec_t2[] =
    "4e544c4d53535000020000000300 0c00 38000000 33828ae2 0123456789abcdef"
    "0000000000000000 24002400 44000000 0600701700000 00f"
    "530065007200760065007200 02000c0044006f006d00610069006e00"
    "01000c00530065007200760065007200 00000000";

/* 4.2.4.3 AUTHENTICATE_MESSAGE. */
static const char spec_t3[] =
    "4e544c4d53535000030000001800180 06c000000 54005400 84000000"
    "0c000c00 48000000 08000800 54000000 10001000 5c000000 10001000"
    "d8000000 358288e2 0501280a0000000f"
    "44006f006d00610069006e00 5500730065007200"
    "43004f004d0050005500540045005200"
    "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"
    "68cd0ab851e51c96aabc927bebef6a1c"
    "0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000"
    "02000c0044006f006d00610069006e00 01000c00530065007200760065007200"
    "00000000 00000000"
    "c5dad2544fc9799094ce1ce90bc9d03e";

/* 4.2.2.3 AUTHENTICATE_MESSAGE (NTLMv1). */
static const char spec_v1_t3[] =
    "4e544c4d53535000030000001800180 06c000000 18001800 84000000"
    "0c000c00 48000000 08000800 54000000 10001000 5c000000 10001000"
    "9c000000 358280e2 0501280a0000000f"
    "44006f006d00610069006e00 5500730065007200"
    "43004f004d0050005500540045005200"
    "98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13"
    "67c43011f30298a2ad35ece64f16331c44bdbed927841f94"
    "518822b1b3f350c8958682ecbb3e3cb7";

/* 4.2.3.3 AUTHENTICATE_MESSAGE (NTLMv1 with ESS / NTLM2 session). */
static const char spec_ess_t3[] =
    "4e544c4d53535000030000001800180 06c000000 18001800 84000000"
    "0c000c00 48000000 08000800 54000000 10001000 5c000000 00000000"
    "9c000000 35820882 0501280a0000000f"
    "44006f006d00610069006e00 5500730065007200"
    "43004f004d0050005500540045005200"
    "aaaaaaaaaaaaaaaa00000000000000000000000000000000"
    "7537f803ae367128ca458204bde7caf81e97ed2683267232";

/* ---- recorded from real clients ---- */

struct rec {
	const char	*name;
	const char	*password;
	const char	*user;		/* as decoded */
	int		 unicode;
	int		 mic;		/* 1: announced, 2: sent unannounced */
	enum ntlm_verdict want;
	const char	*t1, *t2, *t3;
};

/*
 * Samba 4.17 ntlm_auth --helper-protocol=ntlmssp-client-1
 * --configfile=/dev/null (YR, then TT <t2>); curl 7.88.1 --proxy-ntlm
 * against a loopback stub; python3-ntlm-auth 1.4.0 NtlmContext (with
 * OPENSSL_CONF enabling the legacy provider for its MD4).
 */
static const struct rec recs[] = {
	{ "samba", "secret", "alice", 1, 2, NTLM_OK,
	  "TlRMTVNTUAABAAAABYIIYgAAAAAoAAAAAAAAACgAAAAGAQAAAAAADw==",
	  "TlRMTVNTUAACAAAADgAOADgAAAAFgoliASNFZ4mrze8AAAAAAAAAAHQAdABGAAAACgAAAAAAAA9FAFgAQQBNAFAATABFAAIADgBFAFgAQQBNAFAATABFAAEACgBQAFIATwBYAFkABAAYAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAMAJABwAHIAbwB4AHkALgBlAHgAYQBtAHAAbABlAC4AdABlAHMAdAAHAAgAgENEQol/3QEAAAAA",
	  "TlRMTVNTUAADAAAAGAAYAFgAAADoAOgAcAAAAA4ADgBYAQAACgAKAGYBAAAAAAAAcAEAABAAEABwAQAABYIIYgYBAAAAAAAPSSnR8zenvex0iRB+6Z0m7gAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAjE4VBl/4d/3ZNjNyOtTo0BAQAAAAAAAIBDREKJf90B+epTxASmnvoAAAAAAgAOAEUAWABBAE0AUABMAEUAAQAKAFAAUgBPAFgAWQAEABgAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQAAwAkAHAAcgBvAHgAeQAuAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAcACACAQ0RCiX/dAQgAMAAwAAAAAAAAAAAAAAAAAAAAASCX0bERLH3VvsURc3pjce469zIU0jr855ANoifmTUoKABAAAAAAAAAAAAAAAAAAAAAAAAAAAABFAFgAQQBNAFAATABFAGEAbABpAGMAZQDjPaTuBDiIBK3EvOpeL9vP" },
	{ "samba non-ASCII user", "s3cret", "j\xc3\xbcrgen", 1, 2, NTLM_OK,
	  "TlRMTVNTUAABAAAABYIIYgAAAAAoAAAAAAAAACgAAAAGAQAAAAAADw==",
	  "TlRMTVNTUAACAAAADgAOADgAAAAFgoliASNFZ4mrze8AAAAAAAAAAHQAdABGAAAACgAAAAAAAA9FAFgAQQBNAFAATABFAAIADgBFAFgAQQBNAFAATABFAAEACgBQAFIATwBYAFkABAAYAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAMAJABwAHIAbwB4AHkALgBlAHgAYQBtAHAAbABlAC4AdABlAHMAdAAHAAgAgENEQol/3QEAAAAA",
	  "TlRMTVNTUAADAAAAGAAYAFgAAADoAOgAcAAAAA4ADgBYAQAADAAMAGYBAAAAAAAAcgEAABAAEAByAQAABYIIYgYBAAAAAAAPRzYMpPd84Zl/kV2m9I2REwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAANpzv4EZdgQh+CayyGY0AxIBAQAAAAAAAIBDREKJf90BcNT8AA2v35UAAAAAAgAOAEUAWABBAE0AUABMAEUAAQAKAFAAUgBPAFgAWQAEABgAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQAAwAkAHAAcgBvAHgAeQAuAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAcACACAQ0RCiX/dAQgAMAAwAAAAAAAAAAAAAAAAAAAAJyVyy+0HZoSL9gN7g5RYYmowfnBvV4FdJIzQs0sTWCsKABAAAAAAAAAAAAAAAAAAAAAAAAAAAABFAFgAQQBNAFAATABFAGoA/AByAGcAZQBuADQku82txc/bx2gTX18elvs=" },
	{ "samba ntlmv2 off", "secret", "alice", 1, 0, NTLM_ERR_NTLMV1,
	  "TlRMTVNTUAABAAAABYIIYgAAAAAoAAAAAAAAACgAAAAGAQAAAAAADw==",
	  "TlRMTVNTUAACAAAADgAOADgAAAAFgoliASNFZ4mrze8AAAAAAAAAAHQAdABGAAAACgAAAAAAAA9FAFgAQQBNAFAATABFAAIADgBFAFgAQQBNAFAATABFAAEACgBQAFIATwBYAFkABAAYAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAMAJABwAHIAbwB4AHkALgBlAHgAYQBtAHAAbABlAC4AdABlAHMAdAAHAAgAgENEQol/3QEAAAAA",
	  "TlRMTVNTUAADAAAAGAAYAFgAAAAYABgAcAAAAA4ADgCIAAAACgAKAJYAAAAAAAAAoAAAABAAEACgAAAABYIIYgYBAAAAAAAPvpAI6PL1MDjK71dS8sEQp+wwK1l7MUYDAAAAAAAAAAAAAAAAAAAAAO39ZYCw0EIL+1IGFhga890+4fw1anoGVEUAWABBAE0AUABMAEUAYQBsAGkAYwBlAOWNdD7W/Vi1vwFQpzsUZJ4=" },
	{ "curl", "pa55word", "carol", 0, 0, NTLM_OK,
	  "TlRMTVNTUAABAAAABoIIAAAAAAAAAAAAAAAAAAAAAAA=",
	  "TlRMTVNTUAACAAAABwAHADgAAAAGgokCASNFZ4mrze8AAAAAAAAAAHQAdAA/AAAACgAAAAAAAA9FWEFNUExFAgAOAEUAWABBAE0AUABMAEUAAQAKAFAAUgBPAFgAWQAEABgAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQAAwAkAHAAcgBvAHgAeQAuAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAcACACAQ0RCiX/dAQAAAAA=",
	  "TlRMTVNTUAADAAAAGAAYAEAAAACkAKQAWAAAAAcABwD8AAAABQAFAAMBAAALAAsACAEAAAAAAAAAAAAABoKJAvLe9reFmIRqBiM26+JXNM0dIWpt47vxGmTC9LKfEQi3SCD2dmOHdscBAQAAAAAAAAC70kiJf90BHSFqbeO78RoAAAAAAgAOAEUAWABBAE0AUABMAEUAAQAKAFAAUgBPAFgAWQAEABgAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQAAwAkAHAAcgBvAHgAeQAuAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAcACACAQ0RCiX/dAQAAAAAAAAAARVhBTVBMRWNhcm9sV09SS1NUQVRJT04=" },
	{ "python", "hunter2", "bob", 0, 1, NTLM_OK,
	  "TlRMTVNTUAABAAAAMrCI4gcABwAoAAAABQAFAC8AAAAGAbEdAAAAD0VYQU1QTEVXS1MwMQ==",
	  "TlRMTVNTUAACAAAABwAHADgAAAAGgoniASNFZ4mrze8AAAAAAAAAAHQAdAA/AAAACgAAAAAAAA9FWEFNUExFAgAOAEUAWABBAE0AUABMAEUAAQAKAFAAUgBPAFgAWQAEABgAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQAAwAkAHAAcgBvAHgAeQAuAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAcACACAQ0RCiX/dAQAAAAA=",
	  "TlRMTVNTUAADAAAAGAAYAGcAAACsAKwAfwAAAAcABwBYAAAAAwADAF8AAAAFAAUAYgAAABAAEAArAQAABoKJ4gYBsR0AAAAP1N/e0lh8Xw50bdmw6CNC/UVYQU1QTEVib2JXS1MwMQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEGiDMPPiMyzUE5i00fgyXgBAQAAAAAAAIBDREKJf90BlCAt+tPyS8cAAAAAAgAOAEUAWABBAE0AUABMAEUAAQAKAFAAUgBPAFgAWQAEABgAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQAAwAkAHAAcgBvAHgAeQAuAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAcACACAQ0RCiX/dAQYABAACAAAAAAAAAAAAAACyMR9BxwdoSvDZ/41c1foh" },
	{ "python empty domain", "hunter2", "bob", 0, 1, NTLM_OK,
	  "TlRMTVNTUAABAAAAMrCI4gAAAAAoAAAABQAFACgAAAAGAbEdAAAAD1dLUzAx",
	  "TlRMTVNTUAACAAAABwAHADgAAAAGgoniASNFZ4mrze8AAAAAAAAAAHQAdAA/AAAACgAAAAAAAA9FWEFNUExFAgAOAEUAWABBAE0AUABMAEUAAQAKAFAAUgBPAFgAWQAEABgAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQAAwAkAHAAcgBvAHgAeQAuAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAcACACAQ0RCiX/dAQAAAAA=",
	  "TlRMTVNTUAADAAAAGAAYAGAAAACsAKwAeAAAAAAAAABYAAAAAwADAFgAAAAFAAUAWwAAABAAEAAkAQAABoKJ4gYBsR0AAAAPhuJ7cU2i7N+4cXWk/l1iUmJvYldLUzAxAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwwqB2hD1oBp81oydB4V6owEBAAAAAAAAgENEQol/3QFGI7iuqtu/oQAAAAACAA4ARQBYAEEATQBQAEwARQABAAoAUABSAE8AWABZAAQAGABlAHgAYQBtAHAAbABlAC4AdABlAHMAdAADACQAcAByAG8AeAB5AC4AZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQABwAIAIBDREKJf90BBgAEAAIAAAAAAAAAAAAAAJCc00Lbi05N0tH5wjssIFc=" },
	{ "python ntlm_compatibility=1", "hunter2", "bob", 0, 0,
	  NTLM_ERR_NTLMV1,
	  "TlRMTVNTUAABAAAAMrKI4gcABwAoAAAABQAFAC8AAAAGAbEdAAAAD0VYQU1QTEVXS1MwMQ==",
	  "TlRMTVNTUAACAAAABwAHADgAAAAGgoniASNFZ4mrze8AAAAAAAAAAHQAdAA/AAAACgAAAAAAAA9FWEFNUExFAgAOAEUAWABBAE0AUABMAEUAAQAKAFAAUgBPAFgAWQAEABgAZQB4AGEAbQBwAGwAZQAuAHQAZQBzAHQAAwAkAHAAcgBvAHgAeQAuAGUAeABhAG0AcABsAGUALgB0AGUAcwB0AAcACACAQ0RCiX/dAQAAAAA=",
	  "TlRMTVNTUAADAAAAGAAYAFcAAAAYABgAbwAAAAcABwBIAAAAAwADAE8AAAAFAAUAUgAAABAAEACHAAAABoKJ4gYBsR0AAAAPRVhBTVBMRWJvYldLUzAxe5VJg1nMsGsAAAAAAAAAAAAAAAAAAAAAZ66PA0vF3j3deFsuAA6xTd6CYTZnWuUrWEBvlBnIgTTXQ1r3HeP9cg==" },
};

/* ---- a minimal NTLMv2 client, to provoke each refusal alone ---- */

struct field {
	const uint8_t	*p;
	size_t		 n;
};

/*
 * Lay out an AUTHENTICATE: 64-byte header, then hdr_extra bytes
 * (Version and MIC room), then the fields in payload order.
 */
static size_t
raw_t3(uint8_t *out, uint32_t flags, size_t hdr_extra, struct field lm,
    struct field nt, struct field dom, struct field usr, struct field wks,
    struct field key)
{
	static const size_t at[6] = { 28, 36, 44, 12, 20, 52 };
	struct field f[6];
	size_t n = 64 + hdr_extra, i;

	f[0] = dom;
	f[1] = usr;
	f[2] = wks;
	f[3] = lm;
	f[4] = nt;
	f[5] = key;
	memset(out, 0, n);
	memcpy(out, "NTLMSSP\0", 8);
	put32(out + 8, 3);
	put32(out + 60, flags);
	if (hdr_extra >= 8) {
		out[64] = 10;
		out[71] = 15;
	}
	for (i = 0; i < 6; i++) {
		put16(out + at[i], f[i].n);
		put16(out + at[i] + 2, f[i].n);
		put32(out + at[i] + 4, n);
		if (f[i].n > 0)
			memcpy(out + n, f[i].p, f[i].n);
		n += f[i].n;
	}
	return (n);
}

struct client {
	const char	*user;
	const char	*domain;	/* sent */
	const char	*hash_domain;	/* used for NTOWFv2, NULL: domain */
	const char	*password;
	int		 unicode;
	int		 mic;		/* announce a MIC in MsvAvFlags */
	int		 mic_room;	/* leave room for it */
	int		 key_exch;
	uint64_t	 ts;		/* blob timestamp */
	int		 drop_av;	/* leave this AvId out of the echo */
	int		 resp_type;	/* RespType, normally 1 */
};

static size_t
name_bytes(const char *s, int unicode, uint8_t *out)
{
	size_t n;

	if (!unicode) {
		memcpy(out, s, strlen(s));
		return (strlen(s));
	}
	if (ntlm_utf8_to_utf16le(s, 0, out, 1024, &n) == -1)
		return (0);
	return (n);
}

/* Build a correct NTLMv2 AUTHENTICATE for t2 as c describes. */
static size_t
mk_t3(const struct client *c, const uint8_t *t1, size_t t1len,
    const uint8_t *t2, size_t t2len, uint8_t *out)
{
	struct ntlm_challenge ch;
	uint8_t blob[2048], nt[2048 + 16], nth[16], k[16], base[16];
	uint8_t exported[16], enc[16], mic[16], lm[24];
	uint8_t d[1024], u[1024], w[1024];
	size_t bl = 0, pos, l, n, dl, ul, wl, i;
	struct field fl, fn, fd, fu, fw, fk;
	uint32_t flags;

	if (ntlm_decode_challenge(t2, t2len, &ch) == -1)
		return (0);
	memset(blob, 0, 28);
	blob[0] = c->resp_type ? c->resp_type : 1;
	blob[1] = 1;
	for (i = 0; i < 8; i++)
		blob[8 + i] = (c->ts >> (8 * i)) & 0xff;
	memset(blob + 16, 0xaa, 8);
	bl = 28;
	for (pos = 0; pos + 4 <= ch.target_info_len; pos += 4 + l) {
		unsigned id = ch.target_info[pos] |
		    ch.target_info[pos + 1] << 8;

		l = ch.target_info[pos + 2] | ch.target_info[pos + 3] << 8;
		if (id == NTLM_AV_EOL)
			break;
		if ((int)id == c->drop_av)
			continue;
		memcpy(blob + bl, ch.target_info + pos, 4 + l);
		bl += 4 + l;
	}
	if (c->mic) {
		put16(blob + bl, NTLM_AV_FLAGS);
		put16(blob + bl + 2, 4);
		put32(blob + bl + 4, NTLM_AVFLAG_MIC);
		bl += 8;
	}
	memset(blob + bl, 0, 8);	/* EOL, then Z(4) */
	bl += 8;

	ntlm_nt_hash(c->password, nth);
	ntlm_ntowfv2(nth, c->user, c->hash_domain ? c->hash_domain :
	    c->domain, k);
	ntlm_hmac_md5(k, 16, ch.challenge, 8, blob, bl, nt);
	memcpy(nt + 16, blob, bl);
	ntlm_hmac_md5(k, 16, nt, 16, NULL, 0, base);
	memset(lm, 0, sizeof(lm));

	flags = NTLM_NEG_NTLM | NTLM_NEG_ESS | NTLM_NEG_VERSION |
	    (c->unicode ? NTLM_NEG_UNICODE : NTLM_NEG_OEM);
	fk.p = NULL;
	fk.n = 0;
	memcpy(exported, base, 16);
	if (c->key_exch) {
		flags |= NTLM_NEG_KEY_EXCH;
		memset(exported, 0x55, 16);
		ntlm_rc4(base, 16, exported, enc, 16);
		fk.p = enc;
		fk.n = 16;
	}
	dl = name_bytes(c->domain, c->unicode, d);
	ul = name_bytes(c->user, c->unicode, u);
	wl = name_bytes("WKS", c->unicode, w);
	fl.p = lm; fl.n = 24;
	fn.p = nt; fn.n = 16 + bl;
	fd.p = d; fd.n = dl;
	fu.p = u; fu.n = ul;
	fw.p = w; fw.n = wl;
	n = raw_t3(out, flags, c->mic_room ? 24 : 8, fl, fn, fd, fu, fw, fk);
	if (c->mic && c->mic_room) {
		uint8_t all[3 * BUFSZ];

		memcpy(all, t1, t1len);
		memcpy(all + t1len, t2, t2len);
		memcpy(all + t1len + t2len, out, n);
		ntlm_hmac_md5(exported, 16, all, t1len + t2len + n, NULL, 0,
		    mic);
		memcpy(out + NTLM_MIC_OFFSET, mic, 16);
	}
	return (n);
}

static enum ntlm_verdict
verify(const uint8_t *t3, size_t t3len, const uint8_t *t1, size_t t1len,
    const uint8_t *t2, size_t t2len, const char *password, uint64_t now)
{
	struct ntlm_authenticate a;
	struct ntlm_expect e;
	uint8_t nth[16];
	const char *why = NULL;

	if (ntlm_decode_authenticate(t3, t3len, &a, &why) == -1) {
		fprintf(stderr, "decode: %s\n", why);
		return (NTLM_ERR_INTERNAL);
	}
	memset(&e, 0, sizeof(e));
	memcpy(e.challenge, t2 + 24, 8);
	e.type1 = t1;
	e.type1_len = t1len;
	e.type2 = t2;
	e.type2_len = t2len;
	e.now = now;
	e.skew = SKEW;
	ntlm_nt_hash(password, nth);
	return (ntlm_verify(&a, &e, nth));
}

/*
 * Recompute a MIC the way a client does (MS-NLMP 3.1.5.1.2), as an
 * independent check of the KEY_EXCH and MIC arithmetic on real messages.
 */
static int
mic_ok(const struct ntlm_authenticate *a, const char *password,
    const uint8_t *t1, size_t t1len, const uint8_t *t2, size_t t2len)
{
	static uint8_t all[3 * BUFSZ];
	uint8_t nth[16], k[16], base[16], exp[16], mic[16];
	size_t n = 0;

	ntlm_nt_hash(password, nth);
	ntlm_ntowfv2(nth, a->user, a->domain, k);
	ntlm_hmac_md5(k, 16, a->nt, 16, NULL, 0, base);
	memcpy(exp, base, 16);
	if ((a->flags & NTLM_NEG_KEY_EXCH) && a->enc_key_len == 16)
		ntlm_rc4(base, 16, a->enc_key, exp, 16);
	memcpy(all, t1, t1len);
	memcpy(all + t1len, t2, t2len);
	memcpy(all + t1len + t2len, a->raw, a->rawlen);
	n = t1len + t2len;
	memset(all + n + NTLM_MIC_OFFSET, 0, NTLM_MIC_LEN);
	ntlm_hmac_md5(exp, 16, all, n + a->rawlen, NULL, 0, mic);
	return (memcmp(mic, a->mic, 16) == 0);
}

/* ---- the tests ---- */

static void
test_kat(void)
{
	static const struct { const char *in, *md4; } md4v[] = {
		{ "", "31d6cfe0d16ae931b73c59d7e0c089c0" },
		{ "a", "bde52cb31de33e46245e05fbdbd6fb24" },
		{ "abc", "a448017aaf21d8525fc10ae87aa6729d" },
		{ "message digest", "d9130a8164549fe818874806e1c7014b" },
		{ "abcdefghijklmnopqrstuvwxyz",
		  "d79e1c308aa5bbcdeea8ed63df412da9" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		  "0123456789", "043f8582f241db351ce627e153e7f0e4" },
		{ "1234567890123456789012345678901234567890"
		  "1234567890123456789012345678901234567890",
		  "e33b4ddc9c38f2199c3e7b164fcc0536" },
	};
	static const struct { const char *key, *in, *out; } rc4v[] = {
		{ "Key", "Plaintext", "bbf316e8d940af0ad3" },
		{ "Wiki", "pedia", "1021bf0420" },
		{ "Secret", "Attack at dawn", "45a01f645fc35b383552544b9bf5" },
	};
	uint8_t h[16], k[16], proof[16], sbk[16], out[64], temp[128], t[8192];
	uint8_t t2[512], ss[16];
	struct ntlm_authenticate a;
	struct ntlm_expect e;
	size_t i, tl, t2l, t3l;
	const char *why = NULL;

	for (i = 0; i < sizeof(md4v) / sizeof(md4v[0]); i++) {
		ntlm_md4((const uint8_t *)md4v[i].in, strlen(md4v[i].in), h);
		CHECK(eqhex(h, md4v[i].md4), "MD4(\"%s\")", md4v[i].in);
	}
	for (i = 0; i < sizeof(rc4v) / sizeof(rc4v[0]); i++) {
		ntlm_rc4((const uint8_t *)rc4v[i].key, strlen(rc4v[i].key),
		    (const uint8_t *)rc4v[i].in, out, strlen(rc4v[i].in));
		CHECK(eqhex(out, rc4v[i].out), "RC4 key %s", rc4v[i].key);
	}

	/* 4.2.2.1.2 NTOWFv1("Password"). */
	CHECK(ntlm_nt_hash("Password", h) == 0 &&
	    eqhex(h, "a4f49c406510bdcab6824ee7c30fd852"), "4.2.2 NT hash");
	/* 4.2.4.1.1 NTOWFv2. */
	CHECK(ntlm_ntowfv2(h, "User", "Domain", k) == 0 &&
	    eqhex(k, "0c868a403bfd7a93a3001ef22ef02e3f"), "4.2.4 NTOWFv2");
	/* The user name is upper-cased, the domain is not. */
	CHECK(ntlm_ntowfv2(h, "user", "Domain", out) == 0 &&
	    memcmp(out, k, 16) == 0, "NTOWFv2 upper-cases the user");
	CHECK(ntlm_ntowfv2(h, "User", "DOMAIN", out) == 0 &&
	    memcmp(out, k, 16) != 0, "NTOWFv2 keeps the domain's case");
	/* 4.2.4.2.1 LMv2 = HMAC(NTOWFv2, ServerChallenge || ClientChallenge). */
	unit_unhex("0123456789abcdef aaaaaaaaaaaaaaaa", temp, sizeof(temp));
	CHECK(ntlm_hmac_md5(k, 16, temp, 16, NULL, 0, out) == 0 &&
	    eqhex(out, "86c35097ac9cec102554764a57cccc19"), "4.2.4 LMv2");
	/* 4.2.4.2.2 NTProofStr over temp, 4.2.4.1.2 SessionBaseKey. */
	tl = unit_unhex("0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa "
	    "00000000 02000c0044006f006d00610069006e00"
	    "01000c00530065007200760065007200 00000000 00000000", temp,
	    sizeof(temp));
	CHECK(ntlm_hmac_md5(k, 16, chal, 8, temp, tl, proof) == 0 &&
	    eqhex(proof, "68cd0ab851e51c96aabc927bebef6a1c"),
	    "4.2.4 NTProofStr");
	CHECK(ntlm_hmac_md5(k, 16, proof, 16, NULL, 0, sbk) == 0 &&
	    eqhex(sbk, "8de40ccadbc14a82f15cb0ad0de95ca3"),
	    "4.2.4 SessionBaseKey");
	/* 4.2.4.2.3: RandomSessionKey 55.. under KeyExchangeKey = SBK. */
	memset(ss, 0x55, 16);
	ntlm_rc4(sbk, 16, ss, out, 16);
	CHECK(eqhex(out, "c5dad2544fc9799094ce1ce90bc9d03e"),
	    "4.2.4 EncryptedRandomSessionKey");

	/* 4.2.4.3: decode the AUTHENTICATE and verify it end to end. */
	t3l = unit_unhex(spec_t3, t, sizeof(t));
	t2l = unit_unhex(spec_t2, t2, sizeof(t2));
	CHECK(t3l == 232 && t2l == 104, "spec vectors %zu %zu", t3l, t2l);
	CHECK(ntlm_decode_authenticate(t, t3l, &a, &why) == 0,
	    "decode 4.2.4.3: %s", why ? why : "");
	CHECK(strcmp(a.user, "User") == 0 && strcmp(a.domain, "Domain") == 0 &&
	    strcmp(a.workstation, "COMPUTER") == 0 && a.unicode,
	    "4.2.4.3 names %s %s %s", a.user, a.domain, a.workstation);
	CHECK(a.flags == 0xe2888235 && a.lm_len == 24 && a.nt_len == 84 &&
	    a.enc_key_len == 16 && a.has_version && !a.has_mic,
	    "4.2.4.3 fields");
	CHECK(eqhex(a.enc_key, "c5dad2544fc9799094ce1ce90bc9d03e"),
	    "4.2.4.3 session key");
	memset(&e, 0, sizeof(e));
	memcpy(e.challenge, chal, 8);
	e.type2 = t2;
	e.type2_len = t2l;
	e.now = 0;		/* the example's Time is 0 */
	e.skew = SKEW;
	CHECK(ntlm_verify(&a, &e, h) == NTLM_OK, "4.2.4.3 verifies");
	CHECK(ntlm_verify_pre(&a, &e) == NTLM_OK, "4.2.4.3 pre-checks");
	ntlm_nt_hash("password", ss);
	CHECK(ntlm_verify(&a, &e, ss) == NTLM_ERR_BAD_PROOF,
	    "4.2.4.3 wrong password");
	e.now = ntlm_filetime(1700000000);
	CHECK(ntlm_verify(&a, &e, h) == NTLM_ERR_TIME_SKEW,
	    "4.2.4.3 in 2023 is too old");
	e.now = 0;
	e.challenge[0] ^= 1;
	CHECK(ntlm_verify(&a, &e, h) == NTLM_ERR_INTERNAL,
	    "challenge not the one in type2");

	/* 4.2.2.3 and 4.2.3.3: NTLMv1, plain and with ESS. */
	e.challenge[0] ^= 1;
	t3l = unit_unhex(spec_v1_t3, t, sizeof(t));
	CHECK(ntlm_decode_authenticate(t, t3l, &a, &why) == 0 &&
	    ntlm_verify(&a, &e, h) == NTLM_ERR_NTLMV1, "4.2.2 NTLMv1 refused");
	t3l = unit_unhex(spec_ess_t3, t, sizeof(t));
	CHECK(ntlm_decode_authenticate(t, t3l, &a, &why) == 0 &&
	    (a.flags & NTLM_NEG_ESS) &&
	    ntlm_verify(&a, &e, h) == NTLM_ERR_NTLMV1,
	    "4.2.3 NTLMv1+ESS refused");
	CHECK(ntlm_filetime(0) == 116444736000000000ULL, "FILETIME epoch");
}

/* The MIC of a recorded exchange: recomputed, then tampered with. */
static void
check_mic(const struct rec *r, const struct ntlm_authenticate *a,
    const uint8_t *t1, size_t l1, const uint8_t *t2, size_t l2,
    const uint8_t *t3, size_t l3)
{
	uint8_t bad[BUFSZ];

	CHECK(a->has_mic, "%s: has a MIC", r->name);
	CHECK(mic_ok(a, r->password, t1, l1, t2, l2),
	    "%s: the MIC it sent is what we compute", r->name);
	if (r->mic == 2) {
		/*
		 * Samba's client sends a MIC without MsvAvFlags;
		 * like Samba's server (and MS-NLMP 3.2.5.1.2) we then
		 * do not hold the client to it.
		 */
		memcpy(bad, t3, l3);
		bad[NTLM_MIC_OFFSET + 3] ^= 0x40;
		CHECK(verify(bad, l3, t1, l1, t2, l2, r->password,
		    REC_FT) == NTLM_OK, "%s: unannounced MIC", r->name);
		return;
	}
	/* MIC tampered. */
	memcpy(bad, t3, l3);
	bad[NTLM_MIC_OFFSET + 3] ^= 0x40;
	CHECK(verify(bad, l3, t1, l1, t2, l2, r->password, REC_FT) ==
	    NTLM_ERR_BAD_MIC, "%s: MIC tampered", r->name);
	/* A flag of the type 3 itself, covered by the MIC only. */
	memcpy(bad, t3, l3);
	bad[62] ^= 0x10;		/* NTLMSSP_NEGOTIATE_IDENTIFY */
	CHECK(verify(bad, l3, t1, l1, t2, l2, r->password, REC_FT) ==
	    NTLM_ERR_BAD_MIC, "%s: type 3 flags tampered", r->name);
	/* The NEGOTIATE it saw differs from ours (downgrade). */
	memcpy(bad, t1, l1);
	bad[12] ^= 0x04;
	CHECK(verify(t3, l3, bad, l1, t2, l2, r->password, REC_FT) ==
	    NTLM_ERR_BAD_MIC, "%s: type 1 tampered", r->name);
	CHECK(verify(t3, l3, NULL, 0, t2, l2, r->password, REC_FT) ==
	    NTLM_ERR_BAD_MIC, "%s: no type 1 to check", r->name);
}

static void
test_recorded(void)
{
	uint8_t t1[BUFSZ], t2[BUFSZ], t3[BUFSZ], my2[BUFSZ], bad[BUFSZ];
	size_t l1, l2, l3, myl, i;
	struct ntlm_negotiate n;
	struct ntlm_authenticate a;
	const char *why;

	for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		const struct rec *r = &recs[i];

		l1 = b64(r->t1, t1);
		l2 = b64(r->t2, t2);
		l3 = b64(r->t3, t3);
		why = NULL;
		CHECK(l1 > 0 && l2 > 0 && l3 > 0, "%s: base64", r->name);
		CHECK(ntlm_decode_negotiate(t1, l1, &n, &why) == 0,
		    "%s: type 1: %s", r->name, why ? why : "");
		/*
		 * Our builder reproduces the CHALLENGE the client answered.
		 * These were recorded when SIGN and SEAL were never granted
		 * (they are now, as asked, for SPNEGO's mechListMIC): ask
		 * as the server understood the client then.
		 */
		CHECK(ntlm_build_challenge(n.flags & ~(NTLM_NEG_SIGN |
		    NTLM_NEG_SEAL), chal, REC_FT, &target, my2,
		    sizeof(my2), &myl) == 0 && myl == l2 &&
		    memcmp(my2, t2, l2) == 0, "%s: type 2 rebuilt", r->name);
		CHECK(ntlm_decode_authenticate(t3, l3, &a, &why) == 0,
		    "%s: type 3: %s", r->name, why ? why : "");
		CHECK(strcmp(a.user, r->user) == 0 && a.unicode == r->unicode,
		    "%s: user %s unicode %d", r->name, a.user, a.unicode);
		CHECK(verify(t3, l3, t1, l1, t2, l2, r->password, REC_FT) ==
		    r->want, "%s: verdict %s", r->name, ntlm_verdict_str(
		    verify(t3, l3, t1, l1, t2, l2, r->password, REC_FT)));
		if (r->want != NTLM_OK)
			continue;
		CHECK(verify(t3, l3, t1, l1, t2, l2, "Secret", REC_FT) ==
		    NTLM_ERR_BAD_PROOF, "%s: wrong password", r->name);
		CHECK(verify(t3, l3, t1, l1, t2, l2, r->password,
		    REC_FT + 3600ULL * 10000000) == NTLM_ERR_TIME_SKEW,
		    "%s: an hour later", r->name);
		if (r->mic)
			check_mic(r, &a, t1, l1, t2, l2, t3, l3);
		/* AV pairs in the blob tampered: caught before the proof. */
		memcpy(bad, t3, l3);
		{
			const uint8_t *v;
			size_t vl;
			struct ntlm_authenticate b;

			ntlm_decode_authenticate(bad, l3, &b, NULL);
			if (ntlm_av_find(b.nt + 16 + 28, b.nt_len - 16 - 28,
			    NTLM_AV_NB_COMPUTER, &v, &vl) == 0)
				bad[v - bad] ^= 0x20;	/* PROXY -> pROXY */
		}
		CHECK(verify(bad, l3, t1, l1, t2, l2, r->password, REC_FT) ==
		    NTLM_ERR_TARGET_INFO_MISMATCH, "%s: AV pair tampered",
		    r->name);
		/* The client challenge tampered: only the proof notices. */
		memcpy(bad, t3, l3);
		bad[a.nt - t3 + 16 + 16] ^= 1;
		CHECK(verify(bad, l3, t1, l1, t2, l2, r->password, REC_FT) ==
		    NTLM_ERR_BAD_PROOF, "%s: client challenge tampered",
		    r->name);
		/* Answered a challenge with another MsvAvTimestamp. */
		ntlm_build_challenge(n.flags, chal, REC_FT + 1, &target, my2,
		    sizeof(my2), &myl);
		CHECK(verify(t3, l3, t1, l1, my2, myl, r->password, REC_FT) ==
		    NTLM_ERR_TARGET_INFO_MISMATCH, "%s: other timestamp",
		    r->name);
	}
}

static void
test_synthetic(void)
{
	uint8_t t1[64], t2[BUFSZ], t3[BUFSZ], t2b[BUFSZ];
	size_t l1, l2, l3, l2b;
	struct ntlm_authenticate a;
	struct ntlm_expect e;
	struct client c;
	struct field z = { NULL, 0 }, f1, f2, f3;
	uint8_t nth[16], lm24[24], u[64], zero = 0;
	const uint8_t other[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	const char *why;

	l1 = b64("TlRMTVNTUAABAAAABYIIYgAAAAAoAAAAAAAAACgAAAAGAQAAAAAADw==",
	    t1);
	ntlm_build_challenge(0x62088205, chal, REC_FT, &target, t2,
	    sizeof(t2), &l2);
	memset(&c, 0, sizeof(c));
	c.user = "dave";
	c.domain = "EXAMPLE";
	c.password = "correct horse";
	c.unicode = 1;
	c.mic = c.mic_room = c.key_exch = 1;
	c.ts = REC_FT;

	l3 = mk_t3(&c, t1, l1, t2, l2, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_OK, "synthetic client, MIC + KEY_EXCH");
	c.key_exch = 0;
	l3 = mk_t3(&c, t1, l1, t2, l2, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_OK, "synthetic client, MIC without KEY_EXCH");
	c.mic = c.mic_room = 0;
	c.unicode = 0;
	l3 = mk_t3(&c, t1, l1, t2, l2, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_OK, "synthetic client, OEM, no MIC");
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse",
	    REC_FT + (uint64_t)(SKEW - 1) * 10000000) == NTLM_OK,
	    "skew just inside");
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse",
	    REC_FT - (uint64_t)(SKEW + 1) * 10000000) == NTLM_ERR_TIME_SKEW,
	    "skew just outside, blob from the future");

	/* Domain upper-cased for the hash but sent as typed. */
	c.domain = "example";
	c.hash_domain = "EXAMPLE";
	l3 = mk_t3(&c, t1, l1, t2, l2, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_OK, "upper-cased domain fallback");
	c.hash_domain = "OTHER";
	l3 = mk_t3(&c, t1, l1, t2, l2, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_ERR_BAD_PROOF, "hash over another domain");
	c.hash_domain = NULL;
	c.domain = "EXAMPLE";

	/* MIC announced, no room for it. */
	c.mic = 1;
	c.mic_room = 0;
	l3 = mk_t3(&c, t1, l1, t2, l2, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_ERR_BAD_MIC, "MIC announced but absent");
	c.mic = 0;

	/* The echo lacks a pair we sent. */
	c.drop_av = NTLM_AV_TIMESTAMP;
	l3 = mk_t3(&c, t1, l1, t2, l2, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_ERR_TARGET_INFO_MISMATCH, "MsvAvTimestamp not echoed");
	c.drop_av = NTLM_AV_DNS_COMPUTER;
	l3 = mk_t3(&c, t1, l1, t2, l2, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_ERR_TARGET_INFO_MISMATCH, "DNS computer name not echoed");
	c.drop_av = -1;

	/* A response to another server's challenge (relay, replay). */
	ntlm_build_challenge(0x62088205, other, REC_FT, &target, t2b,
	    sizeof(t2b), &l2b);
	l3 = mk_t3(&c, t1, l1, t2b, l2b, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_ERR_BAD_PROOF, "response to another challenge");
	{
		struct ntlm_target t = target;

		t.nb_computer = "EVIL";
		ntlm_build_challenge(0x62088205, chal, REC_FT, &t, t2b,
		    sizeof(t2b), &l2b);
	}
	l3 = mk_t3(&c, t1, l1, t2b, l2b, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_ERR_TARGET_INFO_MISMATCH, "response naming another server");

	/* Malformed blobs. */
	c.resp_type = 2;
	l3 = mk_t3(&c, t1, l1, t2, l2, t3);
	CHECK(verify(t3, l3, t1, l1, t2, l2, "correct horse", REC_FT) ==
	    NTLM_ERR_MALFORMED_BLOB, "RespType 2");
	c.resp_type = 0;

	/* Anonymous, LM only, short NT responses: hand-made messages. */
	memset(&e, 0, sizeof(e));
	memcpy(e.challenge, chal, 8);
	e.type1 = t1;
	e.type1_len = l1;
	e.type2 = t2;
	e.type2_len = l2;
	e.now = REC_FT;
	e.skew = SKEW;
	ntlm_nt_hash("correct horse", nth);
	memset(lm24, 0x11, sizeof(lm24));
	f1.p = (const uint8_t *)"d\0a\0v\0e\0";
	f1.n = 8;

	l3 = raw_t3(t3, NTLM_NEG_UNICODE | NTLM_NEG_ANONYMOUS, 8, z, z, z, z,
	    z, z);
	why = NULL;
	CHECK(ntlm_decode_authenticate(t3, l3, &a, &why) == 0 &&
	    ntlm_verify(&a, &e, nth) == NTLM_ERR_ANONYMOUS, "anonymous");
	f2.p = &zero;
	f2.n = 1;
	l3 = raw_t3(t3, NTLM_NEG_UNICODE, 8, f2, z, z, z, z, z);
	CHECK(ntlm_decode_authenticate(t3, l3, &a, &why) == 0 &&
	    ntlm_verify(&a, &e, nth) == NTLM_ERR_ANONYMOUS,
	    "anonymous with LM Z(1)");
	f2.p = lm24;
	f2.n = 24;
	l3 = raw_t3(t3, NTLM_NEG_UNICODE, 8, f2, f2, z, z, z, z);
	CHECK(ntlm_decode_authenticate(t3, l3, &a, &why) == 0 &&
	    ntlm_verify(&a, &e, nth) == NTLM_ERR_ANONYMOUS,
	    "empty user with responses");
	l3 = raw_t3(t3, NTLM_NEG_UNICODE, 8, f2, z, z, f1, z, z);
	CHECK(ntlm_decode_authenticate(t3, l3, &a, &why) == 0 &&
	    ntlm_verify(&a, &e, nth) == NTLM_ERR_LM_ONLY, "LM only");
	CHECK(ntlm_verify_pre(&a, &e) == NTLM_ERR_LM_ONLY, "LM only (pre)");
	l3 = raw_t3(t3, NTLM_NEG_UNICODE, 8, f2, f2, z, f1, z, z);
	CHECK(ntlm_decode_authenticate(t3, l3, &a, &why) == 0 &&
	    ntlm_verify(&a, &e, nth) == NTLM_ERR_NTLMV1, "24-byte NT");
	f3.p = u;
	f3.n = 40;
	memset(u, 0, sizeof(u));
	u[0] = u[1] = 1;
	l3 = raw_t3(t3, NTLM_NEG_UNICODE, 8, z, f3, z, f1, z, z);
	CHECK(ntlm_decode_authenticate(t3, l3, &a, &why) == 0 &&
	    ntlm_verify(&a, &e, nth) == NTLM_ERR_MALFORMED_BLOB,
	    "40-byte NT response");
	f3.n = 64;		/* blob with AV pairs but no EOL */
	memset(u, 0, sizeof(u));
	u[16] = u[17] = 1;
	put16(u + 16 + 28, NTLM_AV_NB_DOMAIN);
	put16(u + 16 + 30, 200);
	l3 = raw_t3(t3, NTLM_NEG_UNICODE, 8, z, f3, z, f1, z, z);
	CHECK(ntlm_decode_authenticate(t3, l3, &a, &why) == 0 &&
	    ntlm_verify(&a, &e, nth) == NTLM_ERR_MALFORMED_BLOB,
	    "AV pair past the blob");
	CHECK(ntlm_verify(&a, &e, NULL) == NTLM_ERR_MALFORMED_BLOB &&
	    ntlm_verify(NULL, &e, nth) == NTLM_ERR_INTERNAL,
	    "NULL arguments");
	e.type2 = NULL;
	CHECK(ntlm_verify(&a, &e, nth) == NTLM_ERR_INTERNAL, "no type 2");
}

/* Decoder table: each case patches a good message. */
struct bad {
	const char	*name;
	size_t		 at;		/* byte to patch */
	int		 width;		/* 0: no patch, 1, 2 or 4 bytes */
	uint32_t	 val;
	long		 truncate;	/* > 0: keep this many bytes; < 0: cut */
};

static const struct bad bad3[] = {
	{ "one byte", 0, 0, 0, 1 },
	{ "signature only", 0, 0, 0, 8 },
	{ "header truncated", 0, 0, 0, 63 },
	{ "payload truncated", 0, 0, 0, -1 },
	{ "bad signature", 7, 1, 'X', 0 },
	{ "type 2", 8, 4, 2, 0 },
	{ "type 0x103", 8, 4, 0x103, 0 },
	{ "NT offset past the end", 24, 4, 0xffffff00, 0 },
	{ "NT offset wraps", 24, 4, 0xffffffff, 0 },
	{ "NT ends one byte past", 24, 4, 0x95, 0 },
	{ "NT length 0xffff", 20, 2, 0xffff, 0 },
	{ "LM length 25", 12, 2, 25, 0 },
	{ "domain in the header", 32, 4, 0x10, 0 },
	{ "user at offset 0", 40, 4, 0, 0 },
	{ "user at offset 63", 40, 4, 63, 0 },
	{ "workstation 257 bytes", 44, 2, 257, 0 },
	{ "workstation odd UTF-16", 44, 2, 15, 0 },
	{ "session key 17 bytes", 52, 2, 17, 0 },
	{ "NUL in the user name", 0x54, 1, 0, 0 },
	{ "control char in user", 0x54, 1, 0x0a, 0 },
	{ "unpaired low surrogate", 0x55, 1, 0xdc, 0 },
	{ "high surrogate, no low", 0x4d, 1, 0xd8, 0 },
	{ "C1 control", 0x48, 2, 0x0085, 0 },
};

static void
test_decoders(void)
{
	uint8_t good[BUFSZ], m[BUFSZ + 16], t1[64], big[BUFSZ + 2];
	size_t gl, ml, i, l1;
	struct ntlm_authenticate a;
	struct ntlm_negotiate n;
	struct field z = { NULL, 0 }, f;
	const char *why;

	gl = unit_unhex(spec_t3, good, sizeof(good));
	for (i = 0; i < sizeof(bad3) / sizeof(bad3[0]); i++) {
		const struct bad *b = &bad3[i];

		memcpy(m, good, gl);
		ml = gl;
		if (b->width == 1)
			m[b->at] = b->val;
		else if (b->width == 2)
			put16(m + b->at, b->val);
		else if (b->width == 4)
			put32(m + b->at, b->val);
		if (b->truncate > 0)
			ml = b->truncate;
		else if (b->truncate < 0)
			ml = gl + b->truncate;
		why = NULL;
		CHECK(ntlm_decode_authenticate(m, ml, &a, &why) == -1 &&
		    why != NULL, "type 3 %s accepted", b->name);
	}
	/* Not every patch is fatal: an empty buffer's offset is free. */
	memcpy(m, good, gl);
	put16(m + 52, 0);
	put32(m + 56, 0xffffffff);
	CHECK(ntlm_decode_authenticate(m, gl, &a, NULL) == 0 &&
	    a.enc_key_len == 0, "empty buffer with wild offset");
	/* A valid surrogate pair (U+1F600) becomes 4 bytes of UTF-8. */
	f.p = (const uint8_t *)"b\0\x3d\xd8\x00\xde";
	f.n = 6;
	ml = raw_t3(m, NTLM_NEG_UNICODE, 8, z, z, z, f, z, z);
	CHECK(ntlm_decode_authenticate(m, ml, &a, NULL) == 0 &&
	    strcmp(a.user, "b\xf0\x9f\x98\x80") == 0, "surrogate pair");
	/* OEM names: UTF-8 accepted, other bytes not. */
	f.p = (const uint8_t *)"j\xc3\xbcrgen";
	f.n = 7;
	ml = raw_t3(m, NTLM_NEG_OEM, 8, z, z, z, f, z, z);
	CHECK(ntlm_decode_authenticate(m, ml, &a, NULL) == 0 &&
	    strcmp(a.user, "j\xc3\xbcrgen") == 0 && !a.unicode, "OEM UTF-8");
	f.p = (const uint8_t *)"j\xfcrgen";
	f.n = 6;
	ml = raw_t3(m, NTLM_NEG_OEM, 8, z, z, z, f, z, z);
	CHECK(ntlm_decode_authenticate(m, ml, &a, &why) == -1,
	    "OEM Latin-1 refused");
	f.p = (const uint8_t *)"\xc0\x80x";
	f.n = 3;
	ml = raw_t3(m, NTLM_NEG_OEM, 8, z, z, z, f, z, z);
	CHECK(ntlm_decode_authenticate(m, ml, &a, &why) == -1,
	    "OEM overlong NUL refused");
	f.p = (const uint8_t *)"\xed\xa0\x80";
	f.n = 3;
	ml = raw_t3(m, NTLM_NEG_OEM, 8, z, z, z, f, z, z);
	CHECK(ntlm_decode_authenticate(m, ml, &a, &why) == -1,
	    "OEM encoded surrogate refused");
	/* A 256-byte user name is the most we take. */
	memset(big, 'a', 256);
	f.p = big;
	f.n = 256;
	ml = raw_t3(m, NTLM_NEG_OEM, 8, z, z, z, f, z, z);
	CHECK(ntlm_decode_authenticate(m, ml, &a, NULL) == 0 &&
	    strlen(a.user) == 256, "256-byte OEM name");
	ml = raw_t3(m, NTLM_NEG_UNICODE, 8, z, z, z, f, z, z);
	CHECK(ntlm_decode_authenticate(m, ml, &a, NULL) == 0 &&
	    strlen(a.user) == 384, "256-byte UTF-16 name, 3-byte UTF-8");
	/* Nothing longer than NTLM_MAX_MSG. */
	memset(big, 0, sizeof(big));
	memcpy(big, good, gl);
	CHECK(ntlm_decode_authenticate(big, NTLM_MAX_MSG + 1, &a, &why) ==
	    -1, "oversized message");

	/* Type 1. */
	l1 = b64("TlRMTVNTUAABAAAABoIIAAAAAAAAAAAAAAAAAAAAAAA=", t1);
	CHECK(ntlm_decode_negotiate(t1, l1, &n, NULL) == 0 &&
	    n.flags == 0x00088206 && n.domain[0] == '\0', "curl type 1");
	CHECK(ntlm_decode_negotiate(t1, 16, &n, NULL) == 0,
	    "16-byte type 1");
	CHECK(ntlm_decode_negotiate(t1, 20, &n, &why) == -1,
	    "20-byte type 1");
	CHECK(ntlm_decode_negotiate(t1, 15, &n, &why) == -1,
	    "15-byte type 1");
	l1 = b64("TlRMTVNTUAABAAAAMrCI4gcABwAoAAAABQAFAC8AAAAGAbEdAAAAD0VYQU1Q"
	    "TEVXS1MwMQ==", t1);
	CHECK(ntlm_decode_negotiate(t1, l1, &n, NULL) == 0 &&
	    strcmp(n.domain, "EXAMPLE") == 0 &&
	    strcmp(n.workstation, "WKS01") == 0 && n.has_version,
	    "python type 1 names");
	CHECK(ntlm_decode_negotiate(t1, l1 - 1, &n, &why) == -1,
	    "type 1 workstation past the end");
	t1[20] = 0x10;
	CHECK(ntlm_decode_negotiate(t1, l1, &n, &why) == -1,
	    "type 1 domain in the header");
	t1[20] = 0x28;
	put16(t1 + 16, 0x101);
	CHECK(ntlm_decode_negotiate(t1, l1, &n, &why) == -1,
	    "type 1 domain too long");
	CHECK(ntlm_decode_negotiate(good, gl, &n, &why) == -1,
	    "type 3 as type 1");
	memcpy(t1, "NTLMSSQ", 7);
	CHECK(ntlm_decode_negotiate(t1, l1, &n, &why) == -1,
	    "type 1 bad signature");
}

static void
test_b64(void)
{
	static const char *const bad[] = {
		"", "T", "TlR", "TlRMT", "Tl=M", "T===", "====", "TQ=a",
		"TlRM TVNT", "TlRM\nTVNT", "TR==", "TlR=", "Tl-_", "TQ==TQ==",
		"TlRMT\x80==",
	};
	uint8_t in[32], out[64];
	char enc[64];
	size_t i, j, n;
	int rv;

	for (i = 0; i < sizeof(in); i++)
		in[i] = i * 37 + 1;
	for (i = 0; i <= 20; i++) {
		rv = ntlm_b64_encode(in, i, enc, sizeof(enc));
		n = 0;
		j = ntlm_b64_decode(enc, strlen(enc), out, sizeof(out), &n);
		if (i == 0)
			CHECK(rv == 0 && (int)j == -1, "empty round trip");
		else
			CHECK(rv == (int)((i + 2) / 3 * 4) && j == 0 &&
			    n == i && memcmp(in, out, i) == 0,
			    "round trip %zu", i);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(ntlm_b64_decode(bad[i], strlen(bad[i]), out, sizeof(out),
		    &n) == -1, "base64 \"%s\" accepted", bad[i]);
	CHECK(ntlm_b64_decode("TQ==", 4, out, sizeof(out), &n) == 0 &&
	    n == 1 && out[0] == 'M', "TQ==");
	CHECK(ntlm_b64_decode("TlRM", 4, out, 2, &n) == -1,
	    "base64 output too small");
	CHECK(ntlm_b64_encode(in, 3, enc, 4) == -1, "encode output too small");
}

static void
test_challenge(void)
{
	uint8_t m[NTLM_MAX_CHALLENGE_MSG];
	struct ntlm_challenge c;
	struct ntlm_target t;
	const uint8_t *v;
	size_t l, vl;
	uint32_t f;
	char longname[300];

	f = ntlm_challenge_flags(0x00088206);	/* curl */
	CHECK((f & NTLM_NEG_OEM) && !(f & NTLM_NEG_UNICODE) &&
	    (f & NTLM_NEG_ESS) && !(f & NTLM_NEG_KEY_EXCH) &&
	    !(f & NTLM_NEG_128) && (f & NTLM_NEG_TARGET_INFO) &&
	    (f & NTLM_REQUEST_TARGET) && (f & NTLM_NEG_NTLM) &&
	    (f & NTLM_NEG_ALWAYS_SIGN) && (f & NTLM_NEG_VERSION),
	    "flags for curl %08x", f);
	f = ntlm_challenge_flags(0xe2088237);	/* asks for everything */
	CHECK((f & NTLM_NEG_UNICODE) && !(f & NTLM_NEG_OEM) &&
	    (f & NTLM_NEG_KEY_EXCH) && (f & NTLM_NEG_128) &&
	    (f & NTLM_NEG_56) && (f & NTLM_NEG_SIGN) && (f & NTLM_NEG_SEAL),
	    "flags for Windows-like %08x", f);
	f = ntlm_challenge_flags(0xe2088207);	/* no SIGN, no SEAL */
	CHECK(!(f & (NTLM_NEG_SIGN | NTLM_NEG_SEAL)),
	    "SIGN and SEAL only when asked %08x", f);
	f = ntlm_challenge_flags(0);
	CHECK((f & NTLM_NEG_OEM) && !(f & NTLM_NEG_ESS), "flags for 0");

	CHECK(ntlm_build_challenge(0xe2088237, chal, 0x0102030405060708ULL,
	    &target, m, sizeof(m), &l) == 0, "build");
	CHECK(ntlm_decode_challenge(m, l, &c) == 0 &&
	    memcmp(c.challenge, chal, 8) == 0 &&
	    c.flags == ntlm_challenge_flags(0xe2088237), "decode ours");
	CHECK(ntlm_av_check(c.target_info, c.target_info_len) == 0,
	    "our AV pairs are well formed");
	CHECK(ntlm_av_find(c.target_info, c.target_info_len,
	    NTLM_AV_NB_DOMAIN, &v, &vl) == 0 && vl == 14 &&
	    memcmp(v, "E\0X\0A\0M\0P\0L\0E\0", 14) == 0, "MsvAvNbDomainName");
	CHECK(ntlm_av_find(c.target_info, c.target_info_len,
	    NTLM_AV_NB_COMPUTER, &v, &vl) == 0 && vl == 10,
	    "MsvAvNbComputerName");
	CHECK(ntlm_av_find(c.target_info, c.target_info_len,
	    NTLM_AV_DNS_DOMAIN, &v, &vl) == 0 && vl == 24,
	    "MsvAvDnsDomainName");
	CHECK(ntlm_av_find(c.target_info, c.target_info_len,
	    NTLM_AV_DNS_COMPUTER, &v, &vl) == 0 && vl == 36,
	    "MsvAvDnsComputerName");
	CHECK(ntlm_av_find(c.target_info, c.target_info_len,
	    NTLM_AV_TIMESTAMP, &v, &vl) == 0 && vl == 8 &&
	    eqhex(v, "0807060504030201"), "MsvAvTimestamp");
	CHECK(m[12] == 14 && memcmp(m + 56, "E\0X\0", 4) == 0,
	    "TargetName in UTF-16LE");
	CHECK(ntlm_build_challenge(0x00088206, chal, 0, &target, m,
	    sizeof(m), &l) == 0 && m[12] == 7 &&
	    memcmp(m + 56, "EXAMPLE", 7) == 0, "TargetName in OEM");

	t = target;
	t.dns_domain = t.dns_computer = "";
	CHECK(ntlm_build_challenge(1, chal, 0, &t, m, sizeof(m), &l) == 0 &&
	    ntlm_decode_challenge(m, l, &c) == 0 &&
	    ntlm_av_find(c.target_info, c.target_info_len,
	    NTLM_AV_DNS_DOMAIN, &v, &vl) == -1, "empty DNS names left out");
	t.nb_computer = "";
	CHECK(ntlm_build_challenge(1, chal, 0, &t, m, sizeof(m), &l) == -1,
	    "empty NetBIOS name refused");
	t = target;
	memset(longname, 'x', 200);
	longname[200] = '\0';
	t.dns_computer = longname;
	CHECK(ntlm_build_challenge(1, chal, 0, &t, m, sizeof(m), &l) == -1,
	    "name over 256 bytes of UTF-16 refused");
	t.dns_computer = "bad\xff";
	CHECK(ntlm_build_challenge(1, chal, 0, &t, m, sizeof(m), &l) == -1,
	    "invalid UTF-8 name refused");
	CHECK(ntlm_build_challenge(1, chal, 0, &target, m, 100, &l) == -1,
	    "short output buffer");

	/* AV list checks. */
	CHECK(ntlm_av_check((const uint8_t *)"\0\0\0\0", 4) == 0,
	    "EOL only");
	CHECK(ntlm_av_check((const uint8_t *)"\x02\0\x02\0ab", 6) == -1,
	    "no EOL");
	CHECK(ntlm_av_check((const uint8_t *)"\0\0\x01\0x", 5) == -1,
	    "EOL with a value");
	CHECK(ntlm_av_check((const uint8_t *)
	    "\x02\0\x02\0ab\x02\0\x02\0ab\0\0\0\0", 16) == -1, "duplicate");
	CHECK(ntlm_av_check((const uint8_t *)"\x06\0\x03\0abc\0\0\0\0", 11) ==
	    -1, "MsvAvFlags of 3 bytes");
	CHECK(ntlm_av_check((const uint8_t *)"\x63\0\x01\0a\0\0\0\0", 9) == 0,
	    "unknown AvId skipped");
}

static void
test_misc(void)
{
	int v;

	for (v = NTLM_OK; v <= NTLM_ERR_INTERNAL; v++)
		CHECK(ntlm_verdict_str(v) != NULL &&
		    strcmp(ntlm_verdict_str(v), "unknown") != 0,
		    "verdict %d named", v);
	{
		uint8_t u[16], h[16];
		size_t n;

		CHECK(ntlm_utf8_to_utf16le("\xc3\xa9\xd0\xb6z", 1, u,
		    sizeof(u), &n) == 0 && n == 6 &&
		    eqhex(u, "c900 1604 5a00"), "upper-case é ж z");
		CHECK(ntlm_nt_hash("\xff", h) == -1, "invalid UTF-8 password");
	}
}

/* Hex of a 16-byte hash, for comparing with published vectors. */
static const char *
hex16(const uint8_t h[16])
{
	static char	buf[33];
	int		i;

	for (i = 0; i < 16; i++)
		snprintf(buf + 2 * i, 3, "%02x", h[i]);
	return (buf);
}

static int
md4_is_c(const char *msg, const char *want)
{
	uint8_t	h[16];

	ntlm_md4((const uint8_t *)msg, strlen(msg), h);
	return (strcmp(hex16(h), want) == 0);
}

static int
nthash_is_c(const char *pw, const char *want)
{
	uint8_t	h[16];

	if (ntlm_nt_hash(pw, h) == -1)
		return (0);
	return (strcmp(hex16(h), want) == 0);
}

static void
test_nthash_conv(void)
{
	uint8_t	h[16], h2[16];
	char	long_a[1001];

	/* RFC 1320 appendix A.5. */
	CHECK(md4_is_c("", "31d6cfe0d16ae931b73c59d7e0c089c0"), "md4 \"\"");
	CHECK(md4_is_c("a", "bde52cb31de33e46245e05fbdbd6fb24"), "md4 a");
	CHECK(md4_is_c("abc", "a448017aaf21d8525fc10ae87aa6729d"), "md4 abc");
	CHECK(md4_is_c("message digest", "d9130a8164549fe818874806e1c7014b"),
	    "md4 message digest");
	CHECK(md4_is_c("abcdefghijklmnopqrstuvwxyz",
	    "d79e1c308aa5bbcdeea8ed63df412da9"), "md4 a-z");
	CHECK(md4_is_c("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789", "043f8582f241db351ce627e153e7f0e4"), "md4 62");
	CHECK(md4_is_c("1234567890123456789012345678901234567890123456789012345"
	    "6789012345678901234567890", "e33b4ddc9c38f2199c3e7b164fcc0536"),
	    "md4 80");

	/* MS-NLMP 4.2.2.1.2: NTOWFv1("Password"); and the empty password. */
	CHECK(nthash_is_c("Password", "a4f49c406510bdcab6824ee7c30fd852"),
	    "nthash Password");
	CHECK(nthash_is_c("", "31d6cfe0d16ae931b73c59d7e0c089c0"), "nthash \"\"");

	/* Non-ASCII: U+00E9 is e9 00; U+1F600 the pair D83D DE00. */
	CHECK(ntlm_nt_hash("\xc3\xa9", h) == 0, "e-acute");
	ntlm_md4((const uint8_t *)"\xe9\x00", 2, h2);
	CHECK(memcmp(h, h2, 16) == 0, "e-acute is UTF-16LE");
	CHECK(ntlm_nt_hash("a\xf0\x9f\x98\x80", h) == 0, "emoji");
	ntlm_md4((const uint8_t *)"a\x00\x3d\xd8\x00\xde", 6, h2);
	CHECK(memcmp(h, h2, 16) == 0, "emoji is a surrogate pair");
	CHECK(ntlm_nt_hash("\xe2\x82\xac", h) == 0, "euro");
	ntlm_md4((const uint8_t *)"\xac\x20", 2, h2);
	CHECK(memcmp(h, h2, 16) == 0, "euro is U+20AC");
	CHECK(ntlm_nt_hash("\xf4\x8f\xbf\xbf", h) == 0, "U+10FFFF");
	ntlm_md4((const uint8_t *)"\xff\xdb\xff\xdf", 4, h2);
	CHECK(memcmp(h, h2, 16) == 0, "U+10FFFF is DBFF DFFF");

	/* A long password crosses many MD4 blocks the same either way. */
	memset(long_a, 'a', 250);
	long_a[250] = '\0';
	CHECK(ntlm_nt_hash(long_a, h) == 0, "long");
	{
		uint8_t	u[500];
		int	i;

		for (i = 0; i < 250; i++) {
			u[2 * i] = 'a';
			u[2 * i + 1] = 0;
		}
		ntlm_md4((const uint8_t *)u, sizeof(u), h2);
	}
	CHECK(memcmp(h, h2, 16) == 0, "long matches");

	/* Invalid UTF-8 fails and leaves out alone. */
	memset(h, 0x55, sizeof(h));
	CHECK(ntlm_nt_hash("\xff", h) == -1, "0xff");
	CHECK(ntlm_nt_hash("ok\x80", h) == -1, "lone continuation");
	CHECK(ntlm_nt_hash("\xc0\x80", h) == -1, "overlong NUL");
	CHECK(ntlm_nt_hash("\xe0\x80\xaf", h) == -1, "overlong /");
	CHECK(ntlm_nt_hash("\xed\xa0\x80", h) == -1, "surrogate");
	CHECK(ntlm_nt_hash("\xf4\x90\x80\x80", h) == -1, "above U+10FFFF");
	CHECK(ntlm_nt_hash("\xe2\x82", h) == -1, "truncated");
	CHECK(ntlm_nt_hash("\xf8\x88\x80\x80\x80", h) == -1, "5 bytes");
	CHECK(h[0] == 0x55 && h[15] == 0x55, "out untouched");
}

/*
 * The gss-ntlmssp exchange of vectors_gssntlm.h: the mechanism list from
 * the NegTokenInit, the CHALLENGE and the AUTHENTICATE as NegTokenResps,
 * the client's mechListMIC on the last leg and the server's in its
 * accept-completed.  Both MICs must come out of ntlm_sign() from the
 * password alone.
 */
static void
test_spnego_mic(void)
{
	static uint8_t		 init[256], t2[256], t3[512], done[64];
	struct spnego_init	 si;
	struct spnego_resp	 r2, r3, rd;
	struct ntlm_authenticate a;
	const char		*why = NULL;
	uint8_t			 nthash[16], k[16], base[16], exported[16];
	uint8_t			 sig[16];
	uint32_t		 t2flags;
	size_t			 ni, n2, n3, nd;
	int			 ok;

	ni = unit_unhex(gssntlm_init, init, sizeof(init));
	n2 = unit_unhex(gssntlm_t2, t2, sizeof(t2));
	n3 = unit_unhex(gssntlm_t3, t3, sizeof(t3));
	nd = unit_unhex(gssntlm_done, done, sizeof(done));
	ok = spnego_parse_init(init, ni, &si, &why) == 0 &&
	    spnego_parse_resp(t2, n2, &r2, &why) == 0 &&
	    spnego_parse_resp(t3, n3, &r3, &why) == 0 &&
	    spnego_parse_resp(done, nd, &rd, &why) == 0;
	CHECK(ok, "recorded SPNEGO legs parse: %s", why ? why : "");
	if (!ok)
		return;
	ok = r3.mic != NULL && r3.mic_len == 16 && rd.mic != NULL &&
	    rd.mic_len == 16 && r2.response_token_len >= 24;
	CHECK(ok, "both mechListMICs and the CHALLENGE are there");
	if (!ok)
		return;
	ok = ntlm_decode_authenticate(r3.response_token,
	    r3.response_token_len, &a, &why) == 0;
	CHECK(ok, "AUTHENTICATE decodes");
	if (!ok)
		return;
	t2flags = r2.response_token[20] | r2.response_token[21] << 8 |
	    (uint32_t)r2.response_token[22] << 16 |
	    (uint32_t)r2.response_token[23] << 24;
	CHECK(t2flags & NTLM_NEG_KEY_EXCH, "recorded with KEY_EXCH");
	CHECK(ntlm_nt_hash("Password1", nthash) == 0 &&
	    ntlm_ntowfv2(nthash, a.user, a.domain, k) == 0 &&
	    ntlm_hmac_md5(k, 16, a.nt, 16, NULL, 0, base) == 0 &&
	    ntlm_exported_key(&a, t2flags, base, exported) == 0,
	    "exported session key");
	CHECK(ntlm_sign(exported, a.flags & t2flags, 0, 0, si.mech_list,
	    si.mech_list_len, sig) == 0 && memcmp(sig, r3.mic, 16) == 0,
	    "client's mechListMIC recomputed");
	CHECK(ntlm_sign(exported, a.flags & t2flags, 1, 0, si.mech_list,
	    si.mech_list_len, sig) == 0 && memcmp(sig, rd.mic, 16) == 0,
	    "server's mechListMIC recomputed");
	/* Wrong direction, wrong key, other data: no match. */
	CHECK(ntlm_sign(exported, a.flags & t2flags, 1, 0, si.mech_list,
	    si.mech_list_len, sig) == 0 && memcmp(sig, r3.mic, 16) != 0,
	    "directions differ");
	exported[0] ^= 1;
	CHECK(ntlm_sign(exported, a.flags & t2flags, 0, 0, si.mech_list,
	    si.mech_list_len, sig) == 0 && memcmp(sig, r3.mic, 16) != 0,
	    "another key differs");
	exported[0] ^= 1;
	CHECK(ntlm_sign(exported, a.flags & t2flags, 0, 0, si.mech_list,
	    si.mech_list_len - 1, sig) == 0 && memcmp(sig, r3.mic, 16) != 0,
	    "other data differs");
}

int
main(void)
{
	test_nthash_conv();
	test_kat();
	test_recorded();
	test_synthetic();
	test_decoders();
	test_b64();
	test_challenge();
	test_misc();
	test_spnego_mic();
	return (unit_done("t_ntlm"));
}
