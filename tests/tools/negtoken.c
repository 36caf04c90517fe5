/*
 * negtoken: print Negotiate tokens made from a Kerberos credential cache.
 *
 * Why this exists: the integration tests and the benchmark need tokens a
 * real GSSAPI initiator made, but also need to control them in ways curl
 * does not allow: send one token twice (replay), send it on a raw
 * connection and read the mutual-auth answer, make it under a shifted
 * clock (faketime) to provoke "Clock skew too great", or pre-generate
 * thousands of them so that a load test measures the proxy's
 * gss_accept_sec_context and not the client's.  Every token here is a
 * fresh security context, exactly what a browser or curl sends as
 * `Proxy-Authorization: Negotiate <b64>` (RFC 4559 section 4.2).
 *
 *	negtoken [-r] [-n N] [-m krb5|spnego] SERVICE@HOST
 *
 *	-m spnego	an RFC 4178 NegTokenInit with the Kerberos AP-REQ as
 *			its optimistic token (the default, what browsers send)
 *	-m krb5		the bare RFC 4121 krb5 token (GSS-API framed AP-REQ)
 *	-n N		N tokens, one per line (default 1)
 *	-r		also request replay and sequence detection
 *			(GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG), as SSPI
 *			clients do; the default is GSS_C_MUTUAL_FLAG alone,
 *			like curl and Firefox
 *
 * The credentials come from the default ccache (KRB5CCNAME, KRB5_CONFIG).
 * The target is a GSS_C_NT_HOSTBASED_SERVICE name such as
 * HTTP@proxy.example.test.  The first token may contact the KDC for the
 * service ticket; it is stored in the ccache, so later tokens (and later
 * runs, e.g. under faketime) do not.  On error the GSS major and minor
 * status texts go to stderr and the exit status is 1.
 */

#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

/* RFC 4178 section 3.1: SPNEGO is iso.org.dod.internet.security.mechanism.snego. */
static gss_OID_desc negtoken_spnego_oid = {
	6, (void *)"\x2b\x06\x01\x05\x05\x02"
};

/* RFC 1964 section 1: the Kerberos V5 GSS-API mechanism, 1.2.840.113554.1.2.2. */
static gss_OID_desc negtoken_krb5_oid = {
	9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"
};

static const char negtoken_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void	negtoken_usage(void);
static void	negtoken_gss_err(const char *, OM_uint32, OM_uint32);
static int	negtoken_print_b64(FILE *, const unsigned char *, size_t);
static int	negtoken_one(gss_cred_id_t, gss_name_t, gss_OID, OM_uint32);

static void
negtoken_usage(void)
{
	fprintf(stderr, "usage: negtoken [-r] [-n count] [-m krb5|spnego] "
	    "service@host\n");
	exit(2);
}

/*
 * Print both status chains: the major text says what failed in GSSAPI
 * terms, the minor (mechanism) text says why, e.g. "Server not found in
 * Kerberos database" (RFC 2744 section 5.11, gss_display_status).
 */
static void
negtoken_gss_err(const char *what, OM_uint32 major, OM_uint32 minor)
{
	OM_uint32	 ma, mi, ctx;
	gss_buffer_desc	 msg;
	int		 type;
	OM_uint32	 code;

	fprintf(stderr, "negtoken: %s:", what);
	for (type = GSS_C_GSS_CODE; ; type = GSS_C_MECH_CODE) {
		code = type == GSS_C_GSS_CODE ? major : minor;
		ctx = 0;
		do {
			ma = gss_display_status(&mi, code, type, GSS_C_NO_OID,
			    &ctx, &msg);
			if (GSS_ERROR(ma))
				break;
			fprintf(stderr, " %.*s%s", (int)msg.length,
			    (char *)msg.value, ctx != 0 ? ";" : "");
			gss_release_buffer(&mi, &msg);
		} while (ctx != 0);
		if (type == GSS_C_MECH_CODE || minor == 0)
			break;
		fputs(":", stderr);
	}
	fputs("\n", stderr);
}

/*
 * Write len bytes of buf as one line of RFC 4648 base64 (with padding):
 * the form RFC 4559 section 4 puts after "Negotiate ".
 */
static int
negtoken_print_b64(FILE *fp, const unsigned char *buf, size_t len)
{
	char	 out[4];
	size_t	 i;
	unsigned int v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned int)buf[i] << 16 | (unsigned int)buf[i + 1] << 8 |
		    buf[i + 2];
		out[0] = negtoken_b64[(v >> 18) & 63];
		out[1] = negtoken_b64[(v >> 12) & 63];
		out[2] = negtoken_b64[(v >> 6) & 63];
		out[3] = negtoken_b64[v & 63];
		if (fwrite(out, 1, 4, fp) != 4)
			return (-1);
	}
	if (i < len) {
		v = (unsigned int)buf[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int)buf[i + 1] << 8;
		out[0] = negtoken_b64[(v >> 18) & 63];
		out[1] = negtoken_b64[(v >> 12) & 63];
		out[2] = i + 1 < len ? negtoken_b64[(v >> 6) & 63] : '=';
		out[3] = '=';
		if (fwrite(out, 1, 4, fp) != 4)
			return (-1);
	}
	if (putc('\n', fp) == EOF)
		return (-1);
	return (0);
}

