/*
 * neg_load: Kerberos (Negotiate) sign-in load through an HTTP proxy, for
 * tests/bench/negotiate.
 *
 * usage: neg_load -x HOST:PORT -u URL [-s SERVICE@HOST] [-c CONNS]
 *            [-n TOKENS] [-d SECONDS] [-k [-e]] [-a] [-M] [-R]
 *        neg_load -T [-s SERVICE@HOST] [-n TOKENS]
 *
 *   -x   the proxy (IPv4 address and port)
 *   -u   absolute http:// URL asked through it (Host: from the URL)
 *   -s   the GSS host-based service the tokens are for (default
 *        HTTP@proxy.example.test: the SPN the proxy's name gives)
 *   -c   concurrent connections (default 1)
 *   -n   tokens made before the clock starts (default 1000); each is
 *        sent exactly once, and the run ends when they are all used
 *   -d   at most SECONDS (default 10)
 *   -k   keep-alive: sign in once per connection with a token, then GET
 *        after GET on it without a header; the clock starts when every
 *        connection has signed in, and one result is one GET.  Without
 *        -k one result is one sign-in on a new connection: GET with
 *        `Proxy-Authorization: Negotiate <token>` (no 407 round first,
 *        as curl does), the 200, then close; its latency runs from
 *        connect() to the end of the 200.
 *   -e   with -k: a fresh token on every request of the keep-alive
 *        connection (what curl --proxy-negotiate does); one result is
 *        one signed request
 *   -a   no sign-in at all (plain GETs)
 *   -M   check the mutual-authentication token (RFC 4559 section 5) of
 *        every 200 with gss_init_sec_context: each token's context is
 *        kept until its answer.  For sanity runs (small -n).
 *   -R   replay: every token is sent twice in a row (use -c 1): the
 *        first must get 200, the second must be refused (407)
 *   -T   print the tokens, one base64 line each, and exit (for the
 *        script's own checks)
 *
 * Why the tokens are made first: gss_init_sec_context costs CPU (an AES
 * authenticator, a subkey, the ASN.1), and the client shares the
 * machine's cores with the proxies.  Making them before the clock keeps
 * that cost out of the figures.  Each token is a fresh initiator context
 * (SPNEGO NegTokenInit around a Kerberos AP-REQ, RFC 4178 section 4.2,
 * mutual flag like curl and Firefox), so no two are replays of each
 * other.  The ccache (KRB5CCNAME) is copied into a MEMORY one first; the
 * service ticket is found there (or fetched once, by the first token), so
 * no KDC traffic happens while measuring.
 *
 * The HTTP side (connections, response framing, timeouts, latencies and
 * the start of the NEGLOAD line) is loadlib.c, shared with ntlm_load.
 *
 * Build: cc -O2 -pthread neg_load.c loadlib.c -lgssapi_krb5 -lkrb5
 *
 * Prints one line on stdout:
 *   NEGLOAD mode=hs|ka|kt conns=N ok=N fail=N duration_us=N p50_us=N
 *     p99_us=N max_us=N connect=N closed=N timeout=N status=N proto=N
 *     notoken=N reconnects=N tokens=N used=N gen_us=N mutual=N
 *     mutual_ok=N exhausted=0|1
 * and the first few failures, one per line, on stderr.  A result is ok
 * only for a 200; every other ending is a failure: connect (refused or
 * reset), closed (the proxy closed before a whole response), timeout (no
 * whole response in 10 s), status (another status, e.g. 407 for a
 * refused token), proto (a response that does not parse), notoken (-M: a
 * 200 without a mutual-auth token, or one that does not verify).
 * mutual counts the 200s that carried `Proxy-Authenticate: Negotiate
 * <token>`; mutual_ok those verified (-M).  exhausted=1: the tokens ran
 * out before -d (the rate is still ok/duration).  gen_us is the time the
 * tokens took to make.  Exit status 0 when it ran (whatever the
 * failures), 2 on a usage or GSSAPI error.
 */

#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>

#include "loadlib.h"

#define NG_TOKSZ	8192	/* a base64 token, either way */
#define NG_MAXGEN	8	/* token generator threads, at most */
#define NG_MEMCC	"MEMORY:neg_load"

enum ng_leg {
	NG_AUTH,		/* a request with a token sent, 200 expected */
	NG_GET			/* signed in (or no sign-in): plain GETs */
};

/* Options (the common ones are loadlib's). */
static const char	*ng_service = "HTTP@proxy.example.test";
static int		 ng_keepalive, ng_each, ng_noauth;
static int		 ng_check_mutual, ng_replay, ng_print;
static long		 ng_ntokens = 1000;

