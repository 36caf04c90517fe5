/*
 * NTLMSSP server side, wire format and crypto (MS-NLMP).
 *
 * This is the internal header of auth/ntlm_msg.c (decode NEGOTIATE and
 * AUTHENTICATE, build CHALLENGE, base64, AV pairs, UTF-16LE) and
 * auth/ntlm_crypto.c (NT hash, NTOWFv2, NTProofStr, MIC, the verifier).
 * Both are pure: no libevent, no globals, no allocation of their own (only
 * OpenSSL's HMAC context, freed before return); callers hand in bytes and
 * get back -1/0 or a verdict.  The per-connection state machine
 * (auth_ntlm.c) owns the challenge (RAND_bytes, single use, expiry) and the
 * NT hash lookup, and includes this header; other folders use auth.h.
 *
 * Only NTLMv2 is ever accepted.  NTLMv1, NTLMv1 with extended session
 * security, LM and anonymous logons are recognised only to be refused with
 * a precise reason.
 */
#ifndef IAPROXY_NTLM_H
#define IAPROXY_NTLM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* NegotiateFlags (MS-NLMP 2.2.2.5). */
#define NTLM_NEG_UNICODE		0x00000001u
#define NTLM_NEG_OEM			0x00000002u
#define NTLM_REQUEST_TARGET		0x00000004u
#define NTLM_NEG_SIGN			0x00000010u
#define NTLM_NEG_SEAL			0x00000020u
#define NTLM_NEG_LM_KEY			0x00000080u
#define NTLM_NEG_NTLM			0x00000200u
#define NTLM_NEG_ANONYMOUS		0x00000800u
#define NTLM_NEG_OEM_DOMAIN_SUPPLIED	0x00001000u
#define NTLM_NEG_OEM_WKS_SUPPLIED	0x00002000u
#define NTLM_NEG_ALWAYS_SIGN		0x00008000u
#define NTLM_TARGET_TYPE_DOMAIN		0x00010000u
#define NTLM_TARGET_TYPE_SERVER		0x00020000u
#define NTLM_NEG_ESS			0x00080000u	/* EXTENDED_SESSIONSECURITY */
#define NTLM_NEG_IDENTIFY		0x00100000u
#define NTLM_NEG_TARGET_INFO		0x00800000u
#define NTLM_NEG_VERSION		0x02000000u
#define NTLM_NEG_128			0x20000000u
#define NTLM_NEG_KEY_EXCH		0x40000000u
#define NTLM_NEG_56			0x80000000u

/* AV_PAIR AvId values (MS-NLMP 2.2.2.1). */
#define NTLM_AV_EOL			0
#define NTLM_AV_NB_COMPUTER		1
#define NTLM_AV_NB_DOMAIN		2
#define NTLM_AV_DNS_COMPUTER		3
#define NTLM_AV_DNS_DOMAIN		4
#define NTLM_AV_DNS_TREE		5
#define NTLM_AV_FLAGS			6
#define NTLM_AV_TIMESTAMP		7
#define NTLM_AV_SINGLE_HOST		8
#define NTLM_AV_TARGET_NAME		9
#define NTLM_AV_CHANNEL_BINDINGS	10
#define NTLM_AV_MAX			10

/* MsvAvFlags bit: the AUTHENTICATE message carries a MIC. */
#define NTLM_AVFLAG_MIC			0x00000002u

#define NTLM_CHALLENGE_LEN	8
#define NTLM_HASH_LEN		16	/* NT hash, NTOWFv2, HMAC-MD5 */
#define NTLM_MIC_OFFSET		72	/* after the 64-byte header + Version */
#define NTLM_MIC_LEN		16

/*
 * Limits on what a client may send.  A name is capped in wire bytes (so
 * 128 UTF-16 code units); its UTF-8 form needs at most 3 bytes per code
 * unit.  4096 bytes of NTLMv2 response leave room for every AV pair a
 * Windows client adds (channel bindings, target name, single host).
 */
#define NTLM_MAX_NAME		256
#define NTLM_MAX_NAME_UTF8	(NTLM_MAX_NAME / 2 * 3)
#define NTLM_MAX_NT_RESP	4096
#define NTLM_MAX_LM_RESP	24
#define NTLM_MAX_SESSION_KEY	16
#define NTLM_MAX_MSG		8192	/* a decoded message, any type */
#define NTLM_MAX_B64		(((NTLM_MAX_MSG + 2) / 3) * 4)
#define NTLM_MAX_CHALLENGE_MSG	2048	/* what ntlm_build_challenge writes */

/* A decoded NEGOTIATE_MESSAGE (type 1, MS-NLMP 2.2.1.1). */
struct ntlm_negotiate {
	uint32_t	 flags;
	/* OEM strings as UTF-8; informational only, often empty. */
	char		 domain[NTLM_MAX_NAME_UTF8 + 1];
	char		 workstation[NTLM_MAX_NAME_UTF8 + 1];
	int		 has_version;
	uint8_t		 version[8];
};

/*
 * A decoded AUTHENTICATE_MESSAGE (type 3, MS-NLMP 2.2.1.3).  The byte
 * pointers point into the caller's buffer and stay valid only as long as
 * it does; the names are copies, converted to UTF-8.
 */
