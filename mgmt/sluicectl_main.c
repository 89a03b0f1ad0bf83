/* sluicectl - command-line client for the sluiced control socket.
 *
 *   sluicectl [-s SOCKET] COMMAND [ARGS...]
 *
 * The socket defaults to $SLUICE_CTL or /run/sluice/sluiced.sock (what the
 * demo config uses). `--password-stdin` in ARGS is followed, on the wire, by
 * the first line read from stdin, so secrets never appear in argv or ps.
 * Exit status: 0 ok, 1 the daemon reported an error, 2 no daemon / usage. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sl_buf.h"

#define CTL_DEFAULT_SOCKET "/run/sluice/sluiced.sock"
#define CTL_SECRET_MAX 1024

static void usage(void)
{
	fprintf(stderr, "usage: sluicectl [-s SOCKET] COMMAND [ARGS...]\n"
			"       sluicectl help     (lists the daemon's commands)\n");
	exit(2);
}

static int read_secret(char *buf, size_t cap)
{
	size_t n;

	if (fgets(buf, (int)cap, stdin) == NULL)
		return -1;
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && !feof(stdin))
		return -1; /* longer than the buffer */
	buf[n] = '\0';
	return 0;
}

static int send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = getenv("SLUICE_CTL");
	struct sockaddr_un sa;
	char secret[CTL_SECRET_MAX];
	sl_buf_t req, resp;
	char chunk[65536];
	int i = 1, fd, status;

	if (path == NULL || !*path)
		path = CTL_DEFAULT_SOCKET;
	if (argc > 2 && strcmp(argv[1], "-s") == 0) {
		path = argv[2];
		i = 3;
	}
	if (i >= argc || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
		usage();
	sl_buf_init(&req, 64 * 1024);
	for (int first = i; i < argc; i++) {
		const char *arg = argv[i];
		char abs[PATH_MAX];

		/* `tls install CERT KEY`: the daemon's working directory is not
		 * ours, so file names go over as absolute paths. */
		if (i >= first + 2 && strcmp(argv[first], "tls") == 0 &&
		    strcmp(argv[first + 1], "install") == 0 && realpath(arg, abs) != NULL)
			arg = abs;
		if (sl_buf_append(&req, arg, strlen(arg) + 1) < 0)
			goto too_long;
		if (strcmp(argv[i], "--password-stdin") == 0) {
			if (read_secret(secret, sizeof(secret)) < 0) {
				fprintf(stderr, "sluicectl: no password on stdin (one line, < %d bytes)\n",
					CTL_SECRET_MAX);
				return 2;
			}
			if (sl_buf_append(&req, secret, strlen(secret) + 1) < 0)
				goto too_long;
			memset(secret, 0, sizeof(secret));
		}
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sluicectl: socket path too long\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "sluicectl: cannot reach sluiced at %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (send_all(fd, req.data, req.len) < 0 || shutdown(fd, SHUT_WR) != 0) {
		fprintf(stderr, "sluicectl: sending request: %s\n", strerror(errno));
		return 2;
	}
	sl_buf_free(&req);
	sl_buf_init(&resp, 64 * 1024 * 1024);
	for (;;) {
		ssize_t k = recv(fd, chunk, sizeof(chunk), 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (sl_buf_append(&resp, chunk, (size_t)k) < 0)
			break;
	}
	close(fd);
	if (resp.len >= 3 && memcmp(resp.data, "ok\n", 3) == 0) {
		fwrite(resp.data + 3, 1, resp.len - 3, stdout);
		status = 0;
	} else if (resp.len > 0) {
		fwrite(resp.data, 1, resp.len, stderr);
		status = 1;
	} else {
		fprintf(stderr, "sluicectl: empty reply from sluiced\n");
		status = 2;
	}
	sl_buf_free(&resp);
	return status;
too_long:
	fprintf(stderr, "sluicectl: request too long\n");
	return 2;
}