/* Tokens, made before the clock; ng_next is the next one to send. */
static char		**ng_tokens;
static gss_ctx_id_t	*ng_ctxs;	/* -M: each token's context */
static long		 ng_ntok, ng_next;
static int64_t		 ng_gen_ns;
static gss_cred_id_t	 ng_cred = GSS_C_NO_CREDENTIAL;
static gss_name_t	 ng_target = GSS_C_NO_NAME;

/* Results of our own. */
static long		 ng_mutual, ng_mutual_ok;

/* RFC 4178 section 3.1: SPNEGO, 1.3.6.1.5.5.2. */
static gss_OID_desc ng_spnego_oid = {
	6, (void *)"\x2b\x06\x01\x05\x05\x02"
};

/* RFC 1964 section 1: Kerberos V5, 1.2.840.113554.1.2.2. */
static gss_OID_desc ng_krb5_oid = {
	9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"
};

static void __attribute__((noreturn))
ng_usage(void)
{
	fprintf(stderr, "usage: neg_load -x HOST:PORT -u URL "
	    "[-s SERVICE@HOST] [-c CONNS]\n\t[-n TOKENS] [-d SECONDS] "
	    "[-k [-e]] [-a] [-M] [-R]\n"
	    "       neg_load -T [-s SERVICE@HOST] [-n TOKENS]\n");
	exit(2);
}

/*
 * Both status chains of a GSSAPI failure (RFC 2744 section 5.11): the
 * major text says what failed, the minor (mechanism) text says why.
 */
static void __attribute__((noreturn))
ng_gss_die(const char *what, OM_uint32 major, OM_uint32 minor)
{
	OM_uint32	 ma, mi, mctx, code;
	gss_buffer_desc	 msg;
	int		 type;

	fprintf(stderr, "neg_load: %s failed:", what);
	for (type = GSS_C_GSS_CODE; ; type = GSS_C_MECH_CODE) {
		code = type == GSS_C_GSS_CODE ? major : minor;
		mctx = 0;
		do {
			ma = gss_display_status(&mi, code, type, GSS_C_NO_OID,
			    &mctx, &msg);
			if (GSS_ERROR(ma))
				break;
			fprintf(stderr, " %.*s;", (int)msg.length,
			    (char *)msg.value);
			gss_release_buffer(&mi, &msg);
		} while (mctx != 0);
		if (type == GSS_C_MECH_CODE)
			break;
	}
	fputc('\n', stderr);
	exit(2);
}

static const char ng_b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 4648 section 4 base64 of in into out (NUL-terminated); -1 if short. */
static int
ng_b64_encode(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;
	uint32_t v;

	if ((len + 2) / 3 * 4 + 1 > outsz)
		return (-1);
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = ng_b64chars[v >> 18];
		out[o++] = ng_b64chars[(v >> 12) & 63];
		out[o++] = ng_b64chars[(v >> 6) & 63];
		out[o++] = ng_b64chars[v & 63];
	}
	if (i < len) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = ng_b64chars[v >> 18];
		out[o++] = ng_b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < len ? ng_b64chars[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (0);
}

/* The base64 text in (padding required) into out; -1 when it is not. */
static int
ng_b64_decode(const char *in, uint8_t *out, size_t outsz, size_t *outlen)
{
	size_t len = strlen(in), i, o = 0;
	uint32_t v;
	int j, pad;
	const char *p;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > outsz)
		return (-1);
	for (i = 0; i < len; i += 4) {
		v = 0;
		pad = 0;
		for (j = 0; j < 4; j++) {
			v <<= 6;
			if (in[i + j] == '=' && i + 4 == len && j >= 2) {
				pad++;
				continue;
			}
			if (pad || (p = strchr(ng_b64chars, in[i + j])) == NULL ||
			    in[i + j] == '\0')
				return (-1);
			v |= p - ng_b64chars;
		}
		out[o++] = v >> 16;
		if (pad < 2)
			out[o++] = (v >> 8) & 0xff;
		if (pad < 1)
			out[o++] = v & 0xff;
	}
	*outlen = o;
	return (0);
}

/*
 * Copy the default ccache (KRB5CCNAME: alice's TGT and, once fetched,
 * the proxy's service ticket) into a MEMORY ccache the credential is
 * then acquired from.  With a FILE ccache every gss_init_sec_context
 * opens, locks and parses the file again (two thirds of a token's cost
 * here, and the lock serialises the generator threads).
 */
