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
 * Build: cc -O2 -pthread neg_load.c -lgssapi_krb5 -lkrb5
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

#define _GNU_SOURCE		/* memmem, strcasestr */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>

#define NG_BUFSZ	65536	/* one response head, or a body's slice */
#define NG_REQSZ	16384	/* a request with a token */
#define NG_TOKSZ	8192	/* a base64 token, either way */
#define NG_TIMEOUT_NS	(10LL * 1000000000LL)
#define NG_MAXEV	256
#define NG_MAXREPORT	5	/* failures described on stderr */
#define NG_MAXGEN	8	/* token generator threads, at most */
#define NG_MEMCC	"MEMORY:neg_load"

enum ng_leg {
	NG_AUTH,		/* a request with a token sent, 200 expected */
	NG_GET			/* signed in (or no sign-in): plain GETs */
};

enum ng_body {
	NG_B_HEAD,		/* reading the head */
	NG_B_LENGTH,		/* Content-Length bytes left */
	NG_B_CHUNK_SIZE,	/* a chunk-size line */
	NG_B_CHUNK_DATA,	/* chunk bytes left */
	NG_B_CHUNK_CRLF,	/* the CRLF after chunk data */
	NG_B_TRAILER,		/* trailer lines up to an empty one */
	NG_B_EOF,		/* delimited by the close */
	NG_B_DONE
};

enum ng_fail {
	NG_F_CONNECT,
	NG_F_CLOSED,
	NG_F_TIMEOUT,
	NG_F_STATUS,
	NG_F_PROTO,
	NG_F_NOTOKEN,
	NG_F_MAX
};

static const char *ng_fail_names[NG_F_MAX] = {
	"connect", "closed", "timeout", "status", "proto", "notoken"
};

struct ng_conn {
	int		 fd;
	int		 connecting;
	int		 restart;	/* failed or done: a new connection soon */
	int		 idle;		/* no token left for it: out of the run */
	enum ng_leg	 leg;
	long		 tok;		/* the token in flight, or -1 */
	int64_t		 t_start;	/* connect (sign-in) or request */
	int64_t		 t_deadline;
	char		 out[NG_REQSZ];
	size_t		 outlen, outoff;
	char		 in[NG_BUFSZ];
	size_t		 inlen;
	enum ng_body	 body;
	uint64_t	 left;		/* body bytes left in this part */
	int		 status;
	int		 close_after;
	char		 mutual[NG_TOKSZ];	/* Proxy-Authenticate: Negotiate X */
};

/* Options. */
static struct sockaddr_in ng_proxy;
static const char	*ng_url, *ng_service = "HTTP@proxy.example.test";
static char		 ng_host[256];
static int		 ng_nconns = 1, ng_keepalive, ng_each, ng_noauth;
static int		 ng_check_mutual, ng_replay, ng_print;
static int64_t		 ng_duration = 10LL * 1000000000LL;
static long		 ng_ntokens = 1000;

/* Tokens, made before the clock; ng_next is the next one to send. */
static char		**ng_tokens;
static gss_ctx_id_t	*ng_ctxs;	/* -M: each token's context */
static long		 ng_ntok, ng_next;
static int64_t		 ng_gen_ns;
static gss_cred_id_t	 ng_cred = GSS_C_NO_CREDENTIAL;
static gss_name_t	 ng_target = GSS_C_NO_NAME;

/* State and results. */
static struct ng_conn	*ng_conns;
static int		 ng_ep;
static int		 ng_measuring;	/* the clock runs */
static int		 ng_signed_in;	/* -k: connections past the sign-in */
static int64_t		 ng_t0, ng_t1;
static long		 ng_ok, ng_fails[NG_F_MAX], ng_reconnects;
static long		 ng_mutual, ng_mutual_ok;
static int		 ng_reported, ng_exhausted;
static uint32_t		*ng_lat;	/* microseconds, one per ok */
static size_t		 ng_nlat, ng_latsz;

/* RFC 4178 section 3.1: SPNEGO, 1.3.6.1.5.5.2. */
static gss_OID_desc ng_spnego_oid = {
	6, (void *)"\x2b\x06\x01\x05\x05\x02"
};

