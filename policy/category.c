/*
 * Categories and the destination index.
 *
 * Every domain list of the policy -- each category and each rule's
 * dst_domain / not_dst_domain list -- is a "tag", and one domainset holds
 * them all: an entry's value is the set of tags it is in (tagset.c).  A
 * request's host is then walked once, whatever the number of categories
 * and rules, and each category or dst_domain condition is a bit test on
 * the few entries that matched (eval.c).
 *
 * URL lists ("urls" files of the blacklist layout, entries "host/path")
 * sit beside it: a second domainset keyed by host whose value chains the
 * path prefixes of that host.  They only apply to plain HTTP: a CONNECT
 * shows no path (RFC 9110 9.3.6).
 *
 * The list files are the ones blacklist collections ship (UT1 Toulouse,
 * Shalla and their kin): one entry per line, '#' comments.  Lines the
 * index cannot hold are skipped with a warning, not an error: these lists
 * come from third parties and one odd line must not stop a reload.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "policy_int.h"

#define CAT_MAX_FILE	((size_t)1 << 31)	/* 2 GiB: refuse larger */
#define CAT_WARN_LINES	3		/* bad lines quoted per file */
#define CAT_DIR_DEPTH	4		/* "a/b/c/d" at most */

static int	 cat_read_file(const char *, char **, size_t *, size_t *,
		    char *, size_t);
static int	 cat_url_prefix(const char *, size_t, const char *, size_t);
static int	 cat_scan(const char *, const char *, int, struct catdir_ent **,
		    size_t *, size_t *, char *, size_t);
static int	 cat_ent_cmp(const void *, const void *);

/*
 * An empty index for tags 0..ntags-1, sized for about hint names.  -1
 * when out of memory.
 */
int
catindex_init(struct catindex *idx, unsigned ntags, size_t hint)
{
	memset(idx, 0, sizeof(*idx));
	if (tagsets_init(&idx->tags, ntags) == -1)
		return (-1);
	if ((idx->hosts = domainset_new(hint)) == NULL ||
	    (idx->urlhosts = domainset_new(16)) == NULL) {
		catindex_free(idx);
		return (-1);
	}
	return (0);
}

void
catindex_free(struct catindex *idx)
{
	domainset_free(idx->hosts);
	domainset_free(idx->urlhosts);
	tagsets_free(&idx->tags);
	free(idx->urls);
	free(idx->paths);
	memset(idx, 0, sizeof(*idx));
}

/*
 * Put the normalised name in tag's list: for the name alone, or (suffix)
 * for it and every name below it.  -1 when out of memory.
 */
int
catindex_add_domain(struct catindex *idx, const char *name, size_t len,
    int suffix, unsigned tag)
{
	uint32_t	*v, nv;

	if ((v = domainset_value(idx->hosts, name, len, suffix)) == NULL)
		return (-1);
	if ((nv = tagsets_add(&idx->tags, *v, tag)) == UINT32_MAX)
		return (-1);
	*v = nv;
	return (0);
}

/*
 * Put "host/path" in tag's URL list: requests to host or a name below it
 * whose path starts with path (empty: any path).  -1 when out of memory.
 */
int
catindex_add_url(struct catindex *idx, const char *host, size_t hostlen,
    const char *path, size_t pathlen, unsigned tag)
{
	struct url_item	*it;
	uint32_t	*v;
	void		*p;
	size_t		 ncap;

	if (idx->nurls == idx->urlcap) {
		ncap = idx->urlcap == 0 ? 64 : idx->urlcap * 2;
		if (ncap >= UINT32_MAX ||
		    (p = realloc(idx->urls, ncap * sizeof(*it))) == NULL)
			return (-1);
		idx->urls = p;
		idx->urlcap = ncap;
	}
	if (idx->pathlen + pathlen + 1 > idx->pathcap) {
		ncap = idx->pathcap == 0 ? 1024 : idx->pathcap * 2;
		while (idx->pathlen + pathlen + 1 > ncap)
			ncap *= 2;
		if (ncap >= UINT32_MAX || (p = realloc(idx->paths, ncap)) ==
		    NULL)
			return (-1);
		idx->paths = p;
		idx->pathcap = ncap;
	}
	if ((v = domainset_value(idx->urlhosts, host, hostlen, 1)) == NULL)
		return (-1);
	it = &idx->urls[idx->nurls];
	it->next = *v;
	it->path = (uint32_t)idx->pathlen;
	it->pathlen = (uint32_t)pathlen;
	it->tag = tag;
	memcpy(idx->paths + idx->pathlen, path, pathlen);
	idx->paths[idx->pathlen + pathlen] = '\0';
	idx->pathlen += pathlen + 1;
	*v = (uint32_t)++idx->nurls;
	return (0);
}