static void
ng_memory_ccache(void)
{
	krb5_context	 kc;
	krb5_ccache	 from, to;
	krb5_principal	 me;
	krb5_error_code	 e;

	if ((e = krb5_init_context(&kc)) != 0)
		ll_die("krb5_init_context: error %d", (int)e);
	if ((e = krb5_cc_default(kc, &from)) != 0 ||
	    (e = krb5_cc_get_principal(kc, from, &me)) != 0 ||
	    (e = krb5_cc_resolve(kc, NG_MEMCC, &to)) != 0 ||
	    (e = krb5_cc_initialize(kc, to, me)) != 0 ||
	    (e = krb5_cc_copy_creds(kc, from, to)) != 0)
		ll_die("copying the ccache to %s: %s", NG_MEMCC,
		    krb5_get_error_message(kc, e));
	krb5_free_principal(kc, me);
	krb5_cc_close(kc, from);
	/* Not closed: a MEMORY ccache lives while a handle to it is open. */
}

/*
 * One token generator thread: tokens [from, to) of the distinct ones.
 * MIT's GSSAPI is thread-safe and its credential handle carries its own
 * lock, so the threads share ng_cred and ng_target.  Errors end the
 * whole program: they mean the setup is wrong, not the proxy.
 */
struct ng_gen {
	pthread_t	 tid;
	long		 from, to;
};

static void *
ng_gen_thread(void *arg)
{
	struct ng_gen	*g = arg;
	OM_uint32	 major, minor, rminor;
	gss_buffer_desc	 out;
	gss_ctx_id_t	 ctx;
	char		 b64[NG_TOKSZ];
	long		 i, slot;

	for (i = g->from; i < g->to; i++) {
		ctx = GSS_C_NO_CONTEXT;
		out.length = 0;
		out.value = NULL;
		/*
		 * With GSS_C_MUTUAL_FLAG the answer is CONTINUE_NEEDED: the
		 * context waits for the AP-REP the proxy sends back.
		 */
		major = gss_init_sec_context(&minor, ng_cred, &ctx, ng_target,
		    &ng_spnego_oid, GSS_C_MUTUAL_FLAG, GSS_C_INDEFINITE,
		    GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &out,
		    NULL, NULL);
		if (GSS_ERROR(major))
			ng_gss_die("gss_init_sec_context", major, minor);
		if (out.length == 0)
			ll_die("gss_init_sec_context gave no token");
		if (ng_b64_encode(out.value, out.length, b64,
		    sizeof(b64)) == -1)
			ll_die("a token of %zu bytes is too long", out.length);
		gss_release_buffer(&rminor, &out);
		slot = ng_replay ? 2 * i : i;
		if ((ng_tokens[slot] = strdup(b64)) == NULL)
			ll_die("out of memory");
		if (ng_replay)
			ng_tokens[slot + 1] = ng_tokens[slot];
		if (ng_check_mutual)
			ng_ctxs[slot] = ctx;
		else
			gss_delete_sec_context(&rminor, &ctx, GSS_C_NO_BUFFER);
	}
	return (NULL);
}

/*
 * Make ng_ntokens tokens for ng_service from the default ccache, on one
 * thread per CPU (the clock has not started: the cores are free, and a
 * token costs some tens of microseconds).  The Kerberos
 * credential is acquired first (its error names the problem, e.g. "No
 * Kerberos credentials available", where SPNEGO's would not), then the
 * SPNEGO one, whose negotiable mechanisms are cut to Kerberos (RFC 4178
 * section 4.2.1) so no other GSS module joins the mech list.  The first
 * token fetches the service ticket if the ccache lacks it, so it is made
 * alone before the threads start.
 */
