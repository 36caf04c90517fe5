/*
 * iaproxyctl: the administrator's command line for a running iaproxy.
 * It speaks the admin socket's line protocol (admin.c, iaproxy(8)): one
 * command, answer lines, a last line "ok ..." or "error ...", and shows
 * the answer as text or, with --json, as one JSON value.
 *
 * Exit status: 0 ok, 1 an error (the proxy's or the socket's), 2 usage.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CTL_SOCKET	"/run/iaproxy/admin.sock"
#define CTL_TIMEOUT	30		/* seconds for the whole answer */
#define CTL_ANSWER_MAX	(4 * 1024 * 1024)

/* The answer: its lines, the last one ("ok ..."/"error ...") apart. */
struct answer {
	char	**lines;
	size_t	  nlines;
	char	 *last;
	char	 *buf;
};

static const char *progname = "iaproxyctl";

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: %s [-s socket] [--json] command\n"
	    "commands:\n"
	    "  status\n"
	    "  reload\n"
	    "  sessions [--user USER]\n"
	    "  signout USER\n"
	    "  disable USER [--directory]\n"
	    "  enable USER [--directory]\n"
	    "  reset-password USER\n"
	    "  purge USER\n"
	    "  stats\n"
	    "  metrics\n", progname);
	exit(2);
}

/* Connect, send cmd, read until the last line; 0 or -1 (said why). */
static int
ctl_ask(const char *path, const char *cmd, struct answer *a)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { CTL_TIMEOUT, 0 };
	size_t			 len = 0, cap = 0, start;
	ssize_t			 n;
	char			*p, *nl;
	int			 fd;

	memset(a, 0, sizeof(*a));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "%s: %s: path too long\n", progname, path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "%s: %s: %s\n", progname, path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (dprintf(fd, "%s\nquit\n", cmd) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	/* Read until the answer's last line; "quit" then closes. */
	start = 0;
	for (;;) {
		if (len + 4097 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > CTL_ANSWER_MAX ||
			    (p = realloc(a->buf, cap)) == NULL) {
				fprintf(stderr, "%s: the answer is too long\n",
				    progname);
				goto fail;
			}
			a->buf = p;
		}
		n = read(fd, a->buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "%s: %s: %s\n", progname, path, n == 0 ?
			    "the proxy closed the connection" :
			    "no answer in time");
			goto fail;
		}
		len += n;
		a->buf[len] = '\0';
		while ((nl = strchr(a->buf + start, '\n')) != NULL) {
			p = a->buf + start;
			if (strncmp(p, "ok", 2) == 0 ||
			    strncmp(p, "error", 5) == 0) {
				*nl = '\0';
				goto done;
			}
			start = nl + 1 - a->buf;
		}
	}
 done:
	close(fd);
	/* Split the lines in place; the last one is the verdict. */
	for (p = a->buf; p < a->buf + start; p = nl + 1) {
		nl = strchr(p, '\n');
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		if ((a->lines = reallocarray(a->lines, a->nlines + 1,
		    sizeof(*a->lines))) == NULL) {
			fprintf(stderr, "%s: out of memory\n", progname);
			exit(1);
		}
		a->lines[a->nlines++] = p;
	}
	a->last = a->buf + start;
	return 0;
 fail:
	close(fd);
	free(a->buf);
	a->buf = NULL;
	return -1;
}

/* The characters of s, escaped for the inside of a JSON string. */
static void
json_chars(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
}

/* s as a JSON string. */
static void
json_str(const char *s)
{
	putchar('"');
	json_chars(s);
	putchar('"');
}

/* A number as is, anything else as a string. */
static void
json_value(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p != '\0' && strspn(p, "0123456789") == strlen(p) &&
	    strlen(p) < 19)
		fputs(s, stdout);
	else
		json_str(s);
}

/* "NAME VALUE" lines (status, stats) as an object. */
static void
json_pairs(const struct answer *a)
{
	const char	*sp;
	size_t		 i;

	printf("{");
	for (i = 0; i < a->nlines; i++) {
		if ((sp = strchr(a->lines[i], ' ')) == NULL)
			continue;
		printf("%s\"%.*s\": ", i ? ", " : "",
		    (int)(sp - a->lines[i]), a->lines[i]);
		json_value(sp + 1);
	}
	printf("}\n");
}

static const char *session_keys[] = {
	"user", "mechanism", "client", "since", "bytes_in", "bytes_out", "id"
};
#define NSESSION_KEYS	(sizeof(session_keys) / sizeof(session_keys[0]))

