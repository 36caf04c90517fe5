/*
 * Negotiate (RFC 4559): what the token is, and who answers it.
 *
 * A Negotiate token is one of three things (spnego.h): Kerberos, bare or
 * in SPNEGO; NTLMSSP, bare or in SPNEGO; or a later SPNEGO leg.
 * Kerberos goes to GSSAPI on the accept threads (gss_pool.c) with the
 * config's acceptor credential, whose SPNEGO negotiates Kerberos only.
 * NTLMSSP goes to the gateway's own NTLM code (auth_ntlm.c), which
 * answers inside Negotiate, so NTLMv1 and LM stay refused whatever
 * GSSAPI plugins the machine has.
 *
 * Every Kerberos token is checked, even on a connection already signed
 * in: a client that sends one expects it verified (and the replay cache
 * must see it).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "backend.h"
#include "gss_pool.h"
#include "ntlm.h"
#include "spnego.h"
#include "state.h"

/* A Kerberos accept in flight. */
struct neg_pending {
	struct auth_pending	 base;		/* first: see state.h */
	struct gss_job		 job;
	struct auth_state	*st;		/* NULL once cancelled */
	struct config		*conf;		/* holds the credential */
	auth_cb			 cb;
	void			*arg;
};

void
negotiate_state_forget(struct auth_state *st)
{
	OM_uint32 min;

	if (st->gss_ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &st->gss_ctx, GSS_C_NO_BUFFER);
}

static enum auth_outcome
refuse(struct auth_answer *a, const char *why)
{
	snprintf(a->header, sizeof(a->header), "Negotiate");
	a->reason = why;
	return AUTH_REFUSED;
}

static void
neg_pending_free(struct neg_pending *p)
{
	gss_job_clear(&p->job);
	conf_unref(p->conf);
	free(p);
}

/*
 * The name a Kerberos principal signs in as: realm_map turns
 * "alice@EXAMPLE.TEST" into "EXAMPLE\alice" (what NTLM calls the same
 * person); else strip_realm makes it "alice"; else it stays whole.
 */
static int
neg_user_name(const struct conf_negotiate *n, const char *princ, char *out,
    size_t outlen)
{
	const char	*at = strrchr(princ, '@');
	int		 len;

	switch (conf_realm_map(n->realms, n->nrealms, princ, out, outlen)) {
	case 1:
		return 0;
	case -1:
		return -1;
	}
	if (at != NULL && n->strip_realm)
		len = snprintf(out, outlen, "%.*s", (int)(at - princ), princ);
	else
		len = snprintf(out, outlen, "%s", princ);
	return len < 0 || (size_t)len >= outlen ? -1 : 0;
}

/* The accept's verdict, on the worker's thread. */
static enum auth_outcome
neg_finish(struct neg_pending *p, struct auth_answer *a)
{
	struct gss_job	*j = &p->job;

	auth_answer_clear(a);
	if (GSS_ERROR(j->major)) {
		snprintf(a->detail, sizeof(a->detail), "kerberos: %s", j->err);
		return refuse(a, "Kerberos token refused");
	}
	if (j->out.length > 0 && auth_answer_token(a, "Negotiate",
	    j->out.value, j->out.length) == -1)
		return refuse(a, "Kerberos answer too long");
	if (j->major & GSS_S_CONTINUE_NEEDED) {
		/* Another leg: the context waits on the connection. */
		p->st->gss_ctx = j->ctx_out;
		j->ctx_out = GSS_C_NO_CONTEXT;
		return AUTH_CHALLENGE;
	}
	if (j->name == NULL || neg_user_name(&p->conf->negotiate, j->name,
	    a->user, sizeof(a->user)) == -1) {
		a->header[0] = '\0';
		return refuse(a, "Kerberos name missing or too long");
	}
	a->mech = "negotiate";
	return AUTH_SUCCESS;
}

/* The neg_pending around a job's inbox item. */
static struct neg_pending *
neg_of(struct inbox_item *it)
{
	return (struct neg_pending *)((char *)it -
	    offsetof(struct neg_pending, job.item));
}

static void
neg_done(struct inbox_item *it)
{
	struct neg_pending	*p = neg_of(it);
	struct auth_answer	 a;
	enum auth_outcome	 out;
	auth_cb			 cb = p->cb;
	void			*arg = p->arg;

	if (p->st == NULL) {
		neg_pending_free(p);	/* cancelled while it ran */
		return;
	}
	p->st->pending = NULL;
	out = neg_finish(p, &a);
	neg_pending_free(p);
	cb(arg, out, &a);
}

