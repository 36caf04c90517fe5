/*
 * Account actions (issue 9): sign a user out, disable or enable an
 * account, force a password reset; the admin socket's disable, enable and
 * reset-password commands and the risk rules' actions come here.
 *
 * Two places hold an account's state:
 *  - the gateway's disabled list, a process-wide set of names that every
 *    worker reads on each signed-in request (account_disabled) under a
 *    rwlock, written by the main thread only, and kept in
 *    <state_dir>/disabled (one name per line) so that it survives a
 *    restart.  A file is replaced whole: written to a temporary name,
 *    fsync'ed and renamed, so a crash leaves the old list or the new one,
 *    never half of one.
 *  - the directory (with --directory, and always for a password reset):
 *    Active Directory's userAccountControl ACCOUNTDISABLE bit
 *    ([MS-ADTS] 2.2.16) and pwdLastSet ([MS-ADA3] 2.175: 0 forces a
 *    change at the next logon), or the OpenLDAP ppolicy overlay's
 *    pwdAccountLockedTime (draft-behera-ldap-password-policy 5.3.3:
 *    000001010000Z locks for good, until an administrator removes it)
 *    and pwdReset (5.3.7).  An entry with a userAccountControl is AD's.
 *
 * Nothing is left half-done: the directory is changed first, and the
 * gateway list only when it accepted; the new list file is written (not
 * yet renamed) before the directory is asked, so that the last step
 * cannot fail for want of a disk.  The change of a bit is a modify that
 * deletes the value read and adds the new one (RFC 4511 4.6): when
 * someone else changed the attribute meanwhile the delete fails and so
 * does the whole modify (it is atomic), instead of overwriting theirs.
 *
 * The directory is asked on the main thread, with a fresh synchronous
 * libldap session bounded by ldap.timeout: the main thread serves the
 * admin socket and already waits for the workers' answers; no worker
 * ever waits for it.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ldap.h>

#include "proxy.h"

#define ACCOUNT_FILE		"disabled"
#define ACCOUNT_NAME_MAX	255	/* bytes of a name (worker_query) */
#define ACCOUNT_LIST_MAX	100000	/* names in the list */
#define ACCOUNT_WORKER_MS	2000	/* a worker's signout answer */

/* AD's userAccountControl bit ACCOUNTDISABLE ([MS-ADTS] 2.2.16). */
#define UAC_ACCOUNTDISABLE	0x2
/* ppolicy's permanent lock (draft-behera-ldap-password-policy 5.3.3). */
#define PPOLICY_LOCKED_FOREVER	"000001010000Z"

/* What the action does; enable is not a risk rule's (conf.h). */
enum account_op {
	OP_SIGNOUT,
	OP_DISABLE,
	OP_ENABLE,
	OP_RESET,
};

static const char *const op_names[] = {
	"signout", "disable", "enable", "reset-password"
};

/*
 * The list.  names is sorted by strcasecmp and has no two equal names;
 * count mirrors n for a lock-free "nobody is disabled" on the fast path.
 * Written by the main thread only (wrlock), read by every worker.
 */
static struct {
	pthread_rwlock_t  lock;
	char		**names;
	size_t		  n;
	size_t		  count;	/* atomic copy of n */
	char		 *dir;		/* state_dir it lives in, or NULL */
	struct config	 *conf;		/* the running config (admin) */
} acc = { .lock = PTHREAD_RWLOCK_INITIALIZER };

static int
account_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Is name exactly (case-insensitively) in names? Its index, or -1. */
static ssize_t
account_find(char **names, size_t n, const char *name)
{
	char	**p;

	if (n == 0)
		return -1;	/* names may be NULL: bsearch wants a list */
	p = bsearch(&name, names, n, sizeof(*names), account_cmp);
	return p != NULL ? p - names : -1;
}

/*
 * name for a log line or an answer: printable ASCII kept (a backslash
 * too: DOMAIN\user), anything else '?'.
 */
static const char *
account_printable(const char *name, char *buf, size_t len)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++)
		buf[i] = (unsigned char)name[i] < 0x20 ||
		    (unsigned char)name[i] >= 0x7f ? '?' : name[i];
	buf[i] = '\0';
	return buf;
}

/* A name the list may hold: printable, no blank, not too long. */
static int
account_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > ACCOUNT_NAME_MAX || strcmp(name, "*") == 0)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] <= 0x20 ||
		    (unsigned char)name[i] == 0x7f)
			return 0;
	return 1;
}

int
account_disabled(const char *user)
{
	const char	*p, *bare = NULL;
	char		 buf[ACCOUNT_NAME_MAX + 1];
	size_t		 n;
	int		 hit;

	if (__atomic_load_n(&acc.count, __ATOMIC_ACQUIRE) == 0 || user == NULL)
		return 0;
	/*
	 * The same match as signout's (auth_user_match): the name as
	 * signed in, or its bare account name, which a bare entry covers in
	 * any domain (DOMAIN\name) or realm (name@REALM).  Two lookups in a
	 * sorted array instead of a walk over every entry.
	 */
	if ((p = strrchr(user, '\\')) != NULL) {
		if (strchr(p + 1, '@') == NULL)
			bare = p + 1;
	} else if ((p = strchr(user, '@')) != NULL) {
		n = (size_t)(p - user);
		if (n > 0 && n < sizeof(buf)) {
			memcpy(buf, user, n);
			buf[n] = '\0';
			bare = buf;
		}
	}
	pthread_rwlock_rdlock(&acc.lock);
	hit = account_find(acc.names, acc.n, user) != -1 ||
	    (bare != NULL && *bare != '\0' &&
	    account_find(acc.names, acc.n, bare) != -1);
	pthread_rwlock_unlock(&acc.lock);
	return hit;
}