/* Split a sessions line at its tabs into f[]; how many fields. */
static size_t
session_fields(char *line, char *f[NSESSION_KEYS])
{
	size_t	 n = 0;
	char	*p = line, *tab;

	while (n < NSESSION_KEYS) {
		f[n++] = p;
		if ((tab = strchr(p, '\t')) == NULL)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	return n;
}

static void
show_sessions(struct answer *a, int json)
{
	char		*f[NSESSION_KEYS], when[32];
	struct tm	 tm;
	time_t		 t;
	size_t		 i, k, n;

	if (json)
		printf("[");
	else if (a->nlines > 0)
		printf("%-24s %-10s %-39s %-20s %12s %12s\n", "USER", "MECH",
		    "CLIENT", "SINCE", "IN", "OUT");
	for (i = 0; i < a->nlines; i++) {
		n = session_fields(a->lines[i], f);
		if (json) {
			printf("%s{", i ? ", " : "");
			for (k = 0; k < n; k++) {
				printf("%s\"%s\": ", k ? ", " : "",
				    session_keys[k]);
				if (k == 3 || k == 4 || k == 5)
					json_value(f[k]);
				else
					json_str(f[k]);
			}
			printf("}");
			continue;
		}
		if (n < 6)
			continue;
		t = (time_t)strtoll(f[3], NULL, 10);
		if (localtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm) == 0)
			snprintf(when, sizeof(when), "%s", f[3]);
		printf("%-24s %-10s %-39s %-20s %12s %12s\n", f[0], f[1], f[2],
		    when, f[4], f[5]);
	}
	if (json)
		printf("]\n");
	else if (a->nlines == 0)
		printf("no signed-in connections\n");
}

static void
show_status(const struct answer *a)
{
	const char	*sp;
	char		 when[32];
	struct tm	 tm;
	time_t		 t;
	size_t		 i;

	for (i = 0; i < a->nlines; i++) {
		if ((sp = strchr(a->lines[i], ' ')) == NULL)
			continue;
		if (strncmp(a->lines[i], "loaded ", 7) == 0) {
			t = (time_t)strtoll(sp + 1, NULL, 10);
			if (localtime_r(&t, &tm) != NULL &&
			    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z",
			    &tm) != 0) {
				printf("%-12s %s\n", "loaded", when);
				continue;
			}
		}
		printf("%-12.*s %s\n", (int)(sp - a->lines[i]), a->lines[i],
		    sp + 1);
	}
}

/*
 * disable, enable, reset-password: NAME VALUE lines (user, directory,
 * dn, attribute, old, new, gateway, closed) and the summary after "ok".
 */
static void
show_account(const struct answer *a, int json)
{
	const char	*sp, *attr = NULL, *oldv = NULL, *newv = NULL;
	const char	*dir = NULL, *dn = NULL;
	size_t		 i;

	if (json) {
		printf("{\"ok\": true");
		for (i = 0; i < a->nlines; i++) {
			if ((sp = strchr(a->lines[i], ' ')) == NULL)
				continue;
			printf(", \"%.*s\": ", (int)(sp - a->lines[i]),
			    a->lines[i]);
			if (strncmp(a->lines[i], "closed ", 7) == 0)
				json_value(sp + 1);
			else
				json_str(sp + 1);
		}
		printf(", \"message\": ");
		json_str(a->last[2] == ' ' ? a->last + 3 : a->last + 2);
		printf("}\n");
		return;
	}
	printf("%s\n", a->last[2] == ' ' ? a->last + 3 : a->last + 2);
	for (i = 0; i < a->nlines; i++) {
		if ((sp = strchr(a->lines[i], ' ')) == NULL)
			continue;
		sp++;
		if (strncmp(a->lines[i], "attribute ", 10) == 0)
			attr = sp;
		else if (strncmp(a->lines[i], "old ", 4) == 0)
			oldv = sp;
		else if (strncmp(a->lines[i], "new ", 4) == 0)
			newv = sp;
		else if (strncmp(a->lines[i], "directory ", 10) == 0)
			dir = sp;
		else if (strncmp(a->lines[i], "dn ", 3) == 0)
			dn = sp;
	}
	if (dn != NULL)
		printf("directory (%s): %s\n", dir != NULL ? dir : "?", dn);
	if (attr != NULL)
		printf("  %s: %s -> %s\n", attr, oldv != NULL ? oldv : "-",
		    newv != NULL ? newv : "-");
}

/* The number after "ok", or 0. */
static long long
ok_number(const struct answer *a)
{
	return strtoll(a->last + 2, NULL, 10);
}

