/*
 * iaproxy: an identity-aware forward web proxy.  main() parses the command
 * line, loads the config, starts the workers and then only handles
 * signals: SIGHUP reloads, SIGTERM/SIGINT drain and stop, SIGUSR1 reopens
 * the access log.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>


#include "proxy.h"

#define BUILTIN_NAME	"iaproxy.conf (built in)"

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-dtV] [-c file]\n"
	    "  -c file  configuration file (default: the built-in config)\n"
	    "  -d       debug logging\n"
	    "  -t       check the configuration and exit\n"
	    "  -V       print the version and exit\n", IAPROXY_NAME);
	exit(2);
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
	const char		*file = NULL, *name;
	struct config		*conf;
	struct event_base	*base;
	struct event		*sigs[4];
	static const int	 signums[4] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1 };
	sigset_t		 set;
	char			 err[8192];
	int			 ch, test = 0, debug = 0, i;

	while ((ch = getopt(argc, argv, "c:dtVh")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
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
	if (server_start(file, conf) == -1)
		fatalx("cannot start");
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	for (i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(base, signums[i], signal_cb, base);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("cannot handle signal %d", signums[i]);
	}
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	event_base_dispatch(base);
	server_join();
	log_info("stopped");
	for (i = 0; i < 4; i++)
		event_free(sigs[i]);
	event_base_free(base);
	return 0;
}