/* Publish names (n of them) as the list; the old array is returned. */
static char **
account_swap(char **names, size_t n)
{
	char **old;

	pthread_rwlock_wrlock(&acc.lock);
	old = acc.names;
	acc.names = names;
	acc.n = n;
	__atomic_store_n(&acc.count, n, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&acc.lock);
	return old;
}

/*
 * The list file.
 */

/* path of the list file in dir (or of its temporary twin) into buf. */
static int
account_path(const char *dir, int tmp, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/%s%s", dir, ACCOUNT_FILE, tmp ? ".tmp" :
	    "");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * Read dir's list into a new sorted array (*namesp, *np): 0, or -1 with
 * why.  No file is an empty list.  A bad line is logged and skipped: a
 * hand-edited file should not lose the other names.
 */
static int
account_load(const char *dir, char ***namesp, size_t *np, char *why,
    size_t whylen)
{
	char	  path[PATH_MAX], shown[64];
	char	**names = NULL, **nn, *line = NULL, *s;
	size_t	  n = 0, cap = 0, lcap = 0, lineno = 0, len;
	ssize_t	  got;
	FILE	 *f;

	*namesp = NULL;
	*np = 0;
	if (account_path(dir, 0, path, sizeof(path)) == -1) {
		snprintf(why, whylen, "state_dir is too long");
		return -1;
	}
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "%.300s: %s", path, strerror(errno));
		return -1;
	}
	while ((got = getline(&line, &lcap, f)) != -1) {
		lineno++;
		len = (size_t)got;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r' || line[len - 1] == ' ' ||
		    line[len - 1] == '\t'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (strlen(line) != len || !account_name_ok(line)) {
			log_sanitize(shown, sizeof(shown), line, len);
			log_warnx("%s:%zu: not a user name, skipped: %s", path,
			    lineno, shown);
			continue;
		}
		if (n >= ACCOUNT_LIST_MAX) {
			log_warnx("%s:%zu: more than %d names, the rest is "
			    "skipped", path, lineno, ACCOUNT_LIST_MAX);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nn = reallocarray(names, cap, sizeof(*names))) ==
			    NULL)
				goto nomem;
			names = nn;
		}
		if ((s = strdup(line)) == NULL)
			goto nomem;
		names[n++] = s;
	}
	if (ferror(f)) {
		snprintf(why, whylen, "%.300s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	free(line);
	/* Sorted, and without duplicates (case-insensitively). */
	if (n > 0) {
		size_t i, j;

		qsort(names, n, sizeof(*names), account_cmp);
		for (i = j = 1; i < n; i++) {
			if (strcasecmp(names[i], names[j - 1]) == 0)
				free(names[i]);
			else
				names[j++] = names[i];
		}
		n = j;
	}
	*namesp = names;
	*np = n;
	return 0;
 nomem:
	snprintf(why, whylen, "out of memory");
 fail:
	fclose(f);
	free(line);
	while (n > 0)
		free(names[--n]);
	free(names);
	return -1;
}

/* Make dir (0700) when it is missing: 0, or -1 with why. */
static int
account_mkdir(const char *dir, char *why, size_t whylen)
{
	struct stat st;

	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		snprintf(why, whylen, "%.300s: not a directory", dir);
		return -1;
	}
	if (errno != ENOENT || mkdir(dir, 0700) == -1) {
		snprintf(why, whylen, "%.300s: %s", dir, strerror(errno));
		return -1;
	}
	log_info("state_dir %s created", dir);
	return 0;
}

/*
 * Write names into dir's temporary list file and fsync it; the rename
 * (account_commit) publishes it.  0, or -1 with why (nothing left).
 */
