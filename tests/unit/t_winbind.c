/*
 * The winbind NTLM backend (auth/ntlm_winbind.c) against a real Samba
 * ntlm_auth in ntlm-server-1 mode, without a domain controller:
 * `ntlm_auth --password=PW` checks responses against that one password
 * itself, for any user.  Stand-in helpers (shell scripts) play the ones
 * that hang, die or break the protocol.  Each check runs the worker's
 * event loop until the callbacks came.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "conf.h"
#include "backend.h"
#include "ntlm.h"
#include "unit.h"

#define NTLM_AUTH	"/usr/bin/ntlm_auth"
#define PASSWORD	"SecREt01"

struct answer {
	int				 done;
	struct ntlm_backend_result	 res;
	char				 reason[128];
	struct timeval			 at;
};

static struct event_base	*base;
static char			 errbuf[4096];
static char			 tmpdir[] = "/tmp/t_winbind.XXXXXX";

static void
answered(void *arg, const struct ntlm_backend_result *res)
{
	struct answer	*a = arg;

	a->done++;
	a->res = *res;
	snprintf(a->reason, sizeof(a->reason), "%s",
	    res->reason != NULL ? res->reason : "");
	gettimeofday(&a->at, NULL);
}

/* A worker's auth state with a pool from this ntlm section. */
static struct auth_worker *
worker(const char *ntlm)
{
	struct auth_worker	*aw;
	char			 text[2048];

	snprintf(text, sizeof(text), "hostname = \"gw\"\nntlm {\n domain = "
	    "\"AD\"\n backend = winbind\n %s\n}\n", ntlm);
	aw = calloc(1, sizeof(*aw));
	aw->base = base;
	aw->conf = conf_load("w.conf", text, errbuf, sizeof(errbuf));
	if (aw->conf == NULL) {
		fprintf(stderr, "config: %s\n", errbuf);
		exit(1);
	}
	return aw;
}

static void
worker_free(struct auth_worker *aw)
{
	ntlm_winbind_free(aw->winbind);
	conf_unref((struct config *)aw->conf);
	free(aw);
}

/* An NTLMv2 response (MS-NLMP 3.3.2) of user/domain/password. */
struct v2 {
	uint8_t		 challenge[8];
	uint8_t		 nt[16 + 28 + 4];
	uint8_t		 lm[24];
};

static void
make_v2(struct v2 *v, const char *user, const char *domain,
    const char *password)
{
	uint8_t		 nthash[16], owf[16], *blob = v->nt + 16;
	uint64_t	 ft = ntlm_filetime(time(NULL));
	int		 i;

	RAND_bytes(v->challenge, sizeof(v->challenge));
	memset(v->nt, 0, sizeof(v->nt));
	blob[0] = blob[1] = 1;
	for (i = 0; i < 8; i++)
		blob[8 + i] = (uint8_t)(ft >> (8 * i));
	RAND_bytes(blob + 16, 8);
	/* then 4 zero bytes, an empty AV list (MsvAvEOL) and 4 zeros */
	ntlm_nt_hash(password, nthash);
	ntlm_ntowfv2(nthash, user, domain, owf);
	ntlm_hmac_md5(owf, 16, v->challenge, 8, blob, sizeof(v->nt) - 16,
	    v->nt);
	memset(v->lm, 0, sizeof(v->lm));
}

static void
query(struct ntlm_backend_query *q, const struct v2 *v, const char *user,
    const char *domain)
{
	memset(q, 0, sizeof(*q));
	q->user = user;
	q->domain = domain;
	q->workstation = "WS";
	memcpy(q->challenge, v->challenge, 8);
	q->nt = v->nt;
	q->nt_len = sizeof(v->nt);
}

