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
#include "backend.h"
#include "spnego.h"
#include "state.h"

/* The base64 of one SPNEGO answer around an NTLM message, and slack. */
#define NTLM_SPNEGO_MAX		(NTLM_MAX_CHALLENGE_MSG + 64)

void
ntlm_state_forget(struct auth_state *st)
{
	if (st->type1 != NULL)
		OPENSSL_cleanse(st->type1, st->type1_len);
	if (st->type2 != NULL)
		OPENSSL_cleanse(st->type2, st->type2_len);
	free(st->type1);
	free(st->type2);
	free(st->mech_list);
	st->type1 = st->type2 = st->mech_list = NULL;
	st->type1_len = st->type2_len = st->mech_list_len = 0;
	st->have_peer_mic = 0;
	OPENSSL_cleanse(st->challenge, sizeof(st->challenge));
	st->have_challenge = 0;
}

void
auth_state_free(struct auth_state *st)
{
	if (st == NULL)
		return;
	auth_cancel(st->pending);
	ntlm_state_forget(st);
	negotiate_state_forget(st);
	free(st);
}

void
auth_cancel(struct auth_pending *p)
{
	if (p != NULL)
		p->cancel(p);
}

int
auth_answer_token(struct auth_answer *a, const char *scheme,
    const uint8_t *tok, size_t len)
{
	size_t n;

	n = (size_t)snprintf(a->header, sizeof(a->header), "%s ", scheme);
	if (n >= sizeof(a->header) || ntlm_b64_encode(tok, len,
	    a->header + n, sizeof(a->header) - n) == -1) {
		a->header[0] = '\0';
		return -1;
	}
	return 0;
}

/* The scheme a frame is answered in. */
static const char *
frame_scheme(enum ntlm_frame f)
{
	return f == NTLM_FRAME_NTLM ? "NTLM" : "Negotiate";
}

static enum auth_outcome
refuse(struct auth_answer *a, enum ntlm_frame f, const char *why)
{
	/* A refusal offers a fresh start in the scheme the client chose. */
	snprintf(a->header, sizeof(a->header), "%s", frame_scheme(f));
	a->reason = why;
	return AUTH_REFUSED;
}

/*
 * The CHALLENGE as the answer of frame f: bare, or inside a SPNEGO
 * NegTokenResp (RFC 4178 4.2.2) naming NTLMSSP as the chosen mechanism.
 */
static int
frame_answer(struct auth_answer *a, enum ntlm_frame f, const uint8_t *msg,
    size_t len)
{
	uint8_t	buf[NTLM_SPNEGO_MAX];
	int	n;

	if (f != NTLM_FRAME_SPNEGO)
		return auth_answer_token(a, frame_scheme(f), msg, len);
	n = spnego_build_resp(SPNEGO_ACCEPT_INCOMPLETE, SPNEGO_MECH_NTLMSSP,
	    msg, len, NULL, 0, buf, sizeof(buf));
	if (n < 0)
		return -1;
	return auth_answer_token(a, "Negotiate", buf, (size_t)n);
}

/* NEGOTIATE -> CHALLENGE. */
static enum auth_outcome
ntlm_negotiate(struct auth_state *st, const struct config *conf,
    enum ntlm_frame scheme, const uint8_t *msg, size_t len,
    struct auth_answer *a)
{
	struct ntlm_negotiate	 neg;
	struct ntlm_target	 target;
	uint8_t			 type2[NTLM_MAX_CHALLENGE_MSG];
	size_t			 type2_len;
	const char		*why = NULL;

