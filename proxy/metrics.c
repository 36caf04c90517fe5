/*
 * Metrics: the process's counters, written out in the Prometheus text
 * exposition format 0.0.4 for the admin socket's "metrics" command and
 * the admin listener's GET /metrics (admin_http.c).
 *
 * Counting must cost a worker next to nothing and never make it wait,
 * so each thread that counts owns a block of counters, made on its first
 * count and linked into a list that only grows (a block outlives its
 * thread, so a counter never goes backwards, which Prometheus would read
 * as a restart).  A thread adds to its own block with relaxed atomics (no
 * other thread writes there, so the cache line stays put); the reader
 * sums every block with relaxed loads.  A reader may see one request's
 * counters half-added; the next scrape sees them whole, which is all a
 * monotonic counter needs.
 *
 * Gauges that belong to someone else (open connections, helper queues,
 * the groups cache) are asked for at scrape time, from the main thread.
 *
 * Requests are observed in exactly one place, accesslog_write(), which
 * runs once for every request and tunnel (conn.c logs each one once), so
 * nothing is counted twice or missed because the access log is off.
 */
#include "config.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy.h"

/* Request kinds: plain HTTP (forwarded or answered by us) and CONNECT. */
enum { M_HTTP, M_TUNNEL, M_KINDS };
static const char *const m_kind_names[M_KINDS] = { "http", "tunnel" };

/* The policy's decision on a request (decide.c's decision_text). */
enum { M_ALLOW, M_BLOCK, M_WARN, M_MONITOR, M_NONE, M_DECISIONS };
static const char *const m_decision_names[M_DECISIONS] = {
	"allow", "block", "warn", "monitor", "none"
};

/* The response's status class; "none" when no status was sent. */
#define M_CLASSES	6
static const char *const m_class_names[M_CLASSES] = {
	"1xx", "2xx", "3xx", "4xx", "5xx", "none"
};

/*
 * Request duration buckets, seconds: Prometheus' default buckets
 * (client_golang DefBuckets), in microseconds for integer compares.  A
 * last, uncounted-by-le slot holds what is above 10 s (+Inf).
 */
#define M_BUCKETS	11
static const uint64_t m_bucket_us[M_BUCKETS] = {
	5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 5000000, 10000000
};
static const char *const m_bucket_le[M_BUCKETS] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
	"2.5", "5", "10"
};

/* Sign-in mechanisms: as auth_answer.mech says, and SAML. */
enum { M_NTLM, M_NEGOTIATE, M_SAML, M_OTHER_MECH, M_MECHS };
static const char *const m_mech_names[M_MECHS] = {
	"ntlm", "negotiate", "saml", "other"
};
static const char *const m_result_names[] = {
	[METRICS_SIGNIN_SUCCESS] = "success",
	[METRICS_SIGNIN_CHALLENGE] = "challenge",
	[METRICS_SIGNIN_REFUSED] = "refused",
};
#define M_RESULTS	3

/*
 * Refusal classes.  The auth code refuses with a static reason text
 * (auth_answer.reason: ntlm_verdict_str(), the backends' reasons, the
 * Negotiate code's); a class groups the texts an administrator acts on
 * alike.  ntlmv1 is the one the issue asks for by name: a client still
 * sending NTLMv1 or LM responses (ntlm_crypto.c refuses them, and the
 * winbind backend never passes them to a DC, "not an NTLMv2 response").
 * The first matching row wins; the texts are matched case-sensitively,
 * as written in auth/.
 */
static const struct {
	const char	*needle;	/* in the reason text */
	const char	*class;
} m_reason_rules[] = {
	{ "NTLMv1",		"ntlmv1" },
	{ "LM-only",		"ntlmv1" },
	{ "not an NTLMv2",	"ntlmv1" },
	{ "anonymous",		"anonymous" },
	{ "wrong password",	"bad_password" },
	{ "unknown user",	"unknown_user" },
	{ "no NT hash",		"unknown_user" },
	{ "MIC",		"integrity" },
	{ "target info",	"integrity" },
	{ "challenge",		"challenge" },	/* expired, missing: replays */
	{ "timestamp",		"challenge" },
	{ "locked",		"account" },
	{ "disabled",		"account" },
	{ "expired",		"account" },
	{ "Kerberos",		"kerberos" },
	{ "kerberos",		"kerberos" },
	{ "malformed",		"malformed" },
	{ "not valid",		"malformed" },
	{ "not an NTLMSSP",	"malformed" },
	{ "unexpected",		"malformed" },
	{ "too long",		"malformed" },
};
static const char *const m_reason_names[] = {
	"ntlmv1", "anonymous", "bad_password", "unknown_user", "challenge",
	"integrity", "account", "kerberos", "malformed", "unavailable",
	"other"
};
#define M_REASONS	(sizeof(m_reason_names) / sizeof(m_reason_names[0]))