static void
neg_discard(struct inbox_item *it)
{
	neg_pending_free(neg_of(it));
}

/* The connection goes: the job finishes on its own and is freed. */
static void
neg_cancel(struct auth_pending *base)
{
	struct neg_pending *p = (struct neg_pending *)base;

	p->st->pending = NULL;
	p->st = NULL;
}

/* One call of auth_negotiate_step(), handed down the routing below. */
struct neg_step {
	struct auth_state	*st;
	struct auth_worker	*aw;
	const struct config	*conf;
	unsigned		 methods;	/* the network's AUTH_* bits */
	struct auth_answer	*a;
	auth_cb			 cb;
	void			*arg;
	struct auth_pending	**pendingp;
};

/* Hand a Kerberos token (tok, now the job's) to the accept threads. */
static enum auth_outcome
neg_accept(struct neg_step *s, uint8_t *tok, size_t len)
{
	struct neg_pending		*p;
	const struct conf_negotiate	*n = &s->conf->negotiate;
	struct auth_worker		*aw = s->aw;

	if (n->cred == NULL) {
		free(tok);
		return refuse(s->a, "Kerberos is not configured");
	}
	if ((aw->inbox == NULL && (aw->inbox = inbox_new(aw->base)) ==
	    NULL) || (p = calloc(1, sizeof(*p))) == NULL) {
		free(tok);
		return refuse(s->a, "out of memory");
	}
	p->base.cancel = neg_cancel;
	p->st = s->st;
	p->conf = conf_ref((struct config *)s->conf);
	p->cb = s->cb;
	p->arg = s->arg;
	p->job.cred = n->cred;
	p->job.ctx = s->st->gss_ctx;	/* the job's while it runs */
	s->st->gss_ctx = GSS_C_NO_CONTEXT;
	p->job.ctx_out = GSS_C_NO_CONTEXT;
	p->job.in = tok;
	p->job.in_len = len;
	p->job.item.done = neg_done;
	p->job.item.discard = neg_discard;
	if (gss_pool_submit(aw->inbox, &p->job, n->threads, n->queue) == -1) {
		neg_pending_free(p);
		/* Like a directory that does not answer: 503, not a prompt. */
		s->a->unavailable = 1;
		return refuse(s->a, "too many Kerberos sign-ins waiting");
	}
	s->st->pending = &p->base;
	*s->pendingp = &p->base;
	return AUTH_PENDING;
}

/* A first Kerberos token (bare or in SPNEGO): a new handshake. */
static enum auth_outcome
neg_kerberos(struct neg_step *s, uint8_t *tok, size_t len)
{
	if (!(s->methods & AUTH_NEGOTIATE)) {
		free(tok);
		return refuse(s->a, "Kerberos is not offered on this network");
	}
	/* Any half-done handshake is over. */
	ntlm_state_forget(s->st);
	negotiate_state_forget(s->st);
	return neg_accept(s, tok, len);
}

/* An NTLMSSP message out of Negotiate, if the network takes NTLM. */
static enum auth_outcome
neg_ntlm(struct neg_step *s, enum ntlm_frame frame, const uint8_t *msg,
    size_t len)
{
	if (!(s->methods & AUTH_NTLM))
		return refuse(s->a, "NTLM inside Negotiate is not offered on "
		    "this network");
	return ntlm_step(s->st, s->aw, s->conf, frame, msg, len, s->a, s->cb,
	    s->arg, s->pendingp);
}

/*
 * NTLM inside SPNEGO starts: keep the client's mechanism list, which
 * both sides' mechListMIC will cover (RFC 4178 5).
 */
static int
neg_keep_mech_list(struct auth_state *st, const struct spnego_init *init)
{
	uint8_t *copy;

	if ((copy = malloc(init->mech_list_len)) == NULL)
		return -1;
	memcpy(copy, init->mech_list, init->mech_list_len);
	free(st->mech_list);
	st->mech_list = copy;
	st->mech_list_len = init->mech_list_len;
	st->have_peer_mic = 0;
	return 0;
}

