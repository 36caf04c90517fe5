/*
 * policy_explain() as text: what `iaproxy explain` prints.
 *
 *   request: GET http://www.bank.example/ user 'alice' groups {Finance}
 *            client 10.1.2.3 network 'office' at Mon 2026-03-30 08:00 UTC
 *   #1 'updates' (iaproxy.conf:40): no match
 *       - dst_domain      'www.bank.example' is not in {.windowsupdate.com}
 *   #2 'finance' (iaproxy.conf:44): MATCH -> allow
 *       + group           'alice' is in group 'Finance'
 *       + dst_domain      'www.bank.example' matches 'bank.example' of ...
 *   #3 'default' (iaproxy.conf:48): not reached (would match)
 *       ...
 *   decision: allow by #2 'finance' (iaproxy.conf:44): dst_domain ...
 *
 * A condition line starts with '+' (holds), '-' (does not), '?' (could
 * not tell) or '~' (waits for DNS).  Rules are numbered from 1 in file
 * order.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy_int.h"

struct ex_buf {
	char				*buf;
	size_t				 len, used;
};

static void	 ex_printf(struct ex_buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
ex_printf(struct ex_buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (b->len == 0 || b->used + 1 >= b->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->used += (size_t)n;
	if (b->used >= b->len)
		b->used = b->len - 1;
}

static const char *
ex_verdict(const struct policy_trace *t, const struct policy *p,
    unsigned mode, char *buf, size_t len)
{
	const struct pol_rule	*r = &p->rules[t->rule];

	switch (t->result) {
	case POLICY_R_MATCH:
		if (t->after)
			return ("not reached (would match)");
		if (r->action == POLICY_MONITOR &&
		    (mode & POLICY_RQ_MONITOR_GOES_ON))
			snprintf(buf, len, "MATCH -> monitor (would %s; logged, "
			    "the rules go on)",
			    policy_action_name(r->monitor_action));
		else if (r->action == POLICY_MONITOR)
			snprintf(buf, len, "MATCH -> monitor (would %s)",
			    policy_action_name(r->monitor_action));
		else
			snprintf(buf, len, "MATCH -> %s",
			    policy_action_name(r->action));
		return (buf);
	case POLICY_R_NOMATCH:
		return (t->after ? "not reached (would not match)" :
		    "no match");
	case POLICY_R_UNKNOWN:
		return (t->after ? "not reached (could not tell)" :
		    "skipped: could not tell (see '?')");
	case POLICY_R_PENDING:
		return (t->after ? "not reached (needs the origin's address)" :
		    "waits for DNS: the rest matches, dst_ip decides");
	}
	return ("?");
}

struct ex_ctx {
	struct ex_buf		 b;
	const struct policy	*p;
	unsigned		 mode;	/* the request's POLICY_RQ_* */
};

