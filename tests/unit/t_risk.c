/*
 * Risk rules (proxy/risk.c) on real configs: the count within the
 * window, the event kinds and categories a rule takes, one firing per
 * set of events, per-user windows (case-insensitive names), the window
 * sliding out, the table's bound (least recently seen out), windows kept
 * across a reload by rule name and reset when the count changed, actions
 * fired before risk_start(), and the log line.  account_act() is a stub
 * here that records what it was asked.
 */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include "proxy.h"
#include "unit.h"

/* What account_act() was asked, in order. */
static struct call {
	int	 action;
	char	 user[64];
	int	 directory;
	char	 who[64];
	const struct config *conf;
} calls[64];
static int	ncalls;

int
account_act(const struct config *conf, enum account_action action,
    const char *user, int directory, const char *who, char *msg,
    size_t msglen)
{
	struct call *c = &calls[ncalls < 63 ? ncalls++ : 63];

	c->action = action;
	c->directory = directory;
	c->conf = conf;
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->who, sizeof(c->who), "%s", who);
	if (strcmp(user, "broken") == 0) {
		snprintf(msg, msglen, "no write right on the account");
		return (-1);
	}
	snprintf(msg, msglen, "%s", "");
	return (0);
}

static struct event_base	*base;
static char			 logpath[] = "/tmp/t_risk.log.XXXXXX";

static struct config *
load(const char *text)
{
	struct config	*c;
	char		 err[4096];

	if ((c = conf_load("r.conf", text, err, sizeof(err))) == NULL) {
		fprintf(stderr, "t_risk: config: %s\n", err);
		exit(1);
	}
	return (c);
}

/* Let the main loop take the queued actions; how many calls came. */
static int
run(void)
{
	int before = ncalls;

	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	return (ncalls - before);
}

/* n events of kinds for user on host. */
static void
hit(struct config *c, const char *user, unsigned kinds, const char *host,
    int n)
{
	while (n-- > 0)
		risk_observe(c, user, kinds, host);
}