static int
account_write_tmp(const char *dir, char **names, size_t n, char *why,
    size_t whylen)
{
	char	 tmp[PATH_MAX];
	size_t	 i;
	FILE	*f;
	int	 fd;

	if (account_path(dir, 1, tmp, sizeof(tmp)) == -1) {
		snprintf(why, whylen, "state_dir is too long");
		return -1;
	}
	if (account_mkdir(dir, why, whylen) == -1)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		snprintf(why, whylen, "%.300s: %s", tmp, strerror(errno));
		return -1;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		snprintf(why, whylen, "%.300s: %s", tmp, strerror(errno));
		close(fd);
		(void)unlink(tmp);
		return -1;
	}
	fprintf(f, "# iaproxy: accounts refused at the gateway (iaproxyctl "
	    "disable/enable);\n# one name per line, a bare name covers it in "
	    "any domain or realm.\n");
	for (i = 0; i < n; i++)
		fprintf(f, "%s\n", names[i]);
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		snprintf(why, whylen, "%.300s: %s", tmp, strerror(errno));
		fclose(f);
		(void)unlink(tmp);
		return -1;
	}
	if (fclose(f) == EOF) {
		snprintf(why, whylen, "%.300s: %s", tmp, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

static void
account_drop_tmp(const char *dir)
{
	char tmp[PATH_MAX];

	if (account_path(dir, 1, tmp, sizeof(tmp)) == 0)
		(void)unlink(tmp);
}

/* Rename the temporary file into place, and sync the directory entry. */
static int
account_commit(const char *dir, char *why, size_t whylen)
{
	char	tmp[PATH_MAX], path[PATH_MAX];
	int	fd;

	if (account_path(dir, 1, tmp, sizeof(tmp)) == -1 ||
	    account_path(dir, 0, path, sizeof(path)) == -1) {
		snprintf(why, whylen, "state_dir is too long");
		return -1;
	}
	if (rename(tmp, path) == -1) {
		snprintf(why, whylen, "%.300s: %s", path, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	/* The rename itself survives a crash only once the dir is synced. */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

/*
 * The list after adding or removing user, as a new array sharing the
 * current strings (a removal's strings go to *gone, an addition's new
 * string is *added): 0, or -1 when out of memory.  *changed is 0 when
 * the list stays as it is.
 */
static int
account_list_edit(const char *user, int add, char ***outp, size_t *outn,
    char ***gonep, size_t *ngone, char **added, int *changed)
{
	char	**out, **gone = NULL;
	size_t	  i, n = 0, ng = 0;

	*outp = NULL;
	*outn = 0;
	*gonep = NULL;
	*ngone = 0;
	*added = NULL;
	*changed = 0;
	if (add) {
		if (account_find(acc.names, acc.n, user) != -1)
			return 0;
		if (acc.n >= ACCOUNT_LIST_MAX)
			return -1;
		if ((out = calloc(acc.n + 1, sizeof(*out))) == NULL ||
		    (*added = strdup(user)) == NULL) {
			free(out);
			return -1;
		}
		if (acc.n > 0)
			memcpy(out, acc.names, acc.n * sizeof(*out));
		out[acc.n] = *added;
		qsort(out, acc.n + 1, sizeof(*out), account_cmp);
		*outp = out;
		*outn = acc.n + 1;
		*changed = 1;
		return 0;
	}
	/*
	 * Enable removes every entry that would still refuse user, and
	 * those user names: "alice" lifts EXAMPLE\alice and alice@REALM,
	 * and EXAMPLE\alice lifts a bare "alice" too.
	 */
	if ((out = calloc(acc.n + 1, sizeof(*out))) == NULL ||
	    (gone = calloc(acc.n + 1, sizeof(*gone))) == NULL) {
		free(out);
		return -1;
	}
	for (i = 0; i < acc.n; i++) {
		if (auth_user_match(acc.names[i], user) ||
		    auth_user_match(user, acc.names[i]))
			gone[ng++] = acc.names[i];
		else
			out[n++] = acc.names[i];
	}
	if (ng == 0) {
		free(out);
		free(gone);
		return 0;
	}
	*outp = out;
	*outn = n;
	*gonep = gone;
	*ngone = ng;
	*changed = 1;
	return 0;
}

/*
 * The directory.
 */

/* What the action found and did there, for the answer and the log. */
struct account_dirres {
	const char	*kind;		/* "ad", "openldap" */
	char		 dn[512];	/* sanitized, for messages */
	const char	*attr;		/* what changed, or NULL: nothing */
	char		 oldv[64];	/* "-" when absent */
	char		 newv[64];	/* "-" when removed */
};

static void
account_ms_tv(int ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* The server's diagnostic message, sanitized, into buf ("" if none). */
static void
account_ldap_diag(LDAP *ld, char *buf, size_t len)
{
	char *diag = NULL;

	buf[0] = '\0';
	if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) ==
	    LDAP_OPT_SUCCESS && diag != NULL) {
		if (*diag != '\0')
			log_sanitize(buf, len, diag, strlen(diag));
		ldap_memfree(diag);
	}
}

/*
 * A bound session to the directory of cl: its URIs in order (failover),
 * with the TLS settings the group lookups use (dir_conn.c), bound as the
 * service account.  NULL with why when none would do.
 */
static LDAP *
account_ldap_open(const struct conf_ldap *cl, char *why, size_t whylen)
{
	struct berval	 cred;
	struct timeval	 tv;
	LDAP		*ld;
	const char	*uri;
	char		 diag[200];
	size_t		 i;
	int		 rc, v;

	snprintf(why, whylen, "no ldap uri");
	for (i = 0; i < cl->nuris; i++) {
		uri = cl->uris[i];
		if ((rc = ldap_initialize(&ld, uri)) != LDAP_SUCCESS) {
			snprintf(why, whylen, "%s: %s", uri,
			    ldap_err2string(rc));
			continue;
		}
		v = LDAP_VERSION3;
		ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v);
		/* A referral would take the service password elsewhere. */
		ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
		account_ms_tv(cl->timeout, &tv);
		ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
		ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
		if (strncmp(uri, "ldaps://", 8) == 0 || cl->starttls ||
		    cl->tls_ca_file != NULL) {
			/* RFC 4513 3.1.3: verify the server's identity. */
			v = LDAP_OPT_X_TLS_DEMAND;
			ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &v);
			if (cl->tls_ca_file != NULL)
				ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE,
				    cl->tls_ca_file);
			v = 0;
			ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &v);
		}
		if (cl->starttls && strncmp(uri, "ldaps://", 8) != 0 &&
		    (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
			snprintf(why, whylen, "%s: StartTLS: %s", uri,
			    ldap_err2string(rc));
			ldap_unbind_ext_s(ld, NULL, NULL);
			continue;
		}
		cred.bv_val = cl->bind_password;
		cred.bv_len = cl->bind_password_len;
		rc = ldap_sasl_bind_s(ld, cl->bind_dn, LDAP_SASL_SIMPLE, &cred,
		    NULL, NULL, NULL);
		if (rc == LDAP_SUCCESS)
			return ld;
		account_ldap_diag(ld, diag, sizeof(diag));
		snprintf(why, whylen, "%s: bind as the service account: %s%s%s",
		    uri, ldap_err2string(rc), diag[0] ? ": " : "", diag);
		ldap_unbind_ext_s(ld, NULL, NULL);
	}
	return NULL;
}

/* The first value of attr in e into buf ("" when it has none). */
static void
account_ldap_value(LDAP *ld, LDAPMessage *e, const char *attr, char *buf,
    size_t len)
{
	struct berval	**vals;

	buf[0] = '\0';
	if ((vals = ldap_get_values_len(ld, e, attr)) == NULL)
		return;
	if (vals[0] != NULL && vals[0]->bv_len < len &&
	    memchr(vals[0]->bv_val, '\0', vals[0]->bv_len) == NULL) {
		memcpy(buf, vals[0]->bv_val, vals[0]->bv_len);
		buf[vals[0]->bv_len] = '\0';
	}
	ldap_value_free_len(vals);
}

/* The user's entry, as the directory knows it. */
struct account_entry {
	char	*dn;			/* ldap_memfree */
	char	 uac[32];		/* userAccountControl, or "" */
	char	 locked[64];		/* pwdAccountLockedTime, or "" */
	int	 ad;
};

/* Find user's entry with user_filter: 0, or -1 with why. */
static int
account_ldap_find(LDAP *ld, const struct config *conf, const char *user,
    struct account_entry *ent, char *why, size_t whylen)
{
	const struct conf_ldap	*cl = &conf->ldap;
	struct timeval		 tv;
	LDAPMessage		*res = NULL, *e;
	char			*filter, diag[200];
	char			*attrs[] = { "userAccountControl",
				    "pwdAccountLockedTime", NULL };
	int			 rc, n;

	memset(ent, 0, sizeof(*ent));
	if ((filter = auth_user_filter(conf, user)) == NULL) {
		snprintf(why, whylen, "the name cannot be searched for");
		return -1;
	}
	account_ms_tv(cl->timeout, &tv);
	/* Two at most: more than one entry is an error, not a choice. */
	rc = ldap_search_ext_s(ld, cl->base_dn, LDAP_SCOPE_SUBTREE, filter,
	    attrs, 0, NULL, NULL, &tv, 2, &res);
	free(filter);
	n = res != NULL ? ldap_count_entries(ld, res) : 0;
	if (rc == LDAP_SIZELIMIT_EXCEEDED || n > 1) {
		snprintf(why, whylen, "several directory entries match the "
		    "name (user_filter)");
		goto fail;
	}
	if (rc != LDAP_SUCCESS) {
		account_ldap_diag(ld, diag, sizeof(diag));
		snprintf(why, whylen, "the directory search failed: %s%s%s",
		    ldap_err2string(rc), diag[0] ? ": " : "", diag);
		goto fail;
	}
	if (n == 0 || (e = ldap_first_entry(ld, res)) == NULL) {
		snprintf(why, whylen, "no such user in the directory "
		    "(user_filter)");
		goto fail;
	}
	if ((ent->dn = ldap_get_dn(ld, e)) == NULL) {
		snprintf(why, whylen, "the entry has no DN");
		goto fail;
	}
	account_ldap_value(ld, e, "userAccountControl", ent->uac,
	    sizeof(ent->uac));
	account_ldap_value(ld, e, "pwdAccountLockedTime", ent->locked,
	    sizeof(ent->locked));
	ent->ad = ent->uac[0] != '\0';
	ldap_msgfree(res);
	return 0;
 fail:
	if (res != NULL)
		ldap_msgfree(res);
	return -1;
}

/*
 * One modify of attr on dn: delete oldv (when not NULL), then add or
 * replace with newv (when not NULL), atomically (RFC 4511 4.6).  0, or
 * -1 with why in the words an administrator can act on.
 */
static int
account_ldap_modify(LDAP *ld, const char *dn, const char *shown_dn,
    const char *attr, const char *oldv, const char *newv, int replace,
    char *why, size_t whylen)
{
	LDAPMod		 del, add, *mods[3];
	char		*delv[2], *addv[2], diag[200];
	int		 rc, i = 0;

	if (oldv != NULL) {
		delv[0] = (char *)oldv;
		delv[1] = NULL;
		del.mod_op = LDAP_MOD_DELETE;
		del.mod_type = (char *)attr;
		del.mod_values = delv;
		mods[i++] = &del;
	}
	if (newv != NULL) {
		addv[0] = (char *)newv;
		addv[1] = NULL;
		add.mod_op = replace ? LDAP_MOD_REPLACE : LDAP_MOD_ADD;
		add.mod_type = (char *)attr;
		add.mod_values = addv;
		mods[i++] = &add;
	}
	mods[i] = NULL;
	rc = ldap_modify_ext_s(ld, dn, mods, NULL, NULL);
	if (rc == LDAP_SUCCESS)
		return 0;
	account_ldap_diag(ld, diag, sizeof(diag));
	if (rc == LDAP_INSUFFICIENT_ACCESS)
		snprintf(why, whylen, "the directory refused the change "
		    "(insufficient access: the service account needs write "
		    "rights on %s of %s)", attr, shown_dn);
	else if (rc == LDAP_NO_SUCH_ATTRIBUTE && oldv != NULL)
		snprintf(why, whylen, "the directory refused the change (%s "
		    "of %s changed meanwhile; try again)", attr, shown_dn);
	else
		snprintf(why, whylen, "the directory refused the change (%s "
		    "of %s: %s%s%s)", attr, shown_dn, ldap_err2string(rc),
		    diag[0] ? ": " : "", diag);
	return -1;
}

/*
 * The directory's part of op for user: 0 with what changed in res, or
 * -1 with why (and nothing changed).
 */
static int
account_directory(const struct config *conf, enum account_op op,
    const char *user, struct account_dirres *res, char *why, size_t whylen)
{
	struct account_entry	 ent;
	LDAP			*ld;
	char			 newv[32];
	unsigned long		 uac, nuac;
	char			*end;
	int			 rv = -1;

	if (!conf->ldap.enabled) {
		snprintf(why, whylen, "the directory is not configured (no ldap "
		    "section)");
		return -1;
	}
	if ((ld = account_ldap_open(&conf->ldap, why, whylen)) == NULL)
		return -1;
	if (account_ldap_find(ld, conf, user, &ent, why, whylen) == -1)
		goto out;
	log_sanitize(res->dn, sizeof(res->dn), ent.dn, strlen(ent.dn));
	res->kind = ent.ad ? "ad" : "openldap";
	res->attr = NULL;
	snprintf(res->oldv, sizeof(res->oldv), "-");
	snprintf(res->newv, sizeof(res->newv), "-");
	if (ent.ad && (op == OP_DISABLE || op == OP_ENABLE)) {
		errno = 0;
		uac = strtoul(ent.uac, &end, 10);
		if (errno != 0 || *end != '\0' || uac > 0xffffffffUL) {
			snprintf(why, whylen, "userAccountControl of %s is not "
			    "a number", res->dn);
			goto out;
		}
		nuac = op == OP_DISABLE ? uac | UAC_ACCOUNTDISABLE :
		    uac & ~(unsigned long)UAC_ACCOUNTDISABLE;
		snprintf(res->oldv, sizeof(res->oldv), "%s", ent.uac);
		snprintf(res->newv, sizeof(res->newv), "%s", ent.uac);
		if (nuac == uac) {
			rv = 0;		/* already so */
			goto out;
		}
		snprintf(newv, sizeof(newv), "%lu", nuac);
		if (account_ldap_modify(ld, ent.dn, res->dn,
		    "userAccountControl", ent.uac, newv, 0, why, whylen) == -1)
			goto out;
		res->attr = "userAccountControl";
		snprintf(res->newv, sizeof(res->newv), "%s", newv);
	} else if (op == OP_DISABLE) {
		snprintf(res->oldv, sizeof(res->oldv), "%s", ent.locked[0] ?
		    ent.locked : "-");
		snprintf(res->newv, sizeof(res->newv), "%s", res->oldv);
		if (strcmp(ent.locked, PPOLICY_LOCKED_FOREVER) == 0) {
			rv = 0;
			goto out;
		}
		/* A temporary lockout becomes a permanent one. */
		if (account_ldap_modify(ld, ent.dn, res->dn,
		    "pwdAccountLockedTime", ent.locked[0] ? ent.locked : NULL,
		    PPOLICY_LOCKED_FOREVER, 0, why, whylen) == -1)
			goto out;
		res->attr = "pwdAccountLockedTime";
		snprintf(res->newv, sizeof(res->newv), PPOLICY_LOCKED_FOREVER);
	} else if (op == OP_ENABLE) {
		snprintf(res->oldv, sizeof(res->oldv), "%s", ent.locked[0] ?
		    ent.locked : "-");
		if (ent.locked[0] == '\0') {
			rv = 0;
			goto out;
		}
		if (account_ldap_modify(ld, ent.dn, res->dn,
		    "pwdAccountLockedTime", ent.locked, NULL, 0, why,
		    whylen) == -1)
			goto out;
		res->attr = "pwdAccountLockedTime";
	} else if (op == OP_RESET) {
		/*
		 * Plain replaces: the value set does not depend on the one
		 * before, so there is nothing a concurrent change could lose.
		 */
		res->attr = ent.ad ? "pwdLastSet" : "pwdReset";
		snprintf(res->newv, sizeof(res->newv), "%s", ent.ad ? "0" :
		    "TRUE");
		if (account_ldap_modify(ld, ent.dn, res->dn, res->attr, NULL,
		    res->newv, 1, why, whylen) == -1) {
			res->attr = NULL;
			goto out;
		}
	}
	rv = 0;
 out:
	if (ent.dn != NULL)
		ldap_memfree(ent.dn);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return rv;
}

/* See proxy.h. */
int
account_signout(const char *user, size_t *closed, size_t *ipsessions,
    size_t *purged)
{
	struct server_info	 si;
	char			*text;
	size_t			 n;
	int			 w, missing = 0;

	*closed = 0;
	server_info(&si);
	for (w = 0; w < si.nworkers; w++) {
		if (worker_query(&si.workers[w], WQ_SIGNOUT, user,
		    ACCOUNT_WORKER_MS, &text, &n) == -1) {
			missing++;
			continue;
		}
		free(text);
		*closed += n;
	}
	/* SAML sign-ins: the IP sessions end, older cookies are refused. */
	*ipsessions = session_signout(user, time(NULL));
	*purged = auth_groups_purge(user);
	return missing;
}

/* What an action did, for the admin socket's answer. */
struct account_report {
	char		 msg[1600];	/* the summary, or why it failed */
	const char	*directory;	/* "ad", "openldap", "none" */
	const char	*gateway;	/* the list: "added", "already",
					   "removed", "absent", "-" */
	char		 dn[512];
	char		 attr[32];	/* what changed there, or "" */
	char		 oldv[64];
	char		 newv[64];
	size_t		 closed;	/* connections signed out */
};

/* The whole of op: see account_act() and account_command(). */
static int
account_run(const struct config *conf, enum account_op op, const char *user,
    int directory, const char *who, struct account_report *rep)
{
	struct account_dirres	 dres;
	char			 shown[ACCOUNT_NAME_MAX + 1], why[1024];
	char			 dirpart[800], listpart[1300], unsaved[1100];
	char			**nlist = NULL, **gone = NULL, *added = NULL;
	size_t			 nn = 0, ngone = 0, i, closed = 0, ipn = 0,
				 purged = 0;
	int			 changed = 0, tmp_written = 0, missing = 0;
	const char		*opname = op_names[op];

	memset(rep, 0, sizeof(*rep));
	account_printable(user, shown, sizeof(shown));
	if (!account_name_ok(user)) {
		snprintf(rep->msg, sizeof(rep->msg), "not a user name");
		return -1;
	}
	if (op == OP_RESET)
		directory = 1;	/* only the directory can force it */
	rep->directory = "none";
	rep->gateway = "-";

	/* 1. The new list, written but not published. */
	if (op == OP_DISABLE || op == OP_ENABLE) {
		if (account_list_edit(user, op == OP_DISABLE, &nlist, &nn,
		    &gone, &ngone, &added, &changed) == -1) {
			snprintf(rep->msg, sizeof(rep->msg), "the disabled "
			    "list is full or memory ran out; nothing was "
			    "changed");
			goto failed;
		}
		if (changed && acc.dir != NULL) {
			if (account_write_tmp(acc.dir, nlist, nn, why,
			    sizeof(why)) == -1) {
				snprintf(rep->msg, sizeof(rep->msg), "the "
				    "disabled list cannot be saved (%s); "
				    "nothing was changed", why);
				goto failed;
			}
			tmp_written = 1;
		}
	}

	/* 2. The directory, which may still say no. */
	dirpart[0] = '\0';
	if (directory && op != OP_SIGNOUT) {
		memset(&dres, 0, sizeof(dres));
		if (account_directory(conf, op, user, &dres, why,
		    sizeof(why)) == -1) {
			snprintf(rep->msg, sizeof(rep->msg), "%s; nothing was "
			    "changed", why);
			goto failed;
		}
		rep->directory = dres.kind;
		snprintf(rep->dn, sizeof(rep->dn), "%s", dres.dn);
		if (dres.attr != NULL) {
			snprintf(rep->attr, sizeof(rep->attr), "%s", dres.attr);
			snprintf(rep->oldv, sizeof(rep->oldv), "%s", dres.oldv);
			snprintf(rep->newv, sizeof(rep->newv), "%s", dres.newv);
			snprintf(dirpart, sizeof(dirpart), "directory (%s) %s: "
			    "%s %s -> %s", dres.kind, dres.dn, dres.attr,
			    dres.oldv, dres.newv);
		} else
			snprintf(dirpart, sizeof(dirpart), "directory (%s) %s: "
			    "unchanged (%s already %s)", dres.kind, dres.dn,
			    dres.kind[0] == 'a' ? "userAccountControl" :
			    "pwdAccountLockedTime", dres.oldv);
	}

	/* 3. The gateway list: publish what was prepared. */
	listpart[0] = '\0';
	unsaved[0] = '\0';
	if (acc.dir == NULL)
		snprintf(unsaved, sizeof(unsaved), " (no state_dir: not "
		    "saved)");
	if (op == OP_DISABLE || op == OP_ENABLE) {
		if (changed) {
			if (tmp_written && account_commit(acc.dir, why,
			    sizeof(why)) == -1) {
				/*
				 * Only a rename can fail here; the list still
				 * applies in memory.  Say so loudly.
				 */
				log_warnx("account: %s %s: the disabled list "
				    "applies but was not saved: %s", opname,
				    shown, why);
				snprintf(unsaved, sizeof(unsaved), " (not "
				    "saved: %s)", why);
			}
			free(account_swap(nlist, nn));
			nlist = NULL;
			for (i = 0; i < ngone; i++)
				free(gone[i]);
			added = NULL;
		}
		rep->gateway = op == OP_DISABLE ? (changed ? "added" :
		    "already") : (changed ? "removed" : "absent");
		snprintf(listpart, sizeof(listpart), "gateway list: %s%s",
		    rep->gateway, changed ? unsaved : "");
	}

	/* 4. Her live connections end (disable, reset-password, signout). */
	if (op != OP_ENABLE) {
		missing = account_signout(user, &closed, &ipn, &purged) > 0;
		closed += ipn;
		rep->closed = closed;
	}

	if (op == OP_ENABLE)
		log_info("account: %s %s by %s: %s%s%s", opname, shown, who,
		    dirpart, dirpart[0] ? "; " : "", listpart);
	else
		log_info("account: %s %s by %s: %s%s%s%s%zu connection%s "
		    "closed%s", opname, shown, who, dirpart, dirpart[0] ?
		    "; " : "", listpart, listpart[0] ? "; " : "", closed,
		    closed == 1 ? "" : "s", missing ?
		    " (a worker did not answer)" : "");
	if (op != OP_ENABLE && purged > 0)
		log_info("account: %s %s: %zu cached group entr%s dropped",
		    opname, shown, purged, purged == 1 ? "y" : "ies");
	snprintf(rep->msg, sizeof(rep->msg), "%s %s%s%s", shown,
	    op == OP_DISABLE ? "disabled" : op == OP_ENABLE ? "enabled" :
	    op == OP_RESET ? "must change the password at the next logon" :
	    "signed out", directory && op != OP_SIGNOUT ? " in the directory" :
	    "", op == OP_DISABLE || op == OP_ENABLE ? " and at the gateway" :
	    "");
	if (op != OP_ENABLE)
		snprintf(rep->msg + strlen(rep->msg), sizeof(rep->msg) -
		    strlen(rep->msg), "; %zu connection%s closed%s", closed,
		    closed == 1 ? "" : "s", missing ?
		    " (a worker did not answer)" : "");
	free(gone);
	return 0;

 failed:
	if (tmp_written)
		account_drop_tmp(acc.dir);
	free(nlist);
	free(gone);
	free(added);
	log_info("account: %s %s by %s failed: %s", opname, shown, who,
	    rep->msg);
	return -1;
}

int
account_act(const struct config *conf, enum account_action action,
    const char *user, int directory, const char *who, char *msg,
    size_t msglen)
{
	struct account_report	 rep;
	enum account_op		 op;
	int			 rv;

	switch (action) {
	case ACCOUNT_SIGNOUT:
		op = OP_SIGNOUT;
		break;
	case ACCOUNT_DISABLE:
		op = OP_DISABLE;
		break;
	case ACCOUNT_RESET_PASSWORD:
		op = OP_RESET;
		break;
	default:
		snprintf(msg, msglen, "unknown action");
		return -1;
	}
	rv = account_run(conf, op, user, directory, who, &rep);
	snprintf(msg, msglen, "%s", rep.msg);
	return rv;
}

int
account_command(const char *cmd, const char *arg, const char *who,
    struct evbuffer *out)
{
	struct account_report	 rep;
	enum account_op		 op;
	char			 user[ACCOUNT_NAME_MAX + 2];
	const char		*opt = NULL, *sp;
	size_t			 ulen;
	int			 directory = 0;

	if (strcmp(cmd, "disable") == 0)
		op = OP_DISABLE;
	else if (strcmp(cmd, "enable") == 0)
		op = OP_ENABLE;
	else if (strcmp(cmd, "reset-password") == 0)
		op = OP_RESET;
	else
		return 0;
	/* "USER" or "USER --directory" (not for reset-password). */
	if (arg == NULL || *arg == '\0' || *arg == '-') {
		evbuffer_add_printf(out, "error usage: %s USER%s\n", cmd,
		    op == OP_RESET ? "" : " [--directory]");
		return 1;
	}
	sp = strchr(arg, ' ');
	ulen = sp != NULL ? (size_t)(sp - arg) : strlen(arg);
	if (sp != NULL) {
		for (opt = sp; *opt == ' '; opt++)
			;
		if (op == OP_RESET || strcmp(opt, "--directory") != 0) {
			evbuffer_add_printf(out, "error usage: %s USER%s\n",
			    cmd, op == OP_RESET ? "" : " [--directory]");
			return 1;
		}
		directory = 1;
	}
	if (ulen > ACCOUNT_NAME_MAX) {
		evbuffer_add_printf(out, "error %s: not a user name\n", cmd);
		return 1;
	}
	memcpy(user, arg, ulen);
	user[ulen] = '\0';
	if (!account_name_ok(user)) {
		evbuffer_add_printf(out, "error %s: not a user name\n", cmd);
		return 1;
	}
	if (acc.conf == NULL) {
		evbuffer_add_printf(out, "error %s: not ready\n", cmd);
		return 1;
	}
	if (account_run(acc.conf, op, user, directory, who, &rep) == -1) {
		evbuffer_add_printf(out, "error %s: %s\n", cmd, rep.msg);
		return 1;
	}
	/* NAME VALUE lines (iaproxyctl --json), then the summary. */
	evbuffer_add_printf(out, "user %s\ndirectory %s\n", user,
	    rep.directory);
	if (rep.dn[0] != '\0')
		evbuffer_add_printf(out, "dn %s\n", rep.dn);
	if (rep.attr[0] != '\0')
		evbuffer_add_printf(out, "attribute %s\nold %s\nnew %s\n",
		    rep.attr, rep.oldv, rep.newv);
	if (strcmp(rep.gateway, "-") != 0)
		evbuffer_add_printf(out, "gateway %s\n", rep.gateway);
	if (op != OP_ENABLE)
		evbuffer_add_printf(out, "closed %zu\n", rep.closed);
	evbuffer_add_printf(out, "ok %s\n", rep.msg);
	return 1;
}

/*
 * Start and reload.
 */

/* Free the strings of names (n of them) and the array. */
static void
account_free_names(char **names, size_t n)
{
	while (names != NULL && n > 0)
		free(names[--n]);
	free(names);
}

/*
 * Use dir (state_dir, or NULL: the list is not saved) for the list.  At
 * start the file is the list.  On a reload that names another dir
 * (merge), nobody is let back in by it: the list becomes the union of
 * the one in memory and the new file's, saved there.
 */
static void
account_use_dir(const char *dir, int merge)
{
	char	**names = NULL, **all, **nl, why[512];
	size_t	  n = 0, i, nall, oldn;

	free(acc.dir);
	acc.dir = dir != NULL ? strdup(dir) : NULL;
	if (acc.dir == NULL)
		return;
	if (account_load(acc.dir, &names, &n, why, sizeof(why)) == -1) {
		/* Never fatal: the gateway runs, and says what is missing. */
		log_warnx("account: the disabled list cannot be read (%s)%s",
		    why, merge ? "" : ": nobody is refused by it");
		return;
	}
	if (!merge || acc.n == 0) {
		oldn = acc.n;
		account_free_names(account_swap(names, n), oldn);
		if (n > 0)
			log_info("account: %zu disabled account%s (%s/%s)", n,
			    n == 1 ? "" : "s", acc.dir, ACCOUNT_FILE);
		return;
	}
	if ((all = calloc(n + acc.n, sizeof(*all))) == NULL) {
		account_free_names(names, n);
		return;
	}
	if (n > 0)
		memcpy(all, names, n * sizeof(*all));
	nall = n;
	for (i = 0; i < acc.n; i++)
		if (account_find(names, n, acc.names[i]) == -1 &&
		    (all[nall] = strdup(acc.names[i])) != NULL)
			nall++;
	free(names);
	qsort(all, nall, sizeof(*all), account_cmp);
	oldn = acc.n;
	nl = all;
	account_free_names(account_swap(nl, nall), oldn);
	if (account_write_tmp(acc.dir, acc.names, acc.n, why,
	    sizeof(why)) == -1 || account_commit(acc.dir, why,
	    sizeof(why)) == -1)
		log_warnx("account: the disabled list cannot be saved in the "
		    "new state_dir (%s)", why);
	log_info("account: %zu disabled account%s (%s/%s)", acc.n,
	    acc.n == 1 ? "" : "s", acc.dir, ACCOUNT_FILE);
}

void
account_start(const struct config *conf)
{
	account_use_dir(conf->state_dir, 0);
	conf_unref(acc.conf);
	acc.conf = conf_ref((struct config *)conf);
}

void
account_reconf(const struct config *conf)
{
	const char *nd = conf->state_dir;

	if ((nd == NULL) != (acc.dir == NULL) ||
	    (nd != NULL && strcmp(nd, acc.dir) != 0))
		account_use_dir(nd, 1);
	conf_unref(acc.conf);
	acc.conf = conf_ref((struct config *)conf);
}

void
account_stop(void)
{
	/*
	 * The list stays: the workers may still be draining their
	 * connections, and a disabled user must stay refused meanwhile.
	 */
	free(acc.dir);
	acc.dir = NULL;
	conf_unref(acc.conf);
	acc.conf = NULL;
}