/* One thread's counters; see the top of the file. */
struct metrics_block {
	struct metrics_block	*next;
	uint64_t	 requests[M_KINDS][M_DECISIONS];
	uint64_t	 status[M_KINDS][M_CLASSES];
	uint64_t	 bytes_in[M_KINDS];	/* from the client */
	uint64_t	 bytes_out[M_KINDS];	/* to the client */
	uint64_t	 tunnel_up, tunnel_down;	/* tunnels' payload */
	uint64_t	 dur[M_KINDS][M_BUCKETS + 1];	/* not cumulative */
	uint64_t	 dur_sum_us[M_KINDS];
	uint64_t	 signins[M_MECHS][M_RESULTS];
	uint64_t	 refusals[M_MECHS][M_REASONS];
	uint64_t	 syslog_dropped;
};

static pthread_mutex_t		 m_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_block	*m_blocks;	/* under m_lock */
static __thread struct metrics_block *m_mine;

/* This thread's block, made on first use; NULL when out of memory. */
static struct metrics_block *
metrics_block(void)
{
	struct metrics_block *b;

	if ((b = m_mine) != NULL)
		return b;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	pthread_mutex_lock(&m_lock);
	b->next = m_blocks;
	m_blocks = b;
	pthread_mutex_unlock(&m_lock);
	m_mine = b;
	return b;
}