/* RFC 1964 section 1: Kerberos V5, 1.2.840.113554.1.2.2. */
static gss_OID_desc ng_krb5_oid = {
	9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"
};

static int64_t
ng_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

static void __attribute__((noreturn))
ng_usage(void)
{
	fprintf(stderr, "usage: neg_load -x HOST:PORT -u URL "
	    "[-s SERVICE@HOST] [-c CONNS]\n\t[-n TOKENS] [-d SECONDS] "
	    "[-k [-e]] [-a] [-M] [-R]\n"
	    "       neg_load -T [-s SERVICE@HOST] [-n TOKENS]\n");
	exit(2);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
ng_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "neg_load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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
		ng_die("krb5_init_context: error %d", (int)e);
	if ((e = krb5_cc_default(kc, &from)) != 0 ||
	    (e = krb5_cc_get_principal(kc, from, &me)) != 0 ||
	    (e = krb5_cc_resolve(kc, NG_MEMCC, &to)) != 0 ||
	    (e = krb5_cc_initialize(kc, to, me)) != 0 ||
	    (e = krb5_cc_copy_creds(kc, from, to)) != 0)
		ng_die("copying the ccache to %s: %s", NG_MEMCC,
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
			ng_die("gss_init_sec_context gave no token");
		if (ng_b64_encode(out.value, out.length, b64,
		    sizeof(b64)) == -1)
			ng_die("a token of %zu bytes is too long", out.length);
		gss_release_buffer(&rminor, &out);
		slot = ng_replay ? 2 * i : i;
		if ((ng_tokens[slot] = strdup(b64)) == NULL)
			ng_die("out of memory");
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
	int64_t		 t0 = ng_now();
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
		ng_die("out of memory");

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
			ng_die("pthread_create: %s", strerror(errno));
	}
	for (i = 0; i < ngen; i++)
		pthread_join(gens[i].tid, NULL);
	ng_gen_ns = ng_now() - t0;
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

static void
ng_record(int64_t ns)
{
	uint32_t *p;

	if (ng_nlat == ng_latsz) {
		ng_latsz = ng_latsz ? ng_latsz * 2 : 65536;
		if ((p = realloc(ng_lat, ng_latsz * sizeof(*p))) == NULL)
			ng_die("out of memory");
		ng_lat = p;
	}
	ng_lat[ng_nlat++] = ns / 1000 > UINT32_MAX ? UINT32_MAX : ns / 1000;
}

static void
ng_close(struct ng_conn *c)
{
	if (c->fd != -1) {
		epoll_ctl(ng_ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
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
 * One result that is not a 200: counted (while measuring), and the
 * connection replaced by a new one from the main loop (not from here: a
 * refused connect would recurse).
 */
static void __attribute__((format(printf, 3, 4)))
ng_fail(struct ng_conn *c, enum ng_fail why, const char *fmt, ...)
{
	va_list ap;

	if (ng_measuring) {
		ng_fails[why]++;
		if (ng_reported++ < NG_MAXREPORT) {
			fprintf(stderr, "neg_load: conn %d %s: %s: ",
			    (int)(c - ng_conns), c->leg == NG_AUTH ?
			    "signed request" : "GET", ng_fail_names[why]);
			va_start(ap, fmt);
			vfprintf(stderr, fmt, ap);
			va_end(ap);
			fputc('\n', stderr);
		}
	}
	if (c->leg == NG_GET && !ng_noauth && ng_keepalive)
		ng_signed_in--;
	ng_close(c);
	c->restart = 1;
}

static void
ng_want(struct ng_conn *c, uint32_t ev)
{
	struct epoll_event e;

	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(ng_ep, EPOLL_CTL_MOD, c->fd, &e) == -1)
		ng_die("epoll_ctl: %s", strerror(errno));
}

/*
 * Queue the next request on c: with a fresh token when the connection
 * signs in (leg NG_AUTH), else a plain GET.  -1 when a token is needed
 * and none is left.
 */
static int
ng_request(struct ng_conn *c)
{
	const char *tok = NULL;
	int n;

	if (c->leg == NG_AUTH && (tok = ng_take_token(&c->tok)) == NULL)
		return (-1);
	if (c->leg == NG_GET)
		c->tok = -1;
	n = snprintf(c->out, sizeof(c->out), "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n%s%s%s\r\n", ng_url, ng_host,
	    tok ? "Proxy-Authorization: Negotiate " : "", tok ? tok : "",
	    tok ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(c->out))
		ng_die("request too long");
	c->outlen = n;
	c->outoff = 0;
	c->inlen = 0;
	c->body = NG_B_HEAD;
	c->status = 0;
	c->close_after = 0;
	c->mutual[0] = '\0';
	c->t_deadline = ng_now() + NG_TIMEOUT_NS;
	if (!c->connecting)
		ng_want(c, EPOLLOUT);
	return (0);
}

/* A new connection; the first request is queued for when it is up. */
static void
ng_start(struct ng_conn *c)
{
	struct epoll_event e;
	int one = 1;

	c->restart = 0;
	if (!ng_noauth && ng_next >= ng_ntok) {
		c->idle = 1;		/* nothing left to sign in with */
		return;
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1)
		ng_die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t_start = ng_now();
	c->connecting = 1;
	e.events = EPOLLOUT;
	e.data.ptr = c;
	if (epoll_ctl(ng_ep, EPOLL_CTL_ADD, c->fd, &e) == -1)
		ng_die("epoll_ctl: %s", strerror(errno));
	c->leg = ng_noauth ? NG_GET : NG_AUTH;
	(void)ng_request(c);	/* a token is there: checked above */
	if (connect(c->fd, (struct sockaddr *)&ng_proxy,
	    sizeof(ng_proxy)) == -1 && errno != EINPROGRESS)
		ng_fail(c, NG_F_CONNECT, "%s", strerror(errno));
}

/* The header line h (NUL-terminated, no CRLF) of a response head. */
static int
ng_header(struct ng_conn *c, char *h)
{
	char *v;

	if ((v = strchr(h, ':')) == NULL)
		return (-1);
	*v++ = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	if (strcasecmp(h, "Content-Length") == 0) {
		if (c->body != NG_B_CHUNK_SIZE) {
			c->body = NG_B_LENGTH;
			c->left = strtoull(v, NULL, 10);
		}
	} else if (strcasecmp(h, "Transfer-Encoding") == 0) {
		if (strcasestr(v, "chunked") != NULL)
			c->body = NG_B_CHUNK_SIZE;
	} else if (strcasecmp(h, "Connection") == 0 ||
	    strcasecmp(h, "Proxy-Connection") == 0) {
		if (strcasestr(v, "close") != NULL)
			c->close_after = 1;
	} else if (strcasecmp(h, "Proxy-Authenticate") == 0) {
		/* RFC 4559 section 5: the mutual-auth token of a 200. */
		if (strncasecmp(v, "Negotiate ", 10) == 0 &&
		    strlen(v + 10) < sizeof(c->mutual))
			strcpy(c->mutual, v + 10);
	}
	return (0);
}

/* Parse the head at c->in (ends at hend, just past the blank line). */
static int
ng_head(struct ng_conn *c, char *hend)
{
	char *line, *eol;

	hend[-2] = '\0';
	line = c->in;
	if ((eol = strstr(line, "\r\n")) != NULL)
		*eol = '\0';
	if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12 ||
	    !isdigit((unsigned char)line[9]))
		return (-1);
	c->status = atoi(line + 9);
	if (line[7] == '0')
		c->close_after = 1;	/* HTTP/1.0: assume close */
	c->body = NG_B_EOF;
	while (eol != NULL) {
		line = eol + 2;
		if ((eol = strstr(line, "\r\n")) != NULL)
			*eol = '\0';
		if (*line != '\0' && ng_header(c, line) == -1)
			return (-1);
	}
	if (c->status == 204 || c->status == 304 ||
	    (c->body == NG_B_LENGTH && c->left == 0))
		c->body = NG_B_DONE;
	if (c->status >= 100 && c->status < 200)
		return (-1);		/* nothing here sends interim answers */
	return (0);
}

/* Consume body bytes in c->in; returns 0 (need more), 1 (done), -1. */
static int
ng_body(struct ng_conn *c)
{
	size_t pos = 0, n;
	char *eol, *end;

	for (;;) {
		switch (c->body) {
		case NG_B_DONE:
			memmove(c->in, c->in + pos, c->inlen - pos);
			c->inlen -= pos;
			return (1);
		case NG_B_EOF:
			pos = c->inlen;		/* ends at the close */
			goto keep;
		case NG_B_LENGTH:
		case NG_B_CHUNK_DATA:
			n = c->inlen - pos;
			if (n > c->left)
				n = c->left;
			pos += n;
			c->left -= n;
			if (c->left > 0)
				goto keep;
			c->body = c->body == NG_B_LENGTH ? NG_B_DONE :
			    NG_B_CHUNK_CRLF;
			break;
		case NG_B_CHUNK_CRLF:
			if (c->inlen - pos < 2)
				goto keep;
			if (memcmp(c->in + pos, "\r\n", 2) != 0)
				return (-1);
			pos += 2;
			c->body = NG_B_CHUNK_SIZE;
			break;
		case NG_B_CHUNK_SIZE:
		case NG_B_TRAILER:
			eol = memmem(c->in + pos, c->inlen - pos, "\r\n", 2);
			if (eol == NULL) {
				if (c->inlen - pos > 1024)
					return (-1);
				goto keep;
			}
			if (c->body == NG_B_TRAILER) {
				if (eol == c->in + pos)
					c->body = NG_B_DONE;
				pos = eol + 2 - c->in;
				break;
			}
			c->left = strtoull(c->in + pos, &end, 16);
			if (end == c->in + pos)
				return (-1);
			pos = eol + 2 - c->in;
			c->body = c->left == 0 ? NG_B_TRAILER :
			    NG_B_CHUNK_DATA;
			break;
		default:
			return (-1);
		}
	}
keep:
	memmove(c->in, c->in + pos, c->inlen - pos);
	c->inlen -= pos;
	return (0);
}

/* A whole response arrived: decide, then the next request or connection. */
static void
ng_response(struct ng_conn *c)
{
	int64_t now = ng_now();
	int signed_req = c->leg == NG_AUTH;

	if (c->status != 200) {
		ng_fail(c, NG_F_STATUS, "%d to a %s", c->status,
		    signed_req ? "signed request" : "GET");
		return;
	}
	if (signed_req && c->mutual[0] != '\0')
		ng_mutual++;
	if (signed_req && ng_check_mutual) {
		if (c->mutual[0] == '\0') {
			ng_fail(c, NG_F_NOTOKEN, "200 without a mutual-auth "
			    "token");
			return;
		}
		if (ng_verify_mutual(c->tok, c->mutual) == -1) {
			ng_fail(c, NG_F_NOTOKEN, "the mutual-auth token does "
			    "not verify");
			return;
		}
		ng_mutual_ok++;
	}
	if (!ng_keepalive) {
		/* One sign-in (or one plain GET) per connection. */
		if (ng_measuring) {
			ng_ok++;
			ng_record(now - c->t_start);
		}
		ng_close(c);
		ng_start(c);
		return;
	}
	if (signed_req && !ng_each) {
		/* Signed in: the GETs from now on carry no header. */
		ng_signed_in++;
		c->leg = NG_GET;
	} else if (ng_measuring) {
		ng_ok++;
		ng_record(now - c->t_start);
	}
	if (c->close_after) {
		/* The proxy ended a good connection: a new one, signed in
		 * again; counted, not a failure. */
		if (ng_measuring)
			ng_reconnects++;
		if (c->leg == NG_GET && !ng_noauth)
			ng_signed_in--;
		ng_close(c);
		ng_start(c);
		return;
	}
	c->t_start = now;
	if (ng_request(c) == -1) {
		ng_close(c);		/* -e: the tokens ran out */
		c->idle = 1;
	}
}

static void
ng_readable(struct ng_conn *c)
{
	char *hend;
	ssize_t n;
	int r;

	for (;;) {
		if (c->inlen == sizeof(c->in)) {
			ng_fail(c, NG_F_PROTO, "response head too long");
			return;
		}
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (c->body == NG_B_EOF) {
				c->close_after = 1;
				ng_response(c);
			} else
				ng_fail(c, NG_F_CLOSED, "%s after %zu bytes "
				    "(status %d)", n == 0 ? "closed" :
				    strerror(errno), c->inlen, c->status);
			return;
		}
		c->inlen += n;
		if (c->body == NG_B_HEAD) {
			c->in[c->inlen < sizeof(c->in) ? c->inlen :
			    sizeof(c->in) - 1] = '\0';
			hend = memmem(c->in, c->inlen, "\r\n\r\n", 4);
			if (hend == NULL)
				continue;
			hend += 4;
			r = hend - c->in;
			if (ng_head(c, hend) == -1) {
				ng_fail(c, NG_F_PROTO, "bad response head");
				return;
			}
			memmove(c->in, hend, c->inlen - r);
			c->inlen -= r;
		}
		if ((r = ng_body(c)) == -1) {
			ng_fail(c, NG_F_PROTO, "bad body framing");
			return;
		}
		if (r == 1) {
			if (c->inlen > 0) {
				ng_fail(c, NG_F_PROTO, "bytes after the response");
				return;
			}
			ng_response(c);
			return;
		}
	}
}

static void
ng_writable(struct ng_conn *c)
{
	ssize_t n;
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->connecting) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			ng_fail(c, NG_F_CONNECT, "%s", strerror(err));
			return;
		}
		c->connecting = 0;
	}
	while (c->outoff < c->outlen) {
		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			ng_fail(c, NG_F_CLOSED, "write: %s", strerror(errno));
			return;
		}
		c->outoff += n;
	}
	ng_want(c, EPOLLIN);
}