	if (!conf->ntlm.enabled)
		return refuse(a, scheme, "NTLM is not configured");
	if (ntlm_decode_negotiate(msg, len, &neg, &why) == -1)
		return refuse(a, scheme, why ? why : "malformed NTLM negotiate");
	/* Not ntlm_state_forget(): the SPNEGO wrapper's part stays. */
	free(st->type1);
	free(st->type2);
	st->type1 = st->type2 = NULL;
	/* RFC 4086: the challenge is the whole of the replay defence. */
	if (RAND_bytes(st->challenge, sizeof(st->challenge)) != 1)
		return refuse(a, scheme, "no random bytes for a challenge");
	target.nb_domain = conf->ntlm.domain;
	target.nb_computer = conf->ntlm.computer;
	target.dns_domain = conf->ntlm.dns_domain;
	target.dns_computer = conf->hostname;
	if (ntlm_build_challenge(neg.flags,
	    st->challenge, ntlm_filetime(time(NULL)), &target, type2,
	    sizeof(type2), &type2_len) == -1)
		return refuse(a, scheme, "cannot build the NTLM challenge");
	if ((st->type1 = malloc(len)) == NULL ||
	    (st->type2 = malloc(type2_len)) == NULL) {
		ntlm_state_forget(st);
		return refuse(a, scheme, "out of memory");
	}
	memcpy(st->type1, msg, len);
	st->type1_len = len;
	memcpy(st->type2, type2, type2_len);
	st->type2_len = type2_len;
	st->have_challenge = 1;
	st->frame = scheme;
	gettimeofday(&st->issued, NULL);

	if (frame_answer(a, scheme, type2, type2_len) == -1) {
		ntlm_state_forget(st);
		return refuse(a, scheme, "NTLM challenge too long");
	}
	return AUTH_CHALLENGE;
}

/*
 * The last SPNEGO answer around a verified NTLM handshake: accept-
 * completed, with our mechListMIC (RFC 4178 5) over the client's
 * mechanism list, signed server-to-client with the session's key, once
 * the client's own MIC over the same list checked out.  base is the
 * SessionBaseKey (NULL when a domain controller did not give one).
 */
static const char *
spnego_final(struct auth_state *st, const struct ntlm_authenticate *auth,
    const uint8_t *base, struct auth_answer *a)
{
	uint8_t		 exported[NTLM_HASH_LEN], mic[16], check[16];
	uint8_t		 buf[NTLM_SPNEGO_MAX];
	uint32_t	 t2flags, flags;
	const char	*why = NULL;
	int		 n, have_mic = 0;

	if (st->mech_list == NULL || base == NULL || st->type2_len < 24) {
		if (st->have_peer_mic)
			return "SPNEGO mechListMIC cannot be checked (no "
			    "session key)";
	} else {
		/* NegotiateFlags sit at offset 20 of a CHALLENGE (2.2.1.2). */
		t2flags = st->type2[20] | st->type2[21] << 8 |
		    (uint32_t)st->type2[22] << 16 |
		    (uint32_t)st->type2[23] << 24;
		flags = auth->flags & t2flags;
		if (ntlm_exported_key(auth, t2flags, base, exported) == -1)
			why = "no session key for the SPNEGO mechListMIC";
		else if (st->have_peer_mic && (ntlm_sign(exported, flags, 0, 0,
		    st->mech_list, st->mech_list_len, check) == -1 ||
		    CRYPTO_memcmp(check, st->peer_mic, sizeof(check)) != 0))
			why = "SPNEGO mechListMIC does not verify";
		else if (ntlm_sign(exported, flags, 1, 0, st->mech_list,
		    st->mech_list_len, mic) == -1)
			why = "cannot sign the SPNEGO mechanism list";
		else
			have_mic = 1;
		OPENSSL_cleanse(exported, sizeof(exported));
		if (why != NULL)
			return why;
	}
	n = spnego_build_resp(SPNEGO_ACCEPT_COMPLETED, SPNEGO_MECH_OTHER, NULL,
	    0, have_mic ? mic : NULL, have_mic ? sizeof(mic) : 0, buf,
	    sizeof(buf));
	if (n < 0 || auth_answer_token(a, "Negotiate", buf, (size_t)n) == -1)
		return "cannot build the SPNEGO answer";
	return NULL;
}

/*
 * Success: who the client is, "DOMAIN\user" with the domain upper-cased,
 * and inside SPNEGO the final answer (spnego_final()).
 */