/* One writer per block: the add is atomic only so readers see it whole. */
static inline void
m_add(uint64_t *p, uint64_t n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static int
metrics_decision(const struct access_entry *e)
{
	const char *d = e->decision;

	if (d == NULL)
		return M_NONE;
	if (strcmp(d, "allow") == 0)
		/* Let through, but a monitor rule said what it would do. */
		return e->monitor != NULL ? M_MONITOR : M_ALLOW;
	if (strcmp(d, "block") == 0)
		return M_BLOCK;
	/* "warn", "warn-continued", "warn-tunnel" */
	if (strncmp(d, "warn", 4) == 0)
		return M_WARN;
	if (strcmp(d, "monitor") == 0)
		return M_MONITOR;
	/* "pending": the request ended before the decision after DNS. */
	return M_NONE;
}

void
metrics_request(const struct access_entry *e, const struct timeval *d)
{
	struct metrics_block	*b;
	uint64_t		 us;
	int			 k, i;

	if ((b = metrics_block()) == NULL)
		return;
	k = e->tunnel ? M_TUNNEL : M_HTTP;
	m_add(&b->requests[k][metrics_decision(e)], 1);
	i = e->status >= 100 && e->status <= 599 ? e->status / 100 - 1 :
	    M_CLASSES - 1;
	m_add(&b->status[k][i], 1);
	/*
	 * Client side, as the access log says it: a tunnel that ends by
	 * itself has its payload in bytes_in/out (Squid's %<st does too),
	 * one closed from outside (signout, shutdown) not.  The payload
	 * alone is counted apart, the same either way.
	 */
	m_add(&b->bytes_in[k], e->bytes_in);
	m_add(&b->bytes_out[k], e->bytes_out);
	if (e->tunnel) {
		m_add(&b->tunnel_up, e->tunnel_up);
		m_add(&b->tunnel_down, e->tunnel_down);
	}
	us = d->tv_sec < 0 ? 0 : (uint64_t)d->tv_sec * 1000000 +
	    (uint64_t)d->tv_usec;
	for (i = 0; i < M_BUCKETS && us > m_bucket_us[i]; i++)
		;
	m_add(&b->dur[k][i], 1);
	m_add(&b->dur_sum_us[k], us);
}

const char *
metrics_refusal_class(const char *reason, int unavailable)
{
	size_t i;

	/* An outage first: no verdict was made on the user. */
	if (unavailable)
		return "unavailable";
	if (reason == NULL)
		return "other";
	for (i = 0; i < sizeof(m_reason_rules) / sizeof(m_reason_rules[0]);
	    i++)
		if (strstr(reason, m_reason_rules[i].needle) != NULL)
			return m_reason_rules[i].class;
	return "other";
}

void
metrics_signin(const char *mech, enum metrics_signin_result res,
    const char *reason, int unavailable)
{
	struct metrics_block	*b;
	const char		*class;
	size_t			 m, i;

	if ((b = metrics_block()) == NULL || (unsigned)res >= M_RESULTS)
		return;
	for (m = 0; m < M_OTHER_MECH; m++)
		if (mech != NULL && strcasecmp(mech, m_mech_names[m]) == 0)
			break;
	m_add(&b->signins[m][res], 1);
	if (res != METRICS_SIGNIN_REFUSED)
		return;
	class = metrics_refusal_class(reason, unavailable);
	for (i = 0; i < M_REASONS - 1; i++)
		if (strcmp(class, m_reason_names[i]) == 0)
			break;
	m_add(&b->refusals[m][i], 1);
}

void
metrics_signin_answer(enum auth_outcome out, const struct auth_answer *a)
{
	const char			*mech;
	enum metrics_signin_result	 res;

	switch (out) {
	case AUTH_SUCCESS:
		res = METRICS_SIGNIN_SUCCESS;
		break;
	case AUTH_CHALLENGE:
		res = METRICS_SIGNIN_CHALLENGE;
		break;
	case AUTH_REFUSED:
		res = METRICS_SIGNIN_REFUSED;
		break;
	default:
		return;		/* pending: its outcome comes later */
	}
	if (out == AUTH_SUCCESS && a->mech != NULL)
		mech = a->mech;
	else if (strncasecmp(a->header, "NTLM", 4) == 0)
		mech = "ntlm";
	else if (strncasecmp(a->header, "Negotiate", 9) == 0)
		mech = "negotiate";
	else
		mech = NULL;
	metrics_signin(mech, res, a->reason, a->unavailable);
}

void
metrics_syslog_dropped(void)
{
	struct metrics_block *b;

	if ((b = metrics_block()) != NULL)
		m_add(&b->syslog_dropped, 1);
}

/* The sum of every block: a snapshot (field by field). */
static void
metrics_sum(struct metrics_block *s)
{
	const struct metrics_block	*b;
	const uint64_t			*src;
	uint64_t			*dst;
	size_t				 i, n;

	memset(s, 0, sizeof(*s));
	/* The counters are a run of uint64_t after the link. */
	n = (sizeof(*s) - offsetof(struct metrics_block, requests)) /
	    sizeof(uint64_t);
	dst = (uint64_t *)(void *)((char *)s + offsetof(struct metrics_block,
	    requests));
	pthread_mutex_lock(&m_lock);
	for (b = m_blocks; b != NULL; b = b->next) {
		src = (const uint64_t *)(const void *)((const char *)b +
		    offsetof(struct metrics_block, requests));
		for (i = 0; i < n; i++)
			dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&m_lock);
}

/*
 * A label value as the format wants it (text format 0.0.4: backslash,
 * double quote and line feed escaped).  Ours are all fixed words, but a
 * version string or a future label may not be.
 */
static void
m_label(struct evbuffer *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*v == '"')
			evbuffer_add(out, "\\\"", 2);
		else if (*v == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, v, 1);
	}
}