/* Is text in the error log (stderr, redirected to logpath)? */
static int
logged(const char *text)
{
	char	buf[65536];
	ssize_t	n;
	int	fd;

	fflush(stderr);
	if ((fd = open(logpath, O_RDONLY)) == -1)
		return (0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	return (strstr(buf, text) != NULL);
}

#define CATS \
	"category \"malware\" { domains = {\"bad.test\"} }\n" \
	"category \"news\" { domains = {\"news.test\"} }\n"

static const char *conf_a = CATS
	"risk \"three\" { when = {block}  category = {malware}  count = 3\n"
	"  within = 600  action = signout }\n"
	"risk \"warns\" { when = {warn}  count = 2  within = 1\n"
	"  action = disable  directory = true }\n"
	"risk \"mon\" { when = {monitor}  count = 1  action = reset-password }\n";

static void
test_basics(void)
{
	struct config	*a;
	int		 n;

	a = load(conf_a);
	/* Before the main loop exists: queued, run on its first turn. */
	hit(a, "early", RISK_WHEN_BLOCK, "www.bad.test", 3);
	CHECK(risk_fired_total() == 1, "fired before start");
	CHECK(risk_start(base) == 0, "risk_start");
	CHECK(run() == 1 && strcmp(calls[0].user, "early") == 0,
	    "an action fired before risk_start runs on the first turn");

	/* Three blocks in a matching category: the third fires, once. */
	hit(a, "alice", RISK_WHEN_BLOCK, "x.bad.test", 2);
	CHECK(run() == 0, "two blocks: nothing");
	hit(a, "ALICE", RISK_WHEN_BLOCK, "bad.test", 1);
	n = run();
	CHECK(n == 1, "the third block fires (names case-insensitive): %d",
	    n);
	if (n == 1) {
		CHECK(calls[ncalls - 1].action == ACCOUNT_SIGNOUT &&
		    calls[ncalls - 1].directory == 0 &&
		    strcmp(calls[ncalls - 1].who, "risk rule three") == 0 &&
		    strcasecmp(calls[ncalls - 1].user, "alice") == 0 &&
		    calls[ncalls - 1].conf == a, "signout alice by rule three "
		    "under its config (%s, %s)", calls[ncalls - 1].user,
		    calls[ncalls - 1].who);
	}
	CHECK(logged("risk rule three: alice had 3 block events in 1 s: "
	    "signout (ok)"), "the log line");
	CHECK(risk_fired_total() == 2, "fired total");
	hit(a, "alice", RISK_WHEN_BLOCK, "bad.test", 2);
	CHECK(run() == 0, "counted events never count again");

	/* What the rule does not take. */
	hit(a, "bob", RISK_WHEN_BLOCK, "news.test", 3);
	hit(a, "bob", RISK_WHEN_BLOCK, NULL, 3);
	hit(a, "bob", RISK_WHEN_ALLOW, "bad.test", 3);
	hit(a, "bob", RISK_WHEN_WARN | RISK_WHEN_ALLOW, "evil.test", 1);
	CHECK(run() == 0, "other categories, no host, other kinds: nothing");
	n = (int)risk_users();
	hit(a, NULL, RISK_WHEN_BLOCK, "bad.test", 3);
	hit(a, "", RISK_WHEN_BLOCK, "bad.test", 3);
	CHECK(run() == 0 && (int)risk_users() == n, "no identity: not "
	    "counted, not tracked");
	/* Windows are per user: bob has one block of his own. */
	hit(a, "bob", RISK_WHEN_BLOCK, "bad.test", 2);
	CHECK(run() == 0, "bob: two of his own");
	hit(a, "bob", RISK_WHEN_BLOCK, "bad.test", 1);
	CHECK(run() == 1 && strcmp(calls[ncalls - 1].user, "bob") == 0,
	    "bob: the third");

	/* The window slides: an event older than within falls out. */
	hit(a, "carol", RISK_WHEN_WARN, "news.test", 1);
	usleep(1200 * 1000);
	hit(a, "carol", RISK_WHEN_WARN, "news.test", 1);
	CHECK(run() == 0, "a warning older than within is forgotten");
	hit(a, "carol", RISK_WHEN_WARN, "news.test", 1);
	n = run();
	CHECK(n == 1 && calls[ncalls - 1].action == ACCOUNT_DISABLE &&
	    calls[ncalls - 1].directory == 1, "two warnings within 1 s: "
	    "disable in the directory (%d)", n);
	CHECK(logged("risk rule warns: carol had 2 warn events in 1 s: "
	    "disable (ok)"), "warn log line");

	/* A monitored request counts for monitor (and its decision too). */
	hit(a, "dave", RISK_WHEN_BLOCK | RISK_WHEN_MONITOR, "bad.test", 1);
	n = run();
	CHECK(n == 1 && calls[ncalls - 1].action == ACCOUNT_RESET_PASSWORD &&
	    strcmp(calls[ncalls - 1].who, "risk rule mon") == 0,
	    "monitor: count 1 fires at once (%d)", n);
	hit(a, "dave", RISK_WHEN_BLOCK, "bad.test", 2);
	n = run();
	CHECK(n == 1 && strcmp(calls[ncalls - 1].who, "risk rule three") == 0,
	    "the monitored block counted for rule three too (%d)", n);

	/* An action that fails says why. */
	hit(a, "broken", RISK_WHEN_BLOCK, "bad.test", 3);
	CHECK(run() == 1, "broken: fired");
	CHECK(logged("risk rule three: broken had 3 block events in 1 s: "
	    "signout (error: no write right on the account)"), "error line");
	conf_unref(a);	/* the queue held its own references */
}

/* Reload: windows kept by name; reset when the count changed. */
static void
test_reload(void)
{
	struct config	*a, *b, *c;

	a = load(conf_a);
	b = load(CATS "risk \"three\" { when = {block}  category = {malware}\n"
	    "  count = 3  within = 600  action = disable }\n");
	c = load(CATS "risk \"three\" { when = {block}  category = {malware}\n"
	    "  count = 4  within = 600  action = signout }\n");
	hit(a, "erin", RISK_WHEN_BLOCK, "bad.test", 2);
	hit(b, "erin", RISK_WHEN_BLOCK, "bad.test", 1);
	CHECK(run() == 1 && calls[ncalls - 1].action == ACCOUNT_DISABLE &&
	    calls[ncalls - 1].conf == b, "the window survives a reload "
	    "(by name); the new action runs");
	hit(b, "frank", RISK_WHEN_BLOCK, "bad.test", 2);
	hit(c, "frank", RISK_WHEN_BLOCK, "bad.test", 3);
	CHECK(run() == 0, "a changed count starts over");
	hit(c, "frank", RISK_WHEN_BLOCK, "bad.test", 1);
	CHECK(run() == 1, "four of the new count");
	conf_unref(a);
	conf_unref(b);
	conf_unref(c);
}

/* The bound: past risk_max_users, the least recently seen goes. */
static void
test_bound(void)
{
	struct config	*d;

	d = load(CATS "risk_max_users = 2\n"
	    "risk \"three\" { when = {block}  category = {malware}\n"
	    "  count = 3  within = 600  action = signout }\n");
	hit(d, "gus", RISK_WHEN_BLOCK, "bad.test", 1);
	hit(d, "hal", RISK_WHEN_BLOCK, "bad.test", 1);
	CHECK(risk_users() == 2, "bounded at 2 (%zu)", risk_users());
	hit(d, "gus", RISK_WHEN_BLOCK, "bad.test", 1);
	hit(d, "ivy", RISK_WHEN_BLOCK, "bad.test", 1);
	CHECK(risk_users() == 2, "still 2 (%zu)", risk_users());
	CHECK(run() == 0, "nothing fired yet");
	hit(d, "gus", RISK_WHEN_BLOCK, "bad.test", 1);
	CHECK(run() == 1 && strcmp(calls[ncalls - 1].user, "gus") == 0,
	    "gus, seen recently, was kept: his third fires");
	hit(d, "hal", RISK_WHEN_BLOCK, "bad.test", 2);
	CHECK(run() == 0, "hal, the least recent, was forgotten");
	hit(d, "hal", RISK_WHEN_BLOCK, "bad.test", 1);
	CHECK(run() == 1, "hal counts again from nothing");
	conf_unref(d);
}

/* Many distinct users under a small bound, and the stop path. */
static void
test_churn(void)
{
	struct config	*d;
	char		 name[32];
	int		 i;

	d = load(CATS "risk_max_users = 50\n"
	    "risk \"any\" { when = {allow}  count = 2  within = 600 "
	    "action = signout }\n");
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		risk_observe(d, name, RISK_WHEN_ALLOW, "x.test");
	}
	CHECK(risk_users() == 50, "churn stays bounded (%zu)", risk_users());
	CHECK(run() == 0, "nobody had two");
	/* Queued and not run: risk_stop() drops them and their configs. */
	hit(d, "zed", RISK_WHEN_ALLOW, "x.test", 2);
	conf_unref(d);
	risk_stop();
	CHECK(risk_users() == 0, "stop empties the table");
	CHECK(logged("risk: 1 action not taken"), "stop says what it dropped");
}

int
main(void)
{
	int	fd, saved;

	log_init(0);
	if ((base = event_base_new()) == NULL)
		return (1);
	/* The error log is stderr: keep it in a file to read back. */
	saved = dup(2);
	if ((fd = mkstemp(logpath)) == -1 || dup2(fd, 2) == -1)
		return (1);
	close(fd);
	test_basics();
	test_reload();
	test_bound();
	test_churn();
	fflush(stderr);
	dup2(saved, 2);
	if (unit_failed) {
		fprintf(stderr, "t_risk: the error log was:\n");
		fd = open(logpath, O_RDONLY);
		if (fd != -1) {
			char	buf[4096];
			ssize_t	n;

			while ((n = read(fd, buf, sizeof(buf))) > 0)
				(void)write(2, buf, n);
			close(fd);
		}
	}
	unlink(logpath);
	event_base_free(base);
	return (unit_done("t_risk"));
}