struct ntlm_authenticate {
	const uint8_t	*raw;		/* the whole message */
	size_t		 rawlen;
	uint32_t	 flags;
	int		 unicode;	/* names were UTF-16LE, else OEM */
	const uint8_t	*lm;		/* LmChallengeResponse */
	size_t		 lm_len;
	const uint8_t	*nt;		/* NtChallengeResponse */
	size_t		 nt_len;
	const uint8_t	*enc_key;	/* EncryptedRandomSessionKey */
	size_t		 enc_key_len;
	int		 has_version;
	uint8_t		 version[8];
	int		 has_mic;	/* room for a MIC before the payload */
	const uint8_t	*mic;		/* raw + NTLM_MIC_OFFSET if has_mic */
	char		 user[NTLM_MAX_NAME_UTF8 + 1];
	char		 domain[NTLM_MAX_NAME_UTF8 + 1];
	char		 workstation[NTLM_MAX_NAME_UTF8 + 1];
};

/* A decoded CHALLENGE_MESSAGE (type 2); pointers into the buffer. */
struct ntlm_challenge {
	uint32_t	 flags;
	uint8_t		 challenge[NTLM_CHALLENGE_LEN];
	const uint8_t	*target_info;
	size_t		 target_info_len;
};

/* What the server announces about itself (all UTF-8, none NULL). */
struct ntlm_target {
	const char	*nb_domain;	/* also the TargetName */
	const char	*nb_computer;
	const char	*dns_domain;
	const char	*dns_computer;
};

/* Why ntlm_verify() said no. */
enum ntlm_verdict {
	NTLM_OK = 0,
	NTLM_ERR_MALFORMED_BLOB,	/* NTLMv2 response does not parse */
	NTLM_ERR_NTLMV1,		/* 24-byte NT response (with/without ESS) */
	NTLM_ERR_LM_ONLY,		/* LM response and no NT response */
	NTLM_ERR_ANONYMOUS,		/* empty user name */
	NTLM_ERR_TIME_SKEW,		/* blob timestamp outside the window */
	NTLM_ERR_TARGET_INFO_MISMATCH,	/* echoed AV pairs differ from ours */
	NTLM_ERR_BAD_PROOF,		/* NTProofStr wrong: wrong password */
	NTLM_ERR_BAD_MIC,		/* MIC missing, wrong or uncheckable */
	NTLM_ERR_INTERNAL,		/* caller error or crypto failure */
};

/* What the server expects of the AUTHENTICATE message it is checking. */
struct ntlm_expect {
	uint8_t		 challenge[NTLM_CHALLENGE_LEN];
	const uint8_t	*type1;		/* raw NEGOTIATE, for the MIC */
	size_t		 type1_len;
	const uint8_t	*type2;		/* raw CHALLENGE as we sent it */
	size_t		 type2_len;
	uint64_t	 now;		/* FILETIME (100 ns since 1601) */
	unsigned int	 skew;		/* seconds either side of now */
};

/* ntlm_msg.c */
int	 ntlm_b64_decode(const char *, size_t, uint8_t *, size_t, size_t *);
int	 ntlm_b64_encode(const uint8_t *, size_t, char *, size_t);
int	 ntlm_decode_negotiate(const uint8_t *, size_t,
	    struct ntlm_negotiate *, const char **);
int	 ntlm_decode_authenticate(const uint8_t *, size_t,
	    struct ntlm_authenticate *, const char **);
int	 ntlm_decode_challenge(const uint8_t *, size_t,
	    struct ntlm_challenge *);
uint32_t ntlm_challenge_flags(uint32_t);
int	 ntlm_build_challenge(uint32_t, const uint8_t *, uint64_t,
	    const struct ntlm_target *, uint8_t *, size_t, size_t *);
int	 ntlm_av_check(const uint8_t *, size_t);
int	 ntlm_av_find(const uint8_t *, size_t, uint16_t, const uint8_t **,
	    size_t *);
int	 ntlm_utf8_to_utf16le(const char *, int, uint8_t *, size_t,
	    size_t *);
uint64_t ntlm_filetime(time_t);

/* ntlm_crypto.c */
void	 ntlm_md4(const uint8_t *, size_t, uint8_t *);
void	 ntlm_rc4(const uint8_t *, size_t, const uint8_t *, uint8_t *,
	    size_t);
int	 ntlm_hmac_md5(const uint8_t *, size_t, const uint8_t *, size_t,
	    const uint8_t *, size_t, uint8_t *);
int	 ntlm_nt_hash(const char *, uint8_t *);
int	 ntlm_ntowfv2(const uint8_t *, const char *, const char *,
	    uint8_t *);
enum ntlm_verdict ntlm_verify_pre(const struct ntlm_authenticate *,
	    const struct ntlm_expect *);
enum ntlm_verdict ntlm_verify(const struct ntlm_authenticate *,
	    const struct ntlm_expect *, const uint8_t *);
enum ntlm_verdict ntlm_verify_key(const struct ntlm_authenticate *,
	    const struct ntlm_expect *, const uint8_t *, uint8_t *);
enum ntlm_verdict ntlm_verify_mic(const struct ntlm_authenticate *,
	    const struct ntlm_expect *, const uint8_t *);
int	 ntlm_exported_key(const struct ntlm_authenticate *, uint32_t,
	    const uint8_t *, uint8_t *);
int	 ntlm_sign(const uint8_t *, uint32_t, int, uint32_t,
	    const uint8_t *, size_t, uint8_t *);
const char *ntlm_verdict_str(enum ntlm_verdict);

#endif
