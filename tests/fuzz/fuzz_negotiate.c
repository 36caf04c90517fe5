/*
 * libFuzzer target for Negotiate token routing (auth/auth_negotiate.c):
 * what a client puts after "Proxy-Authorization: Negotiate", through the
 * real code path the gate calls, auth_negotiate_step(), with the real
 * NTLM handshake behind it (hash file backend, so nothing waits).
 *
 * The input is one to three tokens separated by the byte 0xff, sent in
 * turn on one connection's state, so that NTLMSSP and SPNEGO legs meet
 * the state the previous leg left (a NEGOTIATE, then an AUTHENTICATE or
 * a NegTokenResp).  The first byte picks which methods the network
 * offers.  Kerberos has no credential here, so it must be refused
 * before any thread is asked; nothing may ever come back as a success
 * (no password is known to the fuzzer), and every answer must be a
 * Negotiate header a client can read.
 */
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "ntlm.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c)	do { if (!(c)) abort(); } while (0)
#define MAX_TOKEN	NTLM_MAX_MSG	/* what ntlm_b64_encode takes */

static struct config		*conf;
static struct auth_worker	*aw;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 path[] = "/tmp/fuzz_negotiate.XXXXXX", text[512], err[1024];
	FILE	*f;
	int	 fd;

	(void)argc;
	(void)argv;
	/* alice's password is nobody's: a random-looking hash. */
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		abort();
	fprintf(f, "alice:0123456789abcdef0123456789abcdef\n");
	fclose(f);
	snprintf(text, sizeof(text), "hostname = \"proxy.example.test\"\n"
	    "ntlm { domain = \"EXAMPLE\" hashfile = \"%s\" }\n"
	    "network \"lo\" { src = {\"127.0.0.0/8\"} auth = {ntlm} }\n",
	    path);
	conf = conf_load("fuzz.conf", text, err, sizeof(err));
	unlink(path);
	if (conf == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	if ((aw = auth_worker_new(NULL, conf)) == NULL)
		abort();
	return 0;
}

static void
never_called(void *arg, enum auth_outcome out, const struct auth_answer *a)
{
	(void)arg;
	(void)out;
	(void)a;
	abort();	/* the hash file backend answers at once */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned methods[4] = { AUTH_NTLM, AUTH_NEGOTIATE,
	    AUTH_NTLM | AUTH_NEGOTIATE, 0 };
	static char		 b64[((MAX_TOKEN + 2) / 3) * 4 + 1];
	struct auth_state	*st = NULL;
	struct auth_pending	*pending = NULL;
	struct auth_answer	 a;
	enum auth_outcome	 out;
	const uint8_t		*end, *sep;
	unsigned		 m;
	int			 legs;

	if (size < 1)
		return 0;
	m = methods[data[0] & 3];
	end = data + size;
	data++;
	for (legs = 0; legs < 3 && data <= end; legs++) {
		sep = memchr(data, 0xff, (size_t)(end - data));
		if (sep == NULL)
			sep = end;
		if (sep == data || (size_t)(sep - data) > MAX_TOKEN)
			break;
		REQUIRE(ntlm_b64_encode(data, (size_t)(sep - data), b64,
		    sizeof(b64)) >= 0);
		out = auth_negotiate_step(&st, aw, conf, m, b64, strlen(b64),
		    &a, never_called, NULL, &pending);
		REQUIRE(out != AUTH_PENDING && out != AUTH_SUCCESS);
		REQUIRE(strncmp(a.header, "Negotiate", 9) == 0);
		REQUIRE(a.header[9] == '\0' || a.header[9] == ' ');
		if (out == AUTH_REFUSED)
			REQUIRE(a.reason != NULL);
		data = sep + 1;
	}
	auth_state_free(st);
	return 0;
}