static enum auth_outcome
succeed(struct auth_state *st, struct auth_answer *a, enum ntlm_frame scheme,
    const char *dom, const struct ntlm_authenticate *auth,
    const uint8_t *base)
{
	const char	*user = auth->user, *why;
	size_t		 i, n;

	n = (size_t)snprintf(a->user, sizeof(a->user), "%s\\%s", dom, user);
	if (n >= sizeof(a->user))
		return refuse(a, scheme, "user name too long");
	for (i = 0; a->user[i] != '\\'; i++)
		if (a->user[i] >= 'a' && a->user[i] <= 'z')
			a->user[i] -= 32;
	a->mech = "ntlm";
	a->header[0] = '\0';
	if (scheme == NTLM_FRAME_SPNEGO &&
	    (why = spnego_final(st, auth, base, a)) != NULL) {
		a->user[0] = '\0';
		return refuse(a, scheme, why);
	}
	return AUTH_SUCCESS;
}

/*
 * An AUTHENTICATE waiting for a backend.  It keeps its own copy of the
 * message (the decoded struct points into it); the connection's state
 * keeps the NEGOTIATE and CHALLENGE the MIC covers until it is done.
 */
struct ntlm_pending {
	struct auth_pending	 base;		/* first: see state.h */
	struct auth_state	*st;
	struct ntlm_backend_req	*breq;
	uint8_t			*msg;
	size_t			 len;
	struct ntlm_authenticate auth;
	struct ntlm_expect	 exp;
	enum ntlm_frame		 scheme;
	char			 domain[NTLM_MAX_NAME_UTF8 + 1];
	auth_cb			 cb;
	void			*arg;
	int			 starting;	/* inside the backend's start */
	int			 have_result;
	struct ntlm_backend_result result;
};

static void
pending_free(struct ntlm_pending *p)
{
	if (p->msg != NULL)
		OPENSSL_cleanse(p->msg, p->len);
	free(p->msg);
	ntlm_state_forget(p->st);	/* single use, whatever the verdict */
	p->st->pending = NULL;
	OPENSSL_cleanse(&p->result, sizeof(p->result));
	free(p);
}

/* Turn a backend's answer into the handshake's verdict. */
static enum auth_outcome
pending_finish(struct ntlm_pending *p, const struct ntlm_backend_result *res,
    struct auth_answer *a)
{
	enum ntlm_verdict	 v;
	enum auth_outcome	 out;
	uint8_t			 base[NTLM_HASH_LEN];
	const uint8_t		*basep = base;

	auth_answer_clear(a);
	switch (res->status) {
	case NTLM_BACKEND_HASH:
		v = ntlm_verify_key(&p->auth, &p->exp, res->nthash, base);
		if (v != NTLM_OK)
			return refuse(a, p->scheme, ntlm_verdict_str(v));
		break;
	case NTLM_BACKEND_VERIFIED:
		/*
		 * The DC checked NTProofStr; ntlm_verify_pre() already checked
		 * v1, target info and time.  The MIC covers our messages,
		 * which the DC never saw: check it with the session key it
		 * returned (without one, a MIC the client announced fails).
		 */
		v = ntlm_verify_mic(&p->auth, &p->exp, res->have_session_key ?
		    res->session_key : NULL);
		if (v != NTLM_OK)
			return refuse(a, p->scheme, ntlm_verdict_str(v));
		basep = res->have_session_key ? res->session_key : NULL;
		break;
	case NTLM_BACKEND_REFUSED:
		return refuse(a, p->scheme, res->reason ? res->reason :
		    "refused by the sign-in backend");
	default:
		/*
		 * Fail closed: no answer from the directory is a no.  But
		 * not a 407: that would make browsers prompt for a password
		 * nobody can check right now.
		 */
		a->unavailable = 1;
		return refuse(a, p->scheme, res->reason ? res->reason :
		    "sign-in backend unavailable");
	}
	out = succeed(p->st, a, p->scheme, p->domain, &p->auth, basep);
	OPENSSL_cleanse(base, sizeof(base));
	return out;
}