static int
ng_cmp32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

static uint32_t
ng_pct(double p)
{
	size_t i;

	if (ng_nlat == 0)
		return (0);
	i = (size_t)(p / 100.0 * ng_nlat);
	return (ng_lat[i >= ng_nlat ? ng_nlat - 1 : i]);
}

static void
ng_parse_url(void)
{
	const char *h, *e;

	if (strncmp(ng_url, "http://", 7) != 0)
		ng_die("the URL must be http://HOST[:PORT]/PATH");
	h = ng_url + 7;
	e = strchr(h, '/');
	if (e == NULL)
		e = h + strlen(h);
	if (e == h || (size_t)(e - h) >= sizeof(ng_host))
		ng_die("bad host in %s", ng_url);
	memcpy(ng_host, h, e - h);
	ng_host[e - h] = '\0';
}

/* Results so far, good and bad. */
static long
ng_total(void)
{
	long t = ng_ok;
	int i;

	for (i = 0; i < NG_F_MAX; i++)
		t += ng_fails[i];
	return (t);
}

/* Connections still at work (not out of tokens). */
static int
ng_active(void)
{
	int i, n = 0;

	for (i = 0; i < ng_nconns; i++)
		if (ng_conns[i].fd != -1 || ng_conns[i].restart)
			n++;
	return (n);
}

