/* bench_discard_server - the kernel reference server of the TAP comparison
 * (b): RFC 863 discard over TCP, one connection at a time, reading into a
 * 128 KB buffer (as Sluice's discard service consumes everything) and
 * closing on EOF so that bench_bulk_send can confirm delivery.
 *
 *   bench_discard_server [--port P] [--addr A]
 *
 * Runs until killed; logs each connection's byte count to stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"port", required_argument, NULL, 'p'},
		{"addr", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	static char buf[128 * 1024];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9),
				 .sin_addr.s_addr = htonl(INADDR_ANY)};
	int o, lfd, one = 1;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'p': sa.sin_port = htons((uint16_t)atoi(optarg)); break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &sa.sin_addr) != 1)
				return 2;
			break;
		default:
			fprintf(stderr, "usage: bench_discard_server [--port P] [--addr A]\n");
			return 2;
		}
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		perror("bench_discard_server: listen");
		return 1;
	}
	for (;;) {
		uint64_t total = 0;
		ssize_t n;
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			perror("bench_discard_server: accept");
			return 1;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
			if (n > 0)
				total += (uint64_t)n;
		close(fd);
		fprintf(stderr, "bench_discard_server: %" PRIu64 " bytes\n", total);
	}
}