int
main(int argc, char *argv[])
{
	const char	*sock = CTL_SOCKET, *cmd, *user = NULL;
	struct answer	 a;
	char		 line[1024];
	size_t		 i;
	int		 json = 0, argi = 1;

	while (argi < argc && argv[argi][0] == '-') {
		if (strcmp(argv[argi], "-s") == 0 && argi + 1 < argc) {
			sock = argv[argi + 1];
			argi += 2;
		} else if (strcmp(argv[argi], "--json") == 0) {
			json = 1;
			argi++;
		} else if (strcmp(argv[argi], "--") == 0) {
			argi++;
			break;
		} else
			usage();
	}
	if (argi >= argc)
		usage();
	cmd = argv[argi++];
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "reload") == 0 ||
	    strcmp(cmd, "stats") == 0 || strcmp(cmd, "metrics") == 0) {
		if (argi != argc)
			usage();
		snprintf(line, sizeof(line), "%s", cmd);
	} else if (strcmp(cmd, "sessions") == 0) {
		if (argi + 2 == argc && strcmp(argv[argi], "--user") == 0)
			user = argv[argi + 1];
		else if (argi != argc)
			usage();
		snprintf(line, sizeof(line), "sessions%s%s", user ? " " : "",
		    user ? user : "");
	} else if (strcmp(cmd, "disable") == 0 || strcmp(cmd, "enable") == 0 ||
	    strcmp(cmd, "reset-password") == 0) {
		/* USER, and --directory before or after it (not for reset). */
		int directory = 0;

		for (; argi < argc; argi++) {
			if (strcmp(argv[argi], "--directory") == 0 &&
			    !directory && strcmp(cmd, "reset-password") != 0)
				directory = 1;
			else if (user == NULL && argv[argi][0] != '-')
				user = argv[argi];
			else
				usage();
		}
		if (user == NULL)
			usage();
		snprintf(line, sizeof(line), "%s %s%s", cmd, user, directory ?
		    " --directory" : "");
	} else if (strcmp(cmd, "signout") == 0 || strcmp(cmd, "purge") == 0) {
		if (argi + 1 != argc)
			usage();
		user = argv[argi];
		if (*user == '\0' || strpbrk(user, " \t\r\n") != NULL ||
		    strlen(user) > 255)
			usage();
		snprintf(line, sizeof(line), "%s %s", cmd, user);
	} else
		usage();
	if (user != NULL && (*user == '\0' ||
	    strpbrk(user, " \t\r\n") != NULL || strlen(user) > 255))
		usage();

	if (ctl_ask(sock, line, &a) == -1)
		return 1;
	if (strncmp(a.last, "ok", 2) != 0) {
		/* The lines before it say why (reload: FILE:LINE: ...). */
		if (json) {
			printf("{\"ok\": false, \"error\": ");
			json_str(a.last[5] == ' ' ? a.last + 6 : a.last + 5);
			printf(", \"details\": [");
			for (i = 0; i < a.nlines; i++) {
				printf("%s", i ? ", " : "");
				json_str(a.lines[i]);
			}
			printf("]}\n");
		}
		for (i = 0; i < a.nlines; i++)
			fprintf(stderr, "%s\n", a.lines[i]);
		fprintf(stderr, "%s: %s\n", progname, a.last[5] == ' ' ?
		    a.last + 6 : a.last + 5);
		free(a.lines);
		free(a.buf);
		fflush(stdout);
		return 1;
	}
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "stats") == 0) {
		if (json)
			json_pairs(&a);
		else if (strcmp(cmd, "status") == 0)
			show_status(&a);
		else
			for (i = 0; i < a.nlines; i++)
				printf("%s\n", a.lines[i]);
	} else if (strcmp(cmd, "metrics") == 0) {
		/* Prometheus text as it is; JSON carries it as one string. */
		if (json)
			printf("{\"ok\": true, \"metrics\": \"");
		for (i = 0; i < a.nlines; i++) {
			if (!json) {
				printf("%s\n", a.lines[i]);
				continue;
			}
			json_chars(a.lines[i]);
			printf("\\n");
		}
		if (json)
			printf("\"}\n");
	} else if (strcmp(cmd, "sessions") == 0)
		show_sessions(&a, json);
	else if (strcmp(cmd, "disable") == 0 || strcmp(cmd, "enable") == 0 ||
	    strcmp(cmd, "reset-password") == 0)
		show_account(&a, json);
	else if (strcmp(cmd, "reload") == 0) {
		if (json)
			printf("{\"ok\": true}\n");
		else
			printf("reloaded\n");
	} else if (strcmp(cmd, "signout") == 0) {
		if (json) {
			printf("{\"ok\": true, \"user\": ");
			json_str(user);
			printf(", \"closed\": %lld}\n", ok_number(&a));
		} else
			printf("%s signed out: %lld connection%s closed\n",
			    user, ok_number(&a), ok_number(&a) == 1 ? "" : "s");
	} else {
		if (json) {
			printf("{\"ok\": true, \"user\": ");
			json_str(user);
			printf(", \"purged\": %lld}\n", ok_number(&a));
		} else
			printf("%s: %lld cached group entr%s dropped\n", user,
			    ok_number(&a), ok_number(&a) == 1 ? "y" : "ies");
	}
	free(a.lines);
	free(a.buf);
	return fflush(stdout) == 0 ? 0 : 1;
}