int
main(int argc, char *argv[])
{
	struct epoll_event evs[NG_MAXEV];
	char *colon, *ep;
	int64_t now, end = 0, lastscan = 0, warm_end;
	long total;
	int ch, i, n;

	while ((ch = getopt(argc, argv, "x:u:s:c:d:n:keaMRT")) != -1) {
		switch (ch) {
		case 'x':
			if ((colon = strrchr(optarg, ':')) == NULL)
				ng_usage();
			*colon = '\0';
			ng_proxy.sin_family = AF_INET;
			ng_proxy.sin_port = htons(atoi(colon + 1));
			if (inet_pton(AF_INET, optarg,
			    &ng_proxy.sin_addr) != 1)
				ng_die("bad proxy address %s", optarg);
			break;
		case 'u':
			ng_url = optarg;
			break;
		case 's':
			ng_service = optarg;
			break;
		case 'c':
			ng_nconns = strtol(optarg, &ep, 10);
			if (*ep != '\0' || ng_nconns < 1 || ng_nconns > 10000)
				ng_usage();
			break;
		case 'd':
			ng_duration = (int64_t)(strtod(optarg, NULL) * 1e9);
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
		for (total = 0; total < ng_ntok; total++)
			printf("%s\n", ng_tokens[total]);
		return (fflush(stdout) == 0 ? 0 : 2);
	}
	if (ng_url == NULL || ng_proxy.sin_family != AF_INET ||
	    ng_duration <= 0 || (ng_each && !ng_keepalive) ||
	    (ng_noauth && (ng_each || ng_check_mutual || ng_replay)))
		ng_usage();
	ng_parse_url();
	signal(SIGPIPE, SIG_IGN);

	if (!ng_noauth)
		ng_make_tokens();

	if ((ng_ep = epoll_create1(0)) == -1)
		ng_die("epoll_create1: %s", strerror(errno));
	if ((ng_conns = calloc(ng_nconns, sizeof(*ng_conns))) == NULL)
		ng_die("out of memory");

	/*
	 * Keep-alive with one sign-in per connection: the clock starts once
	 * every connection has signed in (at most 30 s), so the row counts
	 * GETs only.  Everything else measures from the first connect.
	 */
	ng_measuring = !(ng_keepalive && !ng_each && !ng_noauth);
	for (i = 0; i < ng_nconns; i++) {
		ng_conns[i].fd = -1;
		ng_conns[i].tok = -1;
		ng_start(&ng_conns[i]);
	}
	now = ng_now();
	warm_end = now + 30LL * 1000000000LL;
	if (ng_measuring) {
		ng_t0 = now;
		end = ng_t0 + ng_duration;
	}
	for (;;) {
		n = epoll_wait(ng_ep, evs, NG_MAXEV, 50);
		if (n == -1 && errno != EINTR)
			ng_die("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			struct ng_conn *c = evs[i].data.ptr;

			if (c->fd == -1)
				continue;
			if (c->connecting || c->outoff < c->outlen)
				ng_writable(c);
			else
				ng_readable(c);
		}
		for (i = 0; i < ng_nconns; i++)
			if (ng_conns[i].restart)
				ng_start(&ng_conns[i]);
		now = ng_now();
		if (!ng_measuring) {
			if (ng_signed_in < ng_nconns && now < warm_end &&
			    ng_active() > 0)
				continue;
			if (ng_signed_in < ng_nconns)
				fprintf(stderr, "neg_load: only %d of %d "
				    "connections signed in\n", ng_signed_in,
				    ng_nconns);
			ng_measuring = 1;
			ng_t0 = now;
			end = ng_t0 + ng_duration;
		}
		if (now >= end)
			break;
		if (ng_active() == 0) {
			ng_exhausted = 1;
			break;
		}
		if (now - lastscan >= 100000000LL) {
			lastscan = now;
			for (i = 0; i < ng_nconns; i++) {
				struct ng_conn *c = &ng_conns[i];

				if (c->fd != -1 && now > c->t_deadline)
					ng_fail(c, NG_F_TIMEOUT, "no answer "
					    "in 10 s");
			}
		}
	}
	ng_t1 = ng_now();
	for (i = 0; i < ng_nconns; i++)
		if (ng_conns[i].fd != -1)
			close(ng_conns[i].fd);

	qsort(ng_lat, ng_nlat, sizeof(*ng_lat), ng_cmp32);
	total = ng_total() - ng_ok;
	printf("NEGLOAD mode=%s conns=%d ok=%ld fail=%ld duration_us=%lld "
	    "p50_us=%u p99_us=%u max_us=%u", !ng_keepalive ? "hs" :
	    ng_each ? "kt" : "ka", ng_nconns, ng_ok, total,
	    (long long)((ng_t1 - ng_t0) / 1000), ng_pct(50), ng_pct(99),
	    ng_nlat ? ng_lat[ng_nlat - 1] : 0);
	for (i = 0; i < NG_F_MAX; i++)
		printf(" %s=%ld", ng_fail_names[i], ng_fails[i]);
	printf(" reconnects=%ld tokens=%ld used=%ld gen_us=%lld mutual=%ld "
	    "mutual_ok=%ld exhausted=%d\n", ng_reconnects, ng_ntok, ng_next,
	    (long long)(ng_gen_ns / 1000), ng_mutual, ng_mutual_ok,
	    ng_exhausted);
	return (0);
}