/* The HELP and TYPE lines of one metric family. */
static void
m_family(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* A sample with up to two labels (NULL names are left out). */
static void
m_sample(struct evbuffer *out, const char *name, const char *l1,
    const char *v1, const char *l2, const char *v2, uint64_t value)
{
	evbuffer_add_printf(out, "%s", name);
	if (l1 != NULL) {
		evbuffer_add_printf(out, "{%s=\"", l1);
		m_label(out, v1);
		if (l2 != NULL) {
			evbuffer_add_printf(out, "\",%s=\"", l2);
			m_label(out, v2);
		}
		evbuffer_add(out, "\"}", 2);
	}
	evbuffer_add_printf(out, " %" PRIu64 "\n", value);
}

/* The number after "NAME " in auth_groups_stats()'s lines; 0 if none. */
static uint64_t
m_stat(const char *text, const char *name)
{
	size_t		 n = strlen(name);
	const char	*p;

	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'),
	    p = p != NULL ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
	return 0;
}

/* The groups cache: its own counters, renamed and typed. */
static void
metrics_groups(struct evbuffer *out)
{
	static const struct {
		const char	*stat, *name, *type, *help;
	} rows[] = {
		{ "groups_lookups", "iaproxy_groups_lookups_total", "counter",
		    "Group lookups of signed-in users." },
		{ "groups_hits", "iaproxy_groups_cache_hits_total", "counter",
		    "Group lookups answered fresh from the cache." },
		{ "groups_misses", "iaproxy_groups_cache_misses_total",
		    "counter", "Group lookups that waited for the directory." },
		{ "groups_stale", "iaproxy_groups_cache_stale_total", "counter",
		    "Group lookups answered from a stale entry while the "
		    "directory was unreachable." },
		{ "groups_failures", "iaproxy_groups_unknown_total", "counter",
		    "Group lookups answered with no groups known at all." },
		{ "groups_errors", "iaproxy_groups_directory_errors_total",
		    "counter", "Directory searches for groups that failed." },
		{ "groups_searches", "iaproxy_groups_directory_searches_total",
		    "counter", "Directory searches for groups finished." },
		{ "groups_evictions", "iaproxy_groups_cache_evictions_total",
		    "counter", "Cache entries dropped to make room." },
		{ "groups_entries", "iaproxy_groups_cache_entries", "gauge",
		    "Users in the groups cache." },
		{ "groups_directory_up", "iaproxy_groups_directory_up", "gauge",
		    "1 when the directory answered the last group search." },
	};
	char	 buf[4096];
	size_t	 i, n;

	n = auth_groups_stats(buf, sizeof(buf) - 1);
	buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = '\0';
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		m_family(out, rows[i].name, rows[i].type, rows[i].help);
		m_sample(out, rows[i].name, NULL, NULL, NULL, NULL,
		    m_stat(buf, rows[i].stat));
	}
}