static void
pending_done(void *arg, const struct ntlm_backend_result *res)
{
	struct ntlm_pending	*p = arg;
	struct auth_answer	 a;
	enum auth_outcome	 out;
	auth_cb			 cb = p->cb;
	void			*cbarg = p->arg;

	p->breq = NULL;
	if (p->starting) {
		/* Answered inside the start call: the caller finishes it. */
		p->result = *res;
		p->have_result = 1;
		return;
	}
	out = pending_finish(p, res, &a);
	pending_free(p);
	cb(cbarg, out, &a);
	OPENSSL_cleanse(&a, sizeof(a));
}

static void
pending_cancel(struct auth_pending *base)
{
	struct ntlm_pending *p = (struct ntlm_pending *)base;

	if (p->breq != NULL)
		p->breq->cancel(p->breq);
	pending_free(p);
}

/* Ask the configured backend; the answer comes to pending_done(). */
static enum auth_outcome
ntlm_ask_backend(struct auth_state *st, struct auth_worker *aw,
    const struct config *conf, enum ntlm_frame scheme, const uint8_t *msg,
    size_t len, const struct ntlm_expect *exp, const char *dom,
    struct auth_answer *a, auth_cb cb, void *arg,
    struct auth_pending **pendingp)
{
	struct ntlm_pending		*p;
	struct ntlm_backend_query	 q;
	const char			*why = NULL;
	enum auth_outcome		 out;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->msg = malloc(len)) == NULL) {
		free(p);
		ntlm_state_forget(st);
		return refuse(a, scheme, "out of memory");
	}
	memcpy(p->msg, msg, len);
	p->base.cancel = pending_cancel;
	p->len = len;
	p->st = st;
	st->pending = &p->base;
	p->exp = *exp;
	p->cb = cb;
	p->arg = arg;
	p->scheme = scheme;
	snprintf(p->domain, sizeof(p->domain), "%s", dom);
	if (ntlm_decode_authenticate(p->msg, p->len, &p->auth, &why) == -1) {
		pending_free(p);
		return refuse(a, scheme, why ? why : "malformed NTLM "
		    "authenticate");
	}
	memset(&q, 0, sizeof(q));
	q.user = p->auth.user;
	q.domain = p->domain;
	q.workstation = p->auth.workstation;
	memcpy(q.challenge, exp->challenge, sizeof(q.challenge));
	q.lm = p->auth.lm;
	q.lm_len = p->auth.lm_len;
	q.nt = p->auth.nt;
	q.nt_len = p->auth.nt_len;
	p->starting = 1;
	switch (conf->ntlm.backend) {
	case NTLM_BACKEND_LDAP:
		p->breq = auth_worker_ldap_lookup(aw, &q, pending_done, p);
		break;
	case NTLM_BACKEND_WINBIND:
		p->breq = auth_worker_winbind_verify(aw, &q, pending_done, p);
		break;
	default:
		p->result.status = NTLM_BACKEND_DOWN;
		p->result.reason = "no such sign-in backend";
		p->have_result = 1;
		break;
	}
	p->starting = 0;
	if (p->breq != NULL) {
		*pendingp = &p->base;
		return AUTH_PENDING;
	}
	if (!p->have_result) {
		p->result.status = NTLM_BACKEND_DOWN;
		p->result.reason = "sign-in backend unavailable";
	}
	out = pending_finish(p, &p->result, a);
	pending_free(p);
	return out;
}

/* AUTHENTICATE -> who, or why not (or: ask the backend and wait). */
static enum auth_outcome
ntlm_authenticate(struct auth_state *st, struct auth_worker *aw,
    const struct config *conf, enum ntlm_frame scheme, const uint8_t *msg,
    size_t len, struct auth_answer *a, auth_cb cb, void *arg,
    struct auth_pending **pendingp)
{
	struct ntlm_authenticate auth;
	struct ntlm_expect	 exp;
	const struct ntlm_user	*u;
	struct timeval		 now, age;
	enum ntlm_verdict	 v;
	enum auth_outcome	 out;
	const char		*why = NULL, *dom;
	long			 age_ms;
	uint8_t			 base[NTLM_HASH_LEN];