/* Done adding: shrink the tables to their final size. */
int
catindex_freeze(struct catindex *idx)
{
	if (domainset_freeze(idx->hosts) == -1 ||
	    domainset_freeze(idx->urlhosts) == -1)
		return (-1);
	return (0);
}

/*
 * Does the request path p start with the entry's path prefix e, ending
 * at a boundary?  "/ads" covers "/ads", "/ads/x" and "/ads?x", not
 * "/adserver".  Compared without regard to case: the lists are written
 * in lower case whatever case sites use, and over-matching a block list
 * is the lesser harm.  Percent-encoding is not undone.
 */
static int
cat_url_prefix(const char *e, size_t el, const char *p, size_t pl)
{
	char	c;

	if (el == 0)
		return (1);
	if (pl < el || strncasecmp(e, p, el) != 0)
		return (0);
	if (pl == el || e[el - 1] == '/' || e[el - 1] == '?' ||
	    e[el - 1] == '&')
		return (1);
	c = p[el];
	return (c == '/' || c == '?' || c == '&' || c == ';');
}

/*
 * The URL entries covering host (normalised) and path: each a url_item
 * index (its tag says the category).  Returns the number stored, at most
 * maxhits.
 */
size_t
catindex_match_urls(const struct catindex *idx, const char *host,
    size_t hostlen, int exact_only, const char *path, size_t pathlen,
    struct url_hit *hits, size_t maxhits)
{
	struct ds_hit		 dh[DS_MAXHITS];
	const struct url_item	*it;
	size_t			 nd, i, n = 0;
	uint32_t		 j;

	if (idx->nurls == 0)
		return (0);
	nd = domainset_match(idx->urlhosts, host, hostlen, exact_only, dh,
	    DS_MAXHITS);
	for (i = 0; i < nd; i++) {
		for (j = dh[i].val; j != 0 && n < maxhits; j = it->next) {
			it = &idx->urls[j - 1];
			if (!cat_url_prefix(idx->paths + it->path,
			    it->pathlen, path, pathlen))
				continue;
			hits[n].item = j - 1;
			hits[n++].rec = dh[i].rec;
		}
	}
	return (n);
}

/* Trim blanks, then cut a '#' comment and the blanks before it. */
static void
cat_trim(const char **line, size_t *len)
{
	const char	*s = *line, *h;
	size_t		 n = *len;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	if ((h = memchr(s, '#', n)) != NULL)
		n = (size_t)(h - s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r'))
		n--;
	*line = s;
	*len = n;
}

/* Is there a byte outside printable ASCII, or a blank, in s? */
static const char *
cat_badbyte(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return ("not ASCII: write internationalised names "
			    "in their xn-- form (idn2 converts them)");
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return ("more than one word, or a control character");
	}
	return (NULL);
}

/*
 * One line of a domains list: blank and comment lines give 0; an entry
 * gives 1 with the normalised name in out (DS_NAME_MAX + 1 bytes); a
 * leading "*." or "." is dropped (every entry covers the names below it
 * anyway).  -1 with *why for a line that is no name.
 */
int
category_parse_domain(const char *line, size_t len, char *out,
    size_t *outlen, const char **why)
{
	cat_trim(&line, &len);
	if (len == 0)
		return (0);
	if (len >= 2 && line[0] == '*' && line[1] == '.')
		line += 2, len -= 2;
	else if (line[0] == '.')
		line++, len--;
	if ((*why = cat_badbyte(line, len)) != NULL)
		return (-1);
	if (domainset_normalize(line, len, out, outlen) == -1) {
		*why = "not a valid domain name";
		return (-1);
	}
	return (1);
}

/*
 * One line of a urls list, "host/path" with an optional "http://" or
 * "https://" in front and ":port" after the host (ignored): 1 with the
 * normalised host in host (DS_NAME_MAX + 1 bytes) and *path, *pathlen
 * pointing into line (empty for "host" or "host/"); 0 for blank and
 * comment lines; -1 with *why otherwise.
 */