static void
ex_trace(void *arg, const struct policy_trace *t)
{
	struct ex_ctx			*x = arg;
	const struct policy_decision	*d;
	char				 vb[128], why[512];
	static const char		 marks[] = "+-?~";

	switch (t->kind) {
	case POLICY_T_RULE:
		ex_printf(&x->b, "#%d '%s' (%s:%d): %s\n", t->rule + 1,
		    t->name, t->file, t->line, ex_verdict(t, x->p, x->mode,
		    vb, sizeof(vb)));
		break;
	case POLICY_T_COND:
		ex_printf(&x->b, "    %c %s%-*s %s\n", marks[t->result],
		    t->negated ? "not_" : "", t->negated ? 12 : 16,
		    policy_cond_name(t->cond), t->detail);
		break;
	case POLICY_T_DECISION:
		d = t->decision;
		policy_reason(d, why, sizeof(why));
		if (d->flags & POLICY_DF_PENDING) {
			ex_printf(&x->b, "decision: waits for DNS: #%d '%s' "
			    "(%s:%d) tests dst_ip; decide again with the "
			    "origin's address (--dst-ip)\n", d->rule + 1,
			    d->rule_name, d->file, d->line);
			break;
		}
		if (d->action == POLICY_MONITOR)
			snprintf(vb, sizeof(vb), "monitor (allowed; would %s)",
			    policy_action_name(d->monitored));
		else if (d->action == POLICY_WARN)
			snprintf(vb, sizeof(vb), "warn (an acknowledgement "
			    "lasts %ld s)", d->warn_ttl);
		else
			snprintf(vb, sizeof(vb), "%s",
			    policy_action_name(d->action));
		if (d->rule < 0)
			ex_printf(&x->b, "decision: %s: no rule matched, the "
			    "default action\n", vb);
		else
			ex_printf(&x->b, "decision: %s by #%d '%s' (%s:%d): "
			    "%s\n", vb, d->rule + 1, d->rule_name, d->file,
			    d->line, why);
		if (d->monitor_rule >= 0)
			ex_printf(&x->b, "monitor: #%d '%s' would have %s "
			    "(logged)\n", d->monitor_rule + 1, d->monitor_name,
			    d->monitored == POLICY_BLOCK ? "blocked" :
			    d->monitored == POLICY_WARN ? "warned" : "allowed");
		if ((d->flags & POLICY_DF_GROUPS_UNKNOWN) &&
		    (x->mode & POLICY_RQ_GROUPS_FAIL_CLOSED))
			ex_printf(&x->b, "note: the user's groups are unknown: "
			    "group conditions held in rules that block or "
			    "warn and failed in the others (fail closed)\n");
		else if (d->flags & POLICY_DF_GROUPS_UNKNOWN)
			ex_printf(&x->b, "note: rules testing groups were "
			    "skipped: the user's groups are unknown\n");
		if (d->flags & POLICY_DF_UNKNOWN)
			ex_printf(&x->b, "note: rules were skipped for lack of "
			    "an input (see '?')\n");
		break;
	}
}

static void
ex_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	snprintf(buf, len, "?");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr, buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, buf, (socklen_t)len);
}

/* The request, as the first line(s) of the explanation. */
static void
ex_request(struct ex_buf *b, const struct policy_request *req)
{
	char		 a[INET6_ADDRSTRLEN], tb[64];
	struct tm	 tm;
	time_t		 now = req->now;
	size_t		 i;

	if (req->scheme == POLICY_SCHEME_CONNECT)
		ex_printf(b, "request: CONNECT %s:%d", req->host != NULL ?
		    req->host : "?", req->port);
	else
		ex_printf(b, "request: %s %s", req->method != NULL ?
		    req->method : "?", req->url != NULL ? req->url :
		    req->host != NULL ? req->host : "?");
	if (req->user == NULL)
		ex_printf(b, " (not signed in)");
	else {
		ex_printf(b, " user '%s'", req->user);
		if (req->groups_unknown)
			ex_printf(b, " groups unknown");
		else if (req->group_member != NULL)
			ex_printf(b, " groups from the directory");
		else {
			ex_printf(b, " groups {");
			for (i = 0; i < req->ngroups; i++)
				ex_printf(b, "%s%s", i ? ", " : "",
				    req->groups[i]);
			ex_printf(b, "}");
		}
	}
	ex_printf(b, "\n         ");
	if (req->src != NULL) {
		ex_addr(req->src, a, sizeof(a));
		ex_printf(b, "client %s ", a);
	}
	if (req->network != NULL)
		ex_printf(b, "network '%s' ", req->network);
	if (req->dst_ip != NULL) {
		ex_addr(req->dst_ip, a, sizeof(a));
		ex_printf(b, "origin %s ", a);
	}
	if (gmtime_r(&now, &tm) != NULL &&
	    strftime(tb, sizeof(tb), "%a %Y-%m-%d %H:%M:%S UTC", &tm) > 0)
		ex_printf(b, "at %s", tb);
	ex_printf(b, "\n");
}

/* See policy.h. */
int
policy_explain_text(const struct policy *p, const struct policy_request *req,
    struct policy_decision *d, char *buf, size_t len)
{
	struct ex_ctx	x;

	x.b.buf = buf;
	x.b.len = len;
	x.b.used = 0;
	x.p = p;
	x.mode = req->mode;
	if (len > 0)
		buf[0] = '\0';
	ex_request(&x.b, req);
	return (policy_explain(p, req, d, ex_trace, &x));
}
