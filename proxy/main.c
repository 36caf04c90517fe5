/*
 * iaproxy: an identity-aware forward web proxy.  main() parses the command
 * line, loads the config, starts the workers and then only handles
 * signals: SIGHUP reloads, SIGTERM/SIGINT drain and stop, SIGUSR1 reopens
 * the access log.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <termios.h>


#include "proxy.h"

#define BUILTIN_NAME	"iaproxy.conf (built in)"

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-dtV] [-c file]\n"
	    "       %s -H user\n"
	    "       %s explain [-c file] --url URL [--user NAME] "
	    "[--group NAME ...] ...\n"
	    "  -c file  configuration file (default: the built-in config)\n"
	    "  -d       debug logging\n"
	    "  -H user  read a password from standard input, print a "
	    "hash-file line\n"
	    "  -t       check the configuration and exit\n"
	    "  -V       print the version and exit\n", IAPROXY_NAME,
	    IAPROXY_NAME, IAPROXY_NAME);
	exit(2);
}

/*
 * -H user: read one line, the password, from standard input (without
 * echo on a terminal) and print "user:NTHASH" for the ntlm hash file.
 * The password and the hash are wiped from memory before returning.
 * Returns the exit status.
 */
static int
hash_password(const char *user)
{
	struct termios	 tio, quiet;
	char		 pw[1024];
	uint8_t		 h[16];
	size_t		 len;
	int		 tty, i, rc = 1;
	const char	*u = strchr(user, '\\') ? strchr(user, '\\') + 1 : user;

	/* What the hash file would refuse, refuse here. */
	if (*user == '\0' || *u == '\0' || *user == '\\' ||
	    strchr(u, '\\') != NULL || strchr(user, ':') != NULL ||
	    strpbrk(user, "\t\r\n") != NULL) {
		fprintf(stderr, "%s: -H: '%s' is not [DOMAIN\\]user (no ':', "
		    "no empty parts)\n", IAPROXY_NAME, user);
		return (2);
	}
	/* Unbuffered: no copy of the password left in stdio's buffer. */
	setvbuf(stdin, NULL, _IONBF, 0);
	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tio) == 0;
	if (tty) {
		quiet = tio;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fprintf(stderr, "Password for %s: ", user);
	}
	if (fgets(pw, sizeof(pw), stdin) == NULL) {
		fprintf(stderr, "%s: -H: no password on standard input\n",
		    IAPROXY_NAME);
		goto done;
	}
	len = strlen(pw);
	if (len > 0 && pw[len - 1] == '\n')
		pw[--len] = '\0';
	else if (!feof(stdin)) {
		fprintf(stderr, "%s: -H: password longer than %zu bytes\n",
		    IAPROXY_NAME, sizeof(pw) - 2);
		goto done;
	}
	if (len > 0 && pw[len - 1] == '\r')	/* a line from Windows */
		pw[--len] = '\0';
	if (strlen(pw) != len) {
		fprintf(stderr, "%s: -H: the password contains a NUL byte\n",
		    IAPROXY_NAME);
		goto done;
	}
	if (len == 0)
		fprintf(stderr, "%s: -H: warning: the password is empty\n",
		    IAPROXY_NAME);
	if (auth_nt_hash(pw, h) == -1) {
		fprintf(stderr, "%s: -H: the password is not valid UTF-8 "
		    "or longer than 256 characters\n",
		    IAPROXY_NAME);
		goto done;
	}
	printf("%s:", user);
	for (i = 0; i < 16; i++)
		printf("%02x", h[i]);
	printf("\n");
	rc = fflush(stdout) == 0 ? 0 : 1;
 done:
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio);
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(h, sizeof(h));
	return (rc);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading");
		server_reload();
		break;
	case SIGUSR1:
		server_reopen_logs();
		break;
	default:
		server_shutdown(base);
		break;
	}
}

/* Thousands of clients need thousands of descriptors: take what we may. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char *argv[])
{
	const char		*file = NULL, *name, *hashuser = NULL;
	struct config		*conf;
	struct event_base	*base;
	struct event		*sigs[4];
	static const int	 signums[4] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1 };
	sigset_t		 set;
	char			 err[8192];
	int			 ch, test = 0, debug = 0, i;

	/* iaproxy explain ...: the policy's verdict on one request. */
	if (argc > 1 && strcmp(argv[1], "explain") == 0)
		return (explain_main(argc - 1, argv + 1));
	while ((ch = getopt(argc, argv, "c:dH:tVh")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'H':
			hashuser = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("%s %s\n", IAPROXY_NAME, PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (hashuser != NULL)
		return (hash_password(hashuser));
	log_init(debug);
	name = file ? file : BUILTIN_NAME;
	conf = conf_load(name, file ? NULL : conf_default_text, err,
	    sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "%s", err);
		if (err[0] != '\0' && err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		return 1;
	}
	if (test) {
		fprintf(stderr, "%s: configuration OK\n", name);
		conf_unref(conf);
		return 0;
	}

	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	/*
	 * No evthread_use_pthreads(): each event_base belongs to one thread
	 * and the main thread reaches workers through their eventfd, so
	 * libevent can skip its locks on every event and buffer operation.
	 */
	iplimit_init();
	/* Workers inherit a mask with our signals blocked: main gets them. */
	sigemptyset(&set);
	for (i = 0; i < 4; i++)
		sigaddset(&set, signums[i]);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* The disabled accounts are known before the first request. */
	account_start(conf);
	if (server_start(file, conf) == -1)
		fatalx("cannot start");
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (admin_start(base, conf) == -1)
		fatalx("cannot make the admin socket %s", conf->admin_socket);
	if (admin_http_start(base, conf) == -1)
		fatalx("cannot make the admin listener %s",
		    conf->admin_listen->text);
	if (risk_start(base) == -1)
		fatalx("cannot start the risk rules' action queue");
	for (i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(base, signums[i], signal_cb, base);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("cannot handle signal %d", signums[i]);
	}
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	event_base_dispatch(base);
	admin_stop();
	admin_http_stop();
	server_join();
	risk_stop();		/* no worker fires any more */
	log_info("stopped");
	for (i = 0; i < 4; i++)
		event_free(sigs[i]);
	event_base_free(base);
	return 0;
}