int
category_parse_url(const char *line, size_t len, char *host,
    size_t *hostlen, const char **path, size_t *pathlen, const char **why)
{
	const char	*slash, *colon;
	size_t		 hl;

	cat_trim(&line, &len);
	if (len == 0)
		return (0);
	if ((*why = cat_badbyte(line, len)) != NULL)
		return (-1);
	if (len > 7 && strncasecmp(line, "http://", 7) == 0)
		line += 7, len -= 7;
	else if (len > 8 && strncasecmp(line, "https://", 8) == 0)
		line += 8, len -= 8;
	slash = memchr(line, '/', len);
	hl = slash != NULL ? (size_t)(slash - line) : len;
	if (hl > 0 && line[0] != '[' &&
	    (colon = memchr(line, ':', hl)) != NULL)
		hl = (size_t)(colon - line);
	if (hl >= 2 && line[0] == '*' && line[1] == '.')
		line += 2, len -= 2, hl -= 2;
	if (domainset_normalize(line, hl, host, hostlen) == -1) {
		*why = "not a valid host name";
		return (-1);
	}
	if (slash == NULL || len - (size_t)(slash - line) <= 1) {
		*path = "";
		*pathlen = 0;
	} else {
		*path = slash;
		*pathlen = len - (size_t)(slash - line);
	}
	return (1);
}

/*
 * Read a whole file into a buffer from ds_big_alloc (*map for
 * ds_big_free).  Read, not mapped: a list rewritten in place while we
 * parse it would raise SIGBUS in a mapping.
 */
static int
cat_read_file(const char *path, char **out, size_t *outlen, size_t *map,
    char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf;
	size_t		 got = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s", S_ISDIR(st.st_mode) ?
		    "is a directory" : "not a regular file");
		close(fd);
		return (-1);
	}
	if ((size_t)st.st_size >= CAT_MAX_FILE) {
		snprintf(err, errlen, "larger than 2 GiB");
		close(fd);
		return (-1);
	}
	if ((buf = ds_big_alloc((size_t)st.st_size + 1, map)) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return (-1);
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "%s", strerror(errno));
			ds_big_free(buf, *map);
			close(fd);
			return (-1);
		}
		if (r == 0)
			break;		/* shrank while we read */
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*outlen = got;
	return (0);
}

/*
 * Load the list at path (a domains list, or a urls list when urls) into
 * idx under tag, for category catname declared at file:line.  A file
 * that cannot be read is an error (to e, at file:line); lines that are no
 * entry are warnings quoting the list's own path and line.  *count gets
 * the entries added.  Returns 0, or -1 after an error.
 */
int
category_load(struct catindex *idx, const char *path, int urls,
    unsigned tag, const char *catname, const char *file, int line,
    struct perr *e, size_t *count)
{
	char		*buf, *p, *end, *nl, name[DS_NAME_MAX + 1], why[256];
	const char	*bad, *upath;
	size_t		 len, nlen, uplen, n = 0, nbad = 0, map;
	int		 lineno = 0, rv;

	*count = 0;
	if (cat_read_file(path, &buf, &len, &map, why, sizeof(why)) == -1) {
		perr_add(e, file, line, "category '%s': cannot read %s '%s': "
		    "%s", catname, urls ? "urls list" : "domains list", path,
		    why);
		return (-1);
	}
	for (p = buf, end = buf + len; p < end; p = nl + 1) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (urls)
			rv = category_parse_url(p, (size_t)(nl - p), name,
			    &nlen, &upath, &uplen, &bad);
		else
			rv = category_parse_domain(p, (size_t)(nl - p), name,
			    &nlen, &bad);
		if (rv == 0)
			continue;
		if (rv == -1) {
			if (nbad++ < CAT_WARN_LINES)
				perr_warn(e, path, lineno, "category '%s': "
				    "line skipped: %s: '%.*s'", catname, bad,
				    (int)((nl - p) > 80 ? 80 : (nl - p)), p);
			continue;
		}
		if (urls)
			rv = catindex_add_url(idx, name, nlen, upath, uplen,
			    tag);
		else
			rv = catindex_add_domain(idx, name, nlen, 1, tag);
		if (rv == -1) {
			perr_add(e, file, line, "category '%s': %s: out of "
			    "memory", catname, path);
			ds_big_free(buf, map);
			return (-1);
		}
		n++;
	}
	ds_big_free(buf, map);
	if (nbad > CAT_WARN_LINES)
		perr_warn(e, path, 0, "category '%s': %zu more lines skipped",
		    catname, nbad - CAT_WARN_LINES);
	if (n == 0)
		perr_warn(e, path, 0, "category '%s': the list is empty",
		    catname);
	*count = n;
	return (0);
}