	if (!st->have_challenge)
		return refuse(a, scheme, "NTLM authenticate without a challenge "
		    "on this connection");
	gettimeofday(&now, NULL);
	timersub(&now, &st->issued, &age);
	age_ms = age.tv_sec * 1000L + age.tv_usec / 1000;
	if (age_ms > conf->ntlm.challenge_ttl) {
		ntlm_state_forget(st);
		return refuse(a, scheme, "NTLM challenge expired");
	}
	if (ntlm_decode_authenticate(msg, len, &auth, &why) == -1) {
		ntlm_state_forget(st);
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

	/* Everything that needs no secret is checked before asking for one. */
	if ((v = ntlm_verify_pre(&auth, &exp)) != NTLM_OK) {
		ntlm_state_forget(st);
		return refuse(a, scheme, ntlm_verdict_str(v));
	}
	dom = auth.domain[0] != '\0' ? auth.domain : conf->ntlm.domain;
	if (conf->ntlm.backend != NTLM_BACKEND_HASHFILE)
		return ntlm_ask_backend(st, aw, conf, scheme, msg, len, &exp,
		    dom, a, cb, arg, pendingp);
	/* The hash file is in memory: no need to wait for anything. */
	if ((u = conf_ntlm_user(conf, dom, auth.user)) == NULL) {
		ntlm_state_forget(st);
		return refuse(a, scheme, "unknown user");
	}
	v = ntlm_verify_key(&auth, &exp, u->nthash, base);
	if (v != NTLM_OK)
		out = refuse(a, scheme, ntlm_verdict_str(v));
	else
		out = succeed(st, a, scheme, dom, &auth, base);
	ntlm_state_forget(st);	/* single use, whatever the verdict */
	OPENSSL_cleanse(base, sizeof(base));
	return out;
}

enum auth_outcome
ntlm_step(struct auth_state *st, struct auth_worker *aw,
    const struct config *conf, enum ntlm_frame frame, const uint8_t *msg,
    size_t len, struct auth_answer *a, auth_cb cb, void *arg,
    struct auth_pending **pendingp)
{
	uint32_t	type;

	if (len < 12 || memcmp(msg, "NTLMSSP\0", 8) != 0)
		return refuse(a, frame, "not an NTLMSSP message");
	type = msg[8] | msg[9] << 8 | (uint32_t)msg[10] << 16 |
	    (uint32_t)msg[11] << 24;
	if (type == 1)
		return ntlm_negotiate(st, conf, frame, msg, len, a);
	if (type == 3)
		return ntlm_authenticate(st, aw, conf, frame, msg, len, a, cb,
		    arg, pendingp);
	return refuse(a, frame, "unexpected NTLM message type");
}

enum auth_outcome
auth_ntlm_step(struct auth_state **stp, struct auth_worker *aw,
    const struct config *conf, const char *token, size_t token_len,
    struct auth_answer *a, auth_cb cb, void *arg,
    struct auth_pending **pendingp)
{
	uint8_t		 msg[NTLM_MAX_MSG];
	size_t		 len;
	enum auth_outcome out;

	auth_answer_clear(a);
	if (*stp == NULL && (*stp = auth_state_new()) == NULL)
		return refuse(a, NTLM_FRAME_NTLM, "out of memory");
	if (ntlm_b64_decode(token, token_len, msg, sizeof(msg), &len) == -1)
		return refuse(a, NTLM_FRAME_NTLM, "NTLM token is not valid "
		    "base64");
	out = ntlm_step(*stp, aw, conf, NTLM_FRAME_NTLM, msg, len, a, cb, arg,
	    pendingp);
	OPENSSL_cleanse(msg, sizeof(msg));
	return out;
}
