/*
 * `iaproxy explain`: how the policy of a config decides one request,
 * rule by rule.  The config is loaded exactly as the daemon loads it
 * (conf_load: every check, the category lists read), the request is
 * built the way decide.c builds it from a live one, and the evaluator is
 * the data path's (policy_explain_text runs policy_decide's code with a
 * tracer, in the same POLICY_RQ_PROXY mode), so what it prints is what
 * the proxy would do.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>

#include "proxy.h"

#define EXPLAIN_MAX_GROUPS	256
#define EXPLAIN_OUT		(1 << 20)

static void
explain_usage(void)
{
	fprintf(stderr, "usage: %s explain [-c file] --url URL [--user NAME] "
	    "[--group NAME ...]\n"
	    "         [--groups-unknown] [--src ADDR] [--network NAME] "
	    "[--method M]\n"
	    "         [--time \"YYYY-MM-DD HH:MM[:SS]\" (UTC) | @EPOCH] "
	    "[--dst-ip ADDR]\n"
	    "  URL: http://host[:port]/path (plain HTTP), "
	    "https://host[:port]/... or\n"
	    "       host:port (a CONNECT tunnel: only host:port is seen)\n",
	    IAPROXY_NAME);
	exit(2);
}

/* An IPv4 or IPv6 address (no port) into ss; -1 if it is not one. */
static int
explain_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* "YYYY-MM-DD HH:MM[:SS]" in UTC, or "@EPOCH"; -1 if neither. */
static int
explain_time(const char *s, time_t *out)
{
	struct tm	 tm;
	char		*end;
	long long	 v;

	if (*s == '@') {
		v = strtoll(s + 1, &end, 10);
		if (end == s + 1 || *end != '\0')
			return -1;
		*out = (time_t)v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d %H:%M", &tm)) == NULL)
		return -1;
	if (*end == ':' && (end = strptime(end, ":%S", &tm)) == NULL)
		return -1;
	if (*end != '\0')
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* `iaproxy explain ...`; argv[0] is "explain".  The exit status. */
int
explain_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "group", required_argument, NULL, 'g' },
		{ "groups-unknown", no_argument, NULL, 'G' },
		{ "src", required_argument, NULL, 's' },
		{ "network", required_argument, NULL, 'n' },
		{ "url", required_argument, NULL, 'U' },
		{ "method", required_argument, NULL, 'm' },
		{ "time", required_argument, NULL, 'T' },
		{ "dst-ip", required_argument, NULL, 'D' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*file = NULL, *url = NULL, *method = NULL;
	const char		*network = NULL, *name, *why = NULL;
	const char		*groups[EXPLAIN_MAX_GROUPS];
	const struct conf_network *net;
	struct sockaddr_storage	 src, dst;
	struct policy_request	 pr;
	struct policy_decision	 d;
	struct h1_target	 t;
	struct config		*conf;
	char			 err[8192], *out, *target = NULL, *host = NULL;
	size_t			 ngroups = 0, i;
	int			 ch, have_src = 0, have_dst = 0, unknown = 0;
	int			 connect = 0;
	time_t			 now = time(NULL);

	memset(&pr, 0, sizeof(pr));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'u':
			pr.user = optarg;
			break;
		case 'g':
			if (ngroups == EXPLAIN_MAX_GROUPS) {
				fprintf(stderr, "%s explain: more than %d "
				    "groups\n", IAPROXY_NAME,
				    EXPLAIN_MAX_GROUPS);
				return 2;
			}
			groups[ngroups++] = optarg;
			break;
		case 'G':
			unknown = 1;
			break;
		case 's':
			if (explain_addr(optarg, &src) == -1) {
				fprintf(stderr, "%s explain: --src '%s' is not "
				    "an IP address\n", IAPROXY_NAME, optarg);
				return 2;
			}
			have_src = 1;
			break;
		case 'n':
			network = optarg;
			break;
		case 'U':
			url = optarg;
			break;
		case 'm':
			method = optarg;
			break;
		case 'T':
			if (explain_time(optarg, &now) == -1) {
				fprintf(stderr, "%s explain: --time '%s' is not "
				    "\"YYYY-MM-DD HH:MM[:SS]\" (UTC) or "
				    "@EPOCH\n", IAPROXY_NAME, optarg);
				return 2;
			}
			break;
		case 'D':
			if (explain_addr(optarg, &dst) == -1) {
				fprintf(stderr, "%s explain: --dst-ip '%s' is "
				    "not an IP address\n", IAPROXY_NAME,
				    optarg);
				return 2;
			}
			have_dst = 1;
			break;
		default:
			explain_usage();
		}
	}
	if (optind != argc || url == NULL)
		explain_usage();

	/*
	 * What the proxy sees: an http:// URL as is; https:// only as the
	 * CONNECT it arrives as (RFC 9110 9.3.6), host:port.
	 */
	if (strncasecmp(url, "https://", 8) == 0) {
		size_t n = strcspn(url + 8, "/?#");
		const char *a = url + 8, *colon;

		colon = memchr(a, ']', n) != NULL ? memchr(a, ']', n) : a;
		colon = memchr(colon, ':', n - (size_t)(colon - a));
		if (asprintf(&target, "%.*s%s", (int)n, a, colon == NULL ?
		    ":443" : "") == -1)
			return 1;
		connect = 1;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		if ((target = strdup(url)) == NULL)
			return 1;
	} else {
		if ((target = strdup(url)) == NULL)
			return 1;
		connect = 1;
	}
	if (connect)
		method = "CONNECT";
	else if (method == NULL)
		method = "GET";
	if (h1_parse_target(method, strlen(method), target, strlen(target),
	    &t, &why) == -1) {
		fprintf(stderr, "%s explain: --url '%s': %s\n", IAPROXY_NAME,
		    url, why != NULL ? why : "not a URL the proxy accepts");
		free(target);
		return 2;
	}
	if ((host = strndup(t.host, t.host_len)) == NULL)
		return 1;

	log_init(0);
	name = file != NULL ? file : "iaproxy.conf (built in)";
	conf = conf_load(name, file != NULL ? NULL : conf_default_text, err,
	    sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "%s", err);
		if (err[0] != '\0' && err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		free(target);
		free(host);
		return 1;
	}
	if (network != NULL) {
		for (i = 0; i < conf->nnetworks; i++)
			if (strcmp(conf->networks[i].name, network) == 0)
				break;
		if (i == conf->nnetworks)
			fprintf(stderr, "%s explain: warning: no network "
			    "block named '%s'\n", IAPROXY_NAME, network);
	} else if (have_src && (net = conf_network_for(conf,
	    (struct sockaddr *)&src)) != NULL)
		network = net->name;

	pr.groups = groups;
	pr.ngroups = ngroups;
	pr.groups_unknown = unknown && pr.user != NULL;
	pr.network = network;
	pr.src = have_src ? (struct sockaddr *)&src : NULL;
	pr.method = method;
	pr.scheme = connect ? POLICY_SCHEME_CONNECT : POLICY_SCHEME_HTTP;
	pr.host = host;
	pr.port = t.port;
	pr.url = connect ? NULL : target;
	pr.dst_ip = have_dst ? (struct sockaddr *)&dst : NULL;
	pr.now = now;
	pr.mode = POLICY_RQ_PROXY;

	if ((out = malloc(EXPLAIN_OUT)) == NULL)
		return 1;
	policy_explain_text(conf->policy, &pr, &d, out, EXPLAIN_OUT);
	fputs(out, stdout);
	if (policy_nrules(conf->policy) == 0)
		printf("note: %s has no rule blocks\n", name);
	free(out);
	free(target);
	free(host);
	conf_unref(conf);
	return fflush(stdout) == 0 ? 0 : 1;
}