void
metrics_text(struct evbuffer *out)
{
	struct metrics_block	 s;
	struct server_info	 si;
	char			*text, le[16];
	size_t			 n, conns = 0;
	uint64_t		 cum;
	int			 k, i, j, w;

	metrics_sum(&s);
	server_info(&si);

	m_family(out, "iaproxy_info", "gauge",
	    "The running iaproxy; always 1.");
	m_sample(out, "iaproxy_info", "version", PACKAGE_VERSION, NULL, NULL,
	    1);
	m_family(out, "iaproxy_start_time_seconds", "gauge",
	    "When the process started, seconds since the epoch.");
	m_sample(out, "iaproxy_start_time_seconds", NULL, NULL, NULL, NULL,
	    (uint64_t)si.started);
	m_family(out, "iaproxy_config_loaded_time_seconds", "gauge",
	    "When the running config was loaded, seconds since the epoch.");
	m_sample(out, "iaproxy_config_loaded_time_seconds", NULL, NULL, NULL,
	    NULL, (uint64_t)si.loaded);
	m_family(out, "iaproxy_workers", "gauge", "Worker threads.");
	m_sample(out, "iaproxy_workers", NULL, NULL, NULL, NULL,
	    (uint64_t)si.nworkers);

	/* Each worker counts its own connections (as "status" does). */
	for (w = 0; w < si.nworkers; w++)
		if (worker_query(&si.workers[w], WQ_COUNT, NULL, 2000, &text,
		    &n) == 0) {
			free(text);
			conns += n;
		}
	m_family(out, "iaproxy_connections_open", "gauge",
	    "Client connections open now.");
	m_sample(out, "iaproxy_connections_open", NULL, NULL, NULL, NULL,
	    conns);

	m_family(out, "iaproxy_requests_total", "counter",
	    "Requests (http) and CONNECT tunnels (tunnel) by the policy's "
	    "decision; none: no decision was made (refused before it, or no "
	    "policy), monitor: let through while a monitor rule matched.");
	for (k = 0; k < M_KINDS; k++)
		for (i = 0; i < M_DECISIONS; i++)
			m_sample(out, "iaproxy_requests_total", "kind",
			    m_kind_names[k], "decision", m_decision_names[i],
			    s.requests[k][i]);
	m_family(out, "iaproxy_responses_total", "counter",
	    "Requests and tunnels by the class of the status answered.");
	for (k = 0; k < M_KINDS; k++)
		for (i = 0; i < M_CLASSES; i++)
			m_sample(out, "iaproxy_responses_total", "kind",
			    m_kind_names[k], "code", m_class_names[i],
			    s.status[k][i]);
	m_family(out, "iaproxy_client_received_bytes_total", "counter",
	    "Bytes received from clients, as the access log counts them.");
	for (k = 0; k < M_KINDS; k++)
		m_sample(out, "iaproxy_client_received_bytes_total", "kind",
		    m_kind_names[k], NULL, NULL, s.bytes_in[k]);
	m_family(out, "iaproxy_client_sent_bytes_total", "counter",
	    "Bytes sent to clients, as the access log counts them.");
	for (k = 0; k < M_KINDS; k++)
		m_sample(out, "iaproxy_client_sent_bytes_total", "kind",
		    m_kind_names[k], NULL, NULL, s.bytes_out[k]);
	m_family(out, "iaproxy_tunnel_bytes_total", "counter",
	    "CONNECT tunnels' payload: up from the client to the origin, "
	    "down from the origin to the client.");
	m_sample(out, "iaproxy_tunnel_bytes_total", "direction", "up", NULL,
	    NULL, s.tunnel_up);
	m_sample(out, "iaproxy_tunnel_bytes_total", "direction", "down", NULL,
	    NULL, s.tunnel_down);

	m_family(out, "iaproxy_request_duration_seconds", "histogram",
	    "Time from a request's first byte to its access-log line; for a "
	    "tunnel, its whole life.");
	for (k = 0; k < M_KINDS; k++) {
		cum = 0;
		for (i = 0; i <= M_BUCKETS; i++) {
			cum += s.dur[k][i];
			snprintf(le, sizeof(le), "%s", i < M_BUCKETS ?
			    m_bucket_le[i] : "+Inf");
			m_sample(out, "iaproxy_request_duration_seconds_bucket",
			    "kind", m_kind_names[k], "le", le, cum);
		}
		evbuffer_add_printf(out, "iaproxy_request_duration_seconds_sum"
		    "{kind=\"%s\"} %" PRIu64 ".%06" PRIu64 "\n",
		    m_kind_names[k], s.dur_sum_us[k] / 1000000,
		    s.dur_sum_us[k] % 1000000);
		m_sample(out, "iaproxy_request_duration_seconds_count", "kind",
		    m_kind_names[k], NULL, NULL, cum);
	}

	m_family(out, "iaproxy_signins_total", "counter",
	    "Sign-in handshake steps by mechanism and result (challenge: a "
	    "407 step of a handshake; success: an identity proven).");
	for (i = 0; i < M_MECHS; i++)
		for (j = 0; j < M_RESULTS; j++)
			m_sample(out, "iaproxy_signins_total", "mechanism",
			    m_mech_names[i], "result", m_result_names[j],
			    s.signins[i][j]);
	m_family(out, "iaproxy_signin_refusals_total", "counter",
	    "Refused sign-ins by mechanism and reason class (ntlmv1: NTLMv1 "
	    "or LM responses, refused by design).");
	for (i = 0; i < M_MECHS; i++)
		for (j = 0; j < (int)M_REASONS; j++)
			m_sample(out, "iaproxy_signin_refusals_total",
			    "mechanism", m_mech_names[i], "reason",
			    m_reason_names[j], s.refusals[i][j]);

	metrics_groups(out);

	m_family(out, "iaproxy_helper_queue_depth", "gauge",
	    "Sign-ins waiting for a helper: winbind (ntlm_auth processes, "
	    "all workers) and gssapi (the Kerberos accept threads).");
	m_sample(out, "iaproxy_helper_queue_depth", "helper", "winbind", NULL,
	    NULL, auth_winbind_queued());
	m_sample(out, "iaproxy_helper_queue_depth", "helper", "gssapi", NULL,
	    NULL, auth_gss_queued());

	m_family(out, "iaproxy_risk_fired_total", "counter",
	    "Risk rules that reached their count and acted (risk.c).");
	m_sample(out, "iaproxy_risk_fired_total", NULL, NULL, NULL, NULL,
	    risk_fired_total());
	m_family(out, "iaproxy_risk_users", "gauge",
	    "Users whose policy events the risk rules track now.");
	m_sample(out, "iaproxy_risk_users", NULL, NULL, NULL, NULL,
	    risk_users());

	m_family(out, "iaproxy_syslog_dropped_total", "counter",
	    "Access-log lines syslog did not take (socket full or absent).");
	m_sample(out, "iaproxy_syslog_dropped_total", NULL, NULL, NULL, NULL,
	    s.syslog_dropped);
}