static int
cat_ent_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct catdir_ent *)a)->name,
	    ((const struct catdir_ent *)b)->name));
}

static int
cat_isfile(const char *path)
{
	struct stat	st;

	return (stat(path, &st) == 0 && S_ISREG(st.st_mode));
}

/* Walk dir/rel (rel "" at the top) for category folders. */
static int
cat_scan(const char *dir, const char *rel, int depth, struct catdir_ent **v,
    size_t *n, size_t *cap, char *err, size_t errlen)
{
	char		 path[PATH_MAX], sub[PATH_MAX], f[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	struct catdir_ent *ce;
	char		*dom, *url;
	void		*p;

	if ((size_t)snprintf(path, sizeof(path), "%s%s%s", dir,
	    *rel != '\0' ? "/" : "", rel) >= sizeof(path)) {
		snprintf(err, errlen, "%s/%s: path too long", dir, rel);
		return (-1);
	}
	if ((d = opendir(path)) == NULL) {
		snprintf(err, errlen, "cannot open '%s': %s", path,
		    strerror(errno));
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
		    de->d_name) >= sizeof(sub) ||
		    stat(sub, &st) == -1 || !S_ISDIR(st.st_mode))
			continue;
		dom = url = NULL;
		if ((size_t)snprintf(f, sizeof(f), "%s/domains", sub) <
		    sizeof(f) && cat_isfile(f) && (dom = strdup(f)) == NULL)
			goto nomem;
		if ((size_t)snprintf(f, sizeof(f), "%s/urls", sub) <
		    sizeof(f) && cat_isfile(f) && (url = strdup(f)) == NULL) {
			free(dom);
			goto nomem;
		}
		if (dom != NULL || url != NULL) {
			if (*n == *cap) {
				*cap = *cap == 0 ? 32 : *cap * 2;
				if ((p = realloc(*v, *cap * sizeof(**v))) ==
				    NULL) {
					free(dom);
					free(url);
					goto nomem;
				}
				*v = p;
			}
			ce = &(*v)[*n];
			ce->domains = dom;
			ce->urls = url;
			if (asprintf(&ce->name, "%s%s%s", rel,
			    *rel != '\0' ? "/" : "", de->d_name) == -1) {
				free(dom);
				free(url);
				goto nomem;
			}
			(*n)++;
		}
		/* Shalla nests categories ("recreation/humor"). */
		if (depth + 1 < CAT_DIR_DEPTH) {
			char	 nrel[PATH_MAX];

			snprintf(nrel, sizeof(nrel), "%s%s%s", rel,
			    *rel != '\0' ? "/" : "", de->d_name);
			if (cat_scan(dir, nrel, depth + 1, v, n, cap, err,
			    errlen) == -1) {
				closedir(d);
				return (-1);
			}
		}
	}
	closedir(d);
	return (0);
 nomem:
	closedir(d);
	snprintf(err, errlen, "out of memory");
	return (-1);
}

/*
 * The categories under dir: every folder (any depth up to 4, symbolic
 * links followed, names starting with '.' skipped) holding a regular
 * file `domains` or `urls`, named by its path below dir, sorted by name
 * so that a reload sees them in the same order.  Returns 0 with *out (free
 * with category_free_dir) and *n, or -1 with a message in err.
 */
int
category_scan_dir(const char *dir, struct catdir_ent **out, size_t *n,
    char *err, size_t errlen)
{
	struct catdir_ent	*v = NULL;
	size_t			 cap = 0;

	*n = 0;
	if (cat_scan(dir, "", 0, &v, n, &cap, err, errlen) == -1) {
		category_free_dir(v, *n);
		*n = 0;
		return (-1);
	}
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cat_ent_cmp);
	*out = v;
	return (0);
}

void
category_free_dir(struct catdir_ent *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].domains);
		free(v[i].urls);
	}
	free(v);
}
