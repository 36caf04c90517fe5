/*
 * The NTLM handshake of one client connection (MS-NLMP 3.2.5): a NEGOTIATE
 * gets a CHALLENGE with a fresh random server challenge; the AUTHENTICATE
 * that follows on the same connection is checked in Samba's order (our
 * challenge, unexpired and unused; the message parses; not v1, LM or
 * anonymous; the echoed target information and time; the user's hash;
 * NTProofStr; the MIC).  A challenge is used once: any AUTHENTICATE, good
 * or bad, consumes it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth.h"
#include "ntlm.h"

struct auth_state {
	int		 have_challenge;
	uint8_t		 challenge[NTLM_CHALLENGE_LEN];
	struct timeval	 issued;
	uint8_t		*type1;		/* raw NEGOTIATE, for the MIC */
	size_t		 type1_len;
	uint8_t		*type2;		/* raw CHALLENGE as sent */
	size_t		 type2_len;
};

static void
state_forget(struct auth_state *st)
{
	if (st->type1 != NULL)
		OPENSSL_cleanse(st->type1, st->type1_len);
	if (st->type2 != NULL)
		OPENSSL_cleanse(st->type2, st->type2_len);
	free(st->type1);
	free(st->type2);
	st->type1 = st->type2 = NULL;
	st->type1_len = st->type2_len = 0;
	OPENSSL_cleanse(st->challenge, sizeof(st->challenge));
	st->have_challenge = 0;
}

void
auth_state_free(struct auth_state *st)
{
	if (st == NULL)
		return;
	state_forget(st);
	free(st);
}

static enum auth_outcome
refuse(struct auth_answer *a, const char *scheme, const char *why)
{
	/* A refusal offers a fresh start in the scheme the client chose. */
	snprintf(a->header, sizeof(a->header), "%s", scheme);
	a->reason = why;
	return AUTH_REFUSED;
}

/* NEGOTIATE -> CHALLENGE. */
static enum auth_outcome
ntlm_negotiate(struct auth_state *st, const struct config *conf,
    const char *scheme, const uint8_t *msg, size_t len,
    struct auth_answer *a)
{
	struct ntlm_negotiate	 neg;
	struct ntlm_target	 target;
	uint8_t			 type2[NTLM_MAX_CHALLENGE_MSG];
	size_t			 type2_len, n;
	const char		*why = NULL;

	if (ntlm_decode_negotiate(msg, len, &neg, &why) == -1)
		return refuse(a, scheme, why ? why : "malformed NTLM negotiate");
	state_forget(st);
	/* RFC 4086: the challenge is the whole of the replay defence. */
	if (RAND_bytes(st->challenge, sizeof(st->challenge)) != 1)
		return refuse(a, scheme, "no random bytes for a challenge");
	target.nb_domain = conf->ntlm.domain;
	target.nb_computer = conf->ntlm.computer;
	target.dns_domain = conf->ntlm.dns_domain;
	target.dns_computer = conf->hostname;
	if (ntlm_build_challenge(ntlm_challenge_flags(neg.flags),
	    st->challenge, ntlm_filetime(time(NULL)), &target, type2,
	    sizeof(type2), &type2_len) == -1)
		return refuse(a, scheme, "cannot build the NTLM challenge");
	if ((st->type1 = malloc(len)) == NULL ||
	    (st->type2 = malloc(type2_len)) == NULL) {
		state_forget(st);
		return refuse(a, scheme, "out of memory");
	}
	memcpy(st->type1, msg, len);
	st->type1_len = len;
	memcpy(st->type2, type2, type2_len);
	st->type2_len = type2_len;
	st->have_challenge = 1;
	gettimeofday(&st->issued, NULL);

	n = (size_t)snprintf(a->header, sizeof(a->header), "%s ", scheme);
	if (n >= sizeof(a->header) || ntlm_b64_encode(type2, type2_len,
	    a->header + n, sizeof(a->header) - n) == -1) {
		state_forget(st);
		return refuse(a, scheme, "NTLM challenge too long");
	}
	return AUTH_CHALLENGE;
}

