/*
 * url_regex: PCRE2 patterns matched against the URL the proxy sees -- the
 * absolute URI of a plain HTTP request (RFC 9112 3.2.2), and for CONNECT
 * only "host:port" (RFC 9110 9.3.6: nothing else of an HTTPS URL crosses
 * the proxy).
 *
 * Patterns are compiled once, when the policy is built, and JIT-compiled
 * where PCRE2 supports it.  They are case-sensitive as in Squid's
 * url_regex; "(?i)" at the front makes one case-insensitive.  UTF mode is
 * refused (PCRE2_NEVER_UTF): URLs are bytes, and a non-UTF-8 URL would
 * make a UTF pattern fail at match time instead of simply not matching.
 *
 * The URL comes from the client, so a pattern prone to catastrophic
 * backtracking must not let one request burn a core: every match runs
 * under a match limit (PCRE2's default is 10 million steps; ours is 1
 * million, a few milliseconds at worst), and hitting it counts as "could
 * not tell" (the rule is skipped and the decision flagged), never as a
 * match or a crash.
 *
 * Threads: a compiled pattern and the match context are read-only and
 * shared; the match data (ovector and backtracking frames) is per thread,
 * kept in thread-specific storage and freed when the thread exits.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "policy_int.h"

#define URLRE_MATCH_LIMIT	1000000

struct urlre {
	pcre2_code	*code;
};

static pthread_once_t		 urlre_once = PTHREAD_ONCE_INIT;
static pthread_key_t		 urlre_key;
static int			 urlre_key_ok;
static pcre2_match_context	*urlre_mctx;

static void
urlre_md_free(void *md)
{
	pcre2_match_data_free(md);
}

static void
urlre_init(void)
{
	if (pthread_key_create(&urlre_key, urlre_md_free) == 0)
		urlre_key_ok = 1;
	if ((urlre_mctx = pcre2_match_context_create(NULL)) != NULL)
		pcre2_set_match_limit(urlre_mctx, URLRE_MATCH_LIMIT);
}

/*
 * Compile pattern.  Returns the compiled pattern (free with urlre_free),
 * or NULL with PCRE2's message and the offset of the error in err.
 */
struct urlre *
urlre_compile(const char *pattern, char *err, size_t errlen)
{
	struct urlre	*re;
	PCRE2_UCHAR	 msg[160];
	PCRE2_SIZE	 off;
	int		 code;

	pthread_once(&urlre_once, urlre_init);
	if (!urlre_key_ok || urlre_mctx == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	if ((re = calloc(1, sizeof(*re))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	    PCRE2_NEVER_UTF, &code, &off, NULL);
	if (re->code == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "%s at offset %zu", (char *)msg,
		    (size_t)off);
		free(re);
		return (NULL);
	}
	/* No JIT here (build, CPU): the interpreter answers the same. */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	return (re);
}

void
urlre_free(struct urlre *re)
{
	if (re == NULL)
		return;
	pcre2_code_free(re->code);
	free(re);
}

/*
 * Match subj (len bytes) against re: 1 on a match, 0 on none, -1 when
 * PCRE2 could not tell (match limit, out of memory).  Any thread.
 */
int
urlre_match(const struct urlre *re, const char *subj, size_t len)
{
	pcre2_match_data	*md;
	int			 rc;

	if ((md = pthread_getspecific(urlre_key)) == NULL) {
		/* One pair: we only ask whether it matched. */
		if ((md = pcre2_match_data_create(1, NULL)) == NULL)
			return (-1);
		if (pthread_setspecific(urlre_key, md) != 0) {
			pcre2_match_data_free(md);
			return (-1);
		}
	}
	rc = pcre2_match(re->code, (PCRE2_SPTR)subj, len, 0, 0, md,
	    urlre_mctx);
	if (rc >= 0)
		return (1);
	if (rc == PCRE2_ERROR_NOMATCH)
		return (0);
	return (-1);
}