/*
 * One fresh initiator context: its first token is what a client puts in
 * its first Proxy-Authorization.  With GSS_C_MUTUAL_FLAG the mechanism
 * answers CONTINUE_NEEDED (it waits for the AP-REP we never feed it);
 * that is success here.  The context is dropped at once, so each token
 * carries its own authenticator (and so is never a replay of another).
 */
static int
negtoken_one(gss_cred_id_t cred, gss_name_t target, gss_OID mech,
    OM_uint32 flags)
{
	OM_uint32	 major, minor, rminor;
	gss_ctx_id_t	 ctx = GSS_C_NO_CONTEXT;
	gss_buffer_desc	 out = GSS_C_EMPTY_BUFFER;
	int		 rv = -1;

	major = gss_init_sec_context(&minor, cred, &ctx, target, mech, flags,
	    GSS_C_INDEFINITE, GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER,
	    NULL, &out, NULL, NULL);
	if (GSS_ERROR(major))
		negtoken_gss_err("gss_init_sec_context", major, minor);
	else if (out.length == 0)
		fprintf(stderr, "negtoken: gss_init_sec_context gave no "
		    "token\n");
	else if (negtoken_print_b64(stdout, out.value, out.length) == -1)
		fprintf(stderr, "negtoken: write: %s\n", strerror(errno));
	else
		rv = 0;
	gss_release_buffer(&rminor, &out);
	if (ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&rminor, &ctx, GSS_C_NO_BUFFER);
	return (rv);
}

/*
 * Parse the options, then print the tokens; exit 0, 1 on a GSSAPI or
 * write error (the reason on stderr), 2 on a usage error.
 */
int
main(int argc, char *argv[])
{
	OM_uint32	 major, minor, flags = GSS_C_MUTUAL_FLAG;
	gss_OID		 mech = &negtoken_spnego_oid;
	gss_OID_set_desc mechs;
	gss_cred_id_t	 cred = GSS_C_NO_CREDENTIAL;
	gss_name_t	 target = GSS_C_NO_NAME;
	gss_buffer_desc	 namebuf;
	long		 n = 1, i;
	char		*end;
	int		 ch, rv = 0;

	while ((ch = getopt(argc, argv, "m:n:r")) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "spnego") == 0)
				mech = &negtoken_spnego_oid;
			else if (strcmp(optarg, "krb5") == 0)
				mech = &negtoken_krb5_oid;
			else
				negtoken_usage();
			break;
		case 'n':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    n < 1 || n > INT_MAX)
				negtoken_usage();
			break;
		case 'r':
			flags |= GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG;
			break;
		default:
			negtoken_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1 || strchr(argv[0], '@') == NULL)
		negtoken_usage();

	namebuf.value = argv[0];
	namebuf.length = strlen(argv[0]);
	major = gss_import_name(&minor, &namebuf, GSS_C_NT_HOSTBASED_SERVICE,
	    &target);
	if (GSS_ERROR(major)) {
		negtoken_gss_err("gss_import_name", major, minor);
		return (1);
	}

	/*
	 * Acquire the initiator credential once for the whole loop: the
	 * ccache is then opened once and the service ticket fetched (or
	 * found) once, which keeps thousands of tokens cheap.  The Kerberos
	 * credential comes first even for SPNEGO, because its error says
	 * what is wrong ("No Kerberos credentials available") where
	 * SPNEGO's says only that it found nothing to negotiate.
	 */
	mechs.count = 1;
	mechs.elements = &negtoken_krb5_oid;
	major = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
	    &mechs, GSS_C_INITIATE, &cred, NULL, NULL);
	if (GSS_ERROR(major)) {
		negtoken_gss_err("gss_acquire_cred", major, minor);
		rv = 1;
		goto done;
	}

	/*
	 * The mechglue wants a credential of the mechanism asked for.  For
	 * SPNEGO the negotiable mechanisms are then cut to Kerberos (RFC
	 * 4178 section 4.2.1), so that no other module joins the mech
	 * list: the gss-ntlmssp package registers itself for every process
	 * in /etc/gss/mech.d, and a GSS_MECH_CONFIG may name it too.
	 */
	if (mech == &negtoken_spnego_oid) {
		gss_release_cred(&minor, &cred);
		mechs.elements = mech;
		major = gss_acquire_cred(&minor, GSS_C_NO_NAME,
		    GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, &cred, NULL,
		    NULL);
		if (GSS_ERROR(major)) {
			negtoken_gss_err("gss_acquire_cred", major, minor);
			rv = 1;
			goto done;
		}
		mechs.elements = &negtoken_krb5_oid;
		major = gss_set_neg_mechs(&minor, cred, &mechs);
		if (GSS_ERROR(major)) {
			negtoken_gss_err("gss_set_neg_mechs", major, minor);
			rv = 1;
			goto done;
		}
	}

	for (i = 0; i < n; i++) {
		if (negtoken_one(cred, target, mech, flags) == -1) {
			rv = 1;
			break;
		}
	}
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "negtoken: write: %s\n", strerror(errno));
		rv = 1;
	}

done:
	gss_release_cred(&minor, &cred);
	gss_release_name(&minor, &target);
	return (rv);
}