/* AUTHENTICATE -> who, or why not. */
static enum auth_outcome
ntlm_authenticate(struct auth_state *st, const struct config *conf,
    const char *scheme, const uint8_t *msg, size_t len,
    struct auth_answer *a)
{
	struct ntlm_authenticate auth;
	struct ntlm_expect	 exp;
	const struct ntlm_user	*u;
	struct timeval		 now, age;
	enum ntlm_verdict	 v;
	const char		*why = NULL, *dom;
	size_t			 i, n;
	long			 age_ms;

	if (!st->have_challenge)
		return refuse(a, scheme, "NTLM authenticate without a challenge "
		    "on this connection");
	gettimeofday(&now, NULL);
	timersub(&now, &st->issued, &age);
	age_ms = age.tv_sec * 1000L + age.tv_usec / 1000;
	if (age_ms > conf->ntlm.challenge_ttl) {
		state_forget(st);
		return refuse(a, scheme, "NTLM challenge expired");
	}
	if (ntlm_decode_authenticate(msg, len, &auth, &why) == -1) {
		state_forget(st);
		return refuse(a, scheme, why ? why : "malformed NTLM "
		    "authenticate");
	}
	memcpy(exp.challenge, st->challenge, sizeof(exp.challenge));
	exp.type1 = st->type1;
	exp.type1_len = st->type1_len;
	exp.type2 = st->type2;
	exp.type2_len = st->type2_len;
	exp.now = ntlm_filetime(now.tv_sec);
	exp.skew = (unsigned int)(conf->ntlm.max_skew / 1000);

	if ((v = ntlm_verify_pre(&auth, &exp)) != NTLM_OK) {
		state_forget(st);
		return refuse(a, scheme, ntlm_verdict_str(v));
	}
	dom = auth.domain[0] != '\0' ? auth.domain : conf->ntlm.domain;
	if ((u = conf_ntlm_user(conf, dom, auth.user)) == NULL) {
		state_forget(st);
		return refuse(a, scheme, "unknown user");
	}
	v = ntlm_verify(&auth, &exp, u->nthash);
	state_forget(st);	/* single use, whatever the verdict */
	if (v != NTLM_OK)
		return refuse(a, scheme, ntlm_verdict_str(v));

	n = (size_t)snprintf(a->user, sizeof(a->user), "%s\\%s", dom,
	    auth.user);
	if (n >= sizeof(a->user))
		return refuse(a, scheme, "user name too long");
	/* The domain part in upper case, as Windows shows it. */
	for (i = 0; a->user[i] != '\\'; i++)
		if (a->user[i] >= 'a' && a->user[i] <= 'z')
			a->user[i] -= 32;
	a->mech = "ntlm";
	a->header[0] = '\0';
	return AUTH_SUCCESS;
}

enum auth_outcome
auth_ntlm_step(struct auth_state **stp, const struct config *conf,
    const char *scheme, const char *token, size_t token_len,
    struct auth_answer *a)
{
	uint8_t		 msg[NTLM_MAX_MSG];
	size_t		 len;
	uint32_t	 type;
	enum auth_outcome out;

	a->header[0] = a->user[0] = '\0';
	a->mech = NULL;
	a->reason = NULL;
	if (*stp == NULL && (*stp = calloc(1, sizeof(**stp))) == NULL)
		return refuse(a, scheme, "out of memory");
	if (ntlm_b64_decode(token, token_len, msg, sizeof(msg), &len) == -1)
		return refuse(a, scheme, "NTLM token is not valid base64");
	/* Inside Negotiate this may be Kerberos: only NTLMSSP is ours. */
	if (len < 12 || memcmp(msg, "NTLMSSP\0", 8) != 0)
		return refuse(a, scheme, strcasecmp(scheme, "Negotiate") == 0 ?
		    "Kerberos is not enabled on this gateway" :
		    "not an NTLMSSP message");
	type = msg[8] | msg[9] << 8 | (uint32_t)msg[10] << 16 |
	    (uint32_t)msg[11] << 24;
	if (type == 1)
		out = ntlm_negotiate(*stp, conf, scheme, msg, len, a);
	else if (type == 3)
		out = ntlm_authenticate(*stp, conf, scheme, msg, len, a);
	else
		out = refuse(a, scheme, "unexpected NTLM message type");
	OPENSSL_cleanse(msg, sizeof(msg));
	return out;
}