/* Run the loop until n answers came (or ms passed). */
static void
wait_for(struct answer *a, int n, int ms)
{
	struct timeval	 tv = { 0, 10000 }, start, now;
	int		 i, got;

	gettimeofday(&start, NULL);
	for (;;) {
		for (got = 0, i = 0; i < n; i++)
			got += a[i].done > 0;
		gettimeofday(&now, NULL);
		if (got == n || (now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_usec - start.tv_usec) / 1000 > ms)
			return;
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static long
ms_since(const struct timeval *t0, const struct timeval *t1)
{
	return (t1->tv_sec - t0->tv_sec) * 1000 +
	    (t1->tv_usec - t0->tv_usec) / 1000;
}

/*
 * Our children: running ones whose executable is path (zombie 0), or
 * zombies of any program (zombie 1, path NULL: killed or exited and not
 * reaped).
 */
static int
our_children(const char *path, int zombie)
{
	DIR		*d;
	struct dirent	*e;
	char		 p[300], buf[512], stat[512];
	ssize_t		 n;
	int		 count = 0, fd;
	long		 ppid;
	char		 state;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (path != NULL) {
			snprintf(p, sizeof(p), "/proc/%s/exe", e->d_name);
			if ((n = readlink(p, buf, sizeof(buf) - 1)) <= 0)
				continue;
			buf[n] = '\0';
			if (strcmp(buf, path) != 0)
				continue;
		}
		snprintf(p, sizeof(p), "/proc/%s/stat", e->d_name);
		if ((fd = open(p, O_RDONLY)) == -1)
			continue;
		n = read(fd, stat, sizeof(stat) - 1);
		close(fd);
		if (n <= 0)
			continue;
		stat[n] = '\0';
		if (sscanf(strrchr(stat, ')') + 2, "%c %ld", &state,
		    &ppid) == 2 && ppid == (long)getpid() &&
		    (state == 'Z') == zombie)
			count++;
	}
	closedir(d);
	return count;
}

static int
children_running(const char *path)
{
	return our_children(path, 0);
}

static int
zombies(void)
{
	return our_children(NULL, 1);
}

/* Write an executable script into tmpdir; returns its path (static). */
static const char *
script(const char *name, const char *body)
{
	static char	 path[4][256];
	static int	 next;
	char		*p = path[next++ % 4];
	FILE		*f;

	snprintf(p, 256, "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(p, 0700);
	return p;
}

#define HELPER_OK	"helper = \"" NTLM_AUTH " --helper-protocol=" \
			    "ntlm-server-1 --configfile=/dev/null --password=" \
			    PASSWORD "\""

static void
test_verdicts(void)
{
	struct auth_worker		*aw = worker(HELPER_OK);
	struct ntlm_backend_query	 q;
	struct ntlm_backend_req		*r;
	struct answer			 a[6];
	struct v2			 v[6];
	static const char		*odd = "j\xc3\xb6rg: x:: y";

	memset(a, 0, sizeof(a));
	make_v2(&v[0], "alice", "AD", PASSWORD);
	query(&q, &v[0], "alice", "AD");
	r = ntlm_winbind_verify(aw, &q, answered, &a[0]);
	CHECK(r != NULL && a[0].done == 0, "asynchronous");
	make_v2(&v[1], "alice", "AD", "not the password");
	query(&q, &v[1], "alice", "AD");
	ntlm_winbind_verify(aw, &q, answered, &a[1]);
	/* Names go in base64: non-ASCII and ": " do not change the ask. */
	make_v2(&v[2], odd, "AD", PASSWORD);
	query(&q, &v[2], odd, "AD");
	ntlm_winbind_verify(aw, &q, answered, &a[2]);
	/* The DC would be asked for the user the response was made for. */
	make_v2(&v[3], "bob", "AD", PASSWORD);
	query(&q, &v[3], "alice", "AD");
	ntlm_winbind_verify(aw, &q, answered, &a[3]);
	/* v1-sized responses never leave the proxy. */
	make_v2(&v[4], "alice", "AD", PASSWORD);
	query(&q, &v[4], "alice", "AD");
	q.nt_len = 24;
	r = ntlm_winbind_verify(aw, &q, answered, &a[4]);
	CHECK(r == NULL && a[4].done == 1 &&
	    a[4].res.status == NTLM_BACKEND_REFUSED, "24-byte response: %d",
	    a[4].res.status);
	query(&q, &v[4], "", "AD");
	r = ntlm_winbind_verify(aw, &q, answered, &a[5]);
	CHECK(r == NULL && a[5].res.status == NTLM_BACKEND_REFUSED,
	    "anonymous");

	wait_for(a, 4, 10000);
	CHECK(a[0].done == 1 && a[0].res.status == NTLM_BACKEND_VERIFIED,
	    "right password: %d %s", a[0].res.status, a[0].reason);
	CHECK(a[0].res.have_session_key, "session key returned");
	CHECK(a[1].done == 1 && a[1].res.status == NTLM_BACKEND_REFUSED,
	    "wrong password: %d %s", a[1].res.status, a[1].reason);
	CHECK(a[1].done == 1 && strcmp(a[1].reason, "wrong password") == 0,
	    "reason: %s", a[1].reason);
	CHECK(a[2].done == 1 && a[2].res.status == NTLM_BACKEND_VERIFIED,
	    "odd user name: %d %s", a[2].res.status, a[2].reason);
	CHECK(a[3].done == 1 && a[3].res.status == NTLM_BACKEND_REFUSED,
	    "someone else's response: %d %s", a[3].res.status, a[3].reason);
	CHECK(children_running(NTLM_AUTH) >= 1 &&
	    children_running(NTLM_AUTH) <= 4, "helpers started on demand: %d",
	    children_running(NTLM_AUTH));
	worker_free(aw);
	CHECK(children_running(NTLM_AUTH) == 0 && zombies() == 0,
	    "free stops and reaps the helpers (%d running, %d zombies)",
	    children_running(NTLM_AUTH), zombies());
}

/* Many sign-ins, two helpers: they queue and all get the right answer. */
static void
test_queue(void)
{
	struct auth_worker		*aw = worker(HELPER_OK
					    "\n helpers = 2\n helper_queue = 40");
	struct ntlm_backend_query	 q;
	struct answer			 a[30];
	struct v2			 v[30];
	int				 i, ok = 1;

	memset(a, 0, sizeof(a));
	for (i = 0; i < 30; i++) {
		make_v2(&v[i], "alice", "AD", i % 3 == 2 ? "bad" : PASSWORD);
		query(&q, &v[i], "alice", "AD");
		ntlm_winbind_verify(aw, &q, answered, &a[i]);
	}
	CHECK(children_running(NTLM_AUTH) == 2, "two helpers: %d",
	    children_running(NTLM_AUTH));
	wait_for(a, 30, 20000);
	for (i = 0; i < 30; i++)
		if (a[i].done != 1 || a[i].res.status != (i % 3 == 2 ?
		    NTLM_BACKEND_REFUSED : NTLM_BACKEND_VERIFIED)) {
			ok = 0;
			fprintf(stderr, "request %d: done %d status %d %s\n",
			    i, a[i].done, a[i].res.status, a[i].reason);
		}
	CHECK(ok, "30 queued sign-ins, each its own verdict");
	worker_free(aw);
}

/* The queue is bounded: one more is refused at once, as DOWN. */
static void
test_queue_full(void)
{
	struct auth_worker		*aw = worker(HELPER_OK
					    "\n helpers = 1\n helper_queue = 1");
	struct ntlm_backend_query	 q;
	struct ntlm_backend_req		*r;
	struct answer			 a[3];
	struct v2			 v;

	memset(a, 0, sizeof(a));
	make_v2(&v, "alice", "AD", PASSWORD);
	query(&q, &v, "alice", "AD");
	ntlm_winbind_verify(aw, &q, answered, &a[0]);
	ntlm_winbind_verify(aw, &q, answered, &a[1]);
	r = ntlm_winbind_verify(aw, &q, answered, &a[2]);
	CHECK(r == NULL && a[2].done == 1 &&
	    a[2].res.status == NTLM_BACKEND_DOWN &&
	    strcmp(a[2].reason, "too many sign-ins waiting") == 0,
	    "third refused at once: %d %s", a[2].res.status, a[2].reason);
	wait_for(a, 2, 10000);
	/* The same response twice: the DC has no replay cache for v2 here. */
	CHECK(a[0].res.status == NTLM_BACKEND_VERIFIED &&
	    a[1].res.status == NTLM_BACKEND_VERIFIED, "queued ones answered");
	worker_free(aw);
}

/* Cancelled requests: no callback, and the next answer is the right one. */
static void
test_cancel(void)
{
	struct auth_worker		*aw = worker(HELPER_OK
					    "\n helpers = 1");
	struct ntlm_backend_query	 q;
	struct ntlm_backend_req		*r0, *r1;
	struct answer			 a[3];
	struct v2			 good, bad;

	memset(a, 0, sizeof(a));
	make_v2(&good, "alice", "AD", PASSWORD);
	make_v2(&bad, "alice", "AD", "bad");
	query(&q, &good, "alice", "AD");
	r0 = ntlm_winbind_verify(aw, &q, answered, &a[0]);	/* in flight */
	r1 = ntlm_winbind_verify(aw, &q, answered, &a[1]);	/* queued */
	query(&q, &bad, "alice", "AD");
	ntlm_winbind_verify(aw, &q, answered, &a[2]);
	r0->cancel(r0);
	r1->cancel(r1);
	wait_for(&a[2], 1, 10000);
	CHECK(a[0].done == 0 && a[1].done == 0, "no callback after cancel");
	CHECK(a[2].done == 1 && a[2].res.status == NTLM_BACKEND_REFUSED,
	    "the next request gets its own answer (not the cancelled Yes): "
	    "%d", a[2].res.status);
	worker_free(aw);
}

/* A helper that never answers is killed at helper_timeout. */
static void
test_timeout(void)
{
	char				 text[512];
	struct auth_worker		*aw;
	struct ntlm_backend_query	 q;
	struct answer			 a[2];
	struct timeval			 t0;
	struct v2			 v;

	snprintf(text, sizeof(text), "helper = \"%s\"\n helpers = 1\n "
	    "helper_timeout = 0.3", script("hang", "exec sleep 1000"));
	aw = worker(text);
	memset(a, 0, sizeof(a));
	make_v2(&v, "alice", "AD", PASSWORD);
	query(&q, &v, "alice", "AD");
	gettimeofday(&t0, NULL);
	ntlm_winbind_verify(aw, &q, answered, &a[0]);
	ntlm_winbind_verify(aw, &q, answered, &a[1]);	/* waits, then its turn */
	wait_for(a, 2, 5000);
	CHECK(a[0].done == 1 && a[0].res.status == NTLM_BACKEND_DOWN,
	    "hung helper: DOWN (%d)", a[0].res.status);
	CHECK(a[0].done && ms_since(&t0, &a[0].at) >= 250 &&
	    ms_since(&t0, &a[0].at) < 1500, "after about 0.3 s: %ld ms",
	    ms_since(&t0, &a[0].at));
	CHECK(a[1].done == 1 && a[1].res.status == NTLM_BACKEND_DOWN,
	    "the queued one too, by its own deadline: %d %s",
	    a[1].res.status, a[1].reason);
	worker_free(aw);
	CHECK(zombies() == 0, "killed helpers are reaped: %d", zombies());
}

/* Helpers that exit, or lie about the protocol, never give a Yes. */
static void
test_broken_helpers(void)
{
	char				 text[512];
	struct auth_worker		*aw;
	struct ntlm_backend_query	 q;
	struct answer			 a[3];
	struct v2			 v;

	make_v2(&v, "alice", "AD", PASSWORD);
	query(&q, &v, "alice", "AD");

	snprintf(text, sizeof(text), "helper = \"%s\"\n helpers = 1",
	    script("die", "read x; exit 3"));
	aw = worker(text);
	memset(a, 0, sizeof(a));
	ntlm_winbind_verify(aw, &q, answered, &a[0]);
	wait_for(a, 1, 5000);
	CHECK(a[0].done == 1 && a[0].res.status == NTLM_BACKEND_DOWN,
	    "helper exits: DOWN (%d %s)", a[0].res.status, a[0].reason);
	/* Restarted after its back-off: the next request finds a helper. */
	ntlm_winbind_verify(aw, &q, answered, &a[1]);
	wait_for(&a[1], 1, 5000);
	CHECK(a[1].done == 1 && a[1].res.status == NTLM_BACKEND_DOWN &&
	    strcmp(a[1].reason, "the domain controller helper exited") == 0,
	    "restarted and asked again: %s", a[1].reason);
	worker_free(aw);

	/* "Yes" with no fence: never a verdict. */
	snprintf(text, sizeof(text), "helper = \"%s\"\n helpers = 1\n "
	    "helper_timeout = 0.5", script("liar", "while read x; do "
	    "echo 'Authenticated: Yes'; echo .; done"));
	aw = worker(text);
	memset(a, 0, sizeof(a));
	ntlm_winbind_verify(aw, &q, answered, &a[0]);
	wait_for(a, 1, 5000);
	CHECK(a[0].done == 1 && a[0].res.status == NTLM_BACKEND_DOWN,
	    "Yes without the fence: DOWN (%d %s)", a[0].res.status,
	    a[0].reason);
	worker_free(aw);

	/* Two verdicts in one answer: DOWN. */
	snprintf(text, sizeof(text), "helper = \"%s\"\n helpers = 1",
	    script("twice", "while read x; do if [ \"$x\" = . ]; then "
	    "echo 'Authenticated: No'; echo 'Authenticated: Yes'; echo .; "
	    "read y; echo 'Error: No username supplied!'; echo .; fi; done"));
	aw = worker(text);
	memset(a, 0, sizeof(a));
	ntlm_winbind_verify(aw, &q, answered, &a[0]);
	wait_for(a, 1, 5000);
	CHECK(a[0].done == 1 && a[0].res.status == NTLM_BACKEND_DOWN,
	    "two verdicts: DOWN (%d %s)", a[0].res.status, a[0].reason);
	worker_free(aw);
}

/* Freeing the pool answers what it had with DOWN. */
static void
test_free_in_flight(void)
{
	struct auth_worker		*aw = worker(HELPER_OK
					    "\n helpers = 1");
	struct ntlm_backend_query	 q;
	struct answer			 a[2];
	struct v2			 v;

	memset(a, 0, sizeof(a));
	make_v2(&v, "alice", "AD", PASSWORD);
	query(&q, &v, "alice", "AD");
	ntlm_winbind_verify(aw, &q, answered, &a[0]);
	ntlm_winbind_verify(aw, &q, answered, &a[1]);
	ntlm_winbind_free(aw->winbind);
	aw->winbind = NULL;
	CHECK(a[0].done == 1 && a[0].res.status == NTLM_BACKEND_DOWN &&
	    a[1].done == 1 && a[1].res.status == NTLM_BACKEND_DOWN,
	    "in flight and queued: DOWN");
	CHECK(children_running(NTLM_AUTH) == 0 && zombies() == 0,
	    "nothing left behind");
	worker_free(aw);
}

int
main(void)
{
	char	cmd[300];

	if (access(NTLM_AUTH, X_OK) == -1) {
		printf("t_winbind: skipped (no %s)\n", NTLM_AUTH);
		printf("t_winbind: 0 passed, 0 failed\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	base = event_base_new();
	test_verdicts();
	test_queue();
	test_queue_full();
	test_cancel();
	test_timeout();
	test_broken_helpers();
	test_free_in_flight();
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return unit_done("t_winbind");
}