/* A SPNEGO NegTokenInit: NTLMSSP first goes to NTLM, the rest to GSSAPI. */
static enum auth_outcome
neg_init(struct neg_step *s, uint8_t *tok, size_t len)
{
	struct spnego_init	 init;
	const char		*why = "SPNEGO: malformed";
	enum auth_outcome	 out;

	if (spnego_parse_init(tok, len, &init, &why) == -1) {
		free(tok);
		return refuse(s->a, why);
	}
	if (init.nmechs == 0 || init.mechs[0] != SPNEGO_MECH_NTLMSSP)
		return neg_kerberos(s, tok, len);
	if (init.mech_token == NULL)
		out = refuse(s->a, "SPNEGO: NTLMSSP offered without a token");
	else if (neg_keep_mech_list(s->st, &init) == -1)
		out = refuse(s->a, "out of memory");
	else
		out = neg_ntlm(s, NTLM_FRAME_SPNEGO, init.mech_token,
		    init.mech_token_len);
	OPENSSL_cleanse(tok, len);
	free(tok);
	return out;
}

/* A later SPNEGO leg: it continues whichever handshake is open. */
static enum auth_outcome
neg_resp(struct neg_step *s, uint8_t *tok, size_t len)
{
	struct auth_state	*st = s->st;
	struct spnego_resp	 resp;
	const char		*why = "SPNEGO: malformed";
	enum auth_outcome	 out;

	if (st->gss_ctx != GSS_C_NO_CONTEXT)
		return neg_accept(s, tok, len);
	if (spnego_parse_resp(tok, len, &resp, &why) == -1)
		out = refuse(s->a, why);
	else if (!st->have_challenge || st->frame != NTLM_FRAME_SPNEGO)
		out = refuse(s->a, "SPNEGO: a later leg without a handshake "
		    "on this connection");
	else if (resp.response_token == NULL)
		out = refuse(s->a, "SPNEGO: no NTLMSSP token in the answer");
	else if (resp.mic != NULL && resp.mic_len != sizeof(st->peer_mic))
		out = refuse(s->a, "SPNEGO: mechListMIC is not an NTLM "
		    "signature");
	else {
		/* auth_ntlm.c checks it once it has the session key. */
		st->have_peer_mic = resp.mic != NULL;
		if (resp.mic != NULL)
			memcpy(st->peer_mic, resp.mic, sizeof(st->peer_mic));
		out = neg_ntlm(s, NTLM_FRAME_SPNEGO, resp.response_token,
		    resp.response_token_len);
	}
	OPENSSL_cleanse(tok, len);
	free(tok);
	return out;
}

enum auth_outcome
auth_negotiate_step(struct auth_state **stp, struct auth_worker *aw,
    const struct config *conf, unsigned methods, const char *token,
    size_t token_len, struct auth_answer *a, auth_cb cb, void *arg,
    struct auth_pending **pendingp)
{
	struct neg_step		 s;
	enum auth_outcome	 out;
	uint8_t			*tok;
	size_t			 len;

	auth_answer_clear(a);
	if (*stp == NULL && (*stp = auth_state_new()) == NULL)
		return refuse(a, "out of memory");
	s.st = *stp;
	s.aw = aw;
	s.conf = conf;
	s.methods = methods;
	s.a = a;
	s.cb = cb;
	s.arg = arg;
	s.pendingp = pendingp;
	/* Header limits bound token_len; base64 is 4 bytes per 3. */
	if ((tok = malloc(token_len / 4 * 3 + 3)) == NULL)
		return refuse(a, "out of memory");
	if (ntlm_b64_decode(token, token_len, tok, token_len / 4 * 3 + 3,
	    &len) == -1) {
		free(tok);
		return refuse(a, "Negotiate token is not valid base64");
	}
	switch (spnego_classify(tok, len)) {
	case SPNEGO_RAW_NTLMSSP:
		out = neg_ntlm(&s, NTLM_FRAME_RAW, tok, len);
		OPENSSL_cleanse(tok, len);
		free(tok);
		return out;
	case SPNEGO_RAW_KRB5:
		return neg_kerberos(&s, tok, len);
	case SPNEGO_INIT:
		return neg_init(&s, tok, len);
	case SPNEGO_RESP:
		return neg_resp(&s, tok, len);
	default:
		/* The right first byte and a bad rest: say which. */
		out = refuse(a, len > 0 && (tok[0] == 0x60 || tok[0] ==
		    0xa1) ? "SPNEGO: truncated or malformed token" :
		    "not a Kerberos, SPNEGO or NTLMSSP token");
		free(tok);
		return out;
	}
}