static void
ng_make_tokens(void)
{
	OM_uint32	 major, minor, rminor;
	gss_buffer_desc	 namebuf;
	gss_OID_set_desc mechs;
	gss_key_value_element_desc store_el;
	gss_key_value_set_desc store;
	struct ng_gen	 gens[NG_MAXGEN];
	int64_t		 t0 = ll_now();
	long		 n, per;
	int		 i, ngen;

	namebuf.value = (void *)ng_service;
	namebuf.length = strlen(ng_service);
	major = gss_import_name(&minor, &namebuf, GSS_C_NT_HOSTBASED_SERVICE,
	    &ng_target);
	if (GSS_ERROR(major))
		ng_gss_die("gss_import_name", major, minor);
	ng_memory_ccache();
	store_el.key = "ccache";
	store_el.value = NG_MEMCC;
	store.count = 1;
	store.elements = &store_el;
	mechs.count = 1;
	mechs.elements = &ng_krb5_oid;
	major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
	    &mechs, GSS_C_INITIATE, &store, &ng_cred, NULL, NULL);
	if (GSS_ERROR(major))
		ng_gss_die("gss_acquire_cred (krb5)", major, minor);
	gss_release_cred(&rminor, &ng_cred);
	mechs.elements = &ng_spnego_oid;
	major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
	    &mechs, GSS_C_INITIATE, &store, &ng_cred, NULL, NULL);
	if (GSS_ERROR(major))
		ng_gss_die("gss_acquire_cred (spnego)", major, minor);
	mechs.elements = &ng_krb5_oid;
	major = gss_set_neg_mechs(&minor, ng_cred, &mechs);
	if (GSS_ERROR(major))
		ng_gss_die("gss_set_neg_mechs", major, minor);

	/* -R sends each token twice: half as many distinct ones. */
	n = ng_replay ? (ng_ntokens + 1) / 2 : ng_ntokens;
	ng_ntok = ng_replay ? 2 * n : n;
	if ((ng_tokens = calloc(ng_ntok, sizeof(*ng_tokens))) == NULL ||
	    (ng_check_mutual &&
	    (ng_ctxs = calloc(ng_ntok, sizeof(*ng_ctxs))) == NULL))
		ll_die("out of memory");

	gens[0].from = 0;
	gens[0].to = 1;
	ng_gen_thread(&gens[0]);
	ngen = sysconf(_SC_NPROCESSORS_ONLN);
	if (ngen < 1)
		ngen = 1;
	if (ngen > NG_MAXGEN)
		ngen = NG_MAXGEN;
	if (n - 1 < 64 * ngen)
		ngen = 1;		/* a handful: not worth threads */
	per = (n - 1 + ngen - 1) / ngen;
	for (i = 0; i < ngen; i++) {
		gens[i].from = 1 + i * per;
		gens[i].to = gens[i].from + per > n ? n : gens[i].from + per;
		if ((errno = pthread_create(&gens[i].tid, NULL, ng_gen_thread,
		    &gens[i])) != 0)
			ll_die("pthread_create: %s", strerror(errno));
	}
	for (i = 0; i < ngen; i++)
		pthread_join(gens[i].tid, NULL);
	ng_gen_ns = ll_now() - t0;
}

/*
 * -M: finish token tok's context with the proxy's answer (the SPNEGO
 * NegTokenResp carrying the Kerberos AP-REP).  0 when the context is
 * complete and mutually authenticated.
 */
static int
ng_verify_mutual(long tok, const char *b64)
{
	static uint8_t	 raw[NG_TOKSZ];
	OM_uint32	 major, minor, rminor, flags = 0;
	gss_buffer_desc	 in, out = GSS_C_EMPTY_BUFFER;
	size_t		 len;
	int		 rv;

	if (tok < 0 || ng_ctxs == NULL || ng_ctxs[tok] == GSS_C_NO_CONTEXT ||
	    ng_b64_decode(b64, raw, sizeof(raw), &len) == -1)
		return (-1);
	in.value = raw;
	in.length = len;
	major = gss_init_sec_context(&minor, ng_cred,
	    &ng_ctxs[tok], ng_target, &ng_spnego_oid, GSS_C_MUTUAL_FLAG,
	    GSS_C_INDEFINITE, GSS_C_NO_CHANNEL_BINDINGS, &in, NULL, &out,
	    &flags, NULL);
	gss_release_buffer(&rminor, &out);
	rv = (major == GSS_S_COMPLETE && (flags & GSS_C_MUTUAL_FLAG)) ? 0 : -1;
	gss_delete_sec_context(&rminor, &ng_ctxs[tok], GSS_C_NO_BUFFER);
	ng_ctxs[tok] = GSS_C_NO_CONTEXT;
	return (rv);
}

/* The next unused token, or NULL (and *idx -1) when none is left. */
static const char *
ng_take_token(long *idx)
{
	if (ng_next >= ng_ntok) {
		*idx = -1;
		return (NULL);
	}
	*idx = ng_next;
	return (ng_tokens[ng_next++]);
}

/*
 * Queue the next request on c: with a fresh token when the connection
 * signs in (leg NG_AUTH), else a plain GET.  -1 when a token is needed
 * and none is left.
 */
static int
ng_request(struct ll_conn *c)
{
	const char *tok = NULL;

	if (c->leg == NG_AUTH && (tok = ng_take_token(&c->tok)) == NULL)
		return (-1);
	if (c->leg == NG_GET)
		c->tok = -1;
	ll_request(c, tok);
	return (0);
}

/*
 * A new connection; the first request is queued for when it is up.  With
 * no token left the connection stays closed: out of the run.
 */
