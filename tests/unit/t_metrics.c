/*
 * metrics.c: refusal reasons classified as the auth code words them
 * (ntlm_verdict_str() and the backends' texts, so a reworded reason
 * shows up here), counts from several threads summed exactly, histogram
 * buckets at their boundaries, and the exposition's sample lines.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"
#include "ntlm.h"
#include "unit.h"

#define THREADS		4
#define PER_THREAD	10000

/* The exposition as a string (caller frees). */
static char *
text(void)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 len;
	char		*s;

	metrics_text(b);
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

/* The value of the sample line that starts with prefix + ' ', or -1. */
static double
value(const char *t, const char *prefix)
{
	const char	*p = t;
	size_t		 n = strlen(prefix);

	while ((p = strstr(p, prefix)) != NULL) {
		if ((p == t || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

static void *
counter(void *arg)
{
	struct access_entry	 e;
	struct timeval		 d = { 0, 3000 };	/* 3 ms */
	int			 i;

	(void)arg;
	memset(&e, 0, sizeof(e));
	e.decision = "allow";
	e.status = 200;
	e.bytes_out = 10;
	e.bytes_in = 1;
	for (i = 0; i < PER_THREAD; i++)
		metrics_request(&e, &d);
	return NULL;
}

static void
classes(void)
{
	static const struct {
		const char	*reason;
		const char	*class;
	} v[] = {
		{ "not an NTLMv2 response", "ntlmv1" },
		{ "unknown user", "unknown_user" },
		{ "no NT hash for this user", "unknown_user" },
		{ "NTLM challenge expired", "challenge" },
		{ "NTLM authenticate without a challenge on this connection",
		    "challenge" },
		{ "Kerberos token refused", "kerberos" },
		{ "account locked out", "account" },
		{ "password or account expired", "account" },
		{ "malformed NTLM negotiate", "malformed" },
		{ "refused by the domain controller", "other" },
	};
	size_t i;

	CHECK(strcmp(metrics_refusal_class(ntlm_verdict_str(NTLM_ERR_NTLMV1),
	    0), "ntlmv1") == 0, "NTLMv1");
	CHECK(strcmp(metrics_refusal_class(ntlm_verdict_str(NTLM_ERR_LM_ONLY),
	    0), "ntlmv1") == 0, "LM");
	CHECK(strcmp(metrics_refusal_class(ntlm_verdict_str(
	    NTLM_ERR_ANONYMOUS), 0), "anonymous") == 0, "anonymous");
	CHECK(strcmp(metrics_refusal_class(ntlm_verdict_str(
	    NTLM_ERR_BAD_PROOF), 0), "bad_password") == 0, "bad proof");
	CHECK(strcmp(metrics_refusal_class(ntlm_verdict_str(NTLM_ERR_BAD_MIC),
	    0), "integrity") == 0, "MIC");
	CHECK(strcmp(metrics_refusal_class(ntlm_verdict_str(
	    NTLM_ERR_TARGET_INFO_MISMATCH), 0), "integrity") == 0, "target");
	CHECK(strcmp(metrics_refusal_class(ntlm_verdict_str(
	    NTLM_ERR_TIME_SKEW), 0), "challenge") == 0, "skew");
	CHECK(strcmp(metrics_refusal_class(ntlm_verdict_str(
	    NTLM_ERR_MALFORMED_BLOB), 0), "malformed") == 0, "blob");
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		CHECK(strcmp(metrics_refusal_class(v[i].reason, 0),
		    v[i].class) == 0, "%s -> %s, not %s", v[i].reason,
		    v[i].class, metrics_refusal_class(v[i].reason, 0));
	/* An outage is an outage, whatever the words. */
	CHECK(strcmp(metrics_refusal_class("wrong password", 1),
	    "unavailable") == 0, "unavailable");
	CHECK(strcmp(metrics_refusal_class(NULL, 0), "other") == 0, "NULL");
}

int
main(void)
{
	pthread_t		 th[THREADS];
	struct access_entry	 e;
	struct auth_answer	 a;
	struct timeval		 d;
	char			*t;
	int			 i;

	classes();

	/* Several threads at once: every count arrives. */
	for (i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, counter, NULL);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);

	/* Boundaries: 5 ms is in le=0.005; 10.5 s only in +Inf. */
	memset(&e, 0, sizeof(e));
	e.tunnel = 1;
	e.decision = "block";
	e.status = 403;
	e.tunnel_up = 7;
	e.tunnel_down = 9;
	d.tv_sec = 0;
	d.tv_usec = 5000;
	metrics_request(&e, &d);
	d.tv_sec = 10;
	d.tv_usec = 500000;
	e.decision = "warn-tunnel";
	e.status = 0;
	metrics_request(&e, &d);

	/* A sign-in refusal as gate.c passes it on. */
	memset(&a, 0, sizeof(a));
	snprintf(a.header, sizeof(a.header), "NTLM");
	a.reason = ntlm_verdict_str(NTLM_ERR_NTLMV1);
	metrics_signin_answer(AUTH_REFUSED, &a);
	snprintf(a.header, sizeof(a.header), "Negotiate");
	a.mech = "ntlm";	/* NTLM inside Negotiate, proven */
	metrics_signin_answer(AUTH_SUCCESS, &a);
	metrics_signin_answer(AUTH_PENDING, &a);	/* not an outcome */
	metrics_syslog_dropped();

	t = text();
	CHECK(value(t, "iaproxy_requests_total{kind=\"http\","
	    "decision=\"allow\"}") == THREADS * PER_THREAD, "allow sum");
	CHECK(value(t, "iaproxy_request_duration_seconds_bucket{kind=\"http\","
	    "le=\"0.005\"}") == THREADS * PER_THREAD, "3 ms in 0.005");
	CHECK(value(t, "iaproxy_request_duration_seconds_bucket{kind=\"http\","
	    "le=\"0.0025\"}") == -1, "no such bucket");
	CHECK(value(t, "iaproxy_request_duration_seconds_count{kind=\"http\"}")
	    == THREADS * PER_THREAD, "http count");
	/* Summed in microseconds: exact, 40000 * 3 ms. */
	CHECK(strstr(t, "iaproxy_request_duration_seconds_sum{kind=\"http\"} "
	    "120.000000\n") != NULL, "http sum");
	CHECK(value(t, "iaproxy_client_sent_bytes_total{kind=\"http\"}") ==
	    THREADS * PER_THREAD * 10, "bytes sent");
	CHECK(value(t, "iaproxy_responses_total{kind=\"http\",code=\"2xx\"}")
	    == THREADS * PER_THREAD, "2xx");
	CHECK(value(t, "iaproxy_request_duration_seconds_bucket{kind=\"tunnel\","
	    "le=\"0.005\"}") == 1, "5 ms is in le=0.005");
	CHECK(value(t, "iaproxy_request_duration_seconds_bucket{kind=\"tunnel\","
	    "le=\"10\"}") == 1, "10.5 s is not in le=10");
	CHECK(value(t, "iaproxy_request_duration_seconds_bucket{kind=\"tunnel\","
	    "le=\"+Inf\"}") == 2, "+Inf has both");
	CHECK(strstr(t, "iaproxy_request_duration_seconds_sum{kind="
	    "\"tunnel\"} 10.505000\n") != NULL, "tunnel sum");
	CHECK(value(t, "iaproxy_requests_total{kind=\"tunnel\","
	    "decision=\"block\"}") == 1, "tunnel block");
	CHECK(value(t, "iaproxy_requests_total{kind=\"tunnel\","
	    "decision=\"warn\"}") == 1, "warn-tunnel is warn");
	CHECK(value(t, "iaproxy_responses_total{kind=\"tunnel\","
	    "code=\"none\"}") == 1, "status 0 is none");
	CHECK(value(t, "iaproxy_client_received_bytes_total{kind=\"tunnel\"}")
	    == 0, "tunnel client bytes as logged");
	CHECK(value(t, "iaproxy_tunnel_bytes_total{direction=\"up\"}") == 14,
	    "tunnel payload up");
	CHECK(value(t, "iaproxy_tunnel_bytes_total{direction=\"down\"}") ==
	    18, "tunnel payload down");
	CHECK(value(t, "iaproxy_signins_total{mechanism=\"ntlm\","
	    "result=\"refused\"}") == 1, "ntlm refused");
	CHECK(value(t, "iaproxy_signin_refusals_total{mechanism=\"ntlm\","
	    "reason=\"ntlmv1\"}") == 1, "ntlmv1 refusal");
	CHECK(value(t, "iaproxy_signins_total{mechanism=\"ntlm\","
	    "result=\"success\"}") == 1, "success counts the proven mech");
	CHECK(value(t, "iaproxy_signins_total{mechanism=\"negotiate\","
	    "result=\"success\"}") == 0, "not negotiate");
	CHECK(value(t, "iaproxy_syslog_dropped_total") == 1, "dropped");
	CHECK(strstr(t, "# TYPE iaproxy_request_duration_seconds histogram\n")
	    != NULL, "histogram TYPE");
	CHECK(t[strlen(t) - 1] == '\n', "ends with LF");
	free(t);
	return unit_done("t_metrics");
}