static void
ng_start(struct ll_conn *c)
{
	if (!ng_noauth && ng_next >= ng_ntok)
		return;
	ll_open(c);
	c->leg = ng_noauth ? NG_GET : NG_AUTH;
	(void)ng_request(c);	/* a token is there: checked above */
	ll_connect(c);
}

/* A whole response arrived: decide, then the next request or connection. */
static void
ng_response(struct ll_conn *c)
{
	int64_t now = ll_now();
	int signed_req = c->leg == NG_AUTH;

	if (c->status != 200) {
		ll_fail(c, LL_F_STATUS, "%d to a %s", c->status,
		    signed_req ? "signed request" : "GET");
		return;
	}
	if (signed_req && c->auth[0] != '\0')
		ng_mutual++;
	if (signed_req && ng_check_mutual) {
		if (c->auth[0] == '\0') {
			ll_fail(c, LL_F_AUTH, "200 without a mutual-auth "
			    "token");
			return;
		}
		if (ng_verify_mutual(c->tok, c->auth) == -1) {
			ll_fail(c, LL_F_AUTH, "the mutual-auth token does "
			    "not verify");
			return;
		}
		ng_mutual_ok++;
	}
	if (!ng_keepalive) {
		/* One sign-in (or one plain GET) per connection. */
		ll_result(c, now);
		ll_restart(c);
		return;
	}
	if (signed_req && !ng_each) {
		/* Signed in: the GETs from now on carry no header. */
		ll_sign_in(c);
		c->leg = NG_GET;
	} else
		ll_result(c, now);
	if (c->close_after) {
		ll_reconnect(c);
		return;
	}
	c->t_start = now;
	if (ng_request(c) == -1)
		ll_close(c);		/* -e: the tokens ran out */
}

static const char *const ng_legs[] = {
	[NG_AUTH] = "signed request", [NG_GET] = "GET"
};

const struct ll_client ll_client = {
	.name = "neg_load",
	.scheme = "Negotiate",
	.auth_max = NG_TOKSZ - 1,
	.auth_fail = "notoken",
	.legs = ng_legs,
	.start = ng_start,
	.response = ng_response
};

/* The order of the failure counts on the NEGLOAD line. */
static const enum ll_fail ng_fail_order[LL_F_MAX] = {
	LL_F_CONNECT, LL_F_CLOSED, LL_F_TIMEOUT, LL_F_STATUS, LL_F_PROTO,
	LL_F_AUTH
};

int
main(int argc, char *argv[])
{
	char *ep;
	long i;
	int ch;

	while ((ch = getopt(argc, argv, "x:u:s:c:d:n:keaMRT")) != -1) {
		switch (ll_option(ch, optarg)) {
		case 1:
			continue;
		case -1:
			ng_usage();
		}
		switch (ch) {
		case 's':
			ng_service = optarg;
			break;
		case 'n':
			ng_ntokens = strtol(optarg, &ep, 10);
			if (*ep != '\0' || ng_ntokens < 1 ||
			    ng_ntokens > 10000000)
				ng_usage();
			break;
		case 'k':
			ng_keepalive = 1;
			break;
		case 'e':
			ng_each = 1;
			break;
		case 'a':
			ng_noauth = 1;
			break;
		case 'M':
			ng_check_mutual = 1;
			break;
		case 'R':
			ng_replay = 1;
			break;
		case 'T':
			ng_print = 1;
			break;
		default:
			ng_usage();
		}
	}
	if (ng_print) {
		ng_make_tokens();
		for (i = 0; i < ng_ntok; i++)
			printf("%s\n", ng_tokens[i]);
		return (fflush(stdout) == 0 ? 0 : 2);
	}
	if ((ng_each && !ng_keepalive) ||
	    (ng_noauth && (ng_each || ng_check_mutual || ng_replay)) ||
	    ll_setup() == -1)
		ng_usage();

	if (!ng_noauth)
		ng_make_tokens();

	/*
	 * Keep-alive with one sign-in per connection: the clock starts once
	 * every connection has signed in, so the row counts GETs only.
	 * Everything else measures from the first connect.
	 */
	ll_run(ng_keepalive && !ng_each && !ng_noauth);
	ll_summary("NEGLOAD", !ng_keepalive ? "hs" : ng_each ? "kt" : "ka",
	    ng_fail_order);
	printf(" tokens=%ld used=%ld gen_us=%lld mutual=%ld mutual_ok=%ld "
	    "exhausted=%d\n", ng_ntok, ng_next, (long long)(ng_gen_ns / 1000),
	    ng_mutual, ng_mutual_ok, ll_exhausted);
	return (0);
}
